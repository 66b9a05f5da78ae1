"""rtbfast on a real Spark cluster: a standalone master and two workers of 1 core each on
loopback, started from pyspark's ``bin/spark-class`` once for the session and stopped after
(``tests/spark_fixtures.py``: ``spark_cluster``, ``spark``); each executor is a JVM of its own
with its own Python workers. Every result is held row for row to the single-machine one; one
test kills a worker (its JVM and its executor) mid-job. Skipped only where Java (or pyspark) is
missing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rtbfast
from rtbfast.audit import audit as single_audit
from rtbfast.errors import RtbfastError
from rtbfast.spark.network import chunk_tables, split
from rtbfast.spark.session import java_missing
from tests.conftest import rtbfast as run_cli
from tests.conftest import samples_dir
from tests.spark_fixtures import QUICK_CONF, StandaloneCluster, executors, wait_for_executors

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'rtbfast[spark]')")


@pytest.fixture(scope="session")
def catalog(spark_catalog: Path) -> Path:
    """The example catalog the Spark tests use (``spark_catalog`` of tests/spark_fixtures.py)."""
    return spark_catalog


def _sorted(table: pa.Table) -> list[tuple[object, ...]]:
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


def _plain(table: pa.Table) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = table.to_pylist()  # dictionary columns come out as their texts
    return rows


def _bulkcm_samples() -> list[Path]:
    return sorted(samples_dir("bulkcm").glob("*.xml"))


# -- the split alone (no Spark): chunks read alone give the whole read --------------------------


@pytest.mark.samples
@pytest.mark.parametrize("chunk_bytes", [512, 2048, 1 << 30])
def test_chunks_of_the_real_exports_read_alone_give_the_whole_read(chunk_bytes: int) -> None:
    for path in _bulkcm_samples():
        chunks = split([path], chunk_bytes)
        assert split([path], chunk_bytes) == chunks  # deterministic
        try:
            whole = rtbfast.read_network(path)
        except RtbfastError as err:  # a sample the reader refuses: a chunk refuses it the same way
            with pytest.raises(type(err)) as refused:
                for c in chunks:
                    chunk_tables(c)
            assert str(refused.value) == str(err)
            continue
        for kind in ("mos", "values"):
            got = [r for c in chunks for r in _plain(chunk_tables(c)[kind])]
            assert got == _plain(whole.tables[kind]), (path.name, chunk_bytes, kind)


def test_chunks_of_a_generated_export_read_alone_give_the_whole_read(generated: Path) -> None:
    whole = rtbfast.read_network(generated)
    for chunk_bytes in (64 * 1024, 700 * 1024):
        chunks = split([generated], chunk_bytes)
        assert len(chunks) >= generated.stat().st_size // chunk_bytes // 2
        for kind in ("mos", "values"):
            got = pa.concat_tables([chunk_tables(c)[kind] for c in chunks])
            assert got.num_rows == whole.tables[kind].num_rows
            assert _plain(got) == _plain(whole.tables[kind]), (chunk_bytes, kind)


def test_node_groups_are_whole_nodes_in_order() -> None:
    """A task's rows (sorted by node, MOs before values) cut into groups of whole nodes, none
    lost, repeated or cut, each group's MOs and values in rtbfast's schemas."""
    from rtbfast.schemas import MOS_SCHEMA, VALUES_SCHEMA, plain
    from rtbfast.spark.node_frames import node_groups

    sizes = [3, 1, 7, 2, 2, 9, 1, 4]
    fields = {f.name: f.with_nullable(True) for f in (*plain(MOS_SCHEMA), *plain(VALUES_SCHEMA))}
    schema = pa.schema([*fields.values(), ("node", pa.string()), ("kind", pa.int32()), ("place", pa.int64())])
    rows = []
    for i, n in enumerate(sizes):
        node = f"MeContext=n{i}"
        for k in range(n):
            fdn = f"{node},ManagedElement=1,Cell={k}"
            rows.append({"fdn": fdn, "class": "Cell", "id": str(k), "node": f"n{i}", "kind": 0, "place": k})
        for k in range(n):
            fdn = f"{node},ManagedElement=1,Cell={k}"
            value = {"attribute": "a", "value": str(k), "vs_data": False}
            rows.append({"fdn": fdn, **value, "node": f"n{i}", "kind": 1, "place": k})
    table = pa.Table.from_pylist(rows, schema=schema)
    for group_rows in (1, 5, 16, 1000):
        groups = list(node_groups(iter(table.to_batches(max_chunksize=3)), group_rows))
        assert all(g["mos"].schema == MOS_SCHEMA and g["values"].schema == VALUES_SCHEMA for g in groups)
        fdns = [g["mos"].column("fdn").to_pylist() for g in groups]
        assert [f for k in fdns for f in k] == [r["fdn"] for r in rows if r["kind"] == 0]
        owners = [{f.split(",")[0] for f in k} for k in fdns]
        assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1 :])  # never a node cut
        for g, mos in zip(groups, fdns, strict=True):
            assert g["values"].column("fdn").to_pylist() == mos  # a node's values with its MOs
        assert (len(groups) == 1) == (group_rows == 1000), len(groups)


# -- on the cluster ------------------------------------------------------------------------------


def test_batches_come_back_in_order_a_window_at_a_time(spark: Any) -> None:
    """``batches.in_order``: every result, in the items' order, the items taken a window at a
    time (not all before the first result), the results fetched in runs of bounded bytes."""
    from rtbfast.spark.batches import _parts, in_order

    assert list(_parts([5, 5, 5, 20, 1, 1], 10)) == [[0, 1], [2], [3], [4, 5]]
    pulled: list[int] = []

    def items() -> Any:
        for i in range(11):
            pulled.append(i)
            yield i

    least = 2 * spark.sparkContext.defaultParallelism
    results = in_order(spark, items(), lambda i: 10, lambda i: (i, bytes([i]) * (i + 1)), window_bytes=10 * least)
    first = next(results)
    assert first == (0, b"\x00") and len(pulled) == least  # the first window only
    rest = list(results)
    assert [first, *rest] == [(i, bytes([i]) * (i + 1)) for i in range(11)]


def test_read_network_gives_the_tables_of_read_network(spark: Any, generated: Path) -> None:
    from rtbfast.spark import read_network

    mos_df, values_df = read_network(spark, generated, chunk_bytes=128 * 1024)
    whole = rtbfast.read_network(generated)
    for frame, kind in ((mos_df, "mos"), (values_df, "values")):
        got = frame.toArrow()
        assert got.column_names == whole.tables[kind].column_names
        assert _plain(got) == _plain(whole.tables[kind]), kind


def _audit_of_frames(spark: Any, path: Path, catalog: Path, chunk_bytes: int, group_rows: int) -> pa.Table:
    """The audit of the network DataFrames `read_network` gives (not of the file's path)."""
    from rtbfast.spark import audit, read_network

    frames = read_network(spark, path, chunk_bytes=chunk_bytes)
    got: pa.Table = audit(spark, frames, catalog, group_rows=group_rows).toArrow()
    return got


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_read_network_of_a_compressed_export_by_chunks(
    spark: Any, generated: Path, tmp_path: Path, suffix: str
) -> None:
    """A .xml.gz (each chunk inflated from its access point: a binary column of the chunk
    table) or a .xml.bz2 (each decoded from the bzip2 block it starts in) read a chunk per
    task: the rows of rtbfast.read_network of the same file."""
    import bz2
    import gzip

    from rtbfast.spark import read_network

    packed = tmp_path / f"export.xml{suffix}"
    raw = generated.read_bytes()
    packed.write_bytes(gzip.compress(raw, 6) if suffix == ".gz" else bz2.compress(raw, 1))
    assert len([c for c in split([packed], 128 * 1024) if c.access is not None]) > 3
    mos_df, values_df = read_network(spark, packed, chunk_bytes=128 * 1024)
    whole = rtbfast.read_network(packed)
    for frame, kind in ((mos_df, "mos"), (values_df, "values")):
        assert _plain(frame.toArrow()) == _plain(whole.tables[kind]), kind


@pytest.mark.samples
def test_audit_of_the_real_exports_equals_one_machine(spark: Any, catalog: Path, tmp_path: Path) -> None:
    """The paths split into chunks, and the network's DataFrames checked a node group at a
    time: each the one-machine violations, row for row."""
    from rtbfast.spark import audit

    audited = 0
    for path in _bulkcm_samples():
        try:
            single_audit(path, catalog, tmp_path / path.stem)
        except RtbfastError as err:  # a sample the reader refuses: refused the same way
            with pytest.raises(type(err)) as refused:
                audit(spark, path, catalog, chunk_bytes=1024)
            assert str(refused.value) == str(err)
            with pytest.raises(type(err)) as refused:
                _audit_of_frames(spark, path, catalog, 1 << 20, 50)
            assert str(refused.value) == str(err)
            continue
        audited += 1
        expected = pq.read_table(tmp_path / path.stem / "violations.parquet")
        got = audit(spark, path, catalog, chunk_bytes=1024).toArrow()
        assert got.column_names == expected.column_names
        assert _sorted(got) == _sorted(expected), path.name
        of_frames = _audit_of_frames(spark, path, catalog, 1 << 20, 50)
        assert of_frames.schema == got.schema
        assert _sorted(of_frames) == _sorted(expected), path.name
    assert audited >= 3


UNIQUE_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<models><mim name="Ex" version="1" release="0">
  <class name="Cell"><attribute name="earfcndl"><dataType><long><range><min>0</min><max>150</max></range></long>
  </dataType></attribute>
    <attribute name="pci"><dependencies>The value must be unique within the node.</dependencies>
      <dataType><long/></dataType></attribute>
    <attribute name="gid"><dependencies>The value must be unique per parent.</dependencies>
      <dataType><long/></dataType></attribute>
  </class>
</mim></models>
"""


def _unique_export(nodes: int) -> str:
    from tests.test_network_reader import HEAD as head
    from tests.test_network_reader import TAIL, container

    def cell(i: int, pci: int, gid: int) -> str:
        return container(
            "Cell", str(i), f"<ex:earfcndl>{100 + i}</ex:earfcndl><ex:pci>{pci}</ex:pci><ex:gid>{gid}</ex:gid>"
        )

    body = [head, '<xn:SubNetwork id="S">', cell(90, 1, 5)]  # above every node: compared across chunks
    for n in range(nodes):
        cells = "".join(cell(i, i % 3, n % 4) for i in range(6))
        body.append(f'<xn:MeContext id="n{n}"><xn:ManagedElement id="n{n}">{cells}</xn:ManagedElement></xn:MeContext>')
    body += [cell(91, 1, 5), cell(92, 2, 6), "</xn:SubNetwork>", TAIL]  # after the nodes: the last chunk's
    return "".join(body)


def test_audit_of_a_multi_node_export_with_cross_node_rules_equals_one_machine(spark: Any, tmp_path: Path) -> None:
    """Uniqueness within the node, per parent (a node's root's parent is above every node) and
    among MOs above the nodes, which chunks cannot see alone: the second stage finds them."""
    from rtbfast.spark import audit

    model = tmp_path / "unique_mp.xml"
    model.write_text(UNIQUE_MODEL, encoding="utf-8")
    export = tmp_path / "unique.xml"
    export.write_text(_unique_export(40), encoding="utf-8")
    single_audit(export, model, tmp_path / "one", part_bytes=0)
    expected = pq.read_table(tmp_path / "one" / "violations.parquet")
    rules = set(expected.column("rule").to_pylist())
    assert {"dep:Cell.pci:unique", "dep:Cell.gid:unique", "range"} <= rules, rules
    shared = [r for r in expected.to_pylist() if r["subject"] in ("SubNetwork=S,Cell=90", "SubNetwork=S,Cell=91")]
    assert shared, "the MOs above the nodes repeat each other's values"
    assert len(split([export], 8192)) > 5
    got = audit(spark, export, model, chunk_bytes=8192).toArrow()
    assert _sorted(got) == _sorted(expected)
    assert _sorted(_audit_of_frames(spark, export, model, 8192, 100)) == _sorted(expected)


def test_audit_of_a_generated_export_equals_one_machine(
    spark: Any, catalog: Path, generated: Path, tmp_path: Path
) -> None:
    from rtbfast.spark import audit

    single_audit(generated, catalog, tmp_path / "one", part_bytes=0)
    expected = pq.read_table(tmp_path / "one" / "violations.parquet")
    assert expected.num_rows > 0
    got = audit(spark, generated, catalog, chunk_bytes=256 * 1024).toArrow()
    assert _sorted(got) == _sorted(expected)
    assert _sorted(_audit_of_frames(spark, generated, catalog, 1 << 20, 5000)) == _sorted(expected)


def test_a_worker_killed_mid_job_is_rescheduled_and_the_result_is_the_same(
    spark: Any, standalone: StandaloneCluster, catalog: Path, generated: Path, tmp_path: Path
) -> None:
    """A worker's JVM and its executor killed (SIGKILL to the worker's process group) once a
    task has finished and others run: Spark runs the lost tasks on the other worker, and the
    violations are the same. A new worker is started after, for the tests that follow."""
    from rtbfast.spark import audit

    sc = spark.sparkContext
    single_audit(generated, catalog, tmp_path / "one", part_bytes=0)
    expected = _sorted(pq.read_table(tmp_path / "one" / "violations.parquet"))
    assert standalone.alive() == 2 and len(executors(sc.applicationId)) == 2
    victim = standalone.workers[0]
    killed: list[int] = []

    def kill_when_running() -> None:
        tracker = sc.statusTracker()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for stage in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage)
                if info is not None and info.numActiveTasks > 0 and info.numCompletedTasks >= 1:
                    before = set(executors(sc.applicationId))
                    standalone.kill_worker(victim)
                    killed.extend(before - set(executors(sc.applicationId)))
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    got = audit(spark, generated, catalog, chunk_bytes=64 * 1024).toArrow()
    killer.join()
    assert victim.returncode is not None, "no worker was killed while the job ran"
    assert len(killed) == 1, killed  # its executor went with it
    assert _sorted(got) == expected
    deadline = time.monotonic() + 60
    while standalone.alive() != 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert standalone.alive() == 1  # the master saw the worker go
    standalone.add_worker()
    wait_for_executors(sc.applicationId, 2)


def test_the_cli_writes_the_files_it_writes_without_spark(catalog: Path, generated: Path, tmp_path: Path) -> None:
    """The CLI's own driver on ``local[2]``: the session's application holds both workers'
    cores of the standalone cluster for the whole session, so a second application on it would
    wait for cores until the session ends."""
    if java_missing():
        pytest.skip(f"Spark cannot run here: {java_missing()}")
    one = run_cli("audit", generated, "--catalog", catalog, "-o", tmp_path / "one", "--format", "json")
    many = run_cli(
        "audit", generated, "--catalog", catalog, "-o", tmp_path / "many", "--format", "json",
        "--spark", "local[2]", "--conf", "spark.ui.enabled=false", "--conf", QUICK_CONF[0],
    )  # fmt: skip
    assert one.returncode == many.returncode, many.stderr[-3000:]
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == files
    a, b = (pq.read_table(tmp_path / d / "violations.parquet") for d in ("one", "many"))
    assert a.schema == b.schema
    assert _sorted(a) == _sorted(b)
    import json

    sa, sb = (json.loads((tmp_path / d / "audit.json").read_text()) for d in ("one", "many"))
    for key in ("mos", "values_checked", "violations", "by_severity", "by_rule", "by_class", "by_node"):
        assert sa[key] == sb[key], key
    bad = run_cli(
        "audit", generated, "--catalog", catalog, "-o", tmp_path / "x", "--spark", "local[1]", "--conf", "nokey"
    )
    assert bad.returncode != 0 and "KEY=VALUE" in bad.stderr and "Traceback" not in bad.stderr


# -- plans: the batches of node groups planned on the cluster ----------------------------------


def _digests(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _plan_both(spark: Any, tmp_path: Path, source: Path, catalog: Path, network: Path, **options: Any) -> None:
    """The plan folder of a run without Spark and of one with its batches (each node group
    alone) planned on the cluster: the same files, byte for byte, or the same problems."""
    from rtbfast.enm.plan import PlanError
    from rtbfast.enm.planning import plan_folder
    from rtbfast.spark.plan_job import spark_batches

    try:
        one = plan_folder(source, catalog, network, tmp_path / "one", budget=1, **options)
    except PlanError as err:
        with pytest.raises(type(err)) as refused:
            plan_folder(
                source, catalog, network, tmp_path / "many", budget=1, run_batches=spark_batches(spark), **options
            )
        assert refused.value.problems == err.problems
        assert not (tmp_path / "many").exists()
        return
    many = plan_folder(
        source, catalog, network, tmp_path / "many", budget=1, run_batches=spark_batches(spark), **options
    )
    assert one.get("commands") == many.get("commands")
    files = _digests(tmp_path / "one")
    assert "plan.cmedit" in files and "plan.parquet" in files
    assert _digests(tmp_path / "many") == files


def test_a_plan_of_a_template_over_every_cell_is_byte_identical(
    spark: Any, example_out: Path, export: Path, tmp_path: Path
) -> None:
    """The template expanded over every cell (on the driver), each node group planned on the
    cluster, every file of the plan folder byte for byte the single machine's."""
    template = tmp_path / "t.json"
    template.write_text(
        '[{"$meta": {"name": "t"}}, {"EUtranCellFDD": {"qRxLevMin": -120, "cellRange": "KM_100"}}]', encoding="utf-8"
    )
    _plan_both(spark, tmp_path, template, example_out, export, targets=["*"], allow_unknown_rollback=True)
    lines = (tmp_path / "many" / "plan.cmedit").read_text().splitlines()
    assert len(lines) > 10 and all("qRxLevMin=-120" in line for line in lines if "set" in line)


