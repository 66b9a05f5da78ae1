"""Shared test fixtures: where the real samples are, and a writer for project-made XML."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("RTBFAST_SAMPLES", ROOT / ".." / "shared" / "samples"))
EXAMPLE_MODEL = ROOT / "examples" / "enodeb_mini_mp.xml"


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
