from pathlib import Path
from typing import Any

import pytest

from sitebox.config import (
    ConfigError,
    Document,
    format_key_path,
    load_yaml,
    load_yaml_text,
    validate,
)
from sitebox.config.suggest import quantity_fix
from sitebox.errors import SiteboxError

pytestmark = pytest.mark.unit

SITE = """\
# A site, as an admin writes it.
name: demo
hub:
  replicas: 2
  profiles:
    - name: small
      memory: 4Gi
    - name: big
      memory: 64Gi
labels:
  sitebox.io/tier: gold
"""

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "the site's short name"},
        "driver": {"enum": ["sim", "kind", "minikube"]},
        "labels": {"type": "object"},
        "hub": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "replicas": {"type": "integer", "minimum": 1},
                "timeout": {"type": "number"},
                "profiles": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {
                                "type": "string",
                                "pattern": "^[a-z][-a-z0-9]*$",
                                "x-hint": "use lowercase letters, digits and '-', e.g. 'gpu-large'",
                            },
                            "memory": {"type": "string", "format": "k8s-quantity"},
                        },
                    },
                },
            },
        },
    },
}


def problems_of(text: str, schema: dict[str, Any] = SCHEMA) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        validate(load_yaml_text(text, "site.yaml"), schema, what="site config")
    return caught.value


def load_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_yaml_text(text, "site.yaml")
    return caught.value


# --- loading -------------------------------------------------------------------


def test_line_of_nested_keys_and_list_items() -> None:
    doc = load_yaml_text(SITE, "site.yaml")
    assert doc.line_of(["name"]) == 2
    assert doc.line_of(["hub", "replicas"]) == 4
    assert doc.line_of(["hub", "profiles", 1]) == 8
    assert doc.line_of(["hub", "profiles", 1, "memory"]) == 9
    assert doc.line_of(["labels", "sitebox.io/tier"]) == 11


def test_line_of_a_missing_path_is_its_deepest_existing_ancestor() -> None:
    doc = load_yaml_text(SITE, "site.yaml")
    assert doc.line_of(["hub", "profiles", 0, "cpu"]) == 6
    assert doc.line_of(["hub", "nothing", "deeper"]) == 3


def test_data_is_plain_python() -> None:
    doc = load_yaml_text(SITE, "site.yaml")
    assert doc.data["hub"]["profiles"][1] == {"name": "big", "memory": "64Gi"}
    assert doc.data["hub"]["replicas"] == 2


def test_yaml_1_1_booleans_and_dates_stay_strings() -> None:
    text = "a: yes\nb: off\nc: 2026-11-01\nd: true\ne: ~\nf: 0o17\ng: 1e3\nh: '3'\ni: 1_000\n"
    data = load_yaml_text(text, "x.yaml").data
    assert data == {
        "a": "yes",
        "b": "off",
        "c": "2026-11-01",
        "d": True,
        "e": None,
        "f": 15,
        "g": 1000.0,
        "h": "3",
        "i": "1_000",
    }


def test_merge_key_takes_keys_with_their_lines() -> None:
    doc = load_yaml_text("base: &b\n  cpu: 2\n  memory: 4Gi\nbig:\n  <<: *b\n  cpu: 8\n", "x.yaml")
    assert doc.data["big"] == {"cpu": 8, "memory": "4Gi"}
    assert doc.line_of(["big", "memory"]) == 3
    assert doc.line_of(["big", "cpu"]) == 6


def test_syntax_error_names_the_line_and_the_parser_problem() -> None:
    error = load_error("name: demo\nhub:\n  replicas: 2\n   memory: 4Gi\n")
    assert error.location is not None
    assert error.location.line == 4
    assert "invalid YAML: mapping values are not allowed here" in error.message


def test_tab_indentation_gets_a_specific_fix() -> None:
    error = load_error("hub:\n\treplicas: 2\n")
    assert error.location is not None
    assert error.location.line == 2
    assert error.hint == "indent with spaces: YAML does not allow tabs"


def test_duplicate_key_fails_with_both_lines() -> None:
    error = load_error("name: demo\nhub:\n  replicas: 2\n  timeout: 3\n  replicas: 4\n")
    assert error.message == "key 'replicas' appears twice, on lines 3 and 5"
    assert error.location is not None
    assert (error.location.line, error.location.key) == (5, "hub.replicas")


