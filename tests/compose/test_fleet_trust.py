"""Federation that authenticates: two flocking pools of a fleet, rendered through real
`helm template` by `sitebox fleet render`, accept each other's IDTOKENS; a third site of
the fleet that does not flock keeps its own key and never sees the fleet's.

Acceptance is checked as HTCondor does it, on what the render hands the daemons: the
key file named as the token's ``kid`` in passwords.d, the token's issuer against the
server's TRUST_DOMAIN, and an HS256 signature with the key HTCondor derives from the
file (HKDF-SHA256 of the unscrambled file, salt "htcondor", info "master jwt").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.compose.secrets import FLEET_SIGNING_KEY
from tests.conftest import run_sitebox

pytestmark = pytest.mark.chart

FLEET = """\
apiVersion: sitebox.io/v1
kind: Fleet
name: physics
base:
  components:
    hub: {enabled: false}
    dask: {enabled: false}
    storage: {enabled: false}
    batch:
      {mode: htcondor, workers: 1, quota: {cpu: '8', memory: 16Gi}, job: {cpu: 500m, memory: 1Gi}}
sites:
  - {name: uni-a, profile: demo, overrides: {domain: a.example.org}}
  - {name: uni-b, profile: demo, overrides: {domain: b.example.org}}
  - {name: uni-c, profile: demo, overrides: {domain: c.example.org}}
federation:
  flocking:
    - {from: uni-a, to: [uni-b]}    # uni-b only accepts: it is in the trust all the same
"""
PASSWORDS = "/etc/condor/passwords.d/"
DOMAIN = "physics.fleet.sitebox.io"


@dataclass(frozen=True)
class Pool:
    """What one rendered HTCondor pool signs and accepts IDTOKENS with."""

    config: dict[str, str]  # 50-sitebox.conf
    keys: dict[str, bytes]  # passwords.d: key name -> file contents
    restart: str  # the signing-key checksum of the daemons' pods

    @property
    def trust_domain(self) -> str | None:
        return self.config.get("TRUST_DOMAIN")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac_key(file: bytes) -> bytes:
    """HTCondor's HS256 key for a signing-key file: the file unscrambled (XOR 0xdeadbeef),
    then HKDF-SHA256 (RFC 5869; one block of output is the 32 bytes needed)."""
    password = bytes(b ^ m for b, m in zip(file, itertools.cycle(b"\xde\xad\xbe\xef")))
    prk = hmac.new(b"htcondor", password, hashlib.sha256).digest()
    return hmac.new(prk, b"master jwt\x01", hashlib.sha256).digest()


def issue(pool: Pool, subject: str) -> str:
    """An IDTOKEN as the pool's condor_token_create makes one with its default key."""
    kid = pool.config["SEC_TOKEN_ISSUER_KEY"]
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    claims = {"sub": subject, "iss": pool.trust_domain or "", "iat": 1_700_000_000}
    body = _b64url(json.dumps(claims).encode())
    signature = hmac.new(_hmac_key(pool.keys[kid]), f"{header}.{body}".encode(), hashlib.sha256)
    return f"{header}.{body}.{_b64url(signature.digest())}"


def accepts(pool: Pool, token: str) -> bool:
    """Whether the pool's daemons accept the token: its issuer is their trust domain, they
    hold a key of the token's name, and that key verifies the signature."""
    header, body, signature = token.split(".")
    kid = json.loads(_unb64url(header))["kid"]
    if json.loads(_unb64url(body))["iss"] != (pool.trust_domain or "") or kid not in pool.keys:
        return False
    expected = hmac.new(_hmac_key(pool.keys[kid]), f"{header}.{body}".encode(), hashlib.sha256)
    return hmac.compare_digest(expected.digest(), _unb64url(signature))


def _objects(out: Path, site: str) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all((out / site / "sitebox.yaml").read_text()) if o]


def _named(objects: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]
    return found


def pool(out: Path, site: str) -> Pool:
    """The pool as its render hands it to the daemons: config, passwords.d, annotations."""
    objects = _objects(out, site)
    conf = _named(objects, "ConfigMap", "-condor-config")["data"]["50-sitebox.conf"]
    config = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition("=") for line in conf.splitlines())
        if v and not k.lstrip().startswith("#")
    )
    secret = _named(objects, "Secret", "-token-signing-key")
    key = base64.b64decode(secret["data"]["signing_key"])
    keys, restarts = {}, set()
    for workload in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet")):
        template = workload["spec"]["template"]
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for container in template["spec"]["containers"]:
            for mount in container.get("volumeMounts", []):
                source = volumes.get(mount["name"], {}).get("secret", {}).get("secretName")
                if (
                    mount["mountPath"].startswith(PASSWORDS)
                    and source == secret["metadata"]["name"]
                ):
                    keys[mount["mountPath"].removeprefix(PASSWORDS)] = key
                    restarts.add(template["metadata"]["annotations"]["checksum/signing-key"])
    assert len(restarts) == 1, f"{site}: every daemon restarts on the same key"
    return Pool(config, keys, restarts.pop())


