"""The release profile builds pyo3-arrow and the crates only it reaches unoptimised, to keep the
first install short (README, "Install time"). That holds only while rtbfast runs none of their
per-value code: a crate rtbfast starts to call directly must be optimised again."""

from __future__ import annotations

import tomllib
from typing import Any

from tests.conftest import ROOT

# Direct dependencies allowed unoptimised, and why no per-value work runs in them.
UNOPTIMISED_DIRECT = {
    "pyo3-arrow": "the C stream's import and export, once per batch; the arrays themselves are shared",
}


def toml(path: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / path).read_text(encoding="utf-8"))


def test_unoptimised_crates_are_not_called_by_rtbfast() -> None:
    workspace = toml("Cargo.toml")
    crate = toml("rust/Cargo.toml")
    overrides: dict[str, dict[str, Any]] = workspace["profile"]["release"].get("package", {})
    unoptimised = {name for name, settings in overrides.items() if settings.get("opt-level") == 0}
    assert {"arrow-cast", "arrow-ord", "pyo3-arrow"} <= unoptimised
    direct = set(crate["dependencies"]) | set(crate.get("dev-dependencies", {}))
    called = (unoptimised & direct) - set(UNOPTIMISED_DIRECT)
    assert not called, f"rtbfast depends on {sorted(called)}: remove them from the unoptimised list in Cargo.toml"
    # the everyday settings stay those of an optimised build
    release = workspace["profile"]["release"]
    assert release.get("opt-level", 3) == 3
    assert release.get("debug", False) is False
