"""site-base and the batch connector on a live sim cluster: real quota, RBAC and
priority admission, enforced by the real API server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from sitebox.batch.loadtest import job_manifest
from sitebox.helm import Helm, HelmError
from sitebox.kube import Kube, KubeError, wait_for
from tests.conftest import ROOT, SimCluster, fresh_namespace, run_sitebox

pytestmark = pytest.mark.live

SITE_BASE = ROOT / "charts" / "site-base"
BATCH = ROOT / "charts" / "batch"
QUOTA = {
    "requests.cpu": "8",
    "limits.cpu": "8",
    "requests.memory": "32Gi",
    "limits.memory": "32Gi",
    "pods": "100",
    "count/jobs.batch": "200",
}
QUEUE_VALUES: dict[str, Any] = {"cvmfs": {"enabled": False}, "quota": QUOTA}


@pytest.fixture(scope="module")
def site(sim_cluster: SimCluster) -> Helm:
    helm = Helm(sim_cluster.kubeconfig)
    base = helm.install_or_upgrade(
        "site", SITE_BASE, {"site": {"name": "test-site"}}, "sitebox", timeout="2m"
    )
    assert base.status == "deployed"
    queue = helm.install_or_upgrade("batch", BATCH, QUEUE_VALUES, "batch", timeout="2m")
    assert queue.status == "deployed"
    return helm


@pytest.fixture(scope="module")
def scoped(site: Helm, sim_cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scoped") / "batch.kubeconfig"
    result = run_sitebox(
        "batch", "kubeconfig", "--namespace", "batch", "--release", "batch",
        "--duration", "1h", "--output-file", str(path),
        "--kubeconfig", str(sim_cluster.kubeconfig), env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert (path.stat().st_mode & 0o777) == 0o600
    return path


def _job(name: str, cpu: str, **pod: Any) -> dict[str, Any]:
    """A Job as the load test submits it, with extra pod settings."""
    job = job_manifest(name, "live-test", cpu, "1Gi")
    job["spec"]["template"]["spec"].update(pod)
    return job


def _job_condition(kube: Kube, name: str, kind: str) -> bool:
    got = kube.get("batch/v1", "Job", name, "batch") or {}
    return any(
        c["type"] == kind and c["status"] == "True"
        for c in got.get("status", {}).get("conditions") or []
    )


def test_site_info_is_published(site: Helm, sim_cluster: SimCluster) -> None:
    info = Kube(sim_cluster.kubeconfig).get("v1", "ConfigMap", "sitebox-site-info", "sitebox")
    assert info is not None
    assert info["data"]["site"] == "test-site"


def test_scoped_account_runs_jobs_in_its_namespace(scoped: Path) -> None:
    kube = Kube(scoped)
    assert kube.current_namespace() == "batch"
    name = f"ok-{uuid.uuid4().hex[:6]}"
    kube.create({**_job(name, "1"), "metadata": {"name": name, "namespace": "batch"}})
    wait_for("the job to complete", lambda: _job_condition(kube, name, "Complete"), 60)


def test_scoped_account_cannot_read_secrets_or_leave_its_namespace(scoped: Path) -> None:
    kube = Kube(scoped)
    with pytest.raises(KubeError, match="403"):
        kube.list_objects("v1", "Secret", "batch")
    with pytest.raises(KubeError, match="403"):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x", "namespace": "default"},
            }
        )
    with pytest.raises(KubeError, match="403"):
        kube.create(
            {**_job("elsewhere", "1"), "metadata": {"name": "elsewhere", "namespace": "default"}}
        )


def test_job_over_the_quota_is_refused_by_the_api_server(
    scoped: Path, sim_cluster: SimCluster
) -> None:
    kube = Kube(scoped)
    name = f"big-{uuid.uuid4().hex[:6]}"
    kube.create({**_job(name, "12"), "metadata": {"name": name, "namespace": "batch"}})
    admin = Kube(sim_cluster.kubeconfig)

    def refused() -> bool:
        events = admin.events_for("batch", name)
        return any(
            e["reason"] == "FailedCreate" and "exceeded quota" in e["message"] for e in events
        )

    wait_for("the quota to refuse the job's pod", refused, 60)
    assert not admin.list_objects("v1", "Pod", "batch", f"job-name={name}")


def test_opportunistic_pod_is_preempted_for_production(site: Helm, sim_cluster: SimCluster) -> None:
    kube = Kube(sim_cluster.kubeconfig)
    namespace = fresh_namespace(kube, "prio")
    # Both pods target the one 8-CPU GPU node; together they do not fit.
    placement = {
        "nodeSelector": {"sitebox.io/node-pool": "gpu"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
    }

    def pod(name: str, cpu: str, priority: str) -> dict[str, Any]:
        job = _job(name, cpu, priorityClassName=priority, **placement)
        spec = job["spec"]["template"]["spec"]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }

    def phase(name: str) -> str | None:
        got = kube.get("v1", "Pod", name, namespace)
        return None if got is None else got["status"].get("phase")

    kube.create(pod("filler", "4", "sitebox-opportunistic"))
    wait_for("the opportunistic pod to run", lambda: phase("filler") == "Running", 60)
    kube.create(pod("urgent", "6", "sitebox-production"))
    wait_for("the production pod to run", lambda: phase("urgent") == "Running", 90)
    assert phase("filler") is None, "the opportunistic pod should have been evicted"
    kube.delete("v1", "Namespace", namespace)


def test_htcondor_pool_lands_and_keeps_its_secrets_on_upgrade(
    site: Helm, sim_cluster: SimCluster
) -> None:
    kube = Kube(sim_cluster.kubeconfig)
    values: dict[str, Any] = {
        "mode": "htcondor",
        "cvmfs": {"enabled": False},
        "quota": QUOTA,
        "htcondor": {"workers": {"count": 2}},
    }
    first = site.install_or_upgrade("condor", BATCH, values, "condor", timeout="2m")
    assert first.status == "deployed"
    pods = kube.list_objects("v1", "Pod", "condor")
    assert len(pods) >= 4, [p["metadata"]["name"] for p in pods]  # cm, schedd, 2 workers
    assert all(p["status"]["phase"] == "Running" and p["spec"]["nodeName"] for p in pods)

    def secrets() -> dict[str, Any]:
        return {
            s["metadata"]["name"]: s["data"]
            for s in kube.list_objects("v1", "Secret", "condor")
            if s["type"] != "helm.sh/release.v1"
        }

    before = secrets()
    assert before, "the pool password and token key are Secrets"
    values["htcondor"]["workers"]["count"] = 3
    second = site.install_or_upgrade("condor", BATCH, values, "condor", timeout="2m")
    assert second.revision == 2
    assert secrets() == before


def test_bad_values_are_refused_before_anything_is_applied(
    site: Helm, sim_cluster: SimCluster
) -> None:
    values = {"cvmfs": {"enabled": False}, "quota": {**QUOTA, "requests.cpu": "500m"}}
    with pytest.raises(HelmError, match="quota"):
        site.install_or_upgrade("bad", BATCH, values, "bad-batch", timeout="30s")
    with pytest.raises(HelmError):
        site.current("bad", "bad-batch")
    assert Kube(sim_cluster.kubeconfig).list_objects("v1", "ResourceQuota", "bad-batch") == []


def test_load_test_through_the_scoped_account(scoped: Path, sim_cluster: SimCluster) -> None:
    result = run_sitebox(
        "batch", "load-test", "--jobs", "40", "--workers", "8", "--kubeconfig", str(scoped),
        "-o", "json", env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["accepted"] == 40
    assert report["completed"] == 40
    assert report["scheduled"] == 40, result.err
    assert report["rejected"] == {}
    assert report["accepted_per_second"] > 0
