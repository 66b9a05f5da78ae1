"""The HTML reports (``report.html``, ``summary.html``, ``verify.html``, ``diff.html``,
``diff-model.html``) made through the real CLI on a generated network and the example
catalog, then driven in a real browser (Debian's chromium and chromedriver through selenium,
headless): the tables sort (both ways, numbers as numbers, text with its numbers in order),
filter (a text box, and the severity or status), page; severities have their colours; nothing
overflows at 1280 px; a hostile value (``</script><script>alert(1)</script>``) in the export,
the ChangeSet and the plan is shown as text on every page, and no script runs but the page's."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.generate import write_export
from rtbfast.html_report import EMBEDDED, data_table, script_json
from rtbfast.network_index import read_network_tables
from tests.conftest import EXAMPLES
from tests.conftest import rtbfast as run
from tests.enm_fixtures import Changes

HOSTILE = "</script><script>alert(1)</script>"
AT = "2026-11-27T12:00"
"""When the audit is made (``--at``): inside every window of ``examples/rules.csv``."""
XML_HOSTILE = HOSTILE.replace("<", "&lt;").replace(">", "&gt;")


def _ok(result: Any, *codes: int) -> None:
    assert result.returncode in (codes or (0,)), (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, example_out: Path) -> dict[str, Path]:
    """Every report, made by the CLI: the audit of a generated network of 44 nodes (a hostile
    value in an attribute the catalog does not know), a plan (qRxLevMin on every cell,
    earfcndl with the cell locked on some, a struct on others, a hostile userLabel, relations
    deleted), part of it applied on the simulator and a value changed outside it, the plan
    verified on the result, the networks before and after compared, and the model compared
    with a release where two attributes are renamed (the ChangeSet's keys bear on them) and a
    default is the hostile value."""
    folder = tmp_path_factory.mktemp("html-reports")
    before = write_export(folder / "generated.xml", 0.3, cells=3, relations=2)
    text = before.read_text(encoding="utf-8")
    text = text.replace(
        "<es:qRxLevMin>-140</es:qRxLevMin>", f"<es:qRxLevMin>-140</es:qRxLevMin><es:zzNote>{XML_HOSTILE}</es:zzNote>", 1
    )
    before.write_text(text, encoding="utf-8")
    out = {"before": before}

    # a fixed time: the example's "unlocked-in-day" rule (the errors this audit finds, its
    # exit status 1) applies only in its window, 05:00-01:00, so the test does not depend on
    # the hour it runs at
    rules = EXAMPLES / "rules.csv"
    _ok(run("audit", before, "--catalog", example_out, "--rules", rules, "--at", AT, "-o", folder / "audit"), 1)
    out["audit"] = folder / "audit" / "report.html"

    mos = read_network_tables(before)["mos"]["fdn"].cast(pa.string()).to_pylist()
    cells = [f for f in mos if f.rsplit(",", 1)[-1].startswith("EUtranCellFDD=")]
    relations = [f for f in mos if f.rsplit(",", 1)[-1].startswith("EUtranCellRelation=")]
    changes = Changes()
    for i, cell in enumerate(cells):
        changes.add("set", cell, "qRxLevMin", "-120")
        if i % 3 == 0:
            changes.add("set", cell, "earfcndl", "3000")
        if i % 4 == 1:
            for member, value in (("mcc", "262"), ("mnc", "2"), ("mncLength", "2")):
                changes.add("set", cell, "additionalPlmnList", value, member=member)
    changes.add("set", cells[0], "userLabel", HOSTILE)
    for relation in relations[:12]:
        changes.add("delete", relation)
    pq.write_table(changes.table(), folder / "changes.parquet")
    plan = folder / "plan"
    _ok(
        run(
            "plan",
            folder / "changes.parquet",
            "--catalog",
            example_out,
            "--network",
            before,
            "--allow-unknown-rollback",
            "-o",
            plan,
        )
    )
    out["plan"] = plan / "summary.html"

    lines = (plan / "plan.cmedit").read_text(encoding="utf-8").splitlines()
    part = folder / "part.cmedit"
    part.write_text("\n".join(lines[:120] + [x for x in lines if x.startswith("cmedit delete")]) + "\n")
    after = folder / "after.xml"
    _ok(
        run(
            "apply",
            part,
            "--catalog",
            example_out,
            "--network",
            before,
            "--save-network",
            after,
            "--poll-interval",
            "0",
            "--allow-unknown-rollback",
        )
    )
    # a value changed outside the plan: drifted where the plan did not take
    pieces = after.read_text(encoding="utf-8").split("<es:qRxLevMin>-140<")
    values = ("<es:qRxLevMin>-130<" if i % 4 == 0 else "<es:qRxLevMin>-140<" for i in range(len(pieces) - 1))
    after.write_text(pieces[0] + "".join(v + p for v, p in zip(values, pieces[1:], strict=True)), encoding="utf-8")
    _ok(run("verify", plan, "--network", after, "-o", folder / "verify"), 1)
    out["verify"] = folder / "verify" / "verify.html"
    _ok(run("diff", before, after, "-o", folder / "diff"), 0, 1)
    out["diff"] = folder / "diff" / "diff.html"

    model = (EXAMPLES / "enodeb_mini_mp.xml").read_text(encoding="utf-8")
    for old, new in (("qRxLevMin", "qRxLevMinX"), ("earfcndl", "earfcnDl")):
        model = model.replace(f'<attribute name="{old}">', f'<attribute name="{new}">')
    model = model.replace('<defaultValue>""</defaultValue>', f"<defaultValue>{XML_HOSTILE}</defaultValue>")
    (folder / "new_mp.xml").write_text(model, encoding="utf-8")
    _ok(
        run(
            "diff-model",
            EXAMPLES / "enodeb_mini_mp.xml",
            folder / "new_mp.xml",
            "--changes",
            folder / "changes.parquet",
            "-o",
            folder / "diff-model",
        ),
        1,
    )
    out["diff-model"] = folder / "diff-model" / "diff-model.html"
    return out


PAGES = ("audit", "plan", "verify", "diff", "diff-model")


def _data(page: Path) -> dict[str, dict[str, Any]]:
    """Each table's embedded data, by the id of its section."""
    text = page.read_text(encoding="utf-8")
    found = re.findall(
        r"<section class=rt-table id='([^']+)'>.*?<script type='application/json' class=rt-data>(.*?)</script>",
        text,
        re.S,
    )
    return {ident: json.loads(body) for ident, body in found}


# -- without a browser -------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_each_page_stands_alone_and_keeps_the_hostile_value_inert(reports: dict[str, Path], name: str) -> None:
    text = reports[name].read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    # nothing fetched: no element with a source or link, no import or url() in the style
    assert not re.search(r"<(script|link|img|iframe|object|embed)[^>]*(src|href|data)=", text)
    assert "@import" not in text and "url(" not in text
    # two scripts the page runs: none; one script of its own at the end, the rest data blocks
    assert text.count("<script>") == 1
    assert HOSTILE not in text and "<script>alert" not in text
    tables = _data(reports[name])
    assert tables, name
    assert any(HOSTILE in json.dumps(t["rows"], ensure_ascii=False) for t in tables.values()), name


def test_the_json_blocks_cannot_be_closed_from_inside() -> None:
    value = {"a": HOSTILE + "<!-- & \u2028\u2029 -->", "b": [1, 2.5, None]}
    text = script_json(value)
    assert json.loads(text) == value
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text


def test_a_large_table_says_what_it_leaves_out() -> None:
    """A table of more rows than a page embeds: the first EMBEDDED are embedded, and the page
    says how many there are and where they all are."""
    n = EMBEDDED + 7
    table = pa.table({"fdn": [f"SubNetwork=A,MeContext=N{i}" for i in range(n)], "n": list(range(n))})
    html = data_table("Rows", table, ["fdn", "n"], files="rows.parquet", table_id="rows")
    body = re.search(r"class=rt-data>(.*?)</script>", html, re.S)
    assert body is not None
    rows = json.loads(body.group(1))["rows"]
    assert len(rows) == EMBEDDED and rows[-1] == [f"SubNetwork=A,MeContext=N{EMBEDDED - 1}", EMBEDDED - 1]
    assert f"the first {EMBEDDED:,} of {n:,} rows" in html and "rows.parquet" in html


def test_cells_json_cannot_carry_are_written_as_text() -> None:
    table = pa.table({"x": [float("nan"), float("inf"), 1.5], "flag": [True, False, None]})
    html = data_table("Rows", table, ["x", "flag"], table_id="rows")
    body = re.search(r"class=rt-data>(.*?)</script>", html, re.S)
    assert body is not None
    assert json.loads(body.group(1))["rows"] == [["nan", "true"], ["inf", "false"], [1.5, None]]


def test_the_summary_gives_old_and_new_values_and_the_commands(reports: dict[str, Path]) -> None:
    steps = _data(reports["plan"])["steps"]
    columns = steps["columns"]
    rows = [dict(zip(columns, r, strict=True)) for r in steps["rows"]]
    plan = pq.read_table(reports["plan"].parent / "plan.parquet")
    assert len(rows) == len(set(plan["step"].to_pylist()))  # every step of a small plan
    commands = (reports["plan"].parent / "plan.cmedit").read_text(encoding="utf-8").splitlines()
    assert [r["command"] for r in rows] == commands  # one command per step, in order
    sets = [r for r in rows if r["op"] == "set"]
    assert all("qRxLevMin: -140 → -120" in r["changes"] for r in sets if "qRxLevMin" in r["changes"])
    plmn = next(r for r in sets if "additionalPlmnList" in r["changes"])
    assert "additionalPlmnList: [(mcc=240,mnc=1,mncLength=2)] → [(mcc=262,mnc=2,mncLength=2)]" in plmn["changes"]
    # a value the export does not hold has no old value
    assert any(f"userLabel: — → {HOSTILE}" in r["changes"] for r in sets)
    deletes = [r for r in rows if r["op"] == "delete"]
    assert len(deletes) == 12 and all(r["command"].startswith("cmedit delete ") for r in deletes)


# -- in the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_window_size(1280, 900)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: Any, page: Path) -> None:
    browser.set_window_size(1280, 900)
    browser.get(page.as_uri())
    ready = "return Array.from(document.querySelectorAll('section.rt-table')).every(s => s.dataset.ready === '1')"
    assert browser.execute_script(ready)


def _column(browser: Any, table: str, column: int) -> list[str]:
    """The cells of `column` on the page shown, each as its whole text (the title of a cell
    shortened, else its text)."""
    script = (
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))"
        ".map(tr => tr.cells[arguments[1]]).map(td => td.title || td.textContent)"
    )
    cells: list[str] = browser.execute_script(script, table, column)
    return cells


