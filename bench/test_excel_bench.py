"""The workbooks of ``--xlsx`` (:mod:`rtbfast.excel`) against the writer a user would otherwise
pick, in the same run: a violations table (``rtbfast audit``'s columns, 100,000 rows; 1,000,000
with ``RTBFAST_BENCH_FULL=1``) read from its Parquet file a batch at a time and written as a
workbook.

- ours: :func:`rtbfast.excel.write_xlsx` as ``audit --xlsx`` calls it: the native writer
  (rust_xlsxwriter in constant-memory mode) fed Arrow record batches, the subject split into
  node and MO (two more columns), each row coloured by its severity, text that looks like a
  formula marked as text, a summary sheet.
- the peer: openpyxl in ``write_only`` mode (pandas, whose ``DataFrame.to_excel`` would use
  openpyxl underneath, is not installed here) writing the same cells: each batch's rows with
  the subject split by the same (vectorised) :func:`rtbfast.excel.split_fdns`, appended as
  they are; no colours, no quote prefix, no summary sheet.

Peak memory: ``write_xlsx`` of the table in a process of its own (``RUSAGE_CHILDREN`` of a
runner, so no other child counts), at the size and at a quarter of it, and a process that
only imports and opens the file (the baseline). Bounded: the peak does not grow with the rows
(the quarter's and the whole's differ by less than :data:`GROWTH_MB`), and at full size the
writer's memory above the baseline is less than the table's own Arrow size (it never holds
the table, let alone as Python objects).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.conftest import FULL
from rtbfast.excel import SEVERITY, Sheet, split_fdns, write_xlsx

ROWS = 1_000_000 if FULL else 100_000
RATIO_FLOOR = 1.0  # peer time / ours: the same cells at least as fast, with the colours and summary too
# measured (native writer, rust_xlsxwriter), load average 3 on two cores: 100,000 rows 6.86x (74,968 rows/s
# against 10,935); 1 M rows 9.03x (51,614 rows/s against 5,717); peak 189 MB, flat from 250,000 rows
GROWTH_MB = 32.0  # the peak at ROWS less the peak at ROWS / 4
ROOT = Path(__file__).resolve().parents[1]


def violations(n: int) -> pa.Table:
    """A violations table as ``rtbfast audit`` writes one: 500 nodes of 6 cells, rules and
    severities in turn, raw values (negative numbers: text that starts like a formula)."""
    i = pa.array(range(n), pa.int64())
    node = pc.cast(pc.bit_wise_and(i, 511), pa.string())
    cell = pc.cast(pc.bit_wise_and(pc.shift_right(i, 9), 4095), pa.string())
    subject = pc.binary_join_element_wise(
        "SubNetwork=ONRM,MeContext=NODE", node, ",ManagedElement=1,ENodeBFunction=1,EUtranCellFDD=CELL", cell, ""
    )
    pick = pc.bit_wise_and(i, 3)
    rules = pa.array(["range", "enum", "unknown_attribute", "resolution"])
    severities = pa.array(["error", "error", "warning", "error"])
    value = pc.cast(pc.subtract(pa.scalar(-150, pa.int64()), pc.bit_wise_and(i, 7)), pa.string())
    return pa.table(
        {
            "subject": subject,
            "class": pa.array(["EUtranCellFDD"] * n),
            "attribute": pc.take(pa.array(["qRxLevMin", "administrativeState", "noSuchAttr", "qQualMin"]), pick),
            "member": pa.nulls(n, pa.string()),
            "index": pc.cast(pc.if_else(pc.equal(pick, 0), pc.bit_wise_and(i, 3), None), pa.int32()),
            "rule": pc.take(rules, pick),
            "severity": pc.take(severities, pick),
            "message": pc.binary_join_element_wise(value, " is outside the allowed values", ""),
            "value": value,
            "expected": pa.array(["-140..-44"] * n),
            "node": pc.binary_join_element_wise("MeContext=NODE", node, ""),
        }
    )


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("excel-bench")
    table = violations(ROWS)
    path = folder / "violations.parquet"
    pq.write_table(table, path, compression="zstd")
    quarter = folder / "quarter.parquet"
    pq.write_table(table.slice(0, ROWS // 4), quarter, compression="zstd")
    return {"folder": folder, "path": path, "quarter": quarter, "nbytes": table.nbytes}


def ours(parquet: Path, out: Path) -> None:
    sheet = Sheet("violations", parquet, "violations.parquet", "subject", "severity", SEVERITY)
    write_xlsx(out, "audit", {"violations": pq.read_metadata(parquet).num_rows}, [sheet], inputs=())


def openpyxl_write_only(parquet: Path, out: Path) -> None:
    """The peer: the same cells (the subject split into node and MO after it) appended to an
    openpyxl write-only sheet, a batch at a time."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("violations")
    with pq.ParquetFile(parquet) as f:
        names = f.schema_arrow.names
        ws.append([names[0], "node_fdn", "mo", *names[1:]])
        for batch in f.iter_batches(batch_size=16_384):
            node, mo = split_fdns(batch.column(0))
            columns = [batch.column(0), node, mo, *batch.columns[1:]]
            for row in zip(*(c.to_pylist() for c in columns), strict=True):
                ws.append(row)
    book.save(out)


