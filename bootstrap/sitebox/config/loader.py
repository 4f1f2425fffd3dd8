"""Loading the YAML files a site admin writes, with the line of every key kept.

We compose the YAML into nodes and build the plain data ourselves, instead of
``yaml.safe_load``, for three reasons:

* every key and list item keeps its line, so an error can say ``site.yaml:12``;
* PyYAML keeps the last of two equal keys without a word; we refuse them;
* PyYAML follows YAML 1.1, where ``yes``/``no``/``on``/``off`` are booleans and
  ``2026-11-01`` is a date. We follow the YAML 1.2 core schema: null, true/false,
  ints and floats are resolved, everything else stays a string.

Mapping keys are always strings (``8080:`` is the key ``"8080"``), as in JSON,
which is what the schemas describe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sitebox.config.suggest import did_you_mean, is_quantity, quantity_fix
from sitebox.errors import Location, SiteboxError

KeyPath = tuple[str | int, ...]

EMPTY_HINT = "run `sitebox init` to write a commented one"

# A tag no YAML file can spell: our resolver gives it to every scalar without an
# explicit tag, so a quoted or !!str-tagged "3" is told apart from a plain 3.
_UNTAGGED = "tag:sitebox.io,2026:untagged"
_YAML = "tag:yaml.org,2002:"
_MAPPING_TAGS = (f"{_YAML}map",)
_SEQUENCE_TAGS = (f"{_YAML}seq",)

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)

# What to do about the parser's most common complaints; the parser's own words
# say what is wrong but rarely what to type instead.
_SYNTAX_HINTS = (
    ("'\\t'", "indent with spaces: YAML does not allow tabs"),
    ("mapping values are not allowed", "quote a value that contains ': ', or fix the indentation"),
    ("expected a single document", "keep one document per file: remove the second '---'"),
    ("undefined alias", "define the anchor (&name) before using it (*name)"),
    ("could not find expected ':'", "write `key: value`, or quote a value that spans lines"),
)
_SYNTAX_HINT = "check the indentation and the quoting on this line and the one above"


@dataclass(frozen=True)
class Document:
    """A loaded YAML file: plain data plus the line of every key and list item."""

    path: Path
    data: Any
    lines: Mapping[KeyPath, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return str(self.path)

    def line_of(self, key_path: Sequence[str | int]) -> int | None:
        """1-based line of a key or list item; for a missing one, its closest ancestor's."""
        path = tuple(key_path)
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def problem(
        self, key_path: Sequence[str | int], message: str, hint: str | None = None
    ) -> Problem:
        """A Problem located at ``key_path``, for checks a schema cannot express."""
        location = Location(self.name, self.line_of(key_path), format_key_path(key_path) or None)
        return Problem(location, message, hint)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where, what, and what to write instead."""

    location: Location
    message: str
    hint: str | None = None

    def render(self) -> str:
        return SiteboxError(self.message, self.hint, self.location).render()


class ConfigError(SiteboxError):
    """One or more problems in a config file, all reported at once, sorted by line."""

    def __init__(self, problems: Sequence[Problem], what: str | None = None):
        if not problems:
            raise ValueError("ConfigError needs at least one problem")
        ordered = sorted(problems, key=_problem_order)
        first = ordered[0]
        if len(ordered) == 1:
            super().__init__(first.message, first.hint, first.location)
        else:
            where = f" in the {what}" if what else ""
            summary = f"{len(ordered)} problems{where}"
            super().__init__(summary, first.hint, Location(first.location.file))
        self.problems = ordered
        self.what = what

    def render(self) -> str:
        return "\n".join(problem.render() for problem in self.problems)


def _problem_order(problem: Problem) -> tuple[int, str, str]:
    return (problem.location.line or 0, problem.location.key or "", problem.message)


def format_key_path(path: Sequence[str | int]) -> str:
    """``hub.profiles[1].memory``; keys that are not plain words as ``labels["a.b/c"]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            text += f".{part}" if text else part
        else:
            quoted = part.replace("\\", "\\\\").replace('"', '\\"')
            text += f'["{quoted}"]'
    return text


def _fail(
    name: str, line: int | None, message: str, hint: str | None, key: KeyPath = ()
) -> NoReturn:
    location = Location(name, line, format_key_path(key) or None)
    raise ConfigError([Problem(location, message, hint)])


