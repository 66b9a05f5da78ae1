"""``rtbfast verify`` and ``rtbfast diff`` through the real CLI, on pre/post pairs made by
``rtbfast apply --save-network`` on the offline simulator: on the rich generated network with
the real LTE model (creates, deletes with their locks, relations), and on a real export
(bodastage's). Every status of verify is made by a real run: a whole plan applied (held), the
plan judged on the network before it (not taken, MO missing, unexpected), a partial run and a
change outside the plan (not taken, drifted); the correction plans come from rtbfast plan's
planner and are checked by applying them and verifying again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import rtbfast
from rtbfast.changeset import write_changeset
from rtbfast.enm.simulator import canonical
from rtbfast.network_diff import attribute_values, diff_networks, plain_values, value_changes
from rtbfast.network_writer import write_network_xml
from tests.conftest import one_line_error, samples_dir
from tests.conftest import rtbfast as run
from tests.enm_fixtures import CELL, CELL1, ENB, Changes

RELATION = f"{CELL},EUtranFreqRelation=99"
CELL2 = CELL.replace("_0", "_2")


@pytest.fixture(scope="module")
def model() -> Path:
    return samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml"


def _ok(result: object, code: int = 0) -> str:
    r = result  # a CompletedProcess
    assert r.returncode == code, (r.returncode, r.stderr[-3000:])  # type: ignore[attr-defined]
    assert "Traceback" not in r.stderr  # type: ignore[attr-defined]
    return str(r.stderr)  # type: ignore[attr-defined]


def _apply(script: Path, model: Path, network: Path, after: Path) -> None:
    """Run `script` on the simulator; a plan folder's plan.cmedit, or its 3GPP import file
    where cmedit cannot carry the plan's rollback exactly (the rollback restores a value the
    model refuses as new)."""
    if script.name == "plan.cmedit" and not script.exists():
        script = script.with_name("plan.3gpp.xml")
    _ok(run("apply", script, "--catalog", model, "--network", network, "--save-network", after, "--poll-interval", "0"))


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(folder / "verify.parquet").to_pylist()
    return rows


def _status(rows: list[dict[str, object]]) -> dict[tuple[object, object], object]:
    return {(r["fdn"], r["attribute"]): r["status"] for r in rows}


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory, full_tables: dict[str, pa.Table], model: Path) -> dict[str, Path]:
    """A plan on the generated network (sets, a relation created, a LOCKED cell deleted with
    its relations, an UNLOCKED one locked first), applied whole."""
    folder = tmp_path_factory.mktemp("verify-rich")
    # the generated network's cellRange is the workbook's enum; the LTE model's is an integer
    values = full_tables["values"]
    fixed = pc.if_else(pc.equal(values["value"], "KM_15"), "15", values["value"])
    tables = {
        "mos": full_tables["mos"],
        "values": values.set_column(values.schema.get_field_index("value"), "value", fixed),
    }
    full_export = write_network_xml(tables, folder / "before.xml")
    changes = (
        Changes()
        .add("set", CELL, "qRxLevMin", "-122")
        .add("set", CELL, "cellRange", "60")
        .add("create", RELATION)
        .add("create", RELATION, "eutranFrequencyRef", f"{ENB},EUtraNetwork=1,EUtranFrequency=1300")
        .add("create", RELATION, "cellReselectionPriority", "3")
        .add("delete", CELL1)  # a LOCKED cell with relations and report configs below it
        .add("delete", CELL2)  # an UNLOCKED one: locked first
    )
    source = write_changeset(changes.table(), folder / "changes.parquet", {})
    _ok(run("plan", source, "--catalog", model, "--network", full_export, "-o", folder / "plan"))
    _apply(folder / "plan" / "plan.cmedit", model, full_export, folder / "after.xml")
    return {"folder": folder, "plan": folder / "plan", "before": full_export, "after": folder / "after.xml"}


def test_a_plan_applied_whole_holds(rich: dict[str, Path]) -> None:
    out = rich["folder"] / "held"
    err = _ok(run("verify", rich["plan"], "--network", rich["after"], "-o", out))
    rows = _rows(out)
    assert {r["status"] for r in rows} == {"held"}, rows
    status = _status(rows)
    assert status[(CELL, "qRxLevMin")] == status[(CELL, "cellRange")] == "held"
    assert status[(RELATION, None)] == "held" and status[(RELATION, "cellReselectionPriority")] == "held"
    assert status[(CELL1, None)] == status[(CELL2, None)] == "held"  # deleted, and gone
    # the lock before CELL2's delete is not a planned value: the MO is gone
    assert (CELL2, "administrativeState") not in status
    assert status[(f"{CELL1},EUtranFreqRelation=1300", None)] == "held"  # with its subtree
    report = json.loads((out / "verify.json").read_text())
    assert report["counts"]["held"] == len(rows) and f"{len(rows)} planned value(s)" in err
    # the CSV holds the same rows; the page is self-contained
    assert pcsv.read_csv(out / "verify.csv").num_rows == len(rows)
    page = (out / "verify.html").read_text()
    assert "<script src" not in page and "http" not in page.split("<body>", 1)[1]


def test_the_plan_judged_on_the_network_before_it(rich: dict[str, Path], model: Path) -> None:
    """Nothing applied: the sets did not take, the created relation is missing, the deleted
    cells are unexpected; the correction is the plan again."""
    out, again = rich["folder"] / "before", rich["folder"] / "again"
    err = _ok(run("verify", rich["plan"], "--network", rich["before"], "-o", out, "--correct", again), 1)
    status = _status(_rows(out))
    assert status[(CELL, "qRxLevMin")] == "not_taken" and status[(CELL, "cellRange")] == "not_taken"
    assert status[(RELATION, None)] == "mo_missing" and status[(RELATION, "eutranFrequencyRef")] == "mo_missing"
    assert status[(CELL1, None)] == status[(CELL2, None)] == "unexpected"
    rows = {(r["fdn"], r["attribute"]): r for r in _rows(out)}
    assert rows[(CELL, "qRxLevMin")]["found"] == rows[(CELL, "qRxLevMin")]["before"] != "-122"
    assert "correction:" in err
    # the correction, planned by the one planner, is the plan itself
    plan = pq.read_table(rich["plan"] / "plan.parquet").drop_columns(["source"])
    assert pq.read_table(again / "plan.parquet").drop_columns(["source"]).equals(plan)
    changes = pq.read_table(out / "corrections.parquet")
    assert set(changes["op"].to_pylist()) == {"create", "set", "delete"}


def test_a_partial_run_and_a_change_outside_the_plan(rich: dict[str, Path], model: Path) -> None:
    folder = rich["folder"]
    # the run stopped after its first command; then someone changed qRxLevMin by hand
    sets = pq.read_table(rich["plan"] / "plan.parquet").filter(pc.equal(pc.field("op"), "set")).to_pylist()
    assert sorted((r["fdn"], r["attribute"]) for r in sets) == [(CELL, "cellRange"), (CELL, "qRxLevMin")]
    (folder / "partial.cmedit").write_text(f"cmedit set {CELL} qRxLevMin=-122\n")
    _apply(folder / "partial.cmedit", model, rich["before"], folder / "partial.xml")
    (folder / "outside.cmedit").write_text(f"cmedit set {CELL} qRxLevMin=-100\n")
    _apply(folder / "outside.cmedit", model, folder / "partial.xml", folder / "post.xml")
    out, again = folder / "partial", folder / "again-partial"
    _ok(run("verify", rich["plan"], "--network", folder / "post.xml", "-o", out, "--correct", again), 1)
    rows = {(r["fdn"], r["attribute"]): r for r in _rows(out)}
    drift = rows[(CELL, "qRxLevMin")]
    assert drift["status"] == "drifted" and drift["found"] == "-100" and drift["planned"] == "-122"
    assert rows[(CELL, "cellRange")]["status"] == "not_taken"
    assert rows[(RELATION, None)]["status"] == "mo_missing" and rows[(CELL1, None)]["status"] == "unexpected"
    # the correction applied on the post export, verified again: all held
    _apply(again / "plan.cmedit", model, folder / "post.xml", folder / "corrected.xml")
    _ok(run("verify", rich["plan"], "--network", folder / "corrected.xml", "-o", folder / "corrected"))


def test_diff_of_the_pair_and_its_correction_back(rich: dict[str, Path], model: Path) -> None:
    folder = rich["folder"]
    out, back = folder / "diff", folder / "back"
    err = _ok(run("diff", rich["before"], rich["after"], "-o", out, "--correct", back, "--catalog", model), 1)
    mos = pq.read_table(out / "mos.parquet").to_pylist()
    added = {r["fdn"] for r in mos if r["change"] == "added"}
    removed = {r["fdn"] for r in mos if r["change"] == "removed"}
    assert added == {RELATION}
    # the cell's subtree, and the neighbour relations of other cells to it (the planner deletes
    # a relation whose mandatory reference goes)
    assert {CELL1, CELL2} <= removed
    assert all(f.startswith((CELL1, CELL2)) or ",EUtranCellRelation=" in f for f in removed)
    values = {(r["fdn"], r["attribute"]): r for r in pq.read_table(out / "values.parquet").to_pylist()}
    assert values[(CELL, "qRxLevMin")]["value_b"] == "-122" and values[(CELL, "cellRange")]["change"] == "changed"
    # relations per parent: CELL gained a frequency relation; the deleted cells' relations are gone
    relations = pq.read_table(out / "relations.parquet").to_pylist()
    mine = [r for r in relations if r["parent_fdn"] == CELL and r["class"] == "EUtranFreqRelation"]
    assert mine and mine[0]["added"] == 1 and mine[0]["in_b"] == mine[0]["in_a"] + 1
    assert any(r["parent_fdn"].startswith(CELL1) and r["removed"] > 0 for r in relations)
    counts = pq.read_table(out / "counts.parquet")
    by_class = {r["name"]: r for r in counts.to_pylist() if r["level"] == "class"}
    assert by_class["EUtranCellFDD"]["mos_removed"] == 2 and by_class["EUtranFreqRelation"]["mos_added"] == 1
    report = json.loads((out / "diff.json").read_text())
    assert report["mos_removed"] == len(removed) and f"{report['mos_removed']} removed" in err
    # the correction (B back to A) applied on B gives A back, but for what its notes say it
    # leaves out: the node-made MOs below the recreated cells, the attributes the model lacks
    assert "note: 8 MO(s) the node creates are not created" in err
    left_out = ("a5Thr1RsrpFreqOffset", "a5Thr2RsrpFreqOffset", "eutranFreqToQciProfileRelation")
    assert all(name in err for name in left_out)
    _apply(back / "plan.cmedit", model, rich["after"], folder / "back.xml")
    _ok(run("diff", rich["before"], folder / "back.xml", "-o", folder / "same"), 1)
    same = folder / "same"
    rest = pq.read_table(same / "mos.parquet").to_pylist()
    assert len(rest) == 8 and {r["change"] for r in rest} == {"removed"}
    assert {r["class"] for r in rest} == {
        "UeMeasControl",
        "ReportConfigA5",
        "ReportConfigEUtraBestCell",
        "ReportConfigSearch",
    }
    values = pq.read_table(same / "values.parquet").to_pylist()
    assert values and {r["attribute"] for r in values} <= set(left_out)


def test_value_changes_agree_with_a_plain_python_diff(rich: dict[str, Path]) -> None:
    """The per-value view, cross-checked against a set difference of the canonical rows."""
    a = rtbfast.read_network(rich["before"]).tables
    b = rtbfast.read_network(rich["after"]).tables
    changes = value_changes(a, b)

    def rows(t: dict[str, pa.Table]) -> dict[tuple[object, ...], object]:
        v = canonical(t)["values"].to_pylist()
        return {(r["fdn"], r["attribute"], r["member"], r["index"]): r["value"] for r in v}

    ra, rb = rows(a), rows(b)
    expected = {k for k in ra.keys() | rb.keys() if ra.get(k) != rb.get(k)}
    got = {(r["fdn"], r["attribute"], r["member"], r["index"]) for r in changes.to_pylist() if r["attribute"]}
    assert got == expected and expected
    created = {r["fdn"] for r in changes.to_pylist() if r["change"] == "created"}
    assert created == {RELATION}


def test_whole_attribute_values_compare_items_and_members() -> None:
    rows = pa.table(
        {
            "fdn": ["A", "A", "A", "A", "B"],
            "attribute": ["s", "s", "t", "t", "u"],
            "member": [None, None, "y", "x", None],
            "index": pa.array([1, 0, 0, 0, 0], pa.int32()),
            "value": ["2", "1", "b", "a", ""],
        }
    )
    got = {r["key"].split("\x1f")[1]: r["shown"] for r in attribute_values(rows).to_pylist()}
    assert got == {"s": "[1, 2]", "t": "[x=a, y=b]", "u": ""}
    assert plain_values(rows).num_rows == 5


def test_a_real_export_pre_post_pair(tmp_path: Path, model: Path) -> None:
    """bodastage's export (its standard 3GPP attributes below ManagedElement left out: the
    network writer does not carry them), a plan of three values, a run that stopped after
    its first command and a change outside the plan."""
    tables = rtbfast.read_network(samples_dir("bulkcm") / "bodastage_bulkcm.xml").tables
    v = tables["values"]
    depth = pc.list_value_length(pc.split_pattern(pc.cast(v["fdn"], pa.string()), ","))
    pre = write_network_xml(
        {"mos": tables["mos"], "values": v.filter(pc.or_(v["vs_data"], pc.less_equal(depth, 4)))}, tmp_path / "pre.xml"
    )
    me = "SubNetwork=BS_NRM_ROOT,SubNetwork=101,MeContext=4698,ManagedElement=4698"
    cell, freq = f"{me},EUtranCellFDD=Q0001", f"{me},EUtranFreqRelation=wwww"
    changes = Changes().add("set", cell, "userLabel", "Q0001 north").add("set", cell, "tac", "12")
    changes.add("set", freq, "userLabel", "f1300")
    source = write_changeset(changes.table(), tmp_path / "changes.parquet", {})
    _ok(run("plan", source, "--catalog", model, "--network", pre, "-o", tmp_path / "plan"))
    lines = (tmp_path / "plan" / "plan.cmedit").read_text().splitlines()
    assert len(lines) == 2
    (tmp_path / "partial.cmedit").write_text(lines[0] + "\n")
    _apply(tmp_path / "partial.cmedit", model, pre, tmp_path / "mid.xml")
    (tmp_path / "outside.cmedit").write_text(f"cmedit set {cell} tac=77\n")
    _apply(tmp_path / "outside.cmedit", model, tmp_path / "mid.xml", tmp_path / "post.xml")
    err = _ok(run("verify", tmp_path / "plan", "--network", tmp_path / "post.xml", "-o", tmp_path / "v"), 1)
    assert "3 planned value(s) and MO(s): 1 held, 1 not taken, 1 drifted, 0 MO missing, 0 unexpected" in err
    err = _ok(run("diff", pre, tmp_path / "post.xml", "-o", tmp_path / "d"), 1)
    assert "8 MO(s) in A, 8 in B: 0 added, 0 removed; 2 value(s) changed" in err
    found = diff_networks(rtbfast.read_network(pre).tables, rtbfast.read_network(tmp_path / "post.xml").tables)
    assert {(r["attribute"], r["value_a"], r["value_b"]) for r in found.values.to_pylist()} == {
        ("userLabel", "Q0001", "Q0001 north"),
        ("tac", "9", "77"),
    }


def test_bad_inputs_are_one_located_line(tmp_path: Path, rich: dict[str, Path]) -> None:
    one_line_error(run("verify", tmp_path / "nope", "--network", rich["after"], "-o", tmp_path / "o"), 2, "nope")
    (tmp_path / "notaplan").mkdir()
    one_line_error(
        run("verify", tmp_path / "notaplan", "--network", rich["after"], "-o", tmp_path / "o"), 2, "plan.json"
    )
    one_line_error(run("verify", rich["plan"], "--network", tmp_path / "none.xml", "-o", tmp_path / "o"), 2, "none.xml")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "plan.json").write_text("{}")
    (broken / "plan.parquet").write_text("not parquet")
    one_line_error(
        run("verify", broken, "--network", rich["after"], "-o", tmp_path / "o"), 2, "plan.parquet", "Parquet"
    )
    one_line_error(run("diff", rich["before"], tmp_path / "none.xml", "-o", tmp_path / "o"), 2, "none.xml")
    one_line_error(
        run("diff", rich["before"], rich["after"], "-o", tmp_path / "o", "--correct", tmp_path / "c"), 2, "--catalog"
    )
    # an output folder that is not rtbfast's is refused, and left as it was
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    one_line_error(run("diff", rich["before"], rich["after"], "-o", mine), 1, "not an rtbfast output")
    assert (mine / "keep.txt").read_text() == "mine"
