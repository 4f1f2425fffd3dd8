"""`sitebox restore`: a site from its backup, onto an empty cluster (or the same one).

Everything that can refuse does so before the cluster is touched: the archive's
digests and seal, its distribution, its site file, and a render with the archived
secrets whose values must equal the archived releases' values. Then, under the
operation lease: the secrets (byte for byte); the volume claims and their data (so
that the workloads find their claims, filled, by name); both releases; the claims
of the namespaces a chart makes, and the databases' dumps; the custom resources.
Each step converges, so a restore stopped half-way is finished by running it again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitebox.backup import archive, data, schedule
from sitebox.components.names import SYSTEM_NAMESPACE
from sitebox.compose import secrets as secret_store
from sitebox.compose.render import SiteRender
from sitebox.errors import SiteboxError
from sitebox.files import write_private
from sitebox.helm import Helm
from sitebox.kube import Kube, wait_for
from sitebox.lifecycle import install as installer
from sitebox.lifecycle import lock
from sitebox.lifecycle.repair import apply_as_helm
from sitebox.model import distro, siteconfig

Say = Callable[[str], None]


@dataclass(frozen=True)
class DataSource:
    """Where a restore copies the data from, and the keys to read it with."""

    target: data.Target
    keys: tuple[str, str] = field(repr=False)


class ArchivedStore:
    """The archived secrets as a store a render reads; a restore never generates one."""

    def __init__(self, values: Mapping[str, str]):
        self.values = dict(values)

    def read(self) -> dict[str, str]:
        return dict(self.values)

    def write(self, values: Mapping[str, str]) -> None:
        raise AssertionError("a restore renders with the archived secrets only")


def check(path: Path, passphrase: str) -> tuple[dict[str, Any], archive.Contents]:
    """Everything about an archive that can be checked without a cluster."""
    manifest, contents = archive.read(path, passphrase)
    known = distro.versions()
    if manifest.get("distribution") not in known:
        raise SiteboxError(
            f"{path} is a site of distribution {manifest.get('distribution')}, which this "
            f"sitebox does not carry (it has {', '.join(known)}); nothing was applied",
            hint="restore with the sitebox release that ships that distribution",
        )
    with _site(contents) as site:
        if site.distribution.version != manifest["distribution"]:
            raise SiteboxError(
                f"{path}: its site.yaml now renders distribution {site.distribution.version}, "
                f"but the site ran {manifest['distribution']}; nothing was applied",
                hint="restore with the sitebox release the backup was made with, then upgrade",
            )
    return manifest, contents


@contextmanager
def _site(contents: archive.Contents) -> Iterator[siteconfig.Site]:
    with tempfile.TemporaryDirectory(prefix="sitebox-restore-") as tmp:
        path = Path(tmp) / "site.yaml"
        write_private(path, contents.site_yaml)
        yield siteconfig.load(path)


def _differing(want: Any, have: Any, path: str = "") -> list[str]:
    """Key paths where two values documents differ (never the values: they hold secrets)."""
    if isinstance(want, dict) and isinstance(have, dict):
        return [
            p for key in sorted(set(want) | set(have), key=str)
            for p in _differing(want.get(key), have.get(key), f"{path}.{key}" if path else key)
        ]  # fmt: skip
    return [] if want == have else [path or "(all)"]


def _same_values(result: SiteRender, contents: archive.Contents, origin: str) -> None:
    for release in result.releases:
        differing = _differing(contents.values.get(release.name), release.values)
        if differing:
            raise SiteboxError(
                f"{origin}: release {release.name} would not be restored as it was: its "
                f"values differ at {', '.join(differing[:8])}; nothing was applied",
                hint="restore with the sitebox release the backup was made with",
            )


def _foreign_secrets(kube: Kube, contents: archive.Contents) -> None:
    held = secret_store.ClusterStore(kube, SYSTEM_NAMESPACE).read()
    if held and held != contents.secrets:
        raise SiteboxError(
            "this cluster holds another site's secrets (or this site's, since changed); "
            "nothing was applied",
            hint="restore onto an empty cluster, or uninstall the site there first with "
            "`sitebox uninstall --purge-data`",
        )


def _key(claim: dict[str, Any]) -> tuple[str, str]:
    return claim["metadata"].get("namespace", ""), claim["metadata"]["name"]


def _gone_first(kube: Kube, namespace: str, name: str) -> None:
    """A claim still being deleted (an uninstall --purge-data just before) would be taken
    for the one to restore, and then vanish: wait until it is gone."""
    found = kube.get("v1", "PersistentVolumeClaim", name, namespace)
    if found is not None and found["metadata"].get("deletionTimestamp"):
        wait_for(
            f"claim {namespace}/{name}, being deleted, to go",
            lambda: kube.get("v1", "PersistentVolumeClaim", name, namespace) is None,
            300,
        )


def _claims(
    kube: Kube,
    result: SiteRender,
    contents: archive.Contents,
    filled: set[tuple[str, str]],
    namespaces: set[str],
) -> None:
    """The claims of ``namespaces`` made again. One a release makes is left to it, unless
    data goes into it before the releases start (``filled``): then it is made now, as the
    release renders it and as Helm applies it. The others (a StatefulSet's, a user's)
    are made as the archive records them."""
    rendered = {
        (r.namespace if not o["metadata"].get("namespace") else o["metadata"]["namespace"],
         o["metadata"]["name"]): (r, o)
        for r in result.releases for o in r.manifests if o["kind"] == "PersistentVolumeClaim"
    }  # fmt: skip
    for claim in contents.claims:
        key = _key(claim)
        if key[0] not in namespaces or (key in rendered and key not in filled):
            continue
        _gone_first(kube, *key)
        if key in rendered:
            release, obj = rendered[key]
            apply_as_helm(kube, obj, key[0], release.name, release.namespace)
            continue
        spec: dict[str, Any] = {
            "accessModes": claim["accessModes"],
            "volumeMode": claim["volumeMode"],
            "resources": {"requests": {"storage": claim["storage"]}},
        }
        if claim.get("storageClassName") is not None:
            spec["storageClassName"] = claim["storageClassName"]
        kube.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": claim["metadata"], "spec": spec})  # fmt: skip


def _resources(kube: Kube, resources: list[dict[str, Any]]) -> None:
    for obj in resources:
        namespace = obj["metadata"].get("namespace")
        if namespace:
            kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        kube.apply(obj)


def _own_store_gone(kube: Kube, source: DataSource | None, contents: archive.Contents) -> None:
    """Data kept in the site's own S3 store can only come back while that store runs."""
    if source is None or source.target.endpoint != data.OWN_ENDPOINT:
        return
    if secret_store.ClusterStore(kube, SYSTEM_NAMESPACE).read() != contents.secrets:
        raise SiteboxError(
            "the backup's data is in the site's own S3 store, which this cluster does not "
            "run; nothing was applied",
            hint="restore from a copy elsewhere (--data-from s3://BUCKET/PREFIX "
            "--s3-endpoint URL), or pass --no-data to make the claims empty",
        )


