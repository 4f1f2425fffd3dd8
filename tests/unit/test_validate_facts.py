"""The judgements the validation checks make, on synthetic objects."""

from __future__ import annotations

from typing import Any

import pytest

from sitebox.components.names import CVMFS_DRIVER
from sitebox.validate import facts

pytestmark = pytest.mark.unit


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "sitebox", **extra}


def test_a_cluster_is_simulated_only_when_every_node_is() -> None:
    fake = {"metadata": {"annotations": {facts.FAKE_ANNOTATION: "fake"}}}
    real = {"metadata": {"annotations": {}}}
    assert facts.is_simulated([fake, fake])
    assert not facts.is_simulated([fake, real])
    assert not facts.is_simulated([])


def test_components_come_from_either_chart_label() -> None:
    charts = facts.chart_components()
    assert facts.component_of({"helm.sh/chart": "dask-gateway-2026.3.0"}, charts) == "dask"
    assert facts.component_of({"chart": "jupyterhub-4.4.0"}, charts) == "hub"
    assert facts.component_of({"app": "other"}, charts) is None
    assert facts.enabled_components({"data": {"components": '["site", "batch"]'}}) == (
        "site",
        "batch",
    )
    assert facts.enabled_components(None) == ()


def test_workloads_must_be_ready_and_rolled_out() -> None:
    deploy = {"kind": "Deployment", "metadata": _meta("execute"), "spec": {"replicas": 2}}
    assert facts.workload_problem({**deploy, "status": {"readyReplicas": 1, "updatedReplicas": 2}})
    stale = facts.workload_problem({**deploy, "status": {"readyReplicas": 2, "updatedReplicas": 1}})
    assert stale == "Deployment execute: 1/2 pods run the current spec"
    rolling = {"readyReplicas": 2, "updatedReplicas": 2, "replicas": 3}
    assert facts.workload_problem({**deploy, "status": rolling}) == (
        "Deployment execute: not rolled out: 1 pod(s) still run the previous spec"
    )
    assert not facts.workload_problem(
        {**deploy, "status": {"readyReplicas": 2, "updatedReplicas": 2}}
    )
    daemons = {"kind": "DaemonSet", "metadata": _meta("plugin"), "spec": {}}
    status = {"desiredNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3}
    assert facts.workload_problem({**daemons, "status": status}) == "DaemonSet plugin: 2/3 ready"


def _slice(service: str, *ready: bool) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"kubernetes.io/service-name": service}},
        "endpoints": [{"conditions": {"ready": r}} for r in ready],
    }


def test_a_service_needs_one_ready_endpoint_of_its_own() -> None:
    service = {"metadata": _meta("hub"), "spec": {"selector": {"app": "hub"}}}
    assert facts.service_problem(service, [_slice("hub", False, True)]) is None
    assert "none of its 1 endpoints" in (
        facts.service_problem(service, [_slice("hub", False)]) or ""
    )
    other = facts.service_problem(service, [_slice("proxy", True)])
    assert other == "service hub: no endpoints (no ready pod matches its selector)"
    unmanaged = {"metadata": _meta("external"), "spec": {}}
    assert facts.service_problem(unmanaged, []) is None


def test_claims_bound_or_waiting_for_their_first_pod() -> None:
    classes = [
        {"metadata": {"name": "late"}, "volumeBindingMode": "WaitForFirstConsumer"},
        {"metadata": {"name": "now"}, "volumeBindingMode": "Immediate"},
        {"metadata": {"name": "cvmfs"}, "provisioner": CVMFS_DRIVER},
    ]
    waiting = facts.waits_for_consumer(classes)

    def claim(phase: str, storage_class: str) -> dict[str, Any]:
        return {"metadata": _meta("data"), "spec": {"storageClassName": storage_class},
                "status": {"phase": phase}}  # fmt: skip

    assert facts.claim_problem(claim("Bound", "now"), waiting) is None
    assert facts.claim_problem(claim("Pending", "late"), waiting) is None
    assert facts.claim_problem(claim("Pending", "now"), waiting) == "claim sitebox/data is Pending"
    assert facts.claim_problem(claim("Lost", "late"), waiting) == "claim sitebox/data is Lost"


def test_cvmfs_claims_are_found_by_their_class_or_their_static_volume() -> None:
    classes = [{"metadata": {"name": "cvmfs"}, "provisioner": CVMFS_DRIVER}]
    volumes = [
        {"metadata": {"name": "cvmfs-batch"}, "spec": {"csi": {"driver": CVMFS_DRIVER}}},
        {"metadata": {"name": "data"}, "spec": {"csi": {"driver": "nfs.csi.k8s.io"}}},
    ]
    provisioned = {"metadata": _meta("a"), "spec": {"storageClassName": "cvmfs"}}
    static = {"metadata": _meta("b"), "spec": {"storageClassName": "", "volumeName": "cvmfs-batch"}}
    other = {"metadata": _meta("c"), "spec": {"storageClassName": "", "volumeName": "data"}}
    found = facts.cvmfs_claims([provisioned, static, other], classes, volumes)
    assert found == [provisioned, static]


def test_http_answers_must_come_from_the_server_itself() -> None:
    assert facts.version_problem(200, '{"version": "5.5.0"}', "JupyterHub") is None
    assert facts.version_problem(200, "<html>", "JupyterHub") == (
        "the answer is not JupyterHub's: <html>"
    )
    proxy_error = '{"kind":"Status","code":503,"message":"no endpoints available"}'
    assert facts.version_problem(503, proxy_error, "dask-gateway") == f"HTTP 503: {proxy_error}"
    assert facts.s3_problem(403, "<?xml?><Error><Code>AccessDenied</Code></Error>") is None
    assert facts.s3_problem(200, "<ListAllMyBucketsResult></ListAllMyBucketsResult>") is None
    assert facts.s3_problem(503, proxy_error) == f"HTTP 503: {proxy_error}"
