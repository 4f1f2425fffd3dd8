"""The shipped playbooks: ansible-lint clean, and secrets kept out of every output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sitebox.nodes import ANSIBLE_DIR

pytestmark = pytest.mark.nodes


def test_ansible_lint_is_clean() -> None:
    lint = Path(sys.executable).parent / "ansible-lint"
    result = subprocess.run(
        [str(lint), "-c", ".ansible-lint", "--nocolor", "site.yml"],
        cwd=ANSIBLE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _tasks(path: Path) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for task in yaml.safe_load(path.read_text()) or []:
        found.append(task)
        found += task.get("block", [])
    return found


def test_every_task_that_touches_the_token_or_kubeconfig_is_no_log() -> None:
    """The join token and the admin kubeconfig must never reach a log or the terminal."""
    touching = [
        (path.name, task["name"])
        for path in (ANSIBLE_DIR / "roles" / "k3s" / "tasks").glob("*.yml")
        for task in _tasks(path)
        if any(word in yaml.safe_dump(task) for word in ("token", "k3s.yaml", "k3s_kubeconfig"))
    ]
    assert len(touching) >= 5
    unlogged = [
        (path.name, task["name"])
        for path in (ANSIBLE_DIR / "roles" / "k3s" / "tasks").glob("*.yml")
        for task in _tasks(path)
        if task.get("no_log") is True
    ]
    assert set(touching) <= set(unlogged)
