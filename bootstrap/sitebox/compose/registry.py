"""Copying a bundle's images into a site's own registry, with crane.

crane (go-containerregistry, a pinned tool) copies registry to registry, every
platform of a multi-platform image, digests unchanged, with no container engine on
the machine: what an air-gapped site's transfer host usually is. Each image keeps
its path without its source registry (``docker.io/library/almalinux:9.6`` becomes
``REGISTRY/library/almalinux:9.6``), the layout containerd's registry mirrors (k3s's
``registries.yaml``) expect.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from sitebox.tools.store import binary

COPY_TIMEOUT = 1800.0  # seconds for one image: a notebook image can be several GiB


@dataclass(frozen=True)
class Copy:
    source: str
    target: str
    ok: bool
    error: str = ""


def target(image: str, registry: str) -> str:
    """Where ``image`` goes in ``registry``: its path, without its own registry."""
    _, _, path = image.partition("/")
    return f"{registry.rstrip('/')}/{path}"


def command(image: str, registry: str, insecure: bool) -> list[str]:
    """The crane command that copies one image (printed by ``--dry-run``, run by push)."""
    return [
        "crane", "copy", *(["--insecure"] if insecure else []), image, target(image, registry),
    ]  # fmt: skip


def push(
    images: list[str], registry: str, insecure: bool, progress: Callable[[str], None]
) -> list[Copy]:
    """Copy every image; one that fails does not stop the rest (each error is kept)."""
    crane = str(binary("crane"))
    done = []
    for index, image in enumerate(images, 1):
        progress(f"[{index}/{len(images)}] {image}")
        argv = [crane, *command(image, registry, insecure)[1:]]
        try:
            run = subprocess.run(
                argv, capture_output=True, text=True, check=False, timeout=COPY_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            done.append(Copy(image, target(image, registry), False, "timed out"))
            continue
        lines = run.stderr.strip().splitlines()
        error = lines[-1] if run.returncode and lines else ""
        if run.returncode and not error:
            error = f"crane exited {run.returncode}"
        done.append(Copy(image, target(image, registry), run.returncode == 0, error))
    return done
