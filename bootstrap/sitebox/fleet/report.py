"""What one site's run came to: the row of the fleet's summary table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sitebox.lifecycle.repair import Drift
from sitebox.validate.commands import counts, summary
from sitebox.validate.runner import FAILED, PASSED, Check

HEALTHY = "healthy"
NOT_INSTALLED = "not installed"


@dataclass
class SiteReport:
    site: str
    error: str | None = None  # why the site failed (the fix follows in ``hint``)
    hint: str | None = None
    revision: int | None = None  # of the `sitebox` release
    distribution: str | None = None  # as recorded on the site
    health: str = "-"
    drift: list[Drift] = field(default_factory=list)
    changes: dict[str, list[str]] = field(default_factory=dict)  # plan: release -> lines
    diffs: list[str] = field(default_factory=list)  # plan: redacted diffs
    notes: list[str] = field(default_factory=list)  # warnings, components left out
    checks: list[Check] | None = None  # the validation suite's; None if it did not run
    checked_health: bool = False  # whether health counts towards a whole fleet

    @property
    def whole(self) -> bool:
        if self.error is not None or self.drift:
            return False
        return not self.checked_health or self.health == HEALTHY

    @property
    def why(self) -> str:
        """One line for the table: the failure, else what keeps the site from being whole."""
        if self.error is not None:
            return self.error.splitlines()[0]
        if self.drift:
            return f"{len(self.drift)} difference(s) from the fleet file"
        if self.checked_health and self.health != HEALTHY:
            return self.health
        return "ok"

    @property
    def validation(self) -> str:
        """The suite's counts in a few words, for the table; "-" if it did not run."""
        if self.checks is None:
            return "-"
        found = counts(self.checks)
        return f"{found[FAILED]} failed" if found[FAILED] else f"{found[PASSED]} passed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "whole": self.whole,
            "error": self.error,
            "hint": self.hint,
            "revision": self.revision,
            "distribution": self.distribution,
            "health": self.health,
            "drift": [{"what": d.what, "diff": d.detail} for d in self.drift],
            "changes": self.changes,
            "notes": self.notes,
            "validation": None
            if self.checks is None
            else {
                "summary": summary(self.checks),
                "counts": counts(self.checks),
                "checks": [c.as_dict() for c in self.checks],
            },
        }
