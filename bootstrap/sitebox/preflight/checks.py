"""Preflight checks: facts gathered from a cluster once, then pure checks over them.

A check is ``(site, facts) -> Result``. The few that must look beyond the
cluster (tool builds, DNS, the CVMFS proxy) take that look as a defaulted
argument, so tests can hand them a stand-in.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes
from sitebox.components.names import (
    PART_OF_LABEL,
    POD_SECURITY_LABEL,
    REANA_SHARED_CLASS,
    SITE_NAMESPACE,
    SYSTEM_NAMESPACE,
)
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, KubeError
from sitebox.model.siteconfig import Site
from sitebox.tools import install, pins

T = TypeVar("T")
Status = Literal["pass", "warn", "fail"]
PASS: Status = "pass"  # noqa: S105 (a status, not a password)
WARN: Status = "warn"
FAIL: Status = "fail"
_SEVERITY: dict[Status, int] = {PASS: 0, WARN: 1, FAIL: 2}

GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",  # still set by some provisioners
)
ENFORCE_LABEL = POD_SECURITY_LABEL + "enforce"
GATEWAY_CRD = "gateways.gateway.networking.k8s.io"
PROXY_TIMEOUT = 3.0


@dataclass(frozen=True)
class Result:
    name: str
    status: Status
    detail: str  # what was found, one line
    fix: str | None = None  # what to do; set for warn and fail

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Access:
    """One right install needs: ``verb`` on ``resource`` (cluster-wide when namespace is None)."""

    verb: str
    group: str
    resource: str
    namespace: str | None = None

    def __str__(self) -> str:
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {what}{where}"


INSTALL_ACCESS = (
    Access("create", "apiextensions.k8s.io", "customresourcedefinitions"),
    Access("create", "scheduling.k8s.io", "priorityclasses"),
    Access("create", "", "namespaces"),
    Access("create", "rbac.authorization.k8s.io", "clusterroles"),
    Access("create", "apps", "deployments", SITE_NAMESPACE),
    Access("create", "", "secrets", SYSTEM_NAMESPACE),
)


@dataclass(frozen=True)
class NodeFacts:
    name: str
    cpu_millis: int
    memory_bytes: int
    gpus: int
    ready: bool
    schedulable: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    # The NoSchedule and NoExecute taints (key, value): a pod lands only if it tolerates them.
    taints: tuple[tuple[str, str], ...] = ()

    @property
    def usable(self) -> bool:
        return self.ready and self.schedulable


@dataclass(frozen=True)
class StorageClassFacts:
    name: str
    provisioner: str
    default: bool


@dataclass(frozen=True)
class VolumeFacts:
    """A PersistentVolume no claim holds yet."""

    name: str
    storage_class: str
    size: int  # bytes
    access_modes: tuple[str, ...]


@dataclass(frozen=True)
class ClusterFacts:
    """What the checks need to know about a cluster, read once."""

    server_version: str
    nodes: tuple[NodeFacts, ...] = ()
    storage_classes: tuple[StorageClassFacts, ...] = ()
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # name -> labels
    access: Mapping[Access, bool] = field(default_factory=dict)
    crds: frozenset[str] | None = None  # None: could not list them
    ingress_classes: tuple[str, ...] | None = None  # None: could not list them
    free_volumes: tuple[VolumeFacts, ...] = ()
    csi_drivers: frozenset[str] | None = None  # None: could not list them
    # Whether something gives LoadBalancer Services an address: a cloud's nodes (they carry
    # a providerID), a bare-metal implementation's CRDs, or a Service that has one.
    load_balancer: bool = False

    def storage_class(self, name: str) -> StorageClassFacts | None:
        return next((c for c in self.storage_classes if c.name == name), None)


# ---- gathering -------------------------------------------------------------------------------


def _asking(what: str, call: Callable[[], T]) -> T:
    """Run one API call; a refusal or a dropped connection becomes a KubeError."""
    try:
        return call()
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubeError(f"{what}: {getattr(exc, 'reason', None) or exc}") from None


def _quantity(node: str, key: str, text: str, parse: Callable[[str], int]) -> int:
    try:
        return parse(text)
    except (QuantityError, ValueError):
        raise SiteboxError(f"node {node} reports {key} {text!r}; sitebox cannot read it") from None


def node_facts(obj: Mapping[str, Any]) -> NodeFacts:
    """One Node object (as a dict) reduced to what the capacity check needs."""
    name = str(obj.get("metadata", {}).get("name", "?"))
    status = obj.get("status") or {}
    allocatable = status.get("allocatable") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return NodeFacts(
        name=name,
        cpu_millis=_quantity(name, "cpu", str(allocatable.get("cpu", "0")), cpu_millis),
        memory_bytes=_quantity(name, "memory", str(allocatable.get("memory", "0")), memory_bytes),
        gpus=_quantity(name, GPU_RESOURCE, str(allocatable.get(GPU_RESOURCE, "0")), int),
        ready=ready,
        schedulable=not (obj.get("spec") or {}).get("unschedulable", False),
        labels=dict(obj.get("metadata", {}).get("labels") or {}),
        taints=tuple(
            (str(t.get("key")), str(t.get("value") or ""))
            for t in (obj.get("spec") or {}).get("taints") or []
            if t.get("effect") in ("NoSchedule", "NoExecute")
        ),
    )


def storage_class_facts(obj: Mapping[str, Any]) -> StorageClassFacts:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return StorageClassFacts(
        name=str(obj["metadata"]["name"]),
        provisioner=str(obj.get("provisioner", "")),
        default=any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS),
    )


def _names(objs: list[dict[str, Any]]) -> list[str]:
    return [str(o["metadata"]["name"]) for o in objs]


def _optional_names(kube: Kube, api_version: str, kind: str) -> list[str] | None:
    """Names of every object of a kind; None when the cluster will not tell us."""
    try:
        return _names(kube.list_objects(api_version, kind))
    except (KubeError, ResourceNotFoundError):
        return None


def gather(kube: Kube, namespaces: list[str]) -> ClusterFacts:
    """Read everything the checks need; labels only of the ``namespaces`` named."""
    version = kube.server_version()  # first: a KubeError here means unreachable
    nodes = _asking("listing nodes", kube.nodes)
    classes = _asking("listing storage classes", kube.storage_classes)
    wanted = set(namespaces)
    labels = {
        str(ns["metadata"]["name"]): dict(ns["metadata"].get("labels") or {})
        for ns in _asking("listing namespaces", kube.namespaces)
        if ns["metadata"]["name"] in wanted
    }
    access = {a: _may(kube, a) for a in INSTALL_ACCESS}
    crds = _optional_names(kube, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    ingress = _optional_names(kube, "networking.k8s.io/v1", "IngressClass")
    volumes = _asking(
        "listing persistent volumes", lambda: kube.list_objects("v1", "PersistentVolume")
    )
    drivers = _optional_names(kube, "storage.k8s.io/v1", "CSIDriver")
    return ClusterFacts(
        server_version=version,
        nodes=tuple(node_facts(n) for n in nodes),
        storage_classes=tuple(storage_class_facts(c) for c in classes),
        namespaces=labels,
        access=access,
        crds=None if crds is None else frozenset(crds),
        ingress_classes=None if ingress is None else tuple(sorted(ingress)),
        free_volumes=tuple(v for v in map(volume_facts, volumes) if v is not None),
        csi_drivers=None if drivers is None else frozenset(drivers),
        load_balancer=_load_balancer(kube, nodes, crds or []),
    )


# CRDs of the bare-metal load-balancer implementations: MetalLB, kube-vip's and Cilium's
# address pools, OpenELB.
LOAD_BALANCER_CRDS = frozenset(
    {
        "ipaddresspools.metallb.io",
        "ciliumloadbalancerippools.cilium.io",
        "eips.network.kubesphere.io",
    }
)


def _load_balancer(kube: Kube, nodes: list[dict[str, Any]], crds: list[str]) -> bool:
    if any((n.get("spec") or {}).get("providerID") for n in nodes):
        return True
    if LOAD_BALANCER_CRDS & set(crds):
        return True
    services = _asking("listing services", lambda: kube.list_objects("v1", "Service"))
    return any(
        ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        for svc in services
        if (svc.get("spec") or {}).get("type") == "LoadBalancer"
    )


def volume_facts(obj: Mapping[str, Any]) -> VolumeFacts | None:
    """A PersistentVolume that a new claim could bind, None for one already bound."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if status.get("phase") != "Available" or spec.get("claimRef"):
        return None
    name = str(obj["metadata"]["name"])
    size = str((spec.get("capacity") or {}).get("storage", "0"))
    return VolumeFacts(
        name=name,
        storage_class=str(spec.get("storageClassName") or ""),
        size=_quantity(name, "capacity", size, memory_bytes),
        access_modes=tuple(spec.get("accessModes") or ()),
    )


