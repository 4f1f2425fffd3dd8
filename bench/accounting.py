"""Benchmark: `sitebox accounting report` over N load-test Jobs on a sim cluster.

For each N: a fresh sim cluster of 20 nodes (64 CPU, 256 GiB), site-base and the batch
chart with a quota large enough for N Jobs, then `sitebox batch load-test --jobs N
--keep` with the Jobs labelled atlas, cms and none in turn. Then, on the finished Jobs:

  * `sitebox accounting report -o json` as a site admin runs it (a process of its own:
    wall time, and its peak RSS from wait4, the whole command with its imports);
  * the same report in this process under tracemalloc (the Python heap it needed at
    its peak, apart from the interpreter and libraries);
  * the listing alone (the API server's share of the time);
  * `sitebox accounting collect` (the ledger), timed;
  * an independent count from the Job objects, which the report must equal.

On a busy machine the Job controller may not finish N Jobs in time (`--wait`): the
report is then measured over all N Jobs listed, of which the finished are accounted.

Prints a JSON report.

    python bench/accounting.py --jobs 1000 --jobs 10000 [--wait 3600]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from sitebox.accounting import ledger
from sitebox.accounting.records import Month
from sitebox.helm import Helm
from sitebox.kube import Kube

ROOT = Path(__file__).resolve().parent.parent
NAME = "bench-acct"
VOS = ("atlas", "cms", "-")
QUOTA = {
    "requests.cpu": "100000", "limits.cpu": "100000", "requests.memory": "100Ti",
    "limits.memory": "100Ti", "pods": "100000", "count/jobs.batch": "100000",
}  # fmt: skip


def sitebox(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sitebox", *args], check=True, capture_output=True, text=True
    )
    return done.stdout


# Run in the measured process: its own peak RSS (VmHWM) at exit, written where the
# benchmark asks. wait4's ru_maxrss would not do: Linux carries the parent's RSS at fork
# over the exec into the child's maximum.
PEAK = """
import atexit, os, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(os.environ["BENCH_PEAK"], "w").write(line.split()[1])
atexit.register(peak)
sys.argv = ["sitebox", *sys.argv[1:]]
runpy.run_module("sitebox", run_name="__main__")
"""


def measured(*args: str) -> tuple[str, float, float]:
    """(stdout, seconds, peak RSS in MiB) of one sitebox command in a process of its own."""
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "peak"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", PEAK, *args], capture_output=True, text=True, check=False,
            env={**os.environ, "BENCH_PEAK": str(peak)},
        )  # fmt: skip
        took = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"sitebox {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return done.stdout, took, int(peak.read_text()) / 1024


def expected(kube: Kube, namespace: str, month: Month) -> dict[str, Any]:
    """The month's jobs, wall and core seconds straight from the Job objects."""
    jobs = wall = 0
    core = 0.0
    for job in kube.iter_jobs(namespace):
        status = job.get("status") or {}
        if not status.get("completionTime"):
            continue
        end = datetime.fromisoformat(status["completionTime"]).timestamp()
        if not month.start <= end < month.end:
            continue
        seconds = int(end - datetime.fromisoformat(status["startTime"]).timestamp())
        cpu = job["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        jobs += 1
        wall += seconds
        core += seconds * (int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))
    return {"jobs": jobs, "wall_seconds": wall, "core_hours": round(core / 3600, 4)}


def freeze(kube: Kube, namespace: str) -> int:
    """Suspend the Jobs still unfinished, so that none finishes between the report and
    the independent count (the report and the count then see the same finished Jobs);
    the suspended ones stay listed, so the report still reads all N."""
    names = [
        j["metadata"]["name"] for j in kube.iter_jobs(namespace)
        if not any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in (j.get("status") or {}).get("conditions") or [])
    ]  # fmt: skip
    patch = {"spec": {"suspend": True}}
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: kube.batch.patch_namespaced_job(n, namespace, patch), names))
    # Pods already finishing still complete their Jobs after the suspension: wait until
    # the number of finished Jobs holds still for a minute (at most 20 minutes).
    last, deadline = -1, time.monotonic() + 1200
    while time.monotonic() < deadline:
        now = sum(1 for j in kube.iter_jobs(namespace) if (j.get("status") or {}).get(
            "completionTime"))  # fmt: skip
        if now == last:
            break
        last = now
        time.sleep(60)
    return len(names)


