"""Which images a site pulls, read from its render: what a registry mirror must hold
for the site to run where nothing can be fetched.

Three sources: the containers of every rendered workload (hooks and init containers
included); the images the charts only hand on in configuration, for pods made later
(notebook servers, Dask schedulers and workers, queue mode's grid jobs);
and the images the distribution declares for the enabled components (the load
test's, run by sitebox itself).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from sitebox.compose.render import SiteRender
from sitebox.errors import SiteboxError
from sitebox.render.policy import containers_of

# dask-gateway passes its values to the gateway as one JSON string in its config file.
_DASK_PROPERTIES = re.compile(r"^\s*_PROPERTIES = json\.loads\((\".*\")\)\s*$", re.MULTILINE)


def moving(image: str) -> bool:
    """An image named by a tag that moves: none (``latest``) or ``latest`` itself."""
    if "@" in image:
        return False
    name = image.rsplit("/", 1)[-1]
    return ":" not in name or name.endswith(":latest")


def full(image: str) -> str:
    """An image's full name, as a registry mirror is filled: Docker Hub's short names
    (``traefik:3.3``, ``chrislusf/seaweedfs:4.44``) with their registry and namespace."""
    first, _, rest = image.partition("/")
    if first == "docker.io" and "/" not in rest:
        return f"docker.io/library/{rest}"
    if rest and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if rest else f"docker.io/library/{image}"


def _named(spec: Any) -> Iterator[str]:
    """The image of a chart's ``{name, tag}`` value (a tagless name is yielded as it is,
    to be refused as moving)."""
    if isinstance(spec, Mapping) and spec.get("name"):
        tag = spec.get("tag")
        yield f"{spec['name']}:{tag}" if tag else str(spec["name"])


def _of_containers(items: Any) -> Iterator[str]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and item.get("image"):
            yield str(item["image"])


def _overrides(profiles: Any) -> Iterator[Mapping[str, Any]]:
    """KubeSpawner's overrides of every profile and every option's choice."""
    for profile in profiles if isinstance(profiles, list) else []:
        if not isinstance(profile, Mapping):
            continue
        yield profile.get("kubespawner_override") or {}
        for option in (profile.get("profile_options") or {}).values():
            for choice in (option.get("choices") or {}).values():
                yield choice.get("kubespawner_override") or {}


def _notebook_images(values: Mapping[str, Any]) -> Iterator[str]:
    """The images z2jh's hub spawns: the default server image, each profile's, and the
    containers it adds to every server."""
    singleuser = values.get("singleuser") or {}
    yield from _named(singleuser.get("image"))
    yield from _named((singleuser.get("networkTools") or {}).get("image"))
    yield from _of_containers(singleuser.get("initContainers"))
    yield from _of_containers(singleuser.get("extraContainers"))
    for override in _overrides(singleuser.get("profileList")):
        if override.get("image"):
            yield str(override["image"])
        yield from _of_containers(override.get("init_containers"))
        yield from _of_containers(override.get("extra_containers"))


def _hub_values(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The values z2jh hands its hub, in the hub Secret's ``values.yaml``."""
    encoded = (obj.get("data") or {}).get("values.yaml")
    if obj.get("kind") != "Secret" or not encoded:
        return None
    try:
        values = yaml.safe_load(base64.b64decode(encoded))
    except (binascii.Error, yaml.YAMLError):
        return None
    return values if isinstance(values, Mapping) and "singleuser" in values else None


def _dask_values(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    config = (obj.get("data") or {}).get("dask_gateway_config.py")
    found = _DASK_PROPERTIES.search(config) if obj.get("kind") == "ConfigMap" and config else None
    if found is None:
        return None
    values = json.loads(json.loads(found.group(1)))
    return values if isinstance(values, Mapping) else None


def _cluster_images(values: Mapping[str, Any]) -> Iterator[str]:
    """The image dask-gateway starts each cluster's scheduler and workers from."""
    backend = (values.get("gateway") or {}).get("backend") or {}
    yield from _named(backend.get("image"))
    for role in ("scheduler", "worker"):
        yield from _of_containers((backend.get(role) or {}).get("extraContainers"))


def _job_template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Job the batch connector hands workload managers (queue mode's template)."""
    text = (obj.get("data") or {}).get("job.yaml")
    if obj.get("kind") != "ConfigMap" or not text:
        return None
    try:
        job = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return job if isinstance(job, Mapping) and job.get("kind") == "Job" else None


def passed_on(obj: Mapping[str, Any]) -> Iterator[str]:
    """Images an object hands on in configuration, not in a pod spec of its own."""
    job = _job_template(obj)
    if job is not None:
        yield from (c["image"] for c in containers_of(job))
    hub = _hub_values(obj)
    if hub is not None:
        yield from _notebook_images(hub)
    dask = _dask_values(obj)
    if dask is not None:
        yield from _cluster_images(dask)


def of_site(result: SiteRender) -> list[str]:
    """Every image the site pulls, in full and sorted. An image by a moving tag is
    refused: the mirror would hold another image than the site later pulls."""
    found = {
        full(image)
        for release in result.releases
        for obj in release.manifests
        for image in (*(c["image"] for c in containers_of(obj)), *passed_on(obj))
    }
    distribution = result.site.distribution
    found |= {
        full(i) for name in result.site.enabled() for i in distribution.components[name].images
    }
    moved = sorted(i for i in found if moving(i))
    if moved:
        raise SiteboxError(
            f"cannot bundle images by a moving tag: {', '.join(moved)}; nothing was written",
            hint="pin each to a version tag or a digest (the component's `values` in site.yaml)",
        )
    return sorted(found)
