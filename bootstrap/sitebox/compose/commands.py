"""``sitebox init | render | plan | charts pull|import|status``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from sitebox import console
from sitebox.components.names import SYSTEM_NAMESPACE
from sitebox.compose import bundle as bundles
from sitebox.compose import chartpins, diff
from sitebox.compose import init as initializer
from sitebox.compose import render as renderer
from sitebox.compose import secrets as secret_store
from sitebox.compose.charts import chart_cache
from sitebox.compose.plan import capacity_from_spec, cluster_capacity, summarize
from sitebox.config import load_yaml_text, validate
from sitebox.errors import SiteboxError
from sitebox.helm import Helm, HelmError
from sitebox.kube import Kube
from sitebox.lifecycle import drift
from sitebox.model import siteconfig
from sitebox.model.distro import ChartRef
from sitebox.model.schemas import schema
from sitebox.options import context_option
from sitebox.paths import state_dir
from sitebox.render.findings import ERROR, has_errors

site_option = click.option(
    "--file", "-f", "site_file", type=click.Path(dir_okay=False, path_type=Path),
    help="The site config (site.yaml).",
)  # fmt: skip
profile_option = click.option(
    "--profile", "-p", help="Render a profile as is, without a site.yaml (site name = profile)."
)
bundle_option = click.option(
    "--bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take charts from this bundle.",
)


def load_site(site_file: Path | None, profile: str | None) -> siteconfig.Site:
    if site_file and profile:
        raise SiteboxError(
            "give -f site.yaml or --profile, not both",
            hint="-f for your site (its profile is in the file), --profile for a profile as is",
        )
    if site_file:
        return siteconfig.load(site_file)
    if not profile:
        raise SiteboxError(
            "no site given", hint="pass -f site.yaml, or --profile demo to render a profile as is"
        )
    doc = load_yaml_text(
        f"apiVersion: sitebox.io/v1\nkind: Site\nname: {profile}\nprofile: {profile}\n",
        f"--profile {profile}",
    )
    validate(doc, schema("site"), what="site config")
    return siteconfig.from_document(doc)


def secrets_for(site: siteconfig.Site, kube: Kube | None = None) -> secret_store.Secrets:
    """From the cluster when one is given (read only: looking never writes to a
    cluster), else from the local store used for renders without a cluster."""
    given = secret_store.supplied(site.config)
    if kube is not None:
        cluster = secret_store.ClusterStore(kube, SYSTEM_NAMESPACE)
        return secret_store.ensure(cluster, site.enabled(), False, given)
    store = secret_store.FileStore(state_dir() / "sites" / site.name / "secrets.json")
    return secret_store.ensure(store, site.enabled(), given=given)


@contextmanager
def rendered(
    site_file: Path | None, profile: str | None, bundle: Path | None, kube: Kube | None = None
) -> Iterator[renderer.SiteRender]:
    site = load_site(site_file, profile)
    secrets = secrets_for(site, kube)
    with (
        tempfile.TemporaryDirectory(prefix="sitebox-") as tmp,
        bundles.unpacked(bundle) as charts,
        console.err.status("rendering with helm template"),
    ):
        yield renderer.render(site, secrets, Path(tmp), charts)


def report(result: renderer.SiteRender) -> None:
    for component in result.missing:
        console.err.print(
            f"missing chart: {component.name} needs {component.chart.name} "
            f"{component.chart.version} ({component.chart.repository}); left out of this render",
            markup=False,
            soft_wrap=True,
        )
    if result.missing:
        console.err.print(
            "  fix: on a connected machine run `sitebox charts pull -f site.yaml`, "
            "or bring them in a bundle (`sitebox bundle create`, then --bundle)",
            markup=False,
        )
    if result.unchecked_kinds:
        console.err.print(
            "not checked against the Kubernetes OpenAPI (custom resources): "
            + ", ".join(sorted(result.unchecked_kinds)),
            markup=False,
            soft_wrap=True,
        )
    for finding in result.findings:
        if finding.severity != "waived":
            console.err.print(str(finding), markup=False, soft_wrap=True)


@click.command("init")
@click.option("--profile", "-p", default="tier3", show_default=True)
@click.option("--name", default="mysite", show_default=True, help="The site's short name.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("site.yaml"),
    show_default=True,
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init_cmd(profile: str, name: str, output: Path, force: bool) -> None:
    """Write a commented site.yaml for a profile."""
    initializer.write(output, name, profile, force)
    console.err.print(f"wrote {output}: edit it, then `sitebox plan -f {output}`", markup=False)


@click.command("render")
@site_option
@profile_option
@bundle_option
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Default: rendered/<site>.",
)
def render_cmd(
    site_file: Path | None, profile: str | None, bundle: Path | None, output_dir: Path | None
) -> None:
    """Render both releases' manifests through real `helm template` and check them."""
    with rendered(site_file, profile, bundle) as result:
        report(result)
        if has_errors(result.findings):
            errors = sum(1 for f in result.findings if f.severity == ERROR)
            raise SiteboxError(
                f"{errors} check(s) failed on the rendered manifests (listed above); "
                "nothing written",
                hint="fix the values, or waive the policy in site.yaml (policy.waivers, "
                "with a reason)",
            )
        out = output_dir or Path("rendered") / result.site.name
        files = renderer.write(result, out)
    state = "complete" if result.complete else "INCOMPLETE (charts missing)"
    console.err.print(f"render {state}: {', '.join(str(f) for f in files)}", markup=False)


