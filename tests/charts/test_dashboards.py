"""sitebox's Grafana dashboards (charts/site-base/dashboards): Grafana's published
dashboard schema accepts them, their queries name metrics the scraped exporters export,
and site-base makes each a ConfigMap Grafana's sidecar loads."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from jsonschema import Draft7Validator

from sitebox.components import scrape
from sitebox.components.names import (
    BATCH_NAMESPACE,
    DASHBOARD_LABEL,
    PROMETHEUS_DATASOURCE_UID,
    SITE_NAMESPACE,
    SYSTEM_NAMESPACE,
)
from tests.charts.conftest import CHARTS, Helm, find
from tests.conftest import UPSTREAM

pytestmark = pytest.mark.chart

DASHBOARDS = sorted((CHARTS / "site-base" / "dashboards").glob("*.json"))
# Grafana's dashboard JSON schema (the classic, v1 dashboard Grafana 13 provisions from
# files) and the schemas of the panel types and the Prometheus query the dashboards use,
# as grafana-foundation-sdk publishes them: tag v0.0.18, path jsonschema/<name>. A copy
# of each is kept beside the checkout (shared/upstream/grafana-dashboard), checked
# against these digests so that a changed copy is not taken for Grafana's.
SCHEMA_SOURCE = (
    "https://github.com/grafana/grafana-foundation-sdk/blob/"
    "b3d52a7cbaffff15aeada9a7dbc55be1a417bdab/jsonschema/"
)
SCHEMAS = UPSTREAM / "grafana-dashboard"
SCHEMA_DIGESTS = {
    "dashboard": "67451cd5b288f97e3f68eccd52ffa4f75151fc87c669b8cd93c051056b294265",
    "prometheus": "726fc97eeb1e37791dbbf988c3cf40de17bb8e623926e6979c4a3f947cb1af87",
    "timeseries": "77ba36d66bbfcb363eeb5e6957813ca4b4cbc5a5bc4e8a12034d4c3b8cbbbde4",
    "stat": "da547c8b1e52883a77e876f34d90d6034266ca8488a5601900ca26fc01d74b9e",
    "text": "db6d2e3e2c576d1c78ac2e08930f60dbc22bb7ee21abd0cd9204be49f0dbce09",
}

# The metrics the dashboards may query, each with the scrape job that brings it and
# where the exporter defines it (the releases the distribution pins).
KSM = "kube-state-metrics v2.20.0, internal/store/"
METRICS = {
    **{
        name: ("kube-state-metrics", KSM + source)
        for name, source in {
            "kube_node_status_condition": "node.go",
            "kube_node_status_allocatable": "node.go",
            "kube_pod_container_resource_requests": "pod.go",
            "kube_pod_container_info": "pod.go",
            "kube_pod_container_status_restarts_total": "pod.go",
            "kube_pod_status_phase": "pod.go",
            "kube_job_status_active": "job.go",
            "kube_job_status_completion_time": "job.go",
            "kube_job_status_failed": "job.go",
            "kube_resourcequota": "resourcequota.go",
            "kube_daemonset_status_number_ready": "daemonset.go",
            "kube_daemonset_status_desired_number_scheduled": "daemonset.go",
        }.items()
    },
    **{
        name: ("node-exporter", "node_exporter v1.12.1, collector/")
        for name in (
            "node_cpu_seconds_total",
            "node_memory_MemTotal_bytes",
            "node_memory_MemAvailable_bytes",
            "node_filesystem_avail_bytes",
            "node_filesystem_size_bytes",
        )
    },
    "container_cpu_usage_seconds_total": ("kubernetes-nodes-cadvisor", "the kubelet's cAdvisor"),
    "container_memory_working_set_bytes": ("kubernetes-nodes-cadvisor", "the kubelet's cAdvisor"),
    "kubelet_volume_stats_used_bytes": ("kubernetes-nodes", "the kubelet's /metrics"),
    "kubelet_volume_stats_capacity_bytes": ("kubernetes-nodes", "the kubelet's /metrics"),
    **{
        name: ("jupyterhub", "JupyterHub 5.5.0, jupyterhub/metrics.py")
        for name in (
            "jupyterhub_running_servers",
            "jupyterhub_total_users",
            "jupyterhub_active_users",
            "jupyterhub_server_spawn_duration_seconds",  # a histogram
            "jupyterhub_request_duration_seconds",  # a histogram
        )
    },
    "traefik_entrypoint_requests_total": ("dask-gateway", "Traefik 3.3, entry point metrics"),
    "traefik_open_connections": ("dask-gateway", "Traefik 3.3, global metrics"),
    **{
        name: ("seaweedfs", "SeaweedFS 4.44, weed/stats/metrics.go")
        for name in (
            "SeaweedFS_s3_request_total",
            "SeaweedFS_s3_bucket_size_bytes",
            "SeaweedFS_volumeServer_total_disk_size",
        )
    },
}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# PromQL words that are not metric names: functions, aggregations, keywords.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "or", "and",
                "unless", "bool", "offset"}  # fmt: skip


def dashboards() -> list[tuple[str, dict[str, Any]]]:
    return [(path.stem, json.loads(path.read_text())) for path in DASHBOARDS]


def targets(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for panel in board["panels"] for t in panel.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: label matchers, strings, ranges and
    grouping lists removed, then every name not called as a function or a keyword."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = re.findall(r"(?<![\w:])[A-Za-z_:][\w:]*(?![\w:]|\s*\()", bare)
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"[0-9eE]+", n)}


def known(name: str) -> str | None:
    """The catalogue's entry for a metric, a histogram's series included."""
    if name in METRICS:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in METRICS:
            return name.removesuffix(suffix)
    return None


def schema(name: str, definition: str | None = None) -> dict[str, Any]:
    path = SCHEMAS / f"{name}.jsonschema.json"
    if not path.is_file():
        pytest.skip(f"no copy of Grafana's {name} schema in {SCHEMAS} ({SCHEMA_SOURCE}{path.name})")
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_DIGESTS[name], (
        f"{path} is not the published {SCHEMA_SOURCE}{path.name}"
    )
    loaded: dict[str, Any] = json.loads(data)
    return {**loaded, "$ref": f"#/definitions/{definition}"} if definition else loaded


def test_there_are_dashboards_for_what_the_site_runs() -> None:
    assert {path.stem for path in DASHBOARDS} >= {"nodes", "batch", "hub", "dask", "cvmfs"}


@pytest.mark.parametrize(("name", "board"), dashboards(), ids=[p.stem for p in DASHBOARDS])
def test_grafanas_dashboard_schema_accepts_each_dashboard(name: str, board: dict[str, Any]) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft7Validator(schema("dashboard")).iter_errors(board)
    ]
    for panel in board["panels"]:
        options = Draft7Validator(schema(panel["type"], "Options"))
        errors += [f"panel {panel['title']!r} options: {e.message}"
                   for e in options.iter_errors(panel["options"])]  # fmt: skip
    query = Draft7Validator(schema("prometheus"))
    errors += [f"query {t['refId']}: {e.message}" for t in targets(board)
               for e in query.iter_errors(t)]  # fmt: skip
    assert not errors, errors


def test_the_schema_refuses_what_grafana_would_not_load() -> None:
    """The schema is strict: a misspelt key or a panel without its type is refused."""
    validator = Draft7Validator(schema("dashboard"))
    board = json.loads(DASHBOARDS[0].read_text())
    assert not list(validator.iter_errors(board))
    assert list(validator.iter_errors({**board, "pannels": board["panels"]}))
    untyped = [{k: v for k, v in board["panels"][0].items() if k != "type"}]
    assert list(validator.iter_errors({**board, "panels": untyped}))


@pytest.mark.parametrize(("name", "board"), dashboards(), ids=[p.stem for p in DASHBOARDS])
def test_panels_query_the_sites_prometheus_for_metrics_that_exist(
    name: str, board: dict[str, Any]
) -> None:
    """Every query reads the data source sitebox provisions, names metrics an exporter
    the site's Prometheus scrapes defines, and namespaces sitebox makes."""
    assert board["uid"].startswith("sitebox-") and len(board["uid"]) <= 40
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique in a dashboard"
    jobs = {e.job for e in scrape.EXPORTERS} | set(scrape.KEPT)
    for panel in board["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        if panel["type"] == "text":
            continue
        assert panel["datasource"]["uid"] == PROMETHEUS_DATASOURCE_UID, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == PROMETHEUS_DATASOURCE_UID, panel["title"]
            names = metric_names(target["expr"])
            assert names, f"{panel['title']}: {target['expr']} reads no metric"
            for metric in names:
                entry = known(metric)
                assert entry, f"{panel['title']}: {metric} is not a metric the site exports"
                assert METRICS[entry][0] in jobs, f"{metric}: no scrape job brings it"
            for namespace in re.findall(r'namespace="([^"]+)"', target["expr"]):
                assert namespace in (SITE_NAMESPACE, BATCH_NAMESPACE, SYSTEM_NAMESPACE)


def test_the_cvmfs_dashboard_says_the_hit_rate_is_not_exported() -> None:
    board = json.loads((CHARTS / "site-base" / "dashboards" / "cvmfs.json").read_text())
    notes = [p["options"]["content"] for p in board["panels"] if p["type"] == "text"]
    assert any("not available" in note and "cvmfs-csi 2.5.2" in note for note in notes)


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum(kube_pod_container_resource_requests{resource="cpu"} * on (namespace, pod) '
        'group_left () (kube_pod_status_phase{phase=~"Pending|Running"} == 1)) '
        "/ sum(rate(node_cpu_seconds_total[5m])) or vector(0)"
    )
    assert metric_names(expr) == {
        "kube_pod_container_resource_requests", "kube_pod_status_phase", "node_cpu_seconds_total",
    }  # fmt: skip


def test_site_base_makes_each_dashboard_a_configmap_for_the_sidecar(helm: Helm) -> None:
    manifests = helm.template("site-base", {"dashboards": {"enabled": True}})
    maps = {m["metadata"]["name"]: m for m in find(manifests, "ConfigMap")}
    for path in DASHBOARDS:
        found = maps[f"sitebox-dashboard-{path.stem}"]
        assert found["metadata"]["labels"][DASHBOARD_LABEL] == "1"
        assert found["metadata"]["annotations"]["grafana_folder"] == "sitebox"
        assert json.loads(found["data"][path.name]) == json.loads(path.read_text())
    off = helm.template("site-base")
    assert not [m for m in find(off, "ConfigMap") if DASHBOARD_LABEL in m["metadata"]["labels"]]
