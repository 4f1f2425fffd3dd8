"""Dask Gateway, authenticated by the hub as DaskHub does."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import SITE_NAMESPACE
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "dask-gateway"  # the chart, and its values key in the umbrella
Values = common.Values


def _gateway_memory(quantity: str) -> str:
    """Dask Gateway's memory limits take K, M, G, T (powers of 1024), not Ki, Mi, Gi, Ti."""
    return quantity[:-1] if quantity[-2:] in ("Ki", "Mi", "Gi", "Ti") else quantity


def values(site: Site, secrets: Secrets) -> Values:
    spec = site.components["dask"]
    limits = spec.get("perUser", {})
    extra = []
    if limits:
        extra.append(
            "c.UserLimits.max_cores = {}\nc.UserLimits.max_memory = {!r}\n"
            "c.UserLimits.max_clusters = {}".format(
                limits.get("maxCores", 0),
                _gateway_memory(str(limits.get("maxMemory", "0"))),
                limits.get("maxClusters", 0),
            )
        )
    gateway: Values = {
        "auth": {
            "type": "jupyterhub",
            "jupyterhub": {
                "apiToken": secrets["dask.apiToken"],
                "apiUrl": f"http://hub.{SITE_NAMESPACE}.svc:8081/hub/api",
            },
        },
        "resources": common.resources(spec.get("resources")),
    }
    if extra:
        gateway["extraConfig"] = {"sitebox-limits": "\n".join(extra)}
    selector, terms = common.placement(site, "dask")
    pod: Values = {}
    if selector:
        pod["nodeSelector"] = selector
    if terms:
        pod["affinity"] = common.required_affinity(terms)
    if pod:
        gateway["backend"] = {
            "scheduler": {"extraPodConfig": pod},
            "worker": {"extraPodConfig": pod},
        }
    return {
        "gateway": gateway,
        "controller": {"resources": common.resources(spec.get("resources"))},
        # The gateway's proxy: reached inside the cluster through the hub's proxy
        # (/services/dask-gateway), so it needs no address of its own.
        "traefik": {
            "resources": common.sized("100m", "128Mi"),
            "service": {"type": "ClusterIP"},
            **_metrics(site),
        },
    }


def _metrics(site: Site) -> Values:
    """The gateway server exports no metrics; its Traefik does when told, on its `traefik`
    entry point (port 9000, beside /ping), where the site's Prometheus scrapes it."""
    if not common.enabled(site, "monitoring"):
        return {}
    return {"additionalArguments": ["--metrics.prometheus=true"]}
