"""CEL rules as Python source for the generated models' validators, so a model refuses what
the bulk evaluator flags.

- :func:`python_check`: the rules read from Dependencies texts
  (:mod:`rtbfast.rules.dependencies`), in the extractor's own small subset (attribute names,
  numbers, quoted enum names, ``true``/``false``, arithmetic, comparisons, ``in [..]``, ``!``,
  ``&&``, ``||``, ``has(self.x)``), read through ``v("field")`` (``None`` when unset, enums by
  member name).
- :func:`cel_check`: user rules (:mod:`rtbfast.rules.user_rules`), a larger subset read by a
  recursive-descent parser into calls on the ``Cel`` reader of the package's ``_base``, which
  keeps the native engine's semantics."""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(
    r"\s*(?:(?P<has>has\(self\.(?P<hname>\w+)\))|(?P<num>\d+(?:\.\d+)?)|(?P<str>'[^']*')"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>&&|\|\||==|!=|<=|>=|[-+*<>()\[\],!]))"
)


class NotTranslatable(ValueError):
    """CEL outside the subset the extractor writes."""


def _matches(pattern: re.Pattern[str], cel: str) -> list[re.Match[str]]:
    """The tokens of `cel`, one match of `pattern` each; NotTranslatable at the first that is none."""
    found = []
    pos = 0
    while pos < len(cel):
        m = pattern.match(cel, pos)
        if not m or m.end() == pos:
            if cel[pos:].strip() == "":
                break
            raise NotTranslatable(f"cannot read {cel[pos:]!r}")
        found.append(m)
        pos = m.end()
    return found


def python_check(cel: str, fields: dict[str, str]) -> str:
    """`cel` as a Python expression over ``v``; `fields` maps MOM attribute names to the
    model's field names (an attribute the model lacks reads as ``None``)."""

    def read(name: str) -> str:
        return f'v("{fields[name]}")' if name in fields else "None"

    tokens = [
        ("has" if m.lastgroup == "hname" else m.lastgroup or "", m.group(0).strip()) for m in _matches(_TOKEN, cel)
    ]
    out: list[str] = []
    for kind, text in tokens:
        if kind == "has":
            name = re.fullmatch(r"has\(self\.(\w+)\)", text)
            assert name is not None
            if out and out[-1] == "not":  # `!has(x)`: `x is None`, not `not x is not None`
                out[-1] = f"({read(name.group(1))} is None)"
            else:
                out.append(f"({read(name.group(1))} is not None)")
        elif kind == "name":
            if text in ("true", "false"):
                # `x == true` is `x is True` (a bool is never compared with == in the generated code)
                value = "True" if text == "true" else "False"
                if out and out[-1] in ("==", "!="):
                    out[-1] = "is" if out[-1] == "==" else "is not"
                out.append(value)
            elif text == "in":
                out.append("in")
            else:
                out.append(read(text))
        elif kind == "op":
            out.append({"&&": "and", "||": "or", "!": "not"}.get(text, text))
        else:
            out.append(text)
    source = " ".join(out)
    source = re.sub(r"\( ", "(", re.sub(r" \)", ")", source))
    source = re.sub(r"\[ ", "[", re.sub(r" \]", "]", source)).replace(" ,", ",")
    # `!(x in [..])` as `x not in [..]`, as Python spells it
    source = re.sub(r'not \((v\("\w+"\)) in (\[[^\]]*\])\)', r"(\1 not in \2)", source)
    source = re.sub(r"(^|[(\[,=<>] )- (\d)", r"\1-\2", source)
    if "/" in source or "%" in source:
        raise NotTranslatable("division")
    return source


# -- user rules ---------------------------------------------------------------------------
# A user rule's CEL (see rtbfast.rules.user_rules) runs in a model through the helpers of the
# ``Cel`` reader in ``_base`` (``c``), which follow the native engine (the ``cel`` crate) where
# Python differs: `&&` and `||` absorb an error on one side when the other decides; `==`
# between a bool and a number is false and numbers compare across int and double;
# arithmetic needs both sides of one type and an int result within 64 bits; an attribute that
# is not set is an error (guard it with ``has(self.x)``).

