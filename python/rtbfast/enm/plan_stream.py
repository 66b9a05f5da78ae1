"""A plan made batch of node groups by batch (:mod:`rtbfast.enm.node_groups`), in memory bounded
by the largest batch: the ChangeSet's facts read, the network read once (twice when the
ChangeSet deletes MOs other nodes may refer to: the references are found first) and spooled by
node, the ChangeSet spooled by batch, each batch planned (:func:`rtbfast.enm.plan_group.plan_group`)
and its rows spooled, the whole plan's order decided (:mod:`rtbfast.enm.plan_order`). The
result, :class:`GroupedPlan`, gives the plan's rows and the rollback's in the whole plan's order
a window at a time, and what the summary and the 3GPP files need
(:func:`rtbfast.enm.planning.write_grouped` writes the folder).

Where planning fails, it fails as planning the whole would: every batch is planned, and the
batches that fail at the earliest check are planned again together, which gives the whole
plan's problems (the others have none at that check)."""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.node_groups import (
    BUDGET,
    TOP,
    ChangeSpool,
    NetworkSpool,
    UnionFind,
    change_facts,
    claimed_min_phase,
    heap_frozen,
    keys_or_top,
    node_keys,
    pack,
    release,
)
from rtbfast.enm.plan import LISTED, PlanError, Problem
from rtbfast.enm.plan_group import Context, GroupPlan, plan_group
from rtbfast.enm.plan_order import BatchFacts, Order, order_of, renumbered, restored_phase
from rtbfast.enm.plan_xml import XmlParts
from rtbfast.enm.summary import SummaryPart, summary_part
from rtbfast.schemas import CHANGESET_SCHEMA, PLAN_SCHEMA, UNKNOWN_ROLLBACK_SCHEMA

ChangeBatches = Callable[..., Iterator[pa.RecordBatch]]
"""The ChangeSet's rows, a batch at a time, from the first (each call starts again); called
with ``columns``, of those columns only."""
NetworkPieces = Callable[[], Iterator[dict[str, pa.Table]]]
"""The network a piece at a time (``mos`` and/or ``values`` rows read next), from the first."""

BatchInput = tuple[int, pa.Table, dict[str, pa.Table]]
"""A batch to plan: its number, its ChangeSet rows and its network (:func:`plan_group`'s input)."""
BatchRunner = Callable[
    [Iterator[BatchInput], CatalogView, Context, bool], Iterator[tuple[int, "GroupPlan | PlanError"]]
]
"""Plans batches (with the catalog, the context and whether to check the places) and gives
each one's plan or :class:`PlanError` in batch order."""


def plan_batches_here(
    inputs: Iterator[BatchInput], catalog: CatalogView, context: Context, check: bool
) -> Iterator[tuple[int, GroupPlan | PlanError]]:
    """Each batch planned in this process, one at a time."""
    for i, rows, tables in inputs:
        try:
            g = plan_group(rows, tables, catalog, context, check=check)
        except PlanError as err:
            yield i, err
            continue
        del rows, tables
        yield i, g


WINDOW_STEPS = 16_384
"""Steps given at a time in the whole plan's order."""


def in_step_order(rows: pa.Table) -> pa.Table:
    """`rows` stably sorted by ``step``: `rows` themselves when they already are (a window
    of one batch's rows, or of batches that do not interleave), not a copy."""
    steps = rows["step"]
    n = rows.num_rows
    if n < 2 or (steps.null_count == 0 and pc.all(pc.less_equal(steps.slice(0, n - 1), steps.slice(1))).as_py()):
        return rows
    return rows.take(pc.sort_indices(rows, [("step", "ascending")]))


