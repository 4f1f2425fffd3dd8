"""The sim cluster keeps secrets as a hardened real cluster does: etcd only speaks
mutual TLS with its own CA, Secrets reach etcd encrypted, and every change is audited
without its content."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import ssl
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sitebox.cluster.hardening import ENCRYPTION_PREFIX
from sitebox.cluster.state import ClusterState
from sitebox.kube import Kube, wait_for
from tests.conftest import SimCluster, fresh_namespace

pytestmark = pytest.mark.live


@pytest.fixture
def state(sim_cluster: SimCluster) -> ClusterState:
    loaded = ClusterState.load(sim_cluster.name)
    assert loaded is not None
    return loaded


@pytest.fixture
def stored_secret(sim_cluster: SimCluster) -> Any:
    """A Secret with a value found nowhere else: its name and its value."""
    kube = Kube(sim_cluster.kubeconfig)
    namespace = fresh_namespace(kube, "enc")
    value = f"sitebox-canary-{secrets.token_hex(16)}"
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "canary", "namespace": namespace},
            "stringData": {"token": value},
        }
    )
    yield namespace, value
    kube.delete("v1", "Namespace", namespace)


def _etcd_health(state: ClusterState, cert: str | None, scheme: str = "https") -> str:
    pki = state.root / "pki"
    context = ssl.create_default_context(cafile=str(pki / "etcd-ca.crt"))
    if cert:
        context.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))
    url = f"{scheme}://127.0.0.1:{state.ports['etcd']}/health"
    with urllib.request.urlopen(url, timeout=5, context=context) as resp:  # noqa: S310
        return str(resp.read().decode())


def test_etcd_answers_the_api_servers_certificate(state: ClusterState) -> None:
    assert json.loads(_etcd_health(state, "apiserver-etcd-client"))["health"] == "true"


@pytest.mark.parametrize(
    "cert",
    [
        None,
        # The cluster CA signed it and it is system:masters, yet etcd is not its to read.
        "admin",
    ],
)
def test_etcd_refuses_a_client_without_its_cas_certificate(
    state: ClusterState, cert: str | None
) -> None:
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        _etcd_health(state, cert)


def test_etcd_refuses_plain_http(state: ClusterState) -> None:
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
        _etcd_health(state, None, scheme="http")


def _etcd_files(state: ClusterState) -> bytes:
    return b"".join(p.read_bytes() for p in (state.root / "etcd").rglob("*") if p.is_file())


def test_a_secrets_value_never_reaches_etcds_files(
    sim_cluster: SimCluster, state: ClusterState, stored_secret: tuple[str, str]
) -> None:
    namespace, value = stored_secret
    kube = Kube(sim_cluster.kubeconfig)
    read = kube.get("v1", "Secret", "canary", namespace)
    assert read is not None
    assert base64.b64decode(read["data"]["token"]).decode() == value
    key = f"/registry/secrets/{namespace}/canary".encode()
    # The write is in etcd's log (its key is there) and it went through the encryption
    # provider (its prefix is there), yet neither the value nor its base64 is.
    wait_for("etcd to write the Secret", lambda: key in _etcd_files(state), 10)
    files = _etcd_files(state)
    assert ENCRYPTION_PREFIX in files
    assert value.encode() not in files
    assert base64.b64encode(value.encode()) not in files


def test_the_audit_log_names_who_wrote_the_secret_and_never_its_value(
    state: ClusterState, stored_secret: tuple[str, str]
) -> None:
    namespace, value = stored_secret
    log = state.root / "logs" / "audit.log"

    def created() -> list[dict[str, Any]]:
        events = [json.loads(line) for line in log.read_text().splitlines()]
        return [
            e
            for e in events
            if e["verb"] == "create"
            and e.get("objectRef", {}).get("resource") == "secrets"
            and e["objectRef"].get("namespace") == namespace
        ]

    wait_for("the audit event of the Secret's creation", lambda: bool(created()), 10)
    (event,) = created()
    assert event["user"]["username"] == "kubernetes-admin"
    assert event["responseStatus"]["code"] == 201
    assert value not in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_the_encryption_key_is_private(state: ClusterState) -> None:
    config: Path = state.root / "encryption.yaml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
