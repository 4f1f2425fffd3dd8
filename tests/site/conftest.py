"""The real site: every profile with the real upstream charts at the distribution's pins.

These tests run whenever the charts are in the machine's chart cache (`sitebox charts
import` or `charts pull` put them there). Where they are not, they skip with the reason;
with SITEBOX_REQUIRE_UPSTREAM=1 (the hosted workflow sets it after `charts pull`) that is
a failure instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sitebox.compose.chartpins import CACHED, state
from sitebox.model import distro
from tests.conftest import UPSTREAM_CHARTS, Run, run_sitebox

REQUIRE = "SITEBOX_REQUIRE_UPSTREAM"
# Each profile on a sim cluster sized to its `requires` (nodes, volumes, node pools): the
# volumes hold the S3 store's data and Prometheus's samples at the profile's sizes.
CLUSTERS = {
    "demo": ("--nodes", "1x2cpu-4Gi"),
    "tier3": ("--nodes", "2x16cpu-64Gi", "--volumes", "20x10Gi", "--volumes", "2x2Ti"),
    "tier2": ("--nodes", "8x36cpu-150Gi", "--volumes", "40x10Gi", "--volumes", "2x16Ti",
              "--volumes", "1x100Gi"),
    "analysis-facility": ("--node-pools", "POOLS", "--volumes", "20x10Gi", "--volumes", "2x16Ti",
                          "--volumes", "1x50Gi"),
}  # fmt: skip
# analysis-facility needs a GPU: 64 CPUs and 256Gi in all, one node with one GPU.
AF_POOLS = """pools:
  - {name: cpu, count: 3, cpu: "16", memory: 64Gi}
  - {name: gpu, count: 1, cpu: "16", memory: 64Gi, gpu: 1}
"""
# What each profile's site.yaml adds to the profile: the profiles that need ReadWriteMany
# storage get the sim cluster's shared class.
SITES = {
    "demo": "",
    "tier3": "storage: {sharedClassName: shared}\n",
    "tier2": "storage: {sharedClassName: shared}\n",
    "analysis-facility": "storage: {sharedClassName: shared}\n",
}


def missing_charts() -> list[str]:
    """Upstream charts of the distribution not in the cache with their pinned files."""
    missing = []
    for component in distro.load().components.values():
        pin = component.chart
        if pin.local:
            continue
        if state(pin, UPSTREAM_CHARTS / f"{pin.name}-{pin.version}") != CACHED:
            missing.append(f"{pin.name} {pin.version}")
    return missing


@pytest.fixture(scope="session")
def upstream() -> dict[str, str]:
    """The environment that gives sitebox the real chart cache; skips (or fails, with
    SITEBOX_REQUIRE_UPSTREAM=1) when the pinned charts are not all there."""
    missing = missing_charts()
    if missing:
        message = (
            f"upstream charts not in {UPSTREAM_CHARTS}: {', '.join(missing)}; "
            "`sitebox charts pull --all` or `sitebox charts import PACKAGE...` puts them there"
        )
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return {"SITEBOX_CHART_CACHE": str(UPSTREAM_CHARTS)}


@dataclass(frozen=True)
class SiteCluster:
    profile: str
    kubeconfig: Path
    env: dict[str, str]
    site: Path

    def sitebox(self, *args: str, timeout: float = 900) -> Run:
        return run_sitebox(*args, "--kubeconfig", str(self.kubeconfig), env=self.env,
                           timeout=timeout)  # fmt: skip


def site_file(folder: Path, profile: str, extra: str = "") -> Path:
    path = folder / f"{profile}.yaml"
    path.write_text(
        f"apiVersion: sitebox.io/v1\nkind: Site\nname: {profile.replace('-', '')}\n"
        f"profile: {profile}\n{SITES[profile]}{extra}"
    )
    return path


@pytest.fixture(scope="module")
def profile_cluster(
    request: pytest.FixtureRequest,
    tools_ready: None,
    state_env: dict[str, str],
    upstream: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SiteCluster]:
    """A sim cluster sized to the module's PROFILE, with the real chart cache."""
    profile: str = request.module.PROFILE
    folder = tmp_path_factory.mktemp(profile)
    env = {**state_env, **upstream}
    name = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")[:20]
    args = [*CLUSTERS[profile], *getattr(request.module, "CLUSTER_ARGS", ())]
    if "POOLS" in args:
        pools = folder / "pools.yaml"
        pools.write_text(AF_POOLS)
        args[args.index("POOLS")] = str(pools)
    started = run_sitebox("cluster", "up", "--name", name, *args, env=env, timeout=300)
    assert started.code == 0, started.err
    kubeconfig = Path(run_sitebox("cluster", "kubeconfig", "--name", name, env=env).out.strip())
    try:
        yield SiteCluster(profile, kubeconfig, env, site_file(folder, profile))
    finally:
        run_sitebox("cluster", "down", "--name", name, env=env)
