"""The life of one profile's real site on its own sim cluster, as the admin runs it."""

from __future__ import annotations

import json
import subprocess

from sitebox.components.names import BATCH_NAMESPACE, SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.kube import Kube, wait_for
from sitebox.model import profiles
from tests.site.conftest import SiteCluster

# The upstream components each profile runs: each must show Ready pods of its own.
UPSTREAM = {
    "hub",
    "dask",
    "workflow",
    "argo",
    "storage",
    "cvmfs",
    "nfs",
    "monitoring",
    "dashboards",
}
# Where the site's claims are: its data, its batch spool, and Prometheus's samples.
CLAIM_NAMESPACES = (SITE_NAMESPACE, BATCH_NAMESPACE, SYSTEM_NAMESPACE)


def enabled(profile: str) -> set[str]:
    spec = profiles.load(profile).data["components"]
    return {name for name, component in spec.items() if component.get("enabled")}


def claims(kube: Kube) -> dict[str, str]:
    """Every claim of the site, by namespace/name: the volume it is bound to."""
    return {
        f"{ns}/{c['metadata']['name']}": c["spec"].get("volumeName", "")
        for ns in CLAIM_NAMESPACES
        for c in kube.list_objects("v1", "PersistentVolumeClaim", ns)
    }


def install_converges(cluster: SiteCluster) -> dict[str, str]:
    """Install, every component Ready, claims bound, validation passed; a second run
    changes nothing. Returns the claims and their volumes."""
    first = cluster.sitebox("install", "-f", str(cluster.site))
    assert first.code == 0, first.err[-3000:]
    assert "left out" not in first.err, "every upstream chart is in the cache"
    assert "validation:" in first.err and ", 0 failed" in first.err, first.err[-2000:]

    status = cluster.sitebox("status", "-o", "json")
    assert status.code == 0, status.err
    components = json.loads(status.out)["components"]
    for name in enabled(cluster.profile) & UPSTREAM:
        found = components.get(name)
        assert found and found["total"] > 0, f"{name} runs no pods: {components}"
        assert found["ready"] == found["total"], f"{name}: {found}"

    kube = Kube(cluster.kubeconfig)
    bound = claims(kube)
    phases = {
        c["metadata"]["name"]: c["status"]["phase"]
        for ns in CLAIM_NAMESPACES
        for c in kube.list_objects("v1", "PersistentVolumeClaim", ns)
    }
    assert phases and set(phases.values()) == {"Bound"}, phases

    again = cluster.sitebox("install", "-f", str(cluster.site))
    assert again.code == 0, again.err[-2000:]
    assert "sitebox-system: unchanged" in again.err and "sitebox: unchanged" in again.err
    return bound


def uninstall_keeps_volumes(cluster: SiteCluster, before: dict[str, str]) -> None:
    gone = cluster.sitebox("uninstall")
    assert gone.code == 0, gone.err[-2000:]
    kube = Kube(cluster.kubeconfig)
    kept = claims(kube)
    data = {k: v for k, v in before.items() if not k.endswith("/cvmfs")}
    assert data, "the site had data volumes"
    assert {k: kept.get(k) for k in data} == data, "every data claim kept, on its volume"


def wait_for_site_install(kube: Kube, running: subprocess.Popen[str]) -> None:
    """Until Helm is at work on the site release (``pending-install``) in the run that
    ``running`` is; the run must still be going."""

    def installing() -> bool:
        assert running.poll() is None, running.communicate()
        records = kube.list_objects("v1", "Secret", SITE_NAMESPACE, "owner=helm,name=sitebox")
        return any(r["metadata"]["labels"]["status"] == "pending-install" for r in records)

    wait_for("release sitebox pending-install", installing, timeout=300, interval=0.05)
