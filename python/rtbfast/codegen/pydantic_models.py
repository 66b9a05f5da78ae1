"""Pydantic v2 models generated from a catalog: one module per MIM (or workbook Model), one
module of enums and structs, a shared ``_base`` module and an ``__init__`` that imports lazily.

Per MO class three models: ``X`` (what may be set: writable attributes, all optional),
``XCreate`` (what may be given at creation: writable and restricted attributes, mandatory ones
required) and ``XState`` (every attribute, all optional, for exported state). PM counters are
left out. Every model refuses attributes it does not know or does not allow, and accepts the
original MOM names (aliases) as well as the Python names.

Names are made safe and unique deterministically:
- a field whose MOM name is a keyword, a builtin, a BaseModel member or not an identifier gets
  a trailing ``_`` (``class`` → ``class_``, ``model_config`` → ``model_config_``); two names that
  still meet get ``_2``, ``_3`` in catalog order; names are read as Python reads them (NFKC: a
  fullwidth ``class`` is ``class``), characters a name cannot hold become ``_``, a leading digit gets
  ``f_`` and leading underscores go;
- enum members the same way, with what ``Enum`` refuses or its members would shadow
  reserved instead (``mro``, ``name``, ``value``, the methods of ``int`` and ``str``): ``mro`` →
  ``mro_``, ``since-update`` → ``since_update``, ``8`` → ``f_8``, ``_missing_`` → ``missing_``.
  Such an enum lists its members' MOM names (``__mom_names__``), so a model takes a member by
  its MOM name (and by its Python name) and rules compare MOM names;
- a model name already taken (the same class in two MIMs; a class named like an enum or struct)
  gets its MIM's name as a prefix (``Epg_Pgw_Diagnostics``); a variant name already taken (a
  class ``FooState`` beside the state model of ``Foo``) gets a trailing ``_`` until it is free;
  classes are named MIM by MIM in file order, then by class name, so the first keeps its name;
- enums and structs are named the same way among themselves.

Structs that refer to themselves or to each other (a cycle) are supported: a cycle's structs
are built together and refer to each other by forward references. Structs nested deeper than
:data:`MAX_STRUCT_DEPTH` levels are refused (:class:`Unbuildable`), as Pydantic builds nested
models by recursion.

In the package layout no generated module holds more than a few thousand field lines
(compiling one takes about 15 KB): modules take classes while they have room
(:data:`_CHUNK_FIELDS`), and a model of more than :data:`_PART_FIELDS` fields inherits them
from parts (``_X_part0``...), each in a module of its own. (The single layout is one module.)

Output is sorted and carries no timestamps, so the same catalog gives the same bytes. The build
proves the output builds (:mod:`rtbfast.codegen.verify`).
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import keyword
import os
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import BaseModel
from pydantic_core import SchemaError, SchemaValidator, core_schema

from rtbfast import _native
from rtbfast.codegen.base_module import BODY as BASE_BODY
from rtbfast.codegen.base_module import IMPORTS as BASE_IMPORTS
from rtbfast.codegen.base_module import SOURCE as BASE_SOURCE
from rtbfast.codegen.base_module import import_line, isort_key
from rtbfast.codegen.base_module import source as base_source
from rtbfast.codegen.docs import file_names
from rtbfast.codegen.jsonschema import class_schema_text, field_schema
from rtbfast.codegen.processes import in_processes
from rtbfast.codegen.rule_checks import NotTranslatable, cel_check, python_check
from rtbfast.errors import InvalidValueError
from rtbfast.rules.dependencies import TypedRule, extract
from rtbfast.text_safety import visible
from rtbfast.typemap import FieldType, enum_members_by_enum, field_type, lookup, struct_members_by_struct

_RESERVED = (
    set(keyword.kwlist)
    | set(keyword.softkwlist)
    | set(dir(builtins))
    | set(dir(BaseModel))
    | {"Annotated", "Any", "Decimal", "Field", "AfterValidator", "BeforeValidator", "Enum", "IntEnum", "StrEnum"}
    # a class attribute Pydantic would read as the model's configuration
    | {"Config"}
)


MAX_STRUCT_DEPTH = 16
"""The deepest nesting of structs in structs models are built for. Pydantic builds (and gives
the JSON Schema of) a nested model by recursion, about 30 frames a level: at Python's default
recursion limit it fails beyond about 30 levels, fewer when the caller's stack is deep. Real
models nest two or three levels. A group of structs that refer to each other (a cycle) counts
as many levels as it has structs."""


class Unbuildable(InvalidValueError):
    """An input rtbfast cannot make models of (structs nested too deep). Names the enum, struct
    or class (`kind`, `mim`, `name`); the build adds the file and line."""

    def __init__(self, kind: str, mim: str, name: str, reason: str) -> None:
        where = f" of MIM {mim}" if mim else ""
        super().__init__(f"{kind} {name}{where}: {reason}")
        self.kind = kind
        self.mim = mim
        self.name = name
        self.reason = reason


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of `graph` (node → the nodes it points to), each after
    the components it points to (Tarjan's algorithm, with an explicit stack: no recursion,
    whatever the depth). Deterministic: nodes are visited in the order of `graph`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = graph.get(node, [])
            if i > 0:
                low[node] = min(low[node], low[targets[i - 1]])
            while i < len(targets) and (targets[i] in index):
                if targets[i] in on_stack:
                    low[node] = min(low[node], index[targets[i]])
                i += 1
            if i < len(targets):
                work.append((node, i + 1))
                work.append((targets[i], 0))
                continue
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                out.append(members)
    return out


@dataclass
class _Unit:
    """What a module builds at once: an enum, a struct, an alias, or one model of a class."""

    names: list[str]
    source: str = ""
    used: set[str] = field(default_factory=set)
    mim: str = ""
    """The MIM a type belongs to: types are built from one runtime module per MIM."""
    fields: int = 0
    """Its field lines: what compiling it costs (see :data:`_CHUNK_FIELDS`)."""


@dataclass
class _Class:
    """One MO class as planned: its names, and the attribute rows it is made of."""

    mim: str
    cls: str
    models: tuple[str, str, str]
    description: str | None
    rows: list[int]
    """Row numbers in the attributes table (PM counters left out)."""
    position: int
    """Its place among all classes (MIMs in file order, classes by name)."""
    schema_file: str = ""
    """Its JSON Schema's file name (its set model's name, see :func:`rtbfast.codegen.docs.file_names`)."""
    part_modules: list[str] = field(default_factory=list)
    """Names of the private modules its models' parts may take (a class of more than
    :data:`_PART_FIELDS` attributes; see :meth:`_Emitter.parted`)."""


@dataclass
class _Chunk:
    """Classes of one module that one private runtime module builds."""

    module: str
    name: str
    classes: list[_Class]


@dataclass
class _ClassPlan:
    modules: list[str] = field(default_factory=list)
    chunks: list[_Chunk] = field(default_factory=list)


@dataclass
class _ChunkOut:
    """What emitting a chunk gives: its runtime module, its part of the module's stub and body,
    the names they import, its models' field counts and the notes on the way."""

    name: str
    runtime: str = ""
    body: str = ""
    used: set[str] = field(default_factory=set)
    stub: str = ""
    stub_used: set[str] = field(default_factory=lambda: {"MoModel"})
    fields: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    user_rules: list[str] = field(default_factory=list)
    schema_seconds: float = 0.0
    probes: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)


