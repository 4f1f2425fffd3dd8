"""One module per component: what sitebox knows of it, in one place.

Each module has ``CHART_KEY`` (its chart's name, the values key in the umbrella) and
``values(site, secrets)``, the chart values composed from the site. A new component is
a new module here, listed in ``MODULES``, and an entry in the distribution.
"""

from __future__ import annotations

from types import ModuleType

from sitebox.components import (
    argo,
    batch,
    cvmfs,
    dashboards,
    dask,
    hub,
    monitoring,
    nfs,
    site,
    storage,
    workflow,
)

MODULES: dict[str, ModuleType] = {
    "site": site,
    "hub": hub,
    "dask": dask,
    "workflow": workflow,
    "argo": argo,
    "batch": batch,
    "storage": storage,
    "cvmfs": cvmfs,
    "nfs": nfs,
    "monitoring": monitoring,
    "dashboards": dashboards,
}
