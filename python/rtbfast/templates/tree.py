"""An RTB template as a typed tree, read with full fidelity and written back as the same JSON.

The format (``../shared/reference/rtb-and-workbook.md`` §2): a JSON array of objects (one key
each at the top; ``then`` lists may hold ``$comment`` beside ``$plans``). ``$meta``,
``$vars`` and ``$custom`` come first, then fragments keyed by MO class (``Class``,
``Class-Id``, ``Class-*``, id lists with brace expansion, each optionally ``@``-flagged, the
flag kept as written) or by directive (``$cond``, ``$switch``, ``$eval``, ``$plans``,
``$comment``). Inside an MO, lowerCamel keys are attributes; values are JSON (almost always
strings, engineering units), the sentinels ``"__ignore__"`` and ``"__delete__"``, or computed
(``{"$eval": …}``, ``{"$switch": …}``, ``{"$cond": …}``).

Every node carries its JSON pointer, line and column. Key order, repeated keys, the ``@``
flags, number text (``1.0`` stays ``1.0``) and every string are kept in ``raw``, so
:func:`write_template` gives back the JSON read. A key repeated in one object is read as JSON
readers with objects as maps read it: the later value is used (at its own place), the earlier
ones are left out, and the reader warns naming every place (``Template.warnings``);
``$comment``s may repeat. The key grammar and the shape rules are those
of the native bulk reader (``rust/src/templates``), which also finds the problems; this module
refuses a template that has any.
"""

from __future__ import annotations

import json
import json.encoder
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import pyarrow as pa

from rtbfast import _native
from rtbfast.errors import InputIOError, TemplateError

IGNORE = "__ignore__"
DELETE = "__delete__"
COMMENT = "$comment"


class Number(str):
    """A JSON number, kept as its text (``1.0`` is not ``1``; 20 digits are not rounded)."""


JsonValue = Union[str, Number, bool, None, list["JsonValue"], "JsonObject"]


def holds_value(v: object) -> bool:
    """Whether a key's value `v` is a value: not an object, a list or a sentinel. The key
    grammar reads a naming attribute spelled like a class (``"MeContextId": "NODE1"``) as an
    attribute when it holds one (``rust/src/templates/key.rs``)."""
    return not isinstance(v, (JsonObject, dict, list)) and v not in (DELETE, IGNORE)


class JsonObject:
    """A JSON object as its (key, value) pairs, in file order (a repeated key kept twice).
    Not a list or a dict, so it is never taken for either."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, JsonValue]] | None = None) -> None:
        self.pairs = list(pairs or [])

    def __iter__(self) -> Iterator[tuple[str, JsonValue]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __contains__(self, key: object) -> bool:
        """Whether `key` is one of the object's keys."""
        return any(k == key for k, _ in self.pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonObject) and self.pairs == other.pairs

    def __repr__(self) -> str:
        return f"JsonObject({self.pairs!r})"

    def get(self, key: str, default: JsonValue = None) -> JsonValue:
        """The value of `key` (the later one where the key repeats)."""
        found = default
        for k, v in self.pairs:
            if k == key:
                found = v
        return found

    def used(self) -> list[tuple[str, JsonValue]]:
        """The pairs a template reads: a repeated key's later value at its own place, the
        earlier ones left out (``$comment``s all kept)."""
        last = {k: i for i, (k, _) in enumerate(self.pairs)}
        if len(last) == len(self.pairs):
            return self.pairs
        return [(k, v) for i, (k, v) in enumerate(self.pairs) if k == COMMENT or last[k] == i]

    def keys(self) -> list[str]:
        return [k for k, _ in self.pairs]


