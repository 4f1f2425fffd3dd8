"""The one module that talks to the Kubernetes API (through the kubernetes client).

Everything else asks this module and gets plain dicts back, so the rest of
sitebox never depends on the client's generated model classes.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

from sitebox.config.loader import load_yaml
from sitebox.errors import Location, SiteboxError

Obj = dict[str, Any]
Ref = tuple[str, str, str, str | None]  # apiVersion, kind, name, namespace (None: cluster-wide)
FIELD_MANAGER = "sitebox"
_API_HINT = "the API server's answer says why; run the command again once that is fixed"


class KubeError(SiteboxError):
    """The API server refused a request or could not be reached."""


class UnreachableError(KubeError):
    """The API server could not be reached: refused, reset, timed out."""


def _guarded(request: Callable[..., Any]) -> Callable[..., Any]:
    """Every request of a connection, with transport failures turned into UnreachableError:
    the client's own callers (the dynamic client included) only expect ApiException."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return request(*args, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise UnreachableError(
                f"cannot reach the API server: {getattr(exc, 'reason', None) or exc}",
                hint="check that the cluster is up (`sitebox cluster status`) and that the "
                "kubeconfig points at it; an install or upgrade cut off halfway is finished "
                "by running it again",
            ) from None

    return guarded


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    body = getattr(exc, "body", None) or getattr(exc, "summary", lambda: None)()
    return f"{status} {reason}: {body}" if status else str(exc)


def _check_kubeconfig(path: Path) -> None:
    """A kubeconfig named on the command line is read as sitebox reads any file first:
    bounded in size, depth and alias expansion (the client's own parser is not), and
    named when it is missing."""
    if not path.exists():
        raise KubeError(
            f"kubeconfig {path} not found",
            hint="check the path (`sitebox cluster kubeconfig` prints a local cluster's)",
        )
    if path.is_file():
        load_yaml(path)


