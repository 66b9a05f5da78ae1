"""Static validation of many RTB templates against a built catalog (``OUT/`` of ``rtbfast
build``): nothing is run.

The templates are read on all cores into one set of tables (``rust/src/templates``: each file
read, parsed, flattened and its keys read by their grammar natively, a run of files on each
thread); class, attribute, member and value columns come dictionary-encoded, so every name is
judged once per distinct class and attribute and joined to the rows by its id, never once per
value. Values go to the native evaluator in bulk, with the constraints compiled once per
catalog; its verdicts name their rows. What is said (messages, did-you-means) is worded once
per distinct verdict. Findings are located in the texts the read kept. Then:

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

A naming attribute written in the other MIM family's case spelling (``eUtranCellRelationId`` of
ECIM, ``EUtranCellRelationId`` of CPP) is the catalog's attribute, not an unknown one. Each
template gets a summary (:attr:`CheckResult.summaries`: every finding counted, listed or not,
the release it declares), and where most of its errors are unknown names, the hint that it
probably targets another release than the catalog's MIMs (:mod:`rtbfast.templates.release`).

Findings are the Violations columns plus ``template``, ``path`` (JSON pointer), ``line``,
``column``, ``code`` and ``suggestion``.
"""

from __future__ import annotations

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
from rtbfast.readers import ProgressCallback
from rtbfast.schemas import FINDING_PARTS_SCHEMA, FINDINGS_SCHEMA, SEP, VIOLATIONS_SCHEMA
from rtbfast.suggest import closest
from rtbfast.templates.tree import ReadWarning, template_json
from rtbfast.templates.units import to_engineering, to_raw

JUDGED = ("string", "number", "boolean")
"""Value kinds judged by the evaluator (the others are computed, ``null`` or empty)."""
SCALED_RULES = ("type", "range", "resolution", "decimal_places")
"""The evaluator's rules about a number's value, whose verdict a multiplication factor
changes: their messages say the unit conversion (and a value broken by one may be written in
raw units)."""


@dataclass
class CheckResult:
    findings: pa.Table
    templates: int
    values_checked: int
    unreadable: int
    tables: dict[str, pa.Table] = field(repr=False, default_factory=dict)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    """One per template, in the order given: ``template``, ``errors``, ``warnings``, ``infos``
    (every finding counted, listed or not), ``values`` (literal values read),
    ``unknown_names`` (errors naming a class, attribute or member the catalog lacks),
    ``matched_spellings`` (naming attributes matched across CPP and ECIM case spellings),
    ``release`` and ``release_said`` (the release the template declares, and where), and
    ``hint`` (what the release hint says, or None)."""
    catalog_release: str | None = None
    """The catalog's MIMs and their versions (:func:`rtbfast.templates.release.catalog_release`)."""
    checked: list[int] = field(default_factory=list)
    """Values judged, one count per template in the order given (they add up to
    :attr:`values_checked`)."""
    unlisted: set[int] = field(default_factory=set)
    """The templates (their indices) with more than :data:`LISTED` findings of a code: which
    of them are listed may depend on the templates checked with it (the order of a grouping);
    every other finding of a template is what it gets checked alone."""

    def count(self, severity: str) -> int:
        """Findings of `severity`: every one, those not listed (past :data:`LISTED` of a code
        in a template) too."""
        if self.summaries:
            return sum(int(s[_PLURAL[severity]]) for s in self.summaries)
        return int(pc.sum(pc.equal(self.findings["severity"], severity)).as_py() or 0)

    @property
    def errors(self) -> int:
        return self.count("error")

    def summary(self) -> dict[str, Any]:
        """Totals over the templates, the catalog's release, and each template's summary."""
        from rtbfast.templates.release import summary_of

        return {
            "templates": self.templates,
            "values_checked": self.values_checked,
            "unreadable": self.unreadable,
            **summary_of(self.summaries),
            "catalog_release": self.catalog_release,
            "files": self.summaries,
        }


_PLURAL = {"error": "errors", "warning": "warnings", "info": "infos"}


LISTED = 200
"""Findings of one code listed per template; the others are counted in one more finding, so a
template with a hundred thousand wrong values gives a report, not a flood."""


_VIOLATION_COLS = [f.name for f in VIOLATIONS_SCHEMA if f.name not in ("severity", "rule", "message")]


