"""The queue a workload manager submits to, as it is installed: read from the cluster.

The batch chart in queue mode leaves in the batch namespace what describes the queue:
the job template ConfigMap (the example Job: per-job CPU and memory, image, wall-time
limit, the CVMFS mount), the ResourceQuota (what the namespace holds at once) and the
CVMFS claim. Reading those, not site.yaml, makes the description the cluster's truth,
raw chart values included.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import yaml

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes
from sitebox.errors import SiteboxError
from sitebox.kube import Kube, Obj

# What the batch chart names and labels (charts/batch/templates/_names.tpl, queue/).
COMPONENT_LABEL = "app.kubernetes.io/component"
INSTANCE_LABEL = "app.kubernetes.io/instance"
TEMPLATE_COMPONENT = "job-template"
TEMPLATE_KEY = "job.yaml"
TEMPLATE_SUFFIX = "-job-template"
BUDGET_SUFFIX = "-budget"
REPOSITORIES_ANNOTATION = "sitebox.io/cvmfs-repositories"
NOT_QUEUE_HINT = (
    "install a site whose batch component runs in queue mode "
    "(`components: {batch: {enabled: true, mode: queue}}`), or pass the --namespace it runs "
    "in; a site in htcondor mode takes jobs through its HTCondor pool, not a Kubernetes queue"
)


@dataclass(frozen=True)
class Cvmfs:
    claim: str
    mount_path: str
    repositories: list[str]


@dataclass(frozen=True)
class Queue:
    """One installed queue: where it is, the shape of one job, and the namespace's quota."""

    endpoint: str  # the API server URL
    namespace: str
    release: str
    template: str  # the job template ConfigMap's name
    job: Obj = field(repr=False)  # the example Job manifest
    cpu: str
    memory: str
    image: str
    max_seconds: int | None  # activeDeadlineSeconds of the Job
    priority_class: str | None
    scratch: tuple[str, str] | None  # (mount path, size limit)
    cvmfs: Cvmfs | None
    quota: dict[str, str]  # the ResourceQuota's hard limits; empty for none

    def job_manifest(self) -> Obj:
        """A copy of the example Job, to adapt without touching this one."""
        return copy.deepcopy(self.job)

    def max_jobs(self) -> int | None:
        """How many jobs of this size the quota admits at once (None without a quota)."""
        fits = []
        for key, per_job in (
            ("requests.cpu", _cpu(self.cpu)), ("limits.cpu", _cpu(self.cpu)),
            ("requests.memory", memory_bytes(self.memory)),
            ("limits.memory", memory_bytes(self.memory)),
            ("pods", 1), ("count/jobs.batch", 1),
        ):  # fmt: skip
            if key in self.quota and per_job:
                limit = _cpu(self.quota[key]) if key.endswith("cpu") else _count(self.quota[key])
                fits.append(limit // per_job)
        return min(fits) if fits else None


def _cpu(text: str) -> int:
    """Millicores; the API server writes large amounts in its canonical form ("2k")."""
    try:
        return cpu_millis(text)
    except QuantityError:
        return memory_bytes(text) * 1000


def _count(text: str) -> int:
    # Counts and memory share the quantity syntax: the server may write 1000 as "1k".
    return memory_bytes(text)


def _template(kube: Kube, namespace: str, release: str | None) -> Obj:
    selector = f"{COMPONENT_LABEL}={TEMPLATE_COMPONENT}"
    if release:
        selector += f",{INSTANCE_LABEL}={release}"
    found = kube.list_objects("v1", "ConfigMap", namespace, selector)
    of = f" of release {release!r}" if release else ""
    if not found:
        raise SiteboxError(
            f"no batch queue{of} in namespace {namespace!r}: it holds no job template "
            "ConfigMap", hint=NOT_QUEUE_HINT,
        )  # fmt: skip
    if len(found) > 1:
        names = ", ".join(sorted(c["metadata"]["name"] for c in found))
        raise SiteboxError(
            f"{len(found)} batch queues in namespace {namespace!r}: {names}",
            hint="pass --release with the Helm release of the one to describe",
        )
    return found[0]


def _job(config: Obj) -> Obj:
    name = config["metadata"]["name"]
    text = (config.get("data") or {}).get(TEMPLATE_KEY)
    try:
        job: Obj = yaml.safe_load(text) if text else {}
    except yaml.YAMLError:
        job = {}
    pod = job.get("spec", {}).get("template", {}).get("spec", {}) if isinstance(job, dict) else {}
    if not isinstance(pod, dict) or not pod.get("containers"):
        raise SiteboxError(
            f"the job template ConfigMap {name} holds no Job under {TEMPLATE_KEY!r}",
            hint="it was edited by hand: `sitebox install` (or `upgrade`) puts it back",
        )
    return job


def _cvmfs(kube: Kube, namespace: str, pod: Obj) -> Cvmfs | None:
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod.get("volumes") or []
        if v.get("persistentVolumeClaim")
    }
    for mount in pod["containers"][0].get("volumeMounts") or []:
        if mount["name"] in claims:
            claim = claims[mount["name"]]
            pvc = kube.get("v1", "PersistentVolumeClaim", claim, namespace) or {}
            listed = (pvc.get("metadata", {}).get("annotations") or {}).get(
                REPOSITORIES_ANNOTATION, ""
            )
            repositories = [r for r in listed.split(",") if r]
            return Cvmfs(claim, mount["mountPath"], repositories)
    return None


def _scratch(pod: Obj) -> tuple[str, str] | None:
    sizes = {
        v["name"]: str((v["emptyDir"] or {}).get("sizeLimit", ""))
        for v in pod.get("volumes") or []
        if "emptyDir" in v
    }
    for mount in pod["containers"][0].get("volumeMounts") or []:
        if mount["name"] in sizes:
            return mount["mountPath"], sizes[mount["name"]]
    return None


def read(kube: Kube, namespace: str, release: str | None = None) -> Queue:
    """The queue in ``namespace`` (the one there, or ``release``'s)."""
    config = _template(kube, namespace, release)
    job = _job(config)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    requests = (container.get("resources") or {}).get("requests") or {}
    name = config["metadata"]["name"]
    fullname = name.removesuffix(TEMPLATE_SUFFIX)
    budget = kube.get("v1", "ResourceQuota", fullname + BUDGET_SUFFIX, namespace) or {}
    hard = (budget.get("spec") or {}).get("hard") or {}
    deadline = job["spec"].get("activeDeadlineSeconds")
    if not requests.get("cpu") or not requests.get("memory"):
        # A job without a size cannot be described to a workload manager.
        raise SiteboxError(
            f"the job template {namespace}/{name} requests no CPU or no memory",
            hint="it was edited by hand: `sitebox install` (or `upgrade`) puts it back",
        )
    return Queue(
        endpoint=kube.endpoint()[0],
        namespace=namespace,
        release=(config["metadata"].get("labels") or {}).get(INSTANCE_LABEL, ""),
        template=name,
        job=job,
        cpu=str(requests.get("cpu", "")),
        memory=str(requests.get("memory", "")),
        image=str(container.get("image", "")),
        max_seconds=int(deadline) if deadline is not None else None,
        priority_class=pod.get("priorityClassName"),
        scratch=_scratch(pod),
        cvmfs=_cvmfs(kube, namespace, pod),
        quota={k: str(v) for k, v in hard.items()},
    )
