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
from rtbfast.changeset import CHANGESET_SCHEMA
from rtbfast.enm.model import EnmCatalog
from rtbfast.network_index import NetworkIndex, read_network_tables
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
def catalog(example_out: Path) -> EnmCatalog:
    return EnmCatalog.load(example_out)


@pytest.fixture(scope="session")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = write_export(tmp_path_factory.mktemp("enm-net") / "export.xml", 0.2, cells=3, relations=2, rich=True)
    return path


@pytest.fixture(scope="session")
def tables(export: Path) -> dict[str, pa.Table]:
    return read_network_tables(export)


@pytest.fixture(scope="session")
def network(tables: dict[str, pa.Table]) -> NetworkIndex:
    return NetworkIndex(tables)


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
def real_catalog() -> EnmCatalog:
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
    return EnmCatalog.of(c.tables, constraint_table(c.tables))
