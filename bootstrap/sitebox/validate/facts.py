"""What the checks read from the cluster, and how they judge it: pure functions on
the plain dicts ``kube.py`` returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sitebox.cluster.nodes import FAKE_ANNOTATION
from sitebox.components.names import CVMFS_DRIVER
from sitebox.model import distro

Obj = dict[str, Any]

SIMULATED = "not run on a simulated cluster"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True)
class SiteFacts:
    """The installed site as the checks see it."""

    components: tuple[str, ...]  # enabled and installed, from the site-info ConfigMap
    simulated: bool  # every node is a kwok node: no container really runs

    def installed(self, component: str) -> bool:
        return component in self.components


def enabled_components(site_info: Obj | None) -> tuple[str, ...]:
    """The components the site-info ConfigMap lists; none when the site is not installed."""
    data = (site_info or {}).get("data") or {}
    return tuple(json.loads(data.get("components") or "[]"))


def is_simulated(nodes: list[Obj]) -> bool:
    """True when every node is simulated by kwok (a cluster with no nodes is not)."""
    return bool(nodes) and all(
        (n.get("metadata", {}).get("annotations") or {}).get(FAKE_ANNOTATION) == "fake"
        for n in nodes
    )


def chart_components() -> dict[str, str]:
    """Chart name -> component name, from the distribution; a component's subcharts name it
    too."""
    found = {}
    for name, component in distro.load().components.items():
        found.update({chart: name for chart in (component.chart.name, *component.subcharts)})
    return found


def component_of(labels: dict[str, str] | None, charts: dict[str, str]) -> str | None:
    """The component an object belongs to, from its chart label (``helm.sh/chart``, or the
    older ``chart`` that some upstream charts still set: ``<chart>-<version>``), else from
    ``app.kubernetes.io/name``, the chart's name by Helm's convention (zero-to-jupyterhub's
    pods carry only that)."""
    labels = labels or {}
    chart = labels.get("helm.sh/chart") or labels.get("chart")
    if chart:
        return charts.get(chart.rsplit("-", 1)[0])
    return charts.get(labels.get("app.kubernetes.io/name", ""))


def workload_problem(obj: Obj, rendered: Obj | None = None) -> str | None:
    """Why a Deployment, StatefulSet or DaemonSet is not fully rolled out and ready, or
    None (the judgement of `kubectl rollout status`); with the ``rendered`` object of its
    release, one scaled to zero by hand is not ready either."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    name = f"{obj['kind']} {obj['metadata']['name']}"
    wanted = ((rendered or {}).get("spec") or {}).get("replicas", 1)
    if obj["kind"] != "DaemonSet" and spec.get("replicas", 1) == 0 and wanted:
        return f"{name}: scaled to 0 (its release sets {wanted}); `sitebox install` repairs it"
    if obj["kind"] == "DaemonSet":
        want, ready = status.get("desiredNumberScheduled", 0), status.get("numberReady", 0)
        updated = status.get("updatedNumberScheduled", 0)
    else:
        want = spec.get("replicas", 1)
        ready, updated = status.get("readyReplicas", 0), status.get("updatedReplicas", 0)
    if ready < want:
        return f"{name}: {ready}/{want} ready"
    if updated < want:
        return f"{name}: {updated}/{want} pods run the current spec"
    previous = status.get("replicas", 0) - updated
    if obj["kind"] == "Deployment" and previous > 0:
        # The old pods still serve while the current spec's pods do not come up.
        return f"{name}: not rolled out: {previous} pod(s) still run the previous spec"
    return None


def service_problem(service: Obj, slices: list[Obj]) -> str | None:
    """Why a Service has no ready endpoint, or None. Services without a selector (their
    endpoints are managed by hand) and ExternalName services have nothing to check."""
    spec = service.get("spec") or {}
    if not spec.get("selector") or spec.get("type") == "ExternalName":
        return None
    name = service["metadata"]["name"]
    mine = [
        s for s in slices
        if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
    ]  # fmt: skip
    endpoints = [e for s in mine for e in s.get("endpoints") or []]
    ready = [e for e in endpoints if (e.get("conditions") or {}).get("ready") is not False]
    if ready:
        return None
    if not endpoints:
        return f"service {name}: no endpoints (no ready pod matches its selector)"
    return f"service {name}: none of its {len(endpoints)} endpoints is ready"


def waits_for_consumer(storage_classes: list[Obj]) -> set[str]:
    """Classes that bind a claim only once a pod uses it (``WaitForFirstConsumer``)."""
    return {
        c["metadata"]["name"]
        for c in storage_classes
        if c.get("volumeBindingMode") == "WaitForFirstConsumer"
    }


def claim_problem(claim: Obj, waits_for_consumer: set[str]) -> str | None:
    """Why a claim is not bound, or None. A Pending claim of a class that waits for its
    first consumer is as it should be: a pod that uses it and waits is the pods check's."""
    phase = (claim.get("status") or {}).get("phase")
    if phase == "Bound":
        return None
    if (
        phase == "Pending"
        and (claim.get("spec") or {}).get("storageClassName") in waits_for_consumer
    ):
        return None
    meta = claim["metadata"]
    return f"claim {meta['namespace']}/{meta['name']} is {phase or 'not bound'}"


def cvmfs_claims(claims: list[Obj], storage_classes: list[Obj], volumes: list[Obj]) -> list[Obj]:
    """The claims that mount CVMFS: on a class of the CVMFS driver (provisioned), or on a
    volume of that driver named in the claim (statically provisioned, as sitebox's are)."""
    classes = {
        c["metadata"]["name"] for c in storage_classes if c.get("provisioner") == CVMFS_DRIVER
    }
    static = {
        v["metadata"]["name"]
        for v in volumes
        if ((v.get("spec") or {}).get("csi") or {}).get("driver") == CVMFS_DRIVER
    }
    return [
        c
        for c in claims
        if (c.get("spec") or {}).get("storageClassName") in classes
        or (c.get("spec") or {}).get("volumeName") in static
    ]


def version_problem(status: int, body: str, who: str) -> str | None:
    """JupyterHub's /hub/api and dask-gateway's /api/version answer JSON with their
    version, without authentication; ``who`` names the server expected to answer."""
    if status != 200:
        return f"HTTP {status}: {body[:200]}"
    try:
        version = json.loads(body).get("version")
    except (ValueError, AttributeError):
        version = None
    return None if version else f"the answer is not {who}'s: {body[:200]}"


def s3_problem(status: int, body: str) -> str | None:
    """An S3 server answers an anonymous listing with the buckets (200) or an S3 error
    document (403); anything else came from somewhere between, not from the store."""
    if status in (200, 403) and ("<ListAllMyBucketsResult" in body or "<Error>" in body):
        return None
    return f"HTTP {status}: {body[:200]}"
