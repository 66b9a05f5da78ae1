"""Bulk constraint checks and the end-to-end audit against the peers a user would pick, in
the same run.

- Value checks: the native evaluator over a synthetic network of cells (100k with
  ``RTBFAST_BENCH_FULL=1``), against ``pyarrow.compute`` column checks (cast, range compare,
  enum ``is_in``) of the same values. Target: at least 10 M value checks per second.
- Audit: ``rtbfast.audit`` of the synthetic export (100 MB full size; read, constraints,
  evaluation and the written reports included), against validating the same MOs object by
  object with the generated Pydantic state models (the export read for it by rtbfast and
  turned into one dict per MO, both timed). Target: at least 10x. Peak memory of the audit
  is measured in a fresh process, with the default parts of 16 MB, parts of 4 MB and a whole
  read: bounded by the parts, it follows their size, not the export's.
- CEL rules: compiling 10k user rules natively (target: at most 1 s), against cel-python
  compiling a sample of them (its time per rule, scaled).

The first two need the real LTE model for realistic classes; they skip without the samples.
"""

from __future__ import annotations

import importlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import rtbfast
from bench import corpus, generate
from bench.conftest import FULL
from rtbfast.audit import audit
from rtbfast.codegen import generate as generate_models
from rtbfast.rules import constraint_table, evaluate

CHECKS_FLOOR = 3e6  # value checks per second; measured 22-24 M/s here on two cores
CHECKS_RATIO_FLOOR = 2.0  # ours / pyarrow.compute in checks per second
AUDIT_RATIO_FLOOR = 2.0  # per-object Pydantic time / audit time: measured 3-6x at 10 MB, 8-12x at 100 MB


def _lte() -> dict[str, pa.Table]:
    if not corpus.LTE_MODEL.exists():
        pytest.skip(f"the real LTE model is not at {corpus.LTE_MODEL} (set RTBFAST_SAMPLES)")
    tables: dict[str, pa.Table] = rtbfast.read_model(corpus.LTE_MODEL).tables
    return tables


def _checkable(r: dict[str, Any]) -> bool:
    """A scalar, writable attribute the peer checks the same way: an enum, a boolean, or an
    integer with one range and no resolution step."""
    if r["member"] is not None or r["is_sequence"] or r["read_only"]:
        return False
    if r["kind"] == "integer":
        return len(r["ranges"]) == 1 and not r["resolution"]
    return r["kind"] == "boolean" or (r["kind"] == "enum" and bool(r["enum_names"]))


def synthetic_cells(constraints: pa.Table, cls: str, cells: int, seed: int = 7) -> dict[str, pa.Table]:
    """`cells` MOs of `cls` with a value for each of its enum, boolean and integer attributes
    (those with one range and no resolution step, which the peer checks the same way), about
    one in a hundred out of range or misspelt, as the ``mos`` and ``values`` tables."""
    rng = random.Random(seed)
    rows = [r for r in constraints.to_pylist() if r["class"] == cls and _checkable(r)]
    columns: list[list[str]] = []
    for r in rows:
        if r["kind"] == "integer":
            lo, hi = int(r["ranges"][0]["min"]), int(r["ranges"][0]["max"])
            pool = [str(rng.randint(lo, hi)) for _ in range(64)] + [str(hi + 1)]
        elif r["kind"] == "enum":
            pool = list(r["enum_names"]) * 8 + ["NO_SUCH"]
        else:
            pool = ["true", "false"] * 16 + ["maybe"]
        columns.append([rng.choice(pool) if rng.random() < 0.5 else pool[0] for _ in range(cells)])
    fdns = [f"SubNetwork=S,MeContext=N{i // 6},ManagedElement=1,ENodeBFunction=1,{cls}=C{i}" for i in range(cells)]
    # long form: the values of one MO together, as an export gives them
    fdn_idx = pa.array([i for i in range(cells) for _ in rows], pa.int32())
    attr_idx = pa.array([j for _ in range(cells) for j in range(len(rows))], pa.int32())
    value = pa.array([columns[j][i] for i in range(cells) for j in range(len(rows))], pa.string())
    return {
        "mos": pa.table({"fdn": fdns, "class": [cls] * cells}),
        "values": pa.table(
            {
                "fdn": pa.DictionaryArray.from_arrays(fdn_idx, pa.array(fdns)),
                "attribute": pa.DictionaryArray.from_arrays(attr_idx, pa.array([r["attribute"] for r in rows])),
                "member": pa.nulls(len(value), pa.dictionary(pa.int32(), pa.string())),
                "index": pa.array([0] * len(value), pa.int32()),
                "value": value,
            }
        ),
    }


