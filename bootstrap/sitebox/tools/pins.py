"""Reading ``distro/tools.yaml``: the pinned version of every tool."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from sitebox.errors import Location, SiteboxError
from sitebox.paths import distro_dir


@dataclass(frozen=True)
class Pin:
    name: str
    module: str
    version: str

    @property
    def bare_version(self) -> str:
        """``v1.36.3`` → ``1.36.3``."""
        return self.version.removeprefix("v")

    def fingerprint(self, recipe: str) -> str:
        """Identifies one build: a changed pin or recipe means a rebuild."""
        blob = json.dumps([self.name, self.module, self.version, recipe])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Pins:
    go: str
    tools: dict[str, Pin]
    source: Path


def load(path: Path | None = None) -> Pins:
    path = path or distro_dir() / "tools.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SiteboxError(f"tool pins not found at {path}") from None
    except yaml.YAMLError as exc:
        raise SiteboxError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tools"), dict):
        raise SiteboxError(
            "expected a mapping with a `tools:` section",
            location=Location(str(path)),
            hint="see the comment at the top of distro/tools.yaml",
        )
    tools: dict[str, Pin] = {}
    for name, spec in doc["tools"].items():
        if not isinstance(spec, dict) or not {"module", "version"} <= spec.keys():
            raise SiteboxError(
                f"tool {name!r} needs `module` and `version`",
                location=Location(str(path), key=f"tools.{name}"),
            )
        tools[name] = Pin(name=name, module=str(spec["module"]), version=str(spec["version"]))
    return Pins(go=str(doc.get("go", "")), tools=tools, source=path)
