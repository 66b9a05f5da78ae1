"""Work split over forked processes: the first share runs here, the others in children that
inherit this process's memory (no inputs are pickled) and send their results back."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TypeVar

T = TypeVar("T")


class WorkerFailed(RuntimeError):
    """A worker raised or died; the message carries its traceback or exit code."""


def in_processes(work: Callable[[int], T], count: int) -> list[T]:
    """``[work(0), ..., work(count - 1)]``, with ``work(0)`` run here and the others in forked
    children at the same time. Where processes cannot be forked, all run here in turn."""
    if count <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [work(k) for k in range(count)]
    context = multiprocessing.get_context("fork")
    children = []
    try:
        for k in range(1, count):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(work, k, send), name=f"rtbfast-worker-{k}", daemon=True)
            child.start()
            send.close()
            children.append((child, receive))
        results = [work(0)]
        for child, receive in children:
            try:
                ok, value = receive.recv()
            except EOFError:
                child.join()
                raise WorkerFailed(f"{child.name} ended without a result (exit code {child.exitcode})") from None
            child.join()
            if not ok:
                raise WorkerFailed(f"{child.name} failed:\n{value}")
            results.append(value)
        return results
    finally:
        for child, receive in children:
            receive.close()
            if child.is_alive():
                child.terminate()
                child.join()


def _child(work: Callable[[int], T], k: int, send: Connection) -> None:
    try:
        result = work(k)
    except BaseException:  # the parent reports it; nothing is lost with the child
        send.send((False, traceback.format_exc()))
    else:
        send.send((True, result))
    finally:
        send.close()
