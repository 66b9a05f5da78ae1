"""The real RTB templates (``../shared/samples/rtb``): read with full fidelity, written back as the
same JSON, and checked against the real LTE model with the real workbook subset. Every finding
below was checked by hand against the template, the model and the workbook."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

import pytest

import rtbfast
from rtbfast.catalog import merge
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import TemplateError
from rtbfast.rules import constraint_table
from rtbfast.templates.check import check_templates
from rtbfast.templates.tree import parse_json, read_template, template_json
from tests.conftest import rtbfast as run_cli
from tests.conftest import samples_dir

pytestmark = pytest.mark.samples

TEMPLATES = [
    "audit_qci_5qi_with_LU.json",
    "audit_slicing.json",
    "autoroute.json",
    "cluster_jo_2024_creation.json",
    "pmr_vpn_start_4.json",
    "pmr_vpn_stop.json",
    "slicing_FWA_sansCUCPTzable2_24Q3_v1.1.1.json",
]
"""The seven real templates (``lbo_rtb.json`` beside them is a flat node export, not a template)."""
READ_EXACTLY = [*TEMPLATES, "lbo_rtb.json"]
"""Every real RTB file: each reads, writes back as the same JSON and exports (the node export's
``"MeContextId": "…"`` is a naming attribute, not a class)."""


@pytest.fixture(scope="module")
def real_catalog() -> CatalogView:
    """The LTE model (ERBS D) with the parameter workbook's RAN subset and its struct sheet."""
    samples = samples_dir("mom").parent
    model = rtbfast.read_model(samples / "mom" / "ERBS_NODE_MODEL_D_full_mp.xml")
    sheets = rtbfast.read_workbook(
        samples / "csv" / "Spreadsheets_Parameters.ran-subset.csv",
        samples / "csv" / "Spreadsheets_StructParameters.ran-subset.csv",
    )
    catalog = merge([("mom", "mom:erbs", model.tables), ("workbook", "workbook:ran", sheets.tables)])
    return CatalogView(catalog.tables, constraint_table(catalog.tables))


def _path(name: str) -> Path:
    return samples_dir("rtb") / name


def _mo_keys(value: Any) -> int:
    """MO keys counted independently of rtbfast: an upper-case key (optionally @-flagged)
    holding an object or "__delete__", anywhere in the JSON."""
    count = 0
    if isinstance(value, dict):
        for k, v in value.items():
            if re.match(r"@?[A-Z]", k) and (isinstance(v, dict) or v == "__delete__"):
                count += 1
            count += _mo_keys(v)
    elif isinstance(value, list):
        count += sum(_mo_keys(v) for v in value)
    return count


def _ordered(text: str) -> Any:
    """JSON as nested lists of pairs: equal only if keys, order and values are."""
    return json.loads(text, object_pairs_hook=lambda pairs: ("obj", pairs))


@pytest.mark.parametrize("name", READ_EXACTLY)
def test_real_templates_read_and_write_back_the_same_json(name: str) -> None:
    path = _path(name)
    text = path.read_text(encoding="utf-8")
    template = read_template(path)
    written = template_json(template)
    assert _ordered(written) == _ordered(text)  # keys, order and values
    assert parse_json(written) == parse_json(text)  # and the text of every number
    # every MO the JSON holds is a node of the tree
    assert len(list(template.mos())) == _mo_keys(json.loads(text))
    # every node is located: its line holds its key
    lines = text.splitlines()
    for mo in template.mos():
        assert mo.where.line > 0
        assert f'"{mo.key}"' in lines[mo.where.line - 1], (mo.key, mo.where)


def test_the_key_grammar_on_real_keys() -> None:
    from rtbfast import _native

    assert _native.parse_template_key("@EUtranFreqRelation-*") == ("mo", "EUtranFreqRelation", True, "wildcard", [])
    assert _native.parse_template_key("QciProfileOperatorDefined-130") == (
        "mo",
        "QciProfileOperatorDefined",
        False,
        "id",
        ["130"],
    )
    # ids may hold '-': the class ends at the first '-'
    assert _native.parse_template_key("ResourcePartitionMember-PMR-1") == (
        "mo",
        "ResourcePartitionMember",
        False,
        "id",
        ["PMR-1"],
    )
    assert _native.parse_template_key("DU5qi-{1,2,9}") == ("mo", "DU5qi", False, "list", ["1", "2", "9"])
    assert _native.parse_template_key("a5Threshold1Rsrp") == ("attribute", "a5Threshold1Rsrp")
    assert _native.parse_template_key("$plans") == ("directive", "plans")
    with pytest.raises(ValueError):
        _native.parse_template_key("Bad Key")


