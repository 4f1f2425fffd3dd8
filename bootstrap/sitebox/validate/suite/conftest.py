"""Fixtures of the validation suite: the cluster, its Helm releases, the site's facts.

The suite reads the cluster only through ``kube.py`` and ``helm.py``. A check that
cannot mean anything on this cluster skips with the reason ("not run on a simulated
cluster", "<component> not installed"); the runner reports that as not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sitebox.components.names import SITE_NAMESPACE
from sitebox.compose.render import RELEASE_NAMES, RELEASES
from sitebox.helm import Helm, Installed
from sitebox.kube import Kube
from sitebox.lifecycle.status import SITE_INFO
from sitebox.validate import facts
from sitebox.validate.suite.verdict import NAMESPACES


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sitebox", "the cluster to validate")
    group.addoption("--kubeconfig", default=None, help="Default: $KUBECONFIG.")
    group.addoption("--context", default=None, help="Default: the current context.")


# The order the checks run and are listed in: from the releases down to the services' answers.
ORDER = ("test_releases", "test_pods", "test_services", "test_volumes", "test_http")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: ORDER.index(item.path.stem) if item.path.stem in ORDER else 99)


def _target(config: pytest.Config) -> tuple[Path | None, str | None]:
    kubeconfig = config.getoption("--kubeconfig")
    return (Path(kubeconfig) if kubeconfig else None), config.getoption("--context")


@pytest.fixture(scope="session")
def kube(pytestconfig: pytest.Config) -> Kube:
    return Kube(*_target(pytestconfig))


@pytest.fixture(scope="session")
def helm(pytestconfig: pytest.Config) -> Helm:
    return Helm(*_target(pytestconfig))


@pytest.fixture(scope="session")
def site(kube: Kube) -> facts.SiteFacts:
    info = kube.get("v1", "ConfigMap", SITE_INFO, SITE_NAMESPACE)
    return facts.SiteFacts(facts.enabled_components(info), facts.is_simulated(kube.nodes()))


@pytest.fixture(scope="session")
def releases(helm: Helm) -> dict[str, Installed | None]:
    """Each release as it stands, by release name; read once for every check."""
    return helm.read(RELEASE_NAMES)


@pytest.fixture(scope="session")
def manifests(releases: dict[str, Installed | None]) -> dict[str, list[dict[str, Any]]]:
    """The objects of each release's current revision, by release ("site", "system")."""
    found = {key: releases[name] for key, name, _ in RELEASES}
    return {key: state.objects if state else [] for key, state in found.items()}


@pytest.fixture(scope="session")
def charts() -> dict[str, str]:
    return facts.chart_components()


@pytest.fixture(scope="session")
def pods(kube: Kube) -> list[dict[str, Any]]:
    """Every pod of the site, with its chart label, readiness and what it waits for."""
    return [pod for namespace in NAMESPACES for pod in kube.pod_health(namespace)]
