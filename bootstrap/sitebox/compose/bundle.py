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
from sitebox.render.policy import containers_of

MANIFEST = "bundle.json"


def create(result: SiteRender, path: Path) -> dict[str, object]:
    """Write the bundle; refuse an incomplete one (it would fail where nothing can be fetched)."""
    if not result.complete:
        names = ", ".join(f"{c.chart.name} {c.chart.version}" for c in result.missing)
        raise SiteboxError(
            f"cannot bundle: charts missing on this machine: {names}",
            hint="run `sitebox charts pull -f site.yaml` on a connected machine first",
        )
    images = images_of(result)
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


def _moving(image: str) -> bool:
    """An image named by a tag that moves: none (``latest``) or ``latest`` itself."""
    if "@" in image:
        return False
    name = image.rsplit("/", 1)[-1]
    return ":" not in name or name.endswith(":latest")


def _full(image: str) -> str:
    """An image's full name, as a registry mirror is filled: Docker Hub's short names
    (``traefik:3.3``, ``chrislusf/seaweedfs:4.44``) with their registry and namespace."""
    first, _, rest = image.partition("/")
    if first == "docker.io" and "/" not in rest:
        return f"docker.io/library/{rest}"
    if rest and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if rest else f"docker.io/library/{image}"


def images_of(result: SiteRender) -> list[str]:
    """Every image the site pulls: the containers and init containers of every rendered
    workload (hooks included), and the images the distribution declares for the enabled
    components (those the charts only pass on in configuration: the notebook servers',
    Dask workers', grid jobs' images). An image by a moving tag is refused: the mirror
    would hold another image than the site later pulls."""
    found = {
        _full(container["image"])
        for release in result.releases
        for obj in release.manifests
        for container in containers_of(obj)
    }
    distribution = result.site.distribution
    found |= {
        _full(i) for name in result.site.enabled() for i in distribution.components[name].images
    }
    moving = sorted(i for i in found if _moving(i))
    if moving:
        raise SiteboxError(
            f"cannot bundle images by a moving tag: {', '.join(moving)}; nothing was written",
            hint="pin each to a version tag or a digest (the component's `values` in site.yaml)",
        )
    return sorted(found)


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