def test_write_speed_against_openpyxl(benchmark: BenchmarkFixture, table_file: dict[str, Any]) -> None:
    folder, path = table_file["folder"], table_file["path"]
    start = time.perf_counter()
    openpyxl_write_only(path, folder / "peer.xlsx")
    peer = time.perf_counter() - start
    timings: list[float] = []

    def run() -> None:
        t = time.perf_counter()
        ours(path, folder / "ours.xlsx")
        timings.append(time.perf_counter() - t)

    benchmark.pedantic(run, rounds=1, iterations=1)  # type: ignore[no-untyped-call]
    mine = timings[0]
    ratio = peer / mine
    print(
        f"\n{ROWS:,} violation rows: rtbfast.excel {mine:.1f} s ({ROWS / mine:,.0f} rows/s, "
        f"{(folder / 'ours.xlsx').stat().st_size / 2**20:.1f} MB), openpyxl write_only {peer:.1f} s "
        f"({ROWS / peer:,.0f} rows/s, {(folder / 'peer.xlsx').stat().st_size / 2**20:.1f} MB): {ratio:.2f}x"
        + ("" if ratio >= RATIO_FLOOR else f" NOT MET (floor {RATIO_FLOOR}x)")
    )
    benchmark.extra_info.update(rows=ROWS, rows_per_s=ROWS / mine, peer_rows_per_s=ROWS / peer, ratio=ratio)
    assert ratio >= RATIO_FLOOR, f"{ratio:.2f}x the peer's speed, floor {RATIO_FLOOR}x"


def _peak_mb(code: str, *args: str) -> float:
    """Peak resident memory (MB) of `code` run in a process of its own."""
    runner = (
        "import resource, subprocess, sys\n"
        "run = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "assert run.returncode == 0, run.stderr[-2000:]\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", runner, sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return int(done.stdout.strip().splitlines()[-1]) / 1024


WRITE = (
    "import sys\nfrom pathlib import Path\nimport pyarrow.parquet as pq\n"
    "from rtbfast.excel import SEVERITY, Sheet, write_xlsx\n"
    "path = Path(sys.argv[1])\n"
    "sheet = Sheet('violations', path, 'violations.parquet', 'subject', 'severity', SEVERITY)\n"
    "write_xlsx(sys.argv[2], 'audit', {'violations': pq.read_metadata(path).num_rows}, [sheet])\n"
)
"""What :func:`ours` does, in a process that imports only what it needs."""
BASELINE = (
    "import sys\nimport pyarrow.parquet as pq\nimport rtbfast.excel\nimport rtbfast._native\n"
    "pq.ParquetFile(sys.argv[1]).metadata.num_rows\n"
)


def test_peak_memory_is_bounded(table_file: dict[str, Any]) -> None:
    folder = table_file["folder"]
    base = _peak_mb(BASELINE, str(table_file["path"]))
    quarter = _peak_mb(WRITE, str(table_file["quarter"]), str(folder / "quarter.xlsx"))
    whole = _peak_mb(WRITE, str(table_file["path"]), str(folder / "whole.xlsx"))
    arrow_mb = table_file["nbytes"] / 2**20
    print(
        f"\npeak memory writing {ROWS:,} rows: {whole:.0f} MB ({ROWS // 4:,} rows: {quarter:.0f} MB; "
        f"baseline {base:.0f} MB: the writer {whole - base:.0f} MB above it); the table in Arrow: {arrow_mb:.0f} MB"
    )
    assert whole - quarter < GROWTH_MB, f"the peak grows with the rows: {quarter:.0f} → {whole:.0f} MB"
    if FULL:
        assert whole - base < arrow_mb, f"the writer holds {whole - base:.0f} MB, the table is {arrow_mb:.0f} MB"
