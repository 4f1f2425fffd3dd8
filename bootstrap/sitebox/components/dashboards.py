"""Grafana (grafana-community's `grafana` chart) in the site release: the site's Prometheus
as its data source, sitebox's dashboards (ConfigMaps site-base makes) by its sidecar."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import DASHBOARD_LABEL, PROMETHEUS_DATASOURCE_UID, PROMETHEUS_URL
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "grafana"  # the chart, and its values key in the umbrella
Values = common.Values

SIDECAR_HEALTH_PORT = 8080  # k8s-sidecar 2.x serves /healthz there (HEALTH_PORT)
DASHBOARD_READER = "sitebox-grafana-dashboards"  # the sidecar's Role


def values(site: Site, secrets: Secrets) -> Values:
    spec = site.components["dashboards"]
    sidecar_probe = {"httpGet": {"path": "/healthz", "port": SIDECAR_HEALTH_PORT}}
    values: Values = {
        # Given, not left to the chart: it would make a new random one at every render.
        "adminPassword": secrets["dashboards.adminPassword"],
        "resources": common.resources(spec.get("resources")) or common.sized("100m", "256Mi"),
        # Stateless: the dashboards and the data source are provisioned at every start;
        # what users change in the UI is lost with the pod (save it as a ConfigMap).
        "persistence": {"enabled": False},
        # The chart's `helm test` pod (bats): sitebox validates the site itself.
        "testFramework": {"enabled": False},
        "datasources": {
            "datasources.yaml": {
                "apiVersion": 1,
                "datasources": [
                    {
                        "name": "Prometheus",
                        "uid": PROMETHEUS_DATASOURCE_UID,
                        "type": "prometheus",
                        "access": "proxy",
                        "url": PROMETHEUS_URL,
                        "isDefault": True,
                        "editable": False,
                    }
                ],
            }
        },
        # The dashboard sidecar reads ConfigMaps of its own namespace only: a Role of
        # sitebox's (the chart's would read the namespace's Secrets too, and a ClusterRole
        # every namespace's).
        "rbac": {"namespaced": True, "useExistingRole": DASHBOARD_READER},
        "extraObjects": [_reader()],
        "sidecar": {
            "resources": common.sized("20m", "96Mi"),
            "readinessProbe": sidecar_probe,
            "livenessProbe": sidecar_probe,
            "dashboards": {
                "enabled": True,
                "label": DASHBOARD_LABEL,
                "resource": "configmap",
                "labelValue": "1",
                "folderAnnotation": "grafana_folder",
                "provider": {"foldersFromFilesStructure": True},
            },
        },
        "grafana.ini": {
            # No calls home from an air-gapped site.
            "analytics": {"check_for_updates": False, "reporting_enabled": False},
            **_server(site),
        },
        **_entry(site),
    }
    return values


def _reader() -> Values:
    """The Role the chart binds Grafana's service account to: read ConfigMaps."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": DASHBOARD_READER},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
        ],
    }


def host(site: Site) -> str | None:
    """Where users reach Grafana through the site's entry (gateway or ingress):
    grafana.<domain>; None for a port-forward."""
    return common.routed_host(site, "grafana", "Grafana")


def _server(site: Site) -> Values:
    name = host(site)
    return {"server": {"root_url": f"https://{name}/"}} if name else {}


def _entry(site: Site) -> Values:
    """An HTTPRoute on the site's Gateway or an Ingress of its class, as the hub has; a
    port-forward otherwise. The Service stays ClusterIP even with `loadBalancer`, which
    is for the hub's proxy only."""
    name = host(site)
    if name is None:
        return {}
    if site.config["ingress"]["type"] == "ingress":
        return {"ingress": common.ingress_rule(site, name)}
    gateway = common.site_gateway(site)
    parent = {"name": gateway["name"], "namespace": gateway["namespace"]}
    return {"route": {"main": {"enabled": True, "hostnames": [name], "parentRefs": [parent]}}}
