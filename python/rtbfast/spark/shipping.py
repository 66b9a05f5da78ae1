"""What crosses from the driver to the executors once per job: a catalog's tables and
constraints as Arrow IPC bytes (in one broadcast, so once per executor, not pickled per task),
and tables to and from tasks as Arrow IPC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from rtbfast.catalog_view import CatalogView
from rtbfast.rules.constraints import Constraints


def to_ipc(table: pa.Table) -> bytes:
    """`table` as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(data: bytes) -> pa.Table:
    return ipc.open_stream(pa.py_buffer(data)).read_all()


@dataclass
class ShippedCatalog:
    """A :class:`CatalogView` as it crosses to the executors."""

    tables: dict[str, bytes]
    constraints: bytes
    notes: list[str]
    origin: str

    @classmethod
    def of(cls, view: CatalogView) -> ShippedCatalog:
        return cls(
            {name: to_ipc(t) for name, t in view.tables.items()},
            to_ipc(view.constraints.table),
            list(view.constraints.notes),
            view.origin,
        )

    def view(self) -> CatalogView:
        return CatalogView(
            {name: from_ipc(b) for name, b in self.tables.items()},
            Constraints(from_ipc(self.constraints), list(self.notes)),
            self.origin,
        )


_BUILT: dict[tuple[str, int], tuple[Any, Any]] = {}
"""What a Python worker built of a broadcast's value (by kind and the value's identity: a worker
keeps a broadcast's value once, and runs many tasks)."""


def built(kind: str, broadcast: Any, make: Any) -> Any:
    """``make(broadcast.value)``, once per Python worker and broadcast."""
    value = broadcast.value
    key = (kind, id(value))
    if key not in _BUILT:
        for old in [k for k in _BUILT if k[0] == kind]:
            del _BUILT[old]
        _BUILT[key] = (value, make(value))  # the value kept alive: its identity stays its own
    return _BUILT[key][1]