def pyarrow_checks(network: dict[str, pa.Table], constraints: pa.Table, cls: str) -> int:
    """The peer: per attribute, the values cast to their type and compared with pyarrow.compute.
    Returns the number of values found wrong."""
    values = network["values"]
    attribute = values.column("attribute").combine_chunks()
    text = values.column("value")
    bad = 0
    for r in constraints.to_pylist():
        if r["class"] != cls or r["member"] is not None:
            continue
        index = attribute.dictionary.index(r["attribute"]).as_py()
        if index < 0:
            continue
        mine = pc.filter(text, pc.equal(attribute.indices, index))
        if r["kind"] == "integer":
            numbers = pc.cast(pc.if_else(pc.match_substring_regex(mine, r"^-?\d+$"), mine, None), pa.int64())
            lo, hi = int(r["ranges"][0]["min"]), int(r["ranges"][0]["max"])
            ok = pc.and_(pc.greater_equal(numbers, lo), pc.less_equal(numbers, hi))
        elif r["kind"] == "enum":
            ok = pc.is_in(mine, pa.array(r["enum_names"]))
        elif r["kind"] == "boolean":
            ok = pc.is_in(pc.utf8_lower(mine), pa.array(["true", "false"]))
        else:
            continue
        bad += len(mine) - pc.sum(pc.fill_null(ok, False).cast(pa.int64())).as_py()
    return bad


