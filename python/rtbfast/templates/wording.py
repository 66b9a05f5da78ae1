"""What a template's code did wrong, said in the template's terms: the interpreter's words
("NoneType", "TypeError", "Eval calls", "subscriptable", "object of type") never reach a user.

The restricted interpreter (:mod:`rtbfast.templates.sandbox`) stops on RestrictedPython's
refusals, on Python's syntax errors and on the exceptions a template's own code raises; each
message is rewritten here, once, for ``templates check``, ``templates expand`` and ``plan``
alike.
"""

from __future__ import annotations

import re

KINDS = {
    "NoneType": "nothing (null)",
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "Decimal": "a number",
    "complex": "a number",
    "bool": "true or false",
    "list": "a list",
    "tuple": "a list",
    "dict": "an object",
    "set": "a set",
    "frozenset": "a set",
    "range": "a range",
    "bytes": "bytes",
    "function": "a function",
    "builtin_function_or_method": "a function",
    "method": "a function",
    "generator": "a sequence",
    "CellView": "a cell",
    "MoView": "an MO",
    "Vars": "$vars",
    "Custom": "$custom",
    "Clusters": "the clusters",
    "Cluster": "a cluster",
    "Db": "db",
    "Enet": "enet",
    "Logger": "LOGGER",
}
"""The interpreter's type names in the template's words."""


def kind_of(value: object) -> str:
    """What `value` is, in the template's words (``nothing (null)``, ``text``, ``a list``…)."""
    name = type(value).__name__
    if isinstance(value, str) and name not in KINDS:  # a marked str
        return KINDS["str"]
    return KINDS.get(name, "a value")


def _kind(name: str) -> str:
    return KINDS.get(name, "a value")


_OBJECT = re.compile(r"'(\w+)' object")
_TYPE = re.compile(r"object of type '(\w+)'")
_INSTANCES = re.compile(r"instances of '(\w+)' and '(\w+)'")
_OPERANDS = re.compile(r"unsupported operand type\(s\) for (\S+): '(\w+)' and '(\w+)'")
_UNARY = re.compile(r"bad operand type for unary (\S+): '(\w+)'")
_CONCAT = re.compile(r'can only concatenate (\w+) \(not "(\w+)"\) to \w+')
_MUST_BE = re.compile(r"must be (\w+)(?: or \w+)*, not (\w+)")
_ARGUMENT = re.compile(r"argument must be [^,]+, not '(\w+)'")
_COMPARE = re.compile(r"'(\S+)' not supported between (?:instances of )?'?(\w+)'? and '?(\w+)'?")
_DUNDER = re.compile(r"type (\w+) doesn't define __(\w+)__ method")
_LITERAL = re.compile(r"invalid literal for (int|float)\(\)(?: with base \d+)?: (.*)")
_NAME = re.compile(r"name '(\w+)' is not defined")
_CALLED = re.compile(r"(\w+)\(\) (takes|missing|got) (.*)")

REFUSALS = (
    (re.compile(r"Eval calls are not allowed\.?"), "eval() is not allowed in a template: write the expression itself"),
    (
        re.compile(r"Exec calls are not allowed\.?"),
        "exec() is not allowed in a template: write the statements themselves",
    ),
    (
        re.compile(r'"(\w+)" is an invalid variable name because it starts with "_"'),
        r"the name \1 starts with '_': such names are not reachable from a template",
    ),
    (
        re.compile(r'"(\w+)" is an invalid attribute name because it starts with "_"\.?'),
        r"the field \1 starts with '_': such names are not reachable from a template",
    ),
    (
        re.compile(r'"(\w+)" is an invalid (?:variable|attribute) name because it ends with "__roles__"\.?'),
        r"the name \1 is not reachable from a template",
    ),
    (re.compile(r'"(\w+)" is a reserved name\.?'), r"\1 is a reserved name in a template"),
    (re.compile(r'"(\w+)" is a restricted name,.*'), r"\1 is not reachable from a template"),
    (re.compile(r"Lazy import statements are not allowed\.?"), "import is not allowed in a template"),
    (re.compile(r'"\*" imports are not allowed\.?'), "import is not allowed in a template"),
    (re.compile(r"Unpacking in comprehensions is not allowed\.?"), "unpacking in a comprehension is not allowed"),
    (re.compile(r'The keyword argument "metaclass" is not allowed\.?'), "class is not allowed in a template"),
    (re.compile(r"(\w+) statements are not allowed\.?"), None),
)
"""RestrictedPython's refusals, rewritten (``None``: worded by :func:`_statement`)."""

