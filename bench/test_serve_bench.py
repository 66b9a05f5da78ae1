"""``rtbfast serve`` under load, against the CLI doing the same check, in the same run.

A bounded load generator (async ``httpx``: each client its own connection and client, as
separate users are; a fixed number of requests) checks one typical RTB template (24 values in
7 MOs: a cell, its measurement control, report configurations and its sleep function) against
the real LTE catalog (the ERBS model with the workbook's RAN subset) on loopback, at 1, 8 and
32 clients at once. Measured: latency p50/p95/p99 as the clients see them and as the server's
own histogram does, throughput, ``/health`` under load (a probe every 10 ms while the 32 clients
check, as a Kubernetes probe is: sent from the load generator's loop, and from a process of its
own as a kubelet's is), ``/health`` flooded by 32 clients and from one client alone, and the
service's peak memory (its worker processes included). Also measured: the CPU time a request
costs the load generator (this process) and the server (its process and check workers, from
/proc), and from them the floor Little's law puts under the mean latency at 32 clients on this
machine's cores (clients x CPU per request / cores), and under it for the generator's one loop
alone (clients x its CPU per request): the httpx generator alone costs about 1 ms of CPU a
request, so at 32 clients no server can give it a mean under about 32 ms here. The peer is what a user would
otherwise run: ``rtbfast templates check TEMPLATE --catalog OUT --format json``, a process per
check (its time per check, and its throughput with one process per core); the ratio is the
service's throughput over it.

Two ways of running checks, in the same run: in worker processes (the default, one per core,
each with the catalog loaded once, at a lower CPU priority than the process answering HTTP),
and on threads of the server's process (``--check-workers 0``, how checks ran before). A check
is mostly Python between the native calls (Arrow compute on small arrays; ``py-spy`` puts about
a fifth of a check in the native read and evaluation, which release the GIL), so threads do not
add throughput, and they hold the GIL the event loop needs to answer ``/health``.

Targets (issue 19): p95 <= 10 ms and p99 <= 25 ms at 32 clients, /health p99 <= 2 ms. Each is
printed MET or NOT MET with its figure; one not met makes the test an expected failure naming
it (XFAIL "NOT MET: ..."), never a pass. With 32 clients always waiting, Little's law gives a
mean latency of 32 / throughput: p95 <= 10 ms needs more than 3,200 checks/s, well under
1 ms of CPU a check on 2 cores shared with the load generator (itself about 0.8 ms of CPU a
request here) and the server (about 0.6 ms). A worker checks the checks waiting for it as one
batch (about 3.5 ms of CPU alone, 0.3 ms a check in a batch of 16); the figures say how far.
Asserted: every answer is the CLI's findings, and the floors that hold (the service at least
10x the CLI's throughput).

Workers: 1 server process (what the Helm chart runs per pod; scaling is by replicas, the HPA),
with check workers one per core (2 here).
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.conftest import FULL, held
from bench.generate import TEMPLATE_MOS
from tests.serve_fixtures import Server

pytest.importorskip("fastapi")

CLIENTS = 32
LEVELS = {1: 400 if FULL else 100, 8: 2000 if FULL else 300, 32: 4000 if FULL else 600}
"""Clients at once → requests checked at that level."""
HEALTH_REQUESTS = 2000 if FULL else 400
PROBE_SECONDS = 0.01
CLI_RUNS = 8 if FULL else 4
P95_TARGET_MS = 10.0
P99_TARGET_MS = 25.0
HEALTH_P99_TARGET_MS = 2.0
THROUGHPUT_RATIO_FLOOR = 10.0  # service checks/s over the CLI's (one process per core); measured 44-93x


def typical_template(path: Path) -> Path:
    """24 values in 7 MOs, the kinds a mobility and energy template sets, no wrong value."""
    rng = random.Random(19)

    def values(cls: str) -> dict[str, str]:
        return {name: make(rng) for name, make in TEMPLATE_MOS[cls].items()}

    cell: dict[str, Any] = {
        **values("EUtranCellFDD"),
        "UeMeasControl-1": {
            **values("UeMeasControl"),
            "ReportConfigEUtraBestCell-1": values("ReportConfigEUtraBestCell"),
            "ReportConfigEUtraBestCell-2": values("ReportConfigEUtraBestCell"),
            "ReportConfigA5-1": values("ReportConfigA5"),
            "ReportConfigA5-2": values("ReportConfigA5"),
        },
        "CellSleepFunction-1": values("CellSleepFunction"),
    }
    doc = [{"$meta": {"version": "1.0.0", "description": "typical"}}, {"EUtranCellFDD": cell}]
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Load:
    latencies: list[float]  # each request's, as its client saw it (s)
    wall: float  # s
    answers: list[Any]
    probes: list[float]  # the in-loop /health probe's latencies (s)
    cpu: float  # the load generator's CPU time while it ran (s): this process, user and system
    window: tuple[float, float]  # when the requests ran (time.time())


async def _load(
    url: str, method: str, path: str, body: bytes | None, count: int, clients: int, probe: bool = False
) -> Load:
    """`count` requests by `clients` clients at once, each with its own connection; with
    `probe`, a ``/health`` probe sent every 10 ms meanwhile by a client of the same loop."""
    latencies: list[float] = []
    answers: list[Any] = []
    probes: list[float] = []
    todo = iter(range(count))
    done = asyncio.Event()

    async def one_client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await client.get("/health")  # connected before the clock starts
            await started.wait()
            for _ in todo:
                t = time.perf_counter()
                answer = await client.request(method, path, content=body)
                latencies.append(time.perf_counter() - t)
                answers.append(answer)

    async def prober() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await client.get("/health")
            await started.wait()
            while not done.is_set():
                t = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                probes.append(time.perf_counter() - t)
                await asyncio.sleep(PROBE_SECONDS)

    started = asyncio.Event()
    tasks = [asyncio.create_task(one_client()) for _ in range(clients)]
    probing = asyncio.create_task(prober()) if probe else None
    await asyncio.sleep(0.5)  # every client connected
    start, cpu, began = time.perf_counter(), time.process_time(), time.time()
    started.set()
    await asyncio.gather(*tasks)
    wall, cpu, window = time.perf_counter() - start, time.process_time() - cpu, (began, time.time())
    done.set()
    if probing is not None:
        await probing
    return Load(latencies, wall, answers, probes, cpu, window)


PROBE = """
import sys, time, httpx
url, stop = sys.argv[1], sys.argv[2]
seen = []
with httpx.Client(base_url=url, timeout=60) as client:
    client.get("/health")
    print("ready", flush=True)
    while True:
        try:
            open(stop).close()
            break
        except FileNotFoundError:
            pass
        t = time.perf_counter()
        assert client.get("/health").status_code == 200
        seen.append((time.time(), time.perf_counter() - t))
        time.sleep(%r)
