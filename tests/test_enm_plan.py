"""The planner: a ChangeSet, the network it applies to and the catalog → ordered, minimal steps
with locks, and every refusal located at the ChangeSet row it comes from. Networks are the
rich generated export; the catalog is the example model with its workbook (and, for reference
cycles, that model with references added both ways)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rtbfast.catalog_view import ADMIN, CatalogView
from rtbfast.enm.plan import PlanError, make_plan
from rtbfast.network_index import NetworkIndex, read_network_tables
from tests.conftest import EXAMPLES
from tests.enm_fixtures import CELL, CELL1, ENB, Changes


def heads(steps: pa.Table) -> list[tuple[int, str, str]]:
    """(step, op, fdn) once per step, in order."""
    seen: dict[int, tuple[int, str, str]] = {}
    for r in steps.to_pylist():
        seen.setdefault(r["step"], (r["step"], r["op"], r["fdn"]))
    return [seen[s] for s in sorted(seen)]


def written(steps: pa.Table, step: int) -> dict[str, Any]:
    return {r["attribute"]: r["value"] for r in steps.to_pylist() if r["step"] == step and r["member"] is None}


def problems(changes: Changes, network: NetworkIndex, catalog: CatalogView) -> list[tuple[str, str, str | None]]:
    with pytest.raises(PlanError) as caught:
        make_plan(changes.table(), network, catalog)
    return [(p.code, p.message, p.source) for p in caught.value.problems]


def cell_state(network: NetworkIndex, fdn: str) -> Any:
    return network.value(network.row_of[fdn], ADMIN)


def test_sets_are_merged_per_mo_and_dropped_when_already_true(network: NetworkIndex, catalog: CatalogView) -> None:
    row = network.row_of[CELL1]
    earfcn = network.value(row, "earfcndl")
    qrx = network.value(row, "qRxLevMin")
    assert earfcn is not None and qrx is not None
    changes = (
        Changes()
        .add("set", CELL1, "earfcndl", "0" + str(earfcn))  # "0…" is the same integer: dropped
        .add("set", CELL1, "qRxLevMin", str(int(qrx) + 2))
        .add("set", CELL1, "cellRange", "KM_100")
        .add("set", CELL1, "qRxLevMin", str(int(qrx) + 4))  # the last write wins
    )
    plan = make_plan(changes.table(), network, catalog)
    sets = [h for h in heads(plan.steps) if h[1] == "set"]
    assert len(sets) == 1, heads(plan.steps)
    assert written(plan.steps, sets[0][0]) == {"qRxLevMin": str(int(qrx) + 4), "cellRange": "KM_100"}
    assert plan.dropped == 1
    # nothing at all when everything is already true
    same = (
        Changes()
        .add("set", CELL1, "earfcndl", str(earfcn))
        .add("set", CELL1, "qRxLevMin", f"+{qrx}" if int(qrx) >= 0 else str(qrx))
    )
    assert make_plan(same.table(), network, catalog).steps.num_rows == 0


def test_a_lock_wraps_the_sets_that_need_it_and_restores_the_state(network: NetworkIndex, catalog: CatalogView) -> None:
    assert ("EUtranCellFDD", "earfcndl") in catalog.locks  # from the workbook's precondition text
    cells = [f for f, c in zip(network.fdn, network.cls, strict=True) if c == "EUtranCellFDD"]
    unlocked = next(f for f in cells if cell_state(network, f) == "UNLOCKED")
    locked = next(f for f in cells if cell_state(network, f) == "LOCKED")
    changes = (
        Changes()
        .add("set", unlocked, "earfcndl", "500")
        .add("set", unlocked, "qRxLevMin", "-120")
        .add("set", locked, "earfcndl", "501")
        .add("set", unlocked, "earfcndl", "502", phase="later", phase_order=1)
    )
    plan = make_plan(changes.table(), network, catalog)
    order = [(op, fdn) for _, op, fdn in heads(plan.steps)]
    first = order[: order.index(("unlock", unlocked)) + 1]
    assert first[0] == ("lock", unlocked) and ("set", unlocked) in first
    # one lock per MO and phase; the cell already LOCKED is not locked again, nor unlocked after
    assert order.count(("lock", unlocked)) == 2 and order.count(("unlock", unlocked)) == 2
    assert ("lock", locked) not in order and ("unlock", locked) not in order
    steps = plan.steps.to_pylist()
    unlocks = [r for r in steps if r["op"] == "unlock"]
    assert {r["value"] for r in unlocks} == {"UNLOCKED"} and {r["attribute"] for r in unlocks} == {ADMIN}
    # the second phase runs after the first
    phases = [r["phase_order"] for r in sorted(steps, key=lambda r: r["step"])]
    assert phases == sorted(phases)


def test_creates_come_parents_and_referenced_mos_first(network: NetworkIndex, catalog: CatalogView) -> None:
    new_cell = f"{ENB},EUtranCellFDD=NEW1"
    new_carrier = f"{ENB},SectorCarrier=9"
    changes = (
        Changes()
        .add("create", new_cell)
        .add("create", new_cell, "earfcndl", "300")
        .add("create", new_cell, "sectorCarrierRef", new_carrier)
        .add("create", new_carrier)
        .add("create", new_carrier, "noOfTxAntennas", "4")
    )
    plan = make_plan(changes.table(), network, catalog)
    order = [(op, fdn) for _, op, fdn in heads(plan.steps)]
    assert order == [("create", new_carrier), ("create", new_cell)]
    rows = [r for r in plan.steps.to_pylist() if r["fdn"] == new_cell and r["attribute"] == "sectorCarrierRef"]
    assert [(r["value"], r["kind"], r["is_sequence"]) for r in rows] == [(new_carrier, "moref", True)]


def _cycle_catalog(tmp_path: Path, mandatory: bool) -> CatalogView:
    """The example model with SectorCarrier.reservedByCellRef → EUtranCellFDD beside
    EUtranCellFDD.sectorCarrierRef → SectorCarrier: a reference cycle, made mandatory both
    ways when asked."""
    text = (EXAMPLES / "enodeb_mini_mp.xml").read_text(encoding="utf-8")
    flag = "<mandatory></mandatory>" if mandatory else ""
    text = text.replace(
        '<attribute name="noOfTxAntennas">',
        f'<attribute name="reservedByCellRef">{flag}<dataType><moRef name="EUtranCellFDD"/></dataType></attribute>'
        '\n\t\t\t<attribute name="noOfTxAntennas">',
    )
    if mandatory:
        text = text.replace(
            '<attribute name="sectorCarrierRef">', '<attribute name="sectorCarrierRef"><mandatory></mandatory>'
        )
    path = tmp_path / f"cycle_{mandatory}_mp.xml"
    path.write_text(text, encoding="utf-8")
    return CatalogView.load(path)


def _cycle(cell: str, carrier: str) -> Changes:
    return (
        Changes()
        .add("create", cell)
        .add("create", cell, "earfcndl", "300")
        .add("create", cell, "sectorCarrierRef", carrier)
        .add("create", carrier)
        .add("create", carrier, "reservedByCellRef", cell)
    )


def test_a_reference_cycle_is_broken_by_setting_one_reference_after(tmp_path: Path, network: NetworkIndex) -> None:
    catalog = _cycle_catalog(tmp_path, mandatory=False)
    cell, carrier = f"{ENB},EUtranCellFDD=NEW2", f"{ENB},SectorCarrier=8"
    plan = make_plan(_cycle(cell, carrier).table(), network, catalog)
    order = [(op, fdn) for _, op, fdn in heads(plan.steps)]
    assert [o for o in order if o[0] == "create"] in (
        [("create", carrier), ("create", cell)],
        [("create", cell), ("create", carrier)],
    )
    assert order[-1][0] == "set", order  # one reference set after both exist
    last = order[-1][1]
    creates = {r["fdn"]: r for r in plan.steps.to_pylist() if r["op"] == "create" and r["attribute"]}
    deferred = "sectorCarrierRef" if last == cell else "reservedByCellRef"
    assert deferred not in {r["attribute"] for r in plan.steps.to_pylist() if r["op"] == "create" and r["fdn"] == last}
    assert creates  # the other reference is given at create
    assert any("cycle" in n.code for n in plan.notes)


def test_a_cycle_of_mandatory_references_is_an_error_naming_the_mos(tmp_path: Path, network: NetworkIndex) -> None:
    catalog = _cycle_catalog(tmp_path, mandatory=True)
    cell, carrier = f"{ENB},EUtranCellFDD=NEW3", f"{ENB},SectorCarrier=7"
    found = problems(_cycle(cell, carrier), network, catalog)
    cycle = [p for p in found if p[0] == "cycle"]
    assert cycle and cell in cycle[0][1] and carrier in cycle[0][1]


def test_a_delete_goes_children_first_and_clears_references_first(network: NetworkIndex, catalog: CatalogView) -> None:
    # the example export: cell LTE01-1 references SectorCarrier=1
    example = NetworkIndex(read_network_tables(EXAMPLES / "enodeb_mini_export.xml"))
    enb = "SubNetwork=EXAMPLE,MeContext=LTE01,ManagedElement=LTE01,ENodeBFunction=1"
    carrier, cell = f"{enb},SectorCarrier=1", f"{enb},EUtranCellFDD=LTE01-1"
    assert example.value(example.row_of[cell], "sectorCarrierRef") in (carrier, [carrier])
    plan = make_plan(Changes().add("delete", carrier).table(), example, catalog)
    order = heads(plan.steps)
    delete_at = next(s for s, op, f in order if op == "delete" and f == carrier)
    sets = [s for s, op, f in order if op == "set" and f == cell]
    assert sets and sets[0] < delete_at, order
    cleared = [r for r in plan.steps.to_pylist() if r["step"] == sets[0] and r["attribute"] == "sectorCarrierRef"]
    assert cleared and all(r["value"] != carrier for r in cleared)
    # a cell: its subtree goes first, deepest first
    plan = make_plan(Changes().add("delete", CELL1).table(), network, catalog)
    deletes = [f for _, op, f in heads(plan.steps) if op == "delete"]
    assert deletes[-1] == CELL1 and len(deletes) > 1
    depth = [f.count(",") for f in deletes]
    for i, f in enumerate(deletes):
        assert all(not later.startswith(f + ",") for later in deletes[i + 1 :]), "a child after its parent"
    assert max(depth) > depth[-1]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (("set", f"{ENB},EUtranCellFDD=NOPE", "qRxLevMin", "-120"), "no_such_mo", "does not exist"),
        (("set", CELL, "qRxLevMn", "-120"), "unknown_attribute", "qRxLevMin"),
        (("set", CELL, "qRxLevMin", "abc"), "type", "qRxLevMin"),
        (("set", CELL, "qRxLevMin", "-20"), "range", "qRxLevMin"),
        (("set", CELL, "cellRange", "KM_7"), "enum", "cellRange"),
        (("set", ENB, "eNBId", "7"), "restricted", "eNBId"),
        (("create", f"{CELL},UeMeasControl=2"), "system_created", "UeMeasControl"),
        (("create", f"{CELL},SectorCarrier=4"), "containment", "SectorCarrier"),
    ],
)
def test_refusals_name_the_rule_and_the_changeset_row(
    change: tuple[str, ...], code: str, words: str, network: NetworkIndex, catalog: CatalogView
) -> None:
    op, fdn, *rest = change
    changes = Changes().add("set", CELL1, "qRxLevMin", "-122")
    changes.add(op, fdn, *rest)
    found = problems(changes, network, catalog)
    assert any(c == code and words in m for c, m, _ in found), found
    located = [s for c, m, s in found if c == code]
    assert located[0] == "hand.json#/1"


def test_create_without_a_mandatory_attribute_is_refused(network: NetworkIndex, catalog: CatalogView) -> None:
    found = problems(Changes().add("create", f"{ENB},EUtranCellFDD=NEW4"), network, catalog)
    assert any("earfcndl" in m for _, m, _ in found), found


def test_problems_past_the_listed_ones_are_counted(
    network: NetworkIndex, catalog: CatalogView, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rtbfast.enm.plan as planner

    monkeypatch.setattr(planner, "LISTED", 3)
    cells = [f for f, c in zip(network.fdn, network.cls, strict=True) if c == "EUtranCellFDD"][:8]
    changes = Changes()
    for cell in cells:
        changes.add("set", cell, "qRxLevMin", "-20")  # out of range on every cell
    found = problems(changes, network, catalog)
    assert [c for c, _, _ in found].count("range") == 3
    assert any(c == "more" and "5 more value(s)" in m for c, m, _ in found), found


@pytest.mark.parametrize(
    "steps",
    [
        [0, 0, 1, 2, 2, 2, 5],  # as the planner lays a Plan out
        [3],
        [],
        [1, 1, 0, 0, 1],  # a step's rows apart, the steps not ascending: found by a group-by
        [2, 2, 1, 1],
    ],
)
def test_first_rows_of_steps_is_each_steps_first_row_in_step_order(steps: list[int]) -> None:
    from rtbfast.enm.plan import first_rows_of_steps

    table = pa.table({"step": pa.array(steps, pa.int64())})
    want = [steps.index(s) for s in sorted(set(steps))]
    assert first_rows_of_steps(table).to_pylist() == want
