"""The journal of ``rtbfast apply``: every command's outcome, recorded durably in SQLite before
the next command is sent.

A command is marked ``sending`` (committed, synced) before it goes out, and ``applied`` or
``failed`` with the answer when it comes back. A run killed in between leaves it ``sending``:
its outcome is unknown, and ``--resume`` finds out (by reading the MO back) before going on.
Rollbacks are runs too, tied to the run they undo; the commands of a rollback are kept in the
journal when it starts, so that resuming it sends exactly the commands it started with.

A run of an import file (the import route, :mod:`rtbfast.enm.imports`) sends no command of its
own: it is one ENM import job. The job is recorded as ``uploading`` (committed, synced) with
every operation of the file before the upload goes out, gets ENM's job id as soon as ENM's
answer names it (before the first status poll), and every operation's outcome when the job
has ended. A run killed while its job is polled is resumed by re-attaching to that job id; a
run killed before the upload's answer came (``uploading``, no job id) is not uploaded again
unless the operator says so.

Tables::

    run(id, kind, script, script_sha256, backend, target, started, finished, state, undoes)
    command(run, position, line, text, state, answer, sent, answered)
    script(run, text)
    import_job(run, file, name, sha256, filetype, error_policy, command, operations, state,
               job_id, answer, status, status_detail, polls, uploaded, answered, polled, finished)
    import_operation(run, position, line, operation, fdn, state, result, message)

``state`` of a run is ``running``, ``done``, ``failed`` or ``rolled_back``; of a command
``sending``, ``applied``, ``failed`` or ``verified`` (found applied on resume without being
sent again). ``script`` holds the text of a run's commands where they are not a file (a
rollback's), and the text of every file an import run uploads (so that its rollback, and a
replay on the simulator, read the file as it was sent).

``import_job.state`` is ``uploading`` (sent, ENM's answer not read), ``refused`` (ENM answered
without starting a job), ``polling`` (ENM named the job: ``job_id``) or ``ended`` (its status
said it ended; ``status`` and ``status_detail`` are ENM's last words). An operation's
``result`` is ``pending`` until the job ends, then ``applied``, ``failed``, ``not_applied`` or
``unknown`` (ENM's verbose status did not list it, or listed it in words rtbfast does not
know); ``state`` and ``message`` are ENM's own words for it.

One writer at a time: opening a journal takes an exclusive OS lock (``flock``) on
``JOURNAL.lock`` beside it, held until the journal is closed or the process ends (the OS
releases it when a process dies, even by ``SIGKILL``); the lock file says who holds it. A
second opener is refused (:class:`JournalBusyError`) before it reads anything.

A journal is marked as one (``PRAGMA application_id`` :data:`APPLICATION_ID`, ``PRAGMA
user_version`` :data:`SCHEMA_VERSION`). An existing file is looked at read-only first: an
rtbfast journal is opened, one written before the marks existed (exactly the tables ``run`` and
``command`` of this schema) is marked and adopted, one of schema 1 (``run``, ``command``,
``script``) gets the import tables and is adopted, a 0-byte file is initialised, and anything
else is refused (:class:`JournalError`) without a byte of it, or a file beside it, changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import shutil
import socket
import sqlite3
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rtbfast.errors import InputError, OutputError, RtbfastError

APPLICATION_ID = 0x72746266
"""``PRAGMA application_id`` of an rtbfast journal (the bytes ``rtbf``)."""
SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the journals this rtbfast writes (1: without the import tables)."""

