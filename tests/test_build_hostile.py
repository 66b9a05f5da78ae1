"""Models that would build and then fail on first use, or take memory out of proportion to the
model, and docs pages that would overwrite each other: each case is a small MP XML model written
here and built with the real ``rtbfast build``; it ends in exit 0 with a package whose every
class imports and validates (checked in a fresh interpreter), or in one located error line.

Before these fixes, the struct cycle, the self-referencing struct, the 3,000-deep chain and the
enum member ``mro`` built with exit 0 and failed on first use (RecursionError, NameError,
ValueError); a class of 20,000 attributes took 1.06 GB to build (4.8 GB for 100,000); ``a/b``
and ``a\\b`` shared one docs page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rtbfast
from rtbfast.codegen import generate
from rtbfast.codegen.bytecode import compile_generated
from rtbfast.codegen.located import Sources, generated_error
from rtbfast.codegen.pydantic_models import _PART_FIELDS, MAX_STRUCT_DEPTH
from rtbfast.codegen.verify import check
from rtbfast.output_folder import REPORT
from tests.conftest import one_line_error
from tests.conftest import rtbfast as cli

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<models><mim name="M" version="1" release="1">\n'
TAIL = "</mim></models>\n"


def _class(attributes: str, name: str = "C") -> str:
    key = f'<attribute name="{name}Id"><dataType><string/></dataType></attribute>'
    return f'<class name="{name}">{key}{attributes}</class>\n'


def _struct_attribute(struct: str, name: str = "x", sequence: bool = False) -> str:
    ref = f'<structRef name="{struct}"/>'
    typed = f"<sequence>{ref}</sequence>" if sequence else ref
    return f'<attribute name="{name}"><dataType>{typed}</dataType></attribute>'


def _model(tmp_path: Path, body: str, name: str = "model_mp.xml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body + TAIL, encoding="utf-8")
    return path


def _built(tmp_path: Path, model: Path) -> Path:
    out = tmp_path / "out"
    run = cli("build", model, "-o", out)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return out


USE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import pydantic
import rtb_models
out = {}
for name in rtb_models.__all__:
    model = getattr(rtb_models, name)
    model.model_json_schema()
    model.model_json_schema(mode="serialization")
    try:
        model.model_validate({})
        out[name] = "ok"
    except pydantic.ValidationError as err:
        out[name] = str(err)
"""


def _use(out: Path, extra: str = "") -> dict[str, Any]:
    """Import the built package in a fresh interpreter, build every model's schemas, validate
    an empty object with each (``ok`` or the error), then run `extra` (which may add to
    ``out``); returns ``out``."""
    code = USE + extra + "\nprint(json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out / "models")], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- 1. recursive and deep structs ---------------------------------------------------------------


def _cycle(length: int) -> str:
    """Structs S0 → S1 → … → S{length-1} → S0, each with a number too."""
    return "".join(
        f'<struct name="S{i}"><structMember name="n"><structRef name="S{(i + 1) % length}"/></structMember>'
        f'<structMember name="v"><long/></structMember></struct>'
        for i in range(length)
    )


def _chain(depth: int) -> str:
    """Structs S0 → S1 → … → S{depth-1}, the last with a number only: `depth` levels."""
    links = "".join(
        f'<struct name="S{i}"><structMember name="n"><structRef name="S{i + 1}"/></structMember></struct>'
        for i in range(depth - 1)
    )
    return links + f'<struct name="S{depth - 1}"><structMember name="v"><long/></structMember></struct>'


