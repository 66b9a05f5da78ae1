"""Template fidelity and model-version awareness, on the example model and export (the real
templates are in ``test_templates_real.py``):

- a naming attribute spelled like a class (``"MeContextId": "NODE1"``) is an attribute;
- a naming attribute in the other MIM family's case spelling is the catalog's attribute;
- a template whose errors are mostly unknown names gets the release hint, naming both
  releases; every template gets a summary line, and ``--format json`` an object;
- ``--target-class`` targets any MO class; NbIotCell is a cell;
- a create of a system-created MO is an error in ``templates expand`` and ``plan``, and
  ``plan TEMPLATE`` says the expansion's warnings as ``templates expand`` does;
- what the template's code did wrong is said in the template's terms.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import rtbfast
from rtbfast import _native
from rtbfast.catalog import merge
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import InputError
from rtbfast.rules import constraint_table
from rtbfast.templates.check import LISTED, check_templates
from rtbfast.templates.expand import expand, read_network_index
from rtbfast.templates.sandbox import Limits, Meter, Sandbox, Stop, compile_expression, compile_function
from rtbfast.templates.tree import Attribute, Mo, read_template, template_json
from tests.conftest import EXAMPLE_EXPORT, EXAMPLE_MODEL, EXAMPLES
from tests.conftest import rtbfast as run_cli

WORKBOOK = EXAMPLES / "workbook"


@pytest.fixture(scope="module")
def catalog() -> CatalogView:
    """The example model with its workbook (the catalog `rtbfast build` makes of them)."""
    model = rtbfast.read_model(EXAMPLE_MODEL)
    sheets = rtbfast.read_workbook(
        WORKBOOK / "Spreadsheets_Parameters.csv", WORKBOOK / "Spreadsheets_StructParameters.csv"
    )
    c = merge([("mom", "mom:example", model.tables), ("workbook", "workbook:example", sheets.tables)])
    return CatalogView(c.tables, constraint_table(c.tables))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "example"
    run = run_cli(
        "build", EXAMPLE_MODEL, "--workbook", WORKBOOK / "Spreadsheets_Parameters.csv",
        "--structs", WORKBOOK / "Spreadsheets_StructParameters.csv", "-o", out,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return out


def _write(tmp_path: Path, name: str, template: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    return path


def _findings(result: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = result.findings.to_pylist()
    return found


# -- a naming attribute spelled like a class ----------------------------------------------------------


def test_the_key_grammar_reads_a_naming_attribute_holding_a_value_as_an_attribute() -> None:
    assert _native.parse_template_key("MeContextId", True) == ("attribute", "MeContextId")
    assert _native.parse_template_key("MeContextId") == ("mo", "MeContextId", False, "none", [])
    # a class key holding a value is still an MO key (its shape is the flattener's to judge)
    assert _native.parse_template_key("MeContext", True) == ("mo", "MeContext", False, "none", [])


def test_a_naming_attribute_spelled_like_a_class_reads_round_trips_and_checks(
    tmp_path: Path, catalog: CatalogView
) -> None:
    template = [
        {"$meta": {"version": "1.0.0", "description": "naming attributes"}},
        {
            "ManagedElement": {"ManagedElementId": "LTE01", "ENodeBFunction": {"ENodeBFunctionId": "1", "eNBId": 7}},
            "EUtranCellFDD": {"EUtranCellFDDId": "LTE01-1", "qRxLevMin": -120},
        },
    ]
    path = _write(tmp_path, "naming.json", template)
    read = read_template(path)
    assert template_json(read) == path.read_text(encoding="utf-8")
    kinds = {
        (type(e).__name__, getattr(e, "name", getattr(e, "cls", None))) for mo in read.mos() for e in mo.body or []
    }
    assert ("Attribute", "ManagedElementId") in kinds and ("Attribute", "EUtranCellFDDId") in kinds
    assert ("Mo", "ENodeBFunction") in kinds
    assert [mo.cls for mo in read.mos()] == ["ManagedElement", "ENodeBFunction", "EUtranCellFDD"]
    assert all(isinstance(e, (Attribute, Mo)) for mo in read.mos() for e in mo.body or [])
    result = check_templates([path], catalog)
    found = _findings(result)
    assert not [f for f in found if f["code"] in ("structure", "unknown_class", "unknown_attribute")], found
    # the naming attribute is judged as a value: one row per naming attribute
    assert result.values_checked == 5


def test_a_naming_attribute_key_holding_an_object_is_still_a_class(tmp_path: Path, catalog: CatalogView) -> None:
    path = _write(tmp_path, "object.json", [{"$meta": {}}, {"EUtranCellFDD": {"EUtranCellFDDId": {"qRxLevMin": 1}}}])
    (unknown,) = [f for f in _findings(check_templates([path], catalog)) if f["severity"] == "error"]
    assert unknown["code"] == "unknown_class" and "EUtranCellFDDId" in unknown["message"]


# -- CPP and ECIM case spellings ------------------------------------------------------------------------


def test_naming_attributes_match_across_cpp_and_ecim_spellings(tmp_path: Path, catalog: CatalogView) -> None:
    """The example model writes EUtranCellFDDId (CPP); a template written for an ECIM node
    writes eUtranCellFDDId: the same attribute, judged as the catalog's."""
    assert "EUtranCellFDDId" in catalog.attributes["EUtranCellFDD"]
    assert "eUtranCellFDDId" not in catalog.attributes["EUtranCellFDD"]
    path = _write(
        tmp_path,
        "ecim.json",
        [{"$meta": {}}, {"EUtranCellFDD": {"eUtranCellFDDId": "LTE01-1", "sectorCarrierId": "1", "qRxLevMin": -120}}],
    )
    result = check_templates([path], catalog)
    found = _findings(result)
    unknown = [f for f in found if f["code"] == "unknown_attribute"]
    # the naming attribute is matched; an attribute that only ends in Id is not renamed
    assert [f["attribute"] for f in unknown] == ["sectorCarrierId"]
    (summary,) = result.summaries
    assert summary["matched_spellings"] == 1 and summary["unknown_names"] == 1


