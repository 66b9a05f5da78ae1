"""ENM "dynamic" import files (``../shared/reference/enm-cli.md`` §8) read back, exactly as
:func:`rtbfast.enm.dialects.dynamic_blocks` writes them::

    create
    FDN : "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,SectorCarrier=9"
    SectorCarrierId : "9"
    noOfTxAntennas : 4

    set
    FDN : "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,EUtranCellFDD=C1"
    userLabel : "North, 3"
    additionalPlmnList : [{mcc=240, mnc=1}, {mcc=208, mnc=15}]

    delete
    FDN : "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,SectorCarrier=9"

A block is an operation keyword (``create``, ``set`` or ``delete``, lower case), the line
``FDN : "<FDN>"`` and, but for a delete, ``<attribute> : <value>`` lines; one blank line
follows each block. Values are read by the value scanner of :mod:`rtbfast.enm.cmedit` (bare
words, ``"…"`` strings, ``{m=v, …}`` structs, ``[a, b]`` lists), so they come back as the
same :data:`rtbfast.enm.cmedit.Value` trees; a value must be spelled as rtbfast spells it
(``", "`` between items and members, structs in ``{}``, strings in double quotes, bare values
of letters, digits, ``_ . - +`` only). Names follow :mod:`rtbfast.names`.

Anything else is a :class:`DynamicFormatError` with the line and column: lines end with a line
feed only, and no control, line-separator or invisible format character, and no backslash,
may stand anywhere (rtbfast never writes one, so a file holding one is not a plan's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rtbfast.enm import cmedit
from rtbfast.errors import InputError
from rtbfast.text_safety import FORMAT_CHARACTERS

KEYWORDS = ("create", "set", "delete")
"""The operations rtbfast writes (``action`` is an import operation too, with no known syntax)."""

_BARE = re.compile(r"[A-Za-z0-9_.+\-]+")
"""A value rtbfast writes without quotes: a word, a number, a boolean, an enum, ``null``."""

_UNSAFE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029{FORMAT_CHARACTERS}\\\\]")
"""What no line rtbfast writes holds: control characters (the line feed ends lines), the
Unicode line and paragraph separators, invisible format characters, the backslash."""


class DynamicFormatError(InputError, ValueError):
    """A dynamic import file that is not one as rtbfast writes it: the 1-based ``line`` and
    ``column`` and the ``reason`` (the message leads with ``source:line:column:``, or
    ``line L, column C:`` without a source)."""

    def __init__(self, reason: str, line: int, column: int, source: str = "") -> None:
        where = f"{source}:{line}:{column}" if source else f"line {line}, column {column}"
        super().__init__(f"{where}: {reason}", source, line, column)
        self.reason = reason


@dataclass(frozen=True)
class Operation:
    """One block: its keyword (``create``, ``set``, ``delete``), the MO's FDN, the attributes
    it writes in order (a create's naming attribute among them, as written), and the line of
    its keyword."""

    keyword: str
    fdn: str
    attributes: tuple[tuple[str, cmedit.Value], ...]
    line: int


def render_value(value: cmedit.Value) -> str:
    """A value as the dynamic import format writes it: structs ``{m=v, …}``, lists ``[a, b]``,
    strings in double quotes."""
    if isinstance(value, cmedit.Bare):
        return value.text
    if isinstance(value, cmedit.Quoted):
        return f'"{value.text}"'
    if isinstance(value, cmedit.Struct):
        return "{" + ", ".join(f"{name}={render_value(v)}" for name, v in value.members) + "}"
    return "[" + ", ".join(render_value(v) for v in value.items) + "]"


def _bare_texts(value: cmedit.Value) -> list[cmedit.Bare]:
    if isinstance(value, cmedit.Bare):
        return [value]
    if isinstance(value, cmedit.Struct):
        return [b for _, v in value.members for b in _bare_texts(v)]
    if isinstance(value, cmedit.Sequence):
        return [b for v in value.items for b in _bare_texts(v)]
    return []


def _member_names(value: cmedit.Value) -> list[str]:
    if isinstance(value, cmedit.Struct):
        return [n for name, v in value.members for n in (name, *_member_names(v))]
    if isinstance(value, cmedit.Sequence):
        return [n for v in value.items for n in _member_names(v)]
    return []


# (line, column, kind of rtbfast.names, name, what it is)
_NameCheck = tuple[int, int, str, str, str]


def _first_refused_name(checks: list[_NameCheck]) -> tuple[int, int, str] | None:
    """The first (line, column, why) of the names that :mod:`rtbfast.names` refuses, checked
    column-wise per kind."""
    import pyarrow as pa

    from rtbfast.names import refused_names

    first: tuple[int, int, str] | None = None
    by_kind: dict[str, list[_NameCheck]] = {}
    for check in checks:
        by_kind.setdefault(check[2], []).append(check)
    for kind, items in by_kind.items():
        found = refused_names(pa.array([c[3] for c in items], pa.string()), kind)  # type: ignore[arg-type]
        for row, why in found:
            line, column, _, _, what = items[row]
            if first is None or (line, column) < first[:2]:
                first = (line, column, f"{what}: {why}")
    return first


def read_dynamic(text: str, source: str = "") -> list[Operation]:
    """The operations of a dynamic import file `text`, in order, read as
    :func:`rtbfast.enm.dialects.dynamic_blocks` writes them: each block's keyword, FDN and
    ``(attribute, value)`` pairs (values as :mod:`rtbfast.enm.cmedit` trees: ``null`` is
    ``Bare("null")``, an emptied list ``Sequence(())``). `source` (a file name) leads the
    messages. :class:`DynamicFormatError` locates the first place (line and column, 1-based)
    that is not the format as rtbfast writes it."""
    operations: list[Operation] = []
    names: list[_NameCheck] = []

    def fail(reason: str, line: int, column: int) -> DynamicFormatError:
        # a name refused before this place is the first thing wrong
        bad = _first_refused_name([c for c in names if (c[0], c[1]) < (line, column)])
        if bad is not None:
            return DynamicFormatError(bad[2], bad[0], bad[1], source)
        return DynamicFormatError(reason, line, column, source)

    if not text:
        return operations
    lines = text.split("\n")
    ends_with_line_feed = lines[-1] == ""
    if ends_with_line_feed:
        lines.pop()  # the empty text after the last line feed
    n = len(lines)

    def line_at(i: int) -> str:
        line = lines[i]
        unsafe = _UNSAFE.search(line)
        if unsafe is not None:
            ch = unsafe.group()
            what = "a backslash" if ch == "\\" else f"U+{ord(ch):04X}"
            raise fail(f"{what}, which no dynamic import file rtbfast writes holds", i + 1, unsafe.start() + 1)
        return line

    i = 0
    while i < n:
        block = i + 1
        keyword = line_at(i)
        if keyword == "":
            raise fail("a blank line where a block (create, set or delete) starts", block, 1)
        if keyword not in KEYWORDS:
            raise fail(f"{keyword[:40]!r} is not an operation ({', '.join(KEYWORDS)})", block, 1)
        if i + 1 >= n:
            raise fail(f"the {keyword} block has no FDN line", block, len(keyword) + 1)
        fdn_line = line_at(i + 1)
        head = 'FDN : "'
        if not (fdn_line.startswith(head) and fdn_line.endswith('"') and len(fdn_line) > len(head)):
            raise fail('expected the line FDN : "<FDN>"', block + 1, 1)
        fdn = fdn_line[len(head) : -1]
        names.append((block + 1, len(head) + 1, "fdn", fdn, "the FDN"))
        attributes: list[tuple[str, cmedit.Value]] = []
        i += 2
        while i < n and line_at(i) != "":
            line = lines[i]
            number = i + 1
            if keyword == "delete":
                raise fail("a delete block holds only its FDN line", number, 1)
            attributes.append(_attribute_line(line, number, attributes, names, fail))
            i += 1
        operations.append(Operation(keyword, fdn, tuple(attributes), block))
        if i < n:
            # the blank line after the block; a second one must not follow
            if i + 1 < n and lines[i + 1] == "":
                raise fail("two blank lines: one separates blocks", i + 2, 1)
            i += 1
    if not ends_with_line_feed:
        raise fail("the file does not end with a line feed", n, len(lines[-1]) + 1)
    bad = _first_refused_name(names)
    if bad is not None:
        raise DynamicFormatError(bad[2], bad[0], bad[1], source)
    return operations


def _attribute_line(
    line: str,
    number: int,
    before: list[tuple[str, cmedit.Value]],
    names: list[_NameCheck],
    fail: Callable[[str, int, int], DynamicFormatError],
) -> tuple[str, cmedit.Value]:
    """``<attribute> : <value>`` read; its names added to `names` to check."""
    name, separator, rest = line.partition(" : ")
    if not separator:
        raise fail("expected '<attribute> : <value>'", number, 1)
    names.append((number, 1, "attribute", name, f"the attribute {name[:40]!r}"))
    if any(name == b for b, _ in before):
        raise fail(f"the attribute {name!r} is written twice in the block", number, 1)
    start = len(name) + len(separator)
    scanner = cmedit._Scanner(rest, start)
    try:
        value = scanner.value("")
    except cmedit.CmeditSyntaxError as err:
        raise fail(err.message, number, err.column) from None
    if scanner.pos != len(rest):
        raise fail("more after the value", number, start + scanner.pos + 1)
    written = render_value(value)
    if written != rest:
        at = next((k for k, (a, b) in enumerate(zip(written, rest, strict=False)) if a != b), len(written))
        raise fail(f"the value is not spelled as rtbfast writes it (expected {written!r})", number, start + at + 1)
    for bare in _bare_texts(value):
        if not _BARE.fullmatch(bare.text):
            raise fail(
                f"{bare.text[:40]!r} is written without quotes but is not a word, a number or a boolean",
                number,
                start + rest.find(bare.text) + 1,
            )
    names.extend((number, start + 1, "member", m, f"the member {m[:40]!r} of {name!r}") for m in _member_names(value))
    return name, value
