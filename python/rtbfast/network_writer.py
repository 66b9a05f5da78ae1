"""A Network (its ``mos`` and ``values`` tables) written as a 3GPP Bulk CM XML file, in the shape
ENM exports and imports (``../shared/reference/enm-cli.md`` §9): ``SubNetwork``, ``MeContext`` and
``ManagedElement`` as ``xn:`` elements, every MO below them an ``xn:VsDataContainer`` with its
``vsData<Class>`` payload; structs as nested elements, sequences as repeated elements, an MO's
``modifier`` (``create``, ``update``, ``delete``) on its container. ``rtbfast.read_network``
reads the file back to the same tables (the rows in the same order) for networks of that
shape, as ENM writes them; standard NRM attributes of MOs below ``ManagedElement`` (third-party
exports in ``un:``/``gn:`` elements) are outside it and are not written.

Written as it goes, MO by MO in FDN order, to a file beside the target swapped in when
complete.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.errors import OutputError

TOP = ("SubNetwork", "MeContext", "ManagedElement")
"""Classes written as ``xn:`` elements; every other MO is a ``VsDataContainer``."""

FORMAT_VERSION = "EricssonSpecificAttributes"
HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bulkCmConfigDataFile xmlns="configData.xsd" xmlns:xn="genericNrm.xsd" xmlns:es="{es}.xsd">\n'
    '<fileHeader fileFormatVersion="32.615 V4.5" vendorName="Ericsson"/>\n'
    '<configData dnPrefix="{prefix}">\n'
)
FOOTER = '</configData>\n<fileFooter dateTime="{when}"/>\n</bulkCmConfigDataFile>\n'


def _text(value: Any) -> str:
    return "" if value is None else escape(str(value))


class _Values:
    """The value rows of each MO, in table order."""

    def __init__(self, values: pa.Table | None) -> None:
        self.rows: dict[str, list[tuple[str, str | None, int, int | None, str, bool]]] = {}
        if values is None or not values.num_rows:
            return
        cols = {
            name: (
                values[name].cast(pa.string()) if pa.types.is_dictionary(values[name].type) else values[name]
            ).to_pylist()
            if name in values.column_names
            else [None] * values.num_rows
            for name in ("fdn", "attribute", "member", "index", "member_index", "value", "vs_data")
        }
        for fdn, attribute, member, index, member_index, value, vs_data in zip(
            cols["fdn"], cols["attribute"], cols["member"], cols["index"], cols["member_index"], cols["value"],
            cols["vs_data"], strict=True,
        ):  # fmt: skip
            self.rows.setdefault(fdn, []).append(
                (attribute, member, index or 0, member_index, value if value is not None else "", vs_data is not False)
            )


def _attributes_xml(rows: list[tuple[str, str | None, int, int | None, str, bool]], prefix: str) -> str:
    """The attribute elements of one MO: each (attribute, index) one element, its struct
    members nested by their dotted paths, repeated members by their member index."""
    out: list[str] = []
    i = 0
    while i < len(rows):
        attribute, member, index = rows[i][0], rows[i][1], rows[i][2]
        if member is None:
            out.append(f"<{prefix}:{attribute}>{_text(rows[i][4])}</{prefix}:{attribute}>")
            i += 1
            continue
        j = i
        while j < len(rows) and rows[j][0] == attribute and rows[j][2] == index and rows[j][1] is not None:
            j += 1
        out.append(f"<{prefix}:{attribute}>{_members_xml(rows[i:j], prefix)}</{prefix}:{attribute}>")
        i = j
    return "".join(out)


def _members_xml(rows: list[tuple[str, str | None, int, int | None, str, bool]], prefix: str) -> str:
    """Members (dotted paths) of one struct value, nested, in the order they first appear."""
    tree: dict[str, Any] = {}
    for _, member, _, _, value, _ in rows:
        assert member is not None
        node = tree
        *outer, last = member.split(".")
        for name in outer:
            node = node.setdefault(name, {})
        node.setdefault(last, [])
        if isinstance(node[last], list):
            node[last].append(value)

    def write(node: dict[str, Any]) -> str:
        parts = []
        for name, child in node.items():
            if isinstance(child, dict):
                parts.append(f"<{prefix}:{name}>{write(child)}</{prefix}:{name}>")
            else:
                parts.extend(f"<{prefix}:{name}>{_text(v)}</{prefix}:{name}>" for v in child)
        return "".join(parts)

    return write(tree)


def _tree(mos: pa.Table) -> tuple[list[str], dict[str, list[int]], dict[str, Any]]:
    cols = {name: mos[name].to_pylist() for name in mos.column_names}
    fdns: list[str] = cols["fdn"]
    children: dict[str, list[int]] = {}
    roots: list[int] = []
    known = set(fdns)
    for i, parent in enumerate(cols.get("parent_fdn") or [None] * len(fdns)):
        if parent is None or parent not in known:
            roots.append(i)
        else:
            children.setdefault(parent, []).append(i)
    return fdns, {"": roots, **children}, cols


def write_network_xml(
    tables: dict[str, pa.Table],
    path: str | os.PathLike[str],
    *,
    prefix: str = "Undefined",
    when: str = "2000-01-01T00:00:00Z",
    es_version: str = FORMAT_VERSION,
) -> Path:
    """Write the network `tables` (``mos``, ``values``) as Bulk CM XML at `path`, aside and
    swapped in. An MO's ``modifier`` column (if any) becomes its container's modifier."""
    from rtbfast.output_folder import write_text_aside

    header = HEADER.format(es=es_version, prefix=escape(prefix))
    footer = FOOTER.format(when=escape(when))
    return write_text_aside(path, itertools.chain([header], network_xml(tables), [footer]), "the network")


def network_xml(tables: dict[str, pa.Table]) -> Iterator[str]:
    """The ``configData`` content of the network, MO by MO."""
    mos = tables["mos"]
    values = _Values(tables.get("values"))
    fdns, children, cols = _tree(mos)
    classes, ids = cols["class"], cols["id"]
    versions = cols.get("format_version") or [None] * len(fdns)
    types = cols.get("vs_data_type") or [None] * len(fdns)
    modifiers = cols.get("modifier") or [None] * len(fdns)

    def element(i: int) -> Iterator[str]:
        fdn, cls = fdns[i], classes[i]
        mod = f" modifier={quoteattr(modifiers[i])}" if modifiers[i] else ""
        rows = values.rows.get(fdn, [])
        kids = children.get(fdn, [])
        if cls in TOP:
            standard = [r for r in rows if not r[5]]
            attrs = f"<xn:attributes>{_attributes_xml(standard, 'xn')}</xn:attributes>" if standard else ""
            yield f"<xn:{cls} id={quoteattr(str(ids[i]))}{mod}>{attrs}\n"
            for k in kids:
                yield from element(k)
            yield f"</xn:{cls}>\n"
            return
        if any(not r[5] for r in rows):
            # a standard 3GPP NRM MO (un:UtranCell, gn:GsmCell, …): its namespace is not kept
            raise OutputError(
                f"{fdn}: holds standard 3GPP NRM attributes ({sorted({r[0] for r in rows if not r[5]})[0]}, …) "
                "of a class this writer does not know the namespace of: it writes SubNetwork, MeContext, "
                "ManagedElement and Ericsson vsData containers",
                fdn,
            )
        version = versions[i] or FORMAT_VERSION
        vs_type = types[i] if types[i] and str(types[i]).startswith("vsData") else f"vsData{cls}"
        payload = _attributes_xml([r for r in rows if r[5]], "es")
        yield (
            f"<xn:VsDataContainer id={quoteattr(str(ids[i]))}{mod}><xn:attributes>"
            f"<xn:vsDataType>{escape(vs_type)}</xn:vsDataType><xn:vsDataFormatVersion>{escape(version)}"
            f"</xn:vsDataFormatVersion><es:{vs_type}>{payload}</es:{vs_type}></xn:attributes>\n"
        )
        for k in kids:
            yield from element(k)
        yield "</xn:VsDataContainer>\n"

    for root in children[""]:
        yield from element(root)


def changes_only(tables: dict[str, pa.Table], fdns: pa.Array) -> dict[str, pa.Table]:
    """The MOs at `fdns` and their ancestors (which only give the path), with their values."""
    mos = tables["mos"]
    keep = set(fdns.to_pylist())
    parent = dict(zip(mos["fdn"].to_pylist(), mos["parent_fdn"].to_pylist(), strict=True))
    for fdn in list(keep):
        p = parent.get(fdn)
        while p is not None and p not in keep:
            keep.add(p)
            p = parent.get(p)
    wanted = pa.array(sorted(keep), pa.string())
    values = tables["values"]
    fdn_col = pc.cast(values["fdn"], pa.string()) if pa.types.is_dictionary(values["fdn"].type) else values["fdn"]
    return {
        "mos": mos.filter(pc.is_in(mos["fdn"], value_set=wanted)),
        "values": values.filter(pc.is_in(fdn_col, value_set=fdns)),
    }
