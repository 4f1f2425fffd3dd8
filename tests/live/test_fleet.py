"""`sitebox fleet` on three sim clusters with different profiles and node pools.

The tests run in file order on one fleet: install (validated), status, validate,
plan, plan with a bundle, drift, a site failing validation, a failing site, a rolling
upgrade, then bad input.
"""

from __future__ import annotations

import json
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sitebox.components.names import SITE_NAMESPACE
from sitebox.compose.secrets import FLEET_SIGNING_KEY
from sitebox.kube import Kube
from tests.conftest import Run, run_sitebox

pytestmark = pytest.mark.live

ISSUER = "https://iam.example.org/"
POOLS = """pools:
  - name: batch
    count: 2
    cpu: "16"
    memory: 64Gi
    labels: {sitebox.io/pool: batch}
"""
# alpha and beta: demo with HTCondor pools flocking to each other; gamma: tier3 on a
# labelled pool. beta is second, so a rolling upgrade that fails there leaves gamma.
FLEET = """apiVersion: sitebox.io/v1
kind: Fleet
name: live
shared:
  identity: {{issuer: "{issuer}", clientId: sitebox}}
  cvmfs: {{repositories: [atlas.cern.ch]}}
base:
  components:
    hub: {{enabled: false}}
    dask: {{enabled: false}}
    storage: {{enabled: false}}
sites:
  - name: alpha
    kubeconfig: {alpha}
    profile: demo
    overrides:
      domain: alpha.example.org
      components:
        batch: {{mode: htcondor, workers: {workers}, quota: {{cpu: '8', memory: 16Gi}},
                 job: {{cpu: 500m, memory: 1Gi}}}}
  - name: beta
    kubeconfig: {beta}
    profile: demo
    overrides:
      domain: beta.example.org
      components:
        batch: {{mode: htcondor, workers: {workers}, quota: {{cpu: '8', memory: 16Gi}},
                 job: {{cpu: 500m, memory: 1Gi}}}}
  - name: gamma
    kubeconfig: {gamma}
    profile: tier3
    overrides:
      storage: {{sharedClassName: shared}}
      nodePools: [{{name: batch, selector: {{sitebox.io/pool: batch}}, for: [batch]}}]
federation:
  flocking:
    - {{from: alpha, to: [beta]}}
    - {{from: beta, to: [alpha]}}
"""


@dataclass(frozen=True)
class Fleet:
    folder: Path
    kubeconfigs: dict[str, Path]
    env: dict[str, str]

    def write(self, issuer: str = ISSUER, workers: int = 1) -> Path:
        path = self.folder / "fleet.yaml"
        paths = {k: str(v) for k, v in self.kubeconfigs.items()}
        path.write_text(FLEET.format(issuer=issuer, workers=workers, **paths))
        return path

    def run(self, *args: str, fleet_file: Path | None = None) -> Run:
        target = fleet_file or self.folder / "fleet.yaml"
        return run_sitebox("fleet", *args, "-f", str(target), env=self.env, timeout=900)

    def kube(self, site: str) -> Kube:
        return Kube(self.kubeconfigs[site])


def _kubeconfig(name: str, env: dict[str, str]) -> Path:
    return Path(run_sitebox("cluster", "kubeconfig", "--name", name, env=env).out.strip())


