"""``sitebox bundle create | verify | push``: the air-gapped site's archive."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from sitebox import console
from sitebox.compose import bundle as bundles
from sitebox.compose import images as site_images
from sitebox.compose import registry
from sitebox.compose.commands import profile_option, rendered, site_option
from sitebox.errors import SiteboxError
from sitebox.nodes import k3s

bundle_argument = click.argument(
    "bundle_file", metavar="BUNDLE", type=click.Path(dir_okay=False, path_type=Path)
)
output_option = click.option(
    "--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text", show_default=True
)


@click.group("bundle")
def bundle_group() -> None:
    """Bundles for air-gapped sites."""


@bundle_group.command("create")
@site_option
@profile_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--k3s-from",
    type=click.Path(file_okay=False, path_type=Path),
    help="A k3s release folder (k3s, sha256sum-amd64.txt; k3s-arm64, sha256sum-arm64.txt) "
    "to carry for `sitebox nodes prepare --bundle`; checked against its checksum files.",
)
def bundle_create_cmd(
    site_file: Path | None, profile: str | None, output: Path, k3s_from: Path | None
) -> None:
    """Pack every chart the site renders and its image list into one archive."""
    with rendered(site_file, profile, None) as result:
        info = bundles.create(result, output, k3s_from)
    console.err.print(
        f"wrote {output}: {len(info['charts'])} charts, {len(info['images'])} images "  # type: ignore[arg-type]
        "(images.txt lists them; `sitebox bundle push` copies them to your registry)",
        markup=False,
    )
    bundled: list[dict[str, Any]] = info.get("k3s", [])  # type: ignore[assignment]
    for found in bundled:
        console.err.print(_k3s_line(found), markup=False, soft_wrap=True)


def _k3s_line(found: dict[str, Any]) -> str:
    """What the nodes will make of a bundled k3s binary: a pinned release or not."""
    line = f"k3s for {found['arch']} nodes: {found['file']}, sha256 {found['sha256']}"
    if found["version"] is None:
        return (
            f"{line}, checked against its checksum file only: not a release sitebox pins "
            "(set sitebox_k3s_version in the inventory to its version)"
        )
    line += f", k3s {found['version']} as sitebox pins it"
    default = k3s.default_version()
    if found["version"] != default:
        line += f" (sitebox installs {default} unless the inventory sets sitebox_k3s_version)"
    return line


def _against_site(
    bundle_file: Path, site_file: Path | None, profile: str | None, listed: list[str]
) -> list[str]:
    """How the bundle's image list differs from what the site renders with its charts."""
    with rendered(site_file, profile, bundle_file) as result:
        if not result.complete:
            names = ", ".join(c.chart.name for c in result.missing)
            return [f"charts the site needs are not in the bundle: {names}"]
        wanted = site_images.of_site(result)
    return [f"image the site runs, missing from the bundle: {i}" for i in wanted if i not in listed]


@bundle_group.command("verify")
@bundle_argument
@site_option
@profile_option
@output_option
def bundle_verify_cmd(
    bundle_file: Path, site_file: Path | None, profile: str | None, output: str
) -> None:
    """Check a bundle after it was carried: every chart against the distribution's
    pinned digests, the image list against the manifest; with -f or --profile, the
    list against what that site renders from the bundle's own charts."""
    info = bundles.contents(bundle_file)
    problems = []
    if site_file or profile:
        problems = _against_site(bundle_file, site_file, profile, info["images"])
    summary: dict[str, Any] = {
        "bundle": str(bundle_file),
        "distribution": info["distribution"],
        "charts": len(info["charts"]),
        "images": len(info["images"]),
        "ok": not problems,
        "problems": problems,
    }
    if output == "json":
        console.emit_json(summary)
    else:
        verdict = "checks out" if not problems else "does NOT check out"
        console.out.print(
            f"{bundle_file} {verdict}: distribution {info['distribution']}, "
            f"{summary['charts']} charts match their pinned digests, {summary['images']} images",
            markup=False,
            soft_wrap=True,
        )
        for problem in problems:
            console.out.print(f"  {problem}", markup=False, soft_wrap=True)
    if problems:
        raise SystemExit(1)


@bundle_group.command("push")
@bundle_argument
@click.option(
    "--registry",
    "registry_name",
    required=True,
    help="The site's registry, host[:port][/prefix], to copy into.",
)
@click.option("--insecure", is_flag=True, help="The registry speaks plain HTTP.")
@click.option("--dry-run", is_flag=True, help="Print the crane commands; copy nothing.")
@output_option
def bundle_push_cmd(
    bundle_file: Path, registry_name: str, insecure: bool, dry_run: bool, output: str
) -> None:
    """Copy every image of a verified bundle into the site's registry with crane."""
    if "://" in registry_name or not registry_name.strip("/"):
        raise SiteboxError(
            f"--registry {registry_name!r} is not a registry name",
            hint="give host[:port][/prefix], e.g. --registry registry.site.example:5000/mirror",
        )
    images = bundles.contents(bundle_file)["images"]
    if dry_run:
        planned = [(i, registry.command(i, registry_name, insecure)) for i in images]
        if output == "json":
            console.emit_json([{"image": i, "command": argv} for i, argv in planned])
        else:
            for _, argv in planned:
                console.out.print(shlex.join(argv), markup=False, soft_wrap=True)
        return
    with console.err.status("copying images") as status:
        copies = registry.push(images, registry_name, insecure, status.update)
    failed = [c for c in copies if not c.ok]
    if output == "json":
        console.emit_json([c.__dict__ for c in copies])
    else:
        for copy in copies:
            state = "copied" if copy.ok else f"FAILED: {copy.error}"
            console.out.print(f"{copy.source} -> {copy.target}: {state}", markup=False)
    if failed:
        console.err.print(
            f"{len(failed)} of {len(copies)} images were not copied; fix: check that this "
            "machine reaches their registries and --registry, then run the same command again "
            "(images already there are copied again quickly: their layers are not sent twice)",
            markup=False,
            soft_wrap=True,
        )
        raise SystemExit(1)
