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
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1d1d1f}
a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f6;position:sticky;top:0}code{font-size:90%}
.flags span{display:inline-block;background:#eef;border-radius:3px;padding:0 .3rem;margin:0 .2rem .2rem 0;font-size:80%}
.muted{color:#666}#q{width:100%;font-size:1.1rem;padding:.5rem;margin:.5rem 0}
#hits li{margin:.2rem 0}.desc{white-space:pre-wrap}
"""

_SEARCH = """
const box = document.getElementById('q'), hits = document.getElementById('hits');
function show() {
  const words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
  hits.innerHTML = '';
  if (!words.length) return;
  let shown = 0;
  for (const [kind, name, page, text] of INDEX) {
    const hay = (name + ' ' + text).toLowerCase();
    if (!words.every(w => hay.includes(w))) continue;
    const li = document.createElement('li'), a = document.createElement('a');
    a.href = page; a.textContent = name;
    const note = document.createElement('span');
    note.className = 'muted'; note.textContent = text.slice(0, 120);
    li.append(kind + ' ', a, ' ', note);
    hits.append(li);
    if (++shown >= 200) break;
  }
}
box.addEventListener('input', show);
if (location.hash.length > 1) { box.value = decodeURIComponent(location.hash.slice(1)); show(); }
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


def _flags(row: dict[str, Any]) -> str:
    names = ("mandatory", "restricted", "read_only", "key", "no_notification", "non_persistent", "is_counter")
    shown = [n.replace("_", " ") for n in names if row.get(n)]
    if row.get("lifecycle"):
        shown.append(str(row["lifecycle"]))
    return "".join(f"<span>{_escape(s)}</span>" for s in shown)


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
            text = f'enum <a href="{up}{self.enum_page[ref]}">{_escape(ref)}</a>'
        elif kind == "struct" and ref in self.struct_page:
            text = f'struct <a href="{up}{self.struct_page[ref]}">{_escape(ref)}</a>'
        elif kind == "moref" and ref:
            target = (
                f'<a href="{up}{self.class_page[ref]}">{_escape(ref)}</a>' if ref in self.class_page else _escape(ref)
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

    def class_body(self, name: str) -> str:
        depth = 1
        up = "../" * depth
        own = self.own.get(name) or [{"class": name}]
        attrs = self.attrs_of.get(name, [])
        out = [f"<h1>{_escape(name)}</h1>"]
        for c in own:
            mim = c.get("mim") or c.get("source") or ""
            flags = "".join(f"<span>{f.replace('_', ' ')}</span>" for f in ("system_created", "read_only") if c.get(f))
            out.append(
                f'<p class="muted">{_escape(str(mim))} · source {_escape(str(c.get("source")))}'
                f' <span class="flags">{flags}</span></p>'
            )
            if c.get("description"):
                out.append(f'<p class="desc">{_escape(c["description"])}</p>')
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
        out.append(f"<h2>Attributes ({len(attrs)})</h2>")
        out.append(
            "<table><tr><th>Attribute</th><th>Type</th><th>Allowed</th><th>Unit</th><th>Default</th>"
            "<th>Flags</th><th>Takes effect</th><th>Description</th></tr>"
        )
        for a in sorted(attrs, key=lambda r: (bool(r.get("is_counter")), r["attribute"].lower())):
            unit = _escape(a.get("unit") or "")
            if a.get("multiplication_factor"):
                unit = f"{unit} &times; {_escape(a['multiplication_factor'])}".strip()
            out.append(
                f'<tr id="{_escape(a["attribute"])}"><td><code>{_escape(a["attribute"])}</code>'
                f'<br><span class="muted">{_escape(str(a.get("source") or ""))}</span></td>'
                f"<td>{self.type_cell(a, depth)}</td><td>{self.limits(a)}</td><td>{unit}</td>"
                f'<td>{_escape(a.get("default") or "")}</td><td class="flags">{_flags(a)}</td>'
                f"<td>{_escape(a.get('takes_effect') or '')}</td>"
                f'<td class="desc">{_escape(a.get("description") or "")}'
                + (f"<br><b>Dependencies:</b> {_escape(a['dependencies'])}" if a.get("dependencies") else "")
                + (f"<br><b>Precondition:</b> {_escape(a['precondition'])}" if a.get("precondition") else "")
                + "</td></tr>"
            )
        out.append("</table>")
        return "\n".join(out)

    def enum_body(self, name: str) -> str:
        rows = self.members_of.get(name, [])
        users = sorted(self.enum_users.get(name, ()))
        out = [
            f"<h1>enum {_escape(name)}</h1>",
            "<table><tr><th>Member</th><th>Value</th><th>Description</th></tr>",
        ]
        for m in rows:
            value = "" if m.get("value") is None else str(m["value"])
            out.append(
                f"<tr><td><code>{_escape(m['member'])}</code></td><td>{value}</td>"
                f'<td class="desc">{_escape(m.get("description") or "")}</td></tr>'
            )
        out.append("</table>")
        used = ", ".join(f'<a href="../{self.class_page[c]}">{_escape(c)}</a>' for c in users if c in self.class_page)
        out.append(f"<p>Used by: {used or 'none'}</p>")
        return "\n".join(out)

    def struct_body(self, name: str) -> str:
        rows = self.struct_members_of.get(name, [])
        out = [f"<h1>struct {_escape(name)}</h1>"]
        if name in self.exclusive:
            out.append("<p>Exclusive: exactly one member is set.</p>")
        out.append("<table><tr><th>Member</th><th>Type</th><th>Allowed</th><th>Default</th><th>Description</th></tr>")
        for m in rows:
            out.append(
                f"<tr><td><code>{_escape(m['member'])}</code></td><td>{self.type_cell(m, 1)}</td>"
                f"<td>{self.limits(m)}</td><td>{_escape(m.get('default') or '')}</td>"
                f'<td class="desc">{_escape(m.get("description") or "")}</td></tr>'
            )
        out.append("</table>")
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
                    "attribute",
                    f"{a['class']}.{a['attribute']}",
                    page,
                    " ".join((a.get("description") or "").split())[:300],
                ]
            )
        for name, page in sorted(self.enum_page.items()):
            members = " ".join(m["member"] for m in self.members_of.get(name, []))
            entries.append(["enum", name, page, members[:300]])
        for name, page in sorted(self.struct_page.items()):
            members = " ".join(m["member"] for m in self.struct_members_of.get(name, []))
            entries.append(["struct", name, page, members[:300]])
        return entries

    def index_body(self, templates: list[tuple[str, str]] | None = None) -> str:
        by_mim: dict[str, list[str]] = defaultdict(list)
        for c in self.classes:
            by_mim[str(c.get("mim") or c.get("source") or "")].append(c["class"])
        out = [
            "<h1>Catalog reference</h1>",
            f'<p class="muted">{len(self.class_page)} classes, {len(self.attributes)} attributes, '
            f"{len(self.enum_page)} enums, {len(self.struct_page)} structs. Search works offline.</p>",
            '<input id="q" type="search" placeholder="Search classes, attributes, enums, descriptions" autofocus>',
            '<ul id="hits"></ul>',
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
