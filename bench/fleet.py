"""Benchmark: `sitebox fleet install` and `status` over N sim sites, against one site at a time.

For each N: start N one-node sim clusters (`cluster up --sites N`), install each site
alone (`fleet install --sites site-i`, the same code path with one site) and sum the
times, uninstall them, then install all N at once; likewise `fleet status`. The peak
resident memory of the sitebox process itself (VmHWM, helm children excluded) is read
from /proc while it runs. Clusters live in a private state folder and are torn down.

    python bench/fleet.py --sites 1 --sites 3 --sites 10 --parallel 4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SITE = """  - name: site-{i}
    kubeconfig: {kubeconfig}
    profile: demo
"""
HEAD = """apiVersion: sitebox.io/v1
kind: Fleet
name: bench
shared:
  identity: {issuer: "https://iam.example.org/", clientId: sitebox}
base:
  components: {hub: {enabled: false}, dask: {enabled: false}, storage: {enabled: false}}
sites:
"""


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed(env: dict[str, str], *args: str) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) of the sitebox process, exit code."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitebox", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, peak_rss_mib(proc.pid))
        time.sleep(0.1)
    return round(time.monotonic() - started, 2), round(peak, 1), proc.returncode


def sitebox(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sitebox", *args], env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return done.stdout.strip()


def one(sites: int, parallel: int, env: dict[str, str], folder: Path) -> dict[str, object]:
    name = f"fbench{sites}"
    sitebox(env, "cluster", "up", "--name", name, "--sites", str(sites), "--nodes", "1x16cpu-64Gi")
    try:
        configs = [
            sitebox(env, "cluster", "kubeconfig", "--name", f"{name}-{i}")
            for i in range(1, sites + 1)
        ]
        fleet = folder / f"fleet-{sites}.yaml"
        fleet.write_text(
            HEAD + "".join(SITE.format(i=i, kubeconfig=k) for i, k in enumerate(configs, 1))
        )
        common = ["-f", str(fleet), "--parallel", str(parallel)]
        alone = [timed(env, "fleet", "install", *common, "--sites", f"site-{i}")
                 for i in range(1, sites + 1)]  # fmt: skip
        status_alone = [timed(env, "fleet", "status", *common, "--sites", f"site-{i}")
                        for i in range(1, sites + 1)]  # fmt: skip
        for config in configs:
            sitebox(env, "uninstall", "--purge-data", "--yes", "--kubeconfig", config)
        together = timed(env, "fleet", "install", *common)
        status_together = timed(env, "fleet", "status", *common)
        failed = [r for r in (*alone, *status_alone, together, status_together) if r[2] != 0]
        return {
            "sites": sites,
            "parallel": parallel,
            "install_sum_single": round(sum(r[0] for r in alone), 1),
            "install_fleet": together[0],
            "install_gain": round(sum(r[0] for r in alone) / together[0], 2),
            "status_sum_single": round(sum(r[0] for r in status_alone), 1),
            "status_fleet": status_together[0],
            "status_gain": round(sum(r[0] for r in status_alone) / status_together[0], 2),
            "peak_rss_mib_single": max(r[1] for r in alone),
            "peak_rss_mib_fleet_install": together[1],
            "peak_rss_mib_fleet_status": status_together[1],
            "failed_runs": len(failed),
        }
    finally:
        sitebox(env, "cluster", "down", "--name", name, "--sites", str(sites))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, action="append", default=[])
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        env = {**os.environ, "SITEBOX_STATE": str(Path(tmp) / "state")}
        for sites in args.sites or [1, 3]:
            print(json.dumps(one(sites, args.parallel, env, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
