"""The driver's peak memory of ``rtbfast templates expand --spark 'local[2]'`` against the same
command without ``--spark`` (the peer, in the same run), each in a process of its own: the
Python driver's own ``VmHWM`` read as it exits (its JVM, a child, is measured apart by polling
its RSS, and printed). The rich generated export (16 MB in CI, 100 MB with
``RTBFAST_BENCH_FULL=1``), the expansion benchmark's template over every cell, the example
catalog with its workbook.

Target (issue 20, item 3; ``docs/scale-out.md``, *The driver's memory*): the driver holds a
window of the batches' inputs and a run of their results, not the network: its peak at most the
one-process peak plus :data:`rtbfast.spark.batches.WINDOW_BYTES` (and 16 MB of slack). Before
the windows, every batch was collected at once: at 100 MB the driver peaked at 477 MB against
304 MB without ``--spark``. The two files are byte for byte the same. A target not met is printed
NOT MET and the test fails."""

# ruff: noqa: F811  (the shared example_out fixture, imported, is the test's argument)
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench import generate
from bench.conftest import FULL
from bench.test_plan_memory_curve import example_out  # noqa: F401  (the example catalog fixture, shared)
from rtbfast.spark.batches import WINDOW_BYTES
from rtbfast.spark.session import java_missing

SIZE_MB = 100 if FULL else 16
SLACK_MB = 16

_DRIVER = """
import atexit, sys
def _peak():
    status = open("/proc/self/status").read().splitlines()
    kb = [line for line in status if line.startswith("VmHWM")][0].split()[1]
    open(hwm, "w").write(kb)
hwm, sys.argv = sys.argv[1], ["rtbfast", *sys.argv[2:]]
atexit.register(_peak)
from rtbfast.cli import main
main()
"""


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                found.extend([int(child), *_children(int(child))])
    except OSError:
        pass
    return found


def _run(args: list[str], hwm: Path) -> tuple[float, float, float]:
    """The driver's peak (MB), its JVM's peak RSS (MB, 0 without one) and the seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(hwm), *args], stdout=subprocess.PIPE, text=True)
    jvm = [0]

    def poll() -> None:
        while proc.poll() is None:
            for pid in _children(proc.pid):
                try:
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "java":
                        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
                        kb = int(next(line for line in lines if line.startswith("VmHWM")).split()[1])
                        jvm[0] = max(jvm[0], kb)
                except (OSError, StopIteration):
                    continue
            time.sleep(0.2)

    watcher = threading.Thread(target=poll)
    watcher.start()
    proc.communicate()
    watcher.join()
    assert proc.returncode == 0, args
    return int(hwm.read_text()) / 1024, jvm[0] / 1024, time.perf_counter() - started


def test_the_spark_driver_holds_a_window_not_the_network(example_out: Path, tmp_path: Path) -> None:
    if java_missing():
        pytest.skip(f"Spark cannot run here: {java_missing()}")
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'rtbfast[spark]')")
    from bench.test_expand_memory import _without_node_made
    from rtbfast.templates.tree import template_json
    from rtbfast.templates.typed import make_variants

    examples = Path(__file__).resolve().parents[1] / "examples" / "templates"
    (variant,) = make_variants(examples / "base_cell.yaml", [examples / "motorway_mobility.yaml"])
    template = tmp_path / "motorway.json"
    template.write_text(json.dumps(_without_node_made(json.loads(template_json(variant.compiled)))), encoding="utf-8")
    export = generate.write_export(tmp_path / "export.xml", SIZE_MB, rich=True)
    args = ["templates", "expand", str(template), "--catalog", str(example_out), "--network", str(export)]
    args += ["--targets", "*"]
    one, _, one_s = _run([*args, "-o", str(tmp_path / "one.parquet")], tmp_path / "one.hwm")
    spark = ["--spark", "local[2]", "--conf", "spark.ui.enabled=false"]
    driver, jvm, spark_s = _run([*args, "-o", str(tmp_path / "spark.parquet"), *spark], tmp_path / "spark.hwm")
    assert (tmp_path / "spark.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()
    bound = one + WINDOW_BYTES / 2**20 + SLACK_MB
    print(
        f"\nexpand over every cell, {export.stat().st_size / 1e6:.1f} MB export: without --spark {one:.0f} MB "
        f"({one_s:.1f} s); --spark local[2]: driver {driver:.0f} MB ({driver / one:.2f}x), its JVM {jvm:.0f} MB "
        f"({spark_s:.1f} s); bound {bound:.0f} MB"
    )
    if driver > bound:
        print(f"NOT MET: the Spark driver's peak {driver:.0f} MB > {bound:.0f} MB (one process + a window)")
    assert driver <= bound
