"""A real demo site of the previous distribution, installed by the previous sitebox
release with the real upstream charts, upgraded by this checkout.

2026.11 could not harden or route the upstream charts: a site running them had to waive
the policies and turn the LoadBalancer Services into ClusterIP with raw values, as here.
The upgrade drops both: 2026.12 composes all of it. Secrets and data are kept, and
SeaweedFS's StatefulSets, whose master and filer move from a node's folder to claims,
are made again around their running pods.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from sitebox.components.names import SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose.secrets import ClusterStore
from sitebox.kube import Kube
from sitebox.lifecycle.status import SITE_INFO
from sitebox.tools.store import tools_root
from tests.conftest import FIXTURES, UPSTREAM_CHARTS, Run
from tests.site.conftest import SiteCluster

pytestmark = pytest.mark.live
PROFILE = "demo"
PREVIOUS = "2026.11"
# SeaweedFS's claims: the volume server's data, and the master's (new in 2026.12).
DATA = "data-sitebox-seaweedfs-volume-0"
MASTER = "data-sitebox-sitebox-seaweedfs-master-0"
OLD_SITE = f"""apiVersion: sitebox.io/v1
kind: Site
name: demo
profile: demo
distribution: "{PREVIOUS}"
policy:
  waivers:
    requests-limits: "{PREVIOUS} cannot size the upstream charts' containers"
    non-root: "{PREVIOUS} cannot state the upstream charts' users"
    probes: "{PREVIOUS} cannot add the upstream charts' probes"
components:
  hub: {{values: {{proxy: {{service: {{type: ClusterIP}}}}}}}}
  dask: {{values: {{traefik: {{service: {{type: ClusterIP}}}}}}}}
"""


def previous_sitebox(folder: Path, cluster: SiteCluster, *args: str) -> Run:
    """The previous release's own code and data; its cache holds the pinned tools and the
    real charts (it knows no SITEBOX_CHART_CACHE)."""
    with tarfile.open(FIXTURES / "releases" / f"sitebox-{PREVIOUS}.tar.gz") as archive:
        archive.extractall(folder, filter="data")
    cache = folder / "cache"
    cache.mkdir()
    (cache / "tools").symlink_to(tools_root())
    (cache / "charts").symlink_to(UPSTREAM_CHARTS)
    root = folder / f"sitebox-{PREVIOUS}"
    env = {**os.environ, **cluster.env, "SITEBOX_CACHE": str(cache),
           "PYTHONPATH": str(root / "bootstrap")}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "sitebox", *args, "--kubeconfig", str(cluster.kubeconfig)],
        env=env, cwd=root, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)


def test_the_previous_distributions_real_site_upgrades(
    profile_cluster: SiteCluster, tmp_path: Path
) -> None:
    kube = Kube(profile_cluster.kubeconfig)
    old = tmp_path / "old.yaml"
    old.write_text(OLD_SITE)
    installed = previous_sitebox(tmp_path / "previous", profile_cluster, "install", "-f", str(old))
    assert installed.code == 0, installed.err[-3000:]
    assert "left out" not in installed.err, "the previous release installed the real charts"
    secrets = kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME)
    assert secrets and "hub.cookieSecret" in secrets
    data = kube.get("v1", "PersistentVolumeClaim", DATA, SITE_NAMESPACE)
    assert data and data["status"]["phase"] == "Bound"

    upgraded = profile_cluster.sitebox("upgrade", "-f", str(profile_cluster.site), "--yes")
    assert upgraded.code == 0, upgraded.err[-3000:]
    assert "sitebox: StatefulSet sitebox/sitebox-seaweedfs-master made again" in upgraded.err
    assert "validation:" in upgraded.err and ", 0 failed" in upgraded.err
    info = kube.get("v1", "ConfigMap", SITE_INFO, SITE_NAMESPACE) or {}
    assert info["data"]["distribution"] != PREVIOUS
    assert kube.read_secret(SYSTEM_NAMESPACE, ClusterStore.NAME) == secrets
    kept = kube.get("v1", "PersistentVolumeClaim", DATA, SITE_NAMESPACE)
    assert kept and kept["metadata"]["uid"] == data["metadata"]["uid"], "the S3 data is kept"
    assert kept["spec"]["volumeName"] == data["spec"]["volumeName"]
    master = kube.get("v1", "PersistentVolumeClaim", MASTER, SITE_NAMESPACE)
    assert master and master["status"]["phase"] == "Bound", "the master's metadata on a claim"
    proxy = kube.get("v1", "Service", "proxy-public", SITE_NAMESPACE) or {}
    assert proxy["spec"]["type"] == "ClusterIP"
    assert not any(value in upgraded.out + upgraded.err for value in secrets.values())
