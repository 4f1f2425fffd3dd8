"""Rendering a site: compose both charts, `helm template` them, check the result.

Nothing here touches a cluster. Components whose upstream chart is not on this
machine are left out of the render and reported as missing; their values are
still checked against the chart's values schema where a copy of it is known.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from sitebox.components import names
from sitebox.compose import charts, values
from sitebox.compose.secrets import Secrets
from sitebox.files import private_dir, write_private
from sitebox.helm import Helm, Template
from sitebox.model.distro import Component, Distribution
from sitebox.model.siteconfig import Site
from sitebox.render.findings import WARNING, Finding
from sitebox.render.openapi import Checked, check_openapi, skipped_kinds
from sitebox.render.policy import WAIVER_CHECK, check_policies
from sitebox.render.values_check import check_values, load_schema

RELEASES = (
    ("system", "sitebox-system", names.SYSTEM_NAMESPACE),
    ("site", "sitebox", names.SITE_NAMESPACE),
)
# (Helm release, namespace) of each, as Helm is asked about them.
RELEASE_NAMES = tuple((name, namespace) for _, name, namespace in RELEASES)
# Folder of upstream schema copies (<chart-folder>/values.schema.json, values.yaml), used
# when the chart itself is not on this machine. CI points it at shared/upstream.
SCHEMA_COPIES_ENV = "SITEBOX_UPSTREAM_SCHEMAS"
SCHEMA_FOLDER = {
    "jupyterhub": "jupyterhub",
    "dask-gateway": "dask-gateway",
    "prometheus": "prometheus",
}


@dataclass
class ReleaseRender:
    release: str  # "system" or "site"
    name: str  # the Helm release name
    namespace: str
    composed: charts.Composed
    values: dict[str, Any]  # holds secrets: never print it
    manifests: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SiteRender:
    site: Site
    releases: list[ReleaseRender]
    findings: list[Finding]
    secrets: Secrets  # the values this render used: what any output must be redacted of
    unchecked_kinds: set[str] = field(default_factory=set)  # custom resources: no OpenAPI

    @property
    def missing(self) -> list[Component]:
        return [c for r in self.releases for c in r.composed.missing]

    @property
    def complete(self) -> bool:
        return not self.missing


def _schema_copies() -> Path | None:
    folder = os.environ.get(SCHEMA_COPIES_ENV)
    return Path(folder) if folder else None


def _values_findings(site: Site, secrets: Secrets, release: ReleaseRender) -> list[Finding]:
    found: list[Finding] = []
    copies = _schema_copies()
    for name in site.enabled():
        component = site.distribution.components[name]
        if component.release != release.release or component.chart.local:
            continue
        chart_dir = release.composed.path / "charts" / component.chart.name
        fallback = (
            copies / SCHEMA_FOLDER[component.chart.name]
            if copies and component.chart.name in SCHEMA_FOLDER
            else None
        )
        schema = load_schema(chart_dir if chart_dir.is_dir() else None, fallback)
        if schema is None:
            continue
        defaults_file = (chart_dir if chart_dir.is_dir() else fallback or chart_dir) / "values.yaml"
        defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.is_file() else None
        composed = values.component_values(site, secrets, name)
        found += check_values(component.chart.name, composed, schema, defaults=defaults)
    return found


def openapi_findings(manifests: list[dict[str, Any]], dist: Distribution) -> list[Finding]:
    """Checked against the oldest, tested and newest supported Kubernetes: an API
    removed or added in between shows at one of the ends."""
    found: list[Finding] = []
    checked: Checked = {}
    for version in dict.fromkeys((dist.kube_min, dist.kube_tested, dist.kube_max)):
        found += [f for f in check_openapi(manifests, version, checked=checked) if f not in found]
    return found


def _flatten(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A `v1 List` (as some charts render several Services) is its items, as Helm and
    kubectl apply it: the API server serves no List kind to check it against."""
    out: list[dict[str, Any]] = []
    for obj in manifests:
        if obj.get("kind") == "List" and obj.get("apiVersion") == "v1":
            out += [item for item in obj.get("items") or [] if item]
        else:
            out.append(obj)
    return out


def render(
    site: Site, secrets: Secrets, workdir: Path, bundle_charts: Path | None = None
) -> SiteRender:
    helm = Helm()
    enabled = site.enabled()
    composed = {}
    for release, _, _ in RELEASES:
        components = [
            site.distribution.components[c]
            for c in enabled
            if site.distribution.components[c].release == release
        ]
        composed[release] = charts.compose(release, components, workdir, bundle_charts)
    # Values describe the site as it will be: a component left out for want of its
    # chart is off everywhere (site-info, the hub's Dask wiring), not half-referenced.
    missing = {c.name for result in composed.values() for c in result.missing}
    present = replace(
        site,
        components={
            n: {**spec, "enabled": False} if n in missing else spec
            for n, spec in site.components.items()
        },
    )
    releases = [
        ReleaseRender(
            release,
            name,
            namespace,
            composed[release],
            values.release_values(present, secrets, release, composed[release].included),
        )
        for release, name, namespace in RELEASES
    ]
    # Both at once: each is a Helm process, and neither needs the other.
    rendered = helm.template(
        [Template(r.name, r.composed.path, r.values, r.namespace) for r in releases]
    )
    findings: list[Finding] = []
    for one, manifests in zip(releases, rendered, strict=True):
        one.manifests = _flatten(manifests)
        findings += _values_findings(site, secrets, one)
        findings += openapi_findings(one.manifests, site.distribution)
    # Policies over both releases at once: a waiver applies wherever its object lives.
    everything = [obj for r in releases for obj in r.manifests]
    shipped = {key for name in enabled for key, _ in site.distribution.components[name].waivers}
    findings += [
        f
        for f in check_policies(everything, site.waivers)
        # The distribution's waivers cover every mode of a component; unused is normal.
        if not (f.check == WAIVER_CHECK and f.severity == WARNING and f.name in shipped)
    ]
    unchecked = {
        kind for r in releases for kind in skipped_kinds(r.manifests, site.distribution.kube_tested)
    }
    return SiteRender(site, releases, findings, secrets, unchecked)


def write(result: SiteRender, out: Path) -> list[Path]:
    """One YAML file per release, objects in a stable order: same inputs, same bytes.
    The files are private (0600), and so is the folder if sitebox makes it: rendered
    Secrets carry the site's secrets."""
    private_dir(out)
    written = []
    for release in result.releases:
        objects = sorted(
            release.manifests,
            key=lambda o: (
                o.get("kind", ""),
                o.get("metadata", {}).get("namespace") or "",
                o.get("metadata", {}).get("name", ""),
            ),
        )
        text = "".join(
            "---\n" + yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)
            for obj in objects
        )
        path = out / f"{release.name}.yaml"
        write_private(path, text)
        written.append(path)
    return written
