"""Node groups: the unit a plan is made in, one at a time, in memory bounded by the largest.

A **node** is an MO's FDN up to and including its ``MeContext`` (else its ``ManagedElement``):
``rust/src/enm/nodes.rs``. MOs above every node (the ``SubNetwork`` chain) are the
**skeleton**; their key is :data:`TOP`. A **node group** is a node, or the nodes that planning
must see together, joined (union-find) where the planner looks across nodes:

- a ChangeSet value naming an MO the ChangeSet creates (a reference to a new MO, or the parent
  of one): the creates are ordered by parent and reference;
- a network value naming an MO the ChangeSet deletes, or one below it (a relation of another
  node to a deleted cell): the reference is cleared, or its MO deleted too (cascaded); every
  group a cascade can reach is one (the cascade runs over them together);
- a delete of a skeleton MO: everything below it.

Everything else the planner reads of an MO is within its node: its values, children,
ancestors up to the skeleton (which every group carries), the lock above it.

The ChangeSet and the network are read once each (the ChangeSet twice: its facts, then its rows
by group), the network a group of parts of the export at a time (``rust/src/bulkcm/parallel.rs``),
or a batch of a build folder's ``network/*.parquet`` at a time; only the nodes the ChangeSet
touches are kept, spooled to disk by node (:class:`NetworkSpool`), and the ChangeSet's rows are
spooled by group (:class:`ChangeSpool`). Groups are packed into **batches** of about
``budget`` network values (a group larger than that is a batch of its own), each batch planned
by one call of the planner (:mod:`rtbfast.enm.plan_group`)."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from rtbfast import _native

TOP = ""
"""The key of the skeleton: the MOs above every node."""

BUDGET = 50_000
"""Network values and ChangeSet rows a batch of groups holds at most (a group larger than that
is a batch of its own): about 250 MB while it is planned (the planner's tables, the network's
index, what the rollback reads), measured on the benchmark's rich export."""


def release() -> None:
    """Give the memory freed back to the system (Arrow's allocator keeps freed blocks for
    reuse otherwise; cycles of Python objects wait for the collector): between the phases of a
    plan, so one phase's peak is not the next one's floor. Within :func:`heap_frozen`, the
    collection scans only the objects made since it began."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    _trim()


_frozen = 0
_frozen_lock = threading.Lock()


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """Meanwhile, the Python objects alive at the start (modules, the catalog, the inputs) are
    left out of the collections :func:`release` makes (``gc.freeze``), so each scans only what
    the work made since: a full collection scans every object of the process, tens of
    milliseconds a window on a large heap. Nested and concurrent uses share one freeze, undone
    when the last ends. Big tables are freed by their reference counts, never by the collector,
    so nothing is held longer."""
    global _frozen
    with _frozen_lock:
        if _frozen == 0:
            gc.collect()
            gc.freeze()
        _frozen += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen -= 1
            if _frozen == 0:
                gc.unfreeze()


def _trim() -> None:
    """glibc's free blocks at the top of each heap given back (Python's larger objects and the
    native code's buffers come from it); nothing elsewhere."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        try:
            _LIBC = ctypes.CDLL(name) if name else False
        except OSError:
            _LIBC = False
    if _LIBC and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


_LIBC: Any = None


def row_numbers(first: int, n: int) -> pa.Array:
    """``first, first + 1, …`` (`n` of them) as int64, made in C (``pa.array(range(…))`` makes
    a Python int per row: 0.25 s a million)."""
    return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(array("q", range(first, first + n)))])


