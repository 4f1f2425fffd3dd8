"""`sitebox install | upgrade | status | rollback | uninstall` on a cluster of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitebox.components.names import BATCH_NAMESPACE, SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose.secrets import ClusterStore
from sitebox.helm import Helm
from sitebox.kube import Kube, wait_for
from tests.compose.conftest import write_site
from tests.conftest import FIXTURES, Cluster, Run, own_cluster, run_sitebox

pytestmark = pytest.mark.live

# The demo profile with an HTCondor pool: pods to wait for, and a spool volume to keep.
POOL = (
    "name: life\nprofile: demo\ncomponents:\n  batch:\n    mode: htcondor\n    workers: 1\n"
    "    quota: {cpu: '6', memory: 12Gi}\n    job: {cpu: 500m, memory: 1Gi}\n"
)


@pytest.fixture(scope="module")
def cluster(tools_ready: None, state_env: dict[str, str]) -> Iterator[Cluster]:
    with own_cluster("life", state_env) as found:
        yield found


def sitebox(cluster: tuple[Path, dict[str, str]], *args: str, cwd: Path | None = None) -> Run:
    kubeconfig, env = cluster
    return run_sitebox(*args, "--kubeconfig", str(kubeconfig), env=env, cwd=cwd, timeout=600)


def test_lifecycle(cluster: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    kube = Kube(cluster[0])
    site = write_site(tmp_path, POOL)

    refused = sitebox(cluster, "install", "-f", str(site))
    assert refused.code == 1
    assert "charts not on this machine: hub (jupyterhub 4.4.0)" in refused.err
    assert "nothing was changed" in refused.err
    assert kube.get("v1", "Namespace", SYSTEM_NAMESPACE) is None

    first = sitebox(cluster, "install", "-f", str(site), "--skip-unavailable")
    assert first.code == 0, first.err
    assert "left out: hub" in first.err
    assert "sitebox: installed/upgraded to revision 1" in first.err
    secrets = kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME)
    assert secrets and "batch.poolPassword" in secrets

    again = sitebox(cluster, "install", "-f", str(site), "--skip-unavailable")
    assert again.code == 0, again.err
    assert "sitebox-system: unchanged at revision 1" in again.err
    assert "sitebox: unchanged at revision 1" in again.err

    status = sitebox(cluster, "status", "-o", "json")
    assert status.code == 0, status.err
    info = json.loads(status.out)
    assert (info["site"], info["profile"], info["distribution"]) == ("life", "demo", "2026.12")
    assert info["components"]["batch"]["ready"] == info["components"]["batch"]["total"] >= 3
    assert "hub" not in info["components"], "a left-out component is not reported as installed"

    claims = kube.list_objects("v1", "PersistentVolumeClaim", BATCH_NAMESPACE)
    assert claims and all(c["status"]["phase"] == "Bound" for c in claims)
    before = {c["metadata"]["uid"]: c["spec"]["volumeName"] for c in claims}

    site = write_site(tmp_path, POOL.replace("workers: 1", "workers: 2"))
    upgraded = sitebox(cluster, "upgrade", "-f", str(site), "--skip-unavailable", "--yes")
    assert upgraded.code == 0, upgraded.err
    assert "sitebox: installed/upgraded to revision 2" in upgraded.err
    assert "replicas: 2" in upgraded.out, "the plan shown before upgrading names the change"
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == secrets
    after = {
        c["metadata"]["uid"]: c["spec"]["volumeName"]
        for c in kube.list_objects("v1", "PersistentVolumeClaim", BATCH_NAMESPACE)
    }
    assert before.items() <= after.items(), "volumes must survive an upgrade"
    assert not any(v in upgraded.out + upgraded.err for v in secrets.values())

    rolled = sitebox(cluster, "rollback")
    assert rolled.code == 0, rolled.err
    assert "site rolled back (rollback to 1): now site revision 3" in rolled.err
    execute = kube.get("apps/v1", "Deployment", "sitebox-batch-execute", BATCH_NAMESPACE) or {}
    assert execute["spec"]["replicas"] == 1
    history = json.loads(sitebox(cluster, "history", "-o", "json").out)
    assert [e["operation"] for e in history] == ["install/upgrade", "install/upgrade",
                                                 "rollback to 1"]  # fmt: skip
    # Site revision 3 is the pair of 1 again: the site release's content of revision 1
    # (Helm numbers it 3), the system release as it was, unchanged throughout.
    assert history[2]["releases"] == {"sitebox-system": 1, "sitebox": 3}
    too_far = sitebox(cluster, "rollback", "7")
    assert too_far.code == 1 and "no site revision 7 to roll back to" in too_far.err

    removed = sitebox(cluster, "uninstall")
    assert removed.code == 0, removed.err
    assert "kept" in removed.err
    assert kube.list_objects("v1", "PersistentVolumeClaim", BATCH_NAMESPACE), "data is kept"
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == secrets

    purged = sitebox(cluster, "uninstall", "--purge-data", "--yes")
    assert purged.code == 0, purged.err
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) is None


def test_a_component_that_cannot_schedule_is_refused_at_preflight_naming_it(
    cluster: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    # An execute worker of 12 CPUs fits none of the 8-CPU nodes: preflight places the
    # render's pods by their requests, so the install does not wait for its timeout.
    huge = (
        "name: huge\nprofile: demo\ncomponents:\n  batch:\n    mode: htcondor\n    workers: 1\n"
        "    quota: {cpu: '64', memory: 64Gi}\n    job: {cpu: '12', memory: 1Gi}\n"
    )
    site = write_site(tmp_path, huge)
    result = sitebox(cluster, "install", "-f", str(site), "--skip-unavailable")
    assert result.code == 1
    assert "preflight failed; nothing was applied" in result.err
    assert "no ready node has room for 1 pod(s) of Deployment/sitebox-batch-execute" in (result.err)
    assert "the largest node offers 8 CPU" in result.err
    assert Helm(cluster[0]).find("sitebox", SITE_NAMESPACE) is None


def test_a_profile_the_cluster_cannot_fit_stops_at_preflight(
    cluster: tuple[Path, dict[str, str]],
) -> None:
    result = sitebox(cluster, "install", "--profile", "tier2", "--skip-unavailable")
    assert result.code == 1
    assert "preflight failed; nothing was applied" in result.err
    assert "capacity: needs 288 CPUs, the nodes offer 24: 264 CPUs short" in result.err
    kube = Kube(cluster[0])
    for namespace in (SYSTEM_NAMESPACE, "sitebox"):  # no Helm release record anywhere
        assert kube.list_objects("v1", "Secret", namespace, "owner=helm") == []


def test_unreachable_cluster_is_a_clear_error(tmp_path: Path, state_env: dict[str, str]) -> None:
    missing = run_sitebox("status", "--kubeconfig", str(tmp_path / "nope"), env=state_env)
    assert missing.code == 1 and "nope not found" in missing.err
    config = tmp_path / "closed.kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\n"
    )
    closed = run_sitebox("install", "--profile", "demo", "--kubeconfig", str(config), env=state_env)
    assert closed.code == 1
    assert "cannot reach the API server" in closed.err
    assert "Traceback" not in closed.err


# Only our own charts, so nothing is missing: the whole site is installed and planned.
PLANNED = (
    "name: planned\nprofile: demo\ncomponents:\n"
    "  hub: {enabled: false}\n  dask: {enabled: false}\n  storage: {enabled: false}\n"
)


def _plan(site_file: Path, cluster: tuple[Path, dict[str, str]]) -> dict[str, object]:
    result = sitebox(cluster, "plan", "-f", str(site_file), "-o", "json")
    assert result.code == 0, result.err
    plan: dict[str, object] = json.loads(result.out)
    return plan


def test_plan_shows_nothing_then_exactly_the_change(
    cluster: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    site_file = write_site(tmp_path, PLANNED)
    kube = Kube(cluster[0])
    before = _plan(site_file, cluster)
    assert all(not r["installed"] for r in before["releases"])  # type: ignore[attr-defined]
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) is None, "a plan never writes"
    assert before["capacity"] == {"cpu": "24", "memory": "96.0Gi"}  # three 8-CPU nodes

    installed = sitebox(cluster, "install", "-f", str(site_file))
    assert installed.code == 0, installed.err
    stored = kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) or {}
    assert "batch.poolPassword" in stored
    same = _plan(site_file, cluster)
    for release in same["releases"]:  # type: ignore[attr-defined]
        assert release["installed"] and release["changes"] == [], release

    site_file.write_text(site_file.read_text() + "  batch:\n    quota: {cpu: '48'}\n")
    result = sitebox(cluster, "plan", "-f", str(site_file))
    assert result.code == 0, result.err
    assert "sitebox (installed): 1 to change" in result.out
    assert "sitebox-system (installed): no changes" in result.out
    assert "+    requests.cpu: '48'" in result.out
    assert not any(value in result.out + result.err for value in stored.values())
    removed = sitebox(cluster, "uninstall", "--purge-data", "--yes")
    assert removed.code == 0, removed.err


def test_what_another_release_owns_is_named_and_nothing_is_applied(
    cluster: tuple[Path, dict[str, str]],
) -> None:
    kube, helm = Kube(cluster[0]), Helm(cluster[0])
    # A release of the site's name, made with plain helm (no sitebox secrets store).
    helm.install_or_upgrade("sitebox", FIXTURES / "charts" / "hello", {}, SITE_NAMESPACE)
    try:
        refused = sitebox(cluster, "install", "--profile", "demo", "--skip-unavailable")
        assert refused.code == 1
        assert "release sitebox in namespace sitebox was installed without sitebox" in refused.err
        assert "nothing was applied" in refused.err and "helm uninstall" in refused.err
        assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) is None
    finally:
        helm.uninstall("sitebox", SITE_NAMESPACE)

    # The batch namespace, already owned by another release (the site's own, kept by its
    # uninstalls, goes first).
    _delete_namespace(kube, BATCH_NAMESPACE)
    owned = {"meta.helm.sh/release-name": "other", "meta.helm.sh/release-namespace": "default"}
    kube.create(
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": BATCH_NAMESPACE, "annotations": owned}}
    )  # fmt: skip
    try:
        refused = sitebox(cluster, "install", "--profile", "demo", "--skip-unavailable")
        assert refused.code == 1
        assert f"Namespace {BATCH_NAMESPACE} exists, made by Helm release other (default)" in (
            refused.err
        )
        assert helm.find("sitebox", SITE_NAMESPACE) is None, "nothing was applied"
    finally:
        _delete_namespace(kube, BATCH_NAMESPACE)


def _delete_namespace(kube: Kube, name: str) -> None:
    kube.delete("v1", "Namespace", name)
    wait_for(f"namespace {name} to go", lambda: kube.get("v1", "Namespace", name) is None, 120)
