"""How a catalog attribute's type becomes a Python annotation with its constraints
(``mom-format.md`` §5). The table in ``docs/typemap.md`` is the user-facing version of this
module; :func:`field_type` is what the Pydantic emitter uses.

Everything here works on one catalog row (a ``dict`` from the ``attributes`` or
``struct_members`` table) and returns plain data, so it is tested without generating code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# implicit bounds of the integer kinds (MP `long` is 32-bit, `longlong` 64-bit)
INTEGER_BOUNDS: dict[str, tuple[int, int]] = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "long": (-(2**31), 2**31 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "longlong": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "octet": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}

# POSIX bracket classes and their Python equivalents
_POSIX_CLASSES = {
    "alpha": "A-Za-z",
    "digit": "0-9",
    "alnum": "A-Za-z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\r\n\v\f",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
}

# the formats strings can name, as Python regular expressions
FORMATS = {
    "ipV4Address": r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$",
    "ipV6Address": r"^[0-9A-Fa-f:.]{2,45}$",
    "macAddress": r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$",
}


_GNU_ESCAPES = {"<": r"\b(?=\w)", ">": r"\b(?<=\w)", "`": r"\A", "'": r"\Z"}


class Untranslatable(ValueError):
    """A pattern that has no faithful Python equivalent."""


def posix_ere_to_python(pattern: str) -> str:
    """Translate a POSIX extended regular expression (MP ``validValues``) to a Python one that
    matches the same whole strings. POSIX bracket classes (``[[:digit:]]``) and the GNU escapes
    real models use (``\\s``, ``\\w``, ``\\<``) are translated; inside brackets a backslash
    escapes the next character, as the models mean it (``[a-z\\-.]``). Raises
    :class:`Untranslatable` for collating elements, unknown classes and expressions Python
    cannot compile."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            # GNU extensions MOM patterns use: \s \S \w \W \b \B and back-references mean the
            # same in Python; word start and end, and buffer start and end, are spelt otherwise
            out.append(_GNU_ESCAPES.get(pattern[i + 1], pattern[i : i + 2]))
            i += 2
            continue
        if c == "[":
            end, body = _bracket(pattern, i)
            out.append(body)
            i = end
            continue
        out.append(c)
        i += 1
    translated = "".join(out)
    try:
        re.compile(translated)
    except re.error as err:
        raise Untranslatable(f"not a valid expression: {err}") from None
    return f"^(?:{translated})$"


def _bracket(pattern: str, start: int) -> tuple[int, str]:
    """The bracket expression starting at `start`: where it ends and its Python form."""
    i = start + 1
    parts = ["["]
    if i < len(pattern) and pattern[i] == "^":
        parts.append("^")
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        parts.append(r"\]")
        i += 1
    while i < len(pattern):
        c = pattern[i]
        if c == "]":
            parts.append("]")
            return i + 1, "".join(parts)
        if pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            if close < 0:
                raise Untranslatable("unclosed [: class")
            name = pattern[i + 2 : close]
            if name not in _POSIX_CLASSES:
                raise Untranslatable(f"unknown class [:{name}:]")
            parts.append(_POSIX_CLASSES[name])
            i = close + 2
            continue
        if pattern.startswith("[=", i) or pattern.startswith("[.", i):
            raise Untranslatable("collating elements and equivalence classes")
        if c == "\\" and i + 1 < len(pattern):
            # POSIX reads a backslash in brackets literally, but models write [a-z\-.] meaning
            # an escaped hyphen (as XSD and Perl do): keep the escape
            parts.append(pattern[i : i + 2])
            i += 2
            continue
        parts.append("\\[" if c == "[" else c)
        i += 1
    raise Untranslatable("unclosed [")


@dataclass
class FieldType:
    """A Python annotation (as source text) and what it must check beyond the type."""

    annotation: str
    """The item type for sequences, e.g. ``int``, ``AdminState``, ``PlmnIdentity``."""
    kind: str
    ranges: list[tuple[Decimal | None, Decimal | None]] = field(default_factory=list)
    resolution: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_note: str | None = None
    decimal_places: int | None = None
    enum: str | None = None
    struct: str | None = None
    moref_target: str | None = None
    is_sequence: bool = False
    seq_min: int | None = None
    seq_max: int | None = None
    seq_unique: bool = False
    notes: list[str] = field(default_factory=list)