@pytest.mark.parametrize("length", [1, 2, 3])
def test_recursive_structs_build_and_validate_nested_values(tmp_path: Path, length: int) -> None:
    """A self-referencing struct (1) and cycles A → B → A (2) and of three: the models import,
    build their schemas and take values nested deeper than the cycle."""
    model = _model(tmp_path, _cycle(length) + _class(_struct_attribute("S0") + _struct_attribute("S0", "xs", True)))
    out = _built(tmp_path, model)
    nested: dict[str, Any] = {"v": 1}
    for _ in range(3 * length + 2):
        nested = {"n": nested, "v": 2}
    used = _use(
        out,
        f"value = rtb_models.C.model_validate({{'x': {nested!r}, 'xs': [{nested!r}, {{'v': 3}}]}})\n"
        "depth, at = 0, value.x\n"
        "while at is not None:\n    depth, at = depth + 1, at.n\n"
        "out['depth'] = depth\n"
        "try:\n    rtb_models.C.model_validate({'x': {'n': {'v': 'not a number'}}})\n"
        "except pydantic.ValidationError as err:\n    out['refused'] = str(err)\n",
    )
    assert used["C"] == used["CCreate"] == used["CState"] == "ok"
    assert used["depth"] == 3 * length + 3
    assert "x.n.v" in used["refused"]
    schema = json.loads((out / "schemas" / "C.json").read_text())
    assert {f"S{i}" for i in range(length)} <= set(schema["$defs"])
    pages = {p.name for p in (out / "docs" / "structs").iterdir()}
    assert {f"S{i}.html" for i in range(length)} <= pages


def test_structs_nested_to_the_bound_build_and_work_from_a_deep_stack(tmp_path: Path) -> None:
    """A chain of MAX_STRUCT_DEPTH structs builds; its models build their schemas and validate
    a fully nested value even when called from 300 frames deep (the bound leaves that much)."""
    model = _model(tmp_path, _chain(MAX_STRUCT_DEPTH) + _class(_struct_attribute("S0")))
    out = _built(tmp_path, model)
    nested: dict[str, Any] = {"v": 7}
    for _ in range(MAX_STRUCT_DEPTH - 1):
        nested = {"n": nested}
    used = _use(
        out,
        "def deep(k, f):\n    return f() if k == 0 else deep(k - 1, f)\n"
        "def work():\n"
        "    for name in rtb_models.__all__:\n"
        "        m = getattr(rtb_models, name)\n"
        "        m.model_rebuild(force=True)\n"
        "        m.model_json_schema()\n"
        f"    return rtb_models.C.model_validate({{'x': {nested!r}}}).model_dump()\n"
        "out['dumped'] = deep(300, work)\n",
    )
    at = used["dumped"]["x"]
    for _ in range(MAX_STRUCT_DEPTH - 1):
        at = at["n"]
    assert at == {"v": 7}


@pytest.mark.parametrize(
    ("body", "deep", "chain"),
    [
        pytest.param(_chain(3000), 3000, "(S0 → S1 → S2 → S3 → … → S2999)", id="3000-deep chain"),
        pytest.param(_chain(MAX_STRUCT_DEPTH + 1), MAX_STRUCT_DEPTH + 1, "S0 → S1", id="one too deep"),
        pytest.param(_cycle(MAX_STRUCT_DEPTH + 1), MAX_STRUCT_DEPTH + 1, "S0 → S1", id="a cycle of 17"),
    ],
)
def test_structs_nested_beyond_the_bound_are_refused_with_a_located_line(
    tmp_path: Path, body: str, deep: int, chain: str
) -> None:
    model = _model(tmp_path, body + _class(_struct_attribute("S0")))
    run = cli("build", model, "-o", tmp_path / "out")
    line = one_line_error(run, 2, f"{model}:3:1 (in models/mim[M]/struct[S0]): ", f"structs nest {deep} deep", chain)
    assert f"at most {MAX_STRUCT_DEPTH} levels" in line
    assert not (tmp_path / "out").exists()


