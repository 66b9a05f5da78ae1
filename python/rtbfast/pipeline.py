"""``rtbfast build``: read the input, write its tables as Parquet and a run report, and swap the
result into place only when all of it is written, so a failed run never leaves a half-written
output over a good one.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rtbfast import _native
from rtbfast.errors import OutputError
from rtbfast.readers import Model, Network, ProgressCallback, ReadWarning, read

REPORT = "report.json"


@dataclass
class BuildResult:
    out: Path
    report: dict[str, Any]


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _warning_json(w: ReadWarning) -> dict[str, Any]:
    return {"file": w.file, "line": w.line, "column": w.column, "element": w.element, "message": w.message}


def _write_tables(folder: Path, tables: dict[str, pa.Table]) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, table in sorted(tables.items()):
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd")
        counts[f"{folder.name}/{name}"] = table.num_rows
    return counts


def _replace(staging: Path, out: Path) -> None:
    """Move `staging` to `out`; an existing `out` must be an earlier rtbfast output."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / REPORT).exists()):
            raise OutputError(f"{out}: exists and is not an rtbfast output; refusing to replace it", str(out))
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)


def build(
    input_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    on_progress: ProgressCallback | None = None,
    *,
    jobs: int = 0,
) -> BuildResult:
    """Read `input_path` (MP XML model or Bulk CM export) and write ``OUT/catalog/*.parquet``,
    ``OUT/network/*.parquet`` (exports only) and ``OUT/report.json``.

    ``jobs`` caps the threads a large input is read on (0: one per core)."""
    started = time.perf_counter()
    source = Path(input_path)
    out = Path(out)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    result: Model | Network = read(source, on_progress, threads=jobs)
    timings["read"] = time.perf_counter() - t

    t = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        counts: dict[str, int] = {}
        if isinstance(result, Network):
            model = result.model
            counts.update(_write_tables(staging / "network", result.tables))
            counts.update(_write_tables(staging / "catalog", model.tables))
            kind = "bulkcm"
            extra: dict[str, Any] = {"header": result.header}
            warnings = result.warnings
        else:
            counts.update(_write_tables(staging / "catalog", result.tables))
            kind = "mom"
            extra = {"dtd_version": result.dtd_version, "skipped": result.skipped}
            warnings = result.warnings
        timings["write"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        size = source.stat().st_size
        report: dict[str, Any] = {
            "rtbfast_version": _native.__version__,
            "input": {"path": str(source), "kind": kind, "bytes": size},
            **extra,
            "counts": counts,
            "warning_count": len(warnings),
            "warnings": [_warning_json(w) for w in warnings],
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
            "read_mb_per_s": round(size / 1e6 / timings["read"], 1) if timings["read"] > 0 else None,
            "peak_rss_bytes": peak_rss_bytes(),
        }
        (staging / REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _replace(staging, out)
    except OSError as err:
        raise OutputError(f"{out}: cannot write the output: {err}", str(out)) from err
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(out, report)


def load_report(out: str | os.PathLike[str]) -> dict[str, Any]:
    """The report of an earlier build, or :class:`OutputError` if `out` is not one."""
    path = Path(out) / REPORT
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise OutputError(f"{out}: not an rtbfast output (no {REPORT})", str(out)) from err
    except (OSError, ValueError) as err:
        raise OutputError(f"{path}: unreadable report: {err}", str(path)) from err
    return data