def stored(state: Path, *parts: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(state.joinpath(*parts, "secrets.json").read_text())
    return data


@pytest.fixture
def fleet(tmp_path: Path, workspace: dict[str, str]) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return path


def render(fleet: Path, out: Path, env: dict[str, str]) -> str:
    result = run_sitebox("fleet", "render", "-f", str(fleet), "-o", str(out), env=env)
    assert result.code == 0, result.err
    return result.out + result.err


def test_flocking_pools_share_a_trust_root_the_third_site_does_not_get(
    fleet: Path, workspace: dict[str, str], tmp_path: Path
) -> None:
    state = Path(workspace["SITEBOX_STATE"])
    output = render(fleet, tmp_path / "one", workspace)
    fleet_key = stored(state, "fleets", "physics")[FLEET_SIGNING_KEY]
    a, b, c = (pool(tmp_path / "one", site) for site in ("uni-a", "uni-b", "uni-c"))

    # The two flocking pools: one key, under one name, and one trust domain.
    for flocking in (a, b):
        assert flocking.config["SEC_TOKEN_ISSUER_KEY"] == "fleet-physics"
        assert flocking.config["SEC_TOKEN_FETCH_ALLOWED_SIGNING_KEYS"] == "fleet-physics"
        assert flocking.config["TRUST_DOMAIN"] == flocking.config["UID_DOMAIN"] == DOMAIN
        assert flocking.keys == {"fleet-physics": fleet_key.encode()}
    assert a.config["FLOCK_TO"] == "condor.b.example.org:9618"
    assert b.config["FLOCK_FROM"] == "submit.a.example.org"

    # The third site keeps its own key, its own name, HTCondor's default trust domain.
    own_key = stored(state, "sites", "uni-c")["batch.signingKey"]
    assert c.keys == {"sitebox": own_key.encode()}
    assert c.config["SEC_TOKEN_ISSUER_KEY"] == "sitebox"
    assert "TRUST_DOMAIN" not in c.config and "FLOCK_TO" not in c.config
    assert FLEET_SIGNING_KEY not in stored(state, "sites", "uni-c")
    for path in (tmp_path / "one" / "uni-c").iterdir():
        assert fleet_key not in path.read_text(), f"{path} holds the fleet's key"

    # A token one flocking pool issues is accepted by the other, never by the third site,
    # and the third site's tokens by neither.
    assert accepts(b, issue(a, "alice@" + DOMAIN)) and accepts(a, issue(b, "condor@" + DOMAIN))
    assert not accepts(c, issue(a, "alice@" + DOMAIN))
    assert not accepts(a, issue(c, "mallory@c")) and not accepts(b, issue(c, "mallory@c"))
    # ...and not for the issuer alone: the third site's key does not verify it either.
    assert not accepts(Pool(a.config, {"fleet-physics": own_key.encode()}, ""), issue(a, "x@y"))

    assert fleet_key not in output and own_key not in output, "a signing key was printed"


def test_the_key_is_kept_across_renders_and_changes_only_when_rotated(
    fleet: Path, workspace: dict[str, str], tmp_path: Path
) -> None:
    state = Path(workspace["SITEBOX_STATE"])
    outputs = [render(fleet, tmp_path / "one", workspace)]
    key = stored(state, "fleets", "physics")[FLEET_SIGNING_KEY]
    outputs.append(render(fleet, tmp_path / "two", workspace))
    assert stored(state, "fleets", "physics")[FLEET_SIGNING_KEY] == key, "never made again"
    for site in ("uni-a", "uni-b", "uni-c"):
        for release in ("sitebox.yaml", "sitebox-system.yaml"):
            first = (tmp_path / "one" / site / release).read_bytes()
            assert first == (tmp_path / "two" / site / release).read_bytes(), (site, release)

    rotated = run_sitebox("fleet", "rotate-trust", "-f", str(fleet), "--yes", env=workspace)
    assert rotated.code == 0, rotated.err
    outputs.append(rotated.out + rotated.err)
    new_key = stored(state, "fleets", "physics")[FLEET_SIGNING_KEY]
    assert new_key != key
    outputs.append(render(fleet, tmp_path / "three", workspace))

    before = {s: pool(tmp_path / "one", s) for s in ("uni-a", "uni-b", "uni-c")}
    after = {s: pool(tmp_path / "three", s) for s in ("uni-a", "uni-b", "uni-c")}
    for site in ("uni-a", "uni-b"):
        assert after[site].keys == {"fleet-physics": new_key.encode()}
        assert after[site].restart != before[site].restart, "a new key restarts the daemons"
    assert accepts(after["uni-b"], issue(after["uni-a"], "alice@" + DOMAIN))
    assert not accepts(after["uni-b"], issue(before["uni-a"], "alice@" + DOMAIN))
    assert after["uni-c"] == before["uni-c"], "rotation does not touch a site outside the trust"

    for output in outputs:
        assert key not in output and new_key not in output, "a signing key was printed"
