"""Benchmark inputs: the real samples scaled up, and deterministic synthetic files.

`big_lte_model` repeats the real LTE model's `<mim>` under distinct MIM names (the 100 MB
model of the benchmarks). Files are written once into a cache folder and reused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SAMPLES = Path(os.environ.get("RTBFAST_SAMPLES", Path(__file__).resolve().parents[1] / ".." / "shared" / "samples"))
LTE_MODEL = SAMPLES / "mom" / "ERBS_NODE_MODEL_D_full_mp.xml"
CACHE = Path(os.environ.get("RTBFAST_BENCH_CACHE", Path(__file__).resolve().parents[1] / "target" / "bench-data"))


def big_lte_model(copies: int = 27) -> Path:
    """The real LTE model with its `<mim>` repeated `copies` times under distinct names."""
    out = CACHE / f"lte_x{copies}_mp.xml"
    if out.exists():
        return out
    data = LTE_MODEL.read_bytes()
    start = data.index(b"<mim ")
    end = data.index(b"</mim>") + len(b"</mim>")
    head, mim, tail = data[:start], data[start:end], data[end:]
    name = re.search(rb'<mim name="([^"]+)"', mim)
    assert name is not None
    original = name.group(1)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.write(head)
        for i in range(copies):
            f.write(mim.replace(b'name="' + original + b'"', b'name="' + original + b"_%02d" % i + b'"', 1))
            f.write(b"\n")
        f.write(tail)
    tmp.rename(out)
    return out
