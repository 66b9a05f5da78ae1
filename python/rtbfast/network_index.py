"""A Network's MOs indexed for walking: each MO's row, class, id, parent and children, and its
current values, decoded when first asked for (scalars as written, structs as dicts, sequences
as lists). Built once per export with Arrow compute; used by template expansion and the
planner.

FDNs here are ENM's (``SubNetwork=…,MeContext=…,ManagedElement=…,Class=Id``). Templates write
DNs as slash paths (``Class-Id/Class-Id``): :func:`slash_dn` and :func:`fdn_of_slash` convert.
Values read here are :class:`RawText`: raw MOM units, which expansion does not convert again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.schemas import NETWORK_VALUE_ROWS_SCHEMA

if TYPE_CHECKING:
    from rtbfast import _native


class RawText(str):
    """A value as the network holds it: raw MOM units. Expansion writes it back unconverted,
    where a value a template writes is in engineering units. Behaves as ``str`` in every way
    (``_inert``: the sandbox lets a template call the same methods as on ``str``); what a
    template makes from it (a slice, a concatenation, ``str(...)``) is a plain ``str``."""

    __slots__ = ()
    _inert = True


def slash_dn(fdn: str) -> str:
    """An ENM FDN in the templates' slash form: ``SubNetwork=S,MeContext=N`` is
    ``SubNetwork-S/MeContext-N``."""
    return "/".join(rdn.replace("=", "-", 1) for rdn in fdn.split(","))


_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[-=](.+)")


def fdn_of_slash(dn: str) -> str:
    """A slash-form DN as an ENM FDN: each ``Class-Id`` (or ``Class=Id``) segment is an RDN;
    the class ends at the first ``-`` or ``=``. ValueError says which segment is not one, or
    holds a ``,`` (which an FDN cannot have in an id)."""
    rdns = []
    for segment in dn.split("/"):
        m = _SEGMENT.fullmatch(segment)
        if not m:
            raise ValueError(f"{segment!r} is not Class-Id")
        cls, rid = m.groups()
        if "," in rid:
            raise ValueError(f"{segment!r}: an id with ',' (a ',' where a '/' belongs?)")
        rdns.append(f"{cls}={rid}")
    return ",".join(rdns)


def _set_member(target: dict[str, Any], path: str, value: Any) -> None:
    *outer, last = path.split(".")
    for name in outer:
        inner = target.setdefault(name, {})
        if not isinstance(inner, dict):
            return
        target = inner
    target[last] = value


def is_in_column(column: pa.ChunkedArray | pa.Array, value_set: pa.Array) -> pa.ChunkedArray | pa.Array:
    """``is_in`` that stays in the dictionary of a dictionary-encoded column: each distinct
    value is looked up once, not once per row."""
    if not pa.types.is_dictionary(column.type):
        return pc.is_in(column, value_set=value_set)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = []
    for chunk in chunks:
        hit = pc.is_in(chunk.dictionary, value_set=value_set)
        out.append(pc.fill_null(pc.take(hit, chunk.indices), False))
    return pa.chunked_array(out, pa.bool_())


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values; a dictionary column through its dictionary (each distinct text
    made once, not once per row)."""
    out: list[Any] = []
    if not pa.types.is_dictionary(column.type):
        out.extend(column.to_pylist())
        return out
    for chunk in column.chunks:
        texts = chunk.dictionary.to_pylist()
        out.extend(None if i is None else texts[i] for i in chunk.indices.to_pylist())
    return out


_FEW = 64
"""Fewer MOs than this are decoded through the runs of values of every MO (made once, a loop
over them all); more by a scan of the values' owners."""

_Item = tuple[str, "str | None", "int | None", "RawText | None"]
"""A value row of one MO: attribute, member, index, value."""


def _decoded(cls: str, items: list[_Item], sequences: set[tuple[str, str]]) -> dict[str, Any]:
    """One MO's values (its value rows, in the network's order) as :meth:`NetworkIndex.attributes`
    gives them."""
    by_attribute: dict[str, list[_Item]] = {}
    for item in items:
        by_attribute.setdefault(item[0], []).append(item)
    out: dict[str, Any] = {}
    for name, rows in by_attribute.items():
        if len(rows) == 1 and not rows[0][1]:  # one plain value (most are)
            out[name] = [rows[0][3]] if (cls, name) in sequences else rows[0][3]
            continue
        sequence = (cls, name) in sequences or len({r[2] for r in rows}) > 1
        if any(r[1] for r in rows):
            structs: dict[int, dict[str, Any]] = {}
            for _, member, index, value in rows:
                _set_member(structs.setdefault(index or 0, {}), member or name, value)
            listed = [structs[i] for i in sorted(structs)]
            out[name] = listed if sequence else listed[0]
        elif sequence:
            out[name] = [r[3] for r in sorted(rows, key=lambda r: r[2] or 0)]
        else:
            out[name] = rows[-1][3]
    return out


