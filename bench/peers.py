"""The peers a user would otherwise pick: ElementTree ``iterparse`` extracting the same rows
into a ``pyarrow.Table``."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

TYPE_TAGS = {
    "long", "longlong", "short", "octet", "integer", "int8", "int16", "int32", "int64", "uint8", "uint16",
    "uint32", "uint64", "decimal64", "double", "float", "boolean", "char", "string", "wstring", "enumRef",
    "structRef", "moRef", "derivedDataTypeRef",
}  # fmt: skip


def etree_attribute_rows(path: Path) -> pa.Table:
    """Attribute rows of an MP XML model (mim, class, attribute, type, ranges, default, unit,
    flags, description) with iterparse, clearing elements as it goes."""
    cols: dict[str, list[Any]] = {k: [] for k in (
        "mim", "class", "attribute", "base_type", "type_ref", "min", "max", "default", "unit",
        "read_only", "mandatory", "is_counter", "description",
    )}  # fmt: skip
    mim = cls = None
    for event, el in ET.iterparse(path, events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag == "mim":
                mim = el.get("name")
            elif tag == "class":
                cls = el.get("name")
            continue
        if tag == "attribute" and cls is not None:
            dt = el.find("dataType")
            t = None
            if dt is not None:
                t = next((c for c in dt.iter() if c.tag in TYPE_TAGS), None)
            rng = t.find("range") if t is not None else None
            cols["mim"].append(mim)
            cols["class"].append(cls)
            cols["attribute"].append(el.get("name"))
            cols["base_type"].append(t.tag if t is not None else None)
            cols["type_ref"].append(t.get("name") if t is not None else None)
            cols["min"].append(rng.findtext("min") if rng is not None else None)
            cols["max"].append(rng.findtext("max") if rng is not None else None)
            cols["default"].append(t.findtext("defaultValue") if t is not None else None)
            cols["unit"].append(t.findtext("unit") if t is not None else None)
            cols["read_only"].append(el.find("readOnly") is not None)
            cols["mandatory"].append(el.find("mandatory") is not None)
            cols["is_counter"].append(el.find("counterType") is not None)
            cols["description"].append(el.findtext("description"))
            el.clear()
        elif tag in ("class", "enum", "struct", "derivedDataType", "relationship", "action", "exception"):
            el.clear()
    return pa.table(cols)


def etree_value_rows(path: Path | IO[bytes] | gzip.GzipFile, iterparse: Callable[..., Any] = ET.iterparse) -> pa.Table:
    """Value rows of a Bulk CM export (FDN, attribute, member, value) with iterparse (of
    ElementTree, or `iterparse` given: lxml's), from a path or an open file (``gzip.open``)."""
    fdn: list[str] = []
    stack: list[str] = []
    cols: dict[str, list[Any]] = {"fdn": [], "attribute": [], "member": [], "value": []}
    pending: list[tuple[str, str | None, str]] = []
    for event, el in iterparse(path, events=("start", "end")):
        name = el.tag.rsplit("}", 1)[-1]
        if event == "start":
            if name in ("SubNetwork", "MeContext", "ManagedElement", "VsDataContainer"):
                stack.append(name)
                fdn.append(f"{name}={el.get('id')}")
            continue
        if name == "vsDataType" and stack and stack[-1] == "VsDataContainer":
            fdn[-1] = f"{(el.text or '').removeprefix('vsData')}={fdn[-1].split('=', 1)[1]}"
        elif name in ("SubNetwork", "MeContext", "ManagedElement", "VsDataContainer"):
            stack.pop()
            fdn.pop()
            el.clear()
        elif name.startswith("vsData") and name not in ("vsDataType", "vsDataFormatVersion"):
            here = ",".join(fdn)
            for child in el:
                attr = child.tag.rsplit("}", 1)[-1]
                if len(child):
                    for m in child:
                        pending.append((attr, m.tag.rsplit("}", 1)[-1], m.text or ""))
                else:
                    pending.append((attr, None, child.text or ""))
            for attr, member, value in pending:
                cols["fdn"].append(here)
                cols["attribute"].append(attr)
                cols["member"].append(member)
                cols["value"].append(value)
            pending.clear()
    return pa.table(cols)
