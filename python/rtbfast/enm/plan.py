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

Large ChangeSets are planned with Arrow joins, group-bys and sorts; per-MO work in Python is
only for creates, deletes and locks.

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

from rtbfast.catalog_view import ADMIN, CatalogView
from rtbfast.changeset import EMPTIED
from rtbfast.enm.typed_values import typed_text
from rtbfast.errors import RtbfastError
from rtbfast.network_index import NetworkIndex, is_in_column
from rtbfast.schemas import PLAN_SCHEMA, SEP
from rtbfast.suggest import did_you_mean

LISTED = 200
"""Problems of one kind listed one by one; past that, one problem says how many more."""
_RANK = {"create": 0, "lock": 1, "set": 2, "relink": 3, "unlock": 4, "unlink": 5, "lock_delete": 6, "delete": 7}
"""The order of step kinds in a phase."""

RESTART_WORDS = r"(?i)restart|reboot"
UNLOCK_WORDS = r"(?i)unlock|lock/unlock|disabled/enabled|cell.*(re)?start"


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
    ``index``, ``value``), judged by the native evaluator of `rtbfast audit`."""
    from rtbfast.rules import evaluate

    mos = rows.group_by("fdn", use_threads=False).aggregate([("class", "first")]).rename_columns(["fdn", "class"])
    values = pa.table(
        {
            "fdn": rows["fdn"].combine_chunks().dictionary_encode(),
            "attribute": rows["attribute"].combine_chunks().dictionary_encode(),
            "member": rows["member"].combine_chunks().dictionary_encode(),
            "index": pc.fill_null(rows["index"], 0),
            "value": rows["value"],
        }
    )
    found = evaluate({"mos": mos, "values": values}, catalog.constraints).violations
    return found.filter(
        pc.and_(pc.is_in(found["rule"], value_set=pa.array(VALUE_RULES)), pc.equal(found["severity"], "error"))
    )


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


def _last_writes(writes: pa.Table) -> tuple[pa.Table, pa.Array]:
    """Of the rows writing each (fdn, attribute), those of its last write in each phase; and
    the distinct keys (``fdn<SEP>attribute``), which the rows' ``code`` column indexes. The
    rows of one write (a struct or a sequence is several) follow each other in ``seq``, with
    one target and source."""
    seq = writes["seq"]
    if writes.num_rows > 1 and not pc.all(pc.greater_equal(seq.slice(1), seq.slice(0, writes.num_rows - 1))).as_py():
        writes = writes.sort_by("seq")
    # every key hashed once: what follows compares and groups integers
    key = _key(writes)
    encoded = pc.dictionary_encode(key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key)
    keys, code = encoded.dictionary, pc.cast(encoded.indices, pa.int32())
    writes = writes.append_column("code", code)
    n = writes.num_rows
    if n > 1:

        def changed(name: str) -> pa.Array:
            col = writes[name].combine_chunks()
            if not pa.types.is_integer(col.type):
                col = pc.fill_null(pc.cast(col, pa.string()), "\x00")
            return pc.not_equal(col.slice(1), col.slice(0, n - 1))

        # a new write: another attribute, target or source, or a scalar written again
        member = writes["member"].combine_chunks()
        index = pc.fill_null(writes["index"].combine_chunks(), -3)
        again = pc.and_(
            pc.and_(pc.is_null(member.slice(1)), pc.is_null(member.slice(0, n - 1))),
            pc.equal(index.slice(1), index.slice(0, n - 1)),
        )
        starts = pc.or_(pc.or_(changed("code"), changed("target")), pc.or_(changed("source"), again))
    else:
        starts = pa.array([], pa.bool_())
    run = pc.cumulative_sum(pa.concat_arrays([pa.array([0], pa.int64()), pc.cast(starts, pa.int64())]))
    # the last write in each phase: a later phase may write again on purpose (a value a step
    # of the plan needs for a while)
    groups = pa.table({"code": code, "phase_order": writes["phase_order"], "run": run})
    last = groups.group_by(["code", "phase_order"], use_threads=False).aggregate([("run", "max")])
    # the target is not needed past here
    writes = writes.drop_columns(["target"])
    if last.num_rows == int(run[-1].as_py()) + 1:
        return writes, keys  # each attribute written once a phase: nothing to leave out
    return writes.filter(pc.is_in(run, value_set=last["run_max"])), keys


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


def _signature(table: pa.Table) -> pa.Table:
    """code → one text per whole attribute value (items and members in order, values typed)."""
    order = table.sort_by([("code", "ascending"), ("index", "ascending"), ("member", "ascending")])
    text = pc.binary_join_element_wise(
        pc.cast(pc.fill_null(order["index"], -2), pa.string()),
        pc.fill_null(order["member"], ""),
        pc.fill_null(order["typed"], "\x00null"),
        "\x1e",
    )
    order = order.append_column("text", text)
    grouped = order.group_by("code", use_threads=False).aggregate([("text", "list")])
    return pa.table({"code": grouped["code"], "sig": pc.binary_join(grouped["text_list"], "\x1d")})


class Planner:
    def __init__(self, changes: pa.Table, network: NetworkIndex, catalog: CatalogView) -> None:
        self.changes = changes
        self.net = network
        self.cat = catalog
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []
        self.flags = catalog.attribute_flags()
        self.kinds = catalog.kinds
        self.admin = catalog.admin_classes()
        self.existing = set(network.fdn)
        self.phase_names: dict[int, str] = {}
        self.windows: dict[tuple[int, str, str], int] = {}
        self.keys: pa.Array = pa.array([], pa.string())
        """The distinct ``fdn<SEP>attribute`` written; a write's ``code`` indexes them."""
        """(phase, op, fdn) → the lock window a lock, set or unlock step belongs to."""

    def problem(self, code: str, message: str, fdn: str = "", source: str | None = None) -> None:
        self.problems.append(Problem(code, message, fdn, source))

    # -- the whole ------------------------------------------------------------------------

    def plan(self) -> Plan:
        checked = self.check()
        if checked is None or self.problems:
            raise PlanError(self.problems)
        writes, creates, deletes, created_fdns = checked
        writes, dropped = self._minimal(writes, created_fdns)
        steps = self._steps(writes, creates, deletes, created_fdns)
        effects = self._effects(writes)
        return Plan(steps, self.notes, effects, dropped)

    def check(self, values: bool = True) -> tuple[pa.Table, pa.Table, pa.Table, set[str]] | None:
        """Every refusal of the ChangeSet into :attr:`problems` (``values``: the values the
        catalog refuses too); the writes, creates, deletes and created FDNs the steps are made
        of, or None when a name is refused (nothing else is then judged)."""
        ch = self.changes
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
        deleted_fdns = set(deletes["fdn"].to_pylist())
        # a create of an MO the network has is a set of what it gives
        again = created_fdns & self.existing
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
        self._check_existence(writes, created_fdns, deleted_fdns)
        writes, self.keys = _last_writes(writes) if writes.num_rows else (writes, pa.array([], pa.string()))
        writes = self._with_kinds(writes)
        self._check_attributes(writes)
        self._check_operations(writes, creates, deletes)
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

    def _check_existence(self, writes: pa.Table, created: set[str], deleted: set[str]) -> None:
        known = pa.array(sorted(self.existing | created), pa.string())
        for table, what in ((writes, "set"), (self.changes.filter(pc.equal(self.changes["op"], "delete")), "delete")):
            missing = table.filter(pc.invert(pc.is_in(table["fdn"], value_set=known)))
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

    def _with_kinds(self, writes: pa.Table) -> pa.Table:
        """The rows with the kind of their value and whether the attribute is a sequence;
        integers and booleans written the canonical way (``0500`` is ``500``)."""
        joined = _join_kinds(writes, self.kinds)
        canonical = typed_text(joined["value"], joined["kind"])
        return joined.set_column(joined.schema.get_field_index("value"), "value", canonical)

    def _check_attributes(self, writes: pa.Table) -> None:
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

    def _check_operations(self, writes: pa.Table, creates: pa.Table, deletes: pa.Table) -> None:
        from rtbfast.rules.operations import operation_violations

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
        rows = writes.filter(pc.is_valid(writes["value"]))
        if not rows.num_rows:
            return
        bad = value_violations(rows, self.cat)
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

    # -- minimal --------------------------------------------------------------------------

    def _minimal(self, writes: pa.Table, created: set[str]) -> tuple[pa.Table, int]:
        """Writes of existing MOs whose whole attribute already holds the wanted value are
        dropped (the writes of created MOs all stay)."""
        if not writes.num_rows:
            return writes, 0
        on_existing = pc.invert(pc.is_in(writes["fdn"], value_set=pa.array(sorted(created), pa.string())))
        # every key was hashed once (`_last_writes`): the work below groups and matches codes
        keys, code = self.keys, writes["code"]
        # only the first phase writing an attribute is compared with the network: a later
        # phase writes over what an earlier one wrote
        slim = pa.table({"code": code, "phase_order": writes["phase_order"]})
        first_phase = slim.group_by("code", use_threads=False).aggregate([("phase_order", "min")])
        at = pc.index_in(code, value_set=first_phase["code"])
        is_first = pc.equal(writes["phase_order"], pc.take(first_phase["phase_order_min"], at))
        on_existing = pc.and_(on_existing, is_first)
        wanted = pa.table(
            {
                "code": code,
                "fdn": writes["fdn"],
                "index": writes["index"],
                "member": writes["member"],
                "value": writes["value"],
                "kind": writes["kind"],
            }
        ).filter(on_existing)
        if not wanted.num_rows or self.net._values is None:
            return writes, 0
        candidate_codes = pc.unique(wanted["code"])
        touched = pc.unique(wanted["fdn"])
        # an emptied sequence and an unset attribute hold no rows
        wanted = wanted.filter(pc.is_valid(wanted["value"]))
        wanted = pa.table(
            {
                "code": wanted["code"],
                "index": wanted["index"],
                "member": wanted["member"],
                "typed": typed_text(wanted["value"], wanted["kind"]),
            }
        )
        current = self.net.value_rows(touched)
        current_code = pc.index_in(_key(current), value_set=keys)
        current = current.append_column("code", current_code).filter(pc.is_in(current_code, value_set=candidate_codes))
        touched_list = touched.to_pylist()
        classes = pa.array([self.net.cls[self.net.row_of[f]] for f in touched_list], pa.string())
        current = current.append_column("class", pc.take(classes, pc.index_in(current["fdn"], value_set=touched)))
        current = _join_kinds(current, self.kinds)
        have = pa.table(
            {
                "code": current["code"],
                "index": current["index"],
                "member": current["member"],
                "typed": typed_text(current["value"], current["kind"]),
            }
        )
        want_sig = _signature(wanted)
        have_sig = _signature(have).rename_columns(["code", "have"])
        both = (
            pa.table({"code": candidate_codes})
            .join(want_sig, "code", join_type="left outer")
            .join(have_sig, "code", join_type="left outer")
        )
        same = both.filter(pc.fill_null(pc.equal(pc.fill_null(both["sig"], ""), pc.fill_null(both["have"], "")), False))
        if not same.num_rows:
            return writes, 0
        drop = pc.and_(pc.is_in(code, value_set=same["code"]), on_existing)
        return writes.filter(pc.invert(drop)), len(same)

    # -- steps ----------------------------------------------------------------------------

    def _steps(self, writes: pa.Table, creates: pa.Table, deletes: pa.Table, created: set[str]) -> pa.Table:
        parts: list[tuple[pa.Table, str]] = []
        # step identity: (phase_order, rank, order, fdn); rows keep their seq inside a step
        heads: list[
            tuple[int, int, float, str, str, str, str | None]
        ] = []  # (phase, rank, order, op, fdn, cls, source)
        extra_rows: list[dict[str, Any]] = []

        # creates: topological by parent and references among created MOs
        create_rows = writes.filter(pc.is_in(writes["fdn"], value_set=pa.array(sorted(created), pa.string())))
        order, deferred = self._create_order(creates, create_rows, created)
        phase_of_create = dict(zip(creates["fdn"].to_pylist(), creates["phase_order"].to_pylist(), strict=True))
        class_of = dict(zip(creates["fdn"].to_pylist(), creates["class"].to_pylist(), strict=True))
        source_of = dict(zip(creates["fdn"].to_pylist(), creates["source"].to_pylist(), strict=True))
        for i, fdn in enumerate(order):
            heads.append((phase_of_create[fdn], _RANK["create"], i, "create", fdn, class_of[fdn], source_of[fdn]))
        if deferred:
            is_deferred = pc.is_in(
                _key(create_rows), value_set=pa.array([f"{f}{SEP}{a}" for f, a in deferred], pa.string())
            )
            later = create_rows.filter(is_deferred)
            create_rows = create_rows.filter(pc.invert(is_deferred))
            later = later.set_column(
                later.schema.get_field_index("op"), "op", pa.array(["set"] * later.num_rows, pa.string())
            )
            for fdn in dict.fromkeys(later["fdn"].to_pylist()):
                heads.append(
                    (phase_of_create[fdn], _RANK["relink"], len(heads), "set", fdn, class_of[fdn], source_of[fdn])
                )
            parts.append((later, "relink"))
        parts.append((create_rows, "create"))

        # sets of existing MOs: one step per MO and phase, in the order of their first write
        sets = writes.filter(pc.invert(pc.is_in(writes["fdn"], value_set=pa.array(sorted(created), pa.string()))))
        sets = sets.set_column(sets.schema.get_field_index("op"), "op", pa.array(["set"] * sets.num_rows, pa.string()))
        parts.append((sets, "set"))
        firsts = sets.group_by(["phase_order", "fdn"], use_threads=False).aggregate(
            [("seq", "min"), ("class", "first"), ("source", "first")]
        )
        for r in firsts.to_pylist():
            heads.append(
                (
                    r["phase_order"],
                    _RANK["set"],
                    float(r["seq_min"]),
                    "set",
                    r["fdn"],
                    r["class_first"],
                    r["source_first"],
                )
            )

        # locks around the sets that need them
        self._locks(sets, heads, extra_rows)

        # deletes: subtrees, children first, references cleared before
        self._deletes(deletes, heads, extra_rows)

        return self._number(heads, parts, extra_rows)

    def _create_order(
        self, creates: pa.Table, rows: pa.Table, created: set[str]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Created MOs in an order ENM accepts, and the (fdn, attribute) references set after
        the creates to break cycles."""
        refs: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        moref = rows.filter(pc.equal(rows["kind"], "moref"))
        for fdn, attribute, value in zip(
            moref["fdn"].to_pylist(), moref["attribute"].to_pylist(), moref["value"].to_pylist(), strict=True
        ):
            if value in created and value != fdn:
                refs[fdn][attribute].add(value)
        fdns = creates["fdn"].to_pylist()
        depth = {f: f.count(",") for f in fdns}
        deferred: list[tuple[str, str]] = []

        def needs(f: str) -> set[str]:
            parent = f.rsplit(",", 1)[0]
            out = {parent} if parent in created else set()
            for targets in refs[f].values():
                out |= targets
            return out

        done: list[str] = []
        done_set: set[str] = set()
        position = {f: i for i, f in enumerate(fdns)}
        remaining = sorted(fdns, key=lambda f: (depth[f], position[f]))
        while remaining:
            ready = [f for f in remaining if not (needs(f) - done_set)]
            if ready:
                done.extend(ready)
                done_set.update(ready)
                remaining = [f for f in remaining if f not in done_set]
                continue
            # a cycle of references: set one reference after the creates
            broken = False
            for f in remaining:
                for attribute, targets in list(refs[f].items()):
                    if targets - done_set and not self.flags.get(
                        (f.rsplit(",", 1)[-1].split("=", 1)[0], attribute), {}
                    ).get("mandatory"):
                        deferred.append((f, attribute))
                        del refs[f][attribute]
                        broken = True
                        break
                if broken:
                    break
            if not broken:
                self.problem(
                    "cycle",
                    "these MOs reference each other through mandatory references and cannot be created: "
                    + ", ".join(remaining[:6]),
                    remaining[0],
                )
                raise PlanError(self.problems)
        if deferred:
            self.notes.append(
                Problem(
                    "cycle",
                    f"{len(deferred)} reference(s) among new MOs set after the creates (a cycle)",
                    deferred[0][0],
                )
            )
        return done, deferred

    def _lock_target(self, fdn: str) -> str | None:
        """The MO a change of `fdn` locks: itself or the nearest ancestor with an
        administrativeState, in the network."""
        row = self.net.row_of.get(fdn)
        if row is None:
            return None
        if self.net.cls[row] in self.admin:
            return fdn
        for a in self.net.ancestors(row):
            if self.net.cls[a] in self.admin:
                return self.net.fdn[a]
        return None

    def _locks(self, sets: pa.Table, heads: list[Any], extra: list[dict[str, Any]]) -> None:
        if not sets.num_rows or not self.cat.locks:
            return
        pairs = pa.table(
            {
                "class": [c for c, _ in sorted(self.cat.locks)],
                "attribute": [a for _, a in sorted(self.cat.locks)],
                "locked": [True] * len(self.cat.locks),
            }
        )
        needing = sets.join(pairs, ["class", "attribute"], join_type="inner")
        if not needing.num_rows:
            return
        firsts = needing.group_by(["phase_order", "fdn"], use_threads=False).aggregate([("attribute", "list")])
        by_target: dict[tuple[int, str], list[str]] = defaultdict(list)
        for r in firsts.to_pylist():
            target = self._lock_target(r["fdn"])
            if target is None:
                self.notes.append(
                    Problem(
                        "no_lock",
                        f"{r['fdn']}: {', '.join(r['attribute_list'])} need a LOCKED MO, "
                        "and none above it has an administrativeState",
                        r["fdn"],
                    )
                )
                continue
            by_target[(r["phase_order"], target)].append(r["fdn"])
        for (phase, target), fdns in by_target.items():
            row = self.net.row_of[target]
            original = self.net.value(row, ADMIN)
            if original == "LOCKED":
                continue
            # a window per locked MO: lock, its sets, unlock, before the next MO is locked, so
            # no two cells are down at once
            window = len(self.windows)
            self.windows[(phase, "lock", target)] = window
            self.windows[(phase, "unlock", target)] = window
            for fdn in fdns:
                self.windows[(phase, "set", fdn)] = window
            cls = self.net.cls[row]
            why = f"rtbfast: {target} is LOCKED while {len(fdns)} MO(s) change"
            heads.append((phase, _RANK["lock"], len(heads), "lock", target, cls, why))
            extra.append({"head": len(heads) - 1, "attribute": ADMIN, "value": "LOCKED"})
            heads.append((phase, _RANK["unlock"], len(heads), "unlock", target, cls, why))
            extra.append({"head": len(heads) - 1, "attribute": ADMIN, "value": str(original or "UNLOCKED")})

    def _deletes(self, deletes: pa.Table, heads: list[Any], extra: list[dict[str, Any]]) -> None:
        if not deletes.num_rows:
            return
        net = self.net
        phase_of: dict[str, int] = {}
        source_of: dict[str, str | None] = {}

        def subtree(fdn: str, phase: int, source: str | None) -> None:
            pending = [net.row_of[fdn]]
            while pending:
                r = pending.pop()
                phase_of.setdefault(net.fdn[r], phase)
                source_of.setdefault(net.fdn[r], source)
                pending.extend(net.children.get(r, []))

        for fdn, phase, source in zip(
            deletes["fdn"].to_pylist(), deletes["phase_order"].to_pylist(), deletes["source"].to_pylist(), strict=True
        ):
            if fdn in net.row_of:
                subtree(fdn, phase, source)

        # references to deleted MOs from MOs that stay: cleared first; an MO whose reference
        # is restricted or mandatory (a relation to a deleted cell) cannot lose it, and goes too
        moref_attrs = {(c, a) for (c, a), f in self.flags.items() if f["kind"] == "moref"}
        values = net._values
        holders: dict[tuple[str, str], list[int]] = defaultdict(list)
        while values is not None and values.num_rows and moref_attrs:
            gone = set(phase_of)
            refs = values.filter(pc.is_in(values["value"], value_set=pa.array(sorted(gone), pa.string())))
            refs = pa.table(
                {
                    "fdn": _string(refs["fdn"]),
                    "attribute": _string(refs["attribute"]),
                    "member": _string(refs["member"]),
                    "index": refs["index"],
                    "value": refs["value"],
                }
            )
            refs = refs.filter(pc.invert(pc.is_in(refs["fdn"], value_set=pa.array(sorted(gone), pa.string()))))
            holders = defaultdict(list)
            cascaded = False
            for r in refs.filter(pc.is_null(refs["member"])).to_pylist():
                cls = r["fdn"].rsplit(",", 1)[-1].split("=", 1)[0]
                f = self.flags.get((cls, r["attribute"]))
                if f is None or f["kind"] != "moref":
                    continue
                if f.get("restricted") or f.get("mandatory"):
                    target = phase_of[r["value"]]
                    subtree(r["fdn"], target, source_of[r["value"]])
                    self.notes.append(
                        Problem(
                            "cascade",
                            f"{r['fdn']} is deleted too: its {r['attribute']} refers to a deleted MO "
                            "and cannot be cleared",
                            r["fdn"],
                        )
                    )
                    cascaded = True
                    continue
                holders[(r["fdn"], r["attribute"])].append(r["index"] or 0)
            if not cascaded:
                break
        gone = set(phase_of)
        if holders:
            for (fdn, attribute), _ in holders.items():
                row = net.row_of[fdn]
                cls = net.cls[row]
                current = net.value(row, attribute)
                phase = min(phase_of.values())
                heads.append(
                    (
                        phase,
                        _RANK["unlink"],
                        len(heads),
                        "set",
                        fdn,
                        cls,
                        f"rtbfast: a reference to a deleted MO ({attribute})",
                    )
                )
                flags = self.flags.get((cls, attribute), {})
                if isinstance(current, list) or flags.get("is_sequence"):
                    kept = [v for v in (current if isinstance(current, list) else [current]) if v not in gone]
                    if kept:
                        for i, v in enumerate(kept):
                            extra.append(
                                {
                                    "head": len(heads) - 1,
                                    "attribute": attribute,
                                    "index": i,
                                    "value": str(v),
                                    "kind": "moref",
                                    "is_sequence": True,
                                }
                            )
                    else:
                        extra.append(
                            {
                                "head": len(heads) - 1,
                                "attribute": attribute,
                                "index": EMPTIED,
                                "value": None,
                                "kind": "moref",
                                "is_sequence": True,
                            }
                        )
                else:
                    extra.append(
                        {
                            "head": len(heads) - 1,
                            "attribute": attribute,
                            "index": None,
                            "value": None,
                            "kind": "moref",
                            "is_sequence": False,
                        }
                    )
        # a lockable MO that is not LOCKED is locked before it goes; children first
        # an MO the node creates goes with its parent (and comes back with it)
        created_by_node = self.cat.system_created

        def implicit(f: str) -> bool:
            parent = f.rsplit(",", 1)[0]
            return net.cls[net.row_of[f]] in created_by_node and parent in gone

        ordered = sorted((f for f in gone if not implicit(f)), key=lambda f: (-f.count(","), f))
        for mo in ordered:
            row = net.row_of[mo]
            cls = net.cls[row]
            if cls in self.admin and net.value(row, ADMIN) not in (None, "LOCKED"):
                why = f"rtbfast: {cls} is LOCKED before it is deleted"
                heads.append((phase_of[mo], _RANK["lock_delete"], len(heads), "lock", mo, cls, why))
                extra.append({"head": len(heads) - 1, "attribute": ADMIN, "value": "LOCKED"})
        for i, mo in enumerate(ordered):
            heads.append((phase_of[mo], _RANK["delete"], i, "delete", mo, net.cls[net.row_of[mo]], source_of[mo]))

    def _number(self, heads: list[Any], parts: list[tuple[pa.Table, str]], extra: list[dict[str, Any]]) -> pa.Table:
        """Number the steps and lay out their rows."""
        windowed = (_RANK["lock"], _RANK["set"], _RANK["unlock"])
        within = {"lock": 0, "set": 1, "unlock": 2}

        def place(i: int) -> tuple[int, int, int, int, float]:
            phase, rank, at, op, fdn = heads[i][:5]
            window = self.windows.get((phase, op, fdn)) if rank in windowed else None
            if window is not None:
                return (phase, _RANK["lock"], window, within[op], at)
            return (phase, rank, -1, 0, at)

        order = sorted(range(len(heads)), key=place)
        step_of_head = {h: n for n, h in enumerate(order)}
        # the rows of sets and creates: their step is their MO's step in their phase and kind,
        # looked up column-wise by "kind<SEP>phase<SEP>fdn" (a create's phase left empty)
        head_keys: list[str] = []
        head_steps: list[int] = []
        for h, n in step_of_head.items():
            phase, rank, _, op, fdn, _, _ = heads[h]
            if rank == _RANK["create"]:
                head_keys.append(f"create{SEP}{SEP}{fdn}")
            elif rank in (_RANK["set"], _RANK["relink"]):
                head_keys.append(f"{'relink' if rank == _RANK['relink'] else op}{SEP}{phase}{SEP}{fdn}")
            else:
                continue
            head_steps.append(n)
        key_set = pa.array(head_keys, pa.string())
        step_array = pa.array(head_steps, pa.int64())
        tables = []
        for part, kind in parts:
            if not part.num_rows:
                continue
            phase_text = pc.cast(part["phase_order"], pa.string()) if kind != "create" else pa.scalar("")
            keys = pc.binary_join_element_wise(kind, phase_text, _string(part["fdn"]), SEP)
            steps = pc.take(step_array, pc.index_in(keys, value_set=key_set))
            ops = pa.array(["create" if kind == "create" else "set"] * part.num_rows, pa.string())
            tables.append(
                pa.table(
                    {
                        "step": steps,
                        "phase": part["phase"],
                        "phase_order": part["phase_order"],
                        "op": ops,
                        "fdn": part["fdn"],
                        "class": part["class"],
                        "attribute": part["attribute"],
                        "member": part["member"],
                        "index": part["index"],
                        "value": part["value"],
                        "kind": part["kind"],
                        "is_sequence": part["is_sequence"],
                        "source": part["source"],
                        "seq": part["seq"],
                    }
                )
            )
        # steps with rows of their own (structural steps, locks, reference clears)
        own: dict[str, list[Any]] = {
            name: []
            for name in (
                "step",
                "phase",
                "phase_order",
                "op",
                "fdn",
                "class",
                "attribute",
                "member",
                "index",
                "value",
                "kind",
                "is_sequence",
                "source",
                "seq",
            )
        }
        rows_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for e in extra:
            rows_of[e["head"]].append(e)
        for h, n in step_of_head.items():
            phase, rank, _, op, fdn, cls, source = heads[h]
            if rank in (_RANK["set"], _RANK["relink"]):
                continue
            given = rows_of.get(h) or [{}]
            if op == "create":
                given = [{}]
            for e in given:
                own["step"].append(n)
                own["phase"].append(self.phase_names.get(phase, "default"))
                own["phase_order"].append(phase)
                own["op"].append(op)
                own["fdn"].append(fdn)
                own["class"].append(cls)
                own["attribute"].append(e.get("attribute"))
                own["member"].append(None)
                own["index"].append(e.get("index", 0 if e.get("attribute") else None))
                own["value"].append(e.get("value"))
                own["kind"].append(e.get("kind", "enum" if e.get("attribute") == ADMIN else None))
                own["is_sequence"].append(e.get("is_sequence", False if e.get("attribute") else None))
                own["source"].append(source)
                own["seq"].append(-1)
        schema = pa.schema([*PLAN_SCHEMA, ("seq", pa.int64())])
        tables.append(pa.table(own, schema=schema))
        whole = pa.concat_tables([t.cast(schema) for t in tables])
        whole = whole.sort_by([("step", "ascending"), ("seq", "ascending")])
        return whole.drop_columns(["seq"]).cast(PLAN_SCHEMA)

    # -- taking effect ----------------------------------------------------------------------

    def _effects(self, writes: pa.Table) -> list[dict[str, Any]]:
        import re

        def when_of(effect: str | None) -> str | None:
            if effect and re.search(RESTART_WORDS, effect):
                return "restart"
            if effect and re.search(UNLOCK_WORDS, effect):
                return "unlock"
            return None

        # what the summary reports: a change that waits for an unlock or a restart, or disturbs
        texts = {k: v for k, v in self.cat.texts().items() if when_of(v[0]) or v[1]}
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        if not texts or not writes.num_rows:
            return out
        pair = pc.binary_join_element_wise(_string(writes["class"]), _string(writes["attribute"]), SEP)
        with_text = writes.filter(pc.is_in(pair, value_set=pa.array([f"{c}{SEP}{a}" for c, a in texts], pa.string())))
        unique = with_text.group_by(["fdn", "class", "attribute"], use_threads=False).aggregate([])
        pairs = unique.slice(0, 200_000).to_pylist()
        for r in pairs:
            key = (r["class"], r["attribute"])
            effect, disturbance = texts.get(key, (None, None))
            when = when_of(effect)
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
