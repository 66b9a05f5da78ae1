"""Shared test fixtures: where the real samples are, and a writer for project-made XML."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["tests.enm_fixtures", "tests.spark_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("RTBFAST_SAMPLES", ROOT / ".." / "shared" / "samples"))
EXAMPLES = ROOT / "examples"
EXAMPLE_MODEL = EXAMPLES / "enodeb_mini_mp.xml"
EXAMPLE_EXPORT = EXAMPLES / "enodeb_mini_export.xml"


def rtbfast(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The ``rtbfast`` command as a user runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "rtbfast.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


PLACEHOLDER = re.compile(r"%(\w+)%|\{\{\s*(\w+)\s*\}\}")
"""A template token in ENM's sample import files (``%NodeName%``, ``{{ node_id }}``)."""


def filled(path: Path, folder: Path) -> Path:
    """`path`, or when it is an import-file template, a copy in `folder` with each placeholder
    filled with its own name (``%NodeName%`` → ``NodeName``), as the tool that uses it fills
    them: an MO id is a name (rtbfast.names), and ``%NodeName%`` is refused as one."""
    text = path.read_text(encoding="utf-8")
    if not PLACEHOLDER.search(text):
        return path
    out = folder / path.name
    out.write_text(PLACEHOLDER.sub(lambda m: m.group(1) or m.group(2), text), encoding="utf-8")
    return out


def one_line_error(run: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """Assert `run` failed with exit `code` and one line ``error: ...`` holding `fragments`
    (no traceback); return that line."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode == code, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def samples_dir(sub: str) -> Path:
    path = SAMPLES / sub
    if not path.is_dir():
        pytest.skip(f"real samples not found at {path} (set RTBFAST_SAMPLES to the shared samples folder)")
    return path


@pytest.fixture
def write_xml(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return path

    return write


def _openssl(*args: str | Path) -> None:
    made = subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)
    if made.returncode:
        pytest.skip(f"openssl cannot make a certificate here: {made.stderr[-300:]!r}")


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a certificate it signs for 127.0.0.1: (CA, certificate, key)."""
    folder = tmp_path_factory.mktemp("tls")
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, request = folder / "enm.pem", folder / "enm.key", folder / "enm.csr"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    constraints = ("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl(
        "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=rtbfast test CA", *constraints
    )
    _openssl("req", *ec, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1")
    extensions = folder / "ext.cnf"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature\n"
    )
    _openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
             "-days", "1", "-extfile", extensions)  # fmt: skip
    return ca, cert, key
