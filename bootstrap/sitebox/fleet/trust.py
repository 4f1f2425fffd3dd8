"""The fleet's HTCondor trust root: one IDTOKENS signing key and trust domain per fleet.

An HTCondor server accepts an IDTOKEN when it holds a signing key named as the
token's ``kid`` that verifies the signature, and the token's issuer (``iss``, the
TRUST_DOMAIN of the pool that signed it) is its own TRUST_DOMAIN. Pools that flock
must accept each other's tokens, so every pool of the fleet that flocks (to a peer,
or from one) gets the same key under the same name, and the same trust domain. A
site of the fleet that does neither keeps its own key and is handed nothing.

The key is generated once and kept in the fleet's own store, a 0600 file beside the
sites' local stores; every later command reuses it. ``rotate`` replaces it, and the
next ``fleet install`` or ``upgrade`` hands the new one to the sites. A site's run
is handed it as a supplied secret (``compose.secrets.SUPPLIED``): the site's store
keeps the copy it runs with, so a backup of the site restores it as it ran.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Mapping

from sitebox.compose.secrets import FLEET_SIGNING_KEY, FileStore, Secrets
from sitebox.fleet.model import Fleet
from sitebox.model.siteconfig import Site
from sitebox.paths import state_dir


def key_name(fleet: str) -> str:
    """The key's file in passwords.d and the ``kid`` of the tokens it signs: named after
    the fleet, so a token says which trust root signed it (never ``POOL``, the name
    HTCondor gives the pool password)."""
    return f"fleet-{fleet}"


def domain(fleet: str) -> str:
    """The fleet's TRUST_DOMAIN (and UID_DOMAIN): any string does, one per fleet."""
    return f"{fleet}.fleet.sitebox.io"


def store(fleet: str) -> FileStore:
    return FileStore(state_dir() / "fleets" / fleet / "secrets.json")


def _generate() -> str:
    # ASCII only: the chart hands it to HTCondor as a file, and to Helm as a string.
    return random.token_urlsafe(48)


def root(fleet: str) -> Secrets:
    """The fleet's trust root: the stored key, or a new one, stored before it is used."""
    held = store(fleet)
    values = held.read()
    if not values.get(FLEET_SIGNING_KEY):
        values[FLEET_SIGNING_KEY] = _generate()
        held.write(values)
    return Secrets({FLEET_SIGNING_KEY: values[FLEET_SIGNING_KEY]})


def rotate(fleet: str) -> bool:
    """A new key in the fleet's store; whether there was one before."""
    held = store(fleet)
    values = held.read()
    had = bool(values.get(FLEET_SIGNING_KEY))
    values[FLEET_SIGNING_KEY] = _generate()
    held.write(values)
    return had


def for_fleet(fleet: Fleet) -> Secrets:
    """The trust root a command hands the fleet's sites; none if no site flocks, so a
    fleet without flocking never makes one."""
    if not any(flocks(member.site) for member in fleet.sites):
        return Secrets({})
    return root(fleet.name)


def flocks(site: Site) -> bool:
    """Whether the site flocks to or from a peer: the glue gives only those a trust."""
    return "trust" in (site.federation or {})


def lent(site: Site, trust_root: Mapping[str, str]) -> dict[str, str]:
    """What the fleet hands a site's run: the trust root if the site flocks, else nothing."""
    return dict(trust_root) if flocks(site) else {}


def moved(site: Site, trust_root: Mapping[str, str], held: Mapping[str, str]) -> bool:
    """Whether a flocking site runs with another fleet key than ``trust_root``, its store
    being ``held``: a rotation on its way, or a fleet store that is not the one the site
    was installed from (another machine's first command made a new key)."""
    given = lent(site, trust_root).get(FLEET_SIGNING_KEY)
    running = held.get(FLEET_SIGNING_KEY)
    return bool(given and running and given != running)
