"""``rtbfast serve`` stopped: by SIGTERM under load with a job running (requests in flight
finish, the job is marked failed and resumable, the process exits within 30 s), and by
SIGKILL during a job (the store is not corrupt; after a restart the job shows failed, the
other jobs and the journals are as they were)."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rtbfast.changeset import write_changeset
from rtbfast.enm.planning import plan_changes, write_plan_folder
from tests.enm_fixtures import CELL, CELL1, ENB, Changes
from tests.serve_fixtures import Server

pytest.importorskip("fastapi")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, export: Path, example_out: Path) -> Path:
    """A data volume with the network and a plan's dynamic import file (one ENM import job)."""
    data = tmp_path_factory.mktemp("lab")
    shutil.copyfile(export, data / "export.xml")
    changes = (
        Changes()
        .add("create", f"{ENB},SectorCarrier=9")
        .add("create", f"{ENB},SectorCarrier=9", "noOfTxAntennas", "4")
        .add("set", CELL, "qRxLevMin", "-120")
        .add("set", CELL1, "userLabel", "north")
    )
    write_changeset(changes.table(), data / "changes.parquet", {"by": "test"})
    write_plan_folder(plan_changes(data / "changes.parquet", example_out, data / "export.xml"), data / "plan")
    return data


def _server(folder: Path, example_out: Path, lab: Path) -> Server:
    s = Server(
        folder,
        "--catalog",
        example_out,
        "--data-dir",
        lab,
        "--jobs-dir",
        folder / "jobs",
        "--journals-dir",
        folder / "journals",
        "--drain-seconds",
        "20",
    )
    s.wait_ready()
    return s


def _long_apply(s: Server) -> str:
    """An apply of the import file on the simulator whose import job answers IN PROGRESS for
    two minutes: a job that is running until the server stops."""
    started = s.client.post(
        "/v1/apply",
        json={
            "script": {"path": "plan/plan.dynamic.txt"},
            "network": {"path": "export.xml"},
            "journal": "long",
            "simulator_job_seconds": 120,
            "poll_interval": 0.05,
        },
    )
    assert started.status_code == 202, started.text
    job_id: str = started.json()["id"]
    s.wait_job(job_id, "running")
    return job_id


def _rows(db: Path, sql: str) -> list[Any]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def _import_job_started(journal: Path) -> bool:
    """ENM (the simulator) named the import job in the journal (which the apply may still be
    making: its tables come a moment after the file)."""
    try:
        return journal.exists() and bool(_rows(journal, "SELECT job_id FROM import_job WHERE job_id IS NOT NULL"))
    except sqlite3.OperationalError:
        return False


