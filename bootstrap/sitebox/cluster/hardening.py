"""The API server's files that make the sim cluster keep secrets as a hardened real
one does: Secrets encrypted before they reach etcd, and an audit log of who changed
what (never the content).
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import yaml

from sitebox.files import write_private

# secretbox (XSalsa20-Poly1305): the provider Kubernetes' documentation recommends for
# a locally held key; aesgcm needs a new key every 200k writes, aescbc is weaker.
ENCRYPTION_PREFIX = b"k8s:enc:secretbox:v1:key1:"

_CONTROLLERS = ["system:kube-controller-manager", "system:kube-scheduler", "kwok"]


def write_encryption_config(path: Path) -> None:
    """An EncryptionConfiguration with a fresh 32-byte key, written 0600: with the etcd
    data it is all a reader needs, so it is kept like the CA's key."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    config = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [{"secretbox": {"keys": [{"name": "key1", "secret": key}]}}],
            }
        ],
    }
    write_private(path, yaml.safe_dump(config, sort_keys=False))


def audit_policy() -> dict[str, Any]:
    """Metadata (who, what, when, the answer's code) for every request anyone makes;
    bodies never, so Secrets' values stay out of the log. Left out: node heartbeats,
    events, health probes and the controllers' own reads, thousands a minute on a
    simulated cluster and no one's action."""
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {
                "level": "None",
                "resources": [
                    {"group": "coordination.k8s.io", "resources": ["leases"]},
                    {"group": "", "resources": ["events"]},
                    {"group": "events.k8s.io", "resources": ["events"]},
                ],
            },
            {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*"]},
            {"level": "None", "users": _CONTROLLERS, "verbs": ["get", "list", "watch"]},
            {"level": "Metadata"},
        ],
    }


def write_audit_policy(path: Path) -> None:
    path.write_text(yaml.safe_dump(audit_policy(), sort_keys=False))


def apiserver_args(root: Path, pki: Path, etcd_url: str) -> list[str]:
    """The API server's flags for etcd over mutual TLS, encryption at rest and the audit
    log, all under the cluster's state folder ``root``."""
    return [
        "--etcd-servers", etcd_url,
        "--etcd-cafile", str(pki / "etcd-ca.crt"),
        "--etcd-certfile", str(pki / "apiserver-etcd-client.crt"),
        "--etcd-keyfile", str(pki / "apiserver-etcd-client.key"),
        "--encryption-provider-config", str(root / "encryption.yaml"),
        "--audit-policy-file", str(root / "audit-policy.yaml"),
        "--audit-log-path", str(root / "logs" / "audit.log"),
        # Bounded: at most three files of 100 MiB.
        "--audit-log-maxsize", "100", "--audit-log-maxbackup", "2",
    ]  # fmt: skip


def etcd_args(pki: Path, client_url: str, peer_url: str) -> list[str]:
    """etcd's TLS flags: it serves only over TLS and accepts only clients and peers with
    a certificate from its own CA."""
    return [
        "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--cert-file", str(pki / "etcd-server.crt"),
        "--key-file", str(pki / "etcd-server.key"),
        "--client-cert-auth", "--trusted-ca-file", str(pki / "etcd-ca.crt"),
        "--peer-cert-file", str(pki / "etcd-peer.crt"),
        "--peer-key-file", str(pki / "etcd-peer.key"),
        "--peer-client-cert-auth", "--peer-trusted-ca-file", str(pki / "etcd-ca.crt"),
    ]  # fmt: skip
