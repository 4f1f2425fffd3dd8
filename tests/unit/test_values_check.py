"""Values handed to upstream charts, against the charts' own values schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.errors import SiteboxError
from sitebox.render.values_check import check_values, load_schema, merge_values

pytestmark = pytest.mark.unit

# shared/ sits beside the checkout, on developer machines and in CI alike.
UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "upstream"
needs_upstream = pytest.mark.skipif(
    not (UPSTREAM / "jupyterhub" / "values.schema.json").is_file(),
    reason=f"upstream chart data not present at {UPSTREAM}",
)


def upstream_schema(chart: str) -> dict[str, Any]:
    schema = load_schema(None, UPSTREAM / chart / "values.schema.json")
    assert schema is not None
    return schema


def upstream_defaults(chart: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((UPSTREAM / chart / "values.yaml").read_text())
    return data


@needs_upstream
def test_minimal_jupyterhub_values_pass() -> None:
    values = {"hub": {"config": {"JupyterHub": {"admin_users": ["alice"]}}}}
    assert check_values("jupyterhub", values, upstream_schema("jupyterhub")) == []


@needs_upstream
def test_unknown_hub_key_is_caught_with_did_you_mean() -> None:
    values = {"hub": {"cookieSecrett": "x"}}
    [finding] = check_values("jupyterhub", values, upstream_schema("jupyterhub"))
    assert (finding.check, finding.kind, finding.name, finding.severity) == (
        "values/jupyterhub",
        "values",
        "jupyterhub",
        "error",
    )
    assert finding.message.startswith("hub.cookieSecrett:")
    assert "did you mean 'cookieSecret'" in finding.hint


@needs_upstream
def test_wrong_type_is_caught_with_key_path() -> None:
    values = {"hub": {"concurrentSpawnLimit": "ten"}}
    [finding] = check_values("jupyterhub", values, upstream_schema("jupyterhub"))
    assert finding.message == "hub.concurrentSpawnLimit: expected integer, got string 'ten'"


@needs_upstream
def test_deep_key_path() -> None:
    values = {"hub": {"config": {"JupyterHub": {"admin_users": ["a"]}, "jupyterhub": {}}}}
    [finding] = check_values("jupyterhub", values, upstream_schema("jupyterhub"))
    assert finding.message.startswith("hub.config.jupyterhub:")


@needs_upstream
def test_chart_defaults_pass_and_nulling_a_required_key_fails() -> None:
    schema, defaults = upstream_schema("jupyterhub"), upstream_defaults("jupyterhub")
    assert check_values("jupyterhub", {}, schema, defaults=defaults) == []
    [finding] = check_values("jupyterhub", {"proxy": None}, schema, defaults=defaults)
    assert finding.message == "proxy: required field is missing"


@needs_upstream
def test_dask_gateway_schema_defaults_to_draft7() -> None:
    # Its "$schema" key is misspelt upstream, so the default validator applies.
    schema = upstream_schema("dask-gateway")
    assert "$schema" not in schema
    assert check_values("dask-gateway", {"gateway": {"replicas": 2}}, schema) == []
    findings = check_values("dask-gateway", {"gateway": {"replicas": "2", "bakcend": {}}}, schema)
    assert [f.message.split(":")[0] for f in findings] == ["gateway.bakcend", "gateway.replicas"]
    assert "did you mean 'backend'" in findings[0].hint


def test_validator_follows_dollar_schema() -> None:
    # prefixItems exists only from draft 2020-12; draft-07 ignores it.
    schema: dict[str, Any] = {"type": "array", "prefixItems": [{"type": "integer"}]}
    strict = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"a": schema},
    }
    assert len(check_values("c", {"a": ["x"]}, strict)) == 1
    assert check_values("c", {"a": ["x"]}, {"properties": {"a": schema}}) == []


def test_invalid_schema_is_a_sitebox_error() -> None:
    with pytest.raises(SiteboxError, match="not a valid JSON schema"):
        check_values("c", {}, {"type": 12})


def test_merge_values_like_helm() -> None:
    defaults = {"hub": {"a": 1, "b": {"c": 2}}, "list": [1, 2], "gone": 1}
    merged = merge_values(defaults, {"hub": {"b": {"d": 3}}, "list": [3], "gone": None})
    assert merged == {"hub": {"a": 1, "b": {"c": 2, "d": 3}}, "list": [3]}


def test_load_schema_prefers_the_chart(tmp_path: Path) -> None:
    chart, fallback = tmp_path / "chart", tmp_path / "fallback.json"
    chart.mkdir()
    fallback.write_text(json.dumps({"title": "fallback"}))
    assert load_schema(chart, fallback) == {"title": "fallback"}
    (chart / "values.schema.json").write_text(json.dumps({"title": "chart"}))
    assert load_schema(chart, fallback) == {"title": "chart"}
    assert load_schema(None, tmp_path / "missing.json") is None
    assert load_schema(None, None) is None


def test_load_schema_reports_broken_json_with_location(tmp_path: Path) -> None:
    (tmp_path / "values.schema.json").write_text('{\n  "type": object\n}')
    with pytest.raises(SiteboxError) as caught:
        load_schema(tmp_path, None)
    assert caught.value.location is not None
    assert caught.value.location.line == 2
