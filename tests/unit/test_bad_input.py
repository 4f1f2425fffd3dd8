"""A corpus of bad input past the site file: node-pool files, fleet files, node
inventories, kubeconfigs, bundles and command-line flags. Each one is refused with a
clear error that names the file (and the line where there is one) and a fix: exit 1,
or click's exit 2 for a flag it checks itself; never a traceback, never an internal
error (exit 3), and nothing created."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_sitebox
from tests.unit.test_config_loader import billion_laughs

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    files: dict[str, str]
    says: str  # a piece of the error the user must see
    code: int = 1


def _pools(pool: str) -> str:
    return f"pools:\n  - name: w\n    cpu: '4'\n    memory: 8Gi\n{pool}"


FLEET = "apiVersion: sitebox.io/v1\nkind: Fleet\nname: f\n"
UP = ("cluster", "up", "--name", "bad")

CASES = {
    "pool count in words": Case(
        (*UP, "--node-pools", "p.yaml"),
        {"p.yaml": _pools("    count: three\n")},
        "p.yaml:5 (pools[0].count)",
    ),
    "pool gpu not a number": Case(
        (*UP, "--node-pools", "p.yaml"),
        {"p.yaml": _pools("    count: 1\n    gpu: x\n")},
        "p.yaml:6 (pools[0].gpu)",
    ),
    "pool labels a list": Case(
        (*UP, "--node-pools", "p.yaml"),
        {"p.yaml": _pools("    count: 1\n    labels: [a]\n")},
        "p.yaml:6 (pools[0].labels)",
    ),
    "pools file a list": Case(
        (*UP, "--node-pools", "p.yaml"), {"p.yaml": "- name: w\n"}, "p.yaml:1"
    ),
    "pools alias bomb": Case(
        (*UP, "--node-pools", "p.yaml"), {"p.yaml": billion_laughs()}, "expands to more than"
    ),
    "node spec": Case((*UP, "--nodes", "3xfoo"), {}, "unknown node-pool spec '3xfoo'"),
    "api port out of range": Case((*UP, "--api-port", "99999"), {}, "'--api-port'", 2),
    "fleet sites a number": Case(
        ("fleet", "plan", "-f", "f.yaml"), {"f.yaml": FLEET + "sites: 3\n"}, "f.yaml:4 (sites)"
    ),
    "fleet unknown key": Case(
        ("fleet", "plan", "-f", "f.yaml"),
        {"f.yaml": FLEET + "sites:\n  - {name: a, profil: demo, kubeconfig: k}\n"},
        "did you mean 'profile'",
    ),
    "fleet alias bomb": Case(
        ("fleet", "plan", "-f", "f.yaml"), {"f.yaml": billion_laughs()}, "expands to more than"
    ),
    "fleet missing": Case(("fleet", "plan", "-f", "none.yaml"), {}, "none.yaml: file not found"),
    "fleet parallel zero": Case(
        ("fleet", "plan", "-f", "f.yaml", "--parallel", "0"), {"f.yaml": FLEET}, "--parallel", 2
    ),
    "inventory alias bomb": Case(
        ("nodes", "prepare", "-i", "i.yaml", "--check"),
        {"i.yaml": billion_laughs()},
        "expands to more than",
    ),
    "inventory without hosts": Case(
        ("nodes", "prepare", "-i", "i.yaml", "--check"), {"i.yaml": "vars: {}\n"}, "'hosts'"
    ),
    "kubeconfig alias bomb": Case(
        ("status", "--kubeconfig", "k.yaml"), {"k.yaml": billion_laughs()}, "expands to more than"
    ),
    "kubeconfig malformed": Case(
        ("status", "--kubeconfig", "k.yaml"), {"k.yaml": "clusters: [\n"}, "k.yaml:2"
    ),
    "kubeconfig not one": Case(
        ("status", "--kubeconfig", "k.yaml"), {"k.yaml": "just: text\n"}, "k.yaml"
    ),
    "kubeconfig a folder": Case(
        ("status", "--kubeconfig", "d"), {"d/x": ""}, "'d' is a directory", 2
    ),
    "kubeconfig missing": Case(
        ("status", "--kubeconfig", "gone.yaml"), {}, "kubeconfig gone.yaml not found"
    ),
    "bundle not an archive": Case(
        ("bundle", "verify", "b.tgz"), {"b.tgz": "not a tar\n"}, "is not a sitebox bundle"
    ),
    "bundle missing": Case(("bundle", "verify", "none.tgz"), {}, "bundle none.tgz not found"),
    "output format": Case(("status", "-o", "yaml"), {}, "'yaml' is not one of", 2),
    "site and profile": Case(
        ("render", "--profile", "demo", "-f", "s.yaml"), {"s.yaml": "name: x\n"}, "not both"
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clear_error(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    for rel, text in case.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    state = tmp_path.parent / f"{tmp_path.name}-state"
    result = run_sitebox(*case.argv, env={"SITEBOX_STATE": str(state)}, cwd=tmp_path)
    assert result.code == case.code, result.err
    assert "Traceback" not in result.err + result.out
    assert case.says in result.err, result.err
    if case.code == 1:
        assert "fix:" in result.err, result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "bad input wrote a file"
    assert not (state / "clusters").exists(), "bad input started a cluster"
