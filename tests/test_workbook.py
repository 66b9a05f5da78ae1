"""The parameter workbook reader: every convention of rtb-and-workbook.md §3 on project-written
sheets, bad files, and the real sheets counted independently with the csv module."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import rtbfast
from rtbfast.workbook import PARAMETER_COLUMNS, STRUCT_COLUMNS, read_workbook
from tests.conftest import samples_dir

# the real sheet's 26 columns in their order, with the two the reader does not need
ALL_PARAMETER_COLUMNS = [
    *PARAMETER_COLUMNS[:14],
    "This column is empty",
    *PARAMETER_COLUMNS[14:23],
    "Persisted in ENM",
    "Preliminary",
]


def write_sheet(path: Path, columns: list[str], records: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, columns, lineterminator="\n")
        w.writeheader()
        for r in records:
            w.writerow({c: r.get(c, "") for c in columns})
    return path


def param(cls: str, name: str, dtype: str, rv: str = "", **extra: str) -> dict[str, str]:
    rec = {"Model": "ENodeBFunction", "MO Class Name": cls, "Parameter Name": name, "Sequence Length": "1"}
    rec |= {"Data Type": dtype, "Range and Values": rv, "Default Value": '"None"', "ReadOnly": "False"}
    rec |= {"Restricted": "False", "Mandatory": "False", "SystemCreated": "False", "noNotification": "False"}
    return rec | extra


RECORDS = [
    param("EUtranCellFDD", "eUtranCellFDDId", "string", "", Mandatory="True", Restricted="True"),
    param(
        "EUtranCellFDD",
        "dlChannelBandwidth",
        "int32",
        "1400, 3000, 5000, 10000, 15000, 20000",
        **{"Default Value": "10000", "Unit": "kHz", "Parameter Description": "Downlink.\n\nSecond paragraph."},
    ),
    param("EUtranCellFDD", "qRxLevMin", "int32", "-140..-44", Resolution="2.0", MultiplicationFactor="0.5"),
    param("EUtranCellFDD", "cellRange", "uint32", "-1, 1..10000\n20000"),
    param("EUtranCellFDD", "userLabel", "string", "Length: 0..128"),
    param("EUtranCellFDD", "clock", "string", "Length: 5"),
    param(
        "EUtranCellFDD",
        "administrativeState",
        "enum AdmState",
        "LOCKED\nUNLOCKED\nSHUTTINGDOWN",
        **{"Default Value": "LOCKED", "Change Take Effect": "Immediately"},
    ),
    param("EUtranCellFDD", "qciList", "struct QciEntry", "", **{"Sequence Length": "0..8"}),
    param("EUtranCellFDD", "neighbours", "moRef ExternalEUtranCellFDD", "", **{"Sequence Length": "1.."}),
    param("EUtranCellFDD", "levels", "int32", "0..7", **{"Sequence Length": "4"}),
    param("EUtranCellFDD", "oldThing", "boolean", "", Deprecated="Since 24.Q3. Planned to be removed."),
    param("EUtranCellFDD", "broken", "int32", "low..high"),
    param("EUtranCellFDD", "badFlag", "int32", "", ReadOnly="Maybe"),
    param(
        "EUtranCellFDD",
        "ldnHolder",
        "int32",
        "",
        LDN="ManagedElement/ENodeBFunction\nManagedElement/Equipment",
    ),
    param("ENodeBFunction", "eNodeBFunctionId", "string", SystemCreated="True", LDN="ManagedElement"),
    param("ENodeBFunction", "state", "enum AdmState", "LOCKED\nUNLOCKED"),
]


def test_every_convention_of_the_parameters_sheet(tmp_path: Path) -> None:
    path = write_sheet(tmp_path / "p.csv", ALL_PARAMETER_COLUMNS, RECORDS)
    wb = read_workbook(path)
    assert wb.records == {"parameters": len(RECORDS)}
    rows: dict[str, dict[str, Any]] = {r["attribute"]: r for r in wb.tables["attributes"].to_pylist()}
    assert [r["attribute"] for r in wb.tables["attributes"].to_pylist()] == [r["Parameter Name"] for r in RECORDS]
    bw = rows["dlChannelBandwidth"]
    assert [(b["min"], b["max"]) for b in bw["ranges"]] == [
        (Decimal(v), Decimal(v)) for v in (1400, 3000, 5000, 10000, 15000, 20000)
    ]
    assert bw["default"] == "10000" and bw["unit"] == "kHz" and bw["description"] == "Downlink.\n\nSecond paragraph."
    q = rows["qRxLevMin"]
    assert [(b["min"], b["max"]) for b in q["ranges"]] == [(Decimal(-140), Decimal(-44))]
    assert q["resolution"] == Decimal(2) and q["multiplication_factor"] == "0.5" and q["default"] is None
    assert [(b["min"], b["max"]) for b in rows["cellRange"]["ranges"]] == [
        (Decimal(-1), Decimal(-1)),
        (Decimal(1), Decimal(10000)),
        (Decimal(20000), Decimal(20000)),
    ]
    assert (rows["userLabel"]["length_min"], rows["userLabel"]["length_max"]) == (0, 128)
    assert (rows["clock"]["length_min"], rows["clock"]["length_max"]) == (5, 5)
    adm = rows["administrativeState"]
    assert (adm["kind"], adm["base_type"], adm["type_ref"], adm["default"]) == ("enum", "enumRef", "AdmState", "LOCKED")
    assert adm["takes_effect"] == "Immediately"
    assert (
        rows["qciList"]["kind"],
        rows["qciList"]["is_sequence"],
        rows["qciList"]["seq_min"],
        rows["qciList"]["seq_max"],
    ) == ("struct", True, 0, 8)
    assert (rows["neighbours"]["kind"], rows["neighbours"]["type_ref"], rows["neighbours"]["seq_max"]) == (
        "moref",
        "ExternalEUtranCellFDD",
        None,
    )
    assert (rows["levels"]["seq_min"], rows["levels"]["seq_max"]) == (4, 4)
    assert rows["eUtranCellFDDId"]["mandatory"] and rows["eUtranCellFDDId"]["restricted"]
    assert rows["oldThing"]["lifecycle"] == "deprecated" and "24.Q3" in rows["oldThing"]["lifecycle_text"]
    assert set(wb.tables["attributes"].column("source").to_pylist()) == {"workbook"}

    # the enum's literals, once, from the first row that lists them; the differing list is reported
    members = wb.tables["enum_members"].to_pylist()
    assert [m["member"] for m in members] == ["LOCKED", "UNLOCKED", "SHUTTINGDOWN"]
    # cells that break the conventions: listed with line and text, the value left empty
    bad = {(u.name, u.column): u for u in wb.unparsed}
    assert set(bad) == {("broken", "Range and Values"), ("badFlag", "ReadOnly"), ("state", "Range and Values")}
    assert bad[("broken", "Range and Values")].text == "low..high"
    # lines count the multi-line records before: header 1, then 1 + one extra line each for the
    # description (2 newlines), cellRange (1) and administrativeState (2)
    assert bad[("broken", "Range and Values")].line == 2 + RECORDS.index(RECORDS[11]) + 5
    assert rows["broken"]["ranges"] is None
    assert rows["badFlag"]["read_only"] is False

    classes = {r["class"]: r for r in wb.tables["classes"].to_pylist()}
    assert classes["ENodeBFunction"]["system_created"] and not classes["EUtranCellFDD"]["system_created"]
    assert classes["EUtranCellFDD"]["attribute_count"] == 14
    pairs = {(r["parent"], r["child"]) for r in wb.tables["containment"].to_pylist()}
    assert pairs == {
        ("ManagedElement", "ENodeBFunction"),
        ("ENodeBFunction", "EUtranCellFDD"),
        ("ManagedElement", "Equipment"),
        ("Equipment", "EUtranCellFDD"),
    }


def test_struct_members_are_keyed_by_class_and_struct(tmp_path: Path) -> None:
    params = write_sheet(tmp_path / "p.csv", ALL_PARAMETER_COLUMNS, RECORDS[:1])
    member = {"Model": "ENodeBFunction", "MO Class Name": "EUtranCellFDD", "Struct Name": "SIB3"}
    member |= {"Parameter Name": "qHyst", "Sequence Length": "1", "Data Type": "int32"}
    member |= {"Range and Values": "0, 1, 2, 3, 4, 5, 6, 8, 10..24", "Default Value": "4", "Unit": "dB"}
    other = member | {"MO Class Name": "EUtranCellTDD"}
    structs = write_sheet(tmp_path / "s.csv", list(STRUCT_COLUMNS), [member, other])
    wb = read_workbook(params, structs)
    rows = wb.tables["struct_members"].to_pylist()
    assert [(r["class"], r["struct"], r["member"]) for r in rows] == [
        ("EUtranCellFDD", "SIB3", "qHyst"),
        ("EUtranCellTDD", "SIB3", "qHyst"),
    ]
    assert rows[0]["ranges"][-1] == {"min": Decimal(10), "max": Decimal(24)} and rows[0]["default"] == "4"
    assert wb.tables["structs"].num_rows == 2 and not wb.unparsed


def test_bad_sheets_are_located_errors(tmp_path: Path) -> None:
    wrong = write_sheet(tmp_path / "wrong.csv", ["Name", "MO Class", "Min Value"], [{"Name": "x"}])
    with pytest.raises(rtbfast.InputError) as info:
        read_workbook(wrong)
    assert info.value.file == str(wrong) and info.value.line == 1 and "'Model'" in str(info.value)
    short = tmp_path / "short.csv"
    write_sheet(short, ALL_PARAMETER_COLUMNS, RECORDS[:2])
    short.write_text(short.read_text() + "ENodeBFunction,X,y\n")
    with pytest.raises(rtbfast.InputError) as info:
        read_workbook(short)
    assert info.value.line == 6 and "fields" in str(info.value)
    with pytest.raises(rtbfast.InputError):
        read_workbook(tmp_path / "absent.csv")


@pytest.mark.samples
@pytest.mark.parametrize(
    "name",
    ["Spreadsheets_Parameters.head.csv", "Spreadsheets_Parameters.ran-subset.csv"],
)
def test_real_parameter_sheets(name: str) -> None:
    path = samples_dir("csv") / name
    with path.open(newline="", encoding="utf-8") as f:
        expected = list(csv.DictReader(f))
    wb = read_workbook(path)
    assert wb.records["parameters"] == len(expected)
    rows = wb.tables["attributes"].to_pylist()
    unparsed = {(u.line, u.name, u.column) for u in wb.unparsed}
    lines = _record_lines(path)
    for line, rec, row in zip(lines, expected, rows, strict=True):
        assert (row["class"], row["attribute"]) == (rec["MO Class Name"], rec["Parameter Name"])
        text = rec["Range and Values"].strip()
        parsed = row["ranges"] or row["length_min"] is not None or rec["Data Type"].startswith("enum")
        if text:
            assert parsed or (line, rec["Parameter Name"], "Range and Values") in unparsed, (line, text)


@pytest.mark.samples
def test_real_struct_sheet() -> None:
    folder = samples_dir("csv")
    with (folder / "Spreadsheets_StructParameters.ran-subset.csv").open(newline="", encoding="utf-8") as f:
        expected = list(csv.DictReader(f))
    wb = read_workbook(
        folder / "Spreadsheets_Parameters.ran-subset.csv", folder / "Spreadsheets_StructParameters.ran-subset.csv"
    )
    assert wb.records["struct_members"] == len(expected) == 393
    structs = {(r["Model"], r["MO Class Name"], r["Struct Name"]) for r in expected}
    assert wb.tables["structs"].num_rows == len(structs)


def _record_lines(path: Path) -> list[int]:
    """The line each record starts on, from the csv module's own line counter."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        lines, line = [], reader.line_num + 1
        for _ in reader:
            lines.append(line)
            line = reader.line_num + 1
    return lines


def test_the_columns_the_reader_does_not_need(tmp_path: Path) -> None:
    records = [
        param("EUtranCellFDD", "a", "int32", "0..1", **{"Persisted in ENM": "True"}),
        param("EUtranCellFDD", "b", "int32", "0..1", **{"This column is empty": "surprise"}),
    ]
    wb = read_workbook(write_sheet(tmp_path / "p.csv", ALL_PARAMETER_COLUMNS, records))
    assert wb.tables["attributes"].column("persisted_in_enm").to_pylist() == [True, False]
    assert [(u.name, u.column, u.text) for u in wb.unparsed] == [("b", "This column is empty", "surprise")]