@pytest.mark.parametrize("text", ["", "# only a comment\n\n", "---\n"])
def test_empty_file(text: str) -> None:
    error = load_error(text)
    assert error.message == "is empty"
    assert error.hint is not None and "sitebox init" in error.hint
    assert load_yaml_text(text, "site.yaml", allow_empty=True).data == {}


def test_empty_hint_can_be_chosen_by_the_caller() -> None:
    with pytest.raises(ConfigError, match="is empty") as caught:
        load_yaml_text("", "pools.yaml", empty_hint="list at least one pool")
    assert caught.value.hint == "list at least one pool"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    with pytest.raises(SiteboxError) as caught:
        load_yaml(path)
    assert "not found" in caught.value.message
    assert caught.value.hint is not None and str(path) in caught.value.hint


def test_file_is_read_and_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("name: demo\nname: other\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(path)
    assert caught.value.render().startswith(f"error: {path}:2 (name): key 'name' appears twice")


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("just text\n", "a single value")]
)
def test_top_level_must_be_a_mapping(text: str, got: str) -> None:
    error = load_error(text)
    assert error.message == f"the top level must be a mapping of keys, not {got}"
    assert error.location is not None and error.location.line == 1


def test_unsupported_tags_are_refused() -> None:
    error = load_error("name: !!binary aGVsbG8=\n")
    assert error.message == "the YAML tag !!binary is not supported"


# --- validation ------------------------------------------------------------------


def test_valid_document_passes() -> None:
    validate(load_yaml_text(SITE, "site.yaml"), SCHEMA, what="site config")


def test_unknown_key_points_at_the_typo_and_suggests_the_key() -> None:
    error = problems_of("name: demo\nhub:\n  timeout: 3\n  replicsa: 2\n")
    assert error.location is not None
    assert (error.location.line, error.location.key) == (4, "hub.replicsa")
    assert error.message == "unknown key 'replicsa'"
    assert error.hint == "did you mean 'replicas'?"


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    error = problems_of("name: demo\nzzz: 1\n")
    assert error.hint == "remove it; keys allowed here: driver, hub, labels, name"


def test_required_key_points_at_the_mapping() -> None:
    error = problems_of("name: demo\nhub:\n  profiles:\n    - memory: 4Gi\n")
    assert error.location is not None
    assert (error.location.line, error.location.key) == (4, "hub.profiles[0]")
    assert error.message == "missing key 'name'"
    assert error.hint == (
        "add 'name:' under hub.profiles[0]"
        " (use lowercase letters, digits and '-', e.g. 'gpu-large')"
    )


def test_required_top_level_key_uses_the_description() -> None:
    error = problems_of("driver: sim\n")
    assert error.render() == (
        "error: site.yaml:1: missing key 'name'\n"
        "  fix: add 'name:' at the top level (the site's short name)"
    )


def test_enum_suggests_the_close_value_and_lists_all() -> None:
    error = problems_of("name: demo\ndriver: knid\n")
    assert error.message == "'knid' is not one of the allowed values"
    assert error.hint == "did you mean 'kind'? Allowed: 'sim', 'kind', 'minikube'"


def test_enum_without_a_close_value_lists_all() -> None:
    assert (
        problems_of("name: demo\ndriver: docker\n").hint == "use one of: 'sim', 'kind', 'minikube'"
    )


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("3x", "expected a number, got the string '3x'", "write just the number: 3"),
        ("[1, 2]", "expected a number, got a list", None),
        ("", "expected a number, got nothing", "write a value after the colon, or remove the key"),
    ],
)
def test_wrong_type_is_said_in_words(value: str, message: str, hint: str | None) -> None:
    error = problems_of(f"name: demo\nhub:\n  timeout: {value}\n")
    assert error.location is not None and error.location.line == 3
    assert (error.message, error.hint) == (message, hint)


def test_yes_where_a_boolean_is_expected_suggests_true() -> None:
    schema = {"type": "object", "properties": {"enabled": {"type": "boolean"}}}
    error = problems_of("enabled: yes\n", schema)
    assert (error.message, error.hint) == (
        "expected true or false, got the string 'yes'",
        "write true",
    )


def test_pattern_failure_uses_x_hint_as_the_fix() -> None:
    error = problems_of("name: demo\nhub:\n  profiles:\n    - name: GPU_Large\n")
    assert error.message == "'GPU_Large' is not in the expected form"
    assert error.hint == "use lowercase letters, digits and '-', e.g. 'gpu-large'"


