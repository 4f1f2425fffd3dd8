"""Benchmark: `sitebox batch load-test` against the ceiling of the same API server.

On fresh sim clusters (one per phase, same build and flags) with site-base and batch installed:
  1. ceiling: the same number of Jobs POSTed by a bare thread pool of the same size,
     through the same scoped account, nothing else running (no watch, no progress);
  2. the official client's plain sequential loop (create_namespaced_job), for reference;
  3. `sitebox batch load-test --jobs N` as a site admin runs it.
Prints a JSON report; the ratio load-test / ceiling is the figure of merit (target ≥ 0.8).

    python bench/batch_load.py --jobs 10000 --workers 16
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from sitebox.batch.loadtest import job_manifest, retriable
from sitebox.helm import Helm
from sitebox.kube import Kube

ROOT = Path(__file__).resolve().parent.parent
NAME = "bench-batch"
BIG_QUOTA = {
    "requests.cpu": "100000", "limits.cpu": "100000", "requests.memory": "100Ti",
    "limits.memory": "100Ti", "pods": "100000", "count/jobs.batch": "100000",
}  # fmt: skip


def sitebox(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sitebox", *args], check=True, capture_output=True, text=True
    )
    return done.stdout


@contextmanager
def site(name: str) -> Iterator[tuple[Path, Path]]:
    """A fresh sim cluster with site-base and the batch chart: (admin, scoped) kubeconfigs.
    Each phase gets its own, so none pays for the Jobs another left in etcd (deleting
    10,000 Jobs and their pods takes the garbage collector longer than submitting them)."""
    sitebox("cluster", "up", "--name", name, "--nodes", "20x64cpu-256Gi")
    try:
        kubeconfig = Path(sitebox("cluster", "kubeconfig", "--name", name).strip())
        helm = Helm(kubeconfig)
        helm.install_or_upgrade(
            "site", ROOT / "charts/site-base", {"site": {"name": "bench"}}, "sitebox"
        )
        values: dict[str, Any] = {"cvmfs": {"enabled": False}, "quota": BIG_QUOTA}
        helm.install_or_upgrade("batch", ROOT / "charts/batch", values, "batch")
        scoped = Path(os.environ["SITEBOX_STATE"]) / f"{name}.scoped.kubeconfig"
        sitebox("batch", "kubeconfig", "--kubeconfig", str(kubeconfig), "-f", str(scoped))
        yield kubeconfig, scoped
    finally:
        sitebox("cluster", "down", "--name", name)


def ceiling(scoped: Kube, jobs: int, workers: int) -> float:
    indices = iter(range(jobs))
    lock = threading.Lock()
    failures = []

    def worker() -> None:
        while True:
            with lock:
                index = next(indices, None)
            if index is None:
                return
            job = job_manifest(f"ceil-{index}", "ceiling", "100m", "128Mi")
            for _ in range(5):
                status, retry_after, message = scoped.submit_job("batch", job)
                if not retriable(status, message):
                    break
                time.sleep(retry_after or 0.05)
            if status >= 300:
                failures.append(status)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    assert not failures, failures[:5]
    return jobs / took


def sequential(scoped: Kube, jobs: int) -> float:
    started = time.monotonic()
    for index in range(jobs):
        job = job_manifest(f"seq-{index}", "sequential", "100m", "128Mi")
        for _ in range(5):  # quota usage updates race; the typed client raises on 409
            try:
                scoped.batch.create_namespaced_job("batch", job)  # type: ignore[arg-type]
                break
            except ApiException as exc:
                if exc.status != 409:
                    raise
                time.sleep(0.05)
    return jobs / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--sequential-jobs", type=int, default=1000)
    args = parser.parse_args()
    os.environ["SITEBOX_STATE"] = tempfile.mkdtemp(prefix="sitebox-bench-")
    # A harness that stops us with SIGTERM (timeout(1)) must still get the clusters torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report: dict[str, Any] = {"jobs": args.jobs, "workers": args.workers}
    with site(f"{NAME}-ceiling") as (_, scoped):
        report["ceiling_jobs_per_second"] = round(ceiling(Kube(scoped), args.jobs, args.workers), 1)
    print(f"ceiling: {report['ceiling_jobs_per_second']} jobs/s", flush=True)
    with site(f"{NAME}-sequential") as (_, scoped):
        rate = sequential(Kube(scoped), args.sequential_jobs)
        report["sequential_client_jobs_per_second"] = round(rate, 1)
    print(f"sequential: {report['sequential_client_jobs_per_second']} jobs/s", flush=True)
    with site(f"{NAME}-load-test") as (_, scoped):
        out = sitebox(
            "batch", "load-test", "--kubeconfig", str(scoped), "--jobs", str(args.jobs),
            "--workers", str(args.workers), "--timeout", "3600", "--deadline", "3600",
            "-o", "json",
        )  # fmt: skip
    report["load_test"] = json.loads(out)
    report["ratio_to_ceiling"] = round(
        report["load_test"]["accepted_per_second"] / report["ceiling_jobs_per_second"], 2
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
