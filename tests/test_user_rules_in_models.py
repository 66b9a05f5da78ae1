"""User rules compiled into the generated state models reach the bulk evaluator's verdicts:
random CEL expressions over random MOs (hypothesis), each rule judged by both; and what stays
out of the models is listed."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pydantic
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rtbfast
from rtbfast.codegen import generate
from rtbfast.codegen.rule_checks import NotTranslatable, cel_check
from rtbfast.rules.constraints import Constraints, constraint_table
from rtbfast.rules.user_rules import RuleFile, evaluate_rules
from tests.rule_values import network

EXAMPLES = int(os.environ.get("RTBFAST_HYPOTHESIS_EXAMPLES", "300"))

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models><dtdVersion>H</dtdVersion>
<mim name="Cel" version="1" release="0">
  <enum name="Mode"><enumMember name="A"><value>0</value></enumMember>
    <enumMember name="B"><value>1</value></enumMember></enum>
  <struct name="Pair"><structMember name="lo"><long/></structMember>
    <structMember name="tag"><string/></structMember></struct>
  <class name="Cell">
    <attribute name="i"><dataType><long/></dataType></attribute>
    <attribute name="j"><dataType><long/></dataType></attribute>
    <attribute name="d"><dataType><decimal64><fractionDigits>2</fractionDigits></decimal64></dataType></attribute>
    <attribute name="s"><dataType><string/></dataType></attribute>
    <attribute name="b"><dataType><boolean/></dataType></attribute>
    <attribute name="m"><dataType><enumRef name="Mode"/></dataType></attribute>
    <attribute name="l"><dataType><sequence><long/></sequence></dataType></attribute>
    <attribute name="p"><dataType><structRef name="Pair"/></dataType></attribute>
    <attribute name="q"><dataType><sequence><structRef name="Pair"/></sequence></dataType></attribute>
  </class>
</mim>
</models>
"""


@dataclass
class Rig:
    tables: dict[str, pa.Table]
    constraints: Constraints
    folder: Path
    count: int = 0


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("cel_rules")
    (folder / "cel_mp.xml").write_text(MODEL, encoding="utf-8")
    tables = rtbfast.read_model(folder / "cel_mp.xml").tables
    yield Rig(tables, constraint_table(tables), folder)
    for name in [k for k in sys.modules if k.startswith("cel_rule_models_")]:
        del sys.modules[name]


def _rules(rows: list[tuple[str, str, str]]) -> pa.Table:
    """(id, when, assert) rows as a rule file's table (severity error)."""
    n = len(rows)
    return pa.table(
        {
            "id": [r[0] for r in rows],
            "class": ["Cell"] * n,
            "when": pa.array([r[1] or None for r in rows], pa.string()),
            "assert": [r[2] for r in rows],
            "severity": ["error"] * n,
            "message": pa.array([None] * n, pa.string()),
            "window": pa.array([None] * n, pa.string()),
        }
    )


