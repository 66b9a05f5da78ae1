"""A cmedit script as rtbfast runs it: its lines read and checked before anything is sent, the
MO each command addresses, and the script as Plan rows (so the rollback of any script, or of
the part of it that was applied, is computed as a plan's is).

A script is one command a line; blank lines are skipped; comment lines (``#``) are read as
comments here, although ENM itself refuses them in a script it is given, so rtbfast never
writes them. ``apply`` runs the commands that address one MO: ``get``, ``set``, ``create``,
``delete`` and ``action`` on an FDN, or on a node name and the RDNs below its
``ManagedElement``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from rtbfast.enm import cmedit
from rtbfast.enm.model import EnmCatalog
from rtbfast.enm.plan import PLAN_SCHEMA, _join_kinds
from rtbfast.errors import InputError, InputIOError
from rtbfast.network_index import NetworkIndex

RUNNABLE = ("get", "set", "create", "delete", "action")


class ScriptError(InputError):
    """A script line that cannot be run: not a cmedit command, or not one rtbfast can run."""


@dataclass(frozen=True)
class ScriptLine:
    number: int
    """1-based line number in the file."""
    text: str
    command: cmedit.Command

    @property
    def changes(self) -> bool:
        return self.command.verb in ("set", "create", "delete", "action")


@dataclass(frozen=True)
class Script:
    path: Path
    lines: list[ScriptLine]
    sha256: str


def read_script(path: str | os.PathLike[str]) -> Script:
    """Read and check every line of a cmedit script. :class:`ScriptError` names the first line
    that is not a command rtbfast can run (file, line, column, why) and how many more there are."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as err:
        raise InputIOError(f"{p}: no such file", str(p)) from err
    except OSError as err:
        raise InputIOError(f"{p}: cannot read: {err.strerror or err}", str(p)) from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        at_line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ScriptError(f"{p}:{at_line}:{column}: not UTF-8 (byte 0x{data[err.start]:02x})", str(p)) from err
    lines: list[ScriptLine] = []
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            command = cmedit.parse_line(line)
        except cmedit.CmeditSyntaxError as err:
            bad.append(f"{p}:{number}:{err.column}: {err.message}")
            continue
        if command.verb not in RUNNABLE:
            bad.append(f"{p}:{number}:1: 'cmedit {command.verb}' is not run by rtbfast apply ({', '.join(RUNNABLE)})")
            continue
        if not command.words:
            bad.append(f"{p}:{number}:1: 'cmedit {command.verb}' names no MO")
            continue
        lines.append(ScriptLine(number, line.strip(), command))
    if bad:
        more = f" (and {len(bad) - 1} more line(s) that cannot be run)" if len(bad) > 1 else ""
        raise ScriptError(bad[0] + more, str(p))
    return Script(p, lines, hashlib.sha256(data).hexdigest())


class NodeNames:
    """Node names (``MeContext`` ids and ``ManagedElement`` ids) → the ``ManagedElement``'s FDN."""

    def __init__(self, index: NetworkIndex) -> None:
        self.by_name: dict[str, str] = {}
        for row, cls in enumerate(index.cls):
            if cls != "ManagedElement":
                continue
            fdn = index.fdn[row]
            self.by_name.setdefault(index.id[row], fdn)
            for rdn in fdn.split(","):
                if rdn.startswith("MeContext="):
                    self.by_name[rdn.split("=", 1)[1]] = fdn

    def fdn_of(self, words: list[str]) -> str | None:
        """The FDN a command's words address: an FDN, or a node and the RDNs below its
        ``ManagedElement``; None for a scope (several MOs, a class, a filter)."""
        first = words[0]
        if cmedit._FDN.fullmatch(first) or ("=" in first and len(words) == 1 and "==" not in first):
            return first
        if len(words) == 2 and "=" in words[1] and "==" not in words[1] and "." not in words[1].split("=")[0]:
            element = self.by_name.get(first)
            if element is not None:
                return f"{element},{words[1]}"
        return None


def command_rows(command: cmedit.Command, cls: str) -> list[tuple[str, str | None, int | None, str | None]]:
    """The long rows (attribute, member, index, value) a set or create writes; a create's
    naming attribute is the MO's id, not a row."""
    from rtbfast.enm.simulator import _assignment_rows

    rows = _assignment_rows(command.assignments)
    if command.verb == "create":
        naming = {f"{cls}Id", cls[:1].lower() + cls[1:] + "Id"}
        rows = [r for r in rows if r[0] not in naming]
    return rows


def script_plan(
    lines: list[ScriptLine], network: NetworkIndex, catalog: EnmCatalog, source: str = "script"
) -> pa.Table:
    """The script's changing commands as Plan rows, one step per command in order, so that
    :func:`rtbfast.enm.rollback.rollback_plan` inverts them from the network's values. A
    ``delete … -ALL`` becomes the deletes of its subtree, deepest first, as the planner writes
    them. Commands that address no single MO are refused (:class:`ScriptError`)."""
    names = NodeNames(network)
    cls_of = dict(zip(network.fdn, network.cls, strict=True))
    cols: dict[str, list[object]] = {n: [] for n in PLAN_SCHEMA.names if n not in ("kind", "is_sequence")}
    step = 0

    def add(
        op: str, fdn: str, cls: str, rows: list[tuple[str, str | None, int | None, str | None]], where: str
    ) -> None:
        nonlocal step
        full = ([(None, None, None, None)] if op in ("create", "delete", "action") else []) + list(rows)
        for attribute, member, index, value in full:
            cols["step"].append(step)
            cols["phase"].append("script")
            cols["phase_order"].append(0)
            cols["op"].append(op)
            cols["fdn"].append(fdn)
            cols["class"].append(cls)
            cols["attribute"].append(attribute)
            cols["member"].append(member)
            cols["index"].append(index)
            cols["value"].append(value)
            cols["source"].append(where)
        step += 1

    for line in lines:
        if not line.changes:
            continue
        where = f"{source}:{line.number}"
        fdn = names.fdn_of(line.command.words)
        if fdn is None:
            raise ScriptError(
                f"{where}: '{' '.join(line.command.words)}' addresses no single MO; a rollback is computed for "
                "commands on an FDN, or on a node and the RDNs below its ManagedElement",
                source,
            )
        cls = cls_of.get(fdn) or fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        verb = line.command.verb
        if verb == "delete":
            options = {k.lower() for k in line.command.options}
            if "-all" in options or "--all" in options:
                order = _subtree(network, fdn)
                for f in order:
                    add("delete", f, cls_of.get(f, cls), [], where)
            else:
                add("delete", fdn, cls, [], where)
        elif verb == "action":
            add("action", fdn, cls, [], where)
        else:
            add(verb, fdn, cls, command_rows(line.command, cls), where)
    table = pa.table(
        {n: pa.array(v, PLAN_SCHEMA.field(n).type) for n, v in cols.items()},
    )
    return _join_kinds(table, catalog.kinds).select(PLAN_SCHEMA.names).cast(PLAN_SCHEMA)


def _subtree(network: NetworkIndex, fdn: str) -> list[str]:
    """`fdn` and the MOs below it in the network, deepest first (as they are deleted)."""
    if fdn not in network.row_of:
        return [fdn]
    order: list[str] = []
    stack: list[tuple[int, bool]] = [(network.row_of[fdn], False)]
    while stack:
        row, expanded = stack.pop()
        if expanded:
            order.append(network.fdn[row])
            continue
        stack.append((row, True))
        stack.extend((child, False) for child in reversed(network.children.get(row, [])))
    return order
