"""Node pools of the sim cluster: the compact spec, the pool file, and the Node objects.

Compact spec, as in ``--nodes 3x16cpu-64Gi``::

    [POOL=]COUNTxCPUcpu-MEMORY[-GPUgpu]      e.g. gpu=2x8cpu-32Gi-4gpu

Labels and taints need the pool file (``--node-pools pools.yaml``)::

    pools:
      - name: gpu
        count: 2
        cpu: "8"
        memory: 32Gi
        gpu: 4
        labels: {sitebox.io/accelerator: a100}
        taints: [{key: nvidia.com/gpu, value: "true", effect: NoSchedule}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes
from sitebox.config.loader import Document, load_yaml
from sitebox.errors import Location, SiteboxError

FAKE_ANNOTATION = "kwok.x-k8s.io/node"
POOL_LABEL = "sitebox.io/node-pool"
_SPEC = re.compile(
    r"^(?:(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)=)?(?P<count>\d+)x(?P<cpu>\d+(?:\.\d+)?|\d+m)cpu"
    r"-(?P<memory>[^-]+)(?:-(?P<gpu>\d+)gpu)?$"
)
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
SPEC_HELP = "write COUNTxCPUcpu-MEMORY[-GPUgpu], e.g. 3x16cpu-64Gi or gpu=2x8cpu-32Gi-4gpu"


@dataclass(frozen=True)
class NodePool:
    name: str
    count: int
    cpu: str
    memory: str
    gpu: int = 0
    pods: int = 110
    # Pods with ephemeral-storage requests (every batch job) need nodes that declare some.
    ephemeral_storage: str = "500Gi"
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()

    def node_names(self) -> list[str]:
        return [f"{self.name}-{i}" for i in range(self.count)]

    def manifests(self) -> list[dict[str, Any]]:
        capacity = {
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": str(self.pods),
            "ephemeral-storage": self.ephemeral_storage,
        }
        if self.gpu:
            capacity["nvidia.com/gpu"] = str(self.gpu)
        return [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {FAKE_ANNOTATION: "fake"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        POOL_LABEL: self.name,
                        **self.labels,
                    },
                },
                "spec": {"taints": [dict(t) for t in self.taints]} if self.taints else {},
                "status": {"capacity": capacity, "allocatable": capacity},
            }
            for name in self.node_names()
        ]


def _check_sizes(cpu: str, memory: str, count: int, where: str, disk: str = "1Gi") -> None:
    try:
        cpu_millis(cpu)
        memory_bytes(memory)
        memory_bytes(disk)
    except QuantityError as exc:
        raise SiteboxError(f"node pool {where}: {exc}", hint=SPEC_HELP) from None
    if count < 1:
        raise SiteboxError(f"node pool {where}: count must be at least 1", hint=SPEC_HELP)


def parse_spec(spec: str, default_name: str) -> NodePool:
    match = _SPEC.match(spec.strip())
    if not match:
        raise SiteboxError(f"unknown node-pool spec {spec!r}", hint=SPEC_HELP)
    count = int(match["count"])
    _check_sizes(match["cpu"], match["memory"], count, repr(spec))
    return NodePool(
        name=match["name"] or default_name,
        count=count,
        cpu=match["cpu"],
        memory=match["memory"],
        gpu=int(match["gpu"] or 0),
    )


def parse_specs(specs: tuple[str, ...]) -> list[NodePool]:
    pools = [parse_spec(s, f"pool{i}" if len(specs) > 1 else "node") for i, s in enumerate(specs)]
    _check_unique(pools, "--nodes")
    return pools


def _check_unique(pools: list[NodePool], where: str) -> None:
    seen: set[str] = set()
    for pool in pools:
        if pool.name in seen:
            raise SiteboxError(
                f"node pool name {pool.name!r} is used twice in {where}",
                hint="give each pool its own name, e.g. cpu=3x16cpu-64Gi gpu=1x8cpu-32Gi-2gpu",
            )
        seen.add(pool.name)


POOL_KEYS = ("name", "count", "cpu", "memory", "gpu", "pods", "ephemeralStorage", "labels",
             "taints")  # fmt: skip


def _number(doc: Document, index: int, key: str, minimum: int, default: int | None = None) -> int:
    """A pool's whole-number field, or a clear error naming the file, line and key."""
    value = doc.data["pools"][index].get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SiteboxError(
            f"{key} must be a whole number of at least {minimum}, not {value!r}",
            location=Location(str(doc.path), doc.lines.get(("pools", index, key)),
                              f"pools[{index}].{key}"),
            hint=f"write e.g. `{key}: {max(minimum, 1)}`",
        )  # fmt: skip
    return value


