"""Reading speed and memory against the peer in the same run.

The issue's targets (read_model at least 8x ElementTree iterparse and 300 MB/s; read_network
200 MB/s; peak RSS at most 2x the Arrow output) are printed with every run, for the default
read on every core and for one thread. The assertions are regression floors with a safety
margin for this shared, noisy machine: they fail the build when the code gets slower or
hungrier, not when the machine is busy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_benchmark.fixture import BenchmarkFixture

import rtbfast
from bench import peers

# peer time / our time: (read on every core, read on one thread); CI inputs measure about
# 9-10x and 6x for the model, 9-10x and 5x for the export on two cores
RATIO_FLOOR_MODEL = (5.0, 3.5)
RATIO_FLOOR_NETWORK = (5.0, 3.0)
RATIO_TARGET = 10.0
"""The readers' target against ElementTree (issue 18: "stay at >= 10x"), said met or NOT MET
in the output: the model reader measures 7-9x here, so its floor stays where it was."""
# memory the read added / Arrow bytes, after a warm-up read (see WARM_UP): (every core, one
# thread); CI inputs measure about 1.5 and 1.3-1.15. Taken cold (the first read of the
# process paging in the native module) they were 2.2 and 2.0-2.05 with floors of 2.5 and 2.0;
# the floors are tightened with the warm-up, not loosened.
MEMORY_FLOOR = (2.0, 1.6)


def best_of(fn: Callable[[], Any], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure(benchmark: BenchmarkFixture, fn: Callable[[], Any]) -> float:
    """Run `fn` under pytest-benchmark and return its best time."""
    benchmark.pedantic(fn, rounds=3, iterations=1)  # type: ignore[no-untyped-call]
    stats = benchmark.stats
    assert stats is not None
    best: float = stats.stats.min
    return best


# The smallest file of each kind, read once before the base is taken: the first read of a
# process pages in the native module's code (about 4 MB of file-backed RSS here) and sets up
# the allocator, a fixed cost that is not memory the read of `path` needed.
WARM_UP = {
    "model": '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE models SYSTEM "mp.dtd"><models>'
    '<mim name="W" version="1" release="1"><class name="ManagedElement"><attribute name="a">'
    "<dataType><string/></dataType></attribute></class></mim></models>",
    "network": '<bulkCmConfigDataFile xmlns:xn="genericNrm.xsd" xmlns:es="EricssonSpecificAttributes.1.1.xsd">'
    '<fileHeader fileFormatVersion="32.615 V4.5"/><configData><xn:SubNetwork id="S">'
    '<xn:VsDataContainer id="1"><xn:attributes><xn:vsDataType>vsDataX</xn:vsDataType>'
    "<es:vsDataX><es:a>1</es:a></es:vsDataX></xn:attributes></xn:VsDataContainer>"
    "</xn:SubNetwork></configData></bulkCmConfigDataFile>",
}


def peak_memory(kind: str, path: Path, threads: int = 0) -> dict[str, float]:
    """Peak RSS of a fresh process that only reads `path`, its RSS before the read (the
    interpreter with pyarrow and rtbfast imported, and one read of a tiny file of the same
    kind done), and the Arrow bytes the read produced. ``cold_peak`` and ``cold_base`` are the
    same figures with the base taken before the tiny read. ``threads`` goes to the reader (0:
    one per core)."""
    code = (
        "import json, re, sys, rtbfast\n"
        "from bench.test_read_bench import arrow_bytes\n"
        "def kb(key):\n"
        "    return int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1)) * 1024\n"
        # Linux: writing 5 to clear_refs resets the high-water mark to the current RSS, so the
        # peak below is the read's own and not that of importing pyarrow.
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "cold_base = kb('VmRSS')\n"
        f"read = rtbfast.read_{kind}\n"
        f"read(sys.argv[2], threads={threads})\n"
        "cold_extra = kb('VmHWM') - cold_base\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "base = kb('VmRSS')\n"
        f"r = read(sys.argv[1], threads={threads})\n"
        "arrow = arrow_bytes(r.tables)\n"
        "peak = kb('VmHWM')\n"
        "print(json.dumps({'peak': peak, 'base': base, 'arrow': arrow,\n"
        "    'cold_base': cold_base, 'cold_peak': max(peak, cold_base + cold_extra)}))\n"
    )
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / f"warm_up_{kind}.xml"
        warm.write_text(WARM_UP[kind])
        out = subprocess.run(
            [sys.executable, "-c", code, str(path), str(warm)], capture_output=True, text=True, check=True, cwd=root
        )
    data: dict[str, float] = json.loads(out.stdout)
    return data


def arrow_bytes(tables: dict[str, Any]) -> int:
    """Bytes of the Arrow buffers behind `tables`, each buffer counted once (the chunks of a
    table read in parts share the dictionary of their FDN column, which ``nbytes`` counts per
    chunk)."""
    seen: dict[int, int] = {}

    def visit(array: Any) -> None:
        for buf in array.buffers():
            if buf is not None:
                seen[buf.address] = max(seen.get(buf.address, 0), buf.size)
        if hasattr(array, "dictionary"):
            visit(array.dictionary)

    for table in tables.values():
        for column in table.columns:
            for chunk in column.chunks:
                visit(chunk)
    return sum(seen.values())


def report(
    benchmark: BenchmarkFixture,
    name: str,
    path: Path,
    ours: float,
    peer: float,
    mem: dict[str, float],
    **extra: float,
) -> float:
    mb = path.stat().st_size / 1e6
    ratio = peer / ours
    info: dict[str, float] = {
        "input_mb": round(mb, 1),
        "rtbfast_mb_s": round(mb / ours, 1),
        "peer_mb_s": round(mb / peer, 1),
        "ratio": round(ratio, 2),
        "peak_rss_mb": round(mem["peak"] / 1e6, 1),
        "arrow_mb": round(mem["arrow"] / 1e6, 1),
        "rss_over_arrow": round(mem["peak"] / mem["arrow"], 2),
        "read_rss_over_arrow": round(read_rss_ratio(mem), 2),
        "cold_read_rss_over_arrow": round((mem["cold_peak"] - mem["cold_base"]) / mem["arrow"], 2),
        **extra,
    }
    benchmark.extra_info.update(info)
    print(f"\n{name}: {info}")
    return ratio


def read_rss_ratio(mem: dict[str, float]) -> float:
    """Memory the read itself added (peak less the interpreter before it) over its Arrow output."""
    return (mem["peak"] - mem["base"]) / mem["arrow"]


def compare(
    benchmark: BenchmarkFixture,
    kind: str,
    path: Path,
    ours: Callable[..., Any],
    peer: Callable[[Path], Any],
    ratio_floor: tuple[float, float],
) -> None:
    """`ours` on every core (the default) against the peer, and against itself on one thread:
    the speed-up the parallel read brings, and the memory it costs."""
    mine = measure(benchmark, lambda: ours(path))
    one_thread = best_of(lambda: ours(path, threads=1))
    theirs = best_of(lambda: peer(path), rounds=1)
    mem = peak_memory(kind, path)
    mem_one = peak_memory(kind, path, threads=1)
    mb = path.stat().st_size / 1e6
    ratio = report(
        benchmark,
        f"read_{kind}",
        path,
        mine,
        theirs,
        mem,
        one_thread_mb_s=round(mb / one_thread, 1),
        one_thread_ratio=round(theirs / one_thread, 2),
        one_thread_peak_rss_mb=round(mem_one["peak"] / 1e6, 1),
        one_thread_rss_over_arrow=round(mem_one["peak"] / mem_one["arrow"], 2),
        one_thread_read_rss_over_arrow=round(read_rss_ratio(mem_one), 2),
    )
    met = "met" if ratio >= RATIO_TARGET else "NOT MET"
    print(f"read_{kind}: target {RATIO_TARGET:g}x ElementTree on every core (issue 18): {met} at {ratio:.2f}x")
    benchmark.extra_info["target"] = f"{RATIO_TARGET:g}x: {met}"
    assert ratio >= ratio_floor[0]
    assert theirs / one_thread >= ratio_floor[1]
    assert read_rss_ratio(mem) <= MEMORY_FLOOR[0]
    assert read_rss_ratio(mem_one) <= MEMORY_FLOOR[1]


def test_read_model_vs_etree(benchmark: BenchmarkFixture, model_file: Path) -> None:
    compare(benchmark, "model", model_file, rtbfast.read_model, peers.etree_attribute_rows, RATIO_FLOOR_MODEL)


def test_read_network_vs_etree(benchmark: BenchmarkFixture, export_file: Path) -> None:
    compare(benchmark, "network", export_file, rtbfast.read_network, peers.etree_value_rows, RATIO_FLOOR_NETWORK)


def test_peer_reads_the_same_rows(model_file: Path, export_file: Path) -> None:
    """The comparison is fair only if the peer extracts the same rows."""
    assert peers.etree_attribute_rows(model_file).num_rows == rtbfast.read_model(model_file).counts()["attributes"]
    assert peers.etree_value_rows(export_file).num_rows == rtbfast.read_network(export_file).counts()["values"]
