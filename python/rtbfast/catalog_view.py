"""One view of a catalog for every command that reads one (``templates check``, ``templates
expand``, ``plan``, ``apply``, ``audit``): its tables, its constraints (what ``rtbfast audit``
checks), and the lookups made of them once: the classes and their containment with its
cardinality, the classes the node creates, each attribute's kind and flags, multiplication
factors, which attributes need their MO (or its cell) locked (``lockBeforeModify`` and the
Precondition and Dependencies texts), when a change takes effect and what it disturbs.

A command loads it once (:meth:`CatalogView.load`: a build folder, checked, or an MP XML
model) and passes it on: ``rtbfast plan TEMPLATE`` expands and plans with one view.

(:class:`rtbfast.catalog.MergedCatalog` is what a build makes of its sources; this is what
the commands read of the result.)
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.rules.constraints import Constraints, constraint_table
from rtbfast.schemas import SEP

if TYPE_CHECKING:
    from rtbfast import _native
    from rtbfast.rules.dependencies import Extraction

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
    "attributes": [
        "mim",
        "class",
        "attribute",
        "kind",
        "type_ref",
        "multiplication_factor",
        "unit",
        "read_only",
        "restricted",
        "nillable",
        "is_sequence",
        "seq_min",
        "default",
        "takes_effect",
        "disturbances",
        "dependencies",
        "precondition",
    ],
    "classes": ["mim", "class", "system_created", "source"],
    "mims": ["mim", "version", "release", "correction", "revision"],
    "containment": ["parent", "child", "card_min", "card_max"],
    "struct_members": ["struct", "member", "multiplication_factor", "unit"],
}
"""The catalog tables and columns the commands read of a build folder."""


@dataclass
class CatalogView:
    """A catalog's tables and constraints, and the lookups the commands make of them (each
    made once, on first use)."""

    tables: dict[str, pa.Table]
    constraints: Constraints
    origin: str = ""
    """Where it was loaded from (a build folder or a model file; empty for tables in memory)."""

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int = 0) -> CatalogView:
        """A build folder (checked: a damaged or foreign one raises
        :class:`rtbfast.errors.CatalogError`) or an MP XML model."""
        from rtbfast.output_folder import load_catalog, open_catalog

        p = Path(path)
        if p.is_dir():
            folder = open_catalog(p)
            return cls(folder.tables(COLUMNS), folder.constraints(), str(p))
        tables = load_catalog(p, threads=threads)
        return cls(tables, constraint_table(tables), str(p))

    @classmethod
    def of(cls, tables: dict[str, pa.Table], constraints: Constraints | None = None) -> CatalogView:
        """A view of catalog tables in memory (their constraints derived when not given)."""
        return cls(tables, constraints if constraints is not None else constraint_table(tables))

    def column(self, table: str, name: str) -> list[Any]:
        t = self.tables.get(table)
        return [] if t is None or name not in t.column_names else t.column(name).to_pylist()

    # -- classes and containment ----------------------------------------------------------

    @functools.cached_property
    def classes(self) -> set[str]:
        """Known classes: from their own rows, their attributes, or the containment naming
        them (the workbook names node functions only in its LDN paths)."""
        return {
            *self.column("classes", "class"),
            *self.column("attributes", "class"),
            *self.column("containment", "parent"),
            *self.column("containment", "child"),
        }

    @functools.cached_property
    def system_created(self) -> set[str]:
        """Classes every definition says the node creates (where two MIMs define a class and
        disagree, nothing is said: an MO is not tied to either)."""
        flags: dict[str, set[bool]] = {}
        for c, created in zip(self.column("classes", "class"), self.column("classes", "system_created"), strict=True):
            flags.setdefault(c, set()).add(bool(created))
        return {c for c, f in flags.items() if f == {True}}

    @functools.cached_property
    def children(self) -> dict[str, set[str]]:
        """parent class → the classes it may contain."""
        out: dict[str, set[str]] = {}
        for parent, child in zip(
            self.column("containment", "parent"), self.column("containment", "child"), strict=True
        ):
            out.setdefault(parent, set()).add(child)
        return out

    def containment(self) -> dict[tuple[str, str], int | None]:
        """(parent, child) → the most children of that class (None: no limit; one dictionary,
        shared: not to be changed)."""
        return self._containment

    @functools.cached_property
    def _containment(self) -> dict[tuple[str, str], int | None]:
        out: dict[tuple[str, str], int | None] = {}
        parents, children = self.column("containment", "parent"), self.column("containment", "child")
        maxes = self.column("containment", "card_max") or [None] * len(parents)
        for p, ch, mx in zip(parents, children, maxes, strict=True):
            unlimited = mx is None or ((p, ch) in out and out[(p, ch)] is None)
            out[(p, ch)] = None if unlimited else max(mx, out.get((p, ch)) or 0)
        return out

    def admin_classes(self) -> set[str]:
        """Classes with an ``administrativeState``: the MOs a lock is put on (one set, shared:
        not to be changed)."""
        return self._admin_classes

    @functools.cached_property
    def _admin_classes(self) -> set[str]:
        rows = self._attribute_rows()
        return set(rows.filter(pc.equal(rows["attribute"], ADMIN))["class"].to_pylist())

    # -- attributes -------------------------------------------------------------------------

    @functools.cached_property
    def attributes(self) -> dict[str, dict[str, dict[str, Any]]]:
        """class → attribute → what every definition of it agrees on: ``read_only``,
        ``restricted``, ``nillable`` (true only where all say so), its ``kinds``,
        ``nillable_known`` (every definition is of a MIM that marks nillable attributes: CPP
        models and the workbook do not, so there a clear is not judged) and ``may_be_empty``
        (a sequence that may hold no item)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        if "attributes" not in self.tables:
            return out
        rows = self.tables["attributes"].to_pylist()
        marking = {r.get("mim") for r in rows if r.get("nillable")}
        for row in rows:
            known = out.setdefault(row["class"], {})
            agreed = known.get(row["attribute"])
            flags = {k: bool(row.get(k)) for k in ("read_only", "restricted", "nillable")}
            flags["nillable_known"] = row.get("nillable") is not None and row.get("mim") in marking
            flags["may_be_empty"] = bool(row.get("is_sequence")) and not row.get("seq_min")
            if agreed is None:
                known[row["attribute"]] = {**flags, "kinds": {row.get("kind")}}
            else:
                for k, v in flags.items():
                    agreed[k] = agreed[k] and v
                agreed["kinds"].add(row.get("kind"))
        return out

    @functools.cached_property
    def attribute_names(self) -> frozenset[str]:
        """Every attribute name of any class."""
        return frozenset(a for attributes in self.attributes.values() for a in attributes)

    def _attribute_rows(self) -> pa.Table:
        c = self.constraints.table
        return c.filter(pc.is_null(c["member"]))

    @functools.cached_property
    def kinds(self) -> pa.Table:
        """class, attribute, member → kind, is_sequence (the attribute's), for rendering and
        comparing values."""
        c = self.constraints.table
        table = c.select(["class", "attribute", "member", "kind", "is_sequence"])
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

    @functools.cached_property
    def _flags(self) -> dict[tuple[str, str], dict[str, object]]:
        columns = ["class", "attribute", "kind", "is_sequence", "read_only", "restricted", "mandatory"]
        rows = self._attribute_rows().select([*columns, "takes_effect", "moref_target"])
        return {(r["class"], r["attribute"]): r for r in rows.to_pylist()}

    @functools.cached_property
    def factors(self) -> pa.Table:
        """``key`` (class, attribute and member joined by :data:`rtbfast.schemas.SEP`) → the
        linear multiplication factor (as text) and unit of the attributes and struct members
        that have one."""
        from rtbfast.templates.units import parse_factor

        found: dict[str, tuple[str, str | None]] = {}
        struct_factor: dict[str, list[tuple[str, Decimal, str | None]]] = {}
        if "struct_members" in self.tables:
            for r in self.tables["struct_members"].to_pylist():
                f = parse_factor(r.get("multiplication_factor"))
                if f is not None and f != 1:
                    struct_factor.setdefault(r["struct"], []).append((r["member"], f, r.get("unit")))
        if "attributes" in self.tables:
            for r in self.tables["attributes"].to_pylist():
                f = parse_factor(r.get("multiplication_factor"))
                if f is not None and f != 1:
                    found.setdefault(SEP.join((r["class"], r["attribute"], "")), (str(f), r.get("unit")))
                for member, mf, unit in struct_factor.get(r.get("type_ref") or "", []):
                    found.setdefault(SEP.join((r["class"], r["attribute"], member)), (str(mf), unit))
        return pa.table(
            {
                "key": pa.array(list(found), pa.string()),
                "factor": pa.array([f for f, _ in found.values()], pa.string()),
                "unit": pa.array([u for _, u in found.values()], pa.string()),
            }
        )

    @functools.cached_property
    def factor_of(self) -> dict[str, tuple[str, str | None]]:
        """:attr:`factors` as a lookup: ``key`` → (factor, unit)."""
        t = self.factors
        return dict(
            zip(t["key"].to_pylist(), zip(t["factor"].to_pylist(), t["unit"].to_pylist(), strict=True), strict=True)
        )

    @functools.cached_property
    def enum_names(self) -> dict[tuple[str, str, str | None], list[str]]:
        """(class, attribute, member) → the names of its enum (the first constraint that lists
        them)."""
        t = self.constraints.table
        listed = t.filter(pc.is_valid(t["enum_names"])).select(["class", "attribute", "member", "enum_names"])
        out: dict[tuple[str, str, str | None], list[str]] = {}
        for r in listed.to_pylist():
            if r["enum_names"]:
                out.setdefault((r["class"], r["attribute"], r["member"]), r["enum_names"])
        return out

    @functools.cached_property
    def compiled(self) -> _native.CompiledConstraints:
        """The constraints compiled for the native evaluator, once (the template check judges
        its values with them)."""
        from rtbfast import _native

        return _native.CompiledConstraints(self.constraints.table)

    def texts(self) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """(class, attribute) → (takes effect, disturbances) as the model or workbook says (one
        dictionary, shared: not to be changed)."""
        return self._texts

    @functools.cached_property
    def _texts(self) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        out: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        classes, names = self.column("attributes", "class"), self.column("attributes", "attribute")
        effect = self.column("attributes", "takes_effect") or [None] * len(classes)
        disturb = self.column("attributes", "disturbances") or [None] * len(classes)
        for c, a, e, d in zip(classes, names, effect, disturb, strict=True):
            known = out.get((c, a), (None, None))
            out[(c, a)] = (known[0] or e, known[1] or d)
        return out

    @functools.cached_property
    def effect_texts(self) -> dict[tuple[str, str], tuple[str | None, str | None, str | None]]:
        """(class, attribute) → (takes effect, disturbances, when) of the attributes whose
        change waits for an unlock or a restart (:func:`when_of`), or disturbs."""
        out: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {}
        for key, (effect, disturbance) in self.texts().items():
            when = when_of(effect)
            if when or disturbance:
                out[key] = (effect, disturbance, when)
        return out

    @functools.cached_property
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

    # -- locks and the rules the texts state ----------------------------------------------------

    @functools.cached_property
    def stated_rules(self) -> Extraction:
        """The rules the Dependencies and Precondition texts state (:mod:`rtbfast.rules.dependencies`)."""
        from rtbfast.rules.dependencies import extract

        return extract(self.tables)

    @functools.cached_property
    def stated_locks(self) -> set[tuple[str, str]]:
        """(class, attribute) a Precondition or Dependencies text says is changed only while locked."""
        return {(r.cls, r.attribute) for r in self.stated_rules.rules if r.kind == "requires_lock"}

    @functools.cached_property
    def locks(self) -> set[tuple[str, str]]:
        """(class, attribute) changed only while locked: :attr:`stated_locks` and the
        attributes flagged ``lockBeforeModify``."""
        c = self.constraints.table
        flagged = c.filter(pc.and_(pc.is_null(c["member"]), pc.fill_null(c["lock_before_modify"], False)))
        return self.stated_locks | set(zip(flagged["class"].to_pylist(), flagged["attribute"].to_pylist(), strict=True))