def restore(
    path: Path, passphrase: str, kube: Kube, helm: Helm, say: Say, timeout: str,
    source: DataSource | None = None, site: siteconfig.Site | None = None,
) -> list[installer.Outcome]:  # fmt: skip
    """``site``: the site as a fleet file composes it (its federation is the fleet's),
    instead of the archived site.yaml; the releases' values must come out the same."""
    manifest, contents = check(path, passphrase)
    _foreign_secrets(kube, contents)
    _own_store_gone(kube, source, contents)
    given = nullcontext(site) if site is not None else _site(contents)
    with (
        given as site,
        installer.prepared(
            site, kube, skip_unavailable=False, store=ArchivedStore(contents.secrets)
        ) as result,
    ):
        _same_values(result, contents, str(path))
        plan = schedule.prepare(kube, site, result.secrets)
        installer.admit(kube, result, installer.states(helm, result))
        image = site.distribution.backup_images["copy"]
        # The sealed file's digest: new salt and nonce each backup, so one per archive.
        sealed = next(f["sha256"] for f in manifest["files"] if f["path"] == archive.SEALED)
        with lock.held(kube, f"restore of site {site.name}"):
            _foreign_secrets(kube, contents)  # again: another run may have been first
            say("restoring the secrets")
            secret_store.ClusterStore(kube, SYSTEM_NAMESPACE).write(contents.secrets)
            # Claims go where their namespace exists: the releases' own namespaces, made
            # above; the rest (the batch namespace, which a chart makes) after the releases.
            early = {n["metadata"]["name"] for n in kube.namespaces()}
            filled = data.claims_filled(manifest.get("data")) if source is not None else set()
            say("making the volume claims")
            _claims(kube, result, contents, filled, early)
            if source is not None:
                data.restore(kube, manifest["data"], source.target, source.keys, image, say,
                             early, before_releases=True, archive=sealed)  # fmt: skip
            outcomes = installer.apply_held(result, kube, helm, say, timeout, "restore", plan)
            later = {_key(c)[0] for c in contents.claims} - early
            _claims(kube, result, contents, filled, later)
            if source is not None:
                data.restore(kube, manifest["data"], source.target, source.keys, image, say,
                             early, before_releases=False, archive=sealed)  # fmt: skip
            say(f"restoring {len(contents.resources)} custom resources")
            _resources(kube, contents.resources)
    return outcomes