def test_a_templates_spellings_are_matched_whatever_is_checked_with_it(tmp_path: Path, catalog: CatalogView) -> None:
    """A naming attribute is matched in a template where it fits every class the template
    writes it on, not where it fits every template checked with it: another template writing
    eUtranCellFDDId where EUtranCellFDDId is no attribute either changes nothing here."""
    assert "EUtranCellFDDId" not in catalog.attributes["ENodeBFunction"]
    cell = _write(tmp_path, "cell.json", [{"$meta": {}}, {"EUtranCellFDD": {"eUtranCellFDDId": "LTE01-1"}}])
    other = _write(tmp_path, "other.json", [{"$meta": {}}, {"ENodeBFunction": {"eUtranCellFDDId": "1"}}])
    alone = check_templates([cell], catalog)
    both = check_templates([cell, other], catalog)
    assert _findings(alone) == [f for f in _findings(both) if f["template"] == str(cell)]
    assert alone.summaries[0] == both.summaries[0] and both.summaries[0]["matched_spellings"] == 1
    # the other template's is not matched: its class has no attribute of either spelling
    (unknown,) = [f for f in _findings(both) if f["code"] == "unknown_attribute"]
    assert unknown["template"] == str(other) and unknown["attribute"] == "eUtranCellFDDId"
    assert both.checked == [alone.checked[0], 1] and both.summaries[1]["matched_spellings"] == 0


# -- the release hint and the summaries ----------------------------------------------------------------


def _unknowns(n: int, prefix: str = "zzUnknown") -> dict[str, int]:
    return {f"{prefix}{i}": i for i in range(n)}


def test_mostly_unknown_names_give_the_release_hint_naming_both_releases(tmp_path: Path, catalog: CatalogView) -> None:
    newer = _write(
        tmp_path,
        "newer.json",
        [{"$meta": {"version": "1.0.0", "release": "24.Q3"}}, {"EUtranCellFDD": _unknowns(12)}],
    )
    result = check_templates([newer], catalog)
    (summary,) = result.summaries
    hint = summary["hint"]
    assert hint is not None and "12 of the 12 errors" in hint and "probably targets another release" in hint
    assert "24.Q3 ($meta.release)" in hint and "EXAMPLE_NODE_MODEL 1.3 (A1)" in hint
    assert result.catalog_release == "EXAMPLE_NODE_MODEL 1.3 (A1)"
    assert (summary["release"], summary["release_said"]) == ("24.Q3", "$meta.release")
    assert (summary["errors"], summary["warnings"], summary["unknown_names"]) == (12, 0, 12)
    # said of the file: the findings are the unknown names, nothing more
    assert {f["code"] for f in _findings(result)} == {"unknown_attribute"}


