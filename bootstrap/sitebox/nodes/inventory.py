"""The node inventory: which hosts, which k3s role each plays, how to reach them.

A small YAML file of our own rather than an Ansible inventory, so a mistake is
reported with its file and line before Ansible runs; it becomes an Ansible
inventory for the run::

    vars:                    # Ansible variables for every host (group_vars/all.yml)
      sitebox_ntp_servers: [ntp.example.org]
    hosts:
      server-1: {address: 10.0.0.10, role: server, user: debian}
      worker-1: {address: 10.0.0.11, role: agent, user: debian, vars: {sitebox_gpu: true}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from sitebox.config import ConfigError, Document, load_yaml, validate
from sitebox.config.suggest import did_you_mean
from sitebox.model import siteconfig
from sitebox.nodes import ANSIBLE_DIR

ROLES = ("server", "agent")
CONNECTIONS = ("ssh", "local", "chroot")
# Our connection plugin (ansible/connection_plugins), for a root filesystem on this machine.
_ANSIBLE_CONNECTION = {"ssh": "ssh", "local": "local", "chroot": "sitebox_chroot"}
_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_VARS = {
    "type": "object",
    "propertyNames": {"pattern": _VAR_NAME},
    "x-hint": "Ansible variable names: letters, digits and '_'",
}
# Variables whose wrong value would only fail deep inside a playbook run.
_CHOICES = {"sitebox_firewall": ("ufw", "firewalld", "none")}
# Folders on the machine running sitebox, read by the playbook through lookups.
_FOLDERS = ("sitebox_k3s_from",)
EMPTY_HINT = "write `hosts:` with one entry per node; see docs/nodes.md"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["hosts"],
    "properties": {
        "vars": _VARS,
        "hosts": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["address", "role"],
                "properties": {
                    "address": {
                        "type": "string",
                        "minLength": 1,
                        "x-hint": "the host's name or IP; for chroot, the root folder's path",
                    },
                    "role": {"enum": list(ROLES)},
                    "connection": {"enum": list(CONNECTIONS)},
                    "user": {"type": "string", "minLength": 1},
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "ssh_key": {"type": "string", "minLength": 1},
                    "become": {"type": "boolean"},
                    "vars": _VARS,
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    role: str
    connection: str = "ssh"
    user: str | None = None
    port: int | None = None
    ssh_key: str | None = None
    become: bool = False
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return f"k3s_{self.role}"

    def ansible_vars(self) -> dict[str, Any]:
        connection: dict[str, Any] = {
            "ansible_host": self.address,
            "ansible_connection": _ANSIBLE_CONNECTION[self.connection],
            "ansible_become": self.become,
        }
        optional = {
            "ansible_user": self.user,
            "ansible_port": self.port,
            "ansible_ssh_private_key_file": self.ssh_key,
        }
        connection.update({key: value for key, value in optional.items() if value is not None})
        if self.connection != "ssh":
            # Modules run with the host's python3, not the one running sitebox.
            connection.setdefault("ansible_python_interpreter", "/usr/bin/python3")
        # In a chroot, "apply now" (modprobe, sysctl, services) would act on this machine.
        forced = {"sitebox_apply_runtime": False} if self.connection == "chroot" else {}
        return {**connection, **self.vars, **forced}


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: tuple[Host, ...]

    def ansible(self) -> dict[str, Any]:
        """The Ansible inventory: the groups the playbook targets, all variables per host."""
        groups: dict[str, Any] = {f"k3s_{role}": {"hosts": {}} for role in ROLES}
        for host in self.hosts:
            groups[host.group]["hosts"][host.name] = host.ansible_vars()
        return {"all": {"children": groups}}

    def with_vars(self, extra: dict[str, Any]) -> Inventory:
        """Variables under the inventory's own: a host's `vars:` still win."""
        hosts = tuple(replace(host, vars={**extra, **host.vars}) for host in self.hosts)
        return Inventory(self.path, hosts)


def known_vars() -> list[str]:
    """The variables the playbooks read, from the defaults file that documents them."""
    data = yaml.safe_load((ANSIBLE_DIR / "group_vars" / "all.yml").read_text())
    return sorted(data)


def load(path: Path) -> Inventory:
    doc = load_yaml(path, empty_hint=EMPTY_HINT)
    validate(doc, SCHEMA, what="node inventory")
    _check(doc)
    common = doc.data.get("vars", {})
    hosts = []
    for name, spec in doc.data["hosts"].items():
        connection = spec.get("connection", "ssh")
        user = spec.get("user")
        become = spec.get("become", connection == "ssh" and user not in (None, "root"))
        hosts.append(
            Host(
                name=name,
                address=spec["address"],
                role=spec["role"],
                connection=connection,
                user=user,
                port=spec.get("port"),
                ssh_key=spec.get("ssh_key"),
                become=become,
                vars={**common, **spec.get("vars", {})},
            )
        )
    return Inventory(path, tuple(hosts))


def _check(doc: Document) -> None:
    """What the schema cannot say: a server exists, chroot paths, known sitebox_ names."""
    problems = []
    hosts: dict[str, dict[str, Any]] = doc.data["hosts"]
    if not any(spec["role"] == "server" for spec in hosts.values()):
        fix = "give one host `role: server` (k3s needs a server for the agents to join)"
        problems.append(doc.problem(["hosts"], "no host has the role 'server'", fix))
    for name, spec in hosts.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            fix = "use letters, digits, '.', '-' and '_': Ansible reads others as patterns"
            problems.append(doc.problem(["hosts", name], f"host name {name!r} is not usable", fix))
        if spec.get("connection") == "chroot" and not spec["address"].startswith("/"):
            fix = "give the absolute path of the root filesystem"
            problems.append(
                doc.problem(["hosts", name, "address"], "a chroot address must be a path", fix)
            )
        runtime = {**doc.data.get("vars", {}), **spec.get("vars", {})}.get("sitebox_apply_runtime")
        if spec.get("connection") == "chroot" and runtime is True:
            fix = "remove it: in a chroot, runtime steps would change the machine running sitebox"
            problems.append(
                doc.problem(["hosts", name], "sitebox_apply_runtime cannot be on for a chroot", fix)
            )
    known = known_vars()
    scopes: list[tuple[tuple[str, ...], dict[str, Any]]] = [(("vars",), doc.data.get("vars", {}))]
    scopes += [(("hosts", name, "vars"), spec.get("vars", {})) for name, spec in hosts.items()]
    for where, variables in scopes:
        for key in variables:
            if key.startswith("sitebox_") and key not in known:
                guess = did_you_mean(key, known)
                fix = f"did you mean {guess!r}?" if guess else "docs/nodes.md lists the variables"
                problems.append(doc.problem([*where, key], f"unknown variable {key!r}", fix))
            allowed = _CHOICES.get(key)
            if allowed and variables[key] not in allowed:
                fix = f"use one of: {', '.join(allowed)}"
                message = f"{variables[key]!r} is not one of the allowed values"
                problems.append(doc.problem([*where, key], message, fix))
            if key in _FOLDERS and variables[key] and not Path(str(variables[key])).is_absolute():
                fix = "give the absolute path (a relative one is read from the playbook's folder)"
                message = f"{key} must be an absolute path, not {variables[key]!r}"
                problems.append(doc.problem([*where, key], message, fix))
    if problems:
        raise ConfigError(problems, what="node inventory")


def site_vars(path: Path) -> dict[str, Any]:
    """The playbook variables a site.yaml decides: its CVMFS repositories and proxy."""
    cvmfs = siteconfig.load(path).config.get("cvmfs", {})
    found: dict[str, Any] = {}
    if cvmfs.get("repositories"):
        found["sitebox_cvmfs_repositories"] = list(cvmfs["repositories"])
    if cvmfs.get("proxy"):
        found["sitebox_cvmfs_proxy"] = cvmfs["proxy"]
    return found