def test_a_struct_reached_through_a_derived_type_may_refer_to_itself(tmp_path: Path) -> None:
    """A struct whose member is a derived type of the struct itself (the cycle runs through
    the alias): the alias is defined after the structs, the field written with the struct."""
    body = (
        '<derivedDataType name="D"><baseType><structRef name="A"/></baseType></derivedDataType>'
        '<struct name="A"><structMember name="d"><derivedDataTypeRef name="D"/></structMember>'
        '<structMember name="v"><long/></structMember></struct>'
        + _class('<attribute name="x"><dataType><derivedDataTypeRef name="D"/></dataType></attribute>')
    )
    model = _model(tmp_path, body)
    for layout in ("package", "single"):
        out = tmp_path / layout
        run = cli("build", model, "-o", out, "--layout", layout)
        assert run.returncode == 0, run.stderr[-3000:]
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import rtb_models\n"
            "v = rtb_models.C.model_validate({'x': {'d': {'d': {'v': 3}}}})\n"
            "print(v.x.d.d.v, rtb_models.C.model_json_schema()['$defs']['A']['title'])\n"
        )
        done = subprocess.run([sys.executable, "-c", code, str(out / "models")], capture_output=True, text=True)
        assert done.stdout.split() == ["3", "A"], done.stderr[-2000:]


# -- 2. enum member names ------------------------------------------------------------------------

HOSTILE_MEMBERS = [
    "mro", "name", "value", "_missing_", "_generate_next_value_", "__init__", "__class__", "_x", "class",
    "None", "8", "99", "since-update", "a b", "a-b", "a_b", "upper", "real", "", "\uff43\uff4c\uff41\uff53\uff53", "OK",
]  # fmt: skip


@pytest.mark.parametrize("valued", [True, False], ids=["IntEnum", "StrEnum"])
def test_enum_members_with_any_name_build_and_are_taken_by_their_mom_names(tmp_path: Path, valued: bool) -> None:
    members = "".join(
        f'<enumMember name="{m}">{f"<value>{i}</value>" if valued else ""}</enumMember>'
        for i, m in enumerate(HOSTILE_MEMBERS)
    )
    body = f'<enum name="E">{members}</enum>' + _class(
        '<attribute name="e"><dataType><enumRef name="E"/></dataType></attribute>'
        '<attribute name="es"><dataType><sequence><enumRef name="E"/></sequence></dataType></attribute>'
    )
    out = _built(tmp_path, _model(tmp_path, body))
    names = json.dumps(HOSTILE_MEMBERS)
    used = _use(
        out,
        f"names = {names}\n"
        "E = type(rtb_models.C.model_validate({'e': names[-1]}).e)\n"
        "out['python'] = list(E.__members__)\n"
        "out['taken'] = {}\n"
        "for i, n in enumerate(names):\n"
        "    if n.isdigit():\n        continue  # a text of digits is a value\n"
        "    out['taken'][n] = rtb_models.C.model_validate({'e': n, 'es': [n]}).e.name\n"
        "out['values'] = [m.value for m in E]\n"
        "try:\n    rtb_models.C.model_validate({'e': 'NOT_A_MEMBER'})\n"
        "except pydantic.ValidationError as err:\n    out['refused'] = str(err)\n"
        "out['schema'] = rtb_models.C.model_json_schema()['$defs']['E']\n",
    )
    assert used["C"] == "ok"
    python = used["python"]
    assert len(python) == len(set(python)) == len(HOSTILE_MEMBERS), python
    assert all(n.isidentifier() and not n.startswith("_") for n in python)
    assert {"mro", "name", "value", "class", "None", "upper", "real"}.isdisjoint(python)
    # every MOM name takes its own member, none another's
    taken = used["taken"]
    assert len(set(taken.values())) == len(taken) == len([n for n in HOSTILE_MEMBERS if not n.isdigit()])
    assert taken["OK"] == "OK" and taken["a_b"] != taken["a-b"] != taken["a b"]
    assert used["values"] == (list(range(len(HOSTILE_MEMBERS))) if valued else HOSTILE_MEMBERS)
    assert "since-update" in used["refused"] and "NOT_A_MEMBER" in used["refused"]
    written = json.loads((out / "schemas" / "C.json").read_text())["$defs"]["E"]["enum"]
    assert written == HOSTILE_MEMBERS


# -- 3. names that would meet: fields, files ---------------------------------------------------


