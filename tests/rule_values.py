"""Helpers for the differential tests of the bulk evaluator against the generated Pydantic
models: value texts drawn around each constraint's edges, one-MO networks in the long form
``read_network`` produces, and each side's verdict per attribute."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pydantic
from hypothesis import strategies as st

from rtbfast import _native
from rtbfast.rules import Constraints, evaluate

GARBAGE = ["", "abc", "1.5", "1e3", " 7 ", "+3", "-", "0x10", "true", "NONE", "12.0", "1_000"]


def _number_text(value: Decimal, kind: str) -> str:
    if kind == "integer":
        return str(int(value))
    return format(value.normalize(), "f")


@st.composite
def value_text(draw: st.DrawFn, c: dict[str, Any]) -> str:
    """A value text for constraint row `c`: often on or just past an edge, sometimes garbage."""
    kind = c["kind"]
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(GARBAGE))
    if kind in ("integer", "decimal", "float"):
        ranges = c["ranges"] or [{"min": Decimal(-1000), "max": Decimal(1000)}]
        bound = draw(st.sampled_from(ranges))
        lo, hi = bound["min"], bound["max"]
        step = c["resolution"] or (Decimal(1) if kind == "integer" else Decimal("0.1"))
        points = [p for p in (lo, hi) if p is not None]
        edges = [p + d for p in points for d in (-step, Decimal(0), step)]
        if lo is not None and c["resolution"]:
            edges += [lo + c["resolution"] * 3, lo + c["resolution"] // 2 if kind == "integer" else lo + step / 2]
        if kind == "decimal":
            edges += [p + Decimal("0.001") for p in points]
        value = draw(st.sampled_from(edges or [Decimal(0)]))
        return _number_text(value, kind) if kind != "float" else repr(float(value))
    if kind == "boolean":
        return draw(st.sampled_from(["true", "false", "True", "0", "1", "yes", "off", "2", "maybe"]))
    if kind == "enum" and c["enum_names"]:
        values = [str(v) for v in c["enum_values"] or []]
        names: list[str] = [*c["enum_names"], *values, "NO_SUCH_MEMBER", "-1", "99"]
        return draw(st.sampled_from(names))
    if kind == "moref":
        target = c["moref_target"] or "ManagedObject"
        cls = "Other" if target == "ManagedObject" else target
        fdns: list[str] = [f"ManagedElement=1,{cls}=1", "ManagedElement=1,Wrong=2", "not an fdn", "=1"]
        return draw(st.sampled_from(fdns))
    if c["pattern"] and draw(st.booleans()):
        matching: str = draw(st.from_regex(c["pattern"], fullmatch=True).filter(lambda s: "\x00" not in s))
        return matching
    low, high = c["length_min"] or 0, c["length_max"] if c["length_max"] is not None else 12
    size = draw(st.sampled_from([max(0, low - 1), low, high, high + 1, min(high, low + 3)]))
    if size > 100:
        return "x" * int(size)  # long enough for its bound; Hypothesis draws short texts only
    text: str = draw(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=size, max_size=size)
    )
    return text


@st.composite
def mo_values(draw: st.DrawFn, rows: list[dict[str, Any]], members: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Texts for a few attributes of one MO: a text, a list of texts (sequences) or a dict of
    member texts (structs)."""
    chosen = draw(st.lists(st.sampled_from(rows), min_size=1, max_size=6, unique_by=lambda r: r["attribute"]))
    out: dict[str, Any] = {}
    for c in chosen:
        if c["kind"] == "struct":
            if not members.get(c["attribute"]):
                continue
            choices = st.sampled_from(members[c["attribute"]])

            def struct_value(choices: st.SearchStrategy[dict[str, Any]] = choices) -> dict[str, Any]:
                picked = draw(st.lists(choices, max_size=3, unique_by=lambda m: m["member"]))
                return {
                    m["member"]: draw(st.lists(value_text(m), max_size=4)) if m["is_sequence"] else draw(value_text(m))
                    for m in picked
                }

            if c["is_sequence"]:
                out[c["attribute"]] = [struct_value() for _ in range(draw(st.integers(0, 3)))]
            else:
                out[c["attribute"]] = struct_value()
        elif c["is_sequence"]:
            top = (c["seq_max"] or 3) + 1
            out[c["attribute"]] = draw(st.lists(value_text(c), max_size=min(top, 6)))
        else:
            out[c["attribute"]] = draw(value_text(c))
    return out