class _Findings:
    """Findings collected as column parts, in the order they are found: one at a time
    (:meth:`add`) or many at once (:meth:`extend`). :meth:`table` lists at most
    :data:`LISTED` of a code per template and counts the rest."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []
        self.rows: dict[str, list[Any]] = {name: [] for name in FINDING_PARTS_SCHEMA.names}
        self.unlisted: set[int] = set()
        """The templates with findings not listed (known once :meth:`table` is made)."""

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
        pointer)."""
        rows = self.rows
        rows["template"].append(template)
        rows["path"].append(path)
        rows["severity"].append(severity)
        rows["code"].append(code)
        rows["message"].append(message)
        rows["suggestion"].append(suggestion)
        rows["line"].append(at[0] if at else None)
        rows["column"].append(at[1] if at else None)
        rows["typed"].append(typed)
        rows["pointed"].append(pointed)
        for name in _VIOLATION_COLS:
            rows[name].append(violation.get(name))

    def _flush(self) -> None:
        if self.rows["template"]:
            self.parts.append(pa.table(self.rows, schema=FINDING_PARTS_SCHEMA))
            self.rows = {name: [] for name in FINDING_PARTS_SCHEMA.names}

    def extend(self, count: int, columns: dict[str, Any]) -> None:
        """`count` findings at once: each column an array or list of `count` items, or one
        value for all (a column not given is null, or false)."""
        if not count:
            return
        self._flush()
        arrays = []
        for f in FINDING_PARTS_SCHEMA:
            given = columns.get(f.name, False if f.type == pa.bool_() else None)
            if isinstance(given, pa.ChunkedArray):
                given = given.combine_chunks()
            if isinstance(given, pa.Array):
                arrays.append(given if given.type == f.type else pc.cast(given, f.type))
            elif isinstance(given, list):
                arrays.append(pa.array(given, f.type))
            else:
                arrays.append(pa.nulls(count, f.type) if given is None else pa.array([given] * count, f.type))
        self.parts.append(pa.Table.from_arrays(arrays, schema=FINDING_PARTS_SCHEMA))

    def counts(self) -> dict[tuple[int, str, str], int]:
        """How many findings of each (template, severity, code) were found so far."""
        self._flush()
        if not self.parts:
            return {}
        found = pa.concat_tables(self.parts).select(["template", "severity", "code"])
        # each (template, severity, code) one number, counted (a grouping's fixed cost is
        # most of a check of one template)
        severity, code = _dictionary(found["severity"]), _dictionary(found["code"])
        n_severities, n_codes = len(severity.dictionary), len(code.dictionary)
        counted = pc.value_counts(
            _code((found["template"], 0), (severity.indices, n_severities), (code.indices, n_codes))
        )
        severities, codes = severity.dictionary.to_pylist(), code.dictionary.to_pylist()
        out = {}
        for key, n in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True):
            rest, c = divmod(key, max(n_codes, 1))
            t, sev = divmod(rest, max(n_severities, 1))
            out[(t, severities[sev], codes[c])] = n
        return out

    def table(self) -> pa.Table:
        """Every finding in the order found, but for each template and code only the first
        :data:`LISTED`; then one finding for each template and code whose findings were not all
        listed, saying how many more there were."""
        self._flush()
        found = pa.concat_tables(self.parts) if self.parts else FINDING_PARTS_SCHEMA.empty_table()
        if found.num_rows <= LISTED:
            return found
        counts = found.group_by(["template", "code"], use_threads=False).aggregate([("template", "count")])
        if pc.max(counts["template_count"]).as_py() <= LISTED:
            return found  # all listed
        listed: dict[tuple[int, str], int] = {}
        more: dict[tuple[int, str], list[Any]] = {}
        keep: list[bool] = []
        for i, key in enumerate(zip(found["template"].to_pylist(), found["code"].to_pylist(), strict=True)):
            n = listed.get(key, 0)
            if n < LISTED:
                listed[key] = n + 1
                keep.append(True)
                continue
            keep.append(False)
            if key not in more:
                more[key] = [found["severity"][i].as_py(), 0]
            more[key][1] += 1
        if more:
            self.unlisted = {template for template, _ in more}
            found = found.filter(pa.array(keep, pa.bool_()))
            for (template, code), (severity, n) in more.items():
                self.add(
                    template,
                    "",
                    severity,
                    code,
                    f"and {n:,} more {code} finding(s) in this template, not listed (the first {LISTED} of a kind are)",
                    at=(1, 1),
                )
            self._flush()
            found = pa.concat_tables([found, self.parts[-1]])
        return found


def _read(
    paths: list[str], threads: int, on_progress: ProgressCallback | None
) -> tuple[dict[str, pa.Table], _native.TemplateTexts]:
    """The native read, with progress in files; the texts are kept to locate findings in."""
    progress = _native.Progress()
    if on_progress is None:
        raw = _native.read_templates(paths, threads, progress, True)
    else:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(_native.read_templates, paths, threads, progress, True)
            while True:
                try:
                    raw = future.result(timeout=0.1)
                    break
                except TimeoutError:
                    on_progress(progress.bytes_read, len(paths))
            on_progress(len(paths), len(paths))
    texts = raw.pop("texts")
    assert isinstance(texts, _native.TemplateTexts)
    return {name: pa.table(t) for name, t in raw.items()}, texts


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
    with _Scratch() as tmp:
        read_paths, typed = _compile_typed(files, tmp)
        tables, texts = _read(read_paths, threads, on_progress)
        objects = [
            i
            for i in pc.indices_nonzero(tables["files"]["object"]).to_pylist()
            if i not in typed and files[i].lower().endswith(".json")
        ]
        if objects:
            tables = _with_typed_objects(files, objects, tables, typed, tmp, threads)
        named = tables["files"]
        named = named.set_column(named.schema.get_field_index("path"), "path", pa.array(files, pa.string()))
        _refuse_unreadable(named)
        return _check(files, tables, texts, typed, catalog, threads, dynamic)


