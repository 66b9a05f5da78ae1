"""Expansion batch of node groups by batch, in memory bounded by the largest batch, not the
network: the rows :func:`rtbfast.templates.expand.expand_whole` makes for the whole network at once,
in the same order, and the same notes and verdicts.

The network is read once, a piece at a time (:func:`rtbfast.enm.node_groups.network_pieces`),
and spooled to disk by node (:class:`rtbfast.enm.node_groups.NetworkSpool`, the plan's own):
every node's MOs, and the values of the nodes holding a target. The targets are chosen as the
MOs are read. Then, node by node in network order (nodes packed into batches of about
``budget`` values, :func:`rtbfast.enm.node_groups.pack`), a batch's MOs and values are indexed,
its targets expanded by the one :class:`~rtbfast.templates.expand.Expander` (its ``vars``,
clusters, notes and bounds carry on from batch to batch), its rows judged
(:func:`rtbfast.templates.verdicts.judged_sets`) and spooled; the planner's refusals are judged
at the end on the first row of each place of the template (as the whole's are).

**What a template may see of other nodes.** A template's expressions reach the target cell,
the MO being set and what these lead to: ancestors (``parent(n)``; the MOs above every node,
the skeleton, are in every batch), children (``get_children``, nested keys, an ``$eval``'s
child MOs), the node's other cells (``cosites``) and functions; and, beyond its node, two
things only: ``targets`` (every target cell of the network) and the children of a skeleton MO
(``SubNetwork``: the other nodes). A node group for expansion is therefore one node, and where
a template uses either of the two, it is expanded whole instead (:class:`Streamed.read_whole`
says why): ``targets`` is seen in its expressions before anything is read; the children of a
skeleton MO when asked for (:class:`~rtbfast.templates.expand.NeedsWhole`). So is a template
writing MOs of another node (``enet.set_mo_params`` with another node's DN, an MO above every
node), whose verdicts (conflicts between targets, last sets) are made across nodes, and a
target above every node. ``vars`` and ``clusters`` are shared state, not the network: the
targets run in the same order, so they hold what they hold in the whole."""

from __future__ import annotations

import ast
import contextlib
import fnmatch
import gc
import os
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.node_groups import BUDGET, NetworkSpool, _trim, network_pieces, node_keys, pack, release
from rtbfast.network_index import NetworkIndex, is_in_column
from rtbfast.readers import ProgressCallback
from rtbfast.schemas import CHANGESET_SCHEMA, VERDICTS_SCHEMA
from rtbfast.templates.expand import Expander, Expansion, NeedsWhole, Note, _expressions, expand_whole, sequences_of
from rtbfast.templates.objects import DEFAULT_TARGET_CLASSES, Vars
from rtbfast.templates.sandbox import Limits
from rtbfast.templates.tree import Template
from rtbfast.templates.verdicts import (
    as_plan_refuses,
    creating_sources,
    first_row_of_each_source,
    judged_sets,
    with_ancestor_creates,
)


@dataclass
class Streamed:
    """An expansion's result with its rows spooled on disk (:meth:`batches`), not held."""

    spool: Path
    notes: list[Note]
    target_cells: int
    """How many target cells."""
    clusters: dict[str, list[str]]
    verdicts: pa.Table
    rows: int
    ops: dict[str, int]
    batches_expanded: int = 0
    read_whole: str | None = None
    """Why the template was expanded over the whole network at once (None: it streamed)."""
    on_driver: str | None = None
    """Why batches were expanded here rather than by the batch runner (Spark), from one batch on:
    what a batch carries to the next (None: all ran there, or there was no runner)."""
    targets: list[str] = field(default_factory=list)
    """The target cells' FDNs, in network order."""

    @property
    def errors(self) -> list[Note]:
        return [n for n in self.notes if n.severity == "error"]

    @property
    def verdict_errors(self) -> int:
        return sum(1 for s in self.verdicts["severity"].to_pylist() if s == "error")

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The ChangeSet's rows (of `columns` only, when given), a record batch at a time."""
        names = columns or CHANGESET_SCHEMA.names
        with pa.memory_map(str(self.spool), "r") as source:  # a column's pages only are read
            reader = ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                yield batch.select(names) if columns else batch

    def table(self) -> pa.Table:
        """The whole ChangeSet, held at once."""
        return pa.Table.from_batches(list(self.batches()), CHANGESET_SCHEMA)

    def expansion(self) -> Expansion:
        """The result as :func:`rtbfast.templates.expand.expand_whole` gives it: the ChangeSet held
        (a chunk a column, read out of the spool), the notes, targets, clusters and verdicts."""
        changes = self.table().combine_chunks() if self.rows else CHANGESET_SCHEMA.empty_table()
        return Expansion(changes, list(self.notes), list(self.targets), dict(self.clusters), self.verdicts)


