import dataclasses
import os
import socket
import sys
from pathlib import Path

import pytest

from sitebox import procs

pytestmark = pytest.mark.unit

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_spawn_and_stop_exactly_that_process(tmp_path: Path) -> None:
    record = procs.spawn("sleeper", SLEEPER, tmp_path / "log")
    assert procs.alive(record)
    procs.stop(record, grace=5)
    assert not procs.alive(record)


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    record = procs.spawn("sleeper", SLEEPER, tmp_path / "log")
    # Same pid, different start time: what a recycled pid looks like.
    impostor = dataclasses.replace(record, start_ticks=record.start_ticks + 1)
    assert not procs.alive(impostor)
    procs.stop(impostor, grace=0.1)
    assert procs.alive(record)
    procs.stop(record, grace=5)


def test_port_in_use_and_listening_ports() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert procs.port_in_use(port)
        assert ("127.0.0.1", port) in procs.listening_sockets(os.getpid())
    assert not procs.port_in_use(port)


def test_free_ports_are_distinct() -> None:
    ports = procs.free_ports(6)
    assert len(set(ports)) == 6
