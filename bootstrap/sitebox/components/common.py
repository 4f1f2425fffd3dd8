"""What several components' values are made of: resources, placement on node pools,
the site's storage classes, the site's entry (Gateway or ingress)."""

from __future__ import annotations

from typing import Any

from sitebox.errors import Location, SiteboxError
from sitebox.model.siteconfig import Site

Values = dict[str, Any]


def resources(spec: dict[str, Any] | None) -> Values:
    """Requests as the profile sizes them; the memory limit equal to the request, CPU
    unlimited above it (bursting is harmless, memory overcommit is not)."""
    if not spec:
        return {}
    return {
        "requests": {"cpu": str(spec["cpu"]), "memory": spec["memory"]},
        "limits": {"memory": spec["memory"]},
    }


def sized(cpu: str, memory: str) -> Values:
    """Resources for a container sitebox sizes itself (a chart's helper, not a profile's
    workload): the same shape as ``resources``."""
    return resources({"cpu": cpu, "memory": memory})


def non_root(uid: int) -> Values:
    """A container securityContext that meets Pod Security's `restricted` level."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def entry_service_type(site: Site) -> str:
    """The type of the Services users enter by: ClusterIP (reached through the site's
    Gateway, ingress or a port-forward) unless the site asks for a load balancer. A
    LoadBalancer Service on a cluster without a load-balancer implementation never gets
    an address, and an install waiting for it never ends."""
    kind = site.config.get("ingress", {}).get("type", "none")
    return "LoadBalancer" if kind == "loadBalancer" else "ClusterIP"


def routed_host(site: Site, name: str, what: str) -> str | None:
    """``<name>.<domain>``, where the site's Gateway or ingress routes users to ``what``;
    None for a port-forward or a load balancer (no route)."""
    kind = site.config.get("ingress", {}).get("type", "none")
    if kind not in ("gateway", "ingress"):
        return None
    domain = site.config.get("domain")
    if not domain:
        raise SiteboxError(
            f"ingress.type {kind} routes {name}.<domain> to {what}, but the site has no domain",
            hint="set `domain:` in site.yaml (e.g. physics.example.edu), or use "
            "`ingress: {type: none}` and a port-forward",
            location=Location(str(site.source or "site.yaml"), key="domain"),
        )
    return f"{name}.{domain}"


def site_gateway(site: Site) -> Values:
    """The Gateway that ``ingress.type: gateway`` routes through."""
    gateway = site.config["ingress"].get("gateway")
    if not gateway:
        raise SiteboxError(
            "ingress.type gateway needs the Gateway that routes to the site",
            hint="add `ingress: {gateway: {name: NAME, namespace: NAMESPACE}}` to site.yaml",
            location=Location(str(site.source or "site.yaml"), key="ingress.gateway"),
        )
    return dict(gateway)


def ingress_rule(site: Site, host: str) -> Values:
    """An Ingress for ``host`` of the site's ingress class (the cluster's default without one)."""
    rule: Values = {"enabled": True, "hosts": [host]}
    if site.config["ingress"].get("className"):
        rule["ingressClassName"] = site.config["ingress"]["className"]
    return rule


def pools(site: Site, purpose: str) -> list[Values]:
    return [pool for pool in site.config.get("nodePools", []) if purpose in pool.get("for", [])]


def selector(site: Site, purpose: str) -> dict[str, str]:
    """The node labels of the pool meant for ``purpose`` (empty: any node), for the charts
    that place a workload by nodeSelector only (the site loader allows one such pool)."""
    found = pools(site, purpose)
    return dict(found[0]["selector"]) if found else {}


def placement(site: Site, purpose: str) -> tuple[dict[str, str], list[Values]]:
    """Where ``purpose`` runs, for the charts that take node affinity as well: the one pool's
    labels as a nodeSelector, or with several pools one NodeSelectorTerm each, which
    Kubernetes ORs (a pod lands on a node of any of them). A pool with an empty selector
    takes any node, and so does the workload then."""
    found = pools(site, purpose)
    if len(found) == 1:
        return dict(found[0]["selector"]), []
    if not all(pool["selector"] for pool in found):
        return {}, []
    terms = [
        {
            "matchExpressions": [
                {"key": key, "operator": "In", "values": [value]}
                for key, value in sorted(pool["selector"].items())
            ]
        }
        for pool in found
    ]
    return {}, terms


def required_affinity(terms: list[Values]) -> Values:
    required = {"nodeSelectorTerms": terms}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


def storage_class(site: Site) -> str | None:
    """The site's class for ReadWriteOnce volumes; None leaves the cluster's default."""
    name: str | None = site.config.get("storage", {}).get("className")
    return name


def shared_storage(site: Site) -> bool:
    """Whether the site has ReadWriteMany storage: a class of its own, or an NFS export that
    sitebox serves through the nfs component."""
    storage = site.config.get("storage", {})
    # The export serves volumes only through the nfs component, which may be left out
    # (its chart not on this machine).
    served = storage.get("nfs") and site.components["nfs"].get("enabled")
    return bool(storage.get("sharedClassName") or served)


def enabled(site: Site, name: str) -> bool:
    """Whether a component is on at this site (one a profile does not list is off)."""
    return bool(site.components.get(name, {}).get("enabled"))


def notebook_cvmfs(site: Site) -> bool:
    """Notebook servers mount /cvmfs when both the hub and CVMFS are on."""
    return all(site.components[name].get("enabled") for name in ("hub", "cvmfs"))
