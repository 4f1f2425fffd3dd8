"""The values sitebox hands to an upstream chart, against that chart's values schema.

Helm validates the *merged* values (chart defaults, then ours) against
``values.schema.json``. Given only our overrides, ``required`` cannot be judged
(the chart's defaults supply those keys), so those errors are left out; given
the chart's defaults too, the values are merged as Helm merges them and
checked in full, ``required`` included. Everything else (unknown keys, wrong
types, bad enum values) is caught either way, which is what stops a typo such
as ``hub.cookieSecrett`` from being ignored silently by a chart without a schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from sitebox.errors import Location, SiteboxError
from sitebox.render.findings import ERROR, Finding, schema_problems

SCHEMA_FILE = "values.schema.json"


def check_values(
    component: str,
    values: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """One finding per problem in ``values`` (merged over ``defaults`` when given)."""
    validator = _validator(component, schema)
    document = merge_values(defaults, values) if defaults is not None else dict(values)
    hint = f"see the {component} chart's values.yaml and {SCHEMA_FILE} for the accepted keys"
    findings = []
    for error in sorted(validator.iter_errors(document), key=_error_order):
        if defaults is None and error.validator == "required":
            continue
        for problem in schema_problems(error, hint):
            findings.append(
                Finding(
                    check=f"values/{component}",
                    severity=ERROR,
                    kind="values",
                    namespace=None,
                    name=component,
                    container=None,
                    message=f"{problem.path or '(top level)'}: {problem.message}",
                    hint=problem.hint,
                )
            )
    return findings


def merge_values(
    defaults: Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Helm's coalescing: maps merge key by key, anything else replaces, null deletes."""
    merged = dict(defaults or {})
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_schema(chart_dir: Path | None, fallback: Path | None) -> dict[str, Any] | None:
    """The chart's own schema if the chart is unpacked at ``chart_dir``, else ``fallback``'s.

    ``fallback`` may be the schema file or a directory holding one. None when
    neither exists: many charts ship no schema.
    """
    candidates = []
    if chart_dir is not None:
        candidates.append(chart_dir / SCHEMA_FILE)
    if fallback is not None:
        candidates.append(fallback / SCHEMA_FILE if fallback.is_dir() else fallback)
    for path in candidates:
        if path.is_file():
            return _read_schema(path)
    return None


def _read_schema(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SiteboxError(
            f"the values schema is not valid JSON: {err.msg}",
            hint="restore the file from the chart release",
            location=Location(str(path), line=err.lineno),
        ) from err
    if not isinstance(data, dict):
        raise SiteboxError(
            "the values schema is not a JSON object",
            hint="restore the file from the chart release",
            location=Location(str(path)),
        )
    return data


def _validator(component: str, schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    # Charts declare their draft in "$schema"; Helm's own default is draft-07.
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(dict(schema))
    except jsonschema.SchemaError as err:
        raise SiteboxError(
            f"the values schema of {component} is not a valid JSON schema: {err.message}",
            hint="check the chart version; the schema file may be truncated or hand-edited",
        ) from err
    return cls(dict(schema))


def _error_order(error: jsonschema.ValidationError) -> list[str]:
    return [str(part) for part in error.absolute_path]
