"""Typed rules read from the Dependencies and Precondition texts: each sentence shape on
project-written texts, the extracted CEL rules run by the native evaluator, and precision and
coverage on the real workbook against hand labels (tests/data/dependency_labels.json)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rtbfast
from rtbfast.rules import constraint_table
from rtbfast.rules.dependencies import TypedRule, _Class, extract, extract_text
from rtbfast.rules.user_rules import RuleFile, evaluate_rules
from tests.conftest import samples_dir
from tests.rule_values import network
from tests.test_rules import EXAMPLES

LABELS = Path(__file__).parent / "data" / "dependency_labels.json"

KINDS = {
    "a": "integer", "b": "integer", "c": "integer", "flag": "boolean", "other": "boolean",
    "mode": "enum", "state": "enum", "ratio": "decimal", "administrativeState": "enum",
}  # fmt: skip


def signature(rule: TypedRule) -> str:
    """A rule as the hand labels write it."""
    p = rule.params
    if rule.kind == "requires_lock":
        return "requires_lock"
    if rule.kind == "unique":
        return f"unique {','.join(sorted(p['attributes']))} in {p['scope']}"
    if rule.kind in ("expression", "compare"):
        assert rule.cel is not None
        core = rule.cel.split(" || (", 1)[1][:-1] if rule.cel.startswith(("!(has(", "!has(")) else rule.cel
        return f"cel: {core}"
    if rule.kind == "value_if":
        return f"if {p['when']} then {rule.attribute} == {p['value']}"
    if rule.kind in ("forbid_if", "allowed_if"):
        verb = "not in" if rule.kind == "forbid_if" else "in"
        return f"if {p['when']} then {rule.attribute} {verb} [{', '.join(p['values'])}]"
    if rule.kind == "empty_if":
        return f"{rule.attribute} empty if {p['other']} empty"
    if rule.kind == "only_relevant_if":
        return f"relevant if {p['when']}"
    if rule.kind == "requires_feature":
        return f"feature {p['feature'].lower()}"
    raise AssertionError(rule.kind)


def rules_of(text: str, attribute: str = "a", column: str = "dependencies") -> list[str]:
    return [signature(r) for r in extract_text(_Class("C", KINDS), attribute, column, text)[0]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Value can only be changed if administrativeState is LOCKED.", ["requires_lock"]),
        ("Pair of a and b attributes must be unique in RBS.", ["unique a,b in node"]),
        ("Value must be unique in ProfileTable.", ["unique a in parent"]),
        ("a <= b", ["cel: a <= b"]),
        ("(a + b) > 0 AND (a * 10 + b) <= 140", ["cel: (a + b) > 0 && (a * 10 + b) <= 140"]),
        ("Equal to 3 x b + c.", ["cel: a == 3 * b + c"]),
        ("b =< c", ["cel: b <= c"]),
        ("Value * 1000 must be greater than or equal to b.", ["cel: a * 1000 >= b"]),
        ("Must be equal to or greater than b.", ["cel: a >= b"]),
        ("Value must be same as b value.", ["cel: a == b"]),
        ("Value of a must be greater than or equal to b.", ["cel: a >= b"]),
        ("Cannot be lower than b or c.", ["cel: a >= b", "cel: a >= c"]),
        ("Cannot be 1 or 3 if flag is true.", ["if flag == true then a not in [1, 3]"]),
        ("If mode is set to X_1, X_2, or X_3, then value cannot be 5.",
         ["if mode in ['X_1', 'X_2', 'X_3'] then a not in [5]"]),
        ("Can only be 7 or 9 if mode is M.", ["if mode == 'M' then a in [7, 9]"]),
        ("Only values 1,2,3 are allowed if b is equal to 10 or 15.", ["if b in [10, 15] then a in [1, 2, 3]"]),
        ("Must be false if other is true.", []),  # a is an integer: false is no value of it
        ("Must be empty if b is set to empty.", ["a empty if b empty"]),
        ("Only used if mode is set to RSRP.", ["relevant if mode == 'RSRP'"]),
        ("Only used when flag=true.", ["relevant if flag == true"]),
        ("Only valid if attribute flag is enabled.", ["relevant if flag == true"]),
        ("Only relevant if the license for QoS Aware Scheduler is present and the feature is active.",
         ["feature qos aware scheduler"]),
        ("Take effect only if the licenses for A B and C D are present and the features are active.",
         ["feature a b", "feature c d"]),
        ("Feature Mobility Control at Poor Coverage must be active.", ["feature mobility control at poor coverage"]),
        # a heading: what follows holds only under it
        ("When flag is true:\nb + c <= 8\na <= 52", []),
        # references to other classes and prose stay notes
        ("Must be 27 if Other::b is 10.", []),
        ("Referenced Foo instance must be under the same Bar instance.", []),
        ("a > b when both are set to non-default value.", []),
    ],
)  # fmt: skip
def test_sentence_shapes(text: str, expected: list[str]) -> None:
    assert rules_of(text) == expected


def test_flag_attribute_value_if() -> None:
    assert rules_of("Must be false if other is true.", attribute="flag") == ["if other == true then flag == false"]


def test_a_text_keeps_its_notes_and_source() -> None:
    rules, notes = extract_text(_Class("C", KINDS), "a", "dependencies", "a <= b. Depends on the weather.")
    assert [r.text for r in rules] == ["a <= b."] and [n.text for n in notes] == ["Depends on the weather."]


def test_extracted_rules_run_as_cel(tmp_path: Path) -> None:
    """The CEL of extracted rules compiles and judges values through the native evaluator."""
    attributes = pa.table(
        {
            "mim": ["M"] * 3,
            "class": ["C"] * 3,
            "attribute": ["lo", "hi", "mode"],
            "kind": ["integer", "integer", "enum"],
            "dependencies": ["Must be less than or equal to hi.", None, None],
            "precondition": [None, None, None],
        }
    )
    extraction = extract({"attributes": attributes})
    table = extraction.cel_table()
    assert table.num_rows == 1 and extraction.coverage == 1.0
    rules = RuleFile(tmp_path / "x.csv", table, [1], [None])
    constraints = constraint_table({"attributes": attributes.append_column("source", pa.array(["mom"] * 3))})
    ok = evaluate_rules(network("C", {"lo": "1", "hi": "2"}), constraints, rules)
    bad = evaluate_rules(network("C", {"lo": "3", "hi": "2"}), constraints, rules)
    absent = evaluate_rules(network("C", {"lo": "3"}), constraints, rules)
    assert ok.violations.num_rows == 0 and absent.violations.num_rows == 0
    assert bad.violations.column("rule").to_pylist() == ["dep:C.lo:compare"]


@pytest.fixture(scope="module")
def workbook_tables() -> dict[str, pa.Table]:
    folder = samples_dir("csv")
    tables: dict[str, pa.Table] = rtbfast.read_workbook(folder / "Spreadsheets_Parameters.ran-subset.csv").tables
    return tables


def test_precision_and_coverage_on_the_real_workbook(workbook_tables: dict[str, pa.Table]) -> None:
    labels = json.loads(LABELS.read_text(encoding="utf-8"))["labels"]
    assert len(labels) >= 60
    columns = ["class", "attribute", "kind", "dependencies", "precondition"]
    rows: dict[tuple[str, str], list[dict[str, str]]] = {}
    kinds: dict[str, dict[str, str]] = {}
    for r in workbook_tables["attributes"].select(columns).to_pylist():
        rows.setdefault((r["class"], r["attribute"]), []).append(r)
        kinds.setdefault(r["class"], {}).setdefault(r["attribute"], r["kind"] or "unknown")

    def text_of(label: dict[str, str]) -> str:
        # a class listed under two workbook Models has one row per Model: the label's hash picks
        for r in rows[(label["class"], label["attribute"])]:
            text = r[label["column"]] or ""
            if hashlib.sha256(text.encode()).hexdigest()[:16] == label["sha256_16"]:
                return text
        raise AssertionError(f"{label['class']}.{label['attribute']}: the labelled sample text is not there")

    extracted = correct = expected_total = found = 0
    wrong: list[str] = []
    for label in labels:
        text = text_of(label)
        cls = _Class(label["class"], kinds[label["class"]])
        got = [signature(r) for r in extract_text(cls, label["attribute"], label["column"], text)[0]]
        expected = label["expected"]
        extracted += len(got)
        correct += sum(1 for g in got if g in expected)
        expected_total += len(expected)
        found += sum(1 for e in expected if e in got)
        wrong += [f"{label['class']}.{label['attribute']}: {g}" for g in got if g not in expected]
    precision = correct / extracted
    recall = found / expected_total
    print(f"\nlabelled texts {len(labels)}: precision {precision:.2f} ({correct}/{extracted}), recall {recall:.2f}")
    assert precision >= 0.9, wrong
    assert recall >= 0.5

    extraction = extract(workbook_tables)
    kinds_found = {r.kind for r in extraction.rules}
    print(f"coverage {extraction.coverage:.2f} ({extraction.rows_with_rule}/{extraction.rows} rows with text)")
    assert extraction.rows > 600 and extraction.coverage >= 0.4
    assert {"requires_lock", "expression", "compare", "requires_feature", "only_relevant_if", "unique"} <= kinds_found
    assert all(r.text for r in extraction.rules) and all(n.text for n in extraction.notes)
    # every CEL rule compiles
    from rtbfast import _native

    assert _native.compile_user_rules(extraction.cel_table())["problems"] == []
    assert not any(re.search(r"\bNone\b", r.cel or "") for r in extraction.rules)


DEPS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models><dtdVersion>H</dtdVersion>
<mim name="Deps" version="1" release="0">
  <class name="Cell">
    <attribute name="CellId"><mandatory/><restricted/><dataType><string/></dataType></attribute>
    <attribute name="earfcndl"><dataType><long/></dataType></attribute>
    <attribute name="pci"><dependencies>Pair of earfcndl and pci attributes must be unique in RBS.</dependencies>
      <dataType><long/></dataType></attribute>
    <attribute name="lo"><dependencies>Must be less than or equal to hi.</dependencies>
      <dataType><long/></dataType></attribute>
    <attribute name="hi"><dataType><long/></dataType></attribute>
    <attribute name="band"><precondition>Value can only be changed if administrativeState is LOCKED.</precondition>
      <dataType><long/></dataType></attribute>
    <attribute name="administrativeState"><dataType><string/></dataType></attribute>
  </class>
</mim>
</models>
"""


