"""ci/kind_capacity.py: the simulated node that gives a kind cluster on a hosted runner
the capacity a profile requires, while every pod of the site stays on the real nodes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from sitebox.cluster.nodes import FAKE_ANNOTATION
from sitebox.kube import Kube, wait_for
from sitebox.model import profiles
from sitebox.preflight.checks import NodeFacts
from tests.ci.test_hosted_workflow import kind_sites
from tests.conftest import ROOT, Cluster, own_cluster, run_sitebox

SCRIPT = ROOT / "ci" / "kind_capacity.py"
GiB = 1 << 30


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kind_capacity", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


capacity = load_script()


def kind_node(name: str, ready: bool = True) -> NodeFacts:
    """A kind node on a hosted runner: it reports the runner's 4 CPUs and 16 GiB."""
    return NodeFacts(name, 4000, 16 * GiB, 0, ready, True)


KIND = [kind_node("control-plane"), kind_node("worker"), kind_node("worker2")]


def test_what_the_kind_nodes_lack_of_each_profile() -> None:
    requires = {name: profiles.load(name).data["requires"] for name in profiles.names()}
    assert capacity.shortfall(requires["demo"], KIND) == (0, 0, 0)
    assert capacity.shortfall(requires["tier2"], KIND) == (276_000, 1152 * GiB, 0)
    assert capacity.shortfall(requires["analysis-facility"], KIND) == (52_000, 208 * GiB, 1)
    # A node that is not ready is not counted, as preflight does not count it.
    assert capacity.shortfall(requires["demo"], [kind_node("x", ready=False)]) == (2000, 4 * GiB, 0)


def test_the_simulated_node_is_kwoks_and_no_pod_of_the_site_lands_on_it() -> None:
    assert capacity.capacity_node(0, 0, 0) is None
    node = capacity.capacity_node(52_000, 208 * GiB, 1)
    assert node["metadata"]["annotations"] == {FAKE_ANNOTATION: "fake"}
    assert node["metadata"]["labels"]["sitebox.io/node-pool"] == "simulated"
    assert node["spec"]["taints"] == [
        {"key": FAKE_ANNOTATION, "value": "fake", "effect": "NoSchedule"}
    ]
    held = node["status"]["allocatable"]
    assert (held["cpu"], held["memory"], held["nvidia.com/gpu"]) == ("52000m", str(208 * GiB), "1")
    # Short of a GPU alone: still a node with some CPU and memory.
    alone = capacity.capacity_node(0, 0, 1)["status"]["capacity"]
    assert (alone["cpu"], alone["memory"]) == ("1000m", str(GiB))


def test_the_kwok_config_holds_the_sim_clusters_stages(tools_ready: None) -> None:
    stages = list(yaml.safe_load_all(capacity.kwok_config()))
    assert {s["kind"] for s in stages} == {"Stage"}
    names = {s["metadata"]["name"] for s in stages}
    assert {"node-initialize", "pod-ready"} <= names, names


@pytest.fixture(scope="module")
def kindlike(tools_ready: None, state_env: dict[str, str]) -> Iterator[Cluster]:
    """A sim cluster of three 4-CPU, 16 GiB nodes: the kind cluster's nodes on a runner."""
    with own_cluster("kindlike", state_env, nodes="3x4cpu-16Gi") as found:
        yield found


def script(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.live
def test_with_the_node_each_profile_passes_capacity_and_placement_on_kind_sized_nodes(
    kindlike: Cluster, tmp_path: Path
) -> None:
    """Preflight as the profiles job meets it: the simulated node makes up the capacity,
    and the pods of the profile's kind site.yaml (the ones whose charts are here) are
    placed on the three real nodes; the taint keeps them off the simulated one."""
    kubeconfig, env = kindlike
    kube = Kube(kubeconfig)
    for profile, text in kind_sites().items():
        made = script("node", profile, "--kubeconfig", str(kubeconfig))
        if profile == "demo":
            assert made == "", "the demo fits three kind nodes"
            continue
        node: dict[str, Any] = yaml.safe_load(made)
        kube.create(node)
        name = node["metadata"]["name"]

        def ready(name: str = name) -> bool:
            found = kube.get("v1", "Node", name) or {}
            conditions = found.get("status", {}).get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        def gone(name: str = name) -> bool:
            return kube.get("v1", "Node", name) is None

        wait_for(f"node {name} Ready", ready, 60)
        site = tmp_path / f"{profile}.yaml"
        site.write_text(text)
        result = run_sitebox(
            "preflight", "-f", str(site), "--kubeconfig", str(kubeconfig), "-o", "json", env=env
        )
        rows = {r["name"]: r for r in json.loads(result.out)}
        assert rows["capacity"]["status"] == "pass", (profile, rows["capacity"])
        assert rows["placement"]["status"] == "pass", (profile, rows["placement"])
        assert rows["storage-shared"]["status"] == "pass", (profile, rows["storage-shared"])
        kube.delete("v1", "Node", name)
        wait_for(f"node {name} gone", gone, 60)
