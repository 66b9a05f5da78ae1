"""Reference docs of a catalog as a static HTML site: an index with a search that works offline
(the index data is in the page), one page per MO class (attributes with type, range, unit,
default, flags, takes-effect and description; parents and children; references in and out),
and one page each for enums and structs. No external resources; deterministic output."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from rtbfast.text_safety import visible

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:96rem;padding:1rem 2rem;color:#1d1d1f}
a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}
p,li,table.fixed td,table.fixed th{overflow-wrap:anywhere}td{overflow-wrap:break-word}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}table.fixed{table-layout:fixed}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f6;position:sticky;top:0}code{font-size:90%}
tr:target td{background:#fff7d6}[id]{scroll-margin-top:3rem}
.flags span{display:inline-block;background:#eef;border-radius:3px;padding:0 .3rem;margin:0 .2rem .2rem 0;font-size:80%}
.flags span.w{background:#e3f4e3}.flags span.r{background:#f1f1f1}
.muted{color:#666}#q{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.5rem;margin:.5rem 0}
#hits{padding-left:1.2rem}#hits li{margin:.2rem 0}.desc{white-space:pre-wrap}
.kind{display:inline-block;min-width:4.5rem;font-size:80%;color:#555}
.filter{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;background:#f8f8fa;border:1px solid #e2e2e6;
border-radius:6px;padding:.5rem .75rem;margin:1rem 0}
.filter input[type=search]{flex:1 1 16rem;font-size:1rem;padding:.3rem .4rem}
.filter label{white-space:nowrap}.filter select{font-size:1rem;max-width:20rem}
.notes{margin:.2rem 0 1rem;padding-left:1.2rem}
"""

_SEARCH = """
const box = document.getElementById('q'), hits = document.getElementById('hits');
const said = document.getElementById('said');
const KIND = {class: 0, enum: 1, struct: 2, attribute: 3, counter: 4, template: 5};
const ROWS = INDEX.map(([kind, name, page, text]) => {
  const low = name.toLowerCase(), dot = low.lastIndexOf('.');
  return {kind, name, page, text, low, own: dot < 0 ? low : low.slice(dot + 1), hay: low + ' ' + text.toLowerCase()};
});
// 0: the name (or an attribute's own name) is the query; 1: it starts with it; 2: holds it;
// 3: holds every word; 4: the description does; -1: no match. Case does not matter.
function rank(row, query, words) {
  if (row.low === query || row.own === query) return 0;
  if (row.low.startsWith(query) || row.own.startsWith(query)) return 1;
  if (row.low.includes(query)) return 2;
  if (words.every(w => row.low.includes(w))) return 3;
  if (words.every(w => row.hay.includes(w))) return 4;
  return -1;
}
function search(text) {
  const query = text.trim().toLowerCase(), words = query.split(/\\s+/).filter(Boolean);
  if (!words.length) return [];
  const found = [];
  for (const row of ROWS) {
    const r = rank(row, query, words);
    if (r >= 0) found.push([r, row]);
  }
  found.sort(([ra, a], [rb, b]) => ra - rb || KIND[a.kind] - KIND[b.kind] || a.name.length - b.name.length
    || (a.low < b.low ? -1 : a.low > b.low ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return found.map(([, row]) => row);
}
function show() {
  const found = search(box.value);
  hits.innerHTML = '';
  said.textContent = box.value.trim() ? found.length + (found.length === 1 ? ' match' : ' matches')
    + (found.length > 200 ? ', the first 200 shown' : '') : '';
  for (const row of found.slice(0, 200)) {
    const li = document.createElement('li'), a = document.createElement('a'), kind = document.createElement('span');
    kind.className = 'kind'; kind.textContent = row.kind;
    a.href = row.page; a.textContent = row.name;
    const note = document.createElement('span');
    note.className = 'muted'; note.textContent = row.text ? ' ' + row.text.slice(0, 120) : '';
    li.append(kind, a, note);
    hits.append(li);
  }
}
box.addEventListener('input', show);
box.addEventListener('keydown', e => {
  const first = hits.querySelector('a');
  if (e.key === 'Enter' && first) location.href = first.href;
});
if (location.hash.length > 1) { box.value = decodeURIComponent(location.hash.slice(1)); show(); }
"""

