"""Benchmark: `sitebox backup` and `sitebox restore` of the tier3 site, and the drift
check a no-op `sitebox install` now makes.

Two fresh sim clusters sized to tier3, the real upstream charts from the chart cache
(`sitebox charts import` first). On the first: install, then each repeat times
  - no-op: `sitebox install` on the installed site (reads every object for drift);
  - backup: `sitebox backup --data-to s3://...` (the hub's database dumped, and the S3
    store's data claim copied, by Jobs), and the archive's size;
  - check: `sitebox restore --check` (digests and seal, no cluster);
  - restore: `sitebox restore` onto the second cluster, emptied before each repeat,
    to a validated site.
Pods do not run on a sim cluster: the Jobs complete at once, so the times are
sitebox's own and the data copy is not in them (it runs at the storage's speed, by
rclone, in the cluster). Prints JSON.

    python bench/backup.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sitebox.cluster.quantity import memory_bytes
from sitebox.components.names import SITE_NAMESPACE
from sitebox.kube import Kube

SITE = (
    "apiVersion: sitebox.io/v1\nkind: Site\nname: bench\nprofile: tier3\n"
    "storage: {sharedClassName: shared}\n"
)
CLUSTER = ("--nodes", "2x16cpu-64Gi", "--volumes", "60x10Gi", "--volumes", "8x2Ti")
NAMES = ("bench-backup-a", "bench-backup-b")
DATA = ("--data-from", "s3://dr-copies/bench", "--s3-endpoint", "https://s3.dr.example")


def sitebox(*args: str) -> float:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sitebox", *args], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"sitebox {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def kubeconfig(name: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "sitebox", "cluster", "kubeconfig", "--name", name],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["SITEBOX_STATE"] = tempfile.mkdtemp(prefix="sitebox-bench-")
    # Throw-away values: the S3 endpoint is never reached (no pods run on a sim cluster).
    os.environ.update({
        "SITEBOX_BACKUP_PASSPHRASE": "a passphrase for the benchmark only",
        "AWS_ACCESS_KEY_ID": "BENCH",
        "AWS_SECRET_ACCESS_KEY": "bench-key",
    })  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="sitebox-bench-backup-"))
    site = work / "site.yaml"
    site.write_text(SITE)
    archive = work / "site.backup"
    times: dict[str, list[float]] = {"noop": [], "backup": [], "check": [], "restore": []}
    size, data_claim = 0, ""
    try:
        for name in NAMES:
            sitebox("cluster", "up", "--name", name, *CLUSTER)
        source, target = (("--kubeconfig", kubeconfig(n)) for n in NAMES)
        sitebox("install", "-f", str(site), *source)
        claims = Kube(source[1]).list_objects("v1", "PersistentVolumeClaim", SITE_NAMESPACE)
        largest = max(
            claims, key=lambda c: memory_bytes(c["spec"]["resources"]["requests"]["storage"])
        )
        data_claim = f"{SITE_NAMESPACE}/{largest['metadata']['name']}"
        for _ in range(args.repeat):
            times["noop"].append(sitebox("install", "-f", str(site), *source))
            times["backup"].append(sitebox(
                "backup", "-f", str(site), "-o", str(archive), *source,
                "--data-to", "s3://bench-backups/tier3", "--claim", data_claim,
            ))  # fmt: skip
            size = archive.stat().st_size
            times["check"].append(sitebox("restore", str(archive), "--check"))
            times["restore"].append(sitebox("restore", str(archive), *DATA, *target))
            sitebox("uninstall", "--purge-data", "--yes", *target)
    finally:
        for name in NAMES:
            sitebox("cluster", "down", "--name", name)
        shutil.rmtree(work)  # the archive is sealed, but it is the site's all the same
        shutil.rmtree(os.environ["SITEBOX_STATE"])  # the clusters' keys
    report: dict[str, object] = {"site": "tier3", "archive_bytes": size, "claim": data_claim}
    for name, runs in times.items():
        report[name] = {"median_s": round(statistics.median(runs), 2),
                        "runs_s": [round(x, 2) for x in runs]}  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
