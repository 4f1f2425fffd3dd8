from pathlib import Path

import pytest

from sitebox.cluster.nodes import FAKE_ANNOTATION, load_pool_file, parse_spec, parse_specs
from sitebox.errors import SiteboxError

pytestmark = pytest.mark.unit


def test_compact_spec_gives_nodes_with_that_capacity() -> None:
    pool = parse_spec("3x16cpu-64Gi", "node")
    nodes = pool.manifests()
    assert [n["metadata"]["name"] for n in nodes] == ["node-0", "node-1", "node-2"]
    assert nodes[0]["status"]["allocatable"] == {
        "cpu": "16",
        "memory": "64Gi",
        "pods": "110",
        "ephemeral-storage": "500Gi",
    }
    assert nodes[0]["metadata"]["annotations"] == {FAKE_ANNOTATION: "fake"}


def test_named_gpu_pool() -> None:
    pool = parse_spec("gpu=2x8cpu-32Gi-4gpu", "node")
    assert (pool.name, pool.count, pool.gpu) == ("gpu", 2, 4)
    assert pool.manifests()[1]["status"]["capacity"]["nvidia.com/gpu"] == "4"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("3x16-64Gi", "unknown node-pool spec"),
        ("0x4cpu-8Gi", "count must be at least 1"),
        ("2x4cpu-8GB", "write '8Gi'"),
        ("2x4cpu-lots", "not a memory size"),
    ],
)
def test_bad_specs_say_what_to_write(spec: str, words: str) -> None:
    with pytest.raises(SiteboxError) as err:
        parse_spec(spec, "node")
    assert words in err.value.render()
    assert "COUNTxCPUcpu-MEMORY" in (err.value.hint or "")


def test_duplicate_pool_names_are_refused() -> None:
    with pytest.raises(SiteboxError, match="used twice"):
        parse_specs(("a=1x4cpu-8Gi", "a=2x4cpu-8Gi"))


def test_pool_file_with_labels_and_taints(tmp_path: Path) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text(
        "pools:\n"
        "  - name: gpu\n    count: 1\n    cpu: '8'\n    memory: 32Gi\n    gpu: 2\n"
        "    labels: {zone: a}\n"
        "    taints: [{key: nvidia.com/gpu, value: 'true', effect: NoSchedule}]\n"
    )
    (node,) = load_pool_file(path)[0].manifests()
    assert node["metadata"]["labels"]["zone"] == "a"
    assert node["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    ]


def test_pool_file_typo_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text("pools:\n  - name: a\n    count: 1\n    cpus: '8'\n    memory: 1Gi\n")
    with pytest.raises(SiteboxError) as err:
        load_pool_file(path)
    assert f"{path}:4 (pools[0].cpus)" in err.value.render()


def test_pool_file_yaml_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text("pools:\n  - name: a\n    count: [1\n")
    with pytest.raises(SiteboxError) as err:
        load_pool_file(path)
    assert str(path) + ":" in err.value.render()
    assert "invalid YAML" in err.value.render()


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ("    count: three\n", "pools[0].count", "count must be a whole number of at least 1"),
        ("    count: 2\n    gpu: x\n", "pools[0].gpu", "gpu must be a whole number of at least 0"),
        ("    count: 0\n", "pools[0].count", "not 0"),
        ("    count: 1\n    labels: [a]\n", "pools[0].labels", "labels must be a mapping"),
    ],
)
def test_pool_file_values_of_the_wrong_type_name_file_line_and_key(
    tmp_path: Path, line: str, key: str, words: str
) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text("pools:\n  - name: a\n    cpu: '8'\n    memory: 1Gi\n" + line)
    with pytest.raises(SiteboxError) as err:
        load_pool_file(path)
    rendered = err.value.render()
    assert f"{path}:" in rendered and f"({key})" in rendered and words in rendered, rendered
    assert err.value.hint
