"""Site policies on rendered manifests, and waivers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sitebox.render.findings import Finding, has_errors
from sitebox.render.policy import check_policies, image_reference

pytestmark = pytest.mark.unit

RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "256Mi"},
}
PROBE = {"httpGet": {"path": "/health", "port": 8080}}


def container(name: str = "app", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "image": "registry.example.org/app:1.2.3",
        "resources": copy.deepcopy(RESOURCES),
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
        "readinessProbe": PROBE,
        "livenessProbe": PROBE,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def deployment(*containers: dict[str, Any], name: str = "web", **pod: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "site"},
        "spec": {"template": {"spec": {"containers": list(containers or [container()]), **pod}}},
    }


def job(*containers: dict[str, Any], name: str = "migrate") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": list(containers), "restartPolicy": "Never"}}},
    }


def by_check(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_compliant_deployment_passes_every_policy() -> None:
    assert check_policies([deployment()]) == []


def test_objects_without_pods_are_ignored() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {}}
    assert check_policies([service]) == []


def test_missing_requests_and_memory_limit_is_an_error() -> None:
    findings = check_policies([deployment(container(resources={"limits": {"cpu": "1"}}))])
    [finding] = by_check(findings, "policy/requests-limits")
    assert finding.severity == "error"
    assert finding.container == "app"
    assert "resources.requests.cpu" in finding.message
    assert "resources.requests.memory" in finding.message
    assert "resources.limits.memory" in finding.message


def test_missing_cpu_limit_is_only_a_warning() -> None:
    resources = {"requests": RESOURCES["requests"], "limits": {"memory": "256Mi"}}
    findings = check_policies([deployment(container(resources=resources))])
    [finding] = by_check(findings, "policy/requests-limits")
    assert finding.severity == "warning"
    assert "limits.cpu" in finding.message
    assert not has_errors(findings)


def test_pod_level_resources_count_for_containers() -> None:
    pod = deployment(container(resources=None), resources=copy.deepcopy(RESOURCES))
    assert by_check(check_policies([pod]), "policy/requests-limits") == []


def test_init_containers_need_resources_too() -> None:
    init = container("setup", resources=None, readinessProbe=None, livenessProbe=None)
    findings = check_policies([deployment(container(), initContainers=[init])])
    assert [(f.container, f.severity) for f in by_check(findings, "policy/requests-limits")] == [
        ("setup", "error"),
        ("setup", "warning"),
    ]


@pytest.mark.parametrize("image", ["nginx", "nginx:latest", "registry:5000/app"])
def test_untagged_or_latest_images_are_errors(image: str) -> None:
    findings = by_check(check_policies([deployment(container(image=image))]), "policy/image-tag")
    assert [(f.severity, f.container) for f in findings] == [("error", "app")]
    assert image in findings[0].message


@pytest.mark.parametrize(
    "image",
    ["registry:5000/app:1.2", "nginx:1.27", "quay.io/org/app@sha256:" + "a" * 64],
)
def test_tagged_or_digest_images_pass(image: str) -> None:
    assert by_check(check_policies([deployment(container(image=image))]), "policy/image-tag") == []


def test_registry_port_is_not_a_tag() -> None:
    assert image_reference("registry:5000/app") == (None, None)
    assert image_reference("registry:5000/app:1.2") == ("1.2", None)
    assert image_reference("app:1.2@sha256:abc") == ("1.2", "sha256:abc")


def test_run_as_user_zero_is_root_even_without_run_as_non_root() -> None:
    ctx = {"runAsUser": 0}
    findings = by_check(
        check_policies([deployment(container(securityContext=ctx))]), "policy/non-root"
    )
    [finding] = findings
    assert "runAsUser is 0" in finding.message


def test_no_security_context_may_run_as_root() -> None:
    findings = check_policies([deployment(container(securityContext=None))])
    [finding] = by_check(findings, "policy/non-root")
    assert "may run as root" in finding.message


def test_pod_level_run_as_non_root_is_inherited() -> None:
    pod = deployment(container(securityContext=None), securityContext={"runAsNonRoot": True})
    assert by_check(check_policies([pod]), "policy/non-root") == []


def test_container_user_overrides_pod_user() -> None:
    root_pod = deployment(
        container(securityContext={"runAsUser": 1000}), securityContext={"runAsUser": 0}
    )
    root_container = deployment(
        container(securityContext={"runAsUser": 0}), securityContext={"runAsNonRoot": True}
    )
    assert by_check(check_policies([root_pod]), "policy/non-root") == []
    assert len(by_check(check_policies([root_container]), "policy/non-root")) == 1


def test_long_running_container_needs_both_probes() -> None:
    startup_only = container(readinessProbe=None, livenessProbe=None, startupProbe=PROBE)
    [finding] = by_check(check_policies([deployment(startup_only)]), "policy/probes")
    assert "readinessProbe" in finding.message
    assert "livenessProbe" in finding.message
    assert "startupProbe" in finding.message


def test_job_without_probes_passes_probes() -> None:
    no_probes = container(readinessProbe=None, livenessProbe=None)
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [no_probes]}}}}},
    }
    assert check_policies([job(no_probes), cronjob]) == []


def test_cronjob_pod_template_is_found() -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [container(image="x")]}}}}
        },
    }
    [finding] = check_policies([cronjob])
    assert (finding.check, finding.kind, finding.name) == ("policy/image-tag", "CronJob", "nightly")


def test_init_container_without_probes_passes_probes() -> None:
    init = container("setup", readinessProbe=None, livenessProbe=None)
    assert check_policies([deployment(container(), initContainers=[init])]) == []


def test_run_to_completion_pod_needs_no_probes() -> None:
    no_probes = container(readinessProbe=None, livenessProbe=None)
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    pod["spec"] = {"containers": [no_probes], "restartPolicy": "Never"}
    assert check_policies([pod]) == []
    pod["spec"]["restartPolicy"] = "Always"
    assert [f.check for f in check_policies([pod])] == ["policy/probes"]


@pytest.mark.parametrize(
    "key", ["image-tag", "image-tag/Deployment/web", "image-tag/Deployment/web/app"]
)
def test_waiver_at_each_granularity(key: str) -> None:
    findings = check_policies([deployment(container(image="nginx"))], {key: "upstream pins it"})
    [finding] = findings
    assert (finding.severity, finding.waiver) == ("waived", "upstream pins it")


def test_waiver_only_covers_what_it_names() -> None:
    manifests = [
        deployment(container(image="nginx"), container("side", image="busybox")),
        deployment(container(image="nginx"), name="other"),
    ]
    findings = check_policies(manifests, {"image-tag/Deployment/web/app": "vendor image"})
    assert [(f.name, f.container, f.severity) for f in findings] == [
        ("web", "app", "waived"),
        ("web", "side", "error"),
        ("other", "app", "error"),
    ]


def test_waiver_kind_is_case_sensitive() -> None:
    findings = check_policies(
        [deployment(container(image="nginx"))], {"image-tag/deployment/web": "x"}
    )
    assert sorted(f.severity for f in findings) == ["error", "warning"]


def test_most_specific_waiver_reason_wins() -> None:
    waivers = {"image-tag": "broad", "image-tag/Deployment/web/app": "specific"}
    findings = check_policies([deployment(container(image="nginx"))], waivers)
    assert [f.waiver for f in findings] == ["specific"]  # the broad one is used, not stale


def test_waiver_without_reason_is_an_error_and_waives_nothing() -> None:
    findings = check_policies([deployment(container(image="nginx"))], {"image-tag": "  "})
    assert sorted((f.check, f.severity) for f in findings) == [
        ("policy/image-tag", "error"),
        ("policy/waivers", "error"),
    ]
    waiver = by_check(findings, "policy/waivers")[0]
    assert "a waiver needs a stated reason" in waiver.message


def test_unused_waiver_is_a_warning() -> None:
    findings = check_policies([deployment()], {"non-root/Deployment/gone": "old sidecar"})
    [finding] = findings
    assert (finding.check, finding.severity, finding.name) == (
        "policy/waivers",
        "warning",
        "non-root/Deployment/gone",
    )
    assert "unused waiver" in finding.message


def test_misspelt_policy_in_waiver_gets_a_suggestion() -> None:
    [finding] = check_policies([deployment()], {"image-tags": "typo"})
    assert "did you mean 'image-tag'" in finding.hint
