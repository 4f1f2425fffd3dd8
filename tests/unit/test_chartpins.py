"""Charts checked against the distribution's pins: name, version, digest of the files;
whatever fails replaces nothing in the cache."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sitebox.compose import chartpins
from sitebox.errors import SiteboxError
from sitebox.model.distro import ChartRef

pytestmark = pytest.mark.unit


def chart(folder: Path, name: str = "hub", version: str = "1.0.0", note: str = "a") -> Path:
    root = folder / name
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (root / "templates" / "notes.txt").write_text(note)
    return root


def package(source: Path, into: Path) -> Path:
    path = into / f"{source.name}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname=source.name)
    return path


def no_packager(folder: Path, destination: Path) -> Path:
    raise AssertionError("packages need no packaging")


@pytest.fixture
def pin(tmp_path: Path) -> ChartRef:
    digest = chartpins.digest(chart(tmp_path / "reference"))
    return ChartRef("hub", "1.0.0", "https://charts.example.org", digest)


def test_the_digest_is_of_the_files_not_of_the_archive(tmp_path: Path) -> None:
    one = chart(tmp_path / "one")
    two = chart(tmp_path / "two")
    (two / "templates" / "notes.txt").touch()  # another mtime, the same bytes
    assert chartpins.digest(one) == chartpins.digest(two)
    (two / "templates" / "notes.txt").write_text("b")
    assert chartpins.digest(one) != chartpins.digest(two)


def test_the_time_stamped_chart_lock_is_left_out_and_nothing_else(tmp_path: Path) -> None:
    """`helm package --dependency-update` stamps Chart.lock with the time it ran."""
    one = chart(tmp_path / "one")
    two = chart(tmp_path / "two")
    for root, when in ((one, "2024-12-16T10:50:14Z"), (two, "2026-12-02T11:00:00Z")):
        (root / "charts" / "sub").mkdir(parents=True)
        (root / "Chart.lock").write_text(f"generated: {when}\n")
        (root / "charts" / "sub" / "Chart.lock").write_text(f"generated: {when}\n")
    assert chartpins.digest(one) == chartpins.digest(two)
    (two / "charts" / "sub" / "values.yaml").write_text("a: 1\n")
    assert chartpins.digest(one) != chartpins.digest(two)


def test_a_pinned_package_is_imported(tmp_path: Path, pin: ChartRef) -> None:
    cache = tmp_path / "cache"
    source = package(chart(tmp_path / "src"), tmp_path)
    checked = chartpins.import_chart(source, [pin], cache, no_packager)
    assert checked.path == cache / "hub-1.0.0"
    assert (cache / "hub-1.0.0" / "templates" / "notes.txt").read_text() == "a"
    assert [p.name for p in cache.iterdir()] == ["hub-1.0.0"], "no scratch left behind"


@pytest.mark.parametrize(
    ("version", "note", "expected"),
    [
        ("2.0.0", "a", "is hub 2.0.0, but the distribution pins hub 1.0.0"),
        ("1.0.0", "changed", "its files differ from the pinned release"),
    ],
)
def test_another_version_or_other_files_replace_nothing(
    tmp_path: Path, pin: ChartRef, version: str, note: str, expected: str
) -> None:
    cache = tmp_path / "cache"
    chartpins.import_chart(package(chart(tmp_path / "good"), tmp_path), [pin], cache, no_packager)
    bad = package(chart(tmp_path / "bad", version=version, note=note), tmp_path / "bad")
    with pytest.raises(SiteboxError) as raised:
        chartpins.import_chart(bad, [pin], cache, no_packager)
    assert expected in raised.value.message and "nothing was replaced" in raised.value.message
    assert raised.value.hint
    assert (cache / "hub-1.0.0" / "templates" / "notes.txt").read_text() == "a", "kept"


def test_a_chart_the_distribution_does_not_use_is_refused(tmp_path: Path, pin: ChartRef) -> None:
    other = package(chart(tmp_path / "src", name="grafana"), tmp_path)
    with pytest.raises(SiteboxError, match="chart 'grafana', which the distribution does not use"):
        chartpins.import_chart(other, [pin], tmp_path / "cache", no_packager)


def test_a_corrupt_package_is_a_clear_error(tmp_path: Path, pin: ChartRef) -> None:
    broken = tmp_path / "hub-1.0.0.tgz"
    data = package(chart(tmp_path / "src"), tmp_path).read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(SiteboxError) as raised:
        chartpins.import_chart(broken, [pin], tmp_path / "cache", no_packager)
    assert "is not a readable chart package" in raised.value.message
    assert not (tmp_path / "cache" / "hub-1.0.0").exists()


def test_an_archive_that_is_no_chart_is_refused(tmp_path: Path, pin: ChartRef) -> None:
    path = tmp_path / "notes.tgz"
    with tarfile.open(path, "w:gz") as tar:
        member = tarfile.TarInfo("notes/readme.txt")
        member.size = 2
        tar.addfile(member, io.BytesIO(b"hi"))
    with pytest.raises(SiteboxError, match="is not a Helm chart"):
        chartpins.import_chart(path, [pin], tmp_path / "cache", no_packager)


def test_a_folder_is_packaged_first(tmp_path: Path, pin: ChartRef) -> None:
    source = chart(tmp_path / "src")
    packaged: list[Path] = []

    def packager(folder: Path, destination: Path) -> Path:
        packaged.append(folder)
        destination.mkdir(parents=True)
        return package(folder, destination)

    chartpins.import_chart(source, [pin], tmp_path / "cache", packager)
    assert packaged == [source]
    with pytest.raises(SiteboxError, match="not found"):
        chartpins.import_chart(tmp_path / "missing", [pin], tmp_path / "cache", packager)
