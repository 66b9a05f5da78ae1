"""Typed rules from the free text of the model and the parameter workbook: the
``Dependencies`` and ``Precondition`` of each attribute (``rtb-and-workbook.md`` §3.4).

The text is cut into sentences; each sentence is matched against the frequent shapes:

=====================  =========================================================  ============
kind                   example                                                    evaluated
=====================  =========================================================  ============
``expression``         ``pciFilterMin <= pciFilterMax``;                           CEL
                       ``Equal to 3 x physicalLayerCellIdGroup + …``;
                       ``Value * 1000 must be greater than or equal to raRange``
``compare``            ``Must be equal to or greater than noOfMpdcchCss2Br``       CEL
``value_if``           ``Must be false if rohcEnabled is true``                    CEL
``forbid_if``          ``Cannot be 1400 or 3000 if catm1SupportEnabled is true``   CEL
``allowed_if``         ``Can only be 156 or 158 if tddUlDlPattern is …``           CEL
``empty_if``           ``Must be set to empty if threshServingLowQ is set to       no (absent
                       empty``                                                     is unknown)
``unique``             ``Pair of earfcndl and physicalLayerCellId attributes must  group-by
                       be unique in RBS``; ``Value must be unique in 5qiTable``
``requires_lock``      ``Value can only be changed if administrativeState is       operation
                       LOCKED``                                                    rule
``only_relevant_if``   ``Only used if triggerQuantityA5 is set to RSRP``           no (a note)
``requires_feature``   ``Only relevant if the license for … is present and the    no (a note)
                       feature is active``
=====================  =========================================================  ============

Names are attributes of the same class (``Class::attr`` of the same class too); values are
typed by the catalog (enum members and strings quoted, numbers and booleans bare). A
sentence no shape matches stays a note on its attribute, with its text. Every typed rule
keeps its source text. CEL rules are written so that they hold when an attribute they read
is absent (``has(self.x)`` guards): the text says what must hold between values, not that
the values exist; for the same reason rules about emptiness are kept but not checked (an
attribute absent from a change or an export is not known to be empty).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SENTENCE = re.compile(r"\n+|(?<=[.;])\s+(?=[A-Z(\-])")
NUMBER = r"-?\d+(?:\.\d+)?"


@dataclass
class TypedRule:
    cls: str
    attribute: str
    column: str
    """``dependencies`` or ``precondition``."""
    kind: str
    text: str
    """The sentence the rule was read from."""
    params: dict[str, Any] = field(default_factory=dict)
    cel: str | None = None
    """The assert, for the kinds evaluated as CEL."""

    @property
    def rule_id(self) -> str:
        return f"{self.column[:3]}:{self.cls}.{self.attribute}:{self.kind}"


@dataclass
class Note:
    cls: str
    attribute: str
    column: str
    text: str


@dataclass
class Extraction:
    rules: list[TypedRule]
    notes: list[Note]
    rows: int
    """Attribute rows with a Dependencies or Precondition text."""
    rows_with_rule: int

    @property
    def coverage(self) -> float:
        return self.rows_with_rule / self.rows if self.rows else 0.0

    def cel_table(self) -> pa.Table:
        """The CEL rules as a user rules table (severity ``warning``: they are read from prose)."""
        rules = [r for r in self.rules if r.cel]
        seen: dict[str, int] = defaultdict(int)
        ids = []
        for r in rules:
            seen[r.rule_id] += 1
            ids.append(r.rule_id if seen[r.rule_id] == 1 else f"{r.rule_id}:{seen[r.rule_id]}")
        return pa.table(
            {
                "id": pa.array(ids, pa.string()),
                "class": pa.array([r.cls for r in rules], pa.string()),
                "when": pa.array([None] * len(rules), pa.string()),
                "assert": pa.array([r.cel for r in rules], pa.string()),
                "severity": pa.array(["warning"] * len(rules), pa.string()),
                "message": pa.array([f"{r.attribute}: {r.text}" for r in rules], pa.string()),
            }
        )


class _Class:
    """What the extractor knows of one class: attribute kinds, and enum members."""

    def __init__(self, name: str, kinds: dict[str, str]) -> None:
        self.name = name
        self.kinds = kinds

    def attr(self, token: str) -> str | None:
        """`token` as an attribute of this class (``Class::attr`` of this class too)."""
        token = token.strip().strip(".,;:()")
        if "::" in token:
            owner, _, token = token.partition("::")
            if owner.split("/")[0] != self.name and self.name not in owner.split("/"):
                return None
        return token if token in self.kinds else None

    def literal(self, attribute: str, text: str) -> str | None:
        """`text` as a CEL literal of `attribute`'s type, or None when it cannot be one."""
        text = text.strip().strip(".,;")
        kind = self.kinds.get(attribute, "unknown")
        if kind == "boolean":
            low = {"enabled": "true", "disabled": "false"}.get(text.lower(), text.lower())
            return low if low in ("true", "false") else None
        if kind == "integer":
            return text if re.fullmatch(r"-?\d+", text) else None
        if kind in ("float", "decimal"):
            return text if re.fullmatch(NUMBER, text) else None
        if kind in ("enum", "string", "moref") and re.fullmatch(r"[A-Za-z0-9_\-]+", text):
            return "'" + text + "'"
        return None


