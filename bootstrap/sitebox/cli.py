"""The ``sitebox`` command: dispatch, and the one place errors become exit codes.

Exit codes: 0 success, 1 a ``SiteboxError`` (message and fix, no traceback),
3 a bug (traceback written to a log file), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

import click

from sitebox import __version__, console, procs
from sitebox.errors import RunInterruptedError, SiteboxError

# Where each command lives. A command's module is imported only when it runs: importing
# them all (the Kubernetes client, Helm, the sim cluster's PKI, Ansible's runner) cost
# every invocation, even `--version`, most of a second.
COMMANDS = {
    "accounting": "sitebox.accounting.commands:accounting",
    "backup": "sitebox.backup.commands:backup_cmd",
    "batch": "sitebox.batch.commands:batch",
    "bundle": "sitebox.compose.bundle_commands:bundle_group",
    "charts": "sitebox.compose.commands:charts_group",
    "cluster": "sitebox.cluster.commands:cluster",
    "fleet": "sitebox.fleet.commands:fleet",
    "history": "sitebox.lifecycle.commands:history_cmd",
    "init": "sitebox.compose.commands:init_cmd",
    "install": "sitebox.lifecycle.commands:install_cmd",
    "nodes": "sitebox.nodes.commands:nodes",
    "plan": "sitebox.compose.commands:plan_cmd",
    "preflight": "sitebox.preflight.commands:preflight_cmd",
    "registration": "sitebox.registration.commands:registration_cmd",
    "render": "sitebox.compose.commands:render_cmd",
    "restore": "sitebox.backup.commands:restore_cmd",
    "rollback": "sitebox.lifecycle.commands:rollback_cmd",
    "status": "sitebox.lifecycle.commands:status_cmd",
    "tools": "sitebox.tools.commands:tools",
    "uninstall": "sitebox.lifecycle.commands:uninstall_cmd",
    "upgrade": "sitebox.lifecycle.commands:upgrade_cmd",
    "validate": "sitebox.validate.commands:validate_cmd",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, name = COMMANDS[cmd_name].partition(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sitebox")
def cli() -> None:
    """sitebox: JupyterHub, Dask, REANA, CVMFS and a batch connector as one site."""


def _crash_log(exc: BaseException) -> Path:
    with tempfile.NamedTemporaryFile(
        "w", prefix="sitebox-crash-", suffix=".log", delete=False
    ) as handle:
        handle.write(f"sitebox {__version__}, python {sys.version}\nargv: {sys.argv}\n\n")
        handle.write("".join(traceback.format_exception(exc)))
        return Path(handle.name)


def _terminate(signum: int, frame: object) -> None:
    """A service manager's or a CI runner's stop is a Ctrl-C: the same cleanup, the same
    word on the state left behind. A terminal's Ctrl-C reaches the helm processes too
    (they share its process group); a SIGTERM is sent to sitebox alone, so it is passed
    on to them, and Helm stops its operation as it does on Ctrl-C."""
    for pid in procs.descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(standalone_mode=False)
    except RunInterruptedError as exc:
        console.err.print(exc.render(), markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
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
