"""The HTML pages rtbfast writes (``report.html`` of ``audit``, ``summary.html`` of ``plan``,
``verify.html``, ``diff.html``, ``diff-model.html``), made one way: a self-contained page (its
style and script inline, from ``rtbfast/report_assets``; nothing fetched from elsewhere), count
cards, bar charts as inline SVG, and tables that sort, filter and page in the browser.

A table's rows travel as JSON in a ``<script type="application/json">`` block and are written
into the page by the script with ``textContent``, so a value is always text, never markup; the
JSON is escaped so that no value can end the block (``<``, ``>``, ``&``, U+2028 and U+2029 are
written as ``\\uXXXX``). A page embeds at most :data:`EMBEDDED` rows of a table and says so,
naming the files that hold them all."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.text_safety import visible

EMBEDDED = 10_000
"""Rows of a table a page embeds; the files beside it hold them all."""
PAGE = 100
"""Rows a table shows per page."""

SEVERITY_CLASS = {
    "error": "error",
    "breaking": "error",
    "not_taken": "error",
    "mo_missing": "error",
    "unexpected": "error",
    "removed": "error",
    "warning": "warning",
    "meaning": "warning",
    "drifted": "warning",
    "changed": "warning",
    "info": "info",
    "added": "ok",
    "held": "ok",
}
"""The colour class (error, warning, info, ok) of each severity or status the reports show;
``report.js`` keeps the same table."""

FDN_COLUMNS = frozenset({"fdn", "subject", "parent_fdn", "mo"})
"""Columns holding FDNs: wrapped between their RDNs, the whole on hover."""


@cache
def _asset(name: str) -> str:
    return resources.files("rtbfast").joinpath("report_assets", name).read_text(encoding="utf-8")


def escape(text: object) -> str:
    """Text for HTML: markup escaped, control characters shown as escapes."""
    return html.escape(visible("" if text is None else str(text)))


def script_json(value: Any) -> str:
    """`value` as JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or
    ``&`` (so no ``</script>`` or ``<!--``), and no U+2028/U+2029, raw."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def page(title: str, intro: str, parts: Iterable[str]) -> str:
    """A whole page: `intro` is HTML already escaped, `parts` the sections."""
    return "".join(page_chunks(title, intro, parts))


def page_chunks(title: str, intro: str, parts: Iterable[str]) -> Iterable[str]:
    """:func:`page` a piece at a time."""
    yield (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_asset('report.css')}</style></head><body>\n<h1>{escape(title)}</h1>\n"
    )
    if intro:
        yield f"<p>{intro}</p>\n"
    for part in parts:
        if part:
            yield part + "\n"
    yield (
        "<noscript><p class=note>The tables of this page are filled by its script; the CSV and Parquet files "
        "beside it hold the same rows.</p></noscript>\n"
        f"<script>{_asset('report.js')}</script>\n</body></html>\n"
    )


def cards(items: Iterable[tuple[str, int | str, str | None]]) -> str:
    """Count cards: (label, value, severity or None)."""
    out = []
    for label, value, severity in items:
        cls = f" sev-{SEVERITY_CLASS.get(severity, 'other')}" if severity else ""
        shown = f"{value:,}" if isinstance(value, int) else escape(value)
        out.append(f"<div class='card{cls}'><b>{shown}</b>{escape(label)}</div>")
    return f"<div class=cards>{''.join(out)}</div>"


_BAR = {"error": "#d93025", "warning": "#f29900", "info": "#1a73e8", "ok": "#1e8e3e"}


