"""A template expanded on Spark, a batch of nodes per task (:mod:`rtbfast.spark.expand_job`),
against the same streamed expansion on one machine (:func:`expand_streamed`, what main runs
today): the same ChangeSet rows in order and the same Parquet bytes, the same notes (their
counts and targets), clusters and verdicts; a template carrying state from node to node the
same too (expanded on the driver from where it changes its state); the CLI writing the same
file; a bound passed inside a task said as without Spark, with the same exit code. On the
standalone cluster of :mod:`tests.spark_fixtures` (the CLI on ``local[2]``)."""

# ruff: noqa: F811  (the shared fixtures, imported, are the tests' arguments)
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from rtbfast.catalog_view import CatalogView
from rtbfast.changeset import write_changeset_batches
from rtbfast.schemas import CHANGESET_SCHEMA
from rtbfast.spark.session import java_missing
from rtbfast.templates.expand_stream import Streamed, expand_streamed
from tests.conftest import rtbfast as run_cli
from tests.conftest import samples_dir
from tests.spark_fixtures import QUICK_CONF
from tests.test_expand_streaming import READS_TARGETS, REAL, export, motorway  # noqa: F401

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'rtbfast[spark]')")


@pytest.fixture(scope="session")
def catalog(spark_catalog: Path) -> Path:
    """The example catalog the Spark tests use (``spark_catalog`` of tests/spark_fixtures.py)."""
    return spark_catalog


STREAMING = [name for name in REAL if name not in READS_TARGETS]
"""The real templates that stream (the others read ``targets``: expanded whole, not on Spark)."""
CARRIES_STATE = {"pmr_vpn_stop.json"}
"""Real templates that collect cells in ``vars`` from target to target (``vars.cells_to_process``)
and decide by them: expanded on the driver from the first batch that changes them."""


def _both(
    spark: Any,
    template: Path,
    cat: CatalogView | Path,
    network: Path,
    tmp_path: Path,
    budget: int = 1,
    **options: Any,
) -> tuple[Streamed, Streamed, float, float]:
    """The streamed expansion on one machine and on Spark (batches of `budget` network values:
    by default each node a batch of its own), and their times."""
    from rtbfast.spark.expand_job import spark_expand

    (tmp_path / "one").mkdir()
    (tmp_path / "spark").mkdir()
    started = time.perf_counter()
    one = expand_streamed(template, cat, network, ["*"], tmp_path / "one", budget=budget, **options)
    single = time.perf_counter() - started
    started = time.perf_counter()
    many = expand_streamed(
        template, cat, network, ["*"], tmp_path / "spark", budget=budget, run_batches=spark_expand(spark), **options
    )
    return one, many, single, time.perf_counter() - started


