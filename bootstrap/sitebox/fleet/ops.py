"""One site's part of a fleet command, run in a thread with its own Kube and Helm.

Each function is the single-site lifecycle (``sitebox.lifecycle``) called in
process, with progress going to the site's line instead of the terminal; ``render``
alone needs no cluster. The sites that flock are handed the fleet's HTCondor trust
root (``fleet.trust``) with their secrets.
A ``SiteboxError`` here ends this site only; the runner records it.

``validation`` is the exception: the runner calls it one site after another in the
main thread, once the threads are done (see ``runner.run`` for why).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sitebox.backup import archive, collect
from sitebox.backup import restore as restorer
from sitebox.components.names import SITE_NAMESPACE, SYSTEM_NAMESPACE
from sitebox.compose import diff
from sitebox.compose import render as renderer
from sitebox.compose import secrets as secret_store
from sitebox.compose.render import SiteRender
from sitebox.errors import SiteboxError
from sitebox.fleet import trust
from sitebox.fleet.model import FleetSite
from sitebox.fleet.report import HEALTHY, NOT_INSTALLED, SiteReport
from sitebox.helm import Helm
from sitebox.kube import Kube
from sitebox.lifecycle import drift
from sitebox.lifecycle import install as installer
from sitebox.lifecycle import status as site_status
from sitebox.lifecycle.commands import check_upgrade_path, connect, preflight
from sitebox.render.findings import ERROR, WARNING
from sitebox.validate import runner as suite
from sitebox.validate.commands import summary

Say = Callable[[str], None]
FEDERATION = "sitebox-federation"
# Said before an upgrade hands a flocking site another key than it runs with, so that
# a key made by a machine without the fleet's store is not handed out unnoticed.
TRUST_MOVED = (
    "the site runs with another HTCondor signing key than the fleet's store holds: an "
    "install or upgrade hands it the store's (after `fleet rotate-trust`, as intended; "
    "otherwise this machine lacks the fleet's store, see docs/fleet.md)"
)


@dataclass(frozen=True)
class Options:
    skip_unavailable: bool = False
    timeout: str = "10m"
    bundle: Path | None = None  # an extracted bundle's charts; the sites only read them
    archives: Path | None = None  # backup and restore: the folder of the sites' archives
    passphrase: str = field(default="", repr=False)
    output: Path | None = None  # render: the folder of the sites' folders
    # The fleet's HTCondor trust root (fleet.trust.root), handed to the sites that flock.
    trust: Mapping[str, str] = field(default_factory=dict, repr=False)


Operation = Callable[[FleetSite, Options, Say], SiteReport]
Step = Callable[[FleetSite, SiteReport, Say], None]


def _connect(member: FleetSite, say: Say) -> tuple[Kube, Helm]:
    say("connecting")
    return connect(member.kubeconfig, member.context)


def _left_out(result: SiteRender, report: SiteReport) -> None:
    report.notes += [
        f"left out: {c.name} ({c.chart.name} {c.chart.version} is not on this machine)"
        for c in result.missing
    ]


def _record_state(report: SiteReport, kube: Kube, helm: Helm) -> bool:
    """Revision, distribution and health as the site reports them; False if not installed."""
    info = site_status.collect(kube, helm)
    site = next(r for r in info["releases"] if r["release"] == "sitebox")
    report.revision = site.get("revision")
    report.distribution = info["distribution"]
    if not site["installed"]:
        report.health = NOT_INSTALLED
        return False
    waiting = [f"{n}: {h['waiting']}" for n, h in info["components"].items() if h.get("waiting")]
    report.health = (
        HEALTHY if info["healthy"] else "unhealthy" + (f" ({waiting[0]})" if waiting else "")
    )
    return True


def render(member: FleetSite, options: Options, say: Say) -> SiteReport:
    """The site's manifests through `helm template`, without its cluster, into
    ``<output>/<site>/``: as `sitebox render`, its secrets from the site's local store."""
    report = SiteReport(member.name)
    if options.output is None:
        raise SiteboxError("no folder to render into given", hint="pass --output-dir DIR")
    say("rendering")
    site = member.site
    given = {**secret_store.supplied(site.config), **trust.lent(site, options.trust)}
    secrets = secret_store.ensure(secret_store.local_store(site.name), site.enabled(), given=given)
    with tempfile.TemporaryDirectory(prefix="sitebox-") as tmp:
        result = renderer.render(site, secrets, Path(tmp), options.bundle)
    _left_out(result, report)
    report.notes += [secrets.redact(str(f)) for f in result.findings if f.severity == WARNING]
    errors = [secrets.redact(str(f)) for f in result.findings if f.severity == ERROR]
    if errors:
        raise SiteboxError(
            f"{len(errors)} check(s) failed on the rendered manifests; nothing written:\n"
            + "\n".join(errors[:10]),
            hint="fix the values in the fleet file, or waive the policy with a reason",
        )
    files = renderer.write(result, options.output / site.name)
    report.notes.append("wrote " + ", ".join(str(f) for f in files))
    return report


def plan(member: FleetSite, options: Options, say: Say) -> SiteReport:
    """What install would change on the site; reads only."""
    report = SiteReport(member.name)
    kube, helm = _connect(member, say)
    say("rendering")
    with installer.prepared(
        member.site, kube, skip_unavailable=True, bundle_charts=options.bundle,
        lent=trust.lent(member.site, options.trust),
    ) as result:  # fmt: skip
        _left_out(result, report)
        for release in result.releases:
            say(f"comparing {release.name}")
            installed = helm.manifest(release.name, release.namespace)
            found = diff.changes(installed or [], release.manifests, release.namespace)
            state = "installed" if installed is not None else "not installed"
            counted = diff.summary(c.action for c in found)
            report.changes[release.name] = [f"{state}: {counted}"]
            report.diffs += [result.secrets.redact(c.diff) for c in found if c.diff]
    held = secret_store.ClusterStore(kube, SYSTEM_NAMESPACE).read()
    if trust.moved(member.site, options.trust, held):
        report.notes.append(TRUST_MOVED)
    return report


