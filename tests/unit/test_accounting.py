"""APEL accounting without a cluster: months, what a Job contributes, the summary message
against APEL's documented fields, the outgoing queue against dirq (what ssmsend reads
it with), and the certificate checks."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dirq.QueueSimple import QueueSimple

from sitebox.accounting import apel, prometheus, publish
from sitebox.accounting.records import Month, Summary, check_month, epoch, usage
from sitebox.errors import SiteboxError
from sitebox.tools.recipes import prometheus_release

pytestmark = pytest.mark.unit

NOV = Month(2026, 11)
# APEL 2.5.0, apel/db/records/normalised_summary.py (NormalisedSummaryRecord, the
# record of "APEL-summary-job-message: v0.3" in apel/db/__init__.py): _msg_fields in
# order, less InfrastructureDescription (new in 2.5.0; older servers reject it), and
# _mandatory_fields.
DOCUMENTED = [
    "Site", "Month", "Year", "GlobalUserName", "VO", "VOGroup", "VORole", "SubmitHost",
    "Infrastructure", "NodeCount", "Processors", "EarliestEndTime", "LatestEndTime",
    "WallDuration", "CpuDuration", "NormalisedWallDuration", "NormalisedCpuDuration",
    "NumberOfJobs",
]  # fmt: skip
MANDATORY = {"Site", "Month", "Year", "WallDuration", "CpuDuration", "NormalisedWallDuration",
             "NormalisedCpuDuration", "NumberOfJobs"}  # fmt: skip
INTEGERS = {"Month", "Year", "NodeCount", "Processors", "WallDuration", "CpuDuration",
            "NormalisedWallDuration", "NormalisedCpuDuration", "NumberOfJobs"}  # fmt: skip


def job(
    name: str = "j",
    start: str = "2026-11-10T10:00:00Z",
    end: str | None = "2026-11-10T11:00:00Z",
    cpu: str | None = "2",
    vo: str | None = "atlas",
    failed: bool = False,
    pods: int = 1,
    **spec: Any,
) -> dict[str, Any]:
    """A Job as the API returns it."""
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    conditions = []
    status: dict[str, Any] = {"startTime": start}
    if end:
        kind = "Failed" if failed else "Complete"
        conditions.append({"type": kind, "status": "True", "lastTransitionTime": end})
        status["failed" if failed else "succeeded"] = pods
        if not failed:
            status["completionTime"] = end
    status["conditions"] = conditions
    return {
        "metadata": {"name": name, "labels": {"sitebox.io/vo": vo} if vo else {}},
        "spec": {
            **spec,
            "template": {"spec": {"containers": [{"name": "job", "resources": resources}]}},
        },
        "status": status,
    }


def test_months_parse_and_wrap() -> None:
    assert Month.parse("2026-11") == NOV
    assert str(NOV.next) == "2026-12" and str(Month(2026, 12).next) == "2027-01"
    assert str(Month(2027, 1).previous) == "2026-12"
    assert NOV.end - NOV.start == 30 * 86400
    for bad in ("2026-13", "2026/11", "Nov 2026", "26-11", "2026-00"):
        with pytest.raises(SiteboxError, match="invalid month") as caught:
            Month.parse(bad)
        assert "YYYY-MM" in (caught.value.hint or "")


def test_a_future_month_is_refused_the_current_one_is_partial() -> None:
    now = epoch("2026-12-02T15:00:00Z")
    assert check_month(NOV, now) is True
    assert check_month(Month(2026, 12), now) is False
    with pytest.raises(SiteboxError, match="has not begun"):
        check_month(Month(2027, 1), now)


def test_what_a_job_contributes() -> None:
    used = usage(job())
    assert used is not None
    assert (used.wall, used.millicores, used.processors, used.vo) == (3600, 2000, 2, "atlas")
    # A failed Job has no completionTime: its Failed condition says when it ended.
    failed = usage(job(failed=True, end="2026-11-10T10:30:00Z"))
    assert failed is not None and failed.failed and failed.wall == 1800
    assert usage(job(end=None)) is None  # still running
    assert usage(job(pods=0)) is None  # failed before any pod ran
    fractional = usage(job(cpu="100m"))
    assert fractional is not None and fractional.processors == 1 and fractional.millicores == 100
    unrequested = usage(job(cpu=None))
    assert unrequested is not None and not unrequested.requested and unrequested.processors == 1
    parallel = usage(job(parallelism=4))
    assert parallel is not None and parallel.parallel and parallel.millicores == 8000


def test_the_vo_label_on_the_pod_template_counts_too() -> None:
    labelled = job(vo=None)
    labelled["spec"]["template"]["metadata"] = {"labels": {"experiment": "cms"}}
    used = usage(labelled, "experiment")
    assert used is not None and used.vo == "cms"


def test_summary_by_vo_and_cores_with_unlabelled_jobs_under_the_default_vo() -> None:
    summary = Summary(NOV, "ops")
    jobs = [
        job("a"), job("b", cpu="1"), job("c", vo=None),
        job("d", end="2026-12-01T00:00:00Z"),  # the first second of December
        job("e", start="2026-10-31T23:00:00Z", end="2026-11-01T00:00:00Z"),  # counts in Nov
    ]  # fmt: skip
    assert summary.add_jobs(jobs, "sitebox.io/vo") == 5
    assert summary.jobs == 4 and summary.unlabelled == 1
    by = {(k.vo, k.processors): t for k, t in summary.totals.items()}
    assert set(by) == {("atlas", 2), ("atlas", 1), ("ops", 2)}
    assert by[("atlas", 2)].jobs == 2 and by[("atlas", 2)].wall == 7200
    assert by[("atlas", 2)].earliest_end == epoch("2026-11-01T00:00:00Z")
    assert summary.all.cpu_seconds == 3600 * 2 + 3600 * 1 + 3600 * 2 + 3600 * 2
    again = Summary.from_dict(summary.to_dict(), "ops")
    assert again.to_dict() == summary.to_dict()


def test_apel_message_has_the_documented_header_fields_and_separators() -> None:
    summary = Summary(NOV, "ops")
    summary.add_jobs([job("a"), job("b", vo=None, cpu="1")], "sitebox.io/vo")
    origin = apel.Origin("UNI-LCG2", "uni/batch", 10.0)
    text = apel.message(summary, origin)
    lines = text.splitlines()
    assert lines[0] == "APEL-summary-job-message: v0.3"
    assert lines[-1] == "%%" and text.endswith("%%\n")
    header, records = apel.parse(text)
    assert header == apel.HEADER and len(records) == 2
    for record in records:
        assert list(record) == [f for f in DOCUMENTED if f in record]  # APEL's order
        assert set(record) >= MANDATORY
        assert all(record[f].isdigit() for f in INTEGERS & set(record))
        assert NOV.start <= int(record["EarliestEndTime"]) <= int(record["LatestEndTime"])
        assert int(record["LatestEndTime"]) < NOV.end
        assert (record["Site"], record["Month"], record["Year"]) == ("UNI-LCG2", "11", "2026")
    atlas = next(r for r in records if r["VO"] == "atlas")
    assert (atlas["WallDuration"], atlas["CpuDuration"], atlas["Processors"]) == (
        "3600", "7200", "2")  # fmt: skip
    assert atlas["NormalisedWallDuration"] == "36000"  # wall x the per-core benchmark
    assert atlas["NormalisedCpuDuration"] == "72000"
    assert next(r for r in records if r["VO"] == "ops")["NumberOfJobs"] == "1"
    assert set(apel.FIELDS) == set(DOCUMENTED) and set(apel.MANDATORY) == MANDATORY


def _message(site: str = "UNI-LCG2", month: Month = NOV, jobs: int = 1) -> str:
    summary = Summary(month, "ops")
    start = datetime.datetime.fromtimestamp(month.start + 3600, datetime.UTC)
    end = start + datetime.timedelta(hours=1)
    summary.add_jobs(
        [job(str(i), start=f"{start:%Y-%m-%dT%H:%M:%SZ}", end=f"{end:%Y-%m-%dT%H:%M:%SZ}")
         for i in range(jobs)], "sitebox.io/vo")  # fmt: skip
    return apel.message(summary, apel.Origin(site, f"{site}/batch", 10.0))


def _drain(queue: Path) -> list[str]:
    """What ssmsend sends: its loop over a dirq QueueSimple (ssm/ssm2.py, send_all)."""
    dirq = QueueSimple(str(queue))
    sent = []
    for name in dirq:
        if not dirq.lock(name):
            continue
        sent.append(dirq.get(name).decode())
        dirq.remove(name)
    return sent


def test_the_queue_is_one_ssmsend_reads(tmp_path: Path) -> None:
    queue = tmp_path / "outgoing"
    queued = publish.enqueue(queue, _message())
    assert queued.element and not queued.unchanged
    assert QueueSimple(str(queue)).count() == 1
    assert not list(queue.rglob("*.tmp"))
    assert _drain(queue) == [_message()]


def test_republishing_a_month_leaves_one_message(tmp_path: Path) -> None:
    queue = tmp_path / "outgoing"
    first = publish.enqueue(queue, _message(jobs=1))
    same = publish.enqueue(queue, _message(jobs=1))
    assert same.unchanged and same.element == first.element
    more = publish.enqueue(queue, _message(jobs=3))  # more jobs since: replaces it
    assert more.replaced == (first.element,)
    publish.enqueue(queue, _message(month=Month(2026, 10)))  # another month stays apart
    publish.enqueue(queue, _message(site="OTHER-SITE"))  # so does another site
    sent = _drain(queue)
    assert len(sent) == 3 and _message(jobs=3) in sent


def test_a_message_ssmsend_is_sending_is_left_alone(tmp_path: Path) -> None:
    queue = tmp_path / "outgoing"
    first = publish.enqueue(queue, _message(jobs=1))
    assert first.element
    os.link(queue / first.element, queue / f"{first.element}.lck")  # ssmsend's lock
    second = publish.enqueue(queue, _message(jobs=2))
    assert second.replaced == () and second.element != first.element
    assert QueueSimple(str(queue)).count() == 2


def test_a_month_without_jobs_queues_nothing(tmp_path: Path) -> None:
    empty = apel.message(Summary(NOV, "ops"), apel.Origin("UNI-LCG2", "uni/batch", 10.0))
    assert empty == "APEL-summary-job-message: v0.3\n"
    assert publish.enqueue(tmp_path / "q", empty).element is None


def _pair(
    folder: Path, days: int = 365, encrypted: bool = False, other_key: bool = False
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apel.uni.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    written = ec.generate_private_key(ec.SECP256R1()) if other_key else key
    crypt = (
        serialization.BestAvailableEncryption(b"secret")
        if encrypted
        else serialization.NoEncryption()
    )
    (folder / "hostcert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "hostkey.pem").write_bytes(
        written.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, crypt)
    )
    return folder / "hostcert.pem", folder / "hostkey.pem"


def test_a_good_certificate_and_key(tmp_path: Path) -> None:
    cert, key = _pair(tmp_path)
    assert publish.check_certificate(cert, key) == "CN=apel.uni.example"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "certificate .*missing.pem: not found"),
        ("folder", "certificate .*: is a folder"),
        ("not-pem", "certificate .*hostcert.pem is not a PEM certificate"),
        ("encrypted", "key .*hostkey.pem is encrypted"),
        ("mismatch", "does not belong to certificate"),
        ("expired", "is not valid now"),
    ],
)
def test_bad_certificates_name_the_file_and_a_fix(tmp_path: Path, case: str, message: str) -> None:
    cert, key = _pair(
        tmp_path, days=-1 if case == "expired" else 365, encrypted=case == "encrypted",
        other_key=case == "mismatch",
    )  # fmt: skip
    if case == "missing":
        cert = tmp_path / "missing.pem"
    elif case == "folder":
        cert = tmp_path
    elif case == "not-pem":
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(SiteboxError, match=message) as caught:
        publish.check_certificate(cert, key)
    assert caught.value.hint


def test_in_a_pod_without_a_kubeconfig_the_service_account_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the chart's CronJobs rely on: `sitebox accounting` in a pod, no kubeconfig."""
    from kubernetes.config import incluster_config

    from sitebox.kube import Kube

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("the-pods-token")
    cert, _ = _pair(tmp_path)
    ca.write_bytes(cert.read_bytes())
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    settings = Kube().api.configuration
    assert settings.host == "https://10.96.0.1:443"
    assert settings.api_key["BearerToken"].lower() == "bearer the-pods-token"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")  # outside a pod: the usual error
    with pytest.raises(SiteboxError, match="cannot load kubeconfig"):
        Kube()


