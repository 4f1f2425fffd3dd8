"""Interrupted runs converge: a killed install, an API server that stops mid-upgrade.

Both leave Helm releases in a pending state and the operation lease of a process
that no longer exists; the next run must take the lease over, recover the
release, finish the work, and keep every secret and volume.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitebox import procs
from sitebox.cluster.state import ClusterState
from sitebox.components.names import BATCH_NAMESPACE, SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose.secrets import ClusterStore
from sitebox.kube import Kube, wait_for
from sitebox.lifecycle import lock
from tests.compose.conftest import write_site
from tests.conftest import Cluster, own_cluster, run_sitebox

pytestmark = pytest.mark.live

NAME = "intr"
SITE = (
    "name: intr\nprofile: demo\ncomponents:\n  batch:\n    mode: htcondor\n    workers: 1\n"
    "    quota: {cpu: '6', memory: 12Gi}\n    job: {cpu: 500m, memory: 1Gi}\n"
)


@pytest.fixture(scope="module")
def cluster(tools_ready: None, state_env: dict[str, str]) -> Iterator[Cluster]:
    with own_cluster(NAME, state_env) as found:
        yield found


def start(cluster: tuple[Path, dict[str, str]], *args: str) -> subprocess.Popen[str]:
    """sitebox in a process group of its own, so that its helm child can be killed with it."""
    kubeconfig, env = cluster
    return subprocess.Popen(
        [sys.executable, "-m", "sitebox", *args, "--kubeconfig", str(kubeconfig)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def release_status(kube: Kube, release: str, namespace: str) -> str | None:
    """The status Helm recorded for the release's newest revision."""
    records = kube.list_objects("v1", "Secret", namespace, f"owner=helm,name={release}")
    if not records:
        return None
    newest = max(records, key=lambda s: int(s["metadata"]["labels"]["version"]))
    return str(newest["metadata"]["labels"]["status"])


def wait_for_status(kube: Kube, running: subprocess.Popen[str], wanted: str) -> None:
    def seen() -> bool:
        assert running.poll() is None, f"sitebox ended before {wanted}: {running.communicate()}"
        return release_status(kube, "sitebox", SITE_NAMESPACE) == wanted

    wait_for(f"release sitebox {wanted}", seen, timeout=300, interval=0.05)


def test_a_killed_install_then_a_stopped_api_server_both_converge(
    cluster: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    kubeconfig, env = cluster
    kube = Kube(kubeconfig)
    site = write_site(tmp_path, SITE)

    # 1. kill -9 the install (and its helm) while Helm installs the site release.
    running = start(cluster, "install", "-f", str(site), "--skip-unavailable")
    wait_for_status(kube, running, "pending-install")
    os.killpg(running.pid, signal.SIGKILL)
    running.wait()
    stored = kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME)
    assert stored and "batch.poolPassword" in stored, "secrets are stored before any release"
    claim = kube.get("coordination.k8s.io/v1", "Lease", lock.NAME, SYSTEM_NAMESPACE)
    assert claim, "the killed run could not release its claim"

    again = run_sitebox(
        "install", "-f", str(site), "--skip-unavailable", "--kubeconfig", str(kubeconfig),
        env=env, timeout=600,
    )  # fmt: skip
    assert again.code == 0, again.err
    assert "sitebox: revision 1 was left pending-install: uninstalled" in again.err
    assert "sitebox: installed/upgraded to revision" in again.err
    assert release_status(kube, "sitebox", SITE_NAMESPACE) == "deployed"
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == stored
    assert kube.get("coordination.k8s.io/v1", "Lease", lock.NAME, SYSTEM_NAMESPACE) is None
    claims = kube.list_objects("v1", "PersistentVolumeClaim", BATCH_NAMESPACE)
    assert claims and all(c["status"]["phase"] == "Bound" for c in claims)
    volumes = {c["metadata"]["uid"]: c["spec"]["volumeName"] for c in claims}

    # 2. stop the API server while Helm upgrades the site release, start it again, rerun.
    site = write_site(tmp_path, SITE.replace("workers: 1", "workers: 2"))
    running = start(
        cluster, "upgrade", "-f", str(site), "--skip-unavailable", "--yes", "--timeout", "60s"
    )
    wait_for_status(kube, running, "pending-upgrade")
    state = ClusterState.load(NAME)
    assert state is not None
    apiserver = next(p for p in state.processes if p.name == "kube-apiserver")
    procs.stop(apiserver)
    _, err = running.communicate(timeout=300)
    assert running.returncode == 1, err
    assert "Traceback" not in err and "internal error" not in err

    restarted = run_sitebox("cluster", "up", "--name", NAME, env=env)
    assert restarted.code == 0, restarted.err
    rerun = run_sitebox(
        "upgrade", "-f", str(site), "--skip-unavailable", "--yes",
        "--kubeconfig", str(kubeconfig), env=env, timeout=600,
    )  # fmt: skip
    assert rerun.code == 0, rerun.err
    assert "was left pending-upgrade: rolled back to revision" in rerun.err
    assert release_status(kube, "sitebox", SITE_NAMESPACE) == "deployed"
    execute = kube.get("apps/v1", "Deployment", "sitebox-batch-execute", BATCH_NAMESPACE) or {}
    assert execute["spec"]["replicas"] == 2
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == stored
    after = kube.list_objects("v1", "PersistentVolumeClaim", BATCH_NAMESPACE)
    assert volumes.items() <= {c["metadata"]["uid"]: c["spec"]["volumeName"] for c in after}.items()


def test_a_live_claim_of_another_run_stops_a_second_one(
    cluster: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    kubeconfig, env = cluster
    kube = Kube(kubeconfig)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}})
    # A claim renewed just now by a process on another machine: it must be respected.
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    kube.write_lease(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": lock.NAME,
                "namespace": SYSTEM_NAMESPACE,
                "annotations": {lock.OPERATION: "install/upgrade of site other"},
            },
            "spec": {
                "holderIdentity": "elsewhere/4242/99",
                "leaseDurationSeconds": 900,  # live for the whole test, however slow the machine
                "acquireTime": now,
                "renewTime": now,
            },
        }
    )
    site = write_site(tmp_path, SITE)
    before = release_status(kube, "sitebox", SITE_NAMESPACE)
    refused = run_sitebox(
        "install", "-f", str(site), "--skip-unavailable", "--kubeconfig", str(kubeconfig),
        env=env, timeout=600,
    )  # fmt: skip
    assert refused.code == 1
    assert "another sitebox run is at work on this cluster" in refused.err
    assert "install/upgrade of site other by elsewhere/4242/99" in refused.err
    assert release_status(kube, "sitebox", SITE_NAMESPACE) == before, "nothing was applied"
    # Every change takes the same lease: a rollback or an uninstall would race the
    # other run's Helm wait just as an install would.
    for command in (["rollback"], ["uninstall"]):
        other = run_sitebox(*command, "--kubeconfig", str(kubeconfig), env=env, timeout=600)
        assert other.code == 1, other.err
        assert "another sitebox run is at work on this cluster" in other.err
        assert release_status(kube, "sitebox", SITE_NAMESPACE) == before, command
    kube.delete("coordination.k8s.io/v1", "Lease", lock.NAME, SYSTEM_NAMESPACE)
