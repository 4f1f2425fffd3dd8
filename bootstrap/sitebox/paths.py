"""Where sitebox finds its data and keeps its caches and state."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_root() -> Path:
    """The folder holding ``distro/`` (and later ``profiles/``, ``charts/``).

    An installed wheel carries them under ``_data``; an editable install reads
    them from the checkout, two levels above the package.
    """
    bundled = _PACKAGE / "_data"
    return bundled if bundled.is_dir() else _PACKAGE.parent.parent


def distro_dir() -> Path:
    return data_root() / "distro"


def _xdg(env: str, fallback: str) -> Path:
    base = os.environ.get(env)
    return Path(base) if base else Path.home() / fallback


def cache_dir() -> Path:
    """Built tools live here: outside git, reused across clones and CI runs."""
    override = os.environ.get("SITEBOX_CACHE")
    return Path(override) if override else _xdg("XDG_CACHE_HOME", ".cache") / "sitebox"


def state_dir() -> Path:
    """Local clusters keep their processes' pids, logs, PKI and data here."""
    override = os.environ.get("SITEBOX_STATE")
    return Path(override) if override else _xdg("XDG_STATE_HOME", ".local/state") / "sitebox"
