"""Import jobs (issue 17): ``rtbfast apply plan.dynamic.txt | plan.3gpp.xml`` runs the file as one
ENM import job, on the simulator (and, through the fake ENM's import handler, on ENM's
protocol), journaled per operation, resumed by re-attaching to the job, rolled back once;
``rtbfast plan --import-chunk N`` splits the import files per node; the summary recommends a
route and estimates its duration.

Kills are real processes (``rtbfast apply`` killed while it polls the job); what the backend
was sent is read from ``--transcript`` (appended by both processes) or counted by the fake's
handler."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import rtbfast
from rtbfast.catalog_view import CatalogView
from rtbfast.changeset import write_changeset
from rtbfast.enm.apply import ApplyRequest, apply_script
from rtbfast.enm.dialects import import_chunks, import_operations
from rtbfast.enm.enm_client import flatten
from rtbfast.enm.executor import EnmBackend, ExecutionError, SimulatorBackend
from rtbfast.enm.imports import (
    ImportFile,
    ImportFileError,
    file_route,
    match_outcomes,
    parse_status,
    read_import_file,
    read_operations,
    rollback_file,
    run_import,
    upload_name,
)
from rtbfast.enm.journal import SCHEMA_VERSION, Journal, journal_report
from rtbfast.enm.planning import plan_changes, write_plan_folder
from rtbfast.enm.simulator import SCHEMA_FAILED, VALIDATION_FAILURES, Simulator, canonical
from rtbfast.enm.summary import RouteTiming, duration, route_facts
from tests.conftest import one_line_error
from tests.conftest import rtbfast as run_cli
from tests.enm_fixtures import CELL, CELL1, ENB, Changes
from tests.fake_enm import FakeEnm
from tests.fake_enm_imports import ImportJobs

ROOT = "SubNetwork=ROOT"


def cell(node: int, c: int = 0) -> str:
    n = f"NODE{node:06d}"
    return f"{ROOT},MeContext={n},ManagedElement={n},ENodeBFunction=1,EUtranCellFDD={n}_{c}"


def block(fdn: str, *lines: str, keyword: str = "set") -> str:
    return "\n".join([keyword, f'FDN : "{fdn}"', *lines]) + "\n\n"


def _same(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> bool:
    x, y = canonical(a), canonical(b)
    return bool(x["mos"].equals(y["mos"]) and x["values"].equals(y["values"]))


def _read(journal: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        return list(db.execute(sql))


def _results(journal: Path, run: int = 1) -> list[str]:
    return [r for (r,) in _read(journal, f"SELECT result FROM import_operation WHERE run = {run} ORDER BY position")]


def _network_after(path: Path) -> dict[str, pa.Table]:
    return dict(rtbfast.read_network(path).tables)


def _value(tables: dict[str, pa.Table], fdn: str, attribute: str) -> str | None:
    for r in tables["values"].select(["fdn", "attribute", "value"]).to_pylist():
        if r["fdn"] == fdn and r["attribute"] == attribute:
            return str(r["value"])
    return None


@pytest.fixture
def plan_folder(tmp_path: Path, example_out: Path, export: Path) -> Path:
    """A plan of creates, sets that need a lock and sets that do not, on two nodes."""
    changes = (
        Changes()
        .add("create", f"{ENB},SectorCarrier=9")
        .add("create", f"{ENB},SectorCarrier=9", "noOfTxAntennas", "4")
        .add("set", CELL, "earfcndl", "500")  # needs the cell LOCKED: lock, set, unlock
        .add("set", CELL, "qRxLevMin", "-120")
        .add("set", CELL1, "userLabel", "north")
        .add("set", cell(1), "qRxLevMin", "-124")
    )
    source = write_changeset(changes.table(), tmp_path / "changes.parquet", {"by": "test"})
    planned = plan_changes(source, example_out, export)
    out = tmp_path / "plan"
    write_plan_folder(planned, out)
    return out


def _apply(path: Path, example_out: Path, export: Path, **options: Any) -> Any:
    request = ApplyRequest(path, catalog=example_out, network=export, poll_interval=0, **options)
    return apply_script(request)


# -- the route and the files ------------------------------------------------------------------


def test_the_route_is_told_by_the_file(plan_folder: Path) -> None:
    assert file_route(plan_folder / "plan.cmedit") == "cmedit"
    assert file_route(plan_folder / "plan.dynamic.txt") == "dynamic"
    assert file_route(plan_folder / "plan.3gpp.xml") == "3gpp"
    assert file_route(plan_folder / "missing.txt") == "cmedit"  # its reader says it is missing
    ops = read_import_file(plan_folder / "plan.dynamic.txt", "dynamic").operations
    assert [o.operation for o in ops] == ["create", "set", "set", "set", "set", "set"]
    assert ops[0].rows == (("noOfTxAntennas", None, 0, "4"),)  # the naming attribute is the id, not a row
    assert ops[1].rows == (("administrativeState", None, 0, "LOCKED"),) and ops[1].line == 6


def test_a_file_that_is_not_the_format_is_refused_before_anything_is_sent(
    tmp_path: Path, example_out: Path, export: Path
) -> None:
    bad = tmp_path / "bad.dynamic.txt"
    bad.write_text(block(CELL, "qRxLevMin : -120") + "SET\nFDN : x\n", encoding="utf-8")
    run = run_cli("apply", bad, "--catalog", example_out, "--network", export)
    one_line_error(run, 2, f"{bad}:5:1: 'SET' is not an operation")
    spaced = tmp_path / "a b.txt"
    spaced.write_text(block(CELL, "qRxLevMin : -120"), encoding="utf-8")
    with pytest.raises(ImportFileError, match="cannot be sent as file:NAME"):
        _apply(spaced, example_out, export)
    unchanged = tmp_path / "network.xml"  # an export: no MO with a modifier
    unchanged.write_bytes(export.read_bytes())
    with pytest.raises(ImportFileError, match="no operation to import"):
        _apply(unchanged, example_out, export)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a b.txt", "bad.dynamic.txt", "network.xml"]  # no journal


def test_the_simulator_answers_7025_for_a_file_that_is_not_its_type(
    tables: dict[str, pa.Table], catalog: CatalogView
) -> None:
    simulator = Simulator(tables, catalog)
    answer = simulator.execute_import(
        "cmedit import -f file:x.txt --filetype dynamic --error stop", ("x.txt", b"<bulkCmConfigDataFile/>\n")
    )
    assert answer.lines == ["job setup successful with job ID 1"]
    status = simulator.execute_import("cmedit import -st -j 1 -v").lines
    parsed = parse_status(status, 1)
    assert (parsed.status, parsed.detail, parsed.operations) == ("FAILED", SCHEMA_FAILED, [])
    refused = simulator.execute_import("cmedit import -f file:y.txt --filetype dynamic", ("x.txt", b""))
    assert not refused.ok and refused.lines[0].startswith("Error 4020 : ")  # the file named is not the one attached
    assert simulator.uploads == [(1, "x.txt")]


# -- one job, journaled per operation -----------------------------------------------------------


def test_a_dynamic_file_runs_as_one_job_and_leaves_the_network_the_commands_leave(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    notes: list[str] = []
    progress: list[tuple[int, int]] = []
    request = ApplyRequest(
        path, catalog=example_out, network=export, poll_interval=0, save_network=tmp_path / "by-import.xml"
    )
    result = apply_script(request, on_note=notes.append, on_progress=lambda d, t: progress.append((d, t)))
    assert result.ok and result.error() is None and result.job is not None
    assert (result.job.job_id, result.job.applied, result.job.total) == (1, 6, 6)
    assert result.summary().startswith("applied: 6 of 6 operation(s) (6 applied, 0 failed, 0 not applied) as job 1")
    assert notes[0].startswith("uploading plan.dynamic.txt: 6 operation(s) as one import job (dynamic, --error stop)")
    assert progress[-1] == (6, 6)
    journal = path.with_name("plan.dynamic.txt.simulator.journal.sqlite")
    assert result.journal == journal
    ((job_id, sha, state, status, detail, polls, operations, command),) = _read(
        journal,
        "SELECT job_id, sha256, state, status, status_detail, polls, operations, command FROM import_job WHERE run = 1",
    )
    assert (job_id, state, status, detail, operations) == (1, "ended", "COMPLETED", "COMPLETED", 6)
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest() and polls >= 1
    assert command == "cmedit import -f file:plan.dynamic.txt --filetype dynamic --error stop"
    rows = _read(journal, "SELECT position, line, operation, fdn, state, result FROM import_operation ORDER BY 1")
    ops = read_import_file(path, "dynamic").operations
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(o.position, o.line, o.operation, o.fdn) for o in ops]
    assert {(r[4], r[5]) for r in rows} == {("executed", "applied")}
    # the same change, command by command
    commands = _apply(plan_folder / "plan.cmedit", example_out, export, save_network=tmp_path / "by-commands.xml")
    assert commands.ok
    after = _network_after(tmp_path / "by-import.xml")
    assert _same(after, _network_after(tmp_path / "by-commands.xml"))
    assert not _same(after, _network_after(export))
    assert _value(after, CELL, "earfcndl") == "500" and _value(after, CELL1, "userLabel") == "north"


@pytest.fixture
def unlocked_folder(tmp_path: Path, example_out: Path, export: Path) -> Path:
    """A plan that needs no lock: a create and sets on two nodes (a 3GPP file carries it)."""
    changes = (
        Changes()
        .add("create", f"{ENB},SectorCarrier=9")
        .add("create", f"{ENB},SectorCarrier=9", "noOfTxAntennas", "4")
        .add("set", CELL, "qRxLevMin", "-120")
        .add("set", CELL1, "userLabel", "north")
        .add("set", cell(1), "qRxLevMin", "-124")
    )
    source = write_changeset(changes.table(), tmp_path / "unlocked.parquet", {"by": "test"})
    out = tmp_path / "unlocked"
    write_plan_folder(plan_changes(source, example_out, export), out)
    return out


def test_a_3gpp_file_runs_as_one_job_and_leaves_the_network_the_commands_leave(
    unlocked_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = unlocked_folder / "plan.3gpp.xml"
    result = _apply(path, example_out, export, save_network=tmp_path / "by-import.xml")
    assert result.ok and result.job.filetype == "3GPP" and result.job.applied == result.job.total == 4
    commands = _apply(unlocked_folder / "plan.cmedit", example_out, export, save_network=tmp_path / "by-commands.xml")
    assert commands.ok
    assert _same(_network_after(tmp_path / "by-import.xml"), _network_after(tmp_path / "by-commands.xml"))
    journal = path.with_name("plan.3gpp.xml.simulator.journal.sqlite")
    assert set(_read(journal, "SELECT operation, fdn FROM import_operation")) == {
        ("create", f"{ENB},SectorCarrier=9"),
        ("set", CELL),
        ("set", CELL1),
        ("set", cell(1)),
    }


def test_the_3gpp_file_of_a_plan_with_locks_fails_where_the_node_refuses(
    plan_folder: Path, example_out: Path, export: Path
) -> None:
    """The 3GPP file leaves the plan's lock steps out (no element says lock): the set of
    earfcndl reaches an UNLOCKED cell, and the node refuses it when the job executes it."""
    path = plan_folder / "plan.3gpp.xml"
    result = _apply(path, example_out, export)
    job = result.job
    assert not result.ok and job.status == "FAILED" and job.detail.startswith("Execution errors: 1 operation(s)")
    journal = path.with_name("plan.3gpp.xml.simulator.journal.sqlite")
    rows = _read(journal, "SELECT fdn, state, result, message FROM import_operation ORDER BY position")
    failed = [i for i, r in enumerate(rows) if r[2] == "failed"]
    assert len(failed) == 1 and rows[failed[0]][0] == CELL and rows[failed[0]][1] == "execution-error"
    assert "earfcndl can only be changed when" in rows[failed[0]][3] and "is LOCKED" in rows[failed[0]][3]
    assert [r[2] for r in rows[: failed[0]]] == ["applied"] * failed[0]  # --error stop: before it, applied
    assert all(r[2] == "not_applied" and r[1] == "execution-skipped" for r in rows[failed[0] + 1 :])
    error = result.error()
    assert error.startswith(f"{path}: set {CELL}: Error 9999 : Execution Error (RESPONSE ERROR MESSAGE FROM NODE")
    assert "(job 1: FAILED: Execution errors" in error and "--rollback" in error
    assert _read(journal, "SELECT state FROM run") == [("failed",)]


POLICY_CASES = {
    # the second operation fails validation (a value the model refuses) or execution (the node:
    # earfcndl needs the cell LOCKED); the third is on the same node, the fourth on another
    ("validation", "stop"): (["not_applied", "failed", "not_applied", "not_applied"], "FAILED", VALIDATION_FAILURES),
    ("validation", "node"): (["applied", "failed", "not_applied", "applied"], "COMPLETED", VALIDATION_FAILURES),
    ("validation", "operation"): (["applied", "failed", "applied", "applied"], "COMPLETED", VALIDATION_FAILURES),
    ("execution", "stop"): (["applied", "failed", "not_applied", "not_applied"], "FAILED", "Execution errors"),
    ("execution", "node"): (["applied", "failed", "not_applied", "applied"], "COMPLETED", "Execution errors"),
    ("execution", "operation"): (["applied", "failed", "applied", "applied"], "COMPLETED", "Execution errors"),
}


def _policy_file(tmp_path: Path, failure: str) -> Path:
    second = "qRxLevMin : -20" if failure == "validation" else "earfcndl : 500"
    path = tmp_path / f"{failure}.dynamic.txt"
    path.write_text(
        block(cell(0), "qRxLevMin : -120")
        + block(cell(1), second)
        + block(cell(1, 1), "qRxLevMin : -122")
        + block(cell(2), "qRxLevMin : -124"),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(("failure", "policy"), list(POLICY_CASES), ids=[f"{f}-{p}" for f, p in POLICY_CASES])
def test_each_error_policy_as_enm_executes_it(
    failure: str, policy: str, tables: dict[str, pa.Table], catalog: CatalogView, tmp_path: Path
) -> None:
    results, status, detail = POLICY_CASES[(failure, policy)]
    path = _policy_file(tmp_path, failure)
    simulator = Simulator(tables, catalog)
    with Journal(tmp_path / "j.sqlite") as journal:
        outcome = run_import(
            read_import_file(path, "dynamic"), SimulatorBackend(simulator), journal, policy=policy, poll_interval=0
        )
    assert not outcome.ok and outcome.status == status and (outcome.detail or "").startswith(detail)
    assert _results(tmp_path / "j.sqlite") == results
    after = simulator.tables()
    wanted = {cell(0): "-120", cell(1, 1): "-122", cell(2): "-124"}
    for position, fdn in ((0, cell(0)), (2, cell(1, 1)), (3, cell(2))):
        assert _value(after, fdn, "qRxLevMin") == (wanted[fdn] if results[position] == "applied" else "-140")
    assert _value(after, cell(1), "earfcndl") == "6300" and _value(after, cell(1), "qRxLevMin") == "-140"
    # what the verbose status said of the failed one, journaled as said
    ((state, message),) = _read(tmp_path / "j.sqlite", "SELECT state, message FROM import_operation WHERE position = 1")
    if failure == "validation":
        assert state == "invalid" and message.startswith("Error 1009 : An incorrect value (-20)")
    else:
        assert state == "execution-error" and "can only be changed when" in message
    verbose = parse_status(simulator.execute_import("cmedit import -st -j 1 -v").lines, 1)
    assert [r.fdn for r in verbose.operations] == [cell(0), cell(1), cell(1, 1), cell(2)]


# -- resumed by re-attaching to the job -----------------------------------------------------------


def _start(*args: str | Path) -> subprocess.Popen[str]:
    """``rtbfast apply ARGS`` in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "rtbfast.cli", "apply", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _kill_while_polled(process: subprocess.Popen[str], journal: Path, transcript: Path, run: int = 1) -> int:
    """Wait until `process` has the job's id journaled and has read its status at least twice
    (it is polling), then kill it (SIGKILL); the job id."""
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the run never polled its job: {process.communicate()[1][-2000:]}")
        polls = transcript.read_text().count("> cmedit import -st -j") if transcript.exists() else 0
        try:
            found = _read(journal, f"SELECT job_id FROM import_job WHERE run = {run}") if journal.exists() else []
        except sqlite3.OperationalError:  # the journal made, its tables not yet
            found = []
        if polls >= 2 and found and found[0][0] is not None:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    return int(found[0][0])


