"""The **ChangeSet**: wanted changes (create, set, delete) per MO, in the long form of a
Network's ``values``, so the two join directly. Written by ``rtbfast templates expand``, read by
the ENM planner. The columns are documented in ``docs/tables.md``.

- ``phase``, ``phase_order``: the plan a row belongs to (``$plans``, ``$meta.plan_order``,
  ``enet.set_mo_params(…, plan=…)``), ``default`` first unless the template orders it;
- ``seq``: the order rows were made in (the template's order, target by target);
- ``op``: ``create`` (a row with no attribute, then a row per value the MO is created with),
  ``set``, ``delete`` (one row, no attribute);
- ``fdn`` (ENM form), ``class``, ``attribute``, ``member`` (struct member, nested with ``.``),
  ``index`` (item of a sequence; 0 for a single value), ``value`` (raw MOM units, as text,
  moRefs as ENM FDNs);
- a null ``value`` with a null ``index`` unsets the attribute; a null value at index
  :data:`EMPTIED` (-1) empties a sequence;
- ``target``: the target cell the row was made for; ``source``: template file and JSON
  pointer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rtbfast.errors import InputError, InputIOError, OutputError
from rtbfast.schemas import CHANGESET_SCHEMA

OPS = ("create", "set", "delete")

EMPTIED = -1
"""The ``index`` of the one row that empties a sequence (its value is null); a row with a
null index and a null value unsets the attribute."""

METADATA_KEY = b"rtbfast.changeset"
"""Parquet key-value metadata: what the ChangeSet was made from (JSON)."""


def in_one_phase(rows: pa.Table, source: pa.Array | pa.ChunkedArray) -> pa.Table:
    """A ChangeSet of `rows` (``op``, ``fdn``, ``class``, ``attribute``, ``member``, ``index``,
    ``value``) in one phase, ``default``, in their order, each MO its own target, with `source`."""
    n = rows.num_rows
    return pa.table(
        {
            "phase": pa.array(["default"] * n, pa.string()),
            "phase_order": pa.array([0] * n, pa.int32()),
            "seq": pa.array(range(n), pa.int64()),
            **{name: rows[name] for name in ("op", "fdn", "class", "attribute", "member", "index", "value")},
            "target": rows["fdn"],
            "source": source,
        }
    ).cast(CHANGESET_SCHEMA)


def write_changeset(
    changes: pa.Table,
    path: str | os.PathLike[str],
    made_from: dict[str, Any],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write `changes` as Parquet at `path`: to a file beside it first, swapped in only when
    complete, so a good file is never left half-written. `made_from` (template, network,
    targets …) is kept in the file's metadata. A folder, a symbolic link leading nowhere and
    one of the run's `inputs` are refused; a link to a file is followed (the link stays, the
    file it leads to is replaced)."""
    from rtbfast.output_folder import file_written_aside

    out = Path(path)
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; give the ChangeSet's file name (e.g. changes.parquet)", str(out))
    table = changes.cast(CHANGESET_SCHEMA).replace_schema_metadata(
        {METADATA_KEY: json.dumps(made_from, ensure_ascii=False).encode()}
    )
    with file_written_aside(out, "the ChangeSet", inputs=inputs) as aside:
        pq.write_table(table, aside)
        with open(aside, "rb") as f:
            os.fsync(f.fileno())
    return out


ROW_GROUP = 1024 * 1024
"""Rows in a row group of a ChangeSet file (Parquet's default, as :func:`write_changeset` writes)."""


