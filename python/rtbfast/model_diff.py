"""Two model releases compared (``rtbfast diff-model``): classes and attributes added, removed
and probably renamed; type, range, length, enum member, default, unit and multiplication
factor changes; flags (read-only, restricted, mandatory, lockBeforeModify, takes effect);
containment and its cardinality. With templates or a ChangeSet, which of their keys and
values a change bears on, each located.

A release is an MP XML model or a build folder, read into a
:class:`rtbfast.catalog_view.CatalogView` (all its catalog columns). Classes and attributes
are matched by name whatever MIM defines them (templates and exports name them so); where
two MIMs of one release define the same class, the first definition is compared.

**Renames** are guesses, said as such (``probably renamed``): a class removed and one added
under the same parents with close names (:data:`CLOSE`, difflib's ratio, case ignored); an
attribute removed and one added in the same class (or the class it was renamed to) with the
same type and a close name.

**Severity** says how a change bears on what was written for the old release: ``breaking``
(a template or ChangeSet that was right is refused now: a class, attribute or enum member
gone or renamed, a type changed, a range or length narrowed, an attribute newly read-only,
restricted or mandatory, a containment gone or its cardinality narrowed), ``meaning`` (the
same text now means another thing, or does more: a unit, multiplication factor, default or
enum member's value changed, lockBeforeModify newly set) or ``info``.

The comparison runs over the catalog tables (thousands of rows, not the values of a
network); the impact on templates and ChangeSets joins their rows to the changes by
(class, attribute) column-wise.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.catalog_view import CatalogView
from rtbfast.schemas import MODEL_CHANGES_SCHEMA, SEP, TEMPLATE_IMPACT_SCHEMA

CLOSE = 0.75
"""The least name similarity (difflib's ratio of the lower-case names) of a probable rename."""

ATTRIBUTE_FIELDS = (
    "mim",
    "kind",
    "base_type",
    "type_ref",
    "is_sequence",
    "ranges",
    "length_min",
    "length_max",
    "default",
    "unit",
    "multiplication_factor",
    "read_only",
    "restricted",
    "mandatory",
    "lock_before_modify",
    "takes_effect",
    "is_counter",
)

FLAGS = ("read_only", "restricted", "mandatory", "lock_before_modify")
FLAG_NAMES = {
    "read_only": "read-only",
    "restricted": "restricted",
    "mandatory": "mandatory",
    "lock_before_modify": "lockBeforeModify",
}


def load_release(path: str | os.PathLike[str], threads: int = 0) -> CatalogView:
    """A release: an MP XML model or a build folder, every catalog column read."""
    from rtbfast.output_folder import load_catalog
    from rtbfast.rules.constraints import constraint_table

    tables = load_catalog(path, threads=threads)
    return CatalogView(tables, constraint_table(tables), str(path))


@dataclass
class _Release:
    classes: dict[str, str | None]
    """class → its MIM."""
    attributes: dict[tuple[str, str], dict[str, Any]]
    enums: dict[str, dict[str, int | None]]
    """enum → member → value."""
    containment: dict[tuple[str, str], tuple[int | None, int | None]]
    parents: dict[str, set[str]] = field(default_factory=dict)


def _column(table: pa.Table | None, name: str, n: int) -> list[Any]:
    if table is None or name not in table.column_names:
        return [None] * n
    return list(table[name].to_pylist())


def _release(view: CatalogView) -> _Release:
    t = view.tables
    classes: dict[str, str | None] = {}
    ct = t.get("classes")
    if ct is not None:
        for c, m in zip(_column(ct, "class", ct.num_rows), _column(ct, "mim", ct.num_rows), strict=True):
            classes.setdefault(c, m)
    at = t.get("attributes")
    attributes: dict[tuple[str, str], dict[str, Any]] = {}
    if at is not None:
        n = at.num_rows
        cols = {f: _column(at, f, n) for f in ("class", "attribute", *ATTRIBUTE_FIELDS)}
        for i in range(n):
            key = (cols["class"][i], cols["attribute"][i])
            if key not in attributes:
                attributes[key] = {f: cols[f][i] for f in ATTRIBUTE_FIELDS}
            classes.setdefault(key[0], cols["mim"][i])
    enums: dict[str, dict[str, int | None]] = {}
    et = t.get("enum_members")
    if et is not None:
        n = et.num_rows
        for e, m, v in zip(_column(et, "enum", n), _column(et, "member", n), _column(et, "value", n), strict=True):
            enums.setdefault(e, {}).setdefault(m, v)
    containment: dict[tuple[str, str], tuple[int | None, int | None]] = {}
    parents: dict[str, set[str]] = {}
    kt = t.get("containment")
    if kt is not None:
        n = kt.num_rows
        for p, c, lo, hi in zip(
            _column(kt, "parent", n),
            _column(kt, "child", n),
            _column(kt, "card_min", n),
            _column(kt, "card_max", n),
            strict=True,
        ):
            containment.setdefault((p, c), (lo, hi))
            parents.setdefault(c, set()).add(p)
    return _Release(classes, attributes, enums, containment, parents)


def _close(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _pairs(removed: list[str], added: list[str], fits: Any) -> dict[str, str]:
    """Removed name → added name: the closest fitting pair first, each name once."""
    scored = sorted(
        ((_close(r, a), r, a) for r in removed for a in added if fits(r, a)), key=lambda s: (-s[0], s[1], s[2])
    )
    out: dict[str, str] = {}
    used: set[str] = set()
    for score, r, a in scored:
        if score < CLOSE or r in out or a in used:
            continue
        out[r] = a
        used.add(a)
    return out


def _type_text(a: dict[str, Any]) -> str:
    seq = "sequence of " if a.get("is_sequence") else ""
    kind = str(a.get("kind"))
    ref = a.get("type_ref") or a.get("base_type") or ""
    return f"{seq}{kind}" + (f" {ref}" if ref and ref != kind else "")


def _bounds(ranges: Any) -> tuple[Decimal | None, Decimal | None]:
    if not ranges:
        return None, None
    lows = [r["min"] for r in ranges if r.get("min") is not None]
    highs = [r["max"] for r in ranges if r.get("max") is not None]
    return (min(lows) if lows else None, max(highs) if highs else None)


def _range_text(ranges: Any) -> str | None:
    if not ranges:
        return None
    return ", ".join(f"{_num(r.get('min'))}..{_num(r.get('max'))}" for r in ranges)


def _shown(value: object) -> str:
    """A model value as a finding's text says it: `(none)` where the release does not give one."""
    return "(none)" if value is None or value == "" else str(value)


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


def _narrower(old: tuple[Any, Any], new: tuple[Any, Any]) -> bool:
    """Whether the bounds `new` leave out something `old` allowed."""
    (olo, ohi), (nlo, nhi) = old, new
    return bool((nlo is not None and (olo is None or nlo > olo)) or (nhi is not None and (ohi is None or nhi < ohi)))


class _Changes:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        change: str,
        severity: str,
        mim: str | None,
        cls: str,
        message: str,
        *,
        attribute: str | None = None,
        member: str | None = None,
        old: Any = None,
        new: Any = None,
    ) -> None:
        self.rows.append(
            {
                "change": change,
                "severity": severity,
                "mim": mim,
                "class": cls,
                "attribute": attribute,
                "member": member,
                "old": None if old is None else str(old),
                "new": None if new is None else str(new),
                "message": message,
            }
        )


def diff_models(old_view: CatalogView, new_view: CatalogView) -> pa.Table:
    """Every difference between the release `old_view` and the release `new_view`
    (:data:`rtbfast.schemas.MODEL_CHANGES_SCHEMA`), by class, attribute and change."""
    old, new = _release(old_view), _release(new_view)
    out = _Changes()
    removed = sorted(set(old.classes) - set(new.classes))
    added = sorted(set(new.classes) - set(old.classes))
    renamed = _pairs(
        removed,
        added,
        lambda r, a: bool(old.parents.get(r)) and old.parents.get(r) == new.parents.get(a),
    )
    for r in removed:
        if r in renamed:
            a = renamed[r]
            out.add(
                "class_renamed",
                "breaking",
                new.classes.get(a),
                r,
                f"class {r} probably renamed {a} (same parents, close name)",
                old=r,
                new=a,
            )
        else:
            out.add("class_removed", "breaking", old.classes.get(r), r, f"class {r} removed")
    for a in added:
        if a not in renamed.values():
            out.add("class_added", "info", new.classes.get(a), a, f"class {a} added", new=a)

    # attributes, per class of both releases (a renamed class compared with its new name)
    old_by_class: dict[str, list[str]] = {}
    for c, at in old.attributes:
        old_by_class.setdefault(c, []).append(at)
    new_by_class: dict[str, list[str]] = {}
    for c, at in new.attributes:
        new_by_class.setdefault(c, []).append(at)
    pairs = [(c, c) for c in sorted(set(old.classes) & set(new.classes))] + sorted(renamed.items())
    for oc, nc in pairs:
        olds, news = set(old_by_class.get(oc, [])), set(new_by_class.get(nc, []))
        gone, came = sorted(olds - news), sorted(news - olds)
        moved = _pairs(
            gone,
            came,
            lambda r, a, oc=oc, nc=nc: _type_text(old.attributes[(oc, r)]) == _type_text(new.attributes[(nc, a)]),
        )
        for r in gone:
            mim = old.attributes[(oc, r)].get("mim")
            if r in moved:
                out.add(
                    "attribute_renamed",
                    "breaking",
                    new.attributes[(nc, moved[r])].get("mim"),
                    oc,
                    f"{oc}.{r} probably renamed {nc}.{moved[r]} (same type, close name)",
                    attribute=r,
                    old=r,
                    new=moved[r],
                )
            else:
                out.add("attribute_removed", "breaking", mim, oc, f"{oc}.{r} removed", attribute=r)
        for a in came:
            if a in moved.values():
                continue
            attr = new.attributes[(nc, a)]
            mandatory = bool(attr.get("mandatory"))
            out.add(
                "attribute_added",
                "breaking" if mandatory else "info",
                attr.get("mim"),
                nc,
                f"{nc}.{a} added" + (" (mandatory: a create must now give it)" if mandatory else ""),
                attribute=a,
            )
        for at in sorted(olds & news):
            _attribute_changes(out, nc, at, old.attributes[(oc, at)], new.attributes[(nc, at)], old, new)
    _containment_changes(out, old, new, renamed)
    table = pa.Table.from_pylist(out.rows, schema=MODEL_CHANGES_SCHEMA)
    return table


def _attribute_changes(
    out: _Changes, cls: str, at: str, a: dict[str, Any], b: dict[str, Any], old: _Release, new: _Release
) -> None:
    mim = b.get("mim")
    where = f"{cls}.{at}"
    if _type_text(a) != _type_text(b):
        out.add("type", "breaking", mim, cls, f"{where}: type {_type_text(a)} → {_type_text(b)}", attribute=at,
                old=_type_text(a), new=_type_text(b))  # fmt: skip
    if _range_text(a.get("ranges")) != _range_text(b.get("ranges")):
        narrower = _narrower(_bounds(a.get("ranges")), _bounds(b.get("ranges")))
        out.add(
            "range",
            "breaking" if narrower else "info",
            mim,
            cls,
            f"{where}: range {_range_text(a.get('ranges')) or 'none'} → {_range_text(b.get('ranges')) or 'none'}"
            + (" (narrower: values valid before may be refused)" if narrower else ""),
            attribute=at,
            old=_range_text(a.get("ranges")),
            new=_range_text(b.get("ranges")),
        )
    la, lb = (a.get("length_min"), a.get("length_max")), (b.get("length_min"), b.get("length_max"))
    if la != lb:
        narrower = _narrower(la, lb)
        out.add(
            "length",
            "breaking" if narrower else "info",
            mim,
            cls,
            f"{where}: length {_num(la[0])}..{_num(la[1])} → {_num(lb[0])}..{_num(lb[1])}",
            attribute=at,
            old=f"{_num(la[0])}..{_num(la[1])}",
            new=f"{_num(lb[0])}..{_num(lb[1])}",
        )
    for name, label in (("default", "default"), ("unit", "unit"), ("multiplication_factor", "multiplication factor")):
        va, vb = a.get(name), b.get(name)
        if (va or None) != (vb or None):
            out.add(
                name, "meaning", mim, cls, f"{where}: {label} {_shown(va)} → {_shown(vb)}", attribute=at, old=va, new=vb
            )
    for flag in FLAGS:
        fa, fb = bool(a.get(flag)), bool(b.get(flag))
        if fa == fb:
            continue
        if fb:
            severity = "meaning" if flag == "lock_before_modify" else "breaking"
            text = f"{where}: now {FLAG_NAMES[flag]}"
        else:
            severity, text = "info", f"{where}: no longer {FLAG_NAMES[flag]}"
        out.add(flag, severity, mim, cls, text, attribute=at, old=str(fa).lower(), new=str(fb).lower())
    if (a.get("takes_effect") or None) != (b.get("takes_effect") or None):
        out.add(
            "takes_effect",
            "info",
            mim,
            cls,
            f"{where}: takes effect {_shown(a.get('takes_effect'))} → {_shown(b.get('takes_effect'))}",
            attribute=at,
            old=a.get("takes_effect"),
            new=b.get("takes_effect"),
        )
    if a.get("kind") == "enum" and b.get("kind") == "enum" and a.get("type_ref") and b.get("type_ref"):
        ma, mb = old.enums.get(a["type_ref"], {}), new.enums.get(b["type_ref"], {})
        for m in sorted(set(ma) - set(mb)):
            out.add("enum_member_removed", "breaking", mim, cls, f"{where}: enum member {m} removed", attribute=at,
                    member=m, old=m)  # fmt: skip
        for m in sorted(set(mb) - set(ma)):
            out.add("enum_member_added", "info", mim, cls, f"{where}: enum member {m} added", attribute=at,
                    member=m, new=m)  # fmt: skip
        for m in sorted(set(ma) & set(mb)):
            if ma[m] != mb[m]:
                out.add("enum_value", "meaning", mim, cls, f"{where}: enum member {m} is {mb[m]} (was {ma[m]})",
                        attribute=at, member=m, old=ma[m], new=mb[m])  # fmt: skip


def _containment_changes(out: _Changes, old: _Release, new: _Release, renamed: dict[str, str]) -> None:
    """Containment compared with renamed classes under their new names."""
    before = {(renamed.get(p, p), renamed.get(c, c)): card for (p, c), card in old.containment.items()}
    old = _Release(old.classes, old.attributes, old.enums, before, old.parents)
    for p, c in sorted(set(old.containment) - set(new.containment)):
        out.add("containment_removed", "breaking", new.classes.get(p) or old.classes.get(p), p,
                f"{c} no longer contained in {p}", member=c)  # fmt: skip
    for p, c in sorted(set(new.containment) - set(old.containment)):
        out.add("containment_added", "info", new.classes.get(p), p, f"{c} now contained in {p}", member=c)
    for key in sorted(set(old.containment) & set(new.containment)):
        (alo, ahi), (blo, bhi) = old.containment[key], new.containment[key]
        if (alo, ahi) == (blo, bhi):
            continue
        narrower = _narrower((alo, ahi), (blo, bhi))
        p, c = key
        out.add(
            "cardinality",
            "breaking" if narrower else "info",
            new.classes.get(p),
            p,
            f"{c} in {p}: cardinality {_num(alo)}..{_num(ahi)} → {_num(blo)}..{_num(bhi)}",
            member=c,
            old=f"{_num(alo)}..{_num(ahi)}",
            new=f"{_num(blo)}..{_num(bhi)}",
        )


# -- what the changes bear on: templates and ChangeSets ------------------------------------


def impacts(rows: pa.Table, changes: pa.Table) -> pa.Table:
    """The `rows` (``template``, ``path``, ``line``, ``column``, ``class``, ``attribute``,
    ``member``, ``value``; one per key or value a template or ChangeSet writes, ``attribute``
    null for an MO's own key) a ``breaking`` or ``meaning`` change bears on, joined
    column-wise: a class change on every row of the class, an attribute change on every value
    of the attribute, an enum member's removal only on values naming it, a containment change
    on the MOs of the child class."""
    bearing = changes.filter(pc.is_in(changes["severity"], value_set=pa.array(["breaking", "meaning"])))
    parts: list[pa.Table] = []
    if not rows.num_rows or not bearing.num_rows:
        return TEMPLATE_IMPACT_SCHEMA.empty_table()
    cls_key = rows["class"]
    attr_key = pc.binary_join_element_wise(rows["class"], pc.fill_null(rows["attribute"], ""), SEP)
    value_key = pc.binary_join_element_wise(attr_key, pc.fill_null(rows["value"], ""), SEP)

    def joined(mask_rows: Any, on: Any, by: pa.Table, by_key: Any) -> None:
        at = pc.index_in(on, value_set=by_key)
        hit = pc.and_(pc.is_valid(at), mask_rows)
        if not pc.any(hit).as_py():
            return
        picked = rows.filter(hit)
        which = pc.take(by, pc.filter(at, hit))
        parts.append(
            pa.table(
                {
                    "template": picked["template"],
                    "path": picked["path"],
                    "line": picked["line"],
                    "column": picked["column"],
                    "severity": which["severity"],
                    "change": which["change"],
                    "class": picked["class"],
                    "attribute": picked["attribute"],
                    "value": picked["value"],
                    "message": which["message"],
                }
            )
        )

    # class changes: every row of the class; containment gone: the child class's MOs
    by_class = bearing.filter(
        pc.and_(
            pc.is_null(bearing["attribute"]),
            pc.is_in(bearing["change"], value_set=pa.array(["class_removed", "class_renamed"])),
        )
    )
    joined(pc.is_null(rows["attribute"]), cls_key, by_class, by_class["class"])
    held = bearing.filter(pc.is_in(bearing["change"], value_set=pa.array(["containment_removed", "cardinality"])))
    joined(pc.is_null(rows["attribute"]), cls_key, held, held["member"])
    # attribute changes (not per enum member): every value of the attribute
    on_attr = bearing.filter(pc.and_(pc.is_valid(bearing["attribute"]), pc.is_null(bearing["member"])))
    # one row per attribute: the most severe change first, every change and message said
    on_attr = on_attr.sort_by([("severity", "ascending")]).group_by(["class", "attribute"], use_threads=False)
    on_attr = on_attr.aggregate([("severity", "first"), ("change", "list"), ("message", "list")])
    on_attr = pa.table(
        {
            "class": on_attr["class"],
            "attribute": on_attr["attribute"],
            "severity": on_attr["severity_first"],
            "change": pc.binary_join(on_attr["change_list"], ","),
            "message": pc.binary_join(on_attr["message_list"], "; "),
        }
    )
    joined(pc.is_valid(rows["attribute"]), attr_key,
           on_attr, pc.binary_join_element_wise(on_attr["class"], on_attr["attribute"], SEP))  # fmt: skip
    # enum members: the values naming them
    members = bearing.filter(pc.and_(pc.is_valid(bearing["attribute"]), pc.is_valid(bearing["member"])))
    if members.num_rows:
        keys = pc.binary_join_element_wise(members["class"], members["attribute"], members["member"], SEP)
        joined(pc.is_valid(rows["attribute"]), value_key, members, keys)
    if not parts:
        return TEMPLATE_IMPACT_SCHEMA.empty_table()
    out = pa.concat_tables([p.cast(TEMPLATE_IMPACT_SCHEMA) for p in parts])
    out = _outside_new_bounds(out, bearing)
    return out.sort_by(
        [("template", "ascending"), ("line", "ascending"), ("column", "ascending"), ("path", "ascending")]
    )


def _outside_new_bounds(found: pa.Table, changes: pa.Table) -> pa.Table:
    """`found` without the values a narrowed range or length does not touch: a number still
    inside the new range, a text still inside the new length (the few rows a range change
    bears on are judged one by one)."""
    narrowed = changes.filter(pc.is_in(changes["change"], value_set=pa.array(["range", "length"])))
    if not narrowed.num_rows:
        return found
    bounds = {
        (r["class"], r["attribute"], r["change"]): r["new"]
        for r in narrowed.select(["class", "attribute", "change", "new"]).to_pylist()
    }
    keep = []
    for r in found.select(["change", "class", "attribute", "value"]).to_pylist():
        new = bounds.get((r["class"], r["attribute"], r["change"]))
        if new is None or r["value"] is None:
            keep.append(True)
            continue
        if r["change"] == "range":
            try:
                number: Decimal | None = Decimal(r["value"])
            except ArithmeticError:
                number = None
            inside = number is not None and any(_within(number, part) for part in new.split(", "))
        else:
            inside = _within(Decimal(len(r["value"])), new)
        keep.append(not inside)
    return found.filter(pa.array(keep, pa.bool_()))


def _within(number: Decimal, bounds: str) -> bool:
    low, _, high = bounds.partition("..")
    try:
        return (not low or number >= Decimal(low)) and (not high or number <= Decimal(high))
    except ArithmeticError:
        return False


def template_rows(paths: Sequence[str], threads: int = 0, unread: list[str] | None = None) -> pa.Table:
    """Every MO key and value of the templates at `paths` (files, folders, globs), read by the
    template reader ``rtbfast templates check`` uses: template file, JSON pointer, line and
    column (RTB JSON templates; a typed template's rows point into the RTB template it
    compiles to and carry no line), class, attribute, member, value. A template that does not
    read as one (not JSON), or the parts of one that do not (a key of no grammar, a bound
    passed), give no row: each such problem, located, is added to `unread`."""
    if unread is None:
        unread = []
    from rtbfast import _native
    from rtbfast.templates.check import check_templates
    from rtbfast.templates.files import template_files

    files = [str(p) for p in template_files(paths)]
    empty = pa.table(
        {
            n: pa.array([], t)
            for n, t in (
                ("template", pa.string()),
                ("path", pa.string()),
                ("line", pa.int32()),
                ("column", pa.int32()),
                ("class", pa.string()),
                ("attribute", pa.string()),
                ("member", pa.string()),
                ("value", pa.string()),
            )
        }
    )
    if not files:
        return empty
    # the read of the check, against an empty catalog: only its tables are used
    checked = check_templates(files, CatalogView.of({}), threads=threads, dynamic=False)
    tables = checked.tables
    # what does not read (not JSON, a key of no grammar, a bound passed) is an input error,
    # located, for the caller to say; the names are not judged here (the catalog is empty)
    problems = tables["problems"]
    codes = {"json", "document", "limit"} | set(
        problems.filter(pc.equal(problems["severity"], "error"))["code"].to_pylist()
    )
    f = checked.findings
    bad = f.filter(pc.and_(pc.equal(f["severity"], "error"), pc.is_in(f["code"], value_set=pa.array(sorted(codes)))))
    for r in bad.select(["template", "line", "column", "message"]).to_pylist():
        unread.append(f"{r['template']}:{r['line'] or 0}:{r['column'] or 0}: {r['message']}")
    mos, values = tables["mos"], tables["values"]

    def text(column: Any) -> Any:
        return pc.cast(column, pa.string()) if pa.types.is_dictionary(column.type) else column

    mo_class = text(mos["class"])
    names = pa.array(files, pa.string())
    mo_rows = pa.table(
        {
            "t": mos["template"],
            "path": text(mos["path"]),
            "class": mo_class,
            "attribute": pa.nulls(mos.num_rows, pa.string()),
            "member": pa.nulls(mos.num_rows, pa.string()),
            "value": pa.nulls(mos.num_rows, pa.string()),
        }
    )
    value_rows = pa.table(
        {
            "t": values["template"],
            "path": text(values["path"]),
            "class": pc.take(mo_class, values["mo"]),
            "attribute": text(values["attribute"]),
            "member": text(values["member"]),
            "value": text(values["value"]),
        }
    )
    both = pa.concat_tables([mo_rows, value_rows]).filter(pc.is_valid(pc.field("class")))
    lines: list[int | None] = [None] * both.num_rows
    columns: list[int | None] = [None] * both.num_rows
    t_list, p_list = both["t"].to_pylist(), both["path"].to_pylist()
    by_file: dict[int, list[int]] = {}
    for i, t in enumerate(t_list):
        if files[t].lower().endswith(".json"):
            by_file.setdefault(t, []).append(i)
    if by_file:
        spots = _native.locate_many([(files[t], [p_list[i] or "" for i in rows]) for t, rows in by_file.items()])
        for rows_of, found in zip(by_file.values(), spots, strict=True):
            for i, (ln, col) in zip(rows_of, found, strict=True):
                lines[i], columns[i] = ln, col
    return pa.table(
        {
            "template": pc.take(names, both["t"]),
            "path": both["path"],
            "line": pa.array(lines, pa.int32()),
            "column": pa.array(columns, pa.int32()),
            "class": both["class"],
            "attribute": both["attribute"],
            "member": both["member"],
            "value": both["value"],
        }
    )


def changeset_rows(path: str | os.PathLike[str]) -> pa.Table:
    """Every row of a ChangeSet that names a class, as impact rows: the ChangeSet file, the
    row's source as its place."""
    from rtbfast.changeset import read_changeset

    table, _ = read_changeset(path)
    n = table.num_rows
    where = pc.fill_null(table["source"], pc.binary_join_element_wise("row ", pc.cast(table["seq"], pa.string()), ""))
    return pa.table(
        {
            "template": pa.array([str(Path(path))] * n, pa.string()),
            "path": where,
            "line": pa.nulls(n, pa.int32()),
            "column": pa.nulls(n, pa.int32()),
            "class": table["class"],
            "attribute": table["attribute"],
            "member": table["member"],
            "value": table["value"],
        }
    )


CHANGE_COLUMNS = ("severity", "change", "class", "attribute", "member", "old", "new", "message")
IMPACT_COLUMNS = ("severity", "template", "line", "column", "path", "change", "class", "attribute", "value", "message")


def write_model_diff_folder(
    changes: pa.Table,
    impact: pa.Table | None,
    out: str | os.PathLike[str],
    report: dict[str, Any],
    inputs: list[Any],
    *,
    xlsx: bool = False,
) -> None:
    """``changes`` (and ``impacts``) as Parquet and CSV, ``diff-model.html`` and
    ``diff-model.json`` into the folder `out`, written aside and swapped in; with `xlsx`, the
    workbook ``diff-model.xlsx`` (:mod:`rtbfast.excel`)."""
    import json

    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from rtbfast.html_report import bar_chart, cards, charts, data_table, escape, page, ranked_first
    from rtbfast.output_folder import written_aside

    with written_aside(out, "diff-model", inputs=inputs) as staging:
        pq.write_table(changes, staging / "changes.parquet", compression="zstd")
        pcsv.write_csv(changes, staging / "changes.csv")
        by_class = counts(changes, "class") if changes.num_rows else {}
        parts = [
            cards([(k, v, k) for k, v in report["by_severity"].items()]),
            charts(
                [
                    bar_chart("Changes by severity", report["by_severity"]),
                    bar_chart("Changes by kind", report["by_change"]),
                    bar_chart("Changes by class", by_class, total=changes.num_rows),
                ]
            ),
        ]
        if impact is not None:
            pq.write_table(impact, staging / "impacts.parquet", compression="zstd")
            pcsv.write_csv(impact, staging / "impacts.csv")
            bearing = bar_chart("Templates and ChangeSets: keys and values by severity", report["impacts"])
            parts.append(charts([bearing]))
            parts.append(
                data_table(
                    "Where the changes bear",
                    ranked_first(impact, "severity", ["breaking", "meaning", "info"]),
                    IMPACT_COLUMNS,
                    severity="severity",
                    total=impact.num_rows,
                    files="impacts.parquet and impacts.csv",
                    table_id="impacts",
                )
            )
        shown = ranked_first(changes, "severity", ["breaking", "meaning", "info"], ["class"])
        parts.append(
            data_table(
                "Changes",
                shown,
                CHANGE_COLUMNS,
                severity="severity",
                total=changes.num_rows,
                files="changes.parquet and changes.csv",
                table_id="changes",
            )
        )
        intro = f"From {escape(report['old'])} to {escape(report['new'])}: {changes.num_rows:,} change(s)."
        (staging / "diff-model.html").write_text(page("rtbfast diff-model", intro, parts), encoding="utf-8")
        (staging / "diff-model.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if xlsx:
            from rtbfast.excel import folder_xlsx

            folder_xlsx(staging, command="diff-model")


def counts(table: pa.Table, column: str) -> dict[str, int]:
    if not table.num_rows:
        return {}
    c = table.group_by(column, use_threads=False).aggregate([(column, "count")]).sort_by(f"{column}_count")
    pairs = zip(c[column].to_pylist(), c[f"{column}_count"].to_pylist(), strict=True)
    return dict(sorted(((str(k), int(v)) for k, v in pairs), key=lambda kv: -kv[1]))
