"""The hosted CI workflow (ci/workflows/) is linted with the pinned actionlint.

It cannot run on our machines (no Docker, no chart repositories), so what we can
check here is that GitHub would accept it and that it runs what it says it runs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from sitebox.tools.store import binary
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / "ci" / "workflows").glob("*.yml"))


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary("actionlint")), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_workflows_pass_actionlint(tools_ready: None) -> None:
    assert WORKFLOWS, "no hosted workflow under ci/workflows"
    linted = actionlint(*WORKFLOWS)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_actionlint_rejects_a_broken_workflow(tools_ready: None, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOWS[0].read_text().replace("needs: suite", "needs: tests"))
    linted = actionlint(broken)
    assert linted.returncode == 1
    assert 'needs job "tests" which does not exist' in linted.stdout


def test_the_workflow_runs_the_readme_suite_then_validates_a_full_install() -> None:
    doc = yaml.safe_load((ROOT / "ci" / "workflows" / "kind.yml").read_text())
    runs = {
        job: "\n".join(step.get("run", "") for step in spec["steps"])
        for job, spec in doc["jobs"].items()
    }
    assert "make test" in runs["suite"]
    (test_step,) = [s for s in doc["jobs"]["suite"]["steps"] if s.get("run") == "make test"]
    assert test_step["env"]["SITEBOX_REQUIRE_UPSTREAM"] == "1", "after charts pull, no skip"
    assert "sitebox install --profile demo" in runs["site"]
    assert "--skip-unavailable" not in runs["site"], "the hosted run installs every component"
    assert "sitebox validate" in runs["site"]
    assert any("kind-action" in s.get("uses", "") for s in doc["jobs"]["site"]["steps"])
