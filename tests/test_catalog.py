"""The merged catalog: precedence MOM > workbook > export, every row keeping its source, and
every disagreement between sources listed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import rtbfast
from rtbfast.catalog import merge
from tests.conftest import EXAMPLE_MODEL, ROOT, samples_dir

WriteXml = Callable[[str, str | bytes], Path]
WORKBOOK = ROOT / "examples" / "workbook"


def example_sources() -> list[tuple[str, str, dict[str, pa.Table]]]:
    model = rtbfast.read_model(EXAMPLE_MODEL)
    sheets = rtbfast.read_workbook(
        WORKBOOK / "Spreadsheets_Parameters.csv", WORKBOOK / "Spreadsheets_StructParameters.csv"
    )
    return [("mom", "mom:example", model.tables), ("workbook", "workbook:example", sheets.tables)]


def test_model_first_workbook_adds_and_disagreements_are_listed() -> None:
    catalog = merge(example_sources())
    rows = {(r["class"], r["attribute"]): r for r in catalog.tables["attributes"].to_pylist()}
    # every model row is kept, from the model
    model = rtbfast.read_model(EXAMPLE_MODEL).tables["attributes"].to_pylist()
    assert all(rows[(r["class"], r["attribute"])]["source"] == "mom" for r in model)
    # the workbook adds what the model lacks; its naming attribute is the model's
    added = {k for k, r in rows.items() if r["source"] == "workbook"}
    assert {k for k in added if k[0] == "EUtranCellFDD"} == {
        ("EUtranCellFDD", "dlChannelBandwidth"),
        ("EUtranCellFDD", "tac"),
        ("EUtranCellFDD", "userLabel"),
        ("EUtranCellFDD", "zzzTemporary1"),
        ("EUtranCellFDD", "noOfPucchCqiUsers"),
        ("EUtranCellFDD", "noOfPucchSrUsers"),
        ("EUtranCellFDD", "pdcchCfiMode"),
    }
    # the classes only the workbook knows (the example templates' classes) come whole from it
    model_classes = {r["class"] for r in model}
    only_workbook = {c for c, _ in added} - model_classes
    assert only_workbook == {
        "CellSleepFunction",
        "MimoSleepFunction",
        "UeMeasControl",
        "ReportConfigEUtraBestCell",
        "ReportConfigA5",
    }
    assert ("EUtranCellFDD", "eUtranCellFDDId") not in rows
    assert rows[("EUtranCellFDD", "qRxLevMin")]["default"] == "-140"
    found = {(d.key, d.field, d.kept, d.other) for d in catalog.disagreements}
    assert (("EUtranCellFDD", "qRxLevMin"), "default", "-140", "-130") in found
    assert all(d.kept_source == "mom:example" and d.other_source == "workbook:example" for d in catalog.disagreements)
    members = {(r["enum"], r["member"]): r["source"] for r in catalog.tables["enum_members"].to_pylist()}
    assert members[("AdminState", "LOCKED")] == "mom" and members[("AdminState", "SHUTTINGDOWN")] == "workbook"
    # the order sources are given in does not matter, only their kind
    again = merge(list(reversed(example_sources())))
    for name, table in catalog.tables.items():
        assert again.tables[name].equals(table), name


def test_rows_of_one_source_are_all_kept() -> None:
    classes = pa.table({"mim": ["A", "B"], "class": ["Cell", "Cell"], "source": ["mom", "mom"]})
    later = pa.table({"mim": ["W"], "class": ["Cell"], "source": ["workbook"]})
    catalog = merge([("mom", "mom:x", {"classes": classes}), ("workbook", "workbook:y", {"classes": later})])
    assert catalog.tables["classes"].column("mim").to_pylist() == ["A", "B"]
    assert catalog.by_source == {"mom:x": {"classes": 2}, "workbook:y": {"classes": 1}}


def test_an_export_disagrees_only_where_its_values_cannot_fit(write_xml: WriteXml) -> None:
    export = write_xml(
        "export.xml",
        """<?xml version="1.0" encoding="UTF-8"?>
<bulkCmConfigDataFile xmlns="configData.xsd" xmlns:xn="genericNrm.xsd" xmlns:es="EricssonSpecificAttributes.xsd">
<configData dnPrefix="Undefined"><xn:SubNetwork id="R"><xn:MeContext id="N"><xn:ManagedElement id="N">
<xn:VsDataContainer id="C"><xn:attributes><xn:vsDataType>vsDataEUtranCellFDD</xn:vsDataType>
<es:vsDataEUtranCellFDD><es:qRxLevMin>low</es:qRxLevMin><es:earfcndl>1</es:earfcndl><es:earfcndl>2</es:earfcndl>
<es:administrativeState>LOCKED</es:administrativeState><es:onlyHere>7</es:onlyHere></es:vsDataEUtranCellFDD>
</xn:attributes></xn:VsDataContainer></xn:ManagedElement></xn:MeContext></xn:SubNetwork></configData>
</bulkCmConfigDataFile>""",
    )
    network = rtbfast.read_network(export)
    sources = [*example_sources(), ("export", "export:x", network.model.tables)]
    catalog = merge(sources)
    found = {(d.key, d.field) for d in catalog.disagreements if d.other_source == "export:x"}
    assert found == {(("EUtranCellFDD", "qRxLevMin"), "type"), (("EUtranCellFDD", "earfcndl"), "is_sequence")}
    rows = {(r["class"], r["attribute"]): r for r in catalog.tables["attributes"].to_pylist()}
    assert rows[("EUtranCellFDD", "onlyHere")]["source"] == "export"
    assert rows[("EUtranCellFDD", "onlyHere")]["value_count"] == 1


@pytest.mark.samples
def test_real_model_and_workbook() -> None:
    model = rtbfast.read_model(samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml")
    folder = samples_dir("csv")
    sheets = rtbfast.read_workbook(
        folder / "Spreadsheets_Parameters.ran-subset.csv", folder / "Spreadsheets_StructParameters.ran-subset.csv"
    )
    catalog = merge([("mom", "mom:erbs", model.tables), ("workbook", "workbook:ran", sheets.tables)])

    def key(cls: str, attr: str) -> tuple[str, str]:
        return (cls, f"{cls}Id") if attr.lower() == f"{cls}id".lower() else (cls, attr)

    in_model = {key(r["class"], r["attribute"]) for r in model.tables["attributes"].to_pylist()}
    sheet_keys = [key(r["class"], r["attribute"]) for r in sheets.tables["attributes"].to_pylist()]
    in_sheet = set(sheet_keys)
    sources = catalog.tables["attributes"].column("source").to_pylist()
    assert sources.count("mom") == model.tables["attributes"].num_rows
    # every workbook record the model lacks, even one class listed under two Models
    assert sources.count("workbook") == sum(k not in in_model for k in sheet_keys)
    compared = {d.key for d in catalog.disagreements if d.table == "attributes"}
    assert compared <= in_model & in_sheet and compared
