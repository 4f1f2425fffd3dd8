"""Federation glue: from the fleet file to each site's values.

Pure functions. Each site learns its peers and their endpoints (the federation
ConfigMap), the shared issuer, and which pools its HTCondor pool flocks to and
accepts jobs from; a site that does either also learns the fleet's HTCondor trust
(the signing key's name and the trust domain; the key itself is a secret, handed
over by ``fleet.trust``). Addresses a site publishes are derived from its domain
unless the fleet file gives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sitebox.fleet import trust
from sitebox.model.siteconfig import Site

COLLECTOR = "htcondor-collector"  # host:port of a pool's central manager: FLOCK_TO
SCHEDD = "htcondor-schedd"  # host of a pool's access point: FLOCK_FROM
CONDOR_PORT = 9618

Links = Mapping[str, list[str]]  # site -> the sites its jobs may flock to


def htcondor(site: Site) -> bool:
    batch = site.components.get("batch", {})
    return bool(batch.get("enabled")) and batch.get("mode") == "htcondor"


def endpoints(site: Site, explicit: Mapping[str, str]) -> dict[str, str]:
    """What the site publishes to its peers: derived from its domain, then the fleet's own."""
    domain = site.config.get("domain")
    found: dict[str, str] = {}
    if domain:
        on = set(site.enabled())
        if "hub" in on:
            found["hub"] = f"https://hub.{domain}"
        if "storage" in on:
            found["s3"] = f"https://s3.{domain}"
        if htcondor(site):
            found[COLLECTOR] = f"condor.{domain}:{CONDOR_PORT}"
            found[SCHEDD] = f"submit.{domain}"
    return {**found, **explicit}


def glue(
    fleet: str,
    issuer: str | None,
    sites: Mapping[str, Site],
    published: Mapping[str, dict[str, str]],
    links: Links,
) -> dict[str, dict[str, Any]]:
    """Per site, the federation values: peers (every other site), issuer, flocking lists."""
    accepts: dict[str, list[str]] = {name: [] for name in sites}
    for source, targets in links.items():
        for target in targets:
            accepts[target].append(source)
    glued = {}
    for name in sites:
        to, came = links.get(name, []), accepts[name]
        peers = [
            {
                "name": peer,
                "distribution": site.distribution.version,
                "endpoints": published[peer],
                "flockTo": peer in to,
                "flockFrom": peer in came,
            }
            for peer, site in sites.items()
            if peer != name
        ]
        glued[name] = {
            "fleet": fleet,
            "issuer": issuer or "",
            "peers": peers,
            "flocking": {
                "to": [published[p][COLLECTOR] for p in to],
                "from": [published[p][SCHEDD] for p in came],
            },
        }
        if to or came:
            glued[name]["trust"] = {"keyName": trust.key_name(fleet), "domain": trust.domain(fleet)}
    return glued
