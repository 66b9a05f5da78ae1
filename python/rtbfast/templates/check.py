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
  dynamic (``dynamic``, info), never run, but compiled as expansion compiles it: one that
  cannot compile is an error at the expression (``syntax``: ``return`` outside a function,
  ``break`` outside a loop, invalid syntax…; ``refused``: what the sandbox refuses, ``yield``,
  ``nonlocal``, ``import``, ``eval()``…; ``limit``: code too long or too deep); a call expansion
  cannot run is listed too (``unsupported``: the operator's database or engine; ``refused``:
  ``vars()`` and the like, found by a scan);
- reading: a key repeated in one object is a warning naming every place (``duplicate_key``:
  the later value is read); a template past a bound of the reader is an error (``limit``: its
  size, nesting, values, a sequence's items, the ids its keys name).

Findings are the Violations columns plus ``template``, ``path`` (JSON pointer), ``line``,
``column``, ``code`` and ``suggestion``.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast import _native
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import InputIOError, TemplateError
from rtbfast.output_folder import load_catalog, open_catalog
from rtbfast.readers import ProgressCallback
from rtbfast.rules import VIOLATIONS_SCHEMA, Constraints, constraint_table, evaluate
from rtbfast.suggest import closest
from rtbfast.templates.tree import ReadWarning, template_json
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
VALUE_RULES = ("type", "range", "resolution", "decimal_places")
"""The evaluator's rules about a number's value: their messages say the unit conversion."""
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
        "mim",
        "is_sequence",
        "seq_min",
        "default",
    ],
    "classes": ["class", "system_created"],
    "containment": ["parent", "child"],
    "struct_members": ["struct", "member", "multiplication_factor", "unit"],
}


SEP = "\x1f"
"""Joins two names into one key (a character no name holds)."""