@pytest.mark.parametrize(
    ("meta_text", "found"),
    [
        ('{"version": "1.0.0", "release": "24.Q3"}', ("24.Q3", "release")),
        ('{"nodeRelease": "L23B"}', ("L23B", "nodeRelease")),
        ('{"SW_RELEASE": 23}', ("23", "SW_RELEASE")),
        ('{"\\u0072elease": "24.Q1"}', ("24.Q1", "release")),  # a key spelled with an escape
        ('{"version": "1.0.0", "description": "release 24.Q3 of the retune"}', None),  # only in a value
        ('{"version": "1.0.0"}', None),
        ('{"release": ""}', None),
        ("[1, 2]", None),
        ("{not json", None),
    ],
)
def test_a_meta_release_is_found_by_its_key_however_the_text_spells_it(
    meta_text: str, found: tuple[str, str] | None
) -> None:
    from rtbfast.templates.release import _meta_release

    assert _meta_release(meta_text) == found


def test_the_release_is_read_from_managed_element_or_the_file_name(tmp_path: Path, catalog: CatalogView) -> None:
    exported = _write(
        tmp_path,
        "node.json",
        [{"$meta": {}}, {"ManagedElement": {"release": "23.Q4", "ENodeBFunction": _unknowns(11)}}],
    )
    named = _write(tmp_path, "slicing_24Q3_v1.json", [{"$meta": {}}, {"EUtranCellFDD": _unknowns(10)}])
    undeclared = _write(tmp_path, "plain.json", [{"$meta": {"version": "2.0.0"}}, {"EUtranCellFDD": _unknowns(10)}])
    result = check_templates([exported, named, undeclared], catalog)
    by_file = {Path(s["template"]).name: s for s in result.summaries}
    node, sliced, plain = by_file["node.json"], by_file["slicing_24Q3_v1.json"], by_file["plain.json"]
    assert (node["release"], node["release_said"]) == ("23.Q4", "ManagedElement.release")
    assert (sliced["release"], sliced["release_said"]) == ("24.Q3", "the file name")
    assert (plain["release"], plain["release_said"]) == (None, None)
    assert "23.Q4 (ManagedElement.release)" in node["hint"] and "24.Q3 (the file name)" in sliced["hint"]
    assert "the template declares no release" in plain["hint"]


def test_releases_sifted_in_one_pass_are_those_each_text_declares() -> None:
    """declared_releases reads only the ``$meta`` texts and file names a vectorized RE2 pass
    keeps: what it finds is what reading every one of them finds (names, cases and escapes
    mixed, Unicode digits and case folding among them)."""
    import os
    import random

    import pyarrow as pa

    from rtbfast.templates.release import IN_NAME, _meta_release, declared_releases

    rng = random.Random(18)
    keys = [
        "release",
        "RELEASE",
        "nodeRelease",
        "node_version",
        "swVersion",
        "mim",
        "Model",
        "version",
        "\u017fwVersion",
    ]
    keys += ["\\u0072elease", "name", "K", "re lease"]
    values = ["24.Q3", "", "23.Q4 ", "1", "x"]
    names = ["a_24Q3_v1", "24.Q3", "x124Q3", "plain", "٢٤Q3", "24Q5", "24q3", "v24Q31", "n/24Q3", "24.Q1x"]
    metas, files = [], []
    for i in range(400):
        pairs = [f'"{rng.choice(keys)}": "{rng.choice(values)}"' for _ in range(rng.randrange(3))]
        metas.append(rng.choice([None, "{" + ", ".join(pairs) + "}", "[1]", "{bad"]))
        files.append(f"/t/{rng.choice(['d', 'e.f'])}/{rng.choice(names)}_{i}.json")
    tables = {
        "files": pa.table({"meta": pa.array(metas, pa.string())}),
        "values": pa.table({"template": pa.array([], pa.int32())}),
        "mos": pa.table({"class": pa.array([], pa.string())}),
    }
    expected = {}
    for i, meta in enumerate(metas):
        if (found := _meta_release(meta)) is not None:
            expected[i] = (found[0], f"$meta.{found[1]}")
    for i, f in enumerate(files):
        if i not in expected and (m := IN_NAME.search(os.path.basename(f))):
            expected[i] = (f"{m[1]}.{m[2]}", "the file name")
    got = {i: (d.release, d.said) for i, d in declared_releases(files, tables).items()}
    assert got == expected
    assert {said for _, said in got.values()} >= {
        "the file name",
        "$meta.release",
        "$meta.RELEASE",
        "$meta.\u017fwVersion",
    }


