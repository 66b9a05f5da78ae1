"""Typed templates (rtbfast's own format, YAML/TOML/JSON): read natively with lines and columns,
checked like RTB templates, variants by JSON Merge Patch (RFC 7386), export of any template
with metadata that reads back to the same tree, in every format."""

from __future__ import annotations

import json
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rtbfast
from rtbfast import _native
from rtbfast.catalog import merge
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import TemplateError
from rtbfast.rules import constraint_table
from rtbfast.templates.check import check_templates
from rtbfast.templates.formats import dump
from rtbfast.templates.tree import JsonObject, Number, parse_json, read_template, template_json
from rtbfast.templates.typed import (
    export_document,
    export_text,
    make_variants,
    merge_patch,
    read_typed,
    same_tree,
)
from tests.conftest import EXAMPLES, samples_dir
from tests.conftest import rtbfast as run_cli

TYPED = EXAMPLES / "templates"


@pytest.fixture(scope="module")
def example_catalog() -> CatalogView:
    model = rtbfast.read_model(EXAMPLES / "enodeb_mini_mp.xml")
    sheets = rtbfast.read_workbook(
        EXAMPLES / "workbook" / "Spreadsheets_Parameters.csv",
        EXAMPLES / "workbook" / "Spreadsheets_StructParameters.csv",
    )
    c = merge([("mom", "mom:example", model.tables), ("workbook", "workbook:example", sheets.tables)])
    return CatalogView(c.tables, constraint_table(c.tables))


YAML = """\
rtbfast: template/1
meta:
  name: t
  version: "1.0"
mos:
  EUtranCellFDD:
    qRxLevMin: -124
    UeMeasControl-1:
      ReportConfigEUtraBestCell-1:
        a3offset: 1.50
        timeToTriggerA3: 160
    additionalPlmnList:
      - {mcc: 240, mnc: 1}
"""
TOML = """\
rtbfast = "template/1"

[meta]
name = "t"
version = "1.0"

[mos.EUtranCellFDD]
qRxLevMin = -124
additionalPlmnList = [{ mcc = 240, mnc = 1 }]

[mos.EUtranCellFDD.UeMeasControl-1.ReportConfigEUtraBestCell-1]
a3offset = 1.50
timeToTriggerA3 = 160
"""


