"""Constraints from the catalog, the native bulk evaluator, and `rtbfast audit`; the
evaluator and the generated Pydantic models reach the same verdicts (hypothesis)."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pydantic
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rtbfast
from rtbfast.audit import audit, node_of
from rtbfast.cli import main
from rtbfast.codegen import Generated, generate
from rtbfast.errors import InputIOError, OutputError
from rtbfast.rules import Constraints, constraint_table, evaluate
from rtbfast.rules.dependencies import extract
from tests.conftest import samples_dir
from tests.rule_values import RULES, mo_values, native_verdict, network, pydantic_verdict
from tests.test_codegen import TRICKY
from tests.test_network_reader import container, export

WriteXml = Callable[[str, str | bytes], Path]
EXAMPLES = int(os.environ.get("RTBFAST_HYPOTHESIS_EXAMPLES", "400"))
"""Examples per differential test (set higher for a deeper local run)."""


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pa.Table]]:
    model = tmp_path_factory.mktemp("rules") / "tricky_mp.xml"
    model.write_text(TRICKY, encoding="utf-8")
    return model, rtbfast.read_model(model).tables


def rows_of(constraints: Constraints, cls: str) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(r["attribute"], r["member"]): r for r in constraints.table.to_pylist() if r["class"] == cls}


def test_constraints_are_the_field_types_of_the_models(tricky: tuple[Path, dict[str, pa.Table]]) -> None:
    constraints = constraint_table(tricky[1])
    foo = rows_of(constraints, "Foo")
    level = foo[("level", None)]
    assert level["kind"] == "integer" and level["resolution"] == Decimal(2)
    assert level["ranges"] == [{"min": Decimal(-140), "max": Decimal(-44)}]
    # integers keep their width bounds where the model gives no range
    assert foo[("id", None)]["ranges"] == [{"min": Decimal(-(2**31)), "max": Decimal(2**31 - 1)}]
    assert len(foo[("band", None)]["ranges"]) == 2
    assert foo[("ratio", None)]["decimal_places"] == 2
    assert foo[("code", None)]["pattern"] == "^(?:[0-9]{3})$"
    assert foo[("color", None)]["enum_names"] == ["RED", "GREEN"] and foo[("color", None)]["enum_values"] == [1, 2]
    assert foo[("pair", None)]["exclusive"] and foo[("pair", "left")]["kind"] == "integer"
    assert foo[("keyed", None)]["seq_unique"] and foo[("keyed", None)]["unique_by"] == ["k"]
    assert foo[("items", None)]["seq_min"] == 1 and foo[("items", None)]["seq_max"] == 3
    assert foo[("peer", None)]["moref_target"] == "Bar"
    assert foo[("load", None)]["ranges"] == [{"min": Decimal(0), "max": Decimal(100)}]
    assert ("pmCount", None) not in foo, "PM counters are not configuration"
    assert foo[("status", None)]["read_only"] and foo[("FooId", None)]["restricted"]
    # Foo is also a class of MIM Other: exports name classes without their MIM
    assert ("x", None) not in foo
    assert any("class Foo of MIM Other: not checked" in n for n in constraints.notes)


def _foo_export(payload: str, extra: str = "") -> str:
    return export(container("Foo", "1", payload) + extra)


GOOD = (
    "<ex:level>-140</ex:level><ex:band>25</ex:band><ex:ratio>10.25</ex:ratio><ex:code>042</ex:code>"
    "<ex:color>GREEN</ex:color><ex:pair><ex:left>3</ex:left></ex:pair><ex:items>1</ex:items><ex:items>2</ex:items>"
    "<ex:peer>ManagedElement=1,Bar=2</ex:peer><ex:load>100</ex:load><ex:class>abc</ex:class>"
)


def test_audit_finds_each_kind_of_violation(tricky: tuple[Path, dict[str, pa.Table]], write_xml: WriteXml) -> None:
    bad = (
        "<ex:level>-139</ex:level><ex:band>15</ex:band><ex:ratio>1.234</ex:ratio><ex:code>42</ex:code>"
        "<ex:color>BLUE</ex:color><ex:pair><ex:left>1</ex:left><ex:right>x</ex:right></ex:pair>"
        "<ex:items>1</ex:items><ex:items>1</ex:items><ex:items>2</ex:items><ex:items>3</ex:items>"
        "<ex:peer>ManagedElement=1,Foo=2</ex:peer><ex:load>101</ex:load><ex:class>123456789</ex:class>"
        "<ex:id>x</ex:id><ex:setup>maybe</ex:setup><ex:nosuch>1</ex:nosuch>"
    )
    path = write_xml("bad.xml", _foo_export(bad))
    result = audit(path, tricky[0], path.parent / "audit")
    v = pq.read_table(path.parent / "audit" / "violations.parquet").to_pylist()
    got = {(r["attribute"], r["rule"]) for r in v}
    assert got == {
        ("level", "resolution"),
        ("band", "range"),
        ("ratio", "decimal_places"),
        ("code", "pattern"),
        ("color", "enum"),
        ("pair", "exclusive"),
        ("items", "sequence_length"),
        ("items", "sequence_unique"),
        ("peer", "moref"),
        ("load", "range"),
        ("class", "length"),
        ("id", "type"),
        ("setup", "type"),
        ("nosuch", "unknown_attribute"),
    } | {(r["attribute"], "unknown_class") for r in v if r["rule"] == "unknown_class"}
    assert all(r["subject"].endswith("Foo=1") for r in v if r["rule"] != "unknown_class")
    level = next(r for r in v if r["attribute"] == "level")
    assert level["value"] == "-139" and level["expected"] == "-140 + n \u00d7 2" and level["node"] == "MeContext=n1"
    assert result.errors == sum(1 for r in v if r["severity"] == "error") == 13
    summary = json.loads((path.parent / "audit" / "audit.json").read_text())
    assert summary["by_rule"]["range"] == 2 and summary["values_checked"] > 15
    page = (path.parent / "audit" / "report.html").read_text()
    assert "Violations by rule" in page and "Worst offenders" in page and "ManagedElement=n1,Foo=1" in page
    csv_rows = (path.parent / "audit" / "violations.csv").read_text().splitlines()
    assert len(csv_rows) == len(v) + 1


def test_a_clean_export_passes_and_the_cli_exit_code_says_so(
    tricky: tuple[Path, dict[str, pa.Table]], write_xml: WriteXml
) -> None:
    good = write_xml("good.xml", _foo_export(GOOD))
    out = good.parent / "audit_good"
    run = CliRunner().invoke(main, ["audit", str(good), "--catalog", str(tricky[0]), "-o", str(out)])
    assert run.exit_code == 0, run.output
    errors = [r for r in pq.read_table(out / "violations.parquet").to_pylist() if r["severity"] == "error"]
    assert errors == []
    bad = write_xml("bad.xml", _foo_export("<ex:level>0</ex:level>"))
    run = CliRunner().invoke(main, ["audit", str(bad), "--catalog", str(tricky[0]), "-o", str(out)])
    assert run.exit_code == 1 and "1 error" in run.output
    assert pq.read_table(out / "violations.parquet").num_rows >= 1  # the new audit replaced the old


def test_audit_reads_the_catalog_of_a_build(tricky: tuple[Path, dict[str, pa.Table]], write_xml: WriteXml) -> None:
    built = tricky[0].parent / "built"
    rtbfast.build(tricky[0], built)
    written = pq.read_table(built / "rules" / "constraints.parquet")
    assert written.num_rows == constraint_table(tricky[1]).table.num_rows
    path = write_xml("one.xml", _foo_export("<ex:level>-139</ex:level>"))
    assert audit(path, built, path.parent / "a").summary["by_rule"] == {"resolution": 1}


def test_bad_inputs_are_located_errors(tricky: tuple[Path, dict[str, pa.Table]], write_xml: WriteXml) -> None:
    path = write_xml("one.xml", _foo_export(GOOD))
    with pytest.raises(InputIOError, match="not an rtbfast build"):
        audit(path, path.parent, path.parent / "x")
    with pytest.raises(InputIOError, match="no such file"):
        audit(path, path.parent / "missing_mp.xml", path.parent / "x")
    broken = write_xml("broken.xml", _foo_export(GOOD)[:-40])
    run = CliRunner().invoke(main, ["audit", str(broken), "--catalog", str(tricky[0]), "-o", str(path.parent / "y")])
    assert run.exit_code == 2 and "broken.xml:6:" in run.output and "Traceback" not in run.output
    assert not (path.parent / "y").exists()
    keep = path.parent / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not an rtbfast output"):
        audit(path, tricky[0], keep)
    assert (keep / "notes.txt").read_text() == "mine"


def test_a_constraint_that_cannot_compile_is_reported_and_the_rest_run(
    tricky: tuple[Path, dict[str, pa.Table]],
) -> None:
    constraints = constraint_table(tricky[1])
    table = constraints.table
    patterns = pa.array(
        [
            ("(unclosed" if (c, a) == ("Foo", "code") else p)
            for c, a, p in zip(
                table.column("class").to_pylist(),
                table.column("attribute").to_pylist(),
                table.column("pattern").to_pylist(),
                strict=True,
            )
        ],
        pa.string(),
    )
    broken = Constraints(table.set_column(table.schema.get_field_index("pattern"), "pattern", patterns))
    result = evaluate(network("Foo", {"code": "x", "level": "0"}), broken)
    assert len(result.problems) == 1 and "Foo.code: pattern" in result.problems[0]
    assert "not enforced" in result.problems[0]
    assert [r["rule"] for r in result.violations.to_pylist()] == ["range"]  # code's pattern only is off


def test_node_of_an_fdn() -> None:
    assert node_of("SubNetwork=S,MeContext=n1,ManagedElement=1,Cell=2") == "MeContext=n1"
    assert node_of("ManagedElement=7,Cell=2") == "ManagedElement=7"
    assert node_of("SubNetwork=S") == "SubNetwork=S"


# -- the same verdicts as the generated Pydantic models -------------------------------------


class Differential:
    """Constraints and the generated state models of one catalog."""

    def __init__(self, tables: dict[str, pa.Table], out: Path, package: str) -> None:
        self.constraints = constraint_table(tables)
        self.text_rules = extract(tables).cel_table()
        self.generated: Generated = generate(tables, out, package=package)
        sys.path.insert(0, str(out))
        self.package = importlib.import_module(package)
        rows = self.constraints.table.to_pylist()
        self.by_class: dict[str, list[dict[str, Any]]] = {}
        self.members: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for r in rows:
            if r["member"] is None:
                self.by_class.setdefault(r["class"], []).append(r)
            else:
                self.members.setdefault(r["class"], {}).setdefault(r["attribute"], []).append(r)
        # a class of several MIMs is checked as its first MIM in the catalog defines it
        home: dict[str, str] = {}
        for c in tables["classes"].to_pylist():
            home.setdefault(c["class"], c.get("mim") or c.get("source") or "model")
        self.state = {
            cls: self.generated.class_models[(mim, cls)][2]
            for cls, mim in home.items()
            if (mim, cls) in self.generated.class_models
        }

    def check(self, cls: str, values: dict[str, Any]) -> None:
        model: type[pydantic.BaseModel] = getattr(self.package, self.state[cls])
        rows = {r["attribute"]: r for r in self.by_class[cls]}
        native = native_verdict(cls, values, self.constraints, self.text_rules)
        python = pydantic_verdict(model, values, rows, self.members.get(cls, {}))
        assert set(native) == set(python), f"{cls} {values!r}: native {native}, pydantic {python}"
        assert native.get(RULES) == python.get(RULES), f"{cls} {values!r}: rules {native}, {python}"


@pytest.fixture(scope="module")
def tricky_differential(
    tricky: tuple[Path, dict[str, pa.Table]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Differential]:
    out = tmp_path_factory.mktemp("tricky_models")
    yield Differential(tricky[1], out, "tricky_rule_models")
    sys.path.remove(str(out))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_evaluator_and_models_agree_on_the_fixture(tricky_differential: Differential, data: st.DataObject) -> None:
    d = tricky_differential
    values = data.draw(mo_values(d.by_class["Foo"], d.members.get("Foo", {})))
    d.check("Foo", values)


@pytest.fixture(scope="module")
def lte_differential(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Differential]:
    """The real LTE model merged with the real workbook subset: the models carry the
    workbook's attributes and the rules its Dependencies texts give."""
    from rtbfast.catalog import merge

    model = samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml"
    csv = samples_dir("csv")
    workbook = rtbfast.read_workbook(
        csv / "Spreadsheets_Parameters.ran-subset.csv", csv / "Spreadsheets_StructParameters.ran-subset.csv"
    )
    catalog = merge([("mom", "mom", rtbfast.read_model(model).tables), ("workbook", "workbook", workbook.tables)])
    out = tmp_path_factory.mktemp("lte_models")
    yield Differential(catalog.tables, out, "lte_rule_models")
    sys.path.remove(str(out))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_evaluator_and_models_agree_on_the_real_lte_model_and_workbook(
    lte_differential: Differential, data: st.DataObject
) -> None:
    d = lte_differential
    cls = data.draw(st.sampled_from(sorted(c for c in d.by_class if c in d.state)))
    values = data.draw(mo_values(d.by_class[cls], d.members.get(cls, {})))
    d.check(cls, values)


