"""The native thread pools are made once per process (``rust/src/pools.rs``): a forked child,
which has its parent's pools but none of their threads, makes its own instead of waiting
forever on the parent's."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pyarrow as pa
import pytest

from rtbfast import _native

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")


def _template(folder: Path) -> str:
    path = folder / "t.json"
    path.write_text(json.dumps([{"$meta": {"version": "1.0.0"}}, {"EUtranCellFDD": {"qRxLevMin": "-120"}}]))
    return str(path)


def _read_in_child(path: str, threads: int) -> None:
    tables = _native.read_templates([path], threads, _native.Progress(), False)
    os._exit(0 if pa.table(tables["values"]).num_rows == 1 else 3)


@pytest.mark.parametrize("threads", [0, 2])
def test_a_forked_child_reads_with_pools_of_its_own(tmp_path: Path, threads: int) -> None:
    path = _template(tmp_path)
    parent = _native.read_templates([path], threads, _native.Progress(), False)  # the parent's pool made
    assert pa.table(parent["values"]).num_rows == 1
    child = multiprocessing.get_context("fork").Process(target=_read_in_child, args=(path, threads))
    child.start()
    child.join(30)
    if child.is_alive():  # waiting on the parent's pool, whose threads are not in the child
        child.kill()
        child.join()
        pytest.fail("the forked child hung on its parent's thread pool")
    assert child.exitcode == 0
    again = _native.read_templates([path], threads, _native.Progress(), False)  # the parent's pool still serves
    assert pa.table(again["values"]).num_rows == 1
