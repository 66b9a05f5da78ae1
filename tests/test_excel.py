"""``--xlsx``: the workbooks of ``audit``, ``plan``, ``verify``, ``diff``, ``diff-model`` and
``templates check``, made through the real CLI on the networks and models the other tests use
(the generated network of the ENM tests, the real LTE model, a release made from it by the
documented edits of :mod:`tests.model_releases`), and read back with openpyxl: the sheets, the
frozen header, the autofilter, the rows (as many as the Parquet tables, the same values),
the severity colours, the FDNs split into node and MO, hostile text kept as text. The sheet
continuation past Excel's rows is tested with a small row limit, and the limit itself against
the writer's (rust_xlsxwriter)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from openpyxl.utils import get_column_letter

from rtbfast.changeset import write_changeset
from rtbfast.excel import EXCEL_ROWS, EXCEL_TEXT, RED, Sheet, folder_xlsx, split_fdns, write_xlsx
from rtbfast.network_writer import write_network_xml
from tests.conftest import rtbfast as run
from tests.conftest import samples_dir
from tests.enm_fixtures import CELL, CELL1, ENB, Changes
from tests.model_releases import make_release

RELATION = f"{CELL},EUtranFreqRelation=99"
FORMULA = '=HYPERLINK("http://example.invalid","x")'
"""A value a spreadsheet would run as a formula were it not written as text."""
LONG = "L" * (EXCEL_TEXT + 5000)
RED_FILL = "FF" + RED.lstrip("#")
TEMPLATE = """[
  {"$meta": {"version": "1.0.0", "description": "cell settings written for the old release"}},
  {
    "EUtranCellFDD": {
      "qRxLevMin": "-140",
      "qQualMin": "-20",
      "administrativeState": "=1+2",
      "userLabel": "@SUM(1)",
      "noSuchAttribute": "1"
    }
  }
]
"""


def _ok(result: Any, code: int = 0) -> str:
    assert result.returncode == code, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr
    return str(result.stderr)


def _with(tables: dict[str, pa.Table], fdn: str, attribute: str, value: str) -> dict[str, pa.Table]:
    """`tables` with the value of `attribute` of `fdn` replaced."""
    values = tables["values"]
    fdns = values["fdn"].cast(pa.string())
    attrs = values["attribute"].cast(pa.string())
    hit = pc.and_(pc.equal(fdns, fdn), pc.equal(attrs, attribute))
    assert pc.sum(hit).as_py() == 1, (fdn, attribute)
    fixed = pc.if_else(hit, value, values["value"])
    return {**tables, "values": values.set_column(values.schema.get_field_index("value"), "value", fixed)}


def _without(tables: dict[str, pa.Table], fdn: str) -> dict[str, pa.Table]:
    """`tables` without the MO `fdn` and the MOs below it."""

    def keep(column: Any) -> Any:
        text = column.cast(pa.string())
        return pc.invert(pc.or_(pc.equal(text, fdn), pc.starts_with(text, fdn + ",")))

    return {
        "mos": tables["mos"].filter(keep(tables["mos"]["fdn"])),
        "values": tables["values"].filter(keep(tables["values"]["fdn"])),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, full_tables: dict[str, pa.Table]) -> dict[str, Any]:
    """Each command run once with --xlsx. Network A: the ENM tests' generated network (its
    cellRange as the LTE model types it). Network B: A with a cell gone, a value that is a
    formula and a label longer than an Excel cell holds."""
    model = samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml"
    folder = tmp_path_factory.mktemp("excel")
    values = full_tables["values"]
    fixed = pc.if_else(pc.equal(values["value"], "KM_15"), "15", values["value"])
    a = {"mos": full_tables["mos"], "values": values.set_column(values.schema.get_field_index("value"), "value", fixed)}
    b = _with(_with(_without(a, CELL1), CELL, "qRxLevMin", FORMULA), CELL, "userLabel", LONG)
    net_a = write_network_xml(a, folder / "a.xml")
    net_b = write_network_xml(b, folder / "b.xml")
    changes = (
        Changes()
        .add("set", CELL, "qRxLevMin", "-124")
        .add("set", CELL, "userLabel", "+north")
        .add("create", RELATION)
        .add("create", RELATION, "eutranFrequencyRef", f"{ENB},EUtraNetwork=1,EUtranFrequency=1300")
        .add("delete", CELL1)
    )
    changeset = write_changeset(changes.table(), folder / "changes.parquet", {})
    out: dict[str, Any] = {"folder": folder, "model": model, "a": net_a, "b": net_b}
    out["audit"] = run("audit", net_b, "--catalog", model, "-o", folder / "audit", "--xlsx")
    out["plan"] = run("plan", changeset, "--catalog", model, "--network", net_a, "-o", folder / "plan", "--xlsx")
    out["verify"] = run(
        "verify", folder / "plan", "--network", net_b, "-o", folder / "verify", "--correct", folder / "again", "--xlsx"
    )
    out["diff"] = run("diff", net_a, net_b, "-o", folder / "diff", "--xlsx")
    new, _ = make_release(model, folder / "ERBS_new_mp.xml", ["range", "attribute_removed", "default", "class_added"])
    template = folder / "cells.json"
    template.write_text(TEMPLATE, encoding="utf-8")
    out["template"] = template
    out["diff-model"] = run("diff-model", model, new, "-o", folder / "diff-model", "--templates", template, "--xlsx")
    out["check"] = run("templates", "check", template, "--catalog", model, "--xlsx", folder / "findings.xlsx")
    out["check-json"] = run("templates", "check", template, "--catalog", model, "--format", "json")
    return out


# ---------------------------------------------------------------------------------------------
# reading a workbook back


def _book(path: Path) -> Any:
    assert path.is_file(), path
    return openpyxl.load_workbook(path)


def _sheets_of(book: Any, name: str) -> list[Any]:
    """The sheet `name` and its continuations, in order."""
    found = [book[name]]
    while f"{name} ({len(found) + 1})" in book.sheetnames:
        found.append(book[f"{name} ({len(found) + 1})"])
    return found


def _read(book: Any, name: str) -> tuple[list[str], list[list[Any]], list[Any]]:
    """The header, the data rows (over the continuations) and the cells of each row."""
    headers: list[str] = []
    rows: list[list[Any]] = []
    cells: list[Any] = []
    for ws in _sheets_of(book, name):
        head = [c.value for c in ws[1]]
        assert not headers or head == headers
        headers = head
        assert ws.freeze_panes == "A2", (name, ws.freeze_panes)
        assert ws.auto_filter.ref == f"A1:{get_column_letter(len(head))}{ws.max_row}", (name, ws.auto_filter.ref)
        for row in ws.iter_rows(min_row=2):
            rows.append([c.value for c in row])
            cells.append(row)
    return headers, rows, cells


def _split_headers(names: list[str], fdn: str | None) -> list[str]:
    out = []
    for name in names:
        out.append(name)
        if name == fdn:
            stem = name[:-3] if name.endswith("fdn") else ""
            out += [f"{stem}node_fdn", f"{stem}mo"]
    return out


def _same(cell: Any, value: Any) -> bool:
    if value is None:
        return cell is None
    if value == "":
        return cell in (None, "")
    if isinstance(value, str) and len(value.encode("utf-16-le")) // 2 > EXCEL_TEXT:
        return isinstance(cell, str) and value.startswith(cell.split(" … [cut: ")[0]) and "[cut: " in cell
    return bool(cell == value)


def _check_table(
    book: Any,
    name: str,
    table: pa.Table,
    *,
    fdn: str | None = None,
    colour: str | None = None,
    red: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The sheet(s) `name` hold `table`: its columns (the FDN split after it), every row and
    value, the node and MO parts joining to the FDN, rows whose `colour` value is in `red`
    filled red (all their cells) and no other row."""
    headers, rows, cells = _read(book, name)
    assert headers == _split_headers(table.column_names, fdn)
    assert len(rows) == table.num_rows
    expected = table.to_pylist()
    got = [dict(zip(headers, r, strict=True)) for r in rows]
    for want, row, row_cells in zip(expected, got, cells, strict=True):
        for column, value in want.items():
            assert _same(row[column], value), (name, column, row[column], value)
        if fdn is not None:
            node, mo = row[_split_headers([fdn], fdn)[1]], row[_split_headers([fdn], fdn)[2]]
            full = want[fdn]
            assert ",".join(p for p in (node, mo) if p is not None) == full
            if node is not None:
                assert node.rsplit(",", 1)[-1].startswith(("ManagedElement=", "MeContext="))
                assert mo is None or not mo.startswith("ManagedElement=")
        fills = [c.fill.fgColor.rgb for c in row_cells]
        if colour is not None and want[colour] in red:
            assert fills[headers.index(colour)] == RED_FILL, (name, want[colour], fills)
            fills.pop(headers.index(colour))
        assert RED_FILL not in fills, (name, want.get(colour) if colour else None)
    if colour is not None:
        _check_row_colours(book, name, headers.index(colour), len(headers), red)
    return got


