"""The site's revisions as a whole: which revision of each release belongs with which.

Helm numbers each release's revisions on its own, so "the site as it was before the
last upgrade" is a pair of revisions that only sitebox knows. Each change sitebox
makes (install, upgrade, repair, rollback, restore) records the pair it left, as
the site's next revision, in a ConfigMap of the system namespace. sitebox writes
it, not Helm: a record inside a release would itself roll back with that release.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sitebox.components.names import PART_OF_LABEL, SYSTEM_NAMESPACE
from sitebox.errors import SiteboxError
from sitebox.kube import Kube

NAME = "sitebox-history"
KEEP = 20  # site revisions kept; Helm keeps 10 of each release by default, sitebox more


@dataclass(frozen=True)
class Entry:
    number: int  # the site's revision
    releases: dict[str, int]  # release name -> its Helm revision
    distribution: str
    operation: str  # what made it: "install", "rollback to 3", ...
    at: str  # UTC, ISO 8601


def read(kube: Kube) -> list[Entry]:
    """The recorded site revisions, oldest first; none for a site installed before
    sitebox kept them."""
    config = kube.get("v1", "ConfigMap", NAME, SYSTEM_NAMESPACE)
    if config is None:
        return []
    try:
        return [Entry(**item) for item in json.loads(config["data"]["revisions"])]
    except (KeyError, TypeError, ValueError):
        raise SiteboxError(
            f"ConfigMap {SYSTEM_NAMESPACE}/{NAME} does not hold sitebox's record of the "
            "site's revisions (edited by hand?)",
            hint=f"delete it (`kubectl -n {SYSTEM_NAMESPACE} delete configmap {NAME}`); the "
            "next install records the site's revision afresh",
        ) from None


def record(kube: Kube, releases: dict[str, int], distribution: str, operation: str) -> Entry:
    """Record the releases' revisions as the site's revision, unless they are the last
    one recorded (a run that changed nothing makes no new revision)."""
    entries = read(kube)
    if entries and entries[-1].releases == releases:
        return entries[-1]
    entry = Entry(
        number=entries[-1].number + 1 if entries else 1,
        releases=releases,
        distribution=distribution,
        operation=operation,
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    kept = [*entries, entry][-KEEP:]
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": NAME,
                "namespace": SYSTEM_NAMESPACE,
                "labels": {PART_OF_LABEL: "sitebox"},
            },
            "data": {"revisions": json.dumps([asdict(e) for e in kept], indent=1)},
        }
    )
    return entry


def forget(kube: Kube) -> None:
    """After an uninstall: the recorded revisions no longer exist."""
    kube.delete("v1", "ConfigMap", NAME, SYSTEM_NAMESPACE)