def _may(kube: Kube, access: Access) -> bool:
    def ask() -> bool:
        return kube.can_i(access.verb, access.group, access.resource, access.namespace)

    return _asking(f"asking whether we may {access}", ask)


# ---- wording ---------------------------------------------------------------------------------


def _count(n: int | str, unit: str) -> str:
    return f"{n} {unit}" if str(n) == "1" else f"{n} {unit}s"


def _cpus(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis / 1000:g}"


def _memory(size: int) -> str:
    """As people write it: 1200Gi stays 1200Gi (Ti only when exact), 1.5Gi, 512Mi."""
    if size and size % 2**40 == 0:
        return f"{size // 2**40}Ti"
    unit, scale = ("Gi", 2**30) if size >= 2**30 else ("Mi", 2**20)
    return f"{size / scale:.1f}".removesuffix(".0") + unit


def _shortfall(needed: str, offered: str, short: str) -> str:
    """``needs 32 CPUs, the nodes offer 12: 20 CPUs short``."""
    return f"needs {needed}, the nodes offer {offered}: {short} short"


# ---- the checks ------------------------------------------------------------------------------


def kubernetes_version(site: Site, facts: ClusterFacts) -> Result:
    dist = site.distribution
    supported = f"{dist.kube_min} to {dist.kube_max}"
    name = "kubernetes-version"
    try:
        ok = dist.supports(facts.server_version)
    except ValueError:
        ok = False
    if ok:
        return Result(name, PASS, f"{facts.server_version} (supported: {supported})")
    return Result(
        name,
        FAIL,
        f"the cluster runs {facts.server_version}, outside distribution {dist.version}'s range",
        f"use a cluster running Kubernetes {supported} (tested on {dist.kube_tested})",
    )


