"""The dynamic import format read back (rtbfast.enm.dynamic): what the writer writes reads back as
the same operations and values; the example of the reference reads; anything else is refused
at its line and column. The properties over every dialect are in test_dialect_properties.py."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rtbfast.enm.cmedit import Bare, Quoted, Sequence, Struct
from rtbfast.enm.dialects import dynamic_blocks
from rtbfast.enm.dynamic import DynamicFormatError, Operation, read_dynamic
from rtbfast.schemas import PLAN_SCHEMA

CELL = "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,EUtranCellFDD=C1"
CARRIER = "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,SectorCarrier=9"


def plan(*rows: tuple[int, str, str, str | None, str | None, int | None, str | None, str | None, bool]) -> pa.Table:
    names = ("step", "op", "fdn", "attribute", "member", "index", "value", "kind", "is_sequence")
    out = []
    for r in rows:
        row = dict(zip(names, r, strict=True))
        row.update(phase="p", phase_order=0, source=None, **{"class": str(row["fdn"]).rsplit(",", 1)[-1].split("=")[0]})
        out.append(row)
    return pa.Table.from_pylist(out, schema=PLAN_SCHEMA)


def test_what_the_writer_writes_reads_back() -> None:
    steps = plan(
        (0, "create", CARRIER, None, None, None, None, None, False),
        (0, "create", CARRIER, "noOfTxAntennas", None, 0, "4", "integer", False),
        (1, "set", CELL, "userLabel", None, 0, "North, 'sector' 3 & <é>", "string", False),
        (1, "set", CELL, "plmn", "mcc", 0, "240", "integer", True),
        (1, "set", CELL, "plmn", "mnc", 0, "01", "string", True),
        (1, "set", CELL, "plmn", "mcc", 1, "208", "integer", True),
        (1, "set", CELL, "plmn", "mnc", 1, "a b", "string", True),
        (1, "set", CELL, "sectorCarrierRef", None, 0, CARRIER, "moref", True),
        (1, "set", CELL, "emptied", None, -1, None, "integer", True),
        (1, "set", CELL, "cleared", None, None, None, "string", False),
        (1, "set", CELL, "label", None, 0, "null", "string", False),
        (2, "delete", CARRIER, None, None, None, None, None, False),
    )
    text = "".join(dynamic_blocks(steps))
    assert read_dynamic(text) == [
        Operation("create", CARRIER, (("SectorCarrierId", Quoted("9")), ("noOfTxAntennas", Bare("4"))), 1),
        Operation(
            "set",
            CELL,
            (
                ("userLabel", Quoted("North, 'sector' 3 & <é>")),
                (
                    "plmn",
                    Sequence(
                        (
                            Struct((("mcc", Bare("240")), ("mnc", Bare("01")))),
                            Struct((("mcc", Bare("208")), ("mnc", Quoted("a b")))),
                        )
                    ),
                ),
                ("sectorCarrierRef", Sequence((Quoted(CARRIER),))),
                ("emptied", Sequence(())),
                ("cleared", Bare("null")),
                ("label", Quoted("null")),
            ),
            6,
        ),
        Operation("delete", CARRIER, (), 15),
    ]


def test_the_example_of_the_reference_reads() -> None:
    # ../shared/reference/enm-cli.md §8, as written there (no blank line after the last block)
    fdn = "SubNetwork=ONRM_ROOT_MO,MeContext=LTE01ERBS00001,ManagedElement=1,ENodeBFunction=1"
    text = (
        "create\n"
        f'FDN : "{fdn},EUtranCellFDD=LTE01ERBS00001-1,EUtranFreqRelation=6300"\n'
        'EUtranFreqRelationId : "6300"\n'
        f'eutranFrequencyRef : "{fdn},EUtraNetwork=1,EUtranFrequency=6300"\n'
        "cellReselectionPriority : 5\n"
        "\n"
        "set\n"
        f'FDN : "{fdn},EUtranCellFDD=LTE01ERBS00001-1"\n'
        "qRxLevMin : -130\n"
        "additionalPlmnReservedList : [false, false, false, false, false]\n"
        "\n"
        "delete\n"
        f'FDN : "{fdn},EUtranCellFDD=LTE01ERBS00001-1,EUtranFreqRelation=1800,EUtranCellRelation=24099-1002-1"\n'
    )
    create, update, delete = read_dynamic(text)
    assert create.attributes[0] == ("EUtranFreqRelationId", Quoted("6300"))
    assert update.attributes == (
        ("qRxLevMin", Bare("-130")),
        ("additionalPlmnReservedList", Sequence((Bare("false"),) * 5)),
    )
    assert (delete.keyword, delete.line, delete.attributes) == ("delete", 12, ())
    assert read_dynamic("") == []


HEAD = 'set\nFDN : "A=1"\n'
REFUSED = [
    # text, line, column, part of the reason
    ('set\r\nFDN : "A=1"\n', 1, 4, "U+000D"),
    (HEAD + "a : 1\tb\n", 3, 6, "U+0009"),
    (HEAD + 'a : "x\u2028y"\n', 3, 7, "U+2028"),
    (HEAD + 'a : "x\u202ey"\n', 3, 7, "U+202E"),
    (HEAD + 'a : "x\\"\n', 3, 7, "a backslash"),
    (HEAD + "a : 1\n\n\n" + HEAD, 5, 1, "two blank lines"),
    ("update\n" + HEAD[4:], 1, 1, "is not an operation"),
    ("SET\n" + HEAD[4:], 1, 1, "is not an operation"),
    ("set\nFDN: A=1\n", 2, 1, 'FDN : "<FDN>"'),
    ("set\n", 1, 4, "no FDN line"),
    (HEAD + "isHoAllowed : 'false'\n", 3, 15, "not spelled as rtbfast writes it"),
    (HEAD + "a : {m=1,n=2}\n", 3, 10, "not spelled as rtbfast writes it"),
    (HEAD + "a : (m=1, n=2)\n", 3, 5, "not spelled as rtbfast writes it"),
    (HEAD + "a : [1,2]\n", 3, 8, "not spelled as rtbfast writes it"),
    (HEAD + 'a : x"y\n', 3, 5, "without quotes"),
    (HEAD + "a : 1 2\n", 3, 6, "more after the value"),
    (HEAD + "a : \n", 3, 5, "a value is missing"),
    (HEAD + 'a : "open\n', 3, 5, "never closed"),
    (HEAD + "a = 1\n", 3, 1, "'<attribute> : <value>'"),
    (HEAD + "user Label : 1\n", 3, 1, "an attribute name holds a space"),
    (HEAD + "a : {b c=1}\n", 3, 8, "expected '='"),
    (HEAD + "a : {m-=1, é=2}\n", 3, 5, "a struct member name"),
    (HEAD + "a : 1\na : 2\n", 4, 1, "written twice"),
    ('delete\nFDN : "A=1"\na : 1\n', 3, 1, "only its FDN line"),
    ('set\nFDN : "A=1 -ALL"\na : 1\n', 2, 8, "an MO id holds a space"),
    ('set\nFDN : "A=1"\na : 1', 3, 6, "does not end with a line feed"),
    (HEAD + "a : 1\nset\n", 4, 1, "'<attribute> : <value>'"),
    (HEAD + "a : " + "[" * 40 + "]" * 40 + "\n", 3, 38, "nested deeper than 32"),
]


@pytest.mark.parametrize(("text", "line", "column", "why"), REFUSED)
def test_what_rtbfast_does_not_write_is_refused_where_it_stands(text: str, line: int, column: int, why: str) -> None:
    with pytest.raises(DynamicFormatError) as caught:
        read_dynamic(text, "plan.dynamic.txt")
    err = caught.value
    assert (err.line, err.column) == (line, column), err.message
    assert why in err.reason, err.reason
    assert err.message == f"plan.dynamic.txt:{line}:{column}: {err.reason}"
    assert "\n" not in err.message


def test_the_first_thing_wrong_is_told() -> None:
    # a name refused on line 2 comes before a syntax error on line 3
    with pytest.raises(DynamicFormatError) as caught:
        read_dynamic('set\nFDN : "A=1,B"\nx : [\n')
    assert caught.value.line == 2 and "not Class=Id" in caught.value.reason
    assert caught.value.message.startswith("line 2, column 8: ")
