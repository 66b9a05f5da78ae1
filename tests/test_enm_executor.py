"""The journaled executor against the simulator and against a fake ENM on loopback that speaks
the scripting protocol (tests/fake_enm.py): a command is recorded before the next is sent, the
run stops at the first refusal, resumes after a kill without sending an applied command again
(an unanswered one is read back first), and rolls back exactly what was applied. TLS is
verified by default; credentials come from the environment and are never shown."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.dialects import cmedit_lines
from rtbfast.enm.enm_client import Credentials, EnmClient
from rtbfast.enm.executor import EnmBackend, ExecutionError, SimulatorBackend, rollback_script, run_script
from rtbfast.enm.journal import Journal
from rtbfast.enm.plan import make_plan
from rtbfast.enm.script import NodeNames, read_script
from rtbfast.enm.simulator import Simulator, canonical
from rtbfast.network_index import NetworkIndex
from tests.conftest import one_line_error
from tests.conftest import rtbfast as run_cli
from tests.enm_fixtures import CELL, CELL1, ENB, Changes
from tests.fake_enm import FakeEnm, text

USER, PASSWORD = "operator", "s3cret!"


def same(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> bool:
    x, y = canonical(a), canonical(b)
    return bool(x["mos"].equals(y["mos"]) and x["values"].equals(y["values"]))


@pytest.fixture
def script(tmp_path: Path, network: NetworkIndex, catalog: CatalogView) -> Path:
    """Seven commands: a create, a lock, sets on three MOs, an unlock."""
    changes = (
        Changes()
        .add("create", f"{ENB},SectorCarrier=9")
        .add("create", f"{ENB},SectorCarrier=9", "noOfTxAntennas", "4")
        .add("set", CELL, "earfcndl", "500")
        .add("set", CELL, "qRxLevMin", "-120")
        .add("set", CELL1, "userLabel", "north")
        .add("set", ENB, "timeAndPhaseSynchCritical", "true")
    )
    plan = make_plan(changes.table(), network, catalog)
    path = tmp_path / "plan.cmedit"
    path.write_text("\n".join(cmedit_lines(plan.steps).to_pylist()) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fake(tables: dict[str, pa.Table], catalog: CatalogView) -> Iterator[FakeEnm]:
    server = FakeEnm(Simulator(tables, catalog), USER, PASSWORD).start()
    yield server
    server.stop()


def client(fake: FakeEnm, command_timeout: float = 600.0) -> EnmClient:
    return EnmClient(fake.url, Credentials(USER, PASSWORD), command_timeout=command_timeout)


def records(journal: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(journal) as db:
        return list(db.execute("SELECT run, state, text FROM command ORDER BY run, position"))


def test_a_script_runs_on_the_simulator_with_every_outcome_journaled(
    script: Path, tables: dict[str, pa.Table], catalog: CatalogView, tmp_path: Path
) -> None:
    lines = read_script(script)
    simulator = Simulator(tables, catalog)
    with Journal(tmp_path / "j.sqlite") as journal:
        outcome = run_script(lines, SimulatorBackend(simulator), journal)
        assert outcome.ok and outcome.sent == len(lines.lines) == 6
        assert [r.state for r in journal.commands(outcome.run)] == ["applied"] * 6
        assert journal.run(outcome.run).state == "done"
        with pytest.raises(ExecutionError, match="applied completely in run 1"):
            run_script(lines, SimulatorBackend(simulator), journal)
        assert run_script(lines, SimulatorBackend(simulator), journal, resume=True).skipped == 6
    assert simulator.value(CELL, "earfcndl") == "500"


def test_the_run_stops_at_the_first_refusal_and_resumes_after_the_fix(
    fake: FakeEnm, script: Path, tmp_path: Path, network: NetworkIndex
) -> None:
    text = script.read_text().replace("qRxLevMin=-120", "qRxLevMin=-20")  # out of range
    script.write_text(text)
    names = NodeNames(network)
    journal_path = tmp_path / "j.sqlite"
    with Journal(journal_path) as journal:
        outcome = run_script(
            read_script(script), EnmBackend(client(fake)), journal, fdn_of=lambda s: names.fdn_of(s.command.words)
        )
    assert not outcome.ok and outcome.failed is not None and "qRxLevMin=-20" in outcome.failed.text
    assert outcome.answer[0].startswith("Error ")
    states = [s for _, s, _ in records(journal_path)]
    assert states == ["applied", "applied", "failed"]  # nothing after the refusal was sent
    assert len(fake.changes()) == 3
    script.write_text(text.replace("qRxLevMin=-20", "qRxLevMin=-120"))  # the fix
    with Journal(journal_path) as journal:
        again = run_script(read_script(script), EnmBackend(client(fake)), journal, resume=True)
    assert again.ok and again.skipped == 2 and again.sent == 4
    sent = fake.changes()
    assert len(sent) == 7 and len(set(sent)) == 7  # the refused one, then each command once
    assert [s for _, s, _ in records(journal_path)] == ["applied"] * 6


def test_an_http_failure_of_a_command_leaves_it_unknown_and_resume_reads_it_back_then_sends_it(
    fake: FakeEnm, script: Path, tmp_path: Path, network: NetworkIndex
) -> None:
    """A 5xx on the command's POST: ENM may have taken it (the client does not send it again);
    here it did not run, so resume reads it back, finds it not applied, and sends it once."""
    fake.fail_http = "userLabel=north"
    names = NodeNames(network)
    with Journal(tmp_path / "j.sqlite") as journal:
        outcome = run_script(read_script(script), EnmBackend(client(fake)), journal)
        assert not outcome.ok and outcome.uncertain and "HTTP 500" in outcome.answer[0]
        assert journal.commands(outcome.run)[-1].state == "sending"
        assert not any("userLabel=north" in c for c in fake.executed)  # the fake did not run it
        fake.fail_http = None
        again = run_script(
            read_script(script),
            EnmBackend(client(fake)),
            journal,
            resume=True,
            fdn_of=lambda s: names.fdn_of(s.command.words),
        )
    assert again.ok and again.verified == 0 and again.sent == 2
    assert sum("userLabel=north" in c for c in fake.changes()) == 1
    assert any(c.startswith(f"cmedit get {CELL1}") for c in fake.executed)  # read back first


def test_an_unanswered_command_is_read_back_on_resume_and_not_sent_again(
    fake: FakeEnm, script: Path, tmp_path: Path, network: NetworkIndex
) -> None:
    fake.hold = "qRxLevMin=-120"
    names = NodeNames(network)
    with Journal(tmp_path / "j.sqlite") as journal:
        outcome = run_script(
            read_script(script),
            EnmBackend(client(fake, command_timeout=0.3)),
            journal,
            fdn_of=lambda s: names.fdn_of(s.command.words),
        )
        assert not outcome.ok and outcome.uncertain and "did not complete" in outcome.answer[0]
        assert journal.commands(outcome.run)[-1].state == "sending"
        fake.release()
        again = run_script(
            read_script(script),
            EnmBackend(client(fake)),
            journal,
            resume=True,
            fdn_of=lambda s: names.fdn_of(s.command.words),
        )
        assert again.ok and again.verified == 1 and again.skipped == 2
        states = [r.state for r in journal.commands(again.run)]
    assert states == ["applied", "applied", "verified", "applied", "applied", "applied"]
    assert sum("qRxLevMin=-120" in c for c in fake.changes()) == 1
    assert any(c.startswith(f"cmedit get {CELL}") for c in fake.executed)  # read back


def _env() -> dict[str, str]:
    return {**os.environ, "ENM_USERNAME": USER, "ENM_PASSWORD": PASSWORD}


def _cli(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rtbfast.cli", "apply", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def test_a_killed_run_resumes_without_repeating_and_rolls_back_exactly(
    fake: FakeEnm, script: Path, tmp_path: Path, tables: dict[str, pa.Table], example_out: Path, export: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    fake.hold = "qRxLevMin=-120"  # ENM applies it, and the answer does not come
    process = _cli(script, "--backend", "enm", "--url", fake.url, "--journal", journal)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            reached = fake.held and "sending" in [s for _, s, _ in records(journal)]
        except sqlite3.Error:  # the run is still creating the journal
            reached = False
        if reached:
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the run never reached the held command")
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert [s for _, s, _ in records(journal)] == ["applied", "applied", "sending"]
    fake.release()
    resumed = _cli(script, "--backend", "enm", "--url", fake.url, "--journal", journal, "--resume")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "1 found applied" in err and "2 applied before" in err
    sent = fake.changes()
    assert len(sent) == 6 and len(set(sent)) == 6, sent  # every command exactly once
    assert PASSWORD not in out + err
    # the whole run undone, computed from the network as it was
    back = _cli(
        script,
        "--backend",
        "enm",
        "--url",
        fake.url,
        "--journal",
        journal,
        "--rollback",
        "--catalog",
        example_out,
        "--network",
        export,
    )
    out, err = back.communicate(timeout=120)
    assert back.returncode == 0, err
    assert same(tables, fake.simulator.tables())
    with sqlite3.connect(journal) as db:
        assert [r[0] for r in db.execute("SELECT state FROM run ORDER BY id")] == ["rolled_back", "done"]
        assert PASSWORD not in "".join(str(r) for r in db.execute("SELECT * FROM command"))


def test_the_applied_prefix_of_a_failed_run_is_rolled_back_exactly(
    fake: FakeEnm,
    script: Path,
    tmp_path: Path,
    tables: dict[str, pa.Table],
    network: NetworkIndex,
    catalog: CatalogView,
) -> None:
    # ENM refuses the last command (an error answer): the run failed after five
    fake.handlers.append(
        (lambda command: "timeAndPhaseSynchCritical" in command, lambda command, file: [text("Error 9999 : refused")])
    )
    with Journal(tmp_path / "j.sqlite") as journal:
        outcome = run_script(read_script(script), EnmBackend(client(fake)), journal)
        assert not outcome.ok and outcome.applied == 5  # the last command failed
        undo, undone = rollback_script(read_script(script), journal, outcome.run, network, catalog)
        assert undone == 5
        back = run_script(undo, EnmBackend(client(fake)), journal, kind="rollback", undoes=outcome.run)
    assert back.ok
    assert same(tables, fake.simulator.tables())


def test_tls_is_verified_unless_a_ca_is_given(
    tmp_path: Path, tables: dict[str, pa.Table], catalog: CatalogView, script: Path
) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        capture_output=True,
        check=False,
    )
    if made.returncode:
        pytest.skip(f"openssl cannot make a certificate here: {made.stderr[-200:]!r}")
    server = FakeEnm(Simulator(tables, catalog), USER, PASSWORD, certificate=(str(cert), str(key))).start()
    try:
        refused = _cli(script, "--backend", "enm", "--url", server.url, "--journal", tmp_path / "a.sqlite")
        _, err = refused.communicate(timeout=120)
        assert refused.returncode == 1 and "TLS" in err and "--ca-file" in err, err
        assert not server.executed  # nothing sent over an unverified connection
        trusted = _cli(
            script, "--backend", "enm", "--url", server.url, "--ca-file", cert, "--journal", tmp_path / "b.sqlite"
        )
        _, err = trusted.communicate(timeout=120)
        assert trusted.returncode == 0, err
        assert len(server.changes()) == 6
    finally:
        server.stop()


def test_credentials_come_only_from_the_environment(fake: FakeEnm, script: Path, tmp_path: Path) -> None:
    help_text = run_cli("apply", "--help").stdout
    assert "ENM_USERNAME" in help_text and "--password" not in help_text and "--user" not in help_text
    wrong = subprocess.run(
        [
            sys.executable,
            "-m",
            "rtbfast.cli",
            "apply",
            str(script),
            "--backend",
            "enm",
            "--url",
            fake.url,
            "--journal",
            str(tmp_path / "j.sqlite"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ENM_USERNAME": USER, "ENM_PASSWORD": "wrong"},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert wrong.returncode == 1 and "HTTP 401" in wrong.stderr and "wrong" not in wrong.stderr
    assert fake.logins and fake.logins[-1]["IDToken2"] == "wrong"  # sent only in the login form
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "rtbfast.cli",
            "apply",
            str(script),
            "--backend",
            "enm",
            "--url",
            fake.url,
            "--journal",
            str(tmp_path / "k.sqlite"),
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("ENM_")},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    one_line_error(missing, 1, "ENM_USERNAME and ENM_PASSWORD")


def test_dry_run_uses_the_simulator(
    fake: FakeEnm, script: Path, tmp_path: Path, example_out: Path, export: Path
) -> None:
    run = run_cli(
        "apply",
        script,
        "--backend",
        "enm",
        "--url",
        fake.url,
        "--dry-run",
        "--catalog",
        example_out,
        "--network",
        export,
        "--journal",
        tmp_path / "j.sqlite",
        "--save-network",
        tmp_path / "after.xml",
    )
    assert run.returncode == 0, run.stderr
    assert "offline simulator" in run.stderr and not fake.requests
    assert (tmp_path / "after.xml").is_file() and not (tmp_path / "j.sqlite").exists()
    assert (tmp_path / "j.dry-run.sqlite").is_file()


def test_bad_scripts_and_usage_are_one_located_line(tmp_path: Path, example_out: Path, export: Path) -> None:
    bad = tmp_path / "bad.cmedit"
    bad.write_text(f"cmedit set {CELL} qRxLevMin=-120\ncmedit set {CELL} qRxLevMin=(\n")
    one_line_error(run_cli("apply", bad, "--catalog", example_out, "--network", export), 2, f"{bad}:2:", "never closed")
    good = tmp_path / "good.cmedit"
    good.write_text(f"cmedit set {CELL} qRxLevMin=-120\n")
    one_line_error(run_cli("apply", good), 2, "needs --catalog and --network")
    one_line_error(run_cli("apply", good, "--backend", "enm"), 2, "needs --url")
    one_line_error(
        run_cli("apply", good, "--resume", "--catalog", example_out, "--network", export), 2, "nothing to resume"
    )
    failing = tmp_path / "failing.cmedit"
    failing.write_text(f"cmedit set {CELL} qRxLevMin=-120\ncmedit set {CELL} qRxLevMin=-20\n")
    run = run_cli("apply", failing, "--catalog", example_out, "--network", export)
    line = one_line_error(run, 1, f"{failing}:2:", "qRxLevMin=-20", "1 of 2 command(s) applied", "--rollback")
    assert "Error " in line


def test_an_expired_session_is_renewed_without_sending_twice(fake: FakeEnm, script: Path, tmp_path: Path) -> None:
    enm = client(fake)
    with Journal(tmp_path / "j.sqlite") as journal:
        first = read_script(script)
        backend = EnmBackend(enm)
        assert backend.send(first.lines[0].text).ok
        fake.sessions.clear()  # ENM ends the session
        outcome = run_script(first, backend, journal, resume=False)
    # the create was already applied by hand above: the run stops there, then nothing is doubled
    assert not outcome.ok and "already exists" in outcome.answer[0]
    assert len(fake.logins) == 2
    assert fake.changes().count(first.lines[0].text) == 2  # once by hand, once by the run: no retry of it
