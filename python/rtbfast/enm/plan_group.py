"""One batch of node groups planned (:mod:`rtbfast.enm.node_groups`): its ChangeSet rows and its
network in, tables out. The unit of work a scheduler can run anywhere; what only the whole plan
knows (each step's number, the order of the creates) is decided after, from what each batch
gives (:mod:`rtbfast.enm.plan_order`).

The planner (:func:`rtbfast.enm.plan.make_plan`) and the rollback
(:func:`rtbfast.enm.rollback.make_rollback`) run on the batch as on a whole network. The steps
they give are in the whole plan's order restricted to the batch; each step gets the **place**
it has in the whole plan's order, read from what the step is (the planner orders a phase's
steps by kind, then: creates by parent and reference, lock windows as its lock pass takes the
sets that need one, sets by their first row, a reference cleared by its MO's place in the
network, deletes children first by FDN), so that batches can be merged:

``phase_order``, ``rank`` (create 0, lock window 1, set 2, reference set after a cycle 3,
reference to a deleted MO cleared 5, lock before a delete 6, delete 7), then ``a`` … ``e`` and
``s`` (see :func:`_places`).

Where the planner's output depends on the whole plan, the batch's is made to match it before
the rollback is computed: the clearing of references to deleted MOs runs in the lowest phase of
any delete of the whole plan (``Context.unlink_phase``), and a step of the planner's own (locks,
deletes, a create's own row) names its phase as the whole ChangeSet first names it
(``Context.phase_names``). The ChangeSet row each planned row comes from (its ``seq`` and
``row``) is found again by its attribute, member and index: the rows of a write are its last
write's, in order. The creates' order and the lock windows' are known only over every batch:
here a create's place is its place among the batch's creates, a window's its number in the
batch (``window``), and :mod:`rtbfast.enm.plan_order` puts them in the whole plan's order; the
batch's rows are numbered again in it (the order of a batch's windows may change, not what
each step writes, nor so the rollback)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast import _native
from rtbfast.catalog_view import CatalogView
from rtbfast.enm.plan import Plan, Problem, first_rows_of_steps, make_plan
from rtbfast.network_index import NetworkIndex
from rtbfast.schemas import CHANGESET_SCHEMA, PLAN_EFFECT_WRITES_SCHEMA, PLAN_NEEDING_LOCK_SCHEMA, SEP

UNLINK = "rtbfast: a reference to a deleted MO ("
"""How the planner's clearing of a reference to a deleted MO begins its ``source``."""
LOCK_DELETE = " is LOCKED before it is deleted"
"""How the planner's lock of an MO before its delete ends its ``source``."""

RANK = {"create": 0, "window": 1, "set": 2, "relink": 3, "unlink": 5, "lock_delete": 6, "delete": 7}
"""The kinds of steps in the order the planner gives them in a phase."""

PLACE = ["phase_order", "rank", "a", "b", "c", "d", "e", "s"]
"""The columns of a step's place in the whole plan's order."""


@dataclass
class Context:
    """What of the whole ChangeSet and network a batch needs."""

    phase_names: dict[int, str]
    """phase_order → the phase the whole ChangeSet's first row of it names."""
    unlink_phase: int | None = None
    """The lowest phase the planner gives a deleted MO of the whole plan
    (:func:`rtbfast.enm.node_groups.claimed_min_phase`)."""


