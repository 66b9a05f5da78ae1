"""Expansion node batch by node batch (:mod:`rtbfast.templates.expand_stream`) against the
expansion of the whole network at once (:func:`rtbfast.templates.expand.expand_whole`, what main runs
today): the same ChangeSet (table equality, and the same Parquet bytes), the same notes and
verdicts, for any batch size; a template that looks across nodes expanded whole (and still the
same). The real RTB templates over the rich generated export (several nodes, a second
SubNetwork) and over the real Bulk CM samples; the export read as XML and as a build folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rtbfast
from bench.generate import write_export
from rtbfast.catalog_view import CatalogView
from rtbfast.changeset import read_changeset, write_changeset, write_changeset_batches
from rtbfast.templates.expand import Expansion, expand, expand_whole
from rtbfast.templates.expand_stream import Streamed, expand_streamed
from tests.conftest import EXAMPLES, samples_dir
from tests.conftest import rtbfast as run_cli

BUDGETS = (1, 10**9)
"""Each node a batch of its own; the whole network one batch."""

REAL = (
    "autoroute.json",
    "audit_slicing.json",
    "audit_qci_5qi_with_LU.json",
    "lbo_rtb.json",
    "pmr_vpn_stop.json",
    "cluster_jo_2024_creation.json",
)
READS_TARGETS = {"audit_qci_5qi_with_LU.json"}
"""Real templates that read ``targets`` (``if cell != targets[-1]``, then lock every cell
collected in ``vars`` from the last target): expanded whole."""


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rich generator's export, 19 nodes (LTE and NR cells, relations between cells)."""
    path: Path = write_export(tmp_path_factory.mktemp("net") / "export.xml", 1.0, rich=True, relations=2)
    return path


