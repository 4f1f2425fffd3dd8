"""Bundles after they were carried: `bundle verify` finds what changed on the way, and
`bundle push` copies the images into a site's registry with the real crane."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitebox import procs
from sitebox.kube import wait_for
from sitebox.tools.store import binary
from tests.compose.conftest import write_site
from tests.conftest import run_sitebox

pytestmark = pytest.mark.chart

# Our own two charts only: a bundle that any clone can make.
QUEUE_SITE = (
    "name: own\nprofile: tier3\ncomponents:\n  hub: {enabled: false}\n  dask: {enabled: false}\n"
    "  storage: {enabled: false}\n  cvmfs: {enabled: false}\n"
)


def _with_job_image(image: str) -> str:
    return QUEUE_SITE + f"  batch:\n    values:\n      job: {{image: '{image}'}}\n"


def _bundle(tmp_path: Path, env: dict[str, str], body: str) -> tuple[Path, Path]:
    site = write_site(tmp_path, body)
    made = run_sitebox("bundle", "create", "-f", str(site), "-o", "b.tgz", env=env, cwd=tmp_path)
    assert made.code == 0, made.err
    return site, tmp_path / "b.tgz"


def _rewrite(bundle: Path, change: dict[str, bytes | None]) -> None:
    """Rewrite members of the bundle (None removes one), as a hand on the way could."""
    with tarfile.open(bundle) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]  # type: ignore[union-attr]
    with tarfile.open(bundle, "w:gz") as tar:
        for member, data in members:
            if member.name in change:
                data = change[member.name]
                if data is None:
                    continue
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)


def _member(bundle: Path, name: str) -> bytes:
    with tarfile.open(bundle) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


def test_the_job_image_a_site_chooses_is_carried(tmp_path: Path, workspace: dict[str, str]) -> None:
    _, bundle = _bundle(tmp_path, workspace, _with_job_image("registry.example.org/hep/job:2.1"))
    listed = _member(bundle, "images.txt").decode().split()
    assert "registry.example.org/hep/job:2.1" in listed


def test_a_job_image_by_a_moving_tag_is_refused(tmp_path: Path, workspace: dict[str, str]) -> None:
    site = write_site(tmp_path, _with_job_image("registry.example.org/hep/job:latest"))
    made = run_sitebox("bundle", "create", "-f", str(site), "-o", "b.tgz", env=workspace,
                       cwd=tmp_path)  # fmt: skip
    assert made.code == 1
    assert "/job/image" in made.err  # the batch chart's own schema refuses it first
    assert not (tmp_path / "b.tgz").exists()


def test_verify_accepts_the_bundle_as_made(tmp_path: Path, workspace: dict[str, str]) -> None:
    site, bundle = _bundle(tmp_path, workspace, QUEUE_SITE)
    checked = run_sitebox("bundle", "verify", str(bundle), "-f", str(site), "-o", "json",
                          env=workspace, cwd=tmp_path)  # fmt: skip
    assert checked.code == 0, checked.err
    report = json.loads(checked.out)
    assert report["ok"] and report["charts"] == 2 and report["problems"] == []
    assert report["images"] == len(_member(bundle, "images.txt").split())


def test_verify_refuses_a_changed_chart(tmp_path: Path, workspace: dict[str, str]) -> None:
    _, bundle = _bundle(tmp_path, workspace, QUEUE_SITE)
    values = "charts/batch-0.1.0/values.yaml"
    _rewrite(bundle, {values: _member(bundle, values) + b"\nextra: 1\n"})
    checked = run_sitebox("bundle", "verify", str(bundle), env=workspace, cwd=tmp_path)
    assert checked.code == 1
    assert "batch" in checked.err and "Traceback" not in checked.err


def test_verify_refuses_an_image_list_that_differs_from_the_manifest(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    _, bundle = _bundle(tmp_path, workspace, QUEUE_SITE)
    listed = _member(bundle, "images.txt").decode().split()
    _rewrite(bundle, {"images.txt": ("\n".join(listed[1:]) + "\n").encode()})
    checked = run_sitebox("bundle", "verify", str(bundle), env=workspace, cwd=tmp_path)
    assert checked.code == 1
    assert "images.txt differs from the image list in bundle.json" in checked.err


def test_verify_names_an_image_the_site_runs_that_the_bundle_lacks(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    _, bundle = _bundle(tmp_path, workspace, QUEUE_SITE)
    other = write_site(tmp_path, _with_job_image("registry.example.org/hep/job:2.1"), "other.yaml")
    checked = run_sitebox("bundle", "verify", str(bundle), "-f", str(other), env=workspace,
                          cwd=tmp_path)  # fmt: skip
    assert checked.code == 1
    assert "missing from the bundle: registry.example.org/hep/job:2.1" in checked.out


@pytest.fixture
def registry(tools_ready: None, tmp_path: Path) -> Iterator[str]:
    """A real registry on loopback: crane's own, serving from memory."""
    (port,) = procs.free_ports(1)
    address = f"127.0.0.1:{port}"
    record = procs.spawn(
        "registry",
        [str(binary("crane")), "registry", "serve", "--address", address],
        tmp_path / "registry.log",
    )
    try:
        wait_for("the registry to listen", lambda: procs.port_in_use(port), 10)
        yield address
    finally:
        procs.stop(record)


def _crane(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary("crane")), *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_push_copies_each_image_and_names_each_it_could_not(
    tmp_path: Path, workspace: dict[str, str], registry: str
) -> None:
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        data = b"echo job\n"
        info = tarfile.TarInfo("job.sh")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    source = f"{registry}/src/job:1.0"
    made = _crane("append", "--insecure", "-f", str(layer), "-t", source)
    assert made.returncode == 0, made.stderr
    _, bundle = _bundle(tmp_path, workspace, _with_job_image(source))

    dry = run_sitebox("bundle", "push", str(bundle), "--registry", f"{registry}/mirror",
                      "--insecure", "--dry-run", env=workspace, cwd=tmp_path)  # fmt: skip
    assert dry.code == 0, dry.err
    assert f"crane copy --insecure {source} {registry}/mirror/src/job:1.0" in dry.out.splitlines()

    pushed = run_sitebox("bundle", "push", str(bundle), "--registry", f"{registry}/mirror",
                         "--insecure", "-o", "json", env=workspace, cwd=tmp_path)  # fmt: skip
    copies = {c["source"]: c for c in json.loads(pushed.out)}
    assert copies[source]["ok"], copies[source]
    assert _crane("digest", "--insecure", f"{registry}/mirror/src/job:1.0").stdout == (
        _crane("digest", "--insecure", source).stdout
    )
    # The rest come from public registries this machine may not reach: each is reported
    # with crane's reason, and the command fails so that a script sees it.
    unreached = [c for c in copies.values() if not c["ok"]]
    assert all(c["error"] for c in unreached)
    assert pushed.code == (1 if unreached else 0)


def test_push_refuses_a_url_for_a_registry(tmp_path: Path, workspace: dict[str, str]) -> None:
    _, bundle = _bundle(tmp_path, workspace, QUEUE_SITE)
    pushed = run_sitebox("bundle", "push", str(bundle), "--registry", "https://r.example",
                         env=workspace, cwd=tmp_path)  # fmt: skip
    assert pushed.code == 1
    assert "is not a registry name" in pushed.err and "host[:port]" in pushed.err
