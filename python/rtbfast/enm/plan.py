"""The planner: a ChangeSet, the Network it applies to and a catalog → a **Plan**, ordered steps
ENM can run, and the same steps reversed from the network's current values (the rollback,
:mod:`rtbfast.enm.rollback`).

- **creates**: parents before children, referenced MOs before the MOs that reference them; a
  reference cycle among new MOs is broken by creating one without the reference and setting
  it after; a cycle through mandatory references cannot be, and is an error naming the MOs;
- **sets**: the last write of each attribute wins; attributes already holding the wanted value
  are dropped (compared as typed values: ``"010"`` is ``10``); the rest merged into one step
  per MO and phase;
- **deletes**: the whole subtree, children first; references to a deleted MO from MOs that stay
  are cleared first;
- **locks**: a set of an attribute that needs its MO (or the cell above it) LOCKED is wrapped in
  lock → sets → unlock of that MO, which gets its original state back; one lock covers all such
  sets of the MO in a phase; a lockable MO is locked before it is deleted;
- phases run in ``phase_order``; read-only, restricted and system-created misuse and missing
  mandatory attributes are refused with the reason (the operation rules of ``rtbfast audit``),
  as are unknown MOs and attributes, and values the catalog's constraints refuse.

Python checks the ChangeSet and words every problem and note; the passes that decide the steps
run natively over Arrow (``rust/src/enm/planner.rs``): the last writes, the minimal sets
compared as typed values, the create order with its cycles broken, the lock windows, the
deletes and the step numbering.

The Plan is long form, a step over several rows: ``step``, ``phase``, ``phase_order``, ``op``
(``create``, ``set``, ``delete``, ``lock``, ``unlock``, ``action``), ``fdn``, ``class``,
``attribute``, ``member``, ``index``, ``value`` (raw, as the ChangeSet), ``kind`` and
``is_sequence`` (how to write the value), ``source``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast import _native
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import RtbfastError
from rtbfast.network_index import NetworkIndex, is_in_column
from rtbfast.schemas import CHANGESET_SCHEMA, PLAN_SCHEMA, SEP
from rtbfast.suggest import did_you_mean

LISTED = 200
"""Problems of one kind listed one by one; past that, one problem says how many more."""


class PlanError(RtbfastError):
    """The ChangeSet cannot be planned: each problem with the ChangeSet row it comes from."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}", first.source or "")
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    fdn: str = ""
    source: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.code}: {self.message}"


@dataclass
class Plan:
    """The ordered steps, what the planner noted, and the facts the summary reports."""

    steps: pa.Table
    notes: list[Problem] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)
    """Changes that take effect only at a cell unlock or a node restart, with the step offered."""
    dropped: int = 0
    """Attribute writes left out because the network already holds the value."""

    @property
    def step_count(self) -> int:
        return len(pc.unique(self.steps["step"])) if self.steps.num_rows else 0


def first_rows_of_steps(steps: pa.Table) -> pa.Array:
    """The place of each step's first row in `steps` (a Plan's rows), in step order: where the
    step changes, as the planner lays a Plan out (each step's rows together, the steps
    ascending); else, found by a group-by."""
    n = steps.num_rows
    if not n:
        return pa.array([], pa.int64())
    step = steps["step"].combine_chunks() if isinstance(steps["step"], pa.ChunkedArray) else steps["step"]
    changed = pc.indices_nonzero(pc.fill_null(pc.not_equal(step.slice(1), step.slice(0, n - 1)), True))
    at = pa.concat_arrays([pa.array([0], pa.int64()), pc.cast(pc.add(changed, 1), pa.int64())])
    heads = step.take(at)
    laid_out = not step.null_count and (
        len(heads) < 2 or pc.all(pc.greater(heads.slice(1), heads.slice(0, len(heads) - 1))).as_py()
    )
    if laid_out:
        return at
    rows = pa.table({"step": step, "at": pa.array(range(n), pa.int64())})
    return (
        rows.group_by("step", use_threads=False).aggregate([("at", "min")]).sort_by("step")["at_min"].combine_chunks()
    )


