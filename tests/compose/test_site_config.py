"""site.yaml and profiles: bad input gets file:line, the key and a fix; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitebox.config import ConfigError
from sitebox.errors import SiteboxError
from sitebox.model import distro, profiles, siteconfig
from tests.compose.conftest import write_site
from tests.conftest import run_sitebox

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["demo", "tier3", "tier2", "analysis-facility"])
def test_every_profile_is_valid_and_loads(name: str) -> None:
    assert profiles.load(name).data["name"] == name


def test_distribution_loads_with_its_pins() -> None:
    dist = distro.load()
    assert dist.version == "2026.12"
    assert dist.components["hub"].chart.version == "4.4.0"
    assert dist.supports("v1.36.3") and not dist.supports("1.29")


def test_demo_profile_fits_a_laptop() -> None:
    """All the demo's declared requests together fit in 2 CPU and 4 GiB."""
    from sitebox.cluster.quantity import cpu_millis, memory_bytes

    demo = profiles.load("demo").data
    cpu = memory = 0
    for spec in demo["components"].values():
        if spec.get("enabled") and "resources" in spec:
            cpu += cpu_millis(str(spec["resources"]["cpu"]))
            memory += memory_bytes(spec["resources"]["memory"])
    assert cpu <= 2000 and memory <= 4 * 2**30
    assert cpu_millis(demo["requires"]["cpu"]) <= 2000


def _error(tmp_path: Path, body: str) -> str:
    with pytest.raises(SiteboxError) as err:
        siteconfig.load(write_site(tmp_path, body))
    return err.value.render()


def test_typo_in_a_key_names_line_and_suggests(tmp_path: Path) -> None:
    text = _error(tmp_path, "name: uni\nprofile: tier3\ndomian: example.org\n")
    assert "site.yaml:5 (domian)" in text
    assert "did you mean 'domain'" in text


def test_unknown_component_is_refused_with_suggestion(tmp_path: Path) -> None:
    text = _error(tmp_path, "name: uni\nprofile: tier3\ncomponents:\n  hubb: {enabled: false}\n")
    assert "site.yaml:6 (components.hubb)" in text
    assert "did you mean 'hub'" in text


def test_unknown_profile(tmp_path: Path) -> None:
    text = _error(tmp_path, "name: uni\nprofile: tier4\n")
    assert "site.yaml:4 (profile)" in text
    assert "tier3" in text


def test_memory_in_gb_gets_the_kubernetes_spelling(tmp_path: Path) -> None:
    body = (
        "name: uni\nprofile: tier3\ncomponents:\n  hub:\n    serverProfiles:\n"
        "      - {name: big, cpu: '4', memory: 16GB}\n"
    )
    text = _error(tmp_path, body)
    assert "site.yaml:8" in text and "16Gi" in text


def test_wrong_type(tmp_path: Path) -> None:
    text = _error(tmp_path, "name: uni\nprofile: tier3\ncomponents:\n  batch: {enabled: 'yes'}\n")
    assert "components.batch.enabled" in text
    assert "boolean" in text or "true" in text


def test_yaml_syntax_error_and_empty_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: uni\nprofile: [tier3\n")
    with pytest.raises(ConfigError) as err:
        siteconfig.load(broken)
    assert f"{broken}:" in err.value.render()
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ConfigError) as err:
        siteconfig.load(empty)
    assert "sitebox init" in err.value.render()


def test_dask_needs_the_hub(tmp_path: Path) -> None:
    text = _error(tmp_path, "name: uni\nprofile: tier3\ncomponents:\n  hub: {enabled: false}\n")
    assert "component 'dask' needs 'hub'" in text


def test_workflow_engines_are_alternatives(tmp_path: Path) -> None:
    body = (
        "name: uni\nprofile: tier3\ncomponents:\n"
        "  workflow: {enabled: true}\n  argo: {enabled: true}\n"
    )
    assert "are alternatives" in _error(tmp_path, body)


def test_unknown_distribution_points_at_its_line(tmp_path: Path) -> None:
    text = _error(tmp_path, "name: uni\nprofile: tier3\ndistribution: '2019.01'\n")
    assert "site.yaml:5 (distribution)" in text
    assert "2026.12" in text


def test_cli_reports_all_problems_and_writes_nothing(tmp_path: Path) -> None:
    site = write_site(tmp_path, "name: Uni\nprofile: tier3\ndomian: x\n")
    state = tmp_path / "state"
    result = run_sitebox("render", "-f", str(site), env={"SITEBOX_STATE": str(state)}, cwd=tmp_path)
    assert result.code == 1
    assert "Traceback" not in result.err
    assert "site.yaml:3 (name)" in result.err and "site.yaml:5 (domian)" in result.err
    assert not (tmp_path / "rendered").exists()
    assert not state.exists(), "no secrets may be generated for a site that does not load"


def test_site_overrides_merge_over_the_profile(tmp_path: Path) -> None:
    body = (
        "name: uni\nprofile: tier3\ncomponents:\n  batch:\n    quota: {cpu: '8'}\n"
        "    values: {job: {activeDeadlineSeconds: 60}}\n"
    )
    site = siteconfig.load(write_site(tmp_path, body))
    assert site.components["batch"]["quota"] == {
        "cpu": "8",
        "memory": "256Gi",
        "pods": 500,
        "jobs": 5000,
    }
    assert site.overrides["batch"] == {"job": {"activeDeadlineSeconds": 60}}
    assert "values" not in site.components["batch"]


def test_openapi_checks_span_the_supported_versions() -> None:
    """An API served by the oldest supported Kubernetes but removed later is caught."""
    from sitebox.compose.render import openapi_findings

    schema = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3",
        "kind": "FlowSchema",
        "metadata": {"name": "x"},
        "spec": {"priorityLevelConfiguration": {"name": "global-default"}},
    }
    findings = openapi_findings([schema], distro.load())
    assert findings, "v1beta3 FlowSchema was removed in 1.32 and must be reported"
    assert all(f.kind == "FlowSchema" for f in findings)


@pytest.mark.parametrize("repositories", ["[.cern.ch]", "[atlas.cern.ch, atlas.cern.ch]"])
def test_cvmfs_repositories_are_checked_as_the_charts_check_them(
    tmp_path: Path, repositories: str
) -> None:
    path = write_site(
        tmp_path, f"name: uni\nprofile: tier3\ncvmfs:\n  repositories: {repositories}\n"
    )
    with pytest.raises(ConfigError) as err:
        siteconfig.load(path)
    assert "cvmfs.repositories" in err.value.render()