def test_no_hint_when_unknown_names_are_few_or_not_most(tmp_path: Path, catalog: CatalogView) -> None:
    few = _write(tmp_path, "few.json", [{"$meta": {"release": "24.Q3"}}, {"EUtranCellFDD": _unknowns(9)}])
    # 10 unknown names and 11 values out of range: not most of the errors
    mixed = _write(
        tmp_path,
        "mixed.json",
        [
            {"$meta": {}},
            {"EUtranCellFDD": _unknowns(10)},
            *({f"EUtranCellFDD-x{i}": {"qRxLevMin": 5}} for i in range(11)),
        ],
    )
    result = check_templates([few, mixed], catalog)
    by_file = {Path(s["template"]).name: s for s in result.summaries}
    assert by_file["few.json"]["unknown_names"] == 9 and by_file["few.json"]["hint"] is None
    assert by_file["mixed.json"]["unknown_names"] == 10 and by_file["mixed.json"]["errors"] > 20
    assert by_file["mixed.json"]["hint"] is None


def test_summaries_count_every_finding_listed_or_not(tmp_path: Path, catalog: CatalogView) -> None:
    many = LISTED + 50
    path = _write(tmp_path, "many.json", [{"$meta": {}}, {"EUtranCellFDD": _unknowns(many)}])
    result = check_templates([path], catalog)
    found = _findings(result)
    listed = [f for f in found if f["code"] == "unknown_attribute"]
    assert len(listed) == LISTED + 1
    assert [f["message"] for f in listed if "more" in f["message"]] == [
        f"and 50 more unknown_attribute finding(s) in this template, not listed (the first {LISTED} of a kind are)"
    ]
    (summary,) = result.summaries
    assert summary["errors"] == many == result.errors and summary["unknown_names"] == many
    assert summary["values"] == many


def test_the_cli_prints_a_summary_line_per_file_and_json_is_an_object(tmp_path: Path, built: Path) -> None:
    newer = _write(tmp_path, "newer.json", [{"$meta": {"release": "24.Q3"}}, {"EUtranCellFDD": _unknowns(12)}])
    fine = _write(tmp_path, "fine.json", [{"$meta": {}}, {"EUtranCellFDD": {"qRxLevMin": -120}}])
    run = run_cli("templates", "check", newer, fine, "--catalog", built)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    said = f"{newer}: 12 error(s), 0 warning(s), 12 value(s), 12 unknown name(s), release 24.Q3 ($meta.release)"
    assert said in lines
    assert any(x.startswith(f"{newer}: note: 12 of the 12 errors are names the catalog does not know") for x in lines)
    assert f"{fine}: 0 error(s), 0 warning(s), 1 value(s)" in lines
    assert lines[-1].startswith("2 template(s), 13 values judged against EXAMPLE_NODE_MODEL 1.3 (A1): 12 error(s)")
    run = run_cli("templates", "check", newer, fine, "--catalog", built, "--format", "json")
    assert run.returncode == 1
    document = json.loads(run.stdout)
    assert set(document) == {"summary", "findings"}
    summary = document["summary"]
    assert (summary["templates"], summary["errors"], summary["warnings"], summary["unknown_names"]) == (2, 12, 0, 12)
    assert "24.Q3" in summary["files"][0]["hint"] and summary["files"][1]["hint"] is None
    assert summary["catalog_release"] == "EXAMPLE_NODE_MODEL 1.3 (A1)"
    assert [Path(f["template"]).name for f in summary["files"]] == ["newer.json", "fine.json"]
    assert len([f for f in document["findings"] if f["severity"] == "error"]) == 12


