"""The hub's API, the gateway's API and the S3 store answer, reached through the API
server's service proxy (no port-forward, no route into the cluster needed).

These need a running process behind the service: on a simulated cluster no
container runs, so they are not run there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sitebox.kube import Kube, KubeError
from sitebox.validate import facts
from sitebox.validate.suite.verdict import NAMESPACES, fail_on, require

Judge = Callable[[int, str], str | None]
# SeaweedFS's S3 port (the chart's `s3.port`).
S3_PORT = 8333


def _service(
    kube: Kube, charts: dict[str, str], component: str, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for namespace in NAMESPACES:
        for service in kube.list_objects("v1", "Service", namespace):
            labels = service["metadata"].get("labels")
            if facts.component_of(labels, charts) == component and wanted(service):
                return service
    pytest.fail(f"{component} has no such service\nfix: run `sitebox upgrade`", pytrace=False)


def _port(service: dict[str, Any], preferred: tuple[str | int, ...]) -> int:
    ports = service["spec"].get("ports") or []
    for port in ports:
        if port.get("name") in preferred or port["port"] in preferred:
            return int(port["port"])
    return int(ports[0]["port"])


def _ask(kube: Kube, service: dict[str, Any], port: int, path: str, judge: Judge, fix: str) -> None:
    meta = service["metadata"]
    where = f"service {meta['namespace']}/{meta['name']}:{port} {path}"
    try:
        problem = judge(*kube.service_proxy_get(meta["namespace"], meta["name"], port, path))
    except KubeError as exc:
        problem = exc.message
    fail_on([f"{where}: {problem}"] if problem else [], fix)


def _running(site: facts.SiteFacts, component: str) -> None:
    if site.simulated:
        pytest.skip(facts.SIMULATED)
    require(site, component)


def test_hub_api_answers(site: facts.SiteFacts, kube: Kube, charts: dict[str, str]) -> None:
    _running(site, "hub")
    # zero-to-jupyterhub names its public service exactly; its proxy forwards /hub to the hub.
    service = _service(kube, charts, "hub", lambda s: s["metadata"]["name"] == "proxy-public")
    _ask(
        kube, service, _port(service, ("http", 80)), "/hub/api",
        lambda status, body: facts.version_problem(status, body, "JupyterHub"),
        "`kubectl -n sitebox logs deploy/hub` and `deploy/proxy` say why the hub does not answer",
    )  # fmt: skip


def test_gateway_api_answers(site: facts.SiteFacts, kube: Kube, charts: dict[str, str]) -> None:
    _running(site, "dask")
    # The gateway's traefik proxy, serving the API under the chart's default prefix "/".
    service = _service(kube, charts, "dask", lambda s: s["metadata"]["name"].startswith("traefik"))
    _ask(
        kube, service, _port(service, ("web", 80)), "/api/version",
        lambda status, body: facts.version_problem(status, body, "dask-gateway"),
        "the logs of the dask-gateway api and traefik pods (`kubectl -n sitebox logs`) say why",
    )  # fmt: skip


def test_storage_reachable(site: facts.SiteFacts, kube: Kube, charts: dict[str, str]) -> None:
    _running(site, "storage")
    service = _service(
        kube, charts, "storage",
        lambda s: any(p["port"] == S3_PORT for p in s["spec"].get("ports") or []),
    )  # fmt: skip
    _ask(
        kube, service, S3_PORT, "/", facts.s3_problem,
        "the logs of the seaweedfs s3 and filer pods (`kubectl -n sitebox logs`) say why",
    )  # fmt: skip
