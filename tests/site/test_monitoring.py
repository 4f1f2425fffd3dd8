"""The monitoring component with its real charts (prometheus 29.27.0, grafana 12.11.1),
rendered as each profile composes it: what Prometheus scrapes, where it keeps its data,
and how the hub and Grafana are wired to it (issue 15, item 1)."""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.components.names import (
    PROMETHEUS_DATASOURCE_UID,
    PROMETHEUS_URL,
    SITE_NAMESPACE,
    SYSTEM_NAMESPACE,
)
from sitebox.compose import render as renderer
from sitebox.compose.commands import load_site, secrets_for
from sitebox.model import siteconfig

Obj = dict[str, Any]

# The components that export metrics, and the scrape jobs that must name them: facts of
# their charts and images at the pinned releases (see sitebox.components.scrape). The
# kubelet and its cAdvisor are the chart's own jobs.
EXPORTS = {
    "monitoring": {"kube-state-metrics", "node-exporter", "kubernetes-nodes",
                   "kubernetes-nodes-cadvisor"},
    "hub": {"jupyterhub"},
    "dask": {"dask-gateway"},
    "storage": {"seaweedfs"},
    "argo": {"argo-workflows"},
    "dashboards": {"grafana"},
}  # fmt: skip
# Components that export nothing to scrape: HTCondor has no Prometheus endpoint,
# cvmfs-csi and csi-driver-nfs no metrics code or port, REANA 0.9.4 no endpoint, and
# site-base runs no server.
SILENT = {"site", "batch", "cvmfs", "nfs", "workflow"}
TIER3_WITH_ARGO = """apiVersion: sitebox.io/v1
kind: Site
name: t3
profile: tier3
storage: {sharedClassName: shared}
components:
  monitoring: {enabled: true, retention: 6w, size: 20Gi}
  dashboards: {enabled: true}
  argo: {enabled: true}
"""


@pytest.fixture
def real_charts(upstream: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in upstream.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SITEBOX_STATE", str(tmp_path))


def rendered(site: siteconfig.Site) -> list[Obj]:
    with tempfile.TemporaryDirectory() as tmp:
        result = renderer.render(site, secrets_for(site), Path(tmp), None)
    assert result.complete, [c.name for c in result.missing]
    assert not [f for f in result.findings if f.severity == "error"], result.findings
    # Objects a chart renders without a namespace go to their release's, as Helm applies them.
    return [
        {**obj, "metadata": {"namespace": release.namespace, **obj["metadata"]}}
        for release in result.releases
        for obj in release.manifests
    ]


def one(objects: list[Obj], kind: str, name: str, namespace: str) -> Obj:
    found = [
        o for o in objects
        if o["kind"] == kind and o["metadata"]["name"] == name
        and o["metadata"].get("namespace") == namespace
    ]  # fmt: skip
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} found"
    return found[0]


def scrape_jobs(objects: list[Obj]) -> dict[str, Obj]:
    config = one(objects, "ConfigMap", "prometheus", SYSTEM_NAMESPACE)
    prometheus = yaml.safe_load(config["data"]["prometheus.yml"])
    return {job["job_name"]: job for job in prometheus["scrape_configs"]}


