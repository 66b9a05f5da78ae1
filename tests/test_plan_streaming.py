"""``rtbfast plan`` streamed node group by node group gives, byte for byte, the plan folder it
gave when it planned the whole network at once.

The cases are generated (``tests/stream_cases.py``): several nodes with references between
them, ChangeSets whose rows interleave nodes, creates, deletes, locks, cycles, cascades, several
phases. ``tests/golden/stream/digests.json`` holds the sha256 of every file ``rtbfast plan``
wrote for each case on main planning the whole network at once (first at commit c2c23b5; the
summaries of three cases, ``locks-46``, ``sparse-47`` and ``unsorted-57``, made again at a39c1ea,
where the native planner lists lock windows, notes and effects in the order of their first
write instead of Arrow's hash grouping), and what it said on stderr; the test runs the same
commands and compares. A digest changes only on purpose: rewrite
them with RTBFAST_UPDATE_GOLDEN=1 and say why in the commit."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import rtbfast
from rtbfast.changeset import write_changeset
from rtbfast.network_writer import write_network_xml
from tests import stream_cases

GOLDEN = Path(__file__).parent / "golden" / "stream" / "digests.json"
UPDATE = os.environ.get("RTBFAST_UPDATE_GOLDEN") == "1"


def _mandatory_cycle(rng: random.Random) -> tuple[dict[str, pa.Table], pa.Table]:
    """Two new term points of one node, each the other's mandatory peer: cannot be planned;
    another node's new carriers refer to each other too (a cycle that can be broken)."""
    net = stream_cases.make_network(rng, 4)
    c = stream_cases.make_changes(rng, net, deletes=False)
    enb = net.nodes[1]
    a, b = f"{enb},TermPoint=1", f"{enb},TermPoint=2"
    c.write("create", a)
    c.write("create", a, "peerTermPointRef", [(None, 0, b)])
    c.write("create", b)
    c.write("create", b, "peerTermPointRef", [(None, 0, a)])
    return net.tables(), c.table(rng)


def _refused(rng: random.Random) -> tuple[dict[str, pa.Table], pa.Table]:
    """Problems in three nodes: an MO that does not exist, a value out of range, an unknown
    attribute."""
    net = stream_cases.make_network(rng, 5)
    c = stream_cases.make_changes(rng, net)
    c.write("set", f"{net.nodes[0]},EUtranCellFDD=NOPE", "cellRange", [(None, 0, "KM_15")])
    c.write("set", net.cells[-1], "qRxLevMin", [(None, 0, "-20")])
    c.write("set", net.nodes[2], "noSuchThing", [(None, 0, "1")])
    return net.tables(), c.table(rng)


def _unwritable(rng: random.Random) -> tuple[dict[str, pa.Table], pa.Table]:
    """Labels some dialects cannot carry: a quote (none but 3GPP XML), a ``$`` (not moshell)."""
    net = stream_cases.make_network(rng, 12, cross=False)
    c = stream_cases.make_changes(rng, net, cross=False)
    for k, cell in enumerate(net.cells[::3]):
        c.write("set", cell, "userLabel", [(None, 0, 'say "north"' if k % 2 else "cost $5")])
    return net.tables(), c.table(rng)


def _quiet(rng: random.Random, rows: bool) -> tuple[dict[str, pa.Table], pa.Table]:
    """A ChangeSet that changes nothing: values the network holds already, or no row at all."""
    net = stream_cases.make_network(rng, 4)
    c = stream_cases.ChangeRows()
    if rows:
        for v in net.values[:60]:
            top = v["fdn"].rsplit(",", 1)[-1].startswith(("SubNetwork=", "MeContext=", "ManagedElement="))
            if v["member"] is None and not top and v["attribute"] not in ("adjacentCellRef", "neighborCellRef"):
                c.write("set", v["fdn"], v["attribute"], [(None, v["index"], v["value"])])
    return net.tables(), c.table(rng)


def _skeleton(rng: random.Random) -> tuple[dict[str, pa.Table], pa.Table]:
    """A change of a MO above every node (a SubNetwork, which the catalog does not know)."""
    net = stream_cases.make_network(rng, 5)
    c = stream_cases.make_changes(rng, net)
    c.write("set", "SubNetwork=ROOT,SubNetwork=EAST", "userLabel", [(None, 0, "west")])
    return net.tables(), c.table(rng)


