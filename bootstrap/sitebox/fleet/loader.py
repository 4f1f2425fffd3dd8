"""fleet.yaml: loaded, checked, and turned into one composed site per entry.

Each site's document is built from the fleet file (``base`` with the site's
``overrides`` on top, or the site's own ``siteFile``), then the shared settings
are laid over it, and it is checked as any site.yaml is. Keys that came from the
fleet file keep their lines there, so a problem in one site's overrides says
``fleet.yaml:23``. Everything wrong with the file is reported at once, before
any cluster is touched.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sitebox.config import ConfigError, Document, Problem, load_yaml, validate
from sitebox.config.loader import KeyPath
from sitebox.config.suggest import did_you_mean
from sitebox.errors import Location
from sitebox.fleet import federation
from sitebox.fleet.model import Fleet, FleetSite
from sitebox.model import distro, siteconfig
from sitebox.model.merge import deep_merge
from sitebox.model.schemas import schema

EMPTY_HINT = "write one as in docs/fleet.md: apiVersion, kind: Fleet, name and sites"
WHAT = "fleet file"


def load(path: Path) -> Fleet:
    doc = load_yaml(path, empty_hint=EMPTY_HINT)
    validate(doc, schema("fleet"), what=WHAT)
    data = doc.data
    entries: list[dict[str, Any]] = data["sites"]
    problems = _check_entries(doc, entries)
    names = list(dict.fromkeys(e["name"] for e in entries))
    links, found = _links(doc, names)
    problems += found
    if problems:
        raise ConfigError(problems, what=WHAT)
    version = data.get("distribution") or distro.versions()[-1]
    sites: dict[str, siteconfig.Site] = {}
    pinned: dict[str, bool] = {}
    for index, entry in enumerate(entries):
        try:
            sites[entry["name"]], pinned[entry["name"]] = _site(doc, index, entry, version)
        except ConfigError as exc:
            problems += [_in_site(p, entry["name"]) for p in exc.problems]
    if problems:
        raise ConfigError(problems, what=WHAT)
    published = {
        e["name"]: federation.endpoints(sites[e["name"]], e.get("endpoints", {})) for e in entries
    }
    problems += _check_flocking(doc, sites, published)
    if problems:
        raise ConfigError(problems, what=WHAT)
    identity = data.get("shared", {}).get("identity", {})
    glued = federation.glue(data["name"], identity.get("issuer"), sites, published, links)
    return Fleet(
        name=data["name"],
        source=path,
        distribution=version,
        issuer=identity.get("issuer"),
        sites=[
            FleetSite(
                site=replace(sites[e["name"]], federation=glued[e["name"]]),
                kubeconfig=_relative(path, e["kubeconfig"]) if "kubeconfig" in e else None,
                context=e.get("context"),
                pinned=pinned[e["name"]],
            )
            for e in entries
        ],
    )


def _relative(fleet_file: Path, name: str) -> Path:
    given = Path(name).expanduser()
    return given if given.is_absolute() else fleet_file.parent / given


def _check_entries(doc: Document, entries: list[dict[str, Any]]) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = entry["name"]
        if name in first:
            line = doc.line_of(("sites", first[name], "name"))
            problems.append(
                doc.problem(
                    ("sites", index, "name"),
                    f"site name {name!r} is used twice (first on line {line})",
                    "give each site its own name: it names the site on its cluster and to peers",
                )
            )
        first.setdefault(name, index)
        if "profile" not in entry and "siteFile" not in entry:
            problems.append(
                doc.problem(
                    ("sites", index),
                    f"site {name!r} has neither a profile nor a siteFile",
                    "add `profile:` (demo, tier3, tier2, analysis-facility) or `siteFile:`",
                )
            )
    return problems


def _links(doc: Document, names: list[str]) -> tuple[dict[str, list[str]], list[Problem]]:
    """Flocking links as site -> targets; a name not in the fleet is a problem on its line."""
    links: dict[str, list[str]] = {}
    problems = []
    for index, link in enumerate(doc.data.get("federation", {}).get("flocking", [])):
        where: KeyPath = ("federation", "flocking", index)
        ends = [((*where, "from"), link["from"])]
        ends += [((*where, "to", k), target) for k, target in enumerate(link["to"])]
        unknown = [(path, n) for path, n in ends if n not in names]
        for path, name in unknown:
            guess = did_you_mean(name, names)
            hint = f"did you mean {guess!r}?" if guess else f"the sites are: {', '.join(names)}"
            problems.append(
                doc.problem(
                    path, f"flocking link to {name!r}, which is not a site of this fleet", hint
                )
            )
        if link["from"] in link["to"]:
            problems.append(
                doc.problem(where, f"site {link['from']!r} flocks to itself", "remove it from `to`")
            )
        if not unknown:
            targets = links.setdefault(link["from"], [])
            targets += [t for t in link["to"] if t not in targets and t != link["from"]]
    return links, problems


def _rebased(doc: Document, prefix: KeyPath) -> dict[KeyPath, int]:
    return {
        key[len(prefix) :]: line for key, line in doc.lines.items() if key[: len(prefix)] == prefix
    }


def _site(
    doc: Document, index: int, entry: dict[str, Any], version: str
) -> tuple[siteconfig.Site, bool]:
    """The site's document as site.yaml would be, shared settings applied; and whether
    the site pins a distribution of its own."""
    at: KeyPath = ("sites", index)
    if "siteFile" in entry:
        own = load_yaml(_relative(doc.path, entry["siteFile"]))
        data, lines, path = copy.deepcopy(own.data), dict(own.lines), own.path
        if data.get("name", entry["name"]) != entry["name"]:
            raise ConfigError(
                [
                    doc.problem(
                        (*at, "siteFile"),
                        f"{entry['siteFile']} names the site {data['name']!r}, the fleet "
                        f"{entry['name']!r}",
                        "use the same name in both",
                    )
                ]
            )
    else:
        data = deep_merge(
            {"apiVersion": "sitebox.io/v1", "kind": "Site"},
            doc.data.get("base", {}),
            entry.get("overrides", {}),
        )
        lines = {**_rebased(doc, ("base",)), **_rebased(doc, (*at, "overrides"))}
        path = doc.path
        lines[()] = doc.line_of(at) or 1
    own_version = entry.get("distribution") or data.get("distribution")
    data["name"] = entry["name"]
    data["distribution"] = own_version or version
    if "profile" in entry:
        data["profile"] = entry["profile"]
    if path == doc.path:
        for key in ("name", "profile", "distribution"):
            line = doc.line_of((*at, key)) if key in entry else doc.line_of((key,))
            if line is not None:
                lines.setdefault((key,), line)
    _share(doc, data, lines if path == doc.path else {})
    site_doc = Document(path, data, lines)
    validate(site_doc, schema("site"), what=WHAT)
    return siteconfig.from_document(site_doc), bool(own_version)


def _share(doc: Document, data: dict[str, Any], lines: dict[KeyPath, int]) -> None:
    """Lay the shared settings over a site: the fleet's identity and CVMFS win."""
    shared = doc.data.get("shared", {})
    if "identity" in shared:
        auth = data.setdefault("auth", {})
        auth["type"] = "oidc"
        auth["oidc"] = {**auth.get("oidc", {}), **shared["identity"]}
        for key in shared["identity"]:
            lines[("auth", "oidc", key)] = doc.line_of(("shared", "identity", key)) or 1
    if "cvmfs" in shared:
        data["cvmfs"] = {**data.get("cvmfs", {}), **shared["cvmfs"]}
        for key in shared["cvmfs"]:
            lines[("cvmfs", key)] = doc.line_of(("shared", "cvmfs", key)) or 1