def test_the_three_syntaxes_read_to_one_tree(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(YAML)
    (tmp_path / "t.toml").write_text(TOML)
    as_json = json.dumps(yaml.safe_load(YAML))  # the same document as JSON (PyYAML reads it)
    (tmp_path / "t.json").write_text(as_json.replace("1.5", "1.50"))
    yaml_t, toml_t, json_t = (read_typed(tmp_path / f"t.{ext}") for ext in ("yaml", "toml", "json"))
    # TOML writes its tables' plain values first: the same MOs and values, another key order
    assert same_tree(yaml_t, json_t)
    assert sorted(map(str, yaml_t.mos())) != [] and len(list(yaml_t.mos())) == len(list(toml_t.mos())) == 3
    # the compiled RTB template keeps the number as written and is a template of its own
    compiled = template_json(yaml_t)
    first = parse_json(compiled)
    assert (
        '"a3offset": 1.50' in compiled and isinstance(first, list) and first[0] == JsonObject([("$meta", yaml_t.meta)])
    )
    # every node is located in the typed file
    a3 = next(m for m in yaml_t.mos() if m.cls == "ReportConfigEUtraBestCell")
    assert (a3.where.line, a3.where.column) == (
        9,
        7,
    ) and a3.where.path == "/mos/EUtranCellFDD/UeMeasControl-1/ReportConfigEUtraBestCell-1"
    t3 = next(m for m in toml_t.mos() if m.cls == "ReportConfigEUtraBestCell")
    assert t3.where.line == 11


@pytest.mark.parametrize(
    ("name", "text", "line", "says"),
    [
        ("a.yaml", "meta: {}\nmos: {}\n", 1, "rtbfast: template/1"),
        ("a.yaml", "rtbfast: template/1\nmoss: {}\n", 2, "did you mean mos"),
        ("a.yaml", "rtbfast: template/1\nmos:\n  Cell:\n    x: 1\n    x: 2\n", 5, "twice"),
        ("a.yaml", "rtbfast: template/1\nbase: &b {x: 1}\nmos:\n  Cell: *b\n", 4, "aliases"),
        ("a.yaml", "rtbfast: template/1\nmos: {}\nfragments: []\n", 3, "not both"),
        ("a.yaml", "rtbfast: template/1\nmos:\n  Cell:\n    bad key: 1\n", 4, "fits no grammar"),
        ("a.yaml", "rtbfast: template/1\nmos:\n  Cell: [1,\n", 4, ""),
        ("a.toml", 'rtbfast = "template/1"\n[mos.Cell]\nx = 1979-05-27\n', 3, "date-time"),
        ("a.toml", 'rtbfast = "template/1"\nx = 1\nx = 2\n', 3, "duplicate"),
        ("a.json", '{"rtbfast": "template/1", "mos": [1]}', 1, "mos is an object"),
        ("a.txt", "x", 0, "named *.yaml"),
    ],
)
def test_bad_typed_templates_are_located(tmp_path: Path, name: str, text: str, line: int, says: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TemplateError) as info:
        read_typed(path)
    assert info.value.line == line, str(info.value)
    assert says in str(info.value) and str(path) in str(info.value)


def test_typed_templates_are_checked_like_rtb_ones(tmp_path: Path, example_catalog: CatalogView) -> None:
    path = tmp_path / "motorway.yaml"
    path.write_text(
        "rtbfast: template/1\nmos:\n  EUtranCellFDD:\n    UeMeasControl-1:\n      ReportConfigEUtraBestCell-1:\n"
        "        a3offset: 30\n        hysteresisA3: 0.7\n      ReportConfigA5-1:\n        a5Threshhold1Rsrp: -115\n"
    )
    found = check_templates([path], example_catalog).findings.to_pylist()
    got = {(f["line"], f["column"], f["code"]) for f in found}
    # 30 dB is 300 raw, past 150; read as raw (3 dB) it fits: a likely unit mistake; 0.7 dB is
    # 7 raw, not a step of the resolution 5; the misspelt attribute has a did-you-mean
    assert got == {(6, 9, "unit"), (7, 9, "resolution"), (9, 9, "unknown_attribute")}
    unit = next(f for f in found if f["code"] == "unit")
    assert unit["path"] == "/mos/EUtranCellFDD/UeMeasControl-1/ReportConfigEUtraBestCell-1/a3offset"
    assert unit["suggestion"] == "write 3"
    assert next(f for f in found if f["code"] == "unknown_attribute")["suggestion"] == "a5Threshold1Rsrp"


# RFC 7386, Appendix A: (target, patch, result)
RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


def _obj(v: Any) -> Any:
    if isinstance(v, dict):
        return JsonObject([(k, _obj(x)) for k, x in v.items()])
    if isinstance(v, list):
        return [_obj(x) for x in v]
    return v


@pytest.mark.parametrize(("target", "patch", "result"), RFC7386)
def test_merge_patch_is_rfc_7386(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(_obj(target), _obj(patch)) == _obj(result)


def test_the_example_variants_pass_the_check(tmp_path: Path, example_catalog: CatalogView) -> None:
    overlays = [TYPED / "sleep_mode.yaml", TYPED / "motorway_mobility.yaml", TYPED / "urban_capacity.toml"]
    variants = make_variants(TYPED / "base_cell.yaml", overlays)
    assert [v.name for v in variants] == ["sleep-mode", "motorway-mobility", "urban-capacity"]
    sleep = variants[0].document.get("mos").get("EUtranCellFDD")  # type: ignore[union-attr]
    assert sleep.get("CellSleepFunction-1").get("sleepMode") == "ACTIVATED"  # type: ignore[union-attr]
    assert sleep.get("UeMeasControl-1").get("ReportConfigEUtraBestCell-1").get("a3offset") == Number("3.0")  # type: ignore[union-attr]
    motorway = variants[1].document.get("mos").get("EUtranCellFDD")  # type: ignore[union-attr]
    assert motorway.get("UeMeasControl-1").get("ReportConfigEUtraBestCell-1").get("a3offset") == Number("1.5")  # type: ignore[union-attr]
    out = tmp_path / "variants"
    run = run_cli(
        "templates",
        "variants",
        TYPED / "base_cell.yaml",
        *[a for o in overlays for a in ("--with", o)],
        "-o",
        out,
        "--catalog",
        _example_build(tmp_path),
        "--typed",
        "toml",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 variant(s) checked: 0 error(s)" in run.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        ".rtbfast-output.json",
        "motorway_mobility.json",
        "motorway_mobility.typed.toml",
        "sleep_mode.json",
        "sleep_mode.typed.toml",
        "urban_capacity.json",
        "urban_capacity.typed.toml",
    ]
    # each compiled variant is a plain RTB template; its typed form reads back to it
    for stem in ("sleep_mode", "motorway_mobility", "urban_capacity"):
        assert same_tree(read_template(out / f"{stem}.json"), read_typed(out / f"{stem}.typed.toml"))
    # the example folder itself (base and overlays) passes the check
    run = run_cli("templates", "check", TYPED, "--catalog", _example_build(tmp_path))
    assert run.returncode == 0 and "4 template(s)" in run.stderr and "0 error(s), 0 warning(s)" in run.stderr


def _example_build(tmp_path: Path) -> Path:
    out = tmp_path / "example"
    if not out.exists():
        run = run_cli(
            "build",
            EXAMPLES / "enodeb_mini_mp.xml",
            "--workbook",
            EXAMPLES / "workbook" / "Spreadsheets_Parameters.csv",
            "--structs",
            EXAMPLES / "workbook" / "Spreadsheets_StructParameters.csv",
            "-o",
            out,
            "--templates",
            TYPED,
        )
        assert run.returncode == 0, run.stderr
    return out


def test_build_writes_a_page_per_template(tmp_path: Path) -> None:
    out = _example_build(tmp_path)
    report = json.loads((out / "report.json").read_text())
    assert report["templates"] == {"templates": 4, "errors": 0, "warnings": 0, "pages": 5}
    pages = sorted(p.name for p in (out / "docs" / "templates").iterdir())
    assert pages == ["base_cell.html", "index.html", "motorway_mobility.html", "sleep_mode.html", "urban_capacity.html"]
    motorway = (out / "docs" / "templates" / "motorway_mobility.html").read_text()
    # each value with its unit and raw value, its class linked to the class page
    assert '<a href="../classes/ReportConfigEUtraBestCell.html">ReportConfigEUtraBestCell</a>' in motorway
    assert "<td>a3offset</td><td>1.5</td><td>dB</td><td>15</td>" in motorway
    assert 'href="templates/motorway_mobility.html"' in (out / "docs" / "index.html").read_text()


def test_defaults_make_a_template_that_passes(tmp_path: Path) -> None:
    out = _example_build(tmp_path)
    path = tmp_path / "defaults.yaml"
    run = run_cli(
        "templates",
        "defaults",
        "--catalog",
        out,
        "--class",
        "ReportConfigA5",
        "--class",
        "CellSleepFunction",
        "-o",
        path,
    )
    assert run.returncode == 0, run.stderr
    doc = yaml.safe_load(path.read_text())
    a5 = doc["mos"]["EUtranCellFDD"]["UeMeasControl"]["ReportConfigA5"]
    # defaults in engineering units: hysteresisA5 10 raw x 0.1 = 1 dB
    assert a5 == {"a5Threshold1Rsrp": -140, "a5Threshold2Rsrp": -136, "hysteresisA5": 1, "timeToTriggerA5": 640}
    assert doc["mos"]["EUtranCellFDD"]["CellSleepFunction"]["sleepStartTime"] == "02:00"
    run = run_cli("templates", "check", path, "--catalog", out)
    assert run.returncode == 0, run.stdout
    run = run_cli("templates", "defaults", "--catalog", out, "--class", "ReportConfigA6")
    assert run.returncode == 2 and "did you mean ReportConfigA5" in run.stderr


# -- export ---------------------------------------------------------------------------------------


@pytest.mark.samples
@pytest.mark.parametrize("fmt", ["json", "yaml", "toml"])
def test_every_real_template_exports_and_reads_back(fmt: str, tmp_path: Path) -> None:
    from tests.test_templates_real import READ_EXACTLY

    for name in READ_EXACTLY:
        template = read_template(samples_dir("rtb") / name)
        text = export_text(template, fmt)
        path = tmp_path / f"{Path(name).stem}.{fmt}"
        path.write_text(text, encoding="utf-8")
        assert same_tree(read_typed(path), template), name
        _independent_readers_agree(path, fmt)


def test_export_carries_units_raw_values_places_and_verdicts(tmp_path: Path, example_catalog: CatalogView) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            [
                {"$meta": {"version": "1"}},
                {
                    "EUtranCellFDD": {
                        "UeMeasControl-1": {"ReportConfigA5-1": {"hysteresisA5": "2.5", "timeToTriggerA5": "161"}}
                    }
                },
            ],
            indent=2,
        )
    )
    template = read_template(path)
    findings = check_templates([path], example_catalog).findings.to_pylist()
    doc = yaml.safe_load(export_text(template, "yaml", catalog=example_catalog, findings=findings))
    a5 = doc["fragments"][0]["EUtranCellFDD"]["UeMeasControl-1"]["ReportConfigA5-1"]
    assert a5["hysteresisA5"] == {"$value": "2.5", "$unit": "dB", "$raw": "25", "$at": "11:11"}
    assert a5["timeToTriggerA5"]["$verdict"] == [
        "error: range: ReportConfigA5.timeToTriggerA5: 161 is outside the allowed values"
    ]
    assert doc["source"] == {"file": str(path), "read_as": "RTB template"} and doc["findings"][0]["line"] == 12
    # the metadata is not read back: the same tree
    again = tmp_path / "again.yaml"
    again.write_text(export_text(template, "yaml", catalog=example_catalog, findings=findings))
    assert same_tree(read_typed(again), template)


