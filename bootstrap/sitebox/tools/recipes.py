"""How each pinned tool is built from the Go module proxy, and how its version is checked.

helm and kwok are plain ``go install`` targets. Kubernetes, etcd and Prometheus are
not: their own go.mod files carry ``replace`` directives, so each is built inside a
small generated wrapper module that requires the pinned module and carries the
replacements over (for Kubernetes, its staging modules by their published versions).
kube-state-metrics is built in such a wrapper too (the proxy lists no versions of it).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sitebox.tools.builder import BuildError, GoRun
from sitebox.tools.pins import Pin

BuildFn = Callable[[Pin, GoRun], None]


def _same(version: str) -> str:
    return version


@dataclass(frozen=True)
class VersionCheck:
    """Run the binary with ``args``; its output must contain ``expect`` (formatted with the
    pin's version as ``release`` gives the one the binary reports)."""

    args: tuple[str, ...]
    expect: str
    release: Callable[[str], str] = _same

    def expected(self, pin: Pin) -> str:
        version = self.release(pin.version)
        return self.expect.format(version=version, bare_version=version.removeprefix("v"))


@dataclass(frozen=True)
class Recipe:
    binaries: dict[str, VersionCheck]
    build: BuildFn
    revision: str  # bump when the build steps change, so cached builds are redone


def _ldflags(*pairs: tuple[str, str]) -> str:
    return " ".join(["-s -w", *(f"-X {k}={v}" for k, v in pairs)])


def _download(pin: Pin, go: GoRun) -> dict[str, str]:
    """``go mod download -json`` of the pinned module: its Dir, its GoMod file, …"""
    info: dict[str, str] = json.loads(
        go(["go", "mod", "download", "-json", f"{pin.module}@{pin.version}"])
    )
    return info


def _build_helm(pin: Pin, go: GoRun) -> None:
    # Helm reads its version from a linker variable; pyhelm3 parses it as semver,
    # so an unstamped "v4.3" breaks every call.
    flags = _ldflags(
        (f"{pin.module}/internal/version.version", pin.version),
        (f"{pin.module}/internal/version.gitTreeState", "clean"),
    )
    go.env["GOBIN"] = str(go.build.bin)
    go(["go", "install", "-trimpath", "-ldflags", flags, f"{pin.module}/cmd/helm@{pin.version}"])


def _build_kwok(pin: Pin, go: GoRun) -> None:
    go.env["GOBIN"] = str(go.build.bin)
    go(["go", "install", "-trimpath", "-ldflags", "-s -w", f"{pin.module}/cmd/kwok@{pin.version}"])
    # kwok run against an existing API server needs its stages as config; they ship
    # as YAML in the module, so keep a copy beside the binary.
    stages = Path(_download(pin, go)["Dir"]) / "kustomize" / "stage"
    target = go.build.root / "stages"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(stages, target, ignore=shutil.ignore_patterns("*.go", "testdata", "*.md"))


def _go_install(command: str) -> BuildFn:
    """The build of a tool that is one ``go install`` of the pinned module's ``command``."""

    def build(pin: Pin, go: GoRun) -> None:
        go.env["GOBIN"] = str(go.build.bin)
        target = f"{pin.module}/{command}@{pin.version}"
        go(["go", "install", "-trimpath", "-ldflags", "-s -w", target])

    return build


_STAGING = re.compile(r"^\s*(k8s\.io/[a-z0-9-]+)\s+=>\s+\./staging/", re.MULTILINE)
# A one-line replace of a module by a published version (not by a local folder).
_PUBLISHED = re.compile(r"^replace\s+(\S+)\s+=>\s+(\S+)\s+(v\S+)\s*$", re.MULTILINE)
_COMMON_VERSION = "github.com/prometheus/common/version.Version"


def _wrapper(go: GoRun, module: str, requires: str, replaces: dict[str, str]) -> Path:
    src = go.build.src
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    lines = [f"module {module}", "", "go 1.26", "", f"require {requires}", ""]
    lines += [f"replace {old} => {new}" for old, new in sorted(replaces.items())]
    (src / "go.mod").write_text("\n".join(lines) + "\n")
    return src


def _build_kubernetes(pin: Pin, go: GoRun) -> None:
    staging = _STAGING.findall(Path(_download(pin, go)["GoMod"]).read_text())
    if not staging:
        raise BuildError(f"no staging modules found in {pin.module}@{pin.version}'s go.mod")
    published = "v0." + pin.bare_version.split(".", 1)[1]  # v1.36.3 → v0.36.3
    src = _wrapper(
        go,
        "sitebox.local/build/kubernetes",
        f"{pin.module} {pin.version}",
        {m: f"{m} {published}" for m in staging},
    )
    commands = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    _require_packages(go, src, [f"{pin.module}/cmd/{c}" for c in commands])
    major, minor = pin.bare_version.split(".")[:2]
    stamp: list[tuple[str, str]] = []
    # Without these the API server reports v0.0.0 and Helm's kubeVersion checks fail.
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamp += [
            (f"{pkg}.gitVersion", pin.version),
            (f"{pkg}.gitMajor", major),
            (f"{pkg}.gitMinor", minor),
            (f"{pkg}.gitTreeState", "clean"),
        ]
    go(
        [
            "go", "build", "-trimpath", "-ldflags", _ldflags(*stamp),
            "-o", str(go.build.bin) + "/", *(f"{pin.module}/cmd/{c}" for c in commands),
        ],
        cwd=src,
    )  # fmt: skip


def _require_packages(go: GoRun, src: Path, packages: list[str]) -> None:
    """Make the wrapper module require what builds ``packages`` (a tools.go, then tidy)."""
    imports = "\n".join(f'\t_ "{p}"' for p in packages)
    (src / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n")
    go(["go", "mod", "tidy"], cwd=src)


def prometheus_release(module_version: str) -> str:
    """The Prometheus release of a module version: v0.314.0 is 3.14.0 (its Go module
    cannot be v3, so the major and minor are folded into the module's minor)."""
    minor, patch = module_version.removeprefix("v0.").split(".")
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


def _build_wrapped(
    pin: Pin, go: GoRun, binary: str, package: str, version: str, replaces: dict[str, str],
    tags: str = "",
) -> None:  # fmt: skip
    """Build ``package`` of the pinned module inside a wrapper module as ``binary``,
    stamped with ``version`` where Prometheus's libraries read it."""
    src = _wrapper(go, f"sitebox.local/build/{binary}", f"{pin.module} {pin.version}", replaces)
    _require_packages(go, src, [package])
    flags = _ldflags((_COMMON_VERSION, version))
    go(["go", "build", "-trimpath", *(["-tags", tags] if tags else []), "-ldflags", flags,
        "-o", str(go.build.bin / binary), package], cwd=src)  # fmt: skip


def _build_prometheus(pin: Pin, go: GoRun) -> None:
    replaces = {
        old: f"{new} {version}"
        for old, new, version in _PUBLISHED.findall(Path(_download(pin, go)["GoMod"]).read_text())
    }
    # Built without the web UI's assets (the `builtinassets` tag needs npm's build) and,
    # by Prometheus's own build tags, with Kubernetes as the one service discovery (the
    # twenty cloud SDKs are most of the build's time): the API, the scrape loop and
    # the query engine, which the tests use, are the same.
    _build_wrapped(pin, go, "prometheus", f"{pin.module}/cmd/prometheus",
                   prometheus_release(pin.version), replaces,
                   tags="remove_all_sd,enable_kubernetes_sd")  # fmt: skip


def _build_kube_state_metrics(pin: Pin, go: GoRun) -> None:
    # `go install module@version` first asks the proxy for the module's version list,
    # which it refuses for this module; the pinned version itself is served.
    _build_wrapped(pin, go, "kube-state-metrics", pin.module, pin.version, {})


def _build_etcd(pin: Pin, go: GoRun) -> None:
    src = _wrapper(go, "sitebox.local/build/etcd", f"{pin.module} {pin.version}", {})
    (src / "main.go").write_text(
        'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\n'
        "func main() { etcdmain.Main(os.Args) }\n"
    )
    go(["go", "mod", "tidy"], cwd=src)
    go(
        ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(go.build.bin / "etcd"), "."],
        cwd=src,
    )


_K8S = VersionCheck(("--version",), "Kubernetes {version}")

RECIPES: dict[str, Recipe] = {
    "helm": Recipe(
        {"helm": VersionCheck(("version", "--template", "{{ .Version }}"), "{version}")},
        _build_helm,
        revision="1",
    ),
    "kubernetes": Recipe(
        {
            "kube-apiserver": _K8S,
            "kube-controller-manager": _K8S,
            "kube-scheduler": _K8S,
            "kubectl": VersionCheck(("version", "--client"), "Client Version: {version}"),
        },
        _build_kubernetes,
        revision="1",
    ),
    "etcd": Recipe(
        {"etcd": VersionCheck(("--version",), "etcd Version: {bare_version}")},
        _build_etcd,
        revision="1",
    ),
    "kwok": Recipe(
        {"kwok": VersionCheck(("--version",), "{version}")},
        _build_kwok,
        revision="1",
    ),
    "actionlint": Recipe(
        {"actionlint": VersionCheck(("-version",), "{version}")},
        _go_install("cmd/actionlint"),
        revision="1",
    ),
    "crane": Recipe(
        {"crane": VersionCheck(("version",), "{version}")},
        _go_install("cmd/crane"),
        revision="1",
    ),
    "prometheus": Recipe(
        {
            "prometheus": VersionCheck(
                ("--version",), "prometheus, version {version}", prometheus_release
            )
        },
        _build_prometheus,
        revision="1",
    ),
    "kube-state-metrics": Recipe(
        {"kube-state-metrics": VersionCheck(("version",), "kube-state-metrics, version {version}")},
        _build_kube_state_metrics,
        revision="1",
    ),
}
