"""What a backup takes from a running site: read only, nothing on the cluster changes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitebox import __version__
from sitebox.backup.archive import Contents
from sitebox.components.names import BATCH_NAMESPACE, SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose import secrets as secret_store
from sitebox.compose.render import RELEASE_NAMES, SiteRender
from sitebox.errors import SiteboxError
from sitebox.helm import Helm
from sitebox.kube import Kube, Obj
from sitebox.lifecycle import history
from sitebox.lifecycle import install as installer
from sitebox.lifecycle.repair import HELM_OWNER
from sitebox.lifecycle.status import SITE_INFO
from sitebox.model.siteconfig import Site

DATA_NAMESPACES = (SITE_NAMESPACE, BATCH_NAMESPACE)
# What the cluster sets on a claim or an object, which a new cluster sets afresh.
_SERVER_SET = ("pv.kubernetes.io/", "volume.beta.kubernetes.io/", "volume.kubernetes.io/",
               "kubectl.kubernetes.io/last-applied-configuration")  # fmt: skip


def _marks(meta: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {"name": meta["name"]}
    if meta.get("namespace"):
        kept["namespace"] = meta["namespace"]
    for key in ("labels", "annotations"):
        marks = {k: v for k, v in (meta.get(key) or {}).items() if not k.startswith(_SERVER_SET)}
        if marks:
            kept[key] = marks
    return kept


def custom_resources(kube: Kube, result: SiteRender) -> list[Obj]:
    """Every object, in any namespace, of the kinds whose CRDs the site's charts bring
    (DaskClusters, Argo's workflows) that no release makes, as it would be created
    again: no status, no server-set fields, no owners (their uids do not exist on
    another cluster)."""
    found = []
    for release in result.releases:
        for crd in (o for o in release.manifests if o["kind"] == "CustomResourceDefinition"):
            spec = crd["spec"]
            stored = next(v["name"] for v in spec["versions"] if v.get("storage"))
            api_version = f"{spec['group']}/{stored}"
            if not kube.serves(api_version, spec["names"]["kind"]):
                continue
            for obj in kube.list_objects(api_version, spec["names"]["kind"]):
                if (obj["metadata"].get("annotations") or {}).get(HELM_OWNER[0]):
                    continue  # a release's own (dask-gateway's Traefik routes): it makes them
                kept = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
                kept.update(apiVersion=api_version, kind=spec["names"]["kind"])
                found.append({**kept, "metadata": _marks(obj["metadata"])})
    return found


def claims(kube: Kube) -> list[dict[str, Any]]:
    """The site's volume claims as a new cluster needs them to bind the same names."""
    found = []
    for namespace in DATA_NAMESPACES:
        for claim in kube.list_objects("v1", "PersistentVolumeClaim", namespace):
            spec = claim.get("spec") or {}
            found.append({
                "metadata": _marks(claim["metadata"]),
                "storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
                "storageClassName": spec.get("storageClassName"),
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "volumeMode": spec.get("volumeMode") or "Filesystem",
            })  # fmt: skip
    return found


def collect(
    kube: Kube, helm: Helm, result: SiteRender, site_yaml: str
) -> tuple[Contents, dict[str, Any]]:
    """The contents of a backup of the site ``result`` renders, and its manifest's facts."""
    site = result.site
    info = (kube.get("v1", "ConfigMap", SITE_INFO, SITE_NAMESPACE) or {}).get("data") or {}
    if info.get("site") != site.name:
        raise SiteboxError(
            f"the cluster runs site {info.get('site') or '(none)'}, the site file names "
            f"{site.name!r}; nothing was backed up",
            hint="give the site.yaml this cluster was installed from (-f), or the kubeconfig "
            "of that site's cluster",
        )
    states = helm.read(RELEASE_NAMES)
    unsettled = [n for n, s in states.items() if s is None or s.revision.status != "deployed"]
    if unsettled:
        raise SiteboxError(
            f"release(s) {', '.join(unsettled)} are not installed and deployed; nothing was "
            "backed up",
            hint="`sitebox status` shows why; `sitebox install` finishes an interrupted run",
        )
    stored = secret_store.ClusterStore(kube, SYSTEM_NAMESPACE).read()
    entries = history.read(kube)
    contents = Contents(
        site_yaml=site_yaml,
        secrets=stored,
        values={name: s.values for name, s in states.items() if s is not None},
        resources=custom_resources(kube, result),
        claims=claims(kube),
    )
    meta: dict[str, Any] = {
        "sitebox": __version__,
        "site": site.name,
        "profile": info.get("profile"),
        "distribution": info.get("distribution"),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "releases": {name: s.revision.revision for name, s in states.items() if s is not None},
        "site_revision": entries[-1].number if entries else None,
        "counts": {
            "secrets": len(stored),
            "custom_resources": len(contents.resources),
            "claims": len(contents.claims),
        },
        "data": None,  # where the claims' data and the databases' dumps went (backup.data)
    }
    return contents, meta


def take(
    kube: Kube, helm: Helm, site: Site, site_yaml: str, bundle: Path | None = None
) -> tuple[Contents, dict[str, Any]]:
    """A backup's contents of the installed ``site``: rendered first (for the kinds of
    its custom resources and a check that the file is the cluster's site)."""
    with installer.prepared(site, kube, skip_unavailable=True, bundle_charts=bundle) as result:
        return collect(kube, helm, result, site_yaml)