def node_keys(texts: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """The node key of each FDN of `texts` (utf8 or a dictionary of utf8), null where it has
    none (a skeleton MO, or a text that is no FDN)."""
    column = texts if isinstance(texts, pa.ChunkedArray) else pa.chunked_array([texts])
    if not column.num_chunks:
        return pa.chunked_array([], pa.string())
    keys = pa.table(_native.node_keys(pa.table({"text": column})))["node"]
    return keys


def keys_or_top(texts: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`node_keys`, with :data:`TOP` for the skeleton."""
    return pc.fill_null(node_keys(texts), TOP)


class UnionFind:
    """Disjoint sets of node keys."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, key: str) -> None:
        self.parent.setdefault(key, key)

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # the smaller key is the root: the groups do not depend on the order of unions
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key in self.parent:
            out.setdefault(self.find(key), []).append(key)
        return out


def _parent(fdn: str) -> str | None:
    return fdn.rsplit(",", 1)[0] if "," in fdn else None


# -- the ChangeSet's facts ------------------------------------------------------------------


@dataclass
class ChangeFacts:
    """What grouping needs of a ChangeSet, read a batch at a time."""

    rows: int = 0
    rows_of_node: dict[str, int] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    """The MOs it creates (its create rows without an attribute)."""
    deletes: list[tuple[str, int, int]] = field(default_factory=list)
    """Its delete rows: (fdn, phase_order, row), in row order."""
    phase_names: dict[int, str] = field(default_factory=dict)
    """phase_order → the phase of its first row."""
    references: list[pa.Table] = field(default_factory=list)
    """(node, target): values naming an MO of another node, and the parents of created node
    roots; what names a created MO joins two groups."""
    writes_in_order: bool = True
    """Whether the rows writing a value come in ``seq`` order (else the planner sorts them by
    ``seq``, and holds them as one chunk)."""
    root_creates: dict[str, str] = field(default_factory=dict)
    """A node root created → the skeleton MO it is created under (whose children, the other
    node roots, the planner counts)."""


def change_facts(batches: Iterable[pa.RecordBatch]) -> ChangeFacts:
    """The facts of a ChangeSet read batch by batch (``phase``, ``phase_order``, ``op``,
    ``fdn``, ``attribute``, ``value``)."""
    facts = ChangeFacts()
    last_seq: int | None = None
    for batch in batches:
        n = batch.num_rows
        if not n:
            continue
        rows = row_numbers(facts.rows, n)
        facts.rows += n
        nodes = keys_or_top(batch.column("fdn"))
        counted = pa.table({"node": nodes}).group_by("node", use_threads=False).aggregate([("node", "count")])
        for key, count in zip(counted["node"].to_pylist(), counted["node_count"].to_pylist(), strict=True):
            facts.rows_of_node[key] = facts.rows_of_node.get(key, 0) + count
        phases = pa.table({"o": batch.column("phase_order"), "p": batch.column("phase")})
        firsts = phases.group_by("o", use_threads=False).aggregate([("p", "first")])
        for order, name in zip(firsts["o"].to_pylist(), firsts["p_first"].to_pylist(), strict=True):
            facts.phase_names.setdefault(order, name)
        op, attribute = batch.column("op"), batch.column("attribute")
        structural = pc.is_null(attribute)
        if facts.writes_in_order:
            seq = batch.column("seq").filter(pc.invert(structural))
            if len(seq):
                head = seq if last_seq is None else pa.concat_arrays([pa.array([last_seq], pa.int64()), seq])
                if len(head) > 1 and not pc.all(pc.greater_equal(head.slice(1), head.slice(0, len(head) - 1))).as_py():
                    facts.writes_in_order = False
                last_seq = seq[-1].as_py()
        creates = pc.and_(structural, pc.equal(op, "create"))
        created = batch.filter(creates).column("fdn")
        facts.created.update(created.to_pylist())
        deletes = pc.and_(structural, pc.equal(op, "delete"))
        if pc.any(deletes).as_py():
            d = pa.table({"fdn": batch.column("fdn"), "o": batch.column("phase_order"), "row": rows}).filter(deletes)
            facts.deletes.extend(zip(d["fdn"].to_pylist(), d["o"].to_pylist(), d["row"].to_pylist(), strict=True))
        # values naming an MO of another node (a reference to a created one joins the groups)
        value_nodes = node_keys(batch.column("value"))
        crossing = pc.and_(pc.is_valid(value_nodes), pc.not_equal(value_nodes, nodes))
        crossing = pc.fill_null(crossing, False)
        if pc.any(crossing).as_py():
            facts.references.append(
                pa.table({"node": nodes, "target": batch.column("value")}).filter(crossing).combine_chunks()
            )
        # a created node root: its parent is in the skeleton (created or counted)
        roots = pc.and_(creates, pc.equal(nodes, batch.column("fdn")))
        if pc.any(pc.fill_null(roots, False)).as_py():
            for fdn in batch.filter(roots).column("fdn").to_pylist():
                parent = _parent(fdn)
                if parent is not None:
                    facts.root_creates[fdn] = parent
                    facts.references.append(pa.table({"node": [fdn], "target": [parent]}))
    return facts


def claimed_min_phase(deletes: list[tuple[str, int, int]], exists: Callable[[str], bool]) -> int | None:
    """The lowest phase the planner gives a deleted MO: each MO of a deleted subtree takes the
    phase of the first delete row (in row order) whose subtree holds it, so a row whose MO is
    already below an earlier row's gives it none (``rtbfast.enm.plan``'s ``_deletes``; the
    clearing of references to deleted MOs runs in that phase). None without deletes of MOs
    the network has."""
    seen: set[str] = set()
    lowest: int | None = None
    for fdn, phase, _ in deletes:
        if not exists(fdn):
            continue
        covered = False
        at: str | None = fdn
        while at is not None:
            if at in seen:
                covered = True
                break
            at = _parent(at)
        seen.add(fdn)
        if not covered and (lowest is None or phase < lowest):
            lowest = phase
    return lowest


# -- the network, spooled by node ------------------------------------------------------------


@dataclass
class _Slice:
    chunk: int
    kind: str
    start: int
    length: int


class NetworkSpool:
    """The rows of the nodes a plan needs, kept on disk by node as they are read (an Arrow IPC
    file per chunk read), with each row's place in the whole network (``row``); the skeleton's
    rows and every node root's MO in memory (they are few)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.chunks: list[dict[str, Path]] = []
        self.slices: dict[str, list[_Slice]] = {}
        self.first_row: dict[str, int] = {}
        """node → the place of its first MO in the network (the order groups are planned in)."""
        self.skeleton: dict[str, list[pa.Table]] = {"mos": [], "values": []}
        self.roots: list[pa.Table] = []
        self.rows = {"mos": 0, "values": 0}
        self.values_of: dict[str, int] = {}
        """node → its value rows kept."""
        self._cache: tuple[int, dict[str, pa.Table]] | None = None

    def add(self, kind: str, table: pa.Table, keep: Callable[[pa.ChunkedArray], pa.ChunkedArray]) -> None:
        """Rows of `kind` (``mos`` or ``values``) read next: those of the nodes `keep` says
        (a boolean per node key) are spooled, the skeleton's kept."""
        first = self.rows[kind]
        n = table.num_rows
        self.rows[kind] += n
        if not n:
            return
        table = table.append_column("row", row_numbers(first, n))
        nodes = node_keys(table["fdn"])
        skeleton = pc.is_null(nodes)
        if pc.any(skeleton).as_py():
            self.skeleton[kind].append(table.filter(skeleton).combine_chunks())
        if kind == "mos":
            roots = pc.fill_null(pc.equal(nodes, table["fdn"]), False)
            if pc.any(roots).as_py():
                self.roots.append(table.filter(roots).select(["fdn", "class", "id", "parent_fdn", "row"]))
        wanted = pc.fill_null(keep(nodes), False)
        if not pc.any(wanted).as_py():
            return
        kept = table.filter(wanted)
        kept_nodes = nodes.filter(wanted).combine_chunks()
        chunk = len(self.chunks)
        if not self.chunks or kind in self.chunks[-1]:
            self.chunks.append({})
        chunk = len(self.chunks) - 1
        path = self.folder / f"network-{chunk:05d}-{kind}.arrow"
        kept = kept.combine_chunks()
        with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, kept.schema) as writer:
            writer.write_table(kept)
        self.chunks[chunk][kind] = path
        for key, start, length in runs(kept_nodes):
            self.slices.setdefault(key, []).append(_Slice(chunk, kind, start, length))
            if kind == "mos":
                self.first_row.setdefault(key, first)  # a node's MOs come in one part
            else:
                self.values_of[key] = self.values_of.get(key, 0) + length

    def _chunk(self, chunk: int) -> dict[str, pa.Table]:
        if self._cache is not None and self._cache[0] == chunk:
            return self._cache[1]
        tables = {}
        for kind, path in self.chunks[chunk].items():
            # mapped, not read: a batch touches the pages of its own nodes' rows only
            tables[kind] = ipc.open_file(pa.memory_map(str(path), "r")).read_all()
        self._cache = (chunk, tables)
        return tables

    def tables(self, nodes: Iterable[str], with_roots_under: Iterable[str] = ()) -> dict[str, pa.Table]:
        """The network of `nodes` (and the skeleton), each table in the network's order, with
        ``row`` (the place in the whole network); with the node roots under the skeleton MOs
        `with_roots_under` (the siblings of a node root created there)."""
        nodes = list(nodes)
        wanted = sorted(
            (s for key in nodes for s in self.slices.get(key, [])), key=lambda s: (s.chunk, s.kind, s.start)
        )
        parts: dict[str, list[pa.Table]] = {"mos": [], "values": []}
        for kind in ("mos", "values"):  # the skeleton's rows one by one: they fall between nodes
            for table in self.skeleton[kind]:
                parts[kind].extend(table.slice(i, 1) for i in range(table.num_rows))
        for s in _coalesced(wanted):
            parts[s.kind].append(self._chunk(s.chunk)[s.kind].slice(s.start, s.length))
        under = set(with_roots_under)
        if under and self.roots:
            roots = pa.concat_tables(self.roots, promote_options="permissive")
            pick = pc.and_(
                pc.is_in(roots["parent_fdn"], value_set=pa.array(sorted(under), pa.string())),
                pc.invert(pc.is_in(roots["fdn"], value_set=pa.array(sorted(set(nodes)), pa.string()))),
            )
            extra = roots.filter(pick)
            parts["mos"].extend(extra.slice(i, 1) for i in range(extra.num_rows))
        out = {}
        for kind, tables in parts.items():
            tables = [t for t in tables if t.num_rows]
            if not tables:
                out[kind] = _EMPTY[kind]
                continue
            tables.sort(key=lambda t: t["row"][0].as_py())
            # one chunk a column (a dictionary column's dictionaries made one): the planner
            # looks a value up once per distinct value of each chunk
            out[kind] = pa.concat_tables(tables, promote_options="permissive").combine_chunks()
        return out

    def drop_cache(self) -> None:
        self._cache = None


def _coalesced(slices: list[_Slice]) -> list[_Slice]:
    """`slices` (sorted by chunk, kind and start) with the ones that follow each other in a
    chunk made one: a batch's nodes are mostly neighbours, and each slice of a dictionary
    column carries its chunk's whole dictionary, which combining the slices unifies once per
    slice."""
    out: list[_Slice] = []
    for s in slices:
        last = out[-1] if out else None
        if last is not None and (last.chunk, last.kind) == (s.chunk, s.kind) and last.start + last.length == s.start:
            out[-1] = _Slice(last.chunk, last.kind, last.start, last.length + s.length)
        else:
            out.append(s)
    return out


_EMPTY = {
    "mos": pa.table({n: pa.array([], pa.string()) for n in ("fdn", "class", "id", "parent_fdn")}).append_column(
        "row", pa.array([], pa.int64())
    ),
    "values": pa.table(
        {
            "fdn": pa.array([], pa.string()),
            "attribute": pa.array([], pa.string()),
            "member": pa.array([], pa.string()),
            "index": pa.array([], pa.int32()),
            "value": pa.array([], pa.string()),
            "row": pa.array([], pa.int64()),
        }
    ),
}


def runs(keys: pa.Array) -> list[tuple[str, int, int]]:
    """(key, start, length) of each run of equal keys of `keys` (no nulls)."""
    n = len(keys)
    if not n:
        return []
    # neighbours compared (texts, or a dictionary's codes), nothing hashed
    compared = pc.cast(keys.indices, pa.int64()) if pa.types.is_dictionary(keys.type) else keys
    if n > 1:
        changed = pc.not_equal(compared.slice(1), compared.slice(0, n - 1))
        starts = [0, *pc.add(pc.indices_nonzero(changed), 1).to_pylist()]
    else:
        starts = [0]
    bounds = [*starts, n]
    names = pc.cast(pc.take(keys, pa.array(starts, pa.int64())), pa.string()).to_pylist()
    return [(name, a, b - a) for name, a, b in zip(names, bounds, bounds[1:], strict=False)]


def network_pieces(
    path: str | os.PathLike[str], threads: int = 0, part_bytes: int = 0
) -> Callable[[], Iterator[dict[str, pa.Table]]]:
    """The network at `path` (a Bulk CM export or a build folder) a piece at a time (``mos``
    and ``values`` rows read next), from the first at each call: an export's groups of parts
    (cut before ``MeContext``, read on `threads`; read whole when it is small or cannot be
    cut), a build folder's ``network/*.parquet`` a batch at a time. Checked now: an input
    that is missing or no network is an error here, not at the first read."""
    from rtbfast.audit import PART_BYTES
    from rtbfast.errors import InputIOError, InvalidValueError
    from rtbfast.output_folder import NETWORK
    from rtbfast.readers import checked_file, detect_kind, read_network

    p = Path(path)
    if p.is_dir():
        folder = p / NETWORK
        if not (folder / "mos.parquet").is_file():
            raise InputIOError(f"{p}: holds no network (no {NETWORK}/mos.parquet): build it from an export", str(p))

        def folder_pieces() -> Iterator[dict[str, pa.Table]]:
            for kind in ("mos", "values"):
                file = pq.ParquetFile(folder / f"{kind}.parquet")
                for batch in file.iter_batches(batch_size=1 << 20, use_threads=False):
                    yield {kind: pa.Table.from_batches([batch])}

        return folder_pieces
    checked = checked_file(p)
    bulkcm = detect_kind(checked) == "bulkcm"
    whole_only: list[bool] = [False]

    def whole() -> Iterator[dict[str, pa.Table]]:
        network = read_network(checked, threads=threads)
        yield {"mos": network.tables["mos"], "values": network.tables["values"]}

    def pieces() -> Iterator[dict[str, pa.Table]]:
        parts = None
        if bulkcm and not whole_only[0]:
            parts = _native.stream_bulkcm(checked, part_bytes or PART_BYTES, threads)
        if parts is None:
            yield from whole()
            return
        try:
            for group in parts:
                tables = {name: pa.table(t) for name, t in group["tables"].items()}
                del group
                yield {"mos": tables["mos"], "values": tables["values"]}
                del tables
        except InvalidValueError as err:
            if "in parts" not in err.message:
                raise
            whole_only[0] = True
            raise ReadWhole() from err

    return pieces


class ReadWhole(Exception):
    """An export's cut proved unsound after some of its parts were given: read it again whole."""


# -- the ChangeSet, spooled by batch of groups -------------------------------------------------


class ChangeSpool:
    """The ChangeSet's rows written by batch of groups (record batches of one Arrow IPC file,
    each with ``row``, its place in the ChangeSet), read back a batch of groups at a time."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.path = folder / "changes.arrow"
        self.schema = schema.append(pa.field("row", pa.int64(), False))
        self._sink = pa.OSFile(str(self.path), "wb")
        self._writer = ipc.new_file(self._sink, self.schema)
        self.batches_of: dict[int, list[int]] = {}
        self._count = 0

    def add(self, batch: pa.RecordBatch, first_row: int, batch_of_row: pa.Array) -> None:
        table = pa.Table.from_batches([batch]).append_column("row", row_numbers(first_row, batch.num_rows))
        table = table.select(self.schema.names).cast(self.schema)
        for b in pc.unique(batch_of_row).to_pylist():
            part = table.filter(pc.equal(batch_of_row, b)).combine_chunks()
            for rb in part.to_batches():
                self._writer.write_batch(rb)
                self.batches_of.setdefault(b, []).append(self._count)
                self._count += 1

    def close(self) -> None:
        self._writer.close()
        self._sink.close()

    def rows(self, batch: int) -> pa.Table:
        """The rows of batch of groups `batch`, in the ChangeSet's order."""
        indices = self.batches_of.get(batch, [])
        if not indices:
            return self.schema.empty_table()
        with pa.OSFile(str(self.path), "rb") as source:
            reader = ipc.open_file(source)
            return pa.Table.from_batches([reader.get_batch(i) for i in indices], self.schema)


def pack(groups: list[list[str]], size: Callable[[str], int], budget: int) -> list[list[list[str]]]:
    """Groups (lists of node keys, in the order given) packed into batches of at most
    `budget` (by `size` of their nodes); a group larger than `budget` is a batch alone."""
    batches: list[list[list[str]]] = []
    current: list[list[str]] = []
    held = 0
    for group in groups:
        cost = sum(size(k) for k in group)
        if current and held + cost > budget:
            batches.append(current)
            current, held = [], 0
        current.append(group)
        held += cost
    if current:
        batches.append(current)
    return batches


class Workspace:
    """A temporary folder for the spools of one plan, removed when done."""

    def __init__(self, parent: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="rtbfast-plan-", dir=parent))

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: Any) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
