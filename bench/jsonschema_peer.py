"""The peer of the model generator: datamodel-code-generator, given the same catalog as one
JSON Schema document (each MO class, enum and struct a ``$defs`` entry, with the ranges,
lengths, patterns and sequence bounds a JSON Schema can say)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pyarrow as pa


def _number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _type(row: dict[str, Any]) -> dict[str, Any]:
    kind, ref = row.get("kind"), row.get("type_ref")
    t: dict[str, Any]
    if kind == "integer" or kind in ("float", "decimal"):
        t = {"type": "integer" if kind == "integer" else "number"}
        ranges = row.get("ranges") or []
        if len(ranges) == 1:
            if ranges[0]["min"] is not None:
                t["minimum"] = _number(ranges[0]["min"])
            if ranges[0]["max"] is not None:
                t["maximum"] = _number(ranges[0]["max"])
        elif ranges:
            t = {"anyOf": [{**t, "minimum": _number(b["min"]), "maximum": _number(b["max"])} for b in ranges]}
    elif kind == "boolean":
        t = {"type": "boolean"}
    elif kind == "enum" and ref:
        t = {"$ref": f"#/$defs/enum_{ref}"}
    elif kind == "struct" and ref:
        t = {"$ref": f"#/$defs/struct_{ref}"}
    else:
        t = {"type": "string"}
        if row.get("length_min") is not None:
            t["minLength"] = row["length_min"]
        if row.get("length_max") is not None:
            t["maxLength"] = row["length_max"]
    if row.get("is_sequence"):
        t = {"type": "array", "items": t}
        if row.get("seq_min") is not None:
            t["minItems"] = row["seq_min"]
        if row.get("seq_max") is not None:
            t["maxItems"] = row["seq_max"]
    if row.get("description"):
        t["description"] = row["description"]
    return t


def catalog_json_schema(tables: dict[str, pa.Table]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    members: dict[str, list[str]] = defaultdict(list)
    for m in tables["enum_members"].to_pylist():
        members[m["enum"]].append(m["member"])
    for name, values in members.items():
        defs[f"enum_{name}"] = {"type": "string", "enum": values}
    struct_rows: dict[str, dict[str, Any]] = defaultdict(dict)
    for m in tables["struct_members"].to_pylist():
        struct_rows[m["struct"]][m["member"]] = _type(m)
    for name, props in struct_rows.items():
        defs[f"struct_{name}"] = {"type": "object", "properties": props, "additionalProperties": False}
    classes: dict[str, dict[str, Any]] = defaultdict(dict)
    for a in tables["attributes"].to_pylist():
        if not a.get("is_counter"):
            classes[f"{a['mim']}_{a['class']}"][a["attribute"]] = _type(a)
    for name, props in classes.items():
        defs[name] = {"type": "object", "properties": props, "additionalProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Catalog", "$defs": defs}
