"""Ericsson's parameter workbook, exported to CSV, read into catalog tables (``source == "workbook"``).

Two sheets carry constraints (``rtb-and-workbook.md`` §3): ``Spreadsheets_Parameters.csv`` (one
record per class attribute) and ``Spreadsheets_StructParameters.csv`` (one per struct member,
keyed by class and struct). Both are RFC 4180 with newlines inside quoted fields, and are split
with :mod:`csv`, never by line. Columns are found by header name.

The tables share names, columns and Arrow types with the MP XML reader's where they mean the
same (``classes``, ``attributes``, ``enums``, ``enum_members``, ``structs``, ``struct_members``,
``containment``), so a merged catalog can stack them. A cell that does not follow the
workbook's conventions is never dropped silently: it is listed in :attr:`Workbook.unparsed` with
its file, line, column and text, and the value is left empty in the table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from rtbfast.csv_text import column_of, read_text, records
from rtbfast.errors import InvalidValueError
from rtbfast.schemas import WORKBOOK_ATTRIBUTES_SCHEMA, WORKBOOK_STRUCT_MEMBERS_SCHEMA

PARAMETER_COLUMNS = (
    "Model",
    "MO Class Name",
    "Parameter Name",
    "Sequence Length",
    "Parameter Description",
    "Data Type",
    "Range and Values",
    "Default Value",
    "MultiplicationFactor",
    "Unit",
    "Resolution",
    "ReadOnly",
    "Restricted",
    "Mandatory",
    "SystemCreated",
    "Change Take Effect",
    "Disturbances",
    "Dependencies",
    "Deprecated",
    "Obsolete",
    "Precondition",
    "LDN",
    "noNotification",
    "Preliminary",
)
STRUCT_COLUMNS = (
    "Model",
    "MO Class Name",
    "Struct Name",
    "Parameter Name",
    "Sequence Length",
    "Parameter Description",
    "Data Type",
    "Range and Values",
    "Default Value",
    "MultiplicationFactor",
    "Unit",
    "Resolution",
    "Dependencies",
    "Deprecated",
    "Obsolete",
    "Preliminary",
)

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"({_NUMBER})\s*\.\.\s*({_NUMBER})")
_POINT = re.compile(_NUMBER)
_LENGTH = re.compile(r"Length:\s*(\d+)(?:\s*\.\.\s*(\d+))?")
_MULTIPLICITY = re.compile(r"(\d+)(\s*\.\.\s*(\d*))?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_REFERENCE_TYPES = {"enum": ("enumRef", "enum"), "struct": ("structRef", "struct"), "moRef": ("moRef", "moref")}
_PRIMITIVE_KINDS = {
    **{t: "integer" for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")},
    **{t: "integer" for t in ("long", "longlong", "short", "octet", "integer")},
    "boolean": "boolean",
    "string": "string",
    "double": "float",
    "float": "float",
    "decimal64": "decimal",
}
_DECIMAL_LIMIT = Decimal(10) ** 20  # decimal128(38, 18) holds 20 integer digits
_WIDE = Context(prec=60)


@dataclass(frozen=True)
class Unparsed:
    """A cell the reader could not read as its column's convention says; its value is left empty."""

    file: str
    line: int
    model: str
    cls: str
    name: str
    column: str
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.cls}.{self.name} {self.column} {self.text!r}: {self.reason}"


@dataclass
class Workbook:
    """The catalog tables read from the workbook sheets, and what could not be read."""

    tables: dict[str, pa.Table]
    unparsed: list[Unparsed] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


class CellError(ValueError):
    """A cell that does not follow its column's convention."""


@dataclass(frozen=True)
class RangeValues:
    """What a ``Range and Values`` cell says."""

    ranges: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    length: tuple[int, int] | None = None
    literals: list[str] = field(default_factory=list)


