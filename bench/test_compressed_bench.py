"""Compressed exports read as they are decompressed (docs/inputs.md), against the peers a user
would otherwise pick, in the same run:

- Python's ``gzip.open`` under lxml's ``iterparse`` extracting the value rows;
- ``gzip`` to a plain file on disk, then rtbfast's plain reader (decompress, then read).

The issue's targets: at least 150 MB/s of XML through gzip on one core, and peak memory as for
the plain file (a subprocess each, its peak RSS by ``RUSAGE_CHILDREN``). Both are printed MET or
NOT MET and asserted. Speeds on one core are MB of XML per CPU second of this process (user and
system time, ``RUSAGE_SELF``; the reads and the peers run on one thread each): on this shared
two-core machine wall time measures the neighbours as much as the reader. Wall times are
printed beside them, and the read with a second thread decompressing ahead is timed by the wall.
bzip2 is measured and printed (it decompresses at a fraction of gzip's speed; no target).
A generated export of 24 MB in CI, 400 MB with ``RTBFAST_BENCH_FULL=1``.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pytest_benchmark.fixture import BenchmarkFixture

import rtbfast
from bench import peers
from bench.generate import write_export

FULL = os.environ.get("RTBFAST_BENCH_FULL") == "1"
MEGABYTES = 400 if FULL else 24
TARGET_MB_S = 150.0
"""XML per second through gzip on one core (issue 20)."""
MEMORY_TARGET = 1.10
"""Peak RSS reading the .xml.gz over reading the plain .xml (the same threads): "as for the
plain file", with 10% for the decompressor and the blocks read ahead (4 MiB)."""
RATIO_FLOOR = 5.0
"""rtbfast on a .xml.gz over gzip.open + lxml iterparse, one core each: a regression floor."""


