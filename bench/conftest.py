"""Benchmark inputs. Small by default (CI); `RTBFAST_BENCH_FULL=1` (make bench) uses the 100 MB
inputs: the real LTE model repeated 27 times under distinct MIM names, and a 100 MB export."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import rtbfast
from bench import corpus, generate

FULL = os.environ.get("RTBFAST_BENCH_FULL") == "1"


def held(checks: dict[str, bool], what: str) -> None:
    """Each floor of `checks` (its words → whether it holds) met, or the test an expected
    failure naming every floor not met: visible in the summary, not a pass."""
    missed = [words for words, ok in checks.items() if not ok]
    if missed:
        pytest.xfail(f"NOT MET: {what}: " + "; ".join(missed))


@pytest.fixture(scope="session")
def model_file() -> Path:
    if corpus.LTE_MODEL.exists():
        lte: Path = corpus.big_lte_model(27 if FULL else 3)
        return lte
    corpus.CACHE.mkdir(parents=True, exist_ok=True)
    path = corpus.CACHE / f"synthetic_model_{100 if FULL else 10}mb.xml"
    if not path.exists():
        generate.write_model(path, 100 if FULL else 10)
    return path


@pytest.fixture(scope="session")
def export_file() -> Path:
    corpus.CACHE.mkdir(parents=True, exist_ok=True)
    size = 100 if FULL else 10
    path = corpus.CACHE / f"synthetic_export_{size}mb.xml"
    if not path.exists():
        generate.write_export(path, size)
    return path


@pytest.fixture(scope="session")
def lte_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real LTE model with the workbook's RAN subset, built (models included)."""
    if not corpus.LTE_MODEL.exists():
        pytest.skip(f"the real LTE model is not at {corpus.LTE_MODEL} (set RTBFAST_SAMPLES)")
    csv = corpus.LTE_MODEL.parent.parent / "csv"
    out: Path = tmp_path_factory.mktemp("lte") / "out"
    rtbfast.build(
        corpus.LTE_MODEL,
        out,
        workbook=csv / "Spreadsheets_Parameters.ran-subset.csv",
        structs=csv / "Spreadsheets_StructParameters.ran-subset.csv",
    )
    return out
