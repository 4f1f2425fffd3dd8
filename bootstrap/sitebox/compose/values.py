"""Chart values for each component, from the site model and its secrets.

One function per component; each returns the values for that component's
chart. The site's raw `values:` overrides are merged last, by ``site_values``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sitebox.compose.secrets import Secrets
from sitebox.errors import Location, SiteboxError
from sitebox.model.merge import deep_merge
from sitebox.model.siteconfig import Site

SITE_NAMESPACE = "sitebox"
SYSTEM_NAMESPACE = "sitebox-system"
BATCH_NAMESPACE = "batch"
# The values key of each component's chart inside the umbrella: the dependency's name.
CHART_KEY = {
    "site": "site-base",
    "hub": "jupyterhub",
    "dask": "dask-gateway",
    "workflow": "reana",
    "argo": "argo-workflows",
    "batch": "batch",
    "storage": "seaweedfs",
    "cvmfs": "cvmfs-csi",
    "nfs": "csi-driver-nfs",
}
PRIORITY_PREFIX = "sitebox"
# The StorageClass cvmfs-csi creates for automounted repositories, and the claim on it that
# notebook servers (site namespace, made by site-base) and batch jobs (batch namespace, made by
# the batch chart) mount at /cvmfs.
CVMFS_CLASS = "cvmfs"
CVMFS_CLAIM = "cvmfs"
# REANA 0.9.4 has three shared-storage backends. `hostpath` keeps every workspace in a directory
# of the node the pod runs on, so REANA works on one node only. `cephfs` means an OpenStack
# Manila share (share and access IDs, an OpenStack secret), which site.yaml cannot describe.
# `nfs` means a ReadWriteMany claim on a StorageClass, and is right for any RWX storage; but
# the chart names that class itself ("<prefix>-shared-volume-storage-class", the prefix being
# the release and chart names cut to 13 characters) and has no key to choose another.
REANA_SHARED_CLASS = "sitebox-reana-shared-volume-storage-class"

Values = dict[str, Any]


def _resources(spec: dict[str, Any] | None) -> Values:
    """Requests as the profile sizes them; the memory limit equal to the request, CPU
    unlimited above it (bursting is harmless, memory overcommit is not)."""
    if not spec:
        return {}
    return {
        "requests": {"cpu": str(spec["cpu"]), "memory": spec["memory"]},
        "limits": {"memory": spec["memory"]},
    }


def _pools(site: Site, purpose: str) -> list[Values]:
    return [pool for pool in site.config.get("nodePools", []) if purpose in pool.get("for", [])]


def _selector(site: Site, purpose: str) -> dict[str, str]:
    """The node labels of the pool meant for ``purpose`` (empty: any node), for the charts
    that place a workload by nodeSelector only (the site loader allows one such pool)."""
    pools = _pools(site, purpose)
    return dict(pools[0]["selector"]) if pools else {}


def _placement(site: Site, purpose: str) -> tuple[dict[str, str], list[Values]]:
    """Where ``purpose`` runs, for the charts that take node affinity as well: the one pool's
    labels as a nodeSelector, or with several pools one NodeSelectorTerm each, which
    Kubernetes ORs (a pod lands on a node of any of them). A pool with an empty selector
    takes any node, and so does the workload then."""
    pools = _pools(site, purpose)
    if len(pools) == 1:
        return dict(pools[0]["selector"]), []
    if not all(pool["selector"] for pool in pools):
        return {}, []
    terms = [
        {
            "matchExpressions": [
                {"key": key, "operator": "In", "values": [value]}
                for key, value in sorted(pool["selector"].items())
            ]
        }
        for pool in pools
    ]
    return {}, terms


def _required_affinity(terms: list[Values]) -> Values:
    required = {"nodeSelectorTerms": terms}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


def _storage_class(site: Site) -> str | None:
    """The site's class for ReadWriteOnce volumes; None leaves the cluster's default."""
    name: str | None = site.config.get("storage", {}).get("className")
    return name


def _shared_storage(site: Site) -> bool:
    """Whether the site has ReadWriteMany storage: a class of its own, or an NFS export that
    sitebox serves through the nfs component."""
    storage = site.config.get("storage", {})
    # The export serves volumes only through the nfs component, which may be left out
    # (its chart not on this machine).
    served = storage.get("nfs") and site.components["nfs"].get("enabled")
    return bool(storage.get("sharedClassName") or served)


def _notebook_cvmfs(site: Site) -> bool:
    """Notebook servers mount /cvmfs when both the hub and CVMFS are on."""
    return all(site.components[name].get("enabled") for name in ("hub", "cvmfs"))


def _site(site: Site, secrets: Secrets) -> Values:
    enabled = site.enabled()
    return {
        "site": {
            "name": site.name,
            "domain": site.config.get("domain", "example.org"),
            "distribution": site.distribution.version,
            "profile": site.profile,
            "components": enabled,
        },
        # The applications share the release's namespace; the batch connector gets its
        # own, so grid jobs have their own quota, limits and RBAC.
        "namespaces": {
            "hub": {"enabled": False},
            "dask": {"enabled": False},
            "storage": {"enabled": False},
            "workflow": {"enabled": False},
            "batch": {"enabled": "batch" in enabled, "name": BATCH_NAMESPACE},
        },
        "priorityClasses": {"create": False, "prefix": PRIORITY_PREFIX},
        # The claim notebook servers mount, in the site namespace: the batch chart's is in
        # the batch namespace, and a pod can mount claims of its own namespace only.
        "cvmfs": {
            "enabled": _notebook_cvmfs(site),
            "claimName": CVMFS_CLAIM,
            "storageClass": CVMFS_CLASS,
            "repositories": site.config.get("cvmfs", {}).get("repositories", []),
        },
        **_federation(site),
    }


def _federation(site: Site) -> Values:
    """The federation ConfigMap's values, for a site of a fleet only: a lone site's
    values stay as they were, so installing it again changes nothing."""
    if site.federation is None:
        return {}
    keys = ("fleet", "issuer", "peers")
    return {"federation": {"enabled": True, **{key: site.federation[key] for key in keys}}}


# Where each provider serves its OAuth endpoints (authorize, token, userinfo), under its
# issuer URL. Keycloak's issuer is the realm (https://host/realms/NAME).
OIDC_PATHS = {
    "keycloak": (
        "/protocol/openid-connect/auth",
        "/protocol/openid-connect/token",
        "/protocol/openid-connect/userinfo",
    ),
    "cilogon": ("/authorize", "/oauth2/token", "/oauth2/userinfo"),
    "indigo-iam": ("/authorize", "/token", "/userinfo"),
    "generic": ("/authorize", "/token", "/userinfo"),
}


# The claim each provider puts a user's groups in (CILogon: the eduPerson attribute).
GROUPS_CLAIM = {"cilogon": "isMemberOf"}


def _callback(site: Site) -> str:
    domain = site.config.get("domain")
    if not domain:
        raise SiteboxError(
            "auth.type oidc needs the site's domain: the provider sends users back to "
            "https://hub.<domain>/hub/oauth_callback",
            hint="set `domain:` in site.yaml (e.g. physics.example.edu), the domain hub.<domain> "
            "is served under",
            location=Location(str(site.source or "site.yaml"), key="domain"),
        )
    return f"https://hub.{domain}/hub/oauth_callback"


def _client_secret(site: Site, oidc: Values, secrets: Secrets) -> str:
    if "oidc.clientSecret" in secrets:
        return secrets["oidc.clientSecret"]
    variable = oidc.get("clientSecretEnv")
    raise SiteboxError(
        "the hub's OIDC client secret is not set"
        + (f": environment variable {variable} is empty or unset" if variable else ""),
        hint=f"export {variable or 'HUB_OIDC_SECRET'}=<the secret from the provider's client "
        "registration> and run again (it is stored with the site's secrets, and reused later)"
        + ("" if variable else "; name that variable in auth.oidc.clientSecretEnv"),
        location=Location(str(site.source or "site.yaml"), key="auth.oidc.clientSecretEnv"),
    )


def _hub(site: Site, secrets: Secrets) -> Values:
    spec = site.components["hub"]
    auth = site.config.get("auth", {"type": "dummy"})
    config: Values = {"Authenticator": {"admin_users": auth.get("admins", [])}}
    if auth.get("type") == "oidc":
        oidc = auth["oidc"]
        issuer = oidc["issuer"].rstrip("/")
        authorize, token, userinfo = OIDC_PATHS[oidc.get("provider", "generic")]
        config["JupyterHub"] = {"authenticator_class": "generic-oauth"}
        config["GenericOAuthenticator"] = {
            "client_id": oidc["clientId"],
            "client_secret": _client_secret(site, oidc, secrets),
            "oauth_callback_url": _callback(site),
            "authorize_url": issuer + authorize,
            "token_url": issuer + token,
            "userdata_url": issuer + userinfo,
            "scope": ["openid", "profile", "email"],
            "username_claim": oidc.get("usernameClaim", "preferred_username"),
        }
        groups = oidc.get("allowedGroups", [])
        if groups:
            config["GenericOAuthenticator"]["allowed_groups"] = groups
            config["GenericOAuthenticator"]["claim_groups_key"] = GROUPS_CLAIM.get(
                oidc.get("provider", "generic"), "groups"
            )
        else:
            # JupyterHub 5 lets in only admins unless told whom to allow: no groups means
            # everyone the site's provider authenticates.
            config["Authenticator"]["allow_all"] = True
    else:
        config["JupyterHub"] = {"authenticator_class": "dummy"}
        config["Authenticator"]["allow_all"] = True
    profiles = []
    for entry in spec.get("serverProfiles", []):
        override: Values = {
            "cpu_guarantee": float(str(entry["cpu"]).removesuffix("m")) / 1000
            if str(entry["cpu"]).endswith("m")
            else float(entry["cpu"]),
            "mem_guarantee": entry["memory"].replace("i", ""),
            "mem_limit": entry["memory"].replace("i", ""),
        }
        override["cpu_limit"] = override["cpu_guarantee"]
        if entry.get("gpu"):
            override["extra_resource_limits"] = {"nvidia.com/gpu": str(entry["gpu"])}
        profiles.append(
            {
                "display_name": entry["name"],
                "description": entry.get("description", ""),
                "default": bool(entry.get("default", False)),
                "kubespawner_override": override,
            }
        )
    selector, terms = _placement(site, "users")
    values: Values = {
        "hub": {
            "cookieSecret": secrets["hub.cookieSecret"],
            "config": config,
            "resources": _resources(spec.get("resources")),
            "nodeSelector": _selector(site, "hub"),
        },
        "proxy": {"secretToken": secrets["hub.proxyToken"]},
        "singleuser": {"profileList": profiles, "nodeSelector": selector},
    }
    if terms:
        values["singleuser"]["extraNodeAffinity"] = {"required": terms}
    storage_class = _storage_class(site)
    if storage_class:
        # The users' home volumes and the hub's database (sqlite on a claim, the default).
        values["singleuser"]["storage"] = {"dynamic": {"storageClass": storage_class}}
        values["hub"]["db"] = {"pvc": {"storageClassName": storage_class}}
    if _notebook_cvmfs(site):
        values["singleuser"].setdefault("storage", {}).update(
            {
                "extraVolumes": [
                    {"name": "cvmfs", "persistentVolumeClaim": {"claimName": CVMFS_CLAIM}}
                ],
                "extraVolumeMounts": [{"name": "cvmfs", "mountPath": "/cvmfs", "readOnly": True}],
            }
        )
    if site.components["dask"].get("enabled"):
        # DaskHub: the hub registers the gateway as a service with the one shared token.
        values["hub"]["services"] = {"dask-gateway": {"apiToken": secrets["dask.apiToken"]}}
        values["singleuser"]["extraEnv"] = {
            "DASK_GATEWAY__ADDRESS": "http://proxy-public/services/dask-gateway",
            "DASK_GATEWAY__PUBLIC_ADDRESS": "/services/dask-gateway/",
            "DASK_GATEWAY__AUTH__TYPE": "jupyterhub",
        }
    return values


def _gateway_memory(quantity: str) -> str:
    """Dask Gateway's memory limits take K, M, G, T (powers of 1024), not Ki, Mi, Gi, Ti."""
    return quantity[:-1] if quantity[-2:] in ("Ki", "Mi", "Gi", "Ti") else quantity


