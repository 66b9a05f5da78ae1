"""The Bulk CM reader on project-written exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import rtbfast
from bench.generate import write_export

WriteXml = Callable[[str, str | bytes], Path]

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bulkCmConfigDataFile xmlns="http://www.3gpp.org/ftp/specs/archive/32_series/32.616#configData"
  xmlns:xn="http://www.3gpp.org/ftp/specs/archive/28_series/28.623#genericNrm"
  xmlns:ex="EricssonSpecificAttributes.20.1.xsd">
<fileHeader fileFormatVersion="32.616 V15.0" vendorName="Ericsson"/>
<configData dnPrefix="DC=example">"""
TAIL = '</configData><fileFooter dateTime="2026-11-26T00:00:00Z"/></bulkCmConfigDataFile>'


def container(vs_type: str, rid: str, payload: str, children: str = "", modifier: str = "") -> str:
    mod = f' modifier="{modifier}"' if modifier else ""
    return (
        f'<xn:VsDataContainer id="{rid}"{mod}><xn:attributes><xn:vsDataType>vsData{vs_type}</xn:vsDataType>'
        f"<xn:vsDataFormatVersion>EricssonSpecificAttributes.20.1</xn:vsDataFormatVersion>"
        f"<ex:vsData{vs_type}>{payload}</ex:vsData{vs_type}></xn:attributes>{children}</xn:VsDataContainer>"
    )


def export(body: str) -> str:
    return (
        f'{HEAD}<xn:SubNetwork id="S"><xn:MeContext id="n1"><xn:ManagedElement id="n1">{body}'
        f"</xn:ManagedElement></xn:MeContext></xn:SubNetwork>{TAIL}"
    )


def test_nesting_gives_fdns_and_parents(write_xml: WriteXml) -> None:
    cell = container("EUtranCellFDD", "c1", "<ex:tac>7</ex:tac>", modifier="create")
    body = container("ENodeBFunction", "1", "", cell)
    net = rtbfast.read_network(write_xml("n.xml", export(body)))
    mos = net.tables["mos"].to_pylist()
    assert [m["fdn"] for m in mos][
        -1
    ] == "SubNetwork=S,MeContext=n1,ManagedElement=n1,ENodeBFunction=1,EUtranCellFDD=c1"
    assert mos[-1]["parent_fdn"] == mos[-2]["fdn"]
    assert (mos[-1]["class"], mos[-1]["id"], mos[-1]["modifier"], mos[-1]["depth"]) == (
        "EUtranCellFDD",
        "c1",
        "create",
        4,
    )
    assert mos[-1]["vs_data_type"] == "vsDataEUtranCellFDD"
    assert mos[-1]["format_version"] == "EricssonSpecificAttributes.20.1"
    assert net.header["fileFormatVersion"] == "32.616 V15.0" and net.header["dnPrefix"] == "DC=example"


def test_values_exactly_as_written(write_xml: WriteXml) -> None:
    payload = (
        "<ex:administrativeState>LOCKED</ex:administrativeState><ex:adm2>1</ex:adm2>"
        "<ex:label> two  spaces &amp; more </ex:label><ex:nothing/>"
        "<ex:list>3</ex:list><ex:list>1</ex:list>"
        "<ex:plmn><ex:mcc>240</ex:mcc><ex:mnc>07</ex:mnc></ex:plmn><ex:plmn><ex:mcc>241</ex:mcc><ex:mnc>01</ex:mnc></ex:plmn>"
        "<ex:ref>SubNetwork=S,MeContext=n1,ManagedElement=n1,vsDataENodeBFunction=1</ex:ref>"
    )
    net = rtbfast.read_network(write_xml("v.xml", export(container("EUtranCellFDD", "c1", payload))))
    values = [
        (v["attribute"], v["member"], v["index"], v["member_index"], v["value"])
        for v in net.tables["values"].to_pylist()
    ]
    assert values == [
        ("administrativeState", None, 0, None, "LOCKED"),
        ("adm2", None, 0, None, "1"),
        ("label", None, 0, None, " two  spaces & more "),
        ("nothing", None, 0, None, ""),
        ("list", None, 0, None, "3"),
        ("list", None, 1, None, "1"),
        ("plmn", "mcc", 0, 0, "240"),
        ("plmn", "mnc", 0, 0, "07"),
        ("plmn", "mcc", 1, 0, "241"),
        ("plmn", "mnc", 1, 0, "01"),
        ("ref", None, 0, None, "SubNetwork=S,MeContext=n1,ManagedElement=n1,vsDataENodeBFunction=1"),
    ]
    assert all(v["vs_data"] for v in net.tables["values"].to_pylist())