def _series(value: float, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [0, str(value)]}


def test_pods_from_prometheus_join_by_uid_with_the_jobs_vo_first() -> None:
    """What the queries return, joined: init containers count as the scheduler counts
    them, the Job's VO label wins over the pod's, a pod that never started is left out."""
    vo = prometheus.label_name("sitebox.io/vo")
    assert vo == "label_sitebox_io_vo"
    results: dict[str, list[dict[str, Any]]] = {
        "end": [_series(1.7645e9, uid="a", pod="a-1"), _series(1.7645e9, uid="b", pod="b-1"),
                _series(1.7645e9, uid="never", pod="c-1")],
        "start": [_series(1.7645e9 - 600, uid="a"), _series(1.7645e9 - 60, uid="b")],
        "cpu": [_series(0.5, uid="a")],
        "init_cpu": [_series(2, uid="a")],
        "failed": [_series(1, uid="b")],
        "vo": [_series(1, uid="a", **{vo: "cms"}), _series(1, uid="b", **{vo: "cms"})],
        "owner": [_series(1, uid="a", owner_name="job-a")],
        "job_vo": [_series(1, job_name="job-a", **{vo: "atlas"})],
    }  # fmt: skip
    a, b = prometheus.usages(results, "sitebox.io/vo")
    assert (a.name, a.vo, a.wall, a.millicores, a.failed, a.requested) == (
        "a-1", "atlas", 600, 2000, False, True)  # fmt: skip
    assert (b.name, b.vo, b.wall, b.millicores, b.failed, b.requested) == (
        "b-1", "cms", 60, 1000, True, False)  # fmt: skip


def test_the_query_window_reaches_past_the_months_end() -> None:
    november = Month(2026, 11)
    later = prometheus.Window.of(november, november.end + 86400 * 3)
    assert later.at == november.end + prometheus.GRACE
    assert later.at - later.seconds == november.start
    running = prometheus.Window.of(november, november.start + 100.5)
    assert (running.at, running.seconds) == (november.start + 100, 100)


@pytest.mark.parametrize(("module", "release"), [("v0.314.0", "3.14.0"), ("v0.400.2", "4.0.2")])
def test_prometheus_module_versions_name_their_release(module: str, release: str) -> None:
    assert prometheus_release(module) == release