_CEL_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)|(?P<str>'[^'\\\n]*'|\"[^\"\\\n]*\")"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>()\[\],!?:.]))"
)
_TREE = ("fdn", "id", "parent", "children", "node")
_METHODS = {"size": "size", "startsWith": "starts_with", "endsWith": "ends_with", "contains": "contains"}
_RELATIONS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "in": "in_"}
_ARITHMETIC = {"+": "add", "-": "sub", "*": "mul"}
MAX_PYTHON_NESTING = 90
"""The deepest bracket nesting a translated rule may have. Python refuses source nested
200 deep; a rule nested deeper than this is left out of the models with a note (the audit
still checks it)."""


class _CelToPython:
    """A recursive-descent reading of the CEL subset, written out as Python over ``c``."""

    def __init__(self, cel: str, fields: dict[str, str], structs: set[str]) -> None:
        self.fields, self.structs = fields, structs
        self.tokens = [(m.lastgroup or "", m.group(m.lastgroup or 0)) for m in _matches(_CEL_TOKEN, cel)]
        self.at = 0

    def peek(self, text: str | None = None) -> bool:
        return self.at < len(self.tokens) and (text is None or self.tokens[self.at][1] == text)

    def take(self, text: str | None = None) -> tuple[str, str]:
        if not self.peek(text):
            found = self.tokens[self.at][1] if self.at < len(self.tokens) else "the end"
            raise NotTranslatable(f"expected {text or 'more'}, found {found}")
        self.at += 1
        return self.tokens[self.at - 1]

    def program(self) -> str:
        out = self.expr()
        if self.peek():
            raise NotTranslatable(f"unexpected {self.tokens[self.at][1]!r}")
        return out

    def expr(self) -> str:
        cond = self.binary_or()
        if not self.peek("?"):
            return cond
        self.take("?")
        then = self.binary_or()
        self.take(":")
        other = self.expr()
        return f"c.cond(lambda: {cond}, lambda: {then}, lambda: {other})"

    def binary_or(self) -> str:
        return self.junction("||", "or_", self.binary_and)

    def binary_and(self) -> str:
        return self.junction("&&", "and_", self.relation)

    def junction(self, op: str, helper: str, operand: Callable[[], str]) -> str:
        sides = [operand()]
        while self.peek(op):
            self.take()
            sides.append(operand())
        if len(sides) == 1:
            return sides[0]
        # one call for the whole chain: a rule of 300 || stays one level deep in Python
        return f"c.{helper}({', '.join(f'lambda: {side}' for side in sides)})"

    def relation(self) -> str:
        out = self.addition()
        if self.at < len(self.tokens) and self.tokens[self.at][1] in _RELATIONS:
            op = _RELATIONS[self.take()[1]]
            out = f"c.{op}({out}, {self.addition()})"
            if self.at < len(self.tokens) and self.tokens[self.at][1] in _RELATIONS:
                raise NotTranslatable("chained comparison")
        return out

    def addition(self) -> str:
        return self.arithmetic(("+", "-"), self.product)

    def product(self) -> str:
        return self.arithmetic(("*", "/", "%"), self.unary)

    def arithmetic(self, ops: tuple[str, ...], operand: Callable[[], str]) -> str:
        """A left-associative chain: one operator as one call, a longer chain as one
        ``c.arith`` call over lazy operands, so it stays flat in Python."""
        first = operand()
        rest: list[tuple[str, str]] = []
        while any(self.peek(op) for op in ops):
            op = self.take()[1]
            if op in ("/", "%"):
                raise NotTranslatable("division")
            rest.append((op, operand()))
        if not rest:
            return first
        if len(rest) == 1:
            op, second = rest[0]
            return f"c.{_ARITHMETIC[op]}({first}, {second})"
        return f"c.arith({first}, {', '.join(f'{op!r}, lambda: {side}' for op, side in rest)})"

    def unary(self) -> str:
        # as CEL's grammar has it: `!`s or `-`s before a member, not both; an even number of
        # them is no operator at all (the parser drops them), an odd number is one
        for sign, helper in (("!", "not_"), ("-", "neg")):
            if not self.peek(sign):
                continue
            count = 0
            while self.peek(sign):
                self.take()
                count += 1
            if count % 2 and sign == "-" and self.peek() and self.tokens[self.at][0] == "num":
                return self.number(self.take()[1], negative=True)
            out = self.member()
            return f"c.{helper}({out})" if count % 2 else out
        return self.member()

    def member(self) -> str:
        kind, text = self.take()
        if kind == "name" and text == "self" and self.peek("."):
            self.take(".")
            attribute = self.take()[1]
            out = self.attribute(attribute)
        elif kind == "name":
            attribute = text
            out = self.primary_name(text)
        elif kind == "num":
            return self.number(text)
        elif kind == "str":
            return repr(text[1:-1])
        elif text == "(":
            out, attribute = self.expr(), ""
            self.take(")")
        elif text == "[":
            items = []
            while not self.peek("]"):
                items.append(self.expr())
                if not self.peek("]"):
                    self.take(",")
            self.take("]")
            out, attribute = f"[{', '.join(items)}]", ""
        else:
            raise NotTranslatable(f"unexpected {text!r}")
        while self.peek("."):
            self.take(".")
            name = self.take()[1]
            if self.peek("("):
                if name not in _METHODS:
                    raise NotTranslatable(f"function {name}")
                args = self.arguments()
                out = f"c.{_METHODS[name]}({', '.join([out, *args])})"
            elif attribute in self.structs:
                out = f"c.member({out}, {name!r})"
            else:
                raise NotTranslatable(f"member {name} of {attribute or 'an expression'}")
            attribute = ""
        return out

    def primary_name(self, name: str) -> str:
        if name in ("true", "false"):
            return "True" if name == "true" else "False"
        if name == "has" and self.peek("("):
            self.take("(")
            if not (self.peek("self") and self.tokens[self.at + 1][1] == "."):
                raise NotTranslatable("has() of anything but self.x")
            self.take("self")
            self.take(".")
            attribute = self.take()[1]
            self.take(")")
            field = self.fields.get(attribute)
            return f"c.has({field!r})" if field else "False"
        if name in _METHODS and self.peek("("):
            args = self.arguments()
            return f"c.{_METHODS[name]}({', '.join(args)})"
        if self.peek("("):
            raise NotTranslatable(f"function {name}")
        if name in _TREE and name not in self.fields:
            raise NotTranslatable(f"{name} (the MO's place in the tree is not in a model)")
        return self.attribute(name)

    def attribute(self, name: str) -> str:
        field = self.fields.get(name)
        return f"c.value({field!r})" if field else f"c.undeclared({name!r})"

    def arguments(self) -> list[str]:
        self.take("(")
        args = []
        while not self.peek(")"):
            args.append(self.expr())
            if not self.peek(")"):
                self.take(",")
        self.take(")")
        return args

    @staticmethod
    def number(text: str, negative: bool = False) -> str:
        value = float(text) if any(ch in text for ch in ".eE") else int(text)
        value = -value if negative else value
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise NotTranslatable(f"{text} does not fit in 64 bits")
        return repr(value)


