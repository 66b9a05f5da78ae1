"""Memory stays linear in the input, whatever its shape: peak memory of a read, measured in a
process of its own, is at most a fixed multiple of the file's size plus a constant, for deep
nesting, for long ids above many children, and for huge values.

Before the hardening, the first three inputs here took 7.2 GB, 0.4 GB and 4.2 GB (the first
aborted the process); they are now refused early, and the huge values are read at a few times
their size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")

HEAD = '<?xml version="1.0"?>\n<bulkCmConfigDataFile xmlns:xn="genericNrm.xsd" xmlns:es="x.xsd"><configData>\n'
TAIL = "</configData></bulkCmConfigDataFile>\n"
MB = 2**20

MEASURE = """
import json, sys, rtbfast
from pathlib import Path

def peak():
    # VmHWM: this process's own high-water mark (ru_maxrss would carry the RSS of the process
    # this one was forked from, which exec does not reset)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("no VmHWM")

path, kind = sys.argv[1], sys.argv[2]
try:
    (rtbfast.read_network if kind == "export" else rtbfast.read_model)(path)
    outcome = "read"
except rtbfast.InputError as err:
    outcome = err.message
print(json.dumps({"peak": peak(), "outcome": outcome}))
"""


def _peak(path: Path, kind: str) -> dict[str, int | str]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), kind], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, int | str] = json.loads(done.stdout)
    return result


def _deep_unknown(path: Path) -> None:
    path.write_text(HEAD + '<xn:x id="1">' * 50_000 + "</xn:x>" * 50_000 + TAIL)


def _deep_containers(path: Path) -> None:
    one = '<xn:VsDataContainer id="{i}"><xn:attributes><xn:vsDataType>vsDataX</xn:vsDataType><es:vsDataX>'
    one += "<es:a>1</es:a><es:b>2</es:b></es:vsDataX></xn:attributes>"
    path.write_text(HEAD + "".join(one.format(i=i) for i in range(5000)) + "</xn:VsDataContainer>" * 5000 + TAIL)


def _long_ids(path: Path) -> None:
    # ids are at most 255 bytes (rtbfast.names): 200 nested MOs of 250-byte ids make a 50 KB FDN
    # above each of 20,000 children
    children = "".join(f'<xn:MeContext id="{i}"/>' for i in range(20_000))
    above = '<xn:SubNetwork id="' + "i" * 250 + '">'
    path.write_text(HEAD + above * 200 + children + "</xn:SubNetwork>" * 200 + TAIL)


def _huge_id(path: Path) -> None:
    children = "".join(f'<xn:MeContext id="{i}"/>' for i in range(20_000))
    path.write_text(HEAD + '<xn:SubNetwork id="' + "i" * 100_000 + '">' + children + "</xn:SubNetwork>" + TAIL)


def _huge_value(path: Path) -> None:
    value = "v" * (48 * MB)
    path.write_text(
        HEAD + '<xn:SubNetwork id="S"><xn:VsDataContainer id="1"><xn:attributes><xn:vsDataType>vsDataX'
        f"</xn:vsDataType><es:vsDataX><es:label>{value}</es:label></es:vsDataX></xn:attributes>"
        "</xn:VsDataContainer></xn:SubNetwork>" + TAIL
    )


def _huge_description(path: Path) -> None:
    text = "d" * (48 * MB)
    path.write_text(
        f'<models><mim name="M" version="1" release="1"><class name="C"><description>{text}</description>'
        '<attribute name="a"><dataType><long/></dataType></attribute></class></mim></models>'
    )


CASES: list[tuple[str, Callable[[Path], None], str, str, float, int]] = [
    # name, writer, kind, what it must end in, bytes of memory per byte of input, constant
    ("50k nested elements", _deep_unknown, "export", "nested more than 256 deep", 4, 16 * MB),
    ("5k nested containers", _deep_containers, "export", "nested more than 256 deep", 4, 16 * MB),
    ("long ids above 20k children", _long_ids, "export", "more than 16 times its size", 40, 80 * MB),
    ("100 KB id above 20k children", _huge_id, "export", "an MO id longer than 255 bytes (100000 bytes)", 40, 80 * MB),
    ("48 MB value", _huge_value, "export", "read", 5, 16 * MB),
    ("48 MB description", _huge_description, "model", "read", 5, 16 * MB),
]


@pytest.mark.parametrize(("name", "write", "kind", "ends", "per_byte", "constant"), CASES, ids=[c[0] for c in CASES])
def test_peak_memory_is_linear_in_the_input(
    tmp_path: Path,
    name: str,
    write: Callable[[Path], None],
    kind: str,
    ends: str,
    per_byte: float,
    constant: int,
) -> None:
    path = tmp_path / "input.xml"
    write(path)
    size = path.stat().st_size
    baseline = _peak(Path(__file__).parents[1] / "examples" / "enodeb_mini_export.xml", "export")["peak"]
    measured = _peak(path, kind)
    assert isinstance(measured["outcome"], str) and ends in measured["outcome"], measured["outcome"]
    assert isinstance(baseline, int) and isinstance(measured["peak"], int)
    grown = measured["peak"] - baseline
    print(f"{name}: {size / MB:.1f} MB in, peak {measured['peak'] / MB:.0f} MB ({grown / MB:+.0f} MB over a tiny read)")
    assert grown <= per_byte * size + constant, f"{name}: {grown / MB:.0f} MB for {size / MB:.1f} MB of input"