def _check_row_colours(book: Any, name: str, at: int, width: int, red: tuple[str, ...]) -> None:
    """Each sheet of `name` colours its rows red, all their cells, where column `at` holds one
    of `red`: a conditional format over every data row."""
    letter = get_column_letter(at + 1)
    for ws in _sheets_of(book, name):
        if ws.max_row < 2:
            continue
        rules = {
            rule.formula[0]: (str(cf.sqref), rule.dxf.fill.bgColor.rgb)
            for cf in ws.conditional_formatting
            for rule in cf.rules
        }
        for value in red:
            assert rules[f'${letter}2="{value}"'] == (f"A2:{get_column_letter(width)}{ws.max_row}", RED_FILL)


def _summary(book: Any) -> dict[tuple[str, str], Any]:
    ws = book["summary"]
    assert book.sheetnames[0] == "summary" and ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == ["section", "item", "value"]
    assert ws.auto_filter.ref == f"A1:C{ws.max_row}"
    return {(r[0], r[1]): r[2] for r in ws.iter_rows(min_row=2, values_only=True)}


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value, 1) for leaf in _leaves(v, f"{path}[{i}]")] if value else []
    return [(path, value)]


def _report_in_summary(summary: dict[tuple[str, str], Any], report: dict[str, Any]) -> None:
    """Every figure of the command's report is on the summary sheet, under its section."""
    for key, value in report.items():
        if isinstance(value, dict | list):
            if isinstance(value, list) and len(value) > 1000:
                continue
            for path, leaf in _leaves(value):
                got = summary[(key, path)]
                assert got == leaf or (leaf in (None, "") and got is None), (key, path, got, leaf)
        else:
            got = summary[("report", key)]
            assert got == value or (value in (None, "") and got is None), (key, got, value)


