"""Typed templates: rtbfast's own template format, in YAML, TOML or JSON. A declarative MO tree
with values, read into the same tree as an RTB template (:mod:`rtbfast.templates.tree`), so it
is checked, expanded and exported alike, and compiled to a plain RTB template.

A typed template is a document (an object)::

    rtbfast: template/1              # required: the format and its version
    meta:                            # optional: as RTB's $meta (name, description, version,
      name: motorway-mobility        #   author, plan_order, clusters, config …)
      description: Faster handover …
    vars: {…}                        # optional: as RTB's $vars
    custom: [{name, args, body}]     # optional: as RTB's $custom
    mos:                             # the MO tree: one fragment …
      EUtranCellFDD:
        UeMeasControl-1:
          ReportConfigEUtraBestCell-1:
            a3offset: 1.5            # engineering units, as in RTB templates
    fragments: [{…}, {…}]            # … or a list of fragments (as RTB's list), not both

Keys inside the tree follow the RTB grammar (``Class``, ``Class-Id``, ``Class-*``, id lists,
``@``, lowerCamel attributes, ``$cond``/``$switch``/``$eval``/``$plans``/``$comment``).
Values are native (numbers, strings, booleans, lists, objects for structs). A value may be
written with metadata, as :func:`export_document` writes it: ``{$value: 1.5, $unit: dB,
$raw: "15", $at: "12:7", $verdict: [...]}``; only ``$value`` is read, the rest is what the
export said. ``{$null: true}`` is null (TOML has none). ``source`` and ``findings`` at the top
are the export's and are not read.

**Variants** are overlays on a base, applied with JSON Merge Patch semantics (RFC 7386): an
object merges key by key, ``null`` removes a key, anything else replaces. An overlay is a
document with ``rtbfast: overlay/1`` and the keys to change (checked as a template of its
own: its names and values are judged). A variant compiles to a plain RTB template.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rtbfast import _native
from rtbfast.errors import InputIOError, OutputError, TemplateError
from rtbfast.output_folder import OUTPUT_MARK, written_aside
from rtbfast.suggest import did_you_mean
from rtbfast.templates.formats import NULL_KEY, dump
from rtbfast.templates.tree import (
    JsonObject,
    JsonValue,
    Number,
    ReadWarning,
    Template,
    Where,
    build_template,
    compact_json,
    locate,
    parse_json,
    read_template,
    template_json,
)

FORMAT = "template/1"
"""The value of a typed template's ``rtbfast`` key."""
OVERLAY = "overlay/1"
"""The value of an overlay's ``rtbfast`` key: a partial typed template, checked as one."""

KEYS = ("rtbfast", "meta", "vars", "custom", "mos", "fragments", "source", "findings")
HEAD = (("meta", "$meta"), ("vars", "$vars"), ("custom", "$custom"))
"""A typed template's head keys and the RTB directives they compile to."""
TYPED_SUFFIXES = (".yaml", ".yml", ".toml")
FORMATS = ("json", "yaml", "toml")
META_KEYS = ("$value", "$unit", "$raw", "$at", "$verdict", "$default")
"""Keys of a value written with metadata; ``$value`` is the value."""


