"""Simulated capacity for a profile on the hosted workflow's kind cluster.

A hosted runner has 4 CPUs and 16 GiB, and each kind node reports all of them; tier3,
tier2 and analysis-facility require 32 to 288 CPUs (analysis-facility a GPU), and
preflight refuses a cluster smaller than its profile's `requires`. One node simulated by
kwok (the pinned build `sitebox tools install` makes) adds what the real nodes lack, as
preflight counts it: the allocatable CPU, memory and GPUs of the ready, schedulable
nodes. Its taint keeps every pod of the site off it, and preflight's placement check
honours taints: each pod must still fit on the real nodes, where it runs for real.

    python ci/kind_capacity.py node PROFILE    the Node to create, as JSON (nothing when
                                               the cluster's nodes are enough)
    python ci/kind_capacity.py kwok-config     the kwok stages, as the sim cluster runs them

Used by .github/workflows/kind.yml (the `profiles` job); tested in tests/ci.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from sitebox.cluster.nodes import FAKE_ANNOTATION, NodePool
from sitebox.cluster.quantity import cpu_millis, memory_bytes
from sitebox.cluster.sim import KWOK_STAGES
from sitebox.kube import Kube
from sitebox.model import profiles
from sitebox.preflight.checks import NodeFacts, node_facts
from sitebox.tools import pins
from sitebox.tools.store import Build

POOL = "simulated"  # the node is "simulated-0", labelled sitebox.io/node-pool=simulated
# kwok's own taint for the nodes it simulates: no pod of the site tolerates it.
TAINT = {"key": FAKE_ANNOTATION, "value": "fake", "effect": "NoSchedule"}
MIN_CPU, MIN_MEMORY = 1000, 1 << 30  # a node short of GPUs alone still needs some of each


def shortfall(requires: Mapping[str, Any], nodes: Iterable[NodeFacts]) -> tuple[int, int, int]:
    """CPU (millis), memory (bytes) and GPUs that ``requires`` asks for beyond what the
    usable nodes offer, as preflight's capacity check adds them up."""
    usable = [n for n in nodes if n.usable]
    return (
        max(0, cpu_millis(str(requires["cpu"])) - sum(n.cpu_millis for n in usable)),
        max(0, memory_bytes(str(requires["memory"])) - sum(n.memory_bytes for n in usable)),
        max(0, int(requires.get("gpus", 0)) - sum(n.gpus for n in usable)),
    )


def capacity_node(cpu: int, memory: int, gpus: int) -> dict[str, Any] | None:
    """The simulated node holding the shortfall; None when nothing is short."""
    if not (cpu or memory or gpus):
        return None
    pool = NodePool(
        name=POOL,
        count=1,
        cpu=f"{max(cpu, MIN_CPU)}m",
        memory=str(max(memory, MIN_MEMORY)),
        gpu=gpus,
        taints=(TAINT,),
    )
    (node,) = pool.manifests()
    return node


def kwok_config() -> str:
    """kwok's stages (node start and heartbeat by lease, pod readiness and completion),
    from the pinned build, as the sim cluster hands them to kwok."""
    stages = Build(pins.load().tools["kwok"]).root / "stages"
    return "\n---\n".join((stages / rel).read_text().strip() for rel in KWOK_STAGES) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    node = commands.add_parser("node", help="the Node to create for PROFILE, as JSON")
    node.add_argument("profile", choices=profiles.names())
    node.add_argument("--kubeconfig", help="default: $KUBECONFIG, else ~/.kube/config")
    commands.add_parser("kwok-config", help="the kwok stages, as YAML")
    args = parser.parse_args(argv)
    if args.command == "kwok-config":
        sys.stdout.write(kwok_config())
        return 0
    requires = profiles.load(args.profile).data["requires"]
    nodes = [node_facts(n) for n in Kube(args.kubeconfig).nodes()]
    found = capacity_node(*shortfall(requires, nodes))
    if found is not None:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
