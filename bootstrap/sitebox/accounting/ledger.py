"""The ledger: finished Jobs folded into a ConfigMap before Kubernetes deletes them.

The API only knows the Jobs that still exist, and a grid queue does not keep them for
a month: the batch chart's job template sets ttlSecondsAfterFinished to an hour, and
workload managers delete their Jobs themselves, and finished Jobs count against the
namespace's `count/jobs.batch` quota. So `sitebox accounting collect`, run more often
than that TTL (the chart's CronJob does), folds every Job that ended since the last run
into per-month totals kept in the ConfigMap `sitebox-accounting` of the namespace.

A report of a month is then the ledger's totals plus the Jobs that still exist and
ended after the ledger's watermark: each Job is counted once, whether it was folded
before it was deleted or is read live. The watermark trails the clock by ``SETTLE``
seconds, so a Job whose status the Job controller is still writing is folded next
time rather than missed. Writes are conditional on the ConfigMap's resourceVersion:
two collectors at once cannot both fold the same Jobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sitebox.accounting.records import Month, Summary, usage
from sitebox.kube import Kube, KubeError

NAME = "sitebox-accounting"
KEY = "ledger.json"
LABELS = {"app.kubernetes.io/part-of": "sitebox", "sitebox.io/accounting": "ledger"}
SETTLE = 120  # seconds a Job's end must lie behind before it is folded
KEEP = 13  # months kept: the current one and a year back, for late re-publishing
ATTEMPTS = 5


@dataclass
class Ledger:
    watermark: int  # every Job that ended at or before this is in ``months``
    months: dict[str, Summary]

    def to_json(self) -> str:
        months = {name: s.to_dict() for name, s in sorted(self.months.items())}
        return json.dumps({"watermark": self.watermark, "months": months}, sort_keys=True)


def load(kube: Kube, namespace: str, default_vo: str) -> tuple[Ledger, str | None]:
    """The ledger and its resourceVersion; an empty one (watermark 0) if there is none."""
    found = kube.read_config_map(namespace, NAME)
    if found is None or KEY not in found[0]:
        return Ledger(0, {}), found[1] if found else None
    data, version = found
    try:
        raw = json.loads(data[KEY])
        months = {
            name: Summary.from_dict(summary, default_vo)
            for name, summary in (raw.get("months") or {}).items()
        }
        return Ledger(int(raw.get("watermark") or 0), months), version
    except (ValueError, KeyError, TypeError) as exc:
        raise KubeError(
            f"the ledger ConfigMap {namespace}/{NAME} is damaged ({exc})",
            hint="restore it from a backup; deleting it loses the Jobs already deleted",
        ) from None


@dataclass(frozen=True)
class Collected:
    read: int  # Jobs listed
    folded: int  # Jobs added to the ledger this time
    watermark: int


def collect(kube: Kube, namespace: str, vo_label: str, default_vo: str, now: float) -> Collected:
    """Fold the Jobs that ended since the watermark (and ``SETTLE`` s ago) into the ledger."""
    for _ in range(ATTEMPTS):
        ledger, version = load(kube, namespace, default_vo)
        cutoff = int(now) - SETTLE
        if cutoff <= ledger.watermark:
            return Collected(0, 0, ledger.watermark)
        fresh: dict[str, Summary] = {}
        read = folded = 0
        for job in kube.iter_jobs(namespace):
            read += 1
            used = usage(job, vo_label)
            if used is None or not ledger.watermark < used.end <= cutoff:
                continue
            month = Month.of(used.end)
            fresh.setdefault(str(month), Summary(month, default_vo)).add(used)
            folded += 1
        for name, summary in fresh.items():
            if name in ledger.months:
                ledger.months[name].merge(summary)
            else:
                ledger.months[name] = summary
        for name in sorted(ledger.months)[:-KEEP]:
            del ledger.months[name]
        ledger.watermark = cutoff
        if kube.write_config_map(namespace, NAME, {KEY: ledger.to_json()}, LABELS, version):
            return Collected(read, folded, cutoff)
    raise KubeError(
        f"the ledger {namespace}/{NAME} changed under every one of {ATTEMPTS} attempts",
        hint="another `sitebox accounting collect` is running; let it finish and run again",
    )


def month_summary(
    kube: Kube, namespace: str, month: Month, vo_label: str, default_vo: str
) -> tuple[Summary, int, int]:
    """The month's records: the ledger's, plus the live Jobs that ended after its
    watermark; with the number of Jobs read and the watermark."""
    ledger, _ = load(kube, namespace, default_vo)
    summary = Summary(month, default_vo)
    if str(month) in ledger.months:
        summary.merge(ledger.months[str(month)])
    read = summary.add_jobs(kube.iter_jobs(namespace), vo_label, after=ledger.watermark)
    return summary, read, ledger.watermark
