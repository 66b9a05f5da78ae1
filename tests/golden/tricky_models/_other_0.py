"""Models of other, each built on first use; import them from .other. Written by rtbfast; do not edit."""

from typing import Annotated, Any

from pydantic import Field

from ._base import Checked, MoModel


def _build_0() -> dict[str, Any]:
    class Other_Foo(MoModel):
        """Foo (Other): the attributes that may be set (all optional)."""

        x: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
    return {'Other_Foo': Other_Foo}


def _build_1() -> dict[str, Any]:
    class Other_FooCreate(MoModel):
        """Foo (Other): what may be given when it is created (mandatory attributes required)."""

        x: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
    return {'Other_FooCreate': Other_FooCreate}


def _build_2() -> dict[str, Any]:
    class Other_FooState(MoModel):
        """Foo (Other): every attribute, as read from a node or an export (all optional)."""

        x: Annotated[int | None, Checked(int, ge=-2147483648, le=2147483647)] = Field(None, json_schema_extra={'mom_type': 'long', 'source': 'mom'})
    return {'Other_FooState': Other_FooState}


_BUILDERS: dict[str, Any] = {
    'Other_Foo': _build_0,
    'Other_FooCreate': _build_1,
    'Other_FooState': _build_2,
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
