"""The ``rtbfast`` command: a thin click layer over the public API."""

from __future__ import annotations

import contextlib
import keyword
import os
import sys

if sys.platform.startswith("linux"):
    # Arrow's memory from jemalloc, which hands freed memory back at once (mimalloc, Arrow's
    # default, keeps it): a command's phases hold different shapes of memory, and what one
    # frees would otherwise stay in the next one's peak (rtbfast plan: about 80 MB less at
    # 130 MB). Read when Arrow first allocates, so set before anything imports it; a value the
    # user gives is kept. Linux wheels of pyarrow have jemalloc.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from rtbfast import _native
from rtbfast.cli_common import (
    JOBS_OPTION,
    OUT_OPTION,
    PROGRESS_OPTION,
    SPARK_OPTIONS,
    TARGET_CLASS_OPTION,
    WARNINGS_SHOWN,
    XLSX_OPTION,
    _fail,
    _reporters,
)
from rtbfast.cli_compare import diff, diff_model, verify
from rtbfast.cli_enm import apply, journal, plan
from rtbfast.cli_serve import serve, serve_token
from rtbfast.errors import RtbfastError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(_native.__version__, prog_name="rtbfast")
def main() -> None:
    """rtbfast: Ericsson RAN models and network exports, read fast and exactly.

    \b
    Typical use:
      rtbfast build ERBS_NODE_MODEL_D_full_mp.xml -o out/erbs   # an MP XML model
      rtbfast build export.xml -o out/export                    # a 3GPP Bulk CM export
      rtbfast build model_mp.xml export.xml --workbook Spreadsheets_Parameters.csv -o out/all
      rtbfast inspect out/erbs                                  # what was read
      rtbfast audit export.xml --catalog out/erbs -o out/audit  # check a live export

    Exit codes: 0 done, 1 failure (or, for audit, a violation of severity error), 2 unreadable
    input or bad usage.
    """


def _python_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.isidentifier() or keyword.iskeyword(value):
        raise click.BadParameter(f"{value!r} is not a Python package name (letters, digits and _, not a keyword)")
    return value


