"""The fleet's HTCondor trust root: who gets it, where it is kept, how it is rotated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitebox.compose.secrets import FLEET_SIGNING_KEY, Secrets
from sitebox.compose.values import component_values
from sitebox.errors import SiteboxError
from sitebox.fleet import loader, trust
from tests.conftest import FIXTURES, run_sitebox

pytestmark = pytest.mark.unit

FLEET = FIXTURES / "fleet" / "fleet.yaml"  # alpha does not flock; beta and gamma do
OWN = {"batch.poolPassword": "p" * 20, "batch.signingKey": "own-key-of-the-site"}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("SITEBOX_STATE", str(folder))
    return folder


def stored(state: Path, fleet: str = "physics") -> dict[str, str]:
    data: dict[str, str] = json.loads((state / "fleets" / fleet / "secrets.json").read_text())
    return data


def test_only_the_sites_that_flock_get_the_fleets_trust() -> None:
    members = {m.name: m.site for m in loader.load(FLEET).sites}
    expected = {"keyName": "fleet-physics", "domain": "physics.fleet.sitebox.io"}
    assert members["beta"].federation is not None
    assert members["beta"].federation["trust"] == expected
    assert members["gamma"].federation is not None
    assert members["gamma"].federation["trust"] == expected
    assert members["alpha"].federation is not None
    assert "trust" not in members["alpha"].federation
    root = Secrets({FLEET_SIGNING_KEY: "the-fleets-signing-key"})
    assert trust.lent(members["beta"], root) == dict(root)
    assert trust.lent(members["alpha"], root) == {}


def test_a_site_running_with_another_fleet_key_is_noticed() -> None:
    members = {m.name: m.site for m in loader.load(FLEET).sites}
    root = {FLEET_SIGNING_KEY: "the-fleets-signing-key"}
    rotated = {FLEET_SIGNING_KEY: "a-key-from-before"}
    assert trust.moved(members["beta"], root, {**OWN, **rotated})
    assert not trust.moved(members["beta"], root, {**OWN, **root})
    assert not trust.moved(members["beta"], root, OWN), "not installed from the fleet yet"
    assert not trust.moved(members["alpha"], root, {**OWN, **rotated}), "alpha does not flock"


def test_a_flocking_pool_signs_with_the_fleet_key_under_the_fleet_name() -> None:
    beta = next(m.site for m in loader.load(FLEET).sites if m.name == "beta")
    secrets = Secrets({**OWN, FLEET_SIGNING_KEY: "the-fleets-signing-key"})
    htcondor = component_values(beta, secrets, "batch")["htcondor"]
    assert htcondor["tokenSigningKey"] == "the-fleets-signing-key"
    assert htcondor["trust"] == {"keyName": "fleet-physics", "domain": "physics.fleet.sitebox.io"}


def test_a_flocking_site_rendered_without_the_fleet_key_is_one_clear_error() -> None:
    beta = next(m.site for m in loader.load(FLEET).sites if m.name == "beta")
    with pytest.raises(SiteboxError) as caught:
        component_values(beta, Secrets(OWN), "batch")
    assert "flocks" in caught.value.message
    assert caught.value.hint is not None and "sitebox fleet install" in caught.value.hint


def test_the_trust_root_is_made_once_kept_private_and_rotated(state: Path) -> None:
    fleet = loader.load(FLEET)
    first = trust.for_fleet(fleet)
    key = first[FLEET_SIGNING_KEY]
    assert len(key) >= 32
    assert trust.for_fleet(fleet)[FLEET_SIGNING_KEY] == key, "reused, never made again"
    path = state / "fleets" / "physics" / "secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert key not in repr(first)
    assert trust.rotate("physics") is True
    assert stored(state)[FLEET_SIGNING_KEY] != key
    assert trust.for_fleet(fleet)[FLEET_SIGNING_KEY] == stored(state)[FLEET_SIGNING_KEY]


def test_a_fleet_without_flocking_makes_no_trust_root(state: Path, tmp_path: Path) -> None:
    text = FLEET.read_text().split("federation:")[0]
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    assert dict(trust.for_fleet(loader.load(path))) == {}
    assert not (state / "fleets").exists()
    rotated = run_sitebox("fleet", "rotate-trust", "-f", str(path), "--yes",
                          env={"SITEBOX_STATE": str(state)})  # fmt: skip
    assert rotated.code == 1
    assert "no site of fleet 'physics' flocks" in rotated.err
    assert "fix: flocking links go under federation.flocking" in rotated.err


def test_rotation_asks_and_without_a_terminal_changes_nothing(state: Path) -> None:
    env = {"SITEBOX_STATE": str(state)}
    key = trust.root("physics")[FLEET_SIGNING_KEY]
    refused = run_sitebox("fleet", "rotate-trust", "-f", str(FLEET), env=env)
    assert refused.code == 1
    assert "there is no terminal to ask on" in refused.err and "--yes" in refused.err
    assert stored(state)[FLEET_SIGNING_KEY] == key
    rotated = run_sitebox("fleet", "rotate-trust", "-f", str(FLEET), "--yes", env=env)
    assert rotated.code == 0, rotated.err
    new = stored(state)[FLEET_SIGNING_KEY]
    assert new != key
    assert "beta, gamma" in rotated.err and "sitebox fleet upgrade" in rotated.err
    for output in (refused.out + refused.err, rotated.out + rotated.err):
        assert key not in output and new not in output, "a signing key was printed"
