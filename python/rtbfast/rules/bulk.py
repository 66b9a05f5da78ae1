"""Bulk evaluation of constraints over Network values (or a ChangeSet in the same long form),
in the native module: column-wise, on all cores, with the GIL released."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from rtbfast import _native
from rtbfast.rules.constraints import Constraints


@dataclass
class Evaluation:
    violations: pa.Table
    checked: int
    """Values evaluated."""
    problems: list[str] = field(default_factory=list)
    """Constraints that could not be compiled (left out; the others ran)."""


def evaluate(tables: dict[str, pa.Table], constraints: Constraints, *, threads: int = 0) -> Evaluation:
    """Evaluate `constraints` over the ``mos`` and ``values`` tables of a Network."""
    if threads < 0:
        raise ValueError("threads must be 0 (one per core) or more")
    raw = _native.evaluate_constraints(constraints.table, tables["mos"], tables["values"], threads)
    violations = pa.table(raw["violations"])
    problems = [f"{cls}.{attr}: {message}" for _, cls, attr, message in raw["problems"]]
    return Evaluation(violations, raw["checked"], problems)
