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

from rtbfast.enm.dialects import DIALECTS
from rtbfast.enm.model import EnmCatalog
from rtbfast.enm.plan import Plan, Problem, make_plan
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
    unknown_rollback: pa.Table | None = None
    """The attributes the plan changes whose old value the export does not hold (only with
    `allow_unknown_rollback`): the rollback leaves them as the plan sets them."""
    restored_violations: pa.Table | None = None
    """Values the rollback restores that the catalog refuses as new values (the network holds
    them, so the node took them once): violations in the audit's columns."""


def plan_changes(
    source: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    network: str | os.PathLike[str],
    targets: Sequence[str] = (),
    *,
    threads: int = 0,
    allow_unknown_rollback: bool = False,
    on_phase: Callable[[str], None] | None = None,
) -> Planned:
    """Plan a ChangeSet file (``.parquet``) or a template (expanded over `targets` first) on
    `network` (a Bulk CM export or a build folder's network) with `catalog` (a build folder or
    an MP XML model), and compute its rollback. A change of an attribute whose old value the
    export does not hold is refused (:class:`rtbfast.enm.rollback.UnknownRollback`) unless
    `allow_unknown_rollback`."""
    from rtbfast.changeset import read_changeset
    from rtbfast.enm.rollback import make_rollback

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
    rollback = make_rollback(plan.steps, index, cat, allow_unknown=allow_unknown_rollback)
    return Planned(
        plan,
        rollback.steps,
        changes,
        index,
        cat,
        made_from,
        unknown_rollback=rollback.unknown,
        restored_violations=restored_violations(rollback.steps, cat),
    )


def restored_violations(rollback: pa.Table, catalog: EnmCatalog) -> pa.Table:
    """The values `rollback` writes back that the catalog would refuse as new ones (errors of
    the rules that judge a value alone), judged by the native evaluator."""
    from rtbfast.enm.plan import value_violations

    rows = rollback.filter(
        pc.and_(
            pc.is_in(rollback["op"], value_set=pa.array(["set", "create", "lock", "unlock"])),
            pc.and_(pc.is_valid(rollback["attribute"]), pc.is_valid(rollback["value"])),
        )
    )
    if not rows.num_rows:
        from rtbfast.rules.bulk import VIOLATIONS_SCHEMA

        return VIOLATIONS_SCHEMA.empty_table()
    return value_violations(rows.select(["fdn", "class", "attribute", "member", "index", "value"]), catalog)


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


FILES = {"cmedit": ".cmedit", "dynamic": ".dynamic.txt", "moshell": ".mos", "3gpp": ".3gpp.xml"}
"""The file each dialect is written to, after the stem (``plan``, ``rollback``)."""


def write_dialect(steps: pa.Table, folder: Path, stem: str, catalog: EnmCatalog, form: str, dialect: str) -> int:
    """The plan (or rollback) `steps` in `dialect` as ``folder/<stem><suffix>``; its line
    count (cmedit: one a step). Every name and value is checked before the file is written:
    :class:`rtbfast.enm.dialects.UnwritableError` lists what the dialect cannot carry."""
    from rtbfast.enm.dialects import (
        UnwritableError,
        bulkcm_tables,
        cmedit_lines,
        dynamic_blocks,
        moshell_lines,
        write_lines,
    )
    from rtbfast.network_writer import UnwritableNetwork, write_network_xml

    path = folder / f"{stem}{FILES[dialect]}"
    if dialect == "cmedit":
        lines = cmedit_lines(steps, form=form, naming=_naming(catalog), where=path.name)
        write_lines(path, lines)
        return len(lines)
    if dialect == "dynamic":
        write_lines(path, dynamic_blocks(steps, naming=_naming(catalog), where=path.name))
    elif dialect == "moshell":
        write_lines(path, moshell_lines(steps, where=path.name))
    else:
        try:
            write_network_xml(bulkcm_tables(steps, where=path.name), path)
        except UnwritableNetwork as err:
            raise UnwritableError([Problem("unwritable", f"{path.name}: {err.message}", err.element or "")]) from None
    return 0


