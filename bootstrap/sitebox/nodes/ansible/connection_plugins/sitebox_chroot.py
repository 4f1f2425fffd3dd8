"""Ansible connection to a root filesystem on the controller, through chroot(8).

ansible-core has no chroot connection (``community.general.chroot`` has one, but
that collection comes with the 500 MB ``ansible`` package or Galaxy). sitebox uses
this one to prepare images and to test its playbooks against a debootstrapped root.
Files go in and out through ``dd``/``cat`` run *inside* the chroot, so a symlink
in the image can never make a copy land outside it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
name: sitebox_chroot
short_description: Run tasks in a root filesystem on the controller, through chroot
description: Commands run as `chroot ROOT /bin/sh -c CMD`; needs root on the controller.
author: sitebox
options:
  remote_addr:
    description: Path of the root filesystem.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
"""


class Connection(ConnectionBase):
    transport = "sitebox_chroot"
    has_pipelining = True
    has_tty = False

    def _root(self) -> str:
        root = Path(str(self.get_option("remote_addr")))
        if not (root / "bin" / "sh").exists():
            raise AnsibleConnectionFailure(f"{root} is not a root filesystem (no /bin/sh in it)")
        return str(root)

    def _connect(self) -> Connection:
        if shutil.which("chroot") is None:
            raise AnsibleError("the chroot command is not on PATH")
        super()._connect()
        self._connected = True
        return self

    def _run(self, argv: list[str], stdin: bytes | None) -> tuple[int, bytes, bytes]:
        done = subprocess.run(
            ["chroot", self._root(), *argv], input=stdin or b"", capture_output=True, check=False
        )
        return done.returncode, done.stdout, done.stderr

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = False
    ) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._run(["/bin/sh", "-c", cmd], in_data)

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        code, _, err = self._run(["dd", f"of={out_path}", "bs=65536", "status=none"],
                                 Path(in_path).read_bytes())  # fmt: skip
        if code != 0:
            raise AnsibleError(f"could not write {out_path} in the chroot: {err.decode()}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        code, data, err = self._run(["cat", in_path], None)
        if code != 0:
            raise AnsibleError(f"could not read {in_path} in the chroot: {err.decode()}")
        Path(out_path).write_bytes(data)

    def close(self) -> None:
        super().close()
        self._connected = False