def _unsorted(rng: random.Random) -> tuple[dict[str, pa.Table], pa.Table]:
    """A ChangeSet whose ``seq`` does not follow its rows (the planner sorts them), two rows
    sharing one."""
    net = stream_cases.make_network(rng, 6, cross=False)
    changes = stream_cases.make_changes(rng, net, cross=False).table(rng)
    seq = list(range(changes.num_rows))
    order = sorted(range(len(seq)), key=lambda i: (rng.random(), i))
    shuffled = [seq[i] // 2 * 2 if i % 7 == 0 else seq[i] for i in order]  # some writes now after others
    return net.tables(), changes.set_column(
        changes.schema.get_field_index("seq"), "seq", pa.array(shuffled, pa.int64())
    )


def _case(name: str) -> tuple[dict[str, pa.Table], pa.Table]:
    kind, _, number = name.partition("-")
    seed = int(number)
    rng = random.Random(seed)
    if kind in ("quiet", "empty"):
        return _quiet(rng, rows=kind == "quiet")
    if kind == "unsorted":
        return _unsorted(rng)
    if kind == "skeleton":
        return _skeleton(rng)
    if kind == "cycle":
        return _mandatory_cycle(rng)
    if kind == "refused":
        return _refused(rng)
    if kind == "unwritable":
        return _unwritable(rng)
    nodes = {"wide": 8, "many": 30, "locks": 60, "sparse": 25}.get(kind, 5)
    cross = kind not in ("locks", "sparse")
    net = stream_cases.make_network(rng, nodes, cross=cross)
    changes = stream_cases.make_changes(
        rng, net, deletes=kind != "nodelete", cross=cross, locks=0.5 if kind == "locks" else 0.15
    )
    return net.tables(), changes.table(rng, interleave=kind != "ordered")


ALLOW = ("--allow-unknown-rollback",)
CASES: dict[str, tuple[str, ...]] = {
    **{f"mixed-{seed}": ALLOW for seed in range(8)},
    "wide-20": ALLOW,
    "wide-21": (*ALLOW, "--form", "node"),
    "ordered-30": ALLOW,
    "nodelete-31": ALLOW,
    "mixed-40": (*ALLOW, "--import-chunk", "4"),
    "mixed-41": (*ALLOW, "--import-chunk", "1", "--dialect", "dynamic", "--dialect", "cmedit"),
    "mixed-42": ("--dialect", "cmedit", "--dialect", "moshell"),  # refused: attributes without old values
    "mixed-43": (*ALLOW, "--dialect", "3gpp"),
    "folder-44": ALLOW,  # the network from a build folder's network/*.parquet
    "many-45": ALLOW,
    "locks-46": ALLOW,
    "sparse-47": ALLOW,
    "sparse-48": (*ALLOW, "--form", "node"),
    "cycle-50": ALLOW,
    "refused-51": ALLOW,
    "unwritable-52": ALLOW,
    "unwritable-53": (*ALLOW, "--dialect", "cmedit", "--dialect", "moshell"),
    "quiet-55": ALLOW,
    "empty-56": ALLOW,
    "unsorted-57": ALLOW,
    "unsorted-58": ALLOW,
    "skeleton-59": ALLOW,
}
"""Case name (kind-seed) → the options of ``rtbfast plan``."""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out: Path = tmp_path_factory.mktemp("stream-catalog") / "catalog"
    rtbfast.build(stream_cases.MODEL, out)
    return out


def materialize(name: str, folder: Path, catalog: Path) -> Path:
    """The case's export, ChangeSet and catalog in `folder` (named as the golden run named
    them: ``network.xml``, ``changes.parquet``, ``catalog``)."""
    tables, changes = _case(name)
    folder.mkdir(parents=True, exist_ok=True)
    write_network_xml(tables, folder / "network.xml")
    write_changeset(changes, folder / "changes.parquet", {"by": "tests/stream_cases.py", "case": name})
    link = folder / "catalog"
    if not link.exists():
        link.symlink_to(catalog, target_is_directory=True)
    if name.startswith("folder-"):
        rtbfast.build([stream_cases.MODEL, folder / "network.xml"], folder / "built")
    return folder


def run_plan(folder: Path, *options: str, env: dict[str, str] | None = None, process: bool = True) -> dict[str, Any]:
    """``rtbfast plan`` in `folder` on its case, paths relative (in a process of its own, or
    in this one through click's runner); the exit, stderr and the sha256 of every file of the
    plan folder."""
    network = "built" if (folder / "built").is_dir() else "network.xml"
    args = ["plan", "changes.parquet", "--catalog", "catalog", "--network", network, *options, "-o", "plan"]
    if process:
        run = subprocess.run(
            [sys.executable, "-m", "rtbfast.cli", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env={**os.environ, **(env or {})},
        )
        returncode, stdout, stderr = run.returncode, run.stdout, run.stderr
    else:
        from click.testing import CliRunner

        from rtbfast.cli import main

        here = Path.cwd()
        os.chdir(folder)
        try:
            result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
        finally:
            os.chdir(here)
        returncode, stdout, stderr = result.exit_code, result.stdout, result.stderr
    out = folder / "plan"
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())} if out.is_dir() else {}
    return {"returncode": returncode, "stdout": stdout, "stderr": stderr, "files": files}


