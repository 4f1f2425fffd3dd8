"""The chart cache and composed charts.

Upstream charts are pulled once (``sitebox charts pull``) into the cache, unpacked
as ``<name>-<version>/``. A composed chart is a copy of ``charts/sitebox`` (or
``charts/sitebox-system``) whose Chart.yaml lists only the components that are
enabled and present, with those charts inside its ``charts/`` folder: what Helm
renders, and what a bundle carries to an air-gapped site.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sitebox.compose import chartpins
from sitebox.errors import SiteboxError
from sitebox.model.distro import ChartRef, Component
from sitebox.paths import cache_dir, data_root

RELEASE_CHART = {"site": "sitebox", "system": "sitebox-system"}


def charts_dir() -> Path:
    return data_root() / "charts"


def chart_cache() -> Path:
    """Upstream charts, unpacked as ``<name>-<version>/``; SITEBOX_CHART_CACHE moves it
    (the plumbing tests point it at an empty folder, to render our own charts alone)."""
    override = os.environ.get("SITEBOX_CHART_CACHE")
    return Path(override) if override else cache_dir() / "charts"


def locate(chart: ChartRef, bundle: Path | None = None) -> Path | None:
    """Where a chart is on this machine: a bundle's copy first, then ours in charts/,
    then upstream ones in the cache."""
    unpacked = f"{chart.name}-{chart.version}"
    if bundle is not None and (bundle / unpacked / "Chart.yaml").is_file():
        return bundle / unpacked
    path = charts_dir() / chart.name if chart.local else chart_cache() / unpacked
    return path if (path / "Chart.yaml").is_file() else None


def _check_cached(chart: ChartRef, found: Path) -> None:
    """An upstream chart from the cache has the pinned files (a bundle's are checked when it
    is unpacked): one changed by hand, or left by an older sitebox, is not rendered."""
    if found.parent != chart_cache():
        return
    if chartpins.state(chart, found) == chartpins.MODIFIED:
        raise SiteboxError(
            f"{chart.name} {chart.version} in the chart cache ({found}) differs from the "
            "release the distribution pins; nothing was rendered",
            hint=f"put the release back: `sitebox charts pull --all`, or `sitebox charts import "
            f"{chart.name}-{chart.version}.tgz` from your mirror",
        )


@dataclass
class Composed:
    release: str
    path: Path
    included: list[str] = field(default_factory=list)
    missing: list[Component] = field(default_factory=list)


def compose(
    release: str, components: list[Component], into: Path, bundle: Path | None = None
) -> Composed:
    """Write the composed chart of ``release`` for the enabled ``components`` into ``into``."""
    source = charts_dir() / RELEASE_CHART[release]
    target = into / RELEASE_CHART[release]
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("charts", "Chart.lock", "*.tgz"))
    result = Composed(release, target)
    present: dict[str, Path] = {}
    for component in components:
        found = locate(component.chart, bundle)
        if found is None:
            result.missing.append(component)
        else:
            _check_cached(component.chart, found)
            present[component.chart.name] = found
            result.included.append(component.name)
    meta = yaml.safe_load((target / "Chart.yaml").read_text())
    meta["dependencies"] = [d for d in meta.get("dependencies", []) if d["name"] in present]
    (target / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    (target / "charts").mkdir()
    for name, path in sorted(present.items()):
        shutil.copytree(path, target / "charts" / name, copy_function=_link_or_copy)
    return result


def _link_or_copy(source: str, target: str) -> None:
    """A hard link where the chart and the composed copy share a file system: a render
    copied every file of every upstream chart, a quarter of its time with the real
    charts. Helm and the bundle only read these files; across file systems, a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
