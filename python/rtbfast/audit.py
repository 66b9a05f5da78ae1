"""``rtbfast audit``: check a live export against the constraints of a catalog and write
``violations.parquet``, ``violations.csv``, ``report.html`` and ``audit.json`` into a folder,
swapped into place only when all of it is written.

The phases are functions of their own: :func:`load_checks` (the catalog, its constraints, the
rules of its texts and the user rules), :func:`read_and_check` (the export, a group of parts
at a time, each checked as it comes), :func:`with_nodes`, :func:`summarise` and
:func:`write_audit`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from rtbfast import _native
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import InvalidValueError, WrongRootError
from rtbfast.output_folder import Phases, peak_rss_bytes, write_json, written_aside
from rtbfast.readers import ProgressCallback, ReadWarning, detect_kind, inputs, located_warnings, read_network
from rtbfast.rules import Constraints, evaluate
from rtbfast.rules.dependencies import Extraction
from rtbfast.rules.operations import operation_violations
from rtbfast.rules.uniqueness import scope_in_one_node, unique_violations
from rtbfast.rules.user_rules import RuleFile, check_rules, evaluate_rules, read_rules
from rtbfast.schemas import VIOLATIONS_SCHEMA

MARKER = "audit.json"
TOP = 20
"""Rows of each ranking in ``audit.json`` (the HTML report draws the first of them)."""

PhaseCallback = Callable[[str], None]


@dataclass
class AuditResult:
    out: Path
    summary: dict[str, Any]

    @property
    def errors(self) -> int:
        count: int = self.summary["by_severity"].get("error", 0)
        return count


_NODE = re.compile(r"(?:^|,)\s*((?:MeContext|ManagedElement)=[^,]*)")


def node_of(fdn: str) -> str:
    """The node an FDN belongs to: its ``MeContext`` (or ``ManagedElement``) RDN, else its first RDN."""
    match = _NODE.search(fdn)
    return match.group(1) if match else fdn.split(",", 1)[0]


def _counts(table: pa.Table, column: str) -> list[tuple[str, int]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(column).aggregate([([], "count_all")]).to_pylist()
    rows = [(str(r[column]), int(r["count_all"])) for r in grouped]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


PART_BYTES = 16 * 2**20
"""An export larger than two of these is audited a group of parts at a time (one part per
thread), so memory holds one group's tables, not the whole export's."""


@dataclass
class Checks:
    """Everything an audit checks, made once and run on each group of an export."""

    tables: dict[str, pa.Table]
    """The catalog tables read (:data:`rtbfast.catalog_view.COLUMNS` of a build folder)."""
    constraints: Constraints
    texts: Extraction
    text_rules: pa.Table
    locks: set[tuple[str, str]]
    classes: pa.Table | None
    rule_file: RuleFile | None
    at: datetime | None
    threads: int


@dataclass
class _Tally:
    mos: int = 0
    values: int = 0
    evaluations: int = 0
    skipped_by_window: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)


def load_checks(
    catalog: str | os.PathLike[str] | CatalogView,
    rules: str | os.PathLike[str] | None,
    at: datetime | None,
    threads: int,
) -> Checks:
    """The rules phase: the catalog (a view already loaded, or a build folder, checked, or an
    MP XML model), its constraints, the rules its Dependencies and Precondition texts state, and the user rules."""
    view = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog, threads)
    rule_file = read_rules(rules) if rules is not None else None
    texts = view.stated_rules
    tables = view.tables
    return Checks(
        tables,
        view.constraints,
        texts,
        texts.cel_table(),
        view.stated_locks,
        tables.get("classes"),
        rule_file,
        at,
        threads,
    )


def unique_checks(tables: dict[str, pa.Table], checks: Checks, within_nodes: bool | None = None) -> list[pa.Table]:
    """The violations of the uniqueness rules the catalog's texts state: over every MO
    (`within_nodes` None), or over only the MOs whose scope lies within one node (True; a
    part of the export holds all they are compared with) or only the others (False)."""
    found = []
    for r in checks.texts.rules:
        if r.kind != "unique":
            continue
        picked = tables
        if within_nodes is not None:
            mos = tables["mos"].filter(pc.equal(tables["mos"].column("class"), r.cls))
            inside = scope_in_one_node(mos, r.params["scope"])
            picked = {**tables, "mos": mos.filter(inside if within_nodes else pc.invert(inside))}
        found.append(unique_violations(picked, r.cls, r.params["attributes"], r.params["scope"], r.rule_id))
    return found


def check_network(
    tables: dict[str, pa.Table], checks: Checks, tally: _Tally, within_nodes: bool | None = None
) -> pa.Table:
    """The violations of one network (or one group of an export's parts); uniqueness as
    :func:`unique_checks` with `within_nodes`."""
    result = evaluate(tables, checks.constraints, threads=checks.threads)
    parts = [result.violations, operation_violations(tables, checks.constraints, checks.classes, checks.locks)]
    if checks.text_rules.num_rows:
        raw = _native.evaluate_user_rules(
            checks.text_rules, checks.constraints.table, tables["mos"], tables["values"], checks.threads
        )
        parts.append(pa.table(raw["violations"]).cast(VIOLATIONS_SCHEMA))
    parts.extend(unique_checks(tables, checks, within_nodes))
    if checks.rule_file is not None:
        user = evaluate_rules(tables, checks.constraints, checks.rule_file, at=checks.at, threads=checks.threads)
        parts.append(user.violations.cast(VIOLATIONS_SCHEMA))
        tally.evaluations += user.checked
        tally.skipped_by_window = user.skipped_by_window
    tally.mos += tables["mos"].num_rows
    tally.values += result.checked
    tally.problems = result.problems
    return pa.concat_tables(parts)


def _groups(
    export: Path, threads: int, part_bytes: int, on_progress: ProgressCallback | None
) -> Iterator[tuple[dict[str, pa.Table], list[ReadWarning]]]:
    """The export's network tables, a group of parts at a time when it is large (`part_bytes`
    0: always whole); a zip archive's XML members one after the other (a compressed export is
    read whole, as it is decompressed)."""
    members, skipped = inputs(export)
    for member in members:
        parts = _native.stream_bulkcm(member, part_bytes, threads) if part_bytes > 0 else None
        if parts is None:
            network = read_network(member, on_progress, threads=threads)
            yield network.tables, [*skipped, *network.warnings]
            skipped = []
            continue
        for group in parts:
            if on_progress is not None:
                on_progress(group["done"], group["size"])
            item = {name: pa.table(t) for name, t in group["tables"].items()}, located_warnings(group["warnings"])
            del group  # one group alive at a time: not this one while the next is read
            yield item
            del item


Group = tuple[dict[str, pa.Table], list[ReadWarning]]


def read_and_check(
    export: Path,
    first: Future[Group | None],
    reader: ThreadPoolExecutor,
    groups: Iterator[Group],
    checks: Checks,
    phases: Phases,
    on_progress: ProgressCallback | None,
) -> tuple[list[pa.Table], _Tally]:
    """The read and evaluate phase: each group of the export checked as it comes, the next
    one read meanwhile. Where the stream could not prove a cut sound, the export is read
    whole instead."""
    tally, found = _Tally(), []
    ahead = first
    try:
        while True:
            with phases.phase("read", announce=False):
                group = ahead.result()
            if group is None:
                break
            ahead = reader.submit(next, groups, None)
            with phases.phase("evaluate", announce=False):
                found.append(check_network(group[0], checks, tally))
                tally.warnings.extend(group[1])
                group = None  # free this group's tables
    except InvalidValueError as err:
        if "in parts" not in err.message:
            raise
        tally, found = _Tally(), []
        with phases.phase("read", announce=False):
            network = read_network(export, on_progress, threads=checks.threads)
        with phases.phase("evaluate", announce=False):
            found.append(check_network(network.tables, checks, tally))
            tally.warnings = list(network.warnings)
    return found, tally


def with_nodes(found: list[pa.Table]) -> pa.Table:
    """All violations in one table, with the ``node`` each subject belongs to."""
    violations = pa.concat_tables(found) if found else VIOLATIONS_SCHEMA.empty_table()
    if not violations.num_rows:
        return violations.append_column("node", pa.array([], pa.string()))
    subjects = violations.column("subject").combine_chunks().dictionary_encode()
    nodes = pa.array([node_of(s) for s in subjects.dictionary.to_pylist()], pa.string())
    return violations.append_column("node", pc.take(nodes, subjects.indices))


def audit(
    export: str | os.PathLike[str],
    catalog: str | os.PathLike[str] | CatalogView,
    out: str | os.PathLike[str],
    on_progress: ProgressCallback | None = None,
    *,
    threads: int = 0,
    rules: str | os.PathLike[str] | None = None,
    at: datetime | None = None,
    on_phase: PhaseCallback | None = None,
    part_bytes: int = PART_BYTES,
    xlsx: bool = False,
) -> AuditResult:
    """Check every value of the Bulk CM `export` against the per-attribute constraints of
    `catalog` (a build folder or an MP XML model), every MO against the rules its
    Dependencies and Precondition texts give (see :mod:`rtbfast.rules.dependencies`; severity
    warning), the changes of an import file (MOs with a ``modifier``) against the operation
    rules, and every MO against the user `rules` (a CSV of CEL rules, see
    :mod:`rtbfast.rules.user_rules`) active at `at`, and write the results into `out`. A rule
    that does not compile is reported and left out; the others run. `catalog` may be a view
    already loaded (``rtbfast serve`` loads its catalogs once).

    An export larger than two `part_bytes` is read and checked a group of parts (one per
    thread, cut before ``MeContext``) at a time, so memory is bounded by the group, not the
    file: every rule looks within one node at most. ``part_bytes=0`` reads it whole (about as
    fast; memory grows with the file). A gzip or bzip2 export is read whole as it is
    decompressed; a zip archive's XML members are audited one after the other, as one export
    (docs/inputs.md). With `xlsx`, the workbook ``audit.xlsx`` too (:mod:`rtbfast.excel`)."""
    phases = Phases(on_phase, {"read": 0.0, "evaluate": 0.0})
    out = Path(out)
    path = Path(export)
    for member in inputs(path)[0]:
        if detect_kind(member) != "bulkcm":
            raise WrongRootError(
                f"{member}: this is an MP XML model, not a Bulk CM export", str(member), 1, 1, "models"
            )

    groups = _groups(path, threads, part_bytes, on_progress)
    # groups are read (native, without the GIL) one ahead: the first while the rules load,
    # each next one while this one is checked
    with ThreadPoolExecutor(1) as reader:
        first = reader.submit(next, groups, None)
        with phases.phase("rules"):
            checks = load_checks(catalog, rules, at, threads)
        phases.announce("read and evaluate")
        found, tally = read_and_check(path, first, reader, groups, checks, phases, on_progress)
    with phases.phase("evaluate", announce=False):
        violations = with_nodes(found)
    phases.announce("write")
    with phases.phase("write", announce=False):
        shown = catalog.origin if isinstance(catalog, CatalogView) else catalog
        summary = summarise(export, shown, checks, tally, violations)
    return write_audit(out, violations, summary, phases, xlsx=xlsx)


def summarise(
    export: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    checks: Checks,
    tally: _Tally,
    violations: pa.Table,
) -> dict[str, Any]:
    """``audit.json``: what was checked, the counts by severity, rule, class and node, and
    what could not be checked."""
    texts, rule_file = checks.texts, checks.rule_file
    notices = []
    if checks.constraints.table.num_rows == 0:
        notices.append(
            f"the catalog {catalog} has no per-attribute constraints: no value was checked against one "
            "(a catalog of classes only?)"
        )
    return {
        "rtbfast_version": _native.__version__,
        "export": str(export),
        "catalog": str(catalog),
        "mos": tally.mos,
        "values_checked": tally.values,
        "constraints": checks.constraints.table.num_rows,
        "violations": violations.num_rows,
        "by_severity": dict(_counts(violations, "severity")),
        "by_rule": dict(_counts(violations, "rule")),
        "by_class": dict(_counts(violations, "class")[:TOP]),
        "by_node": dict(_counts(violations, "node")[:TOP]),
        "worst_offenders": dict(_counts(violations, "subject")[:TOP]),
        "constraint_problems": tally.problems,
        "text_rules": {
            "rows_with_text": texts.rows,
            "rows_with_rule": texts.rows_with_rule,
            "coverage": round(texts.coverage, 3),
            "by_kind": dict(sorted(Counter(r.kind for r in texts.rules).items())),
            "evaluated_as_cel": checks.text_rules.num_rows,
            "notes": len(texts.notes),
        },
        "rules": None
        if rule_file is None
        else {
            "file": str(rule_file.path),
            "rules": rule_file.table.num_rows,
            "at": checks.at.isoformat() if checks.at is not None else None,
            "outside_their_window": tally.skipped_by_window,
            "evaluations": tally.evaluations,
            "issues": [str(i) for i in check_rules(rule_file, checks.tables)],
        },
        "constraint_notes": checks.constraints.notes,
        "notices": notices,
        "read_warnings": [str(w) for w in tally.warnings],
    }


def write_audit(
    out: Path, violations: pa.Table, summary: dict[str, Any], phases: Phases, *, xlsx: bool = False
) -> AuditResult:
    """The write phase: the violations as Parquet and CSV, the HTML report and ``audit.json``
    (with the timings and peak memory), with `xlsx` the workbook ``audit.xlsx``, swapped into
    `out` when all are written."""
    with written_aside(out, "audit") as staging:
        with phases.phase("write", announce=False):
            pq.write_table(violations, staging / "violations.parquet", compression="zstd")
            pcsv.write_csv(violations, staging / "violations.csv")
        summary["timings_s"] = phases.rounded()
        summary["peak_rss_bytes"] = peak_rss_bytes()
        (staging / "report.html").write_text(_html(summary, violations), encoding="utf-8")
        write_json(staging / MARKER, summary)
        if xlsx:
            from rtbfast.excel import folder_xlsx

            folder_xlsx(staging, command="audit")
    return AuditResult(out, summary)


def _html(summary: dict[str, Any], violations: pa.Table) -> str:
    from rtbfast.html_report import bar_chart, cards, charts, data_table, escape, note_list, page, ranked_first

    columns = ["severity", "rule", "node", "subject", "attribute", "member", "index", "value", "expected", "message"]
    problems = summary["constraint_problems"] + summary["constraint_notes"]
    if summary["rules"]:
        problems = summary["rules"]["issues"] + problems
    total = summary["violations"]
    intro = (
        f"Against the catalog {escape(summary['catalog'])}: {summary['mos']:,} MOs, "
        f"{summary['values_checked']:,} values checked against {summary['constraints']:,} constraints."
    )
    shown = ranked_first(violations, "severity", ["error", "warning", "info"])
    return page(
        f"Audit of {summary['export']}",
        intro,
        [
            cards(
                [("violations", total, None)]
                + [(severity, n, severity) for severity, n in summary["by_severity"].items()]
                + [("MOs", summary["mos"], None), ("values checked", summary["values_checked"], None)]
            ),
            charts(
                [
                    bar_chart("Violations by rule", summary["by_rule"], total=total),
                    bar_chart("Violations by class", summary["by_class"], total=total),
                    bar_chart("Violations by node", summary["by_node"], total=total),
                    bar_chart("Worst offenders (MOs)", summary["worst_offenders"], total=total),
                ]
            ),
            note_list("Constraints not checked", problems),
            note_list("Notices", summary["notices"]),
            data_table(
                "Violations",
                shown,
                columns,
                severity="severity",
                total=total,
                files="violations.parquet and violations.csv",
                table_id="violations",
            ),
        ],
    )
