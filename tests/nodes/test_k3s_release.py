"""The k3s release files sitebox trusts: the pinned sha256s, and a release folder
checked against its checksum files (what `sitebox bundle create --k3s-from` carries)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitebox.errors import SiteboxError
from sitebox.nodes import k3s
from tests.nodes.conftest import fake_release

pytestmark = pytest.mark.unit


def test_the_default_version_is_pinned_for_both_architectures() -> None:
    pinned = k3s.pins()
    assert set(pinned[k3s.default_version()]) == {"amd64", "arm64"}
    for digests in pinned.values():
        assert all(re.fullmatch(r"[0-9a-f]{64}", sha) for sha in digests.values()), digests


def test_a_release_folder_is_read_with_its_checksums(tmp_path: Path) -> None:
    found = k3s.check_folder(fake_release(tmp_path, "v0.0.0+sitebox1"))
    assert [(f.arch, f.binary.name, f.sums.name) for f in found] == [
        ("amd64", "k3s", "sha256sum-amd64.txt"),
        ("arm64", "k3s-arm64", "sha256sum-arm64.txt"),
    ]
    assert all(f.sha256 == k3s.sha256(f.binary) and f.version is None for f in found)


def test_a_binary_sitebox_pins_is_named_by_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fake_release(tmp_path)
    sha = k3s.sha256(folder / "k3s")
    # A checksum file may list the binary in sha256sum's binary form: '<sha> *<name>'.
    (folder / "sha256sum-amd64.txt").write_text(f"{sha} *k3s\n")
    monkeypatch.setattr(k3s, "pins", lambda: {"v9.9.9+k3s1": {"amd64": sha}})
    amd64, arm64 = k3s.check_folder(folder)
    assert (amd64.arch, amd64.version) == ("amd64", "v9.9.9+k3s1")
    assert (arm64.arch, arm64.version) == ("arm64", None)


def test_a_changed_binary_is_refused_with_both_sha256s(tmp_path: Path) -> None:
    folder = fake_release(tmp_path)
    listed = k3s.listed(folder / "sha256sum-amd64.txt", "k3s")
    (folder / "k3s").write_bytes(b"#!/bin/sh\necho tampered\n")
    with pytest.raises(SiteboxError) as refused:
        k3s.check_folder(folder)
    message = refused.value.message
    assert message.startswith(f"{folder}/k3s does not match its checksum")
    assert k3s.sha256(folder / "k3s") in message and str(listed) in message
    assert refused.value.hint and "download it again" in refused.value.hint


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("no sums", "sha256sum-amd64.txt is missing: "),
        ("other sums", "sha256sum-amd64.txt lists no sha256 for k3s"),
        ("no binaries", "holds no k3s binary (k3s or k3s-arm64)"),
    ],
)
def test_an_incomplete_folder_is_refused(tmp_path: Path, change: str, expected: str) -> None:
    folder = fake_release(tmp_path)
    if change == "no sums":
        (folder / "sha256sum-amd64.txt").unlink()
    elif change == "other sums":
        (folder / "sha256sum-amd64.txt").write_text(f"{'0' * 64}  k3s-airgap-images-amd64.tar\n")
    else:
        (folder / "k3s").unlink()
        (folder / "k3s-arm64").unlink()
    with pytest.raises(SiteboxError, match=re.escape(expected)):
        k3s.check_folder(folder)