@main.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@OUT_OPTION
@click.option(
    "--workbook",
    type=click.Path(path_type=Path),
    help="The parameter workbook's Spreadsheets_Parameters.csv, merged after the models.",
)
@click.option(
    "--structs",
    type=click.Path(path_type=Path),
    help="Its Spreadsheets_StructParameters.csv (needs --workbook).",
)
@click.option(
    "--package",
    default="rtb_models",
    show_default=True,
    callback=_python_name,
    help="Name of the generated Python package of Pydantic models (a Python identifier).",
)
@click.option(
    "--layout",
    type=click.Choice(["package", "single"]),
    default="package",
    show_default=True,
    help="One module per MIM with lazy imports, or everything in one file OUT/models/PACKAGE.py.",
)
@click.option(
    "--rules",
    "rules",
    type=click.Path(path_type=Path),
    help="A user rule file (CSV of CEL rules, see `rtbfast rules check --help`): its rules that judge "
    "one MO go into the XState models too.",
)
@click.option(
    "--templates",
    "templates_given",
    multiple=True,
    metavar="PATH",
    help="A template set (files, folders or quoted globs of RTB and typed templates; repeat for more): "
    "each is checked and gets a page in the docs.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Build even when OUT already holds a build of the same inputs (by content) and options.",
)
@PROGRESS_OPTION
@JOBS_OPTION
def build(
    inputs: tuple[Path, ...],
    out: Path,
    workbook: Path | None,
    structs: Path | None,
    package: str,
    layout: str,
    rules: Path | None,
    templates_given: tuple[str, ...],
    force: bool,
    progress: bool | None,
    jobs: int,
) -> None:
    """Read every INPUT (and the workbook), merge their catalogs and write them as Parquet.

    Each INPUT is an Ericsson MP XML model (root <models>, mp.dtd, CPP or ECIM flavour) or a
    3GPP Bulk CM export (root <bulkCmConfigDataFile>); the kind is told by the root element.
    The catalog merges, by class and attribute name, the models first, then the workbook,
    then what the exports imply; every row keeps its source, and where a later source says
    something else (type, ranges, default, flags) the report lists the disagreement.

    \b
    Writes:
      OUT/catalog/*.parquet   mims, classes, attributes, enums, enum_members, structs,
                              struct_members, derived_types, containment
      OUT/network/*.parquet   mos, values, vs_types, observed_attributes (exports only)
      OUT/models/PACKAGE/     Pydantic models: per MO class X (set), XCreate, XState
      OUT/schemas/X.json      a JSON Schema per MO class: X at the top, XCreate and XState in $defs
      OUT/docs/index.html     reference pages per class, enum and struct; search works offline;
                              with --templates, a page per template (values, units, verdicts)
      OUT/report.json         inputs, counts by source, warnings with file:line:column,
                              disagreements, unparsed workbook cells, timings, peak memory

    \b
    Example:
      rtbfast build model_mp.xml --workbook Spreadsheets_Parameters.csv \\
          --structs Spreadsheets_StructParameters.csv -o out/catalog
    """
    from rtbfast.pipeline import build as run_build

    show = sys.stderr.isatty() if progress is None else progress
    with contextlib.ExitStack() as stack:
        on_progress, on_phase = _reporters(stack, show)
        try:
            template_files = _template_paths(templates_given) if templates_given else None
            result = run_build(
                inputs,
                out,
                on_progress=on_progress,
                workbook=workbook,
                structs=structs,
                jobs=jobs,
                package=package,
                layout=layout,
                force=force,
                on_phase=on_phase,
                rules=rules,
                templates=template_files,
            )
        except RtbfastError as err:
            _fail(err)
            return
    report = result.report
    if result.cached:
        click.echo(f"{out}: up to date (same inputs and options as its last build); --force rebuilds")
        return
    counts = report["counts"]
    main_counts = ", ".join(f"{n} {k.split('/')[1]}" for k, n in counts.items() if n and not k.endswith("mims"))
    kinds = ", ".join(f"{Path(i['path']).name} ({i['kind']})" for i in report["inputs"])
    click.echo(f"read {kinds} in {report['timings_s']['read']:.2f}s")
    click.echo(f"  {main_counts}")
    if "workbook" in report:
        wb = report["workbook"]
        click.echo(f"  workbook: {sum(wb['records'].values())} records, {wb['unparsed_count']} cell(s) not understood")
    generated = report["models"]
    click.echo(
        f"  models: {generated['models']} Pydantic models of {generated['classes']} classes in "
        f"{Path(out) / generated['path']}, {generated['schemas']} JSON Schemas (one per class)"
    )
    if "user_rules" in report["rules"]:
        ruled = report["rules"]
        click.echo(
            f"  user rules: {ruled['user_rules_in_models']} of {ruled['user_rules']} in the XState models "
            "(the others: report.json models.notes)"
        )
        for issue in ruled["issues"][:WARNINGS_SHOWN]:
            click.echo(f"    {issue}", err=True)
    click.echo(f"  docs: {report['docs']['pages']} pages, open {Path(out) / report['docs']['path']}")
    if "templates" in report:
        t = report["templates"]
        click.echo(
            f"  templates: {t['templates']} checked, {t['errors']} error(s), {t['warnings']} warning(s); "
            f"pages in {Path(out) / 'docs' / 'templates'}"
        )
    if report["disagreement_count"]:
        click.echo(f"  {report['disagreement_count']} disagreement(s) between sources; see report.json")
    if report.get("texts_made_safe"):
        made_safe = report["texts_made_safe"]
        click.echo(f"  {len(made_safe)} text(s) held control characters, written as escapes; the first:", err=True)
        for line in made_safe[:WARNINGS_SHOWN]:
            click.echo(f"    {line}", err=True)
    if report["warning_count"]:
        click.echo(f"  {report['warning_count']} warning(s); the first:", err=True)
        for w in report["warnings"][:WARNINGS_SHOWN]:
            click.echo(f"    {w['file']}:{w['line']}:{w['column']}: {w['message']} (in {w['element']})", err=True)
    click.echo(f"wrote {result.out}")


