"""Importing a generated package under a private name (so two builds in one process never meet)
and undoing it; the schemas Pydantic itself gives for its models. The JSON Schemas are written
with the models (see :func:`rtbfast.codegen.generate`)."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from rtbfast.codegen.pydantic_models import Generated

_COUNTER = itertools.count()


@contextmanager
def imported(generated: Generated) -> Iterator[ModuleType]:
    """The generated package (or single module), imported for the duration of the block."""
    name = f"_rtbfast_generated_{next(_COUNTER)}"
    path = generated.package_dir
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]


def pydantic_schemas(generated: Generated) -> dict[str, dict[str, Any]]:
    """The schemas Pydantic itself gives for the generated models (slow: it builds every
    model); used to check the written ones."""
    with imported(generated) as package:
        return {m: getattr(package, m).model_json_schema(by_alias=True) for m in sorted(generated.models)}
