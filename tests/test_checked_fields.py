"""The runtime modules hand Pydantic each field's schema through ``_base.Checked``; the stubs
show the same field the way Pydantic is usually told it (``Annotated[int, Field(ge=0)]``,
``AfterValidator``, ``BeforeValidator(by_name(...))``). Pydantic itself builds the stub's form
here, from the stub's text, and both must give the same JSON Schema and the same verdict, value
and error types on probe values drawn from the field (its bounds and their neighbours, member
names, lengths, FDNs, lists)."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter

import rtbfast
from rtbfast.codegen import Generated, generate
from rtbfast.codegen.schemas import imported
from tests.conftest import samples_dir
from tests.test_codegen import TRICKY

# more kinds than the golden fixture: doubles, decimals with a resolution, sequences of enums,
# of strings and of a derived type, mandatory constrained attributes (the create model: not
# nullable)
KINDS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models><dtdVersion>H</dtdVersion>
<mim name="Kinds" version="1" release="0">
  <enum name="Mode"><enumMember name="OFF"><value>0</value></enumMember>
    <enumMember name="ON"><value>1</value></enumMember><enumMember name="AUTO"><value>7</value></enumMember></enum>
  <struct name="Point"><structMember name="x"><long><range><min>-5</min><max>5</max></range></long></structMember>
    <structMember name="tag"><string><lengthRange><min>2</min><max>4</max></lengthRange></string></structMember>
    <structMember name="modes"><sequence><enumRef name="Mode"/><maxLength>2</maxLength></sequence></structMember>
  </struct>
  <derivedDataType name="Percent"><baseType><long><range><min>0</min><max>100</max></range></long></baseType>
  </derivedDataType>
  <class name="Knob">
    <attribute name="KnobId"><mandatory/><dataType><string/></dataType></attribute>
    <attribute name="gain"><mandatory/><dataType><double><range><min>-1.5</min><max>2.5</max></range></double>
      </dataType></attribute>
    <attribute name="offset"><dataType><decimal64><range><min>-2</min><max>2</max></range>
      <resolution>0.25</resolution><fractionDigits>2</fractionDigits></decimal64></dataType></attribute>
    <attribute name="step"><mandatory/><dataType><long>
      <range><min>0</min><max>30</max><min>100</min><max>100</max></range><resolution>10</resolution></long>
      </dataType></attribute>
    <attribute name="mode"><mandatory/><dataType><enumRef name="Mode"/></dataType></attribute>
    <attribute name="modes"><dataType><sequence><enumRef name="Mode"/><minLength>1</minLength><maxLength>2</maxLength>
      </sequence></dataType></attribute>
    <attribute name="names"><dataType><sequence><string><lengthRange><min>1</min><max>3</max></lengthRange></string>
      <maxLength>2</maxLength></sequence></dataType></attribute>
    <attribute name="small"><dataType><int8/></dataType></attribute>
    <attribute name="load"><dataType><derivedDataTypeRef name="Percent"/></dataType></attribute>
    <attribute name="loads"><dataType><sequence><derivedDataTypeRef name="Percent"/><maxLength>2</maxLength></sequence>
      </dataType></attribute>
    <attribute name="big"><dataType><uint64/></dataType></attribute>
    <attribute name="where"><dataType><structRef name="Point"/></dataType></attribute>
    <attribute name="path"><mandatory/><dataType><sequence><structRef name="Point"/><maxLength>3</maxLength></sequence>
      </dataType></attribute>
    <attribute name="owner"><mandatory/><dataType><moRef name="ManagedObject"/></dataType></attribute>
    <attribute name="ip"><dataType><string><stringLength><subrange><min>7</min><max>15</max></subrange></stringLength>
      <ipV4Address/></string></dataType></attribute>
  </class>
</mim>
</models>
"""