@dataclass
class CatalogView:
    """What a check reads of a catalog, and the lookups made of it once."""

    tables: dict[str, pa.Table]
    constraints: Constraints

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int = 0) -> CatalogView:
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

    @functools.cached_property
    def classes(self) -> set[str]:
        """Known classes: from their own rows, their attributes, or the containment naming
        them (the workbook names node functions only in its LDN paths)."""
        return {
            *self.column("classes", "class"),
            *self.column("attributes", "class"),
            *self.column("containment", "parent"),
            *self.column("containment", "child"),
        }

    @functools.cached_property
    def system_created(self) -> set[str]:
        """Classes every definition says the node creates (where two MIMs define a class and
        disagree, nothing is said: a template's MO is not tied to either)."""
        flags: dict[str, set[bool]] = {}
        for c, created in zip(self.column("classes", "class"), self.column("classes", "system_created"), strict=True):
            flags.setdefault(c, set()).add(bool(created))
        return {c for c, f in flags.items() if f == {True}}

    @functools.cached_property
    def children(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for parent, child in zip(
            self.column("containment", "parent"), self.column("containment", "child"), strict=True
        ):
            out.setdefault(parent, set()).add(child)
        return out

    @functools.cached_property
    def attributes(self) -> dict[str, dict[str, dict[str, Any]]]:
        """class → attribute → what every definition of it agrees on: ``read_only``,
        ``restricted``, ``nillable`` (true only where all say so), its ``kinds``,
        ``nillable_known`` (every definition is of a MIM that marks nillable attributes: CPP
        models and the workbook do not, so there a clear is not judged) and ``may_be_empty``
        (a sequence that may hold no item)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        if "attributes" not in self.tables:
            return out
        rows = self.tables["attributes"].to_pylist()
        marking = {r.get("mim") for r in rows if r.get("nillable")}
        for row in rows:
            known = out.setdefault(row["class"], {})
            agreed = known.get(row["attribute"])
            flags = {k: bool(row.get(k)) for k in ("read_only", "restricted", "nillable")}
            flags["nillable_known"] = row.get("nillable") is not None and row.get("mim") in marking
            flags["may_be_empty"] = bool(row.get("is_sequence")) and not row.get("seq_min")
            if agreed is None:
                known[row["attribute"]] = {**flags, "kinds": {row.get("kind")}}
            else:
                for k, v in flags.items():
                    agreed[k] = agreed[k] and v
                agreed["kinds"].add(row.get("kind"))
        return out

    @functools.cached_property
    def factors(self) -> pa.Table:
        """``key`` (class, attribute and member joined by :data:`SEP`) → the linear
        multiplication factor (as text) and unit of the attributes and struct members that
        have one."""
        found: dict[str, tuple[str, str | None]] = {}
        struct_factor: dict[str, list[tuple[str, Decimal, str | None]]] = {}
        if "struct_members" in self.tables:
            for r in self.tables["struct_members"].to_pylist():
                f = parse_factor(r.get("multiplication_factor"))
                if f is not None and f != 1:
                    struct_factor.setdefault(r["struct"], []).append((r["member"], f, r.get("unit")))
        if "attributes" in self.tables:
            for r in self.tables["attributes"].to_pylist():
                f = parse_factor(r.get("multiplication_factor"))
                if f is not None and f != 1:
                    found.setdefault(SEP.join((r["class"], r["attribute"], "")), (str(f), r.get("unit")))
                for member, mf, unit in struct_factor.get(r.get("type_ref") or "", []):
                    found.setdefault(SEP.join((r["class"], r["attribute"], member)), (str(mf), unit))
        return pa.table(
            {
                "key": pa.array(list(found), pa.string()),
                "factor": pa.array([f for f, _ in found.values()], pa.string()),
                "unit": pa.array([u for _, u in found.values()], pa.string()),
            }
        )


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


LISTED = 200
"""Findings of one code listed per template; the others are counted in one more finding, so a
template with a hundred thousand wrong values gives a report, not a flood."""


class _Findings:
    """Findings collected as columns (template index, pointer, severity, code, message, …),
    at most :data:`LISTED` of a code per template (the rest counted)."""

    def __init__(self) -> None:
        self.listed: dict[tuple[int, str], int] = {}
        self.more: dict[tuple[int, str], tuple[str, int]] = {}
        self.rows: dict[str, list[Any]] = {
            name: []
            for name in (
                "template",
                "path",
                "severity",
                "code",
                "message",
                "suggestion",
                "at",
                "typed",
                "pointed",
                *_VIOLATION_COLS,
            )
        }

    def add(
        self,
        template: int,
        path: str,
        severity: str,
        code: str,
        message: str,
        suggestion: str | None = None,
        at: tuple[int, int] | None = None,
        typed: bool = False,
        pointed: bool = False,
        **violation: Any,
    ) -> None:
        """A finding; `at` is its line and column where already known (else found from the
        pointer), `typed` says `path` is a typed document's already, `pointed` that the
        message ends with the pointer (as expansion's notes do)."""
        listed = self.listed.get((template, code), 0)
        if listed >= LISTED:
            _, more = self.more.get((template, code), (severity, 0))
            self.more[(template, code)] = (severity, more + 1)
            return
        self.listed[(template, code)] = listed + 1
        for name, value in (
            ("template", template),
            ("path", path),
            ("severity", severity),
            ("code", code),
            ("message", message),
            ("suggestion", suggestion),
            ("at", at),
            ("typed", typed),
            ("pointed", pointed),
        ):
            self.rows[name].append(value)
        for name in _VIOLATION_COLS:
            self.rows[name].append(violation.get(name))

    def full(self, template: int, code: str) -> bool:
        """Whether findings of `code` on `template` are only counted now (a suggestion need not
        be looked for)."""
        return self.listed.get((template, code), 0) >= LISTED

    def close(self) -> None:
        """One finding for each code of a template whose findings were not all listed."""
        more, self.more = self.more, {}
        for (template, code), (severity, n) in more.items():
            self.listed[(template, code)] = 0
            self.add(
                template,
                "",
                severity,
                code,
                f"and {n:,} more {code} finding(s) in this template, not listed (the first {LISTED} of a kind are)",
                at=(1, 1),
            )


_VIOLATION_COLS = [f.name for f in VIOLATIONS_SCHEMA if f.name not in ("severity", "rule", "message")]


def _read(paths: list[str], threads: int, on_progress: ProgressCallback | None) -> dict[str, pa.Table]:
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
    catalog: str | os.PathLike[str] | CatalogView,
    *,
    threads: int = 0,
    on_progress: ProgressCallback | None = None,
    dynamic: bool = True,
) -> CheckResult:
    """Check every template of `paths` against `catalog` (a build folder, an MP XML model or a
    loaded :class:`CatalogView`). ``dynamic=False`` leaves the listing of dynamic parts out."""
    files = [os.fspath(p) for p in paths]
    with tempfile.TemporaryDirectory(prefix="rtbfast-check-") as tmp:
        read_paths, typed = _compile_typed(files, Path(tmp))
        tables = _read(read_paths, threads, on_progress)
        named = tables["files"]
        named = named.set_column(named.schema.get_field_index("path"), "path", pa.array(files, pa.string()))
        _refuse_unreadable(named)
        return _check(files, tables, typed, catalog, threads, dynamic)


def _compile_typed(files: list[str], tmp: Path) -> tuple[list[str], dict[int, _Typed]]:
    """Typed templates (YAML, TOML, JSON objects) compiled to RTB templates in `tmp`, read in
    their place; a typed template that cannot be read is a finding on it, as invalid JSON is."""
    from rtbfast.templates.typed import TYPED_SUFFIXES, compile_document, read_document

    read_paths = list(files)
    typed: dict[int, _Typed] = {}
    json_files = [i for i, f in enumerate(files) if f.lower().endswith(".json")]
    objects = {
        i
        for i, is_object in zip(json_files, _native.json_objects([files[i] for i in json_files]), strict=True)
        if is_object
    }
    for i, f in enumerate(files):
        if i not in objects and not f.lower().endswith(TYPED_SUFFIXES):
            continue
        target = tmp / f"{i}.json"
        try:
            doc = read_document(f)
        except TemplateError as err:
            target.write_text("", encoding="utf-8")
            message = err.message.split(": ", 1)[1] if ": " in err.message else err.message
            typed[i] = _Typed(Path(f), {}, (message, err.line, err.column))
        else:
            compiled, where = compile_document(doc.doc)
            target.write_text(template_json(compiled), encoding="utf-8")
            typed[i] = _Typed(Path(f), where, None, doc.warnings)
        read_paths[i] = str(target)
    return read_paths, typed


def _check(
    files: list[str],
    tables: dict[str, pa.Table],
    typed: dict[int, _Typed],
    catalog: str | os.PathLike[str] | CatalogView,
    threads: int,
    dynamic: bool,
) -> CheckResult:
    if typed:
        f = tables["files"]
        fixed = {name: f[name].to_pylist() for name in ("error", "error_line", "error_column", "error_kind")}
        for i, t in typed.items():
            if t.error is not None:
                fixed["error"][i], fixed["error_line"][i], fixed["error_column"][i] = t.error
                fixed["error_kind"][i] = "document"
        for name, values in fixed.items():
            f = f.set_column(f.schema.get_field_index(name), name, pa.array(values, f.schema.field(name).type))
        tables = {**tables, "files": f}
    cat = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog, threads)
    out = _Findings()
    unreadable = _file_errors(tables["files"], out)
    for p in tables["problems"].to_pylist():
        at = (p["line"], p["column"]) if p["line"] is not None else None
        out.add(
            p["template"],
            p["path"],
            p["severity"],
            p["code"],
            p["message"],
            at=at,
            pointed=p["code"] == "duplicate_key",
        )
    for index, typed_one in typed.items():
        for w in typed_one.warnings:
            out.add(index, w.path, "warning", w.code, w.message, at=(w.line, w.column), typed=True, pointed=True)
    _names(tables, cat, out)
    checked = _values(tables, cat, out, threads)
    refused = _compiled(tables, out)
    if dynamic:
        _dynamic(tables, out, refused)
    out.close()
    findings = _located(files, tables["files"], out, typed)
    return CheckResult(findings, len(files), checked, unreadable, tables)


