"""`sitebox bundle create --k3s-from`: a k3s release folder carried in the bundle for
`sitebox nodes prepare --bundle`, checked against its checksum files on the way in."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from tests.compose.conftest import write_site
from tests.conftest import run_sitebox
from tests.nodes.conftest import fake_k3s, fake_release

pytestmark = pytest.mark.chart

# Our own two charts only: a bundle that any clone can make.
OWN_CHARTS_ONLY = (
    "name: own\nprofile: tier3\ncomponents:\n  hub: {enabled: false}\n  dask: {enabled: false}\n"
    "  storage: {enabled: false}\n  cvmfs: {enabled: false}\n"
)


def test_a_bundle_carries_the_k3s_release_files(tmp_path: Path, workspace: dict[str, str]) -> None:
    site = write_site(tmp_path, OWN_CHARTS_ONLY)
    release = fake_release(tmp_path / "release", "v0.0.0+sitebox1")
    made = run_sitebox(
        "bundle", "create", "-f", str(site), "--k3s-from", str(release), "-o", "b.tgz",
        env=workspace, cwd=tmp_path,
    )  # fmt: skip
    assert made.code == 0, made.err
    said = " ".join(made.err.split())
    assert "k3s for amd64 nodes: k3s, sha256" in said
    assert "checked against its checksum file only: not a release sitebox pins" in said
    with tarfile.open(tmp_path / "b.tgz") as tar:
        binary = tar.getmember("k3s/k3s")
        assert tar.extractfile(binary).read() == fake_k3s("v0.0.0+sitebox1")  # type: ignore[union-attr]
        sums = tar.extractfile("k3s/sha256sum-amd64.txt").read()  # type: ignore[union-attr]
        info = json.loads(tar.extractfile("bundle.json").read())  # type: ignore[union-attr]
        names = tar.getnames()
    assert binary.mode & 0o111  # still executable
    assert sums == (release / "sha256sum-amd64.txt").read_bytes()
    assert {"k3s/k3s-arm64", "k3s/sha256sum-arm64.txt"} <= set(names)
    assert [(k["arch"], k["file"], k["version"]) for k in info["k3s"]] == [
        ("amd64", "k3s", None),
        ("arm64", "k3s-arm64", None),
    ]


def test_a_changed_k3s_binary_is_refused_and_nothing_written(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    site = write_site(tmp_path, OWN_CHARTS_ONLY)
    release = fake_release(tmp_path / "release")
    (release / "k3s").write_bytes(b"#!/bin/sh\necho changed on the way\n")
    made = run_sitebox(
        "bundle", "create", "-f", str(site), "--k3s-from", str(release), "-o", "b.tgz",
        env=workspace, cwd=tmp_path,
    )  # fmt: skip
    assert made.code == 1
    said = " ".join(made.err.split())
    assert f"{release}/k3s does not match its checksum" in said
    assert "download it again from the release" in said
    assert "Traceback" not in made.err
    assert not (tmp_path / "b.tgz").exists()
