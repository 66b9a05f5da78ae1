"""Templates: bulk checks, typed-template ingest and expansion, against the peers a user would
pick, in the same run.

- Static check of generated RTB templates (10,000 with ``RTBFAST_BENCH_FULL=1``, 2,000
  otherwise; about 16 values in 5 MOs each, 1 KB) against the real LTE model with the
  workbook's RAN subset, versus loading each with ``json`` and validating its MOs one by one
  with the generated Pydantic models of the same catalog; and versus the same peer made to do
  what the check does besides (each MO's class checked under its parent's, values of
  attributes with a multiplication factor read in raw units with ``Decimal`` before the model
  sees them). Target (issue 18): 10x the first peer, at either size (the catalog is loaded
  before timing: nothing fixed is left to the small size). Not met: measured 2.5-2.9x at
  2,000 and 2.7-3.5x at 10,000 on 2 busy cores (main: 0.8-1.0x). The peer spends about 63 µs a
  template; the native read takes about 15 µs of CPU a 1 KB file (a quarter of it in the
  kernel: open, stat, read, close), which alone bounds the ratio near 8x on 2 cores, and the
  check's own work (joins by id, the evaluator, wording, locating) about 10 µs a template. The
  output says the target NOT MET with the figure; CI holds a floor of 2x (raised from 0.5x).
  Needs the samples.
- Ingest of typed templates in YAML: rtbfast's native reader (document read, head checked,
  metadata unwrapped: what ``templates check`` reads) and the full tree (compiled, shapes
  checked, every node located) against PyYAML's C loader. Target: 100k attribute values/s.
- Expansion of one template (the motorway variant of the examples, plus a $cond reading each
  cell) over 10,000 target cells of a 100 MB export (1,000 of 10 MB otherwise), reading the
  export, the changes and their verdicts included. Target: at most 5 s.

Peak memory of each, as a user runs it, is measured in a fresh process (``ru_maxrss``).
"""

from __future__ import annotations

import importlib
import json
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_benchmark.fixture import BenchmarkFixture

import rtbfast
from bench import corpus, generate
from bench.conftest import FULL
from rtbfast.catalog_view import CatalogView
from rtbfast.schemas import SEP
from rtbfast.templates.check import check_templates
from rtbfast.templates.expand import expand, read_network_index
from rtbfast.templates.tree import template_json
from rtbfast.templates.typed import make_variants, read_document, read_typed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

CHECK_RATIO_TARGET = 10.0  # json + Pydantic time / our time: issue 18's target, said met or NOT MET (see above)
CHECK_RATIO_FLOOR = 2.0  # the floor CI holds: raised from 0.5 (small) and 1.0 (full); measured 2.5-3.5x
INGEST_FLOOR = 100_000  # attribute values/s read natively (measured ~500k)
INGEST_RATIO_FLOOR = 1.5  # ours / PyYAML C loader, values/s (measured ~3.5x)
EXPANSION_SECONDS = 5.0  # the target, at either size
EXPANSION_TARGET_SECONDS = 2.0  # issue 18: 10,000 targets of a 100 MB export in 2 s …
EXPANSION_TARGET_PEAK_MB = 300  # … and a peak of 300 MB (``templates expand``, streamed)


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


def peak_mb(*args: str | Path) -> float:
    """Peak resident memory (MB) of ``rtbfast ARGS`` in a process of its own."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "rtbfast.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(run.stdout.strip()) / 1024


def _mos(node: dict[str, Any], cls: str, out: list[tuple[str, dict[str, Any]]]) -> None:
    attrs = {}
    for k, v in node.items():
        if k[:1].isupper() or k.startswith("@"):
            _mos(v, k.lstrip("@").split("-", 1)[0], out)
        elif not k.startswith("$"):
            attrs[k] = v
    out.append((cls, attrs))


def _placed_mos(
    node: dict[str, Any], cls: str, parent: str | None, out: list[tuple[str | None, str, dict[str, Any]]]
) -> None:
    """As :func:`_mos`, each MO with its parent's class."""
    attrs = {}
    for k, v in node.items():
        if k[:1].isupper() or k.startswith("@"):
            _placed_mos(v, k.lstrip("@").split("-", 1)[0], cls, out)
        elif not k.startswith("$"):
            attrs[k] = v
    out.append((parent, cls, attrs))


