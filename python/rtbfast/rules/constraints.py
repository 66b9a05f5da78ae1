"""Per-attribute constraints of a catalog as one Arrow table, the input of the native bulk
evaluator.

Every row is made with :func:`rtbfast.typemap.field_type`, the function the Pydantic emitter
makes each field's checks with, so the evaluator checks exactly what the generated models
check: ranges (several sub-ranges, integer width bounds), resolution steps, decimal places,
string lengths and patterns (ip and mac formats included), enum members (by name, or by value
for numbered enums), moRef targets, sequence lengths and uniqueness (by struct key members),
and exclusive structs. A struct attribute gives one row for itself and one per member.

Rows are keyed by class, attribute and member: exports name classes without their MIM, so
when two MIMs define one class the first MIM's row is kept and the other is noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.schemas import CONSTRAINTS_SCHEMA
from rtbfast.typemap import FieldType, enum_members_by_enum, field_type, struct_members_by_struct


@dataclass
class Constraints:
    """The constraints table of a catalog and what could not be made a constraint."""

    table: pa.Table
    notes: list[str] = field(default_factory=list)


# the columns constraints are made of: converting the descriptions too would cost more than the rest
_USED = {
    *("mim", "class", "attribute", "member", "struct", "enum", "value", "exclusive", "key", "kind", "base_type"),
    *("type_ref", "type_ref_mim", "is_sequence", "seq_min", "seq_max", "seq_unique", "ranges", "length_min"),
    *("length_max", "pattern", "format", "resolution", "fraction_digits", "read_only", "restricted"),
    *("mandatory", "is_counter", "source", "lock_before_modify", "takes_effect", "system_created"),
}


def _rows(catalog: dict[str, pa.Table], name: str, mask: pa.Array | None = None) -> list[dict[str, Any]]:
    table = catalog.get(name)
    if table is None:
        return []
    table = table.select([c for c in table.column_names if c in _USED])
    rows: list[dict[str, Any]] = (table.filter(mask) if mask is not None else table).to_pylist()
    return rows


def _checked_rows(attributes: pa.Table | None, home: dict[str, str], defined: set[tuple[str, str]]) -> pa.Array | None:
    """The attribute rows that make constraints: not PM counters, and of the class's first
    MIM (a row of a MIM that does not define its class, such as a workbook's, belongs to it)."""
    if attributes is None or attributes.num_rows == 0:
        return None
    sep = "\x1f"
    mim = pc.fill_null(attributes.column("mim"), "") if "mim" in attributes.column_names else None
    cls = attributes.column("class")
    keys = pc.binary_join_element_wise(mim if mim is not None else pc.cast(cls, pa.string()), cls, sep)
    own = pa.array([f"{m}{sep}{c}" for c, m in home.items()], pa.string())
    elsewhere = pa.array([f"{m}{sep}{c}" for m, c in defined], pa.string())
    keep = pc.or_(pc.is_in(keys, own), pc.invert(pc.is_in(keys, elsewhere)))
    if "is_counter" in attributes.column_names:
        keep = pc.and_(keep, pc.invert(pc.fill_null(attributes.column("is_counter"), False)))
    return keep


class _Types:
    """Enums and structs of the catalog by (MIM, name), found the way the emitter finds them:
    the referenced MIM's, else the first of that name."""

    def __init__(self, catalog: dict[str, pa.Table]) -> None:
        # members placed as the emitter places them
        self.enum_members = enum_members_by_enum(_rows(catalog, "enums"), _rows(catalog, "enum_members"))
        structs = _rows(catalog, "structs")
        self.struct_members = struct_members_by_struct(structs, _rows(catalog, "struct_members"))
        self.exclusive: dict[tuple[str, str], bool] = {
            (s.get("mim") or "", s["struct"]): bool(s.get("exclusive")) for s in structs
        }

    @staticmethod
    def _find(table: dict[tuple[str, str], Any], mim: str | None, name: str) -> tuple[str, str] | None:
        if mim and (mim, name) in table:
            return (mim, name)
        return next((k for k in sorted(table) if k[1] == name), None)

    def enum(self, mim: str | None, name: str) -> tuple[list[str], list[int] | None] | None:
        key = self._find(self.enum_members, mim, name)
        if key is None:
            return None
        first: dict[str, dict[str, Any]] = {}
        for r in self.enum_members[key]:
            first.setdefault(r["member"], r)
        rows = list(first.values())
        numbered = bool(rows) and all(r.get("value") is not None for r in rows)
        return [r["member"] for r in rows], ([int(r["value"]) for r in rows] if numbered else None)

    def enum_of(self, row: dict[str, Any], t: FieldType) -> tuple[list[str], list[int] | None] | None:
        """The members (and values) of the enum an attribute or member row refers to."""
        return self.enum(row.get("type_ref_mim"), row["type_ref"]) if t.kind == "enum" and row.get("type_ref") else None

    def struct_of(self, row: dict[str, Any], t: FieldType) -> tuple[tuple[str, str], list[dict[str, Any]]] | None:
        """The struct (its key and member rows) an attribute row refers to."""
        return (
            self.struct(row.get("type_ref_mim"), row["type_ref"])
            if t.kind == "struct" and row.get("type_ref")
            else None
        )

    def struct(self, mim: str | None, name: str) -> tuple[tuple[str, str], list[dict[str, Any]]] | None:
        key = self._find(self.struct_members, mim, name)
        return None if key is None else (key, self.struct_members[key])


# the emitter names enums and structs in Python; here any non-empty name says "known"
class _Known(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return key


def _checks(t: FieldType) -> dict[str, Any]:
    numeric = t.kind in ("integer", "float", "decimal")
    textual = t.kind not in ("enum", "struct", "moref")
    return {
        "kind": t.kind,
        "ranges": [{"min": lo, "max": hi} for lo, hi in t.ranges] if numeric and t.ranges else None,
        "resolution": t.resolution if t.kind in ("integer", "decimal") and t.resolution else None,
        "decimal_places": t.decimal_places,
        "length_min": t.min_length if textual else None,
        "length_max": t.max_length if textual else None,
        "pattern": t.pattern,
        "moref_target": t.moref_target,
    }


def constraint_table(catalog: dict[str, pa.Table]) -> Constraints:
    """The constraints of every attribute (PM counters aside) and struct member of `catalog`."""
    types = _Types(catalog)
    known = _Known()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    seen: dict[tuple[str, str, str | None], str] = {}

    def add(row: dict[str, Any], mim: str) -> None:
        key = (row["class"], row["attribute"], row["member"])
        if key in seen:
            if seen[key] != mim:
                where = f"{row['class']}.{row['attribute']}" + (f".{row['member']}" if row["member"] else "")
                notes.append(f"{where}: also in MIM {mim}; the constraint of MIM {seen[key]} is used")
            return
        seen[key] = mim
        rows.append(row)

    # a class named in several MIMs is checked as its first MIM defines it, as the models do
    home: dict[str, str] = {}
    defined: set[tuple[str, str]] = set()
    for c in _rows(catalog, "classes"):
        mim = c.get("mim") or c.get("source") or "model"
        if home.setdefault(c["class"], mim) != mim and (mim, c["class"]) not in defined:
            notes.append(
                f"class {c['class']} of MIM {mim}: not checked; exports name classes without a MIM, and the "
                f"class of MIM {home[c['class']]} is the one checked"
            )
        defined.add((mim, c["class"]))
    for a in _rows(catalog, "attributes", _checked_rows(catalog.get("attributes"), home, defined)):
        mim = a.get("mim") or ""
        t = field_type(a, known, known)
        flags = {
            "read_only": bool(a.get("read_only")),
            "restricted": bool(a.get("restricted")),
            "mandatory": bool(a.get("mandatory")),
            "lock_before_modify": bool(a.get("lock_before_modify")),
            "takes_effect": a.get("takes_effect"),
            "source": a.get("source"),
        }
        base = {"class": a["class"], "attribute": a["attribute"], "member": None, **flags}
        sequence = {
            "is_sequence": t.is_sequence,
            "seq_min": t.seq_min,
            "seq_max": t.seq_max,
            "seq_unique": t.seq_unique,
        }
        enum = types.enum_of(a, t)
        struct = types.struct_of(a, t)
        where = f"{a['class']}.{a['attribute']}"
        if t.kind == "enum" and enum is None:
            notes.append(f"{where}: enum {a.get('type_ref')} is not in the catalog; any text is accepted")
        if t.kind == "struct" and struct is None:
            notes.append(f"{where}: struct {a.get('type_ref')} is not in the catalog; its members are not checked")
        keys = [m["member"] for m in struct[1] if m.get("key")] if struct else []
        add(
            {
                **base,
                **_checks(t),
                "enum_names": enum[0] if enum else None,
                "enum_values": enum[1] if enum else None,
                **sequence,
                "unique_by": keys if t.seq_unique and keys else None,
                "exclusive": bool(struct and types.exclusive.get(struct[0])),
                "struct": a.get("type_ref") if t.kind == "struct" else None,
            },
            mim,
        )
        for m in struct[1] if struct else []:
            mt = field_type(m, known, known)
            menum = types.enum_of(m, mt)
            add(
                {
                    **base,
                    "member": m["member"],
                    **_checks(mt),
                    "enum_names": menum[0] if menum else None,
                    "enum_values": menum[1] if menum else None,
                    "is_sequence": mt.is_sequence,
                    "seq_min": mt.seq_min,
                    "seq_max": mt.seq_max,
                    "seq_unique": mt.seq_unique,
                    "unique_by": None,
                    "exclusive": False,
                    "struct": a.get("type_ref"),
                },
                mim,
            )
    table = pa.Table.from_pylist(rows, schema=CONSTRAINTS_SCHEMA) if rows else CONSTRAINTS_SCHEMA.empty_table()
    return Constraints(table, list(dict.fromkeys(notes)))
