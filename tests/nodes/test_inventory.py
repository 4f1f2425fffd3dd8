"""The node inventory: mistakes are reported with file and line before Ansible runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitebox.config import ConfigError
from sitebox.nodes import inventory
from tests.conftest import run_sitebox

pytestmark = pytest.mark.unit

GOOD = """\
vars:
  sitebox_ntp_servers: [ntp.example.org]
hosts:
  server-1:
    address: 10.0.0.10
    role: server
    user: debian
  worker-1:
    address: 10.0.0.11
    role: agent
    vars:
      sitebox_gpu: true
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nodes.yaml"
    path.write_text(text)
    return path


def test_a_good_inventory_becomes_the_ansible_groups(tmp_path: Path) -> None:
    loaded = inventory.load(_write(tmp_path, GOOD))
    groups = loaded.ansible()["all"]["children"]
    server = groups["k3s_server"]["hosts"]["server-1"]
    assert server["ansible_host"] == "10.0.0.10"
    assert server["ansible_become"] is True  # a non-root ssh user becomes root
    assert server["sitebox_ntp_servers"] == ["ntp.example.org"]
    assert groups["k3s_agent"]["hosts"]["worker-1"]["sitebox_gpu"] is True


def test_a_chroot_host_never_applies_runtime_steps(tmp_path: Path) -> None:
    """modprobe or sysctl from a chroot would change the machine running sitebox."""
    text = "hosts:\n  img: {address: /srv/image, role: server, connection: chroot}\n"
    host = inventory.load(_write(tmp_path, text)).ansible()["all"]["children"]["k3s_server"]
    assert host["hosts"]["img"]["sitebox_apply_runtime"] is False
    asking = text + "vars: {sitebox_apply_runtime: true}\n"
    with pytest.raises(ConfigError, match="sitebox_apply_runtime cannot be on for a chroot"):
        inventory.load(_write(tmp_path, asking))


def test_site_vars_do_not_override_the_inventory(tmp_path: Path) -> None:
    text = GOOD.replace("      sitebox_gpu: true", "      sitebox_cvmfs_proxy: DIRECT")
    loaded = inventory.load(_write(tmp_path, text)).with_vars({"sitebox_cvmfs_proxy": "http://s"})
    worker, server = loaded.hosts[1], loaded.hosts[0]
    assert worker.vars["sitebox_cvmfs_proxy"] == "DIRECT"
    assert server.vars["sitebox_cvmfs_proxy"] == "http://s"


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("role: agent", "role: worker", 10, "'worker' is not one of the allowed values"),
        ("sitebox_gpu: true", "sitebox_gpus: true", 12, "unknown variable 'sitebox_gpus'"),
        ("    address: 10.0.0.11\n", "", 8, "missing key 'address'"),
        ("    user: debian", "    usr: debian", 7, "unknown key 'usr'"),
        ("sitebox_gpu: true", "sitebox_firewall: iptables", 12, "'iptables' is not one of"),
    ],
)
def test_mistakes_name_the_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        inventory.load(path)
    rendered = caught.value.render()
    assert f"{path}:{line}" in rendered and message in rendered, rendered


def test_a_cluster_without_a_server_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("role: server", "role: agent"))
    with pytest.raises(ConfigError, match="no host has the role 'server'"):
        inventory.load(path)


def test_the_command_reports_a_bad_inventory_without_a_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("sitebox_gpu: true", "sitebox_ofline: true"))
    result = run_sitebox("nodes", "prepare", "-i", str(path))
    assert result.code == 1
    assert f"error: {path}:12 (hosts.worker-1.vars.sitebox_ofline)" in result.err
    assert "did you mean 'sitebox_offline'?" in result.err
    assert "Traceback" not in result.err


def test_the_k3s_folder_must_be_an_absolute_path(tmp_path: Path) -> None:
    """Ansible would look a relative one up in the playbook's folders, not the admin's."""
    path = _write(tmp_path, GOOD.replace("sitebox_gpu: true", "sitebox_k3s_from: k3s-release"))
    with pytest.raises(ConfigError) as refused:
        inventory.load(path)
    assert f"{path}:12 (hosts.worker-1.vars.sitebox_k3s_from)" in refused.value.render()
    assert "must be an absolute path, not 'k3s-release'" in refused.value.render()


UNREACHABLE = """\
vars: {sitebox_k3s_from: /srv/k3s-release}
hosts:
  node1: {address: 127.0.0.1, port: 9, role: server, user: nobody-here}
"""


@pytest.mark.nodes
def test_an_unreachable_host_is_named_in_the_summary_and_fails_the_run(tmp_path: Path) -> None:
    path = _write(tmp_path, UNREACHABLE)  # port 9 (discard) refuses connections
    result = run_sitebox("nodes", "prepare", "-i", str(path), "--offline")
    assert result.code == 1, result.err
    assert "1 of 1 hosts failed: node1" in result.err
    assert "unreachable" in result.err
    checked = run_sitebox("nodes", "verify", "-i", str(path), "-o", "json")
    assert checked.code == 1
    assert [f["check"] for f in json.loads(checked.out)["node1"]] == ["connection"]