def label_name(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def pod_templates(objects: list[Obj], namespace: str) -> list[Obj]:
    return [
        o["spec"]["template"] for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
        and o["metadata"].get("namespace") == namespace
    ]  # fmt: skip


def candidates(objects: list[Obj], role: str, namespace: str) -> list[dict[str, str]]:
    """What Prometheus's service discovery would offer in ``namespace``, as its meta
    labels: a Service's ports whose selector matches a rendered pod (endpointslice), or a
    rendered pod's container ports (pod)."""
    pods = pod_templates(objects, namespace)
    found = []
    if role == "endpointslice":
        for service in objects:
            if service["kind"] != "Service" or service["metadata"].get("namespace") != namespace:
                continue
            selector = service["spec"].get("selector") or {}
            if not selector or not any(
                selector.items() <= (p["metadata"].get("labels") or {}).items() for p in pods
            ):
                continue
            labels = {
                f"__meta_kubernetes_service_label_{label_name(k)}": v
                for k, v in (service["metadata"].get("labels") or {}).items()
            }
            for port in service["spec"]["ports"]:
                found.append(
                    {**labels, "__meta_kubernetes_endpointslice_port_name": port.get("name", "")}
                )
    else:
        for pod in pods:
            labels = {
                f"__meta_kubernetes_pod_label_{label_name(k)}": v
                for k, v in (pod["metadata"].get("labels") or {}).items()
            }
            for container in pod["spec"]["containers"]:
                for port in container.get("ports") or []:
                    found.append(
                        {
                            **labels,
                            "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                        }
                    )
    return found


def targets(objects: list[Obj], job: Obj) -> list[dict[str, str]]:
    """The rendered objects the job's keep rules let through."""
    (discovery,) = job["kubernetes_sd_configs"]
    (namespace,) = discovery["namespaces"]["names"]
    keeps = [r for r in job["relabel_configs"] if r.get("action") == "keep"
             and not r["source_labels"][0].endswith("_phase")]  # fmt: skip
    return [
        meta for meta in candidates(objects, discovery["role"], namespace)
        if all(re.fullmatch(r["regex"], meta.get(r["source_labels"][0], "")) for r in keeps)
    ]  # fmt: skip


@pytest.mark.parametrize("profile", ["tier2", "analysis-facility", "tier3+argo"])
def test_the_scrape_configuration_names_every_component_that_exports_metrics(
    profile: str, real_charts: None, tmp_path: Path
) -> None:
    if profile == "tier3+argo":
        (tmp_path / "site.yaml").write_text(TIER3_WITH_ARGO)
        site = siteconfig.load(tmp_path / "site.yaml")
    else:
        site = load_site(None, profile)
    objects = rendered(site)
    jobs = scrape_jobs(objects)
    enabled = set(site.enabled())
    assert not enabled - set(EXPORTS) - SILENT, "every component is known to export or not"
    expected = set().union(*(EXPORTS[c] for c in enabled & set(EXPORTS)))
    assert expected <= set(jobs), expected - set(jobs)
    # Each of sitebox's jobs finds its component's endpoint in what the charts render.
    for component in enabled & set(EXPORTS):
        for name in EXPORTS[component] - {"kubernetes-nodes", "kubernetes-nodes-cadvisor"}:
            assert targets(objects, jobs[name]), f"job {name} matches nothing {component} renders"
    # Nothing is scraped twice: the Services sitebox scrapes are not annotated for the
    # chart's generic job as well.
    for service in objects:
        if service["kind"] == "Service":
            annotations = service["metadata"].get("annotations") or {}
            assert annotations.get("prometheus.io/scrape") != "true", service["metadata"]["name"]
    # Jobs for components that are off are not there, nor the unshipped exporters'.
    for component in set(EXPORTS) - enabled:
        assert not EXPORTS[component] & set(jobs) - {
            "kubernetes-nodes",
            "kubernetes-nodes-cadvisor",
        }
    assert "prometheus-pushgateway" not in jobs and "kubernetes-services" not in jobs


def test_prometheus_keeps_a_month_and_more_on_a_claim_uninstall_keeps(real_charts: None) -> None:
    objects = rendered(load_site(None, "tier2"))
    claim = one(objects, "PersistentVolumeClaim", "prometheus", SYSTEM_NAMESPACE)
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"  # the profile's
    server = one(objects, "Deployment", "prometheus", SYSTEM_NAMESPACE)["spec"]["template"]
    args = next(c for c in server["spec"]["containers"] if c["name"] == "prometheus-server")["args"]
    assert "--storage.tsdb.retention.time=35d" in args
    assert "--storage.tsdb.retention.size=90GB" in args  # 90% of the claim
    volumes = {v["name"]: v for v in server["spec"]["volumes"]}
    assert volumes["storage-volume"]["persistentVolumeClaim"]["claimName"] == "prometheus"
    assert one(objects, "Service", "prometheus", SYSTEM_NAMESPACE)
    # node-exporter reads the host: the system release runs it, at privileged.
    exporter = [
        o for o in objects if o["kind"] == "DaemonSet" and "node-exporter" in o["metadata"]["name"]
    ]
    assert exporter and exporter[0]["metadata"]["namespace"] == SYSTEM_NAMESPACE


def test_the_hub_lets_prometheus_read_its_metrics_with_a_token_of_its_own(
    real_charts: None,
) -> None:
    objects = rendered(load_site(None, "analysis-facility"))
    policy = one(objects, "NetworkPolicy", "hub", SITE_NAMESPACE)
    sources = [s for rule in policy["spec"]["ingress"] for s in rule.get("from", [])]
    system = {"kubernetes.io/metadata.name": SYSTEM_NAMESPACE}
    assert any(s.get("namespaceSelector", {}).get("matchLabels") == system for s in sources)
    hub_secret = one(objects, "Secret", "hub", SITE_NAMESPACE)
    token = base64.b64decode(hub_secret["data"]["hub.services.prometheus.apiToken"]).decode()
    mounted = one(objects, "Secret", "prometheus-hub-token", SYSTEM_NAMESPACE)
    assert mounted["stringData"]["token"] == token, "both charts hold the one token"
    config = yaml.safe_load(base64.b64decode(hub_secret["data"]["values.yaml"]))
    role = config["hub"]["loadRoles"]["prometheus"]
    assert role["scopes"] == ["read:metrics"] and role["services"] == ["prometheus"]
    assert token not in yaml.safe_dump(scrape_jobs(objects)), "the token is not in a ConfigMap"


def test_grafana_reads_the_sites_prometheus_and_only_configmaps(real_charts: None) -> None:
    objects = rendered(load_site(None, "tier2"))
    assert not [
        o for o in objects
        if o["kind"] in ("ClusterRole", "ClusterRoleBinding") and "grafana" in o["metadata"]["name"]
    ], "the dashboard sidecar reads its own namespace only"  # fmt: skip
    role = one(objects, "Role", "sitebox-grafana-dashboards", SITE_NAMESPACE)
    assert [r["resources"] for r in role["rules"]] == [["configmaps"]]
    binding = one(objects, "RoleBinding", "sitebox-grafana", SITE_NAMESPACE)
    assert binding["roleRef"]["name"] == "sitebox-grafana-dashboards"
    sources = yaml.safe_load(one(objects, "ConfigMap", "sitebox-grafana", SITE_NAMESPACE)
                             ["data"]["datasources.yaml"])  # fmt: skip
    (source,) = sources["datasources"]
    assert source["uid"] == PROMETHEUS_DATASOURCE_UID and source["url"] == PROMETHEUS_URL
    dashboards = [o for o in objects if o["kind"] == "ConfigMap"
                  and o["metadata"]["name"].startswith("sitebox-dashboard-")]  # fmt: skip
    assert len(dashboards) >= 5