@pytest.fixture(scope="module")
def files() -> Iterator[dict[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        plain = write_export(Path(tmp) / "export.xml", MEGABYTES)
        data = plain.read_bytes()
        gz = Path(tmp) / "export.xml.gz"
        gz.write_bytes(gzip.compress(data, compresslevel=6))  # gzip's default, as `gzip export.xml`
        bz = Path(tmp) / "export.xml.bz2"
        bz.write_bytes(bz2.compress(data, compresslevel=9))
        del data
        yield {"plain": plain, "gzip": gz, "bzip2": bz}


def best_of(fn: Callable[[], Any], rounds: int = 3) -> float:
    """The shortest wall time of `rounds` runs."""
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cpu_of(fn: Callable[[], Any], rounds: int = 3) -> float:
    """The least CPU time (user and system, this process) of `rounds` runs."""

    def used() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    best = float("inf")
    for _ in range(rounds):
        before = used()
        fn()
        best = min(best, used() - before)
    return best


def peak_rss(path: Path, threads: int) -> int:
    """Peak RSS (bytes) of a fresh process that reads `path`, by ``RUSAGE_CHILDREN`` of a
    process started only to start it (so no other child is counted)."""
    read = f"import rtbfast, sys; rtbfast.read_network(sys.argv[1], threads={threads})"
    outer = (
        "import resource, subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]], check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", outer, read, str(path)], capture_output=True, text=True, check=True, cwd=root
    )
    return int(out.stdout.strip())


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def test_gzip_export_read(benchmark: BenchmarkFixture, files: dict[str, Path]) -> None:
    plain, gz, bz = files["plain"], files["gzip"], files["bzip2"]
    xml_mb = plain.stat().st_size / 1e6
    # ours, one core: the parser and zlib-rs on one thread
    benchmark.pedantic(lambda: rtbfast.read_network(gz, threads=1), rounds=3, iterations=1)  # type: ignore[no-untyped-call]
    assert benchmark.stats is not None
    wall_one: float = benchmark.stats.stats.min
    ours_one = cpu_of(lambda: rtbfast.read_network(gz, threads=1))
    ours_two = best_of(lambda: rtbfast.read_network(gz, threads=0))  # a second thread decompresses ahead
    plain_one = cpu_of(lambda: rtbfast.read_network(plain, threads=1))
    plain_two = best_of(lambda: rtbfast.read_network(plain, threads=0))
    bz_one = cpu_of(lambda: rtbfast.read_network(bz, threads=1), rounds=1)
    bz_two = best_of(lambda: rtbfast.read_network(bz, threads=0), rounds=1)

    # the peers: gzip.open under lxml iterparse; and gunzip to disk, then the plain reader
    def gzip_open_lxml() -> None:
        with gzip.open(gz) as f:
            peers.etree_value_rows(f, etree.iterparse)

    peer_lxml = cpu_of(gzip_open_lxml, rounds=1)

    def gunzip_then_read() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "export.xml"
            with gzip.open(gz) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            rtbfast.read_network(out, threads=1)

    peer_gunzip = cpu_of(gunzip_then_read, rounds=2)

    same = rtbfast.read_network(gz, threads=1).tables
    assert same["values"].num_rows == peers.etree_value_rows(plain).num_rows  # the same rows as the peer's

    mem_plain = peak_rss(plain, 1)
    mem_gz = peak_rss(gz, 1)
    mem_plain_all = peak_rss(plain, 0)
    mem_gz_all = peak_rss(gz, 0)

    mb_s = xml_mb / ours_one
    ratio_lxml = peer_lxml / ours_one
    ratio_gunzip = peer_gunzip / ours_one
    mem_ratio = mem_gz / mem_plain
    figures = {
        "xml_mb": round(xml_mb, 1),
        "gzip_mb": round(gz.stat().st_size / 1e6, 1),
        "bzip2_mb": round(bz.stat().st_size / 1e6, 1),
        "gzip_one_core_mb_per_cpu_s": round(mb_s, 1),
        "gzip_one_thread_mb_per_wall_s": round(xml_mb / wall_one, 1),
        "gzip_two_threads_mb_per_wall_s": round(xml_mb / ours_two, 1),
        "plain_one_core_mb_per_cpu_s": round(xml_mb / plain_one, 1),
        "plain_all_cores_mb_per_wall_s": round(xml_mb / plain_two, 1),
        "bzip2_one_core_mb_per_cpu_s": round(xml_mb / bz_one, 1),
        "bzip2_two_threads_mb_per_wall_s": round(xml_mb / bz_two, 1),
        "vs_gzip_open_lxml_iterparse": round(ratio_lxml, 1),
        "vs_gunzip_then_plain_read": round(ratio_gunzip, 2),
        "peak_rss_mb_plain_one_thread": round(mem_plain / 1e6, 1),
        "peak_rss_mb_gzip_one_thread": round(mem_gz / 1e6, 1),
        "peak_rss_mb_plain_all_cores": round(mem_plain_all / 1e6, 1),
        "peak_rss_mb_gzip_all_cores": round(mem_gz_all / 1e6, 1),
    }
    benchmark.extra_info.update(figures)
    print("\ncompressed read:", json.dumps(figures))
    print(f"gzip on one core: {mb_s:.0f} MB/s of XML, target {TARGET_MB_S:.0f}: {verdict(mb_s >= TARGET_MB_S)}")
    print(f"peak memory .xml.gz / .xml (one thread): {mem_ratio:.2f}, target <= {MEMORY_TARGET}: "
          f"{verdict(mem_ratio <= MEMORY_TARGET)}")  # fmt: skip
    print(
        f"CPU time, vs gzip.open + lxml iterparse: {ratio_lxml:.1f}x; vs gunzip to disk then read: {ratio_gunzip:.2f}x"
    )
    assert ratio_lxml >= RATIO_FLOOR, f"{ratio_lxml:.1f}x gzip.open + lxml iterparse, floor {RATIO_FLOOR}"
    assert mem_ratio <= MEMORY_TARGET, f"peak memory {mem_ratio:.2f}x the plain read's: NOT MET"
    assert mb_s >= TARGET_MB_S, f"{mb_s:.0f} MB/s of XML through gzip on one core: NOT MET ({TARGET_MB_S:.0f})"


def test_rusage_children_counts_only_the_reader() -> None:
    """The memory figure's method: a child that allocates 200 MB shows it, one that does not
    does not (so the figure above is the reader's own)."""
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >= 0
    code = "b = bytearray(200_000_000); b[::4096] = b'x' * len(b[::4096])"
    outer = (
        "import resource, subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', sys.argv[1]], check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    big = int(subprocess.run([sys.executable, "-c", outer, code], capture_output=True, text=True, check=True).stdout)
    small = int(
        subprocess.run([sys.executable, "-c", outer, "pass"], capture_output=True, text=True, check=True).stdout
    )
    assert big - small > 150_000_000
