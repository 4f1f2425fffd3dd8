"""``sitebox fleet registration``: one site's registration document, written to the
run's folder as ``<site>.registration.yaml``; run by the fleet runner for every site."""

from __future__ import annotations

import yaml

from sitebox.errors import SiteboxError
from sitebox.fleet.model import FleetSite
from sitebox.fleet.ops import Options, Say
from sitebox.fleet.report import SiteReport
from sitebox.kube import Kube
from sitebox.registration import capacity, commands, document


def registration(
    member: FleetSite, options: Options, say: Say, planned: bool = False
) -> SiteReport:
    """``planned``: capacity from the site's profile, without touching its cluster."""
    if options.output is None:
        raise SiteboxError("no folder to write the documents to", hint="pass --output-dir DIR")
    report = SiteReport(member.name)
    if planned:
        doc = document.build(member.site, capacity.planned(member.site))
    else:
        say("counting the nodes")
        doc = commands.collect(member.site, Kube(member.kubeconfig, member.context))
    options.output.mkdir(parents=True, exist_ok=True)
    path = options.output / f"{member.name}.registration.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    size = doc["capacity"]
    report.notes.append(f"wrote {path} ({size['cores']} cores, {size['source']})")
    report.notes += [f"to fill in: {m['field']}: set {m['set']}" for m in doc["missing"]]
    return report
