"""``sitebox preflight``: can this cluster take this site? Run before install."""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sitebox import console
from sitebox.compose.commands import bundle_option, rendered
from sitebox.errors import SiteboxError
from sitebox.kube import Kube
from sitebox.options import context_option, kubeconfig_option
from sitebox.preflight import workload
from sitebox.preflight.checks import FAIL, PASS, WARN, Result, exit_code

COLORS = {PASS: "green", WARN: "yellow", FAIL: "red"}


def table(results: list[Result]) -> Table:
    """check, status, detail; the detail wraps so the table fits the terminal (80 columns)."""
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    grid.add_column("check", no_wrap=True)
    grid.add_column("status", no_wrap=True)
    grid.add_column("detail", overflow="fold", ratio=1)
    for result in results:
        grid.add_row(
            result.name, Text(result.status, style=COLORS[result.status]), Text(result.detail)
        )
    return grid


def fix_lines(results: list[Result]) -> list[str]:
    return [f"fix: {r.name}: {r.fix}" for r in results if r.status != PASS and r.fix]


def show(results: list[Result], to: Console) -> None:
    to.print(table(results))
    for line in fix_lines(results):
        to.print(line, markup=False, highlight=False)
    counts = {s: sum(1 for r in results if r.status == s) for s in COLORS}
    to.print(", ".join(f"{n} {s}" for s, n in counts.items()), markup=False, highlight=False)


@click.command("preflight")
@click.option(
    "--file", "-f", "site_file", type=click.Path(dir_okay=False, path_type=Path),
    help="The site config (site.yaml).",
)  # fmt: skip
@click.option("--profile", "-p", help="Check for a profile as is, without a site.yaml.")
@bundle_option
@kubeconfig_option
@context_option
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def preflight_cmd(
    site_file: Path | None,
    profile: str | None,
    bundle: Path | None,
    kubeconfig: Path | None,
    context: str | None,
    output: str,
) -> None:
    """Check that a cluster can take the site: version, capacity, storage, rights, tools,
    and what the rendered site would ask of it (volumes, load balancers, drivers)."""
    kube = Kube(kubeconfig, context)
    with rendered(site_file, profile, bundle, kube) as result:
        site = result.site
        releases = [(r.manifests, r.namespace) for r in result.releases]
        with console.err.status("checking the cluster"):
            results = workload.run(site, kube, releases, air_gapped=bundle is not None)
    if output == "json":
        console.emit_json([r.as_dict() for r in results])
    else:
        show(results, console.out)
    if exit_code(results):
        failed = [r.name for r in results if r.status == FAIL]
        raise SiteboxError(
            f"{len(failed)} of {len(results)} checks failed ({', '.join(failed)}): "
            f"this cluster cannot take site {site.name} yet",
            hint="each failed check names its fix; run `sitebox preflight` again after",
        )
