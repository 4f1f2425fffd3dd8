"""The batch connector (our chart): a grid queue or an HTCondor pool."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import BATCH_NAMESPACE, CVMFS_CLAIM, CVMFS_DRIVER, PROMETHEUS_URL
from sitebox.compose.secrets import FLEET_SIGNING_KEY, Secrets
from sitebox.errors import SiteboxError
from sitebox.model.siteconfig import Site

CHART_KEY = "batch"  # the chart, and its values key in the umbrella
Values = common.Values


def values(site: Site, secrets: Secrets) -> Values:
    spec = site.components["batch"]
    quota = spec.get("quota", {})
    values: Values = {
        "mode": spec.get("mode", "queue"),
        "namespaceOverride": BATCH_NAMESPACE,
        "quota": {
            "requests.cpu": str(quota.get("cpu", "8")),
            "limits.cpu": str(quota.get("cpu", "8")),
            "requests.memory": quota.get("memory", "32Gi"),
            "limits.memory": quota.get("memory", "32Gi"),
            "pods": str(quota.get("pods", 100)),
            "count/jobs.batch": str(quota.get("jobs", 1000)),
        },
        "cvmfs": {
            "enabled": bool(site.components["cvmfs"].get("enabled")),
            "claimName": CVMFS_CLAIM,
            "driver": CVMFS_DRIVER,
            "repositories": site.config.get("cvmfs", {}).get("repositories", []),
        },
        "htcondor": {
            "poolPassword": secrets["batch.poolPassword"],
            "tokenSigningKey": secrets["batch.signingKey"],
        },
    }
    storage_class = common.storage_class(site)
    if storage_class:
        values["htcondor"]["submit"] = {"spool": {"storageClass": storage_class}}
    values["job"] = {"nodeSelector": common.selector(site, "batch")}
    if "job" in spec:
        values["job"].update(cpu=str(spec["job"]["cpu"]), memory=spec["job"]["memory"])
    if spec.get("workers"):
        values["htcondor"]["workers"] = {"count": spec["workers"]}
    if site.config.get("accounting"):
        values["accounting"] = _accounting(site, site.config["accounting"])
    if site.federation is not None:
        values["htcondor"]["flocking"] = site.federation["flocking"]
        if "trust" in site.federation:
            # A pool that flocks signs and checks tokens with the fleet's key, not its own.
            values["htcondor"]["trust"] = dict(site.federation["trust"])
            values["htcondor"]["tokenSigningKey"] = _fleet_key(site, secrets)
    return values


def _accounting(site: Site, settings: dict[str, object]) -> Values:
    """`accounting:` in site.yaml as the batch chart's CronJob values (docs/accounting.md)."""
    values: Values = {
        "enabled": True,
        "image": settings["image"],
        "site": settings.get("site") or site.name,
        "defaultVO": settings["defaultVO"],
        "benchmark": str(settings["benchmark"]),
        "ssm": {"certificateSecret": settings["certificateSecret"]},
    }
    for key in ("voLabel", "submitHost"):
        if settings.get(key):
            values[key] = settings[key]
    if settings.get("broker"):
        values["ssm"]["host"] = settings["broker"]
    if common.enabled(site, "monitoring"):
        values["prometheus"] = PROMETHEUS_URL
    return values


def _fleet_key(site: Site, secrets: Secrets) -> str:
    """The fleet's signing key, which the fleet commands hand the run of a flocking site."""
    if not secrets.get(FLEET_SIGNING_KEY):
        raise SiteboxError(
            f"site {site.name!r} flocks, but this run was not handed its fleet's HTCondor "
            "signing key",
            hint="install or upgrade it with `sitebox fleet install|upgrade -f fleet.yaml`, "
            "which hands the key over",
        )
    return secrets[FLEET_SIGNING_KEY]
