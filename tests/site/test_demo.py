"""Profile demo with its real upstream charts, on a sim cluster sized to its `requires`."""

from __future__ import annotations

import pytest

from tests.site.conftest import SiteCluster
from tests.site.lifecycle import install_converges, uninstall_keeps_volumes

pytestmark = pytest.mark.live
PROFILE = "demo"


def test_installs_converges_and_uninstalls_keeping_data(profile_cluster: SiteCluster) -> None:
    claims = install_converges(profile_cluster)
    uninstall_keeps_volumes(profile_cluster, claims)
