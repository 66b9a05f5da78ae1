"""``rtbfast audit`` on Spark: each chunk of the export (:mod:`rtbfast.spark.network`) read and
checked by the native evaluator inside ``mapInArrow``, with the checks of
:func:`rtbfast.audit.check_network`, so the violations are those of one machine.

- The catalog crosses once per executor: its tables and constraints as Arrow IPC bytes in one
  broadcast; each Python worker builds its checks from them once (:func:`_checks`).
- A chunk after the first is checked with the file's head before it (the ``SubNetwork`` chain
  above its nodes), as the whole file has it: rules that look at a node's ``parent`` see it.
  The head's own violations are the first chunk's.
- Every rule looks within one node, but uniqueness whose scope is not inside a node (MOs above
  the nodes, or a node's root MO under ``parent`` scope): each task sends those MOs' values on
  (a ``shared`` row), and the driver checks them together (the second stage).
- Counts for ``audit.json`` come back as a ``tally`` row per chunk.
- A network given as DataFrames (``(mos_df, values_df)``, :func:`run_frames`) is checked the
  same way (:func:`check_group`) a group of whole nodes at a time
  (:mod:`rtbfast.spark.node_frames`), the MOs above every node in the head's place: checked
  once on the driver, and broadcast to the tasks, which check their nodes with them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.audit import AuditResult, Checks, _Tally, check_network, load_checks, summarise, unique_checks, with_nodes
from rtbfast.catalog_view import CatalogView
from rtbfast.output_folder import Phases
from rtbfast.readers import ReadWarning, located_warnings
from rtbfast.rules.uniqueness import scope_in_one_node
from rtbfast.schemas import SPARK_AUDIT_ROWS_SCHEMA, VIOLATIONS_SCHEMA
from rtbfast.spark.network import (
    CHUNK_BYTES,
    Chunk,
    chunk_tables,
    chunks_frame,
    chunks_of,
    read_chunk,
    split,
    unsound,
    whole,
)
from rtbfast.spark.node_frames import GROUP_ROWS, by_node, keyed, node_groups, tables_of
from rtbfast.spark.shipping import ShippedCatalog, built, from_ipc, to_ipc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

OUT_SCHEMA = SPARK_AUDIT_ROWS_SCHEMA

VIOLATION_COLUMNS = [*VIOLATIONS_SCHEMA.names, "node"]


@dataclass
class Shipped:
    """The checks as they cross to the executors: the catalog (Arrow IPC), the user rules (a
    small table) and the time."""

    catalog: ShippedCatalog
    rule_file: Any
    at: datetime | None

    @classmethod
    def of(cls, checks: Checks, view: CatalogView) -> Shipped:
        return cls(ShippedCatalog.of(view), checks.rule_file, checks.at)

    def checks(self) -> Checks:
        checks = load_checks(self.catalog.view(), None, self.at, 1)
        checks.rule_file = self.rule_file
        return checks


_HEADS: dict[tuple[str, int], tuple[dict[str, pa.Table], int, int]] = {}


def _checks(broadcast: Any) -> Checks:
    checks: Checks = built("checks", broadcast, Shipped.checks)
    return checks


def _head(chunk: Chunk, checks: Checks) -> tuple[dict[str, pa.Table], int, int]:
    """The file's head: its tables, and the values and rule evaluations checking it counts."""
    key = (chunk.path, chunk.head_end)
    if key not in _HEADS:
        tables = chunk_tables(chunk.head)
        tally = _Tally()
        check_network(tables, checks, tally, within_nodes=True)
        _HEADS.clear()
        _HEADS[key] = (tables, tally.values, tally.evaluations)
    return _HEADS[key]