@dataclass
class _Typed:
    """A typed template checked as the RTB template it compiles to."""

    path: Path
    where: dict[str, str]
    """Pointer prefixes of the compiled template → the typed document's."""
    error: tuple[str, int, int] | None
    warnings: list[ReadWarning] = field(default_factory=list)
    """What reading the document warned of (at the document's own pointers)."""


def _refuse_unreadable(files: pa.Table) -> None:
    """A file that cannot be read at all (missing, a folder, no permission) is unreadable
    input, not a finding: :class:`InputIOError` naming the first of them."""
    unreadable = files.filter(pc.equal(files["error_kind"], "io"))
    if unreadable.num_rows:
        first = unreadable.slice(0, 1).to_pylist()[0]
        more = f" (and {unreadable.num_rows - 1} more unreadable file(s))" if unreadable.num_rows > 1 else ""
        raise InputIOError(f"{first['path']}: {first['error']}{more}", first["path"])


def _file_errors(files: pa.Table, out: _Findings) -> int:
    """A finding for each file that could not be read as JSON (code ``json``), or as a typed
    template (``document``); returns how many."""
    count = 0
    for i, f in enumerate(files.select(["error", "error_kind"]).to_pylist()):
        if f["error"] is not None:
            code = f["error_kind"] if f["error_kind"] in ("document", "limit") else "json"
            out.add(i, "", "error", code, f["error"])
            count += 1
    return count


