"""JupyterHub (zero-to-jupyterhub): login, server profiles, the Dask wiring."""

from __future__ import annotations

from sitebox.components import common
from sitebox.components.names import CVMFS_CLAIM, SYSTEM_NAMESPACE
from sitebox.compose.secrets import Secrets
from sitebox.errors import Location, SiteboxError
from sitebox.model.siteconfig import Site

CHART_KEY = "jupyterhub"  # the chart, and its values key in the umbrella
Values = common.Values


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


def _route(site: Site) -> Values:
    """The hub's route from the site's entry point: an HTTPRoute on the site's Gateway, or
    an Ingress of its class, for hub.<domain>. None for `none` (port-forward) and for a
    load balancer, which is the proxy's own Service."""
    host = common.routed_host(site, "hub", "the hub")
    if host is None:
        return {}
    if site.config["ingress"]["type"] == "gateway":
        route = {"enabled": True, "hostnames": [host], "gateway": common.site_gateway(site)}
        return {"httpRoute": route}
    return {"ingress": common.ingress_rule(site, host)}


def values(site: Site, secrets: Secrets) -> Values:
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
    selector, terms = common.placement(site, "users")
    values: Values = {
        "hub": {
            "cookieSecret": secrets["hub.cookieSecret"],
            "config": config,
            "resources": common.resources(spec.get("resources")),
            "nodeSelector": common.selector(site, "hub"),
            # The hub's database (users, tokens, servers) on its claim: the release makes
            # the claim, and Helm would delete it with the release; uninstall keeps data.
            "db": {"pvc": {"annotations": {"helm.sh/resource-policy": "keep"}}},
        },
        "proxy": {
            "secretToken": secrets["hub.proxyToken"],
            "chp": {"resources": common.sized("100m", "256Mi")},
            "service": {"type": common.entry_service_type(site)},
        },
        "singleuser": {"profileList": profiles, "nodeSelector": selector},
        # The hook puller is a Helm hook that holds every upgrade until an image is on
        # every node; the continuous puller does the same for new nodes without blocking.
        "prePuller": {"hook": {"enabled": False}, "resources": common.sized("10m", "32Mi")},
        # The user scheduler and placeholders pack users onto few nodes so that an
        # autoscaler can remove the rest; the profiles' clusters have a fixed size, where
        # the cluster's own scheduler places users as well.
        "scheduling": {
            "userScheduler": {"enabled": False},
            "userPlaceholder": {"enabled": False},
        },
        **_route(site),
    }
    if terms:
        values["singleuser"]["extraNodeAffinity"] = {"required": terms}
    storage_class = common.storage_class(site)
    if storage_class:
        # The users' home volumes and the hub's database (sqlite on a claim, the default).
        values["singleuser"]["storage"] = {"dynamic": {"storageClass": storage_class}}
        values["hub"]["db"]["pvc"]["storageClassName"] = storage_class
    if common.notebook_cvmfs(site):
        values["singleuser"].setdefault("storage", {}).update(
            {
                "extraVolumes": [
                    {"name": "cvmfs", "persistentVolumeClaim": {"claimName": CVMFS_CLAIM}}
                ],
                "extraVolumeMounts": [{"name": "cvmfs", "mountPath": "/cvmfs", "readOnly": True}],
            }
        )
    if common.enabled(site, "monitoring"):
        values["hub"].update(_metrics(secrets))
    if site.components["dask"].get("enabled"):
        # DaskHub: the hub registers the gateway as a service with the one shared token.
        values["hub"].setdefault("services", {})["dask-gateway"] = {
            "apiToken": secrets["dask.apiToken"]
        }
        values["singleuser"]["extraEnv"] = {
            "DASK_GATEWAY__ADDRESS": "http://proxy-public/services/dask-gateway",
            "DASK_GATEWAY__PUBLIC_ADDRESS": "/services/dask-gateway/",
            "DASK_GATEWAY__AUTH__TYPE": "jupyterhub",
        }
    return values


def _metrics(secrets: Secrets) -> Values:
    """The site's Prometheus reads /hub/metrics as a hub service whose token may read
    metrics only (JupyterHub authenticates that endpoint, and the proxy routes /hub/ to
    the world), from the system namespace, which the hub's network policy must admit."""
    prometheus = {
        "matchLabels": {
            "app.kubernetes.io/name": "prometheus",
            "app.kubernetes.io/component": "server",
        }
    }
    system = {"matchLabels": {"kubernetes.io/metadata.name": SYSTEM_NAMESPACE}}
    return {
        "services": {"prometheus": {"apiToken": secrets["monitoring.hubToken"]}},
        "loadRoles": {
            "prometheus": {
                "description": "the site's Prometheus reads the hub's metrics",
                "scopes": ["read:metrics"],
                "services": ["prometheus"],
            }
        },
        # Scraped by its own job with that token; the chart's annotation would have the
        # generic annotation job try it without one.
        "service": {"annotations": {"prometheus.io/scrape": "false"}},
        "networkPolicy": {
            "ingress": [
                {
                    "from": [{"namespaceSelector": system, "podSelector": prometheus}],
                    "ports": [{"port": "http"}],
                }
            ]
        },
    }
