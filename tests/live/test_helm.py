"""A chart installs, upgrades and rolls back through pyhelm3 and the pinned helm."""

from __future__ import annotations

import pytest

from sitebox.helm import Helm, HelmError
from sitebox.kube import Kube
from tests.conftest import FIXTURES, SimCluster

pytestmark = pytest.mark.live

CHART = FIXTURES / "charts" / "hello"


def _message(kube: Kube, namespace: str) -> str:
    config = kube.get("v1", "ConfigMap", "smoke-hello", namespace) or {}
    return str(config.get("data", {}).get("message"))


def _values(helm: Helm, release: str, namespace: str) -> dict[str, object]:
    state = helm.read([(release, namespace)])[release]
    assert state is not None, f"{release} is not installed"
    return state.values


def test_install_upgrade_rollback(sim_cluster: SimCluster) -> None:
    helm = Helm(sim_cluster.kubeconfig)
    kube = Kube(sim_cluster.kubeconfig)
    assert helm.version == "4.3.1"

    first = helm.install_or_upgrade("smoke", CHART, {"replicas": 2}, "helm-test", timeout="90s")
    assert (first.revision, first.status, first.chart) == (1, "deployed", "hello-0.1.0")
    deployment = kube.get("apps/v1", "Deployment", "smoke-hello", "helm-test") or {}
    assert deployment["status"]["readyReplicas"] == 2, "--wait returned before pods were ready"

    second = helm.install_or_upgrade(
        "smoke", CHART, {"replicas": 3, "message": "upgraded"}, "helm-test", timeout="90s"
    )
    assert second.revision == 2
    assert _message(kube, "helm-test") == "upgraded"
    assert _values(helm, "smoke", "helm-test") == {"replicas": 3, "message": "upgraded"}

    third = helm.rollback("smoke", "helm-test", 1, timeout="90s")
    assert third.revision == 3
    assert _message(kube, "helm-test") == "hello"
    assert _values(helm, "smoke", "helm-test") == {"replicas": 2}

    state = helm.read([("smoke", "helm-test"), ("absent", "helm-test")])
    assert state["absent"] is None
    assert state["smoke"] is not None
    assert (state["smoke"].revision.revision, state["smoke"].revision.chart) == (3, "hello-0.1.0")
    assert {o["kind"] for o in state["smoke"].objects} >= {"ConfigMap", "Deployment"}

    helm.uninstall("smoke", "helm-test")
    assert kube.get("v1", "ConfigMap", "smoke-hello", "helm-test") is None


def test_failed_upgrade_rolls_back_and_names_the_release(sim_cluster: SimCluster) -> None:
    helm = Helm(sim_cluster.kubeconfig)
    kube = Kube(sim_cluster.kubeconfig)
    helm.install_or_upgrade("stuck", CHART, {"replicas": 1}, "helm-fail", timeout="60s")
    # 64 CPUs per pod fits no node: the upgrade cannot become ready and must be rolled back.
    with pytest.raises(HelmError, match="installing release 'stuck'"):
        helm.install_or_upgrade("stuck", CHART, {"cpu": "64"}, "helm-fail", timeout="10s")
    current = helm.current("stuck", "helm-fail")
    assert current.status == "deployed"
    assert _values(helm, "stuck", "helm-fail") == {"replicas": 1}
    deployment = kube.get("apps/v1", "Deployment", "stuck-hello", "helm-fail") or {}
    requests = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert requests["cpu"] == "100m"
    helm.uninstall("stuck", "helm-fail")
