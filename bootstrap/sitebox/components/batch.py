"""The batch connector (our chart): a grid queue or an HTCondor pool."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import BATCH_NAMESPACE, CVMFS_CLAIM, CVMFS_DRIVER
from sitebox.compose.secrets import Secrets
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
    if site.federation is not None:
        values["htcondor"]["flocking"] = site.federation["flocking"]
    return values
