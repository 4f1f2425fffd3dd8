from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import UPSTREAM


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, str]:
    """A private state folder (secrets), and upstream schema copies when present: a clone
    of the project alone has none, and the tests that need them skip."""
    env = {"SITEBOX_STATE": str(tmp_path / "state")}
    if (UPSTREAM / "jupyterhub").is_dir():
        env["SITEBOX_UPSTREAM_SCHEMAS"] = str(UPSTREAM)
    return env


def write_site(folder: Path, body: str, name: str = "site.yaml") -> Path:
    path = folder / name
    path.write_text("apiVersion: sitebox.io/v1\nkind: Site\n" + body)
    return path