@pytest.mark.parametrize(("typed", "fix"), [("4GB", "4Gi"), ("4gb", "4Gi"), ("16MiB", "16Mi")])
def test_human_memory_size_gets_the_kubernetes_spelling(typed: str, fix: str) -> None:
    error = problems_of(f"name: demo\nhub:\n  profiles:\n    - name: a\n      memory: {typed}\n")
    assert error.render() == (
        f"error: site.yaml:5 (hub.profiles[0].memory): '{typed}' is not a Kubernetes quantity\n"
        f"  fix: write '{fix}'"
    )


def test_quantity_pattern_announced_by_x_hint_also_gets_the_fix() -> None:
    schema = {
        "type": "object",
        "properties": {
            "memory": {"type": "string", "pattern": "^[0-9]+[MG]i$", "x-hint": "a k8s-quantity"}
        },
    }
    assert problems_of("memory: 8 GB\n", schema).hint == "write '8Gi'"
    assert quantity_fix("64Gi") is None


def test_one_of_reports_the_branch_the_value_was_meant_for() -> None:
    schema = {
        "type": "object",
        "properties": {
            "cpu": {
                "oneOf": [
                    {"type": "number"},
                    {"type": "string", "pattern": "^[0-9]+m$", "x-hint": "write e.g. '500m'"},
                ]
            },
            "size": {"anyOf": [{"type": "integer"}, {"const": "auto"}]},
        },
    }
    error = problems_of("cpu: 3x\nsize: [1]\n", schema)
    assert [(p.message, p.hint) for p in error.problems] == [
        ("'3x' is not in the expected form", "write e.g. '500m'"),
        ("expected a whole number or 'auto', got a list", None),
    ]


def test_all_problems_are_reported_sorted_by_line() -> None:
    text = (
        "driver: knid\n"
        "hub:\n"
        "  replicas: 0\n"
        "  profiles:\n"
        "    - name: a\n"
        "      memory: 4GB\n"
        "extra: 1\n"
    )
    error = problems_of(text)
    assert [(p.location.line, p.location.key) for p in error.problems] == [
        (1, None),  # missing 'name' at the top level
        (1, "driver"),
        (3, "hub.replicas"),
        (6, "hub.profiles[0].memory"),
        (7, "extra"),
    ]
    assert error.message == "5 problems in the site config"


def test_render_shows_every_problem_as_an_error_and_fix_block() -> None:
    error = problems_of("name: demo\nhub:\n  replicsa: 2\n  timeout: 3x\n")
    assert error.render() == (
        "error: site.yaml:3 (hub.replicsa): unknown key 'replicsa'\n"
        "  fix: did you mean 'replicas'?\n"
        "error: site.yaml:4 (hub.timeout): expected a number, got the string '3x'\n"
        "  fix: write just the number: 3"
    )


def test_document_problem_locates_checks_a_schema_cannot_express() -> None:
    doc = load_yaml_text(SITE, "site.yaml")
    problem = doc.problem(["hub", "profiles", 1, "name"], "profile 'big' is defined twice")
    assert (
        problem.render()
        == "error: site.yaml:8 (hub.profiles[1].name): profile 'big' is defined twice"
    )


def test_key_paths_quote_keys_that_are_not_plain_words() -> None:
    assert format_key_path(["hub", "profiles", 2, "memory"]) == "hub.profiles[2].memory"
    assert format_key_path(["labels", "sitebox.io/tier"]) == 'labels["sitebox.io/tier"]'
    assert format_key_path(["a.b", 0]) == '["a.b"][0]'
    assert Document(Path("x.yaml"), {}).line_of(["a"]) is None


def billion_laughs(levels: int = 9) -> str:
    """Nine levels of nine-fold aliases: under a kilobyte, 9**9 values expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        refs = ", ".join(f"*a{level - 1}" for _ in range(9))
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(billion_laughs())
    assert path.stat().st_size < 1000
    with pytest.raises(ConfigError) as err:
        load_yaml(path)
    assert "expands to more than 50,000 values" in err.value.render()
    assert str(path) in err.value.render()


def test_too_deep_or_too_large_files_are_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 80 + "]" * 80 + "\n")
    with pytest.raises(ConfigError, match="nested more than 64 levels"):
        load_yaml(deep)
    large = tmp_path / "large.yaml"
    large.write_text("a: " + "x" * (5 * 2**20) + "\n")
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        load_yaml(large)
