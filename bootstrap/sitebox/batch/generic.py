"""The generic queue description (apiVersion sitebox.io/v1, kind QueueConfig): for any
workload manager that submits Kubernetes Jobs (an ARC CE's Kubernetes back end, a
custom factory). Its schema is distro/schemas/queueconfig.schema.yaml; a change that
breaks a reader is a new apiVersion."""

from __future__ import annotations

from typing import Any

from sitebox.batch.queue import TEMPLATE_KEY, Queue

API_VERSION = "sitebox.io/v1"
KIND = "QueueConfig"


def document(
    queue: Queue, queue_name: str, site: str | None, endpoint: str, kubeconfig: str
) -> dict[str, Any]:
    """``endpoint`` and ``kubeconfig``: the API server and the file the workload manager
    connects with (the submitter's, which may name another address than the admin's)."""
    scratch = queue.scratch
    cvmfs = queue.cvmfs
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": queue_name, "site": site},
        "spec": {
            "endpoint": endpoint,
            "namespace": queue.namespace,
            "kubeconfig": kubeconfig,
            "job": {
                "cpu": queue.cpu,
                "memory": queue.memory,
                "image": queue.image,
                "maxSeconds": queue.max_seconds,
                "priorityClassName": queue.priority_class,
                "scratch": {"path": scratch[0], "size": scratch[1]} if scratch else None,
                "template": {"configMap": queue.template, "key": TEMPLATE_KEY},
            },
            "cvmfs": {
                "claimName": cvmfs.claim,
                "mountPath": cvmfs.mount_path,
                "repositories": cvmfs.repositories,
            }
            if cvmfs
            else None,
            "quota": queue.quota,
            "maxJobs": queue.max_jobs(),
        },
    }
