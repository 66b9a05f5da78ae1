"""A Plan written in the dialects ENM and the node take (``../shared/reference/enm-cli.md``):

- **cmedit** scripts (§4-§6): one command a line, no comment lines; FDN form
  (``cmedit set <FDN> a=v,b=w``) or node-scoped form (``cmedit set <node> <RDNs below
  ManagedElement> a=v``; a create always names the full FDN); enums and numbers bare,
  booleans in lower case; structs ``(m=v,…)``, sequences ``[…]``, moRefs as quoted FDNs;
  several attributes a set;
- **dynamic import** files (§8): ``set``/``create``/``delete`` blocks of ``FDN : "…"`` and
  ``name : value`` lines, structs ``{m=v, …}`` (read back by :func:`rtbfast.enm.dynamic.read_dynamic`);
- **3GPP Bulk CM import** XML (§9): the MOs with ``modifier`` create, update or delete (read back
  by ``rtbfast.read_network``); locks are steps of their own and are not in it (say so);
- **moshell** (§11): ``confb+``/``gs+`` then ``set``/``setm``/``crn … end``/``del``/``bl``/``deb``
  with LDNs below ManagedElement; the MO of ``set``, ``del``, ``bl`` and ``deb`` is a pattern
  to moshell, so ``.`` is escaped and ``$`` ends it.

**Names** (classes, attributes, members, MO ids, FDNs) follow one grammar
(:mod:`rtbfast.names`) and are never quoted. **Values** go through one function per dialect
(``rust/src/enm/encode.rs``) that writes each exactly or refuses it (:class:`UnwritableError`,
naming the file, step, MO and attribute), for the plan and the rollback alike:

- a string is written bare when it is a word (``[A-Za-z0-9_.-]+``, not ``null``, a leading
  ``-`` only in a number: ``-ALL`` would look like an option), else in double quotes; no
  dialect but XML documents an escape, so cmedit, the dynamic format and moshell refuse
  ``"``, the backslash, every control character (tab, LF, CR, VT, FF, FS, GS, RS, NEL, the
  rest of C0 and C1, DEL), U+2028, U+2029 and the invisible format characters
  (bidirectional overrides and isolates, zero-width characters, BOM, soft hyphen);
- moshell also refuses ``$``, a backtick, ``|`` ``<`` ``>`` ``;`` ``#`` (variables, pipes,
  redirections, comments, list separators), and inside a struct or list ``,`` ``=``, spaces
  and brackets; and a moRef inside a struct (the ``,`` and ``=`` of its LDN would read as the
  struct's own);
- integers, floats and decimals must be numbers, booleans ``true``/``false``, enums words (not
  ``null``, which reads as unset), and moRefs valid FDNs: anything else would be written bare
  and read as something else;
- an attribute with an item past the first is written as a list (``[…]``) even when the
  catalog does not say it is a sequence (an attribute it does not know); a second value of an
  attribute that is not a sequence is refused;
- the id of a created MO is written as a string (``cmedit create … XId="null"``);
- 3GPP XML carries every character XML 1.0 can (``&<>`` escaped, a carriage return as
  ``&#13;``), and refuses the C0 controls but tab, LF and CR, and U+FFFE/U+FFFF; it has no
  known form for an unset value or an emptied sequence, so a plan holding one is refused there.

An attribute left without a value (unset) is written ``[]`` for a sequence and ``null``
otherwise, a string too (``""`` would be an empty string, which the node keeps as a value and
a rollback would not restore exactly): the reference does not confirm ENM's syntax for
``null`` (enm-cli.md, open question 2). moshell leaves it blank (``set``) or writes ``null``
(``crn``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.enm.plan import PlanError, Problem
from rtbfast.schemas import PLAN_SCHEMA

DIALECTS = ("cmedit", "dynamic", "moshell", "3gpp")
"""The dialects a plan is written in (``rtbfast plan --dialect``)."""

_NATIVE_COLUMNS = ["step", "op", "fdn", "class", "attribute", "member", "index", "value", "kind", "is_sequence"]


class UnwritableError(PlanError):
    """A plan holds a name or a value that a dialect cannot carry exactly: each problem names
    the file, the step, the MO, the attribute and why."""


def refusal_problems(plan: pa.Table, refusals: pa.Table, where: str) -> list[Problem]:
    """The refusals (``row``, ``reason``) of a dialect writer as problems located by the plan
    row they are about (`where` names the file, e.g. ``plan.cmedit``)."""
    problems: list[Problem] = []
    rows = refusals["row"].to_pylist()
    reasons = refusals["reason"].to_pylist()
    if not rows:
        return problems
    picked = plan.take(pa.array(rows, pa.int64())).to_pylist()
    for r, reason in zip(picked, reasons, strict=True):
        what = r["attribute"] or ""
        if r["member"]:
            what += f".{r['member']}"
        if r["attribute"] and r["index"] is not None and r["index"] > 0:
            what += f"[{r['index']}]"
        held = " (a value the network holds, restored by the rollback)" if where.startswith("rollback") else ""
        problems.append(
            Problem(
                "unwritable",
                f"{where}: step {r['step']} ({r['op']} {r['fdn']}){': ' + what if what else ''}: {reason}{held}",
                r["fdn"],
                None if r["source"] == "rtbfast: rollback" else r["source"],
            )
        )
    return problems


def _native_rows(plan: pa.Table) -> pa.Table:
    return plan.select(_NATIVE_COLUMNS).cast(pa.schema([PLAN_SCHEMA.field(c) for c in _NATIVE_COLUMNS]))


def _refuse(plan: pa.Table, refusals: pa.Table, where: str) -> None:
    if refusals.num_rows:
        raise UnwritableError(refusal_problems(plan, refusals, where))


def node_and_ldn(fdn: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The node name (MeContext id, else ManagedElement id) and the RDNs below
    ManagedElement of each FDN."""
    node = pc.extract_regex(fdn, r"(?:^|,)(?:MeContext|ManagedElement)=(?P<node>[^,]+)")
    ldn = pc.extract_regex(fdn, r"(?:^|,)ManagedElement=[^,]+,(?P<ldn>.+)$")
    return pc.struct_field(node, [0]), pc.struct_field(ldn, [0])