def _children(pid: int) -> list[int]:
    """The processes `pid` started (the check workers among them)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _gone(pids: list[int], seconds: float = 10) -> list[int]:
    """Those of `pids` still running after `seconds` (a zombie counts as gone)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and "\nState:\tZ" not in _status(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "\nState:\tZ"


def test_kill_9_during_a_job_then_restart(tmp_path: Path, example_out: Path, lab: Path) -> None:
    s = _server(tmp_path, example_out, lab)
    workers: list[int] = []
    try:
        assert s.client.post("/v1/templates/check", content=b"[]").status_code == 200
        workers = _children(s.process.pid)
        assert workers, "no check worker process"
        done = s.client.post("/v1/audit", json={"export": {"path": "export.xml"}}).json()["id"]
        assert s.wait_job(done, "succeeded", "failed")["state"] == "succeeded"
        running = _long_apply(s)
        journal = tmp_path / "journals" / "long.journal.sqlite"
        deadline = time.monotonic() + 60
        while not _import_job_started(journal):
            assert time.monotonic() < deadline, "the apply never started its import job"
            time.sleep(0.05)
    finally:
        s.stop(signal.SIGKILL)
    # the check workers of the killed server do not outlive it
    assert not _gone(workers), f"check workers left running after the server was killed: {_gone(workers, 0)}"
    store = tmp_path / "jobs" / "jobs.sqlite"
    assert _rows(store, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(journal, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(store, f"SELECT state FROM job WHERE id = '{running}'") == [("running",)]  # as the kill left it
    again = _server(tmp_path, example_out, lab)
    try:
        job = again.client.get(f"/v1/jobs/{running}").json()
        assert job["state"] == "failed" and job["resumable"] is True
        assert "stopped while this job was running" in job["error"]
        kept = again.client.get(f"/v1/jobs/{done}").json()
        assert kept["state"] == "succeeded" and again.client.get(kept["links"]["result"]).status_code == 200
        runs = again.client.get("/v1/runs").json()["runs"]
        mine = [r for r in runs if r["journal"] == "long.journal.sqlite"]
        assert len(mine) == 1 and mine[0]["state"] == "running" and mine[0]["import_job"] is not None
        metrics = again.client.get("/metrics").text
        assert 'rtbfast_jobs{kind="apply",state="failed"} 1.0' in metrics
        assert 'rtbfast_jobs{kind="apply",state="running"} 0.0' in metrics
    finally:
        again.stop()


def test_sigterm_drains_requests_in_flight_and_marks_the_running_job(
    tmp_path: Path, example_out: Path, lab: Path
) -> None:
    s = _server(tmp_path, example_out, lab)
    try:
        _drain(s, tmp_path)
    finally:
        if s.process.poll() is None:
            s.stop(signal.SIGKILL)


def _drain(s: Server, tmp_path: Path) -> None:
    running = _long_apply(s)
    mo = {"EUtranCellFDD": {"qRxLevMin": "-80", "cellRange": "KM_100", "administrativeState": "LOCKED"}}
    slow = json.dumps([mo] * 20_000).encode()  # about half a second of checking
    answers: list[Any] = []

    def client(body: bytes) -> None:
        try:
            with httpx.Client(base_url=s.url, timeout=60) as c:
                answers.append(c.post("/v1/templates/check", content=body).status_code)
        except httpx.TransportError as err:
            answers.append(type(err).__name__)

    first = threading.Thread(target=client, args=(slow,))
    first.start()
    deadline = time.monotonic() + 30
    while "rtbfast_http_requests_in_flight 2.0" not in s.client.get("/metrics").text:
        assert time.monotonic() < deadline, "the slow request never arrived"
    others = [threading.Thread(target=client, args=(slow,)) for _ in range(4)]
    for t in others:
        t.start()
    time.sleep(0.05)
    stopped_at = time.monotonic()
    s.process.send_signal(signal.SIGTERM)
    code = s.process.wait(30)
    took = time.monotonic() - stopped_at
    for t in [first, *others]:
        t.join(30)
    # uvicorn re-raises the signal once it has shut down: the exit status says SIGTERM
    assert code in (0, -signal.SIGTERM) and took < 30, (code, took)
    assert answers and answers.count(200) >= 1, answers
    # every request the server took (it logs each) was answered whole; the others were never
    # taken: refused, or reset in the listen queue when it closed (never a 5xx, never cut)
    lines = [json.loads(x) for x in s.log.read_text().splitlines() if x.startswith("{")]
    taken = [x["status"] for x in lines if x.get("path") == "/v1/templates/check"]
    assert taken and set(taken) == {200}, taken
    assert answers.count(200) == len(taken), (answers, taken)
    assert all(a in (200, "ConnectError", "ReadError", "RemoteProtocolError") for a in answers), answers
    store = tmp_path / "jobs" / "jobs.sqlite"
    assert _rows(store, "PRAGMA integrity_check") == [("ok",)]
    state = _rows(store, f"SELECT state, resumable, error FROM job WHERE id = '{running}'")
    assert state[0][:2] == ("failed", 1) and "SIGTERM" in state[0][2]
    assert any(x["message"] == "stopped" and x.get("jobs_marked_failed") == 1 for x in lines)
    journal = tmp_path / "journals" / "long.journal.sqlite"
    assert _rows(journal, "PRAGMA integrity_check") == [("ok",)]