def nesting(source: str) -> int:
    """The deepest bracket nesting of Python `source`, outside its string literals."""
    deepest = depth = 0
    for part in _PY_STRING.split(source):
        if part.startswith(("'", '"')):
            continue
        for ch in part:
            if ch in "([{":
                depth += 1
                deepest = max(deepest, depth)
            elif ch in ")]}":
                depth -= 1
    return deepest


_PY_STRING = re.compile(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def cel_check(cel: str, fields: dict[str, str], structs: set[str]) -> str:
    """A user rule's CEL expression as a Python expression over the ``Cel`` reader ``c``.

    `fields` maps the class's MOM attribute names to the model's field names and `structs`
    names the struct attributes (``x.member`` reads a member; a sequence of structs is a list
    of maps).
    Raises NotTranslatable outside the subset: ``/`` and ``%``, functions other than ``size``,
    ``startsWith``, ``endsWith`` and ``contains``, and the tree (``parent``, ``children``,
    ``node``, ``fdn``, ``id``), and where the Python would nest deeper than
    :data:`MAX_PYTHON_NESTING` brackets."""
    source = _CelToPython(cel, fields, structs).program()
    deepest = nesting(source)
    if deepest > MAX_PYTHON_NESTING:
        raise NotTranslatable(f"its Python would nest {deepest} brackets deep (at most {MAX_PYTHON_NESTING})")
    return source
