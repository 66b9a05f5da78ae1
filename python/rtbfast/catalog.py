"""One catalog from several sources: MP XML models, the parameter workbook, and the model an
export implies, in that order of precedence (``rtb-and-workbook.md`` §3, ``design.md``).

Rows are matched by name, not by MIM: a workbook names its ``Model`` (``ENodeBFunction``)
where a model names its MIM (``Lrat``). The naming attribute matches whatever the case of its
first letter (``EUtranCellFDDId`` in CPP models, ``eUtranCellFDDId`` in ECIM ones). For each
key the rows of the first source that has it are kept whole, with their ``source``; a later
source only adds the keys the earlier ones lack.
Where a later source says something else about a kept row (its type, ranges, default,
read-only/restricted/mandatory flags, or being a sequence), that is a :class:`Disagreement`,
listed in the build report. Nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

PRECEDENCE = ("mom", "workbook", "export")
"""Sources, first wins."""

KEYS: dict[str, tuple[str, ...]] = {
    "classes": ("class",),
    "attributes": ("class", "attribute"),
    "enums": ("enum",),
    "enum_members": ("enum", "member"),
    "structs": ("struct",),
    "struct_members": ("struct", "member"),
    "containment": ("parent", "child"),
    "derived_types": ("mim", "name"),
    "mims": ("mim",),
}
"""How rows of each catalog table are matched across sources."""

_NUMERIC = {"integer", "float", "decimal"}


@dataclass(frozen=True)
class Disagreement:
    """Two sources say different things about the same row; the first source's word is kept."""

    table: str
    key: tuple[str, ...]
    field: str
    kept_source: str
    kept: str
    other_source: str
    other: str

    def __str__(self) -> str:
        return (
            f"{'.'.join(self.key)} {self.field}: {self.kept_source} says {self.kept}, "
            f"{self.other_source} says {self.other} (kept {self.kept_source})"
        )


@dataclass
class MergedCatalog:
    """The merged catalog tables, what each source gave, and where sources disagree."""

    tables: dict[str, pa.Table]
    disagreements: list[Disagreement] = field(default_factory=list)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


def _ranges(value: Any) -> str:
    if not value:
        return "none"
    return ", ".join(_bound(b["min"], b["max"]) for b in value)


def _bound(lo: Decimal | None, hi: Decimal | None) -> str:
    def show(d: Decimal | None) -> str:
        return "" if d is None else format(d.normalize(), "f")

    return show(lo) if lo == hi else f"{show(lo)}..{show(hi)}"


def _text(value: Any) -> str:
    return "none" if value is None or value == "" else str(value)


def _type(row: dict[str, Any]) -> str:
    kind, ref = row.get("kind"), row.get("type_ref")
    return f"{kind} {ref}" if ref and kind in ("enum", "struct", "moref") else str(kind)


# (field, how to show it) compared between two sources describing one attribute
_DEFINITION_FIELDS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("type", _type),
    ("ranges", lambda r: _ranges(r.get("ranges"))),
    ("default", lambda r: _text(r.get("default"))),
    ("read_only", lambda r: _text(r.get("read_only"))),
    ("restricted", lambda r: _text(r.get("restricted"))),
    ("mandatory", lambda r: _text(r.get("mandatory"))),
    ("is_sequence", lambda r: _text(r.get("is_sequence"))),
]


def _compare(kept: dict[str, Any], other: dict[str, Any], kept_source: str, other_source: str) -> Iterable[str]:
    """The fields two descriptions of one attribute or member disagree on."""
    if "export" in (kept_source, other_source):
        # an export only shows values: it disagrees when numbers were expected and something
        # else was found, or several values where the model has one
        model, seen = (kept, other) if other_source == "export" else (other, kept)
        if model.get("kind") in _NUMERIC and seen.get("kind") not in (*_NUMERIC, "unknown"):
            yield "type"
        if model.get("kind") == "boolean" and seen.get("kind") not in ("boolean", "unknown"):
            yield "type"
        if seen.get("is_sequence") and not model.get("is_sequence"):
            yield "is_sequence"
        return
    for name, show in _DEFINITION_FIELDS:
        column = "kind" if name == "type" else name
        if column in kept and column in other and show(kept) != show(other):
            yield name


