"""Charts checked against the distribution's pins before they reach the cache.

A pin names a chart, its version and the digest of its files. The digest is taken
over the unpacked chart (each file's path and SHA-256, in path order), not over a
package: the same release packaged by another Helm, or unpacked from a bundle or a
mirror, has other archive bytes but the same files, and the files are what Helm
renders. The published archives' own digests are recorded in docs/charts.md.

Everything is checked in a scratch folder first; the cache's copy is replaced only
by a chart that passed, in one rename.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from sitebox.errors import SiteboxError
from sitebox.model.distro import ChartRef

DIGEST_PREFIX = "sha256:"
# A chart package is small (the largest upstream one pinned here is under 1 MiB); a
# bound keeps a hostile archive from filling the disk.
MAX_UNPACKED = 64 * 1024 * 1024


def digest(folder: Path) -> str:
    """The digest of a chart folder's files: what a pin's ``digest`` holds."""
    outer = hashlib.sha256()
    # A Chart.lock records when `helm package --dependency-update` ran, so every build of
    # a release differs in it; Helm renders nothing from it (the subcharts are in charts/).
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != "Chart.lock"
    )  # fmt: skip
    for path in files:
        inner = hashlib.sha256(path.read_bytes()).hexdigest()
        outer.update(f"{path.relative_to(folder).as_posix()}\0{inner}\n".encode())
    return DIGEST_PREFIX + outer.hexdigest()


CACHED, MODIFIED, MISSING = "cached", "modified", "missing"


def state(pin: ChartRef, folder: Path) -> str:
    """How a pinned chart stands in a folder: there with the pinned files, changed, or absent."""
    if not (folder / "Chart.yaml").is_file():
        return MISSING
    return CACHED if not pin.digest or digest(folder) == pin.digest else MODIFIED


@dataclass(frozen=True)
class Checked:
    chart: ChartRef
    path: Path  # the verified chart folder (in scratch space until stored)


def _meta(folder: Path, origin: str) -> tuple[str, str]:
    chart_yaml = folder / "Chart.yaml"
    try:
        meta = yaml.safe_load(chart_yaml.read_text())
        return str(meta["name"]), str(meta["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        raise SiteboxError(
            f"{origin} is not a Helm chart: no readable Chart.yaml with a name and a version",
            hint="give a chart package (.tgz, as `helm package` makes it) or a chart folder",
        ) from None


def unpack(package: Path, into: Path) -> Path:
    """A chart package's one top folder, unpacked under ``into``."""
    try:
        with tarfile.open(package, "r:gz") as tar:
            members = tar.getmembers()
            if sum(m.size for m in members) > MAX_UNPACKED:
                raise SiteboxError(
                    f"{package} unpacks to more than {MAX_UNPACKED // 2**20} MiB: not a chart",
                    hint="give the chart package as `helm package` or the upstream release made it",
                )
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SiteboxError(
            f"{package} is not a readable chart package: {exc}",
            hint="the file is damaged or not a .tgz; copy it again from the mirror or the release",
        ) from None
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise SiteboxError(
            f"{package} is not a chart package: it holds {len(tops)} top folders, not one",
            hint="give the chart package as `helm package` or the upstream release made it",
        )
    return tops[0]


def pin_for(name: str, version: str, pins: Iterable[ChartRef], origin: str) -> ChartRef:
    """The pin of ``name`` at ``version``; a clear error naming the pinned version when
    the distribution pins another one, or not this chart at all."""
    same_name = [p for p in pins if p.name == name]
    for pin in same_name:
        if pin.version == version:
            return pin
    if same_name:
        wanted = ", ".join(sorted({p.version for p in same_name}))
        raise SiteboxError(
            f"{origin} is {name} {version}, but the distribution pins {name} {wanted}; "
            "nothing was replaced",
            hint=f"get {name} {wanted} (the version the distribution was tested with)",
        )
    known = ", ".join(sorted({p.name for p in pins}))
    raise SiteboxError(
        f"{origin} is chart {name!r}, which the distribution does not use; nothing was replaced",
        hint=f"its upstream charts are: {known}",
    )


def verify(folder: Path, pins: Iterable[ChartRef], origin: str) -> Checked:
    """Check an unpacked chart against its pin: name, version and digest."""
    name, version = _meta(folder, origin)
    pin = pin_for(name, version, list(pins), origin)
    found = digest(folder)
    if pin.digest and found != pin.digest:
        raise SiteboxError(
            f"{origin} is {name} {version} but its files differ from the pinned release "
            f"(digest {found}, pinned {pin.digest}); nothing was replaced",
            hint="the chart was modified or is another build of that version: take the "
            "upstream release's package unchanged",
        )
    return Checked(pin, folder)


def store(checked: Checked, cache: Path) -> Path:
    """Put a verified chart into the cache as ``<name>-<version>/``, replacing an earlier
    copy in one rename (a reader sees the old chart or the new one, never half)."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{checked.chart.name}-{checked.chart.version}"
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=cache))
    shutil.copytree(checked.path, staging / "chart")
    old = None
    if target.exists():
        old = cache / f".old-{target.name}-{os.getpid()}"
        target.rename(old)
    (staging / "chart").rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def import_chart(
    path: Path, pins: Iterable[ChartRef], cache: Path, package: Callable[[Path, Path], Path]
) -> Checked:
    """A chart package or folder into the cache, if it is a pinned chart with the pinned
    files. A folder is packaged first (``package``: Helm's own), so what is checked and
    stored is what a package of it would hold."""
    origin = str(path)
    with tempfile.TemporaryDirectory(prefix="sitebox-chart-") as tmp:
        scratch = Path(tmp)
        if path.is_dir():
            path = package(path, scratch / "package")
        elif not path.is_file():
            raise SiteboxError(
                f"{origin} not found", hint="give the path of a chart package (.tgz) or folder"
            )
        return check_and_store(unpack(path, scratch / "unpacked"), pins, cache, origin)


def check_and_store(folder: Path, pins: Iterable[ChartRef], cache: Path, origin: str) -> Checked:
    """An unpacked chart in a scratch folder (imported, or pulled by Helm), checked, then
    into the cache."""
    checked = verify(folder, pins, origin)
    return Checked(checked.chart, store(checked, cache))
