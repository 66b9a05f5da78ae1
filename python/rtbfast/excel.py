"""Workbooks for Excel (``.xlsx``) of what the commands write: ``audit``, ``plan``, ``verify``,
``diff``, ``diff-model`` (``--xlsx``: ``OUT/<command>.xlsx`` in the output folder, written with
it) and ``templates check`` (``--xlsx PATH``).

A workbook holds:

- ``summary``: the command, its inputs, each table with its rows and the sheets holding them,
  and every figure of the command's report (``audit.json``, ``plan.json``…) one a row:
  counts by severity, status, kind, class and node as the report has them;
- one sheet per table the command writes, named after its file (``violations``, ``plan``,
  ``rollback``, ``verify``, ``mos``, ``values``, ``changes``, ``findings``…): the header
  row frozen, an autofilter over all rows, column widths fitted to the first rows, each row
  coloured by its severity (or status, change, operation: a conditional format over the rows,
  so a row edited in Excel takes its new colour, and the severity cell filled as its own
  format, for viewers without conditional formats), and each FDN column followed by
  two more, the node (the RDNs up to ``MeContext`` and the ``ManagedElement`` under it) and
  the MO (the rest), the full FDN kept.

This module decides what a workbook holds (its sheets, columns and widths, the FDN split, the
colours, the summary's rows); the cells are written natively (:class:`rtbfast._native.XlsxWorkbook`,
``rust/src/xlsx.rs``: rust_xlsxwriter in constant-memory mode), a record batch of Arrow rows at
a time (a table in memory, or a Parquet file read batch by batch) handed over through the
Arrow C data interface, so memory holds one batch and one row of cells, never the table as
Python objects. A sheet holds :data:`EXCEL_ROWS` rows, the
header one of them: a longer table continues on ``violations (2)``, ``(3)``… and the summary
says so. Hostile text stays text: every string is written as a text cell (a value
starting with ``=``, ``+``, ``-`` or ``@`` never becomes a formula, and is marked text for Excel
with a quote prefix), and a text longer than Excel's :data:`EXCEL_TEXT` characters is cut,
saying so in the cell and counted in the summary (the whole text is in the Parquet and CSV).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rtbfast.errors import OutputError

if TYPE_CHECKING:
    from rtbfast.templates.check import CheckResult

EXCEL_ROWS = 1_048_576
"""Rows of an Excel sheet (the header row is one of them)."""
EXCEL_TEXT = 32_767
"""Characters (UTF-16 code units) of an Excel cell."""
BATCH_ROWS = 16_384
"""Rows read and converted at a time."""
WIDEST = 60
"""The widest a column is made (characters); a wider text wraps nowhere and shows in the bar."""
SAMPLED = 1_000
"""Rows of a table its column widths are fitted to."""

RED, AMBER, BLUE, GREEN = "#FFC7CE", "#FFEB9C", "#DDEBF7", "#C6EFCE"
"""Excel's own fills for bad, neutral, note and good."""
FONTS = {RED: "#9C0006", AMBER: "#9C5700", BLUE: "#1F4E78", GREEN: "#006100"}
"""The font colour that goes with each fill."""

SEVERITY = {"error": RED, "warning": AMBER, "info": BLUE}
MODEL_SEVERITY = {"breaking": RED, "meaning": AMBER, "info": BLUE}
VERIFY_STATUS = {"not_taken": RED, "mo_missing": RED, "unexpected": RED, "drifted": AMBER, "held": GREEN}
DIFF_CHANGE = {"removed": RED, "changed": AMBER, "added": GREEN}
OPERATION = {"delete": RED, "lock": AMBER, "unlock": AMBER, "create": GREEN}

_NODE_AND_MO = r"^(?P<node>(?:[^,]*,)*?(?:MeContext|ManagedElement)=[^,]*(?:,ManagedElement=[^,]*)?)(?:,(?P<mo>.*))?$"
"""An FDN's node part (its RDNs up to the first ``MeContext`` or ``ManagedElement``, and the
``ManagedElement`` right under a ``MeContext``) and the MO part below it. Names hold no comma
(:mod:`rtbfast.names`), so splitting at commas is exact."""


@dataclass(frozen=True)
class Sheet:
    """A table to write as a sheet (continued on more when it is longer than one holds)."""

    name: str
    """The sheet's name (its continuations add `` (2)``, `` (3)``…)."""
    rows: pa.Table | Path
    """The table, or a Parquet file read a batch at a time."""
    source: str = ""
    """The file of the output it mirrors (``violations.parquet``), for the summary."""
    fdn: str | None = None
    """A column of FDNs to split into node and MO (:func:`split_fdns`)."""
    colour: str | None = None
    """The column whose value colours the row, by `palette`."""
    palette: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Written:
    """Where a table went: its sheets with their data rows, and the cells cut to fit."""

    table: str
    rows: int = 0
    sheets: list[tuple[str, int]] = field(default_factory=list)
    cut: int = 0


