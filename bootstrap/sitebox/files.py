"""Files that hold secrets (keys, kubeconfigs, rendered values, backups): private from
their first byte, and never half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def private_dir(path: Path) -> Path:
    """A folder for secrets, made 0700 if it does not exist. One that exists is left as
    it is: its owner chose its mode (``-o .`` must not close the admin's own folder)."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``path`` 0600: created so beside it, then renamed into place, so it is never
    readable by others, even briefly, nor seen half-written."""
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