class RowSpool:
    """Tables written batch by batch into one Arrow IPC file (record batches of at most
    :attr:`ROWS` rows, each batch's rows in its step order), given back in the whole plan's
    order a window of steps at a time."""

    ROWS = 8192

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._sink = pa.OSFile(str(path), "wb")
        self._writer: ipc.RecordBatchFileWriter | None = ipc.new_file(self._sink, schema)
        self.parts: list[list[int]] = []
        self._count = 0
        self.rows = 0

    def add(self, batch: int, table: pa.Table) -> None:
        while len(self.parts) <= batch:
            self.parts.append([])
        if self._writer is None:
            raise RuntimeError("the spool is closed")
        for rb in table.select(self.schema.names).cast(self.schema).to_batches(max_chunksize=self.ROWS):
            if rb.num_rows:
                self._writer.write_batch(rb)
                self.parts[batch].append(self._count)
                self._count += 1
                self.rows += rb.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = None

    def batch(self, batch: int) -> pa.Table:
        """Every row of batch `batch`, in its order."""
        self.close()
        with pa.OSFile(str(self.path), "rb") as source:
            reader = ipc.open_file(source)
            parts = [reader.get_batch(i) for i in (self.parts[batch] if batch < len(self.parts) else [])]
        return pa.Table.from_batches(parts, self.schema)

    def merged(self, total: int, window: int = WINDOW_STEPS) -> Iterator[pa.Table]:
        """Every row in step order (each batch's rows numbered in the whole plan and in that
        order), `window` steps of `total` at a time. A batch's rows are read a record batch
        at a time, and only while its steps are in the window."""
        self.close()
        with pa.OSFile(str(self.path), "rb") as source:
            reader = ipc.open_file(source)
            cursor: dict[int, tuple[int, int]] = {}  # batch → (its k-th record batch, row)
            heap: list[tuple[int, int]] = []

            def load(b: int, k: int) -> tuple[pa.Table, pa.Array]:
                table = pa.Table.from_batches([reader.get_batch(self.parts[b][k])], self.schema)
                return table, table["step"].combine_chunks()

            for b, parts in enumerate(self.parts):
                if parts:
                    _, steps = load(b, 0)
                    heapq.heappush(heap, (steps[0].as_py(), b))
                    cursor[b] = (0, 0)
            for low in range(0, total, window):
                high = low + window
                pieces = []
                while heap and heap[0][0] < high:
                    _, b = heapq.heappop(heap)
                    k, offset = cursor[b]
                    while True:
                        table, steps = load(b, k)
                        ahead = steps.slice(offset)
                        count = int(pc.sum(pc.less(ahead, high)).as_py() or 0)
                        if count:
                            piece = table.slice(offset, count)
                            pieces.append(piece)
                        offset += count
                        if offset < table.num_rows:
                            cursor[b] = (k, offset)
                            heapq.heappush(heap, (steps[offset].as_py(), b))
                            break
                        k, offset = k + 1, 0
                        if k == len(self.parts[b]):
                            break
                if pieces:
                    yield in_step_order(pa.concat_tables(pieces, promote_options="permissive"))


@dataclass
class GroupedPlan:
    """A plan made batch by batch, its rows spooled, its order decided."""

    workspace: Path
    catalog: CatalogView
    made_from: dict[str, Any]
    order: Order
    plan_rows: RowSpool
    rollback_rows: RowSpool
    xml: dict[str, XmlParts]
    summary_parts: list[SummaryPart]
    effects: list[dict[str, Any]]
    unknown: RowSpool
    """The attributes the rollback cannot restore, numbered in the whole plan (read them with
    :meth:`unknown_rows`)."""
    changed_mos: dict[str, int] = field(default_factory=dict)
    """``plan``/``rollback`` → the MOs it changes (a 3GPP import file's operations)."""
    node_names: dict[str, set[str]] = field(default_factory=dict)
    """``plan``/``rollback`` → the nodes its rows name."""
    batches: int = 0

    def plan_windows(self, window: int = WINDOW_STEPS) -> Iterator[pa.Table]:
        """The plan's rows (``PLAN_SCHEMA``) in step order, `window` steps at a time."""
        for rows in self.plan_rows.merged(self.order.steps, window):
            yield rows.cast(PLAN_SCHEMA)

    def rollback_windows(self, window: int = WINDOW_STEPS) -> Iterator[pa.Table]:
        """The rollback's rows (``PLAN_SCHEMA``) in step order, `window` steps at a time."""
        for rows in self.rollback_rows.merged(self.order.rollback_steps, window):
            yield restored_phase(rows, self.order).cast(PLAN_SCHEMA)

    def unknown_rows(self) -> Iterator[pa.Table]:
        """The attributes the rollback cannot restore (``rtbfast.schemas.UNKNOWN_ROLLBACK_SCHEMA``)
        in step order, then by attribute."""
        yield from self.unknown.merged(self.order.steps)

    @property
    def notes(self) -> list[Problem]:
        return self.order.notes

    def whole(self) -> tuple[pa.Table, pa.Table]:
        """The plan's rows and the rollback's, each as one table (held at once)."""
        plan = list(self.plan_windows())
        back = list(self.rollback_windows())
        return (
            pa.concat_tables(plan, promote_options="permissive") if plan else PLAN_SCHEMA.empty_table(),
            pa.concat_tables(back, promote_options="permissive") if back else PLAN_SCHEMA.empty_table(),
        )