def cmedit_lines(
    plan: pa.Table, *, form: str = "fdn", naming: dict[str, str] | None = None, where: str = "plan.cmedit"
) -> pa.Array:
    """One cmedit command per step of `plan` (``form``: ``fdn`` or ``node``), rendered
    natively in one pass (``rust/src/enm``): the rows must be in step order, as plans are.
    :class:`UnwritableError` lists the steps holding a name or value cmedit cannot carry."""
    if form not in ("fdn", "node"):
        raise ValueError(f"form {form!r}: fdn or node")
    if not plan.num_rows:
        return pa.array([], pa.string())
    from rtbfast import _native

    lines_table, refusals = _native.cmedit_lines(_native_rows(plan), form, naming or {})
    _refuse(plan, pa.table(refusals), where)
    lines = pa.table(lines_table)["line"]
    return lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines


def _step_texts(plan: pa.Table, dialect: str, naming: dict[str, str] | None, where: str) -> list[str]:
    """Each step's text in `dialect` (``dynamic`` or ``moshell``), rendered natively in one
    pass (``rust/src/enm``); every value is checked before any is given."""
    from rtbfast import _native

    texts, refusals = _native.step_texts(_native_rows(plan), dialect, naming or {})  # type: ignore[arg-type]
    _refuse(plan, pa.table(refusals), where)
    out: list[str] = pa.table(texts)["text"].to_pylist()
    return out


def dynamic_blocks(
    plan: pa.Table, *, naming: dict[str, str] | None = None, where: str = "plan.dynamic.txt"
) -> Iterator[str]:
    """The plan as an ENM dynamic import file, a block per step: its keyword (``create``,
    ``delete``, ``set`` for any other op), ``FDN : "<fdn>"``, for a create the naming
    attribute (`naming`'s, else ``<Class>Id``) with the id, then ``a : v`` per attribute but
    for a delete, and a blank line. Every value is checked before the first block is given
    (:class:`UnwritableError`)."""
    if not plan.num_rows:
        return iter(())
    return iter(_step_texts(plan, "dynamic", naming, where))