print(repr(seen))
"""


class ProbeProcess:
    """A ``/health`` probe every 10 ms from a process of its own, as a kubelet probes: what it
    measures is the server's answer, not the load generator's loop (whose 32 clients' work
    delays a probe sent from that loop)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.stop = folder / "probe.stop"
        self.stop.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROBE % PROBE_SECONDS, url, str(self.stop)], stdout=subprocess.PIPE, text=True
        )
        # started (Python and httpx imported, connected) before the load begins, so that its
        # start does not take the cores from the load
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def stopped(self) -> list[tuple[float, float]]:
        """Every probe sent (time.time(), latency in s), the probe stopped."""
        self.stop.touch()
        try:
            out, _ = self.process.communicate(timeout=60)
        finally:
            self.process.kill()
        assert self.process.returncode == 0, "the /health probe process failed"
        seen: list[tuple[float, float]] = ast.literal_eval(out)
        return seen


def _buckets(text: str, route: str) -> dict[float, float]:
    """The cumulative counts of the request-duration histogram of `route` in a scrape."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("rtbfast_http_request_duration_seconds_bucket{") and f'route="{route}"' in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def server_quantile(before: str, after: str, route: str, q: float) -> float:
    """`q` of the durations the server measured between two scrapes (ms), interpolated within
    a bucket as Prometheus's histogram_quantile does."""
    b, a = _buckets(before, route), _buckets(after, route)
    counts = sorted((le, a[le] - b.get(le, 0.0)) for le in a)
    total = counts[-1][1]
    rank, lower, below = q * total, 0.0, 0.0
    for le, n in counts:
        if n >= rank:
            if le == float("inf"):
                return lower * 1000
            return (lower + (le - lower) * ((rank - below) / (n - below) if n > below else 0)) * 1000
        lower, below = le, n
    return float("nan")


def _vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of the server: its process and, with workers, theirs, added up."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *map(int, children.read_text().split())] if children.exists() else [pid]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def _cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of the server's process and its children now alive (the
    check workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    total = 0.0
    for p in [pid, *map(int, children.read_text().split())] if children.exists() else [pid]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _scrape(url: str) -> str:
    return httpx.get(f"{url}/metrics", timeout=60).text


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 2)