# -- the network's pass: references to deleted MOs, and the nodes kept -----------------------------


@dataclass
class _References:
    """What the network says of the ChangeSet's deletes."""

    existing: set[str] = field(default_factory=set)
    """The deleted MOs the network has."""
    holders: list[tuple[str, str]] = field(default_factory=list)
    """(node of an MO referring to a deleted MO or one below it, node of that MO)."""
    cascading: set[str] = field(default_factory=set)
    """MOs referring to a deleted MO through a reference that cannot be cleared (deleted too)."""


def _gone(value: str, deleted: frozenset[str]) -> bool:
    at: str | None = value
    while at is not None:
        if at in deleted:
            return True
        at = at.rsplit(",", 1)[0] if "," in at else None
    return False


def _references(pieces: NetworkPieces, deleted: frozenset[str], catalog: CatalogView) -> _References:
    """The network's references to MOs `deleted` (or below them), and the deleted MOs it has."""
    found = _References()
    wanted = pa.array(sorted(deleted), pa.string())
    deleted_nodes = pa.array(sorted({k for k in node_keys(wanted).to_pylist() if k is not None}), pa.string())
    flags = catalog.attribute_flags()
    for piece in pieces():
        mos = piece.get("mos")
        if mos is not None and mos.num_rows:
            have = mos.filter(pc.is_in(mos["fdn"], value_set=wanted))["fdn"].to_pylist()
            found.existing.update(have)
        values = piece.get("values")
        if values is None or not values.num_rows or not len(deleted_nodes):
            continue
        target = node_keys(values["value"])
        near = pc.fill_null(pc.is_in(target, value_set=deleted_nodes), False)
        if not pc.any(near).as_py():
            continue
        rows = pa.table(
            {
                "fdn": pc.cast(values["fdn"], pa.string()),
                "attribute": pc.cast(values["attribute"], pa.string()),
                "value": values["value"],
                "target": target,
            }
        ).filter(near)
        holder_nodes = node_keys(rows["fdn"]).to_pylist()
        for r, own in zip(rows.to_pylist(), holder_nodes, strict=True):
            if not _gone(r["value"], deleted) or _gone(r["fdn"], deleted):
                continue
            found.holders.append((own if own is not None else TOP, r["target"]))
            cls = r["fdn"].rsplit(",", 1)[-1].split("=", 1)[0]
            f = flags.get((cls, r["attribute"]))
            if f is not None and f["kind"] == "moref" and (f.get("restricted") or f.get("mandatory")):
                found.cascading.add(r["fdn"])
    return found


