"""The site's secrets: generated once, stored, reused on every later render.

Each secret a component needs is named here once. The same value reaches every
chart that shares it (the hub-to-gateway token, a classic DaskHub failure when
two charts hold different ones). Values leave this module only inside chart
values handed to Helm on stdin; ``Secrets`` never shows them in a repr or log.
"""

from __future__ import annotations

import json
import os
import secrets as random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sitebox.errors import SiteboxError
from sitebox.files import private_dir, write_private
from sitebox.kube import Kube
from sitebox.paths import state_dir


def _hex32() -> str:
    return random.token_hex(32)


def _password() -> str:
    return random.token_urlsafe(24)


def _access_key() -> str:
    return "SB" + random.token_hex(9).upper()


@dataclass(frozen=True)
class SecretSpec:
    name: str
    components: tuple[str, ...]  # generated when any of these is enabled
    generate: Callable[[], str]


SPECS = (
    SecretSpec("hub.cookieSecret", ("hub",), _hex32),
    SecretSpec("hub.proxyToken", ("hub",), _hex32),
    SecretSpec("hub.cryptKey", ("hub",), _hex32),
    SecretSpec("dask.apiToken", ("dask",), _hex32),
    SecretSpec("workflow.secretKey", ("workflow",), _hex32),
    SecretSpec("workflow.databasePassword", ("workflow",), _password),
    SecretSpec("workflow.cachePassword", ("workflow",), _password),
    SecretSpec("workflow.brokerPassword", ("workflow",), _password),
    SecretSpec("batch.poolPassword", ("batch",), _password),
    SecretSpec("batch.signingKey", ("batch",), _password),
    SecretSpec("storage.accessKey", ("storage",), _access_key),
    SecretSpec("storage.secretKey", ("storage",), _password),
    # Prometheus's token for the hub's /hub/metrics (a hub service with read:metrics only).
    SecretSpec("monitoring.hubToken", ("monitoring",), _hex32),
    SecretSpec("dashboards.adminPassword", ("dashboards",), _password),
)

# The IDTOKENS signing key a fleet shares between its flocking HTCondor pools. The
# fleet's own store generates and keeps it (sitebox.fleet.trust); a site's run is handed
# it, and only if the site flocks.
FLEET_SIGNING_KEY = "fleet.htcondorSigningKey"

# Secrets handed to a run instead of the site's store generating them: the admin's, and
# the fleet's trust root. A value given to a run wins over the stored one (rotating it is
# running again with the new value); without one, the stored value is reused, so later
# runs need not be given it again, and a backup carries the value the site runs with.
SUPPLIED = frozenset({"oidc.clientSecret", FLEET_SIGNING_KEY})


def supplied(config: Mapping[str, Any]) -> dict[str, str]:
    """The admin's secrets for this run, from the environment variables site.yaml names."""
    variable = config.get("auth", {}).get("oidc", {}).get("clientSecretEnv")
    value = os.environ.get(variable) if variable else None
    return {"oidc.clientSecret": value} if value else {}


class Secrets(Mapping[str, str]):
    """A read-only mapping of secret name to value that never prints a value."""

    def __init__(self, values: Mapping[str, str]):
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<Secrets: {len(self._values)} values, not shown>"

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced, for anything shown to a person."""
        for name, value in self._values.items():
            if value:
                text = text.replace(value, f"<secret {name}>")
        return text


class Store(Protocol):
    """Where generated secrets live between runs."""

    def read(self) -> dict[str, str]: ...

    def write(self, values: Mapping[str, str]) -> None: ...


class FileStore:
    """A 0600 JSON file: the store for renders and plans made without a cluster."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as exc:
            raise SiteboxError(
                f"cannot read the secrets store {self.path}: {exc}",
                hint="restore it from backup; deleting it regenerates every secret",
            ) from None
        return {str(k): str(v) for k, v in data.items()}

    def write(self, values: Mapping[str, str]) -> None:
        private_dir(self.path.parent)
        write_private(self.path, json.dumps(dict(sorted(values.items())), indent=2))


def local_store(site: str) -> FileStore:
    """The store of a site's renders and plans made without a cluster."""
    return FileStore(state_dir() / "sites" / site / "secrets.json")


class ClusterStore:
    """One Secret in the system namespace: where an installed site keeps its secrets."""

    NAME = "sitebox-secrets"

    def __init__(self, kube: Kube, namespace: str):
        self.kube = kube
        self.namespace = namespace

    def read(self) -> dict[str, str]:
        return self.kube.read_secret(self.namespace, self.NAME) or {}

    def write(self, values: Mapping[str, str]) -> None:
        labels = {"app.kubernetes.io/part-of": "sitebox", "app.kubernetes.io/managed-by": "sitebox"}
        self.kube.write_secret(self.namespace, self.NAME, dict(values), labels)


def ensure(
    store: Store,
    enabled: Iterable[str],
    persist: bool = True,
    given: Mapping[str, str] | None = None,
) -> Secrets:
    """The secrets the enabled components need: stored ones reused, missing ones
    generated, the ``given`` ones (see SUPPLIED) taken as they are; with ``persist``,
    written back (a plan only looks: it does not). Secrets of disabled components are
    kept, so switching a component off and on again does not rotate them."""
    on = set(enabled)
    values = store.read()
    added = any(values.get(k) != v for k, v in (given or {}).items())
    values.update(given or {})
    for spec in SPECS:
        if spec.name not in values and on.intersection(spec.components):
            values[spec.name] = spec.generate()
            added = True
    if added and persist:
        store.write(values)
    return Secrets(values)


def persist(store: Store, secrets: Secrets) -> None:
    """Store the values a render used: keys the store lacks are added, keys it has are
    never overwritten (a concurrent run that stored first wins, and is then reused)."""
    stored = store.read()
    given = {k: v for k, v in secrets.items() if k in SUPPLIED}
    merged = {**dict(secrets), **stored, **given}
    if merged != stored:
        store.write(merged)
    conflicting = [
        k for k in stored if k in secrets and k not in SUPPLIED and stored[k] != secrets[k]
    ]
    if conflicting:
        raise SiteboxError(
            "the site's secrets changed while this run was starting: "
            + ", ".join(sorted(conflicting)),
            hint="another sitebox run stored them first; run the command again",
        )
