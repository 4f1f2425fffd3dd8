"""Shared fixtures: the sitebox command as a real process, and one sim cluster per session.

Live tests need the pinned tools. Outside CI a missing tool skips them with
the reason; under CI (``CI`` set) it fails the run, so a green CI always means
the live tests ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from sitebox.compose.charts import chart_cache
from sitebox.kube import Kube, wait_for
from sitebox.tools import install, pins

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# Copies of the upstream charts' values schemas, beside the checkout (see shared/upstream/INDEX.md).
UPSTREAM = ROOT.parent / "shared" / "upstream"
# The machine's chart cache, where `sitebox charts import|pull` put the real upstream charts:
# the tests of the real site (tests/site) and of the demo use it. Every other test sees an
# empty cache, so it tests the plumbing on our own charts alone, the same on any machine.
# Both are set once, by the first process to import this (pytest-xdist's workers inherit them).
UPSTREAM_CHARTS = Path(os.environ.setdefault("SITEBOX_TEST_UPSTREAM_CHARTS", str(chart_cache())))
os.environ["SITEBOX_CHART_CACHE"] = os.environ.get(
    "SITEBOX_TEST_NO_CHARTS"
) or os.environ.setdefault("SITEBOX_TEST_NO_CHARTS", tempfile.mkdtemp(prefix="sitebox-no-charts-"))


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_sitebox(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
) -> Run:
    result = subprocess.run(
        [sys.executable, "-m", "sitebox", *args],
        stdin=subprocess.DEVNULL,  # as from a script: no terminal to answer a question
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
        cwd=cwd,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def _missing_tools() -> list[str]:
    return [
        f"{s.name} ({s.state})"
        for s in (install.status(p) for p in pins.load().tools.values())
        if s.state != "cached"
    ]


@pytest.fixture(scope="session")
def tools_ready() -> None:
    missing = _missing_tools()
    if missing:
        message = f"pinned tools not installed: {', '.join(missing)}; run `sitebox tools install`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def state_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Clusters made by tests live in a folder of their own, apart from the user's."""
    folder = tmp_path_factory.mktemp("state")
    os.environ["SITEBOX_STATE"] = str(folder)  # for in-process calls (ClusterState.load)
    return {"SITEBOX_STATE": str(folder)}


@dataclass(frozen=True)
class SimCluster:
    name: str
    kubeconfig: Path
    env: dict[str, str]


@pytest.fixture(scope="session")
def sim_cluster(tools_ready: None, state_env: dict[str, str]) -> Iterator[SimCluster]:
    name = "test"
    pools = FIXTURES / "pools.yaml"
    started = run_sitebox(
        "cluster", "up", "--name", name, "--node-pools", str(pools), env=state_env
    )
    assert started.code == 0, started.err
    path = run_sitebox("cluster", "kubeconfig", "--name", name, env=state_env).out.strip()
    yield SimCluster(name, Path(path), state_env)
    stopped = run_sitebox("cluster", "down", "--name", name, env=state_env)
    assert stopped.code == 0, stopped.err


Cluster = tuple[Path, dict[str, str]]  # a module's own cluster: kubeconfig, environment


@contextmanager
def own_cluster(name: str, env: dict[str, str], nodes: str = "3x8cpu-32Gi") -> Iterator[Cluster]:
    """A sim cluster for one test module, torn down when it is done."""
    started = run_sitebox("cluster", "up", "--name", name, "--nodes", nodes, env=env)
    assert started.code == 0, started.err
    kubeconfig = Path(run_sitebox("cluster", "kubeconfig", "--name", name, env=env).out.strip())
    try:
        yield kubeconfig, env
    finally:
        run_sitebox("cluster", "down", "--name", name, env=env)


def cluster_info(name: str, env: dict[str, str]) -> dict[str, object]:
    result = run_sitebox("cluster", "status", "--name", name, "-o", "json", env=env)
    info: dict[str, object] = json.loads(result.out)
    return info


def fresh_namespace(kube: Kube, prefix: str) -> str:
    """A new namespace, returned once pods can be admitted to it (its default
    ServiceAccount exists)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_for(
        "default ServiceAccount",
        lambda: kube.get("v1", "ServiceAccount", "default", name) is not None,
        30,
    )
    return name