_OPS = {
    "equal to or greater than": ">=",
    "greater than or equal to": ">=",
    "equal to or larger than": ">=",
    "larger than or equal to": ">=",
    "equal to or less than": "<=",
    "less than or equal to": "<=",
    "equal to or lower than": "<=",
    "lower than or equal to": "<=",
    "greater than": ">",
    "larger than": ">",
    "higher than": ">",
    "less than": "<",
    "lower than": "<",
    "smaller than": "<",
    "equal to": "==",
    "the same as": "==",
    "same as": "==",
    "set to the same value as": "==",
    "different from": "!=",
}
_OP_WORDS = "|".join(sorted(_OPS, key=len, reverse=True))
TIMES = "\u00d7"
_SYMBOLS = {"=<": "<=", "=>": ">=", "\u2264": "<=", "\u2265": ">=", "=": "==", "==": "==", "<": "<", ">": ">"}
_SYMBOLS |= {"<=": "<=", ">=": ">=", "!=": "!=", "<>": "!="}

_LOCK = re.compile(
    r"^(?:value |this attribute |the attribute )?(?:can|may) only be (?:changed|set|modified)"
    r" (?:if|when) (?:the )?(?:attribute )?administrativeState (?:is|=|equals|is set to) LOCKED\.?$",
    re.IGNORECASE,
)
_LOCK_2 = re.compile(r"^administrativeState must (?:be|equal|be set to) LOCKED\.?$", re.IGNORECASE)
_LOCK_3 = re.compile(r"^(?:the )?(?:cell|MO) (?:is|must be) LOCKED\.?$", re.IGNORECASE)
"""A precondition on the cell (or the MO) itself: the planner locks the MO or the cell above it."""
_COMPARE = re.compile(
    r"^(?:(?:the )?value(?: of (?:this attribute|(?P<lhs>\w+)))?\s*"
    r"(?:(?P<mul>[*x\u00d7])\s*(?P<scale>\d+))?\s+|it\s+)?"
    rf"(?:must|shall|should|has to) be (?P<op>{_OP_WORDS})\s+(?:the )?(?:value of\s+)?(?:attribute\s+)?"
    rf"(?P<rhs>[\w:/]+|{NUMBER})(?: value)?\.?$",
    re.IGNORECASE,
)
_LIST = r"[\w\-]+(?:(?:,? or |, )(?!then\b)[\w\-]+)*"
_COND = rf"(?P<b>[\w:/]+)(?: attribute)?(?: (?:is set to|is equal to|equals|is) | ?==? ?)(?P<v>{_LIST})"
_VALUE_IF = re.compile(
    r"^(?:value )?(?:must|shall) (?:be|be set to|equal) (?P<x>[\w\-]+) (?:if|when) (?:the )?(?:attribute )?"
    rf"{_COND}\.?$",
    re.IGNORECASE,
)
_FORBID_IF = re.compile(
    rf"^(?:value )?(?:can ?not|must not|may not|shall not) be (?:set to )?(?P<xs>[\w\-]+(?:(?:, | or | and )[\w\-]+)*)"
    rf" (?:if|when|while) (?:the )?(?:attribute )?{_COND}\.?$",
    re.IGNORECASE,
)
_IF_FORBID = re.compile(
    rf"^if (?:the )?(?:attribute )?{_COND},? (?:then )?(?:the )?(?:value )?(?:can ?not|must not) be "
    rf"(?P<xs>[\w\-]+(?:(?:, | or | and )[\w\-]+)*)\.?$",
    re.IGNORECASE,
)
_ALLOWED_IF = re.compile(
    rf"^(?:value )?can only be (?:set to )?(?P<xs>[\w\-]+(?:(?:, | or )[\w\-]+)*) (?:if|when) (?:the )?(?:attribute )?"
    rf"{_COND}\.?$",
    re.IGNORECASE,
)
_ONLY_VALUES_IF = re.compile(
    r"^only values? (?P<xs>[\w\-]+(?:(?:, ?| or | and )[\w\-]+)*) (?:are|is) allowed (?:if|when) (?:the )?"
    rf"(?:attribute )?{_COND}\.?$",
    re.IGNORECASE,
)
_CANNOT_BE = re.compile(
    r"^(?:value )?(?:can ?not|must not|shall not) be (?P<dir>higher|greater|larger|lower|less|smaller) than "
    r"(?:the value of )?(?P<rhs>\w+(?:(?:,? or |, )\w+)*)\.?$",
    re.IGNORECASE,
)
_EMPTY_IF = re.compile(
    r"^(?:value )?must be (?:set to )?empty (?:if|when) (?:the )?(?:attribute )?(?P<b>[\w:/]+)"
    r" is (?:set to )?empty\.?$",
    re.IGNORECASE,
)
_RELEVANT_IF = re.compile(
    r"^(?:(?:this )?(?:attribute|parameter|value) (?:is )?|it is |[\w ]{0,40}? )?(?:only )?"
    r"(?:relevant|applicable|used|valid|effective|has effect|takes effect|has an effect|considered)"
    r"(?: only)? (?:if|when) (?P<cond>.+?)\.?$",
    re.IGNORECASE,
)
_LICENSE = re.compile(
    r"licen[cs]es? for (?:the )?(?P<name>.+?) (?:is|are) (?:present|installed|enabled)", re.IGNORECASE
)
_FEATURE = re.compile(
    r"(?:^|\b)(?:the )?(?:[Ff]eature (?P<b>[A-Z][\w\- ]+?)|(?P<c>[A-Z][\w\- ]+?) feature) (?:must be|is) "
    r"(?:active|activated|enabled)",
)


