"""The reference site: every page there, every local link resolving, the offline search index
complete, and the facts on a class page those of the catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import rtbfast
from rtbfast.catalog import merge
from rtbfast.codegen.docs import write_docs
from tests.conftest import EXAMPLE_MODEL, ROOT, samples_dir

WORKBOOK = ROOT / "examples" / "workbook"


def links_resolve(site: Path) -> int:
    checked = 0
    for page in site.rglob("*.html"):
        for href in re.findall(r'href="([^"#]+)', page.read_text(encoding="utf-8")):
            assert not href.startswith(("http:", "https:", "//")), (page, href)
            assert (page.parent / href).resolve().is_file(), (page, href)
            checked += 1
    return checked


def search_index(site: Path) -> list[list[str]]:
    text = (site / "index.html").read_text(encoding="utf-8")
    match = re.search(r"const INDEX = (\[.*?\]);\n", text, re.S)
    assert match, "the search index is in the page"
    entries: list[list[str]] = json.loads(match.group(1).replace("<\\/", "</"))
    return entries


def test_example_site(tmp_path: Path) -> None:
    model = rtbfast.read_model(EXAMPLE_MODEL)
    sheets = rtbfast.read_workbook(WORKBOOK / "Spreadsheets_Parameters.csv")
    catalog = merge([("mom", "mom:x", model.tables), ("workbook", "workbook:y", sheets.tables)])
    pages = write_docs(catalog.tables, tmp_path)
    assert pages == len(list(tmp_path.rglob("*.html")))
    assert links_resolve(tmp_path) > 20
    entries = search_index(tmp_path)
    names = {(kind, name) for kind, name, _, _ in entries}
    attributes = catalog.tables["attributes"].to_pylist()
    assert {("attribute", f"{a['class']}.{a['attribute']}") for a in attributes} <= names
    assert ("class", "EUtranCellFDD") in names and ("enum", "AdminState") in names
    for _, _, page, _ in entries:
        assert (tmp_path / page.split("#")[0]).is_file(), page
    cell = (tmp_path / "classes" / "EUtranCellFDD.html").read_text(encoding="utf-8")
    row = re.search(r'<tr id="earfcndl">(.*?)</tr>', cell, re.S)
    assert row and "0..17999, 46590..54339" in row.group(1) and "mandatory" in row.group(1)
    assert "Object unlocked." in row.group(1) and "administrativeState must equal LOCKED" not in row.group(1)
    assert 'href="../classes/ENodeBFunction.html"' in cell  # its parent
    assert 'href="../classes/SectorCarrier.html"' in cell  # a reference out
    assert "dBm &times; 0.1" in cell  # unit with the multiplication factor
    assert "<script" not in cell.replace("<script>const INDEX", "")


@pytest.mark.samples
def test_real_lte_site(tmp_path: Path) -> None:
    model = rtbfast.read_model(samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml")
    pages = write_docs(model.tables, tmp_path)
    counts = model.counts()
    assert pages == counts["classes"] + counts["enums"] + counts["structs"] + 1
    assert links_resolve(tmp_path) > 1000
    assert len(search_index(tmp_path)) == counts["classes"] + counts["attributes"] + counts["enums"] + counts["structs"]


def test_docs_written_by_a_second_process_are_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large catalog's docs are written by a second process while the models are made."""
    import rtbfast
    from rtbfast import pipeline
    from tests.conftest import EXAMPLE_MODEL

    rtbfast.build(EXAMPLE_MODEL, tmp_path / "one")
    monkeypatch.setattr(pipeline, "PARALLEL_DOCS_ROWS", 1)
    result = rtbfast.build(EXAMPLE_MODEL, tmp_path / "two", jobs=2)
    assert result.report["peak_rss_children_bytes"] > 0
    first = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one" / "docs").rglob("*.html"))
    second = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two" / "docs").rglob("*.html"))
    assert first == second and len(first) > 3
    for page in first:
        assert (tmp_path / "one" / page).read_bytes() == (tmp_path / "two" / page).read_bytes()
