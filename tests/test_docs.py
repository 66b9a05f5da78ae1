"""The reference site: every page there, every local link resolving, the offline search index
complete, and the facts on a class page those of the catalog."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from lxml import etree

import rtbfast
from rtbfast.catalog import merge
from rtbfast.codegen.docs import write_docs
from tests.conftest import EXAMPLE_MODEL, ROOT, samples_dir

WORKBOOK = ROOT / "examples" / "workbook"


def links_resolve(site: Path) -> int:
    checked = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        # offline: nothing loaded from anywhere (no CDN, no script or style file, no font)
        assert not re.search(r"\ssrc=|<link|@import|url\(", text), page
        for href in re.findall(r'href="([^"#]+)', text):
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
    kinds = {a["is_counter"]: "counter" if a["is_counter"] else "attribute" for a in attributes}
    assert {(kinds[a["is_counter"]], f"{a['class']}.{a['attribute']}") for a in attributes} <= names
    assert ("counter", "EUtranCellFDD.pmRrcConnEstabSucc") in names
    assert ("class", "EUtranCellFDD") in names and ("enum", "AdminState") in names
    for _, _, page, _ in entries:
        assert (tmp_path / page.split("#")[0]).is_file(), page
    cell = (tmp_path / "classes" / "EUtranCellFDD.html").read_text(encoding="utf-8")
    row = re.search(r'<tr id="earfcndl"[^>]*>(.*?)</tr>', cell, re.S)
    assert row and "0..17999, 46590..54339" in row.group(1) and "mandatory" in row.group(1)
    assert "Object unlocked." in row.group(1) and "administrativeState must equal LOCKED" not in row.group(1)
    assert 'href="../classes/ENodeBFunction.html"' in cell  # its parent
    assert 'href="../classes/SectorCarrier.html"' in cell  # a reference out
    assert "dBm &times; 0.1" in cell  # unit with the multiplication factor
    assert " src=" not in cell and "<link" not in cell  # the filter's script is in the page


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


# -- the counts on the index, counters apart from configuration, the search and the filter in a browser

REAL_MODEL = "ERBS_NODE_MODEL_D_full_mp.xml"
KINDS = ["class", "enum", "struct", "attribute", "counter", "template"]
NOUNS = {"classes": ("class", "classes"), "enums": ("enum", "enums"), "structs": ("struct", "structs")}


@pytest.fixture(scope="module")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example") / "out"
    rtbfast.build(
        EXAMPLE_MODEL,
        out,
        workbook=WORKBOOK / "Spreadsheets_Parameters.csv",
        structs=WORKBOOK / "Spreadsheets_StructParameters.csv",
        templates=sorted((ROOT / "examples" / "templates").iterdir()),
    )
    return out


@pytest.fixture(scope="module")
def real_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real LTE model with the real workbook sheets: classes, enums and structs of one name
    in several MIMs (the case where the index once said 358 classes and report.json 367)."""
    mom, csv = samples_dir("mom"), samples_dir("csv")
    out = tmp_path_factory.mktemp("real") / "out"
    rtbfast.build(
        mom / REAL_MODEL,
        out,
        workbook=csv / "Spreadsheets_Parameters.ran-subset.csv",
        structs=csv / "Spreadsheets_StructParameters.ran-subset.csv",
        templates=sorted(samples_dir("rtb").glob("*.json")),
    )
    return out


