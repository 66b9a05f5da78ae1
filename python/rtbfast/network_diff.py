"""Two networks compared (``rtbfast diff``), column-wise on Arrow: the MOs only one holds, the
attributes whose whole value differs, relations per parent (neighbour relations per
frequency), counts per node, class and attribute, and the ChangeSet that takes one back to
the other (planned as any ChangeSet, :mod:`rtbfast.enm.planning`).

An attribute's **whole value** (:func:`attribute_values`) is its items and struct members in
order, compared as one text, so that an item inserted into a sequence is one change of the
attribute, not one per item after it. An empty text is no value (an export writes an unset
attribute as an empty element). :func:`value_changes` is the per-row view (the simulator's
tests read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.changeset import in_one_phase
from rtbfast.network_index import is_in_column
from rtbfast.schemas import (
    CHANGESET_SCHEMA,
    DIFF_COUNTS_SCHEMA,
    NETWORK_CHANGES_SCHEMA,
    NETWORK_DIFF_MOS_SCHEMA,
    NETWORK_DIFF_VALUES_SCHEMA,
    RELATION_CHANGES_SCHEMA,
    SEP,
)

if TYPE_CHECKING:
    from rtbfast.catalog_view import CatalogView

ITEM_SEP = "\x1e"
VALUE_SEP = "\x1d"
"""Join the parts of an item and the items of a value in a signature: C0 controls, which no
value of an export (XML 1.0) or of a plan (refused by every dialect) holds."""


def plain(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A dictionary-encoded column as plain text."""
    return pc.cast(column, pa.string()) if pa.types.is_dictionary(column.type) else column


def plain_values(values: pa.Table) -> pa.Table:
    """A network's (or plan's) value rows as plain ``fdn``, ``attribute``, ``member``,
    ``index``, ``value``."""
    return pa.table(
        {
            "fdn": plain(values["fdn"]),
            "attribute": plain(values["attribute"]),
            "member": plain(values["member"]),
            "index": pc.cast(values["index"], pa.int32()),
            "value": plain(values["value"]),
        }
    )


def attribute_key(fdn: Any, attribute: Any) -> Any:
    return pc.binary_join_element_wise(fdn, attribute, SEP)


