"""``rtbfast build``: read the inputs, merge their catalogs, write the tables as Parquet and a
run report, and swap the result into place only when all of it is written, so a failed run
never leaves a half-written output over a good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import keyword
import multiprocessing
import os
import resource
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rtbfast import _native
from rtbfast.catalog import Disagreement, merge
from rtbfast.codegen import generate
from rtbfast.codegen.docs import write_docs
from rtbfast.errors import InputIOError, OutputError
from rtbfast.readers import Model, Network, ProgressCallback, ReadWarning, read
from rtbfast.rules.constraints import constraint_table
from rtbfast.rules.user_rules import check_rules, read_rules
from rtbfast.workbook import read_workbook

REPORT = "report.json"
PARALLEL_DOCS_ROWS = 20_000
"""Attribute rows from which the docs are written by a second process while models are made."""
CONSTRAINTS = "constraints.parquet"
"""The per-attribute constraints of the catalog (``rtbfast.rules``), under ``OUT/rules/``."""


@dataclass
class BuildResult:
    out: Path
    report: dict[str, Any]
    cached: bool = False
    """The inputs and options were those of the build already in `out`: nothing was done."""


PhaseCallback = Callable[[str], None]
"""Called with the name of each phase as it starts: read, merge, models, rules, docs, write."""


def cache_key(paths: Sequence[Path], options: dict[str, Any]) -> str:
    """A hash of everything a build's output depends on: the rtbfast version, the content of
    every input file (not its name or date) and the options that change the output."""
    digest = hashlib.sha256(f"rtbfast {_native.__version__}\n".encode())
    for path in paths:
        try:
            with path.open("rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
        except OSError as err:
            raise InputIOError(f"{path}: cannot read the file: {err.strerror}", str(path)) from None
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()


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


@contextmanager
def written_aside(out: Path, marker: str = REPORT) -> Iterator[Path]:
    """A staging folder beside `out` to write into; when the block ends without error it
    replaces `out` (which must be an earlier output holding `marker`, or empty), else it is
    removed, so a failed run never leaves a partial output over a good one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        staging.mkdir()
        yield staging
        replace_output(staging, out, marker)
    except OSError as err:
        raise OutputError(f"{out}: cannot write the output: {err}", str(out)) from err
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def replace_output(staging: Path, out: Path, marker: str = REPORT) -> None:
    """Move `staging` to `out`; an existing `out` must be an earlier rtbfast output of the
    same kind (it holds `marker`) or empty."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / marker).exists()):
            raise OutputError(f"{out}: exists and is not an rtbfast output; refusing to replace it", str(out))
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)


def build(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    on_progress: ProgressCallback | None = None,
    *,
    workbook: str | os.PathLike[str] | None = None,
    structs: str | os.PathLike[str] | None = None,
    jobs: int = 0,
    package: str = "rtb_models",
    layout: str = "package",
    force: bool = False,
    on_phase: PhaseCallback | None = None,
    rules: str | os.PathLike[str] | None = None,
) -> BuildResult:
    """Read `inputs` (MP XML models and Bulk CM exports) and the parameter `workbook` (with its
    `structs` sheet), merge them into one catalog and write ``OUT/catalog/*.parquet``,
    ``OUT/network/*.parquet`` (exports only) and ``OUT/report.json``.

    Then the Pydantic models of the catalog go to ``OUT/models/<package>/`` (``layout`` is
    ``"package"``, one module per MIM, or ``"single"``, one file), a JSON Schema per MO class to
    ``OUT/schemas/``, and reference docs with an offline search to
    ``OUT/docs/index.html``, and the per-attribute constraints ``rtbfast audit`` checks to
    ``OUT/rules/constraints.parquet``. The phases are read, merge, models (the JSON Schemas are
    written with them, by the same workers), rules, docs and write; each one's time is in the
    report (``schemas``: the part of ``models`` spent writing schemas). ``jobs`` caps the
    threads a large input is read on and the processes models are written by (0: one per core).

    With a user `rules` file (see :mod:`rtbfast.rules.user_rules`), its rules that judge one MO
    at any time go into the state models too (``XState``), so a model refuses what ``audit``
    flags; the report lists the rule file's issues and the rules left out (``models.notes``).

    When `out` holds a build of the same inputs (by content) with the same options, nothing is
    done unless `force`: the result says ``cached``."""
    started = time.perf_counter()
    paths = [Path(inputs)] if isinstance(inputs, str | os.PathLike) else [Path(p) for p in inputs]
    if not paths:
        raise InputIOError("no input given: name at least one MP XML model or Bulk CM export")
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ValueError(f"{package!r} is not a Python package name")
    if layout not in ("package", "single"):
        raise ValueError(f"layout must be 'package' or 'single', not {layout!r}")
    if structs is not None and workbook is None:
        raise InputIOError(f"{structs}: a struct sheet is read with its parameter sheet (--workbook)", str(structs))
    out = Path(out)
    timings: dict[str, float] = {}
    phase = on_phase or (lambda name: None)

    sources = [*paths, *(Path(p) for p in (workbook, structs, rules) if p is not None)]
    for source in sources:
        if not source.exists():
            raise InputIOError(f"{source}: no such file", str(source))
        if not source.is_file():
            raise InputIOError(f"{source}: is not a file", str(source))
    options = {
        "package": package,
        "layout": layout,
        "workbook": workbook is not None,
        "structs": structs is not None,
        "rules": rules is not None,
    }
    key = cache_key(sources, options)
    if not force and (out / REPORT).is_file():
        try:
            previous = load_report(out)
        except OutputError:
            previous = {}
        if previous.get("cache_key") == key:
            return BuildResult(out, previous, cached=True)

    phase("read")
    t = time.perf_counter()
    results: list[Model | Network] = [read(p, on_progress, threads=jobs) for p in paths]
    sheets = read_workbook(workbook, structs) if workbook is not None else None
    rule_file = read_rules(rules) if rules is not None else None
    timings["read"] = time.perf_counter() - t

    phase("merge")
    t = time.perf_counter()
    catalog_sources: list[tuple[str, str, dict[str, pa.Table]]] = []
    networks: list[Network] = []
    for p, result in zip(paths, results, strict=True):
        if isinstance(result, Network):
            networks.append(result)
            catalog_sources.append(("export", f"export:{p.name}", result.model.tables))
        else:
            catalog_sources.append(("mom", f"mom:{p.name}", result.tables))
    if sheets is not None and workbook is not None:
        catalog_sources.append(("workbook", f"workbook:{Path(workbook).name}", sheets.tables))
    catalog = merge(catalog_sources)
    network_tables = _stack_networks(networks)
    timings["merge"] = time.perf_counter() - t

    with written_aside(out) as staging, contextlib.ExitStack() as stack:
        phase("models")
        t = time.perf_counter()
        # the reference site does not depend on the models: for a large catalog it is written
        # by a second process meanwhile (a new interpreter: no fork of this threaded one)
        attribute_rows = catalog.tables["attributes"].num_rows if "attributes" in catalog.tables else 0
        site = None
        if jobs != 1 and attribute_rows >= PARALLEL_DOCS_ROWS and (os.cpu_count() or 1) > 1:
            pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
            site = pool.submit(_timed_docs, catalog.tables, staging / "docs")
        models = generate(
            catalog.tables,
            staging / "models",
            package=package,
            layout=layout,
            jobs=jobs or None,
            schemas=staging / "schemas",
            user_rules=None if rule_file is None else rule_file.with_windows(),
        )
        timings["models"] = time.perf_counter() - t
        timings["schemas"] = models.schema_seconds

        phase("rules")
        t = time.perf_counter()
        constraints = constraint_table(catalog.tables)
        (staging / "rules").mkdir(parents=True, exist_ok=True)
        pq.write_table(constraints.table, staging / "rules" / CONSTRAINTS, compression="zstd")
        timings["rules"] = time.perf_counter() - t

        phase("docs")
        if site is not None:
            pages, timings["docs"] = site.result()
            stack.close()  # the second process ends, so its peak memory is known
        else:
            pages, timings["docs"] = _timed_docs(catalog.tables, staging / "docs")

        phase("write")
        t = time.perf_counter()
        counts: dict[str, int] = {}
        counts.update(_write_tables(staging / "catalog", catalog.tables))
        if network_tables:
            counts.update(_write_tables(staging / "network", network_tables))
        timings["write"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        size = sum(p.stat().st_size for p in paths)
        warnings = [w for r in results for w in r.warnings]
        report: dict[str, Any] = {
            "rtbfast_version": _native.__version__,
            "cache_key": key,
            "inputs": [_input_json(p, r) for p, r in zip(paths, results, strict=True)],
            "counts": counts,
            "by_source": catalog.by_source,
            "warning_count": len(warnings),
            "warnings": [_warning_json(w) for w in warnings],
            "models": {
                "package": package,
                "layout": layout,
                "path": str(Path("models") / models.package_dir.name),
                "modules": models.modules,
                "classes": models.classes,
                "models": len(models.models),
                "enums": models.enums,
                "structs": models.structs,
                "schemas": models.schema_files,
                "renamed": models.renamed,
                "notes": models.notes,
            },
            "docs": {"path": "docs/index.html", "pages": pages},
            "rules": {
                "path": f"rules/{CONSTRAINTS}",
                "constraints": constraints.table.num_rows,
                "notes": constraints.notes,
            },
            "disagreement_count": len(catalog.disagreements),
            "disagreements": [_disagreement_json(d) for d in catalog.disagreements],
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
            "read_mb_per_s": round(size / 1e6 / timings["read"], 1) if timings["read"] > 0 else None,
            "peak_rss_bytes": peak_rss_bytes(),
            # the largest child process: the one that wrote the docs alongside, if any (the
            # two ran at the same time)
            "peak_rss_children_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        }
        if rule_file is not None:
            report["rules"]["file"] = str(rule_file.path)
            report["rules"]["user_rules"] = rule_file.table.num_rows
            report["rules"]["user_rules_in_models"] = len(models.user_rules)
            report["rules"]["issues"] = [str(i) for i in check_rules(rule_file, catalog.tables)]
        if sheets is not None:
            report["workbook"] = {
                "parameters": str(workbook),
                "structs": None if structs is None else str(structs),
                "records": sheets.records,
                "unparsed_count": len(sheets.unparsed),
                "unparsed": [
                    {"file": u.file, "line": u.line, "class": u.cls, "name": u.name, "column": u.column}
                    | {"text": u.text, "reason": u.reason}
                    for u in sheets.unparsed
                ],
            }
        (staging / REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return BuildResult(out, report)


def _timed_docs(tables: dict[str, pa.Table], folder: Path) -> tuple[int, float]:
    """The docs phase: pages written and seconds taken (run in a second process for large catalogs)."""
    t = time.perf_counter()
    pages = write_docs(tables, folder)
    return pages, time.perf_counter() - t


def _input_json(path: Path, result: Model | Network) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(path), "bytes": path.stat().st_size}
    if isinstance(result, Network):
        entry |= {"kind": "bulkcm", "header": result.header}
    else:
        entry |= {"kind": "mom", "dtd_version": result.dtd_version, "skipped": result.skipped}
    return entry


def _disagreement_json(d: Disagreement) -> dict[str, Any]:
    return {"table": d.table, "key": list(d.key), "field": d.field, "kept_source": d.kept_source} | {
        "kept": d.kept,
        "other_source": d.other_source,
        "other": d.other,
    }


def _stack_networks(networks: list[Network]) -> dict[str, pa.Table]:
    """The network tables of every export, one after the other."""
    if not networks:
        return {}
    return {
        name: pa.concat_tables([n.tables[name] for n in networks]) if len(networks) > 1 else networks[0].tables[name]
        for name in networks[0].tables
    }


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