# -- target classes --------------------------------------------------------------------------------------

NB_IOT = (
    '   <xn:VsDataContainer id="NB1"><xn:attributes><xn:vsDataType>vsDataNbIotCell</xn:vsDataType>\n'
    "    <xn:vsDataFormatVersion>EricssonSpecificAttributes.17.28</xn:vsDataFormatVersion>\n"
    "    <es:vsDataNbIotCell><es:cellId>7</es:cellId><es:earfcndl>6300</es:earfcndl></es:vsDataNbIotCell>"
    "</xn:attributes></xn:VsDataContainer>\n"
)


@pytest.fixture(scope="module")
def nb_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example export with an NbIotCell beside LTE02's cell."""
    text = EXAMPLE_EXPORT.read_text(encoding="utf-8")
    anchor = '   <xn:VsDataContainer id="LTE02-1">'
    assert text.count(anchor) == 1
    path: Path = tmp_path_factory.mktemp("nb") / "export.xml"
    path.write_text(text.replace(anchor, NB_IOT + anchor), encoding="utf-8")
    return path


def test_nbiot_cells_are_cells_and_any_class_can_be_targeted(
    tmp_path: Path, catalog: CatalogView, nb_export: Path
) -> None:
    network = read_network_index(nb_export)
    probe = _write(
        tmp_path,
        "probe.json",
        [
            {"$meta": {"version": "1.0.0"}},
            {"ENodeBFunction": {"$cond": {"if": "cell.technology == 'NB-IoT' and cell.cell_id == 2000000 * 256 + 7",
                                          "then": {"eNBId": 5}}}},
        ],
    )  # fmt: skip
    # the six cell classes stay the default: the NbIotCell is not one of them, and the error says how
    with pytest.raises(InputError) as info:
        expand(probe, catalog, network, ["NB1"])
    assert "1 NbIotCell" in str(info.value) and "--target-class NbIotCell" in str(info.value)
    default = expand(probe, catalog, network, ["*"])
    assert len(default.targets) == 3 and not any("NbIotCell" in t for t in default.targets)
    # targeted, it is a cell: its technology and its ECI (eNBId * 256 + cellId)
    nb = expand(probe, catalog, network, ["*"], target_classes=["NbIotCell"])
    assert [t.rsplit(",", 1)[-1] for t in nb.targets] == ["NbIotCell=NB1"]
    assert [(r["op"], r["fdn"].rsplit(",", 2)[-2:], r["value"]) for r in nb.changes.to_pylist()] == [
        ("set", ["ManagedElement=LTE02", "ENodeBFunction=1"], "5")
    ]
    # any class: the SectorCarrier MOs, and their own attributes set
    sc = _write(tmp_path, "sc.json", [{"$meta": {}}, {"SectorCarrier": {"noOfTxAntennas": 2}}])
    result = expand(sc, catalog, network, ["*"], target_classes=["SectorCarrier"])
    assert [(r["op"], r["fdn"].rsplit(",", 1)[-1], r["attribute"], r["value"]) for r in result.changes.to_pylist()] == [
        ("set", "SectorCarrier=1", "noOfTxAntennas", "2")
    ]
    assert not result.errors


def test_the_cli_targets_a_class_in_expand_and_plan(tmp_path: Path, built: Path) -> None:
    sc = _write(tmp_path, "sc.json", [{"$meta": {}}, {"SectorCarrier": {"noOfTxAntennas": 2}}])
    out = tmp_path / "changes.parquet"
    args: list[str | Path] = ["--catalog", built, "--network", EXAMPLE_EXPORT, "--targets", "*"]
    run = run_cli("templates", "expand", sc, *args, "--target-class", "SectorCarrier", "-o", out)
    assert run.returncode == 0, run.stderr
    assert "1 target(s): 1 row(s) (0 create, 1 set, 0 delete)" in run.stderr
    planned = run_cli("plan", sc, *args, "--target-class", "SectorCarrier", "-o", tmp_path / "plan")
    assert planned.returncode == 0, planned.stderr
    cmedit = (tmp_path / "plan" / "plan.cmedit").read_text()
    assert "SectorCarrier=1" in cmedit and "noOfTxAntennas=2" in cmedit
    unknown = run_cli("templates", "expand", sc, *args[:-1], "*,SectorCarrier=*", "-o", out)
    assert unknown.returncode == 2 and "--target-class SectorCarrier" in unknown.stderr


