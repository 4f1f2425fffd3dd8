"""Every command of the quick start runs, as written, in order, on a throwaway sim
cluster; and the quick start shows the README's two commands."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import UPSTREAM_CHARTS
from tests.docs.conftest import DOCS, ROOT
from tests.site.conftest import missing_charts

# A fenced `sh` block is run when a `<!-- quickstart -->` comment precedes it, and
# shown only when the comment says why: `<!-- quickstart: skip REASON -->`.
BLOCK = re.compile(
    r"(?:<!-- quickstart(?P<skip>: skip [^>]+)? -->\n)?```sh\n(?P<body>.*?)```", re.S
)


def blocks(text: str) -> list[tuple[bool, str]]:
    """(runs, body) of each `sh` block; a block with no marker at all is an error."""
    found = []
    for match in BLOCK.finditer(text):
        assert match.group(0).startswith("<!--"), f"unmarked sh block:\n{match.group('body')}"
        found.append((match.group("skip") is None, match.group("body")))
    return found


def readme_two_commands() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.docs
def test_the_quick_start_shows_the_readmes_two_commands() -> None:
    runs = [body for run, body in blocks((DOCS / "quickstart.md").read_text()) if run]
    assert runs[0] == readme_two_commands()


def script(text: str) -> str:
    """The quick start's commands as one script: `demo` becomes the test's own cluster,
    and `make test` is checked with `make -n`, since running it would run this test."""
    body = "\n".join(b for run, b in blocks(text) if run)
    body = body.replace("--name demo", '--name "$DEMO"')
    body = re.sub(r"^make test\b.*$", "make -n test >/dev/null", body, flags=re.M)
    return "set -euo pipefail\n" + body


@pytest.mark.docs
def test_the_script_keeps_every_command() -> None:
    text = (DOCS / "quickstart.md").read_text()
    lines = [ln for ln in script(text).splitlines() if ln and not ln.startswith("#")]
    assert lines[:3] == ["set -euo pipefail", "make demo    # set up everything, start a local "
                         'cluster named "demo", `sitebox install --profile demo`',
                         "make -n test >/dev/null"]  # fmt: skip
    assert "make clean-demo" in lines[-1]


@pytest.mark.docs
@pytest.mark.live
def test_every_quick_start_command_runs(tools_ready: None, tmp_path: Path) -> None:
    name = f"docs-{uuid.uuid4().hex[:6]}"
    # The user's chart cache: with the upstream charts there, the demo is the whole site.
    env = {
        **os.environ, "SITEBOX_STATE": str(tmp_path / "state"), "DEMO": name,
        "SITEBOX_CHART_CACHE": str(UPSTREAM_CHARTS),
    }  # fmt: skip
    env.pop("KUBECONFIG", None)
    started = time.monotonic()
    try:
        ran = subprocess.run(
            ["bash", "-c", script((DOCS / "quickstart.md").read_text())],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(["make", "clean-demo"], cwd=ROOT, env=env, capture_output=True, check=False)
    print(f"quick start: {time.monotonic() - started:.0f}s")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert len(re.findall(r"^node-\d+\s+Ready\b", ran.stdout, re.M)) == 3
    assert "sitebox-system: revision 1 deployed" in ran.stdout
    assert "yes" in ran.stdout.splitlines(), "the grid kubeconfig may create Jobs"
    if not missing_charts():
        for component in ("hub", "dask", "storage"):
            row = re.search(rf"^│ {component}\s+│ (\d+)/(\d+) ", ran.stdout, re.M)
            assert row and row[1] == row[2] != "0", f"{component} pods ready: {ran.stdout}"
    assert f"cluster '{name}' stopped" in ran.stderr
    listed = subprocess.run(
        [str(ROOT / ".venv/bin/sitebox"), "cluster", "list", "-o", "json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert listed.stdout.strip() == "[]"
