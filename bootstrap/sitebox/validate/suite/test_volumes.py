"""The site's volume claims are bound; the CVMFS claims in particular."""

from __future__ import annotations

from typing import Any

import pytest

from sitebox.kube import Kube
from sitebox.validate import facts
from sitebox.validate.suite.verdict import NAMESPACES, fail_on, require

FIX = (
    "a claim stays Pending when no volume or provisioner matches it: check its storage "
    "class (`kubectl get storageclass`) and the claim's events"
)


def _claims(kube: Kube) -> list[dict[str, Any]]:
    return [c for ns in NAMESPACES for c in kube.list_objects("v1", "PersistentVolumeClaim", ns)]


def _why(kube: Kube, claim: dict[str, Any]) -> str:
    """The newest event of a claim: what the binder or provisioner said."""
    meta = claim["metadata"]
    message = kube.newest_event(meta["namespace"], meta["name"])
    return f": {message}" if message else ""


def _problems(kube: Kube, claims: list[dict[str, Any]]) -> list[str]:
    waiting = facts.waits_for_consumer(kube.storage_classes())
    return [
        f"{problem}{_why(kube, c)}" for c in claims if (problem := facts.claim_problem(c, waiting))
    ]


def test_volume_claims_bound(kube: Kube) -> None:
    claims = _claims(kube)
    if not claims:
        pytest.skip("the site has no volume claims")
    fail_on(_problems(kube, claims), FIX)


def test_cvmfs_claims_bound(site: facts.SiteFacts, kube: Kube) -> None:
    require(site, "cvmfs")
    volumes = kube.list_objects("v1", "PersistentVolume")
    claims = facts.cvmfs_claims(_claims(kube), kube.storage_classes(), volumes)
    if not claims:
        pytest.skip("no volume claim mounts CVMFS")
    fail_on(_problems(kube, claims), FIX)
