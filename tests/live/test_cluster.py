"""The sim cluster behaves as a real cluster would: scheduling, storage, admission."""

from __future__ import annotations

import stat
from typing import Any

import pytest

from sitebox import procs
from sitebox.cluster.state import ClusterState
from sitebox.kube import Kube, KubeError, wait_for
from tests.conftest import SimCluster, cluster_info, fresh_namespace, run_sitebox

pytestmark = pytest.mark.live


@pytest.fixture
def kube(sim_cluster: SimCluster) -> Kube:
    return Kube(sim_cluster.kubeconfig)


@pytest.fixture
def namespace(kube: Kube) -> Any:
    name = fresh_namespace(kube, "t")
    yield name
    kube.delete("v1", "Namespace", name)


def _pod(name: str, namespace: str, cpu: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}},
                }
            ],
            **spec,
        },
    }


def test_status_reports_every_node_ready(sim_cluster: SimCluster) -> None:
    info = cluster_info(sim_cluster.name, sim_cluster.env)
    assert info["health"] == "healthy"
    assert info["nodes"] == {"ready": 4, "total": 4}
    assert info["kubernetes"] == "v1.36.3"


def test_every_node_renews_its_lease(kube: Kube) -> None:
    """The node controller's heartbeat: a lease per node, renewed every few seconds, so
    that nodes stay Ready however long the cluster runs (without leases they all went
    NotReady three minutes after they started)."""
    nodes = {n["metadata"]["name"] for n in kube.nodes()}

    def renewals() -> dict[str, str]:
        leases = kube.list_objects("coordination.k8s.io/v1", "Lease", "kube-node-lease")
        return {
            lease["metadata"]["name"]: lease["spec"]["renewTime"]
            for lease in leases
            if lease["metadata"]["name"] in nodes
        }

    first = renewals()
    assert set(first) == nodes, "one lease per node"
    wait_for(
        "every node lease renewed",
        lambda: all(renewals()[n] != first[n] for n in nodes),
        timeout=40,
        interval=1,
    )


def test_api_server_reports_the_pinned_version(kube: Kube) -> None:
    assert kube.server_version() == "v1.36.3"


def test_three_replica_deployment_becomes_ready(kube: Kube, namespace: str) -> None:
    labels = {"app": "web"}
    pod = _pod("unused", namespace, "500m")
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod["spec"]},
            },
        }
    )

    def ready() -> bool:
        got = kube.get("apps/v1", "Deployment", "web", namespace) or {}
        return bool(got.get("status", {}).get("readyReplicas") == 3)

    wait_for("3 ready replicas", ready, 60)
    pods = kube.list_objects("v1", "Pod", namespace, "app=web")
    nodes = {p["spec"]["nodeName"] for p in pods}
    assert all(n.startswith("cpu-") for n in nodes), "the GPU pool is tainted"


def test_pod_larger_than_any_node_stays_pending_with_the_reason(kube: Kube, namespace: str) -> None:
    kube.create(_pod("huge", namespace, "64"))

    def unschedulable() -> bool:
        pod = kube.get("v1", "Pod", "huge", namespace) or {}
        conditions = pod.get("status", {}).get("conditions") or []
        return any(
            c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions
        )

    wait_for("the scheduler's verdict", unschedulable, 60)
    pod = kube.get("v1", "Pod", "huge", namespace) or {}
    assert pod["status"]["phase"] == "Pending"
    (scheduled,) = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert "Insufficient cpu" in scheduled["message"]


def test_gpu_pod_lands_on_the_gpu_node(kube: Kube, namespace: str) -> None:
    pod = _pod(
        "trainer", namespace, "1", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}]
    )
    pod["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu": "1"}
    kube.create(pod)

    def running() -> bool:
        got = kube.get("v1", "Pod", "trainer", namespace) or {}
        return bool(got.get("status", {}).get("phase") == "Running")

    wait_for("the GPU pod to run", running, 60)
    assert (kube.get("v1", "Pod", "trainer", namespace) or {})["spec"]["nodeName"] == "gpu-0"


