"""The batch chart's accounting CronJobs: off by default, what they run (arguments the real
`sitebox accounting` accepts), the least rights they need, ssmsend's configuration, the
site policies, and values that cannot work refused naming the key."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.accounting.commands import collect_cmd, publish_cmd
from sitebox.accounting.ledger import NAME as LEDGER
from sitebox.render.policy import check_policies
from tests.charts.conftest import CHARTS, Helm, Manifest, find, one

pytestmark = pytest.mark.chart

CHART = "batch"
NS = "sitebox-test"
VALUES: dict[str, Any] = yaml.safe_load((CHARTS / CHART / "ci/accounting-values.yaml").read_text())


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> list[Manifest]:
    return helm.template(CHART, VALUES)


def pod(cron: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_off_by_default(helm: Helm) -> None:
    manifests = helm.template(CHART)
    assert not find(manifests, "CronJob")
    assert not [m for m in manifests if "accounting" in m["metadata"]["name"]]


def test_collect_runs_often_and_publish_monthly(rendered: list[Manifest]) -> None:
    collect = one(rendered, "CronJob", "t-batch-accounting-collect", NS)
    publish = one(rendered, "CronJob", "t-batch-accounting-publish", NS)
    assert collect["spec"]["schedule"] == "*/20 * * * *"  # under the job TTL of an hour
    assert publish["spec"]["schedule"] == "30 3 1 * *"
    for cron in (collect, publish):
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        assert cron["spec"]["timeZone"] == "Etc/UTC"
        assert pod(cron)["serviceAccountName"] == "t-batch-accounting"


def test_the_commands_are_ones_sitebox_accepts(rendered: list[Manifest]) -> None:
    (collect,) = pod(one(rendered, "CronJob", "t-batch-accounting-collect"))["containers"]
    assert collect["command"] == ["sitebox", "accounting", "collect"]
    params = collect_cmd.make_context("collect", list(collect["args"])).params
    assert (params["namespace"], params["default_vo"]) == (NS, "atlas")
    spec = pod(one(rendered, "CronJob", "t-batch-accounting-publish"))
    (publish,) = spec["initContainers"]
    assert publish["command"] == ["sitebox", "accounting", "publish"]
    params = publish_cmd.make_context("publish", list(publish["args"])).params
    assert params["month_text"] == "previous"
    assert (params["site"], params["benchmark"]) == ("UNI-LCG2", 12.5)
    assert params["submit_host"] == "k8s.uni.example.org:6443/batch"
    assert params["outgoing"] == Path("/var/spool/apel/outgoing")
    mounts = {m["mountPath"] for m in publish["volumeMounts"]}
    assert {str(params["cert"]), str(params["key"]), str(params["outgoing"])} <= mounts


def test_ssmsend_reads_the_queue_publish_writes(rendered: list[Manifest]) -> None:
    config = one(rendered, "ConfigMap", "t-batch-accounting-ssm")
    sender = configparser.ConfigParser()
    sender.read_string(config["data"]["sender.cfg"])
    assert sender["messaging"]["path"] == "/var/spool/apel/outgoing"
    assert sender["messaging"]["path_type"] == "dirq"
    assert sender["messaging"]["destination"] == "gLite-APEL"
    assert sender["broker"]["host"] == "msg-devel.argo.grnet.gr"
    spec = pod(one(rendered, "CronJob", "t-batch-accounting-publish"))
    (ssmsend,) = spec["containers"]
    assert ssmsend["command"] == ["ssmsend", "-c", "/etc/apel/sender.cfg"]
    mounts = {m["mountPath"] for m in ssmsend["volumeMounts"]}
    assert {sender["certificates"]["certificate"], sender["certificates"]["key"],
            sender["messaging"]["path"], "/etc/apel"} <= mounts  # fmt: skip
    (secret,) = [v for v in spec["volumes"] if "secret" in v]
    assert secret["secret"] == {"secretName": "apel-host-certificate", "defaultMode": 0o440}
    assert spec["securityContext"]["fsGroup"] == 1000  # the key readable by the group only


def test_the_role_reads_jobs_and_keeps_only_the_ledger(rendered: list[Manifest]) -> None:
    role = one(rendered, "Role", "t-batch-accounting", NS)
    assert role["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [LEDGER],
         "verbs": ["get", "update"]},
    ]  # fmt: skip
    binding = one(rendered, "RoleBinding", "t-batch-accounting", NS)
    assert binding["subjects"][0]["name"] == "t-batch-accounting"


def test_the_cronjobs_meet_the_site_policies(rendered: list[Manifest]) -> None:
    findings = [f for f in check_policies(rendered) if f.severity != "waived"]
    assert not findings, findings


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"mode": "htcondor"}, "accounting.enabled needs mode: queue"),
        ({"accounting": {"image": ""}}, "accounting.image is empty"),
        ({"accounting": {"site": ""}}, "accounting.site is empty"),
        ({"accounting": {"defaultVO": ""}}, "accounting.defaultVO is empty"),
        ({"accounting": {"benchmark": ""}}, "accounting.benchmark is empty"),
        ({"accounting": {"ssm": {"certificateSecret": ""}}}, "accounting.ssm.certificateSecret"),
        ({"accounting": {"collectSchedule": "hourly"}}, "collectSchedule"),
    ],
)
def test_values_that_cannot_work_are_refused(
    helm: Helm, change: dict[str, Any], expected: str
) -> None:
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    for key, value in change.items():
        if isinstance(value, dict):
            for sub, item in value.items():
                if isinstance(item, dict):
                    values[key][sub].update(item)
                else:
                    values[key][sub] = item
        else:
            values[key] = value
    assert expected in helm.template_error(CHART, values)
