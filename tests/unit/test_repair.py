"""Drift of live objects from the render, compared without a cluster (the repair itself
is tested live, tests/live/test_repair.py)."""

from __future__ import annotations

from typing import Any

import pytest

from sitebox.lifecycle import repair

pytestmark = pytest.mark.unit


def get_from(objects: dict[str, dict[str, Any]]) -> Any:
    return lambda api, kind, name, namespace: objects.get(f"{kind}/{namespace}/{name}")


HARD = {"requests.cpu": "0.5", "requests.memory": "1024Mi", "pods": "20"}
QUOTA = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "budget"},
         "spec": {"hard": HARD}}  # fmt: skip
POD = {"spec": {"containers": [{"name": "c"}]}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "labels": {"app": "web"}},
              "spec": {"replicas": 2, "template": POD}}  # fmt: skip


def live_quota(**hard: str) -> dict[str, Any]:
    spec = {"hard": {"requests.cpu": "500m", "requests.memory": "1Gi", "pods": "20", **hard}}
    return {**QUOTA, "metadata": {"name": "budget", "uid": "u1"}, "spec": spec,
            "status": {"used": {}}}  # fmt: skip


def live_deployment(replicas: int, **labels: str) -> dict[str, Any]:
    meta = {"name": "web", "uid": "u2", "labels": {"app": "web", **labels}}
    spec = {**DEPLOYMENT["spec"], "replicas": replicas, "strategy": {"type": "RollingUpdate"}}
    return {**DEPLOYMENT, "metadata": meta, "spec": spec}


def test_respelled_quantities_and_server_added_fields_are_not_drift() -> None:
    found = repair.live([QUOTA], "batch", get_from({"ResourceQuota/batch/budget": live_quota()}))
    assert found == []


def test_a_hand_edit_is_drift_with_the_field_and_both_values() -> None:
    edited = live_quota(pods="99")
    found = repair.live([QUOTA], "batch", get_from({"ResourceQuota/batch/budget": edited}))
    assert [d.drift.what for d in found] == ["ResourceQuota batch/budget"]
    assert "spec.hard.pods: applied '20', cluster '99'" in found[0].drift.detail
    assert found[0].obj == QUOTA and found[0].namespace == "batch"


def test_a_changed_label_and_a_scale_to_zero_are_drift() -> None:
    live = live_deployment(0, app="other")
    found = repair.live([DEPLOYMENT], "site", get_from({"Deployment/site/web": live}))
    assert found[0].drift.detail.splitlines() == [
        "  metadata.labels.app: applied 'web', cluster 'other'",
        "  spec.replicas: applied 2, cluster 0",
    ]


def test_replicas_an_autoscaler_owns_are_neither_drift_nor_applied() -> None:
    live = live_deployment(7)
    scaled = {("Deployment", "site", "web")}
    get = get_from({"Deployment/site/web": live})
    assert repair.live([DEPLOYMENT], "site", get, scaled) == []
    found = repair.live([DEPLOYMENT], "site", get_from({}), scaled)
    assert "replicas" not in found[0].obj["spec"], "a re-created object leaves them to the HPA"
    assert DEPLOYMENT["spec"]["replicas"] == 2, "the render itself is not changed"


def test_secrets_are_compared_by_presence_hooks_and_crds_not_at_all() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "v"}}
    hook = {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "h", "annotations": {"helm.sh/hook": "post-install"}}}  # fmt: skip
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "x.example.org"}}  # fmt: skip
    other = {**secret, "data": {"k": "changed"}}
    assert repair.live([secret, hook, crd], "ns", get_from({"Secret/ns/s": other})) == []
    found = repair.live([QUOTA, secret, hook, crd], "batch", get_from({}))
    assert [(d.drift.what, d.drift.detail) for d in found] == [
        ("ResourceQuota batch/budget", "  missing on the cluster"),
        ("Secret batch/s", "  missing on the cluster"),
    ]
