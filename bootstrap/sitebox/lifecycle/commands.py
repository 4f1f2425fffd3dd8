"""``sitebox install | upgrade | status | rollback | uninstall``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from sitebox import console
from sitebox.backup import schedule
from sitebox.components.names import BATCH_NAMESPACE, SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose import bundle as bundles
from sitebox.compose import diff
from sitebox.compose import render as renderer
from sitebox.compose.commands import bundle_option, load_site, profile_option, site_option
from sitebox.compose.render import RELEASE_NAMES, RELEASES
from sitebox.compose.secrets import ClusterStore
from sitebox.errors import RunInterruptedError, SiteboxError
from sitebox.helm import Helm, HelmError
from sitebox.kube import Kube
from sitebox.lifecycle import drift, history, lock
from sitebox.lifecycle import install as installer
from sitebox.lifecycle import rollback as rollbacks
from sitebox.lifecycle import status as site_status
from sitebox.model.siteconfig import Site
from sitebox.options import context_option, kubeconfig_option, validate_option
from sitebox.preflight import checks, workload
from sitebox.validate import runner as validation
from sitebox.validate.commands import after_install


def connect(kubeconfig: Path | None, context: str | None) -> tuple[Kube, Helm]:
    kube = Kube(kubeconfig, context)
    kube.server_version()  # an unreachable cluster fails here, before any work
    return kube, Helm(kubeconfig, context)


def confirm(question: str) -> None:
    """Ask before a change the admin may not want; without a terminal to ask on, refuse."""
    if not sys.stdin.isatty():
        raise SiteboxError(
            f"{question.rstrip('?')}: there is no terminal to ask on; nothing was changed",
            hint="pass --yes to go ahead without asking",
        )
    if not click.confirm(question, default=False, err=True):
        raise SiteboxError("nothing changed", hint="pass --yes to go ahead without asking")


def _warn(text: str) -> None:
    console.err.print(f"warning: {text}", markup=False)


def preflight(
    result: renderer.SiteRender,
    kube: Kube,
    warn: Callable[[str], None] = _warn,
    air_gapped: bool = False,
) -> None:
    """The preflight checks, first: a failed one stops the run before anything is applied."""
    releases = [(r.manifests, r.namespace) for r in result.releases]
    results = workload.run(result.site, kube, releases, air_gapped)
    for found in results:
        if found.status == checks.WARN:
            warn(f"{found.name}: {found.detail}")
    failed = [r for r in results if r.status == checks.FAIL]
    if failed:
        raise SiteboxError(
            "preflight failed; nothing was applied:\n"
            + "\n".join(f"  {r.name}: {r.detail}\n    fix: {r.fix}" for r in failed),
            hint="fix the cluster or site.yaml as listed; `sitebox preflight` checks again",
        )


@contextmanager
def _prepared(
    site: Site, kube: Kube, helm: Helm, skip_unavailable: bool, bundle: Path | None
) -> Iterator[tuple[renderer.SiteRender, installer.States]]:
    """The site rendered and checked, and how its releases stand now."""
    console.err.print("composing and rendering", markup=False)
    with ThreadPoolExecutor(max_workers=1) as pool, bundles.unpacked(bundle) as charts:
        # Read while the site renders: neither needs the other, and both wait on Helm.
        reading = pool.submit(helm.read, RELEASE_NAMES)
        with installer.prepared(site, kube, skip_unavailable, charts) as result:
            yield result, reading.result()


def _apply(
    result: renderer.SiteRender,
    found_now: installer.States,
    kube: Kube,
    helm: Helm,
    timeout: str,
    validate: bool,
    air_gapped: bool,
) -> bool:
    """Apply the render, unless the site is installed exactly as rendered already and
    nothing drifted on the cluster (nor the scheduled backups from `backup:`): then
    there is nothing to check the cluster for (preflight) or to validate afresh, and a
    re-run takes seconds. Drift alone is repaired without preflight: the site was
    admitted when it was installed. True if anything was applied."""
    started = time.monotonic()
    current = installer.unchanged(result, found_now)
    if (
        current is not None
        and schedule.up_to_date(kube, result.site)
        and not installer.drifted(kube, result, found_now)
    ):
        _report(result, current)
        console.err.print(
            f"site {result.site.name!r}: nothing to change; `sitebox validate` checks it",
            markup=False,
        )
        return False
    if current is None:
        preflight(result, kube, air_gapped=air_gapped)
    if validate:
        validation.warm_up()
    try:
        with console.err.status("starting") as spinner:
            outcomes = installer.apply(
                result, kube, helm, say=spinner.update, timeout=timeout, found_now=found_now
            )
    except KeyboardInterrupt:
        raise _interrupted(result, helm) from None
    _report(result, outcomes)
    console.err.print(
        f"site {result.site.name!r} ready in {time.monotonic() - started:.0f}s; "
        "`sitebox status` shows it"
    )
    return True


def _interrupted(result: renderer.SiteRender, helm: Helm) -> RunInterruptedError:
    """What an interrupted install or upgrade left, and the command that goes on from there."""
    try:
        found = installer.states(helm, result)
        left = [
            f"{name}: {'not installed' if state is None else state.revision.status}"
            f"{'' if state is None else f' at revision {state.revision.revision}'}"
            for name, state in found.items()
        ]
    except SiteboxError:
        left = ["(the cluster did not answer; the releases' states are unknown)"]
    source = f"-f {result.site.source}" if result.site.source else f"--profile {result.site.name}"
    return RunInterruptedError(
        "interrupted; the site is left as: " + "; ".join(left),
        hint=f"run `sitebox install {source}` again: it finishes what was interrupted, or "
        "undoes a half-applied revision first; secrets and volumes are kept",
    )


def _validate(
    applied: bool, kube: Kube, helm: Helm, kubeconfig: Path | None, context: str | None
) -> None:
    """The validation suite after a change. After a run with nothing to change, only if
    the quick health of `sitebox status` says something is wrong (a pod broken by hand,
    say): a healthy site's re-run stays a matter of seconds."""
    if applied or not site_status.collect(kube, helm)["healthy"]:
        after_install(kubeconfig, context)


