"""Every component's workloads are rolled out and its pods are ready."""

from __future__ import annotations

from typing import Any

import pytest

from sitebox.compose.render import RELEASES
from sitebox.kube import Kube
from sitebox.lifecycle.status import workload_problems
from sitebox.model import distro
from sitebox.validate import facts
from sitebox.validate.suite.verdict import fail_on, require

COMPONENTS = distro.load().components
NAMESPACE = {key: namespace for key, _, namespace in RELEASES}


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_pods_ready(
    component: str,
    site: facts.SiteFacts,
    kube: Kube,
    manifests: dict[str, list[dict[str, Any]]],
    charts: dict[str, str],
    pods: list[dict[str, Any]],
) -> None:
    require(site, component)
    release = COMPONENTS[component].release
    # The release says which workloads should exist: one deleted by hand is found too.
    expected = [
        obj for obj in manifests[release]
        if obj.get("kind") in facts.WORKLOAD_KINDS
        and facts.component_of(obj["metadata"].get("labels"), charts) == component
    ]  # fmt: skip
    mine = [p for p in pods if facts.component_of(p["labels"], charts) == component]
    if not expected and not mine:
        pytest.skip(f"{component} runs no pods")
    found = workload_problems(kube, [(NAMESPACE[release], expected)], charts)
    problems = found.get(component, [])
    problems += [f"pod {p['name']}: {p['reason'] or 'not ready'}" for p in mine if not p["ready"]]
    fail_on(
        problems,
        "give the pods what they wait for (node capacity, a volume, an image), or change the "
        "site's requests; `sitebox status` shows the component's health",
    )
