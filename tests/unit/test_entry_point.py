"""How users reach the hub: `ingress.type` composed into the charts' values; every other
Service stays ClusterIP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sitebox.components import dask, hub
from sitebox.compose import secrets as secret_store
from sitebox.errors import SiteboxError
from sitebox.model import siteconfig

pytestmark = pytest.mark.unit


def values(tmp_path: Path, body: str) -> tuple[dict[str, Any], dict[str, Any]]:
    path = tmp_path / "site.yaml"
    path.write_text(f"apiVersion: sitebox.io/v1\nkind: Site\nname: uni\nprofile: tier3\n{body}")
    site = siteconfig.load(path)
    secrets = secret_store.ensure(secret_store.FileStore(tmp_path / "s.json"), site.enabled())
    return hub.values(site, secrets), dask.values(site, secrets)


def test_without_an_entry_point_everything_is_cluster_internal(tmp_path: Path) -> None:
    hub_values, dask_values = values(tmp_path, "")
    assert hub_values["proxy"]["service"] == {"type": "ClusterIP"}
    assert dask_values["traefik"]["service"] == {"type": "ClusterIP"}
    assert "httpRoute" not in hub_values and "ingress" not in hub_values


def test_a_gateway_gets_the_hubs_route(tmp_path: Path) -> None:
    body = (
        "domain: physics.example.edu\n"
        "ingress: {type: gateway, gateway: {name: site-gw, namespace: gateway-system}}\n"
    )
    hub_values, _ = values(tmp_path, body)
    assert hub_values["httpRoute"] == {
        "enabled": True,
        "hostnames": ["hub.physics.example.edu"],
        "gateway": {"name": "site-gw", "namespace": "gateway-system"},
    }
    assert hub_values["proxy"]["service"] == {"type": "ClusterIP"}


def test_an_ingress_class_and_a_load_balancer(tmp_path: Path) -> None:
    body = "domain: physics.example.edu\ningress: {type: ingress, className: traefik}\n"
    hub_values, _ = values(tmp_path, body)
    assert hub_values["ingress"] == {
        "enabled": True, "hosts": ["hub.physics.example.edu"], "ingressClassName": "traefik"
    }  # fmt: skip
    hub_values, dask_values = values(tmp_path, "ingress: {type: loadBalancer}\n")
    assert hub_values["proxy"]["service"] == {"type": "LoadBalancer"}
    assert dask_values["traefik"]["service"] == {"type": "ClusterIP"}


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("ingress: {type: gateway, gateway: {name: g, namespace: n}}\n", "(domain)"),
        ("domain: physics.example.edu\ningress: {type: gateway}\n", "(ingress.gateway)"),
    ],
)
def test_a_route_without_what_it_needs_is_a_clear_error(
    tmp_path: Path, body: str, key: str
) -> None:
    with pytest.raises(SiteboxError) as raised:
        values(tmp_path, body)
    assert key in raised.value.render() and raised.value.hint