def _click_heading(browser: Any, table: str, column: int) -> None:
    browser.find_elements("css selector", f"#{table} thead th")[column].click()


def _natural(text: str) -> list[Any]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in re.split(r"(\d+)", text) if p]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize(
    ("name", "table", "column", "kind"),
    [
        ("plan", "steps", "step", "num"),
        ("verify", "planned", "step", "num"),
        ("verify", "planned", "node", "text"),
        ("audit", "violations", "rule", "text"),
        ("diff-model", "impacts", "path", "text"),  # hand.json#/2 before hand.json#/10
        ("diff", "values", "attribute", "text"),
    ],
)
def test_sorting(browser: Any, reports: dict[str, Path], name: str, table: str, column: str, kind: str) -> None:
    data = _data(reports[name])[table]
    at = data["columns"].index(column)
    _open(browser, reports[name])
    values = [str(r[at]) for r in data["rows"]]
    key: Callable[[str], Any] = _number if kind == "num" else _natural
    want = sorted(values, key=key)
    _click_heading(browser, table, at)
    up = _column(browser, table, at)
    assert len(up) == min(len(values), 100)
    assert [key(v) for v in up] == [key(v) for v in want[: len(up)]]
    heading = browser.find_elements("css selector", f"#{table} thead th")[at]
    assert heading.get_attribute("aria-sort") == "ascending"
    _click_heading(browser, table, at)
    down = _column(browser, table, at)
    assert [key(v) for v in down] == [key(v) for v in list(reversed(want))[: len(down)]]
    assert heading.get_attribute("aria-sort") == "descending"
    if kind == "text" and name == "diff-model":  # natural order: the numbers in the text in order
        numbers = [int(v.rsplit("/", 1)[1]) for v in up]
        assert numbers == sorted(numbers) and numbers[0] < 10 < numbers[-1]


