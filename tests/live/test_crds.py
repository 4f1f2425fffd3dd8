"""CRDs: applied by sitebox (server-side) before the releases, updated on upgrade, kept
on uninstall, with the custom resources made from them.

No upstream chart is on this machine, so the argo component's chart comes in a bundle,
as an air-gapped site gets its charts: a stand-in of ours under the pinned name and
version, with one CRD and one resource of its kind.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.kube import Kube
from sitebox.model import distro
from tests.compose.conftest import write_site
from tests.conftest import Cluster, Run, own_cluster, run_sitebox

pytestmark = pytest.mark.live

CRD = "probes.fixture.sitebox.io"
SITE = "name: crd\nprofile: demo\ncomponents:\n  argo: {enabled: true}\n  batch: {workers: %d}\n"


@pytest.fixture(scope="module")
def cluster(tools_ready: None, state_env: dict[str, str]) -> Iterator[Cluster]:
    with own_cluster("crds", state_env) as found:
        yield found


def sitebox(cluster: Cluster, *args: str) -> Run:
    kubeconfig, env = cluster
    return run_sitebox(*args, "--kubeconfig", str(kubeconfig), env=env, timeout=600)


def _crd(fields: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": fields}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD},
        "spec": {
            "group": "fixture.sitebox.io",
            "scope": "Namespaced",
            "names": {"plural": "probes", "singular": "probe", "kind": "Probe"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    member = tarfile.TarInfo(name)
    member.size = len(data)
    tar.addfile(member, io.BytesIO(data))


def _bundle(path: Path, crd: dict[str, Any]) -> Path:
    """A bundle holding the stand-in argo chart at the distribution's pinned version."""
    chart = distro.load().components["argo"].chart
    folder = f"charts/{chart.name}-{chart.version}"
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "bundle.json", json.dumps({"charts": [f"{chart.name}-{chart.version}"]}))
        _add(
            tar,
            f"{folder}/Chart.yaml",
            yaml.safe_dump({"apiVersion": "v2", "name": chart.name, "version": chart.version}),
        )
        _add(tar, f"{folder}/crds/probe.yaml", yaml.safe_dump(crd))
        # A resource of the CRD's kind in the chart's templates: the cluster does not serve
        # the kind until sitebox has applied the CRD, which a first install must allow for.
        made = {
            "apiVersion": "fixture.sitebox.io/v1",
            "kind": "Probe",
            "metadata": {"name": "chart-made"},
            "spec": {"target": "gateway"},
        }
        _add(tar, f"{folder}/templates/probe.yaml", yaml.safe_dump(made))
    return path


def _fields(kube: Kube) -> set[str]:
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD) or {}
    (version,) = crd["spec"]["versions"]
    return set(version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


def test_crds_are_applied_updated_and_kept(cluster: Cluster, tmp_path: Path) -> None:
    kube = Kube(cluster[0])
    first = _bundle(tmp_path / "first.tar.gz", _crd({"target": {"type": "string"}}))
    site = write_site(tmp_path, SITE % 1)

    installed = sitebox(
        cluster, "install", "-f", str(site), "--bundle", str(first), "--skip-unavailable"
    )
    assert installed.code == 0, installed.err
    assert "left out: argo" not in installed.err, "the bundle's chart is used"
    assert _fields(kube) == {"target"}
    made = kube.get("fixture.sitebox.io/v1", "Probe", "chart-made", "sitebox")
    assert made and made["spec"] == {"target": "gateway"}, "Helm made the chart's resource"
    kube.create(
        {
            "apiVersion": "fixture.sitebox.io/v1",
            "kind": "Probe",
            "metadata": {"name": "hub-answers", "namespace": "sitebox"},
            "spec": {"target": "hub"},
        }
    )

    # The next distribution's chart adds a field; Helm never upgrades CRDs, sitebox does.
    second = _bundle(
        tmp_path / "second.tar.gz",
        _crd({"target": {"type": "string"}, "timeoutSeconds": {"type": "integer"}}),
    )
    write_site(tmp_path, SITE % 2)
    upgraded = sitebox(
        cluster, "upgrade", "-f", str(site), "--bundle", str(second), "--skip-unavailable", "--yes"
    )
    assert upgraded.code == 0, upgraded.err
    assert _fields(kube) == {"target", "timeoutSeconds"}
    probe = kube.get("fixture.sitebox.io/v1", "Probe", "hub-answers", "sitebox")
    assert probe and probe["spec"] == {"target": "hub"}, "the resource outlives the upgrade"
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD) or {}
    writers = {(m["manager"], m["operation"]) for m in crd["metadata"]["managedFields"]}
    assert ("sitebox", "Apply") in writers
    assert not [m for m, _ in writers if m.startswith("helm")], "Helm never touched the CRD"

    removed = sitebox(cluster, "uninstall", "--yes")
    assert removed.code == 0, removed.err
    assert _fields(kube) == {"target", "timeoutSeconds"}, "uninstall never deletes a CRD"
