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
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import RtbfastError
from rtbfast.network_index import NetworkIndex, is_in_column
from rtbfast.rules import evaluate
from rtbfast.schemas import SEP, VERDICTS_SCHEMA
from rtbfast.templates.check import SCALED_RULES
from rtbfast.templates.units import to_engineering

_KEY = ["fdn", "attribute"]


_CODED = pa.dictionary(pa.int32(), pa.string())


def _coded(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """`column` dictionary-encoded in one chunk (int32 codes, string dictionary): a text that
    repeats (FDN, target, source…) held once."""
    if isinstance(column, pa.ChunkedArray):
        if pa.types.is_dictionary(column.type):
            column = pa.chunked_array(column.chunks, column.type).unify_dictionaries()
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    return column.cast(_CODED)


def _keys(fdn: pa.Array, attribute: pa.Array) -> pa.Array:
    """``fdn SEP attribute`` of each row of two coded columns, coded: each distinct pair joined
    once."""
    n = max(len(attribute.dictionary), 1)
    pair = pc.add(pc.multiply(fdn.indices.cast(pa.int64()), n), attribute.indices.cast(pa.int64()))
    encoded = pc.dictionary_encode(pair)
    distinct = encoded.dictionary
    texts = pc.binary_join_element_wise(
        pc.take(fdn.dictionary, pc.divide(distinct, n)),
        pc.take(attribute.dictionary, pc.subtract(distinct, pc.multiply(pc.divide(distinct, n), n))),
        SEP,
    )
    return pa.DictionaryArray.from_arrays(encoded.indices.cast(pa.int32()), texts)


def _in(column: pa.ChunkedArray | pa.Array, wanted: pa.Array) -> pa.ChunkedArray | pa.Array:
    """Which rows of `column` hold one of `wanted` (a dictionary matched once, not per row)."""
    return is_in_column(column, wanted)


def judge_changes(changes: pa.Table, network: NetworkIndex, catalog: CatalogView, *, threads: int = 0) -> pa.Table:
    """The violations the ChangeSet would leave on the attributes it sets
    (:data:`VERDICTS_SCHEMA`), conflicts between targets included. The texts that repeat are
    worked on as codes, so memory is a few tens of bytes a row beyond the values."""
    found = judged_sets(changes, network, catalog, threads=threads)
    if found is None:
        return VERDICTS_SCHEMA.empty_table()
    sample = _one_row_per_source(changes)
    return as_plan_refuses(found, sample, creating_sources(changes), network, catalog)


def judged_sets(changes: pa.Table, network: NetworkIndex, catalog: CatalogView, *, threads: int = 0) -> pa.Table | None:
    """The verdicts on what the ChangeSet sets (the catalog's rules, conflicts between
    targets), before the planner's refusals (:func:`as_plan_refuses`); None when it sets
    nothing. Made attribute by attribute (``fdn``, ``attribute``): the verdicts of a part of
    a ChangeSet holding every row of its attributes are the whole's on those attributes."""
    chosen = pc.and_(pc.is_in(changes["op"], value_set=pa.array(["set", "create"])), pc.is_valid(changes["attribute"]))
    if not pc.any(chosen).as_py():
        return None
    coded = ("fdn", "class", "attribute", "member", "target", "source")
    sets = pa.table(
        {
            name: _coded(changes[name]) if name in coded else changes[name]
            for name in ("seq", "fdn", "class", "attribute", "member", "index", "value", "target", "source")
        }
    ).filter(chosen)
    sets = sets.append_column("key", _keys(_coded(sets["fdn"]), _coded(sets["attribute"])))
    keys = _coded(sets["key"])
    conflicts = _conflicts(sets)
    final = sets.filter(_last_sets(sets))
    fdn = _coded(sets["fdn"])
    used = pc.unique(fdn.indices)
    touched = pc.take(fdn.dictionary, used)
    first = pc.index_in(used, value_set=fdn.indices)
    mo_classes = pa.table({"fdn": touched, "class": pc.take(_coded(sets["class"]), first).cast(pa.string())})
    written = keys.dictionary  # every key the ChangeSet sets, once
    before = network._values
    parts = []
    if before is not None and before.num_rows:
        mine = before.filter(_in(before["fdn"], touched))
        if mine.num_rows:
            theirs = _keys(_coded(mine["fdn"]), _coded(mine["attribute"]))
            parts.append(_value_rows(mine.filter(pc.invert(_in(theirs, written)))))
    parts.append(_value_rows(final.filter(pc.is_valid(final["value"]))))
    values = pa.concat_tables(parts).unify_dictionaries().combine_chunks()
    found = evaluate({"mos": mo_classes, "values": values}, catalog.constraints, threads=threads).violations
    del values, parts
    found = found.append_column("key", pc.binary_join_element_wise(found["subject"], found["attribute"], SEP))
    found = found.filter(pc.is_in(found["key"], value_set=written))
    about = final.filter(_in(final["key"], pc.unique(found["key"])))
    key = _coded(about["key"])
    last = (
        pa.table(
            {
                "key": key.indices,
                "seq": about["seq"],
                "source": _coded(about["source"]).indices,
                "target": _coded(about["target"]).indices,
            }
        )
        .group_by("key", use_threads=False)
        .aggregate([("seq", "max"), ("source", "last"), ("target", "last")])
    )
    rows = pa.table(
        {
            "key": pc.take(key.dictionary, last["key"]),
            "seq": last["seq_max"],
            "source": pc.take(_coded(about["source"]).dictionary, last["source_last"]),
            "target": pc.take(_coded(about["target"]).dictionary, last["target_last"]),
        }
    )
    found = found.join(rows, "key", join_type="left outer").drop_columns(["key"])
    found = _unit_hints(found, mo_classes, catalog, threads)
    return pa.concat_tables([found.select(VERDICTS_SCHEMA.names).cast(VERDICTS_SCHEMA), conflicts])


def creating_sources(changes: pa.Table) -> set[str]:
    """The sources (places of the template) of the ChangeSet's rows creating an MO."""
    structural = changes.filter(pc.and_(pc.equal(changes["op"], "create"), pc.is_null(changes["attribute"])))
    return set(pc.unique(pc.cast(structural["source"], pa.string())).to_pylist())


def as_plan_refuses(
    verdicts: pa.Table, sample: pa.Table, creating: set[str], network: NetworkIndex, catalog: CatalogView
) -> pa.Table:
    """The verdicts (:func:`judged_sets`) with what ``plan`` refuses in the ChangeSet said as
    errors, in ``seq`` order: one severity for one finding in ``templates expand`` and
    ``plan``. A verdict the planner refuses too (same ChangeSet row and rule) becomes an
    error; a refusal no verdict says (a restricted attribute set on an existing MO, a read-only
    one, an MO that is not there…) is added. `sample`: the ChangeSet's first row of each
    source with the creates above them (:func:`_one_row_per_source`); `creating`: the sources
    of its creates (:func:`creating_sources`)."""
    return _as_plan_refuses(verdicts, sample, creating, network, catalog).sort_by([("seq", "ascending")])


def _as_plan_refuses(
    verdicts: pa.Table, sample: pa.Table, creating: set[str], network: NetworkIndex, catalog: CatalogView
) -> pa.Table:
    from rtbfast.enm.plan import plan_problems

    problems = plan_problems(sample, network, catalog, values=False)
    if not problems:
        return verdicts
    # a create of an MO the node creates is said by expansion where it creates it
    problems = [p for p in problems if not (p.code == "system_created" and p.source in creating)]
    if not problems:
        return verdicts
    refused = {(p.source or "", p.code) for p in problems}
    rows = verdicts.to_pylist()
    said = set()
    for v in rows:
        if (v["source"] or "", v["rule"]) in refused:
            v["severity"] = "error"
            said.add((v["source"] or "", v["rule"]))
    seq_of = _seq_of_sources(sample, {p.source for p in problems if p.source})
    for p in problems:
        if (p.source or "", p.code) in said:
            continue
        subject = p.fdn or None
        message = p.message.removeprefix(f"{subject}: ") if subject else p.message
        rows.append(
            {
                "subject": subject,
                "class": subject.rsplit(",", 1)[-1].split("=", 1)[0] if subject else None,
                "rule": p.code,
                "severity": "error",
                "message": message,
                "source": p.source,
                "seq": seq_of.get(p.source or ""),
            }
        )
    return pa.Table.from_pylist(rows, schema=VERDICTS_SCHEMA)


def _one_row_per_source(changes: pa.Table) -> pa.Table:
    """The ChangeSet's first row of each source (place of the template: every target makes the
    same refusal there), with the creates of the MOs those rows are on and of their ancestors:
    what the planner's refusals are judged on, in memory of the template's size, not the
    expansion's. (Cardinality, which counts the creates of all targets, is left to ``plan``.)"""
    if not changes.num_rows:
        return changes
    first, _ = first_row_of_each_source(changes)
    return with_ancestor_creates(changes, first)


def first_row_of_each_source(changes: pa.Table) -> tuple[pa.Array, list[str]]:
    """The row of `changes` where each source first comes, and the sources, in that order (a
    null source counts as ``""``)."""
    source = pc.dictionary_encode(pc.fill_null(pc.cast(changes["source"], pa.string()), "").combine_chunks())
    first = pc.index_in(pa.array(range(len(source.dictionary)), source.indices.type), value_set=source.indices)
    return first, source.dictionary.to_pylist()


def with_ancestor_creates(changes: pa.Table, rows: pa.Array) -> pa.Table:
    """The `rows` of `changes`, with the creates in `changes` of the MOs they are on and of
    those MOs' ancestors, in the order of `changes`."""
    chosen = changes.take(rows)
    fdns = set(pc.unique(pc.cast(chosen["fdn"], pa.string())).to_pylist())
    wanted = {f.rsplit(",", k)[0] for f in fdns for k in range(f.count(",") + 1)}
    structural = pc.and_(pc.is_null(changes["attribute"]), pc.equal(changes["op"], "create"))
    ancestors = pc.and_(structural, pc.is_in(pc.cast(changes["fdn"], pa.string()), value_set=pa.array(sorted(wanted))))
    found = pc.indices_nonzero(ancestors)
    keep = pc.unique(pa.concat_arrays([pc.cast(rows, pa.uint64()), pc.cast(found, pa.uint64())]))
    return changes.take(pc.take(keep, pc.sort_indices(keep)))


def _seq_of_sources(changes: pa.Table, sources: set[str]) -> dict[str, int]:
    """The first ChangeSet row (``seq``) of each source."""
    if not sources:
        return {}
    rows = changes.filter(pc.is_in(pc.cast(changes["source"], pa.string()), value_set=pa.array(sorted(sources))))
    out: dict[str, int] = {}
    for source, seq in zip(rows["source"].to_pylist(), rows["seq"].to_pylist(), strict=True):
        out.setdefault(source, seq)
    return out


def _unit_hints(found: pa.Table, mos: pa.Table, catalog: CatalogView, threads: int) -> pa.Table:
    """A value rule broken by a value with a multiplication factor gets a hint where the value
    read back in engineering units (as if the template was written in raw units) fits."""
    value_rules = pc.is_in(found["rule"], value_set=pa.array(SCALED_RULES))
    if not pc.any(value_rules).as_py():
        return found
    factors = dict(zip(catalog.factors["key"].to_pylist(), catalog.factors["factor"].to_pylist(), strict=True))
    candidates = {}
    for i, r in enumerate(found.select(["rule", "class", "attribute", "member", "value"]).to_pylist()):
        factor = factors.get(SEP.join((r["class"] or "", r["attribute"] or "", r["member"] or "")))
        if r["rule"] in SCALED_RULES and factor is not None and r["value"] is not None:
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


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, int]:
    """A code per row (int64, from 0; null has its own) and how many codes there may be."""
    if isinstance(column, pa.ChunkedArray):
        if pa.types.is_dictionary(column.type):
            column = column.unify_dictionaries()
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    codes = pc.add(pc.fill_null(column.indices.cast(pa.int64()), -1), 1)
    return codes, len(column.dictionary) + 1


