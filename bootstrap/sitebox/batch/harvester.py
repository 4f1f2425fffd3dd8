"""PanDA Harvester's form of a queue: an entry for its ``panda_queueconfig.json`` that
uses its Kubernetes plugins, and the Job YAML its submitter makes each worker from.

What Harvester reads, from its source (HSF/harvester d561b72f, v0.7.5-9, 2026-08-03):

- ``harvestercore/queue_config_mapper.py``: a queue is a JSON object under its name; a
  key whose value is an object with ``module`` and ``name`` is a plugin, made with that
  object's other keys as attributes; the keys of ``common`` are copied into every plugin.
  messenger, monitor, preparator, stager, submitter, sweeper and workerMaker must all be
  there, usually from the template the queue names in ``templateQueueName``.
- ``harvestersubmitter/k8s_submitter.py``, ``harvestermonitor/k8s_monitor.py``,
  ``harvestersweeper/k8s_sweeper.py``: each connects with ``k8s_config_file``; the
  submitter reads the Job from ``k8s_yaml_file`` and refuses to submit without
  ``proxySecretPath`` (the proxy's path inside the pod). All three take the namespace
  from CRIC (``harvestermisc/info_utils_k8s.py``: the queue's first ``ce_queue_name``,
  else its associated parameter ``k8s.namespace``); ``k8s_namespace``, which the wiki
  documents, is not read any more, and is written for older Harvesters only.
- ``harvestermisc/k8s_utils.py`` ``create_job_from_yaml``: the worker is the file's Job
  named ``<metadata.name>-<workerID>``; resources, image, command, affinity and
  priorityClassName the file sets are kept, the rest Harvester fills in (its pilot
  starter as command, TMPDIR and HOME on its own emptyDir, its packing affinity); it
  replaces the pod's labels, and mounts its ``pilots-starter`` ConfigMap, which it
  creates in the namespace itself.
- ``harvestercredmanager/k8s_secret_cred_manager.py``: keeps the proxy in the Secret
  ``proxy-secret`` (its default ``secret_name``), one key per proxy file (its base name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sitebox.batch.queue import Queue
from sitebox.kube import Obj

SOURCE = "HSF/harvester d561b72f (v0.7.5-9)"
SUBMITTER = {"name": "K8sSubmitter", "module": "pandaharvester.harvestersubmitter.k8s_submitter"}
MONITOR = {"name": "K8sMonitor", "module": "pandaharvester.harvestermonitor.k8s_monitor"}
SWEEPER = {"name": "K8sSweeper", "module": "pandaharvester.harvestersweeper.k8s_sweeper"}
PROXY_SECRET = "proxy-secret"  # noqa: S105 (a name: K8sSecretCredManager's default secret_name)
PROXY_DIR = "/proxy"
# The key of the proxy in that Secret is the base name of the file the credential
# manager is given (proxy_files); the docs say to name it so, or to edit the path.
PROXY_FILE = "x509up"
WORKER_NAME = "grid-job"  # Harvester appends -<workerID>; as its own examples name it
NAMESPACE_PARAMETER = "k8s.namespace"  # the CRIC associated parameter it reads


@dataclass(frozen=True)
class Paths:
    """Where the workload manager's host keeps the files the entry names."""

    kubeconfig: str
    job_yaml: str


def job(queue: Queue) -> Obj:
    """The site's example Job, shaped for Harvester's submitter: it keeps the site's
    sizes, image, security context, scratch and CVMFS, and leaves to Harvester what it
    sets only where the file is silent."""
    manifest = queue.job_manifest()
    labels = manifest["metadata"].get("labels") or {}
    # Harvester names the worker after metadata.name (generateName would not be read) and
    # creates it in the namespace CRIC gives: one written here could only disagree.
    manifest["metadata"] = {"name": WORKER_NAME, "labels": labels}
    template = manifest["spec"]["template"]
    template.pop("metadata", None)  # Harvester replaces the pod's labels with its own
    pod = template["spec"]
    # The site's affinity packs pods by a label Harvester's pods no longer carry; without
    # one, Harvester sets its own packing of single-core pods.
    pod.pop("affinity", None)
    container = pod["containers"][0]
    # The example command is a placeholder; without one Harvester runs its pilot starter,
    # and it sets TMPDIR (and HOME) to its own working folder.
    container.pop("command", None)
    container.pop("args", None)
    env = [e for e in container.get("env") or [] if e.get("name") != "TMPDIR"]
    if env:
        container["env"] = env
    else:
        container.pop("env", None)
    container.setdefault("volumeMounts", []).append(
        {"name": "proxy", "mountPath": PROXY_DIR, "readOnly": True}
    )
    pod.setdefault("volumes", []).append({"name": "proxy", "secret": {"secretName": PROXY_SECRET}})
    return manifest


def entry(queue: Queue, queue_name: str, paths: Paths) -> dict[str, Any]:
    """The queue's entry for panda_queueconfig.json, keyed by its name."""
    settings: dict[str, Any] = {}
    most = queue.max_jobs()
    if most is not None:
        # More workers than the quota admits would wait as Jobs without pods.
        settings["maxWorkers"] = most
    settings |= {
        "submitter": {
            **SUBMITTER,
            "k8s_yaml_file": paths.job_yaml,
            "proxySecretPath": f"{PROXY_DIR}/{PROXY_FILE}",
        },
        "monitor": dict(MONITOR),
        "sweeper": dict(SWEEPER),
        "common": {"k8s_config_file": paths.kubeconfig, "k8s_namespace": queue.namespace},
    }
    return {queue_name: settings}


def cric_parameters(queue: Queue) -> dict[str, str]:
    """What the PanDA queue's CRIC entry must say for Harvester to find the namespace."""
    return {NAMESPACE_PARAMETER: queue.namespace}