# the findings of the real templates, as (file, line, column, severity, code); infos (dynamic
# parts, clears the catalog cannot judge) aside
EXPECTED = {
    # the custom function set_parameters_with_lock_unlock calls eval(): the sandbox refuses to
    # compile it (expansion says so, as an error), found at the body's line that calls it
    ("audit_qci_5qi_with_LU.json", 98, 11, "error", "refused"),
    # ResourcePartitionMember is an NR class neither the ERBS D model nor the workbook subset has
    ("audit_slicing.json", 310, 11, "error", "unknown_class"),
    ("audit_slicing.json", 345, 11, "error", "unknown_class"),
    ("audit_slicing.json", 575, 11, "error", "unknown_class"),
    # db.noria: the operator's database, listed as unsupported, not an error
    ("cluster_jo_2024_creation.json", 115, 9, "warning", "unsupported"),
    ("pmr_vpn_start_4.json", 42, 9, "warning", "unsupported"),
    ("pmr_vpn_start_4.json", 157, 23, "error", "unknown_class"),
    ("pmr_vpn_stop.json", 30, 9, "warning", "unsupported"),
    ("pmr_vpn_stop.json", 149, 23, "error", "unknown_class"),
    ("slicing_FWA_sansCUCPTzable2_24Q3_v1.1.1.json", 394, 13, "error", "unknown_class"),
    ("slicing_FWA_sansCUCPTzable2_24Q3_v1.1.1.json", 428, 13, "error", "unknown_class"),
    ("slicing_FWA_sansCUCPTzable2_24Q3_v1.1.1.json", 536, 11, "error", "unknown_class"),
    # partitionMappingId is restricted (workbook): only a create may set it
    ("slicing_FWA_sansCUCPTzable2_24Q3_v1.1.1.json", 584, 13, "warning", "restricted"),
}


def test_real_template_findings_are_the_hand_checked_ones(real_catalog: CatalogView) -> None:
    paths = [_path(n) for n in TEMPLATES]
    result = check_templates(paths, real_catalog)
    found = result.findings.to_pylist()
    shown = {
        (Path(f["template"]).name, f["line"], f["column"], f["severity"], f["code"])
        for f in found
        if f["severity"] != "info"
    }
    assert shown == EXPECTED
    by_key = {(Path(f["template"]).name, f["line"]): f for f in found}
    unknown = by_key[("audit_slicing.json", 310)]
    assert "did you mean ResourcePartitionGroupMember" in unknown["message"]
    assert unknown["suggestion"] == "ResourcePartitionGroupMember-1"
    assert (
        unknown["path"]
        == "/2/GNBCUUPFunction/ResourcePartitions-1/ResourcePartition-Transport/ResourcePartitionMember-1"
    )
    # the values of all templates are judged, none is wrong; the dynamic parts are listed
    assert result.values_checked > 600
    codes = collections.Counter((f["severity"], f["code"]) for f in found)
    assert codes[("info", "dynamic")] == 139
    # networkId cleared with "__unset__"/"": the workbook does not say whether it may be unset
    clears = [f for f in found if f["code"] == "clear"]
    assert {(Path(f["template"]).name, f["line"]) for f in clears} == {
        ("audit_slicing.json", 610),
        ("audit_slicing.json", 621),
        ("slicing_FWA_sansCUCPTzable2_24Q3_v1.1.1.json", 570),
        ("slicing_FWA_sansCUCPTzable2_24Q3_v1.1.1.json", 582),
    }
    assert all(f["severity"] == "info" and "networkId" in f["message"] for f in clears)


def test_the_flat_node_export_is_a_stress_input(real_catalog: CatalogView) -> None:
    """lbo_rtb.json: one instance of each of 573 classes with raw values, as exported. Not a
    template: its findings show what the checks catch at scale."""
    path = _path("lbo_rtb.json")
    result = check_templates([path], real_catalog)
    found = result.findings.to_pylist()
    codes = collections.Counter(f["code"] for f in found if f["severity"] != "info")
    assert codes["read_only"] == 151 and codes["unit"] == 128 and codes["structure"] == 0
    at = {(f["line"], f["code"]): f for f in found}
    assert "EUtranCellRelation.amoState is read-only" in at[(91, "read_only")]["message"]
    # raw values in an engineering-unit place: both readings given, the raw one suggested
    tilt = at[(131, "unit")]
    assert "minTotalTilt -250" in tilt["message"] and tilt["suggestion"] == "write -25"
    # "MeContextId": "…" is a naming attribute holding a value: read as an attribute
    template = read_template(path)
    (me_context,) = [mo for mo in template.mos() if mo.cls == "MeContext"]
    assert [getattr(e, "name", None) for e in me_context.body or []] == ["MeContextId", "neType"]
    assert me_context.where.line == 3938


