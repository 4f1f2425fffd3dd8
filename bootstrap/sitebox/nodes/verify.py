"""``sitebox nodes verify``: the state the playbook promises, checked on each node.

Checks run through testinfra's backends (ssh, local, chroot) in-process. Each check
is of a kind: ``file`` checks read persistent configuration and hold anywhere;
``runtime`` checks look at the running kernel and services, so on a root filesystem
reached through chroot they are reported "not run in a chroot", never passed;
checks of what only an online run installs (k3s) are "not run: offline" with
``--offline``.

What is expected comes from the playbook's own defaults files and the host's
variables, so the checks cannot drift from what the roles write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sitebox.errors import SiteboxError
from sitebox.nodes import ANSIBLE_DIR
from sitebox.nodes.inventory import Host

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
_ROLE = ANSIBLE_DIR / "roles" / "prerequisites"


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


@dataclass(frozen=True)
class Finding:
    check: str
    kind: str
    status: str
    detail: str


class Node:
    """One host as the checks see it: a testinfra host plus the variables it was given."""

    def __init__(self, host: Host, infra: Any):
        self.host = host
        self.infra = infra
        self.defaults = {
            **_yaml(ANSIBLE_DIR / "group_vars" / "all.yml"),
            **_yaml(_ROLE / "defaults" / "main.yml"),
        }
        self.ids = self._os_ids()
        self.family = self._family()
        self.names = _yaml(_ROLE / "vars" / f"{self.family}.yml")

    def var(self, name: str) -> Any:
        return self.host.vars.get(name, self.defaults.get(name))

    def _os_ids(self) -> list[str]:
        """ID and ID_LIKE of /etc/os-release: 'ubuntu debian', 'rocky rhel centos fedora'."""
        release = self.infra.file("/etc/os-release")
        text = release.content_string if release.exists else ""
        fields = dict(
            line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
        )
        return " ".join(fields.get(key, "").strip('"') for key in ("ID", "ID_LIKE")).split()

    def _family(self) -> str:
        if {"debian", "ubuntu"} & set(self.ids):
            return "Debian"
        if {"rhel", "fedora", "centos"} & set(self.ids):
            return "RedHat"
        raise SiteboxError(
            f"{self.host.name}: cannot tell the OS family from /etc/os-release "
            f"({' '.join(self.ids) or 'no ID'})",
            hint="sitebox supports Debian, Ubuntu and EL-family hosts",
        )

    @property
    def firewall(self) -> str:
        chosen = self.host.vars.get("sitebox_firewall")
        if chosen:
            return str(chosen)
        if self.family == "RedHat":
            return "firewalld"
        return "ufw" if "ubuntu" in self.ids else "none"

    @property
    def ports(self) -> list[str]:
        server = self.defaults["prerequisites_server_ports"] if self.host.role == "server" else []
        extra = self.var("sitebox_firewall_extra_ports") or []
        return [*server, *self.defaults["prerequisites_node_ports"], *extra]

    def lines(self, path: str) -> list[str] | None:
        """The file's lines that are not comments or blank; None if it is missing."""
        file = self.infra.file(path)
        if not file.exists:
            return None
        text: str = file.content_string
        return [s for s in (line.strip() for line in text.splitlines()) if s and s[0] != "#"]


Outcome = tuple[str, str]
Check = Callable[[Node], Outcome]


def _missing(path: str) -> Outcome:
    return FAIL, f"{path} is missing"


def packages(node: Node) -> Outcome:
    wanted = list(node.names["prerequisites_packages"])
    wanted += node.names["prerequisites_firewall_packages"].get(node.firewall, [])
    absent = [name for name in wanted if not node.infra.package(name).is_installed]
    return (FAIL, f"not installed: {', '.join(absent)}") if absent else (PASS, ", ".join(wanted))


def modules_conf(node: Node) -> Outcome:
    path = "/etc/modules-load.d/sitebox.conf"
    found = node.lines(path)
    if found is None:
        return _missing(path)
    absent = [m for m in node.defaults["prerequisites_kernel_modules"] if m not in found]
    return (FAIL, f"{path} lacks {', '.join(absent)}") if absent else (PASS, " ".join(found))