def _report(result: renderer.SiteRender, outcomes: list[installer.Outcome]) -> None:
    for component in result.missing:
        console.err.print(
            f"left out: {component.name} ({component.chart.name} {component.chart.version} "
            "is not on this machine)",
            markup=False,
        )
    for outcome in outcomes:
        if outcome.recovered:
            console.err.print(f"{outcome.release}: {outcome.recovered}", markup=False)
        for name in outcome.remade:
            console.err.print(
                f"{outcome.release}: StatefulSet {name} made again for its new volume claims "
                "(its claims kept)",
                markup=False,
            )
        for what in outcome.repaired:
            console.err.print(f"{outcome.release}: repaired {what}", markup=False)
        verb = "installed/upgraded to" if outcome.changed else "unchanged at"
        console.err.print(f"{outcome.release}: {verb} revision {outcome.revision}", markup=False)


@click.command("install")
@site_option
@profile_option
@bundle_option
@kubeconfig_option
@context_option
@click.option(
    "--skip-unavailable", is_flag=True, help="Install what has its chart here; list the rest."
)
@click.option("--timeout", default="10m", show_default=True, help="Per release.")
@click.option(
    "--dry-run", is_flag=True, help="List what would change or be repaired; apply nothing."
)
@validate_option
def install_cmd(
    site_file: Path | None, profile: str | None, bundle: Path | None, kubeconfig: Path | None,
    context: str | None, skip_unavailable: bool, timeout: str, dry_run: bool, validate: bool,
) -> None:  # fmt: skip
    """Install a site (both releases); running it again changes nothing but what drifted."""
    site = load_site(site_file, profile)
    kube, helm = connect(kubeconfig, context)
    with _prepared(site, kube, helm, skip_unavailable, bundle) as (result, found_now):
        if dry_run:
            _show_drift(result, kube, helm)
            return
        applied = _apply(result, found_now, kube, helm, timeout, validate, bundle is not None)
    if validate:
        _validate(applied, kube, helm, kubeconfig, context)


