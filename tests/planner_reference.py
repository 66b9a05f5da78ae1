"""The planner's, the rollback's and the simulator's passes as they were in Python
(``rtbfast.enm.plan``, ``rtbfast.enm.rollback`` and ``rtbfast.enm.simulator`` before the passes
moved into Rust: ``rust/src/enm/planner.rs``, ``rollback.rs``, ``simulate.rs``, ``judge.rs``),
kept here only as the independent implementation the native passes are compared with, row for
row (``tests/test_enm_native_planner.py``). Not used by the package."""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.changeset import EMPTIED
from rtbfast.catalog_view import ADMIN, CatalogView
from rtbfast.enm.plan import LISTED, VALUE_RULES, Plan, PlanError, Problem, _string
from rtbfast.enm.rollback import Rollback, UnknownRollback, _unknown_problems
from rtbfast.enm.typed_values import typed_text
from rtbfast.enm.simulator import Response, Simulator, _error, _node_error
from rtbfast.network_index import NetworkIndex, is_in_column
from rtbfast.schemas import PLAN_SCHEMA, SEP, UNKNOWN_ROLLBACK_SCHEMA
from rtbfast.suggest import did_you_mean

_RANK = {"create": 0, "lock": 1, "set": 2, "relink": 3, "unlock": 4, "unlink": 5, "lock_delete": 6, "delete": 7}
RESTART_WORDS = r"(?i)restart|reboot"
UNLOCK_WORDS = r"(?i)unlock|lock/unlock|disabled/enabled|cell.*(re)?start"


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
        ch = self.changes
        self._check_names(ch)
        if self.problems:
            raise PlanError(self.problems)
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
        self._check_values(writes)
        self._check_creates(creates, created_fdns)
        if self.problems:
            raise PlanError(self.problems)
        writes, dropped = self._minimal(writes, created_fdns)
        steps = self._steps(writes, creates, deletes, created_fdns)
        effects = self._effects(writes)
        return Plan(steps, self.notes, effects, dropped)

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


def make_plan(changes: pa.Table, network: NetworkIndex, catalog: CatalogView) -> Plan:
    """The plan as the Python passes made it."""
    return Planner(changes, network, catalog).plan()


def _network_rows(network: NetworkIndex, fdns: pa.Array) -> pa.Table:
    """The network's value rows of the MOs at `fdns`, as plain text columns, with ``key`` and
    their ``row`` (the network's order)."""
    table = network.value_rows(fdns)
    table = table.append_column("key", pc.binary_join_element_wise(table["fdn"], table["attribute"], SEP))
    return table.append_column("row", pa.array(range(table.num_rows), pa.int64()))


