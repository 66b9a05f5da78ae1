"""What the planner, the dialects and the simulator read of a catalog, loaded once: each
attribute's kind and flags (the constraints ``rtbfast audit`` checks), the containment with its
cardinality, the classes the node creates, which attributes need their MO (or its cell)
locked (``lockBeforeModify`` and the Precondition and Dependencies texts), when a change
takes effect and what it disturbs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.rules.constraints import Constraints, constraint_table

ADMIN = "administrativeState"

COLUMNS = {
    "attributes": ["mim", "class", "attribute", "kind", "takes_effect", "disturbances", "dependencies", "precondition"],
    "classes": ["mim", "class", "system_created", "source"],
    "containment": ["parent", "child", "card_min", "card_max"],
}


@dataclass
class CatalogView:
    constraints: Constraints
    tables: dict[str, pa.Table]
    locks: set[tuple[str, str]] = field(default_factory=set)
    """(class, attribute) changed only while locked."""

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int = 0) -> CatalogView:
        """A build folder (checked) or an MP XML model."""
        from rtbfast.output_folder import load_catalog, open_catalog

        p = Path(path)
        if p.is_dir():
            folder = open_catalog(p)
            tables = folder.tables(COLUMNS)
            constraints = folder.constraints()
        else:
            tables = load_catalog(p, threads=threads)
            constraints = constraint_table(tables)
        return cls.of(tables, constraints)

    @classmethod
    def of(cls, tables: dict[str, pa.Table], constraints: Constraints | None = None) -> CatalogView:
        from rtbfast.rules.dependencies import extract

        constraints = constraints or constraint_table(tables)
        locks = {(r.cls, r.attribute) for r in extract(tables).rules if r.kind == "requires_lock"}
        c = constraints.table
        flagged = c.filter(pc.and_(pc.is_null(c["member"]), pc.fill_null(c["lock_before_modify"], False)))
        locks |= set(zip(flagged["class"].to_pylist(), flagged["attribute"].to_pylist(), strict=True))
        return cls(constraints, tables, locks)

    # -- lookups, made once ---------------------------------------------------------------

    def _attribute_rows(self) -> pa.Table:
        c = self.constraints.table
        return c.filter(pc.is_null(c["member"]))

    @cached_property
    def kinds(self) -> pa.Table:
        """class, attribute, member → kind, is_sequence (the attribute's), for rendering and
        comparing values."""
        c = self.constraints.table
        cols = ["class", "attribute", "member", "kind", "is_sequence"]
        table = c.select(cols)
        # an attribute's sequence flag applies to its members' rows too
        seq = (
            self._attribute_rows()
            .select(["class", "attribute", "is_sequence"])
            .rename_columns(["class", "attribute", "attribute_is_sequence"])
        )
        table = table.join(seq, ["class", "attribute"], join_type="left outer")
        flag = pc.if_else(pc.is_null(table["member"]), table["is_sequence"], table["attribute_is_sequence"])
        table = table.set_column(table.schema.get_field_index("is_sequence"), "is_sequence", pc.fill_null(flag, False))
        return table.drop_columns(["attribute_is_sequence"])

    def attribute_flags(self) -> dict[tuple[str, str], dict[str, object]]:
        """(class, attribute) → read_only, restricted, mandatory, kind, is_sequence,
        takes_effect, moref_target (one dictionary, shared: not to be changed)."""
        return self._flags

    @cached_property
    def _flags(self) -> dict[tuple[str, str], dict[str, object]]:
        rows = self._attribute_rows().select(
            [
                "class",
                "attribute",
                "kind",
                "is_sequence",
                "read_only",
                "restricted",
                "mandatory",
                "takes_effect",
                "moref_target",
            ]
        )
        return {(r["class"], r["attribute"]): r for r in rows.to_pylist()}

    def admin_classes(self) -> set[str]:
        """Classes with an ``administrativeState``: the MOs a lock is put on."""
        rows = self._attribute_rows()
        return set(rows.filter(pc.equal(rows["attribute"], ADMIN))["class"].to_pylist())

    def system_created(self) -> set[str]:
        classes = self.tables.get("classes")
        if classes is None or "system_created" not in classes.column_names:
            return set()
        flags: dict[str, set[bool]] = {}
        for c, s in zip(classes["class"].to_pylist(), classes["system_created"].to_pylist(), strict=True):
            flags.setdefault(c, set()).add(bool(s))
        return {c for c, f in flags.items() if f == {True}}

    def containment(self) -> dict[tuple[str, str], int | None]:
        """(parent, child) → the most children of that class (None: no limit)."""
        table = self.tables.get("containment")
        out: dict[tuple[str, str], int | None] = {}
        if table is None:
            return out
        maxes = table["card_max"].to_pylist() if "card_max" in table.column_names else [None] * table.num_rows
        for p, ch, mx in zip(table["parent"].to_pylist(), table["child"].to_pylist(), maxes, strict=True):
            unlimited = mx is None or ((p, ch) in out and out[(p, ch)] is None)
            out[(p, ch)] = None if unlimited else max(mx, out.get((p, ch)) or 0)
        return out

    def texts(self) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """(class, attribute) → (takes effect, disturbances) as the model or workbook says (one
        dictionary, shared: not to be changed)."""
        return self._texts

    @cached_property
    def _texts(self) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        table = self.tables.get("attributes")
        out: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        if table is None:
            return out
        effect = table["takes_effect"].to_pylist() if "takes_effect" in table.column_names else [None] * table.num_rows
        disturb = table["disturbances"].to_pylist() if "disturbances" in table.column_names else [None] * table.num_rows
        for c, a, e, d in zip(table["class"].to_pylist(), table["attribute"].to_pylist(), effect, disturb, strict=True):
            known = out.get((c, a), (None, None))
            out[(c, a)] = (known[0] or e, known[1] or d)
        return out


def typed_text(values: pa.Array | pa.ChunkedArray, kinds: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Values as the node compares them: integers without a sign or leading zeros beyond what
    they mean (``"010"`` is ``10``, ``"+5"`` is ``5``, ``"-0"`` is ``0``), booleans in lower
    case; other kinds as written."""
    text = pc.cast(values, pa.string()) if pa.types.is_dictionary(values.type) else values
    out = text
    # integers: only where one is written another way than the node writes it (a sign, a
    # leading zero, "-0"), which is rare: one scan finds them
    odd = pc.fill_null(pc.match_substring_regex(text, r"^(\+|-?0\d|-0$)"), False)
    if pc.any(odd).as_py():
        is_int = pc.fill_null(pc.equal(kinds, "integer"), False)
        stripped = pc.replace_substring_regex(text, r"^\+?0*(\d)", r"\1")
        stripped = pc.replace_substring_regex(stripped, r"^-0*(\d)", r"-\1")
        stripped = pc.replace_substring_regex(stripped, r"^-0$", "0")
        number = pc.if_else(pc.match_substring_regex(text, r"^[+-]?\d+$"), stripped, text)
        out = pc.if_else(pc.and_(is_int, odd), number, text)
    is_bool = pc.fill_null(pc.equal(kinds, "boolean"), False)
    if pc.any(is_bool).as_py():
        out = pc.if_else(is_bool, pc.utf8_lower(out), out)
    return out