@dataclass
class XlsxReport:
    """What :func:`write_xlsx` wrote."""

    path: Path
    tables: list[Written]

    @property
    def sheets(self) -> list[str]:
        return ["summary", *(name for t in self.tables for name, _ in t.sheets)]


# ---------------------------------------------------------------------------------------------
# FDNs, values


def split_fdns(fdns: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The node part and the MO part of each FDN (``node + "," + mo == fdn``; an FDN that is a
    node has no MO part, one without ``MeContext`` or ``ManagedElement`` no node part)."""
    if isinstance(fdns, pa.ChunkedArray):
        fdns = fdns.combine_chunks()
    if not pa.types.is_string(fdns.type):
        fdns = fdns.cast(pa.string())
    parts = pc.extract_regex(fdns, _NODE_AND_MO)
    node = pc.struct_field(parts, [0])
    below = pc.struct_field(parts, [1])
    below = pc.if_else(pc.equal(below, ""), pa.scalar(None, pa.string()), below)  # the node itself
    return node, pc.if_else(pc.is_null(parts), fdns, below)


_EXACT_INTEGERS = 2**53


def _cells(column: pa.Array) -> pa.Array:
    """A batch's column as the values Excel holds exactly, for the native writer: text,
    numbers, booleans. Integers too big for a double (in the batch), decimals, times and nested
    values become text (non-finite floats are written as text by the writer)."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        return column
    if pa.types.is_integer(t):
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        big = low is not None and high is not None and max(abs(low), abs(high)) >= _EXACT_INTEGERS
        return column.cast(pa.string()) if big else column
    if pa.types.is_floating(t):
        return column.cast(pa.float64())
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        texts = [None if v is None else json.dumps(v, ensure_ascii=False, default=str) for v in column.to_pylist()]
        return pa.array(texts, pa.string())


# ---------------------------------------------------------------------------------------------
# the writer


def _summary_value(value: Any) -> bool | float | str | None:
    """A summary value as the writer takes it: a boolean, a number Excel holds exactly, else text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and math.isfinite(value) and abs(value) < _EXACT_INTEGERS:
        return float(value)
    return str(value)


class _Writer:
    """One workbook being written (by the native writer, :class:`rtbfast._native.XlsxWorkbook`):
    the summary sheet first, then the sheets of each table in turn."""

    def __init__(self, path: Path, row_limit: int) -> None:
        from rtbfast._native import XlsxWorkbook

        if row_limit < 2:
            raise ValueError("a sheet holds its header and at least one row")
        self.book = XlsxWorkbook(path, row_limit)

    def table(self, sheet: Sheet) -> Written:
        """Write `sheet`'s rows, a batch at a time, on as many sheets as they need."""
        written = Written(sheet.source or sheet.name)
        where = sheet.source or "the output's Parquet and CSV files"
        begun = False
        for batch in _batches(sheet.rows):
            cells = _cells_batch(batch, sheet.fdn)
            if not begun:
                headers = cells.schema.names
                colour_at = headers.index(sheet.colour) if sheet.colour in headers and sheet.palette else None
                widths = _widths(headers, cells.slice(0, SAMPLED))
                palette = [(value, fill, FONTS.get(fill, "#000000")) for value, fill in sheet.palette.items()]
                self.book.begin_table(sheet.name, headers, widths, colour_at, palette, where)
                begun = True
            self.book.write_batch(cells)
        if not begun:  # no rows: the header alone
            headers = _headers(_schema(sheet.rows), sheet.fdn)
            widths = [float(max(10, len(h) + 2)) for h in headers]
            self.book.begin_table(sheet.name, headers, widths, None, [], where)
        written.sheets, written.rows, written.cut = self.book.end_table()
        return written

    def write_summary(self, rows: Iterable[tuple[str, str, Any]]) -> None:
        self.book.write_summary([(section, item, _summary_value(value)) for section, item, value in rows])

    def close(self) -> None:
        self.book.close()


def _batches(rows: pa.Table | Path) -> Iterator[pa.RecordBatch]:
    if isinstance(rows, pa.Table):
        yield from rows.to_batches(max_chunksize=BATCH_ROWS)
        return
    with pq.ParquetFile(rows) as f:
        yield from f.iter_batches(batch_size=BATCH_ROWS)


def _schema(rows: pa.Table | Path) -> pa.Schema:
    return rows.schema if isinstance(rows, pa.Table) else pq.read_schema(rows)


def _split_names(fdn: str) -> tuple[str, str]:
    stem = fdn[: -len("fdn")] if fdn.endswith("fdn") else ""
    return f"{stem}node_fdn", f"{stem}mo"


def _headers(schema: pa.Schema, fdn: str | None) -> list[str]:
    headers: list[str] = []
    for name in schema.names:
        headers.append(name)
        if name == fdn:
            headers.extend(_split_names(name))
    return headers


def _cells_batch(batch: pa.RecordBatch, fdn: str | None) -> pa.RecordBatch:
    """A batch's columns as cells (:func:`_cells`), the FDN column followed by its node and MO
    parts."""
    columns: list[pa.Array] = []
    headers: list[str] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        columns.append(_cells(column))
        headers.append(name)
        if name == fdn:
            node, mo = split_fdns(column)
            columns.extend((node, mo))
            headers.extend(_split_names(name))
    return pa.RecordBatch.from_arrays(columns, names=headers)


def _widths(headers: Sequence[str], sample: pa.RecordBatch) -> list[float]:
    widths = []
    for header, column in zip(headers, sample.columns, strict=True):
        longest = max((len(str(v)) for v in column.to_pylist() if v is not None), default=0)
        widths.append(float(min(max(longest, len(header) + 2, 6) + 1, WIDEST)))
    return widths


SUMMARY_ITEMS = 1_000
"""Items of one list of a report the summary sheet shows (a row says how many more there are)."""


def _flattened(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """A report's leaves as (``a.b[2].c``, value); a list past :data:`SUMMARY_ITEMS` items
    ends in a row saying how many more the report holds."""
    if isinstance(value, Mapping):
        if not value:
            yield path, ""
        for k, v in value.items():
            yield from _flattened(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        if not value:
            yield path, ""
        for i, v in enumerate(value[:SUMMARY_ITEMS], 1):
            yield from _flattened(v, f"{path}[{i}]")
        if len(value) > SUMMARY_ITEMS:
            yield f"{path}[…]", f"{len(value) - SUMMARY_ITEMS:,} more in the report"
    else:
        yield path, value


def summary_rows(
    command: str, report: Mapping[str, Any], inputs: Sequence[str], tables: Sequence[Written], row_limit: int
) -> Iterator[tuple[str, str, Any]]:
    """The summary sheet's rows (section, item, value): the run, its inputs, where each table
    went, then every figure of the command's report."""
    from rtbfast import __version__

    yield "run", "command", f"rtbfast {command}"
    yield "run", "rtbfast version", __version__
    yield "run", "written (UTC)", datetime.now(UTC).replace(microsecond=0).isoformat()
    for key in inputs:
        for path, value in _flattened(report.get(key), key):
            if value not in (None, ""):
                yield "inputs", path, value
    for t in tables:
        yield "tables", t.table, t.rows
        if len(t.sheets) > 1:
            spread = ", ".join(f"'{name}' ({n:,})" for name, n in t.sheets)
            yield (
                "tables",
                f"{t.table}: sheets",
                f"{t.rows:,} rows continue over {len(t.sheets)} sheets, {spread}: a sheet holds "
                f"{row_limit - 1:,} rows under its header; none is left out",
            )
        else:
            yield "tables", f"{t.table}: sheet", t.sheets[0][0] if t.sheets else ""
        if t.cut:
            yield "tables", f"{t.table}: cells cut", f"{t.cut:,} text(s) longer than Excel's {EXCEL_TEXT:,} characters"
    for key, value in report.items():
        section = key if isinstance(value, Mapping | list | tuple) else "report"
        for path, leaf in _flattened(value, "" if section == key else key):
            yield section, path or key, leaf


def write_xlsx(
    path: str | os.PathLike[str],
    command: str,
    report: Mapping[str, Any],
    sheets: Sequence[Sheet],
    *,
    inputs: Sequence[str] = (),
    row_limit: int = EXCEL_ROWS,
) -> XlsxReport:
    """Write the workbook `path`: a summary of `command`'s `report` (the values of its keys
    `inputs` listed first as the inputs), then each of `sheets`, a batch of rows at a time.
    `row_limit`: rows a sheet holds (Excel's, :data:`EXCEL_ROWS`; smaller only to test)."""
    target = Path(path)
    try:
        writer = _Writer(target, row_limit)
        tables = [writer.table(s) for s in sheets]
        writer.write_summary(summary_rows(command, report, inputs, tables, row_limit))
        writer.close()
    except OSError as err:
        raise OutputError(f"{target}: cannot write the workbook: {err}", str(target)) from err
    return XlsxReport(target, tables)


# ---------------------------------------------------------------------------------------------
# the commands' workbooks


@dataclass(frozen=True)
class _Table:
    file: str
    fdn: str | None = None
    colour: str | None = None
    palette: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FolderLayout:
    """What a command's output folder holds for its workbook: its report and its tables."""

    report: str
    tables: tuple[_Table, ...]
    inputs: tuple[str, ...]


FOLDERS: dict[str, FolderLayout] = {
    "audit": FolderLayout(
        "audit.json", (_Table("violations.parquet", "subject", "severity", SEVERITY),), ("export", "catalog", "rules")
    ),
    "plan": FolderLayout(
        "plan.json",
        (_Table("plan.parquet", "fdn", "op", OPERATION), _Table("rollback.parquet", "fdn", "op", OPERATION)),
        ("made_from",),
    ),
    "verify": FolderLayout(
        "verify.json",
        (
            _Table("verify.parquet", "fdn", "status", VERIFY_STATUS),
            _Table("corrections.parquet", "fdn", "op", OPERATION),
        ),
        ("plan", "network", "made_from"),
    ),
    "diff": FolderLayout(
        "diff.json",
        (
            _Table("mos.parquet", "fdn", "change", DIFF_CHANGE),
            _Table("values.parquet", "fdn", "change", DIFF_CHANGE),
            _Table("relations.parquet", "parent_fdn"),
            _Table("counts.parquet"),
            _Table("correction.parquet", "fdn", "op", OPERATION),
        ),
        ("a", "b"),
    ),
    "diff-model": FolderLayout(
        "diff-model.json",
        (
            _Table("changes.parquet", None, "severity", MODEL_SEVERITY),
            _Table("impacts.parquet", None, "severity", MODEL_SEVERITY),
        ),
        ("old", "new"),
    ),
}
"""Per command that writes a folder: its report, its tables (those it may leave out are
skipped when absent), and the report's keys naming its inputs."""


def folder_xlsx(
    folder: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    command: str | None = None,
    row_limit: int = EXCEL_ROWS,
) -> XlsxReport:
    """The workbook of an output folder of ``audit``, ``plan``, ``verify``, ``diff`` or
    ``diff-model``, made from its report and Parquet tables (read a batch at a time). `command`
    defaults to the one the folder's mark names; `path` to ``FOLDER/<command>.xlsx``, written
    in place (the commands write it into their folder before it is swapped in). A `path`
    elsewhere is written aside and swapped in when complete."""
    from rtbfast.output_folder import file_written_aside, load_report, read_mark

    where = Path(folder)
    if command is None:
        mark = read_mark(where)
        if mark is None:
            raise OutputError(f"{where}: not an output of rtbfast (no mark): give the command", str(where))
        command = mark.command
    layout = FOLDERS.get(command)
    if layout is None:
        raise OutputError(f"{where}: rtbfast {command} writes no workbook (one of {', '.join(FOLDERS)})", str(where))
    report = load_report(where, layout.report)
    sheets = [
        Sheet(t.file.removesuffix(".parquet"), where / t.file, t.file, t.fdn, t.colour, t.palette)
        for t in layout.tables
        if (where / t.file).is_file()
    ]
    if path is None:
        return write_xlsx(where / f"{command}.xlsx", command, report, sheets, inputs=layout.inputs, row_limit=row_limit)
    with file_written_aside(path, "the workbook", inputs=[where / t.file for t in layout.tables]) as aside:
        written = write_xlsx(aside, command, report, sheets, inputs=layout.inputs, row_limit=row_limit)
    return XlsxReport(Path(path), written.tables)


def findings_xlsx(
    result: CheckResult,
    path: str | os.PathLike[str],
    *,
    catalog: str | os.PathLike[str],
    templates: Sequence[str | os.PathLike[str]] = (),
    row_limit: int = EXCEL_ROWS,
) -> XlsxReport:
    """The workbook of ``templates check``: its summary (per file too) and every finding
    (dynamic parts too), written aside at `path` and swapped in when complete. `templates`:
    the files checked (listed as inputs; `path` may not be one of them)."""
    from rtbfast.output_folder import file_written_aside

    report = {"catalog": str(catalog), "templates_given": [str(t) for t in templates], **result.summary()}
    sheet = Sheet("findings", result.findings, "findings", None, "severity", SEVERITY)
    with file_written_aside(path, "the workbook", inputs=[catalog, *templates]) as aside:
        written = write_xlsx(
            aside, "templates check", report, [sheet], inputs=("catalog", "templates_given"), row_limit=row_limit
        )
    return XlsxReport(Path(path), written.tables)