def _last_sets(sets: pa.Table) -> pa.Array:
    """The rows of the last set of each attribute (the state the node is left in): a set of a
    sequence or struct is several rows with the same key, target and source. `sets` is in
    ``seq`` order. Column-wise: codes, not joined texts or Python lists."""
    key, _ = _codes(sets["key"])
    target, targets = _codes(sets["target"])
    source, sources = _codes(sets["source"])
    pair, _ = _codes(pc.add(pc.multiply(key, targets), target))
    one, _ = _codes(pc.add(pc.multiply(pair, sources), source))
    last = pa.table({"key": key, "one": one}).group_by("key", use_threads=False).aggregate([("one", "last")])
    ends = pc.take(last["one_last"], pc.index_in(key, value_set=last["key"]))
    return pc.equal(ends, one).combine_chunks() if isinstance(ends, pa.ChunkedArray) else pc.equal(ends, one)


def _value_rows(table: pa.Table) -> pa.Table:
    """The rows of a Network's ``values`` the evaluator reads: names coded, values as text."""
    value = table["value"]
    if pa.types.is_dictionary(value.type):
        # chunk by chunk: combining first would unify every chunk's dictionary
        value = pa.chunked_array([c.dictionary.take(c.indices) for c in value.chunks], pa.string())
    return pa.table(
        {
            "fdn": _coded(table["fdn"]),
            "attribute": _coded(table["attribute"]),
            "member": _coded(table["member"]),
            "index": pc.fill_null(table["index"].cast(pa.int32()), 0),
            "value": value.cast(pa.string()),
        }
    )


def _conflicts(sets: pa.Table) -> pa.Table:
    """Attributes two targets set to different values (only attributes more than one target
    sets are looked at)."""
    key, _ = _codes(sets["key"])
    target, _ = _codes(sets["target"])
    targets = (
        pa.table({"key": key, "target": target})
        .group_by("key", use_threads=False)
        .aggregate([("target", "count_distinct")])
    )
    shared = targets.filter(pc.greater(targets["target_count_distinct"], 1))["key"]
    if not len(shared):
        return VERDICTS_SCHEMA.empty_table()
    by_target = _whole_values(sets.filter(pc.is_in(key, value_set=shared)))
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
        what = f"{v['class']}.{v['attribute']}{member}{index} = {v['value']!r}" if v["attribute"] else v["class"]
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
