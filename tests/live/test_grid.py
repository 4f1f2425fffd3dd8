"""Grid integration on a live sim cluster: the queue description a workload manager gets
(`sitebox batch queue-config`) holds the cluster's own values, its scoped kubeconfig
works, Harvester's Job YAML is accepted by the API server; `sitebox registration` counts
the cluster's nodes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.cluster.quantity import cpu_millis
from sitebox.helm import Helm
from sitebox.kube import Kube
from tests.conftest import ROOT, SimCluster, run_sitebox

pytestmark = pytest.mark.live

BATCH = ROOT / "charts" / "batch"
NS = "grid-batch"
RELEASE = "grid"
VALUES: dict[str, Any] = {
    "job": {"cpu": "2", "memory": "3Gi"},
    "quota": {
        "requests.cpu": "12", "limits.cpu": "12", "requests.memory": "48Gi",
        "limits.memory": "48Gi", "pods": "30", "count/jobs.batch": "1000",
    },
    "cvmfs": {"enabled": True, "repositories": ["atlas.cern.ch"]},
}  # fmt: skip


@pytest.fixture(scope="module")
def queue(sim_cluster: SimCluster) -> Helm:
    helm = Helm(sim_cluster.kubeconfig)
    installed = helm.install_or_upgrade(RELEASE, BATCH, VALUES, NS, timeout="2m")
    assert installed.status == "deployed"
    return helm


def queue_config(sim_cluster: SimCluster, *args: str) -> Any:
    result = run_sitebox(
        "batch", "queue-config", "-n", NS, "--duration", "1h",
        "--kubeconfig", str(sim_cluster.kubeconfig), *args, env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    return result


def test_generic_description_holds_the_clusters_values(
    queue: Helm, sim_cluster: SimCluster, tmp_path: Path
) -> None:
    out = tmp_path / "queue.yaml"
    queue_config(sim_cluster, "--for", "generic", "-o", str(out))
    spec = yaml.safe_load(out.read_text())["spec"]
    admin = Kube(sim_cluster.kubeconfig)
    assert spec["namespace"] == NS
    assert spec["endpoint"] == admin.endpoint()[0]
    (quota,) = admin.list_objects("v1", "ResourceQuota", NS)
    assert spec["quota"] == quota["spec"]["hard"]
    (template,) = admin.list_objects(
        "v1", "ConfigMap", NS, "app.kubernetes.io/component=job-template"
    )
    job = yaml.safe_load(template["data"]["job.yaml"])
    requests = job["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert (spec["job"]["cpu"], spec["job"]["memory"]) == (requests["cpu"], requests["memory"])
    assert (spec["job"]["cpu"], spec["job"]["memory"]) == ("2", "3Gi")
    assert spec["cvmfs"]["claimName"] == "cvmfs" and spec["cvmfs"]["repositories"] == [
        "atlas.cern.ch"
    ]
    assert spec["maxJobs"] == 6  # 12 CPUs / 2 per job
    # The kubeconfig it names is private, and is the submitter's: it works in the namespace.
    kubeconfig = Path(spec["kubeconfig"])
    assert (kubeconfig.stat().st_mode & 0o777) == 0o600
    scoped = Kube(kubeconfig)
    assert scoped.current_namespace() == NS
    assert scoped.list_objects("batch/v1", "Job", NS) == []
    assert "token" not in out.read_text()


def test_harvester_form_and_its_job_yaml_are_accepted(
    queue: Helm, sim_cluster: SimCluster, tmp_path: Path
) -> None:
    out = tmp_path / "panda_queueconfig.json"
    result = queue_config(sim_cluster, "--for", "harvester", "--queue", "UNI_K8S", "-o", str(out))
    entry = json.loads(out.read_text())["UNI_K8S"]
    assert entry["common"]["k8s_namespace"] == NS
    assert entry["maxWorkers"] == 6
    # Without queue.harvester the submitter may not write Harvester's ConfigMaps: said.
    assert "warning: the submitter may not create configmaps" in result.err
    job = yaml.safe_load(Path(entry["submitter"]["k8s_yaml_file"]).read_text())
    # As Harvester's submitter sends it: the name suffixed with the worker's ID, in the
    # namespace CRIC names, through the scoped kubeconfig.
    scoped = Kube(entry["common"]["k8s_config_file"])
    job["metadata"]["name"] += f"-{uuid.uuid4().int % 10**6}"
    created = scoped.create({**job, "metadata": {**job["metadata"], "namespace": NS}})
    assert created["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
    scoped.delete("batch/v1", "Job", job["metadata"]["name"], NS)


def test_harvester_rights_when_the_site_asks_for_them(
    queue: Helm, sim_cluster: SimCluster, tmp_path: Path
) -> None:
    values = {**VALUES, "queue": {"harvester": True}}
    try:
        assert (
            queue.install_or_upgrade(RELEASE, BATCH, values, NS, timeout="2m").status == "deployed"
        )
        out = tmp_path / "q.json"
        result = queue_config(sim_cluster, "--for", "harvester", "-o", str(out))
        assert "warning" not in result.err
        assert Kube(sim_cluster.kubeconfig).get("v1", "Secret", "proxy-secret", NS) is not None
    finally:
        queue.install_or_upgrade(RELEASE, BATCH, VALUES, NS, timeout="2m")


def test_registration_counts_the_clusters_nodes(sim_cluster: SimCluster, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "apiVersion: sitebox.io/v1\nkind: Site\nname: uni\nprofile: tier3\n"
        "domain: physics.example.edu\n"
    )
    kubeconfig = str(sim_cluster.kubeconfig)
    result = run_sitebox(
        "registration", "-f", str(site), "--kubeconfig", kubeconfig, "-o", "json",
        env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    admin = Kube(sim_cluster.kubeconfig)
    nodes = admin.nodes()
    millis = sum(cpu_millis(n["status"]["allocatable"]["cpu"]) for n in nodes)
    assert doc["capacity"]["source"] == "cluster"
    assert doc["capacity"]["nodes"] == len(nodes)
    assert doc["capacity"]["cores"] * 1000 == millis
    (queue,) = doc["cric"]["queues"]
    assert queue["nodes"] == len(nodes)
    assert queue["queues"][0]["ce_endpoint"] == admin.endpoint()[0]
    services = {s["endpoint"]: s["fields"] for s in doc["gocdb"]["services"]}
    assert services["batch"]["endpointUrl"] == admin.endpoint()[0]


def test_fleet_registration_measures_each_sites_cluster(
    sim_cluster: SimCluster, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "apiVersion: sitebox.io/v1\nkind: Fleet\nname: grid\nsites:\n"
        f"  - {{name: east, profile: tier3, kubeconfig: {sim_cluster.kubeconfig}}}\n"
        f"  - {{name: west, profile: demo, kubeconfig: {sim_cluster.kubeconfig}}}\n"
    )
    out = tmp_path / "registration"
    result = run_sitebox(
        "fleet", "registration", "-f", str(fleet), "-o", str(out), env=sim_cluster.env
    )
    assert result.code == 0, result.err + result.out
    nodes = Kube(sim_cluster.kubeconfig).nodes()
    millis = sum(cpu_millis(n["status"]["allocatable"]["cpu"]) for n in nodes)
    for site in ("east", "west"):
        doc = yaml.safe_load((out / f"{site}.registration.yaml").read_text())
        assert doc["metadata"]["site"] == site
        assert doc["capacity"]["source"] == "cluster"
        assert doc["capacity"]["cores"] * 1000 == millis
