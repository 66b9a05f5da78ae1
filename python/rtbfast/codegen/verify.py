"""Proof, at build time, that every generated model can be used: that importing the package and
building any of its models (its validator and its JSON Schema, what the first use of a model
does) raises nothing.

Building all the models of a large catalog takes minutes (Pydantic builds a model at about
0.1 ms a field), so the proof is made from the parts models are made of:

- every generated module is imported;
- every enum, struct and derived type is built for real: each struct's validator, its JSON
  Schemas (validation and serialization) and a validation of an empty object (refused for an
  exclusive struct, which is fine: it is built), each enum and derived type as a field;
- every distinct annotation of a field of an MO class's models (:attr:`Generated.probes`: a few
  hundred in a real model of thousands of fields) is built as the field of a probe model, with
  the same names the runtime modules give it, in probe models of a few dozen fields.

The rest of a model is the same for every input: a class of ``MoModel`` whose field names are
made safe (:func:`rtbfast.codegen.pydantic_models.safe_identifier`), whose aliases, descriptions
and schema extras are literals (the build compiles every module) and whose validators only run
on data; a model of many fields inherits them from parts (``_X_part0``...) of the same shape.

The check runs in a fresh interpreter (a command, not a fork: the build's process runs threads),
alongside the build's later phases; a crash or a Python recursion error in it names what was
being built. A problem is reported as a :class:`Problem` naming the type or the class and
attribute; the build turns it into one located error line.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import re
import subprocess
import sys
import threading
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pydantic

import rtbfast
from rtbfast.codegen.pydantic_models import Generated
from rtbfast.codegen.schemas import imported
from rtbfast.errors import GeneratedCodeError

PROBE_FIELDS = 256
"""Field annotations built at once, in one probe model."""


@dataclass(frozen=True)
class Problem:
    """What cannot be built: an enum, struct or derived type (`kind`, `mim`, `name`), or a class
    (`kind` ``class``) through the field `member` of its `model`; and the error."""

    kind: str
    mim: str
    name: str
    member: str
    model: str
    error: str


@dataclass(frozen=True)
class _Item:
    """One thing the child builds: a type (`text` its Python name) or a field annotation."""

    probe: bool
    text: str
    kind: str
    mim: str
    name: str
    member: str = ""
    model: str = ""

    def problem(self, error: str) -> Problem:
        return Problem(self.kind, self.mim, self.name, self.member, self.model or self.text, error)


def _items(generated: Generated) -> list[_Item]:
    """What to build: one type of each shape (:attr:`Generated.type_shapes`: types of one shape
    differ by their names only), then each field annotation of the MO classes' models, with every
    type it names replaced by the first type built of the same kind (what an annotation adds
    around a type, optional, a list, its checks, does not depend on which type it is; each
    type is built on its own), so a catalog of many MIMs of the same types has few of each."""
    types: dict[str, _Item] = {}
    for py, (kind, mim, name) in generated.types.items():
        types.setdefault(generated.type_shapes.get(py, py), _Item(False, py, kind, mim, name))
    first: dict[str, str] = {}
    for item in types.values():
        first.setdefault(item.kind, item.text)
    instead = {py: first[kind] for py, (kind, _, _) in generated.types.items()}

    def word(match: re.Match[str]) -> str:
        return instead.get(match.group(), match.group())

    probes: dict[str, _Item] = {}
    for text, (model, mim, cls, attribute) in generated.probes.items():
        # names outside the string literals (a pattern or a target class may spell one)
        parts = _STRING.split(text)
        literals = _STRING.findall(text)
        general = "".join(p + q for p, q in zip([_NAME.sub(word, p) for p in parts], [*literals, ""], strict=True))
        probes.setdefault(general, _Item(True, general, "class", mim, cls, attribute, model))
    return [*types.values(), *probes.values()]


_NAME = re.compile(r"(?<![.\w])[A-Za-z_]\w*")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


class Check:
    """The check of one generated package, running in a process of its own until
    :meth:`result` (or :meth:`close`, which ends it). The process is a new interpreter started
    as a command (not by :mod:`multiprocessing`, which would run the caller's main script
    again), told what to build on its input; it answers a line at a time on its output."""

    def __init__(self, generated: Generated) -> None:
        self.items = _items(generated)
        package_root = str(Path(rtbfast.__file__).resolve().parents[1])
        paths = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from rtbfast.codegen.verify import main; main()", str(generated.package_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                text=True,
                encoding="utf-8",
            )
        except OSError as err:
            raise GeneratedCodeError(f"cannot start a Python interpreter to check the models: {err}") from None
        self.telling = threading.Thread(target=self._tell, name="rtbfast-check-input", daemon=True)

    @property
    def counts(self) -> dict[str, int]:
        """What the check builds: types (one of each shape) and field annotations."""
        types = sum(1 for item in self.items if not item.probe)
        return {"types": types, "annotations": len(self.items) - types}

    def begin(self) -> None:
        """Let the check build the package, once it is all written (and compiled: the check
        must not write bytecode of its own). Until then the new interpreter only starts (Python,
        Pydantic, rtbfast: most of a small catalog's check). Told on a thread: the build goes
        on meanwhile."""
        self.telling.start()

    def _tell(self) -> None:
        try:
            if self.process.stdin is not None:
                json.dump([asdict(item) for item in self.items], self.process.stdin)
                self.process.stdin.close()
        except (OSError, ValueError):  # it ended already (or was ended): result() says how
            pass

    def result(self) -> Problem | None:
        """Wait for the check: None when everything builds, else the first problem."""
        if not self.telling.is_alive() and self.telling.ident is None:
            self.begin()
        at: int | None = None
        try:
            for line in self.process.stdout or ():
                what, _, value = line.rstrip("\n").partition(" ")
                if what == "at":
                    at = int(value)
                elif what == "problem":
                    index, error = json.loads(value)
                    return self.items[index].problem(error) if index >= 0 else _broken(error)
                elif what == "done":
                    return None
            code = self.process.wait()
            if at is None:
                return _broken(f"the check ended before building anything (exit code {code})")
            return self.items[at].problem(f"building it ended the process (exit code {code})")
        finally:
            self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.telling.ident is not None:
            self.telling.join()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _broken(error: str) -> Problem:
    """A problem of the package as a whole (a module that does not import)."""
    return Problem("package", "", "", "", "", str(error))


def check(generated: Generated) -> Problem | None:
    """Build everything :mod:`rtbfast.codegen.verify` builds, in a fresh process, and wait."""
    return Check(generated).result()


# -- the child ------------------------------------------------------------------------------


def main() -> None:
    """The check's process: the package's path in ``argv``, the items (JSON) on its input."""
    items = [_Item(**item) for item in json.load(sys.stdin)]
    out, sys.stdout = sys.stdout, sys.stderr  # the answers alone on the output

    def send(what: str, value: str = "") -> None:
        out.write(f"{what} {value}\n")
        out.flush()

    path = Path(sys.argv[1])
    try:
        with imported(Generated(path)) as package:
            problem = _check_all(package, path, items, send)
    except Exception as err:  # a module of the package does not import
        problem = (-1, _shown(err))
    if problem is not None:
        send("problem", json.dumps(problem))
    else:
        send("done")


def _check_all(
    package: Any, path: Path, items: list[_Item], send: Callable[[str, str], None]
) -> tuple[int, str] | None:
    if path.is_dir():
        for module in sorted(p.stem for p in path.glob("*.py") if p.stem != "__init__"):
            importlib.import_module(f"{package.__name__}.{module}")
        base = importlib.import_module(f"{package.__name__}._base")
        types = importlib.import_module(f"{package.__name__}._types")
        names = dict(vars(base))
    else:
        base = types = package
        names = dict(vars(package))
    names |= {"Annotated": typing.Annotated, "Any": typing.Any, "Decimal": decimal.Decimal}
    names |= {n: getattr(pydantic, n) for n in ("AfterValidator", "BeforeValidator", "Field", "model_validator")}
    # the types first, each alone: a struct's own checks, then each as a field
    fields: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        if item.probe:
            fields.append((index, item.text))
            continue
        send("at", str(index))
        try:
            value = getattr(types, item.text)
            names[item.text] = value
            if isinstance(value, type) and issubclass(value, base.MoModel):
                _use_model(value)
                fields.append((index, f"{item.text} | None"))
            elif isinstance(value, type):  # an enum, as fields of one are written
                fields.append((index, f"Annotated[{item.text} | None, Checked({item.text})]"))
            else:  # a derived type's alias
                fields.append((index, f"{item.text} | None"))
        except Exception as err:
            return index, _shown(err)
    for start in range(0, len(fields), PROBE_FIELDS):
        batch = fields[start : start + PROBE_FIELDS]
        send("at", str(batch[0][0]))
        try:
            _probe(base.MoModel, names, [text for _, text in batch])
        except Exception:
            for index, text in batch:  # which one
                send("at", str(index))
                try:
                    _probe(base.MoModel, names, [text])
                except Exception as err:
                    return index, _shown(err)
    return None


def _probe(base: type[pydantic.BaseModel], names: dict[str, Any], texts: list[str]) -> None:
    """A model of one optional field per annotation text, built as a first use builds it."""
    fields: dict[str, Any] = {f"f{i}": (eval(text, names), None) for i, text in enumerate(texts)}  # its own code
    model = pydantic.create_model("Probe", __base__=base, **fields)
    # the serialization schema of a field differs only by the serializers fields do not have
    _use_model(model, serialization=False)


def _use_model(model: type[pydantic.BaseModel], serialization: bool = True) -> None:
    """Build `model`'s validator, serializer and JSON Schema (also that of `serialization`),
    validate an empty object and dump it."""
    model.model_json_schema()
    if serialization:
        model.model_json_schema(mode="serialization")
    try:
        instance = model.model_validate({})
    except pydantic.ValidationError:
        return  # refused (an exclusive struct wants a member): built all the same
    instance.model_dump_json()


def _shown(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}{'…' if len(text) > 300 else ''}"