def _rows(violations: pa.Table | None, at: tuple[int, int], kind: str, blob: bytes | None = None) -> pa.RecordBatch:
    """Rows of the task's output; `at` the ``file`` and ``chunk`` they are ordered by."""
    n = violations.num_rows if violations is not None else 1
    columns = [
        violations.column(name).combine_chunks().cast(OUT_SCHEMA.field(name).type)
        if violations is not None
        else pa.nulls(1, OUT_SCHEMA.field(name).type)
        for name in VIOLATION_COLUMNS
    ]
    columns += [
        pa.array([at[0]] * n, pa.int32()),
        pa.array([at[1]] * n, pa.int32()),
        pa.array([kind] * n, pa.string()),
        pa.array([blob] * n, pa.binary()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=OUT_SCHEMA)


def _shared(tables: dict[str, pa.Table], checks: Checks) -> pa.Table | None:
    """The MOs (and their values) of this chunk that uniqueness compares across nodes."""
    picked = []
    for r in checks.texts.rules:
        if r.kind != "unique":
            continue
        mos = tables["mos"].filter(pc.equal(tables["mos"].column("class"), r.cls))
        picked.append(mos.filter(pc.invert(scope_in_one_node(mos, r.params["scope"]))))
    if not picked or not sum(t.num_rows for t in picked):
        return None
    # an MO once, however many rules pick it
    fdns = pc.unique(pa.concat_tables(picked).column("fdn").combine_chunks())
    mos = tables["mos"].filter(pc.is_in(tables["mos"].column("fdn"), value_set=fdns))
    values = tables["values"]
    fdn = values.column("fdn").cast(pa.string())
    values = values.filter(pc.is_in(fdn, value_set=mos.column("fdn").combine_chunks()))
    plain_values = pa.table(
        {
            name: values.column(name).cast(pa.string())
            if pa.types.is_dictionary(values.schema.field(name).type)
            else values.column(name)
            for name in values.column_names
        }
    )
    return pa.table({"mos": [to_ipc(mos)], "values": [to_ipc(plain_values)]})


def check_chunk(chunk: Chunk, checks: Checks) -> Iterator[pa.RecordBatch]:
    """One chunk read and checked: its violations, its shared MOs, its tally."""
    read = read_chunk(chunk)
    own = {name: pa.table(t) for name, t in read["tables"].items()}
    head = _head(chunk, checks) if chunk.start > 0 else None  # the head above its nodes, as the file has it
    yield from check_group(own, head, checks, (chunk.file, chunk.chunk), read["warnings"])


def check_group(
    own: dict[str, pa.Table],
    head: tuple[dict[str, pa.Table], int, int] | None,
    checks: Checks,
    at: tuple[int, int],
    warnings: Sequence[Any] = (),
) -> Iterator[pa.RecordBatch]:
    """Whole nodes (`own`: a chunk, or a group of a network's nodes) checked, with the MOs above
    them (`head`: its tables, and the values and evaluations checking it alone counts) when they
    are not in `own`: the group's violations (the head's left out), its shared MOs, its tally."""
    tally = _Tally()
    tables = own
    head_fdns = None
    checked_before = evaluations_before = 0
    if head is not None:
        tables_above, checked_before, evaluations_before = head
        head_fdns = tables_above["mos"].column("fdn").combine_chunks()
        tables = {name: pa.concat_tables([tables_above[name], own[name]]) for name in ("mos", "values")}
    violations = check_network(tables, checks, tally, within_nodes=True)
    if head_fdns is not None and violations.num_rows:
        violations = violations.filter(
            pc.invert(pc.fill_null(pc.is_in(violations.column("subject"), value_set=head_fdns), False))
        )
    violations = with_nodes([violations])
    yield _rows(violations, at, "violation")
    shared = _shared(own, checks)
    if shared is not None:
        yield _rows(None, at, "shared", to_ipc(shared))
    counts = {
        "mos": own["mos"].num_rows,
        "values": tally.values - checked_before,
        "evaluations": tally.evaluations - evaluations_before,
        "skipped_by_window": tally.skipped_by_window,
        "problems": tally.problems,
        "warnings": [list(w) for w in warnings],
    }
    yield _rows(None, at, "tally", json.dumps(counts).encode())


def _task(broadcast: Any) -> Any:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        checks = _checks(broadcast)
        for batch in batches:
            for chunk in chunks_of(batch):
                yield from check_chunk(chunk, checks)

    return run


@dataclass
class SparkAudit:
    """What a Spark audit gives the driver: every violation, and the counts."""

    violations: pa.Table
    tally: _Tally


def second_stage(facts: pa.Table, checks: Checks) -> pa.Table:
    """The uniqueness violations among the shared MOs every chunk sent."""
    blobs = facts.filter(pc.equal(facts.column("kind"), "shared")).column("blob").to_pylist()
    if not blobs:
        return with_nodes([])
    parts = [pa.table(from_ipc(b)) for b in blobs]
    mos = pa.concat_tables([from_ipc(p.column("mos")[0].as_py()) for p in parts], promote_options="permissive")
    values = pa.concat_tables([from_ipc(p.column("values")[0].as_py()) for p in parts], promote_options="permissive")
    found = unique_checks({"mos": mos, "values": values}, checks, within_nodes=False)
    return with_nodes(found)


def _tally(facts: pa.Table) -> _Tally:
    tally = _Tally()
    warnings: list[ReadWarning] = []
    for blob in facts.filter(pc.equal(facts.column("kind"), "tally")).column("blob").to_pylist():
        counts = json.loads(blob)
        tally.mos += counts["mos"]
        tally.values += counts["values"]
        tally.evaluations += counts["evaluations"]
        tally.skipped_by_window = counts["skipped_by_window"]
        tally.problems = counts["problems"]
        warnings.extend(located_warnings([tuple(w) for w in counts["warnings"]]))
    tally.warnings = warnings
    return tally


def _paths(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    return [paths] if isinstance(paths, str | os.PathLike) else list(paths)


def _ordered(table: pa.Table) -> pa.Table:
    """Rows by file, then chunk, each chunk's in the order its task gave them."""
    return table.take(pc.sort_indices(table, [("file", "ascending"), ("chunk", "ascending")]))


def run(
    spark: SparkSession,
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    checks: Checks,
    view: CatalogView,
    chunk_bytes: int = CHUNK_BYTES,
) -> SparkAudit:
    """Check the exports `paths` on Spark: every violation (in file and chunk order) and the counts."""
    listed = _paths(paths)
    shipped = spark.sparkContext.broadcast(Shipped.of(checks, view))
    try:
        for chunks in (split(listed, chunk_bytes), None):
            if chunks is None:
                chunks = whole(listed)
            frame = chunks_frame(spark, chunks).mapInArrow(_task(shipped), _spark_schema())
            try:
                out = _ordered(frame.toArrow())
            except Exception as err:  # a job's failure arrives as py4j's or pyspark's error
                if unsound(err) and any(not c.whole for c in chunks):
                    continue  # a cut proved unsound: read each export as one chunk
                raise _task_error(err) from None
            break
    finally:
        shipped.unpersist()
    second = second_stage(out, checks)  # also gives the schema violations.parquet has
    picked = out.filter(pc.equal(out.column("kind"), "violation"))
    first = pa.Table.from_arrays([picked.column(n) for n in VIOLATION_COLUMNS], schema=second.schema)
    violations = pa.concat_tables([first, second]) if second.num_rows else first
    return SparkAudit(violations, _tally(out))


def _spark_schema() -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(OUT_SCHEMA)


def _task_error(err: BaseException) -> Exception:
    """The rtbfast error a task raised (a bad input, located: its class and message as the task
    gave them), or the Spark error as it came."""
    from rtbfast import errors

    for line in str(err).splitlines():
        if line.startswith("rtbfast.errors."):
            name, _, message = line.partition(": ")
            kind = getattr(errors, name.rsplit(".", 1)[-1], errors.InputError)
            if isinstance(kind, type) and issubclass(kind, errors.RtbfastError):
                return kind(message)
    return err if isinstance(err, Exception) else RuntimeError(str(err))


Network = tuple["DataFrame", "DataFrame"]
"""A network as Spark DataFrames: ``(mos_df, values_df)``, as :func:`rtbfast.spark.read_network`
gives them."""


def _is_frames(network: object) -> bool:
    return isinstance(network, tuple) and len(network) == 2 and all(hasattr(f, "mapInArrow") for f in network)


def _skeleton(data: tuple[bytes, bytes], checks: Checks) -> tuple[dict[str, pa.Table], int, int]:
    """The MOs above every node (and their values): their tables, and the values and
    evaluations checking them alone counts."""
    tables = {"mos": from_ipc(data[0]), "values": from_ipc(data[1])}
    tally = _Tally()
    check_network(tables, checks, tally, within_nodes=True)
    return tables, tally.values, tally.evaluations


def _group_task(broadcast: Any, skeleton: Any, group_rows: int) -> Any:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        checks = _checks(broadcast)
        head = built("skeleton", skeleton, lambda data: _skeleton(data, checks))
        context = TaskContext.get()
        partition = context.partitionId() if context is not None else 0
        for k, own in enumerate(node_groups(batches, group_rows)):
            yield from check_group(own, head if head[0]["mos"].num_rows else None, checks, (partition, k))

    return run


def run_frames(
    spark: SparkSession, network: Network, checks: Checks, view: CatalogView, group_rows: int = GROUP_ROWS
) -> SparkAudit:
    """Check a network given as DataFrames (:data:`Network`) on Spark, a group of whole nodes at
    a time inside each task (:mod:`rtbfast.spark.node_frames`): every violation (the MOs above
    every node first, then by partition and group) and the counts."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    mos_df, values_df = network
    rows = keyed(mos_df, values_df).persist(StorageLevel.MEMORY_AND_DISK)  # read once, for both jobs
    shipped = spark.sparkContext.broadcast(Shipped.of(checks, view))
    skeleton = None
    try:
        above = tables_of(rows.filter(F.col("node").isNull()).toArrow())
        skeleton = spark.sparkContext.broadcast((to_ipc(above["mos"]), to_ipc(above["values"])))
        partitions = max(mos_df.rdd.getNumPartitions(), spark.sparkContext.defaultParallelism)
        frame = by_node(rows, partitions).mapInArrow(_group_task(shipped, skeleton, group_rows), _spark_schema())
        out = _ordered(frame.toArrow())
    except Exception as err:  # a job's failure arrives as py4j's or pyspark's error
        raise _task_error(err) from None
    finally:
        rows.unpersist()
        shipped.unpersist()
        if skeleton is not None:
            skeleton.unpersist()
    # the MOs above every node checked once, here, and their shared MOs for the second stage
    top = pa.Table.from_batches(list(check_group(above, None, checks, (-1, 0))))
    out = pa.concat_tables([top, out])
    second = second_stage(out, checks)
    picked = out.filter(pc.equal(out.column("kind"), "violation"))
    first = pa.Table.from_arrays([picked.column(n) for n in VIOLATION_COLUMNS], schema=second.schema)
    violations = pa.concat_tables([first, second]) if second.num_rows else first
    return SparkAudit(violations, _tally(out))


def audit(
    spark: SparkSession,
    network: Network | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    catalog: str | os.PathLike[str] | CatalogView,
    *,
    rules: str | os.PathLike[str] | None = None,
    at: datetime | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    group_rows: int = GROUP_ROWS,
) -> DataFrame:
    """The violations of `network` against `catalog` (and the user `rules` at `at`), checked on
    Spark: the rows :func:`rtbfast.audit.audit` writes to ``violations.parquet`` (with ``node``),
    as a DataFrame. `network` is the paths of exports (split into chunks of about `chunk_bytes`)
    or the DataFrames ``(mos_df, values_df)`` of :func:`rtbfast.spark.read_network` (or any with
    their columns), checked a group of whole nodes (about `group_rows` rows) at a time."""
    view = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog)
    checks = load_checks(view, rules, at, 1)
    if _is_frames(network):
        found = run_frames(spark, network, checks, view, group_rows)  # type: ignore[arg-type]
    else:
        found = run(spark, network, checks, view, chunk_bytes)  # type: ignore[arg-type]
    return spark.createDataFrame(found.violations)


def audit_to_folder(
    spark: SparkSession,
    export: str | os.PathLike[str],
    catalog: str | os.PathLike[str] | CatalogView,
    out: str | os.PathLike[str],
    *,
    rules: str | os.PathLike[str] | None = None,
    at: datetime | None = None,
    on_phase: Any = None,
    chunk_bytes: int = CHUNK_BYTES,
    xlsx: bool = False,
) -> AuditResult:
    """``rtbfast audit --spark``: the folder :func:`rtbfast.audit.audit` writes (with `xlsx`, its
    workbook too), its violations found on Spark; written aside and swapped in only when the
    whole job succeeded."""
    from rtbfast.audit import write_audit

    phases = Phases(on_phase, {"read": 0.0, "evaluate": 0.0})
    with phases.phase("rules"):
        view = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog)
        checks = load_checks(view, rules, at, 1)
    phases.announce("read and evaluate on Spark")
    with phases.phase("evaluate", announce=False):
        found = run(spark, export, checks, view, chunk_bytes)
    phases.announce("write")
    with phases.phase("write", announce=False):
        shown = catalog.origin if isinstance(catalog, CatalogView) else catalog
        summary = summarise(export, shown, checks, found.tally, found.violations)
    return write_audit(Path(out), found.violations, summary, phases, xlsx=xlsx)


__all__ = ["Network", "audit", "audit_to_folder", "run", "run_frames"]
