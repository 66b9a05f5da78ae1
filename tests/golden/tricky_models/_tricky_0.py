"""Models of tricky, each built on first use; import them from .tricky. Written by rtbfast; do not edit."""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from ._base import Checked, MoModel, fdn_of, in_ranges, in_steps, unique


def _build_0() -> dict[str, Any]:
    class Bar(MoModel):
        """Bar (Tricky): the attributes that may be set (all optional)."""

        BarId: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
    return {'Bar': Bar}


def _build_1() -> dict[str, Any]:
    class BarCreate(MoModel):
        """Bar (Tricky): what may be given when it is created (mandatory attributes required)."""

        BarId: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
    return {'BarCreate': BarCreate}


def _build_2() -> dict[str, Any]:
    class BarState(MoModel):
        """Bar (Tricky): every attribute, as read from a node or an export (all optional)."""

        BarId: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
    return {'BarState': BarState}


def _build_3() -> dict[str, Any]:
    from ._types_tricky_0 import Color, Keyed, Pair, Percent
    class Foo(MoModel):
        """A class with awkward attribute names.

        Foo (Tricky): the attributes that may be set (all optional).
        """

        class_: Annotated[str | None, Checked(str, min_length=1, max_length=8)] = Field(None, alias='class', json_schema_extra={'mom_type': 'string', 'source': 'mom'})
        model_config_: Annotated[int | None, Checked(int, ge=0, le=5)] = Field(None, alias='model_config', json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        id_: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, alias='id', json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        level: Annotated[int | None, Checked(int, in_steps(Decimal(2), ((Decimal(-140), Decimal(-44)),)), ge=-140, le=-44)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        band: Annotated[int | None, Checked(int, in_ranges(((Decimal(0), Decimal(9)), (Decimal(20), Decimal(29)),)))] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        ratio: Annotated[Decimal | None, Checked(Decimal, ge=Decimal(0), le=Decimal("10.5"), decimal_places=2)] = Field(None, json_schema_extra={'mom_type': 'decimal64', 'source': 'mom'})
        code: Annotated[str | None, Checked(str, pattern='^(?:[0-9]{3})$')] = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
        color: Annotated[Color | None, Checked(Color)] = Field(None, json_schema_extra={'mom_type': 'enumRef', 'source': 'mom'})
        pair: Pair | None = Field(None, json_schema_extra={'mom_type': 'structRef', 'source': 'mom'})
        items: Annotated[list[int] | None, Checked(list, unique(), item=Checked(int, ge=-2147483648, le=2147483647), min_length=1, max_length=3)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        keyed: Annotated[list[Keyed] | None, Checked(list, unique(lambda item: (item.k,)), item=Checked(Keyed))] = Field(None, json_schema_extra={'mom_type': 'structRef', 'source': 'mom'})
        peer: Annotated[str | None, Checked(str, fdn_of('Bar'))] = Field(None, json_schema_extra={'mom_type': 'moRef', 'moref_target': 'Bar', 'source': 'mom'})
        load: Percent | None = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
    return {'Foo': Foo}


def _build_4() -> dict[str, Any]:
    from ._types_tricky_0 import Color, Keyed, Pair, Percent
    class FooCreate(MoModel):
        """A class with awkward attribute names.

        Foo (Tricky): what may be given when it is created (mandatory attributes required).
        """

        FooId: str = Field(json_schema_extra={'mom_type': 'string', 'restricted': True, 'source': 'mom'})
        class_: Annotated[str | None, Checked(str, min_length=1, max_length=8)] = Field(None, alias='class', json_schema_extra={'mom_type': 'string', 'source': 'mom'})
        model_config_: Annotated[int | None, Checked(int, ge=0, le=5)] = Field(None, alias='model_config', json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        id_: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, alias='id', json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        level: Annotated[int | None, Checked(int, in_steps(Decimal(2), ((Decimal(-140), Decimal(-44)),)), ge=-140, le=-44)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        band: Annotated[int | None, Checked(int, in_ranges(((Decimal(0), Decimal(9)), (Decimal(20), Decimal(29)),)))] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        ratio: Annotated[Decimal | None, Checked(Decimal, ge=Decimal(0), le=Decimal("10.5"), decimal_places=2)] = Field(None, json_schema_extra={'mom_type': 'decimal64', 'source': 'mom'})
        code: Annotated[str | None, Checked(str, pattern='^(?:[0-9]{3})$')] = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
        color: Annotated[Color | None, Checked(Color)] = Field(None, json_schema_extra={'mom_type': 'enumRef', 'source': 'mom'})
        pair: Pair | None = Field(None, json_schema_extra={'mom_type': 'structRef', 'source': 'mom'})
        items: Annotated[list[int] | None, Checked(list, unique(), item=Checked(int, ge=-2147483648, le=2147483647), min_length=1, max_length=3)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        keyed: Annotated[list[Keyed] | None, Checked(list, unique(lambda item: (item.k,)), item=Checked(Keyed))] = Field(None, json_schema_extra={'mom_type': 'structRef', 'source': 'mom'})
        peer: Annotated[str | None, Checked(str, fdn_of('Bar'))] = Field(None, json_schema_extra={'mom_type': 'moRef', 'moref_target': 'Bar', 'source': 'mom'})
        load: Percent | None = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        setup: bool | None = Field(None, json_schema_extra={'mom_type': 'boolean', 'restricted': True, 'source': 'mom'})
    return {'FooCreate': FooCreate}


def _build_5() -> dict[str, Any]:
    from ._types_tricky_0 import Color, Keyed, Pair, Percent
    class FooState_(MoModel):
        """A class with awkward attribute names.

        Foo (Tricky): every attribute, as read from a node or an export (all optional).
        """

        FooId: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'restricted': True, 'source': 'mom'})
        class_: Annotated[str | None, Checked(str, min_length=1, max_length=8)] = Field(None, alias='class', json_schema_extra={'mom_type': 'string', 'source': 'mom'})
        model_config_: Annotated[int | None, Checked(int, ge=0, le=5)] = Field(None, alias='model_config', json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        id_: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, alias='id', json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        level: Annotated[int | None, Checked(int, in_steps(Decimal(2), ((Decimal(-140), Decimal(-44)),)), ge=-140, le=-44)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        band: Annotated[int | None, Checked(int, in_ranges(((Decimal(0), Decimal(9)), (Decimal(20), Decimal(29)),)))] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        ratio: Annotated[Decimal | None, Checked(Decimal, ge=Decimal(0), le=Decimal("10.5"), decimal_places=2)] = Field(None, json_schema_extra={'mom_type': 'decimal64', 'source': 'mom'})
        code: Annotated[str | None, Checked(str, pattern='^(?:[0-9]{3})$')] = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
        color: Annotated[Color | None, Checked(Color)] = Field(None, json_schema_extra={'mom_type': 'enumRef', 'source': 'mom'})
        pair: Pair | None = Field(None, json_schema_extra={'mom_type': 'structRef', 'source': 'mom'})
        items: Annotated[list[int] | None, Checked(list, unique(), item=Checked(int, ge=-2147483648, le=2147483647), min_length=1, max_length=3)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        keyed: Annotated[list[Keyed] | None, Checked(list, unique(lambda item: (item.k,)), item=Checked(Keyed))] = Field(None, json_schema_extra={'mom_type': 'structRef', 'source': 'mom'})
        peer: Annotated[str | None, Checked(str, fdn_of('Bar'))] = Field(None, json_schema_extra={'mom_type': 'moRef', 'moref_target': 'Bar', 'source': 'mom'})
        load: Percent | None = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
        status: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'read_only': True, 'source': 'mom'})
        setup: bool | None = Field(None, json_schema_extra={'mom_type': 'boolean', 'restricted': True, 'source': 'mom'})
    return {'FooState_': FooState_}


def _build_6() -> dict[str, Any]:
    class FooState(MoModel):
        """FooState (Tricky): the attributes that may be set (all optional)."""

        FooStateId: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
    return {'FooState': FooState}


def _build_7() -> dict[str, Any]:
    class FooStateCreate(MoModel):
        """FooState (Tricky): what may be given when it is created (mandatory attributes required)."""

        FooStateId: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
    return {'FooStateCreate': FooStateCreate}


def _build_8() -> dict[str, Any]:
    class FooStateState(MoModel):
        """FooState (Tricky): every attribute, as read from a node or an export (all optional)."""

        FooStateId: str | None = Field(None, json_schema_extra={'mom_type': 'string', 'source': 'mom'})
    return {'FooStateState': FooStateState}


_BUILDERS: dict[str, Any] = {
    'Bar': _build_0,
    'BarCreate': _build_1,
    'BarState': _build_2,
    'Foo': _build_3,
    'FooCreate': _build_4,
    'FooState_': _build_5,
    'FooState': _build_6,
    'FooStateCreate': _build_7,
    'FooStateState': _build_8,
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
