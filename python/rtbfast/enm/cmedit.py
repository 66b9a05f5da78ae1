"""ENM CLI ``cmedit`` command lines, read into a syntax tree and written back
(``../shared/reference/enm-cli.md`` §2-§6).

A line is ``cmedit <verb> <item>...``: each item is a positional word (a scope, an FDN, an MO
type path with its filters and attribute selection), an option (``-t``, ``--force``,
``--scopefilter (…)``, ``--collection NAME``, ``-ne=RadioNode``) or, for ``set`` and ``create``,
the attribute assignments (``a=v,b=w``; ``a:v`` and ``a = v`` are read too). Values are
structured: bare words, quoted strings, structs ``(m=v,…)`` or ``{m=v,…}``, lists ``[…]``.

Words are split at white space outside quotes and brackets; ``a=1, b=2`` (a space after a
top-level comma) is one assignment list. Writing back is canonical: one space between items,
``=`` between name and value, ``,`` between attributes, structs in ``()``, strings in double
quotes: reading what is written gives the same tree.

A line that is not a command this module can read (a comment, a line that does not start with
``cmedit``, an en dash where ``-`` belongs, unbalanced quotes or brackets) is a
:class:`CmeditSyntaxError` with the column and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from rtbfast.changeset import EMPTIED

VERBS = ("get", "set", "create", "delete", "action", "describe", "import", "export")

VALUE_OPTIONS = {
    "--scopefilter",
    "--collection",
    "-co",
    "--savedsearch",
    "--savedSearch",
    "-n",
    "--filetype",
    "-ft",
    "-f",
    "--file",
    "--error",
    "--validate",
    "-j",
    "--job",
    "-jn",
    "--jobname",
    "--filtername",
    "--filecompression",
    "--batchfilter",
    "--source",
    "--config",
    "-c",
    "--begin",
}
"""Options that take the next word as their value (``--collection NAME``)."""

_BARE = re.compile(r"[A-Za-z0-9_.\-]+")


class CmeditSyntaxError(ValueError):
    """A line that cannot be read: the 1-based column and why."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bare:
    """A value written without quotes: a number, an enum name, a boolean, a word."""

    text: str


@dataclass(frozen=True)
class Quoted:
    """A quoted string (``"…"`` or ``'…'``; the quote is not part of the text)."""

    text: str


@dataclass(frozen=True)
class Struct:
    """``(m1=v1,m2=v2)`` (or ``{…}``): members in order."""

    members: tuple[tuple[str, Value], ...]


@dataclass(frozen=True)
class Sequence:
    """``[v1,v2]``."""

    items: tuple[Value, ...]


Value = Bare | Quoted | Struct | Sequence


def render_value(value: Value) -> str:
    """A value as cmedit takes it: structs in ``()``, strings in double quotes."""
    if isinstance(value, Bare):
        return value.text
    if isinstance(value, Quoted):
        return f'"{value.text}"'
    if isinstance(value, Struct):
        return "(" + ",".join(f"{name}={render_value(v)}" for name, v in value.members) + ")"
    return "[" + ",".join(render_value(v) for v in value.items) + "]"


# -- the scanner -------------------------------------------------------------------------------

_CLOSE = {"(": ")", "[": "]", "{": "}"}
MAX_DEPTH = 32
"""Structs and lists nest at most this deep in a value (real ones nest 3): deeper is refused,
located, rather than recursing without end."""


class _Scanner:
    def __init__(self, text: str, offset: int = 0) -> None:
        self.text = text
        self.pos = 0
        self.offset = offset

    def error(self, message: str, at: int | None = None) -> CmeditSyntaxError:
        return CmeditSyntaxError(message, self.offset + (self.pos if at is None else at) + 1)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def quoted(self) -> str:
        quote = self.text[self.pos]
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self.error(f"a {quote} that is never closed")
        text = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return text

    def value(self, stops: str, depth: int = 0) -> Value:
        """A value, up to one of `stops` (at this depth) or the end."""
        if depth > MAX_DEPTH:
            raise self.error(f"values nested deeper than {MAX_DEPTH} structs and lists")
        ch = self.peek()
        if ch in ('"', "'"):
            return Quoted(self.quoted())
        if ch in ("(", "{"):
            close = _CLOSE[ch]
            self.pos += 1
            members: list[tuple[str, Value]] = []
            self.skip_spaces()
            if self.peek() == close:
                self.pos += 1
                return Struct(())
            while True:
                self.skip_spaces()
                name = self.name()
                self.skip_spaces()
                if self.peek() not in ("=", ":"):
                    raise self.error(f"expected '=' after the member {name!r}")
                self.pos += 1
                self.skip_spaces()
                members.append((name, self.value("," + close, depth + 1)))
                self.skip_spaces()
                if self.peek() == ",":
                    self.pos += 1
                    continue
                if self.peek() == close:
                    self.pos += 1
                    return Struct(tuple(members))
                raise self.error(f"expected ',' or {close!r} in a struct")
        if ch == "[":
            self.pos += 1
            items: list[Value] = []
            self.skip_spaces()
            if self.peek() == "]":
                self.pos += 1
                return Sequence(())
            while True:
                self.skip_spaces()
                items.append(self.value(",]", depth + 1))
                self.skip_spaces()
                if self.peek() == ",":
                    self.pos += 1
                    continue
                if self.peek() == "]":
                    self.pos += 1
                    return Sequence(tuple(items))
                raise self.error("expected ',' or ']' in a list")
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops and self.text[self.pos] not in " \t":
            if self.text[self.pos] in "([{":
                raise self.error(f"a {self.text[self.pos]!r} inside a bare value")
            self.pos += 1
        text = self.text[start : self.pos].strip()
        if not text:
            raise self.error("a value is missing")
        return Bare(text)

    def name(self) -> str:
        """An attribute or member name (``Class.attr`` qualified, as ``set`` allows)."""
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_-$."):
            self.pos += 1
        if start == self.pos:
            raise self.error("expected an attribute name")
        return self.text[start : self.pos]


