"""User rules in CEL: the rule file, time windows, evaluation over MOs with parent, children
and node, `rtbfast rules check`, and the native CEL evaluation against an independent CEL
implementation (cel-python) on generated expressions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import celpy
import pyarrow as pa
import pytest
from celpy import celtypes
from celpy.evaluation import CELEvalError
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rtbfast
from rtbfast.audit import audit
from rtbfast.cli import main
from rtbfast.errors import InputIOError
from rtbfast.rules import Constraints, constraint_table
from rtbfast.rules.user_rules import evaluate_rules, in_window, parse_window, read_rules
from tests.rule_values import network
from tests.test_codegen import TRICKY
from tests.test_network_reader import container, export
from tests.test_rules import EXAMPLES

WriteXml = Callable[[str, str | bytes], Path]
HEADER = "id,class,when,assert,severity,message,window\n"


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pa.Table], Constraints]:
    model = tmp_path_factory.mktemp("user_rules") / "tricky_mp.xml"
    model.write_text(TRICKY, encoding="utf-8")
    tables = rtbfast.read_model(model).tables
    return model, tables, constraint_table(tables)


def test_the_rule_file_reports_each_bad_row_with_its_line(write_xml: WriteXml) -> None:
    text = HEADER + (
        "ok,Foo,,level > -100,error,too low,\n"
        'multi,Foo,,"level > -100 &&\n  id > 0",warning,,\n'
        "noassert,Foo,,,error,,\n"
        "ok,Foo,,true,error,,\n"
        "sev,Foo,,true,fatal,,\n"
        "win,Foo,,true,error,,Mon-Fri 25:00-26:00\n"
        "wide,Foo,,true,error,,,extra\n"
    )
    rules = read_rules(write_xml("r.csv", text))
    assert rules.table.column("id").to_pylist() == ["ok", "multi"]
    assert rules.lines == [2, 3]
    assert rules.table.column("message").to_pylist()[1] == "level > -100 &&\n  id > 0 does not hold"
    found = {(i.line, i.field) for i in rules.issues}
    assert found == {(5, "assert"), (6, "id"), (7, "severity"), (8, "window"), (9, "row")}
    with pytest.raises(InputIOError, match="lacks assert"):
        read_rules(write_xml("h.csv", "id,class,when\n"))
    with pytest.raises(InputIOError, match="empty"):
        read_rules(write_xml("e.csv", ""))


def test_windows() -> None:
    monday_2am = datetime(2026, 11, 23, 2, 0)
    assert in_window("01:00-05:00", monday_2am) and not in_window("05:00-06:00", monday_2am)
    assert in_window("Mon-Fri 01:00-05:00", monday_2am)
    assert not in_window("Sat,Sun 01:00-05:00", monday_2am)
    # a window past midnight belongs to the day it starts on: Sunday 22:00 to Monday 06:00
    assert in_window("Sun 22:00-06:00", monday_2am) and not in_window("Mon 22:00-06:00", monday_2am)
    assert in_window("Mon 00:00-24:00", datetime(2026, 11, 23, 23, 59))
    assert parse_window("Fri-Mon 00:00-01:00")[0] == {4, 5, 6, 0}
    with pytest.raises(ValueError, match="not a window"):
        parse_window("sometimes")


def _tree(payload: str = "<ex:level>-140</ex:level><ex:id>5</ex:id>", bars: int = 1) -> str:
    children = "".join(container("Bar", str(i), f"<ex:BarId>{i}</ex:BarId>") for i in range(bars))
    return export(container("Foo", "1", payload, children))


def test_rules_see_attributes_parent_children_and_node(
    tricky: tuple[Path, dict[str, pa.Table], Constraints], write_xml: WriteXml
) -> None:
    rules = write_xml(
        "r.csv",
        HEADER
        + "low,Foo,,level > -100,error,level too low,\n"
        + "guarded,Foo,has(self.ratio),ratio < 1.0,error,,\n"
        + "children,Foo,,size(children.Bar) == 2,warning,two bars wanted,\n"
        + "node,Foo,,node.id == 'n1' && parent.class == 'ManagedElement' && fdn.endsWith('Foo=1'),error,wrong node,\n"
        + "bar,Bar,,int(BarId) < 1,error,bar id,\n"
        + "missing,Foo,,nosuch > 1,error,,\n"
        + "night,Foo,,false,info,at night,22:00-06:00\n",
    )
    path = write_xml("e.xml", _tree())
    net = rtbfast.read_network(path)
    result = evaluate_rules(net.tables, tricky[2], read_rules(rules), at=datetime(2026, 11, 27, 12, 0))
    got = sorted((v["rule"], v["severity"], v["subject"].rsplit(",", 1)[-1]) for v in result.violations.to_pylist())
    assert got == [
        ("children", "warning", "Foo=1"),
        ("low", "error", "Foo=1"),
        ("missing", "warning", "Foo=1"),  # an attribute the MO lacks: the rule could not be evaluated
    ], "guarded skipped (no ratio), node holds, bar holds for Bar=0, night is outside its window"
    low = next(v for v in result.violations.to_pylist() if v["rule"] == "low")
    assert low["message"] == "level too low" and low["expected"] == "level > -100"
    missing = next(v for v in result.violations.to_pylist() if v["rule"] == "missing")
    assert "nosuch" in missing["message"]
    assert result.skipped_by_window == 1
    night = evaluate_rules(net.tables, tricky[2], read_rules(rules), at=datetime(2026, 11, 27, 23, 0))
    assert "night" in night.violations.column("rule").to_pylist()


def test_one_bad_rule_does_not_stop_the_others(
    tricky: tuple[Path, dict[str, pa.Table], Constraints], write_xml: WriteXml
) -> None:
    rules = write_xml("r.csv", HEADER + "broken,Foo,,level >,error,,\nfine,Foo,,level > -100,error,,\n")
    path = write_xml("e.xml", _tree())
    result = evaluate_rules(rtbfast.read_network(path).tables, tricky[2], read_rules(rules))
    assert result.violations.column("rule").to_pylist() == ["fine"]
    assert len(result.issues) == 1 and result.issues[0].line == 2 and result.issues[0].column > 0
    out = path.parent / "audit"
    done = audit(path, tricky[0], out, rules=rules)
    assert done.summary["rules"]["issues"] and "broken" in done.summary["rules"]["issues"][0]
    assert done.summary["by_rule"]["fine"] == 1


def test_rules_check_cli(tricky: tuple[Path, dict[str, pa.Table], Constraints], write_xml: WriteXml) -> None:
    rules = write_xml(
        "r.csv",
        HEADER + 'a,Fooo,,true,error,,\nb,Foo,,levle > 1,error,,\nc,Foo,,"level >\n 1 +",error,,\n',
    )
    run = CliRunner().invoke(main, ["rules", "check", str(rules), "--catalog", str(tricky[0])])
    assert run.exit_code == 1
    assert "r.csv:2: rule 'a' class: Fooo is not a class of the catalog; did you mean Foo?" in run.output
    assert "r.csv:3: rule 'b' assert: Foo has no attribute levle; did you mean level?" in run.output
    assert "r.csv:5: rule 'c' assert (column" in run.output  # the second line of the expression
    good = write_xml("g.csv", HEADER + "a,Foo,,level > -100,error,,\n")
    run = CliRunner().invoke(main, ["rules", "check", str(good), "--catalog", str(tricky[0])])
    assert run.exit_code == 0 and "1 rule(s) read, 0 error(s)" in run.output
    assert CliRunner().invoke(main, ["rules", "check", str(good.parent / "none.csv")]).exit_code == 2


def test_audit_cli_with_rules_and_time(
    tricky: tuple[Path, dict[str, pa.Table], Constraints], write_xml: WriteXml
) -> None:
    path = write_xml("e.xml", _tree("<ex:level>-44</ex:level>"))
    rules = write_xml("r.csv", HEADER + "night,Foo,,false,error,not at night,22:00-06:00\n")
    out = path.parent / "a"
    day = ["audit", str(path), "--catalog", str(tricky[0]), "--rules", str(rules), "-o", str(out)]
    assert CliRunner().invoke(main, [*day, "--at", "2026-11-27T12:00"]).exit_code == 0
    run = CliRunner().invoke(main, [*day, "--at", "2026-11-27T23:30"])
    assert run.exit_code == 1 and "1 user rules" in run.output


# -- against an independent CEL implementation -----------------------------------------------

INTS = ("level", "id")
STRINGS = ("class", "code")


def _int_expr(depth: int, divide: bool = True) -> st.SearchStrategy[str]:
    """Int expressions; with `divide`, also ``/`` and ``%`` (by zero too: an error)."""
    leaf = st.one_of(st.sampled_from(INTS), st.integers(-50, 50).map(str), st.just("size(items)"))
    if depth == 0:
        return leaf
    sub = _int_expr(depth - 1, divide)
    options = [leaf, st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})")]
    if divide:
        divided = st.tuples(sub, st.sampled_from(["/", "%"]), st.integers(-7, 7))
        options.append(divided.map(lambda t: f"({t[0]} {t[1]} {t[2]})"))
    return st.one_of(*options)


def _str_expr() -> st.SearchStrategy[str]:
    literal = st.text("abAB01-_", max_size=4).map(lambda s: f"'{s}'")
    return st.one_of(st.sampled_from(STRINGS), literal, st.tuples(st.sampled_from(STRINGS), literal).map(" + ".join))


def _bool_expr(depth: int) -> st.SearchStrategy[str]:
    ints = _int_expr(2)
    leaf = st.one_of(
        st.tuples(ints, st.sampled_from(["<", "<=", "==", "!=", ">", ">="]), ints).map(" ".join),
        st.tuples(_str_expr(), st.sampled_from(["==", "!=", "<", ">"]), _str_expr()).map(" ".join),
        st.tuples(st.sampled_from(STRINGS), st.sampled_from(["startsWith", "endsWith", "contains"]), _str_expr()).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        st.tuples(ints).map(lambda t: f"{t[0]} in items"),
        st.tuples(st.sampled_from(["exists", "all"]), ints).map(lambda t: f"items.{t[0]}(x, x > {t[1]})"),
        # cel-python raises out of exists_one when its predicate has an error, past && and ||
        # (`false && [0].exists_one(x, x > 1/0)` raises; CEL gives false): no division there
        _int_expr(2, divide=False).map(lambda e: f"items.exists_one(x, x > {e})"),
        st.sampled_from(["setup", "!setup", "has(self.level)", "has(self.nothing)", "size(class) > 2"]),
    )
    if depth == 0:
        return leaf
    sub = _bool_expr(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["&&", "||"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda e: f"!({e})"),
        st.tuples(sub, sub, sub).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
    )


def _celpy_verdict(expression: str, values: dict[str, Any]) -> str:
    def cel(v: Any) -> Any:
        if isinstance(v, bool):
            return celtypes.BoolType(v)
        if isinstance(v, int):
            return celtypes.IntType(v)
        if isinstance(v, list):
            return celtypes.ListType([cel(x) for x in v])
        return celtypes.StringType(v)

    activation = {k: cel(v) for k, v in values.items()}
    activation["self"] = celtypes.MapType({celtypes.StringType(k): v for k, v in activation.items()})
    env = celpy.Environment()
    try:
        result = env.program(env.compile(expression)).evaluate(activation)
    except CELEvalError:
        return "error"
    if isinstance(result, CELEvalError):
        return "error"
    return "true" if result == celtypes.BoolType(True) else "false"


def _native_verdict(expression: str, values: dict[str, Any], constraints: Constraints, folder: Path) -> str:
    texts = {
        k: ([str(x) for x in v] if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in values.items()
    }
    rules = folder / "r.csv"
    quoted = expression.replace('"', '""')
    rules.write_text(f'{HEADER}r,Foo,,"{quoted}",error,,\n', encoding="utf-8")
    result = evaluate_rules(network("Foo", texts), constraints, read_rules(rules), threads=1)
    assert not result.issues, result.issues
    found = result.violations.to_pylist()
    if not found:
        return "true"
    return "error" if found[0]["severity"] == "warning" else "false"


@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")  # cel-python's parser raises it
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    expression=_bool_expr(2),
    level=st.integers(-140, -44),
    ident=st.integers(-5, 5),
    cls=st.text("abAB01", min_size=1, max_size=8),
    code=st.from_regex(r"[0-9]{3}", fullmatch=True),
    setup=st.booleans(),
    items=st.lists(st.integers(0, 9), min_size=1, max_size=3),
)
def test_native_cel_agrees_with_cel_python(
    tricky: tuple[Path, dict[str, pa.Table], Constraints],
    tmp_path: Path,
    expression: str,
    level: int,
    ident: int,
    cls: str,
    code: str,
    setup: bool,
    items: list[int],
) -> None:
    values = {"level": level, "id": ident, "class": cls, "code": code, "setup": setup, "items": items}
    native = _native_verdict(expression, values, tricky[2], tmp_path)
    reference = _celpy_verdict(expression, values)
    assert native == reference, f"{expression} with {values}: native {native}, cel-python {reference}"