def test_an_audit_runs_the_rules_of_the_texts(tmp_path: Path) -> None:
    from rtbfast.audit import audit
    from tests.test_network_reader import container, export

    model = tmp_path / "deps_mp.xml"
    model.write_text(DEPS, encoding="utf-8")
    cells = (
        container("Cell", "1", "<ex:earfcndl>100</ex:earfcndl><ex:pci>7</ex:pci><ex:lo>3</ex:lo><ex:hi>2</ex:hi>")
        + container("Cell", "2", "<ex:earfcndl>100</ex:earfcndl><ex:pci>7</ex:pci><ex:lo>1</ex:lo><ex:hi>2</ex:hi>")
        + container("Cell", "3", "<ex:earfcndl>200</ex:earfcndl><ex:pci>7</ex:pci>")
        + container("Cell", "4", "<ex:band>3</ex:band>", "", "update")
    )
    path = tmp_path / "e.xml"
    path.write_text(export(cells), encoding="utf-8")
    result = audit(path, model, tmp_path / "a")
    v = sorted(
        (r["subject"].rsplit(",", 1)[-1], r["rule"], r["severity"])
        for r in pq.read_table(tmp_path / "a" / "violations.parquet").to_pylist()
    )
    assert v == [
        ("Cell=1", "dep:Cell.lo:compare", "warning"),
        ("Cell=1", "dep:Cell.pci:unique", "warning"),
        ("Cell=2", "dep:Cell.pci:unique", "warning"),
        ("Cell=4", "requires_lock", "warning"),
    ]
    assert result.summary["text_rules"]["coverage"] == 1.0