class NetworkIndex:
    """The MOs of a Network (its ``mos`` and ``values`` tables), by row."""

    def __init__(self, tables: dict[str, pa.Table], sequences: Iterable[tuple[str, str]] = ()) -> None:
        mos = tables["mos"]
        self.fdn: list[str] = mos["fdn"].to_pylist()
        self.cls: list[str] = mos["class"].to_pylist()
        self.id: list[str] = mos["id"].to_pylist()
        self.row_of: dict[str, int] = {f: i for i, f in enumerate(self.fdn)}
        parents = pc.index_in(mos["parent_fdn"], value_set=mos["fdn"].combine_chunks())
        self.parent: list[int | None] = parents.to_pylist()
        self.children: dict[int, list[int]] = {}
        for row, parent in enumerate(self.parent):
            if parent is not None:
                self.children.setdefault(parent, []).append(row)
        self.sequences = set(sequences)
        """(class, attribute) pairs the catalog says are sequences (a sequence of one item is
        still a list)."""
        self._values = tables.get("values")
        self._runs: dict[int, list[tuple[int, int]]] | None = None
        self._owners: pa.Array | None = None
        self._decoded: dict[int, dict[str, Any]] = {}
        self._mos = mos
        self._native: _native.NetworkView | None = None

    @property
    def native(self) -> _native.NetworkView:
        """The MOs and values indexed natively, for the planner, the rollback and the simulator
        (made when first needed, then kept)."""
        if self._native is None:
            self._native = native_view(self._mos, self._values)
        return self._native

    def __len__(self) -> int:
        return len(self.fdn)

    def value_rows(self, fdns: pa.Array | pa.ChunkedArray) -> pa.Table:
        """The value rows of the MOs at `fdns` (``fdn``, ``attribute``, ``member``, ``index``,
        ``value``; plain text), in the network's order."""
        values = self._values
        if values is None or not values.num_rows or not len(fdns):
            return NETWORK_VALUE_ROWS_SCHEMA.empty_table()
        mine = values.filter(is_in_column(values["fdn"], fdns))

        def plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
            return pc.cast(column, pa.string()) if pa.types.is_dictionary(column.type) else column

        return pa.table(
            {
                "fdn": plain(mine["fdn"]),
                "attribute": plain(mine["attribute"]),
                "member": plain(mine["member"]),
                "index": mine["index"],
                "value": mine["value"],
            }
        )

    def _value_owners(self) -> pa.Array:
        """The MO row of each value row (-1 for a value of no MO here), made once."""
        if self._owners is None:
            values = self._values
            parts = [pa.array([], pa.int64())]
            if values is not None and values.num_rows:
                mo_fdns = pa.array(self.fdn, pa.string())
                for chunk in values["fdn"].chunks:
                    if pa.types.is_dictionary(chunk.type):
                        # the dictionary is matched once; each row takes its entry's MO row
                        owner_of_entry = pc.index_in(chunk.dictionary, value_set=mo_fdns)
                        parts.append(pc.take(owner_of_entry, chunk.indices).cast(pa.int64()))
                    else:
                        parts.append(pc.index_in(chunk, value_set=mo_fdns).cast(pa.int64()))
            self._owners = pc.fill_null(pa.concat_arrays(parts), -1)
        return self._owners

    def _value_runs(self) -> dict[int, list[tuple[int, int]]]:
        """MO row → the runs of value rows that are its (values are written MO by MO)."""
        if self._runs is not None:
            return self._runs
        runs: dict[int, list[tuple[int, int]]] = {}
        values = self._values
        if values is not None and values.num_rows:
            rows = self._value_owners()
            n = len(rows)
            if n:
                changes = pc.not_equal(rows.slice(1), rows.slice(0, n - 1))
                starts = pa.concat_arrays(
                    [pa.array([0], pa.uint64()), pc.add(pc.indices_nonzero(changes), 1).cast(pa.uint64())]
                )
                owners = pc.take(rows, starts).to_pylist()
                bounds = [*starts.to_pylist(), n]
                for owner, a, b in zip(owners, bounds, bounds[1:], strict=False):
                    if owner >= 0:
                        runs.setdefault(owner, []).append((a, b))
        self._runs = runs
        return runs

    def _values_of(self, row: int) -> dict[str, Any]:
        decoded = self._decoded.get(row)
        if decoded is None:
            self.decode((row,))
            decoded = self._decoded[row]
        return decoded

    def decode(self, rows: Iterable[int]) -> None:
        """Decode the values of the MOs at `rows` (those not decoded yet) together: one take and
        one conversion per column for all of them, not one per MO (a target's values are
        asked for target by target)."""
        pending = [r for r in dict.fromkeys(rows) if r not in self._decoded]
        if not pending:
            return
        values = self._values
        if values is None or not values.num_rows:
            for row in pending:
                self._decoded[row] = {}
            return
        if self._runs is not None or len(pending) < _FEW:  # looked up in the runs of each MO
            runs = self._value_runs()
            taken = [i for row in pending for a, b in runs.get(row, ()) for i in range(a, b)]
            picked = pa.array(taken, pa.int64())
        else:  # a scan of the owners, not a loop over every MO's runs
            picked = pc.indices_nonzero(pc.is_in(self._value_owners(), value_set=pa.array(pending, pa.int64())))
        part = values.select(["attribute", "member", "index", "value"]).take(picked)
        owners = pc.take(self._value_owners(), picked).to_pylist()
        attributes, members, indexes, texts = (_pylist(part[name]) for name in part.column_names)
        items_of: dict[int, list[_Item]] = {row: [] for row in pending}
        for owner, attribute, member, index, text in zip(owners, attributes, members, indexes, texts, strict=True):
            items_of[owner].append((attribute, member, index, None if text is None else RawText(text)))
        for row, items in items_of.items():
            self._decoded[row] = _decoded(self.cls[row], items, self.sequences)

    def attributes(self, row: int) -> dict[str, Any]:
        """The current values of the MO at `row`, decoded: a scalar as its text, a struct as a
        dict (nested members as nested dicts), a sequence as a list. A copy each time: a
        template may change what it reads."""
        copied: dict[str, Any] = _copy(self._values_of(row))
        return copied

    def value(self, row: int, attribute: str) -> Any:
        """The current value of one attribute of the MO at `row` (None where it has none), a
        copy as :meth:`attributes` gives."""
        return _copy(self._values_of(row).get(attribute))

    def ancestors(self, row: int) -> Iterable[int]:
        """The rows above `row`, nearest first."""
        parent = self.parent[row]
        while parent is not None:
            yield parent
            parent = self.parent[parent]

    def rows_of_class(self, classes: Iterable[str]) -> list[int]:
        wanted = set(classes)
        return [i for i, c in enumerate(self.cls) if c in wanted]


