"""The HTML pages of ``rtbfast verify``, ``diff`` and ``diff-model``: self-contained (inline
style, no script or asset from elsewhere), every text from the inputs escaped and its control
characters shown as escapes, long tables cut at :data:`LISTED` rows (all rows are in the
Parquet and CSV files beside the page)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pyarrow as pa

from rtbfast.text_safety import visible

LISTED = 2000
"""Rows of a table shown in a page; the files beside it hold them all."""

STATUS_COLOURS = {
    "held": "#e6f4ea",
    "not_taken": "#fce8e6",
    "drifted": "#fef7e0",
    "mo_missing": "#fce8e6",
    "unexpected": "#fce8e6",
    "breaking": "#fce8e6",
    "meaning": "#fef7e0",
    "added": "#e6f4ea",
    "removed": "#fce8e6",
    "changed": "#fef7e0",
}

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:100%;box-sizing:border-box}
table{border-collapse:collapse;table-layout:auto;max-width:100%}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3;position:sticky;top:0} td.n{text-align:right}
section{display:inline-block;vertical-align:top;margin:0 2em 1em 0}
.wide{display:block;overflow-x:auto}
"""


def escape(text: object) -> str:
    return html.escape(visible("" if text is None else str(text)))


def counts_table(title: str, counts: dict[str, int]) -> str:
    if not counts:
        return ""
    body = "".join(
        f'<tr style="background:{STATUS_COLOURS.get(k, "inherit")}"><td>{escape(k)}</td><td class=n>{v:,}</td></tr>'
        for k, v in counts.items()
    )
    return f"<section><h2>{escape(title)}</h2><table>{body}</table></section>"


def rows_table(title: str, table: pa.Table, columns: Sequence[str], colour_by: str | None = None) -> str:
    """`table`'s `columns` as an HTML table, its first :data:`LISTED` rows, each row coloured
    by the value of `colour_by`."""
    listed = table.slice(0, LISTED).select(list(columns)).to_pylist()
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for r in listed:
        colour = STATUS_COLOURS.get(str(r[colour_by]), "inherit") if colour_by else "inherit"
        cells = "".join(
            f"<td class=n>{r[c]:,}</td>" if isinstance(r[c], int) else f"<td>{escape(r[c])}</td>" for c in columns
        )
        body.append(f'<tr style="background:{colour}">{cells}</tr>')
    more = (
        f"<p>The first {LISTED:,} of {table.num_rows:,} rows are shown; all are in the Parquet and CSV files.</p>"
        if table.num_rows > LISTED
        else ""
    )
    if not table.num_rows:
        return f"<section class=wide><h2>{escape(title)}</h2><p>None.</p></section>"
    return f"<section class=wide><h2>{escape(title)}</h2>{more}<table><tr>{head}</tr>{''.join(body)}</table></section>"


def page(title: str, intro: str, parts: Sequence[str]) -> str:
    """A whole page: `intro` is HTML already escaped."""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n<h1>{escape(title)}</h1>\n<p>{intro}</p>\n"
        + "\n".join(p for p in parts if p)
        + "\n</body></html>\n"
    )
