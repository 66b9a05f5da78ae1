"""A template expanded: the ChangeSet of an expansion written back as a plain template, so it
can be exported, reviewed and kept like any other.

Each target cell gets one ``$cond`` (``cell.dn == "<its DN>"``) holding exactly the MOs and
values expansion made for it: ``Class-Id`` keys from the cell (or from the ancestor or node
function the MO sits under), values back in engineering units (raw times the multiplication factor)
and moRefs in the slash form, ``"__delete__"`` for deletes, ``"__unset__"`` for unsets, ``[]``
for an emptied sequence, phases as ``$plans``. Expanding it over the same targets gives the
same changes.
"""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from rtbfast.catalog_view import CatalogView
from rtbfast.changeset import EMPTIED
from rtbfast.network_index import slash_dn
from rtbfast.schemas import SEP
from rtbfast.templates.expand import Expansion
from rtbfast.templates.tree import DELETE, JsonObject, JsonValue, Template, read_template, template_json
from rtbfast.templates.units import to_engineering

UNSET = "__unset__"


def _rdns(fdn: str) -> list[tuple[str, str]]:
    return [tuple(r.split("=", 1)) for r in fdn.split(",")]  # type: ignore[misc]


def _child(node: JsonObject, key: str) -> JsonObject:
    found = node.get(key)
    if isinstance(found, JsonObject):
        return found
    made = JsonObject([])
    node.pairs.append((key, made))
    return made


def _set(node: JsonObject, key: str, value: JsonValue) -> None:
    for i, (k, _) in enumerate(node.pairs):
        if k == key:
            node.pairs[i] = (key, value)
            return
    node.pairs.append((key, value))


class _Values:
    """A row's value back as a template writes it."""

    def __init__(self, catalog: CatalogView | None) -> None:
        self.factors: dict[str, Decimal] = {}
        self.morefs: set[tuple[str, str]] = set()
        if catalog is not None:
            for key, factor in zip(
                catalog.factors["key"].to_pylist(), catalog.factors["factor"].to_pylist(), strict=True
            ):
                self.factors[key] = Decimal(factor)
            attrs = catalog.tables.get("attributes")
            if attrs is not None:
                for c, a, k in zip(
                    attrs["class"].to_pylist(), attrs["attribute"].to_pylist(), attrs["kind"].to_pylist(), strict=True
                ):
                    if k == "moref":
                        self.morefs.add((c, a))

    def __call__(self, cls: str, attribute: str, member: str | None, value: str) -> str:
        factor = self.factors.get(SEP.join((cls, attribute, member or "")))
        if factor is not None:
            shown = to_engineering(value, factor)
            if shown is not None:
                return shown
        if member is None and (cls, attribute) in self.morefs and "=" in value:
            return slash_dn(value)
        return value


def _place(cell: str, fdn: str) -> list[str]:
    """The keys leading from a target cell to the MO at `fdn`."""
    cell_rdns, rdns = _rdns(cell), _rdns(fdn)
    if fdn == cell or fdn.startswith(cell + ","):
        return [cell_rdns[-1][0], *(f"{c}-{i}" for c, i in rdns[len(cell_rdns) :])]
    common = 0
    while common < min(len(cell_rdns), len(rdns)) and cell_rdns[common] == rdns[common]:
        common += 1
    if common == 0:
        raise ValueError(f"{fdn} is not under the node of the target {cell}")
    return [rdns[common - 1][0], *(f"{c}-{i}" for c, i in rdns[common:])]


def _fragments_of(rows: list[dict[str, Any]], cell: str, values: _Values) -> JsonObject:
    """One target's rows as a tree relative to the cell."""
    tree = JsonObject([])
    structs: dict[tuple[str, str], dict[int, Any]] = {}
    for r in rows:
        keys = _place(cell, r["fdn"])
        node = tree
        for k in keys[:-1]:
            node = _child(node, k)
        if r["op"] == "delete":
            _set(node, keys[-1], DELETE)
            continue
        mo = _child(node, keys[-1])
        attribute = r["attribute"]
        if attribute is None:
            continue
        if r["value"] is None:
            _set(mo, attribute, [] if r["index"] == EMPTIED else UNSET)
            continue
        text = values(r["class"], attribute, r["member"], r["value"])
        if r["member"] is None and not r["sequence"]:
            _set(mo, attribute, text)
            continue
        items = structs.setdefault((r["fdn"], attribute), {})
        index = r["index"] or 0
        if r["member"] is None:
            items[index] = text
        else:
            item = items.setdefault(index, JsonObject([]))
            *outer, last = r["member"].split(".")
            for name in outer:
                item = _child(item, name)
            _set(item, last, text)
        listed = [items[i] for i in sorted(items)]
        _set(mo, attribute, listed if r["sequence"] else listed[0])
    return tree


def expanded_template(template: Template, expansion: Expansion, catalog: CatalogView | None = None) -> Template:
    """The ChangeSet of `expansion` (of `template`) as a plain template, read back as one."""
    values = _Values(catalog)
    changes = expansion.changes.to_pylist()
    sequences: set[tuple[str, str]] = set()
    counts: dict[tuple[str, str, str], set[int]] = {}
    for r in changes:
        if r["attribute"] is not None and r["index"] is not None:
            counts.setdefault((r["target"], r["fdn"], r["attribute"]), set()).add(r["index"])
    for (_, fdn, attribute), indexes in counts.items():
        if len(indexes) > 1 or any(i > 0 or i == EMPTIED for i in indexes):
            sequences.add((fdn, attribute))
    if catalog is not None and "is_sequence" in catalog.constraints.table.column_names:
        c = catalog.constraints.table
        declared = {
            (cls, a)
            for cls, a, seq, m in zip(
                c["class"].to_pylist(),
                c["attribute"].to_pylist(),
                c["is_sequence"].to_pylist(),
                c["member"].to_pylist(),
                strict=True,
            )
            if seq and m is None
        }
    else:
        declared = set()
    for r in changes:
        r["sequence"] = (r["fdn"], r["attribute"]) in sequences or (r["class"], r["attribute"]) in declared
    by_target: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in changes:
        by_target.setdefault(r["target"] or "", {}).setdefault(r["phase"], []).append(r)
    raw: list[JsonValue] = []
    meta = JsonObject(
        [
            ("description", f"{template.path} expanded over {len(expansion.targets)} target(s)"),
            ("expanded_from", str(template.path)),
        ]
    )
    plan_order = [p for p in dict.fromkeys(r["phase"] for r in changes) if p != "default"]
    if plan_order:
        meta.pairs.append(("plan_order", list(plan_order)))
    raw.append(JsonObject([("$meta", meta)]))
    for target in expansion.targets:
        phases = by_target.get(target, {})
        then: list[JsonValue] = []
        for phase, rows in phases.items():
            tree = _fragments_of(rows, target, values)
            if phase == "default":
                then.extend(JsonObject([pair]) for pair in tree.pairs)
            else:
                then.append(
                    JsonObject([("$plans", JsonObject([(phase, [JsonObject([pair]) for pair in tree.pairs])]))])
                )
        if not then:
            continue
        test = f"cell.dn == {json.dumps(slash_dn(target), ensure_ascii=False)}"
        raw.append(JsonObject([("$cond", JsonObject([("if", test), ("then", then)]))]))
    with tempfile.TemporaryDirectory(prefix="rtbfast-expanded-") as tmp:
        path = Path(tmp) / f"{Path(template.path).stem}.expanded.json"
        path.write_text(template_json(raw), encoding="utf-8")
        expanded = read_template(path)
    expanded.path = Path(f"{template.path} (expanded)")
    return expanded