def test_cli_export_of_an_expansion(tmp_path: Path) -> None:
    from bench.generate import write_export

    export = write_export(tmp_path / "net.xml", 0.05, cells=2, relations=1, rich=True)
    out = tmp_path / "expanded.yaml"
    run = run_cli(
        "templates",
        "export",
        TYPED / "base_cell.yaml",
        "--catalog",
        _example_build(tmp_path),
        "--network",
        export,
        "--targets",
        "NODE000000_0",
        "--to",
        "yaml",
        "-o",
        out,
    )
    assert run.returncode == 0, run.stderr
    doc = yaml.safe_load(out.read_text())
    cond = doc["fragments"][0]["$cond"]
    assert (
        cond["if"] == 'cell.dn == "SubNetwork-ROOT/MeContext-NODE000000/ManagedElement-NODE000000/'
        'ENodeBFunction-1/EUtranCellFDD-NODE000000_0"'
    )
    best = cond["then"][0]["EUtranCellFDD"]["UeMeasControl-1"]["ReportConfigEUtraBestCell-1"]
    assert best["a3offset"]["$value"] == "3" and best["a3offset"]["$raw"] == "30"


# -- property: export then read gives the same tree, in every format ----------------------------

_names = st.from_regex(r"[a-z][A-Za-z0-9]{0,8}", fullmatch=True)
_classes = st.from_regex(r"@?[A-Z][A-Za-z0-9]{0,8}(-(\*|[A-Za-z0-9_]{1,4}))?", fullmatch=True)
# numbers are drawn as ("number", text) and made Numbers after drawing: hypothesis keeps its
# choices as plain values
_numbers = st.from_regex(r"-?(0|[1-9][0-9]{0,12})(\.[0-9]{1,6})?([eE][-+]?[0-9]{1,2})?", fullmatch=True).map(
    lambda t: ("number", t)
)
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    [
        "yes",
        "no",
        "on",
        "~",
        "null",
        "0o17",
        "0x1F",
        "1e3",
        ".inf",
        "-.5",
        "",
        " x",
        "a: b",
        "#c",
        "'",
        '"',
        "\\",
        "__ignore__",
    ]
)
_scalars = _text | _numbers | st.booleans()
_structs = st.dictionaries(_names, _scalars | st.lists(_scalars, max_size=2), max_size=3)
_flat_structs = st.dictionaries(_names, _scalars, max_size=3)
# a value: a scalar, a struct, or a sequence of scalars or of structs (MOM values nest no deeper)
_values = _scalars | _structs | st.lists(_scalars, max_size=3) | st.lists(_flat_structs, max_size=2)


