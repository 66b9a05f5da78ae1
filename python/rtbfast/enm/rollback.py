"""The rollback of a Plan: the inverse steps in reverse order, built from the Network's
current values (a Plan of the same columns).

- a set (lock and unlock included) goes back to the value the attribute held before it: the
  network's, or what an earlier step of the plan wrote, exactly as the network holds it (even
  a value the catalog would refuse as a new one: the node took it once);
- an attribute the export does not carry has no known value to go back to: rolling back a
  change of it is refused (:class:`UnknownRollback`, listing each), or, when allowed, left out
  of the rollback and listed (:attr:`Rollback.unknown`); an administrativeState of unknown
  origin goes back to what the plan's unlock gives it, never left LOCKED;
- the sets of MOs the plan creates are not undone one by one: the rollback deletes the MO;
- a create is undone by a delete;
- a delete is undone by a create carrying every configuration attribute the MO had (read-only
  ones are the node's to compute);
- so a lock is undone by the original state and an unlock by a lock: in reverse order the
  rollback locks, restores, unlocks;
- a lockable MO (a cell) the rollback recreates is created LOCKED and unlocked back to its
  state as the rollback's last steps, once its children and the references to it exist again.

The inverse runs natively over Arrow (``rust/src/enm/rollback.rs``) on the network's values as
:attr:`rtbfast.network_index.NetworkIndex.native` indexes them; Python words the refusals.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from rtbfast import _native
from rtbfast.catalog_view import CatalogView
from rtbfast.enm.plan import LISTED, PlanError, Problem
from rtbfast.network_index import NetworkIndex
from rtbfast.schemas import PLAN_SCHEMA, UNKNOWN_ROLLBACK_SCHEMA


class UnknownRollback(PlanError):
    """The plan changes attributes the export does not carry: their old value is unknown, so
    the rollback could not restore them. Each is a problem with the ChangeSet row it comes
    from; ``rtbfast plan --allow-unknown-rollback`` plans them anyway."""


@dataclass
class Rollback:
    """The rollback steps, and the attributes they cannot restore (left out)."""

    steps: pa.Table
    unknown: pa.Table


def rollback_plan(
    plan: pa.Table, network: NetworkIndex, catalog: CatalogView, *, allow_unknown: bool = False
) -> pa.Table:
    """The rollback steps of `plan` on `network` (the network the plan was made from); see
    :func:`make_rollback`."""
    return make_rollback(plan, network, catalog, allow_unknown=allow_unknown).steps


def _unknown_problems(unknown: pa.Table) -> list[Problem]:
    problems = []
    rows = unknown.to_pylist()
    for r in rows[:LISTED]:
        problems.append(
            Problem(
                "unknown_old_value",
                f"{r['fdn']}: {r['attribute']}: the network export holds no value for it, so a rollback could not "
                "restore it; add it to the export, or plan with --allow-unknown-rollback (the rollback then leaves "
                "it as the plan sets it)",
                r["fdn"],
                r["source"],
            )
        )
    if len(rows) > LISTED:
        problems.append(Problem("more", f"{len(rows) - LISTED:,} more attribute(s) without a known old value"))
    return problems


def make_rollback(
    plan: pa.Table, network: NetworkIndex, catalog: CatalogView, *, allow_unknown: bool = False
) -> Rollback:
    """The rollback of `plan` on `network` (the network the plan was made from). An
    attribute the plan changes on an MO of the network that the export does not carry is
    refused (:class:`UnknownRollback`), or with `allow_unknown` left out and listed."""
    if not plan.num_rows:
        return Rollback(PLAN_SCHEMA.empty_table(), UNKNOWN_ROLLBACK_SCHEMA.empty_table())
    rows = plan if plan.schema.equals(PLAN_SCHEMA) else plan.select(PLAN_SCHEMA.names).cast(PLAN_SCHEMA)
    steps, unknown = _native.rollback_steps(rows, network.native, catalog.native)
    unknown_table = pa.table(unknown).cast(UNKNOWN_ROLLBACK_SCHEMA)
    if unknown_table.num_rows and not allow_unknown:
        raise UnknownRollback(_unknown_problems(unknown_table))
    return Rollback(pa.table(steps).cast(PLAN_SCHEMA), unknown_table)