def read_rows(build: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(build / "catalog" / f"{table}.parquet").to_pylist()
    return rows


def index_counts(site: Path) -> tuple[dict[str, int], dict[str, int], str]:
    """The counts the index states: in its data attributes, in its words, and its notes."""
    text = (site / "index.html").read_text(encoding="utf-8")
    match = re.search(r'<p id="counts" ([^>]*)>(.*?)</p>(<ul[^>]*id="count-notes">.*?</ul>)?', text, re.S)
    assert match, "the index states its counts"
    data = {k: int(v) for k, v in re.findall(r'data-(\w+)="(\d+)"', match.group(1))}
    words = re.match(
        r"([\d,]+) class(?:es)?, ([\d,]+) attributes? "
        r"\(([\d,]+) configuration attributes? and ([\d,]+) PM counters?\), "
        r"([\d,]+) enums? and ([\d,]+) structs?:",
        match.group(2),
    )
    assert words, match.group(2)
    numbers = [int(n.replace(",", "")) for n in words.groups()]
    said = dict(zip(["classes", "attributes", "configuration", "counters", "enums", "structs"], numbers, strict=True))
    return data, said, html.unescape(re.sub(r"<[^>]+>", "", match.group(3) or ""))


def check_counts_are_the_reports(build: Path) -> str:
    report = json.loads((build / "report.json").read_text(encoding="utf-8"))
    site = build / "docs"
    data, said, notes = index_counts(site)
    attributes = read_rows(build, "attributes")
    counters = sum(1 for a in attributes if a["is_counter"])
    for noun in ("classes", "attributes", "enums", "structs"):
        assert data[noun] == said[noun] == report["counts"][f"catalog/{noun}"], noun
    assert data["counters"] == said["counters"] == counters
    assert said["configuration"] + said["counters"] == said["attributes"]
    # where rows and pages differ in number, the index says by how many and why
    for noun, key in (("classes", "class"), ("enums", "enum"), ("structs", "struct")):
        rows = report["counts"][f"catalog/{noun}"]
        names = [r[key] for r in read_rows(build, noun)]
        pages = len(list((site / noun).glob("*.html")))
        one, many = NOUNS[noun]
        if rows == pages:
            assert f" {many} on " not in notes and f" {one} on " not in notes, notes
            continue
        assert f"{rows:,} {many} on {pages:,} pages" in notes, (noun, notes)
        shared = rows - len(set(names))
        if shared:
            assert f"so {shared:,} {one if shared == 1 else many} share a page" in notes, (noun, notes)
            for name in {n for n in names if names.count(n) > 1}:
                assert f"{name} \u00d7{names.count(name)}" in notes, (name, notes)
    return notes


def test_index_counts_are_the_reports_on_the_example(example_build: Path) -> None:
    notes = check_counts_are_the_reports(example_build)
    assert notes == ""  # the example names each class, enum and struct once


@pytest.mark.samples
def test_index_counts_are_the_reports_on_the_real_lte_model(real_build: Path) -> None:
    report = json.loads((real_build / "report.json").read_text(encoding="utf-8"))
    notes = check_counts_are_the_reports(real_build)
    classes = len(list((real_build / "docs" / "classes").glob("*.html")))
    assert classes < report["counts"]["catalog/classes"], "the real case has classes of one name in several MIMs"
    assert "more than one MIM" in notes


def test_a_class_in_two_mims_is_counted_twice_on_one_page(tmp_path: Path) -> None:
    model = rtbfast.read_model(EXAMPLE_MODEL)
    tables = dict(model.tables)
    classes = tables["classes"]
    cell = classes.filter(pc.equal(classes.column("class"), "EUtranCellFDD"))
    other = cell.set_column(cell.column_names.index("mim"), "mim", pa.array(["OtherMim"], pa.string()))
    tables["classes"] = pa.concat_tables([classes, other.cast(classes.schema)])
    write_docs(tables, tmp_path)
    data, said, notes = index_counts(tmp_path)
    rows = classes.num_rows + 1
    assert data["classes"] == said["classes"] == rows
    assert len(list((tmp_path / "classes").glob("*.html"))) == rows - 1
    assert (
        f"{rows} classes on {rows - 1} pages: 1 name is defined in more than one MIM (EUtranCellFDD \u00d72)" in notes
    )
    page = (tmp_path / "classes" / "EUtranCellFDD.html").read_text(encoding="utf-8")
    assert "2 MIMs: EXAMPLE_NODE_MODEL, OtherMim · source mom" in page  # one description for the two


def counters_in_the_model(model: Path, cls: str) -> tuple[set[str], set[str]]:
    """The attributes of `cls` in an MP XML model, read with lxml: those with a counterType
    (PM counters) and the others."""
    counters: set[str] = set()
    others: set[str] = set()
    for _, element in etree.iterparse(str(model), tag="class", load_dtd=False, no_network=True):
        if element.get("name") == cls:
            for attribute in element.iterfind("attribute"):
                name = attribute.get("name")
                (counters if attribute.find("counterType") is not None else others).add(name)
        element.clear()
    return counters, others


def section_names(page: str, section: str) -> list[str]:
    match = re.search(rf'<section data-rows id="{section}">(.*?)</section>', page, re.S)
    assert match, section
    return [n.replace("<wbr>", "") for n in re.findall(r"<tr id=[^>]*><td><code>(.*?)</code>", match.group(1))]


@pytest.mark.samples
def test_counters_apart_from_configuration_on_the_real_lte_model(real_build: Path) -> None:
    """A PM counter is an attribute the model gives a counterType (all of them named pm…): the
    counters section holds exactly those, and an attribute named pm… that is no counter (the
    workbook's pmUeIntraFreqEnabled on NRCellCU) stays with the configuration."""
    counters, others = counters_in_the_model(samples_dir("mom") / REAL_MODEL, "EUtranCellFDD")
    assert len(counters) > 500 and all(c.startswith("pm") for c in counters)
    page = (real_build / "docs" / "classes" / "EUtranCellFDD.html").read_text(encoding="utf-8")
    shown_counters, shown_config = section_names(page, "counters"), section_names(page, "configuration")
    assert sorted(shown_counters) == sorted(counters)
    assert others <= set(shown_config) and not counters & set(shown_config)
    assert f"PM counters ({len(counters):,})" in page
    nr = (real_build / "docs" / "classes" / "NRCellCU.html").read_text(encoding="utf-8")
    assert "pmUeIntraFreqEnabled" in section_names(nr, "configuration")
    assert 'id="counters"' not in nr


# -- in a real browser: Debian's chromium and chromium-driver, driven by selenium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("no chromium and chromedriver here (Debian's chromium and chromium-driver packages)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    try:
        yield driver
    finally:
        driver.quit()


def expected_hits(entries: list[list[str]], text: str) -> list[str]:
    """The search's order, written again here: a name (or an attribute's own name after the
    class) equal to the query first, then one starting with it, then one holding it, then one
    holding every word, then a description holding every word; case does not matter; within a
    rank classes, enums, structs, attributes, counters, templates, shorter names first."""
    query = text.strip().lower()
    words = query.split()
    found = []
    for kind, name, _, description in entries:
        low = name.lower()
        own = low.rsplit(".", 1)[-1]
        if query in (low, own):
            rank = 0
        elif low.startswith(query) or own.startswith(query):
            rank = 1
        elif query in low:
            rank = 2
        elif all(w in low for w in words):
            rank = 3
        elif all(w in f"{low} {description.lower()}" for w in words):
            rank = 4
        else:
            continue
        found.append(((rank, KINDS.index(kind), len(name), low, name), name))
    return [name for _, name in sorted(found)]


def search_in_browser(driver: Any, site: Path, text: str) -> tuple[list[str], str]:
    driver.get((site / "index.html").as_uri())
    box = driver.find_element("id", "q")
    box.clear()
    box.send_keys(text)
    hits: list[str] = driver.execute_script("return [...document.querySelectorAll('#hits a')].map(a => a.textContent)")
    said: str = driver.find_element("id", "said").text
    return hits, said


def check_search(driver: Any, site: Path, query: str) -> list[str]:
    entries = search_index(site)
    hits, said = search_in_browser(driver, site, query)
    expected = expected_hits(entries, query)
    assert hits == expected[:200], query
    assert said.startswith(f"{len(expected)} match"), (query, said)
    assert search_in_browser(driver, site, query.upper())[0] == hits  # case does not matter
    return hits


def test_search_ranks_exact_names_first(browser: Any, tmp_path: Path) -> None:
    """On the example with two classes more, ``EarfcnDlBand`` and ``xEarfcnDl``: for "earfcndl"
    the attributes of that name come first, then the class the name starts, then the class
    holding it, then descriptions, though classes go before attributes within a rank."""
    model = rtbfast.read_model(EXAMPLE_MODEL)
    tables = dict(model.tables)
    classes = tables["classes"]
    cell = classes.filter(pc.equal(classes.column("class"), "EUtranCellFDD"))
    extra = [
        cell.set_column(cell.column_names.index("class"), "class", pa.array([name], pa.string()))
        for name in ("EarfcnDlBand", "xEarfcnDl")
    ]
    tables["classes"] = pa.concat_tables([classes, *(e.cast(classes.schema) for e in extra)])
    write_docs(tables, tmp_path)
    hits = check_search(browser, tmp_path, "earfcndl")
    own = [h.rsplit(".", 1)[-1] for h in hits]
    exact = sum(1 for o in own if o.lower() == "earfcndl")
    assert exact >= 1 and {o.lower() for o in own[:exact]} == {"earfcndl"}
    assert hits[exact : exact + 2] == ["EarfcnDlBand", "xEarfcnDl"]
    hits = check_search(browser, tmp_path, "EUtranCell")
    assert hits[0].startswith("EUtranCell") and "." not in hits[0]  # classes first among the prefixes
    hits = check_search(browser, tmp_path, "eutrancellfdd")
    assert hits[0] == "EUtranCellFDD"
    assert hits[1:] and all(h.startswith("EUtranCellFDD.") for h in hits[1:4])
    assert check_search(browser, tmp_path, "state")  # a substring: adminState, operationalState, AdminState
    assert check_search(browser, tmp_path, "unlocked object") is not None  # words of a description


@pytest.mark.samples
def test_search_ranks_exact_names_first_on_the_real_lte_model(browser: Any, real_build: Path) -> None:
    site = real_build / "docs"
    hits = check_search(browser, site, "EUtranCellFDD")
    assert hits[0] == "EUtranCellFDD" and hits[1].startswith("EUtranCellFDD.")
    hits = check_search(browser, site, "pmRrcConnEstabSucc")
    assert hits[0].endswith(".pmRrcConnEstabSucc") and any(h.endswith(".pmRrcConnEstabSuccMod") for h in hits)
    first_prefix = next(i for i, h in enumerate(hits) if not h.endswith(".pmRrcConnEstabSucc"))
    assert all(not h.endswith(".pmRrcConnEstabSucc") for h in hits[first_prefix:])
    hits = check_search(browser, site, "cellId")  # attributes named cellId before the class CellIdentityUtra
    assert hits[0].endswith(".cellId") and hits.index("CellIdentityUtra") > max(
        i for i, h in enumerate(hits) if h.endswith(".cellId")
    )
    check_search(browser, site, "earfcn")
    check_search(browser, site, "cell")  # more than 200 matches: the first 200 in order


def visible_rows(driver: Any) -> list[str]:
    names: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('tr[data-k]')].filter(r => r.offsetParent !== null)"
        ".map(r => r.querySelector('code').textContent)"
    )
    return sorted(names)


