"""Pydantic models of the catalog, one per MO class and purpose (X, XCreate, XState).

Modules are imported on first use of a name; ``__init__.pyi`` lists every model for type
checkers. Written by rtbfast; do not edit.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {
    'Bar': 'tricky',
    'BarCreate': 'tricky',
    'BarState': 'tricky',
    'Foo': 'tricky',
    'FooCreate': 'tricky',
    'FooState': 'tricky',
    'FooStateCreate': 'tricky',
    'FooStateState': 'tricky',
    'FooState_': 'tricky',
    'Other_Foo': 'other',
    'Other_FooCreate': 'other',
    'Other_FooState': 'other',
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