def _uploads(transcript: Path) -> list[str]:
    return [line for line in transcript.read_text().splitlines() if line.startswith("> cmedit import -f")]


def test_a_run_killed_while_it_polls_resumes_on_the_same_job_and_never_uploads_again(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    journal, transcript = tmp_path / "j.sqlite", tmp_path / "sent.log"
    args = (path, "--catalog", example_out, "--network", export, "--journal", journal, "--transcript", transcript)
    first = _start(*args, "--poll-interval", "0.05", "--simulator-job-seconds", "120")
    job = _kill_while_polled(first, journal, transcript)
    assert _read(journal, "SELECT state, job_id FROM import_job") == [("polling", job)]
    assert _read(journal, "SELECT state FROM run") == [("running",)]
    assert set(_results(journal)) == {"pending"}
    killed_at = len(transcript.read_text().splitlines())
    listing = run_cli("journal", journal)
    assert f"job {job} (dynamic, --error stop): IN PROGRESS" in listing.stdout
    resumed = run_cli("apply", *args, "--poll-interval", "0", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"re-attaching to job {job} of run 1" in resumed.stderr and "it is not uploaded again" in resumed.stderr
    assert len(_uploads(transcript)) == 1  # the killed run's, and no other
    after = transcript.read_text().splitlines()[killed_at:]
    polled = [line for line in after if line.startswith("> ")]
    assert polled and set(polled) <= {f"> cmedit import -st -j {job}", f"> cmedit import -st -j {job} -v"}
    assert _read(journal, "SELECT id, kind, state FROM run") == [(1, "apply", "done")]
    assert _read(journal, "SELECT state, job_id, status FROM import_job") == [("ended", job, "COMPLETED")]
    assert _results(journal) == ["applied"] * 6
    assert not (tmp_path / "j.sqlite.lock").exists()


def test_an_upload_whose_answer_never_came_is_not_uploaded_again_unless_told(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    transcript = tmp_path / "sent.log"
    # a run stopped while the job ran (the job goes on in ENM)
    stopped = _apply(path, example_out, export, simulator_job_seconds=60, job_timeout=0, transcript=transcript)
    assert not stopped.ok and stopped.job.unfinished
    error = stopped.error()
    assert "job 1 has not been seen to end" in error and "--resume follows it again" in error
    journal = stopped.journal
    # as a run killed after the upload went out and before ENM's answer came leaves it
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE import_job SET state = 'uploading', job_id = NULL, answer = NULL, answered = NULL")
    refused = run_cli("apply", path, "--catalog", example_out, "--network", export, "--resume")
    line = one_line_error(refused, 2, "the upload of run 1 (file:plan.dynamic.txt, sent ", "got no answer")
    assert "--resume --job ID" in line and "--uncertain resend" in line and "cmedit import --status" in line
    listing = run_cli("journal", journal).stdout
    assert "upload unanswered: run 1 uploaded file:plan.dynamic.txt" in listing
    assert len(_uploads(transcript)) == 1
    # the operator found the job: followed, not uploaded
    followed = _apply(path, example_out, export, resume=True, job=1, transcript=transcript)
    assert followed.ok and followed.job.job_id == 1 and followed.job.reattached
    assert len(_uploads(transcript)) == 1
    assert _read(journal, "SELECT job_id, state, answer FROM import_job") == [
        (1, "ended", "attached by the operator: --job 1")
    ]


def test_an_upload_told_to_be_sent_again_is_a_new_job(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    transcript = tmp_path / "sent.log"
    first = _apply(path, example_out, export, simulator_job_seconds=60, job_timeout=0, transcript=transcript)
    with sqlite3.connect(first.journal) as db:
        db.execute("UPDATE import_job SET state = 'uploading', job_id = NULL, answer = NULL, answered = NULL")
    with pytest.raises(ExecutionError, match="not both"):
        _apply(path, example_out, export, resume=True, job=1, uncertain="resend", transcript=transcript)
    again = _apply(path, example_out, export, resume=True, uncertain="resend", transcript=transcript)
    assert again.ok and again.job.uploaded and len(_uploads(transcript)) == 2
    with pytest.raises(ExecutionError, match="applied completely in run 1"):
        _apply(path, example_out, export, transcript=transcript)


def test_a_job_followed_past_its_timeout_is_followed_again_on_resume(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    transcript = tmp_path / "sent.log"
    slow = {"simulator_job_seconds": 1.5, "transcript": transcript}
    stopped = _apply(path, example_out, export, job_timeout=0.2, **slow)
    assert not stopped.ok and stopped.job.unfinished and stopped.job.status == "IN PROGRESS"
    with pytest.raises(ExecutionError, match=r"run 1 of .* stopped \(failed, job 1: polling"):
        _apply(path, example_out, export, **slow)  # not started again: --resume
    resumed = _apply(path, example_out, export, resume=True, job_timeout=60, **slow)
    assert resumed.ok and resumed.job.job_id == 1 and resumed.job.reattached and len(_uploads(transcript)) == 1
    assert resumed.job.applied == 6
    done = _apply(path, example_out, export, resume=True, **slow)  # nothing left: the journal's word
    assert done.ok and done.job.applied == 6 and len(_uploads(transcript)) == 1


# -- rolled back once -----------------------------------------------------------------------------


def test_a_job_that_applied_everything_is_rolled_back_once_by_the_plans_rollback_file(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    transcript = tmp_path / "sent.log"
    assert _apply(path, example_out, export, transcript=transcript).ok
    back = _apply(path, example_out, export, rollback=True, transcript=transcript, save_network=tmp_path / "back.xml")
    assert back.ok and back.kind == "rollback" and back.ran == plan_folder / "rollback.dynamic.txt"
    assert back.notes[0].startswith(
        f"rolling back the 6 applied operation(s) of run 1 with {plan_folder / 'rollback.dynamic.txt'}, which "
        "rtbfast plan wrote with plan.dynamic.txt"
    )
    assert _same(_network_after(tmp_path / "back.xml"), _network_after(export))
    uploads = _uploads(transcript)
    assert len(uploads) == 2
    assert uploads[1] == "> cmedit import -f file:rollback.dynamic.txt --filetype dynamic --error stop"
    journal = back.journal
    assert _read(journal, "SELECT id, kind, state, undoes FROM run") == [
        (1, "apply", "rolled_back", None),
        (2, "rollback", "done", 1),
    ]
    ((kept,),) = _read(journal, "SELECT text FROM script WHERE run = 2")
    assert kept == (plan_folder / "rollback.dynamic.txt").read_text()
    with pytest.raises(ExecutionError, match="a run is rolled back once"):
        _apply(path, example_out, export, rollback=True, transcript=transcript)
    assert len(_uploads(transcript)) == 2


def test_a_rollback_file_changed_since_the_plan_is_refused(plan_folder: Path, example_out: Path, export: Path) -> None:
    path = plan_folder / "plan.dynamic.txt"
    assert _apply(path, example_out, export).ok
    rollback = plan_folder / "rollback.dynamic.txt"
    rollback.write_text(rollback.read_text().replace("-140", "-130"), encoding="utf-8")
    with pytest.raises(ExecutionError, match="changed since rtbfast plan wrote it"):
        _apply(path, example_out, export, rollback=True)


def test_a_partly_applied_job_is_rolled_back_by_exactly_what_it_applied(
    tmp_path: Path, example_out: Path, export: Path
) -> None:
    path = _policy_file(tmp_path, "execution")
    partly = _apply(path, example_out, export, error_policy="node")
    assert not partly.ok and (partly.job.applied, partly.job.failed, partly.job.not_applied) == (2, 1, 1)
    assert "Undo what it applied with --rollback" in partly.error()
    with pytest.raises(ExecutionError, match="an ended job is not resumed: undo what it applied with --rollback"):
        _apply(path, example_out, export, resume=True)
    with Journal(partly.journal) as journal, pytest.raises(ExecutionError, match="computed from --catalog and --net"):
        rollback_file(journal, journal.run(1), network=None, catalog=None)  # as on ENM without them
    back = _apply(path, example_out, export, rollback=True, save_network=tmp_path / "back.xml")
    assert back.ok, back.error()
    assert "the rollback of the 2 applied operation(s), computed from --network: 2 operation(s)" in back.notes[0]
    assert _same(_network_after(tmp_path / "back.xml"), _network_after(export))
    ((kept,),) = _read(back.journal, "SELECT text FROM script WHERE run = 2")
    assert kept == block(cell(2), "qRxLevMin : -140") + block(cell(0), "qRxLevMin : -140")  # reverse order


def test_a_job_that_applied_nothing_has_nothing_to_undo(tmp_path: Path, example_out: Path, export: Path) -> None:
    path = _policy_file(tmp_path, "validation")
    assert _apply(path, example_out, export).job.applied == 0
    back = _apply(path, example_out, export, rollback=True)
    assert back.ok and back.notes == ["rolling back run 1: nothing was applied by job 1, so there is nothing to undo"]
    runs = _read(back.journal, "SELECT id, kind, state FROM run")
    assert runs == [(1, "apply", "rolled_back"), (2, "rollback", "done")]
    assert _read(back.journal, "SELECT count(*) FROM import_job WHERE run = 2") == [(0,)]


def test_a_rollback_killed_while_it_polls_resumes_on_its_job(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    journal, transcript = tmp_path / "j.sqlite", tmp_path / "sent.log"
    args = (path, "--catalog", example_out, "--network", export, "--journal", journal, "--transcript", transcript)
    assert run_cli("apply", *args, "--poll-interval", "0").returncode == 0
    rollback = _start(*args, "--rollback", "--poll-interval", "0.05", "--simulator-job-seconds", "120")
    job = _kill_while_polled(rollback, journal, transcript, run=2)
    assert job == 2  # the simulator replayed the apply's job 1 first, as ENM keeps it
    refused = run_cli("apply", *args)
    one_line_error(refused, 2, f"the rollback of run 1 (run 2, job {job}, polling) stopped", "--resume goes on with it")
    half = run_cli("journal", journal).stdout
    assert "half-done rollback: run 2 undoing run 1 (running, 0 applied): --resume goes on with it" in half
    resumed = run_cli("apply", *args, "--resume", "--poll-interval", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the rollback of run 1: run 2 stopped after 0 of 6 operation(s) applied" in resumed.stderr
    assert f"re-attaching to job {job} of run 2" in resumed.stderr
    assert len(_uploads(transcript)) == 2  # the apply's and the rollback's, once each
    assert _read(journal, "SELECT id, kind, state FROM run") == [(1, "apply", "rolled_back"), (2, "rollback", "done")]
    assert _results(journal, 2) == ["applied"] * 6


# -- the journal ---------------------------------------------------------------------------------


def test_rtbfast_journal_tells_the_job_and_every_operation_that_did_not_apply(
    tmp_path: Path, example_out: Path, export: Path
) -> None:
    path = _policy_file(tmp_path, "validation")
    options = ("--error", "node", "--poll-interval", "0")
    run = run_cli("apply", path, "--catalog", example_out, "--network", export, *options)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    errors = [x for x in run.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == run.stderr.strip().splitlines()[-1]
    assert errors[0].startswith(f"error: {path}:5: set {cell(1)}: Error 1009 : An incorrect value (-20)")
    assert "(job 1: COMPLETED: Error 7042 : There are validation failures." in errors[0]
    assert "2 of 4 operation(s) applied (2 applied, 1 failed, 1 not applied)" in errors[0]
    journal = path.with_name(path.name + ".simulator.journal.sqlite")
    text = run_cli("journal", journal)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].startswith(f"run 1: apply of {path} on offline simulator: failed, job 1 (dynamic, --error node): ")
    assert "COMPLETED / Error 7042 : There are validation failures." in lines[1]
    assert "2 applied, 1 failed, 1 not applied, 0 unknown of 4 operation(s)" in lines[1]
    assert lines[2].startswith(f"  stopped at operation 2 (line 5): set {cell(1)} [invalid]: Error 1009 : ")
    assert lines[3].startswith(f"  not applied: operation 3 (line 9): set {cell(1, 1)} [execution-skipped]: ")
    assert "node NODE000001 failed validation" in lines[3]
    assert not any(x.startswith("measured:") for x in lines)  # the simulator's speed is not ENM's
    report = json.loads(run_cli("journal", journal, "--format", "json").stdout)
    assert report == json.loads(json.dumps(journal_report(journal)))
    job = report["runs"][0]["import"]
    assert (job["job_id"], job["applied"], job["failed"], job["not_applied"]) == (1, 2, 1, 1)
    assert [o["position"] for o in job["not_applied_operations"]] == [1, 2]


def test_a_journal_of_schema_1_is_read_and_adopted_with_its_runs(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    with Journal(journal) as j:
        run = j.start_run("apply", "s.cmedit", "ab" * 32, "simulator", "offline simulator")
        j.sending(run, 0, 1, "cmedit set X=1 a=1")
        j.answered(run, 0, "applied", "1 instance(s) updated")
        j.finish_run(run, "done")
    with sqlite3.connect(journal) as db:  # as rtbfast's schema 1 left it
        db.executescript("DROP TABLE import_operation; DROP TABLE import_job; PRAGMA user_version = 1;")
    runs: Any = journal_report(journal)["runs"]  # read as it is, not changed
    assert runs[0]["applied"] == 1 and "import" not in runs[0]
    assert _read(journal, "PRAGMA user_version") == [(1,)]
    with Journal(journal) as j:
        assert j.applied(1) == 1 and j.import_job(1) is None
    assert _read(journal, "PRAGMA user_version") == [(SCHEMA_VERSION,)] and SCHEMA_VERSION == 2
    tables = {name for (name,) in _read(journal, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"run", "command", "script", "import_job", "import_operation"}


# -- on ENM's protocol: the fake ENM's import handler -----------------------------------------------


class CommandOutput:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines


class FakeClient:
    """``EnmClient`` in process (``execute(command, *, file=None) -> CommandOutput``), answered as
    the fake ENM answers: ``cmedit import`` by its import handler (its elements flattened as the
    client flattens them), the rest by the simulator."""

    url = "https://enm.test"

    def __init__(self, jobs: ImportJobs) -> None:
        self.jobs = jobs

    def execute(self, command: str, *, file: tuple[str, bytes] | None = None) -> CommandOutput:
        predicate, handle = self.jobs.handler
        if predicate(command):
            return CommandOutput(flatten(handle(command, file)))
        return CommandOutput(self.jobs.simulator.execute(command).lines)

    def logout(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_on_enms_protocol_a_stopped_run_follows_its_job_and_enm_sees_one_upload(
    plan_folder: Path, tables: dict[str, pa.Table], catalog: CatalogView, tmp_path: Path
) -> None:
    simulator = Simulator(tables, catalog)
    simulator.import_job_seconds = 3600  # ENM is slow: the job stays IN PROGRESS
    jobs = ImportJobs(simulator)
    backend = EnmBackend(FakeClient(jobs))  # type: ignore[arg-type]
    ifile = read_import_file(plan_folder / "plan.dynamic.txt", "dynamic")
    with Journal(tmp_path / "j.sqlite") as journal:
        stopped = run_import(ifile, backend, journal, poll_interval=0, timeout=0)
        assert not stopped.ok and stopped.unfinished and stopped.job_id == 1
        simulator.jobs[1].seconds = 0  # it ends, in ENM, while nobody watches
        resumed = run_import(ifile, backend, journal, resume=True, poll_interval=0)
    assert resumed.ok and resumed.reattached and resumed.applied == 6
    assert [(u.name, u.sha256, u.job_id) for u in jobs.uploads] == [("plan.dynamic.txt", ifile.sha256, 1)]
    assert jobs.uploads[0].command == "cmedit import -f file:plan.dynamic.txt --filetype dynamic --error stop"
    assert jobs.status_reads == [(1, False), (1, False), (1, True)]
    assert simulator.uploads == [(1, "plan.dynamic.txt")]


# -- ENM's answers read by their labels ---------------------------------------------------------------


def test_the_status_is_read_by_its_labels_whatever_their_order() -> None:
    lines = [
        "some text first",
        "File Name\tStatus detail\tJob ID\tStatus\tManaged objects updated\tManaged objects created",
        "a.txt\tCOMPLETED\t7\tCOMPLETED\t2\t1",
        "b.txt\t\t8\tIN PROGRESS\t0\t0",
        "",
        "Failure Reason\tFDN\tImport status message\tOperation Type",
        "\tA=1,B=1\texecuted\tcreate",
        "Error 1009 : bad\tA=1,B=2\tinvalid\tupdate",
        "\tA=1,B=3\tSOMETHING NEW\tupdate",
    ]
    status = parse_status(lines, 8)
    assert (status.status, status.detail, status.done, status.ended) == ("IN PROGRESS", None, 0, False)
    done = parse_status(lines, 7)
    assert (done.status, done.detail, done.done, done.ended) == ("COMPLETED", "COMPLETED", 3, True) and done.completed
    assert [(r.fdn, r.state, r.message, r.line) for r in done.operations] == [
        ("A=1,B=1", "executed", None, None),
        ("A=1,B=2", "invalid", "Error 1009 : bad", None),
        ("A=1,B=3", "SOMETHING NEW", None, None),
    ]
    assert parse_status(["Error 4020 : Command syntax error, no such job"], 9).errors == [
        "Error 4020 : Command syntax error, no such job"
    ]
    ops = read_operations(
        (block("A=1,B=1", 'BId : "1"', keyword="create") + block("A=1,B=2", "x : 1") + block("A=1,B=3", "x : 2")
         + block("A=1,B=4", "x : 3")).encode(),
        "dynamic",
        "x.txt",
    )  # fmt: skip
    outcomes, extra = match_outcomes(ops, [*done.operations, done.operations[0]], False)
    assert [(o.result, o.state) for o in outcomes] == [
        ("applied", "executed"),
        ("failed", "invalid"),
        ("unknown", "SOMETHING NEW"),  # a word rtbfast does not know is never counted as applied
        ("unknown", None),  # not listed, and the job did not say it did it all
    ]
    assert [r.fdn for r in extra] == ["A=1,B=1"]  # listed twice: the second matches nothing, and is said
    completed, _ = match_outcomes(ops, done.operations[:2], True)
    assert [o.result for o in completed] == ["applied", "failed", "applied", "applied"]


# -- plan --import-chunk ---------------------------------------------------------------------------


@pytest.fixture
def chunked(tmp_path: Path, example_out: Path, export: Path) -> Path:
    """A plan over the 7 nodes (a set on each of their 3 cells), with node 3's cells locked for
    earfcndl (a lock window each of the two cells that are UNLOCKED: 7 steps on node 3, 3 on
    each other node), written with --import-chunk 6."""
    changes = Changes()
    for node in range(7):
        for c in range(3):
            if node == 3:
                changes.add("set", cell(node, c), "earfcndl", "500")
            changes.add("set", cell(node, c), "qRxLevMin", str(-120 - 2 * node))
    source = write_changeset(changes.table(), tmp_path / "all.parquet", {"by": "test"})
    out = tmp_path / "chunked"
    run = run_cli("plan", source, "--catalog", example_out, "--network", export, "-o", out, "--import-chunk", "6")
    assert run.returncode == 0, run.stderr
    assert "25 step(s) on 21 MO(s) of 7 node(s)" in run.stderr and ", 9 import file(s);" in run.stderr
    return out


def _node(fdn: str) -> str:
    return fdn.split(",")[1].split("=")[1]


def test_import_files_are_cut_per_node_in_the_plans_order(chunked: Path) -> None:
    report = json.loads((chunked / "plan.json").read_text())
    assert report["import_chunk"] == 6
    dynamic = report["imports"]["dynamic"]
    assert [e["file"] for e in dynamic] == [f"plan.dynamic.{k:03d}.txt" for k in range(1, 6)]
    assert [e["rollback"] for e in dynamic] == [f"rollback.dynamic.{k:03d}.txt" for k in range(1, 6)]
    assert not (chunked / "plan.dynamic.txt").exists() and not (chunked / "rollback.dynamic.txt").exists()
    nodes: list[list[str]] = []
    steps: list[str] = []
    for entry in dynamic:
        ops = read_import_file(chunked / entry["file"], "dynamic").operations
        assert entry["sha256"] == hashlib.sha256((chunked / entry["file"]).read_bytes()).hexdigest()
        assert entry["operations"] == len(ops) <= 6
        nodes.append(sorted({_node(o.fdn) for o in ops}))
        # a lock window (lock, set, unlock of a cell) is never cut
        locked = [o.fdn for o in ops if o.rows[0][0] == "administrativeState" and o.rows[0][3] == "LOCKED"]
        unlocked = [o.fdn for o in ops if o.rows[0][0] == "administrativeState" and o.rows[0][3] == "UNLOCKED"]
        assert locked == unlocked
        steps += [f"{o.fdn} {o.rows}" for o in ops]
    # nodes in the order the plan first reaches them (node 3's lock windows come first), whole
    # while they fit, two a file; node 3 (7 operations) in files of its own, cut between windows
    assert nodes == [
        ["NODE000003"],
        ["NODE000003"],
        ["NODE000000", "NODE000001"],
        ["NODE000002", "NODE000004"],
        ["NODE000005", "NODE000006"],
    ]
    assert [e["operations"] for e in dynamic] == [6, 1, 6, 6, 6]
    # the 3GPP files count an MO once (its sets are one element, the locks are not in it): 3 a node
    gpp = report["imports"]["3gpp"]
    assert [e["file"] for e in gpp] == [f"plan.3gpp.{k:03d}.xml" for k in range(1, 5)]
    assert [e["operations"] for e in gpp] == [6, 6, 6, 3]
    assert [e["nodes"] for e in gpp] == [2, 2, 2, 1]
    # every step of the plan in exactly one part, and of the rollback in the part it undoes
    plan = pq.read_table(chunked / "plan.parquet")
    assert sum(e["operations"] for e in dynamic) == len(set(plan["step"].to_pylist()))
    for entry in dynamic:
        undone = {o.fdn for o in read_import_file(chunked / entry["file"], "dynamic").operations}
        back = read_import_file(chunked / entry["rollback"], "dynamic").operations
        assert {o.fdn for o in back} == undone and len(back) == entry["rollback_operations"]


def test_a_lock_window_is_never_cut_even_past_the_limit(chunked: Path) -> None:
    plan = pq.read_table(chunked / "plan.parquet")
    back = pq.read_table(chunked / "rollback.parquet")
    for limit, sizes in ((4, [3, 4, 3, 3, 3, 3, 3, 3]), (2, [3, 3, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1])):
        parts = import_chunks(plan, back, limit, "dynamic")
        assert [import_operations(p, "dynamic") for p, _ in parts] == sizes
        for part, undo in parts:
            ops = part.filter(pc.is_in(part["attribute"], value_set=pa.array(["administrativeState"])))
            assert ops["value"].to_pylist().count("LOCKED") == ops["value"].to_pylist().count("UNLOCKED")
            assert set(undo["fdn"].to_pylist()) == set(part["fdn"].to_pylist())


def test_the_parts_applied_in_order_make_the_plan_and_their_rollbacks_undo_it(
    chunked: Path, tables: dict[str, pa.Table], catalog: CatalogView, example_out: Path, export: Path, tmp_path: Path
) -> None:
    report = json.loads((chunked / "plan.json").read_text())
    simulator = Simulator(tables, catalog)
    for entry in report["imports"]["dynamic"]:
        job = simulator.run_import(entry["file"], (chunked / entry["file"]).read_bytes(), "dynamic", "stop")
        assert (job.status, job.detail) == ("COMPLETED", "COMPLETED"), job.rows
    by_commands = _apply(chunked / "plan.cmedit", example_out, export, save_network=tmp_path / "by-commands.xml")
    assert by_commands.ok and _same(simulator.tables(), _network_after(tmp_path / "by-commands.xml"))
    for entry in reversed(report["imports"]["dynamic"]):
        name = entry["rollback"]
        job = simulator.run_import(name, (chunked / name).read_bytes(), "dynamic", "stop")
        assert (job.status, job.detail) == ("COMPLETED", "COMPLETED"), job.rows
        assert len(job.rows) == entry["rollback_operations"]
    assert _same(simulator.tables(), dict(tables))
    # apply takes each part, and rolls each back with its own rollback file
    part = chunked / "plan.dynamic.003.txt"
    assert _apply(part, example_out, export).ok
    back = _apply(part, example_out, export, rollback=True)
    assert back.ok and back.ran == chunked / "rollback.dynamic.003.txt"


def test_a_plan_without_import_chunk_lists_its_two_import_files(plan_folder: Path) -> None:
    imports = json.loads((plan_folder / "plan.json").read_text())["imports"]
    assert [(e["file"], e["rollback"], e["operations"]) for e in imports["dynamic"]] == [
        ("plan.dynamic.txt", "rollback.dynamic.txt", 6)
    ]
    assert [(e["file"], e["rollback"], e["operations"]) for e in imports["3gpp"]] == [
        ("plan.3gpp.xml", "rollback.3gpp.xml", 4)
    ]


# -- the summary's route --------------------------------------------------------------------------


def test_the_summary_recommends_the_faster_route_that_runs_the_plan_as_planned() -> None:
    counts = {"lock": 10, "unlock": 10}
    imports = {
        "dynamic": [{"file": f"plan.dynamic.{k:03d}.txt", "operations": 50_000} for k in range(1, 4)],
        "3gpp": [{"file": "plan.3gpp.xml", "operations": 140_000}],
    }
    facts = route_facts(150_000, imports, counts, RouteTiming())
    commands, dynamic, gpp = facts["routes"]
    assert (commands["seconds"], dynamic["seconds"], gpp["seconds"]) == (150_000, 3 * 30 + 1500, 30 + 1400)
    assert facts["recommended"] == {"route": "import jobs", "dialect": "dynamic"}  # 3GPP is faster, but lockless
    assert not gpp["runs_the_plan"] and "leaves out the plan's 20 lock and unlock step(s)" in gpp["why_not"]
    assert (duration(150_000), duration(1590), duration(3), duration(0.2)) == (
        "1 d 18 h",
        "26 min 30 s",
        "3 s",
        "under 1 s",
    )
    slow = route_facts(150_000, imports, {}, RouteTiming(import_rate=0.5, import_overhead=3600))
    assert slow["recommended"] == {"route": "commands", "dialect": "cmedit"}


def test_the_summary_says_the_route_its_estimate_and_where_the_figures_come_from(
    plan_folder: Path, chunked: Path, tmp_path: Path, example_out: Path, export: Path
) -> None:
    small = (plan_folder / "summary.md").read_text()
    route = small.split("## Route and duration")[1].split("## Rollback")[0]
    assert "| commands | `plan.cmedit` | 6 command(s) one by one at 1 s each | 6 s |" in route
    assert "| import jobs (dynamic) | `plan.dynamic.txt` | 1 job(s) of 6 operation(s)" in route
    assert "not as planned: a 3GPP file leaves out the plan's 2 lock and unlock step(s)" in route
    assert "**Recommended: commands (plan.cmedit)**, about 6 s." in route
    assert "rtbfast's default, an assumption" in route and "enm-cli.md §1.1" in route
    assert "the reference publishes no throughput of ENM's import" in route
    chunks = (chunked / "summary.md").read_text().split("## Route and duration")[1]
    assert "`plan.dynamic.001.txt … plan.dynamic.005.txt (5)`" in chunks
    # measured figures given: the import jobs win, run part by part
    source = tmp_path / "all.parquet"
    out = tmp_path / "fast"
    options = ("--seconds-per-command", "2", "--import-rate", "1000", "--import-job-overhead", "0.5")
    run = run_cli(
        "plan", source, "--catalog", example_out, "--network", export, "-o", out, "--import-chunk", "6", *options
    )
    assert run.returncode == 0, run.stderr
    assert "; recommended: import jobs (dynamic);" in run.stderr
    fast = (out / "summary.md").read_text().split("## Route and duration")[1]
    assert "at 2 s each" in fast and "given (--seconds-per-command)" in fast
    assert "**Recommended: import jobs (dynamic)**" in fast
    assert 'for f in PLAN/plan.dynamic.[0-9]*.txt; do rtbfast apply "$f" --backend enm' in fast
    html = (out / "summary.html").read_text()
    assert "<h2>Route and duration</h2>" in html and "Recommended: import jobs (dynamic)" in html
    assert json.loads((out / "plan.json").read_text())["route"]["recommended"] == {
        "route": "import jobs",
        "dialect": "dynamic",
    }


def test_a_finished_run_resumed_on_the_simulator_is_the_network_it_left(
    plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    path = plan_folder / "plan.dynamic.txt"
    assert _apply(path, example_out, export, save_network=tmp_path / "first.xml").ok
    again = _apply(path, example_out, export, resume=True, save_network=tmp_path / "again.xml")
    assert again.ok and again.job.applied == 6 and not again.job.uploaded
    assert _same(_network_after(tmp_path / "again.xml"), _network_after(tmp_path / "first.xml"))
    with pytest.raises(ExecutionError, match="--uncertain applied is for a command"):
        _apply(path, example_out, export, resume=True, uncertain="applied")


def test_the_names_files_are_uploaded_as() -> None:
    assert upload_name("/p/plan.dynamic.003.txt", "dynamic") == "plan.dynamic.003.txt"
    assert upload_name("/p/plan.dynamic.txt#rollback-of-run-4", "dynamic") == "plan.dynamic.rollback-of-run-4.txt"
    assert upload_name("/p/plan.3gpp.xml#rollback-of-run-12", "3GPP") == "plan.3gpp.rollback-of-run-12.xml"


def test_a_file_enm_cannot_read_ends_its_job_with_7025_and_nothing_applied(
    tables: dict[str, pa.Table], catalog: CatalogView, tmp_path: Path, plan_folder: Path
) -> None:
    """A file rtbfast reads but ENM does not (as the simulator reads it: a 3GPP file uploaded as
    dynamic): the job fails schema validation, and no operation of it ran."""
    jobs = ImportJobs(Simulator(tables, catalog))
    good = read_import_file(plan_folder / "plan.3gpp.xml", "3gpp")
    wrong = ImportFile(good.path, good.name, "dynamic", good.data, good.sha256, good.operations)
    with Journal(tmp_path / "j.sqlite") as journal:
        outcome = run_import(wrong, EnmBackend(FakeClient(jobs)), journal, poll_interval=0)  # type: ignore[arg-type]
    assert not outcome.ok and (outcome.status, outcome.detail) == ("FAILED", SCHEMA_FAILED)
    assert jobs.uploads[0].command == "cmedit import -f file:plan.3gpp.xml --filetype dynamic --error stop"
    rows = _read(tmp_path / "j.sqlite", "SELECT result, message FROM import_operation")
    assert len(rows) == 4 and {r[0] for r in rows} == {"not_applied"} and "Error 7025" in rows[0][1]


def test_a_3gpp_job_is_rolled_back_by_the_plans_file_or_by_what_it_applied(
    unlocked_folder: Path, plan_folder: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    whole = unlocked_folder / "plan.3gpp.xml"
    assert _apply(whole, example_out, export).ok
    back = _apply(whole, example_out, export, rollback=True, save_network=tmp_path / "back.xml")
    assert back.ok and back.ran == unlocked_folder / "rollback.3gpp.xml"  # a delete of the created MO in it
    assert _same(_network_after(tmp_path / "back.xml"), _network_after(export))
    # the locked plan's 3GPP file, every operation but the refused one applied: its rollback computed
    partly = _apply(plan_folder / "plan.3gpp.xml", example_out, export, error_policy="operation")
    assert (partly.job.applied, partly.job.failed) == (3, 1)
    undo = _apply(plan_folder / "plan.3gpp.xml", example_out, export, rollback=True, save_network=tmp_path / "b2.xml")
    assert undo.ok and undo.job.filetype == "3GPP" and undo.job.total == 3, undo.error()
    assert undo.ran == Path(f"{plan_folder / 'plan.3gpp.xml'}#rollback-of-run-1")
    assert undo.job.name == "plan.3gpp.rollback-of-run-1.xml"
    assert _same(_network_after(tmp_path / "b2.xml"), _network_after(export))


# -- end to end on ENM's protocol: the fake ENM over HTTP, its import handler ----------------------

USER, PASSWORD = "operator", "s3cret!"


@pytest.fixture
def enm(
    tables: dict[str, pa.Table], catalog: CatalogView, tls: tuple[Path, Path, Path]
) -> Iterator[tuple[FakeEnm, ImportJobs]]:
    """The fake ENM over HTTPS on loopback, its certificate signed by the test's CA, with the
    import handler."""
    _, cert, key = tls
    fake = FakeEnm(Simulator(tables, catalog), USER, PASSWORD, certificate=(str(cert), str(key))).start()
    jobs = ImportJobs(fake.simulator)
    fake.handlers.append(jobs.handler)
    yield fake, jobs
    fake.stop()


def _enm_process(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rtbfast.cli", "apply", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "ENM_USERNAME": USER, "ENM_PASSWORD": PASSWORD},
    )


def test_on_the_fake_enm_a_run_killed_while_it_polls_resumes_on_its_job_and_enm_saw_one_upload(
    enm: tuple[FakeEnm, ImportJobs], tls: tuple[Path, Path, Path], plan_folder: Path, tmp_path: Path
) -> None:
    fake, jobs = enm
    assert fake.url.startswith("https://127.0.0.1:")
    fake.simulator.import_job_seconds = 3600  # the job runs a while in ENM
    path = plan_folder / "plan.dynamic.txt"
    journal = tmp_path / "j.sqlite"
    args = (path, "--backend", "enm", "--url", fake.url, "--ca-file", tls[0], "--journal", journal)
    first = _enm_process(*args, "--poll-interval", "0.05")
    deadline = time.monotonic() + 60
    while len(jobs.status_reads) < 2:
        if first.poll() is not None or time.monotonic() > deadline:
            first.kill()
            pytest.fail(f"the run never polled its job: {first.communicate()[1][-2000:]}")
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert [(u.name, u.job_id) for u in jobs.uploads] == [("plan.dynamic.txt", 1)]
    assert fake.uploads[0][1] == ("plan.dynamic.txt", path.read_bytes())  # the bytes of the file, in the POST
    assert _read(journal, "SELECT state, job_id FROM import_job") == [("polling", 1)]
    fake.simulator.jobs[1].seconds = 0  # it ends in ENM while nobody watches
    reads = len(jobs.status_reads)
    resumed = _enm_process(*args, "--poll-interval", "0", "--resume")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "re-attaching to job 1 of run 1" in err and "applied: 6 of 6 operation(s)" in err
    assert len(jobs.uploads) == 1 and len(fake.uploads) == 1  # ENM saw one upload
    assert jobs.status_reads[reads:] == [(1, False), (1, True)]
    assert _results(journal) == ["applied"] * 6
    assert "cmedit set" not in " ".join(fake.executed)  # no command but the import ones went out


def test_on_the_fake_enm_a_job_with_refused_operations_and_its_rollback(
    enm: tuple[FakeEnm, ImportJobs], tls: tuple[Path, Path, Path], tmp_path: Path, example_out: Path, export: Path
) -> None:
    fake, jobs = enm
    path = _policy_file(tmp_path, "execution")
    journal = tmp_path / "j.sqlite"
    args: tuple[str | Path, ...] = (path, "--backend", "enm", "--url", fake.url, "--ca-file", tls[0])
    args = (*args, "--journal", journal, "--poll-interval", "0")
    run = _enm_process(*args, "--error", "operation")
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"error: {path}:5: set {cell(1)}: Error 9999 : Execution Error")
    assert _results(journal) == ["applied", "failed", "applied", "applied"]
    back = _enm_process(*args, "--rollback", "--catalog", example_out, "--network", export)
    _, err = back.communicate(timeout=120)
    assert back.returncode == 0, err
    assert [u.name for u in jobs.uploads] == ["execution.dynamic.txt", "execution.dynamic.rollback-of-run-1.txt"]
    assert _same(fake.simulator.tables(), _network_after(export))  # ENM's network as it was
