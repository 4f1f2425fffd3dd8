"""Preflight over a render: pods placed by requests, claims against free volumes, drivers,
load balancers, downloads; on synthetic facts and manifests."""

from __future__ import annotations

from typing import Any

import pytest

from sitebox.preflight import workload
from sitebox.preflight.checks import (
    FAIL,
    PASS,
    WARN,
    ClusterFacts,
    NodeFacts,
    StorageClassFacts,
    VolumeFacts,
)

pytestmark = pytest.mark.unit
GI = 2**30


def node(name: str, cpu: int, memory_gi: int, **extra: Any) -> NodeFacts:
    return NodeFacts(name, cpu * 1000, memory_gi * GI, 0, True, True, **extra)


def deployment(name: str, cpu: str, memory: str, replicas: int = 1, **spec: Any) -> Any:
    container = {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
    return {
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [container], **spec}}},
    }


def daemonset(name: str, cpu: str, memory: str, **spec: Any) -> Any:
    found = deployment(name, cpu, memory, **spec)
    found["kind"] = "DaemonSet"
    del found["spec"]["replicas"]
    return found


def test_pods_are_placed_by_their_requests() -> None:
    facts = ClusterFacts("v1.36.3", nodes=(node("a", 16, 64), node("b", 16, 64)))
    # 8 CPUs each, 15 free per node once the agent runs: one worker per node.
    fits = [deployment("worker", "8", "16Gi", replicas=2), daemonset("agent", "1", "1Gi")]
    result = workload.placement(fits, facts)
    assert result.status == PASS, result.detail
    assert "4 pods placed on 2 ready nodes" in result.detail
    too_many = [deployment("worker", "8", "16Gi", replicas=4), daemonset("agent", "1", "1Gi")]
    result = workload.placement(too_many, facts)
    assert result.status == FAIL
    assert "no ready node has room for 2 pod(s) of Deployment/worker" in result.detail
    assert "the largest node offers 16 CPU, 64Gi" in result.detail


def test_node_selectors_and_taints_are_honoured() -> None:
    gpu = node("gpu", 16, 64, labels={"pool": "gpu"}, taints=(("nvidia.com/gpu", "true"),))
    facts = ClusterFacts("v1.36.3", nodes=(node("a", 4, 16), gpu))
    wanted = deployment("trainer", "8", "8Gi", nodeSelector={"pool": "gpu"})
    assert workload.placement([wanted], facts).status == FAIL, "it does not tolerate the taint"
    tolerant = deployment(
        "trainer", "8", "8Gi", nodeSelector={"pool": "gpu"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}],
    )  # fmt: skip
    assert workload.placement([tolerant], facts).status == PASS


def claim(name: str, size: str, klass: str | None = None, **spec: Any) -> Any:
    body: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": size}}, **spec}  # fmt: skip
    if klass is not None:
        body["storageClassName"] = klass
    return {"kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": body}


STATIC = StorageClassFacts("standard", "kubernetes.io/no-provisioner", True)


def volumes(*sizes: int) -> tuple[VolumeFacts, ...]:
    return tuple(
        VolumeFacts(f"pv-{i}", "standard", size * GI, ("ReadWriteOnce",))
        for i, size in enumerate(sizes)
    )


def test_claims_on_static_volumes_take_the_smallest_that_fits() -> None:
    facts = ClusterFacts("v1.36.3", storage_classes=(STATIC,), free_volumes=volumes(10, 100))
    fits = list(workload.claims([claim("a", "50Gi"), claim("b", "10Gi")], "site"))
    assert workload.volume_binding(fits, facts).status == PASS
    # The 10Gi claim must not take the 100Gi volume the 50Gi one needs.
    order = list(workload.claims([claim("b", "5Gi"), claim("a", "50Gi")], "site"))
    assert workload.volume_binding(order, facts).status == PASS
    big = list(workload.claims([claim("data", "1Ti")], "site"))
    result = workload.volume_binding(big, facts)
    assert result.status == FAIL
    assert "claim site/data asks 1Ti of class standard" in result.detail
    assert "2 free, the largest 100Gi" in result.detail


def test_statefulset_templates_are_claims_per_replica() -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "store"},
        "spec": {"replicas": 2, "volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": claim("x", "1Gi")["spec"]}
        ]},
    }  # fmt: skip
    assert [c.where for c in workload.claims([sts], "site")] == [
        "site/data-store-0",
        "site/data-store-1",
    ]


def test_a_class_whose_csi_driver_is_not_registered_fails() -> None:
    csi = StorageClassFacts("ceph", "rbd.csi.ceph.com", False)
    facts = ClusterFacts("v1.36.3", storage_classes=(STATIC, csi), csi_drivers=frozenset())
    claims = list(workload.claims([claim("a", "1Gi", "ceph")], "site"))
    result = workload.storage_drivers(claims, [], facts)
    assert result.status == FAIL and "rbd.csi.ceph.com, which is not registered" in result.detail
    registered = ClusterFacts(
        "v1.36.3", storage_classes=(STATIC, csi), csi_drivers=frozenset({"rbd.csi.ceph.com"})
    )
    assert workload.storage_drivers(claims, [], registered).status == PASS
    # A class the site itself brings, with the driver it installs.
    made = [{"kind": "StorageClass", "metadata": {"name": "nfs"}, "provisioner": "nfs.csi.k8s.io"},
            {"kind": "CSIDriver", "metadata": {"name": "nfs.csi.k8s.io"}}]  # fmt: skip
    on_nfs = list(workload.claims([claim("b", "1Gi", "nfs")], "site"))
    assert workload.storage_drivers(on_nfs, made, facts).status == PASS
    nowhere = list(workload.claims([claim("c", "1Gi", "fast")], "site"))
    result = workload.storage_drivers(nowhere, [], facts)
    assert result.status == FAIL and "StorageClass fast, which does not exist" in result.detail


def test_load_balancers_need_something_that_gives_addresses() -> None:
    service = {"kind": "Service", "metadata": {"name": "proxy-public"},
               "spec": {"type": "LoadBalancer"}}  # fmt: skip
    bare = workload.load_balancers([service], ClusterFacts("v1.36.3"))
    assert bare.status == FAIL and "proxy-public" in bare.detail
    served = ClusterFacts("v1.36.3", load_balancer=True)
    assert workload.load_balancers([service], served).status == PASS


def test_downloads_from_outside_the_cluster_are_named() -> None:
    job = {
        "kind": "Job",
        "metadata": {"name": "crds"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "c", "args": ["curl https://github.com/x/crds.yaml | kubectl apply -f -"],
            "env": [{"name": "HUB", "value": "http://hub:8081/hub/api"}],
        }]}}},
    }  # fmt: skip
    result = workload.downloads([job], air_gapped=False)
    assert result.status == WARN
    assert "Job crds: https://github.com/x/crds.yaml" in result.detail
    assert "hub:8081" not in result.detail, "a Service by its short name is inside the cluster"
    assert workload.downloads([job], air_gapped=True).status == FAIL
