"""What the site's Prometheus scrapes: the `prometheus` chart's Kubernetes jobs (the API
server, each kubelet and its cAdvisor, and the annotation-driven jobs a site can use for
its own exporters), and one job of sitebox's for each component that exports metrics.

Which components export what is a fact of their charts and images, read from their
sources at the pinned releases:

- kube-state-metrics (in the chart): its Service's `http` port. Its samples describe
  other objects: they keep their own namespace, pod and node labels (``honor_labels``, as
  KAPEL's accounting asks) and get none of kube-state-metrics' own pod.
- node-exporter (in the chart): its Service's `metrics` port (9100, on each node).
- JupyterHub (z2jh 4.4.0, JupyterHub 5.5.0): `/hub/metrics` on the hub Service's `hub`
  port, behind a token with the `read:metrics` scope (``authenticate_prometheus``
  defaults to true, and the proxy routes /hub/ to the world).
- Dask Gateway 2026.3.0: the gateway server exports nothing; its Traefik does when told
  (`--metrics.prometheus`, on its `traefik` entry point, port 9000).
- SeaweedFS 4.44: each server (master, volume, filer, s3) on its Service's `metrics` port.
- Argo Workflows (chart 1.0.18): the controller's `metrics` port when
  ``controller.metricsConfig.enabled``.
- Grafana 13.2: `/metrics` on its Service's `service` port (on by default, no login).

Not exporting, so not scraped: HTCondor 25.0 (no Prometheus endpoint; its queue is not
in kube-state-metrics either, only the execute pods are), cvmfs-csi 2.5.2 (no metrics
code: the CVMFS cache hit rate is not available), csi-driver-nfs 4.13.4 (no metrics port
in the chart), REANA 0.9.4 (no metrics endpoint).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sitebox.components import common
from sitebox.components.names import SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.model.siteconfig import Site

Values = dict[str, Any]

# Where the hub token's Secret is mounted (monitoring.py).
HUB_TOKEN_DIR = "/etc/prometheus-secrets/hub"  # noqa: S105 (a folder, not a secret)
# The chart's jobs for what sitebox does not ship: a Pushgateway, and the blackbox
# exporter the `kubernetes-services` probe job sends its requests through.
OFF = ("prometheus-pushgateway", "kubernetes-services")
# The chart's jobs that stay as the chart has them: Prometheus itself, the API server,
# each node's kubelet and its cAdvisor, and the jobs that scrape what a site annotates
# with prometheus.io/scrape (its own exporters).
KEPT = (
    "prometheus",
    "kubernetes-api-servers",
    "kubernetes-nodes",
    "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints",
    "kubernetes-service-endpoints-slow",
    "kubernetes-pods",
    "kubernetes-pods-slow",
)
ENDPOINTS, POD = "endpointslice", "pod"
# Where each target label comes from in Kubernetes service discovery.
TARGET_SOURCES = {
    "namespace": "__meta_kubernetes_namespace",
    "pod": "__meta_kubernetes_pod_name",
    "node": "__meta_kubernetes_pod_node_name",
}


@dataclass(frozen=True)
class Exporter:
    """A component's metrics endpoint and how its targets are found."""

    component: str  # the sitebox component; the job is there when it is on
    job: str
    role: str  # ENDPOINTS: the endpoints of matching Services; POD: matching pods
    namespace: str
    labels: dict[str, str]  # the Service's labels (ENDPOINTS) or the pod's (POD)
    port: str  # the Service's port name, or the container's
    path: str = "/metrics"
    options: Values = field(default_factory=dict)  # further scrape_config keys
    # The target's labels its samples get: where they came from. kube-state-metrics
    # describes other objects (its samples name their own namespace and pod), and
    # node-exporter describes the node it runs on.
    target_labels: tuple[str, ...] = ("namespace", "pod", "node")


EXPORTERS = (
    Exporter("monitoring", "kube-state-metrics", ENDPOINTS, SYSTEM_NAMESPACE,
             {"app.kubernetes.io/name": "kube-state-metrics"}, "http",
             options={"honor_labels": True}, target_labels=()),
    Exporter("monitoring", "node-exporter", ENDPOINTS, SYSTEM_NAMESPACE,
             {"app.kubernetes.io/name": "prometheus-node-exporter"}, "metrics",
             target_labels=("node",)),
    Exporter("hub", "jupyterhub", ENDPOINTS, SITE_NAMESPACE,
             {"app": "jupyterhub", "component": "hub"}, "hub", path="/hub/metrics",
             options={"authorization": {"credentials_file": f"{HUB_TOKEN_DIR}/token"}}),
    Exporter("dask", "dask-gateway", POD, SITE_NAMESPACE,
             {"app.kubernetes.io/name": "dask-gateway", "app.kubernetes.io/component": "traefik"},
             "traefik"),
    Exporter("storage", "seaweedfs", ENDPOINTS, SITE_NAMESPACE,
             {"app.kubernetes.io/name": "seaweedfs"}, "metrics"),
    Exporter("argo", "argo-workflows", ENDPOINTS, SITE_NAMESPACE,
             {"app.kubernetes.io/component": "workflow-controller"}, "metrics"),
    Exporter("dashboards", "grafana", ENDPOINTS, SITE_NAMESPACE,
             {"app.kubernetes.io/name": "grafana"}, "service"),
)  # fmt: skip


def exporters(site: Site) -> list[Exporter]:
    """The exporters of the components on at this site."""
    return [e for e in EXPORTERS if common.enabled(site, e.component)]


def configs(site: Site) -> Values:
    """The chart's ``scrapeConfigs``: a job per exporter, the unshipped jobs off (the
    chart's own jobs are merged under these by Helm)."""
    jobs: Values = {name: {"enabled": False} for name in OFF}
    jobs.update({e.job: job(e) for e in exporters(site)})
    return jobs


def job(exporter: Exporter) -> Values:
    """One scrape_config: discovery in the component's namespace, kept by labels and port
    name, its samples labelled with where they came from."""
    meta = "__meta_kubernetes_service_label_" if exporter.role == ENDPOINTS else (
        "__meta_kubernetes_pod_label_"
    )  # fmt: skip
    port = (
        "__meta_kubernetes_endpointslice_port_name"
        if exporter.role == ENDPOINTS
        else "__meta_kubernetes_pod_container_port_name"
    )
    keep = [
        {"source_labels": [meta + label_name(key)], "regex": re.escape(value), "action": "keep"}
        for key, value in sorted(exporter.labels.items())
    ]
    keep.append({"source_labels": [port], "regex": re.escape(exporter.port), "action": "keep"})
    targets = [_copy(TARGET_SOURCES[label], label) for label in exporter.target_labels]
    if exporter.role == POD:
        # A finished pod keeps its address for a while; only running ones are targets.
        targets.append(
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running",
             "action": "keep"}
        )  # fmt: skip
    return {
        "metrics_path": exporter.path,
        "kubernetes_sd_configs": [
            {"role": exporter.role, "namespaces": {"names": [exporter.namespace]}}
        ],
        "relabel_configs": keep + targets,
        **exporter.options,
    }


def label_name(key: str) -> str:
    """A Kubernetes label's name as Prometheus's service discovery spells it: every
    character that may not be in a Prometheus label name becomes ``_``."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def _copy(source: str, target: str) -> Values:
    return {"source_labels": [source], "target_label": target, "action": "replace"}
