"""Preflight checks over synthetic cluster facts: no cluster, no network beyond 127.0.0.1."""

from __future__ import annotations

import dataclasses
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from sitebox.components.names import REANA_SHARED_CLASS
from sitebox.compose.commands import load_site
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, KubeError
from sitebox.model import siteconfig
from sitebox.model.siteconfig import Site
from sitebox.preflight import checks
from sitebox.preflight.checks import (
    FAIL,
    GATEWAY_CRD,
    INSTALL_ACCESS,
    PASS,
    WARN,
    Access,
    ClusterFacts,
    NodeFacts,
    Result,
    StorageClassFacts,
)
from sitebox.preflight.commands import fix_lines, preflight_cmd, show
from tests.compose.conftest import write_site

pytestmark = pytest.mark.unit

GI = 2**30


def node(name: str, cpus: int, gib: int, gpus: int = 0, **state: bool) -> NodeFacts:
    return NodeFacts(
        name, cpus * 1000, gib * GI, gpus, state.get("ready", True), state.get("schedulable", True)
    )


def healthy(**changes: Any) -> ClusterFacts:
    """A cluster that can take tier3: 64 CPUs, 256Gi, default and shared storage, admin rights."""
    facts = ClusterFacts(
        server_version="v1.36.3",
        nodes=tuple(node(f"n{i}", 16, 64) for i in range(4)),
        storage_classes=(
            StorageClassFacts("standard", "example.com/block", default=True),
            StorageClassFacts("shared", "nfs.csi.k8s.io", default=False),
        ),
        namespaces={},
        access=dict.fromkeys(INSTALL_ACCESS, True),
        crds=frozenset({GATEWAY_CRD}),
        ingress_classes=("nginx",),
    )
    return dataclasses.replace(facts, **changes)


@pytest.fixture(scope="module")
def tier3() -> Site:
    return load_site(None, "tier3")


@pytest.fixture(scope="module")
def demo() -> Site:
    return load_site(None, "demo")


def site_from(tmp_path: Path, body: str, profile: str = "tier3") -> Site:
    return siteconfig.load(write_site(tmp_path, f"name: uni\nprofile: {profile}\n" + body))


# ---- kubernetes-version ----------------------------------------------------------------------


def test_supported_version_passes(tier3: Site) -> None:
    result = checks.kubernetes_version(tier3, healthy())
    assert result.status == PASS
    assert "v1.36.3" in result.detail


@pytest.mark.parametrize("version", ["v1.29.9", "v1.38.0", "not-a-version"])
def test_unsupported_version_fails_with_the_range(tier3: Site, version: str) -> None:
    result = checks.kubernetes_version(tier3, healthy(server_version=version))
    assert result.status == FAIL
    dist = tier3.distribution
    assert result.fix is not None
    assert f"{dist.kube_min} to {dist.kube_max}" in result.fix


# ---- capacity --------------------------------------------------------------------------------


def test_enough_capacity_passes(tier3: Site) -> None:
    result = checks.capacity(tier3, healthy())
    assert result.status == PASS
    assert result.detail.startswith("64 CPUs, 256Gi on 4 ready nodes")


def test_cpu_shortfall_is_named(tier3: Site) -> None:
    facts = healthy(nodes=tuple(node(f"n{i}", 4, 64) for i in range(3)))
    result = checks.capacity(tier3, facts)
    assert result.status == FAIL
    assert "needs 32 CPUs, the nodes offer 12: 20 CPUs short" in result.detail
    assert "memory" not in result.detail


def test_memory_shortfall_is_named(tier3: Site) -> None:
    facts = healthy(nodes=(node("a", 32, 16), node("b", 32, 32)))
    result = checks.capacity(tier3, facts)
    assert result.status == FAIL
    assert result.detail.startswith("needs 128Gi memory, the nodes offer 48Gi: 80Gi short")