def sysctl_conf(node: Node) -> Outcome:
    path = str(node.defaults["prerequisites_sysctl_file"])
    found = node.lines(path)
    if found is None:
        return _missing(path)
    values = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in found)}
    wrong = [
        f"{key}={values.get(key, '(unset)')}, want {value}"
        for key, value in node.defaults["prerequisites_sysctls"].items()
        if values.get(key) != str(value)
    ]
    return (FAIL, "; ".join(wrong)) if wrong else (PASS, f"{len(values)} settings in {path}")


def fuse_conf(node: Node) -> Outcome:
    found = node.lines("/etc/fuse.conf")
    if found is None:
        return _missing("/etc/fuse.conf")
    if "user_allow_other" in found:
        return PASS, "user_allow_other"
    return FAIL, "/etc/fuse.conf does not allow user_allow_other"


def ntp_sources(node: Node) -> Outcome:
    servers = node.var("sitebox_ntp_servers") or []
    if not servers:
        return NOT_RUN, "no NTP servers set: the distribution's pool is used"
    path = "/etc/chrony/sources.d/sitebox.sources"
    found = node.lines(path)
    if found is None:
        return _missing(path)
    absent = [s for s in servers if f"server {s} iburst" not in found]
    return (FAIL, f"{path} lacks {', '.join(absent)}") if absent else (PASS, ", ".join(servers))


def firewall_conf(node: Node) -> Outcome:
    kind = node.firewall
    if kind == "none":
        return NOT_RUN, "no host firewall (sitebox_firewall: none)"
    path = {
        "ufw": "/etc/ufw/applications.d/sitebox-k3s",
        "firewalld": "/etc/firewalld/services/sitebox-k3s.xml",
    }[kind]
    found = node.lines(path)
    if found is None:
        return _missing(path)
    text = "\n".join(found)
    spelled = {
        port: port if kind == "ufw" else 'port="{1}"'.format(*port.split("/")).replace(":", "-")
        for port in node.ports
    }
    absent = [port for port, text_form in spelled.items() if text_form not in text]
    return (FAIL, f"{path} lacks {', '.join(absent)}") if absent else (PASS, " ".join(node.ports))


def cvmfs_conf(node: Node) -> Outcome:
    if not node.var("sitebox_cvmfs_host_mount"):
        return NOT_RUN, "CVMFS is not mounted on the host (the CSI driver mounts it)"
    path = "/etc/cvmfs/default.local"
    found = node.lines(path)
    if found is None:
        return _missing(path)
    values = dict(line.split("=", 1) for line in found if "=" in line)
    want = ",".join(node.var("sitebox_cvmfs_repositories") or [])
    got = values.get("CVMFS_REPOSITORIES", "")
    if got != want:
        return FAIL, f"CVMFS_REPOSITORIES={got!r}, want {want!r}"
    proxy = values.get("CVMFS_HTTP_PROXY", "").strip('"')
    if proxy != node.var("sitebox_cvmfs_proxy"):
        return FAIL, f"CVMFS_HTTP_PROXY={proxy!r}, want {node.var('sitebox_cvmfs_proxy')!r}"
    return PASS, f"{want} via {proxy}"


def k3s_binary(node: Node) -> Outcome:
    file = node.infra.file("/usr/local/bin/k3s")
    if not file.exists:
        return FAIL, "/usr/local/bin/k3s is missing"
    version = node.infra.run("/usr/local/bin/k3s --version").stdout.split("\n")[0]
    want = str(node.var("sitebox_k3s_version"))
    if want not in version:
        return FAIL, f"{version}, want {want}"
    unit = f"/etc/systemd/system/{'k3s' if node.host.role == 'server' else 'k3s-agent'}.service"
    return (PASS, f"{version}, {unit}") if node.infra.file(unit).exists else _missing(unit)


def modules_loaded(node: Node) -> Outcome:
    modules = node.defaults["prerequisites_kernel_modules"]
    absent = [m for m in modules if not node.infra.file(f"/sys/module/{m}").exists]
    return (FAIL, f"not loaded: {', '.join(absent)}") if absent else (PASS, " ".join(modules))


def sysctls_live(node: Node) -> Outcome:
    wrong = []
    for key, value in node.defaults["prerequisites_sysctls"].items():
        now = node.infra.run(f"sysctl -n {key}").stdout.strip()
        if now != str(value):
            wrong.append(f"{key}={now or '(none)'}, want {value}")
    return (FAIL, "; ".join(wrong)) if wrong else (PASS, "in effect")