# ---------------------------------------------------------------------------------------------
# each command, through the CLI


def test_audit_workbook(runs: dict[str, Any]) -> None:
    _ok(runs["audit"], 1)
    out = runs["folder"] / "audit"
    book = _book(out / "audit.xlsx")
    assert book.sheetnames == ["summary", "violations"]
    violations = pq.read_table(out / "violations.parquet")
    assert violations.num_rows > 100 and set(violations["severity"].to_pylist()) == {"error", "warning"}
    rows = _check_table(book, "violations", violations, fdn="subject", colour="severity", red=("error",))
    # the hostile values: the formula is text, the label longer than a cell is cut, saying so
    formula = [r for r in rows if r["value"] == FORMULA]
    assert formula and formula[0]["rule"] == "type"
    cut = [r for r in rows if r["attribute"] == "userLabel" and r["rule"] == "length"]
    assert len(cut) == 1 and "cut: 37,767 characters" in cut[0]["value"]
    assert len(cut[0]["value"]) <= EXCEL_TEXT
    summary = _summary(book)
    report = json.loads((out / "audit.json").read_text())
    assert summary[("run", "command")] == "rtbfast audit"
    assert summary[("inputs", "export")] == str(runs["b"]) and summary[("inputs", "catalog")] == str(runs["model"])
    assert summary[("tables", "violations.parquet")] == violations.num_rows
    assert "1 text(s) longer" in summary[("tables", "violations.parquet: cells cut")]
    _report_in_summary(summary, report)
    # the workbook is one of the folder's files, listed in its mark: a run again replaces it
    mark = json.loads((out / ".rtbfast-output.json").read_text())
    assert mark["files"]["audit.xlsx"] == (out / "audit.xlsx").stat().st_size
    _ok(run("audit", runs["b"], "--catalog", runs["model"], "-o", out), 1)
    assert not (out / "audit.xlsx").exists() and (out / "violations.parquet").is_file()


