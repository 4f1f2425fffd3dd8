"""CRDs: applied by sitebox (server-side) before the releases, re-applied on upgrade,
kept on uninstall with the custom resources made from them.

The real dask-gateway chart (its DaskCluster and Traefik CRDs in crds/) comes in a bundle
made by `sitebox bundle create`, and the install sees no chart cache at all: as an
air-gapped site gets its charts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sitebox.kube import Kube
from tests.compose.conftest import write_site
from tests.conftest import Cluster, Run, own_cluster, run_sitebox

pytestmark = pytest.mark.live

CRD = "daskclusters.gateway.dask.org"
SITE = "name: crd\nprofile: demo\ncomponents:\n  batch: {quota: {pods: %d}}\n"


@pytest.fixture(scope="module")
def cluster(
    tools_ready: None, state_env: dict[str, str], upstream: dict[str, str]
) -> Iterator[Cluster]:
    with own_cluster("crds", state_env) as found:
        yield found


def sitebox(cluster: Cluster, *args: str) -> Run:
    kubeconfig, env = cluster
    return run_sitebox(*args, "--kubeconfig", str(kubeconfig), env=env, timeout=600)


def _names(kube: Kube) -> dict[str, str]:
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD) or {}
    return dict(crd["spec"]["names"])


def test_crds_are_applied_reapplied_and_kept(
    cluster: Cluster, upstream: dict[str, str], tmp_path: Path
) -> None:
    kube = Kube(cluster[0])
    site = write_site(tmp_path, SITE % 20)
    bundle = tmp_path / "demo.tar.gz"
    made = run_sitebox(
        "bundle", "create", "-f", str(site), "-o", str(bundle), env={**cluster[1], **upstream}
    )
    assert made.code == 0, made.err

    installed = sitebox(cluster, "install", "-f", str(site), "--bundle", str(bundle))
    assert installed.code == 0, installed.err[-3000:]
    assert "left out" not in installed.err, "every chart came from the bundle"
    assert _names(kube)["kind"] == "DaskCluster"
    kube.create(
        {
            "apiVersion": "gateway.dask.org/v1alpha1",
            "kind": "DaskCluster",
            "metadata": {"name": "analysis", "namespace": "sitebox"},
            "spec": {"scheduler": {}, "worker": {}},
        }
    )

    # A hand edit of a field sitebox applies; Helm never upgrades CRDs, sitebox does.
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD) or {}
    crd["spec"]["names"]["singular"] = "dc"
    kube.dynamic.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    ).replace(body=crd)
    assert _names(kube)["singular"] == "dc"
    write_site(tmp_path, SITE % 30)
    upgraded = sitebox(cluster, "upgrade", "-f", str(site), "--bundle", str(bundle), "--yes")
    assert upgraded.code == 0, upgraded.err[-3000:]
    assert _names(kube)["singular"] == "daskcluster", "sitebox applied its CRD again"
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD) or {}
    writers = {(m["manager"], m["operation"]) for m in crd["metadata"]["managedFields"]}
    assert ("sitebox", "Apply") in writers
    assert not [m for m, _ in writers if m.startswith("helm")], "Helm never touched the CRD"
    cr = kube.get("gateway.dask.org/v1alpha1", "DaskCluster", "analysis", "sitebox")
    assert cr is not None, "the resource outlives the upgrade"

    removed = sitebox(cluster, "uninstall", "--yes")
    assert removed.code == 0, removed.err
    assert _names(kube)["kind"] == "DaskCluster", "uninstall never deletes a CRD"
    assert kube.get("gateway.dask.org/v1alpha1", "DaskCluster", "analysis", "sitebox")
