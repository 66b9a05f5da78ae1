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
    "typing": ["Any", "TypeVar", "get_args"],
    "pydantic": ["BaseModel", "ConfigDict", "GetCoreSchemaHandler"],
    "pydantic_core": ["CoreSchema", "core_schema"],
}
"""What the shared code imports, by module (an empty list: ``import module``)."""

BODY = '''E = TypeVar("E", bound=Enum)
T = TypeVar("T")

_RDN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*=[^,]*")


class MoModel(BaseModel):
    """Base of every generated model: unknown attributes are refused, original MOM names
    (the aliases) and the Python names are both accepted, schemas are built on first use."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class Checked:
    """A field's type and checks, given to Pydantic as the pydantic-core schema it builds for
    the annotation the stub shows: ``Checked(int, in_steps(...), ge=-140, le=-44)`` is
    ``Annotated[int, Field(ge=-140, le=-44), AfterValidator(in_steps(...))]``, an enum is taken
    by name (``by_name``), ``Checked(list, item=Checked(...), max_length=1)`` is a list of
    checked items, and the schema is nullable when the annotation allows None. One object per
    field, where Pydantic would read constraints and validators one at a time: most of the
    first use of a class with a hundred fields.

    `kind` is ``int``, ``float``, ``Decimal``, ``str``, ``list`` or a type Pydantic knows (an
    enum, a struct's model); `constraints` are those of its pydantic-core schema (``ge``,
    ``le``, ``decimal_places``, ``min_length``, ``max_length``, ``pattern``); `after` are
    validators run in order on the checked value."""

    __slots__ = ("after", "constraints", "item", "kind")

    def __init__(
        self, kind: Any, *after: Callable[[Any], Any], item: Checked | None = None, **constraints: Any
    ) -> None:
        self.kind = kind
        self.after = after
        self.item = item
        self.constraints = constraints

    def __repr__(self) -> str:
        parts = [getattr(self.kind, "__name__", repr(self.kind))]
        parts += [getattr(check, "__qualname__", repr(check)).split(".<locals>")[0] for check in self.after]
        parts += [f"item={self.item!r}"] if self.item is not None else []
        parts += [f"{k}={v!r}" for k, v in self.constraints.items()]
        return f"Checked({', '.join(parts)})"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = self.schema(handler)
        return core_schema.nullable_schema(schema) if type(None) in get_args(source) else schema

    def schema(self, handler: GetCoreSchemaHandler) -> CoreSchema:
        """The schema of one value (None not allowed)."""
        kind, constraints = self.kind, self.constraints
        schema: CoreSchema
        if kind is int:
            schema = core_schema.int_schema(**constraints)
        elif kind is float:
            schema = core_schema.float_schema(**constraints)
        elif kind is Decimal:
            schema = core_schema.decimal_schema(**constraints)
        elif kind is str:
            schema = core_schema.str_schema(**constraints)
        elif kind is list:
            items = self.item.schema(handler) if self.item is not None else core_schema.any_schema()
            schema = core_schema.list_schema(items, **constraints)
        else:
            schema = handler.generate_schema(kind)
            if isinstance(kind, type) and issubclass(kind, Enum):
                schema = core_schema.no_info_before_validator_function(by_name(kind), schema)
        for check in self.after:
            schema = core_schema.no_info_after_validator_function(check, schema)
        return schema


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
    """Let an enum be given by member name (as ENM and the MOM write it) as well as by value (a
    text of digits is a value). A member whose MOM name is not its Python name (``since-update``
    is ``since_update``; the enum's ``__mom_names__`` pairs them) is taken by either."""
    mom: dict[str, str] = dict(getattr(enum, "__mom_names__", ()))
    names: dict[str, Any] = {**enum.__members__, **{mom[n]: m for n, m in enum.__members__.items() if n in mom}}
    shown = ", ".join(mom.get(n, n) for n in enum.__members__)

    def convert(value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            member = names.get(value)
            if member is None:
                raise ValueError(f"{value!r} is not one of {shown}")
            return member
        return value

    return convert


def mom_name(member: Enum) -> str:
    """An enum member's name in the MOM."""
    renamed: tuple[tuple[str, str], ...] = getattr(type(member), "__mom_names__", ())
    return next((mom for python, mom in renamed if python == member.name), member.name)


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
    return mom_name(value) if isinstance(value, Enum) else value


def rules_hold(
    model: BaseModel,
    rules: Sequence[tuple[str, str, Callable[[Callable[[str], Any]], bool]]],
    user_rules: Sequence[tuple[str, str, Callable[[Cel], Any] | None, Callable[[Cel], Any]]] = (),
) -> None:
    """The cross-parameter rules of a class: those read from its Dependencies texts, each
    (id, text, check), must hold (a check reads fields through its argument); and the user
    rules, each (id, message, when, assert) in CEL as Python over a :class:`Cel` reader: where
    `when` holds, `assert` must. A user rule that cannot be evaluated (an attribute not set
    and not guarded with ``has``, values of the wrong types) does not hold either."""

    def value(name: str) -> Any:
        return named(getattr(model, name, None))

    broken = [f"[{rule}] {text}" for rule, text, holds in rules if not holds(value)]
    if user_rules:
        reader = Cel(model)
        for rule, message, when, check in user_rules:
            problem = reader.judge(message, when, check)
            if problem is not None:
                broken.append(f"[{rule}] {problem}")
    if broken:
        raise ValueError("; ".join(broken))


class CelError(Exception):
    """A user rule's expression has no value for this object."""


def _cel(value: Any) -> Any:
    """A field's value as the bulk evaluator's CEL sees it: enums by member name, decimals as
    doubles, structs as maps by MOM member name (members not set left out)."""
    if isinstance(value, Enum):
        return mom_name(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_cel(v) for v in value]
    if isinstance(value, BaseModel):
        fields = type(value).model_fields.items()
        return {(f.alias or n): _cel(v) for n, f in fields if (v := getattr(value, n)) is not None}
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int64(value: int) -> int:
    if not -(2**63) <= value < 2**63:
        raise CelError(f"{value} overflows a 64-bit int")
    return value


class Cel:
    """A user rule's view of a model, with CEL's operators as the native engine (the ``cel``
    crate) has them where Python's differ: ``&&`` and ``||`` absorb an error when the other side
    decides; a bool never equals a number and numbers compare across int and double;
    arithmetic wants both sides of one type, an int result within 64 bits; reading an
    attribute that is not set is an error."""

    def __init__(self, model: BaseModel) -> None:
        self.model = model

    def judge(self, message: str, when: Callable[[Cel], Any] | None, check: Callable[[Cel], Any]) -> str | None:
        """Why a rule does not hold (`message`, or why it could not be evaluated), else None."""
        if when is not None:
            verdict = self.attempt(when)
            if verdict is False:
                return None
            if verdict is not True:
                return f"when could not be evaluated: {verdict}"
        verdict = self.attempt(check)
        if verdict is True:
            return None
        return message if verdict is False else f"could not be evaluated: {verdict}"

    def attempt(self, expression: Callable[[Cel], Any]) -> Any:
        """The value of `expression` (True or False), else why it has none."""
        try:
            value = expression(self)
        except CelError as err:
            return str(err)
        return value if isinstance(value, bool) else f"gives {value!r}, not a bool"

    def value(self, field: str) -> Any:
        found = getattr(self.model, field, None)
        if found is None:
            raise CelError(f"{field} is not set")
        return _cel(found)

    def has(self, field: str) -> bool:
        return getattr(self.model, field, None) is not None

    @staticmethod
    def undeclared(name: str) -> Any:
        raise CelError(f"undeclared reference to {name!r}")

    @staticmethod
    def member(value: Any, name: str) -> Any:
        if not isinstance(value, dict) or name not in value:
            raise CelError(f"no member {name!r}")
        return value[name]

    def _bool(self, side: Callable[[], Any]) -> bool | CelError:
        try:
            value = side()
        except CelError as err:
            return err
        return value if isinstance(value, bool) else CelError(f"{value!r} is not a bool")

    def _junction(self, sides: tuple[Callable[[], Any], ...], decisive: bool) -> bool:
        """A chain of ``&&`` (`decisive` False) or ``||`` (True), as CEL nests it from the left:
        the first side with the decisive value decides, whatever the others give; else the
        first error is the result's. One call for the whole chain keeps long rules flat."""
        error: CelError | None = None
        for side in sides:
            value = self._bool(side)
            if value is decisive:
                return decisive
            if error is None and isinstance(value, CelError):
                error = value
        if error is not None:
            raise error
        return not decisive

    def and_(self, *sides: Callable[[], Any]) -> bool:
        return self._junction(sides, False)

    def or_(self, *sides: Callable[[], Any]) -> bool:
        return self._junction(sides, True)

    @staticmethod
    def not_(value: Any) -> bool:
        if not isinstance(value, bool):
            raise CelError(f"!{value!r}: not a bool")
        return not value

    @staticmethod
    def cond(test: Callable[[], Any], then: Callable[[], Any], other: Callable[[], Any]) -> Any:
        chosen = test()
        if not isinstance(chosen, bool):
            raise CelError(f"{chosen!r} is not a bool")
        return then() if chosen else other()

    @classmethod
    def eq(cls, a: Any, b: Any) -> bool:
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        if _number(a) and _number(b):
            return bool(a == b)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(cls.eq(x, y) for x, y in zip(a, b, strict=True))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(cls.eq(a[k], b[k]) for k in a)
        return type(a) is type(b) and bool(a == b)

    @classmethod
    def ne(cls, a: Any, b: Any) -> bool:
        return not cls.eq(a, b)

    @staticmethod
    def _ordered(a: Any, b: Any) -> None:
        same = (isinstance(a, bool) and isinstance(b, bool)) or (isinstance(a, str) and isinstance(b, str))
        if not same and not (_number(a) and _number(b)):
            raise CelError(f"no order between {a!r} and {b!r}")

    @classmethod
    def lt(cls, a: Any, b: Any) -> bool:
        cls._ordered(a, b)
        return bool(a < b)

    @classmethod
    def le(cls, a: Any, b: Any) -> bool:
        cls._ordered(a, b)
        return bool(a <= b)

    @classmethod
    def gt(cls, a: Any, b: Any) -> bool:
        cls._ordered(a, b)
        return bool(a > b)

    @classmethod
    def ge(cls, a: Any, b: Any) -> bool:
        cls._ordered(a, b)
        return bool(a >= b)

    @classmethod
    def in_(cls, a: Any, b: Any) -> bool:
        if isinstance(b, list):
            return any(cls.eq(a, x) for x in b)
        if isinstance(b, dict):
            return any(cls.eq(a, k) for k in b)
        raise CelError(f"{b!r} is not a list or a map")

    @staticmethod
    def add(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return _int64(a + b)
        if type(a) is type(b) and type(a) in (float, str, list):
            return a + b
        raise CelError(f"no {a!r} + {b!r}")

    @staticmethod
    def sub(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return _int64(a - b)
        if type(a) is float and type(b) is float:
            return a - b
        raise CelError(f"no {a!r} - {b!r}")

    @staticmethod
    def mul(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return _int64(a * b)
        if type(a) is float and type(b) is float:
            return a * b
        raise CelError(f"no {a!r} * {b!r}")

    @classmethod
    def arith(cls, first: Any, *rest: Any) -> Any:
        """A chain of one precedence (``a + b - c``, ``a * b * c``), folded from the left as CEL
        nests it: `rest` alternates an operator (``+``, ``-``, ``*``) and a callable giving the
        next operand, so operands are read in CEL's order and none after an error."""
        value = first
        for op, operand in zip(rest[::2], rest[1::2], strict=True):
            value = {"+": cls.add, "-": cls.sub, "*": cls.mul}[op](value, operand())
        return value

    @staticmethod
    def neg(a: Any) -> Any:
        if type(a) is int:
            return _int64(-a)
        if type(a) is float:
            return -a
        raise CelError(f"no -{a!r}")

    @staticmethod
    def size(a: Any) -> int:
        if isinstance(a, (str, list, dict)):
            return len(a)
        raise CelError(f"no size of {a!r}")

    @staticmethod
    def _texts(a: Any, b: Any) -> None:
        if not (isinstance(a, str) and isinstance(b, str)):
            raise CelError(f"{a!r} and {b!r} are not both strings")

    @classmethod
    def starts_with(cls, a: Any, b: Any) -> bool:
        cls._texts(a, b)
        return bool(a.startswith(b))

    @classmethod
    def ends_with(cls, a: Any, b: Any) -> bool:
        cls._texts(a, b)
        return bool(a.endswith(b))

    @classmethod
    def contains(cls, a: Any, b: Any) -> bool:
        cls._texts(a, b)
        return b in a


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
        groups[1 if module in ("pydantic", "pydantic_core") else 2 if module.startswith(".") else 0].append(line)
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
