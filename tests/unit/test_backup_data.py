"""The Jobs that carry a backup's data: what each runs, where, as whom, and that no key
is ever in a Job's spec."""

from __future__ import annotations

import json
import re

import pytest

from sitebox.backup import data, schedule
from sitebox.errors import SiteboxError

pytestmark = pytest.mark.unit

TARGET = data.Target("site-backups", "uni/2026", "https://s3.example.org")
IMAGE = "docker.io/rclone/rclone:1.68.2"
HUB = data.Item("sqlite", "sitebox", "hub-db-dir", "databases/hub", (1000, 1000, 1000),
                "node-2", "quay.io/jupyterhub/k8s-hub:4.4.0")  # fmt: skip
# REANA 0.9.4's database container, as its chart renders it (not in debug mode).
REANA_ENV = (("TZ", {"name": "TZ", "value": "Europe/Zurich"}),
             ("POSTGRES_DB", {"name": "POSTGRES_DB", "value": "reana"}),
             ("POSTGRES_USER", {"name": "POSTGRES_USER", "value": "reana"}),
             ("POSTGRES_PASSWORD", {"name": "POSTGRES_PASSWORD", "valueFrom": {
                 "secretKeyRef": {"name": "sitebox-db-secrets", "key": "password"}}}))  # fmt: skip
REANA = data.Item("postgres", "sitebox", "", "databases/reana", (None, None, None), None,
                  "docker.io/library/postgres:12.13", REANA_ENV)  # fmt: skip


def containers(job: dict) -> list[dict]:  # type: ignore[type-arg]
    pod = job["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_the_hub_database_is_dumped_on_its_node_as_its_user_then_uploaded() -> None:
    job = data.job(HUB, TARGET, data.BACKUP, "r1", IMAGE)
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeName"] == "node-2", "its ReadWriteOnce volume is mounted there"
    assert pod["securityContext"]["fsGroup"] == 1000
    dump, upload = containers(job)
    assert dump["image"] == HUB.image and dump["command"][:2] == ["python3", "-c"]
    assert "s.backup(d)" in dump["command"][2], "SQLite's online backup, not a file copy"
    assert upload["image"] == IMAGE
    assert upload["args"] == ["sync", "/dump", "target:site-backups/uni/2026/databases/hub"]
    data_mount = next(m for m in dump["volumeMounts"] if m["name"] == "data")
    assert data_mount["readOnly"] is True
    for step in (dump, upload):
        assert step["securityContext"]["runAsUser"] == 1000
        assert step["securityContext"]["runAsNonRoot"] is True
        assert step["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_keys_are_read_from_a_secret_by_reference_never_written_into_the_job() -> None:
    job = data.job(HUB, TARGET, data.BACKUP, "r1", IMAGE)
    env = {e["name"]: e for e in containers(job)[-1]["env"]}
    assert env["RCLONE_CONFIG_TARGET_ENDPOINT"]["value"] == "https://s3.example.org"
    for name in ("RCLONE_CONFIG_TARGET_ACCESS_KEY_ID", "RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == data.CREDENTIALS
        assert "value" not in env[name]


def test_postgres_is_dumped_with_the_databases_own_credentials_and_image() -> None:
    dump, upload = containers(data.job(REANA, TARGET, data.BACKUP, "r1", IMAGE))
    assert dump["image"] == "docker.io/library/postgres:12.13", "pg_dump matches the server"
    assert dump["command"] == ["pg_dump", "--format=custom", "--file=/dump/reana.dump"]
    env = {e["name"]: e for e in dump["env"]}
    assert env["PGUSER"]["value"] == "reana" and env["PGDATABASE"]["value"] == "reana"
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "sitebox-db-secrets"
    assert env["PGHOST"]["value"] == "sitebox-db.sitebox.svc"
    assert "TZ" not in env
    assert upload["args"][-1] == "target:site-backups/uni/2026/databases/reana"


def test_a_restore_copies_back_then_loads_the_dump() -> None:
    (copy,) = containers(data.job(HUB, TARGET, data.RESTORE, "r", IMAGE))
    assert copy["args"] == ["copy", "target:site-backups/uni/2026/databases/hub", "/data"]
    assert next(m for m in copy["volumeMounts"] if m["name"] == "data")["readOnly"] is False
    download, load = containers(data.job(REANA, TARGET, data.RESTORE, "r", IMAGE))
    assert download["args"][-1] == "/dump"
    assert load["command"][0] == "pg_restore" and "--clean" in load["command"]


def test_the_manifest_record_holds_no_credentials_and_comes_back() -> None:
    record = REANA.record()
    assert "env" not in record and "image" not in record
    assert "reana" not in json.dumps(record).replace("databases/reana", "")
    again = data.Item.from_record(json.loads(json.dumps(HUB.record())))
    assert (again.kind, again.claim, again.key, again.user) == (
        HUB.kind, HUB.claim, HUB.key, HUB.user)  # fmt: skip
    assert again.node is None, "a restore runs on another cluster"


def test_a_target_must_be_an_s3_location_with_an_endpoint() -> None:
    assert data.Target.parse("s3://b/p/q/", "http://x").path("k") == "target:b/p/q/k"
    with pytest.raises(SiteboxError, match=re.escape("is not an S3 location")):
        data.Target.parse("https://b/p", "http://x")
    with pytest.raises(SiteboxError, match="no S3 endpoint"):
        data.Target.parse("s3://b/p", None)


def test_a_scheduled_copy_follows_its_pod_by_affinity_and_is_stamped() -> None:
    settings = {"schedule": "30 2 * * *", "to": "s3://site-backups/uni"}
    keys = ("AKIAEXAMPLEKEY", "very-secret-key-value")
    plan = schedule.Plan(settings, TARGET, keys)
    hub = data.Item(**{**HUB.__dict__, "neighbours": (("app", "jupyterhub"), ("component", "hub"))})
    cron = schedule.cron_job(hub, plan, IMAGE)
    spec = cron["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("30 2 * * *", "Forbid")
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert "nodeName" not in pod, "a CronJob cannot name the node in advance"
    (follow,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert follow["labelSelector"]["matchLabels"] == {"app": "jupyterhub", "component": "hub"}
    assert follow["topologyKey"] == "kubernetes.io/hostname"
    stamp = cron["metadata"]["annotations"][schedule.SETTINGS]
    other = schedule.cron_job(hub, schedule.Plan({**settings, "schedule": "0 4 * * *"}, TARGET,
                                                 None), IMAGE)  # fmt: skip
    assert other["metadata"]["annotations"][schedule.SETTINGS] != stamp
    assert not any(k in json.dumps(cron) for k in keys), "keys never in the spec"
