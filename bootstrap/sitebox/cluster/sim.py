"""The sim driver: a real control plane (etcd, kube-apiserver, controller-manager,
scheduler) on loopback, with kwok playing the kubelets of fake nodes.

Every listener binds 127.0.0.1 on a port chosen for this cluster, so several
named clusters run side by side.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TypedDict

import yaml

from sitebox import kube, procs
from sitebox.cluster import hardening, kubeconfig, pki, storage
from sitebox.cluster.nodes import FAKE_ANNOTATION, NodePool
from sitebox.cluster.state import ClusterState, check_name
from sitebox.errors import SiteboxError
from sitebox.tools import pins as pinfile
from sitebox.tools.store import Build, binary

Progress = Callable[[str], None]
PORTS = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
POD_READY = "pod/fast/pod-ready.yaml"
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    POD_READY,
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
OWN_STAGES = Path(__file__).resolve().parent / "stages"  # ours, added after the upstream ones


def _log_tail(record: procs.ProcessRecord, lines: int = 5) -> str:
    try:
        text = Path(record.log).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(f"    {line[:200]}" for line in text[-lines:])


class _Starter:
    """Starts the processes of one cluster, recording each in the state as it goes."""

    def __init__(self, state: ClusterState, say: Progress):
        self.state = state
        self.say = say
        self.logs = state.root / "logs"
        self.pki = state.root / "pki"

    def spawn(self, name: str, argv: list[str]) -> procs.ProcessRecord:
        record = procs.spawn(name, argv, self.logs / f"{name}.log")
        self.state.processes.append(record)
        self.state.save()
        return record

    def wait(
        self, record: procs.ProcessRecord, what: str, check: Callable[[], bool], timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if not procs.alive(record):
                raise SiteboxError(
                    f"{record.name} exited while starting; last lines of {record.log}:\n"
                    + _log_tail(record),
                    hint="fix what the log says, then run `sitebox cluster up` again",
                )
            if time.monotonic() > deadline:
                raise SiteboxError(
                    f"{record.name} did not become ready ({what}) within {timeout:.0f}s; "
                    f"last lines of {record.log}:\n" + _log_tail(record)
                )
            time.sleep(0.1)

    def controller(self, binary: str, bins: dict[str, str], identity: str) -> list[str]:
        """The arguments a control-plane controller shares: its identity's kubeconfig for
        everything, its health port on loopback, and no leader election (one replica)."""
        config = str(self.kubeconfig(identity))
        return [
            bins[binary],
            "--kubeconfig", config,
            "--authentication-kubeconfig", config,
            "--authorization-kubeconfig", config,
            "--bind-address", "127.0.0.1", "--secure-port", str(self.state.ports[identity]),
            "--leader-elect=false",
        ]  # fmt: skip

    def kubeconfig(self, client: str) -> Path:
        path = self.state.root / f"{client}.kubeconfig"
        kubeconfig.write(path, self.state.name, self.state.server, self.pki, client)
        return path


def _etcd_healthy(state: ClusterState) -> bool:
    """etcd answers its health check to the API server's client certificate (it refuses
    any request without one of its CA's). A cluster made before etcd had TLS (no etcd
    CA in its PKI) is started again as it was made: on plain HTTP."""
    pki_dir = state.root / "pki"
    context = None
    if (pki_dir / "etcd-ca.crt").is_file():
        context = ssl.create_default_context(cafile=str(pki_dir / "etcd-ca.crt"))
        context.load_cert_chain(
            str(pki_dir / "apiserver-etcd-client.crt"), str(pki_dir / "apiserver-etcd-client.key")
        )
    scheme = "https" if context else "http"
    url = f"{scheme}://127.0.0.1:{state.ports['etcd']}/health"
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as resp:  # noqa: S310 (http or https, ours)
            return b'"true"' in resp.read()
    except OSError:
        return False


def _kwok_config(path: Path, pod_startup: float = 0.0) -> None:
    """The stages kwok runs. ``pod_startup`` delays the one that makes a scheduled pod
    Ready, as pulling an image and starting a container would on a real node."""
    stages = Build(pinfile.load().tools["kwok"]).root / "stages"
    docs = []
    for rel in KWOK_STAGES:
        try:
            text = (stages / rel).read_text().strip()
            if pod_startup and rel == POD_READY:
                stage = yaml.safe_load(text)
                stage["spec"]["delay"] = {"durationMilliseconds": int(pod_startup * 1000)}
                text = yaml.safe_dump(stage, sort_keys=False).strip()
            docs.append(text)
        except FileNotFoundError:
            raise SiteboxError(
                f"kwok stage {rel} is missing from {stages}",
                hint="run `sitebox tools install --force --only kwok`",
            ) from None
    docs += [p.read_text().strip() for p in sorted(OWN_STAGES.glob("*.yaml"))]
    path.write_text("\n---\n".join(docs) + "\n")


def _check_ports(ports: dict[str, int]) -> None:
    for name, port in ports.items():
        if procs.port_in_use(port):
            raise SiteboxError(
                f"port {port} on 127.0.0.1 (wanted for {name}) is already in use",
                hint="stop what listens there, or pick another port with --api-port",
            )


def _check_new(name: str) -> ClusterState | None:
    """None for a new name; the state of a cluster whose processes can be started again
    (it was stopped with --keep-state, or a component died: a crash, a reboot)."""
    existing = ClusterState.load(name)
    if existing is None:
        return None
    if existing.phase == "running" and all(existing.alive().values()):
        raise SiteboxError(
            f"cluster {name!r} is already running (API server {existing.server})",
            hint=f"use it, or run `sitebox cluster down {name}` first, or choose another --name",
        )
    if existing.phase in ("running", "stopped") and existing.processes:
        return existing
    raise SiteboxError(
        f"cluster {name!r} has a stale state folder from a run that did not finish or was killed "
        f"({existing.root})",
        hint=f"run `sitebox cluster down {name}` to clean it up, then `cluster up` again",
    )


def up(
    name: str,
    pools: list[NodePool],
    volume_tiers: list[storage.VolumeTier],
    api_port: int | None,
    say: Progress,
    timeout: float = 120.0,
    pod_startup: float = 0.0,
) -> ClusterState:
    """Start a cluster and return its state once every node is Ready.

    On any failure, interrupt included, everything started is stopped and the
    state folder removed: nothing is left half-started.
    """
    check_name(name)
    existing = _check_new(name)
    if existing is not None:
        return _resume(existing, say, timeout)
    pins = pinfile.load()
    bins = {
        b: str(binary(b))
        for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
    }
    ports = dict(zip(PORTS, procs.free_ports(len(PORTS)), strict=True))
    if api_port is not None:
        ports["apiserver"] = api_port
    _check_ports(ports)
    state = ClusterState(
        name=name,
        driver="sim",
        phase="starting",
        ports=ports,
        pools=[asdict(p) for p in pools],
        kubernetes_version=pins.tools["kubernetes"].version,
    )
    state.root.parent.mkdir(parents=True, exist_ok=True)
    state.root.mkdir(mode=0o700)  # its PKI, etcd's data and the admin kubeconfig
    try:
        state.save()
        _start(state, bins, pools, volume_tiers, say, timeout, pod_startup)
    except BaseException:
        say("start failed: stopping what was started")
        _teardown(state, keep=False)
        raise
    state.phase = "running"
    state.save()
    return state


def _start(
    state: ClusterState,
    bins: dict[str, str],
    pools: list[NodePool],
    tiers: list[storage.VolumeTier],
    say: Progress,
    timeout: float,
    pod_startup: float,
) -> None:
    run = _Starter(state, say)
    ports = state.ports
    say("generating certificates")
    pki.create(run.pki)
    admin = run.kubeconfig("admin")
    (state.root / "admin.kubeconfig").rename(state.kubeconfig)
    admin = state.kubeconfig

    hardening.write_encryption_config(state.root / "encryption.yaml")
    hardening.write_audit_policy(state.root / "audit-policy.yaml")

    say("starting etcd")
    p = run.pki
    etcd_url = f"https://127.0.0.1:{ports['etcd']}"
    peer_url = f"https://127.0.0.1:{ports['etcd-peer']}"
    etcd = run.spawn("etcd", [
        bins["etcd"], "--name", "sim", "--data-dir", str(state.root / "etcd"),
        *hardening.etcd_args(p, etcd_url, peer_url),
        "--initial-cluster", f"sim={peer_url}",
        # A throwaway development cluster: skip fsync, which dominates etcd's latency on slow disks.
        "--unsafe-no-fsync", "--log-level", "warn",
    ])  # fmt: skip
    run.wait(etcd, "health", lambda: _etcd_healthy(state), timeout)

    say("starting kube-apiserver")
    apiserver = run.spawn("kube-apiserver", [
        bins["kube-apiserver"],
        *hardening.apiserver_args(state.root, p, etcd_url),
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
        "--secure-port", str(ports["apiserver"]),
        "--tls-cert-file", str(p / "apiserver.crt"),
        "--tls-private-key-file", str(p / "apiserver.key"),
        "--client-ca-file", str(p / "ca.crt"),
        "--service-account-key-file", str(p / "sa.pub"),
        "--service-account-signing-key-file", str(p / "sa.key"),
        "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range", SERVICE_CIDR,
        # RBAC and admission as a real cluster has them, so quotas, limits, pod
        # security and priorities are enforced by the API server itself.
        "--authorization-mode", "Node,RBAC",
        "--enable-admission-plugins", "NodeRestriction,ResourceQuota,LimitRanger,PodSecurity,"
        "Priority,DefaultStorageClass,ServiceAccount",
        "--allow-privileged=true",
        "--profiling=false",
    ])  # fmt: skip
    client = kube.Kube(admin)
    run.wait(apiserver, "/readyz", client.ready, timeout)

    say("starting controller-manager, scheduler and kwok")
    controller_manager = run.spawn("kube-controller-manager", [
        *run.controller("kube-controller-manager", bins, "controller-manager"),
        "--service-account-private-key-file", str(p / "sa.key"),
        "--root-ca-file", str(p / "ca.crt"),
        "--cluster-signing-cert-file", str(p / "ca.crt"),
        "--cluster-signing-key-file", str(p / "ca.key"),
        "--use-service-account-credentials=true",
        "--service-cluster-ip-range", SERVICE_CIDR,
        # The default 20 requests/s would make the Job controller, not the API server,
        # the limit of every load test on a simulated cluster.
        "--kube-api-qps=200", "--kube-api-burst=400",
        # Simulated nodes never fail by themselves; on a loaded 2-core machine kwok's
        # lease renewals (every 10 s, see kwok below) can lag, and the default 50 s would
        # mark nodes, and so their pods, NotReady.
        "--node-monitor-grace-period=3m",
    ])  # fmt: skip
    scheduler = run.spawn("kube-scheduler", [
        *run.controller("kube-scheduler", bins, "scheduler"),
        "--kube-api-qps=200", "--kube-api-burst=400",
    ])  # fmt: skip
    kwok_stages = state.root / "kwok-stages.yaml"
    _kwok_config(kwok_stages, pod_startup)
    kwok = run.spawn("kwok", [
        bins["kwok"],
        "--kubeconfig", str(run.kubeconfig("kwok")),
        "--config", str(kwok_stages),
        "--manage-nodes-with-annotation-selector", f"{FAKE_ANNOTATION}=fake",
        "--server-address", f"127.0.0.1:{ports['kwok']}",
        "--cidr", POD_CIDR, "--node-ip", "10.0.0.1",
        # Node leases, renewed every quarter of their duration: the heartbeat the node
        # controller watches. Without them (kwok's default when its configuration file
        # holds only stages) the only heartbeat is the node status, which kwok's stage
        # posts every 10 to 20 minutes: past the grace period every node went NotReady,
        # about 3 minutes after it started and again after each re-initialisation.
        "--node-lease-duration-seconds", "40",
    ])  # fmt: skip

    say("creating storage classes and volumes")
    client.create_all(storage.storage_classes())
    client.create_all(storage.volumes(tiers, state.root / "volumes"))
    total = sum(pool.count for pool in pools)
    say(f"creating {total} nodes")
    client.create_all(manifest for pool in pools for manifest in pool.manifests())

    def nodes_ready() -> bool:
        for record in (controller_manager, scheduler, kwok):
            if not procs.alive(record):
                raise SiteboxError(
                    f"{record.name} exited while starting; last lines of {record.log}:\n"
                    + _log_tail(record)
                )
        ready, _ = client.nodes_ready()
        say(f"nodes ready: {ready}/{total}")
        return ready >= total

    kube.wait_for(f"{total} nodes to become Ready", nodes_ready, timeout)
    # Pods cannot be admitted into a namespace before its default ServiceAccount exists.
    kube.wait_for(
        "the default ServiceAccount",
        lambda: client.get("v1", "ServiceAccount", "default", "default") is not None,
        timeout,
    )


def _resume(state: ClusterState, say: Progress, timeout: float) -> ClusterState:
    """Start the cluster's stopped processes again, in their order, with their recorded
    arguments: etcd keeps its data, so every object (releases, secrets, volumes) is back."""
    run = _Starter(state, say)
    client = kube.Kube(state.kubeconfig)
    ready: dict[str, Callable[[], bool]] = {
        "etcd": lambda: _etcd_healthy(state),
        "kube-apiserver": client.ready,
    }
    for index, record in enumerate(state.processes):
        if procs.alive(record):
            continue
        say(f"starting {record.name} again")
        restarted = procs.spawn(record.name, list(record.argv), Path(record.log))
        state.processes[index] = restarted
        state.save()
        run.wait(restarted, "ready", ready.get(record.name, lambda: True), timeout)
    state.phase = "running"
    state.save()
    total = sum(int(pool["count"]) for pool in state.pools)
    kube.wait_for(
        f"{total} nodes to become Ready", lambda: client.nodes_ready()[0] >= total, timeout
    )
    return state


def _teardown(state: ClusterState, keep: bool) -> list[str]:
    """Stop the recorded processes, newest first; return the names that were running."""
    stopped = []
    for record in reversed(state.processes):
        if procs.alive(record):
            stopped.append(record.name)
        procs.stop(record)
    if not keep:
        shutil.rmtree(state.root, ignore_errors=True)
    return stopped


def down(name: str, keep_state: bool) -> list[str]:
    check_name(name)
    state = ClusterState.load(name)
    if state is None:
        raise SiteboxError(
            f"no cluster named {name!r}", hint="`sitebox cluster list` shows the clusters there are"
        )
    stopped = _teardown(state, keep=keep_state)
    if keep_state:
        state.phase = "stopped"
        with contextlib.suppress(OSError):
            state.save()
    return stopped


class ProcessInfo(TypedDict):
    pid: int
    running: bool
    log: str


class NodeCount(TypedDict):
    ready: int
    total: int


class ClusterInfo(TypedDict):
    name: str
    driver: str
    phase: str
    health: str  # "healthy", "degraded" (something down), "stopped" (nothing runs)
    kubeconfig: str
    server: str | None
    kubernetes: str
    processes: dict[str, ProcessInfo]
    api: str
    nodes: NodeCount | None


def describe(state: ClusterState) -> ClusterInfo:
    """What `cluster status` shows: processes, API health, nodes."""
    running = state.alive()
    api, nodes = "down", None
    if running.get("kube-apiserver") and state.kubeconfig.exists():
        client = kube.Kube(state.kubeconfig)
        if client.ready():
            ready, total = client.nodes_ready()
            api, nodes = "ready", NodeCount(ready=ready, total=total)
    if not any(running.values()):
        health = "stopped"
    elif state.phase == "running" and all(running.values()) and api == "ready":
        health = "healthy"
    else:
        health = "degraded"
    return ClusterInfo(
        name=state.name,
        driver=state.driver,
        phase=state.phase,
        health=health,
        kubeconfig=str(state.kubeconfig),
        server=state.server if "apiserver" in state.ports else None,
        kubernetes=state.kubernetes_version,
        processes={
            p.name: ProcessInfo(pid=p.pid, running=running[p.name], log=p.log)
            for p in state.processes
        },
        api=api,
        nodes=nodes,
    )
