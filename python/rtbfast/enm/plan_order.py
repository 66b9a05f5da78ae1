"""The whole plan's order, from its batches of node groups (:mod:`rtbfast.enm.plan_group`):
each step's number and each rollback step's, the planner's notes, effects and the attributes
the rollback cannot restore, as planning the whole network at once gives them.

- A step's number is its rank among every batch's steps by place (``phase_order``, ``rank``,
  ``a`` … ``e``, ``s``), a create's ``a`` being its place in the order of all the creates,
  which the planner's own create ordering gives (:func:`create_order`, run on the creates of
  every batch: their parents and references, the cycles broken).
- A rollback step undoes a plan step: the rollback runs the plan's steps backwards (a restore
  of an MO the node makes right after the recreate of the MO it belongs to), then unlocks the
  cells it recreated, in the network's order.
- The notes: the creates of existing MOs (one note, their count), the cycles broken (the
  create ordering's), the sets that need a lock none gives (by their first ChangeSet row), the
  deletes cascaded (one batch holds them all)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.plan import Problem
from rtbfast.enm.plan_group import PLACE, RANK, GroupPlan, lock_order
from rtbfast.schemas import PLAN_PLACES_SCHEMA

EFFECTS_LISTED = 200_000
"""Effects the planner reports at most (``Planner._effects``)."""


@dataclass
class BatchFacts:
    """What the order needs of a planned batch (the rows stay where they are)."""

    places: pa.Table
    """``step`` and its place (:data:`PLACE`), ``window``: the batch's steps (its FDNs only where
    a place needs them: deletes)."""
    creates_made: list[str]
    """The FDNs of the batch's create steps, in its order."""
    window_sets: pa.Table
    """``window``, ``phase_order``, ``fdn`` of the sets inside the batch's lock windows."""
    rollback_places: pa.Table
    creates: pa.Table
    create_refs: pa.Table
    notes: list[tuple[str, tuple[Any, ...], Problem]]
    exists: tuple[int, str | None]
    dropped: int
    needing: pa.Table
    with_text: pa.Table
    first_phases: pa.Table
    """``step``, ``phase``, ``phase_order`` of the batch's delete steps (a restore names the
    whole plan's first)."""

    @classmethod
    def of(cls, g: GroupPlan) -> BatchFacts:
        places = g.places
        deletes = places.filter(pc.equal(places["op"], "delete"))
        window = places["window"]
        window_sets = places.filter(pc.and_(pc.is_valid(window), pc.equal(places["op"], "set")))
        creates = places.filter(pc.equal(places["rank"], RANK["create"])).sort_by("a")
        first = g.steps.filter(pc.is_in(g.steps["step"], value_set=deletes["step"]))
        first = first.group_by("step", use_threads=False).aggregate([("phase", "first"), ("phase_order", "first")])
        return cls(
            places=places.select(["step", *PLACE, "window"]).cast(PLAN_PLACES_SCHEMA),
            creates_made=creates["fdn"].to_pylist(),
            window_sets=window_sets.select(["window", "phase_order", "fdn"]),
            rollback_places=g.rollback_places,
            creates=g.creates,
            create_refs=g.create_refs,
            notes=g.notes,
            exists=(g.exists_count, g.fdn_of_exists),
            dropped=g.dropped,
            needing=g.needing,
            with_text=g.with_text,
            first_phases=first.rename_columns(["step", "phase", "phase_order"]),
        )


@dataclass
class Order:
    """Each batch's steps and rollback steps numbered in the whole plan."""

    plan: list[pa.Array]
    """Per batch, the whole plan's number of its step k (at k)."""
    rollback: list[pa.Array]
    steps: int
    rollback_steps: int
    notes: list[Problem] = field(default_factory=list)
    dropped: int = 0
    restore_phase: tuple[str, int] | None = None
    """The phase of the whole plan's first delete: what the restores of node-made MOs name."""
    effects: list[dict[str, Any]] = field(default_factory=list)
    """The changes that take effect at an unlock or a restart, or disturb, as the planner
    lists them."""


def effects_of(with_text: pa.Table, catalog: CatalogView) -> list[dict[str, Any]]:
    """The planner's effects of the writes `with_text` (``fdn``, ``class``, ``attribute``:
    every batch's, in ChangeSet order): each (fdn, attribute) once, in the order of its first
    write, at most :data:`EFFECTS_LISTED`, as the native pass lists them for the whole."""
    texts = catalog.effect_texts
    out: list[dict[str, Any]] = []
    listed: set[tuple[str, str, str]] = set()
    seen: set[tuple[str, str]] = set()
    for fdn, cls, attribute in zip(
        with_text["fdn"].to_pylist(), with_text["class"].to_pylist(), with_text["attribute"].to_pylist(), strict=True
    ):
        if (fdn, attribute, cls) in listed:
            continue
        if len(listed) >= EFFECTS_LISTED:
            break
        listed.add((fdn, attribute, cls))
        if (fdn, attribute) in seen:
            continue
        seen.add((fdn, attribute))
        effect, disturbance, when = texts[(cls, attribute)]
        out.append(
            {
                "fdn": fdn,
                "class": cls,
                "attribute": attribute,
                "takes_effect": effect,
                "when": when,
                "disturbances": disturbance,
            }
        )
    return out


