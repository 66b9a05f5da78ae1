"""``rtbfast plan`` as an API: a ChangeSet (or a template expanded first) planned on a network
with a catalog, its rollback computed, and the plan folder written.

The folder (written aside, swapped in only when complete; ``plan.json`` is its report)::

    plan.parquet      the Plan (docs/tables.md)          rollback.parquet
    plan.cmedit       ENM CLI script                      rollback.cmedit
    plan.dynamic.txt  ENM dynamic import file             rollback.dynamic.txt
    plan.3gpp.xml     3GPP Bulk CM import file            rollback.3gpp.xml
    plan.mos          moshell commands                    rollback.mos (the undo script)
    summary.md, summary.html   what changes where, locks, when it takes effect, impact, the
                      route recommended (commands or import jobs) and its duration estimated
    plan.json         what it was made from, the counts, the import files with their sha256

With ``import_chunk`` (``rtbfast plan --import-chunk N``) the import files are written in parts
of at most N operations, whole nodes each (:func:`rtbfast.enm.dialects.import_chunks`)::

    plan.dynamic.001.txt  plan.dynamic.002.txt …    rollback.dynamic.001.txt …
    plan.3gpp.001.xml     plan.3gpp.002.xml …       rollback.3gpp.001.xml …

``rollback.X.00k`` undoes ``plan.X.00k``; ``plan.json`` lists them (``imports``) in the order they
run (the rollbacks run in the reverse order).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.dialects import DIALECTS
from rtbfast.enm.plan import Plan, Problem, make_plan
from rtbfast.errors import InputError, RtbfastError
from rtbfast.network_index import NetworkIndex, read_network_tables

if TYPE_CHECKING:
    from rtbfast.enm.summary import RouteTiming

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
    catalog: CatalogView
    made_from: dict[str, Any] = field(default_factory=dict)
    unknown_rollback: pa.Table | None = None
    """The attributes the plan changes whose old value the export does not hold (only with
    `allow_unknown_rollback`): the rollback leaves them as the plan sets them."""
    restored_violations: pa.Table | None = None
    """Values the rollback restores that the catalog refuses as new values (the network holds
    them, so the node took them once): violations in the audit's columns."""
    expansion_warnings: list[str] = field(default_factory=list)
    """What the template's expansion warned of (a template planned), one line each as
    ``templates expand`` says it."""


def plan_changes(
    source: str | os.PathLike[str],
    catalog: str | os.PathLike[str] | CatalogView,
    network: str | os.PathLike[str],
    targets: Sequence[str] = (),
    *,
    threads: int = 0,
    allow_unknown_rollback: bool = False,
    on_phase: Callable[[str], None] | None = None,
    target_classes: Sequence[str] | None = None,
) -> Planned:
    """Plan a ChangeSet file (``.parquet``) or a template (expanded over `targets` first) on
    `network` (a Bulk CM export or a build folder's network) with `catalog` (a view already
    loaded, or a build folder or an MP XML model: loaded once, for the expansion and the plan),
    and compute its rollback. A change of an attribute whose old value the
    export does not hold is refused (:class:`rtbfast.enm.rollback.UnknownRollback`) unless
    `allow_unknown_rollback`. A template's targets are MOs of the `target_classes` (by
    default the six cell classes); what its expansion warns of is kept
    (``expansion_warnings``), said as ``templates expand`` says it."""
    from rtbfast.changeset import read_changeset
    from rtbfast.enm.rollback import make_rollback

    say = on_phase or (lambda _: None)
    src = Path(source)
    warned: list[str] = []
    say("reading the network")
    tables = read_network_tables(network, threads)
    index = NetworkIndex(tables)
    say("reading the catalog")
    cat = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog, threads)
    made_from: dict[str, Any] = {"catalog": cat.origin or str(catalog), "network": str(network)}
    if src.suffix.lower() == ".parquet":
        changes, origin = read_changeset(src)
        made_from.update(changeset=str(src), changeset_made_from=origin)
    else:
        from rtbfast.templates.expand import expand

        if not targets:
            raise InputError(f"{src}: a template is planned over target cells: give --targets", str(src))
        say("expanding the template")
        result = expand(src, cat, index, list(targets), threads=threads, target_classes=target_classes)
        from rtbfast.templates.verdicts import verdict_lines

        errors = [str(n) for n in result.notes if n.severity == "error"]
        errors += [str(e) for e in result.errors if str(e) not in errors]
        errors += [line for line in verdict_lines(result.verdicts, src) if ": error: " in line]
        warned = [str(n) for n in result.notes if n.severity == "warning"]
        warned += [line for line in verdict_lines(result.verdicts, src) if ": warning: " in line]
        if errors or result.verdict_errors:
            raise ExpansionFailed(
                f"{src}: the template does not expand without errors ({len(errors)} error(s) above); nothing planned",
                errors + warned,
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
        expansion_warnings=warned,
    )


def restored_violations(rollback: pa.Table, catalog: CatalogView) -> pa.Table:
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
        from rtbfast.schemas import VIOLATIONS_SCHEMA

        return VIOLATIONS_SCHEMA.empty_table()
    return value_violations(rows.select(["fdn", "class", "attribute", "member", "index", "value"]), catalog)


def _naming(catalog: CatalogView) -> dict[str, str]:
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


def file_name(stem: str, dialect: str, part: int | None = None, width: int = 3) -> str:
    """``plan.dynamic.txt``, or part `part` of it: ``plan.dynamic.001.txt`` (`width` digits)."""
    if part is None:
        return f"{stem}{FILES[dialect]}"
    name, suffix = FILES[dialect].rsplit(".", 1)
    return f"{stem}{name}.{part:0{width}d}.{suffix}"