def _class_of_values(tables: dict[str, pa.Table]) -> pa.ChunkedArray:
    return pc.take(tables["mos"]["class"], tables["values"]["mo"])


def _names(tables: dict[str, pa.Table], cat: CatalogView, out: _Findings) -> None:
    """Classes, their nesting, attribute names and what may be done to them: each distinct
    name judged once, the rows of the wrong ones found by filtering."""
    mos, values = tables["mos"], tables["values"]
    if not mos.num_rows:
        return
    known = pa.array(sorted(cat.classes), pa.string())
    is_known = pc.is_in(mos["class"], value_set=known)
    where = ["template", "path", "class", "key"]
    near_class: dict[str, str | None] = {}
    for m in mos.filter(pc.invert(is_known)).select(where).to_pylist():
        cls = m["class"]
        if out.full(m["template"], "unknown_class"):
            near = None  # only counted: no suggestion to look for
        else:
            near = near_class[cls] if cls in near_class else near_class.setdefault(cls, closest(cls, cat.classes))
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
    # nesting: each child class under its parent's, where the catalog says what the parent holds
    has_parent = pc.is_valid(mos["parent"])
    parent_class = pc.take(mos["class"], pc.fill_null(mos["parent"], 0))
    pairs = pc.binary_join_element_wise(parent_class, mos["class"], SEP)
    allowed = pa.array(sorted(SEP.join((p, c)) for p, cs in cat.children.items() for c in cs), pa.string())
    parents = pa.array(sorted(cat.children), pa.string())
    misplaced = pc.and_(
        pc.and_(has_parent, is_known),
        pc.and_(pc.is_in(parent_class, value_set=parents), pc.invert(pc.is_in(pairs, value_set=allowed))),
    )
    for m, parent in zip(
        mos.filter(misplaced).select(where).to_pylist(), parent_class.filter(misplaced).to_pylist(), strict=True
    ):
        cls, children = m["class"], cat.children[parent]
        near = None if out.full(m["template"], "containment") else closest(cls, children)
        out.add(
            m["template"],
            m["path"],
            "error",
            "containment",
            f"{cls} is not a child of {parent} (its children: {', '.join(sorted(children)[:12])}"
            f"{', …' if len(children) > 12 else ''})",
            m["key"].replace(cls, near, 1) if near else None,
            subject=m["path"],
            **{"class": cls},
        )
    created = pa.array(sorted(cat.system_created), pa.string())
    for m in mos.filter(pc.and_(mos["delete"], pc.is_in(mos["class"], value_set=created))).select(where).to_pylist():
        out.add(
            m["template"],
            m["path"],
            "error",
            "system_created",
            f"{m['class']} is created by the node: it cannot be deleted",
            subject=m["path"],
            **{"class": m["class"]},
        )
    if values.num_rows:
        _attribute_names(tables, cat, out)