def _dask(site: Site, secrets: Secrets) -> Values:
    spec = site.components["dask"]
    limits = spec.get("perUser", {})
    extra = []
    if limits:
        extra.append(
            "c.UserLimits.max_cores = {}\nc.UserLimits.max_memory = {!r}\n"
            "c.UserLimits.max_clusters = {}".format(
                limits.get("maxCores", 0),
                _gateway_memory(str(limits.get("maxMemory", "0"))),
                limits.get("maxClusters", 0),
            )
        )
    gateway: Values = {
        "auth": {
            "type": "jupyterhub",
            "jupyterhub": {
                "apiToken": secrets["dask.apiToken"],
                "apiUrl": f"http://hub.{SITE_NAMESPACE}.svc:8081/hub/api",
            },
        },
        "resources": _resources(spec.get("resources")),
    }
    if extra:
        gateway["extraConfig"] = {"sitebox-limits": "\n".join(extra)}
    selector, terms = _placement(site, "dask")
    pod: Values = {}
    if selector:
        pod["nodeSelector"] = selector
    if terms:
        pod["affinity"] = _required_affinity(terms)
    if pod:
        gateway["backend"] = {
            "scheduler": {"extraPodConfig": pod},
            "worker": {"extraPodConfig": pod},
        }
    return {"gateway": gateway, "controller": {"resources": _resources(spec.get("resources"))}}


