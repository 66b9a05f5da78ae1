"""Static validation of many RTB templates against a built catalog (``OUT/`` of ``rtbfast
build``): nothing is run.

The templates are read on all cores into one set of tables (``rust/src/templates``). Then:

- JSON and shape: a file that is not JSON, a key that fits no grammar, a directive out of
  place (code ``json``, ``key``, ``structure``, ``sentinel``);
- names: every MO class and attribute against the catalog, with a did-you-mean
  (``unknown_class``, ``unknown_attribute``), and every child class against the catalog's
  containment under its parent (``containment``);
- operations: setting a read-only attribute (``read_only``), a restricted one, which only a
  create may set (``restricted``, a warning: the template may be creating the MO), deleting
  a system-created MO (``system_created``);
- values: every literal value, in ``$cond`` and ``$switch`` branches too, becomes a row shaped
  like a Network's ``values`` and is judged by the native evaluator with the constraints
  ``rtbfast audit`` uses, so a template and an export get the same verdict for the same
  value. Templates write engineering units where the attribute has a multiplication factor:
  the value is converted (raw = value ÷ factor) before it is judged, and a value that fits
  only when read as raw units is flagged as a likely unit mistake with both readings
  (``unit``). ``null`` is no value (``null``);
- what runs later: every ``$eval``, ``$cond``, ``$switch`` and ``$custom`` is listed as
  dynamic (``dynamic``, info), never judged; a call expansion cannot run is listed too
  (``unsupported``: the operator's database or engine; ``refused``: ``eval``, ``import`` …).

Findings are the Violations columns plus ``template``, ``path`` (JSON pointer), ``line``,
``column``, ``code`` and ``suggestion``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast import _native
from rtbfast.output_folder import load_catalog, open_catalog
from rtbfast.readers import ProgressCallback, checked_file
from rtbfast.rules import VIOLATIONS_SCHEMA, Constraints, constraint_table, evaluate
from rtbfast.suggest import closest
from rtbfast.templates.units import parse_factor, to_engineering, to_raw

FINDINGS_SCHEMA = pa.schema(
    [
        ("template", pa.string()),
        ("path", pa.string()),
        ("line", pa.int32()),
        ("column", pa.int32()),
        pa.field("severity", pa.string(), False),
        pa.field("code", pa.string(), False),
        pa.field("message", pa.string(), False),
        ("suggestion", pa.string()),
        *[f for f in VIOLATIONS_SCHEMA if f.name not in ("severity", "rule", "message")],
    ]
)
"""One row per finding: where (template file, JSON pointer, line, column), how bad
(``error``, ``warning``, ``info``), what (``code``, the evaluator's rule for a value),
``message``, ``suggestion``, and the Violations columns (``subject`` is the MO's pointer)."""

JUDGED = ("string", "number", "boolean")
"""Value kinds judged by the evaluator (the others are computed, ``null`` or empty)."""
NAME_RULES = ("unknown_class", "unknown_attribute")
"""The evaluator's rules that the name checks already say, once, with a did-you-mean."""

CATALOG_COLUMNS = {
    "attributes": [
        "class",
        "attribute",
        "kind",
        "type_ref",
        "multiplication_factor",
        "unit",
        "read_only",
        "restricted",
        "nillable",
    ],
    "classes": ["class", "system_created"],
    "containment": ["parent", "child"],
    "struct_members": ["struct", "member", "multiplication_factor", "unit"],
}


@dataclass
class Catalog:
    """What a check reads of a catalog."""

    tables: dict[str, pa.Table]
    constraints: Constraints

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int = 0) -> Catalog:
        """A build folder (checked) or an MP XML model."""
        p = Path(path)
        if p.is_dir():
            folder = open_catalog(p)
            return cls(folder.tables(CATALOG_COLUMNS), folder.constraints())
        tables = load_catalog(p, threads=threads)
        return cls(tables, constraint_table(tables))

    def column(self, table: str, name: str) -> list[Any]:
        t = self.tables.get(table)
        return [] if t is None or name not in t.column_names else t.column(name).to_pylist()


@dataclass
class CheckResult:
    findings: pa.Table
    templates: int
    values_checked: int
    unreadable: int
    tables: dict[str, pa.Table] = field(repr=False, default_factory=dict)

    def count(self, severity: str) -> int:
        return int(pc.sum(pc.equal(self.findings["severity"], severity)).as_py() or 0)

    @property
    def errors(self) -> int:
        return self.count("error")


class _Findings:
    """Findings collected as columns (template index, pointer, severity, code, message, …)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {
            name: [] for name in ("template", "path", "severity", "code", "message", "suggestion", *_VIOLATION_COLS)
        }

    def add(
        self,
        template: int,
        path: str,
        severity: str,
        code: str,
        message: str,
        suggestion: str | None = None,
        **violation: Any,
    ) -> None:
        for name, value in (
            ("template", template),
            ("path", path),
            ("severity", severity),
            ("code", code),
            ("message", message),
            ("suggestion", suggestion),
        ):
            self.rows[name].append(value)
        for name in _VIOLATION_COLS:
            self.rows[name].append(violation.get(name))


_VIOLATION_COLS = [f.name for f in VIOLATIONS_SCHEMA if f.name not in ("severity", "rule", "message")]


def _read(paths: list[Path], threads: int, on_progress: ProgressCallback | None) -> dict[str, pa.Table]:
    """The native read, with progress in files."""
    progress = _native.Progress()
    if on_progress is None:
        raw = _native.read_templates(paths, threads, progress)
    else:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(_native.read_templates, paths, threads, progress)
            while True:
                try:
                    raw = future.result(timeout=0.1)
                    break
                except TimeoutError:
                    on_progress(progress.bytes_read, len(paths))
            on_progress(len(paths), len(paths))
    return {name: pa.table(t) for name, t in raw.items()}


def check_templates(
    paths: Sequence[str | os.PathLike[str]],
    catalog: str | os.PathLike[str] | Catalog,
    *,
    threads: int = 0,
    on_progress: ProgressCallback | None = None,
    dynamic: bool = True,
) -> CheckResult:
    """Check every template of `paths` against `catalog` (a build folder, an MP XML model or a
    loaded :class:`Catalog`). ``dynamic=False`` leaves the listing of dynamic parts out."""
    files = [checked_file(p) for p in paths]
    tables = _read(files, threads, on_progress)
    cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog, threads)
    out = _Findings()
    unreadable = _file_errors(tables["files"], out)
    for p in tables["problems"].to_pylist():
        out.add(p["template"], p["path"], "error", p["code"], p["message"])
    _names(tables, cat, out)
    checked = _values(tables, cat, out, threads)
    if dynamic:
        _dynamic(tables, out)
    findings = _located(files, tables["files"], out)
    return CheckResult(findings, len(files), checked, unreadable, tables)


def _file_errors(files: pa.Table, out: _Findings) -> int:
    """A finding for each file that could not be read as JSON; returns how many."""
    count = 0
    for i, f in enumerate(files.select(["error"]).to_pylist()):
        if f["error"] is not None:
            out.add(i, "", "error", "json", f["error"])
            count += 1
    return count


def _names(tables: dict[str, pa.Table], cat: Catalog, out: _Findings) -> None:
    """Classes, their nesting, attribute names and what may be done to them."""
    mos, values = tables["mos"], tables["values"]
    # a class is known from its own rows, its attributes, or the containment naming it (the
    # workbook names node functions only in its LDN paths)
    classes = {
        *cat.column("classes", "class"),
        *cat.column("attributes", "class"),
        *cat.column("containment", "parent"),
        *cat.column("containment", "child"),
    }
    flags: dict[str, set[bool]] = {}
    for c, created in zip(cat.column("classes", "class"), cat.column("classes", "system_created"), strict=True):
        flags.setdefault(c, set()).add(bool(created))
    # where two MIMs define one class and disagree, nothing is said (the template's MO is not
    # tied to either)
    system_created = {c for c, f in flags.items() if f == {True}}
    children: dict[str, set[str]] = {}
    for parent, child in zip(cat.column("containment", "parent"), cat.column("containment", "child"), strict=True):
        children.setdefault(parent, set()).add(child)
    attributes = _attributes(cat)
    mo_class = mos["class"].to_pylist()
    mo_parent = mos["parent"].to_pylist()
    for i, m in enumerate(mos.select(["template", "path", "class", "delete", "key"]).to_pylist()):
        cls = m["class"]
        if cls not in classes:
            near = closest(cls, classes)
            out.add(
                m["template"],
                m["path"],
                "error",
                "unknown_class",
                f"{cls} is not a class of the catalog" + (f"; did you mean {near}?" if near else ""),
                m["key"].replace(cls, near, 1) if near else None,
                subject=m["path"],
                **{"class": cls},
            )
            continue
        parent = mo_parent[i]
        if parent is not None:
            parent_class = mo_class[parent]
            allowed = children.get(parent_class)
            if parent_class in classes and allowed is not None and cls not in allowed:
                near = closest(cls, allowed)
                out.add(
                    m["template"],
                    m["path"],
                    "error",
                    "containment",
                    f"{cls} is not a child of {parent_class} (its children: {', '.join(sorted(allowed)[:12])}"
                    f"{', …' if len(allowed) > 12 else ''})",
                    m["key"].replace(cls, near, 1) if near else None,
                    subject=m["path"],
                    **{"class": cls},
                )
        if m["delete"] and cls in system_created:
            out.add(
                m["template"],
                m["path"],
                "error",
                "system_created",
                f"{cls} is created by the node: it cannot be deleted",
                subject=m["path"],
                **{"class": cls},
            )
    # attribute names, once per (class, attribute) and template
    if not values.num_rows:
        return
    pairs = pa.table(
        {
            "template": values["template"],
            "mo": values["mo"],
            "attribute": values["attribute"],
            "path": values["path"],
            "class": pc.take(mos["class"], values["mo"]),
        }
    )
    first = pairs.group_by(["template", "class", "attribute"], use_threads=False).aggregate(
        [("path", "min"), ("mo", "min")]
    )
    for r in first.to_pylist():
        cls, name = r["class"], r["attribute"]
        if cls not in classes:
            continue  # said once, for the class
        known = attributes.get(cls, {})
        row = known.get(name)
        where = {"subject": mos["path"][r["mo_min"]].as_py(), "class": cls, "attribute": name}
        if row is None and not known and cls not in attributes:
            continue  # a class known only from containment: its attributes are not known either
        if row is None:
            near = closest(name, known)
            out.add(
                r["template"],
                r["path_min"],
                "error",
                "unknown_attribute",
                f"{cls} has no attribute {name}" + (f"; did you mean {near}?" if near else ""),
                near,
                **where,
            )
        elif row["read_only"]:
            out.add(r["template"], r["path_min"], "error", "read_only", f"{cls}.{name} is read-only", **where)
        elif row["restricted"]:
            out.add(
                r["template"],
                r["path_min"],
                "warning",
                "restricted",
                f"{cls}.{name} is restricted: only a create may set it; on an existing MO the change is refused",
                **where,
            )


def _attributes(cat: Catalog) -> dict[str, dict[str, dict[str, Any]]]:
    """class → attribute → what every definition of it agrees on: ``read_only``,
    ``restricted``, ``nillable`` (true only where all say so) and its ``kinds``."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    if "attributes" not in cat.tables:
        return out
    for row in cat.tables["attributes"].to_pylist():
        known = out.setdefault(row["class"], {})
        agreed = known.get(row["attribute"])
        flags = {k: bool(row.get(k)) for k in ("read_only", "restricted", "nillable")}
        if agreed is None:
            known[row["attribute"]] = {**flags, "kinds": {row.get("kind")}}
        else:
            for k, v in flags.items():
                agreed[k] = agreed[k] and v
            agreed["kinds"].add(row.get("kind"))
    return out


def _factors(cat: Catalog) -> dict[tuple[str, str, str | None], tuple[Decimal, str | None]]:
    """(class, attribute, member) → (multiplication factor, unit), for the linear factors."""
    out: dict[tuple[str, str, str | None], tuple[Decimal, str | None]] = {}
    struct_factor: dict[str, list[tuple[str, Decimal, str | None]]] = {}
    if "struct_members" in cat.tables:
        for r in cat.tables["struct_members"].to_pylist():
            f = parse_factor(r.get("multiplication_factor"))
            if f is not None and f != 1:
                struct_factor.setdefault(r["struct"], []).append((r["member"], f, r.get("unit")))
    if "attributes" in cat.tables:
        for r in cat.tables["attributes"].to_pylist():
            f = parse_factor(r.get("multiplication_factor"))
            if f is not None and f != 1:
                out.setdefault((r["class"], r["attribute"], None), (f, r.get("unit")))
            for member, mf, unit in struct_factor.get(r.get("type_ref") or "", []):
                out.setdefault((r["class"], r["attribute"], member), (mf, unit))
    return out


def _values(tables: dict[str, pa.Table], cat: Catalog, out: _Findings, threads: int) -> int:
    """Judge the literal values with the native evaluator; returns how many were judged."""
    mos, values = tables["mos"], tables["values"]
    if not values.num_rows:
        return 0
    for r in values.filter(pc.equal(values["kind"], "null")).to_pylist():
        out.add(
            r["template"],
            r["path"],
            "error",
            "null",
            f'{r["attribute"]}: null is not a value (write "" to clear a reference)',
            subject=mos["path"][r["mo"]].as_py(),
            attribute=r["attribute"],
        )
    judged = values.filter(pc.is_in(values["kind"], pa.array((*JUDGED, "unset"))))
    judged = _cleared(judged, mos, _attributes(cat), out)
    if not judged.num_rows:
        return 0
    classes = pc.take(mos["class"], judged["mo"])
    written = judged["value"].to_pylist()
    factors = _factors(cat)
    converted = list(written)
    scaled: list[tuple[int, Decimal, str | None]] = []  # (row, factor, unit)
    if factors:
        keys = zip(classes.to_pylist(), judged["attribute"].to_pylist(), judged["member"].to_pylist(), strict=True)
        for i, named in enumerate(keys):
            found = factors.get(named)
            if found is not None and written[i] is not None:
                raw = to_raw(written[i], found[0])
                if raw is not None:
                    converted[i] = raw
                    scaled.append((i, found[0], found[1]))
    subjects = pc.take(mos["path"], judged["mo"])
    mo_table = pa.table({"fdn": mos["path"], "class": mos["class"]})

    def verdicts(texts: list[str | None]) -> pa.Table:
        values_table = pa.table(
            {
                "fdn": pa.DictionaryArray.from_arrays(judged["mo"], mos["path"]),
                "attribute": judged["attribute"].dictionary_encode(),
                "member": judged["member"].dictionary_encode(),
                "index": pc.fill_null(judged["index"], 0),
                "value": pa.array(texts, pa.string()),
            }
        )
        return evaluate({"mos": mo_table, "values": values_table}, cat.constraints, threads=threads).violations

    found = verdicts(converted)
    # a value with a factor that fits only read as raw units: a likely unit mistake
    as_raw_ok: set[tuple[str, str, str | None, int]] = set()
    if scaled:
        rows = [i for i, _, _ in scaled]
        raw_found = verdicts(written)
        wrong_scaled = _keys(found)
        wrong_raw = _keys(raw_found)
        for i in rows:
            key = (subjects[i].as_py(), judged["attribute"][i].as_py(), judged["member"][i].as_py(), _index(judged, i))
            if key in wrong_scaled and key not in wrong_raw:
                as_raw_ok.add(key)
    row_of = {
        (subjects[i].as_py(), judged["attribute"][i].as_py(), judged["member"][i].as_py(), _index(judged, i)): i
        for i in range(judged.num_rows)
    }
    factor_of = {i: (f, unit) for i, f, unit in scaled}
    for v in found.to_pylist():
        if v["rule"] in NAME_RULES:
            continue  # said once per class and attribute, with a did-you-mean
        key = (v["subject"], v["attribute"], v["member"], v["index"] or 0)
        row = row_of.get(key)
        if row is None:
            continue
        i = row
        template, path = judged["template"][i].as_py(), judged["path"][i].as_py()
        cls = classes[i].as_py()
        text = written[i]
        violation = {k: v[k] for k in _VIOLATION_COLS if k in v}
        violation["value"] = text
        if i in factor_of:
            factor, unit = factor_of[i]
            unit_text = f" {unit}" if unit else ""
            if key in as_raw_ok:
                eng = to_engineering(text or "", factor)
                out.add(
                    template,
                    path,
                    "error",
                    "unit",
                    f"{cls}.{v['attribute']} {text}: read as{unit_text} (templates write engineering units) it is "
                    f"{converted[i]} raw, and {v['message']}; read as raw units it is {eng}{unit_text}, which fits: "
                    "the template may be written in raw units",
                    f"write {eng}" if eng is not None else None,
                    **violation,
                )
                continue
            message = f"{cls}.{v['attribute']} {text}{unit_text} is {converted[i]} raw (÷ {factor}): {v['message']}"
        else:
            message = f"{cls}.{v['attribute']}{'.' + v['member'] if v['member'] else ''}: {v['message']}"
        suggestion = _closest_member(cat, cls, v) if v["rule"] == "enum" else None
        out.add(template, path, v["severity"], v["rule"], message, suggestion, **violation)
    return int(judged.num_rows)


def _closest_member(cat: Catalog, cls: str, v: dict[str, Any]) -> str | None:
    """The enum member closest to the value a violation names."""
    table = cat.constraints.table
    rows = table.filter(pc.and_(pc.equal(table["class"], cls), pc.equal(table["attribute"], v["attribute"]))).select(
        ["member", "enum_names"]
    )
    for r in rows.to_pylist():
        if r["member"] == v["member"] and r["enum_names"]:
            return closest(v["value"] or "", r["enum_names"])
    return None


def _cleared(
    judged: pa.Table, mos: pa.Table, attributes: dict[str, dict[str, dict[str, Any]]], out: _Findings
) -> pa.Table:
    """``""`` (and ``"__unset__"``) clears an attribute: ``""`` is judged as a value only for
    text attributes; elsewhere a clear is flagged where the attribute cannot be cleared (not
    nillable, not a reference). Returns the rows left to judge."""
    empty = pc.or_(pc.fill_null(pc.equal(judged["value"], ""), False), pc.equal(judged["kind"], "unset"))
    if not pc.any(empty).as_py():
        return judged
    keep = []
    classes = pc.take(mos["class"], judged["mo"]).to_pylist()
    for i, (is_empty, name) in enumerate(zip(empty.to_pylist(), judged["attribute"].to_pylist(), strict=True)):
        if not is_empty:
            keep.append(True)
            continue
        known = attributes.get(classes[i], {}).get(name)
        kinds = known["kinds"] if known else set()
        if kinds == {"string"} and judged["kind"][i].as_py() != "unset":
            keep.append(True)
            continue
        keep.append(False)
        if known and "moref" not in kinds and not known["nillable"] and judged["member"][i].as_py() is None:
            shown = '"__unset__"' if judged["kind"][i].as_py() == "unset" else '""'
            out.add(
                judged["template"][i].as_py(),
                judged["path"][i].as_py(),
                "warning",
                "clear",
                f"{classes[i]}.{name}: {shown} clears it, but it is not nillable: the node refuses to leave it unset",
                subject=mos["path"][judged["mo"][i].as_py()].as_py(),
                attribute=name,
                value="",
                **{"class": classes[i]},
            )
    return judged.filter(pa.array(keep, pa.bool_()))


def _index(table: pa.Table, i: int) -> int:
    value = table["index"][i].as_py()
    return 0 if value is None else int(value)  # a scalar is item 0, as in a Network


def _keys(violations: pa.Table) -> set[tuple[str, str, str | None, int]]:
    return {
        (v["subject"], v["attribute"], v["member"], v["index"] or 0)
        for v in violations.select(["subject", "attribute", "member", "index"]).to_pylist()
    }


def _dynamic(tables: dict[str, pa.Table], out: _Findings) -> None:
    for e in tables["expressions"].to_pylist():
        text = " ".join(e["text"].split())
        shown = text if len(text) <= 80 else text[:77] + "…"
        out.add(e["template"], e["path"], "info", "dynamic", f"{e['directive']} runs at expansion: {shown}")
    for c in tables["calls"].to_pylist():
        if c["kind"] == "unsupported":
            message = (
                f"{c['what']} (line {c['line']}) is a service of the operator's engine that rtbfast cannot call; "
                "expansion skips what depends on it and says so"
            )
        else:
            message = f"{c['what']} (line {c['line']}) is refused by the restricted interpreter"
        out.add(c["template"], c["path"], "warning", c["kind"], message)


def _located(files: list[Path], file_table: pa.Table, out: _Findings) -> pa.Table:
    """The findings with their lines and columns, sorted by template, line and column."""
    rows = out.rows
    n = len(rows["template"])
    lines: list[int | None] = [None] * n
    columns: list[int | None] = [None] * n
    by_template: dict[int, list[int]] = {}
    errors = file_table["error_line"].to_pylist()
    error_columns = file_table["error_column"].to_pylist()
    for i, t in enumerate(rows["template"]):
        if rows["code"][i] == "json":
            lines[i], columns[i] = errors[t], error_columns[t]
        else:
            by_template.setdefault(t, []).append(i)
    for t, idx in by_template.items():
        spots = _native.locate_pointers(files[t], [rows["path"][i] for i in idx])
        for i, (line, column) in zip(idx, spots, strict=True):
            lines[i], columns[i] = line, column
    names = [str(f) for f in files]
    table = pa.table(
        {
            "template": pa.array([names[t] for t in rows["template"]], pa.string()),
            "path": pa.array(rows["path"], pa.string()),
            "line": pa.array(lines, pa.int32()),
            "column": pa.array(columns, pa.int32()),
            "severity": pa.array(rows["severity"], pa.string()),
            "code": pa.array(rows["code"], pa.string()),
            "message": pa.array(rows["message"], pa.string()),
            "suggestion": pa.array(rows["suggestion"], pa.string()),
            **{name: pa.array(rows[name], VIOLATIONS_SCHEMA.field(name).type) for name in _VIOLATION_COLS},
        },
        schema=FINDINGS_SCHEMA,
    )
    order = pc.sort_indices(
        pa.table({"t": pa.array(rows["template"], pa.int32()), "l": table["line"], "c": table["column"]}),
        sort_keys=[("t", "ascending"), ("l", "ascending"), ("c", "ascending")],
    )
    return table.take(order)
