"""Where the site's volumes and pods go: the CVMFS claim notebook servers mount, REANA's
shared storage, the site's StorageClass on every volume, and node pools. Our charts are
rendered by real `helm template`; the values of the upstream charts, which are not on
this machine, are checked against those charts' own schemas and defaults (shared/upstream)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.components.names import REANA_SHARED_CLASS, SITE_NAMESPACE
from sitebox.compose import render as renderer
from sitebox.compose import secrets as secret_store
from sitebox.compose.values import CHART_KEY, release_values
from sitebox.errors import SiteboxError
from sitebox.helm import Helm, Template
from sitebox.model import distro, siteconfig
from sitebox.model.siteconfig import Site
from sitebox.render.values_check import check_values, load_schema
from tests.charts.conftest import CHARTS
from tests.compose.conftest import write_site
from tests.conftest import UPSTREAM, UPSTREAM_CHARTS, run_sitebox

pytestmark = pytest.mark.chart

NFS = "{nfs: {server: nfs.example.edu, path: /export/sitebox}}"


def _load(tmp_path: Path, body: str) -> tuple[Site, secret_store.Secrets]:
    site = siteconfig.load(write_site(tmp_path, body))
    secrets = secret_store.ensure(secret_store.FileStore(tmp_path / "s.json"), site.enabled())
    return site, secrets


def _apps(site: Site, secrets: secret_store.Secrets) -> dict[str, Any]:
    included = [c for c in site.enabled() if site.distribution.components[c].release == "site"]
    return release_values(site, secrets, "site", included)


def _upstream(chart: str) -> Path:
    """The chart's values and schema: the copy beside the checkout, else the real chart at
    the pinned version in the chart cache."""
    folder = UPSTREAM / chart
    if folder.is_dir():
        return folder
    pin = next(c.chart for c in distro.load().components.values() if c.chart.name == chart)
    cached = UPSTREAM_CHARTS / f"{pin.name}-{pin.version}"
    if not cached.is_dir():
        pytest.skip(f"no copy of {chart} at {folder}, and not in the chart cache")
    return cached


def _accepted(chart: str, values: dict[str, Any]) -> None:
    """The values pass the upstream chart's schema, merged over its defaults as Helm does."""
    folder = _upstream(chart)
    schema = load_schema(None, folder)
    assert schema is not None
    defaults = yaml.safe_load((folder / "values.yaml").read_text())
    assert check_values(chart, values, schema, defaults=defaults) == []


def _rendered(tmp_path: Path, site: Site, secrets: secret_store.Secrets, kind: str) -> list[Any]:
    """The objects of ``kind`` both releases render (upstream charts only where present)."""
    result = renderer.render(site, secrets, tmp_path / "work")
    return [o for r in result.releases for o in r.manifests if o["kind"] == kind]


def _site_base_claims(site: Site, secrets: secret_store.Secrets) -> list[Any]:
    """The claims our site-base chart renders with the values sitebox composes for a site
    whose charts are all present (here the upstream ones are not, and a render leaves the
    components it cannot render off)."""
    values = _apps(site, secrets)["site-base"]
    request = Template("sitebox", CHARTS / "site-base", values, SITE_NAMESPACE)
    (manifests,) = Helm().template([request])
    return [m for m in manifests if m["kind"] == "PersistentVolumeClaim"]


def _spool(tmp_path: Path, site: Site, secrets: secret_store.Secrets) -> dict[str, Any]:
    """The claim template of the HTCondor access point's spool."""
    sets = _rendered(tmp_path, site, secrets, "StatefulSet")
    (submit,) = [s for s in sets if s["metadata"]["name"].endswith("-submit")]
    (spool,) = submit["spec"]["volumeClaimTemplates"]
    assert spool["metadata"]["name"] == "spool"
    return dict(spool["spec"])


# ------------------------------------------------------------------ CVMFS for notebook servers


def test_notebook_servers_mount_a_cvmfs_claim_that_exists_in_their_namespace(
    tmp_path: Path,
) -> None:
    site, secrets = _load(
        tmp_path, "name: uni\nprofile: tier3\ncvmfs: {repositories: [sft.cern.ch]}\n"
    )
    hub = _apps(site, secrets)["jupyterhub"]["singleuser"]["storage"]
    claim_name = hub["extraVolumes"][0]["persistentVolumeClaim"]["claimName"]
    automount = release_values(site, secrets, "system", ["cvmfs"])["cvmfs-csi"]
    (claim,) = _site_base_claims(site, secrets)
    assert claim["metadata"]["name"] == claim_name
    assert claim["metadata"]["namespace"] == SITE_NAMESPACE, "where notebook servers run"
    # On the driver's statically provisioned volume: nothing has to provision it.
    assert claim["spec"]["volumeName"] == f"cvmfs-{SITE_NAMESPACE}"
    assert automount["automountStorageClass"] == {"create": False}
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert claim["metadata"]["annotations"]["sitebox.io/cvmfs-repositories"] == "sft.cern.ch"
    # Not a data volume: uninstall removes it with the release, a new install makes it again.
    assert "helm.sh/resource-policy" not in claim["metadata"]["annotations"]


