"""``sitebox fleet validate | render | plan | install | upgrade | status | backup | restore |
rotate-trust | registration``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from sitebox import console
from sitebox.backup.commands import passphrase, passphrase_option
from sitebox.compose import bundle as bundles
from sitebox.compose.commands import bundle_option
from sitebox.config.suggest import did_you_mean
from sitebox.errors import SiteboxError
from sitebox.fleet import loader, ops, runner, trust
from sitebox.fleet.model import Fleet, FleetSite
from sitebox.fleet.report import SiteReport
from sitebox.lifecycle.commands import confirm
from sitebox.options import validate_option
from sitebox.validate.commands import summary

F = TypeVar("F", bound=Callable[..., Any])


_fleet_file = click.option(
    "--file", "-f", "fleet_file", type=click.Path(dir_okay=False, path_type=Path),
    default=Path("fleet.yaml"), show_default=True, help="The fleet file.",
)  # fmt: skip


def _common(command: F) -> F:
    for option in reversed(
        (
            _fleet_file,
            click.option("--sites", help="Only these sites, comma-separated (default: all)."),
            click.option(
                "--parallel", type=click.IntRange(1, 64), default=4, show_default=True,
                help="Sites handled at once.",
            ),
        )
    ):  # fmt: skip
        command = option(command)
    return command


_output = click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
_skip = click.option(
    "--skip-unavailable", is_flag=True, help="Install what has its chart here; list the rest."
)
_timeout = click.option("--timeout", default="10m", show_default=True, help="Per release.")


def _members(fleet: Fleet, sites: str | None) -> list[FleetSite]:
    wanted = [s.strip() for s in sites.split(",") if s.strip()] if sites else []
    known = [s.name for s in fleet.sites]
    for name in wanted:
        if name not in known:
            guess = did_you_mean(name, known)
            raise SiteboxError(
                f"--sites names {name!r}, which is not a site of fleet {fleet.name!r}",
                hint=f"did you mean {guess!r}?" if guess else f"the sites are: {', '.join(known)}",
            )
    return fleet.select(wanted)


def _summary(fleet: Fleet, reports: list[SiteReport]) -> None:
    pinned = {m.name for m in fleet.sites if m.pinned}
    table = Table("site", "revision", "distribution", "health", "drift", "validation", "result")
    for r in reports:
        version = (r.distribution or "-") + (" (pinned)" if r.site in pinned else "")
        drift = str(len(r.drift)) if r.drift else "none"
        result = "[green]ok" if r.whole else f"[red]{r.why}"
        table.add_row(
            r.site, str(r.revision or "-"), version, r.health, drift, r.validation, result
        )
    console.out.print(table)


def _details(reports: list[SiteReport]) -> None:
    for r in reports:
        lines = [f"  note: {n}" for n in r.notes]
        if r.checks is not None:
            lines.append(f"  validation: {summary(r.checks)}")
        if r.error:
            lines.append(f"  error: {r.error}")
            if r.hint:
                lines.append(f"    fix: {r.hint}")
        for item in r.drift:
            lines.append(f"  drift: {item.what}\n{item.detail}")
        if lines:
            console.out.print(f"{r.site}:\n" + "\n".join(lines), markup=False, highlight=False)


def _finish(reports: list[SiteReport], output: str, fleet: Fleet, table: bool = True) -> None:
    if output == "json":
        console.emit_json({"fleet": fleet.name, "sites": [r.as_dict() for r in reports]})
    elif table:
        _summary(fleet, reports)
        _details(reports)
    broken = [r for r in reports if not r.whole]
    if broken:
        raise SiteboxError(
            f"the fleet is not whole: {len(broken)} of {len(reports)} site(s): "
            + "; ".join(f"{r.site} ({r.why})" for r in broken),
            hint="the details above say why for each site; the other sites were handled",
        )


@click.group("fleet")
def fleet() -> None:
    """Many sites as one: a fleet.yaml of sites, what they share, and how they federate."""


@fleet.command("render")
@_common
@bundle_option
@click.option(
    "--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path),
    default=Path("rendered"), show_default=True, help="One folder per site: DIR/<site>/.",
)  # fmt: skip
def render_cmd(
    fleet_file: Path, sites: str | None, parallel: int, bundle: Path | None, output_dir: Path
) -> None:
    """Every site's manifests through real `helm template`, without the clusters (as
    `sitebox render`), one folder per site."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    with bundles.unpacked(bundle) as charts:
        options = ops.Options(bundle=charts, output=output_dir, trust=trust.for_fleet(loaded))
        reports = runner.run(members, ops.render, options, parallel)
    _details(reports)
    _finish(reports, "text", loaded, table=False)