_FILTER = """
(function () {
  const text = document.getElementById('f-text'), effect = document.getElementById('f-te');
  const said = document.getElementById('f-count'), rows = [...document.querySelectorAll('tr[data-k]')];
  const hay = rows.map(r => r.textContent.toLowerCase());
  function apply() {
    const show = document.querySelector('input[name=show]:checked').value, te = effect ? effect.value : '';
    const words = text.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    rows.forEach((r, i) => {
      const ok = (show === 'all' || r.dataset.k === show || (r.dataset.f || '').split(' ').includes(show))
        && (!te || r.dataset.te === te) && words.every(w => hay[i].includes(w));
      r.hidden = !ok;
      if (ok) shown++;
    });
    for (const s of document.querySelectorAll('section[data-rows]'))
      s.hidden = !s.querySelector('tr[data-k]:not([hidden])');
    const n = x => x.toLocaleString('en-US');
    said.textContent = n(shown) + ' of ' + n(rows.length) + ' shown';
  }
  for (const input of document.querySelectorAll('#filter input, #filter select'))
    input.addEventListener(input.type === 'search' ? 'input' : 'change', apply);
})();
"""


def _page(title: str, body: str, depth: int = 0) -> str:
    up = "../" * depth
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_escape(title)}</title><style>{_STYLE}</style></head>\n"
        f'<body><nav><a href="{up}index.html">Index and search</a></nav>\n{body}\n</body></html>\n'
    )


@functools.lru_cache(maxsize=65536)
def _escape_short(text: str) -> str:
    return html.escape(visible(text))


def _escape(text: str) -> str:
    """HTML-escaped `text`, control characters shown as escapes; short texts (names, types,
    units, defaults) repeat across a model and are escaped once."""
    return _escape_short(text) if len(text) <= 48 else html.escape(visible(text))


# the attribute columns the pages show: converting the others to Python would cost more than the pages
_PAGE_COLUMNS = {
    *("mim", "class", "attribute", "kind", "base_type", "type_ref", "is_sequence", "seq_min", "seq_max"),
    *("ranges", "length_min", "length_max", "resolution", "pattern", "unit", "multiplication_factor", "default"),
    *("description", "takes_effect", "dependencies", "precondition", "source", "mandatory", "restricted"),
    *("read_only", "key", "no_notification", "non_persistent", "is_counter", "lifecycle"),
    *("counter_type", "lock_before_modify"),
}


def _file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".html"


_STEM = 80
"""The longest file name a page or schema is given before its suffix (and a hash): names may
be hundreds of characters, file names not."""


def file_names(names: Iterable[str], suffix: str = ".html") -> dict[str, str]:
    """Each name's file (a page, a schema) in a folder: unique, also on a file system that
    ignores case, and the same for the same names. A name that is a file name already (ASCII
    letters, digits, ``_``, ``.``, ``-``; not too long, not starting with ``.``) is its own file
    name (``Foo.html``); any other name, and a name that differs from another only by case (but
    the first of them), gets a part of the hash of the name after its file name
    (``a_b-1c2d3e4f5a.html`` for ``a/b``), so ``a/b`` and ``a\\b`` get two files, and the file
    of an odd name does not depend on the other names."""
    stems: dict[str, str] = {}
    for name in sorted(set(names)):
        stems[name] = re.sub(r"^\.|[^A-Za-z0-9_.-]", "_", name)[:_STEM] or "_"
    plain: dict[str, str] = {}
    for name, stem in stems.items():
        if stem == name:
            plain.setdefault(stem.lower(), name)
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name, stem in stems.items():
        file = stem if plain.get(stem.lower()) == name else f"{stem}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
        candidate, n = file, 2
        while candidate.lower() in taken:  # only names made to meet another's hash
            candidate = f"{file}_{n}"
            n += 1
        taken.add(candidate.lower())
        out[name] = f"{candidate}{suffix}"
    return out


