"""Profiles (profiles/<name>.yaml): which components a kind of site runs, and how big."""

from __future__ import annotations

from pathlib import Path

from sitebox.config import Document, load_yaml, validate
from sitebox.config.suggest import did_you_mean
from sitebox.errors import SiteboxError
from sitebox.model.schemas import schema
from sitebox.paths import data_root


def profiles_dir() -> Path:
    return data_root() / "profiles"


def names() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def load(name: str) -> Document:
    known = names()
    if name not in known:
        close = did_you_mean(name, known)
        raise SiteboxError(
            f"unknown profile {name!r}" + (f"; did you mean {close!r}?" if close else ""),
            hint=f"profiles: {', '.join(known)}",
        )
    doc = load_yaml(profiles_dir() / f"{name}.yaml")
    validate(doc, schema("profile"), what="profile")
    return doc
