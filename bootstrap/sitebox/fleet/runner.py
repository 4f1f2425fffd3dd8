"""Run one operation across sites: a bounded number at once, one live line per site.

A site that fails is recorded and the others go on: nothing is stopped or rolled
back on its account. A rolling run goes ``step`` sites at a time, in fleet order,
and stops before the next group once one site has failed (its validation included).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from rich.live import Live
from rich.table import Table

from sitebox import console
from sitebox.errors import SiteboxError
from sitebox.fleet.model import FleetSite
from sitebox.fleet.ops import Operation, Options, Say, Step
from sitebox.fleet.report import SiteReport


class Board:
    """The live lines, one per site; threads write, rich's refresh thread reads."""

    def __init__(self, names: list[str]):
        self._lines = dict.fromkeys(names, "waiting")
        self._lock = threading.Lock()

    def say(self, name: str) -> Say:
        def update(text: str) -> None:
            with self._lock:
                self._lines[name] = text

        return update

    def __rich__(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        with self._lock:
            for name, text in self._lines.items():
                grid.add_row(name, text)
        return grid


def _guarded(operation: Operation, member: FleetSite, options: Options, say: Say) -> SiteReport:
    try:
        report = operation(member, options, say)
    except SiteboxError as exc:
        report = SiteReport(member.name, error=exc.message, hint=exc.hint)
    say("done" if report.whole else f"not whole: {report.why}")
    return report


def run(
    members: list[FleetSite], operation: Operation, options: Options, parallel: int,
    then: Step | None = None,
) -> list[SiteReport]:  # fmt: skip
    """Every site, at most ``parallel`` at once, then ``then`` on each site the operation
    did not fail, one after another; the reports in fleet order."""
    reports = _at_once(members, operation, options, parallel)
    if then is not None:
        # ``then`` runs the validation suite: pytest in this process. pytest swaps
        # sys.stdout/stderr, dup2()s descriptors 1 and 2 for its capture and sets
        # process-wide hooks (warnings, threading.excepthook): not safe beside other
        # threads, even one suite at a time (the other sites' work, the live board's
        # refresh). So: after the threads, one site after another in the main thread, as
        # `sitebox validate` runs it. Simpler than a subprocess per site and its output;
        # the cost is the suites' seconds added up.
        for member, report in zip(members, reports, strict=True):
            if report.error is None:
                _step(then, member, report)
    return reports


def _at_once(
    members: list[FleetSite], operation: Operation, options: Options, parallel: int
) -> list[SiteReport]:
    board = Board([m.name for m in members])
    done: dict[str, SiteReport] = {}
    with (
        Live(board, console=console.err, transient=True, refresh_per_second=4),
        ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="fleet") as pool,
    ):
        futures = {
            pool.submit(_guarded, operation, m, options, board.say(m.name)): m for m in members
        }
        for future in as_completed(futures):
            report = future.result()
            done[report.site] = report
            outcome = "done" if report.whole else f"not whole: {report.why}"
            console.err.print(f"{report.site}: {outcome}", markup=False, soft_wrap=True)
    return [done[m.name] for m in members]


def _step(then: Step, member: FleetSite, report: SiteReport) -> None:
    def say(text: str) -> None:
        console.err.print(f"{member.name}: {text}", markup=False, soft_wrap=True)

    try:
        then(member, report, say)
    except SiteboxError as exc:
        report.error, report.hint = exc.message, exc.hint
        say(f"not whole: {report.why}")


def rolling(
    members: list[FleetSite], operation: Operation, options: Options, step: int,
    then: Step | None = None,
) -> list[SiteReport]:  # fmt: skip
    """``step`` sites at a time, each group's ``then`` before the next group; after a
    group with a failure, the rest are not touched."""
    reports: list[SiteReport] = []
    for start in range(0, len(members), step):
        group = members[start : start + step]
        reports += run(group, operation, options, step, then)
        failed = [r.site for r in reports if r.error is not None]
        if failed:
            stopped = f"not started: the rolling run stopped at {', '.join(failed)}"
            reports += [SiteReport(m.name, error=stopped) for m in members[start + step :]]
            break
    return reports