def _key(values: Sequence[Any], names: Sequence[str]) -> tuple[str, ...]:
    key = tuple(str(v) for v in values)
    if names == ("class", "attribute") and key[1].lower() == f"{key[0]}id".lower():
        # the naming attribute: EUtranCellFDDId in CPP models, eUtranCellFDDId in ECIM ones
        return (key[0], f"{key[0]}Id")
    return key


def merge(sources: Sequence[tuple[str, str, dict[str, pa.Table]]]) -> MergedCatalog:
    """Merge the catalog tables of several sources, each given as ``(source, label, tables)``:
    ``source`` is ``"mom"``, ``"workbook"`` or ``"export"`` (their precedence), ``label`` names
    the file in disagreements. All rows of the first source are kept, even two of the same
    name (one class in two MIMs); a later source adds the rows no earlier source has."""
    order = {name: i for i, name in enumerate(PRECEDENCE)}
    ranked = sorted(sources, key=lambda s: order.get(s[0], len(order)))
    tables: dict[str, pa.Table] = {}
    disagreements: list[Disagreement] = []
    by_source: dict[str, dict[str, int]] = {}
    names = [n for n in KEYS if any(n in t for _, _, t in ranked)]
    names += sorted({n for _, _, t in ranked for n in t} - set(names))
    if len(ranked) == 1:
        # one source: nothing to match, its tables are the catalog
        _, label, only = ranked[0]
        return MergedCatalog(dict(only), [], {label: {n: t.num_rows for n, t in only.items()}})
    for name in names:
        keys = KEYS.get(name)
        parts: list[pa.Table] = []
        # key → (label, table, row number) of the row kept for it; rows are read only to compare
        kept: dict[tuple[str, ...], tuple[str, pa.Table, int]] = {}
        for _source, label, source_tables in ranked:
            table = source_tables.get(name)
            if table is None:
                continue
            by_source.setdefault(label, {})[name] = table.num_rows
            if keys is None or not set(keys) <= set(table.column_names):
                parts.append(table)
                continue
            columns = [table.column(k).to_pylist() for k in keys]
            new: list[bool] = []
            first_here: dict[tuple[str, ...], tuple[str, pa.Table, int]] = {}
            for i, values in enumerate(zip(*columns, strict=True)):
                key = _key(values, keys)
                have = kept.get(key)
                if have is None:
                    first_here.setdefault(key, (label, table, i))
                    new.append(True)
                    continue
                new.append(False)
                if name not in ("attributes", "struct_members"):
                    continue
                kept_label, kept_table, kept_row = have
                old, row = _row(kept_table, kept_row), _row(table, i)
                for fname in _compare(old, row, _kind_of(kept_label), _kind_of(label)):
                    show = dict(_DEFINITION_FIELDS)[fname]
                    disagreements.append(Disagreement(name, key, fname, kept_label, show(old), label, show(row)))
            kept.update(first_here)
            parts.append(table.filter(pa.array(new, pa.bool_())))
        tables[name] = _stack(parts)
    return MergedCatalog(tables, disagreements, by_source)


def _row(table: pa.Table, i: int) -> dict[str, Any]:
    row: dict[str, Any] = table.slice(i, 1).to_pylist()[0]
    return row


def _kind_of(label: str) -> str:
    return label.split(":", 1)[0]


def _stack(parts: list[pa.Table]) -> pa.Table:
    """Tables of different sources as one: columns a source lacks are null for its rows."""
    parts = [p for p in parts if p.num_rows] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    fields: dict[str, pa.Field] = {}
    for p in parts:
        for f in p.schema:
            have = fields.get(f.name)
            fields[f.name] = f.with_nullable(True) if have is None else have.with_nullable(True)
    schema = pa.schema(list(fields.values()))
    aligned = []
    for p in parts:
        columns = [
            p.column(f.name).cast(f.type) if f.name in p.column_names else pa.nulls(p.num_rows, f.type) for f in schema
        ]
        aligned.append(pa.Table.from_arrays(columns, schema=schema))
    return pa.concat_tables(aligned)