def features(text: str) -> list[str]:
    """The licences or features a sentence makes a condition of (``the licenses for A and B
    are present`` names two)."""
    m = _LICENSE.search(text)
    if m:
        name = m.group("name").strip()
        plural = re.search(r"licen[cs]es\b", m.group(0), re.IGNORECASE) is not None
        names = name.split(" and ") if plural else [name]
    else:
        f = _FEATURE.search(text)
        names = [next(g for g in f.groups() if g)] if f else []
    cleaned = [re.sub(r"^(?:the )?feature |\s+feature$", "", n.strip(), flags=re.IGNORECASE).strip() for n in names]
    return [n for n in cleaned if n]


_UNIQUE_PAIR = re.compile(
    r"^(?:the )?(?:pair|combination) of (?:attributes )?(?P<a>\w+) and (?P<b>\w+)(?: attributes?)? must be unique"
    r"(?: (?:in|within|per) (?:the |an? |each )?(?P<scope>[\w\-]+))?\.?$",
    re.IGNORECASE,
)
_UNIQUE = re.compile(
    r"^(?:the )?value (?:must|shall) be unique(?: (?:in|within|per|under) (?:the |an? |each )?(?P<scope>[\w\-]+))?\.?$",
    re.IGNORECASE,
)
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w:/]*)"
    "|(?P<op><=|>=|=<|=>|==|!=|<>|[-+*/x\u00d7()<>=\u2264\u2265]))"
)