@pytest.fixture(scope="module")
def motorway(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The expansion benchmark's template (the motorway variant of the example's base cell, the
    MOs the node creates left out)."""
    from bench.test_expand_memory import _without_node_made
    from rtbfast.templates.tree import template_json
    from rtbfast.templates.typed import make_variants

    (variant,) = make_variants(
        EXAMPLES / "templates" / "base_cell.yaml", [EXAMPLES / "templates" / "motorway_mobility.yaml"]
    )
    path: Path = tmp_path_factory.mktemp("tpl") / "motorway.json"
    path.write_text(json.dumps(_without_node_made(json.loads(template_json(variant.compiled)))), encoding="utf-8")
    return path


def _sorted_rows(table: pa.Table) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())


def assert_same(streamed: Streamed, whole: Expansion, tmp_path: Path) -> None:
    """The streamed expansion is the whole's: rows in order, notes, verdicts, and the file."""
    changes = streamed.table()
    assert changes.schema.equals(whole.changes.schema)
    assert changes.equals(whole.changes)
    assert streamed.rows == whole.changes.num_rows
    assert [str(n) for n in streamed.notes] == [str(n) for n in whole.notes]
    assert [n.target for n in streamed.notes] == [n.target for n in whole.notes]
    assert streamed.target_cells == len(whole.targets)
    assert streamed.clusters == whole.clusters
    assert whole.verdicts is not None
    assert streamed.verdicts["seq"].to_pylist() == whole.verdicts["seq"].to_pylist()
    assert _sorted_rows(streamed.verdicts) == _sorted_rows(whole.verdicts)
    made_from = {"template": "t", "targets": ["*"]}
    write_changeset(whole.changes, tmp_path / "whole.parquet", made_from)
    write_changeset_batches(streamed.batches, tmp_path / "streamed.parquet", made_from)
    assert (tmp_path / "streamed.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


@pytest.mark.samples
@pytest.mark.parametrize("name", REAL)
def test_real_templates_streamed_are_the_whole_expansion(
    name: str, real_catalog: CatalogView, export: Path, tmp_path: Path
) -> None:
    template = samples_dir("rtb") / name
    whole = expand_whole(template, real_catalog, export, ["*"])
    for budget in BUDGETS:
        work = tmp_path / f"b{budget}"
        work.mkdir()
        streamed = expand_streamed(template, real_catalog, export, ["*"], work, budget=budget)
        assert (streamed.read_whole is not None) == (name in READS_TARGETS), streamed.read_whole
        if streamed.read_whole is None:
            assert streamed.batches_expanded == (1 if budget == 10**9 else streamed.batches_expanded)
            if budget == 1:
                assert streamed.batches_expanded == 19  # each node alone
        assert_same(streamed, whole, work)
    assert whole.changes.num_rows > 0 or name == "cluster_jo_2024_creation.json"


@pytest.mark.samples
@pytest.mark.parametrize(
    "export_name",
    ["bodastage_bulkcm.xml", "yuriyarhipov_ossrc_wran_export_excerpt.xml", "sigscale_rim_example_eutran.xml"],
)
def test_over_the_real_exports(export_name: str, real_catalog: CatalogView, tmp_path: Path) -> None:
    network = samples_dir("bulkcm") / export_name
    for name in ("autoroute.json", "lbo_rtb.json", "pmr_vpn_stop.json"):
        template = samples_dir("rtb") / name
        try:
            whole = expand_whole(template, real_catalog, network, ["*"])
        except rtbfast.errors.InputError as err:  # no cell of the six classes: the same error
            with pytest.raises(rtbfast.errors.InputError) as streamed_err:
                expand_streamed(template, real_catalog, network, ["*"], tmp_path)
            assert str(streamed_err.value) == str(err)
            continue
        for budget in (1, 10**9):
            work = tmp_path / f"{name}-{budget}"
            work.mkdir()
            streamed = expand_streamed(template, real_catalog, network, ["*"], work, budget=budget)
            assert_same(streamed, whole, work)


def test_a_build_folders_network_streams_the_same(motorway: Path, export: Path, tmp_path: Path) -> None:
    """The network read from a build folder's ``network/*.parquet`` (read a batch of rows at a
    time: a node may be cut between two) and the example catalog: the motorway template."""
    out = tmp_path / "out"
    rtbfast.build([EXAMPLES / "enodeb_mini_mp.xml", export], out)
    catalog = CatalogView.load(out)
    whole = expand_whole(motorway, catalog, out, ["*"])
    assert whole.changes.num_rows > 100
    for budget in BUDGETS:
        work = tmp_path / f"b{budget}"
        work.mkdir()
        streamed = expand_streamed(motorway, catalog, out, ["*"], work, budget=budget)
        assert streamed.read_whole is None
        assert_same(streamed, whole, work)
        # and from the export itself
        again = expand_streamed(motorway, catalog, export, ["*"], work, budget=budget)
        assert again.table().equals(whole.changes)


CROSSING = {
    "skeleton-children": {
        "EUtranCellFDD": {
            "userLabel": {"$eval": "str(len(cell.parent(4).get_children()))"},
        }
    },
    "other-node-writes": {
        "EUtranCellFDD": {
            "$eval": "enet.set_mo_params('SubNetwork-ROOT/MeContext-NODE000000/ManagedElement-NODE000000/"
            "ENodeBFunction-1/EUtranCellFDD-NODE000000_0', {'userLabel': cell.dn[-12:]})",
        }
    },
    "targets": {"EUtranCellFDD": {"userLabel": {"$eval": "'last' if cell == targets[-1] else 'not'"}}},
    "within-nodes": {
        "EUtranCellFDD": {
            "userLabel": {"$eval": "str(len(cell.cosites('LTE'))) + cell.parent(1).dn[-5:]"},
            "qRxLevMin": -120,
        }
    },
}


@pytest.mark.samples
@pytest.mark.parametrize("name", sorted(CROSSING))
def test_templates_looking_across_nodes_are_expanded_whole(
    name: str, real_catalog: CatalogView, export: Path, tmp_path: Path
) -> None:
    template = tmp_path / f"{name}.json"
    template.write_text(json.dumps([CROSSING[name]]), encoding="utf-8")
    whole = expand_whole(template, real_catalog, export, ["*"])
    assert whole.changes.num_rows > 0 and not [n for n in whole.notes if n.severity == "error"], whole.notes
    streamed = expand_streamed(template, real_catalog, export, ["*"], tmp_path, budget=1)
    assert (streamed.read_whole is None) == (name == "within-nodes"), streamed.read_whole
    assert_same(streamed, whole, tmp_path)


def assert_same_expansion(api: Expansion, whole: Expansion) -> None:
    """The API's result is the whole's as it is: every table equal (rows in order, a chunk a
    column), the notes, targets and clusters."""
    assert api.changes.schema.equals(whole.changes.schema)
    assert api.changes.equals(whole.changes)
    assert [c.num_chunks for c in api.changes.columns] == [c.num_chunks for c in whole.changes.columns]
    assert [str(n) for n in api.notes] == [str(n) for n in whole.notes]
    assert [n.target for n in api.notes] == [n.target for n in whole.notes]
    assert api.targets == whole.targets
    assert api.clusters == whole.clusters
    assert api.verdicts is not None and whole.verdicts is not None
    assert api.verdicts.equals(whole.verdicts)


def test_the_api_streams_and_gives_what_it_gave(example_out: Path, motorway: Path, export: Path) -> None:
    """:func:`expand` (the API) expands a file or folder's network node batch by node batch:
    its result is the whole network's expansion (what it gave before), for every target, a
    list of them and a glob; an index already read is expanded whole."""
    from rtbfast.templates.expand import read_network_index

    catalog = CatalogView.load(example_out)
    index = read_network_index(export, catalog)
    cells = [index.id[r] for r in index.rows_of_class({"EUtranCellFDD"})]
    for targets in (["*"], cells[::3], ["*_1"]):
        whole = expand_whole(motorway, catalog, export, targets)
        assert whole.changes.num_rows > 0
        assert_same_expansion(expand(motorway, catalog, export, targets), whole)
    assert_same_expansion(expand(motorway, catalog, index, ["*"]), expand_whole(motorway, catalog, index, ["*"]))


@pytest.mark.samples
@pytest.mark.parametrize("name", REAL)
def test_the_api_gives_the_whole_expansion_of_real_templates(
    name: str, real_catalog: CatalogView, export: Path
) -> None:
    template = samples_dir("rtb") / name
    assert_same_expansion(
        expand(template, real_catalog, export, ["*"]), expand_whole(template, real_catalog, export, ["*"])
    )


def test_the_bound_on_all_rows_stops_at_the_same_target(
    real_catalog: CatalogView, export: Path, tmp_path: Path
) -> None:
    from rtbfast.templates.sandbox import Limits

    template = samples_dir("rtb") / "autoroute.json"
    limits = Limits(rows=1000)
    whole = expand_whole(template, real_catalog, export, ["*"], limits=limits)
    assert any(n.kind == "limit" for n in whole.notes)
    streamed = expand_streamed(template, real_catalog, export, ["*"], tmp_path, budget=1, limits=limits)
    assert streamed.read_whole is None
    assert_same(streamed, whole, tmp_path)


@pytest.mark.samples
def test_the_cli_writes_the_changeset_main_writes(real_catalog: CatalogView, export: Path, tmp_path: Path) -> None:
    """``rtbfast templates expand --targets '*'``: its file is the whole expansion written by
    :func:`write_changeset` with the same metadata, byte for byte; its output the same lines."""
    samples = samples_dir("mom").parent
    out = tmp_path / "build"
    rtbfast.build(
        samples / "mom" / "ERBS_NODE_MODEL_D_full_mp.xml",
        out,
        workbook=samples / "csv" / "Spreadsheets_Parameters.ran-subset.csv",
        structs=samples / "csv" / "Spreadsheets_StructParameters.ran-subset.csv",
    )
    template = samples_dir("rtb") / "pmr_vpn_stop.json"
    run = run_cli(
        "templates", "expand", template, "--catalog", out, "--network", export, "--targets", "*", "-o",
        tmp_path / "changes.parquet", "--allow-errors",
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr
    written, made_from = read_changeset(tmp_path / "changes.parquet")
    whole = expand_whole(template, CatalogView.load(out), export, ["*"])
    assert written.equals(whole.changes)
    write_changeset(whole.changes, tmp_path / "whole.parquet", made_from)
    assert (tmp_path / "changes.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert made_from["target_cells"] == len(whole.targets)
    assert pq.ParquetFile(tmp_path / "changes.parquet").metadata.num_rows == whole.changes.num_rows


def _planned_as_main_did(template: Path, catalog: CatalogView, export: Path, out: Path) -> dict[str, Any]:
    """``plan_folder`` for a template as main ran it: the whole network's expansion
    (``_expanded``), its table given batch by batch to the plan."""
    from rtbfast.enm.node_groups import BUDGET, Workspace, network_pieces
    from rtbfast.enm.plan_stream import plan_in_groups, table_batches
    from rtbfast.enm.planning import _expanded, write_grouped

    made_from: dict[str, Any] = {"catalog": catalog.origin or str(catalog), "network": str(export)}
    changes, expanded = _expanded(template, catalog, export, ["*"], 0, lambda _: None)
    made_from.update(expanded)
    with Workspace() as work:
        grouped = plan_in_groups(
            table_batches(changes),
            network_pieces(export),
            catalog,
            work.path,
            made_from=made_from,
            budget=BUDGET,
            allow_unknown_rollback=True,
        )
        return write_grouped(grouped, out)


def test_plan_of_a_template_streams_through_both(
    example_out: Path, motorway: Path, export: Path, tmp_path: Path
) -> None:
    """``rtbfast plan TEMPLATE --targets '*'``: the template expanded node batch by node batch,
    then planned node group by node group: every file of the plan folder byte for byte what
    main wrote (the whole network's expansion planned)."""
    from rtbfast.enm.planning import plan_folder

    catalog = CatalogView.load(example_out)
    main_report = _planned_as_main_did(motorway, catalog, export, tmp_path / "main")
    report = plan_folder(motorway, catalog, export, tmp_path / "streamed", ["*"], allow_unknown_rollback=True)
    assert json.dumps(report, sort_keys=True, default=str) == json.dumps(main_report, sort_keys=True, default=str)
    want = {p.name: p.read_bytes() for p in sorted((tmp_path / "main").iterdir())}
    got = {p.name: p.read_bytes() for p in sorted((tmp_path / "streamed").iterdir())}
    assert sorted(got) == sorted(want) and "plan.cmedit" in got
    for name, data in want.items():
        if name == ".rtbfast-output.json":  # names its folder
            continue
        assert got[name] == data, name
