"""cluster up/down as processes: named clusters side by side, nothing left behind,
a restart after every process was killed, ports already taken."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sitebox import procs
from sitebox.cluster.state import ClusterState
from sitebox.kube import Kube, wait_for
from tests.conftest import cluster_info, run_sitebox

pytestmark = pytest.mark.live


def _up(name: str, env: dict[str, str], *extra: str) -> None:
    result = run_sitebox("cluster", "up", "--name", name, "--nodes", "2x4cpu-8Gi", *extra, env=env)
    assert result.code == 0, result.err


@pytest.fixture
def cleanup(state_env: dict[str, str]) -> Iterator[list[str]]:
    """Clusters a test starts are stopped even when an assertion fails midway."""
    names: list[str] = []
    yield names
    for name in names:
        if ClusterState.load(name) is not None:
            run_sitebox("cluster", "down", "--name", name, env=state_env)


def test_two_clusters_side_by_side_and_down_leaves_nothing(
    tools_ready: None, state_env: dict[str, str], cleanup: list[str]
) -> None:
    cleanup += ["site-a", "site-b"]
    _up("site-a", state_env)
    _up("site-b", state_env)
    a, b = ClusterState.load("site-a"), ClusterState.load("site-b")
    assert a is not None and b is not None
    assert set(a.ports.values()).isdisjoint(b.ports.values())
    assert cluster_info("site-a", state_env)["health"] == "healthy"
    assert cluster_info("site-b", state_env)["health"] == "healthy"

    listed = run_sitebox("cluster", "list", "-o", "json", env=state_env)
    assert {"site-a", "site-b"} <= {row["name"] for row in json.loads(listed.out)}

    result = run_sitebox("cluster", "down", "--name", "site-a", env=state_env)
    assert result.code == 0, result.err
    assert not any(procs.alive(p) for p in a.processes)
    assert not any(procs.port_in_use(port) for port in a.ports.values())
    assert not a.root.exists()
    assert cluster_info("site-b", state_env)["health"] == "healthy", (
        "the other cluster is untouched"
    )

    # Every process of site-b dies at once (a crash, a reboot): `up` starts them again
    # from their records, and etcd still holds what was there.
    marker = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kept", "namespace": "default"},
    }
    Kube(b.kubeconfig).create(marker)
    for record in b.processes:
        os.kill(record.pid, signal.SIGKILL)
    assert cluster_info("site-b", state_env)["health"] == "stopped"
    result = run_sitebox("cluster", "up", "--name", "site-b", env=state_env)
    assert result.code == 0, result.err
    assert cluster_info("site-b", state_env)["health"] == "healthy"
    assert Kube(b.kubeconfig).get("v1", "ConfigMap", "kept", "default") is not None
    result = run_sitebox("cluster", "down", "--name", "site-b", env=state_env)
    assert result.code == 0, result.err
    assert not b.root.exists()


def test_port_in_use_is_refused_before_anything_starts(
    tools_ready: None, state_env: dict[str, str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_sitebox(
            "cluster", "up", "--name", "busy", "--api-port", str(port), env=state_env
        )
    assert result.code == 1
    assert f"port {port} on 127.0.0.1 (wanted for apiserver) is already in use" in result.err
    assert ClusterState.load("busy") is None


def test_pod_startup_delays_readiness_like_an_image_pull(
    tools_ready: None, state_env: dict[str, str]
) -> None:
    started = run_sitebox(
        "cluster", "up", "--name", "slow", "--nodes", "1x4cpu-8Gi", "--pod-startup", "20",
        env=state_env,
    )  # fmt: skip
    assert started.code == 0, started.err
    try:
        state = ClusterState.load("slow")
        assert state is not None
        kube = Kube(state.kubeconfig)
        kube.create(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
             "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        )  # fmt: skip

        def pod() -> dict[str, Any]:
            return kube.get("v1", "Pod", "p", "default") or {}

        wait_for("the pod to be scheduled", lambda: bool(pod().get("spec", {}).get("nodeName")), 60)
        scheduled = time.monotonic()
        # kwok cannot make it Ready before the delay, however fast or slow the machine is.
        while time.monotonic() - scheduled < 5:
            assert pod()["status"].get("phase") == "Pending"
            time.sleep(0.5)
        wait_for("the pod to be Running", lambda: pod()["status"].get("phase") == "Running", 120)
    finally:
        run_sitebox("cluster", "down", "--name", "slow", env=state_env)