@pytest.mark.parametrize("name", ["many-45", "skeleton-59"])
def test_a_plan_of_many_node_groups_is_byte_identical(spark: Any, name: str, tmp_path: Path) -> None:
    """The streamed-plan cases: references across nodes, creates, cascaded deletes, locks."""
    import rtbfast as api
    from tests import stream_cases
    from tests.test_plan_streaming import materialize

    built = tmp_path / "catalog-built"
    api.build(stream_cases.MODEL, built)
    folder = materialize(name, tmp_path / name, built)
    _plan_both(
        spark,
        tmp_path,
        folder / "changes.parquet",
        folder / "catalog",
        folder / "network.xml",
        allow_unknown_rollback=True,
    )


def test_the_plan_cli_writes_the_same_files_with_spark(example_out: Path, export: Path, tmp_path: Path) -> None:
    if java_missing():
        pytest.skip(f"Spark cannot run here: {java_missing()}")
    template = tmp_path / "t.json"
    template.write_text('[{"EUtranCellFDD": {"qRxLevMin": -118}}]', encoding="utf-8")
    args: list[str | Path] = ["plan", template, "--targets", "*", "--catalog", example_out, "--network", export]
    one = run_cli(*args, "-o", tmp_path / "one")
    many = run_cli(
        *args,
        "-o",
        tmp_path / "many",
        "--spark",
        "local[2]",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        QUICK_CONF[0],
    )
    assert one.returncode == many.returncode == 0, many.stderr[-3000:]
    assert _digests(tmp_path / "many") == _digests(tmp_path / "one")


def test_a_session_on_another_master_is_refused_while_one_runs(spark: Any) -> None:
    """pyspark's getOrCreate hands back the running session whatever master is asked for; rtbfast
    says so instead of running on a cluster the caller did not name."""
    from rtbfast.spark.session import SparkUnavailableError, session

    with pytest.raises(SparkUnavailableError, match="already runs in this process"):
        session("local[1]")
    assert session(spark.sparkContext.master).sparkContext is spark.sparkContext
