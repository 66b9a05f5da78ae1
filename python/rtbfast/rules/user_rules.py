"""User rules: a CSV with the columns ``id, class, when, assert, severity, message, window``.

``when`` and ``assert`` are CEL expressions (Common Expression Language, as Kubernetes uses in
validation rules) over one MO, evaluated natively by the ``cel`` crate. ``when`` may be empty
(the rule always applies). Each attribute of the MO is a variable of its own name, typed by
the catalog (``int``, ``double``, ``bool``, ``string`` for enums by member name, strings and
moRefs, maps for structs, lists for sequences); an attribute the MO does not carry is not
defined, so guard with ``has(self.x)``. Also defined: ``self`` (all attributes), ``fdn`` and
``id`` (unless the MO has attributes of those names), ``parent`` (its attributes with
``fdn``, ``id``, ``class``), ``children`` (child class → list), ``node`` (the ``MeContext``
or ``ManagedElement`` above the MO).

``severity`` is ``error`` (default), ``warning`` or ``info``. ``window`` restricts a rule to a
time window, such as a maintenance window: ``HH:MM-HH:MM`` (it may wrap midnight), optionally
after days: ``Mon-Fri 01:00-05:00``, ``Sat,Sun 00:00-24:00``. A rule with a window is
evaluated only when the audit time (``--at``) falls inside it.

Example::

    id,class,when,assert,severity,message,window
    pci-range,EUtranCellFDD,,physicalLayerCellIdGroup * 3 + physicalLayerCellId < 504,error,PCI out of range,
    locked-in-window,EUtranCellFDD,,administrativeState == 'UNLOCKED',warning,cell left locked,Mon-Fri 06:00-22:00
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path

import pyarrow as pa

from rtbfast import _native
from rtbfast.csv_text import read_text, records
from rtbfast.errors import InputIOError
from rtbfast.readers import checked_file
from rtbfast.rules.constraints import Constraints
from rtbfast.suggest import did_you_mean

COLUMNS = ("id", "class", "when", "assert", "severity", "message", "window")
REQUIRED = ("id", "class", "assert")
SEVERITIES = ("error", "warning", "info")
BUILTINS = {"self", "fdn", "id", "parent", "children", "node"}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class RuleIssue:
    """Something wrong with one rule: where (file, line, and the line and column inside an
    expression), which rule and field, and what."""

    file: str
    line: int
    rule: str
    field: str
    message: str
    column: int = 0
    severity: str = "error"

    def __str__(self) -> str:
        rule = f" rule {self.rule!r}" if self.rule else ""
        at = f" (column {self.column} of the expression)" if self.column else ""
        return f"{self.file}:{self.line}:{rule} {self.field}{at}: {self.message}"


@dataclass
class RuleFile:
    """The rules of one CSV: the rows that can run, as a table, and the issues found."""

    path: Path
    table: pa.Table
    lines: list[int]
    """The CSV line of each row of `table`."""
    windows: list[str | None]
    issues: list[RuleIssue] = field(default_factory=list)

    def with_windows(self) -> pa.Table:
        """The rules with their ``window`` column (empty where a rule has none)."""
        return self.table.append_column("window", pa.array(self.windows, pa.string()))

    def active_at(self, at: datetime | None) -> pa.Table:
        """The rules whose window includes `at` (all of them when `at` is None)."""
        if at is None:
            return self.table
        keep = [w is None or in_window(w, at) for w in self.windows]
        return self.table.filter(pa.array(keep, pa.bool_()))


_WINDOW = re.compile(r"^(?:(?P<days>[A-Za-z,\-]+)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")


def _day_set(text: str) -> set[int]:
    days: set[int] = set()
    for part in text.lower().split(","):
        if "-" in part:
            first, last = (_DAYS.index(p[:3]) for p in part.split("-", 1))
            span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
            days.update(span)
        else:
            days.add(_DAYS.index(part[:3]))
    return days


def _clock(text: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    return time(hours, minutes)


def parse_window(text: str) -> tuple[set[int], time, time]:
    """The days (0 = Monday) and start and end clock times of a window; ValueError if malformed."""
    match = _WINDOW.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a window: write HH:MM-HH:MM, optionally after days (Mon-Fri 01:00-05:00)")
    try:
        days = _day_set(match.group("days")) if match.group("days") else set(range(7))
        return days, _clock(match.group("start")), _clock(match.group("end"))
    except ValueError as err:
        raise ValueError(f"{text!r} is not a window: {err}") from None


def in_window(text: str, at: datetime) -> bool:
    """Whether `at` falls in the window `text`; a window that wraps midnight belongs to the day
    it starts on."""
    days, start, end = parse_window(text)
    now = at.time()
    if start <= end:
        return (at.weekday() in days and start <= now < end) or (
            end == time.max and now >= start and at.weekday() in days
        )
    if now >= start:
        return at.weekday() in days
    return now < end and (at.weekday() - 1) % 7 in days


def read_rules(path: str | os.PathLike[str]) -> RuleFile:
    """Read a rules CSV. Rows with a missing column value, an unknown severity or a malformed
    window are left out with an issue each; a file without the required columns is an error."""
    p = checked_file(path)
    reader = records(p, read_text(p))
    first = next(reader, None)
    if first is None:
        raise InputIOError(f"{p}: empty; expected a header {','.join(COLUMNS)}", str(p), 1)
    header = [h.strip().lower() for h in first[1]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputIOError(f"{p}:1: the header lacks {', '.join(missing)}; expected {','.join(COLUMNS)}", str(p), 1, 1)
    unknown = [h for h in header if h not in COLUMNS]
    issues = [
        RuleIssue(str(p), 1, "", h, f"unknown column, ignored (columns: {', '.join(COLUMNS)})", severity="warning")
        for h in unknown
    ]
    rows: dict[str, list[str | None]] = {c: [] for c in COLUMNS[:6]}
    lines: list[int] = []
    windows: list[str | None] = []
    seen: dict[str, int] = {}
    for start, record in reader:
        if not any(cell.strip() for cell in record):
            continue
        values = {h: (record[i].strip() if i < len(record) else "") for i, h in enumerate(header)}
        rid = values.get("id", "")

        def issue(column: str, message: str, rid: str = rid, start: int = start) -> None:
            issues.append(RuleIssue(str(p), start, rid, column, message))

        if len(record) > len(header):
            issue("row", f"{len(record)} cells for {len(header)} columns (quote cells that hold commas)")
            continue
        empty = [c for c in REQUIRED if not values.get(c)]
        if empty:
            issue(empty[0], "is empty")
            continue
        if rid in seen:
            issue("id", f"the same id as the rule on line {seen[rid]}")
            continue
        seen[rid] = start
        severity = (values.get("severity") or "error").lower()
        if severity not in SEVERITIES:
            issue("severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
            continue
        window = values.get("window") or None
        if window is not None:
            try:
                parse_window(window)
            except ValueError as err:
                issue("window", str(err))
                continue
        for c in ("id", "class", "when", "assert", "message"):
            rows[c].append(values.get(c) or None)
        rows["severity"].append(severity)
        if not rows["message"][-1]:
            rows["message"][-1] = f"{values['assert']} does not hold"
        lines.append(start)
        windows.append(window)
    table = pa.table({c: pa.array(v, pa.string()) for c, v in rows.items()})
    return RuleFile(p, table, lines, windows, issues)


def _compile_issues(rules: RuleFile, problems: list[tuple[int, str, str, int, int, str]]) -> list[RuleIssue]:
    out = []
    for row, rid, column, line, col, message in problems:
        # a CEL error's line is inside the expression; the rule's own line starts the record
        file_line = rules.lines[row] + max(line - 1, 0)
        out.append(RuleIssue(str(rules.path), file_line, rid, column, message, column=col))
    return out


def check_rules(rules: RuleFile, catalog: dict[str, pa.Table] | None = None) -> list[RuleIssue]:
    """Every issue of a rule file: its CSV issues, CEL syntax errors (with line and column),
    and, given a catalog, classes and attributes it does not know (with a did-you-mean)."""
    issues = list(rules.issues)
    compiled = _native.compile_user_rules(rules.table)
    issues += _compile_issues(rules, compiled["problems"])
    if catalog is None:
        return issues
    attributes: dict[str, set[str]] = {}
    table = catalog.get("attributes")
    if table is not None:
        for cls, attr in zip(table.column("class").to_pylist(), table.column("attribute").to_pylist(), strict=True):
            attributes.setdefault(cls, set()).add(attr)
    for cls in catalog["classes"].column("class").to_pylist() if "classes" in catalog else []:
        attributes.setdefault(cls, set())
    line_of = {rid: line for rid, line in zip(rules.table.column("id").to_pylist(), rules.lines, strict=True)}
    for rid, cls, variables in compiled["variables"]:
        line = line_of.get(rid, 0)
        if cls not in attributes:
            hint = did_you_mean(cls, attributes)
            issues.append(RuleIssue(str(rules.path), line, rid, "class", f"{cls} is not a class of the catalog{hint}"))
            continue
        for name in variables:
            if name in BUILTINS or name in attributes[cls]:
                continue
            hint = did_you_mean(name, attributes[cls])
            issues.append(RuleIssue(str(rules.path), line, rid, "assert", f"{cls} has no attribute {name}{hint}"))
    return sorted(issues, key=lambda i: (i.line, i.column))


@dataclass
class RuleResult:
    violations: pa.Table
    checked: int
    """Evaluations: rules times the MOs of their class."""
    issues: list[RuleIssue]
    skipped_by_window: int


def evaluate_rules(
    tables: dict[str, pa.Table],
    constraints: Constraints,
    rules: RuleFile,
    *,
    at: datetime | None = None,
    threads: int = 0,
) -> RuleResult:
    """Evaluate the rules active at `at` over the ``mos`` and ``values`` of a Network."""
    active = rules.active_at(at)
    raw = _native.evaluate_user_rules(active, constraints.table, tables["mos"], tables["values"], threads)
    line_of = rules.lines
    if active.num_rows != rules.table.num_rows:
        keep = [w is None or (at is not None and in_window(w, at)) for w in rules.windows]
        line_of = [line for line, k in zip(rules.lines, keep, strict=True) if k]
    issues = list(rules.issues) + _compile_issues(RuleFile(rules.path, active, line_of, []), raw["problems"])
    return RuleResult(pa.table(raw["violations"]), raw["checked"], issues, rules.table.num_rows - active.num_rows)
