"""Benchmark: `sitebox cluster up` to API ready and all nodes Ready, and idle memory.

Runs the real command for each node count, measures wall time, waits, sums the
resident memory of the control-plane processes, then tears the cluster down.

    python bench/cluster_up.py --nodes 3 --nodes 500 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sitebox.cluster.state import ClusterState


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sitebox(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sitebox", *args], check=True, capture_output=True)


def one_run(nodes: int, idle: float) -> dict[str, float]:
    name = f"bench-{nodes}"
    started = time.monotonic()
    sitebox("cluster", "up", "--name", name, "--nodes", f"{nodes}x16cpu-64Gi", "--timeout", "300")
    took = time.monotonic() - started
    time.sleep(idle)
    state = ClusterState.load(name)
    assert state is not None
    memory = {p.name: round(rss_mib(p.pid), 1) for p in state.processes}
    sitebox("cluster", "down", "--name", name)
    return {"seconds": round(took, 2), "rss_mib_total": round(sum(memory.values()), 1), **memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, action="append", default=[])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds before reading memory")
    args = parser.parse_args()
    os.environ["SITEBOX_STATE"] = tempfile.mkdtemp(prefix="sitebox-bench-")
    results = {}
    for nodes in args.nodes or [3, 500]:
        runs = [one_run(nodes, args.idle) for _ in range(args.repeat)]
        times = [r["seconds"] for r in runs]
        results[nodes] = {
            "runs": runs,
            "median_seconds": statistics.median(times),
            "min_seconds": min(times),
            "max_seconds": max(times),
        }
        print(f"{nodes} nodes: median {statistics.median(times):.1f}s over {len(runs)} runs "
              f"({min(times):.1f}-{max(times):.1f}s), idle RSS {runs[-1]['rss_mib_total']} MiB",
              flush=True)  # fmt: skip
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
