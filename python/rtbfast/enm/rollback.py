"""The rollback of a Plan: the inverse steps in reverse order, built from the Network's
current values (a Plan of the same columns).

- a set (lock and unlock included) goes back to the value the attribute held before it: the
  network's, or what an earlier step of the plan wrote, exactly as the network holds it (even
  a value the catalog would refuse as a new one: the node took it once);
- an attribute the export does not carry has no known value to go back to: rolling back a
  change of it is refused (:class:`UnknownRollback`, listing each), or, when allowed, left out
  of the rollback and listed (:attr:`Rollback.unknown`); an administrativeState of unknown
  origin goes back to what the plan's unlock gives it, never left LOCKED;
- the sets of MOs the plan creates are not undone one by one: the rollback deletes the MO;
- a create is undone by a delete;
- a delete is undone by a create carrying every configuration attribute the MO had (read-only
  ones are the node's to compute);
- so a lock is undone by the original state and an unlock by a lock: in reverse order the
  rollback locks, restores, unlocks;
- a lockable MO (a cell) the rollback recreates is created LOCKED and unlocked back to its
  state as the rollback's last steps, once its children and the references to it exist again.

Columnar: the values held before are joined from the network's values; only attributes
written by more than one step are followed in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.catalog_view import ADMIN, CatalogView
from rtbfast.enm.plan import LISTED, PLAN_SCHEMA, SEP, PlanError, Problem, _join_kinds
from rtbfast.network_index import NetworkIndex

UNKNOWN_SCHEMA = pa.schema(
    [
        ("fdn", pa.string()),
        ("class", pa.string()),
        ("attribute", pa.string()),
        ("step", pa.int64()),
        ("source", pa.string()),
    ]
)
"""The attributes a plan changes whose value before is not in the export: the MO, the
attribute, the first step changing it and the ChangeSet row it comes from."""


class UnknownRollback(PlanError):
    """The plan changes attributes the export does not carry: their old value is unknown, so
    the rollback could not restore them. Each is a problem with the ChangeSet row it comes
    from; ``rtbfast plan --allow-unknown-rollback`` plans them anyway."""


@dataclass
class Rollback:
    """The rollback steps, and the attributes they cannot restore (left out)."""

    steps: pa.Table
    unknown: pa.Table


def _network_rows(network: NetworkIndex, fdns: pa.Array) -> pa.Table:
    """The network's value rows of the MOs at `fdns`, as plain text columns, with ``key`` and
    their ``row`` (the network's order)."""
    table = network.value_rows(fdns)
    table = table.append_column("key", pc.binary_join_element_wise(table["fdn"], table["attribute"], SEP))
    return table.append_column("row", pa.array(range(table.num_rows), pa.int64()))


def rollback_plan(
    plan: pa.Table, network: NetworkIndex, catalog: CatalogView, *, allow_unknown: bool = False
) -> pa.Table:
    """The rollback steps of `plan` on `network` (the network the plan was made from); see
    :func:`make_rollback`."""
    return make_rollback(plan, network, catalog, allow_unknown=allow_unknown).steps


def _unknown_problems(unknown: pa.Table) -> list[Problem]:
    problems = []
    rows = unknown.to_pylist()
    for r in rows[:LISTED]:
        problems.append(
            Problem(
                "unknown_old_value",
                f"{r['fdn']}: {r['attribute']}: the network export holds no value for it, so a rollback could not "
                "restore it; add it to the export, or plan with --allow-unknown-rollback (the rollback then leaves "
                "it as the plan sets it)",
                r["fdn"],
                r["source"],
            )
        )
    if len(rows) > LISTED:
        problems.append(Problem("more", f"{len(rows) - LISTED:,} more attribute(s) without a known old value"))
    return problems


def make_rollback(
    plan: pa.Table, network: NetworkIndex, catalog: CatalogView, *, allow_unknown: bool = False
) -> Rollback:
    """The rollback of `plan` on `network` (the network the plan was made from). An
    attribute the plan changes on an MO of the network that the export does not carry is
    refused (:class:`UnknownRollback`), or with `allow_unknown` left out and listed."""
    if not plan.num_rows:
        return Rollback(PLAN_SCHEMA.empty_table(), UNKNOWN_SCHEMA.empty_table())
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
            unknown_parts.append(unheld.select(UNKNOWN_SCHEMA.names).cast(UNKNOWN_SCHEMA))
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
        else UNKNOWN_SCHEMA.empty_table()
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
    return table, pa.table({n: pa.array(unknown[n], UNKNOWN_SCHEMA.field(n).type) for n in UNKNOWN_SCHEMA.names})
