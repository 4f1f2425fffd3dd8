"""Generate the shipped JSON Schemas from their YAML sources in distro/schemas/.

The YAML is the source of truth (readable, commented); the JSON is what ships,
editors read and sitebox validates with. site.schema gets the profile's $defs
so that its overrides share one definition of a quantity, a CPU amount, etc.;
fleet.schema gets the site's OIDC and CVMFS definitions the same way.

    python ci/schemas.py            rewrite the .schema.json files
    python ci/schemas.py --check    exit 1 if any is out of date

Each is checked against the JSON Schema 2020-12 meta-schema here, once, rather than
by sitebox on every load.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parent.parent / "distro" / "schemas"


def generated() -> dict[Path, str]:
    sources = {p.name.removesuffix(".schema.yaml"): p for p in SCHEMAS.glob("*.schema.yaml")}
    docs: dict[str, dict[str, Any]] = {n: yaml.safe_load(p.read_text()) for n, p in sources.items()}
    shared = docs["profile"]["$defs"]
    docs["site"]["$defs"] = {
        **shared,
        **docs["site"].get("$defs", {}),
        "siteComponents": _overrides(shared["components"]),
    }
    # A fleet's shared identity and CVMFS settings are a site's: one definition of each.
    site_keys = docs["site"]["properties"]
    docs["fleet"]["$defs"] = {
        **docs["fleet"].get("$defs", {}),
        "oidc": site_keys["auth"]["properties"]["oidc"],
        "cvmfs": site_keys["cvmfs"],
    }
    for doc in docs.values():
        Draft202012Validator.check_schema(doc)
    return {
        SCHEMAS / f"{name}.schema.json": json.dumps(doc, indent=2, sort_keys=False) + "\n"
        for name, doc in docs.items()
    }


def _overrides(components: dict[str, Any]) -> dict[str, Any]:
    """The profile's components, as a site may change them: the same sizing keys,
    `enabled` optional, and `values` for raw chart values."""
    site = copy.deepcopy(components)
    for spec in site["properties"].values():
        spec["allOf"] = [{"$ref": "#/$defs/override"}]
    return site


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for path, text in generated().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(text)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python ci/schemas.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