SCHEMA = """
CREATE TABLE run (
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
CREATE TABLE command (
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
SCRIPT_TABLE = """
CREATE TABLE script (
    run INTEGER PRIMARY KEY REFERENCES run(id),
    text TEXT NOT NULL
);
"""

IMPORT_TABLES = """
CREATE TABLE import_job (
    run INTEGER PRIMARY KEY REFERENCES run(id),
    file TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    filetype TEXT NOT NULL CHECK (filetype IN ('dynamic', '3GPP')),
    error_policy TEXT NOT NULL CHECK (error_policy IN ('stop', 'node', 'operation')),
    command TEXT NOT NULL,
    operations INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('uploading', 'refused', 'polling', 'ended')),
    job_id INTEGER,
    answer TEXT,
    status TEXT,
    status_detail TEXT,
    polls INTEGER NOT NULL DEFAULT 0,
    uploaded TEXT NOT NULL,
    answered TEXT,
    polled TEXT,
    finished TEXT
);
CREATE TABLE import_operation (
    run INTEGER NOT NULL REFERENCES run(id),
    position INTEGER NOT NULL,
    line INTEGER,
    operation TEXT NOT NULL CHECK (operation IN ('create', 'set', 'delete')),
    fdn TEXT NOT NULL,
    state TEXT,
    result TEXT NOT NULL CHECK (result IN ('pending', 'applied', 'failed', 'not_applied', 'unknown')),
    message TEXT,
    PRIMARY KEY (run, position)
);
"""

LEGACY_TABLES = {
    "run": ("id", "kind", "script", "script_sha256", "backend", "target", "started", "finished", "state", "undoes"),
    "command": ("run", "position", "line", "text", "state", "answer", "sent", "answered"),
}
"""The tables of a journal written before the marks (rtbfast's first journals): adopted."""
V1_TABLES = {**LEGACY_TABLES, "script": ("run", "text")}
"""The tables of a journal of schema 1 (before import jobs): adopted."""
TABLES = {
    **V1_TABLES,
    "import_job": (
        "run",
        "file",
        "name",
        "sha256",
        "filetype",
        "error_policy",
        "command",
        "operations",
        "state",
        "job_id",
        "answer",
        "status",
        "status_detail",
        "polls",
        "uploaded",
        "answered",
        "polled",
        "finished",
    ),
    "import_operation": ("run", "position", "line", "operation", "fdn", "state", "result", "message"),
}

IMPORT_RESULTS = ("pending", "applied", "failed", "not_applied", "unknown")

APPLIED_STATES = ("applied", "verified")

SQLITE_MAGIC = b"SQLite format 3\x00"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JournalError(InputError):
    """A file given as a journal that is not one (or not one this rtbfast reads). It is left
    exactly as it was. The CLI exits with 2."""


class JournalBusyError(RtbfastError):
    """Another process holds the journal's lock: it is running on this journal now. The CLI
    exits with 2."""

    exit_code = 2


# -- one writer: the lock ---------------------------------------------------------------------


class JournalLock:
    """An exclusive ``flock`` on ``JOURNAL.lock`` (beside the journal's real path), with who
    holds it written in it (pid, host, start time, command). Released by :meth:`release`, or by
    the OS when the process ends however it ends.

    The holder removes the lock file when it releases it (still holding it); a process that
    locked a file that is no longer at the path (it opened it just before) tries again, so two
    processes never both hold the lock at one path."""

    def __init__(self, journal: Path, shown: Path, command: str | None = None) -> None:
        self.path = journal.with_name(journal.name + ".lock")
        self.fd = -1
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as err:
                raise OutputError(
                    f"{self.path}: cannot create the journal's lock file: {err.strerror or err}", str(self.path)
                ) from err
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise JournalBusyError(self._busy(shown), str(shown)) from None
            except OSError as err:
                os.close(fd)
                raise OutputError(
                    f"{self.path}: cannot lock the journal: {err.strerror or err}", str(self.path)
                ) from err
            if self._at_path(fd):
                self.fd = fd
                break
            os.close(fd)  # released and removed by its holder after this process opened it
        else:
            raise OutputError(f"{self.path}: cannot lock the journal (its lock file keeps being replaced)")
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": _now(),
            "command": command if command is not None else shlex.join(sys.argv),
        }
        data = (json.dumps(holder) + "\n").encode()
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except OSError as err:
            self.release()
            raise OutputError(f"{self.path}: cannot write the journal's lock file: {err.strerror or err}") from err

    def _at_path(self, fd: int) -> bool:
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            return False

    def holder(self) -> dict[str, object] | None:
        """Who holds the lock, as its holder wrote it; None when that cannot be read."""
        for _ in range(20):  # the holder may be writing it right now
            try:
                found = json.loads(self.path.read_bytes() or b"null")
            except (OSError, ValueError):
                found = None
            if isinstance(found, dict):
                return found
            time.sleep(0.01)
        return None

    def _busy(self, shown: Path) -> str:
        who = self.holder()
        if who is None:
            by = f"who holds {self.path} is not recorded"
        else:
            by = f"pid {who.get('pid')} on {who.get('host')} since {who.get('started')}"
        return f"{shown}: another rtbfast apply is running on this journal ({by}); wait for it to finish"

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            if self._at_path(self.fd):
                self.path.unlink()
        os.close(self.fd)  # the lock goes with the last descriptor
        self.fd = -1


