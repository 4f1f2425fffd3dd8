"""The sim cluster's certificates: the cluster CA (the API server's serving cert, client
certs) and, apart from it, etcd's own CA (etcd's serving and peer certs, the API
server's etcd client cert).

Two CAs as kubeadm has them: etcd trusts only certs of its own CA, so no kubeconfig
the cluster CA signed (the admin's included) opens etcd, which holds every Secret.
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


def _sans(names: tuple[str, ...], ips: tuple[str, ...]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    return sans + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]


def _pair(
    pki: Path,
    file: str,
    subject: x509.Name,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    usage: list[x509.ObjectIdentifier],
    sans: list[x509.GeneralName] | None = None,
) -> None:
    key = _key()
    _write_key(pki / f"{file}.key", key)
    _write_cert(pki / f"{file}.crt", _issue(subject, key, ca[0], ca[1], usage, sans))


def _ca(pki: Path, file: str, common: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    cert = _issue(_name(common), key, None, key, None)
    _write_key(pki / f"{file}.key", key)
    _write_cert(pki / f"{file}.crt", cert)
    return cert, key


def create(pki: Path) -> None:
    """Write both CAs, the API server's, etcd's, the service-account and the client key
    pairs into ``pki``."""
    private_dir(pki)
    ca = _ca(pki, "ca", "sitebox-sim-ca")
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    _pair(
        pki, "apiserver", _name("kube-apiserver"), ca, [server],
        _sans(API_SERVER_NAMES, API_SERVER_IPS),
    )  # fmt: skip

    etcd_ca = _ca(pki, "etcd-ca", "sitebox-sim-etcd-ca")
    loopback = _sans(("localhost",), ("127.0.0.1",))
    # Members of a cluster are each other's servers and clients: the peer cert is both.
    _pair(pki, "etcd-server", _name("etcd"), etcd_ca, [server], loopback)
    _pair(pki, "etcd-peer", _name("etcd-peer"), etcd_ca, [server, client], loopback)
    _pair(pki, "apiserver-etcd-client", _name("kube-apiserver-etcd-client"), etcd_ca, [client])

    sa_key = _key()
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    for identity in CLIENTS:
        _pair(pki, identity.file, _name(identity.user, identity.groups), ca, [client])
