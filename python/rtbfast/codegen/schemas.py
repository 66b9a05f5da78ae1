"""JSON Schemas of generated models, written to ``<Model>.json``; and importing a generated
package under a private name (so two builds in one process never meet) and undoing it."""

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

from rtbfast.codegen.jsonschema import model_schema
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
    """Write one JSON Schema (by MOM names) per MO class to ``out/<X>.json``: the schema of the
    set model ``X`` at the top, with ``XCreate`` and ``XState`` (and the enums and structs they
    use) under ``$defs``, from the field types the models were generated from (see
    :mod:`rtbfast.codegen.jsonschema`). Returns the number of files."""
    out.mkdir(parents=True, exist_ok=True)
    for set_model, create, state in sorted(generated.class_models.values()):
        schemas = {m: generated.schemas[m] for m in (set_model, create, state)}
        top = model_schema(set_model, **_parts(schemas[set_model]), defs=generated.defs)
        defs = dict(top.pop("$defs", {}))
        for variant in (create, state):
            schema = model_schema(variant, **_parts(schemas[variant]), defs=generated.defs)
            defs.update(schema.pop("$defs", {}))
            defs[variant] = schema
        if defs:
            top["$defs"] = dict(sorted(defs.items()))
        # compact: the C encoder is ten times faster than an indented dump
        text = json.dumps(top, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json)
        (out / f"{set_model}.json").write_text(text + "\n", encoding="utf-8")
    return len(generated.class_models)


def _parts(entry: dict[str, Any]) -> dict[str, Any]:
    return {"description": entry["doc"], "properties": entry["properties"], "required": entry["required"]}


def pydantic_schemas(generated: Generated) -> dict[str, dict[str, Any]]:
    """The schemas Pydantic itself gives for the generated models (slow: it builds every
    model); used to check the written ones."""
    with imported(generated) as package:
        return {m: getattr(package, m).model_json_schema(by_alias=True) for m in sorted(generated.models)}
