"""Run the validation suite in-process and collect one row per check.

pytest does the collecting, fixtures and reporting of outcomes; this module turns
each test's outcome into a ``Check``: passed, failed (with the failure's message,
not a traceback), or not run (a skip, with its reason). pytest's own output is
captured: the user sees sitebox's table, and pytest's text only when pytest itself
could not run the suite.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sitebox.errors import SiteboxError

if TYPE_CHECKING:  # pytest itself is imported when the suite runs: every command imports this
    import pytest

SUITE = Path(__file__).resolve().parent / "suite"
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASSED, FAILED or NOT_RUN
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def check_name(nodeid: str) -> str:
    """``test_pods.py::test_pods_ready[batch]`` -> ``pods ready [batch]``."""
    function = nodeid.rsplit("::", 1)[-1]
    base, _, param = function.partition("[")
    name = base.removeprefix("test_").replace("_", " ")
    return f"{name} [{param}" if param else name


def not_run(reason: str) -> str:
    """A skip's reason as the user reads it: "not run: <reason>", unless it says so itself."""
    reason = reason.removeprefix("Skipped: ")
    return reason if reason.startswith("not run") else f"not run: {reason}"


def failure(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The failure's message: what a check passed to ``pytest.fail``, or the last line of
    an exception, never a traceback."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)
    return message.removeprefix("Failed: ")


class Collector:
    """A pytest plugin: one ``Check`` per test, in the order they ran. A test reports up
    to three times (setup, call, teardown); the first that did not pass decides."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}
        self.interrupted = False

    def _record(self, nodeid: str, check: Check) -> None:
        previous = self.checks.get(nodeid)
        if previous is None or previous.status == PASSED:
            self.checks[nodeid] = check

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = check_name(report.nodeid)
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            self._record(report.nodeid, Check(name, NOT_RUN, not_run(reason)))
        elif report.failed:
            self._record(report.nodeid, Check(name, FAILED, failure(report)))
        elif report.when == "call":
            self._record(report.nodeid, Check(name, PASSED))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._record(report.nodeid, Check(report.nodeid, FAILED, failure(report)))

    def pytest_keyboard_interrupt(self) -> None:
        # pytest reports a collection error with the same exit code as Ctrl-C.
        self.interrupted = True


def run(suite: Path, options: list[str]) -> list[Check]:
    """Run the tests under ``suite`` with extra pytest ``options``; one ``Check`` each."""
    collector = Collector()
    args = [
        str(suite),
        # The suite's configuration is these arguments, whatever ini file lies above it.
        "-c", os.devnull, "--rootdir", str(suite),
        "-p", "no:cacheprovider", "--disable-plugin-autoload",
        # It collects garbage twice per session, a sixth of the suite's time, to report
        # exceptions raised in destructors: nothing the checks make.
        "-p", "no:unraisableexception",
        # Unique module names per file, and nothing added to sys.path.
        "--import-mode=importlib",
        # A module that cannot be imported is one failed check, not the end of the run.
        "--continue-on-collection-errors",
        "-q", "--no-header",
        *options,
    ]  # fmt: skip
    import pytest

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = pytest.main(args, plugins=[collector])
    if collector.interrupted:
        raise KeyboardInterrupt
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not collector.checks:
        raise SiteboxError(
            f"the validation suite could not run (pytest exit {int(code)}):\n"
            + _tail(output.getvalue()),
            hint="this is a bug in sitebox or its installation; report it with this output",
        )
    return list(collector.checks.values())


def warm_up() -> None:
    """Import pytest in the background: called once an install is sure to apply, so the
    import overlaps the apply (mostly Helm waiting) and the validation starts at once."""
    threading.Thread(target=importlib.import_module, args=("pytest",), daemon=True).start()


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_site(kubeconfig: Path | None, context: str | None) -> list[Check]:
    """The suite shipped with sitebox, against one cluster."""
    options: list[str] = []
    if kubeconfig:
        options += ["--kubeconfig", str(kubeconfig)]
    if context:
        options += ["--context", context]
    return run(SUITE, options)
