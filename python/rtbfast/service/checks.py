"""Template checks off the event loop. A check is mostly Python (Arrow compute calls between
the native read and evaluation), so threads of the server's process would hold the GIL the
event loop needs: ``/health`` would wait behind them. Checks therefore run in worker processes
(:class:`CheckPool`), each with the catalogs loaded once at its start, at a lower CPU priority
than the process that answers HTTP; the answer (JSON, Arrow or Parquet bytes) is built in the
worker too. The checks waiting while every worker is busy go to the next free worker as one
batch, checked in one check of all their templates (:func:`check_answers`): most of a check's
cost is fixed (the read, the lookups, the calls between them), paid once a batch. With
``check_workers=0`` they run on threads of the server's process instead, one check at a time
(:func:`check_answer` is the same either way)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import shutil
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
    (answer,) = check_answers(view, catalog, [(given, kind)], scratch, threads, dynamic)
    if isinstance(answer, Exception):
        raise answer
    return answer


def check_answers(
    view: CatalogView,
    catalog: str,
    asked: list[tuple[list[tuple[str, bytes]], str]],
    scratch: Path,
    threads: int,
    dynamic: bool,
) -> list[CheckAnswer | Exception]:
    """The answers to several checks (each its templates and the kind of answer wanted) made
    by one check of all their templates, whose fixed costs (the read, the lookups, the calls
    between them) are paid once, not once a check: each answer is what its check alone
    answers (a template's findings do not depend on the templates checked with it, but for
    which are listed of a template with more than LISTED of a code: a check with such a
    template is checked again alone). Where the check of them all is refused or fails, each is
    checked alone, so only its own answer says so: a located error (422), or the exception its
    check raised."""
    from rtbfast.templates.check import check_templates

    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        paths: list[list[Path]] = []
        for k, (given, _) in enumerate(asked):
            into = folder / str(k) if len(asked) > 1 else folder
            into.mkdir(exist_ok=True)
            paths.append([into / name for name, _ in given])
            for path, (_, data) in zip(paths[-1], given, strict=True):
                path.write_bytes(data)
        try:
            result = check_templates([p for own in paths for p in own], view, threads=threads, dynamic=dynamic)
        except Exception as err:
            if len(asked) > 1:
                result = None
            elif isinstance(err, RtbfastError):
                return [_refused(err)]
            else:
                return [err]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if result is None:
        return [answer for one in asked for answer in check_answers(view, catalog, [one], scratch, threads, dynamic)]
    answers: list[CheckAnswer | Exception] = []
    table = _named(result.findings, {str(p): p.name for own in paths for p in own})
    # the findings come in the order of the templates, and each check's templates one after
    # the other: each check's findings are a slice
    bounds = _bounds(result.findings["template"].to_pylist(), [[str(p) for p in own] for own in paths])
    first = 0
    for one, own, (start, stop) in zip(asked, paths, bounds, strict=True):
        templates = range(first, first + len(own))
        first += len(own)
        if len(asked) > 1 and not result.unlisted.isdisjoint(templates):
            # which of its findings are listed may depend on the others: checked alone
            answers.extend(check_answers(view, catalog, [one], scratch, threads, dynamic))
            continue
        summaries = result.summaries[templates.start : templates.stop]
        checked = sum(result.checked[templates.start : templates.stop])
        counts = {severity: sum(int(s[_PLURAL[severity]]) for s in summaries) for severity in _PLURAL}
        answers.append(_answer(catalog, table.slice(start, stop - start), len(own), checked, counts, one[1]))
    return answers


_PLURAL = {"error": "errors", "warning": "warnings", "info": "infos"}


def _bounds(templates: list[str], paths: list[list[str]]) -> list[tuple[int, int]]:
    """Where each check's findings start and stop in the findings of all (`templates`: the
    template of each finding, in order)."""
    check_of = {p: k for k, own in enumerate(paths) for p in own}
    bounds = []
    at = 0
    for k in range(len(paths)):
        start = at
        while at < len(templates) and check_of[templates[at]] == k:
            at += 1
        bounds.append((start, at))
    if at != len(templates):
        raise AssertionError("the findings are not in the order of the checks")
    return bounds


def _refused(err: RtbfastError) -> CheckAnswer:
    located = {
        "error": err.message,
        "file": Path(err.file).name if err.file else None,
        "line": err.line or None,
        "column": err.column or None,
        "element": err.element or None,
    }
    return CheckAnswer(422, "application/json", json.dumps({"detail": located}).encode())


def _answer(
    catalog: str, table: pa.Table, templates: int, values_checked: int, counts: dict[str, int], kind: str
) -> CheckAnswer:
    if kind == "json":
        from rtbfast.service.tables import rows

        body = {
            "catalog": catalog,
            "templates": templates,
            "values_checked": values_checked,
            "errors": counts["error"],
            "warnings": counts["warning"],
            "findings": rows(table.select(list(FINDING_COLUMNS))),
        }
        encoded = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        return CheckAnswer(200, "application/json", encoded, counts, values_checked)
    media_type, data = table_bytes(kind, table)
    return CheckAnswer(200, media_type, data, counts, values_checked)


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
BATCH_TEMPLATES = 64
"""Templates a worker checks at most in one batch (a check asking more goes alone)."""
BATCH_BYTES = 8 << 20
"""Bytes of templates a worker checks at most in one batch."""
BATCH_AT_LEAST = 4
"""Templates a free worker waits for while another worker is busy (a check alone costs most
of what a batch of them costs), for at most :data:`BATCH_WAIT_SECONDS`. With every worker
free a check goes at once, alone."""
BATCH_WAIT_SECONDS = 0.002
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


def _worker_check(
    catalog: str, asked: list[tuple[list[tuple[str, bytes]], str]], threads: int, dynamic: bool
) -> list[CheckAnswer | Exception]:
    return check_answers(_VIEWS[catalog], catalog, asked, _WORKER["scratch"], threads, dynamic)


class WorkerLost(Exception):
    """A check worker process died (the pool is made again for the next check)."""


@dataclass
class _Asked:
    """A check waiting for its worker, or in a worker's batch."""

    given: list[tuple[str, bytes]]
    kind: str
    answer: asyncio.Future[CheckAnswer]
    batch: tuple[str, int, bool]
    """What the checks of one batch share: the catalog, the threads and ``dynamic``."""

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.given)