def _workflow(site: Site, secrets: Secrets) -> Values:
    return {
        "secrets": {
            "database": {"user": "reana", "password": secrets["workflow.databasePassword"]},
            "cache": {"password": secrets["workflow.cachePassword"]},
            "message_broker": {"user": "reana", "password": secrets["workflow.brokerPassword"]},
            "reana": {"secret_key": secrets["workflow.secretKey"]},
        },
        # See REANA_SHARED_CLASS: a claim on the site's ReadWriteMany storage, else a node
        # directory (REANA then works on one node only).
        "shared_storage": {"backend": "nfs" if _shared_storage(site) else "hostpath"},
    }


def _argo(site: Site, secrets: Secrets) -> Values:
    return {"crds": {"install": False}}


def _batch(site: Site, secrets: Secrets) -> Values:
    spec = site.components["batch"]
    quota = spec.get("quota", {})
    values: Values = {
        "mode": spec.get("mode", "queue"),
        "namespaceOverride": BATCH_NAMESPACE,
        "quota": {
            "requests.cpu": str(quota.get("cpu", "8")),
            "limits.cpu": str(quota.get("cpu", "8")),
            "requests.memory": quota.get("memory", "32Gi"),
            "limits.memory": quota.get("memory", "32Gi"),
            "pods": str(quota.get("pods", 100)),
            "count/jobs.batch": str(quota.get("jobs", 1000)),
        },
        "cvmfs": {
            "enabled": bool(site.components["cvmfs"].get("enabled")),
            "claimName": CVMFS_CLAIM,
            "storageClass": CVMFS_CLASS,
            "repositories": site.config.get("cvmfs", {}).get("repositories", []),
        },
        "htcondor": {
            "poolPassword": secrets["batch.poolPassword"],
            "tokenSigningKey": secrets["batch.signingKey"],
        },
    }
    storage_class = _storage_class(site)
    if storage_class:
        values["htcondor"]["submit"] = {"spool": {"storageClass": storage_class}}
    values["job"] = {"nodeSelector": _selector(site, "batch")}
    if "job" in spec:
        values["job"].update(cpu=str(spec["job"]["cpu"]), memory=spec["job"]["memory"])
    if spec.get("workers"):
        values["htcondor"]["workers"] = {"count": spec["workers"]}
    if site.federation is not None:
        values["htcondor"]["flocking"] = site.federation["flocking"]
    return values


