"""``sitebox accounting report|collect|publish``: APEL accounting of the batch namespace."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from sitebox import console
from sitebox.accounting import apel, ledger, prometheus, publish
from sitebox.accounting.records import DEFAULT_VO_LABEL, Month, Summary, check_month, iso
from sitebox.components.monitoring import RETENTION_DAYS
from sitebox.components.names import PROMETHEUS_PORT, PROMETHEUS_SERVICE, SYSTEM_NAMESPACE
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, KubeError
from sitebox.options import context_option, kubeconfig_option

SITE_INFO = ("sitebox", "sitebox-site-info")  # site-base's ConfigMap: the site's name
OUTGOING = Path("/var/spool/apel/outgoing")  # ssmsend's default [messaging] path
CPU_TIME = "requested cores x wall time: the CPU the jobs held, not a measurement"


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every accounting command takes."""
    for option in reversed(
        [
            click.option("--namespace", "-n", default="batch", show_default=True,
                         help="The batch namespace whose Jobs are accounted."),
            click.option("--vo-label", default=DEFAULT_VO_LABEL, show_default=True,
                         help="The label (on the Job or its pod template) naming the VO."),
            click.option("--default-vo", required=True,
                         help="The VO of Jobs without that label (each is counted as such)."),
            kubeconfig_option,
            context_option,
        ]
    ):  # fmt: skip
        command = option(command)
    return command


def _month_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--month", "month_text", required=True,
        help="YYYY-MM (UTC), or `previous` / `current`; a month not yet begun is refused.",
    )(command)  # fmt: skip


def _source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--source", type=click.Choice(["auto", "prometheus", "jobs"]),
                         default="auto", show_default=True,
                         help="prometheus: the site's Prometheus (kube-state-metrics' pod "
                         "series, each pod a job); jobs: the Jobs and the ledger; auto: "
                         "prometheus where the monitoring component runs, else jobs."),
            click.option("--prometheus-url", help="The Prometheus to read (default: the "
                         "monitoring component's, through the API server's service proxy)."),
        ]
    ):  # fmt: skip
        command = option(command)
    return command


def _apel_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--site", help="The site's GOCDB name (default: the site's name in "
                         "sitebox/sitebox-site-info)."),
            click.option("--submit-host", help="APEL's SubmitHost, stable across runs "
                         "(default: SITE/NAMESPACE)."),
            click.option("--benchmark", type=click.FloatRange(min=0, min_open=True),
                         help="Per-core HEPscore23 (or HEPSPEC06) of the worker nodes; "
                         "needed for APEL's normalised durations."),
        ]
    ):  # fmt: skip
        command = option(command)
    return command


def _month(text: str, now: float) -> Month:
    word = text.strip().lower()
    if word == "current":
        return Month.of(now)
    if word == "previous":
        return Month.of(now).previous
    return Month.parse(text)


def _site(kube: Kube, site: str | None) -> str:
    if site:
        return site
    info = kube.read_config_map(SITE_INFO[0], SITE_INFO[1])
    name = info[0].get("site") if info else None
    if not name:
        raise SiteboxError(
            "no site name: the cluster has no sitebox/sitebox-site-info ConfigMap",
            hint="give --site with the site's GOCDB name",
        )
    return str(name)


def _origin(kube: Kube, namespace: str, site: str | None, submit_host: str | None,
            benchmark: float | None) -> apel.Origin:  # fmt: skip
    if benchmark is None:
        raise SiteboxError(
            "APEL's normalised durations need the nodes' benchmark",
            hint="give --benchmark with the per-core HEPscore23 (or HEPSPEC06) score of the "
            "worker nodes (accounting.benchmark in site.yaml)",
        )
    name = _site(kube, site)
    return apel.Origin(name, submit_host or f"{name}/{namespace}", benchmark)


@dataclass(frozen=True)
class Source:
    """Where a report's numbers come from: Prometheus through ``get``, else (None) the
    Jobs and the ledger."""

    name: str
    get: prometheus.Getter | None


JOBS = Source("jobs", None)


def _source(kube: Kube, choice: str, url: str | None) -> Source:
    if choice == "jobs":
        if url:
            raise SiteboxError(
                "--prometheus-url names a Prometheus, but --source jobs reads the Jobs",
                hint="leave out one of the two",
            )
        return JOBS
    if url:
        return Source(f"prometheus {url}", prometheus.url_getter(url))
    ns, service = SYSTEM_NAMESPACE, PROMETHEUS_SERVICE
    try:
        found = kube.get("v1", "Service", service, ns)
    except KubeError:
        if choice == "prometheus":
            raise
        found = None  # e.g. a kubeconfig scoped to the batch namespace: read its Jobs
    if found is None:
        if choice == "prometheus":
            raise SiteboxError(
                f"no Prometheus here: the cluster has no service {ns}/{service}",
                hint="turn the monitoring component on (components.monitoring in site.yaml), "
                "give --prometheus-url, or read the Jobs with --source jobs",
            )
        return JOBS

    def get(path: str) -> tuple[int, str]:
        return kube.service_proxy_get(ns, service, PROMETHEUS_PORT, path, prometheus.TIMEOUT)

    return Source(f"prometheus service {ns}/{service}", get)


