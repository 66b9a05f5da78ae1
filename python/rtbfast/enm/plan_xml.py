"""A plan (or its rollback) made batch of node groups by batch, written as one 3GPP Bulk CM
import file, byte for byte as :func:`rtbfast.enm.planning.write_dialect` writes the whole
plan's.

The file lays MOs out as a tree (``SubNetwork``, then each node, each MO's children by FDN),
not in step order, and a node's element depends only on the node's own rows (in step order).
So each batch writes the element of each of its nodes as the native writer does (with where
each element is, ``network_xml_spans``), kept in a spool, and the skeleton above them (the
``SubNetwork`` elements: their opening and closing); the file is the skeleton's tree with the
nodes' elements in their places.

What the whole file would refuse is found the same way: a value left unset or a sequence
emptied (every such row, in step order), else the first name (MOs by depth and FDN, then
attributes in step order) or value (in tree order) XML cannot carry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.enm.plan import Problem

STAGES = ("names of MOs", "names of attributes", "values")
"""Where the native writer refuses, in the order it looks."""


@dataclass
class XmlParts:
    """What one stem (``plan`` or ``rollback``) of the 3GPP file gathers from the batches."""

    where: str
    spool: Path
    skeleton: dict[str, tuple[bytes, bytes, bool]] = field(default_factory=dict)
    """fdn → (its opening, its closing, whether the plan changes it)."""
    nodes: list[tuple[str, int, int]] = field(default_factory=list)
    """(node root's FDN, offset in the spool, length)."""
    unset: list[tuple[int, pa.Table]] = field(default_factory=list)
    """(batch, rows refused for a value unset or a sequence emptied, the batch's steps)."""
    refused: list[tuple[tuple[Any, ...], Problem]] = field(default_factory=list)
    """(where in the whole file's order, the refusal): the native writer's first in a batch."""
    _size: int = 0

    def __post_init__(self) -> None:
        self.spool.write_bytes(b"")

    def add(self, batch: int, steps: pa.Table) -> None:
        """The elements of the rows `steps` of batch `batch` (its step numbers, in order)."""
        from rtbfast.enm.dialects import UnwritableError, bulkcm_tables
        from rtbfast.enm.node_groups import node_keys
        from rtbfast.network_writer import UnwritableNetwork, network_xml_spans

        try:
            tables = bulkcm_tables(steps, where=self.where)
        except UnwritableError:
            writing = pc.and_(
                pc.is_in(steps["op"], value_set=pa.array(["create", "set"])),
                pc.and_(pc.is_valid(steps["attribute"]), pc.is_null(steps["value"])),
            )
            self.unset.append((batch, steps.filter(pc.fill_null(writing, False))))
            return
        if self.unset:
            return
        try:
            text, spans = network_xml_spans(tables)
        except UnwritableNetwork as err:
            self.refused.append((self._place_of(err, tables, steps, batch), _problem(self.where, err)))
            return
        if self.refused:
            return
        fdns = spans["fdn"]
        nodes = node_keys(fdns)
        is_root = pc.fill_null(pc.equal(nodes, fdns), False)
        is_skeleton = pc.is_null(nodes)
        changed = set(tables["mos"].filter(pc.is_valid(tables["mos"]["modifier"]))["fdn"].to_pylist())
        # only the skeleton's elements and the nodes' roots are kept (not every MO's span)
        kept = pc.or_(is_root, is_skeleton)
        rows = spans.filter(kept).to_pylist()
        with open(self.spool, "ab") as out:
            for r, root, top in zip(
                rows, is_root.filter(kept).to_pylist(), is_skeleton.filter(kept).to_pylist(), strict=True
            ):
                if top:
                    opening, closing = text[r["start"] : r["opened"]], text[r["closing"] : r["end"]]
                    mine = r["fdn"] in changed
                    known = self.skeleton.get(r["fdn"])
                    if known is None or (mine and not known[2]):
                        self.skeleton[r["fdn"]] = (opening, closing, mine)
                elif root:
                    piece = text[r["start"] : r["end"]]
                    out.write(piece)
                    self.nodes.append((r["fdn"], self._size, len(piece)))
                    self._size += len(piece)

    def _place_of(self, err: Any, tables: dict[str, pa.Table], steps: pa.Table, batch: int) -> tuple[Any, ...]:
        """Where the native writer's refusal `err` is in the whole file's order of looking
        (an attribute's by the batch and step: :meth:`refusal` puts it in the whole plan)."""
        from rtbfast import _native
        from rtbfast.network_writer import UnwritableNetwork, network_xml_spans

        fdn = err.element or ""
        try:
            network_xml_spans({"mos": tables["mos"]})
        except UnwritableNetwork:
            return (0, fdn.count(","), fdn)
        values = tables["values"]
        bad: list[int] = []
        for column in ("attribute", "member"):
            names = pa.table({"n": pc.cast(values[column], pa.string())})
            refused = pa.table(_native.refused_names("attribute" if column == "attribute" else "member", names))
            if refused.num_rows:
                bad.append(int(pc.min(refused["row"]).as_py()))
        if bad:  # the first row, in step order, whose attribute or member name XML cannot carry
            first = min(bad)
            return (1, batch, _step_of_value_row(steps, first), first)
        return (2, tuple(fdn.split(",")))

    def refusal(self, steps_of: list[pa.Array]) -> list[Problem]:
        """What makes the whole file unwritable (nothing when it can be written); `steps_of`:
        per batch, the whole plan's number of its step k."""
        from rtbfast.enm.dialects import refusal_problems

        if self.unset:
            rows = pa.concat_tables(
                [
                    t.set_column(t.schema.get_field_index("step"), "step", pc.take(steps_of[b], t["step"]))
                    for b, t in self.unset
                ],
                promote_options="permissive",
            )
            rows = rows.take(pc.sort_indices(rows, [("step", "ascending")]))
            from rtbfast.enm.dialects import UNSET_IN_XML

            refusals = pa.table(
                {"row": pa.array(range(rows.num_rows), pa.int64()), "reason": pa.array([UNSET_IN_XML] * rows.num_rows)}
            )
            return refusal_problems(rows, refusals, self.where)
        if self.refused:

            def place(entry: tuple[tuple[Any, ...], Problem]) -> tuple[Any, ...]:
                key = entry[0]
                if key[0] == 1:  # an attribute's name: by its step in the whole plan
                    _, batch, step, row = key
                    return (1, steps_of[batch][step].as_py(), row)
                return key

            return [min(self.refused, key=place)[1]]
        return []

    def text(self) -> Iterator[str]:
        """The ``configData`` content: the skeleton's tree with the nodes' elements."""
        elements: dict[str, tuple[str, Any]] = {f: ("top", v) for f, v in self.skeleton.items()}
        for fdn, offset, length in self.nodes:
            elements[fdn] = ("node", (offset, length))
        children: dict[str | None, list[str]] = {}
        for fdn in elements:
            parent = fdn.rsplit(",", 1)[0] if "," in fdn else None
            if parent not in elements:
                parent = None
            children.setdefault(parent, []).append(fdn)
        for kids in children.values():
            kids.sort()
        with open(self.spool, "rb") as spool:

            def walk(fdn: str) -> Iterator[str]:
                kind, value = elements[fdn]
                if kind == "node":
                    offset, length = value
                    spool.seek(offset)
                    yield spool.read(length).decode("utf-8")
                    return
                opening, closing, _ = value
                yield opening.decode("utf-8")
                for kid in children.get(fdn, []):
                    yield from walk(kid)
                yield closing.decode("utf-8")

            stack_roots = children.get(None, [])
            # roots are written in table order: by depth, then FDN
            stack_roots.sort(key=lambda f: (f.count(","), f))
            for root in stack_roots:
                yield from walk(root)


def _step_of_value_row(steps: pa.Table, row: int) -> int:
    """The step of the `row`-th value row :func:`rtbfast.enm.dialects.bulkcm_tables` writes."""
    changed = steps.filter(pc.is_in(steps["op"], value_set=pa.array(["create", "set", "delete"])))
    values = changed.filter(pc.and_(pc.is_valid(changed["attribute"]), pc.is_valid(changed["value"])))
    return int(values["step"][row].as_py())


def _problem(where: str, err: Any) -> Problem:
    return Problem("unwritable", f"{where}: {err.message}", err.element or "")


def write_parts(parts: XmlParts, path: str | os.PathLike[str]) -> Path:
    """The 3GPP file of `parts` at `path`."""
    from rtbfast.network_writer import write_network_xml_text

    return write_network_xml_text(parts.text(), path)
