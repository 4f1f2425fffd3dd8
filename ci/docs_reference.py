"""Reference pages generated from the code at docs build time, so they cannot drift.

mkdocs loads this file as a hook (``hooks:`` in mkdocs.yml). A page asks for a
generated section with a marker on a line of its own:

    <!-- sitebox:site-schema -->      every site.yaml key, from distro/schemas/site.schema.json
    <!-- sitebox:profile-schema -->   every profile key, from distro/schemas/profile.schema.json
    <!-- sitebox:profiles -->         what each shipped profile turns on, from profiles/*.yaml
    <!-- sitebox:errors -->           every error sitebox raises, from an AST scan of the package

An unknown marker fails the build. The CLI reference is mkdocs-click's
``::: mkdocs-click`` directive, which reads the click command tree itself.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "distro" / "schemas"
PROFILES = ROOT / "profiles"
PACKAGE = ROOT / "bootstrap" / "sitebox"

Schema = dict[str, Any]

# ---------------------------------------------------------------- schemas


@dataclass(frozen=True)
class Key:
    """One documented key of a schema."""

    path: str
    type: str
    required: bool
    default: str | None
    description: str | None
    hint: str | None
    choices: tuple[str, ...]


def load_schema(name: str) -> Schema:
    schema: Schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return schema


def _resolve(root: Schema, node: Schema) -> tuple[Schema, str | None]:
    """``node`` with its $ref and allOf folded in, and the name of the $def it came from.

    Keys beside a $ref (a description, say) win over the referenced definition's,
    as they do for a validator reading them in the same order."""
    name = None
    merged: Schema = {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        merged, _ = _resolve(root, root["$defs"][name])
    for part in node.get("allOf", []):
        resolved, _ = _resolve(root, part)
        merged = _merge(merged, resolved)
    rest = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
    return _merge(merged, rest), name


def _merge(base: Schema, extra: Schema) -> Schema:
    out = dict(base)
    for key, value in extra.items():
        if key == "properties":
            out[key] = {**base.get(key, {}), **value}
        elif key == "required":
            out[key] = sorted({*base.get(key, []), *value})
        else:
            out[key] = value
    return out


def _type_of(root: Schema, node: Schema, ref: str | None) -> str:
    if "const" in node:
        return "const"
    if "enum" in node:
        return "enum"
    if "oneOf" in node:
        kinds = [str(branch.get("type", "?")) for branch in node["oneOf"]]
        base = " or ".join(dict.fromkeys(kinds))
    else:
        raw = node.get("type", "object" if "properties" in node else "any")
        base = " or ".join(raw) if isinstance(raw, list) else str(raw)
    if base == "array" and "items" in node:
        item, item_ref = _resolve(root, node["items"])
        base = f"list of {_type_of(root, item, item_ref)}"
    return f"{base} ({ref})" if ref and ref not in ("toggle", "override") else base


def _hint(node: Schema) -> str | None:
    if "x-hint" in node:
        return str(node["x-hint"])
    for branch in node.get("oneOf", []):
        if "x-hint" in branch:
            return str(branch["x-hint"])
    return None


def walk(
    root: Schema, node: Schema | None = None, path: str = "", required: bool = True
) -> Iterator[Key]:
    """Every key below ``node``, depth first in the schema's own order."""
    node, ref = _resolve(root, root if node is None else node)
    if path:
        choices = tuple(
            json.dumps(v) if not isinstance(v, str) else v for v in node.get("enum", [])
        )
        if "const" in node:
            choices = (str(node["const"]),)
        default = json.dumps(node["default"]) if "default" in node else None
        item = node.get("items")
        hint = _hint(node) or (_hint(_resolve(root, item)[0]) if isinstance(item, dict) else None)
        yield Key(path, _type_of(root, node, ref), required, default, node.get("description"), hint,
                  choices)  # fmt: skip
    needed = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        yield from walk(root, child, f"{path}.{name}" if path else name, name in needed)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from walk(root, extra, f"{path}.<name>", False)
    items = node.get("items")
    if isinstance(items, dict):
        resolved, _ = _resolve(root, items)
        if "properties" in resolved:
            yield from walk_children(root, resolved, f"{path}[]")


def walk_children(root: Schema, node: Schema, path: str) -> Iterator[Key]:
    needed = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        yield from walk(root, child, f"{path}.{name}", name in needed)


def undescribed(name: str) -> list[str]:
    """Key paths of a schema that carry no description (an x-hint does not count)."""
    return [key.path for key in walk(load_schema(name)) if not key.description]


