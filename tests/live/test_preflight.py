"""`sitebox preflight` against the session sim cluster (3 nodes 4cpu/16Gi, 1 node
8cpu/32Gi/2gpu; StorageClasses standard (default) and shared)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import SimCluster, run_sitebox

pytestmark = pytest.mark.live

CHECKS = [
    "kubernetes-version", "capacity", "storage-default", "storage-shared", "pod-security",
    "rbac", "tools", "ingress", "cvmfs-proxy", "placement", "volume-binding", "storage-drivers",
    "load-balancers", "downloads",
]  # fmt: skip


def _preflight(cluster: SimCluster, profile: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    result = run_sitebox(
        "preflight", "--profile", profile, "--kubeconfig", str(cluster.kubeconfig), "-o", "json",
        env=cluster.env,
    )  # fmt: skip
    assert "Traceback" not in result.err
    rows = json.loads(result.out)
    assert [r["name"] for r in rows] == CHECKS, result.err
    return result.code, {r["name"]: r for r in rows}, result.err


def test_demo_fits_the_sim_cluster(sim_cluster: SimCluster) -> None:
    code, results, err = _preflight(sim_cluster, "demo")
    assert code == 0, err
    assert {r["status"] for r in results.values()} <= {"pass", "warn"}
    assert results["capacity"]["status"] == "pass"
    assert results["capacity"]["detail"].startswith("20 CPUs, 80Gi, 2 GPUs on 4 ready nodes")
    assert results["storage-default"]["detail"] == (
        "default StorageClass standard (kubernetes.io/no-provisioner)"
    )


def test_tier2_does_not_fit_and_says_by_how_much(sim_cluster: SimCluster) -> None:
    code, results, err = _preflight(sim_cluster, "tier2")
    assert code == 1
    assert "checks failed" in err
    capacity = results["capacity"]
    assert capacity["status"] == "fail"
    assert "needs 288 CPUs, the nodes offer 20: 268 CPUs short" in capacity["detail"]
    assert "needs 1200Gi memory, the nodes offer 80Gi: 1120Gi short" in capacity["detail"]
    assert capacity["fix"]
    # tier2 needs ReadWriteMany storage the bare profile does not name
    assert results["storage-shared"]["status"] == "fail"
    assert results["rbac"]["status"] == "pass"
