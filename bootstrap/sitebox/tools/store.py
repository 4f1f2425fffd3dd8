"""The tool cache: where each pinned build lives and how to find a binary."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sitebox.errors import ToolMissingError
from sitebox.paths import cache_dir
from sitebox.tools.pins import Pin


def tools_root() -> Path:
    return cache_dir() / "tools"


def bin_dir() -> Path:
    """One folder of links to the pinned binaries; what sitebox puts first on PATH."""
    return tools_root() / "bin"


@dataclass(frozen=True)
class Build:
    """The cache folder of one tool at one version."""

    pin: Pin

    @property
    def root(self) -> Path:
        return tools_root() / self.pin.name / self.pin.version

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def log(self) -> Path:
        return self.root / "build.log"

    @property
    def stamp(self) -> Path:
        return self.root / "stamp.json"

    def read_stamp(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.stamp.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def write_stamp(self, fingerprint: str, reported: dict[str, str]) -> None:
        self.stamp.write_text(json.dumps({"fingerprint": fingerprint, **reported}, indent=2))

    def link(self, binaries: tuple[str, ...]) -> None:
        bin_dir().mkdir(parents=True, exist_ok=True)
        for name in binaries:
            link = bin_dir() / name
            tmp = link.with_name(f".{name}.tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.bin / name)
            # rename over the old link so a concurrent reader never sees it missing
            tmp.replace(link)


def binary(name: str) -> Path:
    """The path of an installed pinned binary, or a clear error saying how to get it."""
    path = bin_dir() / name
    if not os.access(path, os.X_OK):
        raise ToolMissingError(name)
    return path
