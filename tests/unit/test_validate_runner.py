"""The validation runner: a real pytest run of a small suite, each outcome mapped to a row."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitebox.errors import SiteboxError
from sitebox.validate import runner
from sitebox.validate.runner import FAILED, NOT_RUN, PASSED, Check

pytestmark = pytest.mark.unit

SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("cannot reach the thing")

@pytest.fixture
def leaky():
    yield
    raise RuntimeError("teardown went wrong")

def test_fine():
    pass

def test_named_failure():
    pytest.fail("pod x: Unschedulable\\nfix: add a node", pytrace=False)

def test_plain_assert():
    assert 1 + 1 == 3

def test_simulated():
    pytest.skip("not run on a simulated cluster")

@pytest.mark.parametrize("component", ["hub", "batch"])
def test_pods_ready(component):
    if component == "hub":
        pytest.skip("hub not installed")

def test_fixture_error(broken):
    pass

def test_teardown_error(leaky):
    pass
"""


def _suite(tmp_path: Path, text: str) -> Path:
    # pytest keeps imported test modules by name for the process: one name per suite.
    (tmp_path / f"test_{tmp_path.name}.py").write_text(text)
    # An ini file that would break the run if the runner read it: the suite is self-contained.
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    return tmp_path


def test_each_outcome_becomes_one_row_in_order(tmp_path: Path) -> None:
    checks = runner.run(_suite(tmp_path, SUITE), [])
    assert checks == [
        Check("fine", PASSED),
        Check("named failure", FAILED, "pod x: Unschedulable\nfix: add a node"),
        Check("plain assert", FAILED, "assert (1 + 1) == 3"),
        Check("simulated", NOT_RUN, "not run on a simulated cluster"),
        Check("pods ready [hub]", NOT_RUN, "not run: hub not installed"),
        Check("pods ready [batch]", PASSED),
        Check("fixture error", FAILED, "RuntimeError: cannot reach the thing"),
        Check("teardown error", FAILED, "RuntimeError: teardown went wrong"),
    ]


def test_pytest_output_is_captured(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    runner.run(_suite(tmp_path, SUITE), [])
    out, err = capfd.readouterr()
    assert "test_" not in out + err
    assert "passed" not in out + err


def test_a_module_that_cannot_be_imported_is_a_failed_check(tmp_path: Path) -> None:
    checks = runner.run(_suite(tmp_path, "import no_such_module_here\n"), [])
    assert [(c.name, c.status) for c in checks] == [(f"test_{tmp_path.name}.py", FAILED)]
    assert "no_such_module_here" in checks[0].detail


def test_a_suite_pytest_cannot_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SiteboxError, match="could not run"):
        runner.run(_suite(tmp_path, SUITE), ["--no-such-option"])


def test_an_empty_suite_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(SiteboxError, match="could not run"):
        runner.run(_suite(tmp_path, "X = 1\n"), [])


@pytest.mark.parametrize(
    ("nodeid", "name"),
    [
        ("test_pods.py::test_pods_ready[batch]", "pods ready [batch]"),
        ("test_releases.py::test_release_deployed[sitebox-system]",
         "release deployed [sitebox-system]"),
        ("test_http.py::test_hub_api_answers", "hub api answers"),
    ],
)  # fmt: skip
def test_check_names_read_as_words(nodeid: str, name: str) -> None:
    assert runner.check_name(nodeid) == name


def test_the_shipped_suite_never_passes_without_a_cluster(tmp_path: Path) -> None:
    checks = runner.run_site(tmp_path / "no-such-kubeconfig", None)
    names = {c.name for c in checks}
    assert {"pods ready [hub]", "services have endpoints [batch]", "hub api answers",
            "volume claims bound", "release deployed [sitebox]"} <= names  # fmt: skip
    assert all(c.status == FAILED for c in checks), [c for c in checks if c.status != FAILED]
    assert any("no-such-kubeconfig not found" in c.detail for c in checks)
