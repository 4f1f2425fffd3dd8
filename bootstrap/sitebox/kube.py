"""The one module that talks to the Kubernetes API (through the kubernetes client).

Everything else asks this module and gets plain dicts back, so the rest of
sitebox never depends on the client's generated model classes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

from sitebox.errors import SiteboxError

Obj = dict[str, Any]
FIELD_MANAGER = "sitebox"


class KubeError(SiteboxError):
    """The API server refused a request or could not be reached."""


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    body = getattr(exc, "body", None) or getattr(exc, "summary", lambda: None)()
    return f"{status} {reason}: {body}" if status else str(exc)


class Kube:
    """A connection to one cluster, from a kubeconfig file and optional context."""

    def __init__(self, kubeconfig: Path | str, context: str | None = None, timeout: float = 10.0):
        self.kubeconfig = str(kubeconfig)
        self.timeout = timeout
        try:
            self.api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=self.kubeconfig, context=context
            )
        except (config.ConfigException, FileNotFoundError) as exc:
            raise KubeError(
                f"cannot load kubeconfig {self.kubeconfig}: {exc}",
                hint="check the path, or pass --kubeconfig / --context",
            ) from None
        self.core = client.CoreV1Api(self.api)
        self._dynamic: DynamicClient | None = None

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api)  # type: ignore[no-untyped-call]
        return self._dynamic

    def _plain(self, model: Any) -> Any:
        return self.api.sanitize_for_serialization(model)

    def ready(self) -> bool:
        """True when /readyz answers ok; False while the server is starting or down."""
        try:
            request = self.api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
            response = self.api.call_api(*request, _request_timeout=2)
        except (ApiException, urllib3.exceptions.HTTPError, OSError):
            return False
        status = response.status
        return bool(status == 200)

    def server_version(self) -> str:
        try:
            return str(client.VersionApi(self.api).get_code().git_version)
        except (ApiException, urllib3.exceptions.HTTPError) as exc:
            raise KubeError(f"cannot reach the API server: {_describe(exc)}") from None

    def create(self, obj: Obj) -> Obj:
        """Create one object (any kind); an existing one is returned unchanged."""
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
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

    def create_all(self, objs: Iterable[Obj], workers: int = 8) -> None:
        """Create many objects concurrently (node pools of hundreds take seconds, not minutes)."""
        items = list(objs)
        if items:
            # Resolve kinds once up front; the discovery cache is not safe to fill from threads.
            for kind in {(o["apiVersion"], o["kind"]) for o in items}:
                self.dynamic.resources.get(api_version=kind[0], kind=kind[1])
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(self.create, items))

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        resource = self.dynamic.resources.get(api_version=api_version, kind=kind)
        try:
            return dict(resource.get(name=name, namespace=namespace).to_dict())
        except DynamicApiError as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"reading {kind} {name}: {_describe(exc)}") from None

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[Obj]:
        resource = self.dynamic.resources.get(api_version=api_version, kind=kind)
        try:
            found = resource.get(namespace=namespace, label_selector=selector)
        except DynamicApiError as exc:
            raise KubeError(f"listing {kind}: {_describe(exc)}") from None
        return [dict(item) for item in found.to_dict().get("items", [])]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        resource = self.dynamic.resources.get(api_version=api_version, kind=kind)
        try:
            resource.delete(name=name, namespace=namespace)
        except DynamicApiError as exc:
            if exc.status != 404:
                raise KubeError(f"deleting {kind} {name}: {_describe(exc)}") from None

    def events_for(self, namespace: str, name: str) -> list[Obj]:
        found = self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name}"
        )
        return [self._plain(e) for e in found.items]

    def nodes_ready(self) -> tuple[int, int]:
        """(ready, total) over all nodes."""
        nodes = self.core.list_node().items
        ready = sum(
            1
            for n in nodes
            if n.status
            and any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
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
