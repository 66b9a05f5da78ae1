"""``rtbfast build``: read the inputs, merge their catalogs, write the models, schemas,
constraints, docs and tables, and the run report; the output folder is written aside and
swapped into place only when all of it is written (:mod:`rtbfast.output_folder`), so a failed
run never leaves a half-written output over a good one.

The phases are functions of their own: :func:`read_inputs`, :func:`merge_inputs`,
:func:`write_models`, :func:`write_constraints`, the docs (:func:`start_docs`), the tables
(:func:`write_tables`) and the report (:func:`build_report`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import keyword
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rtbfast import _native
from rtbfast.catalog import Disagreement, MergedCatalog, merge
from rtbfast.codegen import Generated, generate
from rtbfast.codegen.bytecode import compile_generated
from rtbfast.codegen.docs import write_docs
from rtbfast.codegen.located import Sources, generated_error
from rtbfast.codegen.pydantic_models import Unbuildable
from rtbfast.codegen.template_pages import template_page_names, write_template_pages
from rtbfast.codegen.verify import Check
from rtbfast.errors import InputIOError, InvalidValueError, OutputError
from rtbfast.output_folder import (
    CATALOG,
    CONSTRAINTS,
    DOCS,
    MODELS,
    NETWORK,
    REPORT,
    RULES,
    SCHEMAS,
    PhaseCallback,
    Phases,
    load_report,
    peak_rss_bytes,
    peak_rss_children_bytes,
    write_json,
    written_aside,
)
from rtbfast.readers import (
    Model,
    Network,
    ProgressCallback,
    ReadWarning,
    checked_file,
    input_label,
    input_size,
    read,
    split_input,
)
from rtbfast.readers import inputs as archive_members
from rtbfast.rules.constraints import Constraints, constraint_table
from rtbfast.rules.user_rules import RuleFile, check_rules, read_rules
from rtbfast.text_safety import unsafe_cells
from rtbfast.workbook import Workbook, read_workbook

PARALLEL_DOCS_ROWS = 20_000
"""Attribute rows from which the docs are written by a second process while models are made."""


@dataclass
class BuildResult:
    out: Path
    report: dict[str, Any]
    cached: bool = False
    """The inputs and options were those of the build already in `out`: nothing was done."""


@dataclass
class BuildRequest:
    """What a build was asked to do, checked: the input files and the options."""

    paths: list[Path]
    out: Path
    workbook: Path | None
    structs: Path | None
    rules: Path | None
    package: str
    layout: str
    jobs: int
    templates: list[Path] = field(default_factory=list)
    """A template set: each is checked and gets a docs page."""
    input_warnings: list[ReadWarning] = field(default_factory=list)
    """The files of zip archives among the inputs that are not read (not XML)."""

    @property
    def sources(self) -> list[Path]:
        """Every file the output depends on."""
        return [*self.paths, *(p for p in (self.workbook, self.structs, self.rules) if p is not None), *self.templates]

    @property
    def options(self) -> dict[str, Any]:
        """The options that change the output."""
        return {
            "package": self.package,
            "layout": self.layout,
            "workbook": self.workbook is not None,
            "structs": self.structs is not None,
            "rules": self.rules is not None,
            "templates": [p.name for p in self.templates],
        }


@dataclass
class Inputs:
    """Everything read: the models and exports, the workbook, the user rules."""

    results: list[Model | Network]
    sheets: Workbook | None
    rule_file: RuleFile | None


def cache_key(paths: Sequence[Path], options: dict[str, Any]) -> str:
    """A hash of everything a build's output depends on: the rtbfast version, the content of
    every input file (not its name or date) and the options that change the output."""
    digest = hashlib.sha256(f"rtbfast {_native.__version__}\n".encode())
    files: dict[Path, bytes] = {}
    for path in paths:
        file, member = split_input(path)  # a zip member: the archive's content and the member's name
        try:
            if file not in files:
                with file.open("rb") as f:
                    files[file] = hashlib.file_digest(f, "sha256").digest()
        except OSError as err:
            raise InputIOError(f"{path}: cannot read the file: {err.strerror}", str(path)) from None
        digest.update(files[file])
        if member is not None:
            digest.update(f"!{member}\n".encode())
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()


def _warning_json(w: ReadWarning) -> dict[str, Any]:
    return {"file": w.file, "line": w.line, "column": w.column, "element": w.element, "message": w.message}


def write_tables(folder: Path, tables: dict[str, pa.Table]) -> dict[str, int]:
    """Each table as ``folder/<name>.parquet``; returns the rows of each, as ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, table in sorted(tables.items()):
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd")
        counts[f"{folder.name}/{name}"] = table.num_rows
    return counts


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
    templates: Sequence[str | os.PathLike[str]] | None = None,
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

    With `templates` (RTB or typed template files), each is checked against the catalog and
    gets a page in the docs (``OUT/docs/templates/``); the report counts their findings
    (``templates``).

    Every model is proved to build (:mod:`rtbfast.codegen.verify`, in a process of its own while
    the rules and docs are written; ``check`` in the report's timings is the time waited for it):
    a model that would fail on first use fails the build instead, with one line naming it and
    where its class or type is defined. Structs nested too deep are refused the same way.

    When `out` holds a build of the same inputs (by content) with the same options, nothing is
    done unless `force`: the result says ``cached``."""
    phases = Phases(on_phase)
    request = check_request(
        inputs, out, workbook, structs, rules, package=package, layout=layout, jobs=jobs, templates=templates
    )
    key = cache_key(request.sources, request.options)
    if not force:
        previous = _previous_report(request.out)
        if previous.get("cache_key") == key:
            return BuildResult(request.out, previous, cached=True)

    with phases.phase("read"):
        read = read_inputs(request, on_progress)
    with phases.phase("merge"):
        catalog, network_tables = merge_inputs(request, read)
        made_safe = unsafe_cells(catalog.tables)

    sources = input_sources(request, read)
    with (
        written_aside(request.out, "build") as staging,
        contextlib.ExitStack() as stack,
        contextlib.ExitStack() as checking,
    ):
        with phases.phase("models"):
            site = start_docs(stack, request, catalog.tables, staging / DOCS, _template_links(request))
            try:
                models = write_models(request, catalog.tables, read.rule_file, staging)
            except Unbuildable as err:
                raise sources.error(InvalidValueError, err.reason, err.kind, err.mim, err.name) from None
        phases.timings["schemas"] = models.schema_seconds
        # every model proved to build, in a process of its own (started now, told to begin once
        # the package is compiled) while the rest is written
        check = checking.enter_context(contextlib.closing(Check(models)))
        with phases.phase("bytecode", announce=False):
            compiled = compile_generated(models.package_dir, request.jobs or None)
        check.begin()
        with phases.phase("rules"):
            constraints = write_constraints(catalog.tables, staging)
        phases.announce("docs")
        if site is not None:
            pages, phases.timings["docs"] = site.result()
            stack.close()  # the second process ends, so its peak memory is known
        else:
            pages, phases.timings["docs"] = timed_docs(catalog.tables, staging / DOCS, _template_links(request))
        template_counts = None
        if request.templates:
            from rtbfast.catalog_view import CatalogView

            with phases.phase("templates"):
                template_counts = write_template_pages(
                    request.templates, CatalogView(catalog.tables, constraints), staging / DOCS
                )
            pages += template_counts["pages"]
        with phases.phase("write"):
            counts = write_tables(staging / CATALOG, catalog.tables)
            if network_tables:
                counts.update(write_tables(staging / NETWORK, network_tables))
        with phases.phase("check", announce=False):
            problem = check.result()
        if problem is not None:
            raise generated_error(sources, problem)
        report = build_report(request, key, read, catalog, models, constraints, pages, counts, phases)
        report["models"]["compiled"] = compiled
        report["models"]["checked"] = check.counts
        report["texts_made_safe"] = made_safe
        if template_counts is not None:
            report["templates"] = template_counts
        write_json(staging / REPORT, report)
    return BuildResult(request.out, report)


def input_sources(request: BuildRequest, read: Inputs) -> Sources:
    """Which input defines what (for located errors about the models): each MIM's model file,
    then the workbook and the exports."""
    sources = Sources()
    for path, result in zip(request.paths, read.results, strict=True):
        if isinstance(result, Network):
            sources.other.append(path)
        elif "mims" in result.tables:
            for mim in result.tables["mims"].column("mim").to_pylist():
                sources.mims.setdefault(mim, path)
    if request.workbook is not None:
        sources.other.insert(0, request.workbook)
    return sources


def check_request(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    workbook: str | os.PathLike[str] | None,
    structs: str | os.PathLike[str] | None,
    rules: str | os.PathLike[str] | None,
    *,
    package: str,
    layout: str,
    jobs: int,
    templates: Sequence[str | os.PathLike[str]] | None = None,
) -> BuildRequest:
    """The build's inputs and options, checked before anything is read: every file exists and
    is a regular file, the names are usable."""
    paths = [Path(inputs)] if isinstance(inputs, str | os.PathLike) else [Path(p) for p in inputs]
    if not paths:
        raise InputIOError("no input given: name at least one MP XML model or Bulk CM export")
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ValueError(f"{package!r} is not a Python package name")
    if layout not in ("package", "single"):
        raise ValueError(f"layout must be 'package' or 'single', not {layout!r}")
    if structs is not None and workbook is None:
        raise InputIOError(f"{structs}: a struct sheet is read with its parameter sheet (--workbook)", str(structs))
    request = BuildRequest(
        paths,
        Path(out),
        workbook=None if workbook is None else Path(workbook),
        structs=None if structs is None else Path(structs),
        rules=None if rules is None else Path(rules),
        package=package,
        layout=layout,
        jobs=jobs,
        templates=[Path(t) for t in templates or []],
    )
    for source in request.sources:
        checked_file(source)
    # a zip archive is an input per XML member (archive.zip!member.xml)
    expanded: list[Path] = []
    for p in request.paths:
        members, skipped = archive_members(p)
        expanded.extend(members)
        request.input_warnings.extend(skipped)
    request.paths = expanded
    return request


def _previous_report(out: Path) -> dict[str, Any]:
    if not (out / REPORT).is_file():
        return {}
    try:
        return load_report(out)
    except OutputError:
        return {}


def read_inputs(request: BuildRequest, on_progress: ProgressCallback | None) -> Inputs:
    """The read phase: every model and export, the workbook, the user rules."""
    results: list[Model | Network] = [read(p, on_progress, threads=request.jobs) for p in request.paths]
    sheets = read_workbook(request.workbook, request.structs) if request.workbook is not None else None
    rule_file = read_rules(request.rules) if request.rules is not None else None
    return Inputs(results, sheets, rule_file)


def merge_inputs(request: BuildRequest, read: Inputs) -> tuple[MergedCatalog, dict[str, pa.Table]]:
    """The merge phase: one catalog (models first, then the workbook, then what exports
    imply) and the network tables of every export, one after the other."""
    catalog_sources: list[tuple[str, str, dict[str, pa.Table]]] = []
    networks: list[Network] = []
    for p, result in zip(request.paths, read.results, strict=True):
        if isinstance(result, Network):
            networks.append(result)
            catalog_sources.append(("export", f"export:{input_label(p)}", result.model.tables))
        else:
            catalog_sources.append(("mom", f"mom:{input_label(p)}", result.tables))
    if read.sheets is not None and request.workbook is not None:
        catalog_sources.append(("workbook", f"workbook:{request.workbook.name}", read.sheets.tables))
    return merge(catalog_sources), _stack_networks(networks)


def _template_links(request: BuildRequest) -> list[tuple[str, str]]:
    return template_page_names(request.templates)


def start_docs(
    stack: contextlib.ExitStack[Any],
    request: BuildRequest,
    tables: dict[str, pa.Table],
    folder: Path,
    templates: list[tuple[str, str]] | None = None,
) -> Future[tuple[int, float]] | None:
    """For a large catalog, start writing the reference site in a second process (a new
    interpreter: no fork of this threaded one) while the models are made; None otherwise."""
    attribute_rows = tables["attributes"].num_rows if "attributes" in tables else 0
    if request.jobs == 1 or attribute_rows < PARALLEL_DOCS_ROWS or (os.cpu_count() or 1) < 2:
        return None
    pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
    return pool.submit(timed_docs, tables, folder, templates)


def write_models(
    request: BuildRequest, tables: dict[str, pa.Table], rule_file: RuleFile | None, staging: Path
) -> Generated:
    """The models phase: the Pydantic package and the JSON Schemas."""
    return generate(
        tables,
        staging / MODELS,
        package=request.package,
        layout=request.layout,
        jobs=request.jobs or None,
        schemas=staging / SCHEMAS,
        user_rules=None if rule_file is None else rule_file.with_windows(),
    )


def write_constraints(tables: dict[str, pa.Table], staging: Path) -> Constraints:
    """The rules phase: the per-attribute constraints ``rtbfast audit`` checks."""
    constraints = constraint_table(tables)
    (staging / RULES).mkdir(parents=True, exist_ok=True)
    pq.write_table(constraints.table, staging / RULES / CONSTRAINTS, compression="zstd")
    return constraints


def build_report(
    request: BuildRequest,
    key: str,
    read: Inputs,
    catalog: MergedCatalog,
    models: Generated,
    constraints: Constraints,
    pages: int,
    counts: dict[str, int],
    phases: Phases,
) -> dict[str, Any]:
    """``report.json``: inputs, counts, warnings, what the models and rules hold, the
    disagreements, timings and peak memory."""
    timings = phases.rounded()
    size = sum(input_size(p) for p in request.paths)
    warnings = [*request.input_warnings, *(w for r in read.results for w in r.warnings)]
    report: dict[str, Any] = {
        "rtbfast_version": _native.__version__,
        "cache_key": key,
        "inputs": [_input_json(p, r) for p, r in zip(request.paths, read.results, strict=True)],
        "counts": counts,
        "by_source": catalog.by_source,
        "warning_count": len(warnings),
        "warnings": [_warning_json(w) for w in warnings],
        "models": {
            "package": request.package,
            "layout": request.layout,
            "path": str(Path(MODELS) / models.package_dir.name),
            "modules": models.modules,
            "classes": models.classes,
            "models": len(models.models),
            "enums": models.enums,
            "structs": models.structs,
            "schemas": models.schema_files,
            "renamed": models.renamed,
            "notes": models.notes,
        },
        "docs": {"path": f"{DOCS}/index.html", "pages": pages},
        "rules": {
            "path": f"{RULES}/{CONSTRAINTS}",
            "constraints": constraints.table.num_rows,
            "notes": constraints.notes,
        },
        "disagreement_count": len(catalog.disagreements),
        "disagreements": [_disagreement_json(d) for d in catalog.disagreements],
        "timings_s": timings,
        "read_mb_per_s": round(size / 1e6 / timings["read"], 1) if timings["read"] > 0 else None,
        "peak_rss_bytes": peak_rss_bytes(),
        # the largest child process: the one that wrote the docs alongside, if any (the
        # two ran at the same time)
        "peak_rss_children_bytes": peak_rss_children_bytes(),
    }
    if read.rule_file is not None:
        report["rules"]["file"] = str(read.rule_file.path)
        report["rules"]["user_rules"] = read.rule_file.table.num_rows
        report["rules"]["user_rules_in_models"] = len(models.user_rules)
        report["rules"]["issues"] = [str(i) for i in check_rules(read.rule_file, catalog.tables)]
    if read.sheets is not None:
        sheets = read.sheets
        report["workbook"] = {
            "parameters": str(request.workbook),
            "structs": None if request.structs is None else str(request.structs),
            "records": sheets.records,
            "unparsed_count": len(sheets.unparsed),
            "unparsed": [
                {"file": u.file, "line": u.line, "class": u.cls, "name": u.name, "column": u.column}
                | {"text": u.text, "reason": u.reason}
                for u in sheets.unparsed
            ],
        }
    return report


def timed_docs(
    tables: dict[str, pa.Table], folder: Path, templates: list[tuple[str, str]] | None = None
) -> tuple[int, float]:
    """The docs phase: pages written and seconds taken (run in a second process for large catalogs)."""
    t = time.perf_counter()
    pages = write_docs(tables, folder, templates or [])
    return pages, time.perf_counter() - t


def _input_json(path: Path, result: Model | Network) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(path), "bytes": input_size(path)}
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
