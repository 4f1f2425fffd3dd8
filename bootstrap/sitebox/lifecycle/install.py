"""Install or upgrade a site: both releases, in order, safe to run again.

Order: compose and check everything first (nothing touches the cluster until
the render is complete and clean), then the secrets store, the CRDs by
server-side apply, `sitebox-system`, and `sitebox`. Each release is a
`helm upgrade --install` that waits and rolls back a failed attempt, so an
interrupted run leaves either the old or the new revision, and the next run
converges. A release whose chart and values are unchanged is not upgraded.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sitebox.compose import render as renderer
from sitebox.compose import secrets as secret_store
from sitebox.compose.values import BATCH_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.errors import SiteboxError
from sitebox.helm import Helm, HelmError
from sitebox.kube import Kube
from sitebox.lifecycle import lock
from sitebox.model.siteconfig import Site
from sitebox.render.findings import ERROR

Say = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    release: str
    revision: int
    changed: bool
    recovered: str | None = None  # what an interrupted earlier run had left, and what was done


def _check(result: renderer.SiteRender, skip_unavailable: bool) -> None:
    if result.missing and not skip_unavailable:
        names = ", ".join(f"{c.name} ({c.chart.name} {c.chart.version})" for c in result.missing)
        raise SiteboxError(
            f"charts not on this machine: {names}; nothing was changed on the cluster",
            hint="pull them (`sitebox charts pull`), install from a bundle (--bundle), or pass "
            "--skip-unavailable to install the components whose charts are here",
        )
    errors = [f for f in result.findings if f.severity == ERROR]
    if errors:
        raise SiteboxError(
            f"{len(errors)} check(s) failed on the rendered manifests; nothing was changed:\n"
            + "\n".join(str(f) for f in errors[:10]),
            hint="`sitebox render` shows them all; fix the values or waive with a reason",
        )


def _system_namespace(kube: Kube) -> None:
    # The CVMFS CSI node plugin is privileged: its namespace must allow it.
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": SYSTEM_NAMESPACE,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "app.kubernetes.io/part-of": "sitebox",
                },
            },
        }
    )


def _watch(
    kube: Kube,
    namespaces: list[str],
    say: Say,
    stop: threading.Event,
    stuck_seen: list[dict[str, Any]],
) -> None:
    """Live progress while Helm waits: pods ready / total, and what holds the rest.
    The last pods seen waiting are kept: a failed first install is rolled back by
    deleting everything, so afterwards there would be nothing left to explain."""
    while not stop.wait(1.0):
        try:
            pods = [p for ns in namespaces for p in kube.pod_health(ns)]
        except SiteboxError:
            continue
        waiting = [p for p in pods if not p["ready"]]
        if waiting:
            stuck_seen[:] = waiting
        ready = sum(1 for p in pods if p["ready"])
        stuck = next((p for p in pods if not p["ready"] and p["reason"]), None)
        detail = f"; waiting for {stuck['name']}: {stuck['reason']}" if stuck else ""
        say(f"pods ready {ready}/{len(pods)}{detail}")


def _explain(
    release: renderer.ReleaseRender, exc: HelmError, stuck: list[dict[str, Any]]
) -> SiteboxError:
    """Turn Helm's timeout into which component, which pod, and the scheduler's reason."""
    lines = [f"  {p['chart'] or '?'}: pod {p['name']}: {p['reason']}" for p in stuck[:8]]
    detail = "\n".join(lines) if lines else f"  {exc.message}"
    return SiteboxError(
        f"release {release.name} did not become ready and was rolled back:\n{detail}",
        hint="fix what the pods wait for (capacity, a missing volume, an image), then run again",
    )


def _unchanged(helm: Helm, release: renderer.ReleaseRender) -> int | None:
    """The current revision if the installed release has the same chart and values."""
    revision = helm.find(release.name, release.namespace)
    if revision is None or revision.status != "deployed":
        return None
    meta = yaml.safe_load(release.composed.path.joinpath("Chart.yaml").read_text())
    if revision.chart != f"{meta['name']}-{meta['version']}":
        return None
    same = helm.values(release.name, release.namespace) == release.values
    return revision.revision if same else None


HELM_OWNER = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace")


def _claimed(kube: Kube, release: renderer.ReleaseRender) -> list[str]:
    """Objects a first install of the release would create that exist already and belong
    to something else (another Helm release, or nothing Helm knows): Helm would refuse
    them halfway through; this says which, before anything is applied."""
    found = []
    for obj in release.manifests:
        if obj["kind"] == "CustomResourceDefinition":
            continue  # applied by sitebox itself, server-side, whoever made them
        namespace = None
        if kube.namespaced(obj["apiVersion"], obj["kind"]):
            namespace = obj["metadata"].get("namespace") or release.namespace
        live = kube.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], namespace)
        if live is None:
            continue
        annotations = live["metadata"].get("annotations") or {}
        owner = tuple(annotations.get(key) for key in HELM_OWNER)
        if owner != (release.name, release.namespace):
            where = f"{namespace}/" if namespace else ""
            by = f"Helm release {owner[0]} ({owner[1]})" if owner[0] else "no Helm release"
            found.append(f"{obj['kind']} {where}{obj['metadata']['name']} exists, made by {by}")
    return found


def _refuse_foreign(kube: Kube, helm: Helm, result: renderer.SiteRender) -> None:
    """Stop before anything is applied at what stands in the way of a first install:
    releases of our names that sitebox never installed (it stores the site's secrets
    before any release, so a cluster without them has had no sitebox install), and
    objects other releases already own."""
    never_ours = kube.read_secret(SYSTEM_NAMESPACE, secret_store.ClusterStore.NAME) is None
    found = []
    for release in result.releases:
        if helm.find(release.name, release.namespace) is None:
            found += _claimed(kube, release)
        elif never_ours:
            found.append(
                f"release {release.name} in namespace {release.namespace} was installed "
                "without sitebox (plain helm, say)"
            )
    if found:
        raise SiteboxError(
            "this cluster holds what the site would take over; nothing was applied:\n"
            + "\n".join(f"  {line}" for line in found[:10]),
            hint="remove what another release owns (`helm uninstall NAME -n NAMESPACE`) or "
            "install the site on another cluster; a release made without sitebox can also be "
            "removed with `helm uninstall sitebox -n sitebox`, keeping its volumes",
        )


def unchanged(helm: Helm, result: renderer.SiteRender) -> list[Outcome] | None:
    """The outcomes of a run with nothing to do, if every release is installed, deployed,
    with the rendered chart and values; None if anything would change."""
    outcomes = []
    for release in result.releases:
        revision = _unchanged(helm, release)
        if revision is None:
            return None
        outcomes.append(Outcome(release.name, revision, changed=False))
    return outcomes


@contextmanager
def prepared(
    site: Site, kube: Kube, skip_unavailable: bool, bundle_charts: Path | None = None
) -> Iterator[renderer.SiteRender]:
    """The site composed, rendered and checked, with the stored secrets (and any new
    ones, not yet stored); nothing on the cluster changes here."""
    store = secret_store.ClusterStore(kube, SYSTEM_NAMESPACE)
    given = secret_store.supplied(site.config)
    secrets = secret_store.ensure(store, site.enabled(), persist=False, given=given)
    with tempfile.TemporaryDirectory(prefix="sitebox-") as tmp:
        result = renderer.render(site, secrets, Path(tmp), bundle_charts)
        _check(result, skip_unavailable)
        yield result


def apply(
    result: renderer.SiteRender, kube: Kube, helm: Helm, say: Say, timeout: str = "10m"
) -> list[Outcome]:
    """Install or upgrade both releases of a prepared render, system first, holding the
    cluster's operation lease throughout."""
    _refuse_foreign(kube, helm, result)
    _system_namespace(kube)
    with lock.held(kube, f"install/upgrade of site {result.site.name}"):
        return _apply(result, kube, helm, say, timeout)


