"""Air-gapped bundles: every chart a site renders, the images it pulls, one archive.

Made on a connected machine (after ``sitebox charts pull``), carried across, and
used with ``--bundle``: the charts inside it are taken before any on the machine.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from sitebox.compose import chartpins
from sitebox.compose.render import SiteRender
from sitebox.errors import SiteboxError
from sitebox.model import distro

MANIFEST = "bundle.json"


def create(result: SiteRender, path: Path) -> dict[str, object]:
    """Write the bundle; refuse an incomplete one (it would fail where nothing can be fetched)."""
    if not result.complete:
        names = ", ".join(f"{c.chart.name} {c.chart.version}" for c in result.missing)
        raise SiteboxError(
            f"cannot bundle: charts missing on this machine: {names}",
            hint="run `sitebox charts pull -f site.yaml` on a connected machine first",
        )
    images = sorted(
        {
            i
            for name in result.site.enabled()
            for i in result.site.distribution.components[name].images
        }
    )
    info: dict[str, object] = {
        "site": result.site.name,
        "distribution": result.site.distribution.version,
        "components": result.site.enabled(),
        "charts": [],
        "images": images,
    }
    charts: list[str] = []
    with tarfile.open(path, "w:gz") as tar:
        for release in result.releases:
            folder = release.composed.path / "charts"
            for chart in sorted(folder.iterdir()):
                version = _version(chart)
                arcname = f"charts/{chart.name}-{version}"
                tar.add(chart, arcname=arcname, filter=_normalize)
                charts.append(f"{chart.name}-{version}")
        info["charts"] = charts
        _add_text(tar, MANIFEST, json.dumps(info, indent=2))
        _add_text(tar, "images.txt", "\n".join(images) + "\n")
    return info


def _version(chart: Path) -> str:
    return str(yaml.safe_load((chart / "Chart.yaml").read_text())["version"])


def _normalize(member: tarfile.TarInfo) -> tarfile.TarInfo:
    # Stable metadata: the same inputs give the same archive members.
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    member.mtime = 0
    return member


def _add_text(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    member = _normalize(tarfile.TarInfo(name))
    member.size = len(data)
    tar.addfile(member, io.BytesIO(data))


@contextmanager
def unpacked(path: Path | None) -> Iterator[Path | None]:
    """The charts of the bundle at ``path``, unpacked for as long as the block runs
    (None without a bundle)."""
    if path is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="sitebox-bundle-") as tmp:
        yield extract(path, Path(tmp) / "bundle")


def extract(path: Path, into: Path) -> Path:
    """Unpack a bundle; return its charts folder."""
    if not path.is_file():
        raise SiteboxError(f"bundle {path} not found")
    try:
        with tarfile.open(path, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SiteboxError(f"{path} is not a sitebox bundle: {exc}") from None
    if not (into / MANIFEST).is_file():
        shutil.rmtree(into, ignore_errors=True)
        raise SiteboxError(f"{path} is not a sitebox bundle (no {MANIFEST})")
    _verify(path, into)
    return into / "charts"


def _verify(path: Path, into: Path) -> None:
    """Every chart of the bundle is one its distribution pins, with the pinned files: a
    bundle is carried by hand, and whatever changed on the way is refused here."""
    try:
        version = str(json.loads((into / MANIFEST).read_text())["distribution"])
    except (ValueError, KeyError, TypeError):
        raise SiteboxError(
            f"{path} is not a sitebox bundle ({MANIFEST} unreadable)",
            hint="the bundle is damaged: make it again with `sitebox bundle create`",
        ) from None
    pins = [c.chart for c in distro.load(version).components.values()]
    for chart in sorted((into / "charts").iterdir()):
        chartpins.verify(chart, pins, f"chart {chart.name} of bundle {path}")