def _measure(
    server: Server, template: bytes, expected: list[dict[str, Any]], levels: dict[int, int], folder: Path
) -> dict[str, Any]:
    path = "/v1/templates/check?name=typical.json&dynamic=true"
    asyncio.run(_load(server.url, "POST", path, template, 64, 8))  # warm
    out: dict[str, Any] = {}
    for clients, count in levels.items():
        before = _scrape(server.url)
        prober = ProbeProcess(server.url, folder) if clients == CLIENTS else None
        try:
            served = _cpu_seconds(server.process.pid)
            load = asyncio.run(_load(server.url, "POST", path, template, count, clients, probe=clients == CLIENTS))
            served = _cpu_seconds(server.process.pid) - served
        finally:
            seen = prober.stopped() if prober is not None else []
        probed = [seconds for at, seconds in seen if load.window[0] <= at <= load.window[1]]
        between = _scrape(server.url)
        assert all(a.status_code == 200 for a in load.answers)
        for a in load.answers[:20]:
            assert a.json()["findings"] == expected  # the service answers what the CLI answers
        out[f"{clients}_clients"] = {
            "requests": count,
            "p50_ms": _ms(load.latencies, 0.50),
            "p95_ms": _ms(load.latencies, 0.95),
            "p99_ms": _ms(load.latencies, 0.99),
            "mean_ms": round(sum(load.latencies) / count * 1000, 2),
            "checks_per_s": round(count / load.wall, 1),
            "server_p95_ms": round(server_quantile(before, between, "/v1/templates/check", 0.95), 2),
            "server_p99_ms": round(server_quantile(before, between, "/v1/templates/check", 0.99), 2),
            "load_generator_cpu_ms_per_request": round(load.cpu / count * 1000, 3),
            "server_cpu_ms_per_request": round(served / count * 1000, 3),
        }
        if load.probes:
            out[f"{clients}_clients"].update(
                {
                    "health_probes": len(load.probes),
                    "health_p50_ms": _ms(load.probes, 0.5),
                    "health_p99_ms": _ms(load.probes, 0.99),
                }
            )
        if probed:
            out[f"{clients}_clients"].update(
                {
                    "health_probes_own_process": len(probed),
                    "health_p50_ms_own_process": _ms(probed, 0.5),
                    "health_p99_ms_own_process": _ms(probed, 0.99),
                }
            )
    between = _scrape(server.url)
    flood_load = asyncio.run(_load(server.url, "GET", "/health", None, HEALTH_REQUESTS, CLIENTS))
    flood = flood_load.latencies
    assert all(a.status_code == 200 for a in flood_load.answers)
    after = _scrape(server.url)
    single = []
    with httpx.Client(base_url=server.url) as c:
        for _ in range(200):
            t = time.perf_counter()
            c.get("/health")
            single.append(time.perf_counter() - t)
    out.update(
        {
            "health_flood_p95_ms_32_clients": _ms(flood, 0.95),
            "health_flood_p99_ms_32_clients": _ms(flood, 0.99),
            "health_flood_load_generator_cpu_ms_per_request": round(flood_load.cpu / HEALTH_REQUESTS * 1000, 3),
            "server_health_flood_p99_ms": round(server_quantile(between, after, "/health", 0.99), 2),
            "health_p99_ms_1_client": _ms(single, 0.99),
            "peak_mb": round(_vm_hwm_mb(server.process.pid), 1),
        }
    )
    return out