def test_plan_workbook(runs: dict[str, Any]) -> None:
    _ok(runs["plan"])
    out = runs["folder"] / "plan"
    book = _book(out / "plan.xlsx")
    assert book.sheetnames == ["summary", "plan", "rollback"]
    plan = pq.read_table(out / "plan.parquet")
    rows = _check_table(book, "plan", plan, fdn="fdn", colour="op", red=("delete",))
    assert any(r["value"] == "+north" for r in rows)  # starts like a formula: text
    rollback = pq.read_table(out / "rollback.parquet")
    _check_table(book, "rollback", rollback, fdn="fdn", colour="op", red=("delete",))
    summary = _summary(book)
    report = json.loads((out / "plan.json").read_text())
    assert summary[("run", "command")] == "rtbfast plan"
    assert summary[("inputs", "made_from.network")] == str(runs["a"])
    assert (
        summary[("tables", "plan.parquet")] == plan.num_rows
        and summary[("tables", "rollback.parquet")] == rollback.num_rows
    )
    assert summary[("counts", "steps")] == report["counts"]["steps"] > 0
    _report_in_summary(summary, report)


def test_verify_workbook(runs: dict[str, Any]) -> None:
    _ok(runs["verify"], 1)
    out = runs["folder"] / "verify"
    book = _book(out / "verify.xlsx")
    assert book.sheetnames == ["summary", "verify", "corrections"]
    corrections = pq.read_table(out / "corrections.parquet")
    assert corrections.num_rows > 0
    _check_table(book, "corrections", corrections, fdn="fdn", colour="op", red=("delete",))
    # the correction's plan folder has its workbook too
    again = _book(runs["folder"] / "again" / "plan.xlsx")
    assert again.sheetnames == ["summary", "plan", "rollback"]
    again_plan = pq.read_table(runs["folder"] / "again" / "plan.parquet")
    _check_table(again, "plan", again_plan, fdn="fdn", colour="op", red=("delete",))
    table = pq.read_table(out / "verify.parquet")
    statuses = set(table["status"].to_pylist())
    assert {"held", "drifted", "mo_missing", "unexpected"} <= statuses
    rows = _check_table(
        book, "verify", table, fdn="fdn", colour="status", red=("not_taken", "mo_missing", "unexpected")
    )
    drifted = [r for r in rows if r["status"] == "drifted" and r["attribute"] == "qRxLevMin"]
    assert drifted and drifted[0]["found"] == FORMULA
    summary = _summary(book)
    report = json.loads((out / "verify.json").read_text())
    assert {k: summary[("counts", k)] for k in report["counts"]} == report["counts"]
    _report_in_summary(summary, report)


def test_diff_workbook(runs: dict[str, Any]) -> None:
    _ok(runs["diff"], 1)
    out = runs["folder"] / "diff"
    book = _book(out / "diff.xlsx")
    assert book.sheetnames == ["summary", "mos", "values", "relations", "counts"]
    _check_table(book, "mos", pq.read_table(out / "mos.parquet"), fdn="fdn", colour="change", red=("removed",))
    values = _check_table(book, "values", pq.read_table(out / "values.parquet"), fdn="fdn", colour="change")
    assert {r["value_b"] for r in values if r["fdn"] == CELL} >= {FORMULA}
    _check_table(book, "relations", pq.read_table(out / "relations.parquet"), fdn="parent_fdn")
    _check_table(book, "counts", pq.read_table(out / "counts.parquet"))
    summary = _summary(book)
    report = json.loads((out / "diff.json").read_text())
    assert summary[("report", "mos_removed")] == report["mos_removed"] == 10
    _report_in_summary(summary, report)


def test_diff_model_workbook(runs: dict[str, Any]) -> None:
    _ok(runs["diff-model"], 1)
    out = runs["folder"] / "diff-model"
    book = _book(out / "diff-model.xlsx")
    assert book.sheetnames == ["summary", "changes", "impacts"]
    changes = pq.read_table(out / "changes.parquet")
    assert {"breaking", "meaning", "info"} <= set(changes["severity"].to_pylist())
    _check_table(book, "changes", changes, colour="severity", red=("breaking",))
    _check_table(book, "impacts", pq.read_table(out / "impacts.parquet"), colour="severity", red=("breaking",))
    summary = _summary(book)
    report = json.loads((out / "diff-model.json").read_text())
    assert {k: summary[("by_severity", k)] for k in report["by_severity"]} == report["by_severity"]
    _report_in_summary(summary, report)


