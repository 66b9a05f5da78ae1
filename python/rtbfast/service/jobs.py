"""Long work as jobs: a SQLite store on the jobs volume, and bounded runners.

The store (``JOBS_DIR/jobs.sqlite``, WAL, ``synchronous=FULL``) has one row per job: its
kind, state (``queued``, ``running``, ``succeeded``, ``failed``), progress, phase, request,
result and error. Each row is committed before the state it names starts, so a crash leaves
the store consistent. A job of an earlier start of the server that was queued or running is
marked ``failed`` with ``resumable`` set when the server starts again (:meth:`JobStore.recover`),
and the server marks its own the same way when it is stopped (:meth:`JobRunner.stop`): a job
is never left ``running``. Each job's files are in ``JOBS_DIR/<id>/``.

Each kind runs at most ``job_concurrency[kind]`` jobs at once, and holds at most ``queue``
waiting: past that, :class:`QueueFull` (the route answers 429 with ``Retry-After``).
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rtbfast.errors import RtbfastError
from rtbfast.service.config import JOB_KINDS, Limits

log = logging.getLogger("rtbfast.service")

SCHEMA = """
CREATE TABLE IF NOT EXISTS job (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    catalog TEXT,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    progress REAL,
    phase TEXT,
    request TEXT NOT NULL,
    result TEXT,
    error TEXT,
    resumable INTEGER NOT NULL DEFAULT 0,
    boot TEXT NOT NULL
)
"""
COLUMNS = (
    "id",
    "kind",
    "state",
    "catalog",
    "created",
    "started",
    "finished",
    "progress",
    "phase",
    "request",
    "result",
    "error",
    "resumable",
    "boot",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    state: str
    catalog: str | None
    created: str
    started: str | None
    finished: str | None
    progress: float | None
    phase: str | None
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    resumable: bool
    boot: str


class JobStore:
    """The jobs table, written by one connection under a lock (the job threads and the routes
    share it)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / "jobs.sqlite"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def folder_of(self, job_id: str) -> Path:
        return self.folder / job_id

    def create(self, kind: str, catalog: str | None, request: dict[str, Any], boot: str) -> str:
        job_id = uuid.uuid4().hex
        self.folder_of(job_id).mkdir()
        self._write(
            "INSERT INTO job (id, kind, state, catalog, created, request, boot) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
            (job_id, kind, catalog, _now(), json.dumps(request), boot),
        )
        return job_id

    def started(self, job_id: str) -> bool:
        return (
            self._write(
                "UPDATE job SET state = 'running', started = ?, progress = 0 WHERE id = ? AND state = 'queued'",
                (_now(), job_id),
            )
            == 1
        )

    def progress(self, job_id: str, fraction: float | None, phase: str | None) -> None:
        self._write(
            "UPDATE job SET progress = coalesce(?, progress), phase = coalesce(?, phase) "
            "WHERE id = ? AND state = 'running'",
            (fraction, phase, job_id),
        )

    def finished(self, job_id: str, result: dict[str, Any], error: str | None) -> None:
        """Succeeded (no `error`) or failed; a job already marked failed (the server stopping)
        stays as it was marked."""
        self._write(
            "UPDATE job SET state = ?, finished = ?, progress = 1, result = ?, error = ? "
            "WHERE id = ? AND state = 'running'",
            ("failed" if error else "succeeded", _now(), json.dumps(result), error, job_id),
        )

    def recover(self, boot: str) -> int:
        """Mark the jobs an earlier start of the server left queued or running as failed
        (resumable: submit them again)."""
        return self._write(
            "UPDATE job SET state = 'failed', resumable = 1, finished = ?, "
            "error = 'the server stopped while this job was ' || state || ': nothing of it is kept; submit it again' "
            "WHERE state IN ('queued', 'running') AND boot != ?",
            (_now(), boot),
        )

    def stop(self, boot: str) -> int:
        """Mark this start's queued and running jobs as failed (resumable): the server is stopping."""
        return self._write(
            "UPDATE job SET state = 'failed', resumable = 1, finished = ?, "
            "error = 'the server was stopped (SIGTERM) while this job was ' || state || '; submit it again' "
            "WHERE state IN ('queued', 'running') AND boot = ?",
            (_now(), boot),
        )

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM job WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        d = dict(zip(COLUMNS, row, strict=True))
        d["request"] = json.loads(d["request"])
        d["result"] = json.loads(d["result"]) if d["result"] else None
        d["resumable"] = bool(d["resumable"])
        return Job(**d)

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            rows = self._db.execute("SELECT kind, state, count(*) FROM job GROUP BY kind, state").fetchall()
        return {(str(k), str(s)): int(n) for k, s, n in rows}

    def writable(self) -> bool:
        """The store takes a write (readiness): a write transaction opened and rolled back."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False


class QueueFull(Exception):
    def __init__(self, kind: str, retry_after: int) -> None:
        super().__init__(f"too many {kind} jobs waiting; try again in {retry_after} s")
        self.kind = kind
        self.retry_after = retry_after


Report = Callable[[float | None, str | None], None]
"""What a job's work calls to say its progress (0..1) and phase."""
Work = Callable[[Path, Report], dict[str, Any]]
"""A job's work: given its folder and a reporter, returns its result (raises to fail)."""