def test_the_synthetic_invalid_template_is_rejected_located(real_catalog: CatalogView, tmp_path: Path) -> None:
    path = samples_dir("rtb") / "synthetic-invalid" / "rtb_template_with_logic.json"
    result = check_templates([path], real_catalog)
    (finding,) = result.findings.to_pylist()
    assert (finding["severity"], finding["code"], finding["line"], finding["column"]) == ("error", "json", 482, 3)
    assert "close brace" in finding["message"]
    with pytest.raises(TemplateError) as info:
        read_template(path)
    assert (info.value.line, info.value.column) == (482, 3)
    run = run_cli("templates", "check", path, "--catalog", samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"{path}:482:3: error: json:" in run.stdout
    run = run_cli("templates", "export", path)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and ":482:3:" in run.stderr


def test_the_cli_checks_against_a_model_alone_as_json() -> None:
    """Against the ERBS D model without the workbook, what newer releases added is unknown:
    the class SubscriberGroupProfile and four attributes (the workbook has them): exit 1,
    and the JSON form is an object: the summary, and every finding with its place."""
    model = samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml"
    run = run_cli("templates", "check", _path("autoroute.json"), "--catalog", model, "--format", "json")
    assert run.returncode == 1, run.stderr
    document = json.loads(run.stdout)
    findings: list[dict[str, Any]] = document["findings"]
    assert collections.Counter(f["code"] for f in findings) == {
        "dynamic": 12,
        "unknown_class": 1,
        "unknown_attribute": 4,
    }
    unknown = next(f for f in findings if f["code"] == "unknown_class")
    assert (unknown["line"], unknown["column"], unknown["path"]) == (
        122,
        7,
        "/3/ENodeBFunction/SubscriberGroupProfile-VOLTE",
    )
    assert set(unknown) == {"template", "path", "line", "column", "severity", "code", "message", "suggestion"}
    summary = document["summary"]
    assert (summary["errors"], summary["warnings"], summary["infos"], summary["unknown_names"]) == (5, 0, 12, 5)
    assert summary["catalog_release"] == "ERBS_NODE_MODEL_D 1.120 (R20D01)"
    (one,) = summary["files"]
    assert one["hint"] is None  # 5 unknown names: too few to say the release is the cause


def test_lbo_rtb_against_the_erbs_model_says_the_release_is_the_likely_cause() -> None:
    """lbo_rtb.json was exported from a 24.Q3 node (ManagedElement.swVersion); the bundled LTE
    model is ERBS D (2012). Most errors are unknown names: the check says the template
    probably targets another release, naming both; the naming attributes written the ECIM
    way (eUtranCellRelationId) are matched to the model's CPP spelling, not called unknown."""
    model = samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml"
    run = run_cli("templates", "check", _path("lbo_rtb.json"), "--catalog", model, "--format", "json")
    assert run.returncode == 1, run.stderr
    document = json.loads(run.stdout)
    (one,) = document["summary"]["files"]
    assert (one["release"], one["release_said"]) == ("24.Q3", "ManagedElement.swVersion")
    assert one["unknown_names"] * 2 > one["errors"] and one["matched_spellings"] > 0
    hint = one["hint"]
    assert "probably targets another release" in hint
    assert "24.Q3 (ManagedElement.swVersion)" in hint and "ERBS_NODE_MODEL_D 1.120 (R20D01)" in hint
    assert f"{one['unknown_names']:,} of the {one['errors']:,} errors" in hint
    # every finding counted, not only those listed
    assert document["summary"]["errors"] == one["errors"] > len(document["findings"])
    # no naming attribute is unknown for its case: eUtranCellRelationId is EUtranCellRelationId
    said = " ".join(f["message"] for f in document["findings"])
    assert "no attribute eUtranCellRelationId" not in said
    messages = [
        f["message"] for f in document["findings"] if f["code"] == "unknown_attribute" and f["path"]
    ]  # the listed ones (the count of the others is said at the file's start)
    for m in messages:
        match = re.match(r"(\w+) has no attribute (\w+)", m)
        assert match is not None
        cls, name = match.groups()
        assert name.lower() != f"{cls.lower()}id", m
