"""A kubeconfig scoped to the batch connector's submitter ServiceAccount.

A grid workload manager (PanDA Harvester, an HTCondor gateway) gets this file
and nothing more: it may run Jobs and watch Pods in the batch namespace, as the
chart's Role allows, and the API server refuses everything else.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from sitebox.errors import SiteboxError
from sitebox.files import write_private
from sitebox.kube import Kube

SUBMITTER_SUFFIX = "-submitter"


def find_submitter(kube: Kube, namespace: str, release: str | None = None) -> str:
    """The submitter ServiceAccount of the batch connector in ``namespace``: the one there
    is (an installed site has one, made by its `sitebox` release), or the one of
    ``release`` where several charts put theirs in the same namespace."""
    selector = f"app.kubernetes.io/instance={release}" if release else None
    accounts = kube.list_objects("v1", "ServiceAccount", namespace, selector)
    matches = sorted(
        a["metadata"]["name"] for a in accounts if a["metadata"]["name"].endswith(SUBMITTER_SUFFIX)
    )
    if len(matches) == 1:
        return str(matches[0])
    of = f" of release {release!r}" if release else ""
    if not matches:
        raise SiteboxError(
            f"no batch submitter ServiceAccount{of} in namespace {namespace!r}",
            hint="install a site whose batch component runs in queue mode "
            "(`components: {batch: {mode: queue}}`), or pass the --namespace it runs in",
        )
    raise SiteboxError(
        f"{len(matches)} batch submitter ServiceAccounts{of} in namespace {namespace!r}: "
        + ", ".join(matches),
        hint="pass --release with the Helm release of the one to use",
    )


def write_kubeconfig(
    kube: Kube, namespace: str, account: str, seconds: int, path: Path, cluster: str
) -> None:
    """Write a token kubeconfig for ``account``; the token never reaches stdout or logs."""
    token = kube.service_account_token(namespace, account, seconds)
    server, ca = kube.endpoint()
    cluster_entry: dict[str, str] = {"server": server}
    if ca:
        cluster_entry["certificate-authority-data"] = base64.b64encode(ca).decode()
    user = f"{namespace}-{account}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": cluster_entry}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": user, "context": {"cluster": cluster, "user": user, "namespace": namespace}}
        ],
        "current-context": user,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(doc, sort_keys=False))
