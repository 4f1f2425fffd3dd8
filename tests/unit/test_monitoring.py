"""The monitoring and dashboards components' values, composed from a site (no chart is
rendered here: tests/site/test_monitoring.py renders them with the real charts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitebox.components import dashboards, dask, hub, monitoring, scrape
from sitebox.components.names import PROMETHEUS_URL, SYSTEM_NAMESPACE
from sitebox.compose.secrets import Secrets
from sitebox.errors import SiteboxError
from sitebox.model import siteconfig

pytestmark = pytest.mark.unit

SECRETS = Secrets(
    {
        "hub.cookieSecret": "c" * 64,
        "hub.proxyToken": "p" * 64,
        "hub.cryptKey": "k" * 64,
        "dask.apiToken": "d" * 64,
        "monitoring.hubToken": "m" * 64,
        "dashboards.adminPassword": "a" * 32,
    }
)


def site(tmp_path: Path, profile: str, extra: str = "") -> siteconfig.Site:
    path = tmp_path / "site.yaml"
    path.write_text(
        f"apiVersion: sitebox.io/v1\nkind: Site\nname: uni\nprofile: {profile}\n{extra}"
    )
    return siteconfig.load(path)


@pytest.mark.parametrize(
    ("size", "expected"),
    [("50Gi", "45GB"), ("100Gi", "90GB"), ("10Ti", "9TB"), ("5Gi", "4608MB"), ("500Mi", "450MB"),
     ("200G", "")],
)  # fmt: skip
def test_prometheus_may_fill_nine_tenths_of_its_claim(size: str, expected: str) -> None:
    assert monitoring.retention_size(size) == expected


def test_tier2_keeps_35_days_on_a_kept_claim_of_its_size(tmp_path: Path) -> None:
    values = monitoring.values(site(tmp_path, "tier2"), SECRETS)
    server = values["server"]
    assert server["retention"] == "35d" and server["retentionSize"] == "90GB"
    claim = server["persistentVolume"]
    assert claim["size"] == "100Gi"
    assert claim["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert server["fullnameOverride"] == "prometheus"
    assert server["resources"]["requests"] == {"cpu": "1", "memory": "4Gi"}
    # tier2 runs no hub: no token to mount.
    assert "extraManifests" not in values and "extraSecretMounts" not in server


def test_a_site_sizes_prometheus_and_its_class_is_used(tmp_path: Path) -> None:
    extra = "storage: {className: fast}\ncomponents: {monitoring: {retention: 8w, size: 200Gi}}\n"
    server = monitoring.values(site(tmp_path, "tier2", extra), SECRETS)["server"]
    assert server["retention"] == "8w" and server["retentionSize"] == "180GB"
    assert server["persistentVolume"]["storageClass"] == "fast"


def test_a_retention_that_is_not_a_duration_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(SiteboxError) as refused:
        site(tmp_path, "tier2", "components: {monitoring: {retention: a month}}\n")
    rendered = refused.value.render()
    assert "components.monitoring.retention" in rendered and "35d" in rendered, rendered


def test_scrape_jobs_follow_the_components_that_are_on(tmp_path: Path) -> None:
    af = scrape.configs(site(tmp_path, "analysis-facility"))
    on = {name for name, job in af.items() if job.get("enabled", True)}
    assert on == {"kube-state-metrics", "node-exporter", "jupyterhub", "dask-gateway",
                  "seaweedfs", "grafana"}  # fmt: skip
    assert {name for name, job in af.items() if job.get("enabled") is False} == set(scrape.OFF)
    t2 = scrape.configs(site(tmp_path, "tier2"))
    assert "jupyterhub" not in t2 and "dask-gateway" not in t2 and "seaweedfs" in t2


def test_a_job_keeps_its_components_endpoint_and_labels_where_it_came_from() -> None:
    (hub_exporter,) = [e for e in scrape.EXPORTERS if e.component == "hub"]
    job = scrape.job(hub_exporter)
    assert job["metrics_path"] == "/hub/metrics"
    assert job["authorization"] == {"credentials_file": f"{scrape.HUB_TOKEN_DIR}/token"}
    keeps = {r["source_labels"][0]: r["regex"] for r in job["relabel_configs"]
             if r["action"] == "keep"}  # fmt: skip
    assert keeps == {
        "__meta_kubernetes_service_label_app": "jupyterhub",
        "__meta_kubernetes_service_label_component": "hub",
        "__meta_kubernetes_endpointslice_port_name": "hub",
    }
    (ksm,) = [e for e in scrape.EXPORTERS if e.job == "kube-state-metrics"]
    ksm_job = scrape.job(ksm)
    assert ksm_job["honor_labels"] is True
    assert not [r for r in ksm_job["relabel_configs"] if r["action"] == "replace"]


def test_the_hub_gives_prometheus_a_metrics_token_only_with_monitoring(tmp_path: Path) -> None:
    monitored = hub.values(site(tmp_path, "analysis-facility"), SECRETS)["hub"]
    assert monitored["services"]["prometheus"]["apiToken"] == SECRETS["monitoring.hubToken"]
    assert monitored["services"]["dask-gateway"]["apiToken"] == SECRETS["dask.apiToken"]
    assert monitored["loadRoles"]["prometheus"]["scopes"] == ["read:metrics"]
    (rule,) = monitored["networkPolicy"]["ingress"]
    (source,) = rule["from"]
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": SYSTEM_NAMESPACE
    }
    values = monitoring.values(site(tmp_path, "analysis-facility"), SECRETS)
    assert SECRETS["monitoring.hubToken"] in values["extraManifests"][0]
    plain = hub.values(site(tmp_path, "tier3"), SECRETS)["hub"]
    assert "prometheus" not in plain.get("services", {}) and "loadRoles" not in plain


def test_the_gateways_traefik_exports_metrics_only_with_monitoring(tmp_path: Path) -> None:
    af = dask.values(site(tmp_path, "analysis-facility"), SECRETS)
    assert af["traefik"]["additionalArguments"] == ["--metrics.prometheus=true"]
    assert "additionalArguments" not in dask.values(site(tmp_path, "tier3"), SECRETS)["traefik"]


def test_grafana_reads_the_sites_prometheus_with_a_password_sitebox_keeps(tmp_path: Path) -> None:
    values = dashboards.values(site(tmp_path, "tier2"), SECRETS)
    assert values["adminPassword"] == SECRETS["dashboards.adminPassword"]
    (source,) = values["datasources"]["datasources.yaml"]["datasources"]
    assert source["url"] == PROMETHEUS_URL
    assert values["rbac"] == {"namespaced": True, "useExistingRole": dashboards.DASHBOARD_READER}
    assert values["sidecar"]["dashboards"]["resource"] == "configmap"
    assert "route" not in values and "ingress" not in values


def test_grafana_is_routed_as_the_hub_is(tmp_path: Path) -> None:
    gateway = (
        "domain: uni.example.org\ningress: {type: gateway, gateway: {name: gw, namespace: gw}}\n"
    )
    route = dashboards.values(site(tmp_path, "tier2", gateway), SECRETS)["route"]["main"]
    assert route["hostnames"] == ["grafana.uni.example.org"]
    assert route["parentRefs"] == [{"name": "gw", "namespace": "gw"}]
    ingress = "domain: uni.example.org\ningress: {type: ingress, className: nginx}\n"
    rule = dashboards.values(site(tmp_path, "tier2", ingress), SECRETS)["ingress"]
    assert rule == {
        "enabled": True,
        "hosts": ["grafana.uni.example.org"],
        "ingressClassName": "nginx",
    }
    with pytest.raises(SiteboxError) as refused:
        dashboards.values(site(tmp_path, "tier2", "ingress: {type: ingress}\n"), SECRETS)
    assert "no domain" in refused.value.message