def is_typed(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a typed template: YAML or TOML by its name, or JSON whose top is an
    object (an RTB template is a list)."""
    p = Path(path)
    if p.suffix.lower() in TYPED_SUFFIXES:
        return True
    if p.suffix.lower() != ".json":
        return False
    try:
        with p.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"{")


# -- reading ------------------------------------------------------------------------------------


@dataclass
class TypedDocument:
    """A typed template's document, read (metadata unwrapped, nulls restored)."""

    path: Path
    format: str
    doc: JsonObject
    """The document as read, with metadata (``$value`` wrappers) unwrapped."""
    pointer_of: dict[str, str] = field(default_factory=dict)
    """A compiled RTB template's pointer prefix → the document's (see :func:`compile_document`)."""
    warnings: list[ReadWarning] = field(default_factory=list)
    """Keys repeated in an object of a JSON document (the later value is read), located."""


def _fail(path: Path, pointer: str, message: str) -> TemplateError:
    (line, column), *_ = _native.locate_document_pointers(path, [pointer])
    return TemplateError(f"{path}:{line}:{column}: {message} (at {pointer or '/'})", str(path), line, column, pointer)


def _unwrap(value: JsonValue) -> JsonValue:
    """A value without its metadata wrapper, ``{$null: true}`` as null, all the way down."""
    if isinstance(value, JsonObject):
        keys = value.keys()
        if keys == [NULL_KEY] and value.get(NULL_KEY) is True:
            return None
        if "$value" in keys and all(k in META_KEYS for k in keys):
            return _unwrap(value.get("$value"))
        return JsonObject([(k, _unwrap(v)) for k, v in value.used()])
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def read_document(path: str | os.PathLike[str]) -> TypedDocument:
    """Read a typed template's document and check its head. :class:`TemplateError` says what is
    wrong, with line and column; :class:`InputIOError` when the file cannot be read."""
    p = Path(path)
    fmt, text, problem = _native.read_typed_document(p)
    if problem is not None:
        kind, message, line, column = problem
        if kind == "io":
            raise InputIOError(f"{p}: {message}", str(p))
        where = f"{p}:{line}:{column}" if line else str(p)
        raise TemplateError(f"{where}: {message}", str(p), line, column)
    assert text is not None
    try:
        raw = parse_json(text)
    except ValueError as err:  # JSON written by hand: jsonc-parser says where
        (line, column), *_ = _native.locate_pointers(p, [""])
        raise TemplateError(f"{p}: not JSON: {err}", str(p), line, column) from None
    if not isinstance(raw, JsonObject):
        raise _fail(p, "", f"a typed template is an object with rtbfast: {FORMAT} (a list is an RTB template)")
    for k in raw.keys():  # noqa: SIM118 - a JsonObject iterates pairs
        if k not in KEYS:
            raise _fail(p, f"/{k}", f"{k!r} is not a key of a typed template{did_you_mean(k, KEYS)}")
    marker = raw.get("rtbfast")
    if marker not in (FORMAT, OVERLAY):
        where = "/rtbfast" if "rtbfast" in raw else ""
        found = "none" if marker is None else repr(marker)
        raise _fail(p, where, f"rtbfast: {FORMAT} (or {OVERLAY} for an overlay) is required at the top (found {found})")
    if "mos" in raw and "fragments" in raw:
        raise _fail(p, "/fragments", "mos (one fragment) or fragments (a list of them), not both")
    mos = raw.get("mos")
    if "mos" in raw and not isinstance(mos, JsonObject):
        raise _fail(p, "/mos", "mos is an object: classes and their MOs")
    fragments = raw.get("fragments")
    if "fragments" in raw and not (isinstance(fragments, list) and all(isinstance(f, JsonObject) for f in fragments)):
        raise _fail(p, "/fragments", "fragments is a list of objects")
    for k in ("meta", "vars"):
        if k in raw and not isinstance(raw.get(k), JsonObject):
            raise _fail(p, f"/{k}", f"{k} is an object")
    if "custom" in raw and not isinstance(raw.get("custom"), list):
        raise _fail(p, "/custom", "custom is a list of functions ({name, args, body})")
    doc = JsonObject([(k, v if k in ("source", "findings") else _unwrap(v)) for k, v in raw.used()])
    repeated = _native.duplicate_keys(text) if fmt == "json" else []  # YAML and TOML refuse them
    warnings = [ReadWarning("duplicate_key", message, pointer, *at[-1]) for pointer, _, message, at in repeated]
    return TypedDocument(p, fmt, doc, warnings=warnings)


def compile_document(doc: JsonObject) -> tuple[list[JsonValue], dict[str, str]]:
    """A typed document as a plain RTB template (the list), and the map from the compiled
    template's pointer prefixes to the document's."""
    compiled: list[JsonValue] = []
    where: dict[str, str] = {}
    for k, rtb in HEAD:
        if k in doc:
            where[f"/{len(compiled)}/{rtb}"] = f"/{k}"
            compiled.append(JsonObject([(rtb, doc.get(k))]))
    if "mos" in doc:
        where[f"/{len(compiled)}"] = "/mos"
        compiled.append(doc.get("mos"))
    fragments = doc.get("fragments")
    for i, f in enumerate(fragments if isinstance(fragments, list) else []):
        where[f"/{len(compiled)}"] = f"/fragments/{i}"
        compiled.append(f)
    return compiled, where


def typed_pointer(pointer: str, where: dict[str, str]) -> str:
    """The document's pointer for a pointer of the compiled RTB template (whose prefixes
    `where` maps: ``/i`` for a fragment, ``/i/$meta`` and the like for the head)."""
    if not pointer:
        return pointer
    first, _, rest = pointer[1:].partition("/")
    second, _, tail = rest.partition("/")
    two = where.get(f"/{first}/{second}") if rest else None
    if two is not None:
        return f"{two}/{tail}" if tail else two
    one = where.get(f"/{first}")
    if one is not None:
        return f"{one}/{rest}" if rest else one
    return pointer


def read_typed(path: str | os.PathLike[str]) -> Template:
    """Read a typed template into the tree an RTB template reads into; its ``raw`` is the
    compiled RTB template and every node is located in the typed file."""
    typed = read_document(path)
    compiled, where = compile_document(typed.doc)
    with tempfile.TemporaryDirectory(prefix="rtbfast-typed-") as tmp:
        rtb = Path(tmp) / "compiled.json"
        rtb.write_text(compact_json(compiled), encoding="utf-8")
        try:
            template, wheres = build_template(rtb)
        except TemplateError as err:
            pointer = typed_pointer(err.element, where)
            message = err.message.split(": ", 1)[1] if ": " in err.message else err.message
            message = message.rsplit(" (at ", 1)[0]
            raise _fail(typed.path, pointer, message) from None
    template.raw = compiled  # the same list, numbers and all, without a second parse
    template.warnings = typed.warnings
    return relocate(template, wheres, typed.path, where)


def relocate(template: Template, wheres: list[Where], path: Path, where: dict[str, str]) -> Template:
    """`template` (built from a compiled file) with its path, and every node placed in the
    typed file at `path`: pointers, lines and columns."""
    origin = {}
    for w in wheres:
        typed = typed_pointer(w.path, where)
        origin[typed] = w.path
        w.path = typed
    locate(path, wheres, _native.locate_document_pointers)
    template.where = {w.path: w for w in wheres}
    template.origin = origin
    template.path = path
    return template


def read_any(path: str | os.PathLike[str]) -> Template:
    """An RTB template or a typed one, by what the file is."""
    return read_typed(path) if is_typed(path) else read_template(path)


# -- variants -----------------------------------------------------------------------------------


def merge_patch(target: JsonValue, patch: JsonValue) -> JsonValue:
    """RFC 7386 JSON Merge Patch: `patch` applied to `target` (neither is changed). Keys keep
    their place; new keys come last."""
    if not isinstance(patch, JsonObject):
        return patch
    result = list(target.pairs) if isinstance(target, JsonObject) else []
    for key, value in patch:
        at = next((i for i, (k, _) in enumerate(result) if k == key), None)
        if value is None:
            if at is not None:
                del result[at]
            continue
        merged = merge_patch(result[at][1] if at is not None else None, value)
        if at is None:
            result.append((key, merged))
        else:
            result[at] = (key, merged)
    return JsonObject(result)


@dataclass
class Variant:
    name: str
    overlay: Path
    document: JsonObject
    """The base with the overlay applied (a typed document)."""
    compiled: list[JsonValue]
    """The plain RTB template it compiles to."""
    base: Path
    """The typed template the overlay was applied to."""


def make_variants(base: str | os.PathLike[str], overlays: Iterable[str | os.PathLike[str]]) -> list[Variant]:
    """Each overlay (``rtbfast: overlay/1``, the keys of a typed template to change) applied
    to the base, a typed template."""
    base_doc = read_document(base)
    out = []
    for overlay in overlays:
        patch = _read_overlay(Path(overlay))
        merged = merge_patch(base_doc.doc, patch)
        assert isinstance(merged, JsonObject)
        meta = merged.get("meta")
        name = meta.get("name") if isinstance(meta, JsonObject) else None
        compiled, _ = compile_document(merged)
        name = str(name or Path(overlay).stem)
        out.append(Variant(name, Path(overlay), merged, compiled, Path(base)))
    return out


def _read_overlay(path: Path) -> JsonObject:
    _, text, problem = _native.read_typed_document(path)
    if problem is not None:
        kind, message, line, column = problem
        if kind == "io":
            raise InputIOError(f"{path}: {message}", str(path))
        raise TemplateError(f"{path}:{line}:{column}: {message}", str(path), line, column)
    assert text is not None
    patch = parse_json(text)
    if not isinstance(patch, JsonObject):
        raise _fail(path, "", "an overlay is an object: the keys of a typed template to change")
    for k in patch.keys():  # noqa: SIM118 - a JsonObject iterates pairs
        if k not in KEYS:
            raise _fail(path, f"/{k}", f"{k!r} is not a key of a typed template{did_you_mean(k, KEYS)}")
    if patch.get("rtbfast") not in (None, FORMAT, OVERLAY):
        raise _fail(path, "/rtbfast", f"rtbfast: {OVERLAY} in an overlay")
    patch = JsonObject([(k, v) for k, v in patch if k != "rtbfast"])
    unwrapped = _unwrap(patch)
    assert isinstance(unwrapped, JsonObject)
    return unwrapped


def variant_files(
    variants: list[Variant], out: str | os.PathLike[str], typed_format: str | None = None
) -> list[tuple[str, str | None]]:
    """The files each variant is written as in `out`: ``<overlay>.json`` and, with
    `typed_format`, ``<overlay>.typed.<format>``. Two overlays that would write the same file
    (the same stem, or one given twice) are refused, naming both."""
    taken: dict[str, Path | None] = {OUTPUT_MARK: None}
    files: list[tuple[str, str | None]] = []
    for v in variants:
        names = (f"{v.overlay.stem}.json", None if typed_format is None else f"{v.overlay.stem}.typed.{typed_format}")
        for name in names:
            if name is None:
                continue
            if name in taken:
                other = taken[name]
                if other is None:
                    why = "the name rtbfast marks its output folders with; rename the overlay"
                elif os.path.abspath(other) == os.path.abspath(v.overlay):
                    why = "and it is given twice; give each overlay once"
                else:
                    why = f"as {other} does (two overlays with the same name write the same file); rename one"
                raise OutputError(f"{v.overlay}: would write {Path(out) / name}, {why}", str(v.overlay))
            taken[name] = v.overlay
        files.append((names[0], names[1]))
    return files


def write_variants(
    variants: list[Variant], out: str | os.PathLike[str], typed_format: str | None = None
) -> list[tuple[Path, Path | None]]:
    """Write each variant's compiled RTB template as ``OUT/<overlay>.json`` (and, with
    `typed_format`, its typed document as ``OUT/<overlay>.typed.<format>``); the files of
    each variant, in order.

    The folder is written aside and swapped in whole, as every output folder
    (:func:`rtbfast.output_folder.written_aside`): an earlier ``templates variants`` output
    is replaced, any other folder that is not empty is refused. Refused too, before anything
    is written: two overlays that would write the same file (:func:`variant_files`), and an
    `out` that holds the base or an overlay (replacing it would lose them)."""
    folder = Path(out)
    files = variant_files(variants, folder, typed_format)
    inputs = [*{v.base: None for v in variants}, *(v.overlay for v in variants)]
    with written_aside(folder, "variants", inputs=inputs) as staging:
        for v, (compiled, typed) in zip(variants, files, strict=True):
            (staging / compiled).write_text(template_json(v.compiled), encoding="utf-8")
            if typed is not None and typed_format is not None:
                (staging / typed).write_text(dump(v.document, typed_format), encoding="utf-8")
    return [(folder / compiled, None if typed is None else folder / typed) for compiled, typed in files]


# -- export -------------------------------------------------------------------------------------


@dataclass
class ValueInfo:
    """What an export says of a value: its unit, raw value, place and verdicts."""

    unit: str | None = None
    raw: str | None = None
    at: str | None = None
    verdicts: list[str] = field(default_factory=list)


def export_document(
    template: Template,
    *,
    catalog: Any = None,
    findings: list[dict[str, Any]] | None = None,
    metadata: bool = True,
) -> JsonObject:
    """Any template (RTB or typed) as a typed document. With `metadata`, every literal value
    is written ``{$value, $unit, $raw, $at, $verdict}`` (unit and raw value from `catalog`,
    verdicts from `findings` of ``templates check``) and the document says its ``source``;
    reading it back gives the same tree."""
    raw = template.raw
    doc: list[tuple[str, JsonValue]] = [("rtbfast", FORMAT)]
    fragments: list[JsonValue] = []
    pointers: list[str] = []
    head = {rtb: k for k, rtb in HEAD}
    for i, item in enumerate(raw):
        if isinstance(item, JsonObject) and len(item) == 1 and item.pairs[0][0] in head and not fragments:
            doc.append((head[item.pairs[0][0]], item.pairs[0][1]))
            continue
        fragments.append(item)
        pointers.append(f"/{i}")
    doc.append(("fragments", fragments))
    if compile_document(JsonObject(doc))[0] != raw:
        # a head out of the usual order: the whole template as fragments, as written
        doc, fragments, pointers = (
            [("rtbfast", FORMAT), ("fragments", list(raw))],
            list(raw),
            [f"/{i}" for i in range(len(raw))],
        )
    if metadata:
        info = _value_info(template, catalog, findings or [])
        annotated = [_annotate(f, p, info) for f, p in zip(fragments, pointers, strict=True)]
        doc = [(k, annotated if k == "fragments" else v) for k, v in doc]
        doc.insert(1, ("source", JsonObject([("file", str(template.path)), ("read_as", _kind(template))])))
        if findings:
            listed: list[JsonValue] = [
                JsonObject(
                    [
                        (k, Number(str(f[k])) if isinstance(f[k], int) and not isinstance(f[k], bool) else f[k])
                        for k in ("path", "line", "column", "severity", "code", "message", "suggestion")
                        if f.get(k) is not None
                    ]
                )
                for f in findings
            ]
            doc.append(("findings", listed))
    return JsonObject(doc)


def _kind(template: Template) -> str:
    return "typed template" if is_typed(template.path) else "RTB template"


def _value_info(template: Template, catalog: Any, findings: list[dict[str, Any]]) -> dict[str, ValueInfo]:
    """Per RTB pointer of a literal attribute value: unit, raw value, place, verdicts."""
    from rtbfast.templates.tree import Attribute, Written

    out: dict[str, ValueInfo] = {}
    units: dict[tuple[str, str], str] = {}
    factors: dict[str, tuple[str, str | None]] = {}
    if catalog is not None:
        attrs = catalog.tables.get("attributes")
        if attrs is not None:
            for c, a, u in zip(
                attrs["class"].to_pylist(), attrs["attribute"].to_pylist(), attrs["unit"].to_pylist(), strict=True
            ):
                if u:
                    units.setdefault((c, a), u)
        factors = dict(
            zip(
                catalog.factors["key"].to_pylist(),
                zip(catalog.factors["factor"].to_pylist(), catalog.factors["unit"].to_pylist(), strict=True),
                strict=True,
            )
        )
    by_path: dict[str, list[str]] = {}
    for f in findings:
        if f.get("severity") in ("error", "warning"):
            by_path.setdefault(str(f.get("path") or ""), []).append(f"{f['severity']}: {f['code']}: {f['message']}")
    from rtbfast.schemas import SEP
    from rtbfast.templates.units import to_raw

    def walk(entries: list[Any], cls: str | None) -> None:
        from rtbfast.templates.tree import Cond, Mo, Plans, Switch

        for e in entries:
            if isinstance(e, Mo):
                walk(e.body or [], e.cls)
            elif isinstance(e, Attribute) and cls is not None and isinstance(e.value, Written):
                v = e.value.value
                info = ValueInfo(at=f"{e.where.line}:{e.where.column}" if e.where.line else None)
                info.unit = units.get((cls, e.name))
                factor = factors.get(SEP.join((cls, e.name, "")))
                if factor is not None and isinstance(v, str) and v:
                    info.raw = to_raw(str(v), Decimal(factor[0]))
                    info.unit = info.unit or factor[1]
                info.verdicts = by_path.get(e.where.path, [])
                out[template.origin.get(e.where.path, e.where.path)] = info
            elif isinstance(e, Cond):
                for branch in (e.then, e.otherwise):
                    for f in branch or []:
                        walk(f.entries, cls)
            elif isinstance(e, Switch):
                for case in e.branches:
                    for f in case.then or []:
                        walk(f.entries, cls)
            elif isinstance(e, Plans):
                for plan in e.plans:
                    for f in plan.steps:
                        walk(f.entries, cls)

    for fragment in template.fragments:
        walk(fragment.entries, None)
    return out


def _annotate(value: JsonValue, pointer: str, info: dict[str, ValueInfo]) -> JsonValue:
    here = info.get(pointer)
    if here is not None and not (
        isinstance(value, JsonObject) and value.keys()[:1] and value.keys()[0].startswith("$")
    ):
        pairs: list[tuple[str, JsonValue]] = [("$value", value)]
        if here.unit:
            pairs.append(("$unit", here.unit))
        if here.raw is not None:
            pairs.append(("$raw", here.raw))
        if here.at:
            pairs.append(("$at", here.at))
        if here.verdicts:
            pairs.append(("$verdict", list(here.verdicts)))
        return JsonObject(pairs)
    if isinstance(value, JsonObject):
        return JsonObject([(k, _annotate(v, f"{pointer}/{_seg(k)}", info)) for k, v in value])
    if isinstance(value, list):
        return [_annotate(v, f"{pointer}/{i}", info) for i, v in enumerate(value)]
    return value


def _seg(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def export_text(template: Template, fmt: str, **kwargs: Any) -> str:
    """:func:`export_document` as ``json``, ``yaml`` or ``toml`` text."""
    return dump(export_document(template, **kwargs), fmt)


def same_tree(a: Template, b: Template) -> bool:
    """Whether two templates are the same tree: the same RTB content, key order and number
    text included (places and file names aside)."""
    return a.raw == b.raw


# -- defaults -----------------------------------------------------------------------------------


def defaults_document(catalog: Any, classes: Iterable[str], *, name: str | None = None) -> JsonObject:
    """A typed template setting every writable attribute of `classes` that has a default to
    that default, in engineering units, each class under the cell (or node function) that
    contains it, found through the catalog's containment."""
    from rtbfast.templates.objects import TECHNOLOGY
    from rtbfast.templates.units import parse_factor, to_engineering

    wanted = list(dict.fromkeys(classes))
    known = catalog.classes
    for c in wanted:
        if c not in known:
            raise ValueError(f"{c} is not a class of the catalog{did_you_mean(c, sorted(known))}")
    parents: dict[str, list[str]] = {}
    for parent, children in catalog.children.items():
        for child in children:
            parents.setdefault(child, []).append(parent)
    attrs = catalog.tables["attributes"]
    defaults_col = attrs["default"].to_pylist() if "default" in attrs.column_names else [None] * attrs.num_rows
    rows = zip(
        attrs["class"].to_pylist(),
        attrs["attribute"].to_pylist(),
        defaults_col,
        attrs["multiplication_factor"].to_pylist(),
        attrs["read_only"].to_pylist(),
        attrs["restricted"].to_pylist(),
        strict=True,
    )
    values: dict[str, list[tuple[str, JsonValue]]] = {}
    for cls, attribute, default, factor, read_only, restricted in rows:
        if cls not in wanted or default is None or read_only or restricted or attribute.endswith("Id"):
            continue
        if any(a == attribute for a, _ in values.get(cls, [])):
            continue
        f = parse_factor(factor)
        text = str(default)
        shown = to_engineering(text, f) if f is not None and f != 1 else None
        values.setdefault(cls, []).append((attribute, _typed_value(shown if shown is not None else text)))
    tree = JsonObject([])
    for cls in wanted:
        path = _path_from_cell(cls, parents, set(TECHNOLOGY))
        node = tree
        for step in path:
            child = node.get(step)
            if not isinstance(child, JsonObject):
                child = JsonObject([])
                node.pairs.append((step, child))
            node = child
        node.pairs.extend(values.get(cls, []))
    meta = JsonObject(
        [
            ("name", name or "defaults"),
            ("description", f"Catalog defaults of {', '.join(wanted)}, in engineering units."),
        ]
    )
    return JsonObject([("rtbfast", FORMAT), ("meta", meta), ("mos", tree)])


def _typed_value(text: str) -> JsonValue:
    t = text.strip()
    if t in ("true", "false"):
        return t == "true"
    try:
        Decimal(t)
        if t.lstrip("-").replace(".", "", 1).isdigit():
            return Number(t)
    except ArithmeticError:
        pass
    return text


def _path_from_cell(cls: str, parents: dict[str, list[str]], cells: set[str]) -> list[str]:
    """Class keys from the first cell class (or node function) down to `cls`."""
    best: list[str] | None = None
    pending = [[cls]]
    seen = {cls}
    while pending:
        path = pending.pop(0)
        top = path[0]
        if top in cells:
            return path
        ups = parents.get(top, [])
        if not ups and best is None:
            best = path
        for p in sorted(ups):
            if p not in seen and len(path) < 16:
                seen.add(p)
                pending.append([p, *path])
    # no cell above it: from the topmost class below ManagedElement
    path = best or [cls]
    while path and path[0] in ("ManagedElement", "MeContext", "SubNetwork"):
        path = path[1:]
    return path or [cls]