def make_rollback(
    plan: pa.Table, network: NetworkIndex, catalog: CatalogView, *, allow_unknown: bool = False
) -> Rollback:
    """The rollback of `plan` on `network` (the network the plan was made from). An
    attribute the plan changes on an MO of the network that the export does not carry is
    refused (:class:`UnknownRollback`), or with `allow_unknown` left out and listed."""
    if not plan.num_rows:
        return Rollback(PLAN_SCHEMA.empty_table(), UNKNOWN_ROLLBACK_SCHEMA.empty_table())
    last = int(pc.max(plan["step"]).as_py())
    flags = catalog.attribute_flags()
    heads = (
        plan.group_by("step", use_threads=False)
        .aggregate(
            [("op", "first"), ("fdn", "first"), ("class", "first"), ("phase", "first"), ("phase_order", "first")]
        )
        .sort_by("step")
    )
    parts: list[pa.Table] = []
    unknown_parts: list[pa.Table] = []

    # sets: the values before (the sets of MOs the plan creates are undone by their delete)
    writes = plan.filter(
        pc.and_(pc.is_in(plan["op"], value_set=pa.array(["set", "lock", "unlock"])), pc.is_valid(plan["attribute"]))
    )
    if writes.num_rows:
        touched = pc.unique(writes["fdn"]).to_pylist()
        existing = pa.array([f for f in touched if f in network.row_of], pa.string())
        if len(existing) < len(touched):
            writes = writes.filter(pc.is_in(writes["fdn"], value_set=existing))
    if writes.num_rows:
        written = (
            writes.group_by(["step", "fdn", "class", "attribute"], use_threads=False)
            .aggregate([("op", "first"), ("phase", "first"), ("phase_order", "first"), ("source", "first")])
            .rename_columns(["step", "fdn", "class", "attribute", "op", "phase", "phase_order", "source"])
        )
        written = written.append_column("key", pc.binary_join_element_wise(written["fdn"], written["attribute"], SEP))
        counts = written.group_by("key", use_threads=False).aggregate([("step", "count")])
        multi = set(counts.filter(pc.greater(counts["step_count"], 1))["key"].to_pylist())
        single = written.filter(pc.invert(pc.is_in(written["key"], value_set=pa.array(sorted(multi), pa.string()))))
        current = _network_rows(network, pc.unique(written["fdn"]))
        # single writers: the network's rows; matched on integer codes (each key of a single
        # writer is one step), not joined on text
        code_of_current = pc.index_in(current["key"], value_set=single["key"])
        held = current.filter(pc.is_valid(code_of_current))
        at = pc.drop_null(code_of_current)
        heads_cols = ["step", "key", "fdn", "class", "attribute", "phase", "phase_order", "op"]
        before = pa.table(
            {
                **{c: pc.take(single[c], at) for c in heads_cols},
                **{c: held[c] for c in ("member", "index", "value", "row")},
            }
        )
        # an attribute the export does not carry: its value before is not known
        positions = pa.array(range(single.num_rows), pa.int32())
        unheld = single.filter(pc.invert(pc.is_in(positions, value_set=pc.unique(pc.cast(at, pa.int32())))))
        if unheld.num_rows:
            unknown_parts.append(unheld.select(UNKNOWN_ROLLBACK_SCHEMA.names).cast(UNKNOWN_ROLLBACK_SCHEMA))
        # no sort here: within a step the rows are in the network's order, and the steps are
        # ordered once, below, with every other part
        set_parts = [_as_sets(before)]
        if multi:
            followed, unknown = _followed(writes, current, multi)
            set_parts.append(followed)
            if unknown.num_rows:
                unknown_parts.append(unknown)
        parts.extend(_shape(_join_kinds(t, catalog.kinds)) for t in set_parts if t.num_rows)
    unknown_table = (
        pa.concat_tables(unknown_parts).sort_by([("step", "ascending"), ("attribute", "ascending")])
        if unknown_parts
        else UNKNOWN_ROLLBACK_SCHEMA.empty_table()
    )
    if unknown_table.num_rows and not allow_unknown:
        raise UnknownRollback(_unknown_problems(unknown_table))

    # creates and deletes
    structural: dict[str, list[Any]] = defaultdict(list)
    create_values: list[pa.Table] = []
    created = heads.filter(pc.equal(heads["op_first"], "create"))
    deleted = heads.filter(pc.equal(heads["op_first"], "delete"))
    for table, op in ((created, "delete"), (deleted, "create")):
        for r in table.to_pylist():
            structural["step"].append(r["step"])
            structural["phase"].append(r["phase_first"])
            structural["phase_order"].append(r["phase_order_first"])
            structural["op"].append(op)
            structural["fdn"].append(r["fdn_first"])
            structural["class"].append(r["class_first"])
    if deleted.num_rows:
        rows = _network_rows(network, deleted["fdn_first"])
        steps = pa.table(
            {
                "fdn": deleted["fdn_first"],
                "step": deleted["step"],
                "class": deleted["class_first"],
                "phase": deleted["phase_first"],
                "phase_order": deleted["phase_order_first"],
            }
        )
        rows = rows.join(steps, "fdn", join_type="inner").sort_by("row")
        read_only = {(c, a) for (c, a), f in flags.items() if f.get("read_only")}
        if read_only and rows.num_rows:
            pair = pc.binary_join_element_wise(rows["class"], rows["attribute"], SEP)
            rows = rows.filter(pc.invert(pc.is_in(pair, value_set=pa.array([f"{c}{SEP}{a}" for c, a in read_only]))))
        rows = rows.append_column("op", pa.array(["create"] * rows.num_rows, pa.string()))
        create_values.append(rows)
    if structural["step"]:
        n = len(structural["step"])
        parts.append(
            pa.table(
                {
                    "step": pa.array(structural["step"], pa.int64()),
                    "phase": structural["phase"],
                    "phase_order": pa.array(structural["phase_order"], pa.int32()),
                    "op": structural["op"],
                    "fdn": structural["fdn"],
                    "class": structural["class"],
                    "attribute": pa.nulls(n, pa.string()),
                    "member": pa.nulls(n, pa.string()),
                    "index": pa.nulls(n, pa.int32()),
                    "value": pa.nulls(n, pa.string()),
                    "kind": pa.nulls(n, pa.string()),
                    "is_sequence": pa.nulls(n, pa.bool_()),
                    "source": pa.array(["rtbfast: rollback"] * n, pa.string()),
                }
            )
        )
    for rows in create_values:
        rows = _join_kinds(rows, catalog.kinds)
        parts.append(_shape(rows))
    if not any(p.num_rows for p in parts):
        return Rollback(PLAN_SCHEMA.empty_table(), unknown_table)
    whole = pa.concat_tables([p.cast(PLAN_SCHEMA) for p in parts if p.num_rows])
    # reverse order (the inverse of step s at place last - s); within a step, the structural
    # row first; the node-made MOs of a recreated one right after it
    order = pc.cast(pc.subtract(pa.scalar(last, pa.int64()), whole["step"]), pa.float64())
    whole = whole.append_column("order", order)
    if deleted.num_rows:
        restores = _node_made_restores(deleted, plan, network, catalog, last)
        if restores.num_rows:
            whole = pa.concat_tables([whole, restores])
    if deleted.num_rows:
        whole = _recreated_locked(whole, catalog)
    first = pc.is_null(whole["attribute"])
    whole = whole.append_column("first", pc.invert(first)).append_column(
        "row", pa.array(range(whole.num_rows), pa.int64())
    )
    whole = whole.sort_by([("order", "ascending"), ("first", "ascending"), ("row", "ascending")])
    distinct = pc.unique(whole["order"])
    new_step = pc.cast(pc.index_in(whole["order"], value_set=distinct), pa.int64())
    whole = whole.set_column(whole.schema.get_field_index("step"), "step", new_step)
    return Rollback(whole.drop_columns(["order", "first", "row"]).cast(PLAN_SCHEMA), unknown_table)


