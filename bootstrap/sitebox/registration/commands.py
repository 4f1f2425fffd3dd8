"""``sitebox registration``: the site's registration data for GOCDB and CRIC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from rich.table import Table

from sitebox import console
from sitebox.compose.commands import load_site, profile_option, site_option
from sitebox.kube import Kube
from sitebox.model.siteconfig import Site
from sitebox.options import context_option, kubeconfig_option
from sitebox.registration import capacity, document

FORMATS = ("text", "yaml", "json")


def collect(site: Site, kube: Kube | None) -> dict[str, Any]:
    """The document, measured on ``kube``'s cluster when one is given, else planned."""
    if kube is None:
        return document.build(site, capacity.planned(site))
    return document.build(site, capacity.measured(site, kube), kube.endpoint()[0])


def _fields(title: str, fields: dict[str, Any]) -> Table:
    table = Table("field", "value", title=title, title_justify="left")
    for key, value in fields.items():
        table.add_row(key, "-" if value is None else str(value))
    return table


def show(doc: dict[str, Any]) -> None:
    meta, size = doc["metadata"], doc["capacity"]
    out = console.out
    out.print(
        f"registration of site {meta['site']} ({meta['profile']}, distribution "
        f"{meta['distribution']})", markup=False,
    )  # fmt: skip
    nodes = f"{size['nodes']} nodes, " if size["nodes"] is not None else ""
    out.print(
        f"capacity ({size['source']}): {nodes}{size['cores']} cores, {size['memoryGiB']} GiB "
        f"memory, storage {size['storage'] or '-'}", markup=False,
    )  # fmt: skip
    out.print(_fields("GOCDB site", doc["gocdb"]["site"]))
    services = Table("endpoint", "serviceType", "endpointUrl", title="GOCDB services",
                     title_justify="left")  # fmt: skip
    for service in doc["gocdb"]["services"]:
        fields = service["fields"]
        services.add_row(service["endpoint"], fields["serviceType"] or "(none: see notes)",
                         fields["endpointUrl"])  # fmt: skip
    if doc["gocdb"]["services"]:
        out.print(services)
    else:
        out.print("GOCDB services: none (without a domain the site publishes no endpoints)")
    for queue in doc["cric"]["queues"]:
        out.print(_fields(f"CRIC PanDA queue {queue['nickname']}", queue))
    notes = [
        f"{s['endpoint']}: {s['note']}" for s in doc["gocdb"]["services"] if s.get("note")
    ] + doc["notes"]
    for note in notes:
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    if doc["missing"]:
        out.print("to fill in before submitting:", markup=False)
        for item in doc["missing"]:
            out.print(
                f"  {item['field']}: set {item['set']} in {item['at']}: {item['why']}",
                markup=False, soft_wrap=True,
            )  # fmt: skip
    console.err.print(
        "the document itself: -o yaml (or json); docs/grid.md says what goes where",
        markup=False,
    )


def dump(doc: dict[str, Any], output: str) -> str:
    if output == "json":
        return json.dumps(doc, indent=2) + "\n"
    return yaml.safe_dump(doc, sort_keys=False)


@click.command("registration")
@site_option
@profile_option
@click.option("--output", "-o", type=click.Choice(FORMATS), default="text", show_default=True)
@kubeconfig_option
@context_option
def registration_cmd(
    site_file: Path | None,
    profile: str | None,
    output: str,
    kubeconfig: Path | None,
    context: str | None,
) -> None:
    """The site's endpoints and capacity as GOCDB and CRIC ask for them, to submit to the
    grid's information systems; with --kubeconfig the capacity is the cluster's (node
    allocatable), without it the profile's plan. Lists what only you can fill in."""
    site = load_site(site_file, profile)
    kube = Kube(kubeconfig, context) if kubeconfig or context else None
    doc = collect(site, kube)
    if output == "text":
        show(doc)
    else:
        print(dump(doc, output), end="")
