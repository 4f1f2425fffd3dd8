"""``sitebox backup`` and ``sitebox restore``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from sitebox import console
from sitebox.backup import archive, collect
from sitebox.backup import restore as restorer
from sitebox.compose.commands import load_site, profile_option, site_option
from sitebox.errors import SiteboxError
from sitebox.lifecycle import install as installer
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
def backup_cmd(
    site_file: Path | None, profile: str | None, kubeconfig: Path | None, context: str | None,
    out: Path, passphrase_file: Path | None,
) -> None:  # fmt: skip
    """Back up a site into one archive: site.yaml, the sealed secrets, both releases'
    values and revisions, the custom resources and the volume claims."""
    site = load_site(site_file, profile)
    secret = passphrase(passphrase_file, new=True)
    kube, helm = connect(kubeconfig, context)
    site_yaml = site.source.read_text() if site.source else (
        f"apiVersion: sitebox.io/v1\nkind: Site\nname: {site.name}\nprofile: {site.profile}\n"
    )  # fmt: skip
    with (
        console.err.status("reading the site"),
        installer.prepared(site, kube, skip_unavailable=True) as result,
    ):
        contents, meta = collect.collect(kube, helm, result, site_yaml)
    manifest = archive.write(out, contents, meta, secret)
    console.err.print(f"wrote {out} ({_size(out.stat().st_size)})", markup=False, soft_wrap=True)
    _describe(manifest)


@click.command("restore")
@click.argument("archive_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@kubeconfig_option
@context_option
@passphrase_option
@click.option("--check", is_flag=True, help="Only verify the archive; no cluster is needed.")
@click.option("--timeout", default="10m", show_default=True, help="Per release.")
@validate_option
def restore_cmd(
    archive_path: Path, kubeconfig: Path | None, context: str | None,
    passphrase_file: Path | None, check: bool, timeout: str, validate: bool,
) -> None:  # fmt: skip
    """Restore a site from FILE onto a cluster (empty, or the same site's): secrets
    first, then the volume claims, both releases, the custom resources, validation."""
    secret = passphrase(passphrase_file, new=False)
    if check:
        manifest, _ = restorer.check(archive_path, secret)
        _describe(manifest)
        console.err.print(f"{archive_path}: complete, unchanged, opens, distribution known")
        return
    kube, helm = connect(kubeconfig, context)
    with console.err.status("restoring") as spinner:
        outcomes = restorer.restore(archive_path, secret, kube, helm, spinner.update, timeout)
    for outcome in outcomes:
        console.err.print(f"{outcome.release}: at revision {outcome.revision}", markup=False)
    console.err.print(f"restored the site from {archive_path}", markup=False)
    if validate:
        after_install(kubeconfig, context)