def test_attribute_names_python_reads_alike_are_distinct_fields(tmp_path: Path) -> None:
    """Python reads a fullwidth ``class`` as ``class`` (NFKC), and ``a²`` is not a name at all: each
    attribute still gets a field of its own, reached by its MOM name."""
    names = ["class", "\uff43\uff4c\uff41\uff53\uff53", "a²", "a2", "Config", "model_x", "_private", "__init__"]
    attributes = "".join(f'<attribute name="{n}"><dataType><long/></dataType></attribute>' for n in names)
    out = _built(tmp_path, _model(tmp_path, _class(attributes)))
    values = {n: i for i, n in enumerate(names)}
    used = _use(
        out,
        f"v = rtb_models.C.model_validate({values!r})\n"
        "out['fields'] = {f.alias or n: getattr(v, n) for n, f in type(v).model_fields.items()}\n",
    )
    assert {k: v for k, v in used["fields"].items() if k in values} == values


def test_classes_whose_page_names_meet_get_pages_of_their_own(tmp_path: Path) -> None:
    """``a/b``, ``a\\b`` and ``a_b`` make one file name, ``Foo``, ``foo`` and ``FOO`` one on a
    file system that ignores case; a 300-character name is longer than a file name may be. Each
    gets its own page, the index and the search link each to its own, and the schemas too."""
    classes = ["a/b", "a\\b", "a_b", "Foo", "foo", "FOO", "L" * 300, ".."]
    body = "".join(
        _class(f'<attribute name="a{i}"><dataType><long/></dataType></attribute>', name=c)
        for i, c in enumerate(classes)
    )
    body += '<enum name="e/x"><enumMember name="A"/></enum><enum name="e\\x"><enumMember name="B"/></enum>'
    out = _built(tmp_path, _model(tmp_path, body))
    pages = sorted((out / "docs" / "classes").iterdir())
    assert len(pages) == len(classes) == len({p.name.lower() for p in pages})
    assert all(len(p.name) <= 100 and not p.name.startswith(".") for p in pages)
    titles = {p.read_text(encoding="utf-8").split("<h1>")[1].split("</h1>")[0]: p.name for p in pages}
    assert sorted(titles) == sorted(classes)
    assert titles["a_b"] == "a_b.html" and titles["FOO"] == "FOO.html"  # a plain name keeps its page
    index = (out / "docs" / "index.html").read_text(encoding="utf-8")
    for title, page in titles.items():
        assert f'href="classes/{page}">{title}</a>' in index
        # each class's attribute is found by the search on its own page
        attribute = f"a{classes.index(title)}"
        assert f'"classes/{page}#{attribute}"' in index
    assert len(list((out / "docs" / "enums").iterdir())) == 2
    schemas = sorted(p.name.lower() for p in (out / "schemas").iterdir())
    assert len(schemas) == len(set(schemas)) == len(classes)
    again = tmp_path / "again"
    assert cli("build", tmp_path / "model_mp.xml", "-o", again).returncode == 0
    assert sorted(p.name for p in (again / "docs" / "classes").iterdir()) == [p.name for p in pages]


def test_long_and_non_ascii_mim_names_make_short_module_names(tmp_path: Path) -> None:
    mim = "Zellé" * 60
    path = tmp_path / "model_mp.xml"
    path.write_text(
        f'<models><mim name="{mim}" version="1" release="1"><enum name="E"><enumMember name="A"/></enum>'
        + _class('<attribute name="e"><dataType><enumRef name="E"/></dataType></attribute>')
        + "</mim></models>",
        encoding="utf-8",
    )
    out = _built(tmp_path, path)
    assert all(len(p.name.encode()) <= 100 for p in (out / "models" / "rtb_models").iterdir())
    assert _use(out)["C"] == "ok"


def test_a_pattern_rust_regex_cannot_read_is_checked_by_python_re(tmp_path: Path) -> None:
    """A back-reference and a GNU word start (``\\<``, a look-ahead in Python): Pydantic's default
    engine refused them when the model was first used; now they are enforced."""
    body = _class(
        '<attribute name="twice"><dataType><string><validValues>(ab)\\1</validValues></string></dataType></attribute>'
        '<attribute name="word"><dataType><sequence><string><validValues>\\&lt;x.*</validValues></string>'
        "</sequence></dataType></attribute>"
    )
    out = _built(tmp_path, _model(tmp_path, body))
    used = _use(
        out,
        "out['good'] = rtb_models.C.model_validate({'twice': 'abab', 'word': ['xy']}).twice\n"
        "for bad in ({'twice': 'abba'}, {'word': ['yx']}):\n"
        "    try:\n        rtb_models.C.model_validate(bad)\n        out.setdefault('accepted', []).append(bad)\n"
        "    except pydantic.ValidationError:\n        pass\n",
    )
    assert used["good"] == "abab" and "accepted" not in used


