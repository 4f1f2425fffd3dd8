"""`sitebox accounting` reading the site's Prometheus, as the monitoring component runs it:
the pinned kube-state-metrics watches the sim cluster, the pinned Prometheus scrapes it
with sitebox's own scrape job, and the report of the load test's pods must equal the
pods' own numbers, before and after the Jobs are deleted, read straight from Prometheus
and `--source auto` falling back to the Jobs where no Prometheus Service exists."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import yaml

from sitebox import procs
from sitebox.accounting.records import Month
from sitebox.components import scrape
from sitebox.kube import Kube, wait_for
from sitebox.tools.store import binary
from tests.conftest import SimCluster, run_sitebox
from tests.live.test_accounting import install_queue, load

pytestmark = pytest.mark.live

NAMESPACE = "acct-prom"
JOBS = 90
VO = "sitebox.io/vo"
SCRAPE = "1s"  # the site scrapes every 30 s; here the pods of a second must be seen


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as answer:  # noqa: S310
        result: list[dict[str, Any]] = json.loads(answer.read())["data"]["result"]
    return result


def _count(url: str, promql: str) -> int:
    result = _query(url, f"count({promql})")
    return int(float(result[0]["value"][1])) if result else 0


@pytest.fixture(scope="module")
def prometheus(sim_cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """kube-state-metrics on the sim cluster, allowlisting the VO label as the monitoring
    component does, and a Prometheus scraping it with sitebox's kube-state-metrics job
    (its discovery replaced by the address: there is no pod to discover); its URL."""
    folder = tmp_path_factory.mktemp("prometheus")
    ksm_port, telemetry_port, prom_port = procs.free_ports(3)
    ksm = procs.spawn(
        "kube-state-metrics",
        [
            str(binary("kube-state-metrics")), "--kubeconfig", str(sim_cluster.kubeconfig),
            "--host", "127.0.0.1", "--port", str(ksm_port),
            "--telemetry-host", "127.0.0.1", "--telemetry-port", str(telemetry_port),
            "--resources", "pods,jobs", "--namespaces", NAMESPACE,
            "--metric-labels-allowlist", f"pods=[{VO}],jobs=[{VO}]",
        ],
        folder / "kube-state-metrics.log",
    )  # fmt: skip
    (exporter,) = [e for e in scrape.EXPORTERS if e.job == "kube-state-metrics"]
    job = {k: v for k, v in scrape.job(exporter).items() if not k.endswith("_configs")}
    job |= {"job_name": exporter.job, "static_configs": [{"targets": [f"127.0.0.1:{ksm_port}"]}]}
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": SCRAPE},
                                      "scrape_configs": [job]}))  # fmt: skip
    server = procs.spawn(
        "prometheus",
        [
            str(binary("prometheus")), f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        folder / "prometheus.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{prom_port}"
    try:
        wait_for("kube-state-metrics scraped", lambda: _up(url), 60, interval=1)
        yield url
    finally:
        procs.stop(server)
        procs.stop(ksm)


def _up(url: str) -> bool:
    try:
        return bool(_query(url, 'up{job="kube-state-metrics"} == 1'))
    except OSError:
        return False


@pytest.fixture(scope="module")
def loaded(
    prometheus: str, sim_cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory
) -> str:
    install_queue(sim_cluster, NAMESPACE)
    month = load(sim_cluster, NAMESPACE, tmp_path_factory.mktemp("acct-prom"), JOBS)
    pods = len(Kube(sim_cluster.kubeconfig).list_objects("v1", "Pod", NAMESPACE))
    assert pods == JOBS + 6
    ns = f'namespace="{NAMESPACE}"'
    wait_for(
        "every pod's end and VO label scraped",
        lambda: (
            _count(prometheus, f"kube_pod_completion_time{{{ns}}}") == pods
            and _count(prometheus, f'kube_pod_labels{{{ns},label_sitebox_io_vo!=""}}')
            == pods - pods // 3
        ),
        60,
        interval=1,
    )
    return month


def _seconds(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def _truth(kube: Kube, month: str) -> dict[str, Any]:
    """The month's numbers from the Pod objects, apart from sitebox's code: a pod is a
    job, from its start to its containers' last end, with its containers' CPU."""
    period = Month.parse(month)
    jobs, wall, millicore_seconds, by_vo = 0, 0, 0, Counter[str]()
    for pod in kube.list_objects("v1", "Pod", NAMESPACE):
        status = pod["status"]
        end = max(_seconds(c["state"]["terminated"]["finishedAt"])
                  for c in status["containerStatuses"])  # fmt: skip
        if not period.start <= end < period.end:
            continue
        seconds = end - _seconds(status["startTime"])
        millicores = 0
        for container in pod["spec"]["containers"]:
            cpu = container["resources"]["requests"]["cpu"]
            millicores += int(cpu[:-1]) if cpu.endswith("m") else int(cpu) * 1000
        jobs += 1
        wall += seconds
        millicore_seconds += seconds * millicores
        by_vo[(pod["metadata"]["labels"] or {}).get(VO, "ops")] += 1
    return {
        "jobs": jobs, "wall_seconds": wall, "cpu_seconds": round(millicore_seconds / 1000),
        "by_vo": dict(by_vo),
    }  # fmt: skip


def _report(sim_cluster: SimCluster, month: str, *source: str) -> dict[str, Any]:
    result = run_sitebox(
        "accounting", "report", "--month", month, "-n", NAMESPACE, "--default-vo", "ops",
        "--kubeconfig", str(sim_cluster.kubeconfig), *source, "-o", "json", env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    report: dict[str, Any] = json.loads(result.out)
    return report


def _numbers(report: dict[str, Any]) -> dict[str, Any]:
    by_vo = Counter[str]()
    for record in report["records"]:
        by_vo[record["vo"]] += record["jobs"]
    numbers = {k: report[k] for k in ("jobs", "wall_seconds", "cpu_seconds")}
    return {**numbers, "by_vo": dict(by_vo)}


@pytest.fixture(scope="module")
def truth(loaded: str, sim_cluster: SimCluster) -> dict[str, Any]:
    return _truth(Kube(sim_cluster.kubeconfig), loaded)


def test_the_report_from_prometheus_equals_the_pods_own_numbers(
    prometheus: str, loaded: str, truth: dict[str, Any], sim_cluster: SimCluster
) -> None:
    assert truth["jobs"] == JOBS + 6 and truth["wall_seconds"] > 0
    report = _report(sim_cluster, loaded, "--source", "prometheus", "--prometheus-url", prometheus)
    assert report["source"] == f"prometheus {prometheus}"
    assert _numbers(report) == truth
    assert report["unlabelled_jobs"] == truth["by_vo"]["ops"] == (JOBS + 6) // 3
    assert {r["processors"] for r in report["records"]} == {1, 2}
    assert not any("ledger" in note for note in report["notes"])


def test_auto_reads_the_jobs_where_the_site_has_no_prometheus_service(
    loaded: str, sim_cluster: SimCluster
) -> None:
    """No monitoring component's Service here: auto falls back to the Jobs. (Reading the
    Service through the API server's proxy is not tested: the proxy only forwards to an
    address that a Pod of the cluster holds, which no process here can.)"""
    report = _report(sim_cluster, loaded)
    assert report["source"] == "jobs"
    assert report["jobs"] == JOBS + 6


def test_prometheus_keeps_the_month_after_the_jobs_are_deleted(
    prometheus: str, loaded: str, truth: dict[str, Any], sim_cluster: SimCluster
) -> None:
    """What the ledger does for the Jobs' source, Prometheus does by keeping the series."""
    Kube(sim_cluster.kubeconfig).delete_jobs(NAMESPACE, "sitebox.io/load-test")
    wait_for(
        "kube-state-metrics to drop the deleted pods",
        lambda: _count(prometheus, f'kube_pod_info{{namespace="{NAMESPACE}"}}') == 0,
        120,
        interval=1,
    )
    report = _report(sim_cluster, loaded, "--source", "prometheus", "--prometheus-url", prometheus)
    assert _numbers(report) == truth


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (("--source", "prometheus"), "no Prometheus here: the cluster has no service"),
        (("--source", "jobs", "--prometheus-url", "http://127.0.0.1:9"), "--source jobs"),
    ],
)
def test_a_missing_prometheus_is_exit_1_with_a_fix(
    sim_cluster: SimCluster, source: tuple[str, ...], message: str
) -> None:
    result = run_sitebox(
        "accounting", "report", "--month", "current", "-n", NAMESPACE, "--default-vo", "ops",
        "--kubeconfig", str(sim_cluster.kubeconfig), *source, env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 1, result.err
    assert message in result.err
    assert "fix:" in result.err and "Traceback" not in result.err


def test_an_unreachable_prometheus_is_exit_1_with_a_fix(sim_cluster: SimCluster) -> None:
    url = f"http://127.0.0.1:{procs.free_ports(1)[0]}"  # nothing listens there
    result = run_sitebox(
        "accounting", "report", "--month", "current", "-n", NAMESPACE, "--default-vo", "ops",
        "--prometheus-url", url, "--kubeconfig", str(sim_cluster.kubeconfig), env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 1, result.err
    assert f"cannot reach Prometheus at {url}" in result.err
    assert "fix:" in result.err and "Traceback" not in result.err
