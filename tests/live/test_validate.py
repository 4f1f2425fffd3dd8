"""`sitebox validate` and the validation after install, on a sim cluster of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from sitebox.components.names import BATCH_NAMESPACE
from sitebox.kube import Kube, wait_for
from tests.compose.conftest import write_site
from tests.conftest import Cluster, Run, own_cluster, run_sitebox

pytestmark = pytest.mark.live

# The demo profile with an HTCondor pool: pods, services with endpoints, a spool volume.
POOL = (
    "name: valid\nprofile: demo\ncomponents:\n  batch:\n    mode: htcondor\n    workers: 1\n"
    "    quota: {cpu: '6', memory: 12Gi}\n    job: {cpu: 500m, memory: 1Gi}\n"
)
SIMULATED = "not run on a simulated cluster"


@pytest.fixture(scope="module")
def cluster(tools_ready: None, state_env: dict[str, str]) -> Iterator[Cluster]:
    with own_cluster("valid", state_env) as found:
        yield found


def sitebox(cluster: tuple[Path, dict[str, str]], *args: str) -> Run:
    kubeconfig, env = cluster
    return run_sitebox(*args, "--kubeconfig", str(kubeconfig), env=env, timeout=600)


def _results(run: Run) -> dict[str, tuple[str, str]]:
    report = json.loads(run.out)
    return {c["check"]: (c["status"], c["detail"]) for c in report["checks"]}


def test_validate_a_site_then_a_broken_one(
    cluster: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    empty = sitebox(cluster, "validate")
    assert empty.code == 1, "nothing installed is not a valid site"
    assert "release deployed [sitebox]" in empty.err

    site = write_site(tmp_path, POOL)
    installed = sitebox(cluster, "install", "-f", str(site), "--skip-unavailable")
    assert installed.code == 0, installed.err
    assert "pods ready [batch]" in installed.err, "install prints the validation table"
    assert "validation: " in installed.err and " 0 failed, " in installed.err

    valid = sitebox(cluster, "validate", "-o", "json")
    assert valid.code == 0, valid.err
    results = _results(valid)
    for check in ("pods ready [batch]", "services have endpoints [batch]",
                  "volume claims bound", "release deployed [sitebox]",
                  "release deployed [sitebox-system]"):  # fmt: skip
        assert results[check] == ("passed", ""), check
    for check in ("hub api answers", "gateway api answers", "storage reachable"):
        assert results[check] == ("not run", SIMULATED), check
    assert results["pods ready [hub]"] == ("not run", "not run: hub not installed")
    assert results["cvmfs claims bound"] == ("not run", "not run: cvmfs not installed")
    assert results["pods ready [site]"] == ("not run", "not run: site runs no pods")
    assert "failed" not in {status for status, _ in results.values()}

    # Break it for real: the execute workers may run on no node, and a claim cannot bind.
    kube = Kube(cluster[0])
    client.AppsV1Api(kube.api).patch_namespaced_deployment(
        "sitebox-batch-execute", BATCH_NAMESPACE,
        {"spec": {"template": {"spec": {"nodeSelector": {"sitebox.io/no-such-pool": "x"}}}}},
    )  # fmt: skip
    kube.create(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "orphan", "namespace": BATCH_NAMESPACE},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                  "resources": {"requests": {"storage": "1Gi"}}}}
    )  # fmt: skip

    def stuck() -> list[str]:
        return [
            p["name"] for p in kube.pod_health(BATCH_NAMESPACE)
            if p["name"].startswith("sitebox-batch-execute") and "Unschedulable" in p["reason"]
        ]  # fmt: skip

    wait_for("an unschedulable execute pod", lambda: bool(stuck()), 60)
    broken = sitebox(cluster, "validate", "-o", "json")
    assert broken.code == 1
    results = _results(broken)
    status, detail = results["pods ready [batch]"]
    assert status == "failed"
    assert f"pod {stuck()[0]}: Unschedulable" in detail
    assert "Deployment sitebox-batch-execute: not rolled out: 1 pod(s) still run the" in detail
    status, detail = results["volume claims bound"]
    assert status == "failed" and "claim batch/orphan is Pending" in detail
    assert "no-such-class" in detail, "the binder's event says why"
    assert "validation failed:" in broken.err and "fix: " in broken.err

    again = sitebox(cluster, "install", "-f", str(site), "--skip-unavailable")
    assert again.code == 1
    assert "installed, but validation failed:" in again.err
    assert "pods ready [batch]" in again.err and stuck()[0] in again.err
    assert "Traceback" not in again.err
    unchecked = sitebox(cluster, "install", "-f", str(site), "--skip-unavailable", "--no-validate")
    assert unchecked.code == 0, "--no-validate: the suite does not run, so nothing fails"
    assert "validating" not in unchecked.err and "pods ready" not in unchecked.err

    removed = sitebox(cluster, "uninstall", "--purge-data", "--yes")
    assert removed.code == 0, removed.err
