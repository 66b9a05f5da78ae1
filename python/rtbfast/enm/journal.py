"""The journal of ``rtbfast apply``: every command's outcome, recorded durably in SQLite before
the next command is sent.

A command is marked ``sending`` (committed, synced) before it goes out, and ``applied`` or
``failed`` with the answer when it comes back. A run killed in between leaves it ``sending``:
its outcome is unknown, and ``--resume`` finds out (by reading the MO back) before going on.
Rollbacks are runs too, tied to the run they undo.

Tables::

    run(id, kind, script, script_sha256, backend, target, started, finished, state, undoes)
    command(run, position, line, text, state, answer, sent, answered)

``state`` of a run is ``running``, ``done``, ``failed`` or ``rolled_back``; of a command
``sending``, ``applied``, ``failed`` or ``verified`` (found applied on resume without being
sent again).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rtbfast.errors import InputError, OutputError

SCHEMA = """
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

APPLIED_STATES = ("applied", "verified")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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


class Journal:
    """A journal file, opened (and created) for one process."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise InputError(f"{self.path}: the journal is not a file", str(self.path))
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise InputError(
                f"{self.path}: not an rtbfast journal ({err}); give another --journal file", str(self.path)
            ) from err
        except OSError as err:
            raise OutputError(f"{self.path}: cannot open the journal: {err}", str(self.path)) from err

    def close(self) -> None:
        self.db.close()

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
        self, kind: str, script: str, sha256: str, backend: str, target: str, undoes: int | None = None
    ) -> int:
        return self._write(
            "INSERT INTO run (kind, script, script_sha256, backend, target, started, state, undoes) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            (kind, script, sha256, backend, target, _now(), undoes),
        )

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