def write_dialect(
    steps: pa.Table,
    folder: Path,
    stem: str,
    catalog: CatalogView,
    form: str,
    dialect: str,
    *,
    part: int | None = None,
    width: int = 3,
) -> int:
    """The plan (or rollback) `steps` in `dialect` as ``folder/<stem><suffix>`` (part `part`:
    :func:`file_name`); its line count (cmedit: one a step). Every name and value is checked
    before the file is written: :class:`rtbfast.enm.dialects.UnwritableError` lists what the
    dialect cannot carry."""
    from rtbfast.enm.dialects import (
        UnwritableError,
        bulkcm_tables,
        cmedit_lines,
        dynamic_blocks,
        moshell_lines,
        write_lines,
    )
    from rtbfast.network_writer import UnwritableNetwork, write_network_xml

    path = folder / file_name(stem, dialect, part, width)
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
    catalog: CatalogView,
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


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_imports(
    planned: Planned, folder: Path, dialect: str, chunk: int | None
) -> tuple[list[dict[str, Any]], list[Path], list[Problem]]:
    """The plan and its rollback as import files of `dialect`, in parts of at most `chunk`
    operations (one file each without): their entries in ``plan.json`` (file, sha256,
    operations, nodes, and the rollback file that undoes it), the files written (so that a
    refusal removes them all), and every name or value a part cannot carry."""
    from rtbfast.enm.dialects import UnwritableError, import_chunks, import_operations, node_and_ldn

    parts: list[tuple[pa.Table, pa.Table, int | None]]
    if chunk is None:
        parts = [(planned.plan.steps, planned.rollback, None)]
        width = 3
    else:
        split = import_chunks(planned.plan.steps, planned.rollback, chunk, dialect)
        width = max(3, len(str(len(split))))
        parts = [(plan, back, k) for k, (plan, back) in enumerate(split, start=1)]
    entries: list[dict[str, Any]] = []
    written: list[Path] = []
    problems: list[Problem] = []
    for plan, back, k in parts:
        names = {stem: file_name(stem, dialect, k, width) for stem in ("plan", "rollback")}
        for stem, steps in (("plan", plan), ("rollback", back)):
            try:
                write_dialect(steps, folder, stem, planned.catalog, "fdn", dialect, part=k, width=width)
                written.append(folder / names[stem])
            except UnwritableError as err:
                problems.extend(err.problems)
        if problems:
            continue
        nodes, _ = node_and_ldn(plan["fdn"]) if plan.num_rows else (pa.array([], pa.string()), None)
        entries.append(
            {
                "file": names["plan"],
                "sha256": _sha256(folder / names["plan"]),
                "operations": import_operations(plan, dialect),
                "nodes": pc.count_distinct(nodes).as_py() if len(nodes) else 0,
                "rollback": names["rollback"],
                "rollback_sha256": _sha256(folder / names["rollback"]),
                "rollback_operations": import_operations(back, dialect),
            }
        )
    return entries, written, problems


def write_plan_folder(
    planned: Planned,
    out: str | os.PathLike[str],
    *,
    form: str = "fdn",
    dialects: Sequence[str] | None = None,
    import_chunk: int | None = None,
    timing: RouteTiming | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the plan folder at `out` (aside, swapped in when complete) with the plan and its
    rollback in each dialect; its report.

    A dialect is written only when it carries both the plan and its rollback exactly (a plan
    whose rollback cannot be written in the same dialect could not be undone). With
    `dialects` given, each must be written, else :class:`UnwritableError` lists every refusal
    and nothing is written; by default every dialect that can is written, the others are left
    out and their refusals reported (``refused`` in the report, the summary, a warning), and
    only when none can is it an error.

    The import files (dynamic, 3GPP) are written in parts of at most `import_chunk` operations
    when it is given (see the module), and listed in the report (``imports``). The summary
    recommends a route, commands or import jobs, by their estimated durations (`timing`)."""
    from rtbfast.enm.dialects import IMPORT_DIALECTS, UnwritableError
    from rtbfast.enm.summary import RouteTiming, route_facts, summary_facts, summary_html, summary_markdown
    from rtbfast.output_folder import written_aside

    if import_chunk is not None and import_chunk < 1:
        raise InputError(f"--import-chunk {import_chunk}: at least 1 operation a file")
    target = Path(out)
    wanted = list(dialects) if dialects else list(DIALECTS)
    say = on_phase or (lambda _: None)
    with written_aside(target, "plan") as folder:
        refused: dict[str, list[Problem]] = {}
        commands = {"plan": 0, "rollback": 0}
        imports: dict[str, list[dict[str, Any]]] = {}
        for dialect in wanted:
            say(f"writing the plan and its rollback: {dialect}")
            problems: list[Problem] = []
            if dialect in IMPORT_DIALECTS:
                entries, files, problems = _write_imports(planned, folder, dialect, import_chunk)
                if problems:
                    refused[dialect] = problems
                    for path in files:
                        path.unlink(missing_ok=True)
                else:
                    imports[dialect] = entries
                continue
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
        facts["route"] = route_facts(
            commands["plan"] if "cmedit" in written else None, imports, facts["counts"], timing or RouteTiming()
        )
        (folder / "summary.md").write_text(summary_markdown(facts), encoding="utf-8")
        (folder / "summary.html").write_text(summary_html(facts), encoding="utf-8")
        report = {
            "made_from": planned.made_from,
            "form": form,
            "dialects": facts["dialects"],
            "steps": planned.plan.step_count,
            "commands": commands["plan"],
            "rollback_commands": commands["rollback"],
            "imports": imports,
            "import_chunk": import_chunk,
            "route": facts["route"],
            "dropped_as_already_true": planned.plan.dropped,
            "notes": [str(n) for n in planned.plan.notes],
            "counts": facts["counts"],
        }
        (folder / MARKER).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