def _read(kube: Kube, source: Source, namespace: str, month: Month, vo_label: str,
          default_vo: str, now: float) -> tuple[Summary, int, int]:  # fmt: skip
    if source.get is None:
        with console.err.status(f"reading the Jobs of {namespace}", spinner="dots"):
            return ledger.month_summary(kube, namespace, month, vo_label, default_vo)
    with console.err.status(f"reading the pods of {namespace} from {source.name}", spinner="dots"):
        summary, read = prometheus.month_summary(
            source.get, namespace, month, vo_label, default_vo, now
        )
    return summary, read, 0


def _as_dict(summary: Summary, complete: bool, namespace: str, source: Source, read: int,
             watermark: int, origin: apel.Origin | None) -> dict[str, Any]:  # fmt: skip
    whole = summary.all
    records = []
    for key, totals in sorted(summary.totals.items()):
        record: dict[str, Any] = {
            "vo": key.vo, "processors": key.processors, "node_count": key.node_count,
            "jobs": totals.jobs, "wall_seconds": totals.wall, "cpu_seconds": totals.cpu_seconds,
            "core_hours": round(totals.core_millis / 1000 / 3600, 4),
            "earliest_end": iso(totals.earliest_end), "latest_end": iso(totals.latest_end),
        }  # fmt: skip
        if origin is not None:
            record["normalised_wall_seconds"] = round(totals.wall * origin.benchmark)
            record["normalised_cpu_seconds"] = round(totals.core_millis / 1000 * origin.benchmark)
        records.append(record)
    return {
        "month": str(summary.month),
        "complete": complete,
        "namespace": namespace,
        "source": source.name,
        "site": origin.site if origin else None,
        "submit_host": origin.submit_host if origin else None,
        "default_vo": summary.default_vo,
        "records": records,
        "jobs": whole.jobs,
        "wall_seconds": whole.wall,
        "cpu_seconds": whole.cpu_seconds,
        "core_hours": round(whole.core_millis / 1000 / 3600, 4),
        "unlabelled_jobs": summary.unlabelled,
        "failed_jobs": summary.failed,
        "jobs_without_cpu_request": summary.unrequested,
        "parallel_jobs": summary.parallel,
        "cpu_time": CPU_TIME,
        "jobs_read": read,
        "ledger_watermark": iso(watermark) if watermark else None,
    }


def _notes(report: dict[str, Any], now: float) -> list[str]:
    notes = []
    if not report["complete"]:
        notes.append(f"{report['month']} is not over: these are its records so far")
    kept = now - RETENTION_DAYS * 86400
    if report["source"] != JOBS.name and Month.parse(report["month"]).start < kept:
        notes.append(f"Prometheus keeps {RETENTION_DAYS} days unless "
                     "components.monitoring.retention says otherwise: a month that began "
                     "before that may be partial")  # fmt: skip
    if report["unlabelled_jobs"]:
        notes.append(f"{report['unlabelled_jobs']} job(s) carried no VO label and are "
                     f"counted under the default VO {report['default_vo']}")  # fmt: skip
    if report["jobs_without_cpu_request"]:
        notes.append(f"{report['jobs_without_cpu_request']} job(s) requested no CPU in their "
                     "template and are counted as one core")  # fmt: skip
    if report["parallel_jobs"]:
        notes.append(
            f"{report['parallel_jobs']} job(s) ran pods in parallel: counted with cores x "
            "parallelism for their whole wall time (an upper bound)"
        )
    if report["source"] == JOBS.name and not report["ledger_watermark"]:
        notes.append("no ledger yet: only Jobs that still exist are counted "
                     "(`sitebox accounting collect` keeps them past their TTL)")  # fmt: skip
    return notes


def _short(stamp: str) -> str:
    """2026-11-30T23:59:59Z as 2026-11-30 23:59, to fit a terminal's table."""
    return stamp[:16].replace("T", " ")


@click.group()
def accounting() -> None:
    """APEL accounting of the batch namespace: monthly summary records from the Jobs."""


@accounting.command("report")
@_month_option
@_common
@_source_options
@_apel_options
@click.option("--output", "-o", type=click.Choice(["text", "json", "apel"]), default="text",
              help="apel: the message exactly as `publish` queues it.")  # fmt: skip
