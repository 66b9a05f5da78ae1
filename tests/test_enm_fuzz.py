"""Hostile input for the ENM side, as properties (hypothesis): any text given to the cmedit
parser, the script reader or the simulator gives a command or a located refusal, never an
exception of another kind; any command rtbfast can write reads back to the same tree; nesting
and length are bounded."""

from __future__ import annotations

import string
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtbfast.catalog_view import CatalogView
from rtbfast.enm import cmedit
from rtbfast.enm.executor import judge
from rtbfast.enm.script import ScriptError, read_script
from rtbfast.enm.simulator import Simulator
from rtbfast.errors import InputError

ALPHABET = string.ascii_letters + string.digits + " \t=,;:()[]{}\"'.-_*#$~!<>\u2013\x00\u00e9"
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

names = st.from_regex(r"[a-z][A-Za-z0-9_]{0,8}", fullmatch=True)
bare = st.from_regex(r"[A-Za-z0-9_.\-]{1,10}", fullmatch=True).filter(lambda t: t.strip() == t)
quoted = st.text(alphabet=string.ascii_letters + string.digits + " ,=()[]{}:;._-", max_size=12).map(cmedit.Quoted)
values = st.recursive(
    st.one_of(bare.map(cmedit.Bare), quoted),
    lambda inner: st.one_of(
        st.lists(st.tuples(names, inner), min_size=1, max_size=3).map(lambda m: cmedit.Struct(tuple(m))),
        st.lists(inner, max_size=3).map(lambda i: cmedit.Sequence(tuple(i))),
    ),
    max_leaves=8,
)
FDN = "SubNetwork=ROOT,MeContext=N1,ManagedElement=N1,ENodeBFunction=1"


@SETTINGS
@given(st.text(alphabet=ALPHABET, max_size=120))
def test_any_text_is_a_command_or_a_located_refusal(text: str) -> None:
    for line in (text, f"cmedit {text}", f"cmedit set {FDN} {text}"):
        try:
            command = cmedit.parse_line(line)
        except cmedit.CmeditSyntaxError as err:
            assert 1 <= err.column <= len(line) + 1, (line, err.column)
            continue
        written = cmedit.render_line(command)
        assert cmedit.parse_line(written) == command, (line, written)


@SETTINGS
@given(st.lists(st.tuples(names, values), min_size=1, max_size=4), st.sampled_from(["set", "create"]))
def test_every_command_rtbfast_writes_reads_back(assignments: list[tuple[str, cmedit.Value]], verb: str) -> None:
    command = cmedit.Command(verb, (cmedit.Word(FDN), cmedit.Assignments(tuple(assignments))))
    line = cmedit.render_line(command)
    assert cmedit.parse_line(line) == command, line


def test_nesting_is_bounded_and_located() -> None:
    deep = f"cmedit set {FDN} x=" + "[" * 5000 + "]" * 5000
    with pytest.raises(cmedit.CmeditSyntaxError, match="nested deeper than 32") as caught:
        cmedit.parse_line(deep)
    assert caught.value.column > len(f"cmedit set {FDN} x=")
    wide = f"cmedit set {FDN} x=[" + ",".join(["1"] * 200_000) + "]"
    ((_, value),) = cmedit.parse_line(wide).assignments
    assert isinstance(value, cmedit.Sequence) and len(value.items) == 200_000


@SETTINGS
@given(st.lists(st.text(alphabet=ALPHABET, max_size=60), max_size=6))
def test_the_script_reader_refuses_in_words(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("s") / "x.cmedit"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        script = read_script(path)
    except ScriptError as err:
        assert str(err).startswith(f"{path}:")
        return
    assert all(line.command.verb in ("get", "set", "create", "delete", "action") for line in script.lines)


def test_the_script_reader_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_script(tmp_path / "missing.cmedit")
    with pytest.raises(InputError):
        read_script(tmp_path)


@pytest.fixture(scope="module")
def simulator(tables: dict[str, pa.Table], catalog: CatalogView) -> Simulator:
    return Simulator(tables, catalog)


@SETTINGS
@given(st.text(alphabet=ALPHABET, max_size=80), st.sampled_from(["get", "set", "create", "delete", "action"]))
def test_the_simulator_answers_anything_as_enm(simulator: Simulator, text: str, verb: str) -> None:
    for line in (f"cmedit {verb} {FDN}{text}", f"cmedit {verb} {FDN},EUtranCellFDD=NODE000000_0 {text}"):
        response = simulator.execute(line)
        # its text says what ENM's would: judged by ENM's rules, it means what the simulator did
        assert response.lines and judge(verb, response.lines)[0] == response.ok, response.lines
