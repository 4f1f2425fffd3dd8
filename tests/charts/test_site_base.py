"""The site-base chart: namespaces, budgets, priority classes, network policies, site info."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.charts.conftest import Helm, Manifest, find, one

pytestmark = pytest.mark.chart

CHART = "site-base"
NAMESPACES = ["hub", "dask", "batch", "storage", "workflow"]


@pytest.fixture(scope="module")
def default(helm: Helm) -> list[Manifest]:
    return helm.template(CHART)


def test_every_namespace_carries_pod_security_labels_and_is_kept(default: list[Manifest]) -> None:
    namespaces = {m["metadata"]["name"]: m for m in find(default, "Namespace")}
    assert sorted(namespaces) == sorted(NAMESPACES)
    for name, ns in namespaces.items():
        labels = ns["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline", name
        assert labels["pod-security.kubernetes.io/enforce-version"] == "latest", name
        assert labels["pod-security.kubernetes.io/audit"] == "restricted", name
        assert labels["pod-security.kubernetes.io/warn"] == "restricted", name
        assert labels["app.kubernetes.io/part-of"] == "sitebox", name
        assert ns["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", name


def test_namespace_name_and_pod_security_come_from_values(helm: Helm) -> None:
    values = {
        "namespaces": {"storage": {"enabled": True, "name": "s3", "podSecurity": "privileged"}}
    }
    ns = one(helm.template(CHART, values), "Namespace", "s3")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_disabled_namespace_renders_nothing(helm: Helm) -> None:
    manifests = helm.template(CHART, {"namespaces": {"workflow": {"enabled": False}}})
    assert not find(manifests, "Namespace", "workflow")
    assert not [m for m in manifests if m["metadata"].get("namespace") == "workflow"]


def test_quota_values_flow_into_the_resource_quota(helm: Helm) -> None:
    quota = {
        "requests.cpu": "48",
        "requests.memory": "192Gi",
        "limits.cpu": "96",
        "limits.memory": "384Gi",
        "pods": 150,
        "persistentvolumeclaims": 30,
        "requests.nvidia.com/gpu": 4,
    }
    manifests = helm.template(CHART, {"namespaces": {"hub": {"enabled": True, "quota": quota}}})
    hard = one(manifests, "ResourceQuota", namespace="hub")["spec"]["hard"]
    assert hard == {key: str(value) for key, value in quota.items()}


def test_namespace_without_quota_gets_no_resource_quota(default: list[Manifest]) -> None:
    assert [m["metadata"]["namespace"] for m in find(default, "ResourceQuota")] == ["dask"]


def test_limit_range_sets_container_defaults_and_max(default: list[Manifest]) -> None:
    limits = one(default, "LimitRange", namespace="dask")["spec"]["limits"]
    assert limits == [
        {
            "type": "Container",
            "default": {"cpu": "1", "memory": "4Gi"},
            "defaultRequest": {"cpu": "1", "memory": "4Gi"},
            "max": {"cpu": "8", "memory": "32Gi"},
        }
    ]


def test_priority_classes_are_ordered_and_opportunistic_is_preemptible(
    default: list[Manifest],
) -> None:
    classes = {m["metadata"]["name"]: m for m in find(default, "PriorityClass")}
    production = classes["sitebox-production"]
    analysis = classes["sitebox-analysis"]
    opportunistic = classes["sitebox-opportunistic"]
    assert production["value"] > analysis["value"] > opportunistic["value"]
    assert opportunistic["value"] < 0  # below pods that name no class
    assert opportunistic["preemptionPolicy"] == "PreemptLowerPriority"
    assert "preemptible" in opportunistic["description"]
    assert not any(c["globalDefault"] for c in classes.values())


def test_priority_class_prefix_and_switch(helm: Helm) -> None:
    names = {
        m["metadata"]["name"]
        for m in find(helm.template(CHART, {"priorityClasses": {"prefix": "t2"}}), "PriorityClass")
    }
    assert names == {"t2-production", "t2-analysis", "t2-opportunistic"}
    off = helm.template(CHART, {"priorityClasses": {"create": False}})
    assert not find(off, "PriorityClass")


def test_every_namespace_denies_ingress_by_default(default: list[Manifest]) -> None:
    for name in NAMESPACES:
        deny = one(default, "NetworkPolicy", "sitebox-default-deny-ingress", name)["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
        same = one(default, "NetworkPolicy", "sitebox-allow-same-namespace", name)["spec"]
        assert same["ingress"] == [{"from": [{"podSelector": {}}]}]


def test_allow_from_names_the_other_namespace_by_its_real_name(helm: Helm) -> None:
    values = {"namespaces": {"hub": {"enabled": True, "name": "jhub"}}}
    policy = one(
        helm.template(CHART, values), "NetworkPolicy", "sitebox-allow-from-namespaces", "dask"
    )
    selectors = [rule["namespaceSelector"] for rule in policy["spec"]["ingress"][0]["from"]]
    assert selectors == [{"matchLabels": {"kubernetes.io/metadata.name": "jhub"}}]


def test_ingress_controller_namespace_is_configurable(helm: Helm) -> None:
    manifests = helm.template(
        CHART, {"networkPolicies": {"ingressController": {"namespace": "traefik"}}}
    )
    policy = one(manifests, "NetworkPolicy", "sitebox-allow-from-ingress-controller", "hub")
    selector = {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}
    assert policy["spec"]["ingress"] == [{"from": [{"namespaceSelector": selector}]}]
    # batch is not reachable from the ingress controller by default
    assert not find(manifests, "NetworkPolicy", "sitebox-allow-from-ingress-controller", "batch")


def test_ingress_controller_selector_replaces_the_namespace(helm: Helm) -> None:
    selector = {"matchExpressions": [{"key": "role", "operator": "In", "values": ["ingress"]}]}
    values = {"networkPolicies": {"ingressController": {"namespaceSelector": selector}}}
    manifests = helm.template(CHART, values)
    policy = one(manifests, "NetworkPolicy", "sitebox-allow-from-ingress-controller", "hub")
    assert policy["spec"]["ingress"] == [{"from": [{"namespaceSelector": selector}]}]


def test_network_policies_can_be_switched_off(helm: Helm) -> None:
    assert not find(helm.template(CHART, {"networkPolicies": {"enabled": False}}), "NetworkPolicy")


def test_site_info_config_map_for_sitebox_status(helm: Helm) -> None:
    site = {
        "name": "cern-t2",
        "domain": "t2.example.ch",
        "distribution": "0.2.0",
        "profile": "tier2",
        "components": ["jupyterhub", "batch"],
    }
    manifests = helm.template(CHART, {"site": site}, namespace="sitebox-system")
    info = one(manifests, "ConfigMap", "sitebox-site-info")
    assert info["metadata"]["namespace"] == "sitebox-system"
    data: dict[str, Any] = dict(info["data"])
    assert json.loads(data.pop("components")) == ["jupyterhub", "batch"]
    assert data == {
        "site": "cern-t2",
        "domain": "t2.example.ch",
        "distribution": "0.2.0",
        "profile": "tier2",
    }


def test_standard_labels_on_every_object(default: list[Manifest]) -> None:
    for manifest in default:
        labels = manifest["metadata"]["labels"]
        assert labels["helm.sh/chart"] == "site-base-0.2.0"
        assert labels["app.kubernetes.io/name"] == "site-base"
        assert labels["app.kubernetes.io/instance"] == "t"
        assert labels["app.kubernetes.io/version"] == "0.2.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/part-of"] == "sitebox"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"site": {"name": "CERN_T2"}}, "/site/name"),
        ({"site": {"name": None}}, "at '/site': missing property 'name'"),
        (
            {"namespaces": {"dask": {"enabled": True, "quota": {"requests.memory": "4GB"}}}},
            "/namespaces/dask/quota/requests.memory",
        ),
        (
            {"namespaces": {"hub": {"enabled": True, "podSecurity": "strict"}}},
            "/namespaces/hub/podSecurity",
        ),
        (
            {"namespaces": {"dask": {"enabled": True, "allowFrom": ["jupyter"]}}},
            'namespaces.dask.allowFrom: "jupyter" is not a key of namespaces',
        ),
        (
            {"namespaces": {"workflow": {"enabled": True, "name": "hub"}}},
            'namespace "hub" is also used by namespaces.',
        ),
        ({"sitee": {}}, "additional properties 'sitee' not allowed"),
    ],
    ids=[
        "site-name-pattern",
        "site-name-missing",
        "memory-4GB",
        "pss-level",
        "allow-from-unknown",
        "duplicate-name",
        "unknown-key",
    ],
)
def test_bad_values_fail_naming_the_key(helm: Helm, values: dict[str, Any], expected: str) -> None:
    assert expected in helm.template_error(CHART, values)


def test_cvmfs_claim_for_notebook_servers_only_when_enabled(
    default: list[Manifest], helm: Helm
) -> None:
    assert not find(default, "PersistentVolumeClaim")
    values = {"cvmfs": {"enabled": True, "repositories": ["atlas.cern.ch", "sft.cern.ch"]}}
    claim = one(helm.template(CHART, values, namespace="sitebox"), "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "cvmfs"
    assert claim["metadata"]["namespace"] == "sitebox", "the release's: the notebook servers'"
    assert claim["spec"]["storageClassName"] == "", "statically provisioned"
    assert claim["spec"]["volumeName"] == "cvmfs-sitebox"
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    volume = one(helm.template(CHART, values, namespace="sitebox"), "PersistentVolume")
    assert volume["metadata"]["name"] == "cvmfs-sitebox"
    assert volume["spec"]["csi"]["driver"] == "cvmfs.csi.cern.ch"
    assert volume["spec"]["claimRef"] == {"namespace": "sitebox", "name": "cvmfs"}
    annotations = claim["metadata"]["annotations"]
    assert annotations["sitebox.io/cvmfs-repositories"] == "atlas.cern.ch,sft.cern.ch"
    # No data in it (the driver serves the repositories): it goes with the release.
    assert "helm.sh/resource-policy" not in annotations