class CheckPool:
    """`workers` processes that check templates, each with every catalog loaded once.

    A worker checks a batch: the checks waiting when it is free (at most
    :data:`BATCH_TEMPLATES` templates), in one check of all their templates
    (:func:`check_answers`), so the fixed costs of a check are paid once a batch. A check
    asked while every worker is free goes at once, alone; batches form from the checks asked
    while workers are busy (a free worker waits a moment for a few: :data:`BATCH_AT_LEAST`)."""

    def __init__(self, catalogs: dict[str, Path], threads: int, scratch: Path, workers: int) -> None:
        self.catalogs = {name: str(path) for name, path in catalogs.items()}
        self.threads = threads
        self.scratch = scratch
        self.workers = workers
        given = os.environ.get("RTBFAST_CHECK_NICENESS", "")
        self.niceness = int(given) if given.lstrip("-").isdigit() else WORKER_NICENESS
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[_Asked] = []
        self._running = 0
        """Batches in the workers."""

    def _made(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the server's process has threads (the catalog load, the jobs)
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
                initargs=(self.catalogs, self.threads, str(self.scratch), self.niceness),
            )
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

    _timer: asyncio.TimerHandle | None = None

    async def check(
        self, catalog: str, given: list[tuple[str, bytes]], threads: int, dynamic: bool, kind: str
    ) -> CheckAnswer:
        """The check in a worker, in a batch with the checks waiting with it. Cancelled (the
        request's time limit), a check not started yet is dropped and one running finishes
        with its batch, its answer dropped."""
        asked = _Asked(given, kind, asyncio.get_running_loop().create_future(), (catalog, threads, dynamic))
        self._waiting.append(asked)
        self._dispatch()
        return await asked.answer

    def _dispatch(self, waited: bool = False) -> None:
        """Batches of the waiting checks handed to the free workers (on the event loop): at
        once where no worker is busy, else once :data:`BATCH_AT_LEAST` templates wait or the
        first has waited :data:`BATCH_WAIT_SECONDS` (`waited`)."""
        self._waiting = [a for a in self._waiting if not a.answer.done()]  # cancelled: dropped
        while self._waiting and self._running < self.workers:
            if self._running and not waited and sum(len(a.given) for a in self._waiting) < BATCH_AT_LEAST:
                if self._timer is None:
                    loop = self._waiting[0].answer.get_loop()
                    self._timer = loop.call_later(BATCH_WAIT_SECONDS, self._waited)
                return
            batch = self._batch()
            try:
                pool = self._made()
                future = pool.submit(
                    _worker_check, batch[0].batch[0], [(a.given, a.kind) for a in batch], *batch[0].batch[1:]
                )
            except BrokenProcessPool as err:
                self._renew(self._pool)
                for a in batch:
                    a.answer.set_exception(WorkerLost(str(err)))
                continue
            self._running += 1
            future.add_done_callback(functools.partial(self._returned, batch, pool))

    def _waited(self) -> None:
        self._timer = None
        self._dispatch(waited=True)

    def _batch(self) -> list[_Asked]:
        """The first waiting check and those waiting after it that share its catalog, threads
        and ``dynamic``, within the bounds of a batch; taken from the waiting."""
        first = self._waiting[0]
        batch, kept = [first], []
        templates, size = len(first.given), first.size
        for a in self._waiting[1:]:
            if a.batch == first.batch and templates + len(a.given) <= BATCH_TEMPLATES and size + a.size <= BATCH_BYTES:
                batch.append(a)
                templates, size = templates + len(a.given), size + a.size
            else:
                kept.append(a)
        self._waiting = kept
        return batch

    def _returned(
        self, batch: list[_Asked], pool: ProcessPoolExecutor, done: Future[list[CheckAnswer | Exception]]
    ) -> None:
        """A batch's answers back (on the pool's thread): handed to the event loop."""
        with contextlib.suppress(RuntimeError):  # the event loop is closed: the service stopped
            batch[0].answer.get_loop().call_soon_threadsafe(self._done, batch, pool, done)

    def _done(
        self, batch: list[_Asked], pool: ProcessPoolExecutor, done: Future[list[CheckAnswer | Exception]]
    ) -> None:
        self._running -= 1
        try:
            answers = done.result()
        except BrokenProcessPool as err:
            self._renew(pool)
            for a in batch:
                if not a.answer.done():
                    a.answer.set_exception(WorkerLost(str(err)))
        except concurrent.futures.CancelledError:  # the pool shut down
            for a in batch:
                a.answer.cancel()
        except Exception as err:  # said to each check of the batch
            for a in batch:
                if not a.answer.done():
                    a.answer.set_exception(err)
        else:
            for a, answer in zip(batch, answers, strict=True):
                if a.answer.done():
                    continue
                if isinstance(answer, Exception):
                    a.answer.set_exception(answer)
                else:
                    a.answer.set_result(answer)
        self._dispatch()

    def _renew(self, broken: ProcessPoolExecutor | None) -> None:
        """The broken pool dropped (once: each of its batches says it is broken), made again
        for the next batch."""
        if broken is None or broken is not self._pool:
            return
        self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)
        log.error("a check worker died: the check workers are started again")

    def close(self) -> None:
        """The workers stopped: a check still running is not waited for (its request has had
        the drain time to finish)."""
        pool, self._pool = self._pool, None
        for a in self._waiting:
            if not a.answer.done():
                a.answer.set_exception(WorkerLost("the service is stopping"))
        self._waiting = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if pool is None:
            return
        # the pool's processes: no public way to stop them before Python 3.14's terminate_workers
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(5)