def _escape(text: str) -> str:
    """Markdown table cell text: one line, no column breaks, no raw HTML outside code."""
    parts = text.replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def schema_table(name: str) -> str:
    schema = load_schema(name)
    lines = [
        f"*Generated from `distro/schemas/{name}.schema.json` when these pages are built.*",
        "",
        "| key | type | required | default | description |",
        "|---|---|---|---|---|",
    ]
    for key in walk(schema):
        text = [key.description] if key.description else []
        if key.choices:
            text.append("One of: " + ", ".join(f"`{c}`" for c in key.choices) + ".")
        if key.hint:
            text.append(f"Format: {key.hint}.")
        lines.append(
            f"| {_code(key.path)} | {_escape(key.type)} | {'yes' if key.required else ''} "
            f"| {_code(key.default) if key.default else ''} | {_escape(' '.join(text))} |"
        )
    return "\n".join(lines) + "\n"


def profiles_table() -> str:
    """Which components each shipped profile turns on, and what it asks of the cluster."""
    profiles = [yaml.safe_load(p.read_text()) for p in sorted(PROFILES.glob("*.yaml"))]
    names = [p["name"] for p in profiles]
    lines = [
        "*Generated from `profiles/*.yaml` when these pages are built.*",
        "",
        "| | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for need in ("cpu", "memory", "gpus", "readWriteMany"):
        cells = [json.dumps(p["requires"].get(need, "")).strip('"') for p in profiles]
        lines.append(f"| requires `{need}` | " + " | ".join(cells) + " |")
    components = list(dict.fromkeys(c for p in profiles for c in p["components"]))
    for component in components:
        cells = [
            "on" if p["components"].get(component, {}).get("enabled") else "off" for p in profiles
        ]
        lines.append(f"| `{component}` | " + " | ".join(cells) + " |")
    lines.append("")
    for profile in profiles:
        lines.append(f"- **`{profile['name']}`**: {_escape(profile['description'])}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- errors

BASE_ERROR = "SiteboxError"
# Constructors of a located problem: the message and hint sit after the location argument.
PROBLEM_CALLS = {"Problem": 1, "problem": 1}
AREAS = {
    "cli": "The command line",
    "config": "Reading site.yaml and profiles",
    "model": "The site model: profiles, distribution, components",
    "compose": "Composing, rendering, charts and bundles",
    "render": "Checking rendered manifests",
    "lifecycle": "Install, upgrade, status, rollback, uninstall",
    "preflight": "Preflight",
    "cluster": "Local clusters (`sitebox cluster`)",
    "batch": "The batch connector",
    "tools": "The pinned tools",
    "helm": "Talking to Helm",
    "kube": "Talking to the Kubernetes API",
    "errors": "Errors shared by every command",
}


@dataclass(frozen=True)
class CatalogueEntry:
    """One place in the code that raises an error the user sees."""

    kind: str
    message: str
    hint: str | None
    module: str
    function: str
    line: int

    @property
    def area(self) -> str:
        return self.module.split(".")[1] if "." in self.module else self.module


class _Texts:
    """Turns message expressions into templates, with the module's string constants
    (a shared hint, say) written out rather than shown as their names."""

    def __init__(self, tree: ast.Module):
        self.constants: dict[str, ast.expr] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    self.constants[target.id] = node.value

    def placeholder(self, node: ast.expr) -> str:
        """A short name for a computed part of a message: the value it mostly shows."""
        match node:
            case ast.Name(id=name) | ast.Attribute(attr=name):
                return name
            case ast.Call(func=ast.Name(id="len"), args=[counted]):
                return f"number of {self.placeholder(counted)}"
            case ast.Call(args=[first, *_]):
                return self.placeholder(first)
            case ast.Call(func=func):
                return self.placeholder(func)
            case ast.Subscript(slice=ast.Constant(value=str(key))):
                return key
            case ast.Subscript(value=value) | ast.BinOp(left=value) | ast.IfExp(body=value):
                return self.placeholder(value)
            case ast.BoolOp(values=[first, *_]):
                return self.placeholder(first)
        return "..."

    def part(self, node: ast.expr) -> str:
        text = self.template(node)
        return text if text is not None else "{" + self.placeholder(node) + "}"

    def template(self, node: ast.expr) -> str | None:
        """The text of a message with its computed parts as ``{name}``; None when the
        message is computed whole (passed through from elsewhere)."""
        match node:
            case ast.Constant(value=str(text)):
                return text
            case ast.Name(id=name) if name in self.constants:
                return self.template(self.constants[name])
            case ast.Subscript(value=ast.Name(id=name)) if isinstance(
                self.constants.get(name), ast.Dict
            ):
                table = self.constants[name]
                assert isinstance(table, ast.Dict)
                return "; ".join(
                    f"{self.part(k)}: {self.part(v)}" if k is not None else self.part(v)
                    for k, v in zip(table.keys, table.values, strict=True)
                )
            case ast.JoinedStr(values=values):
                return "".join(
                    self.part(v.value) if isinstance(v, ast.FormattedValue) else self.part(v)
                    for v in values
                )
            case ast.BinOp(op=ast.Add(), left=left, right=right):
                if self.template(left) is None and self.template(right) is None:
                    return None
                return self.part(left) + self.part(right)
        return None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _error_classes(trees: dict[str, ast.Module]) -> set[str]:
    """SiteboxError and every class that derives from it, found in the code."""
    found = {BASE_ERROR}
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in found:
                    bases = {
                        b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                        for b in node.bases
                    }
                    if bases & found:
                        found.add(node.name)
                        grew = True
    return found


def _callee(call: ast.Call) -> str:
    func = call.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: str, errors: set[str], texts: _Texts):
        self.module = module
        self.texts = texts
        self.errors = errors
        self.scope: list[str] = []
        self.error_class: list[bool] = []
        self.found: list[CatalogueEntry] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.error_class.append(node.name in self.errors)
        self.generic_visit(node)
        self.error_class.pop()
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_Call(self, node: ast.Call) -> None:
        name = _callee(node)
        offset = PROBLEM_CALLS.get(name)
        in_error_init = bool(self.error_class and self.error_class[-1]) and name == "__init__"
        if name in self.errors or in_error_init:
            offset = 0
        if offset is not None:
            message = _argument(node, offset, "message")
            text = self.texts.template(message) if message is not None else None
            if text is not None:
                hint = _argument(node, offset + 1, "hint")
                hint_text = None
                if hint is not None and not (isinstance(hint, ast.Constant) and hint.value is None):
                    hint_text = self.texts.part(hint)
                kind = self.scope[-2] if in_error_init and len(self.scope) > 1 else name
                self.found.append(CatalogueEntry(
                    kind, text, hint_text, self.module, ".".join(self.scope) or "<module>",
                    node.lineno))  # fmt: skip
        self.generic_visit(node)


def catalogue(package: Path = PACKAGE) -> list[CatalogueEntry]:
    """Every error message the package can raise, in module and line order.

    Messages passed through whole from elsewhere (a problem's own message, a
    variable) are left out: the text is where it was written, and found there."""
    trees = {
        ".".join(path.relative_to(package.parent).with_suffix("").parts): ast.parse(
            path.read_text()
        )
        for path in sorted(package.rglob("*.py"))
    }
    errors = _error_classes(trees)
    found: list[CatalogueEntry] = []
    for module, tree in trees.items():
        scanner = _Scanner(module.removesuffix(".__init__"), errors, _Texts(tree))
        scanner.visit(tree)
        found.extend(scanner.found)
    return found


def errors_page(entries: list[CatalogueEntry]) -> str:
    by_area: dict[str, list[CatalogueEntry]] = {}
    for entry in entries:
        by_area.setdefault(entry.area, []).append(entry)
    lines = [
        f"*Generated from the code when these pages are built: {len(entries)} messages in "
        f"{len(by_area)} areas. `{{name}}` stands for a value filled in when the error occurs.*",
        "",
    ]
    for area in sorted(
        by_area, key=lambda a: (a not in AREAS, list(AREAS).index(a) if a in AREAS else 0, a)
    ):
        lines += [
            f"### {AREAS.get(area, area)}",
            "",
            "| message | fix | raised in |",
            "|---|---|---|",
        ]
        for entry in by_area[area]:
            fix = _escape(entry.hint) if entry.hint else "*(no hint yet)*"
            where = f"`{entry.module}` ({entry.function}, line {entry.line})"
            lines.append(f"| {_code(entry.message.replace(chr(10), ' '))} | {fix} | {where} |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- the mkdocs hook

GENERATORS: dict[str, Callable[[], str]] = {
    "site-schema": lambda: schema_table("site"),
    "profile-schema": lambda: schema_table("profile"),
    "profiles": profiles_table,
    "errors": lambda: errors_page(catalogue()),
}
MARKER = re.compile(r"^<!-- sitebox:([a-z-]+) -->$", re.MULTILINE)


def expand(markdown: str, page: str = "") -> str:
    def generate(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(
                f"{page}: unknown generated section {name!r}; known: {', '.join(GENERATORS)}"
            )
        return GENERATORS[name]()

    return MARKER.sub(generate, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown, str(getattr(page.file, "src_path", "")))
