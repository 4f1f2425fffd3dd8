"""The grid information systems' own names for what a site registers: facts read from
their public sources, kept apart from the code that fills them in.

GOCDB (GOCDB/gocdb 9c97f141, 2025-07-07): the fields of its "Add Site" and "Add Service"
forms (htdocs/web_portal/views/site/add_site.php, views/service/add_service.php; the
text fields are those config/gocdb_schema.xml validates). The forms mark DOMAIN,
SHORT_NAME, DESCRIPTION, EMAIL and CONTACTTEL of a site, and HOSTNAME, DESCRIPTION and
EMAIL of a service, as required; NGI, Country, TIMEZONE and ProductionStatus are lists to
choose from, so they need a value too.

CRIC: the PanDA queue fields PanDA Harvester reads (HSF/harvester d561b72f:
harvestermisc/info_utils.py, info_utils_k8s.py, harvestersubmitter/k8s_submitter.py,
harvesterworkermaker/simple_worker_maker.py): corecount; maxrss (MiB, a job's memory);
maxtime (seconds, a job's wall time); maxwdir (MiB, a job's working directory);
queues[0].ce_queue_name and the associated parameter k8s.namespace (the namespace of a
Kubernetes queue); the rest (nickname, rc_site, gocname, country, tier_level, nodes,
is_cvmfs, resource_type) as a queue's CRIC record carries them.
"""

from __future__ import annotations

from typing import NamedTuple

GOCDB_SITE_FIELDS = (
    "SHORT_NAME", "OFFICIAL_NAME", "DESCRIPTION", "DOMAIN", "HOME_URL", "EMAIL", "CONTACTTEL",
    "CSIRTEMAIL", "NGI", "Country", "TIMEZONE", "LATITUDE", "LONGITUDE", "ProductionStatus",
)  # fmt: skip
GOCDB_SITE_REQUIRED = (
    "SHORT_NAME", "DESCRIPTION", "DOMAIN", "EMAIL", "CONTACTTEL", "NGI", "Country", "TIMEZONE",
    "ProductionStatus",
)  # fmt: skip
GOCDB_SERVICE_FIELDS = (
    "hostingSite", "serviceType", "endpointUrl", "HOSTNAME", "DESCRIPTION", "HOST_BETA",
    "PRODUCTION_LEVEL", "IS_MONITORED", "EMAIL",
)  # fmt: skip
GOCDB_SERVICE_REQUIRED = ("hostingSite", "serviceType", "HOSTNAME", "DESCRIPTION", "EMAIL")

CRIC_QUEUE_FIELDS = (
    "nickname", "rc_site", "gocname", "country", "tier_level", "resource_type", "corecount",
    "maxrss", "maxtime", "maxwdir", "nodes", "is_cvmfs", "queues", "params",
)  # fmt: skip
CRIC_CE_FIELDS = ("ce_endpoint", "ce_queue_name")
K8S_NAMESPACE_PARAMETER = "k8s.namespace"


class ServiceType(NamedTuple):
    """The GOCDB service type of one of the site's endpoints, or None and why not."""

    name: str | None
    note: str


# Per endpoint sitebox publishes. A type counts only where GOCDB is seen to hold it: in
# its shipped list of types (lib/Doctrine/deploy/requiredData/ServiceTypes.xml) or in
# production use (EGI's ARGO monitoring profiles and topology name it).
SERVICE_TYPES = {
    "hub": ServiceType(
        "eu.egi.notebooks.jupyterhub",
        "the type EGI's own JupyterHub (EGI Notebooks) is registered under",
    ),
    "s3": ServiceType(
        None,
        "GOCDB has no type for a generic S3 store (Ceph object stores use "
        "com.ceph.object-storage); agree one with your NGI, or leave it out",
    ),
    "htcondor-collector": ServiceType(
        None,
        "org.opensciencegrid.htcondorce is the type of an HTCondor-CE, which a pool's "
        "central manager is not; register the CE in front of the pool, if there is one",
    ),
    "htcondor-schedd": ServiceType(
        None,
        "an access point (schedd) has no GOCDB type; peers find it through the fleet",
    ),
    "batch": ServiceType(
        None,
        "GOCDB has no type for a Kubernetes API endpoint; workload managers learn it "
        "from CRIC and the queue description (`sitebox batch queue-config`)",
    ),
}
