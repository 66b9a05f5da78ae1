"""The source of ``_base.py``, the module every generated package shares: the model base class
and the validators the generated fields use. Kept as real Python in :data:`SOURCE` so the
emitter copies it verbatim; also how generated modules spell their imports (as isort does)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

IMPORTS: dict[str, list[str]] = {
    "re": [],
    "collections.abc": ["Callable", "Hashable", "Sequence"],
    "decimal": ["Decimal"],
    "enum": ["Enum"],
    "typing": ["Any", "TypeVar"],
    "pydantic": ["BaseModel", "ConfigDict"],
}
"""What the shared code imports, by module (an empty list: ``import module``)."""

BODY = '''E = TypeVar("E", bound=Enum)
T = TypeVar("T")

_RDN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*=[^,]*")


class MoModel(BaseModel):
    """Base of every generated model: unknown attributes are refused, original MOM names
    (the aliases) and the Python names are both accepted, schemas are built on first use."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def in_ranges(ranges: Sequence[tuple[Decimal | None, Decimal | None]]) -> Callable[[T], T]:
    """A check that a number lies in one of `ranges` (either end may be open)."""
    shown = ", ".join(
        str(lo) if lo == hi else f"{'' if lo is None else lo}..{'' if hi is None else hi}" for lo, hi in ranges
    )

    def check(value: T) -> T:
        number = Decimal(str(value))
        for lo, hi in ranges:
            if (lo is None or number >= lo) and (hi is None or number <= hi):
                return value
        raise ValueError(f"{value} is outside the allowed values {shown}")

    return check


def in_steps(step: Decimal, ranges: Sequence[tuple[Decimal | None, Decimal | None]]) -> Callable[[T], T]:
    """A check that a number is a whole number of `step` (MOM resolution) above the lower
    bound of the sub-range it lies in (``-1, 0..62`` step 2: -1, 0, 2, ... 62)."""

    def check(value: T) -> T:
        number = Decimal(str(value))
        for lo, hi in ranges:
            if (lo is None or number >= lo) and (hi is None or number <= hi):
                origin = Decimal(0) if lo is None else lo
                if lo != hi and (number - origin) % step != 0:
                    raise ValueError(f"{value} is not {origin} plus a multiple of the resolution {step}")
                return value
        return value  # outside every range: the range check says so

    return check


def by_name(enum: type[E]) -> Callable[[Any], Any]:
    """Let an enum be given by member name (as ENM and the MOM write it) as well as by value."""

    def convert(value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            if value not in enum.__members__:
                raise ValueError(f"{value!r} is not one of {', '.join(enum.__members__)}")
            return enum[value]
        return value

    return convert


def unique(key: Callable[[Any], Hashable] | None = None) -> Callable[[list[T]], list[T]]:
    """A check that no two items of a sequence are equal (by `key` for structs)."""

    def check(items: list[T]) -> list[T]:
        seen: set[Hashable] = set()
        for item in items:
            k = key(item) if key is not None else _hashable(item)
            if k in seen:
                raise ValueError(f"{item!r} appears twice; the sequence must be unique")
            seen.add(k)
        return items

    return check


def _hashable(item: Any) -> Hashable:
    if isinstance(item, BaseModel):
        return tuple(sorted((k, _hashable(v)) for k, v in item.model_dump().items()))
    if isinstance(item, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in item.items()))
    if isinstance(item, list):
        return tuple(_hashable(v) for v in item)
    return item  # type: ignore[no-any-return]


def fdn_of(target: str) -> Callable[[str], str]:
    """A check that a string is an FDN (``Class=id,Class=id``) ending at an MO of `target`
    (any class for ``ManagedObject``)."""

    def check(value: str) -> str:
        rdns = value.split(",")
        if not all(_RDN.fullmatch(r.strip()) for r in rdns):
            raise ValueError(f"{value!r} is not an FDN (Class=id,Class=id,...)")
        last = rdns[-1].split("=", 1)[0].strip()
        if target != "ManagedObject" and last != target:
            raise ValueError(f"{value!r} names a {last}; a {target} is expected")
        return value

    return check


def named(value: Any) -> Any:
    """An enum member as its name (rules compare enums by member name); anything else as is."""
    return value.name if isinstance(value, Enum) else value


def rules_hold(model: BaseModel, rules: Sequence[tuple[str, str, Callable[[Callable[[str], Any]], bool]]]) -> None:
    """The cross-parameter rules of a class (read from its Dependencies texts): each
    (id, text, check) must hold; a check reads fields through its argument."""

    def value(name: str) -> Any:
        return named(getattr(model, name, None))

    broken = [f"[{rule}] {text}" for rule, text, holds in rules if not holds(value)]
    if broken:
        raise ValueError("; ".join(broken))


def exactly_one(model: BaseModel, names: Sequence[str]) -> None:
    """An exclusive struct: exactly one of its members is set."""
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(f"exactly one of {', '.join(names)} must be set, not {len(given)}")
'''


def source(doc: str, imports: dict[str, list[str]], body: str) -> str:
    """A module: its docstring, the future import, `imports` in isort order, then `body`."""
    groups: list[list[str]] = [[], [], []]
    for module in sorted(imports, key=lambda m: (m != "re", m)):
        names = imports[module]
        line = f"import {module}" if not names else import_line(module, set(names))
        groups[1 if module == "pydantic" else 2 if module.startswith(".") else 0].append(line)
    block = "\n\n".join("\n".join(sorted(g, key=_isort_line)) for g in groups if g)
    return f'"""{doc}"""\n\nfrom __future__ import annotations\n\n{block}\n\n{body}'


def import_line(module: str, names: Iterable[str], indent: int = 0) -> str:
    """``from module import names``, wrapped one name per line when longer than isort's 88
    columns at `indent`."""
    names = sorted(names, key=isort_key)
    line = f"from {module} import {', '.join(names)}"
    if indent + len(line) <= 88:
        return line
    inner = "".join(f"    {n},\n" for n in names)
    return f"from {module} import (\n{inner})"


@functools.cache
def isort_key(name: str, fold_case: bool = True) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """The order ruff wants names in: CONSTANTS, then Classes, then the rest, each in natural
    order (digits compared as numbers); imports (isort) fold case, ``__all__`` (RUF022) does not.
    Cached: a package sorts the same model names for its stubs, dispatchers and ``__init__``."""
    group = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    parts = tuple((0, int(p)) if p.isdigit() else (1, p.lower() if fold_case else p) for p in _DIGITS.split(name) if p)
    return group, parts


_DIGITS = re.compile(r"(\d+)")


def _isort_line(line: str) -> tuple[int, str]:
    # isort puts "import x" before "from x import y" within a section (force-sort-within-sections off)
    return (0 if line.startswith("import ") else 1, line.split()[1].lower())


SOURCE = source("Shared pieces of the models generated by rtbfast. Written by rtbfast; do not edit.", IMPORTS, BODY)