def test_templates_check_workbook(runs: dict[str, Any]) -> None:
    _ok(runs["check"], 1)
    book = _book(runs["folder"] / "findings.xlsx")
    assert book.sheetnames == ["summary", "findings"]
    document = json.loads(runs["check-json"].stdout)
    findings = document["findings"]
    headers, rows, _ = _read(book, "findings")
    got = [dict(zip(headers, r, strict=True)) for r in rows]
    assert len(got) == len(findings) >= 2
    for want, row in zip(findings, got, strict=True):
        for key, value in want.items():
            assert _same(row[key], value), (key, row[key], value)
    enum = [r for r in got if r["code"] == "enum"]
    assert enum and enum[0]["value"] == "=1+2"  # read back as the text it is
    error_rows = [i for i, r in enumerate(got, 2) if r["severity"] == "error"]
    at = headers.index("severity")
    assert all(book["findings"].cell(i, at + 1).fill.fgColor.rgb == RED_FILL for i in error_rows)
    _check_row_colours(book, "findings", at, len(headers), ("error",))
    summary = _summary(book)
    assert summary[("run", "command")] == "rtbfast templates check"
    assert summary[("report", "errors")] == document["summary"]["errors"] == len(error_rows)
    assert summary[("inputs", "templates_given[1]")] == str(runs["template"])
    # the workbook is never written over an input
    refused = run("templates", "check", runs["template"], "--catalog", runs["model"], "--xlsx", runs["template"])
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "an input of this run" in refused.stderr
    assert runs["template"].read_text(encoding="utf-8") == TEMPLATE


def test_an_output_folder_made_a_workbook_afterwards(runs: dict[str, Any], tmp_path: Path) -> None:
    """The API: the workbook of an output folder made afterwards, elsewhere, is the one the
    command wrote (but for the time it was written)."""
    out = runs["folder"] / "verify"
    made = folder_xlsx(out, tmp_path / "again.xlsx")
    assert made.sheets == ["summary", "verify", "corrections"]
    ours, theirs = _book(tmp_path / "again.xlsx"), _book(out / "verify.xlsx")
    for name in ours.sheetnames:
        a = [r for r in ours[name].iter_rows(values_only=True) if r[:2] != ("run", "written (UTC)")]
        b = [r for r in theirs[name].iter_rows(values_only=True) if r[:2] != ("run", "written (UTC)")]
        assert a == b, name


# ---------------------------------------------------------------------------------------------
# the writer itself


def _fdns(n: int) -> list[str]:
    return [f"SubNetwork=S,MeContext=N{i % 3},ManagedElement=1,ENodeBFunction=1,EUtranCellFDD=C{i}" for i in range(n)]


def test_a_table_longer_than_a_sheet_continues_on_more(tmp_path: Path) -> None:
    n = 25
    table = pa.table(
        {"fdn": _fdns(n), "severity": ["error" if i % 2 else "info" for i in range(n)], "n": list(range(n))}
    )
    made = write_xlsx(
        tmp_path / "t.xlsx",
        "audit",
        {"violations": n},
        [Sheet("violations", table, "violations.parquet", "fdn", "severity", {"error": RED})],
        row_limit=10,
    )
    assert made.sheets == ["summary", "violations", "violations (2)", "violations (3)"]
    assert made.tables[0].sheets == [("violations", 9), ("violations (2)", 9), ("violations (3)", 7)]
    book = _book(tmp_path / "t.xlsx")
    assert [ws.max_row - 1 for ws in _sheets_of(book, "violations")] == [9, 9, 7]
    _check_table(book, "violations", table, fdn="fdn", colour="severity", red=("error",))
    summary = _summary(book)
    assert summary[("tables", "violations.parquet")] == n
    said = summary[("tables", "violations.parquet: sheets")]
    assert "continue over 3 sheets" in said and "'violations (3)' (7)" in said and "none is left out" in said


def test_the_row_limit_is_excels(tmp_path: Path) -> None:
    """The limit a sheet holds is Excel's, as the writer (rust_xlsxwriter) knows it: a sheet of
    that many rows can be written, one of a row more cannot (the last row written and the next
    refused is the native writer's own test, ``xlsx::tests::the_row_limit_is_excels``)."""
    import inspect

    from rtbfast._native import XlsxWorkbook

    assert EXCEL_ROWS == 1_048_576 and EXCEL_TEXT == 32_767
    assert inspect.signature(write_xlsx).parameters["row_limit"].default == EXCEL_ROWS
    XlsxWorkbook(tmp_path / "ok.xlsx", EXCEL_ROWS).close()
    assert (tmp_path / "ok.xlsx").is_file()
    with pytest.raises(OSError, match="at most 1048576 rows"):
        XlsxWorkbook(tmp_path / "no.xlsx", EXCEL_ROWS + 1)


