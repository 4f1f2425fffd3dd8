"""``sitebox cluster up|down|status|list|kubeconfig``."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from sitebox import console
from sitebox.cluster import drivers, sim, storage
from sitebox.cluster.nodes import load_pool_file, parse_specs
from sitebox.cluster.state import ClusterState, all_names
from sitebox.errors import SiteboxError

DRIVERS = ("sim", "kind", "minikube")


@click.group()
def cluster() -> None:
    """Local clusters: `sim` (real control plane, kwok-simulated nodes), kind, minikube."""


_sites_option = click.option(
    "--sites", type=click.IntRange(1, 64), help="N clusters named NAME-1..NAME-N (sim only)."
)


def _site_names(name: str, sites: int) -> list[str]:
    return [f"{name}-{i}" for i in range(1, sites + 1)]


@cluster.command("up")
@click.option("--name", default="sitebox", show_default=True, help="Cluster name; several can run.")
@click.option("--driver", type=click.Choice(DRIVERS), default="sim", show_default=True)
@click.option(
    "--nodes",
    "node_specs",
    multiple=True,
    metavar="SPEC",
    help="Node pool: [POOL=]COUNTxCPUcpu-MEMORY[-GPUgpu], e.g. 3x16cpu-64Gi (repeatable). "
    "Default: 3x16cpu-64Gi.",
)
@click.option(
    "--node-pools",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of pools with labels and taints (see docs/cluster.md).",
)
@click.option(
    "--volumes",
    multiple=True,
    metavar="SPEC",
    help="Pre-provisioned PersistentVolumes per storage class, COUNTxSIZE (repeatable). "
    f"Default: {' '.join(storage.DEFAULT_VOLUMES)}.",
)
@click.option(
    "--api-port", type=click.IntRange(1, 65535), help="API server port (default: a free one)."
)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait.")
@click.option(
    "--pod-startup", type=click.FloatRange(min=0), default=0.0, show_default=True,
    help="Seconds a simulated pod takes from scheduled to Ready (image pull and start-up "
    "on a real node).",
)  # fmt: skip
@_sites_option
def up_cmd(
    name: str,
    driver: str,
    node_specs: tuple[str, ...],
    node_pools: Path | None,
    volumes: tuple[str, ...],
    api_port: int | None,
    timeout: float,
    pod_startup: float,
    sites: int | None,
) -> None:
    """Start a local cluster and wait until every node is Ready; with --sites N, N
    clusters NAME-1..NAME-N side by side (a fleet for demos and tests)."""
    if node_specs and node_pools:
        raise SiteboxError("give --nodes or --node-pools, not both")
    if sites is not None:
        if api_port is not None or driver != "sim":
            raise SiteboxError("--sites starts sim clusters on ports of their own",
                               hint="drop --api-port and --driver")  # fmt: skip
        running: list[str] = []
        try:
            for each in _site_names(name, sites):
                up_cmd.callback(
                    each, driver, node_specs, node_pools, volumes, None, timeout, pod_startup, None
                )  # type: ignore[misc]
                running.append(each)
        except BaseException:
            # Nothing half-started: a fleet that could not come up whole is stopped.
            for each in running:
                sim.down(each, keep_state=False)
            raise
        return
    pools = (
        load_pool_file(node_pools) if node_pools else parse_specs(node_specs or ("3x16cpu-64Gi",))
    )
    if driver != "sim":
        drivers.up(driver, name, sum(p.count for p in pools))
        console.err.print(f"{driver} cluster {name!r} is up; kubectl uses its context")
        return
    tiers = storage.parse_volumes(volumes or storage.DEFAULT_VOLUMES)
    started = time.monotonic()
    with console.err.status(f"cluster {name}: starting") as spinner:
        state = sim.up(
            name,
            pools,
            tiers,
            api_port,
            say=lambda text: spinner.update(f"cluster {name}: {text}"),
            timeout=timeout,
            pod_startup=pod_startup,
        )
    took = time.monotonic() - started
    nodes = sum(int(p["count"]) for p in state.pools)  # a restarted cluster keeps its own
    console.err.print(
        f"cluster {name!r} is up in {took:.1f}s: Kubernetes {state.kubernetes_version}, "
        f"{nodes} simulated nodes, API server {state.server}\n"
        f"  use it:   export KUBECONFIG={state.kubeconfig}\n"
        f"  stop it:  sitebox cluster down --name {name}",
        markup=False,
        soft_wrap=True,
    )


@cluster.command("down")
@click.option("--name", default="sitebox", show_default=True)
@click.option("--driver", type=click.Choice(DRIVERS), default="sim", show_default=True)
@click.option(
    "--keep-state",
    is_flag=True,
    help="Keep logs, PKI and etcd data: to inspect, or to start it again with `up`.",
)
@_sites_option
def down_cmd(name: str, driver: str, keep_state: bool, sites: int | None) -> None:
    """Stop a local cluster: exactly the processes it started, then remove its state."""
    if sites is not None:
        for each in _site_names(name, sites):
            down_cmd.callback(each, driver, keep_state, None)  # type: ignore[misc]
        return
    if driver != "sim":
        drivers.down(driver, name)
        return
    stopped = sim.down(name, keep_state)
    kept = f"; state kept in {ClusterState.load(name).root}" if keep_state else ""  # type: ignore[union-attr]
    console.err.print(f"cluster {name!r} stopped ({len(stopped)} processes){kept}")


@cluster.command("status")
@click.option("--name", default="sitebox", show_default=True)
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def status_cmd(name: str, output: str) -> None:
    """Show a cluster's processes, API server and nodes. Exit 1 unless healthy."""
    state = ClusterState.load(name)
    if state is None:
        raise SiteboxError(f"no cluster named {name!r}", hint="`sitebox cluster list` shows them")
    info = sim.describe(state)
    if output == "json":
        console.emit_json(info)
    else:
        table = Table("process", "pid", "running", title=f"cluster {name}: {info['health']}")
        for proc, detail in info["processes"].items():
            table.add_row(proc, str(detail["pid"]), "yes" if detail["running"] else "[red]no")
        console.out.print(table)
        nodes = info["nodes"]
        ready = f", nodes {nodes['ready']}/{nodes['total']} Ready" if nodes else ""
        console.out.print(
            f"API {info['api']} at {info['server']}, Kubernetes {info['kubernetes']}{ready}\n"
            f"kubeconfig: {info['kubeconfig']}\nlogs: {state.root / 'logs'}",
            markup=False,
            soft_wrap=True,
        )
    if info["health"] != "healthy":
        raise SystemExit(1)


@cluster.command("list")
@click.option("--output", "-o", type=click.Choice(console.OUTPUT_FORMATS), default="text")
def list_cmd(output: str) -> None:
    """List the local sim clusters and their health."""
    rows: list[sim.ClusterInfo] = []
    for name in all_names():
        state = ClusterState.load(name)
        if state is not None:
            info = sim.describe(state)
            rows.append(info)
    if output == "json":
        console.emit_json(rows)
        return
    table = Table("name", "health", "server", "kubernetes", "nodes ready")
    for row in rows:
        nodes = row["nodes"]
        count = f"{nodes['ready']}/{nodes['total']}" if nodes else "-"
        table.add_row(row["name"], row["health"], str(row["server"]), row["kubernetes"], count)
    console.out.print(table)


@cluster.command("kubeconfig")
@click.option("--name", default="sitebox", show_default=True)
def kubeconfig_cmd(name: str) -> None:
    """Print the path of a cluster's kubeconfig (for `export KUBECONFIG=$(...)`)."""
    state = ClusterState.load(name)
    if state is None or not state.kubeconfig.exists():
        raise SiteboxError(f"no cluster named {name!r}", hint="`sitebox cluster list` shows them")
    click.echo(state.kubeconfig)
