"""JSON Schemas of generated models: the package is imported under a private name (so two
builds in one process never meet), every model's schema written to ``<Model>.json``, and the
import undone."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
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


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def write_schemas(generated: Generated, out: Path) -> int:
    """Write the JSON Schema (by MOM names) of every generated model to ``out/<Model>.json``."""
    out.mkdir(parents=True, exist_ok=True)
    with imported(generated) as package:
        for model in sorted(generated.models):
            schema = getattr(package, model).model_json_schema(by_alias=True)
            text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False, default=_json)
            (out / f"{model}.json").write_text(text + "\n", encoding="utf-8")
    return len(generated.models)
