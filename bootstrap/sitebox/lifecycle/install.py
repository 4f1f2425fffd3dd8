"""Install or upgrade a site: both releases, in order, safe to run again.

Order: compose and check everything first (nothing touches the cluster until
the render is complete and clean), then the secrets store, the CRDs by
server-side apply, `sitebox-system`, and `sitebox`. Each release is a
`helm upgrade --install` that waits and rolls back a failed attempt, so an
interrupted run leaves either the old or the new revision, and the next run
converges. A release whose chart and values are unchanged is not upgraded; what drifted
on the cluster from what Helm applied (edited, scaled or deleted by hand) is applied
again (lifecycle.repair).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sitebox.backup import schedule
from sitebox.components.names import (
    BATCH_NAMESPACE,
    PART_OF_LABEL,
    POD_SECURITY_LABEL,
    SYSTEM_NAMESPACE,
)
from sitebox.compose import render as renderer
from sitebox.compose import secrets as secret_store
from sitebox.errors import SiteboxError
from sitebox.helm import STUCK, Helm, HelmError, Installed, NotReady
from sitebox.kube import Kube, wait_for
from sitebox.lifecycle import history, lock, repair
from sitebox.lifecycle.repair import HELM_OWNER
from sitebox.model.siteconfig import POD_SECURITY_LEVELS, Site
from sitebox.render.findings import ERROR

Say = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    release: str
    revision: int
    changed: bool
    recovered: str | None = None  # what an interrupted earlier run had left, and what was done
    remade: tuple[str, ...] = ()  # StatefulSets made again for new volume claims
    repaired: tuple[str, ...] = ()  # objects applied again because they had drifted


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


def _namespaces(kube: Kube, result: renderer.SiteRender) -> None:
    """Both releases' namespaces, labelled with the level they enforce, before Helm
    creates anything in them; restricted is warned and audited everywhere, so what runs
    below it shows in the API server's audit log and in kubectl's warnings."""
    for release in result.releases:
        level = result.site.pod_security(release.release)
        labels = {PART_OF_LABEL: "sitebox"}
        strictest = POD_SECURITY_LEVELS[0]
        for mode, value in (("enforce", level), ("warn", strictest), ("audit", strictest)):
            labels[f"{POD_SECURITY_LABEL}{mode}"] = value
            labels[f"{POD_SECURITY_LABEL}{mode}-version"] = "latest"
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": release.namespace, "labels": labels},
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
            claims = [
                c for ns in namespaces for c in kube.list_objects("v1", "PersistentVolumeClaim", ns)
            ]
        except SiteboxError:
            continue
        waiting = [p for p in pods if not p["ready"]]
        if waiting:
            stuck_seen[:] = waiting
        ready = sum(1 for p in pods if p["ready"])
        pending = [
            c["metadata"]["name"] for c in claims if (c.get("status") or {}).get("phase") != "Bound"
        ]
        stuck = next((p for p in pods if not p["ready"] and p["reason"]), None)
        detail = f"; waiting for {stuck['name']}: {stuck['reason']}" if stuck else ""
        if pending:
            detail += f"; claims not bound: {', '.join(pending[:3])}"
        say(f"pods ready {ready}/{len(pods)}{detail}")


# What to do about each kind of object Helm's wait can give up on.
WAIT_FIXES = {
    "Service": "a LoadBalancer Service waits for an address: set `ingress: {type: none}`, "
    "gateway or ingress in site.yaml, or install a load-balancer implementation (MetalLB)",
    "PersistentVolumeClaim": "a claim waits for a volume: check its class exists and can "
    "provision (or has a free volume of that size), or lower the size in site.yaml",
}
POD_FIX = "fix what the pods wait for (capacity, a missing volume, an image), then run again"


def _why(kube: Kube, item: NotReady) -> str:
    """The newest event of an object Helm waited for: what the binder, the scheduler or
    the controller said about it."""
    try:
        message = kube.newest_event(item.namespace, item.name) if item.namespace else None
    except SiteboxError:
        return ""
    return f" ({message})" if message else ""


def _explain(
    kube: Kube, release: renderer.ReleaseRender, exc: HelmError, stuck: list[dict[str, Any]]
) -> SiteboxError:
    """Say what Helm waited for, from its own wait status: each object, its state and the
    fix; for workloads, the pods seen waiting and the scheduler's reason."""
    lines = [
        f"  {item.kind} {item.namespace}/{item.name}: {item.status}, {item.message}"
        f"{_why(kube, item)}"
        for item in exc.not_ready[:8]
    ]
    lines += [f"  {p['chart'] or '?'}: pod {p['name']}: {p['reason']}" for p in stuck[:8]]
    fixes = [WAIT_FIXES[k] for k in dict.fromkeys(i.kind for i in exc.not_ready) if k in WAIT_FIXES]
    if stuck or not fixes:
        fixes.append(POD_FIX)
    detail = "\n".join(lines) if lines else f"  {exc.message}"
    return SiteboxError(
        f"release {release.name} did not become ready and was rolled back; Helm waited "
        f"for:\n{detail}",
        hint="; ".join(fixes),
    )


