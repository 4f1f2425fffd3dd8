"""``sitebox tools install|status``."""

from __future__ import annotations

import time

import click
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from sitebox import console
from sitebox.errors import SiteboxError
from sitebox.tools import install as installer
from sitebox.tools import pins as pinfile
from sitebox.tools.store import bin_dir


@click.group()
def tools() -> None:
    """Build and inspect the pinned tools (helm, Kubernetes, etcd, kwok)."""


@tools.command("install")
@click.option("--force", is_flag=True, help="Rebuild even where a verified build is cached.")
@click.option("--only", multiple=True, help="Install only these tools (repeatable).")
def install_cmd(force: bool, only: tuple[str, ...]) -> None:
    """Build the pinned tools into the cache; verified cached builds are reused."""
    pins = pinfile.load()
    unknown = set(only) - pins.tools.keys()
    if unknown:
        raise SiteboxError(
            f"unknown tool(s): {', '.join(sorted(unknown))}",
            hint=f"choose from {', '.join(pins.tools)}",
        )
    selected = [p for n, p in pins.tools.items() if not only or n in only]
    installer.check_go(pins)
    failures: list[SiteboxError] = []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console.err, transient=False,
    ) as progress:  # fmt: skip
        for pin in selected:
            task = progress.add_task(f"{pin.name} {pin.version}: checking", total=1)
            started = time.monotonic()

            def step(text: str, task: TaskID = task) -> None:
                progress.update(task, description=text)

            try:
                result = installer.install(pin, force=force, on_step=step)
            except SiteboxError as failure:
                failures.append(failure)
                progress.update(task, description=f"[red]{pin.name} {pin.version}: failed")
                continue
            took = time.monotonic() - started
            progress.update(
                task,
                completed=1,
                description=f"{pin.name} {pin.version}: {result.state} ({took:.1f}s)",
            )
    if failures:
        for exc in failures[:-1]:
            console.err.print(exc.render(), markup=False)
        raise failures[-1]
    console.err.print(f"tools ready in {bin_dir()}")


@tools.command("status")
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def status_cmd(output: str) -> None:
    """List the pinned tools and whether a verified build is installed."""
    pins = pinfile.load()
    rows = [installer.status(pin) for pin in pins.tools.values()]
    if output == "json":
        console.emit_json([row.__dict__ for row in rows])
    else:
        table = Table("tool", "version", "state", "where", "detail")
        for row in rows:
            color = "green" if row.state == "cached" else "red"
            table.add_row(row.name, row.version, f"[{color}]{row.state}", row.path, row.detail)
        console.out.print(table)
    if any(row.state != "cached" for row in rows):
        raise SystemExit(1)
