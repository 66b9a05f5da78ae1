"""What the planner, the dialects and the simulator read of a catalog, loaded once: each
attribute's kind and flags (the constraints ``rtbfast audit`` checks), the containment with its
cardinality, the classes the node creates, which attributes need their MO (or its cell)
locked (``lockBeforeModify`` and the Precondition and Dependencies texts), when a change
takes effect and what it disturbs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.rules.constraints import Constraints, constraint_table

if TYPE_CHECKING:
    from rtbfast import _native

ADMIN = "administrativeState"

RESTART_WORDS = r"(?i)restart|reboot"
UNLOCK_WORDS = r"(?i)unlock|lock/unlock|disabled/enabled|cell.*(re)?start"


def when_of(effect: str | None) -> str | None:
    """When a change takes effect, as the model's text says: ``restart``, ``unlock`` or None."""
    if effect and re.search(RESTART_WORDS, effect):
        return "restart"
    if effect and re.search(UNLOCK_WORDS, effect):
        return "unlock"
    return None


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
        """Classes with an ``administrativeState``: the MOs a lock is put on (one set, shared:
        not to be changed)."""
        return self._admin_classes

    @cached_property
    def _admin_classes(self) -> set[str]:
        rows = self._attribute_rows()
        return set(rows.filter(pc.equal(rows["attribute"], ADMIN))["class"].to_pylist())

    def system_created(self) -> set[str]:
        """Classes the node creates (one set, shared: not to be changed)."""
        return self._system_created

    @cached_property
    def _system_created(self) -> set[str]:
        classes = self.tables.get("classes")
        if classes is None or "system_created" not in classes.column_names:
            return set()
        flags: dict[str, set[bool]] = {}
        for c, s in zip(classes["class"].to_pylist(), classes["system_created"].to_pylist(), strict=True):
            flags.setdefault(c, set()).add(bool(s))
        return {c for c, f in flags.items() if f == {True}}

    def containment(self) -> dict[tuple[str, str], int | None]:
        """(parent, child) → the most children of that class (None: no limit; one dictionary,
        shared: not to be changed)."""
        return self._containment

    @cached_property
    def _containment(self) -> dict[tuple[str, str], int | None]:
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
    def effect_texts(self) -> dict[tuple[str, str], tuple[str | None, str | None, str | None]]:
        """(class, attribute) → (takes effect, disturbances, when) of the attributes whose
        change waits for an unlock or a restart (:func:`when_of`), or disturbs."""
        out: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {}
        for key, (effect, disturbance) in self.texts().items():
            when = when_of(effect)
            if when or disturbance:
                out[key] = (effect, disturbance, when)
        return out

    @cached_property
    def native(self) -> _native.PlanningCatalog:
        """The catalog as the native planner, rollback and simulator read it: its constraints
        compiled, kinds, flags, the classes with a state, the attributes changed only while
        locked, the classes the node creates (made once)."""
        from rtbfast import _native

        flags = self._attribute_rows().select(
            ["class", "attribute", "kind", "is_sequence", "read_only", "restricted", "mandatory"]
        )
        return _native.PlanningCatalog(
            self.constraints.table,
            self.kinds,
            flags,
            sorted(self.admin_classes()),
            sorted(self.locks),
            sorted(self.system_created),
        )

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
