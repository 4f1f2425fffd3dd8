import pytest

from sitebox.cluster.quantity import QuantityError, cpu_millis, memory_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [("64Gi", 64 * 2**30), ("512Mi", 512 * 2**20), ("1G", 10**9), ("1024", 1024)],
)
def test_memory(text: str, expected: int) -> None:
    assert memory_bytes(text) == expected


@pytest.mark.parametrize(("text", "fix"), [("4GB", "4Gi"), ("4gb", "4Gi"), ("16MiB", "16Mi")])
def test_human_memory_sizes_get_the_kubernetes_spelling(text: str, fix: str) -> None:
    with pytest.raises(QuantityError, match=f"write '{fix}'"):
        memory_bytes(text)


def test_cpu() -> None:
    assert cpu_millis("500m") == 500
    assert cpu_millis("2.5") == 2500
    with pytest.raises(QuantityError):
        cpu_millis("two")
