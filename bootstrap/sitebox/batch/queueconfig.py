"""``sitebox batch queue-config``: the installed queue described for a workload manager,
with the scoped kubeconfig it connects with, written as files to hand over.

The description names the kubeconfig by path and holds no secret itself; the kubeconfig
(a token) is written 0600 beside it, or an existing one is named instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sitebox.batch import access, generic, harvester
from sitebox.batch.queue import Queue
from sitebox.batch.queue import read as read_queue
from sitebox.components.names import SITE_NAMESPACE
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, KubeError
from sitebox.lifecycle.status import SITE_INFO
from sitebox.model.siteconfig import Site
from sitebox.model.where import site_key
from sitebox.registration import settings

HARVESTER = "harvester"
GENERIC = "generic"
FORMS = (HARVESTER, GENERIC)
# What Harvester's Kubernetes plugins write in the namespace besides Jobs, that can be
# asked of the API server without naming the object (see harvester.py). The proxy
# Secret's patch right is granted by name, with the Secret (queue.harvester).
HARVESTER_WRITES = (("configmaps", "its pilots-starter ConfigMap, which every worker mounts"),)


@dataclass(frozen=True)
class Submitter:
    """The scoped kubeconfig the workload manager connects with."""

    path: Path
    written: bool  # made by this run (else given with --submitter-kubeconfig)


@dataclass(frozen=True)
class Written:
    config: Path
    job: Path | None  # Harvester's Job YAML
    submitter: Submitter
    endpoint: str  # the API server the workload manager reaches, from its kubeconfig


def submitter(
    kube: Kube, queue: Queue, given: Path | None, folder: Path, seconds: int, cluster: str
) -> Submitter:
    """The kubeconfig given (checked to be one for the queue's namespace), else a new one
    for the queue's submitter account in ``folder``."""
    if given is not None:
        scoped = Kube(given)
        namespace = scoped.current_namespace()
        if namespace != queue.namespace:
            raise SiteboxError(
                f"--submitter-kubeconfig {given} works in namespace {namespace!r}, the queue "
                f"is in {queue.namespace!r}",
                hint=f"give the kubeconfig `sitebox batch kubeconfig -n {queue.namespace}` "
                "wrote, or leave the option out to have one written",
            )
        return Submitter(given, written=False)
    account = access.find_submitter(kube, queue.namespace, queue.release or None)
    path = folder / f"{queue.namespace}{access.SUBMITTER_SUFFIX}.kubeconfig"
    access.write_kubeconfig(kube, queue.namespace, account, seconds, path, cluster)
    return Submitter(path, written=True)


def missing_rights(path: Path, namespace: str) -> list[str]:
    """What Harvester's plugins write that the submitter may not, asked of the API server
    as the submitter: a Role without them leaves Harvester's pods unable to start."""
    scoped = Kube(path)
    return [
        f"create {resource} ({why})"
        for resource, why in HARVESTER_WRITES
        if not scoped.can_i("create", "", resource, namespace)
    ]


def _at(files_at: str | None, path: Path) -> str:
    """A file's path as the workload manager's host will see it."""
    return f"{files_at.rstrip('/')}/{path.name}" if files_at else str(path.absolute())


def _dump(path: Path, data: Any) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2) + "\n")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))


def write(
    queue: Queue, form: str, output: Path, queue_name: str, site: str | None,
    scoped: Submitter, files_at: str | None,
) -> Written:  # fmt: skip
    """Write the description (and Harvester's Job YAML beside it)."""
    endpoint = Kube(scoped.path).endpoint()[0]
    kubeconfig = _at(files_at, scoped.path)
    output.parent.mkdir(parents=True, exist_ok=True)
    if form == HARVESTER:
        job_path = output.with_name(f"{output.stem}.job.yaml")
        job_path.write_text(yaml.safe_dump(harvester.job(queue), sort_keys=False))
        paths = harvester.Paths(kubeconfig=kubeconfig, job_yaml=_at(files_at, job_path))
        # Harvester reads panda_queueconfig.json: JSON whatever the file is called.
        output.write_text(json.dumps(harvester.entry(queue, queue_name, paths), indent=2) + "\n")
        return Written(output, job_path, scoped, endpoint)
    _dump(output, generic.document(queue, queue_name, site, endpoint, kubeconfig))
    return Written(output, None, scoped, endpoint)


def check_site(site: Site) -> None:
    """A site that has no Kubernetes queue says so at the key that decides it."""
    spec = site.components.get("batch", {})
    if not spec.get("enabled"):
        raise SiteboxError(
            f"site {site.name!r} has no batch queue: its batch component is off",
            hint="turn it on in queue mode (`components: {batch: {enabled: true, mode: "
            "queue}}`) and install or upgrade the site",
            location=site_key(site, ("components", "batch", "enabled")),
        )
    mode = spec.get("mode", "queue")
    if mode != "queue":
        raise SiteboxError(
            f"site {site.name!r} runs its batch component in {mode!r} mode: its jobs go "
            "through its HTCondor pool, and there is no Kubernetes queue to describe",
            hint="set `components: {batch: {mode: queue}}` for a queue workload managers "
            "submit Jobs to, or hand them the pool (docs/grid.md)",
            location=site_key(site, ("components", "batch", "mode")),
        )


def site_name(kube: Kube) -> str | None:
    """The name the installed site publishes (site-base's site-info ConfigMap), if any."""
    try:
        info = kube.get("v1", "ConfigMap", SITE_INFO, SITE_NAMESPACE)
    except KubeError:
        return None  # an account that may not read the site namespace: no name, no harm
    return (info or {}).get("data", {}).get("site") or None


@dataclass(frozen=True)
class Request:
    """What `sitebox batch queue-config` was asked for."""

    form: str
    output: Path
    namespace: str
    release: str | None
    queue_name: str | None  # default: the site's registration.queueName, else its name
    site: Site | None  # from -f: checked, and it names the queue
    given: Path | None  # --submitter-kubeconfig
    seconds: int  # lifetime of a token written here
    files_at: str | None
    cluster: str  # the cluster's name in a kubeconfig written here


def run(connect: Callable[[], Kube], request: Request) -> tuple[Queue, Written, list[str]]:
    """Describe the queue; also what the submitter may not do that Harvester does.
    A site file is checked before the cluster is reached: its error is the clearer one."""
    if request.site is not None:
        check_site(request.site)
    kube = connect()
    queue = read_queue(kube, request.namespace, request.release)
    site = request.site.name if request.site else site_name(kube)
    name = request.queue_name or (
        settings.of(request.site).queue_name if request.site else (site or queue.release)
    )
    folder = request.output.parent
    scoped = submitter(kube, queue, request.given, folder, request.seconds, request.cluster)
    written = write(queue, request.form, request.output, name, site, scoped, request.files_at)
    lacking = missing_rights(scoped.path, queue.namespace) if request.form == HARVESTER else []
    return queue, written, lacking