class JobFailed(Exception):
    """A job's work ended without its output, with what it found (the result kept)."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class JobRunner:
    """Runs jobs on a bounded set of threads per kind, with a bounded queue per kind. The
    threads are daemons: a stopping server does not wait for a long audit (its job is marked
    failed and resumable instead)."""

    def __init__(self, store: JobStore, limits: Limits, boot: str) -> None:
        self.store = store
        self.limits = limits
        self.boot = boot
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue[tuple[str, Work] | None]] = {kind: queue.Queue() for kind in JOB_KINDS}
        self.waiting = dict.fromkeys(JOB_KINDS, 0)
        self.running = dict.fromkeys(JOB_KINDS, 0)
        self.stopping = False
        self._threads = [
            threading.Thread(target=self._loop, args=(kind,), name=f"job-{kind}-{i}", daemon=True)
            for kind in JOB_KINDS
            for i in range(max(1, limits.job_concurrency.get(kind, 1)))
        ]
        for t in self._threads:
            t.start()

    def submit(self, kind: str, catalog: str | None, request: dict[str, Any], work: Work) -> str:
        with self._lock:
            if self.stopping or self.waiting[kind] >= self.limits.queue:
                raise QueueFull(kind, self.limits.retry_after_seconds)
            self.waiting[kind] += 1
        try:
            job_id = self.store.create(kind, catalog, request, self.boot)
        except BaseException:
            with self._lock:
                self.waiting[kind] -= 1
            raise
        self._queues[kind].put((job_id, work))
        return job_id

    def _loop(self, kind: str) -> None:
        while True:
            item = self._queues[kind].get()
            if item is None:
                return
            with self._lock:
                self.waiting[kind] -= 1
                if self.stopping:
                    return
                self.running[kind] += 1
            try:
                self._run(kind, *item)
            finally:
                with self._lock:
                    self.running[kind] -= 1

    def _run(self, kind: str, job_id: str, work: Work) -> None:
        if not self.store.started(job_id):
            return
        last = [0.0]

        def report(fraction: float | None, phase: str | None) -> None:
            now = time.monotonic()
            if phase is not None or now - last[0] >= 0.5:
                last[0] = now
                self.store.progress(job_id, fraction, phase)

        try:
            result = work(self.store.folder_of(job_id), report)
            self.store.finished(job_id, result, None)
        except JobFailed as err:
            self.store.finished(job_id, err.result, str(err))
        except RtbfastError as err:
            self.store.finished(job_id, {}, str(err))
        except Exception as err:  # a job never takes the server down; its error is kept
            log.exception("job %s (%s) failed", job_id, kind)
            self.store.finished(job_id, {}, f"internal error: {type(err).__name__}: {err}")

    def busy(self) -> int:
        with self._lock:
            return sum(self.running.values()) + sum(self.waiting.values())

    def stop(self) -> int:
        """Stop taking jobs and mark what was queued or running as failed (resumable). Running
        work is not waited for: its thread ends with the process."""
        with self._lock:
            self.stopping = True
        for kind, q in self._queues.items():
            for _ in range(max(1, self.limits.job_concurrency.get(kind, 1))):
                q.put(None)
        return self.store.stop(self.boot)
