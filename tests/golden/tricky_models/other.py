"""MO classes of other, each built on first use; the .pyi beside this file describes them. Written by rtbfast; do not edit."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {
    'Other_Foo': '_other_0',
    'Other_FooCreate': '_other_0',
    'Other_FooState': '_other_0',
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