def _in_site(problem: Problem, site: str) -> Problem:
    where = problem.location
    key = f"site {site}: {where.key}" if where.key else f"site {site}"
    return Problem(Location(where.file, where.line, key), problem.message, problem.hint)


def _check_flocking(
    doc: Document, sites: dict[str, siteconfig.Site], published: dict[str, dict[str, str]]
) -> list[Problem]:
    """A site in a flocking link runs an HTCondor pool and publishes the address peers need."""
    problems = []
    for index, link in enumerate(doc.data.get("federation", {}).get("flocking", [])):
        where: KeyPath = ("federation", "flocking", index)
        ends: Sequence[tuple[str, str]] = [
            (link["from"], federation.SCHEDD),
            *[(target, federation.COLLECTOR) for target in link["to"]],
        ]
        for name, needed in ends:
            site = sites[name]
            if not federation.htcondor(site):
                mode = site.components.get("batch", {}).get("mode", "off")
                problems.append(
                    doc.problem(
                        where,
                        f"site {name!r} flocks, but its batch connector runs in {mode!r} mode",
                        "set `components: {batch: {enabled: true, mode: htcondor}}` in its "
                        "overrides (or in base)",
                    )
                )
            elif needed not in published[name]:
                problems.append(
                    doc.problem(
                        where,
                        f"site {name!r} publishes no {needed} address for its peers",
                        f"give the site a domain (overrides.domain) or endpoints.{needed}",
                    )
                )
    return problems