def _cli(template: Path, catalog: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rtbfast.cli",
            "templates",
            "check",
            str(template),
            "--catalog",
            str(catalog),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def _start(folder: Path, catalog: Path, *args: str) -> Server:
    server = Server(folder, "--catalog", f"lte={catalog}", "--jobs-dir", folder / "jobs", *args)
    server.wait_ready()
    return server


def test_serve_check_under_load_vs_cli(benchmark: BenchmarkFixture, lte_out: Path, tmp_path: Path) -> None:
    template = typical_template(tmp_path / "typical.json")
    body = template.read_bytes()
    # the peer: the CLI, a process per check; alone, then one process per core at once
    first = _cli(template, lte_out)
    expected = json.loads(first.stdout)["findings"]  # the CLI's object: a summary and the findings
    for f in expected:
        f["template"] = "typical.json"
    times = []
    for _ in range(CLI_RUNS):
        t = time.perf_counter()
        assert _cli(template, lte_out).returncode == first.returncode
        times.append(time.perf_counter() - t)
    cli_seconds = percentile(times, 0.5)
    cores = len(os.sched_getaffinity(0))
    t = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(lambda _: _cli(template, lte_out), range(CLI_RUNS)))
    cli_per_s = CLI_RUNS / (time.perf_counter() - t)

    processes = _start(tmp_path / "processes", lte_out)  # check workers: one per core
    try:
        results: dict[str, Any] = {}

        def run() -> None:
            results.update(_measure(processes, body, expected, LEVELS, tmp_path))

        benchmark.pedantic(run, rounds=1, iterations=1)  # type: ignore[no-untyped-call]
        values = _scrape(processes.url)
    finally:
        processes.stop()
    assert "rtbfast_values_checked_total" in values
    # the same in the same run with the checks on threads of the server's process
    threads = _start(tmp_path / "threads", lte_out, "--check-workers", "0")
    try:
        on_threads = _measure(threads, body, expected, LEVELS if FULL else {CLIENTS: LEVELS[CLIENTS]}, tmp_path)
    finally:
        threads.stop()
    at = results[f"{CLIENTS}_clients"]
    info: dict[str, Any] = {
        "server_processes": 1,
        "check_workers": cores,
        **results,
        "check_on_threads": on_threads,
        "cli_seconds_per_check": round(cli_seconds, 3),
        "cli_checks_per_s_one_process_per_core": round(cli_per_s, 2),
        "throughput_ratio_vs_cli": round(at["checks_per_s"] / cli_per_s, 1),
        "latency_ratio_vs_cli_1_client": round(cli_seconds * 1000 / results["1_clients"]["p50_ms"], 1),
        "processes_over_threads_throughput_32_clients": round(
            at["checks_per_s"] / on_threads[f"{CLIENTS}_clients"]["checks_per_s"], 2
        ),
        # Little's law with every client always waiting: mean latency = clients / throughput,
        # and throughput <= cores / (the CPU a request costs the generator and the server); one
        # generator loop alone allows at most 1 / its CPU per request
        "mean_latency_floor_ms_32_clients": round(
            CLIENTS * (at["load_generator_cpu_ms_per_request"] + at["server_cpu_ms_per_request"]) / cores, 2
        ),
        "mean_latency_floor_ms_32_clients_generator_alone": round(CLIENTS * at["load_generator_cpu_ms_per_request"], 2),
        "values_in_template": 24,
        "findings": len(expected),
        "load_average": os.getloadavg()[0],
    }
    benchmark.extra_info.update(info)
    print(f"\nserve check: {json.dumps(info, indent=1)}")
    targets = {}
    for name, got, target in (
        ("p95 at 32 clients", at["p95_ms"], P95_TARGET_MS),
        ("p99 at 32 clients", at["p99_ms"], P99_TARGET_MS),
        ("p95 in the server at 32 clients (its histogram)", at["server_p95_ms"], P95_TARGET_MS),
        ("p99 in the server at 32 clients (its histogram)", at["server_p99_ms"], P99_TARGET_MS),
        ("/health p99 probed under the 32 clients' checks", at["health_p99_ms"], HEALTH_P99_TARGET_MS),
        (
            "/health p99 probed from a process of its own under the 32 clients' checks",
            at["health_p99_ms_own_process"],
            HEALTH_P99_TARGET_MS,
        ),
        ("/health p99 flooded by 32 clients", info["health_flood_p99_ms_32_clients"], HEALTH_P99_TARGET_MS),
        ("/health p99 in the server, flooded", info["server_health_flood_p99_ms"], HEALTH_P99_TARGET_MS),
        ("/health p99 from 1 client", info["health_p99_ms_1_client"], HEALTH_P99_TARGET_MS),
    ):
        met = got <= target
        print(f"serve check: target {name} <= {target:g} ms (issue 19): {'MET' if met else 'NOT MET'} at {got:g} ms")
        benchmark.extra_info[f"target {name}"] = f"<= {target:g} ms: {'MET' if met else 'NOT MET'} at {got:g} ms"
        targets[f"{name} {got:g} ms (target {target:g} ms)"] = met
    ratio = info["throughput_ratio_vs_cli"]
    assert ratio >= THROUGHPUT_RATIO_FLOOR, f"{ratio}x the CLI's checks/s; the floor is {THROUGHPUT_RATIO_FLOOR:g}x"
    held(targets, f"serve check at {at['checks_per_s']:g} checks/s")