def load_pool_file(path: Path) -> list[NodePool]:
    doc = load_yaml(path, empty_hint="write a `pools:` list; see `sitebox cluster up --help`")
    raw_pools = doc.data.get("pools")
    if not isinstance(raw_pools, list) or not raw_pools:
        raise SiteboxError(
            "expected a `pools:` list with at least one pool",
            location=Location(str(path), doc.lines.get(("pools",))),
            hint="see `sitebox cluster up --help` for the file's shape",
        )
    pools = []
    for index, raw in enumerate(raw_pools):
        key = f"pools[{index}]"
        line = doc.lines.get(("pools", index))
        if not isinstance(raw, dict):
            raise SiteboxError(
                "each pool is a mapping",
                location=Location(str(path), line, key),
                hint="write each pool as `- {name: cpu, count: 3, cpu: '16', memory: 64Gi}`",
            )
        unknown = sorted(set(raw) - set(POOL_KEYS))
        if unknown:
            raise SiteboxError(
                f"unknown key {unknown[0]!r}",
                location=Location(str(path), doc.lines.get(("pools", index, unknown[0])),
                                  f"{key}.{unknown[0]}"),
                hint=f"pool keys are {', '.join(POOL_KEYS)}",
            )  # fmt: skip
        for required in ("name", "count", "cpu", "memory"):
            if required not in raw:
                raise SiteboxError(
                    f"missing key {required!r}",
                    location=Location(str(path), line, key),
                    hint="every pool needs name, count, cpu and memory",
                )
        labels = raw.get("labels") or {}
        if not isinstance(labels, dict):
            raise SiteboxError(
                "labels must be a mapping of label to value",
                location=Location(str(path), doc.lines.get(("pools", index, "labels")),
                                  f"{key}.labels"),
                hint="write e.g. `labels: {sitebox.io/pool: batch}`",
            )  # fmt: skip
        taints = tuple(_taint(t, path, f"{key}.taints") for t in raw.get("taints") or [])
        pool = NodePool(
            name=str(raw["name"]),
            count=_number(doc, index, "count", 1),
            cpu=str(raw["cpu"]),
            memory=str(raw["memory"]),
            gpu=_number(doc, index, "gpu", 0, 0),
            pods=_number(doc, index, "pods", 1, 110),
            ephemeral_storage=str(raw.get("ephemeralStorage", "500Gi")),
            labels={str(k): str(v) for k, v in labels.items()},
            taints=taints,
        )
        _check_sizes(pool.cpu, pool.memory, pool.count, f"{path}:{key}", pool.ephemeral_storage)
        pools.append(pool)
    _check_unique(pools, str(path))
    return pools


def _taint(raw: Any, path: Path, key: str) -> dict[str, str]:
    if not isinstance(raw, dict) or "key" not in raw or raw.get("effect") not in _EFFECTS:
        raise SiteboxError(
            "a taint needs `key` and an `effect` of " + ", ".join(_EFFECTS),
            location=Location(str(path), key=key),
        )
    return {k: str(v) for k, v in raw.items() if k in ("key", "value", "effect")}
