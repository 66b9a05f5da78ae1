"""ENM import jobs on the offline simulator (issue 17): a dynamic import file of N sets
(``qRxLevMin`` of N cells; N = 5,000, ``RTBFAST_BENCH_FULL=1``: 100,000) run as one import job.

- the whole run, as ``rtbfast apply plan.dynamic.txt`` runs it (``apply_script``): the file read
  and checked (``read_dynamic``), the job journaled with its N operations before the upload, the
  simulator reading the file again and running it (validation as a whole, then execution), the
  status read, the verbose status read and every operation's outcome journaled;
- the simulator's job alone (``Simulator.run_import``: read, validate, execute);
- the same file with one operation in a hundred refused (a value the model refuses), under each
  ``--error`` policy (``stop`` executes nothing, ``node`` skips the nodes holding one,
  ``operation`` skips those alone);
- a file of lock windows (a third of the cells locked, ``earfcndl`` set, unlocked: N operations),
  each set checked against the lock before it in the same batch;
- the command route on the simulator for 1,000 of the same changes (500 by default), for its cost
  per command on a network of that size.

The figures are the simulator's: what ENM takes is its own (``rtbfast journal`` measures a job
run on ENM). The catalog is the bundled example model (no samples needed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import rtbfast
from bench import corpus, generate
from bench.conftest import FULL
from rtbfast.catalog_view import CatalogView
from rtbfast.enm.apply import ApplyRequest, apply_script
from rtbfast.enm.simulator import Simulator
from rtbfast.network_index import read_network_tables

OPERATIONS = 100_000 if FULL else 5_000
CELLS_PER_MB = 840  # the generated export without relations: 6 cells and their carrier per node
JOB_OPS_PER_S_FLOOR = 4_000  # the whole run, operations per second (measured 9.5-15k at 5k, 13-15k at 100k)
COMMANDS = 1_000 if FULL else 500
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out: Path = tmp_path_factory.mktemp("imports-catalog") / "out"
    rtbfast.build(
        EXAMPLES / "enodeb_mini_mp.xml",
        out,
        workbook=EXAMPLES / "workbook" / "Spreadsheets_Parameters.csv",
        structs=EXAMPLES / "workbook" / "Spreadsheets_StructParameters.csv",
    )
    return out


@pytest.fixture(scope="module")
def network() -> Path:
    corpus.CACHE.mkdir(parents=True, exist_ok=True)
    path = corpus.CACHE / f"synthetic_cells_export_{OPERATIONS}.xml"
    if not path.exists():
        generate.write_export(path, OPERATIONS / CELLS_PER_MB * 1.02, cells=6, relations=0)
    return path


@pytest.fixture(scope="module")
def files(network: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tables = read_network_tables(network)
    cells = [
        f
        for f, c in zip(tables["mos"]["fdn"].to_pylist(), tables["mos"]["class"].to_pylist(), strict=True)
        if c == "EUtranCellFDD"
    ][:OPERATIONS]
    assert len(cells) == OPERATIONS, f"the export holds {len(cells)} cells"
    folder = tmp_path_factory.mktemp("imports")
    good = folder / "plan.dynamic.txt"
    good.write_text("".join(f'set\nFDN : "{f}"\nqRxLevMin : -120\n\n' for f in cells), encoding="utf-8")
    bad = folder / "bad.dynamic.txt"  # one operation in a hundred refused by the model (-21 is out of range)
    bad.write_text(
        "".join(f'set\nFDN : "{f}"\nqRxLevMin : {-21 if k % 100 == 50 else -120}\n\n' for k, f in enumerate(cells)),
        encoding="utf-8",
    )
    windows = folder / "windows.dynamic.txt"
    windows.write_text(
        "".join(
            f'set\nFDN : "{f}"\nadministrativeState : LOCKED\n\nset\nFDN : "{f}"\nearfcndl : 500\n\n'
            f'set\nFDN : "{f}"\nadministrativeState : UNLOCKED\n\n'
            for f in cells[: OPERATIONS // 3]
        ),
        encoding="utf-8",
    )
    script = folder / "plan.cmedit"
    script.write_text("".join(f"cmedit set {f} qRxLevMin=-120\n" for f in cells[:COMMANDS]))
    return {"tables": tables, "good": good, "bad": bad, "windows": windows, "script": script}


def _timed(run: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def test_an_import_job_of_n_operations_on_the_simulator(files: dict[str, Any], catalog: Path, network: Path) -> None:
    request = ApplyRequest(files["good"], catalog=catalog, network=network, poll_interval=0)
    seconds, result = _timed(lambda: apply_script(request))
    assert result.ok and result.job.applied == OPERATIONS, result.error()
    simulator = Simulator(files["tables"], CatalogView.load(catalog))
    data = files["good"].read_bytes()
    alone, job = _timed(lambda: simulator.run_import("plan.dynamic.txt", data, "dynamic", "stop"))
    assert (job.status, job.detail) == ("COMPLETED", "COMPLETED")
    print(
        f"\nimport job of {OPERATIONS:,} operations on the simulator: {seconds:.2f} s as rtbfast apply runs it "
        f"({OPERATIONS / seconds:,.0f} operations/s, journaled per operation); the simulator's job alone "
        f"{alone:.2f} s ({OPERATIONS / alone:,.0f}/s)"
    )
    assert OPERATIONS / seconds >= JOB_OPS_PER_S_FLOOR


@pytest.mark.parametrize("policy", ["stop", "node", "operation"])
def test_a_job_with_refused_operations_under_each_policy(
    policy: str, files: dict[str, Any], catalog: Path, network: Path, tmp_path: Path
) -> None:
    request = ApplyRequest(
        files["bad"], catalog=catalog, network=network, poll_interval=0, error_policy=policy, journal=tmp_path / "j"
    )
    seconds, result = _timed(lambda: apply_script(request))
    job = result.job
    refused = OPERATIONS // 100
    assert job.failed == refused
    assert job.applied == {"stop": 0, "node": OPERATIONS - refused * 6, "operation": OPERATIONS - refused}[policy]
    print(f"\n--error {policy}: {seconds:.2f} s for {OPERATIONS:,} operations ({job.counts()})")


def test_a_job_of_lock_windows(files: dict[str, Any], catalog: Path) -> None:
    simulator = Simulator(files["tables"], CatalogView.load(catalog))
    data = files["windows"].read_bytes()
    seconds, job = _timed(lambda: simulator.run_import("windows.dynamic.txt", data, "dynamic", "stop"))
    n = OPERATIONS // 3 * 3
    assert (job.status, job.detail, len(job.rows)) == ("COMPLETED", "COMPLETED", n)
    print(f"\nlock windows: the simulator's job of {n:,} operations in {seconds:.2f} s ({n / seconds:,.0f}/s)")
    assert n / seconds >= JOB_OPS_PER_S_FLOOR


def test_the_command_route_on_the_simulator_for_its_cost_per_command(
    files: dict[str, Any], catalog: Path, network: Path
) -> None:
    request = ApplyRequest(files["script"], catalog=catalog, network=network)
    seconds, result = _timed(lambda: apply_script(request))
    assert result.ok and result.outcome.sent == COMMANDS
    print(
        f"\ncommand route on the simulator: {COMMANDS:,} commands in {seconds:.2f} s ({seconds / COMMANDS * 1000:.2f} "
        f"ms a command, journaled one by one); at that rate {OPERATIONS:,} would take about "
        f"{seconds / COMMANDS * OPERATIONS:.0f} s"
    )
