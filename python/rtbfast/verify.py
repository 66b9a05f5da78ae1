"""``rtbfast verify``: a plan folder judged on the export taken after it ran, column-wise.

What the plan wanted (its last write of each attribute of each MO, the MOs it creates and
deletes, from ``plan.parquet``) is compared with what the export holds, and with what the
network held before the plan (``rollback.parquet`` writes exactly that back). Each planned
value is:

- ``held``: the export holds the planned value (typed: ``"010"`` is ``10``);
- ``not_taken``: the export still holds the value from before the plan: its step did not take;
- ``drifted``: the export holds a value neither planned nor from before (changed outside the
  plan, or before unknown), the value found given;
- ``mo_missing``: the MO is not in the export (a create that did not take, or the MO deleted
  outside the plan);
- ``unexpected``: an MO the plan deletes is still there.

The values that did not hold can be made a ChangeSet (:func:`correction_changes`) and planned
on the export by the one planner (:func:`rtbfast.enm.planning.plan_changes`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rtbfast.changeset import in_one_phase
from rtbfast.enm.typed_values import typed_text
from rtbfast.errors import InputError, InputIOError, OutputError
from rtbfast.network_diff import (
    attribute_key,
    attribute_values,
    class_of,
    codes_in,
    distinct_texts,
    node_of,
    plain,
)
from rtbfast.schemas import CHANGESET_SCHEMA, PLAN_SCHEMA, VERIFY_SCHEMA

STATUSES = ("held", "not_taken", "drifted", "mo_missing", "unexpected")
VALUE_OPS = ("create", "set", "lock", "unlock")
PLAN_MARKER = "plan.json"


@dataclass
class Verification:
    """A plan judged on an export."""

    rows: pa.Table
    """One row per planned value and MO (:data:`rtbfast.schemas.VERIFY_SCHEMA`)."""
    plan_dir: Path
    network: Path
    made_from: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(STATUSES, 0)
        for status in self.rows["status"].to_pylist():
            found[status] += 1
        return found

    @property
    def ok(self) -> bool:
        return bool(self.rows.num_rows == 0 or pc.all(pc.equal(self.rows["status"], "held")).as_py())


def _read_steps(path: Path) -> pa.Table:
    """A plan's (or rollback's) steps, checked: the Plan's columns of the Plan's types."""
    if not path.is_file():
        raise InputIOError(f"{path}: no such file: not a plan folder written by rtbfast plan", str(path))
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise InputError(f"{path}: not a Plan (not readable as Parquet: {err})", str(path)) from err
    for f in PLAN_SCHEMA:
        if f.name not in table.column_names:
            raise InputError(f"{path}: not a Plan: no column {f.name!r}", str(path))
        if not table.schema.field(f.name).type.equals(f.type):
            raise InputError(f"{path}: column {f.name!r} is {table.schema.field(f.name).type}, not {f.type}", str(path))
    return table.select(PLAN_SCHEMA.names)


def read_plan_folder(plan_dir: str | os.PathLike[str]) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """The plan, its rollback and ``plan.json`` of a folder ``rtbfast plan`` wrote."""
    from rtbfast.output_folder import load_report

    folder = Path(plan_dir)
    if not folder.is_dir():
        what = "no such folder" if not folder.exists() else "not a folder"
        raise InputIOError(f"{folder}: {what}: give the folder rtbfast plan wrote (-o)", str(folder))
    try:
        report = load_report(folder, PLAN_MARKER)
    except OutputError as err:
        raise InputError(f"{err}: give the folder rtbfast plan wrote (-o)", str(folder)) from None
    return _read_steps(folder / "plan.parquet"), _read_steps(folder / "rollback.parquet"), report


def _array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    out = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return out.cast(pa.string())


def _final_writes(steps: pa.Table, names: tuple[pa.Array, pa.Array] | None = None) -> pa.Table:
    """The rows of the last step writing each (fdn, attribute), typed by their kind; with
    `names` (distinct FDNs and attributes, :func:`rtbfast.network_diff.distinct_texts`), also
    each row's ``code``: the pair numbered in them, as :func:`attribute_values` numbers it."""
    writes = steps.filter(
        pc.and_(pc.is_in(steps["op"], value_set=pa.array(VALUE_OPS)), pc.is_valid(steps["attribute"]))
    )
    if not writes.num_rows:
        out = writes.append_column("typed", pa.array([], pa.string()))
        return out if names is None else out.append_column("code", pa.array([], pa.int64()))
    # each (fdn, attribute) coded as an integer (its texts looked up once per distinct one);
    # its last step found by a group-by on the codes
    fdns, attrs = names if names is not None else (distinct_texts(writes["fdn"]), distinct_texts(writes["attribute"]))
    code = pc.add(pc.multiply(codes_in(writes["fdn"], fdns), max(len(attrs), 1)), codes_in(writes["attribute"], attrs))
    steps_of = pa.table({"code": code, "step": writes["step"]})
    last = steps_of.group_by("code", use_threads=False).aggregate([("step", "max")])
    by_code = pc.take(last["step_max"], pc.index_in(code, value_set=last["code"]))
    final = pc.equal(writes["step"], by_code)
    writes = writes.filter(final)
    out = writes.append_column("typed", typed_text(pc.fill_null(writes["value"], ""), writes["kind"]))
    return out if names is None else out.append_column("code", code.filter(final))