def _apply(
    result: renderer.SiteRender, kube: Kube, helm: Helm, say: Say, timeout: str
) -> list[Outcome]:
    say("storing secrets")
    # Stored before any release uses them: an interrupted install reuses, never regenerates.
    secret_store.persist(secret_store.ClusterStore(kube, SYSTEM_NAMESPACE), result.secrets)
    crds = [
        o for r in result.releases for o in r.manifests if o["kind"] == "CustomResourceDefinition"
    ]
    if crds:
        say(f"applying {len(crds)} CRDs (server-side)")
        kube.apply_crds(crds)
    outcomes = []
    for release in result.releases:
        recovered = helm.recover(release.name, release.namespace, timeout)
        if recovered:
            say(f"{release.name}: {recovered}")
        unchanged = _unchanged(helm, release)
        if unchanged is not None:
            outcomes.append(Outcome(release.name, unchanged, changed=False, recovered=recovered))
            continue
        say(f"installing {release.name}")
        stop = threading.Event()
        stuck: list[dict[str, Any]] = []
        namespaces = list(dict.fromkeys([release.namespace, BATCH_NAMESPACE]))
        watcher = threading.Thread(
            target=_watch, args=(kube, namespaces, say, stop, stuck), daemon=True
        )
        watcher.start()
        try:
            revision = helm.install_or_upgrade(
                release.name, release.composed.path, release.values, release.namespace,
                timeout=timeout, skip_crds=True,
            )  # fmt: skip
        except HelmError as exc:
            stop.set()
            watcher.join(timeout=5)
            raise _explain(release, exc, stuck) from None
        finally:
            stop.set()
            watcher.join(timeout=5)
        outcomes.append(Outcome(release.name, revision.revision, True, recovered))
    return outcomes