def test_memory_is_worded_as_written() -> None:
    tier2 = load_site(None, "tier2")  # needs 288 CPUs, 1200Gi
    half = NodeFacts("half", 0, GI // 2, 0, True, True)
    facts = healthy(nodes=(node("a", 300, 64), node("b", 0, 16), half))
    result = checks.capacity(tier2, facts)
    assert result.detail.startswith("needs 1200Gi memory, the nodes offer 80.5Gi: 1119.5Gi short")
    enough = healthy(nodes=(node("a", 300, 1024), node("b", 0, 1024)))
    assert checks.capacity(tier2, enough).detail.startswith("300 CPUs, 2Ti on 2 ready nodes")


def test_not_ready_and_cordoned_nodes_are_not_counted(tier3: Site) -> None:
    facts = healthy(
        nodes=(
            node("ok", 16, 64),
            node("down", 64, 256, ready=False),
            node("cordoned", 64, 256, schedulable=False),
        )
    )
    result = checks.capacity(tier3, facts)
    assert result.status == FAIL
    assert "needs 32 CPUs, the nodes offer 16: 16 CPUs short" in result.detail
    assert "2 not ready or cordoned" in result.detail


def test_gpu_shortfall_is_named(tier3: Site) -> None:
    wants_gpus = dataclasses.replace(tier3, requires={**tier3.requires, "gpus": 4})
    facts = healthy(nodes=(*healthy().nodes, node("gpu", 8, 32, gpus=1)))
    result = checks.capacity(wants_gpus, facts)
    assert result.status == FAIL
    assert result.detail.startswith("needs 4 GPUs, the nodes offer 1: 3 GPUs short")
    enough = healthy(nodes=(*healthy().nodes, node("gpu", 8, 32, gpus=4)))
    assert checks.capacity(wants_gpus, enough).status == PASS


# ---- storage ---------------------------------------------------------------------------------


def test_default_storage_class_passes(tier3: Site) -> None:
    result = checks.storage_default(tier3, healthy())
    assert (result.status, result.detail) == (
        PASS,
        "default StorageClass standard (example.com/block)",
    )


def test_no_default_storage_class_fails(tier3: Site) -> None:
    facts = healthy(storage_classes=(StorageClassFacts("shared", "nfs", default=False),))
    result = checks.storage_default(tier3, facts)
    assert result.status == FAIL
    assert result.fix is not None
    assert "storage.className" in result.fix


def test_named_class_stands_in_for_a_default(tmp_path: Path) -> None:
    site = site_from(tmp_path, "storage: {className: shared}\n")
    facts = healthy(storage_classes=(StorageClassFacts("shared", "nfs", default=False),))
    assert checks.storage_default(site, facts).status == PASS


def test_named_class_that_does_not_exist_fails(tmp_path: Path) -> None:
    site = site_from(tmp_path, "storage: {className: fast-ssd}\n")
    result = checks.storage_default(site, healthy())
    assert result.status == FAIL
    assert "'fast-ssd' does not exist" in result.detail


def test_two_defaults_warn(tier3: Site) -> None:
    facts = healthy(
        storage_classes=(StorageClassFacts("a", "x", True), StorageClassFacts("b", "y", True))
    )
    assert checks.storage_default(tier3, facts).status == WARN


def test_shared_storage_missing_fails_with_the_fix(tier3: Site) -> None:
    result = checks.storage_shared(tier3, healthy())
    assert result.status == FAIL
    assert result.fix == "set storage.sharedClassName or storage.nfs in site.yaml"


def test_shared_class_that_exists_passes(tmp_path: Path) -> None:
    site = site_from(tmp_path, "storage: {sharedClassName: shared}\n")
    assert checks.storage_shared(site, healthy()).status == PASS


def test_shared_class_that_does_not_exist_fails(tmp_path: Path) -> None:
    site = site_from(tmp_path, "storage: {sharedClassName: cephfs}\n")
    result = checks.storage_shared(site, healthy())
    assert result.status == FAIL
    assert "'cephfs' does not exist" in result.detail


def test_nfs_provides_shared_storage(tmp_path: Path) -> None:
    site = site_from(tmp_path, "storage:\n  nfs: {server: nfs.example.edu, path: /export}\n")
    result = checks.storage_shared(site, healthy(storage_classes=()))
    assert result.status == PASS
    assert "as class shared of the NFS CSI driver" in result.detail


def test_reana_on_a_shared_class_fails_without_the_class_its_chart_asks_for(
    tmp_path: Path,
) -> None:
    site = site_from(
        tmp_path, "storage: {sharedClassName: cephfs}\ncomponents:\n  workflow: {enabled: true}\n"
    )
    cephfs = StorageClassFacts("cephfs", "cephfs.csi.ceph.com", default=False)
    result = checks.storage_shared(site, healthy(storage_classes=(cephfs,)))
    assert result.status == FAIL
    assert "sitebox-reana-shared-volume-storage-class" in result.detail
    assert "cephfs.csi.ceph.com" in result.fix
    reana_class = StorageClassFacts(REANA_SHARED_CLASS, "cephfs.csi.ceph.com", default=False)
    ready = checks.storage_shared(site, healthy(storage_classes=(cephfs, reana_class)))
    assert ready.status == PASS


def test_nfs_makes_the_shared_class_it_is_named_so_preflight_does_not_look_for_it(
    tmp_path: Path,
) -> None:
    site = site_from(
        tmp_path,
        "storage:\n  sharedClassName: site-rwx\n  nfs: {server: nfs.example.edu, path: /export}\n",
    )
    result = checks.storage_shared(site, healthy(storage_classes=()))
    assert result.status == PASS, result.detail
    assert "as class site-rwx" in result.detail


def test_shared_storage_not_needed_passes(demo: Site) -> None:
    assert checks.storage_shared(demo, healthy(storage_classes=())).status == PASS


# ---- pod-security ----------------------------------------------------------------------------


def test_pod_security_is_privileged_only_where_a_node_plugin_runs(tier3: Site, demo: Site) -> None:
    result = checks.pod_security(tier3, healthy())
    assert result.status == PASS
    assert "sitebox-system privileged" in result.detail
    # demo runs no CVMFS node plugin; dask's gateway states no securityContext: baseline.
    result = checks.pod_security(demo, healthy())
    assert "sitebox-system restricted, sitebox baseline" in result.detail


def test_a_level_set_outside_sitebox_is_warned_about(tier3: Site) -> None:
    facts = healthy(namespaces={"sitebox-system": {checks.ENFORCE_LABEL: "restricted"}})
    result = checks.pod_security(tier3, facts)
    assert result.status == WARN
    assert "sitebox-system enforces 'restricted', set outside sitebox" in result.detail
    ours = {checks.ENFORCE_LABEL: "restricted", checks.PART_OF_LABEL: "sitebox"}
    assert checks.pod_security(tier3, healthy(namespaces={"sitebox-system": ours})).status == PASS


# ---- rbac ------------------------------------------------------------------------------------


def test_all_rights_pass(tier3: Site) -> None:
    assert checks.rbac(tier3, healthy()).status == PASS


def test_denied_rights_are_listed(tier3: Site) -> None:
    access = dict.fromkeys(INSTALL_ACCESS, True)
    access[Access("create", "", "secrets", "sitebox-system")] = False
    del access[Access("create", "apiextensions.k8s.io", "customresourcedefinitions")]
    result = checks.rbac(tier3, healthy(access=access))
    assert result.status == FAIL
    assert result.detail == (
        "denied: create customresourcedefinitions.apiextensions.k8s.io, "
        "create secrets in sitebox-system"
    )


# ---- tools -----------------------------------------------------------------------------------


def test_cached_tools_pass(tier3: Site) -> None:
    result = checks.tools(tier3, healthy(), lambda: {"helm": "cached", "kwok": "cached"})
    assert result.status == PASS


def test_missing_tool_fails(tier3: Site) -> None:
    result = checks.tools(tier3, healthy(), lambda: {"helm": "cached", "etcd": "missing"})
    assert result.status == FAIL
    assert result.detail == "not ready: etcd (missing)"
    assert result.fix == "run `sitebox tools install`"


# ---- ingress ---------------------------------------------------------------------------------


def test_no_ingress_passes(tier3: Site) -> None:
    result = checks.ingress(tier3, healthy(crds=frozenset()), lambda host: False)
    assert (result.status, result.detail) == (PASS, "no ingress requested")


def test_gateway_with_its_crd_and_dns_passes(tmp_path: Path) -> None:
    site = site_from(tmp_path, "domain: physics.example.edu\ningress: {type: gateway}\n")
    asked: list[str] = []

    def resolve(host: str) -> bool:
        asked.append(host)
        return True

    result = checks.ingress(site, healthy(), resolve)
    assert result.status == PASS
    assert asked == ["hub.physics.example.edu"]


def test_gateway_without_its_crd_fails(tmp_path: Path) -> None:
    # The hub's HTTPRoute would be of a kind the cluster does not serve.
    site = site_from(tmp_path, "domain: physics.example.edu\ningress: {type: gateway}\n")
    result = checks.ingress(site, healthy(crds=frozenset()), lambda host: True)
    assert result.status == FAIL
    assert GATEWAY_CRD in result.detail


def test_ingress_without_a_class_warns(tmp_path: Path) -> None:
    site = site_from(tmp_path, "domain: physics.example.edu\ningress: {type: ingress}\n")
    assert checks.ingress(site, healthy(), lambda host: True).status == PASS
    result = checks.ingress(site, healthy(ingress_classes=()), lambda host: True)
    assert result.status == WARN
    assert "no IngressClass" in result.detail


def test_ingress_class_named_but_absent_warns(tmp_path: Path) -> None:
    body = "domain: physics.example.edu\ningress: {type: ingress, className: traefik}\n"
    result = checks.ingress(site_from(tmp_path, body), healthy(), lambda host: True)
    assert result.status == WARN
    assert "'traefik' not found" in result.detail


def test_unresolvable_hub_warns_not_fails(tmp_path: Path) -> None:
    site = site_from(tmp_path, "domain: physics.example.edu\ningress: {type: gateway}\n")
    result = checks.ingress(site, healthy(), lambda host: False)
    assert result.status == WARN
    assert "hub.physics.example.edu does not resolve" in result.detail


def test_resolves_asks_the_resolver() -> None:
    assert checks.resolves("localhost")
    assert not checks.resolves("")


# ---- cvmfs-proxy -----------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_no_proxy_passes(tier3: Site) -> None:
    assert checks.cvmfs_proxy(tier3, healthy()) == Result("cvmfs-proxy", PASS, "none set")


def test_listening_proxy_passes(tmp_path: Path, listener: int) -> None:
    site = site_from(tmp_path, f"cvmfs: {{proxy: 'http://127.0.0.1:{listener}'}}\n")
    result = checks.cvmfs_proxy(site, healthy())
    assert result.status == PASS, result.detail


def test_closed_proxy_port_warns(tmp_path: Path, closed_port: int) -> None:
    site = site_from(tmp_path, f"cvmfs: {{proxy: '127.0.0.1:{closed_port}'}}\n")
    result = checks.cvmfs_proxy(site, healthy())
    assert result.status == WARN
    assert f"127.0.0.1:{closed_port}" in result.detail
    assert result.fix is not None
    assert "squid" in result.fix


def test_each_proxy_of_a_list_is_tried(tmp_path: Path, listener: int, closed_port: int) -> None:
    proxies = f"http://127.0.0.1:{listener}|http://127.0.0.1:{closed_port};DIRECT"
    result = checks.cvmfs_proxy(site_from(tmp_path, f"cvmfs: {{proxy: '{proxies}'}}\n"), healthy())
    assert result.status == WARN
    assert result.detail.startswith(f"127.0.0.1:{closed_port}: ")
    assert str(listener) not in result.detail
    direct = checks.cvmfs_proxy(site_from(tmp_path, "cvmfs: {proxy: DIRECT}\n"), healthy())
    assert (direct.status, direct.detail) == (PASS, "DIRECT: no proxy")


def test_proxy_without_a_port_warns(tmp_path: Path) -> None:
    site = site_from(tmp_path, "cvmfs: {proxy: 'http://127.0.0.1'}\n")
    result = checks.cvmfs_proxy(site, healthy())
    assert result.status == WARN
    assert "cannot read host:port" in result.detail


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("http://squid.example.edu:3128", ("squid.example.edu", 3128)),
        ("squid.example.edu:3128", ("squid.example.edu", 3128)),
        ("http://[::1]:8080/", ("::1", 8080)),
    ],
)
def test_proxy_address(text: str, address: tuple[str, int]) -> None:
    assert checks.proxy_address(text) == address


