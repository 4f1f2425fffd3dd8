"""`sitebox registration` and `sitebox fleet registration` without a cluster: the document's
shape against GOCDB's and CRIC's own field names, what is left for the admin to fill in
and where, planned and measured capacity; and the queue description's bad input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from sitebox.compose.commands import load_site
from sitebox.config import ConfigError
from sitebox.model import siteconfig
from sitebox.model.schemas import schema
from sitebox.registration import capacity, document
from tests.conftest import FIXTURES, run_sitebox

pytestmark = pytest.mark.unit

# ---- Facts read from GOCDB's source: GOCDB/gocdb, commit 9c97f141 (2025-07-07). Written
# here by hand, so that the test checks the code against GOCDB and not against itself.
#
# htdocs/web_portal/views/site/add_site.php: the Add Site form's fields ("name" of each
# input and list), and those it marks with "*" or offers only as a list to choose from.
GOCDB_SITE_FORM = {
    "NGI", "Country", "TIMEZONE", "ProductionStatus", "Certification_Status", "DOMAIN",
    "SHORT_NAME", "OFFICIAL_NAME", "HOME_URL", "GIIS_URL", "IP_RANGE", "IP_V6_RANGE",
    "LOCATION", "LATITUDE", "LONGITUDE", "DESCRIPTION", "EMAIL", "CONTACTTEL",
    "EMERGENCYTEL", "CSIRTEMAIL", "CSIRTTEL", "EMERGENCYEMAIL", "HELPDESKEMAIL", "NOTIFY",
}  # fmt: skip
GOCDB_SITE_REQUIRED = {
    "DOMAIN", "SHORT_NAME", "DESCRIPTION", "EMAIL", "CONTACTTEL",  # marked "*"
    "NGI", "Country", "TIMEZONE", "ProductionStatus",  # lists
}  # fmt: skip
# htdocs/web_portal/views/service/add_service.php: the Add Service form.
GOCDB_SERVICE_FORM = {
    "hostingSite", "serviceType", "endpointUrl", "HOSTNAME", "HOST_IP", "HOST_IP_V6",
    "HOST_DN", "DESCRIPTION", "HOST_OS", "HOST_ARCH", "HOST_BETA", "PRODUCTION_LEVEL",
    "IS_MONITORED", "EMAIL", "NOTIFY",
}  # fmt: skip
GOCDB_SERVICE_REQUIRED = {"HOSTNAME", "DESCRIPTION", "EMAIL"}  # marked "*"
GOCDB_YES_NO = {"Y", "N"}  # HOST_BETA, PRODUCTION_LEVEL, IS_MONITORED options
# config/gocdb_schema.xml: SHORT_NAME's pattern.
GOCDB_SHORT_NAME = r"^[a-zA-Z0-9\-\._]+$"
# GOCDB service types held in production (EGI's ARGO monitoring profiles name them):
# JupyterHub as EGI Notebooks registers it.
GOCDB_JUPYTERHUB = "eu.egi.notebooks.jupyterhub"
#
# ---- CRIC PanDA queue fields, as PanDA Harvester reads them: HSF/harvester, commit
# d561b72f (v0.7.5-9): harvestermisc/info_utils.py (corecount, maxrss, maxwdir),
# harvestersubmitter/k8s_submitter.py (maxtime), info_utils_k8s.py (queues[0].ce_queue_name,
# associated parameters under "params", k8s.namespace); and those of a queue's CRIC record
# that name the site (nickname, rc_site, gocname, country, tier_level, nodes, is_cvmfs,
# resource_type).
CRIC_QUEUE = {
    "nickname", "rc_site", "gocname", "country", "tier_level", "resource_type", "corecount",
    "maxrss", "maxtime", "maxwdir", "nodes", "is_cvmfs", "queues", "params",
}  # fmt: skip
CRIC_CE = {"ce_endpoint", "ce_queue_name", "ce_flavour"}
CRIC_NAMESPACE_PARAMETER = "k8s.namespace"

REGISTERED = """\
apiVersion: sitebox.io/v1
kind: Site
name: uni
profile: tier3
domain: physics.example.edu
registration:
  shortName: UNI-PHYSICS
  contactEmail: grid-admin@example.edu
  contactPhone: "+49 89 1234 5678"
  country: Germany
  ngi: NGI_DE
  timezone: Europe/Berlin
  queueName: UNI_K8S
components:
  batch:
    job: {cpu: 500m, memory: 3Gi}
    values:
      job: {activeDeadlineSeconds: 86400}
