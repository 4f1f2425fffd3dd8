"""The sim cluster's certificates: one CA, the API server's serving cert, client certs.

ECDSA P-256 throughout: generating it takes milliseconds, which keeps
``cluster up`` fast, and every Kubernetes component accepts it.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sitebox.files import private_dir, write_private

_VALIDITY = datetime.timedelta(days=365)
API_SERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
API_SERVER_IPS = ("127.0.0.1", "10.96.0.1")  # loopback, and the first service IP


@dataclass(frozen=True)
class Identity:
    """A client identity: the user name (CN) and groups (O) Kubernetes authenticates."""

    file: str
    user: str
    groups: tuple[str, ...] = ()


# The admin and kwok act as cluster-admin; the controllers use their own built-in roles.
CLIENTS = (
    Identity("admin", "kubernetes-admin", ("system:masters",)),
    Identity("controller-manager", "system:kube-controller-manager"),
    Identity("scheduler", "system:kube-scheduler"),
    Identity("kwok", "kwok", ("system:masters",)),
)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(path, pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common: str, groups: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate | None,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: list[x509.ObjectIdentifier] | None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject if ca_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca_cert is None, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def create(pki: Path) -> None:
    """Write ca, apiserver, service-account and client key pairs into ``pki``."""
    private_dir(pki)
    ca_key = _key()
    ca_cert = _issue(_name("sitebox-sim-ca"), ca_key, None, ca_key, None)
    _write_key(pki / "ca.key", ca_key)
    _write_cert(pki / "ca.crt", ca_cert)

    server_key = _key()
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in API_SERVER_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in API_SERVER_IPS]
    server = _issue(
        _name("kube-apiserver"),
        server_key,
        ca_cert,
        ca_key,
        [ExtendedKeyUsageOID.SERVER_AUTH],
        sans,
    )
    _write_key(pki / "apiserver.key", server_key)
    _write_cert(pki / "apiserver.crt", server)

    sa_key = _key()
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    for client in CLIENTS:
        key = _key()
        cert = _issue(
            _name(client.user, client.groups),
            key,
            ca_cert,
            ca_key,
            [ExtendedKeyUsageOID.CLIENT_AUTH],
        )
        _write_key(pki / f"{client.file}.key", key)
        _write_cert(pki / f"{client.file}.crt", cert)