def _struct_rows(attribute: str, index: int, item: dict[str, Any]) -> list[tuple[str, str | None, int, str]]:
    """The rows of one struct value: a member that is a sequence repeats."""
    rows: list[tuple[str, str | None, int, str]] = []
    for member, text in item.items():
        rows += (
            [(attribute, member, index, t) for t in text]
            if isinstance(text, list)
            else [(attribute, member, index, text)]
        )
    return rows


def network(cls: str, values: dict[str, Any]) -> dict[str, pa.Table]:
    """One MO of `cls` with `values`, as the ``mos`` and ``values`` tables of ``read_network``."""
    fdn = f"ManagedElement=1,{cls}=1"
    rows: list[tuple[str, str | None, int, str]] = []
    for attribute, value in values.items():
        if isinstance(value, dict):
            rows += _struct_rows(attribute, 0, value) or [(attribute, None, 0, "")]
        elif isinstance(value, list):
            items: list[tuple[str, str | None, int, str]] = []
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    # an item with no member set is an element with no children
                    items += _struct_rows(attribute, i, item) or [(attribute, None, i, "")]
                else:
                    items.append((attribute, None, i, item))
            rows += items or [(attribute, None, 0, "")]
        else:
            rows.append((attribute, None, 0, value))
    text = pa.dictionary(pa.int32(), pa.string())
    return {
        "mos": pa.table({"fdn": [fdn], "class": [cls]}),
        "values": pa.table(
            {
                "fdn": pa.array([fdn] * len(rows), pa.string()).cast(text),
                "attribute": pa.array([r[0] for r in rows], pa.string()).cast(text),
                "member": pa.array([r[1] for r in rows], pa.string()).cast(text),
                "index": pa.array([r[2] for r in rows], pa.int32()),
                "value": pa.array([r[3] for r in rows], pa.string()),
            }
        ),
    }


RULES = "__rules__"
"""The verdict key of the class's cross-parameter rules (read from its Dependencies texts)."""


def native_verdict(
    cls: str, values: dict[str, Any], constraints: Constraints, text_rules: pa.Table | None = None
) -> dict[str, list[str]]:
    """Attribute → the error rules the bulk evaluator reports for it; and, when every value is
    valid (a model checks its rules only then), ``RULES`` → the text rules that do not hold."""
    tables = network(cls, values)
    found = evaluate(tables, constraints, threads=1).violations.to_pylist()
    out: dict[str, list[str]] = {}
    for v in found:
        if v["severity"] == "error":
            out.setdefault(v["attribute"], []).append(v["rule"])
    if not out and text_rules is not None and text_rules.num_rows:
        raw = _native.evaluate_user_rules(text_rules, constraints.table, tables["mos"], tables["values"], 1)
        ids = sorted(r for r in pa.table(raw["violations"]).column("rule").to_pylist())
        if ids:
            out[RULES] = ids
    return out


def python_value(text: str, c: dict[str, Any]) -> Any:
    """How a value text is given to a model: an empty text leaves a value unset, except for a
    string, where it is the empty string (and a struct, where it is a struct with no member set)."""
    if text == "" and c["kind"] not in ("string", "unknown"):
        return None
    return text


def _struct_value(item: dict[str, Any], members: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        m: [x for x in t if x != ""] if isinstance(t, list) else python_value(t, members[m]) for m, t in item.items()
    }


def pydantic_verdict(
    model: type[pydantic.BaseModel], values: dict[str, Any], rows: dict[str, dict[str, Any]], members: dict[str, Any]
) -> dict[str, list[str]]:
    """Attribute → the Pydantic error types the generated state model reports for it."""
    data: dict[str, Any] = {}
    for attribute, value in values.items():
        c = rows[attribute]
        if isinstance(value, dict):
            by_name = {m["member"]: m for m in members[attribute]}
            data[attribute] = _struct_value(value, by_name)
        elif isinstance(value, list) and members.get(attribute):
            by_name = {m["member"]: m for m in members[attribute]}
            # as with scalars, an empty element in a sequence is not an item
            data[attribute] = [_struct_value(item, by_name) for item in value if item]
        elif isinstance(value, list):
            data[attribute] = [t for t in value if t != ""]
        else:
            data[attribute] = python_value(value, c)
    try:
        model.model_validate(data)
    except pydantic.ValidationError as err:
        out: dict[str, list[str]] = {}
        for e in err.errors():
            if e["loc"]:
                out.setdefault(str(e["loc"][0]), []).append(e["type"])
            else:  # the model validator: its message names the rules that do not hold
                out[RULES] = sorted(re.findall(r"\[((?:dep|pre):[^\]]+)\]", e["msg"]))
        return out
    return {}
