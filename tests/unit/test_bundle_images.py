"""How a bundle names images: in full, as a mirror is filled, and never by a moving tag."""

from __future__ import annotations

import pytest

from sitebox.compose import images

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("traefik:3.3.5", "docker.io/library/traefik:3.3.5"),
        ("docker.io/traefik:3.3.5", "docker.io/library/traefik:3.3.5"),
        ("chrislusf/seaweedfs:4.44", "docker.io/chrislusf/seaweedfs:4.44"),
        ("quay.io/jupyterhub/k8s-hub:4.4.0", "quay.io/jupyterhub/k8s-hub:4.4.0"),
        ("registry.local:5000/site/app:1.0", "registry.local:5000/site/app:1.0"),
        ("localhost/app:1", "localhost/app:1"),
    ],
)
def test_short_docker_hub_names_are_written_in_full(given: str, expected: str) -> None:
    assert images.full(given) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("docker.io/library/almalinux:9.6", False),
        ("docker.io/library/almalinux", True),
        ("docker.io/library/almalinux:latest", True),
        ("registry.local:5000/app", True),
        ("registry.local:5000/app@sha256:" + "0" * 64, False),
    ],
)
def test_an_image_without_a_version_tag_or_digest_moves(image: str, expected: bool) -> None:
    assert images.moving(image) is expected
