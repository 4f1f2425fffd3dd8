"""The documentation builds with warnings as errors, and its generated reference
covers the schemas and the command tree it was built from."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from sitebox.cli import cli
from tests.docs.conftest import ROOT, load_generator

pytestmark = pytest.mark.docs


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    started = time.monotonic()
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(out)],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=300,
    )  # fmt: skip
    print(f"mkdocs build --strict: {time.monotonic() - started:.1f}s")
    assert built.returncode == 0, built.stderr
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text()


def test_every_site_and_profile_key_is_in_the_reference(site: Path) -> None:
    generator = load_generator()
    for schema, name in (("site", "reference/site"), ("profile", "reference/profiles")):
        html = page(site, name)
        top = json.loads((ROOT / f"distro/schemas/{schema}.schema.json").read_text())["properties"]
        paths = [key.path for key in generator.walk(generator.load_schema(schema))]
        assert set(top) <= set(paths)
        missing = [
            p
            for p in paths
            if f"<code>{p.replace('<', '&lt;').replace('>', '&gt;')}</code>" not in html
        ]
        assert not missing, f"{name} lacks {missing}"


def _commands(group: click.Command, prefix: str) -> list[str]:
    found = [prefix]
    if isinstance(group, click.Group):
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None
            found += _commands(command, f"{prefix}-{name}")
    return found


def test_every_command_is_in_the_cli_reference(site: Path) -> None:
    html = page(site, "reference/cli")
    anchors = set(re.findall(r'<h[1-6] id="([^"]+)"', html))
    commands = _commands(cli, "sitebox")
    assert len(commands) > 20
    assert [c for c in commands if c not in anchors] == []


def test_the_troubleshooting_page_lists_the_catalogue(site: Path) -> None:
    html = page(site, "troubleshooting")
    entries = load_generator().catalogue()
    assert f"{len(entries)} messages in" in html
    assert "port {port} on 127.0.0.1 (wanted for {name}) is already in use" in html
    assert "<!-- sitebox:" not in html


def test_the_site_needs_nothing_from_the_network(site: Path) -> None:
    remote = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.I)
    offenders = [p.name for p in site.rglob("*.html") if remote.search(p.read_text())]
    assert offenders == []
    assert (site / "img/architecture.svg").exists()


def test_an_unknown_marker_fails_the_build() -> None:
    with pytest.raises(ValueError, match="unknown generated section 'site-shema'"):
        load_generator().expand("intro\n<!-- sitebox:site-shema -->\n", "x.md")
