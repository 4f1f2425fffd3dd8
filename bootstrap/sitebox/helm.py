"""The one module that drives Helm, through pyhelm3 and the pinned helm binary.

Values always travel on stdin (pyhelm3 passes ``--values -``), so generated
secrets never touch a file or a command line. Helm's failures become
``HelmError`` with the release named; values are never echoed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyhelm3
import yaml
from pyhelm3 import client as helm_client
from pyhelm3 import command as helm_command
from pyhelm3 import errors as helm_errors
from pyhelm3 import models as helm_models

from sitebox.errors import SiteboxError
from sitebox.tools.store import binary

T = TypeVar("T")
_KLOG = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}")
# States an interrupted operation leaves behind; Helm refuses to touch the release until cleared.
STUCK = frozenset({"pending-install", "pending-upgrade", "pending-rollback", "uninstalling"})
# pyhelm3 logs each failed command with its arguments; sitebox reports failures itself.
logging.getLogger("pyhelm3").addHandler(logging.NullHandler())
logging.getLogger("pyhelm3").propagate = False


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """pyhelm3's loader, on libyaml where PyYAML has it. pyhelm3 parses every manifest of
    every release status it reads with PyYAML's pure-Python loader: that was a third of
    an install's time in Helm calls, and libyaml reads the same documents ten times faster."""


_Loader.add_constructor("tag:yaml.org,2002:value", helm_command.SafeLoader.construct_value)
helm_command.SafeLoader = helm_client.SafeLoader = helm_models.SafeLoader = _Loader


# Charts read so far, by path and Chart.yaml's modification time (see Helm._chart).
_CHARTS: dict[tuple[Path, int], Any] = {}
# Helm's version, by binary (see _Command).
_VERSIONS: dict[str, Any] = {}


class _Command(helm_command.Command):  # type: ignore[misc]
    """pyhelm3's runner of Helm processes, asking the binary its version once per process:
    pyhelm3 asks it whenever a client is made, and a command makes several clients."""

    def client_version(self) -> Any:
        if self._executable not in _VERSIONS:
            _VERSIONS[self._executable] = super().client_version()
        return _VERSIONS[self._executable]


@dataclass(frozen=True)
class NotReady:
    """An object Helm's wait gave up on, as Helm reported it."""

    kind: str
    namespace: str
    name: str
    status: str  # kstatus: InProgress, Failed, ...
    message: str


# How Helm 4's wait names each object that did not become ready (pkg/kube/statuswait.go).
_NOT_READY = re.compile(
    r"resource (?P<kind>[^/\s]+)/(?P<namespace>[^/\s]*)/(?P<name>\S+) not ready\. "
    r"status: (?P<status>\w+), message: (?P<message>.*)$",
    re.M,
)


class HelmError(SiteboxError):
    """Helm refused or failed an operation; ``not_ready`` lists what its wait gave up on."""

    def __init__(self, message: str, hint: str | None = None, not_ready: tuple[NotReady, ...] = ()):
        super().__init__(message, hint)
        self.not_ready = not_ready


@dataclass(frozen=True)
class Revision:
    release: str
    namespace: str
    revision: int
    status: str
    chart: str
    app_version: str | None


@dataclass(frozen=True)
class Template:
    """What ``helm template`` renders: a release of a chart with values, in a namespace."""

    release: str
    chart: Path
    values: dict[str, Any]
    namespace: str


@dataclass(frozen=True)
class Installed:
    """A release as it stands: its current revision, the objects it made, and the values
    it was given."""

    revision: Revision
    # Both hold the site's secrets (values, rendered Secrets): kept out of any repr.
    objects: list[dict[str, Any]] = field(repr=False)
    values: dict[str, Any] = field(repr=False)


def _installed(status: dict[str, Any], listed: dict[str, Any]) -> Installed:
    """A release from its status and its line in ``helm list`` (chart, app version)."""
    revision = Revision(
        release=status["name"],
        namespace=status["namespace"],
        revision=int(status["version"]),
        status=status["info"]["status"],
        chart=listed.get("chart", "?"),
        app_version=listed.get("app_version"),
    )
    return Installed(revision, _objects(status), status.get("config") or {})