def _recreated_locked(whole: pa.Table, catalog: CatalogView) -> pa.Table:
    """A lockable MO the rollback recreates (a cell) is created LOCKED, and unlocked back to its
    state as the very last steps, once its children, the MOs that refer to it and their
    references exist again: it never carries traffic half rebuilt. The plan's own lock of it
    before its delete is then not undone on its own."""
    admin = catalog.admin_classes()
    creating = pc.and_(
        pc.and_(pc.equal(whole["op"], "create"), pc.equal(whole["attribute"], ADMIN)),
        pc.and_(pc.is_in(whole["class"], value_set=pa.array(sorted(admin), pa.string())), pc.is_valid(whole["value"])),
    )
    opened = whole.filter(pc.and_(pc.fill_null(creating, False), pc.not_equal(whole["value"], "LOCKED")))
    if not opened.num_rows:
        return whole
    fdns = opened["fdn"].combine_chunks()
    # created LOCKED
    value = pc.if_else(
        pc.and_(pc.fill_null(creating, False), pc.is_in(whole["fdn"], value_set=fdns)), "LOCKED", whole["value"]
    )
    whole = whole.set_column(whole.schema.get_field_index("value"), "value", value)
    # the undo of the plan's lock before the delete goes: the last steps unlock instead
    undo_lock = pc.and_(
        pc.and_(pc.is_in(whole["fdn"], value_set=fdns), pc.equal(whole["attribute"], ADMIN)),
        pc.is_in(whole["op"], value_set=pa.array(["lock", "unlock"])),
    )
    whole = whole.filter(pc.invert(pc.fill_null(undo_lock, False)))
    end = float(pc.max(whole["order"]).as_py()) + 1
    n = opened.num_rows
    unlocks = pa.table(
        {
            "step": pa.array([0] * n, pa.int64()),
            "phase": opened["phase"],
            "phase_order": opened["phase_order"],
            "op": pa.array(["unlock"] * n, pa.string()),
            "fdn": opened["fdn"],
            "class": opened["class"],
            "attribute": opened["attribute"],
            "member": pa.nulls(n, pa.string()),
            "index": opened["index"],
            "value": opened["value"],
            "kind": opened["kind"],
            "is_sequence": opened["is_sequence"],
            "source": opened["source"],
            "order": pa.array([end + k for k in range(n)], pa.float64()),
        }
    )
    return pa.concat_tables([whole, unlocks.cast(whole.schema)])