"""


def write(tmp_path: Path, text: str) -> siteconfig.Site:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return siteconfig.load(path)


def check_shape(doc: dict[str, Any]) -> None:
    """The document against its schema and the systems' own field names."""
    Draft202012Validator(schema("registration")).validate(doc)
    site = doc["gocdb"]["site"]
    assert set(site) <= GOCDB_SITE_FORM
    assert set(site) >= GOCDB_SITE_REQUIRED, "every required field is there, set or not"
    for service in doc["gocdb"]["services"]:
        fields = service["fields"]
        assert set(fields) <= GOCDB_SERVICE_FORM
        assert set(fields) >= GOCDB_SERVICE_REQUIRED
        assert {
            fields[k] for k in ("HOST_BETA", "PRODUCTION_LEVEL", "IS_MONITORED")
        } <= GOCDB_YES_NO
        assert fields["serviceType"] or service["note"], "an empty type says why"
    for queue in doc["cric"]["queues"]:
        assert set(queue) <= CRIC_QUEUE
        for ce in queue.get("queues", []):
            assert set(ce) <= CRIC_CE


@pytest.mark.parametrize("profile", ["demo", "tier3", "tier2", "analysis-facility"])
def test_every_profile_makes_a_well_formed_planned_document(profile: str) -> None:
    site = load_site(None, profile)
    doc = document.build(site, capacity.planned(site))
    check_shape(doc)
    assert doc["capacity"]["source"] == "planned"
    assert doc["capacity"]["cores"] == int(site.requires["cpu"])
    assert {m["set"] for m in doc["missing"]} >= {"registration.contactEmail", "domain"}


def test_a_registered_site_fills_gocdb_and_cric(tmp_path: Path) -> None:
    site = write(tmp_path, REGISTERED)
    doc = document.build(site, capacity.planned(site), "https://api.uni.example.edu:6443")
    check_shape(doc)
    assert doc["missing"] == []
    gocdb = doc["gocdb"]["site"]
    assert gocdb["SHORT_NAME"] == "UNI-PHYSICS"
    assert re.fullmatch(GOCDB_SHORT_NAME, gocdb["SHORT_NAME"])
    assert (gocdb["DOMAIN"], gocdb["NGI"], gocdb["Country"]) == (
        "physics.example.edu", "NGI_DE", "Germany",
    )  # fmt: skip
    services = {s["endpoint"]: s["fields"] for s in doc["gocdb"]["services"]}
    assert set(services) == {"hub", "s3", "batch"}
    assert services["hub"]["serviceType"] == GOCDB_JUPYTERHUB
    assert services["hub"]["HOSTNAME"] == "hub.physics.example.edu"
    assert services["batch"]["endpointUrl"] == "https://api.uni.example.edu:6443"
    assert all(s["hostingSite"] == "UNI-PHYSICS" for s in services.values())
    (queue,) = doc["cric"]["queues"]
    assert queue["nickname"] == "UNI_K8S" and queue["rc_site"] == "UNI-PHYSICS"
    # 500m: one slot; 3Gi in MiB; the site's wall-time limit; the chart's 20Gi scratch.
    assert (queue["corecount"], queue["maxrss"], queue["maxtime"], queue["maxwdir"]) == (
        1, 3072, 86400, 20480,
    )  # fmt: skip
    assert queue["tier_level"] == 3
    assert queue["queues"] == [
        {"ce_endpoint": "https://api.uni.example.edu:6443", "ce_queue_name": "batch"}
    ]
    assert queue["params"] == {CRIC_NAMESPACE_PARAMETER: "batch"}


def test_missing_fields_name_the_key_and_the_line_to_set_them(tmp_path: Path) -> None:
    text = REGISTERED.replace('  contactPhone: "+49 89 1234 5678"\n', "").replace(
        "  ngi: NGI_DE\n", ""
    )
    site = write(tmp_path, text)
    doc = document.build(site, capacity.planned(site))
    missing = {m["field"]: m for m in doc["missing"]}
    assert set(missing) == {"gocdb.site.CONTACTTEL", "gocdb.site.NGI"}
    assert missing["gocdb.site.NGI"]["set"] == "registration.ngi"
    # The registration: block is on line 6, where the keys go.
    assert missing["gocdb.site.NGI"]["at"] == f"{tmp_path / 'site.yaml'}:6"
    assert "batch queue's API server is not known" in " ".join(doc["notes"])


def test_capacity_is_the_sum_of_node_allocatable() -> None:
    class Nodes:
        def nodes(self) -> list[dict[str, Any]]:
            return [
                {"status": {"allocatable": {"cpu": "3800m", "memory": "16393216Ki"}}},
                {"status": {"allocatable": {"cpu": "16", "memory": "64Gi"}}},
                {"status": {}},  # a node not yet reporting counts for nothing
            ]

    site = load_site(None, "tier3")
    measured = capacity.measured(site, Nodes())  # type: ignore[arg-type]
    assert (measured.source, measured.nodes, measured.cpu_millis) == ("cluster", 3, 19800)
    assert measured.memory_bytes == 16393216 * 1024 + 64 * 2**30
    assert measured.as_dict()["cores"] == 19.8
    assert measured.as_dict()["storage"] == "1Ti"


