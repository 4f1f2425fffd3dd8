"""A local cluster's state folder: cluster.json, pki/, logs/, data, kubeconfig.

cluster.json is written before the first process starts and after each one,
so a run killed at any point leaves a record from which ``down`` stops exactly
what was started.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitebox.errors import SiteboxError
from sitebox.paths import state_dir
from sitebox.procs import ProcessRecord, alive

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


def clusters_dir() -> Path:
    return state_dir() / "clusters"


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise SiteboxError(
            f"invalid cluster name {name!r}",
            hint="use lower-case letters, digits and '-', at most 40 characters, e.g. 'demo'",
        )


@dataclass
class ClusterState:
    name: str
    driver: str
    phase: str  # "starting", "running", "failed"
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[ProcessRecord] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)
    kubernetes_version: str = ""

    @property
    def root(self) -> Path:
        return clusters_dir() / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def save(self) -> None:
        data = {
            "name": self.name,
            "driver": self.driver,
            "phase": self.phase,
            "ports": self.ports,
            "processes": [p.to_json() for p in self.processes],
            "pools": self.pools,
            "kubernetes_version": self.kubernetes_version,
        }
        tmp = self.root / "cluster.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.root / "cluster.json")

    def alive(self) -> dict[str, bool]:
        return {p.name: alive(p) for p in self.processes}

    @classmethod
    def load(cls, name: str) -> ClusterState | None:
        """The saved state, or None if no folder exists; a folder without a readable
        cluster.json is a run killed before it wrote one: phase "failed"."""
        root = clusters_dir() / name
        if not root.exists():
            return None
        try:
            data = json.loads((root / "cluster.json").read_text())
        except (OSError, json.JSONDecodeError):
            return cls(name=name, driver="sim", phase="failed")
        return cls(
            name=data["name"],
            driver=data["driver"],
            phase=data["phase"],
            ports={k: int(v) for k, v in data["ports"].items()},
            processes=[ProcessRecord.from_json(p) for p in data["processes"]],
            pools=data.get("pools", []),
            kubernetes_version=data.get("kubernetes_version", ""),
        )


def all_names() -> list[str]:
    root = clusters_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []
