"""Files that hold secrets: 0600 from the first byte, folders 0700 when sitebox makes
them and left as they are when it does not, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitebox.files import private_dir, private_file, write_private
from tests.conftest import run_sitebox

pytestmark = pytest.mark.unit


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: nothing may rely on it to keep a file private."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_private_file_is_0600_and_replaces_the_old_one_whole(
    tmp_path: Path, open_umask: None
) -> None:
    target = tmp_path / "admin.kubeconfig"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["admin.kubeconfig"], "no scratch file left"


def test_a_file_written_by_parts_is_whole_or_absent(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "site.bundle"
    with private_file(target) as handle:
        handle.write(b"part one, ")
        assert not target.exists(), "seen before it was whole"
        handle.write(b"part two")
    assert target.read_bytes() == b"part one, part two" and mode(target) == 0o600
    with pytest.raises(RuntimeError), private_file(tmp_path / "broken.bundle") as handle:
        handle.write(b"half")
        raise RuntimeError("the writer failed")
    assert [p.name for p in tmp_path.iterdir()] == ["site.bundle"], "a failed write left a file"


def test_a_folder_sitebox_makes_is_0700_one_it_finds_keeps_its_mode(
    tmp_path: Path, open_umask: None
) -> None:
    made = private_dir(tmp_path / "a" / "pki")
    assert mode(made) == 0o700
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    private_dir(mine)
    assert mode(mine) == 0o755, "the admin's own folder is not sitebox's to close"


def test_render_into_an_existing_folder_writes_0600_files_and_leaves_the_folder(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    out.chmod(0o755)
    env = {"SITEBOX_STATE": str(tmp_path / "state"), "SITEBOX_CHART_CACHE": str(tmp_path / "c")}
    result = run_sitebox("render", "--profile", "demo", "-o", str(out), env=env)
    assert result.code == 0, result.err
    files = sorted(out.iterdir())
    assert [p.name for p in files] == ["sitebox-system.yaml", "sitebox.yaml"]
    assert {mode(p) for p in files} == {0o600} and mode(out) == 0o755
    store = tmp_path / "state" / "sites" / "demo"
    assert mode(store) == 0o700 and mode(store / "secrets.json") == 0o600
