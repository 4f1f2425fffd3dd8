"""``sitebox backup`` and ``sitebox restore``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from sitebox import console
from sitebox.backup import archive, collect, data
from sitebox.backup import restore as restorer
from sitebox.compose.commands import load_site, profile_option, site_option
from sitebox.errors import RunInterruptedError, SiteboxError
from sitebox.lifecycle.commands import connect
from sitebox.options import context_option, kubeconfig_option, validate_option
from sitebox.validate.commands import after_install

PASSPHRASE_ENV = "SITEBOX_BACKUP_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)

passphrase_option = click.option(
    "--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
    help=f"The file holding the backup's passphrase (default: ${PASSPHRASE_ENV}, else asked).",
)  # fmt: skip


def passphrase(path: Path | None, new: bool) -> str:
    """From the file, else the environment, else asked on the terminal (twice for a new
    backup); never from a command-line argument, which other local users can read."""
    if path is not None:
        try:
            return path.read_text().rstrip("\n")
        except OSError as exc:
            raise SiteboxError(
                f"cannot read the passphrase file {path}: {exc.strerror}",
                hint="give a readable file holding only the passphrase",
            ) from None
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise SiteboxError(
            "no passphrase for the backup's secrets, and no terminal to ask on",
            hint=f"pass --passphrase-file FILE or set {PASSPHRASE_ENV}",
        )
    return str(click.prompt("backup passphrase", hide_input=True, confirmation_prompt=new,
                            err=True))  # fmt: skip


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _describe(manifest: dict[str, Any]) -> None:
    counts = manifest.get("counts", {})
    console.out.print(
        f"site {manifest.get('site')}, distribution {manifest.get('distribution')}, "
        f"made {manifest.get('created')} (site revision {manifest.get('site_revision')}): "
        f"{counts.get('secrets', 0)} secrets (sealed), {counts.get('custom_resources', 0)} "
        f"custom resources, {counts.get('claims', 0)} volume claims",
        markup=False,
        soft_wrap=True,
    )
    for entry in manifest["files"]:
        console.out.print(
            f"  {entry['path']}: {_size(entry['size'])}, {entry['sha256']}",
            markup=False,
            soft_wrap=True,
        )


def _claim(value: str) -> tuple[str, str]:
    namespace, _, name = value.partition("/")
    if not (namespace and name):
        raise SiteboxError(
            f"--claim {value!r} names no claim",
            hint="write NAMESPACE/NAME, e.g. --claim sitebox/claim-alice",
        )
    return namespace, name


def _keys(endpoint: str, secrets: dict[str, str]) -> tuple[str, str]:
    keys = data.keys_for(endpoint, secrets)
    if keys is None:
        raise SiteboxError(
            f"no keys for the S3 endpoint {endpoint}",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the keys of that store"
            if endpoint != data.OWN_ENDPOINT
            else "the site runs no S3 store of its own: pass --s3-endpoint of another store",
        )
    return keys


@click.command("backup")
@site_option
@profile_option
@kubeconfig_option
@context_option
@click.option(
    "--output", "-o", "out", required=True, help="The archive to write.",
    type=click.Path(dir_okay=False, path_type=Path),
)  # fmt: skip
@passphrase_option
@click.option("--data-to", metavar="s3://BUCKET/PREFIX",
              help="Dump the databases and copy the chosen claims' files there (by Jobs in "
              "the cluster); keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.")  # fmt: skip
@click.option("--claim", "claims", multiple=True, metavar="NAMESPACE/NAME",
              help="A volume claim whose files to copy (repeatable); needs --data-to.")  # fmt: skip
@click.option("--s3-endpoint", metavar="URL",
              help=f"The S3 endpoint of --data-to (default: the site's own store, "
              f"{data.OWN_ENDPOINT}).")  # fmt: skip
def backup_cmd(
    site_file: Path | None, profile: str | None, kubeconfig: Path | None, context: str | None,
    out: Path, passphrase_file: Path | None, data_to: str | None, claims: tuple[str, ...],
    s3_endpoint: str | None,
) -> None:  # fmt: skip
    """Back up a site into one archive: site.yaml, the sealed secrets, both releases'
    values and revisions, the custom resources and the volume claims; with --data-to,
    the databases' dumps and the chosen claims' files too."""
    chosen = [_claim(c) for c in claims]
    if chosen and not data_to:
        raise SiteboxError("--claim needs --data-to", hint="add --data-to s3://BUCKET/PREFIX")
    site = load_site(site_file, profile)
    target = data.Target.parse(data_to, s3_endpoint or data.OWN_ENDPOINT) if data_to else None
    secret = passphrase(passphrase_file, new=True)
    kube, helm = connect(kubeconfig, context)
    site_yaml = site.source.read_text() if site.source else (
        f"apiVersion: sitebox.io/v1\nkind: Site\nname: {site.name}\nprofile: {site.profile}\n"
    )  # fmt: skip
    with console.err.status("reading the site") as spinner:
        contents, meta = collect.take(kube, helm, site, site_yaml)
        if target is not None:
            keys = _keys(target.endpoint, contents.secrets)
            image = site.distribution.backup_images["copy"]
            meta["data"] = data.back_up(kube, target, keys, chosen, image, spinner.update)
    manifest = archive.write(out, contents, meta, secret)
    console.err.print(f"wrote {out} ({_size(out.stat().st_size)})", markup=False, soft_wrap=True)
    if target is None:
        console.err.print(
            "the claims' data and the databases were not copied: --data-to does that",
            markup=False,
        )
    _describe(manifest)


@click.command("restore")
@click.argument("archive_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@kubeconfig_option
@context_option
@passphrase_option
@click.option("--check", is_flag=True, help="Only verify the archive; no cluster is needed.")
@click.option("--data-from", metavar="s3://BUCKET/PREFIX",
              help="Where the data is (default: where the backup put it).")  # fmt: skip
@click.option("--s3-endpoint", metavar="URL", help="Its endpoint (default: the recorded one).")
@click.option("--no-data", is_flag=True, help="Make the claims empty; copy no data back.")
@click.option("--timeout", default="10m", show_default=True, help="Per release.")
@validate_option
def restore_cmd(
    archive_path: Path, kubeconfig: Path | None, context: str | None,
    passphrase_file: Path | None, check: bool, data_from: str | None, s3_endpoint: str | None,
    no_data: bool, timeout: str, validate: bool,
) -> None:  # fmt: skip
    """Restore a site from FILE onto a cluster (empty, or the same site's): secrets
    first, then the volume claims and their data, both releases, the databases' dumps,
    the custom resources, validation."""
    secret = passphrase(passphrase_file, new=False)
    if check:
        manifest, _ = restorer.check(archive_path, secret)
        _describe(manifest)
        console.err.print(f"{archive_path}: complete, unchanged, opens, distribution known")
        return
    kube, helm = connect(kubeconfig, context)
    manifest, contents = restorer.check(archive_path, secret)
    source = None
    if manifest.get("data") and not no_data:
        recorded = data.Target(**manifest["data"]["target"])
        endpoint = s3_endpoint or recorded.endpoint
        target = (
            data.Target.parse(data_from, endpoint)
            if data_from
            else data.Target(recorded.bucket, recorded.prefix, endpoint)
        )
        source = restorer.DataSource(target, _keys(target.endpoint, contents.secrets))
    try:
        with console.err.status("restoring") as spinner:
            outcomes = restorer.restore(
                archive_path, secret, kube, helm, spinner.update, timeout, source
            )
    except KeyboardInterrupt:
        raise RunInterruptedError(
            "interrupted; the restore stopped part of the way",
            hint="run the same `sitebox restore` command again: each step it has done is "
            "done again the same way, and it goes on from there",
        ) from None
    for outcome in outcomes:
        console.err.print(f"{outcome.release}: at revision {outcome.revision}", markup=False)
    console.err.print(f"restored the site from {archive_path}", markup=False)
    if validate:
        after_install(kubeconfig, context)
