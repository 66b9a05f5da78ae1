"""Uniqueness rules over a Network: the values of some attributes (``earfcndl`` and
``physicalLayerCellId``) must not repeat among the MOs of a class within a scope (the node,
or the parent MO). Group-bys over Arrow; no per-value Python loop."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.schemas import VIOLATIONS_SCHEMA


def _scope_of(fdns: pa.Array, parents: pa.Array, scope: str) -> pa.Array:
    if scope == "parent":
        return pc.fill_null(parents, "")
    # the node: the FDN up to its MeContext (or ManagedElement) RDN
    found = pc.extract_regex(fdns, r"^(?P<node>.*?(?:MeContext|ManagedElement)=[^,]*)")
    return pc.fill_null(pc.struct_field(found, "node"), "")


def scope_in_one_node(mos: pa.Table, scope: str) -> pa.Array:
    """For each MO of `mos`, whether its uniqueness scope (``node`` or ``parent``) lies within
    one node (:mod:`rtbfast.enm.node_groups`): then every MO it is compared with is in that
    node too. The others (MOs above every node, a node's root MO under ``parent`` scope) are
    compared across nodes."""
    from rtbfast.enm.node_groups import node_keys

    if mos.num_rows == 0:
        return pa.array([], pa.bool_())
    if scope == "parent":
        if "parent_fdn" not in mos.column_names:
            return pa.array([False] * mos.num_rows, pa.bool_())
        placed = node_keys(pc.fill_null(mos.column("parent_fdn"), ""))
    else:
        placed = node_keys(mos.column("fdn"))
    return pc.is_valid(placed).combine_chunks()


def unique_violations(
    tables: dict[str, pa.Table], cls: str, attributes: list[str], scope: str, rule: str, severity: str = "warning"
) -> pa.Table:
    """One violation per MO of `cls` whose values of `attributes` (all set) repeat another MO's
    within `scope` (``node`` or ``parent``)."""
    mos = tables["mos"].filter(pc.equal(tables["mos"].column("class"), cls))
    if mos.num_rows == 0:
        return VIOLATIONS_SCHEMA.empty_table()
    values = tables["values"]
    fdn = values.column("fdn").cast(pa.string())
    attribute = values.column("attribute").cast(pa.string())
    base = pa.table({"fdn": mos.column("fdn")})
    for name in attributes:
        mask = pc.and_(pc.equal(attribute, name), pc.is_in(fdn, mos.column("fdn")))
        picked = pa.table({"fdn": pc.filter(fdn, mask), name: pc.filter(values.column("value"), mask)})
        base = base.join(picked, "fdn", join_type="inner")
    if base.num_rows == 0:
        return VIOLATIONS_SCHEMA.empty_table()
    parents = mos.select(["fdn", "parent_fdn"]) if "parent_fdn" in mos.column_names else None
    if parents is not None:
        base = base.join(parents, "fdn", join_type="left outer")
    parent_column = base.column("parent_fdn") if parents is not None else pa.nulls(base.num_rows, pa.string())
    base = base.append_column("scope", _scope_of(base.column("fdn"), parent_column, scope))
    keys = ["scope", *attributes]
    counts = base.group_by(keys).aggregate([("fdn", "count")])
    repeated = counts.filter(pc.greater(counts.column("fdn_count"), 1))
    hits = base.join(repeated, keys, join_type="inner").sort_by([("fdn", "ascending")])
    n = hits.num_rows
    shown = pc.binary_join_element_wise(
        *[pc.binary_join_element_wise(f"{a}=", hits.column(a), "") for a in attributes], ", "
    )
    where = "the node" if scope == "node" else "its parent"
    message = pc.binary_join_element_wise(shown, f" is used by another {cls} in {where}; it must be unique", "")
    return pa.table(
        {
            "subject": hits.column("fdn"),
            "class": pa.array([cls] * n, pa.string()),
            "attribute": pa.array([attributes[0]] * n, pa.string()),
            "member": pa.nulls(n, pa.string()),
            "index": pa.nulls(n, pa.int32()),
            "rule": pa.array([rule] * n, pa.string()),
            "severity": pa.array([severity] * n, pa.string()),
            "message": message,
            "value": shown,
            "expected": pa.array([f"unique {' + '.join(attributes)} within {where}"] * n, pa.string()),
        },
        schema=VIOLATIONS_SCHEMA,
    )
