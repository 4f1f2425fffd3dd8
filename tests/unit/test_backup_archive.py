"""The backup archive without a cluster: what it holds, and every way a bad one is
refused before anything could be applied."""

from __future__ import annotations

import gzip
import io
import json
import re
import stat
import tarfile
from pathlib import Path

import pytest

from sitebox.backup import archive, restore
from sitebox.errors import SiteboxError

pytestmark = pytest.mark.unit

PASS = "correct horse battery staple"
SECRETS = {"hub.cookieSecret": "c0ffee" * 8, "batch.poolPassword": "pool-pw-123456"}
SITE = "apiVersion: sitebox.io/v1\nkind: Site\nname: uni\nprofile: demo\n"
META = {"site": "uni", "distribution": "2026.12", "created": "2026-12-02T12:00:00Z",
        "counts": {"secrets": 2, "custom_resources": 1, "claims": 1}}  # fmt: skip


def contents() -> archive.Contents:
    return archive.Contents(
        site_yaml=SITE,
        secrets=dict(SECRETS),
        values={"sitebox": {"hub": {"cookieSecret": SECRETS["hub.cookieSecret"]}}},
        resources=[{"apiVersion": "gateway.dask.org/v1alpha1", "kind": "DaskCluster",
                    "metadata": {"name": "c1", "namespace": "sitebox"}, "spec": {}}],
        claims=[{"metadata": {"name": "hub-db-dir", "namespace": "sitebox"},
                 "storage": "1Gi", "storageClassName": None,
                 "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}],
    )  # fmt: skip


@pytest.fixture
def made(tmp_path: Path) -> Path:
    path = tmp_path / "site.backup"
    archive.write(path, contents(), dict(META), PASS)
    return path


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def rewrite(path: Path, found: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in found.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_round_trip_gives_back_everything_and_no_secret_is_in_clear(made: Path) -> None:
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    raw = gzip.decompress(made.read_bytes())
    assert not any(v.encode() in raw for v in SECRETS.values()), "secrets only sealed"
    assert b"name: uni" not in raw, "site.yaml (it may hold secrets) only sealed"
    manifest, back = archive.read(made, PASS)
    assert back.secrets == SECRETS and back.site_yaml == SITE
    assert back.values == contents().values
    assert back.resources == contents().resources and back.claims == contents().claims
    listed = {f["path"] for f in manifest["files"]}
    assert listed == {archive.SEALED, archive.RESOURCES, archive.CLAIMS}
    assert all(f["sha256"].startswith("sha256:") and f["size"] > 0 for f in manifest["files"])


def test_a_wrong_passphrase_is_refused(made: Path) -> None:
    with pytest.raises(SiteboxError, match="wrong passphrase, or the archive was changed"):
        archive.read(made, "not the passphrase")


def test_a_truncated_archive_is_refused(made: Path) -> None:
    made.write_bytes(made.read_bytes()[: made.stat().st_size // 2])
    with pytest.raises(SiteboxError, match="truncated or not a sitebox backup"):
        archive.read(made, PASS)


def test_a_changed_file_is_refused_by_its_digest(made: Path) -> None:
    found = members(made)
    found[archive.CLAIMS] = found[archive.CLAIMS].replace(b"1Gi", b"9Gi")
    rewrite(made, found)
    with pytest.raises(SiteboxError, match=re.escape("claims.json: size or digest differs")):
        archive.read(made, PASS)


def test_a_manifest_changed_to_match_a_changed_file_is_refused_by_the_seal(made: Path) -> None:
    found = members(made)
    found[archive.CLAIMS] = found[archive.CLAIMS].replace(b"1Gi", b"9Gi")
    manifest = json.loads(found[archive.MANIFEST])
    for entry in manifest["files"]:
        if entry["path"] == archive.CLAIMS:
            entry["sha256"] = archive._digest(found[archive.CLAIMS])
    found[archive.MANIFEST] = json.dumps(manifest).encode()
    rewrite(made, found)
    with pytest.raises(SiteboxError, match="the sealed secrets do not open"):
        archive.read(made, PASS)


def test_an_added_member_is_refused(made: Path) -> None:
    rewrite(made, {**members(made), "extra.sh": b"echo"})
    with pytest.raises(SiteboxError, match=re.escape("extra.sh: not listed")):
        archive.read(made, PASS)


def test_a_short_passphrase_is_refused_when_sealing(tmp_path: Path) -> None:
    with pytest.raises(SiteboxError, match="at least 12 are needed"):
        archive.write(tmp_path / "b", contents(), dict(META), "short")
    assert list(tmp_path.iterdir()) == [], "no partial archive is left"


def test_a_foreign_distribution_is_refused_by_check(tmp_path: Path) -> None:
    path = tmp_path / "old.backup"
    archive.write(path, contents(), {**META, "distribution": "2019.01"}, PASS)
    with pytest.raises(SiteboxError, match=re.escape("distribution 2019.01, which this")):
        restore.check(path, PASS)


def test_check_accepts_a_good_archive(made: Path) -> None:
    manifest, back = restore.check(made, PASS)
    assert manifest["site"] == "uni" and back.secrets == SECRETS
