"""RTB templates: read exactly (:mod:`rtbfast.templates.tree`), checked in bulk against a
built catalog (:mod:`rtbfast.templates.check`), expanded against a network into a ChangeSet
(:mod:`rtbfast.templates.expand`), and rtbfast's own typed templates with variants
(:mod:`rtbfast.templates.typed`). Names load on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtbfast.templates.tree import Template, read_template, template_json, write_template

_WHERE = {
    "Template": "rtbfast.templates.tree",
    "read_template": "rtbfast.templates.tree",
    "template_json": "rtbfast.templates.tree",
    "write_template": "rtbfast.templates.tree",
}

__all__ = ["Template", "read_template", "template_json", "write_template"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rtbfast.templates' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