RULED = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models><dtdVersion>H</dtdVersion>
<mim name="Ruled" version="1" release="0">
  <enum name="Mode"><enumMember name="A"><value>0</value></enumMember><enumMember name="B"><value>1</value></enumMember>
    <enumMember name="C"><value>2</value></enumMember></enum>
  <class name="Cell">
    <attribute name="lo"><dependencies>Must be less than or equal to hi.</dependencies><dataType><long/></dataType>
    </attribute>
    <attribute name="hi"><dataType><long/></dataType></attribute>
    <attribute name="a"><dependencies>Equal to 3 x b + c.</dependencies><dataType><long/></dataType></attribute>
    <attribute name="b"><dataType><long/></dataType></attribute>
    <attribute name="c"><dataType><long/></dataType></attribute>
    <attribute name="flag"><dependencies>Must be false if other is true.</dependencies><dataType><boolean/></dataType>
    </attribute>
    <attribute name="other"><dataType><boolean/></dataType></attribute>
    <attribute name="mode"><dataType><enumRef name="Mode"/></dataType></attribute>
    <attribute name="n"><dependencies>Cannot be 1 or 3 if mode is A.
Can only be 7 or 9 if mode is B.
(n + lo) * 2 > -10 AND n - 1 != hi</dependencies><dataType><long/></dataType></attribute>
  </class>