OPS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models><dtdVersion>H</dtdVersion>
<mim name="Ops" version="1" release="0">
  <class name="Cell">
    <attribute name="CellId"><mandatory/><restricted/><dataType><string/></dataType></attribute>
    <attribute name="localCellId"><mandatory/><dataType><long/></dataType></attribute>
    <attribute name="status"><readOnly/><dataType><string/></dataType></attribute>
    <attribute name="setupOnly"><restricted/><dataType><boolean/></dataType></attribute>
    <attribute name="band"><lockBeforeModify/><dataType><long/></dataType></attribute>
    <attribute name="pci"><dataType><long/></dataType><takesEffect>Node restart</takesEffect></attribute>
    <attribute name="administrativeState"><dataType><string/></dataType></attribute>
  </class>
  <class name="Board"><systemCreated/>
    <attribute name="BoardId"><dataType><string/></dataType></attribute></class>
</mim>
</models>
"""


def test_operation_rules_on_an_import_file(write_xml: WriteXml) -> None:
    model = write_xml("ops_mp.xml", OPS)
    body = (
        container(
            "Cell", "1", "<ex:status>x</ex:status><ex:setupOnly>true</ex:setupOnly><ex:band>3</ex:band>", "", "update"
        )
        + container(
            "Cell",
            "2",
            "<ex:band>3</ex:band><ex:administrativeState>LOCKED</ex:administrativeState><ex:pci>4</ex:pci>",
            "",
            "update",
        )
        + container("Cell", "3", "<ex:setupOnly>true</ex:setupOnly>", "", "create")
        + container("Cell", "4", "<ex:localCellId>4</ex:localCellId><ex:status>y</ex:status>", "", "create")
        + container("Board", "1", "", "", "create")
        + container("Board", "2", "", "", "delete")
        + container("Cell", "5", "<ex:status>z</ex:status>")  # no modifier: state, not a change
    )
    path = write_xml("import.xml", export(body))
    result = audit(path, model, path.parent / "ops")
    v = pq.read_table(path.parent / "ops" / "violations.parquet").to_pylist()
    got = sorted((r["subject"].rsplit(",", 1)[-1], r["rule"], r["attribute"] or "") for r in v)
    assert got == [
        ("Board=1", "system_created", ""),
        ("Board=2", "system_created", ""),
        ("Cell=1", "read_only", "status"),
        ("Cell=1", "requires_lock", "band"),
        ("Cell=1", "restricted", "setupOnly"),
        ("Cell=2", "takes_effect", "pci"),
        ("Cell=3", "mandatory", "localCellId"),
        ("Cell=4", "read_only", "status"),
    ]
    assert result.summary["by_severity"] == {"error": 6, "info": 1, "warning": 1}


def test_an_export_audited_in_parts_gives_the_same_violations(tmp_path: Path) -> None:
    """A large export is read and checked a group of parts at a time (memory bounded by the
    group): the violations are those of one whole read."""
    from bench.generate import write_export
    from tests.conftest import EXAMPLE_MODEL

    export = write_export(tmp_path / "export.xml", 0.6)
    rules = tmp_path / "rules.csv"
    rules.write_text(
        "id,class,when,assert,severity,message,window\n"
        "enb,ENodeBFunction,,size(children.EUtranCellFDD) <= 3,warning,many cells,\n"
        "node,EUtranCellFDD,,node.id.startsWith('NODE') && parent.class == 'ENodeBFunction',error,,\n",
        encoding="utf-8",
    )

    def rows(out: Path) -> list[tuple[object, ...]]:
        table = pq.read_table(out / "violations.parquet")
        return sorted(tuple(r.values()) for r in table.to_pylist())

    from rtbfast import _native

    stream = _native.stream_bulkcm(export, 50_000, 2)
    assert stream is not None and stream.parts >= 8, "the export is read in parts"
    whole = audit(export, EXAMPLE_MODEL, tmp_path / "whole", rules=rules)
    parts = audit(export, EXAMPLE_MODEL, tmp_path / "parts", rules=rules, part_bytes=50_000, threads=2)
    assert rows(tmp_path / "whole") == rows(tmp_path / "parts")
    assert whole.summary["violations"] > 100 and whole.summary["by_rule"].get("enb", 0) > 0
    for key in ("mos", "values_checked", "by_rule"):
        assert whole.summary[key] == parts.summary[key]
