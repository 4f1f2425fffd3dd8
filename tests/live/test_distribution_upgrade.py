"""Upgrade from the previous distribution: installed by the previous sitebox release
(its own code, charts and distribution, from tests/fixtures/releases), upgraded by
this checkout. Secrets and volumes are kept; the charts and the recorded
distribution move to the new ones."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitebox.components.names import BATCH_NAMESPACE, SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose.render import RELEASES
from sitebox.compose.secrets import ClusterStore
from sitebox.helm import Helm
from sitebox.kube import Kube
from sitebox.lifecycle.status import SITE_INFO
from sitebox.model import distro
from sitebox.tools.store import tools_root
from tests.compose.conftest import write_site
from tests.conftest import FIXTURES, Cluster, Run, own_cluster, run_sitebox

pytestmark = pytest.mark.live

PREVIOUS = "2026.11"
SITE = (
    'name: prev\nprofile: demo\ndistribution: "{version}"\ncomponents:\n  batch:\n'
    "    mode: htcondor\n    workers: 1\n    quota: {{cpu: '6', memory: 12Gi}}\n"
    "    job: {{cpu: 500m, memory: 1Gi}}\n"
)


@pytest.fixture(scope="module")
def cluster(tools_ready: None, state_env: dict[str, str]) -> Iterator[Cluster]:
    with own_cluster("prev", state_env) as found:
        yield found


def previous_sitebox(folder: Path, *args: str, env: dict[str, str]) -> Run:
    """The previous release's `sitebox`: its code first on the path, so it reads its own data."""
    with tarfile.open(FIXTURES / "releases" / f"sitebox-{PREVIOUS}.tar.gz") as archive:
        archive.extractall(folder, filter="data")
    root = folder / f"sitebox-{PREVIOUS}"
    # The previous release knows no SITEBOX_CHART_CACHE: a cache of its own, with the
    # pinned tools and no upstream chart, keeps it to our own charts as this test is.
    cache = folder / "cache"
    cache.mkdir(exist_ok=True)
    if not (cache / "tools").exists():
        (cache / "tools").symlink_to(tools_root())
    done = subprocess.run(
        [sys.executable, "-m", "sitebox", *args],
        env={
            **os.environ,
            **env,
            "PYTHONPATH": str(root / "bootstrap"),
            "SITEBOX_CACHE": str(cache),
        },
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def test_a_site_of_the_previous_distribution_upgrades_keeping_secrets_and_volumes(
    cluster: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    kubeconfig, env = cluster
    kube, helm = Kube(kubeconfig), Helm(kubeconfig)
    current = distro.load()
    assert PREVIOUS in current.upgrades_from, "the fixture is the release this one upgrades from"

    site = write_site(tmp_path, SITE.format(version=PREVIOUS))
    installed = previous_sitebox(
        tmp_path / "previous", "install", "-f", str(site), "--skip-unavailable",
        "--kubeconfig", str(kubeconfig), env=env,
    )  # fmt: skip
    assert installed.code == 0, installed.err
    info = kube.get("v1", "ConfigMap", SITE_INFO, SITE_NAMESPACE) or {}
    assert info["data"]["distribution"] == PREVIOUS
    secrets = kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME)
    assert secrets and "batch.poolPassword" in secrets
    claims = kube.list_objects("v1", "PersistentVolumeClaim", BATCH_NAMESPACE)
    assert claims and all(c["status"]["phase"] == "Bound" for c in claims)
    volumes = {c["metadata"]["uid"]: c["spec"]["volumeName"] for c in claims}
    old_charts = {n: helm.current(n, ns).chart for _, n, ns in RELEASES}

    # The new sitebox does not carry the old distribution: it says how to move on.
    stale = run_sitebox(
        "upgrade", "-f", str(site), "--skip-unavailable", "--yes", "--kubeconfig", str(kubeconfig),
        env=env,
    )  # fmt: skip
    assert stale.code == 1
    assert f"unknown distribution version '{PREVIOUS}'" in stale.err
    assert f'set `distribution: "{current.version}"` in site.yaml' in stale.err

    site = write_site(tmp_path, SITE.format(version=current.version))
    upgraded = run_sitebox(
        "upgrade", "-f", str(site), "--skip-unavailable", "--yes", "--kubeconfig", str(kubeconfig),
        env=env, timeout=600,
    )  # fmt: skip
    assert upgraded.code == 0, upgraded.err
    info = kube.get("v1", "ConfigMap", SITE_INFO, SITE_NAMESPACE) or {}
    assert info["data"]["distribution"] == current.version
    for _, name, namespace in RELEASES:
        now = helm.current(name, namespace)
        assert (now.status, now.revision) == ("deployed", 2), name
        assert now.chart != old_charts[name], f"{name} moved to the new distribution's chart"
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == secrets
    after = kube.list_objects("v1", "PersistentVolumeClaim", BATCH_NAMESPACE)
    assert volumes.items() <= {c["metadata"]["uid"]: c["spec"]["volumeName"] for c in after}.items()
    assert not any(value in upgraded.out + upgraded.err for value in secrets.values())