def _install(member: FleetSite, options: Options, say: Say, upgrade: bool) -> SiteReport:
    report = SiteReport(member.name, checked_health=True)
    kube, helm = _connect(member, say)
    if upgrade:
        check_upgrade_path(member.site, kube)
    say("composing and rendering")
    with installer.prepared(
        member.site, kube, skip_unavailable=options.skip_unavailable, bundle_charts=options.bundle,
        lent=trust.lent(member.site, options.trust),
    ) as result:  # fmt: skip
        say("preflight")
        preflight(result, kube, warn=report.notes.append, air_gapped=options.bundle is not None)
        _left_out(result, report)
        outcomes = installer.apply(result, kube, helm, say=say, timeout=options.timeout)
    report.notes += [
        f"{o.release}: {'installed/upgraded to' if o.changed else 'unchanged at'} revision "
        f"{o.revision}"
        for o in outcomes
    ]
    _record_state(report, kube, helm)
    return report


def install(member: FleetSite, options: Options, say: Say) -> SiteReport:
    return _install(member, options, say, upgrade=False)


def upgrade(member: FleetSite, options: Options, say: Say) -> SiteReport:
    """As install, but never across distribution versions the target does not upgrade from."""
    return _install(member, options, say, upgrade=True)


def status(member: FleetSite, options: Options, say: Say) -> SiteReport:
    """Health, and drift from what the fleet file renders for the site; reads only."""
    report = SiteReport(member.name, checked_health=True)
    kube, helm = _connect(member, say)
    say("reading status")
    if not _record_state(report, kube, helm):
        return report
    say("checking drift")
    with installer.prepared(
        member.site, kube, skip_unavailable=True, bundle_charts=options.bundle,
        lent=trust.lent(member.site, options.trust),
    ) as result:  # fmt: skip
        _left_out(result, report)
        report.drift = drift.find(result, kube, helm, report.distribution)
    return report


def _archive(member: FleetSite, options: Options) -> Path:
    if options.archives is None:
        raise SiteboxError("no folder of archives given", hint="pass --dir FOLDER")
    return options.archives / f"{member.name}.backup"


def backup(member: FleetSite, options: Options, say: Say) -> SiteReport:
    """The site's archive, `<site>.backup` in the folder (as `sitebox backup` makes it)."""
    report = SiteReport(member.name)
    kube, helm = _connect(member, say)
    say("reading the site")
    text = yaml.safe_dump(member.site.config, sort_keys=False)
    contents, meta = collect.take(kube, helm, member.site, text, options.bundle)
    path = _archive(member, options)
    archive.write(path, contents, meta, options.passphrase)
    counted = meta["counts"]
    report.notes.append(
        f"wrote {path}: {counted['secrets']} secrets (sealed), "
        f"{counted['custom_resources']} custom resources, {counted['claims']} volume claims"
    )
    return report


def restore(member: FleetSite, options: Options, say: Say) -> SiteReport:
    """The site from its archive onto its cluster, composed by the fleet file (so its
    federation is the fleet's); claims are made again, empty."""
    report = SiteReport(member.name, checked_health=True)
    kube, helm = _connect(member, say)
    outcomes = restorer.restore(
        _archive(member, options), options.passphrase, kube, helm, say, options.timeout,
        site=member.site,
    )  # fmt: skip
    report.notes += [f"{o.release}: restored at revision {o.revision}" for o in outcomes]
    _record_state(report, kube, helm)
    return report


def _federation_problem(member: FleetSite, kube: Kube) -> str | None:
    """The one check a single site cannot make: it knows the peers the fleet file names."""
    config = kube.get("v1", "ConfigMap", FEDERATION, SITE_NAMESPACE)
    if config is None:
        return f"no {FEDERATION} ConfigMap: the site was not installed as part of this fleet"
    listed = sorted(p["name"] for p in json.loads(config.get("data", {}).get("peers", "[]")))
    expected = sorted(p["name"] for p in (member.site.federation or {}).get("peers", []))
    return None if listed == expected else f"peers listed {listed}, the fleet has {expected}"


def state(member: FleetSite, options: Options, say: Say) -> SiteReport:
    """Revision, distribution and health: what `fleet validate` reads before its suite."""
    report = SiteReport(member.name, checked_health=True)
    kube, helm = _connect(member, say)
    say("reading status")
    _record_state(report, kube, helm)
    return report


def validation(member: FleetSite, report: SiteReport, say: Say) -> None:
    """The `sitebox validate` suite on an installed site, and its federation ConfigMap's
    peers; what fails becomes the site's error."""
    if report.health in ("-", NOT_INSTALLED):
        return  # nothing to validate: the state was not read, or the site is not there
    say("validating")
    report.checks = suite.run_site(member.kubeconfig, member.context)
    say(f"validation: {summary(report.checks)}")
    problems = [f"{c.name}: {c.detail.splitlines()[0] if c.detail else 'failed'}"
                for c in report.checks if c.status == suite.FAILED]  # fmt: skip
    federated = _federation_problem(member, Kube(member.kubeconfig, member.context))
    problems += [f"federation: {federated}"] if federated else []
    if problems:
        report.error = "validation failed: " + "; ".join(problems)
        report.hint = "fix what each failed check names; `sitebox fleet validate` checks again"