States = dict[str, Installed | None]


def states(helm: Helm, result: renderer.SiteRender) -> States:
    """How each release of the render stands on the cluster now, by release name."""
    return helm.read((release.name, release.namespace) for release in result.releases)


def _unchanged(release: renderer.ReleaseRender, state: Installed | None) -> int | None:
    """The current revision if the installed release has the same chart and values."""
    if state is None or state.revision.status != "deployed":
        return None
    meta = yaml.safe_load(release.composed.path.joinpath("Chart.yaml").read_text())
    if state.revision.chart != f"{meta['name']}-{meta['version']}":
        return None
    return state.revision.revision if state.values == release.values else None


CRD = "CustomResourceDefinition"


def _claimed(kube: Kube, release: renderer.ReleaseRender) -> list[str]:
    """Objects a first install of the release would create that exist already and belong
    to something else (another Helm release, or nothing Helm knows): Helm would refuse
    them halfway through; this says which, before anything is applied."""
    # CRDs are applied by sitebox itself, server-side, whoever made them; a resource of a
    # kind the cluster does not serve yet (its CRD comes with this install) cannot exist.
    rendered = [
        o for o in release.manifests if o["kind"] != CRD and kube.serves(o["apiVersion"], o["kind"])
    ]
    refs = [kube.ref(o, release.namespace) for o in rendered]
    found = []
    for obj, (_, kind, name, namespace), live in zip(
        rendered, refs, kube.get_many(refs), strict=True
    ):
        if live is None or _left_by_our_hook(obj, live, release):
            continue
        annotations = live["metadata"].get("annotations") or {}
        owner = tuple(annotations.get(key) for key in HELM_OWNER)
        if owner != (release.name, release.namespace):
            where = f"{namespace}/" if namespace else ""
            by = f"Helm release {owner[0]} ({owner[1]})" if owner[0] else "no Helm release"
            found.append(f"{kind} {where}{name} exists, made by {by}")
    return found


def _left_by_our_hook(
    rendered: dict[str, Any], live: dict[str, Any], release: renderer.ReleaseRender
) -> bool:
    """A hook of our release that an earlier, failed run left (one its chart keeps, such as
    SeaweedFS's pre-install Secret): Helm owns no hook, so it carries no release
    annotations, but the chart labels it with our release. Helm replaces it when the hook
    runs again (its default deletion policy), so a retry may go on."""
    hook = (rendered["metadata"].get("annotations") or {}).get("helm.sh/hook")
    labels = live["metadata"].get("labels") or {}
    return bool(hook) and labels.get("app.kubernetes.io/instance") == release.name