def fuse_device(node: Node) -> Outcome:
    device = node.infra.file("/dev/fuse")
    if device.exists and device.is_char_device:
        return PASS, "/dev/fuse"
    return FAIL, "/dev/fuse is not a character device (is the fuse module loaded?)"


def chrony_running(node: Node) -> Outcome:
    name = str(node.names["prerequisites_chrony_service"])
    service = node.infra.service(name)
    if service.is_running and service.is_enabled:
        return PASS, f"{name} running, enabled"
    return FAIL, f"{name} is not running and enabled"


def k3s_running(node: Node) -> Outcome:
    name = "k3s" if node.host.role == "server" else "k3s-agent"
    if not node.infra.service(name).is_running:
        return FAIL, f"{name} is not running"
    port = 6443 if node.host.role == "server" else 10250
    if not node.infra.socket(f"tcp://{port}").is_listening:
        return FAIL, f"{name} runs but nothing listens on {port}"
    return PASS, f"{name} running, listening on {port}"


RUNTIME, DOWNLOAD = "runtime", "download"
# (name, what the check needs beyond files, check)
CHECKS: tuple[tuple[str, frozenset[str], Check], ...] = (
    ("packages", frozenset(), packages),
    ("kernel modules at boot", frozenset(), modules_conf),
    ("kernel settings at boot", frozenset(), sysctl_conf),
    ("fuse.conf", frozenset(), fuse_conf),
    ("NTP sources", frozenset(), ntp_sources),
    ("firewall ports", frozenset(), firewall_conf),
    ("CVMFS client config", frozenset(), cvmfs_conf),
    ("k3s installed", frozenset({DOWNLOAD}), k3s_binary),
    ("kernel modules loaded", frozenset({RUNTIME}), modules_loaded),
    ("kernel settings in effect", frozenset({RUNTIME}), sysctls_live),
    ("FUSE device", frozenset({RUNTIME}), fuse_device),
    ("time sync running", frozenset({RUNTIME}), chrony_running),
    ("k3s running", frozenset({RUNTIME, DOWNLOAD}), k3s_running),
)


def _infra(host: Host) -> Any:
    try:
        import testinfra
    except ImportError:
        raise SiteboxError(
            "testinfra is not installed",
            hint="install sitebox with its nodes extra: pip install 'sitebox[nodes]'",
        ) from None
    if host.connection == "chroot":
        return testinfra.get_host(host.address, connection="chroot")
    if host.connection == "local":
        return testinfra.get_host("local://", sudo=host.become)
    user = f"{host.user}@" if host.user else ""
    port = f":{host.port}" if host.port else ""
    options = {"ssh_identity_file": host.ssh_key} if host.ssh_key else {}
    return testinfra.get_host(f"ssh://{user}{host.address}{port}", sudo=host.become, **options)


def check_host(host: Host, *, offline: bool) -> Iterator[Finding]:
    """Every check on one host, in order; a host that cannot be reached fails them all."""
    infra = _infra(host)
    try:
        probe = infra.run("true")
    except (RuntimeError, OSError) as exc:  # ssh's exit 255 comes as the CommandResult
        result = exc.args[0] if exc.args else None
        probe_error = str(getattr(result, "stderr", "") or exc)
    else:
        probe_error = "" if probe.rc == 0 else (probe.stderr.strip() or f"exit {probe.rc}")
    if probe_error:
        yield Finding("connection", "connection", FAIL, probe_error.splitlines()[-1])
        return
    node = Node(host, infra)
    # Offline, k3s is still installed when it came from a folder (a bundle's).
    downloaded = not offline or bool(host.vars.get("sitebox_k3s_from"))
    for name, needs, check in CHECKS:
        kind = RUNTIME if RUNTIME in needs else DOWNLOAD if needs else "file"
        if RUNTIME in needs and host.connection == "chroot":
            yield Finding(name, kind, NOT_RUN, "not run in a chroot")
        elif DOWNLOAD in needs and not downloaded:
            yield Finding(name, kind, NOT_RUN, "not run: offline (the download steps were skipped)")
        else:
            status, detail = check(node)
            yield Finding(name, kind, status, detail)