@main.command()
@click.argument("export", type=click.Path(path_type=Path))
@click.option(
    "--catalog",
    required=True,
    type=click.Path(path_type=Path),
    help="A folder written by `rtbfast build` (its catalog/*.parquet), or an MP XML model.",
)
@OUT_OPTION
@PROGRESS_OPTION
@JOBS_OPTION
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    help="User rules: a CSV with id,class,when,assert,severity,message,window (CEL expressions).",
)
@click.option(
    "--at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]),
    help="The time rules with a window are judged at (ISO, e.g. 2026-11-27T02:00). Default: now.",
)
@click.option(
    "--part-mb",
    type=click.IntRange(min=0),
    default=16,
    show_default=True,
    help="Read and check a large export this many MB per thread at a time, so memory is bounded by "
    "the parts, not the file; 0 reads it whole (about as fast; memory grows with the file).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="What stdout gets: text, a summary to read; json, the summary audit.json holds, as one object.",
)
@XLSX_OPTION
@SPARK_OPTIONS
def audit(
    export: Path,
    catalog: Path,
    out: Path,
    progress: bool | None,
    jobs: int,
    rules: Path | None,
    at: datetime | None,
    part_mb: int,
    output: str,
    xlsx: bool,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> None:
    """Check every value of a Bulk CM EXPORT against the catalog's per-attribute constraints.

    The constraints are those the generated Pydantic models enforce, read from the catalog:
    type, ranges (several sub-ranges, integer width bounds), resolution steps, decimal places,
    string length and pattern, enum members, moRef targets, sequence length and uniqueness,
    exclusive structs. Values are raw, as the export writes them (no multiplication factor).
    Attributes and classes the catalog does not know are reported as warnings.

    Also checked: the rules the model's and workbook's Dependencies and Precondition texts
    state (comparisons, conditional values, uniqueness within a node; severity warning), and
    for an import file (MOs with a modifier) the operation rules: read-only attributes never
    set, restricted ones only at create, mandatory ones given at create, system-created MOs
    never created or deleted, lock-before-modify attributes changed only while locked.

    With --rules, each MO is also checked against user rules written in CEL, for example
    `qRxLevMin >= -130` or `parent.administrativeState == 'LOCKED'`; `rtbfast rules check`
    explains a rule file's mistakes. A rule with a window applies only at --at inside it.

    \b
    Writes:
      OUT/violations.parquet  subject (FDN), class, attribute, member, index, rule, severity,
                              message, value, expected, node
      OUT/violations.csv      the same rows
      OUT/report.html         counts per rule, class and node, the worst offenders, the list
      OUT/audit.json          the counts, timings and peak memory
      OUT/audit.xlsx          with --xlsx: the summary and the violations for Excel

    Exits 1 when any violation has severity error, 2 when an input cannot be read, 0
    otherwise. The rules are described in docs/rules.md.

    With --spark MASTER the export is read and checked a chunk per Spark task (see
    docs/scale-out.md); the folder holds the same violations.

    \b
    Example:
      rtbfast build ERBS_NODE_MODEL_D_full_mp.xml -o out/erbs
      rtbfast audit export.xml --catalog out/erbs -o out/audit
      rtbfast audit export.xml --catalog out/erbs -o out/audit --spark 'local[4]'
    """
    from rtbfast.audit import audit as run_audit

    show = sys.stderr.isatty() if progress is None else progress
    with contextlib.ExitStack() as stack:
        on_progress, on_phase = _reporters(stack, show)
        try:
            when = at if at is not None else datetime.now()
            if spark_master is not None:
                from rtbfast.spark.audit_job import audit_to_folder
                from rtbfast.spark.session import session

                spark = session(spark_master, spark_conf, "rtbfast audit")
                try:
                    result = audit_to_folder(
                        spark, export, catalog, out, rules=rules, at=when, on_phase=on_phase, xlsx=xlsx
                    )
                finally:
                    spark.stop()
            else:
                result = run_audit(
                    export,
                    catalog,
                    out,
                    on_progress,
                    threads=jobs,
                    rules=rules,
                    at=when,
                    on_phase=on_phase,
                    xlsx=xlsx,
                )
        except RtbfastError as err:
            _fail(err)
            return
    s = result.summary
    if output == "json":
        _echo_json({**s, "out": str(result.out)})
        for notice in s.get("notices", []):
            click.echo(f"note: {notice}", err=True)
        if result.errors:
            sys.exit(1)
        return
    click.echo(
        f"checked {s['values_checked']:,} values of {s['mos']:,} MOs against {s['constraints']:,} constraints "
        f"in {s['timings_s']['total']:.2f}s"
    )
    if s["violations"]:
        severity = ", ".join(f"{n:,} {k}" for k, n in s["by_severity"].items())
        click.echo(f"  {s['violations']:,} violations ({severity})")
        for rule, n in list(s["by_rule"].items())[:WARNINGS_SHOWN]:
            click.echo(f"    {rule:<20} {n:>10,}")
    else:
        click.echo("  no violations")
    if s["rules"]:
        r = s["rules"]
        outside = f", {r['outside_their_window']} outside their window" if r["outside_their_window"] else ""
        click.echo(f"  {r['rules']} user rules{outside}: {r['evaluations']:,} evaluations")
        for issue in r["issues"][:WARNINGS_SHOWN]:
            click.echo(f"  {issue}", err=True)
    for notice in s.get("notices", []):
        click.echo(f"  note: {notice}", err=True)
    problems = s["constraint_problems"]
    if problems:
        click.echo(f"  {len(problems)} constraint(s) could not be checked; see {out / 'report.html'}", err=True)
    click.echo(f"wrote {result.out} (open {result.out / 'report.html'})")
    if result.errors:
        sys.exit(1)


@main.group()
def rules() -> None:
    """User rule files: CSVs of CEL rules (see `rtbfast audit --rules`)."""


@rules.command("check")
@click.argument("rules_csv", metavar="RULES.csv", type=click.Path(path_type=Path))
@click.option(
    "--catalog",
    type=click.Path(path_type=Path),
    help="A build folder or an MP XML model: also check that classes and attributes exist.",
)
def rules_check(rules_csv: Path, catalog: Path | None) -> None:
    """Check a rule file: columns, severities, windows, CEL syntax (with the line and column of
    the mistake) and, with --catalog, that every class and attribute exists (with a
    did-you-mean). Exits 1 when a rule has an error.

    \b
    Columns: id,class,when,assert,severity,message,window
      id        unique name of the rule
      class     the MO class it checks, e.g. EUtranCellFDD
      when      CEL condition for the rule to apply (empty: always)
      assert    CEL expression that must hold, e.g. qRxLevMin >= -130
      severity  error (default), warning or info
      message   shown for each MO the assert fails on
      window    optional time window, e.g. Mon-Fri 01:00-05:00
    """
    from rtbfast.output_folder import load_catalog
    from rtbfast.rules.user_rules import check_rules, read_rules

    try:
        rule_file = read_rules(rules_csv)
        tables = load_catalog(catalog) if catalog is not None else None
        issues = check_rules(rule_file, tables)
    except RtbfastError as err:
        _fail(err)
        return
    for issue in issues:
        click.echo(f"{issue.severity}: {issue}")
    errors = sum(1 for i in issues if i.severity == "error")
    click.echo(f"{rule_file.table.num_rows} rule(s) read, {errors} error(s), {len(issues) - errors} warning(s)")
    if errors:
        sys.exit(1)


@main.group()
def templates() -> None:
    """RTB templates: check them in bulk against a built catalog, expand them into changes.

    \b
    Typical use:
      rtbfast templates check 'templates/**/*.json' --catalog out/erbs
      rtbfast templates check mobility.json --catalog out/erbs --format json > findings.json
      rtbfast templates expand mobility.json --catalog out/erbs --network export.xml \\
          --targets '*' -o changes.parquet
      rtbfast templates export autoroute.json --to yaml --catalog out/erbs
      rtbfast templates variants base.yaml --with sleep_mode.yaml -o out/variants
      rtbfast templates defaults --catalog out/erbs --class ReportConfigA5

    Templates are RTB templates (a JSON list) or rtbfast's typed templates (an object with
    rtbfast: template/1, in YAML, TOML or JSON).
    """


def _template_paths(given: tuple[str, ...]) -> list[Path]:
    from rtbfast.templates.files import template_files

    return template_files(given)


@templates.command("check")
@click.argument("paths", metavar="TEMPLATE...", nargs=-1, required=True)
@click.option(
    "--catalog",
    required=True,
    type=click.Path(path_type=Path),
    help="A folder written by `rtbfast build` (or an MP XML model) to check against.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a line per error and warning, a summary line per file and in all; json: an object with "
    "the summary (per file too) and every finding, dynamic parts too.",
)
@click.option("--verbose", "-v", is_flag=True, help="In text, also list the dynamic parts (info findings).")
@click.option(
    "--xlsx",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Also write the workbook PATH for Excel: the summary (per file too) and every finding, dynamic parts "
    "too, coloured by severity (written aside, swapped in); see docs/excel.md.",
)
@PROGRESS_OPTION
@JOBS_OPTION
def templates_check(
    paths: tuple[str, ...],
    catalog: Path,
    output: str,
    verbose: bool,
    xlsx: Path | None,
    progress: bool | None,
    jobs: int,
) -> None:
    """Check TEMPLATE... (files, folders of *.json, or quoted globs) against a built catalog,
    without running anything.

    \b
    Checked:
      JSON and shape     strict JSON; every key fits the grammar (Class, Class-Id, Class-*,
                         id lists with {a,b} expansion, @ flags, lowerCamel attributes,
                         $meta $vars $custom $cond $switch $eval $plans $comment)
      names              classes, attributes (with a did-you-mean), each class under a parent
                         that may contain it
      operations         read-only attributes set, restricted ones (only a create may set
                         them), system-created MOs deleted, clears of attributes that cannot
                         be unset
      values             every literal value, after conversion from engineering units
                         (raw = value / multiplication factor), judged by the evaluator
                         `rtbfast audit` uses: types, ranges, steps, lengths, enums, struct
                         members, sequence lengths; a value that fits only read as raw
                         units is flagged as a likely unit mistake, with both readings
      what runs later    $eval, $cond, $switch and $custom are listed as dynamic (info);
                         calls expansion cannot run (db.*, eval, import) are listed

    Each finding names the file, line, column and JSON pointer, with a suggestion where there
    is one. Exits 1 when a finding is an error, 2 when an input cannot be read.
    """
    import json

    from rtbfast.templates.check import check_templates

    show = sys.stderr.isatty() if progress is None else progress
    with contextlib.ExitStack() as stack:
        on_progress, _ = _reporters(stack, show)
        try:
            files = _template_paths(paths)
            result = check_templates(files, catalog, threads=jobs, on_progress=on_progress)
            if xlsx is not None:
                from rtbfast.excel import findings_xlsx

                findings_xlsx(result, xlsx, catalog=catalog, templates=files)
        except RtbfastError as err:
            _fail(err)
            return
    findings = result.findings.to_pylist()
    if output == "json":
        keep = ("template", "path", "line", "column", "severity", "code", "message", "suggestion")
        document = {"summary": result.summary(), "findings": [{k: f[k] for k in keep} for f in findings]}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        dynamic = 0
        for f in findings:
            if f["severity"] == "info" and not verbose:
                dynamic += 1
                continue
            hint = f" (suggestion: {f['suggestion']})" if f["suggestion"] else ""
            click.echo(f"{f['template']}:{f['line']}:{f['column']}: {f['severity']}: {f['code']}: {f['message']}{hint}")
        for line in _file_summary_lines(result.summaries):
            click.echo(line, err=True)
        errors, warnings = result.count("error"), result.count("warning")
        tail = f", {dynamic} dynamic part(s) not listed (-v lists them)" if dynamic else ""
        against = f" against {result.catalog_release}" if result.catalog_release else ""
        click.echo(
            f"{result.templates} template(s), {result.values_checked:,} values judged{against}: "
            f"{errors:,} error(s), {warnings:,} warning(s){tail}",
            err=True,
        )
    if xlsx is not None:
        click.echo(f"wrote {xlsx}", err=True)
    if result.errors:
        sys.exit(1)


def _file_summary_lines(summaries: list[dict[str, Any]]) -> list[str]:
    """A line per template: its counts (every finding, listed or not), its release, what
    was matched across case spellings; and the release hint, where there is one."""
    lines = []
    for s in summaries:
        parts = [f"{s['errors']:,} error(s)", f"{s['warnings']:,} warning(s)", f"{s['values']:,} value(s)"]
        if s["unknown_names"]:
            parts.append(f"{s['unknown_names']:,} unknown name(s)")
        if s["matched_spellings"]:
            parts.append(f"{s['matched_spellings']:,} naming attribute value(s) matched across CPP/ECIM case spellings")
        if s["release"]:
            parts.append(f"release {s['release']} ({s['release_said']})")
        lines.append(f"{s['template']}: " + ", ".join(parts))
        if s["hint"]:
            lines.append(f"{s['template']}: note: {s['hint']}")
    return lines


@templates.command("expand")
@click.argument("template", metavar="TEMPLATE", type=click.Path(path_type=Path))
@click.option(
    "--catalog",
    required=True,
    type=click.Path(path_type=Path),
    help="A folder written by `rtbfast build` (or an MP XML model): units, moRefs, sequences, constraints.",
)
@click.option(
    "--network",
    required=True,
    type=click.Path(path_type=Path),
    help="The network: a Bulk CM export, or a folder built from one (its network/ tables).",
)
@click.option(
    "--targets",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="Target cells: an FDN or FDN glob (it has '='), or a cell id or id glob; repeat for more. "
    "'*' is every cell (EUtranCellFDD/TDD, NRCellDU/CU, UtranCell, GeranCell), or every MO of the "
    "--target-class classes.",
)
@click.option(
    "--targets-file",
    type=click.Path(path_type=Path),
    help="A file of target patterns, one a line (blank lines and # comments left out).",
)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The ChangeSet's file (Parquet). Written aside and swapped in only when complete.",
)
@click.option(
    "--allow-errors",
    is_flag=True,
    help="Write the ChangeSet even when expansion or its verdicts have errors (the exit code is still 1).",
)
@click.option("--verbose", "-v", is_flag=True, help="Also list info notes (what the template logged or printed).")
@TARGET_CLASS_OPTION
@PROGRESS_OPTION
@JOBS_OPTION
@SPARK_OPTIONS
def templates_expand(
    template: Path,
    catalog: Path,
    network: Path,
    patterns: tuple[str, ...],
    targets_file: Path | None,
    out: Path,
    allow_errors: bool,
    verbose: bool,
    target_classes: tuple[str, ...],
    progress: bool | None,
    jobs: int,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> None:
    """Expand TEMPLATE over the target cells of a network into a ChangeSet (Parquet).

    \b
    The template runs once per target, in network order:
      MOs          a top-level Class is the target cell, its ancestor of that class, or a
                   node function beside it; Class-Id under an MO is created if missing;
                   "__delete__" deletes
      values       engineering units converted to raw (value / multiplication factor);
                   moRefs from Class-Id/Class-Id to ENM FDNs; "__ignore__" sets nothing
      expressions  $cond, $switch, $eval and $custom run in a restricted interpreter
                   (RestrictedPython): no import, no dunders, no eval/exec/open; steps,
                   time, depth and memory bounded per target
      phases       $plans and $meta.plan_order become phases
    What the operator's engine provides and rtbfast cannot (db.*, most of enet.*) is
    skipped and said, with its location. The changes are then judged on the network as it
    would be after them, by the evaluator `rtbfast audit` uses.

    \b
    Example:
      rtbfast templates expand mobility.json --catalog out/erbs --network export.xml \\
          --targets 'SubNetwork=ROOT,MeContext=NODE1*' -o changes.parquet

    With --spark MASTER the batches of nodes are expanded on Spark, a task each, with the same
    bounds; the file is the one written without (see docs/scale-out.md).

    Exits 1 when expansion or a verdict has an error (the ChangeSet is then not written
    unless --allow-errors), 2 when an input cannot be read.
    """
    from rtbfast.enm.node_groups import Workspace

    targets = list(patterns)
    if targets_file is not None:
        try:
            lines = targets_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            click.echo(f"error: {targets_file}: cannot read the targets: {err}", err=True)
            sys.exit(2)
        targets += [t.strip() for t in lines if t.strip() and not t.lstrip().startswith("#")]
    if not targets:
        click.echo("error: no targets: give --targets PATTERN or --targets-file FILE", err=True)
        sys.exit(2)
    show = sys.stderr.isatty() if progress is None else progress
    inputs = [p for p in (template, catalog, network, targets_file) if p is not None]
    with Workspace() as work:
        _expand_into(
            work.path,
            template,
            catalog,
            network,
            targets,
            inputs,
            out,
            allow_errors,
            verbose,
            target_classes,
            show,
            jobs,
            spark_master,
            spark_conf,
        )


def _expand_into(
    work: Path,
    template: Path,
    catalog: Path,
    network: Path,
    targets: list[str],
    inputs: list[Path],
    out: Path,
    allow_errors: bool,
    verbose: bool,
    target_classes: tuple[str, ...],
    show: bool,
    jobs: int,
    spark_master: str | None = None,
    spark_conf: tuple[str, ...] = (),
) -> None:
    """``templates expand``, its rows spooled in `work` (node batch by node batch; on Spark,
    a batch per task, with `spark_master`)."""
    from rtbfast.changeset import write_changeset_batches
    from rtbfast.output_folder import output_file_target
    from rtbfast.templates.expand_stream import expand_streamed
    from rtbfast.templates.verdicts import verdict_lines

    with contextlib.ExitStack() as stack:
        on_progress, on_phase = _reporters(stack, show)
        try:
            output_file_target(out, inputs)
            run_batches = None
            if spark_master is not None:
                from rtbfast.spark.expand_job import spark_expand
                from rtbfast.spark.session import session

                spark = session(spark_master, spark_conf, "rtbfast templates expand")
                stack.callback(spark.stop)
                run_batches = spark_expand(spark)
            if on_phase is not None:
                on_phase("expanding")
            result = expand_streamed(
                template,
                catalog,
                network,
                targets,
                work,
                threads=jobs,
                on_progress=on_progress,
                target_classes=list(target_classes) or None,
                run_batches=run_batches,
            )
        except RtbfastError as err:
            _fail(err)
            return
    if result.on_driver is not None:
        click.echo(f"note: expanded on the driver from a batch on, not on Spark: {result.on_driver}", err=True)
    for note in result.notes:
        if note.severity == "info" and not verbose:
            continue
        click.echo(str(note))
    for line in verdict_lines(result.verdicts, template):
        click.echo(line)
    errors = len(result.errors) + result.verdict_errors
    ops = result.ops
    summary = (
        f"{result.target_cells} target(s): {result.rows:,} row(s) ({ops['create']:,} create, {ops['set']:,} set, "
        f"{ops['delete']:,} delete); {errors} error(s), "
        f"{sum(1 for n in result.notes if n.severity == 'warning')} warning(s)"
    )
    if errors and not allow_errors:
        click.echo(f"{summary}; not written (--allow-errors writes it anyway)", err=True)
        sys.exit(1)
    try:
        write_changeset_batches(
            result.batches,
            out,
            {
                "template": str(template),
                "catalog": str(catalog),
                "network": str(network),
                "targets": targets if len(targets) <= 100 else [*targets[:100], f"... ({len(targets)} in all)"],
                "target_cells": result.target_cells,
                "errors": errors,
            },
            inputs=inputs,
        )
    except RtbfastError as err:
        _fail(err)
        return
    click.echo(f"{summary}; wrote {out}", err=True)
    if errors:
        sys.exit(1)


FORMAT_OPTION = click.option(
    "--to",
    "fmt",
    type=click.Choice(["yaml", "json", "toml"]),
    default="yaml",
    show_default=True,
    help="The format written.",
)


@templates.command("export")
@click.argument("template", metavar="TEMPLATE", type=click.Path(path_type=Path))
@FORMAT_OPTION
@click.option(
    "--catalog",
    type=click.Path(path_type=Path),
    help="A built catalog: each value gets its unit and raw value, and the findings of `templates check`.",
)
@click.option("--network", type=click.Path(path_type=Path), help="Export the template expanded over this network.")
@click.option("--targets", "patterns", multiple=True, metavar="PATTERN", help="With --network: the target cells.")
@click.option("--bare", is_flag=True, help="Values without metadata ($unit, $raw, $at, $verdict).")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="The file to write (default: stdout).")
def templates_export(
    template: Path,
    fmt: str,
    catalog: Path | None,
    network: Path | None,
    patterns: tuple[str, ...],
    bare: bool,
    out: Path | None,
) -> None:
    """Export TEMPLATE (RTB or typed) as a typed template in YAML, JSON or TOML.

    \b
    Every literal value is written with what rtbfast knows of it:
      value: {$value: 1.5, $unit: dB, $raw: "15", $at: "12:7", $verdict: [...]}
    ($unit and $raw need --catalog, $verdict lists the findings of `templates check` on it).
    Reading the export back (`templates check`, `templates expand`, `templates export`)
    gives the same template: metadata is not read, only $value.

    With --network and --targets the template is exported expanded: one $cond per target
    cell holding exactly the MOs and raw-unit values expansion made for it.

    \b
    Example:
      rtbfast templates export autoroute.json --to yaml --catalog out/erbs -o autoroute.yaml
    """
    from rtbfast.templates import typed

    try:
        tpl = typed.read_any(template)
        cat = findings = None
        if catalog is not None:
            from rtbfast.catalog_view import CatalogView
            from rtbfast.templates.check import check_templates

            cat = CatalogView.load(catalog)
            findings = check_templates([template], cat, dynamic=False).findings.to_pylist()
        if network is not None:
            if cat is None or not patterns:
                raise click.UsageError("--network needs --catalog and --targets")
            from rtbfast.templates.expand import expand
            from rtbfast.templates.expanded import expanded_template

            result = expand(tpl, cat, network, list(patterns))
            tpl = expanded_template(tpl, result, cat)
            findings = None
        text = typed.export_text(tpl, fmt, catalog=cat, findings=findings, metadata=not bare)
    except RtbfastError as err:
        _fail(err)
        return
    except ValueError as err:
        click.echo(f"error: {template}: {err}", err=True)
        sys.exit(1)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write_text(out, text, (template, catalog, network))
        click.echo(f"wrote {out}", err=True)