class _Whole(Exception):
    """The template is expanded whole (the reason)."""


class _Targets:
    """The target cells, chosen as the network's MOs are read (as
    :func:`rtbfast.templates.expand.select_targets` chooses them from the whole)."""

    def __init__(self, patterns: Sequence[str], classes: Sequence[str] | None) -> None:
        self.patterns = list(patterns)
        self.wanted = pa.array(list(dict.fromkeys(classes or DEFAULT_TARGET_CLASSES)), pa.string())
        self.hit = [False] * len(self.patterns)
        self.rows: list[int] = []
        self.fdns: list[str] = []

    def add(self, mos: pa.Table, first: int) -> list[str]:
        """Choose among `mos` (the MOs read next, the first the network's `first`-th); the
        FDNs of those chosen."""
        cells = pc.indices_nonzero(pc.fill_null(is_in_column(mos["class"], self.wanted), False))
        if not len(cells):
            return []
        fdns = pc.cast(pc.take(mos["fdn"], cells), pa.string()).to_pylist()
        ids = pc.cast(pc.take(mos["id"], cells), pa.string()).to_pylist()
        chosen: set[int] = set()
        by_fdn: dict[str, list[int]] | None = None
        by_id: dict[str, list[int]] | None = None
        for p, pattern in enumerate(self.patterns):
            if not any(ch in pattern for ch in "*?["):  # looked up, not matched
                if "=" in pattern:
                    by_fdn = by_fdn if by_fdn is not None else _positions(fdns)
                    hits = by_fdn.get(pattern, [])
                else:
                    by_id = by_id if by_id is not None else _positions(ids)
                    hits = by_id.get(pattern, [])
            else:
                names = fdns if "=" in pattern else ids
                hits = [i for i, name in enumerate(names) if fnmatch.fnmatchcase(name, pattern)]
            if hits:
                self.hit[p] = True
                chosen.update(hits)
        offsets = cells.to_pylist()
        picked = sorted(chosen)
        self.rows.extend(first + offsets[i] for i in picked)
        self.fdns.extend(fdns[i] for i in picked)
        return [fdns[i] for i in picked]


def _free() -> None:
    """What was freed given back to the system: Arrow's pool and glibc's heaps. Without a
    collection of cycles (the pieces and batches make none; one costs ~0.1 s a call here)."""
    pa.default_memory_pool().release_unused()
    _trim()