def capacity(site: Site, facts: ClusterFacts) -> Result:
    usable = [n for n in facts.nodes if n.usable]
    have_cpu = sum(n.cpu_millis for n in usable)
    have_mem = sum(n.memory_bytes for n in usable)
    have_gpu = sum(n.gpus for n in usable)
    need_cpu = cpu_millis(str(site.requires["cpu"]))
    need_mem = memory_bytes(str(site.requires["memory"]))
    need_gpu = int(site.requires.get("gpus", 0))
    short: list[str] = []
    if have_cpu < need_cpu:
        cpus = _cpus(need_cpu), _cpus(have_cpu), _cpus(need_cpu - have_cpu)
        short.append(_shortfall(_count(cpus[0], "CPU"), cpus[1], _count(cpus[2], "CPU")))
    if have_mem < need_mem:
        mem = _memory(need_mem), _memory(have_mem), _memory(need_mem - have_mem)
        short.append(_shortfall(f"{mem[0]} memory", mem[1], mem[2]))
    if have_gpu < need_gpu:
        gpus = _count(need_gpu, "GPU"), str(have_gpu), _count(need_gpu - have_gpu, "GPU")
        short.append(_shortfall(*gpus))
    left_out = len(facts.nodes) - len(usable)
    counted = f"{_count(len(usable), 'ready node')}" + (
        f" ({left_out} not ready or cordoned, not counted)" if left_out else ""
    )
    if short:
        return Result(
            "capacity",
            FAIL,
            f"{'; '.join(short)} (on {counted})",
            f"add nodes, or choose a smaller profile than {site.profile} "
            "(or shrink components in site.yaml)",
        )
    offered = f"{_count(_cpus(have_cpu), 'CPU')}, {_memory(have_mem)}"
    if have_gpu or need_gpu:
        offered += f", {_count(have_gpu, 'GPU')}"
    needed = f"{_count(_cpus(need_cpu), 'CPU')}, {_memory(need_mem)}"
    return Result("capacity", PASS, f"{offered} on {counted}; the site needs {needed}")


def _class_list(facts: ClusterFacts) -> str:
    return ", ".join(c.name for c in facts.storage_classes) or "none"


def storage_default(site: Site, facts: ClusterFacts) -> Result:
    name = "storage-default"
    wanted = site.config.get("storage", {}).get("className")
    if wanted:
        found = facts.storage_class(wanted)
        if found is None:
            return Result(
                name,
                FAIL,
                f"storage.className {wanted!r} does not exist (classes: {_class_list(facts)})",
                f"create StorageClass {wanted}, or set storage.className to an existing one",
            )
        return Result(name, PASS, f"storage.className {wanted} ({found.provisioner})")
    defaults = [c for c in facts.storage_classes if c.default]
    if not defaults:
        return Result(
            name,
            FAIL,
            f"no default StorageClass (classes: {_class_list(facts)})",
            "mark one default (annotation storageclass.kubernetes.io/is-default-class: "
            '"true"), or set storage.className in site.yaml',
        )
    if len(defaults) > 1:
        return Result(
            name,
            WARN,
            f"{len(defaults)} default StorageClasses: {', '.join(c.name for c in defaults)}; "
            "Kubernetes picks the newest",
            "keep one default, or set storage.className in site.yaml",
        )
    return Result(
        name, PASS, f"default StorageClass {defaults[0].name} ({defaults[0].provisioner})"
    )


