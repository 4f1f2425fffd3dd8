"""Rendered manifests against the Kubernetes OpenAPI schema, offline.

The schemas are kubernetes-validate's (Kubernetes 1.25-1.37, each in a plain and
a strict flavour; strict forbids unknown fields, so ``spec.replicsa`` is caught).
We validate against its per-version ``_definitions.json`` ourselves instead of
calling ``kubernetes_validate.validate``, because that reports only the first
error of an object and re-reads 1.6 MB of definitions for every object; the
schemas and the rule for picking a version are the package's.

Which objects are checked is decided by API group, not by kind:

* a group Kubernetes serves (``apps``, ``""``, ``networking.k8s.io``...) must be
  served *at that version with that kind*; ``policy/v1beta1 PodDisruptionBudget``
  on 1.36 is an error, since the API server would refuse it;
* any other group belongs to a CustomResourceDefinition (``gateway.dask.org``,
  but also ``gateway.networking.k8s.io``): no schema here, so the object is
  skipped without a finding, and ``skipped_kinds`` lists it for the caller.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
from kubernetes_validate import utils as kv_utils  # type: ignore[import-untyped]
from referencing import Registry, Resource

from sitebox.errors import SiteboxError
from sitebox.render.findings import ERROR, WARNING, Finding, schema_problems

CHECK = "openapi"
_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


@dataclass(frozen=True)
class SchemaVersion:
    """The schema version used for a requested Kubernetes version."""

    requested: str
    minor: str  # "1.36", what is validated against
    directory: str  # "v1.36.0-local", the package's data folder (without -strict)
    newer_than_known: bool


def schema_version(kube_version: str) -> SchemaVersion:
    """Map "1.36", "v1.36.3" or "1.36.0-rc.1" to the schemas kubernetes-validate has."""
    match = _VERSION.match(kube_version.strip())
    if not match:
        raise SiteboxError(
            f"{kube_version!r} is not a Kubernetes version",
            hint="write it as MAJOR.MINOR or vMAJOR.MINOR.PATCH, e.g. 1.36 or v1.36.3",
        )
    wanted = (int(match.group(1)), int(match.group(2)))
    known = _known_versions()
    newest = max(known)
    if wanted > newest:
        return SchemaVersion(kube_version, _minor(newest), known[newest], newer_than_known=True)
    # As kubernetes-validate does: the newest schema not newer than the cluster.
    usable = [v for v in known if v <= wanted]
    if not usable:
        raise SiteboxError(
            f"Kubernetes {kube_version} is older than any schema kubernetes-validate has "
            f"(oldest: {_minor(min(known))})",
            hint=f"use a Kubernetes version from {_minor(min(known))} on",
        )
    best = max(usable)
    return SchemaVersion(kube_version, _minor(best), known[best], newer_than_known=False)


# Findings of objects already checked against a schema of the same shape, by the shape's
# digest and the object's identity (see check_openapi).
Checked = dict[tuple[str, int], list[Finding]]


def check_openapi(
    manifests: Sequence[Mapping[str, Any]],
    kube_version: str,
    *,
    strict: bool = True,
    checked: Checked | None = None,
) -> list[Finding]:
    """Every schema error in ``manifests`` for ``kube_version``, one finding per problem.
    Checking the same objects against several versions, pass one ``checked`` to all the
    calls: an object whose kind has the same schema in two versions (most kinds, between
    neighbouring versions) is validated once."""
    version = schema_version(kube_version)
    findings: list[Finding] = []
    if version.newer_than_known:
        findings.append(_newer_version_warning(version))
    memo: Checked = {} if checked is None else checked
    for obj in manifests:
        findings.extend(_check_object(obj, version, strict, memo))
    return findings


def skipped_kinds(manifests: Sequence[Mapping[str, Any]], kube_version: str) -> set[str]:
    """Kinds ``check_openapi`` does not check because no schema exists (custom resources)."""
    served = _served(schema_version(kube_version).directory)
    skipped = set()
    for obj in manifests:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        custom = isinstance(api_version, str) and _group(api_version) not in served.groups
        if custom and isinstance(kind, str):
            skipped.add(kind)
    return skipped


def _check_object(
    obj: Mapping[str, Any], version: SchemaVersion, strict: bool, checked: Checked
) -> list[Finding]:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    namespace = str(meta["namespace"]) if meta.get("namespace") else None
    name = str(meta.get("name", "?"))

    def finding(message: str, hint: str) -> Finding:
        return Finding(CHECK, ERROR, str(kind or "?"), namespace, name, None, message, hint)

    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [finding("not a Kubernetes object: apiVersion or kind is missing", _TEMPLATE_HINT)]
    served = _served(version.directory)
    if _group(api_version) not in served.groups:
        return []  # a custom resource; reported by skipped_kinds
    definition = served.kinds.get((api_version, kind))
    if definition is None:
        return [finding(*_not_served(api_version, kind, version.minor, served))]
    directory = version.directory + ("-strict" if strict else "")
    key = (_shape(directory, definition), id(obj))
    if key not in checked:
        validator = _validator(directory, definition)
        hint = f"see `kubectl explain {kind.lower()}` for Kubernetes {version.minor}"
        checked[key] = [
            finding(f"{problem.path or '(top level)'}: {problem.message}", problem.hint)
            for error in sorted(validator.iter_errors(dict(obj)), key=_error_order)
            for problem in schema_problems(error, hint)
        ]
    return checked[key]


def _error_order(error: jsonschema.ValidationError) -> list[str]:
    return [str(part) for part in error.absolute_path]


_TEMPLATE_HINT = "check the chart template that produced this document"


def _not_served(api_version: str, kind: str, minor: str, served: _Served) -> tuple[str, str]:
    message = f"{api_version} {kind} is not served by Kubernetes {minor}"
    alternatives = sorted(av for av, k in served.kinds if k == kind)
    if alternatives:
        return message, f"use apiVersion {' or '.join(alternatives)}"
    return message, f"Kubernetes {minor} has no {kind}; it was removed or is misspelt"


def _newer_version_warning(version: SchemaVersion) -> Finding:
    return Finding(
        check=CHECK,
        severity=WARNING,
        kind="KubernetesVersion",
        namespace=None,
        name=version.requested,
        container=None,
        message=(
            f"kubernetes-validate {kv_utils.__version__} has schemas up to {version.minor}; "
            f"validating against {version.minor} instead of {version.requested}"
        ),
        hint=(
            f"fields new after {version.minor} are reported as unknown; "
            "upgrade kubernetes-validate to check against the real version"
        ),
    )


def _minor(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


@functools.cache
def _known_versions() -> dict[tuple[int, int], str]:
    """``(1, 36) -> "v1.36.0-local"`` for every version the package ships."""
    known = {}
    for full in kv_utils.all_versions():
        major, minor = (int(x) for x in full.split(".")[:2])
        known[(major, minor)] = f"v{full}-local"
    return known


@dataclass(frozen=True)
class _Served:
    kinds: Mapping[tuple[str, str], str]  # (apiVersion, kind) -> definition name
    groups: frozenset[str]


@functools.cache
def _served(directory: str) -> _Served:
    # Every top-level type in the definitions names the group/version/kinds it
    # is served as; that is the list of what the API server accepts.
    kinds: dict[tuple[str, str], str] = {}
    for name, definition in _definitions(directory)["$defs"].items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group, ver = gvk.get("group", ""), gvk["version"]
            kinds[(f"{group}/{ver}" if group else ver, gvk["kind"])] = name
    return _Served(kinds, frozenset(_group(av) for av, _ in kinds))


@functools.cache
def _definitions(directory: str) -> dict[str, Any]:
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / directory
    data: dict[str, Any] = json.loads((path / "_definitions.json").read_text(encoding="utf-8"))
    return data


_REF = re.compile(r'"\$ref": "#/\$defs/([^"]+)"')


@functools.cache
def _shape(directory: str, definition: str) -> str:
    """A digest of what validating against ``definition`` depends on: it and every
    definition it refers to, descriptions left out. Equal digests, equal verdicts."""
    defs = _definitions(directory)["$defs"]
    names, pending = {definition}, [definition]
    while pending:
        for target in _REF.findall(json.dumps(defs[pending.pop()])):
            if target not in names:
                names.add(target)
                pending.append(target)
    canonical = json.dumps({n: _without_descriptions(defs[n]) for n in sorted(names)},
                           sort_keys=True)  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


@functools.cache
def _registry(directory: str) -> Registry[Any]:
    registry: Registry[Any] = Resource.from_contents(_definitions(directory)) @ Registry()
    return registry


@functools.cache
def _validator(directory: str, definition: str) -> jsonschema.protocols.Validator:
    schema = {"$ref": f"{_DEFINITIONS_ID}#/$defs/{definition}"}
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(
        schema, registry=_registry(directory)
    )
    return validator