def _fields(stub: Path) -> Iterator[tuple[str, str, str]]:
    """(class, field, annotation text) of every field of every class of a stub."""
    for node in ast.parse(stub.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    yield node.name, item.target.id, ast.unparse(item.annotation)


def _module(pkg: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{pkg.__name__}.{name}")


def _namespace(pkg: ModuleType) -> dict[str, Any]:
    base, types = _module(pkg, "_base"), _module(pkg, "_types")
    names: dict[str, Any] = {
        "Annotated": Annotated,
        "Decimal": Decimal,
        "Field": Field,
        "AfterValidator": AfterValidator,
        "BeforeValidator": BeforeValidator,
    }
    names |= {n: getattr(base, n) for n in ("by_name", "in_ranges", "in_steps", "fdn_of", "unique")}
    names |= {n: getattr(types, n) for n in dir(types)}
    return names


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _probes(text: str, namespace: dict[str, Any]) -> list[Any]:
    """Values worth trying on a field whose stub annotation is `text`."""
    values: list[Any] = [None, 0, 1, -1, True, "", "x", "abc", "12", " 1", 1.5, "1.25", {}, [], "Bar=1", "A=1,Bar=2"]
    for found in _NUMBER.findall(text):
        number = Decimal(found)
        for value in (number - 1, number, number + 1, number + Decimal("0.25"), number - Decimal("0.5")):
            values += [int(value) if value == int(value) else float(value), str(value)]
        if 0 < number < 20:
            values += ["x" * int(number), "x" * (int(number) + 1)]
    for word in set(re.findall(r"[A-Za-z_]\w*", text)):
        kind = namespace.get(word)
        if isinstance(kind, type) and issubclass(kind, Enum):
            values += [m.name for m in kind] + [m.value for m in kind] + ["NOT_A_MEMBER", f" {next(iter(kind)).name}"]
        elif isinstance(kind, type) and issubclass(kind, pydantic.BaseModel):
            values += [{}, {"x": 3, "tag": "ab"}, {"x": 9}, {"tag": "a"}, {"left": 1}, {"left": 1, "right": "r"}]
    return values + [[v] for v in values[:40]] + [[1, 1], [1, 2, 3, 4], ["ON", "OFF"], ["ON", "ON", "OFF"]]


def _outcome(adapter: TypeAdapter[Any], value: Any) -> tuple[str, Any]:
    try:
        got = adapter.validate_python(value)
    except pydantic.ValidationError as err:
        return "refused", [(e["type"], e["loc"]) for e in err.errors()]
    return "accepted", (type(got).__name__, got)


def _differences(generated: Generated) -> tuple[int, list[str]]:
    """How many distinct field types were compared, and where the two forms disagree."""
    compared: set[tuple[str, str]] = set()
    problems: list[str] = []
    with imported(generated) as pkg:
        namespace = _namespace(pkg)
        for stub in sorted(generated.package_dir.glob("*.pyi")):
            if stub.stem.startswith("_") and stub.stem != "_types":
                continue
            module = _module(pkg, stub.stem)
            for cls, name, text in _fields(stub):
                info = getattr(module, cls).model_fields[name]
                runtime_form: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
                key = (text, repr(runtime_form))
                if key in compared:
                    continue
                compared.add(key)
                theirs = TypeAdapter(eval(text, dict(namespace)))  # the stub's form, built by Pydantic
                ours: TypeAdapter[Any] = TypeAdapter(runtime_form)
                where = f"{cls}.{name}: {text}"
                if ours.json_schema() != theirs.json_schema():
                    problems.append(f"{where}: JSON Schema {ours.json_schema()} != {theirs.json_schema()}")
                for value in _probes(text, namespace):
                    mine, pyd = _outcome(ours, value), _outcome(theirs, value)
                    if mine != pyd:
                        problems.append(f"{where}: {value!r} → {mine} but Pydantic gives {pyd}")
    return len(compared), problems


@pytest.mark.parametrize("fixture", [TRICKY, KINDS], ids=["tricky", "kinds"])
def test_checked_fields_are_what_pydantic_builds_from_the_stub(fixture: str, tmp_path: Path) -> None:
    model = tmp_path / "fixture_mp.xml"
    model.write_text(fixture, encoding="utf-8")
    generated = generate(rtbfast.read_model(model).tables, tmp_path / "models")
    count, problems = _differences(generated)
    assert count >= 12
    assert not problems, "\n".join(problems[:20])


def test_checked_form_is_what_the_runtime_modules_use(tmp_path: Path) -> None:
    """The comparison above is not vacuous: the runtime fields carry ``Checked``, the stubs do not."""
    model = tmp_path / "fixture_mp.xml"
    model.write_text(KINDS, encoding="utf-8")
    generated = generate(rtbfast.read_model(model).tables, tmp_path / "models")
    with imported(generated) as pkg:
        fields = pkg.KnobCreate.model_fields
        assert repr(fields["gain"].metadata) == "[Checked(float, ge=-1.5, le=2.5)]"
        assert fields["gain"].annotation is float and fields["offset"].annotation == Decimal | None
        assert repr(fields["step"].metadata) == "[Checked(int, in_ranges, in_steps)]"
        assert repr(fields["ip"].metadata).startswith("[Checked(str, min_length=7, max_length=15, pattern=")
    stub = (generated.package_dir / "kinds.pyi").read_text(encoding="utf-8")
    assert "Checked" not in stub and "Field(ge=-1.5, le=2.5)" in stub


@pytest.mark.samples
def test_checked_fields_of_the_real_lte_model(tmp_path: Path) -> None:
    model = rtbfast.read_model(samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml")
    generated = generate(model.tables, tmp_path / "models")
    count, problems = _differences(generated)
    assert count >= 300
    assert not problems, "\n".join(problems[:20])
