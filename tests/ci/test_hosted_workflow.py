"""The hosted CI workflow (.github/workflows/kind.yml), linted with the pinned actionlint.

It cannot run on our machines (no Docker, no chart repositories), so what we can check
here is that GitHub would accept it, that every step its header names is a step of the
workflow, and that it runs what it says: the node tests as root, every profile on kind
with its real charts, the upgrade from the previous distribution and a rollback, a backup
restored with its data, uninstall.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitebox.model import distro, profiles, siteconfig
from sitebox.tools import pins
from sitebox.tools.store import binary
from tests.conftest import FIXTURES, ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
WORKFLOW = ROOT / ".github" / "workflows" / "kind.yml"
ACTION = ROOT / ".github" / "actions" / "sitebox" / "action.yml"
KIND_CLUSTER = ROOT / ".github" / "kind-cluster.yaml"
# After the header's "# The steps" line: "#   JOB: STEP NAME", one step a line.
HEADER_STEP = re.compile(r"^#   ([a-z][a-z0-9_-]*): (\S.*)$")

Step = tuple[str, str]  # (job, step name)


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary("actionlint")), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def header_steps(text: str) -> list[Step]:
    """The steps the header comment lists, in order."""
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    starts = [i for i, line in enumerate(header) if line.startswith("# The steps")]
    assert starts, "the header has no '# The steps' list"
    found = []
    for line in header[starts[0] + 1 :]:
        if match := HEADER_STEP.match(line):
            found.append((match[1], match[2]))
    return found


def named_steps(text: str) -> list[Step]:
    """Every step of the workflow that has a name, by job."""
    jobs = yaml.safe_load(text)["jobs"]
    return [(job, s["name"]) for job, spec in jobs.items() for s in spec["steps"] if "name" in s]


def missing_steps(text: str) -> list[Step]:
    """Steps the header names that the workflow does not have."""
    steps = set(named_steps(text))
    return [step for step in header_steps(text) if step not in steps]


def unlisted_steps(text: str) -> list[Step]:
    """Named steps of the workflow that the header does not list."""
    listed = set(header_steps(text))
    return [step for step in named_steps(text) if step not in listed]


def check_header(text: str) -> None:
    """The header's list of steps is the workflow's: each listed step is a step of its
    job, and each named step is listed."""
    listed = header_steps(text)
    assert listed, "the header lists no step"
    assert len(listed) == len(set(listed)), "a step is listed once"
    missing, unlisted = missing_steps(text), unlisted_steps(text)
    assert not missing, f"steps the header lists that the workflow lacks: {missing}"
    assert not unlisted, f"steps of the workflow the header does not list: {unlisted}"


def load() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return doc


def step(job: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in load()["jobs"][job]["steps"] if s.get("name") == name]
    assert len(found) == 1, (job, name)
    return found[0]


def runs(job: str) -> str:
    return "\n".join(s.get("run", "") for s in load()["jobs"][job]["steps"])


def test_the_workflows_pass_actionlint(tools_ready: None) -> None:
    assert WORKFLOWS == [WORKFLOW], "one hosted workflow, where GitHub reads workflows"
    linted = actionlint(*WORKFLOWS)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_actionlint_rejects_a_broken_workflow(tools_ready: None, tmp_path: Path) -> None:
    # A copy in a project of its own (actionlint finds one by its .git), with the local
    # action it uses, so that the action's inputs are checked too.
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    (tmp_path / ".git").mkdir()
    broken = tmp_path / ".github" / "workflows" / "kind.yml"
    text = WORKFLOW.read_text()
    broken.write_text(text.replace("needs: tools", "needs: tests"))
    linted = actionlint(broken)
    assert linted.returncode == 1
    assert 'needs job "tests" which does not exist' in linted.stdout
    broken.write_text(text.replace('          build: "true"', '          bild: "true"'))
    linted = actionlint(broken)
    assert linted.returncode == 1
    assert 'input "bild" is not defined in action "sitebox and its pinned tools"' in linted.stdout


def test_every_step_the_header_names_is_a_step_of_its_job() -> None:
    text = WORKFLOW.read_text()
    check_header(text)
    assert {job for job, _ in header_steps(text)} == set(load()["jobs"]), "every job is there"


def test_the_header_check_fails_on_a_copy_lacking_a_step_it_names() -> None:
    text = WORKFLOW.read_text()
    assert "      - name: Check the archive\n" in text
    # The step renamed in the workflow, not in the header.
    renamed = text.replace("      - name: Check the archive\n", "      - name: Look at it\n")
    assert missing_steps(renamed) == [("lifecycle", "Check the archive")]
    assert unlisted_steps(renamed) == [("lifecycle", "Look at it")]
    lacking = re.escape("lacks: [('lifecycle', 'Check the archive')]")
    with pytest.raises(AssertionError, match=lacking):
        check_header(renamed)
    # The step removed: its lines, from its name to the next step's.
    start = text.index("      - name: History\n")
    end = text.index("      - name: Roll back", start)
    removed = text[:start] + text[end:]
    assert missing_steps(removed) == [("lifecycle", "History")]
    with pytest.raises(AssertionError, match="History"):
        check_header(removed)
    # The step listed under another job than its own.
    moved = text.replace("#   lifecycle: History\n", "#   profiles: History\n")
    assert missing_steps(moved) == [("profiles", "History")]
    with pytest.raises(AssertionError, match="lacks"):
        check_header(moved)


def test_the_readme_quick_start_runs_first() -> None:
    text = runs("suite")
    readme = (ROOT / "README.md").read_text()
    commands = ("make demo", "kubectl get nodes", ".venv/bin/sitebox status", "make clean-demo")
    for command in commands:
        assert command in readme and command in text, command
    assert text.index("charts pull --all") < text.index("make demo"), "the whole demo installs"


def test_the_node_tests_run_as_root_in_make_test() -> None:
    (test,) = [s for s in load()["jobs"]["suite"]["steps"] if "make test" in s.get("run", "")]
    command = test["run"].strip()
    assert command.startswith("sudo "), "the node tests chroot: they need root"
    assert command.endswith(" make test"), "the README's command, every test included"
    assert "tests/nodes" not in command and "--ignore" not in command
    # sudo resets the environment: what the run needs is on its command line.
    for given in ('"HOME=$HOME"', '"PATH=$PATH"', "CI=true", "SITEBOX_REQUIRE_UPSTREAM=1"):
        assert given in command, given
    steps = [s.get("name") for s in load()["jobs"]["suite"]["steps"]]
    prerequisites = step("suite", "Node-test prerequisites (debootstrap, Debian's keyring)")
    assert "debootstrap debian-archive-keyring" in prerequisites["run"]
    assert steps.index(prerequisites["name"]) < steps.index(test["name"])
    assert "charts pull --all" in runs("suite"), "SITEBOX_REQUIRE_UPSTREAM=1 needs every chart"


def kind_sites() -> dict[str, str]:
    """The site.yaml the profiles job writes for each profile, as it writes it."""
    include = load()["jobs"]["profiles"]["strategy"]["matrix"]["include"]
    return {
        entry["profile"]: (
            f"apiVersion: sitebox.io/v1\nkind: Site\nname: {entry['profile'].replace('-', '')}\n"
            f"profile: {entry['profile']}\n{entry['site']}\n"
        )
        for entry in include
    }


def test_each_profile_is_installed_on_kind_with_its_real_charts(tmp_path: Path) -> None:
    sites = kind_sites()
    assert sorted(sites) == sorted(profiles.names())
    for profile, text in sites.items():
        path = tmp_path / f"{profile}.yaml"
        path.write_text(text)
        site = siteconfig.load(path)  # a valid site.yaml of that profile
        assert site.profile == profile
    text = runs("profiles")
    assert 'sitebox charts pull -f "$RUNNER_TEMP/site.yaml"' in text
    assert 'sitebox install -f "$RUNNER_TEMP/site.yaml"' in text
    assert "--skip-unavailable" not in text, "every component installs"
    assert "kind create cluster" in text and "sitebox validate" in text
    assert "sitebox uninstall" in text
    assert text.index("kind_capacity.py node") < text.index("sitebox install")


def test_kind_is_pinned_with_a_node_image_the_distribution_supports() -> None:
    env = load()["env"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", env["KIND_VERSION"])
    image = re.fullmatch(r"kindest/node:(v[\d.]+)@sha256:[0-9a-f]{64}", env["KIND_NODE_IMAGE"])
    assert image, "the node image by digest"
    assert distro.load().supports(image[1])
    for job in ("profiles", "lifecycle"):
        install = step(job, "Install kind (pinned)")["run"]
        assert 'go install "sigs.k8s.io/kind@$KIND_VERSION"' in install
        assert '--image "$KIND_NODE_IMAGE"' in runs(job)
        assert "--config .github/kind-cluster.yaml" in runs(job)
    assert yaml.safe_load(KIND_CLUSTER.read_text())["kind"] == "Cluster"


def test_the_lifecycle_upgrades_from_the_previous_distribution_and_restores_data() -> None:
    env = load()["jobs"]["lifecycle"]["env"]
    dist = distro.load()
    assert env["PREVIOUS"] in dist.upgrades_from
    assert (FIXTURES / "releases" / f"sitebox-{env['PREVIOUS']}.tar.gz").is_file()
    assert env["S3_IMAGE"] in dist.components["storage"].images
    text = runs("lifecycle")
    order = [
        "-m sitebox install",  # the previous release's own sitebox
        'sitebox upgrade -f "$RUNNER_TEMP/site.yaml"',
        'sitebox upgrade -f "$RUNNER_TEMP/changed.yaml"',
        "sitebox history",
        "sitebox rollback",
        "/data/payload",
        "sitebox backup",
        "--check",
        "kind delete cluster",
        'sitebox restore "$RUNNER_TEMP/site.backup" --timeout',
        "diff ",
        "sitebox uninstall",
    ]
    at = [text.index(part) for part in order]
    assert at == sorted(at), "in this order"
    backup = step("lifecycle", "Back up the site with its data")["run"]
    assert "--data-to s3://" in backup and "--claim sitebox/claim-ci" in backup


def test_the_tools_are_built_once_with_the_pinned_go() -> None:
    action = yaml.safe_load(ACTION.read_text())
    with_go = [s for s in action["runs"]["steps"] if "setup-go" in s.get("uses", "")]
    assert [s["with"]["go-version"] for s in with_go] == [pins.load().go]
    jobs = load()["jobs"]
    assert all(jobs[job].get("needs") == "tools" for job in jobs if job != "tools")
    for job, spec in jobs.items():
        uses = [s.get("uses") for s in spec["steps"]]
        assert "./.github/actions/sitebox" in uses, job


@pytest.mark.parametrize("job", ["profiles", "lifecycle"])
def test_a_failed_kind_job_shows_the_cluster(job: str) -> None:
    assert step(job, "What the cluster looked like")["if"] == "failure()"


def scripts() -> list[tuple[str, str]]:
    """Every run script of the workflow and of its local action, with where it is."""
    action = yaml.safe_load(ACTION.read_text())
    found = [
        (f"{job}: {s.get('name')}", s["run"])
        for job, spec in load()["jobs"].items()
        for s in spec["steps"]
        if "run" in s
    ]
    return found + [("action", s["run"]) for s in action["runs"]["steps"] if "run" in s]


def test_every_run_script_is_valid_bash() -> None:
    """actionlint checks scripts only with shellcheck, which our machines lack."""
    for where, script in scripts():
        parsed = subprocess.run(
            ["bash", "-n"], input=script, capture_output=True, text=True, check=False
        )
        assert parsed.returncode == 0, f"{where}: {parsed.stderr}"


def test_the_manifests_it_applies_are_valid_and_pass_restricted_pod_security() -> None:
    heredoc = re.compile(r"kubectl apply -f - <<EOF\n(.*?)\nEOF\n", re.S)
    env = load()["jobs"]["lifecycle"]["env"]
    objects = [
        obj
        for body in heredoc.findall(runs("lifecycle"))
        for obj in yaml.safe_load_all(body.replace("$DATA_IMAGE", env["DATA_IMAGE"]))
    ]
    assert [o["kind"] for o in objects] == ["PersistentVolumeClaim", "Pod", "Pod"]
    for pod in (o["spec"] for o in objects if o["kind"] == "Pod"):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"], "the namespace may hold a quota"
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "claim-ci"