@heap_frozen()
def plan_in_groups(
    changes: ChangeBatches,
    network: NetworkPieces,
    catalog: CatalogView,
    workspace: Path,
    *,
    made_from: dict[str, Any] | None = None,
    budget: int = BUDGET,
    allow_unknown_rollback: bool = False,
    check: bool = False,
    on_phase: Callable[[str], None] | None = None,
    run_batches: BatchRunner | None = None,
) -> GroupedPlan:
    """Plan the ChangeSet `changes` on `network` with `catalog`, batch of node groups by batch
    (at most `budget` network values and ChangeSet rows a batch, but for a group larger than
    that), spooling into `workspace`; see the module. :class:`rtbfast.enm.plan.PlanError` (and
    :class:`rtbfast.enm.rollback.UnknownRollback` without `allow_unknown_rollback`) as planning
    the whole at once raises them. The batches are planned by `run_batches` (here, one after the
    other, by default; :func:`rtbfast.spark.plan_job.spark_batches` runs them on Spark), which
    gives each batch's result in batch order."""

    say = on_phase or (lambda _: None)
    say("reading the ChangeSet")
    facts = change_facts(changes(columns=["phase", "phase_order", "seq", "op", "fdn", "attribute", "value"]))
    release()
    deleted = {f for f, _, _ in facts.deletes}
    touched = {k for k in facts.rows_of_node if k != TOP}
    groups = UnionFind()
    for key in facts.rows_of_node:
        groups.add(key)
    skeleton_deletes = [f for f in deleted if node_keys(pa.array([f], pa.string()))[0].as_py() is None]
    refs = _References()
    if deleted:
        say("finding the references to deleted MOs")
        gone = set(deleted)
        while True:
            found = _again(functools.partial(_references, network, frozenset(gone), catalog))
            if not refs.existing:
                refs.existing = found.existing
            refs.holders.extend(found.holders)
            refs.cascading |= found.cascading
            if found.cascading <= gone:
                break
            gone |= found.cascading  # a cascaded MO's references are followed in turn
        for holder, target in refs.holders:
            touched.add(holder)
            groups.union(holder, target)
        cascade = sorted({k for h, t in refs.holders for k in (h, t)} if refs.cascading else set())
        for key in cascade[1:]:  # the planner's cascade runs over them together
            groups.union(cascade[0], key)
    # a node created (its root MO: a MeContext): the planner counts the children of its
    # parent, which are every node below it, with the others created there
    for root in facts.root_creates:
        groups.union(TOP, root)
    # the references to created MOs, and the parents of created node roots
    if facts.references:
        table = pa.concat_tables(facts.references, promote_options="permissive")
        made = table.filter(pc.is_in(table["target"], value_set=pa.array(sorted(facts.created), pa.string())))
        if made.num_rows:
            targets = keys_or_top(made["target"]).to_pylist()
            for node, target in zip(made["node"].to_pylist(), targets, strict=True):
                groups.union(node, target)
    say("reading the network")
    prefixes = [d + "," for d in skeleton_deletes]
    wanted = pa.array(sorted(touched), pa.string())

    def keep(nodes: pa.ChunkedArray) -> pa.ChunkedArray:
        mask = pc.is_in(nodes, value_set=wanted)
        for prefix in prefixes:
            mask = pc.or_(mask, pc.starts_with(nodes, prefix))
        return mask

    def spooled() -> NetworkSpool:
        spool = NetworkSpool(workspace)
        for piece in network():
            for kind in ("mos", "values"):
                if kind in piece:
                    spool.add(kind, piece[kind], keep)
            del piece
            release()
        return spool

    spool = _again(spooled)
    for prefix in prefixes:  # a skeleton MO deleted: everything below it
        for key in spool.slices:
            if key.startswith(prefix):
                groups.union(TOP, key)
        groups.add(TOP)
    existing = refs.existing if deleted else set()
    context = Context(
        phase_names=dict(facts.phase_names), unlink_phase=claimed_min_phase(facts.deletes, existing.__contains__)
    )
    # groups, in the network's order, packed into batches
    members = groups.groups()
    first = spool.first_row
    ordered = sorted(members.values(), key=lambda ks: (min(first.get(k, 1 << 62) for k in ks), min(ks)))
    for ks in ordered:
        ks.sort(key=lambda k: (first.get(k, 1 << 62), k))
    batches = pack(ordered, lambda k: spool.values_of.get(k, 0) + facts.rows_of_node.get(k, 0), budget)
    batch_nodes = [[k for g in b for k in g] for b in batches]
    keys = sorted(k for ns in batch_nodes for k in ns)
    batch_of_key = {k: i for i, ns in enumerate(batch_nodes) for k in ns}
    key_array = pa.array(keys, pa.string())
    batch_array = pa.array([batch_of_key[k] for k in keys], pa.int64())
    say("sorting the ChangeSet by node")
    change_spool = ChangeSpool(workspace, CHANGESET_SCHEMA)
    writes = Writes(None if facts.writes_in_order else _runs_sorted(changes))
    row = 0
    for batch in changes():
        nodes = keys_or_top(batch.column("fdn"))
        batch = writes.marked(batch, row)
        change_spool.add(batch, row, pc.take(batch_array, pc.index_in(nodes, value_set=key_array)).combine_chunks())
        row += batch.num_rows
    change_spool.close()
    release()
    # each batch planned, its rows spooled
    collected = _Collector(workspace, catalog)
    failed: list[tuple[int, int, PlanError]] = []
    roots_under = facts.root_creates

    def inputs() -> Iterator[BatchInput]:
        for i, nodes_of_batch in enumerate(batch_nodes):
            say(f"planning node groups: batch {i + 1} of {len(batch_nodes)}")
            rows_of_batch = change_spool.rows(i)
            tables = spool.tables(nodes_of_batch, {roots_under[k] for k in nodes_of_batch if k in roots_under})
            yield i, rows_of_batch, tables
            del rows_of_batch, tables

    for i, g in (run_batches or plan_batches_here)(inputs(), catalog, context, check):
        if isinstance(g, PlanError):
            failed.append((_stage(g), i, g))
            continue
        if not failed:  # once the plan fails, the batches are only planned to find every problem
            collected.add(i, g)
        del g
        release()
    spool.drop_cache()
    if failed:
        _fail_as_whole(failed, change_spool, spool, batch_nodes, roots_under, catalog, context)
    say("numbering the steps")
    return collected.finish(made_from or {}, allow_unknown_rollback)


