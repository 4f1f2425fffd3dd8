"""Day two on the real demo site: drift shown and repaired, the site backed up and
restored onto a new cluster (and a restore stopped half-way finished by running it
again), and tampered archives refused before anything is applied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitebox.components.names import SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose.secrets import ClusterStore
from sitebox.helm import Helm
from sitebox.kube import Kube, wait_for
from tests.conftest import run_sitebox
from tests.site.conftest import CLUSTERS, SiteCluster
from tests.site.lifecycle import claims, install_converges, wait_for_site_install

pytestmark = pytest.mark.live
PROFILE = "demo"
PASSPHRASE = "a passphrase long enough for the test"
RELEASES = [("sitebox-system", SYSTEM_NAMESPACE), ("sitebox", SITE_NAMESPACE)]
HUB = ("apps/v1", "Deployment", "hub", SITE_NAMESPACE)
PROXY_SERVICE = ("v1", "Service", "proxy-public", SITE_NAMESPACE)
GATEWAY = ("apps/v1", "Deployment", "api-sitebox-dask-gateway", SITE_NAMESPACE)
OPPORTUNISTIC = ("scheduling.k8s.io/v1", "PriorityClass", "sitebox-opportunistic", None)
DASK_CLUSTER = {
    "apiVersion": "gateway.dask.org/v1alpha1", "kind": "DaskCluster",
    "metadata": {"name": "analysis-1", "namespace": SITE_NAMESPACE},
    "spec": {"scheduler": {"template": {"spec": {"containers": []}}},
             "worker": {"template": {"spec": {"containers": []}}, "replicas": 2}},
}  # fmt: skip


@pytest.fixture(scope="module")
def installed(profile_cluster: SiteCluster) -> SiteCluster:
    install_converges(profile_cluster)
    return profile_cluster


@pytest.fixture
def new_cluster(installed: SiteCluster) -> Iterator[SiteCluster]:
    """An empty sim cluster of the same size, to restore onto."""
    env = installed.env
    up = run_sitebox("cluster", "up", "--name", "day-two-new", *CLUSTERS[PROFILE], env=env,
                     timeout=300)  # fmt: skip
    assert up.code == 0, up.err
    kubeconfig = Path(run_sitebox("cluster", "kubeconfig", "--name", "day-two-new",
                                  env=env).out.strip())  # fmt: skip
    try:
        yield SiteCluster(PROFILE, kubeconfig, env, installed.site)
    finally:
        run_sitebox("cluster", "down", "--name", "day-two-new", env=env)


def revisions_of(cluster: SiteCluster) -> dict[str, int]:
    found = Helm(cluster.kubeconfig).read(RELEASES)
    return {name: state.revision.revision for name, state in found.items() if state}


def test_drift_is_shown_then_repaired_and_an_autoscaler_is_left_alone(
    installed: SiteCluster,
) -> None:
    kube = Kube(installed.kubeconfig)
    edit = {"app.kubernetes.io/component": "edited-by-hand"}
    kube.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 0},
                "metadata": {"name": "hub", "namespace": SITE_NAMESPACE, "labels": edit}},
               manager="kubectl-edit")  # fmt: skip
    kube.delete(*PROXY_SERVICE)
    kube.delete(*OPPORTUNISTIC)  # of the other release, sitebox-system; cluster-scoped
    gateway = kube.get(*GATEWAY)
    assert gateway is not None
    kube.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "gateway", "namespace": SITE_NAMESPACE},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": GATEWAY[2]},
                         "minReplicas": 1, "maxReplicas": 5}})  # fmt: skip
    kube.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 3},
                "metadata": {"name": GATEWAY[2], "namespace": SITE_NAMESPACE}},
               manager="kube-controller-manager")  # fmt: skip
    revisions = revisions_of(installed)

    status = installed.sitebox("status", "-o", "json")
    assert status.code == 1, "a workload scaled to zero is not healthy"
    hub_health = json.loads(status.out)["components"]["hub"]
    assert any("Deployment hub: scaled to 0" in p for p in hub_health["workloads"]), hub_health

    plan = installed.sitebox("plan", "-f", str(installed.site), "-o", "json")
    assert plan.code == 0, plan.err[-2000:]
    drift = {d["what"]: d["diff"] for r in json.loads(plan.out)["releases"] for d in r["drift"]}
    assert set(drift) == {f"Deployment {SITE_NAMESPACE}/hub",
                          f"Service {SITE_NAMESPACE}/proxy-public",
                          "PriorityClass sitebox-opportunistic"}, drift  # fmt: skip
    assert "spec.replicas: applied 1, cluster 0" in drift[f"Deployment {SITE_NAMESPACE}/hub"]
    assert "'edited-by-hand'" in drift[f"Deployment {SITE_NAMESPACE}/hub"]
    assert drift[f"Service {SITE_NAMESPACE}/proxy-public"] == "  missing on the cluster"

    dry = installed.sitebox("install", "-f", str(installed.site), "--dry-run")
    assert dry.code == 0 and "nothing was applied (--dry-run)" in dry.err, dry.err
    assert f"Service {SITE_NAMESPACE}/proxy-public\n  missing on the cluster" in dry.out
    assert kube.get(*PROXY_SERVICE) is None, "--dry-run applies nothing"

    repaired = installed.sitebox("install", "-f", str(installed.site))
    assert repaired.code == 0, repaired.err[-3000:]
    assert f"sitebox: repaired Deployment {SITE_NAMESPACE}/hub" in repaired.err
    assert f"sitebox: repaired Service {SITE_NAMESPACE}/proxy-public" in repaired.err
    assert "sitebox-system: repaired PriorityClass sitebox-opportunistic" in repaired.err
    assert (kube.get(*OPPORTUNISTIC) or {}).get("value") == -10
    assert "sitebox: unchanged at revision" in repaired.err, "a repair is not an upgrade"
    hub = kube.get(*HUB) or {}
    assert hub["spec"]["replicas"] == 1
    assert hub["metadata"]["labels"]["app.kubernetes.io/component"] == "hub"
    service = kube.get(*PROXY_SERVICE) or {}
    assert service["metadata"]["annotations"]["meta.helm.sh/release-name"] == "sitebox"
    assert (kube.get(*GATEWAY) or {})["spec"]["replicas"] == 3, "the autoscaler's replicas"
    assert revisions_of(installed) == revisions

    clean = installed.sitebox("plan", "-f", str(installed.site), "-o", "json")
    assert [d for r in json.loads(clean.out)["releases"] for d in r["drift"]] == []
    healthy = installed.sitebox("status")
    assert healthy.code == 0, healthy.out
    kube.delete("autoscaling/v2", "HorizontalPodAutoscaler", "gateway", SITE_NAMESPACE)


def restore_env(cluster: SiteCluster) -> dict[str, str]:
    return {**os.environ, **cluster.env, "SITEBOX_BACKUP_PASSPHRASE": PASSPHRASE}


def test_backup_then_restore_onto_a_new_cluster_even_when_stopped_half_way(
    installed: SiteCluster, new_cluster: SiteCluster, tmp_path: Path
) -> None:
    source = Kube(installed.kubeconfig)
    source.apply(DASK_CLUSTER)
    secrets = source.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME)
    assert secrets
    archive = tmp_path / "demo.backup"
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    made = installed.sitebox("backup", "-f", str(installed.site), "-o", str(archive),
                             "--passphrase-file", str(passphrase),
                             "--data-to", "s3://site-backups/demo")  # fmt: skip
    assert made.code == 0, made.err[-2000:]
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    assert not any(v.encode() in archive.read_bytes() for v in secrets.values())
    assert "1 custom resources" in made.out and "sealed/site.bin" in made.out
    # The hub's database was dumped by a Job on the hub's node, into the site's own S3
    # store (the default target), with the store's keys read from a Secret.
    hub_pod = next(p for p in source.list_objects("v1", "Pod", SITE_NAMESPACE, "component=hub"))
    jobs = source.list_objects("batch/v1", "Job", SITE_NAMESPACE, "sitebox.io/backup-run")
    assert [j["status"].get("succeeded") for j in jobs] == [1]
    pod = jobs[0]["spec"]["template"]["spec"]
    assert pod["nodeName"] == hub_pod["spec"]["nodeName"]
    assert pod["volumes"][-1]["persistentVolumeClaim"]["claimName"] == "hub-db-dir"
    assert pod["containers"][0]["args"][-1] == "target:site-backups/demo/databases/hub"
    keys = source.read_secret(SITE_NAMESPACE, "sitebox-backup-target") or {}
    assert keys["AWS_ACCESS_KEY_ID"] == secrets["storage.accessKey"]

    checked = run_sitebox("restore", str(archive), "--check", env=restore_env(installed))
    assert checked.code == 0, checked.err
    other = {**restore_env(installed), "SITEBOX_BACKUP_PASSPHRASE": "x" * 20}
    wrong = run_sitebox("restore", str(archive), "--check", env=other)
    assert wrong.code == 1 and "wrong passphrase, or the archive was changed" in wrong.err

    target = Kube(new_cluster.kubeconfig)
    gone = run_sitebox("restore", str(archive), "--kubeconfig", str(new_cluster.kubeconfig),
                       env=restore_env(new_cluster))  # fmt: skip
    assert gone.code == 1 and "in the site's own S3 store, which this cluster does" in gone.err
    assert target.get("v1", "Namespace", SYSTEM_NAMESPACE) is None, "nothing was applied"

    # The copy of the bucket elsewhere (kept in sync by the site's admin) is the source.
    elsewhere = ["--data-from", "s3://dr-copies/demo", "--s3-endpoint", "https://s3.dr.example"]
    keys_env = {**restore_env(new_cluster), "AWS_ACCESS_KEY_ID": "DRKEY",
                "AWS_SECRET_ACCESS_KEY": "dr-secret-key"}  # fmt: skip
    running = subprocess.Popen(
        [sys.executable, "-m", "sitebox", "restore", str(archive), *elsewhere,
         "--kubeconfig", str(new_cluster.kubeconfig)],
        env=keys_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    wait_for_site_install(target, running)  # half-way: the secrets written, Helm at work
    assert target.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == secrets
    running.send_signal(signal.SIGTERM)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    assert "run the same `sitebox restore` command again" in err and "Traceback" not in err
    assert target.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == secrets

    again = run_sitebox("restore", str(archive), *elsewhere, "--kubeconfig",
                        str(new_cluster.kubeconfig), env=keys_env, timeout=900)  # fmt: skip
    assert again.code == 0, again.err[-3000:]
    # The hub's database came back into its claim before the hub started.
    (restored_db,) = target.list_objects("batch/v1", "Job", SITE_NAMESPACE, "sitebox.io/backup-run")
    copy = restored_db["spec"]["template"]["spec"]["containers"][0]
    assert copy["args"] == ["copy", "target:dr-copies/demo/databases/hub", "/data"]
    hub = target.get("apps/v1", "Deployment", "hub", SITE_NAMESPACE) or {}
    assert restored_db["metadata"]["creationTimestamp"] <= hub["metadata"]["creationTimestamp"]
    assert restored_db["status"].get("succeeded") == 1
    assert ", 0 failed" in again.err, "the restored site passes validation"
    assert target.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == secrets
    old, new = Helm(installed.kubeconfig), Helm(new_cluster.kubeconfig)
    for release, namespace in RELEASES:
        before, after = old.read([(release, namespace)]), new.read([(release, namespace)])
        assert after[release] and before[release]
        assert after[release].values == before[release].values, f"{release}: same values"
    assert set(claims(target)) == set(claims(source)), "every claim made again"
    restored = target.get("gateway.dask.org/v1alpha1", "DaskCluster", "analysis-1", SITE_NAMESPACE)
    assert restored and restored["spec"]["worker"]["replicas"] == 2
    history = json.loads(new_cluster.sitebox("history", "-o", "json").out)
    assert history[-1]["operation"] == "restore"


def test_a_changed_archive_is_refused_before_anything_is_applied(
    installed: SiteCluster, tmp_path: Path
) -> None:
    archive = tmp_path / "demo.backup"
    env = restore_env(installed)
    made = run_sitebox("backup", "-f", str(installed.site), "-o", str(archive),
                       "--kubeconfig", str(installed.kubeconfig), env=env)  # fmt: skip
    assert made.code == 0, made.err[-2000:]
    archive.write_bytes(archive.read_bytes()[:-200])
    kube = Kube(installed.kubeconfig)
    before = kube.get("v1", "Secret", ClusterStore.NAME, SYSTEM_NAMESPACE) or {}
    refused = run_sitebox("restore", str(archive), "--kubeconfig", str(installed.kubeconfig),
                          env=env)  # fmt: skip
    assert refused.code == 1 and "truncated or not a sitebox backup" in refused.err
    assert "Traceback" not in refused.err
    after = kube.get("v1", "Secret", ClusterStore.NAME, SYSTEM_NAMESPACE) or {}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_backup_schedule_is_made_changed_and_removed_by_install(
    installed: SiteCluster, tmp_path: Path
) -> None:
    kube = Kube(installed.kubeconfig)
    base = installed.site.read_text()
    site = tmp_path / "site.yaml"
    site.write_text(base + "backup: {schedule: '30 2 * * *', to: 's3://site-backups/demo'}\n")
    made = installed.sitebox("install", "-f", str(site))
    assert made.code == 0, made.err[-3000:]
    assert "sitebox: unchanged at revision" in made.err, "the releases did not change"
    (cron,) = kube.list_objects("batch/v1", "CronJob", SITE_NAMESPACE, "sitebox.io/backup-schedule")
    assert (cron["spec"]["schedule"], cron["spec"]["timeZone"]) == ("30 2 * * *", "Etc/UTC")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert "nodeName" not in pod
    follow = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    hub_pod = next(p for p in kube.list_objects("v1", "Pod", SITE_NAMESPACE, "component=hub"))
    assert follow["labelSelector"]["matchLabels"].items() <= hub_pod["metadata"]["labels"].items()
    # What the schedule runs, run now: it lands beside the hub and completes.
    kube.create({"apiVersion": "batch/v1", "kind": "Job",
                 "metadata": {"name": "backup-now", "namespace": SITE_NAMESPACE},
                 "spec": cron["spec"]["jobTemplate"]["spec"]})  # fmt: skip

    def done() -> bool:
        job = kube.get("batch/v1", "Job", "backup-now", SITE_NAMESPACE) or {}
        return bool((job.get("status") or {}).get("succeeded"))

    wait_for("the scheduled copy to complete", done, timeout=120)
    (ran,) = kube.list_objects("v1", "Pod", SITE_NAMESPACE, "job-name=backup-now")
    assert ran["spec"]["nodeName"] == hub_pod["spec"]["nodeName"]
    kube.delete("batch/v1", "Job", "backup-now", SITE_NAMESPACE, foreground=True)

    site.write_text(base + "backup: {schedule: '0 4 * * 0', to: 's3://site-backups/demo'}\n")
    changed = installed.sitebox("install", "-f", str(site))
    assert changed.code == 0, changed.err[-3000:]
    (cron,) = kube.list_objects("batch/v1", "CronJob", SITE_NAMESPACE, "sitebox.io/backup-schedule")
    assert cron["spec"]["schedule"] == "0 4 * * 0"
    again = installed.sitebox("install", "-f", str(site))
    assert "nothing to change" in again.err, "an unchanged schedule is no change"

    site.write_text(
        base
        + "backup: {schedule: '0 4 * * 0', to: 's3://x/y', endpoint: 'https://s3.example.org'}\n"
    )
    # Another store's keys: none in the environment, and no Secret of the admin's (the
    # one the site's own store's copies used is deleted here).
    kube.delete("v1", "Secret", "sitebox-backup-target", SITE_NAMESPACE)
    refused = installed.sitebox("install", "-f", str(site))
    assert refused.code == 1 and "backup: no keys for https://s3.example.org" in refused.err
    assert "nothing was applied" in refused.err

    gone = installed.sitebox("install", "-f", str(installed.site))
    assert gone.code == 0, gone.err[-3000:]
    assert (
        kube.list_objects("batch/v1", "CronJob", SITE_NAMESPACE, "sitebox.io/backup-schedule") == []
    )


def _holds_a_secret(data: bytes, secrets: list[bytes]) -> bool:
    markers = (b"PRIVATE KEY", b"client-key-data", b"token:", *secrets)
    return any(marker in data for marker in markers)


def test_every_file_sitebox_writes_with_a_secret_is_private_from_its_first_byte(
    installed: SiteCluster, tmp_path: Path
) -> None:
    """Walk what the commands wrote, with the permissive umask many machines have: every
    file holding a key, a token or one of the site's secrets is 0600, every folder
    sitebox made for them 0700, and a folder the admin gave is left as it was."""
    kube = Kube(installed.kubeconfig)
    stored = kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) or {}
    secrets = [v.encode() for v in stored.values() if len(v) >= 8]
    assert secrets
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    out.chmod(0o755)
    env = {**installed.env, "SITEBOX_BACKUP_PASSPHRASE": PASSPHRASE}
    old = os.umask(0o022)
    try:
        for argv in (
            ("render", "-f", str(installed.site), "-o", str(out / "render")),
            ("render", "-f", str(installed.site), "-o", str(out)),
            ("batch", "kubeconfig", "-f", str(out / "batch.kubeconfig"),
             "--kubeconfig", str(installed.kubeconfig)),
            ("backup", "-f", str(installed.site), "--kubeconfig", str(installed.kubeconfig),
             "-o", str(out / "site.backup")),
            ("bundle", "create", "-f", str(installed.site), "-o", str(out / "site.bundle")),
        ):  # fmt: skip
            done = run_sitebox(*argv, env=env, timeout=600)
            assert done.code == 0, (argv, done.err[-2000:])
    finally:
        os.umask(old)
    state = Path(installed.env["SITEBOX_STATE"])
    # A render without a cluster takes its secrets from the local store.
    for store in state.glob("sites/*/secrets.json"):
        secrets += [v.encode() for v in json.loads(store.read_text()).values() if len(v) >= 8]
    walked = [out, state]
    files = [p for root in walked for p in root.rglob("*") if p.is_file()]
    private = [p for p in files if _holds_a_secret(p.read_bytes(), secrets)]
    names = {p.name for p in private}
    assert {"sitebox.yaml", "batch.kubeconfig", "kubeconfig", "ca.key"} <= names, names
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in private} == {
        str(p): "0o600" for p in private
    }
    for made in (out / "render", *(state / "clusters").iterdir()):
        assert made.stat().st_mode & 0o777 == 0o700, made
    assert out.stat().st_mode & 0o777 == 0o755, "the admin's own folder keeps its mode"
    for archive in ("site.backup", "site.bundle"):
        assert (out / archive).stat().st_mode & 0o777 == 0o600, archive
