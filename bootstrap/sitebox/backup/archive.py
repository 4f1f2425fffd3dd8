"""The backup archive: a gzip'd tar with a manifest, the sealed secrets, and the rest.

    manifest.json     what is inside: the site, its distribution and revisions, and
                      each file's size and SHA-256 (plain: readable without a passphrase)
    sealed/site.bin   site.yaml, the generated secrets and both releases' values,
                      sealed with the passphrase (backup.sealing)
    resources.yaml    the custom resources the site owns (DaskClusters, workflows)
    claims.json       the site's volume claims: name, size, class, access modes

The manifest's listing of the plain files is authenticated with the sealed part, so
a changed file, a changed manifest, or a manifest from another archive is refused,
and a truncated archive is refused before anything is read from it.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sitebox.backup import sealing
from sitebox.errors import SiteboxError
from sitebox.files import write_private
from sitebox.kube import Obj

FORMAT = 1
MANIFEST = "manifest.json"
SEALED = "sealed/site.bin"
RESOURCES = "resources.yaml"
CLAIMS = "claims.json"
MAX_MEMBER = 64 * 2**20  # no member of a backup without claim data comes near this


@dataclass
class Contents:
    """What a backup holds; ``secrets`` and ``values`` only ever travel sealed."""

    site_yaml: str
    secrets: dict[str, str] = field(repr=False)
    values: dict[str, dict[str, Any]] = field(repr=False)  # release name -> values
    resources: list[Obj] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _bound(manifest: dict[str, Any]) -> bytes:
    """The manifest as the sealed part authenticates it: all of it but the sealed file's
    own entry (whose digest is of the sealed bytes themselves)."""
    listed = [f for f in manifest["files"] if f["path"] != SEALED]
    return json.dumps({**manifest, "files": listed}, sort_keys=True).encode()


def write(path: Path, contents: Contents, meta: dict[str, Any], passphrase: str) -> dict[str, Any]:
    """Write the archive at ``path``: created 0600 beside it and renamed into place, so
    there is never a partial archive, nor one another local user could read."""
    plain = {
        RESOURCES: yaml.safe_dump_all(contents.resources, sort_keys=True).encode(),
        CLAIMS: json.dumps(contents.claims, indent=1, sort_keys=True).encode(),
    }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        **meta,
        "files": [
            {"path": name, "size": len(data), "sha256": _digest(data)}
            for name, data in plain.items()
        ],
    }
    secret = {"site.yaml": contents.site_yaml, "secrets": contents.secrets,
              "values": contents.values}  # fmt: skip
    sealed = sealing.seal(json.dumps(secret).encode(), passphrase, _bound(manifest))
    manifest["files"].append({"path": SEALED, "size": len(sealed), "sha256": _digest(sealed)})
    members = {MANIFEST: json.dumps(manifest, indent=1).encode(), SEALED: sealed, **plain}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(blob), 0o600
            tar.addfile(info, io.BytesIO(blob))
    write_private(path.absolute(), buffer.getvalue())
    return manifest


def _members(path: Path) -> dict[str, bytes]:
    origin = str(path)
    try:
        with tarfile.open(path, "r:gz") as tar:
            found = {}
            for member in tar:
                if not member.isfile() or member.size > MAX_MEMBER:
                    raise SiteboxError(
                        f"{origin}: {member.name} is not a file of a sitebox backup; nothing "
                        "was applied",
                        hint="give an archive `sitebox backup` wrote",
                    )
                handle = tar.extractfile(member)
                found[member.name] = handle.read() if handle else b""
            return found
    except FileNotFoundError:
        raise SiteboxError(f"{origin} not found", hint="give the path of a backup") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise SiteboxError(
            f"{origin} is truncated or not a sitebox backup ({exc}); nothing was applied",
            hint="use another copy of the backup; a copy still being written is incomplete",
        ) from None


def read_manifest(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest, and the members, each checked against its listed size and digest."""
    members = _members(path)
    try:
        manifest = json.loads(members[MANIFEST])
        listed = {f["path"]: f for f in manifest["files"]}
        if manifest["format"] != FORMAT:
            raise SiteboxError(
                f"{path} is backup format {manifest['format']}; this sitebox reads {FORMAT}",
                hint="restore with the sitebox version that made the backup",
            )
    except (KeyError, TypeError, ValueError):
        raise SiteboxError(
            f"{path} has no readable manifest: not a sitebox backup; nothing was applied",
            hint="give an archive `sitebox backup` wrote",
        ) from None
    extra = sorted(set(members) - set(listed) - {MANIFEST})
    missing = sorted(set(listed) - set(members))
    bad = [
        name for name, entry in listed.items()
        if name in members and (len(members[name]) != entry["size"]
                                or _digest(members[name]) != entry["sha256"])
    ]  # fmt: skip
    if extra or missing or bad or SEALED not in listed:
        problems = [f"{n}: not listed" for n in extra] + [f"{n}: missing" for n in missing]
        problems += [f"{n}: size or digest differs from the manifest" for n in bad]
        raise SiteboxError(
            f"{path} was changed or damaged: {'; '.join(problems) or 'no sealed part'}; "
            "nothing was applied",
            hint="use another copy of the backup",
        )
    return manifest, members


def read(path: Path, passphrase: str) -> tuple[dict[str, Any], Contents]:
    """Manifest and contents, after every check: digests, then the seal."""
    manifest, members = read_manifest(path)
    opened = sealing.unseal(members[SEALED], passphrase, _bound(manifest), str(path))
    secret = json.loads(opened)
    return manifest, Contents(
        site_yaml=secret["site.yaml"],
        secrets=secret["secrets"],
        values=secret["values"],
        resources=[r for r in yaml.safe_load_all(members[RESOURCES]) if r],
        claims=json.loads(members[CLAIMS]),
    )
