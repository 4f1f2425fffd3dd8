"""``sitebox batch kubeconfig|load-test|queue-config``."""

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
@click.option(
    "--vo", "vos", multiple=True,
    help="Label the Jobs sitebox.io/vo=VO in turn (repeat it; `-` for no label), as a "
    "workload manager does for `sitebox accounting`.",
)  # fmt: skip
@click.option("--keep", is_flag=True, help="Keep the Jobs when done (for `sitebox accounting`).")
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
    vos: tuple[str, ...],
    keep: bool,
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

        labels = [None if vo == "-" else vo for vo in vos]
        report = loadtest.run(
            kube, namespace, jobs, workers, cpu, memory, timeout, show, deadline, labels, keep
        )
    if output == "json":
        console.emit_json(dataclasses.asdict(report))
    else:
        table = Table("measure", "value", title=f"load test {report.run_id} in {namespace}")
        for key, value in dataclasses.asdict(report).items():
            table.add_row(key.replace("_", " "), str(value))
        console.out.print(table)
    if report.accepted < jobs or report.completed < report.accepted:
        raise SystemExit(1)


@batch.command("queue-config")
# The forms are queueconfig.FORMS, spelled out: that module is loaded when the command runs.
@click.option(
    "--for",
    "form",
    type=click.Choice(("harvester", "generic")),
    required=True,
    help="harvester: an entry for PanDA Harvester's panda_queueconfig.json and the Job YAML "
    "it names; generic: a sitebox.io/v1 QueueConfig for any other workload manager.",
)
@click.option(
    "--output-file",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the description (Harvester's: JSON; generic: JSON if FILE ends in "
    ".json, else YAML); the kubeconfig and Harvester's Job YAML go beside it.",
)
@click.option("--namespace", "-n", default="batch", show_default=True)
@click.option(
    "--release",
    help="The Helm release of the batch chart, where the namespace "
    "holds several (default: the one queue there).",
)
@click.option(
    "--queue",
    "queue_name",
    help="The queue's name (the PanDA queue in CRIC) "
    "(default: registration.queueName of the site, else the site's name).",
)
@click.option(
    "--file",
    "-f",
    "site_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The site.yaml: checked to run a queue, and it names the queue.",
)
@click.option(
    "--submitter-kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Name this kubeconfig (from `sitebox batch kubeconfig`) instead of writing a new one.",
)
@click.option(
    "--duration",
    default="720h",
    show_default=True,
    help="Lifetime of the token of a kubeconfig written here.",
)
@click.option(
    "--files-at",
    help="The folder the workload manager's host keeps these files "
    "in: the paths the description names (default: where they are written here).",
)
@kubeconfig_option
@context_option
def queue_config_cmd(
    form: str, output_file: Path, namespace: str, release: str | None, queue_name: str | None,
    site_file: Path | None, submitter_kubeconfig: Path | None, duration: str,
    files_at: str | None, kubeconfig: Path | None, context: str | None,
) -> None:  # fmt: skip
    """Describe the batch queue to a workload manager: API endpoint, namespace, scoped
    kubeconfig, per-job CPU and memory, image, CVMFS volume and quota, as read from the
    cluster."""
    # Imported here: they read site.yaml and the site's published name, which the other
    # batch commands (a load test's hot start) need not load.
    from sitebox.batch import queueconfig
    from sitebox.model import siteconfig

    request = queueconfig.Request(
        form=form, output=output_file, namespace=namespace, release=release,
        queue_name=queue_name, site=siteconfig.load(site_file) if site_file else None,
        given=submitter_kubeconfig, seconds=_seconds(duration), files_at=files_at,
        cluster=context or "sitebox",
    )  # fmt: skip
    queue, written, lacking = queueconfig.run(lambda: Kube(kubeconfig, context), request)
    kept = "written" if written.submitter.written else "named"
    files = [str(written.config)] + ([str(written.job)] if written.job else [])
    console.err.print(
        f"wrote {', '.join(files)} (queue {queue.namespace} at {written.endpoint}: "
        f"{queue.cpu} CPU, {queue.memory} per job); kubeconfig {kept}: "
        f"{written.submitter.path} (keep it secret)",
        markup=False, soft_wrap=True,
    )  # fmt: skip
    if form == queueconfig.HARVESTER:
        console.err.print(
            f"in CRIC, the PanDA queue needs the associated parameter k8s.namespace = "
            f"{queue.namespace} (or it as its CE queue name): Harvester takes the namespace "
            "from there; `sitebox registration` lists its other CRIC fields",
            markup=False, soft_wrap=True,
        )  # fmt: skip
    for what in lacking:
        console.err.print(
            f"warning: the submitter may not {what}, which Harvester's Kubernetes plugins "
            "do; fix: set `components: {batch: {values: {queue: {harvester: true}}}}` in "
            "site.yaml and upgrade, or make those objects yourself (docs/grid.md)",
            markup=False, soft_wrap=True,
        )  # fmt: skip
