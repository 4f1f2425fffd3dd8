"""Per-month summary records from the Jobs' own start and end times (pure: no I/O).

A Job is reduced to one ``Usage`` as it is read, and folded into a ``Summary`` at once:
a month of 10,000 Jobs is held as a handful of totals, never as a list of Jobs.

What is counted, and why:

* a Job that finished (condition Complete or Failed) within the month, by its end time:
  ``status.completionTime``, or for a failed Job the Failed condition's time (Kubernetes
  sets no completionTime on failure, yet a failed job used its cores);
* only if a pod of it ran (``succeeded + failed > 0``): a Job that passed its deadline
  before the Job controller made a pod used nothing;
* wall time = end - ``status.startTime``, whole seconds as the API keeps them;
* cores = the pod's CPU request (the larger of the containers' sum and the largest
  init container, as the scheduler counts it), times ``spec.parallelism``;
* CPU time = requested cores x wall time: Kubernetes records no CPU time in a Job. It
  is what APEL's Slurm integration sends by default (Slurm's CPUTimeRAW, elapsed x
  allocated CPUs, in apel's scripts/slurm_acc.sh) and what KAPEL reports: the CPU the
  job held, not what it used.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sitebox.cluster.quantity import QuantityError, cpu_millis
from sitebox.errors import SiteboxError

DEFAULT_VO_LABEL = "sitebox.io/vo"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")

Obj = dict[str, Any]


def epoch(timestamp: str) -> int:
    """Seconds since the epoch of an RFC 3339 time as the API writes it (UTC, 'Z').

    Sliced rather than strptime'd: two per Job, strptime was half of a report's own time.
    """
    if _STAMP.match(timestamp) is None:
        raise SiteboxError(
            f"the API returned a time sitebox cannot read: {timestamp!r}",
            hint="the API server is not one sitebox supports: check `sitebox preflight`",
        )
    t = timestamp
    return calendar.timegm(
        (int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]), int(t[14:16]), int(t[17:19]))
    )


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in UTC, the period APEL's summary records are kept by."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text.strip())
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1970:
            raise SiteboxError(
                f"invalid month {text!r}", hint="write the month as YYYY-MM, e.g. 2026-11"
            )
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, seconds: float) -> Month:
        moment = datetime.fromtimestamp(seconds, UTC)
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @functools.cached_property
    def start(self) -> int:
        return calendar.timegm((self.year, self.month, 1, 0, 0, 0))

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @functools.cached_property
    def end(self) -> int:
        """The first second of the next month (exclusive)."""
        return self.next.start

    def holds(self, seconds: int) -> bool:
        return self.start <= seconds < self.end


def check_month(month: Month, now: float) -> bool:
    """Refuse a month that has not begun; True when it is over, False for the current
    month (its records are partial: counted so far, and published again when it ends,
    as APEL's own client and KAPEL publish the running month)."""
    if month.start > now:
        raise SiteboxError(
            f"month {month} has not begun (it is {Month.of(now)} now, UTC)",
            hint="give a past month, or the current one for its records so far",
        )
    return month.end <= now


@dataclass(frozen=True)
class Usage:
    """What one finished Job contributes."""

    name: str
    vo: str | None  # None: the Job carries no VO label
    end: int
    wall: int
    millicores: int  # the CPU requested for the Job's pods together
    failed: bool
    requested: bool  # False: no CPU request in the template; counted as one core
    parallel: bool

    @property
    def processors(self) -> int:
        """APEL's Processors (a whole number): the cores the job held, at least one."""
        return max(1, math.ceil(self.millicores / 1000))


def _cpu(resources: Mapping[str, Any] | None) -> int:
    """A container's CPU request in millicores; its limit when only that is set (the API
    server then defaults the request to it); 0 when neither is."""
    resources = resources or {}
    value = (resources.get("requests") or {}).get("cpu") or (resources.get("limits") or {}).get(
        "cpu"
    )
    if value is None:
        return 0
    try:
        return cpu_millis(str(value))
    except QuantityError:
        return 0


def _pod_millicores(spec: Mapping[str, Any]) -> int:
    containers = sum(_cpu(c.get("resources")) for c in spec.get("containers") or [])
    init = max((_cpu(c.get("resources")) for c in spec.get("initContainers") or []), default=0)
    return max(containers, init)


def _finished(status: Mapping[str, Any]) -> tuple[str, str] | None:
    """("Complete" | "Failed", when) of a finished Job; None while it runs."""
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            kind = str(condition["type"])
            when = status.get("completionTime") if kind == "Complete" else None
            when = when or condition.get("lastTransitionTime") or condition.get("lastProbeTime")
            return (kind, str(when)) if when else None
    return None


def usage(job: Obj, vo_label: str = DEFAULT_VO_LABEL) -> Usage | None:
    """The usage of a Job as the API returns it; None if it has not finished or no pod
    of it ever ran."""
    status = job.get("status") or {}
    finished = _finished(status)
    if finished is None or not status.get("startTime"):
        return None
    if int(status.get("succeeded") or 0) + int(status.get("failed") or 0) == 0:
        return None
    kind, when = finished
    end = epoch(when)
    wall = max(0, end - epoch(str(status["startTime"])))  # a skewed clock never gives < 0
    meta = job.get("metadata") or {}
    spec = job.get("spec") or {}
    template = spec.get("template") or {}
    pod_labels = (template.get("metadata") or {}).get("labels") or {}
    labels = {**pod_labels, **(meta.get("labels") or {})}  # the Job's own label wins
    per_pod = _pod_millicores(template.get("spec") or {})
    parallelism = max(1, int(spec.get("parallelism") or 1))
    return Usage(
        name=str(meta.get("name", "")),
        vo=labels.get(vo_label) or None,
        end=end,
        wall=wall,
        millicores=(per_pod or 1000) * parallelism,
        failed=kind == "Failed",
        requested=per_pod > 0,
        parallel=parallelism > 1,
    )


@dataclass(frozen=True, order=True)
class Key:
    """What APEL keeps one summary record per (within a site, month and submit host)."""

    vo: str
    processors: int
    node_count: int = 1


@dataclass
class Totals:
    jobs: int = 0
    wall: int = 0  # seconds, summed over jobs
    core_millis: int = 0  # millicore-seconds: sum of wall x requested millicores
    earliest_end: int = 0
    latest_end: int = 0

    def add(self, used: Usage) -> None:
        self.jobs += 1
        self.wall += used.wall
        self.core_millis += used.wall * used.millicores
        self.earliest_end = min(self.earliest_end or used.end, used.end)
        self.latest_end = max(self.latest_end, used.end)

    def merge(self, other: Totals) -> None:
        self.jobs += other.jobs
        self.wall += other.wall
        self.core_millis += other.core_millis
        ends = [t for t in (self.earliest_end, other.earliest_end) if t]
        self.earliest_end = min(ends, default=0)
        self.latest_end = max(self.latest_end, other.latest_end)

    @property
    def cpu_seconds(self) -> int:
        return round(self.core_millis / 1000)


@dataclass
class Summary:
    """One month of one namespace, folded Job by Job."""

    month: Month
    default_vo: str
    totals: dict[Key, Totals] = field(default_factory=dict)
    unlabelled: int = 0  # accounted under the default VO
    failed: int = 0
    unrequested: int = 0  # no CPU request in the template: counted as one core
    parallel: int = 0

    def add(self, used: Usage) -> None:
        if not self.month.holds(used.end):
            return
        key = Key(used.vo or self.default_vo, used.processors)
        self.totals.setdefault(key, Totals()).add(used)
        self.unlabelled += used.vo is None
        self.failed += used.failed
        self.unrequested += not used.requested
        self.parallel += used.parallel

    def add_jobs(self, jobs: Iterable[Obj], vo_label: str, after: int = 0) -> int:
        """Fold the Jobs that ended in the month (and after ``after``); how many were read."""
        read = 0
        for job in jobs:
            read += 1
            used = usage(job, vo_label)
            if used is not None and used.end > after:
                self.add(used)
        return read

    def merge(self, other: Summary) -> None:
        for key, totals in other.totals.items():
            self.totals.setdefault(key, Totals()).merge(totals)
        self.unlabelled += other.unlabelled
        self.failed += other.failed
        self.unrequested += other.unrequested
        self.parallel += other.parallel

    @property
    def jobs(self) -> int:
        return sum(t.jobs for t in self.totals.values())

    @property
    def all(self) -> Totals:
        whole = Totals()
        for totals in self.totals.values():
            whole.merge(totals)
        return whole

    def to_dict(self) -> dict[str, Any]:
        """The form the ledger keeps (JSON)."""
        return {
            "month": str(self.month),
            "records": [
                {**asdict(key), **asdict(totals)} for key, totals in sorted(self.totals.items())
            ],
            "unlabelled": self.unlabelled,
            "failed": self.failed,
            "unrequested": self.unrequested,
            "parallel": self.parallel,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], default_vo: str) -> Summary:
        summary = cls(Month.parse(str(data["month"])), default_vo)
        for record in data.get("records") or []:
            key = Key(str(record["vo"]), int(record["processors"]), int(record["node_count"]))
            summary.totals[key] = Totals(
                int(record["jobs"]), int(record["wall"]), int(record["core_millis"]),
                int(record["earliest_end"]), int(record["latest_end"]),
            )  # fmt: skip
        for name in ("unlabelled", "failed", "unrequested", "parallel"):
            setattr(summary, name, int(data.get(name) or 0))
        return summary