class _Collector:
    """The batches planned, one at a time: their rows spooled, what the order and the summary
    need kept."""

    def __init__(self, workspace: Path, catalog: CatalogView) -> None:
        self.catalog = catalog
        self.workspace = workspace
        self.plan_rows = RowSpool(workspace / "plan.batches.arrow", PLAN_SCHEMA)
        self.rollback_rows = RowSpool(workspace / "rollback.batches.arrow", _BACK_SCHEMA)
        self.xml = {
            stem: XmlParts(f"{stem}.3gpp.xml", workspace / f"{stem}.3gpp.part") for stem in ("plan", "rollback")
        }
        self.facts: list[BatchFacts] = []
        self.parts: list[SummaryPart] = []
        self.unknown = RowSpool(workspace / "unknown.batches.arrow", UNKNOWN_ROLLBACK_SCHEMA)
        self.changed_mos = {"plan": 0, "rollback": 0}
        self.names: dict[str, set[str]] = {"plan": set(), "rollback": set()}

    def add(self, i: int, g: GroupPlan) -> None:
        self.plan_rows.add(i, g.steps)
        self.rollback_rows.add(i, g.rollback)
        self.xml["plan"].add(i, g.steps)
        self.xml["rollback"].add(i, g.rollback.drop_columns(["restore"]))
        self.parts.append(summary_part(g.steps, self.catalog.locks))
        self.facts.append(BatchFacts.of(g))
        self.unknown.add(i, g.unknown.sort_by([("step", "ascending"), ("attribute", "ascending")]))
        for stem, rows in (("plan", g.steps), ("rollback", g.rollback)):
            self.changed_mos[stem] += _changed_mos(rows)
            self.names[stem] |= _nodes_named(rows)

    def finish(self, made_from: dict[str, Any], allow_unknown_rollback: bool) -> GroupedPlan:
        from rtbfast.enm.rollback import UnknownRollback, _unknown_problems

        self.plan_rows.close()
        self.rollback_rows.close()
        order = order_of(self.facts, self.catalog)
        # each batch's rows in the whole plan's order (its lock windows may come in another)
        plan_rows = _in_order(self.plan_rows, self.workspace / "plan.arrow", order.plan)
        rollback_rows = _in_order(self.rollback_rows, self.workspace / "rollback.arrow", order.rollback)
        for i, part in enumerate(self.parts):
            for lock in part.locks:
                lock["step"] = order.plan[i][lock["step"]].as_py()
        self.unknown.close()
        unknown = _in_order(self.unknown, self.workspace / "unknown.arrow", order.plan, by=["step", "attribute"])
        if unknown.rows and not allow_unknown_rollback:
            first = list(itertools.islice(unknown.merged(order.steps), LISTED + 1))
            head = pa.concat_tables(first, promote_options="permissive").slice(0, LISTED + 1)
            extra = unknown.rows - head.num_rows  # _unknown_problems counts those past LISTED
            problems = _unknown_problems(head)
            if extra and problems and problems[-1].code == "more":
                problems[-1] = Problem("more", f"{unknown.rows - LISTED:,} more attribute(s) without a known old value")
            raise UnknownRollback(problems)
        return GroupedPlan(
            workspace=self.workspace,
            catalog=self.catalog,
            made_from=made_from,
            order=order,
            plan_rows=plan_rows,
            rollback_rows=rollback_rows,
            xml=self.xml,
            summary_parts=self.parts,
            effects=order.effects,
            unknown=unknown,
            changed_mos=self.changed_mos,
            node_names=self.names,
            batches=len(self.facts),
        )


