"""The batch chart: budget, queue mode (RBAC, job template, CVMFS), HTCondor mode, validation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from tests.charts.conftest import CHARTS, Helm, Manifest, find, one

pytestmark = pytest.mark.chart

CHART = "batch"
NS = "sitebox-test"
HTCONDOR_KINDS = {"Deployment", "StatefulSet", "Service", "Secret"}


@pytest.fixture(scope="module")
def queue(helm: Helm) -> list[Manifest]:
    return helm.template(CHART)


@pytest.fixture(scope="module")
def htcondor(helm: Helm) -> list[Manifest]:
    values = {
        "mode": "htcondor",
        "htcondor": {
            "workers": {"count": 3},
            "flocking": {
                "to": ["cm.t1.example.org:9618", "cm2.t1.example.org"],
                "from": ["ap.t3.example.org"],
            },
        },
    }
    return helm.template(CHART, values)


def job_template(manifests: list[Manifest]) -> Manifest:
    config = one(manifests, "ConfigMap", "t-batch-job-template")
    job: Manifest = yaml.safe_load(config["data"]["job.yaml"])
    return job


def test_quota_and_limits_flow_through(helm: Helm) -> None:
    quota = {
        "requests.cpu": "32",
        "requests.memory": "100Gi",
        "limits.cpu": "40",
        "limits.memory": "120Gi",
        "pods": 77,
        "count/jobs.batch": 500,
    }
    limits = {"max": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "50Gi"}}
    manifests = helm.template(CHART, {"quota": quota, "limits": limits})
    hard = one(manifests, "ResourceQuota", namespace=NS)["spec"]["hard"]
    assert hard == {key: str(value) for key, value in quota.items()}
    (limit,) = one(manifests, "LimitRange", namespace=NS)["spec"]["limits"]
    assert limit["type"] == "Container"
    assert limit["max"] == limits["max"]
    assert limit["default"] == {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "10Gi"}


def test_queue_mode_renders_submitter_and_template_but_no_pool(queue: list[Manifest]) -> None:
    assert one(queue, "ServiceAccount")["metadata"]["name"] == "t-batch-submitter"
    binding = one(queue, "RoleBinding", "t-batch-submitter")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "t-batch-submitter",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "t-batch-submitter", "namespace": NS}
    ]
    assert not [m for m in queue if m["kind"] in HTCONDOR_KINDS]


def test_submitter_role_grants_exactly_what_a_workload_manager_needs(queue: list[Manifest]) -> None:
    rules = one(queue, "Role", "t-batch-submitter")["rules"]
    granted = {
        (group, resource): sorted(rule["verbs"])
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted == {
        ("batch", "jobs"): sorted(["create", "get", "list", "watch", "delete", "deletecollection"]),
        ("", "pods"): sorted(["get", "list", "watch", "delete"]),
        ("", "pods/log"): ["get"],
        ("", "events"): sorted(["get", "list", "watch"]),
    }
    assert all("*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"] for rule in rules)
    assert not any("resourceNames" in rule or "nonResourceURLs" in rule for rule in rules)


def test_job_template_packs_nodes_and_never_retries(queue: list[Manifest]) -> None:
    job = job_template(queue)
    assert job["kind"] == "Job"
    assert job["metadata"]["labels"]["sitebox.io/batch"] == "true"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 172800
    assert spec["ttlSecondsAfterFinished"] == 3600
    pod = spec["template"]
    assert pod["metadata"]["labels"]["sitebox.io/batch"] == "true"
    assert pod["spec"]["priorityClassName"] == "sitebox-production"
    assert pod["spec"]["restartPolicy"] == "Never"
    (term,) = pod["spec"]["affinity"]["podAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term == {
        "weight": 100,
        "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": {"sitebox.io/batch": "true"}},
        },
    }


def test_job_template_requests_equal_limits_and_scratch_counts_as_ephemeral(helm: Helm) -> None:
    values = {
        "job": {
            "cpu": "4",
            "memory": "8Gi",
            "ephemeralStorage": "10Gi",
            "scratch": {"sizeLimit": "6Gi"},
        }
    }
    (container,) = job_template(helm.template(CHART, values))["spec"]["template"]["spec"][
        "containers"
    ]
    resources = container["resources"]
    assert resources["requests"] == resources["limits"]
    assert resources["requests"] == {
        "cpu": "4",
        "memory": "8Gi",
        "ephemeral-storage": f"{16 * 1024}Mi",
    }


def test_job_template_mounts_scratch_and_cvmfs(queue: list[Manifest]) -> None:
    pod = job_template(queue)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {"sizeLimit": "20Gi"}}
    assert volumes["cvmfs"]["persistentVolumeClaim"] == {"claimName": "cvmfs", "readOnly": True}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["scratch"]["mountPath"] == "/scratch"
    assert mounts["cvmfs"] == {
        "name": "cvmfs",
        "mountPath": "/cvmfs",
        "readOnly": True,
        "mountPropagation": "HostToContainer",
    }


def test_cvmfs_claim_lists_repositories(helm: Helm) -> None:
    values = {
        "cvmfs": {
            "claimName": "sw",
            "driver": "cvmfs.example.org",
            "repositories": ["atlas.cern.ch", "sft.cern.ch"],
        }
    }
    manifests = helm.template(CHART, values)
    claim = one(manifests, "PersistentVolumeClaim", "sw")
    assert (
        claim["metadata"]["annotations"]["sitebox.io/cvmfs-repositories"]
        == "atlas.cern.ch,sft.cern.ch"
    )
    # Statically provisioned, as cvmfs-csi documents it: the claim names its volume, and
    # the volume names the driver and is reserved for this claim.
    assert claim["spec"] == {
        "storageClassName": "",
        "volumeName": f"cvmfs-{claim['metadata']['namespace']}",
        "accessModes": ["ReadOnlyMany"],
        "resources": {"requests": {"storage": 1}},
    }
    namespace = claim["metadata"]["namespace"]
    volume = one(manifests, "PersistentVolume", f"cvmfs-{namespace}")
    assert volume["spec"]["csi"] == {
        "driver": "cvmfs.example.org",
        "volumeHandle": f"cvmfs-{namespace}",
    }
    assert volume["spec"]["claimRef"] == {"namespace": namespace, "name": "sw"}
    assert volume["spec"]["storageClassName"] == ""
    pod = job_template(manifests)["spec"]["template"]["spec"]
    assert {"claimName": "sw", "readOnly": True} in [
        v.get("persistentVolumeClaim") for v in pod["volumes"]
    ]


def test_without_cvmfs_there_is_no_claim_and_no_mount(helm: Helm) -> None:
    manifests = helm.template(CHART, {"cvmfs": {"enabled": False}})
    assert not find(manifests, "PersistentVolumeClaim")
    pod = job_template(manifests)["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["scratch"]
    assert [m["name"] for m in pod["containers"][0]["volumeMounts"]] == ["scratch"]


def test_htcondor_mode_renders_the_pool(htcondor: list[Manifest]) -> None:
    cm = one(htcondor, "Deployment", "t-batch-cm")
    assert cm["spec"]["replicas"] == 1
    service = one(htcondor, "Service", "t-batch-cm")
    assert [p["port"] for p in service["spec"]["ports"]] == [9618]
    assert service["spec"]["selector"] == cm["spec"]["selector"]["matchLabels"]
    schedd = one(htcondor, "StatefulSet", "t-batch-submit")
    assert schedd["spec"]["replicas"] == 1
    (spool,) = schedd["spec"]["volumeClaimTemplates"]
    assert spool["spec"]["resources"]["requests"]["storage"] == "10Gi"
    execute = one(htcondor, "Deployment", "t-batch-execute")
    assert execute["spec"]["replicas"] == 3
    assert not find(htcondor, "Role") and not find(htcondor, "ServiceAccount")
    assert not find(htcondor, "ConfigMap", "t-batch-job-template")


def test_condor_config_points_at_the_central_manager_and_flocks(htcondor: list[Manifest]) -> None:
    config = one(htcondor, "ConfigMap", "t-batch-condor-config")["data"]["50-sitebox.conf"]
    lines = [line.strip() for line in config.splitlines()]
    assert f"CONDOR_HOST = t-batch-cm.{NS}.svc.cluster.local" in lines
    assert "FLOCK_TO = cm.t1.example.org:9618, cm2.t1.example.org" in lines
    assert "FLOCK_FROM = ap.t3.example.org" in lines


def test_no_flocking_by_default(helm: Helm) -> None:
    manifests = helm.template(CHART, {"mode": "htcondor"})
    config = one(manifests, "ConfigMap", "t-batch-condor-config")["data"]["50-sitebox.conf"]
    assert "FLOCK" not in config


def test_a_lone_pool_signs_tokens_with_its_own_key_and_condor_defaults(helm: Helm) -> None:
    manifests = helm.template(CHART, {"mode": "htcondor"})
    config = one(manifests, "ConfigMap", "t-batch-condor-config")["data"]["50-sitebox.conf"]
    assert "SEC_TOKEN_ISSUER_KEY = sitebox" in config
    assert "TRUST_DOMAIN" not in config and "UID_DOMAIN" not in config
    for workload in find(manifests, "Deployment") + find(manifests, "StatefulSet"):
        mounts = workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert {m["mountPath"] for m in mounts} >= {"/etc/condor/passwords.d/sitebox"}
        assert "checksum/signing-key" not in workload["spec"]["template"]["metadata"]["annotations"]


def test_a_shared_trust_names_the_key_and_the_trust_domain(helm: Helm) -> None:
    key = "a-signing-key-shared-by-two-pools"
    trust = {"keyName": "fleet-physics", "domain": "physics.example.org"}
    values = {"mode": "htcondor", "htcondor": {"tokenSigningKey": key, "trust": trust}}
    manifests = helm.template(CHART, values)
    config = one(manifests, "ConfigMap", "t-batch-condor-config")["data"]["50-sitebox.conf"]
    lines = [line.strip() for line in config.splitlines()]
    assert "SEC_TOKEN_ISSUER_KEY = fleet-physics" in lines
    assert "SEC_TOKEN_FETCH_ALLOWED_SIGNING_KEYS = fleet-physics" in lines
    assert "TRUST_DOMAIN = physics.example.org" in lines
    assert "UID_DOMAIN = physics.example.org" in lines
    secret = one(manifests, "Secret", "t-batch-token-signing-key")
    assert base64.b64decode(secret["data"]["signing_key"]).decode() == key
    for workload in find(manifests, "Deployment") + find(manifests, "StatefulSet"):
        template = workload["spec"]["template"]
        (mount,) = [
            m
            for m in template["spec"]["containers"][0]["volumeMounts"]
            if m["name"] == "signing-key"
        ]
        assert (mount["mountPath"], mount["subPath"]) == (
            "/etc/condor/passwords.d/fleet-physics",
            "signing_key",
        )
        assert key not in json.dumps(template), "only a digest of the key, to restart on a new one"
        assert template["metadata"]["annotations"]["checksum/signing-key"]


def test_the_pool_password_name_is_not_a_signing_key_name(helm: Helm) -> None:
    values = {"mode": "htcondor", "htcondor": {"trust": {"keyName": "POOL"}}}
    assert "keyName" in helm.template_error(CHART, values)


def test_execute_slot_matches_the_worker_resources(helm: Helm) -> None:
    resources = {
        "requests": {"cpu": "8", "memory": "32Gi"},
        "limits": {"cpu": "8", "memory": "32Gi"},
    }
    values = {"mode": "htcondor", "htcondor": {"workers": {"resources": resources}}}
    manifests = helm.template(CHART, values)
    execute = one(manifests, "ConfigMap", "t-batch-condor-config")["data"]["60-execute.conf"]
    assert "NUM_CPUS = 8" in execute
    assert f"MEMORY = {32 * 1024}" in execute
    (container,) = one(manifests, "Deployment", "t-batch-execute")["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["resources"] == resources


def test_supplied_pool_password_is_used_and_kept(helm: Helm) -> None:
    password = "a-pool-password-of-some-length"
    manifests = helm.template(CHART, {"mode": "htcondor", "htcondor": {"poolPassword": password}})
    secret = one(manifests, "Secret", "t-batch-pool-password")
    assert base64.b64decode(secret["data"]["pool_password"]).decode() == password
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_secrets_are_generated_when_not_supplied(htcondor: list[Manifest]) -> None:
    for name, key in [
        ("t-batch-pool-password", "pool_password"),
        ("t-batch-token-signing-key", "signing_key"),
    ]:
        secret = one(htcondor, "Secret", name)
        value = base64.b64decode(secret["data"][key]).decode()
        assert len(value) == 32 and value.isalnum(), name
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_every_daemon_has_resources_probes_and_a_security_context(htcondor: list[Manifest]) -> None:
    workloads = find(htcondor, "Deployment") + find(htcondor, "StatefulSet")
    assert len(workloads) == 3
    for workload in workloads:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            name = container["name"]
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
            assert not container["image"].endswith(":latest"), name
            for probe in ("readinessProbe", "livenessProbe"):
                if name == "execute":
                    assert container[probe]["exec"]["command"][0] == "condor_who"
                else:
                    assert container[probe]["tcpSocket"]["port"] == "condor"
                    assert {
                        "name": "condor",
                        "containerPort": 9618,
                        "protocol": "TCP",
                    } in container["ports"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"job": {"cpu": "8"}, "quota": {"requests.cpu": "4"}},
            "quota.requests.cpu (4) is smaller than one job's request job.cpu (8)",
        ),
        (
            {"job": {"memory": "16Gi"}, "quota": {"requests.memory": "8Gi"}},
            "quota.requests.memory (8Gi) is smaller than one job's request job.memory (16Gi)",
        ),
        (
            {"job": {"priorityClassName": "urgent"}},
            'job.priorityClassName "urgent" is not one of priorityClasses',
        ),
        (
            {"mode": "htcondor", "htcondor": {"workers": {"count": 0}}},
            "'/htcondor/workers/count': minimum: got 0, want 1",
        ),
        (
            {"mode": "htcondor", "htcondor": {"workers": {"count": -1}}},
            "'/htcondor/workers/count': minimum: got -1, want 1",
        ),
        (
            {"mode": "htcondor", "htcondor": {"poolPassword": "too-short"}},
            "'/htcondor/poolPassword': minLength: got 9, want 16",
        ),
        ({"job": {"memory": "4GB"}}, "'/job/memory': '4GB' does not match pattern"),
        ({"mode": "slurm"}, "'/mode'"),
        (
            {"htcondor": {"cm": {"image": {"repository": "htcondor/cm", "tag": "latest"}}}},
            "'/htcondor/cm/image/tag'",
        ),
        (
            {"mode": "htcondor", "htcondor": {"workers": {"count": 100}}},
            "quota.requests.cpu (64) is smaller than the HTCondor pool's requests",
        ),
        (
            {"job": {"cpu": "32"}, "quota": {"requests.cpu": "64", "limits.cpu": "64"}},
            "limits.max.cpu (16) is smaller than one job's job.cpu (32)",
        ),
    ],
    ids=[
        "quota-cpu",
        "quota-memory",
        "priority-class",
        "workers-0",
        "workers-minus-1",
        "short-password",
        "memory-4GB",
        "mode-enum",
        "latest-tag",
        "pool-over-quota",
        "limit-max",
    ],
)
def test_bad_values_fail_naming_the_key(helm: Helm, values: dict[str, Any], expected: str) -> None:
    assert expected in helm.template_error(CHART, values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"mode": "htcondor", "htcondor": {"workers": {"count": 0}}},
            "htcondor.workers.count is 0; an HTCondor pool needs at least 1",
        ),
        (
            {"mode": "htcondor", "htcondor": {"tokenSigningKey": "short"}},
            "htcondor.tokenSigningKey is 5 characters long; it must have at least 16",
        ),
        ({"job": {"memory": "4GB"}}, 'job.memory: "4GB" is not a Kubernetes quantity'),
    ],
    ids=["workers-0", "short-signing-key", "memory-4GB"],
)
def test_templates_fail_too_when_the_schema_is_skipped(
    helm: Helm, values: dict[str, Any], expected: str
) -> None:
    assert expected in helm.template_error(CHART, values, "--skip-schema-validation")


@pytest.mark.parametrize(
    ("resource", "job", "quota", "fits"),
    [
        ("cpu", "2", "2000m", True),
        ("cpu", "2", "1500m", False),
        ("cpu", "250m", "0.25", True),
        ("memory", "2Gi", "2048Mi", True),
        ("memory", "2Gi", "2047Mi", False),
        ("memory", "2Gi", "3G", True),
        ("memory", "2Gi", "2G", False),
        ("memory", "1Ti", "1024Gi", True),
        ("memory", "1500k", "1Mi", False),
    ],
)
def test_quota_comparison_understands_quantity_suffixes(
    helm: Helm, resource: str, job: str, quota: str, fits: bool
) -> None:
    values = {
        "job": {resource: job},
        "quota": {f"requests.{resource}": quota, f"limits.{resource}": quota},
        "limits": None,  # null removes the default LimitRange and its max
    }
    result = helm.run("template", "t", str(CHARTS / CHART), values=values)
    assert (result.returncode == 0) is fits, result.stderr
    if not fits:
        assert f"quota.requests.{resource} ({quota}) is smaller than one job's" in result.stderr


def test_null_removes_quota_and_limit_range(helm: Helm) -> None:
    manifests = helm.template(CHART, {"quota": None, "limits": None})
    assert not find(manifests, "ResourceQuota") and not find(manifests, "LimitRange")


@pytest.mark.parametrize("mode", ["queue", "htcondor"])
def test_namespace_override_moves_every_object(helm: Helm, mode: str) -> None:
    """Inside the site umbrella the release lives elsewhere; the connector must not."""
    manifests = helm.template(CHART, {"mode": mode, "namespaceOverride": "grid"})
    namespaced = [m for m in manifests if m["kind"] not in ("PriorityClass", "PersistentVolume")]
    assert {m["metadata"].get("namespace") for m in namespaced} == {"grid"}
    if mode == "htcondor":
        config = one(manifests, "ConfigMap", namespace="grid")
        assert ".grid.svc." in json.dumps(config)
