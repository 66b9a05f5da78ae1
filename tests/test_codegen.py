"""Generated Pydantic models: they compile, pass ruff and mypy --strict, import, and Pydantic
itself accepts and refuses exactly what the catalog allows."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
import pytest

import rtbfast
import rtbfast.catalog
from rtbfast.codegen import Generated, generate
from rtbfast.codegen.schemas import imported, pydantic_schemas
from rtbfast.typemap import Untranslatable, posix_ere_to_python
from tests.conftest import samples_dir

WriteXml = Callable[[str, str | bytes], Path]

TRICKY = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models><dtdVersion>H</dtdVersion>
<mim name="Tricky" version="1" release="0">
  <enum name="Color"><enumMember name="RED"><value>1</value></enumMember>
    <enumMember name="GREEN"><value>2</value></enumMember></enum>
  <struct name="Pair"><isExclusive/>
    <structMember name="left"><long/></structMember>
    <structMember name="right"><string/></structMember></struct>
  <derivedDataType name="Percent"><baseType><long><range><min>0</min><max>100</max></range></long></baseType>
  </derivedDataType>
  <struct name="Keyed">
    <structMember name="k"><key/><long/></structMember>
    <structMember name="v"><string/></structMember></struct>
  <class name="Foo">
    <description>A class with awkward attribute names.</description>
    <attribute name="FooId"><mandatory/><restricted/><dataType><string/></dataType></attribute>
    <attribute name="class"><dataType><string>
      <lengthRange><min>1</min><max>8</max></lengthRange></string></dataType></attribute>
    <attribute name="model_config"><dataType><long><range><min>0</min><max>5</max></range></long></dataType></attribute>
    <attribute name="id"><dataType><long/></dataType></attribute>
    <attribute name="level"><dataType><long><range><min>-140</min><max>-44</max></range>
      <resolution>2</resolution></long></dataType></attribute>
    <attribute name="band"><dataType><long>
      <range><min>0</min><max>9</max><min>20</min><max>29</max></range></long></dataType></attribute>
    <attribute name="ratio"><dataType><decimal64><range><min>0</min><max>10.5</max></range>
      <fractionDigits>2</fractionDigits></decimal64></dataType></attribute>
    <attribute name="code"><dataType><string><validValues>[[:digit:]]{3}</validValues></string></dataType></attribute>
    <attribute name="color"><dataType><enumRef name="Color"/></dataType></attribute>
    <attribute name="pair"><dataType><structRef name="Pair"/></dataType></attribute>
    <attribute name="items"><dataType><sequence><long/>
      <minLength>1</minLength><maxLength>3</maxLength></sequence></dataType></attribute>
    <attribute name="keyed"><dataType><sequence><structRef name="Keyed"/></sequence></dataType></attribute>
    <attribute name="peer"><dataType><moRef name="Bar"/></dataType></attribute>
    <attribute name="load"><dataType><derivedDataTypeRef name="Percent"/></dataType></attribute>
    <attribute name="status"><readOnly/><dataType><string/></dataType></attribute>
    <attribute name="setup"><restricted/><dataType><boolean/></dataType></attribute>
    <attribute name="pmCount"><readOnly/><dataType><long/></dataType><counterType>PEG</counterType></attribute>
  </class>
  <class name="FooState"><attribute name="FooStateId"><dataType><string/></dataType></attribute></class>
  <class name="Bar"><attribute name="BarId"><dataType><string/></dataType></attribute></class>
</mim>
<mim name="Other" version="1" release="0">
  <class name="Foo"><attribute name="x"><dataType><long/></dataType></attribute></class>
</mim>
</models>
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    folder = tmp_path_factory.mktemp("tricky")
    model = folder / "tricky_mp.xml"
    model.write_text(TRICKY, encoding="utf-8")
    return generate(rtbfast.read_model(model).tables, folder / "models", schemas=folder / "schemas")


@pytest.fixture(scope="module")
def pkg(generated: Generated) -> Iterator[ModuleType]:
    with imported(generated) as module:
        yield module


def refused(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(pydantic.ValidationError) as info:
        model.model_validate(data)
    return str(info.value)


def test_names_are_safe_unique_and_documented(generated: Generated, pkg: ModuleType) -> None:
    assert set(generated.models) == set(pkg.__all__)
    # FooState the class keeps its name; the state model of Foo steps aside
    assert {"Foo", "FooCreate", "FooState", "FooState_", "FooStateCreate", "FooStateState"} <= set(generated.models)
    # Foo of MIM Other gets its MIM as a prefix
    assert {"Other_Foo", "Other_FooCreate", "Other_FooState"} <= set(generated.models)
    assert any("Other_Foo" in r for r in generated.renamed) and any("FooState_" in r for r in generated.renamed)
    fields = pkg.FooState_.model_fields
    assert fields["class_"].alias == "class" and fields["model_config_"].alias == "model_config"
    assert "id" in fields or "id_" in fields


def test_the_three_models_allow_what_the_flags_say(pkg: ModuleType) -> None:
    foo, create, state = pkg.Foo, pkg.FooCreate, pkg.FooState_
    assert foo.model_validate({"class": "abc", "model_config": 3}).class_ == "abc"
    assert "status" in refused(foo, {"status": "x"})  # read-only: never set
    assert "setup" in refused(foo, {"setup": True})  # restricted: only at creation
    assert "nonsense" in refused(foo, {"nonsense": 1})
    assert create.model_validate({"FooId": "1", "setup": True}).setup is True
    assert "FooId" in refused(create, {})  # mandatory at creation
    assert "status" in refused(create, {"FooId": "1", "status": "x"})
    assert state.model_validate({"status": "up", "FooId": "1"}).status == "up"
    for model in (foo, create, state):
        assert "pmCount" not in {f.alias or n for n, f in model.model_fields.items()}


def test_constraints_are_enforced(generated: Generated, pkg: ModuleType) -> None:
    foo = pkg.Foo
    assert foo.model_validate({"level": -138, "band": 25, "ratio": "10.25", "code": "042"}).band == 25
    assert "multiple of the resolution" in refused(foo, {"level": -139})
    assert "greater than or equal" in refused(foo, {"level": -142})
    assert "outside the allowed values" in refused(foo, {"band": 15})
    assert "decimal" in refused(foo, {"ratio": "1.234"}).lower()
    assert "less than or equal" in refused(foo, {"ratio": "10.6"})
    assert "pattern" in refused(foo, {"code": "42"})
    assert "at most 8" in refused(foo, {"class": "123456789"})
    assert "greater than or equal" in refused(foo, {"model_config": -1})
    # enums by member name, keeping the integer values
    color = foo.model_validate({"color": "GREEN"}).color
    assert color.name == "GREEN" and int(color) == 2
    assert "RED" in refused(foo, {"color": "BLUE"})
    # exclusive struct: exactly one member
    assert foo.model_validate({"pair": {"left": 1}}).pair.left == 1
    assert "exactly one" in refused(foo, {"pair": {"left": 1, "right": "x"}})
    assert "exactly one" in refused(foo, {"pair": {}})
    # sequences: length and uniqueness, structs unique by their key members
    assert foo.model_validate({"items": [1, 2, 3]}).items == [1, 2, 3]
    assert "at most 3" in refused(foo, {"items": [1, 2, 3, 4]})
    assert "at least 1" in refused(foo, {"items": []})
    assert "twice" in refused(foo, {"items": [1, 1]})
    assert "twice" in refused(foo, {"keyed": [{"k": 1, "v": "a"}, {"k": 1, "v": "b"}]})
    # moRef: an FDN ending at the target class
    assert foo.model_validate({"peer": "ManagedElement=1,Bar=2"}).peer.endswith("Bar=2")
    assert "Bar is expected" in refused(foo, {"peer": "ManagedElement=1,Foo=2"})
    assert "not an FDN" in refused(foo, {"peer": "just text"})
    # integer width
    assert "less than or equal" in refused(foo, {"id": 2**31})
    # a derived type is a named alias of its checked base type
    assert foo.model_validate({"load": 100}).load == 100
    assert "less than or equal to 100" in refused(foo, {"load": 101})
    assert importlib.import_module(f"{pkg.__name__}._types").Percent is not None
    assert "load: Percent | None" in (generated.package_dir / "tricky.pyi").read_text()


def test_output_is_deterministic_and_clean(generated: Generated, tmp_path: Path) -> None:
    again = generate(
        rtbfast.read_model(generated.package_dir.parent.parent / "tricky_mp.xml").tables, tmp_path / "models"
    )
    # files only: importing the package may have written its bytecode beside it
    for path in sorted(p for p in generated.package_dir.iterdir() if p.is_file()):
        assert (again.package_dir / path.name).read_bytes() == path.read_bytes(), path.name
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(generated.package_dir)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    types = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(generated.package_dir)],
        capture_output=True,
        text=True,
    )
    assert types.returncode == 0, types.stdout


def test_single_file_layout(generated: Generated, tmp_path: Path) -> None:
    model = generated.package_dir.parent.parent / "tricky_mp.xml"
    single = generate(rtbfast.read_model(model).tables, tmp_path, package="tricky", layout="single")
    assert single.package_dir == tmp_path / "tricky.py"
    with imported(single) as module:
        assert set(single.models) == set(generated.models)
        assert module.Foo.model_validate({"band": 5}).band == 5
        refused(module.Foo, {"band": 15})
        refused(module.Foo, {"color": "BLUE"})
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(single.package_dir)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    types = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(single.package_dir)],
        capture_output=True,
        text=True,
    )
    assert types.returncode == 0, types.stdout


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    """A property without its "or null" wrapper."""
    options = prop.get("anyOf", [])
    real = [o for o in options if o != {"type": "null"}]
    return real[0] if len(options) == 2 and len(real) == 1 else prop


def test_json_schemas_say_what_pydantic_says(generated: Generated) -> None:
    """The schemas written from the field types agree with the ones Pydantic builds from the
    generated models: the same properties, required ones, bounds, lengths, patterns, enums."""
    tmp_path = generated.package_dir.parent.parent / "schemas"
    assert generated.schema_files == len(generated.class_models) == len(list(tmp_path.glob("*.json")))
    theirs = pydantic_schemas(generated)
    written: dict[str, dict[str, Any]] = {}
    for set_model, create, state in generated.class_models.values():
        document = json.loads((tmp_path / f"{set_model}.json").read_text())
        written[set_model] = document
        written[create] = document["$defs"][create]
        written[state] = document["$defs"][state]
    for model in generated.models:
        ours = written[model]
        assert generated.fields[model] == len(ours["properties"])
        assert ours["additionalProperties"] is False
        assert set(ours["properties"]) == set(theirs[model]["properties"]), model
        assert set(ours.get("required", [])) == set(theirs[model].get("required", [])), model
        for name, prop in ours["properties"].items():
            mine, pyd = _plain(prop), _plain(theirs[model]["properties"][name])
            for key in ("minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems"):
                if key in pyd:
                    assert mine.get(key) == pyd[key], (model, name, key)
            if pyd.get("type") in ("integer", "string", "boolean", "array"):
                assert mine.get("type") == pyd["type"], (model, name)
    foo = json.loads((tmp_path / "Foo.json").read_text())
    assert "class" in foo["properties"] and "status" not in foo["properties"]
    assert foo["$defs"]["Color"]["enum"] == ["RED", "GREEN"]
    assert foo["$defs"]["Pair"]["maxProperties"] == 1
    band = _plain(foo["properties"]["band"])
    assert [(b["minimum"], b["maximum"]) for b in band["anyOf"]] == [(0, 9), (20, 29)]


@pytest.mark.parametrize(
    ("posix", "python_pattern", "matches", "refuses"),
    [
        ("[[:digit:]]{3}", "^(?:[0-9]{3})$", "123", "12a"),
        ("[a-zA-Z0-9\\-.]*", "^(?:[a-zA-Z0-9\\-.]*)$", "a-b.c", "a b"),
        ("\\s*x", "^(?:\\s*x)$", "  x", "y"),
        ("\\<ab", "^(?:\\b(?=\\w)ab)$", "ab", "b"),
    ],
)
def test_posix_patterns(posix: str, python_pattern: str, matches: str, refuses: str) -> None:
    import re

    translated = posix_ere_to_python(posix)
    assert translated == python_pattern
    assert re.fullmatch(translated, matches) and not re.fullmatch(translated, refuses)


def test_untranslatable_patterns_are_reported() -> None:
    for bad in ("[[:nonsense:]]", "[[=a=]]", "[abc", "(unclosed"):
        with pytest.raises(Untranslatable):
            posix_ere_to_python(bad)


@pytest.mark.samples
def test_real_lte_model(tmp_path: Path) -> None:
    model = rtbfast.read_model(samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml")
    out = generate(model.tables, tmp_path / "models", schemas=tmp_path / "schemas")
    assert out.classes == 330 and len(out.models) == 3 * 330
    assert out.schema_files == 330 == len(list((tmp_path / "schemas").glob("*.json")))
    with imported(out) as pkg:
        cell = pkg.EUtranCellFDD
        counters = {
            r["attribute"]
            for r in model.tables["attributes"].to_pylist()
            if r["class"] == "EUtranCellFDD" and r["is_counter"]
        }
        state_fields = {f.alias or n for n, f in pkg.EUtranCellFDDState.model_fields.items()}
        assert len(state_fields) == 788 - len(counters) and not counters & state_fields
        assert cell.model_validate({"qRxLevMin": -140}).qRxLevMin == -140
        refused(cell, {"qRxLevMin": -141})
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(out.package_dir)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout[-2000:]


Bounds = list[tuple[int | None, int | None]]


def accepts(model: Any, name: str, value: Any) -> bool:
    try:
        model.model_validate({name: value})
    except pydantic.ValidationError:
        return False
    return True


def within(bounds: Bounds, value: int) -> bool:
    return any((lo is None or lo <= value) and (hi is None or value <= hi) for lo, hi in bounds)


@pytest.mark.samples
def test_real_model_and_workbook_accept_and_refuse_what_they_should(tmp_path: Path) -> None:
    """For every ranged integer attribute of the real LTE model and the workbook subset: min,
    max and the default are accepted; min-1, max+1 and off-step values refused. Every enum
    accepts each of its members and refuses an unknown name."""
    folder = samples_dir("csv")
    model = rtbfast.read_model(samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml")
    sheets = rtbfast.read_workbook(
        folder / "Spreadsheets_Parameters.ran-subset.csv", folder / "Spreadsheets_StructParameters.ran-subset.csv"
    )
    catalog = rtbfast.catalog.merge([("mom", "mom:lte", model.tables), ("workbook", "workbook:ran", sheets.tables)])
    out = generate(catalog.tables, tmp_path)
    state_of = {key: names[2] for key, names in out.class_models.items()}
    for (_, cls), names in reversed(list(out.class_models.items())):
        state_of[("", cls)] = names[2]  # the first class of the name, for rows of another source
    members: dict[str, list[str]] = {}
    for m in catalog.tables["enum_members"].to_pylist():
        members.setdefault(m["enum"], []).append(m["member"])
    checked = {"accepted": 0, "refused": 0, "enum members": 0}
    with imported(out) as pkg:
        for row in catalog.tables["attributes"].to_pylist():
            key = (row["mim"], row["class"])
            if key not in state_of:
                key = ("", row["class"])
            if row["is_counter"] or row["is_sequence"] or key not in state_of:
                continue
            state, name, where = getattr(pkg, state_of[key]), row["attribute"], (row["class"], row["attribute"])
            if row["kind"] == "integer" and row["ranges"]:
                # an open end is the integer width's
                bounds: Bounds = [
                    (None if b["min"] is None else int(b["min"]), None if b["max"] is None else int(b["max"]))
                    for b in row["ranges"]
                ]
                inside = [v for pair in bounds for v in pair if v is not None]
                default = row["default"]
                if default is not None and default.lstrip("-").isdigit():
                    inside.append(int(default))
                for value in inside:
                    assert accepts(state, name, value), (where, value, bounds, row["source"])
                    checked["accepted"] += 1
                for lo, hi in bounds:
                    for outside in (None if lo is None else lo - 1, None if hi is None else hi + 1):
                        if outside is not None and not within(bounds, outside):
                            assert not accepts(state, name, outside), (where, outside, bounds)
                            checked["refused"] += 1
                step = row["resolution"]
                spans = [(a, b) for a, b in bounds if a is not None and b is not None and a < b]
                if step is not None and step > 1 and spans:
                    first, _ = spans[0]
                    assert first is not None
                    off = first + 1  # inside its sub-range, not a whole step above its bound
                    others = [pair for pair in bounds if pair != spans[0]]
                    if not within(others, off):
                        assert not accepts(state, name, off), (where, "off step", step, bounds)
                        checked["refused"] += 1
            if row["kind"] == "enum" and row["type_ref"] in members:
                for member in members[row["type_ref"]]:
                    assert accepts(state, name, member), (where, member)
                    checked["enum members"] += 1
                assert not accepts(state, name, "NO_SUCH_MEMBER"), where
    assert checked["accepted"] > 1000 and checked["refused"] > 1000 and checked["enum members"] > 1000, checked


GOLDEN = Path(__file__).parent / "golden" / "tricky_models"


def test_golden_output(generated: Generated) -> None:
    """The package generated from the fixture above, byte for byte. After a deliberate change
    to the emitter, rewrite it with RTBFAST_UPDATE_GOLDEN=1 and review the diff."""
    files = {p.name: p.read_bytes() for p in sorted(generated.package_dir.iterdir()) if p.is_file()}
    if os.environ.get("RTBFAST_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.iterdir():
            old.unlink()
        for name, data in files.items():
            (GOLDEN / name).write_bytes(data)
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(files)
    for name, data in files.items():
        assert (GOLDEN / name).read_bytes() == data, f"{name} differs from tests/golden/tricky_models/{name}"


def test_a_derived_type_over_a_builtin_type(tmp_path: Path) -> None:
    """ECIM MIMs name plain booleans (Sgsn_Mme's AcceptUnknownImei, EPG's EcimEmpty): the
    derived type is Python's own `bool`, which the lazy module must import as it is."""
    model = tmp_path / "flags_mp.xml"
    model.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<models><dtdVersion>H</dtdVersion>
