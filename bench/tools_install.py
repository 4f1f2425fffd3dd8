"""Benchmark: `sitebox tools install` warm (all cached), and cold.

warm:  everything built; the command only verifies versions and relinks.
cold:  empty Go module and build caches and an empty sitebox cache, as on a
       fresh machine (downloads every module, compiles everything; ~20+ min
       on 2 cores). Temporary caches are removed afterwards.

    python bench/tools_install.py warm
    python bench/tools_install.py cold
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time


def timed(env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "sitebox", "tools", "install"], check=True, env=env)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["warm", "cold"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "warm":
        times = [timed(dict(os.environ)) for _ in range(args.repeat)]
        print(f"warm: {', '.join(f'{t:.2f}s' for t in times)}")
        return
    scratch = tempfile.mkdtemp(prefix="sitebox-cold-")
    env = {
        **os.environ,
        "GOMODCACHE": f"{scratch}/gomod",
        "GOCACHE": f"{scratch}/gobuild",
        "SITEBOX_CACHE": f"{scratch}/sitebox",
    }
    try:
        print(f"cold: {timed(env):.0f}s")
    finally:
        # Go marks module cache files read-only; make them removable first.
        subprocess.run(["chmod", "-R", "u+w", scratch], check=False)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