def _node_made_restores(
    deleted: pa.Table, plan: pa.Table, network: NetworkIndex, catalog: CatalogView, last: int
) -> pa.Table:
    """Sets restoring the MOs the node creates under each deleted MO (they went with it and
    come back with it, with the node's defaults): their configuration as it was, each a step
    right after the create of the MO they belong to."""
    made = catalog.system_created
    explicit = set(plan.filter(pc.equal(plan["op"], "delete"))["fdn"].to_pylist())
    flags = catalog.attribute_flags()
    targets: list[tuple[float, str]] = []
    for step, fdn in zip(deleted["step"].to_pylist(), deleted["fdn_first"].to_pylist(), strict=True):
        row = network.row_of.get(fdn)
        if row is None:
            continue
        pending = [(c, 1) for c in network.children.get(row, [])]
        k = 0
        while pending:
            child, depth = pending.pop(0)
            if network.cls[child] not in made or network.fdn[child] in explicit:
                continue
            k += 1
            targets.append((last - step + 0.5 + k * 1e-6, network.fdn[child]))
            pending.extend((c, depth + 1) for c in network.children.get(child, []))
    if not targets:
        return pa.table({**{f.name: pa.array([], f.type) for f in PLAN_SCHEMA}, "order": pa.array([], pa.float64())})
    rows = _network_rows(network, pa.array([f for _, f in targets], pa.string()))
    order_of = pa.table({"fdn": [f for _, f in targets], "order": [o for o, _ in targets]})
    rows = rows.join(order_of, "fdn").sort_by("row")
    classes = pc.take(
        pa.array(network.cls, pa.string()), pc.index_in(rows["fdn"], value_set=pa.array(network.fdn, pa.string()))
    )
    rows = rows.append_column("class", classes)
    read_only = {(c, a) for (c, a), f in flags.items() if f.get("read_only")}
    if read_only and rows.num_rows:
        pair = pc.binary_join_element_wise(rows["class"], rows["attribute"], SEP)
        rows = rows.filter(pc.invert(pc.is_in(pair, value_set=pa.array([f"{c}{SEP}{a}" for c, a in read_only]))))
    phase = deleted["phase_first"][0].as_py()
    phase_order = deleted["phase_order_first"][0].as_py()
    n = rows.num_rows
    rows = rows.append_column("step", pa.array([0] * n, pa.int64()))
    rows = rows.append_column("phase", pa.array([phase] * n, pa.string()))
    rows = rows.append_column("phase_order", pa.array([phase_order] * n, pa.int32()))
    rows = rows.append_column("op", pa.array(["set"] * n, pa.string()))
    shaped = _shape(_join_kinds(rows, catalog.kinds).sort_by("row"))
    return shaped.cast(PLAN_SCHEMA).append_column("order", _join_kinds(rows, catalog.kinds).sort_by("row")["order"])


def _shape(rows: pa.Table) -> pa.Table:
    n = rows.num_rows
    return pa.table(
        {
            "step": rows["step"],
            "phase": rows["phase"],
            "phase_order": rows["phase_order"],
            "op": rows["op"],
            "fdn": rows["fdn"],
            "class": rows["class"],
            "attribute": rows["attribute"],
            "member": rows["member"],
            "index": rows["index"],
            "value": rows["value"],
            "kind": rows["kind"],
            "is_sequence": rows["is_sequence"],
            "source": pa.array(["rtbfast: rollback"] * n, pa.string()),
        }
    )


def _as_sets(before: pa.Table) -> pa.Table:
    """Rows restoring each written attribute: its rows in the network, as they are."""
    return pa.table(
        {
            "step": before["step"],
            "phase": before["phase"],
            "phase_order": before["phase_order"],
            "op": _inverse_op(before["op"]),
            "fdn": before["fdn"],
            "class": before["class"],
            "attribute": before["attribute"],
            "member": before["member"],
            "index": before["index"].cast(pa.int32()),
            "value": before["value"],
        }
    )


