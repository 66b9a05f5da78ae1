"""Operation rules: what a change may do, checked on the MOs of a Bulk CM import file that
carry a ``modifier`` (``create``, ``update``, ``delete``; MOs without one only give the path).

- a read-only attribute is never set (not at create, not by an update);
- a restricted attribute is set only when its MO is created;
- a create gives every mandatory attribute of its class (the naming attribute aside: the
  MO's id gives it);
- a system-created MO (its class is created by the node) is never created or deleted;
- an attribute the model says must be set while its MO is locked (``lockBeforeModify``) is
  updated only with ``administrativeState`` LOCKED in the same change, or after a lock
  (a warning: the change needs lock, set, unlock ordering);
- an update whose attribute takes effect only at a node restart or a cell unlock is noted
  (``info``), so the change can be planned with it.

All of it is joins and filters over the Arrow tables; no per-value Python loop.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.rules.constraints import Constraints
from rtbfast.schemas import VIOLATIONS_SCHEMA


def _column(rows: pa.Table, name: str) -> pa.Array:
    if name in rows.column_names:
        return rows.column(name).cast(pa.string())
    return pa.nulls(rows.num_rows, pa.string())


def _violations(rows: pa.Table, rule: str, severity: str, message: pa.Array, expected: str) -> pa.Table:
    n = rows.num_rows
    return pa.table(
        {
            "subject": rows.column("fdn").cast(pa.string()),
            "class": rows.column("class").cast(pa.string()),
            "attribute": rows.column("attribute").cast(pa.string())
            if "attribute" in rows.column_names
            else pa.nulls(n, pa.string()),
            "member": pa.nulls(n, pa.string()),
            "index": pa.nulls(n, pa.int32()),
            "rule": pa.array([rule] * n, pa.string()),
            "severity": pa.array([severity] * n, pa.string()),
            "message": message,
            "value": rows.column("value").cast(pa.string())
            if "value" in rows.column_names
            else pa.nulls(n, pa.string()),
            "expected": pa.array([expected] * n, pa.string()),
        },
        schema=VIOLATIONS_SCHEMA,
    )


def _text(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def operation_violations(
    tables: dict[str, pa.Table],
    constraints: Constraints,
    classes: pa.Table | None = None,
    locks: set[tuple[str, str]] | None = None,
) -> pa.Table:
    """The operation rules broken by the changes (MOs with a ``modifier``) in a Network read
    from a Bulk CM import file. `classes` is the catalog's ``classes`` table (for
    ``system_created``); `locks` adds (class, attribute) pairs that are changed only while
    locked (from Precondition texts) to the model's ``lockBeforeModify``. An export without
    modifiers gives no rows."""
    mos = tables["mos"]
    if "modifier" not in mos.column_names:
        return VIOLATIONS_SCHEMA.empty_table()
    changed = mos.filter(pc.is_valid(mos.column("modifier"))).select(["fdn", "class", "modifier"])
    if changed.num_rows == 0:
        return VIOLATIONS_SCHEMA.empty_table()
    out: list[pa.Table] = []
    values = tables["values"]
    rows = pa.table(
        {
            "fdn": values.column("fdn").cast(pa.string()),
            "attribute": values.column("attribute").cast(pa.string()),
            "value": values.column("value"),
        }
    )
    rows = rows.join(changed, "fdn", join_type="inner")
    flags = constraints.table.filter(pc.is_null(constraints.table.column("member"))).select(
        ["class", "attribute", "read_only", "restricted", "mandatory", "lock_before_modify", "takes_effect"]
    )
    if locks:
        listed = pa.table({"class": [c for c, _ in sorted(locks)], "attribute": [a for _, a in sorted(locks)]})
        listed = listed.append_column("text_lock", pa.array([True] * listed.num_rows, pa.bool_()))
        flags = flags.join(listed, ["class", "attribute"], join_type="left outer")
        lock = pc.or_(
            pc.fill_null(flags.column("lock_before_modify"), False), pc.fill_null(flags.column("text_lock"), False)
        )
        flags = flags.set_column(flags.schema.get_field_index("lock_before_modify"), "lock_before_modify", lock)
        flags = flags.drop_columns(["text_lock"])
    rows = rows.join(flags, ["class", "attribute"], join_type="inner")
    modifier = rows.column("modifier")
    writes = pc.is_in(modifier, pa.array(["create", "update"]))

    read_only = rows.filter(pc.and_(writes, rows.column("read_only")))
    message = _text(read_only.column("attribute"), " is read-only; a ", read_only.column("modifier"), " cannot set it")
    out.append(_violations(read_only, "read_only", "error", message, "not set"))

    restricted = rows.filter(pc.and_(pc.equal(modifier, "update"), rows.column("restricted")))
    message = _text(restricted.column("attribute"), " is restricted: it is set only when the MO is created")
    out.append(_violations(restricted, "restricted", "error", message, "set at create only"))

    # lockBeforeModify: an update must lock the MO first (or lock it in the same change)
    locked = rows.filter(
        pc.and_(pc.equal(rows.column("attribute"), "administrativeState"), pc.equal(rows.column("value"), "LOCKED"))
    ).column("fdn")
    needs_lock = rows.filter(
        pc.and_(
            pc.and_(pc.equal(modifier, "update"), rows.column("lock_before_modify")),
            pc.invert(pc.is_in(rows.column("fdn"), locked)),
        )
    )
    message = _text(needs_lock.column("attribute"), " is changed only while the MO is LOCKED: lock, set, unlock")
    out.append(_violations(needs_lock, "requires_lock", "warning", message, "administrativeState LOCKED"))

    # a change that takes effect only at a restart or an unlock: say so (info), to plan for it
    effect = pc.fill_null(rows.column("takes_effect"), "")
    later = pc.match_substring_regex(effect, r"(?i)restart|reboot|unlock|lock/unlock|disabled/enabled")
    delayed = rows.filter(pc.and_(pc.equal(modifier, "update"), later))
    message = _text(delayed.column("attribute"), " takes effect: ", delayed.column("takes_effect"))
    out.append(_violations(delayed, "takes_effect", "info", message, "planned restart or unlock"))

    # a create gives every mandatory attribute (but the naming attribute, given by the id)
    creates = changed.filter(pc.equal(changed.column("modifier"), "create"))
    if creates.num_rows:
        mandatory = flags.filter(flags.column("mandatory")).select(["class", "attribute"])
        # the naming attribute (``EUtranCellFDDId``, or ``eUtranCellFDDId`` in ECIM and the
        # workbook) is given by the MO's id
        cls = mandatory.column("class")
        lower_first = _text(pc.utf8_lower(pc.utf8_slice_codeunits(cls, 0, 1)), pc.utf8_slice_codeunits(cls, 1), "Id")
        naming = pc.or_(
            pc.equal(mandatory.column("attribute"), _text(cls, "Id")),
            pc.equal(mandatory.column("attribute"), lower_first),
        )
        mandatory = mandatory.filter(pc.invert(naming))
        wanted = creates.join(mandatory, "class", join_type="inner")
        # names compared without case: a class of one name in two MIMs may spell an attribute
        # two ways (eutranFrequencyRef, eUtranFrequencyRef); either gives it
        wanted = wanted.append_column("name", pc.utf8_lower(wanted.column("attribute")))
        given = pa.table({"fdn": rows.column("fdn"), "name": pc.utf8_lower(rows.column("attribute"))})
        given = given.group_by(["fdn", "name"]).aggregate([])
        given = given.append_column("given", pa.array([True] * given.num_rows, pa.bool_()))
        wanted = wanted.join(given, ["fdn", "name"], join_type="left outer")
        # one row per missing name (both spellings asked for the same thing)
        wanted = wanted.filter(pc.is_null(wanted.column("given")))
        wanted = wanted.group_by(["fdn", "class", "modifier", "name"], use_threads=False).aggregate(
            [("attribute", "first")]
        )
        wanted = wanted.rename_columns(["fdn", "class", "modifier", "name", "attribute"]).append_column(
            "given", pa.nulls(wanted.num_rows, pa.bool_())
        )
        missing = wanted.filter(pc.is_null(wanted.column("given")))
        message = _text(missing.column("attribute"), " is mandatory: a create must give it")
        out.append(_violations(missing, "mandatory", "error", message, "given at create"))

    if classes is not None and "system_created" in classes.column_names:
        system = classes.filter(pc.fill_null(classes.column("system_created"), False)).column("class").unique()
        lifecycle = changed.filter(
            pc.and_(
                pc.is_in(changed.column("modifier"), pa.array(["create", "delete"])),
                pc.is_in(changed.column("class"), system),
            )
        )
        message = _text(
            lifecycle.column("class"), " MOs are created by the node; a ", lifecycle.column("modifier"), " is refused"
        )
        out.append(_violations(lifecycle, "system_created", "error", message, "no create or delete"))
    return pa.concat_tables(out)