def moshell_lines(plan: pa.Table, *, where: str = "plan.mos", header: bool = True) -> Iterator[str]:
    """The plan as a moshell script (LDNs below ManagedElement; ``bl``/``deb`` for locks, a
    ``crn`` block for a create, an empty value written ``null`` there; ``set``/``setm`` of
    the valued attributes of a set, then each empty one alone, as it cannot sit inside a
    ``setm``, enm-cli.md §11). The MO of ``set``, ``del``, ``bl`` and ``deb`` is a pattern
    to moshell: ``.`` is escaped and ``$`` ends it. Every value is checked before the first
    line is given. Without `header`, the lines of these steps alone (a script written a part
    of the plan at a time)."""
    if not plan.num_rows:
        return iter(())
    texts = [text for text in _step_texts(plan, "moshell", None, where) if text]
    return iter(["confb+\n", "gs+\n", *texts] if header else texts)


UNSET_IN_XML = (
    "3GPP Bulk CM XML has no known way to unset a value or empty a sequence (an element left out "
    "changes nothing): write this plan in another dialect"
)


def bulkcm_tables(plan: pa.Table, *, where: str = "plan.3gpp.xml") -> dict[str, pa.Table]:
    """The plan as the ``mos`` and ``values`` of a Bulk CM import file: each changed MO once
    with its modifier (a create with its values, an update with the attributes it sets, a
    delete alone), the MOs above them giving the path; lock steps are left out. A value left
    unset or a sequence emptied has no known form there: :class:`UnwritableError`, rather than
    a file that silently leaves it as it is."""
    from rtbfast.network_writer import TOP

    writing = pc.and_(
        pc.is_in(plan["op"], value_set=pa.array(["create", "set"])),
        pc.and_(pc.is_valid(plan["attribute"]), pc.is_null(plan["value"])),
    )
    unset = pc.indices_nonzero(pc.fill_null(writing, False))
    if len(unset):
        refusals = pa.table({"row": unset.cast(pa.int64()), "reason": pa.array([UNSET_IN_XML] * len(unset))})
        raise UnwritableError(refusal_problems(plan, refusals, where))
    changed = plan.filter(pc.is_in(plan["op"], value_set=pa.array(["create", "set", "delete"])))
    heads = changed.group_by("fdn", use_threads=False).aggregate([("op", "first"), ("class", "first")])
    modifier = pc.case_when(
        pc.make_struct(pc.equal(heads["op_first"], "create"), pc.equal(heads["op_first"], "delete")),
        "create",
        "delete",
        "update",
    )
    # the MOs above the changed ones only give the path: walked from the distinct parents
    head_fdns = heads["fdn"].combine_chunks() if isinstance(heads["fdn"], pa.ChunkedArray) else heads["fdn"]
    changed_set = set(head_fdns.to_pylist())
    above: dict[str, str] = {}
    parents = pc.unique(pc.replace_substring_regex(head_fdns, r",[^,]*$", ""))
    for fdn in parents.to_pylist():
        while "=" in fdn and fdn not in above and fdn not in changed_set:
            above[fdn] = fdn.rsplit(",", 1)[-1].split("=", 1)[0]
            if "," not in fdn:
                break
            fdn = fdn.rsplit(",", 1)[0]
    everything = pa.table(
        {
            "fdn": pa.concat_arrays([head_fdns, pa.array(list(above), pa.string())]),
            "class": pa.concat_arrays(
                [heads["class_first"].combine_chunks(), pa.array(list(above.values()), pa.string())]
            ),
            "modifier": pa.concat_arrays(
                [
                    modifier.combine_chunks() if isinstance(modifier, pa.ChunkedArray) else modifier,
                    pa.nulls(len(above), pa.string()),
                ]
            ),
        }
    )
    fdn = everything["fdn"]
    everything = everything.append_column("depth", pc.count_substring(fdn, ","))
    everything = everything.sort_by([("depth", "ascending"), ("fdn", "ascending")])
    fdn = everything["fdn"]
    mos = pa.table(
        {
            "fdn": fdn,
            "class": everything["class"],
            "id": pc.replace_substring_regex(fdn, r"^.*=", ""),
            "parent_fdn": pc.if_else(
                pc.match_substring(fdn, ","),
                pc.replace_substring_regex(fdn, r",[^,]*$", ""),
                pa.scalar(None, pa.string()),
            ),
            "modifier": everything["modifier"],
        }
    )
    values = changed.filter(pc.and_(pc.is_valid(changed["attribute"]), pc.is_valid(changed["value"])))
    vs_data = pc.invert(pc.is_in(values["class"], value_set=pa.array(list(TOP))))
    return {
        "mos": mos,
        "values": pa.table(
            {
                "fdn": values["fdn"],
                "attribute": values["attribute"],
                "member": values["member"],
                "index": values["index"],
                "member_index": pa.nulls(values.num_rows, pa.int32()),
                "value": values["value"],
                "vs_data": vs_data,
            }
        ),
    }


