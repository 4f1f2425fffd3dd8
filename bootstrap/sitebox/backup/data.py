"""The data of a backup: volume claims and database dumps, copied by Jobs in the
cluster to an S3 location, and back on restore.

The bytes never pass through the machine sitebox runs on: a claim of terabytes is
copied by a Job next to it, at the storage's speed, by rclone (a maintained,
widely used copier that speaks S3). A claim another pod uses is copied by a Job on
that pod's node (a ReadWriteOnce volume mounts on one node only), as that pod's
user, so it reads what the application reads and needs no more rights.

Databases are dumped, not copied live: JupyterHub's SQLite file through SQLite's
online backup API, REANA's PostgreSQL with pg_dump, each in the database's own
image (so the dump tool matches the server). A restore puts the claims' files and
the hub's database back before the releases start, and loads REANA's dump once
its database runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

from sitebox.components.names import PART_OF_LABEL, SITE_NAMESPACE
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, Obj, wait_for

Say = Callable[[str], None]
REMOTE = "target"
CREDENTIALS = "sitebox-backup-target"  # a Secret in each namespace the Jobs run in
RUN_LABEL = "sitebox.io/backup-run"
ARCHIVE_ANNOTATION = "sitebox.io/archive"  # the backup a restore Job puts back
HUB_DB = ("hub-db-dir", "jupyterhub.sqlite")  # z2jh's claim, and its database file
REANA_DB = "sitebox-db"  # REANA 0.9.4 names it <release, 13 chars>-db
BACKUP, RESTORE = "backup", "restore"
# The scheduler's words for a pod whose claim does not exist (it waits for ever on it).
MISSING_CLAIM = re.compile(r'persistentvolumeclaim "[^"]+" not found')


@dataclass(frozen=True)
class Target:
    """Where the data goes: a bucket and prefix on an S3 endpoint (no credentials)."""

    bucket: str
    prefix: str
    endpoint: str

    @classmethod
    def parse(cls, url: str, endpoint: str | None) -> Target:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise SiteboxError(
                f"{url!r} is not an S3 location",
                hint="write s3://BUCKET/PREFIX, e.g. s3://site-backups/uni",
            )
        if not endpoint:
            raise SiteboxError(
                "no S3 endpoint for the backup's data",
                hint="pass --s3-endpoint https://s3.example.org (the site's own store: "
                f"http://sitebox-seaweedfs-s3.{SITE_NAMESPACE}.svc:8333)",
            )
        return cls(parsed.netloc, parsed.path.strip("/"), endpoint)

    def path(self, key: str) -> str:
        return "/".join(p for p in (f"{REMOTE}:{self.bucket}", self.prefix, key) if p)


@dataclass(frozen=True)
class Item:
    """One thing a backup copies: a claim's files, or a database's dump."""

    kind: str  # "claim", "sqlite" or "postgres"
    namespace: str
    claim: str  # the claim mounted (for postgres: none, it connects over the network)
    key: str  # where under the target's prefix
    user: tuple[int | None, int | None, int | None]  # runAsUser, runAsGroup, fsGroup
    node: str | None = None  # the node of the pod that mounts the claim now
    image: str | None = None  # the database's own image, for its dump tool
    env: tuple[tuple[str, Any], ...] = ()  # the database container's env (credentials by reference)
    # The labels of the pod that mounts the claim: a scheduled copy follows it by pod
    # affinity, as it cannot name the node in advance.
    neighbours: tuple[tuple[str, str], ...] = ()

    def record(self) -> dict[str, Any]:
        """What the manifest keeps of it: no node (a restore runs on another cluster), no
        image nor environment (read again from the restored database, which holds
        its credentials)."""
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "claim": self.claim,
            "key": self.key,
            "user": list(self.user),
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Item:
        uid, gid, fs_group = data["user"]
        return cls(
            data["kind"], data["namespace"], data["claim"], data["key"], (uid, gid, fs_group)
        )


def _consumer(kube: Kube, namespace: str, claim: str) -> Obj | None:
    """The running pod that mounts the claim, if one does."""
    for pod in kube.list_objects("v1", "Pod", namespace, fields="status.phase=Running"):
        volumes = (pod.get("spec") or {}).get("volumes") or []
        if any((v.get("persistentVolumeClaim") or {}).get("claimName") == claim for v in volumes):
            return pod
    return None


# Labels that name one pod or one revision of its controller, not the workload.
_PER_POD = ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
            "apps.kubernetes.io/pod-index")  # fmt: skip


def _neighbours(pod: Obj | None) -> tuple[tuple[str, str], ...]:
    labels = ((pod or {}).get("metadata") or {}).get("labels") or {}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in _PER_POD))


def _user(pod: Obj | None) -> tuple[int | None, int | None, int | None]:
    context = ((pod or {}).get("spec") or {}).get("securityContext") or {}
    containers = ((pod or {}).get("spec") or {}).get("containers") or [{}]
    own = containers[0].get("securityContext") or {}
    return (
        own.get("runAsUser", context.get("runAsUser")),
        own.get("runAsGroup", context.get("runAsGroup")),
        context.get("fsGroup"),
    )


def _with_database(kube: Kube, item: Item) -> Item | None:
    """A PostgreSQL item with the database's image and environment (its credentials, by
    reference or as the chart sets them), read from the running database; None if the
    site runs no such database."""
    db = kube.get("apps/v1", "Deployment", REANA_DB, item.namespace)
    if db is None:
        return None
    container = db["spec"]["template"]["spec"]["containers"][0]
    env = tuple((e["name"], e) for e in container.get("env") or [])
    return Item(
        item.kind, item.namespace, item.claim, item.key, item.user, None, container["image"], env
    )


def items(kube: Kube, chosen: list[tuple[str, str]]) -> list[Item]:
    """The databases the site runs, dumped always, and the claims the admin chose."""
    found = []
    hub_claim, _ = HUB_DB
    hub = _consumer(kube, SITE_NAMESPACE, hub_claim)
    if hub is not None:
        image = hub["spec"]["containers"][0]["image"]
        found.append(
            Item(
                "sqlite",
                SITE_NAMESPACE,
                hub_claim,
                "databases/hub",
                _user(hub),
                hub["spec"].get("nodeName"),
                image,
                neighbours=_neighbours(hub),
            )
        )
    reana = _with_database(
        kube, Item("postgres", SITE_NAMESPACE, "", "databases/reana", (None, None, None))
    )
    if reana is not None:
        found.append(reana)
    for namespace, claim in chosen:
        if kube.get("v1", "PersistentVolumeClaim", claim, namespace) is None:
            raise SiteboxError(
                f"there is no volume claim {namespace}/{claim}; nothing was backed up",
                hint="name claims as NAMESPACE/NAME; `kubectl get pvc -A` lists them",
            )
        pod = _consumer(kube, namespace, claim)
        node = (pod or {}).get("spec", {}).get("nodeName")
        key = f"claims/{namespace}/{claim}"
        found.append(
            Item("claim", namespace, claim, key, _user(pod), node, neighbours=_neighbours(pod))
        )
    return found


def _rclone(target: Target, image: str, args: list[str]) -> Obj:
    """An rclone step; the remote is defined by environment variables, the keys read
    from the credentials Secret by reference (never in the Job's spec)."""
    prefix = f"RCLONE_CONFIG_{REMOTE.upper()}_"
    env: list[Obj] = [
        {"name": prefix + "TYPE", "value": "s3"},
        {"name": prefix + "PROVIDER", "value": "Other"},
        {"name": prefix + "ENDPOINT", "value": target.endpoint},
        {"name": "HOME", "value": "/tmp"},
    ]
    for mine, key in (
        ("ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        ("SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    ):
        reference = {"secretKeyRef": {"name": CREDENTIALS, "key": key}}
        env.append({"name": prefix + mine, "valueFrom": reference})
    return {"name": "copy", "image": image, "args": args, "env": env}


def _postgres_env(item: Item) -> list[Obj]:
    """libpq's variables, taken from how the database container gets its own."""
    names = {
        "POSTGRES_USER": "PGUSER",
        "POSTGRES_PASSWORD": "PGPASSWORD",
        "POSTGRES_DB": "PGDATABASE",
    }
    env = [{**e, "name": names[n]} for n, e in item.env if n in names]
    return [*env, {"name": "PGHOST", "value": f"{REANA_DB}.{item.namespace}.svc"}]


SQLITE_BACKUP = (
    "import sqlite3; s = sqlite3.connect('file:/data/{name}?mode=ro', uri=True); "
    "d = sqlite3.connect('/dump/{name}'); s.backup(d); d.close()"
)


def _dump(item: Item) -> Obj:
    if item.kind == "sqlite":
        code = SQLITE_BACKUP.format(name=HUB_DB[1])
        return {"name": "dump", "image": item.image, "command": ["python3", "-c", code]}
    command = ["pg_dump", "--format=custom", "--file=/dump/reana.dump"]
    return {"name": "dump", "image": item.image, "env": _postgres_env(item), "command": command}


def _steps(item: Item, target: Target, direction: str, copy_image: str) -> list[Obj]:
    """The containers of the Job, in order (all but the last run as init containers)."""
    remote = target.path(item.key)
    local = "/data" if item.kind == "claim" else "/dump"
    if direction == BACKUP:
        upload = _rclone(target, copy_image, ["sync", local, remote])
        return [upload] if item.kind == "claim" else [_dump(item), upload]
    if item.kind != "postgres":
        # A claim's files, or the hub's database file, straight into the new claim.
        return [_rclone(target, copy_image, ["copy", remote, "/data"])]
    command = [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--dbname=reana",
        "/dump/reana.dump",
    ]
    load = {"name": "load", "image": item.image, "env": _postgres_env(item), "command": command}
    return [_rclone(target, copy_image, ["copy", remote, "/dump"]), load]


def _container_security(item: Item) -> Obj:
    uid, gid, _ = item.user
    locked: Obj = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    if uid is not None:
        locked.update(runAsUser=uid, runAsNonRoot=uid != 0)
    if gid is not None:
        locked["runAsGroup"] = gid
    return locked


def job(item: Item, target: Target, direction: str, run: str, copy_image: str) -> Obj:
    """The Job that backs up or restores one item."""
    digest = hashlib.sha256(f"{direction}/{item.namespace}/{item.key}".encode()).hexdigest()
    labels = {PART_OF_LABEL: "sitebox", RUN_LABEL: run}
    mounts: list[Obj] = [
        {"name": "scratch", "mountPath": "/tmp"},
        {"name": "dump", "mountPath": "/dump"},
    ]
    volumes: list[Obj] = [{"name": "scratch", "emptyDir": {}}, {"name": "dump", "emptyDir": {}}]
    if item.claim:
        mounts.append({"name": "data", "mountPath": "/data", "readOnly": direction == BACKUP})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": item.claim}})
    steps = [
        {**step, "securityContext": _container_security(item), "volumeMounts": mounts}
        for step in _steps(item, target, direction, copy_image)
    ]
    fs_group = item.user[2]
    pod: Obj = {
        "restartPolicy": "Never",
        "securityContext": {
            "seccompProfile": {"type": "RuntimeDefault"},
            **({"fsGroup": fs_group} if fs_group is not None else {}),
        },
        "initContainers": steps[:-1],
        "containers": steps[-1:],
        "volumes": volumes,
    }
    if item.node:
        pod["nodeName"] = item.node
    name = f"sitebox-{direction}-{digest[:10]}"
    meta = {"name": name, "namespace": item.namespace, "labels": labels}
    # Jobs go after a day; a failed one's pod (and logs) stays until then.
    spec = {
        "backoffLimit": 2,
        "ttlSecondsAfterFinished": 86400,
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def credentials(kube: Kube, namespaces: set[str], keys: tuple[str, str]) -> None:
    """The target's keys as a Secret beside the Jobs (they read it by reference)."""
    data = {"AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1]}
    for namespace in namespaces:
        kube.write_secret(namespace, CREDENTIALS, data, {PART_OF_LABEL: "sitebox"})


def _copied_already(kube: Kube, obj: Obj) -> bool:
    """Whether a restore of the same archive, stopped and run again, already put this
    item back: copying it twice could overwrite what the application, started by the
    first run, has written since."""
    archive = (obj["metadata"].get("annotations") or {}).get(ARCHIVE_ANNOTATION)
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    found = kube.get("batch/v1", "Job", name, namespace) if archive else None
    if found is None:
        return False
    same = (found["metadata"].get("annotations") or {}).get(ARCHIVE_ANNOTATION) == archive
    return same and bool((found.get("status") or {}).get("succeeded"))


def _replace(kube: Kube, obj: Obj) -> None:
    """Create the Job; one of the same name from an earlier, interrupted run goes first."""
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    kube.delete("batch/v1", "Job", name, namespace, foreground=True)
    wait_for(
        f"the earlier Job {namespace}/{name} to go",
        lambda: kube.get("batch/v1", "Job", name, namespace) is None,
        60,
    )
    kube.create(obj)


def _finished(kube: Kube, obj: Obj) -> bool:
    """True once the Job succeeded; a failed Job stops the run with its reason."""
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    status = (kube.get("batch/v1", "Job", name, namespace) or {}).get("status") or {}
    if status.get("succeeded"):
        return True
    for pod in kube.list_objects("v1", "Pod", namespace, f"job-name={name}"):
        for condition in (pod.get("status") or {}).get("conditions") or []:
            message = str(condition.get("message") or "")
            if condition.get("type") == "PodScheduled" and MISSING_CLAIM.search(message):
                raise SiteboxError(
                    f"the data Job {namespace}/{name} cannot start: {message}",
                    hint="the claim it copies was deleted meanwhile; run the command again",
                )
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            raise SiteboxError(
                f"the data Job {namespace}/{name} failed: {condition.get('message')}",
                hint=f"`kubectl -n {namespace} logs job/{name} --all-containers` shows why "
                "(the target's endpoint, bucket or keys, most often)",
            )
    return False


def run(kube: Kube, jobs: list[Obj], say: Say, timeout: float = 3600) -> None:
    """Run the Jobs side by side and wait for each to finish."""
    for obj in jobs:
        if not _copied_already(kube, obj):
            _replace(kube, obj)
    for number, obj in enumerate(jobs, 1):
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        say(f"copying data: Job {number} of {len(jobs)} ({name})")
        wait_for(f"Job {name}", lambda: _finished(kube, obj), timeout, 0.5)  # noqa: B023
        # A finished pod still holds its claim, which could then not be deleted (uninstall
        # --purge-data): the pod goes; the Job stays, with its spec and outcome.
        for pod in kube.list_objects("v1", "Pod", namespace, f"job-name={name}"):
            kube.delete("v1", "Pod", pod["metadata"]["name"], namespace)


OWN_ENDPOINT = f"http://sitebox-seaweedfs-s3.{SITE_NAMESPACE}.svc:8333"  # the site's own store


def keys_for(endpoint: str, secrets: Mapping[str, str]) -> tuple[str, str] | None:
    """The keys of an S3 endpoint: the site's own store's for that store; for another,
    from the environment, as every S3 tool reads them; None if there are none."""
    if endpoint == OWN_ENDPOINT:
        own = (secrets.get("storage.accessKey"), secrets.get("storage.secretKey"))
        return (own[0], own[1]) if own[0] and own[1] else None
    given = (os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY"))
    return (given[0], given[1]) if given[0] and given[1] else None


def back_up(
    kube: Kube,
    target: Target,
    keys: tuple[str, str],
    chosen: list[tuple[str, str]],
    copy_image: str,
    say: Say,
) -> dict[str, Any]:
    """Dump the databases and copy the chosen claims to the target; what the manifest
    records of it."""
    found = items(kube, chosen)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    credentials(kube, {i.namespace for i in found}, keys)
    run(kube, [job(i, target, BACKUP, run_id, copy_image) for i in found], say)
    return {"target": asdict(target), "items": [i.record() for i in found]}


def claims_filled(record: dict[str, Any] | None) -> set[tuple[str, str]]:
    """(namespace, claim) of each claim a restore copies data into."""
    items = [Item.from_record(r) for r in (record or {}).get("items", [])]
    return {(i.namespace, i.claim) for i in items if i.kind != "postgres"}


def restore(
    kube: Kube,
    record: dict[str, Any],
    target: Target,
    keys: tuple[str, str],
    copy_image: str,
    say: Say,
    early: set[str],
    before_releases: bool,
    archive: str,
) -> None:
    """Put the data back. Before the releases, files and the hub's database go into the
    claims of the namespaces that exist then (``early``), so the applications start on
    them; after, the claims of the namespaces the releases made, and REANA's dump once
    its database runs."""
    found = [Item.from_record(r) for r in record["items"]]
    files = [i for i in found if i.kind != "postgres" and (i.namespace in early) == before_releases]
    databases = [] if before_releases else [i for i in found if i.kind == "postgres"]
    ready = [_with_database(kube, i) for i in databases]
    missing = [i.key for i, r in zip(databases, ready, strict=True) if r is None]
    if missing:
        raise SiteboxError(
            f"the restored site runs no database to load {', '.join(missing)} into",
            hint="the site.yaml of the backup enables the workflow component; check "
            "`sitebox status`, then run the restore again",
        )
    wanted = files + [r for r in ready if r is not None]
    if not wanted:
        return
    credentials(kube, {i.namespace for i in wanted}, keys)
    jobs = [job(i, target, RESTORE, "restore", copy_image) for i in wanted]
    for obj in jobs:
        obj["metadata"].setdefault("annotations", {})[ARCHIVE_ANNOTATION] = archive
    run(kube, jobs, say)
