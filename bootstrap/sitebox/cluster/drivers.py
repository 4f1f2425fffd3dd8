"""Drivers for machines with a container engine: kind and minikube, by shelling out."""

from __future__ import annotations

import shutil
import subprocess

from sitebox.errors import SiteboxError

_HINTS = {
    "kind": "install kind and Docker (https://kind.sigs.k8s.io), or use the default --driver sim",
    "minikube": "install minikube and a driver such as Docker, or use the default --driver sim",
}


def _tool(driver: str) -> str:
    path = shutil.which(driver)
    if path is None:
        raise SiteboxError(f"the {driver} driver needs `{driver}` on PATH", hint=_HINTS[driver])
    return path


def _run(argv: list[str], driver: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise SiteboxError(f"`{' '.join(argv[:3])}` failed:\n{tail}", hint=_HINTS[driver])


def up(driver: str, name: str, nodes: int) -> None:
    tool = _tool(driver)
    if driver == "kind":
        _run([tool, "create", "cluster", "--name", name, "--wait", "120s"], driver)
    else:
        _run([tool, "start", "--profile", name, "--nodes", str(nodes)], driver)


def down(driver: str, name: str) -> None:
    tool = _tool(driver)
    if driver == "kind":
        _run([tool, "delete", "cluster", "--name", name], driver)
    else:
        _run([tool, "delete", "--profile", name], driver)