def _json(v: Any) -> Any:
    """A drawn value as the tree holds it: objects as JsonObject, numbers as Number."""
    if isinstance(v, tuple):
        return Number(v[1])
    if isinstance(v, dict):
        return JsonObject([(k, _json(x)) for k, x in v.items()])
    if isinstance(v, list):
        return [_json(x) for x in v]
    return v


@st.composite
def _mo_bodies(draw: st.DrawFn, depth: int = 0) -> JsonObject:
    pairs: list[tuple[str, Any]] = list(_json(draw(st.dictionaries(_names, _values, max_size=4))).pairs)
    if depth < 2:
        for cls in draw(st.lists(_classes, max_size=2, unique_by=lambda k: k.lstrip("@").split("-")[0])):
            if cls not in dict(pairs):
                pairs.append((cls, draw(_mo_bodies(depth + 1)) if draw(st.booleans()) else "__delete__"))
    if draw(st.booleans()):
        then = _json(draw(st.dictionaries(_names, _scalars, max_size=2)))
        pairs.append(
            ("$cond", JsonObject([("if", "cell.technology == 'LTE'"), ("then", then), ("else", "__ignore__")]))
        )
    return JsonObject(pairs)


@st.composite
def _templates(draw: st.DrawFn) -> list[Any]:
    meta = JsonObject([("version", draw(_text)), ("author", draw(st.none() | _text))])
    raw: list[Any] = [JsonObject([("$meta", meta)])]
    if draw(st.booleans()):
        raw.append(JsonObject([("$vars", _json(draw(st.dictionaries(_names, _values, max_size=3))))]))
    for cls in draw(st.lists(_classes.filter(lambda k: not k.startswith("@")), min_size=1, max_size=3)):
        raw.append(JsonObject([(cls, draw(_mo_bodies()))]))
    return raw