# ---- gathering -------------------------------------------------------------------------------


def test_node_facts_read_allocatable_readiness_and_cordon() -> None:
    obj = {
        "metadata": {"name": "gpu-0"},
        "spec": {"unschedulable": True},
        "status": {
            "allocatable": {"cpu": "7500m", "memory": "32Gi", "nvidia.com/gpu": "2"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    assert checks.node_facts(obj) == NodeFacts("gpu-0", 7500, 32 * GI, 2, True, False)
    bare = {"metadata": {"name": "new"}, "status": {"allocatable": {"memory": "1024Ki"}}}
    assert checks.node_facts(bare) == NodeFacts("new", 0, 2**20, 0, False, True)


def test_unreadable_node_quantity_is_an_error() -> None:
    obj = {"metadata": {"name": "odd"}, "status": {"allocatable": {"cpu": "lots"}}}
    with pytest.raises(SiteboxError, match="node odd reports cpu 'lots'"):
        checks.node_facts(obj)


@pytest.mark.parametrize(
    ("annotations", "default"),
    [
        ({"storageclass.kubernetes.io/is-default-class": "true"}, True),
        ({"storageclass.beta.kubernetes.io/is-default-class": "true"}, True),
        ({"storageclass.kubernetes.io/is-default-class": "false"}, False),
        (None, False),
    ],
)
def test_storage_class_default_annotation(
    annotations: dict[str, str] | None, default: bool
) -> None:
    obj = {"metadata": {"name": "standard", "annotations": annotations}, "provisioner": "p"}
    assert checks.storage_class_facts(obj) == StorageClassFacts("standard", "p", default)


class FakeKube(Kube):
    """Answers as a cluster would, without one."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str, str | None]] = []

    def server_version(self) -> str:
        return "v1.36.3"

    def nodes(self) -> list[dict[str, Any]]:
        ready = [{"type": "Ready", "status": "True"}]
        status = {"allocatable": {"cpu": "4", "memory": "16Gi"}, "conditions": ready}
        return [{"metadata": {"name": "n0"}, "status": status}]

    def storage_classes(self) -> list[dict[str, Any]]:
        return [{"metadata": {"name": "standard"}, "provisioner": "p"}]

    def namespaces(self) -> list[dict[str, Any]]:
        return [
            {"metadata": {"name": "sitebox-system", "labels": {"a": "b"}}},
            {"metadata": {"name": "other", "labels": {"c": "d"}}},
        ]

    def can_i(self, verb: str, group: str, resource: str, namespace: str | None = None) -> bool:
        self.asked.append((verb, group, resource, namespace))
        return resource != "clusterroles"

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        if kind == "IngressClass":
            raise KubeError("listing IngressClass: 403 Forbidden")
        return [{"metadata": {"name": GATEWAY_CRD}}]


def test_gather_reads_each_fact_once() -> None:
    kube = FakeKube()
    facts = checks.gather(kube, ["sitebox-system", "absent"])
    assert facts.server_version == "v1.36.3"
    assert facts.nodes == (NodeFacts("n0", 4000, 16 * GI, 0, True, True),)
    assert facts.namespaces == {"sitebox-system": {"a": "b"}}
    assert len(kube.asked) == len(INSTALL_ACCESS)
    assert [str(a) for a, ok in facts.access.items() if not ok] == [
        "create clusterroles.rbac.authorization.k8s.io"
    ]
    assert facts.crds == frozenset({GATEWAY_CRD})
    assert facts.ingress_classes is None, "a refused list is unknown, not empty"


# ---- results and output ----------------------------------------------------------------------


def test_warnings_do_not_fail_the_run() -> None:
    warned = [Result("a", PASS, "ok"), Result("b", WARN, "hmm", "do x")]
    assert checks.exit_code(warned) == 0
    assert checks.exit_code([*warned, Result("c", FAIL, "no", "do y")]) == 1


def test_every_check_runs_on_a_healthy_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "tool_states", lambda: {"helm": "cached"})
    site = site_from(tmp_path, "storage: {sharedClassName: shared}\n")
    results = checks.check_all(site, healthy())
    assert [r.name for r in results] == [
        "kubernetes-version", "capacity", "storage-default", "storage-shared", "pod-security",
        "rbac", "tools", "ingress", "cvmfs-proxy",
    ]  # fmt: skip
    assert [r for r in results if r.status != PASS] == []
    assert checks.exit_code(results) == 0


def test_text_output_fits_80_columns_and_keeps_every_word() -> None:
    detail = " ".join(f"word{i}" for i in range(60)) + " averyveryverylongunbrokenname" * 3
    results = [
        Result("kubernetes-version", PASS, "v1.36.3"),
        Result("capacity", FAIL, detail, "add nodes"),
        Result("ingress", WARN, "[red]not markup[/red]", "install a gateway"),
    ]
    buffer = io.StringIO()
    show(results, Console(file=buffer, width=80, color_system=None))
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    joined = "".join(text.split())
    assert "".join(detail.split()) in joined.replace("│", "")
    assert "[red]notmarkup[/red]" in joined
    assert fix_lines(results) == ["fix: capacity: add nodes", "fix: ingress: install a gateway"]
    assert "fix: capacity: add nodes" in text


def test_command_errors_are_sitebox_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    both = runner.invoke(preflight_cmd, ["-f", "x.yaml", "--profile", "demo"])
    assert isinstance(both.exception, SiteboxError)
    missing = runner.invoke(
        preflight_cmd, ["--profile", "demo", "--kubeconfig", str(tmp_path / "none")]
    )
    assert isinstance(missing.exception, KubeError)
    assert "kubeconfig" in missing.exception.message and "not found" in missing.exception.message