# -- what a file is ---------------------------------------------------------------------------


def _refuse(shown: Path, why: str) -> JournalError:
    return JournalError(
        f"{shown}: not an rtbfast journal ({why}); it was left unchanged: give another --journal file", str(shown)
    )


def _judge(db: sqlite3.Connection, shown: Path) -> str:
    """``empty`` (no tables, no marks), ``legacy`` (an unmarked journal of rtbfast's first
    schema), ``v1`` (a marked journal of schema 1, before import jobs) or ``current``; anything
    else raises :class:`JournalError`."""
    application_id = int(db.execute("PRAGMA application_id").fetchone()[0])
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    objects = db.execute("SELECT type, name FROM sqlite_master").fetchall()
    tables = {
        name: tuple(r[0] for r in db.execute("SELECT name FROM pragma_table_info(?)", (name,)))
        for kind, name in objects
        if kind == "table" and not name.startswith("sqlite_")
    }
    others = sorted(
        f"{kind} {name}" for kind, name in objects if kind != "table" and not name.startswith("sqlite_autoindex_")
    )
    if application_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{shown}: a journal of a newer rtbfast (journal schema {version}; this rtbfast reads "
                f"{SCHEMA_VERSION}); it was left unchanged: use that rtbfast",
                str(shown),
            )
        if version == SCHEMA_VERSION and tables == TABLES and not others:
            return "current"
        if version == 1 and tables == V1_TABLES and not others:
            return "v1"
        raise JournalError(
            f"{shown}: an rtbfast journal whose tables are not what rtbfast writes (damaged?); "
            "it was left unchanged: give another --journal file",
            str(shown),
        )
    if application_id != 0:
        raise _refuse(shown, f"the database of another program: application_id {application_id:#x}")
    if not objects and version == 0:
        return "empty"
    if version == 0 and tables == LEGACY_TABLES and not others:
        return "legacy"
    if not tables:
        raise _refuse(shown, "an SQLite database with no tables")
    more = [*others, *([f"user_version {version}"] if version else [])]
    raise _refuse(
        shown,
        f"an SQLite database with the tables {', '.join(sorted(tables))}" + (f" and {', '.join(more)}" if more else ""),
    )


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to `path` that changes nothing: without a ``-wal`` file the
    database is all in its file, read as immutable (no lock, no ``-shm`` created); with one,
    SQLite would write the ``-shm`` beside it to read through it, so a copy is read."""
    with contextlib.ExitStack() as stack:
        where = path
        if Path(f"{path}-wal").exists():
            where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rtbfast-journal-"))) / "journal"
            shutil.copyfile(path, where)
            shutil.copyfile(f"{path}-wal", f"{where}-wal")
        options = "mode=ro" if where != path else "mode=ro&immutable=1"
        db = sqlite3.connect(f"{where.absolute().as_uri()}?{options}", uri=True)
        stack.callback(db.close)
        yield db


def inspect_journal(path: Path, shown: Path | None = None) -> str:
    """What the file at `path` is, found without changing it or anything beside it: ``new``
    (absent or 0 bytes: initialised on open), ``legacy`` (an unmarked journal) or ``v1`` (a
    journal of schema 1), both adopted on open, or ``current``. Anything else raises
    :class:`JournalError`."""
    shown = shown or path
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "new"
    except OSError as err:
        raise JournalError(f"{shown}: cannot read the journal: {err.strerror or err}", str(shown)) from err
    if stat.S_ISDIR(st.st_mode):
        raise _refuse(shown, "a directory")
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(shown, "not a regular file")
    wal = Path(f"{path}-wal").exists()
    if st.st_size == 0 and not wal:
        return "new"
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except OSError as err:
        raise JournalError(f"{shown}: cannot read the journal: {err.strerror or err}", str(shown)) from err
    if not head.startswith(SQLITE_MAGIC):
        raise _refuse(shown, "not an SQLite database")
    marked = int.from_bytes(head[68:72], "big") == APPLICATION_ID
    if wal and marked and int.from_bytes(head[60:64], "big") == SCHEMA_VERSION:
        # an rtbfast journal whose writer was stopped: rather than copy it to read it, it is
        # judged on open, under SQLite's write lock
        return "current"
    try:
        with _read_only(path) as db:
            found = _judge(db, shown)
    except sqlite3.Error as err:
        raise _refuse(shown, f"SQLite cannot read it: {err}") from err
    except OSError as err:
        raise JournalError(f"{shown}: cannot read the journal: {err.strerror or err}", str(shown)) from err
    if found == "empty":
        raise _refuse(shown, "an SQLite database with no tables")
    return found


@dataclass(frozen=True)
class Run:
    id: int
    kind: str
    script: str
    script_sha256: str
    backend: str
    target: str
    started: str
    finished: str | None
    state: str
    undoes: int | None


@dataclass(frozen=True)
class CommandRecord:
    position: int
    line: int
    text: str
    state: str
    answer: str | None


@dataclass(frozen=True)
class ImportJobRecord:
    """The import job of a run (see the module): the file uploaded, how, and what ENM said."""

    run: int
    file: str
    name: str
    sha256: str
    filetype: str
    error_policy: str
    command: str
    operations: int
    state: str
    job_id: int | None
    answer: str | None
    status: str | None
    status_detail: str | None
    polls: int
    uploaded: str
    answered: str | None
    polled: str | None
    finished: str | None


@dataclass(frozen=True)
class OperationRecord:
    """One operation of an import job: its place in the file, what it does, and its outcome."""

    position: int
    line: int | None
    operation: str
    fdn: str
    state: str | None
    result: str
    message: str | None


@dataclass(frozen=True)
class OperationOutcome:
    """What ENM's verbose job status says of one operation (by its position in the file)."""

    position: int
    state: str | None
    result: str
    message: str | None


