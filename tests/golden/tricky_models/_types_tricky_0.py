"""Enums and structs of MIM Tricky, each built on first use; import them from ._types. Written by rtbfast; do not edit."""

from enum import IntEnum
from typing import Annotated, Any, Self, TypeAlias

from pydantic import Field, model_validator

from ._base import Checked, MoModel, exactly_one


def _build_0() -> dict[str, Any]:
    class Color(IntEnum):
        """Enum Color of MIM Tricky; members by name, values as in the MOM."""

        RED = 1
        GREEN = 2
    return {'Color': Color}


def _build_1() -> dict[str, Any]:
    Percent: TypeAlias = Annotated[int, Field(ge=0, le=100)]
    """Derived type Percent of MIM Tricky."""
    return {'Percent': Percent}


def _build_2() -> dict[str, Any]:
    class Keyed(MoModel):
        """Struct Keyed of MIM Tricky."""

        k: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        v: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
    return {'Keyed': Keyed}


def _build_3() -> dict[str, Any]:
    class Pair(MoModel):
        """Struct Pair of MIM Tricky."""

        left: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        right: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})

        @model_validator(mode="after")
        def _exactly_one(self) -> Self:
            exactly_one(self, ('left', 'right'))
            return self
    return {'Pair': Pair}


_BUILDERS: dict[str, Any] = {
    'Color': _build_0,
    'Percent': _build_1,
    'Keyed': _build_2,
    'Pair': _build_3,
}


def __getattr__(name: str) -> Any:
    build = _BUILDERS.get(name)
    if build is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for key, value in build().items():
        if isinstance(value, type) and value.__module__ == __name__:
            value.__qualname__ = key
        globals()[key] = value
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(_BUILDERS)
