"""Running the Go toolchain for a build, with its output kept in the build's log."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sitebox.errors import SiteboxError
from sitebox.tools.store import Build


class BuildError(SiteboxError):
    """One tool's build failed; the message names the tool and the log."""


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    # Static binaries as upstream releases ship them; no toolchain downloads behind our back.
    env.update(CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-mod=mod")
    return env


def go_version() -> str | None:
    """``1.26.8`` for the Go on PATH, or None when there is none."""
    if shutil.which("go") is None:
        return None
    result = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return result.stdout.strip().removeprefix("go") or None


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


class GoRun:
    """Runs commands for one build, appending all output to its log."""

    def __init__(self, build: Build, log: IO[str]):
        self.build = build
        self.log = log
        self.env = go_env()

    def __call__(self, args: Sequence[str], cwd: Path | None = None) -> str:
        self.log.write(f"$ {' '.join(args)}\n")
        self.log.flush()
        result = subprocess.run(
            list(args), cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        self.log.write(result.stdout + result.stderr)
        self.log.flush()
        if result.returncode != 0:
            raise BuildError(
                f"building {self.build.pin.name} {self.build.pin.version} failed: "
                f"`{' '.join(args[:3])} …` exited {result.returncode}\n" + _tail(self.build.log),
                hint=f"full log: {self.build.log}; check the pin in distro/tools.yaml "
                "and that the Go module proxy is reachable",
            )
        return result.stdout
