"""Batches run on Spark a task each, their results handed back to the driver a few at a time, in
the batches' order: what ``expand --spark`` and ``plan --spark`` use
(:mod:`rtbfast.spark.expand_job`, :mod:`rtbfast.spark.plan_job`), so the driver's memory is
bounded by a window of batches' inputs and a run of their results, not by the network.

The batches go in windows (:data:`WINDOW_BYTES` of inputs, and at least twice the cluster's
cores in batches, so every core has work): a window's batches are computed by one job, all at
once, their results kept by the executors (memory, then disk), only their sizes sent back; the
driver then fetches them in order, a run of batches of at most :data:`WINDOW_BYTES` of results
(or one batch) per job, while the next window's inputs are not yet made. A consumer that stops
early (a batch the driver must expand itself, from there on) leaves the later windows unmade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

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
    task: Callable[[T], tuple[int, bytes]],
    window_bytes: int = WINDOW_BYTES,
) -> Iterator[tuple[int, bytes]]:
    """``task(item)`` (a number and bytes) of every item of `items` (`weigh`: its bytes), each on
    Spark in a task of its own, given back in the items' order, at most about `window_bytes`
    of them (or one) held at a time."""
    sc = spark.sparkContext
    least = 2 * max(1, sc.defaultParallelism)
    window: list[T] = []
    held = 0
    for item in items:
        window.append(item)
        held += weigh(item)
        if held >= window_bytes and len(window) >= least:
            yield from _window(sc, window, task, window_bytes)
            window, held = [], 0
    if window:
        yield from _window(sc, window, task, window_bytes)


def _window(
    sc: SparkContext, window: list[T], task: Callable[[T], tuple[int, bytes]], fetch_bytes: int
) -> Iterator[tuple[int, bytes]]:
    from pyspark import StorageLevel

    rdd = sc.parallelize(window, len(window)).map(task)  # the inputs now in the JVM
    window.clear()
    rdd.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # every batch of the window at once, kept where it was computed; only their sizes here
        sizes = rdd.map(lambda done: len(done[1])).collect()
        for part in _parts(sizes, fetch_bytes):  # then a few batches (or one) at a time
            yield from sc.runJob(rdd, lambda done: done, part)
    finally:
        rdd.unpersist()


def _parts(sizes: list[int], most: int) -> Iterator[list[int]]:
    """The partitions in order, in runs of at most `most` bytes (or one partition)."""
    run: list[int] = []
    held = 0
    for i, size in enumerate(sizes):
        if run and held + size > most:
            yield run
            run, held = [], 0
        run.append(i)
        held += size
    if run:
        yield run


__all__ = ["WINDOW_BYTES", "in_order"]