class _Extractor:
    def __init__(self, cls: _Class, attribute: str, column: str) -> None:
        self.c = cls
        self.a = attribute
        self.column = column

    def rule(self, kind: str, text: str, cel: str | None = None, **params: Any) -> TypedRule:
        return TypedRule(self.c.name, self.a, self.column, kind, text, params, cel)

    def guard(self, names: list[str], expression: str) -> str:
        unique = list(dict.fromkeys(names))
        if len(unique) == 1:
            return f"!has(self.{unique[0]}) || ({expression})"
        present = " && ".join(f"has(self.{n})" for n in unique)
        return f"!({present}) || ({expression})" if present else expression

    def condition(self, b_text: str, values_text: str) -> tuple[str, str] | None:
        """`B is V (or W…)` as (attribute, CEL condition), or None."""
        b = self.c.attr(b_text)
        if b is None:
            return None
        values = [v for v in re.split(r",? or |, ", values_text) if v]
        literals = [self.c.literal(b, v) for v in values]
        if not literals or any(v is None for v in literals):
            return None
        if len(literals) == 1:
            return b, f"{b} == {literals[0]}"
        return b, f"{b} in [{', '.join(str(v) for v in literals)}]"

    def values(self, text: str) -> list[str] | None:
        items = [v for v in re.split(r", ?| or | and ", text) if v]
        literals = [self.c.literal(self.a, v) for v in items]
        return None if not literals or any(v is None for v in literals) else [str(v) for v in literals]

    def expression(self, text: str) -> TypedRule | None:
        """A sentence that is itself a comparison of attributes and numbers."""
        body = re.sub(r"^(?:value|it)\b", self.a, text.strip().rstrip("."), flags=re.IGNORECASE)
        body = re.sub(r"^equal to\b", f"{self.a} ==", body, flags=re.IGNORECASE)
        match = _COMPARE_WORDS.match(body)
        if match:
            body = f"{match.group('lhs')} {_OPS[match.group('op').lower()]} {match.group('rhs')}"
        body = re.sub(r"\bAND\b", "&&", re.sub(r"\bOR\b", "||", body))
        out: list[str] = []
        names: list[str] = []
        comparisons = 0
        pos = 0
        parts = body.replace("&&", " && ").replace("||", " || ").split()
        joined = " ".join(parts)
        while pos < len(joined):
            if joined.startswith(("&&", "||"), pos):
                out.append(joined[pos : pos + 2])
                pos += 2
                continue
            m = _TOKEN.match(joined, pos)
            if not m or m.end() == pos:
                if joined[pos] == " ":
                    pos += 1
                    continue
                return None
            pos = m.end()
            if m.group("num"):
                out.append(m.group("num"))
            elif m.group("name"):
                name = m.group("name")
                if name == "x" and out and out[-1] not in "+-*/(<>=!&|":
                    out.append("*")
                    continue
                attr = self.c.attr(name)
                if attr is None or self.c.kinds.get(attr) not in ("integer", "float", "decimal"):
                    return None
                names.append(attr)
                out.append(attr)
            else:
                op = m.group("op")
                if op in ("x", TIMES):
                    out.append("*")
                elif op in _SYMBOLS:
                    out.append(_SYMBOLS[op])
                    comparisons += 1
                else:
                    out.append(op)
        if comparisons == 0 or not names:
            return None
        cel = " ".join(out).replace("( ", "(").replace(" )", ")")
        if any(self.c.kinds.get(n) != "integer" for n in names) and "/" in cel:
            return None
        return self.rule("expression", text, self.guard(names, cel), attributes=sorted(set(names)))

    def sentence(self, s: str) -> list[TypedRule]:
        a = self.a
        if _LOCK.match(s) or _LOCK_2.match(s) or _LOCK_3.match(s):
            return [self.rule("requires_lock", s, state="administrativeState", value="LOCKED")]
        m = _UNIQUE_PAIR.match(s)
        if m:
            first, second = self.c.attr(m.group("a")), self.c.attr(m.group("b"))
            if first and second:
                return [self.rule("unique", s, attributes=[first, second], scope=_scope(m.group("scope")))]
        m = _UNIQUE.match(s)
        if m:
            return [self.rule("unique", s, attributes=[a], scope=_scope(m.group("scope")))]
        m = _CANNOT_BE.match(s)
        if m and self.c.kinds.get(a) in ("integer", "float", "decimal"):
            op = "<=" if m.group("dir").lower() in ("higher", "greater", "larger") else ">="
            others = [
                self.c.attr(x) or (x if re.fullmatch(NUMBER, x) else None)
                for x in re.split(r",? or |, ", m.group("rhs"))
            ]
            if others and all(others):
                return [
                    self.rule(
                        "compare",
                        s,
                        self.guard([a] + ([o] if o in self.c.kinds else []), f"{a} {op} {o}"),
                        op=op,
                        other=o,
                    )
                    for o in others
                    if o is not None
                ]
        m = _COMPARE.match(s)
        if m and (m.group("lhs") is None or self.c.attr(m.group("lhs")) == a):
            op = _OPS[m.group("op").lower()]
            rhs_text = m.group("rhs")
            rhs = self.c.attr(rhs_text) or (rhs_text if re.fullmatch(NUMBER, rhs_text) else None)
            numeric = self.c.kinds.get(a) in ("integer", "float", "decimal")
            if rhs is not None and (numeric or op == "=="):
                lhs = f"{a} * {m.group('scale')}" if m.group("scale") else a
                names = [a] + ([rhs] if rhs in self.c.kinds else [])
                cel = self.guard(names, f"{lhs} {op} {rhs}")
                return [self.rule("compare", s, cel, op=op, other=rhs, scale=m.group("scale"))]
        for pattern, kind in ((_FORBID_IF, "forbid_if"), (_IF_FORBID, "forbid_if"), (_ALLOWED_IF, "allowed_if"),
                              (_ONLY_VALUES_IF, "allowed_if")):  # fmt: skip
            m = pattern.match(s)
            if m:
                cond = self.condition(m.group("b"), m.group("v"))
                values = self.values(m.group("xs"))
                if cond and values:
                    member = f"{a} in [{', '.join(values)}]"
                    check = f"!({member})" if kind == "forbid_if" else member
                    cel = self.guard([a, cond[0]], f"!({cond[1]}) || {check}")
                    return [self.rule(kind, s, cel, when=cond[1], values=values)]
        m = _VALUE_IF.match(s)
        if m:
            cond = self.condition(m.group("b"), m.group("v"))
            value = self.c.literal(a, m.group("x"))
            if cond and value:
                cel = self.guard([a, cond[0]], f"!({cond[1]}) || {a} == {value}")
                return [self.rule("value_if", s, cel, when=cond[1], value=value)]
        m = _EMPTY_IF.match(s)
        if m:
            b = self.c.attr(m.group("b"))
            if b:
                # not checked: an attribute absent from a change or an export is not known to be empty
                return [self.rule("empty_if", s, other=b)]
        expression = self.expression(s)
        if expression:
            return [expression]
        m = _RELEVANT_IF.match(s)
        if m:
            cond_text = m.group("cond")
            names = features(cond_text)
            if names:
                return [self.rule("requires_feature", s, feature=n) for n in names]
            cm = re.match(rf"^(?:the )?(?:attribute )?{_COND}$", cond_text.strip().rstrip("."), re.IGNORECASE)
            cond = self.condition(cm.group("b"), cm.group("v")) if cm else None
            if cond:
                return [self.rule("only_relevant_if", s, when=cond[1])]
        return [self.rule("requires_feature", s, feature=n) for n in features(s)]