_BACK_SCHEMA = PLAN_SCHEMA.append(pa.field("restore", pa.bool_()))


def _in_order(spool: RowSpool, path: Path, steps_of: list[pa.Array], by: list[str] | None = None) -> RowSpool:
    """`spool`'s rows again, each batch's numbered in the whole plan and in that order (then
    by the columns `by`)."""
    out = RowSpool(path, spool.schema)
    for b in range(len(spool.parts)):
        rows = spool.batch(b)
        if rows.num_rows:
            rows = renumbered(rows, steps_of[b])
            out.add(b, rows.take(pc.sort_indices(rows, [(c, "ascending") for c in by])) if by else in_step_order(rows))
    out.close()
    spool.path.unlink(missing_ok=True)
    return out


def grouped_of(planned: Any, workspace: Path) -> GroupedPlan:
    """A plan made whole (:class:`rtbfast.enm.planning.Planned`) as one batch."""
    from rtbfast.enm.plan_group import finish_group

    changes = planned.changes
    n = changes.num_rows
    rows = pa.array(range(n), pa.int64())
    values = planned.network._values
    network = {}
    if values is not None:
        network["values"] = values.append_column("row", pa.array(range(values.num_rows), pa.int64()))
    firsts = changes.group_by("phase_order", use_threads=False).aggregate([("phase", "first")])
    names = dict(zip(firsts["phase_order"].to_pylist(), firsts["phase_first"].to_pylist(), strict=True))
    structural = pc.is_null(changes["attribute"])
    deletes = pa.table({"fdn": changes["fdn"], "o": changes["phase_order"], "row": rows}).filter(
        pc.and_(structural, pc.equal(changes["op"], "delete"))
    )
    listed = list(zip(deletes["fdn"].to_pylist(), deletes["o"].to_pylist(), deletes["row"].to_pylist(), strict=True))
    context = Context(names, claimed_min_phase(listed, planned.network.row_of.__contains__))
    g = finish_group(planned.plan, changes, rows, planned.network, network, planned.catalog, context)
    collected = _Collector(workspace, planned.catalog)
    collected.add(0, g)
    return collected.finish(planned.made_from, True)


