"""``rtbfast plan`` as a user runs it: every file of the plan folder from a ChangeSet or from a
template expanded first, the summary, and the exits: 1 with every problem located when the
changes cannot be planned (and nothing written over a good plan), 2 for unreadable input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import rtbfast
from rtbfast.changeset import write_changeset
from rtbfast.enm import cmedit
from tests.conftest import one_line_error
from tests.conftest import rtbfast as run_cli
from tests.enm_fixtures import CELL, CELL1, ENB, Changes

FILES = {
    "plan.parquet",
    "plan.cmedit",
    "plan.dynamic.txt",
    "plan.3gpp.xml",
    "plan.mos",
    "rollback.parquet",
    "rollback.cmedit",
    "rollback.dynamic.txt",
    "rollback.3gpp.xml",
    "rollback.mos",
    "summary.md",
    "summary.html",
    "plan.json",
    ".rtbfast-output.json",
}


@pytest.fixture
def changes(tmp_path: Path) -> Path:
    c = (
        Changes()
        .add("set", CELL, "earfcndl", "500")
        .add("set", CELL, "qRxLevMin", "-120")
        .add("set", ENB, "eNBId", "7")  # restricted: refused
    )
    del c.rows[-1]
    c.add("create", f"{ENB},SectorCarrier=9").add("create", f"{ENB},SectorCarrier=9", "noOfTxAntennas", "2")
    c.add("set", CELL1, "userLabel", "north")
    path: Path = write_changeset(c.table(), tmp_path / "changes.parquet", {"by": "test"})
    return path


def test_plan_writes_every_dialect_its_rollback_and_a_summary(
    changes: Path, example_out: Path, export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    run = run_cli("plan", changes, "--catalog", example_out, "--network", export, "-o", out)
    assert run.returncode == 0, run.stderr
    assert {p.name for p in out.iterdir()} == FILES
    assert "step(s) on 3 MO(s)" in run.stderr and "1 lock" in run.stderr
    report = json.loads((out / "plan.json").read_text())
    assert report["made_from"]["changeset"] == str(changes) and report["commands"] == 5
    for line in (out / "plan.cmedit").read_text().splitlines():
        cmedit.parse_line(line)
    summary = (out / "summary.md").read_text()
    assert "## Locks" in summary and "EUtranCellFDD.earfcndl" in summary  # why the cell is locked
    assert "earfcndl" in summary.split("## When it takes effect")[1]  # "Object unlocked."
    assert "the plan's own lock" in summary
    html = (out / "summary.html").read_text()
    assert html.startswith("<!doctype html>") and "North" not in html and "NODE000000_0" in html
    back = rtbfast.read_network(out / "plan.3gpp.xml").tables
    assert f"{ENB},SectorCarrier=9" in back["mos"]["fdn"].to_pylist()


def test_plan_takes_a_template_and_expands_it_first(example_out: Path, export: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.json"
    template.write_text(
        json.dumps([{"$meta": {"name": "t"}}, {"EUtranCellFDD": {"qRxLevMin": -120, "cellRange": "KM_100"}}])
    )
    out = tmp_path / "plan"
    run = run_cli(
        "plan", template, "--targets", "NODE000000_*", "--catalog", example_out, "--network", export, "-o", out
    )
    assert run.returncode == 0, run.stderr
    lines = (out / "plan.cmedit").read_text().splitlines()
    assert len(lines) == 3, lines
    assert all("qRxLevMin=-120" in line for line in lines)
    # the glob takes the node's NR cells too, which have no EUtranCellFDD to change
    assert json.loads((out / "plan.json").read_text())["made_from"]["target_cells"] == 5
    one_line_error(run_cli("plan", template, "--catalog", example_out, "--network", export, "-o", out), 2, "--targets")
    template.write_text(json.dumps([{"EUtranCellFDD": {"cellRange": "KM_7"}}]))
    bad = run_cli(
        "plan", template, "--targets", "NODE000000_0", "--catalog", example_out, "--network", export, "-o", out
    )
    assert bad.returncode == 1 and f"{template}:1:" in bad.stderr and "KM_7" in bad.stderr
    assert (out / "plan.cmedit").read_text().splitlines() == lines  # the good plan is still there


def test_unplannable_changes_list_every_problem_and_write_nothing(
    example_out: Path, export: Path, tmp_path: Path
) -> None:
    c = (
        Changes()
        .add("set", ENB, "eNBId", "7")
        .add("set", CELL, "qRxLevMn", "-120")
        .add("set", f"{ENB},EUtranCellFDD=X", "tac", "1")
    )
    path = write_changeset(c.table(), tmp_path / "bad.parquet", {})
    out = tmp_path / "plan"
    run = run_cli("plan", path, "--catalog", example_out, "--network", export, "-o", out)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3 and "3 problem(s); nothing written" in run.stderr
    assert any("restricted" in e and "hand.json#/0" in e for e in errors)
    assert any("did you mean" in e.lower() and "qRxLevMin" in e for e in errors)
    assert any("does not exist" in e for e in errors)
    assert not out.exists() and not list(tmp_path.glob(".plan*"))


def test_unreadable_inputs_exit_2(example_out: Path, export: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    one_line_error(
        run_cli("plan", junk, "--catalog", example_out, "--network", export, "-o", tmp_path / "o"), 2, "junk.parquet"
    )
    one_line_error(
        run_cli("plan", tmp_path / "none.parquet", "--catalog", example_out, "--network", export, "-o", tmp_path / "o"),
        2,
        "no such file",
    )
    good = write_changeset(Changes().add("set", CELL, "qRxLevMin", "-120").table(), tmp_path / "c.parquet", {})
    one_line_error(run_cli("plan", good, "--catalog", tmp_path, "--network", export, "-o", tmp_path / "o"), 2)


def test_plan_of_a_template_loads_the_catalog_once(
    example_out: Path, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One catalog view for the expansion and the plan: the build folder is opened once."""
    from rtbfast import output_folder
    from rtbfast.enm.planning import plan_changes

    opened: list[Path] = []
    real = output_folder.open_catalog

    def counting(path: str | os.PathLike[str]) -> output_folder.CatalogFolder:
        opened.append(Path(path))
        return real(path)

    monkeypatch.setattr(output_folder, "open_catalog", counting)
    template = tmp_path / "t.json"
    template.write_text(json.dumps([{"EUtranCellFDD": {"qRxLevMin": -120}}]))
    planned = plan_changes(template, example_out, export, ["NODE000000_*"])
    assert opened == [example_out]
    assert planned.plan.steps.num_rows == 3
    assert planned.made_from["catalog"] == str(example_out)
