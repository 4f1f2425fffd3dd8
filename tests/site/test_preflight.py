"""Preflight predicts, from the real site's render, what Helm's wait would otherwise find
out only at its timeout; install stops before anything is applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitebox.components.names import SYSTEM_NAMESPACE
from sitebox.kube import Kube
from tests.compose.conftest import write_site
from tests.conftest import SimCluster, run_sitebox

pytestmark = pytest.mark.live


def _run(cluster: SimCluster, upstream: dict[str, str], *args: str) -> tuple[int, str, str]:
    env = {**cluster.env, **upstream}
    found = run_sitebox(*args, "--kubeconfig", str(cluster.kubeconfig), env=env, timeout=300)
    assert "Traceback" not in found.err
    return found.code, found.out, found.err


def _checks(cluster: SimCluster, upstream: dict[str, str], site: Path) -> dict[str, dict[str, str]]:
    code, out, err = _run(cluster, upstream, "preflight", "-f", str(site), "-o", "json")
    assert code == 1, err
    return {row["name"]: row for row in json.loads(out)}


def test_a_load_balancer_nothing_serves_is_refused_before_install(
    sim_cluster: SimCluster, upstream: dict[str, str], tmp_path: Path
) -> None:
    site = write_site(tmp_path, "name: lb\nprofile: demo\ningress: {type: loadBalancer}\n")
    found = _checks(sim_cluster, upstream, site)["load-balancers"]
    assert found["status"] == "fail"
    assert "proxy-public are of type LoadBalancer" in found["detail"]
    assert "ingress: {type: none}" in found["fix"]

    code, _, err = _run(sim_cluster, upstream, "install", "-f", str(site))
    assert code == 1
    assert "preflight failed; nothing was applied" in err
    assert Kube(sim_cluster.kubeconfig).get("v1", "Namespace", SYSTEM_NAMESPACE) is None


def test_a_claim_no_volume_can_hold_is_refused_with_its_size(
    sim_cluster: SimCluster, upstream: dict[str, str], tmp_path: Path
) -> None:
    # The session cluster's volumes are 10Gi and 100Gi; tier3 stores 1Ti by default.
    site = write_site(tmp_path, "name: big\nprofile: tier3\nstorage: {sharedClassName: shared}\n")
    found = _checks(sim_cluster, upstream, site)["volume-binding"]
    assert found["status"] == "fail"
    assert (
        "claim sitebox/data-sitebox-seaweedfs-volume-0 asks 1Ti of class standard"
        in (found["detail"])
    )
    assert "the largest 100Gi" in found["detail"]
    assert "components.storage.size" in found["fix"]
