"""Background processes we start and must later stop: exactly those, by pid.

A pid alone can be reused by the kernel after the process exits, so each
record also keeps the process's start time (from /proc); stopping checks both
and never signals a process that merely inherited the number.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int
    argv: tuple[str, ...]
    log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessRecord:
        return cls(
            name=data["name"],
            pid=int(data["pid"]),
            start_ticks=int(data["start_ticks"]),
            argv=tuple(data["argv"]),
            log=data["log"],
        )


def start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after its closing paren are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent's wait() remains
        return None
    return int(fields[19])


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs, from /proc (children first)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], list(parents.get(pid, []))
    while queue:
        child = queue.pop(0)
        found.append(child)
        queue += parents.get(child, [])
    return found


def spawn(
    name: str, argv: list[str], log: Path, env: dict[str, str] | None = None
) -> ProcessRecord:
    """Start ``argv`` detached in its own session, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    ticks = start_ticks(proc.pid)
    return ProcessRecord(name, proc.pid, ticks or 0, tuple(argv), str(log))


def alive(record: ProcessRecord) -> bool:
    ticks = start_ticks(record.pid)
    return ticks is not None and ticks == record.start_ticks


def stop(record: ProcessRecord, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; a no-op if it is already gone."""
    if not alive(record):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not alive(record):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGKILL)
    while alive(record):
        _reap(record.pid)
        time.sleep(0.02)


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on the port. Connections lingering in TIME_WAIT
    do not count: the servers we start set SO_REUSEADDR, as this check does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports the kernel says are free now; held together so none is handed out twice."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def _listeners(table: str, inodes: set[str]) -> list[str]:
    rows = (line.split() for line in Path(table).read_text().splitlines()[1:])
    return [row[1] for row in rows if row[3] == "0A" and row[9] in inodes]  # 0A: LISTEN


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of each IPv4 TCP socket a process listens on, read from /proc."""
    found = set()
    for local in _listeners("/proc/net/tcp", _socket_inodes(pid)):
        address, port = local.split(":")
        octets = bytes.fromhex(address)[::-1]  # /proc prints the address little-endian
        found.add((".".join(map(str, octets)), int(port, 16)))
    return found


def listening_tcp6(pid: int) -> int:
    """How many IPv6 TCP listeners a process has (we expect none: all bind 127.0.0.1)."""
    return len(_listeners("/proc/net/tcp6", _socket_inodes(pid)))