def field_type(row: dict[str, Any], enum_names: dict[str, str], struct_names: dict[str, str]) -> FieldType:
    """The annotation and checks of one attribute or struct member.

    `enum_names` and `struct_names` map a catalog name (``mim/name`` or just ``name``) to the
    Python class name generated for it.
    """
    kind = row.get("kind") or "unknown"
    base = row.get("base_type") or ""
    ref = row.get("type_ref")
    ref_mim = row.get("type_ref_mim")
    t = FieldType(annotation="str", kind=kind)
    if kind == "integer":
        t.annotation = "int"
        lo, hi = INTEGER_BOUNDS.get(base, INTEGER_BOUNDS["int64"])
        t.ranges = _ranges(row.get("ranges")) or [(Decimal(lo), Decimal(hi))]
        t.ranges = [(max(a, Decimal(lo)) if a is not None else Decimal(lo), b) for a, b in t.ranges]
        t.ranges = [(a, min(b, Decimal(hi)) if b is not None else Decimal(hi)) for a, b in t.ranges]
        t.resolution = row.get("resolution")
    elif kind == "float":
        t.annotation = "float"
        t.ranges = _ranges(row.get("ranges"))
    elif kind == "decimal":
        t.annotation = "Decimal"
        t.ranges = _ranges(row.get("ranges"))
        t.resolution = row.get("resolution")
        digits = row.get("fraction_digits")
        t.decimal_places = int(digits) if digits is not None else None
    elif kind == "boolean":
        t.annotation = "bool"
    elif kind == "enum" and ref:
        t.enum = lookup(enum_names, ref_mim, ref)
        t.annotation = t.enum or "str"
        if t.enum is None:
            t.notes.append(f"enum {ref} is not in the catalog; any text is accepted")
    elif kind == "struct" and ref:
        t.struct = lookup(struct_names, ref_mim, ref)
        t.annotation = t.struct or "dict[str, Any]"
        if t.struct is None:
            t.notes.append(f"struct {ref} is not in the catalog; any mapping is accepted")
    elif kind == "moref":
        t.annotation = "str"
        t.moref_target = ref or "ManagedObject"
    else:
        t.annotation = "str"
        shortest, longest = row.get("length_min"), row.get("length_max")
        t.min_length = int(shortest) if shortest is not None else None
        t.max_length = int(longest) if longest is not None else None
        pattern = row.get("pattern")
        fmt = row.get("format")
        if pattern:
            try:
                t.pattern = posix_ere_to_python(pattern)
            except Untranslatable as err:
                t.pattern_note = f"pattern {pattern!r} not enforced: {err}"
        elif fmt in FORMATS:
            t.pattern = FORMATS[fmt]
    if row.get("is_sequence"):
        t.is_sequence = True
        t.seq_min = row.get("seq_min")
        t.seq_max = row.get("seq_max")
        t.seq_unique = bool(row.get("seq_unique"))
    return t


def lookup(names: dict[str, str], mim: str | None, name: str) -> str | None:
    """The Python name of enum, struct or alias `name` (of MIM `mim` when it has one there)."""
    if mim and f"{mim}/{name}" in names:
        return names[f"{mim}/{name}"]
    return names.get(name)


def enum_members_by_enum(
    enums: list[dict[str, Any]], members: list[dict[str, Any]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The member rows of each enum, by (MIM, enum name), every enum of `enums` included (with
    no members, if so). A member belongs to the enum of its MIM, else to the first enum of that
    name (a workbook adds members to the model's enum under its own Model)."""
    defined = {(e.get("mim") or "", e["enum"]) for e in enums}
    first_of: dict[str, tuple[str, str]] = {}
    for key in sorted(defined):
        first_of.setdefault(key[1], key)
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in defined}
    for m in members:
        key = (m.get("mim") or "", m["enum"])
        grouped.setdefault(key if key in defined else first_of.get(m["enum"], key), []).append(m)
    return grouped


def struct_members_by_struct(
    structs: list[dict[str, Any]], members: list[dict[str, Any]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The member rows of each struct, by (MIM, struct name), every struct of `structs`
    included: as :func:`enum_members_by_enum`, a member belongs to the struct of its MIM, else
    to the first struct of that name (a workbook adds members to the model's struct under its
    own Model; the catalog keeps one struct row of a name)."""
    defined = {(s.get("mim") or "", s["struct"]) for s in structs}
    first_of: dict[str, tuple[str, str]] = {}
    for key in sorted(defined):
        first_of.setdefault(key[1], key)
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in defined}
    for m in members:
        key = (m.get("mim") or "", m["struct"])
        grouped.setdefault(key if key in defined else first_of.get(m["struct"], key), []).append(m)
    return grouped


def _ranges(value: Any) -> list[tuple[Decimal | None, Decimal | None]]:
    return [(b["min"], b["max"]) for b in value or []]
