"""A Debian root filesystem to run the node playbooks against, through a chroot.

Built once with debootstrap into ``~/.cache/sitebox/testbed/<suite>.tar`` (outside
git), then extracted fresh for every test that changes it, so an idempotence run
always starts from the same clean state. The packages the playbooks install are
downloaded into the image's apt cache at build time: the playbook's first run
installs them for real, from that cache, without the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from sitebox.nodes import ANSIBLE_DIR
from sitebox.paths import cache_dir

SUITE = "bookworm"
# python3 is what Ansible's modules run with; python3-apt is what its apt module needs.
BASE = ("python3", "python3-apt")
# A real host's package manager starts services; in a chroot that would start them
# on the machine running the tests. policy-rc.d forbids it (as container images do).
_NONINTERACTIVE = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
POLICY_RC_D = "#!/bin/sh\n# sitebox testbed: never start services from a chroot\nexit 101\n"


def mirror() -> str:
    """The Debian mirror this machine's apt uses, so the build needs no other network."""
    sources = [*Path("/etc/apt").glob("sources.list"), *Path("/etc/apt").glob("sources.list.d/*")]
    for source in sorted(sources):
        for line in source.read_text().splitlines():
            # deb822 (`URIs: ...`) or one-line (`deb [options] URI suite ...`) format
            uris = re.findall(r"https?://\S*/debian(?=\s|/?$)", line)
            if uris and (line.startswith("URIs:") or line.startswith("deb ")):
                return uris[0]
    return "http://deb.debian.org/debian"


def playbook_packages() -> list[str]:
    """Every Debian package the playbooks install in the test inventory's setup."""
    data = yaml.safe_load(
        (ANSIBLE_DIR / "roles" / "prerequisites" / "vars" / "Debian.yml").read_text()
    )
    return sorted(
        {*data["prerequisites_packages"], *data["prerequisites_firewall_packages"]["ufw"]}
    )


def image_path(suite: str = SUITE) -> Path:
    """Named by what is in it, so a change to the playbook's packages builds a new one."""
    recipe = json.dumps([suite, BASE, POLICY_RC_D, playbook_packages()])
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return cache_dir() / "testbed" / f"{suite}-{digest}.tar"


def build(suite: str = SUITE) -> Path:
    """Build the image if it is not cached, recording the seconds it took beside it."""
    image = image_path(suite)
    if image.exists():
        return image
    started = time.monotonic()
    image.parent.mkdir(parents=True, exist_ok=True)
    for pattern in (f"{suite}-*.tar*", f"{suite}-*.json"):
        for stale in image.parent.glob(pattern):
            stale.unlink()
    with tempfile.TemporaryDirectory(dir=image.parent, prefix=f"{suite}-build-") as scratch:
        root = Path(scratch) / "root"
        try:
            _bootstrap(suite, root)
        finally:
            _unmount_below(root)  # debootstrap mounts /proc and /sys while it works
        partial = image.with_suffix(".tar.partial")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
            check=True, capture_output=True,
        )  # fmt: skip
        partial.rename(image)
    seconds = round(time.monotonic() - started, 1)
    image.with_suffix(".json").write_text(json.dumps({"build_seconds": seconds}) + "\n")
    return image


def _bootstrap(suite: str, root: Path) -> None:
    subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(BASE)}", suite, str(root),
         mirror()],
        check=True, capture_output=True,
    )  # fmt: skip
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text(POLICY_RC_D)
    policy.chmod(0o755)
    subprocess.run(
        ["chroot", str(root), "apt-get", "install", "--download-only", "--yes",
         "--no-install-recommends", *playbook_packages()],
        check=True, capture_output=True, env=_NONINTERACTIVE,
    )  # fmt: skip


def _unmount_below(root: Path) -> None:
    """Unmount whatever a failed build left mounted in the root, before it is deleted."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)


def extract(image: Path, target: Path) -> Path:
    """A fresh root filesystem from the image, at ``target``."""
    target.mkdir(parents=True)
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(target), "-xf", str(image)],
        check=True,
        capture_output=True,
    )
    return target


def remove(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