def _attribute_names(tables: dict[str, pa.Table], cat: CatalogView, out: _Findings) -> None:
    """Each distinct (class, attribute) judged once; its first row in each template reported."""
    mos, values = tables["mos"], tables["values"]
    classes = _class_of_values(tables)
    keys = pc.binary_join_element_wise(classes, values["attribute"], SEP)
    verdicts: dict[str, tuple[str, str, str, str | None]] = {}  # key → severity, code, message, suggestion
    for key in pc.unique(keys).to_pylist():
        cls, name = key.split(SEP)
        if cls not in cat.classes or cls not in cat.attributes:
            continue  # said for the class; or known only from containment, attributes unknown
        row = cat.attributes[cls].get(name)
        if row is None:  # the suggestion is looked for when the finding is listed
            verdicts[key] = ("error", "unknown_attribute", f"{cls} has no attribute {name}", None)
        elif row["read_only"]:
            verdicts[key] = ("error", "read_only", f"{cls}.{name} is read-only", None)
        elif row["restricted"]:
            message = f"{cls}.{name} is restricted: only a create may set it; on an existing MO the change is refused"
            verdicts[key] = ("warning", "restricted", message, None)
    if not verdicts:
        return
    bad = pc.is_in(keys, value_set=pa.array(list(verdicts), pa.string()))
    rows = pa.table({"template": values["template"], "key": keys, "path": values["path"], "mo": values["mo"]}).filter(
        bad
    )
    first = rows.group_by(["template", "key"], use_threads=False).aggregate([("path", "min"), ("mo", "min")])
    near: dict[str, str | None] = {}
    for r in first.to_pylist():
        severity, code, message, suggestion = verdicts[r["key"]]
        cls, name = r["key"].split(SEP)
        if code == "unknown_attribute" and not out.full(r["template"], code):
            if r["key"] not in near:
                near[r["key"]] = closest(name, cat.attributes[cls])
            suggestion = near[r["key"]]
            message += f"; did you mean {suggestion}?" if suggestion else ""
        out.add(
            r["template"],
            r["path_min"],
            severity,
            code,
            message,
            suggestion,
            subject=mos["path"][r["mo_min"]].as_py(),
            attribute=name,
            **{"class": cls},
        )