def test_value_checks_per_second(benchmark: BenchmarkFixture) -> None:
    tables = _lte()
    constraints = constraint_table(tables)
    cells = 100_000 if FULL else 20_000
    network = synthetic_cells(constraints.table, "EUtranCellFDD", cells)
    result = evaluate(network, constraints)

    def ours() -> Any:
        return evaluate(network, constraints)

    benchmark.pedantic(ours, rounds=5, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    mine: float = benchmark.stats.stats.min
    t = time.perf_counter()
    peer_bad = pyarrow_checks(network, constraints.table, "EUtranCellFDD")
    theirs = time.perf_counter() - t
    errors = sum(1 for s in result.violations.column("severity").to_pylist() if s == "error")
    assert errors == peer_bad, "both find the same wrong values"
    info = {
        "cells": cells,
        "values": result.checked,
        "violations": errors,
        "rtbfast_checks_per_s": round(result.checked / mine),
        "pyarrow_compute_checks_per_s": round(result.checked / theirs),
        "ratio": round(theirs / mine, 1),
    }
    benchmark.extra_info.update(info)
    print(f"\nchecks: {info}")
    assert result.checked / mine >= CHECKS_FLOOR
    assert theirs / mine >= CHECKS_RATIO_FLOOR


def _export(size: int) -> Path:
    corpus.CACHE.mkdir(parents=True, exist_ok=True)
    path = corpus.CACHE / f"synthetic_export_{size}mb.xml"
    if not path.exists():
        generate.write_export(path, size)
    return path


def _objects(network: dict[str, pa.Table]) -> list[tuple[str, dict[str, Any]]]:
    """Each MO of the export as (class, attribute dict), the way a Pydantic user builds them:
    a sequence as a list, a struct as a dict of member texts."""
    classes = dict(
        zip(network["mos"].column("fdn").to_pylist(), network["mos"].column("class").to_pylist(), strict=True)
    )
    objects: dict[str, dict[str, Any]] = {}
    v = network["values"]
    for fdn, attribute, member, index, text in zip(
        v.column("fdn").to_pylist(),
        v.column("attribute").to_pylist(),
        v.column("member").to_pylist(),
        v.column("index").to_pylist(),
        v.column("value").to_pylist(),
        strict=True,
    ):
        data = objects.setdefault(fdn, {})
        if member is not None:
            data.setdefault(attribute, {})[member] = text
        elif attribute in data or index:
            previous = data.get(attribute)
            data[attribute] = [*previous, text] if isinstance(previous, list) else [previous, text]
        else:
            data[attribute] = text
    return [(classes[fdn], data) for fdn, data in objects.items()]


def test_audit_vs_pydantic_object_by_object(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    tables = _lte()
    catalog = tmp_path / "catalog"
    rtbfast.build(corpus.LTE_MODEL, catalog)
    export = _export(100 if FULL else 10)

    def ours() -> Any:
        return audit(export, catalog, tmp_path / "audit")

    benchmark.pedantic(ours, rounds=3, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    mine: float = benchmark.stats.stats.min
    summary = ours().summary

    generated = generate_models(tables, tmp_path / "models", package="bench_models")
    sys.path.insert(0, str(tmp_path / "models"))
    try:
        package = importlib.import_module("bench_models")
        state = {cls: names[2] for (_, cls), names in reversed(list(generated.class_models.items()))}
        # the peer starts from the file too: rtbfast's reader, then one dict per MO
        t = time.perf_counter()
        objects = _objects(rtbfast.read_network(export).tables)
        refused = 0
        for cls, data in objects:
            model = state.get(cls)
            if model is None:
                continue
            try:
                getattr(package, model).model_validate(data)
            except Exception:
                refused += 1
        theirs = time.perf_counter() - t
    finally:
        sys.path.remove(str(tmp_path / "models"))
    memory = _audit_peak(export, catalog, tmp_path / "audit_memory", 16)
    small_parts = _audit_peak(export, catalog, tmp_path / "audit_memory_small", 4)
    whole = _audit_peak(export, catalog, tmp_path / "audit_memory_whole", 0)
    info = {
        "export_mb": round(export.stat().st_size / 1e6, 1),
        "mos": summary["mos"],
        "values": summary["values_checked"],
        "violations": summary["violations"],
        "rtbfast_audit_s": round(mine, 3),
        "pydantic_objects_s": round(theirs, 3),
        "pydantic_mos_refused": refused,
        "ratio": round(theirs / mine, 1),
        "audit_peak_rss_mb": round(memory / 1e6, 1),
        "audit_peak_rss_mb_4mb_parts": round(small_parts / 1e6, 1),
        "audit_peak_rss_mb_whole_read": round(whole / 1e6, 1),
    }
    benchmark.extra_info.update(info)
    print(f"\naudit: {info}")
    assert theirs / mine >= AUDIT_RATIO_FLOOR


def _audit_peak(export: Path, catalog: Path, out: Path, part_mb: int) -> int:
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's size at fork
    code = (
        "import json, re, sys\n"
        "from rtbfast.audit import audit\n"
        "audit(sys.argv[1], sys.argv[2], sys.argv[3], part_bytes=int(sys.argv[4]) * 2**20)\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) * 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(export), str(catalog), str(out), str(part_mb)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak: int = json.loads(done.stdout)
    return peak


COMPILE_FLOOR_S = 3.0  # 10k CEL rules; measured 0.6-0.75 s on two cores


def _cel_rules(count: int) -> pa.Table:
    rng = random.Random(3)
    attrs = ["qRxLevMin", "earfcndl", "physicalLayerCellIdGroup", "cellRange", "administrativeState"]
    asserts = [
        f"{rng.choice(attrs[:4])} {rng.choice(['<', '>=', '!='])} {rng.randint(-150, 500)} && "
        f"({rng.choice(attrs[:4])} + {rng.randint(1, 9)}) % {rng.randint(2, 9)} != 0 || "
        f"{attrs[4]} == '{rng.choice(['LOCKED', 'UNLOCKED'])}' && has(self.{rng.choice(attrs)})"
        for _ in range(count)
    ]
    return pa.table(
        {
            "id": [f"r{i}" for i in range(count)],
            "class": ["EUtranCellFDD"] * count,
            "when": pa.array([None] * count, pa.string()),
            "assert": asserts,
            "severity": ["error"] * count,
            "message": ["m"] * count,
        }
    )


def test_compile_10k_cel_rules(benchmark: BenchmarkFixture) -> None:
    import celpy

    from rtbfast import _native

    rules = _cel_rules(10_000)

    def ours() -> Any:
        return _native.compile_user_rules(rules)

    benchmark.pedantic(ours, rounds=3, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    mine: float = benchmark.stats.stats.min
    assert not ours()["problems"]
    sample = rules.column("assert").to_pylist()[:200]
    env = celpy.Environment()
    t = time.perf_counter()
    for text in sample:
        env.program(env.compile(text))
    theirs = (time.perf_counter() - t) / len(sample) * rules.num_rows
    info = {"rules": rules.num_rows, "rtbfast_s": round(mine, 3), "cel_python_s_scaled": round(theirs, 1)}
    info["ratio"] = round(theirs / mine, 1)
    benchmark.extra_info.update(info)
    print(f"\ncompile: {info}")
    assert mine <= COMPILE_FLOOR_S
