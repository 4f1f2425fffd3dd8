"""Drift of a release's live objects from what Helm applied, and its repair.

Helm's record of a release says what it applied, not what is there now: an object
edited, scaled or deleted by hand leaves the record unchanged, so only a look at
the objects shows it. Each object of the record is compared with its live copy on
the fields the record sets (the server adds fields, drops empty ones and respells
quantities; none of that is drift). The record, not a fresh render, is the
reference: it holds what the charts' lookups found on the cluster (z2jh's and
SeaweedFS's generated keys, and the checksums of them), which a render cannot see.
A drifted object is applied again as Helm applies it: server-side, as Helm's field
manager, with Helm's ownership marks, so the release stays Helm's and the next
upgrade sees nothing foreign.

What is not sitebox's to set is left out of both the comparison and the repair:
status, fields the server fills in, hooks (Helm deletes them after they run), the
CRDs (applied apart from Helm), and the replicas of a workload that a
HorizontalPodAutoscaler scales. A Secret is compared by presence only: its values
are never shown nor compared, so a key rotated by hand is the admin's to undo.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes
from sitebox.compose.diff import kept_by_release
from sitebox.kube import Kube, Obj

HELM_MANAGER = "helm"  # Helm 4 names its field manager after its binary
HELM_OWNER = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace")
_NOT_COMPARED = {"apiVersion", "kind", "metadata", "status"}
_PRESENCE_ONLY = {"Secret"}
_SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
_MAX_SHOWN = 12

Get = Callable[[str, str, str, str], Obj | None]


@dataclass(frozen=True)
class Drift:
    what: str  # "distribution", "release sitebox", "ConfigMap sitebox/x"
    detail: str  # the differences, one per line; never a Secret's values


@dataclass(frozen=True)
class Drifted:
    """An object of a release whose live copy differs, and how."""

    obj: Obj  # as it would be applied: without what other managers own
    namespace: str
    drift: Drift


def _quantity_equal(a: str, b: str) -> bool:
    for parse in (memory_bytes, cpu_millis):
        try:
            if parse(a) == parse(b):
                return True
        except QuantityError:
            continue
    return False


def _compare(want: Any, have: Any, path: str, out: list[str]) -> None:
    """Every field Helm applied must be on the live object with the same value; the
    server may add fields, drop empty ones and respell quantities ('0.5' is '500m'); a
    field left null is not set, so the server's default is no drift."""
    if want is None:
        return
    if isinstance(want, dict) and isinstance(have, dict):
        for key, value in want.items():
            where = f"{path}.{key}" if path else key
            if key in have:
                _compare(value, have[key], where, out)
            elif value not in ({}, [], None, "", False, 0):
                out.append(f"{where}: applied {value!r}, cluster (absent)")
    elif isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for index, (a, b) in enumerate(zip(want, have, strict=True)):
            _compare(a, b, f"{path}[{index}]", out)
    elif isinstance(want, dict | list) or not (
        want == have or str(want) == str(have) or _quantity_equal(str(want), str(have))
    ):
        out.append(f"{path}: applied {want!r}, cluster {have!r}")


def autoscaled(kube: Kube, namespaces: Iterable[str]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of each workload a HorizontalPodAutoscaler scales: its
    replicas are the autoscaler's."""
    found = set()
    for namespace in namespaces:
        for hpa in kube.list_objects("autoscaling/v2", "HorizontalPodAutoscaler", namespace):
            target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            found.add((str(target.get("kind")), namespace, str(target.get("name"))))
    return found


def _wanted(obj: Obj, namespace: str, scaled: set[tuple[str, str, str]]) -> Obj:
    """The object without what another manager owns on the cluster."""
    meta = obj.get("metadata", {})
    if (obj.get("kind"), namespace, meta.get("name")) in scaled and obj["kind"] in _SCALABLE:
        obj = copy.deepcopy(obj)
        obj.get("spec", {}).pop("replicas", None)
    return obj


def _differences(want: Obj, live: Obj) -> list[str]:
    if want["kind"] in _PRESENCE_ONLY:
        return []
    found: list[str] = []
    meta = want.get("metadata", {})
    marks = {k: meta[k] for k in ("labels", "annotations") if meta.get(k)}
    _compare(marks, live.get("metadata", {}), "metadata", found)
    _compare({k: v for k, v in want.items() if k not in _NOT_COMPARED}, live, "", found)
    return found


def _shown(differences: list[str]) -> str:
    shown = [f"  {line}" for line in differences[:_MAX_SHOWN]]
    if len(differences) > _MAX_SHOWN:
        shown.append(f"  ... and {len(differences) - _MAX_SHOWN} more")
    return "\n".join(shown)


def live(
    manifests: list[Obj],
    namespace: str,
    get: Get,
    scaled: set[tuple[str, str, str]] | None = None,
    cluster_kinds: frozenset[str] = frozenset(),
) -> list[Drifted]:
    """The objects of a release against their live copies (``get`` is Kube.get);
    ``scaled``: the workloads an autoscaler scales (``autoscaled``); ``cluster_kinds``:
    the kinds that have no namespace (named without one)."""
    found = []
    for obj in manifests:
        if not kept_by_release(obj):
            continue
        meta = obj.get("metadata", {})
        where = meta.get("namespace") or namespace
        place = "" if obj["kind"] in cluster_kinds else f"{where}/"
        label = f"{obj['kind']} {place}{meta.get('name')}"
        want = _wanted(obj, where, scaled or set())
        current = get(obj["apiVersion"], obj["kind"], meta.get("name"), where)
        if current is None:
            found.append(Drifted(want, where, Drift(label, "  missing on the cluster")))
            continue
        differences = _differences(want, current)
        if differences:
            found.append(Drifted(want, where, Drift(label, _shown(differences))))
    return found


def find_live(kube: Kube, manifests: list[Obj], namespace: str) -> list[Drifted]:
    """The drift of one release's objects (as Helm applied them) on the cluster."""
    objects = [o for o in manifests if kept_by_release(o)]
    refs = [kube.ref(o, namespace) for o in objects]
    # Read all at once; a cluster-scoped object is looked up without the namespace
    # ``live`` passes for it.
    found = {(kind, name, ns): obj for (_, kind, name, ns), obj in
             zip(refs, kube.get_many(refs), strict=True)}  # fmt: skip

    def get(_: str, kind: str, name: str, ns: str) -> Obj | None:
        return found.get((kind, name, ns)) or found.get((kind, name, None))

    scaled = autoscaled(kube, {ns for *_, ns in refs if ns})
    cluster_kinds = frozenset(kind for _, kind, _, ns in refs if ns is None)
    return live(objects, namespace, get, scaled, cluster_kinds)


def apply_as_helm(kube: Kube, obj: Obj, where: str, release: str, namespace: str) -> None:
    """Apply an object of release ``release`` (in ``namespace``) as Helm applies it: as
    its field manager, with its ownership marks, so Helm counts it as its own."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    if kube.namespaced(obj["apiVersion"], obj["kind"]):
        meta["namespace"] = where
    annotations = meta.setdefault("annotations", {})
    annotations.update(dict(zip(HELM_OWNER, (release, namespace), strict=True)))
    meta.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
    kube.apply(obj, manager=HELM_MANAGER)


def repair(kube: Kube, release: str, namespace: str, drifted: list[Drifted]) -> list[str]:
    """Apply each drifted object again as Helm would; the labels of what was repaired."""
    for item in drifted:
        apply_as_helm(kube, item.obj, item.namespace, release, namespace)
    return [item.drift.what for item in drifted]