def _dictionary_of_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_dictionary(t) and t.index_type == pa.int32() and t.value_type == pa.string())


def _native_text(table: pa.Table, names: Iterable[str]) -> pa.Table:
    """The `names` columns of `table` (those it has), text ones plain or dictionary-encoded as
    the native module reads them (others cast to plain text)."""
    columns = {}
    for name in names:
        if name not in table.column_names:
            continue
        column = table[name]
        t = column.type
        if name == "index":
            columns[name] = column if t == pa.int32() else pc.cast(column, pa.int32())
        elif t == pa.string() or (
            pa.types.is_dictionary(t) and t.index_type == pa.int32() and t.value_type == pa.string()
        ):
            columns[name] = column
        else:
            columns[name] = pc.cast(column, pa.string())
    return pa.table(columns)


def native_view(mos: pa.Table, values: pa.Table | None) -> _native.NetworkView:
    """A network's ``mos`` and ``values`` indexed natively (:attr:`NetworkIndex.native`)."""
    from rtbfast import _native

    plain_mos = _native_text(mos, ("fdn", "class", "parent_fdn"))
    plain_values = None if values is None else _native_text(values, ("fdn", "attribute", "member", "index", "value"))
    return _native.NetworkView(plain_mos, plain_values)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def read_network_tables(path: str | os.PathLike[str], threads: int = 0) -> dict[str, pa.Table]:
    """The ``mos`` and ``values`` of a Bulk CM export, or of a build folder's ``network/``."""
    p = Path(path)
    if p.is_dir():
        import pyarrow.parquet as pq

        from rtbfast.errors import InputIOError
        from rtbfast.output_folder import NETWORK

        folder = p / NETWORK
        if not (folder / "mos.parquet").is_file():
            raise InputIOError(f"{p}: holds no network (no {NETWORK}/mos.parquet): build it from an export", str(p))
        return {name: pq.read_table(folder / f"{name}.parquet") for name in ("mos", "values")}
    from rtbfast.readers import read_network

    return dict(read_network(p, threads=threads).tables)