# -- one severity in expand and plan ---------------------------------------------------------------------


def test_a_create_of_a_system_created_mo_is_an_error_in_expand_and_plan(tmp_path: Path, built: Path) -> None:
    """CellSleepFunction is created by the node (the example workbook says so): the example
    export holds the one the node made, CellSleepFunction=1, under each cell; a second one is a
    create the node refuses."""
    assert "CellSleepFunction" in CatalogView.load(built).system_created
    path = _write(
        tmp_path,
        "create.json",
        [{"$meta": {}}, {"EUtranCellFDD": {"CellSleepFunction-2": {"sleepMode": "DEACTIVATED"}}}],
    )
    args: list[str | Path] = ["--catalog", built, "--network", EXAMPLE_EXPORT, "--targets", "LTE01-1"]
    expanded = run_cli("templates", "expand", path, *args, "-o", tmp_path / "c.parquet")
    planned = run_cli("plan", path, *args, "-o", tmp_path / "plan")
    said = [line for line in expanded.stdout.splitlines() if ": system_created: " in line]
    assert said and all(": error: system_created: CellSleepFunction" in line for line in said)
    assert expanded.returncode == 1 and planned.returncode == 1
    assert set(said) <= set(planned.stderr.splitlines())
    assert not (tmp_path / "plan").exists()


def test_what_plan_refuses_is_an_error_of_expand_too(tmp_path: Path, built: Path) -> None:
    """eNBId is restricted (only a create may set it) and pmRrcConnEstabSucc is a counter the
    catalog's constraints do not hold: ``plan`` refuses both, so ``templates expand`` says both
    as errors, in the same lines, and writes no ChangeSet."""
    path = tmp_path / "refused.json"
    path.write_text(
        '[{"$meta": {}},\n {"ENodeBFunction": {"eNBId": 7}, "EUtranCellFDD": {"pmRrcConnEstabSucc": 3}}]\n',
        encoding="utf-8",
    )
    args: list[str | Path] = ["--catalog", built, "--network", EXAMPLE_EXPORT, "--targets", "LTE02-1"]
    expanded = run_cli("templates", "expand", path, *args, "-o", tmp_path / "c.parquet")
    planned = run_cli("plan", path, *args, "-o", tmp_path / "plan")
    assert expanded.returncode == 1 and planned.returncode == 1
    said = [line for line in expanded.stdout.splitlines() if line.startswith(f"{path}:")]
    assert [line.split(": ")[1:3] for line in said] == [["error", "restricted"], ["error", "unknown_attribute"]]
    assert f"{path}:2:22: error: restricted: ENodeBFunction: eNBId is restricted" in said[0]
    assert set(said) <= set(planned.stderr.splitlines())
    assert not (tmp_path / "c.parquet").exists() and not (tmp_path / "plan").exists()


def test_plan_of_a_template_says_the_expansion_warnings(tmp_path: Path, built: Path) -> None:
    path = tmp_path / "repeated.json"
    path.write_text('[{"$meta": {}},\n {"EUtranCellFDD": {"qRxLevMin": -120, "qRxLevMin": -118}}]\n', encoding="utf-8")
    args: list[str | Path] = ["--catalog", built, "--network", EXAMPLE_EXPORT, "--targets", "LTE02-1"]
    expanded = run_cli("templates", "expand", path, *args, "-o", tmp_path / "c.parquet")
    assert expanded.returncode == 0, expanded.stderr
    warned = [line for line in expanded.stdout.splitlines() if ": warning: " in line]
    assert warned and any("duplicate_key" in line for line in warned)
    planned = run_cli("plan", path, *args, "-o", tmp_path / "plan")
    assert planned.returncode == 0, planned.stderr
    assert set(warned) <= set(planned.stdout.splitlines())


# -- in the template's terms ------------------------------------------------------------------------------

