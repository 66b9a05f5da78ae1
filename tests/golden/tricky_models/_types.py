"""Enums and structs of the catalog. Written by rtbfast; do not edit."""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Self, TypeAlias

from pydantic import Field, model_validator

from ._base import MoModel, exactly_one


class Color(IntEnum):
    """Enum Color of MIM Tricky; members by name, values as in the MOM."""

    RED = 1
    GREEN = 2


Percent: TypeAlias = Annotated[int, Field(ge=0, le=100)]
"""Derived type Percent of MIM Tricky."""


class Keyed(MoModel):
    """Struct Keyed of MIM Tricky."""

    k: Annotated[int, Field(ge=-2147483648, le=2147483647)] | None = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
    v: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})


class Pair(MoModel):
    """Struct Pair of MIM Tricky."""

    left: Annotated[int, Field(ge=-2147483648, le=2147483647)] | None = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
    right: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        exactly_one(self, ('left', 'right'))
        return self
