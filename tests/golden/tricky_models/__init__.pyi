"""Pydantic models of the catalog, one per MO class and purpose (X, XCreate, XState). Written by rtbfast; do not edit."""

from .other import Other_Foo, Other_FooCreate, Other_FooState
from .tricky import (
    Bar,
    BarCreate,
    BarState,
    Foo,
    FooCreate,
    FooState,
    FooState_,
    FooStateCreate,
    FooStateState,
)

__all__ = [
    'Bar',
    'BarCreate',
    'BarState',
    'Foo',
    'FooCreate',
    'FooState',
    'FooStateCreate',
    'FooStateState',
    'FooState_',
    'Other_Foo',
    'Other_FooCreate',
    'Other_FooState',
]
