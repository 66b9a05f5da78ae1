"""``rtbfast diff-model`` through the real CLI, on a release pair made from the real LTE model
by the documented edits of :mod:`tests.model_releases`: one test per kind of change (each
edit's changes found, with their severity), nothing found that no edit made, and the impact on
a template and a ChangeSet written for the old release, located."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rtbfast.changeset import write_changeset
from rtbfast.model_diff import diff_models, load_release
from tests.conftest import one_line_error, samples_dir
from tests.conftest import rtbfast as run
from tests.enm_fixtures import Changes
from tests.model_releases import EDITS, Change, make_release

SEVERITY = {
    "class_added": "info",
    "class_removed": "breaking",
    "class_renamed": "breaking",
    "attribute_added": "info",
    "attribute_removed": "breaking",
    "attribute_renamed": "breaking",
    "type": "breaking",
    "range": "breaking",
    "default": "meaning",
    "unit": "meaning",
    "multiplication_factor": "meaning",
    "enum_member_removed": "breaking",
    "read_only": "breaking",
    "restricted": "breaking",
    "mandatory": "breaking",
    "lock_before_modify": "meaning",
    "takes_effect": "info",
    "cardinality": "breaking",
    "containment_added": "info",
    "containment_removed": "breaking",
}
"""The severity each kind of change the edits make should have (a narrowed range, a newly
mandatory attribute and a smaller maximum cardinality are breaking)."""

TEMPLATE = """[
  {"$meta": {"version": "1.0.0", "description": "cell settings written for the old release"}},
  {
    "EUtranCellFDD": {
      "qRxLevMin": "-140",
      "qQualMin": "-20",
      "administrativeState": "SHUTTING_DOWN",
      "tac": "12",
      "userLabel": "north",
      "noOfPucchSrUsers": "160",
      "Cdma2000FreqBandRelation-1": {"userLabel": "band 1"}
    }
  },
  {
    "EUtranCellFDD": {
      "qRxLevMin": "-100",
      "administrativeState": "LOCKED"
    }
  }
]
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("releases")
    old = samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml"
    new, made = make_release(old, folder / "ERBS_new_mp.xml", list(EDITS))
    template = folder / "cells.json"
    template.write_text(TEMPLATE, encoding="utf-8")
    cell = "SubNetwork=ROOT,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,EUtranCellFDD=N1_0"
    changes = Changes().add("set", cell, "pZeroNominalPusch", "-100").add("set", cell, "cellRange", "20")
    changeset = write_changeset(changes.table(), folder / "changes.parquet", {})
    out = folder / "diff"
    result = run("diff-model", old, new, "-o", out, "--templates", template, "--changes", changeset)
    return {"old": old, "new": new, "made": made, "out": out, "run": result, "template": template}


