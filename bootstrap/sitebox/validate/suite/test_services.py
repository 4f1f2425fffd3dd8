"""Every Service of a component has a ready endpoint (from its EndpointSlices)."""

from __future__ import annotations

import time

import pytest

from sitebox.kube import Kube
from sitebox.model import distro
from sitebox.validate import facts
from sitebox.validate.suite.verdict import NAMESPACES, fail_on, require

# Helm's --wait returns once the pods are ready; the EndpointSlice controller may take a
# moment more to publish them, so a missing endpoint is looked for again this long.
SETTLE_SECONDS = 10


def _problems(kube: Kube, component: str, charts: dict[str, str]) -> list[str] | None:
    """The services without a ready endpoint; None when the component has no services."""
    found: list[str] = []
    any_service = False
    for namespace in NAMESPACES:
        services = [
            s for s in kube.list_objects("v1", "Service", namespace)
            if facts.component_of(s["metadata"].get("labels"), charts) == component
        ]  # fmt: skip
        if not services:
            continue
        any_service = True
        slices = kube.list_objects("discovery.k8s.io/v1", "EndpointSlice", namespace)
        found += [p for s in services if (p := facts.service_problem(s, slices))]
    return found if any_service else None


@pytest.mark.parametrize("component", list(distro.load().components))
def test_services_have_endpoints(
    component: str, site: facts.SiteFacts, kube: Kube, charts: dict[str, str]
) -> None:
    require(site, component)
    deadline = time.monotonic() + SETTLE_SECONDS
    problems = _problems(kube, component, charts)
    if problems is None:
        pytest.skip(f"{component} has no services")
    while problems and time.monotonic() < deadline:
        time.sleep(1)
        problems = _problems(kube, component, charts) or []
    fail_on(
        problems,
        "a service without ready endpoints has no ready pod behind it: see the pods-ready "
        "check, and that the service's selector matches the pods' labels",
    )
