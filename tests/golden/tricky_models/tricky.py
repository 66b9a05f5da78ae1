"""MO classes of tricky, each built on first use; the .pyi beside this file describes them. Written by rtbfast; do not edit."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {
    'Bar': '_tricky_0',
    'BarCreate': '_tricky_0',
    'BarState': '_tricky_0',
    'Foo': '_tricky_0',
    'FooCreate': '_tricky_0',
    'FooState': '_tricky_0',
    'FooStateCreate': '_tricky_0',
    'FooStateState': '_tricky_0',
    'FooState_': '_tricky_0',
}


def __getattr__(name: str) -> Any:
    home = _WHERE.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__package__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(_WHERE)