def _storage(site: Site, secrets: Secrets) -> Values:
    spec = site.components["storage"]
    data: Values = {
        "name": "data",
        "type": "persistentVolumeClaim",
        "size": spec.get("size", "10Gi"),
        "maxVolumes": 0,
    }
    storage_class = _storage_class(site)
    if storage_class:
        data["storageClass"] = storage_class
    return {
        "s3": {
            "enabled": True,
            "enableAuth": True,
            "credentials": {
                "admin": {
                    "accessKey": secrets["storage.accessKey"],
                    "secretKey": secrets["storage.secretKey"],
                }
            },
            "resources": _resources(spec.get("resources")),
        },
        "volume": {"dataDirs": [data]},
    }


def _cvmfs(site: Site, secrets: Secrets) -> Values:
    cvmfs = site.config.get("cvmfs", {})
    # The site's squid, never the chart's default (CERN's proxy); DIRECT only without one.
    lines = [
        "CVMFS_USE_GEOAPI=yes",
        f'CVMFS_HTTP_PROXY="{cvmfs.get("proxy", "DIRECT")}"',
        "CVMFS_QUOTA_LIMIT={{ .Values.cache.local.cvmfsQuotaLimit }}",
        "CVMFS_CACHE_BASE={{ .Values.cache.local.location }}",
    ]
    if cvmfs.get("repositories"):
        lines.append("CVMFS_REPOSITORIES=" + ",".join(cvmfs["repositories"]))
    return {
        "automountStorageClass": {"create": True, "name": CVMFS_CLASS},
        "extraConfigMaps": {"cvmfs-csi-default-local": {"default.local": "\n".join(lines) + "\n"}},
    }