@click.command("plan")
@site_option
@profile_option
@bundle_option
@click.option(
    "--capacity", help="Compare with this capacity, e.g. 16cpu-64Gi (default: the cluster's, "
    "with --kubeconfig, else the profile's needs)."
)  # fmt: skip
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
              help="Compare with what is installed on this cluster.")  # fmt: skip
@context_option
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def plan_cmd(
    site_file: Path | None,
    profile: str | None,
    bundle: Path | None,
    capacity: str | None,
    kubeconfig: Path | None,
    context: str | None,
    output: str,
) -> None:
    """Per component: on/off, chart, requests against capacity; with --kubeconfig, the diff."""
    kube = Kube(kubeconfig, context) if kubeconfig else None
    with rendered(site_file, profile, bundle, kube) as result:
        limit = capacity_from_spec(capacity) if capacity else None
        releases = []
        if kube is not None:
            limit = limit or cluster_capacity(kube.allocatable())
            helm = Helm(kubeconfig, context)
            for release in result.releases:
                installed = helm.manifest(release.name, release.namespace)
                found = drift.of_release(kube, release, installed or [])
                releases.append(
                    {
                        "release": release.name,
                        "installed": installed is not None,
                        "changes": [c.__dict__ for c in found.changes],
                        # By hand since the last install: `sitebox install` repairs it.
                        "drift": [
                            {"what": d.drift.what, "diff": d.drift.detail} for d in found.live
                        ],
                    }
                )
        plan = summarize(result, limit)
        plan["releases"] = releases
        if output == "json":
            console.emit_json(json.loads(result.secrets.redact(json.dumps(plan))))
        else:
            report(result)
            show_plan(plan, result.secrets)
    if not plan["fits"]:
        raise SiteboxError(
            "the site's requests exceed the capacity",
            hint="choose a smaller profile, shrink components in site.yaml, or add nodes",
        )


def show_plan(plan: dict[str, Any], secrets: secret_store.Secrets) -> None:
    table = Table("component", "state", "chart", "cpu", "memory")
    for row in plan["components"]:
        state = {True: "on", False: "[red]missing", None: "off"}[row["present"]]
        table.add_row(row["name"], state, row["chart"], row["cpu"], row["memory"])
    console.out.print(table)
    total = plan["total"]
    console.out.print(
        f"requests (rendered components): {total['cpu']} CPU, {total['memory']}; "
        f"capacity {plan['capacity']['cpu']} CPU, {plan['capacity']['memory']}: "
        f"{'fits' if plan['fits'] else 'DOES NOT FIT'}",
        markup=False, soft_wrap=True,
    )  # fmt: skip
    for release in plan["releases"]:
        state = "installed" if release["installed"] else "not installed"
        summary = diff.summary(c["action"] for c in release["changes"])
        console.out.print(f"{release['release']} ({state}): {summary}", markup=False)
        for change in release["changes"]:
            if change["diff"]:
                console.out.print(secrets.redact(change["diff"]), markup=False, highlight=False)
        if release["drift"]:
            console.out.print(
                f"{release['release']}: {len(release['drift'])} object(s) drifted on the "
                "cluster; `sitebox install` repairs them",
                markup=False,
            )
        for item in release["drift"]:
            text = f"  {item['what']}\n{secrets.redact(item['diff'])}"
            console.out.print(text, markup=False, highlight=False)


