"""Enums and structs of the catalog. Written by rtbfast; do not edit."""

from enum import IntEnum
from typing import Annotated, Self, TypeAlias

from pydantic import Field, model_validator

from ._base import MoModel

class Color(IntEnum):
    """Enum Color of MIM Tricky; members by name, values as in the MOM."""

    RED = 1
    GREEN = 2


Percent: TypeAlias = Annotated[int, Field(ge=0, le=100)]
"""Derived type Percent of MIM Tricky."""


class Keyed(MoModel):
    """Struct Keyed of MIM Tricky."""

    k: Annotated[int, Field(ge=-2147483648, le=2147483647)] | None = ...
    v: str | None = ...


class Pair(MoModel):
    """Struct Pair of MIM Tricky."""

    left: Annotated[int, Field(ge=-2147483648, le=2147483647)] | None = ...
    right: str | None = ...

    @model_validator(mode="after")
    def _exactly_one(self) -> Self: ...
