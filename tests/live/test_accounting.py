"""`sitebox accounting` on a live sim cluster: the batch load test's Jobs (some labelled
with VOs, some not), accounted from the API and checked against the Jobs' own times;
the ledger outliving the Jobs; publishing twice; bad input."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from dirq.QueueSimple import QueueSimple

from sitebox.accounting import apel, ledger
from sitebox.accounting.records import Month
from sitebox.helm import Helm
from sitebox.kube import Kube
from tests.conftest import ROOT, SimCluster, run_sitebox
from tests.unit.test_accounting import _pair

pytestmark = pytest.mark.live

NAMESPACE = "acct"
JOBS = 240  # about a minute of the load test on the session cluster
QUOTA = {
    "requests.cpu": "100", "limits.cpu": "100", "requests.memory": "400Gi",
    "limits.memory": "400Gi", "pods": "2000", "count/jobs.batch": "2000",
}  # fmt: skip


def install_queue(sim_cluster: SimCluster, namespace: str) -> Path:
    """site-base and a queue-mode batch release (named as its namespace); the admin's
    kubeconfig."""
    helm = Helm(sim_cluster.kubeconfig)
    helm.install_or_upgrade(
        "site", ROOT / "charts/site-base", {"site": {"name": "test-site"}}, "sitebox",
        timeout="2m",
    )  # fmt: skip
    values = {"cvmfs": {"enabled": False}, "quota": QUOTA}
    helm.install_or_upgrade(namespace, ROOT / "charts/batch", values, namespace, timeout="2m")
    return sim_cluster.kubeconfig


def load(sim_cluster: SimCluster, namespace: str, folder: Path, jobs: int) -> str:
    """The load test's Jobs, kept: a third atlas, a third cms, a third without a VO label,
    and a few of 2 CPUs each (another APEL record: Processors 1 is shared, cores differ);
    the month they ended in."""
    scoped = folder / "scoped.kubeconfig"
    made = run_sitebox(
        "batch", "kubeconfig", "-n", namespace, "--release", namespace, "--duration", "1h",
        "-f", str(scoped), "--kubeconfig", str(sim_cluster.kubeconfig), env=sim_cluster.env,
    )  # fmt: skip
    assert made.code == 0, made.err
    for count, cpu in ((jobs, "100m"), (6, "2")):
        result = run_sitebox(
            "batch", "load-test", "--jobs", str(count), "--workers", "8", "--cpu", cpu,
            "--keep", "--vo", "atlas", "--vo", "cms", "--vo", "-",
            "--kubeconfig", str(scoped), "-o", "json", env=sim_cluster.env,
        )  # fmt: skip
        assert result.code == 0, result.err
        assert json.loads(result.out)["completed"] == count
    return str(Month.of(time.time()))


@pytest.fixture(scope="module")
def admin(sim_cluster: SimCluster) -> Path:
    return install_queue(sim_cluster, NAMESPACE)


@pytest.fixture(scope="module")
def loaded(admin: Path, sim_cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    return load(sim_cluster, NAMESPACE, tmp_path_factory.mktemp("acct"), JOBS)


def _seconds(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def _truth(kube: Kube, month: str) -> dict[str, Any]:
    """The month's numbers computed here from the Job objects, apart from sitebox's code."""
    period = Month.parse(month)
    jobs, wall, millicore_seconds, by_vo = 0, 0, 0, Counter[str]()
    for job in kube.list_objects("batch/v1", "Job", NAMESPACE):
        status = job["status"]
        end = _seconds(status["completionTime"])
        if not period.start <= end < period.end:
            continue
        seconds = end - _seconds(status["startTime"])
        cpu = job["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        millicores = int(cpu[:-1]) if cpu.endswith("m") else int(cpu) * 1000
        jobs += 1
        wall += seconds
        millicore_seconds += seconds * millicores
        by_vo[job["metadata"]["labels"].get("sitebox.io/vo", "ops")] += 1
    return {
        "jobs": jobs, "wall_seconds": wall, "cpu_seconds": round(millicore_seconds / 1000),
        "core_hours": round(millicore_seconds / 1000 / 3600, 4), "by_vo": dict(by_vo),
    }  # fmt: skip


def _report(admin: Path, sim_cluster: SimCluster, month: str, *extra: str) -> Any:
    result = run_sitebox(
        "accounting", "report", "--month", month, "-n", NAMESPACE, "--default-vo", "ops",
        "--kubeconfig", str(admin), *extra, env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 0, result.err
    return result.out


def test_report_equals_the_jobs_own_numbers(
    admin: Path, loaded: str, sim_cluster: SimCluster
) -> None:
    truth = _truth(Kube(admin), loaded)
    assert truth["jobs"] == JOBS + 6
    report = json.loads(_report(admin, sim_cluster, loaded, "-o", "json"))
    for key in ("jobs", "wall_seconds", "cpu_seconds", "core_hours"):
        assert report[key] == truth[key], key
    assert report["complete"] is False  # the current month: its records so far
    assert report["source"] == "jobs"  # auto: this cluster runs no monitoring component
    by_vo = Counter[str]()
    for record in report["records"]:
        by_vo[record["vo"]] += record["jobs"]
    assert dict(by_vo) == truth["by_vo"]
    assert report["unlabelled_jobs"] == truth["by_vo"]["ops"] == (JOBS + 6) // 3
    assert {r["processors"] for r in report["records"]} == {1, 2}
    assert any("default VO ops" in note for note in report["notes"])


def test_apel_message_carries_the_same_numbers(
    admin: Path, loaded: str, sim_cluster: SimCluster
) -> None:
    truth = _truth(Kube(admin), loaded)
    text = _report(admin, sim_cluster, loaded, "-o", "apel", "--benchmark", "10",
                   "--site", "TEST-SITE")  # fmt: skip
    header, records = apel.parse(text)
    assert header == "APEL-summary-job-message: v0.3"
    assert sum(int(r["NumberOfJobs"]) for r in records) == truth["jobs"]
    assert sum(int(r["WallDuration"]) for r in records) == truth["wall_seconds"]
    assert abs(sum(int(r["CpuDuration"]) for r in records) - truth["cpu_seconds"]) <= len(records)
    assert {r["Site"] for r in records} == {"TEST-SITE"}
    assert {r["SubmitHost"] for r in records} == {f"TEST-SITE/{NAMESPACE}"}


def test_publishing_twice_leaves_one_message(
    admin: Path, loaded: str, sim_cluster: SimCluster, tmp_path: Path
) -> None:
    cert, key = _pair(tmp_path)
    outgoing = tmp_path / "outgoing"
    args = ("accounting", "publish", "--month", loaded, "-n", NAMESPACE, "--default-vo", "ops",
            "--benchmark", "10", "--outgoing", str(outgoing), "--cert", str(cert),
            "--key", str(key), "--kubeconfig", str(admin))  # fmt: skip
    first = run_sitebox(*args, env=sim_cluster.env)
    assert first.code == 0, first.err
    second = run_sitebox(*args, env=sim_cluster.env)
    assert second.code == 0, second.err
    assert "unchanged" in second.err
    assert first.out == second.out
    assert QueueSimple(str(outgoing)).count() == 1
    queued = Path(first.out.strip()).read_text()
    assert queued == _report(admin, sim_cluster, loaded, "-o", "apel", "--benchmark", "10")


def test_the_ledger_keeps_the_jobs_after_they_are_deleted(
    admin: Path, loaded: str, sim_cluster: SimCluster
) -> None:
    kube = Kube(admin)
    before = json.loads(_report(admin, sim_cluster, loaded, "-o", "json"))
    # Fold every Job (as a collect run SETTLE seconds from now would), then delete them
    # as their TTL or the workload manager would.
    folded = ledger.collect(kube, NAMESPACE, "sitebox.io/vo", "ops", time.time() + 300)
    assert folded.read >= JOBS + 6
    kube.delete_jobs(NAMESPACE, "sitebox.io/load-test")
    assert not kube.list_objects("batch/v1", "Job", NAMESPACE)
    after = json.loads(_report(admin, sim_cluster, loaded, "-o", "json"))
    for key in ("jobs", "wall_seconds", "cpu_seconds", "records", "unlabelled_jobs"):
        assert after[key] == before[key], key
    assert after["jobs_read"] == 0 and after["ledger_watermark"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "--month", "2099-01"), "month 2099-01 has not begun"),
        (("report", "--month", "2026-13"), "invalid month '2026-13'"),
        (("publish", "--month", "previous", "--benchmark", "10", "--cert",
          "/nonexistent/hostcert.pem", "--key", "/nonexistent/hostkey.pem"),
         "certificate /nonexistent/hostcert.pem: not found"),
        (("report", "--month", "previous", "-o", "apel"), "need the nodes' benchmark"),
    ],
)  # fmt: skip
def test_bad_input_is_exit_1_with_a_fix(
    admin: Path, sim_cluster: SimCluster, args: tuple[str, ...], message: str
) -> None:
    result = run_sitebox(
        "accounting", *args, "-n", NAMESPACE, "--default-vo", "ops", "--kubeconfig", str(admin),
        env=sim_cluster.env,
    )  # fmt: skip
    assert result.code == 1, result.err
    assert message in result.err
    assert "fix:" in result.err and "Traceback" not in result.err
