"""A cmedit script as rtbfast runs it: its lines read and checked before anything is sent, the
MO each command addresses, and the script as Plan rows (so the rollback of any script, or of
the part of it that was applied, is computed as a plan's is).

A script is one command a line; blank lines are skipped; comment lines (``#``) are read as
comments here, although ENM itself refuses them in a script it is given, so rtbfast never
writes them. ``apply`` runs the commands that address one MO: ``get``, ``set``, ``create``,
``delete`` and ``action`` on an FDN, or on a node name and the RDNs below its
``ManagedElement``, exactly as ``rtbfast plan`` writes them, and refuses anything more:

- a line is ended by a line feed only (a carriage return before it is taken off); a line
  holding any other character some reader ends a line at (CR, VT, FF, FS, GS, RS, NEL,
  U+2028, U+2029), another control character, or an invisible format character (bidirectional
  overrides, zero-width characters) is refused, so the line ENM runs is the line checked;
- a backslash is refused (no escape is known in cmedit: ENM could read the quotes otherwise);
- a line that holds a second ``cmedit``, a scope (several MOs, ``*``, a class, a filter) or
  any option (``-ALL``, ``--force``, ``--scopefilter`` …: a plan writes none) is refused;
- every name is checked against :mod:`rtbfast.names` (the FDN, the node and its RDNs, the
  attributes and struct members written).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from rtbfast.catalog_view import CatalogView
from rtbfast.enm import cmedit
from rtbfast.enm.plan import _join_kinds
from rtbfast.errors import InputError, InputIOError
from rtbfast.network_index import NetworkIndex
from rtbfast.schemas import PLAN_SCHEMA
from rtbfast.text_safety import FORMAT_CHARACTERS

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
    checks: list[tuple[int, NameCheck]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        unsafe = _unsafe_character(line)
        if unsafe is not None:
            column, why = unsafe
            bad.append(f"{p}:{number}:{column}: {why}")
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
        refused, names = command_names(command)
        if refused is not None:
            bad.append(f"{p}:{number}:1: {refused}")
            continue
        checks.extend((number, n) for n in names)
        lines.append(ScriptLine(number, stripped, command))
    for number, why in sorted(_refused_names(checks).items()):
        bad.append(f"{p}:{number}:1: {why}")
    if bad:
        bad.sort(key=lambda b: int(b[len(str(p)) + 1 :].split(":", 1)[0]))
        more = f" (and {len(bad) - 1} more line(s) that cannot be run)" if len(bad) > 1 else ""
        raise ScriptError(bad[0] + more, str(p))
    return Script(p, lines, hashlib.sha256(data).hexdigest())


_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_FORMAT = re.compile(f"[{FORMAT_CHARACTERS}]")


def _unsafe_character(line: str) -> tuple[int, str] | None:
    """The 1-based column of the first character that could make the line read as another
    (a line break some reader honours, a control or invisible format character), and why."""
    for column, ch in enumerate(line, start=1):
        code = ord(ch)
        if ch in _LINE_BREAKS:
            return column, (
                f"U+{code:04X} inside the line: some readers end a line there, so ENM could run it as two commands"
            )
        if ch != "\t" and (code < 0x20 or 0x7F <= code <= 0x9F):
            return column, f"a control character (U+{code:04X}) inside the line"
        if _FORMAT.match(ch):
            return column, f"an invisible format character (U+{code:04X}) that hides what the line says"
        if ch == "\\":
            return column, "a backslash: no escape is known in cmedit, so ENM could read the line otherwise"
    return None


def _value_names(value: cmedit.Value) -> list[str]:
    """The struct member names inside a value, at any depth."""
    out: list[str] = []
    if isinstance(value, cmedit.Struct):
        for name, member in value.members:
            out.append(name)
            out.extend(_value_names(member))
    elif isinstance(value, cmedit.Sequence):
        for item in value.items:
            out.extend(_value_names(item))
    return out


NameCheck = tuple[str, str, str]
"""(kind of :mod:`rtbfast.names`, name, what it is in the line)."""


def command_names(command: cmedit.Command) -> tuple[str | None, list[NameCheck]]:
    """Why ``apply`` does not run `command` (or None), and the names it holds to check: it
    must address one MO (an FDN, or a node and the RDNs below its ManagedElement) with no
    option, as ``rtbfast plan`` writes it."""
    options = [i for i in command.items if isinstance(i, cmedit.Option)]
    if options:
        o = options[0]
        shown = o.name if o.value is None else f"{o.name} {o.value}"
        return (
            f"the option {shown!r}: a plan writes no option (a delete of one MO needs no -ALL, a single MO no "
            "--force or scope), so apply runs none"
        ), []
    words = command.words
    if any(w.lower() == "cmedit" for w in words):
        return "a second 'cmedit' in the line: one line is one command", []
    if command.verb == "action" and len(words) < 2:
        return "'cmedit action' needs an MO and an action", []
    addressed = words[:-1] if command.verb == "action" else words
    names: list[NameCheck] = []
    if len(addressed) == 1:
        names.append(("fdn", addressed[0], f"{addressed[0]!r} is not one MO's FDN"))
    elif len(addressed) == 2:
        node, ldn = addressed
        what = f"'{node} {ldn}' is not a node and the RDNs below its ManagedElement"
        names.append(("mo_id", node, what))
        names.append(("fdn", f"X=1,{ldn}", what))
    else:
        return (
            f"'{' '.join(addressed)}' is not one MO: apply runs commands on an FDN, or on a node and the RDNs "
            "below its ManagedElement"
        ), []
    if command.verb == "action":
        names.append(("attribute", words[-1].split(".", 1)[0], f"the action {words[-1]!r}"))
    for name, value in command.assignments:
        names.append(("attribute", name, f"the attribute {name!r}"))
        names.extend(("member", m, f"the member {m!r} of {name!r}") for m in _value_names(value))
    return None, names


def _refused_names(checks: list[tuple[int, NameCheck]]) -> dict[int, str]:
    """Line → why its first refused name is refused, checked column-wise per kind."""
    import pyarrow as pa

    from rtbfast.names import refused_names

    out: dict[int, str] = {}
    by_kind: dict[str, list[tuple[int, str, str]]] = {}
    for line, (kind, name, what) in checks:
        by_kind.setdefault(kind, []).append((line, name, what))
    for kind, items in by_kind.items():
        found = refused_names(pa.array([n for _, n, _ in items], pa.string()), kind)  # type: ignore[arg-type]
        for row, why in found:
            line, _, what = items[row]
            out.setdefault(line, f"{what}: {why}")
    return out


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
    rows = cmedit.assignment_rows(command.assignments)
    if command.verb == "create":
        naming = {f"{cls}Id", cls[:1].lower() + cls[1:] + "Id"}
        rows = [r for r in rows if r[0] not in naming]
    return rows


def script_plan(
    lines: list[ScriptLine], network: NetworkIndex, catalog: CatalogView, source: str = "script"
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
