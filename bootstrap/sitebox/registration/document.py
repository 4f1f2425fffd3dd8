"""The registration document (apiVersion sitebox.io/v1, kind SiteRegistration): the
site's endpoints and capacity in the fields GOCDB and CRIC ask for, from site.yaml and,
when given, the cluster; and, listed apart, what only the admin can fill in and where.

It calls no cluster: the capacity and the API server's address come in from the
caller. Its schema is distro/schemas/registration.schema.yaml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from sitebox.cluster.quantity import cpu_millis, memory_bytes
from sitebox.components.names import BATCH_NAMESPACE
from sitebox.compose.charts import charts_dir
from sitebox.fleet import federation
from sitebox.model.merge import deep_merge
from sitebox.model.siteconfig import Site
from sitebox.model.where import site_key
from sitebox.registration import facts, settings
from sitebox.registration.capacity import Capacity

API_VERSION = "sitebox.io/v1"
KIND = "SiteRegistration"
BATCH_CHART = "batch"
# What each endpoint is, for GOCDB's service DESCRIPTION.
DESCRIPTIONS = {
    "hub": "JupyterHub: notebook servers for the site's users",
    "s3": "S3 object store",
    "htcondor-collector": "HTCondor central manager (collector) of the site's pool",
    "htcondor-schedd": "HTCondor access point (schedd) of the site's pool",
    "batch": "Kubernetes batch queue: workload managers submit Jobs to the namespace",
}
# (GOCDB field, registration key, why it is needed): required fields sitebox cannot know.
REQUIRED = (
    ("EMAIL", "contactEmail", "the site's contact e-mail, for the site and each service"),
    ("CONTACTTEL", "contactPhone", "the site's contact telephone number"),
    ("NGI", "ngi", "the NGI (ROC) the site belongs to, as GOCDB lists it, e.g. NGI_DE"),
    ("Country", "country", "the site's country, as GOCDB lists it"),
    ("TIMEZONE", "timezone", "the site's time zone, e.g. Europe/Berlin"),
)


@dataclass(frozen=True)
class Job:
    """One batch job's shape as the site defines it (site.yaml over the chart's defaults)."""

    cpu: str
    memory: str
    max_seconds: int
    scratch: str


def job_shape(site: Site) -> Job:
    defaults = yaml.safe_load((charts_dir() / BATCH_CHART / "values.yaml").read_text())["job"]
    sized = site.components.get("batch", {}).get("job", {})
    raw = site.overrides.get("batch", {}).get("job", {})
    job = deep_merge(defaults, {k: str(v) for k, v in sized.items()}, raw)
    return Job(
        cpu=str(job["cpu"]),
        memory=str(job["memory"]),
        max_seconds=int(job["activeDeadlineSeconds"]),
        scratch=str(job["scratch"]["sizeLimit"]),
    )


def _mib(quantity: str) -> int:
    return memory_bytes(quantity) // 2**20


def _yes(flag: bool) -> str:
    return "Y" if flag else "N"


def _endpoints(site: Site, api_server: str | None) -> dict[str, str]:
    found = federation.endpoints(site, {})
    batch = site.components.get("batch", {})
    if batch.get("enabled") and batch.get("mode", "queue") == "queue" and api_server:
        found["batch"] = api_server
    return found


def _host(endpoint: str) -> str:
    return urlsplit(endpoint if "://" in endpoint else f"//{endpoint}").hostname or endpoint


def _gocdb(site: Site, reg: settings.Registration, endpoints: dict[str, str]) -> dict[str, Any]:
    entry = {
        "SHORT_NAME": reg.short_name,
        "OFFICIAL_NAME": reg.official_name,
        "DESCRIPTION": reg.description,
        "DOMAIN": site.config.get("domain"),
        "HOME_URL": reg.home_url,
        "EMAIL": reg.contact_email,
        "CONTACTTEL": reg.contact_phone,
        "CSIRTEMAIL": reg.security_email,
        "NGI": reg.ngi,
        "Country": reg.country,
        "TIMEZONE": reg.timezone,
        "LATITUDE": reg.latitude,
        "LONGITUDE": reg.longitude,
        "ProductionStatus": reg.infrastructure,
    }
    services = []
    for name, endpoint in endpoints.items():
        kind = facts.SERVICE_TYPES[name]
        fields = {
            "hostingSite": reg.short_name,
            "serviceType": kind.name,
            "endpointUrl": endpoint,
            "HOSTNAME": _host(endpoint),
            "DESCRIPTION": DESCRIPTIONS[name],
            "HOST_BETA": "N",
            "PRODUCTION_LEVEL": _yes(reg.production),
            "IS_MONITORED": _yes(reg.production),
            "EMAIL": reg.contact_email,
        }
        # GOCDB's fields apart from sitebox's own: which endpoint, and why no type.
        service: dict[str, Any] = {"endpoint": name, "fields": fields}
        if kind.name is None:
            service["note"] = kind.note
        services.append(service)
    return {"site": entry, "services": services}


def _cric(
    site: Site, reg: settings.Registration, capacity: Capacity, api_server: str | None
) -> list[dict[str, Any]]:
    batch = site.components.get("batch", {})
    if not batch.get("enabled"):
        return []
    job = job_shape(site)
    queue: dict[str, Any] = {
        "nickname": reg.queue_name,
        "rc_site": reg.short_name,
        "gocname": reg.short_name,
        "country": reg.country,
        "tier_level": reg.tier,
        "resource_type": "GRID",
        # CRIC counts whole cores; a job of less than one core still takes a slot.
        "corecount": max(1, math.ceil(cpu_millis(job.cpu) / 1000)),
        "maxrss": _mib(job.memory),
        "maxtime": job.max_seconds,
        "maxwdir": _mib(job.scratch),
        "nodes": capacity.nodes,
        "is_cvmfs": bool(site.components.get("cvmfs", {}).get("enabled")),
    }
    if batch.get("mode", "queue") == "queue":
        queue["queues"] = [{"ce_endpoint": api_server, "ce_queue_name": BATCH_NAMESPACE}]
        queue["params"] = {facts.K8S_NAMESPACE_PARAMETER: BATCH_NAMESPACE}
    return [queue]


def _at(site: Site, key_path: tuple[str, ...]) -> str:
    where = site_key(site, key_path)
    return where.file if where.line is None else f"{where.file}:{where.line}"


def _missing(site: Site, reg: settings.Registration) -> list[dict[str, str]]:
    """Required fields left empty, each with the site.yaml key that fills it, and where."""
    found = []
    if not site.config.get("domain"):
        found.append(
            {
                "field": "gocdb.site.DOMAIN",
                "set": "domain",
                "at": _at(site, ("domain",)),
                "why": "GOCDB needs the site's DNS domain, and the endpoints are named under it",
            }
        )
    values = {"EMAIL": reg.contact_email, "CONTACTTEL": reg.contact_phone, "NGI": reg.ngi,
              "Country": reg.country, "TIMEZONE": reg.timezone}  # fmt: skip
    for field, key, why in REQUIRED:
        if not values[field]:
            found.append(
                {
                    "field": f"gocdb.site.{field}",
                    "set": f"registration.{key}",
                    "at": _at(site, ("registration", key)),
                    "why": why,
                }
            )
    return found


def _notes(site: Site, capacity: Capacity, api_server: str | None) -> list[str]:
    notes = []
    if capacity.source != "cluster":
        notes.append(
            "capacity is planned (the profile's `requires`), not measured: give --kubeconfig "
            "to count the cluster's nodes"
        )
    batch = site.components.get("batch", {})
    if batch.get("enabled") and batch.get("mode", "queue") == "queue" and not api_server:
        notes.append(
            "the batch queue's API server is not known without --kubeconfig: its GOCDB "
            "service and CRIC ce_endpoint are left out"
        )
    if batch.get("enabled") and batch.get("mode") == "htcondor":
        notes.append(
            "the batch connector runs an HTCondor pool without a CE: CRIC's queue lists no "
            "CE; add the one in front of the pool, if there is one"
        )
    return notes


def build(site: Site, capacity: Capacity, api_server: str | None = None) -> dict[str, Any]:
    """The document; ``api_server``: the batch queue's Kubernetes API, when known."""
    reg = settings.of(site)
    endpoints = _endpoints(site, api_server)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "site": site.name,
            "profile": site.profile,
            "distribution": site.distribution.version,
        },
        "capacity": capacity.as_dict(),
        "gocdb": _gocdb(site, reg, endpoints),
        "cric": {"queues": _cric(site, reg, capacity, api_server)},
        "missing": _missing(site, reg),
        "notes": _notes(site, capacity, api_server),
    }
