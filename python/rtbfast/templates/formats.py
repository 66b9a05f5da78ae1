"""Writing a document (a tree of :class:`JsonObject`, lists, strings, :class:`Number`,
booleans and null) as JSON, YAML or TOML, so that rtbfast's reader of each format
(``rust/src/templates/document.rs``: YAML 1.2 core schema, TOML 1.0/1.1) gives back the same
tree: key order, number text (``1.50`` stays ``1.50``) and every string kept.

- YAML: PyYAML's emitter; a string that YAML 1.2 or 1.1 would read as something else
  (``yes``, ``0o17``, ``1e3``, ``~``…) is quoted; numbers are written as their text.
- TOML: written here (no TOML writer keeps number text): key/value pairs in order, nested
  tables as ``[a.b]`` sections only where that keeps the order (a table followed by a plain
  value is written inline), arrays of tables as ``[[a.b]]``. TOML has no null: null is
  written ``{ "$null" = true }`` and read back as null.
- A key repeated in one object (JSON allows it) cannot be written in YAML or TOML:
  :class:`ValueError` names it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rtbfast.templates.tree import JsonObject, JsonValue, Number, _json

NULL_KEY = "$null"
"""TOML has no null: ``{"$null": true}`` stands for it."""


def _unique(obj: JsonObject, path: str) -> None:
    seen: set[str] = set()
    for k, _ in obj:
        if k in seen:
            raise ValueError(f"{path or '/'}: the key {k!r} appears twice; YAML and TOML cannot hold that")
        seen.add(k)


# -- JSON ---------------------------------------------------------------------------------------


def dump_json(doc: JsonValue) -> str:
    return _json(doc, 2, 0) + "\n"


# -- YAML ---------------------------------------------------------------------------------------

_YAML12_NOT_STRING = re.compile(
    r"""(?x)
    |~|null|Null|NULL|true|True|TRUE|false|False|FALSE
    |[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+
    |[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    |[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN
    """
)


def _yaml_dumper() -> Any:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    def mapping(dumper: Any, obj: JsonObject) -> Any:
        _unique(obj, "")
        return dumper.represent_mapping("tag:yaml.org,2002:map", obj.pairs)

    def number(dumper: Any, n: Number) -> Any:
        tag = "tag:yaml.org,2002:int" if re.fullmatch(r"-?[0-9]+", n) else "tag:yaml.org,2002:float"
        return dumper.represent_scalar(tag, str(n))

    def text(dumper: Any, s: str) -> Any:
        style = '"' if _YAML12_NOT_STRING.fullmatch(s) or "\n" in s or not s.isprintable() else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)

    Dumper.add_representer(JsonObject, mapping)
    Dumper.add_representer(Number, number)
    Dumper.add_representer(str, text)
    return Dumper


def dump_yaml(doc: JsonValue) -> str:
    import yaml

    out: str = yaml.dump(doc, Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True, width=100, indent=2)
    return out


# -- TOML ---------------------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(k: str) -> str:
    return k if _BARE.fullmatch(k) else _string(k)


def _string(s: str) -> str:
    text = json.dumps(s, ensure_ascii=False)
    return text.replace("\x7f", "\\u007f")


def _inline(v: JsonValue, path: str) -> str:
    if v is None:
        return "{ " + _string(NULL_KEY) + " = true }"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Number):
        return str(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_inline(x, f"{path}/{i}") for i, x in enumerate(v)) + "]"
    if isinstance(v, JsonObject):
        _unique(v, path)
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_inline(x, f'{path}/{k}')}" for k, x in v) + " }"
    raise ValueError(f"{path or '/'}: {type(v).__name__} is no JSON value")


def _small(v: JsonValue) -> bool:
    """An object of a few plain values (a value with its metadata): written inline."""
    return (
        isinstance(v, JsonObject)
        and all(not isinstance(x, (JsonObject, list)) or (isinstance(x, list) and len(x) <= 3) for _, x in v)
        and len(_inline(v, "")) <= 120
    )


def _is_table_array(v: JsonValue) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, JsonObject) for x in v)


def _table(obj: JsonObject, header: list[str], path: str, out: list[str]) -> None:
    """Key/value pairs of `obj` in order; the tables (and arrays of tables) after the last
    plain value (or small table, written inline) as sections, so the order read back is the
    order written."""
    _unique(obj, path)
    pairs = obj.pairs
    last_plain = max(
        (
            i
            for i, (_, v) in enumerate(pairs)
            if (not isinstance(v, JsonObject) or _small(v)) and not _is_table_array(v)
        ),
        default=-1,
    )
    for k, v in pairs[: last_plain + 1]:
        out.append(f"{_key(k)} = {_inline(v, f'{path}/{k}')}")
    for k, v in pairs[last_plain + 1 :]:
        here = [*header, _key(k)]
        if isinstance(v, JsonObject):
            out.append("")
            out.append("[" + ".".join(here) + "]")
            _table(v, here, f"{path}/{k}", out)
        else:
            assert isinstance(v, list)
            for i, item in enumerate(v):
                assert isinstance(item, JsonObject)
                out.append("")
                out.append("[[" + ".".join(here) + "]]")
                _table(item, here, f"{path}/{k}/{i}", out)


def dump_toml(doc: JsonValue) -> str:
    if not isinstance(doc, JsonObject):
        raise ValueError("a TOML document is a table")
    out: list[str] = []
    _table(doc, [], "", out)
    return "\n".join(out).lstrip("\n") + "\n"


def dump(doc: JsonValue, fmt: str) -> str:
    """`doc` as ``json``, ``yaml`` or ``toml`` text."""
    if fmt == "json":
        return dump_json(doc)
    if fmt == "yaml":
        return dump_yaml(doc)
    if fmt == "toml":
        return dump_toml(doc)
    raise ValueError(f"{fmt!r}: the formats are json, yaml and toml")