@fleet.command("plan")
@_common
@bundle_option
@_output
def plan_cmd(
    fleet_file: Path, sites: str | None, parallel: int, bundle: Path | None, output: str
) -> None:
    """What install would change on each site (reads only)."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    with bundles.unpacked(bundle) as charts:
        options = ops.Options(bundle=charts, trust=trust.for_fleet(loaded))
        reports = runner.run(members, ops.plan, options, parallel)
    if output == "text":
        _show_plan(reports)
    _finish(reports, output, loaded, table=False)


def _show_plan(reports: list[SiteReport]) -> None:
    releases = sorted({name for r in reports for name in r.changes})
    table = Table("site", *releases, "result")
    for r in reports:
        cells = ["; ".join(r.changes.get(name, ["-"])) for name in releases]
        table.add_row(r.site, *cells, "[green]ok" if r.whole else f"[red]{r.why}")
    console.out.print(table)
    for r in reports:
        if r.diffs:
            console.out.print(f"--- {r.site}", markup=False)
            for text in r.diffs:
                console.out.print(text, markup=False, highlight=False)
    _details(reports)


@fleet.command("install")
@_common
@bundle_option
@_skip
@_timeout
@validate_option
def install_cmd(
    fleet_file: Path, sites: str | None, parallel: int, bundle: Path | None,
    skip_unavailable: bool, timeout: str, validate: bool,
) -> None:  # fmt: skip
    """Install every site concurrently, then validate each; a failing site does not stop
    the others."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    then = ops.validation if validate else None
    with bundles.unpacked(bundle) as charts:
        options = ops.Options(skip_unavailable, timeout, charts, trust=trust.for_fleet(loaded))
        reports = runner.run(members, ops.install, options, parallel, then)
    _finish(reports, "text", loaded)


@fleet.command("upgrade")
@_common
@bundle_option
@_skip
@_timeout
@validate_option
@click.option("--rolling", is_flag=True, help="A few sites at a time; stop at the first failure.")
@click.option(
    "--step", type=click.IntRange(1, 64), default=1, show_default=True,
    help="Sites per group of a rolling upgrade.",
)  # fmt: skip
@click.option("--yes", "-y", is_flag=True, help="Do not show the plan and ask first.")
def upgrade_cmd(
    fleet_file: Path, sites: str | None, parallel: int, bundle: Path | None,
    skip_unavailable: bool, timeout: str, validate: bool, rolling: bool, step: int, yes: bool,
) -> None:  # fmt: skip
    """Show what changes, ask, upgrade, validate; --rolling stops at the first failing site."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    then = ops.validation if validate else None
    with bundles.unpacked(bundle) as charts:
        options = ops.Options(skip_unavailable, timeout, charts, trust=trust.for_fleet(loaded))
        if not yes:
            _show_plan(runner.run(members, ops.plan, options, parallel))
            confirm("upgrade these sites?")
        if rolling:
            reports = runner.rolling(members, ops.upgrade, options, step, then)
        else:
            reports = runner.run(members, ops.upgrade, options, parallel, then)
    _finish(reports, "text", loaded)


@fleet.command("status")
@_common
@bundle_option
@_output
def status_cmd(
    fleet_file: Path, sites: str | None, parallel: int, bundle: Path | None, output: str
) -> None:
    """Per site: revision, distribution, health, and drift from the fleet file; give the
    --bundle the sites were installed from, or what only it carries shows as drift."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    with bundles.unpacked(bundle) as charts:
        options = ops.Options(bundle=charts, trust=trust.for_fleet(loaded))
        reports = runner.run(members, ops.status, options, parallel)
    _finish(reports, output, loaded)


