"""Template checks off the event loop. A check is mostly Python (Arrow compute calls between
the native read and evaluation), so threads of the server's process would hold the GIL the
event loop needs: ``/health`` would wait behind them. Checks therefore run in worker processes
(:class:`CheckPool`), each with the catalogs loaded once at its start, at a lower CPU priority
than the process that answers HTTP; the answer (JSON, Arrow or Parquet bytes) is built in the
worker too. With ``check_workers=0`` they run on threads of the server's process instead
(:func:`check_answer` is the same either way)."""

from __future__ import annotations

import asyncio
import concurrent.futures.process
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from rtbfast.catalog_view import CatalogView
from rtbfast.errors import RtbfastError
from rtbfast.service.tables import table_bytes

log = logging.getLogger("rtbfast.service")

FINDING_COLUMNS = ("template", "path", "line", "column", "severity", "code", "message", "suggestion")
WORKER_NICENESS = 5
"""How much lower the check workers' CPU priority is than the server's: when the cores are
busy the process answering HTTP (and ``/health``) runs first. ``RTBFAST_CHECK_NICENESS``
changes it (0: the same priority)."""


@dataclass
class CheckAnswer:
    """What a check answers: the body (already encoded), or a located error (422), and what
    the metrics count."""

    status: int
    media_type: str
    body: bytes
    findings: dict[str, int] = field(default_factory=dict)
    """Findings by severity (every one, listed or not)."""
    values_checked: int = 0


def check_answer(
    view: CatalogView,
    catalog: str,
    given: list[tuple[str, bytes]],
    scratch: Path,
    threads: int,
    dynamic: bool,
    kind: str,
) -> CheckAnswer:
    """The templates `given` (name, text) written to a folder of `scratch`, checked by the
    check the CLI runs, and the answer in `kind` (``json``, ``arrow`` or ``parquet``)."""
    from rtbfast.templates.check import check_templates

    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        paths = []
        for name, data in given:
            path = folder / name
            path.write_bytes(data)
            paths.append(path)
        try:
            result = check_templates(paths, view, threads=threads, dynamic=dynamic)
        except RtbfastError as err:
            located = {
                "error": err.message,
                "file": Path(err.file).name if err.file else None,
                "line": err.line or None,
                "column": err.column or None,
                "element": err.element or None,
            }
            return CheckAnswer(422, "application/json", json.dumps({"detail": located}).encode())
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    table = _named(result.findings, {str(p): p.name for p in paths})
    counts = {severity: result.count(severity) for severity in ("error", "warning", "info")}
    if kind == "json":
        from rtbfast.service.tables import rows

        body = {
            "catalog": catalog,
            "templates": result.templates,
            "values_checked": result.values_checked,
            "errors": counts["error"],
            "warnings": counts["warning"],
            "findings": rows(table.select(list(FINDING_COLUMNS))),
        }
        encoded = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        return CheckAnswer(200, "application/json", encoded, counts, result.values_checked)
    media_type, data = table_bytes(kind, table)
    return CheckAnswer(200, media_type, data, counts, result.values_checked)


def _named(findings: pa.Table, names: dict[str, str]) -> pa.Table:
    """The findings with each template's scratch path replaced by the name the client gave."""
    column = findings["template"].to_pylist()
    return findings.set_column(
        findings.schema.get_field_index("template"),
        "template",
        pa.array([names.get(t, t) for t in column], pa.string()),
    )


# -- the worker processes ---------------------------------------------------------------------

PARENT_WATCH_SECONDS = 1.0
QUEUED_AHEAD = 16
"""Checks handed to the workers' pipe ahead of a free worker (ProcessPoolExecutor's default is
one): measured at 32 clients, 39-48 checks/s against 34-39 with one."""
_VIEWS: dict[str, CatalogView] = {}
_WORKER: dict[str, Any] = {}


