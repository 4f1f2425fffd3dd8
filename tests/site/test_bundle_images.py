"""Every profile's bundle carries every image its real charts run, and those they only
hand on in configuration (issue 14, item 3)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from sitebox.compose import render as renderer
from sitebox.compose.commands import load_site, secrets_for
from sitebox.compose.images import full, of_site, passed_on
from sitebox.errors import SiteboxError
from sitebox.model import siteconfig
from sitebox.render.policy import containers_of
from tests.conftest import run_sitebox

PROFILES = ("demo", "tier3", "tier2", "analysis-facility")


def _render(site: siteconfig.Site) -> tuple[list[str], set[str], set[str]]:
    """The bundle's list, the images the workloads run, the images handed on."""
    with tempfile.TemporaryDirectory() as tmp:
        result = renderer.render(site, secrets_for(site), Path(tmp), None)
        assert result.complete, [c.name for c in result.missing]
        objects = [obj for release in result.releases for obj in release.manifests]
        ran = {full(c["image"]) for obj in objects for c in containers_of(obj)}
        handed = {full(image) for obj in objects for image in passed_on(obj)}
        return of_site(result), ran, handed


@pytest.fixture
def real_charts(upstream: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in upstream.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SITEBOX_STATE", str(tmp_path))


@pytest.mark.parametrize("profile", PROFILES)
def test_the_image_list_holds_every_image_the_render_runs_or_hands_on(
    profile: str, real_charts: None
) -> None:
    site = load_site(None, profile)
    listed, ran, handed = _render(site)
    assert ran and ran <= set(listed), ran - set(listed)
    assert handed <= set(listed), handed - set(listed)
    assert len(listed) == len(set(listed)) and listed == sorted(listed)
    if "hub" in site.enabled():
        # z2jh's default notebook image, read from the hub's configuration.
        assert "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0" in handed
    if "dask" in site.enabled():
        assert "ghcr.io/dask/dask-gateway:2026.3.0" in handed


def test_images_a_site_chooses_for_notebooks_and_dask_are_carried(
    real_charts: None, tmp_path: Path
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "apiVersion: sitebox.io/v1\nkind: Site\nname: af\nprofile: analysis-facility\n"
        "components:\n"
        "  hub:\n    values:\n      singleuser:\n"
        "        image: {name: registry.example.org/af/notebook, tag: '2026.11'}\n"
        "        profileList:\n          - display_name: ROOT\n"
        "            kubespawner_override: {image: 'registry.example.org/af/root:6.34'}\n"
        "  dask:\n    values:\n      gateway:\n        backend:\n"
        "          image: {name: registry.example.org/af/dask, tag: '2026.3.0'}\n"
    )
    listed, _, _ = _render(siteconfig.load(path))
    assert {
        "registry.example.org/af/notebook:2026.11",
        "registry.example.org/af/root:6.34",
        "registry.example.org/af/dask:2026.3.0",
    } <= set(listed)


def test_a_notebook_image_by_a_moving_tag_is_refused(real_charts: None, tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "apiVersion: sitebox.io/v1\nkind: Site\nname: t3\nprofile: tier3\ncomponents:\n"
        "  hub:\n    values:\n      singleuser:\n"
        "        image: {name: registry.example.org/t3/notebook, tag: latest}\n"
    )
    with pytest.raises(SiteboxError) as refused:
        _render(siteconfig.load(path))
    assert "moving tag: registry.example.org/t3/notebook:latest" in refused.value.message


def test_a_machine_without_charts_renders_the_site_from_its_bundle(
    upstream: dict[str, str], tmp_path: Path
) -> None:
    state = {"SITEBOX_STATE": str(tmp_path / "state")}
    made = run_sitebox("bundle", "create", "--profile", "demo", "-o", "b.tgz",
                       env={**upstream, **state}, cwd=tmp_path)  # fmt: skip
    assert made.code == 0, made.err
    (tmp_path / "empty").mkdir()
    bare = {**state, "SITEBOX_CHART_CACHE": str(tmp_path / "empty")}
    without = run_sitebox("render", "--profile", "demo", "-o", "a", env=bare, cwd=tmp_path)
    assert "missing chart: hub needs jupyterhub 4.4.0" in without.err
    bundled = run_sitebox("render", "--profile", "demo", "--bundle", "b.tgz", "-o", "b",
                          env=bare, cwd=tmp_path)  # fmt: skip
    assert bundled.code == 0, bundled.err
    assert "missing chart" not in bundled.err
    assert "kind: StatefulSet" in (tmp_path / "b" / "sitebox.yaml").read_text()