@pytest.mark.parametrize("off", ["hub", "cvmfs"])
def test_no_notebook_cvmfs_claim_without_the_hub_or_cvmfs(tmp_path: Path, off: str) -> None:
    body = f"name: uni\nprofile: tier3\ncomponents:\n  {off}: {{enabled: false}}\n"
    if off == "hub":
        body += "  dask: {enabled: false}\n"
    site, secrets = _load(tmp_path, body)
    assert _site_base_claims(site, secrets) == []


def test_a_render_that_leaves_the_hub_out_makes_no_notebook_cvmfs_claim(tmp_path: Path) -> None:
    site, secrets = _load(tmp_path, "name: uni\nprofile: tier3\n")
    result = renderer.render(site, secrets, tmp_path / "work")
    if "jupyterhub" not in {c.chart.name for c in result.missing}:
        pytest.skip("the hub's chart is on this machine")
    claims = [
        o for r in result.releases for o in r.manifests if o["kind"] == "PersistentVolumeClaim"
    ]
    assert not [c for c in claims if c["metadata"]["namespace"] == SITE_NAMESPACE]


# ------------------------------------------------------------------ REANA's shared storage


@pytest.mark.parametrize(
    ("storage", "backend"),
    [
        ("", "hostpath"),
        ("storage: {}\n", "hostpath"),
        ("storage: {className: fast}\n", "hostpath"),
        ("storage: {sharedClassName: cephfs-rwx}\n", "nfs"),
        (f"storage: {NFS}\n", "nfs"),
    ],
)
def test_reana_uses_a_shared_claim_only_on_readwritemany_storage(
    tmp_path: Path, storage: str, backend: str
) -> None:
    body = "name: uni\nprofile: tier3\ncomponents:\n  workflow: {enabled: true}\n" + storage
    site, secrets = _load(tmp_path, body)
    shared = _apps(site, secrets)["reana"]["shared_storage"]
    assert shared == {"backend": backend}
    # One of the backends the chart's values.yaml lists ("hostpath | cephfs | nfs").
    listed = (_upstream("reana") / "values.yaml").read_text().split("backend:")[1].split("\n")[0]
    assert backend in listed.split("#")[1].replace("|", " ").split()


def test_reana_keeps_hostpath_when_the_nfs_component_is_left_out(tmp_path: Path) -> None:
    """An export serves volumes only through the nfs component: when its chart is not
    here (and the site installs with --skip-unavailable), REANA must not wait for a
    class nobody creates."""
    body = (
        f"name: uni\nprofile: tier3\ncomponents:\n  workflow: {{enabled: true}}\nstorage: {NFS}\n"
    )
    site, secrets = _load(tmp_path, body)
    left_out = replace(site, components={**site.components, "nfs": {"enabled": False}})
    assert _apps(left_out, secrets)["reana"]["shared_storage"] == {"backend": "hostpath"}


def test_reana_finds_its_storage_class_on_the_sites_nfs_export(tmp_path: Path) -> None:
    body = (
        f"name: uni\nprofile: tier3\ncomponents:\n  workflow: {{enabled: true}}\nstorage: {NFS}\n"
    )
    site, secrets = _load(tmp_path, body)
    nfs = release_values(site, secrets, "system", ["nfs"])["csi-driver-nfs"]
    assert nfs["storageClass"]["name"] == "shared"
    export = {"server": "nfs.example.edu", "share": "/export/sitebox"}
    assert nfs["storageClasses"] == [{"name": REANA_SHARED_CLASS, "parameters": export}]
    # The name REANA's claim asks for: "<release>-<chart>" cut to 13 characters, then the suffix.
    release = next(name for r, name, _ in renderer.RELEASES if r == "site")
    prefix = f"{release}-{CHART_KEY['workflow']}"[:13].rstrip("-")
    assert f"{prefix}-shared-volume-storage-class" == REANA_SHARED_CLASS

    without = f"name: uni\nprofile: tier3\nstorage: {NFS}\n"
    site, secrets = _load(tmp_path, without)
    assert (
        "storageClasses" not in release_values(site, secrets, "system", ["nfs"])["csi-driver-nfs"]
    )