def _found(pair: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(pair["out"] / "changes.parquet").to_pylist()
    return rows


def test_the_run(pair: dict[str, Any]) -> None:
    result = pair["run"]
    assert result.returncode == 1, result.stderr  # something in the template breaks
    assert "Traceback" not in result.stderr
    report = json.loads((pair["out"] / "diff-model.json").read_text())
    assert report["changes"] == len(_found(pair))
    assert f"{report['changes']} change(s)" in result.stderr
    page = (pair["out"] / "diff-model.html").read_text()
    assert "probably renamed" in page and "<script src" not in page


def test_exactly_the_changes_the_edits_made(pair: dict[str, Any]) -> None:
    found = {(r["change"], r["class"], r["attribute"], r["member"]) for r in _found(pair)}
    assert found == set(pair["made"])


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_each_kind_of_change(pair: dict[str, Any], kind: str, tmp_path: Path) -> None:
    """Each edit alone, compared in process with the old release: its changes and only
    them, each with its severity."""
    new, made = make_release(pair["old"], tmp_path / "new_mp.xml", [kind])
    rows = diff_models(_old_view(pair["old"]), load_release(new)).to_pylist()
    assert {(r["change"], r["class"], r["attribute"], r["member"]) for r in rows} == set(made)
    for r in rows:
        assert r["severity"] == SEVERITY[r["change"]], r
        assert r["message"] and r["class"] in r["message"]
        assert "None" not in r["message"], r  # a value a release does not give reads "(none)"
    first: Change = made[0]
    shown = next(r for r in rows if (r["change"], r["class"], r["attribute"], r["member"]) == first)
    if kind == "class_renamed":
        assert (shown["old"], shown["new"]) == ("UtranTDDFreqRelation", "UtranTddFreqRelation")
    if kind == "attribute_renamed":
        assert (shown["old"], shown["new"]) == ("qQualMin", "qQualMinimum")
    if kind == "range":
        assert (shown["old"], shown["new"]) == ("-140..-44", "-130..-44")
    if kind == "cardinality":
        assert (shown["old"], shown["new"]) == ("0..8", "0..4")


_VIEWS: dict[Path, Any] = {}


def _old_view(path: Path) -> Any:
    if path not in _VIEWS:
        _VIEWS[path] = load_release(path)
    return _VIEWS[path]


def test_the_same_release_has_no_change(pair: dict[str, Any]) -> None:
    assert diff_models(_old_view(pair["old"]), _old_view(pair["old"])).num_rows == 0


def test_what_breaks_in_the_template_and_the_changeset(pair: dict[str, Any]) -> None:
    impacts = pq.read_table(pair["out"] / "impacts.parquet").to_pylist()
    template = str(pair["template"])
    lines = TEMPLATE.splitlines()

    def at(path: str) -> list[dict[str, Any]]:
        return [r for r in impacts if r["template"] == template and r["path"] == path]

    cell = "/1/EUtranCellFDD"
    for key, change, severity in (
        ("qRxLevMin", "range", "breaking"),  # -140 is below the new -130
        ("qQualMin", "attribute_renamed", "breaking"),
        ("administrativeState", "enum_member_removed", "breaking"),  # SHUTTING_DOWN is gone
        ("tac", "unit", "meaning"),
        ("userLabel", "read_only", "breaking"),
        ("Cdma2000FreqBandRelation-1", "class_removed", "breaking"),
    ):
        rows = at(f"{cell}/{key}")
        assert rows and rows[0]["severity"] == severity, (key, rows)
        assert change in {c for r in rows for c in r["change"].split(",")}, (key, rows)
        # located: the line holds the key
        line, column = rows[0]["line"], rows[0]["column"]
        assert f'"{key}"' in lines[line - 1] and lines[line - 1].index(f'"{key}"') == column - 1, (key, line, column)
    # untouched: a value still inside the narrowed range, an enum member that stays, an
    # attribute no edit changed
    assert not at("/2/EUtranCellFDD/qRxLevMin") and not at("/2/EUtranCellFDD/administrativeState")
    assert not at(f"{cell}/noOfPucchSrUsers")
    # the ChangeSet's rows, placed by their source
    mine = {(r["attribute"], r["change"]) for r in impacts if r["template"].endswith("changes.parquet")}
    assert ("pZeroNominalPusch", "multiplication_factor") in mine
    assert any(a == "cellRange" and "restricted" in c for a, c in mine)
    report = json.loads((pair["out"] / "diff-model.json").read_text())
    assert report["impacts"] == {
        s: sum(1 for r in impacts if r["severity"] == s) for s in {r["severity"] for r in impacts}
    }


def test_bad_inputs_are_one_located_line(pair: dict[str, Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken_mp.xml"
    broken.write_text(pair["new"].read_text(encoding="utf-8")[:200000], encoding="utf-8")
    one_line_error(run("diff-model", pair["old"], broken, "-o", tmp_path / "o"), 2, "broken_mp.xml")
    one_line_error(run("diff-model", pair["old"], tmp_path / "none.xml", "-o", tmp_path / "o"), 2, "none.xml")
    one_line_error(
        run("diff-model", pair["old"], pair["new"], "-o", tmp_path / "o", "--templates", str(tmp_path / "*.nope")),
        2,
        "no file matches",
    )
    bad = tmp_path / "bad.json"
    bad.write_text('[{"EUtranCellFDD": {"qRxLevMin": }}]')
    # a template that does not read: said, located, the others judged, exit 2
    unread = run("diff-model", pair["old"], pair["new"], "-o", tmp_path / "o", "--templates", bad, "--templates",
                 pair["template"])  # fmt: skip
    assert unread.returncode == 2 and "Traceback" not in unread.stderr, unread.stderr
    assert f"error: {bad}:1:" in unread.stderr and "(not judged)" in unread.stderr
    assert "7 key(s) or value(s) break" in unread.stderr or "key(s) or value(s) break" in unread.stderr
    notparquet = tmp_path / "c.parquet"
    notparquet.write_text("x")
    one_line_error(
        run("diff-model", pair["old"], pair["new"], "-o", tmp_path / "o", "--changes", notparquet), 2, "c.parquet"
    )
    assert pa is not None


def test_a_build_folder_against_an_mp_xml_release(tmp_path: Path) -> None:
    """A release may be a build folder: the bundled example built, against its model with
    qRxLevMin's range narrowed."""
    from tests.conftest import EXAMPLE_MODEL

    built = run("build", EXAMPLE_MODEL, "-o", tmp_path / "built")
    assert built.returncode == 0, built.stderr
    text = EXAMPLE_MODEL.read_text(encoding="utf-8")
    assert text.count("<min>-140</min>") == 1
    new = tmp_path / "new_mp.xml"
    new.write_text(text.replace("<min>-140</min>", "<min>-130</min>"), encoding="utf-8")
    result = run("diff-model", tmp_path / "built", new, "-o", tmp_path / "d")
    assert result.returncode == 1 and "1 change(s): 1 breaking" in result.stderr, result.stderr
    (row,) = pq.read_table(tmp_path / "d" / "changes.parquet").to_pylist()
    assert (row["change"], row["class"], row["attribute"], row["old"], row["new"]) == (
        "range",
        "EUtranCellFDD",
        "qRxLevMin",
        "-140..-44",
        "-130..-44",
    )
