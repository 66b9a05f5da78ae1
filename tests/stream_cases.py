"""Generated multi-node plans for the tests of the plan streamed node group by node group
(``tests/test_plan_streaming.py``): a network of several nodes (some under a second
SubNetwork, one a RadioNode without MeContext) with references between nodes, and a ChangeSet
that changes several nodes at once, its rows interleaved across nodes, in several phases:
sets (written again, already true, needing a lock, with no lockable MO above), struct
sequences, emptied sequences, creates with reference cycles among new MOs and references to
new MOs of other nodes, creates of MOs that exist, deletes of cells other nodes' relations
(cascaded) and adjacent cells (cleared) refer to. Deterministic by seed; the model is
``tests/data/stream_mp.xml``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from rtbfast.changeset import EMPTIED
from rtbfast.schemas import CHANGESET_SCHEMA

MODEL = Path(__file__).parent / "data" / "stream_mp.xml"

MOS_SCHEMA = pa.schema(
    [
        pa.field("fdn", pa.string(), False),
        pa.field("class", pa.string(), False),
        pa.field("id", pa.string(), False),
        ("parent_fdn", pa.string()),
    ]
)
VALUES_SCHEMA = pa.schema(
    [
        pa.field("fdn", pa.string(), False),
        pa.field("attribute", pa.string(), False),
        ("member", pa.string()),
        ("index", pa.int32()),
        ("member_index", pa.int32()),
        pa.field("value", pa.string(), False),
        pa.field("vs_data", pa.bool_(), False),
    ]
)


@dataclass
class Network:
    mos: list[dict[str, Any]] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    admin: dict[str, str] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)
    """The ENodeBFunction of each node."""

    def mo(self, fdn: str, **attributes: Any) -> str:
        cls, rid = fdn.rsplit(",", 1)[-1].split("=", 1)
        parent = fdn.rsplit(",", 1)[0] if "," in fdn else None
        self.mos.append({"fdn": fdn, "class": cls, "id": rid, "parent_fdn": parent})
        top = cls in ("SubNetwork", "MeContext", "ManagedElement")
        for name, value in attributes.items():
            if value is None:
                continue
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    for member, v in item.items():
                        self.values.append(
                            {
                                "fdn": fdn,
                                "attribute": name,
                                "member": member,
                                "index": index,
                                "member_index": 0,
                                "value": v,
                                "vs_data": not top,
                            }
                        )
                else:
                    self.values.append(
                        {
                            "fdn": fdn,
                            "attribute": name,
                            "member": None,
                            "index": index,
                            "member_index": None,
                            "value": item,
                            "vs_data": not top,
                        }
                    )
        return fdn

    def tables(self) -> dict[str, pa.Table]:
        return {
            "mos": pa.Table.from_pylist(self.mos, schema=MOS_SCHEMA),
            "values": pa.Table.from_pylist(self.values, schema=VALUES_SCHEMA),
        }


def make_network(rng: random.Random, nodes: int, cells: int = 3, *, cross: bool = True) -> Network:
    """`nodes` nodes: MeContext ones under ROOT, one in four under a second SubNetwork, the
    last a RadioNode (ManagedElement under ROOT). Cell references point across nodes (with
    `cross`; else within their node)."""
    net = Network()
    net.mo("SubNetwork=ROOT")
    net.mo("SubNetwork=ROOT,SubNetwork=EAST", userLabel="east")
    pending_refs: list[tuple[str, str]] = []  # (cell or relation fdn, attribute) filled once every cell exists
    names = [f"NODE{k:02d}" for k in range(nodes)]
    rng.shuffle(names)  # the file's order is not the names' order
    for k, name in enumerate(names):
        if k == nodes - 1 and nodes > 2:
            me = net.mo(f"SubNetwork=ROOT,ManagedElement={name}", userLabel=f"radio {name}")
        else:
            top = "SubNetwork=ROOT,SubNetwork=EAST" if k % 4 == 3 else "SubNetwork=ROOT"
            mc = net.mo(f"{top},MeContext={name}")
            me = net.mo(f"{mc},ManagedElement={name}")
        enb = net.mo(
            f"{me},ENodeBFunction=1",
            eNodeBPlmnId=[{"mcc": "240", "mnc": str(k), "mncLength": "2"}],
            timeAndPhaseSynchCritical=rng.choice(["true", "false"]),
            dnsLookupTimer=str(rng.randint(0, 100)),
        )
        net.nodes.append(enb)
        carriers = [
            net.mo(f"{enb},SectorCarrier={s}", noOfTxAntennas=str(rng.randint(1, 4)), txPower=str(rng.randint(0, 90)))
            for s in (1, 2)
        ]
        for c in range(rng.randint(1, cells)):
            admin = rng.choice(["LOCKED", "UNLOCKED", "UNLOCKED"])
            cell = net.mo(
                f"{enb},EUtranCellFDD={name}_{c}",
                administrativeState=admin,
                earfcndl=str(rng.choice([100, 500, 1300, 6300])),
                userLabel=rng.choice([None, f"cell {c}", "north, 3"]),
                cellRange=rng.choice(["KM_15", "KM_100"]),
                qRxLevMin=str(rng.choice(range(-140, -44, 4))),
                additionalPlmnList=[{"mcc": "240", "mnc": str(i), "mncLength": "2"} for i in range(rng.randint(0, 2))],
                sectorCarrierRef=[rng.choice(carriers)],
            )
            net.cells.append(cell)
            net.admin[cell] = admin
            pending_refs.append((cell, "adjacentCellRef"))
            net.mo(f"{cell},UeMeasControl=1", filterCoefficientEUtraRsrp=str(rng.randint(0, 8)))
            for r in range(rng.randint(0, 2)):
                pending_refs.append((net.mo(f"{cell},EUtranCellRelation={r}", cellIndividualOffset="0"), "neighbor"))
    # references between nodes, each after its MO's own rows (a network's values come MO by MO)
    by_fdn: dict[str, list[dict[str, Any]]] = {}
    for fdn, what in pending_refs:
        near = (
            net.cells
            if cross
            else [c for c in net.cells if c.split(",ENodeBFunction")[0] == fdn.split(",ENodeBFunction")[0]]
        )
        if what == "neighbor":
            target = rng.choice(near)
            by_fdn.setdefault(fdn, []).append(_value(fdn, "neighborCellRef", 0, target))
        elif rng.random() < 0.6:
            for i, target in enumerate(rng.sample(near, min(len(near), rng.randint(1, 2)))):
                by_fdn.setdefault(fdn, []).append(_value(fdn, "adjacentCellRef", i, target))
    out: list[dict[str, Any]] = []
    for i, row in enumerate(net.values):
        out.append(row)
        nxt = net.values[i + 1]["fdn"] if i + 1 < len(net.values) else None
        if nxt != row["fdn"] and row["fdn"] in by_fdn:
            out.extend(by_fdn.pop(row["fdn"]))
    for rows in by_fdn.values():  # MOs without values of their own
        out.extend(rows)
    net.values = out
    return net


def _value(fdn: str, attribute: str, index: int, value: str) -> dict[str, Any]:
    return {
        "fdn": fdn,
        "attribute": attribute,
        "member": None,
        "index": index,
        "member_index": None,
        "value": value,
        "vs_data": True,
    }


PHASES = [("default", 0), ("prepare", 1), ("cleanup", 2)]


class ChangeRows:
    """ChangeSet rows, a write at a time (the rows of one write are kept together)."""

    def __init__(self) -> None:
        self.writes: list[list[dict[str, Any]]] = []

    def write(
        self,
        op: str,
        fdn: str,
        attribute: str | None = None,
        values: list[tuple[str | None, int | None, str | None]] | None = None,
        phase: tuple[str, int] = PHASES[0],
    ) -> None:
        cls = fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        rows = []
        for member, index, value in values or [(None, None, None)]:
            rows.append(
                {
                    "phase": phase[0],
                    "phase_order": phase[1],
                    "op": op,
                    "fdn": fdn,
                    "class": cls,
                    "attribute": attribute,
                    "member": member,
                    "index": index if attribute is not None else None,
                    "value": value,
                    "target": fdn,
                }
            )
        self.writes.append(rows)

    def table(self, rng: random.Random, interleave: bool = True) -> pa.Table:
        writes = list(self.writes)
        if interleave:
            # creates stay before the writes of the MOs they make (a template writes them so)
            rng.shuffle(writes)
            firsts: dict[str, int] = {}
            for i, w in enumerate(writes):
                if w[0]["op"] == "create" and w[0]["attribute"] is None:
                    firsts.setdefault(w[0]["fdn"], i)
            writes.sort(key=lambda w: firsts.get(w[0]["fdn"], 10**9) if w[0]["op"] == "create" else 0)
            writes = _creates_first(writes)
        rows: list[dict[str, Any]] = []
        for k, w in enumerate(writes):
            for r in w:
                rows.append({**r, "seq": len(rows), "source": f"gen.json#/{k}"})
        return pa.Table.from_pylist(rows, schema=CHANGESET_SCHEMA)


def _creates_first(writes: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Each create's own row before the rows writing the MO it creates, others in place."""
    out: list[list[dict[str, Any]]] = []
    waiting: dict[str, list[list[dict[str, Any]]]] = {}
    created = {w[0]["fdn"] for w in writes if w[0]["op"] == "create" and w[0]["attribute"] is None}
    made: set[str] = set()
    for w in writes:
        head = w[0]
        if head["op"] == "create" and head["attribute"] is None:
            out.append(w)
            made.add(head["fdn"])
            out.extend(waiting.pop(head["fdn"], []))
        elif head["fdn"] in created and head["fdn"] not in made:
            waiting.setdefault(head["fdn"], []).append(w)
        else:
            out.append(w)
    for rest in waiting.values():
        out.extend(rest)
    return out


