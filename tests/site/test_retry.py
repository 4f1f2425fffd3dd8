"""A failed first install, and an interrupted one, are retried to a working site.

The demo profile on a cluster whose pods take a while to start (as on real nodes that
pull images): an install given less time than that fails, and Helm removes what it
made; an install stopped by SIGTERM says what it left. The next plain install works in
both cases, whatever the charts' hooks left behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from sitebox.components.names import SITE_NAMESPACE
from sitebox.kube import Kube
from tests.site.conftest import SiteCluster
from tests.site.lifecycle import wait_for_site_install

pytestmark = pytest.mark.live
PROFILE = "demo"
CLUSTER_ARGS = ("--pod-startup", "10")
# SeaweedFS's pre-install hook Secret, which its chart keeps (helm.sh/resource-policy).
KEPT = "sitebox-seaweedfs-s3-secret"


def test_a_failed_install_is_retried(profile_cluster: SiteCluster) -> None:
    kube = Kube(profile_cluster.kubeconfig)
    site = str(profile_cluster.site)
    failed = profile_cluster.sitebox("install", "-f", site, "--timeout", "4s")
    assert failed.code == 1
    assert "did not become ready and was rolled back" in failed.err, failed.err[-2000:]
    # Named from Helm's own wait status: the objects, their state.
    assert "Helm waited for:" in failed.err
    # Which objects Helm had reached in 4 s depends on the machine's load; each is named.
    assert re.search(r"\w+ sitebox/\S+: (InProgress|Unknown)", failed.err), failed.err
    assert kube.get("v1", "Secret", KEPT, SITE_NAMESPACE), "the chart's hook kept its Secret"

    retried = profile_cluster.sitebox("install", "-f", site)
    assert retried.code == 0, retried.err[-3000:]
    assert "sitebox: installed/upgraded to revision 1" in retried.err


def test_a_terminated_install_says_what_it_left_and_is_retried(
    profile_cluster: SiteCluster,
) -> None:
    gone = profile_cluster.sitebox("uninstall", "--purge-data", "--yes")
    assert gone.code == 0, gone.err
    kube = Kube(profile_cluster.kubeconfig)
    running = subprocess.Popen(
        [sys.executable, "-m", "sitebox", "install", "-f", str(profile_cluster.site),
         "--kubeconfig", str(profile_cluster.kubeconfig)],
        env={**os.environ, **profile_cluster.env}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    wait_for_site_install(kube, running)
    started = time.monotonic()
    running.send_signal(signal.SIGTERM)
    _, err = running.communicate(timeout=60)
    assert time.monotonic() - started < 30, "SIGTERM ends the run promptly"
    assert running.returncode == 130, err
    assert "Traceback" not in err
    # Helm got the signal too and stopped its install: the site release is left as Helm
    # leaves an interrupted install (failed, pending, or removed by its rollback).
    assert "interrupted; the site is left as: sitebox-system: deployed at revision 1;" in err
    assert "sitebox: deployed" not in err, "the install did not go on after the signal"
    assert "run `sitebox install -f" in err

    retried = profile_cluster.sitebox("install", "-f", str(profile_cluster.site))
    assert retried.code == 0, retried.err[-3000:]
    assert "sitebox: installed/upgraded to revision" in retried.err
