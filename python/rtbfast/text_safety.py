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


def first_unsafe(text: str) -> str | None:
    """The first unsafe character of `text`, as its escape (``\\x00``), or None."""
    match = UNSAFE.search(text)
    return None if match is None else _escape(match)