def test_inferred_model(write_xml: WriteXml) -> None:
    payload = (
        "<ex:n>1</ex:n><ex:b>true</ex:b><ex:s>x</ex:s><ex:f>0.5</ex:f>"
        "<ex:seq>1</ex:seq><ex:seq>2</ex:seq><ex:st><ex:m>1</ex:m></ex:st>"
    )
    cells = container("Cell", "a", payload) + container("Cell", "b", "<ex:n>2</ex:n><ex:s>-3</ex:s>")
    model = rtbfast.read_network(write_xml("i.xml", export(cells))).model
    assert model.source == "export"
    classes = model.tables["classes"].to_pylist()
    assert [(c["class"], c["mo_count"], c["vs_data_type"]) for c in classes] == [("Cell", 2, "vsDataCell")]
    attrs = {a["attribute"]: a for a in model.tables["attributes"].to_pylist()}
    assert {k: (a["kind"], a["is_sequence"]) for k, a in attrs.items()} == {
        "n": ("integer", False),
        "b": ("boolean", False),
        "s": ("string", False),
        "f": ("float", False),
        "seq": ("integer", True),
        "st": ("struct", False),
    }
    members = model.tables["struct_members"].to_pylist()
    assert [(m["struct"], m["member"], m["kind"]) for m in members] == [("Cell_st", "m", "integer")]


def test_vendor_extension_of_a_standard_class(write_xml: WriteXml) -> None:
    body = (
        '<xn:UtranCell id="u1"><xn:attributes><xn:userLabel>std</xn:userLabel></xn:attributes>'
        + container("UtranCell", "u1", "<ex:tCell>2</ex:tCell>")
        + container("Fach", "1", "<ex:x>1</ex:x>")
        + "</xn:UtranCell>"
    )
    net = rtbfast.read_network(write_xml("x.xml", export(body)))
    mos = {m["fdn"]: m for m in net.tables["mos"].to_pylist()}
    cell = "SubNetwork=S,MeContext=n1,ManagedElement=n1,UtranCell=u1"
    assert mos[cell]["vs_data_type"] == "vsDataUtranCell"
    assert f"{cell},Fach=1" in mos and f"{cell},UtranCell=u1" not in mos
    values = {(v["fdn"], v["attribute"]): v["vs_data"] for v in net.tables["values"].to_pylist()}
    assert values[(cell, "userLabel")] is False and values[(cell, "tCell")] is True
    assert net.warnings == []


def test_container_without_type_is_reported(write_xml: WriteXml) -> None:
    body = '<xn:VsDataContainer id="9"><xn:attributes/></xn:VsDataContainer>'
    net = rtbfast.read_network(write_xml("t.xml", export(body)))
    assert net.tables["mos"].to_pylist()[-1]["class"] == "VsDataContainer"
    (w,) = net.warnings
    assert "without vsDataType" in w.message and w.line == 6


@pytest.mark.parametrize("cut", [100, 400, 700])
def test_truncated_export_is_a_located_error(write_xml: WriteXml, cut: int) -> None:
    text = export(container("Cell", "a", "<ex:n>1</ex:n>"))
    path = write_xml("cut.xml", text[:cut])
    with pytest.raises(rtbfast.XmlSyntaxError) as info:
        rtbfast.read_network(path)
    assert info.value.line >= 1 and info.value.file == str(path)


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings: parts read in parallel carry their own dictionaries."""
    fields = [pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type) for f in table.schema]
    return table.cast(pa.schema(fields))


def test_export_read_in_parts_equals_sequential_read(tmp_path: Path) -> None:
    """The generated export (bench/generate.py) is cut before MeContext elements and read on
    three threads: the same rows in the same order, header and warnings as one read."""
    path = write_export(tmp_path / "export.xml", megabytes=3.5, seed=7)
    one = rtbfast.read_network(path, threads=1)
    parts = rtbfast.read_network(path, threads=3)
    assert parts.tables["values"].column("value").num_chunks == 3
    for name, table in one.tables.items():
        assert _plain(parts.tables[name]).equals(_plain(table)), name
    assert parts.header == one.header and parts.warnings == one.warnings
    assert parts.model.counts() == one.model.counts()
    with pytest.raises(ValueError, match="threads"):
        rtbfast.read_network(path, threads=-1)
