"""Run one operation across sites: a bounded number at once, one live line per site.

A site that fails is recorded and the others go on: nothing is stopped or rolled
back on its account. A rolling run goes ``step`` sites at a time, in fleet order,
and stops before the next group once one site has failed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from rich.live import Live
from rich.table import Table

from sitebox import console
from sitebox.errors import SiteboxError
from sitebox.fleet.model import FleetSite
from sitebox.fleet.ops import Operation, Options, Say
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
    members: list[FleetSite], operation: Operation, options: Options, parallel: int
) -> list[SiteReport]:
    """Every site, at most ``parallel`` at once; the reports in fleet order."""
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


def rolling(
    members: list[FleetSite], operation: Operation, options: Options, step: int
) -> list[SiteReport]:
    """``step`` sites at a time; after a group with a failure, the rest are not touched."""
    reports: list[SiteReport] = []
    for start in range(0, len(members), step):
        group = members[start : start + step]
        reports += run(group, operation, options, step)
        failed = [r.site for r in reports if r.error is not None]
        if failed:
            stopped = f"not started: the rolling run stopped at {', '.join(failed)}"
            reports += [SiteReport(m.name, error=stopped) for m in members[start + step :]]
            break
    return reports
