"""``templates check`` gives the same findings as the implementation it replaced: every column
(template, pointer, line, column, severity, code, message, suggestion and the Violations
columns), in the same order, and the same counts, over a generated corpus
(:mod:`tests.template_corpus`) that spoils templates in every way the check reports.

The reference findings of the example catalog's corpus are a golden file recorded from the
previous implementation (main before the check moved native). With
``RTBFAST_REFERENCE_PYTHON`` set to the ``python`` folder of a reference checkout (its native
module built), the reference also runs here, in a process of its own, over the same corpora
(and over corpora of the real ECIM and LTE models where the samples are): the findings are
compared live, and ``RTBFAST_UPDATE_GOLDEN=1`` rewrites the golden file from the reference —
never from the code under test.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rtbfast
from rtbfast.catalog_view import CatalogView
from rtbfast.templates.check import check_templates
from tests.conftest import samples_dir
from tests.template_corpus import write_corpus

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GOLDEN = Path(__file__).parent / "golden" / "check" / "example_corpus_findings.json.gz"
REFERENCE = os.environ.get("RTBFAST_REFERENCE_PYTHON")
COUNT, SEED = 400, 7

_RUN = """
import json, sys
from rtbfast.catalog_view import CatalogView
from rtbfast.templates.check import check_templates
catalog, listing = sys.argv[1], sys.argv[2]
paths = open(listing, encoding="utf-8").read().splitlines()
result = check_templates(paths, CatalogView.load(catalog))
json.dump(
    {
        "templates": result.templates,
        "values_checked": result.values_checked,
        "unreadable": result.unreadable,
        "findings": result.findings.to_pylist(),
    },
    sys.stdout,
    default=str,
)
"""


def _relative(report: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The report with template paths relative to the corpus folder (the golden file is
    recorded elsewhere)."""
    prefix = str(folder) + os.sep
    for f in report["findings"]:
        f["template"] = f["template"].removeprefix(prefix)
        f["message"] = f["message"].replace(prefix, "")
    return report


def _ours(paths: list[Path], catalog: Path) -> dict[str, Any]:
    result = check_templates(paths, CatalogView.load(catalog))
    report = {
        "templates": result.templates,
        "values_checked": result.values_checked,
        "unreadable": result.unreadable,
        "findings": result.findings.to_pylist(),
    }
    return _relative(json.loads(json.dumps(report, default=str)), paths[0].parent)


