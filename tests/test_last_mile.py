"""The path to the network, tried as a hostile file would (issue 16): no name or value reaches
a plan file as anything but the one thing it is, the rollback restores exactly what the
network holds, and ``apply`` runs nothing a plan does not write.

Each case runs the real command on the bundled example (catalog and export), with the hostile
part written into a copy by the test."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

import rtbfast
from rtbfast.catalog_view import CatalogView
from rtbfast.changeset import write_changeset
from rtbfast.enm import cmedit
from rtbfast.enm.plan import make_plan
from rtbfast.enm.rollback import UnknownRollback, make_rollback
from rtbfast.network_index import NetworkIndex
from tests.conftest import EXAMPLE_EXPORT, one_line_error
from tests.conftest import rtbfast as run_cli
from tests.enm_fixtures import Changes

ENB1 = "SubNetwork=EXAMPLE,MeContext=LTE01,ManagedElement=LTE01,ENodeBFunction=1"
CELL = f"{ENB1},EUtranCellFDD=LTE01-1"
CELL2 = f"{ENB1},EUtranCellFDD=LTE01-2"
ATTACK = 'x"\ncmedit delete SubNetwork=EXAMPLE -ALL\ncmedit set ' + CELL + " administrativeState=LOCKED"


def hostile_export(tmp_path: Path, label: str) -> Path:
    """The bundled example export with `label` as the userLabel of LTE01-1 (XML-escaped)."""
    from xml.sax.saxutils import escape

    text = EXAMPLE_EXPORT.read_text(encoding="utf-8")
    hit = "<es:qRxLevMin>-140</es:qRxLevMin>"
    assert text.count(hit) == 1
    text = text.replace(hit, hit + f"<es:userLabel>{escape(label, {chr(13): '&#13;'})}</es:userLabel>")
    path = tmp_path / "export.xml"
    path.write_text(text, encoding="utf-8")
    return path


def changes(tmp_path: Path, *rows: tuple[str, str, str | None, str | None]) -> Path:
    c = Changes()
    for op, fdn, attribute, value in rows:
        c.add(op, fdn, attribute, value)
    path: Path = write_changeset(c.table(), tmp_path / "changes.parquet", {"by": "test"})
    return path


def plan(changes_or_template: Path, example_out: Path, network: Path, out: Path, *more: str) -> tuple[int, str]:
    run = run_cli("plan", changes_or_template, "--catalog", example_out, "--network", network, "-o", out, *more)
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, run.stderr


# -- 1. names from template keys -------------------------------------------------------------------

INJECTED_KEYS = [
    (
        "SectorCarrier-9 SectorCarrierId=9\ncmedit delete SubNetwork=EXAMPLE -ALL\ncmedit get SubNetwork=EXAMPLE",
        "a space",
    ),
    ("SectorCarrier-9 -ALL", "a space"),
    ('SectorCarrier-9"', "'\"'"),
    ("SectorCarrier--ALL", "starts with '-'"),
    ("SectorCarrier-9\u2028cmedit delete X", "line separator"),
]


@pytest.mark.parametrize(("key", "why"), INJECTED_KEYS, ids=[w for _, w in INJECTED_KEYS])
def test_an_mo_id_from_a_template_key_is_refused_where_it_enters(
    key: str, why: str, example_out: Path, tmp_path: Path
) -> None:
    template = tmp_path / "t.json"
    template.write_text(json.dumps([{"ENodeBFunction": {key: {"noOfTxAntennas": 2}}}]), encoding="utf-8")
    check = run_cli("templates", "check", template, "--catalog", example_out)
    assert check.returncode == 1, check.stdout + check.stderr
    found = [line for line in check.stdout.splitlines() if ": error: " in line]
    assert len(found) == 1 and f"{template}:1:" in found[0] and why in found[0] and "an MO id" in found[0]
    out = tmp_path / "plan"
    run = run_cli("plan", template, "--targets", "*", "--catalog", example_out, "--network", EXAMPLE_EXPORT, "-o", out)
    line = one_line_error(run, 2, f"{template}:1:", "an MO id")
    assert "\ncmedit" not in line and not out.exists()


def test_names_in_a_changeset_are_refused_with_their_row(example_out: Path, tmp_path: Path) -> None:
    bad = changes(
        tmp_path,
        ("set", CELL + " -ALL", "userLabel", "x"),
        ("set", CELL, "user Label", "x"),
        ("delete", f"{ENB1},SectorCarrier=1\ncmedit delete SubNetwork=EXAMPLE", None, None),
    )
    code, err = plan(bad, example_out, EXAMPLE_EXPORT, tmp_path / "plan")
    assert code == 1 and "3 problem(s); nothing written" in err, err
    assert err.count("bad_name") == 3 and "hand.json#/0" in err and "an attribute name holds a space" in err
    assert not (tmp_path / "plan").exists()


def test_a_name_in_an_export_is_refused_where_it_is_read(tmp_path: Path) -> None:
    text = EXAMPLE_EXPORT.read_text(encoding="utf-8").replace('id="LTE01-2"', 'id="LTE01-2 -ALL"')
    path = tmp_path / "export.xml"
    path.write_text(text, encoding="utf-8")
    line = one_line_error(run_cli("build", path, "-o", tmp_path / "out"), 2, f"{path}:")
    assert "an MO id holds a space" in line and '"LTE01-2 -ALL"' in line


# -- 2. values the network holds, in the rollback ----------------------------------------------------


def test_an_old_value_holding_commands_never_reaches_a_script(example_out: Path, tmp_path: Path) -> None:
    export = hostile_export(tmp_path, ATTACK)
    change = changes(tmp_path, ("set", CELL, "userLabel", "north"))
    out = tmp_path / "plan"
    code, err = plan(change, example_out, export, out)
    # by default every dialect that carries the plan and its rollback is written: only 3GPP XML
    assert code == 0, err
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} >= {"plan.3gpp.xml", "rollback.3gpp.xml"}
    for name in ("plan.cmedit", "rollback.cmedit", "plan.dynamic.txt", "rollback.dynamic.txt", "plan.mos"):
        assert not (out / name).exists(), name
    assert "warning: cmedit not written" in err and "cmedit cannot carry a line feed (U+000A)" in err
    report = json.loads((out / "plan.json").read_text())
    assert report["dialects"]["written"] == ["3gpp"] and set(report["dialects"]["refused"]) == {
        "cmedit",
        "dynamic",
        "moshell",
    }
    assert "Not written: cmedit." in (out / "summary.md").read_text()
    # the XML carries the value exactly: read back byte for byte
    back = rtbfast.read_network(out / "rollback.3gpp.xml").tables["values"].to_pylist()
    assert [r["value"] for r in back if r["attribute"] == "userLabel"] == [ATTACK]
    # asked for cmedit, the plan is refused, every refusal located
    code, err = plan(change, example_out, export, tmp_path / "p2", "--dialect", "cmedit")
    assert code == 1 and not (tmp_path / "p2").exists()
    assert f"rollback.cmedit: step 0 (set {CELL}): userLabel: cmedit cannot carry a line feed" in err
    assert "network holds" in err and "\ncmedit delete" not in err


def test_a_script_whose_rollback_cannot_be_written_is_refused_before_anything_is_sent(
    example_out: Path, tmp_path: Path
) -> None:
    export = hostile_export(tmp_path, ATTACK)
    script = tmp_path / "hand.cmedit"
    script.write_text(f"cmedit set {CELL} qRxLevMin=-120\ncmedit set {CELL} userLabel=north\n", encoding="utf-8")
    run = run_cli("apply", script, "--catalog", example_out, "--network", export)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[-1] == "1 problem(s) with the rollback; nothing sent", lines
    assert f"the rollback of {script}: step 0 (set {CELL}): userLabel: cmedit cannot carry a line feed" in lines[0]
    assert "\ncmedit" not in run.stderr
    with sqlite3.connect(tmp_path / "hand.cmedit.simulator.journal.sqlite") as db:
        assert db.execute("SELECT count(*) FROM command").fetchone() == (0,)
    # applied where the value was plain, the rollback computed from the hostile network is
    # refused the same way, located, nothing sent
    clean = tmp_path / "clean"
    clean.mkdir()
    plain = hostile_export(clean, "plain")
    assert run_cli("apply", script, "--catalog", example_out, "--network", plain).returncode == 0
    back = run_cli("apply", script, "--catalog", example_out, "--network", export, "--rollback")
    assert back.returncode == 1 and "Traceback" not in back.stderr, back.stderr
    assert "the rollback of run 1: step 0" in back.stderr and "cmedit cannot carry a line feed" in back.stderr
    assert back.stderr.strip().splitlines()[-1] == "1 problem(s) with the rollback; nothing sent"


@pytest.mark.parametrize(
    ("value", "char"),
    [
        ("a\nrdel ENodeBFunction=1", "a line feed (U+000A)"),
        ("a\rb", "a carriage return (U+000D)"),
        ("a\u2028b", "a Unicode line separator (U+2028)"),
        ("a\u202eb", "a control character (U+202E)"),
        ('say "hi"', "'\"' (U+0022)"),
        ("back\\slash", "'\\\\' (U+005C)"),
    ],
)
def test_a_new_value_that_a_line_dialect_cannot_carry(value: str, char: str, example_out: Path, tmp_path: Path) -> None:
    change = changes(tmp_path, ("set", CELL, "userLabel", value))
    export = hostile_export(tmp_path, "old")
    out = tmp_path / "plan"
    code, err = plan(change, example_out, export, out)
    assert code == 0, err
    assert not (out / "plan.mos").exists() and not (out / "plan.dynamic.txt").exists()
    assert f"plan.cmedit: step 0 (set {CELL}): userLabel: cmedit cannot carry {char}" in err
    back = rtbfast.read_network(out / "plan.3gpp.xml").tables["values"].to_pylist()
    assert [r["value"] for r in back if r["attribute"] == "userLabel"] == [value]
    code, err = plan(change, example_out, export, tmp_path / "mos", "--dialect", "moshell")
    assert code == 1 and "plan.mos: step 0" in err and not (tmp_path / "mos").exists()


def test_values_a_word_would_misread_are_quoted(example_out: Path, tmp_path: Path) -> None:
    export = hostile_export(tmp_path, "old")
    out = tmp_path / "plan"
    c = Changes().add("set", CELL, "userLabel", "-ALL")
    code, err = plan(write_changeset(c.table(), tmp_path / "c.parquet", {}), example_out, export, out)
    assert code == 0, err
    (line,) = (out / "plan.cmedit").read_text().splitlines()
    assert line.endswith('userLabel="-ALL"')
    assert dict(cmedit.parse_line(line).assignments)["userLabel"] == cmedit.Quoted("-ALL")
    c = Changes().add("set", CELL, "userLabel", "null")
    code, err = plan(write_changeset(c.table(), tmp_path / "n.parquet", {}), example_out, export, out)
    assert (out / "plan.cmedit").read_text().strip().endswith('userLabel="null"')


# -- 3. the rollback restores exactly ------------------------------------------------------------------


def test_a_value_the_network_holds_is_restored_even_when_the_catalog_refuses_it(
    example_out: Path, tmp_path: Path
) -> None:
    # the bundled export holds qRxLevMin=-139 on LTE01-2, against a resolution of 2
    template = tmp_path / "all.json"
    template.write_text(json.dumps([{"EUtranCellFDD": {"qRxLevMin": -124}}]), encoding="utf-8")
    out = tmp_path / "plan"
    code, err = plan(template, example_out, EXAMPLE_EXPORT, out, "--targets", "*")
    assert code == 0, err
    assert "warning: the rollback restores 1 value(s) the catalog refuses" in err
    assert f"cmedit set {CELL2} qRxLevMin=-139" in (out / "rollback.cmedit").read_text().splitlines()
    summary = (out / "summary.md").read_text()
    assert "qRxLevMin** = `-139`: resolution" in summary
    apply = ("apply", out / "plan.cmedit", "--catalog", example_out, "--network", EXAMPLE_EXPORT)
    after = tmp_path / "after.xml"
    assert run_cli(*apply).returncode == 0
    back = run_cli(*apply, "--rollback", "--save-network", after)
    assert back.returncode == 0, back.stderr
    restored = {
        r["fdn"]: r["value"]
        for r in rtbfast.read_network(after).tables["values"].to_pylist()
        if r["attribute"] == "qRxLevMin"
    }
    original = {
        r["fdn"]: r["value"]
        for r in rtbfast.read_network(EXAMPLE_EXPORT).tables["values"].to_pylist()
        if r["attribute"] == "qRxLevMin"
    }
    assert restored == original and restored[CELL2] == "-139"


def test_an_attribute_the_export_lacks_is_refused_or_listed_never_nulled(example_out: Path, tmp_path: Path) -> None:
    # the example export carries no userLabel: its value before is unknown
    change = changes(tmp_path, ("set", CELL, "userLabel", "north"), ("set", CELL, "qRxLevMin", "-120"))
    code, err = plan(change, example_out, EXAMPLE_EXPORT, tmp_path / "refused")
    assert code == 1 and "unknown_old_value" in err and "userLabel" in err and "--allow-unknown-rollback" in err
    assert "qRxLevMin" not in err and not (tmp_path / "refused").exists()
    out = tmp_path / "plan"
    code, err = plan(change, example_out, EXAMPLE_EXPORT, out, "--allow-unknown-rollback")
    assert code == 0 and "1 changed attribute(s) have no value in the export" in err, err
    rollback = (out / "rollback.cmedit").read_text()
    assert "userLabel" not in rollback and "null" not in rollback and "qRxLevMin=-140" in rollback
    summary = (out / "summary.md").read_text()
    assert "Not restored by the rollback (1)" in summary and f"`{CELL}` **userLabel**" in summary
    assert json.loads((out / "plan.json").read_text())["counts"]["unknown_rollback"] == 1


def test_a_lock_window_on_an_mo_of_unknown_state_never_leaves_it_locked(catalog: CatalogView) -> None:
    tables = rtbfast.read_network(EXAMPLE_EXPORT).tables
    values = tables["values"]
    keep = [
        not (f == CELL and a == "administrativeState")
        for f, a in zip(
            values["fdn"].cast(pa.string()).to_pylist(), values["attribute"].cast(pa.string()).to_pylist(), strict=True
        )
    ]
    tables = {**tables, "values": values.filter(pa.array(keep))}
    network = NetworkIndex(tables)
    steps = make_plan(Changes().add("set", CELL, "earfcndl", "6350").table(), network, catalog).steps
    assert [r["op"] for r in steps.to_pylist()] == ["lock", "set", "unlock"]
    with pytest.raises(UnknownRollback, match="administrativeState"):
        make_rollback(steps, network, catalog)
    back = make_rollback(steps, network, catalog, allow_unknown=True)
    states = [r["value"] for r in back.steps.to_pylist() if r["attribute"] == "administrativeState"]
    assert states == ["LOCKED", "UNLOCKED"]  # undo the unlock, ..., end as the plan's unlock left it
    assert back.unknown["attribute"].to_pylist() == ["administrativeState"]


# -- 4. apply runs only what a plan writes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (f"cmedit set {CELL} userLabel=a cmedit delete SubNetwork=EXAMPLE -ALL", "expected ',' between attributes"),
        (f"cmedit get {CELL} -ALL", "the option '-ALL'"),
        (f"cmedit delete {CELL} -ALL", "the option '-ALL'"),
        (f"cmedit set {CELL} userLabel=a --force", "the option '--force'"),
        ("cmedit set * EUtranCellFDD userLabel=a", "is not a node and the RDNs"),
        ("cmedit get LTE01 ENodeBFunction=1 EUtranCellFDD", "is not one MO"),
        ("cmedit get LTE01 EUtranCellFDD", "is not a node and the RDNs"),
        (f"cmedit get {CELL} cmedit", "a second 'cmedit'"),
        (f'cmedit set {CELL} userLabel="a\u2028cmedit delete X"', "U+2028 inside the line"),
        (f'cmedit set {CELL} userLabel="a\rcmedit delete X"', "U+000D inside the line"),
        (f'cmedit set {CELL} userLabel="a\\",administrativeState=LOCKED', "a backslash"),
        (f"cmedit set {CELL} user.Label=a", "the attribute 'user.Label'"),
        (f'cmedit set {CELL} userLabel="a\u202eb"', "invisible format character (U+202E)"),
    ],
)
def test_apply_refuses_what_a_plan_never_writes(line: str, why: str, example_out: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.cmedit"
    script.write_bytes((f"cmedit get {CELL}\n" + line + "\n").encode())
    run = run_cli("apply", script, "--catalog", example_out, "--network", EXAMPLE_EXPORT)
    one_line_error(run, 2, f"{script}:2:", why)
    assert not (tmp_path / "s.cmedit.simulator.journal.sqlite").exists()


def test_a_script_with_crlf_line_ends_runs(example_out: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.cmedit"
    script.write_bytes(f"cmedit get {CELL}\r\ncmedit set {CELL} qRxLevMin=-120\r\n".encode())
    run = run_cli("apply", script, "--catalog", example_out, "--network", EXAMPLE_EXPORT)
    assert run.returncode == 0, run.stderr


def test_apply_checks_the_rollback_of_unknown_old_values_before_it_runs(example_out: Path, tmp_path: Path) -> None:
    # the bundled export carries no userLabel: a script changing it cannot be undone exactly
    script = tmp_path / "s.cmedit"
    script.write_text(f"cmedit set {CELL} qRxLevMin=-120\ncmedit set {CELL} userLabel=north\n", encoding="utf-8")
    args = ("apply", script, "--catalog", example_out, "--network", EXAMPLE_EXPORT)
    refused = run_cli(*args)
    assert refused.returncode == 1 and "unknown_old_value" in refused.stderr and "userLabel" in refused.stderr
    assert "nothing sent" in refused.stderr
    after = tmp_path / "after.xml"
    ran = run_cli(*args, "--allow-unknown-rollback")
    assert ran.returncode == 0, ran.stderr
    back = run_cli(*args, "--rollback", "--allow-unknown-rollback", "--save-network", after)
    assert back.returncode == 0, back.stderr
    values = {(r["fdn"], r["attribute"]): r["value"] for r in rtbfast.read_network(after).tables["values"].to_pylist()}
    assert values[(CELL, "qRxLevMin")] == "-140"  # undone
    assert values[(CELL, "userLabel")] == "north"  # left as the run set it, as asked


def test_a_rehearsal_on_the_simulator_has_a_journal_of_its_own(example_out: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.cmedit"
    script.write_text(f"cmedit set {CELL} qRxLevMin=-120\n", encoding="utf-8")
    assert run_cli("apply", script, "--catalog", example_out, "--network", EXAMPLE_EXPORT).returncode == 0
    assert (tmp_path / "s.cmedit.simulator.journal.sqlite").is_file()
    assert not (tmp_path / "s.cmedit.journal.sqlite").exists()  # ENM's, still free for the real run