def test_an_htcondor_pool_and_a_site_without_batch(tmp_path: Path) -> None:
    pool = write(tmp_path, REGISTERED + "    mode: htcondor\n")
    (queue,) = document.build(pool, capacity.planned(pool))["cric"]["queues"]
    assert "queues" not in queue and "params" not in queue
    site = load_site(None, "analysis-facility")
    doc = document.build(site, capacity.planned(site))
    assert doc["cric"]["queues"] == []


def test_registration_keys_are_checked_with_their_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        write(tmp_path, REGISTERED.replace("grid-admin@example.edu", "grid-admin"))
    assert "site.yaml:8" in err.value.render()
    assert "registration.contactEmail" in err.value.render()


def test_registration_command_writes_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(REGISTERED)
    as_yaml = run_sitebox("registration", "-f", str(tmp_path / "site.yaml"), "-o", "yaml")
    assert as_yaml.code == 0, as_yaml.err
    check_shape(yaml.safe_load(as_yaml.out))
    text = run_sitebox("registration", "--profile", "tier2")
    assert text.code == 0, text.err
    assert "to fill in before submitting:" in text.out
    assert "gocdb.site.EMAIL: set registration.contactEmail" in text.out


def test_fleet_registration_writes_one_document_per_site(tmp_path: Path) -> None:
    fleet = FIXTURES / "fleet" / "fleet.yaml"
    result = run_sitebox(
        "fleet", "registration", "-f", str(fleet), "--planned", "-o", str(tmp_path / "reg")
    )
    assert result.code == 0, result.err + result.out
    written = sorted(p.name for p in (tmp_path / "reg").iterdir())
    assert written == [f"{s}.registration.yaml" for s in ("alpha", "beta", "gamma")]
    docs = {
        p.name.split(".")[0]: yaml.safe_load(p.read_text()) for p in (tmp_path / "reg").iterdir()
    }
    for name, doc in docs.items():
        check_shape(doc)
        assert doc["metadata"]["site"] == name
    hosts = {s["fields"]["HOSTNAME"] for s in docs["beta"]["gocdb"]["services"]}
    assert hosts == {"condor.beta.example.org", "submit.beta.example.org"}
    assert "to fill in: gocdb.site.EMAIL" in result.out


def test_fleet_registration_reports_an_unreachable_cluster_per_site(tmp_path: Path) -> None:
    fleet = FIXTURES / "fleet" / "fleet.yaml"
    result = run_sitebox("fleet", "registration", "-f", str(fleet), "--sites", "alpha",
                         "-o", str(tmp_path))  # fmt: skip
    assert result.code == 1
    assert "alpha.kubeconfig not found" in result.err + result.out


# ---- `sitebox batch queue-config`: bad input, refused before any cluster is reached.


def test_queue_config_refuses_an_unknown_form(tmp_path: Path) -> None:
    result = run_sitebox("batch", "queue-config", "--for", "condor", "-o", str(tmp_path / "q"))
    assert result.code == 2
    assert "'condor' is not one of 'harvester', 'generic'" in result.err


def test_queue_config_names_a_missing_kubeconfig(tmp_path: Path) -> None:
    result = run_sitebox("batch", "queue-config", "--for", "generic", "-o", str(tmp_path / "q"),
                         "--kubeconfig", str(tmp_path / "nowhere"))  # fmt: skip
    assert result.code == 1
    assert f"kubeconfig {tmp_path / 'nowhere'} not found" in result.err
    assert "fix:" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        ("    enabled: false\n", "components.batch.enabled", "its batch component is off"),
        ("    mode: htcondor\n", "components.batch.mode", "in 'htcondor' mode"),
    ],
)
def test_queue_config_refuses_a_site_without_a_queue(
    tmp_path: Path, change: str, key: str, says: str
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(REGISTERED + change)
    result = run_sitebox("batch", "queue-config", "--for", "harvester", "-f", str(site),
                         "-o", str(tmp_path / "q.json"),
                         "--kubeconfig", str(tmp_path / "never-read"))  # fmt: skip
    assert result.code == 1, result.err
    assert says in result.err and f"({key})" in result.err
    assert f"{site}:" in result.err, "the line of the key"
    assert "fix:" in result.err
    assert not (tmp_path / "q.json").exists()
