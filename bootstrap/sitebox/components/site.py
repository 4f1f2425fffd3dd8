"""The site base: namespaces, quotas, network policies, site-info, the notebook /cvmfs claim."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import (
    BATCH_NAMESPACE,
    CVMFS_CLAIM,
    CVMFS_DRIVER,
    DASHBOARD_LABEL,
    PRIORITY_PREFIX,
)
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "site-base"  # the chart, and its values key in the umbrella
Values = common.Values


def values(site: Site, secrets: Secrets) -> Values:
    enabled = site.enabled()
    return {
        "site": {
            "name": site.name,
            "domain": site.config.get("domain", ""),
            "distribution": site.distribution.version,
            "profile": site.profile,
            "components": enabled,
        },
        # The applications share the release's namespace; the batch connector gets its
        # own, so grid jobs have their own quota, limits and RBAC.
        "namespaces": {
            "hub": {"enabled": False},
            "dask": {"enabled": False},
            "storage": {"enabled": False},
            "workflow": {"enabled": False},
            "batch": {"enabled": "batch" in enabled, "name": BATCH_NAMESPACE},
        },
        "priorityClasses": {"create": False, "prefix": PRIORITY_PREFIX},
        # The claim notebook servers mount, in the site namespace: the batch chart's is in
        # the batch namespace, and a pod can mount claims of its own namespace only.
        "cvmfs": {
            "enabled": common.notebook_cvmfs(site),
            "claimName": CVMFS_CLAIM,
            "driver": CVMFS_DRIVER,
            "repositories": site.config.get("cvmfs", {}).get("repositories", []),
        },
        **_dashboards(site),
        **_federation(site),
    }


def _dashboards(site: Site) -> Values:
    """sitebox's Grafana dashboards, for the dashboards component's sidecar; a site without
    it keeps the values it had."""
    if not common.enabled(site, "dashboards"):
        return {}
    return {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL}}


def _federation(site: Site) -> Values:
    """The federation ConfigMap's values, for a site of a fleet only: a lone site's
    values stay as they were, so installing it again changes nothing."""
    if site.federation is None:
        return {}
    keys = ("fleet", "issuer", "peers")
    return {"federation": {"enabled": True, **{key: site.federation[key] for key in keys}}}