def _compact(table: pa.Table) -> pa.Table:
    """`table` with each dictionary column's dictionary made of its own texts only (a slice of
    a spooled part carries the part's whole dictionary, which every lookup would go through)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            chunks = []
            for chunk in table.column(i).chunks:  # the codes used, in order of first use
                used = pc.drop_null(pc.unique(chunk.indices))
                codes = pc.index_in(chunk.indices, value_set=used).cast(f.type.index_type)
                chunks.append(pa.DictionaryArray.from_arrays(codes, pc.take(chunk.dictionary, used)))
            table = table.set_column(i, f, pa.chunked_array(chunks, f.type))
    return table


def _member_of(keys: pa.Array) -> Callable[[pa.ChunkedArray], pa.ChunkedArray]:
    """Whether each node key is one of `keys`."""

    def member(nodes: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.is_in(nodes, value_set=keys)

    return member


def _positions(names: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        out.setdefault(name, []).append(i)
    return out


def _uses_targets(template: Template) -> bool:
    """Whether any expression or custom function of `template` names ``targets``."""
    texts = [text for text, _ in _expressions(template)]
    texts += ["\n".join(f.body) for f in template.custom]
    for text in texts:
        if "targets" not in text:
            continue
        for source in (text, "\n".join(line.strip() for line in text.splitlines())):
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            if any(isinstance(n, ast.Name) and n.id == "targets" for n in ast.walk(tree)):
                return True
            break
        else:
            return True  # unreadable here: judged by the sandbox, which the whole runs
    return False


class _TargetsGuard:
    """``targets`` in a streamed expansion: every target of the network is not at hand (a
    template naming it is expanded whole; this stops one that reached it otherwise)."""

    def __init__(self, expander: Expander) -> None:
        self._expander = expander

    def _whole(self, *_: Any) -> Any:
        self._expander.needs_whole = True
        raise NeedsWhole("the template reads targets: every target cell of the network")

    __iter__ = __len__ = __getitem__ = __contains__ = __bool__ = _whole

    def __getattr__(self, name: str) -> Any:
        return self._whole()


def expand_streamed(
    template: str | os.PathLike[str] | Template,
    catalog: str | os.PathLike[str] | CatalogView,
    network: str | os.PathLike[str],
    targets: Sequence[str],
    workspace: Path,
    *,
    threads: int = 0,
    limits: Limits | None = None,
    on_progress: ProgressCallback | None = None,
    target_classes: Sequence[str] | None = None,
    budget: int = BUDGET,
    run_batches: ExpandRunner | None = None,
) -> Streamed:
    """Expand a template over the `targets` of `network` (a Bulk CM export or a build folder)
    batch of nodes by batch (at most `budget` network values a batch, but for a node larger
    than that), spooling into `workspace`; the same rows, notes and verdicts as
    :func:`rtbfast.templates.expand.expand_whole` (see the module for when it expands whole).
    `run_batches` expands the batches elsewhere, each alone (:data:`ExpandRunner`; on Spark,
    :func:`rtbfast.spark.expand_job.spark_expand`)."""
    from rtbfast.templates.typed import read_any

    cat = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog, threads)
    tpl = template if isinstance(template, Template) else read_any(template)
    out = workspace / "changes.arrow"
    if _uses_targets(tpl):
        return _whole(
            tpl, cat, network, targets, out, "the template reads targets", threads, limits, on_progress, target_classes
        )
    try:
        return _streamed(
            tpl, cat, network, targets, out, threads, limits, on_progress, target_classes, budget, workspace,
            run_batches,
        )  # fmt: skip
    except _Whole as why:
        return _whole(tpl, cat, network, targets, out, str(why), threads, limits, on_progress, target_classes)


def _whole(
    tpl: Template,
    cat: CatalogView,
    network: str | os.PathLike[str],
    targets: Sequence[str],
    out: Path,
    why: str,
    threads: int,
    limits: Limits | None,
    on_progress: ProgressCallback | None,
    target_classes: Sequence[str] | None,
) -> Streamed:
    release()
    result = expand_whole(
        tpl,
        cat,
        network,
        targets,
        threads=threads,
        limits=limits,
        on_progress=on_progress,
        target_classes=target_classes,
    )
    changes = result.changes
    with _Spool(out) as spool:
        spool.add(changes)
    verdicts = result.verdicts if result.verdicts is not None else VERDICTS_SCHEMA.empty_table()
    return Streamed(
        out, result.notes, len(result.targets), result.clusters, verdicts, spool.rows, spool.ops, 0, why,
        targets=result.targets,
    )  # fmt: skip


class _Spool:
    """The ChangeSet's rows written as they are made (an Arrow IPC file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = ipc.new_file(self._sink, CHANGESET_SCHEMA)
        self.rows = 0
        self.ops = {op: 0 for op in ("create", "set", "delete")}

    def add(self, changes: pa.Table) -> None:
        for batch in changes.to_batches():
            if batch.num_rows:
                self._writer.write_batch(batch)
        self.rows += changes.num_rows
        if changes.num_rows:
            counted = pc.value_counts(changes["op"])
            for entry in counted.to_pylist():
                self.ops[entry["values"]] = self.ops.get(entry["values"], 0) + entry["counts"]

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *_: Any) -> None:
        self._writer.close()
        self._sink.close()


BatchInput = tuple[int, list[str], dict[str, pa.Table], list[int], int]
"""A batch to expand: its place, its node keys, its network tables (``mos``, ``values``), the
network rows of its targets and how many targets come before it."""


@dataclass
class BatchExpansion:
    """What expanding one batch gives: its ChangeSet rows and their verdicts, and, when expanded
    alone (:func:`expand_alone`), what the batch added to the state an expansion carries from
    batch to batch, for the driver to carry on with (:func:`_carried`)."""

    part: pa.Table
    judged: pa.Table | None
    going: bool
    """False: the bound on all rows stopped expansion in this batch."""
    whole: str | None = None
    """Why the template needs the whole network (None: it streams)."""
    notes: list[tuple[tuple[str, str, str, str], Note, int]] | None = None
    """The notes made or said again (key, note, times said in this batch), in the order made."""
    phases: list[str] | None = None
    clusters: dict[str, list[str]] | None = None
    made: int = 0
    """What the batch spent of the budget on all characters and items made."""
    changed: bool = False
    """Whether the batch left the template's state (``vars``, the names its code binds, its
    functions' defaults) other than it found it."""


