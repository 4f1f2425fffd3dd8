"""`sitebox nodes prepare` and `verify` run for real, on a debootstrapped Debian root."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.nodes.conftest import (
    Prepared,
    fake_k3s,
    fresh_root,
    prepare,
    verify,
    write_inventory,
    write_site,
)

pytestmark = pytest.mark.nodes


def test_prepare_configures_a_fresh_host(prepared: Prepared) -> None:
    assert prepared.first.code == 0, prepared.first.err
    assert "1 host ready: 1 changed, 0 failed" in prepared.first.err
    etc = prepared.root / "etc"
    assert (etc / "modules-load.d" / "sitebox.conf").read_text().split()[-3:] == [
        "br_netfilter",
        "fuse",
        "overlay",
    ]
    assert "net.ipv4.ip_forward = 1" in (etc / "sysctl.d" / "90-sitebox.conf").read_text()
    assert "\nuser_allow_other\n" in (etc / "fuse.conf").read_text()
    cvmfs = (etc / "cvmfs" / "default.local").read_text()
    assert "CVMFS_REPOSITORIES=atlas.cern.ch,sft.cern.ch\n" in cvmfs  # from site.yaml
    assert 'CVMFS_HTTP_PROXY="http://squid.example.org:3128"' in cvmfs
    assert "server ntp.example.org iburst" in (etc / "chrony/sources.d/sitebox.sources").read_text()
    assert (
        "ports=6443/tcp|2379:2380/tcp|10250/tcp|8472/udp"
        in (etc / "ufw/applications.d/sitebox-k3s").read_text()
    )
    # Installed by apt inside the root, from the image's package cache.
    status = (prepared.root / "var/lib/dpkg/status").read_text()
    assert "Package: chrony\nStatus: install ok installed" in status
    # k3s from the release folder, checked, and run by a unit of the playbook's own.
    k3s = prepared.root / "usr/local/bin/k3s"
    assert k3s.read_bytes() == fake_k3s("v0.0.0+sitebox1")
    assert stat.S_IMODE(k3s.stat().st_mode) == 0o755 and k3s.stat().st_uid == 0
    assert (prepared.root / "usr/local/bin/kubectl").readlink() == Path("/usr/local/bin/k3s")
    units = etc / "systemd/system"
    unit = (units / "k3s.service").read_text()
    assert f"\nExecStart=/usr/local/bin/k3s server --tls-san {prepared.root}\n" in unit
    assert "\nType=notify\n" in unit
    assert "EnvironmentFile=-/etc/systemd/system/k3s.service.env" in unit
    env = units / "k3s.service.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    wants = units / "multi-user.target.wants/k3s.service"
    assert wants.readlink() == Path("/etc/systemd/system/k3s.service")
    assert "K3S_TOKEN" not in env.read_text()  # the first server makes its own
    # No install script was fetched or run.
    assert not (prepared.root / "usr/local/bin/k3s-install.sh").exists()


def test_second_run_changes_nothing(prepared: Prepared) -> None:
    again = prepare(prepared.inventory, prepared.site)
    assert again.code == 0, again.err
    assert "1 host ready: 0 changed, 0 failed" in again.err


def test_verify_passes_file_checks_and_does_not_pass_runtime_ones(prepared: Prepared) -> None:
    result = verify(prepared.inventory, prepared.site, "-o", "json")
    assert result.code == 0, result.err
    findings = {f["check"]: f for f in json.loads(result.out)["node1"]}
    files = [f for f in findings.values() if f["kind"] == "file"]
    assert len(files) == 7 and all(f["status"] == "pass" for f in files), files
    runtime = [f for f in findings.values() if f["kind"] == "runtime"]
    assert runtime and all(
        (f["status"], f["detail"]) == ("not run", "not run in a chroot") for f in runtime
    )
    # Offline, but from a release folder: k3s was installed, so it is checked.
    assert findings["k3s installed"]["status"] == "pass", findings["k3s installed"]
    assert findings["k3s installed"]["detail"].startswith("k3s version v0.0.0+sitebox1 (fake)")


def test_verify_fails_on_a_broken_file_and_says_which(prepared: Prepared) -> None:
    conf = prepared.root / "etc" / "sysctl.d" / "90-sitebox.conf"
    saved = conf.read_bytes()
    conf.unlink()
    try:
        result = verify(prepared.inventory, prepared.site, "-o", "json")
    finally:
        conf.write_bytes(saved)
    assert result.code == 1
    assert "1 check failed (node1: kernel settings at boot)" in result.err
    failed = [f for f in json.loads(result.out)["node1"] if f["status"] == "fail"]
    assert [(f["check"], f["detail"]) for f in failed] == [
        ("kernel settings at boot", "/etc/sysctl.d/90-sitebox.conf is missing")
    ]


def _state(root: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of everything under /etc, and the package database."""
    paths = [*root.joinpath("etc").rglob("*"), root / "var/lib/dpkg/status"]
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in paths}


def test_check_reports_changes_and_makes_none(testbed_image: Path, scratch: Path) -> None:
    root = fresh_root(testbed_image, scratch)
    inventory, site = write_inventory(scratch, root), write_site(scratch)
    before = _state(root)
    result = prepare(inventory, site, "--check", "--diff")
    assert result.code == 0, result.err
    assert "1 host ready: 1 would change, 0 failed" in result.err
    assert "+net.ipv4.ip_forward = 1" in result.out  # the diff of the sysctl file
    assert _state(root) == before
    assert not (root / "usr/local/bin/k3s").exists()
