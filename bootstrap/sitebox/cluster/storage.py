"""Storage of the sim cluster: a default StorageClass, a ReadWriteMany one, and a
pool of pre-provisioned PersistentVolumes that the PV controller binds claims to.

The volumes are hostPath folders under the cluster's state folder. Their
reclaim policy is Retain, as for data a site keeps: a released volume is not
handed to the next claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitebox.cluster.quantity import QuantityError, memory_bytes
from sitebox.errors import SiteboxError

DEFAULT_CLASS = "standard"
SHARED_CLASS = "shared"
DEFAULT_VOLUMES = ("20x10Gi", "8x100Gi")
_SPEC = re.compile(r"^(\d+)x(\S+)$")
VOLUMES_HELP = "write COUNTxSIZE, e.g. 20x10Gi"


@dataclass(frozen=True)
class VolumeTier:
    count: int
    size: str


def parse_volumes(specs: tuple[str, ...]) -> list[VolumeTier]:
    tiers = []
    for spec in specs:
        match = _SPEC.match(spec)
        if not match:
            raise SiteboxError(f"unknown volume spec {spec!r}", hint=VOLUMES_HELP)
        try:
            memory_bytes(match[2])
        except QuantityError as exc:
            raise SiteboxError(f"volume spec {spec!r}: {exc}", hint=VOLUMES_HELP) from None
        tiers.append(VolumeTier(int(match[1]), match[2]))
    return tiers


def storage_classes() -> list[dict[str, Any]]:
    def cls(name: str, default: bool) -> dict[str, Any]:
        annotations = {"storageclass.kubernetes.io/is-default-class": str(default).lower()}
        return {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name, "annotations": annotations},
            "provisioner": "kubernetes.io/no-provisioner",
            "reclaimPolicy": "Retain",
            "volumeBindingMode": "Immediate",
        }

    return [cls(DEFAULT_CLASS, True), cls(SHARED_CLASS, False)]


def volumes(tiers: list[VolumeTier], root: Path) -> list[dict[str, Any]]:
    modes = {DEFAULT_CLASS: ["ReadWriteOnce"], SHARED_CLASS: ["ReadWriteMany", "ReadWriteOnce"]}
    out = []
    for klass, access in modes.items():
        for tier in tiers:
            for index in range(tier.count):
                name = f"{klass}-{tier.size.lower()}-{index}"
                out.append(
                    {
                        "apiVersion": "v1",
                        "kind": "PersistentVolume",
                        "metadata": {"name": name, "labels": {"sitebox.io/pool": klass}},
                        "spec": {
                            "capacity": {"storage": tier.size},
                            "accessModes": access,
                            "persistentVolumeReclaimPolicy": "Retain",
                            "storageClassName": klass,
                            "hostPath": {"path": str(root / name), "type": "DirectoryOrCreate"},
                        },
                    }
                )
    return out
