"""The error catalogue behind the troubleshooting page: read from the code, so it
finds every error, and a new error without a fix does not go unnoticed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.docs.conftest import load_generator

pytestmark = pytest.mark.docs

# Errors raised today without a hint, as (module, message template). A new error
# without a hint fails the test below; giving one of these a hint means removing
# it here, so the list only shrinks.
WITHOUT_HINT = {
    ("sitebox.cluster.commands", "give --nodes or --node-pools, not both"),
    ("sitebox.cluster.nodes", "a taint needs `key` and an `effect` of {_EFFECTS}"),
    ("sitebox.cluster.sim", "{name} did not become ready ({what}) within {timeout}s; "
     "last lines of {log}:\n{record}"),
    ("sitebox.cluster.sim", "{name} exited while starting; last lines of {log}:\n{record}"),
    ("sitebox.helm", "{what}: {exc}"),
    ("sitebox.kube", "cannot reach the API server: {exc}"),
    ("sitebox.kube", "creating {kind} {name}: {exc}"),
    ("sitebox.kube", "reading {kind} {name}: {exc}"),
    ("sitebox.kube", "listing {kind}: {exc}"),
    ("sitebox.kube", "deleting {kind} {name}: {exc}"),
    ("sitebox.kube", "requesting a token for ServiceAccount {namespace}/{name}: {exc}"),
    ("sitebox.kube", "the API server returned no token for {namespace}/{name}"),
    ("sitebox.kube", "writing Secret {namespace}/{name}: HTTP {status}"),
    ("sitebox.kube", "submitting a Job: {exc}"),
    ("sitebox.kube", "deleting Jobs {selector}: {exc}"),
    ("sitebox.kube", "Jobs {selector} still exist after {timeout}s"),
    ("sitebox.kube", "watching {namespace}: {exc}"),
    ("sitebox.kube", "applying CRD {name}: {exc}"),
    ("sitebox.kube", "applying {kind} {name}: {exc}"),
    ("sitebox.kube", "asking the API server for access: {exc}"),
    ("sitebox.kube", "writing Lease {name}: {exc}"),
    ("sitebox.kube", "GET {path} from service {namespace}/{service}: {exc}"),
    ("sitebox.kube", "timed out after {timeout}s waiting for {what}"),
    ("sitebox.model.distro", "no distribution manifests in {folder}"),
    ("sitebox.preflight.checks", "{what}: {exc}"),
    ("sitebox.preflight.checks", "node {node} reports {key} {text}; sitebox cannot read it"),
    ("sitebox.tools.install", "{name} ({name} {version}) does not run: {exc}"),
    ("sitebox.tools.pins", "tool pins not found at {path}"),
    ("sitebox.tools.pins", "{path} is not valid YAML: {exc}"),
    ("sitebox.tools.pins", "tool {name} needs `module` and `version`"),
    ("sitebox.tools.recipes", "no staging modules found in {module}@{version}'s go.mod"),
}  # fmt: skip


def test_the_catalogue_finds_the_errors_we_know() -> None:
    found = {(e.kind, e.module, e.message): e.hint for e in load_generator().catalogue()}
    assert found[("SiteboxError", "sitebox.cluster.sim",
                  "port {port} on 127.0.0.1 (wanted for {name}) is already in use")] == (
        "stop what listens there, or pick another port with --api-port")  # fmt: skip
    # a subclass's own message, from its __init__
    assert ("ToolMissingError", "sitebox.errors", "{tool} is not installed") in found
    # a located problem in site.yaml
    assert (
        "problem",
        "sitebox.model.siteconfig",
        "auth type oidc needs an `oidc:` section",
    ) in found
    # a module constant used as the hint is written out
    assert found[("SiteboxError", "sitebox.cluster.storage", "unknown volume spec {spec}")] == (
        "write COUNTxSIZE, e.g. 20x10Gi"
    )


def test_every_new_error_has_a_hint() -> None:
    without = {(e.module, e.message) for e in load_generator().catalogue() if not e.hint}
    assert without - WITHOUT_HINT == set(), "give these errors a hint (the fix)"
    assert WITHOUT_HINT - without == set(), "these have a hint now: remove them from WITHOUT_HINT"


def test_templates_show_literal_text_and_name_the_computed_parts(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "errors.py").write_text("class SiteboxError(Exception): ...\n")
    (package / "things.py").write_text(textwrap.dedent('''
        from pkg.errors import SiteboxError
        HELP = "write it as 3x16cpu"
        class ThingError(SiteboxError): ...
        def check(spec, found, problem):
            raise ThingError(f"bad spec {spec!r}: {len(found)} issues in {found['name']}", HELP)
        def passthrough(exc):
            raise SiteboxError(exc.message, hint=exc.hint)
        def joined(lines):
            raise SiteboxError("failed:\\n" + "\\n".join(lines), hint=None)
    '''))  # fmt: skip
    entries = load_generator().catalogue(package)
    assert [(e.kind, e.module, e.function, e.message, e.hint) for e in entries] == [
        ("ThingError", "pkg.things", "check",
         "bad spec {spec}: {number of found} issues in {name}", "write it as 3x16cpu"),
        ("SiteboxError", "pkg.things", "joined", "failed:\n{lines}", None),
    ]  # fmt: skip