def _words(line: str, start: int) -> Iterator[tuple[int, str]]:
    """The words of `line` from `start`: split at white space outside quotes and brackets;
    yields (offset, word)."""
    i, n = start, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return
        begin = i
        stack: list[str] = []
        while i < n and (stack or line[i] not in " \t"):
            ch = line[i]
            if ch in ('"', "'"):
                end = line.find(ch, i + 1)
                if end < 0:
                    raise CmeditSyntaxError(f"a {ch} that is never closed", i + 1)
                i = end + 1
                continue
            if ch in _CLOSE:
                stack.append(_CLOSE[ch])
            elif ch in ")]}":
                if not stack or stack[-1] != ch:
                    raise CmeditSyntaxError(f"a {ch!r} that closes nothing", i + 1)
                stack.pop()
            i += 1
        if stack:
            raise CmeditSyntaxError(f"a bracket that is never closed (expected {stack[-1]!r})", begin + 1)
        yield begin, line[begin:i]


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A positional word, as written (a scope, an FDN, an MO type path, an action name)."""

    text: str


@dataclass(frozen=True)
class Option:
    """An option and its value, if it takes one (``--collection NAME``, ``-ne=RadioNode``)."""

    name: str
    value: str | None = None


@dataclass(frozen=True)
class Assignments:
    """``a=v,b=w``: the attributes a ``set`` or ``create`` writes, in order."""

    items: tuple[tuple[str, Value], ...]


Item = Word | Option | Assignments


@dataclass(frozen=True)
class Command:
    """A cmedit command: its verb and items in order."""

    verb: str
    items: tuple[Item, ...] = field(default_factory=tuple)

    @property
    def words(self) -> list[str]:
        return [i.text for i in self.items if isinstance(i, Word)]

    @property
    def options(self) -> dict[str, str | None]:
        return {i.name: i.value for i in self.items if isinstance(i, Option)}

    @property
    def assignments(self) -> tuple[tuple[str, Value], ...]:
        for i in self.items:
            if isinstance(i, Assignments):
                return i.items
        return ()


def _is_assignment(word: str) -> bool:
    """Whether a word writes attributes: a top-level ``=`` (not ``==``) or ``:`` after a name."""
    m = re.match(r"[A-Za-z_][A-Za-z0-9_\-$.]*\s*([=:])", word)
    if m is None:
        return False
    rest = word[m.end() :]
    return not (m.group(1) == "=" and rest.startswith("="))


def _is_option(word: str) -> bool:
    return word.startswith("-") and not re.match(r"-\d", word)


_FDN = re.compile(r"[A-Za-z][A-Za-z0-9_]*=[^,=]+(,[A-Za-z][A-Za-z0-9_]*=[^,=]+)+")
"""Two or more ``Class=Id`` RDNs: a full FDN (a scope of its own)."""


def _assignments_start(verb: str, positional: list[str]) -> int | None:
    """Which positional word the attributes of a ``set`` or ``create`` start at: after the
    FDN (``create``, or ``set`` of a full FDN), else after the scope and the MO type path
    (``set SCOPE Class a=v``), or right after the scope when the next word writes
    (``set SCOPE Class.attr=v``)."""
    if verb not in ("set", "create") or len(positional) < 2:
        return None
    if verb == "create" or _FDN.fullmatch(positional[0]):
        return 1
    if len(positional) >= 3:
        return 2
    return 1 if _is_assignment(positional[1]) else None


def parse_assignments(text: str, offset: int = 0) -> tuple[tuple[str, Value], ...]:
    """``a=v,b=w`` (``:`` for ``=``; spaces around separators allowed) as (name, value) pairs."""
    s = _Scanner(text, offset)
    items: list[tuple[str, Value]] = []
    while True:
        s.skip_spaces()
        name = s.name()
        s.skip_spaces()
        if s.peek() not in ("=", ":"):
            raise s.error(f"expected '=' after the attribute {name!r}")
        s.pos += 1
        s.skip_spaces()
        items.append((name, s.value(",;")))
        s.skip_spaces()
        if s.peek() in (",", ";"):
            s.pos += 1
            continue
        if s.pos >= len(text):
            return tuple(items)
        raise s.error(f"expected ',' between attributes, found {s.peek()!r}")


def parse_line(line: str) -> Command:
    """One cmedit command line as its tree. :class:`CmeditSyntaxError` says why a line is
    not one."""
    text = line.rstrip("\r\n")
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    if not stripped:
        raise CmeditSyntaxError("an empty line", 1)
    if stripped.startswith("#"):
        raise CmeditSyntaxError("a comment line (ENM refuses lines starting with '#')", lead + 1)
    first = stripped.split(None, 1)[0]
    if first != "cmedit":
        raise CmeditSyntaxError(f"{first!r}: a command starts with 'cmedit'", lead + 1)
    dash = text.find("\u2013")
    if dash < 0:
        dash = text.find("\u2014")
    if dash >= 0:
        raise CmeditSyntaxError(f"{text[dash]!r} (a dash, U+{ord(text[dash]):04X}) where '-' belongs", dash + 1)
    words = list(_words(text, lead + len("cmedit")))
    if not words:
        raise CmeditSyntaxError("a verb is missing after 'cmedit'", len(text) + 1)
    verb_at, verb = words[0]
    if verb.lower() not in VERBS:
        raise CmeditSyntaxError(f"{verb!r} is not a cmedit verb ({', '.join(VERBS)})", verb_at + 1)
    items: list[Item] = []
    rest = words[1:]
    positional = [k for k, (_, w) in enumerate(rest) if not _is_option(w)]
    # the option values (``--collection NAME``) are not positional
    taken: set[int] = set()
    for k, (_, w) in enumerate(rest):
        if _is_option(w) and "=" not in w and w in VALUE_OPTIONS and k + 1 < len(rest):
            taken.add(k + 1)
    positional = [k for k in positional if k not in taken]
    first_assignment = _assignments_start(verb.lower(), [rest[k][1] for k in positional])
    assign_from = positional[first_assignment] if first_assignment is not None else None
    i = 0
    while i < len(rest):
        at, word = rest[i]
        if assign_from is not None and i == assign_from:
            # the assignments run to the next option: words joined back with their spaces
            j = i
            while j + 1 < len(rest) and not _is_option(rest[j + 1][1]):
                j += 1
            end = rest[j][0] + len(rest[j][1])
            items.append(Assignments(parse_assignments(text[at:end], at)))
            i = j + 1
            continue
        if _is_option(word):
            name, eq, value = word.partition("=")
            if eq:
                items.append(Option(name, value))
            elif i + 1 in taken:
                items.append(Option(name, rest[i + 1][1]))
                i += 1
            else:
                items.append(Option(name))
            i += 1
            continue
        items.append(Word(word))
        i += 1
    command = Command(verb.lower(), tuple(items))
    if command.verb in ("set", "create") and not command.assignments:
        raise CmeditSyntaxError(f"'{command.verb}' without attributes to write (a=v,…)", len(text) + 1)
    return command


def render_line(command: Command) -> str:
    """The command as one canonical line."""
    parts = ["cmedit", command.verb]
    for item in command.items:
        if isinstance(item, Word):
            parts.append(item.text)
        elif isinstance(item, Option):
            if item.value is None:
                parts.append(item.name)
            elif item.name in VALUE_OPTIONS:
                parts.extend((item.name, item.value))
            else:
                parts.append(f"{item.name}={item.value}")
        else:
            parts.append(",".join(f"{name}={render_value(v)}" for name, v in item.items))
    return " ".join(parts)


# -- as rows ------------------------------------------------------------------------------------


def assignment_rows(
    items: tuple[tuple[str, Value], ...],
) -> list[tuple[str, str | None, int | None, str | None]]:
    """cmedit assignments as the long rows of a ChangeSet or Plan: (attribute, member, index,
    value); a member nested in a struct is ``a.b``, a list item its index, ``[]`` one row at
    index :data:`rtbfast.changeset.EMPTIED`, ``null`` a null value."""
    out: list[tuple[str, str | None, int | None, str | None]] = []

    def text(v: Value) -> str | None:
        if isinstance(v, Bare):
            return None if v.text == "null" else v.text
        if isinstance(v, Quoted):
            return v.text
        return None

    def struct(attribute: str, value: Struct, index: int, prefix: str = "") -> None:
        for name, v in value.members:
            if isinstance(v, Struct):
                struct(attribute, v, index, f"{prefix}{name}.")
            else:
                out.append((attribute, f"{prefix}{name}", index, text(v)))

    for name, value in items:
        attribute = name.split(".")[-1]
        if isinstance(value, Sequence):
            if not value.items:
                out.append((attribute, None, EMPTIED, None))
            for i, item in enumerate(value.items):
                if isinstance(item, Struct):
                    struct(attribute, item, i)
                else:
                    out.append((attribute, None, i, text(item)))
        elif isinstance(value, Struct):
            struct(attribute, value, 0)
        else:
            t = text(value)
            out.append((attribute, None, 0 if t is not None else None, t))
    return out