def _whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def attribute_values(
    rows: pa.Table, value: str = "value", shown: str | None = None, *, names: tuple[pa.Array, pa.Array] | None = None
) -> pa.Table:
    """One row per (fdn, attribute) of `rows` (``fdn``, ``attribute``, ``member``, ``index``,
    plain or dictionary-encoded, and the column `value`): ``key`` (fdn and attribute joined
    by :data:`rtbfast.schemas.SEP`), ``sig`` (the whole value as one comparable text, items
    by index, members by name; null and empty texts left out, so an attribute with no value
    has the signature ``""``) and ``shown`` (the value for people, from the column `shown`,
    else `value`: ``member=value`` items joined by ``, ``, in brackets when there are
    several), and ``code``: the attribute's code, FDN and attribute numbered in `names` (the
    distinct FDNs and attributes, :func:`distinct_texts`; by default those of `rows`), so
    tables made with the same `names` join on it. With `names`, a ``code`` column of `rows`
    is taken as that code already made (fdn's number times the number of attributes, plus
    the attribute's).

    Column-wise on integer codes: each FDN, attribute and member coded once per distinct
    text, the rows sorted by (code, index, member) and cut into one list per attribute at the
    places the code changes (no group-by, no text key per row)."""
    empty = pa.table(
        {"code": pa.array([], pa.int64()), "sig": pa.array([], pa.string()), "shown": pa.array([], pa.string())}
    )
    if not rows.num_rows:
        return empty.append_column("key", pa.array([], pa.string()))
    fdns, attrs = names if names is not None else (distinct_texts(rows["fdn"]), distinct_texts(rows["attribute"]))
    n_attr = max(len(attrs), 1)
    if names is not None and "code" in rows.column_names:  # coded already, in these names
        code = _whole(rows["code"])
    else:
        code = pc.add(pc.multiply(codes_in(rows["fdn"], fdns), n_attr), codes_in(rows["attribute"], attrs))
    every = pc.unique(code)
    text = pc.fill_null(_whole(plain(rows[value])), "")
    look = pc.fill_null(_whole(plain(rows[shown or value])), "")
    index = pc.fill_null(_whole(rows["index"]), 0)
    members = distinct_texts(rows["member"])
    member_code = codes_in(rows["member"], members)
    # members by name: the rank of each distinct member name
    member_rank = pc.fill_null(pc.take(pc.rank(members, sort_keys="ascending"), member_code), 0)
    member = pc.fill_null(pc.take(members, member_code), "")
    has = pc.not_equal(text, "")
    items = pa.table({"code": code, "index": index, "rank": member_rank, "member": member, "text": text, "look": look})
    items = items.filter(has)
    if not items.num_rows:
        out = empty
    else:
        items = items.take(
            pc.sort_indices(items, sort_keys=[("code", "ascending"), ("index", "ascending"), ("rank", "ascending")])
        )
        sorted_code = _whole(items["code"])
        n = len(sorted_code)
        starts = pc.indices_nonzero(pc.not_equal(sorted_code.slice(1), sorted_code.slice(0, n - 1)))
        offsets = pa.concat_arrays(
            [pa.array([0], pa.int32()), pc.cast(pc.add(starts, 1), pa.int32()), pa.array([n], pa.int32())]
        )
        member_col, look_col = _whole(items["member"]), _whole(items["look"])
        sig_item = pc.binary_join_element_wise(
            pc.cast(_whole(items["index"]), pa.string()), member_col, _whole(items["text"]), ITEM_SEP
        )
        shown_item = pc.if_else(
            pc.equal(member_col, ""), look_col, pc.binary_join_element_wise(member_col, look_col, "=")
        )
        sig = pc.binary_join(pa.ListArray.from_arrays(offsets, sig_item), VALUE_SEP)
        joined = pc.binary_join(pa.ListArray.from_arrays(offsets, shown_item), ", ")
        several = pc.greater(pc.subtract(offsets.slice(1), offsets.slice(0, len(offsets) - 1)), 1)
        group = pc.take(sorted_code, offsets.slice(0, len(offsets) - 1))
        out = pa.table(
            {
                "code": group,
                "sig": sig,
                "shown": pc.if_else(several, pc.binary_join_element_wise("[", joined, "]", ""), joined),
            }
        )
    none = every.filter(pc.invert(pc.is_in(every, value_set=out["code"]))) if out.num_rows else every
    if len(none):
        blank = pa.array([""] * len(none), pa.string())
        out = (
            pa.concat_tables([out, pa.table({"code": none, "sig": blank, "shown": blank})])
            if out.num_rows
            else (pa.table({"code": none, "sig": blank, "shown": blank}))
        )
    codes = _whole(out["code"])
    key = attribute_key(
        pc.take(fdns, pc.divide(codes, n_attr)),
        pc.take(attrs, pc.subtract(codes, pc.multiply(pc.divide(codes, n_attr), n_attr))),
    )
    return pa.table({"code": codes, "sig": out["sig"], "shown": out["shown"], "key": key})


def split_key(key: Any) -> tuple[Any, Any]:
    """``fdn`` and ``attribute`` of an :func:`attribute_key`."""
    parts = pc.split_pattern(key, SEP, max_splits=1)
    return pc.list_element(parts, 0), pc.list_element(parts, 1)


def node_of(fdn: Any) -> Any:
    from rtbfast.enm.dialects import node_and_ldn

    return node_and_ldn(fdn)[0] if len(fdn) else pa.array([], pa.string())


def class_of(fdn: Any) -> Any:
    """The class of each FDN (the type of its last RDN)."""
    last = pc.extract_regex(fdn, r"(?:^|,)(?P<cls>[^,=]+)=[^,]*$")
    return pc.struct_field(last, [0])