_WRITE_KEYS = ("fdn", "attribute", "target", "source", "member", "index")


class Writes:
    """Which write of the whole ChangeSet each row is. The planner takes a write (of which only
    the last of an attribute in a phase counts) to be the rows that follow each other in
    ``seq`` order with one attribute, target and source, a scalar's row alone; rows of other
    MOs between two rows cut them apart. A batch holds its MOs' rows only, so each row's
    ``target`` is made the number of its write in the whole ChangeSet: the planner cuts the
    batch's rows where it would cut the whole's (``target`` serves nothing else)."""

    def __init__(self, sorted_runs: pa.Array | None) -> None:
        self._sorted_runs = sorted_runs
        """The write of each row, by row (for a ChangeSet not in ``seq`` order)."""
        self._last: dict[str, Any] | None = None
        self._run = 0

    def marked(self, batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
        """`batch` (rows from `first_row` on) with ``target`` the number of each row's write."""
        writing = pc.is_valid(batch.column("attribute"))
        if self._sorted_runs is not None:
            runs = self._sorted_runs.slice(first_row, batch.num_rows)
        else:
            runs = self._runs(batch.filter(writing))
            if not len(runs):
                return batch
            # each writing row's place among the writing rows (the others' is not used)
            at = pc.max_element_wise(pc.subtract(pc.cumulative_sum(pc.cast(writing, pa.int64())), 1), 0)
            runs = pc.take(runs, at)
        text = pc.if_else(writing, pc.cast(runs, pa.string()), batch.column("target"))
        at = batch.schema.get_field_index("target")
        return batch.set_column(at, batch.schema.field(at), text)

    def _runs(self, rows: pa.RecordBatch) -> pa.Array:
        n = rows.num_rows
        if not n:
            return pa.array([], pa.int64())
        table = pa.Table.from_batches([rows]).select(list(_WRITE_KEYS))
        if self._last is not None:
            table = pa.concat_tables([pa.Table.from_pylist([self._last], schema=table.schema), table])
        starts = write_starts(table)
        starts = pc.fill_null(starts, True) if self._last is None else starts.slice(1)
        runs = pc.add(pc.cumulative_sum(pc.cast(starts, pa.int64())), self._run - (0 if self._last else 1))
        self._run = int(runs[-1].as_py())
        self._last = table.slice(table.num_rows - 1).to_pylist()[0]
        return runs


def write_starts(table: pa.Table) -> pa.Array:
    """Whether each row (of writes in ``seq`` order) begins a write, as the planner's
    ``_last_writes`` cuts them: another attribute, target or source than the row before, or a
    scalar written again (the first row: null)."""
    n = table.num_rows

    def changed(name: str) -> pa.Array:
        col = table[name].combine_chunks()
        if not pa.types.is_integer(col.type):
            col = pc.fill_null(pc.cast(col, pa.string()), "\x00")
        return pc.not_equal(col.slice(1), col.slice(0, n - 1))

    if n < 2:
        return pa.nulls(n, pa.bool_())
    member = table["member"].combine_chunks()
    index = pc.fill_null(table["index"].combine_chunks(), -3)
    again = pc.and_(
        pc.and_(pc.is_null(member.slice(1)), pc.is_null(member.slice(0, n - 1))),
        pc.equal(index.slice(1), index.slice(0, n - 1)),
    )
    same_key = pc.and_(
        pc.equal(table["fdn"].combine_chunks().slice(1), table["fdn"].combine_chunks().slice(0, n - 1)),
        pc.equal(table["attribute"].combine_chunks().slice(1), table["attribute"].combine_chunks().slice(0, n - 1)),
    )
    starts = pc.or_(pc.or_(pc.invert(same_key), changed("target")), pc.or_(changed("source"), again))
    return pa.concat_arrays([pa.nulls(1, pa.bool_()), starts])


def _runs_sorted(changes: ChangeBatches) -> pa.Array:
    """The write of each row (by row) of a ChangeSet whose rows are not in ``seq`` order: its
    writes sorted by ``seq`` (rows of one ``seq`` in their order), held at once: a ChangeSet
    made by rtbfast is in order, this is for one made otherwise."""
    tables = []
    first = 0
    for batch in changes(columns=["seq", *_WRITE_KEYS]):
        table = pa.Table.from_batches([batch]).append_column(
            "row", pa.array(range(first, first + batch.num_rows), pa.int64())
        )
        first += batch.num_rows
        tables.append(table.filter(pc.is_valid(table["attribute"])))
    runs = pa.nulls(first, pa.int64())
    if not tables:
        return runs
    every = pa.concat_tables(tables).sort_by([("seq", "ascending"), ("row", "ascending")])
    starts = pc.fill_null(write_starts(every), True)
    numbers = pc.cumulative_sum(pc.cast(starts, pa.int64()))
    at = pc.index_in(pa.array(range(first), pa.int64()), value_set=every["row"])
    return pc.take(numbers, at)


def _again(run: Callable[[], Any]) -> Any:
    """A pass over the network, run again when the export's cuts proved unsound part way (the
    network is then read whole)."""
    from rtbfast.enm.node_groups import ReadWhole

    try:
        return run()
    except ReadWhole:
        return run()


def _stage(err: PlanError) -> int:
    """The check a batch failed at: names (0), the changes (1), the creates' cycles (2)."""
    codes = {p.code for p in err.problems}
    if "bad_name" in codes:
        return 0
    if codes == {"cycle"}:
        return 2
    return 1


def _fail_as_whole(
    failed: list[tuple[int, int, PlanError]],
    changes: ChangeSpool,
    network: NetworkSpool,
    batch_nodes: list[list[str]],
    roots_under: dict[str, str],
    catalog: CatalogView,
    context: Context,
) -> None:
    """Raise what planning the whole at once raises: the batches failing at the earliest check,
    planned together."""
    stage = min(s for s, _, _ in failed)
    which = [i for s, i, _ in failed if s == stage]
    if len(which) == 1:
        raise next(err for s, i, err in failed if s == stage)
    rows = pa.concat_tables([changes.rows(i) for i in which], promote_options="permissive")
    rows = rows.take(pc.sort_indices(rows["row"]))
    nodes = [k for i in which for k in batch_nodes[i]]
    tables = network.tables(nodes, {roots_under[k] for k in nodes if k in roots_under})
    plan_group(rows, tables, catalog, context)
    raise RuntimeError("internal: the batches that failed are planned together without a problem")


def _changed_mos(rows: pa.Table) -> int:
    """The MOs a 3GPP file of `rows` changes (:func:`rtbfast.enm.dialects.import_operations`)."""
    changed = rows.filter(pc.is_in(rows["op"], value_set=pa.array(["create", "set", "delete"])))
    return len(pc.unique(changed["fdn"])) if changed.num_rows else 0


def _nodes_named(rows: pa.Table) -> set[str]:
    from rtbfast.enm.dialects import node_and_ldn

    if not rows.num_rows:
        return set()
    nodes, _ = node_and_ldn(pc.unique(rows["fdn"]))
    return {n for n in nodes.to_pylist() if n is not None}


def table_batches(table: pa.Table, rows: int = 65_536) -> ChangeBatches:
    """A ChangeSet held as a table, given batch by batch."""

    def batches(columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        names = columns or CHANGESET_SCHEMA.names
        schema = pa.schema([CHANGESET_SCHEMA.field(n) for n in names])
        yield from table.select(names).cast(schema).to_batches(max_chunksize=rows)

    return batches


def table_pieces(tables: dict[str, pa.Table], rows: int = 1 << 20) -> NetworkPieces:
    """A network held as tables, given a piece at a time."""

    def pieces() -> Iterator[dict[str, pa.Table]]:
        for kind in ("mos", "values"):
            table = tables.get(kind)
            if table is None:
                continue
            for start in range(0, max(table.num_rows, 1), rows):
                yield {kind: table.slice(start, rows)}

    return pieces
