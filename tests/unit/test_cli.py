"""The command as users meet it: exit codes and one-line errors, never a traceback."""

from pathlib import Path

import pytest

from tests.conftest import run_sitebox

pytestmark = pytest.mark.unit


def test_bad_node_spec_is_one_clear_error(tmp_path: Path) -> None:
    result = run_sitebox(
        "cluster", "up", "--nodes", "3x16-64Gi", env={"SITEBOX_STATE": str(tmp_path)}
    )
    assert result.code == 1
    assert result.err.startswith("error: unknown node-pool spec '3x16-64Gi'")
    assert "fix: write COUNTxCPUcpu-MEMORY" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "clusters").exists(), "nothing may be created for bad input"


def test_missing_tool_names_it_and_the_fix(tmp_path: Path) -> None:
    env = {"SITEBOX_STATE": str(tmp_path / "state"), "SITEBOX_CACHE": str(tmp_path / "empty")}
    result = run_sitebox("cluster", "up", env=env)
    assert result.code == 1
    assert "error: etcd is not installed" in result.err
    assert "sitebox tools install" in result.err
    assert not (tmp_path / "state" / "clusters").exists()


def test_tools_status_reports_missing_tools_as_json(tmp_path: Path) -> None:
    import json

    result = run_sitebox("tools", "status", "-o", "json", env={"SITEBOX_CACHE": str(tmp_path)})
    assert result.code == 1
    rows = json.loads(result.out)
    assert {r["name"] for r in rows} == {
        "helm",
        "kubernetes",
        "etcd",
        "kwok",
        "actionlint",
        "crane",
        "prometheus",
        "kube-state-metrics",
    }
    assert {r["state"] for r in rows} == {"missing"}


def test_unknown_tool_is_refused(tmp_path: Path) -> None:
    result = run_sitebox(
        "tools", "install", "--only", "helmet", env={"SITEBOX_CACHE": str(tmp_path)}
    )
    assert result.code == 1
    assert "unknown tool(s): helmet" in result.err


def test_down_of_unknown_cluster(tmp_path: Path) -> None:
    result = run_sitebox("cluster", "down", "--name", "nope", env={"SITEBOX_STATE": str(tmp_path)})
    assert result.code == 1
    assert "no cluster named 'nope'" in result.err


def test_kind_driver_without_kind_is_a_clear_error(tmp_path: Path) -> None:
    result = run_sitebox(
        "cluster",
        "up",
        "--driver",
        "kind",
        env={"PATH": str(tmp_path), "SITEBOX_STATE": str(tmp_path)},
    )
    assert result.code == 1
    assert "the kind driver needs `kind` on PATH" in result.err


def test_a_command_imports_only_its_own_module() -> None:
    """`sitebox --version` or `--help` must not load the Kubernetes client, Helm or the
    sim cluster: each command's module is imported when that command runs."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom click.testing import CliRunner\nfrom sitebox.cli import cli\n"
        "CliRunner().invoke(cli, ['--version'])\n"
        "heavy = [m for m in ('kubernetes', 'pyhelm3', 'sitebox.cluster.sim', 'pytest') "
        "if m in sys.modules]\nprint(','.join(heavy))\n"
        "CliRunner().invoke(cli, ['install', '--help'])\n"
        "print('kubernetes' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    loaded, after_install_help = result.stdout.splitlines()
    assert loaded == "", f"imported by --version: {loaded}"
    assert after_install_help == "True", "install's own module is imported when it is asked for"


def test_purge_data_without_a_terminal_to_ask_on_needs_yes(tmp_path: Path) -> None:
    # run_sitebox gives the command no terminal: it must not hang, nor abort silently.
    result = run_sitebox("uninstall", "--purge-data", "--kubeconfig", str(tmp_path / "k"))
    assert result.code == 1, result.err
    assert "there is no terminal to ask on; nothing was changed" in result.err
    assert "fix: pass --yes" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: [b\n", "config:2: invalid YAML"),
        ("just some text\n", "the top level must be a mapping"),
        ("clusters: 3\n", "is not a kubeconfig"),
    ],
)
def test_a_kubeconfig_that_is_not_one_is_a_clear_error(
    tmp_path: Path, text: str, words: str
) -> None:
    config = tmp_path / "config"
    config.write_text(text)
    result = run_sitebox("status", "--kubeconfig", str(config))
    assert result.code == 1, result.err
    assert words in result.err and "fix:" in result.err and "Traceback" not in result.err
