"""Where a key of a site is set: for errors and for "set this there" lists."""

from __future__ import annotations

from collections.abc import Sequence

from sitebox.config import format_key_path, load_yaml
from sitebox.errors import Location
from sitebox.model.siteconfig import Site


def site_key(site: Site, key_path: Sequence[str | int]) -> Location:
    """The file, line and key of ``key_path``. A key the file does not have (it comes from
    the profile, or is unset) points at its closest ancestor's line, where it would go. A
    site of a fleet is named as the fleet loader names it (its keys live in the fleet
    file's base or the site's overrides); one from --profile alone has no file."""
    key = format_key_path(key_path) or None
    if site.source is None or not site.source.is_file():  # --profile names no file
        return Location("site.yaml", key=key)
    if site.federation is not None:
        return Location(str(site.source), key=f"site {site.name}: {key}")
    line = load_yaml(site.source).line_of(key_path)
    return Location(str(site.source), line, key)
