"""Benchmark: `sitebox install` against `helm upgrade --install --wait` of the same charts.

On one fresh sim cluster, a site (`--site`): `plumbing`, the demo profile with an
HTCondor pool and our own charts alone, or `tier3` or `tier2`, those profiles with their
real upstream charts from the chart cache (`sitebox charts import` or `pull` first), or
`tier2-unmonitored`, tier2 without its monitoring and dashboards components:
  - sitebox: `sitebox install -f site.yaml --skip-unavailable`, the whole command
    (preflight, compose, render and checks, secrets, both releases, validation);
  - helm: the two composed charts sitebox rendered, with the same values, installed
    by the helm binary itself, `helm upgrade --install --wait`, system first;
  - no-op: `sitebox install` again on the installed site.
Runs alternate and each starts from an empty site (uninstall --purge-data).
Prints JSON; the ratio sitebox / helm is the figure of merit (target ≤ 1.2).
`--pod-startup S` makes each simulated pod take S seconds from scheduled to Ready,
as pulling images and starting containers does on a real node; with 0, Helm's wait
is nearly free and the ratio measures sitebox's fixed cost alone.

    python bench/install.py --repeat 3 [--pod-startup 30] [--site tier3|tier2|...]
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

import yaml

from sitebox.compose.commands import load_site
from sitebox.kube import Kube
from sitebox.lifecycle import install as installer
from sitebox.tools.store import binary

NAME = "bench-install"
SITES = {
    "plumbing": (
        "apiVersion: sitebox.io/v1\nkind: Site\nname: bench\nprofile: demo\ncomponents:\n"
        "  batch:\n    mode: htcondor\n    workers: 2\n    quota: {cpu: '6', memory: 12Gi}\n"
        "    job: {cpu: 500m, memory: 1Gi}\n"
    ),
    "tier3": (
        "apiVersion: sitebox.io/v1\nkind: Site\nname: bench\nprofile: tier3\n"
        "storage: {sharedClassName: shared}\n"
    ),
    # tier2 as the profile has it (monitoring and dashboards on), and without them: the
    # difference is what the monitoring component adds to an install.
    "tier2": (
        "apiVersion: sitebox.io/v1\nkind: Site\nname: bench\nprofile: tier2\n"
        "storage: {sharedClassName: shared}\n"
    ),
    "tier2-unmonitored": (
        "apiVersion: sitebox.io/v1\nkind: Site\nname: bench\nprofile: tier2\n"
        "storage: {sharedClassName: shared}\n"
        "components: {monitoring: {enabled: false}, dashboards: {enabled: false}}\n"
    ),
}
# tier2's nodes, as tests/site sizes them; volumes for every run's claims (S3 data,
# HTCondor spool, Prometheus's samples), since each run takes fresh ones.
TIER2 = ("--nodes", "8x36cpu-150Gi", "--volumes", "60x10Gi", "--volumes", "8x16Ti",
         "--volumes", "8x100Gi")  # fmt: skip
# Volumes are Retain, as a site's data is: every run's claims take fresh ones.
CLUSTERS = {
    "plumbing": ("--nodes", "3x8cpu-32Gi"),
    "tier3": ("--nodes", "2x16cpu-64Gi", "--volumes", "60x10Gi", "--volumes", "8x2Ti"),
    "tier2": TIER2,
    "tier2-unmonitored": TIER2,
}


def run(*argv: str) -> float:
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True)
    return time.monotonic() - started


def sitebox(*args: str) -> float:
    return run(sys.executable, "-m", "sitebox", *args)


def helm_install(kubeconfig: Path, site_file: Path, work: Path) -> float:
    """The releases exactly as sitebox composes them, installed by helm alone (timed)."""
    kube = Kube(kubeconfig)
    with installer.prepared(load_site(site_file, None), kube, skip_unavailable=True) as result:
        steps = []
        for release in result.releases:
            chart = work / release.name
            subprocess.run(["cp", "-r", str(release.composed.path), str(chart)], check=True)
            values = work / f"{release.name}.values.yaml"
            values.write_text(yaml.safe_dump(release.values))
            steps.append((release, chart, values))
    took = 0.0
    for release, chart, values in steps:
        took += run(
            str(binary("helm")), "upgrade", "--install", release.name, str(chart),
            "-n", release.namespace, "--create-namespace", "-f", str(values),
            "--wait", "--timeout", "10m", "--kubeconfig", str(kubeconfig),
        )  # fmt: skip
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pod-startup", type=float, default=0.0,
        help="seconds from scheduled to Ready, as an image pull takes on a real node",
    )  # fmt: skip
    parser.add_argument("--site", choices=sorted(SITES), default="plumbing")
    args = parser.parse_args()
    os.environ["SITEBOX_STATE"] = tempfile.mkdtemp(prefix="sitebox-bench-")
    work = Path(tempfile.mkdtemp(prefix="sitebox-bench-install-"))
    site_file = work / "site.yaml"
    site_file.write_text(SITES[args.site])
    sitebox(
        "cluster", "up", "--name", NAME, *CLUSTERS[args.site],
        "--pod-startup", str(args.pod_startup),
    )  # fmt: skip
    try:
        kubeconfig = subprocess.run(
            [sys.executable, "-m", "sitebox", "cluster", "kubeconfig", "--name", NAME],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        k = ("--kubeconfig", kubeconfig)
        times: dict[str, list[float]] = {"sitebox": [], "helm": [], "noop": []}
        for index in range(args.repeat):
            times["sitebox"].append(
                sitebox("install", "-f", str(site_file), "--skip-unavailable", *k)
            )
            times["noop"].append(sitebox("install", "-f", str(site_file), "--skip-unavailable", *k))
            sitebox("uninstall", "--purge-data", "--yes", *k)
            helm_work = work / f"helm-{index}"
            helm_work.mkdir()
            times["helm"].append(helm_install(Path(kubeconfig), site_file, helm_work))
            sitebox("uninstall", "--purge-data", "--yes", *k)
    finally:
        sitebox("cluster", "down", "--name", NAME)
        shutil.rmtree(work)  # the values files hold the site's secrets
        shutil.rmtree(os.environ["SITEBOX_STATE"])  # the clusters' keys and the secret store
    report: dict[str, object] = {"site": args.site, "pod_startup_s": args.pod_startup}
    medians = {name: statistics.median(v) for name, v in times.items()}
    for name, runs in times.items():
        report[name] = {"median_s": round(medians[name], 2), "runs_s": [round(x, 2) for x in runs]}
    report["ratio_sitebox_to_helm"] = round(medians["sitebox"] / medians["helm"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