@pytest.fixture(scope="module")
def fleet(
    tools_ready: None, state_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    folder = tmp_path_factory.mktemp("fleet")
    pools = folder / "pools.yaml"
    pools.write_text(POOLS)
    started = []
    try:
        pair = run_sitebox("cluster", "up", "--name", "fleet", "--sites", "2", "--nodes",
                           "2x8cpu-32Gi", env=state_env, timeout=600)  # fmt: skip
        assert pair.code == 0, pair.err
        started += ["fleet-1", "fleet-2"]
        third = run_sitebox("cluster", "up", "--name", "fleet-pool", "--node-pools", str(pools),
                            env=state_env, timeout=600)  # fmt: skip
        assert third.code == 0, third.err
        started.append("fleet-pool")
        names = {"alpha": "fleet-1", "beta": "fleet-2", "gamma": "fleet-pool"}
        configs = {site: _kubeconfig(name, state_env) for site, name in names.items()}
        made = Fleet(folder, configs, state_env)
        made.write()
        yield made
    finally:
        for name in started:
            run_sitebox("cluster", "down", "--name", name, env=state_env)


def status(fleet: Fleet, *args: str) -> tuple[Run, dict[str, dict[str, Any]]]:
    result = fleet.run("status", "-o", "json", *args)
    return result, {s["site"]: s for s in json.loads(result.out)["sites"]}


def validated(err: str, site: str) -> str:
    """The summary line the run printed after the site's validation suite."""
    lines = [line for line in err.splitlines() if line.startswith(f"{site}: validation: ")]
    assert len(lines) == 1, (site, err)
    return lines[0]


def test_install_brings_every_site_up(fleet: Fleet) -> None:
    result = fleet.run("install", "--skip-unavailable")
    assert result.code == 0, result.err + result.out
    for site in ("alpha", "beta", "gamma"):
        assert f"{site}: done" in result.err
        assert ", 0 failed, " in validated(result.err, site)
    assert result.out.count("  validation: ") == 3, result.out
    federation = fleet.kube("alpha").get("v1", "ConfigMap", "sitebox-federation", SITE_NAMESPACE)
    assert federation is not None
    assert federation["data"]["issuer"] == ISSUER
    assert {p["name"] for p in json.loads(federation["data"]["peers"])} == {"beta", "gamma"}
    condor = fleet.kube("beta").get("v1", "ConfigMap", "sitebox-batch-condor-config", "batch")
    assert condor is not None
    assert "FLOCK_TO = condor.alpha.example.org:9618" in condor["data"]["50-sitebox.conf"]
    assert "TRUST_DOMAIN = live.fleet.sitebox.io" in condor["data"]["50-sitebox.conf"]
    # The two flocking pools sign with the fleet's key; gamma, which does not flock, never
    # receives it; no output shows it.
    store = Path(fleet.env["SITEBOX_STATE"]) / "fleets" / "live" / "secrets.json"
    root = json.loads(store.read_text())[FLEET_SIGNING_KEY]
    for site in ("alpha", "beta"):
        key = fleet.kube(site).read_secret("batch", "sitebox-batch-token-signing-key")
        assert key == {"signing_key": root}, site
    assert FLEET_SIGNING_KEY not in (
        fleet.kube("gamma").read_secret("sitebox-system", "sitebox-secrets") or {}
    )
    assert root not in result.out + result.err


def test_status_shows_every_site_healthy_without_drift(fleet: Fleet) -> None:
    result, sites = status(fleet)
    assert result.code == 0, result.err
    assert set(sites) == {"alpha", "beta", "gamma"}
    for name, site in sites.items():
        assert site["health"] == "healthy", name
        assert site["drift"] == [], (name, site["drift"])
        assert (site["revision"], site["distribution"]) == (1, "2026.12"), name


def test_validate_passes_on_every_healthy_site(fleet: Fleet) -> None:
    result = fleet.run("validate", "-o", "json")
    assert result.code == 0, result.err
    sites = {s["site"]: s for s in json.loads(result.out)["sites"]}
    assert set(sites) == {"alpha", "beta", "gamma"}
    for name, site in sites.items():
        assert site["whole"] and site["error"] is None, (name, site["error"])
        counts = site["validation"]["counts"]
        assert counts["failed"] == 0 and counts["passed"] > 0, (name, counts)
        checks = {c["check"]: c["status"] for c in site["validation"]["checks"]}
        # gamma's batch connector (queue mode) runs no pods: its check is "not run".
        wanted = "passed" if name != "gamma" else "not run"
        assert checks["pods ready [batch]"] == wanted, (name, checks)


def test_two_flocking_sites_are_backed_up_and_restored(fleet: Fleet) -> None:
    """Backed up, emptied (the releases, the claims and the secrets gone), restored from
    the archives with the fleet file's federation: same secrets, validated."""
    folder = fleet.folder / "archives"
    env_pass = {"SITEBOX_BACKUP_PASSPHRASE": "the fleet's backup passphrase"}
    stores = {s: fleet.kube(s).read_secret("sitebox-system", "sitebox-secrets")
              for s in ("alpha", "beta")}  # fmt: skip
    made = run_sitebox("fleet", "backup", "-f", str(fleet.folder / "fleet.yaml"),
                       "--sites", "alpha,beta", "--dir", str(folder),
                       env={**fleet.env, **env_pass}, timeout=900)  # fmt: skip
    assert made.code == 0, made.err[-2000:]
    assert sorted(p.name for p in folder.iterdir()) == ["alpha.backup", "beta.backup"]
    for site in ("alpha", "beta"):
        gone = run_sitebox("uninstall", "--purge-data", "--yes", "--kubeconfig",
                           str(fleet.kubeconfigs[site]), env=fleet.env, timeout=600)  # fmt: skip
        assert gone.code == 0, gone.err
        assert fleet.kube(site).read_secret("sitebox-system", "sitebox-secrets") is None
    back = run_sitebox("fleet", "restore", "-f", str(fleet.folder / "fleet.yaml"),
                       "--sites", "alpha,beta", "--dir", str(folder),
                       env={**fleet.env, **env_pass}, timeout=900)  # fmt: skip
    assert back.code == 0, back.err[-3000:]
    for site in ("alpha", "beta"):
        assert ", 0 failed" in validated(back.err, site), "federation peers checked too"
        assert fleet.kube(site).read_secret("sitebox-system", "sitebox-secrets") == stores[site]


def test_plan_shows_a_new_shared_issuer_on_every_site(fleet: Fleet) -> None:
    changed = fleet.write(issuer="https://login.example.net/")
    try:
        result = fleet.run("plan", fleet_file=changed)
    finally:
        fleet.write()
    assert result.code == 0, result.err
    # Per site: a line "--- <site>", then its diffs (whose own headers start "--- " too).
    sections: dict[str, str] = {}
    site = ""
    for line in result.out.splitlines():
        if line.removeprefix("--- ") in ("alpha", "beta", "gamma"):
            site = line.removeprefix("--- ")
        elif site:
            sections[site] = sections.get(site, "") + line + "\n"
    for site in ("alpha", "beta", "gamma"):
        section = sections.get(site, "")
        assert "+  issuer: https://login.example.net/" in section, site


MARKER = """apiVersion: v1
kind: ConfigMap
metadata:
  name: bundle-marker
  labels: {app.kubernetes.io/part-of: sitebox}
data: {from: bundle}
"""


def _marked_bundle(fleet: Fleet) -> Path:
    """A bundle made by `sitebox bundle create` (made.tgz), and a copy whose site-base
    chart was given one more ConfigMap on the way."""
    site = fleet.folder / "bundled-site.yaml"
    site.write_text(
        "apiVersion: sitebox.io/v1\nkind: Site\nname: bundled\nprofile: demo\n"
        "components: {hub: {enabled: false}, dask: {enabled: false}, storage: {enabled: false}}\n"
    )
    made = fleet.folder / "made.tgz"
    result = run_sitebox("bundle", "create", "-f", str(site), "-o", str(made), env=fleet.env)
    assert result.code == 0, result.err
    unpacked = fleet.folder / "unpacked"
    with tarfile.open(made) as tar:
        tar.extractall(unpacked, filter="data")
    (chart,) = (unpacked / "charts").glob("site-base-*")
    (chart / "templates" / "bundle-marker.yaml").write_text(MARKER)
    marked = fleet.folder / "marked.tgz"
    with tarfile.open(marked, "w:gz") as tar:
        for member in sorted(unpacked.iterdir()):
            tar.add(member, arcname=member.name)
    return marked


def test_plan_takes_a_bundle_and_refuses_one_changed_on_the_way(fleet: Fleet) -> None:
    marked = _marked_bundle(fleet)
    result = fleet.run("plan", "-o", "json", "--bundle", str(fleet.folder / "made.tgz"))
    assert result.code == 0, result.err
    assert len(json.loads(result.out)["sites"]) == 3
    changed = fleet.run("plan", "-o", "json", "--bundle", str(marked))
    assert changed.code == 1
    assert "differs from sitebox's own site-base chart" in changed.err
    missing = fleet.run("plan", "--bundle", str(fleet.folder / "nowhere.tgz"))
    assert missing.code == 1
    assert "nowhere.tgz not found" in missing.err and "Traceback" not in missing.err


def test_a_hand_edit_on_one_site_is_reported_as_drift(fleet: Fleet) -> None:
    kube = fleet.kube("gamma")
    patch = {"data": {"issuer": "https://rogue.example.com/"}}
    kube.core.patch_namespaced_config_map("sitebox-federation", SITE_NAMESPACE, patch)
    try:
        result, sites = status(fleet)
    finally:
        restore = {"data": {"issuer": ISSUER}}
        kube.core.patch_namespaced_config_map("sitebox-federation", SITE_NAMESPACE, restore)
    assert result.code == 1
    assert "the fleet is not whole: 1 of 3 site(s): gamma" in result.err
    drift = sites["gamma"]["drift"]
    assert [d["what"] for d in drift] == ["ConfigMap sitebox/sitebox-federation"]
    expected = (
        "data.issuer: applied 'https://iam.example.org/', cluster 'https://rogue.example.com/'"
    )
    assert expected in drift[0]["diff"]
    assert sites["alpha"]["whole"] and sites["beta"]["whole"]


def _cordon(fleet: Fleet, site: str, unschedulable: bool = True) -> None:
    kube = fleet.kube(site)
    for node in kube.nodes():
        patch = {"spec": {"unschedulable": unschedulable}}
        kube.core.patch_node(node["metadata"]["name"], patch)


def _batch_pods_ready(kube: Kube, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not all(p["ready"] for p in kube.pod_health("batch")):
        assert time.monotonic() < deadline, kube.pod_health("batch")
        time.sleep(1)


def _replaced_pod(kube: Kube) -> str:
    """A batch pod that its controller replaces when it is deleted."""
    for pod in kube.core.list_namespaced_pod("batch").items:
        owners = pod.metadata.owner_references or []
        if any(o.kind in ("ReplicaSet", "StatefulSet") for o in owners):
            return str(pod.metadata.name)
    raise AssertionError("no batch pod has a controller")


def test_validate_reports_the_one_broken_site(fleet: Fleet) -> None:
    kube = fleet.kube("beta")
    _cordon(fleet, "beta")
    try:
        # Its replacement has nowhere to go: the batch connector's pods are not all ready.
        kube.core.delete_namespaced_pod(_replaced_pod(kube), "batch")
        result = fleet.run("validate", "-o", "json")
    finally:
        _cordon(fleet, "beta", unschedulable=False)
        _batch_pods_ready(kube)
    assert result.code == 1
    assert "the fleet is not whole: 1 of 3 site(s): beta" in result.err, result.err
    sites = {s["site"]: s for s in json.loads(result.out)["sites"]}
    assert sites["beta"]["error"].startswith("validation failed: "), sites["beta"]
    failed = [c for c in sites["beta"]["validation"]["checks"] if c["status"] == "failed"]
    assert "pods ready [batch]" in [c["check"] for c in failed], failed
    assert sites["alpha"]["whole"] and sites["gamma"]["whole"]
    assert sites["alpha"]["validation"]["counts"]["failed"] == 0


def test_an_unschedulable_site_fails_alone(fleet: Fleet) -> None:
    _cordon(fleet, "beta")
    fleet.write(issuer="https://login.example.net/", workers=2)
    # The cordoned site fails fast (preflight sees no schedulable capacity); the others get
    # a timeout long enough for a loaded 2-core machine.
    result = fleet.run("install", "--skip-unavailable", "--timeout", "5m", "--no-validate")
    assert result.code == 1
    assert "the fleet is not whole: 1 of 3 site(s): beta" in result.err, result.out + result.err
    assert "preflight failed; nothing was applied" in result.out
    assert ": validation: " not in result.err, "--no-validate skips the suite"
    _, sites = status(fleet)
    assert sites["alpha"]["revision"] == sites["gamma"]["revision"] == 2
    assert sites["beta"]["drift"], "beta still runs what the fleet file no longer says"


def test_a_rolling_upgrade_stops_at_the_first_failing_site(fleet: Fleet) -> None:
    fleet.write(issuer="https://login.example.net/", workers=3)
    result = fleet.run("upgrade", "--rolling", "--yes", "--skip-unavailable", "--timeout", "5m")
    assert result.code == 1
    assert "gamma (not started: the rolling run stopped at beta)" in result.err
    assert ", 0 failed, " in validated(result.err, "alpha"), "the upgraded site is validated"
    _, sites = status(fleet)
    assert sites["alpha"]["revision"] == 3
    assert sites["gamma"]["revision"] == 2, "the sites after the failure keep their revision"


def test_bad_sites_get_a_message_each_and_the_good_one_is_handled(fleet: Fleet) -> None:
    closed = fleet.folder / "closed.kubeconfig"
    closed.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    bad = fleet.folder / "bad.yaml"
    bad.write_text(
        "apiVersion: sitebox.io/v1\nkind: Fleet\nname: bad\nsites:\n"
        f"  - {{name: alpha, profile: demo, kubeconfig: {fleet.kubeconfigs['alpha']}}}\n"
        f"  - {{name: ghost, profile: demo, kubeconfig: {fleet.kubeconfigs['alpha']},"
        " context: nope}\n"
        f"  - {{name: closed, profile: demo, kubeconfig: {closed}}}\n"
    )
    result = fleet.run("status", "-o", "json", fleet_file=bad)
    assert result.code == 1
    sites = {s["site"]: s for s in json.loads(result.out)["sites"]}
    assert sites["alpha"]["error"] is None and sites["alpha"]["health"] == "healthy"
    assert "nope" in sites["ghost"]["error"] and "cannot load kubeconfig" in sites["ghost"]["error"]
    assert "cannot reach the API server" in sites["closed"]["error"]
    assert "Traceback" not in result.err