def class_pages(tables: dict[str, pa.Table]) -> dict[str, str]:
    """The page of each class (``classes/X.html``): classes of the catalog and of its attributes
    (classes of one name in two MIMs share a page, each its section)."""
    names: set[str] = set()
    for table in ("classes", "attributes"):
        if table in tables:
            names.update(tables[table].column("class").to_pylist())
    return {name: f"classes/{file}" for name, file in file_names(names).items()}


def _number(d: Decimal | None) -> str:
    return "" if d is None else format(d.normalize(), "f")


def _ranges(value: Any) -> str:
    parts = []
    for b in value or []:
        lo, hi = b["min"], b["max"]
        parts.append(_number(lo) if lo == hi else f"{_number(lo)}..{_number(hi)}")
    return ", ".join(parts)


_FLAGS = ("mandatory", "restricted", "read_only", "key", "lock_before_modify", "no_notification", "non_persistent")
_FLAG_TITLES = {
    "restricted": "set only when the MO is created",
    "lock_before_modify": "the MO must be locked before this attribute is changed",
    "no_notification": "changes are not notified",
    "non_persistent": "not kept over a restart",
}


def _flags(row: dict[str, Any]) -> str:
    shown = []
    for n in _FLAGS:
        if row.get(n):
            title = _FLAG_TITLES.get(n)
            shown.append(
                f'<span title="{title}">{n.replace("_", " ")}</span>'
                if title
                else f"<span>{n.replace('_', ' ')}</span>"
            )
    if row.get("lifecycle"):
        shown.append(f"<span>{_escape(str(row['lifecycle']))}</span>")
    return "".join(shown)


def _breakable(name: str) -> str:
    """`name` escaped, with a line break allowed before each word of a camelCase name and after
    each ``_`` and ``,`` (``NO_HO_PROHIBIT_CFI``, ``false,false,…``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[_,])(?=[A-Za-z0-9])", "<wbr>", _escape(name))


def _takes_effect_key(text: str | None) -> str:
    """One spelling of a takes-effect note ("Immediately." and "immediately" are one)."""
    return " ".join((text or "").split()).rstrip(".").lower()


def _kind(row: dict[str, Any]) -> str:
    """``counter`` (a PM counter: the model gives it a counterType), ``read-only`` or ``writable``."""
    if row.get("is_counter"):
        return "counter"
    return "read-only" if row.get("read_only") else "writable"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _shared(rows: list[dict[str, Any]], key: str, pages: dict[str, str], nouns: tuple[str, str], where: str) -> str:
    """Why a table's rows and its pages differ in number: names defined more than once share a
    page, and names known only from other tables (attributes, members) have a page too."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r[key]] += 1
    notes = []
    shared = sorted(((n, c) for n, c in counts.items() if c > 1), key=lambda nc: (-nc[1], nc[0].lower()))
    if shared:
        named = ", ".join(f"{_escape(n)} &times;{c}" for n, c in shared[:8]) + (
            f" and {len(shared) - 8} more" if len(shared) > 8 else ""
        )
        extra = sum(c - 1 for _, c in shared)
        notes.append(
            f"{_plural(len(shared), 'name')} {'is' if len(shared) == 1 else 'are each'} defined {where} "
            f"({named}); a name has one page with all its definitions, so {_plural(extra, *nouns)} "
            "share a page with another of their name"
        )
    only = sorted(set(pages) - set(counts), key=str.lower)
    if only:
        named = ", ".join(_escape(n) for n in only[:8]) + (f" and {len(only) - 8} more" if len(only) > 8 else "")
        notes.append(f"{_plural(len(only), 'page')} more for names found only in other tables ({named})")
    if not notes:
        return ""
    return f"<li>{_plural(len(rows), *nouns)} on {_plural(len(pages), 'page')}: {'; '.join(notes)}.</li>"