def show(driver: Any, value: str) -> None:
    driver.find_element("css selector", f'input[name=show][value="{value}"]').click()


def check_filter(driver: Any, build: Path, cls: str) -> None:
    from selenium.webdriver.support.select import Select

    attributes = [a for a in read_rows(build, "attributes") if a["class"] == cls]

    def names(keep: Any) -> list[str]:
        return sorted(a["attribute"] for a in attributes if keep(a))

    driver.get((build / "docs" / "classes" / f"{cls}.html").as_uri())
    assert visible_rows(driver) == names(lambda a: True)
    show(driver, "counter")
    assert visible_rows(driver) == names(lambda a: a["is_counter"])
    assert driver.find_element("id", "configuration").is_displayed() is False
    show(driver, "writable")
    assert visible_rows(driver) == names(lambda a: not a["is_counter"] and not a["read_only"])
    show(driver, "read-only")
    assert visible_rows(driver) == names(lambda a: not a["is_counter"] and a["read_only"])
    show(driver, "all")
    effects: dict[str, int] = {}
    for a in attributes:
        if a["takes_effect"] and not a["is_counter"]:
            key = " ".join(a["takes_effect"].split()).rstrip(".").lower()
            effects[key] = effects.get(key, 0) + 1
    effect = max(effects, key=lambda k: effects[k])
    Select(driver.find_element("id", "f-te")).select_by_value(effect)
    expected = names(
        lambda a: not a["is_counter"] and " ".join((a["takes_effect"] or "").split()).rstrip(".").lower() == effect
    )
    assert visible_rows(driver) == expected and 0 < len(expected) < len(attributes)
    assert driver.find_element("id", "f-count").text == f"{len(expected):,} of {len(attributes):,} shown"
    Select(driver.find_element("id", "f-te")).select_by_value("")
    driver.find_element("id", "f-text").send_keys("earfcn")
    shown = visible_rows(driver)
    assert shown and len(shown) < len(attributes)
    assert set(names(lambda a: "earfcn" in a["attribute"].lower())) <= set(shown)


def test_class_page_filter(browser: Any, example_build: Path) -> None:
    check_filter(browser, example_build, "EUtranCellFDD")


@pytest.mark.samples
def test_class_page_filter_on_the_real_lte_model(browser: Any, real_build: Path) -> None:
    check_filter(browser, real_build, "EUtranCellFDD")


def check_no_overflow(driver: Any, site: Path) -> int:
    """The index and the largest pages of each kind are no wider than a 1280 px window."""
    pages = [site / "index.html"]
    for folder in ("classes", "enums", "structs", "templates"):
        pages += sorted((site / folder).glob("*.html"), key=lambda p: -p.stat().st_size)[:4]
    for page in pages:
        driver.get(page.as_uri())
        width = driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert width[0] == 1280 and width[1] <= 1280, (page.name, width)
    return len(pages)


def test_no_horizontal_overflow_at_1280(browser: Any, example_build: Path) -> None:
    assert check_no_overflow(browser, example_build / "docs") >= 10


@pytest.mark.samples
def test_no_horizontal_overflow_at_1280_on_the_real_lte_model(browser: Any, real_build: Path) -> None:
    assert check_no_overflow(browser, real_build / "docs") == 17