@dataclass
class GroupPlan:
    """A batch of groups planned, with what merging it into the whole plan needs."""

    steps: pa.Table
    """The plan's rows (``PLAN_SCHEMA``), ``step`` numbered in the batch from 0 in the whole
    plan's order."""
    places: pa.Table
    """One row per step: ``step`` and its place (:data:`PLACE`); a create's ``a`` is its
    place among the batch's creates (the whole plan's is :func:`rtbfast.enm.plan_order.create_order`'s)."""
    rollback: pa.Table
    """The rollback's rows (``PLAN_SCHEMA``), ``step`` numbered in the batch, and ``restore``:
    a row restoring a node-made MO (which names the phase of the whole plan's first delete)."""
    rollback_places: pa.Table
    """One row per rollback step: ``step``, ``tail`` (an unlock of a recreated cell, last),
    ``plan_step`` (the batch's plan step it undoes, or for a restore the one of the MO it
    belongs to), ``sub`` (the restores after it: 1, 2, …), ``position`` (a tail's MO's place in
    the network)."""
    unknown: pa.Table
    """The attributes the rollback cannot restore (``step``: the batch's plan step)."""
    needing: pa.Table
    """The rows the planner's lock pass takes (``phase_order``, ``fdn``, ``attribute``,
    ``seq``, ``row``): sets of MOs the batch does not create whose attribute needs a lock. The
    order of lock windows is the order the planner's grouping of them by MO gives, over the
    whole plan's rows (:func:`lock_order`)."""
    with_text: pa.Table
    """The rows the planner's effects are made from (``fdn``, ``class``, ``attribute``,
    ``seq``, ``row``): writes of attributes that take effect later or disturb."""
    notes: list[tuple[str, tuple[Any, ...], Problem]]
    """(kind, place, note): kind ``exists`` (its count), ``no_lock`` (placed by its phase and
    MO: :func:`lock_order` orders them), ``cascade`` (in the batch's order), ``cycle``."""
    dropped: int
    creates: pa.Table
    """``fdn``, ``row``: the ChangeSet's create rows of the MOs the batch creates."""
    create_refs: pa.Table
    """``fdn``, ``attribute``, ``value``, ``kind``, ``seq``, ``row``: the moRef values the
    batch's created MOs are written with (what orders the creates)."""
    exists_count: int = 0
    """The creates of MOs the network has (set instead), and the first of them."""
    fdn_of_exists: str | None = None


def plan_group(
    changes: pa.Table, network: dict[str, pa.Table], catalog: CatalogView, context: Context, *, check: bool = False
) -> GroupPlan:
    """Plan `changes` (a ChangeSet's rows, with ``row``: their place in the whole ChangeSet)
    on `network` (``mos`` and ``values`` with ``row``: their place in the whole network) and
    compute the rollback. :class:`rtbfast.enm.plan.PlanError` as the planner raises it. With
    `check`, the places found are checked against the planner's own order."""
    rows = changes["row"]
    # one chunk: the planner's hash groupings are in its order, which depends on the chunks
    plain = changes.select(CHANGESET_SCHEMA.names).cast(CHANGESET_SCHEMA).combine_chunks()
    tables = {k: t.drop_columns([c for c in ("row",) if c in t.column_names]) for k, t in network.items()}
    index = NetworkIndex(tables)
    plan = make_plan(plain, index, catalog)
    return finish_group(plan, plain, rows, index, network, catalog, context, check=check)


def finish_group(
    plan: Plan,
    changes: pa.Table,
    rows: pa.Array | pa.ChunkedArray,
    index: NetworkIndex,
    network: dict[str, pa.Table],
    catalog: CatalogView,
    context: Context,
    *,
    check: bool = False,
) -> GroupPlan:
    """The batch's plan made by the planner → a :class:`GroupPlan` (see :func:`plan_group`)."""
    from rtbfast.enm.rollback import make_rollback

    steps = plan.steps
    seq, row = _origins(steps, changes, rows)
    steps = steps.append_column("seq", seq).append_column("row", row)
    heads = _heads(steps)
    places = _places(steps, heads, catalog, network)
    if check:
        _check_places(places, heads)
    steps, heads, places = _fixed(steps, heads, places, context)
    order = places.sort_by([(c, "ascending") for c in PLACE] + [("step", "ascending")])["step"]
    renumber = pc.index_in(steps["step"], value_set=order)
    steps = steps.set_column(steps.schema.get_field_index("step"), "step", pc.cast(renumber, pa.int64()))
    steps = steps.take(pc.sort_indices(steps, [("step", "ascending")]))  # stable: a step's rows keep their order
    places = places.set_column(0, "step", pc.cast(pc.index_in(places["step"], value_set=order), pa.int64()))
    places = places.sort_by("step")
    heads = heads.set_column(0, "step", pc.cast(pc.index_in(heads["step"], value_set=order), pa.int64())).sort_by(
        "step"
    )
    plan_rows = steps.drop_columns(["seq", "row"])
    # the rollback, each of its rows naming the plan step it undoes (carried in its phase)
    tagged = plan_rows.set_column(
        plan_rows.schema.get_field_index("phase"),
        "phase",
        pc.binary_join_element_wise(plan_rows["phase"], pc.cast(plan_rows["step"], pa.string()), "\x00"),
    )
    back = make_rollback(tagged, index, catalog, allow_unknown=True)
    rollback, rollback_places = _rollback_places(back.steps, heads, network)
    create_steps = heads.filter(pc.equal(heads["op"], "create"))
    created = create_steps["fdn"]
    is_create_row = pc.and_(
        pc.and_(pc.equal(changes["op"], "create"), pc.is_null(changes["attribute"])),
        pc.is_in(changes["fdn"], value_set=created),
    )
    creates = pa.table({"fdn": changes["fdn"], "row": rows}).filter(is_create_row)
    relinks = heads.filter(pc.equal(places["rank"], RANK["relink"]))["step"]
    made = pc.is_in(
        steps["step"], value_set=pa.concat_arrays([create_steps["step"].combine_chunks(), relinks.combine_chunks()])
    )
    ref_rows = steps.filter(pc.and_(made, pc.fill_null(pc.equal(steps["kind"], "moref"), False)))
    create_refs = ref_rows.select(["fdn", "attribute", "value", "kind", "seq", "row"])
    needing = _needing(steps, places, catalog)
    notes, exists = _notes(plan.notes, needing)
    return GroupPlan(
        steps=plan_rows,
        places=places,
        rollback=rollback,
        rollback_places=rollback_places,
        unknown=back.unknown,
        needing=needing,
        with_text=_with_text(steps, catalog),
        notes=notes,
        dropped=plan.dropped,
        creates=creates,
        create_refs=create_refs,
        exists_count=exists[0],
        fdn_of_exists=exists[1],
    )


