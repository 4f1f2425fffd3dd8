"""The site's ``registration:`` keys of site.yaml, with the defaults sitebox can give."""

from __future__ import annotations

from dataclasses import dataclass

from sitebox.model.siteconfig import Site

# CRIC's tier_level for the profiles that are a tier by design.
PROFILE_TIERS = {"tier2": 2, "tier3": 3}
INFRASTRUCTURES = ("Production", "Test")  # GOCDB's ProductionStatus choices


@dataclass(frozen=True)
class Registration:
    short_name: str  # GOCDB SHORT_NAME; CRIC rc_site and gocname
    official_name: str | None
    description: str
    home_url: str | None
    contact_email: str | None
    contact_phone: str | None
    security_email: str | None
    country: str | None
    ngi: str | None
    timezone: str | None
    latitude: float | None
    longitude: float | None
    infrastructure: str
    tier: int | None
    queue_name: str  # the PanDA queue (CRIC nickname), Harvester's queue name

    @property
    def production(self) -> bool:
        return self.infrastructure == "Production"


def of(site: Site) -> Registration:
    keys = site.config.get("registration", {})
    short_name = keys.get("shortName") or site.name
    running = [name for name in site.enabled() if name != "site"]  # the base is no service
    description = keys.get("description") or (
        f"A sitebox {site.profile} site: " + ", ".join(running)
    )
    return Registration(
        short_name=short_name,
        official_name=keys.get("officialName"),
        description=description,
        home_url=keys.get("homeUrl"),
        contact_email=keys.get("contactEmail"),
        contact_phone=keys.get("contactPhone"),
        security_email=keys.get("securityEmail"),
        country=keys.get("country"),
        ngi=keys.get("ngi"),
        timezone=keys.get("timezone"),
        latitude=keys.get("latitude"),
        longitude=keys.get("longitude"),
        infrastructure=keys.get("infrastructure", "Production"),
        tier=keys.get("tier", PROFILE_TIERS.get(site.profile)),
        queue_name=keys.get("queueName") or short_name,
    )