def write_changeset_batches(
    batches: Callable[..., Iterator[pa.RecordBatch]],
    path: str | os.PathLike[str],
    made_from: dict[str, Any],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """:func:`write_changeset` for rows given a record batch at a time (a streamed expansion's):
    `batches` gives them from the first at each call, of the ``columns`` asked for. The same
    file, byte for byte, which needs each row group's columns in one piece each: they are put
    together one column at a time (a memory-mapped spool's other columns are not read), so
    one row group is held, not the rows twice."""
    from rtbfast.output_folder import file_written_aside

    out = Path(path)
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; give the ChangeSet's file name (e.g. changes.parquet)", str(out))
    schema = CHANGESET_SCHEMA.with_metadata({METADATA_KEY: json.dumps(made_from, ensure_ascii=False).encode()})
    total = sum(batch.num_rows for batch in batches(columns=["seq"]))
    with file_written_aside(out, "the ChangeSet", inputs=inputs) as aside:
        with pq.ParquetWriter(aside, schema) as writer:
            for low in range(0, max(total, 1), ROW_GROUP):
                high = min(low + ROW_GROUP, total)
                columns = [_rows_of_column(batches, f, low, high) for f in CHANGESET_SCHEMA]
                writer.write_table(pa.Table.from_arrays(columns, schema=schema))
        with open(aside, "rb") as f:
            os.fsync(f.fileno())
    return out


def _rows_of_column(batches: Callable[..., Iterator[pa.RecordBatch]], f: pa.Field, low: int, high: int) -> pa.Array:
    """Rows `low` to `high` of the column `f` of `batches`, in one piece."""
    pieces = []
    at = 0
    for batch in batches(columns=[f.name]):
        n = batch.num_rows
        start, stop = max(low, at), min(high, at + n)
        if start < stop:
            pieces.append(batch.column(0).slice(start - at, stop - start))
        at += n
        if at >= high:
            break
    return pa.concat_arrays(pieces).cast(f.type) if pieces else pa.array([], f.type)


def read_changeset(path: str | os.PathLike[str]) -> tuple[pa.Table, dict[str, Any]]:
    """A ChangeSet file and what it was made from; :class:`InputError` names what is wrong
    (not Parquet, a column missing or of another type, an unknown op)."""
    p = Path(path)
    try:
        table = pq.read_table(p)
    except FileNotFoundError as err:
        raise InputIOError(f"{p}: no such file", str(p)) from err
    except (OSError, pa.ArrowInvalid) as err:
        raise InputError(f"{p}: not a ChangeSet (not readable as Parquet: {err})", str(p)) from err
    for f in CHANGESET_SCHEMA:
        if f.name not in table.column_names:
            raise InputError(f"{p}: not a ChangeSet: no column {f.name!r}", str(p))
        if not table.schema.field(f.name).type.equals(f.type):
            raise InputError(f"{p}: column {f.name!r} is {table.schema.field(f.name).type}, not {f.type}", str(p))
    ops = set(table["op"].unique().to_pylist())
    if not ops <= set(OPS):
        raise InputError(
            f"{p}: unknown op(s) {sorted(str(o) for o in ops - set(OPS))}; ops are {', '.join(OPS)}", str(p)
        )
    meta = (table.schema.metadata or {}).get(METADATA_KEY)
    made_from = json.loads(meta) if meta else {}
    return table.select(CHANGESET_SCHEMA.names).replace_schema_metadata(None), made_from


def changeset_batches(
    path: str | os.PathLike[str], rows: int = 65_536
) -> tuple[dict[str, Any], Callable[..., Iterator[pa.RecordBatch]]]:
    """A ChangeSet file checked as :func:`read_changeset` checks it (its columns and types, its
    ops; the same errors), without holding its rows: what it was made from, its rows a batch of
    at most `rows` at a time (each call reads them again from the first)."""
    p = Path(path)
    try:
        file = pq.ParquetFile(p)
    except FileNotFoundError as err:
        raise InputIOError(f"{p}: no such file", str(p)) from err
    except (OSError, pa.ArrowInvalid) as err:
        raise InputError(f"{p}: not a ChangeSet (not readable as Parquet: {err})", str(p)) from err
    schema = file.schema_arrow
    for f in CHANGESET_SCHEMA:
        if f.name not in schema.names:
            raise InputError(f"{p}: not a ChangeSet: no column {f.name!r}", str(p))
        if not schema.field(f.name).type.equals(f.type):
            raise InputError(f"{p}: column {f.name!r} is {schema.field(f.name).type}, not {f.type}", str(p))
    ops: set[Any] = set()
    try:
        for batch in file.iter_batches(batch_size=rows, columns=["op"], use_threads=False):
            ops.update(batch.column(0).unique().to_pylist())
    except (OSError, pa.ArrowInvalid) as err:
        raise InputError(f"{p}: not a ChangeSet (not readable as Parquet: {err})", str(p)) from err
    if not ops <= set(OPS):
        raise InputError(
            f"{p}: unknown op(s) {sorted(str(o) for o in ops - set(OPS))}; ops are {', '.join(OPS)}", str(p)
        )
    meta = (schema.metadata or {}).get(METADATA_KEY)
    made_from = json.loads(meta) if meta else {}

    def batches(columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The rows (of `columns` only, when given), a batch at a time."""
        names = columns or CHANGESET_SCHEMA.names
        schema = pa.schema([CHANGESET_SCHEMA.field(n) for n in names])
        reader = pq.ParquetFile(p)
        for batch in reader.iter_batches(batch_size=rows, columns=names, use_threads=False):
            yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)

    return made_from, batches
