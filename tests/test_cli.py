"""`rtbfast build` and `rtbfast inspect` as a user runs them: a real subprocess each."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import EXAMPLE_MODEL, rtbfast, samples_dir


def test_build_writes_catalog_and_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = rtbfast("build", EXAMPLE_MODEL, "-o", out)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads((out / "report.json").read_text())
    assert [i["kind"] for i in report["inputs"]] == ["mom"]
    for name, count in report["counts"].items():
        assert pq.read_table(out / f"{name}.parquet").num_rows == count
    assert report["counts"]["catalog/attributes"] == 17
    assert report["peak_rss_bytes"] > 0 and report["timings_s"]["read"] >= 0
    shown = rtbfast("inspect", out)
    assert shown.returncode == 0
    assert "catalog/attributes" in shown.stdout and "17" in shown.stdout


def test_build_of_an_export_writes_network(tmp_path: Path) -> None:
    export = tmp_path / "e.xml"
    export.write_text(
        '<bulkCmConfigDataFile xmlns:xn="genericNrm.xsd" xmlns:es="EricssonSpecificAttributes.1.1.xsd">'
        '<fileHeader fileFormatVersion="32.615 V4.5"/><configData><xn:SubNetwork id="S">'
        '<xn:VsDataContainer id="1"><xn:attributes><xn:vsDataType>vsDataX</xn:vsDataType>'
        "<es:vsDataX><es:a>1</es:a></es:vsDataX></xn:attributes></xn:VsDataContainer>"
        "</xn:SubNetwork></configData></bulkCmConfigDataFile>"
    )
    out = tmp_path / "out"
    run = rtbfast("build", export, "-o", out)
    assert run.returncode == 0, run.stderr
    assert pq.read_table(out / "network" / "mos.parquet").column("fdn").to_pylist() == [
        "SubNetwork=S",
        "SubNetwork=S,X=1",
    ]
    assert pq.read_table(out / "catalog" / "attributes.parquet").column("attribute").to_pylist() == ["a"]


def test_bad_input_exits_2_and_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert rtbfast("build", EXAMPLE_MODEL, "-o", out).returncode == 0
    before = (out / "report.json").read_text()
    bad = tmp_path / "bad.xml"
    bad.write_text("<models>\n  <mim name='x' version='1' release='1'>\n  <class name=")
    run = rtbfast("build", bad, "-o", out)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"{bad}:3:" in run.stderr and "malformed XML" in run.stderr
    assert (out / "report.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.xml", "out"], "nothing half-written is left"


def test_missing_input_and_non_output_folder(tmp_path: Path) -> None:
    run = rtbfast("build", tmp_path / "nope.xml", "-o", tmp_path / "o")
    assert run.returncode == 2 and "no such file" in run.stderr
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    run = rtbfast("build", EXAMPLE_MODEL, "-o", precious)
    assert run.returncode == 1 and "not an rtbfast output" in run.stderr
    assert (precious / "keep.txt").read_text() == "mine"
    # the folder inspect reads is its input: a foreign one is unreadable input (exit 2)
    run = rtbfast("inspect", precious)
    assert run.returncode == 2 and "not an rtbfast build" in run.stderr


def test_help_teaches() -> None:
    run = rtbfast("build", "--help")
    assert run.returncode == 0
    for word in ("INPUT", "bulkCmConfigDataFile", "report.json", "--progress", "--jobs"):
        assert word in run.stdout


@pytest.mark.samples
def test_jobs_change_the_speed_not_the_output(tmp_path: Path) -> None:
    model = samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml"
    outs = []
    for jobs in ("1", "3"):
        out = tmp_path / f"jobs{jobs}"
        run = rtbfast("build", model, "-o", out, "--jobs", jobs)
        assert run.returncode == 0, run.stderr
        outs.append(out)
    names = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*.parquet"))
    assert names == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*.parquet"))
    for name in names:
        assert pq.read_table(outs[0] / name).equals(pq.read_table(outs[1] / name)), name


def test_negative_jobs_is_a_usage_error(tmp_path: Path) -> None:
    run = rtbfast("build", EXAMPLE_MODEL, "-o", tmp_path / "out", "--jobs", "-1")
    assert run.returncode == 2
    assert "--jobs" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


WORKBOOK = EXAMPLE_MODEL.parent / "workbook"


def test_build_merges_the_workbook_and_reports_disagreements(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = rtbfast(
        "build",
        EXAMPLE_MODEL,
        "--workbook",
        WORKBOOK / "Spreadsheets_Parameters.csv",
        "--structs",
        WORKBOOK / "Spreadsheets_StructParameters.csv",
        "-o",
        out,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["workbook"]["records"] == {"parameters": 38, "struct_members": 3}
    assert report["workbook"]["unparsed_count"] == 0
    assert report["counts"]["catalog/attributes"] == pq.read_table(out / "catalog" / "attributes.parquet").num_rows
    sources = pq.read_table(out / "catalog" / "attributes.parquet").column("source").to_pylist()
    assert sources.count("mom") == 17 and sources.count("workbook") == 32
    assert {"table": "attributes", "key": ["EUtranCellFDD", "qRxLevMin"], "field": "default"}.items() <= next(
        d for d in report["disagreements"] if d["key"] == ["EUtranCellFDD", "qRxLevMin"]
    ).items()
    assert set(report["timings_s"]) >= {"read", "merge", "write", "total"}
    shown = rtbfast("inspect", out)
    assert "disagreements 2" in shown.stdout and "workbook" in shown.stdout


def test_structs_without_workbook_is_refused(tmp_path: Path) -> None:
    run = rtbfast("build", EXAMPLE_MODEL, "--structs", WORKBOOK / "Spreadsheets_StructParameters.csv", "-o", tmp_path)
    assert run.returncode == 2 and "--workbook" in run.stderr and "Traceback" not in run.stderr


def test_unchanged_inputs_skip_the_build(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert rtbfast("build", EXAMPLE_MODEL, "-o", out).returncode == 0
    report = (out / "report.json").read_bytes()
    again = rtbfast("build", EXAMPLE_MODEL, "-o", out)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert (out / "report.json").read_bytes() == report
    # the same content under another name is the same input; another option is not
    copy = tmp_path / "copy_mp.xml"
    copy.write_bytes(EXAMPLE_MODEL.read_bytes())
    assert "up to date" in rtbfast("build", copy, "-o", out).stdout
    changed = rtbfast("build", EXAMPLE_MODEL, "-o", out, "--layout", "single")
    assert changed.returncode == 0 and "up to date" not in changed.stdout
    assert (out / "models" / "rtb_models.py").is_file()
    forced = rtbfast("build", EXAMPLE_MODEL, "-o", out, "--layout", "single", "--force")
    assert "up to date" not in forced.stdout


def test_a_package_name_that_is_not_python_is_a_usage_error(tmp_path: Path) -> None:
    run = rtbfast("build", EXAMPLE_MODEL, "-o", tmp_path / "out", "--package", "my-models")
    assert run.returncode == 2 and "--package" in run.stderr and "Traceback" not in run.stderr


def test_the_readme_audit_example(tmp_path: Path) -> None:
    """The README's audit of the bundled export, with the bundled rules, as a user runs it."""
    out = tmp_path / "example"
    built = rtbfast(
        "build", EXAMPLE_MODEL, "--workbook", WORKBOOK / "Spreadsheets_Parameters.csv",
        "--structs", WORKBOOK / "Spreadsheets_StructParameters.csv", "-o", out,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    rules = EXAMPLE_MODEL.parent / "rules.csv"
    checked = rtbfast("rules", "check", rules, "--catalog", out)
    assert checked.returncode == 0 and "0 error(s)" in checked.stdout
    export = EXAMPLE_MODEL.parent / "enodeb_mini_export.xml"
    args: list[str | Path] = ["audit", export, "--catalog", out, "--rules", rules, "-o", tmp_path / "audit"]
    run = rtbfast(*args, "--at", "2026-11-27T12:00")
    assert run.returncode == 1, run.stderr  # the example breaks constraints on purpose
    found = {(r["subject"].rsplit("=", 1)[-1], r["attribute"] or "", r["rule"]) for r in
             pq.read_table(tmp_path / "audit" / "violations.parquet").to_pylist()}  # fmt: skip
    assert found == {
        ("LTE01-2", "earfcndl", "range"),
        ("LTE01-2", "qRxLevMin", "resolution"),
        ("LTE01-2", "sectorCarrierRef", "moref"),
        ("1", "eNBId", "range"),
        ("LTE01-1", "", "low-qrxlevmin"),
        ("LTE01-2", "", "low-qrxlevmin"),
        ("LTE01-2", "", "unlocked-in-day"),
        ("LTE02-1", "", "unlocked-in-day"),
        ("LTE02-1", "", "sector-carrier"),
    }
    # the page embeds every violation for its table (tests/test_html_reports.py drives it)
    page = (tmp_path / "audit" / "report.html").read_text()
    data = page.split("class=rt-data>", 1)[1].split("</script>", 1)[0]
    assert len(json.loads(data)["rows"]) == len(found) == 9


def test_audit_and_inspect_give_json_on_stdout(tmp_path: Path) -> None:
    """`--format json`: stdout is one JSON object (what audit.json and report.json hold),
    nothing else; the exit codes are those of the text form."""
    out = tmp_path / "built"
    assert rtbfast("build", EXAMPLE_MODEL, "-o", out).returncode == 0
    shown = rtbfast("inspect", out, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report == json.loads((out / "report.json").read_text())
    assert report["counts"]["catalog/attributes"] == 17
    export = EXAMPLE_MODEL.parent / "enodeb_mini_export.xml"
    audited = tmp_path / "audit"
    run = rtbfast("audit", export, "--catalog", out, "-o", audited, "--format", "json")
    assert run.returncode == 1, run.stderr  # the example breaks constraints on purpose
    summary = json.loads(run.stdout)
    written = json.loads((audited / "audit.json").read_text())
    assert summary["out"] == str(audited)
    assert {k: v for k, v in summary.items() if k != "out"} == written
    rows = pq.read_table(audited / "violations.parquet").num_rows
    assert summary["violations"] == rows > 0
    assert sum(summary["by_severity"].values()) == rows
    # a damaged folder: exit 2 and an error on stderr, stdout empty
    (out / "report.json").write_text("{")
    broken = rtbfast("inspect", out, "--format", "json")
    assert broken.returncode == 2 and broken.stdout == "" and "Traceback" not in broken.stderr