@dataclass
class NetworkDiff:
    """What differs between network A and network B."""

    mos: pa.Table
    """MOs in one network only (:data:`rtbfast.schemas.NETWORK_DIFF_MOS_SCHEMA`)."""
    values: pa.Table
    """Attributes whose whole value differs (:data:`rtbfast.schemas.NETWORK_DIFF_VALUES_SCHEMA`)."""
    relations: pa.Table
    """Relations per parent and class (:data:`rtbfast.schemas.RELATION_CHANGES_SCHEMA`), only
    where something changed."""
    counts: pa.Table
    """Per node, class and attribute (:data:`rtbfast.schemas.DIFF_COUNTS_SCHEMA`)."""
    mo_counts: tuple[int, int]
    """MOs in A, in B."""


def _mos(tables: dict[str, pa.Table]) -> pa.Table:
    mos = tables["mos"]
    return pa.table({"fdn": plain(mos["fdn"]), "class": plain(mos["class"]), "parent_fdn": plain(mos["parent_fdn"])})


def diff_networks(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> NetworkDiff:
    """Compare network `a` with network `b` (their ``mos`` and ``values`` tables)."""
    mos_a, mos_b = _mos(a), _mos(b)
    in_a = pc.is_in(mos_b["fdn"], value_set=mos_a["fdn"])
    in_b = pc.is_in(mos_a["fdn"], value_set=mos_b["fdn"])
    added = mos_b.filter(pc.invert(in_a))
    removed = mos_a.filter(pc.invert(in_b))
    parts = []
    for change, table in (("added", added), ("removed", removed)):
        parts.append(
            pa.table(
                {
                    "change": pa.array([change] * table.num_rows, pa.string()),
                    "fdn": table["fdn"],
                    "node": node_of(table["fdn"]),
                    "class": table["class"],
                    "parent_fdn": table["parent_fdn"],
                }
            )
        )
    mos = pa.concat_tables(parts).cast(NETWORK_DIFF_MOS_SCHEMA)

    both = mos_a.filter(in_b)["fdn"].combine_chunks()

    # the attributes with a value that differs, found row by row (no sort, no text key); only
    # their rows are made whole values, to show
    rows = row_changes(a["values"], b["values"], fdns=both, drop_empty=True)
    touched = pc.unique(attribute_key(rows["fdn"], rows["attribute"]))
    touched_fdns = pc.unique(rows["fdn"])

    def whole(values: pa.Table) -> pa.Table:
        mine = plain_values(values.filter(is_in_column(values["fdn"], touched_fdns)))
        return attribute_values(mine.filter(pc.is_in(attribute_key(mine["fdn"], mine["attribute"]), touched)))

    joined = whole(a["values"]).join(
        whole(b["values"]), "key", join_type="full outer", left_suffix="_a", right_suffix="_b"
    )
    sig_a, sig_b = pc.fill_null(joined["sig_a"], ""), pc.fill_null(joined["sig_b"], "")
    differs = joined.filter(pc.not_equal(sig_a, sig_b))
    sa, sb = pc.fill_null(differs["sig_a"], ""), pc.fill_null(differs["sig_b"], "")
    change = pc.if_else(pc.equal(sa, ""), "added", pc.if_else(pc.equal(sb, ""), "removed", "changed"))
    fdn, attribute = split_key(differs["key"])
    values = pa.table(
        {
            "change": change,
            "fdn": fdn,
            "node": node_of(fdn),
            "class": class_of(fdn),
            "attribute": attribute,
            "value_a": pc.if_else(pc.equal(sa, ""), pa.scalar(None, pa.string()), differs["shown_a"]),
            "value_b": pc.if_else(pc.equal(sb, ""), pa.scalar(None, pa.string()), differs["shown_b"]),
        }
    ).cast(NETWORK_DIFF_VALUES_SCHEMA)
    values = values.sort_by([("fdn", "ascending"), ("attribute", "ascending")])
    mos = mos.sort_by([("fdn", "ascending")])
    return NetworkDiff(
        mos, values, _relations(mos_a, mos_b, mos, values), _counts(mos, values), (mos_a.num_rows, mos_b.num_rows)
    )


def _relations(mos_a: pa.Table, mos_b: pa.Table, mos: pa.Table, values: pa.Table) -> pa.Table:
    """Relations per (parent, class): held in A, in B, added, removed, changed."""

    def relations(t: pa.Table) -> pa.Table:
        return t.filter(pc.ends_with(t["class"], "Relation"))

    def count(t: pa.Table, name: str) -> pa.Table:
        t = t.filter(pc.is_valid(t["parent_fdn"]))
        return (
            t.group_by(["parent_fdn", "class"], use_threads=False)
            .aggregate([("fdn", "count")])
            .rename_columns(["parent_fdn", "class", name])
        )

    changed_mos = pc.unique(values["fdn"])
    changed = relations(mos_b.filter(pc.is_in(mos_b["fdn"], value_set=changed_mos)))
    tables = [
        count(relations(mos_a), "in_a"),
        count(relations(mos_b), "in_b"),
        count(relations(mos.filter(pc.equal(mos["change"], "added"))), "added"),
        count(relations(mos.filter(pc.equal(mos["change"], "removed"))), "removed"),
        count(changed, "changed"),
    ]
    out = tables[0]
    for t in tables[1:]:
        out = out.join(t, ["parent_fdn", "class"], join_type="full outer")
    names = ["in_a", "in_b", "added", "removed", "changed"]
    for name in names:
        out = out.set_column(out.schema.get_field_index(name), name, pc.fill_null(out[name], 0))
    moved = pc.greater(pc.add(pc.add(out["added"], out["removed"]), out["changed"]), 0)
    out = out.filter(moved)
    out = out.append_column("node", node_of(out["parent_fdn"]))
    return (
        out.select(RELATION_CHANGES_SCHEMA.names)
        .cast(RELATION_CHANGES_SCHEMA)
        .sort_by([("parent_fdn", "ascending"), ("class", "ascending")])
    )


def _counts(mos: pa.Table, values: pa.Table) -> pa.Table:
    """MOs added and removed, attributes changed, per node, class and attribute."""

    def tally(column: str, table: pa.Table, name: str) -> pa.Table:
        t = table.filter(pc.is_valid(table[column]))
        return t.group_by(column, use_threads=False).aggregate([("fdn", "count")]).rename_columns(["name", name])

    added = mos.filter(pc.equal(mos["change"], "added"))
    removed = mos.filter(pc.equal(mos["change"], "removed"))
    parts = []
    for level, column in (("node", "node"), ("class", "class"), ("attribute", "attribute")):
        tables = [tally(column, values, "values_changed")]
        if column in mos.column_names:
            tables = [tally(column, added, "mos_added"), tally(column, removed, "mos_removed"), *tables]
        out = tables[0]
        for t in tables[1:]:
            out = out.join(t, "name", join_type="full outer")
        for name in ("mos_added", "mos_removed", "values_changed"):
            if name in out.column_names:
                out = out.set_column(out.schema.get_field_index(name), name, pc.fill_null(out[name], 0))
            else:
                out = out.append_column(name, pa.array([0] * out.num_rows, pa.int64()))
        out = out.append_column("level", pa.array([level] * out.num_rows, pa.string()))
        parts.append(out.select(DIFF_COUNTS_SCHEMA.names).cast(DIFF_COUNTS_SCHEMA).sort_by("name"))
    return pa.concat_tables(parts)


def codes_in(column: pa.ChunkedArray | pa.Array, universe: pa.Array) -> pa.Array:
    """Each row's position in `universe` (null where absent); a dictionary-encoded column is
    looked up once per distinct value."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            out.append(pc.take(pc.index_in(chunk.dictionary, value_set=universe), chunk.indices))
        else:
            out.append(pc.index_in(chunk, value_set=universe))
    return pa.concat_arrays([pc.cast(c, pa.int64()) for c in out]) if out else pa.array([], pa.int64())


def distinct_texts(*columns: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The distinct texts of text or dictionary columns (a dictionary's values, not its rows)."""
    parts: list[pa.Array] = []
    for column in columns:
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        for chunk in chunks:
            parts.append(chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk)
    if not parts:
        return pa.array([], pa.string())
    return pc.unique(pa.concat_arrays([pc.cast(p, pa.string()) for p in parts]))


def row_changes(a: pa.Table, b: pa.Table, *, fdns: pa.Array | None = None, drop_empty: bool = False) -> pa.Table:
    """The value rows (a network's ``values``, plain or dictionary-encoded) that differ
    between `a` and `b`, matched on (fdn, attribute, member, index) by a hash join on one
    integer key (each name coded once per distinct text): ``change`` (``added``: in `b`
    only, ``removed``, ``changed``), where, ``before`` and ``after``. `fdns`: only the rows of
    these MOs. `drop_empty`: an empty text is no value."""
    universe_fdn = fdns if fdns is not None else distinct_texts(a["fdn"], b["fdn"])
    attrs = distinct_texts(a["attribute"], b["attribute"])
    members = distinct_texts(a["member"], b["member"])
    n_attr, n_member = len(attrs) + 1, len(members) + 1

    def keyed(v: pa.Table) -> pa.Table:
        f = codes_in(v["fdn"], universe_fdn)
        keep = pc.is_valid(f)
        if drop_empty:
            keep = pc.and_(keep, pc.fill_null(pc.not_equal(v["value"], ""), False))
        v, f = v.filter(keep), f.filter(keep)
        at = codes_in(v["attribute"], attrs)
        m = pc.fill_null(pc.add(codes_in(v["member"], members), 1), 0)
        i = pc.add(pc.cast(pc.fill_null(v["index"], -1), pa.int64()), 1)
        return pa.table({"f": f, "a": at, "m": m, "i": i, "value": plain(v["value"])})

    ka, kb = keyed(a), keyed(b)
    top = max([pc.max(t["i"]).as_py() or 0 for t in (ka, kb) if t.num_rows] + [0]) + 1

    def key(t: pa.Table) -> pa.Array | pa.ChunkedArray:
        if len(universe_fdn) * n_attr * n_member * top < 2**62:  # one integer
            fa = pc.add(pc.multiply(t["f"], n_attr), t["a"])
            return pc.add(pc.multiply(pc.add(pc.multiply(fa, n_member), t["m"]), top), t["i"])
        return pc.binary_join_element_wise(*(pc.cast(t[c], pa.string()) for c in ("f", "a", "m", "i")), ".")

    key_a, key_b = key(ka), key(kb)
    # each row of a looked up in b (a hash lookup, not a join: no row is copied before the
    # few that differ are picked)
    at_b = pc.index_in(key_a, value_set=key_b)
    after = pc.take(kb["value"], at_b)
    differs = pc.or_(pc.is_null(at_b), pc.invert(pc.fill_null(pc.equal(ka["value"], after), False)))
    mine = ka.filter(differs).append_column("after", after.filter(differs))
    new = kb.filter(pc.invert(pc.is_in(key_b, value_set=key_a)))
    both = pa.concat_tables(
        [
            mine.select(["f", "a", "m", "i"])
            .append_column("before", mine["value"])
            .append_column("after", mine["after"]),
            new.select(["f", "a", "m", "i"])
            .append_column("before", pa.nulls(new.num_rows, pa.string()))
            .append_column("after", new["value"]),
        ]
    )
    m, i = both["m"], both["i"]
    member = pc.take(members, pc.if_else(pc.equal(m, 0), None, pc.subtract(m, 1)))
    index = pc.cast(pc.if_else(pc.equal(i, 0), None, pc.subtract(i, 1)), pa.int32())
    gone, made = pc.is_null(both["before"]), pc.is_null(both["after"])
    return pa.table(
        {
            "change": pc.if_else(gone, "added", pc.if_else(made, "removed", "changed")),
            "fdn": pc.take(universe_fdn, both["f"]),
            "attribute": pc.take(attrs, both["a"]),
            "member": member,
            "index": index,
            "before": both["before"],
            "after": both["after"],
        }
    ).sort_by([("fdn", "ascending"), ("attribute", "ascending"), ("member", "ascending"), ("index", "ascending")])


def value_changes(before: dict[str, pa.Table], after: dict[str, pa.Table]) -> pa.Table:
    """What changed between two networks, a row per value (:data:`NETWORK_CHANGES_SCHEMA`):
    ``change`` (``created``, ``deleted`` for an MO, one row with no attribute; ``added``,
    ``removed``, ``changed`` for a value), fdn, attribute, member, index, before, after."""
    ma, mb = _mos(before)["fdn"], _mos(after)["fdn"]
    rows = []
    for change, fdns in (
        ("created", pc.sort_indices(mb)),
        ("deleted", pc.sort_indices(ma)),
    ):
        source, other = (mb, ma) if change == "created" else (ma, mb)
        ordered = pc.take(source, fdns)
        only = ordered.filter(pc.invert(pc.is_in(ordered, value_set=other)))
        n = len(only)
        rows.append(
            pa.table(
                {
                    "change": pa.array([change] * n, pa.string()),
                    "fdn": only,
                    "attribute": pa.nulls(n, pa.string()),
                    "member": pa.nulls(n, pa.string()),
                    "index": pa.nulls(n, pa.int32()),
                    "before": pa.nulls(n, pa.string()),
                    "after": pa.nulls(n, pa.string()),
                }
            )
        )

    rows.append(row_changes(before["values"], after["values"]))
    return pa.concat_tables([r.cast(NETWORK_CHANGES_SCHEMA) for r in rows])


def correction_changes(
    current: dict[str, pa.Table],
    wanted: dict[str, pa.Table],
    diff: NetworkDiff,
    *,
    towards: str,
    catalog: CatalogView,
) -> tuple[pa.Table, list[str]]:
    """The ChangeSet that takes the network `current` to `wanted` (``diff`` is of the two,
    with `wanted` as A when `towards` is ``"a"``), and notes on what it leaves out: the MOs
    `wanted` lacks deleted (the top of each subtree), those it holds alone created with their
    values (parents first), the attributes that differ set to `wanted`'s value (unset where
    it has none). Left out, each counted in a note: MOs the node creates (they come with
    their parent), and values of attributes or members the catalog does not know or calls
    read-only."""
    mos = diff.mos
    gone_here = "added" if towards == "a" else "removed"  # in current only
    made_here = "removed" if towards == "a" else "added"  # in wanted only
    deletes = mos.filter(pc.equal(mos["change"], gone_here))
    creates = mos.filter(pc.equal(mos["change"], made_here))
    notes: list[str] = []
    # only the top of each deleted subtree: the planner deletes the rest with it
    deletes = deletes.filter(pc.invert(pc.is_in(deletes["parent_fdn"], value_set=deletes["fdn"])))
    node_made = pc.is_in(creates["class"], value_set=pa.array(sorted(catalog.system_created), pa.string()))
    if pc.any(node_made).as_py():
        notes.append(
            f"{pc.sum(node_made).as_py()} MO(s) the node creates are not created (they come with their parent), "
            "nor are their values set"
        )
        creates = creates.filter(pc.invert(node_made))
    wanted_values = plain_values(wanted["values"])
    wanted_values = wanted_values.append_column("class", class_of(wanted_values["fdn"]))
    parts: list[pa.Table] = []

    def rows(op: str, table: pa.Table, source: str) -> pa.Table:
        n = table.num_rows
        return pa.table(
            {
                "op": pa.array([op] * n, pa.string()),
                "fdn": table["fdn"],
                "class": table["class"],
                "attribute": table["attribute"] if "attribute" in table.column_names else pa.nulls(n, pa.string()),
                "member": table["member"] if "member" in table.column_names else pa.nulls(n, pa.string()),
                "index": table["index"] if "index" in table.column_names else pa.nulls(n, pa.int32()),
                "value": table["value"] if "value" in table.column_names else pa.nulls(n, pa.string()),
                "source": pa.array([source] * n, pa.string()),
            }
        )

    def writable(table: pa.Table, what: str) -> pa.Table:
        """`table`'s rows the catalog knows (class, attribute, member) and does not call
        read-only; a note counts the others."""
        kinds = catalog.kinds
        known = pc.binary_join_element_wise(kinds["class"], kinds["attribute"], pc.fill_null(kinds["member"], ""), SEP)
        at = pc.binary_join_element_wise(table["class"], table["attribute"], pc.fill_null(table["member"], ""), SEP)
        read_only = [f"{c}{SEP}{a}" for (c, a), f in catalog.attribute_flags().items() if f.get("read_only")]
        pair = pc.binary_join_element_wise(table["class"], table["attribute"], SEP)
        keep = pc.and_(
            pc.is_in(at, value_set=known), pc.invert(pc.is_in(pair, value_set=pa.array(read_only, pa.string())))
        )
        dropped = table.filter(pc.invert(keep))
        if dropped.num_rows:
            names = sorted(set(pc.binary_join_element_wise(dropped["class"], dropped["attribute"], ".").to_pylist()))
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            notes.append(
                f"{dropped.num_rows} value(s) {what} left out: attributes the catalog does not know or calls read-only "
                f"({shown})"
            )
        return table.filter(keep)

    if creates.num_rows:
        made = wanted_values.filter(pc.is_in(wanted_values["fdn"], value_set=creates["fdn"]))
        made = writable(made.filter(pc.fill_null(pc.not_equal(made["value"], ""), False)), "of MOs to create")
        # parents first: by depth (RDN count), each MO's create row before its values
        heads = rows("create", creates, "rtbfast diff: MO to create")
        body = rows("create", made, "rtbfast diff: value of a created MO")
        both = pa.concat_tables([heads, body])
        depth = pc.list_value_length(pc.split_pattern(both["fdn"], ","))
        first = pc.is_valid(both["attribute"])
        both = both.append_column("depth", depth).append_column("first", first)
        both = both.append_column("row", pa.array(range(both.num_rows), pa.int64()))
        both = both.sort_by(
            [("depth", "ascending"), ("fdn", "ascending"), ("first", "ascending"), ("row", "ascending")]
        )
        parts.append(both.drop_columns(["depth", "first", "row"]))
    values = diff.values
    if values.num_rows:
        keys = attribute_key(wanted_values["fdn"], wanted_values["attribute"])
        changed = attribute_key(values["fdn"], values["attribute"])
        sets = wanted_values.filter(pc.is_in(keys, value_set=changed))
        sets = sets.filter(pc.fill_null(pc.not_equal(sets["value"], ""), False))
        have = pc.unique(attribute_key(sets["fdn"], sets["attribute"]))
        sets = writable(sets, "to set")
        parts.append(rows("set", sets, "rtbfast diff: value to set"))
        # attributes `wanted` holds no value of: unset
        unset = values.filter(pc.invert(pc.is_in(changed, value_set=have)))
        if unset.num_rows:
            n = unset.num_rows
            unset = pa.table(
                {
                    "fdn": unset["fdn"],
                    "class": unset["class"],
                    "attribute": unset["attribute"],
                    "member": pa.nulls(n, pa.string()),
                    "index": pa.nulls(n, pa.int32()),
                    "value": pa.nulls(n, pa.string()),
                }
            )
            parts.append(rows("set", writable(unset, "to unset"), "rtbfast diff: value to unset"))
    if deletes.num_rows:
        parts.append(rows("delete", deletes, "rtbfast diff: MO to delete"))
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return CHANGESET_SCHEMA.empty_table(), notes
    whole = pa.concat_tables([p.cast(pa.schema([CHANGESET_SCHEMA.field(n) for n in p.column_names])) for p in parts])
    return in_one_phase(whole, whole["source"]), notes


def diff_report(diff: NetworkDiff, a: str, b: str) -> dict[str, Any]:
    """The counts of `diff` for ``diff.json`` and the command's summary line."""
    mos, values = diff.mos, diff.values

    def count(table: pa.Table, change: str) -> int:
        return int(pc.sum(pc.equal(table["change"], change)).as_py() or 0)

    def top(level: str, column: str) -> dict[str, int]:
        c = diff.counts.filter(pc.equal(diff.counts["level"], level))
        total = pc.add(pc.add(c["mos_added"], c["mos_removed"]), c["values_changed"])
        c = c.append_column("total", total).sort_by([("total", "descending"), ("name", "ascending")]).slice(0, 50)
        return dict(zip(c["name"].to_pylist(), c["total"].to_pylist(), strict=True))

    rel = diff.relations
    return {
        "a": a,
        "b": b,
        "mos": {"a": diff.mo_counts[0], "b": diff.mo_counts[1]},
        "mos_added": count(mos, "added"),
        "mos_removed": count(mos, "removed"),
        "values_changed": count(values, "changed"),
        "values_added": count(values, "added"),
        "values_removed": count(values, "removed"),
        "relations_added": int(pc.sum(rel["added"]).as_py() or 0),
        "relations_removed": int(pc.sum(rel["removed"]).as_py() or 0),
        "relations_changed": int(pc.sum(rel["changed"]).as_py() or 0),
        "by_node": top("node", "node"),
        "by_class": top("class", "class"),
        "by_attribute": top("attribute", "attribute"),
    }


def write_diff_folder(
    diff: NetworkDiff,
    out: str | Any,
    report: dict[str, Any],
    *,
    inputs: list[Any],
    correction: pa.Table | None = None,
    xlsx: bool = False,
) -> None:
    """``mos``, ``values``, ``relations`` and ``counts`` as Parquet and CSV, ``diff.html``
    and ``diff.json`` into the folder `out` (written aside, swapped in); with `correction`,
    the ChangeSet ``correction.parquet``; with `xlsx`, the workbook ``diff.xlsx``
    (:mod:`rtbfast.excel`)."""
    import json

    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from rtbfast.changeset import METADATA_KEY
    from rtbfast.html_report import bar_chart, cards, charts, data_table, escape, page
    from rtbfast.output_folder import written_aside

    tables = {"mos": diff.mos, "values": diff.values, "relations": diff.relations, "counts": diff.counts}
    with written_aside(out, "diff", inputs=inputs) as staging:
        for name, table in tables.items():
            pq.write_table(table, staging / f"{name}.parquet", compression="zstd")
            pcsv.write_csv(table, staging / f"{name}.csv")
        if correction is not None:
            meta = {
                METADATA_KEY: json.dumps(
                    {"diff": [report["a"], report["b"]], "towards": report.get("towards")}
                ).encode()
            }
            pq.write_table(correction.replace_schema_metadata(meta), staging / "correction.parquet")
        totals = {
            k: report[k]
            for k in (
                "mos_added",
                "mos_removed",
                "values_changed",
                "values_added",
                "values_removed",
                "relations_added",
                "relations_removed",
                "relations_changed",
            )
        }
        intro = (
            f"A = {escape(report['a'])} ({report['mos']['a']:,} MOs), B = {escape(report['b'])} "
            f"({report['mos']['b']:,} MOs)."
        )
        html_text = page(
            "rtbfast diff",
            intro,
            [
                cards([(k.replace("_", " ").replace("mos", "MOs"), v, None) for k, v in totals.items()]),
                charts(
                    [
                        bar_chart("Changes by class", report["by_class"]),
                        bar_chart("Changes by node", report["by_node"]),
                        bar_chart("Changes by attribute", report["by_attribute"]),
                    ]
                ),
                data_table(
                    "Relations changed, per parent",
                    diff.relations,
                    RELATION_COLUMNS,
                    files="relations.parquet and relations.csv",
                    headers={"parent_fdn": "parent", "in_a": "in A", "in_b": "in B"},
                    table_id="relations",
                ),
                data_table(
                    "MOs added and removed",
                    diff.mos,
                    ("change", "node", "class", "fdn"),
                    severity="change",
                    files="mos.parquet and mos.csv",
                    table_id="mos",
                ),
                data_table(
                    "Values changed",
                    diff.values,
                    ("change", "node", "class", "fdn", "attribute", "value_a", "value_b"),
                    severity="change",
                    files="values.parquet and values.csv",
                    headers={"value_a": "value in A", "value_b": "value in B"},
                    table_id="values",
                ),
            ],
        )
        (staging / "diff.html").write_text(html_text, encoding="utf-8")
        (staging / "diff.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if xlsx:
            from rtbfast.excel import folder_xlsx

            folder_xlsx(staging, command="diff")


RELATION_COLUMNS = ("node", "parent_fdn", "class", "in_a", "in_b", "added", "removed", "changed")