class _Scratch:
    """A temporary folder for compiled typed templates, made when first asked for."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> _Scratch:
        return self

    def __exit__(self, *_: object) -> None:
        if self._folder is not None:
            self._folder.cleanup()

    def __truediv__(self, name: str) -> Path:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="rtbfast-check-")
        return Path(self._folder.name) / name


def _compile_typed(files: list[str], tmp: _Scratch) -> tuple[list[str], dict[int, _Typed]]:
    """Typed templates in YAML or TOML compiled to RTB templates in `tmp`, read in their place
    (those in JSON are found by the read: :func:`_with_typed_objects`)."""
    from rtbfast.templates.typed import TYPED_SUFFIXES

    read_paths = list(files)
    typed: dict[int, _Typed] = {}
    for i, f in enumerate(files):
        if f.lower().endswith(TYPED_SUFFIXES) and not f.lower().endswith(".json"):
            read_paths[i] = _compile_one(f, tmp / f"{i}.json", typed, i)
    return read_paths, typed


def _compile_one(f: str, target: Path, typed: dict[int, _Typed], i: int) -> str:
    """The typed template `f` compiled to the RTB template `target`; a typed template that
    cannot be read is a finding on it, as invalid JSON is."""
    from rtbfast.templates.typed import compile_document, read_document

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
    return str(target)


def _with_typed_objects(
    files: list[str],
    objects: list[int],
    tables: dict[str, pa.Table],
    typed: dict[int, _Typed],
    tmp: _Scratch,
    threads: int,
) -> dict[str, pa.Table]:
    """The tables with the JSON files that hold an object (typed templates written in JSON)
    compiled and read in their place: their rows (a template that is no list gives none but
    its problems) replaced by those of the compiled templates, all in file order as one read
    gives them."""
    compiled = [_compile_one(files[i], tmp / f"{i}.json", typed, i) for i in objects]
    more, _ = _read(compiled, threads, None)
    index = pa.array(objects, pa.int32())
    n_files = tables["files"].num_rows
    n_mos, n_values = tables["mos"].num_rows, tables["values"].num_rows
    order = list(range(n_files))
    for k, i in enumerate(objects):
        order[i] = n_files + k
    out = {"files": pa.concat_tables([tables["files"], more["files"]]).take(pa.array(order, pa.int64()))}
    shift = {"parent": n_mos, "mo": n_mos, "slot": n_values}
    for name in ("mos", "values", "expressions", "calls", "problems"):
        first, second = tables[name], more[name]
        first = first.filter(pc.invert(pc.is_in(first["template"], value_set=index)))
        for column in second.column_names:
            if column == "template":
                moved = pc.take(index, second[column])
            elif column in shift:
                moved = pc.add(second[column], pa.scalar(shift[column], pa.int32()))
            else:
                continue
            second = second.set_column(second.schema.get_field_index(column), column, moved)
        out[name] = pa.concat_tables([first, second]).unify_dictionaries().combine_chunks()
    return _in_file_order(out)


def _in_file_order(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Every table's rows in template order (stable), the MO and value rows they name
    renumbered."""

    def moved(order: pa.Array) -> pa.Array:
        """Where each row of a table goes when it is taken in `order`."""
        return pc.cast(pc.sort_indices(order), pa.int32())

    out = dict(tables)
    mos, values = tables["mos"], tables["values"]
    mo_order, value_order = pc.sort_indices(mos["template"]), pc.sort_indices(values["template"])
    mo_to, value_to = moved(mo_order), moved(value_order)
    mos = mos.take(mo_order)
    out["mos"] = mos.set_column(mos.schema.get_field_index("parent"), "parent", pc.take(mo_to, mos["parent"]))
    values = values.take(value_order)
    for column, to in (("mo", mo_to), ("slot", value_to)):
        values = values.set_column(values.schema.get_field_index(column), column, pc.take(to, values[column]))
    out["values"] = values
    for name in ("expressions", "calls", "problems"):
        out[name] = tables[name].take(pc.sort_indices(tables[name]["template"]))
    return out


