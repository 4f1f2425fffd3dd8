"""A fleet as the commands see it: sites with their clusters, and what they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sitebox.model.siteconfig import Site


@dataclass(frozen=True)
class FleetSite:
    """One site of the fleet: its composed config (federation glue included) and cluster."""

    site: Site
    kubeconfig: Path | None  # None: $KUBECONFIG, as kubectl
    context: str | None
    pinned: bool  # runs a distribution of its own, not the fleet's

    @property
    def name(self) -> str:
        return self.site.name


@dataclass(frozen=True)
class Fleet:
    name: str
    source: Path
    distribution: str  # the version every site runs unless pinned
    issuer: str | None
    sites: list[FleetSite] = field(default_factory=list)

    def select(self, names: list[str] | None) -> list[FleetSite]:
        """The sites named (in fleet order), or all; an unknown name is an error upstream."""
        if not names:
            return list(self.sites)
        return [s for s in self.sites if s.name in names]