def _objects(status: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of a release's status, empty documents dropped."""
    return [dict(obj) for obj in yaml.load_all(status.get("manifest", ""), _Loader) if obj]


def _first_lines(exc: Exception, lines: int = 6) -> str:
    # Helm's advice to re-run with --debug is not something a sitebox user can act on,
    # nor are the client library's own log lines ("I1126 01:16:26.337 ...").
    kept = [
        ln
        for ln in str(exc).strip().splitlines()
        if ln.strip() and "--debug" not in ln and not _KLOG.match(ln)
    ]
    return "\n".join(kept[:lines]) or type(exc).__name__


class Helm:
    """Helm against one cluster (kubeconfig and optional context)."""

    def __init__(self, kubeconfig: Path | None = None, context: str | None = None):
        executable = str(binary("helm"))
        command = _Command(executable=executable, kubeconfig=kubeconfig, kubecontext=context)
        self._command = command
        self._client = pyhelm3.Client(command, executable=executable)

    @property
    def version(self) -> str:
        return str(self._client.version)

    def _run(self, what: str, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return asyncio.run(coro)
        except helm_errors.ConnectionError as exc:
            raise HelmError(
                f"{what}: cannot reach the cluster: {_first_lines(exc)}",
                hint="check the kubeconfig and that the API server is up "
                "(`sitebox cluster status`)",
            ) from None
        except helm_errors.Error as exc:
            waited = tuple(NotReady(**m.groupdict()) for m in _NOT_READY.finditer(str(exc)))
            raise HelmError(f"{what}: {_first_lines(exc)}", not_ready=waited) from None

    async def _chart(self, path: Path) -> Any:
        """The chart at ``path``, its metadata read by Helm once per process: an install
        renders and then installs the same composed chart, and each read is a Helm process.
        A chart names no cluster, so one read serves every client."""
        key = (path, path.joinpath("Chart.yaml").stat().st_mtime_ns)
        if key not in _CHARTS:
            _CHARTS[key] = await self._client.get_chart(path)
        return _CHARTS[key]

    @staticmethod
    async def _revision(rev: Any) -> Revision:
        meta = await rev.chart_metadata()
        return Revision(
            release=rev.release.name,
            namespace=rev.release.namespace,
            revision=int(rev.revision),
            status=str(getattr(rev.status, "value", rev.status)),
            chart=f"{meta.name}-{meta.version}",
            app_version=meta.app_version,
        )

    def install_or_upgrade(
        self,
        release: str,
        chart: Path,
        values: dict[str, Any],
        namespace: str,
        timeout: str = "5m",
        wait: bool = True,
        skip_crds: bool = False,
    ) -> Revision:
        """``helm upgrade --install`` that waits and rolls back a failed attempt."""

        async def go() -> Revision:
            loaded = await self._chart(chart)
            rev = await self._client.install_or_upgrade_release(
                release,
                loaded,
                values,
                namespace=namespace,
                create_namespace=True,
                rollback_on_failure=True,
                # The release owns its objects: a field changed by hand (kubectl edit, a
                # patch) would otherwise make Helm 4's server-side apply fail on conflict.
                force_conflicts=True,
                wait=wait,
                timeout=timeout,
                skip_crds=skip_crds,
            )
            return await self._revision(rev)

        return self._run(f"installing release {release!r}", go())

    def recover(self, release: str, namespace: str, timeout: str = "5m") -> str | None:
        """Finish what an interrupted run left: a release stuck in pending-install is
        uninstalled (there is nothing to roll back to), one stuck in pending-upgrade or
        pending-rollback is rolled back. Returns what was done, None if nothing was stuck.
        Only call this while holding the site lock: a pending state may also mean that
        another run is at work."""

        async def go() -> str | None:
            try:
                current = await self._client.get_current_revision(release, namespace=namespace)
            except helm_errors.ReleaseNotFoundError:
                return None
            status = str(getattr(current.status, "value", current.status))
            if status not in STUCK:
                return None
            after = await self._client.get_proceedable_revision(
                release, namespace=namespace, timeout=timeout
            )
            outcome = f"rolled back to revision {after.revision}" if after else "uninstalled"
            return f"revision {current.revision} was left {status}: {outcome}"

        return self._run(f"recovering release {release!r}", go())

    def template(self, requests: Sequence[Template]) -> list[list[dict[str, Any]]]:
        """``helm template`` of each request, all at once, CRDs included: the rendered
        objects of each, empty documents dropped."""

        async def one(request: Template) -> list[dict[str, Any]]:
            loaded = await self._chart(request.chart)
            docs = await self._client.template_resources(
                loaded, request.release, request.values, namespace=request.namespace,
                include_crds=True,
            )  # fmt: skip
            return [dict(doc) for doc in docs if doc]

        async def go() -> list[list[dict[str, Any]]]:
            return list(await asyncio.gather(*(one(request) for request in requests)))

        return self._run(f"rendering {', '.join(r.chart.name for r in requests)}", go())

    def pull(self, name: str, repository: str, version: str, destination: Path) -> Path:
        """Download a chart and unpack it as ``destination/<name>-<version>/``."""
        target = destination / f"{name}-{version}"

        async def go() -> Path:
            oci = repository.startswith("oci://")
            ref = f"{repository.rstrip('/')}/{name}" if oci else name
            async with self._client.pull_chart(
                ref, repo=None if oci else repository, version=version
            ) as pulled:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(pulled.ref, target)
            return target

        return self._run(f"pulling chart {name} {version} from {repository}", go())

    def package(self, folder: Path, destination: Path) -> Path:
        """``helm package``: a chart folder as the .tgz Helm makes of it (its .helmignore
        applied), written into ``destination``."""

        async def go() -> Path:
            destination.mkdir(parents=True, exist_ok=True)
            await self._command.run(["package", str(folder), "--destination", str(destination)])
            made = sorted(destination.glob("*.tgz"))
            if len(made) != 1:
                raise HelmError(
                    f"helm package of {folder} made {len(made)} packages, not one",
                    hint="give the folder of one chart (the one holding its Chart.yaml)",
                )
            return made[0]

        return self._run(f"packaging chart {folder}", go())

    async def _status(self, release: str, namespace: str) -> dict[str, Any] | None:
        try:
            status: dict[str, Any] = await self._command.status(release, namespace=namespace)
        except helm_errors.ReleaseNotFoundError:
            return None
        return status

    async def _charts(self, namespace: str) -> dict[str, dict[str, Any]]:
        """Every release of ``namespace``, whatever its state, by name: the one listing
        that names each release's chart (a status does not)."""
        listed = await self._command.list(
            namespace=namespace, include_failed=True, include_pending=True,
            include_uninstalling=True,
        )  # fmt: skip
        return {entry["name"]: entry for entry in listed}

    def read(self, releases: Iterable[tuple[str, str]]) -> dict[str, Installed | None]:
        """Each (release, namespace) as it stands, None where it is not installed. One
        status per release (revision, state, objects, values) and one listing per
        namespace (the chart), all at once."""
        wanted = list(releases)
        namespaces = sorted({namespace for _, namespace in wanted})

        async def go() -> list[Any]:
            # One gather: a failure in any call ends it with every other outcome collected
            # (two in turn would leave the second's error to the garbage collector).
            return list(
                await asyncio.gather(
                    *(self._status(*pair) for pair in wanted),
                    *(self._charts(namespace) for namespace in namespaces),
                )
            )

        found = self._run(f"reading releases {', '.join(r for r, _ in wanted)}", go())
        statuses, listings = found[: len(wanted)], found[len(wanted) :]
        charts = dict(zip(namespaces, listings, strict=True))
        return {
            release: _installed(status, charts[namespace].get(release, {})) if status else None
            for (release, namespace), status in zip(wanted, statuses, strict=True)
        }

    def manifest(self, release: str, namespace: str) -> list[dict[str, Any]] | None:
        """The objects of the release's current revision, or None if it is not installed."""
        status = self._run(f"reading release {release!r}", self._status(release, namespace))
        return _objects(status) if status else None

    def find(self, release: str, namespace: str) -> Revision | None:
        """The current revision, or None if the release is not installed."""
        state = self.read([(release, namespace)])[release]
        return state.revision if state else None

    def current(self, release: str, namespace: str) -> Revision:
        """The current revision; HelmError if the release is not installed."""
        revision = self.find(release, namespace)
        if revision is None:
            raise HelmError(
                f"release {release!r} is not installed in namespace {namespace}",
                hint="`sitebox install` installs the site; `sitebox status` shows what is there",
            )
        return revision

    def revisions(self, release: str, namespace: str) -> list[int]:
        """The revisions Helm still keeps of a release (it prunes the oldest)."""

        async def go() -> list[int]:
            try:
                found = await self._command.history(release, namespace=namespace)
            except helm_errors.ReleaseNotFoundError:
                return []
            return sorted(int(entry["revision"]) for entry in found)

        return self._run(f"reading the history of {release!r}", go())

    def rollback(
        self, release: str, namespace: str, revision: int, timeout: str = "5m"
    ) -> Revision:
        async def go() -> Revision:
            current = await self._client.get_current_revision(release, namespace=namespace)
            rev = await current.release.rollback(revision, wait=True, timeout=timeout)
            return await self._revision(rev)

        return self._run(f"rolling back {release!r}", go())

    def uninstall(self, release: str, namespace: str, wait: bool = True) -> None:
        async def go() -> None:
            current = await self._client.get_current_revision(release, namespace=namespace)
            await self._client.uninstall_release(
                current.release.name, namespace=namespace, wait=wait
            )

        self._run(f"uninstalling {release!r}", go())
