"""The shipped JSON Schemas (generated from distro/schemas/*.schema.yaml)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sitebox.paths import distro_dir


@cache
def schema(name: str) -> dict[str, Any]:
    path = distro_dir() / "schemas" / f"{name}.schema.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data
