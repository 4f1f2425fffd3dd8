"""Site policies every rendered workload must meet, with stated-reason waivers.

Policies (checked on every container and init container of any object that
carries a pod: a Pod's ``spec``, or the pod template found under
``spec.template`` / ``spec.jobTemplate.spec.template``, which covers Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job and CronJob):

``requests-limits``
    ``requests.cpu``, ``requests.memory`` and ``limits.memory`` missing are
    errors. ``limits.cpu`` missing is only a *warning*: memory cannot be taken
    back from a process, so an unbounded container endangers its neighbours,
    whereas a CPU limit merely throttles a container that could be using idle
    cores, and many sites deliberately run without one. Requests are required
    explicitly even though Kubernetes copies them from limits: the plan should
    say what is reserved. Pod-level ``spec.resources`` (Kubernetes >= 1.34)
    counts for every container that does not set the key itself.
``image-tag``
    An image needs a tag other than ``latest``, or a ``@sha256:`` digest. The
    tag is looked for after the last ``/`` only, so ``registry:5000/app`` is
    untagged.
``non-root``
    The container must not run as root: the effective ``runAsUser`` (container
    securityContext, else pod securityContext) must be > 0, or, if no user is
    set, the effective ``runAsNonRoot`` must be true. ``runAsUser: 0`` is a
    violation whatever ``runAsNonRoot`` says.
``probes``
    Long-running containers need a ``readinessProbe`` and a ``livenessProbe``;
    a ``startupProbe`` only delays the other two and does not replace either.
    Long-running means the regular containers of a Deployment, StatefulSet,
    DaemonSet, ReplicaSet, ReplicationController or bare Pod whose
    ``restartPolicy`` is ``Always`` (the default). A Pod with ``Never`` or
    ``OnFailure`` runs to completion (``helm test`` pods are such), as do Jobs
    and CronJobs; init containers (sidecars included) are not checked.

Waivers map a key to the stated reason for the exception. Keys, kinds
case-sensitive as in the manifest::

    POLICY                          the policy everywhere
    POLICY/KIND/NAME                one object
    POLICY/KIND/NAME/CONTAINER      one container of one object

A waived finding is returned with severity ``waived`` and the reason (the most
specific matching key's). A waiver with an empty reason is an error and waives
nothing; a waiver that matches nothing is a warning, so stale ones get removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sitebox.render.findings import ERROR, WARNING, Finding, did_you_mean

POLICIES = ("requests-limits", "image-tag", "non-root", "probes")
LONG_RUNNING_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod"}
)
WAIVER_CHECK = "policy/waivers"


@dataclass(frozen=True)
class _Container:
    kind: str
    namespace: str | None
    name: str
    container: Mapping[str, Any]
    pod_spec: Mapping[str, Any]
    is_init: bool
    long_running: bool

    @property
    def container_name(self) -> str:
        return str(self.container.get("name") or "?")


@dataclass(frozen=True)
class _Violation:
    policy: str
    severity: str
    message: str
    hint: str


def check_policies(
    manifests: Sequence[Mapping[str, Any]], waivers: Mapping[str, str] | None = None
) -> list[Finding]:
    """Every policy violation in ``manifests``, waivers applied, plus problems with the waivers."""
    waivers = waivers or {}
    usable = {key: reason for key, reason in waivers.items() if reason.strip()}
    used: set[str] = set()
    findings: list[Finding] = []
    for ctr in _containers(manifests):
        for violation in _violations(ctr):
            finding = Finding(
                check=f"policy/{violation.policy}",
                severity=violation.severity,
                kind=ctr.kind,
                namespace=ctr.namespace,
                name=ctr.name,
                container=ctr.container_name,
                message=violation.message,
                hint=violation.hint,
            )
            keys = [k for k in _waiver_keys(violation.policy, ctr) if k in usable]
            used.update(keys)
            # Keys are most specific first: that reason is the one that explains this case.
            findings.append(finding.waived(usable[keys[0]]) if keys else finding)
    findings.extend(_waiver_findings(waivers, used))
    return findings


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec an object runs, or None if it runs no pods.

    Controllers are recognised by shape rather than by a list of kinds, so a
    kind added later (or a ReplicationController) is checked too.
    """
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return None
    if obj.get("kind") == "Pod":
        return spec
    return _template_spec(spec)