def _ooxml_text(value: str) -> str:
    """A cell's text as Excel shows it: XML cannot carry control characters, so OOXML writes
    them ``_xHHHH_`` (and a literal ``_x`` as ``_x005F_x``); openpyxl returns the escapes."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def test_hostile_values_stay_text_and_nothing_is_lost(tmp_path: Path) -> None:
    wide = "\U0001f600" * 20_000  # 20,000 characters, 40,000 UTF-16 units: more than a cell holds
    texts = ["=1+2", "+1", "-130", "@SUM(A1)", "\t=1", "ctrl\x01\x1f", "_x0041_", "", "a" * EXCEL_TEXT, wide]
    n = len(texts)
    table = pa.table(
        {
            "text": texts,
            "big": pa.array([2**60 + i for i in range(n)], pa.int64()),
            "real": [float("nan"), float("inf"), 1.5] + [0.25] * (n - 3),
            "flag": [True, False] * (n // 2),
            "items": [["a", "b"]] * n,
        }
    )
    made = write_xlsx(tmp_path / "h.xlsx", "audit", {}, [Sheet("hostile", table, "hostile.parquet")])
    assert made.tables[0].cut == 1
    ws = _book(tmp_path / "h.xlsx")["hostile"]
    got = [[c for c in row] for row in ws.iter_rows(min_row=2)]
    for text, row in zip(texts, got, strict=True):
        cell = row[0]
        if text == "":
            assert cell.value in (None, "")  # an empty cell either way
            continue
        assert cell.data_type == "s", (text, cell.data_type)  # text, never a formula
        if text is wide:
            assert cell.value.startswith("\U0001f600" * 100) and "cut: 20,000 characters" in cell.value
            assert len(cell.value.encode("utf-16-le")) // 2 <= EXCEL_TEXT
        else:
            assert _ooxml_text(cell.value) == text, (text, cell.value)
    assert [r[1].value for r in got] == [str(2**60 + i) for i in range(n)]  # exact: as text
    assert [r[2].value for r in got][:3] == ["nan", "inf", 1.5]
    assert [r[3].value for r in got] == [True, False] * (n // 2)
    assert json.loads(got[0][4].value) == ["a", "b"]


def test_an_empty_table_is_its_header(tmp_path: Path) -> None:
    table = pa.table({"fdn": pa.array([], pa.string()), "severity": pa.array([], pa.string())})
    write_xlsx(tmp_path / "e.xlsx", "audit", {"violations": 0}, [Sheet("violations", table, fdn="fdn")])
    ws = _book(tmp_path / "e.xlsx")["violations"]
    assert [c.value for c in ws[1]] == ["fdn", "node_fdn", "mo", "severity"]
    assert ws.max_row == 1 and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D1"


@pytest.mark.parametrize(
    ("fdn", "node", "mo"),
    [
        (
            "SubNetwork=S,MeContext=N1,ManagedElement=1,ENodeBFunction=1",
            "SubNetwork=S,MeContext=N1,ManagedElement=1",
            "ENodeBFunction=1",
        ),
        ("MeContext=N1,ENodeBFunction=1", "MeContext=N1", "ENodeBFunction=1"),
        ("ManagedElement=N1,GNBDUFunction=1,NRCellDU=C", "ManagedElement=N1", "GNBDUFunction=1,NRCellDU=C"),
        ("SubNetwork=S,MeContext=N1,ManagedElement=1", "SubNetwork=S,MeContext=N1,ManagedElement=1", None),
        ("SubNetwork=S,MeContext=N1", "SubNetwork=S,MeContext=N1", None),
        ("SubNetwork=S,SubNetwork=T", None, "SubNetwork=S,SubNetwork=T"),
        ("SubNetwork=S,XMeContext=N1,A=1", None, "SubNetwork=S,XMeContext=N1,A=1"),
        (None, None, None),
    ],
)
def test_fdns_split_into_node_and_mo(fdn: str | None, node: str | None, mo: str | None) -> None:
    nodes, mos = split_fdns(pa.array([fdn], pa.string()))
    assert (nodes[0].as_py(), mos[0].as_py()) == (node, mo)