def _check(
    files: list[str],
    tables: dict[str, pa.Table],
    texts: _native.TemplateTexts,
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
    problems = tables["problems"]
    out.extend(
        problems.num_rows,
        {
            "template": problems["template"],
            "path": problems["path"],
            "severity": problems["severity"],
            "code": problems["code"],
            "message": problems["message"],
            "line": problems["line"],
            "column": problems["column"],
            "pointed": pc.equal(problems["code"], "duplicate_key"),
        },
    )
    for index, typed_one in typed.items():
        for w in typed_one.warnings:
            out.add(index, w.path, "warning", w.code, w.message, at=(w.line, w.column), typed=True, pointed=True)
    tables, matched = _naming_spellings(tables, cat)
    _names(tables, cat, out)
    judged = _values(tables, cat, out, threads)
    checked = [0] * len(files)
    if len(judged):
        per = pc.value_counts(judged)
        for t, n in zip(per.field("values").to_pylist(), per.field("counts").to_pylist(), strict=True):
            checked[t] = n
    refused = _compiled(tables, out)
    if dynamic:
        _dynamic(tables, out, refused)
    summaries, said = _summaries(files, tables, cat, out, matched)
    findings = _located(files, tables["files"], out.table(), typed, texts)
    return CheckResult(findings, len(files), len(judged), unreadable, tables, summaries, said, checked, out.unlisted)


def _naming_spellings(tables: dict[str, pa.Table], cat: CatalogView) -> tuple[dict[str, pa.Table], dict[int, int]]:
    """The values with each naming attribute written in the other MIM family's case spelling
    (``eUtranCellRelationId`` of ECIM where the catalog has ``EUtranCellRelationId`` of CPP, or
    the reverse) renamed to the catalog's: the same attribute, not an unknown one. A name is
    renamed in a template where it fits every class the template writes it on (so a template
    reads the same checked alone or with others). Returns the tables and how many values each
    template had renamed."""
    values, mos = tables["values"], tables["mos"]
    if not values.num_rows or not mos.num_rows:
        return tables, {}
    attribute = _dictionary(values["attribute"])
    names = attribute.dictionary.to_pylist()
    flipped = {
        i: (n[0].swapcase() + n[1:])
        for i, n in enumerate(names)
        if isinstance(n, str) and len(n) > 2 and n.endswith("Id") and n[0].isalpha()
    }
    known_anywhere = cat.attribute_names
    candidates = [i for i, other in flipped.items() if other in known_anywhere]
    if not candidates:
        return tables, {}
    rows = pc.indices_nonzero(pc.is_in(attribute.indices, value_set=pa.array(candidates, attribute.indices.type)))
    classes = pc.take(pc.cast(mos["class"], pa.string()), pc.take(values["mo"], rows)).to_pylist()
    ids = pc.take(attribute.indices, rows).to_pylist()
    templates = pc.take(values["template"], rows).to_pylist()
    renamed: dict[tuple[int, int], bool] = {}  # (template, name) → it fits every class it is on
    for t, c, i in zip(templates, classes, ids, strict=True):
        known = cat.attributes.get(c, {})
        fits = names[i] not in known and flipped[i] in known
        renamed[(t, i)] = renamed.get((t, i), True) and fits
    renames = sorted(key for key, ok in renamed.items() if ok)
    if not renames:
        return tables, {}
    # each renamed name gets a dictionary entry of its own spelling, taken by the rows of the
    # templates it is renamed in
    spelled = sorted({i for _, i in renames})
    dictionary = pa.array(names + [flipped[i] for i in spelled], pa.string())
    to = list(range(len(names)))
    for k, i in enumerate(spelled):
        to[i] = len(names) + k
    template = pc.cast(_one_array(values["template"]), pa.int64())
    codes = pc.add(pc.multiply(template, len(names)), pc.cast(attribute.indices, pa.int64()))
    moved = pc.is_in(codes, value_set=pa.array([t * len(names) + i for t, i in renames], pa.int64()))
    indices = pc.if_else(moved, pc.take(pa.array(to, attribute.indices.type), attribute.indices), attribute.indices)
    column = pa.DictionaryArray.from_arrays(indices, dictionary)
    values = values.set_column(values.schema.get_field_index("attribute"), "attribute", column)
    per = pc.value_counts(pc.filter(values["template"], moved))
    matched = dict(zip(per.field("values").to_pylist(), per.field("counts").to_pylist(), strict=True))
    return {**tables, "values": values}, matched


def _summaries(
    files: list[str], tables: dict[str, pa.Table], cat: CatalogView, out: _Findings, matched: dict[int, int]
) -> tuple[list[dict[str, Any]], str | None]:
    """Each template's summary (every finding counted), with the release hint where most of
    its errors are unknown names (said of the file, not a finding: the findings stay what each
    name and value is), and the catalog's release."""
    from rtbfast.templates.release import (
        HINT_AT_LEAST,
        UNKNOWN_CODES,
        catalog_release,
        declared_releases,
        release_hint,
    )

    said = catalog_release(cat.tables)
    declared = declared_releases(files, tables)
    counts = out.counts()
    per: list[dict[str, Any]] = [
        {
            "template": f,
            "errors": 0,
            "warnings": 0,
            "infos": 0,
            "values": 0,
            "unknown_names": 0,
            "matched_spellings": int(matched.get(i, 0)),
            "release": declared[i].release if i in declared else None,
            "release_said": declared[i].said if i in declared else None,
            "hint": None,
        }
        for i, f in enumerate(files)
    ]
    for (t, severity, code), n in counts.items():
        per[t][_PLURAL.get(severity, "infos")] += n
        if severity == "error" and code in UNKNOWN_CODES:
            per[t]["unknown_names"] += n
    if tables["values"].num_rows:
        by_template = pc.value_counts(tables["values"]["template"])
        for t, n in zip(by_template.field("values").to_pylist(), by_template.field("counts").to_pylist(), strict=True):
            per[t]["values"] = n
    for i, row in enumerate(per):
        if row["unknown_names"] >= HINT_AT_LEAST:  # else release_hint says nothing
            row["hint"] = release_hint(row["unknown_names"], row["errors"], declared.get(i), said)
    return per, said


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
    if files["error_kind"].null_count == files.num_rows:
        return  # every file read
    unreadable = files.filter(pc.equal(files["error_kind"], "io"))
    if unreadable.num_rows:
        first = unreadable.slice(0, 1).to_pylist()[0]
        more = f" (and {unreadable.num_rows - 1} more unreadable file(s))" if unreadable.num_rows > 1 else ""
        raise InputIOError(f"{first['path']}: {first['error']}{more}", first["path"])


def _file_errors(files: pa.Table, out: _Findings) -> int:
    """A finding for each file that could not be read as JSON (code ``json``), or as a typed
    template (``document``); returns how many."""
    if files["error"].null_count == files.num_rows:
        return 0  # every file read as JSON
    failed = pc.indices_nonzero(pc.is_valid(files["error"]))
    wrong = files.select(["error", "error_kind"]).take(failed).append_column("template", pc.cast(failed, pa.int32()))
    for f in wrong.to_pylist():
        code = f["error_kind"] if f["error_kind"] in ("document", "limit") else "json"
        out.add(f["template"], "", "error", code, f["error"])
    return int(wrong.num_rows)


def _one_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as one array."""
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _dictionary(column: pa.ChunkedArray | pa.Array) -> pa.DictionaryArray:
    """A text column as one dictionary array (the native read encodes names and values)."""
    array = _one_array(column)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    assert isinstance(array, pa.DictionaryArray)
    return array


def _flags(names: list[Any], judge: Any) -> pa.Array:
    """`judge` of each name of a dictionary, as an array to take from by the dictionary's
    indices (each distinct name judged once)."""
    return pa.array([bool(judge(n)) for n in names], pa.bool_())


def _names(tables: dict[str, pa.Table], cat: CatalogView, out: _Findings) -> None:
    """Classes, their nesting, attribute names and what may be done to them: each distinct
    name (and pair of names) judged once, the rows of the wrong ones found by their ids."""
    mos, values = tables["mos"], tables["values"]
    if not mos.num_rows:
        return
    cls = _dictionary(mos["class"])
    names = cls.dictionary.to_pylist()
    ids = cls.indices
    is_known = pc.take(_flags(names, lambda c: c in cat.classes), ids)
    where = ["template", "path", "class", "key"]
    near_class: dict[str, str | None] = {}
    for m in mos.filter(pc.invert(is_known)).select(where).to_pylist():
        c = m["class"]
        near = near_class[c] if c in near_class else near_class.setdefault(c, closest(c, cat.classes))
        out.add(
            m["template"],
            m["path"],
            "error",
            "unknown_class",
            f"{c} is not a class of the catalog" + (f"; did you mean {near}?" if near else ""),
            m["key"].replace(c, near, 1) if near else None,
            subject=m["path"],
            **{"class": c},
        )
    # nesting: each child class under its parent's, where the catalog says what the parent
    # holds; each distinct (parent, child) judged once
    has_parent = pc.is_valid(mos["parent"])
    parent_ids = pc.take(ids, pc.fill_null(mos["parent"], 0))
    pairs = pc.add(pc.multiply(pc.cast(parent_ids, pa.int64()), len(names)), pc.cast(ids, pa.int64()))
    placed = pc.and_(has_parent, is_known)
    wrong = [
        p
        for p in pc.unique(pairs.filter(placed)).to_pylist()
        if names[p // len(names)] in cat.children and names[p % len(names)] not in cat.children[names[p // len(names)]]
    ]
    misplaced = pc.and_(placed, pc.is_in(pairs, value_set=pa.array(wrong, pa.int64())))
    near_child: dict[tuple[str, str], str | None] = {}
    for m, parent in zip(
        mos.filter(misplaced).select(where).to_pylist(), parent_ids.filter(misplaced).to_pylist(), strict=True
    ):
        c, parent_class = m["class"], names[parent]
        children = cat.children[parent_class]
        if (c, parent_class) not in near_child:
            near_child[(c, parent_class)] = closest(c, children)
        near = near_child[(c, parent_class)]
        out.add(
            m["template"],
            m["path"],
            "error",
            "containment",
            f"{c} is not a child of {parent_class} (its children: {', '.join(sorted(children)[:12])}"
            f"{', …' if len(children) > 12 else ''})",
            m["key"].replace(c, near, 1) if near else None,
            subject=m["path"],
            **{"class": c},
        )
    created = pc.take(_flags(names, lambda c: c in cat.system_created), ids)
    for m in mos.filter(pc.and_(mos["delete"], created)).select(where).to_pylist():
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
        _attribute_names(tables, cls, cat, out)


def _attribute_names(tables: dict[str, pa.Table], cls: pa.DictionaryArray, cat: CatalogView, out: _Findings) -> None:
    """Each distinct (class, attribute) judged once, joined to the values by their ids; its
    first row in each template reported."""
    mos, values = tables["mos"], tables["values"]
    classes = cls.dictionary.to_pylist()
    attribute = _dictionary(values["attribute"])
    attributes = attribute.dictionary.to_pylist()
    class_ids = pc.take(cls.indices, values["mo"])
    keys = pc.add(
        pc.multiply(pc.cast(class_ids, pa.int64()), max(len(attributes), 1)), pc.cast(attribute.indices, pa.int64())
    )
    verdicts: dict[int, tuple[str, str, str, str | None]] = {}  # key → severity, code, message, suggestion
    for key in pc.unique(keys).to_pylist():
        c, name = classes[key // len(attributes)], attributes[key % len(attributes)]
        if c not in cat.classes or c not in cat.attributes:
            continue  # said for the class; or known only from containment, attributes unknown
        row = cat.attributes[c].get(name)
        if row is None:  # the suggestion is looked for when the finding is listed
            verdicts[key] = ("error", "unknown_attribute", f"{c} has no attribute {name}", None)
        elif row["read_only"]:
            verdicts[key] = ("error", "read_only", f"{c}.{name} is read-only", None)
        elif row["restricted"]:
            message = f"{c}.{name} is restricted: only a create may set it; on an existing MO the change is refused"
            verdicts[key] = ("warning", "restricted", message, None)
    if not verdicts:
        return
    bad = pc.indices_nonzero(pc.is_in(keys, value_set=pa.array(list(verdicts), pa.int64())))
    bad_keys = pc.take(keys, bad)
    # the wrong rows (few) grouped by their names: which are listed, where a template has more
    # than LISTED, follows the order of the groups, which follows the keys' text (and the
    # other templates checked with it: CheckResult.unlisted)
    named = pc.binary_join_element_wise(
        pc.take(pc.cast(cls.dictionary, pa.string()), pc.take(class_ids, bad)),
        pc.take(pc.cast(attribute.dictionary, pa.string()), pc.take(attribute.indices, bad)),
        SEP,
    )
    code_of = dict(zip(named.to_pylist(), bad_keys.to_pylist(), strict=True))
    rows = pa.table(
        {
            "template": pc.take(values["template"], bad),
            "key": named,
            "path": pc.take(values["path"], bad),
            "mo": pc.take(values["mo"], bad),
        }
    )
    first = rows.group_by(["template", "key"], use_threads=False).aggregate([("path", "min"), ("mo", "min")])
    near: dict[int, str | None] = {}
    subjects = pc.take(mos["path"], first["mo_min"]).to_pylist()
    for r, subject in zip(first.select(["template", "key", "path_min"]).to_pylist(), subjects, strict=True):
        key = code_of[r["key"]]
        severity, code, message, suggestion = verdicts[key]
        c, name = classes[key // len(attributes)], attributes[key % len(attributes)]
        if code == "unknown_attribute":
            if key not in near:
                near[key] = closest(name, cat.attributes[c])
            suggestion = near[key]
            message += f"; did you mean {suggestion}?" if suggestion else ""
        out.add(
            r["template"],
            r["path_min"],
            severity,
            code,
            message,
            suggestion,
            subject=subject,
            attribute=name,
            **{"class": c},
        )


def _code(*parts: tuple[pa.Array | pa.ChunkedArray, int]) -> pa.Array:
    """One int64 per row for a tuple of small ids (each with how many values it may take): the
    rows of equal tuples get equal codes."""
    out: pa.Array | None = None
    for ids, count in parts:
        ids = pc.cast(ids, pa.int64())
        out = ids if out is None else pc.add(pc.multiply(out, max(count, 1)), ids)
    assert out is not None
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _dense(codes: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Codes renumbered from 0 in order of first appearance, and the row of each one's first
    appearance."""
    encoded = pc.dictionary_encode(codes)
    return encoded.indices, pc.index_in(encoded.dictionary, value_set=codes)


def _distinct(codes: pa.Array) -> tuple[pa.Array, list[int]]:
    """Codes renumbered from 0 in order of first appearance, and the distinct codes."""
    encoded = pc.dictionary_encode(codes)
    return encoded.indices, encoded.dictionary.to_pylist()


_ROW_NAMES: list[pa.Array] = [pa.array([], pa.string())]


def _row_names(n: int) -> pa.Array:
    """``"0"``, ``"1"``, … ``str(n - 1)``: MO rows named as the evaluator names MOs (kept
    between checks, grown as needed)."""
    if len(_ROW_NAMES[0]) < n:
        _ROW_NAMES[0] = pc.cast(pa.array(range(max(n, 2 * len(_ROW_NAMES[0]))), pa.int64()), pa.string())
    return _ROW_NAMES[0].slice(0, n)


def _values(tables: dict[str, pa.Table], cat: CatalogView, out: _Findings, threads: int) -> pa.Array:
    """Judge the literal values with the native evaluator; returns the template of each value
    judged. Each distinct (class, attribute, member) is looked up once, each distinct value
    converted once per factor, and each distinct verdict worded once."""
    mos, values = tables["mos"], tables["values"]
    none = pa.array([], pa.int32())
    if not values.num_rows:
        return none
    kind = _dictionary(values["kind"])
    kinds = kind.dictionary.to_pylist()
    if "null" in kinds:
        null = values.filter(pc.take(_flags(kinds, lambda k: k == "null"), kind.indices))
        out.extend(
            null.num_rows,
            {
                "template": null["template"],
                "path": null["path"],
                "severity": "error",
                "code": "null",
                "message": [
                    f'{a}: null is not a value (write "" to clear a reference)' for a in null["attribute"].to_pylist()
                ],
                "subject": pc.take(mos["path"], null["mo"]),
                "attribute": null["attribute"],
            },
        )
    value = _dictionary(values["value"])
    texts = value.dictionary.to_pylist()
    judged_kind = pc.take(_flags(kinds, lambda k: k in (*JUDGED, "unset")), kind.indices)
    rows = pc.indices_nonzero(judged_kind)
    if "" in texts or "unset" in kinds:
        # "" and "__unset__" clear an attribute: said where it cannot be, judged only as text
        empty = pc.or_(
            pc.fill_null(pc.take(_flags(texts, lambda t: t == ""), value.indices), False),
            pc.take(_flags(kinds, lambda k: k == "unset"), kind.indices),
        )
        cleared = pc.indices_nonzero(pc.and_(judged_kind, empty))
        if len(cleared):
            rows = pc.filter(rows, pc.invert(pc.is_in(rows, value_set=_cleared(values, cleared, mos, cat, out))))
    if not len(rows):
        return none
    judged = values.select(["template", "mo", "attribute", "member", "index", "value", "slot"]).take(rows)
    cls = _dictionary(mos["class"])
    classes = cls.dictionary.to_pylist()
    attribute, member, text = (
        _dictionary(judged["attribute"]),
        _dictionary(judged["member"]),
        _dictionary(judged["value"]),
    )
    attributes, members = attribute.dictionary.to_pylist(), member.dictionary.to_pylist()
    class_ids = pc.take(cls.indices, judged["mo"])
    member_ids = pc.fill_null(member.indices, len(members))
    n_attributes, n_members = max(len(attributes), 1), len(members) + 1
    key_ids, key_codes = _distinct(
        _code((class_ids, len(classes)), (attribute.indices, n_attributes), (member_ids, n_members))
    )
    # each distinct (class, attribute, member): its factor and unit, where it has one
    keyed: list[tuple[str, str, str | None]] = []
    factors: list[str] = []
    factor_ids: list[int | None] = []
    units: list[str | None] = []
    for code in key_codes:
        c, a, m = code // n_members // n_attributes, code // n_members % n_attributes, code % n_members
        names = (classes[c], attributes[a], members[m] if m < len(members) else None)
        keyed.append(names)
        factor, unit = cat.factor_of.get(SEP.join((names[0], names[1], names[2] or "")), (None, None))
        if factor is not None and factor not in factors:
            factors.append(factor)
        factor_ids.append(None if factor is None else factors.index(factor))
        units.append(unit)
    factor_id = pc.take(pa.array(factor_ids, pa.int32()), key_ids)
    scaled = pc.is_valid(factor_id)
    written = pc.take(text.dictionary, text.indices)
    converted = written
    if pc.any(scaled).as_py():
        # each distinct (value, factor) read in raw units once; a value that is no number is
        # judged as written
        factor_code = pc.fill_null(pc.add(factor_id, 1), 0)
        n_factors = len(factors) + 1
        pairs, pair_codes = _distinct(_code((text.indices, len(text.dictionary)), (factor_code, n_factors)))
        shown = text.dictionary.to_pylist()
        as_decimal = [Decimal(f) for f in factors]
        raw = [
            to_raw(shown[code // n_factors], as_decimal[code % n_factors - 1]) if code % n_factors else None
            for code in pair_codes
        ]
        converted = pc.coalesce(pc.take(pa.array(raw, pa.string()), pairs), written)
    mo_ids = _row_names(mos.num_rows)
    mo_table = pa.table({"fdn": mo_ids, "class": pc.cast(mos["class"], pa.string())})
    item = pc.fill_null(judged["index"], 0)
    slot = judged["slot"].combine_chunks()
    first_rows = pc.cast(rows, pa.int32())  # each judged row's own row, which a slot names

    def verdicts(part: pa.Array | None, reading: pa.Array) -> tuple[pa.Table, pa.Array]:
        """The violations of `reading` of the judged rows `part` (all where None), and the
        judged row each is about: every row of the part that sets the same slot (MO,
        attribute, member, item) as the row judged."""

        def take(column: Any) -> Any:
            return column if part is None else pc.take(column, part)

        values_table = pa.table(
            {
                "fdn": pa.DictionaryArray.from_arrays(take(judged["mo"].combine_chunks()), mo_ids),
                "attribute": take(attribute),
                "member": take(member),
                "index": take(item),
                "value": take(reading),
            }
        )
        # the names are said once each (_attribute_names), not for every value
        found = pa.table(cat.compiled.evaluate(mo_table, values_table, threads, False)["violations"])
        at = found["row"].combine_chunks() if part is None else pc.take(part, found["row"])
        at = pc.cast(at, pa.int64())
        slots = take(slot)
        # a slot set by more than one row has a row that is not its first
        later = pc.not_equal(slots, take(first_rows))
        if not len(at) or not pc.any(later).as_py():
            return found, at
        candidates = pc.unique(pc.filter(slots, later))
        members_of = pc.indices_nonzero(pc.is_in(slots, value_set=candidates))
        counted = pc.value_counts(pc.take(slots, members_of))
        shared = counted.filter(pc.greater(counted.field("counts"), 1)).field("values")
        members_of = pc.filter(members_of, pc.is_in(pc.take(slots, members_of), value_set=shared))
        rows_of: dict[int, list[int]] = {}
        for r, s in zip(
            (members_of if part is None else pc.take(part, members_of)).to_pylist(),
            pc.take(slots, members_of).to_pylist(),
            strict=True,
        ):
            rows_of.setdefault(s, []).append(r)
        found_rows: list[int] = []
        targets: list[int] = []
        for i, (r, s) in enumerate(zip(at.to_pylist(), pc.take(slot, at).to_pylist(), strict=True)):
            many = rows_of.get(s)
            if many is None:
                found_rows.append(i)
                targets.append(r)
            else:
                found_rows.extend([i] * len(many))
                targets.extend(many)
        return found.take(pa.array(found_rows, pa.int64())), pa.array(targets, pa.int64())

    found, target = verdicts(None, converted)
    if not found.num_rows:
        return judged["template"].combine_chunks()
    raw_ok = pa.array([], pa.int64())
    scaled_rows = pc.indices_nonzero(scaled)
    if len(scaled_rows):
        wrong_scaled = pc.unique(target.filter(pc.is_in(found["rule"], pa.array(SCALED_RULES))))
        _, wrong_raw = verdicts(scaled_rows, written)
        raw_ok = wrong_scaled.filter(
            pc.and_(
                pc.invert(pc.is_in(wrong_scaled, value_set=wrong_raw)), pc.is_in(wrong_scaled, value_set=scaled_rows)
            )
        )
    unit_reading = pc.is_in(target, value_set=raw_ok)
    # each distinct verdict worded once: what the row is (its names, its text read in raw
    # units) and what the evaluator said of it
    message = _dictionary(found["message"])
    seen = _dictionary(pc.fill_null(found["value"], ""))
    rule = _dictionary(found["rule"])
    violated = _dictionary(
        pc.binary_join_element_wise(
            pc.fill_null(found["attribute"], ""),
            pc.fill_null(found["member"], ""),
            pc.cast(pc.is_null(found["member"]), pa.string()),
            SEP,
        )
    )
    row_side, _ = _distinct(_code((pc.take(key_ids, target), len(keyed)), (pc.take(text.indices, target), len(texts))))
    said, _ = _distinct(_code((message.indices, len(message.dictionary)), (seen.indices, len(seen.dictionary))))
    named, _ = _distinct(_code((violated.indices, len(violated.dictionary)), (rule.indices, len(rule.dictionary))))
    words, firsts = _dense(
        _code(
            (_distinct(_code((row_side, len(target)), (said, len(target))))[0], len(target)),
            (named, len(target)),
            (pc.cast(unit_reading, pa.int8()), 2),
        )
    )
    first = found.take(firsts).select(["attribute", "member", "rule", "message", "value"]).to_pylist()
    first_rows = pc.take(target, firsts)
    messages, suggestions = [], []
    for v, key, t, conv, unit_too in zip(
        first,
        pc.take(key_ids, first_rows).to_pylist(),
        pc.take(written, first_rows).to_pylist(),
        pc.take(converted, first_rows).to_pylist(),
        pc.take(unit_reading, firsts).to_pylist(),
        strict=True,
    ):
        c = keyed[key][0]
        factor = factors[factor_ids[key]] if factor_ids[key] is not None else None
        unit = units[key] if units[key] and any(ch.isalnum() or ch in "%°" for ch in units[key] or "") else None
        unit_text = f" {unit}" if unit else ""
        if unit_too:
            eng = to_engineering(t or "", Decimal(factor or "1"))
            messages.append(
                f"{c}.{v['attribute']} {t}: read as{unit_text or ' engineering units'} (templates write "
                f"engineering units) it is {conv} raw, and {v['message']}; read as raw units it is "
                f"{eng}{unit_text}, which fits: the template may be written in raw units"
            )
            suggestions.append(f"write {eng}" if eng is not None else None)
            continue
        if factor is not None and v["rule"] in SCALED_RULES:
            messages.append(f"{c}.{v['attribute']} {t}{unit_text} is {conv} raw (÷ {factor}): {v['message']}")
        else:
            messages.append(f"{c}.{v['attribute']}{'.' + v['member'] if v['member'] else ''}: {v['message']}")
        if v["rule"] == "enum":
            enum = cat.enum_names.get((c, v["attribute"], v["member"]))
            suggestions.append(closest(v["value"] or "", enum) if enum else None)
        else:
            suggestions.append(None)
    mo = pc.take(judged["mo"], target)
    out.extend(
        len(target),
        {
            "template": pc.take(judged["template"], target),
            "path": pc.take(values["path"], pc.take(rows, target)),
            "severity": pc.if_else(unit_reading, "error", found["severity"]),
            "code": pc.if_else(unit_reading, "unit", found["rule"]),
            "message": pc.take(pa.array(messages, pa.string()), words),
            "suggestion": pc.take(pa.array(suggestions, pa.string()), words),
            **{name: found[name] for name in _VIOLATION_COLS},
            "value": pc.take(written, target),
            "subject": pc.take(mos["path"], mo),
        },
    )
    return judged["template"].combine_chunks()


def _cleared(values: pa.Table, rows: pa.Array, mos: pa.Table, cat: CatalogView, out: _Findings) -> pa.Array:
    """``""`` (and ``"__unset__"``) clears an attribute: ``""`` is judged as a value only for
    text attributes; elsewhere a clear is flagged where the attribute cannot be cleared (a
    model that marks nillable attributes does not mark it; not a reference, not a sequence
    that may be empty), and said (info) where the catalog cannot tell. `rows` are the judged
    rows that clear; returns those not to judge."""
    drop = []
    cleared = values.take(rows).select(["template", "path", "mo", "attribute", "member", "kind"])
    classes = pc.take(mos["class"], cleared["mo"]).to_pylist()
    for i, (r, row) in enumerate(zip(cleared.to_pylist(), rows.to_pylist(), strict=True)):
        known = cat.attributes.get(classes[i], {}).get(r["attribute"])
        kinds = known["kinds"] if known else set()
        if kinds == {"string"} and r["kind"] != "unset":
            continue  # an empty text is a value
        drop.append(row)
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
    return pa.array(drop, pa.int64())


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
    expressions = tables["expressions"]
    shown: dict[tuple[str, str], str] = {}
    messages = []
    for directive, text in zip(expressions["directive"].to_pylist(), expressions["text"].to_pylist(), strict=True):
        said = shown.get((directive, text))
        if said is None:
            flat = " ".join(text.split())
            said = f"{directive} runs at expansion: {flat if len(flat) <= 80 else flat[:77] + '…'}"
            shown[(directive, text)] = said
        messages.append(said)
    out.extend(
        expressions.num_rows,
        {
            "template": expressions["template"],
            "path": expressions["path"],
            "severity": "info",
            "code": "dynamic",
            "message": messages,
        },
    )
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


def _located(
    files: list[str], file_table: pa.Table, found: pa.Table, typed: dict[int, _Typed], texts: _native.TemplateTexts
) -> pa.Table:
    """The findings with their lines and columns, sorted by template, line and column; those
    on a typed template at its own pointers, lines and columns (located in its own file, the
    others in the texts read)."""
    from rtbfast.templates.typed import typed_pointer

    template = found["template"].combine_chunks()
    path = found["path"].combine_chunks()
    if typed:
        on_typed = pc.and_(pc.is_in(template, value_set=pa.array(list(typed), pa.int32())), pc.invert(found["typed"]))
        moved = pc.indices_nonzero(on_typed).to_pylist()
        if moved:
            paths = path.to_pylist()
            for i, t in zip(moved, pc.take(template, moved).to_pylist(), strict=True):
                paths[i] = typed_pointer(paths[i] or "", typed[t].where)
            path = pa.array(paths, pa.string())
    shown = pc.if_else(pc.equal(path, ""), "/", path)
    message = pc.if_else(
        found["pointed"], pc.binary_join_element_wise(found["message"], " at ", shown, ""), found["message"]
    )
    code = found["code"]
    line, column = found["line"], found["column"]
    unplaced = pc.is_null(line)
    if file_table["error"].null_count < file_table.num_rows or pc.any(pc.equal(code, "limit")).as_py():
        # where a file could not be read (json, document; limit, of the whole file), its error
        # is at the place the read stopped
        from_file = pc.or_(
            pc.is_in(code, pa.array(["json", "document"])), pc.and_(pc.equal(code, "limit"), pc.equal(path, ""))
        )
        error_line = pc.take(pc.cast(file_table["error_line"], pa.int32()), template)
        error_column = pc.take(pc.cast(file_table["error_column"], pa.int32()), template)
        line = pc.if_else(from_file, error_line, line)
        column = pc.if_else(from_file, error_column, column)
        unplaced = pc.and_(pc.invert(from_file), unplaced)
    if typed:
        # a typed template is located in its own file (YAML, TOML or JSON), by its pointers
        own = pc.and_(unplaced, pc.is_in(template, value_set=pa.array(list(typed), pa.int32())))
        unplaced = pc.and_(unplaced, pc.invert(own))
        rows = pc.indices_nonzero(own)
        if len(rows):
            by_template: dict[int, tuple[list[int], list[str]]] = {}
            for i, t, p in zip(
                rows.to_pylist(), pc.take(template, rows).to_pylist(), pc.take(path, rows).to_pylist(), strict=True
            ):
                at_rows, pointers = by_template.setdefault(t, ([], []))
                at_rows.append(i)
                pointers.append(p)
            spots = _native.locate_many([(files[t], pointers) for t, (_, pointers) in by_template.items()])
            lines, columns = line.to_pylist(), column.to_pylist()
            for (at_rows, _), file_spots in zip(by_template.values(), spots, strict=True):
                for i, (ln, col) in zip(at_rows, file_spots, strict=True):
                    lines[i], columns[i] = ln, col
            line, column = pa.array(lines, pa.int32()), pa.array(columns, pa.int32())
    rows = pc.indices_nonzero(unplaced)
    if len(rows):
        spots = pa.table(texts.locate(pa.table({"template": pc.take(template, rows), "path": pc.take(path, rows)})))
        # each located row's line and column put in its place: the located rows are counted
        # in order
        where = pc.if_else(unplaced, pc.subtract(pc.cumulative_sum(pc.cast(unplaced, pa.int64())), 1), None)
        line = pc.coalesce(pc.take(spots["line"], where), line)
        column = pc.coalesce(pc.take(spots["column"], where), column)
    names = pa.array(files, pa.string())
    table = pa.table(
        {
            "template": pc.take(names, template),
            "path": path,
            "line": line,
            "column": column,
            "severity": found["severity"],
            "code": code,
            "message": message,
            "suggestion": found["suggestion"],
            **{name: found[name] for name in _VIOLATION_COLS},
        },
        schema=FINDINGS_SCHEMA,
    )
    order = pc.sort_indices(
        pa.table({"t": template, "l": table["line"], "c": table["column"]}),
        sort_keys=[("t", "ascending"), ("l", "ascending"), ("c", "ascending")],
    )
    return table.take(order)
