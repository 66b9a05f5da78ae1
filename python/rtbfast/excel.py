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

Written with XlsxWriter in ``constant_memory`` mode, a record batch of Arrow rows at a time
(a table in memory, or a Parquet file read batch by batch), so memory holds one batch and one
row of cells, never the table as Python objects. A sheet holds :data:`EXCEL_ROWS` rows, the
header one of them: a longer table continues on ``violations (2)``, ``(3)``… and the summary
says so. Hostile text stays text: every string is written with ``write_string`` (a value
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
    from xlsxwriter.format import Format
    from xlsxwriter.workbook import Workbook
    from xlsxwriter.worksheet import Worksheet

    from rtbfast.templates.check import CheckResult

EXCEL_ROWS = 1_048_576
"""Rows of an Excel sheet (the header row is one of them)."""
EXCEL_TEXT = 32_767
"""Characters (UTF-16 code units) of an Excel cell."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a text Excel (or a program reading the sheet) could take for a formula begins."""
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


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fitted(text: str, where: str) -> str | None:
    """`text` cut to fit an Excel cell, saying so and where the whole text is; None when it
    fits."""
    if len(text) <= EXCEL_TEXT // 2 or _utf16_units(text) <= EXCEL_TEXT:
        return None
    note = f" … [cut: {len(text):,} characters, more than Excel's {EXCEL_TEXT:,}; the whole text is in {where}]"
    room = EXCEL_TEXT - _utf16_units(note)
    cut = text[:room]
    while _utf16_units(cut) > room:
        cut = cut[: -max(1, (_utf16_units(cut) - room) // 2)]
    return cut + note


_EXACT_INTEGERS = 2**53


def _python_column(column: pa.Array) -> list[Any]:
    """A batch's column as Python values Excel holds exactly: text, numbers, booleans.
    Integers too big for a double, non-finite floats, decimals, times and nested values are
    written as text."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    values: list[Any]
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t):
        values = column.to_pylist()
        return values
    if pa.types.is_integer(t):
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        big = low is not None and high is not None and max(abs(low), abs(high)) >= _EXACT_INTEGERS
        values = column.cast(pa.string()).to_pylist() if big else column.to_pylist()
        return values
    if pa.types.is_floating(t):
        return [v if v is None or math.isfinite(v) else str(v) for v in column.to_pylist()]
    if pa.types.is_null(t):
        return [None] * len(column)
    try:
        values = column.cast(pa.string()).to_pylist()
        return values
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [None if v is None else json.dumps(v, ensure_ascii=False, default=str) for v in column.to_pylist()]


# ---------------------------------------------------------------------------------------------
# the writer


class _Writer:
    """One workbook being written: its formats, and the sheets of each table in turn."""

    def __init__(self, path: Path, row_limit: int) -> None:
        import xlsxwriter

        if row_limit < 2:
            raise ValueError("a sheet holds its header and at least one row")
        self.row_limit = row_limit
        self.book: Workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.header = self.book.add_format({"bold": True, "bg_color": "#D9D9D9", "bottom": 1})
        self._formats: dict[tuple[str | None, bool], Format | None] = {(None, False): None}
        self._dxfs: dict[str, Format] = {}
        self.summary = self.book.add_worksheet("summary")

    def fmt(self, fill: str | None, quoted: bool) -> Format | None:
        key = (fill, quoted)
        found = self._formats.get(key, False)
        if found is False:
            props: dict[str, Any] = {"quote_prefix": True} if quoted else {}
            if fill is not None:
                props.update(bg_color=fill, font_color=FONTS.get(fill, "#000000"))
            found = self._formats[key] = self.book.add_format(props)
        return found

    def new_sheet(self, name: str, headers: Sequence[str], widths: Sequence[float]) -> Worksheet:
        ws = self.book.add_worksheet(name)
        for c, (header, width) in enumerate(zip(headers, widths, strict=True)):
            ws.set_column(c, c, width)
            ws.write_string(0, c, header, self.header)
        ws.freeze_panes(1, 0)
        return ws

    def text(self, ws: Worksheet, row: int, col: int, value: str, fill: str | None, where: str) -> bool:
        """Write `value` as text (never a formula); True when it had to be cut."""
        cut = fitted(value, where)
        if cut is not None:
            value = cut
        ws.write_string(row, col, value, self.fmt(fill, value.startswith(FORMULA_STARTS)))
        return cut is not None

    def table(self, sheet: Sheet) -> Written:
        """Write `sheet`'s rows, a batch at a time, on as many sheets as they need."""
        written = Written(sheet.source or sheet.name)
        where = sheet.source or "the output's Parquet and CSV files"
        ws: Worksheet | None = None
        headers: list[str] = []
        widths: list[float] = []
        row = 0  # the last row written on `ws`
        part = 0
        palette = sheet.palette

        def close_sheet() -> None:
            if ws is None:
                return
            ws.autofilter(0, 0, row, len(headers) - 1)
            if colour_at is not None and row:
                self.row_colours(ws, row, len(headers), colour_at, palette)
            written.sheets.append((ws.get_name(), row))

        colour_at: int | None = None
        for batch in _batches(sheet.rows):
            columns, headers_now = _columns(batch, sheet.fdn)
            if not headers:
                headers = headers_now
                widths = _widths(headers, columns)
                colour_at = headers.index(sheet.colour) if sheet.colour in headers and palette else None
            fills = (
                [palette.get(v) if v is not None else None for v in columns[colour_at]]
                if colour_at is not None
                else None
            )
            for i, values in enumerate(zip(*columns, strict=True)):
                if ws is None or row == self.row_limit - 1:
                    close_sheet()
                    part += 1
                    ws = self.new_sheet(sheet.name if part == 1 else f"{sheet.name} ({part})", headers, widths)
                    row = 0
                row += 1
                write_string, write_number, write_boolean = ws.write_string, ws.write_number, ws.write_boolean
                for c, v in enumerate(values):
                    if v is None:
                        continue
                    if v.__class__ is str:
                        if len(v) > EXCEL_TEXT // 2 or v.startswith(FORMULA_STARTS):
                            written.cut += self.text(ws, row, c, v, None, where)
                        elif c == colour_at and fills is not None:
                            write_string(row, c, v, self.fmt(fills[i], False))
                        else:
                            write_string(row, c, v)
                    elif v.__class__ is bool:
                        write_boolean(row, c, v)
                    else:
                        write_number(row, c, v)
            written.rows += batch.num_rows
        if ws is None:  # no rows: the header alone
            schema = _schema(sheet.rows)
            headers = _headers(schema, sheet.fdn)
            ws = self.new_sheet(sheet.name, headers, [max(10, len(h) + 2) for h in headers])
        close_sheet()
        return written

    def row_colours(self, ws: Worksheet, last: int, width: int, at: int, palette: Mapping[str, str]) -> None:
        """Colour each data row by the value of its column `at`: a conditional format per
        value of `palette` (the cell itself has the fill as its own format too)."""
        letter = _column_letter(at)
        for value, fill in palette.items():
            ws.conditional_format(
                1,
                0,
                last,
                width - 1,
                {"type": "formula", "criteria": f'=${letter}2="{value}"', "format": self.dxf(fill)},
            )

    def dxf(self, fill: str) -> Format:
        found = self._dxfs.get(fill)
        if found is None:
            found = self._dxfs[fill] = self.book.add_format(
                {"bg_color": fill, "font_color": FONTS.get(fill, "#000000")}
            )
        return found

    def write_summary(self, rows: Iterable[tuple[str, str, Any]]) -> None:
        ws = self.summary
        for c, (header, width) in enumerate((("section", 18), ("item", 40), ("value", 80))):
            ws.set_column(c, c, width)
            ws.write_string(0, c, header, self.header)
        ws.freeze_panes(1, 0)
        r = 0
        for r, (section, item, value) in enumerate(rows, 1):
            if r == EXCEL_ROWS - 1:  # not reached: the report's lists are shown in part
                self.text(ws, r, 0, "summary", None, "")
                self.text(ws, r, 1, "rows", None, "")
                self.text(ws, r, 2, "more than a sheet holds: the rest is in the command's report", None, "")
                break
            self.text(ws, r, 0, section, None, "the report")
            self.text(ws, r, 1, item, None, "the report")
            if isinstance(value, bool):
                ws.write_boolean(r, 2, value)
            elif isinstance(value, int | float) and math.isfinite(value) and abs(value) < _EXACT_INTEGERS:
                ws.write_number(r, 2, value)
            elif value is not None:
                self.text(ws, r, 2, str(value), None, "the report")
        ws.autofilter(0, 0, r, 2)
        ws.activate()

    def close(self) -> None:
        self.book.close()


def _column_letter(index: int) -> str:
    """Excel's name of the column `index` (0: A, 26: AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


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


def _columns(batch: pa.RecordBatch, fdn: str | None) -> tuple[list[list[Any]], list[str]]:
    """A batch's columns as Python values, the FDN column followed by its node and MO parts."""
    columns: list[list[Any]] = []
    headers: list[str] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        columns.append(_python_column(column))
        headers.append(name)
        if name == fdn:
            node, mo = split_fdns(column)
            columns.extend((node.to_pylist(), mo.to_pylist()))
            headers.extend(_split_names(name))
    return columns, headers


def _widths(headers: Sequence[str], columns: Sequence[list[Any]]) -> list[float]:
    widths = []
    for header, values in zip(headers, columns, strict=True):
        longest = max((len(str(v)) for v in values[:SAMPLED] if v is not None), default=0)
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
    from xlsxwriter.exceptions import XlsxWriterException

    target = Path(path)
    try:
        writer = _Writer(target, row_limit)
        tables = [writer.table(s) for s in sheets]
        writer.write_summary(summary_rows(command, report, inputs, tables, row_limit))
        writer.close()
    except (OSError, XlsxWriterException) as err:
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
