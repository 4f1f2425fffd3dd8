"""What a plan shows: per component, its chart, images and summed requests,
against a capacity."""

from __future__ import annotations

import re
from typing import Any

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes
from sitebox.compose.render import SiteRender
from sitebox.errors import SiteboxError
from sitebox.render.policy import pod_spec

_CAPACITY = re.compile(r"^(?P<cpu>\d+(?:\.\d+)?|\d+m)cpu-(?P<memory>\S+)$")
_REPLICATED = {"Deployment", "StatefulSet", "ReplicaSet"}


def capacity_from_spec(spec: str) -> tuple[int, int]:
    """``16cpu-64Gi`` → (millicores, bytes)."""
    match = _CAPACITY.match(spec)
    try:
        if not match:
            raise QuantityError(f"{spec!r} is not a capacity")
        return cpu_millis(match["cpu"]), memory_bytes(match["memory"])
    except QuantityError as exc:
        raise SiteboxError(str(exc), hint="write CPUcpu-MEMORY, e.g. 16cpu-64Gi") from None


def cluster_capacity(nodes: list[tuple[str, str]]) -> tuple[int, int]:
    """Summed allocatable (millicores, bytes) of the cluster's nodes."""
    return sum(cpu_millis(c) for c, _ in nodes), sum(memory_bytes(m) for _, m in nodes)


def _requests(obj: dict[str, Any]) -> tuple[int, int]:
    spec = pod_spec(obj)
    if spec is None or obj.get("kind") in ("Job", "CronJob"):
        return 0, 0
    replicas = int(obj.get("spec", {}).get("replicas", 1)) if obj["kind"] in _REPLICATED else 1
    cpu = memory = 0
    for container in spec.get("containers", []):
        requests = container.get("resources", {}).get("requests", {})
        cpu += cpu_millis(str(requests.get("cpu", "0")))
        memory += memory_bytes(str(requests.get("memory", "0")))
    return cpu * replicas, memory * replicas


def _component_of(obj: dict[str, Any], charts: dict[str, str]) -> str | None:
    label = obj.get("metadata", {}).get("labels", {}).get("helm.sh/chart", "")
    for chart, component in charts.items():
        if label.startswith(f"{chart}-"):
            return component
    return None


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f}Gi"


def summarize(result: SiteRender, capacity: tuple[int, int] | None) -> dict[str, Any]:
    site = result.site
    dist = site.distribution
    charts = {c.chart.name: name for name, c in dist.components.items()}
    sums: dict[str, list[int]] = {name: [0, 0] for name in dist.components}
    present: dict[str, bool] = {}
    for release in result.releases:
        present.update({name: True for name in release.composed.included})
        present.update({c.name: False for c in release.composed.missing})
        for obj in release.manifests:
            owner = _component_of(obj, charts)
            if owner:
                cpu, memory = _requests(obj)
                sums[owner][0] += cpu
                sums[owner][1] += memory
    rows = []
    for name, component in dist.components.items():
        enabled = bool(site.components.get(name, {}).get("enabled"))
        rows.append(
            {
                "name": name,
                "enabled": enabled,
                "release": component.release,
                "chart": f"{component.chart.name} {component.chart.version}",
                "present": present.get(name) if enabled else None,
                "images": list(component.images),
                "cpu": f"{sums[name][0] / 1000:g}",
                "memory": _gib(sums[name][1]),
            }
        )
    total_cpu = sum(s[0] for s in sums.values())
    total_memory = sum(s[1] for s in sums.values())
    if capacity is None:
        capacity = (cpu_millis(str(site.requires["cpu"])), memory_bytes(site.requires["memory"]))
    return {
        "site": site.name,
        "profile": site.profile,
        "distribution": dist.version,
        "complete": result.complete,
        "components": rows,
        "total": {"cpu": f"{total_cpu / 1000:g}", "memory": _gib(total_memory)},
        "capacity": {"cpu": f"{capacity[0] / 1000:g}", "memory": _gib(capacity[1])},
        "fits": total_cpu <= capacity[0] and total_memory <= capacity[1],
        "findings": [f.__dict__ for f in result.findings],
    }