@fleet.command("validate")
@_common
@_output
def validate_cmd(fleet_file: Path, sites: str | None, parallel: int, output: str) -> None:
    """The fleet file, then on each site the `sitebox validate` suite and its peers."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    reports = runner.run(members, ops.state, ops.Options(), parallel, ops.validation)
    _finish(reports, output, loaded)


_archives = click.option(
    "--dir", "-d", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The folder of the sites' archives (<site>.backup).",
)  # fmt: skip


@fleet.command("backup")
@_common
@_archives
@passphrase_option
def backup_cmd(
    fleet_file: Path, sites: str | None, parallel: int, folder: Path,
    passphrase_file: Path | None,
) -> None:  # fmt: skip
    """Back up every site into the folder, one archive each (as `sitebox backup`)."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    secret = passphrase(passphrase_file, new=True)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    options = ops.Options(archives=folder, passphrase=secret)
    reports = runner.run(members, ops.backup, options, parallel)
    _details(reports)
    _finish(reports, "text", loaded, table=False)


@fleet.command("restore")
@_common
@_archives
@passphrase_option
@_timeout
@validate_option
def restore_cmd(
    fleet_file: Path, sites: str | None, parallel: int, folder: Path,
    passphrase_file: Path | None, timeout: str, validate: bool,
) -> None:  # fmt: skip
    """Restore every site from its archive onto the cluster the fleet file names for it,
    then validate each; the claims are made again, empty."""
    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    secret = passphrase(passphrase_file, new=False)
    options = ops.Options(timeout=timeout, archives=folder, passphrase=secret)
    then = ops.validation if validate else None
    reports = runner.run(members, ops.restore, options, parallel, then)
    _finish(reports, "text", loaded)


@fleet.command("rotate-trust")
@_fleet_file
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
def rotate_trust_cmd(fleet_file: Path, yes: bool) -> None:
    """A new HTCondor signing key for the fleet's flocking pools, in the fleet's store;
    the next `sitebox fleet upgrade` hands it to them."""
    loaded = loader.load(fleet_file)
    flocking = [m.name for m in loaded.sites if trust.flocks(m.site)]
    if not flocking:
        raise SiteboxError(
            f"no site of fleet {loaded.name!r} flocks, so it has no HTCondor trust root",
            hint="flocking links go under federation.flocking in the fleet file (docs/fleet.md)",
        )
    sites = ", ".join(flocking)
    if not yes:
        console.err.print(
            f"the pools of {sites} will sign and accept tokens with the new key only, each "
            "once it is upgraded; until all are, flocking between sites on the old key and "
            "sites on the new one fails",
            markup=False,
            soft_wrap=True,
        )
        confirm(f"rotate the HTCondor trust root of fleet {loaded.name!r}?")
    had = trust.rotate(loaded.name)
    console.err.print(
        f"{'rotated' if had else 'made'} the HTCondor trust root of fleet {loaded.name!r} "
        f"(in {trust.store(loaded.name).path}); hand it to {sites} with "
        f"`sitebox fleet upgrade -f {fleet_file}`",
        markup=False,
        soft_wrap=True,
    )


@fleet.command("registration")
@_common
@click.option(
    "--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path),
    default=Path("registration"), show_default=True,
    help="One document per site: DIR/<site>.registration.yaml.",
)  # fmt: skip
@click.option(
    "--planned", is_flag=True,
    help="Capacity from each site's profile, without reaching the clusters.",
)  # fmt: skip
def registration_cmd(
    fleet_file: Path, sites: str | None, parallel: int, output_dir: Path, planned: bool
) -> None:
    """Every site's registration data for GOCDB and CRIC (as `sitebox registration`), one
    document per site, capacity counted on its cluster."""
    from sitebox.registration import fleet as registrations  # its own command's imports

    loaded = loader.load(fleet_file)
    members = _members(loaded, sites)
    operation = partial(registrations.registration, planned=planned)
    reports = runner.run(members, operation, ops.Options(output=output_dir), parallel)
    _details(reports)
    _finish(reports, "text", loaded, table=False)
