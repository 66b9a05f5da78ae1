"""What the ENM tests share: the example catalog built as a user builds it, the rich generated
network (3 LTE cells of a node with relations, report configs and struct sequences, and an NR
node), and ChangeSets written row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import rtbfast
from bench.generate import write_export
from rtbfast.catalog_view import CatalogView
from rtbfast.network_index import NetworkIndex, read_network_tables
from rtbfast.schemas import CHANGESET_SCHEMA
from tests.conftest import EXAMPLES

NODE = "SubNetwork=ROOT,MeContext=NODE000000,ManagedElement=NODE000000"
ENB = f"{NODE},ENodeBFunction=1"
CELL = f"{ENB},EUtranCellFDD=NODE000000_0"
CELL1 = f"{ENB},EUtranCellFDD=NODE000000_1"


@pytest.fixture(scope="session")
def example_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out: Path = tmp_path_factory.mktemp("enm-example") / "out"
    rtbfast.build(
        EXAMPLES / "enodeb_mini_mp.xml",
        out,
        workbook=EXAMPLES / "workbook" / "Spreadsheets_Parameters.csv",
        structs=EXAMPLES / "workbook" / "Spreadsheets_StructParameters.csv",
    )
    return out


@pytest.fixture(scope="session")
def catalog(example_out: Path) -> CatalogView:
    return CatalogView.load(example_out)


@pytest.fixture(scope="session")
def generated_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = write_export(tmp_path_factory.mktemp("enm-net") / "export.xml", 0.2, cells=3, relations=2, rich=True)
    return path


@pytest.fixture(scope="session")
def generated_tables(generated_export: Path) -> dict[str, pa.Table]:
    return read_network_tables(generated_export)


@pytest.fixture(scope="session")
def export(full_export: Path) -> Path:
    """The network of the ENM tests, as a full export carries it (:func:`full_tables`)."""
    return full_export


@pytest.fixture(scope="session")
def tables(full_tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    return full_tables


@pytest.fixture(scope="session")
def network(full_network: NetworkIndex) -> NetworkIndex:
    return full_network


OLD_VALUES: list[tuple[str, str, str | None, int, str]] = [
    (ENB, "timeAndPhaseSynchCritical", None, 0, "false"),
    (ENB, "eNodeBPlmnId", "mcc", 0, "262"),
    (ENB, "eNodeBPlmnId", "mnc", 0, "1"),
    (ENB, "eNodeBPlmnId", "mncLength", 0, "2"),
    (CELL, "userLabel", None, 0, "south"),
    (CELL, "cellRange", None, 0, "KM_15"),
    (CELL1, "userLabel", None, 0, "east, 2"),
    (CELL1, "cellRange", None, 0, "KM_15"),
    (f"{ENB},EUtranCellFDD=NODE000000_2", "cellRange", None, 0, "KM_15"),
]
"""Values a full ENM export carries that the generated one leaves out: with them, every
attribute the ENM tests change has a value to roll back to."""


def with_values(tables: dict[str, pa.Table], rows: list[tuple[str, str, str | None, int, str]]) -> dict[str, pa.Table]:
    """`tables` with the value rows (fdn, attribute, member, index, value) added after the
    MO's own rows (a network's values come MO by MO)."""
    values = tables["values"]
    plain = pa.table(
        {
            "fdn": values["fdn"].cast(pa.string()),
            "attribute": values["attribute"].cast(pa.string()),
            "member": values["member"].cast(pa.string()),
            "index": values["index"],
            "member_index": values["member_index"],
            "value": values["value"],
            "vs_data": values["vs_data"],
        }
    )
    by_fdn: dict[str, list[dict[str, Any]]] = {}
    for fdn, attribute, member, index, value in rows:
        by_fdn.setdefault(fdn, []).append(
            {
                "fdn": fdn,
                "attribute": attribute,
                "member": member,
                "index": index,
                "member_index": 0 if member else None,
                "value": value,
                "vs_data": True,
            }
        )
    out: list[dict[str, Any]] = []
    pending = dict(by_fdn)
    previous = None
    for r in plain.to_pylist():
        if previous is not None and r["fdn"] != previous and previous in pending:
            out.extend(pending.pop(previous))
        out.append(r)
        previous = r["fdn"]
    if previous in pending:
        out.extend(pending.pop(previous))
    for extra in pending.values():
        out.extend(extra)
    return {**tables, "values": pa.Table.from_pylist(out, schema=plain.schema)}


@pytest.fixture(scope="session")
def full_tables(generated_tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The generated network with :data:`OLD_VALUES`, as a full export carries them."""
    return with_values(generated_tables, OLD_VALUES)


@pytest.fixture(scope="session")
def full_network(full_tables: dict[str, pa.Table]) -> NetworkIndex:
    return NetworkIndex(full_tables)


@pytest.fixture(scope="session")
def full_export(full_tables: dict[str, pa.Table], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`full_tables` written as a Bulk CM export."""
    from rtbfast.network_writer import write_network_xml

    path: Path = write_network_xml(full_tables, tmp_path_factory.mktemp("enm-full") / "export.xml")
    return path


class Changes:
    """A ChangeSet written row by row, as `rtbfast templates expand` writes one."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.writes = 0

    def add(
        self,
        op: str,
        fdn: str,
        attribute: str | None = None,
        value: str | None = None,
        *,
        member: str | None = None,
        index: int | None = None,
        phase: str = "default",
        phase_order: int = 0,
    ) -> Changes:
        cls = fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        if attribute is not None and index is None:
            index = 0
        # the rows of one write (the members and items of one attribute) share their source
        previous = self.rows[-1] if self.rows else None
        same = previous is not None and (previous["fdn"], previous["attribute"]) == (fdn, attribute) and attribute
        if not same:
            self.writes += 1
        self.rows.append(
            {
                "phase": phase,
                "phase_order": phase_order,
                "seq": len(self.rows),
                "op": op,
                "fdn": fdn,
                "class": cls,
                "attribute": attribute,
                "member": member,
                "index": index,
                "value": value,
                "target": CELL,
                "source": f"hand.json#/{self.writes - 1}",
            }
        )
        return self

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=CHANGESET_SCHEMA)


@pytest.fixture(scope="session")
def real_catalog() -> CatalogView:
    """The LTE eNodeB model (ERBS D, 3.8 MB) merged with the RAN subset of the workbook."""
    from rtbfast.catalog import merge
    from rtbfast.rules import constraint_table
    from tests.conftest import samples_dir

    samples = samples_dir("mom").parent
    model = rtbfast.read_model(samples / "mom" / "ERBS_NODE_MODEL_D_full_mp.xml")
    sheets = rtbfast.read_workbook(
        samples / "csv" / "Spreadsheets_Parameters.ran-subset.csv",
        samples / "csv" / "Spreadsheets_StructParameters.ran-subset.csv",
    )
    c = merge([("mom", "mom:erbs", model.tables), ("workbook", "workbook:ran", sheets.tables)])
    return CatalogView.of(c.tables, constraint_table(c.tables))
