"""Prometheus (prometheus-community's `prometheus` chart) with kube-state-metrics and
node-exporter, in the system release: what it scrapes is in ``scrape``."""

from __future__ import annotations

import json
import re

from sitebox.accounting.records import DEFAULT_VO_LABEL
from sitebox.components import common, scrape
from sitebox.components.names import PROMETHEUS_SERVICE
from sitebox.compose.secrets import Secrets
from sitebox.model.siteconfig import Site

CHART_KEY = "prometheus"  # the chart, and its values key in the umbrella
Values = common.Values

RETENTION_DAYS = 35  # a month's accounting, read back in the days after it ends
RETENTION = f"{RETENTION_DAYS}d"
SIZE = "50Gi"
# The share of the claim Prometheus may fill before it deletes its oldest blocks: the
# write-ahead log and a compaction's new block need the rest.
FILL = 0.9
# Binary multiples of the claim's quantity, in the units Prometheus's retention size
# takes (B, KB, MB, GB, TB: powers of 1024).
_UNITS = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5}
_PROMETHEUS_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
# In the system namespace, mounted by the server.
HUB_TOKEN_SECRET = "prometheus-hub-token"  # noqa: S105 (the Secret's name, not a secret)


def values(site: Site, secrets: Secrets) -> Values:
    spec = site.components["monitoring"]
    size = spec.get("size", SIZE)
    claim: Values = {
        "size": size,
        # The release makes the claim, and Helm would delete it with the release;
        # uninstall keeps data (a month's accounting is read from it).
        "annotations": {"helm.sh/resource-policy": "keep"},
    }
    storage_class = common.storage_class(site)
    if storage_class:
        claim["storageClass"] = storage_class
    server: Values = {
        # Named by sitebox, not by the release: http://prometheus.sitebox-system.svc.
        "fullnameOverride": PROMETHEUS_SERVICE,
        # The ClusterRole is cluster-wide, where `prometheus` is often taken already.
        "clusterRoleNameOverride": f"sitebox-{PROMETHEUS_SERVICE}",
        "retention": spec.get("retention", RETENTION),
        "retentionSize": retention_size(size),
        "persistentVolume": claim,
        "resources": common.resources(spec.get("resources")) or common.sized("500m", "2Gi"),
        "containerSecurityContext": _restricted(),
        # A batch job shorter than the interval may never be seen; 30 s is Prometheus's
        # usual compromise between that and the number of samples kept.
        "global": {"scrape_interval": "30s", "evaluation_interval": "30s"},
    }
    values: Values = {
        "server": server,
        "scrapeConfigs": scrape.configs(site),
        "configmapReload": {
            "prometheus": {
                "resources": common.sized("10m", "32Mi"),
                "containerSecurityContext": _restricted(),
            }
        },
        # No alert routing is configured by sitebox (a site's own Alertmanager can be
        # named in server.alertmanagers), and nothing pushes metrics.
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "kube-state-metrics": {
            "resources": common.sized("50m", "128Mi"),
            # The VO label `sitebox accounting` reads, as kube_pod_labels/kube_job_labels
            # series: per-VO accounting from Prometheus, as KAPEL does it.
            "metricLabelsAllowlist": [
                f"pods=[{DEFAULT_VO_LABEL}]",
                f"jobs=[{DEFAULT_VO_LABEL}]",
            ],
            # Scraped by its own job (scrape.py), not through the annotation that would
            # have the generic job scrape it a second time.
            "prometheusScrape": False,
        },
        "prometheus-node-exporter": {
            "resources": common.sized("20m", "64Mi"),
            "service": {"annotations": {"prometheus.io/scrape": "false"}},
        },
    }
    if common.enabled(site, "hub"):
        token = secrets["monitoring.hubToken"]
        values["extraManifests"] = [_token_secret(token)]
        server["extraSecretMounts"] = [
            {
                "name": "hub-token",
                "mountPath": scrape.HUB_TOKEN_DIR,
                "secretName": HUB_TOKEN_SECRET,
                "readOnly": True,
            }
        ]
    return values


def retention_size(size: str) -> str:
    """The size at which Prometheus deletes its oldest data: ``FILL`` of the claim, in
    Prometheus's units (50Gi: 45GB, Prometheus's GB being 1024³ bytes)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi)", size)
    if not match:
        # Decimal or bare quantities are rare for claims: Kubernetes accepts them, and the
        # retention by time alone still holds.
        return ""
    power = _UNITS[match[2]]
    amount = float(match[1]) * FILL
    # One unit down when the share is not whole (0.9 of 1Gi is 921MB).
    while power > 0 and amount != int(amount):
        amount, power = amount * 1024, power - 1
    return f"{int(amount)}{_PROMETHEUS_UNITS[power]}"


def _restricted() -> Values:
    """A container securityContext for Pod Security's restricted level; the charts set
    the user (65534) at pod level."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _token_secret(token: str) -> str:
    """The Secret holding Prometheus's token for the hub's /hub/metrics, as the chart's
    extraManifests take it (a template string: JSON is YAML, and a hex token holds no
    template braces)."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": HUB_TOKEN_SECRET},
        "type": "Opaque",
        "stringData": {"token": token},
    }
    return json.dumps(secret)