def report_cmd(month_text: str, namespace: str, vo_label: str, default_vo: str,
               kubeconfig: Path | None, context: str | None, source: str,
               prometheus_url: str | None, site: str | None, submit_host: str | None,
               benchmark: float | None, output: str) -> None:  # fmt: skip
    """The month's summary records: jobs, wall and CPU time, cores, per VO."""
    now = time.time()
    month = _month(month_text, now)
    complete = check_month(month, now)
    kube = Kube(kubeconfig, context)
    origin = None
    if output == "apel" or benchmark is not None:
        origin = _origin(kube, namespace, site, submit_host, benchmark)
    chosen = _source(kube, source, prometheus_url)
    summary, read, watermark = _read(kube, chosen, namespace, month, vo_label, default_vo, now)
    if output == "apel" and origin is not None:  # origin is always set for apel output
        print(apel.message(summary, origin), end="")
        return
    report = _as_dict(summary, complete, namespace, chosen, read, watermark, origin)
    if output == "json":
        report["notes"] = _notes(report, now)
        console.emit_json(report)
        return
    title = f"accounting {report['month']} in {namespace}" + ("" if complete else " (so far)")
    title += f", from {chosen.name}"
    table = Table("VO", "cores", "jobs", "wall h", "core h", "earliest end", "latest end",
                  title=title)  # fmt: skip
    for r in report["records"]:
        table.add_row(r["vo"], str(r["processors"]), str(r["jobs"]),
                      f"{r['wall_seconds'] / 3600:.2f}", f"{r['core_hours']:.2f}",
                      _short(r["earliest_end"]), _short(r["latest_end"]))  # fmt: skip
    console.out.print(table)
    console.out.print(
        f"{report['jobs']} jobs, {report['wall_seconds'] / 3600:.2f} wall hours, "
        f"{report['core_hours']:.2f} core hours (CPU time: {CPU_TIME})",
        markup=False, soft_wrap=True,
    )  # fmt: skip
    for note in _notes(report, now):
        console.out.print(f"note: {note}", markup=False, soft_wrap=True)


@accounting.command("collect")
@_common
def collect_cmd(namespace: str, vo_label: str, default_vo: str, kubeconfig: Path | None,
                context: str | None) -> None:  # fmt: skip
    """Fold finished Jobs into the namespace's ledger, before their TTL deletes them.

    Run it more often than the Jobs' ttlSecondsAfterFinished (the batch chart's CronJob
    does); reports then count every Job, deleted or not."""
    kube = Kube(kubeconfig, context)
    with console.err.status(f"reading the Jobs of {namespace}", spinner="dots"):
        done = ledger.collect(kube, namespace, vo_label, default_vo, time.time())
    console.err.print(
        f"ledger {namespace}/{ledger.NAME}: {done.folded} job(s) folded of {done.read} read; "
        f"complete up to {iso(done.watermark)}",
        markup=False, soft_wrap=True,
    )  # fmt: skip


@accounting.command("publish")
@_month_option
@_common
@_source_options
@_apel_options
@click.option(
    "--outgoing",
    type=click.Path(path_type=Path),
    default=OUTGOING,
    show_default=True,
    help="ssmsend's outgoing queue ([messaging] path, dirq).",
)
@click.option(
    "--cert",
    type=click.Path(path_type=Path),
    help="The certificate ssmsend signs with ([certificates] certificate): checked.",
)
@click.option(
    "--key", type=click.Path(path_type=Path), help="Its key ([certificates] key): checked."
)
@click.option("--collect/--no-collect", "fold", default=True, show_default=True,
              help="Fold finished Jobs into the ledger first (when reading the Jobs).")  # fmt: skip
def publish_cmd(month_text: str, namespace: str, vo_label: str, default_vo: str,
                kubeconfig: Path | None, context: str | None, source: str,
                prometheus_url: str | None, site: str | None,
                submit_host: str | None, benchmark: float | None, outgoing: Path,
                cert: Path | None, key: Path | None, fold: bool) -> None:  # fmt: skip
    """Queue the month's APEL message for ssmsend; again for the same month replaces it."""
    now = time.time()
    month = _month(month_text, now)
    complete = check_month(month, now)
    if (cert is None) != (key is None):
        raise SiteboxError(
            "--cert and --key go together",
            hint="give both, the files ssmsend's [certificates] section names",
        )
    subject = publish.check_certificate(cert, key, now) if cert and key else None
    kube = Kube(kubeconfig, context)
    origin = _origin(kube, namespace, site, submit_host, benchmark)
    chosen = _source(kube, source, prometheus_url)
    if fold and chosen.get is None:
        with console.err.status(f"reading the Jobs of {namespace}", spinner="dots"):
            ledger.collect(kube, namespace, vo_label, default_vo, now)
    summary, _, _ = _read(kube, chosen, namespace, month, vo_label, default_vo, now)
    queued = publish.enqueue(outgoing, apel.message(summary, origin))
    say = functools.partial(console.err.print, markup=False, soft_wrap=True)
    if queued.element is None:
        say(f"{month}: no finished jobs in {namespace}; nothing queued")
        return
    state = "already queued, unchanged" if queued.unchanged else "queued"
    say(f"{month}: {summary.jobs} jobs in {len(summary.totals)} record(s) from {chosen.name}, "
        f"{state} as {outgoing}/{queued.element}")  # fmt: skip
    if queued.replaced:
        say(f"replaced the earlier message(s) of {month}: {', '.join(queued.replaced)}")
    if not complete:
        say(f"note: {month} is not over; publish it again when it is (the repository "
            "replaces a month's records when they come again)")  # fmt: skip
    if subject:
        say(f"ssmsend signs with {subject}")
    print(f"{outgoing}/{queued.element}")