def _reference(paths: list[Path], catalog: Path, tmp: Path) -> dict[str, Any]:
    assert REFERENCE is not None
    listing = tmp / "paths.txt"
    listing.write_text("\n".join(map(str, paths)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": REFERENCE}
    run = subprocess.run(
        [sys.executable, "-c", _RUN, str(catalog), str(listing)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp,
    )
    assert run.returncode == 0, run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    return _relative(report, paths[0].parent)


REWORDED = (
    ("Eval calls are not allowed.", "eval() is not allowed in a template: write the expression itself"),
    ("Exec calls are not allowed.", "exec() is not allowed in a template: write the statements themselves"),
    ("SyntaxError: ", "syntax error: "),
    ("'return' outside function", "'return' outside a function"),
)
"""What the reference said in Python's words and rtbfast now says in the template's
(``rtbfast.templates.wording``), written out here: the reference's other words are compared as
they are."""


def _reworded(finding: dict[str, Any]) -> dict[str, Any]:
    message = finding["message"]
    for old, new in REWORDED:
        message = message.replace(old, new)
    return {**finding, "message": message}


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("templates", "values_checked", "unreadable"):
        assert got[key] == want[key], key
    want = {**want, "findings": [_reworded(w) for w in want["findings"]]}
    for i, (g, w) in enumerate(zip(got["findings"], want["findings"], strict=False)):
        assert g == w, f"finding {i} differs:\n got  {g}\n want {w}"
    assert len(got["findings"]) == len(want["findings"])


@pytest.fixture(scope="module")
def example_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out: Path = tmp_path_factory.mktemp("example") / "out"
    rtbfast.build(
        EXAMPLES / "enodeb_mini_mp.xml",
        out,
        workbook=EXAMPLES / "workbook" / "Spreadsheets_Parameters.csv",
        structs=EXAMPLES / "workbook" / "Spreadsheets_StructParameters.csv",
    )
    return out


def _corpus(catalog: Path, folder: Path, count: int = COUNT, seed: int = SEED) -> list[Path]:
    loaded = CatalogView.load(catalog)
    return write_corpus(folder, loaded.tables, loaded.constraints.table, count, seed)


def test_the_example_corpus_gives_the_recorded_findings(example_out: Path, tmp_path: Path) -> None:
    paths = _corpus(example_out, tmp_path / "corpus")
    got = _ours(paths, example_out)
    codes = {f["code"] for f in got["findings"]}
    # the corpus reaches every kind of finding it is written to reach
    for code in ("unknown_class", "unknown_attribute", "containment", "restricted", "system_created", "range"):
        assert code in codes, code
    for code in ("type", "enum", "resolution", "unit", "null", "clear", "syntax", "refused", "unsupported"):
        assert code in codes, code
    for code in ("dynamic", "duplicate_key", "json", "document", "limit", "key", "structure", "sentinel"):
        assert code in codes, code
    assert any(f["message"].startswith("and ") and "more" in f["message"] for f in got["findings"])
    if REFERENCE is not None:
        want = _reference(paths, example_out, tmp_path)
        if os.environ.get("RTBFAST_UPDATE_GOLDEN") == "1":
            GOLDEN.parent.mkdir(parents=True, exist_ok=True)
            GOLDEN.write_bytes(gzip.compress(json.dumps(want, sort_keys=True).encode(), mtime=0))
        _same(got, want)
    want = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    _same(got, want)


@pytest.mark.samples
@pytest.mark.skipif(REFERENCE is None, reason="RTBFAST_REFERENCE_PYTHON names no reference checkout")
@pytest.mark.parametrize("model", ["ecim", "lte"])
def test_corpora_of_the_real_models_give_the_reference_findings(
    model: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mom = samples_dir("mom")
    out = tmp_path_factory.mktemp(model) / "out"
    if model == "ecim":
        rtbfast.build(mom / "LRAT_MOM_Mini_ecim_output_mp.xml", out)
    else:
        csv = mom.parent / "csv"
        rtbfast.build(
            mom / "ERBS_NODE_MODEL_D_full_mp.xml",
            out,
            workbook=csv / "Spreadsheets_Parameters.ran-subset.csv",
            structs=csv / "Spreadsheets_StructParameters.ran-subset.csv",
        )
    for seed in (1, 2):
        paths = _corpus(out, tmp_path / f"corpus{seed}", 300, seed)
        _same(_ours(paths, out), _reference(paths, out, tmp_path))


def test_each_templates_findings_are_those_it_gets_checked_alone(example_out: Path, tmp_path: Path) -> None:
    """What a template gets does not depend on the templates checked with it (the service
    checks the templates of concurrent requests in one batch): the corpus checked at once
    gives each template the findings, summary and values judged it gets alone; but for a
    template with more than LISTED findings of a code, which are listed (said by
    ``unlisted``: the service checks such a template again alone)."""
    paths = _corpus(example_out, tmp_path / "corpus", 120, 11)
    catalog = CatalogView.load(example_out)
    together = check_templates(paths, catalog)
    found = together.findings.to_pylist()
    assert {f["code"] for f in found} >= {"unknown_attribute", "range", "unit", "json", "dynamic", "duplicate_key"}
    assert together.unlisted and together.unlisted < set(range(len(paths)))
    for i, path in enumerate(paths):
        alone = check_templates([path], catalog)
        mine = [f for f in found if f["template"] == str(path)]
        assert alone.summaries == [together.summaries[i]], path
        assert alone.checked == [together.checked[i]] and alone.values_checked == together.checked[i], path
        assert alone.unlisted == ({0} if i in together.unlisted else set()), path
        if i in together.unlisted:
            assert len(alone.findings) == len(mine), path
        else:
            assert alone.findings.to_pylist() == mine, path
    assert sum(together.checked) == together.values_checked > 0