@dataclass
class Where:
    """Where a node is: its JSON pointer, and its line and column (of the key or item)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.line}:{self.column} ({self.path or '/'})"


# -- values ------------------------------------------------------------------------------------


@dataclass
class Written:
    """A value as written: a string (almost always), a number, a boolean, null, a struct (an
    object) or a sequence (a list)."""

    where: Where
    value: JsonValue


@dataclass
class Ignore:
    """``"__ignore__"``: no change."""

    where: Where


@dataclass
class EvalValue:
    """``{"$eval": "<expression>"}``: computed at expansion."""

    where: Where
    expression: str
    at: Where | None = None
    """Where the expression is (``…/$eval``)."""


@dataclass
class Case:
    where: Where
    test: str
    then: Value
    at: Where | None = None
    """Where the test is (``…/case``)."""


@dataclass
class SwitchValue:
    """``{"$switch": {"branches": [{"case": …, "then": …}]}}``: the first case that holds."""

    where: Where
    branches: list[Case]


@dataclass
class CondValue:
    """``{"$cond": {"if": …, "then": …, "else": …}}``."""

    where: Where
    test: str
    then: Value | None
    otherwise: Value | None
    at: Where | None = None
    """Where the test is (``…/$cond/if``)."""


Value = Written | Ignore | EvalValue | SwitchValue | CondValue

# -- entries -----------------------------------------------------------------------------------


@dataclass
class Attribute:
    where: Where
    name: str
    value: Value


@dataclass
class Mo:
    """A key naming MOs and what it holds: attributes, child MOs and directives, or
    ``"__delete__"`` (`delete`) or ``"__ignore__"`` (`body` None)."""

    where: Where
    key: str
    cls: str
    at: bool
    ids_kind: Literal["none", "wildcard", "id", "list"]
    ids: list[str]
    body: list[Entry] | None
    delete: bool = False


Branch = list["Fragment"] | None
"""A ``then``/``else``: fragments in order, or None for ``"__ignore__"``."""


@dataclass
class Cond:
    where: Where
    test: str
    then: Branch
    otherwise: Branch
    has_else: bool
    at: Where | None = None
    """Where the test is (``…/if``)."""


@dataclass
class SwitchCase:
    where: Where
    test: str
    then: Branch
    at: Where | None = None
    """Where the test is (``…/case``)."""


@dataclass
class Switch:
    where: Where
    branches: list[SwitchCase]


@dataclass
class Eval:
    """``{"$eval": "<expression>"}`` as an entry: at the top for its side effects, inside an
    MO for the object it returns (merged into the MO)."""

    where: Where
    expression: str


@dataclass
class Plan:
    where: Where
    name: str
    steps: list[Fragment]


@dataclass
class Plans:
    where: Where
    plans: list[Plan]


@dataclass
class Comment:
    where: Where
    text: JsonValue


@dataclass
class Fragment:
    """One object of the template's list (or of a ``then``, ``else`` or plan): its entries in
    order."""

    where: Where
    entries: list[Entry]


Entry = Attribute | Mo | Cond | Switch | Eval | Plans | Comment

# -- the head ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadWarning:
    """A warning of the reader, located: ``duplicate_key`` (a key repeated in one object; the
    message names every place, and the line and column are the later one's, which is used)."""

    code: str
    message: str
    path: str
    line: int
    column: int

    def line_text(self, file: str | os.PathLike[str]) -> str:
        """The warning as ``rtbfast`` prints it."""
        return (
            f"{os.fspath(file)}:{self.line}:{self.column}: warning: {self.code}: {self.message} at {self.path or '/'}"
        )


@dataclass
class CustomFunction:
    where: Where
    name: str
    args: list[str]
    body: list[str]
    lines: list[Where] = field(default_factory=list)
    """Where each line of the body is."""


@dataclass
class Template:
    """A template read: its head (``$meta``, ``$vars``, ``$custom``) and its fragments, and
    the raw JSON kept for writing back."""

    path: Path
    raw: list[JsonValue]
    meta: JsonObject | None
    vars: JsonObject | None
    custom: list[CustomFunction]
    fragments: list[Fragment]
    where: dict[str, Where] = field(default_factory=dict, repr=False)
    """Every node's JSON pointer → where it is."""
    origin: dict[str, str] = field(default_factory=dict, repr=False)
    """A typed template's pointers → the compiled RTB template's (``raw``); empty for an
    RTB template, whose pointers are ``raw``'s."""
    warnings: list[ReadWarning] = field(default_factory=list)
    """What reading it warns of: keys repeated in an object."""

    @property
    def plan_order(self) -> list[str]:
        order = self.meta.get("plan_order") if self.meta is not None else None
        return [str(p) for p in order] if isinstance(order, list) else []

    @property
    def version(self) -> str | None:
        v = self.meta.get("version") if self.meta is not None else None
        return str(v) if isinstance(v, str) else None

    def mos(self) -> Iterator[Mo]:
        """Every MO node, depth first."""

        def walk(entries: list[Entry]) -> Iterator[Mo]:
            for e in entries:
                if isinstance(e, Mo):
                    yield e
                    yield from walk(e.body or [])
                elif isinstance(e, Cond):
                    for branch in (e.then, e.otherwise):
                        for f in branch or []:
                            yield from walk(f.entries)
                elif isinstance(e, Switch):
                    for case in e.branches:
                        for f in case.then or []:
                            yield from walk(f.entries)
                elif isinstance(e, Plans):
                    for plan in e.plans:
                        for f in plan.steps:
                            yield from walk(f.entries)

        for f in self.fragments:
            yield from walk(f.entries)


# -- reading -------------------------------------------------------------------------------------


def _pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    return JsonObject(pairs)


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> JsonValue:
    """Strict JSON, objects as ordered pairs (repeated keys kept), numbers as their text."""
    value: JsonValue = json.loads(
        text, object_pairs_hook=_pairs, parse_float=Number, parse_int=Number, parse_constant=_constant
    )
    return value


def _pointer(path: str, key: str | int) -> str:
    seg = str(key).replace("~", "~0").replace("/", "~1")
    return f"{path}/{seg}"


class _Builder:
    """Builds the typed tree from the parsed JSON; the shape was checked by the native reader."""

    def __init__(self) -> None:
        self.wheres: list[Where] = []

    def at(self, path: str) -> Where:
        """The place of the node at `path`: located later, in place (:func:`locate`)."""
        where = Where(path)
        self.wheres.append(where)
        return where

    def value(self, v: JsonValue, path: str) -> Value:
        where = self.at(path)
        if v == IGNORE:
            return Ignore(where)
        pairs = v.used() if isinstance(v, JsonObject) else []
        if len(pairs) == 1 and pairs[0][0].startswith("$"):
            directive, inner = pairs[0]
            inner_path = _pointer(path, directive)
            if directive == "$eval":
                return EvalValue(where, str(inner), self.at(inner_path))
            if directive == "$switch" and isinstance(inner, JsonObject):
                cases = []
                branches = inner.get("branches")
                for i, b in enumerate(branches if isinstance(branches, list) else []):
                    here = _pointer(_pointer(inner_path, "branches"), i)
                    if isinstance(b, JsonObject):
                        chosen = self.value(b.get("then"), _pointer(here, "then"))
                        cases.append(Case(self.at(here), str(b.get("case")), chosen, self.at(_pointer(here, "case"))))
                return SwitchValue(where, cases)
            if directive == "$cond" and isinstance(inner, JsonObject):
                keys = inner.keys()
                then = self.value(inner.get("then"), _pointer(inner_path, "then")) if "then" in keys else None
                other = self.value(inner.get("else"), _pointer(inner_path, "else")) if "else" in keys else None
                return CondValue(where, str(inner.get("if")), then, other, self.at(_pointer(inner_path, "if")))
        return Written(where, v)

    def branch(self, v: JsonValue, path: str) -> Branch:
        if v == IGNORE or v is None:
            return None
        if isinstance(v, list):
            out: list[Fragment] = []
            for i, item in enumerate(v):
                got = self.branch(item, _pointer(path, i))
                out.extend(got or [])
            return out
        if isinstance(v, JsonObject):
            return [self.fragment(v, path)]
        return None

    def fragment(self, obj: JsonObject, path: str) -> Fragment:
        return Fragment(
            self.at(path), [e for k, v in obj.used() if (e := self.entry(k, v, _pointer(path, k))) is not None]
        )

    def entry(self, key: str, v: JsonValue, path: str) -> Entry | None:
        kind = _native.parse_template_key(key, holds_value(v))
        where = self.at(path)
        if kind[0] == "attribute":
            return Attribute(where, kind[1], self.value(v, path))
        if kind[0] == "mo":
            _, cls, at, ids_kind, ids = kind
            if v == DELETE:
                return Mo(where, key, cls, at, ids_kind, list(ids), None, delete=True)
            body = None
            if isinstance(v, JsonObject):
                body = [e for k, x in v.used() if (e := self.entry(k, x, _pointer(path, k))) is not None]
            return Mo(where, key, cls, at, ids_kind, list(ids), body)
        name = kind[1]
        if name == "comment":
            return Comment(where, v)
        if name == "eval":
            return Eval(where, str(v))
        if name == "cond" and isinstance(v, JsonObject):
            keys = v.keys()
            then = self.branch(v.get("then"), _pointer(path, "then"))
            other = self.branch(v.get("else"), _pointer(path, "else"))
            return Cond(where, str(v.get("if")), then, other, "else" in keys, self.at(_pointer(path, "if")))
        if name == "switch" and isinstance(v, JsonObject):
            cases = []
            branches = v.get("branches")
            for i, b in enumerate(branches if isinstance(branches, list) else []):
                here = _pointer(_pointer(path, "branches"), i)
                if isinstance(b, JsonObject):
                    cases.append(
                        SwitchCase(
                            self.at(here),
                            str(b.get("case")),
                            self.branch(b.get("then"), _pointer(here, "then")),
                            self.at(_pointer(here, "case")),
                        )
                    )
            return Switch(where, cases)
        if name == "plans" and isinstance(v, JsonObject):
            plans = []
            for plan, steps in v.used():
                here = _pointer(path, plan)
                plans.append(Plan(self.at(here), plan, self.branch(steps, here) or []))
            return Plans(where, plans)
        return None  # $meta, $vars, $custom: read by `read_template`

    def custom(self, v: JsonValue, path: str) -> list[CustomFunction]:
        out = []
        for i, f in enumerate(v if isinstance(v, list) else []):
            if isinstance(f, JsonObject):
                args, body = f.get("args"), f.get("body")
                here = _pointer(path, i)
                lines = body if isinstance(body, list) else []
                out.append(
                    CustomFunction(
                        self.at(here),
                        str(f.get("name")),
                        [str(a) for a in args] if isinstance(args, list) else [],
                        [str(line) for line in lines],
                        [self.at(_pointer(_pointer(here, "body"), n)) for n in range(len(lines))],
                    )
                )
        return out


def checked_template_path(path: str | os.PathLike[str]) -> Path:
    from rtbfast.readers import checked_file

    return checked_file(path)


def template_problems(path: Path) -> list[TemplateError]:
    """What the native reader finds wrong with the template at `path` (not JSON, a key that
    fits no grammar, a misplaced directive, a bound passed…), located."""
    return read_problems(path)[0]


def read_problems(path: Path) -> tuple[list[TemplateError], list[ReadWarning]]:
    """What the native reader finds wrong with the template at `path`, and what it warns of
    (keys repeated in an object), located."""
    tables = {name: pa.table(t) for name, t in _native.read_templates([path], 1).items()}
    files = tables["files"].to_pylist()[0]
    if files["error"] is not None:
        line, column = files["error_line"] or 0, files["error_column"] or 0
        return [TemplateError(f"{path}:{line}:{column}: {files['error']}", str(path), line, column)], []
    problems = tables["problems"].to_pylist()
    if not problems:
        return [], []
    unplaced = [p["path"] for p in problems if p["line"] is None]
    spots = iter(_native.locate_pointers(path, unplaced) if unplaced else [])
    errors, warnings = [], []
    for p in problems:
        line, column = (p["line"], p["column"]) if p["line"] is not None else next(spots)
        if p["severity"] == "warning":
            warnings.append(ReadWarning(p["code"], p["message"], p["path"], line, column))
        else:
            errors.append(
                TemplateError(
                    f"{path}:{line}:{column}: {p['message']} (at {p['path'] or '/'})",
                    str(path),
                    line,
                    column,
                    p["path"],
                )
            )
    return errors, warnings


def read_template(path: str | os.PathLike[str]) -> Template:
    """Read an RTB template into its typed tree. A file that is not a template raises
    :class:`TemplateError` at the first problem, with line and column (all of them are
    listed by ``rtbfast templates check``)."""
    p = checked_template_path(path)
    template, wheres = build_template(p)
    locate(p, wheres, _native.locate_pointers)
    template.where = {w.path: w for w in wheres}
    return template


def build_template(p: Path) -> tuple[Template, list[Where]]:
    """The tree of the template at `p` (checked by the native reader first), and the places of
    its nodes, to be located (:func:`locate`)."""
    problems, warnings = read_problems(p)
    if problems:
        first = problems[0]
        more = (
            f" (and {len(problems) - 1} more problem(s); rtbfast templates check lists them)"
            if len(problems) > 1
            else ""
        )
        raise TemplateError(first.message + more, first.file, first.line, first.column, first.element)
    try:
        raw = parse_json(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputIOError(f"{p}: cannot read the template: {err}", str(p)) from None
    assert isinstance(raw, list)  # the native reader checked it
    b = _Builder()
    meta = vars_ = None
    custom: list[CustomFunction] = []
    fragments: list[Fragment] = []
    for i, item in enumerate(raw):
        here = _pointer("", i)
        if not isinstance(item, JsonObject):
            continue
        head = [(k, v) for k, v in item.used() if k in ("$meta", "$vars", "$custom")]
        for k, v in head:
            b.at(_pointer(here, k))
            if k == "$meta" and isinstance(v, JsonObject):
                meta = v
            elif k == "$vars" and isinstance(v, JsonObject):
                vars_ = v
            elif k == "$custom":
                custom = b.custom(v, _pointer(here, k))
        rest = JsonObject([(k, v) for k, v in item.used() if k not in ("$meta", "$vars", "$custom")])
        if rest:
            fragments.append(b.fragment(rest, here))
    return Template(p, raw, meta, vars_, custom, fragments, warnings=warnings), b.wheres


def locate(path: Path, wheres: list[Where], locator: Any) -> None:
    """Fill in the line and column of every place (each node holds its own, so the tree is
    located without a walk); `locator(path, pointers)` gives them."""
    spots = locator(path, [w.path for w in wheres])
    for w, (line, column) in zip(wheres, spots, strict=True):
        w.line, w.column = line, column


# -- writing -----------------------------------------------------------------------------------


def _json(value: JsonValue, indent: int, level: int) -> str:
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, JsonObject):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_json(v, indent, level + 1)}" for k, v in value]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _json(v, indent, level + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