def json_pydantic_units_containment(
    files: list[Path], models: Any, children: dict[str, set[str]], factors: dict[tuple[str, str], Decimal]
) -> tuple[int, int, int]:
    """The peer made to do what the check does besides: each MO's class checked under its
    parent's where the catalog says what the parent holds, and the values of attributes with a
    multiplication factor read in raw units (value ÷ factor, exact) before the model validates
    them. Returns (MOs validated, MOs refused, MOs misplaced)."""
    import pydantic

    from rtbfast.templates.units import to_raw

    checked = refused = misplaced = 0
    for path in files:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
        for item in data:
            for key, value in item.items():
                if key.startswith("$"):
                    continue
                found: list[tuple[str | None, str, dict[str, Any]]] = []
                _placed_mos(value, key.lstrip("@").split("-", 1)[0], None, found)
                for parent, cls, attrs in found:
                    if parent is not None and parent in children and cls not in children[parent]:
                        misplaced += 1
                    model = getattr(models, cls, None)
                    if model is None:
                        continue
                    for name, v in attrs.items():
                        factor = factors.get((cls, name))
                        if factor is not None and isinstance(v, str | int | float) and not isinstance(v, bool):
                            raw = to_raw(str(v), factor)
                            if raw is not None:
                                attrs[name] = raw
                    checked += 1
                    try:
                        model.model_validate(attrs)
                    except pydantic.ValidationError:
                        refused += 1
    return checked, refused, misplaced


def json_and_pydantic(files: list[Path], models: Any) -> tuple[int, int]:
    """The peer: each template loaded with json, each MO validated with its generated model.
    Returns (MOs validated, MOs refused)."""
    import pydantic

    checked = refused = 0
    for path in files:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
        for item in data:
            for key, value in item.items():
                if key.startswith("$"):
                    continue
                found: list[tuple[str, dict[str, Any]]] = []
                _mos(value, key.split("-", 1)[0], found)
                for cls, attrs in found:
                    model = getattr(models, cls, None)
                    if model is None:
                        continue
                    checked += 1
                    try:
                        model.model_validate(attrs)
                    except pydantic.ValidationError:
                        refused += 1
    return checked, refused