# Bounds on what one input file may hold. A site, fleet or inventory file is a few
# kilobytes; YAML aliases can make a 700-byte file expand to billions of values (the
# "billion laughs"), which must be refused at once, not built until memory runs out.
MAX_BYTES = 4 * 2**20
MAX_VALUES = 50_000  # a fleet of a hundred sites holds a few thousand
MAX_DEPTH = 64


def load_yaml(path: Path, *, allow_empty: bool = False, empty_hint: str = EMPTY_HINT) -> Document:
    """Read and parse one YAML file whose top level is a mapping."""
    name = str(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            _fail(name, None, f"is larger than {MAX_BYTES // 2**20} MiB: not a sitebox input",
                  "give the site, fleet or inventory file itself")  # fmt: skip
        raw = path.read_bytes()
    except FileNotFoundError:
        _fail(name, None, "file not found", f"check the path, or create {path}")
    except IsADirectoryError:
        _fail(name, None, "is a directory, not a file", "give the path of a YAML file")
    except PermissionError:
        _fail(name, None, "cannot be read: permission denied", f"check the permissions of {path}")
    except OSError as error:
        _fail(name, None, f"cannot be read: {error.strerror or error}", f"check {path}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        _fail(name, line, "is not UTF-8 text", "save the file as UTF-8")
    return _parse(text, path, allow_empty=allow_empty, empty_hint=empty_hint)


def load_yaml_text(
    text: str, name: str, *, allow_empty: bool = False, empty_hint: str = EMPTY_HINT
) -> Document:
    """Like ``load_yaml``, for text from elsewhere (stdin, tests); ``name`` is used in errors."""
    return _parse(text, Path(name), allow_empty=allow_empty, empty_hint=empty_hint)


class _Loader(yaml.SafeLoader):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # Leave scalar typing to _scalar (YAML 1.2 core), not to PyYAML's 1.1 rules.
        if kind is ScalarNode:
            return _UNTAGGED
        return f"{_YAML}seq" if kind is SequenceNode else f"{_YAML}map"


def _parse(text: str, path: Path, *, allow_empty: bool, empty_hint: str) -> Document:
    name = str(path)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        _syntax_error(name, error)
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        message = f"contains the character #x{error.character:04x}, which YAML does not allow"
        _fail(name, line, message, "remove it (often a control character pasted by accident)")
    except RecursionError:
        _fail(name, None, "is nested too deeply to read", "flatten the structure")
    if root is None or (isinstance(root, ScalarNode) and _scalar(name, root) is None):
        if allow_empty:
            return Document(path, {}, {})
        _fail(name, None, "is empty", empty_hint)
    if not isinstance(root, MappingNode):
        got = "a list" if isinstance(root, SequenceNode) else "a single value"
        hint = "write `key: value` lines at the top level"
        _fail(name, _line(root), f"the top level must be a mapping of keys, not {got}", hint)
    builder = _Builder(name)
    data = builder.build(root, ())
    return Document(path, data, builder.lines)


def _syntax_error(name: str, error: yaml.MarkedYAMLError) -> NoReturn:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else None
    problem = error.problem or error.context or "cannot be parsed"
    if error.context and problem.startswith("but "):
        # "but found another document" only makes sense after its context.
        problem = f"{error.context}, {problem}"
    hint = next((fix for clue, fix in _SYNTAX_HINTS if clue in problem), _SYNTAX_HINT)
    _fail(name, line, f"invalid YAML: {problem}", hint)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Builds plain data from composed nodes, recording each key's and item's line."""

    def __init__(self, name: str):
        self.name = name
        self.lines: dict[KeyPath, int] = {}
        # Collections being built right now: an alias to one of them is a cycle.
        self._open: set[int] = set()
        self._built = 0  # values built so far, aliases expanded: bounded (MAX_VALUES)

    def build(self, node: Node, path: KeyPath) -> Any:
        # A mapping entry already has its key's line; a list item (or the root) gets its own.
        self.lines.setdefault(path, _line(node))
        self._built += 1
        if self._built > MAX_VALUES:
            _fail(self.name, _line(node), f"expands to more than {MAX_VALUES:,} values "
                  "(aliases repeated inside aliases?)",
                  "write the values out, or use fewer nested aliases", path)  # fmt: skip
        if len(path) > MAX_DEPTH:
            _fail(self.name, _line(node), f"is nested more than {MAX_DEPTH} levels deep",
                  "flatten the structure", path)  # fmt: skip
        if isinstance(node, ScalarNode):
            return _scalar(self.name, node)
        if id(node) in self._open:
            _fail(
                self.name,
                _line(node),
                "an alias refers to itself",
                "remove the recursive alias",
                path,
            )
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, _SEQUENCE_TAGS, path)
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, MappingNode):
                self._check_tag(node, _MAPPING_TAGS, path)
                return self._mapping(node, path)
            raise TypeError(f"unexpected YAML node {node!r}")
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        data: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if _is_merge_key(key_node):
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            line = _line(key_node)
            if key in data:
                first = self.lines[(*path, key)]
                message = f"key {key!r} appears twice, on lines {first} and {line}"
                hint = "remove one of them: YAML would silently keep only the last"
                _fail(self.name, line, message, hint, (*path, key))
            self.lines[(*path, key)] = line
            data[key] = self.build(value_node, (*path, key))
        for source in merges:
            self._merge(data, source, path)
        return data

    def _merge(self, data: dict[str, Any], source: Node, path: KeyPath) -> None:
        """``<<: *base``: take the keys the mapping does not set itself, with their lines."""
        sources = source.value if isinstance(source, SequenceNode) else [source]
        for node in sources:
            if not isinstance(node, MappingNode):
                hint = "merge a mapping: `<<: *anchor`, where &anchor names a mapping"
                _fail(self.name, _line(node), "`<<` can only merge mappings", hint, path)
            inner = _Builder(self.name)
            inner._open = self._open
            merged = inner.build(node, path)
            for key, value in merged.items():
                if key in data:
                    continue
                data[key] = value
                prefix = (*path, key)
                for sub, line in inner.lines.items():
                    if sub[: len(prefix)] == prefix:
                        self.lines[sub] = line

    def _key(self, node: Node, path: KeyPath) -> str:
        if not isinstance(node, ScalarNode):
            hint = "write keys as plain text, e.g. `name: value`"
            _fail(
                self.name,
                _line(node),
                "a key must be plain text, not a list or mapping",
                hint,
                path,
            )
        return str(node.value)

    def _check_tag(self, node: Node, allowed: tuple[str, ...], path: KeyPath) -> None:
        if node.tag not in allowed:
            _fail(
                self.name,
                _line(node),
                f"the YAML tag {_short(node.tag)} is not supported",
                _TAG_HINT,
                path,
            )


_TAG_HINT = "remove the tag and write plain YAML values"


def _is_merge_key(node: Node) -> bool:
    return (
        isinstance(node, ScalarNode)
        and node.tag == _UNTAGGED
        and not node.style
        and node.value == "<<"
    )


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _scalar(name: str, node: ScalarNode) -> Any:
    text = str(node.value)
    if node.tag == _UNTAGGED:
        # Quoted and block scalars are always strings; only plain ones are resolved.
        return _resolve_plain(text) if not node.style else text
    if node.tag == f"{_YAML}str":
        return text
    kind = node.tag.removeprefix(_YAML)
    value = _resolve_plain(text)
    expected = {"int": int, "float": float, "bool": bool, "null": type(None)}.get(kind)
    if expected is None:
        _fail(name, _line(node), f"the YAML tag {_short(node.tag)} is not supported", _TAG_HINT)
    if expected is float and type(value) is int:
        return float(value)
    if type(value) is not expected:
        _fail(name, _line(node), f"{text!r} is not a valid {_short(node.tag)}", _TAG_HINT)
    return value


def _resolve_plain(text: str) -> Any:
    if _NULL.match(text):
        return None
    if _TRUE.match(text):
        return True
    if _FALSE.match(text):
        return False
    if _INT.match(text):
        try:
            if text.startswith(("0o", "0x")):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text)
        except ValueError:  # beyond Python's digit limit: not a number anyone means
            return text
    if _FLOAT.match(text):
        lowered = text.lower()
        if lowered.endswith(".inf"):
            return -math.inf if lowered.startswith("-") else math.inf
        if lowered == ".nan":
            return math.nan
        return float(text)
    return text


# --- validation --------------------------------------------------------------

_FORMATS = FormatChecker()


@_FORMATS.checks("k8s-quantity")
def _k8s_quantity(instance: object) -> bool:
    # A bare number (`memory: 1024`) is a valid quantity too; only strings need a look.
    return not isinstance(instance, str) or is_quantity(instance)


class _Text(NamedTuple):
    """How to word one violation: what is wrong, a fix computed from the value, a generic fix."""

    message: str
    fix: str | None = None
    generic: str | None = None


def validate(doc: Document, schema: Mapping[str, Any], *, what: str) -> None:
    """Check ``doc`` against a JSON Schema (2020-12); raise ConfigError listing every violation.

    Any schema node may carry ``x-hint``, the fix to show when that node fails. A fix
    computed from the value (a did-you-mean, '4Gi' for '4GB', the missing key) wins over
    ``x-hint``, which wins over the generic wording.
    """
    # The shipped schemas are checked against the meta-schema when they are generated
    # (ci/schemas.py); doing it here cost a quarter of a second on every command.
    validator = Draft202012Validator(schema, format_checker=_FORMATS)
    found: dict[tuple[int | None, str | None, str], Problem] = {}
    for error in validator.iter_errors(doc.data):
        for problem in _problems(doc, error):
            where = problem.location
            found.setdefault((where.line, where.key, problem.message), problem)
    if found:
        raise ConfigError(list(found.values()), what=what)


def _problems(doc: Document, error: ValidationError) -> list[Problem]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("anyOf", "oneOf") and error.context:
        return _alternatives(doc, error)
    if kind in ("additionalProperties", "unevaluatedProperties"):
        return _unknown_keys(doc, error, path)
    if kind == "required":
        return _missing_keys(doc, error, path)
    if kind == "uniqueItems":
        return _duplicate_items(doc, error, path)
    text = _describe(error)
    return [doc.problem(path, text.message, text.fix or _x_hint(error.schema) or text.generic)]


def _x_hint(schema: Any) -> str | None:
    hint = schema.get("x-hint") if isinstance(schema, Mapping) else None
    return hint if isinstance(hint, str) else None


def _alternatives(doc: Document, error: ValidationError) -> list[Problem]:
    """anyOf/oneOf: report the branch the value was meant for, not 'valid under none of'."""
    branches: dict[str | int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    # A branch whose type (or const/enum) the value already has is the one the admin meant.
    fitting = [subs for subs in branches.values() if not any(_misfit(sub) for sub in subs)]
    if fitting:
        return [problem for sub in min(fitting, key=len) for problem in _problems(doc, sub)]
    for subs in branches.values():
        if subs[0].validator in ("enum", "const") and _typo_of(subs[0]):
            return _problems(doc, subs[0])
    shapes = [_shape(sub) for subs in branches.values() for sub in subs if _misfit(sub)]
    message = f"expected {_or(list(dict.fromkeys(shapes)))}, got {_got(error.instance)}"
    return [doc.problem(tuple(error.absolute_path), message, _x_hint(error.schema))]


def _misfit(error: ValidationError) -> bool:
    return error.validator in ("type", "const", "enum") and not error.relative_path


def _shape(error: ValidationError) -> str:
    if error.validator == "type":
        return _or([_TYPE_WORDS.get(t, t) for t in _as_list(_wanted(error))])
    if error.validator == "const":
        return _show(_wanted(error))
    return _or([_show(v) for v in _as_list(_wanted(error))])


def _typo_of(error: ValidationError) -> str | None:
    allowed = [_wanted(error)] if error.validator == "const" else _wanted(error)
    if not isinstance(error.instance, str):
        return None
    return did_you_mean(error.instance, [v for v in allowed if isinstance(v, str)])


def _unknown_keys(doc: Document, error: ValidationError, path: KeyPath) -> list[Problem]:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = _known_keys(schema)
    patterns = list(schema.get("patternProperties", {}))
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    extra = [
        key
        for key in instance
        if key not in known and not any(re.search(pattern, key) for pattern in patterns)
    ]
    if not extra:  # a shape we do not model; jsonschema's own words still say it
        return [doc.problem(path, _shorten(error.message), _x_hint(schema))]
    listed = ", ".join(sorted(known)[:12]) + (", …" if len(known) > 12 else "")
    generic = f"remove it; keys allowed here: {listed}" if known else "remove it"
    problems = []
    for key in extra:
        guess = did_you_mean(key, known)
        fix = f"did you mean {guess!r}?" if guess else None
        problems.append(
            doc.problem((*path, key), f"unknown key {key!r}", fix or _x_hint(schema) or generic)
        )
    return problems


def _known_keys(schema: Mapping[str, Any]) -> list[str]:
    """Keys the schema names, including those of subschemas that unevaluatedProperties sees."""
    keys = list(schema.get("properties", {}))
    nested = [*schema.get("allOf", []), *schema.get("anyOf", []), *schema.get("oneOf", [])]
    nested += [schema[word] for word in ("if", "then", "else") if word in schema]
    for sub in nested:
        if isinstance(sub, Mapping):
            keys += [key for key in _known_keys(sub) if key not in keys]
    return keys


def _missing_keys(doc: Document, error: ValidationError, path: KeyPath) -> list[Problem]:
    if not isinstance(error.instance, Mapping):
        return []
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    properties = schema.get("properties", {})
    where = f"under {format_key_path(path)}" if path else "at the top level"
    problems = []
    for name in _wanted(error):
        if name in error.instance:
            continue
        fix = f"add '{name}:' {where}"
        about = properties.get(name, {})
        description = _x_hint(about) or (
            about.get("description") if isinstance(about, Mapping) else None
        )
        if description:
            fix += f" ({description})"
        problems.append(doc.problem(path, f"missing key {name!r}", fix))
    return problems


def _duplicate_items(doc: Document, error: ValidationError, path: KeyPath) -> list[Problem]:
    items = error.instance if isinstance(error.instance, list) else []
    for later, item in enumerate(items):
        for earlier, other in enumerate(items[:later]):
            # jsonschema tells true from 1; Python's == does not.
            if item == other and isinstance(item, bool) == isinstance(other, bool):
                message = f"duplicate of item [{earlier}]"
                return [doc.problem((*path, later), message, "remove one of them")]
    return [doc.problem(path, "the list has duplicate items", "remove the duplicates")]


def _describe(error: ValidationError) -> _Text:
    kind = str(error.validator)
    describe = _DESCRIBE.get(kind)
    if describe is not None:
        return describe(error)
    if error.validator is None:  # the `false` schema: nothing is allowed here
        path = error.absolute_path
        if path and isinstance(path[-1], str):
            return _Text(f"key {path[-1]!r} is not allowed here", generic="remove it")
        return _Text(f"{_show(error.instance)} is not allowed here", generic="remove it")
    return _Text(_shorten(error.message))


def _describe_type(error: ValidationError) -> _Text:
    expected = _as_list(_wanted(error))
    message = (
        f"expected {_or([_TYPE_WORDS.get(t, t) for t in expected])}, got {_got(error.instance)}"
    )
    return _Text(message, _type_fix(expected, error.instance), _TYPE_GENERIC.get(expected[0]))


def _type_fix(expected: list[Any], value: Any) -> str | None:
    if "boolean" in expected and isinstance(value, str) and value.lower() in _YES_NO:
        return f"write {_YES_NO[value.lower()]}"
    if "string" in expected and isinstance(value, bool | int | float):
        return "put it in quotes, so YAML keeps it as text"
    if {"number", "integer"} & set(expected) and isinstance(value, str):
        number = re.match(r"\s*([-+]?\d+(?:\.\d+)?)", value)
        if number:
            return f"write just the number: {number.group(1)}"
    if value is None:
        return "write a value after the colon, or remove the key"
    return None


def _describe_enum(error: ValidationError) -> _Text:
    allowed = _as_list(_wanted(error))
    listed = ", ".join(_show(v) for v in allowed[:12]) + (", …" if len(allowed) > 12 else "")
    guess = _typo_of(error)
    fix = f"did you mean {guess!r}? Allowed: {listed}" if guess else f"use one of: {listed}"
    return _Text(f"{_show(error.instance)} is not one of the allowed values", fix)


def _describe_const(error: ValidationError) -> _Text:
    wanted = _show(_wanted(error))
    return _Text(f"expected {wanted}, got {_got(error.instance)}", f"write {wanted}")


def _describe_pattern(error: ValidationError) -> _Text:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if isinstance(error.instance, str) and _is_quantity_schema(schema):
        return _quantity_text(error.instance)
    description = schema.get("description")
    generic = description if isinstance(description, str) else f"match the pattern {_wanted(error)}"
    return _Text(f"{_show(error.instance)} is not in the expected form", generic=generic)


def _describe_format(error: ValidationError) -> _Text:
    if _wanted(error) == "k8s-quantity" and isinstance(error.instance, str):
        return _quantity_text(error.instance)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    description = schema.get("description")
    name = str(_wanted(error)).replace("-", " ")
    message = f"{_show(error.instance)} is not a valid {name}"
    return _Text(message, generic=description if isinstance(description, str) else None)


def _is_quantity_schema(schema: Mapping[str, Any]) -> bool:
    return schema.get("format") == "k8s-quantity" or "quantity" in (_x_hint(schema) or "").lower()


def _quantity_text(value: str) -> _Text:
    fix = quantity_fix(value)
    return _Text(
        f"{value!r} is not a Kubernetes quantity",
        f"write {fix!r}" if fix else None,
        "write a Kubernetes quantity, e.g. '64Gi', '512Mi' or '500m'",
    )


def _describe_bound(error: ValidationError) -> _Text:
    words = _BOUNDS[str(error.validator)]
    return _Text(f"must be {words} {_wanted(error)}, got {_show(error.instance)}")


def _describe_size(error: ValidationError) -> _Text:
    unit, least = _SIZES[str(error.validator)]
    limit = _wanted(error)
    size = len(_instance(error))
    if least and limit == 1:
        return _Text("must not be empty")
    bound = "at least" if least else "at most"
    return _Text(f"must have {bound} {limit} {unit}, has {size}")


def _describe_dependent(error: ValidationError) -> _Text:
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    for key, needs in dict(_wanted(error)).items():
        missing = [need for need in needs if key in instance and need not in instance]
        if missing:
            return _Text(
                f"{key!r} needs {_or([repr(m) for m in missing])} next to it",
                f"add '{missing[0]}:'",
            )
    return _Text(_shorten(error.message))


_DESCRIBE: dict[str, Callable[[ValidationError], _Text]] = {
    "type": _describe_type,
    "enum": _describe_enum,
    "const": _describe_const,
    "pattern": _describe_pattern,
    "format": _describe_format,
    "minimum": _describe_bound,
    "maximum": _describe_bound,
    "exclusiveMinimum": _describe_bound,
    "exclusiveMaximum": _describe_bound,
    "multipleOf": lambda e: _Text(f"must be a multiple of {_wanted(e)}, got {_show(e.instance)}"),
    "minLength": _describe_size,
    "maxLength": _describe_size,
    "minItems": _describe_size,
    "maxItems": _describe_size,
    "minProperties": _describe_size,
    "maxProperties": _describe_size,
    "dependentRequired": _describe_dependent,
    "not": lambda e: _Text(f"{_show(e.instance)} is not allowed here"),
}
_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "more than",
    "exclusiveMaximum": "less than",
}
_SIZES = {
    "minLength": ("characters", True),
    "maxLength": ("characters", False),
    "minItems": ("items", True),
    "maxItems": ("items", False),
    "minProperties": ("keys", True),
    "maxProperties": ("keys", False),
}
_TYPE_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing (null)",
}
_TYPE_GENERIC = {
    "object": "write it as indented `key: value` lines",
    "array": "write it as a list: one `- item` per line",
}
# YAML 1.1 booleans that YAML 1.2 (and so sitebox) reads as strings.
_YES_NO = {"yes": "true", "no": "false", "on": "true", "off": "false", "y": "true", "n": "false"}


def _wanted(error: ValidationError) -> Any:
    """The failing keyword's value; jsonschema types it loosely, we read it as what it is."""
    return error.validator_value


def _instance(error: ValidationError) -> Any:
    return error.instance


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _show(value: Any) -> str:
    """A value as the admin would recognise it, never a whole structure."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, int | float):
        return str(value)
    return "a mapping" if isinstance(value, Mapping) else "a list"


def _got(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, bool):
        return f"the value {_show(value)}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if value is None:
        return "nothing"
    return _show(value)


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
