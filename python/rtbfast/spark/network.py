"""Exports read on Spark, a chunk per task.

An export is split on the driver by a byte search (``rust/src/bulkcm/chunks.rs``: ranges that
start at a ``MeContext``/``ManagedElement`` tag, about :data:`CHUNK_BYTES` each, the same for any
number of tasks); each task reads its chunk alone with the native reader (the file's head
first, for the namespaces and the open ``SubNetwork`` chain). A gzip or bzip2 export (or a
deflated or stored zip member) is split in one pass over its decompressed stream, which gives
each chunk an access point (:attr:`Chunk.access`: about 32 KiB for deflate, 40 bytes for bzip2 or
a stored member): its task decompresses from the deflate block before its chunk (or the bzip2
block its chunk starts in), not from the file's start. The files must be readable at the same
path by every executor (a shared or distributed file system, or one machine).

Where a cut proves unsound (a chunk does not end between two nodes of the same
``SubNetwork``), the task fails saying so (:data:`UNSOUND`); the audit then reads the export as
one chunk: the same rows, or the error a read of the whole file gives, where it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rtbfast import _native
from rtbfast.readers import checked_file, detect_kind
from rtbfast.schemas import MOS_SCHEMA, SPARK_CHUNKS_SCHEMA, VALUES_SCHEMA, plain

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CHUNK_BYTES = 64 * 2**20
"""About this many bytes of XML per task. A task's memory is about 6 times its chunk's bytes
(``docs/scale-out.md``); a node is never cut, so a chunk is at least its largest node."""

CHUNK_SCHEMA = SPARK_CHUNKS_SCHEMA

UNSOUND = "cannot read this export in parts"


@dataclass(frozen=True)
class Chunk:
    file: int
    chunk: int
    path: str
    start: int
    end: int | None
    head_end: int
    access: bytes | None = None
    """Of a compressed export: where its task starts decompressing (``_native.bulkcm_chunks``)."""

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None

    @property
    def head(self) -> Chunk:
        """The file's head alone (the MOs above its first node): chunk 0's first rows."""
        return Chunk(self.file, -1, self.path, 0, self.head_end, self.head_end)


def split(paths: Sequence[str | os.PathLike[str]], chunk_bytes: int = CHUNK_BYTES) -> list[Chunk]:
    """Every export of `paths` split into chunks of about `chunk_bytes`, in order."""
    found: list[Chunk] = []
    for i, path in enumerate(paths):
        p = checked_file(path)
        if detect_kind(p) != "bulkcm":
            from rtbfast.errors import WrongRootError

            raise WrongRootError(f"{p}: this is an MP XML model, not a Bulk CM export", str(p), 1, 1, "models")
        cuts = _native.bulkcm_chunks(p, chunk_bytes)
        found.extend(Chunk(i, k, str(p.absolute()), s, e, h, a) for k, (s, e, h, a) in enumerate(cuts))
    return found


def whole(paths: Sequence[str | os.PathLike[str]]) -> list[Chunk]:
    """Every export of `paths` as one chunk."""
    return [Chunk(i, 0, str(checked_file(p).absolute()), 0, None, 0) for i, p in enumerate(paths)]


def chunk_table(chunks: Sequence[Chunk]) -> pa.Table:
    return pa.Table.from_pylist([c.__dict__ for c in chunks], schema=CHUNK_SCHEMA)


def chunks_of(batch: pa.RecordBatch) -> Iterator[Chunk]:
    for row in batch.to_pylist():
        yield Chunk(**row)


def read_chunk(chunk: Chunk) -> dict[str, Any]:
    """One chunk read alone by the native reader: ``tables``, ``warnings``, ``header``."""
    return dict(_native.read_bulkcm_chunk(chunk.path, chunk.start, chunk.end, chunk.head_end, chunk.access))


def chunk_tables(chunk: Chunk) -> dict[str, pa.Table]:
    return {name: pa.table(t) for name, t in read_chunk(chunk)["tables"].items()}


def chunks_frame(spark: SparkSession, chunks: Sequence[Chunk]) -> DataFrame:
    """The chunks as a DataFrame of one partition each, in order (a task per chunk)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    rows = [tuple(c.__dict__.values()) for c in chunks]
    rdd = spark.sparkContext.parallelize(rows, max(1, len(rows)))
    return spark.createDataFrame(rdd, schema=from_arrow_schema(CHUNK_SCHEMA))


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark schema of an rtbfast table (dictionary columns as plain strings)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(plain(schema))


def _reader(kind: str) -> Any:
    schema = plain(MOS_SCHEMA if kind == "mos" else VALUES_SCHEMA)

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for chunk in chunks_of(batch):
                table = chunk_tables(chunk)[kind].cast(schema)
                yield from table.to_batches()

    return read


def read_network(
    spark: SparkSession,
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[DataFrame, DataFrame]:
    """The ``mos`` and ``values`` of the exports `paths` as Spark DataFrames, read a chunk per
    task: the rows :func:`rtbfast.read_network` gives, file after file, in the same order
    (a DataFrame's order holds as long as nothing reorders it). Columns and nullability are
    those of :data:`rtbfast.schemas.MOS_SCHEMA` and :data:`~rtbfast.schemas.VALUES_SCHEMA`,
    the dictionary-encoded ones as plain strings (Spark has no dictionary type). Each
    DataFrame reads the chunks when it is computed; where a cut proves unsound (a ``MeContext``
    tag in a comment, nodes under two ``SubNetwork``s) the job fails with :data:`UNSOUND` in its
    message, and ``chunk_bytes`` larger than the file reads each export as one chunk."""
    listed = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    chunks = split(listed, chunk_bytes)
    frame = chunks_frame(spark, chunks)
    return tuple(  # type: ignore[return-value]
        frame.mapInArrow(_reader(kind), spark_schema(MOS_SCHEMA if kind == "mos" else VALUES_SCHEMA))
        for kind in ("mos", "values")
    )


def unsound(err: BaseException) -> bool:
    """Whether a failed Spark job failed because a chunk's cut proved unsound."""
    return UNSOUND in str(err)