def _string(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.cast(column, pa.string()) if pa.types.is_dictionary(column.type) else column


VALUE_RULES = (
    "type",
    "range",
    "enum",
    "length",
    "pattern",
    "resolution",
    "decimal_places",
    "unknown_member",
    "sequence_length",
)
"""The evaluator's rules that judge a value on its own (what a write is refused for)."""


def value_violations(rows: pa.Table, catalog: CatalogView) -> pa.Table:
    """The errors of the values `rows` write (``fdn``, ``class``, ``attribute``, ``member``,
    ``index``, ``value``; rows with no value or no class are not judged), judged by the native
    evaluator of `rtbfast audit` with the catalog's constraints compiled once."""
    columns = [c for c in ("fdn", "class", "attribute", "member", "index", "value") if c in rows.column_names]
    found = _native.value_violations(rows.select(columns), catalog.native, list(VALUE_RULES), "error")
    return pa.table(found)


def _sources_of(rows: pa.Table, subjects: pa.Array | pa.ChunkedArray, *, by_attribute: bool = True) -> dict[str, str]:
    """``fdn<SEP>attribute`` (or ``fdn``) → the source of the first of `rows` about it, for the
    MOs in `subjects` only (a dictionary over the few rows a finding names, not every row)."""
    subset = rows.filter(is_in_column(rows["fdn"], pc.unique(pc.cast(subjects, pa.string()))))
    keys = _key(subset) if by_attribute else _string(subset["fdn"])
    out: dict[str, str] = {}
    for key, source in zip(keys.to_pylist(), subset["source"].to_pylist(), strict=True):
        out.setdefault(key, source)
    return out


def _key(table: pa.Table) -> pa.ChunkedArray | pa.Array:
    return pc.binary_join_element_wise(_string(table["fdn"]), _string(table["attribute"]), SEP)


def _kind_keys(table: pa.Table) -> pa.Array | pa.ChunkedArray:
    return pc.binary_join_element_wise(
        _string(table["class"]), _string(table["attribute"]), pc.fill_null(_string(table["member"]), ""), SEP
    )


def _join_kinds(table: pa.Table, kinds: pa.Table) -> pa.Table:
    """`table` with ``kind`` and ``is_sequence`` of its (class, attribute, member) rows (a
    null member matching the attribute's own row), in the table's own row order (a lookup,
    not a join, so nothing is reordered)."""
    at = pc.index_in(_kind_keys(table), value_set=_kind_keys(kinds))
    kind = pc.take(kinds["kind"], at)
    is_sequence = pc.take(kinds["is_sequence"], at)
    table = table.drop_columns([c for c in ("kind", "is_sequence") if c in table.column_names])
    return table.append_column("kind", kind).append_column("is_sequence", is_sequence)


def _changeset_rows(table: pa.Table) -> pa.Table:
    """`table` in the ChangeSet's column types, as the native passes read it."""
    if table.schema.equals(CHANGESET_SCHEMA):
        return table
    return table.select(CHANGESET_SCHEMA.names).cast(CHANGESET_SCHEMA)


def _laid_out(writes: pa.Table, order: pa.Table, own: pa.Table) -> pa.Table:
    """The Plan's rows as the native pass laid them out: each row ``take`` of the writes (or,
    past them, of `own`), with its ``step`` and ``op``."""
    mine = writes.select(own.column_names).cast(own.schema)
    rows = (pa.concat_tables([mine, own]) if own.num_rows else mine).take(order["take"])
    columns = {name: order[name] if name in ("step", "op") else rows[name] for name in PLAN_SCHEMA.names}
    return pa.table(columns).cast(PLAN_SCHEMA)


class Planner:
    def __init__(self, changes: pa.Table, network: NetworkIndex, catalog: CatalogView) -> None:
        self.changes = changes
        self.net = network
        self.cat = catalog
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []
        self.flags = catalog.attribute_flags()
        self.existing = network.row_of
        self.phase_names: dict[int, str] = {}

    def problem(self, code: str, message: str, fdn: str = "", source: str | None = None) -> None:
        self.problems.append(Problem(code, message, fdn, source))

    # -- the whole ------------------------------------------------------------------------

    def plan(self) -> Plan:
        checked = self.check()
        if checked is None or self.problems:
            raise PlanError(self.problems)
        writes, creates, deletes, _ = checked
        done = _native.plan_steps(
            writes,
            creates,
            deletes,
            self.phase_names,
            list(self.cat.effect_texts),
            self.net.native,
            self.cat.native,
        )
        if "cycle" in done:
            remaining: list[str] = done["cycle"]
            self.problem(
                "cycle",
                "these MOs reference each other through mandatory references and cannot be created: "
                + ", ".join(remaining),
                remaining[0],
            )
            raise PlanError(self.problems)
        for code, fdn, detail in done["notes"]:
            self.notes.append(Problem(code, _note(code, fdn, detail), fdn))
        steps = _laid_out(writes, pa.table(done["order"]), pa.table(done["own"]))
        return Plan(steps, self.notes, self._effects(pa.table(done["effects"])), done["dropped"])

    def check(self, values: bool = True) -> tuple[pa.Table, pa.Table, pa.Table, set[str]] | None:
        """Every refusal of the ChangeSet into :attr:`problems` (``values``: the values the
        catalog refuses too); the writes (each attribute's last, typed), creates, deletes and
        created FDNs the steps are made of, or None when a name is refused (nothing else is
        then judged)."""
        ch = _changeset_rows(self.changes)
        self._check_names(ch)
        if self.problems:
            return None
        phases = ch.group_by("phase_order", use_threads=False).aggregate([("phase", "first")])
        for order, name in zip(phases["phase_order"].to_pylist(), phases["phase_first"].to_pylist(), strict=True):
            self.phase_names.setdefault(order, name)
        structural = ch.filter(pc.is_null(ch["attribute"]))
        creates = structural.filter(pc.equal(structural["op"], "create"))
        deletes = structural.filter(pc.equal(structural["op"], "delete"))
        # (no copy when every row writes a value, as most ChangeSets do)
        writes = ch if ch["attribute"].null_count == 0 else ch.filter(pc.is_valid(ch["attribute"]))
        created_fdns = set(creates["fdn"].to_pylist())
        # a create of an MO the network has is a set of what it gives
        again = {f for f in created_fdns if f in self.existing}
        if again:
            self.notes.append(
                Problem(
                    "exists", f"{len(again)} MO(s) to create exist already: their values are set instead", min(again)
                )
            )
            created_fdns -= again
            creates = creates.filter(pc.invert(pc.is_in(creates["fdn"], value_set=pa.array(sorted(again)))))
            writes = writes.set_column(
                writes.schema.get_field_index("op"),
                "op",
                pc.if_else(pc.is_in(writes["fdn"], value_set=pa.array(sorted(again))), "set", writes["op"]),
            )
        self._check_existence(ch, writes, created_fdns)
        # the last write of each attribute in each phase, with the kind of its value, values
        # written the way the node compares them (``0500`` is ``500``)
        writes = pa.table(_native.last_writes(writes.combine_chunks(), self.cat.native))
        self._check_attributes(writes)
        self._check_operations(writes, creates, deletes, created_fdns)
        if values:
            self._check_values(writes)
        self._check_creates(creates, created_fdns)
        return writes, creates, deletes, created_fdns

    # -- checks ---------------------------------------------------------------------------

    def _check_names(self, ch: pa.Table) -> None:
        """Every name of the ChangeSet in the one grammar of :mod:`rtbfast.names` (no name is
        quoted in any dialect: one that needs it would be a command of its own)."""
        from rtbfast.names import refused_names

        found: list[tuple[int, str, str]] = []
        for column, kind in (("fdn", "fdn"), ("class", "class"), ("attribute", "attribute"), ("member", "member")):
            found.extend((row, column, why) for row, why in refused_names(ch[column], kind))  # type: ignore[arg-type]
        if not found:
            return
        found.sort()
        rows = ch.take(pa.array([r for r, _, _ in found[:LISTED]], pa.int64())).select(["fdn", "source"]).to_pylist()
        for (_, column, why), r in zip(found[:LISTED], rows, strict=True):
            self.problem("bad_name", f"the ChangeSet's {column}: {why}", r["fdn"], r["source"])
        if len(found) > LISTED:
            self.problem("more", f"{len(found) - LISTED:,} more name(s) refused, not listed")

    def _check_existence(self, changes: pa.Table, writes: pa.Table, created: set[str]) -> None:
        deletes = changes.filter(pc.equal(changes["op"], "delete"))
        for table, what in ((writes, "set"), (deletes, "delete")):
            if not table.num_rows:
                continue
            known = pa.table(self.net.native.exists(table.select(["fdn"])))["exists"]
            if created:
                known = pc.or_(known, pc.is_in(table["fdn"], value_set=pa.array(sorted(created), pa.string())))
            if pc.all(known).as_py():
                continue
            missing = table.filter(pc.invert(known))
            seen: set[str] = set()
            for r in missing.select(["fdn", "source"]).to_pylist():
                if r["fdn"] not in seen:
                    seen.add(r["fdn"])
                    self.problem(
                        "no_such_mo",
                        f"{r['fdn']} does not exist in the network: nothing to {what}",
                        r["fdn"],
                        r["source"],
                    )

    def _check_attributes(self, writes: pa.Table) -> None:
        if not writes["kind"].null_count:
            return
        unknown = writes.filter(pc.is_null(writes["kind"]))
        seen: set[tuple[str, str, str | None]] = set()
        by_class: dict[str, list[str]] = defaultdict(list)
        for cls, attr in self.flags:
            by_class[cls].append(attr)
        for r in unknown.select(["fdn", "class", "attribute", "member", "source"]).to_pylist():
            key = (r["class"], r["attribute"], r["member"])
            if key in seen:
                continue
            seen.add(key)
            if (r["class"], r["attribute"]) in self.flags:
                self.problem(
                    "unknown_member",
                    f"{r['class']}.{r['attribute']} has no member {r['member']}",
                    r["fdn"],
                    r["source"],
                )
            else:
                hint = did_you_mean(r["attribute"], by_class.get(r["class"], []))
                self.problem(
                    "unknown_attribute", f"{r['class']} has no attribute {r['attribute']}{hint}", r["fdn"], r["source"]
                )

    def _check_operations(self, writes: pa.Table, creates: pa.Table, deletes: pa.Table, created: set[str]) -> None:
        """The audit's operation rules that refuse a change (read-only and restricted
        attributes, mandatory attributes of a create, MOs the node creates), on the writes they
        can refuse: those of a read-only or restricted attribute (``guarded``) and those of
        created MOs."""
        from rtbfast.rules.operations import operation_violations

        relevant = writes["guarded"]
        if created:
            relevant = pc.or_(relevant, pc.is_in(writes["fdn"], value_set=pa.array(sorted(created), pa.string())))
        writes = writes.filter(relevant)
        if not writes.num_rows and not creates.num_rows and not deletes.num_rows:
            return
        modifier = {"create": "create", "set": "update", "delete": "delete"}
        plain = pa.schema([("fdn", pa.string()), ("class", pa.string()), ("op", pa.string())])
        mos = pa.concat_tables(
            [
                t.select(["fdn", "class", "op"]).cast(plain)
                for t in (creates, deletes, writes.filter(pc.equal(writes["op"], "set")))
            ]
        )
        firsts = mos.group_by("fdn", use_threads=False).aggregate([("class", "first"), ("op", "first")])
        mo_table = pa.table(
            {
                "fdn": firsts["fdn"],
                "class": firsts["class_first"],
                "modifier": pc.replace_substring_regex(firsts["op_first"], "^set$", modifier["set"]),
            }
        )
        text = pa.string()
        values = writes.select(["fdn", "attribute", "value"]).cast(
            pa.schema([("fdn", text), ("attribute", text), ("value", text)])
        )
        found = operation_violations(
            {"mos": mo_table, "values": values}, self.cat.constraints, self.cat.tables.get("classes"), self.cat.locks
        )
        found = found.filter(pc.equal(found["severity"], "error"))
        if not found.num_rows:
            return
        by_fdn = _sources_of(self.changes, found["subject"], by_attribute=False)
        for v in found.to_pylist():
            self.problem(v["rule"], f"{v['subject']}: {v['message']}", v["subject"], by_fdn.get(v["subject"]))

    def _check_values(self, writes: pa.Table) -> None:
        if not writes.num_rows:
            return
        bad = value_violations(writes, self.cat)  # (the rows with a value)
        if not bad.num_rows:
            return
        rows = writes.filter(pc.is_valid(writes["value"]))
        if bad.num_rows > LISTED:
            self.problem(
                "more",
                f"{bad.num_rows - LISTED:,} more value(s) the catalog refuses, not listed (the first {LISTED} are)",
            )
        bad = bad.slice(0, LISTED)
        sources = _sources_of(rows, bad["subject"])
        for v in bad.to_pylist():
            member = f".{v['member']}" if v["member"] else ""
            self.problem(
                v["rule"],
                f"{v['subject']}: {v['attribute']}{member} = {v['value']!r}: {v['message']}",
                v["subject"],
                sources.get(f"{v['subject']}{SEP}{v['attribute']}"),
            )

    def _check_creates(self, creates: pa.Table, created: set[str]) -> None:
        containment = self.cat.containment()
        known_classes = {p for p, _ in containment} | {c for _, c in containment}
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for fdn, cls, source in zip(
            creates["fdn"].to_pylist(), creates["class"].to_pylist(), creates["source"].to_pylist(), strict=True
        ):
            parent = fdn.rsplit(",", 1)[0] if "," in fdn else None
            if parent is None or (parent not in self.existing and parent not in created):
                self.problem("no_parent", f"{fdn}: its parent {parent} does not exist and is not created", fdn, source)
                continue
            parent_cls = parent.rsplit(",", 1)[-1].split("=", 1)[0]
            if known_classes and cls in known_classes and (parent_cls, cls) not in containment:
                allowed = sorted(c for p, c in containment if p == parent_cls)
                self.problem(
                    "containment",
                    f"{fdn}: a {cls} cannot be a child of {parent_cls} "
                    f"(its children: {', '.join(allowed[:10]) or 'none'})",
                    fdn,
                    source,
                )
                continue
            counts[(parent, cls)] += 1
        for (parent, cls), n in counts.items():
            limit = containment.get((parent.rsplit(",", 1)[-1].split("=", 1)[0], cls))
            if limit is None:
                continue
            row = self.net.row_of.get(parent)
            have = 0 if row is None else sum(1 for c in self.net.children.get(row, []) if self.net.cls[c] == cls)
            if have + n > limit:
                self.problem(
                    "cardinality",
                    f"{parent}: {have} {cls} now and {n} created: at most {limit}",
                    parent,
                    None,
                )

    # -- taking effect ----------------------------------------------------------------------

    def _effects(self, written: pa.Table) -> list[dict[str, Any]]:
        """What the summary reports: each change (``fdn``, ``class``, ``attribute`` written,
        as the native pass lists them) that waits for an unlock or a restart, or disturbs."""
        texts = self.cat.effect_texts
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for r in written.to_pylist():
            effect, disturbance, when = texts[(r["class"], r["attribute"])]
            if (r["fdn"], r["attribute"]) in seen:
                continue
            seen.add((r["fdn"], r["attribute"]))
            out.append(
                {
                    "fdn": r["fdn"],
                    "class": r["class"],
                    "attribute": r["attribute"],
                    "takes_effect": effect,
                    "when": when,
                    "disturbances": disturbance,
                }
            )
        return out


def _note(code: str, fdn: str, detail: Any) -> str:
    """The words of what the native passes note: ``cycle`` (how many references), ``no_lock``
    (the attributes), ``cascade`` (the attribute)."""
    if code == "cycle":
        return f"{detail} reference(s) among new MOs set after the creates (a cycle)"
    if code == "no_lock":
        return f"{fdn}: {', '.join(detail)} need a LOCKED MO, and none above it has an administrativeState"
    return f"{fdn} is deleted too: its {detail} refers to a deleted MO and cannot be cleared"


def plan_problems(
    changes: pa.Table, network: NetworkIndex, catalog: CatalogView, *, values: bool = True
) -> list[Problem]:
    """What :func:`make_plan` would refuse in `changes`, without planning (``values=False``:
    the values the catalog refuses left to whoever judges them)."""
    planner = Planner(changes, network, catalog)
    planner.check(values)
    return planner.problems


def make_plan(changes: pa.Table, network: NetworkIndex, catalog: CatalogView) -> Plan:
    """Plan `changes` (a ChangeSet) on `network` with `catalog`; :class:`PlanError` lists what
    cannot be planned."""
    return Planner(changes, network, catalog).plan()
