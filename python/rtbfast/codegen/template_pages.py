"""Pages of the reference docs for a template set (``rtbfast build --templates``): one page per
template with its head, its findings (``templates check``) and every MO and value it writes,
each value with its unit, raw value and verdict and each class linked to its class page; and
a list of the templates, linked from the index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rtbfast.codegen.docs import _STEM, _escape, _file, _page
from rtbfast.codegen.docs import class_pages as class_page_paths
from rtbfast.errors import RtbfastError
from rtbfast.templates.tree import Attribute, Comment, Cond, Eval, Mo, Plans, Switch, Template, Written, plain

TEMPLATES = "templates"
"""The docs folder of the template pages."""


def template_page_names(paths: list[Path]) -> list[tuple[str, str]]:
    """(shown name, page) of each template, pages unique."""
    used: set[str] = set()
    out = []
    for p in paths:
        stem = p.stem[:_STEM]
        page = f"{TEMPLATES}/{_file(stem)}"
        n = 2
        while page.lower() in used:  # unique also where file names ignore case
            page = f"{TEMPLATES}/{_file(f'{stem}-{n}')}"
            n += 1
        used.add(page.lower())
        out.append((p.name, page))
    return out


def _shown(value: Any) -> str:
    v = plain(value) if not isinstance(value, (str, int, float, bool, type(None))) else value
    if isinstance(v, str):
        return v
    import json

    return json.dumps(v, ensure_ascii=False)


class _Rows:
    """The rows of a template's table: the MO path, the attribute, the value and what is known
    of it."""

    def __init__(self, template: Template, info: dict[str, Any], class_pages: dict[str, str]) -> None:
        self.template = template
        self.info = info
        self.class_pages = class_pages
        self.rows: list[str] = []

    def cls(self, name: str) -> str:
        page = self.class_pages.get(name)
        if page is None:
            return f'<span class="bad">{_escape(name)}</span>'
        return f'<a href="../{page}">{_escape(name)}</a>' if page else _escape(name)

    def walk(self, entries: list[Any], path: list[str], cls: str | None, note: str = "") -> None:
        for e in entries:
            if isinstance(e, Mo):
                at = "@" if e.key.startswith("@") else ""
                shown = [*path, _escape(at) + self.cls(e.cls) + _escape(e.key[len(at) + len(e.cls) :])]
                if e.delete:
                    self.row(shown, "", "<code>__delete__</code>", "", "", e.where.line, note)
                else:
                    self.walk(e.body or [], shown, e.cls, note)
            elif isinstance(e, Attribute):
                info = self.info.get(self.template.origin.get(e.where.path, e.where.path))
                if isinstance(e.value, Written):
                    value = _escape(_shown(e.value.value))
                else:
                    value = (
                        f'<span class="muted">computed ({type(e.value).__name__.replace("Value", "").lower()})</span>'
                    )
                unit = _escape(info.unit or "") if info else ""
                raw = _escape(info.raw or "") if info and info.raw is not None else ""
                verdict = "<br>".join(_escape(v) for v in info.verdicts) if info and info.verdicts else ""
                self.row(path, _escape(e.name), value, unit, raw, e.where.line, note, verdict)
            elif isinstance(e, Cond):
                for label, branch in (("if", e.then), ("else", e.otherwise)):
                    for f in branch or []:
                        self.walk(f.entries, path, cls, f"{label} {e.test}" if label == "if" else f"not ({e.test})")
            elif isinstance(e, Switch):
                for case in e.branches:
                    for f in case.then or []:
                        self.walk(f.entries, path, cls, f"case {case.test}")
            elif isinstance(e, Plans):
                for plan in e.plans:
                    for f in plan.steps:
                        self.walk(f.entries, path, cls, f"plan {plan.name}")
            elif isinstance(e, Eval):
                self.row(path, "", f"<code>$eval {_escape(e.expression)}</code>", "", "", e.where.line, note)
            elif isinstance(e, Comment):
                continue

    def row(
        self, path: list[str], attribute: str, value: str, unit: str, raw: str, line: int, note: str, verdict: str = ""
    ) -> None:
        where = " / ".join(path) or "(target)"
        cls = ' class="bad"' if verdict.startswith("error") else ""
        self.rows.append(
            f"<tr{cls}><td>{line or ''}</td><td>{where}</td><td>{attribute}</td><td>{value}</td><td>{unit}</td>"
            f'<td>{raw}</td><td class="muted">{_escape(note)}</td><td>{verdict}</td></tr>'
        )


_EXTRA_STYLE = "<style>.bad,.bad td{color:#a40000}tr.bad td{background:#fff3f3}</style>"


def template_page(
    template: Template, findings: list[dict[str, Any]], info: dict[str, Any], class_pages: dict[str, str], name: str
) -> str:
    """A template's page; `class_pages` gives each known class its docs page (``classes/X.html``;
    empty for a class known only from containment, which has none)."""
    meta = template.meta
    head = []
    for key in ("description", "version", "author"):
        v = meta.get(key) if meta is not None else None
        if v is not None:
            head.append(f"<tr><th>{key}</th><td>{_escape(_shown(v))}</td></tr>")
    errors = sum(1 for f in findings if f["severity"] == "error")
    warnings = sum(1 for f in findings if f["severity"] == "warning")
    body = [
        _EXTRA_STYLE,
        f"<h1>Template {_escape(name)}</h1>",
        f'<p class="muted">{_escape(str(template.path))}: {errors} error(s), {warnings} warning(s)</p>',
    ]
    if head:
        body.append(
            '<table class="fixed"><colgroup><col style="width:15%"><col></colgroup>' + "".join(head) + "</table>"
        )
    shown = [f for f in findings if f["severity"] in ("error", "warning")]
    if shown:
        body.append(
            '<h2>Findings</h2><table class="fixed"><colgroup><col style="width:7%"><col style="width:8%">'
            '<col style="width:15%"><col></colgroup>'
            "<tr><th>line</th><th>severity</th><th>code</th><th>message</th></tr>"
        )
        for f in shown:
            cls = ' class="bad"' if f["severity"] == "error" else ""
            hint = f" (suggestion: {_escape(f['suggestion'])})" if f.get("suggestion") else ""
            body.append(
                f"<tr{cls}><td>{f['line'] or ''}:{f['column'] or ''}</td><td>{_escape(f['severity'])}</td>"
                f"<td>{_escape(f['code'])}</td><td>{_escape(f['message'])}{hint}</td></tr>"
            )
        body.append("</table>")
    rows = _Rows(template, info, class_pages)
    for fragment in template.fragments:
        rows.walk(fragment.entries, [], None)
    body.append(
        '<h2>MOs and values</h2><p class="muted">Values as written (engineering units); raw is what the node '
        "stores (value ÷ multiplication factor).</p>"
    )
    body.append(
        '<table class="fixed"><colgroup><col style="width:5%"><col style="width:22%"><col style="width:14%">'
        '<col style="width:15%"><col style="width:5%"><col style="width:8%"><col style="width:9%"><col></colgroup>'
        "<tr><th>line</th><th>MO</th><th>attribute</th><th>value</th><th>unit</th><th>raw</th>"
        "<th>when</th><th>verdict</th></tr>"
    )
    body.extend(rows.rows)
    body.append("</table>")
    return _page(f"Template {name}", "\n".join(body), 1)


def templates_index(entries: list[tuple[str, str, int, int]]) -> str:
    body = ["<h1>Templates</h1><table><tr><th>template</th><th>errors</th><th>warnings</th></tr>"]
    for name, page, errors, warnings in entries:
        link = page.split("/", 1)[1]
        cls = ' class="bad"' if errors else ""
        body.append(f'<tr{cls}><td><a href="{link}">{_escape(name)}</a></td><td>{errors}</td><td>{warnings}</td></tr>')
    body.append("</table>")
    return _page("Templates", _EXTRA_STYLE + "\n".join(body), 1)


def write_template_pages(paths: list[Path], catalog: Any, docs: Path) -> dict[str, int]:
    """Check the templates at `paths` against `catalog` and write their pages under
    ``docs/templates/``; returns counts (templates, errors, warnings, pages)."""
    from rtbfast.templates.check import check_templates
    from rtbfast.templates.typed import _value_info, read_any

    result = check_templates(paths, catalog, dynamic=False)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for f in result.findings.to_pylist():
        by_file.setdefault(f["template"], []).append(f)
    class_pages = {name: "" for name in catalog.classes} | class_page_paths(catalog.tables)
    folder = docs / TEMPLATES
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for path, (name, page) in zip(paths, template_page_names(paths), strict=True):
        findings = by_file.get(str(path), [])
        errors = sum(1 for f in findings if f["severity"] == "error")
        warnings = sum(1 for f in findings if f["severity"] == "warning")
        try:
            template = read_any(path)
        except RtbfastError as err:  # an unreadable template gets a page saying why
            text = _page(
                f"Template {name}",
                f'{_EXTRA_STYLE}<h1>Template {_escape(name)}</h1><p class="bad">{_escape(str(err))}</p>',
                1,
            )
        else:
            info = _value_info(template, catalog, findings)
            text = template_page(template, findings, info, class_pages, name)
        (docs / f"{page}").write_text(text, encoding="utf-8")
        entries.append((name, page, errors, warnings))
    (folder / "index.html").write_text(templates_index(entries), encoding="utf-8")
    return {
        "templates": len(paths),
        "errors": result.errors,
        "warnings": result.count("warning"),
        "pages": len(entries) + 1,
    }