def _golden() -> dict[str, Any]:
    if not GOLDEN.exists():
        return {}
    loaded: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return loaded


BUDGETS = {"one-batch": "1000000000", "each-group-alone": "1", "a-few-groups": "300"}
"""``RTBFAST_PLAN_BUDGET``: the whole plan one batch; each node group a batch of its own;
batches of a few groups."""


@pytest.mark.parametrize("budget", sorted(BUDGETS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_plan_folder_is_what_main_wrote(name: str, budget: str, catalog: Path, tmp_path: Path) -> None:
    if UPDATE and budget != "one-batch":
        pytest.skip("the digests are made once a case")
    if budget == "a-few-groups" and name.split("-")[0] not in ("many", "locks", "sparse", "wide", "unwritable"):
        pytest.skip("a few nodes: their groups are one batch or each alone")
    folder = materialize(name, tmp_path / name, catalog)
    reference = os.environ.get("RTBFAST_GOLDEN_PYTHONPATH")  # main's package, to make the digests with
    env = {"PYTHONPATH": reference} if UPDATE and reference else {"RTBFAST_PLAN_BUDGET": BUDGETS[budget]}
    got = run_plan(folder, *CASES[name], env=env, process=UPDATE)
    golden = _golden()
    if UPDATE:
        golden[name] = {**got, "pyarrow": pa.__version__}
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(dict(sorted(golden.items())), indent=1) + "\n", encoding="utf-8")
        return
    want = golden[name]
    assert got["returncode"] == want["returncode"], got["stderr"]
    assert got["stderr"] == want["stderr"]
    assert got["stdout"] == want["stdout"]
    files = dict(got["files"])
    expected = dict(want["files"])
    if want["pyarrow"] != pa.__version__:  # Parquet files name the writer's version
        for stem in ("plan.parquet", "rollback.parquet", ".rtbfast-output.json"):
            files.pop(stem, None), expected.pop(stem, None)
    assert files == expected


# -- the merge itself, in process, against the planner run on the whole network ------------------


@pytest.fixture(scope="module")
def enm_catalog(catalog: Path) -> Any:
    from rtbfast.catalog_view import CatalogView

    return CatalogView.load(catalog)


def _whole_and_grouped(name: str, catalog: Any, tmp_path: Path, budget: int) -> tuple[Any, Any]:
    """The case planned whole (the planner, the rollback) and batch by batch (with each step's
    place checked against the planner's order in every batch)."""
    from rtbfast.enm.plan import PlanError, make_plan
    from rtbfast.enm.plan_stream import plan_in_groups, table_batches, table_pieces
    from rtbfast.enm.rollback import make_rollback
    from rtbfast.network_index import NetworkIndex, read_network_tables

    tables, changes = _case(name)
    write_network_xml(tables, tmp_path / "network.xml")
    network = read_network_tables(tmp_path / "network.xml")  # as the reader gives it
    index = NetworkIndex(network)
    whole: Any
    try:
        plan = make_plan(changes, index, catalog)
        whole = (plan, make_rollback(plan.steps, index, catalog, allow_unknown=True))
    except PlanError as err:
        whole = [str(p) for p in err.problems]
    work = tmp_path / "work"
    work.mkdir()
    grouped: Any
    try:
        grouped = plan_in_groups(
            table_batches(changes),
            table_pieces(network),
            catalog,
            work,
            budget=budget,
            allow_unknown_rollback=True,
            check=True,
        )
    except PlanError as err:
        grouped = [str(p) for p in err.problems]
    return whole, grouped


GENERATED = [
    f"{kind}-{seed}"
    for kind, seeds in (
        ("mixed", range(60, 72)),
        ("sparse", range(72, 78)),
        ("locks", range(78, 81)),
        ("unsorted", range(81, 85)),
    )
    for seed in seeds
]


@pytest.mark.parametrize("name", GENERATED)
def test_planned_by_groups_is_the_plan_of_the_whole(name: str, enm_catalog: Any, tmp_path: Path) -> None:
    """Every row of the plan and of its rollback, the notes, the effects, the attributes the
    rollback cannot restore: as the planner gives them for the whole network, each node group
    planned alone."""
    whole, grouped = _whole_and_grouped(name, enm_catalog, tmp_path, budget=1)
    if isinstance(whole, list):
        assert grouped == whole
        return
    plan, rollback = whole
    steps, back = grouped.whole()
    if name.startswith(("sparse", "locks", "unsorted")):  # a mixed case's references may join every node
        assert grouped.batches > 1
    assert steps.equals(plan.steps)
    assert back.equals(rollback.steps)
    assert [str(n) for n in grouped.notes] == [str(n) for n in plan.notes]
    assert grouped.effects == plan.effects
    unknown = list(grouped.unknown_rows())
    assert pa.concat_tables(unknown).equals(rollback.unknown) if unknown else not rollback.unknown.num_rows
    assert grouped.order.dropped == plan.dropped


def test_parquet_written_a_window_at_a_time_is_what_write_table_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row groups cut across windows, each column one chunk: the bytes of ``pq.write_table``
    (row groups made small here, as the whole table's are at 1,048,576 rows)."""
    import pyarrow.parquet as pq

    from rtbfast.enm.planning import ParquetRows
    from rtbfast.schemas import PLAN_SCHEMA

    rng = random.Random(7)
    n = 25_000
    table = pa.table(
        {
            "step": pa.array([i // 3 for i in range(n)], pa.int64()),
            "phase": ["default"] * n,
            "phase_order": pa.array([0] * n, pa.int32()),
            "op": [rng.choice(["set", "create", "lock"]) for _ in range(n)],
            "fdn": [f"SubNetwork=R,MeContext=N{i // 40},ManagedElement=1,X={i % 7}" for i in range(n)],
            "class": ["X"] * n,
            "attribute": [rng.choice(["a", "b", None]) for _ in range(n)],
            "member": pa.nulls(n, pa.string()),
            "index": pa.array([i % 3 for i in range(n)], pa.int32()),
            "value": [str(rng.randint(0, 10**6)) for _ in range(n)],
            "kind": ["integer"] * n,
            "is_sequence": [False] * n,
            "source": [f"t.json#/{i}" for i in range(n)],
        },
        schema=PLAN_SCHEMA,
    )
    monkeypatch.setattr(ParquetRows, "ROW_GROUP", 4096)
    rows = ParquetRows(tmp_path / "windows.parquet", PLAN_SCHEMA, tmp_path)
    at = 0
    while at < n:
        size = rng.randint(1, 3000)
        rows.add(table.slice(at, size))
        at += size
    rows.close()
    pq.write_table(table.combine_chunks(), tmp_path / "whole.parquet", row_group_size=4096)
    assert pq.ParquetFile(tmp_path / "windows.parquet").metadata.num_row_groups == 7
    assert (tmp_path / "windows.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_rows_in_step_order_are_given_back_as_they_are_else_stably_sorted() -> None:
    from rtbfast.enm.plan_stream import in_step_order

    ordered = pa.table({"step": pa.array([0, 0, 1, 3, 3], pa.int64()), "v": ["a", "b", "c", "d", "e"]})
    assert in_step_order(ordered) is ordered  # no copy
    # two batches' rows interleaved: sorted by step, each step's rows in their order
    mixed = pa.concat_tables(
        [pa.table({"step": pa.array([0, 2, 2], pa.int64()), "v": ["a", "b", "c"]}), ordered.slice(2)]
    )
    out = in_step_order(mixed)
    assert out["step"].to_pylist() == [0, 1, 2, 2, 3, 3]
    assert out["v"].to_pylist() == ["a", "c", "b", "c", "d", "e"]
    # a null step is never taken to be in order: sorted last, as sort_indices puts it
    with_null = pa.table({"step": pa.array([0, None, 1], pa.int64()), "v": ["a", "b", "c"]})
    assert in_step_order(with_null)["v"].to_pylist() == ["a", "c", "b"]
