"""Per-pod usage from the site's Prometheus: kube-state-metrics' pod series, read as
KAPEL (rptaylor/kapel) reads them, folded into the same ``Summary`` as the Jobs'.

Why Prometheus, where the monitoring component runs: it keeps a pod's series after the
pod and its Job are deleted (35 days by default), so nothing has to fold Jobs before
their TTL, and each pod is counted with its own cores (a Job that retried or ran pods in
parallel is counted pod by pod, not as cores x parallelism).

Each quantity is one instant query over the month, ``max_over_time(...[R])`` evaluated
at the month's end plus ``GRACE`` (a pod that ended at 23:59:50 is first scraped after
midnight): the pod's completion time (its containers' latest finishedAt), start time,
CPU requests (containers summed, init containers at most, as the scheduler counts),
the VO label (the pod's, or its Job's, which wins as in the Jobs' source), and whether
it failed. Pods are keyed by uid. What Prometheus never scraped (a pod deleted within
one scrape interval of its end) is not counted: the same limit as KAPEL's.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sitebox.accounting.records import Month, Summary, Usage
from sitebox.components import scrape
from sitebox.errors import SiteboxError

GRACE = 3600  # seconds after the month's end still read for pods that ended in it
TIMEOUT = 60  # seconds per query: a month of 10,000 pods is a few MB of JSON

# (HTTP status, body) of a GET of a path with its query string, from wherever the
# Prometheus is: a URL, or the API server's service proxy (kube.Kube.service_proxy_get).
Getter = Callable[[str], tuple[int, str]]


def label_name(pod_label: str) -> str:
    """The Prometheus label kube-state-metrics gives an allowlisted Kubernetes label
    (``sitebox.io/vo`` → ``label_sitebox_io_vo``)."""
    return "label_" + scrape.label_name(pod_label)


def url_getter(url: str) -> Getter:
    """GET from a Prometheus at ``url`` (in the cluster: http://prometheus.sitebox-system.svc)."""
    base = url.rstrip("/") + "/"

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(base + path, timeout=TIMEOUT) as response:  # noqa: S310 (the admin's own URL)
                return int(response.status), response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SiteboxError(
                f"cannot reach Prometheus at {url}: {reason}",
                hint="check the URL and that the monitoring component runs (`sitebox "
                "status`), or read the Jobs instead with --source jobs",
            ) from None

    return get


@dataclass(frozen=True)
class Window:
    """What the queries cover: ``seconds`` back from ``at`` (both whole seconds)."""

    at: int
    seconds: int

    @classmethod
    def of(cls, month: Month, now: float) -> Window:
        at = min(int(now), month.end + GRACE)
        return cls(at, max(1, at - month.start))


def queries(namespace: str, vo_label: str, window: Window) -> dict[str, str]:
    """The PromQL of each quantity, by name."""
    ns = f'namespace="{namespace}"'
    vo = label_name(vo_label)
    r = f"[{window.seconds}s]"

    def over(metric: str, matchers: str = "") -> str:
        return f"max_over_time({metric}{{{ns}{matchers}}}{r})"

    # Before a pod is scheduled its request series carries node="", then the node's name:
    # two series for one container, so the empty one is left out (KAPEL does the same).
    cpu = ',resource="cpu",node!=""'
    labelled = f',{vo}!=""'
    failed = ',phase="Failed"'
    by_job = ',owner_kind="Job"'
    return {
        "end": f"max by (uid, pod) ({over('kube_pod_completion_time')})",
        "start": f"max by (uid) ({over('kube_pod_start_time')})",
        "cpu": f"sum by (uid) (max by (uid, container) ("
        f"{over('kube_pod_container_resource_requests', cpu)}))",
        "init_cpu": f"max by (uid) ({over('kube_pod_init_container_resource_requests', cpu)})",
        "failed": f"max by (uid) ({over('kube_pod_status_phase', failed)}) == 1",
        "vo": f"max by (uid, {vo}) ({over('kube_pod_labels', labelled)})",
        "owner": f"max by (uid, owner_name) ({over('kube_pod_owner', by_job)})",
        "job_vo": f"max by (job_name, {vo}) ({over('kube_job_labels', labelled)})",
    }


def _vector(get: Getter, query: str, at: int) -> list[dict[str, Any]]:
    path = "api/v1/query?" + urllib.parse.urlencode({"query": query, "time": str(at)})
    status, body = get(path)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("status") != "success":
        # Prometheus's own error, else the API server's Status (its proxy's), else the body.
        found = answer if isinstance(answer, dict) else {}
        error = found.get("error") or found.get("message") or body.strip()[:200]
        raise SiteboxError(
            f"Prometheus answered HTTP {status} to an accounting query: {error}",
            hint="check that it is the site's Prometheus (kube-state-metrics' series) and "
            "that it runs (`sitebox status`), or read the Jobs instead with --source jobs",
        )
    data = answer.get("data") or {}
    if data.get("resultType") != "vector":
        raise SiteboxError(
            f"Prometheus returned a {data.get('resultType')!r} result, not a vector",
            hint="this Prometheus is not one sitebox supports: read the Jobs with --source jobs",
        )
    return list(data.get("result") or [])


def _by(series: list[dict[str, Any]], key: str, label: str | None = None) -> dict[str, Any]:
    """{series[key]: value}, or {series[key]: series[label]} when ``label`` is given."""
    found: dict[str, Any] = {}
    for one in series:
        metric = one.get("metric") or {}
        if key in metric:
            found[metric[key]] = metric.get(label) if label else float(one["value"][1])
    return found


def usages(results: dict[str, list[dict[str, Any]]], vo_label: str) -> Iterator[Usage]:
    """One ``Usage`` per pod that ended (any time in the window) and had started."""
    vo = label_name(vo_label)
    start = _by(results["start"], "uid")
    cpu = _by(results["cpu"], "uid")
    init_cpu = _by(results["init_cpu"], "uid")
    failed = _by(results["failed"], "uid")
    pod_vo = _by(results["vo"], "uid", vo)
    owner = _by(results["owner"], "uid", "owner_name")
    job_vo = _by(results["job_vo"], "job_name", vo)
    for series in results["end"]:
        uid = series["metric"].get("uid")
        if uid not in start:
            continue
        end = int(float(series["value"][1]))
        millicores = max(round(cpu.get(uid, 0) * 1000), round(init_cpu.get(uid, 0) * 1000))
        yield Usage(
            name=str(series["metric"].get("pod", uid)),
            vo=job_vo.get(owner.get(uid, "")) or pod_vo.get(uid) or None,
            end=end,
            wall=max(0, end - int(start[uid])),
            millicores=millicores or 1000,
            failed=uid in failed,
            requested=millicores > 0,
            parallel=False,
        )


def month_summary(
    get: Getter, namespace: str, month: Month, vo_label: str, default_vo: str, now: float
) -> tuple[Summary, int]:
    """The month's records from Prometheus, and how many ended pods it returned."""
    window = Window.of(month, now)
    results = {
        name: _vector(get, query, window.at)
        for name, query in queries(namespace, vo_label, window).items()
    }
    summary = Summary(month, default_vo)
    read = 0
    for used in usages(results, vo_label):
        read += 1
        summary.add(used)
    return summary, read
