"""Code and documents generated from a catalog: Pydantic models and JSON Schemas.

``generate`` and ``Generated`` load the emitter on first use, so importing one submodule (the
docs writer, say) does not load the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtbfast.codegen.pydantic_models import Generated, generate

__all__ = ["Generated", "generate"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'rtbfast.codegen' has no attribute {name!r}")
    value = getattr(importlib.import_module("rtbfast.codegen.pydantic_models"), name)
    globals()[name] = value
    return value