def create_order(creates: pa.Table, refs: pa.Table, catalog: CatalogView) -> tuple[list[str], list[Problem]]:
    """The MOs of `creates` (``fdn``, in the ChangeSet's order) in the order the planner creates
    them given the moRef values they are written with (`refs`: ``fdn``, ``attribute``,
    ``value``, ``kind``, in the ChangeSet's order), and the planner's note on cycles broken
    (:class:`rtbfast.enm.plan.PlanError` for a cycle through mandatory references): the
    planner's own create ordering (``_native.create_order``), run once on every batch's
    creates."""
    from rtbfast import _native
    from rtbfast.enm.plan import PlanError, _note

    fdns = creates["fdn"].to_pylist()
    moref = refs.filter(pc.and_(pc.fill_null(pc.equal(refs["kind"], "moref"), False), pc.is_valid(refs["value"])))
    references = list(
        zip(moref["fdn"].to_pylist(), moref["attribute"].to_pylist(), moref["value"].to_pylist(), strict=True)
    )
    order, deferred, cycle = _native.create_order(fdns, references, catalog.native)
    if cycle:
        raise PlanError(
            [
                Problem(
                    "cycle",
                    "these MOs reference each other through mandatory references and cannot be created: "
                    + ", ".join(cycle),
                    cycle[0],
                )
            ]
        )
    notes = []
    if deferred:
        first = deferred[0][0]
        notes.append(Problem("cycle", _note("cycle", first, len(deferred)), first))
    return order, notes


def _numbered(tables: list[pa.Table], keys: list[str]) -> list[pa.Array]:
    """Per batch (`tables`: each batch's rows in its own order), the number in the whole order
    (by `keys`; a stable sort: a tie keeps the batches' order) of its row k, at k."""
    if not any(t.num_rows for t in tables):
        return [pa.array([], pa.int64()) for _ in tables]
    every = pa.concat_tables([t.select(keys) for t in tables], promote_options="permissive")
    order = pc.sort_indices(every, sort_keys=[(k, "ascending") for k in keys])
    del every
    rank = pc.cast(pc.sort_indices(order), pa.int64())  # the inverse: row → its number
    out = []
    at = 0
    for t in tables:
        out.append(rank.slice(at, t.num_rows))
        at += t.num_rows
    return out


def _windows_placed(places: pa.Table, sets: pa.Table, locked: dict[tuple[int, str], int]) -> pa.Table:
    """A batch's places with each lock window's ``a``: the first place, in the order the
    planner's lock pass takes them (`locked`), of the sets inside it (`sets`)."""
    window = places["window"]
    if not len(locked) or not sets.num_rows:
        return places
    first: dict[int, int] = {}
    for w, phase, fdn in zip(
        sets["window"].to_pylist(), sets["phase_order"].to_pylist(), sets["fdn"].to_pylist(), strict=True
    ):
        at = locked.get((phase, fdn))
        if at is None:
            raise RuntimeError(f"internal: a set of a lock window without a row needing it: {fdn}")
        first[w] = min(first.get(w, at), at)
    keys = pa.array(sorted(first), pa.int64())
    values = pa.array([first[k] for k in sorted(first)], pa.int64())
    placed = pc.take(values, pc.index_in(pc.cast(window, pa.int64()), value_set=keys))
    return places.set_column(
        places.schema.get_field_index("a"), "a", pc.if_else(pc.is_valid(window), placed, places["a"])
    )