def _inverse_op(op: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A lock is undone by an unlock and the other way round; a set by a set."""
    return pc.case_when(pc.make_struct(pc.equal(op, "lock"), pc.equal(op, "unlock")), "unlock", "lock", "set")


def _followed(writes: pa.Table, current: pa.Table, multi: set[str]) -> tuple[pa.Table, pa.Table]:
    """Attributes written by several steps: the value before each is the previous step's, and
    before the first the network's. Where the network holds none, the first step's restore is
    left out (and listed as unknown), but for an administrativeState, which goes back to the
    last state the plan gives it, so a rollback never leaves an MO locked."""
    state: dict[str, list[tuple[str | None, int | None, str | None]]] = defaultdict(list)
    for r in current.filter(pc.is_in(current["key"], value_set=pa.array(sorted(multi), pa.string()))).to_pylist():
        state[r["key"]].append((r["member"], r["index"], r["value"]))
    rows: dict[str, list[Any]] = defaultdict(list)
    unknown: dict[str, list[Any]] = defaultdict(list)
    mine = writes.append_column("key", pc.binary_join_element_wise(writes["fdn"], writes["attribute"], SEP))
    mine = mine.filter(pc.is_in(mine["key"], value_set=pa.array(sorted(multi), pa.string()))).sort_by("step")
    by_step_key: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in mine.to_pylist():
        by_step_key[(r["step"], r["key"])].append(r)
    last_written: dict[str, list[tuple[str | None, int | None, str | None]]] = {}
    for (_, key), new_rows in sorted(by_step_key.items()):
        last_written[key] = [(r["member"], r["index"], r["value"]) for r in new_rows if r["value"] is not None]
    for (step, key), new_rows in sorted(by_step_key.items()):
        head = new_rows[0]
        old = state.get(key)
        if old is None:
            unknown["fdn"].append(head["fdn"])
            unknown["class"].append(head["class"])
            unknown["attribute"].append(head["attribute"])
            unknown["step"].append(step)
            unknown["source"].append(head["source"])
            old = last_written[key] if head["attribute"] == ADMIN else []
        for member, index, value in old:
            rows["step"].append(step)
            rows["phase"].append(head["phase"])
            rows["phase_order"].append(head["phase_order"])
            rows["op"].append({"lock": "unlock", "unlock": "lock"}.get(head["op"], "set"))
            rows["fdn"].append(head["fdn"])
            rows["class"].append(head["class"])
            rows["attribute"].append(head["attribute"])
            rows["member"].append(member)
            rows["index"].append(index)
            rows["value"].append(value)
        state[key] = [(r["member"], r["index"], r["value"]) for r in new_rows if r["value"] is not None]
    table = pa.table(
        {
            "step": pa.array(rows["step"], pa.int64()),
            "phase": pa.array(rows["phase"], pa.string()),
            "phase_order": pa.array(rows["phase_order"], pa.int32()),
            "op": pa.array(rows["op"], pa.string()),
            "fdn": pa.array(rows["fdn"], pa.string()),
            "class": pa.array(rows["class"], pa.string()),
            "attribute": pa.array(rows["attribute"], pa.string()),
            "member": pa.array(rows["member"], pa.string()),
            "index": pa.array(rows["index"], pa.int32()),
            "value": pa.array(rows["value"], pa.string()),
        }
    )
    return table, pa.table(
        {n: pa.array(unknown[n], UNKNOWN_ROLLBACK_SCHEMA.field(n).type) for n in UNKNOWN_ROLLBACK_SCHEMA.names}
    )


class ReferenceSimulator(Simulator):
    """The simulator with its checks of a run of sets as they were in Python."""

    def __init__(self, tables: dict[str, pa.Table], catalog: CatalogView) -> None:
        super().__init__(tables, catalog)
        mos = tables["mos"]
        self.base_fdns = _string(mos["fdn"]).combine_chunks()
        self.base_classes = _string(mos["class"]).combine_chunks()
        self.flag_table = pa.table(
            {
                "class": [c for c, _ in self.flags],
                "attribute": [a for _, a in self.flags],
                "read_only": [bool(f.get("read_only")) for f in self.flags.values()],
                "restricted": [bool(f.get("restricted")) for f in self.flags.values()],
                "locked_only": [k in catalog.locks for k in self.flags],
                "known": [True] * len(self.flags),
            }
        )
        self.flag_keys = pc.binary_join_element_wise(self.flag_table["class"], self.flag_table["attribute"], SEP)

    def _classes(self, fdns: pa.Array) -> pa.Array:
        """The class of each FDN in the current state (null where it does not exist). A few
        FDNs (a command's) are looked up in the index: hashing the whole network's FDNs for
        them would cost as much as the network is large."""
        if len(fdns) <= 256:
            return pa.array([self.class_of(f) if self.exists(f) else None for f in fdns.to_pylist()], pa.string())
        at = pc.index_in(fdns, value_set=self.base_fdns)
        base_cls = pc.take(self.base_classes, at)
        alive_removed = pa.array(sorted(self.removed_at), pa.string())
        gone = pc.is_in(fdns, value_set=alive_removed)
        cls = pc.if_else(gone, pa.scalar(None, pa.string()), base_cls)
        if self.created:
            created = {f: r["class"] for f, r in self.created.items() if self.exists(f)}
            if created:
                known = pa.array(list(created), pa.string())
                at2 = pc.index_in(fdns, value_set=known)
                cls = pc.coalesce(pc.take(pa.array(list(created.values()), pa.string()), at2), cls)
        return cls

    def _check_sets(self, part: pa.Table) -> dict[int, Response]:
        """Every failing step of a run of set steps, checked together (each step sees the
        locks of the steps before it in the run), with ENM's answer; nothing applied."""
        fdns = _string(part["fdn"]).combine_chunks()
        cls = self._classes(fdns)
        rows = pa.table(
            {
                "step": part["step"],
                "fdn": fdns,
                "class": cls,
                "attribute": _string(part["attribute"]),
                "row": pa.array(range(part.num_rows), pa.int64()),
            }
        )
        failures: dict[int, Response] = {}
        missing = rows.filter(pc.is_null(rows["class"]))
        for r in missing.to_pylist():
            failures.setdefault(r["step"], _error(10004, f"The MO specified does not exist - {r['fdn']}"))
        present = rows.filter(pc.and_(pc.is_valid(rows["class"]), pc.is_valid(rows["attribute"])))
        # the attributes' flags looked up (rows keep their order), not joined and sorted back
        at = pc.index_in(
            pc.binary_join_element_wise(present["class"], present["attribute"], SEP), value_set=self.flag_keys
        )
        joined = present
        for name in ("read_only", "restricted", "locked_only", "known"):
            joined = joined.append_column(name, pc.take(self.flag_table[name], at))
        for r in joined.filter(pc.is_null(joined["known"])).to_pylist():
            failures.setdefault(
                r["step"],
                _error(
                    1010,
                    f"An unknown attribute has been encountered; name {r['attribute']} in the MO class {r['class']}. "
                    f'Verify valid attributes for the MO class using "cmedit describe {r["class"]}.*"',
                ),
            )
        for r in joined.filter(pc.fill_null(joined["read_only"], False)).to_pylist():
            failures.setdefault(r["step"], _node_error(f"{r['attribute']} is read-only"))
        for r in joined.filter(pc.fill_null(joined["restricted"], False)).to_pylist():
            failures.setdefault(
                r["step"], _node_error(f"{r['attribute']} is restricted: it is set only when {r['class']} is created")
            )
        locked = joined.filter(pc.fill_null(joined["locked_only"], False))
        if locked.num_rows:
            writes = self._admin_writes(part)
            # (in row order: the Python pass iterated a set of them, in no order)
            for step, fdn, attribute in dict.fromkeys(
                zip(locked["step"].to_pylist(), locked["fdn"].to_pylist(), locked["attribute"].to_pylist(), strict=True)
            ):
                target = self._lock_target(fdn)
                if target is not None and self._state_at(target, step, writes) != "LOCKED":
                    failures.setdefault(step, _node_error(f"{attribute} can only be changed when {target} is LOCKED"))
        self._value_failures(part, cls, failures)
        return failures

    def _value_failures(self, part: pa.Table, cls: pa.Array, failures: dict[int, Response]) -> None:

        rows = pa.table(
            {
                "step": part["step"],
                "fdn": _string(part["fdn"]),
                "class": cls,
                "attribute": _string(part["attribute"]),
                "member": _string(part["member"]),
                "index": part["index"],
                "value": part["value"],
            }
        )
        rows = rows.filter(pc.and_(pc.is_valid(rows["value"]), pc.is_valid(rows["class"])))
        if not rows.num_rows:
            return
        bad = value_violations(rows, self.cat)
        if bad.num_rows:
            bad = self._not_held(bad)
        if not bad.num_rows:
            return
        key = pc.binary_join_element_wise(rows["fdn"], rows["attribute"], SEP)
        step_of = dict(zip(key.to_pylist(), rows["step"].to_pylist(), strict=True))
        for v in bad.to_pylist():
            step = step_of.get(f"{v['subject']}{SEP}{v['attribute']}")
            if step is not None:
                member = f".{v['member']}" if v["member"] else ""
                possible = v["expected"] or v["message"]
                failures.setdefault(
                    step,
                    _error(
                        1009,
                        f"An incorrect value ({v['value']}) has been encountered for {v['attribute']}{member} "
                        f"possible value(s) {possible}",
                    ),
                )