_COMPARE_WORDS = re.compile(rf"^(?P<lhs>.+?) (?:must|shall|should) be (?P<op>{_OP_WORDS}) (?P<rhs>.+)$", re.IGNORECASE)


def _scope(word: str | None) -> str:
    if word is None or word.lower() in ("rbs", "node", "enodeb", "gnodeb", "me", "managedelement", "network"):
        return "node"
    return "parent"


def sentences(text: str) -> list[tuple[str, bool]]:
    """The sentences of a Dependencies or Precondition text (list items one each), each with
    whether it stands on its own: the lines after one ending in ``:`` (``When cfraEnable is
    true:``) hold only under that heading, so they are not read as rules of their own."""
    out: list[tuple[str, bool]] = []
    headed = False
    for line in text.splitlines():
        for s in SENTENCE.split(line):
            s = s.strip(" \t-\u2022*")
            if s:
                out.append((s, not headed))
        headed = headed or line.rstrip().endswith(":")
    return out


def extract(catalog: dict[str, pa.Table]) -> Extraction:
    """Typed rules from the ``dependencies`` and ``precondition`` of every attribute of `catalog`."""
    attributes = catalog.get("attributes")
    if attributes is None:
        return Extraction([], [], 0, 0)
    names = [c for c in ("class", "attribute", "kind", "dependencies", "precondition") if c in attributes.column_names]
    rows = attributes.select(names).to_pylist()
    kinds: dict[str, dict[str, str]] = defaultdict(dict)
    for r in rows:
        kinds[r["class"]].setdefault(r["attribute"], r.get("kind") or "unknown")
    classes = {name: _Class(name, k) for name, k in kinds.items()}
    rules: list[TypedRule] = []
    notes: list[Note] = []
    with_text = with_rule = 0
    seen: set[tuple[str, str, str, str]] = set()
    for r in rows:
        texts = [(col, r.get(col)) for col in ("dependencies", "precondition") if r.get(col)]
        if not texts:
            continue
        key = (r["class"], r["attribute"], str(texts), "")
        if key in seen:  # the same text from two sources
            continue
        seen.add(key)
        with_text += 1
        found = False
        for column, text in texts:
            rules_of, notes_of = extract_text(classes[r["class"]], r["attribute"], column, str(text))
            rules += rules_of
            notes += notes_of
            found = found or bool(rules_of)
        with_rule += found
    return Extraction(rules, notes, with_text, with_rule)


def extract_text(cls: _Class, attribute: str, column: str, text: str) -> tuple[list[TypedRule], list[Note]]:
    """The typed rules and the notes of one attribute's text."""
    extractor = _Extractor(cls, attribute, column)
    rules: list[TypedRule] = []
    notes: list[Note] = []
    for s, alone in sentences(text):
        found = extractor.sentence(s) if alone else []
        if found:
            rules += found
        else:
            notes.append(Note(cls.name, attribute, column, s))
    return rules, notes