_STATEMENTS = {
    "Await": "await",
    "AsyncFunctionDef": "async def",
    "AsyncFor": "async for",
    "AsyncWith": "async with",
    "Try": "try",
    "TryStar": "try",
    "Match": "match",
    "Starred": "a starred expression",
    "MatMult": "the @ operator",
}


def _statement(name: str) -> str:
    return f"{_STATEMENTS.get(name, name.lower())} is not allowed in a template"


def refusal(message: str) -> str:
    """A refusal of the restricted compiler in the template's words."""
    text = message.strip()
    for pattern, words in REFUSALS:
        found = pattern.search(text)
        if found is None:
            continue
        if words is None:
            return _statement(found.group(1))
        return found.expand(words)
    if text.startswith("SyntaxError:"):
        return syntax(text.removeprefix("SyntaxError:").strip())
    return kinds_named(text)


def syntax(message: str) -> str:
    """A syntax error (Python's own message, with the statement it is at where given)."""
    text = message.strip()
    text = text.replace("outside function", "outside a function").replace("outside loop", "outside a loop")
    return f"syntax error: {kinds_named(text)}"


def kinds_named(text: str) -> str:
    """`text` with the interpreter's type names said as the template's kinds."""
    text = _COMPARE.sub(lambda m: f"{m[1]} cannot compare {_kind(m[2])} and {_kind(m[3])}", text)
    text = _DUNDER.sub(lambda m: f"{m[2]}() cannot take {_kind(m[1])}", text)
    text = _LITERAL.sub(lambda m: f"{m[2]} is not {_kind(m[1])}", text)
    text = re.sub(r"could not convert string to float: (.*)", r"\1 is not a number", text)
    text = _OPERANDS.sub(lambda m: f"{m[1]} cannot combine {_kind(m[2])} and {_kind(m[3])}", text)
    text = _UNARY.sub(lambda m: f"{m[1]} cannot apply to {_kind(m[2])}", text)
    text = _CONCAT.sub(lambda m: f"+ cannot join {_kind(m[1])} and {_kind(m[2])}", text)
    text = _INSTANCES.sub(lambda m: f"{_kind(m[1])} and {_kind(m[2])}", text)
    text = _TYPE.sub(lambda m: _kind(m[1]), text)
    text = _OBJECT.sub(lambda m: _kind(m[1]), text)
    text = _ARGUMENT.sub(lambda m: f"argument cannot be {_kind(m[1])}", text)
    text = _MUST_BE.sub(lambda m: f"must be {_kind(m[1])}, not {_kind(m[2])}", text)
    text = text.replace("is not subscriptable", "cannot be indexed ([…])")
    text = text.replace("does not support item assignment", "cannot have an item set")
    text = text.replace("is not iterable", "cannot be looped over")
    text = text.replace("is not callable", "cannot be called")
    text = text.replace("has no len()", "has no length")
    text = re.sub(r"has no attribute '(\w+)'", r"has no field or method \1", text)
    return text


def runtime(err: BaseException) -> str:
    """What a template's own code raised, in the template's words (never the exception's
    class name)."""
    text = str(err.args[0]) if len(err.args) == 1 else str(err)
    if isinstance(err, ZeroDivisionError):
        return "division by zero"
    if isinstance(err, NameError):
        found = _NAME.search(text)
        name = found[1] if found else getattr(err, "name", None) or text
        return f"{name} is not defined: no variable, function or name of the template is called so"
    if isinstance(err, KeyError):
        return f"no key {text!r} in the object"
    if isinstance(err, IndexError):
        return "an index past the end of the list or text"
    if isinstance(err, OverflowError):
        return "a number too large"
    if isinstance(err, AttributeError):
        return kinds_named(text)
    if isinstance(err, RecursionError):
        return "recursion too deep"
    called = _CALLED.search(text)
    if isinstance(err, TypeError) and called:
        return f"{called[1]}() {called[2]} {kinds_named(called[3])}"
    if isinstance(err, ValueError):
        return f"a wrong value: {kinds_named(text)}" if text else "a wrong value"
    if isinstance(err, (TypeError, AssertionError, LookupError, ArithmeticError)):
        return kinds_named(text) if text else "the code failed"
    return kinds_named(text) if text else "the code failed"
