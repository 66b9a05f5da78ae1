"""Batches run on Spark a task each, their results handed back to the driver one at a time, in
the batches' order: what ``expand --spark`` and ``plan --spark`` use
(:mod:`rtbfast.spark.expand_job`, :mod:`rtbfast.spark.plan_job`), so the driver's memory is
bounded by a window of batches and one batch's result, not by the network.

The batches go in windows (:data:`WINDOW_BYTES` of inputs, and at least twice the cluster's
cores in batches, so every core has work): a window's batches are computed by one job, all at
once, their results kept by the executors (memory, then disk); the driver then takes them one
partition at a time (``toLocalIterator``) while the next window's inputs are not yet made. A
consumer that stops early (a batch the driver must expand itself, from there on) leaves the
later windows unmade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

T = TypeVar("T")

WINDOW_BYTES = 64 * 2**20
"""About this many bytes of batch inputs (Arrow IPC) in a window."""


def in_order(
    spark: SparkSession,
    items: Iterable[T],
    weigh: Callable[[T], int],
    task: Callable[[T], Any],
    window_bytes: int = WINDOW_BYTES,
) -> Iterator[Any]:
    """``task(item)`` of every item of `items` (`weigh`: its bytes), each on Spark in a task of
    its own, given back one at a time in the items' order."""
    sc = spark.sparkContext
    least = 2 * max(1, sc.defaultParallelism)
    window: list[T] = []
    held = 0
    for item in items:
        window.append(item)
        held += weigh(item)
        if held >= window_bytes and len(window) >= least:
            yield from _window(sc, window, task)
            window, held = [], 0
    if window:
        yield from _window(sc, window, task)


def _window(sc: SparkContext, window: list[T], task: Callable[[T], Any]) -> Iterator[Any]:
    from pyspark import StorageLevel

    rdd = sc.parallelize(window, len(window)).map(task)  # the inputs now in the JVM
    window.clear()
    rdd.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rdd.count()  # every batch of the window at once, kept where it was computed
        yield from rdd.toLocalIterator()  # then one partition (a batch) at a time to the driver
    finally:
        rdd.unpersist()


__all__ = ["WINDOW_BYTES", "in_order"]