_encode_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.encode_basestring


def compact_json(value: JsonValue) -> str:
    """`value` as JSON on one line, quickly (for files rtbfast reads itself)."""
    out: list[str] = []
    text = _encode_string

    def put(v: JsonValue) -> None:
        if isinstance(v, JsonObject):
            out.append("{")
            for i, (k, x) in enumerate(v.pairs):
                out.append(("," if i else "") + text(k) + ":")
                put(x)
            out.append("}")
        elif isinstance(v, list):
            out.append("[")
            for i, x in enumerate(v):
                if i:
                    out.append(",")
                put(x)
            out.append("]")
        elif isinstance(v, Number):
            out.append(str(v))
        elif isinstance(v, str):
            out.append(text(v))
        else:
            out.append(json.dumps(v))

    put(value)
    return "".join(out)


def template_json(template: Template | list[JsonValue], indent: int = 2) -> str:
    """The template as JSON text: every key in order, every value as read."""
    raw = template.raw if isinstance(template, Template) else template
    return _json(raw, indent, 0) + "\n"


def write_template(template: Template, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(template_json(template), encoding="utf-8")


def plain(value: JsonValue) -> Any:
    """A JSON value as plain Python (dicts, floats and ints for numbers)."""
    if isinstance(value, Number):
        return json.loads(value)
    if isinstance(value, JsonObject):
        return {k: plain(v) for k, v in value.used()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