def _final_mos(steps: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The MOs the plan leaves created and those it leaves deleted (fdn, class, step,
    source): the last create or delete of each MO decides."""
    heads = steps.filter(
        pc.and_(pc.is_in(steps["op"], value_set=pa.array(["create", "delete"])), pc.is_null(steps["attribute"]))
    )
    if not heads.num_rows:
        empty = heads.select(["fdn", "class", "step", "source", "op"])
        return empty, empty
    last = heads.group_by("fdn", use_threads=False).aggregate([("step", "max")])
    stepped = pc.binary_join_element_wise(heads["fdn"], pc.cast(heads["step"], pa.string()), "\x1f")
    wanted = pc.binary_join_element_wise(last["fdn"], pc.cast(last["step_max"], pa.string()), "\x1f")
    final = heads.filter(pc.is_in(stepped, value_set=wanted)).select(["fdn", "class", "step", "source", "op"])
    return final.filter(pc.equal(final["op"], "create")), final.filter(pc.equal(final["op"], "delete"))


def verify(plan_dir: str | os.PathLike[str], network: str | os.PathLike[str], *, threads: int = 0) -> Verification:
    """Judge the plan in `plan_dir` on `network` (the export taken after it ran, or a build
    folder with its network)."""
    from rtbfast.network_index import read_network_tables

    plan, rollback, report = read_plan_folder(plan_dir)
    tables = read_network_tables(network, threads)
    return Verification(judge(plan, rollback, tables), Path(plan_dir), Path(network), report.get("made_from", {}))


def judge(plan: pa.Table, rollback: pa.Table, after: dict[str, pa.Table]) -> pa.Table:
    """The verify rows of `plan` (its `rollback` giving the values before) on the network
    `after`."""
    created, deleted = _final_mos(plan)
    gone = deleted["fdn"]
    # one code space for the plan, the rollback and the export: (fdn, attribute) numbered
    # over the plan's and the rollback's names (the export's texts looked up once per
    # distinct one, in its dictionaries)
    shared = (distinct_texts(plan["fdn"], rollback["fdn"]), distinct_texts(plan["attribute"], rollback["attribute"]))
    width = max(len(shared[1]), 1)
    writes = _final_writes(plan, shared)
    writes = writes.filter(pc.invert(pc.is_in(writes["fdn"], value_set=gone)))
    present = plain(after["mos"]["fdn"])
    fdns = pc.unique(pa.concat_arrays([_array(writes["fdn"]), _array(created["fdn"]), _array(gone)]).cast(pa.string()))
    there = pc.is_in(fdns, value_set=present)
    present_fdns = fdns.filter(there)

    values = after["values"]
    from rtbfast.network_index import is_in_column

    before_rows = _final_writes(rollback, shared)

    def coded(table: pa.Table) -> pa.Table:
        pair = pc.add(pc.multiply(codes_in(table["fdn"], shared[0]), width), codes_in(table["attribute"], shared[1]))
        return table.append_column("code", pair)

    found_rows = coded(values.filter(is_in_column(values["fdn"], present_fdns)))
    found_rows = found_rows.filter(pc.fill_null(pc.is_in(found_rows["code"], value_set=writes["code"]), False))
    # typed by the kind the plan gives its (fdn, attribute, member)
    members = distinct_texts(writes["member"])

    def with_member(table: pa.Table) -> pa.Array:
        m = pc.fill_null(pc.add(codes_in(table["member"], members), 1), 0)
        return pc.add(pc.multiply(table["code"], len(members) + 2), m)

    at = pc.index_in(with_member(found_rows), value_set=with_member(writes))
    found_rows = found_rows.append_column("typed", typed_text(found_rows["value"], pc.take(writes["kind"], at)))

    planned = attribute_values(writes, "typed", "value", names=shared)
    found = attribute_values(found_rows, "typed", "value", names=shared)
    before = attribute_values(before_rows, "typed", "value", names=shared)
    planned_shown, found_shown, before_shown = planned, found, before
    code = writes["code"]

    # one head per planned attribute: its first row (every row of it is of its last step)
    distinct = pc.unique(code)
    heads = writes.take(pc.index_in(distinct, value_set=code))
    heads = heads.rename_columns(
        [f"{c}_first" if c in ("fdn", "class", "attribute", "op", "source") else c for c in heads.column_names]
    )
    heads = heads.append_column("step_max", heads["step"])
    keys = heads["code"]

    def lookup(table: pa.Table, column: str) -> pa.Array:
        return pc.take(table[column], pc.index_in(keys, value_set=table["code"]))

    p_sig, f_sig, b_sig = lookup(planned, "sig"), lookup(found, "sig"), lookup(before, "sig")
    f_sig = pc.fill_null(f_sig, "")
    mo_there = pc.is_in(heads["fdn_first"], value_set=present_fdns)  # (of `fdns`: the export's looked up once)
    status = pc.if_else(
        pc.invert(mo_there),
        "mo_missing",
        pc.if_else(
            pc.equal(f_sig, pc.fill_null(p_sig, "")),
            "held",
            pc.if_else(pc.fill_null(pc.equal(f_sig, b_sig), False), "not_taken", "drifted"),
        ),
    )
    found_text = pc.if_else(mo_there, pc.fill_null(lookup(found_shown, "shown"), ""), pa.scalar(None, pa.string()))
    value_rows = pa.table(
        {
            "status": status,
            "fdn": heads["fdn_first"],
            "node": node_of(heads["fdn_first"]),
            "class": heads["class_first"],
            "attribute": heads["attribute_first"],
            "op": heads["op_first"],
            "planned": lookup(planned_shown, "shown"),
            "found": found_text,
            "before": lookup(before_shown, "shown"),
            "step": heads["step_max"],
            "source": heads["source_first"],
        }
    )
    parts = [value_rows.cast(VERIFY_SCHEMA)]
    for table, missing, held_status in ((created, "mo_missing", "held"), (deleted, "held", "unexpected")):
        if not table.num_rows:
            continue
        is_there = pc.is_in(table["fdn"], value_set=present_fdns)
        n = table.num_rows
        parts.append(
            pa.table(
                {
                    "status": pc.if_else(is_there, held_status, missing),
                    "fdn": table["fdn"],
                    "node": node_of(table["fdn"]),
                    "class": table["class"],
                    "attribute": pa.nulls(n, pa.string()),
                    "op": table["op"],
                    "planned": pa.array(["(created)" if held_status == "held" else "(deleted)"] * n, pa.string()),
                    "found": pc.if_else(is_there, "(present)", "(absent)"),
                    "before": pa.array(["(absent)" if held_status == "held" else "(present)"] * n, pa.string()),
                    "step": table["step"],
                    "source": table["source"],
                }
            ).cast(VERIFY_SCHEMA)
        )
    rows = pa.concat_tables(parts)
    return rows.sort_by([("step", "ascending"), ("fdn", "ascending"), ("attribute", "ascending")])


def correction_changes(verification: Verification, plan: pa.Table) -> tuple[pa.Table, list[str]]:
    """The ChangeSet that asks again for what did not hold: the planned values of
    ``not_taken`` and ``drifted`` attributes set again, the MOs the plan created that are
    missing created again with their planned values, the MOs it deleted that are still there
    deleted. A value whose MO is missing and was not created by the plan cannot be asked for
    again (it needs the MO): listed in the notes."""
    rows = verification.rows
    bad = rows.filter(pc.not_equal(rows["status"], "held"))
    notes: list[str] = []
    writes = _final_writes(plan)
    created, _ = _final_mos(plan)
    recreate = bad.filter(pc.and_(pc.equal(bad["status"], "mo_missing"), pc.is_null(bad["attribute"])))
    lost = bad.filter(
        pc.and_(
            pc.and_(pc.equal(bad["status"], "mo_missing"), pc.is_valid(bad["attribute"])),
            pc.invert(pc.is_in(bad["fdn"], value_set=created["fdn"])),
        )
    )
    for r in lost.select(["fdn", "attribute"]).to_pylist()[:50]:
        notes.append(
            f"{r['fdn']}: {r['attribute']} not asked for again: the MO is not in the export and the plan "
            "does not create it"
        )
    if lost.num_rows > 50:
        notes.append(f"… and {lost.num_rows - 50} more values of MOs not in the export")
    again = bad.filter(pc.is_in(bad["status"], value_set=pa.array(["not_taken", "drifted"])))
    again_keys = attribute_key(again["fdn"], again["attribute"])
    sets = writes.filter(pc.is_in(attribute_key(writes["fdn"], writes["attribute"]), value_set=again_keys))
    creates = writes.filter(pc.is_in(writes["fdn"], value_set=recreate["fdn"]))
    heads = created.filter(pc.is_in(created["fdn"], value_set=recreate["fdn"]))
    deletes = bad.filter(pc.equal(bad["status"], "unexpected"))

    def shaped(table: pa.Table, op: str, with_values: bool) -> pa.Table:
        n = table.num_rows
        cols: dict[str, Any] = {
            "op": pa.array([op] * n, pa.string()),
            "fdn": table["fdn"],
            "class": table["class"] if "class" in table.column_names else class_of(table["fdn"]),
        }
        for name, kind in (
            ("attribute", pa.string()),
            ("member", pa.string()),
            ("index", pa.int32()),
            ("value", pa.string()),
        ):
            cols[name] = table[name] if with_values else pa.nulls(n, kind)
        cols["source"] = table["source"]
        cols["step"] = table["step"]
        return pa.table(cols)

    parts = [
        shaped(heads, "create", False),
        shaped(creates, "create", True),
        shaped(sets, "set", True),
        shaped(deletes, "delete", False),
    ]
    whole = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    if not whole.num_rows:
        return CHANGESET_SCHEMA.empty_table(), notes
    # in the plan's order: its steps already order creates (parents first) and deletes
    first = pc.is_valid(whole["attribute"])
    whole = whole.append_column("first", first).append_column("row", pa.array(range(whole.num_rows), pa.int64()))
    whole = whole.sort_by([("step", "ascending"), ("first", "ascending"), ("row", "ascending")])
    source = pc.binary_join_element_wise(
        "rtbfast verify: step ", pc.cast(whole["step"], pa.string()), ": ", pc.fill_null(whole["source"], "planner"), ""
    )
    return in_one_phase(whole, source), notes


VERIFY_COLUMNS = ("status", "node", "class", "fdn", "attribute", "planned", "found", "before", "step", "source")


def write_verify_folder(
    verification: Verification,
    out: str | os.PathLike[str],
    *,
    corrections: pa.Table | None = None,
    notes: list[str] | None = None,
    xlsx: bool = False,
) -> dict[str, Any]:
    """``verify.parquet``, ``verify.csv``, ``verify.html`` and ``verify.json`` (the counts by
    status, by class and by node) into the folder `out`, written aside and swapped in; with
    `corrections`, the ChangeSet ``corrections.parquet`` beside them; with `xlsx`, the workbook
    ``verify.xlsx`` (:mod:`rtbfast.excel`). The report."""
    import json

    import pyarrow.csv as pcsv

    from rtbfast.changeset import METADATA_KEY
    from rtbfast.html_report import bar_chart, cards, charts, data_table, escape, note_list, page, ranked_first
    from rtbfast.output_folder import written_aside

    rows = verification.rows
    counts = verification.counts()

    def by(column: str) -> dict[str, dict[str, int]]:
        bad = rows.filter(pc.not_equal(rows["status"], "held"))
        grouped = bad.group_by([column, "status"], use_threads=False).aggregate([("fdn", "count")]).to_pylist()
        out_: dict[str, dict[str, int]] = {}
        for g in grouped:
            out_.setdefault(str(g[column]), {})[g["status"]] = g["fdn_count"]
        return dict(sorted(out_.items(), key=lambda kv: -sum(kv[1].values()))[:50])

    report: dict[str, Any] = {
        "plan": str(verification.plan_dir),
        "network": str(verification.network),
        "made_from": verification.made_from,
        "planned": rows.num_rows,
        "counts": counts,
        "not_held_by_class": by("class"),
        "not_held_by_node": by("node"),
        "corrections": None if corrections is None else corrections.num_rows,
        "notes": notes or [],
    }
    inputs = [verification.plan_dir, verification.network]
    with written_aside(out, "verify", inputs=inputs) as staging:
        pq.write_table(rows, staging / "verify.parquet", compression="zstd")
        pcsv.write_csv(rows, staging / "verify.csv")
        if corrections is not None:
            made_from = {"verify": str(verification.plan_dir), "network": str(verification.network)}
            meta = {METADATA_KEY: json.dumps(made_from, ensure_ascii=False).encode()}
            pq.write_table(corrections.replace_schema_metadata(meta), staging / "corrections.parquet")
        intro = (
            f"The plan {escape(verification.plan_dir)} judged on the export {escape(verification.network)}: "
            f"{rows.num_rows:,} planned value(s) and MO(s), {counts['held']:,} held."
        )
        classes = {k: sum(v.values()) for k, v in report["not_held_by_class"].items()}
        nodes = {k: sum(v.values()) for k, v in report["not_held_by_node"].items()}
        shown = ranked_first(rows, "status", ["not_taken", "drifted", "mo_missing", "unexpected", "held"], ["step"])
        (staging / "verify.html").write_text(
            page(
                "rtbfast verify",
                intro,
                [
                    cards([(s.replace("_", " ").replace("mo ", "MO "), n, s) for s, n in counts.items()]),
                    charts(
                        [
                            bar_chart("By status", {k: v for k, v in counts.items() if v}),
                            bar_chart("Not held, by class", classes, total=rows.num_rows - counts["held"]),
                            bar_chart("Not held, by node", nodes, total=rows.num_rows - counts["held"]),
                        ]
                    ),
                    note_list("Notes", report["notes"]),
                    data_table(
                        "Planned values",
                        shown,
                        VERIFY_COLUMNS,
                        severity="status",
                        total=rows.num_rows,
                        files="verify.parquet and verify.csv",
                        table_id="planned",
                    ),
                ],
            ),
            encoding="utf-8",
        )
        (staging / "verify.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if xlsx:
            from rtbfast.excel import folder_xlsx

            folder_xlsx(staging, command="verify")
    return report
