"""One sitebox operation at a time per cluster: a Lease in the system namespace.

Helm marks a release pending while it works on it, and a pending release looks the
same whether another run is at work or a run was killed halfway. The lease tells
the two apart. A live holder renews it; a holder that is gone (its process no
longer exists on this machine, or it stopped renewing) leaves it to be taken over,
and then a pending release is what an interrupted run left, safe to recover.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sitebox import procs
from sitebox.components.names import SYSTEM_NAMESPACE
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, Obj

NAME = "sitebox-operation"
DURATION = 30  # seconds without a renewal before a holder on another machine counts as gone
OPERATION = "sitebox.io/operation"


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    start_ticks: int

    @property
    def identity(self) -> str:
        return f"{self.host}/{self.pid}/{self.start_ticks}"

    @classmethod
    def parse(cls, identity: str) -> Holder | None:
        host, _, rest = identity.rpartition("/")
        host, _, pid = host.rpartition("/")
        if not (host and pid.isdigit() and rest.isdigit()):
            return None
        return cls(host, int(pid), int(rest))

    @classmethod
    def me(cls) -> Holder:
        return cls(socket.gethostname(), os.getpid(), procs.start_ticks(os.getpid()) or 0)

    def running(self) -> bool:
        """Only answerable on the holder's own machine."""
        return procs.alive(procs.ProcessRecord("sitebox", self.pid, self.start_ticks, (), ""))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _gone(spec: dict[str, object]) -> bool:
    holder = Holder.parse(str(spec.get("holderIdentity") or ""))
    if holder and holder.host == socket.gethostname():
        return not holder.running()
    renewed = spec.get("renewTime")
    if not isinstance(renewed, str):
        return True
    age = datetime.now(UTC) - datetime.fromisoformat(renewed)
    return age > timedelta(seconds=int(str(spec.get("leaseDurationSeconds") or DURATION)))


def _claim(kube: Kube, me: Holder, operation: str) -> None:
    lease: Obj = kube.get("coordination.k8s.io/v1", "Lease", NAME, SYSTEM_NAMESPACE) or {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": NAME, "namespace": SYSTEM_NAMESPACE},
    }
    spec = lease.get("spec") or {}
    if spec.get("holderIdentity") not in (None, me.identity) and not _gone(spec):
        running = lease["metadata"].get("annotations", {}).get(OPERATION, "an operation")
        raise SiteboxError(
            f"another sitebox run is at work on this cluster: {running} by "
            f"{spec['holderIdentity']} (host/pid), since {spec.get('acquireTime')}; "
            "nothing was changed",
            hint="wait for it to finish; if that machine is gone, its claim lapses "
            f"{DURATION}s after its last renewal",
        )
    lease["metadata"].setdefault("annotations", {})[OPERATION] = operation
    lease["spec"] = {
        "holderIdentity": me.identity,
        "leaseDurationSeconds": DURATION,
        "acquireTime": _now(),
        "renewTime": _now(),
    }
    if not kube.write_lease(lease):
        raise SiteboxError(
            "another sitebox run claimed this cluster at the same moment; nothing was changed",
            hint="run again once it has finished",
        )


def _renew(kube: Kube, me: Holder, stop: threading.Event) -> None:
    while not stop.wait(DURATION / 3):
        try:
            lease = kube.get("coordination.k8s.io/v1", "Lease", NAME, SYSTEM_NAMESPACE)
            if not lease or lease["spec"].get("holderIdentity") != me.identity:
                return
            lease["spec"]["renewTime"] = _now()
            kube.write_lease(lease)
        except SiteboxError:
            continue  # the API server may be restarting; renew on the next beat


@contextmanager
def held(kube: Kube, operation: str) -> Iterator[None]:
    """Hold the cluster's operation lease for the duration of the block."""
    me = Holder.me()
    _claim(kube, me, operation)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(kube, me, stop), daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=5)
        try:
            lease = kube.get("coordination.k8s.io/v1", "Lease", NAME, SYSTEM_NAMESPACE)
            if lease and lease["spec"].get("holderIdentity") == me.identity:
                kube.delete("coordination.k8s.io/v1", "Lease", NAME, SYSTEM_NAMESPACE)
        except SiteboxError:
            pass  # unreachable now: the claim lapses by itself, the next run takes it over
