"""Text from inputs made safe for what rtbfast writes: generated Python, Markdown-like docs,
HTML and JavaScript.

Inputs come from many hands. XML forbids most control characters and the readers refuse them,
but the workbook is CSV, which carries any character, and the API takes tables from anywhere.
A NUL byte in a docstring makes a module fail to compile; U+2028 ends a line inside a JavaScript
string; an escape character can rewrite a terminal. Such characters are shown instead as
visible escapes (``\\x00``, ``\\u2028``), so nothing is lost and nothing breaks.
"""

from __future__ import annotations

import re
from typing import Any

UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
"""Characters no generated text may carry raw: C0 controls but tab, line feed and carriage
return; DEL and the C1 controls; the Unicode line and paragraph separators; the byte order
mark; the two non-characters; lone surrogates."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every :data:`UNSAFE` character written as a visible escape."""
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


FORMAT_CHARACTERS = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
"""The invisible format characters, as the body of a regular expression's class: soft hyphen,
the Arabic letter mark, the Mongolian vowel separator, zero-width characters, bidirectional
marks, embeddings, overrides and isolates, word joiners, the byte order mark. They change how
text shows without showing themselves, so a line holding one can look like another line
(``rust/src/names.rs`` keeps the same list)."""

_BREAKS = re.compile(f"[\t\n\r{FORMAT_CHARACTERS}]")


def one_line(text: str) -> str:
    """`text` as one line of a terminal or log: :data:`UNSAFE` characters, tabs, line breaks
    and the invisible format characters (bidirectional overrides, zero-width characters)
    written as visible escapes, so a message quoting an input cannot look like more lines or
    other text than it is."""
    text = visible(text)
    return _BREAKS.sub(_escape, text) if _BREAKS.search(text) else text


def first_unsafe(text: str) -> str | None:
    """The first unsafe character of `text`, as its escape (``\\x00``), or None."""
    match = UNSAFE.search(text)
    return None if match is None else _escape(match)


_RE2_UNSAFE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{2028}\x{2029}\x{feff}\x{fffe}\x{ffff}]"
""":data:`UNSAFE` in RE2's syntax, for Arrow's compute functions (Arrow strings are valid
UTF-8, so they hold no lone surrogates)."""

_KEYS = ("mim", "class", "enum", "struct", "name", "attribute", "member")


def unsafe_cells(tables: dict[str, Any], limit: int = 100) -> list[str]:
    """Where the text columns of `tables` (Arrow tables) hold unsafe characters: one line per
    cell, naming the table, the row's key (MIM, class, attribute…), the column and the first
    such character; at most `limit` lines, then one saying how many more."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found: list[str] = []
    more = 0
    for name, table in sorted(tables.items()):
        keys = [k for k in _KEYS if k in table.column_names]
        for column in table.column_names:
            values = table.column(column)
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
                continue
            mask = pc.fill_null(pc.match_substring_regex(values, _RE2_UNSAFE), False)
            hits = pc.sum(mask).as_py() or 0
            if not hits:
                continue
            room = max(limit - len(found), 0)
            for row in table.filter(mask).select([*keys, column]).slice(0, room).to_pylist():
                key = ".".join(str(row[k]) for k in keys if row[k] and k != column)
                found.append(
                    f"{name} {key} {column}: holds {first_unsafe(row[column])}, written as an escape in models and docs"
                )
            more += hits - min(hits, room)
    if more:
        found.append(f"{more} more text(s) with such characters")
    return found
