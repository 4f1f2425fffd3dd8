"""`sitebox charts import | status` as an admin runs them, with the real helm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_sitebox

pytestmark = pytest.mark.chart


def test_a_chart_folder_is_packaged_by_helm_then_refused_if_not_pinned(
    tools_ready: None, tmp_path: Path
) -> None:
    env = {"SITEBOX_CHART_CACHE": str(tmp_path / "cache")}
    refused = run_sitebox("charts", "import", str(FIXTURES / "charts" / "hello"), env=env)
    assert refused.code == 1
    assert "is chart 'hello', which the distribution does not use" in refused.err
    assert "fix: its upstream charts are: argo-workflows, csi-driver-nfs" in refused.err
    assert "Traceback" not in refused.err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_status_lists_every_pinned_chart_and_its_state(tmp_path: Path) -> None:
    env = {"SITEBOX_CHART_CACHE": str(tmp_path / "cache")}
    (tmp_path / "cache" / "seaweedfs-4.44.0").mkdir(parents=True)
    (tmp_path / "cache" / "seaweedfs-4.44.0" / "Chart.yaml").write_text("name: seaweedfs\n")
    status = run_sitebox("charts", "status", "-o", "json", env=env)
    assert status.code == 0, status.err
    states = {row["chart"]: row["state"] for row in json.loads(status.out)["charts"]}
    assert states["seaweedfs"] == "modified", "a chart whose files are not the pinned ones"
    assert states["jupyterhub"] == "missing"
    assert set(states) == {
        "jupyterhub", "dask-gateway", "reana", "argo-workflows", "seaweedfs", "cvmfs-csi",
        "csi-driver-nfs", "prometheus", "grafana",
    }  # fmt: skip