def _values(tables: dict[str, pa.Table], cat: CatalogView, out: _Findings, threads: int) -> int:
    """Judge the literal values with the native evaluator; returns how many were judged."""
    mos, values = tables["mos"], tables["values"]
    if not values.num_rows:
        return 0
    for r in (
        values.filter(pc.equal(values["kind"], "null")).select(["template", "path", "mo", "attribute"]).to_pylist()
    ):
        out.add(
            r["template"],
            r["path"],
            "error",
            "null",
            f'{r["attribute"]}: null is not a value (write "" to clear a reference)',
            subject=mos["path"][r["mo"]].as_py(),
            attribute=r["attribute"],
        )
    rows = values.append_column("row", pa.array(range(values.num_rows), pa.int64()))
    judged = rows.filter(pc.is_in(values["kind"], pa.array((*JUDGED, "unset"))))
    judged = _cleared(judged, mos, cat, out)
    if not judged.num_rows:
        return 0
    classes = pc.take(mos["class"], judged["mo"])
    member = pc.fill_null(judged["member"], "")
    judged = judged.append_column("key", pc.binary_join_element_wise(classes, judged["attribute"], member, SEP))
    # an MO's pointer is the same in many templates: the evaluator and the joins use the MO's
    # row instead, which is unique
    mo_ids = pc.cast(pa.array(range(mos.num_rows), pa.int64()), pa.string())
    judged = judged.append_column("subject", pc.take(mo_ids, judged["mo"]))
    judged = judged.append_column("item", pc.fill_null(judged["index"], 0))
    judged = _converted(judged, cat)
    mo_table = pa.table({"fdn": mo_ids, "class": mos["class"]})

    def verdicts(part: pa.Table, column: str) -> pa.Table:
        """The violations of the `column` reading of `part`, each with the row it is about."""
        values_table = pa.table(
            {
                "fdn": pa.DictionaryArray.from_arrays(part["mo"].combine_chunks(), mo_ids),
                "attribute": part["attribute"].combine_chunks().dictionary_encode(),
                "member": part["member"].combine_chunks().dictionary_encode(),
                "index": part["item"],
                "value": part[column],
            }
        )
        found = evaluate({"mos": mo_table, "values": values_table}, cat.constraints, threads=threads).violations
        found = found.filter(pc.invert(pc.is_in(found["rule"], pa.array(NAME_RULES))))
        keyed = found.append_column("join_member", pc.fill_null(found["member"], "")).append_column(
            "item", pc.fill_null(found["index"], 0)
        )
        side = part.select(["subject", "attribute", "item", "row"]).append_column(
            "join_member", pc.fill_null(part["member"], "")
        )
        return keyed.join(side, ["subject", "attribute", "join_member", "item"], join_type="inner")

    found = verdicts(judged, "converted")
    scaled = judged.filter(pc.is_valid(judged["factor"]))
    raw_ok: set[int] = set()
    if scaled.num_rows:
        wrong_scaled = set(found.filter(pc.is_in(found["rule"], pa.array(VALUE_RULES)))["row"].to_pylist())
        wrong_raw = set(verdicts(scaled, "value")["row"].to_pylist())
        raw_ok = {r for r in wrong_scaled if r not in wrong_raw} & set(scaled["row"].to_pylist())
    if not found.num_rows:
        return int(judged.num_rows)
    by_row = {r["row"]: r for r in judged.filter(pc.is_in(judged["row"], found["row"])).to_pylist()}
    for v in found.to_pylist():
        row = by_row[v["row"]]
        cls, text = row["key"].split(SEP)[0], row["value"]
        violation = {k: v[k] for k in _VIOLATION_COLS if k in v}
        violation["value"] = text
        violation["subject"] = mos["path"][row["mo"]].as_py()
        unit = row["unit"] if row["unit"] and any(ch.isalnum() or ch in "%°" for ch in row["unit"]) else None
        unit_text = f" {unit}" if unit else ""
        if v["row"] in raw_ok:
            eng = to_engineering(text or "", Decimal(row["factor"]))
            out.add(
                row["template"],
                row["path"],
                "error",
                "unit",
                f"{cls}.{v['attribute']} {text}: read as{unit_text or ' engineering units'} (templates write "
                f"engineering units) it is {row['converted']} raw, and {v['message']}; read as raw units it is "
                f"{eng}{unit_text}, which fits: the template may be written in raw units",
                f"write {eng}" if eng is not None else None,
                **violation,
            )
            continue
        if row["factor"] is not None and v["rule"] in VALUE_RULES:
            converted = f"{row['converted']} raw (÷ {row['factor']})"
            message = f"{cls}.{v['attribute']} {text}{unit_text} is {converted}: {v['message']}"
        else:
            message = f"{cls}.{v['attribute']}{'.' + v['member'] if v['member'] else ''}: {v['message']}"
        suggestion = _closest_member(cat, cls, v) if v["rule"] == "enum" else None
        out.add(row["template"], row["path"], v["severity"], v["rule"], message, suggestion, **violation)
    return int(judged.num_rows)


