"""``rtbfast apply --sessions N``: the commands of different nodes sent on several ENM sessions
at once. Each command goes out exactly once, a node's commands keep their order, the journal
records every one, and the first refusal stops new sends on every session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.dialects import cmedit_lines
from rtbfast.enm.journal import Journal
from rtbfast.enm.plan import make_plan
from rtbfast.enm.simulator import Simulator
from rtbfast.network_index import NetworkIndex
from tests.enm_fixtures import Changes
from tests.fake_enm import FakeEnm

USER, PASSWORD = "operator", "s3cret!"


def cells(network: NetworkIndex) -> list[str]:
    return [f for f, c in zip(network.fdn, network.cls, strict=True) if c == "EUtranCellFDD"]


def node(fdn: str) -> str:
    return next(r.split("=", 1)[1] for r in fdn.split(",") if r.startswith("MeContext="))


@pytest.fixture
def script(tmp_path: Path, network: NetworkIndex, catalog: CatalogView) -> Path:
    """Two sets on every cell of every node (six cells on two nodes): twelve commands."""
    changes = Changes()
    for cell in cells(network):
        changes.add("set", cell, "qRxLevMin", "-122")
    plan = make_plan(changes.table(), network, catalog).steps
    first = cmedit_lines(plan).to_pylist()
    changes = Changes()
    for cell in cells(network):
        changes.add("set", cell, "qRxLevMin", "-124")
    second = cmedit_lines(make_plan(changes.table(), network, catalog).steps).to_pylist()
    path = tmp_path / "plan.cmedit"
    path.write_text("\n".join(first + second) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fake(tables: dict[str, pa.Table], catalog: CatalogView) -> Iterator[FakeEnm]:
    server = FakeEnm(Simulator(tables, catalog), USER, PASSWORD).start()
    yield server
    server.stop()


def apply(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtbfast.cli", "apply", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "ENM_USERNAME": USER, "ENM_PASSWORD": PASSWORD},
    )


def test_every_command_once_in_its_nodes_order(fake: FakeEnm, script: Path, tmp_path: Path) -> None:
    lines = script.read_text().splitlines()
    assert len({node(line.split()[2]) for line in lines}) >= 2
    run = apply(script, "--backend", "enm", "--url", fake.url, "--sessions", "4", "--journal", tmp_path / "j.sqlite")
    assert run.returncode == 0, run.stderr
    sent = fake.changes()
    assert sorted(sent) == sorted(lines) and len(sent) == len(lines)  # every command exactly once
    for n in {node(line.split()[2]) for line in lines}:
        mine = [c for c in sent if node(c.split()[2]) == n]
        assert mine == [line for line in lines if node(line.split()[2]) == n]  # in the script's order
    assert len(fake.logins) >= 2  # sessions of their own
    with Journal(tmp_path / "j.sqlite") as journal:
        (r,) = journal.runs()
        records = journal.commands(r.id)
        assert r.state == "done" and [c.position for c in records] == list(range(len(lines)))
        assert all(c.state == "applied" for c in records)


def test_the_first_refusal_stops_new_sends_everywhere(fake: FakeEnm, script: Path, tmp_path: Path) -> None:
    lines = script.read_text().splitlines()
    bad = lines[2].replace("qRxLevMin=-122", "qRxLevMin=-20")  # out of range: ENM refuses it
    current = [*lines[:2], bad, *lines[3:]]
    script.write_text("\n".join(current) + "\n")
    journal = tmp_path / "j.sqlite"
    run = apply(script, "--backend", "enm", "--url", fake.url, "--sessions", "3", "--journal", journal)
    assert run.returncode == 1 and f"{script}:3: {bad}" in run.stderr, run.stderr
    sent = fake.changes()
    assert len(sent) == len(set(sent)) and len(sent) < len(lines)  # stopped, nothing twice
    bad_node = node(bad.split()[2])
    assert not [c for c in sent if node(c.split()[2]) == bad_node and current.index(c) > 2]  # its node stopped
    with Journal(journal) as j:
        (r,) = j.runs()
        states = {c.position: c.state for c in j.commands(r.id)}
        assert r.state == "failed" and states[2] == "failed"
        assert sorted(p for p, s in states.items() if s == "applied") == sorted(
            lines.index(c) for c in sent if c != bad
        )
    # fixed and resumed on one session: only what was not applied is sent
    before = len(sent)
    script.write_text("\n".join(lines) + "\n")
    resumed = apply(script, "--backend", "enm", "--url", fake.url, "--resume", "--journal", journal)
    assert resumed.returncode == 0, resumed.stderr
    again = fake.changes()[before:]
    assert sorted(again + [c for c in sent if c != bad]) == sorted(lines)


def test_sessions_on_the_simulator_give_the_same_network(
    example_out: Path, export: Path, script: Path, tmp_path: Path
) -> None:
    import rtbfast
    from rtbfast.enm.simulator import canonical

    after = []
    for n in ("1", "4"):
        out = tmp_path / f"after{n}.xml"
        run = apply(
            script, "--catalog", example_out, "--network", export, "--sessions", n,
            "--journal", tmp_path / f"j{n}.sqlite", "--save-network", out,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        after.append(canonical(rtbfast.read_network(out).tables))
    assert after[0]["mos"].equals(after[1]["mos"]) and after[0]["values"].equals(after[1]["values"])
