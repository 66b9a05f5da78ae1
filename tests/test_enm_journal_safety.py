"""``rtbfast apply`` keeps its journal safe, as a user runs it (real processes, a fake ENM on
loopback that counts what it is sent, journals read with sqlite3):

- one writer per journal: a second ``apply`` (``--resume``, plain, ``--rollback``) while one
  runs is refused, saying who runs, and nothing is sent twice; a killed run frees the journal;
- a file that is not an rtbfast journal is refused and left exactly as it was (its bytes, no
  ``-wal``/``-shm`` beside it); a journal of rtbfast's first schema is adopted;
- a run is rolled back once, and a rollback that stopped goes on (``--resume``) with the
  commands it started with, never sending an applied one again;
- ``--save-network`` never overwrites ``--network`` (nor the script, the journal, the catalog).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.dialects import cmedit_lines
from rtbfast.enm.journal import APPLICATION_ID, SCHEMA_VERSION, Journal, JournalBusyError
from rtbfast.enm.plan import make_plan
from rtbfast.enm.simulator import Simulator, canonical
from rtbfast.network_index import NetworkIndex
from tests.conftest import one_line_error
from tests.conftest import rtbfast as run_cli
from tests.enm_fixtures import CELL, CELL1, ENB, Changes
from tests.fake_enm import FakeEnm

USER, PASSWORD = "operator", "s3cret!"

LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('apply', 'rollback')),
    script TEXT NOT NULL,
    script_sha256 TEXT NOT NULL,
    backend TEXT NOT NULL,
    target TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'rolled_back')),
    undoes INTEGER REFERENCES run(id)
);
CREATE TABLE IF NOT EXISTS command (
    run INTEGER NOT NULL REFERENCES run(id),
    position INTEGER NOT NULL,
    line INTEGER NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sending', 'applied', 'failed', 'verified')),
    answer TEXT,
    sent TEXT NOT NULL,
    answered TEXT,
    PRIMARY KEY (run, position)
);
"""
"""The journal as rtbfast wrote it before journals were marked (no application_id)."""


@pytest.fixture
def script(tmp_path: Path, network: NetworkIndex, catalog: CatalogView) -> Path:
    """Six commands: a create, a lock, a set, an unlock, sets on two more MOs."""
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


