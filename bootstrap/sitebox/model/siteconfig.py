"""site.yaml: loaded, validated, and combined with its profile and distribution."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitebox.config import ConfigError, Document, Problem, load_yaml, validate
from sitebox.errors import SiteboxError
from sitebox.model import distro, profiles
from sitebox.model.merge import deep_merge
from sitebox.model.schemas import schema

POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")  # strictest first
EMPTY_HINT = "run `sitebox init --profile tier3` to write a commented site.yaml"


@dataclass(frozen=True)
class Site:
    """A site as composition sees it: the profile with the site's changes applied."""

    name: str
    profile: str
    distribution: distro.Distribution
    config: dict[str, Any]  # site.yaml as written
    components: dict[str, dict[str, Any]]  # profile sizing + site overrides, `values` removed
    overrides: dict[str, dict[str, Any]]  # per component: the site's raw chart values
    requires: dict[str, Any]
    source: Path | None
    # Set by `sitebox fleet` for a site of a fleet: its peers, the shared issuer, flocking.
    federation: dict[str, Any] | None = None

    def enabled(self) -> list[str]:
        return [name for name, spec in self.components.items() if spec.get("enabled")]

    def pod_security(self, release: str) -> str:
        """The Pod Security level the release's namespace enforces: the least strict one
        its enabled components need (the distribution says which need more than
        restricted)."""
        needed = [
            self.distribution.components[name].pod_security
            for name in self.enabled()
            if self.distribution.components[name].release == release
        ]
        return max(needed, key=POD_SECURITY_LEVELS.index, default=POD_SECURITY_LEVELS[0])

    @property
    def waivers(self) -> dict[str, str]:
        """The distribution's waivers for enabled components, then the site's own."""
        shipped = {
            key: reason
            for name in self.enabled()
            for key, reason in self.distribution.components[name].waivers
        }
        return {**shipped, **self.config.get("policy", {}).get("waivers", {})}


def load(path: Path) -> Site:
    doc = load_yaml(path, empty_hint=EMPTY_HINT)
    validate(doc, schema("site"), what="site config")
    return from_document(doc)


def from_document(doc: Document) -> Site:
    data = doc.data
    try:
        dist = distro.load(data.get("distribution"))
    except ConfigError:
        raise
    except SiteboxError as exc:  # an unknown version: point at the line that names it
        raise ConfigError([doc.problem(["distribution"], exc.message, exc.hint)]) from None
    profile = profiles.load(data["profile"]).data
    site_components = data.get("components", {})
    components: dict[str, dict[str, Any]] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for name, base in profile["components"].items():
        change = dict(site_components.get(name, {}))
        overrides[name] = change.pop("values", {})
        components[name] = deep_merge(base, change)
    if data.get("storage", {}).get("nfs"):
        components["nfs"]["enabled"] = True
    _check_relations(doc, dist, components)
    return Site(
        name=data["name"],
        profile=profile["name"],
        distribution=dist,
        config=data,
        components=components,
        overrides=overrides,
        requires=profile["requires"],
        source=doc.path,
    )


# Workloads whose charts place pods by a nodeSelector only, which cannot say "this pool
# or that one"; notebooks and Dask take node affinity, so several pools may serve them.
SELECTOR_ONLY = ("hub", "batch")


def _pool_problems(doc: Document) -> list[Problem]:
    pools = doc.data.get("nodePools", [])
    problems = []
    for purpose in SELECTOR_ONLY:
        serving = [i for i, pool in enumerate(pools) if purpose in pool.get("for", [])]
        if len(serving) > 1:
            names = " and ".join(repr(pools[i]["name"]) for i in serving)
            problems.append(
                doc.problem(
                    ["nodePools", serving[1]],
                    f"node pools {names} are {'both' if len(serving) == 2 else 'all'} for "
                    f"{purpose!r}, whose chart can place it on one pool only",
                    f"list {purpose!r} under `for` of one of these pools only, or give their "
                    "nodes a common label and select it in one pool",
                )
            )
    return problems


def _check_relations(
    doc: Document, dist: distro.Distribution, components: dict[str, dict[str, Any]]
) -> None:
    """What a schema cannot say: components that need or exclude each other."""
    problems: list[Problem] = []
    on = {name for name, spec in components.items() if spec.get("enabled")}
    for name in sorted(on):
        component = dist.components.get(name)
        if component is None:
            continue
        where = ["components", name]
        for needed in component.needs:
            if needed not in on:
                problems.append(
                    doc.problem(
                        where,
                        f"component {name!r} needs {needed!r}, which is off",
                        f"enable {needed} (components.{needed}.enabled: true) or disable {name}",
                    )
                )
        for other in component.conflicts:
            if other in on and name < other:
                problems.append(
                    doc.problem(
                        where,
                        f"components {name!r} and {other!r} are alternatives; enable one",
                        f"set components.{other}.enabled: false "
                        f"or components.{name}.enabled: false",
                    )
                )
    problems += _pool_problems(doc)
    auth = doc.data.get("auth", {})
    if auth.get("type") == "oidc" and "oidc" not in auth:
        problems.append(
            doc.problem(
                ["auth"],
                "auth type oidc needs an `oidc:` section",
                "add auth.oidc with issuer, clientId and clientSecretEnv",
            )
        )
    if problems:
        raise ConfigError(problems, what="site config")
