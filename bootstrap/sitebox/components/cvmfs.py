"""The CVMFS CSI driver."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import CVMFS_DRIVER
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "cvmfs-csi"  # the chart, and its values key in the umbrella
Values = common.Values


# Starting points, overridable in site.yaml (`components.cvmfs.values`). The automount
# container runs the CVMFS clients, whose memory grows with the repositories in use; the
# on-disk cache is apart (cache.local).
NODE_RESOURCES = {
    "plugin": ("50m", "128Mi"),
    "automount": ("100m", "1Gi"),
    "automountReconciler": ("10m", "32Mi"),
    "singlemount": ("50m", "256Mi"),
    "registrar": ("10m", "32Mi"),
}
CONTROLLER_RESOURCES = {"plugin": ("10m", "64Mi"), "provisioner": ("10m", "64Mi")}


def values(site: Site, secrets: Secrets) -> Values:
    cvmfs = site.config.get("cvmfs", {})
    # The site's squid, never the chart's default (CERN's proxy); DIRECT only without one.
    lines = [
        "CVMFS_USE_GEOAPI=yes",
        f'CVMFS_HTTP_PROXY="{cvmfs.get("proxy", "DIRECT")}"',
        "CVMFS_QUOTA_LIMIT={{ .Values.cache.local.cvmfsQuotaLimit }}",
        "CVMFS_CACHE_BASE={{ .Values.cache.local.location }}",
    ]
    if cvmfs.get("repositories"):
        lines.append("CVMFS_REPOSITORIES=" + ",".join(cvmfs["repositories"]))
    return {
        "csiDriverName": CVMFS_DRIVER,
        "nodeplugin": {
            container: {"resources": common.sized(cpu, memory)}
            for container, (cpu, memory) in NODE_RESOURCES.items()
        },
        "controllerplugin": {
            container: {"resources": common.sized(cpu, memory)}
            for container, (cpu, memory) in CONTROLLER_RESOURCES.items()
        },
        # The site's claims are on statically provisioned volumes (charts site-base and
        # batch): no class is needed, and none is left for claims nothing would provision.
        "automountStorageClass": {"create": False},
        "extraConfigMaps": {"cvmfs-csi-default-local": {"default.local": "\n".join(lines) + "\n"}},
    }
