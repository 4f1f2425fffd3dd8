"""How a check says it cannot mean anything here, or what failed and the fix."""

from __future__ import annotations

import pytest

from sitebox.components.names import BATCH_NAMESPACE, SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.validate.facts import SiteFacts

# Where the site's objects live: its applications, the batch connector, the system release.
NAMESPACES = (SITE_NAMESPACE, BATCH_NAMESPACE, SYSTEM_NAMESPACE)


def require(site: SiteFacts, component: str) -> None:
    """Skip a check of a component the site does not run: never a pass."""
    if not site.installed(component):
        pytest.skip(f"{component} not installed")


def fail_on(problems: list[str], fix: str) -> None:
    """Fail with every problem found (not just the first) and what to do about them."""
    if problems:
        pytest.fail("\n".join(problems) + f"\nfix: {fix}", pytrace=False)
