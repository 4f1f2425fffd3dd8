"""Preflight over what the site would create, read from its render.

These checks predict what Helm's wait would otherwise find out only when its timeout
ends: a pod no node has room for, a claim no volume can satisfy, a Service that never
gets an address, a storage class whose driver is not there, a download an air-gapped
site cannot make.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes
from sitebox.components.names import SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.kube import Kube
from sitebox.model.siteconfig import Site
from sitebox.preflight.checks import (
    FAIL,
    PASS,
    WARN,
    ClusterFacts,
    NodeFacts,
    Result,
    check_all,
    gather,
)
from sitebox.render.policy import containers_of, pod_spec

Obj = Mapping[str, Any]
STATIC = "kubernetes.io/no-provisioner"
# Hosts a container may name without leaving the cluster or the machine: a Service by its
# short name (no dot), its cluster names, loopback.
_LOCAL = re.compile(r"^([^.:]+|.*\.svc|.*\.cluster\.local|127\.[0-9.]+)(:.*)?$")
_URL = re.compile(r"https?://([^/\s\"']+)[^\s\"']*")


@dataclass(frozen=True)
class Claim:
    where: str  # namespace/name
    storage_class: str | None  # None: the cluster's default
    size: int
    access_modes: tuple[str, ...]
    bound_to: str | None  # a volume named in the claim (static provisioning)


def _size(text: str) -> int:
    try:
        return memory_bytes(text)
    except QuantityError:
        return 0


def _claim(spec: Obj, where: str) -> Claim:
    requests = (spec.get("resources") or {}).get("requests") or {}
    klass = spec.get("storageClassName")
    return Claim(
        where=where,
        storage_class=None if klass is None else str(klass),
        size=_size(str(requests.get("storage", "0"))),
        access_modes=tuple(spec.get("accessModes") or ()),
        bound_to=spec.get("volumeName"),
    )


def claims(manifests: Sequence[Obj], namespace: str) -> Iterator[Claim]:
    """Every claim the manifests make: PersistentVolumeClaims, and a StatefulSet's claim
    templates once per replica (named as its controller names them)."""
    for obj in manifests:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or namespace
        if obj.get("kind") == "PersistentVolumeClaim":
            yield _claim(obj.get("spec") or {}, f"{ns}/{meta.get('name')}")
        elif obj.get("kind") == "StatefulSet":
            spec = obj.get("spec") or {}
            replicas = spec.get("replicas", 1)
            for template in spec.get("volumeClaimTemplates") or []:
                prefix = f"{template['metadata']['name']}-{meta.get('name')}"
                for ordinal in range(int(replicas or 0)):
                    yield _claim(template.get("spec") or {}, f"{ns}/{prefix}-{ordinal}")


def _human(size: int) -> str:
    for unit, scale in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
        if size >= scale:
            return f"{size / scale:.4g}{unit}"
    return f"{size}B"


def _class_of(claim: Claim, facts: ClusterFacts) -> str | None:
    if claim.storage_class is not None:
        return claim.storage_class or None
    return next((c.name for c in facts.storage_classes if c.default), None)


def volume_binding(new: Sequence[Claim], facts: ClusterFacts) -> Result:
    """Claims on a class that provisions nothing (static volumes only) against the free
    volumes of that class, largest claim first, each taking the smallest volume that fits."""
    name = "volume-binding"
    free = sorted(facts.free_volumes, key=lambda v: v.size)
    taken: set[str] = set()
    unmet: list[str] = []
    static = 0
    for claim in sorted(new, key=lambda c: -c.size):
        klass = _class_of(claim, facts)
        found = facts.storage_class(klass) if klass else None
        if claim.bound_to or found is None or found.provisioner != STATIC:
            continue
        static += 1
        fits = [
            v
            for v in free
            if v.name not in taken
            and v.storage_class == klass
            and v.size >= claim.size
            and set(claim.access_modes) <= set(v.access_modes)
        ]
        if fits:
            taken.add(fits[0].name)
            continue
        left = [v for v in free if v.name not in taken and v.storage_class == klass]
        largest = max((v.size for v in left), default=0)
        unmet.append(
            f"claim {claim.where} asks {_human(claim.size)} of class {klass}, which has "
            f"pre-provisioned volumes only: {len(left)} free, the largest "
            f"{_human(largest) if left else 'none'}"
        )
    if unmet:
        return Result(
            name,
            FAIL,
            "; ".join(unmet),
            "add PersistentVolumes of that size to the class (or a provisioner), or lower "
            "the size in site.yaml (components.storage.size)",
        )
    return Result(name, PASS, f"{static} claim(s) on pre-provisioned volumes fit")


def _made(manifests: Sequence[Obj], kind: str) -> set[str]:
    return {str((o.get("metadata") or {}).get("name")) for o in manifests if o.get("kind") == kind}


def storage_drivers(new: Sequence[Claim], manifests: Sequence[Obj], facts: ClusterFacts) -> Result:
    """The CSI driver of each class the claims use is registered (or comes with the site)."""
    name = "storage-drivers"
    classes = {klass for c in new if not c.bound_to and (klass := _class_of(c, facts))}
    made_classes = {
        str(o["metadata"]["name"]): str(o.get("provisioner"))
        for o in manifests
        if o.get("kind") == "StorageClass"
    }
    drivers = _made(manifests, "CSIDriver") | set(facts.csi_drivers or ())
    missing = []
    absent = sorted(k for k in classes if not facts.storage_class(k) and k not in made_classes)
    if absent and facts.storage_classes:
        return Result(
            name,
            FAIL,
            f"claims ask for StorageClass {', '.join(absent)}, which does not exist "
            f"(classes: {', '.join(c.name for c in facts.storage_classes)}): they would "
            "stay Pending",
            "create the class, or name an existing one in site.yaml (storage.className)",
        )
    for klass in sorted(classes):
        found = facts.storage_class(klass)
        provisioner = found.provisioner if found else made_classes.get(klass)
        if provisioner is None or provisioner == STATIC or provisioner.startswith("kubernetes.io/"):
            continue
        if provisioner not in drivers:
            missing.append(f"class {klass} uses {provisioner}, which is not registered")
    if missing and facts.csi_drivers is None:
        return Result(name, WARN, "could not list CSIDrivers: " + "; ".join(missing), "check rbac")
    if any("csi" in m for m in missing):
        return Result(
            name,
            FAIL,
            "; ".join(missing) + ": claims on it would stay Pending",
            "install that CSI driver, or choose another class (storage.className)",
        )
    if missing:
        return Result(
            name,
            WARN,
            "; ".join(missing) + " as a CSI driver (fine if it is not one)",
            "check that its provisioner runs",
        )
    return Result(name, PASS, f"drivers of {len(classes)} class(es) registered or not needed")


def load_balancers(manifests: Sequence[Obj], facts: ClusterFacts) -> Result:
    name = "load-balancers"
    wanted = sorted(
        f"{(o.get('metadata') or {}).get('name')}"
        for o in manifests
        if o.get("kind") == "Service" and (o.get("spec") or {}).get("type") == "LoadBalancer"
    )
    if not wanted:
        return Result(name, PASS, "no LoadBalancer Services")
    if facts.load_balancer:
        return Result(name, PASS, f"LoadBalancer Services: {', '.join(wanted)}")
    return Result(
        name,
        FAIL,
        f"Services {', '.join(wanted)} are of type LoadBalancer, and nothing on this cluster "
        "gives one an address (no cloud provider, no MetalLB or similar): the install would "
        "wait for them until it times out",
        "set `ingress: {type: none}` (port-forward), gateway or ingress in site.yaml, or "
        "install a load-balancer implementation (MetalLB) first",
    )


def _urls(container: Obj) -> Iterator[str]:
    texts = [*(container.get("command") or []), *(container.get("args") or [])]
    texts += [str(e.get("value", "")) for e in container.get("env") or [] if isinstance(e, dict)]
    for text in texts:
        for match in _URL.finditer(str(text)):
            if not _LOCAL.search(match[1]):
                yield match[0]


def downloads(manifests: Sequence[Obj], air_gapped: bool) -> Result:
    """Containers that fetch something from outside the cluster when they run: a Job that
    downloads CRDs at install time, say."""
    name = "downloads"
    found = []
    for obj in manifests:
        for container in containers_of(obj):
            for url in _urls(container):
                found.append(f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}: {url}")
    if not found:
        return Result(name, PASS, "nothing fetched from outside the cluster")
    shown = "; ".join(sorted(set(found))[:4])
    return Result(
        name,
        FAIL if air_gapped else WARN,
        f"fetched from outside the cluster at run time: {shown}",
        "an air-gapped site cannot reach these: remove the override that turns them on, or "
        "mirror them and point the values at the mirror",
    )


@dataclass(frozen=True)
class Pod:
    workload: str  # Kind/name
    cpu: int  # millicores requested
    memory: int  # bytes requested
    selector: Mapping[str, str]
    tolerations: tuple[Obj, ...]

    def fits_on(self, node: NodeFacts) -> bool:
        """The node's labels match the pod's nodeSelector, and the pod tolerates its taints."""
        if any(node.labels.get(k) != v for k, v in self.selector.items()):
            return False
        return all(_tolerated(key, value, self.tolerations) for key, value in node.taints)


def _tolerated(key: str, value: str, tolerations: tuple[Obj, ...]) -> bool:
    for t in tolerations:
        if t.get("operator") == "Exists" and t.get("key") in (None, key):
            return True
        if t.get("key") == key and str(t.get("value") or "") == value:
            return True
    return False


def _requests(spec: Obj) -> tuple[int, int]:
    """What the scheduler reserves for a pod: its containers' requests summed, or its
    largest init container's, whichever is more."""

    def one(container: Obj) -> tuple[int, int]:
        requests = (container.get("resources") or {}).get("requests") or {}
        try:
            return (
                cpu_millis(str(requests.get("cpu", "0"))),
                memory_bytes(str(requests.get("memory", "0"))),
            )
        except QuantityError:
            return 0, 0

    running = [one(c) for c in spec.get("containers") or []]
    starting = [one(c) for c in spec.get("initContainers") or []]
    cpu = max(sum(c for c, _ in running), max((c for c, _ in starting), default=0))
    memory = max(sum(m for _, m in running), max((m for _, m in starting), default=0))
    return cpu, memory


