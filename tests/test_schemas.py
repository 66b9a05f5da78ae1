"""One home for table schemas (``rtbfast.schemas``): the tables the native readers and the
native evaluator produce have exactly the schemas declared there (names, order, types,
nullability), the Python-made tables too, and no other module declares a table's schema."""

from __future__ import annotations

import ast
from pathlib import Path

import pyarrow as pa
import pytest

import rtbfast
from rtbfast import schemas
from rtbfast.changeset import read_changeset
from rtbfast.rules import constraint_table, evaluate
from tests.conftest import EXAMPLE_EXPORT, EXAMPLE_MODEL, ROOT, samples_dir
from tests.test_workbook import ALL_PARAMETER_COLUMNS, RECORDS, write_sheet


def _same(actual: pa.Schema, declared: pa.Schema, what: str) -> None:
    actual = actual.remove_metadata()
    assert actual.equals(declared), f"{what}:\nproduced  {actual}\ndeclared  {declared}"


@pytest.mark.parametrize(
    "model",
    [EXAMPLE_MODEL, "LRAT_MOM_Mini_cpp_input_mp.xml", "LRAT_MOM_Mini_ecim_output_mp.xml", "ComTop_mp.xml"],
)
def test_the_model_reader_writes_the_catalog_schemas(model: Path | str) -> None:
    path = model if isinstance(model, Path) else samples_dir("mom") / model
    tables = rtbfast.read_model(path).tables
    assert set(tables) == set(schemas.CATALOG_SCHEMAS)
    for name, table in tables.items():
        _same(table.schema, schemas.CATALOG_SCHEMAS[name], f"{path.name}: {name}")


@pytest.mark.parametrize(
    "export",
    [
        EXAMPLE_EXPORT,
        "bodastage_bulkcm.xml",
        "sigscale_rim_example_nr.xml",
        "yuriyarhipov_ossrc_wran_export_excerpt.xml",
    ],
)
def test_the_export_reader_writes_the_network_schemas(export: Path | str) -> None:
    path = export if isinstance(export, Path) else samples_dir("bulkcm") / export
    network = rtbfast.read_network(path)
    assert set(network.tables) == set(schemas.NETWORK_SCHEMAS)
    for name, table in network.tables.items():
        _same(table.schema, schemas.NETWORK_SCHEMAS[name], f"{path.name}: {name}")
    implied = network.model.tables
    _same(
        implied["attributes"].schema,
        schemas.IMPLIED_ATTRIBUTES_SCHEMA.append(pa.field("source", pa.string())),
        "implied attributes",
    )


def test_the_native_evaluator_writes_the_violations_schema() -> None:
    model = rtbfast.read_model(EXAMPLE_MODEL)
    network = rtbfast.read_network(EXAMPLE_EXPORT)
    constraints = constraint_table(model.tables)
    found = evaluate(network.tables, constraints).violations
    _same(found.schema, schemas.VIOLATIONS_SCHEMA, "violations")
    # a value out of its range: at least one row went through the schema
    values = network.tables["values"]
    cell = values.filter(pa.compute.equal(values["attribute"].cast(pa.string()), "qRxLevMin"))
    assert cell.num_rows, "the example export sets qRxLevMin"
    broken = {**network.tables, "values": values.set_column(5, "value", pa.array(["999"] * values.num_rows))}
    bad = evaluate(broken, constraints).violations
    assert bad.num_rows
    _same(bad.schema, schemas.VIOLATIONS_SCHEMA, "violations with rows")


def test_the_workbook_writes_its_schemas(tmp_path: Path) -> None:
    from rtbfast.workbook import read_workbook

    book = read_workbook(write_sheet(tmp_path / "p.csv", ALL_PARAMETER_COLUMNS, RECORDS))
    _same(book.tables["attributes"].schema, schemas.WORKBOOK_ATTRIBUTES_SCHEMA, "workbook attributes")
    for name in ("attributes",):
        for field in schemas.WORKBOOK_ATTRIBUTES_SCHEMA:
            if field.name in schemas.CATALOG_SCHEMAS[name].names:
                assert field.equals(schemas.CATALOG_SCHEMAS[name].field(field.name)), field


def test_the_plan_is_derived_from_the_changeset() -> None:
    changeset = schemas.CHANGESET_SCHEMA
    plan = schemas.PLAN_SCHEMA
    assert plan.names[0] == "step"
    carried = [f for f in plan if f.name in changeset.names]
    assert carried == [f for f in changeset if f.name not in ("seq", "target")]
    assert [f.name for f in schemas.FINDINGS_SCHEMA][-7:] == [
        f.name for f in schemas.VIOLATIONS_SCHEMA if f.name not in ("severity", "rule", "message")
    ]


def test_a_changeset_file_is_read_with_its_schema(tmp_path: Path) -> None:
    from rtbfast.changeset import write_changeset

    rows = schemas.CHANGESET_SCHEMA.empty_table()
    path = tmp_path / "c.parquet"
    write_changeset(rows, path, {"template": "t.json"})
    table, made_from = read_changeset(path)
    assert made_from == {"template": "t.json"}
    _same(table.schema, schemas.CHANGESET_SCHEMA, "changeset")


def _schema_assignments(path: Path) -> list[str]:
    """Module-level names bound to ``pa.schema(...)`` in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr == "schema":
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found += [t.id for t in targets if isinstance(t, ast.Name)]
    return found


def test_no_other_module_declares_a_table_schema() -> None:
    package = ROOT / "python" / "rtbfast"
    elsewhere = {
        str(p.relative_to(package)): names
        for p in package.rglob("*.py")
        if p.name != "schemas.py" and (names := _schema_assignments(p))
    }
    assert elsewhere == {}
    assert len(_schema_assignments(package / "schemas.py")) >= 20