ExpandRunner = Callable[
    [Iterator[BatchInput], Template, CatalogView, "Limits | None", "Sequence[str] | None", int],
    Iterator[tuple[int, BatchExpansion]],
]
"""Expands each batch alone (:func:`expand_alone`), elsewhere (Spark tasks); yields them in order."""


@contextlib.contextmanager
def _cycles_paused() -> Iterator[None]:
    """Python's collector of cycles paused meanwhile (and restored as it was)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@_cycles_paused()
def expand_batch(
    expander: Expander,
    batch: list[str],
    tables: dict[str, pa.Table],
    wanted: list[int],
    done: int,
    total: int,
    sequences: Any,
    cat: CatalogView,
    threads: int,
    on_progress: ProgressCallback | None = None,
) -> BatchExpansion:
    """Expand the targets (network rows `wanted`) of one batch of nodes (`batch`, its network
    `tables`) with `expander`, the `done`-th target of `total` first. Python's collector of
    cycles is paused meanwhile: a batch makes many objects and no cycles (the index, the
    values decoded, the rows), and its passes cost about a tenth of the batch."""
    tables = {kind: _compact(table) for kind, table in tables.items()}
    index = NetworkIndex(tables, sequences)
    rows = tables["mos"]["row"]
    local = pc.index_in(pa.array(wanted, pa.int64()), value_set=rows).to_pylist()
    skeleton = pc.indices_nonzero(pc.is_null(node_keys(tables["mos"]["fdn"]))).to_pylist()
    expander.rebind(index, skeleton)
    views = [expander._view(r) for r in local]
    going = True
    try:
        going = expander.expand_cells(views, done, total, on_progress)
    except NeedsWhole:
        expander.needs_whole = True
    if expander.needs_whole:
        return BatchExpansion(
            CHANGESET_SCHEMA.empty_table(),
            None,
            False,
            "the template asks for what is above every node's MOs (the children of a SubNetwork, targets)",
        )
    part = expander.flush()
    found = None
    if part.num_rows:
        inside = pc.is_in(node_keys(part["fdn"]), value_set=pa.array(batch, pa.string()))
        if not pc.all(pc.fill_null(inside, False)).as_py():
            return BatchExpansion(part, None, False, "the template writes MOs of other nodes (or above every node)")
        found = judged_sets(part, index, cat, threads=threads)
    expander.views = {}
    return BatchExpansion(part, found, going)


def expand_alone(
    item: BatchInput,
    tpl: Template,
    cat: CatalogView,
    limits: Limits | None,
    target_classes: Sequence[str] | None,
    total: int,
    threads: int = 1,
) -> BatchExpansion:
    """One batch expanded by an expander of its own (in a Spark task), as if no batch came
    before it; with what it added to the state carried on (notes, phases, clusters, the budget)
    and whether it changed the template's own state (then the batches after it cannot run
    alone)."""
    from rtbfast.enm.node_groups import _EMPTY

    _, batch, tables, wanted, done = item
    expander = Expander(tpl, NetworkIndex({"mos": _EMPTY["mos"]}), cat, limits, target_classes)
    expander.sandbox.set(targets=_TargetsGuard(expander))
    before = dict(expander.notes)
    state = _state(expander)
    made = expander.meter.made
    got = expand_batch(expander, batch, tables, wanted, done, total, sequences_of(cat), cat, threads)
    got.notes = [
        (key, note, note.count - (before[key].count if key in before else 0))
        for key, note in expander.notes.items()
        if key not in before or note.count > before[key].count
    ]
    got.phases = list(expander.phases)
    got.clusters = expander.clusters
    got.made = expander.meter.made - made
    got.changed = _state(expander) != state
    return got


_ROWS_BOUND = "ChangeSet rows"
"""In the notes of the bounds on rows (one target's, all of them)."""


def _carried(got: BatchExpansion, expander: Expander) -> str | None:
    """Carry `expander` on past a batch expanded alone, as if it had expanded it: its notes,
    phases, clusters, budget and rows; with `got`'s rows numbered and phased on from the
    batches before. Or why the batch cannot be taken as expanded alone (nothing carried then):
    the result would depend on the batches before it."""
    limits = expander.meter.limits
    rows_said = any(n.kind == "limit" and _ROWS_BOUND in n.message for _, n, _ in got.notes or ())
    if got.changed:
        return "the template changes its own state (vars, the names its code binds) from target to target"
    if expander.meter.made + got.made > limits.budget:
        return "the budget on all characters and items made is passed"
    if not got.going or expander._flushed + got.part.num_rows + (limits.rows_per_target if rows_said else 0) >= (
        limits.rows
    ):
        return "the bound on all ChangeSet rows is reached"
    for key, note, times in got.notes or ():
        found = expander.notes.get(key)
        expander.notes[key] = note if found is None else replace(found, count=found.count + times)
    for phase in got.phases or ():
        if phase not in expander.phases:
            expander.phases.append(phase)
    for name, members in (got.clusters or {}).items():
        kept = expander.clusters.setdefault(name, [])
        kept.extend(m for m in members if m not in kept)
    expander.meter.made += got.made
    part = got.part
    first = expander._flushed
    expander._flushed += part.num_rows
    if part.num_rows:
        ranks = pc.cast(pc.index_in(part["phase"], value_set=pa.array(expander.phases, pa.string())), pa.int32())
        part = part.set_column(part.schema.get_field_index("phase_order"), CHANGESET_SCHEMA.field("phase_order"), ranks)
        seq = pc.add(part["seq"], pa.scalar(first, pa.int64()))
        part = part.set_column(part.schema.get_field_index("seq"), CHANGESET_SCHEMA.field("seq"), seq)
        got.part = part
        if got.judged is not None:
            j = got.judged
            at = j.schema.get_field_index("seq")
            got.judged = j.set_column(at, j.schema.field(at), pc.add(j["seq"], pa.scalar(first, pa.int64())))
    return None


def _state(expander: Expander) -> Any:
    """The template's own state as comparable data: ``vars``, the names its code binds, its
    functions' defaults and closures; any other object by its identity."""
    names = expander.sandbox.globals
    return _fingerprint({k: v for k, v in names.items() if k not in ("cell", "mo", "targets", "__builtins__")}, ())


def _fingerprint(value: Any, seen: tuple[int, ...]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str, bytes, Decimal)):
        return (type(value).__name__, value)
    if id(value) in seen or len(seen) > 100:
        return ("seen", id(value))
    inner = (*seen, id(value))
    if isinstance(value, dict):
        return ("dict", tuple((_fingerprint(k, inner), _fingerprint(v, inner)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_fingerprint(v, inner) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((_fingerprint(v, inner) for v in value), key=repr)))
    if isinstance(value, Vars):
        return ("vars", _fingerprint(object.__getattribute__(value, "_values"), inner))
    if isinstance(value, types.FunctionType):
        cells = tuple(_fingerprint(c.cell_contents, inner) for c in value.__closure__ or ())
        defaults = (_fingerprint(value.__defaults__, inner), _fingerprint(value.__kwdefaults__, inner))
        return ("function", id(value), defaults, cells)
    return ("object", id(value))


def _streamed(
    tpl: Template,
    cat: CatalogView,
    network: str | os.PathLike[str],
    patterns: Sequence[str],
    out: Path,
    threads: int,
    limits: Limits | None,
    on_progress: ProgressCallback | None,
    target_classes: Sequence[str] | None,
    budget: int,
    workspace: Path,
    run_batches: ExpandRunner | None = None,
) -> Streamed:
    from rtbfast.enm.node_groups import _EMPTY
    from rtbfast.enm.plan_stream import _again

    pieces = network_pieces(network, threads)
    sequences = sequences_of(cat)

    def spooled() -> tuple[NetworkSpool, _Targets]:
        spool = NetworkSpool(workspace)
        chosen = _Targets(patterns, target_classes)
        holding: set[str] = set()
        for piece in pieces():
            mos = piece.get("mos")
            if mos is not None:
                picked = chosen.add(mos, spool.rows["mos"])
                if picked:
                    holding.update(k for k in node_keys(pa.array(picked, pa.string())).to_pylist() if k is not None)
                spool.add("mos", mos, pc.is_valid)
            values = piece.get("values")
            if values is not None:
                spool.add("values", values, _member_of(pa.array(sorted(holding), pa.string())))
            del piece
            _free()
        return spool, chosen

    spool, chosen = _again(spooled)
    if not all(chosen.hit):
        raise _Whole("a target pattern names no MO (the whole says what it names)")
    total = len(chosen.rows)
    target_fdns = chosen.fdns
    keys = node_keys(pa.array(chosen.fdns, pa.string())).to_pylist()
    if any(k is None for k in keys):
        raise _Whole("a target above every node")
    at = chosen.rows
    order = sorted(range(total), key=at.__getitem__)
    nodes: list[str] = []
    targets_of: dict[str, list[int]] = {}
    for i in order:
        key = keys[i]
        assert key is not None
        if key not in targets_of:
            nodes.append(key)
            targets_of[key] = []
        elif nodes[-1] != key:
            raise _Whole("a node's targets are not together in the network's order")
        targets_of[key].append(at[i])
    del chosen, at, keys, order
    batches = [[k for group in b for k in group] for b in pack([[k] for k in nodes], spool.values_of.get, budget)]
    expander = Expander(tpl, NetworkIndex({"mos": _EMPTY["mos"]}), cat, limits, target_classes)
    expander.sandbox.set(targets=_TargetsGuard(expander))
    wanted_of = [[r for k in batch for r in targets_of[k]] for batch in batches]
    starts = [0]
    for wanted in wanted_of:
        starts.append(starts[-1] + len(wanted))

    def inputs() -> Iterator[BatchInput]:
        for i, batch in enumerate(batches):
            yield i, batch, spool.tables(batch), wanted_of[i], starts[i]

    remote = run_batches(inputs(), tpl, cat, limits, target_classes, total) if run_batches is not None else None
    on_driver: str | None = None
    judged: list[pa.Table] = []
    samples: list[pa.Table] = []
    creating: set[str] = set()
    seen_sources: set[str] = set()
    expanded = 0
    with _Spool(out) as changes_spool:
        for i, batch in enumerate(batches):
            got: BatchExpansion | None = None
            if remote is not None:
                at, got = next(remote)
                assert at == i
                if got.whole is None:
                    why = _carried(got, expander)
                    if why is not None:  # from this batch on, on the driver, as one expansion
                        on_driver, remote, got = why, None, None
            if got is None:
                got = expand_batch(
                    expander, batch, spool.tables(batch), wanted_of[i], starts[i], total, sequences, cat, threads,
                    on_progress,
                )  # fmt: skip
            elif on_progress is not None:
                on_progress(starts[i], total)
            if got.whole is not None:
                raise _Whole(got.whole)
            expanded += 1
            part = got.part
            if part.num_rows:
                if got.judged is not None:
                    judged.append(got.judged)
                samples.append(_new_sources(part, seen_sources))
                creating |= creating_sources(part)
                changes_spool.add(part)
            going = got.going
            del part, got
            # what the batch held is freed as it goes out of use (no cycles: a collection
            # per batch would cost more than the batch); given back to the system
            _free()
            if not going:
                break
    spool.drop_cache()
    if on_progress is not None:
        on_progress(total, total)
    if judged:
        sample = pa.concat_tables(samples) if samples else CHANGESET_SCHEMA.empty_table()
        sample_nodes = sorted({k for k in node_keys(sample["fdn"]).to_pylist() if k is not None})
        verdicts = as_plan_refuses(
            pa.concat_tables(judged), sample, creating, NetworkIndex(spool.tables(sample_nodes), sequences), cat
        )
    else:
        verdicts = VERDICTS_SCHEMA.empty_table()
    return Streamed(
        out,
        list(expander.notes.values()),
        total,
        expander.clusters,
        verdicts,
        changes_spool.rows,
        changes_spool.ops,
        expanded,
        on_driver=on_driver if run_batches is not None else None,
        targets=target_fdns,
    )


def _new_sources(part: pa.Table, seen: set[str]) -> pa.Table:
    """The rows of `part` the whole's sample for the planner's refusals takes
    (:func:`rtbfast.templates.verdicts._one_row_per_source`): the first row of each source
    not `seen` in an earlier part, with the creates of its MO and of their ancestors (a node's
    rows are all in its part)."""
    first, names = first_row_of_each_source(part)
    fresh = [i for i, name in enumerate(names) if name not in seen]
    seen.update(names)
    if not fresh:
        return CHANGESET_SCHEMA.empty_table()  # (a slice of `part` would keep all of it)
    return with_ancestor_creates(part, pc.take(first, pa.array(fresh, pa.int64())))


__all__ = [
    "BatchExpansion",
    "BatchInput",
    "ExpandRunner",
    "Streamed",
    "expand_alone",
    "expand_batch",
    "expand_streamed",
]