# ------------------------------------------------------------------ storage.className


def test_the_sites_storage_class_reaches_every_volume_sitebox_composes(tmp_path: Path) -> None:
    body = (
        "name: uni\nprofile: tier2\nstorage: {className: fast}\n"
        "components:\n  hub: {enabled: true}\n"
    )
    site, secrets = _load(tmp_path, body)
    apps = _apps(site, secrets)
    hub = apps["jupyterhub"]
    assert hub["singleuser"]["storage"]["dynamic"]["storageClass"] == "fast"
    assert hub["hub"]["db"]["pvc"]["storageClassName"] == "fast"
    assert [d.get("storageClass") for d in apps["seaweedfs"]["volume"]["dataDirs"]] == ["fast"]
    assert _spool(tmp_path, site, secrets)["storageClassName"] == "fast"
    _accepted("jupyterhub", {k: v for k, v in hub.items() if k in ("hub", "singleuser")})


def test_without_a_storage_class_every_volume_takes_the_clusters_default(tmp_path: Path) -> None:
    site, secrets = _load(
        tmp_path, "name: uni\nprofile: tier2\ncomponents:\n  hub: {enabled: true}\n"
    )
    apps = _apps(site, secrets)
    assert "storageClassName" not in apps["jupyterhub"]["hub"]["db"]["pvc"]
    assert "storageClass" not in apps["seaweedfs"]["volume"]["dataDirs"][0]
    assert "storageClassName" not in _spool(tmp_path, site, secrets)


# ------------------------------------------------------------------ node pools

TWO_POOLS = (
    "name: uni\nprofile: tier3\nnodePools:\n"
    "  - name: cpu\n    selector: {{sitebox.io/node-pool: cpu}}\n    for: [{first}]\n"
    "  - name: gpu\n"
    "    selector: {{sitebox.io/node-pool: gpu, nvidia.com/gpu.present: 'true'}}\n"
    "    for: [{second}]\n"
)
TERMS = [
    {"matchExpressions": [{"key": "sitebox.io/node-pool", "operator": "In", "values": ["cpu"]}]},
    {
        "matchExpressions": [
            {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]},
            {"key": "sitebox.io/node-pool", "operator": "In", "values": ["gpu"]},
        ]
    },
]


def test_notebooks_and_dask_may_land_on_any_of_their_pools(tmp_path: Path) -> None:
    site, secrets = _load(tmp_path, TWO_POOLS.format(first="users, dask", second="users, dask"))
    apps = _apps(site, secrets)
    singleuser = apps["jupyterhub"]["singleuser"]
    assert singleuser["nodeSelector"] == {}
    assert singleuser["extraNodeAffinity"] == {"required": TERMS}
    backend = apps["dask-gateway"]["gateway"]["backend"]
    for role in ("scheduler", "worker"):
        pod = backend[role]["extraPodConfig"]
        assert "nodeSelector" not in pod
        required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert required == {"nodeSelectorTerms": TERMS}
    _accepted("jupyterhub", {"singleuser": singleuser})
    _accepted("dask-gateway", {"gateway": {"backend": backend}})


def test_a_pool_with_an_empty_selector_lets_the_workload_run_anywhere(tmp_path: Path) -> None:
    body = TWO_POOLS.format(first="users", second="users").replace(
        "{sitebox.io/node-pool: cpu}", "{}"
    )
    site, secrets = _load(tmp_path, body)
    singleuser = _apps(site, secrets)["jupyterhub"]["singleuser"]
    assert singleuser["nodeSelector"] == {} and "extraNodeAffinity" not in singleuser


@pytest.mark.parametrize("workload", ["hub", "batch"])
def test_two_pools_for_a_workload_placed_by_nodeselector_is_an_error_at_the_pool(
    tmp_path: Path, workspace: dict[str, str], workload: str
) -> None:
    path = write_site(tmp_path, TWO_POOLS.format(first=workload, second=workload))
    line = path.read_text().splitlines().index("  - name: gpu") + 1
    with pytest.raises(SiteboxError) as raised:
        siteconfig.load(path)
    error = raised.value
    assert "'cpu' and 'gpu'" in error.message and repr(workload) in error.message
    assert error.hint and "one of these pools" in error.hint
    assert error.location is not None and error.location.key == "nodePools[1]"
    assert error.location.line == line, "the second pool's line in site.yaml"

    result = run_sitebox("render", "-f", str(path), env=workspace, cwd=tmp_path)
    assert result.code == 1
    assert f"{path}:{line} (nodePools[1])" in result.err and "Traceback" not in result.err