<mim name="Flags" version="1" release="0">
  <derivedDataType name="EcimEmpty"><baseType><boolean/></baseType></derivedDataType>
  <derivedDataType name="Label"><baseType><string/></baseType></derivedDataType>
  <class name="Gate">
    <attribute name="GateId"><dataType><string/></dataType></attribute>
    <attribute name="enabled"><dataType><derivedDataTypeRef name="EcimEmpty"/></dataType></attribute>
    <attribute name="label"><dataType><derivedDataTypeRef name="Label"/></dataType></attribute>
  </class>
</mim>
</models>
""",
        encoding="utf-8",
    )
    made = generate(rtbfast.read_model(model).tables, tmp_path / "models")
    with imported(made) as module:
        gate = module.Gate
        assert gate.model_validate({"enabled": True, "label": "x"}).enabled is True
        assert "enabled" in refused(gate, {"enabled": "maybe"})
        assert bool.__qualname__ == "bool" and str.__qualname__ == "str"


@pytest.mark.samples
@pytest.mark.parametrize("name", ["Sgsn_Mme_mp.xml", "Epg_merged_82mims_mp.xml", "LRAT_MOM_Mini_ecim_output_mp.xml"])
def test_every_model_of_the_real_ecim_samples_builds(name: str, tmp_path: Path) -> None:
    """Each real ECIM model generates, and every one of its models is built when asked for
    (the package builds a unit lazily, so each name is touched)."""
    model = rtbfast.read_model(samples_dir("mom") / name)
    out = generate(model.tables, tmp_path / "models")
    assert out.classes > 0 and len(out.models) == 3 * out.classes
    with imported(out) as pkg:
        for model_name in pkg.__all__:
            assert issubclass(getattr(pkg, model_name), pydantic.BaseModel), model_name
