"""The k3s release files sitebox installs on nodes, and the sha256 it trusts for them.

A release folder holds what k3s publishes per release: the binary (``k3s`` for
amd64, ``k3s-arm64``) and its checksum file (``sha256sum-amd64.txt``,
``sha256sum-arm64.txt``). The playbook checks a binary against the sha256 the k3s
role pins for its version, else against the checksum file; this module reads the
same pins, so a bundle is checked when it is made by the rules the nodes apply
when it is used.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from sitebox.errors import SiteboxError
from sitebox.nodes import ANSIBLE_DIR

# The release's name of the binary for each architecture k3s publishes for nodes.
BINARIES = {"amd64": "k3s", "arm64": "k3s-arm64"}
_ROLE_VARS = ANSIBLE_DIR / "roles" / "k3s" / "vars" / "main.yml"
_DEFAULTS = ANSIBLE_DIR / "group_vars" / "all.yml"
_FIX_FOLDER = (
    "put the release's files there as published: k3s and sha256sum-amd64.txt "
    "(k3s-arm64 and sha256sum-arm64.txt for arm64 nodes)"
)


def sums_name(arch: str) -> str:
    return f"sha256sum-{arch}.txt"


def pins() -> dict[str, dict[str, str]]:
    """Version -> architecture -> sha256, as the k3s role pins them."""
    data = yaml.safe_load(_ROLE_VARS.read_text())
    pinned: dict[str, dict[str, str]] = data["k3s_release_sha256"]
    return pinned


def default_version() -> str:
    """The version the playbook installs unless the inventory says otherwise."""
    return str(yaml.safe_load(_DEFAULTS.read_text())["sitebox_k3s_version"])


@dataclass(frozen=True)
class ReleaseFile:
    arch: str
    binary: Path
    sums: Path
    sha256: str
    version: str | None  # the version sitebox pins this sha256 for, if any


def listed(sums: Path, name: str) -> str | None:
    """The sha256 a checksum file lists for ``name`` (sha256sum's text or binary form)."""
    pattern = re.compile(r"([0-9a-fA-F]{64}) [ *]?(.+)")
    for line in sums.read_text(errors="replace").splitlines():
        found = pattern.fullmatch(line.strip())
        if found and found.group(2) == name:
            return found.group(1).lower()
    return None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_folder(folder: Path) -> list[ReleaseFile]:
    """Every k3s binary in ``folder``, each matching the sha256 its checksum file lists;
    a binary without its checksum file, or not matching it, is refused."""
    if not folder.is_dir():
        raise SiteboxError(f"{folder} is not a folder", hint=_FIX_FOLDER)
    pinned = {(arch, sha): v for v, found in pins().items() for arch, sha in found.items()}
    files = []
    for arch, name in BINARIES.items():
        binary = folder / name
        if not binary.is_file():
            continue
        sums = folder / sums_name(arch)
        if not sums.is_file():
            raise SiteboxError(
                f"{sums} is missing: {binary} cannot be checked without it",
                hint=f"put the release's {sums.name} beside {name}, as published with it",
            )
        want = listed(sums, name)
        if want is None:
            raise SiteboxError(
                f"{sums} lists no sha256 for {name}",
                hint=f"use the {sums.name} published with the same release as {name}",
            )
        got = sha256(binary)
        if got != want:
            raise SiteboxError(
                f"{binary} does not match its checksum: its sha256 is {got}, "
                f"{sums.name} says {want}",
                hint="the file was changed or damaged: download it again from the release",
            )
        files.append(ReleaseFile(arch, binary, sums, got, pinned.get((arch, got))))
    if not files:
        raise SiteboxError(f"{folder} holds no k3s binary (k3s or k3s-arm64)", hint=_FIX_FOLDER)
    return files