def _worker_start(catalogs: dict[str, str], threads: int, scratch: str, niceness: int) -> None:
    """A worker's start: a lower priority, and the catalogs loaded with what every check looks
    up made now rather than at its first check."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers itself
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    if niceness:
        with contextlib.suppress(OSError):  # not permitted: the same priority
            os.nice(niceness)
    for name, path in catalogs.items():
        view = CatalogView.load(path, threads)
        _ = (view.compiled, view.classes, view.children, view.attributes, view.attribute_names)
        _ = (view.factor_of, view.enum_names)
        _VIEWS[name] = view
    _WORKER.update(threads=threads, scratch=Path(scratch))


def _exit_with_parent(parent: int) -> None:
    """A worker whose server is gone (killed: it had no time to stop its workers) exits, not
    left behind holding its catalogs."""
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_SECONDS)
    os._exit(0)


def _worker_pid() -> int:
    return os.getpid()


def _worker_check(catalog: str, given: list[tuple[str, bytes]], threads: int, dynamic: bool, kind: str) -> CheckAnswer:
    return check_answer(_VIEWS[catalog], catalog, given, _WORKER["scratch"], threads, dynamic, kind)


class WorkerLost(Exception):
    """A check worker process died (the pool is made again for the next check)."""


class CheckPool:
    """`workers` processes that check templates, each with every catalog loaded once."""

    def __init__(self, catalogs: dict[str, Path], threads: int, scratch: Path, workers: int) -> None:
        self.catalogs = {name: str(path) for name, path in catalogs.items()}
        self.threads = threads
        self.scratch = scratch
        self.workers = workers
        given = os.environ.get("RTBFAST_CHECK_NICENESS", "")
        self.niceness = int(given) if given.lstrip("-").isdigit() else WORKER_NICENESS
        self._pool: ProcessPoolExecutor | None = None

    def _made(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # checks queued ahead in the workers' pipe, not one: a worker done takes its next at
            # once rather than when this process's feeding thread gets a core (read when the
            # pool is made; nothing else of the server makes a process pool)
            kept = concurrent.futures.process.EXTRA_QUEUED_CALLS
            concurrent.futures.process.EXTRA_QUEUED_CALLS = QUEUED_AHEAD  # type: ignore[misc] # Final in typeshed
            try:
                # spawn, not fork: the server's process has threads (the catalog load, the jobs)
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_start,
                    initargs=(self.catalogs, self.threads, str(self.scratch), self.niceness),
                )
            finally:
                concurrent.futures.process.EXTRA_QUEUED_CALLS = kept  # type: ignore[misc]
        return self._pool

    def start(self) -> None:
        """Every worker started and its catalogs loaded (blocks; run it off the event loop).
        Raises what a worker's load raised."""
        pool = self._made()
        seen: set[int] = set()
        for _ in range(50):  # a worker done early may answer for another: ask again
            futures = [pool.submit(_worker_pid) for _ in range(self.workers)]
            seen.update(f.result() for f in futures)
            if len(seen) >= self.workers:
                return
        log.warning("not every check worker answered at start", extra={"fields": {"answered": len(seen)}})

    async def check(
        self, catalog: str, given: list[tuple[str, bytes]], threads: int, dynamic: bool, kind: str
    ) -> CheckAnswer:
        """The check in a worker. Cancelled (the request's time limit), a check not started yet
        is dropped and one running finishes alone, its answer dropped."""
        try:
            future: Future[CheckAnswer] = self._made().submit(_worker_check, catalog, given, threads, dynamic, kind)
        except BrokenProcessPool as err:
            self._renew()
            raise WorkerLost(str(err)) from err
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as err:
            self._renew()
            raise WorkerLost(str(err)) from err

    def _renew(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        log.error("a check worker died: the check workers are started again")

    def close(self) -> None:
        """The workers stopped: a check still running is not waited for (its request has had
        the drain time to finish)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # the pool's processes: no public way to stop them before Python 3.14's terminate_workers
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(5)
