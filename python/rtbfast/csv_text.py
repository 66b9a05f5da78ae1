"""The CSV files rtbfast reads (the parameter workbook's sheets, user rule files), read strictly
and with every error located.

Spreadsheet programs write "CSV UTF-8" with a byte order mark, which is accepted. Anything that
is not RFC 4180 is refused rather than guessed at: a byte that is not UTF-8 (most often a file
saved as Windows-1252), text after a closing quote (``"text"x``), a quote never closed, a field
longer than :data:`FIELD_LIMIT`. Each error names the file, line and column (in characters) and
the header name of the CSV column it is in.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rtbfast.errors import InputIOError, InvalidValueError

BOM = b"\xef\xbb\xbf"
FIELD_LIMIT = csv.field_size_limit()
"""The longest field: the csv module's limit (128 KiB), which rtbfast does not raise."""


@dataclass(frozen=True)
class _Problem:
    index: int
    """Offset in the text where the problem is."""
    field: int
    """Which field of the record (0-based)."""
    message: str


class _Lines:
    """Line starts of a text, to turn offsets into 1-based lines and columns."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        at = text.find("\n")
        while at >= 0:
            self.starts.append(at + 1)
            at = text.find("\n", at + 1)

    def position(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def start(self, line: int) -> int:
        return self.starts[min(max(line, 1), len(self.starts)) - 1]


def _scan(text: str, start: int) -> _Problem | None:
    """Read one record of `text` from offset `start` as the csv module does in strict mode
    and return its first problem (None if it has none)."""
    field, at, n = 0, start, len(text)
    while at <= n:
        begin = at
        if at < n and text[at] == '"':
            at += 1
            while True:
                close = text.find('"', at)
                if close < 0:
                    return _Problem(begin, field, "a quote opened here is never closed")
                if text.startswith('""', close):
                    at = close + 2
                    continue
                at = close + 1
                break
            if at < n and text[at] not in ",\r\n":
                return _Problem(at, field, f"{text[at]!r} after the closing quote (quote the whole cell)")
        else:
            while at < n and text[at] not in ",\r\n":
                at += 1
        if at - begin > FIELD_LIMIT:
            return _Problem(begin, field, f"a field of {at - begin:,} characters (at most {FIELD_LIMIT:,})")
        if at >= n or text[at] in "\r\n":
            return None
        at += 1  # the comma
        field += 1
    return None


def _column_name(header: list[str] | None, field: int) -> str:
    if header is None:
        return f"field {field + 1}"
    if field < len(header):
        return f"column {header[field]!r}"
    return f"field {field + 1}, after the last column {header[-1]!r}" if header else f"field {field + 1}"


def read_text(path: Path) -> str:
    """The text of a CSV file: UTF-8, a byte order mark dropped. A byte that is not UTF-8 is
    an :class:`InvalidValueError` at its line and column, naming its CSV column."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputIOError(f"{path}: cannot read the file: {err.strerror or err}", str(path)) from None
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        # the text before the bad byte is valid: its last record is the one holding the byte,
        # and the byte is in that record's last field
        text = data[: err.start].decode("utf-8")
        line, column = _Lines(text).position(len(text))
        parsed: list[list[str]] = []
        with contextlib.suppress(csv.Error):  # records read before an error stay in `parsed`
            parsed.extend(csv.reader(io.StringIO(text, newline="")))
        header = parsed[0] if len(parsed) > 1 else None
        field = max(len(parsed[-1]) - 1, 0) if parsed else 0
        where = _column_name(header, field)
        bad = " ".join(f"0x{b:02x}" for b in data[err.start : err.end])
        raise InvalidValueError(
            f"{path}:{line}:{column}: byte {bad} in {where} is not UTF-8; save the sheet as 'CSV UTF-8' or convert "
            "it (for Excel's plain CSV: iconv -f WINDOWS-1252 -t UTF-8)",
            str(path),
            line,
            column,
            where,
        ) from None


def records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of every record of `text`, the header first, read strictly. A
    malformed record is an :class:`InvalidValueError` at the line and column of the problem,
    naming its CSV column (by the header's name)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    line = 1
    try:
        for fields in reader:
            if header is None:
                header = fields
            yield line, fields
            line = reader.line_num + 1
    except csv.Error as err:
        lines = _Lines(text)
        problem = _scan(text, lines.start(line))
        if problem is None:  # the module saw something the scan does not: report it as is
            raise InvalidValueError(f"{path}:{line}:1: not CSV: {err}", str(path), line, 1) from None
        at_line, column = lines.position(problem.index)
        where = _column_name(header, problem.field)
        raise InvalidValueError(
            f"{path}:{at_line}:{column}: {problem.message}, in {where}", str(path), at_line, column, where
        ) from None


def column_of(header: list[str], field: int) -> str:
    """How errors name a record's `field` (0-based): by the header's column name."""
    return _column_name(header, field)