def storage_shared(site: Site, facts: ClusterFacts) -> Result:
    name = "storage-shared"
    storage = site.config.get("storage", {})
    shared = storage.get("sharedClassName")
    nfs = storage.get("nfs")
    if nfs:
        # storage.nfs turns the nfs component on, and it creates the class (named
        # sharedClassName, or "shared"): the class is not there before the install.
        made = shared or "shared"
        return Result(
            name, PASS, f"{nfs['server']}:{nfs['path']}, as class {made} of the NFS CSI driver"
        )
    if shared:
        found = facts.storage_class(shared)
        if found is None:
            return Result(
                name,
                FAIL,
                f"storage.sharedClassName {shared!r} does not exist "
                f"(classes: {_class_list(facts)})",
                f"create StorageClass {shared}, or set storage.sharedClassName to an existing "
                "ReadWriteMany class",
            )
        reana = site.components.get("workflow", {}).get("enabled")
        if reana and facts.storage_class(REANA_SHARED_CLASS) is None:
            return Result(
                name,
                FAIL,
                f"REANA's shared claim asks for StorageClass {REANA_SHARED_CLASS}, which does "
                "not exist: REANA's pods would wait for it until the install times out",
                f"create StorageClass {REANA_SHARED_CLASS} with the provisioner and parameters "
                f"of {shared} ({found.provisioner})",
            )
        return Result(name, PASS, f"storage.sharedClassName {shared} ({found.provisioner})")
    if not site.requires.get("readWriteMany"):
        return Result(name, PASS, f"profile {site.profile} needs no ReadWriteMany storage")
    return Result(
        name,
        FAIL,
        f"profile {site.profile} needs ReadWriteMany storage and none is configured",
        "set storage.sharedClassName or storage.nfs in site.yaml",
    )


def pod_security(site: Site, facts: ClusterFacts) -> Result:
    """What each release's namespace will enforce (install labels them), and a warning
    where that replaces a level someone else set."""
    name = "pod-security"
    plan = {
        SYSTEM_NAMESPACE: site.pod_security("system"),
        SITE_NAMESPACE: site.pod_security("site"),
    }
    replaced = [
        f"{namespace} enforces {labels.get(ENFORCE_LABEL)!r}, set outside sitebox"
        for namespace, labels in facts.namespaces.items()
        if namespace in plan
        and labels.get(PART_OF_LABEL) != "sitebox"
        and labels.get(ENFORCE_LABEL) not in (None, plan[namespace])
    ]
    levels = ", ".join(f"{namespace} {level}" for namespace, level in plan.items())
    if replaced:
        return Result(
            name,
            WARN,
            f"{'; '.join(replaced)}: install sets {levels}",
            "nothing to do if that is right; the distribution lists why a component needs "
            "more than restricted (podSecurity)",
        )
    return Result(name, PASS, f"install enforces {levels}; restricted warned and audited")


def rbac(site: Site, facts: ClusterFacts) -> Result:
    denied = [a for a in INSTALL_ACCESS if not facts.access.get(a, False)]
    if denied:
        return Result(
            "rbac",
            FAIL,
            f"denied: {', '.join(str(a) for a in denied)}",
            "run with a cluster-admin kubeconfig, or ask an admin to grant these rights",
        )
    return Result("rbac", PASS, f"allowed: all {len(INSTALL_ACCESS)} rights install needs")


# What an install runs; etcd and kwok serve only the local sim cluster.
INSTALL_TOOLS = ("helm",)


def tool_states() -> dict[str, str]:
    """The state of each tool an install needs ("cached" when built and verified)."""
    pinned = pins.load().tools
    return {name: install.status(pinned[name]).state for name in INSTALL_TOOLS}


def tools(
    site: Site, facts: ClusterFacts, states: Callable[[], dict[str, str]] | None = None
) -> Result:
    found = (states or tool_states)()
    missing = {tool: state for tool, state in found.items() if state != "cached"}
    if missing:
        return Result(
            "tools",
            FAIL,
            "not ready: " + ", ".join(f"{t} ({s})" for t, s in sorted(missing.items())),
            "run `sitebox tools install`",
        )
    return Result("tools", PASS, f"cached: {', '.join(sorted(found))}")


def resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def _entry_point(site: Site, facts: ClusterFacts, kind: str) -> tuple[Status, str, str | None]:
    ingress = site.config.get("ingress", {})
    if kind == "gateway":
        if facts.crds is None:
            return WARN, "could not list CRDs to look for the Gateway API", "check rbac"
        if GATEWAY_CRD not in facts.crds:
            # The hub's HTTPRoute is of a kind the cluster would not serve: Helm would
            # stop halfway through the release.
            return (
                FAIL,
                f"the Gateway API is not installed (no CRD {GATEWAY_CRD})",
                "install the Gateway API CRDs and an implementation (Envoy Gateway, Cilium, "
                "Istio...), or use ingress.type: ingress",
            )
        return PASS, "the Gateway API is installed", None
    if kind == "loadBalancer":
        return PASS, "the hub's proxy Service is a LoadBalancer (see load-balancers)", None
    classes = facts.ingress_classes
    if classes is None:
        return WARN, "could not list IngressClasses", "check rbac"
    wanted = ingress.get("className")
    if not classes:
        return (
            WARN,
            "no IngressClass",
            "install an ingress controller, or use ingress.type: gateway",
        )
    if wanted and wanted not in classes:
        return (
            WARN,
            f"IngressClass {wanted!r} not found (have: {', '.join(classes)})",
            f"set ingress.className to one of: {', '.join(classes)}",
        )
    return PASS, f"IngressClass {wanted or ', '.join(classes)}", None


def _dns(site: Site, resolve: Callable[[str], bool]) -> tuple[Status, str, str | None]:
    domain = site.config.get("domain")
    if not domain:
        return WARN, "no domain set", "set domain in site.yaml (users reach hub.<domain>)"
    host = f"hub.{domain}"
    if not resolve(host):
        return (
            WARN,
            f"{host} does not resolve",
            f"add a DNS record for {host} pointing at the ingress or gateway address",
        )
    return PASS, f"{host} resolves", None


def ingress(site: Site, facts: ClusterFacts, resolve: Callable[[str], bool] = resolves) -> Result:
    kind = site.config.get("ingress", {}).get("type")
    if kind in (None, "none"):
        return Result("ingress", PASS, "no ingress requested")
    parts = [_entry_point(site, facts, kind), _dns(site, resolve)]
    status = max((p[0] for p in parts), key=_SEVERITY.__getitem__)
    fixes = [p[2] for p in parts if p[2]]
    return Result(
        "ingress", status, "; ".join(p[1] for p in parts), "; ".join(fixes) if fixes else None
    )


def proxy_address(entry: str) -> tuple[str, int]:
    """``http://squid.example.edu:3128`` or ``squid.example.edu:3128`` → (host, port)."""
    url = urlsplit(entry if "://" in entry else f"http://{entry}")
    try:
        port = url.port
    except ValueError:
        port = None
    if not url.hostname or port is None:
        raise ValueError(f"cannot read host:port from {entry!r}")
    return url.hostname, port


def tcp_error(host: str, port: int, timeout: float = PROXY_TIMEOUT) -> str | None:
    """None when a TCP connection to host:port opens within ``timeout``, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as exc:
        return exc.strerror or str(exc)


def cvmfs_proxy(site: Site, facts: ClusterFacts) -> Result:
    name = "cvmfs-proxy"
    configured = site.config.get("cvmfs", {}).get("proxy")
    if not configured:
        return Result(name, PASS, "none set")
    # CVMFS syntax: ';' separates groups, '|' load-balanced proxies; DIRECT means none.
    entries = [e.strip() for e in re.split(r"[;|]", configured) if e.strip()]
    entries = [e for e in entries if e.upper() != "DIRECT"]
    if not entries:
        return Result(name, PASS, "DIRECT: no proxy")
    problems: list[str] = []
    for entry in entries:
        try:
            host, port = proxy_address(entry)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        error = tcp_error(host, port)
        if error:
            problems.append(f"{host}:{port}: {error}")
    if problems:
        return Result(
            name,
            WARN,
            "; ".join(problems),
            "check the squid is running and reachable from here, and cvmfs.proxy "
            "(http://host:port)",
        )
    return Result(name, PASS, f"{', '.join(entries)} accepts connections")


Check = Callable[[Site, ClusterFacts], Result]
CHECKS: tuple[Check, ...] = (
    kubernetes_version,
    capacity,
    storage_default,
    storage_shared,
    pod_security,
    rbac,
    tools,
    ingress,
    cvmfs_proxy,
)


def check_all(site: Site, facts: ClusterFacts) -> list[Result]:
    return [check(site, facts) for check in CHECKS]


def exit_code(results: list[Result]) -> int:
    """1 when any check fails; warnings do not."""
    return 1 if any(r.status == FAIL for r in results) else 0
