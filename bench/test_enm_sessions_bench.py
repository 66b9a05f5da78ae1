"""ENM sessions: ``rtbfast apply --sessions 4`` against ``--sessions 1`` on the fake ENM over
loopback, in the same run, as a ratio. Each command's output comes ``LATENCY`` seconds after it
is sent (the fake's ``ready_after``), as ENM answers after the node does: a run of one session
waits that long per command, four sessions wait on four nodes at once.

The script sets ``qRxLevMin`` on every cell of a generated export of many small nodes (about
60 commands; ``RTBFAST_BENCH_FULL=1``: about 700). Also reported: the round trips per
command (the client's requests per command, login and logout included)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import rtbfast
from bench.conftest import FULL
from bench.generate import write_export
from rtbfast.catalog_view import CatalogView
from rtbfast.enm.apply import ApplyRequest, apply_script
from rtbfast.enm.dialects import cmedit_lines
from rtbfast.enm.enm_client import Credentials
from rtbfast.enm.plan import make_plan
from rtbfast.enm.simulator import Simulator
from rtbfast.network_index import NetworkIndex, read_network_tables
from tests.conftest import EXAMPLES
from tests.enm_fixtures import Changes
from tests.fake_enm import FakeEnm

LATENCY = 0.05
"""Seconds between a command and its output on the fake (a real ENM takes longer: the node
answers first; the rtbfast side of a command costs about 10 ms here, fake ENM included)."""
SESSIONS_RATIO_FLOOR = 2.0  # --sessions 1 time / --sessions 4 time (4 at the most)
USER, PASSWORD = "operator", "s3cret!"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sessions")
    export = write_export(folder / "export.xml", 1.2 if FULL else 0.1, cells=3, relations=1)
    out = folder / "catalog"
    rtbfast.build(
        EXAMPLES / "enodeb_mini_mp.xml",
        out,
        workbook=EXAMPLES / "workbook" / "Spreadsheets_Parameters.csv",
        structs=EXAMPLES / "workbook" / "Spreadsheets_StructParameters.csv",
    )
    catalog = CatalogView.load(out)
    tables = read_network_tables(export)
    network = NetworkIndex(tables)
    changes = Changes()
    for fdn, cls in zip(network.fdn, network.cls, strict=True):
        if cls == "EUtranCellFDD":
            changes.add("set", fdn, "qRxLevMin", "-122")
    lines = cmedit_lines(make_plan(changes.table(), network, catalog).steps).to_pylist()
    script = folder / "plan.cmedit"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"folder": folder, "tables": tables, "catalog": catalog, "script": script, "commands": len(lines)}


def run(setup: dict[str, Any], sessions: int, journal: Path) -> tuple[float, int, int]:
    """One apply on a fresh fake ENM: seconds, commands ENM ran, HTTP requests made."""
    fake = FakeEnm(Simulator(setup["tables"], setup["catalog"]), USER, PASSWORD)
    fake.ready_after = LATENCY
    fake.start()
    try:
        request = ApplyRequest(
            setup["script"],
            backend="enm",
            url=fake.url,
            credentials=Credentials(USER, PASSWORD),
            journal=journal,
            sessions=sessions,
        )
        start = time.perf_counter()
        result = apply_script(request)
        seconds = time.perf_counter() - start
        assert result.ok, result.error()
        return seconds, len(fake.changes()), len(fake.requests)
    finally:
        fake.stop()


def test_four_sessions_against_one(benchmark: BenchmarkFixture, setup: dict[str, Any]) -> None:
    commands = setup["commands"]
    folder: Path = setup["folder"]
    journals = iter(range(1_000))

    def four() -> float:
        seconds, ran, _ = run(setup, 4, folder / f"four-{next(journals)}.sqlite")
        assert ran == commands  # every command exactly once
        return seconds

    benchmark.pedantic(four, rounds=2, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    mine: float = benchmark.stats.stats.min
    one, ran, requests = run(setup, 1, folder / "one.sqlite")
    assert ran == commands
    info = {
        "commands": commands,
        "latency_s": LATENCY,
        "one_session_s": round(one, 3),
        "four_sessions_s": round(mine, 3),
        "ratio": round(one / mine, 2),
        "round_trips_per_command": round(requests / commands, 2),
        "commands_per_s_one": round(commands / one),
        "commands_per_s_four": round(commands / mine),
    }
    benchmark.extra_info.update(info)
    print(f"\nsessions: {info}")
    assert one / mine >= SESSIONS_RATIO_FLOOR
    assert os.environ.get("RTBFAST_BENCH_FULL") or commands >= 40