def _write_text(path: Path, text: str, inputs: tuple[Path | None, ...] = ()) -> None:
    """Write `text` beside `path` first, then swap it in: a good file is never half-written,
    and none of the run's `inputs` is overwritten."""
    from rtbfast.output_folder import write_text_aside

    try:
        write_text_aside(path, [text], inputs=[p for p in inputs if p is not None])
    except (OSError, RtbfastError) as err:
        click.echo(f"error: {err if isinstance(err, RtbfastError) else f'{path}: cannot write: {err}'}", err=True)
        sys.exit(1)


@templates.command("variants")
@click.argument("base", type=click.Path(path_type=Path))
@click.option(
    "--with",
    "overlays",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="OVERLAY",
    help="An overlay (a typed template's keys to change); repeat for more variants.",
)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The folder written. Written aside and swapped in only when complete.",
)
@click.option("--catalog", type=click.Path(path_type=Path), help="Check every variant against this catalog.")
@click.option(
    "--typed",
    "typed_format",
    type=click.Choice(["yaml", "json", "toml"]),
    help="Also write each variant's typed document (OUT/<overlay>.typed.<format>).",
)
def templates_variants(
    base: Path, overlays: tuple[Path, ...], out: Path, catalog: Path | None, typed_format: str | None
) -> None:
    """Make variants of the typed template BASE: each OVERLAY applied with JSON Merge Patch
    (RFC 7386: objects merge key by key, null removes a key, anything else replaces),
    compiled to a plain RTB template OUT/<overlay>.json.

    OUT is written aside and swapped in whole: an earlier variants output is replaced, any
    other folder that is not empty is refused, and so is an OUT that holds BASE or an
    OVERLAY, or two overlays with the same name (they would write the same file).

    \b
    Example:
      rtbfast templates variants examples/templates/base_cell.yaml \\
          --with examples/templates/sleep_mode.yaml --with examples/templates/motorway_mobility.yaml \\
          -o out/variants --catalog out/example

    With --catalog every variant is checked; exits 1 when one has an error.
    """
    from rtbfast.templates.typed import make_variants, write_variants

    try:
        variants = make_variants(base, overlays)
        written = write_variants(variants, out, typed_format)
    except RtbfastError as err:
        _fail(err)
        return
    for v, (path, _) in zip(variants, written, strict=True):
        click.echo(f"{path}: {v.name}")
    if catalog is not None:
        from rtbfast.templates.check import check_templates

        compiled = [path for path, _ in written]
        try:
            result = check_templates(compiled, catalog, dynamic=False)
        except RtbfastError as err:
            _fail(err)
            return
        for f in result.findings.to_pylist():
            click.echo(f"{f['template']}:{f['line']}:{f['column']}: {f['severity']}: {f['code']}: {f['message']}")
        click.echo(f"{len(compiled)} variant(s) checked: {result.errors} error(s)", err=True)
        if result.errors:
            sys.exit(1)


