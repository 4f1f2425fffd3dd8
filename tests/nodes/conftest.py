"""Fixtures for the node playbook tests: a Debian root filesystem reached through chroot.

The tests need root (chroot) and debootstrap. Outside CI a missing prerequisite
skips them with the reason; under CI (``CI`` set) it fails them, so a green CI run
means the playbooks really ran.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import Run, run_sitebox
from tests.nodes import testbed

# Offline, and no "apply now" steps: nothing reaches the kernel or services of the
# machine running the tests. The package lists in the image are as old as the
# image, and must be accepted as they are so apt needs no network.
TEST_VARS = {
    "sitebox_apply_runtime": False,
    "sitebox_firewall": "ufw",
    "sitebox_ntp_servers": ["ntp.example.org"],
    "sitebox_cvmfs_host_mount": True,
    "sitebox_cvmfs_proxy": "http://squid.example.org:3128",
    "sitebox_apt_cache_valid_time": 10 * 365 * 24 * 3600,
    # A version sitebox pins no sha256 for: the fake release's checksum file is trusted.
    "sitebox_k3s_version": "v0.0.0+sitebox1",
}
SITE = """\
apiVersion: sitebox.io/v1
kind: Site
name: uni
profile: demo
distribution: "2026.12"
domain: example.org
cvmfs:
  repositories: [atlas.cern.ch, sft.cern.ch]
"""


def _missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "the node tests need root (they chroot into a debootstrapped root filesystem)"
    for tool in ("debootstrap", "chroot", "tar"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install debootstrap; `make test` does it)"
    return None


@pytest.fixture(scope="session")
def testbed_image() -> Path:
    missing = _missing_prerequisite()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return testbed.build()


def fresh_root(image: Path, folder: Path) -> Path:
    return testbed.extract(image, folder / "root")


def fake_k3s(version: str) -> bytes:
    """A stand-in for the k3s binary: a script that answers --version as k3s does."""
    return f'#!/bin/sh\necho "k3s version {version} (fake)"\necho "go version go1"\n'.encode()


def fake_release(folder: Path, version: str = "v0.0.0+sitebox1") -> Path:
    """A folder laid out as a k3s release: the binaries and their checksum files, the
    checksum files listing other assets too, as the real ones do."""
    folder.mkdir(parents=True, exist_ok=True)
    binary = fake_k3s(version)
    for arch, name in (("amd64", "k3s"), ("arm64", "k3s-arm64")):
        (folder / name).write_bytes(binary)
        (folder / name).chmod(0o755)
        digest = hashlib.sha256(binary).hexdigest()
        other = hashlib.sha256(name.encode()).hexdigest()
        sums = f"{other}  k3s-airgap-images-{arch}.tar.zst\n{digest}  {name}\n"
        (folder / f"sha256sum-{arch}.txt").write_text(sums)
    return folder


def write_inventory(folder: Path, root: Path, **extra: object) -> Path:
    """One chroot server; k3s from a fake release in ``folder`` unless ``extra`` says."""
    path = folder / "nodes.yaml"
    host = {"address": str(root), "role": "server", "connection": "chroot"}
    k3s = {"sitebox_k3s_from": str(fake_release(folder / "k3s-release"))}
    data = {"vars": {**TEST_VARS, **k3s, **extra}, "hosts": {"node1": host}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_site(folder: Path) -> Path:
    path = folder / "site.yaml"
    path.write_text(SITE)
    return path


def prepare(inventory: Path, site: Path, *flags: str) -> Run:
    return run_sitebox(
        "nodes", "prepare", "-i", str(inventory), "-f", str(site), "--offline", *flags,
        timeout=900,
    )  # fmt: skip


def verify(inventory: Path, site: Path, *flags: str) -> Run:
    return run_sitebox(
        "nodes", "verify", "-i", str(inventory), "-f", str(site), "--offline", *flags
    )


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder for one root filesystem (~700 MB), removed afterwards. Not under pytest's
    basetemp, which a concurrent pytest session may prune while this one uses it."""
    folder = Path(tempfile.mkdtemp(prefix="sitebox-testbed-", dir="/var/tmp"))
    try:
        yield folder
    finally:
        testbed.remove(folder)


@pytest.fixture
def scratch() -> Iterator[Path]:
    with scratch_folder() as folder:
        yield folder


@dataclass(frozen=True)
class Prepared:
    root: Path
    inventory: Path
    site: Path
    first: Run


@pytest.fixture(scope="package")
def prepared(testbed_image: Path) -> Iterator[Prepared]:
    """One root prepared once for the folder's tests; they change nothing in it, or put
    back what they changed."""
    with scratch_folder() as folder:
        root = fresh_root(testbed_image, folder)
        inventory, site = write_inventory(folder, root), write_site(folder)
        yield Prepared(root, inventory, site, prepare(inventory, site))
