"""Verdicts on a ChangeSet: the network as it would be after the change, judged by the same
native evaluator and constraints as ``rtbfast audit``, for the attributes the change sets.

- The MOs the ChangeSet sets or creates are taken with their current values; an attribute the
  ChangeSet sets is replaced whole by its last set (by ``seq``); values of created MOs are the
  ChangeSet's own. Cross-attribute rules see the MO as it would be.
- A violation is kept where it is about an attribute the ChangeSet sets: a problem the MO
  already has elsewhere is the audit's business, not the template's.
- Two targets setting the same attribute of the same MO to different values is a
  ``conflict``: the last one wins on the node, which is rarely what was meant.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast import _native
from rtbfast.errors import RtbfastError
from rtbfast.network_index import NetworkIndex, is_in_column
from rtbfast.rules import VIOLATIONS_SCHEMA, evaluate
from rtbfast.templates.check import SEP, VALUE_RULES, Catalog
from rtbfast.templates.units import to_engineering

VERDICTS_SCHEMA = pa.schema([*VIOLATIONS_SCHEMA, ("seq", pa.int64()), ("source", pa.string()), ("target", pa.string())])
"""The Violations columns (``subject`` is the MO's FDN), and the ChangeSet row each is
about: its ``seq``, ``source`` and ``target``."""

_KEY = ["fdn", "attribute"]


def _keys(table: pa.Table) -> pa.ChunkedArray | pa.Array:
    fdn, attribute = (
        pc.cast(table[c], pa.string()) if pa.types.is_dictionary(table[c].type) else table[c] for c in _KEY
    )
    return pc.binary_join_element_wise(fdn, attribute, SEP)


def judge_changes(changes: pa.Table, network: NetworkIndex, catalog: Catalog, *, threads: int = 0) -> pa.Table:
    """The violations the ChangeSet would leave on the attributes it sets
    (:data:`VERDICTS_SCHEMA`), conflicts between targets included."""
    sets = changes.filter(
        pc.and_(pc.is_in(changes["op"], value_set=pa.array(["set", "create"])), pc.is_valid(changes["attribute"]))
    )
    if not sets.num_rows:
        return VERDICTS_SCHEMA.empty_table()
    sets = sets.select(["seq", "fdn", "class", "attribute", "member", "index", "value", "target", "source"])
    keys = _keys(sets)
    sets = sets.append_column("key", keys)
    conflicts = _conflicts(sets)
    final = sets.filter(_last_sets(sets))
    touched = pc.unique(sets["fdn"])
    mo_classes = pa.table(
        {"fdn": touched, "class": pc.take(sets["class"], pc.index_in(touched, value_set=sets["fdn"]))}
    )
    before = network._values
    parts = []
    if before is not None and before.num_rows:
        mine = before.filter(_in(before["fdn"], touched))
        if mine.num_rows:
            kept = mine.filter(pc.invert(pc.is_in(_keys(mine), value_set=pc.unique(keys))))
            parts.append(_value_rows(kept))
    parts.append(_value_rows(final.filter(pc.is_valid(final["value"]))))
    after = pa.concat_tables(parts)
    values = pa.table(
        {
            "fdn": after["fdn"].combine_chunks().dictionary_encode(),
            "attribute": after["attribute"].combine_chunks().dictionary_encode(),
            "member": after["member"].combine_chunks().dictionary_encode(),
            "index": after["index"],
            "value": after["value"],
        }
    )
    found = evaluate({"mos": mo_classes, "values": values}, catalog.constraints, threads=threads).violations
    found = found.append_column("key", pc.binary_join_element_wise(found["subject"], found["attribute"], SEP))
    found = found.filter(pc.is_in(found["key"], value_set=pc.unique(keys)))
    about = final.filter(pc.is_in(final["key"], value_set=found["key"]))
    rows = about.group_by("key", use_threads=False).aggregate([("seq", "max"), ("source", "last"), ("target", "last")])
    rows = rows.rename_columns(["key", "seq", "source", "target"])
    found = found.join(rows, "key", join_type="left outer").drop_columns(["key"])
    found = _unit_hints(found, mo_classes, values, catalog, threads)
    out = pa.concat_tables([found.select(VERDICTS_SCHEMA.names).cast(VERDICTS_SCHEMA), conflicts])
    return out.sort_by([("seq", "ascending")])


def _unit_hints(found: pa.Table, mos: pa.Table, values: pa.Table, catalog: Catalog, threads: int) -> pa.Table:
    """A value rule broken by a value with a multiplication factor gets a hint where the value
    read back in engineering units (as if the template was written in raw units) fits."""
    value_rules = pc.is_in(found["rule"], value_set=pa.array(VALUE_RULES))
    if not pc.any(value_rules).as_py():
        return found
    factors = dict(zip(catalog.factors["key"].to_pylist(), catalog.factors["factor"].to_pylist(), strict=True))
    candidates = {}
    for i, r in enumerate(found.select(["rule", "class", "attribute", "member", "value"]).to_pylist()):
        factor = factors.get(SEP.join((r["class"] or "", r["attribute"] or "", r["member"] or "")))
        if r["rule"] in VALUE_RULES and factor is not None and r["value"] is not None:
            eng = to_engineering(r["value"], Decimal(factor))
            if eng is not None:
                candidates[i] = (eng, factor)
    if not candidates:
        return found
    rows = found.take(list(candidates)).select(["subject", "attribute", "member", "index"]).to_pylist()
    retry = pa.table(
        {
            "fdn": pa.array([r["subject"] for r in rows], pa.string()).dictionary_encode(),
            "attribute": pa.array([r["attribute"] for r in rows], pa.string()).dictionary_encode(),
            "member": pa.array([r["member"] for r in rows], pa.string()).dictionary_encode(),
            "index": pa.array([r["index"] or 0 for r in rows], pa.int32()),
            "value": pa.array([e for e, _ in candidates.values()], pa.string()),
        }
    )
    again = evaluate({"mos": mos, "values": retry}, catalog.constraints, threads=threads).violations
    still = set(
        zip(again["subject"].to_pylist(), again["attribute"].to_pylist(), again["member"].to_pylist(), strict=True)
    )
    messages = found["message"].to_pylist()
    for (i, (eng, factor)), r in zip(candidates.items(), rows, strict=True):
        if (r["subject"], r["attribute"], r["member"]) not in still:
            messages[i] += (
                f"; it is the template's value ÷ {factor}: if the template was written in raw units, "
                f"{eng} fits (likely unit mistake)"
            )
    return found.set_column(found.schema.get_field_index("message"), "message", pa.array(messages, pa.string()))


def _in(column: pa.ChunkedArray, wanted: pa.Array) -> pa.ChunkedArray | pa.Array:
    """Which rows of `column` hold one of `wanted` (a dictionary matched once, not per row)."""
    return is_in_column(column, wanted)


def _last_sets(sets: pa.Table) -> pa.Array:
    """The rows of the last set of each attribute (the state the node is left in): a set of a
    sequence or struct is several rows with the same key, target and source. `sets` is in
    ``seq`` order."""
    ident = pc.binary_join_element_wise(
        sets["key"], pc.fill_null(sets["target"], ""), pc.fill_null(sets["source"], ""), SEP
    )
    key_ids = pc.dictionary_encode(sets["key"]).combine_chunks().indices.to_pylist()
    set_ids = pc.dictionary_encode(ident).combine_chunks().indices.to_pylist()
    last: dict[int, int] = {}
    for k, one in zip(key_ids, set_ids, strict=True):
        last[k] = one
    return pa.array([last[k] == one for k, one in zip(key_ids, set_ids, strict=True)], pa.bool_())


def _value_rows(table: pa.Table) -> pa.Table:
    def text(name: str) -> pa.ChunkedArray:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            # chunk by chunk: combining first would unify every chunk's dictionary
            return pa.chunked_array([c.dictionary.take(c.indices) for c in column.chunks], pa.string())
        return column.cast(pa.string())

    return pa.table(
        {
            "fdn": text("fdn"),
            "attribute": text("attribute"),
            "member": text("member"),
            "index": pc.fill_null(table["index"].cast(pa.int32()), 0),
            "value": text("value"),
        }
    )


def _conflicts(sets: pa.Table) -> pa.Table:
    """Attributes two targets set to different values (only attributes more than one target
    sets are looked at)."""
    targets = (
        sets.select(["key", "target"]).group_by("key", use_threads=False).aggregate([("target", "count_distinct")])
    )
    shared = targets.filter(pc.greater(targets["target_count_distinct"], 1))["key"]
    if not len(shared):
        return VERDICTS_SCHEMA.empty_table()
    by_target = _whole_values(sets.filter(pc.is_in(sets["key"], value_set=shared)))
    rows: list[dict[str, Any]] = []
    seen: dict[str, tuple[str, str, int, str]] = {}
    for key, target, value, seq, source in by_target:
        first = seen.get(key)
        if first is None:
            seen[key] = (target, value, seq, source)
            continue
        if first[1] != value and first[0] != target:
            fdn, attribute = key.split(SEP)
            rows.append(
                {
                    "subject": fdn,
                    "class": fdn.rsplit(",", 1)[-1].split("=", 1)[0],
                    "attribute": attribute,
                    "rule": "conflict",
                    "severity": "warning",
                    "message": f"set to {_short(first[1])} for target {first[0]} and to {_short(value)} for "
                    f"target {target}: the last set wins on the node",
                    "value": value,
                    "seq": seq,
                    "source": source,
                    "target": target,
                }
            )
            seen[key] = (target, value, seq, source)
    if not rows:
        return VERDICTS_SCHEMA.empty_table()
    return pa.Table.from_pylist(rows, schema=VERDICTS_SCHEMA)


def _whole_values(sets: pa.Table) -> list[tuple[str, str, str, int, str]]:
    """(key, target, whole value as text, last seq, source) per set, in order: the rows of a
    struct or sequence set joined into one text."""
    out: dict[tuple[str, str, str], list[Any]] = {}
    cols = sets.select(["key", "target", "source", "member", "index", "value", "seq"]).to_pylist()
    for r in cols:
        ident = (r["key"], r["target"] or "", r["source"] or "")
        entry = out.setdefault(ident, [[], 0])
        entry[0].append(f"{r['index']}:{r['member'] or ''}={r['value']}")
        entry[1] = r["seq"]
    listed = [(k[0], k[1], ";".join(v[0]), v[1], k[2]) for k, v in out.items()]
    return sorted(listed, key=lambda t: t[3])


def _short(value: str) -> str:
    parts = value.split(";")
    if len(parts) == 1:
        return repr(value.split("=", 1)[-1])
    text = ", ".join(p.split(":", 1)[-1] for p in parts[:3])
    return "{" + text + (", …" if len(parts) > 3 else "") + "}"


def verdict_lines(verdicts: Any, template: str | os.PathLike[str]) -> list[str]:
    """The verdicts on a ChangeSet as lines, the same finding on many MOs said once (with how
    many and the first), each at the template's line and column."""
    if verdicts is None or not verdicts.num_rows:
        return []
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for v in verdicts.to_pylist():
        member = f".{v['member']}" if v["member"] else ""
        index = f"[{v['index']}]" if v["index"] else ""
        what = f"{v['class']}.{v['attribute']}{member}{index} = {v['value']!r}"
        groups.setdefault((v["source"] or "", v["severity"], v["rule"], what, v["message"]), []).append(v)
    pointers = sorted({src.split("#", 1)[1] for src, *_ in groups if "#" in src})
    try:
        located = dict(zip(pointers, _native.locate_pointers(str(template), pointers), strict=True))
    except (RtbfastError, ValueError, OSError):
        located = {}
    lines = []
    for (source, severity, rule, what, message), rows in groups.items():
        pointer = source.split("#", 1)[1] if "#" in source else ""
        line, column = located.get(pointer, (0, 0))
        where = f"{template}:{line}:{column}" if line else str(template)
        many = f" (on {len(rows)} MOs; first {rows[0]['subject']})" if len(rows) > 1 else f" ({rows[0]['subject']})"
        lines.append(f"{where}: {severity}: {rule}: {what}: {message}{many} at {pointer or '/'}")
    return lines
