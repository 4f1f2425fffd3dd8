"""Files that hold secrets (keys, kubeconfigs, rendered values, backups): private from
their first byte, and never half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def private_dir(path: Path) -> Path:
    """A folder for secrets, made 0700 if it does not exist. One that exists is left as
    it is: its owner chose its mode (``-o .`` must not close the admin's own folder)."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextmanager
def private_file(path: Path) -> Iterator[BinaryIO]:
    """A handle to write ``path`` through, 0600: the file is made beside it and renamed
    into place when the block ends, so it is never readable by others, even briefly,
    nor seen half-written; if the block fails, nothing is left."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.absolute().parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``path`` 0600, whole or not at all (see ``private_file``)."""
    with private_file(path) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