def pods(manifests: Sequence[Obj], nodes: Sequence[NodeFacts]) -> list[Pod]:
    """The long-running pods the manifests make: each replica of a Deployment or
    StatefulSet, a DaemonSet's pod on every node it fits. Jobs come and go, and are left
    out."""
    out = []
    for obj in manifests:
        kind = obj.get("kind")
        if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        spec = pod_spec(obj) or {}
        cpu, memory = _requests(spec)
        pod = Pod(
            f"{kind}/{(obj.get('metadata') or {}).get('name')}",
            cpu,
            memory,
            dict(spec.get("nodeSelector") or {}),
            tuple(spec.get("tolerations") or ()),
        )
        replicas = (obj.get("spec") or {}).get("replicas", 1)
        count = sum(pod.fits_on(n) for n in nodes) if kind == "DaemonSet" else int(replicas or 0)
        out += [pod] * count
    return out


def placement(manifests: Sequence[Obj], facts: ClusterFacts) -> Result:
    """Place every pod on the ready nodes by its requests, largest first, each on the node
    with the most room that takes it: a pod none can take would keep the install waiting
    until its timeout. Pods already on the cluster are not counted (a prediction for an
    empty cluster, or one the site has to itself)."""
    name = "placement"
    nodes = [n for n in facts.nodes if n.usable]
    room = {n.name: [n.cpu_millis, n.memory_bytes] for n in nodes}
    every = pods(manifests, nodes)
    daemons = [p for p in every if p.workload.startswith("DaemonSet/")]
    for pod in daemons:
        for node in nodes:
            if pod.fits_on(node):
                room[node.name][0] -= pod.cpu
                room[node.name][1] -= pod.memory
    left: dict[str, int] = {}
    others = [p for p in every if not p.workload.startswith("DaemonSet/")]
    for pod in sorted(others, key=lambda p: (-p.cpu, -p.memory)):
        fits = [
            n
            for n in nodes
            if pod.fits_on(n) and room[n.name][0] >= pod.cpu and room[n.name][1] >= pod.memory
        ]
        if not fits:
            left[pod.workload] = left.get(pod.workload, 0) + 1
            continue
        best = max(fits, key=lambda n: (room[n.name][0], room[n.name][1]))
        room[best.name][0] -= pod.cpu
        room[best.name][1] -= pod.memory
    overfull = [n for n in nodes if min(room[n.name]) < 0]
    if not left and not overfull:
        placed = len(daemons) + len(others)
        return Result(name, PASS, f"{placed} pods placed on {len(nodes)} ready nodes by requests")
    problems = [f"{count} pod(s) of {workload}" for workload, count in sorted(left.items())]
    problems += [f"the DaemonSets alone overfill node {n.name}" for n in overfull]
    biggest = max(nodes, key=lambda n: (n.cpu_millis, n.memory_bytes), default=None)
    largest = (
        f"; the largest node offers {biggest.cpu_millis / 1000:g} CPU, "
        f"{_human(biggest.memory_bytes)}"
        if biggest
        else ""
    )
    return Result(
        name,
        FAIL,
        f"no ready node has room for {', '.join(problems)}{largest}: they would stay "
        "Pending until the install times out",
        "add nodes or larger ones, or make the site smaller in site.yaml (batch workers, "
        "job and server sizes)",
    )


Release = tuple[Sequence[Obj], str]  # a release's manifests, and its namespace


def check_render(
    releases: Sequence[Release], facts: ClusterFacts, existing: set[str], air_gapped: bool
) -> list[Result]:
    """The checks over a render; ``existing``: claims already on the cluster (namespace/name),
    which keep the volumes they have."""
    manifests = [obj for objs, _ in releases for obj in objs]
    made = [c for objs, namespace in releases for c in claims(objs, namespace)]
    new = [c for c in made if c.where not in existing]
    return [
        placement(manifests, facts),
        volume_binding(new, facts),
        storage_drivers(new, manifests, facts),
        load_balancers(manifests, facts),
        downloads(manifests, air_gapped),
    ]


def run(
    site: Site, kube: Kube, releases: Sequence[Release], air_gapped: bool = False
) -> list[Result]:
    """Every preflight check: the cluster's facts against the site, then against its render."""
    facts = gather(kube, [SYSTEM_NAMESPACE, SITE_NAMESPACE])
    existing = {
        f"{pvc['metadata']['namespace']}/{pvc['metadata']['name']}"
        for pvc in kube.list_objects("v1", "PersistentVolumeClaim")
    }
    return check_all(site, facts) + check_render(releases, facts, existing, air_gapped)