def make_changes(
    rng: random.Random,
    net: Network,
    *,
    deletes: bool = True,
    creates: bool = True,
    cross: bool = True,
    locks: float = 0.15,
) -> ChangeRows:
    c = ChangeRows()
    values = {(v["fdn"], v["attribute"], v["member"], v["index"]): v["value"] for v in net.values}

    def phase() -> tuple[str, int]:
        return rng.choice(PHASES[:2]) if rng.random() < 0.3 else PHASES[0]

    deleted: set[str] = set()
    if deletes:
        for cell in rng.sample(net.cells, max(1, len(net.cells) // 6)):
            c.write("delete", cell, phase=rng.choice([PHASES[2], PHASES[1]]))
            deleted.add(cell)
        relations = [m["fdn"] for m in net.mos if m["class"] == "EUtranCellRelation"]
        for rel in rng.sample(relations, min(len(relations), 2)):
            if not any(rel.startswith(d + ",") for d in deleted):
                c.write("delete", rel, phase=PHASES[2])
                deleted.add(rel)
    alive = [cell for cell in net.cells if cell not in deleted]
    for cell in alive:
        for _ in range(rng.randint(0, 3)):
            what = rng.random()
            if what < 0.2:
                c.write("set", cell, "userLabel", [(None, 0, rng.choice(["north", "south, 2", "x y"]))], phase())
            elif what < 0.35:
                c.write("set", cell, "cellRange", [(None, 0, rng.choice(["KM_15", "KM_100"]))], phase())
            elif what < 0.35 + locks:
                same = values.get((cell, "earfcndl", None, 0))
                c.write("set", cell, "earfcndl", [(None, 0, rng.choice([same, "0700", "2100"]))], phase())
            elif what < 0.6:
                c.write("set", cell, "qRxLevMin", [(None, 0, str(rng.choice(range(-140, -44, 2))))], phase())
            elif what < 0.7:
                items = [(m, i, v) for i in range(rng.randint(1, 2)) for m, v in (("mcc", "208"), ("mnc", str(i)))]
                c.write("set", cell, "additionalPlmnList", [(m, i, v) for m, i, v in items], phase())
            elif what < 0.75:
                c.write("set", cell, "additionalPlmnList", [(None, EMPTIED, None)], phase())
            elif what < 0.85:
                node = cell.split(",ENodeBFunction")[0]
                pool = alive if cross else [a for a in alive if a.startswith(node + ",")]
                targets = rng.sample(pool, min(2, len(pool)))
                c.write("set", cell, "adjacentCellRef", [(None, i, t) for i, t in enumerate(targets)], phase())
            else:
                ue = f"{cell},UeMeasControl=1"
                c.write("set", ue, "filterCoefficientEUtraRsrp", [(None, 0, str(rng.randint(0, 19)))], phase())
    for enb in net.nodes:
        if rng.random() < 0.5:
            c.write("set", enb, "dnsLookupTimer", [(None, 0, str(rng.randint(0, 3600)))], phase())
        if rng.random() < 0.4:
            c.write(
                "set",
                enb,
                "eNodeBPlmnId",
                [("mcc", 0, "240"), ("mnc", 0, str(rng.randint(0, 9))), ("mncLength", 0, "2")],
            )
        if rng.random() < 0.3:
            c.write("set", enb, "timeAndPhaseSynchCritical", [(None, 0, rng.choice(["TRUE", "false"]))])
        if rng.random() < 0.4:
            carrier = f"{enb},SectorCarrier={rng.choice([1, 2])}"
            c.write("set", carrier, "txPower", [(None, 0, str(rng.randint(0, 100)))], phase())
    # an attribute written twice (the last write wins) and a value the network holds
    for cell in rng.sample(alive, min(2, len(alive))):
        c.write("set", cell, "cellRange", [(None, 0, "KM_15")])
        c.write("set", cell, "cellRange", [(None, 0, "KM_100")])
        held = values.get((cell, "qRxLevMin", None, 0))
        if held is not None:
            c.write("set", cell, "qRxLevMin", [(None, 0, held)])
    if creates:
        new_cells: list[str] = []
        for enb in rng.sample(net.nodes, min(len(net.nodes), 3)):
            # carriers that refer to each other (a cycle among new MOs, broken by a set after)
            a, b = f"{enb},SectorCarrier=8", f"{enb},SectorCarrier=9"
            c.write("create", a)
            c.write("create", a, "peerCarrierRef", [(None, 0, b)])
            c.write("create", b)
            c.write("create", b, "noOfTxAntennas", [(None, 0, "2")])
            c.write("create", b, "peerCarrierRef", [(None, 0, a)])
            cell = f"{enb},EUtranCellFDD=NEW{len(new_cells)}"
            c.write("create", cell)
            c.write("create", cell, "earfcndl", [(None, 0, "300")])
            c.write("create", cell, "sectorCarrierRef", [(None, 0, b)])
            new_cells.append(cell)
        # relations to new cells of other nodes, and to existing cells
        for i, cell in enumerate(new_cells):
            node = cell.split(",ENodeBFunction")[0]
            same = [a for a in alive if a.startswith(node + ",")] or [cell]
            other = new_cells[(i + 1) % len(new_cells)] if cross else same[0]
            rel = f"{cell},EUtranCellRelation=7"
            c.write("create", rel)
            c.write("create", rel, "neighborCellRef", [(None, 0, other)])
            if cross and alive:
                rel2 = f"{rng.choice(alive)},EUtranCellRelation=9"
                c.write("create", rel2, phase=PHASES[1])
                c.write("create", rel2, "neighborCellRef", [(None, 0, cell)], PHASES[1])
        # a create of an MO that exists: its values are set
        existing = f"{net.nodes[0]},SectorCarrier=1"
        c.write("create", existing)
        c.write("create", existing, "noOfTxAntennas", [(None, 0, "8")])
    return c


def case(seed: int, nodes: int = 5, cross: bool = True, **kwargs: Any) -> tuple[dict[str, pa.Table], pa.Table]:
    """The network tables and the ChangeSet of generated case `seed`."""
    rng = random.Random(seed)
    net = make_network(rng, nodes, cross=cross)
    changes = make_changes(rng, net, cross=cross, **kwargs).table(rng)
    return net.tables(), changes
