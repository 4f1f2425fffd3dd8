"""The fleet runner and cluster naming, without a cluster."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sitebox.cluster.commands import _site_names
from sitebox.errors import SiteboxError
from sitebox.fleet import loader, runner
from sitebox.fleet.model import FleetSite
from sitebox.fleet.ops import Options, Say
from sitebox.fleet.report import HEALTHY, SiteReport
from sitebox.lifecycle.repair import Drift
from sitebox.validate.runner import FAILED, NOT_RUN, PASSED, Check
from tests.conftest import FIXTURES

pytestmark = pytest.mark.unit

MEMBERS = loader.load(FIXTURES / "fleet" / "fleet.yaml").sites  # alpha, beta, gamma


def failing_at(name: str, seen: list[str]) -> Any:
    lock = threading.Lock()

    def operation(member: FleetSite, options: Options, say: Say) -> SiteReport:
        with lock:
            seen.append(member.name)
        if member.name == name:
            raise SiteboxError(f"{name} is unschedulable", hint="add nodes")
        return SiteReport(member.name, revision=2, health=HEALTHY, checked_health=True)

    return operation


def test_one_failing_site_does_not_stop_the_others() -> None:
    seen: list[str] = []
    reports = runner.run(MEMBERS, failing_at("beta", seen), Options(), parallel=2)
    assert sorted(seen) == ["alpha", "beta", "gamma"]
    assert [r.site for r in reports] == ["alpha", "beta", "gamma"], "reports in fleet order"
    assert [r.whole for r in reports] == [True, False, True]
    assert reports[1].why == "beta is unschedulable" and reports[1].hint == "add nodes"


def test_a_rolling_run_stops_at_the_first_failing_site() -> None:
    seen: list[str] = []
    reports = runner.rolling(MEMBERS, failing_at("beta", seen), Options(), step=1)
    assert seen == ["alpha", "beta"], "gamma is never touched"
    assert reports[2].error == "not started: the rolling run stopped at beta"
    assert reports[0].whole and not reports[2].whole


def test_a_rolling_run_in_groups_finishes_the_group_then_stops() -> None:
    seen: list[str] = []
    reports = runner.rolling(MEMBERS, failing_at("alpha", seen), Options(), step=2)
    assert sorted(seen) == ["alpha", "beta"]
    assert reports[1].whole and "stopped at alpha" in (reports[2].error or "")


def validating(broken: str, seen: list[tuple[str, bool]]) -> Any:
    """A validation step that records where it ran and fails on ``broken``."""

    def step(member: FleetSite, report: SiteReport, say: Say) -> None:
        seen.append((member.name, threading.current_thread() is threading.main_thread()))
        if member.name == broken:
            raise SiteboxError("validation failed: pods ready [batch]: pod x: Unschedulable")

    return step


def test_validation_follows_in_the_main_thread_for_the_sites_that_did_not_fail() -> None:
    steps: list[tuple[str, bool]] = []
    reports = runner.run(MEMBERS, failing_at("beta", []), Options(), 3, validating("-", steps))
    assert steps == [("alpha", True), ("gamma", True)], "in fleet order, one by one"
    assert [r.whole for r in reports] == [True, False, True]


def test_a_failed_validation_fails_the_site_alone() -> None:
    reports = runner.run(MEMBERS, failing_at("-", []), Options(), 3, validating("beta", []))
    assert [r.whole for r in reports] == [True, False, True]
    assert reports[1].why.startswith("validation failed: pods ready [batch]")


def test_a_rolling_run_stops_at_a_failed_validation() -> None:
    seen: list[str] = []
    reports = runner.rolling(MEMBERS, failing_at("-", seen), Options(), 1, validating("beta", []))
    assert seen == ["alpha", "beta"], "gamma is never touched"
    assert reports[2].error == "not started: the rolling run stopped at beta"


def test_the_validation_shows_in_the_report() -> None:
    checks = [
        Check("pods ready [batch]", FAILED, "pod x: Unschedulable"),
        Check("releases deployed", PASSED),
        Check("hub api", NOT_RUN, "not run: sim"),
    ]
    report = SiteReport("a", checks=checks)
    assert report.validation == "1 failed"
    shown = report.as_dict()["validation"]
    assert shown["summary"] == "1 passed, 1 failed, 1 not run"
    assert shown["checks"][0] == {"check": "pods ready [batch]", "status": "failed",
                                  "detail": "pod x: Unschedulable"}  # fmt: skip
    assert SiteReport("a").as_dict()["validation"] is None


def test_unhealthy_or_drifted_sites_are_not_whole() -> None:
    assert not SiteReport("a", health="unhealthy", checked_health=True).whole
    drifted = SiteReport("a", health=HEALTHY, checked_health=True,
                         drift=[Drift("ConfigMap x/y", "  data.a: ...")])  # fmt: skip
    assert not drifted.whole and drifted.why == "1 difference(s) from the fleet file"
    assert SiteReport("a").whole, "plan and install do not count health"


def test_cluster_up_sites_names_each_cluster() -> None:
    assert _site_names("fleet", 3) == ["fleet-1", "fleet-2", "fleet-3"]
