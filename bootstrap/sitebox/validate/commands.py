"""``sitebox validate``, and the same checks after ``sitebox install`` and ``upgrade``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sitebox import console
from sitebox.errors import SiteboxError
from sitebox.kube import Kube
from sitebox.options import context_option, kubeconfig_option
from sitebox.validate import runner
from sitebox.validate.runner import FAILED, NOT_RUN, PASSED, Check

FIX = "do what each failed check's fix says; `sitebox validate` checks again"


def counts(checks: list[Check]) -> dict[str, int]:
    return {s: sum(1 for c in checks if c.status == s) for s in (PASSED, FAILED, NOT_RUN)}


def summary(checks: list[Check]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts(checks).items())


def _table(checks: list[Check], to: Console) -> None:
    """One row per check; the checks of components the site does not run, one line."""
    absent = {c.name for c in checks if c.detail.endswith(" not installed")}
    table = Table("check", "result", "detail")
    styles = {PASSED: "green", FAILED: "red", NOT_RUN: "dim"}
    for check in checks:
        if check.name not in absent:
            # Text, not markup: names and details hold brackets ("pods ready [batch]").
            table.add_row(
                Text(check.name), Text(check.status, styles[check.status]), Text(check.detail)
            )
    to.print(table)
    components = sorted({c.detail.removeprefix("not run: ").split()[0] for c in checks
                         if c.name in absent})  # fmt: skip
    if components:
        to.print(f"not installed, so not checked: {', '.join(components)}", markup=False)
    to.print(f"validation: {summary(checks)}", markup=False)


def _failures(checks: list[Check]) -> str:
    return "\n".join(
        f"  {c.name}:\n" + "\n".join(f"    {line}" for line in c.detail.splitlines())
        for c in checks
        if c.status == FAILED
    )


def _reachable(kubeconfig: Path | None, context: str | None) -> None:
    """An unreachable cluster is one clear error, not every check failing with it."""
    Kube(kubeconfig, context).server_version()


@click.command("validate")
@kubeconfig_option
@context_option
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def validate_cmd(kubeconfig: Path | None, context: str | None, output: str) -> None:
    """Post-install checks: pods ready, services with endpoints, the hub's and the
    gateway's APIs, volumes bound, storage reachable; exit 1 if any fails."""
    _reachable(kubeconfig, context)
    checks = runner.run_site(kubeconfig, context)
    if output == "json":
        console.emit_json(
            {"checks": [c.as_dict() for c in checks], "counts": counts(checks),
             "ok": all(c.status != FAILED for c in checks)}
        )  # fmt: skip
    else:
        _table(checks, console.out)
    if any(c.status == FAILED for c in checks):
        raise SiteboxError(f"validation failed:\n{_failures(checks)}", hint=FIX)


def after_install(kubeconfig: Path | None, context: str | None) -> None:
    """The post-install validation: the suite's table on stderr (install's progress goes
    there too), and exit 1 if a check failed."""
    console.err.print("validating", markup=False)
    checks = runner.run_site(kubeconfig, context)
    _table(checks, console.err)
    if any(c.status == FAILED for c in checks):
        raise SiteboxError(f"installed, but validation failed:\n{_failures(checks)}", hint=FIX)
