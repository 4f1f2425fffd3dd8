"""Both Helm releases are installed and their current revision is deployed."""

from __future__ import annotations

import pytest

from sitebox.compose.render import RELEASES
from sitebox.helm import Installed
from sitebox.validate.suite.verdict import fail_on


@pytest.mark.parametrize(
    ("release", "namespace"), [pytest.param(n, ns, id=n) for _, n, ns in RELEASES]
)
def test_release_deployed(
    releases: dict[str, Installed | None], release: str, namespace: str
) -> None:
    state = releases[release]
    if state is None:
        fail_on([f"release {namespace}/{release} is not installed"], "run `sitebox install`")
        return
    revision = state.revision
    if revision.status != "deployed":
        fail_on(
            [f"release {release} revision {revision.revision} is {revision.status}"],
            "`sitebox upgrade` again, or `sitebox rollback` to the last deployed revision",
        )