def _in_cluster(kubeconfig: Path | str | None, context: str | None) -> bool:
    """In a pod (a CronJob of the site) with no kubeconfig named nor found: the pod's
    ServiceAccount, as kubectl would use it."""
    return (
        kubeconfig is None
        and context is None
        and not os.environ.get("KUBECONFIG")
        and not Path(config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser().exists()
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    )


def _in_cluster_client() -> Any:
    settings = client.Configuration()
    config.load_incluster_config(client_configuration=settings)  # type: ignore[no-untyped-call]
    return client.ApiClient(settings)


class Kube:
    """A connection to one cluster, from a kubeconfig file and optional context (in a
    pod without one: the pod's ServiceAccount)."""

    def __init__(self, kubeconfig: Path | str | None = None, context: str | None = None):
        """``kubeconfig`` None means what kubectl would use: $KUBECONFIG or ~/.kube/config."""
        self.kubeconfig = str(kubeconfig) if kubeconfig else None
        if kubeconfig:
            _check_kubeconfig(Path(kubeconfig))
        self.api: Any  # the client's ApiClient, used through its untyped parts
        try:
            if _in_cluster(kubeconfig, context):
                self.api = _in_cluster_client()
            else:
                self.api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=self.kubeconfig, context=context
                )
        except (config.ConfigException, FileNotFoundError) as exc:
            raise KubeError(
                f"cannot load kubeconfig {self.kubeconfig or '(default)'}: {exc}",
                hint="check the path, or pass --kubeconfig / --context",
            ) from None
        except IsADirectoryError:
            raise KubeError(
                f"kubeconfig {self.kubeconfig} is a folder, not a file",
                hint="give the kubeconfig file itself (`sitebox cluster kubeconfig` prints "
                "a local cluster's)",
            ) from None
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise KubeError(
                f"kubeconfig {self.kubeconfig or '(default)'} is not valid YAML: {exc.problem}",
                hint="fix the file, or get it again (`sitebox cluster kubeconfig`, your "
                "cluster's admin)",
                location=Location(self.kubeconfig or "(default kubeconfig)", line),
            ) from None
        except (yaml.YAMLError, OSError, AttributeError, TypeError):
            # The client parses the file itself: one that is YAML but not a kubeconfig
            # fails inside it, where it looks for the keys it expects.
            raise KubeError(
                f"kubeconfig {self.kubeconfig or '(default)'} is not a kubeconfig",
                hint="give a kubeconfig file (apiVersion: v1, kind: Config, clusters, users, "
                "contexts)",
            ) from None
        # Load tests submit from many threads at once; urllib3's default pool holds 4.
        self.api.rest_client.pool_manager.connection_pool_kw["maxsize"] = 32
        self.api.rest_client.request = _guarded(self.api.rest_client.request)
        self._dynamic: DynamicClient | None = None

    # The typed APIs build hundreds of pydantic models when first touched (seconds of
    # start-up on a slow machine), so only the commands that use them pay for them.
    @functools.cached_property
    def core(self) -> Any:
        return client.CoreV1Api(self.api)

    @functools.cached_property
    def batch(self) -> Any:
        return client.BatchV1Api(self.api)

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api)  # type: ignore[no-untyped-call]
        return self._dynamic

    def ready(self) -> bool:
        """True when /readyz answers ok; False while the server is starting or down."""
        try:
            request = self.api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
            response = self.api.call_api(*request, _request_timeout=2)
        except (ApiException, UnreachableError, OSError):
            return False
        status = response.status
        return bool(status == 200)

    def server_version(self) -> str:
        try:
            return str(client.VersionApi(self.api).get_code().git_version)
        except ApiException as exc:
            raise KubeError(f"cannot reach the API server: {_describe(exc)}") from None

    def create(self, obj: Obj) -> Obj:
        """Create one object (any kind); an existing one is returned unchanged."""
        resource = self.resource(api_version=obj["apiVersion"], kind=obj["kind"])
        namespace = obj["metadata"].get("namespace")
        try:
            return dict(resource.create(body=obj, namespace=namespace).to_dict())
        except DynamicApiError as exc:
            if exc.status == 409:
                got = resource.get(name=obj["metadata"]["name"], namespace=namespace)
                return dict(got.to_dict())
            raise KubeError(
                f"creating {obj['kind']} {obj['metadata']['name']}: {_describe(exc)}"
            ) from None

    def apply(self, obj: Obj, manager: str = FIELD_MANAGER) -> Obj:
        """Server-side apply of one object as sitebox's field manager (or ``manager``):
        the fields it sets are that manager's own, and change when it changes them."""
        resource = self.resource(api_version=obj["apiVersion"], kind=obj["kind"])
        meta = obj["metadata"]
        try:
            applied = resource.server_side_apply(
                body=obj, name=meta["name"], namespace=meta.get("namespace"),
                field_manager=manager, force_conflicts=True,
            )  # fmt: skip
        except DynamicApiError as exc:
            raise KubeError(f"applying {obj['kind']} {meta['name']}: {_describe(exc)}") from None
        return dict(applied.to_dict())

    def create_all(self, objs: Iterable[Obj], workers: int = 8) -> None:
        """Create many objects concurrently (node pools of hundreds take seconds, not minutes)."""
        items = list(objs)
        if items:
            self._discover({(o["apiVersion"], o["kind"]) for o in items})
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(self.create, items))

    def resource(self, api_version: str, kind: str) -> Any:
        """The dynamic client's handle on a kind; one the server does not serve is a clear
        error, not the client's exception."""
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise KubeError(
                f"the cluster does not serve {kind} ({api_version})",
                hint="install what defines it first (its CRD, from its chart or operator), "
                "or check the apiVersion against `kubectl api-resources`",
            ) from None

    def _discover(self, kinds: Iterable[tuple[str, str]]) -> None:
        """Resolve (apiVersion, kind) pairs before threads use them: the dynamic client's
        discovery cache is not safe to fill from several threads."""
        for api_version, kind in kinds:
            self.resource(api_version=api_version, kind=kind)

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        resource = self.resource(api_version=api_version, kind=kind)
        try:
            return dict(resource.get(name=name, namespace=namespace).to_dict())
        except DynamicApiError as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"reading {kind} {name}: {_describe(exc)}") from None

    def get_many(self, refs: Sequence[Ref], workers: int = 8) -> list[Obj | None]:
        """``get`` of each (apiVersion, kind, name, namespace), concurrently: a release's
        objects read one at a time cost a round trip each."""
        self._discover({(api_version, kind) for api_version, kind, _, _ in refs})
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda ref: self.get(*ref), refs))

    def ref(self, obj: Obj, namespace: str) -> Ref:
        """Where a rendered object lives: its own namespace, else ``namespace``; none for
        a cluster-scoped kind."""
        meta = obj["metadata"]
        where = (meta.get("namespace") or namespace) if self.namespaced(
            obj["apiVersion"], obj["kind"]) else None  # fmt: skip
        return obj["apiVersion"], obj["kind"], meta["name"], where

    def namespaced(self, api_version: str, kind: str) -> bool:
        return bool(self.resource(api_version=api_version, kind=kind).namespaced)

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the API server knows the kind: a custom resource's does not until its
        CRD is established."""
        try:
            self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return False
        return True

    def list_objects(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        selector: str | None = None,
        fields: str | None = None,
    ) -> list[Obj]:
        resource = self.resource(api_version=api_version, kind=kind)
        try:
            found = resource.get(
                namespace=namespace, label_selector=selector, field_selector=fields
            )
        except DynamicApiError as exc:
            raise KubeError(f"listing {kind}: {_describe(exc)}") from None
        return [dict(item) for item in found.to_dict().get("items", [])]

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        foreground: bool = False,
    ) -> None:
        """Delete one object; ``foreground``: it stays until what it owns (a StatefulSet's
        pods) is gone, so that its absence means theirs too."""
        resource = self.resource(api_version=api_version, kind=kind)
        body = {"propagationPolicy": "Foreground"} if foreground else None
        try:
            resource.delete(name=name, namespace=namespace, body=body)
        except DynamicApiError as exc:
            if exc.status != 404:
                raise KubeError(f"deleting {kind} {name}: {_describe(exc)}") from None

    def service_proxy_get(
        self, namespace: str, service: str, port: int | str, path: str, timeout: float = 10
    ) -> tuple[int, str]:
        """GET ``path`` from a Service through the API server's service proxy (no
        port-forward, no route into the cluster): (HTTP status, body). A status the
        proxy itself returns (no endpoints, connection refused) comes back the same way."""
        request = self.api.param_serialize(
            "GET",
            f"/api/v1/namespaces/{namespace}/services/http:{service}:{port}/proxy/"
            + path.lstrip("/"),
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(*request, _request_timeout=timeout)
            response.read()
        except (UnreachableError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(f"GET {path} from service {namespace}/{service}: {exc}") from None
        return int(response.status), response.data.decode(errors="replace")

    def endpoint(self) -> tuple[str, bytes]:
        """The API server URL and the CA bundle (PEM) this connection trusts."""
        settings = self.api.configuration
        ca = Path(settings.ssl_ca_cert).read_bytes() if settings.ssl_ca_cert else b""
        return str(settings.host), ca

    def current_namespace(self) -> str:
        _, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=self.kubeconfig
        )
        return str(active.get("context", {}).get("namespace") or "default")

    def service_account_token(self, namespace: str, name: str, seconds: int) -> str:
        """A bound token for a ServiceAccount (TokenRequest API), valid ``seconds``."""
        body = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
        )
        try:
            got = self.core.create_namespaced_service_account_token(name, namespace, body)
        except ApiException as exc:
            raise KubeError(
                f"requesting a token for ServiceAccount {namespace}/{name}: {_describe(exc)}"
            ) from None
        if got.status is None:
            raise KubeError(f"the API server returned no token for {namespace}/{name}")
        return str(got.status.token)

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data, decoded; None if it does not exist."""
        secret = self.get("v1", "Secret", name, namespace)
        if secret is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}

    def write_secret(
        self, namespace: str, name: str, data: dict[str, str], labels: dict[str, str]
    ) -> None:
        """Create or replace an Opaque Secret (server-side apply, one field manager)."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
        resource = self.resource(api_version="v1", kind="Secret")
        try:
            resource.server_side_apply(
                body=body, name=name, namespace=namespace, field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )  # fmt: skip
        except DynamicApiError as exc:
            # The message may quote the request; never let the values reach a log.
            raise KubeError(f"writing Secret {namespace}/{name}: HTTP {exc.status}") from None

    def submit_job(self, namespace: str, job: Obj) -> tuple[int, float, str]:
        """POST a Job as raw JSON; return (HTTP status, Retry-After seconds, the
        server's message when it refused).

        The load test's hot path: the generated client validates every body through
        pydantic and parses the reply, which costs more than the request itself.
        """
        request = self.api.param_serialize(
            "POST",
            "/apis/batch/v1/namespaces/{namespace}/jobs",
            path_params={"namespace": namespace},
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=job,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(*request, _request_timeout=30)
        except (UnreachableError, OSError) as exc:
            raise KubeError(f"submitting a Job: {exc}") from None
        retry = response.getheader("Retry-After") if response.status == 429 else None
        message = ""
        if response.status >= 300:
            response.read()
            message = response.data.decode(errors="replace")[:300]
        return response.status, float(retry or 0), message

    def delete_jobs(self, namespace: str, selector: str, timeout: float = 300) -> None:
        """Delete every Job matching ``selector`` (and, in the background, their pods)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.batch.delete_collection_namespaced_job(
                    namespace, label_selector=selector, propagation_policy="Background"
                )
            except ApiException as exc:
                # 504: the server gave up waiting but keeps deleting; ask again.
                if exc.status != 504:
                    raise KubeError(f"deleting Jobs {selector}: {_describe(exc)}") from None
            except UnreachableError:
                pass  # the connection dropped under a long deletion; the server carries on
            left = self.batch.list_namespaced_job(namespace, label_selector=selector, limit=1)
            if not left.items:
                return
            if time.monotonic() > deadline:
                raise KubeError(f"Jobs {selector} still exist after {timeout:.0f}s")
            time.sleep(1)

    def _raw(
        self,
        method: str,
        path: str,
        what: str,
        query: list[tuple[str, Any]] | None = None,
        body: Obj | None = None,
    ) -> tuple[int, str]:
        """One request as raw JSON: (HTTP status, body). For the accounting paths: the
        dynamic client's discovery (tens of requests) and the typed client's models cost
        more than the request itself, on a busy API server seconds."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self.api.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body,
            auth_settings=["BearerToken"],
        )  # fmt: skip
        try:
            response = self.api.call_api(*request, _request_timeout=120)
            response.read()
        except (UnreachableError, OSError) as exc:
            raise KubeError(
                f"{what}: {exc}",
                hint="check that the cluster is up and the kubeconfig points at it",
            ) from None
        text = response.data.decode(errors="replace")
        if response.status == 403:
            raise KubeError(
                f"{what}: this kubeconfig's user may not",
                hint="use a kubeconfig whose user may do this: the site admin's, or in "
                "the cluster the accounting CronJob's ServiceAccount",
            )
        return int(response.status), text

    def iter_jobs(
        self, namespace: str, selector: str | None = None, page: int = 500
    ) -> Iterator[Obj]:
        """Every Job of a namespace as the API's JSON, a page at a time (``limit`` and
        ``continue``): a namespace of 10,000 Jobs is never held whole, and the raw JSON
        skips the typed client's model objects, which cost more than the request."""
        what = f"listing Jobs in {namespace}"
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", page)]
            if selector:
                query.append(("labelSelector", selector))
            if token:
                query.append(("continue", token))
            status, body = self._raw(
                "GET", f"/apis/batch/v1/namespaces/{namespace}/jobs", what, query
            )
            if status == 410:
                raise KubeError(
                    f"{what}: the listing expired before its last page",
                    hint="run the command again (a listing must finish within the API "
                    "server's compaction interval, 5 minutes by default)",
                )
            if status >= 300:
                raise KubeError(f"{what}: {status} {body[:300]}", hint=_API_HINT)
            listed = json.loads(body)
            yield from listed.get("items") or []
            token = (listed.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    def read_config_map(self, namespace: str, name: str) -> tuple[dict[str, str], str] | None:
        """A ConfigMap's data and resourceVersion; None if it does not exist."""
        what = f"reading ConfigMap {namespace}/{name}"
        status, body = self._raw("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}", what)
        if status == 404:
            return None
        if status >= 300:
            raise KubeError(f"{what}: {status} {body[:300]}", hint=_API_HINT)
        found = json.loads(body)
        return dict(found.get("data") or {}), str(found["metadata"]["resourceVersion"])

    def write_config_map(
        self,
        namespace: str,
        name: str,
        data: dict[str, str],
        labels: dict[str, str],
        version: str | None,
    ) -> bool:
        """Create (``version`` None) or replace the ConfigMap if it is still at
        ``version``: False when another writer got there first (HTTP 409), so that a
        read-modify-write never loses the other's update."""
        meta: Obj = {"name": name, "namespace": namespace, "labels": labels}
        if version is not None:
            meta["resourceVersion"] = version
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
        what = f"writing ConfigMap {namespace}/{name}"
        folder = f"/api/v1/namespaces/{namespace}/configmaps"
        if version is None:
            status, text = self._raw("POST", folder, what, body=body)
        else:
            status, text = self._raw("PUT", f"{folder}/{name}", what, body=body)
        if status == 409:
            return False
        if status >= 300:
            raise KubeError(f"{what}: {status} {text[:300]}", hint=_API_HINT)
        return True

    def _watch(
        self, lister: Callable[..., Any], namespace: str, selector: str, stop: Callable[[], bool]
    ) -> Iterator[Any]:
        """Objects as they change, until ``stop()`` holds; resumes after the server
        closes a watch, so it can run for as long as a load test does."""
        version = ""
        while not stop():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    lister,
                    namespace,
                    label_selector=selector,
                    resource_version=version or None,
                    timeout_seconds=5,
                ):
                    obj = event["object"]
                    version = obj.metadata.resource_version
                    yield obj
                    if stop():
                        stream.stop()  # type: ignore[no-untyped-call]
                        return
            except ApiException as exc:
                if exc.status == 410:  # Gone: the version expired; list again
                    version = ""
                elif exc.status == 429 or exc.status >= 500:
                    # A busy server sheds the watch (as under a load test's burst of
                    # creates); the watcher must outlast that, or its count stops.
                    time.sleep(0.5)
                else:
                    raise KubeError(f"watching {namespace}: {_describe(exc)}") from None
            except (UnreachableError, urllib3.exceptions.HTTPError):
                # A watch cut off mid-stream (reset, timeout on a busy server) resumes
                # where it was; one that never comes back ends with the caller's timeout.
                time.sleep(0.5)

    def watch_pods(self, namespace: str, selector: str, stop: Callable[[], bool]) -> Iterator[Obj]:
        """Pods as they change: name, node, phase."""
        for pod in self._watch(self.core.list_namespaced_pod, namespace, selector, stop):
            yield {
                "name": pod.metadata.name,
                "node": pod.spec.node_name,
                "phase": pod.status.phase if pod.status else None,
            }

    def watch_jobs(self, namespace: str, selector: str, stop: Callable[[], bool]) -> Iterator[Obj]:
        """Jobs as they change: name, and "Complete" or "Failed" once finished (a Job can
        fail with no pod at all, e.g. when its deadline passes before one is created)."""
        for job in self._watch(self.batch.list_namespaced_job, namespace, selector, stop):
            finished = [
                c.type
                for c in (job.status.conditions or [] if job.status else [])
                if c.type in ("Complete", "Failed") and c.status == "True"
            ]
            yield {"name": job.metadata.name, "finished": finished[0] if finished else None}

    def events_for(self, namespace: str, name: str) -> list[Obj]:
        return self.list_objects("v1", "Event", namespace, fields=f"involvedObject.name={name}")

    def newest_event(self, namespace: str, name: str) -> str | None:
        """The message of the newest event about an object: what the binder, the scheduler
        or a controller last said of it."""
        events = self.events_for(namespace, name)
        newest = max(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime")),
                     default=None)  # fmt: skip
        return str(newest["message"]) if newest and newest.get("message") else None

    def apply_crds(self, crds: list[Obj], timeout: float = 60) -> None:
        """Server-side apply CRDs with one field manager, forcing conflicts (Helm never
        upgrades CRDs, so sitebox does), then wait until each is Established."""
        resource = self.resource(
            api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
        )
        for crd in crds:
            name = crd["metadata"]["name"]
            try:
                resource.server_side_apply(
                    body=crd, name=name, field_manager=FIELD_MANAGER, force_conflicts=True
                )
            except DynamicApiError as exc:
                raise KubeError(f"applying CRD {name}: {_describe(exc)}") from None

        def established(name: str) -> bool:
            got = self.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) or {}
            conditions = got.get("status", {}).get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        for name in [crd["metadata"]["name"] for crd in crds]:
            wait_for(f"CRD {name} to be established", partial(established, name), timeout)

    def pod_health(self, namespace: str) -> list[Obj]:
        """Per pod: name, labels, the chart label, ready or not, and why not (the scheduler's
        condition message, else the newest warning event)."""
        out = []
        for pod in self.list_objects("v1", "Pod", namespace):
            status = pod.get("status") or {}
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            done = status.get("phase") == "Succeeded"
            ready = done or conditions.get("Ready", {}).get("status") == "True"
            scheduled = conditions.get("PodScheduled", {})
            reason = ""
            if scheduled and scheduled.get("status") != "True":
                reason = f"{scheduled.get('reason')}: {scheduled.get('message')}"
            elif not ready:
                reason = str(status.get("phase"))
            labels = pod["metadata"].get("labels") or {}
            out.append(
                {
                    "name": pod["metadata"]["name"],
                    "labels": labels,
                    "chart": labels.get("helm.sh/chart") or labels.get("chart", ""),
                    "ready": ready,
                    "reason": reason,
                }
            )
        return out

    def nodes(self) -> list[Obj]:
        """Every node, as plain dicts."""
        return self.list_objects("v1", "Node")

    def storage_classes(self) -> list[Obj]:
        return self.list_objects("storage.k8s.io/v1", "StorageClass")

    def namespaces(self) -> list[Obj]:
        return self.list_objects("v1", "Namespace")

    def can_i(self, verb: str, group: str, resource: str, namespace: str | None = None) -> bool:
        """Whether the current user may do ``verb`` on ``resource`` (SelfSubjectAccessReview)."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb, "group": group, "resource": resource, "namespace": namespace,
                }
            },
        }  # fmt: skip
        resource_api = self.resource(
            api_version="authorization.k8s.io/v1", kind="SelfSubjectAccessReview"
        )
        try:
            answer = resource_api.create(body=review)
        except DynamicApiError as exc:
            raise KubeError(f"asking the API server for access: {_describe(exc)}") from None
        return bool(answer.status.allowed)

    def write_lease(self, lease: Obj) -> bool:
        """Create a Lease, or replace it at the resourceVersion it was read at.
        False when someone else wrote it first (409): the caller lost the race."""
        resource = self.resource(api_version="coordination.k8s.io/v1", kind="Lease")
        namespace = lease["metadata"]["namespace"]
        try:
            if lease["metadata"].get("resourceVersion"):
                resource.replace(body=lease, namespace=namespace)
            else:
                resource.create(body=lease, namespace=namespace)
        except DynamicApiError as exc:
            if exc.status == 409:
                return False
            raise KubeError(
                f"writing Lease {lease['metadata']['name']}: {_describe(exc)}"
            ) from None
        return True

    def allocatable(self) -> list[tuple[str, str]]:
        """(cpu, memory) allocatable of every node, as quantities."""
        found = (n.get("status", {}).get("allocatable") for n in self.nodes())
        return [(a.get("cpu", "0"), a.get("memory", "0")) for a in found if a]

    def nodes_ready(self) -> tuple[int, int]:
        """(ready, total) over all nodes."""
        nodes = self.nodes()
        ready = sum(
            1
            for n in nodes
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions") or []
            )
        )
        return ready, len(nodes)


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.2) -> None:
    """Poll ``check`` until it holds, or fail naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise SiteboxError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
