"""The one module that runs Ansible: the shipped playbook, through ansible-runner.

ansible-runner writes the inventory, variables and every event to its private
data dir; that is a temporary folder (0700) removed after the run, so nothing a
run saw (a join token, a kubeconfig) stays on disk. Tasks that handle secrets are
``no_log``: their events carry no values, and so neither does anything shown here.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitebox.errors import SiteboxError
from sitebox.nodes import ANSIBLE_DIR
from sitebox.nodes.inventory import Inventory

PLAYBOOK = "site.yml"
_ENV = {
    # Modules go over the connection's stdin instead of as temporary files: far fewer
    # round trips per task, over ssh and chroot alike.
    "ANSIBLE_PIPELINING": "True",
    "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
    "ANSIBLE_NOCOLOR": "True",
}


@dataclass
class HostResult:
    name: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    task: str = ""  # the task running now, then the last one
    errors: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"


@dataclass
class RunResult:
    hosts: dict[str, HostResult]
    check: bool

    @property
    def failed(self) -> list[HostResult]:
        return [host for host in self.hosts.values() if host.state in ("failed", "unreachable")]

    @property
    def changed(self) -> list[HostResult]:
        return [host for host in self.hosts.values() if host.changed]


OnEvent = Callable[[HostResult], None]


class _Events:
    """Turns ansible-runner's events into per-host counts, errors and diffs."""

    def __init__(self, hosts: dict[str, HostResult], on_event: OnEvent, diff: bool):
        self.hosts = hosts
        self.on_event = on_event
        self.diff = diff

    def __call__(self, event: Mapping[str, Any]) -> bool:
        data = event.get("event_data") or {}
        host = self.hosts.get(str(data.get("host", "")))
        kind = str(event.get("event", ""))
        if host is None or not kind.startswith("runner_on_"):
            return True
        task = str(data.get("task", ""))
        res = data.get("res") or {}
        if kind == "runner_on_start":
            host.task = task
        elif kind == "runner_on_ok":
            host.ok += 1
            if res.get("changed"):
                host.changed += 1
                if self.diff:
                    host.diffs += _diffs(task, res)
        elif kind == "runner_on_skipped":
            host.skipped += 1
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            host.failed += 1
            host.errors.append(f"{task}: {_message(res)}")
        elif kind == "runner_on_unreachable":
            host.unreachable += 1
            host.errors.append(f"unreachable: {_message(res)}")
        self.on_event(host)
        return True


def _message(res: Mapping[str, Any]) -> str:
    """The line that says why a task failed; a module's own msg, else its stderr's end."""
    for key in ("msg", "stderr", "stdout"):
        text = str(res.get(key) or "").strip()
        if text:
            return text.splitlines()[-1] if key != "msg" else text
    return "failed (no message)"


def _diffs(task: str, res: Mapping[str, Any]) -> list[str]:
    found = res.get("diff") or []
    out = []
    for item in found if isinstance(found, list) else [found]:
        if "prepared" in item:
            out.append(f"--- {task}\n{item['prepared']}")
        elif "before" in item or "after" in item:
            before = str(item.get("before", "")).splitlines(keepends=True)
            after = str(item.get("after", "")).splitlines(keepends=True)
            lines = difflib.unified_diff(
                before,
                after,
                str(item.get("before_header", "before")),
                str(item.get("after_header", "after")),
            )
            out.append(f"--- {task}\n" + "".join(lines))
    return out


def run(
    inventory: Inventory,
    *,
    check: bool = False,
    diff: bool = False,
    extravars: Mapping[str, Any] | None = None,
    on_event: OnEvent = lambda host: None,
) -> RunResult:
    """Run the shipped playbook on every host; raise SiteboxError if Ansible could not start."""
    try:
        import ansible_runner
    except ImportError:
        raise SiteboxError(
            "Ansible is not installed",
            hint="install sitebox with its nodes extra: pip install 'sitebox[nodes]'",
        ) from None
    hosts = {host.name: HostResult(host.name) for host in inventory.hosts}
    handler = _Events(hosts, on_event, diff)
    cmdline = " ".join(flag for flag, on in (("--check", check), ("--diff", diff)) if on)
    with tempfile.TemporaryDirectory(prefix="sitebox-ansible-") as private:
        result = ansible_runner.run(
            private_data_dir=private,
            project_dir=str(ANSIBLE_DIR),
            playbook=PLAYBOOK,
            inventory=inventory.ansible(),
            extravars=dict(extravars or {}),
            envvars={**_ENV, "PATH": _path()},
            cmdline=cmdline or None,
            event_handler=handler,
            quiet=True,
        )
        stats = result.stats
        if not stats:  # Ansible stopped before any host ran: a playbook or inventory error
            raise SiteboxError(
                f"Ansible could not run the playbook: {_tail(result.stdout.read())}",
                hint="the message is Ansible's; check the variables in the inventory",
            )
    # The recap's counts are Ansible's own; the events only drove the progress display.
    for key, attribute in _STATS.items():
        for name, count in stats.get(key, {}).items():
            if name in hosts:
                setattr(hosts[name], attribute, count)
    return RunResult(hosts, check)


_STATS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
}


def _path() -> str:
    """PATH with this Python's folder first: an unactivated virtualenv's ansible-playbook."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _tail(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line]
    return " ".join((errors or lines or ["no output"])[-3:])