def write_lines(path: str | os.PathLike[str], chunks: Iterator[str] | pa.Array) -> Path:
    """Write text (an array of lines, or chunks) to `path`, aside and swapped in."""
    from rtbfast.output_folder import write_text_aside

    if isinstance(chunks, (pa.Array, pa.ChunkedArray)):
        lines = chunks

        def text() -> Iterator[str]:
            for start in range(0, len(lines), 65536):
                yield "\n".join(lines.slice(start, 65536).to_pylist()) + "\n"

        return write_text_aside(path, text())
    return write_text_aside(path, chunks)


# -- import files in parts ------------------------------------------------------------------------

IMPORT_DIALECTS = ("dynamic", "3gpp")
"""The dialects that are import files (one ENM import job each): what ``--import-chunk`` splits."""


def import_operations(plan: pa.Table, dialect: str) -> int:
    """How many operations `plan` is as an import file: a block per step (dynamic), an MO with
    a modifier (3GPP: the creates, sets and deletes of one MO are one; locks are left out)."""
    if not plan.num_rows:
        return 0
    if dialect == "dynamic":
        return len(pc.unique(plan["step"]))
    changed = plan.filter(pc.is_in(plan["op"], value_set=pa.array(["create", "set", "delete"])))
    return len(pc.unique(changed["fdn"])) if changed.num_rows else 0


def _node_names(fdns: list[str]) -> list[str]:
    node, _ = node_and_ldn(pa.array(fdns, pa.string()))
    return [n if n is not None else f for n, f in zip(node.to_pylist(), fdns, strict=True)]


@dataclass(frozen=True)
class _Head:
    """A step of a plan: its number, operation, MO, phase (order, name) and node."""

    step: int
    op: str
    fdn: str
    phase: tuple[int, str]
    node: str


def _heads_of(plan: pa.Table) -> list[_Head]:
    g = plan.group_by("step", use_threads=False).aggregate(
        [("op", "first"), ("fdn", "first"), ("phase", "first"), ("phase_order", "first")]
    )
    g = g.sort_by("step")
    fdns = g["fdn_first"].to_pylist()
    return [
        _Head(step, op, fdn, (order, phase), node)
        for step, op, fdn, phase, order, node in zip(
            g["step"].to_pylist(),
            g["op_first"].to_pylist(),
            fdns,
            g["phase_first"].to_pylist(),
            g["phase_order_first"].to_pylist(),
            _node_names(fdns),
            strict=True,
        )
    ]


def _weight(heads: list[_Head], dialect: str) -> int:
    """The operations steps (`heads`) are in an import file (see :func:`import_operations`)."""
    if dialect == "dynamic":
        return len(heads)
    return len({h.fdn for h in heads if h.op in ("create", "set", "delete")})


def _units(heads: list[_Head], dialect: str) -> list[list[_Head]]:
    """A node's steps in the units a file never cuts: for the dynamic format a lock window (the
    lock of an MO, what follows, its unlock: cut, a failed part would leave the MO locked) or a
    step; for 3GPP the steps of one MO (one element of the file), in the order MOs first come."""
    if dialect != "dynamic":
        by_fdn: dict[str, list[_Head]] = {}
        for head in heads:
            by_fdn.setdefault(head.fdn, []).append(head)
        return list(by_fdn.values())
    units: list[list[_Head]] = []
    open_locks: set[str] = set()
    for head in heads:
        if not open_locks:
            units.append([])
        units[-1].append(head)
        if head.op == "lock":
            open_locks.add(head.fdn)
        elif head.op == "unlock":
            open_locks.discard(head.fdn)
    return units


