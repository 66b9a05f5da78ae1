"""JSON Schemas of the generated models, written from the same field types the models are
generated from (:mod:`rtbfast.typemap`), without importing the models: a schema per model in
milliseconds where asking Pydantic for 27,000 schemas takes minutes. Properties are the MOM
names; optional properties allow ``null`` as the models do; enums and structs are ``$defs``.
What JSON Schema cannot say (a resolution step from a sub-range's bound, uniqueness by key
members, an FDN's target class) is carried as ``x-rtbfast-…`` keywords."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rtbfast.typemap import FieldType

FDN_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*=[^,]*(,[A-Za-z][A-Za-z0-9_.-]*=[^,]*)*$"


def _number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _bounded(base: dict[str, Any], lo: Decimal | None, hi: Decimal | None) -> dict[str, Any]:
    out = dict(base)
    if lo is not None:
        out["minimum"] = _number(lo)
    if hi is not None:
        out["maximum"] = _number(hi)
    return out


def item_schema(t: FieldType) -> dict[str, Any]:
    """The schema of one value (an item, for sequences) of field type `t`."""
    s: dict[str, Any]
    if t.kind in ("integer", "float", "decimal"):
        base: dict[str, Any] = {"type": "integer" if t.kind == "integer" else "number"}
        if t.kind == "decimal":
            base = {"type": ["number", "string"]}
        if len(t.ranges) == 1:
            s = _bounded(base, *t.ranges[0])
        elif t.ranges:
            s = {**base, "anyOf": [_bounded({}, lo, hi) for lo, hi in t.ranges]}
        else:
            s = base
        if t.resolution is not None and t.resolution > 0:
            s["x-rtbfast-resolution"] = _number(t.resolution)
        if t.decimal_places is not None:
            s["x-rtbfast-decimal-places"] = t.decimal_places
    elif t.kind == "boolean":
        s = {"type": "boolean"}
    elif t.enum:
        s = {"$ref": f"#/$defs/{t.enum}"}
    elif t.struct:
        s = {"$ref": f"#/$defs/{t.struct}"}
    elif t.kind == "struct":
        s = {"type": "object"}
    elif t.moref_target:
        s = {"type": "string", "pattern": FDN_PATTERN, "x-rtbfast-moref-target": t.moref_target}
    else:
        s = {"type": "string"}
        if t.min_length is not None:
            s["minLength"] = t.min_length
        if t.max_length is not None:
            s["maxLength"] = t.max_length
        if t.pattern:
            s["pattern"] = t.pattern
    return s


def field_schema(
    t: FieldType, required: bool, description: str, extra: dict[str, Any], unique_key: list[str] | None
) -> dict[str, Any]:
    """The schema of one property of a model."""
    s = item_schema(t)
    if t.is_sequence:
        s = {"type": "array", "items": s}
        if t.seq_min:
            s["minItems"] = t.seq_min
        if t.seq_max is not None:
            s["maxItems"] = t.seq_max
        if t.seq_unique:
            if unique_key:
                s["x-rtbfast-unique-by"] = unique_key
            else:
                s["uniqueItems"] = True
    if not required:
        s = {"anyOf": [s, {"type": "null"}], "default": None}
    if description:
        s["description"] = description
    s.update({k: v for k, v in extra.items() if k != "moref_target"})
    return s


def model_schema(
    title: str,
    description: str,
    properties: dict[str, dict[str, Any]],
    required: list[str],
    defs: dict[str, Any],
    refs: set[str],
    def_refs: dict[str, set[str]],
) -> dict[str, Any]:
    """A model's schema with the ``$defs`` its properties (and their structs) refer to.

    `refs` are the names its properties refer to (known from their field types); `def_refs`
    caches what each of `defs` refers to, across calls."""
    schema: dict[str, Any] = {
        "title": title,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    if required:
        schema["required"] = required
    used: dict[str, Any] = {}
    pending = set(refs)
    while pending:
        name = pending.pop()
        if name in used or name not in defs:
            continue
        used[name] = defs[name]
        if name not in def_refs:
            def_refs[name] = _refs(defs[name])
        pending |= def_refs[name]
    if used:
        schema["$defs"] = dict(sorted(used.items()))
    return schema


def class_schema_text(
    models: tuple[str, str, str],
    entries: dict[str, dict[str, Any]],
    defs: dict[str, Any],
    def_refs: dict[str, set[str]],
) -> str:
    """The JSON Schema file of one MO class: the schema of its set model at the top, with its
    create and state models (and the enums and structs they use) under ``$defs``. `entries`
    gives each model's description, properties (by MOM names), required names and the names
    its properties refer to (``refs``)."""
    set_model, create, state = models
    top = model_schema(set_model, **_parts(entries[set_model]), defs=defs, def_refs=def_refs)
    all_defs = dict(top.pop("$defs", {}))
    for variant in (create, state):
        schema = model_schema(variant, **_parts(entries[variant]), defs=defs, def_refs=def_refs)
        all_defs.update(schema.pop("$defs", {}))
        all_defs[variant] = schema
    if all_defs:
        top["$defs"] = dict(sorted(all_defs.items()))
    # compact: the C encoder is ten times faster than an indented dump
    return json.dumps(top, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json) + "\n"


def _parts(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": entry["doc"],
        "properties": entry["properties"],
        "required": entry["required"],
        "refs": entry["refs"],
    }


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref.removeprefix("#/$defs/"))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found
