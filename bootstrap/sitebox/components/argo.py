"""Argo Workflows, the lighter workflow engine."""

from __future__ import annotations

from sitebox.components import common
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "argo-workflows"  # the chart, and its values key in the umbrella
Values = common.Values


def values(site: Site, secrets: Secrets) -> Values:
    spec = site.components["argo"]
    sized = common.resources(spec.get("resources")) or common.sized("100m", "256Mi")
    return {
        # The CRDs the chart ships (without their full OpenAPI schemas), applied by sitebox.
        # The full ones come from a Job that downloads them at install time, which an
        # air-gapped site cannot do.
        "crds": {"install": True, "full": False, "keep": True},
        "controller": {"resources": sized, **_metrics(site)},
        "server": {
            "resources": sized,
            "livenessProbe": {"enabled": True},
            "serviceType": "ClusterIP",
        },
    }


def _metrics(site: Site) -> Values:
    """The controller's metrics port (9090, on its Service), for the site's Prometheus."""
    return {"metricsConfig": {"enabled": True}} if common.enabled(site, "monitoring") else {}