def _converted(judged: pa.Table, cat: CatalogView) -> pa.Table:
    """`judged` with the factor and unit of each row (where its attribute has one) and the
    value read in raw units (``converted``): each distinct (value, factor) converted once."""
    at = pc.index_in(judged["key"], value_set=cat.factors["key"])
    joined = judged.append_column("factor", pc.take(cat.factors["factor"], at)).append_column(
        "unit", pc.take(cat.factors["unit"], at)
    )
    scaled = joined.filter(pc.is_valid(joined["factor"]))
    if not scaled.num_rows:
        return joined.append_column("converted", joined["value"])
    pairs = pc.binary_join_element_wise(scaled["value"], scaled["factor"], SEP)
    distinct = pc.unique(pairs)
    raw = []
    for pair in distinct.to_pylist():
        value, factor = pair.split(SEP)
        raw.append(to_raw(value, Decimal(factor)))
    converted_scaled = pc.take(pa.array(raw, pa.string()), pc.index_in(pairs, value_set=distinct))
    # rows without a factor keep their value; a value that is no number is judged as written
    whole = pa.array(joined["value"].to_pylist(), pa.string())
    positions = pc.index_in(joined["row"], value_set=scaled["row"])
    converted = pc.if_else(
        pc.is_valid(positions),
        pc.coalesce(pc.take(converted_scaled, pc.fill_null(positions, 0)), whole),
        whole,
    )
    return joined.append_column("converted", converted)


def _closest_member(cat: CatalogView, cls: str, v: dict[str, Any]) -> str | None:
    """The enum member closest to the value a violation names."""
    table = cat.constraints.table
    rows = table.filter(pc.and_(pc.equal(table["class"], cls), pc.equal(table["attribute"], v["attribute"]))).select(
        ["member", "enum_names"]
    )
    for r in rows.to_pylist():
        if r["member"] == v["member"] and r["enum_names"]:
            return closest(v["value"] or "", r["enum_names"])
    return None


def _cleared(judged: pa.Table, mos: pa.Table, cat: CatalogView, out: _Findings) -> pa.Table:
    """``""`` (and ``"__unset__"``) clears an attribute: ``""`` is judged as a value only for
    text attributes; elsewhere a clear is flagged where the attribute cannot be cleared (a
    model that marks nillable attributes does not mark it; not a reference, not a sequence
    that may be empty), and said (info) where the catalog cannot tell. Returns the rows left
    to judge."""
    empty = pc.or_(pc.fill_null(pc.equal(judged["value"], ""), False), pc.equal(judged["kind"], "unset"))
    if not pc.any(empty).as_py():
        return judged
    drop = []
    cleared = judged.filter(empty)
    classes = pc.take(mos["class"], cleared["mo"]).to_pylist()
    for i, r in enumerate(cleared.select(["template", "path", "mo", "attribute", "member", "kind", "row"]).to_pylist()):
        known = cat.attributes.get(classes[i], {}).get(r["attribute"])
        kinds = known["kinds"] if known else set()
        if kinds == {"string"} and r["kind"] != "unset":
            continue  # an empty text is a value
        drop.append(r["row"])
        if not known or "moref" in kinds or known["nillable"] or known["may_be_empty"] or r["member"] is not None:
            continue
        shown = '"__unset__"' if r["kind"] == "unset" else '""'
        if known["nillable_known"]:
            severity, said = "warning", "it is not nillable: the node refuses to leave it unset"
        else:
            severity, said = "info", "whether it may be left unset is not recorded (no isNillable in its model)"
        out.add(
            r["template"],
            r["path"],
            severity,
            "clear",
            f"{classes[i]}.{r['attribute']}: {shown} clears it; {said}",
            subject=mos["path"][r["mo"]].as_py(),
            attribute=r["attribute"],
            value="",
            **{"class": classes[i]},
        )
    return judged.filter(pc.invert(pc.is_in(judged["row"], pa.array(drop, pa.int64()))))


