"""A Plan written in the dialects ENM and the node take (``../shared/reference/enm-cli.md``):

- **cmedit** scripts (§4-§6): one command a line, no comment lines; FDN form
  (``cmedit set <FDN> a=v,b=w``) or node-scoped form (``cmedit set <node> <RDNs below
  ManagedElement> a=v``; a create always names the full FDN); strings quoted when they hold
  anything but letters, digits, ``_ . -``; enums and numbers bare, booleans in lower case;
  structs ``(m=v,…)``, sequences ``[…]``, moRefs as quoted FDNs; several attributes a set;
- **dynamic import** files (§8): ``set``/``create``/``delete`` blocks of ``FDN : "…"`` and
  ``name : value`` lines, structs ``{m=v, …}``;
- **3GPP Bulk CM import** XML (§9): the MOs with ``modifier`` create, update or delete (read back
  by ``rtbfast.read_network``); locks are steps of their own and are not in it (say so);
- **moshell** (§11): ``confb+``/``gs+`` then ``set``/``setm``/``crn … end``/``del``/``bl``/``deb``
  with LDNs below ManagedElement.

An attribute left without a value (unset) is written ``[]`` for a sequence and ``null``
otherwise, a string too (``""`` would be an empty string, which the node keeps as a value and
a rollback would not restore exactly): the reference does not confirm ENM's syntax for
``null`` (enm-cli.md, open question 2).

The values of every step are rendered column-wise (Arrow), then grouped into structs,
sequences and commands.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.changeset import EMPTIED

_BARE = r"^[A-Za-z0-9_.\-]+$"


def _values_as(rows: pa.Table, struct_open: str, struct_close: str, member_sep: str) -> pa.Table:
    """(step, attribute, text) per attribute of each step, in order: the rows' values rendered,
    members grouped into structs, items into sequences."""
    value = rows["value"]
    kind = pc.fill_null(rows["kind"], "string")
    quoted = pc.binary_join_element_wise('"', pc.fill_null(value, ""), '"', "")
    bare_ok = pc.fill_null(pc.match_substring_regex(value, _BARE), False)
    text = pc.case_when(
        pc.make_struct(
            pc.is_null(value),
            pc.equal(kind, "moref"),
            pc.equal(kind, "boolean"),
            pc.and_(pc.equal(kind, "string"), pc.invert(bare_ok)),
        ),
        # unset: null, for text too ("" is an empty string, which the node keeps as a value;
        # the reference leaves open how ENM takes null, enm-cli.md open question 2)
        pa.scalar("null"),
        quoted,
        pc.utf8_lower(pc.fill_null(value, "")),
        quoted,
        pc.fill_null(value, ""),
    )
    index = rows["index"]
    seq = pc.fill_null(rows["is_sequence"], False)
    emptied = pc.fill_null(pc.equal(index, EMPTIED), False)
    unset_seq = pc.and_(pc.is_null(index), pc.and_(pc.is_null(value), seq))
    text = pc.if_else(pc.or_(emptied, unset_seq), "[]", text)
    table = pa.table(
        {
            "step": rows["step"],
            "attribute": rows["attribute"],
            "member": rows["member"],
            "index": pc.fill_null(index, 0),
            "seq": seq,
            "whole": pc.or_(emptied, pc.is_null(index)),
            "text": text,
            "row": pa.array(range(rows.num_rows), pa.int64()),
        }
    )
    # struct members: one text per (step, attribute, index)
    members = table.filter(pc.is_valid(table["member"]))
    scalars = table.filter(pc.is_null(table["member"]))
    if members.num_rows:
        pair = pc.binary_join_element_wise(members["member"], members["text"], member_sep)
        members = members.append_column("pair", pair)
        grouped = members.group_by(["step", "attribute", "index"], use_threads=False).aggregate(
            [("pair", "list"), ("seq", "first"), ("row", "min")]
        )
        struct_text = pc.binary_join_element_wise(
            struct_open, pc.binary_join(grouped["pair_list"], ", " if struct_open == "{" else ","), struct_close, ""
        )
        members = pa.table(
            {
                "step": grouped["step"],
                "attribute": grouped["attribute"],
                "index": grouped["index"],
                "seq": grouped["seq_first"],
                "whole": pa.array([False] * grouped.num_rows, pa.bool_()),
                "text": struct_text,
                "row": grouped["row_min"],
            }
        )
        scalars = pa.concat_tables([scalars.drop_columns(["member"]), members]).sort_by("row")
    else:
        scalars = scalars.drop_columns(["member"])
    # items of a sequence: one text per (step, attribute)
    grouped = scalars.group_by(["step", "attribute"], use_threads=False).aggregate(
        [("text", "list"), ("seq", "first"), ("whole", "first"), ("row", "min")]
    )
    joined = pc.binary_join(grouped["text_list"], ", " if struct_open == "{" else ",")
    as_list = pc.and_(grouped["seq_first"], pc.invert(grouped["whole_first"]))
    text = pc.if_else(as_list, pc.binary_join_element_wise("[", joined, "]", ""), joined)
    out = pa.table(
        {"step": grouped["step"], "attribute": grouped["attribute"], "text": text, "row": grouped["row_min"]}
    )
    return out.sort_by("row")


def _heads(plan: pa.Table) -> pa.Table:
    """One row per step: step, op, fdn, class."""
    g = plan.group_by("step", use_threads=False).aggregate([("op", "first"), ("fdn", "first"), ("class", "first")])
    return pa.table({"step": g["step"], "op": g["op_first"], "fdn": g["fdn_first"], "class": g["class_first"]}).sort_by(
        "step"
    )


def _naming(classes: pa.Array, naming: dict[str, str] | None) -> pa.Array:
    """The naming attribute of each class: the catalog's, else ``<Class>Id``."""
    if naming:
        names = [naming.get(c) or f"{c}Id" for c in classes.to_pylist()]
        return pa.array(names, pa.string())
    return pc.binary_join_element_wise(classes, "Id", "")


