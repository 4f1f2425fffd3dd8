"""`sitebox status`: what is installed, how healthy each component is, where to reach it."""

from __future__ import annotations

import json
from typing import Any

from sitebox.components.names import (
    BATCH_NAMESPACE,
    PROMETHEUS_URL,
    SITE_NAMESPACE,
    SYSTEM_NAMESPACE,
)
from sitebox.compose.render import RELEASE_NAMES
from sitebox.helm import Helm
from sitebox.kube import Kube, Obj
from sitebox.validate import facts

SITE_INFO = "sitebox-site-info"


def _endpoints(info: dict[str, Any], components: list[str]) -> dict[str, str]:
    domain = info.get("domain") or ""
    found = {}
    if "hub" in components:
        found["hub"] = f"https://hub.{domain}" if domain else "svc/proxy-public (port-forward)"
    if "dask" in components:
        found["dask-gateway"] = f"http://traefik-sitebox-dask-gateway.{SITE_NAMESPACE}.svc"
    if "storage" in components:
        found["s3"] = (
            f"https://s3.{domain}" if domain else f"svc/sitebox-seaweedfs-s3.{SITE_NAMESPACE}:8333"
        )
    if "batch" in components:
        found["batch"] = f"namespace {BATCH_NAMESPACE} (`sitebox batch kubeconfig`)"
    if "monitoring" in components:
        found["prometheus"] = f"{PROMETHEUS_URL} (in the cluster; port-forward svc/prometheus)"
    if "dashboards" in components:
        found["grafana"] = (
            f"https://grafana.{domain}"
            if domain
            else f"svc/sitebox-grafana.{SITE_NAMESPACE}:80 (port-forward)"
        )
    return found


def workload_problems(
    kube: Kube, releases: list[tuple[str, list[Obj]]], charts: dict[str, str]
) -> dict[str, list[str]]:
    """By component, why its workloads are not ready: each (namespace, objects) release
    says which workloads should exist and how many replicas each runs, so one deleted or
    scaled to zero by hand counts too."""
    expected = [
        (obj, kube.ref(obj, namespace)) for namespace, objects in releases
        for obj in objects if obj.get("kind") in facts.WORKLOAD_KINDS
    ]  # fmt: skip
    found: dict[str, list[str]] = {}
    lives = kube.get_many([ref for _, ref in expected])
    for (obj, _), live in zip(expected, lives, strict=True):
        meta = obj["metadata"]
        problem = (
            facts.workload_problem(live, obj) if live else f"{obj['kind']} {meta['name']}: missing"
        )
        component = facts.component_of(meta.get("labels"), charts) or "other"
        found.setdefault(component, [])
        if problem:
            found[component].append(problem)
    return found


def collect(kube: Kube, helm: Helm) -> dict[str, Any]:
    releases = []
    states = helm.read(RELEASE_NAMES)
    for name, state in states.items():
        if state is None:
            releases.append({"release": name, "installed": False})
            continue
        revision = state.revision
        releases.append(
            {"release": name, "installed": True, "revision": revision.revision,
             "status": revision.status, "chart": revision.chart}
        )  # fmt: skip
    config = kube.get("v1", "ConfigMap", SITE_INFO, SITE_NAMESPACE) or {}
    data = config.get("data", {})
    enabled = json.loads(data.get("components", "[]"))
    charts = facts.chart_components()
    health: dict[str, dict[str, Any]] = {}
    for namespace in (SYSTEM_NAMESPACE, SITE_NAMESPACE, BATCH_NAMESPACE):
        for pod in kube.pod_health(namespace):
            component = facts.component_of(pod["labels"], charts) or "other"
            row = health.setdefault(component, {"ready": 0, "total": 0})
            row["total"] += 1
            row["ready"] += 1 if pod["ready"] else 0
            if not pod["ready"] and pod["reason"] and "waiting" not in row:
                row["waiting"] = f"{pod['name']}: {pod['reason']}"
    installed = [(s.revision.namespace, s.objects) for s in states.values() if s is not None]
    for component, problems in workload_problems(kube, installed, charts).items():
        row = health.setdefault(component, {"ready": 0, "total": 0})
        if problems:
            row["workloads"] = problems
    return {
        "site": data.get("site"),
        "distribution": data.get("distribution"),
        "profile": data.get("profile"),
        "releases": releases,
        "components": {name: health.get(name, {"ready": 0, "total": 0}) for name in enabled},
        "endpoints": _endpoints(data, enabled),
        "healthy": all(r.get("status") == "deployed" for r in releases)
        and all(h["ready"] == h["total"] and not h.get("workloads") for h in health.values()),
    }
