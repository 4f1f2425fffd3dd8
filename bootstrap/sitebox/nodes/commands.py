"""``sitebox nodes prepare|verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sitebox import console
from sitebox.compose import bundle as bundles
from sitebox.errors import SiteboxError
from sitebox.nodes import inventory as inventory_file
from sitebox.nodes import runner, verify

_inventory_option = click.option(
    "--inventory",
    "-i",
    "inventory_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The node inventory (docs/nodes.md).",
)
_site_option = click.option(
    "--file",
    "-f",
    "site_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="site.yaml: its CVMFS repositories and proxy configure the nodes.",
)
_offline_option = click.option(
    "--offline",
    is_flag=True,
    help="Skip every step that downloads from the internet (CVMFS, NVIDIA); k3s comes "
    "from --bundle or sitebox_k3s_from.",
)
_K3S_FOLDER_FIX = (
    "give --bundle B (made with `sitebox bundle create --k3s-from DIR`), or set "
    "sitebox_k3s_from in the inventory to a folder holding the release's k3s and "
    "sha256sum-amd64.txt (k3s-arm64 and sha256sum-arm64.txt for arm64)"
)


@click.group()
def nodes() -> None:
    """Prepare hosts for k3s and the site (Ansible), and check them (testinfra)."""


def _load(inventory_path: Path, site_file: Path | None) -> inventory_file.Inventory:
    loaded = inventory_file.load(inventory_path)
    return loaded.with_vars(inventory_file.site_vars(site_file)) if site_file else loaded


@nodes.command("prepare")
@_inventory_option
@_site_option
@_offline_option
@click.option(
    "--bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Install k3s from this bundle's k3s folder (sitebox bundle create --k3s-from).",
)
@click.option("--check", is_flag=True, help="Show what would change; change nothing.")
@click.option("--diff", is_flag=True, help="Show the changes made to files.")
@click.option(
    "--kubeconfig-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("~/.kube/sitebox-k3s.yaml"),
    show_default=True,
    help="Where to write the new cluster's kubeconfig (0600).",
)
def prepare_cmd(
    inventory_path: Path,
    site_file: Path | None,
    offline: bool,
    bundle: Path | None,
    check: bool,
    diff: bool,
    kubeconfig_out: Path,
) -> None:
    """Run the node playbook: kernel, FUSE, CVMFS, time, firewall, GPU, then k3s."""
    hosts = _load(inventory_path, site_file)
    kubeconfig = kubeconfig_out.expanduser().absolute()
    extravars: dict[str, Any] = {"sitebox_kubeconfig_path": str(kubeconfig)}
    if offline:
        extravars["sitebox_offline"] = True
    with bundles.unpacked(bundle) as charts:
        if charts is not None:
            extravars["sitebox_k3s_from"] = str(_bundled_k3s(bundle, charts.parent))
        elif offline:
            _check_offline_k3s(hosts)
        result = _run(hosts, check, diff, extravars)
    for host in result.hosts.values():
        for text in host.diffs:
            console.out.print(text, markup=False, highlight=False)
    console.err.print(_summary_table(result))
    _conclude(result)
    if not check and _starts_k3s(hosts):
        console.err.print(f"kubeconfig for sitebox: {kubeconfig}", markup=False)


def _starts_k3s(hosts: inventory_file.Inventory) -> bool:
    """Whether the run started k3s on the first server, and so wrote a kubeconfig."""
    first = next(host for host in hosts.hosts if host.role == "server")
    return first.ansible_vars().get("sitebox_apply_runtime") is not False


def _bundled_k3s(bundle: Path | None, root: Path) -> Path:
    folder = root / bundles.K3S_FOLDER
    if not folder.is_dir():
        raise SiteboxError(
            f"bundle {bundle} carries no k3s binary",
            hint="make it again with `sitebox bundle create ... --k3s-from DIR`, DIR holding "
            "the release's k3s and sha256sum-amd64.txt",
        )
    return folder


def _check_offline_k3s(hosts: inventory_file.Inventory) -> None:
    """Offline, k3s can only come from a folder: say so before any host is touched."""
    lacking = [host.name for host in hosts.hosts if not host.vars.get("sitebox_k3s_from")]
    if lacking:
        raise SiteboxError(
            f"--offline, and no k3s binary to install on {', '.join(lacking)}",
            hint=_K3S_FOLDER_FIX,
        )


def _run(
    hosts: inventory_file.Inventory, check: bool, diff: bool, extravars: dict[str, Any]
) -> runner.RunResult:
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console.err, transient=True,
    ) as progress:  # fmt: skip
        lines = {
            host.name: progress.add_task(f"{escape(host.name)}: starting") for host in hosts.hosts
        }

        def show(host: runner.HostResult, lines: dict[str, TaskID] = lines) -> None:
            progress.update(lines[host.name], description=_progress_line(host, check))

        return runner.run(hosts, check=check, diff=diff, extravars=extravars, on_event=show)


def _progress_line(host: runner.HostResult, check: bool) -> str:
    changed = "would change" if check else "changed"
    counts = f"{host.ok} ok, {host.changed} {changed}, {host.failed} failed"
    return f"{escape(host.name)}: {escape(host.task)} [dim]({counts})[/]"


def _summary_table(result: runner.RunResult) -> Table:
    changed = "would change" if result.check else "changed"
    table = Table("host", "ok", changed, "failed", "unreachable", "skipped", "result")
    for host in result.hosts.values():
        color = {"ok": "green", "changed": "yellow"}.get(host.state, "red")
        state = "would change" if result.check and host.state == "changed" else host.state
        table.add_row(
            Text(host.name),
            str(host.ok),
            str(host.changed),
            str(host.failed),
            str(host.unreachable),
            str(host.skipped),
            f"[{color}]{state}",
        )
    return table


def _conclude(result: runner.RunResult) -> None:
    total = len(result.hosts)
    for host in result.failed:
        for error in host.errors:
            console.err.print(f"{host.name}: {error}", markup=False, soft_wrap=True)
    if result.failed:
        names = ", ".join(host.name for host in result.failed)
        raise SiteboxError(
            f"{len(result.failed)} of {total} hosts failed: {names}",
            hint="fix what the messages above say and run again; hosts already done are kept",
        )
    verb = "would change" if result.check else "changed"
    hosts = "1 host" if total == 1 else f"{total} hosts"
    console.err.print(f"{hosts} ready: {len(result.changed)} {verb}, 0 failed")


@nodes.command("verify")
@_inventory_option
@_site_option
@_offline_option
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def verify_cmd(inventory_path: Path, site_file: Path | None, offline: bool, output: str) -> None:
    """Check each node's state: packages, kernel, FUSE, CVMFS, time, firewall, k3s."""
    hosts = _load(inventory_path, site_file)
    findings = {host.name: list(verify.check_host(host, offline=offline)) for host in hosts.hosts}
    if output == "json":
        console.emit_json(
            {name: [finding.__dict__ for finding in found] for name, found in findings.items()}
        )
    else:
        for name, found in findings.items():
            console.out.print(_findings_table(name, found))
    failed = {
        name: [f.check for f in found if f.status == verify.FAIL]
        for name, found in findings.items()
    }
    failed = {name: checks for name, checks in failed.items() if checks}
    if failed:
        listed = "; ".join(f"{name}: {', '.join(checks)}" for name, checks in failed.items())
        count = sum(map(len, failed.values()))
        raise SiteboxError(
            f"{count} check{'s' if count > 1 else ''} failed ({listed})",
            hint=(
                "check the host's address, user and ssh key"
                if any("connection" in checks for checks in failed.values())
                else "run `sitebox nodes prepare` with the same inventory, then verify again"
            ),
        )


def _findings_table(name: str, found: list[verify.Finding]) -> Table:
    table = Table("check", "kind", "status", title=name, title_justify="left")
    table.add_column("detail", overflow="fold")  # a path cut short would hide what failed
    colors = {verify.PASS: "green", verify.FAIL: "red", verify.NOT_RUN: "dim"}
    for finding in found:
        table.add_row(
            finding.check,
            finding.kind,
            f"[{colors[finding.status]}]{finding.status}",
            Text(finding.detail),
        )
    return table