PYTHON_WORDS = re.compile(
    r"NoneType|Error\b|Error:|Exception|Traceback|subscriptable|object of type|'(str|int|float|dict|list|tuple)'"
    r"|Eval calls|Exec calls|RestrictedPython|statements are not allowed|invalid variable name"
)

FAILING = [
    ("None[0]", "error", "nothing (null) cannot be indexed"),
    ("None.x", "refused", "x is not a method a template may call on nothing (null)"),
    ("len(None)", "error", "nothing (null) has no length"),
    ("1 + 'a'", "error", "+ cannot combine a whole number and text"),
    ("'a' + 1", "error", "+ cannot join text and a whole number"),
    ("'a' < 1", "error", "< cannot compare text and a whole number"),
    ("missing", "error", "missing is not defined"),
    ("{}['k']", "error", "no key 'k' in the object"),
    ("[][3]", "error", "an index past the end"),
    ("int('x')", "error", "'x' is not a whole number"),
    ("1 / 0", "error", "division by zero"),
    ("-'a'", "error", "- cannot apply to text"),
    ("None()", "error", "nothing (null) cannot be called"),
    ("for i in None:\n    pass", "error", "nothing (null) cannot be looped over"),
    ("eval('1')", "refused", "eval() is not allowed in a template"),
    ("exec('1')", "refused", "exec() is not allowed in a template"),
    ("1 +", "error", "syntax error: invalid syntax"),
    ("return 1", "error", "syntax error: 'return' outside a function"),
    ("await x", "refused", "await is not allowed in a template"),
    ("'{0}'.format(1)", "refused", "format is not a method a template may call on text"),
    ("''.__class__", "refused", "__class__ starts with '_'"),
    ("round('a')", "error", "round() cannot take text"),
    ("[1].sort(key=1)", "error", "a whole number cannot be called"),
]


@pytest.mark.parametrize(("code", "kind", "said"), FAILING, ids=[c for c, _, _ in FAILING])
def test_what_the_code_did_wrong_is_said_in_the_template_terms(code: str, kind: str, said: str) -> None:
    meter = Meter(Limits())
    meter.start_target()
    with pytest.raises(Stop) as info:
        Sandbox(meter, {}).run(compile_expression(code))
    assert info.value.kind == kind
    assert said in info.value.message, info.value.message
    assert not PYTHON_WORDS.search(info.value.message), info.value.message


def test_custom_function_refusals_and_check_findings_speak_the_template_terms(
    tmp_path: Path, catalog: CatalogView, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Stop) as info:
        compile_function("f", ["a"], ["return eval(a)"])
    assert info.value.message == "eval() is not allowed in a template: write the expression itself"
    with pytest.raises(Stop) as info:
        compile_function("f", ["a", "a"], ["return a"])
    assert info.value.message.startswith("syntax error: an argument is named twice")
    path = _write(
        tmp_path,
        "code.json",
        [
            {"$meta": {}},
            {"$custom": [{"name": "f", "args": ["a"], "body": ["return eval(a)"]}]},
            {"EUtranCellFDD": {"qRxLevMin": {"$eval": "None(1)"}, "userLabel": {"$eval": "x = "}}},
        ],
    )
    found = [f for f in _findings(check_templates([path], catalog)) if f["severity"] != "info"]
    assert {f["code"] for f in found} == {"refused", "syntax"}, found
    for f in found:
        assert not PYTHON_WORDS.search(f["message"]), f["message"]
    # the compiler's warnings ("'NoneType' object is not callable; perhaps you missed a comma?")
    # never reach stderr
    assert "NoneType" not in capfd.readouterr().err


def test_expansion_says_a_failing_expression_in_the_template_terms(tmp_path: Path, built: Path) -> None:
    path = _write(
        tmp_path,
        "failing.json",
        [{"$meta": {}}, {"EUtranCellFDD": {"qRxLevMin": {"$eval": "[None][0][0]"}}}],
    )
    run = run_cli(
        "templates", "expand", path, "--catalog", built, "--network", EXAMPLE_EXPORT, "--targets", "LTE02-1",
        "-o", tmp_path / "c.parquet",
    )  # fmt: skip
    assert run.returncode == 1
    text = run.stdout + run.stderr
    assert ": error: error: " in text
    assert not PYTHON_WORDS.search(text), text