def _nfs(site: Site, secrets: Secrets) -> Values:
    nfs = site.config.get("storage", {}).get("nfs")
    if not nfs:
        raise SiteboxError(
            "the nfs component needs the NFS export to serve volumes from",
            hint="add `storage: {nfs: {server: nfs.example.edu, path: /export/sitebox}}` to "
            "site.yaml, or turn the component off (`components: {nfs: {enabled: false}}`)",
            location=Location(str(site.source or "site.yaml"), key="storage.nfs"),
        )
    parameters = {"server": nfs["server"], "share": nfs["path"]}
    values: Values = {
        "storageClass": {
            "create": True,
            "name": site.config["storage"].get("sharedClassName", "shared"),
            "parameters": parameters,
        }
    }
    if site.components["workflow"].get("enabled"):
        # The class REANA's shared claim asks for by name, on the same export.
        values["storageClasses"] = [{"name": REANA_SHARED_CLASS, "parameters": parameters}]
    return values


BUILDERS: dict[str, Callable[[Site, Secrets], Values]] = {
    "site": _site,
    "hub": _hub,
    "dask": _dask,
    "workflow": _workflow,
    "argo": _argo,
    "batch": _batch,
    "storage": _storage,
    "cvmfs": _cvmfs,
    "nfs": _nfs,
}


def component_values(site: Site, secrets: Secrets, name: str) -> Values:
    """One component's chart values: composed, then the site's raw overrides on top."""
    return deep_merge(BUILDERS[name](site, secrets), site.overrides.get(name, {}))


def release_values(site: Site, secrets: Secrets, release: str, included: list[str]) -> Values:
    """Values of the `sitebox` or `sitebox-system` chart: every toggle, and the values
    of the components the composed chart includes."""
    values: Values = {}
    for name, component in site.distribution.components.items():
        if component.release != release:
            continue
        if name in included:
            values[CHART_KEY[name]] = component_values(site, secrets, name)
        # For batch the toggle and the chart's values share a key: merge, never replace.
        values.setdefault(name, {})["enabled"] = name in included
    if release == "system":
        values["priorityClasses"] = {"create": True, "prefix": PRIORITY_PREFIX}
    return values