def test_static_check_vs_json_and_pydantic(benchmark: BenchmarkFixture, lte_out: Path, tmp_path: Path) -> None:
    count = 10_000 if FULL else 2_000
    files = generate.write_templates(tmp_path / "templates", count)
    catalog = CatalogView.load(lte_out)
    result = check_templates(files, catalog)

    def ours() -> Any:
        return check_templates(files, catalog)

    # the best of several rounds each (a run takes tens of milliseconds at this size: one
    # scheduling hiccup on a shared machine is a large share of it)
    benchmark.pedantic(ours, rounds=7, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    mine: float = benchmark.stats.stats.min
    # what the second peer is given: the catalog's containment and its linear factors
    factors: dict[tuple[str, str], Decimal] = {}
    for key, (factor, _) in catalog.factor_of.items():
        cls, attribute, member = key.split(SEP)
        if not member:  # an attribute's own factor, not a struct member's
            factors[(cls, attribute)] = Decimal(factor)
    sys.path.insert(0, str(lte_out / "models"))
    try:
        models = importlib.import_module("rtb_models")
        json_and_pydantic(files[:50], models)  # warm: the models import lazily
        theirs = with_units = float("inf")
        for _ in range(4):
            t = time.perf_counter()
            mos, refused = json_and_pydantic(files, models)
            theirs = min(theirs, time.perf_counter() - t)
            t = time.perf_counter()
            _, refused_raw, misplaced = json_pydantic_units_containment(files, models, catalog.children, factors)
            with_units = min(with_units, time.perf_counter() - t)
    finally:
        sys.path.remove(str(lte_out / "models"))
        for name in [m for m in sys.modules if m == "rtb_models" or m.startswith("rtb_models.")]:
            del sys.modules[name]
    errors = result.count("error")
    ratio = theirs / mine
    info = {
        "templates": count,
        "values_judged": result.values_checked,
        "values_judged_per_s": round(result.values_checked / mine),
        "errors_found": errors,
        "rtbfast_s": round(mine, 3),
        "json_pydantic_s": round(theirs, 3),
        "json_pydantic_units_containment_s": round(with_units, 3),
        "peer_mos": mos,
        "peer_refused": refused,
        "peer_refused_in_raw_units": refused_raw,
        "peer_misplaced": misplaced,
        "ratio": round(ratio, 1),
        "ratio_vs_units_containment": round(with_units / mine, 1),
        "templates_per_s": round(count / mine),
        "peak_mb": round(
            peak_mb("templates", "check", tmp_path / "templates", "--catalog", lte_out, "--format", "json"), 1
        ),
    }
    benchmark.extra_info.update(info)
    print(f"\nstatic check: {info}")
    met = "met" if ratio >= CHECK_RATIO_TARGET else "NOT MET"
    print(f"static check: target {CHECK_RATIO_TARGET:.0f}x json + Pydantic (issue 18): {met} at {ratio:.1f}x")
    benchmark.extra_info["target"] = f"{CHECK_RATIO_TARGET:.0f}x: {met}"
    assert errors > count // 40  # the generator writes a wrong value into one template in twenty
    assert refused_raw < refused  # read in raw units, the peer refuses fewer MOs: it converts
    assert ratio >= CHECK_RATIO_FLOOR, f"{ratio:.1f}x json + Pydantic; the floor is {CHECK_RATIO_FLOOR:.0f}x"


def test_yaml_ingest_vs_pyyaml(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    files, values = generate.write_typed_templates(tmp_path / "typed", 200 if FULL else 40, cells=40)

    def ours() -> Any:
        return [read_document(p) for p in files]

    benchmark.pedantic(ours, rounds=3, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    mine: float = benchmark.stats.stats.min
    theirs = tree = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for p in files:
            yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        theirs = min(theirs, time.perf_counter() - t)
        t = time.perf_counter()
        for p in files:
            read_typed(p)
        tree = min(tree, time.perf_counter() - t)
    info = {
        "files": len(files),
        "values": values,
        "rtbfast_values_per_s": round(values / mine),
        "rtbfast_full_tree_values_per_s": round(values / tree),
        "pyyaml_c_values_per_s": round(values / theirs),
        "ratio": round(theirs / mine, 1),
    }
    benchmark.extra_info.update(info)
    print(f"\nyaml ingest: {info}")
    assert values / mine >= INGEST_FLOOR
    assert theirs / mine >= INGEST_RATIO_FLOOR


def _rich_export(size: int) -> Path:
    corpus.CACHE.mkdir(parents=True, exist_ok=True)
    # versioned: a file written by an older generator (other cell contents, fewer cells per MB) is not reused
    path = corpus.CACHE / f"synthetic_rich_export_v2_{size}mb.xml"
    if not path.exists():
        generate.write_export(path, size, rich=True, relations=5)
    return path


NODE_MADE = ("CellSleepFunction-", "MimoSleepFunction-")


def _without_node_made(part: Any) -> Any:
    """A template (as JSON reads it) without the keys of MOs the node creates."""
    if isinstance(part, dict):
        return {k: _without_node_made(v) for k, v in part.items() if not k.startswith(NODE_MADE)}
    if isinstance(part, list):
        return [_without_node_made(v) for v in part]
    return part


def test_expansion_of_one_template_over_many_cells(
    benchmark: BenchmarkFixture, example_out: Path, tmp_path: Path
) -> None:
    # the rich generator writes about 96 cells per MB
    size, targets = (110, 10_000) if FULL else (11, 1_000)
    export = _rich_export(size)
    (variant,) = make_variants(
        EXAMPLES / "templates" / "base_cell.yaml", [EXAMPLES / "templates" / "motorway_mobility.yaml"]
    )
    # the MOs the node creates (CellSleepFunction, MimoSleepFunction) are not in the generated
    # export, and a template creating one is refused: the bench sets the cells' own values
    compiled: list[Any] = [
        *variant.compiled,
        {
            "EUtranCellFDD": {
                "$cond": {"if": "int(cell.get_freq_str()) < 3000", "then": {"qRxLevMin": -124}, "else": "__ignore__"}
            }
        },
    ]
    template = tmp_path / "motorway.json"
    plain = _without_node_made(json.loads(template_json(compiled)))
    template.write_text(json.dumps(plain, indent=1), encoding="utf-8")
    catalog = CatalogView.load(example_out)
    network = read_network_index(export, catalog)
    cells = [network.id[r] for r in network.rows_of_class({"EUtranCellFDD"})][:targets]
    assert len(cells) == targets, f"the {size} MB rich export has only {len(cells)} cells"
    del network

    def ours() -> Any:
        return expand(template, catalog, export, cells)

    result = benchmark.pedantic(ours, rounds=3, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    mine: float = benchmark.stats.stats.min
    # the same expansion node batch by node batch (what ``templates expand`` runs), same run
    from rtbfast.templates.expand_stream import expand_streamed

    streamed_s = float("inf")
    for round_ in range(2):
        work = tmp_path / f"streamed{round_}"
        work.mkdir()
        start = time.perf_counter()
        streamed = expand_streamed(template, catalog, export, cells, work)
        streamed_s = min(streamed_s, time.perf_counter() - start)
    assert streamed.read_whole is None and streamed.table().equals(result.changes)
    whole_peak = _whole_expansion_peak(template, example_out, export, cells, tmp_path)
    targets_file = tmp_path / "targets.txt"
    targets_file.write_text("\n".join(cells) + "\n")
    peak = peak_mb(
        "templates",
        "expand",
        template,
        "--catalog",
        example_out,
        "--network",
        export,
        "--targets-file",
        targets_file,
        "-o",
        tmp_path / "changes.parquet",
    )
    info = {
        "export_mb": round(export.stat().st_size / 1e6),
        "targets": targets,
        "rows": result.changes.num_rows,
        "seconds": round(mine, 2),
        "ms_per_target": round(1000 * mine / targets, 3),
        "streamed_seconds": round(streamed_s, 2),
        "peak_mb": round(peak, 1),
        "whole_peak_mb": round(whole_peak, 1),
    }
    benchmark.extra_info.update(info)
    print(f"\nexpansion: {info}")
    checks = {
        f"{targets:,} targets streamed in {streamed_s:.2f} s (target {EXPANSION_TARGET_SECONDS} s)": streamed_s
        <= EXPANSION_TARGET_SECONDS,
        f"templates expand peak {peak:.0f} MB (target {EXPANSION_TARGET_PEAK_MB} MB)": peak <= EXPANSION_TARGET_PEAK_MB,
    }
    for words, ok in checks.items():
        if not ok:
            print(f"NOT MET: {words}")
    assert len(result.targets) == targets and not result.errors
    assert result.changes.num_rows >= 10 * targets  # the cells' own values (10.5 a cell, node-made MOs left out)
    assert mine <= EXPANSION_SECONDS
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
    assert all(checks.values()), [w for w, ok in checks.items() if not ok]


def _whole_expansion_peak(template: Path, catalog: Path, export: Path, cells: list[str], tmp_path: Path) -> float:
    """Peak memory (MB) of the whole network's expansion of `cells` written as a ChangeSet (what
    ``templates expand`` ran before it streamed), in a process of its own."""
    code = (
        "import resource, sys\n"
        "from rtbfast.changeset import write_changeset\n"
        "from rtbfast.templates.expand import expand_whole\n"
        "t, c, n, cells, out = sys.argv[1:6]\n"
        "r = expand_whole(t, c, n, open(cells).read().split())\n"
        "write_changeset(r.changes, out, {})\n"
    )
    cells_file = tmp_path / "cells-whole.txt"
    cells_file.write_text("\n".join(cells) + "\n")
    runner = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    args = [sys.executable, "-c", code, str(template), str(catalog), str(export), str(cells_file)]
    run = subprocess.run(
        [sys.executable, "-c", runner, *args, str(tmp_path / "whole.parquet")],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(run.stdout.strip()) / 1024
