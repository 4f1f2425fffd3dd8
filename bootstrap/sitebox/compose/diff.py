"""What an upgrade would change: rendered objects against the installed release.

helm-diff is not available here (see docs/decisions.md), and a plan must never
show a secret: Secret values are replaced by a short digest before comparing,
so a changed secret shows as changed without showing either value.

Only what a release keeps is compared: not CRDs (sitebox applies them itself,
server-side, on every run, so Helm's record never holds them) and not hooks
(Helm runs them and records them apart).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

Key = tuple[str, str, str]  # kind, namespace, name


@dataclass(frozen=True)
class Change:
    action: str  # "add", "remove", "change"
    kind: str
    namespace: str
    name: str
    diff: str  # unified diff of the (redacted) YAML, empty for add and remove


def _key(obj: dict[str, Any], default_namespace: str) -> Key:
    meta = obj.get("metadata", {})
    return obj.get("kind", ""), meta.get("namespace") or default_namespace, meta.get("name", "")


def _redacted(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") != "Secret":
        return obj
    clean = dict(obj)
    for field in ("data", "stringData"):
        if isinstance(obj.get(field), dict):
            clean[field] = {
                k: f"<secret sha256:{hashlib.sha256(str(v).encode()).hexdigest()[:8]}>"
                for k, v in obj[field].items()
            }
    return clean


def _text(obj: dict[str, Any]) -> list[str]:
    return yaml.safe_dump(_redacted(obj), sort_keys=True).splitlines(keepends=True)


def kept_by_release(obj: dict[str, Any]) -> bool:
    """An object a release keeps on the cluster: not a hook, not a CRD."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return obj.get("kind") != "CustomResourceDefinition" and "helm.sh/hook" not in annotations


def changes(
    installed: Iterable[dict[str, Any]], rendered: Iterable[dict[str, Any]], namespace: str
) -> list[Change]:
    before = {_key(o, namespace): o for o in installed if kept_by_release(o)}
    after = {_key(o, namespace): o for o in rendered if kept_by_release(o)}
    found = []
    for key in sorted(before.keys() | after.keys()):
        kind, ns, name = key
        if key not in before:
            found.append(Change("add", kind, ns, name, ""))
        elif key not in after:
            found.append(Change("remove", kind, ns, name, ""))
        else:
            old, new = _text(before[key]), _text(after[key])
            if old != new:
                label = f"{kind} {ns}/{name}"
                diff = "".join(
                    difflib.unified_diff(old, new, f"installed {label}", f"planned {label}")
                )
                found.append(Change("change", kind, ns, name, diff))
    return found


def summary(actions: Iterable[str]) -> str:
    """ "2 to add, 1 to change", or "no changes": one release's changes, counted."""
    found = list(actions)
    counts = {a: found.count(a) for a in ("add", "change", "remove")}
    return ", ".join(f"{n} to {a}" for a, n in counts.items() if n) or "no changes"
