"""What a pre-flight check reports, and the helpers that turn schema errors into it.

A check never raises for a problem in the manifests or values it is given: it
returns ``Finding`` objects, so one run shows every problem at once. Broken
*inputs to the check itself* (a schema that is not JSON, an unparseable
Kubernetes version) are ``SiteboxError``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jsonschema

ERROR = "error"
WARNING = "warning"
WAIVED = "waived"


@dataclass(frozen=True)
class Finding:
    """One concrete problem in one object (or one container of it)."""

    check: str
    severity: str
    kind: str
    namespace: str | None
    name: str
    container: str | None
    message: str
    hint: str
    waiver: str | None = None

    def waived(self, reason: str) -> Finding:
        return replace(self, severity=WAIVED, waiver=reason)

    def where(self) -> str:
        obj = f"{self.namespace}/{self.name}" if self.namespace else self.name
        text = f"{self.kind} {obj}"
        return f"{text} container {self.container}" if self.container else text

    def __str__(self) -> str:
        text = f"{self.severity}: [{self.check}] {self.where()}: {self.message}"
        if self.waiver is not None:
            return f"{text}\n  waived: {self.waiver}"
        return f"{text}\n  fix: {self.hint}" if self.hint else text


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


# Keys that read unambiguously after a dot; anything else (annotation keys such
# as "helm.sh/hook") is quoted so the path can be pasted back into a values file.
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def json_path(parts: Iterable[str | int]) -> str:
    """``["spec", "containers", 0, "image"]`` -> ``spec.containers[0].image``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class SchemaProblem:
    """A jsonschema error reduced to where it is, what is wrong and how to fix it."""

    path: str
    message: str
    hint: str


def schema_problems(error: jsonschema.ValidationError, fallback_hint: str) -> list[SchemaProblem]:
    """One problem per offending key: an error naming three unknown keys is three fixes."""
    parts: list[str | int] = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _unexpected_keys(error.instance, error.schema)
        return [_unknown_key(parts, key, error.schema) for key in extra]
    if error.validator == "required" and isinstance(error.validator_value, list):
        present = error.instance if isinstance(error.instance, dict) else {}
        return [
            SchemaProblem(json_path([*parts, key]), "required field is missing", fallback_hint)
            for key in error.validator_value
            if key not in present
        ]
    if error.validator == "type":
        return [SchemaProblem(json_path(parts), _type_message(error), fallback_hint)]
    branch_types = _branch_types(error)
    if branch_types:
        message = _type_message(error, branch_types)
        return [SchemaProblem(json_path(parts), message, fallback_hint)]
    return [SchemaProblem(json_path(parts), _shorten(error.message), fallback_hint)]


def _unexpected_keys(instance: Mapping[str, Any], schema: object) -> list[str]:
    schema = schema if isinstance(schema, dict) else {}
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [
        key
        for key in instance
        if key not in known and not any(p.search(str(key)) for p in patterns)
    ]


def _unknown_key(parts: Sequence[str | int], key: str, schema: object) -> SchemaProblem:
    schema = schema if isinstance(schema, dict) else {}
    known = sorted(schema.get("properties", {}))
    patterns = sorted(schema.get("patternProperties", {}))
    close = did_you_mean(key, known)
    if close:
        hint = f"did you mean {close!r}?"
    elif known:
        hint = f"known keys here: {', '.join(known)}"
    elif patterns:
        hint = f"keys here must match {' or '.join(patterns)}"
    else:
        hint = "remove it; nothing is allowed here"
    return SchemaProblem(json_path([*parts, key]), f"unknown field {key!r}", hint)


_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _branch_types(error: jsonschema.ValidationError) -> list[str]:
    """The types a oneOf/anyOf of bare types allows (Kubernetes' int-or-string, quantity)."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return []
    if any(c.validator != "type" or c.relative_path for c in error.context):
        return []
    types: list[str] = []
    for c in error.context:
        types.extend(t for t in _type_names(c.validator_value) if t not in types)
    return types


def _type_names(value: object) -> list[str]:
    # The "type" keyword holds one type name or a list of them.
    if isinstance(value, str):
        return [value]
    return [str(t) for t in value] if isinstance(value, list) else []


def _type_message(error: jsonschema.ValidationError, wanted: Sequence[str] = ()) -> str:
    wanted = wanted or _type_names(error.validator_value)
    # OpenAPI-derived schemas allow "null" almost everywhere; naming it only adds noise.
    shown = [t for t in wanted if t != "null"] or wanted
    got = _JSON_TYPES.get(type(error.instance), type(error.instance).__name__)
    return f"expected {' or '.join(shown)}, got {got} {_shorten(repr(error.instance), 60)}"


def _shorten(text: str, limit: int = 300) -> str:
    # Errors on a large object repeat the whole object; the path already says where.
    return text if len(text) <= limit else text[: limit - 3] + "..."