def _start(*args: str | Path) -> subprocess.Popen[str]:
    """``rtbfast apply ARGS`` in a process of its own, with ENM credentials in its environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "rtbfast.cli", "apply", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "ENM_USERNAME": USER, "ENM_PASSWORD": PASSWORD},
    )


def _apply(*args: str | Path) -> subprocess.CompletedProcess[str]:
    process = _start(*args)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _wait_held(fake: FakeEnm, process: subprocess.Popen[str]) -> None:
    """Until `process` has sent the command `fake` holds (it then waits for the answer)."""
    deadline = time.monotonic() + 60
    while not fake.held:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the run never reached the held command: {process.communicate()[1][-2000:]}")
        time.sleep(0.05)


def _read(journal: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        return list(db.execute(sql))


def _runs(journal: Path) -> list[tuple[object, ...]]:
    return _read(journal, "SELECT id, kind, state, undoes FROM run ORDER BY id")


def _states(journal: Path, run: int) -> list[object]:
    return [s for (s,) in _read(journal, f"SELECT state FROM command WHERE run = {run} ORDER BY position")]


def _last_error(run: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """Assert `run` exited with `code` on one ``error: ...`` line, its last, holding
    `fragments` (what it said before, such as ``rolling back ...``, may come first)."""
    assert run.returncode == code, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert [x for x in lines if x.startswith("error: ")] == lines[-1:], run.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])
    return lines[-1]


def _same(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> bool:
    x, y = canonical(a), canonical(b)
    return bool(x["mos"].equals(y["mos"]) and x["values"].equals(y["values"]))


def _folder(path: Path) -> dict[str, str]:
    """Every entry under `path` with its content's sha256 (``dir`` for a folder)."""
    return {
        str(p.relative_to(path)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
    }


# -- one writer per journal ---------------------------------------------------------------------


def test_a_second_apply_while_one_runs_is_refused_and_nothing_is_sent_twice(
    fake: FakeEnm, script: Path, tmp_path: Path, example_out: Path, export: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    fake.hold = "qRxLevMin=-120"  # ENM applies it and is slow to answer: the first run waits, alive
    first = _start(script, *enm)
    try:
        _wait_held(fake, first)
        holder = json.loads((tmp_path / "j.sqlite.lock").read_text())
        assert holder["pid"] == first.pid and holder["host"] and "apply" in holder["command"]
        sent_before, logins_before = list(fake.executed), len(fake.logins)
        for extra in (["--resume"], [], ["--rollback", "--catalog", example_out, "--network", export]):
            refused = _apply(script, *enm, *extra)
            line = one_line_error(
                refused,
                2,
                "another rtbfast apply is running on this journal",
                f"pid {first.pid}",
                f"since {holder['started']}",
                "wait for it",
            )
            assert "resume" not in line.lower()  # not while the other one lives
        assert fake.executed == sent_before and len(fake.logins) == logins_before  # not even logged in
        assert first.poll() is None
    finally:
        fake.release()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    sent = fake.changes()
    assert sorted(sent) == sorted(script.read_text().splitlines())  # every command exactly once
    assert _runs(journal) == [(1, "apply", "done", None)]
    assert _states(journal, 1) == ["applied"] * 6
    assert not (tmp_path / "j.sqlite.lock").exists()  # released and removed at exit


def test_a_killed_run_frees_the_journal_for_resume(
    fake: FakeEnm, script: Path, tmp_path: Path, tables: dict[str, pa.Table]
) -> None:
    journal = tmp_path / "j.sqlite"
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    fake.hold = "qRxLevMin=-120"
    first = _start(script, *enm)
    _wait_held(fake, first)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    # the lock file is still there and names the dead process: the OS lock, not the file, counts
    assert json.loads((tmp_path / "j.sqlite.lock").read_text())["pid"] == first.pid
    assert _states(journal, 1) == ["applied", "applied", "sending"]
    fake.release()
    resumed = _apply(script, *enm, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "1 found applied" in resumed.stderr and "2 applied before" in resumed.stderr
    sent = fake.changes()
    assert sorted(sent) == sorted(script.read_text().splitlines())  # every command exactly once
    assert _states(journal, 1) == ["applied", "applied", "verified", "applied", "applied", "applied"]
    assert not (tmp_path / "j.sqlite.lock").exists()


def test_one_process_cannot_open_a_journal_twice_nor_through_a_symlink(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    link = tmp_path / "link.sqlite"
    link.symlink_to(path)
    with Journal(path, command="first"):
        with pytest.raises(JournalBusyError, match=rf"pid {os.getpid()} on .* since "):
            Journal(path)
        with pytest.raises(JournalBusyError):
            Journal(link)  # the lock is beside the file the link names
    with Journal(link) as again:  # released by close
        assert again.runs() == []


LOCKER = """
import os, sys, time
from pathlib import Path
from rtbfast.enm.journal import JournalBusyError, JournalLock

journal, alone, deadline = Path(sys.argv[1]), sys.argv[2], time.monotonic() + float(sys.argv[3])
held = busy = 0
while time.monotonic() < deadline:
    try:
        lock = JournalLock(journal, journal)
    except JournalBusyError:
        busy += 1
        continue
    fd = os.open(alone, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if another process holds it too
    os.close(fd)
    time.sleep(0.0005)
    os.unlink(alone)
    lock.release()
    held += 1
print(held, busy)
"""


def test_processes_racing_for_the_lock_never_hold_it_together(tmp_path: Path) -> None:
    """Four processes take and release the lock as fast as they can for two seconds (the holder
    removes the lock file as it releases it): whoever holds it is alone, each time."""
    journal = tmp_path / "j.sqlite"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(journal), str(tmp_path / "alone"), "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    counts = []
    for racer in racers:
        out, err = racer.communicate(timeout=60)
        assert racer.returncode == 0, err[-2000:]  # FileExistsError: two held it at once
        counts.append([int(n) for n in out.split()])
    assert all(held > 0 for held, _ in counts), counts  # each took it, in turn
    assert sum(busy for _, busy in counts) > 0, counts  # and they did race
    assert not (tmp_path / "j.sqlite.lock").exists()


# -- a file that is not an rtbfast journal ------------------------------------------------------


def _sqlite(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        db.executescript(statement)
    db.close()


def _killed_sqlite(path: Path, *statements: str) -> None:
    """A database in WAL mode whose writer was killed: its -wal and -shm are left beside it."""
    code = (
        "import os, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA journal_mode=WAL')\n"
        "for s in sys.argv[2:]:\n"
        "    db.executescript(s)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), *statements], check=True)
    assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()


FOREIGN: dict[str, tuple[Callable[[Path], object], str]] = {
    "its own run table": (
        lambda p: _sqlite(p, "CREATE TABLE run (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO run VALUES (1, 'x')"),
        "with the tables run",
    ),
    "another program's tables in WAL mode": (
        lambda p: _sqlite(
            p, "PRAGMA journal_mode=WAL", "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('a')"
        ),
        "with the tables users",
    ),
    "another program's, killed with its -wal and -shm": (
        lambda p: _killed_sqlite(p, "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('a')"),
        "with the tables users",
    ),
    "another program's application_id": (
        lambda p: _sqlite(p, "PRAGMA application_id = 1234", "CREATE TABLE t (x)"),
        "application_id 0x4d2",
    ),
    "the journal's tables and one more": (
        lambda p: _sqlite(p, LEGACY_SCHEMA, "CREATE TABLE notes (x)"),
        "with the tables command, notes, run",
    ),
    "the journal's tables with a trigger": (
        lambda p: _sqlite(p, LEGACY_SCHEMA, "CREATE TRIGGER t AFTER INSERT ON run BEGIN DELETE FROM command; END"),
        "with the tables command, run and trigger t",
    ),
    "the journal's tables with a user_version": (
        lambda p: _sqlite(p, LEGACY_SCHEMA, "PRAGMA user_version = 3"),
        "user_version 3",
    ),
    "an SQLite database with no tables": (lambda p: _sqlite(p, "PRAGMA journal_mode=WAL"), "no tables"),
    "a journal of a newer rtbfast": (
        lambda p: _sqlite(p, LEGACY_SCHEMA, f"PRAGMA application_id = {APPLICATION_ID}", "PRAGMA user_version = 99"),
        "newer rtbfast",
    ),
    "not SQLite": (lambda p: p.write_text("run,command\n1,2\n" * 40), "not an SQLite database"),
    "a directory": (lambda p: p.mkdir(), "a directory"),
}


@pytest.mark.parametrize("case", list(FOREIGN))
def test_a_file_that_is_not_a_journal_is_refused_unchanged(
    case: str, script: Path, tmp_path: Path, example_out: Path, export: Path
) -> None:
    make, why = FOREIGN[case]
    folder = tmp_path / "journals"
    folder.mkdir()
    journal = folder / "j.sqlite"
    make(journal)
    before = _folder(folder)
    ways: list[list[str]] = [[], ["--resume"], ["--rollback"]] if case == "its own run table" else [[]]
    for extra in ways:
        run = _apply(script, "--catalog", example_out, "--network", export, "--journal", journal, *extra)
        one_line_error(run, 2, f"{journal}:", why, "left unchanged")
        assert _folder(folder) == before  # not a byte changed, nothing beside it (-wal, -shm, .lock)


def test_an_empty_file_becomes_a_marked_journal(script: Path, tmp_path: Path, example_out: Path, export: Path) -> None:
    journal = tmp_path / "j.sqlite"
    journal.touch()
    run = _apply(script, "--catalog", example_out, "--network", export, "--journal", journal)
    assert run.returncode == 0, run.stderr
    assert _read(journal, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _read(journal, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _runs(journal) == [(1, "apply", "done", None)]


@pytest.mark.parametrize("killed", [False, True], ids=["closed", "killed with its -wal"])
def test_a_journal_of_rtbfasts_first_schema_is_adopted(
    killed: bool, script: Path, tmp_path: Path, example_out: Path, export: Path
) -> None:
    """A run that stopped after two commands, recorded by the rtbfast before journals were
    marked, goes on; the journal is marked and keeps its rows."""
    journal = tmp_path / "j.sqlite"
    texts = script.read_text().splitlines()
    sha = hashlib.sha256(script.read_bytes()).hexdigest()
    rows = [
        f"INSERT INTO run VALUES (1, 'apply', '{script}', '{sha}', 'simulator', 'offline simulator', "
        "'2024-01-01T00:00:00.000+00:00', '2024-01-01T00:00:01.000+00:00', 'failed', NULL)",
        *(
            f"INSERT INTO command VALUES (1, {i}, {i + 1}, '{texts[i]}', '{state}', 'ok', "
            "'2024-01-01T00:00:00.000+00:00', '2024-01-01T00:00:00.500+00:00')"
            for i, state in enumerate(["applied", "applied", "failed"])
        ),
    ]
    if killed:
        _killed_sqlite(journal, LEGACY_SCHEMA, *rows)
    else:
        _sqlite(journal, "PRAGMA journal_mode=WAL", LEGACY_SCHEMA, *rows)
    run = _apply(script, "--catalog", example_out, "--network", export, "--journal", journal, "--resume")
    assert run.returncode == 0, run.stderr
    assert "2 applied before" in run.stderr and "4 sent" in run.stderr
    assert _read(journal, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _read(journal, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _runs(journal) == [(1, "apply", "done", None)]
    assert _states(journal, 1) == ["applied"] * 6


# -- a rollback runs once -----------------------------------------------------------------------


def _rollback_sent(fake: FakeEnm, journal: Path, applied: list[str]) -> list[str]:
    """What ENM was sent after the apply, checked to be every command of the rollback (as the
    journal kept them) once."""
    sent = fake.changes()
    assert sent[: len(applied)] == applied
    ((text,),) = _read(journal, "SELECT text FROM script WHERE run = 2")
    assert isinstance(text, str) and len(text.splitlines()) == 6
    assert sorted(sent[len(applied) :]) == sorted(text.splitlines())
    return sent[len(applied) :]


def test_a_rollback_runs_once(
    fake: FakeEnm, script: Path, tmp_path: Path, tables: dict[str, pa.Table], example_out: Path, export: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    inputs = ("--catalog", example_out, "--network", export)
    assert _apply(script, *enm).returncode == 0
    back = _apply(script, *enm, "--rollback", *inputs)
    assert back.returncode == 0, back.stderr
    assert _same(tables, fake.simulator.tables())
    sent = list(fake.executed)
    ((finished,),) = _read(journal, "SELECT finished FROM run WHERE id = 2")
    again: list[list[str | Path]] = [["--rollback", *inputs], ["--rollback", "--resume", *inputs]]
    for extra in again:
        one_line_error(_apply(script, *enm, *extra), 2, "run 1 of", f"was rolled back by run 2 at {finished}", "once")
    one_line_error(_apply(script, *enm, "--resume"), 2, "nothing to resume", f"rolled back by run 2 at {finished}")
    assert fake.executed == sent  # nothing sent again
    assert _runs(journal) == [(1, "apply", "rolled_back", None), (2, "rollback", "done", 1)]


@pytest.mark.parametrize("resume_with", ["--resume", "--rollback --resume and the network after"])
def test_a_rollback_that_failed_goes_on_with_the_commands_it_started_with(
    resume_with: str,
    fake: FakeEnm,
    script: Path,
    tmp_path: Path,
    tables: dict[str, pa.Table],
    example_out: Path,
    export: Path,
) -> None:
    """The rollback fails at its fourth command; --resume (no --rollback, no --catalog or
    --network needed) goes on with the rollback, not the apply; --rollback --resume given the
    network as it is after the apply (from which another rollback would be computed) goes on
    with the commands the rollback started with."""
    journal = tmp_path / "j.sqlite"
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    assert _apply(script, *enm).returncode == 0
    applied = fake.changes()
    after = tmp_path / "after.xml"
    saved = run_cli(
        "apply", script, "--catalog", example_out, "--network", export, "--journal", tmp_path / "sim.sqlite",
        "--save-network", after,
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    fake.fail_http = "earfcndl=1300"  # the rollback's set back of the cell's values gets a 500 (not run)
    failed = _apply(script, *enm, "--rollback", "--catalog", example_out, "--network", export)
    # a 5xx on the command's POST: ENM may have taken it, so its outcome is unknown (read back on resume)
    line = _last_error(failed, 1, "plan.cmedit#rollback-of-run-1:4:", "HTTP 500", "its outcome is not known")
    assert "--resume (it goes on with the rollback)" in line and "--rollback " not in line
    assert _runs(journal) == [(1, "apply", "done", None), (2, "rollback", "failed", 1)]
    # not started again, nor the apply resumed
    one_line_error(
        _apply(script, *enm, "--rollback", "--catalog", example_out, "--network", export),
        2,
        "the rollback of run 1 (run 2) stopped after 3 of 6 command(s)",
        "--resume",
    )
    one_line_error(_apply(script, *enm), 2, "the rollback of run 1 (run 2) stopped", "--resume")
    fake.fail_http = None
    if resume_with == "--resume":
        resumed = _apply(script, *enm, "--resume")
    else:
        resumed = _apply(script, *enm, "--rollback", "--resume", "--catalog", example_out, "--network", after)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the rollback of run 1: run 2 stopped after 3 of 6 command(s)" in resumed.stderr
    assert "rolled back: 6 of 6 command(s) (3 sent, 3 applied before" in resumed.stderr
    _rollback_sent(fake, journal, applied)  # each rollback command once, the apply not resumed
    assert _same(tables, fake.simulator.tables())
    assert _runs(journal) == [(1, "apply", "rolled_back", None), (2, "rollback", "done", 1)]
    assert _states(journal, 2) == ["applied"] * 6


def test_a_rollback_killed_part_way_is_resumed_without_repeats(
    fake: FakeEnm, script: Path, tmp_path: Path, tables: dict[str, pa.Table], example_out: Path, export: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    assert _apply(script, *enm).returncode == 0
    applied = fake.changes()
    fake.hold = 'userLabel="east, 2"'  # the rollback's second command: applied, its answer never comes
    back = _start(script, *enm, "--rollback", "--catalog", example_out, "--network", export)
    _wait_held(fake, back)
    back.send_signal(signal.SIGKILL)
    back.wait(10)
    assert _states(journal, 2) == ["applied", "sending"]
    fake.release()
    resumed = _apply(script, *enm, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the rollback of run 1: run 2 stopped after 1 of 6 command(s)" in resumed.stderr
    assert "1 found applied" in resumed.stderr  # read back, not sent again
    _rollback_sent(fake, journal, applied)
    assert _same(tables, fake.simulator.tables())
    assert _states(journal, 2) == ["applied", "verified", "applied", "applied", "applied", "applied"]


def test_a_rollback_recorded_by_the_first_schema_resumes_only_as_it_started(
    fake: FakeEnm,
    script: Path,
    tmp_path: Path,
    tables: dict[str, pa.Table],
    example_out: Path,
    export: Path,
) -> None:
    """A rollback that stopped in a journal of rtbfast's first schema (its commands not kept)
    is computed again from --network, and goes on only when that gives the commands it started
    with (their sha256): from another network it is refused, nothing sent."""
    journal = tmp_path / "j.sqlite"
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    assert _apply(script, *enm).returncode == 0
    applied = fake.changes()
    after = tmp_path / "after.xml"
    saved = run_cli(
        "apply", script, "--catalog", example_out, "--network", export, "--journal", tmp_path / "sim.sqlite",
        "--save-network", after,
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    fake.fail_http = "earfcndl=1300"
    assert _apply(script, *enm, "--rollback", "--catalog", example_out, "--network", export).returncode == 1
    fake.fail_http = None
    with contextlib.closing(sqlite3.connect(journal)) as db:  # as the first rtbfast wrote it
        db.executescript(
            "DROP TABLE script; DROP TABLE import_operation; DROP TABLE import_job; "
            "PRAGMA application_id = 0; PRAGMA user_version = 0;"
        )
    sent = list(fake.executed)
    one_line_error(_apply(script, *enm, "--resume"), 2, "resuming the rollback of run 1 needs --catalog and --network")
    other = _apply(script, *enm, "--resume", "--catalog", example_out, "--network", after)
    line = _last_error(other, 2, "the rollback of run 1 computed now is not the one run 2 started with", "--network")
    assert fake.executed == sent  # nothing sent
    resumed = _apply(script, *enm, "--resume", "--catalog", example_out, "--network", export)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the rollback of run 1: run 2 stopped after 3 of 6 command(s)" in resumed.stderr
    assert "(3 sent, 3 applied before" in resumed.stderr
    undone = fake.changes()[len(applied) :]
    assert len(undone) == 6 and len(set(undone)) == 6
    assert _same(tables, fake.simulator.tables())
    assert _read(journal, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert line


def test_a_run_is_resumed_and_rolled_back_only_where_it_ran(
    fake: FakeEnm, script: Path, tmp_path: Path, example_out: Path, export: Path
) -> None:
    """What ran on the simulator is not undone, nor resumed, on ENM, even given the same
    journal (each has its own by default)."""
    journal = tmp_path / "j.sqlite"
    inputs = ("--catalog", example_out, "--network", export)
    good = script.read_text()
    script.write_text(good.replace("qRxLevMin=-120", "qRxLevMin=-20"))  # refused: the run stops
    assert run_cli("apply", script, *inputs, "--journal", journal).returncode == 1
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    one_line_error(_apply(script, *enm, "--resume"), 2, "run 1 ran on offline simulator, not on " + fake.url)
    one_line_error(_apply(script, *enm, "--rollback", *inputs), 2, "run 1 ran on offline simulator")
    assert not fake.executed and not fake.logins


# -- a fixed script does not start over -----------------------------------------------------------


def test_a_fixed_script_is_not_started_again_without_resume(fake: FakeEnm, script: Path, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    enm = ("--backend", "enm", "--url", fake.url, "--journal", journal)
    good = script.read_text()
    script.write_text(good.replace("qRxLevMin=-120", "qRxLevMin=-20"))  # out of range: refused by ENM
    assert _apply(script, *enm).returncode == 1
    script.write_text(good)  # the fix
    one_line_error(_apply(script, *enm), 2, "run 1 of", "stopped after 2 of 6 command(s)", "--resume")
    resumed = _apply(script, *enm, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 applied before" in resumed.stderr
    sent = [c for c in fake.changes() if "qRxLevMin=-20" not in c]
    assert sorted(sent) == sorted(good.splitlines())  # every command once


# -- --save-network never overwrites an input ---------------------------------------------------


def test_save_network_cannot_overwrite_the_network_or_the_journal(
    script: Path, tmp_path: Path, example_out: Path, export: Path
) -> None:
    network = tmp_path / "net.xml"
    network.write_bytes(export.read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.xml").symlink_to(network)
    os.link(network, tmp_path / "hard.xml")
    journal = tmp_path / "j.sqlite"
    before = hashlib.sha256(network.read_bytes()).hexdigest()
    for save, what in [
        (network, "--network"),
        (tmp_path / "sub" / ".." / "net.xml", "--network"),
        (tmp_path / "link.xml", "--network"),
        (tmp_path / "hard.xml", "--network"),
        (journal, "the journal"),
        (script, "the script"),
    ]:
        run = run_cli(
            "apply", script, "--catalog", example_out, "--network", network, "--journal", journal,
            "--save-network", save,
        )  # fmt: skip
        one_line_error(run, 2, f"--save-network {save} is {what}", "would be overwritten")
        assert hashlib.sha256(network.read_bytes()).hexdigest() == before
        assert not journal.exists() and not (tmp_path / "j.sqlite.lock").exists()  # refused before anything ran
