"""Bulk evaluation of constraints over Network values (or a ChangeSet in the same long form),
in the native module: column-wise, on all cores, with the GIL released."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from rtbfast import _native
from rtbfast.rules.constraints import Constraints

VIOLATIONS_SCHEMA = pa.schema(
    [
        ("subject", pa.string()),
        ("class", pa.string()),
        ("attribute", pa.string()),
        ("member", pa.string()),
        ("index", pa.int32()),
        pa.field("rule", pa.string(), False),
        pa.field("severity", pa.string(), False),
        pa.field("message", pa.string(), False),
        ("value", pa.string()),
        ("expected", pa.string()),
    ]
)
"""One row per violation: the MO (FDN), its class, the attribute (and struct member, and the
item's index in a sequence), the rule, ``error`` or ``warning``, a message, the value as
written and what was expected. Rules: ``type``, ``range``, ``resolution``, ``decimal_places``,
``length``, ``pattern``, ``enum``, ``moref``, ``sequence_length``, ``sequence_unique``,
``exclusive``, ``multiple_values``, ``unknown_member`` (errors); ``unknown_attribute`` and
``unknown_class`` (warnings: the catalog does not describe them)."""


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
