"""REANA, the reusable-analysis workflow engine."""

from __future__ import annotations

from sitebox.components import common
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "reana"  # the chart, and its values key in the umbrella
Values = common.Values


def values(site: Site, secrets: Secrets) -> Values:
    return {
        "secrets": {
            "database": {"user": "reana", "password": secrets["workflow.databasePassword"]},
            "cache": {"password": secrets["workflow.cachePassword"]},
            "message_broker": {"user": "reana", "password": secrets["workflow.brokerPassword"]},
            "reana": {"secret_key": secrets["workflow.secretKey"]},
        },
        # See REANA_SHARED_CLASS: a claim on the site's ReadWriteMany storage, else a node
        # directory (REANA then works on one node only).
        "shared_storage": {"backend": "nfs" if common.shared_storage(site) else "hostpath"},
        # REANA's own Traefik would be a second entry point with NodePorts on every node;
        # users reach REANA through the site's own (an Ingress of its class), or a
        # port-forward.
        "traefik": {"enabled": False},
        "ingress": _ingress(site),
    }


def _ingress(site: Site) -> Values:
    ingress = site.config.get("ingress", {})
    if ingress.get("type") != "ingress" or not site.config.get("domain"):
        return {"enabled": False}
    annotations = {"kubernetes.io/ingress.class": ingress.get("className", "")}
    return {
        "enabled": True,
        "annotations": {k: v for k, v in annotations.items() if v},
        "tls": {"self_signed_cert": False, "hosts": [f"reana.{site.config['domain']}"]},
    }
