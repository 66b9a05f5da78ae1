"""``rtbfast plan`` as an API: a ChangeSet (or a template expanded first) planned on a network
with a catalog, its rollback computed, and the plan folder written.

The folder (written aside, swapped in only when complete; ``plan.json`` is its report)::

    plan.parquet      the Plan (docs/tables.md)          rollback.parquet
    plan.cmedit       ENM CLI script                      rollback.cmedit
    plan.dynamic.txt  ENM dynamic import file             rollback.dynamic.txt
    plan.3gpp.xml     3GPP Bulk CM import file            rollback.3gpp.xml
    plan.mos          moshell commands                    rollback.mos (the undo script)
    summary.md, summary.html   what changes where, locks, when it takes effect, impact
    plan.json         what it was made from, and the counts
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rtbfast.enm.model import EnmCatalog
from rtbfast.enm.plan import Plan, make_plan
from rtbfast.errors import InputError, RtbfastError
from rtbfast.network_index import NetworkIndex, read_network_tables

MARKER = "plan.json"


class ExpansionFailed(RtbfastError):
    """The template given to ``plan`` does not expand without errors."""

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.lines = lines


@dataclass
class Planned:
    plan: Plan
    rollback: pa.Table
    changes: pa.Table
    network: NetworkIndex
    catalog: EnmCatalog
    made_from: dict[str, Any] = field(default_factory=dict)


def plan_changes(
    source: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    network: str | os.PathLike[str],
    targets: Sequence[str] = (),
    *,
    threads: int = 0,
    on_phase: Callable[[str], None] | None = None,
) -> Planned:
    """Plan a ChangeSet file (``.parquet``) or a template (expanded over `targets` first) on
    `network` (a Bulk CM export or a build folder's network) with `catalog` (a build folder or
    an MP XML model), and compute its rollback."""
    from rtbfast.changeset import read_changeset
    from rtbfast.enm.rollback import rollback_plan

    say = on_phase or (lambda _: None)
    src = Path(source)
    say("reading the network")
    tables = read_network_tables(network, threads)
    index = NetworkIndex(tables)
    say("reading the catalog")
    cat = EnmCatalog.load(catalog, threads)
    made_from: dict[str, Any] = {"catalog": str(catalog), "network": str(network)}
    if src.suffix.lower() == ".parquet":
        changes, origin = read_changeset(src)
        made_from.update(changeset=str(src), changeset_made_from=origin)
    else:
        from rtbfast.templates.expand import expand

        if not targets:
            raise InputError(f"{src}: a template is planned over target cells: give --targets", str(src))
        say("expanding the template")
        result = expand(src, catalog, index, list(targets), threads=threads)
        from rtbfast.templates.verdicts import verdict_lines

        errors = [str(n) for n in result.notes if n.severity == "error"]
        errors += [str(e) for e in result.errors if str(e) not in errors]
        errors += [line for line in verdict_lines(result.verdicts, src) if ": error: " in line]
        if errors or result.verdict_errors:
            raise ExpansionFailed(
                f"{src}: the template does not expand without errors ({len(errors)} finding(s) above); nothing planned",
                errors,
            )
        changes = result.changes
        made_from.update(template=str(src), targets=list(targets)[:100], target_cells=len(result.targets))
    say("planning")
    plan = make_plan(changes, index, cat)
    say("computing the rollback")
    rollback = rollback_plan(plan.steps, index, cat)
    return Planned(plan, rollback, changes, index, cat, made_from)


def _naming(catalog: EnmCatalog) -> dict[str, str]:
    """class → the spelling of its naming attribute in the model (``EUtranCellFDDId`` in CPP,
    ``eUtranCellFDDId`` in ECIM)."""
    c = catalog.constraints.table
    rows = c.filter(pc.is_null(c["member"])).select(["class", "attribute"]).to_pylist()
    out: dict[str, str] = {}
    for r in rows:
        cls, attribute = r["class"], r["attribute"]
        if attribute in (f"{cls}Id", cls[:1].lower() + cls[1:] + "Id"):
            out[cls] = attribute
    return out


def write_dialects(steps: pa.Table, folder: Path, stem: str, catalog: EnmCatalog, form: str) -> dict[str, int]:
    """The plan (or rollback) `steps` in every dialect, as ``folder/stem.*``; line counts."""
    from rtbfast.enm.dialects import bulkcm_tables, cmedit_lines, dynamic_blocks, moshell_lines, write_lines
    from rtbfast.network_writer import write_network_xml

    naming = _naming(catalog)
    lines = cmedit_lines(steps, form=form, naming=naming) if steps.num_rows else pa.array([], pa.string())
    write_lines(folder / f"{stem}.cmedit", lines)
    write_lines(folder / f"{stem}.dynamic.txt", dynamic_blocks(steps, naming=naming))
    write_lines(folder / f"{stem}.mos", moshell_lines(steps))
    write_network_xml(bulkcm_tables(steps), folder / f"{stem}.3gpp.xml")
    pq.write_table(steps, folder / f"{stem}.parquet")
    return {"cmedit_lines": len(lines)}


def write_plan_folder(
    planned: Planned,
    out: str | os.PathLike[str],
    *,
    form: str = "fdn",
    on_phase: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the plan folder at `out` (aside, swapped in when complete); its report."""
    from rtbfast.enm.summary import summary_facts, summary_html, summary_markdown
    from rtbfast.output_folder import written_aside

    target = Path(out)
    facts = summary_facts(planned)
    say = on_phase or (lambda _: None)
    with written_aside(target, "plan") as folder:
        say("writing the plan")
        counts = write_dialects(planned.plan.steps, folder, "plan", planned.catalog, form)
        say("writing the rollback")
        back = write_dialects(planned.rollback, folder, "rollback", planned.catalog, "fdn")
        (folder / "summary.md").write_text(summary_markdown(facts), encoding="utf-8")
        (folder / "summary.html").write_text(summary_html(facts), encoding="utf-8")
        report = {
            "made_from": planned.made_from,
            "form": form,
            "steps": planned.plan.step_count,
            "commands": counts["cmedit_lines"],
            "rollback_commands": back["cmedit_lines"],
            "dropped_as_already_true": planned.plan.dropped,
            "notes": [str(n) for n in planned.plan.notes],
            "counts": facts["counts"],
        }
        (folder / MARKER).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
