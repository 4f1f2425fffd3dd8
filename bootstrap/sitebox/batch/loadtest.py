"""The pre-grid load test: submit N short Jobs through the scoped account and
measure what the site sustains.

Submission runs on a thread pool; a pod watch counts scheduling and
completion. Only counters and one set of pod names are kept, so memory stays
bounded by the job count, not by the objects the API returns.
"""

from __future__ import annotations

import resource
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sitebox.errors import SiteboxError
from sitebox.kube import Kube

LABEL = "sitebox.io/load-test"
VO_LABEL = "sitebox.io/vo"  # what `sitebox accounting` reads by default
MAX_RETRIES = 5
NO_ANSWER = 0  # the "status" under which requests that got no HTTP answer are counted
POD_EVENTS_GRACE = 15.0  # seconds the pod watch may lag behind the Job watch at the end


@dataclass
class Tally:
    """Counters shared by the submit threads and the watcher."""

    accepted: int = 0
    rejected: Counter[int] = field(default_factory=Counter)
    reasons: dict[int, str] = field(default_factory=dict)  # one server message per status
    throttled: int = 0
    conflicts: int = 0
    scheduled: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    first_scheduled: float = 0.0
    last_scheduled: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Report:
    jobs: int
    accepted: int
    rejected: dict[int, int]
    reasons: dict[int, str]
    throttled: int
    quota_conflicts: int
    submit_seconds: float
    accepted_per_second: float
    scheduled: int
    scheduled_per_second: float
    completed: int
    failed: int
    wall_seconds: float
    peak_rss_mib: float
    run_id: str


def job_manifest(
    name: str,
    run_id: str,
    cpu: str,
    memory: str,
    deadline: int = 600,
    vo: str | None = None,
    ttl: int | None = 300,
) -> dict[str, Any]:
    """One load-test Job; ``vo`` labels it as a workload manager would for accounting,
    ``ttl`` None keeps it after it finishes (until the load test deletes it)."""
    labels = {LABEL: run_id, "sitebox.io/batch": "true"}
    if vo:
        labels[VO_LABEL] = vo
    resources = {"cpu": cpu, "memory": memory}
    spec: dict[str, Any] = {"backoffLimit": 0, "activeDeadlineSeconds": deadline}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            **spec,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "job",
                            "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": resources, "limits": resources},
                        }
                    ],
                },
            },
        },
    }


def retriable(status: int, message: str) -> bool:
    """429: priority and fairness pushed back. 409 on a ResourceQuota: concurrent
    creates raced to update the quota's usage; the create itself is sound."""
    return status == 429 or (status == 409 and "resourcequotas" in message)


def _submit(kube: Kube, namespace: str, job: dict[str, Any], tally: Tally) -> None:
    for _ in range(MAX_RETRIES):
        status, retry_after, message = kube.submit_job(namespace, job)
        if retriable(status, message):
            with tally.lock:
                if status == 429:
                    tally.throttled += 1
                else:
                    tally.conflicts += 1
            time.sleep(retry_after or 0.05)
            continue
        with tally.lock:
            if status < 300:
                tally.accepted += 1
            else:
                tally.rejected[status] += 1
                tally.reasons.setdefault(status, message)
        return
    with tally.lock:
        tally.rejected[429] += 1


def _watch_pods(
    kube: Kube, namespace: str, selector: str, tally: Tally, done: threading.Event
) -> None:
    for pod in kube.watch_pods(namespace, selector, done.is_set):
        name, now = pod["name"], time.monotonic()
        if pod["node"]:
            with tally.lock:
                if name not in tally.scheduled:
                    tally.scheduled.add(name)
                    tally.first_scheduled = tally.first_scheduled or now
                    tally.last_scheduled = now


def _watch_jobs(
    kube: Kube, namespace: str, selector: str, tally: Tally, done: threading.Event
) -> None:
    # Outcomes come from the Jobs: one that passes its deadline before the Job
    # controller made its pod fails without any pod to watch.
    for job in kube.watch_jobs(namespace, selector, done.is_set):
        with tally.lock:
            if job["finished"] == "Complete":
                tally.completed.add(job["name"])
            elif job["finished"] == "Failed":
                tally.failed.add(job["name"])


def run(
    kube: Kube,
    namespace: str,
    jobs: int,
    workers: int,
    cpu: str,
    memory: str,
    timeout: float,
    on_progress: Callable[[Tally], None],
    deadline: int = 600,
    vos: Sequence[str | None] = (),
    keep: bool = False,
) -> Report:
    """``vos``: the Jobs carry these VO labels in turn (None: no label); ``keep``: the
    Jobs stay when the test ends (no TTL, no deletion), for `sitebox accounting`."""
    run_id = uuid.uuid4().hex[:8]
    selector = f"{LABEL}={run_id}"
    tally = Tally()
    done = threading.Event()
    watchers = [
        threading.Thread(target=watch, args=(kube, namespace, selector, tally, done), daemon=True)
        for watch in (_watch_pods, _watch_jobs)
    ]
    for watcher in watchers:
        watcher.start()
    started = time.monotonic()
    # Workers build each Job as they send it: no list of N manifests is ever held.
    indices = iter(range(jobs))
    take = threading.Lock()

    def worker() -> None:
        while True:
            with take:
                index = next(indices, None)
            if index is None:
                return
            vo = vos[index % len(vos)] if vos else None
            job = job_manifest(f"lt-{run_id}-{index}", run_id, cpu, memory, deadline, vo,
                               None if keep else 300)  # fmt: skip
            try:
                _submit(kube, namespace, job, tally)
            except SiteboxError as exc:
                with tally.lock:
                    tally.rejected[NO_ANSWER] += 1
                    tally.reasons.setdefault(NO_ANSWER, exc.message)

    senders = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    try:
        for sender in senders:
            sender.start()
        while any(sender.is_alive() for sender in senders):
            on_progress(tally)
            time.sleep(0.25)
        submitted = time.monotonic()
        give_up = submitted + timeout
        while time.monotonic() < give_up:
            on_progress(tally)
            with tally.lock:
                if len(tally.completed) + len(tally.failed) >= tally.accepted:
                    break
            time.sleep(0.25)
        # A completed Job had a scheduled pod, but the pod watch can lag behind the Job
        # watch (a pod is scheduled and done within a moment on a simulated node, and a
        # busy API server sends its events late): let it catch up before counting.
        catch_up = min(give_up, time.monotonic() + POD_EVENTS_GRACE)
        while time.monotonic() < catch_up:
            with tally.lock:
                if len(tally.scheduled) >= len(tally.completed):
                    break
            time.sleep(0.1)
    finally:
        done.set()
        for watcher in watchers:
            watcher.join(timeout=10)
        if not keep:
            kube.delete_jobs(namespace, selector)
    submit_seconds = submitted - started
    span = max(tally.last_scheduled - started, 1e-9)
    return Report(
        jobs=jobs,
        accepted=tally.accepted,
        rejected=dict(tally.rejected),
        reasons=dict(tally.reasons),
        throttled=tally.throttled,
        quota_conflicts=tally.conflicts,
        submit_seconds=round(submit_seconds, 2),
        accepted_per_second=round(tally.accepted / max(submit_seconds, 1e-9), 1),
        scheduled=len(tally.scheduled),
        scheduled_per_second=round(len(tally.scheduled) / span, 1),
        completed=len(tally.completed),
        failed=len(tally.failed),
        wall_seconds=round(time.monotonic() - started, 2),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        run_id=run_id,
    )