@click.group("charts")
def charts_group() -> None:
    """The upstream chart cache."""


def _wanted(site_file: Path | None, profile: str | None, every: bool) -> list[ChartRef]:
    """The upstream charts of a site, or with ``every`` of the whole distribution."""
    if every:
        return _pins()
    site = load_site(site_file, profile)
    components = [site.distribution.components[n] for n in site.enabled()]
    return [c.chart for c in components if not c.chart.local]


def _pins() -> list[ChartRef]:
    from sitebox.model import distro

    return [c.chart for c in distro.load().components.values() if not c.chart.local]


@charts_group.command("pull")
@site_option
@profile_option
@click.option("--all", "pull_all", is_flag=True, help="Every upstream chart of the distribution.")
def pull_cmd(site_file: Path | None, profile: str | None, pull_all: bool) -> None:
    """Download the upstream charts a site needs into the cache (needs the network);
    each is checked against the distribution's pin before it replaces anything."""
    helm, failed = Helm(), []
    for chart in _wanted(site_file, profile, pull_all):
        with tempfile.TemporaryDirectory(prefix="sitebox-pull-") as tmp:
            try:
                pulled = helm.pull(chart.name, chart.repository, chart.version, Path(tmp))
            except HelmError as exc:
                reason = exc.message.splitlines()[-1].rpartition("Error: ")[2]
                failed.append(f"{chart.name} {chart.version} from {chart.repository}: {reason}")
                continue
            chartpins.check_and_store(pulled, [chart], chart_cache(), chart.repository)
        console.err.print(f"pulled {chart.name} {chart.version} (digest checked)", markup=False)
    if failed:
        raise SiteboxError(
            "could not pull:\n  " + "\n  ".join(failed),
            hint="this machine cannot reach those repositories: bring the chart packages "
            "(`sitebox charts import PACKAGE...`) or a bundle (`sitebox bundle create`)",
        )


@charts_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def import_cmd(paths: tuple[Path, ...]) -> None:
    """Put chart packages (.tgz) or chart folders into the cache, each checked against the
    distribution's pin (name, version, digest of its files); a chart that fails replaces
    nothing. How a site with its own chart mirror, or none, fills its cache."""
    pins, helm = _pins(), Helm()
    for path in paths:
        checked = chartpins.import_chart(path, pins, chart_cache(), helm.package)
        console.err.print(
            f"imported {checked.chart.name} {checked.chart.version} from {path} "
            "(digest matches the pin)",
            markup=False,
            soft_wrap=True,
        )


@charts_group.command("status")
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def charts_status_cmd(output: str) -> None:
    """Each upstream chart of the distribution: in the cache with the pinned files,
    modified, or missing."""
    rows = []
    for pin in _pins():
        state = chartpins.state(pin, chart_cache() / f"{pin.name}-{pin.version}")
        rows.append({"chart": pin.name, "version": pin.version, "state": state})
    if output == "json":
        console.emit_json({"cache": str(chart_cache()), "charts": rows})
        return
    table = Table("chart", "version", "state")
    for row in rows:
        table.add_row(row["chart"], row["version"], row["state"])
    console.out.print(table)
    console.out.print(f"cache: {chart_cache()}", markup=False, soft_wrap=True)
    if any(row["state"] != chartpins.CACHED for row in rows):
        console.out.print(
            "fix: `sitebox charts pull --all` (connected) or `sitebox charts import PACKAGE...`",
            markup=False,
            soft_wrap=True,
        )
