"""Benchmark: `sitebox render` / `plan` per profile against `helm template` itself.

For each profile: the in-process render (compose both charts, two `helm template`
runs, values/policy/OpenAPI checks) against two bare `helm template` runs of the
same composed charts with the same values; the difference is what the Python
side adds (target < 0.5 s). Also the wall time of the whole CLI command, which
adds interpreter start-up and imports.

    python bench/render.py --repeat 5
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

from sitebox.compose import render as renderer
from sitebox.compose.commands import load_site, secrets_for
from sitebox.tools.store import binary

PROFILES = ("demo", "tier3", "tier2", "analysis-facility")


def helm_only(result: renderer.SiteRender) -> float:
    started = time.monotonic()
    for release in result.releases:
        subprocess.run(
            [str(binary("helm")), "template", release.name, str(release.composed.path),
             "--namespace", release.namespace, "--include-crds", "--values", "-"],
            input=json.dumps(release.values).encode(), check=True, capture_output=True,
        )  # fmt: skip
    return time.monotonic() - started


def cli(*args: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "sitebox", *args], check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("SITEBOX_STATE", tempfile.mkdtemp(prefix="sitebox-bench-"))
    rows = {}
    for profile in PROFILES:
        site = load_site(None, profile)
        secrets = secrets_for(site)
        full, bare = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.monotonic()
                result = renderer.render(site, secrets, Path(tmp))
                full.append(time.monotonic() - started)
                bare.append(helm_only(result))
        with tempfile.TemporaryDirectory() as out:
            render_cli = [
                cli("render", "--profile", profile, "-o", out) for _ in range(args.repeat)
            ]
        plan_cli = [cli("plan", "--profile", profile, "-o", "json") for _ in range(args.repeat)]
        med = statistics.median
        rows[profile] = {
            "render_in_process_s": round(med(full), 3),
            "helm_template_only_s": round(med(bare), 3),
            "python_adds_s": round(med(full) - med(bare), 3),
            "render_cli_s": round(med(render_cli), 3),
            "plan_cli_s": round(med(plan_cli), 3),
        }
        print(profile, rows[profile], flush=True)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
