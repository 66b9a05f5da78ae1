"""``rtbfast templates expand --spark`` (and ``rtbfast plan TEMPLATE --spark``): the batches of
nodes a streamed expansion makes (:mod:`rtbfast.templates.expand_stream`) expanded on Spark, one
task each, each by an expander of its own (:func:`rtbfast.templates.expand_stream.expand_alone`,
with the same sandbox bounds). The driver reads the network, chooses the targets and packs the
nodes as without Spark; after the tasks it takes the batches in order (a window of batches
at a time, each batch's result one at a time: :mod:`rtbfast.spark.batches`), carrying on what one batch
leaves to the next (notes and their counts, phases, clusters, the budget, the rows' ``seq``), and
writes them through the same spool and writer, so ``changes.parquet`` is byte for byte the one a
run without Spark writes.

Where a batch's result would depend on the batches before it (the template changed its own
state, ``vars`` or the names its code binds; a bound on all rows or on all that is made is near),
that batch and those after it are expanded on the driver instead, as one expansion
(:attr:`rtbfast.templates.expand_stream.Streamed.on_driver` says why). A batch crosses as Arrow
IPC (its network tables, its rows back), the catalog and the template once per executor.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.node_groups import BUDGET
from rtbfast.spark.batches import in_order
from rtbfast.spark.shipping import ShippedCatalog, built, from_ipc, to_ipc
from rtbfast.templates.expand_stream import BatchExpansion, BatchInput, ExpandRunner, expand_alone
from rtbfast.templates.sandbox import Limits
from rtbfast.templates.tree import Template

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_Item = tuple[int, list[str], dict[str, bytes], list[int], int]


def _expand_one(item: _Item, shipped: Any, job: Any) -> tuple[int, bytes]:
    i, batch, tables, wanted, done = item
    view: CatalogView = built("catalog", shipped, ShippedCatalog.view)
    tpl, limits, target_classes, total = built("expansion", job, pickle.loads)  # our own job's bytes
    got = expand_alone(
        (i, batch, {k: from_ipc(t) for k, t in tables.items()}, wanted, done), tpl, view, limits, target_classes, total
    )
    part, judged = to_ipc(got.part), None if got.judged is None else to_ipc(got.judged)
    got.part = got.judged = None  # crossing as IPC, beside
    return i, pickle.dumps((part, judged, got))


def _weight(item: _Item) -> int:
    return sum(len(t) for t in item[2].values())


def _outcome(blob: bytes) -> BatchExpansion:
    part, judged, got = pickle.loads(blob)  # our own tasks' results, in this job
    got.part = from_ipc(part)
    got.judged = None if judged is None else from_ipc(judged)
    expansion: BatchExpansion = got
    return expansion


def spark_expand(spark: SparkSession) -> ExpandRunner:
    """An :data:`rtbfast.templates.expand_stream.ExpandRunner` expanding the batches on
    `spark`, a task each."""

    def run(
        inputs: Iterator[BatchInput],
        tpl: Template,
        catalog: CatalogView,
        limits: Limits | None,
        target_classes: Sequence[str] | None,
        total: int,
    ) -> Iterator[tuple[int, BatchExpansion]]:
        items = ((i, b, {k: to_ipc(t) for k, t in tables.items()}, w, d) for i, b, tables, w, d in inputs)
        sc = spark.sparkContext
        shipped = sc.broadcast(ShippedCatalog.of(catalog))
        job = sc.broadcast(pickle.dumps((tpl, limits, list(target_classes) if target_classes else None, total)))
        try:
            for i, blob in in_order(spark, items, _weight, lambda item: _expand_one(item, shipped, job)):
                yield i, _outcome(blob)
        finally:
            shipped.unpersist()
            job.unpersist()

    return run


def expand(
    spark: SparkSession,
    template: str | os.PathLike[str] | Template,
    network: str | os.PathLike[str],
    targets: Sequence[str],
    catalog: str | os.PathLike[str] | CatalogView,
    *,
    limits: Limits | None = None,
    target_classes: Sequence[str] | None = None,
    budget: int = BUDGET,
) -> DataFrame:
    """The ChangeSet of `template` over the `targets` of `network` (a Bulk CM export or a build
    folder) with `catalog`, expanded a batch of nodes per Spark task: the rows
    ``rtbfast templates expand`` writes, in its order (batches of at most `budget` network
    values, a task each), as a DataFrame (the ChangeSet's columns,
    :data:`rtbfast.schemas.CHANGESET_SCHEMA`). The notes and verdicts are not in it: use
    :func:`rtbfast.templates.expand_stream.expand_streamed` with ``run_batches=spark_expand(spark)``
    for them."""
    from rtbfast.templates.expand_stream import expand_streamed

    with tempfile.TemporaryDirectory(prefix="rtbfast-expand-") as work:
        result = expand_streamed(
            template,
            catalog,
            network,
            list(targets),
            Path(work),
            limits=limits,
            target_classes=target_classes,
            budget=budget,
            run_batches=spark_expand(spark),
        )
        table = result.table()
    return spark.createDataFrame(table)


__all__ = ["expand", "spark_expand"]