def containers_of(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The init containers and containers of the pods an object runs (none if it runs
    no pods)."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _template_spec(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key in ("template", "jobTemplate"):
        inner = spec.get(key)
        inner_spec = inner.get("spec") if isinstance(inner, Mapping) else None
        if not isinstance(inner_spec, Mapping):
            continue
        if isinstance(inner_spec.get("containers"), list):
            return inner_spec
        found = _template_spec(inner_spec)  # CronJob: jobTemplate.spec.template.spec
        if found is not None:
            return found
    return None


def _containers(manifests: Sequence[Mapping[str, Any]]) -> Iterator[_Container]:
    for obj in manifests:
        spec = pod_spec(obj)
        if spec is None:
            continue
        kind = str(obj.get("kind"))
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace")
        long_running = kind in LONG_RUNNING_KINDS and (
            kind != "Pod" or spec.get("restartPolicy", "Always") == "Always"
        )
        for field, is_init in (("initContainers", True), ("containers", False)):
            for container in spec.get(field) or []:
                if isinstance(container, Mapping):
                    yield _Container(
                        kind=kind,
                        namespace=str(namespace) if namespace else None,
                        name=str(meta.get("name", "?")),
                        container=container,
                        pod_spec=spec,
                        is_init=is_init,
                        long_running=long_running and not is_init,
                    )


def _violations(ctr: _Container) -> Iterator[_Violation]:
    yield from _requests_limits(ctr)
    yield from _image_tag(ctr)
    yield from _non_root(ctr)
    if ctr.long_running:
        yield from _probes(ctr)


def _requests_limits(ctr: _Container) -> Iterator[_Violation]:
    own = ctr.container.get("resources") or {}
    pod = ctr.pod_spec.get("resources") or {}

    def has(section: str, resource: str) -> bool:
        return any(resource in (res.get(section) or {}) for res in (own, pod))

    required = [("requests", "cpu"), ("requests", "memory"), ("limits", "memory")]
    missing = [f"resources.{s}.{r}" for s, r in required if not has(s, r)]
    if missing:
        yield _Violation(
            "requests-limits",
            ERROR,
            f"sets no {', '.join(missing)}",
            "set resources.requests.cpu, resources.requests.memory and "
            "resources.limits.memory for this container in the chart values",
        )
    if not has("limits", "cpu"):
        yield _Violation(
            "requests-limits",
            WARNING,
            "sets no resources.limits.cpu",
            "set a CPU limit, or waive requests-limits for this container if it "
            "should use idle CPU",
        )


def image_reference(image: str) -> tuple[str | None, str | None]:
    """``(tag, digest)`` of an image reference; either may be None."""
    name, _, digest = image.partition("@")
    # A ':' before the last '/' is a registry port (host:5000/app), not a tag.
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else None
    return tag, digest or None


def _image_tag(ctr: _Container) -> Iterator[_Violation]:
    image = ctr.container.get("image")
    if not isinstance(image, str) or not image.strip():
        yield _Violation(
            "image-tag", ERROR, "sets no image", "set the image (with a version tag) in the values"
        )
        return
    tag, digest = image_reference(image)
    if digest:
        return
    if not tag:
        problem = f"image {image!r} has no tag, so it means whatever 'latest' is at pull time"
    elif tag == "latest":
        problem = f"image {image!r} uses the 'latest' tag, which changes under you"
    else:
        return
    yield _Violation(
        "image-tag",
        ERROR,
        problem,
        "pin a version tag (e.g. 'app:1.2.3') or a digest ('app@sha256:...')",
    )


def _non_root(ctr: _Container) -> Iterator[_Violation]:
    own = ctr.container.get("securityContext") or {}
    pod = ctr.pod_spec.get("securityContext") or {}
    user, user_from = _effective(own, pod, "runAsUser")
    non_root, _ = _effective(own, pod, "runAsNonRoot")
    hint = "set securityContext.runAsNonRoot: true and runAsUser to a non-zero uid (e.g. 1000)"
    if user == 0 and not isinstance(user, bool):
        yield _Violation("non-root", ERROR, f"runs as root: runAsUser is 0 ({user_from})", hint)
        return
    if isinstance(user, int) and not isinstance(user, bool) and user > 0:
        return
    if non_root is not True:
        yield _Violation(
            "non-root",
            ERROR,
            "may run as root: neither runAsNonRoot: true nor a non-zero runAsUser is set "
            "in the container or pod securityContext",
            hint,
        )


def _effective(own: Mapping[str, Any], pod: Mapping[str, Any], key: str) -> tuple[Any, str]:
    # The container's securityContext overrides the pod's field by field.
    if own.get(key) is not None:
        return own[key], "container securityContext"
    return pod.get(key), "pod securityContext"


def _probes(ctr: _Container) -> Iterator[_Violation]:
    missing = [p for p in ("readinessProbe", "livenessProbe") if not ctr.container.get(p)]
    if not missing:
        return
    message = f"long-running container has no {' and no '.join(missing)}"
    if "livenessProbe" in missing and ctr.container.get("startupProbe"):
        message += " (a startupProbe only delays the others; it does not restart a hung process)"
    yield _Violation(
        "probes",
        ERROR,
        message,
        "add the missing probes in the chart values (readiness gates traffic, "
        "liveness restarts a hung process)",
    )


def _waiver_keys(policy: str, ctr: _Container) -> list[str]:
    return [
        f"{policy}/{ctr.kind}/{ctr.name}/{ctr.container_name}",
        f"{policy}/{ctr.kind}/{ctr.name}",
        policy,
    ]


def _waiver_findings(waivers: Mapping[str, str], used: set[str]) -> Iterator[Finding]:
    for key, reason in waivers.items():
        if not reason.strip():
            yield _waiver_finding(
                key,
                ERROR,
                "a waiver needs a stated reason; this one has none and waives nothing",
                "write why the exception is acceptable as the waiver's value",
            )
        elif key not in used:
            yield _waiver_finding(
                key, WARNING, "unused waiver: it matches no finding", _unused_hint(key)
            )


def _unused_hint(key: str) -> str:
    parts = key.split("/")
    if parts[0] not in POLICIES:
        close = did_you_mean(parts[0], POLICIES)
        guess = f"did you mean {close!r}? " if close else ""
        return f"{guess}policies are {', '.join(POLICIES)}"
    if len(parts) not in (1, 3, 4):
        return "keys are POLICY, POLICY/KIND/NAME or POLICY/KIND/NAME/CONTAINER"
    return "remove it if the exception is gone; otherwise check the kind, name and container"


def _waiver_finding(key: str, severity: str, message: str, hint: str) -> Finding:
    return Finding(
        check=WAIVER_CHECK,
        severity=severity,
        kind="waiver",
        namespace=None,
        name=key,
        container=None,
        message=message,
        hint=hint,
    )