def order_of(batches: list[BatchFacts], catalog: CatalogView) -> Order:
    """The whole plan's numbering of `batches` (see the module)."""
    # the creates, ordered once over all batches
    creates = [
        b.creates.append_column("batch", pa.array([i] * b.creates.num_rows, pa.int64())) for i, b in enumerate(batches)
    ]
    all_creates = (
        pa.concat_tables(creates, promote_options="permissive")
        if creates
        else pa.table({"fdn": pa.array([], pa.string())})
    )
    notes: list[Problem] = []
    positions: dict[str, list[int]] = {}
    cycle_notes: list[Problem] = []
    if all_creates.num_rows:
        all_creates = all_creates.sort_by("row")
        refs = pa.concat_tables([b.create_refs for b in batches], promote_options="permissive").sort_by(
            [("seq", "ascending"), ("row", "ascending")]
        )
        order, cycle_notes = create_order(all_creates, refs, catalog)
        for i, fdn in enumerate(order):
            positions.setdefault(fdn, []).append(i)
    # the lock windows and the sets that need one, in the order the planner's lock pass takes them
    needing = [b.needing for b in batches if b.needing.num_rows]
    locked: dict[tuple[int, str], int] = {}
    if needing:
        every_needing = pa.concat_tables(needing, promote_options="permissive")
        every_needing = every_needing.take(pc.sort_indices(every_needing, [("seq", "ascending"), ("row", "ascending")]))
        locked = {key: k for k, key in enumerate(lock_order(every_needing))}
    tables = []
    for b in batches:
        places = _windows_placed(b.places, b.window_sets, locked)
        if positions:
            is_create = pc.equal(places["rank"], RANK["create"])
            fdns = b.creates_made
            taken: dict[str, int] = {}
            global_at = []
            for f in fdns:
                k = taken.get(f, 0)
                taken[f] = k + 1
                global_at.append(positions[f][k])
            ordinal = pc.fill_null(places["a"], 0)
            value = pc.take(
                pa.array(global_at, pa.int64()), pc.if_else(is_create, ordinal, pa.scalar(None, pa.int64()))
            )
            places = places.set_column(
                places.schema.get_field_index("a"), "a", pc.if_else(is_create, value, places["a"])
            )
        tables.append(places.select(PLACE))
    plan_map = _numbered(tables, PLACE)
    steps = sum(t.num_rows for t in tables)
    del tables
    # the rollback: the plan's steps backwards, then the unlocks of the cells recreated
    backs = []
    for i, b in enumerate(batches):
        r = b.rollback_places
        whole_step = pc.take(plan_map[i], r["plan_step"]) if r.num_rows else pa.array([], pa.int64())
        backs.append(
            pa.table(
                {
                    "tail": r["tail"],
                    "key": pc.if_else(r["tail"], r["position"], pc.negate(whole_step)),
                    "sub": r["sub"],
                }
            )
        )
    rollback_map = _numbered(backs, ["tail", "key", "sub"])
    rollback_steps = sum(t.num_rows for t in backs)
    del backs
    # the notes, in the planner's order
    count = sum(b.exists[0] for b in batches)
    if count:
        first = min(f for b in batches if b.exists[0] for f in [b.exists[1]] if f is not None)
        notes.append(Problem("exists", f"{count} MO(s) to create exist already: their values are set instead", first))
    notes.extend(cycle_notes)
    no_lock = sorted(
        (
            (locked.get(place, len(locked)), i, k, note)
            for i, b in enumerate(batches)
            for k, (kind, place, note) in enumerate(b.notes)
            if kind == "no_lock"
        ),
        key=lambda x: (x[0], x[1], x[2]),
    )
    notes.extend(n for _, _, _, n in no_lock)
    notes.extend(note for b in batches for kind, _, note in b.notes if kind == "cascade")
    # the phase a restore names: the whole plan's first delete's
    restore_phase = None
    best = None
    for i, b in enumerate(batches):
        for step, phase, order in zip(
            b.first_phases["step"].to_pylist(),
            b.first_phases["phase"].to_pylist(),
            b.first_phases["phase_order"].to_pylist(),
            strict=True,
        ):
            whole = plan_map[i][step].as_py()
            if best is None or whole < best:
                best, restore_phase = whole, (phase, order)
    texts = [b.with_text for b in batches if b.with_text.num_rows]
    effects: list[dict[str, Any]] = []
    if texts:
        every_text = pa.concat_tables(texts, promote_options="permissive")
        every_text = every_text.take(pc.sort_indices(every_text, [("seq", "ascending"), ("row", "ascending")]))
        effects = effects_of(every_text.select(["fdn", "class", "attribute"]), catalog)
    return Order(
        effects=effects,
        plan=plan_map,
        rollback=rollback_map,
        steps=steps,
        rollback_steps=rollback_steps,
        notes=notes,
        dropped=sum(b.dropped for b in batches),
        restore_phase=restore_phase,
    )


def renumbered(rows: pa.Table, mapping: pa.Array) -> pa.Table:
    """`rows` (a batch's plan or rollback rows) with the whole plan's step numbers."""
    at = rows.schema.get_field_index("step")
    return rows.set_column(at, "step", pc.take(mapping, rows["step"]))


def restored_phase(rows: pa.Table, order: Order) -> pa.Table:
    """A batch's rollback rows with the restores naming the whole plan's first delete's
    phase, and without ``restore``."""
    if order.restore_phase is not None and pc.any(rows["restore"]).as_py():
        phase, phase_order = order.restore_phase
        restore = rows["restore"]
        rows = rows.set_column(rows.schema.get_field_index("phase"), "phase", pc.if_else(restore, phase, rows["phase"]))
        rows = rows.set_column(
            rows.schema.get_field_index("phase_order"),
            "phase_order",
            pc.if_else(restore, pa.scalar(phase_order, pa.int32()), rows["phase_order"]),
        )
    return rows.drop_columns(["restore"])
