"""The ``sitebox`` command: dispatch, and the one place errors become exit codes.

Exit codes: 0 success, 1 a ``SiteboxError`` (message and fix, no traceback),
3 a bug (traceback written to a log file), 130 interrupted.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path

import click

from sitebox import __version__, console
from sitebox.batch.commands import batch
from sitebox.cluster.commands import cluster
from sitebox.compose.commands import (
    bundle_group,
    charts_group,
    init_cmd,
    plan_cmd,
    render_cmd,
)
from sitebox.errors import SiteboxError
from sitebox.fleet.commands import fleet
from sitebox.lifecycle.commands import (
    install_cmd,
    rollback_cmd,
    status_cmd,
    uninstall_cmd,
    upgrade_cmd,
)
from sitebox.nodes.commands import nodes
from sitebox.preflight.commands import preflight_cmd
from sitebox.tools.commands import tools
from sitebox.validate.commands import validate_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sitebox")
def cli() -> None:
    """sitebox: JupyterHub, Dask, REANA, CVMFS and a batch connector as one site."""


cli.add_command(tools)
cli.add_command(cluster)
cli.add_command(batch)
cli.add_command(nodes)
cli.add_command(validate_cmd)
cli.add_command(fleet)
for command in (
    init_cmd, render_cmd, plan_cmd, charts_group, bundle_group,
    install_cmd, upgrade_cmd, status_cmd, rollback_cmd, uninstall_cmd, preflight_cmd,
):  # fmt: skip
    cli.add_command(command)


def _crash_log(exc: BaseException) -> Path:
    with tempfile.NamedTemporaryFile(
        "w", prefix="sitebox-crash-", suffix=".log", delete=False
    ) as handle:
        handle.write(f"sitebox {__version__}, python {sys.version}\nargv: {sys.argv}\n\n")
        handle.write("".join(traceback.format_exception(exc)))
        return Path(handle.name)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except SiteboxError as exc:
        console.err.print(exc.render(), markup=False, soft_wrap=True)
        sys.exit(1)
    except click.exceptions.Abort:
        console.err.print("interrupted")
        sys.exit(130)
    except KeyboardInterrupt:
        console.err.print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:  # the boundary for bugs: log the traceback, show one line
        log = _crash_log(exc)
        console.err.print(
            f"internal error: {type(exc).__name__}: {exc}\n  this is a bug in sitebox; "
            f"the traceback is in {log}",
            markup=False,
        )
        sys.exit(3)
