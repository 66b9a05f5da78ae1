"""MO classes of other. Written by rtbfast; do not edit."""

from typing import Annotated

from pydantic import Field

from ._base import MoModel

class Other_Foo(MoModel):
    """Foo (Other): the attributes that may be set (all optional)."""

    x: Annotated[int, Field(ge=-2147483648, le=2147483647)] | None = ...


class Other_FooCreate(MoModel):
    """Foo (Other): what may be given when it is created (mandatory attributes required)."""

    x: Annotated[int, Field(ge=-2147483648, le=2147483647)] | None = ...


class Other_FooState(MoModel):
    """Foo (Other): every attribute, as read from a node or an export (all optional)."""

    x: Annotated[int, Field(ge=-2147483648, le=2147483647)] | None = ...
