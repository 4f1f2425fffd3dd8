"""``sitebox batch kubeconfig|load-test``."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sitebox import console
from sitebox.batch import access, loadtest
from sitebox.errors import SiteboxError
from sitebox.kube import Kube
from sitebox.options import context_option, kubeconfig_option

_DURATION = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(text: str) -> int:
    match = _DURATION.match(text)
    if not match:
        raise SiteboxError(f"invalid duration {text!r}", hint="write e.g. 30m, 24h or 30d")
    seconds = int(match[1]) * _SECONDS[match[2]]
    if seconds < 600:
        raise SiteboxError(
            f"duration {text!r} is too short", hint="the API server's minimum is 10m"
        )
    return seconds


@click.group()
def batch() -> None:
    """The batch connector: scoped access for workload managers, and the load test."""


@batch.command("kubeconfig")
@click.option("--namespace", "-n", default="batch", show_default=True)
@click.option(
    "--release",
    help="The Helm release of the batch chart, where the namespace holds several "
    "(default: the one submitter there).",
)
@click.option("--duration", default="720h", show_default=True, help="Token lifetime.")
@click.option(
    "--output-file",
    "-f",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it (default: ./<namespace>-submitter.kubeconfig).",
)
@kubeconfig_option
@context_option
def kubeconfig_cmd(
    namespace: str,
    release: str | None,
    duration: str,
    output_file: Path | None,
    kubeconfig: Path | None,
    context: str | None,
) -> None:
    """Export a kubeconfig that may only run Jobs and watch Pods in the batch namespace."""
    seconds = _seconds(duration)
    kube = Kube(kubeconfig, context)
    account = access.find_submitter(kube, namespace, release)
    path = output_file or Path(f"{namespace}-submitter.kubeconfig")
    access.write_kubeconfig(kube, namespace, account, seconds, path, cluster=context or "sitebox")
    console.err.print(
        f"wrote {path} (ServiceAccount {namespace}/{account}, token valid {duration}); "
        "hand it to the workload manager, keep it secret",
        markup=False,
        soft_wrap=True,
    )


@batch.command("load-test")
@click.option("--jobs", type=click.IntRange(1, 1_000_000), default=100, show_default=True)
@click.option("--workers", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--cpu", default="100m", show_default=True, help="Request (= limit) per job.")
@click.option("--memory", default="128Mi", show_default=True, help="Request (= limit) per job.")
@click.option("--namespace", "-n", help="Default: the kubeconfig context's namespace.")
@click.option(
    "--deadline", type=click.IntRange(1), default=600, show_default=True,
    help="activeDeadlineSeconds of each Job: a Job still waiting for its pod then fails.",
)  # fmt: skip
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait.")
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
@kubeconfig_option
@context_option
def load_test_cmd(
    jobs: int,
    workers: int,
    cpu: str,
    memory: str,
    namespace: str | None,
    deadline: int,
    timeout: float,
    output: str,
    kubeconfig: Path | None,
    context: str | None,
) -> None:
    """Submit N short Jobs (through the scoped kubeconfig) and report what the site sustains."""
    kube = Kube(kubeconfig, context)
    namespace = namespace or kube.current_namespace()
    with Progress(
        TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console.err, transient=output == "json",
    ) as progress:  # fmt: skip
        bars = {
            k: progress.add_task(k, total=jobs) for k in ("submitted", "scheduled", "completed")
        }

        def show(tally: loadtest.Tally) -> None:
            with tally.lock:
                counts = {
                    "submitted": tally.accepted + sum(tally.rejected.values()),
                    "scheduled": len(tally.scheduled),
                    "completed": len(tally.completed) + len(tally.failed),
                }
            for key, value in counts.items():
                progress.update(bars[key], completed=value)

        report = loadtest.run(kube, namespace, jobs, workers, cpu, memory, timeout, show, deadline)
    if output == "json":
        console.emit_json(dataclasses.asdict(report))
    else:
        table = Table("measure", "value", title=f"load test {report.run_id} in {namespace}")
        for key, value in dataclasses.asdict(report).items():
            table.add_row(key.replace("_", " "), str(value))
        console.out.print(table)
    if report.accepted < jobs or report.completed < report.accepted:
        raise SystemExit(1)
