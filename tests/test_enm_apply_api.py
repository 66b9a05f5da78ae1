"""``rtbfast apply`` as an API (rtbfast.enm.apply) and ``rtbfast journal``: the outcome object
the CLI shows, and a journal read back without its lock."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import rtbfast
from rtbfast.enm.apply import ApplyRequest, apply_script
from rtbfast.enm.executor import ExecutionError
from rtbfast.enm.journal import JournalError, journal_report
from tests.conftest import EXAMPLE_EXPORT, one_line_error
from tests.conftest import rtbfast as run_cli

CELL = "SubNetwork=EXAMPLE,MeContext=LTE01,ManagedElement=LTE01,ENodeBFunction=1,EUtranCellFDD=LTE01-1"


def script(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "s.cmedit"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_apply_returns_what_it_did(example_out: Path, tmp_path: Path) -> None:
    path = script(tmp_path, f"cmedit set {CELL} qRxLevMin=-120", f"cmedit set {CELL} qRxLevMin=-20")
    notes: list[str] = []
    progress: list[tuple[int, int]] = []
    request = ApplyRequest(path, catalog=example_out, network=EXAMPLE_EXPORT)
    result = apply_script(request, on_note=notes.append, on_progress=lambda d, t: progress.append((d, t)))
    assert not result.ok and result.kind == "apply" and result.target == "offline simulator"
    assert result.journal == tmp_path / "s.cmedit.simulator.journal.sqlite"
    assert result.outcome.sent == 1 and result.outcome.failed is not None and result.outcome.failed.number == 2
    error = result.error()
    assert error is not None and error.startswith(f"{path}:2: cmedit set {CELL} qRxLevMin=-20: Error 1009 :")
    assert "1 of 2 command(s) applied" in error and "--resume" in error
    assert progress == [(1, 2)]
    # fixed, resumed: the applied command is not sent again
    path.write_text(f"cmedit set {CELL} qRxLevMin=-120\ncmedit set {CELL} qRxLevMin=-122\n", encoding="utf-8")
    after = tmp_path / "after.xml"
    done = apply_script(
        ApplyRequest(path, catalog=example_out, network=EXAMPLE_EXPORT, resume=True, save_network=after)
    )
    assert done.ok and done.error() is None and done.outcome.skipped == 1 and done.outcome.sent == 1
    assert done.saved_network == after and done.summary().startswith("applied: 2 of 2 command(s)")
    values = {(r["fdn"], r["attribute"]): r["value"] for r in rtbfast.read_network(after).tables["values"].to_pylist()}
    assert values[(CELL, "qRxLevMin")] == "-122"
    # rolled back, once
    back = apply_script(ApplyRequest(path, catalog=example_out, network=EXAMPLE_EXPORT, rollback=True))
    assert back.ok and back.kind == "rollback" and back.notes[0].startswith("rolling back 2 applied command(s)")
    with pytest.raises(ExecutionError, match="a run is rolled back once"):
        apply_script(ApplyRequest(path, catalog=example_out, network=EXAMPLE_EXPORT, rollback=True))


def test_requests_that_cannot_run_are_refused_before_anything_is_opened(example_out: Path, tmp_path: Path) -> None:
    path = script(tmp_path, f"cmedit set {CELL} qRxLevMin=-120")
    for request, why in (
        (ApplyRequest(path), "the simulator needs --catalog and --network"),
        (ApplyRequest(path, backend="enm"), "--backend enm needs --url"),
        (ApplyRequest(path, backend="enm", url="https://e", save_network=tmp_path / "a.xml"), "--save-network"),
        (ApplyRequest(path, catalog=example_out, network=EXAMPLE_EXPORT, uncertain="maybe"), "uncertain='maybe'"),
    ):
        with pytest.raises(ExecutionError, match=why):
            apply_script(request)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.cmedit"]


def test_the_journal_command_tells_runs_stops_unknowns_and_half_done_rollbacks(
    example_out: Path, tmp_path: Path
) -> None:
    path = script(tmp_path, f"cmedit set {CELL} qRxLevMin=-120", f"cmedit set {CELL} qRxLevMin=-20")
    args = ("apply", path, "--catalog", example_out, "--network", EXAMPLE_EXPORT, "--journal", tmp_path / "j.sqlite")
    assert run_cli(*args).returncode == 1
    journal = tmp_path / "j.sqlite"
    # a command left 'sending' as a killed run leaves it
    db = sqlite3.connect(journal)
    with db:
        db.execute("UPDATE command SET state = 'sending', answer = NULL WHERE position = 1")
        db.execute("UPDATE run SET state = 'running'")
    db.close()
    before = journal.read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())
    text = run_cli("journal", journal)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"{journal}: 1 run(s), last activity 20")
    assert lines[1].startswith(f"run 1: apply of {path} on offline simulator: running, 1 applied")
    assert "1 unknown of 2 sent" in lines[1]
    assert lines[2].startswith(f"  stopped at command 2 (line 2): cmedit set {CELL} qRxLevMin=-20 [sending]")
    assert lines[3].startswith("outcome unknown: run 1 command 2 (line 2)") and "--resume reads it back" in lines[3]
    report = json.loads(run_cli("journal", journal, "--format", "json").stdout)
    assert report == journal_report(journal)
    assert report["runs"][0]["applied"] == 1 and report["uncertain"][0]["position"] == 1
    assert report["running"] is None and report["half_done_rollbacks"] == []
    assert journal.read_bytes() == before  # read without changing it
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_the_journal_command_refuses_what_is_not_a_journal(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE run (x)")
    one_line_error(run_cli("journal", other), 2, f"{other}: not an rtbfast journal")
    with pytest.raises(JournalError, match="no journal there"):
        journal_report(tmp_path / "missing.sqlite")
