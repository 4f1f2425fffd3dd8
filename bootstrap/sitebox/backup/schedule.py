"""`backup:` in site.yaml: CronJobs that copy the site's data to S3 on a schedule.

The same copies as `sitebox backup --data-to` (backup.data), run by the cluster: the
hub's database dumped, the listed claims copied. A copy of a claim another pod
mounts follows that pod by pod affinity (a CronJob cannot name a node in advance).
sitebox applies them after the releases, labelled as its own and stamped with the
settings they were made from, so a changed `backup:` is applied by the next install
even when the releases are unchanged, and a removed one takes them away.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sitebox.backup import data
from sitebox.components.names import SITE_NAMESPACE
from sitebox.compose.secrets import Secrets
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, Obj
from sitebox.model.siteconfig import Site

SCHEDULE_LABEL = "sitebox.io/backup-schedule"
SETTINGS = "sitebox.io/backup-settings"  # the digest of the `backup:` they were made from
CRON = ("batch/v1", "CronJob")


@dataclass(frozen=True)
class Plan:
    """What the CronJobs need, checked before anything of the site is applied."""

    settings: dict[str, Any]
    target: data.Target
    keys: tuple[str, str] | None = field(repr=False)  # None: the admin's Secret is used


def _digest(settings: dict[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(settings or {}, sort_keys=True).encode()).hexdigest()[:16]


def _claims(settings: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.split("/", 1)[0], c.split("/", 1)[1]) for c in settings.get("claims", [])]


def prepare(kube: Kube, site: Site, secrets: Secrets) -> Plan | None:
    """The schedule's target and keys, or the reason it cannot run; None without one."""
    settings = site.config.get("backup")
    if not settings:
        return None
    endpoint = settings.get("endpoint") or data.OWN_ENDPOINT
    target = data.Target.parse(settings["to"], endpoint)
    if endpoint == data.OWN_ENDPOINT and "storage" not in site.enabled():
        raise SiteboxError(
            "backup: the site runs no S3 store of its own to copy into; nothing was applied",
            hint="set backup.endpoint to an S3 store (one outside the cluster survives it)",
        )
    keys = data.keys_for(endpoint, secrets)
    if keys is not None:
        return Plan(settings, target, keys)
    namespaces = {SITE_NAMESPACE, *(ns for ns, _ in _claims(settings))}
    missing = sorted(
        ns for ns in namespaces if kube.read_secret(ns, data.CREDENTIALS) is None
    )  # fmt: skip
    if missing:
        raise SiteboxError(
            f"backup: no keys for {endpoint}; nothing was applied",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when installing, or make "
            f"a Secret {data.CREDENTIALS} with those two keys in namespace(s) "
            f"{', '.join(missing)}",
        )
    return Plan(settings, target, None)


def cron_job(item: data.Item, plan: Plan, copy_image: str) -> Obj:
    """The CronJob of one item: the backup Job of `sitebox backup --data-to`, scheduled."""
    job = data.job(item, plan.target, data.BACKUP, "scheduled", copy_image)
    pod = job["spec"]["template"]["spec"]
    pod.pop("nodeName", None)
    if item.neighbours:
        follow = {"labelSelector": {"matchLabels": dict(item.neighbours)},
                  "topologyKey": "kubernetes.io/hostname"}  # fmt: skip
        required = {"requiredDuringSchedulingIgnoredDuringExecution": [follow]}
        pod["affinity"] = {"podAffinity": required}
    labels = {**job["metadata"]["labels"], SCHEDULE_LABEL: "true"}
    meta = {**job["metadata"], "labels": labels,
            "annotations": {SETTINGS: _digest(plan.settings)}}  # fmt: skip
    spec = {
        "schedule": plan.settings["schedule"],
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",  # a copy still running is not started twice
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": labels}, "spec": job["spec"]},
    }
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": spec}


def _live(kube: Kube) -> list[Obj]:
    return kube.list_objects(*CRON, selector=SCHEDULE_LABEL)


def up_to_date(kube: Kube, site: Site) -> bool:
    """Whether the CronJobs are those site.yaml's `backup:` makes (none without one)."""
    settings = site.config.get("backup")
    live = _live(kube)
    if not settings:
        return not live
    stamps = {(c["metadata"].get("annotations") or {}).get(SETTINGS) for c in live}
    return bool(live) and stamps == {_digest(settings)}


def apply(kube: Kube, site: Site, plan: Plan | None) -> list[str]:
    """Make the schedule's CronJobs (after the releases: they follow the pods the
    releases run), and remove those no longer wanted; the names made."""
    made = []
    if plan is not None:
        if plan.keys is not None:
            namespaces = {SITE_NAMESPACE, *(ns for ns, _ in _claims(plan.settings))}
            data.credentials(kube, namespaces, plan.keys)
        image = site.distribution.backup_images["copy"]
        for item in data.items(kube, _claims(plan.settings)):
            obj = cron_job(item, plan, image)
            kube.apply(obj)
            made.append(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")
    for old in _live(kube):
        meta = old["metadata"]
        if f"{meta['namespace']}/{meta['name']}" not in made:
            kube.delete(*CRON, meta["name"], meta["namespace"])
    return made


def remove(kube: Kube) -> int:
    """Every scheduled copy gone (an uninstall), with their Jobs and pods."""
    live = _live(kube)
    for old in live:
        kube.delete(*CRON, old["metadata"]["name"], old["metadata"]["namespace"], foreground=True)
    return len(live)
