"""`accounting:` in site.yaml: off without it; with it the rendered site carries the
accounting CronJobs (through the real `helm template` and the site's policy checks);
a missing required key is refused with the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sitebox.compose.secrets import Secrets
from sitebox.compose.values import component_values
from sitebox.errors import SiteboxError
from sitebox.model import siteconfig
from tests.compose.conftest import write_site
from tests.conftest import run_sitebox

pytestmark = pytest.mark.chart

OWN_CHARTS = (
    "name: uni\nprofile: tier3\ncomponents:\n  hub: {enabled: false}\n  dask: {enabled: false}\n"
    "  storage: {enabled: false}\n  cvmfs: {enabled: false}\n"
)
ACCOUNTING = (
    "accounting:\n  image: registry.example.org/sitebox:0.1.0\n  defaultVO: atlas\n"
    "  benchmark: 12.5\n  certificateSecret: apel-host-certificate\n"
)
SECRETS = Secrets({"batch.poolPassword": "p" * 20, "batch.signingKey": "k" * 20})


def test_accounting_becomes_the_batch_charts_values(tmp_path: Path) -> None:
    site = siteconfig.load(write_site(tmp_path, OWN_CHARTS + ACCOUNTING))
    values = component_values(site, SECRETS, "batch")["accounting"]
    assert values == {
        "enabled": True, "image": "registry.example.org/sitebox:0.1.0", "site": "uni",
        "defaultVO": "atlas", "benchmark": "12.5",
        "ssm": {"certificateSecret": "apel-host-certificate"},
    }  # fmt: skip
    plain = siteconfig.load(write_site(tmp_path, OWN_CHARTS, "plain.yaml"))
    assert "accounting" not in component_values(plain, SECRETS, "batch")


def test_a_missing_required_key_names_line_and_key(tmp_path: Path) -> None:
    body = OWN_CHARTS + ACCOUNTING.replace("  benchmark: 12.5\n", "")
    with pytest.raises(SiteboxError) as caught:
        siteconfig.load(write_site(tmp_path, body))
    assert "accounting" in caught.value.render() and "benchmark" in caught.value.render()


def test_the_rendered_site_runs_the_cronjobs(tmp_path: Path, workspace: dict[str, str]) -> None:
    site = write_site(tmp_path, OWN_CHARTS + ACCOUNTING)
    result = run_sitebox("render", "-f", str(site), "-o", "out", env=workspace, cwd=tmp_path)
    assert result.code == 0, result.err
    objects = [o for o in yaml.safe_load_all((tmp_path / "out/sitebox.yaml").read_text()) if o]
    crons = {o["metadata"]["name"]: o for o in objects if o["kind"] == "CronJob"}
    names = {n for n in crons if "accounting" in n}
    assert names == {"sitebox-batch-accounting-collect", "sitebox-batch-accounting-publish"}
    publish = crons["sitebox-batch-accounting-publish"]
    args = publish["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]["args"]
    assert args[args.index("--site") + 1] == "uni"
    assert args[args.index("--namespace") + 1] == "batch"
