"""The native planner, rollback and simulator checks against the Python passes they replaced
(``tests/planner_reference.py``: the passes as they were in ``rtbfast.enm`` before they moved
into Rust), on many generated ChangeSets, compared row for row.

Each ChangeSet is drawn from a seed: sets of existing MOs (values another MO of the class holds,
values the MO holds already, integers and booleans written another way, structs and sequences,
unsets and emptied sequences, moRefs), attributes written again (in the same phase and in
later ones), sets needing a LOCKED cell, creates (with mandatory attributes or without, moRefs
to other new MOs making cycles, creates of MOs that exist), deletes (cells with their subtree,
sector carriers referred to by cells), refused writes (unknown or read-only attributes, values
out of range, MOs that do not exist, bad names), phases, rows out of ``seq`` order. Both
implementations must give the same Plan (every column of every row, its notes, effects and
dropped count) or the same problems; the same rollback (and unknown attributes); and the same
simulator answers and resulting network.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import tests.planner_reference as reference
from rtbfast.catalog_view import ADMIN, CatalogView
from rtbfast.changeset import EMPTIED
from rtbfast.enm.plan import PlanError, make_plan
from rtbfast.enm.rollback import make_rollback
from rtbfast.enm.simulator import Simulator, canonical
from rtbfast.network_index import NetworkIndex, read_network_tables
from rtbfast.schemas import CHANGESET_SCHEMA
from tests.conftest import EXAMPLES

SEEDS = 100
"""ChangeSets drawn per world (four worlds)."""


@dataclass
class World:
    """A network, a catalog, and what the generator draws from them."""

    tables: dict[str, pa.Table]
    network: NetworkIndex
    catalog: CatalogView
    mos: dict[str, list[str]] = field(default_factory=dict)
    """class → its MOs in the network (classes the catalog knows)."""
    values: dict[tuple[str, str], list[tuple[str | None, int | None, str]]] = field(default_factory=dict)
    """(fdn, attribute) → its rows (member, index, value)."""
    writable: dict[str, list[str]] = field(default_factory=dict)
    """class → attributes a set may write."""
    parents: list[str] = field(default_factory=list)
    """ENodeBFunction MOs: where cells and sector carriers are created."""


def world_of(tables: dict[str, pa.Table], catalog: CatalogView) -> World:
    network = NetworkIndex(tables)
    world = World(tables, network, catalog)
    flags = catalog.attribute_flags()
    known = {c for c, _ in flags}
    for fdn, cls in zip(network.fdn, network.cls, strict=True):
        if cls in known:
            world.mos.setdefault(cls, []).append(fdn)
        if cls == "ENodeBFunction":
            world.parents.append(fdn)
    v = tables["values"]
    for f, a, m, i, value in zip(
        *(
            v[c].cast(pa.string()).to_pylist() if c != "index" else v[c].to_pylist()
            for c in ("fdn", "attribute", "member", "index", "value")
        ),
        strict=True,
    ):
        world.values.setdefault((f, a), []).append((m, i, value))
    for (c, a), f in flags.items():
        naming = a in (f"{c}Id", c[:1].lower() + c[1:] + "Id")
        if not f.get("read_only") and not f.get("restricted") and not naming:
            world.writable.setdefault(c, []).append(a)
    return world


class Draw:
    """One ChangeSet drawn from a seed (see the module's text)."""

    def __init__(self, world: World, seed: int) -> None:
        self.w = world
        self.rng = random.Random(seed)
        self.rows: list[dict[str, Any]] = []
        self.writes = 0
        self.created: list[tuple[str, str]] = []
        self.clean = self.rng.random() < 0.7
        """A clean draw writes only what the catalog takes (it may still be refused: a
        delete or a create can break a rule the draw does not know)."""

    def add(
        self,
        op: str,
        fdn: str,
        attribute: str | None = None,
        value: str | None = None,
        *,
        member: str | None = None,
        index: int | None = None,
        phase: int = 0,
        same_write: bool = False,
    ) -> None:
        if not same_write:
            self.writes += 1
        cls = fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        self.rows.append(
            {
                "phase": ["default", "second", "third"][phase],
                "phase_order": phase,
                "seq": len(self.rows),
                "op": op,
                "fdn": fdn,
                "class": cls,
                "attribute": attribute,
                "member": member,
                "index": index,
                "value": value,
                "target": fdn.rsplit(",", 1)[0] if self.rng.random() < 0.2 else fdn,
                "source": f"drawn.json#/{self.writes}",
            }
        )

    def write(
        self, op: str, fdn: str, attribute: str, rows: list[tuple[str | None, int | None, str]], phase: int
    ) -> None:
        """One write of an attribute: its rows with one source."""
        for k, (member, index, value) in enumerate(rows):
            self.add(op, fdn, attribute, value, member=member, index=index, phase=phase, same_write=k > 0)

    def some_mo(self) -> tuple[str, str] | None:
        classes = [c for c in self.w.mos if self.w.writable.get(c)]
        if not classes:
            return None
        cls = self.rng.choice(classes)
        return cls, self.rng.choice(self.w.mos[cls])

    def value_rows(self, cls: str, fdn: str, attribute: str) -> list[tuple[str | None, int | None, str]]:
        """Rows for `attribute`: the MO's own, another MO's of the class, or a value of its kind."""
        rng = self.rng
        own = self.w.values.get((fdn, attribute))
        if own and rng.random() < 0.3:
            return list(own)
        others = [f for f in self.w.mos.get(cls, []) if (f, attribute) in self.w.values]
        if others and rng.random() < 0.8:
            rows = list(self.w.values[(rng.choice(others), attribute)])
            kind = self.w.catalog.attribute_flags()[(cls, attribute)]["kind"]
            if kind == "integer" and len(rows) == 1 and rows[0][2].lstrip("-").isdigit() and rng.random() < 0.5:
                m, i, v = rows[0]
                rows = [(m, i, rng.choice(["0", "+", "00"]) + v if not v.startswith("-") else "-0" + v[1:])]
            if kind == "boolean" and rng.random() < 0.5:
                rows = [(m, i, v.upper()) for m, i, v in rows]
            return rows
        kind = self.w.catalog.attribute_flags()[(cls, attribute)]["kind"]
        if self.clean and kind not in ("string", "moref", "boolean"):
            return []
        text = {"integer": str(rng.randint(0, 40)), "boolean": rng.choice(["true", "FALSE"]), "moref": None}.get(
            str(kind), f"label {rng.randint(0, 9)}"
        )
        if text is None:
            targets = [f for fdns in self.w.mos.values() for f in fdns] + [f for f, _ in self.created]
            text = rng.choice(targets)
        return [(None, 0, text)]

    def draw(self) -> pa.Table:
        rng = self.rng
        kinds = ["set"] * 8 + ["again", "unset", "empty", "lock", "create", "create", "delete", "exists"]
        if not self.clean:
            kinds += ["refused"] * 3
        for _ in range(rng.randint(1, 18)):
            kind = rng.choice(kinds)
            phase = rng.choice([0, 0, 0, 1, 2])
            picked = self.some_mo()
            if picked is None:
                break
            cls, fdn = picked
            if kind == "set":
                attribute = rng.choice(self.w.writable[cls])
                self.write("set", fdn, attribute, self.value_rows(cls, fdn, attribute), phase)
            elif kind == "again":  # the same attribute written twice, maybe in a later phase
                attribute = rng.choice(self.w.writable[cls])
                self.write("set", fdn, attribute, self.value_rows(cls, fdn, attribute), phase)
                self.write("set", fdn, attribute, self.value_rows(cls, fdn, attribute), rng.choice([phase, 2]))
            elif kind == "unset":
                self.add("set", fdn, rng.choice(self.w.writable[cls]), None, phase=phase)
            elif kind == "empty":
                sequences = [
                    a for a in self.w.writable[cls] if self.w.catalog.attribute_flags()[(cls, a)]["is_sequence"]
                ]
                if sequences:
                    self.add("set", fdn, rng.choice(sequences), None, index=EMPTIED, phase=phase)
            elif kind == "lock":
                cells = self.w.mos.get("EUtranCellFDD", [])
                if cells:
                    cell = rng.choice(cells)
                    self.add("set", cell, "earfcndl", str(rng.choice([1300, 1400, 2850])), index=0, phase=phase)
                    if rng.random() < 0.3:
                        self.add("set", cell, ADMIN, rng.choice(["LOCKED", "UNLOCKED"]), index=0, phase=phase)
            elif kind == "create":
                self.create(phase)
            elif kind == "delete":
                classes = ("EUtranCellFDD", "SectorCarrier") + (() if self.clean else ("UeMeasControl",))
                choices = [c for c in classes if self.w.mos.get(c)]
                if choices:
                    self.add("delete", rng.choice(self.w.mos[rng.choice(choices)]), phase=phase)
            elif kind == "exists":  # a create of an MO the network has: its values are set
                self.add("create", fdn, phase=phase)
                attribute = rng.choice(self.w.writable[cls])
                self.write("create", fdn, attribute, self.value_rows(cls, fdn, attribute), phase)
            else:
                self.refused(cls, fdn, phase)
        if rng.random() < 0.15 and len(self.rows) > 2:  # rows out of seq order
            rng.shuffle(self.rows)
        return pa.Table.from_pylist(self.rows, schema=CHANGESET_SCHEMA)

    def create(self, phase: int) -> None:
        rng = self.rng
        if not self.w.parents:
            return
        parent = rng.choice(self.w.parents)
        k = len(self.created)
        if ("SectorCarrier", "reservedByCellRef") in self.w.catalog.attribute_flags() and rng.random() < 0.4:
            # a cell and a carrier that refer to each other: a cycle
            cell, carrier = f"{parent},EUtranCellFDD=P{k}", f"{parent},SectorCarrier=P{k}"
            self.add("create", cell, phase=phase)
            self.add("create", cell, "earfcndl", "2850", index=0, phase=phase)
            self.add("create", cell, "sectorCarrierRef", carrier, index=0, phase=phase)
            self.add("create", carrier, phase=phase)
            self.add("create", carrier, "reservedByCellRef", cell, index=0, phase=phase)
            self.created += [(cell, "EUtranCellFDD"), (carrier, "SectorCarrier")]
            return
        if rng.random() < 0.5:
            fdn = f"{parent},SectorCarrier=N{k}"
            self.add("create", fdn, phase=phase)
            self.add("create", fdn, "noOfTxAntennas", str(rng.choice([1, 2, 4])), index=0, phase=phase)
            cells = [f for f, c in self.created if c == "EUtranCellFDD"]
            if cells and ("SectorCarrier", "reservedByCellRef") in self.w.catalog.attribute_flags():
                self.add("create", fdn, "reservedByCellRef", rng.choice(cells), index=0, phase=phase)
            self.created.append((fdn, "SectorCarrier"))
        else:
            fdn = f"{parent},EUtranCellFDD=N{k}"
            self.add("create", fdn, phase=phase)
            if self.clean or rng.random() < 0.7:  # without it: a mandatory attribute missing
                self.add("create", fdn, "earfcndl", str(rng.choice([1300, 2850])), index=0, phase=phase)
            carriers = [f for f, c in self.created if c == "SectorCarrier"] + self.w.mos.get("SectorCarrier", [])
            if carriers and rng.random() < 0.8:
                self.add("create", fdn, "sectorCarrierRef", rng.choice(carriers), index=0, phase=phase)
            if rng.random() < 0.3:
                self.add("set", fdn, "userLabel", f"new {k}", index=0, phase=phase)
            self.created.append((fdn, "EUtranCellFDD"))

    def refused(self, cls: str, fdn: str, phase: int) -> None:
        rng = self.rng
        case = rng.randrange(6)
        if case == 0:
            self.add("set", fdn, "noSuchAttribute", "1", index=0, phase=phase)
        elif case == 1:
            self.add("set", f"{fdn},Nothing=1", "userLabel", "x", index=0, phase=phase)
        elif case == 2 and "EUtranCellFDD" in self.w.mos:
            self.add("set", rng.choice(self.w.mos["EUtranCellFDD"]), "qRxLevMin", "-20", index=0, phase=phase)
        elif case == 3 and self.w.parents:
            self.add("set", rng.choice(self.w.parents), "eNBId", "7", index=0, phase=phase)
        elif case == 4:
            self.add("set", fdn, "user Label", "x", index=0, phase=phase)
        else:
            self.add("delete", f"{fdn},Nothing=2", phase=phase)


def problems_of(err: PlanError) -> list[tuple[str, str, str, str | None]]:
    return [(p.code, p.message, p.fdn, p.source) for p in err.problems]


def planned(make: Any, changes: pa.Table, world: World) -> tuple[Any, ...]:
    try:
        plan = make(changes, world.network, world.catalog)
    except PlanError as err:
        return ("refused", problems_of(err))
    notes = [(p.code, p.message, p.fdn, p.source) for p in plan.notes]
    # the Python pass listed the effects in the order of Arrow's group-by over three keys, which
    # is not always the order of the writes (pyarrow 26 does not keep it; the native pass lists
    # them in the order of their first write): compared as a set
    effects = sorted(plan.effects, key=lambda e: (e["fdn"], e["attribute"]))
    return ("planned", plan.steps, notes, effects, plan.dropped)


def rolled_back(make: Any, steps: pa.Table, world: World, allow: bool) -> tuple[Any, ...]:
    try:
        back = make(steps, world.network, world.catalog, allow_unknown=allow)
    except PlanError as err:
        return ("refused", problems_of(err))
    return ("rolled back", back.steps, back.unknown)


def same_table(mine: pa.Table, theirs: pa.Table, what: str) -> None:
    assert mine.schema == theirs.schema, f"{what}: schemas differ\n{mine.schema}\n{theirs.schema}"
    a, b = mine.to_pylist(), theirs.to_pylist()
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        assert x == y, f"{what}: row {k} differs\nnative:    {x}\nreference: {y}"
    assert len(a) == len(b), f"{what}: {len(a)} rows, the reference {len(b)}"


def compare(mine: tuple[Any, ...], theirs: tuple[Any, ...], what: str) -> None:
    assert mine[0] == theirs[0], f"{what}: {mine[0]}, the reference {theirs[0]}: {theirs[1:]} / {mine[1:]}"
    for x, y in zip(mine[1:], theirs[1:], strict=True):
        if isinstance(x, pa.Table):
            same_table(x, y, what)
        else:
            assert x == y, f"{what}:\nnative:    {x}\nreference: {y}"


def applied(simulator: Simulator, steps: pa.Table) -> tuple[Any, ...]:
    result = simulator.apply_plan(steps, stop_on_error=False)
    answers = [(s, r.ok, r.lines) for s, r in result.responses]
    return answers, result.failed_step, canonical(simulator.tables())


def broken(steps: pa.Table, world: World, rng: random.Random) -> pa.Table:
    """The plan with some rows changed so that the simulator refuses steps: a value out of
    range, a read-only or unknown attribute, an MO that does not exist, a lock left out."""
    rows = steps.to_pylist()
    sets = [r for r in rows if r["op"] == "set" and r["attribute"]]
    for r in rng.sample(sets, min(len(sets), rng.randint(1, 3))):
        case = rng.randrange(5)
        if case == 0:
            r["value"] = "-20" if r["attribute"] == "qRxLevMin" else "not a value"
        elif case == 1:
            r["attribute"] = rng.choice(["noSuchAttribute", "eNBId", "EUtranCellFDDId"])
        elif case == 2:
            r["fdn"] = r["fdn"] + ",Nothing=1"
        elif case == 3:
            r["attribute"], r["value"] = "earfcndl", "1300"
    if rng.random() < 0.5:
        rows = [r for r in rows if r["op"] not in ("lock", "unlock")]
    return pa.Table.from_pylist(rows, schema=steps.schema)


def reached(steps: pa.Table, notes: list[tuple[str, ...]], dropped: int) -> set[str]:
    """What a plan holds of what the draws aim at: its step kinds, its notes, dropped writes."""
    rows = steps.to_pylist()
    out = {f"op:{r['op']}" for r in rows} | {f"note:{n[0]}" for n in notes}
    out |= {"unlink" for r in rows if (r["source"] or "").startswith("rtbfast: a reference to a deleted MO")}
    out |= {"phases" for r in rows if r["phase_order"] > 0}
    return out | ({"dropped"} if dropped else set())


def check(world: World, seed: int, seen: set[str]) -> str:
    changes = Draw(world, seed).draw()
    mine = planned(make_plan, changes, world)
    theirs = planned(reference.make_plan, changes, world)
    compare(mine, theirs, f"seed {seed}: the plan")
    if mine[0] != "planned":
        return "refused"
    steps = mine[1]
    seen |= reached(steps, mine[2], mine[4])
    for allow in (True, False):
        compare(
            rolled_back(make_rollback, steps, world, allow),
            rolled_back(reference.make_rollback, steps, world, allow),
            f"seed {seed}: the rollback (allow_unknown={allow})",
        )
    rng = random.Random(seed)
    for plan in (steps, broken(steps, world, rng)):
        ours = applied(Simulator(world.tables, world.catalog), plan)
        ref = applied(reference.ReferenceSimulator(world.tables, world.catalog), plan)
        assert ours[:2] == ref[:2], f"seed {seed}: the simulator answers\nnative:    {ours[:2]}\nreference: {ref[:2]}"
        for name in ("mos", "values"):
            same_table(ours[2][name], ref[2][name], f"seed {seed}: the simulated network's {name}")
    return "planned"


def _cycle_catalog(tmp: Path, mandatory: bool) -> CatalogView:
    """The example model with SectorCarrier.reservedByCellRef → EUtranCellFDD beside
    EUtranCellFDD.sectorCarrierRef (a reference cycle), both mandatory when asked (then a
    cell referring to a deleted carrier goes with it)."""
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
    path = tmp / f"cycle_{mandatory}_mp.xml"
    path.write_text(text, encoding="utf-8")
    return CatalogView.load(path)


@pytest.fixture(scope="module")
def worlds(
    full_tables: dict[str, pa.Table], catalog: CatalogView, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, World]:
    tmp = tmp_path_factory.mktemp("native-planner")
    example = read_network_tables(EXAMPLES / "enodeb_mini_export.xml")
    return {
        "generated network, example catalog": world_of(full_tables, catalog),
        "generated network, references both ways": world_of(full_tables, _cycle_catalog(tmp, mandatory=False)),
        "example network, example catalog": world_of(example, catalog),
        "example network, mandatory references": world_of(example, _cycle_catalog(tmp, mandatory=True)),
    }


@pytest.mark.parametrize(
    ("name", "aims"),
    [
        (
            "generated network, example catalog",
            {"op:set", "op:lock", "op:unlock", "op:create", "op:delete", "note:exists", "dropped", "phases"},
        ),
        ("generated network, references both ways", {"op:create", "note:cycle", "op:lock", "dropped"}),
        ("example network, example catalog", {"op:delete", "unlink", "op:create", "op:lock"}),
        ("example network, mandatory references", {"op:delete", "note:cascade", "op:create"}),
    ],
)
def test_native_passes_plan_as_the_python_passes_did(worlds: dict[str, World], name: str, aims: set[str]) -> None:
    world = worlds[name]
    outcomes: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for seed in range(SEEDS):
        outcomes[check(world, seed, seen)] += 1
    # the draws reach both outcomes (plans compared row for row, and refusals) and what they
    # aim at: locks, creates and their cycles, deletes and references cleared or cascading
    assert outcomes["planned"] >= SEEDS // 4, dict(outcomes)
    assert outcomes["refused"] >= 1, dict(outcomes)
    assert aims <= seen, f"not reached: {aims - seen}"
