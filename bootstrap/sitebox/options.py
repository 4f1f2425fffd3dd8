"""Command-line options several commands share, declared once."""

from __future__ import annotations

from pathlib import Path

import click

kubeconfig_option = click.option(
    "--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help="Default: $KUBECONFIG."
)
context_option = click.option("--context", help="Kubeconfig context (default: the current one).")
validate_option = click.option(
    "--validate/--no-validate", default=True, show_default=True,
    help="Run the `sitebox validate` suite after applying.",
)  # fmt: skip
