"""The offline simulator both ways: a plan applied reaches the state the ChangeSet asks for,
and its rollback applied after it gives back the network it started from, table for table; on
the rich generated network and on a real export (bodastage's), with the real LTE model. And it
answers bad commands as ENM does, with the check that failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import rtbfast
from rtbfast.catalog_view import CatalogView
from rtbfast.enm.executor import judge
from rtbfast.enm.plan import make_plan
from rtbfast.enm.rollback import rollback_plan
from rtbfast.enm.simulator import Simulator, canonical
from rtbfast.errors import OutputError
from rtbfast.network_diff import value_changes as diff
from rtbfast.network_index import NetworkIndex, read_network_tables
from rtbfast.network_writer import write_network_xml
from tests.conftest import EXAMPLES, filled, samples_dir
from tests.enm_fixtures import CELL, CELL1, ENB, Changes

CELL2 = CELL.replace("_0", "_2")


def same(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> bool:
    x, y = canonical(a), canonical(b)
    return bool(x["mos"].equals(y["mos"]) and x["values"].equals(y["values"]))


def wanted_values(changes: Changes) -> set[tuple[str, str, str | None, int, str]]:
    return {
        (r["fdn"], r["attribute"], r["member"], r["index"], r["value"])
        for r in changes.rows
        if r["attribute"] is not None and r["value"] is not None and r["op"] != "delete"
    }


def values_of(tables: dict[str, pa.Table]) -> set[tuple[str, str, str | None, int, str]]:
    return {
        (r["fdn"], r["attribute"], r["member"], r["index"], r["value"]) for r in canonical(tables)["values"].to_pylist()
    }


def test_a_plan_and_its_rollback_on_the_generated_network(
    full_tables: dict[str, pa.Table], full_network: NetworkIndex, real_catalog: CatalogView, tmp_path: Path
) -> None:
    tables, network = full_tables, full_network  # a full export: every attribute changed has its value
    relation = f"{CELL},EUtranFreqRelation=99"
    changes = (
        Changes()
        .add("set", CELL, "qRxLevMin", "-122")
        .add("set", CELL, "cellRange", "60")
        .add("create", relation)
        .add("create", relation, "eutranFrequencyRef", f"{ENB},EUtraNetwork=1,EUtranFrequency=1300")
        .add("create", relation, "cellReselectionPriority", "3")
        .add("delete", CELL1)  # a LOCKED cell with relations and report configs below it
        .add("delete", CELL2)  # an UNLOCKED one: locked first
    )
    plan = make_plan(changes.table(), network, real_catalog)
    simulator = Simulator(tables, real_catalog)
    applied = simulator.apply_plan(plan.steps)
    assert applied.ok, [(s, r.text) for s, r in applied.responses if not r.ok]
    assert all(r.ok for _, r in applied.responses)
    after = simulator.tables()
    # the state the ChangeSet asks for
    assert wanted_values(changes) <= values_of(after)
    fdns = set(after["mos"]["fdn"].to_pylist())
    assert relation in fdns and CELL1 not in fdns and CELL2 not in fdns
    assert not any(f.startswith((CELL1 + ",", CELL2 + ",")) for f in fdns)
    ops = [
        r["op"] for r in plan.steps.to_pylist() if r["fdn"] == CELL2 and r["attribute"] in (None, "administrativeState")
    ]
    assert ops[0] == "lock" and ops[-1] == "delete"
    changed = diff(tables, after)
    assert {"created", "deleted", "changed"} <= set(changed["change"].to_pylist())
    # written as an export, it reads back to the same tables
    saved = write_network_xml(after, tmp_path / "after.xml")
    assert same(rtbfast.read_network(saved).tables, after)
    # and the rollback gives back the network it started from
    back = simulator.apply_plan(rollback_plan(plan.steps, network, real_catalog))
    assert back.ok, [(s, r.text) for s, r in back.responses if not r.ok]
    assert same(tables, simulator.tables())
    assert diff(tables, simulator.tables()).num_rows == 0


def test_a_plan_and_its_rollback_on_a_real_export(real_catalog: CatalogView) -> None:
    path = samples_dir("bulkcm") / "bodastage_bulkcm.xml"
    tables = read_network_tables(path)
    network = NetworkIndex(tables)
    cell = "SubNetwork=BS_NRM_ROOT,SubNetwork=101,MeContext=4698,ManagedElement=4698,EUtranCellFDD=Q0001"
    assert cell in network.row_of
    changes = Changes().add("set", cell, "userLabel", "Q0001 north").add("set", cell, "tac", "12")
    plan = make_plan(changes.table(), network, real_catalog)
    simulator = Simulator(tables, real_catalog)
    assert simulator.apply_plan(plan.steps).ok
    assert wanted_values(changes) <= values_of(simulator.tables())
    assert simulator.apply_plan(rollback_plan(plan.steps, network, real_catalog)).ok
    assert same(tables, simulator.tables())


@pytest.fixture
def example() -> tuple[dict[str, pa.Table], str]:
    tables = read_network_tables(EXAMPLES / "enodeb_mini_export.xml")
    return tables, "SubNetwork=EXAMPLE,MeContext=LTE01,ManagedElement=LTE01,ENodeBFunction=1"


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("cmedit set {enb},EUtranCellFDD=NOPE qRxLevMin=-120", "Error 10004 : The MO specified does not exist"),
        ("cmedit delete {enb},EUtranCellFDD=NOPE", "0 instance(s) found"),
        ("cmedit set {enb},EUtranCellFDD=LTE01-1 qRxLevMn=-120", "Error 1010 : An unknown attribute"),
        (
            "cmedit set {enb},EUtranCellFDD=LTE01-1 qRxLevMin=-20",
            "Error 1009 : An incorrect value (-20) has been encountered for qRxLevMin possible value(s)",
        ),
        ("cmedit set {enb},EUtranCellFDD=LTE01-1 earfcndl=500", "can only be changed when"),
        ("cmedit set {enb} eNBId=5", "restricted"),
        ("cmedit create {enb},EUtranCellFDD=LTE01-1 earfcndl=500", "already exists"),
        ("cmedit create {enb},EUtranCellFDD=LTE01-9 EUtranCellFDDId=LTE01-9", "mandatory attribute(s) earfcndl"),
        ("cmedit create {enb},EUtranCellFDD=LTE01-1,SectorCarrier=3 SectorCarrierId=3", "Error 1012 : Invalid MO type"),
        ("cmedit delete {enb}", "child MO(s)"),
        ("cmedit delete {enb},EUtranCellFDD=LTE01-1", "must be LOCKED before it is deleted"),
        ("cmedit sett {enb} x=1", "Error 4020 : Command syntax error"),
    ],
)
def test_bad_commands_are_answered_as_enm_answers(
    example: tuple[dict[str, pa.Table], str], catalog: CatalogView, command: str, answer: str
) -> None:
    tables, enb = example
    simulator = Simulator(tables, catalog)
    response = simulator.execute(command.format(enb=enb))
    assert not response.ok and answer in response.text, response.text
    assert response.lines[0].startswith("Error ") or response.lines == ["0 instance(s) found"]
    assert not judge(command.split()[1], response.lines)[0]  # ENM's text says it failed
    assert same(tables, simulator.tables())  # nothing changed


def test_good_commands_are_answered_as_enm_answers(
    example: tuple[dict[str, pa.Table], str], catalog: CatalogView
) -> None:
    tables, enb = example
    simulator = Simulator(tables, catalog)
    cell = f"{enb},EUtranCellFDD=LTE01-1"
    assert simulator.execute(f"cmedit set {cell} qRxLevMin=-120").lines == [f"FDN : {cell}", "1 instance(s) updated"]
    assert simulator.execute(f"cmedit set {cell} administrativeState=LOCKED").ok
    assert simulator.execute("cmedit set LTE01 ENodeBFunction=1,EUtranCellFDD=LTE01-1 earfcndl=500").ok  # node form
    got = simulator.execute(f"cmedit get {cell}")
    assert got.ok and "earfcndl : 500" in got.lines and "qRxLevMin : -120" in got.lines
    assert got.lines[-1] == "1 instance(s)"
    created = simulator.execute(f"cmedit create {enb},SectorCarrier=2 SectorCarrierId=2,noOfTxAntennas=2")
    assert created.ok, created.text
    deleted = simulator.execute(f"cmedit delete {enb},SectorCarrier=2")
    assert deleted.ok and "1 instance(s) deleted" in deleted.text
    assert simulator.execute(f"cmedit get {enb},SectorCarrier=2").lines == ["0 instance(s)"]


def test_the_network_writer_round_trips_real_exports_and_import_files(tmp_path: Path) -> None:
    # bodastage's export mixes standard 3GPP NRM MOs (un:ExternalUtranCell) into it: refused, not cut
    with pytest.raises(OutputError, match=r"ExternalUtranCell=xxxxxx: holds standard 3GPP NRM attributes"):
        write_network_xml(
            rtbfast.read_network(samples_dir("bulkcm") / "bodastage_bulkcm.xml").tables, tmp_path / "b.xml"
        )
    assert not (tmp_path / "b.xml").exists() and not list(tmp_path.glob(".b.xml*"))
    files = [
        *sorted((samples_dir("enm") / "3gpp").glob("*.xml")),
        EXAMPLES / "enodeb_mini_export.xml",
    ]
    for path in files:
        tables = rtbfast.read_network(filled(path, tmp_path)).tables
        out = write_network_xml(tables, tmp_path / f"{path.stem}.xml")
        again = rtbfast.read_network(out).tables
        assert same(tables, again), path
        if "modifier" in tables["mos"].column_names:
            assert tables["mos"]["modifier"].to_pylist() == again["mos"]["modifier"].to_pylist(), path


def test_the_ericsson_attributes_of_a_me_context_are_written_inside_it(
    write_xml: Callable[[str, str | bytes], Path], tmp_path: Path
) -> None:
    """As OSS-RC exports them (the shape of samples/bulkcm/yuriyarhipov_…): a VsDataContainer
    of the MeContext's id inside it, beside its standard attributes."""
    export = write_xml(
        "me.xml",
        """<?xml version="1.0" encoding="UTF-8"?>
<bulkCmConfigDataFile xmlns="configData.xsd" xmlns:xn="genericNrm.xsd" xmlns:es="EricssonSpecificAttributes.12.26.xsd">
<fileHeader fileFormatVersion="32.615 V4.5" vendorName="Ericsson"/>
<configData dnPrefix="Undefined">
<xn:SubNetwork id="AXE"><xn:attributes><xn:userLabel>A &amp; B</xn:userLabel></xn:attributes>
<xn:MeContext id="DAMGW1">
<xn:VsDataContainer id="DAMGW1"><xn:attributes><xn:vsDataType>vsDataMeContext</xn:vsDataType>
<xn:vsDataFormatVersion>EricssonSpecificAttributes.12.26</xn:vsDataFormatVersion>
<es:vsDataMeContext><es:userLabel>DAMGW1</es:userLabel><es:neType>7</es:neType></es:vsDataMeContext>
</xn:attributes></xn:VsDataContainer>
<xn:ManagedElement id="1">
<xn:VsDataContainer id="1"><xn:attributes><xn:vsDataType>vsDataENodeBFunction</xn:vsDataType>
<xn:vsDataFormatVersion>EricssonSpecificAttributes.12.26</xn:vsDataFormatVersion>
<es:vsDataENodeBFunction><es:eNodeBPlmnId><es:mcc>240</es:mcc><es:mnc>7</es:mnc></es:eNodeBPlmnId>
<es:x>1</es:x><es:x>2</es:x></es:vsDataENodeBFunction></xn:attributes></xn:VsDataContainer>
</xn:ManagedElement></xn:MeContext></xn:SubNetwork>
</configData>
<fileFooter dateTime="2026-01-01T00:00:00Z"/>
</bulkCmConfigDataFile>
""",
    )
    tables = rtbfast.read_network(export).tables
    out = write_network_xml(tables, tmp_path / "again.xml")
    assert same(tables, rtbfast.read_network(out).tables)
    text = out.read_text(encoding="utf-8")
    assert (
        '<xn:MeContext id="DAMGW1">\n<xn:VsDataContainer id="DAMGW1"><xn:attributes><xn:vsDataType>vsDataMeContext'
        in text
    )
    assert "A &amp; B" in text