def node_and_ldn(fdn: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The node name (MeContext id, else ManagedElement id) and the RDNs below
    ManagedElement of each FDN."""
    node = pc.extract_regex(fdn, r"(?:^|,)(?:MeContext|ManagedElement)=(?P<node>[^,]+)")
    ldn = pc.extract_regex(fdn, r"(?:^|,)ManagedElement=[^,]+,(?P<ldn>.+)$")
    return pc.struct_field(node, [0]), pc.struct_field(ldn, [0])


def cmedit_lines(plan: pa.Table, *, form: str = "fdn", naming: dict[str, str] | None = None) -> pa.Array:
    """One cmedit command per step of `plan` (``form``: ``fdn`` or ``node``), rendered
    natively in one pass (``rust/src/enm``): the rows must be in step order, as plans are."""
    if form not in ("fdn", "node"):
        raise ValueError(f"form {form!r}: fdn or node")
    if not plan.num_rows:
        return pa.array([], pa.string())
    from rtbfast import _native
    from rtbfast.enm.plan import PLAN_SCHEMA

    columns = ["step", "op", "fdn", "class", "attribute", "member", "index", "value", "kind", "is_sequence"]
    rows = plan.select(columns).cast(pa.schema([PLAN_SCHEMA.field(c) for c in columns]))
    lines = pa.table(_native.cmedit_lines(rows, form, naming or {}))["line"]
    return lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines


def dynamic_blocks(plan: pa.Table, *, naming: dict[str, str] | None = None) -> Iterator[str]:
    """The plan as an ENM dynamic import file, a block per step."""
    if not plan.num_rows:
        return
    heads = _heads(plan)
    attrs = _values_as(plan.filter(pc.is_valid(plan["attribute"])), "{", "}", "=")
    lines = pc.binary_join_element_wise(attrs["attribute"], attrs["text"], " : ")
    per_step = (
        pa.table({"step": attrs["step"], "line": lines})
        .group_by("step", use_threads=False)
        .aggregate([("line", "list")])
    )
    body = dict(zip(per_step["step"].to_pylist(), per_step["line_list"].to_pylist(), strict=True))
    names = _naming(heads["class"].combine_chunks(), naming).to_pylist()
    for step, op, fdn, name in zip(
        heads["step"].to_pylist(), heads["op"].to_pylist(), heads["fdn"].to_pylist(), names, strict=True
    ):
        keyword = {"create": "create", "delete": "delete"}.get(op, "set")
        block = [keyword, f'FDN : "{fdn}"']
        if op == "create":
            block.append(f'{name} : "{fdn.rsplit("=", 1)[-1]}"')
        if op != "delete":
            block.extend(body.get(step, []))
        yield "\n".join(block) + "\n\n"


def moshell_lines(plan: pa.Table) -> Iterator[str]:
    """The plan as a moshell script (LDNs below ManagedElement; ``bl``/``deb`` for locks)."""
    if not plan.num_rows:
        return
    yield "confb+\n"
    yield "gs+\n"
    heads = _heads(plan)
    attrs = _values_as(plan.filter(pc.is_valid(plan["attribute"])), "(", ")", "=")
    # moshell writes a struct as m=v,m=v and a list with spaces
    per_step: dict[int, list[tuple[str, str]]] = {}
    for step, attribute, text in zip(
        attrs["step"].to_pylist(), attrs["attribute"].to_pylist(), attrs["text"].to_pylist(), strict=True
    ):
        per_step.setdefault(step, []).append((attribute, _moshell_value(text)))
    _, ldns = node_and_ldn(heads["fdn"])
    for step, op, fdn, ldn in zip(
        heads["step"].to_pylist(), heads["op"].to_pylist(), heads["fdn"].to_pylist(), ldns.to_pylist(), strict=True
    ):
        target = ldn or fdn
        pairs = per_step.get(step, [])
        if op == "lock":
            yield f"bl {target}\n"
        elif op == "unlock" and pairs and pairs[0][1] == "UNLOCKED":
            yield f"deb {target}\n"
        elif op == "create":
            yield f"crn {target}\n" + "".join(f"{a} {v}\n" for a, v in pairs) + "end\n"
        elif op == "delete":
            yield f"del {target}\n"
        else:
            # an empty value is left blank, so it cannot sit inside a setm (enm-cli.md §11)
            valued = [(a, v) for a, v in pairs if v != ""]
            if len(valued) == 1:
                yield f"set {target}$ {valued[0][0]} {valued[0][1]}\n"
            elif valued:
                yield f"setm {target}$ " + " ".join(f"{a} {v}" for a, v in valued) + "\n"
            for a, v in pairs:
                if v == "":
                    yield f"set {target}$ {a}\n"


def _moshell_value(text: str) -> str:
    """A cmedit-style value as moshell writes it: moRefs as LDNs below ManagedElement, lists
    of structs ``;``-separated, lists space-separated, structs ``m=v,…`` without brackets."""
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        inner = t[1:-1]
        if not inner:
            return ""
        items = _split_top(inner)
        if all(i.startswith("(") for i in items):
            return ";".join(_moshell_value(i) for i in items)
        return " ".join(_moshell_value(i) for i in items)
    if t.startswith("(") and t.endswith(")"):
        return t[1:-1]
    if t.startswith('"') and t.endswith('"'):
        inner = t[1:-1]
        below = inner.split("ManagedElement=", 1)[1] if "ManagedElement=" in inner else None
        if below is not None and "," in below:
            return below.split(",", 1)[1]  # a moRef: the LDN below ManagedElement
        return t  # a string: quoted as cmedit writes it
    return t


_TOKENS = re.compile(r'"[^"]*"?|[()\[\]{},]')
_PLAIN_LIST = re.compile(r'[^"()\[\]{}]*')
_STRUCT_LIST = re.compile(r'\((?:[^"()\[\]{}]*)\)(?:,\((?:[^"()\[\]{}]*)\))*')


def _split_top(text: str) -> list[str]:
    """The items of a list's text, split at its top-level commas."""
    if _PLAIN_LIST.fullmatch(text):  # scalars only: no quotes or brackets
        return [o.strip() for o in text.split(",")]
    if _STRUCT_LIST.fullmatch(text):  # structs of scalars: split between them
        return [o if i == 0 else "(" + o for i, o in enumerate(text.split(",("))]
    out, depth, start = [], 0, 0
    for token in _TOKENS.finditer(text):
        ch = token.group()
        if ch[0] == '"':
            continue  # a quoted string: its brackets and commas are text
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            out.append(text[start : token.start()])
            start = token.end()
    out.append(text[start:])
    return [o.strip() for o in out]


def bulkcm_tables(plan: pa.Table) -> dict[str, pa.Table]:
    """The plan as the ``mos`` and ``values`` of a Bulk CM import file: each changed MO once
    with its modifier (a create with its values, an update with the attributes it sets, a
    delete alone), the MOs above them giving the path; lock steps are left out."""
    from rtbfast.network_writer import TOP

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