def assert_same(one: Streamed, many: Streamed, tmp_path: Path) -> None:
    """Rows in order, notes (counts, targets), clusters, verdicts, and the Parquet bytes."""
    assert many.table().equals(one.table())
    assert (many.rows, many.ops, many.target_cells) == (one.rows, one.ops, one.target_cells)
    assert [str(n) for n in many.notes] == [str(n) for n in one.notes]
    assert [n.target for n in many.notes] == [n.target for n in one.notes]
    assert many.clusters == one.clusters
    assert many.verdicts.equals(one.verdicts)
    made_from = {"template": "t", "targets": ["*"]}
    write_changeset_batches(one.batches, tmp_path / "one.parquet", made_from)
    write_changeset_batches(many.batches, tmp_path / "spark.parquet", made_from)
    assert (tmp_path / "spark.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()


def test_the_example_template_over_every_cell_is_byte_identical(
    spark: Any, motorway: Path, catalog: Path, export: Path, tmp_path: Path
) -> None:
    from rtbfast.spark import expand

    one, many, single, on_spark = _both(spark, motorway, catalog, export, tmp_path)
    assert one.read_whole is None and many.on_driver is None, many.on_driver  # every batch a task
    assert one.batches_expanded == many.batches_expanded == 19
    assert one.rows > 1000
    assert_same(one, many, tmp_path)
    print(f"\nexample template, 19 nodes: {one.rows:,} rows; one machine {single:.2f} s, Spark {on_spark:.2f} s")
    frame = expand(spark, motorway, export, ["*"], catalog, budget=3000)
    got = frame.toArrow()
    assert got.column_names == CHANGESET_SCHEMA.names
    assert got.cast(CHANGESET_SCHEMA).equals(one.table())


@pytest.mark.samples
@pytest.mark.parametrize("name", STREAMING)
def test_the_real_templates_that_stream_are_byte_identical(
    spark: Any, name: str, real_catalog: CatalogView, export: Path, tmp_path: Path
) -> None:
    one, many, _, _ = _both(spark, samples_dir("rtb") / name, real_catalog, export, tmp_path, budget=1500)
    assert one.read_whole is None and many.read_whole is None
    assert (many.on_driver is not None) == (name in CARRIES_STATE), many.on_driver
    assert one.batches_expanded == many.batches_expanded >= 3
    assert_same(one, many, tmp_path)


CARRYING = [
    {"$vars": {"seen": []}},
    {
        "$custom": [
            {
                "name": "count",
                "args": ["cell"],
                "body": ["if 'NODE000005' in cell.dn:", "    vars.seen.append(cell.dn)", "return str(len(vars.seen))"],
            }
        ]
    },
    {"EUtranCellFDD": {"userLabel": {"$eval": "custom.count(cell)"}}},
]
"""Counts in ``vars`` the cells of one node, and writes the count so far on every cell: what
the nodes after that node write depends on it."""


def test_a_template_carrying_state_across_nodes_runs_on_the_driver_from_where_it_does(
    spark: Any, catalog: Path, export: Path, tmp_path: Path
) -> None:
    template = tmp_path / "carrying.json"
    template.write_text(json.dumps(CARRYING), encoding="utf-8")
    one, many, _, _ = _both(spark, template, catalog, export, tmp_path)
    assert one.read_whole is None
    assert many.on_driver is not None and "vars" in many.on_driver
    labels = dict(zip(one.table()["fdn"].to_pylist(), one.table()["value"].to_pylist(), strict=True))
    assert {v for f, v in labels.items() if "NODE000001" in f} == {"0"}
    assert {v for f, v in labels.items() if "NODE000009" in f} == {"6"}  # counted on the node before
    assert_same(one, many, tmp_path)


def _cli(tmp_path: Path, name: str, template: Path, catalog: Path, network: Path, *spark: str) -> Any:
    return run_cli(
        "templates", "expand", template, "--catalog", catalog, "--network", network, "--targets", "*",
        "-o", tmp_path / f"{name}.parquet", *spark,
    )  # fmt: skip


SPARK = ("--spark", "local[2]", "--conf", "spark.ui.enabled=false", "--conf", QUICK_CONF[0])


def test_the_cli_writes_the_file_it_writes_without_spark(
    motorway: Path, catalog: Path, generated: Path, tmp_path: Path
) -> None:
    if java_missing():
        pytest.skip(f"Spark cannot run here: {java_missing()}")
    one = _cli(tmp_path, "one", motorway, catalog, generated)
    many = _cli(tmp_path, "spark", motorway, catalog, generated, *SPARK)
    assert one.returncode == many.returncode == 0, many.stderr[-3000:]
    assert many.stdout == one.stdout
    written = (tmp_path / "one.parquet").read_bytes()
    assert len(written) > 10_000
    assert (tmp_path / "spark.parquet").read_bytes() == written


def test_a_bound_passed_in_a_task_is_said_as_without_spark(catalog: Path, export: Path, tmp_path: Path) -> None:
    """A value past the bound on one value's items, made by one node's cells: the same located
    error, exit 1, nothing written, with and without Spark."""
    if java_missing():
        pytest.skip(f"Spark cannot run here: {java_missing()}")
    template = tmp_path / "big.json"
    big = {"$eval": "('x' * 2000000) if 'NODE000003' in cell.dn else 'ok'"}
    template.write_text(json.dumps([{"EUtranCellFDD": {"userLabel": big}}]), encoding="utf-8")
    one = _cli(tmp_path, "one", template, catalog, export)
    many = _cli(tmp_path, "spark", template, catalog, export, *SPARK)
    assert one.returncode == many.returncode == 1
    assert many.stdout == one.stdout
    errors = [line for line in one.stdout.splitlines() if ": error: limit: " in line]
    assert errors and errors[0].startswith(f"{template}:1:"), one.stdout
    assert "2,000,000" in errors[0]
    assert not (tmp_path / "one.parquet").exists() and not (tmp_path / "spark.parquet").exists()
    assert "Traceback" not in many.stderr


def test_a_plan_of_a_template_expanded_and_planned_on_spark_is_byte_identical(
    spark: Any, motorway: Path, catalog: Path, export: Path, tmp_path: Path
) -> None:
    """``rtbfast plan TEMPLATE --spark``: the template expanded and the node groups planned on
    the cluster, every file of the plan folder byte for byte the single machine's."""
    import hashlib

    from rtbfast.enm.planning import plan_folder
    from rtbfast.spark.expand_job import spark_expand
    from rtbfast.spark.plan_job import spark_batches

    options: dict[str, Any] = {"targets": ["*"], "allow_unknown_rollback": True}
    one = plan_folder(motorway, catalog, export, tmp_path / "one", **options)
    many = plan_folder(
        motorway, catalog, export, tmp_path / "many", run_batches=spark_batches(spark),
        expand_batches=spark_expand(spark), **options,
    )  # fmt: skip
    assert one.get("commands") == many.get("commands")
    digests = [
        {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((tmp_path / d).iterdir())}
        for d in ("one", "many")
    ]
    assert "plan.cmedit" in digests[0] and digests[1] == digests[0]
