"""Kubeconfig files for the sim cluster's admin and components."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from sitebox.files import write_private


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write(path: Path, cluster: str, server: str, pki: Path, client: str) -> None:
    """A self-contained kubeconfig (certs inlined) so it can be copied elsewhere."""
    user = f"{cluster}-{client}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": server, "certificate-authority-data": _b64(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(pki / f"{client}.crt"),
                    "client-key-data": _b64(pki / f"{client}.key"),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
    }
    write_private(path, yaml.safe_dump(doc, sort_keys=False))