def _claim_templates(statefulset: dict[str, Any]) -> dict[str, Any]:
    """A StatefulSet's volume claim templates as the API server compares them: by name,
    the size, class and access modes of each."""
    found = {}
    for template in (statefulset.get("spec") or {}).get("volumeClaimTemplates") or []:
        spec = template.get("spec") or {}
        found[template["metadata"]["name"]] = (
            str(((spec.get("resources") or {}).get("requests") or {}).get("storage")),
            spec.get("storageClassName"),
            sorted(spec.get("accessModes") or []),
        )
    return found


def _reshaped_statefulsets(kube: Kube, release: renderer.ReleaseRender) -> list[str]:
    """StatefulSets of the release whose volume claim templates the new revision changes.
    The API server refuses that change, and a pod cannot change its volumes either: each
    is deleted first with its pods, its claims kept (a StatefulSet never owns them unless
    told to); the upgrade makes it again, and its new pods take the existing claims and
    the new ones. An upstream chart moving its data from a node's folder to a claim
    (SeaweedFS's master and filer, in 2026.12) needs this."""
    changed = []
    for obj in release.manifests:
        if obj.get("kind") != "StatefulSet":
            continue
        meta = obj["metadata"]
        namespace = meta.get("namespace") or release.namespace
        live = kube.get("apps/v1", "StatefulSet", meta["name"], namespace)
        annotations = (live or {}).get("metadata", {}).get("annotations") or {}
        if live is None or annotations.get(HELM_OWNER[0]) != release.name:
            continue
        if _claim_templates(live) != _claim_templates(obj):
            name = meta["name"]
            kube.delete("apps/v1", "StatefulSet", name, namespace, foreground=True)
            # Gone, pods too, before Helm applies it again: one being deleted cannot be.
            wait_for(
                f"StatefulSet {namespace}/{name} to go",
                lambda: kube.get("apps/v1", "StatefulSet", name, namespace) is None,  # noqa: B023
                120,
            )
            changed.append(f"{namespace}/{name}")
    return changed


def _refuse_foreign(kube: Kube, result: renderer.SiteRender, found_now: States) -> None:
    """Stop before anything is applied at what stands in the way of a first install:
    releases of our names that sitebox never installed (it stores the site's secrets
    before any release, so a cluster without them has had no sitebox install), and
    objects other releases already own."""
    never_ours = kube.read_secret(SYSTEM_NAMESPACE, secret_store.ClusterStore.NAME) is None
    found = []
    for release in result.releases:
        if found_now[release.name] is None:
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


def drifted(kube: Kube, result: renderer.SiteRender, found_now: States) -> bool:
    """Whether an object of an installed release differs on the cluster from what Helm
    applied (its record, not a render: it holds what the charts' lookups found)."""
    return any(
        repair.find_live(kube, state.objects, release.namespace)
        for release in result.releases
        if (state := found_now[release.name]) is not None
    )


def unchanged(result: renderer.SiteRender, found_now: States) -> list[Outcome] | None:
    """The outcomes of a run with nothing to do, if every release is installed, deployed,
    with the rendered chart and values; None if anything would change."""
    outcomes = []
    for release in result.releases:
        revision = _unchanged(release, found_now[release.name])
        if revision is None:
            return None
        outcomes.append(Outcome(release.name, revision, changed=False))
    return outcomes


@contextmanager
def prepared(
    site: Site,
    kube: Kube,
    skip_unavailable: bool,
    bundle_charts: Path | None = None,
    store: secret_store.Store | None = None,
    lent: Mapping[str, str] | None = None,
) -> Iterator[renderer.SiteRender]:
    """The site composed, rendered and checked, with the stored secrets (and any new
    ones, not yet stored); nothing on the cluster changes here. ``store``: where the
    secrets come from, if not the cluster's store (a restore brings its own); ``lent``:
    supplied secrets from elsewhere than the admin (a fleet's trust root)."""
    store = store or secret_store.ClusterStore(kube, SYSTEM_NAMESPACE)
    given = {**secret_store.supplied(site.config), **(lent or {})}
    secrets = secret_store.ensure(store, site.enabled(), persist=False, given=given)
    with tempfile.TemporaryDirectory(prefix="sitebox-") as tmp:
        result = renderer.render(site, secrets, Path(tmp), bundle_charts)
        _check(result, skip_unavailable)
        yield result