@templates.command("defaults")
@click.option("--catalog", required=True, type=click.Path(path_type=Path), help="A built catalog.")
@click.option("--class", "classes", required=True, multiple=True, help="An MO class; repeat for more.")
@FORMAT_OPTION
@click.option("--name", help="The template's name (meta.name).")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="The file to write (default: stdout).")
def templates_defaults(catalog: Path, classes: tuple[str, ...], fmt: str, name: str | None, out: Path | None) -> None:
    """Write a typed template that sets every writable attribute of each --class to its
    catalog default (in engineering units), under the cell or node function that contains
    it: a starting point for a template.

    \b
    Example:
      rtbfast templates defaults --catalog out/erbs --class ReportConfigA5 --class CellSleepFunction
    """
    from rtbfast.catalog_view import CatalogView
    from rtbfast.templates.formats import dump
    from rtbfast.templates.typed import defaults_document

    try:
        doc = defaults_document(CatalogView.load(catalog), classes, name=name)
    except RtbfastError as err:
        _fail(err)
        return
    except ValueError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    text = dump(doc, fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write_text(out, text, (catalog,))
        click.echo(f"wrote {out}", err=True)


def _echo_json(document: object) -> None:
    """One JSON document on stdout (what is not JSON by itself, a path, a date, as text)."""
    import json

    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a summary to read; json: the build's report (report.json, checked) as one object.",
)
def inspect(out: Path, output: str) -> None:
    """Summarise an OUT folder written by `rtbfast build`.

    The folder is checked first: every table its report counts must be there, be Parquet and
    hold the rows counted. Exits 2 when something is missing or damaged, naming the file.
    """
    from rtbfast.output_folder import REPORT, open_catalog

    try:
        report = open_catalog(out).report
    except RtbfastError as err:
        _fail(err)
        return
    if output == "json":
        _echo_json(report)
        return
    try:
        _summarise_build(out, report)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        click.echo(f"error: {out / REPORT}: not a report rtbfast build wrote ({type(err).__name__}: {err})", err=True)
        sys.exit(2)