def bar_chart(title: str, counts: Mapping[str, int], *, top: int = 12, total: int | None = None) -> str:
    """A horizontal bar chart of `counts` (the `top` largest, in order) as inline SVG;
    `total`: how many the counts are of (the rest is said under the chart). A key that is a
    severity or status gets its colour."""
    items = sorted(((str(k), int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return f"<figure class=chart><h3>{escape(title)}</h3><p class=none>None.</p></figure>"
    shown = items[:top]
    width, label_w, row_h, gap = 460, 215, 18, 4
    bar_w = width - label_w - 50
    biggest = max(v for _, v in shown) or 1
    height = len(shown) * (row_h + gap) + gap
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui,sans-serif" font-size="12">'
    ]
    for i, (key, value) in enumerate(shown):
        y = gap + i * (row_h + gap)
        w = max(1.0, bar_w * value / biggest)
        colour = _BAR.get(SEVERITY_CLASS.get(key, ""), "#5b7bb5")
        label = _label(key)
        out.append(
            f"<g><title>{escape(key)}: {value:,}</title>"
            f'<text x="{label_w - 6}" y="{y + row_h - 5}" text-anchor="end" font-size="11" fill="#1d2330">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h}" rx="2" fill="{colour}"/>'
            f'<text x="{label_w + w + 5:.1f}" y="{y + row_h - 5}" fill="#1d2330">{value:,}</text></g>'
        )
    out.append("</svg>")
    rest = sum(v for _, v in items[top:])
    said = []
    if len(items) > top:
        said.append(f"{len(items) - top:,} more not drawn ({rest:,} in all)")
    if total is not None:
        said.append(f"{total:,} in total")
    more = f"<figcaption class=muted>{'; '.join(said)}</figcaption>" if said else ""
    return f"<figure class=chart><h3>{escape(title)}</h3>{''.join(out)}{more}</figure>"


def _label(key: str, room: int = 30) -> str:
    """A bar's label in `room` characters: an FDN by its last RDN, other text by its start and
    end (the whole is the bar's tooltip)."""
    if len(key) <= room:
        return key
    if "," in key:
        last = key.rsplit(",", 1)[1]
        return "…" + (last if len(last) < room else last[-(room - 1) :])
    return key[: room // 3] + "…" + key[-(room - room // 3 - 1) :]


def charts(parts: Iterable[str]) -> str:
    """Charts side by side (as many a line as fit)."""
    inside = "".join(p for p in parts if p)
    return f"<div class=charts>{inside}</div>" if inside else ""


def counts_table(title: str, counts: Mapping[str, int]) -> str:
    """A small table of counts (a heading and key, count rows)."""
    if not counts:
        return ""
    body = "".join(
        f"<tr class='sev-{SEVERITY_CLASS.get(str(k), 'other')}'><td class=sev>{escape(k)}</td>"
        f"<td class=n>{v:,}</td></tr>"
        for k, v in counts.items()
    )
    return f"<section><h2>{escape(title)}</h2><table class=counts>{body}</table></section>"


def _type_of(column: str, field: pa.DataType | None) -> str:
    if field is not None and (pa.types.is_integer(field) or pa.types.is_floating(field)):
        return "num"
    return "fdn" if column in FDN_COLUMNS else "text"


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int | float):
        return value if not isinstance(value, bool) else str(value).lower()
    if isinstance(value, list | tuple):
        return ", ".join(visible(str(v)) for v in value)
    return visible(str(value))


def data_table(
    title: str,
    rows: pa.Table | Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    severity: str | None = None,
    total: int | None = None,
    files: str = "the Parquet and CSV files beside this page",
    headers: Mapping[str, str] | None = None,
    types: Mapping[str, str] | None = None,
    table_id: str | None = None,
) -> str:
    """A table that sorts (click a heading), filters (a text box, and a select of the
    `severity` column's values) and pages, of `rows` (an Arrow table or dicts): at most
    :data:`EMBEDDED` of them are embedded, and a note says how many of `total` (the rows
    there are, by default as many as given) and that `files` hold them all. `types` names a
    column's type where the rows do not say it: ``num`` (right-aligned, sorted as numbers),
    ``fdn`` (wrapped between RDNs), ``mo`` (an FDN shown below its node, which has a column
    of its own; the whole on hover), ``node`` (a node's RDN, ``MeContext=`` left out),
    ``pre`` (line breaks kept), ``code`` (monospace, never shortened) or ``text`` (shortened
    past 160 characters, the whole on hover)."""
    given = rows.num_rows if isinstance(rows, pa.Table) else len(rows)
    total = given if total is None else total
    kinds: dict[str, str] = {}
    if isinstance(rows, pa.Table):
        head = rows.slice(0, EMBEDDED).select(list(columns))
        for c in columns:
            kinds[c] = _type_of(c, head.schema.field(c).type)
        listed = [[_cell(v) for v in r.values()] for r in head.to_pylist()]
    else:
        picked = list(rows[:EMBEDDED])
        for c in columns:
            numbers = [r.get(c) for r in picked if r.get(c) is not None]
            numeric = bool(numbers) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers)
            kinds[c] = "num" if numeric else ("fdn" if c in FDN_COLUMNS else "text")
        listed = [[_cell(r.get(c)) for c in columns] for r in picked]
    if "node" in columns:  # the node has a column: an MO is shown below it
        kinds = {c: "mo" if k == "fdn" else k for c, k in kinds.items()}
        kinds["node"] = "node" if kinds["node"] == "text" else kinds["node"]
    kinds.update(types or {})
    names = headers or {}
    heads = "".join(
        f"<th scope=col{' class=n' if kinds[c] == 'num' else ''}>{escape(names.get(c, c))}</th>" for c in columns
    )
    data = {
        "columns": list(columns),
        "types": [kinds[c] for c in columns],
        "severity": list(columns).index(severity) if severity else None,
        "page": PAGE,
        "rows": listed,
    }
    note = ""
    if total > len(listed):
        note = (
            f"<p class=note>This page holds the first {len(listed):,} of {total:,} rows; all {total:,} are in "
            f"{escape(files)}.</p>"
        )
    if not total:
        return f"<section><h2>{escape(title)}</h2><p class=muted>None.</p></section>"
    severity_select = (
        f"<select class=rt-severity aria-label='{escape(severity)}'><option value=''>every {escape(severity)}</option>"
        "</select>"
        if severity
        else ""
    )
    ident = f" id='{escape(table_id)}'" if table_id else ""
    return (
        f"<section class=rt-table{ident}><h2>{escape(title)}</h2>{note}"
        f"<div class=rt-controls><input class=rt-filter type=search placeholder='Filter: words in any column' "
        f"aria-label='Filter {escape(title)}'>{severity_select}<span class='rt-count muted'></span></div>"
        f"<div class=wrap><table><thead><tr>{heads}</tr></thead><tbody></tbody></table></div>"
        "<div class=rt-pager><button type=button data-go=first>\u00ab first</button>"
        "<button type=button data-go=prev>previous</button><span class=rt-page></span>"
        "<button type=button data-go=next>next</button><button type=button data-go=last>last \u00bb</button></div>"
        f"<script type='application/json' class=rt-data>{script_json(data)}</script></section>"
    )


def ranked_first(table: pa.Table, column: str, order: Sequence[str], then: Sequence[str] = ()) -> pa.Table:
    """`table`'s rows with `column`'s values in `order` first (a value not in it last), then by
    the `then` columns; only the first :data:`EMBEDDED` rows, as a page embeds no more."""
    if not table.num_rows:
        return table
    values = pc.cast(table[column], pa.string())
    rank = pc.fill_null(pc.index_in(values, value_set=pa.array(list(order), pa.string())), 99)
    keyed = table.append_column("__rank", rank)
    keys = [("__rank", "ascending"), *((c, "ascending") for c in then)]
    indices = pc.sort_indices(keyed, sort_keys=keys)
    return table.take(indices[:EMBEDDED])


def note_list(title: str, items: Sequence[str]) -> str:
    """A heading and a list of notes (texts escaped); nothing when there are none."""
    if not items:
        return ""
    return f"<section><h2>{escape(title)}</h2><ul>{''.join(f'<li>{escape(n)}</li>' for n in items)}</ul></section>"