class Journal:
    """A journal file, opened (and created) for one process, which holds its lock until
    :meth:`close`. `command` is what the lock file says holds it (default: this process's
    command line)."""

    def __init__(self, path: str | os.PathLike[str], *, command: str | None = None) -> None:
        self.path = Path(path)
        real = Path(os.path.realpath(self.path))
        self.lock = JournalLock(real, self.path, command)
        try:
            found = inspect_journal(real, self.path)
            self.db = self._open(real, found)
        except BaseException:
            self.lock.release()
            raise

    def _open(self, real: Path, found: str) -> sqlite3.Connection:
        """Open the file `inspect_journal` found, judged again under SQLite's write lock; a new
        file is initialised, and an unmarked journal marked, in that one transaction."""
        try:
            # one connection, used by the sessions of a run in turn (behind the executor's lock)
            db = sqlite3.connect(real, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as err:
            raise OutputError(f"{self.path}: cannot open the journal: {err}", str(self.path)) from err
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            now = _judge(db, self.path)
            # "current" may have been read from the file's header alone (see inspect_journal)
            allowed = {"new": ("empty",), "legacy": ("legacy",), "v1": ("v1",), "current": ("current", "legacy", "v1")}
            if now not in allowed[found]:
                raise JournalError(f"{self.path}: the journal changed while it was opened; try again", str(self.path))
            if now == "empty":
                for statement in SCHEMA.split(";")[:-1]:
                    db.execute(statement)
            if now in ("empty", "legacy"):
                db.execute(SCRIPT_TABLE)
            if now != "current":
                # a journal of an earlier schema gets the tables it lacks, in this one transaction
                for statement in IMPORT_TABLES.split(";")[:-1]:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as err:
            db.close()
            raise OutputError(f"{self.path}: cannot open the journal: {err}", str(self.path)) from err
        except BaseException:
            db.close()  # what was begun is rolled back
            raise
        return db

    def close(self) -> None:
        self.db.close()
        self.lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, args: tuple[object, ...]) -> int:
        try:
            cursor = self.db.execute(sql, args)
        except sqlite3.Error as err:
            raise OutputError(f"{self.path}: cannot record in the journal: {err}", str(self.path)) from err
        return int(cursor.lastrowid or 0)

    # -- runs -----------------------------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        script: str,
        sha256: str,
        backend: str,
        target: str,
        undoes: int | None = None,
        text: str | None = None,
    ) -> int:
        """A new run, ``running``; `text` (a rollback's commands) is kept with it, in the same
        transaction."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            run = int(
                self.db.execute(
                    "INSERT INTO run (kind, script, script_sha256, backend, target, started, state, undoes) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
                    (kind, script, sha256, backend, target, _now(), undoes),
                ).lastrowid
                or 0
            )
            if text is not None:
                self.db.execute("INSERT INTO script (run, text) VALUES (?, ?)", (run, text))
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise OutputError(f"{self.path}: cannot record in the journal: {err}", str(self.path)) from err
        return run

    def finish_run(self, run: int, state: str) -> None:
        self._write("UPDATE run SET state = ?, finished = ? WHERE id = ?", (state, _now(), run))

    def reopen_run(self, run: int) -> None:
        self._write("UPDATE run SET state = 'running', finished = NULL WHERE id = ?", (run,))

    def runs(self) -> list[Run]:
        rows = self.db.execute(
            "SELECT id, kind, script, script_sha256, backend, target, started, finished, state, undoes "
            "FROM run ORDER BY id"
        ).fetchall()
        return [Run(*r) for r in rows]

    def run(self, run: int) -> Run:
        for r in self.runs():
            if r.id == run:
                return r
        raise InputError(f"{self.path}: no run {run} in the journal", str(self.path))

    def last_run(self, sha256: str, kind: str = "apply") -> Run | None:
        """The latest run of this script (by its content) of this kind."""
        found = [r for r in self.runs() if r.script_sha256 == sha256 and r.kind == kind]
        return found[-1] if found else None

    def rollback_of(self, run: int) -> Run | None:
        """The latest rollback of `run`."""
        found = [r for r in self.runs() if r.kind == "rollback" and r.undoes == run]
        return found[-1] if found else None

    def script_text(self, run: int) -> str | None:
        """The commands kept with `run` when it started (a rollback's), or the file an import
        run uploads; None when none were (an apply of a script, which is a file, or a rollback
        recorded before they were kept)."""
        row = self.db.execute("SELECT text FROM script WHERE run = ?", (run,)).fetchone()
        return None if row is None else str(row[0])

    # -- commands -------------------------------------------------------------------------------

    def sending(self, run: int, position: int, line: int, text: str) -> None:
        """Recorded (and synced) before the command is sent."""
        self._write(
            "INSERT OR REPLACE INTO command (run, position, line, text, state, sent) VALUES (?, ?, ?, ?, 'sending', ?)",
            (run, position, line, text, _now()),
        )

    def answered(self, run: int, position: int, state: str, answer: str) -> None:
        self._write(
            "UPDATE command SET state = ?, answer = ?, answered = ? WHERE run = ? AND position = ?",
            (state, answer, _now(), run, position),
        )

    def commands(self, run: int) -> list[CommandRecord]:
        rows = self.db.execute(
            "SELECT position, line, text, state, answer FROM command WHERE run = ? ORDER BY position", (run,)
        ).fetchall()
        return [CommandRecord(*r) for r in rows]

    def applied(self, run: int) -> int:
        """How many commands of `run` are applied (of an import run: operations)."""
        commands = sum(1 for r in self.commands(run) if r.state in APPLIED_STATES)
        row = self.db.execute(
            "SELECT count(*) FROM import_operation WHERE run = ? AND result = 'applied'", (run,)
        ).fetchone()
        return commands + int(row[0])

    # -- import jobs ----------------------------------------------------------------------------

    def start_import(
        self,
        run: int,
        *,
        file: str,
        name: str,
        sha256: str,
        filetype: str,
        error_policy: str,
        command: str,
        operations: list[tuple[int, int | None, str, str]],
        text: str | None = None,
    ) -> None:
        """Before the upload goes out: the job ``uploading`` with every operation of the file
        (position, line, operation, FDN) ``pending``, and the file's text kept with the run
        (replacing what an earlier upload of the run kept), in one synced transaction."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM import_operation WHERE run = ?", (run,))
            self.db.execute("DELETE FROM import_job WHERE run = ?", (run,))
            self.db.execute(
                "INSERT INTO import_job (run, file, name, sha256, filetype, error_policy, command, operations, state, "
                "uploaded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'uploading', ?)",
                (run, file, name, sha256, filetype, error_policy, command, len(operations), _now()),
            )
            self.db.executemany(
                "INSERT INTO import_operation (run, position, line, operation, fdn, result) "
                "VALUES (?, ?, ?, ?, ?, 'pending')",
                [(run, *o) for o in operations],
            )
            if text is not None:
                self.db.execute("INSERT OR REPLACE INTO script (run, text) VALUES (?, ?)", (run, text))
                self.db.execute("UPDATE run SET script_sha256 = ? WHERE id = ?", (sha256, run))
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise OutputError(f"{self.path}: cannot record in the journal: {err}", str(self.path)) from err

    def import_answered(self, run: int, job_id: int | None, state: str, answer: str) -> None:
        """ENM's answer to the upload: the job it started (``polling``), or none (``refused``)."""
        self._write(
            "UPDATE import_job SET job_id = ?, state = ?, answer = ?, answered = ? WHERE run = ?",
            (job_id, state, answer, _now(), run),
        )

    def import_polled(self, run: int, status: str | None, detail: str | None) -> None:
        """A status read: ENM's ``Status`` and ``Status detail``."""
        self._write(
            "UPDATE import_job SET status = ?, status_detail = ?, polls = polls + 1, polled = ? WHERE run = ?",
            (status, detail, _now(), run),
        )

    def import_ended(self, run: int, status: str | None, detail: str | None, outcomes: list[OperationOutcome]) -> None:
        """The job ended: its last status and every operation's outcome, in one transaction."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            now = _now()
            self.db.execute(
                "UPDATE import_job SET state = 'ended', status = ?, status_detail = ?, finished = ? WHERE run = ?",
                (status, detail, now, run),
            )
            self.db.executemany(
                "UPDATE import_operation SET state = ?, result = ?, message = ? WHERE run = ? AND position = ?",
                [(o.state, o.result, o.message, run, o.position) for o in outcomes],
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise OutputError(f"{self.path}: cannot record in the journal: {err}", str(self.path)) from err

    def import_job(self, run: int) -> ImportJobRecord | None:
        row = self.db.execute(
            f"SELECT {', '.join(TABLES['import_job'])} FROM import_job WHERE run = ?", (run,)
        ).fetchone()
        return None if row is None else ImportJobRecord(*row)

    def import_operations(self, run: int) -> list[OperationRecord]:
        rows = self.db.execute(
            "SELECT position, line, operation, fdn, state, result, message FROM import_operation WHERE run = ? "
            "ORDER BY position",
            (run,),
        ).fetchall()
        return [OperationRecord(*r) for r in rows]


# -- what a journal says ---------------------------------------------------------------------------


def _seconds(start: str | None, end: str | None) -> float | None:
    """Seconds between two journal times (ISO 8601), None when one is missing."""
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def journal_report(path: str | os.PathLike[str]) -> dict[str, object]:
    """What the journal at `path` records, read without its lock and without changing it or
    anything beside it (a run may be going on): every run (kind, script, where, when, state, the
    run it undoes, its commands counted by state, or its import job: ENM's job id, status and
    operations counted by result, with every operation that did not apply), where each that did
    not finish stopped (the command and ENM's answer, or the first operation that failed), the
    commands whose outcome is not known (sent, no answer), the uploads ENM's answer to which
    never came, the rollbacks left half-done, and the timings measured on ENM (the median round
    trip of a command, each ended job's operations per second from upload to end; the
    simulator's are not ENM's). :class:`JournalError` when it is not an rtbfast journal."""
    p = Path(path)
    if inspect_journal(p) == "new":
        raise JournalError(f"{p}: no journal there (no run recorded)", str(p))
    try:
        with _read_only(p) as db:
            runs = [Run(*r) for r in db.execute(f"SELECT {', '.join(LEGACY_TABLES['run'])} FROM run ORDER BY id")]
            commands = db.execute(
                "SELECT run, position, line, text, state, answer, sent, answered FROM command ORDER BY run, position"
            ).fetchall()
            has_imports = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'import_job'").fetchone() is not None
            jobs = (
                [
                    ImportJobRecord(*r)
                    for r in db.execute(f"SELECT {', '.join(TABLES['import_job'])} FROM import_job ORDER BY run")
                ]
                if has_imports
                else []
            )
            results = (
                db.execute("SELECT run, result, count(*) FROM import_operation GROUP BY run, result").fetchall()
                if has_imports
                else []
            )
            unapplied = (
                db.execute(
                    "SELECT run, position, line, operation, fdn, state, result, message FROM import_operation "
                    "WHERE result NOT IN ('applied', 'pending') ORDER BY run, position"
                ).fetchall()
                if has_imports
                else []
            )
    except sqlite3.Error as err:
        raise JournalError(f"{p}: the journal cannot be read: {err}", str(p)) from err
    by_run: dict[int, list[tuple[object, ...]]] = {}
    for row in commands:
        by_run.setdefault(int(row[0]), []).append(row)
    job_of = {j.run: j for j in jobs}
    counted: dict[int, dict[str, int]] = {}
    for run_id, result, n in results:
        counted.setdefault(int(run_id), {})[str(result)] = int(n)
    not_applied: dict[int, list[dict[str, object]]] = {}
    for row in unapplied:
        not_applied.setdefault(int(row[0]), []).append(
            dict(zip(("position", "line", "operation", "fdn", "state", "result", "message"), row[1:], strict=True))
        )
    undone_by = {r.undoes: r for r in runs if r.kind == "rollback" and r.undoes is not None}
    out_runs: list[dict[str, object]] = []
    uncertain: list[dict[str, object]] = []
    uncertain_uploads: list[dict[str, object]] = []
    round_trips: list[float] = []
    rates: list[dict[str, object]] = []
    for r in runs:
        rows = by_run.get(r.id, [])
        counts = {state: 0 for state in ("applied", "verified", "failed", "sending")}
        for row in rows:
            counts[str(row[4])] = counts.get(str(row[4]), 0) + 1
            if row[4] in ("applied", "failed") and r.backend == "enm":
                trip = _seconds(str(row[6]), str(row[7]) if row[7] else None)
                if trip is not None:
                    round_trips.append(trip)
        entry: dict[str, object] = {
            "run": r.id,
            "kind": r.kind,
            "script": r.script,
            "backend": r.backend,
            "target": r.target,
            "started": r.started,
            "finished": r.finished,
            "state": r.state,
            "undoes": r.undoes,
            "commands": len(rows),
            **counts,
        }
        undo = undone_by.get(r.id)
        if undo is not None:
            entry["rolled_back_by"] = undo.id
        stopped = next((row for row in rows if row[4] not in APPLIED_STATES), None)
        if r.state in ("running", "failed") and stopped is not None:
            entry["stopped_at"] = {
                "position": stopped[1],
                "line": stopped[2],
                "command": stopped[3],
                "state": stopped[4],
                "answer": stopped[5],
            }
        for row in rows:
            if row[4] == "sending":
                uncertain.append({"run": r.id, "position": row[1], "line": row[2], "command": row[3], "sent": row[6]})
        job = job_of.get(r.id)
        if job is not None:
            by_result = {k: counted.get(r.id, {}).get(k, 0) for k in IMPORT_RESULTS}
            seconds = _seconds(job.uploaded, job.finished)
            entry["import"] = {
                "job_id": job.job_id,
                "file": job.file,
                "name": job.name,
                "sha256": job.sha256,
                "filetype": job.filetype,
                "error_policy": job.error_policy,
                "command": job.command,
                "state": job.state,
                "status": job.status,
                "status_detail": job.status_detail,
                "answer": job.answer,
                "uploaded": job.uploaded,
                "answered": job.answered,
                "polled": job.polled,
                "polls": job.polls,
                "finished": job.finished,
                "seconds": seconds,
                "operations": job.operations,
                **by_result,
                "not_applied_operations": not_applied.get(r.id, []),
            }
            failed = [o for o in not_applied.get(r.id, []) if o["result"] == "failed"]
            if r.state in ("running", "failed") and failed:
                entry["stopped_at"] = {"operation": failed[0]}
            if job.state == "uploading":
                uncertain_uploads.append(
                    {"run": r.id, "file": job.file, "name": job.name, "command": job.command, "sent": job.uploaded}
                )
            if job.state == "ended" and seconds and job.operations and r.backend == "enm":
                rates.append(
                    {
                        "run": r.id,
                        "job_id": job.job_id,
                        "operations": job.operations,
                        "seconds": seconds,
                        "operations_per_second": job.operations / seconds,
                    }
                )
        out_runs.append(entry)
    half_done = [
        {
            "run": r.id,
            "undoes": r.undoes,
            "state": r.state,
            "applied": sum(1 for c in by_run.get(r.id, []) if c[4] in APPLIED_STATES)
            + counted.get(r.id, {}).get("applied", 0),
        }
        for r in runs
        if r.kind == "rollback" and r.state in ("running", "failed")
    ]
    # who runs on it now: the lock file's holder, if that process lives (read, never locked,
    # so that reading a journal never makes an apply starting meanwhile find it busy)
    holder: dict[str, object] | None = None
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(Path(f"{p}.lock").read_text(encoding="utf-8") or "null")
        if isinstance(found, dict) and found.get("host") == socket.gethostname():
            pid = found.get("pid")
            if isinstance(pid, int) and pid > 0:
                with contextlib.suppress(ProcessLookupError):
                    try:
                        os.kill(pid, 0)
                        holder = found
                    except PermissionError:
                        holder = found
    times = [str(x) for r in runs for x in (r.started, r.finished) if x]
    times += [str(c[7] or c[6]) for c in commands]
    times += [str(x) for j in jobs for x in (j.uploaded, j.answered, j.polled, j.finished) if x]
    last = max(times, default=None)
    return {
        "journal": str(p),
        "runs": out_runs,
        "uncertain": uncertain,
        "uncertain_uploads": uncertain_uploads,
        "half_done_rollbacks": half_done,
        "running": holder,
        "last_activity": last,
        "timing": {
            "commands_measured": len(round_trips),
            "seconds_per_command": _median(round_trips),
            "import_jobs": rates,
        },
    }