def one(jobs: int, wait: int) -> dict[str, Any]:
    name = f"{NAME}-{jobs}"
    try:
        sitebox("cluster", "up", "--name", name, "--nodes", "20x64cpu-256Gi")
        kubeconfig = Path(sitebox("cluster", "kubeconfig", "--name", name).strip())
        helm = Helm(kubeconfig)
        helm.install_or_upgrade(
            "site", ROOT / "charts/site-base", {"site": {"name": "bench"}}, "sitebox"
        )
        helm.install_or_upgrade(
            "batch", ROOT / "charts/batch", {"cvmfs": {"enabled": False}, "quota": QUOTA}, "batch"
        )
        scoped = Path(os.environ["SITEBOX_STATE"]) / f"{name}.scoped.kubeconfig"
        sitebox("batch", "kubeconfig", "--kubeconfig", str(kubeconfig), "-f", str(scoped))
        vos = [arg for vo in VOS for arg in ("--vo", vo)]
        # The load test exits 1 when not every Job finished within --wait: the report is
        # then measured over all N Jobs, of which those finished are accounted.
        done = subprocess.run(
            [sys.executable, "-m", "sitebox", "batch", "load-test", "--kubeconfig", str(scoped),
             "--jobs", str(jobs), "--timeout", str(wait), "--deadline", "7200", "--keep", *vos,
             "-o", "json"],
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        load = json.loads(done.stdout)
        kube = Kube(kubeconfig)
        suspended = freeze(kube, "batch") if load["completed"] < jobs else 0
        month = Month.of(time.time())
        common = ["--month", str(month), "--default-vo", "ops", "--kubeconfig", str(kubeconfig)]
        out, seconds, rss = measured("accounting", "report", *common, "-o", "json")
        report = json.loads(out)
        tracemalloc.start()
        started = time.monotonic()
        ledger.month_summary(kube, "batch", month, "sitebox.io/vo", "ops")
        in_process = time.monotonic() - started
        _, heap = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        started = time.monotonic()
        listed = sum(1 for _ in kube.iter_jobs("batch"))  # the API's share: listing alone
        list_seconds = time.monotonic() - started
        _, collect_seconds, collect_rss = measured("accounting", "collect", *common[2:])
        truth = expected(kube, "batch", month)
        got = {k: report[k] for k in truth}
        return {
            "jobs": jobs,
            "load_test_accepted": load["accepted"],
            "load_test_completed": load["completed"],
            "load_test_wall_seconds": load["wall_seconds"],
            "load_test_failed": load["failed"],
            "suspended_unfinished": suspended,
            "report_seconds": round(seconds, 2),
            "report_peak_rss_mib": round(rss, 1),
            "report_in_process_seconds": round(in_process, 2),
            "report_heap_peak_mib": round(heap / 2**20, 2),
            "list_only_seconds": round(list_seconds, 2),
            "jobs_listed": listed,
            "collect_seconds": round(collect_seconds, 2),
            "collect_peak_rss_mib": round(collect_rss, 1),
            "report": got,
            "from_the_jobs": truth,
            "equal": got == truth,
            "unlabelled_jobs": report["unlabelled_jobs"],
        }
    finally:
        sitebox("cluster", "down", "--name", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, action="append", help="repeat: 1000, 10000")
    parser.add_argument(
        "--wait", type=int, default=3600,
        help="seconds the load test waits for its Jobs to finish before the report is measured",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ["SITEBOX_STATE"] = tempfile.mkdtemp(prefix="sitebox-bench-")
    # A harness that stops us with SIGTERM (timeout(1)) must still get the clusters torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    for jobs in args.jobs or [1000, 10000]:
        results.append(one(jobs, args.wait))
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
