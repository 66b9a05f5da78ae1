"""Peak memory and time of ``rtbfast templates expand --targets '*'`` (node batch by node batch)
against the peer in the same run: the same expansion over the whole network at once
(:func:`rtbfast.templates.expand.expand_whole` and :func:`rtbfast.changeset.write_changeset`, what
``templates expand`` ran before it streamed), each in a process of its own (``ru_maxrss`` of
the child). The rich generated export (11 MB in CI; 124 MB and 500 MB with
``RTBFAST_BENCH_FULL=1``) and the expansion benchmark's template (``bench/test_templates_bench.py``).

Targets (issue 18): memory bounded by the largest node batch, not the network: the streamed peak
at most :func:`peak_target_mb` (the issue's two expansion targets: ≤ 300 MB at 100 MB, under
1 GB at 2 GB, so under 1 GB at every size past 100 MB), below the whole's from 100 MB on.
A target not met is printed NOT MET and the test fails."""

# ruff: noqa: F811  (the shared example_out fixture, imported, is the test's argument)
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench import corpus, generate
from bench.conftest import FULL
from bench.test_plan_memory_curve import example_out  # noqa: F401  (the example catalog fixture, shared)

SIZES_MB = (124, 500) if FULL else (11,)


def peak_target_mb(size_mb: int) -> int:
    """The issue's target for the streamed expansion's peak at an export of `size_mb`: 300 MB up
    to its 100 MB point (the generator's 124 MB size), under 1 GB up to 2 GB."""
    return 300 if size_mb <= 124 else 1000


_WHOLE = """
import sys
from rtbfast.changeset import write_changeset
from rtbfast.templates.expand import expand_whole
template, catalog, network, out = sys.argv[1:5]
result = expand_whole(template, catalog, network, ["*"])
write_changeset(result.changes, out, {})
print(result.changes.num_rows, len(result.targets))
"""


def _peak(command: list[str]) -> tuple[float, float, str]:
    """Peak memory (MB) and seconds of `command` in a process of its own; its stdout."""
    code = (
        "import resource, subprocess, sys\n"
        "run = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(run.stderr[-2000:])\n"
        "print(run.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(run.stdout[-500:])\n"
    )
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    first, _, rest = run.stdout.partition("\n")
    returncode, maxrss = first.split()
    assert returncode in ("0", "1"), run.stderr  # 1: the verdicts' errors (the file is still written)
    return int(maxrss) / 1024, seconds, rest.strip() or run.stderr.strip().splitlines()[-1]


def _export(size: int) -> Path:
    corpus.CACHE.mkdir(parents=True, exist_ok=True)
    path = corpus.CACHE / f"synthetic_rich_export_v2_{size}mb.xml"
    if not path.exists():
        generate.write_export(path, size, rich=True, relations=5)
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rtbfast.templates.tree import template_json
    from rtbfast.templates.typed import make_variants
    from tests.conftest import EXAMPLES

    (variant,) = make_variants(
        EXAMPLES / "templates" / "base_cell.yaml", [EXAMPLES / "templates" / "motorway_mobility.yaml"]
    )
    plain = _without_node_made(json.loads(template_json(variant.compiled)))
    path: Path = tmp_path_factory.mktemp("expand-memory") / "motorway.json"
    path.write_text(json.dumps(plain, indent=1), encoding="utf-8")
    return path


def _without_node_made(part: Any) -> Any:
    if isinstance(part, dict):
        return {
            k: _without_node_made(v)
            for k, v in part.items()
            if not k.startswith(("CellSleepFunction-", "MimoSleepFunction-"))
        }
    if isinstance(part, list):
        return [_without_node_made(v) for v in part]
    return part


@pytest.mark.parametrize("size", SIZES_MB)
def test_expand_every_cell_in_memory_bounded_by_a_node_batch(
    size: int, example_out: Path, template: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    export = _export(size)
    streamed = [sys.executable, "-m", "rtbfast.cli", "templates", "expand", str(template), "--catalog"]
    streamed += [str(example_out), "--network", str(export), "--targets", "*", "--allow-errors"]
    mine, mine_s, said = _peak([*streamed, "-o", str(tmp_path / "streamed.parquet")])
    whole_cmd = [sys.executable, "-c", _WHOLE, str(template), str(example_out), str(export)]
    whole, whole_s, _ = _peak([*whole_cmd, str(tmp_path / "whole.parquet")])
    rows = pq.ParquetFile(tmp_path / "streamed.parquet").metadata.num_rows
    same = pq.read_table(tmp_path / "streamed.parquet").equals(pq.read_table(tmp_path / "whole.parquet"))
    info = {
        "export_mb": round(export.stat().st_size / 1e6),
        "rows": rows,
        "streamed_peak_mb": round(mine),
        "streamed_s": round(mine_s, 1),
        "whole_peak_mb": round(whole),
        "whole_s": round(whole_s, 1),
        "peak_ratio": round(whole / mine, 2),
        "said": said[-200:],
    }
    print(f"\nexpand --targets '*': {json.dumps(info)}")
    checks = {
        f"streamed peak {mine:.0f} MB <= {peak_target_mb(size)} MB": mine <= peak_target_mb(size),
        f"streamed peak {mine:.0f} MB below the whole's {whole:.0f} MB": size < 100 or mine < whole,
    }
    for words, ok in checks.items():
        if not ok:
            print(f"NOT MET: {words}")
    assert same
    assert all(checks.values()), [w for w, ok in checks.items() if not ok]