def _count(browser: Any, table: str) -> str:
    text: str = browser.find_element("css selector", f"#{table} .rt-count").text
    return text


def test_filtering_by_text_and_severity(browser: Any, reports: dict[str, Path]) -> None:
    data = _data(reports["audit"])["violations"]
    rows = data["rows"]
    _open(browser, reports["audit"])
    assert _count(browser, "violations") == f"{len(rows):,} rows"
    box = browser.find_element("css selector", "#violations input.rt-filter")
    box.send_keys("NODE000007")
    want = [r for r in rows if any("node000007" in str(c).lower() for c in r if c is not None)]
    assert 0 < len(want) < len(rows)
    assert _count(browser, "violations") == f"{len(want):,} of {len(rows):,} rows"
    assert len(browser.find_elements("css selector", "#violations tbody tr")) == len(want)
    # two words: both must be in the row
    box.send_keys(" unknown_attribute")
    both = [r for r in want if "unknown_attribute" in r]
    assert _count(browser, "violations") == f"{len(both):,} of {len(rows):,} rows"
    box.clear()
    box.send_keys(" ")  # clear() fires no input event; a key does
    from selenium.webdriver.support.select import Select

    Select(browser.find_element("css selector", "#violations select.rt-severity")).select_by_value("error")
    errors = [r for r in rows if r[0] == "error"]
    assert _count(browser, "violations") == f"{len(errors):,} of {len(rows):,} rows"
    shown = _column(browser, "violations", 0)
    assert shown and set(shown) == {"error"}


