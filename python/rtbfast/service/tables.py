"""A table answered as the client asks with ``Accept``: JSON (rows), Arrow IPC stream or Parquet."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Response
from fastapi.responses import JSONResponse

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
KINDS = (ARROW, PARQUET, "application/x-parquet")


def wanted(accept: str | None) -> str:
    """``arrow``, ``parquet`` or ``json``: the first of the client's types rtbfast writes."""
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media == ARROW:
            return "arrow"
        if media in (PARQUET, "application/x-parquet"):
            return "parquet"
        if media in ("application/json", "*/*", "application/*"):
            return "json"
    return "json"


def table_bytes(kind: str, table: pa.Table) -> tuple[str, bytes]:
    """`table` as an Arrow IPC stream (`kind` ``arrow``) or a Parquet file (``parquet``): its
    media type and bytes."""
    sink = io.BytesIO()
    if kind == "arrow":
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return ARROW, sink.getvalue()
    pq.write_table(table, sink, compression="zstd")
    return PARQUET, sink.getvalue()


def table_response(accept: str | None, table: pa.Table, json_body: dict[str, Any], status: int = 200) -> Response:
    """`table` as Arrow or Parquet when asked, else `json_body` (which holds its rows)."""
    kind = wanted(accept)
    if kind in ("arrow", "parquet"):
        media_type, data = table_bytes(kind, table)
        return Response(data, status, media_type=media_type)
    return JSONResponse(json_body, status)


def rows(table: pa.Table, limit: int | None = None) -> list[dict[str, Any]]:
    """JSON-ready rows (decimals and times as text)."""
    t = table if limit is None else table.slice(0, limit)
    out: list[dict[str, Any]] = t.to_pylist()
    for row in out:
        for k, v in row.items():
            if v is not None and not isinstance(v, str | int | float | bool | list | dict):
                row[k] = str(v)
    return out