</mim>
</models>
"""


@pytest.fixture(scope="module")
def ruled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, pa.Table], Any, pa.Table]]:
    import importlib
    import sys

    from rtbfast.codegen import generate

    folder = tmp_path_factory.mktemp("ruled")
    model = folder / "ruled_mp.xml"
    model.write_text(RULED, encoding="utf-8")
    tables = rtbfast.read_model(model).tables
    generate(tables, folder / "models", package="ruled_models")
    sys.path.insert(0, str(folder / "models"))
    package = importlib.import_module("ruled_models")
    yield tables, package, extract(tables).cel_table()
    sys.path.remove(str(folder / "models"))


def test_text_rules_are_in_the_models(ruled: tuple[dict[str, pa.Table], Any, pa.Table]) -> None:
    _, package, table = ruled
    assert table.num_rows == 6
    cell = package.CellState
    cell.model_validate({"lo": 1, "hi": 2, "a": 7, "b": 2, "c": 1, "mode": "B", "n": 7})
    with pytest.raises(pydantic.ValidationError, match=r"\[dep:Cell.lo:compare\]"):
        cell.model_validate({"lo": 3, "hi": 2})
    with pytest.raises(pydantic.ValidationError, match=r"\[dep:Cell.n:forbid_if\]"):
        cell.model_validate({"mode": "A", "n": 3})
    cell.model_validate({"lo": 3})  # hi unknown: the rule does not apply


@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(
        st.sampled_from(["lo", "hi", "a", "b", "c", "flag", "other", "mode", "n"]),
        st.integers(-4, 10),
        min_size=1,
    ),
    data=st.data(),
)
def test_models_and_bulk_evaluator_agree_on_text_rules(
    ruled: tuple[dict[str, pa.Table], Any, pa.Table], tmp_path: Path, values: dict[str, int], data: st.DataObject
) -> None:
    tables, package, table = ruled
    typed: dict[str, Any] = dict(values)
    for name in ("flag", "other"):
        if name in typed:
            typed[name] = data.draw(st.booleans())
    if "mode" in typed:
        typed["mode"] = data.draw(st.sampled_from(["A", "B", "C"]))
    texts = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in typed.items()}
    constraints = constraint_table(tables)
    rules = RuleFile(tmp_path / "r.csv", table, list(range(table.num_rows)), [None] * table.num_rows)
    native = set(evaluate_rules(network("Cell", texts), constraints, rules).violations.column("rule").to_pylist())
    try:
        package.CellState.model_validate(typed)
        python: set[str] = set()
    except pydantic.ValidationError as err:
        python = set(re.findall(r"\[((?:dep|pre):[^\]]+)\]", str(err)))
    assert native == python, f"{typed}: native {native}, models {python}"