@settings(
    max_examples=int(os.environ.get("RTBFAST_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=_templates())
def test_export_then_read_is_the_same_tree_in_every_format(raw: list[Any], tmp_path: Path) -> None:
    rtb = tmp_path / "t.json"
    rtb.write_text(template_json(raw), encoding="utf-8")
    template = read_template(rtb)
    assert template.raw == raw
    for fmt in ("json", "yaml", "toml"):
        path = tmp_path / f"t.{fmt}"
        path.write_text(export_text(template, fmt), encoding="utf-8")
        assert same_tree(read_typed(path), template), (fmt, path.read_text())
        _independent_readers_agree(path, fmt)


def _plain(v: Any, number: Any) -> Any:
    """A value with every number made by `number` and {"$null": true} as None, for comparing
    what two readers give."""
    if isinstance(v, dict):
        if v == {"$null": True}:
            return None
        return {k: _plain(x, number) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x, number) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    return number(str(v))


def _independent_readers_agree(path: Path, fmt: str) -> None:
    """What rtbfast's native reader gives is what PyYAML / tomllib / json give (PyYAML reads
    numbers as binary floats: compared as floats)."""
    _, text, problem = _native.read_typed_document(path)
    assert problem is None and text is not None
    mine = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    source = path.read_text(encoding="utf-8")
    if fmt == "yaml":
        theirs = yaml.load(source, Loader=yaml.CSafeLoader)
        assert _plain(mine, float) == _plain(theirs, float)
        return
    theirs = tomllib.loads(source, parse_float=Decimal) if fmt == "toml" else json.loads(source, parse_float=Decimal)
    assert _plain(mine, Decimal) == _plain(theirs, Decimal)


def test_a_repeated_key_cannot_be_exported_to_yaml_or_toml(tmp_path: Path) -> None:
    doc = JsonObject([("rtbfast", "template/1"), ("meta", JsonObject([("a", "1"), ("a", "2")]))])
    for fmt in ("yaml", "toml"):
        with pytest.raises(ValueError, match="appears twice"):
            dump(doc, fmt)
    assert export_document(read_typed(TYPED / "base_cell.yaml"), metadata=False).get("rtbfast") == "template/1"