class _Site:
    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.classes = tables["classes"].to_pylist()
        attributes = tables["attributes"]
        self.attributes = attributes.select([c for c in attributes.column_names if c in _PAGE_COLUMNS]).to_pylist()
        self.enums = tables["enums"].to_pylist() if "enums" in tables else []
        self.members = tables["enum_members"].to_pylist() if "enum_members" in tables else []
        self.structs = tables["structs"].to_pylist() if "structs" in tables else []
        self.struct_members = tables["struct_members"].to_pylist() if "struct_members" in tables else []
        self.containment = tables["containment"].to_pylist() if "containment" in tables else []
        # a page per class name (classes of one name in two MIMs share it, each its section)
        self.class_page = class_pages(tables)
        enums = [e["enum"] for e in self.enums] + [m["enum"] for m in self.members]
        self.enum_page = {n: f"enums/{f}" for n, f in file_names(enums).items()}
        structs = [s["struct"] for s in self.structs] + [m["struct"] for m in self.struct_members]
        self.struct_page = {n: f"structs/{f}" for n, f in file_names(structs).items()}
        # everything a page needs, grouped once
        self.own: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in self.classes:
            self.own[c["class"]].append(c)
        self.attrs_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.referenced_by: dict[str, set[str]] = defaultdict(set)
        self.enum_users: dict[str, set[str]] = defaultdict(set)
        for a in self.attributes:
            self.attrs_of[a["class"]].append(a)
            if a.get("kind") == "moref" and a.get("type_ref"):
                self.referenced_by[a["type_ref"]].add(a["class"])
            if a.get("kind") == "enum" and a.get("type_ref"):
                self.enum_users[a["type_ref"]].add(a["class"])
        self.parents: dict[str, set[str]] = defaultdict(set)
        self.children: dict[str, set[str]] = defaultdict(set)
        for r in self.containment:
            self.parents[r["child"]].add(r["parent"])
            self.children[r["parent"]].add(r["child"])
        self.members_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in self.members:
            self.members_of[m["enum"]].append(m)
        self.struct_members_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in self.struct_members:
            self.struct_members_of[m["struct"]].append(m)
        self.exclusive = {s["struct"] for s in self.structs if s.get("exclusive")}

    def type_cell(self, row: dict[str, Any], depth: int) -> str:
        up = "../" * depth
        kind, ref = row.get("kind") or "", str(row.get("type_ref") or "")
        text = _escape(row.get("base_type") or kind)
        if kind == "enum" and ref in self.enum_page:
            text = f'enum <a href="{up}{self.enum_page[ref]}">{_breakable(ref)}</a>'
        elif kind == "struct" and ref in self.struct_page:
            text = f'struct <a href="{up}{self.struct_page[ref]}">{_breakable(ref)}</a>'
        elif kind == "moref" and ref:
            target = (
                f'<a href="{up}{self.class_page[ref]}">{_breakable(ref)}</a>'
                if ref in self.class_page
                else _breakable(ref)
            )
            text = f"moRef → {target}"
        if row.get("is_sequence"):
            lo, hi = row.get("seq_min"), row.get("seq_max")
            text = f"sequence [{'' if lo is None else lo}..{'' if hi is None else hi}] of {text}"
        return text

    def limits(self, row: dict[str, Any]) -> str:
        parts = []
        if row.get("ranges"):
            parts.append(_ranges(row["ranges"]))
        if row.get("length_min") is not None or row.get("length_max") is not None:
            parts.append(f"length {row.get('length_min') or 0}..{row.get('length_max') or ''}")
        if row.get("resolution") is not None:
            parts.append(f"step {_number(row['resolution'])}")
        if row.get("pattern"):
            parts.append(f"pattern <code>{_escape(row['pattern'])}</code>")
        return "; ".join(p if p.startswith("pattern") else _escape(p) for p in parts)

    @staticmethod
    def unit(row: dict[str, Any]) -> str:
        unit = _escape(row.get("unit") or "")
        if row.get("multiplication_factor"):
            unit = f"{unit} &times; {_escape(row['multiplication_factor'])}".strip()
        return unit

    @staticmethod
    def description(row: dict[str, Any]) -> str:
        return (
            f'<td class="desc">{_escape(row.get("description") or "")}'
            + (f"<br><b>Dependencies:</b> {_escape(row['dependencies'])}" if row.get("dependencies") else "")
            + (f"<br><b>Precondition:</b> {_escape(row['precondition'])}" if row.get("precondition") else "")
            + "</td>"
        )

    @staticmethod
    def filter_bar(attrs: list[dict[str, Any]]) -> str:
        """The filter over a class's tables: a text, what to show and when a change takes effect."""
        kinds: dict[str, int] = defaultdict(int)
        effects: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for a in attrs:
            kinds[_kind(a)] += 1
            for flag in ("restricted", "lock_before_modify"):
                if a.get(flag) and not a.get("is_counter"):
                    kinds[flag] += 1
            if a.get("takes_effect") and not a.get("is_counter"):
                spelled = " ".join(a["takes_effect"].split()).rstrip(".")
                effects[_takes_effect_key(a["takes_effect"])][spelled] += 1
        shows = [("all", "all", len(attrs), "every attribute and counter")]
        shows += [
            ("writable", "writable", kinds["writable"], "configuration attributes that can be set"),
            ("read-only", "read-only", kinds["read-only"], "read-only attributes that are not PM counters"),
            ("counter", "counters", kinds["counter"], "PM counters (a counterType in the model)"),
            ("restricted", "restricted", kinds["restricted"], _FLAG_TITLES["restricted"]),
            (
                "lock_before_modify",
                "lock before modify",
                kinds["lock_before_modify"],
                _FLAG_TITLES["lock_before_modify"],
            ),
        ]
        radios = "".join(
            f'<label title="{title}"><input type="radio" name="show" value="{value}"'
            f"{' checked' if value == 'all' else ''}> {label} ({n:,})</label>"
            for value, label, n, title in shows
            if n or value in ("all", "writable", "read-only", "counter")
        )
        select = ""
        if effects:
            options = sorted(effects.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
            select = (
                '<label>Takes effect <select id="f-te"><option value="">any</option>'
                + "".join(
                    f'<option value="{_escape(key)}">{_escape(max(spellings, key=lambda s: (spellings[s], s)))}'
                    f" ({sum(spellings.values()):,})</option>"
                    for key, spellings in options
                )
                + "</select></label>"
            )
        return (
            '<div class="filter" id="filter"><input id="f-text" type="search" '
            'placeholder="Filter by name or description" aria-label="Filter by name or description">'
            f'{radios}{select}<span id="f-count" class="muted">{len(attrs):,} of {len(attrs):,} shown</span></div>'
        )

    def class_body(self, name: str) -> str:
        depth = 1
        up = "../" * depth
        own = self.own.get(name) or [{"class": name}]
        attrs = self.attrs_of.get(name, [])
        out = [f"<h1>{_escape(name)}</h1>"]
        # a class of one name in several MIMs: the definitions alike (source, flags, description) once
        alike: dict[tuple[str, str, str], list[str]] = {}
        for c in own:
            flags = "".join(f"<span>{f.replace('_', ' ')}</span>" for f in ("system_created", "read_only") if c.get(f))
            key = (str(c.get("source")), flags, c.get("description") or "")
            alike.setdefault(key, []).append(str(c.get("mim") or c.get("source") or ""))
        for (source, flags, description), mims in alike.items():
            where = _escape(mims[0]) if len(mims) == 1 else f"{len(mims)} MIMs: {', '.join(map(_escape, mims))}"
            out.append(f'<p class="muted">{where} · source {_escape(source)} <span class="flags">{flags}</span></p>')
            if description:
                out.append(f'<p class="desc">{_escape(description)}</p>')
        parents = sorted(self.parents.get(name, ()))
        children = sorted(self.children.get(name, ()))

        def links(names: list[str]) -> str:
            shown = [
                f'<a href="{up}{self.class_page[n]}">{_escape(n)}</a>' if n in self.class_page else _escape(n)
                for n in names
            ]
            return ", ".join(shown) or '<span class="muted">none</span>'

        out.append(f"<p>Parents: {links(parents)}<br>Children: {links(children)}</p>")
        refs_out = sorted({a["type_ref"] for a in attrs if a.get("kind") == "moref" and a.get("type_ref")})
        refs_in = sorted(self.referenced_by.get(name, ()))
        out.append(f"<p>References out: {links(refs_out)}<br>Referenced by: {links(refs_in)}</p>")
        if not attrs:
            out.append('<p class="muted">No attributes.</p>')
            return "\n".join(out)
        counters = sorted((a for a in attrs if a.get("is_counter")), key=lambda r: r["attribute"].lower())
        config = sorted((a for a in attrs if not a.get("is_counter")), key=lambda r: r["attribute"].lower())
        several = len({a.get("mim") for a in attrs}) > 1
        ids: set[str] = set()

        def head(a: dict[str, Any]) -> str:
            """A row's start: its anchor (the attribute's name; with the MIM for a second one) and name."""
            anchor = a["attribute"] if a["attribute"] not in ids else f"{a.get('mim')}.{a['attribute']}"
            ids.add(anchor)
            where = f"{a.get('mim')} · {a.get('source') or ''}" if several else str(a.get("source") or "")
            flags = " ".join(f for f in ("restricted", "lock_before_modify") if a.get(f) and not a.get("is_counter"))
            te = _takes_effect_key(a.get("takes_effect")) if not a.get("is_counter") else ""
            return (
                f'<tr id="{_escape(anchor)}" data-k="{_kind(a)}"'
                + (f' data-f="{flags}"' if flags else "")
                + (f' data-te="{_escape(te)}"' if te else "")
                + f'><td><code>{_breakable(a["attribute"])}</code><br><span class="muted">{_escape(where)}</span></td>'
            )

        out.append(f'<h2 id="attributes">Attributes and counters ({len(attrs):,})</h2>')
        out.append(self.filter_bar(attrs))
        writable = sum(1 for a in config if not a.get("read_only"))
        out.append(
            f'<section data-rows id="configuration"><h2>Configuration attributes ({len(config):,})</h2>'
            f'<p class="muted">{writable:,} writable, {len(config) - writable:,} read-only.</p>'
            '<table class="fixed"><colgroup><col style="width:18%"><col style="width:12%"><col style="width:10%">'
            '<col style="width:6%"><col style="width:9%"><col style="width:8%"><col style="width:9%">'
            '<col style="width:28%"></colgroup>'
            "<tr><th>Attribute</th><th>Type</th><th>Allowed</th><th>Unit</th><th>Default</th>"
            "<th>Flags</th><th>Takes effect</th><th>Description</th></tr>"
        )
        for a in config:
            out.append(
                head(a) + f"<td>{self.type_cell(a, depth)}</td><td>{self.limits(a)}</td><td>{self.unit(a)}</td>"
                f'<td>{_breakable(a.get("default") or "")}</td><td class="flags">{_flags(a)}</td>'
                f"<td>{_escape(a.get('takes_effect') or '')}</td>" + self.description(a) + "</tr>"
            )
        out.append("</table></section>")
        if counters:
            out.append(
                f'<section data-rows id="counters"><h2>PM counters ({len(counters):,})</h2>'
                '<p class="muted">Read-only performance counters: the attributes the model gives a counterType.</p>'
                '<table class="fixed"><colgroup><col style="width:22%"><col style="width:9%"><col style="width:15%">'
                '<col style="width:8%"><col style="width:46%"></colgroup>'
                "<tr><th>Counter</th><th>Counter type</th><th>Type</th><th>Unit</th><th>Description</th></tr>"
            )
            for a in counters:
                out.append(
                    head(a) + f"<td>{_escape(a.get('counter_type') or '')}</td><td>{self.type_cell(a, depth)}</td>"
                    f"<td>{self.unit(a)}</td>" + self.description(a) + "</tr>"
                )
            out.append("</table></section>")
        out.append(f"<script>{_FILTER}</script>")
        return "\n".join(out)

    @staticmethod
    def definitions(rows: list[dict[str, Any]], render: Any) -> list[tuple[list[str], list[str]]]:
        """The definitions of one enum or struct (by MIM, and class for a struct of the workbook),
        those alike together: each group's places and its rendered rows."""
        places: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            place = str(r.get("mim") or r.get("source") or "") + (f": {r['class']}" if r.get("class") else "")
            places.setdefault(place, []).append(r)
        groups: dict[tuple[str, ...], list[str]] = {}
        for place, members in places.items():
            groups.setdefault(tuple(render(m) for m in members), []).append(place)
        return [(where, list(shown)) for shown, where in groups.items()]

    @staticmethod
    def grouped(table_head: str, groups: list[tuple[list[str], list[str]]]) -> list[str]:
        out = []
        if len(groups) == 1 and len(groups[0][0]) > 1:
            out.append(
                f'<p class="muted">Defined alike in {len(groups[0][0])} places: '
                f"{', '.join(_escape(w) for w in groups[0][0])}.</p>"
            )
        for where, rows in groups:
            if len(groups) > 1:
                out.append(f"<h2>In {', '.join(_escape(w) for w in where)}</h2>")
            out.append(table_head + "".join(rows) + "</table>")
        return out

    def enum_body(self, name: str) -> str:
        users = sorted(self.enum_users.get(name, ()))

        def render(m: dict[str, Any]) -> str:
            value = "" if m.get("value") is None else str(m["value"])
            return (
                f"<tr><td><code>{_escape(m['member'])}</code></td><td>{value}</td>"
                f'<td class="desc">{_escape(m.get("description") or "")}</td></tr>'
            )

        out = [f"<h1>enum {_escape(name)}</h1>"]
        head = '<table><tr><th style="width:30%">Member</th><th style="width:10%">Value</th><th>Description</th></tr>'
        out += self.grouped(head, self.definitions(self.members_of.get(name, []), render))
        used = ", ".join(f'<a href="../{self.class_page[c]}">{_escape(c)}</a>' for c in users if c in self.class_page)
        out.append(f"<p>Used by: {used or 'none'}</p>")
        return "\n".join(out)

    def struct_body(self, name: str) -> str:
        def render(m: dict[str, Any]) -> str:
            return (
                f"<tr><td><code>{_escape(m['member'])}</code></td><td>{self.type_cell(m, 1)}</td>"
                f"<td>{self.limits(m)}</td><td>{_escape(m.get('default') or '')}</td>"
                f'<td class="desc">{_escape(m.get("description") or "")}</td></tr>'
            )

        out = [f"<h1>struct {_escape(name)}</h1>"]
        if name in self.exclusive:
            out.append("<p>Exclusive: exactly one member is set.</p>")
        head = (
            '<table class="fixed"><colgroup><col style="width:20%"><col style="width:18%"><col style="width:14%">'
            '<col style="width:10%"><col style="width:38%"></colgroup>'
            "<tr><th>Member</th><th>Type</th><th>Allowed</th><th>Default</th><th>Description</th></tr>"
        )
        out += self.grouped(head, self.definitions(self.struct_members_of.get(name, []), render))
        return "\n".join(out)

    def index_entries(self) -> list[list[str]]:
        entries: list[list[str]] = []
        for name, page in sorted(self.class_page.items()):
            desc = next((c.get("description") or "" for c in self.own.get(name, [])), "")
            entries.append(["class", name, page, " ".join(desc.split())[:300]])
        for a in self.attributes:
            page = f"{self.class_page[a['class']]}#{a['attribute']}"
            entries.append(
                [
                    "counter" if a.get("is_counter") else "attribute",
                    f"{a['class']}.{a['attribute']}",
                    page,
                    " ".join((a.get("description") or "").split())[:300],
                ]
            )
        for name, page in sorted(self.enum_page.items()):
            members = " ".join(dict.fromkeys(m["member"] for m in self.members_of.get(name, [])))
            entries.append(["enum", name, page, members[:300]])
        for name, page in sorted(self.struct_page.items()):
            members = " ".join(dict.fromkeys(m["member"] for m in self.struct_members_of.get(name, [])))
            entries.append(["struct", name, page, members[:300]])
        return entries

    def counts(self) -> str:
        """The counts of the catalog's tables (those of the build's report.json), and why the
        number of pages differs where it does."""
        counters = sum(1 for a in self.attributes if a.get("is_counter"))
        n = {
            "classes": len(self.classes),
            "attributes": len(self.attributes),
            "counters": counters,
            "enums": len(self.enums),
            "structs": len(self.structs),
        }
        data = " ".join(f'data-{k}="{v}"' for k, v in n.items())
        text = (
            f'<p id="counts" {data}>{_plural(n["classes"], "class", "classes")}, '
            f"{_plural(n['attributes'], 'attribute')} "
            f"({_plural(n['attributes'] - counters, 'configuration attribute')} "
            f"and {_plural(counters, 'PM counter')}), {_plural(n['enums'], 'enum')} and "
            f"{_plural(n['structs'], 'struct')}: the rows of the catalog's tables, as counted in the build's "
            "report.json.</p>"
        )
        notes = "".join(
            (
                _shared(self.classes, "class", self.class_page, ("class", "classes"), "in more than one MIM"),
                _shared(self.enums, "enum", self.enum_page, ("enum", "enums"), "in more than one MIM"),
                _shared(
                    self.structs, "struct", self.struct_page, ("struct", "structs"), "in more than one MIM or class"
                ),
            )
        )
        return text + (f'<ul class="notes muted" id="count-notes">{notes}</ul>' if notes else "")

    def index_body(self, templates: list[tuple[str, str]] | None = None) -> str:
        by_mim: dict[str, list[str]] = defaultdict(list)
        for c in self.classes:
            by_mim[str(c.get("mim") or c.get("source") or "")].append(c["class"])
        out = [
            "<h1>Catalog reference</h1>",
            self.counts(),
            '<input id="q" type="search" placeholder="Search classes, attributes, counters, enums, descriptions"'
            ' aria-label="Search" autofocus>',
            '<p id="said" class="muted"></p><ul id="hits"></ul>',
        ]
        for mim in sorted(by_mim):
            links = ", ".join(
                f'<a href="{self.class_page[c]}">{_escape(c)}</a>' for c in sorted(set(by_mim[mim]), key=str.lower)
            )
            out.append(f"<h2>{_escape(mim)}</h2><p>{links}</p>")
        if self.enum_page:
            links = ", ".join(f'<a href="{p}">{_escape(n)}</a>' for n, p in sorted(self.enum_page.items()))
            out.append(f"<h2>Enums</h2><p>{links}</p>")
        if self.struct_page:
            links = ", ".join(f'<a href="{p}">{_escape(n)}</a>' for n, p in sorted(self.struct_page.items()))
            out.append(f"<h2>Structs</h2><p>{links}</p>")
        entries = self.index_entries()
        if templates:
            links = ", ".join(f'<a href="{p}">{_escape(n)}</a>' for n, p in templates)
            out.append(
                f'<h2>Templates</h2><p><a href="templates/index.html">All templates and their findings</a>: {links}</p>'
            )
            entries += [["template", n, p, ""] for n, p in templates]
        data = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
        # inside <script>: no end tag, and no line separators (which end a line in older engines)
        data = data.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        out.append(f"<script>const INDEX = {data};\n{_SEARCH}</script>")
        return "\n".join(out)


def write_docs(tables: dict[str, pa.Table], out: Path, templates: list[tuple[str, str]] | None = None) -> int:
    """Write the site under `out` (``out/index.html`` first); returns the number of pages. The
    index links the pages of `templates` ((name, page); written by
    :mod:`rtbfast.codegen.template_pages`)."""
    site = _Site(tables)
    pages = 0
    for folder in ("classes", "enums", "structs"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for name, page in sorted(site.class_page.items()):
        (out / page).write_text(_page(name, site.class_body(name), 1), encoding="utf-8")
        pages += 1
    for name, page in sorted(site.enum_page.items()):
        (out / page).write_text(_page(f"enum {name}", site.enum_body(name), 1), encoding="utf-8")
        pages += 1
    for name, page in sorted(site.struct_page.items()):
        (out / page).write_text(_page(f"struct {name}", site.struct_body(name), 1), encoding="utf-8")
        pages += 1
    (out / "index.html").write_text(_page("Catalog reference", site.index_body(templates)), encoding="utf-8")
    return pages + 1
