"""Rendered manifests against the offline Kubernetes OpenAPI schemas."""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from sitebox.errors import SiteboxError
from sitebox.render.openapi import check_openapi, schema_version, skipped_kinds

pytestmark = pytest.mark.unit


def deployment(**spec: Any) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "site"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.27",
                            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                        }
                    ]
                },
            },
            **spec,
        },
    }


CUSTOM = {
    "apiVersion": "gateway.dask.org/v1alpha1",
    "kind": "DaskCluster",
    "metadata": {"name": "dask"},
    "spec": {"anything": "goes"},
}


def test_valid_deployment_has_no_finding() -> None:
    assert check_openapi([deployment()], "1.36") == []


def test_unknown_field_is_caught_in_strict_mode_with_path() -> None:
    [finding] = check_openapi([deployment(replicsa=3)], "1.36")
    assert (finding.check, finding.severity, finding.kind, finding.name) == (
        "openapi",
        "error",
        "Deployment",
        "web",
    )
    assert finding.message.startswith("spec.replicsa:")
    assert "did you mean 'replicas'" in finding.hint


def test_unknown_field_passes_when_not_strict() -> None:
    assert check_openapi([deployment(replicsa=3)], "1.36", strict=False) == []


def test_wrong_type_is_caught() -> None:
    [finding] = check_openapi([deployment(replicas="three")], "1.36")
    assert finding.message == "spec.replicas: expected integer, got string 'three'"


def test_nested_path_names_the_container() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = [1]
    [finding] = check_openapi([obj], "1.36")
    assert finding.message.startswith("spec.template.spec.containers[0].resources.limits.cpu:")


def test_every_error_of_an_object_is_reported() -> None:
    findings = check_openapi([deployment(replicas="three", replicsa=3)], "1.36")
    assert sorted(f.message.split(":")[0] for f in findings) == ["spec.replicas", "spec.replicsa"]


def test_agrees_with_kubernetes_validate() -> None:
    # We validate against the package's definitions ourselves; its own entry point must agree.
    obj = deployment(replicas="three")
    with pytest.raises(kubernetes_validate.ValidationError) as caught:
        kubernetes_validate.validate(obj, "1.36", strict=True)
    [finding] = check_openapi([obj], "1.36")
    assert finding.message.startswith(".".join(str(p) for p in caught.value.path) + ":")


def test_custom_resource_is_skipped_and_reported() -> None:
    assert check_openapi([CUSTOM, deployment()], "1.36") == []
    assert skipped_kinds([CUSTOM, deployment()], "1.36") == {"DaskCluster"}


def test_removed_api_version_of_a_builtin_kind_is_an_error() -> None:
    pdb = {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"}}
    [finding] = check_openapi([pdb], "1.36")
    assert "not served by Kubernetes 1.36" in finding.message
    assert "policy/v1" in finding.hint
    assert skipped_kinds([pdb], "1.36") == set()


def test_document_without_kind_is_an_error() -> None:
    [finding] = check_openapi([{"metadata": {"name": "x"}}], "1.36")
    assert "apiVersion or kind is missing" in finding.message


@pytest.mark.parametrize("version", ["v1.36.3", "1.36", "1.36.0", "v1.36.0-rc.1"])
def test_version_spellings(version: str) -> None:
    assert schema_version(version).minor == "1.36"
    assert check_openapi([deployment()], version) == []
    assert len(check_openapi([deployment(replicsa=1)], version)) == 1


def test_newer_minor_falls_back_to_newest_schema_with_one_warning() -> None:
    findings = check_openapi([deployment(), deployment()], "v1.99.1")
    [warning] = findings
    assert warning.severity == "warning"
    assert "validating against 1.37" in warning.message


@pytest.mark.parametrize("version", ["1.24", "latest", "36"])
def test_unusable_versions_are_sitebox_errors(version: str) -> None:
    with pytest.raises(SiteboxError):
        check_openapi([], version)