@pytest.mark.parametrize(
    ("klass", "mode"), [("standard", "ReadWriteOnce"), ("shared", "ReadWriteMany")]
)
def test_pvc_binds_to_a_pooled_volume(kube: Kube, namespace: str, klass: str, mode: str) -> None:
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": namespace},
        "spec": {"accessModes": [mode], "resources": {"requests": {"storage": "5Gi"}}},
    }
    if klass != "standard":  # the default class is filled in by admission
        claim["spec"]["storageClassName"] = klass
    kube.create(claim)

    def bound() -> bool:
        got = kube.get("v1", "PersistentVolumeClaim", "data", namespace) or {}
        return bool(got.get("status", {}).get("phase") == "Bound")

    wait_for("the claim to bind", bound, 60)
    got = kube.get("v1", "PersistentVolumeClaim", "data", namespace) or {}
    assert got["spec"]["storageClassName"] == klass
    assert got["status"]["capacity"]["storage"] == "10Gi"  # the smallest volume that fits


def test_job_runs_to_complete(kube: Kube, namespace: str) -> None:
    pod = _pod("unused", namespace, "100m", restartPolicy="Never")
    kube.create(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": namespace},
            "spec": {"template": {"spec": pod["spec"]}},
        }
    )

    def complete() -> bool:
        got = kube.get("batch/v1", "Job", "once", namespace) or {}
        conditions = got.get("status", {}).get("conditions") or []
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    wait_for("the Job to complete", complete, 60)


def test_api_server_enforces_resource_quota(kube: Kube, namespace: str) -> None:

    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "small", "namespace": namespace},
            "spec": {"hard": {"requests.cpu": "1"}},
        }
    )
    wait_for(
        "the quota to be counted",
        lambda: (
            "hard" in (kube.get("v1", "ResourceQuota", "small", namespace) or {}).get("status", {})
        ),
        30,
    )
    kube.create(_pod("fits", namespace, "600m"))
    with pytest.raises(KubeError, match="exceeded quota"):
        kube.create(_pod("over", namespace, "600m"))


def test_every_listener_is_on_loopback(sim_cluster: SimCluster) -> None:
    state = ClusterState.load(sim_cluster.name)
    assert state is not None
    for record in state.processes:
        sockets = procs.listening_sockets(record.pid)
        assert sockets, f"{record.name} listens nowhere?"
        assert {addr for addr, _ in sockets} == {"127.0.0.1"}, (record.name, sockets)
        assert procs.listening_tcp6(record.pid) == 0, record.name


def test_the_state_folder_and_every_key_are_private(sim_cluster: SimCluster) -> None:
    """The state folder holds the cluster's CA key, etcd's data and system:masters
    kubeconfigs: no other local user may read any of it."""
    state = ClusterState.load(sim_cluster.name)
    assert state is not None
    assert stat.S_IMODE(state.root.stat().st_mode) == 0o700
    keys = [p for p in state.root.rglob("*") if p.suffix in (".key", ".kubeconfig")]
    keys += [p for p in state.root.rglob("kubeconfig")]
    assert len(keys) >= 5, keys
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in keys} == dict.fromkeys(
        (p.name for p in keys), 0o600
    )


def test_second_up_with_the_same_name_is_refused(sim_cluster: SimCluster) -> None:
    result = run_sitebox("cluster", "up", "--name", sim_cluster.name, env=sim_cluster.env)
    assert result.code == 1
    assert f"cluster '{sim_cluster.name}' is already running" in result.err
    assert cluster_info(sim_cluster.name, sim_cluster.env)["health"] == "healthy"


def test_a_kind_the_server_does_not_serve_is_a_clear_error(kube: Kube) -> None:
    with pytest.raises(KubeError) as refused:
        kube.get("example.org/v1", "Widget", "w", "default")
    assert "the cluster does not serve Widget (example.org/v1)" in refused.value.message
    assert refused.value.hint and "CRD" in refused.value.hint
