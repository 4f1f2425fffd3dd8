"""Distribution manifests (distro/<version>.yaml): pinned charts and images."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitebox.config import load_yaml, validate
from sitebox.errors import SiteboxError
from sitebox.model.schemas import schema
from sitebox.paths import distro_dir

_VERSION_FILE = re.compile(r"^(\d{4}\.\d{2})\.yaml$")


@dataclass(frozen=True)
class ChartRef:
    name: str
    version: str
    repository: str
    # The digest of the chart's files (compose.chartpins.digest) for upstream charts;
    # ours ship in charts/ and need none.
    digest: str | None = None

    @property
    def local(self) -> bool:
        """Our own charts ship in charts/; upstream ones come from a repository."""
        return self.repository.startswith("file://")


@dataclass(frozen=True)
class Component:
    name: str
    description: str
    release: str  # "site" or "system"
    chart: ChartRef
    images: tuple[str, ...]
    needs: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    crds: bool = False
    pod_security: str = "restricted"
    waivers: tuple[tuple[str, str], ...] = ()
    # Charts vendored in the component's chart, whose pods label themselves with their own
    # chart's name (kube-state-metrics inside prometheus).
    subcharts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Distribution:
    version: str
    kube_min: str
    kube_max: str
    kube_tested: str
    upgrades_from: tuple[str, ...]
    components: dict[str, Component]
    source: Path
    backup_images: dict[str, str] = field(default_factory=dict)

    def supports(self, kube_version: str) -> bool:
        """``v1.36.3`` or ``1.36`` within [min, max] (minor versions compared)."""
        minor = _minor(kube_version)
        return _minor(self.kube_min) <= minor <= _minor(self.kube_max)


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


def versions(folder: Path | None = None) -> list[str]:
    folder = folder or distro_dir()
    found = [m[1] for p in folder.iterdir() if (m := _VERSION_FILE.match(p.name))]
    return sorted(found)


# One read per process: a command asks for the distribution in several places, and its
# files do not change while sitebox runs.
@functools.cache
def load(version: str | None = None, folder: Path | None = None) -> Distribution:
    folder = folder or distro_dir()
    known = versions(folder)
    if not known:
        raise SiteboxError(f"no distribution manifests in {folder}")
    version = version or known[-1]
    if version not in known:
        hint = f"this sitebox ships {', '.join(known)}"
        newest = load_yaml(folder / f"{known[-1]}.yaml").data
        if version in newest.get("upgradesFrom", []):
            hint += (
                f', which upgrades sites from {version}: set `distribution: "{known[-1]}"` '
                "in site.yaml and run `sitebox upgrade`"
            )
        raise SiteboxError(f"unknown distribution version {version!r}", hint=hint)
    doc = load_yaml(folder / f"{version}.yaml")
    validate(doc, schema("distribution"), what="distribution")
    return _build(doc.data, doc.path)


def _build(data: dict[str, Any], source: Path) -> Distribution:
    components = {
        name: Component(
            name=name,
            description=spec["description"],
            release=spec["release"],
            chart=ChartRef(**spec["chart"]),
            images=tuple(spec["images"]),
            needs=tuple(spec.get("needs", ())),
            conflicts=tuple(spec.get("conflicts", ())),
            crds=bool(spec.get("crds", False)),
            pod_security=spec.get("podSecurity", "restricted"),
            waivers=tuple(spec.get("waivers", {}).items()),
            subcharts=tuple(spec.get("subcharts", ())),
        )
        for name, spec in data["components"].items()
    }
    return Distribution(
        version=data["version"],
        kube_min=data["kubernetes"]["min"],
        kube_max=data["kubernetes"]["max"],
        kube_tested=data["kubernetes"]["tested"],
        upgrades_from=tuple(data["upgradesFrom"]),
        components=components,
        source=source,
        backup_images=dict(data.get("backupImages") or {}),
    )