def admit(kube: Kube, result: renderer.SiteRender, found_now: States) -> None:
    """What must hold before anything of the site is applied: nothing foreign in the
    way; then the namespaces, labelled with their Pod Security levels."""
    _refuse_foreign(kube, result, found_now)
    _namespaces(kube, result)


def apply(
    result: renderer.SiteRender,
    kube: Kube,
    helm: Helm,
    say: Say,
    timeout: str = "10m",
    found_now: States | None = None,
    operation: str = "install/upgrade",
) -> list[Outcome]:
    """Install or upgrade both releases of a prepared render, system first, holding the
    cluster's operation lease throughout. ``found_now``: the releases' states if the
    caller has just read them; ``operation``: what the site's history records."""
    plan = schedule.prepare(kube, result.site, result.secrets)  # may refuse: before any change
    admit(kube, result, states(helm, result) if found_now is None else found_now)
    with lock.held(kube, f"{operation} of site {result.site.name}"):
        return apply_held(result, kube, helm, say, timeout, operation, plan)


def apply_held(
    result: renderer.SiteRender,
    kube: Kube,
    helm: Helm,
    say: Say,
    timeout: str,
    operation: str,
    plan: schedule.Plan | None,
) -> list[Outcome]:
    """``apply``'s work, for a caller that holds the lease; the pair of revisions it
    leaves is recorded as the site's revision, and the scheduled backups (``plan``,
    from ``schedule.prepare``) are set."""
    outcomes = _apply(result, kube, helm, say, timeout)
    revisions = {o.release: o.revision for o in outcomes}
    history.record(kube, revisions, result.site.distribution.version, operation)
    scheduled = tuple(schedule.apply(kube, result.site, plan))
    if scheduled:
        say(f"scheduled backups: {', '.join(scheduled)}")
    return outcomes


def _apply(
    result: renderer.SiteRender, kube: Kube, helm: Helm, say: Say, timeout: str
) -> list[Outcome]:
    say("storing secrets")
    # Stored before any release uses them: an interrupted install reuses, never regenerates.
    secret_store.persist(secret_store.ClusterStore(kube, SYSTEM_NAMESPACE), result.secrets)
    crds = [o for r in result.releases for o in r.manifests if o["kind"] == CRD]
    if crds:
        say(f"applying {len(crds)} CRDs (server-side)")
        kube.apply_crds(crds)
    outcomes = []
    # Read again under the lease: until it was held, another run may have been at work.
    held = states(helm, result)
    for release in result.releases:
        state, recovered = held[release.name], None
        if state is not None and state.revision.status in STUCK:
            recovered = helm.recover(release.name, release.namespace, timeout)
            if recovered:
                say(f"{release.name}: {recovered}")
            state = helm.read([(release.name, release.namespace)])[release.name]
        unchanged = _unchanged(release, state)
        if unchanged is not None:
            # Helm sees nothing to do, but the objects may have drifted since it applied them.
            found = repair.find_live(kube, state.objects if state else [], release.namespace)
            if found:
                say(f"{release.name}: repairing {len(found)} drifted object(s)")
            repaired = tuple(repair.repair(kube, release.name, release.namespace, found))
            outcomes.append(Outcome(release.name, unchanged, False, recovered, (), repaired))
            continue
        remade = tuple(_reshaped_statefulsets(kube, release)) if state is not None else ()
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
            raise _explain(kube, release, exc, stuck) from None
        finally:
            stop.set()
            watcher.join(timeout=5)
        outcomes.append(Outcome(release.name, revision.revision, True, recovered, remade))
    return outcomes
