"""The site's capacity: measured on its cluster, or planned from its profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sitebox.cluster.quantity import cpu_millis, memory_bytes
from sitebox.kube import Kube
from sitebox.model.siteconfig import Site

CLUSTER = "cluster"  # summed allocatable of the cluster's nodes
PLANNED = "planned"  # the profile's `requires`: what the site is sized for, not measured


@dataclass(frozen=True)
class Capacity:
    source: str
    nodes: int | None
    cpu_millis: int
    memory_bytes: int
    storage: str | None  # the S3 store's size, as site.yaml gives it

    @property
    def cores(self) -> float:
        return self.cpu_millis / 1000

    def as_dict(self) -> dict[str, Any]:
        cores = self.cpu_millis // 1000 if self.cpu_millis % 1000 == 0 else self.cores
        return {
            "source": self.source,
            "nodes": self.nodes,
            "cores": cores,
            "memoryGiB": round(self.memory_bytes / 2**30, 1),
            "storage": self.storage,
        }


def _storage(site: Site) -> str | None:
    spec = site.components.get("storage", {})
    return str(spec.get("size")) if spec.get("enabled") and spec.get("size") else None


def measured(site: Site, kube: Kube) -> Capacity:
    """What the nodes offer pods (allocatable), summed; every node counts, tainted
    pools (GPU nodes) included: they are the site's, whoever may use them."""
    allocatable = [(n.get("status") or {}).get("allocatable") or {} for n in kube.nodes()]
    return Capacity(
        source=CLUSTER,
        nodes=len(allocatable),
        cpu_millis=sum(cpu_millis(str(a.get("cpu", "0"))) for a in allocatable),
        memory_bytes=sum(memory_bytes(str(a.get("memory", "0"))) for a in allocatable),
        storage=_storage(site),
    )


def planned(site: Site) -> Capacity:
    return Capacity(
        source=PLANNED,
        nodes=None,
        cpu_millis=cpu_millis(str(site.requires["cpu"])),
        memory_bytes=memory_bytes(str(site.requires["memory"])),
        storage=_storage(site),
    )