# -- where each planned row comes from --------------------------------------------------------


def _origins(steps: pa.Table, changes: pa.Table, rows: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The ChangeSet ``seq`` and ``row`` of each row of `steps` that writes a value of the
    ChangeSet (null for the planner's own rows): the row of its last write, matched by
    (phase_order, fdn, attribute, member, index) counting from the last (natively)."""
    origin = pa.table(_native.plan_origins(steps, changes.append_column("row", rows)))
    return origin["seq"].combine_chunks(), origin["row"].combine_chunks()


# -- what each step is, and its place ----------------------------------------------------------


def _heads(steps: pa.Table) -> pa.Table:
    """One row per step (in order): step, op, fdn, class, phase_order, source, and its first
    ChangeSet row (``seq``, ``row``; null for the planner's own steps)."""
    g = steps.select(["step", "op", "fdn", "class", "phase_order", "source"]).take(first_rows_of_steps(steps))
    origin = steps.select(["step", "seq", "row"]).filter(pc.is_valid(steps["seq"]))
    origin = origin.sort_by([("step", "ascending"), ("seq", "ascending"), ("row", "ascending")])
    firsts = origin.group_by("step", use_threads=False).aggregate([("seq", "first"), ("row", "first")])
    at = pc.index_in(g["step"], value_set=firsts["step"])
    return g.append_column("seq", pc.take(firsts["seq_first"], at)).append_column(
        "row", pc.take(firsts["row_first"], at)
    )


def _mo_positions(fdns: pa.Array | pa.ChunkedArray, network: dict[str, pa.Table]) -> pa.Array:
    """The place in the whole network of the first value row of each MO of `fdns` (null when
    it has none): the order of MOs as the network gives them."""
    values = network.get("values")
    if values is None or not values.num_rows or not len(fdns):
        return pa.nulls(len(fdns), pa.int64())
    wanted = pc.unique(fdns)
    fdn = values["fdn"]
    mine = pa.table(
        {"fdn": pc.cast(fdn, pa.string()) if pa.types.is_dictionary(fdn.type) else fdn, "row": values["row"]}
    )
    mine = mine.filter(pc.is_in(mine["fdn"], value_set=wanted))
    firsts = mine.group_by("fdn", use_threads=False).aggregate([("row", "min")])
    return pc.take(firsts["row_min"], pc.index_in(fdns, value_set=firsts["fdn"]))


def _places(steps: pa.Table, heads: pa.Table, catalog: CatalogView, network: dict[str, pa.Table]) -> pa.Table:
    """Each step's place in the whole plan's order (:data:`PLACE`)."""
    n = heads.num_rows
    op, source, fdn = heads["op"], heads["source"], heads["fdn"]
    unlink = pc.fill_null(pc.and_(pc.equal(op, "set"), pc.starts_with(source, UNLINK)), False)
    lock_delete = pc.fill_null(pc.and_(pc.equal(op, "lock"), pc.ends_with(source, LOCK_DELETE)), False)
    window_lock = pc.and_(pc.equal(op, "lock"), pc.invert(lock_delete))
    unlock = pc.equal(op, "unlock")
    # a lock window: its lock, the sets inside, its unlock (the planner lays them out together)
    opened = pc.cumulative_sum(pc.cast(window_lock, pa.int64()))
    closed = pc.cumulative_sum(pc.cast(unlock, pa.int64()))
    closed_before = pc.subtract(closed, pc.cast(unlock, pa.int64()))
    inside = pc.greater(pc.subtract(opened, closed_before), 0)
    is_set = pc.equal(op, "set")
    created = pc.is_in(fdn, value_set=heads.filter(pc.equal(op, "create"))["fdn"])
    relink = pc.and_(pc.and_(is_set, created), pc.invert(unlink))
    window_set = pc.and_(pc.and_(is_set, inside), pc.invert(pc.or_(unlink, relink)))
    in_window = pc.or_(pc.or_(window_lock, unlock), window_set)
    window = pc.if_else(in_window, opened, pa.scalar(None, pa.int64()))
    rank = pc.case_when(
        pc.make_struct(
            pc.equal(op, "create"),
            in_window,
            unlink,
            relink,
            lock_delete,
            pc.equal(op, "delete"),
            is_set,
            field_names=[str(i) for i in range(7)],
        ),
        *[
            pa.scalar(RANK[k], pa.int64())
            for k in ("create", "window", "unlink", "relink", "lock_delete", "delete", "set")
        ],
    )
    if pc.any(pc.is_null(rank)).as_py():
        odd = heads.filter(pc.is_null(rank)).slice(0, 1).to_pylist()[0]
        raise RuntimeError(f"internal: a step of a kind the planner does not make: {odd['op']} {odd['fdn']}")
    within = pc.case_when(
        pc.make_struct(window_lock, window_set, unlock, field_names=["l", "s", "u"]),
        pa.scalar(0, pa.int64()),
        pa.scalar(1, pa.int64()),
        pa.scalar(2, pa.int64()),
    )
    depth = pc.cast(pc.count_substring(fdn, ","), pa.int64())
    create_at = pc.subtract(pc.cumulative_sum(pc.cast(pc.equal(op, "create"), pa.int64())), 1)
    position = _mo_positions(fdn, network)
    structural = pc.or_(lock_delete, pc.equal(op, "delete"))
    zero = pa.scalar(0, pa.int64())
    seq, row = heads["seq"], heads["row"]
    a = pc.case_when(
        pc.make_struct(pc.equal(op, "create"), in_window, unlink, structural, field_names=["c", "w", "u", "d"]),
        create_at,
        window,
        position,
        pc.negate(depth),
        seq,
    )
    b = pc.case_when(
        pc.make_struct(
            pc.or_(in_window, pc.or_(pc.equal(op, "create"), pc.or_(unlink, structural))), field_names=["z"]
        ),
        zero,
        row,
    )
    c = pc.if_else(in_window, within, zero)
    d = pc.if_else(window_set, seq, zero)
    e = pc.if_else(window_set, row, zero)
    s = pc.if_else(structural, fdn, pa.scalar("", pa.string()))
    table = pa.table(
        {
            "step": heads["step"],
            "fdn": fdn,
            "op": op,
            "phase_order": pc.cast(heads["phase_order"], pa.int64()),
            "rank": rank,
            "a": pc.fill_null(a, 0),
            "b": pc.fill_null(b, 0),
            "c": pc.fill_null(c, 0),
            "d": pc.fill_null(d, 0),
            "e": pc.fill_null(e, 0),
            "s": s,
            "window": window,
        }
    )
    if n and table.num_rows != n:
        raise RuntimeError("internal: places")
    return table


def _check_places(places: pa.Table, heads: pa.Table) -> None:
    """The places found order the batch's steps as the planner did (the planner's order is
    the whole plan's restricted to the batch)."""
    order = places.sort_by([(c, "ascending") for c in PLACE] + [("step", "ascending")])["step"].to_pylist()
    if order != sorted(order):
        at = next(i for i, (x, y) in enumerate(zip(order, sorted(order), strict=True)) if x != y)
        rows = heads.filter(pc.is_in(heads["step"], value_set=pa.array([order[at], sorted(order)[at]]))).to_pylist()
        raise AssertionError(f"the places order the steps otherwise than the planner at {at}: {rows}")


def _fixed(steps: pa.Table, heads: pa.Table, places: pa.Table, context: Context) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The rows as the whole plan has them: references cleared in the whole plan's lowest
    delete phase, the planner's own rows naming their phase as the whole ChangeSet does."""
    unlink_steps = places.filter(pc.equal(places["rank"], RANK["unlink"]))["step"]
    if len(unlink_steps) and context.unlink_phase is not None:
        moved = pc.is_in(steps["step"], value_set=unlink_steps)
        order = pc.if_else(moved, pa.scalar(context.unlink_phase, pa.int32()), steps["phase_order"])
        steps = steps.set_column(steps.schema.get_field_index("phase_order"), "phase_order", order)
        h = pc.is_in(heads["step"], value_set=unlink_steps)
        heads = heads.set_column(
            heads.schema.get_field_index("phase_order"),
            "phase_order",
            pc.if_else(h, pa.scalar(context.unlink_phase, heads["phase_order"].type), heads["phase_order"]),
        )
        p = pc.is_in(places["step"], value_set=unlink_steps)
        places = places.set_column(
            places.schema.get_field_index("phase_order"),
            "phase_order",
            pc.if_else(p, pa.scalar(context.unlink_phase, pa.int64()), places["phase_order"]),
        )
    is_own = pc.or_(
        pc.is_in(steps["op"], value_set=pa.array(["lock", "unlock", "delete"])),
        pc.or_(
            pc.and_(pc.equal(steps["op"], "create"), pc.is_null(steps["attribute"])),
            pc.is_in(steps["step"], value_set=unlink_steps),
        ),
    )
    is_own = pc.fill_null(is_own, False)
    if pc.any(is_own).as_py() and context.phase_names:
        orders = sorted(context.phase_names)
        names = pa.array([context.phase_names[o] for o in orders], pa.string())
        named = pc.take(names, pc.index_in(steps["phase_order"], value_set=pa.array(orders, pa.int32())))
        named = pc.fill_null(named, "default")
        steps = steps.set_column(
            steps.schema.get_field_index("phase"), "phase", pc.if_else(is_own, named, steps["phase"])
        )
    return steps, heads, places


# -- the rollback's places ----------------------------------------------------------------------


def _rollback_places(rows: pa.Table, heads: pa.Table, network: dict[str, pa.Table]) -> tuple[pa.Table, pa.Table]:
    """The rollback's rows with their phase back (the plan step each undoes was carried in
    it) and ``restore``; and one row per rollback step with its place (see
    :attr:`GroupPlan.rollback_places`)."""
    empty_places = pa.table(
        {
            "step": pa.array([], pa.int64()),
            "tail": pa.array([], pa.bool_()),
            "plan_step": pa.array([], pa.int64()),
            "sub": pa.array([], pa.int64()),
            "position": pa.array([], pa.int64()),
        }
    )
    if not rows.num_rows:
        return rows.append_column("restore", pa.array([], pa.bool_())), empty_places
    parts = pc.split_pattern(rows["phase"], "\x00", max_splits=1)
    phase = pc.list_element(parts, 0)
    plan_step = pc.cast(pc.list_element(parts, 1), pa.int64())
    rows = rows.set_column(rows.schema.get_field_index("phase"), "phase", phase)
    g = (
        pa.table({"step": rows["step"], "op": rows["op"], "fdn": rows["fdn"], "plan_step": plan_step})
        .group_by("step", use_threads=False)
        .aggregate([("op", "first"), ("fdn", "first"), ("plan_step", "first")])
        .rename_columns(["step", "op", "fdn", "plan_step"])
        .sort_by("step")
    )
    recreated = g.filter(pc.equal(g["op"], "create"))["fdn"]
    tail = pc.and_(pc.equal(g["op"], "unlock"), pc.is_in(g["fdn"], value_set=recreated))
    deletes = heads.filter(pc.equal(heads["op"], "delete"))["step"]
    restore = pc.and_(pc.equal(g["op"], "set"), pc.is_in(g["plan_step"], value_set=deletes))
    n = g.num_rows
    position = pa.array(range(n), pa.int64())
    # a restore belongs to the MO recreated by the last step before it that is none
    anchor_at = pc.fill_null_forward(pc.if_else(restore, pa.scalar(None, pa.int64()), position))
    anchor = pc.take(g["plan_step"], anchor_at)
    sub = pc.subtract(position, anchor_at)
    places = pa.table(
        {
            "step": g["step"],
            "tail": tail,
            "plan_step": pc.if_else(restore, anchor, g["plan_step"]),
            "sub": sub,
            "position": pc.fill_null(
                pc.if_else(tail, _mo_positions(g["fdn"], network), pa.scalar(None, pa.int64())), 0
            ),
        }
    )
    restore_steps = g.filter(restore)["step"]
    rows = rows.append_column("restore", pc.is_in(rows["step"], value_set=restore_steps))
    return rows, places


# -- notes and effects ---------------------------------------------------------------------------

_EXISTS = re.compile(r"^(\d+) MO\(s\) to create exist already")


def _needing(steps: pa.Table, places: pa.Table, catalog: CatalogView) -> pa.Table:
    """The rows the planner's lock pass takes: the sets of MOs not created (lock windows and
    plain sets) whose attribute needs a lock, in ChangeSet order."""
    sets = places.filter(
        pc.and_(pc.equal(places["op"], "set"), pc.is_in(places["rank"], value_set=pa.array([1, 2], pa.int64())))
    )["step"]
    rows = steps.filter(pc.and_(pc.is_in(steps["step"], value_set=sets), pc.is_valid(steps["seq"])))
    pairs = pa.array([f"{c}{SEP}{a}" for c, a in sorted(catalog.locks)], pa.string())
    rows = rows.filter(pc.is_in(pc.binary_join_element_wise(rows["class"], rows["attribute"], SEP), value_set=pairs))
    rows = rows.select(PLAN_NEEDING_LOCK_SCHEMA.names).cast(PLAN_NEEDING_LOCK_SCHEMA)
    return rows.take(pc.sort_indices(rows, [("seq", "ascending"), ("row", "ascending")]))


def lock_order(needing: pa.Table) -> list[tuple[int, str]]:
    """(phase_order, fdn) of the sets that need a lock (`needing`, in ChangeSet order), in the
    order the planner's lock pass takes them: each (phase, MO) at its first row."""
    seen: dict[tuple[int, str], None] = {}
    for key in zip(needing["phase_order"].to_pylist(), needing["fdn"].to_pylist(), strict=True):
        seen.setdefault(key, None)
    return list(seen)


def _notes(
    notes: list[Problem], needing: pa.Table
) -> tuple[list[tuple[str, tuple[Any, ...], Problem]], tuple[int, str | None]]:
    """The planner's notes with their kind and place; the count of creates of existing MOs and
    the first of them."""
    out: list[tuple[str, tuple[Any, ...], Problem]] = []
    exists: tuple[int, str | None] = (0, None)
    pending: dict[str, list[tuple[int, str]]] = {}
    if any(n.code == "no_lock" for n in notes):
        for phase, fdn in lock_order(needing):  # the order the planner noted them in
            pending.setdefault(fdn, []).append((phase, fdn))
    for k, note in enumerate(notes):
        if note.code == "exists":
            m = _EXISTS.match(note.message)
            exists = (int(m.group(1)) if m else 0, note.fdn)
        elif note.code == "no_lock":
            mine = pending.get(note.fdn) or [(0, note.fdn)]
            out.append(("no_lock", mine.pop(0), note))
        else:
            out.append((note.code, (k,), note))
    return out, exists


EFFECT_COLUMNS = ["fdn", "class", "attribute", "takes_effect", "when", "disturbances"]


_TEXTS: dict[int, tuple[CatalogView, pa.Array]] = {}


def _texts(catalog: CatalogView) -> pa.Array:
    """``class<SEP>attribute`` of the attributes whose change takes effect at an unlock or a
    restart, or disturbs (:attr:`rtbfast.catalog_view.CatalogView.effect_texts`), made once per
    catalog."""
    known = _TEXTS.get(id(catalog))
    if known is not None and known[0] is catalog:
        return known[1]
    array = pa.array([f"{c}{SEP}{a}" for c, a in catalog.effect_texts], pa.string())
    _TEXTS.clear()
    _TEXTS[id(catalog)] = (catalog, array)
    return array


def _with_text(steps: pa.Table, catalog: CatalogView) -> pa.Table:
    """The writes the planner's effects are made from: of attributes whose change takes effect
    at an unlock or a restart, or disturbs (``Planner._effects``'s texts), in ChangeSet order."""
    rows = steps.filter(pc.is_valid(steps["seq"]))
    pairs = pc.binary_join_element_wise(rows["class"], rows["attribute"], SEP)
    rows = rows.filter(pc.is_in(pairs, value_set=_texts(catalog)))
    rows = rows.select(PLAN_EFFECT_WRITES_SCHEMA.names).cast(PLAN_EFFECT_WRITES_SCHEMA)
    return rows.take(pc.sort_indices(rows, [("seq", "ascending"), ("row", "ascending")]))
