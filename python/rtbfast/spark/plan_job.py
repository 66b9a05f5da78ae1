"""``rtbfast plan --spark``: the batches of node groups (:mod:`rtbfast.enm.node_groups`) planned
on Spark, one task each, by :func:`rtbfast.enm.plan_group.plan_group` (one batch in, tables
out). Everything else is what ``rtbfast plan`` does on one machine: the driver reads the
ChangeSet and the network, groups and packs the nodes, and takes the batches' plans back one at a time in
batch order (:mod:`rtbfast.spark.batches`, a window of batches per job), puts them in
the whole plan's one order (:mod:`rtbfast.enm.plan_order`) and writes the files, so they are
byte for byte those of a run without Spark.

A batch crosses as Arrow IPC (its ChangeSet rows and its network), the catalog once per
executor (:class:`rtbfast.spark.shipping.ShippedCatalog`); a batch's plan comes back pickled (a
few tables), a :class:`rtbfast.enm.plan.PlanError` as its class and problems.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.plan import PlanError
from rtbfast.enm.plan_group import Context, GroupPlan, plan_group
from rtbfast.enm.plan_stream import BatchInput, BatchRunner
from rtbfast.spark.batches import in_order
from rtbfast.spark.shipping import ShippedCatalog, built, from_ipc, to_ipc

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _plan_one(
    item: tuple[int, bytes, dict[str, bytes]], catalog: Any, context: Context, check: bool
) -> tuple[int, bytes]:
    i, rows, tables = item
    view: CatalogView = built("catalog", catalog, ShippedCatalog.view)
    try:
        g = plan_group(from_ipc(rows), {k: from_ipc(t) for k, t in tables.items()}, view, context, check=check)
    except PlanError as err:
        return i, pickle.dumps(("error", type(err).__module__, type(err).__qualname__, err.problems))
    return i, pickle.dumps(("plan", g))


def _weight(item: tuple[int, bytes, dict[str, bytes]]) -> int:
    return len(item[1]) + sum(len(t) for t in item[2].values())


def _outcome(blob: bytes) -> GroupPlan | PlanError:
    got = pickle.loads(blob)  # our own tasks' results, in this job
    if got[0] == "plan":
        plan: GroupPlan = got[1]
        return plan
    import importlib

    kind = getattr(importlib.import_module(got[1]), got[2], PlanError)
    err: PlanError = kind(got[3])
    return err


def spark_batches(spark: SparkSession) -> BatchRunner:
    """A :data:`rtbfast.enm.plan_stream.BatchRunner` that plans the batches on `spark`, a task each."""

    def run(
        inputs: Iterator[BatchInput], catalog: CatalogView, context: Context, check: bool
    ) -> Iterator[tuple[int, GroupPlan | PlanError]]:
        items = ((i, to_ipc(rows), {k: to_ipc(t) for k, t in tables.items()}) for i, rows, tables in inputs)
        sc = spark.sparkContext
        shipped = sc.broadcast(ShippedCatalog.of(catalog))
        try:
            for i, blob in in_order(spark, items, _weight, lambda item: _plan_one(item, shipped, context, check)):
                yield i, _outcome(blob)
        finally:
            shipped.unpersist()

    return run
