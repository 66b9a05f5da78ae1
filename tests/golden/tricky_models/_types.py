"""Enums and structs of the catalog, each built on first use by the module of its MIM. Written by rtbfast; do not edit."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {
    'Color': '_types_tricky_0',
    'Keyed': '_types_tricky_0',
    'Pair': '_types_tricky_0',
    'Percent': '_types_tricky_0',
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
