"""Every profile's bundle carries every image its real charts run (issue 14, item 3)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from sitebox.compose import render as renderer
from sitebox.compose.bundle import _full, images_of
from sitebox.compose.commands import load_site, secrets_for
from sitebox.render.policy import containers_of

PROFILES = ("demo", "tier3", "tier2", "analysis-facility")


@pytest.mark.parametrize("profile", PROFILES)
def test_the_image_list_holds_every_image_the_render_runs(
    profile: str, upstream: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in upstream.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SITEBOX_STATE", str(tmp_path))
    site = load_site(None, profile)
    with tempfile.TemporaryDirectory() as tmp:
        result = renderer.render(site, secrets_for(site), Path(tmp), None)
        assert result.complete, [c.name for c in result.missing]
        listed = images_of(result)
        ran = {
            _full(c["image"]) for release in result.releases for obj in release.manifests
            for c in containers_of(obj)
        }  # fmt: skip
    assert ran and ran <= set(listed), ran - set(listed)
    assert len(listed) == len(set(listed)) and listed == sorted(listed)
