"""A real Spark standalone cluster on loopback for the tests and the benches: a master and
workers started from pyspark's own ``bin/spark-class`` (the pip package ships no ``sbin``
scripts), each in a process group of its own, logs and work dirs in a temporary folder, stopped
after by killing the process groups (the workers' executors are in their worker's group).

Fixtures: ``spark_cluster`` (the master URL ``spark://127.0.0.1:P`` of a master and two
workers of 1 core and 1 GiB each, for the session) and ``spark`` (a session on it). Skipped
only where Java (or pyspark) is missing. A plugin of every test (``tests/conftest.py``), so one
cluster serves every module; the example catalog is ``spark_catalog``, not ``catalog``, which
is the ENM tests' catalog view.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtbfast.spark.session import java_missing
from tests.conftest import EXAMPLE_MODEL, EXAMPLES
from tests.conftest import rtbfast as run_cli

CONF = ["spark.ui.enabled=false", "spark.task.maxFailures=4", "spark.sql.shuffle.partitions=4"]
START_SECONDS = 240.0  # JVMs start slowly on a loaded 2-core machine
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
"""JVM options for short-lived test JVMs: the quick compiler only, one GC thread. A JVM's start
is mostly compiling on a starved 2-core machine (the cluster starts in about 11 s with these,
17 s without, at load 7): the master and workers always; the tests' drivers and executors
(:data:`QUICK_CONF`, and the CLI tests' ``--conf``), not the bench's executors."""
QUICK_CONF = [f"spark.driver.extraJavaOptions={QUICK_JVM}", f"spark.executor.extraJavaOptions={QUICK_JVM}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


class StandaloneCluster:
    """A standalone master and `workers` workers (`cores` cores, `memory` each) on 127.0.0.1."""

    def __init__(self, root: Path, workers: int = 2, cores: int = 1, memory: str = "1g") -> None:
        self.root = root
        self.cores = cores
        self.memory = memory
        self.env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"}
        self.env.update(SPARK_LOG_DIR=str(root / "logs"), SPARK_WORKER_DIR=str(root / "work"))
        self.env["SPARK_DAEMON_JAVA_OPTS"] = QUICK_JVM  # the master's and workers' JVMs (not executors')
        self.port = _free_port()
        self.ui = _free_port()
        self.master = self._start("master", "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.ui))  # fmt: skip
        self.workers: list[subprocess.Popen[bytes]] = []
        try:  # the workers together once the master is up (a worker that finds no master retries late)
            self._wait(0)
            for _ in range(workers):
                self._start_worker()
            self._wait(workers)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _start(self, name: str, cls: str, *args: str) -> subprocess.Popen[bytes]:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        log = (self.root / "logs" / f"{name}.log").open("ab")
        return subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), cls, *args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
            start_new_session=True, cwd=self.root,
        )  # fmt: skip

    def state(self) -> dict[str, Any]:
        """The master's JSON (``/json``): its workers, their state, the applications."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json", timeout=5) as r:
            found: dict[str, Any] = json.load(r)
            return found

    def alive(self) -> int:
        try:
            return sum(w["state"] == "ALIVE" for w in self.state()["workers"])
        except OSError:
            return -1

    def _wait(self, workers: int) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.master.poll() is not None:
                raise RuntimeError(f"the Spark master exited: see {self.root / 'logs' / 'master.log'}")
            if self.alive() >= workers:
                return
            time.sleep(0.3)
        raise RuntimeError(f"{workers} Spark workers not ALIVE after {START_SECONDS:.0f} s: see {self.root / 'logs'}")

    def add_worker(self) -> subprocess.Popen[bytes]:
        """One more worker, waited for until the master has it ALIVE."""
        alive = self.alive()
        worker = self._start_worker()
        self._wait(alive + 1)
        return worker

    def _start_worker(self) -> subprocess.Popen[bytes]:
        n = len(self.workers)
        work = self.root / "work" / f"worker{n}"
        work.mkdir(parents=True, exist_ok=True)
        worker = self._start(f"worker{n}", "org.apache.spark.deploy.worker.Worker", self.url,
            "--cores", str(self.cores), "--memory", self.memory, "--host", "127.0.0.1",
            "--webui-port", str(_free_port()), "--work-dir", str(work))  # fmt: skip
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        """The worker's JVM and the executors it started, killed at once (SIGKILL to its group),
        as when its machine goes away."""
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)

    def group_pids(self) -> list[int]:
        """Every process still running in one of the cluster's process groups (the master and
        workers this process started are reaped first: an exited child is a zombie until then)."""
        for proc in (self.master, *self.workers):
            proc.poll()
        groups = {p.pid for p in (self.master, *self.workers)}
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    if os.getpgid(int(entry)) in groups and stat.rpartition(")")[2].split()[0] != "Z":
                        found.append(int(entry))
                except OSError:
                    continue
        return found

    def stop(self) -> None:
        for proc in (*self.workers, self.master):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while self.group_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for proc in (*self.workers, self.master):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def executors(app_id: str) -> list[int]:
    """The process ids of application `app_id`'s executor JVMs."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmdline and app_id.encode() in cmdline:
            found.append(int(entry))
    return found


def wait_for_executors(app_id: str, count: int, seconds: float = START_SECONDS) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = executors(app_id)
        if len(found) >= count:
            return found
        time.sleep(0.3)
    raise RuntimeError(f"{count} executors of {app_id} not running after {seconds:.0f} s")


def _skip_without_java() -> None:
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'rtbfast[spark]')")
    why = java_missing()
    if why is not None:
        pytest.skip(f"Spark cannot run here: {why}")


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A standalone master and two workers (1 core, 1 GiB each) on loopback, for the session."""
    _skip_without_java()
    cluster = StandaloneCluster(tmp_path_factory.mktemp("spark-standalone"), workers=2)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def spark_cluster(standalone: StandaloneCluster) -> str:
    """The master URL of the standalone cluster."""
    return standalone.url


@pytest.fixture(scope="session")
def spark(spark_cluster: str) -> Iterator[Any]:
    """A session on the standalone cluster, with both executors running (JVMs started for tests:
    :data:`QUICK_JVM`)."""
    from rtbfast.spark.session import session

    s = session(spark_cluster, [*CONF, *QUICK_CONF, "spark.driver.host=127.0.0.1"], "rtbfast-tests")
    try:
        wait_for_executors(s.sparkContext.applicationId, 2)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def spark_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model with its workbook: constraints, Dependencies texts (uniqueness)."""
    out = tmp_path_factory.mktemp("spark") / "catalog"
    workbook = EXAMPLES / "workbook"
    built = run_cli(
        "build", EXAMPLE_MODEL, "--workbook", workbook / "Spreadsheets_Parameters.csv",
        "--structs", workbook / "Spreadsheets_StructParameters.csv", "-o", out,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return out


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated export of many nodes (about 3 MB)."""
    from bench.generate import write_export

    return write_export(tmp_path_factory.mktemp("spark") / "generated.xml", 3.0, rich=True)
