"""A network given as Spark DataFrames (``mos_df``, ``values_df``: the columns of
:func:`rtbfast.spark.read_network`) put in node groups for the tasks that check it.

- Each row gets its node (:func:`rtbfast.enm.node_groups.node_keys` of its ``fdn``, the same
  key the planner and the audit use), its kind (an MO or a value) and its place in its
  DataFrame (partition, then row: the file's order for :func:`~rtbfast.spark.read_network`'s).
- The rows of no node (the MOs above every node, the skeleton, and their values) are taken to
  the driver (:func:`keyed`): a task checks its nodes with them, as the whole network has them.
- The others are partitioned by node and sorted by node, kind and place, so a task gets every
  row of a node together, MOs first, each in its DataFrame's order; :func:`node_groups` cuts the
  task's rows into groups of whole nodes of about :data:`GROUP_ROWS` rows, so a task's memory
  is bounded by a group, not by its partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.enm.node_groups import node_keys
from rtbfast.schemas import MOS_SCHEMA, VALUES_SCHEMA

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

GROUP_ROWS = 250_000
"""A task checks its nodes in groups of about this many rows (MOs and values), whole nodes each
(a node larger than this is a group alone)."""

KINDS = {"mos": 0, "values": 1}


def _marked(kind: str) -> Any:
    """A ``mapInArrow`` function giving each row its ``node``, ``kind`` and ``place``."""

    def mark(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        context = TaskContext.get()
        place = (context.partitionId() if context is not None else 0) << 33
        for batch in batches:
            n = batch.num_rows
            nodes = node_keys(batch.column("fdn")).combine_chunks() if n else pa.array([], pa.string())
            columns = [*batch.columns, nodes, pa.array([KINDS[kind]] * n, pa.int32())]
            columns.append(pa.array(range(place, place + n), pa.int64()))
            place += n
            yield pa.RecordBatch.from_arrays(columns, names=[*batch.schema.names, "node", "kind", "place"])

    return mark


def keyed(mos_df: DataFrame, values_df: DataFrame) -> DataFrame:
    """Both tables in one DataFrame (the columns of both, null where a row's kind has none), each
    row with its ``node`` (null above every node), ``kind`` (0 an MO, 1 a value) and ``place``."""
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    frames = []
    for kind, frame in (("mos", mos_df), ("values", values_df)):
        extra = [
            StructField("node", StringType(), True),
            StructField("kind", IntegerType(), False),
            StructField("place", LongType(), False),
        ]
        frames.append(frame.mapInArrow(_marked(kind), StructType([*frame.schema.fields, *extra])))
    return frames[0].unionByName(frames[1], allowMissingColumns=True)


def tables_of(rows: pa.Table) -> dict[str, pa.Table]:
    """The ``mos`` and ``values`` tables (rtbfast's schemas) of rows of :func:`keyed`."""
    return {
        name: rows.filter(pc.equal(rows.column("kind"), code)).select(schema.names).cast(schema)
        for (name, code), schema in zip(KINDS.items(), (MOS_SCHEMA, VALUES_SCHEMA), strict=True)
    }


def by_node(frame: DataFrame, partitions: int) -> DataFrame:
    """The rows of nodes of `frame` (of :func:`keyed`) in `partitions` partitions, each node in
    one, sorted by node, kind and place."""
    from pyspark.sql import functions as F

    return (
        frame.filter(F.col("node").isNotNull())
        .repartition(max(1, partitions), "node")
        .sortWithinPartitions("node", "kind", "place")
    )


def node_groups(batches: Iterator[pa.RecordBatch], rows: int = GROUP_ROWS) -> Iterator[dict[str, pa.Table]]:
    """The rows of a task of :func:`by_node` as groups of whole nodes of about `rows` rows."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        held += batch.num_rows
        if held < rows:
            continue
        table = pa.Table.from_batches(pending)
        nodes = table.column("node")
        cut = pc.index(nodes, nodes[-1]).as_py()  # where the last node (maybe not whole yet) starts
        if cut > 0:
            yield tables_of(table.slice(0, cut))
            table = table.slice(cut)
        pending, held = table.combine_chunks().to_batches(), table.num_rows
    if pending:
        yield tables_of(pa.Table.from_batches(pending))


__all__ = ["GROUP_ROWS", "by_node", "keyed", "node_groups", "tables_of"]