def _verdicts(rig: Rig, rules: pa.Table, values: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The rules each side says do not hold: the bulk evaluator, and the state model."""
    rig.count += 1
    package = f"cel_rule_models_{rig.count}"
    out = rig.folder / package
    generate(rig.tables, out, package=package, user_rules=rules)
    sys.path.insert(0, str(out))
    try:
        model = importlib.import_module(package).CellState
    finally:
        sys.path.remove(str(out))
    file = RuleFile(rig.folder / "rules.csv", rules, list(range(2, rules.num_rows + 2)), [None] * rules.num_rows)
    result = evaluate_rules(network("Cell", values), rig.constraints, file, threads=1)
    native = set(result.violations.column("rule").to_pylist())
    try:
        model.model_validate(values)
        python: set[str] = set()
    except pydantic.ValidationError as err:
        # a model judges its rules once every value is valid (the bulk evaluator's constraints
        # say the rest)
        assume(all(not e["loc"] for e in err.errors()))
        python = set(re.findall(r"\[(r\d+)\]", str(err)))
    return native, python


NUMBERS = st.one_of(st.integers(-3, 12).map(str), st.sampled_from(["-1", "2.5", "0.0", "1.0", "10"]))
LEAVES = st.one_of(
    st.sampled_from(["i", "j", "d", "s", "b", "m", "l", "p", "q", "p.lo", "p.tag", "self.i", "nope"]),
    NUMBERS,
    st.sampled_from(["'A'", "'B'", "'x'", "''", "true", "false", "[1, 2]", "[]", "['A', 'x']"]),
    st.sampled_from(
        [
            "has(self.i)",
            "has(self.d)",
            "has(self.p)",
            "has(self.q)",
            "size(s)",
            "size(l)",
            "size(q)",
            "s.startsWith('x')",
        ]
    ),
)
BINARY = ["+", "-", "*", "==", "!=", "<", "<=", ">", ">=", "in", "&&", "||"]


def _expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        LEAVES,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            # CEL's grammar takes `!!x` and `--x` (no operator at all), not `!-x`
            inner.map(lambda e: f"!({e})" if e.startswith("-") else f"!{e}"),
            inner.map(lambda e: f"-({e})" if e.startswith("!") else f"-{e}"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
            # chains without brackets, which the models read with one call for the chain
            st.tuples(st.sampled_from(CHAINS), st.lists(inner, min_size=3, max_size=5)).flatmap(_chain),
        ),
        max_leaves=8,
    )


CHAINS = [["||"], ["&&"], ["+", "-"], ["*"]]
"""Operators of one precedence, chained without brackets."""


def _chain(choice: tuple[list[str], list[str]]) -> st.SearchStrategy[str]:
    """The operands chained by operators drawn from one precedence, in brackets."""
    family, operands = choice

    def written(ops: list[str]) -> str:
        out = [operands[0]]
        for op, operand in zip(ops, operands[1:], strict=True):
            out += [op, operand]
        return "(" + " ".join(out) + ")"

    n = len(operands) - 1
    return st.lists(st.sampled_from(family), min_size=n, max_size=n).map(written)


PAIRS = st.fixed_dictionaries({}, optional={"lo": st.integers(-2, 3).map(str), "tag": st.sampled_from(["", "x"])})
MO_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "i": st.integers(-5, 12).map(str),
        "j": st.integers(-5, 12).map(str),
        "d": st.sampled_from(["0.00", "1.00", "2.50", "-1.25", "10.00"]),
        "s": st.sampled_from(["", "x", "xy", "A", "yx"]),
        "b": st.sampled_from(["true", "false"]),
        "m": st.sampled_from(["A", "B"]),
        "l": st.lists(st.integers(-2, 3).map(str), max_size=3, unique=True),
        "p": PAIRS,
        "q": st.lists(PAIRS, max_size=3),
    },
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    expressions=st.lists(st.tuples(st.one_of(st.just(""), _expressions()), _expressions()), min_size=1, max_size=4),
    values=MO_VALUES,
)
def test_models_and_bulk_evaluator_agree_on_user_rules(
    rig: Rig, expressions: list[tuple[str, str]], values: dict[str, Any]
) -> None:
    fields = {n: n for n in ("i", "j", "d", "s", "b", "m", "l", "p", "q")}
    for when, check in expressions:
        for text in (when, check):
            if text:
                try:
                    cel_check(text, fields, {"p"})
                except NotTranslatable:
                    assume(False)
    rules = _rules([(f"r{k}", when, check) for k, (when, check) in enumerate(expressions)])
    native, python = _verdicts(rig, rules, values)
    assert native == python, f"{expressions} on {values}: native {native}, models {python}"


def test_rules_out_of_the_subset_stay_out_and_are_listed(rig: Rig) -> None:
    rules = pa.table(
        {
            "id": ["tree", "window", "info", "division", "broken", "ok"],
            "class": ["Cell"] * 6,
            "when": pa.array([None] * 6, pa.string()),
            "assert": ["parent.id == '1'", "i > 0", "i > 0", "i / 2 == 1", "i >", "!has(self.i) || i < 10"],
            "severity": ["error", "error", "info", "warning", "error", "warning"],
            "message": ["", "", "", "", "", "i too large"],
            "window": pa.array([None, "Mon-Fri 01:00-05:00", None, None, None, None], pa.string()),
        }
    )
    out = rig.folder / "listed"
    generated = generate(rig.tables, out, package="cel_listed_models", user_rules=rules)
    notes = "\n".join(generated.notes)
    assert "rule 'tree' (Cell) is not in the models: parent" in notes
    assert "rule 'window' (Cell) is not in the models: it holds in a time window" in notes
    assert "rule 'info' (Cell) is not in the models: severity info" in notes
    assert "rule 'division' (Cell) is not in the models: division" in notes
    assert "rule 'broken' (Cell) is not in the models: it does not compile: Syntax error" in notes
    assert generated.user_rules == ["ok"]
    assert "'ok'" not in notes
    source = (out / "cel_listed_models" / "_cel_0.py").read_text()
    assert "('ok', 'i too large', None, lambda c:" in source
    sys.path.insert(0, str(out))
    try:
        package = importlib.import_module("cel_listed_models")
        package.CellState.model_validate({"i": 3})
        with pytest.raises(pydantic.ValidationError, match=r"\[ok\] i too large"):
            package.CellState.model_validate({"i": 10})
        package.Cell.model_validate({"i": 10})  # a change: user rules judge the state model
    finally:
        sys.path.remove(str(out))


EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def _mos(network: dict[str, pa.Table]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each MO of an export as (class, the dict a Pydantic user builds: lists for sequences,
    dicts of member texts for structs), by FDN."""
    mos = network["mos"]
    out: dict[str, tuple[str, dict[str, Any]]] = {
        f: (c, {}) for f, c in zip(mos.column("fdn").to_pylist(), mos.column("class").to_pylist(), strict=True)
    }
    v = network["values"]
    columns = [v.column(n).to_pylist() for n in ("fdn", "attribute", "member", "index", "value")]
    for fdn, attribute, member, index, text in zip(*columns, strict=True):
        data = out[fdn][1]
        if member is not None:
            data.setdefault(attribute, {})[member] = text
        elif index:
            previous = data[attribute]
            data[attribute] = [*previous, text] if isinstance(previous, list) else [previous, text]
        else:
            data[attribute] = text
    return out


def test_a_build_with_rules_refuses_what_the_audit_flags(tmp_path: Path) -> None:
    """The README's example: the rules a build puts into the state models refuse exactly the
    MOs of the example export that the audit flags for them (among the MOs whose values the
    models accept: a model judges its rules once its fields are valid)."""
    from click.testing import CliRunner

    from rtbfast.audit import audit
    from rtbfast.cli import main

    rules = EXAMPLES_DIR / "rules.csv"
    model = EXAMPLES_DIR / "enodeb_mini_mp.xml"
    run = CliRunner().invoke(main, ["build", str(model), "--rules", str(rules), "-o", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    assert "user rules: 2 of 4 in the XState models" in run.output
    audit(EXAMPLES_DIR / "enodeb_mini_export.xml", tmp_path / "out", tmp_path / "audit", rules=rules)
    compiled = {"low-qrxlevmin", "sector-carrier"}
    flagged = {
        (v["subject"], v["rule"])
        for v in pq.read_table(tmp_path / "audit" / "violations.parquet").to_pylist()
        if v["rule"] in compiled
    }
    sys.path.insert(0, str(tmp_path / "out" / "models"))
    try:
        package = importlib.import_module("rtb_models")
        refused: set[tuple[str, str]] = set()
        judged: set[str] = set()
        for fdn, (cls, data) in _mos(rtbfast.read_network(EXAMPLES_DIR / "enodeb_mini_export.xml").tables).items():
            if cls != "EUtranCellFDD":
                continue
            try:
                package.EUtranCellFDDState.model_validate(data)
            except pydantic.ValidationError as err:
                if any(e["loc"] for e in err.errors()):
                    continue
                refused |= {(fdn, r) for r in re.findall(r"\[([\w-]+)\]", str(err)) if r in compiled}
            judged.add(fdn)
    finally:
        sys.path.remove(str(tmp_path / "out" / "models"))
        for name in [k for k in sys.modules if k == "rtb_models" or k.startswith("rtb_models.")]:
            del sys.modules[name]
    assert judged and refused, "the example has a valid cell that breaks a compiled rule"
    assert refused == {(fdn, rule) for fdn, rule in flagged if fdn in judged}
