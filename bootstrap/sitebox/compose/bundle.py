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
from typing import Any

import yaml

from sitebox.compose import chartpins
from sitebox.compose import images as site_images
from sitebox.compose.charts import charts_dir
from sitebox.compose.render import SiteRender
from sitebox.errors import SiteboxError
from sitebox.files import private_file
from sitebox.model import distro
from sitebox.nodes import k3s

MANIFEST = "bundle.json"
# The k3s release files for `sitebox nodes prepare --bundle`: binaries and checksum files.
K3S_FOLDER = "k3s"


def create(result: SiteRender, path: Path, k3s_from: Path | None = None) -> dict[str, object]:
    """Write the bundle; refuse an incomplete one (it would fail where nothing can be fetched).
    With ``k3s_from``, a k3s release folder, its binaries and checksum files go in too."""
    if not result.complete:
        names = ", ".join(f"{c.chart.name} {c.chart.version}" for c in result.missing)
        raise SiteboxError(
            f"cannot bundle: charts missing on this machine: {names}",
            hint="run `sitebox charts pull -f site.yaml` on a connected machine first",
        )
    images = site_images.of_site(result)
    # Checked before anything is written: a bundle never carries a binary it would refuse.
    k3s_files = k3s.check_folder(k3s_from) if k3s_from else []
    info: dict[str, object] = {
        "site": result.site.name,
        "distribution": result.site.distribution.version,
        "components": result.site.enabled(),
        "charts": [],
        "images": images,
    }
    charts: list[str] = []
    # 0600 like every file sitebox writes for a site, and whole or not at all.
    with private_file(path) as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
        for release in result.releases:
            folder = release.composed.path / "charts"
            for chart in sorted(folder.iterdir()):
                version = _version(chart)
                arcname = f"charts/{chart.name}-{version}"
                tar.add(chart, arcname=arcname, filter=_normalize)
                charts.append(f"{chart.name}-{version}")
        info["charts"] = charts
        for found in k3s_files:
            for file in (found.binary, found.sums):
                tar.add(file, arcname=f"{K3S_FOLDER}/{file.name}", filter=_normalize)
        if k3s_files:
            info["k3s"] = [
                {"arch": f.arch, "file": f.binary.name, "sha256": f.sha256, "version": f.version}
                for f in k3s_files
            ]
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
        raise SiteboxError(f"bundle {path} not found", hint="check the path to the bundle")
    remake = "give the file `sitebox bundle create` wrote, or make it again with that command"
    try:
        with tarfile.open(path, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SiteboxError(f"{path} is not a sitebox bundle: {exc}", hint=remake) from None
    if not (into / MANIFEST).is_file():
        shutil.rmtree(into, ignore_errors=True)
        raise SiteboxError(f"{path} is not a sitebox bundle (no {MANIFEST})", hint=remake)
    _verify(path, into)
    return into / "charts"


def contents(path: Path) -> dict[str, Any]:
    """The manifest of the bundle at ``path`` once every part of it checks out: its charts
    are the distribution's pinned ones (``extract``), the manifest lists exactly the
    charts inside, images.txt is the manifest's list, and no image moves."""
    with tempfile.TemporaryDirectory(prefix="sitebox-bundle-") as tmp:
        into = Path(tmp) / "bundle"
        charts = extract(path, into)
        info: dict[str, Any] = json.loads((into / MANIFEST).read_text())
        inside = sorted(c.name for c in charts.iterdir())
        text = into / "images.txt"
        listed = text.read_text().split() if text.is_file() else None
    problems = []
    if sorted(info.get("charts", [])) != inside:
        problems.append(f"{MANIFEST} lists charts {info.get('charts')}, the bundle holds {inside}")
    images = info.get("images")
    if not isinstance(images, list) or listed != images:
        problems.append(f"images.txt differs from the image list in {MANIFEST}")
    else:
        problems += [f"image by a moving tag: {i}" for i in images if site_images.moving(i)]
    if problems:
        raise SiteboxError(
            f"bundle {path} does not check out:\n  " + "\n  ".join(problems),
            hint="the bundle was changed after `sitebox bundle create`: make it again",
        )
    return info


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
        origin = f"chart {chart.name} of bundle {path}"
        checked = chartpins.verify(chart, pins, origin)
        if checked.chart.local:
            _same_as_ours(checked.path, checked.chart.name, origin)


def _same_as_ours(folder: Path, name: str, origin: str) -> None:
    """Our own charts carry no pinned digest (they ship with sitebox): a bundle's copy
    must be this sitebox's own, file for file."""
    if chartpins.digest(folder) != chartpins.digest(charts_dir() / name):
        raise SiteboxError(
            f"{origin} differs from sitebox's own {name} chart; nothing was used",
            hint="make the bundle again with this sitebox version (`sitebox bundle create`)",
        )
