"""fleet.yaml: shared settings laid over each site, federation glue, file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitebox.compose.secrets import FLEET_SIGNING_KEY, Secrets
from sitebox.compose.values import component_values
from sitebox.config import ConfigError
from sitebox.fleet import loader
from tests.conftest import FIXTURES

pytestmark = pytest.mark.unit

FLEET = FIXTURES / "fleet" / "fleet.yaml"
SECRETS = Secrets(
    {"batch.poolPassword": "p" * 20, "batch.signingKey": "k" * 20, FLEET_SIGNING_KEY: "f" * 20}
)


def sites(path: Path = FLEET) -> dict[str, object]:
    return {m.name: m for m in loader.load(path).sites}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    return path


def problems(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        loader.load(path)
    return caught.value.render()


def test_every_site_trusts_the_shared_issuer_and_gets_the_shared_cvmfs() -> None:
    fleet = loader.load(FLEET)
    assert fleet.issuer == "https://iam.example.org/"
    for member in fleet.sites:
        oidc = member.site.config["auth"]["oidc"]
        assert (oidc["issuer"], oidc["clientId"]) == ("https://iam.example.org/", "sitebox-fleet")
        assert member.site.config["cvmfs"]["repositories"] == ["atlas.cern.ch", "sft.cern.ch"]
        assert member.site.distribution.version == "2026.12" and not member.pinned


def test_base_and_overrides_merge_and_paths_are_relative_to_the_fleet_file() -> None:
    fleet = loader.load(FLEET)
    beta = fleet.sites[1]
    assert beta.site.components["batch"]["mode"] == "htcondor"
    assert not beta.site.components["hub"]["enabled"], "base applies to every site"
    assert fleet.sites[0].site.components["batch"]["mode"] == "queue"
    assert beta.kubeconfig == FLEET.parent / "beta.kubeconfig"
    assert fleet.sites[2].context == "gamma"


def test_flocking_lists_and_peers_reach_the_batch_and_site_base_values() -> None:
    fleet = loader.load(FLEET)
    beta, gamma = fleet.sites[1].site, fleet.sites[2].site
    batch = component_values(beta, SECRETS, "batch")
    assert batch["htcondor"]["flocking"] == {
        "to": ["cm.gamma.example.net:9618"],
        "from": ["ap.gamma.example.net"],
    }
    assert component_values(gamma, SECRETS, "batch")["htcondor"]["flocking"]["to"] == [
        "condor.beta.example.org:9618"
    ]
    base = component_values(beta, SECRETS, "site")["federation"]
    assert base["enabled"] and base["fleet"] == "physics"
    assert base["issuer"] == "https://iam.example.org/"
    peers = {p["name"]: p for p in base["peers"]}
    assert set(peers) == {"alpha", "gamma"}, "a site is not its own peer"
    assert peers["gamma"]["flockTo"] and peers["gamma"]["flockFrom"]
    assert not peers["alpha"]["flockTo"]


def test_a_lone_site_has_no_federation_values(tmp_path: Path) -> None:
    lone = loader.load(FLEET).sites[0].site
    from dataclasses import replace

    values = component_values(replace(lone, federation=None), SECRETS, "site")
    assert "federation" not in values
    assert (
        "flocking"
        not in component_values(replace(lone, federation=None), SECRETS, "batch")["htcondor"]
    )


def test_a_pinned_site_keeps_its_distribution(tmp_path: Path) -> None:
    text = FLEET.read_text().replace(
        "  - name: alpha\n", '  - name: alpha\n    distribution: "2026.12"\n'
    )
    fleet = loader.load(write(tmp_path, text))
    assert fleet.sites[0].pinned and not fleet.sites[1].pinned


def test_two_sites_with_the_same_name_name_both_lines(tmp_path: Path) -> None:
    text = FLEET.read_text().replace("- name: gamma", "- name: alpha")
    report = problems(write(tmp_path, text))
    assert "site name 'alpha' is used twice (first on line 19)" in report
    assert f"{tmp_path / 'fleet.yaml'}:31 (sites[2].name)" in report


def test_a_flocking_link_to_a_site_not_in_the_fleet_points_at_its_line(tmp_path: Path) -> None:
    text = FLEET.read_text().replace("to: [gamma]", "to: [gamm]")
    report = problems(write(tmp_path, text))
    assert ":41 (federation.flocking[0].to[0])" in report
    assert "flocking link to 'gamm', which is not a site of this fleet" in report
    assert "did you mean 'gamma'?" in report


def test_flocking_needs_an_htcondor_pool(tmp_path: Path) -> None:
    text = FLEET.read_text().replace("{from: beta, to: [gamma]}", "{from: alpha, to: [gamma]}")
    report = problems(write(tmp_path, text))
    assert "site 'alpha' flocks, but its batch connector runs in 'queue' mode" in report
    assert "mode: htcondor" in report


def test_a_flocking_site_without_an_address_is_refused(tmp_path: Path) -> None:
    text = FLEET.read_text().replace("      domain: beta.example.org\n", "")
    report = problems(write(tmp_path, text))
    assert "site 'beta' publishes no htcondor-collector address for its peers" in report


def test_a_bad_override_is_reported_at_its_line_in_the_fleet_file(tmp_path: Path) -> None:
    text = FLEET.read_text().replace("{mode: htcondor, workers: 1}\n  - name: gamma",
                                     "{mode: htcondor, workers: 1, quota: {memory: 4GB}}\n"
                                     "  - name: gamma")  # fmt: skip
    report = problems(write(tmp_path, text))
    assert ":30 (site beta: components.batch.quota.memory)" in report
    assert "write '4Gi'" in report


def test_an_unknown_key_in_the_fleet_file_is_named_with_a_fix(tmp_path: Path) -> None:
    text = FLEET.read_text().replace("federation:", "federaton:")
    report = problems(write(tmp_path, text))
    assert "unknown key 'federaton'" in report and "did you mean 'federation'?" in report


def test_a_site_file_must_name_the_same_site(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(
        "apiVersion: sitebox.io/v1\nkind: Site\nname: other\nprofile: demo\n"
    )
    text = FLEET.read_text().replace(
        "    profile: demo\n    overrides:\n      domain: alpha.example.org\n",
        "    siteFile: other.yaml\n",
    )
    report = problems(write(tmp_path, text))
    assert "other.yaml names the site 'other', the fleet 'alpha'" in report
