"""Chart values for both releases, from each component's module and the site's secrets.

The site's raw `values:` overrides are merged last, over what the component composed.
"""

from __future__ import annotations

from typing import Any

from sitebox.components import MODULES
from sitebox.components.names import PRIORITY_PREFIX
from sitebox.compose.secrets import Secrets
from sitebox.model.merge import deep_merge
from sitebox.model.siteconfig import Site

Values = dict[str, Any]
# The values key of each component's chart inside the umbrella: the dependency's name.
CHART_KEY: dict[str, str] = {name: module.CHART_KEY for name, module in MODULES.items()}


def component_values(site: Site, secrets: Secrets, name: str) -> Values:
    """One component's chart values: composed, then the site's raw overrides on top."""
    composed: Values = MODULES[name].values(site, secrets)
    return deep_merge(composed, site.overrides.get(name, {}))


def release_values(site: Site, secrets: Secrets, release: str, included: list[str]) -> Values:
    """Values of the `sitebox` or `sitebox-system` chart: every toggle, and the values
    of the components the composed chart includes."""
    values: Values = {}
    for name, component in site.distribution.components.items():
        if component.release != release:
            continue
        if name in included:
            values[CHART_KEY[name]] = component_values(site, secrets, name)
        # For batch the toggle and the chart's values share a key: merge, never replace.
        values.setdefault(name, {})["enabled"] = name in included
    if release == "system":
        values["priorityClasses"] = {"create": True, "prefix": PRIORITY_PREFIX}
    return values