def parse_number(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise CellError(f"{text.strip()!r} is not a number") from None
    exact = value.is_finite() and abs(value) < _DECIMAL_LIMIT
    if not exact or value != value.quantize(Decimal(1).scaleb(-18), context=_WIDE):
        raise CellError(f"{text.strip()!r} does not fit decimal128(38, 18) exactly")
    return value


def parse_range_and_values(text: str, is_enum: bool) -> RangeValues:
    """The workbook's Range-and-Values grammar: ``lo..hi``; a comma list of points and ranges;
    ``Length: lo..hi``; enum literals one per line; empty."""
    stripped = text.strip()
    if not stripped:
        return RangeValues()
    if m := _LENGTH.fullmatch(stripped):
        # "Length: 19" is an exact length
        return RangeValues(length=(int(m.group(1)), int(m.group(2) or m.group(1))))
    if is_enum:
        literals = [line.strip() for line in stripped.splitlines() if line.strip()]
        bad = [lit for lit in literals if not _IDENTIFIER.fullmatch(lit)]
        if bad:
            raise CellError(f"enum literal {bad[0]!r} is not a name")
        return RangeValues(literals=literals)
    ranges: list[tuple[Decimal, Decimal]] = []
    for item in re.split(r"[,\n]", stripped):
        item = item.strip()
        if not item:
            continue
        if m := _RANGE.fullmatch(item):
            lo, hi = parse_number(m.group(1)), parse_number(m.group(2))
            if lo > hi:
                raise CellError(f"range {item!r} has its minimum above its maximum")
            ranges.append((lo, hi))
        elif _POINT.fullmatch(item):
            point = parse_number(item)
            ranges.append((point, point))
        else:
            raise CellError(f"{item!r} is neither a number nor lo..hi")
    return RangeValues(ranges=ranges)


def parse_multiplicity(text: str) -> tuple[bool, int | None, int | None]:
    """``Sequence Length``: ``1`` is a scalar; ``min..max``, ``min..`` (unbounded) or ``n``
    (exactly n, n > 1) a sequence."""
    stripped = text.strip()
    if stripped in ("", "1"):
        return False, None, None
    if m := _MULTIPLICITY.fullmatch(stripped):
        low = int(m.group(1))
        if m.group(2) is None:
            return True, low, low
        return True, low, int(m.group(3)) if m.group(3) else None
    raise CellError("expected 1, min..max or min..")


def parse_flag(text: str) -> bool:
    stripped = text.strip()
    if stripped in ("True", "TRUE", "true"):
        return True
    if stripped in ("", "False", "FALSE", "false"):
        return False
    raise CellError("expected True or False")


def parse_data_type(text: str) -> tuple[str, str | None, str]:
    """(base_type, type_ref, kind) of a ``Data Type`` cell: ``int32``, ``enum X``, ``struct X``, ``moRef X``."""
    parts = text.split()
    if len(parts) == 2 and parts[0] in _REFERENCE_TYPES and _IDENTIFIER.fullmatch(parts[1]):
        base, kind = _REFERENCE_TYPES[parts[0]]
        return base, parts[1], kind
    if len(parts) == 1 and parts[0] in _PRIMITIVE_KINDS:
        return parts[0], None, _PRIMITIVE_KINDS[parts[0]]
    raise CellError("expected a type name, or enum/struct/moRef and a name")


def _default(text: str) -> str | None:
    """A default as the sheet writes it: text defaults in double quotes (``"02:00"``),
    ``"None"`` for none."""
    stripped = text.strip()
    if stripped in ("", '"None"'):
        return None
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        return stripped[1:-1]
    return stripped


def _text(text: str) -> str | None:
    return text if text.strip() else None


def _records(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line, record) for every record of a workbook sheet; columns checked by name. The
    sheet is read strictly (:mod:`rtbfast.csv_text`): every error names its line, column and
    CSV column."""
    rows = records(path, read_text(path))
    first = next(rows, None)
    if first is None:
        raise InvalidValueError(f"{path}:1:1: empty file, expected a workbook header", str(path), 1, 1)
    _, header = first
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidValueError(
            f"{path}:1:1: missing column(s) {', '.join(map(repr, missing))}; the header has "
            f"{', '.join(map(repr, header[:6]))}, …",
            str(path),
            1,
            1,
            missing[0],
        )
    index = {name: header.index(name) for name in header}
    for line, values in rows:
        if not values:
            continue
        if len(values) != len(header):
            where = column_of(header, min(len(values), len(header)) - 1 if len(values) < len(header) else len(header))
            says = "ends after" if len(values) < len(header) else "goes on into"
            raise InvalidValueError(
                f"{path}:{line}:1: the record {says} {where}: {len(values)} fields, the header has {len(header)}",
                str(path),
                line,
                1,
                where,
            )
        yield line, {name: values[i] for name, i in index.items()}


class _Reader:
    """Collects the rows of both sheets; cells that do not parse go to ``unparsed``."""

    def __init__(self) -> None:
        self.unparsed: list[Unparsed] = []
        self.attributes: list[dict[str, Any]] = []
        self.members: list[dict[str, Any]] = []
        self.classes: dict[tuple[str, str], dict[str, Any]] = {}
        self.enums: dict[tuple[str, str], list[str]] = {}
        self.structs: dict[tuple[str, str, str], int] = {}
        self.containment: dict[tuple[str, str], None] = {}

    def cell(self, where: tuple[str, int, dict[str, str], str], column: str, parse: Any, *args: Any) -> Any:
        file, line, rec, name = where
        try:
            return parse(rec[column], *args)
        except CellError as err:
            cls = rec["MO Class Name"]
            self.unparsed.append(Unparsed(file, line, rec["Model"], cls, name, column, rec[column], str(err)))
            return None

    def type_columns(self, where: tuple[str, int, dict[str, str], str]) -> dict[str, Any]:
        rec = where[2]
        base, ref, kind = self.cell(where, "Data Type", parse_data_type) or (None, None, "unknown")
        is_seq, seq_min, seq_max = self.cell(where, "Sequence Length", parse_multiplicity) or (False, None, None)
        rv = self.cell(where, "Range and Values", parse_range_and_values, kind == "enum") or RangeValues()
        if rv.literals and ref is not None:
            known = self.enums.setdefault((rec["Model"], ref), rv.literals)
            if known != rv.literals:
                self.cell(where, "Range and Values", _differs, known)
        resolution = self.cell(where, "Resolution", lambda t: parse_number(t) if t.strip() else None)
        length = rv.length
        return {
            "kind": kind,
            "base_type": base,
            "type_ref": ref,
            "is_sequence": is_seq,
            "seq_min": seq_min,
            "seq_max": seq_max,
            "ranges": [{"min": lo, "max": hi} for lo, hi in rv.ranges] or None,
            "length_min": length[0] if length else None,
            "length_max": length[1] if length else None,
            "length_ranges": [{"min": Decimal(length[0]), "max": Decimal(length[1])}] if length else None,
            "default": _default(rec["Default Value"]),
            "unit": _text(rec["Unit"]),
            "multiplication_factor": _text(rec["MultiplicationFactor"]),
            "resolution": resolution,
            "lifecycle": _lifecycle(rec),
            "lifecycle_text": _text(rec["Obsolete"]) or _text(rec["Deprecated"]),
            "description": _text(rec["Parameter Description"]),
            "dependencies": _text(rec["Dependencies"]),
            "source": "workbook",
        }

    def parameter(self, file: str, line: int, rec: dict[str, str]) -> None:
        model, cls, name = rec["Model"], rec["MO Class Name"], rec["Parameter Name"]
        where = (file, line, rec, name)
        row = {"mim": model, "class": cls, "attribute": name, **self.type_columns(where)}
        flags = {
            "mandatory": "Mandatory",
            "read_only": "ReadOnly",
            "restricted": "Restricted",
            "no_notification": "noNotification",
        }
        for key, column in flags.items():
            row[key] = bool(self.cell(where, column, parse_flag))
        row["takes_effect"] = _text(rec["Change Take Effect"])
        row["disturbances"] = _text(rec["Disturbances"])
        row["precondition"] = _text(rec["Precondition"])
        # two columns the reader does not need to find: kept when there, checked when they say something
        row["persisted_in_enm"] = (
            bool(self.cell(where, "Persisted in ENM", parse_flag)) if "Persisted in ENM" in rec else None
        )
        if rec.get("This column is empty", "").strip():
            self.cell(where, "This column is empty", _not_empty)
        self.attributes.append(row)
        system_created = bool(self.cell(where, "SystemCreated", parse_flag))
        entry = self.classes.setdefault((model, cls), {"system_created": system_created, "attribute_count": 0})
        entry["attribute_count"] += 1
        if name == f"{cls[:1].lower()}{cls[1:]}Id":
            entry["system_created"] = system_created  # the naming attribute's row speaks for the class
        for path in rec["LDN"].splitlines():
            steps = [s.strip() for s in path.split("/") if s.strip()]
            for parent, child in zip(steps, [*steps[1:], cls], strict=True):
                self.containment[(parent, child)] = None

    def member(self, file: str, line: int, rec: dict[str, str]) -> None:
        model, cls, struct, name = rec["Model"], rec["MO Class Name"], rec["Struct Name"], rec["Parameter Name"]
        where = (file, line, rec, f"{struct}.{name}")
        self.members.append({"mim": model, "class": cls, "struct": struct, "member": name, **self.type_columns(where)})
        self.structs[(model, cls, struct)] = self.structs.get((model, cls, struct), 0) + 1


def _differs(text: str, known: list[str]) -> None:
    raise CellError(f"this enum's literals differ from those given earlier ({', '.join(known[:5])}, …); first kept")


def _not_empty(text: str) -> None:
    raise CellError("this column is always empty in Ericsson's export; its text is not read")


def _lifecycle(rec: dict[str, str]) -> str | None:
    if rec["Obsolete"].strip():
        return "obsolete"
    if rec["Deprecated"].strip():
        return "deprecated"
    if rec["Preliminary"].strip() == "True":
        return "preliminary"
    return None


def _checked(path: str | os.PathLike[str]) -> Path:
    from rtbfast.readers import checked_file

    return checked_file(path)


def read_workbook(parameters: str | os.PathLike[str], structs: str | os.PathLike[str] | None = None) -> Workbook:
    """Read ``Spreadsheets_Parameters.csv`` (and ``Spreadsheets_StructParameters.csv``) into catalog tables.

    Raises :class:`rtbfast.errors.InputError` (naming file and line) for a file that is not a
    workbook sheet: a missing column, a broken quote, a record of the wrong width.
    """
    reader = _Reader()
    records: dict[str, int] = {}
    p = _checked(parameters)
    for line, rec in _records(p, PARAMETER_COLUMNS):
        reader.parameter(str(p), line, rec)
    records["parameters"] = len(reader.attributes)
    if structs is not None:
        s = _checked(structs)
        for line, rec in _records(s, STRUCT_COLUMNS):
            reader.member(str(s), line, rec)
        records["struct_members"] = len(reader.members)
    tables = {
        "classes": pa.table(
            {
                "mim": [m for m, _ in reader.classes],
                "class": [c for _, c in reader.classes],
                "system_created": [v["system_created"] for v in reader.classes.values()],
                "attribute_count": pa.array([v["attribute_count"] for v in reader.classes.values()], pa.int64()),
                "source": ["workbook"] * len(reader.classes),
            }
        ),
        "attributes": pa.Table.from_pylist(reader.attributes, WORKBOOK_ATTRIBUTES_SCHEMA),
        "enums": pa.table(
            {
                "mim": [m for m, _ in reader.enums],
                "enum": [e for _, e in reader.enums],
                "member_count": pa.array([len(v) for v in reader.enums.values()], pa.int64()),
                "source": ["workbook"] * len(reader.enums),
            }
        ),
        "enum_members": pa.table(
            {
                "mim": [m for (m, _), lits in reader.enums.items() for _ in lits],
                "enum": [e for (_, e), lits in reader.enums.items() for _ in lits],
                "member": [lit for lits in reader.enums.values() for lit in lits],
                "value": pa.nulls(sum(map(len, reader.enums.values())), pa.int64()),
                "source": ["workbook"] * sum(map(len, reader.enums.values())),
            }
        ),
        "structs": pa.table(
            {
                "mim": [m for m, _, _ in reader.structs],
                "class": [c for _, c, _ in reader.structs],
                "struct": [s for _, _, s in reader.structs],
                "member_count": pa.array(list(reader.structs.values()), pa.int64()),
                "source": ["workbook"] * len(reader.structs),
            }
        ),
        "struct_members": pa.Table.from_pylist(reader.members, WORKBOOK_STRUCT_MEMBERS_SCHEMA),
        "containment": pa.table(
            {
                "parent": [p for p, _ in reader.containment],
                "child": [c for _, c in reader.containment],
                "card_min": pa.nulls(len(reader.containment), pa.int64()),
                "card_max": pa.nulls(len(reader.containment), pa.int64()),
                "source": ["workbook"] * len(reader.containment),
            }
        ),
    }
    return Workbook(tables, reader.unparsed, records)