def _compiled(tables: dict[str, pa.Table], out: _Findings) -> set[tuple[int, str]]:
    """Every expression and ``$custom`` body compiled as expansion compiles it (each distinct
    text once): one that cannot compile is an error at its own pointer (a body's line), with
    the line and column in the expression. Returns the (template, pointer) of those refused
    by the sandbox, whose scan findings would say it again."""
    from rtbfast.templates.expand import UNSET
    from rtbfast.templates.sandbox import Stop, compile_expression, compile_function
    from rtbfast.templates.tree import DELETE, IGNORE

    expressions = tables["expressions"]
    refused: set[tuple[int, str]] = set()
    if not expressions.num_rows:
        return refused
    seen: dict[tuple[str, str | None, tuple[str, ...]], Stop | None] = {}
    for e in expressions.to_pylist():
        text, name, args = e["text"], e["name"], tuple(e["args"] or ())
        if e["directive"] != "$custom" and text in (IGNORE, DELETE, UNSET):
            continue  # a sentinel written as an $eval
        key = (text, name if e["directive"] == "$custom" else None, args)
        if key not in seen:
            try:
                if e["directive"] == "$custom":
                    compile_function(str(name), list(args), text.split("\n"))
                else:
                    compile_expression(text)
                seen[key] = None
            except Stop as failed:
                seen[key] = failed
        stop = seen[key]
        if stop is None:
            continue
        path = e["path"]
        at = f" (line {stop.line}, column {stop.column} of the expression)" if stop.column else ""
        if e["directive"] == "$custom":
            at = f" (line {stop.line}{f', column {stop.column}' if stop.column else ''} of its body)"
            if stop.line:
                path = f"{path}/body/{stop.line - 1}"
            what = f"custom function {name}"
        else:
            what = e["directive"]
        code = "syntax" if stop.kind == "error" else stop.kind
        if stop.kind == "refused":
            refused.add((e["template"], e["path"]))
        out.add(e["template"], path, "error", code, f"{what} cannot run{at}: {stop.message}", pointed=True)
    return refused


def _dynamic(tables: dict[str, pa.Table], out: _Findings, refused: set[tuple[int, str]]) -> None:
    for e in tables["expressions"].to_pylist():
        text = " ".join(e["text"].split())
        shown = text if len(text) <= 80 else text[:77] + "…"
        out.add(e["template"], e["path"], "info", "dynamic", f"{e['directive']} runs at expansion: {shown}")
    for c in tables["calls"].to_pylist():
        if c["kind"] == "refused" and any((c["template"], p) in refused for p in _up(c["path"])):
            continue  # said by the compile, as an error
        if c["kind"] == "unsupported":
            message = (
                f"{c['what']} (line {c['line']}) is a service of the operator's engine that rtbfast cannot call; "
                "expansion skips what depends on it and says so"
            )
        else:
            message = f"{c['what']} (line {c['line']}) is refused by the restricted interpreter"
        out.add(c["template"], c["path"], "warning", c["kind"], message)


def _up(path: str) -> list[str]:
    """`path` and the pointers above it."""
    out = [path]
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        out.append(path)
    return out


def _located(files: list[str], file_table: pa.Table, out: _Findings, typed: dict[int, _Typed]) -> pa.Table:
    """The findings with their lines and columns, sorted by template, line and column; those
    on a typed template at its own pointers, lines and columns."""
    from rtbfast.templates.typed import typed_pointer

    rows = out.rows
    for i, t in enumerate(rows["template"]):
        if t in typed and not rows["typed"][i]:
            rows["path"][i] = typed_pointer(rows["path"][i] or "", typed[t].where)
        if rows["pointed"][i]:
            rows["message"][i] += f" at {rows['path'][i] or '/'}"
    n = len(rows["template"])
    lines: list[int | None] = [None] * n
    columns: list[int | None] = [None] * n
    by_template: dict[int, list[int]] = {}
    errors = file_table["error_line"].to_pylist()
    error_columns = file_table["error_column"].to_pylist()
    for i, t in enumerate(rows["template"]):
        if rows["code"][i] in ("json", "document") or (rows["code"][i] == "limit" and not rows["path"][i]):
            lines[i], columns[i] = errors[t], error_columns[t]
        elif rows["at"][i] is not None:
            lines[i], columns[i] = rows["at"][i]
        else:
            by_template.setdefault(t, []).append(i)
    order = list(by_template.items())
    located = _native.locate_many([(files[t], [rows["path"][i] for i in idx]) for t, idx in order])
    for (_, idx), spots in zip(order, located, strict=True):
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
