"""Decisions the lifecycle takes from how the releases stand (no cluster needed)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from sitebox.errors import SiteboxError
from sitebox.helm import Installed, Revision
from sitebox.lifecycle.commands import _unmoved
from sitebox.nodes import inventory

pytestmark = pytest.mark.unit


TOKEN = "s3cr3t-value"  # a stand-in for a generated secret


def _state(revision: int) -> Installed:
    rev = Revision("sitebox", "sitebox", revision, "deployed", "sitebox-0.2.0", "2026.12")
    objects: list[dict[str, Any]] = [{"kind": "Secret", "data": {"token": TOKEN}}]
    return Installed(rev, objects, {"hub": {"cookieSecret": TOKEN}})


def test_an_upgrade_applies_only_what_was_shown() -> None:
    shown = {"sitebox-system": None, "sitebox": _state(3)}
    same = {"sitebox-system": None, "sitebox": _state(3)}
    assert _unmoved(shown, same) is same
    for moved in ({"sitebox-system": None, "sitebox": _state(4)},
                  {"sitebox-system": _state(1), "sitebox": _state(3)}):  # fmt: skip
        with pytest.raises(SiteboxError, match="changed while the changes were shown"):
            _unmoved(shown, moved)


def test_a_release_state_never_shows_its_secrets() -> None:
    assert TOKEN not in repr(_state(1)), "values and objects hold the site's secrets"


def test_the_inline_schemas_are_valid_json_schema() -> None:
    # The shipped schemas are checked when generated (ci/schemas.py); these live in code.
    Draft202012Validator.check_schema(inventory.SCHEMA)
