"""The CEL of rules read from Dependencies texts (:mod:`rtbfast.rules.dependencies`) as Python
source for the generated models' validators, so a model refuses what the bulk evaluator
flags. The CEL is the extractor's own small subset: attribute names, numbers, quoted enum
names, ``true``/``false``, arithmetic, comparisons, ``in [..]``, ``!``, ``&&``, ``||`` and
``has(self.x)``. Attributes are read through ``v("field")`` (``None`` when unset, enums by
member name)."""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"\s*(?:(?P<has>has\(self\.(?P<hname>\w+)\))|(?P<num>\d+(?:\.\d+)?)|(?P<str>'[^']*')"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>&&|\|\||==|!=|<=|>=|[-+*<>()\[\],!]))"
)


class NotTranslatable(ValueError):
    """CEL outside the subset the extractor writes."""


def python_check(cel: str, fields: dict[str, str]) -> str:
    """`cel` as a Python expression over ``v``; `fields` maps MOM attribute names to the
    model's field names (an attribute the model lacks reads as ``None``)."""

    def read(name: str) -> str:
        return f'v("{fields[name]}")' if name in fields else "None"

    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(cel):
        m = _TOKEN.match(cel, pos)
        if not m or m.end() == pos:
            if cel[pos:].strip() == "":
                break
            raise NotTranslatable(f"cannot read {cel[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup != "hname" else "has"
        tokens.append((kind or "", m.group(0).strip()))
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
