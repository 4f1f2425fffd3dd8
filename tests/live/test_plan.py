"""`sitebox plan --kubeconfig`: what an upgrade would change on a live cluster."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from sitebox.compose import render as renderer
from sitebox.compose.commands import secrets_for
from sitebox.compose.secrets import ClusterStore
from sitebox.compose.values import SYSTEM_NAMESPACE
from sitebox.helm import Helm
from sitebox.kube import Kube
from sitebox.model import siteconfig
from tests.compose.conftest import write_site
from tests.conftest import SimCluster, run_sitebox

pytestmark = pytest.mark.live

SITE = (
    "name: planned\nprofile: tier3\ncomponents:\n"
    "  hub: {enabled: false}\n  dask: {enabled: false}\n"
    "  storage: {enabled: false}\n  cvmfs: {enabled: false}\n"
)


def _install(site_file: Path, kubeconfig: Path) -> None:
    """Install the composed releases as `sitebox install` will (system first), and
    keep the secrets in the cluster's store."""
    site = siteconfig.load(site_file)
    helm = Helm(kubeconfig)
    secrets = secrets_for(site)
    with tempfile.TemporaryDirectory() as tmp:
        result = renderer.render(site, secrets, Path(tmp))
        for release in result.releases:
            helm.install_or_upgrade(
                release.name, release.composed.path, release.values, release.namespace, timeout="2m"
            )
    ClusterStore(Kube(kubeconfig), SYSTEM_NAMESPACE).write(secrets)


def _plan(site_file: Path, cluster: SimCluster) -> dict[str, object]:
    result = run_sitebox(
        "plan", "-f", str(site_file), "--kubeconfig", str(cluster.kubeconfig), "-o", "json",
        env=cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    plan: dict[str, object] = json.loads(result.out)
    return plan


def test_plan_shows_nothing_then_exactly_the_change(
    sim_cluster: SimCluster, tmp_path: Path
) -> None:
    site_file = write_site(tmp_path, SITE)
    kube = Kube(sim_cluster.kubeconfig)
    before = _plan(site_file, sim_cluster)
    assert all(not r["installed"] for r in before["releases"])  # type: ignore[attr-defined]
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) is None, "a plan never writes"
    assert before["capacity"] == {"cpu": "20", "memory": "80.0Gi"}  # 3x4 CPU + 8 CPU nodes

    _install(site_file, sim_cluster.kubeconfig)
    stored = kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) or {}
    assert "batch.poolPassword" in stored
    same = _plan(site_file, sim_cluster)
    for release in same["releases"]:  # type: ignore[attr-defined]
        assert release["installed"] and release["changes"] == [], release

    site_file.write_text(site_file.read_text() + "  batch:\n    quota: {cpu: '48'}\n")
    result = run_sitebox(
        "plan", "-f", str(site_file), "--kubeconfig", str(sim_cluster.kubeconfig),
        env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "sitebox (installed): 1 to change" in result.out
    assert "sitebox-system (installed): no changes" in result.out
    assert "+    requests.cpu: '48'" in result.out
    secrets = json.loads(
        (Path(sim_cluster.env["SITEBOX_STATE"]) / "sites/planned/secrets.json").read_text()
    )
    assert not any(value in result.out + result.err for value in secrets.values())
