"""Drift: where a site on its cluster differs from what its site or fleet file renders.

Three kinds, each with its diff: the distribution recorded on the site; the
installed Helm releases against the render (the file or the shared settings
changed since the last install: an upgrade applies it); and the live objects
against the render (someone edited the cluster by hand: Helm's record still says
all is well, so only a look at the objects shows it; `sitebox install` repairs it).
Secret values are never compared nor shown (lifecycle.repair).
"""

from __future__ import annotations

from dataclasses import dataclass

from sitebox.compose import diff
from sitebox.compose.render import ReleaseRender, SiteRender
from sitebox.helm import Helm
from sitebox.kube import Kube, Obj
from sitebox.lifecycle.repair import Drift, Drifted, find_live


@dataclass(frozen=True)
class ReleaseDrift:
    changes: list[diff.Change]  # what an upgrade would change (the render moved on)
    live: list[Drifted]  # what changed on the cluster by hand since Helm applied it


def of_release(kube: Kube, release: ReleaseRender, installed: list[Obj]) -> ReleaseDrift:
    """One installed release: what its render would change (render against Helm's record),
    and what changed by hand (Helm's record against the live objects: the record holds
    what the charts' lookups found on the cluster, which a render cannot see)."""
    changes = diff.changes(installed, release.manifests, release.namespace)
    return ReleaseDrift(changes, find_live(kube, installed, release.namespace))


def find(result: SiteRender, kube: Kube, helm: Helm, installed_version: str | None) -> list[Drift]:
    """Everything on the cluster that differs from the render, secrets redacted."""
    found = []
    expected = result.site.distribution.version
    if installed_version != expected:
        found.append(
            Drift("distribution", f"  rendered {expected}, cluster {installed_version or '(none)'}")
        )
    for release in result.releases:
        installed = helm.manifest(release.name, release.namespace)
        if installed is None:
            found.append(Drift(f"release {release.name}", "  not installed"))
            continue
        drifted = of_release(kube, release, installed)
        for change in drifted.changes:
            text = result.secrets.redact(change.diff) or f"  {change.action}"
            found.append(Drift(f"release {release.name}: {change.kind} {change.name}", text))
        for item in drifted.live:
            found.append(Drift(item.drift.what, result.secrets.redact(item.drift.detail)))
    return found