def _pieces(heads: list[_Head], limit: int, dialect: str) -> list[list[_Head]]:
    """One node's steps (`heads`, in order) larger than `limit`, cut into pieces of at most
    `limit` operations between :func:`_units`; a unit larger than `limit` is a piece of its own."""
    pieces: list[list[_Head]] = [[]]
    weight = 0
    for unit in _units(heads, dialect):
        cost = _weight(unit, dialect)
        if pieces[-1] and weight + cost > limit:
            pieces.append([])
            weight = 0
        pieces[-1].extend(unit)
        weight += cost
    return pieces


def import_chunks(plan: pa.Table, rollback: pa.Table, limit: int, dialect: str) -> list[tuple[pa.Table, pa.Table]]:
    """The plan split per node into parts of at most `limit` operations (:func:`import_operations`),
    and the rollback split the same way: a part holds whole nodes, taken in the plan's order (a
    node's steps in their order; parts never mix phases, which keep their order); a node larger
    than `limit` gets parts of its own (see :func:`_pieces`). Part k of the rollback undoes part
    k of the plan: its steps on the MOs of that part's nodes (of a node cut in parts: on that
    part's MOs, or below them, as the children a delete's undo restores), in the rollback's
    order; a rollback step that undoes no part is an error, never left out."""
    if limit < 1:
        raise ValueError("limit: at least 1 operation a file")
    if not plan.num_rows:
        return []
    phases: dict[tuple[int, str], dict[str, list[_Head]]] = {}
    for head in _heads_of(plan):
        phases.setdefault(head.phase, {}).setdefault(head.node, []).append(head)
    chunks: list[list[_Head]] = []
    owner: dict[tuple[tuple[int, str], str], int] = {}  # (phase, node) → its part, for a node in one part
    by_fdn: dict[tuple[tuple[int, str], str], int] = {}  # (phase, fdn) → its part, for a node cut in parts
    parts_of_node: dict[str, set[int]] = {}
    for phase, nodes in phases.items():  # in the plan's order: its steps come by phase
        current: list[_Head] = []
        weight = 0
        for node, steps in nodes.items():
            cost = _weight(steps, dialect)
            if cost > limit:
                if current:
                    chunks.append(current)
                    current, weight = [], 0
                for piece in _pieces(steps, limit, dialect):
                    chunks.append(piece)
                    parts_of_node.setdefault(node, set()).add(len(chunks) - 1)
                    for h in piece:
                        by_fdn.setdefault((phase, h.fdn), len(chunks) - 1)
                continue
            if current and weight + cost > limit:
                chunks.append(current)
                current, weight = [], 0
            current.extend(steps)
            weight += cost
            owner[(phase, node)] = len(chunks)
            parts_of_node.setdefault(node, set()).add(len(chunks))
        if current:
            chunks.append(current)
    parts = [plan.filter(pc.is_in(plan["step"], value_set=pa.array([h.step for h in c], pa.int64()))) for c in chunks]
    assigned: list[list[int]] = [[] for _ in chunks]
    for head in _heads_of(rollback) if rollback.num_rows else []:
        k = owner.get((head.phase, head.node))
        at = head.fdn
        while k is None and at:
            k = by_fdn.get((head.phase, at))
            at = at.rsplit(",", 1)[0] if "," in at else ""
        if k is None and len(parts_of_node.get(head.node, ())) == 1:
            (k,) = parts_of_node[head.node]
        if k is None:
            raise ValueError(f"rollback step {head.step} ({head.op} {head.fdn}) undoes no part of the plan")
        assigned[k].append(head.step)
    backs = [rollback.filter(pc.is_in(rollback["step"], value_set=pa.array(steps, pa.int64()))) for steps in assigned]
    return list(zip(parts, backs, strict=True))
