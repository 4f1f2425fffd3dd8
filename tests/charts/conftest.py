"""Fixtures for chart tests: the pinned helm, and renders of our charts parsed into objects.

Chart tests need only the helm binary. Outside CI a missing helm skips them with
the reason; under CI (``CI`` set) it fails the run, so a green CI means they ran.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.errors import ToolMissingError
from sitebox.tools import store

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Helm:
    """The pinned helm, run on our charts with values passed on stdin."""

    binary: Path

    def run(
        self, *args: str, values: dict[str, Any] | None = None
    ) -> subprocess.CompletedProcess[str]:
        extra = ["--values", "-"] if values is not None else []
        return subprocess.run(
            [str(self.binary), *args, *extra],
            input=json.dumps(values) if values is not None else None,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def template(
        self,
        chart: str,
        values: dict[str, Any] | None = None,
        *args: str,
        namespace: str = "sitebox-test",
    ) -> list[Manifest]:
        """Every object `helm template` renders, parsed; fails the test if rendering fails."""
        result = self.run(
            "template", "t", str(CHARTS / chart), "--namespace", namespace, *args, values=values
        )
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def template_error(self, chart: str, values: dict[str, Any] | None = None, *args: str) -> str:
        """The error of a render that must fail; fails the test if it renders."""
        result = self.run("template", "t", str(CHARTS / chart), *args, values=values)
        assert result.returncode != 0, f"rendered although it should fail:\n{result.stdout[:2000]}"
        return result.stderr


@pytest.fixture(scope="session")
def helm() -> Helm:
    try:
        return Helm(store.binary("helm"))
    except ToolMissingError as error:
        message = f"helm is not installed ({error}); run `sitebox tools install --only helm`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def find(
    manifests: Iterable[Manifest], kind: str, name: str | None = None, namespace: str | None = None
) -> list[Manifest]:
    """The objects of a kind, optionally with a given name and namespace."""
    return [
        m
        for m in manifests
        if m["kind"] == kind
        and (name is None or m["metadata"]["name"] == name)
        and (namespace is None or m["metadata"].get("namespace") == namespace)
    ]


def one(
    manifests: Iterable[Manifest], kind: str, name: str | None = None, namespace: str | None = None
) -> Manifest:
    """The single object of a kind (and name, namespace); fails the test otherwise."""
    found = find(manifests, kind, name, namespace)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]