def check_upgrade_path(site: Site, kube: Kube) -> None:
    """Refuse to skip distribution versions: the target must upgrade from the installed one."""
    info = kube.get("v1", "ConfigMap", site_status.SITE_INFO, SITE_NAMESPACE) or {}
    installed = info.get("data", {}).get("distribution")
    target = site.distribution
    if installed and installed != target.version and installed not in target.upgrades_from:
        raise SiteboxError(
            f"distribution {installed} cannot be upgraded to {target.version} directly",
            hint=f"{target.version} upgrades from: {', '.join(target.upgrades_from) or 'none'}; "
            "upgrade through the versions in between",
        )


@click.command("upgrade")
@site_option
@profile_option
@bundle_option
@kubeconfig_option
@context_option
@click.option("--skip-unavailable", is_flag=True)
@click.option("--timeout", default="10m", show_default=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before applying.")
@validate_option
def upgrade_cmd(
    site_file: Path | None, profile: str | None, bundle: Path | None, kubeconfig: Path | None,
    context: str | None, skip_unavailable: bool, timeout: str, yes: bool, validate: bool,
) -> None:  # fmt: skip
    """Show what would change, ask, then upgrade; secrets and volumes are kept."""
    site = load_site(site_file, profile)
    kube, helm = connect(kubeconfig, context)
    check_upgrade_path(site, kube)
    with _prepared(site, kube, helm, skip_unavailable, bundle) as (result, found_now):
        _show_changes(result, found_now)
        if not yes:
            confirm("apply these changes?")
            found_now = _unmoved(found_now, installer.states(helm, result))
        applied = _apply(result, found_now, kube, helm, timeout, validate, bundle is not None)
    if validate:
        _validate(applied, kube, helm, kubeconfig, context)


def _unmoved(shown: installer.States, now: installer.States) -> installer.States:
    """The releases as they are after the admin's answer, which may have taken a while:
    if another run changed them meanwhile, what was approved is not what would apply."""

    def revisions(states: installer.States) -> dict[str, int | None]:
        return {name: s.revision.revision if s else None for name, s in states.items()}

    if revisions(now) != revisions(shown):
        raise SiteboxError(
            "the site changed while the changes were shown; nothing was applied",
            hint="run `sitebox upgrade` again to see what it would change now",
        )
    return now


def _show_drift(result: renderer.SiteRender, kube: Kube, helm: Helm) -> None:
    """What an install would do: each release's changes, and what drifted by hand."""
    info = kube.get("v1", "ConfigMap", site_status.SITE_INFO, SITE_NAMESPACE) or {}
    found = drift.find(result, kube, helm, (info.get("data") or {}).get("distribution"))
    for item in found:
        console.out.print(f"{item.what}\n{item.detail}", markup=False, highlight=False)
    console.err.print(
        f"{len(found)} difference(s) from the render; nothing was applied (--dry-run)"
        if found
        else "nothing would change (--dry-run)",
        markup=False,
    )


def _show_changes(result: renderer.SiteRender, found_now: installer.States) -> None:
    for release in result.releases:
        state = found_now[release.name]
        installed = state.objects if state else []
        found = diff.changes(installed, release.manifests, release.namespace)
        console.out.print(f"{release.name}: {len(found) or 'no'} change(s)", markup=False)
        for change in found:
            console.out.print(
                result.secrets.redact(change.diff)
                or f"  {change.action} {change.kind} {change.name}",
                markup=False,
            )


@click.command("status")
@kubeconfig_option
@context_option
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def status_cmd(kubeconfig: Path | None, context: str | None, output: str) -> None:
    """Releases, distribution, profile, component health, endpoints; exit 1 unless healthy."""
    kube, helm = connect(kubeconfig, context)
    info = site_status.collect(kube, helm)
    if output == "json":
        console.emit_json(info)
    else:
        _print_status(info)
    if not info["healthy"]:
        raise SystemExit(1)


def _print_status(info: dict[str, Any]) -> None:
    console.out.print(
        f"site {info['site']}, distribution {info['distribution']}, profile {info['profile']}",
        markup=False,
    )
    for release in info["releases"]:
        state = (
            f"revision {release['revision']} {release['status']} ({release['chart']})"
            if release["installed"] else "not installed"
        )  # fmt: skip
        console.out.print(f"  {release['release']}: {state}", markup=False)
    table = Table("component", "pods ready", "waiting for")
    for name, health in info["components"].items():
        waiting = "; ".join([*health.get("workloads", []), health.get("waiting", "")][:3])
        table.add_row(name, f"{health['ready']}/{health['total']}", waiting.strip("; "))
    console.out.print(table)
    for name, where in info["endpoints"].items():
        console.out.print(f"  {name}: {where}", markup=False)


@click.command("rollback")
@click.argument("site_revision", type=int, required=False)
@kubeconfig_option
@context_option
@click.option("--timeout", default="10m", show_default=True)
def rollback_cmd(
    site_revision: int | None, kubeconfig: Path | None, context: str | None, timeout: str
) -> None:
    """Roll both releases back to SITE_REVISION (default: the previous one); `sitebox
    history` lists them."""
    kube, helm = connect(kubeconfig, context)
    with console.err.status("rolling back") as spinner:
        entry = rollbacks.rollback(kube, helm, site_revision, timeout, spinner.update)
    pair = ", ".join(f"{name} revision {rev}" for name, rev in entry.releases.items())
    console.err.print(
        f"site rolled back ({entry.operation}): now site revision {entry.number}: {pair}",
        markup=False,
    )


@click.command("history")
@kubeconfig_option
@context_option
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def history_cmd(kubeconfig: Path | None, context: str | None, output: str) -> None:
    """The site's revisions: which release revisions each holds, and what made it."""
    kube, _ = connect(kubeconfig, context)
    entries = history.read(kube)
    if output == "json":
        console.emit_json([asdict(e) for e in entries])
        return
    table = Table("site revision", "releases", "distribution", "made by", "at")
    for e in entries:
        pair = ", ".join(f"{name} {rev}" for name, rev in e.releases.items())
        table.add_row(str(e.number), pair, e.distribution, e.operation, e.at)
    console.out.print(table)


@click.command("uninstall")
@kubeconfig_option
@context_option
@click.option("--purge-data", is_flag=True, help="Also delete the volumes' claims and the secrets.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask again for --purge-data.")
def uninstall_cmd(
    kubeconfig: Path | None, context: str | None, purge_data: bool, yes: bool
) -> None:
    """Remove both releases. Volumes (PVCs) and secrets are kept unless --purge-data."""
    if purge_data and not yes:
        confirm("delete every volume claim of the site and its secrets, for good?")
    kube, helm = connect(kubeconfig, context)
    if all(state is None for state in helm.read(RELEASE_NAMES).values()):
        console.err.print("no release of the site is installed", markup=False)
    else:
        with lock.held(kube, "uninstall of the site"):
            for _, name, namespace in reversed(RELEASES):
                try:
                    helm.uninstall(name, namespace)
                    console.err.print(f"uninstalled {name}", markup=False)
                except HelmError as exc:
                    if "not found" not in exc.message:
                        raise
            history.forget(kube)
            removed = schedule.remove(kube)
            if removed:
                console.err.print(f"removed {removed} scheduled backup(s)", markup=False)
    # The site's data, its batch spool, and Prometheus's samples (in the system namespace).
    claims = [
        (ns, c["metadata"]["name"])
        for ns in (SITE_NAMESPACE, BATCH_NAMESPACE, SYSTEM_NAMESPACE)
        for c in kube.list_objects("v1", "PersistentVolumeClaim", ns)
    ]
    if purge_data:
        for namespace, name in claims:
            kube.delete("v1", "PersistentVolumeClaim", name, namespace)
        kube.delete("v1", "Secret", ClusterStore.NAME, SYSTEM_NAMESPACE)
        console.err.print(f"deleted {len(claims)} volume claims and the site's secrets")
    else:
        console.err.print(
            f"kept {len(claims)} volume claims and the secrets (--purge-data removes them)",
            markup=False,
        )