# -- 4. models of many fields: memory ------------------------------------------------------------


def _wide(count: int) -> str:
    return _class("".join(f'<attribute name="a{i}"><dataType><long/></dataType></attribute>' for i in range(count)))


MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "rtbfast.cli", "build", sys.argv[1], "-o", sys.argv[2]],
                      capture_output=True, text=True)
# the largest of the build's process and the processes it waited for (workers, the check)
print(json.dumps({"code": done.returncode, "stderr": done.stderr[-2000:],
                  "peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kilobytes on Linux")
def test_a_class_of_20000_attributes_builds_in_bounded_memory(tmp_path: Path) -> None:
    """20,000 attributes (1.3 MB): before, the build's peak was 1.06 GB (the whole class was one
    module of 60,000 field lines, and compiling a line takes about 15 KB); now each module holds
    at most a few thousand lines (~200 MB). The bound: 100 MB plus 15 KB an attribute."""
    count = 20_000
    model = _model(tmp_path, _wide(count))
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(model), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    measured = json.loads(done.stdout)
    assert measured["code"] == 0, measured["stderr"]
    bound = 100 * 2**20 + 15 * 1024 * count
    print(f"peak {measured['peak'] / 2**20:.0f} MB for {count} attributes (bound {bound / 2**20:.0f} MB)")
    assert measured["peak"] <= bound
    report = json.loads((tmp_path / "out" / REPORT).read_text())
    assert report["models"]["classes"] == 1
    module = max((tmp_path / "out" / "models" / "rtb_models").glob("*.py"), key=lambda p: p.stat().st_size)
    assert module.read_text(encoding="utf-8").count("Field(") <= 3 * _PART_FIELDS


def test_models_of_more_fields_than_a_part_keep_every_field_in_order(tmp_path: Path) -> None:
    """A class and a struct of 1,300 members (two parts each): every field, in the MOM's order,
    mandatory ones required at creation, ranges checked, the exclusive struct's rule kept."""
    count = _PART_FIELDS + 300
    members = "".join(f'<structMember name="m{i}"><long/></structMember>' for i in range(count))
    attributes = "".join(
        f'<attribute name="a{i}">{"<mandatory/>" if i == count - 1 else ""}<dataType><long>'
        f"{f'<range><min>0</min><max>{i}</max></range>' if i % 100 == 7 else ''}</long></dataType></attribute>"
        for i in range(count)
    )
    body = f'<struct name="Wide"><isExclusive/>{members}</struct>' + _class(
        attributes + '<attribute name="w"><dataType><structRef name="Wide"/></dataType></attribute>'
    )
    out = _built(tmp_path, _model(tmp_path, body))
    used = _use(
        out,
        "fields = list(rtb_models.CState.model_fields)\n"
        "out['order'] = fields[:3] + fields[-2:]\n"
        "out['count'] = len(fields)\n"
        f"out['value'] = rtb_models.C.model_validate({{'a{count - 2}': {count - 2}, 'w': {{'m{count - 1}': 5}}}})"
        ".model_dump(exclude_none=True)\n"
        "for bad in ({'a7': 8}, {'w': {'m0': 1, 'm1': 2}}, {'w': {}}):\n"
        "    try:\n        rtb_models.C.model_validate(bad)\n        out.setdefault('accepted', []).append(bad)\n"
        "    except pydantic.ValidationError:\n        pass\n",
    )
    assert used["count"] == count + 2
    assert used["order"] == ["CId", "a0", "a1", f"a{count - 1}", "w"]
    assert used["value"] == {f"a{count - 2}": count - 2, "w": {f"m{count - 1}": 5}}
    assert "accepted" not in used
    assert f"a{count - 1}" in used["CCreate"]  # the one mandatory attribute
    schema = json.loads((out / "schemas" / "C.json").read_text())
    assert len(schema["properties"]) == count + 2  # the set model: CId, a0.. and w


# -- 5. the check itself -------------------------------------------------------------------------


def _generated(tmp_path: Path, body: str) -> Any:
    model = _model(tmp_path, body)
    generated = generate(rtbfast.read_model(model).tables, tmp_path / "models")
    compile_generated(generated.package_dir)
    return model, generated


def test_the_check_finds_a_type_that_does_not_build_and_the_error_is_located(tmp_path: Path) -> None:
    """The enum member ``mro`` as rtbfast wrote it before (put back by hand in the generated
    module): the check names the enum, and the error line points at it in the model."""
    body = '<enum name="E"><enumMember name="mro"/><enumMember name="ok"/></enum>' + _class(
        '<attribute name="e"><dataType><enumRef name="E"/></dataType></attribute>'
    )
    model, generated = _generated(tmp_path, body)
    assert check(generated) is None
    module = next(p for p in generated.package_dir.glob("_types_m_*.py"))
    module.write_text(module.read_text().replace("mro_ = 'mro'", "mro = 'mro'"))
    problem = check(generated)
    assert problem is not None and (problem.kind, problem.mim, problem.name) == ("enum", "M", "E")
    assert "invalid enum member name" in problem.error
    err = generated_error(Sources({"M": model}), problem)
    assert str(err).startswith(f"{model}:3:1 (in models/mim[M]/enum[E]): the enum E of MIM M cannot be built")
    assert err.exit_code == 1


def test_the_check_finds_a_field_that_does_not_build_and_names_its_class(tmp_path: Path) -> None:
    _, generated = _generated(tmp_path, _class('<attribute name="a"><dataType><long/></dataType></attribute>'))
    generated.probes["Annotated[int | None, Checked(int, ge='not a number')]"] = ("CState", "M", "C", "a")
    problem = check(generated)
    assert problem is not None
    assert (problem.kind, problem.name, problem.member, problem.model) == ("class", "C", "a", "CState")


def test_the_check_names_what_it_was_building_when_its_process_died(tmp_path: Path) -> None:
    body = '<struct name="S"><structMember name="v"><long/></structMember></struct>' + _class(_struct_attribute("S"))
    _, generated = _generated(tmp_path, body)
    module = next(p for p in generated.package_dir.glob("_types_m_*.py"))
    module.write_text(
        module.read_text().replace("    class S(MoModel):", "    import os; os._exit(3)\n    class S(MoModel):")
    )
    compile_generated(generated.package_dir)
    problem = check(generated)
    assert problem is not None and (problem.kind, problem.name) == ("struct", "S")
    assert "exit code 3" in problem.error


def test_the_check_runs_in_every_build(tmp_path: Path) -> None:
    """Two enums of one shape (built once), a struct, and the class's distinct annotations: the
    key, the number, each type as an attribute (optional in all three models, the number also
    required at creation)."""
    enums = "".join(f'<enum name="{e}"><enumMember name="A"/><enumMember name="B"/></enum>' for e in ("E", "F"))
    struct = '<struct name="S"><structMember name="v"><long/></structMember></struct>'
    attributes = (
        '<attribute name="n"><mandatory/><dataType><long/></dataType></attribute>'
        '<attribute name="e"><dataType><enumRef name="E"/></dataType></attribute>'
        '<attribute name="f"><dataType><enumRef name="F"/></dataType></attribute>' + _struct_attribute("S")
    )
    out = _built(tmp_path, _model(tmp_path, enums + struct + _class(attributes)))
    report = json.loads((out / REPORT).read_text())
    # str | None (the key), int | None, int (n at creation), one enum annotation for E and F,
    # the struct
    assert report["models"]["checked"] == {"types": 2, "annotations": 5}
    assert "check" in report["timings_s"]
