"""SeaweedFS, the S3 store."""

from __future__ import annotations

from sitebox.components import common
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "seaweedfs"  # the chart, and its values key in the umbrella
Values = common.Values
# The master keeps the cluster topology, the filer the file and bucket metadata (leveldb):
# small next to the data, and lost with them if they were on a node's disk.
MASTER_SIZE = "1Gi"
FILER_SIZE = "5Gi"
SEAWEED_UID = 1000


def values(site: Site, secrets: Secrets) -> Values:
    spec = site.components["storage"]
    data = {"name": "data", **_claim(site, spec.get("size", "10Gi")), "maxVolumes": 0}
    resources = common.resources(spec.get("resources"))
    pod, container = _security()
    values: Values = {
        # Each server runs as the image's seaweed user (uid 1000); the volumes' group is
        # set to it, so the image's start script has no ownership to fix as root.
        server: {
            "resources": resources,
            "podSecurityContext": pod,
            "containerSecurityContext": container,
            # Logs to stdout and a scratch folder: Pod Security's restricted level allows
            # no hostPath, and a node folder would not follow a rescheduled pod.
            "logs": {"type": "emptyDir"},
        }
        for server in ("master", "filer", "volume", "s3")
    }
    values["master"]["data"] = _claim(site, MASTER_SIZE)
    values["filer"]["data"] = _claim(site, FILER_SIZE)
    values["volume"]["dataDirs"] = [data]
    values["s3"].update(
        {
            "enabled": True,
            "enableAuth": True,
            "credentials": {
                "admin": {
                    "accessKey": secrets["storage.accessKey"],
                    "secretKey": secrets["storage.secretKey"],
                }
            },
        }
    )
    return values


def _claim(site: Site, size: str) -> Values:
    claim: Values = {"type": "persistentVolumeClaim", "size": size}
    storage_class = common.storage_class(site)
    if storage_class:
        claim["storageClass"] = storage_class
    return claim


def _security() -> tuple[Values, Values]:
    secure = common.non_root(SEAWEED_UID)
    pod = {key: secure.pop(key) for key in ("runAsNonRoot", "runAsUser", "runAsGroup")}
    pod["fsGroup"] = SEAWEED_UID
    # The chart renders either context only with `enabled: true` in it.
    return {"enabled": True, **pod}, {"enabled": True, **secure}
