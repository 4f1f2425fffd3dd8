"""The NFS CSI driver: ReadWriteMany volumes on the site's export."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import REANA_SHARED_CLASS
from sitebox.compose.secrets import Secrets
from sitebox.errors import Location, SiteboxError
from sitebox.model.siteconfig import Site

CHART_KEY = "csi-driver-nfs"  # the chart, and its values key in the umbrella
Values = common.Values


def values(site: Site, secrets: Secrets) -> Values:
    nfs = site.config.get("storage", {}).get("nfs")
    if not nfs:
        raise SiteboxError(
            "the nfs component needs the NFS export to serve volumes from",
            hint="add `storage: {nfs: {server: nfs.example.edu, path: /export/sitebox}}` to "
            "site.yaml, or turn the component off (`components: {nfs: {enabled: false}}`)",
            location=Location(str(site.source or "site.yaml"), key="storage.nfs"),
        )
    parameters = {"server": nfs["server"], "share": nfs["path"]}
    values: Values = {
        "storageClass": {
            "create": True,
            "name": site.config["storage"].get("sharedClassName", "shared"),
            "parameters": parameters,
        }
    }
    if site.components["workflow"].get("enabled"):
        # The class REANA's shared claim asks for by name, on the same export.
        values["storageClasses"] = [{"name": REANA_SHARED_CLASS, "parameters": parameters}]
    return values