def _summarise_build(out: Path, report: dict[str, Any]) -> None:
    for source in report["inputs"]:
        click.echo(f"input     {source['path']} ({source['kind']}, {source['bytes']:,} bytes)")
        if source.get("dtd_version"):
            click.echo(f"  mp.dtd  revision {source['dtd_version']}")
        for key, value in sorted(source.get("header", {}).items()):
            click.echo(f"  header  {key} = {value}")
        if source.get("skipped"):
            skipped = ", ".join(f"{n} {k}" for k, n in source["skipped"].items())
            click.echo(f"  read past {skipped}")
    if "workbook" in report:
        wb = report["workbook"]
        click.echo(f"workbook  {wb['parameters']} ({', '.join(f'{n} {k}' for k, n in wb['records'].items())})")
        click.echo(f"  {wb['unparsed_count']} cell(s) not understood")
    click.echo("tables")
    for name, n in report["counts"].items():
        click.echo(f"  {name:<34} {n:>10,}")
    click.echo("by source")
    for label, tables in report["by_source"].items():
        click.echo(f"  {label}: {', '.join(f'{n} {t}' for t, n in tables.items() if n)}")
    generated = report["models"]
    click.echo(
        f"models    {generated['models']} in {Path(out) / generated['path']} ({generated['layout']}), "
        f"{generated['enums']} enums, {generated['structs']} structs, {generated['schemas']} JSON Schemas"
    )
    for line in generated["renamed"][:WARNINGS_SHOWN]:
        click.echo(f"  renamed {line}")
    for line in generated["notes"][:WARNINGS_SHOWN]:
        click.echo(f"  note    {line}")
    click.echo(f"docs      {report['docs']['pages']} pages, {Path(out) / report['docs']['path']}")
    click.echo(f"disagreements {report['disagreement_count']}")
    for d in report["disagreements"][:WARNINGS_SHOWN]:
        click.echo(
            f"  {'.'.join(d['key'])} {d['field']}: {d['kept_source']} {d['kept']} / {d['other_source']} {d['other']}"
        )
    t = report["timings_s"]
    click.echo(
        f"timings   read {t['read']:.3f}s, merge {t['merge']:.3f}s, models {t['models']:.3f}s, "
        f"schemas {t['schemas']:.3f}s, docs {t['docs']:.3f}s, write {t['write']:.3f}s, total {t['total']:.3f}s"
        f" ({report.get('read_mb_per_s')} MB/s); peak memory {report['peak_rss_bytes'] / 2**20:.0f} MiB"
    )
    click.echo(f"warnings  {report['warning_count']}")
    for w in report["warnings"][:WARNINGS_SHOWN]:
        click.echo(f"  {w['file']}:{w['line']}:{w['column']}: {w['message']} (in {w['element']})")
    if report["warning_count"] > WARNINGS_SHOWN:
        click.echo(f"  … {report['warning_count'] - WARNINGS_SHOWN} more in {Path(out) / 'report.json'}")


main.add_command(plan)
main.add_command(apply)
main.add_command(journal)
main.add_command(serve)
main.add_command(serve_token)
main.add_command(verify)
main.add_command(diff)
main.add_command(diff_model)

if __name__ == "__main__":
    main()