def test_paging(browser: Any, reports: dict[str, Path]) -> None:
    data = _data(reports["verify"])["planned"]
    at = data["columns"].index("step")
    rows = data["rows"]
    assert len(rows) > 200
    _open(browser, reports["verify"])
    pager = "#planned .rt-pager"
    label = browser.find_element("css selector", f"{pager} .rt-page")
    pages = -(-len(rows) // 100)
    assert label.text == f"page 1 of {pages}"
    assert [_number(v) for v in _column(browser, "planned", at)] == [r[at] for r in rows[:100]]
    browser.find_element("css selector", f"{pager} [data-go=next]").click()
    assert label.text == f"page 2 of {pages}"
    assert [_number(v) for v in _column(browser, "planned", at)] == [r[at] for r in rows[100:200]]
    browser.find_element("css selector", f"{pager} [data-go=last]").click()
    assert [_number(v) for v in _column(browser, "planned", at)] == [r[at] for r in rows[(pages - 1) * 100 :]]
    assert browser.find_element("css selector", f"{pager} [data-go=next]").get_attribute("disabled")
    browser.find_element("css selector", f"{pager} [data-go=first]").click()
    assert label.text == f"page 1 of {pages}"
    # a filter goes back to the first page of what it keeps
    browser.find_element("css selector", f"{pager} [data-go=next]").click()
    browser.find_element("css selector", "#planned input.rt-filter").send_keys("drifted")
    assert label.get_attribute("textContent") == "page 1 of 1"
    assert not browser.find_element("css selector", pager).is_displayed()  # one page: no pager


COLOURS = {"error": (252, 232, 230), "warning": (254, 247, 224), "ok": (230, 244, 234)}
"""The background of a severity's cell (report.css)."""


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])


@pytest.mark.parametrize(
    ("name", "table", "value", "colour"),
    [
        ("audit", "violations", "error", "error"),
        ("audit", "violations", "warning", "warning"),
        ("verify", "planned", "not_taken", "error"),
        ("verify", "planned", "drifted", "warning"),
        ("verify", "planned", "held", "ok"),
        ("diff", "mos", "removed", "error"),
        ("diff-model", "changes", "breaking", "error"),
    ],
)
def test_severity_colours(
    browser: Any, reports: dict[str, Path], name: str, table: str, value: str, colour: str
) -> None:
    from selenium.webdriver.support.select import Select

    _open(browser, reports[name])
    Select(browser.find_element("css selector", f"#{table} select.rt-severity")).select_by_value(value)
    cells = browser.find_elements("css selector", f"#{table} tbody td.sev")
    assert cells and {c.text for c in cells} == {value}
    assert {_rgb(c.value_of_css_property("background-color")) for c in cells} == {COLOURS[colour]}


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("size", [(1280, 900), (1920, 1080)])
def test_no_horizontal_overflow(browser: Any, reports: dict[str, Path], name: str, size: tuple[int, int]) -> None:
    _open(browser, reports[name])
    browser.set_window_size(*size)
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    # and no table scrolls inside its box either
    tables = browser.execute_script(
        "return Array.from(document.querySelectorAll('.wrap > table'))"
        ".map(t => [t.scrollWidth, t.parentNode.clientWidth])"
    )
    assert tables and all(inner <= outer for inner, outer in tables), tables


@pytest.mark.parametrize("name", PAGES)
def test_the_hostile_value_is_text_and_no_script_runs(browser: Any, reports: dict[str, Path], name: str) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    _open(browser, reports[name])
    browser.get_log("browser")  # what loading said is read below
    _open(browser, reports[name])
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    # the value is in a cell as text, and added no element
    found = browser.execute_script(
        "return Array.from(document.querySelectorAll('section.rt-table')).map(s => {"
        " const box = s.querySelector('input.rt-filter'); box.value = 'alert(1)';"
        " box.dispatchEvent(new Event('input'));"
        " return Array.from(s.querySelectorAll('tbody td')).map(td => td.title || td.textContent)"
        ".filter(t => t.includes('alert(1)')); }).flat()"
    )
    assert found and all(HOSTILE in t for t in found), found
    assert browser.execute_script("return document.scripts.length") == 1 + len(_data(reports[name]))