def write_dialects(
    steps: pa.Table,
    folder: Path,
    stem: str,
    catalog: EnmCatalog,
    form: str,
    dialects: Sequence[str] = DIALECTS,
) -> dict[str, int]:
    """The plan (or rollback) `steps` in each of `dialects` and as ``stem.parquet``; line
    counts. :class:`rtbfast.enm.dialects.UnwritableError` lists what any dialect cannot carry
    (the files of the others are written)."""
    from rtbfast.enm.dialects import UnwritableError

    problems: list[Problem] = []
    lines = 0
    for dialect in dialects:
        try:
            lines = max(lines, write_dialect(steps, folder, stem, catalog, form, dialect))
        except UnwritableError as err:
            problems.extend(err.problems)
    pq.write_table(steps, folder / f"{stem}.parquet")
    if problems:
        raise UnwritableError(problems)
    return {"cmedit_lines": lines}


def write_plan_folder(
    planned: Planned,
    out: str | os.PathLike[str],
    *,
    form: str = "fdn",
    dialects: Sequence[str] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the plan folder at `out` (aside, swapped in when complete) with the plan and its
    rollback in each dialect; its report.

    A dialect is written only when it carries both the plan and its rollback exactly (a plan
    whose rollback cannot be written in the same dialect could not be undone). With
    `dialects` given, each must be written, else :class:`UnwritableError` lists every refusal
    and nothing is written; by default every dialect that can is written, the others are left
    out and their refusals reported (``refused`` in the report, the summary, a warning), and
    only when none can is it an error."""
    from rtbfast.enm.dialects import UnwritableError
    from rtbfast.enm.summary import summary_facts, summary_html, summary_markdown
    from rtbfast.output_folder import written_aside

    target = Path(out)
    wanted = list(dialects) if dialects else list(DIALECTS)
    say = on_phase or (lambda _: None)
    with written_aside(target, "plan") as folder:
        refused: dict[str, list[Problem]] = {}
        commands = {"plan": 0, "rollback": 0}
        for dialect in wanted:
            say(f"writing the plan and its rollback: {dialect}")
            problems: list[Problem] = []
            for stem, steps, stem_form in (
                ("plan", planned.plan.steps, form),
                ("rollback", planned.rollback, "fdn"),
            ):
                try:
                    lines = write_dialect(steps, folder, stem, planned.catalog, stem_form, dialect)
                    commands[stem] = max(commands[stem], lines)
                except UnwritableError as err:
                    problems.extend(err.problems)
            if problems:
                refused[dialect] = problems
                for stem in ("plan", "rollback"):
                    (folder / f"{stem}{FILES[dialect]}").unlink(missing_ok=True)
        if refused and (dialects or len(refused) == len(wanted)):
            raise UnwritableError([p for d in wanted for p in refused.get(d, [])])
        pq.write_table(planned.plan.steps, folder / "plan.parquet")
        pq.write_table(planned.rollback, folder / "rollback.parquet")
        written = [d for d in wanted if d not in refused]
        facts = summary_facts(planned)
        facts["dialects"] = {"written": written, "refused": {d: [str(p) for p in ps] for d, ps in refused.items()}}
        (folder / "summary.md").write_text(summary_markdown(facts), encoding="utf-8")
        (folder / "summary.html").write_text(summary_html(facts), encoding="utf-8")
        report = {
            "made_from": planned.made_from,
            "form": form,
            "dialects": facts["dialects"],
            "steps": planned.plan.step_count,
            "commands": commands["plan"],
            "rollback_commands": commands["rollback"],
            "dropped_as_already_true": planned.plan.dropped,
            "notes": [str(n) for n in planned.plan.notes],
            "counts": facts["counts"],
        }
        (folder / MARKER).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