def test_a_cell_recreated_by_a_rollback_is_created_locked_and_unlocked_last(
    network: NetworkIndex, real_catalog: CatalogView
) -> None:
    """It never carries traffic half rebuilt: LOCKED until its children and the references to
    it exist again."""
    assert network.value(network.row_of[CELL2], "administrativeState") == "UNLOCKED"
    plan = make_plan(Changes().add("delete", CELL2).table(), network, real_catalog)
    back = rollback_plan(plan.steps, network, real_catalog).to_pylist()
    create = [r for r in back if r["op"] == "create" and r["fdn"] == CELL2]
    assert [r["value"] for r in create if r["attribute"] == "administrativeState"] == ["LOCKED"]
    last_step = max(r["step"] for r in back)
    unlock = [r for r in back if r["step"] == last_step]
    assert [(r["op"], r["fdn"], r["attribute"], r["value"]) for r in unlock] == [
        ("unlock", CELL2, "administrativeState", "UNLOCKED")
    ]
    # no other step touches its state, and every create below it and every reference to it comes first
    admin = [r for r in back if r["fdn"] == CELL2 and r["attribute"] == "administrativeState"]
    assert len(admin) == 2
    below = [r["step"] for r in back if r["fdn"].startswith(CELL2 + ",") or r["value"] == CELL2]
    assert below and max(below) < last_step
