"""Composition and rendering through real `helm template`: secrets, determinism,
the shared DaskHub token, missing upstream charts, policies, bundles."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.compose import render as renderer
from sitebox.compose import secrets as secret_store
from sitebox.compose.values import release_values
from sitebox.errors import SiteboxError
from sitebox.model import siteconfig
from sitebox.render.policy import containers_of
from tests.compose.conftest import write_site
from tests.conftest import UPSTREAM_CHARTS, run_sitebox

pytestmark = pytest.mark.chart

OWN_CHARTS_ONLY = (
    "name: own\nprofile: tier3\ncomponents:\n  hub: {enabled: false}\n  dask: {enabled: false}\n"
    "  storage: {enabled: false}\n  cvmfs: {enabled: false}\n"
)


def _secrets(env: dict[str, str], site: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(
        (Path(env["SITEBOX_STATE"]) / "sites" / site / "secrets.json").read_text()
    )
    return data


def test_render_is_deterministic_and_reuses_secrets(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    site = write_site(tmp_path, "name: uni\nprofile: tier2\n")
    first = run_sitebox("render", "-f", str(site), "-o", "one", env=workspace, cwd=tmp_path)
    assert first.code == 0, first.err
    secrets = _secrets(workspace, "uni")
    assert {"batch.poolPassword", "batch.signingKey", "storage.secretKey"} <= secrets.keys()
    second = run_sitebox("render", "-f", str(site), "-o", "two", env=workspace, cwd=tmp_path)
    assert second.code == 0, second.err
    for name in ("sitebox.yaml", "sitebox-system.yaml"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert _secrets(workspace, "uni") == secrets, "a second render must not regenerate secrets"
    store = Path(workspace["SITEBOX_STATE"]) / "sites" / "uni" / "secrets.json"
    assert store.stat().st_mode & 0o777 == 0o600
    # The pool password reaches the chart (from sitebox, not from the chart's random fallback).
    objects = list(yaml.safe_load_all((tmp_path / "one" / "sitebox.yaml").read_text()))
    pool = [o for o in objects if o and o["kind"] == "Secret" and "pool" in o["metadata"]["name"]]
    assert pool and secrets["batch.poolPassword"] in json.dumps(_decoded(pool[0]))
    for output in (first.out + first.err, second.out + second.err):
        assert not any(value in output for value in secrets.values()), "a secret was printed"


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    import base64

    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def test_secrets_are_generated_once_and_survive_a_component_switched_off(tmp_path: Path) -> None:
    store = secret_store.FileStore(tmp_path / "secrets.json")
    first = secret_store.ensure(store, ["hub", "dask"])
    assert set(first) == {"hub.cookieSecret", "hub.proxyToken", "hub.cryptKey", "dask.apiToken"}
    again = secret_store.ensure(store, ["hub"])
    assert dict(again) == dict(first)
    assert "not shown" in repr(again) and first["dask.apiToken"] not in repr(again)
    assert again.redact(f"token={first['hub.proxyToken']}") == "token=<secret hub.proxyToken>"


def test_hub_and_gateway_share_one_token(tmp_path: Path) -> None:
    site = siteconfig.load(write_site(tmp_path, "name: uni\nprofile: tier3\n"))
    secrets = secret_store.ensure(secret_store.FileStore(tmp_path / "s.json"), site.enabled())
    values = release_values(site, secrets, "site", ["hub", "dask"])
    hub_token = values["jupyterhub"]["hub"]["services"]["dask-gateway"]["apiToken"]
    gateway_token = values["dask-gateway"]["gateway"]["auth"]["jupyterhub"]["apiToken"]
    assert hub_token == gateway_token == secrets["dask.apiToken"]


def test_missing_upstream_charts_are_named_and_the_rest_renders(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    result = run_sitebox("render", "--profile", "tier3", env=workspace, cwd=tmp_path)
    assert result.code == 0, result.err
    for chart in (
        "jupyterhub 4.4.0",
        "dask-gateway 2026.3.0",
        "seaweedfs 4.44.0",
        "cvmfs-csi 2.5.2",
    ):
        assert f"needs {chart}" in result.err
    assert "sitebox charts pull" in result.err
    assert "render INCOMPLETE" in result.err
    kinds = {
        o["kind"]
        for o in yaml.safe_load_all((tmp_path / "rendered/tier3/sitebox.yaml").read_text())
        if o
    }
    assert {"Namespace", "ResourceQuota", "ServiceAccount", "Role"} <= kinds


def test_upstream_value_rejected_by_the_chart_schema(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    if "SITEBOX_UPSTREAM_SCHEMAS" not in workspace:
        pytest.skip("no upstream schema copies on this machine")
    body = (
        "name: uni\nprofile: tier3\ncomponents:\n  hub:\n    values:\n"
        "      hub: {cookieSecrett: x}\n"
    )
    result = run_sitebox(
        "render", "-f", str(write_site(tmp_path, body)), env=workspace, cwd=tmp_path
    )
    assert result.code == 1
    assert "hub.cookieSecrett" in result.err and "did you mean 'cookieSecret'" in result.err
    assert not (tmp_path / "rendered").exists(), "nothing is written when a check fails"


def test_policy_violation_fails_and_a_waiver_with_reason_passes(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    # A site that drops the central manager's limits: the chart allows it, policy does not.
    bad = (
        "name: pol\nprofile: tier2\ncomponents:\n  batch:\n    values:\n"
        "      htcondor: {cm: {resources: {limits: null}}}\n"
    )
    result = run_sitebox(
        "render", "-f", str(write_site(tmp_path, bad)), env=workspace, cwd=tmp_path
    )
    assert result.code == 1
    assert "[policy/requests-limits]" in result.err and "sitebox-batch-cm" in result.err
    waiver = "requests-limits/Deployment/sitebox-batch-cm: a test site, bursting is fine"
    waived = bad + f"policy:\n  waivers:\n    {waiver}\n"
    result = run_sitebox(
        "render", "-f", str(write_site(tmp_path, waived)), env=workspace, cwd=tmp_path
    )
    assert result.code == 0, result.err


def test_plan_compares_requests_with_capacity(tmp_path: Path, workspace: dict[str, str]) -> None:
    fits = run_sitebox("plan", "--profile", "tier2", "-o", "json", env=workspace, cwd=tmp_path)
    assert fits.code == 0, fits.err
    plan = json.loads(fits.out)
    batch = next(row for row in plan["components"] if row["name"] == "batch")
    assert float(batch["cpu"]) > 256  # 32 workers of 8 CPUs, plus the daemons
    small = run_sitebox(
        "plan", "--profile", "tier2", "--capacity", "16cpu-64Gi", env=workspace, cwd=tmp_path
    )
    assert small.code == 1
    assert "exceed the capacity" in small.err


def test_composed_chart_carries_only_enabled_components(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    site = write_site(tmp_path, OWN_CHARTS_ONLY)
    result = run_sitebox(
        "bundle", "create", "-f", str(site), "-o", "b.tgz", env=workspace, cwd=tmp_path
    )
    assert result.code == 0, result.err
    with tarfile.open(tmp_path / "b.tgz") as tar:
        names = tar.getnames()
        info = json.loads(tar.extractfile("bundle.json").read())  # type: ignore[union-attr]
    assert sorted(info["charts"]) == ["batch-0.1.0", "site-base-0.2.0"]
    assert not any("jupyterhub" in n for n in names)
    assert "docker.io/htcondor/cm:25.0.1-el9" in info["images"]
    # Queue mode's job image is passed in configuration, not run: declared, so carried.
    assert "docker.io/library/almalinux:9.6" in info["images"]


def test_a_bundle_carries_every_image_the_render_runs(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    pool = OWN_CHARTS_ONLY + (
        "  batch:\n    mode: htcondor\n    workers: 1\n    quota: {cpu: '6', memory: 12Gi}\n"
        "    job: {cpu: 500m, memory: 1Gi}\n"
    )
    site = write_site(tmp_path, pool)
    made = run_sitebox("bundle", "create", "-f", str(site), "-o", "b.tgz", env=workspace,
                       cwd=tmp_path)  # fmt: skip
    assert made.code == 0, made.err
    with tarfile.open(tmp_path / "b.tgz") as tar:
        listed = tar.extractfile("images.txt").read().decode().split()  # type: ignore[union-attr]
    rendered = run_sitebox("render", "-f", str(site), "-o", "out", env=workspace, cwd=tmp_path)
    assert rendered.code == 0, rendered.err
    used = {
        image for path in (tmp_path / "out").iterdir()
        for obj in yaml.safe_load_all(path.read_text()) if obj
        for image in _pod_images(obj)
    }  # fmt: skip
    assert {"docker.io/htcondor/cm:25.0.1-el9", "docker.io/htcondor/execute:25.0.1-el9"} <= used
    assert used <= set(listed), used - set(listed)


def _pod_images(obj: dict[str, Any]) -> list[str]:
    return [c["image"] for c in containers_of(obj)]


def test_bundle_round_trip_renders_the_same_bytes(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    site = write_site(tmp_path, OWN_CHARTS_ONLY)
    made = run_sitebox(
        "bundle", "create", "-f", str(site), "-o", "b.tgz", env=workspace, cwd=tmp_path
    )
    assert made.code == 0, made.err
    plain = run_sitebox("render", "-f", str(site), "-o", "plain", env=workspace, cwd=tmp_path)
    bundled = run_sitebox(
        "render", "-f", str(site), "--bundle", "b.tgz", "-o", "bundled", env=workspace, cwd=tmp_path
    )
    assert plain.code == 0 and bundled.code == 0, bundled.err
    assert "render complete" in bundled.err
    assert (tmp_path / "plain/sitebox.yaml").read_bytes() == (
        tmp_path / "bundled/sitebox.yaml"
    ).read_bytes()


def test_bundle_of_an_incomplete_site_is_refused(tmp_path: Path, workspace: dict[str, str]) -> None:
    result = run_sitebox(
        "bundle", "create", "--profile", "demo", "-o", "b.tgz", env=workspace, cwd=tmp_path
    )
    assert result.code == 1
    assert "charts missing on this machine: jupyterhub 4.4.0" in result.err
    assert not (tmp_path / "b.tgz").exists()


@pytest.mark.parametrize("profile", ["demo", "tier3", "tier2", "analysis-facility"])
def test_init_writes_a_site_yaml_that_loads(tmp_path: Path, profile: str) -> None:
    result = run_sitebox(
        "init", "--profile", profile, "--name", "uni", "-o", "s.yaml", cwd=tmp_path
    )
    assert result.code == 0, result.err
    site = siteconfig.load(tmp_path / "s.yaml")
    assert (site.name, site.profile) == ("uni", profile)
    again = run_sitebox("init", "--profile", profile, "-o", "s.yaml", cwd=tmp_path)
    assert again.code == 1 and "exists" in again.err


def test_shipped_json_schemas_match_their_yaml_sources() -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    check = subprocess.run([sys.executable, str(ROOT / "ci/schemas.py"), "--check"], check=False)
    assert check.returncode == 0


def test_node_pools_and_cvmfs_settings_reach_the_charts(tmp_path: Path) -> None:
    body = (
        "name: uni\nprofile: tier3\n"
        "nodePools:\n"
        "  - {name: grid, selector: {sitebox.io/node-pool: grid}, for: [batch]}\n"
        "  - {name: interactive, selector: {sitebox.io/node-pool: cpu}, for: [hub, users]}\n"
        "cvmfs: {repositories: [atlas.cern.ch, sft.cern.ch], proxy: 'http://squid.example.org:3128'}\n"
    )
    site = siteconfig.load(write_site(tmp_path, body))
    secrets = secret_store.ensure(secret_store.FileStore(tmp_path / "s.json"), site.enabled())
    system = release_values(site, secrets, "system", ["cvmfs"])
    local = system["cvmfs-csi"]["extraConfigMaps"]["cvmfs-csi-default-local"]["default.local"]
    assert "CVMFS_REPOSITORIES=atlas.cern.ch,sft.cern.ch" in local
    assert 'CVMFS_HTTP_PROXY="http://squid.example.org:3128"' in local
    apps = release_values(site, secrets, "site", ["hub", "batch"])
    assert apps["jupyterhub"]["singleuser"]["nodeSelector"] == {"sitebox.io/node-pool": "cpu"}
    assert apps["batch"]["job"]["nodeSelector"] == {"sitebox.io/node-pool": "grid"}

    from sitebox.compose import render as renderer

    result = renderer.render(site, secrets, tmp_path / "work")
    template = next(
        o for r in result.releases for o in r.manifests
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("job-template")
    )  # fmt: skip
    job = yaml.safe_load(template["data"]["job.yaml"])
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {"sitebox.io/node-pool": "grid"}


OIDC = (
    "name: uni\nprofile: tier3\ndomain: uni.example.org\nauth:\n  type: oidc\n  oidc:\n"
    "    provider: {provider}\n    issuer: {issuer}\n    clientId: sitebox-hub\n"
    "    clientSecretEnv: HUB_OIDC_SECRET\n"
)


@pytest.mark.parametrize(
    ("provider", "issuer", "token_url"),
    [
        ("keycloak", "https://sso.uni.example.org/realms/physics",
         "https://sso.uni.example.org/realms/physics/protocol/openid-connect/token"),
        ("cilogon", "https://cilogon.org", "https://cilogon.org/oauth2/token"),
        ("indigo-iam", "https://iam.example.org/", "https://iam.example.org/token"),
    ],
)  # fmt: skip
def test_oidc_endpoints_follow_the_provider_and_the_secret_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, issuer: str, token_url: str
) -> None:
    site = siteconfig.load(write_site(tmp_path, OIDC.format(provider=provider, issuer=issuer)))
    store = secret_store.FileStore(tmp_path / "s.json")
    monkeypatch.setenv("HUB_OIDC_SECRET", "first-secret")
    given = secret_store.supplied(site.config)
    secrets = secret_store.ensure(store, site.enabled(), given=given)
    hub = release_values(site, secrets, "site", ["hub"])["jupyterhub"]["hub"]["config"]
    oauth = hub["GenericOAuthenticator"]
    assert oauth["token_url"] == token_url
    assert oauth["client_secret"] == "first-secret"
    assert oauth["oauth_callback_url"] == "https://hub.uni.example.org/hub/oauth_callback"

    # Rotated by running again with the new value; reused when not given again.
    monkeypatch.setenv("HUB_OIDC_SECRET", "second-secret")
    rotated = secret_store.ensure(store, site.enabled(), given=secret_store.supplied(site.config))
    assert rotated["oidc.clientSecret"] == "second-secret"
    monkeypatch.delenv("HUB_OIDC_SECRET")
    reused = secret_store.ensure(store, site.enabled(), given=secret_store.supplied(site.config))
    assert reused["oidc.clientSecret"] == "second-secret"
    assert reused["hub.cookieSecret"] == secrets["hub.cookieSecret"], "generated ones stay"


def test_an_oidc_site_without_its_client_secret_is_a_clear_error(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    # The hub's values are composed where its chart is (the real cache) or its schema
    # copy (../shared): a render without either leaves the hub out, secret or not.
    hub_chart = UPSTREAM_CHARTS / "jupyterhub-4.4.0"
    if not hub_chart.is_dir() and "SITEBOX_UPSTREAM_SCHEMAS" not in workspace:
        pytest.skip("neither the hub's chart nor its schema copy is on this machine")
    body = OIDC.format(provider="keycloak", issuer="https://sso.example.org/realms/x")
    site = write_site(tmp_path, body)
    env = {**workspace, "HUB_OIDC_SECRET": "", "SITEBOX_CHART_CACHE": str(UPSTREAM_CHARTS)}
    result = run_sitebox("render", "-f", str(site), "-o", "out", env=env, cwd=tmp_path)
    assert result.code == 1
    assert "the hub's OIDC client secret is not set" in result.err
    assert "HUB_OIDC_SECRET is empty or unset" in result.err
    assert "auth.oidc.clientSecretEnv" in result.err
    assert "Traceback" not in result.err

    env["HUB_OIDC_SECRET"] = "from-the-provider"
    rendered = run_sitebox("render", "-f", str(site), "-o", "out", env=env, cwd=tmp_path)
    assert rendered.code == 0, rendered.err
    assert "from-the-provider" not in rendered.out + rendered.err


def test_hub_login_rules_and_gateway_limits_are_in_the_units_and_claims_they_expect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_OIDC_SECRET", "s")
    open_site = siteconfig.load(
        write_site(tmp_path, OIDC.format(provider="cilogon", issuer="https://cilogon.org"))
    )
    given = secret_store.supplied(open_site.config)
    store = secret_store.FileStore(tmp_path / "s.json")
    secrets = secret_store.ensure(store, open_site.enabled(), given=given)
    values = release_values(open_site, secrets, "site", ["hub", "dask"])
    config = values["jupyterhub"]["hub"]["config"]
    assert config["Authenticator"]["allow_all"] is True, "no groups: everyone the IdP admits"
    assert "max_memory = '128G'" in json.dumps(values["dask-gateway"]), "Gi is not gateway's unit"

    body = OIDC.format(provider="cilogon", issuer="https://cilogon.org") + (
        "    allowedGroups: [CO:COU:physics:members:active]\n"
    )
    grouped = siteconfig.load(write_site(tmp_path, body, "grouped.yaml"))
    config = release_values(grouped, secrets, "site", ["hub"])["jupyterhub"]["hub"]["config"]
    assert "allow_all" not in config["Authenticator"]
    oauth = config["GenericOAuthenticator"]
    assert oauth["allowed_groups"] == ["CO:COU:physics:members:active"]
    assert oauth["claim_groups_key"] == "isMemberOf"


@pytest.mark.parametrize(
    ("body", "component", "key", "message"),
    [
        ("name: uni\nprofile: tier3\ncomponents:\n  nfs: {enabled: true}\n",
         "nfs", "storage.nfs", "the nfs component needs the NFS export"),
        (OIDC.format(provider="keycloak", issuer="https://sso.example.org/realms/x").replace(
            "domain: uni.example.org\n", ""),
         "hub", "domain", "auth.type oidc needs the site's domain"),
    ],
)  # fmt: skip
def test_settings_a_component_cannot_work_without_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, component: str, key: str,
    message: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("HUB_OIDC_SECRET", "s")
    site = siteconfig.load(write_site(tmp_path, body))
    given = secret_store.supplied(site.config)
    store = secret_store.FileStore(tmp_path / "s.json")
    secrets = secret_store.ensure(store, site.enabled(), given=given)
    release = site.distribution.components[component].release
    with pytest.raises(SiteboxError) as raised:
        release_values(site, secrets, release, [component])
    assert message in raised.value.message
    assert raised.value.location is not None and raised.value.location.key == key


def test_a_changed_chart_in_the_cache_is_not_rendered(
    tmp_path: Path, workspace: dict[str, str]
) -> None:
    cached = tmp_path / "cache" / "seaweedfs-4.44.0"
    cached.mkdir(parents=True)
    (cached / "Chart.yaml").write_text("apiVersion: v2\nname: seaweedfs\nversion: 4.44.0\n")
    env = {**workspace, "SITEBOX_CHART_CACHE": str(tmp_path / "cache")}
    result = run_sitebox("render", "--profile", "demo", env=env, cwd=tmp_path)
    assert result.code == 1
    assert "seaweedfs 4.44.0 in the chart cache" in result.err
    assert "differs from the release the distribution pins" in result.err
    assert "sitebox charts import seaweedfs-4.44.0.tgz" in result.err
    assert not (tmp_path / "rendered").exists()


def test_a_list_a_chart_renders_is_checked_as_its_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REANA's Traefik subchart renders its Services as one `v1 List`, which the API server
    # does not serve as a kind: Helm applies its items, and sitebox checks those.
    if not (UPSTREAM_CHARTS / "reana-0.9.4").is_dir():
        pytest.skip("REANA's chart is not in the chart cache")
    monkeypatch.setenv("SITEBOX_CHART_CACHE", str(UPSTREAM_CHARTS))
    site = siteconfig.load(
        write_site(
            tmp_path,
            "name: uni\nprofile: tier3\ncomponents:\n  workflow:\n    enabled: true\n"
            "    values: {traefik: {enabled: true}}\n",
        )
    )
    secrets = secret_store.ensure(secret_store.FileStore(tmp_path / "s.json"), site.enabled())
    result = renderer.render(site, secrets, tmp_path / "work")
    objects = [(o["kind"], o["metadata"]["name"]) for r in result.releases for o in r.manifests]
    assert ("Service", "sitebox-traefik") in objects
    assert "List" not in {kind for kind, _ in objects}
    assert not [f for f in result.findings if f.check == "openapi" and f.kind == "List"]
