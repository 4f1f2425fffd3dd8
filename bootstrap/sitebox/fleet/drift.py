"""Drift: where a site on its cluster differs from what the fleet file renders for it.

Three kinds, each with its diff: the distribution recorded on the site; the
installed Helm releases against the render (the fleet file or the shared
settings changed since the last install); and the live objects against the render
(someone edited the cluster by hand: Helm's record still says all is well, so
only a look at the objects shows it). Secrets are never compared here: their
values must not be shown, and the secret store has its own checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes
from sitebox.compose import diff
from sitebox.compose.render import SiteRender
from sitebox.helm import Helm
from sitebox.kube import Kube

# What the server owns, or what sitebox applies apart from Helm (CRDs, server-side).
_NOT_COMPARED = {"apiVersion", "kind", "metadata", "status"}
_SKIPPED_KINDS = {"Secret", "CustomResourceDefinition"}
_MAX_SHOWN = 12


@dataclass(frozen=True)
class Drift:
    what: str  # "distribution", "release sitebox", "ConfigMap sitebox/x"
    detail: str  # the diff, secrets redacted


def _quantity_equal(a: str, b: str) -> bool:
    for parse in (memory_bytes, cpu_millis):
        try:
            if parse(a) == parse(b):
                return True
        except QuantityError:
            continue
    return False


def _compare(want: Any, have: Any, path: str, out: list[str]) -> None:
    """Every field the render sets must be on the live object with the same value; the
    server may add fields, drop empty ones and respell quantities ('0.5' is '500m')."""
    if isinstance(want, dict) and isinstance(have, dict):
        for key, value in want.items():
            where = f"{path}.{key}" if path else key
            if key in have:
                _compare(value, have[key], where, out)
            elif value not in ({}, [], None, "", False, 0):
                out.append(f"{where}: fleet {value!r}, cluster (absent)")
    elif isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for index, (a, b) in enumerate(zip(want, have, strict=True)):
            _compare(a, b, f"{path}[{index}]", out)
    elif isinstance(want, dict | list) or not (
        want == have or str(want) == str(have) or _quantity_equal(str(want), str(have))
    ):
        out.append(f"{path}: fleet {want!r}, cluster {have!r}")


def live(
    manifests: list[dict[str, Any]], namespace: str, get: Callable[..., dict[str, Any] | None]
) -> list[Drift]:
    """The rendered objects against the cluster's, field by field (``get`` is Kube.get)."""
    found = []
    for obj in manifests:
        if obj.get("kind") in _SKIPPED_KINDS:
            continue
        meta = obj.get("metadata", {})
        where = meta.get("namespace") or namespace
        label = f"{obj['kind']} {where}/{meta.get('name')}"
        current = get(obj["apiVersion"], obj["kind"], meta.get("name"), where)
        if current is None:
            found.append(Drift(label, "  missing on the cluster"))
            continue
        differences: list[str] = []
        wanted = {key: value for key, value in obj.items() if key not in _NOT_COMPARED}
        _compare(wanted, current, "", differences)
        if differences:
            shown = [f"  {line}" for line in differences[:_MAX_SHOWN]]
            if len(differences) > _MAX_SHOWN:
                shown.append(f"  ... and {len(differences) - _MAX_SHOWN} more")
            found.append(Drift(label, "\n".join(shown)))
    return found


def find(result: SiteRender, kube: Kube, helm: Helm, installed_version: str | None) -> list[Drift]:
    """Everything on the cluster that differs from the render of the fleet file."""
    found = []
    expected = result.site.distribution.version
    if installed_version != expected:
        found.append(
            Drift("distribution", f"  fleet {expected}, cluster {installed_version or '(none)'}")
        )
    for release in result.releases:
        installed = helm.manifest(release.name, release.namespace)
        if installed is None:
            found.append(Drift(f"release {release.name}", "  not installed"))
            continue
        changes = diff.changes(installed, release.manifests, release.namespace)
        for change in changes:
            text = result.secrets.redact(change.diff) or f"  {change.action}"
            found.append(Drift(f"release {release.name}: {change.kind} {change.name}", text))
        # An object the release would change is reported once, as that change.
        changed = {(c.kind, c.name) for c in changes}
        unchanged = [
            o for o in release.manifests
            if (o.get("kind"), o.get("metadata", {}).get("name")) not in changed
        ]  # fmt: skip
        for item in live(unchanged, release.namespace, kube.get):
            found.append(Drift(item.what, result.secrets.redact(item.detail)))
    return found