@dataclass
class Generated:
    """What the emitter wrote and what it had to note."""

    package_dir: Path
    modules: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    """Model name → module."""
    class_models: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    """(MIM, class) → its set, create and state model names."""
    fields: dict[str, int] = field(default_factory=dict)
    """Model name → its number of fields."""
    defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Enum and struct name → its JSON Schema, for ``$defs``."""
    schema_files: int = 0
    """JSON Schema files written (one per MO class), when asked for."""
    schema_seconds: float = 0.0
    """Time the workers spent writing them (inside the generation's own time)."""
    user_rules: list[str] = field(default_factory=list)
    """Ids of the user rules the state models check."""
    types: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """Enum, struct and derived type (Python name) → its kind, MIM and name in the catalog."""
    type_shapes: dict[str, str] = field(default_factory=dict)
    """Type (Python name) → its shape (see :meth:`_Emitter.shapes`)."""
    probes: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    """Each distinct annotation of a field of an MO class's models (as the runtime modules
    write it) → the first model, MIM, class and attribute that have it: what
    :mod:`rtbfast.codegen.verify` builds to prove every model builds."""
    classes: int = 0
    enums: int = 0
    structs: int = 0
    renamed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_ATTRIBUTE_COLUMNS = {
    *("mim", "class", "attribute", "kind", "base_type", "type_ref", "type_ref_mim", "derived_type"),
    *("derived_type_mim", "is_sequence", "seq_min", "seq_max", "seq_unique", "ranges", "length_min"),
    *("length_max", "pattern", "format", "default", "unit", "multiplication_factor", "resolution"),
    *("fraction_digits", "mandatory", "read_only", "restricted", "is_counter", "description"),
    *("takes_effect", "source", "key"),
}


_ENUM_RESERVED = (
    set(keyword.kwlist)
    | set(keyword.softkwlist)
    | {*dir(IntEnum), *dir(StrEnum), *dir(int), *dir(str), *vars(Enum), "mro"}
)
"""Names an enum member cannot take: keywords, and what ``Enum`` refuses (``mro``) or its
members would shadow (``name``, ``value``, the methods of ``int`` and ``str``)."""


_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def _identifier(name: str, reserved: set[str]) -> str:
    """`name` as a Python identifier outside `reserved`: read as Python reads names (NFKC, so
    two names that Python would read as one meet here, where they are told apart), characters
    a name cannot hold as ``_``, a digit first behind ``f_``, no leading ``_`` (private or
    reserved names in Pydantic and ``Enum``), a trailing ``_`` when reserved."""
    if name.isascii():
        ident = _NOT_NAME.sub("_", name)
    else:
        text = unicodedata.normalize("NFKC", name)
        ident = "".join(c if f"a{c}".isidentifier() else "_" for c in text)
    if not ident or ident[0].isdigit():
        ident = f"f_{ident}"
    ident = ident.lstrip("_") or "f"
    if ident in reserved or ident.startswith("model_"):
        ident = f"{ident}_"
    return ident


@functools.cache
def safe_identifier(name: str) -> str:
    """`name` as a Python identifier that shadows nothing (see the module)."""
    return _identifier(name, _RESERVED)


def safe_member(name: str) -> str:
    """An enum member's MOM name as a Python name ``Enum`` accepts and that shadows nothing of
    an enum (``mro`` → ``mro_``, ``since-update`` → ``since_update``, ``8`` → ``f_8``,
    ``_missing_`` → ``missing_``)."""
    return _identifier(name, _ENUM_RESERVED)


def module_name(name: str) -> str:
    """A MIM name as a module name: lower snake case, ASCII, its file name short (a long name
    cut, with a part of its hash)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    ident = re.sub(r"[^A-Za-z0-9_]+", "_", snake).strip("_").lower() or "mim"
    if not name.isascii() or len(ident) > _MODULE_NAME:
        ident = f"{ident[:_MODULE_NAME].rstrip('_') or 'mim'}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = f"mim_{ident}"
    return ident


_MODULE_NAME = 48
"""The longest module name made of a MIM's name (before a hash): its private modules add to it."""


def _unique(name: str, taken: set[str], prefix: str = "") -> str:
    candidate = name
    if candidate in taken and prefix:
        candidate = f"{prefix}_{name}"
    while candidate in taken:
        candidate = f"{candidate}_"
    taken.add(candidate)
    return candidate


def _literal(value: Any) -> str:
    """A Python literal for `value` (Decimals written exactly)."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return f"Decimal({text})" if value == value.to_integral_value() else f'Decimal("{text}")'
    return repr(value)


def _docstring(text: str | None, fallback: str) -> str:
    """A docstring for `text`: control characters shown as escapes (a NUL would stop the
    module compiling), backslashes and triple quotes escaped."""
    body = visible((text or fallback).strip()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if "\n" not in body:
        return f'"""{body}"""'
    lines = [line.rstrip() for line in body.splitlines()]
    indented = "\n".join(f"    {line}" if line else "" for line in lines[1:])
    return f'"""{lines[0]}\n{indented}\n    """'


_CachedField = tuple[
    dict[str, Any], str, list[str], dict[str, Any] | None, frozenset[str], frozenset[str], str | None, str
]
"""A field worked out: its row, annotation, ``Field`` arguments, schema, the names its model and
its stub need, the enum or struct it refers to, and its stub annotation."""


_PART_FIELDS = 1_000
"""The most fields a model's class holds itself in the runtime modules; a model of more is
built from parts of this many (see :meth:`_Emitter.parted`)."""

_CHUNK_FIELDS = 3_000
"""The most field lines a private runtime module holds (unless one class alone has more): a
module takes about 15 KB a field line to compile, so a module of 3,000 lines about 45 MB."""


class _Emitter:
    def __init__(self, tables: dict[str, pa.Table], user_rules: pa.Table | None = None) -> None:
        self.tables = tables
        # cross-parameter rules read from the Dependencies texts, as the bulk evaluator runs them
        self.rules: dict[str, list[TypedRule]] = defaultdict(list)
        for rule in extract(tables).rules:
            if rule.cel:
                self.rules[rule.cls].append(rule)
        self.out = Generated(Path())
        # user rules (CEL), for the state models: those that judge one MO at any time
        self.user_rules: dict[str, list[dict[str, Any]]] = defaultdict(list)
        unusable = {}
        if user_rules is not None and user_rules.num_rows:
            unusable = {row: message for row, _, _, _, _, message in _native.compile_user_rules(user_rules)["problems"]}
        for row, rule in enumerate([] if user_rules is None else user_rules.to_pylist()):
            where = f"rule {rule['id']!r} ({rule['class']})"
            if row in unusable:
                self.out.notes.append(f"{where} is not in the models: it does not compile: {unusable[row]}")
            elif rule.get("window"):
                self.out.notes.append(f"{where} is not in the models: it holds in a time window ({rule['window']})")
            elif (rule.get("severity") or "error") == "info":
                self.out.notes.append(f"{where} is not in the models: severity info")
            else:
                self.user_rules[rule["class"]].append(rule)
        self.enum_names: dict[str, str] = {}
        self.struct_names: dict[str, str] = {}
        self.type_names: set[str] = set()
        self.struct_keys: dict[str, list[str]] = {}
        self.alias_names: dict[str, str] = {}
        self.struct_aliases: set[str] = set()
        """Derived types of a struct: fields of them are written with the struct."""
        self.recursive: set[str] = set()
        """Structs that refer to themselves."""
        self.forward: set[str] = set()
        """Structs the struct being written refers to by forward reference (its group's)."""
        self.model: tuple[str, str, str] | None = None
        """The model, MIM and class of the MO class's model being written (None for a struct)."""
        self.parts: list[_Unit] = []
        """The parts of the models written since this was last emptied."""
        self.runtime_modules = True
        """Whether the models go to lazily built runtime modules (the package layout), where
        annotations are objects; else to one module with postponed annotations."""
        self.with_schemas = True
        """Whether fields get their JSON Schema (always for structs, which are ``$defs``)."""
        self.schemas: dict[str, dict[str, Any]] = {}
        """Model → its description, properties, required names and the enums and structs they
        refer to, while its class is written."""
        self.refs: set[str] = set()
        """Enums and structs the fields of the model being written refer to (for its schema)."""
        self.def_refs: dict[str, set[str]] = {}
        """Enum or struct → the ones its schema refers to (worked out once)."""
        self.properties: dict[str, dict[str, Any]] = {}
        self.required: list[str] = []
        self.units: dict[str, list[_Unit]] = {}
        """Module → its units in order, for the runtime modules that build them on first use."""
        self.field_cache: dict[tuple[int, bool], _CachedField] = {}
        self.name_sets: dict[frozenset[str], frozenset[str]] = {}
        self.stub_names: set[str] = set()
        """Names the stub of the field worked out last needs imported."""
        self.stub_annotation = ""
        """The stub's annotation of the field worked out last (constraints shown in the type)."""
        self.ref: str | None = None
        """The enum or struct the field worked out last refers to in its schema."""
        self.used: set[str] = set()
        """Names the module being written needs imported."""
        self.struct_stub = ""
        """The stub of the struct written last."""
        self.types_stub = ""
        """The ``_types`` module as its stub has it."""
        self.type_home: dict[str, str] = {}
        """Type → the private module that builds it (package layout)."""
        self.stub_used: set[str] = {"MoModel"}
        """Names the stub of the module being written needs imported."""
        self.used_by_module: dict[str, set[str]] = {}

    # -- enums and structs ------------------------------------------------------------
    @contextmanager
    def unit(self, module: str, names: list[str], mim: str = "") -> Iterator[_Unit]:
        """Collect what one unit of a module (an enum, a struct, an alias, or one model of a
        class) defines and needs, while it is written."""
        module_used = self.used_by_module.setdefault(module, {"MoModel"} if module != "_types" else set())
        unit = _Unit(names, mim=mim)
        self.used = unit.used
        try:
            yield unit
        finally:
            module_used |= unit.used
            self.used = module_used
            self.units.setdefault(module, []).append(unit)

    def types_module(self) -> str:
        self.used = self.used_by_module.setdefault("_types", set())
        enums = self.tables.get("enums", pa.table({"enum": pa.array([], pa.string())})).to_pylist()
        members = enum_members_by_enum(
            enums, self.tables.get("enum_members", pa.table({"enum": pa.array([], pa.string())})).to_pylist()
        )
        structs = self.tables.get("structs", pa.table({"struct": pa.array([], pa.string())})).to_pylist()
        struct_rows = struct_members_by_struct(
            structs, self.tables.get("struct_members", pa.table({"struct": pa.array([], pa.string())})).to_pylist()
        )

        enum_keys = sorted(members)
        for mim, name in sorted(enum_keys, key=lambda k: (k[1], k[0])):
            py = _unique(safe_identifier(name), self.type_names, safe_identifier(mim) if mim else "")
            self.enum_names.setdefault(name, py)
            self.enum_names[f"{mim}/{name}"] = py
        struct_keys = sorted({(s.get("mim") or "", s["struct"]) for s in structs} | set(struct_rows))
        for mim, name in sorted(struct_keys, key=lambda k: (k[1], k[0])):
            py = _unique(safe_identifier(name), self.type_names, safe_identifier(mim) if mim else "")
            self.struct_names.setdefault(name, py)
            self.struct_names[f"{mim}/{name}"] = py

        exclusive = {(s.get("mim") or "", s["struct"]): bool(s.get("exclusive")) for s in structs}
        parts: list[str] = []
        stub_parts: list[str] = []
        """The same, as the stub has them (fields without ``Field``, validators without body)."""
        for mim, name in enum_keys:
            rows = members.get((mim, name), [])
            py = self.enum_names[f"{mim}/{name}"]
            with self.unit("_types", [py], mim) as unit:
                unit.source = self.enum_source(py, name, mim, rows)
                unit.fields = len(rows)
            renamed = "\n\n    __mom_names__ = " in unit.source
            parts.append(unit.source)
            # the stub without the MOM names of renamed members (only ``by_name`` reads them)
            stub_parts.append(re.sub(r"\n\n    __mom_names__ = .*\n", "\n", unit.source) if renamed else unit.source)
        for mim, name in enum_keys:
            self.out.types[self.enum_names[f"{mim}/{name}"]] = ("enum", mim, name)
        late: list[str] = []
        # derived types as named aliases, after the enums they may use and before the structs
        derived = self.tables["derived_types"].to_pylist() if "derived_types" in self.tables else []
        for row in sorted(derived, key=lambda r: (r["name"], r.get("mim") or "")):
            mim, name = row.get("mim") or "", row["name"]
            py = _unique(safe_identifier(name), self.type_names, safe_identifier(mim) if mim else "")
            self.alias_names.setdefault(name, py)
            self.alias_names[f"{mim}/{name}"] = py
            t = field_type({**row, "is_sequence": False}, self.enum_names, self.struct_names)
            if t.pattern_note:
                self.out.notes.append(f"derived type {name}: {t.pattern_note}")
            where = f" of MIM {mim}" if mim else ""
            self.out.types[py] = ("derived type", mim, name)
            with self.unit("_types", [py], mim) as unit:
                self.used.add("TypeAlias")
                unit.source = f'{py}: TypeAlias = {self.annotation(t)}\n"""Derived type {name}{where}."""\n'
            if t.struct:
                # fields of this type are written with the struct itself (so no cycle of structs
                # runs through an alias); the alias is defined after the structs
                self.struct_aliases.add(py)
                late.append(unit.source)
            else:
                parts.append(unit.source)
            stub_parts.append(unit.source)
        key_of = {self.struct_names[f"{mim}/{name}"]: (mim, name) for mim, name in struct_keys}
        for mim, name in struct_keys:
            self.out.types[self.struct_names[f"{mim}/{name}"]] = ("struct", mim, name)
        for group in self.struct_groups(key_of, struct_rows):
            # a group of structs that refer to each other (or one struct) is built at once; its
            # references within the group are forward references (Pydantic resolves them when
            # the first model that uses them is built)
            mim = key_of[group[0]][0]
            sources, stubs = [], []
            with self.unit("_types", group, mim) as unit:
                self.forward = set(group) if len(group) > 1 or group[0] in self.recursive else set()
                for py in group:
                    m, name = key_of[py]
                    rows = struct_rows.get((m, name), [])
                    sources.append(self.struct_source(py, name, m, rows, exclusive.get((m, name), False)))
                    stubs.append(self.struct_stub)
                    unit.fields += len(rows)
                self.forward = set()
                unit.source = "\n\n".join(sources)
            for part in self.parts:  # a struct of many members: its parts are types of their own
                part.mim = mim
                self.units["_types"].append(part)
                self.used_by_module["_types"] |= part.used
            self.parts = []
            parts.append(unit.source)
            stub_parts += stubs
        parts += late
        self.out.enums, self.out.structs = len(enum_keys), len(struct_keys)
        self.types_stub = "\n\n".join(stub_parts)
        self.shapes()
        return "\n\n".join(parts)

    def shapes(self) -> None:
        """Each type's shape (:attr:`Generated.type_shapes`): a hash of its source (with its
        parts') without docstrings, every type name in it (its own too) as its kind. Two types
        of one shape are built the same way, whatever their names."""
        kinds = {py: f"<{kind}>" for py, (kind, _, _) in self.out.types.items()}
        units = self.units.get("_types", [])
        part_source = {u.names[0]: u.source for u in units if u.names[0].startswith("_")}

        def general(text: str) -> str:
            text = _DOCSTRING.sub("", text)
            out = []
            for piece, literal in zip(_STRING.split(text), [*_STRING.findall(text), ""], strict=True):
                out += [kinds.get(token, token) for token in _TOKEN.findall(piece)]  # literals as they are
                out.append(literal)
            return "".join(out)

        for unit in units:
            if unit.names[0] not in kinds:
                continue  # a part: in the shape of its struct
            texts = [unit.source, *(part_source[n] for n in sorted(unit.used & part_source.keys()))]
            shape = hashlib.sha256("\n".join(general(t) for t in texts).encode()).hexdigest()[:16]
            for name in unit.names:
                self.out.type_shapes[name] = shape

    def struct_groups(
        self, key_of: dict[str, tuple[str, str]], struct_rows: dict[tuple[str, str], list[dict[str, Any]]]
    ) -> list[list[str]]:
        """The structs (Python names) in groups built together, in the catalog's order: each
        struct alone, except structs that refer to each other (a cycle), which are one group.
        Structs that refer to themselves go to `recursive`. Raises :class:`Unbuildable` when
        structs nest deeper than :data:`MAX_STRUCT_DEPTH`."""
        refers: dict[str, list[str]] = {}
        for py, key in key_of.items():
            found = []
            for r in struct_rows.get(key, []):
                if r.get("kind") == "struct" and r.get("type_ref"):
                    target = lookup(self.struct_names, r.get("type_ref_mim"), r["type_ref"])
                    if target is not None and target in key_of:
                        found.append(target)
            refers[py] = list(dict.fromkeys(found))
            if py in refers[py]:
                self.recursive.add(py)
        components = strongly_connected(refers)
        component_of = {py: i for i, members in enumerate(components) for py in members}
        # components come in reverse topological order: each after those it refers to
        depth: list[int] = []
        below: list[int | None] = []
        for i, members in enumerate(components):
            targets = {component_of[t] for py in members for t in refers[py]} - {i}
            deepest = max(targets, key=lambda j: depth[j], default=None)
            depth.append(len(members) + (depth[deepest] if deepest is not None else 0))
            below.append(deepest)
        if depth and max(depth) > MAX_STRUCT_DEPTH:
            top = max(range(len(components)), key=lambda i: (depth[i], -i))
            chain: list[str] = []
            at: int | None = top
            while at is not None:
                chain += sorted(components[at])
                at = below[at]
            mim, name = key_of[chain[0]]
            shown = " → ".join(key_of[py][1] for py in chain[:4])
            shown += (
                f" → … → {key_of[chain[-1]][1]}"
                if len(chain) > 5
                else "".join(f" → {key_of[py][1]}" for py in chain[4:])
            )
            raise Unbuildable(
                "struct",
                mim,
                name,
                f"structs nest {depth[top]} deep ({shown}); models are built for at most {MAX_STRUCT_DEPTH} levels "
                "of structs in structs (Pydantic builds a nested model's schema by recursion)",
            )
        first = {py: n for n, py in enumerate(key_of)}
        return sorted((sorted(c, key=first.__getitem__) for c in components), key=lambda c: first[c[0]])

    def enum_source(self, py: str, name: str, mim: str, rows: list[dict[str, Any]]) -> str:
        # a member listed by two sources (a workbook names the model's enum under two Models)
        # is one member
        first: dict[str, dict[str, Any]] = {}
        for r in rows:
            first.setdefault(r["member"], r)
        rows = list(first.values())
        seen: set[str] = set()
        lines = []
        numbered = bool(rows) and all(r.get("value") is not None for r in rows)
        if rows and not numbered and any(r.get("value") is not None for r in rows):
            missing = ", ".join(r["member"] for r in rows if r.get("value") is None)
            self.out.notes.append(f"enum {name}: {missing} without a value; members are kept by name only")
        renamed: dict[str, str] = {}
        for r in rows:
            member = r["member"]
            ident = _field_name(member, seen, safe_member)
            if ident != member:
                renamed[ident] = member
            value = r["value"] if numbered else member
            lines.append(f"    {ident} = {value!r}")
        if renamed:
            # the MOM names of members whose Python names differ: ``by_name`` takes them
            lines += ["", f"    __mom_names__ = {tuple(renamed.items())!r}"]
            self.out.renamed += [f"enum {name} member {v} → {k}" for k, v in renamed.items()]
        base = "IntEnum" if numbered else "StrEnum"
        self.used.add(base)
        self.out.defs[py] = {
            "title": py,
            "description": f"Enum {name}: members by name (values as in the MOM).",
            "type": "string",
            "enum": [r["member"] for r in rows],
        }
        where = f" of MIM {mim}" if mim else ""
        doc = _docstring(None, f"Enum {name}{where}; members by name, values as in the MOM.")
        body = "\n\n" + "\n".join(lines) if lines else ""
        return f"class {py}({base}):\n    {doc}{body}\n"

    def struct_source(self, py: str, name: str, mim: str, rows: list[dict[str, Any]], exclusive: bool) -> str:
        """A struct's model (and, in `struct_stub`, the same as the stub has it)."""
        where = f" of MIM {mim}" if mim else ""
        self.used.add("MoModel")
        lines = [f"class {py}(MoModel):", f"    {_docstring(None, f'Struct {name}{where}.')}", ""]
        stub = lines.copy()
        names: list[str] = []
        taken: set[str] = set()
        keys: list[str] = []
        self.properties, self.required = {}, []
        body: list[str] = []
        # the names the fields of each part use, when the model may be cut into parts
        parts: list[set[str]] | None = [] if len(rows) > _PART_FIELDS and self.runtime_modules else None
        own = self.used
        for r in rows:
            ident = _field_name(r["member"], taken)
            names.append(ident)
            if r.get("key"):
                keys.append(ident)
            if parts is not None:
                if len(body) % _PART_FIELDS == 0:
                    parts.append(set())
                self.used = parts[-1]
            line, stub_line = self.field_line(ident, r["member"], r, required=False, owner=f"struct {name}")
            self.used = own
            body.append(line)
            stub.append(stub_line)
        lines += self.parted(py, lines, body, parts or [])
        if not rows:
            lines.pop()  # the docstring is the body
            stub.pop()
        elif len(lines) == 3:
            lines.pop()  # cut into parts: the docstring is the body
        struct_schema = {
            "title": py,
            "type": "object",
            "properties": self.properties,
            "additionalProperties": False,
        }
        if exclusive and names:
            struct_schema |= {"minProperties": 1, "maxProperties": 1}
        self.out.defs[py] = struct_schema
        if keys:
            self.struct_keys[py] = keys
        if exclusive and names:
            self.used |= {"exactly_one", "model_validator", "Self"}
            lines += [
                "",
                '    @model_validator(mode="after")',
                "    def _exactly_one(self) -> Self:",
                f"        exactly_one(self, {tuple(names)!r})",
                "        return self",
            ]
            stub += ["", '    @model_validator(mode="after")', "    def _exactly_one(self) -> Self: ..."]
        self.struct_stub = "\n".join(stub) + "\n"
        return "\n".join(lines) + "\n"

    def parted(self, model: str, lines: list[str], body: list[str], used: list[set[str]]) -> list[str]:
        """The field lines `model`'s class (its class line and docstring: `lines`) holds itself:
        its fields `body`, or none when they were cut into parts (`used`: the names each part's
        fields use, one set a part). Each part is then a class of its own (a unit in `parts`,
        built in a private module of its own) and the class inherits from them, last part
        first, so the fields keep their order. So no module holds more than a few thousand
        field lines: compiling a module takes about 15 KB a field line, whatever its length."""
        if len(used) <= 1:
            if used:
                self.used |= used[0]
            return body
        names = [f"_{model}_part{k}" for k in range(len(used))]
        for k, (name, names_used) in enumerate(zip(names, used, strict=True)):
            chunk = body[k * _PART_FIELDS : (k + 1) * _PART_FIELDS]
            first = k * _PART_FIELDS + 1
            doc = f'    """Fields {first} to {first + len(chunk) - 1} of {model}, which inherits them."""'
            source = "\n".join([f"class {name}(MoModel):", doc, "", *chunk]) + "\n"
            self.parts.append(_Unit([name], source, names_used | {"MoModel"}, fields=len(chunk)))
        lines[0] = f"class {model}({', '.join(reversed(names))}):"
        self.used |= set(names)
        return []

    # -- fields ------------------------------------------------------------------------
    def annotation(self, t: FieldType) -> str:
        """The annotation of one value as the stub shows it (a derived type's alias, which the
        runtime modules share)."""
        base, checks, runtime = self.checks(t)
        self.used |= self.stub_names
        if not checks:
            return base
        self.used.add("Annotated")
        if runtime and "regex_engine=" in runtime:  # ``Field`` cannot choose the engine
            return f"Annotated[{base}, {runtime}]"
        return f"Annotated[{base}, {', '.join(checks)}]"

    def checks(self, t: FieldType) -> tuple[str, list[str], str | None]:
        """The type of one value and its checks, twice: as the stub shows them (``Field``
        constraints and validators, for ``Annotated``) and as the runtime modules build them
        (one ``Checked(...)``, see ``_base.Checked``; None without checks). The names each
        needs go to `used` and `stub_names`."""
        stub: list[str] = []
        constraints: list[str] = []
        after: list[str] = []
        if t.enum:
            stub.append(f"BeforeValidator(by_name({t.enum}))")
        if t.ranges and t.kind in ("integer", "float", "decimal"):
            if len(t.ranges) == 1:
                lo, hi = t.ranges[0]
                bounds = [f"ge={_number(lo, t.kind)}"] if lo is not None else []
                bounds += [f"le={_number(hi, t.kind)}"] if hi is not None else []
                if bounds:
                    stub.append(f"Field({', '.join(bounds)})")
                    constraints += bounds
            else:
                ranges = ", ".join(f"({_literal(lo)}, {_literal(hi)})" for lo, hi in t.ranges)
                after.append(f"in_ranges(({ranges},))")
                stub.append(f"AfterValidator({after[-1]})")
        if t.decimal_places is not None:
            constraints.append(f"decimal_places={t.decimal_places}")
            stub.append(f"Field({constraints[-1]})")
        if t.resolution is not None and t.resolution > 0 and t.kind in ("integer", "decimal"):
            ranges = ", ".join(f"({_literal(lo)}, {_literal(hi)})" for lo, hi in t.ranges)
            after.append(f"in_steps({_literal(t.resolution)}, ({ranges},))")
            stub.append(f"AfterValidator({after[-1]})")
        if t.kind not in ("enum", "struct", "moref") and (t.min_length is not None or t.max_length is not None):
            lengths = [f"min_length={t.min_length}"] if t.min_length is not None else []
            lengths += [f"max_length={t.max_length}"] if t.max_length is not None else []
            constraints += lengths
            stub.append(f"Field({', '.join(lengths)})")
        if t.pattern:
            constraints.append(f"pattern={t.pattern!r}")
            stub.append(f"Field({constraints[-1]})")
            if not _rust_regex_reads(t.pattern):
                # a look-around or back-reference (``\\<``, ``\\1``): Python's engine reads it
                constraints.append("regex_engine='python-re'")
        if t.moref_target:
            after.append(f"fdn_of({t.moref_target!r})")
            stub.append(f"AfterValidator({after[-1]})")
        types = set(_WORD.findall(t.annotation))
        self.stub_names = types | _check_names(", ".join(stub))
        runtime = f"Checked({', '.join([t.annotation, *after, *constraints])})" if stub else None
        if runtime:
            self.used |= {"Checked"} | _check_names(runtime)
        self.used |= types
        return t.annotation, stub, runtime

    def field_line(self, ident: str, original: str, row: dict[str, Any], required: bool, owner: str) -> tuple[str, str]:
        """The field's line in the model, and in its stub (no ``Field``; ``...`` for a default)."""
        # the three models of a class share their fields: each field is worked out once
        key = (id(row), required)
        cached = self.field_cache.get(key)
        if cached is None or cached[0] is not row:
            module_used, self.used = self.used, set()
            # the row is kept with its parts, so its id is never reused for another row
            parts = self.field_parts(original, row, required, owner)
            # fields share a few sets of names: one object each (a large catalog has 10^5 fields)
            names = self.name_sets.setdefault(frozenset(self.used), frozenset(self.used))
            stub_names = self.name_sets.setdefault(frozenset(self.stub_names), frozenset(self.stub_names))
            cached = (row, *parts, names, stub_names, self.ref, self.stub_annotation)
            self.used = module_used
            self.field_cache[key] = cached
        _, annotation, tail, schema, names, stub_names, ref, stub_annotation = cached
        if self.model is not None and annotation not in self.out.probes:
            self.out.probes[annotation] = (*self.model, original)
        if ref:
            self.refs.add(ref)
        self.used |= names
        self.used.add("Field")
        self.stub_used |= stub_names
        if schema is not None:
            self.properties[original] = schema
        if required:
            self.required.append(original)
        args = ([] if required else ["None"]) + ([f"alias={original!r}"] if ident != original else []) + tail
        line = f"    {ident}: {annotation} = Field({', '.join(args)})"
        return line, f"    {ident}: {stub_annotation}" if required else f"    {ident}: {stub_annotation} = ..."

    def field_parts(
        self, original: str, row: dict[str, Any], required: bool, owner: str
    ) -> tuple[str, list[str], dict[str, Any] | None]:
        """A field's annotation in the runtime module (its stub's in `stub_annotation`), its
        ``Field`` arguments after default and alias, and its schema (when schemas are asked
        for)."""
        t = field_type(row, self.enum_names, self.struct_names)
        self.ref = t.enum or t.struct if t.kind in ("enum", "struct") else None
        for note in t.notes:
            self.out.notes.append(f"{owner}.{original}: {note}")
        if t.pattern_note:
            self.out.notes.append(f"{owner}.{original}: {t.pattern_note}")
        derived = row.get("derived_type")
        alias = lookup(self.alias_names, row.get("derived_type_mim"), derived) if derived else None
        runtime: str | None = None
        if alias and alias not in self.struct_aliases:
            self.used.add(alias)
            self.stub_names = {alias}
            item = stub_item = alias
        else:
            item, checks, runtime = self.checks(t)
            stub_item = f"Annotated[{item}, {', '.join(checks)}]" if checks else item
        if t.is_sequence:
            lengths = [f"min_length={t.seq_min}"] if t.seq_min else []
            lengths += [f"max_length={t.seq_max}"] if t.seq_max is not None else []
            stub = [f"Field({', '.join(lengths)})"] if lengths else []
            after = []
            if t.seq_unique:
                keys = self.struct_keys.get(t.struct or "")
                key = f"lambda item: ({', '.join(f'item.{k}' for k in keys)},)" if keys else ""
                after.append(f"unique({key})")
                stub.append(f"AfterValidator({after[-1]})")
            stub_item = f"list[{stub_item}]"
            if stub:
                stub_item = f"Annotated[{stub_item}, {', '.join(stub)}]"
                self.stub_names |= {"Annotated", "Field"} | ({"AfterValidator", "unique"} if after else set())
            if runtime or stub:
                each = runtime or f"Checked({item})"
                runtime = f"Checked({', '.join(['list', *after, f'item={each}', *lengths])})"
                self.used |= {"Checked"} | ({"unique"} if after else set())
            item = f"list[{item}]"
        annotation = item if required else f"{item} | None"
        if runtime:
            self.used.add("Annotated")
            annotation = f"Annotated[{annotation}, {runtime}]"
        if t.struct in self.forward and self.runtime_modules:
            annotation = repr(annotation)
        if stub_item != item:
            self.stub_names.add("Annotated")
        self.stub_annotation = stub_item if required else f"{stub_item} | None"
        extra = {
            k: v
            for k, v in {
                "mom_type": row.get("base_type"),
                "unit": row.get("unit"),
                "multiplication_factor": row.get("multiplication_factor"),
                "takes_effect": row.get("takes_effect"),
                "restricted": bool(row.get("restricted")) or None,
                "read_only": bool(row.get("read_only")) or None,
                "moref_target": t.moref_target,
                "default": row.get("default"),
                "source": row.get("source"),
            }.items()
            if v is not None
        }
        # as the docstrings and docs show it: control characters as visible escapes
        description = visible((row.get("description") or "").strip())
        schema = None
        if self.with_schemas:
            key_names = self.struct_keys.get(t.struct or "") if t.seq_unique else None
            schema = field_schema(t, required, description, extra, key_names)
        tail = []
        if description:
            tail.append(f"description={description!r}")
        if extra:
            tail.append(f"json_schema_extra={dict(sorted(extra.items()))!r}")
        return annotation, tail, schema

    # -- MO classes --------------------------------------------------------------------
    def plan_classes(self, taken_modules: set[str]) -> _ClassPlan:
        """Name every class, its three models and its module, and cut the modules into the
        private runtime modules (chunks) that build them; which attribute rows each class has.
        Names of private modules are taken from `taken_modules`."""
        classes = self.tables["classes"].to_pylist()
        table = self.tables["attributes"]
        home: dict[str, str] = {}
        descriptions: dict[tuple[str, str], str | None] = {}
        for c in classes:
            mim = c.get("mim") or c.get("source") or "model"
            home.setdefault(c["class"], mim)
            descriptions.setdefault((mim, c["class"]), c.get("description"))
        column = _columns(table, ("mim", "is_counter"))
        rows_of: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (a_mim, a_cls, counter) in enumerate(
            zip(column["mim"], table.column("class").to_pylist(), column["is_counter"], strict=True)
        ):
            if counter:
                continue
            mim = a_mim if (a_mim, a_cls) in descriptions else home.get(a_cls)
            rows_of[(mim or "model", a_cls)].append(i)
        for key in descriptions:
            rows_of.setdefault(key, [])

        # MIMs in file order (those a workbook or export names after them), classes by name
        mims = self.tables["mims"].column("mim").to_pylist() if "mims" in self.tables else []
        rank = {m: i for i, m in enumerate(mims)}
        order = sorted(rows_of, key=lambda k: (rank.get(k[0], len(rank)), k[0], k[1]))
        taken: set[str] = set(self.type_names)
        names: dict[tuple[str, str], str] = {}
        for mim, cls in order:
            names[(mim, cls)] = _unique(safe_identifier(cls), taken, safe_identifier(mim))
        plan = _ClassPlan()
        module_of_mim: dict[str, str] = {}
        used_modules: set[str] = {"_base", "_types"}
        by_module: dict[str, list[_Class]] = defaultdict(list)
        for position, (mim, cls) in enumerate(order):
            if mim not in module_of_mim:
                module_of_mim[mim] = _unique(module_name(mim), used_modules)
            module = module_of_mim[mim]
            py = names[(mim, cls)]
            if py != cls:
                self.out.renamed.append(f"class {cls} of {mim} → {py}")
            variants = []
            for suffix in ("", "Create", "State"):
                model = py if not suffix else _unique(f"{py}{suffix}", taken, "")
                if suffix and model != f"{py}{suffix}":
                    self.out.renamed.append(f"{suffix.lower()} model of {cls} → {model}")
                variants.append(model)
                self.out.models[model] = module
            models = (variants[0], variants[1], variants[2])
            self.out.class_models[(mim, cls)] = models
            self.out.classes += 1
            by_module[module].append(
                _Class(mim, cls, models, descriptions.get((mim, cls)), rows_of[(mim, cls)], position)
            )
        schema_files = file_names((c.models[0] for members in by_module.values() for c in members), ".json")
        for members in by_module.values():
            for c in members:
                c.schema_file = schema_files[c.models[0]]
        # each module's classes, _CHUNK_CLASSES at a time, are built by one private module; a
        # private name never meets a module's or another private module's
        taken_modules |= set(by_module)
        for module in sorted(by_module):
            for n, members in enumerate(_cut(by_module[module], _CHUNK_CLASSES, lambda c: 3 * len(c.rows))):
                name = _unique(f"_{module}_{n}", taken_modules)
                plan.chunks.append(_Chunk(module, name, members))
                for c in members:
                    if len(c.rows) > _PART_FIELDS and self.runtime_modules:
                        count = 3 * -(-len(c.rows) // _PART_FIELDS)
                        c.part_modules = [_unique(f"{name}_part{k}", taken_modules) for k in range(count)]
        plan.modules = sorted(by_module)
        return plan

    def first_use(self, plan: _ClassPlan, type_names: list[str]) -> dict[str, int]:
        """Each type → the place (in class order) of the first class that uses it, directly or
        through a struct or alias."""
        table = self.tables["attributes"]
        columns = _columns(table, ("kind", "type_ref", "type_ref_mim", "derived_type", "derived_type_mim"))
        types = set(type_names)
        needs = {n: (u.used & types) - set(u.names) for u in self.units.get("_types", []) for n in u.names}
        first: dict[str, int] = {}

        def reach(name: str | None, position: int) -> None:
            pending = [name] if name else []
            while pending:
                n = pending.pop()
                if n not in first:
                    first[n] = position
                    pending += needs.get(n, ())

        classes = sorted((c for chunk in plan.chunks for c in chunk.classes), key=lambda c: c.position)
        for c in classes:
            for i in c.rows:
                kind, ref = columns["kind"][i], columns["type_ref"][i]
                if ref and kind in ("enum", "struct"):
                    names = self.enum_names if kind == "enum" else self.struct_names
                    reach(lookup(names, columns["type_ref_mim"][i], ref), c.position)
                derived = columns["derived_type"][i]
                if derived:
                    reach(lookup(self.alias_names, columns["derived_type_mim"][i], derived), c.position)
        return first

    def emit_chunk(
        self,
        chunk: _Chunk,
        rows: list[list[dict[str, Any]]],
        runtime: bool,
        schemas: Path | None,
        write: Callable[[str, str], None] | None = None,
    ) -> _ChunkOut:
        """The models of one chunk's classes (`rows`: each class's attribute rows): its private
        runtime module when `runtime` (else the models' plain source, for a single module), its
        part of the module's stub, and the notes on the way. With a `schemas` folder, each
        class's JSON Schema is written there as the class is done. The parts of a model of many
        fields (runtime modules only) are private modules of their own, given to `write` (name,
        source) as they are made."""
        out = _ChunkOut(chunk.name)
        notes, self.out.notes = self.out.notes, out.notes
        fields, self.out.fields = self.out.fields, out.fields
        ruled, self.out.user_rules = self.out.user_rules, out.user_rules
        probes, self.out.probes = self.out.probes, out.probes
        units: list[_Unit] = []
        stubs: list[str] = []
        home = dict(self.type_home)
        """Where each type, and each part of a model of this chunk, is built."""
        self.stub_used = out.stub_used
        self.with_schemas = schemas is not None
        try:
            for c, class_rows in zip(chunk.classes, rows, strict=True):
                for model, variant in zip(c.models, ("set", "create", "state"), strict=True):
                    # one unit per model: using `X` does not build `XCreate` and `XState`
                    unit = _Unit([model])
                    self.used = unit.used
                    unit.source, stub = self.class_source(model, c.cls, c.mim, variant, class_rows, c.description)
                    units.append(unit)
                    stubs.append(stub)
                    for part in self.parts:
                        if not c.part_modules or write is None:
                            raise RuntimeError(f"{model}: parts without a module to go to")
                        home[part.names[0]] = name = c.part_modules.pop(0)
                        doc = f"A part of {model}, built on first use of {model}."
                        write(name, _lazy_module(doc, part.used, [part], self.type_home))
                    self.parts = []
                self.field_cache.clear()  # its rows are done with
                if schemas is not None:
                    t = time.perf_counter()
                    text = class_schema_text(c.models, self.schemas, self.out.defs, self.def_refs)
                    (schemas / c.schema_file).write_text(text, encoding="utf-8")
                    out.schema_seconds += time.perf_counter() - t
                self.schemas = {}
        finally:
            self.out.notes, self.out.fields, self.out.user_rules = notes, fields, ruled
            self.out.probes = probes
        out.used = {"MoModel"}.union(*(u.used for u in units))
        out.stub = "\n\n".join(stubs)
        if runtime:
            doc = f"Models of {chunk.module}, each built on first use; import them from .{chunk.module}."
            out.runtime = _lazy_module(doc, out.used, units, home)
        else:
            out.body = "\n\n".join(u.source for u in units)
        return out

    def class_source(
        self, model: str, cls: str, mim: str, variant: str, rows: list[dict[str, Any]], description: str | None
    ) -> tuple[str, str]:
        """A model's source, and its stub (fields without ``Field``, validators without body)."""
        purpose = {
            "set": "the attributes that may be set (all optional)",
            "create": "what may be given when it is created (mandatory attributes required)",
            "state": "every attribute, as read from a node or an export (all optional)",
        }[variant]
        doc = (
            f"{(description or '').strip()}\n\n{cls} ({mim}): {purpose}."
            if description
            else f"{cls} ({mim}): {purpose}."
        )
        lines = [f"class {model}(MoModel):", f"    {_docstring(doc, cls)}", ""]
        stub = lines.copy()
        taken: set[str] = set()
        seen: set[str] = set()
        fields: dict[str, str] = {}
        self.properties, self.required, self.refs = {}, [], set()
        count = 0
        body: list[str] = []
        # the names the fields of each part use, when the model may be cut into parts
        parts: list[set[str]] | None = [] if len(rows) > _PART_FIELDS and self.runtime_modules else None
        own = self.used
        self.model = (model, mim, cls)
        for r in rows:
            if r["attribute"] in seen:
                # one MOM name, one field: a second description of it (two sources) is the catalog's
                if variant == "state":
                    self.out.notes.append(f"{cls}.{r['attribute']}: described twice; the first description is used")
                continue
            seen.add(r["attribute"])
            read_only, restricted = bool(r.get("read_only")), bool(r.get("restricted"))
            if variant == "set" and (read_only or restricted):
                continue
            if variant == "create" and read_only:
                continue
            required = variant == "create" and bool(r.get("mandatory"))
            ident = _field_name(r["attribute"], taken)
            fields[r["attribute"]] = ident
            if parts is not None:
                if count % _PART_FIELDS == 0:
                    parts.append(set())
                self.used = parts[-1]
            line, stub_line = self.field_line(ident, r["attribute"], r, required, cls)
            self.used = own
            body.append(line)
            stub.append(stub_line)
            count += 1
        self.model = None
        lines += self.parted(model, lines, body, parts or [])
        if count and len(lines) == 3:
            lines.pop()  # cut into parts: the docstring is the body
        checks = self.rule_checks(cls, fields)
        user = self.user_checks(cls, fields, rows) if variant == "state" else ""
        if checks or user:
            self.used |= {"model_validator", "Self", "rules_hold"}
            self.stub_used |= {"model_validator", "Self"}
            lines += ["", '    @model_validator(mode="after")', "    def _rules(self) -> Self:"]
            texts = f"({checks},)" if checks else "()"
            call = f"rules_hold(self, {texts}, ({user},))" if user else f"rules_hold(self, {texts})"
            lines += [f"        {call}", "        return self"]
            stub += ["", '    @model_validator(mode="after")', "    def _rules(self) -> Self: ..."]
        elif not count:
            lines.pop()  # the docstring is the body
            stub.pop()
        self.out.fields[model] = count
        if self.with_schemas:
            entry = {"doc": doc, "properties": self.properties, "required": self.required, "refs": self.refs}
            self.schemas[model] = entry
        return "\n".join(lines) + "\n", "\n".join(stub) + "\n"

    def user_checks(self, cls: str, fields: dict[str, str], rows: list[dict[str, Any]]) -> str:
        """The class's user rules as (id, message, when, assert) tuples of Python source."""
        structs = {r["attribute"] for r in rows if r.get("kind") == "struct" and not r.get("is_sequence")}
        entries = []
        for rule in self.user_rules.get(cls, []):
            try:
                when = rule.get("when") or ""
                when_check = f"lambda c: {cel_check(when, fields, structs)}" if when.strip() else "None"
                check = cel_check(rule["assert"], fields, structs)
            except NotTranslatable as err:
                self.out.notes.append(f"rule {rule['id']!r} ({cls}) is not in the models: {err}")
                continue
            message = rule.get("message") or f"{rule['assert']} does not hold"
            self.out.user_rules.append(rule["id"])
            entries.append(f"({rule['id']!r}, {message!r}, {when_check}, lambda c: {check})")
        return ", ".join(entries)

    def rule_checks(self, cls: str, fields: dict[str, str]) -> str:
        """The class's cross-parameter rules as (id, text, check) tuples of Python source."""
        entries = []
        seen: dict[str, int] = defaultdict(int)
        for rule in self.rules.get(cls, []):
            seen[rule.rule_id] += 1
            rule_id = rule.rule_id if seen[rule.rule_id] == 1 else f"{rule.rule_id}:{seen[rule.rule_id]}"
            try:
                check = python_check(rule.cel or "", fields)
            except NotTranslatable as err:
                self.out.notes.append(f"{cls}.{rule.attribute}: rule {rule.text!r} is not in the models: {err}")
                continue
            entries.append(f"({rule_id!r}, {f'{rule.attribute}: {rule.text}'!r}, lambda v: {check})")
        return ", ".join(entries)


@functools.cache
def _rust_regex_reads(pattern: str) -> bool:
    """Whether Pydantic's default engine (Rust's ``regex``: no look-around, no back-references)
    compiles `pattern`; else a model is built with Python's engine for it."""
    try:
        SchemaValidator(core_schema.str_schema(pattern=pattern))
    except SchemaError:
        return False
    return True


_WORD = re.compile(r"[A-Za-z_]\w*")
_DOCSTRING = re.compile(r'"""[\s\S]*?"""')
_TOKEN = re.compile(r"[A-Za-z_]\w*|[^A-Za-z_]+")
_CHECK_NAMES = {"Decimal", "Field", "AfterValidator", "BeforeValidator", "by_name", "in_ranges", "in_steps", "fdn_of"}
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _check_names(code: str) -> set[str]:
    """The names of `_CHECK_NAMES` that `code` (checks as source) uses, outside its strings (a
    pattern or a target class may spell one)."""
    return _CHECK_NAMES & set(_WORD.findall(_STRING.sub("", code)))


def _columns(table: pa.Table, names: Iterable[str]) -> dict[str, list[Any]]:
    """Columns of `table` as lists (all None for one it does not have)."""
    return {c: table.column(c).to_pylist() if c in table.column_names else [None] * table.num_rows for c in names}


def _field_name(name: str, taken: set[str], safe: Callable[[str], str] = safe_identifier) -> str:
    """The field (or member, with `safe` :func:`safe_member`) name of MOM name `name` in a model
    whose fields so far are `taken`: safe, and numbered (``_2``, ``_3``) when it meets one of
    them."""
    base = candidate = safe(name)
    n = 2
    while candidate in taken:
        candidate = f"{base}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _number(value: Decimal | None, kind: str) -> str:
    if value is None:
        return "None"
    if kind == "integer":
        return str(int(value))
    if kind == "decimal":
        return _literal(value)
    return repr(float(value))


def _header(doc: str, postponed: bool = True) -> str:
    """A module's docstring and, when `postponed`, the future import that keeps annotations as
    strings. The private runtime modules go without it: their types are in the namespace before
    a class is made, and Pydantic takes annotation objects faster than it evaluates strings."""
    future = "\nfrom __future__ import annotations\n" if postponed else ""
    return f'"""{doc} Written by rtbfast; do not edit."""\n{future}'


def _imports(used: set[str], types: Iterable[str]) -> str:
    """The import block for the names a module uses, in isort order."""
    stdlib = []
    if "Decimal" in used:
        stdlib.append("from decimal import Decimal")
    enum_bases = sorted({"IntEnum", "StrEnum"} & used)
    if enum_bases:
        stdlib.append(import_line("enum", enum_bases))
    typing_names = sorted({"Annotated", "Any", "Self", "TypeAlias", "TYPE_CHECKING"} & used)
    if typing_names:
        stdlib.append(import_line("typing", typing_names))
    pyd = sorted({"AfterValidator", "BeforeValidator", "Field", "model_validator"} & used)
    third = [import_line("pydantic", pyd)] if pyd else []
    local = []
    base = sorted(
        {"Checked", "MoModel", "by_name", "exactly_one", "fdn_of", "in_ranges", "in_steps", "rules_hold", "unique"}
        & used
    )
    if base:
        local.append(import_line("._base", base))
    used_types = sorted(set(types) & used)
    if used_types:
        local.append(import_line("._types", used_types))
    return "\n\n".join("\n".join(group) for group in (stdlib, third, local) if group) + "\n"


def generate(
    tables: dict[str, pa.Table],
    out: Path,
    package: str = "rtb_models",
    layout: str = "package",
    jobs: int | None = None,
    schemas: Path | None = None,
    user_rules: pa.Table | None = None,
) -> Generated:
    """Write the models of the catalog `tables` under `out` (see the module).

    `layout` is ``"package"`` (one module per MIM, lazy ``__init__``) or ``"single"`` (one
    module ``<package>.py`` holding everything). With a `schemas` folder, one JSON Schema per
    MO class goes there too (``<X>.json``: the set model at the top, ``XCreate`` and ``XState``
    and the enums and structs they use under ``$defs``; see :mod:`rtbfast.codegen.jsonschema`),
    from the same field types, as each class is written (the folder's other ``.json`` files,
    those of an earlier run, are removed, as the package's other modules are).

    `jobs` is how many processes write the classes (cut into runs of whole private modules,
    written side by side by forked workers); ``None`` uses every core for a large catalog and
    one process for a small one. Any number of jobs gives the same bytes.

    `user_rules` (a rule file's rules with their windows,
    :meth:`rtbfast.rules.user_rules.RuleFile.with_windows`) go into
    the state models (``XState``, which reads an MO as an export shows it, as ``audit`` does):
    those in the CEL subset :func:`rtbfast.codegen.rule_checks.cel_check` reads, without a time
    window and of severity error or warning. The others are listed in the notes."""
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ValueError(f"{package!r} is not a Python package name")
    if layout not in ("package", "single"):
        raise ValueError(f"layout must be 'package' or 'single', not {layout!r}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    e = _Emitter(tables, user_rules)
    e.runtime_modules = layout == "package"
    types_body = e.types_module()
    type_names = sorted(set(e.enum_names.values()) | set(e.struct_names.values()) | set(e.alias_names.values()))
    out.mkdir(parents=True, exist_ok=True)
    pkg = out / package
    taken = {"_base", "_types"}
    if layout == "package":
        pkg.mkdir(parents=True, exist_ok=True)
        for stale in [*pkg.glob("*.py"), *pkg.glob("*.pyi")]:
            stale.unlink()
        (pkg / "_base.py").write_text(BASE_SOURCE, encoding="utf-8")
        types_used = e.used_by_module["_types"] | e.stub_used
        types_stub = _stub("Enums and structs of the catalog.", types_used, e.types_stub)
        (pkg / "_types.pyi").write_text(types_stub, encoding="utf-8")
    plan = e.plan_classes(taken)
    if layout == "package":
        first_use = e.first_use(plan, type_names)
        e.type_home = _write_type_modules(pkg, e.units.get("_types", []), type_names, taken, first_use)
    if schemas is not None:
        schemas.mkdir(parents=True, exist_ok=True)
        for stale in schemas.glob("*.json"):
            stale.unlink()
    rows = tables["attributes"].num_rows
    if jobs is None:
        jobs = _cores() if rows >= PARALLEL_ROWS else 1
    chunks = _emit_chunks(e, plan.chunks, pkg if layout == "package" else None, schemas, jobs)
    # notes in class order, whatever the order modules are written in
    for _, done in sorted(zip(plan.chunks, chunks, strict=True), key=lambda p: p[0].classes[0].position):
        e.out.notes += done.notes
        e.out.user_rules += [r for r in done.user_rules if r not in e.out.user_rules]
        for text, first in done.probes.items():
            e.out.probes.setdefault(text, first)
    for done in chunks:
        e.out.fields |= done.fields
        e.out.schema_seconds += done.schema_seconds
    e.out.schema_files = e.out.classes if schemas is not None else 0
    by_module: dict[str, list[_ChunkOut]] = defaultdict(list)
    where: dict[str, dict[str, str]] = defaultdict(dict)
    for chunk, done in zip(plan.chunks, chunks, strict=True):
        by_module[chunk.module].append(done)
        where[chunk.module] |= {model: chunk.name for c in chunk.classes for model in c.models}
    e.out.modules = plan.modules
    e.out.notes = list(dict.fromkeys(e.out.notes))
    if layout == "single":
        used = set().union(e.used_by_module["_types"], *(c.used for c in chunks))
        imports = {k: list(v) for k, v in BASE_IMPORTS.items()}
        for module, names in (
            ("enum", {"IntEnum", "StrEnum"}),
            ("typing", {"Annotated", "Self", "TypeAlias"}),
            ("pydantic", {"AfterValidator", "BeforeValidator", "Field", "model_validator"}),
        ):
            imports[module] = sorted(set(imports.get(module, [])) | (names & used))
        bodies = ["\n\n".join(c.body for c in by_module[m]) for m in plan.modules]
        body = "\n\n".join([BASE_BODY.rstrip("\n"), types_body, *bodies])
        doc = f"{len(e.out.models)} models of {e.out.classes} MO classes. Written by rtbfast; do not edit."
        path = out / f"{package}.py"
        path.write_text(base_source(doc, imports, body.rstrip("\n") + "\n"), encoding="utf-8")
        e.out.package_dir = path
        e.out.modules = [package]
        return e.out
    # each module twice: a stub with every class at module level, for type checkers and
    # readers, and a runtime module that knows which private module builds each class (a
    # few classes each) the first time it is used
    for module in plan.modules:
        parts = by_module[module]
        used = set().union(*(c.stub_used for c in parts))
        text = "\n\n".join(c.stub for c in parts)
        doc = f"MO classes of {module}. Written by rtbfast; do not edit."
        (pkg / f"{module}.pyi").write_text(f'"""{doc}"""\n\n{_imports(used, type_names)}\n{text}', encoding="utf-8")
        doc = f"MO classes of {module}, each built on first use; the .pyi beside this file describes them."
        (pkg / f"{module}.py").write_text(_dispatcher(doc, where[module]), encoding="utf-8")
    (pkg / "__init__.py").write_text(_init_source(e.out.models), encoding="utf-8")
    (pkg / "__init__.pyi").write_text(_init_stub(e.out.models), encoding="utf-8")
    (pkg / "py.typed").write_text("", encoding="utf-8")
    e.out.package_dir = pkg
    return e.out


PARALLEL_ROWS = 20_000
"""Attribute rows from which a catalog's models are written by one process per core."""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _emit_chunks(
    e: _Emitter, chunks: list[_Chunk], pkg: Path | None, schemas: Path | None, jobs: int
) -> list[_ChunkOut]:
    """Emit `chunks` (writing their private modules under `pkg`, for the package layout, and
    their schemas under `schemas`) on `jobs` processes: the chunks are cut into `jobs` runs of
    about the same number of attribute rows; this process does the first, forked workers the
    others. Workers send back only what the package's shared files need (stubs, names, notes)."""
    weights = [sum(len(c.rows) + 4 for c in chunk.classes) for chunk in chunks]
    total = sum(weights) or 1
    runs: list[list[int]] = [[] for _ in range(max(1, min(jobs, len(chunks))))]
    done = 0
    for i, weight in enumerate(weights):
        runs[min(len(runs) - 1, done * len(runs) // total)].append(i)
        done += weight
    attributes = e.tables["attributes"]
    attributes = attributes.select([c for c in attributes.column_names if c in _ATTRIBUTE_COLUMNS])

    def run(k: int) -> list[_ChunkOut]:
        mine = [chunks[i] for i in runs[k]]
        # only the rows and columns models are made of (converting all costs more than the
        # rest), taken at once and converted one chunk at a time
        taken = [r for chunk in mine for c in chunk.classes for r in c.rows]
        table = attributes.take(pa.array(taken, pa.int64()))
        outs = []
        at = 0
        for chunk in mine:
            size = sum(len(c.rows) for c in chunk.classes)
            rows = table.slice(at, size).to_pylist() if size else []
            at += size
            per_class = []
            start = 0
            for c in chunk.classes:
                per_class.append(rows[start : start + len(c.rows)])
                start += len(c.rows)
            del rows
            write = None if pkg is None else functools.partial(_write_private, pkg)
            done = e.emit_chunk(chunk, per_class, runtime=pkg is not None, schemas=schemas, write=write)
            if pkg is not None:
                _write_private(pkg, chunk.name, done.runtime)
                done.runtime = ""
            outs.append(done)
        return outs

    return [out for part in in_processes(run, len(runs)) for out in part]


def _stub(doc: str, used: set[str], text: str) -> str:
    """A stub module of `text` (no future import: stubs have its semantics), importing those
    of `used` it names outside docstrings."""
    words = set(_WORD.findall(re.sub(r'"""[\s\S]*?"""', "", text)))
    return f'"""{doc} Written by rtbfast; do not edit."""\n\n{_imports(used & words, [])}\n{text}'


_CHUNK_CLASSES = 32
"""Classes (96 models) per private runtime module of a MIM."""


def _write_private(pkg: Path, name: str, source: str) -> None:
    """A private runtime module and its stub (names are reached through ``__getattr__``)."""
    (pkg / f"{name}.py").write_text(source, encoding="utf-8")
    stub = '"""Private: built on first use. Written by rtbfast; do not edit."""\n\nfrom typing import Any\n\n'
    (pkg / f"{name}.pyi").write_text(stub + "def __getattr__(name: str) -> Any: ...\n", encoding="utf-8")


_TYPE_CHUNK = 48
"""Types per private runtime module of a MIM's types."""


def _write_type_modules(
    pkg: Path, units: list[_Unit], type_names: list[str], taken: set[str], first_use: dict[str, int]
) -> dict[str, str]:
    """The runtime form of ``_types``: a module that only knows where each type is built, and
    private modules (``_types_<mim>_<n>``) of a MIM's enums, structs and aliases, each built on
    first use. A MIM's types are put in the order of the first class that uses each
    (`first_use`), then cut into modules of a few dozen, so using one class loads few of them."""
    by_mim: dict[str, list[_Unit]] = defaultdict(list)
    for unit in units:
        by_mim[unit.mim].append(unit)
    where: dict[str, str] = {}
    shards: list[tuple[str, str, list[_Unit]]] = []
    never = len(first_use) + 1
    for mim in sorted(by_mim):
        ordered = sorted(by_mim[mim], key=lambda u: min(first_use.get(n, never) for n in u.names))
        base = f"_types_{module_name(mim)}" if mim else "_types_common"
        of = f"of MIM {mim}" if mim else "without a MIM"
        doc = f"Enums and structs {of}, each built on first use; import them from ._types."
        for n, group in enumerate(_cut(ordered, _TYPE_CHUNK, lambda u: u.fields)):
            shard = _unique(f"{base}_{n}", taken)
            shards.append((shard, doc, group))
            where |= {name: shard for u in group for name in u.names}
    for shard, doc, shard_units in shards:
        used = set().union(*(u.used for u in shard_units))
        _write_private(pkg, shard, _lazy_module(doc, used, shard_units, where))
    doc = "Enums and structs of the catalog, each built on first use by the module of its MIM."
    public = {name: shard for name, shard in where.items() if not name.startswith("_")}  # not the parts
    (pkg / "_types.py").write_text(_dispatcher(doc, public), encoding="utf-8")
    return where


T = TypeVar("T")


def _cut(items: list[T], most: int, weight: Callable[[T], int]) -> list[list[T]]:
    """`items` in order, cut into runs of at most `most` items and at most
    :data:`_CHUNK_FIELDS` of `weight` (a heavier item has a run of its own)."""
    runs: list[list[T]] = []
    total = 0
    for item in items:
        w = weight(item)
        if not runs or len(runs[-1]) >= most or (runs[-1] and total + w > _CHUNK_FIELDS):
            runs.append([])
            total = 0
        runs[-1].append(item)
        total += w
    return runs


def _dispatcher(doc: str, where: dict[str, str]) -> str:
    """A runtime module that gets each of its names from the private module `where` names."""
    table = "\n".join(f"    {n!r}: {where[n]!r}," for n in sorted(where, key=lambda n: isort_key(n, fold_case=False)))
    return f"""{_header(doc)}
import importlib
from typing import Any

_WHERE: dict[str, str] = {{
{table}
}}


def __getattr__(name: str) -> Any:
    home = _WHERE.get(name)
    if home is None:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    value = getattr(importlib.import_module(f"{{__package__}}.{{home}}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(_WHERE)
"""


def _lazy_module(doc: str, used: set[str], units: list[_Unit], home: dict[str, str]) -> str:
    """The runtime form of a module: each unit inside a function run the first time one of its
    names is asked for (PEP 562). The function first imports the types its unit uses from the
    private modules that build them (`home`: type → module; they build them then), not through
    the ``_types`` table of the whole catalog; annotations are objects (no postponed
    evaluation), so Pydantic has nothing to look up."""
    block = _imports(used | {"Any"}, [])
    factories: list[str] = []
    table: list[str] = []
    for i, unit in enumerate(units):
        deps: dict[str, list[str]] = defaultdict(list)
        for name in (unit.used & home.keys()) - set(unit.names):
            deps[home[name]].append(name)
        lines = [line for module in sorted(deps) for line in import_line(f".{module}", deps[module], 4).splitlines()]
        head = "".join(f"    {line}\n" for line in lines)
        body = "\n".join(f"    {line}" if line else "" for line in unit.source.rstrip("\n").splitlines())
        names = ", ".join(f"{n!r}: {n}" for n in unit.names)
        factories.append(f"def _build_{i}() -> dict[str, Any]:\n{head}{body}\n    return {{{names}}}\n")
        table += [f"    {n!r}: _build_{i}," for n in unit.names]
    tail = f"""

_BUILDERS: dict[str, Any] = {{
{chr(10).join(table)}
}}


def __getattr__(name: str) -> Any:
    build = _BUILDERS.get(name)
    if build is None:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    for key, value in build().items():
        if isinstance(value, type) and value.__module__ == __name__:
            value.__qualname__ = key
        globals()[key] = value
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(_BUILDERS)
"""
    return _header(doc, postponed=False) + "\n" + block + "\n\n" + "\n\n".join(factories) + tail


def _init_stub(models: dict[str, str]) -> str:
    """``__init__.pyi``: every model imported from its module, for type checkers."""
    names = sorted(models, key=lambda n: isort_key(n, fold_case=False))
    by_module: dict[str, list[str]] = defaultdict(list)
    for n in names:
        by_module[models[n]].append(n)
    imports = "\n".join(import_line(f".{m}", sorted(ns)) for m, ns in sorted(by_module.items()))
    exported = "\n".join(f"    {n!r}," for n in names)
    doc = "Pydantic models of the catalog, one per MO class and purpose (X, XCreate, XState)."
    return f'"""{doc} Written by rtbfast; do not edit."""\n\n{imports}\n\n__all__ = [\n{exported}\n]\n'


def _init_source(models: dict[str, str]) -> str:
    names = sorted(models, key=lambda n: isort_key(n, fold_case=False))
    where = "\n".join(f"    {n!r}: {models[n]!r}," for n in names)
    exported = "\n".join(f"    {n!r}," for n in names)
    return f'''"""Pydantic models of the catalog, one per MO class and purpose (X, XCreate, XState).

Modules are imported on first use of a name; ``__init__.pyi`` lists every model for type
checkers. Written by rtbfast; do not edit.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {{
{where}
}}

__all__ = [
{exported}
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    value = getattr(importlib.import_module(f"{{__name__}}.{{module}}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
'''
