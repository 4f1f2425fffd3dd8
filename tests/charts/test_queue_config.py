"""The queue description for workload managers, from the batch chart's real render: what
`sitebox batch queue-config` reads (job template, quota, CVMFS claim), PanDA Harvester's
form against the keys Harvester's source reads, the generic form against its schema, and
the submitter rights Harvester's plugins need (queue.harvester)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from sitebox.batch import generic, harvester, queue, queueconfig
from sitebox.errors import SiteboxError
from sitebox.model.schemas import schema
from tests.charts.conftest import Helm, Manifest, one

pytestmark = pytest.mark.chart

NS = "batch"
SERVER = "https://api.example.org:6443"
VALUES: dict[str, Any] = {
    "namespaceOverride": NS,
    "job": {"cpu": "2", "memory": "4Gi", "image": "docker.io/library/almalinux:9.6"},
    "quota": {
        "requests.cpu": "64", "limits.cpu": "64", "requests.memory": "100Gi",
        "limits.memory": "100Gi", "pods": "40", "count/jobs.batch": "1000",
    },
    "cvmfs": {"enabled": True, "repositories": ["atlas.cern.ch", "sft.cern.ch"]},
}  # fmt: skip

# ---- Facts read from PanDA Harvester's source: HSF/harvester, commit d561b72f
# (v0.7.5-9, 2026-08-03). Written here by hand, not imported from sitebox, so that the
# test checks the code against Harvester and not against itself.
#
# pandaharvester/harvestercore/queue_config_mapper.py, QueueConfig.__init__ and
# QueueConfigMapper.queue_limit_attrs / updatable_plugin_attrs: the queue-level keys.
HARVESTER_QUEUE_KEYS = {
    "queueName", "pandaQueueName", "prodSourceLabel", "mapType", "useJobLateBinding",
    "zipPerMB", "siteName", "siteFamily", "maxWorkers", "nNewWorkers",
    "maxNewWorkersPerCycle", "noHeartbeat", "runMode", "resourceType", "jobType",
    "getJobCriteria", "ddmEndpointIn", "allowJobMixture", "maxSubmissionAttempts",
    "truePilot", "queueStatus", "prefetchEvents", "uniqueName", "configID",
    "initEventsMultipler", "templateQueueName", "isTemplateQueue",
    "nQueueLimitWorker", "nQueueLimitWorkerMax", "nQueueLimitWorkerRatio",
    "nQueueLimitWorkerMin", "nQueueLimitWorkerCores", "nQueueLimitWorkerCoresRatio",
    "nQueueLimitWorkerCoresMin", "nQueueLimitWorkerMemory", "nQueueLimitWorkerMemoryRatio",
    "nQueueLimitWorkerMemoryMin", "nQueueLimitJob", "nQueueLimitJobMax",
    "nQueueLimitJobRatio", "nQueueLimitJobMin", "nQueueLimitJobCores",
    "nQueueLimitJobCoresRatio", "nQueueLimitJobCoresMin",
    "common", "messenger", "monitor", "preparator", "stager", "submitter", "sweeper",
    "workerMaker", "throttler", "zipper", "aux_preparator", "extractor",
}  # fmt: skip
# The same file: a plugin is an object with "module" and "name".
PLUGIN_KEYS = {"module", "name"}
# harvestersubmitter/k8s_submitter.py (K8sSubmitter), harvestermonitor/k8s_monitor.py
# (K8sMonitor), harvestersweeper/k8s_sweeper.py (K8sSweeper): the attributes they read.
K8S_PLUGINS = {
    "submitter": ("pandaharvester.harvestersubmitter.k8s_submitter", "K8sSubmitter", {
        "k8s_config_file", "k8s_yaml_file", "nProcesses", "proxySecretPath",
        "proxySecretPathAnalysis", "tokenDir", "pandaTokenFilename", "pandaTokenKeyFilename",
    }),
    "monitor": ("pandaharvester.harvestermonitor.k8s_monitor", "K8sMonitor", {
        "k8s_config_file", "nProcesses", "cancelUnknown", "podQueueTimeLimit", "payloadType",
    }),
    "sweeper": ("pandaharvester.harvestersweeper.k8s_sweeper", "K8sSweeper", {
        "k8s_config_file",
    }),
}  # fmt: skip
# The Harvester wiki's "Specific instructions to run with Kubernetes cluster" (2023-02-21)
# documents these too; k8s_namespace is what Harvesters before the CRIC namespace read.
WIKI_PLUGIN_KEYS = {
    "proxySecretPath", "x509UserProxy", "cpuAdjustRatio", "memoryAdjustRatio",
    "k8s_yaml_file", "k8s_config_file", "k8s_namespace",
}  # fmt: skip
# harvestermisc/k8s_utils.py create_job_from_yaml: it reads metadata.name and appends the
# worker ID, keeps what the container sets under resources, image and command, and adds
# its own volumes; info_utils_k8s.py: the CRIC associated parameter naming the namespace.
HARVESTER_NAMESPACE_PARAMETER = "k8s.namespace"
# harvestercredmanager/k8s_secret_cred_manager.py: secret_name defaults to "proxy-secret".
HARVESTER_PROXY_SECRET = "proxy-secret"


class RenderedCluster:
    """The calls queue.read makes, answered from a render: the objects as installed."""

    def __init__(self, objects: list[Manifest]):
        self.objects = objects

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None,
        selector: str | None = None, fields: str | None = None,
    ) -> list[Manifest]:  # fmt: skip
        wanted = dict(part.split("=", 1) for part in selector.split(",")) if selector else {}
        return [
            o for o in self.objects
            if o["kind"] == kind and o["metadata"].get("namespace") == namespace
            and all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]  # fmt: skip

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        found = [o for o in self.list_objects(api_version, kind, namespace)
                 if o["metadata"]["name"] == name]  # fmt: skip
        return found[0] if found else None

    def endpoint(self) -> tuple[str, bytes]:
        return SERVER, b""


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> list[Manifest]:
    objects = helm.template("batch", VALUES, namespace=NS)
    # As the API server returns it: quantities in canonical form, 1000 as "1k".
    one(objects, "ResourceQuota")["spec"]["hard"]["count/jobs.batch"] = "1k"
    return objects


@pytest.fixture(scope="module")
def installed(rendered: list[Manifest]) -> queue.Queue:
    return queue.read(RenderedCluster(rendered), NS)  # type: ignore[arg-type]


def test_the_queue_is_read_from_what_the_chart_installs(
    installed: queue.Queue, rendered: list[Manifest]
) -> None:
    assert (installed.endpoint, installed.namespace, installed.release) == (SERVER, NS, "t")
    assert (installed.cpu, installed.memory) == ("2", "4Gi")
    assert installed.image == "docker.io/library/almalinux:9.6"
    assert installed.max_seconds == 172800
    assert installed.scratch == ("/scratch", "20Gi")
    assert installed.cvmfs == queue.Cvmfs("cvmfs", "/cvmfs", ["atlas.cern.ch", "sft.cern.ch"])
    assert installed.quota == one(rendered, "ResourceQuota")["spec"]["hard"]
    # 64 CPUs / 2, 100Gi / 4Gi, 40 pods, 1000 jobs: the pods are the limit.
    assert installed.max_jobs() == 25
    assert replace(installed, quota={}).max_jobs() is None


def test_a_namespace_without_a_queue_is_a_clear_error(helm: Helm) -> None:
    condor = helm.template("batch", {**VALUES, "mode": "htcondor"}, namespace=NS)
    with pytest.raises(SiteboxError, match="no batch queue in namespace 'batch'") as err:
        queue.read(RenderedCluster(condor), NS)  # type: ignore[arg-type]
    assert "htcondor mode" in (err.value.hint or "")


def test_harvester_entry_uses_only_keys_harvester_reads(installed: queue.Queue) -> None:
    paths = harvester.Paths(kubeconfig="/etc/k8s/batch.kubeconfig", job_yaml="/etc/k8s/job.yaml")
    entry = harvester.entry(installed, "UNI_K8S", paths)
    assert list(entry) == ["UNI_K8S"]
    settings = entry["UNI_K8S"]
    assert set(settings) <= HARVESTER_QUEUE_KEYS
    for role, (module, name, keys) in K8S_PLUGINS.items():
        plugin = settings[role]
        assert (plugin["module"], plugin["name"]) == (module, name)
        assert set(plugin) - PLUGIN_KEYS <= keys | WIKI_PLUGIN_KEYS, role
    # "common" is copied into every plugin: only keys the three plugins read.
    every = set.union(*(keys for _, _, keys in K8S_PLUGINS.values())) | WIKI_PLUGIN_KEYS
    assert set(settings["common"]) <= every
    assert settings["common"]["k8s_config_file"] == "/etc/k8s/batch.kubeconfig"
    assert settings["common"]["k8s_namespace"] == NS
    assert settings["submitter"]["k8s_yaml_file"] == "/etc/k8s/job.yaml"
    # The submitter refuses to submit without it.
    assert settings["submitter"]["proxySecretPath"].startswith("/proxy/")
    assert settings["maxWorkers"] == 25
    assert harvester.cric_parameters(installed) == {HARVESTER_NAMESPACE_PARAMETER: NS}


def test_harvester_job_keeps_the_sites_shape_and_leaves_harvester_its_parts(
    installed: queue.Queue,
) -> None:
    job = harvester.job(installed)
    site = installed.job
    assert job["metadata"]["name"] and "generateName" not in job["metadata"]
    assert "namespace" not in job["metadata"], "Harvester creates it in CRIC's namespace"
    assert job["spec"]["activeDeadlineSeconds"] == site["spec"]["activeDeadlineSeconds"]
    pod, site_pod = job["spec"]["template"]["spec"], site["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    site_container = site_pod["containers"][0]
    assert container["resources"] == site_container["resources"]
    assert container["resources"]["requests"]["cpu"] == "2"
    assert container["image"] == installed.image
    assert "command" not in container and "args" not in container, "Harvester's pilot starts"
    assert not any(e["name"] == "TMPDIR" for e in container.get("env", []))
    assert "affinity" not in pod and "metadata" not in job["spec"]["template"]
    assert pod["securityContext"] == site_pod["securityContext"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["cvmfs"] == "/cvmfs" and mounts["scratch"] == "/scratch"
    proxy = next(v for v in pod["volumes"] if v["name"] == "proxy")
    assert proxy["secret"]["secretName"] == HARVESTER_PROXY_SECRET
    entry = harvester.entry(installed, "Q", harvester.Paths("k", "j"))
    assert entry["Q"]["submitter"]["proxySecretPath"].startswith(mounts["proxy"] + "/")
    assert installed.job["spec"]["template"]["spec"].get("affinity"), "the site's is untouched"


def test_generic_form_follows_its_schema(installed: queue.Queue) -> None:
    doc = generic.document(installed, "uni", "uni", SERVER, "/etc/k8s/batch.kubeconfig")
    Draft202012Validator(schema("queueconfig")).validate(doc)
    spec = doc["spec"]
    assert (spec["endpoint"], spec["namespace"]) == (SERVER, NS)
    assert (spec["job"]["cpu"], spec["job"]["memory"]) == ("2", "4Gi")
    repositories = ["atlas.cern.ch", "sft.cern.ch"]
    assert spec["cvmfs"] == {
        "claimName": "cvmfs",
        "mountPath": "/cvmfs",
        "repositories": repositories,
    }
    assert spec["quota"]["pods"] == "40" and spec["maxJobs"] == 25


def test_files_name_the_paths_of_the_workload_managers_host(
    installed: queue.Queue, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "batch-submitter.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": SERVER}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": NS}}],
        })
    )  # fmt: skip
    scoped = queueconfig.Submitter(kubeconfig, written=False)
    out = tmp_path / "out" / "uni.json"
    written = queueconfig.write(installed, "harvester", out, "UNI", "uni", scoped, "/opt/k8s")
    assert written.job == out.with_name("uni.job.yaml")
    entry = yaml.safe_load(out.read_text())["UNI"]
    assert entry["common"]["k8s_config_file"] == "/opt/k8s/batch-submitter.kubeconfig"
    assert entry["submitter"]["k8s_yaml_file"] == "/opt/k8s/uni.job.yaml"
    assert yaml.safe_load(written.job.read_text())["kind"] == "Job"
    plain = queueconfig.write(installed, "generic", tmp_path / "q.yaml", "uni", None, scoped, None)
    doc = yaml.safe_load(plain.config.read_text())
    assert doc["spec"]["kubeconfig"] == str(kubeconfig.absolute())
    assert "token" not in plain.config.read_text()


def test_the_submitter_gets_harvesters_rights_only_when_asked(helm: Helm) -> None:
    def granted(manifests: list[Manifest]) -> dict[tuple[str, str], list[str]]:
        rules = one(manifests, "Role")["rules"]
        return {(r["resources"][0], ",".join(r.get("resourceNames", []))): sorted(r["verbs"])
                for r in rules}  # fmt: skip

    plain = helm.template("batch", VALUES, namespace=NS)
    assert not any(res in ("configmaps", "secrets") for res, _ in granted(plain))
    assert not [m for m in plain if m["kind"] == "Secret"]
    asked = helm.template("batch", {**VALUES, "queue": {"harvester": True}}, namespace=NS)
    rights = granted(asked)
    assert rights[("configmaps", "")] == ["create", "delete", "get", "patch"]
    assert rights[("secrets", HARVESTER_PROXY_SECRET)] == ["get", "patch"]
    assert ("secrets", "") not in rights, "creating Secrets cannot be limited by name"
    assert one(asked, "Secret", HARVESTER_PROXY_SECRET, NS).get("data") is None
