"""``rtbfast verify``, ``rtbfast diff`` and ``rtbfast diff-model``: the click layer over
:mod:`rtbfast.verify`, :mod:`rtbfast.network_diff` and :mod:`rtbfast.model_diff`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from rtbfast.cli_common import JOBS_OPTION, XLSX_OPTION, _fail
from rtbfast.errors import InputError, RtbfastError
from rtbfast.text_safety import one_line

CATALOG_HELP = "The catalog to plan the correction with: a folder written by `rtbfast build`, or an MP XML model"


def _plan_correction(
    changes: Path, catalog: Any, network: Path, out: Path, *, allow_unknown_rollback: bool, jobs: int, xlsx: bool
) -> None:
    """Plan the ChangeSet `changes` on `network` with the one planner and write the plan
    folder `out`; a problem is listed and exits 1."""
    from rtbfast.enm.plan import PlanError
    from rtbfast.enm.planning import plan_changes, write_plan_folder

    try:
        planned = plan_changes(changes, catalog, network, threads=jobs, allow_unknown_rollback=allow_unknown_rollback)
        report = write_plan_folder(planned, out, xlsx=xlsx)
    except PlanError as err:
        for problem in err.problems:
            click.echo(f"error: {one_line(str(problem))}", err=True)
        click.echo(f"{len(err.problems)} problem(s); the correction was not planned", err=True)
        sys.exit(1)
    c = report["counts"]
    click.echo(
        f"correction: {c['steps']} step(s) on {c['mos']} MO(s): {c['create']} create, {c['set']} set, "
        f"{c['delete']} delete, {c['lock']} lock; {c['dropped_as_already_true']} write(s) already true; wrote {out}",
        err=True,
    )


@click.command()
@click.argument("plan_dir", metavar="PLAN_DIR", type=click.Path(path_type=Path))
@click.option(
    "--network",
    required=True,
    type=click.Path(path_type=Path),
    help="The export taken after the plan ran (a Bulk CM export, or a build folder with its network/).",
)
@click.option(
    "-o", "--out", required=True, type=click.Path(path_type=Path), help="The verify folder (written aside, swapped in)."
)
@click.option(
    "--correct",
    type=click.Path(path_type=Path),
    help="Also plan what did not hold again, on --network, and write that plan folder here (rtbfast plan's folder).",
)
@click.option("--catalog", type=click.Path(path_type=Path), help=CATALOG_HELP + " [default: the plan's own].")
@click.option(
    "--allow-unknown-rollback",
    is_flag=True,
    help="With --correct: as rtbfast plan's (attributes the export does not carry).",
)
@JOBS_OPTION
@XLSX_OPTION
def verify(
    plan_dir: Path,
    network: Path,
    out: Path,
    correct: Path | None,
    catalog: Path | None,
    allow_unknown_rollback: bool,
    jobs: int,
    xlsx: bool,
) -> None:
    """Check, per planned value, whether a plan folder's changes hold in the export taken
    after it ran.

    \b
    Each planned value (an attribute of an MO as the plan's last write leaves it), each MO
    it creates and each it deletes is:
      held        the export holds what the plan wanted (typed: "010" is 10)
      not_taken   the export still holds the value from before the plan: its step did not take
      drifted     the export holds another value, neither planned nor from before: changed
                  outside the plan (the value found is given)
      mo_missing  the MO is not in the export
      unexpected  an MO the plan deletes is still there
    The values before the plan are those its rollback.parquet writes back.

    \b
    Written to OUT: verify.parquet, verify.csv, verify.html, verify.json (counts by status,
    class and node); with --correct, corrections.parquet (a ChangeSet asking again for what
    did not hold) and, planned on --network by rtbfast plan's planner, the plan folder CORRECT;
    with --xlsx, verify.xlsx (and CORRECT/plan.xlsx) for Excel.

    \b
    Example:
      rtbfast verify plan/ --network after.xml -o verified/ --correct again/

    Exits 0 when every planned value holds, 1 when one does not (or the correction cannot be
    planned), 2 when an input cannot be read.
    """
    from rtbfast.verify import correction_changes, read_plan_folder, write_verify_folder
    from rtbfast.verify import verify as run_verify

    try:
        verification = run_verify(plan_dir, network, threads=jobs)
        corrections = notes = None
        if correct is not None:
            steps, _, _ = read_plan_folder(plan_dir)
            corrections, notes = correction_changes(verification, steps)
            catalog = catalog or _made_from_catalog(verification.made_from, plan_dir)
        write_verify_folder(verification, out, corrections=corrections, notes=notes, xlsx=xlsx)
    except RtbfastError as err:
        _fail(err)
        return
    for note in notes or []:
        click.echo(f"note: {one_line(note)}", err=True)
    c = verification.counts()
    click.echo(
        f"{verification.rows.num_rows} planned value(s) and MO(s): {c['held']} held, {c['not_taken']} not taken, "
        f"{c['drifted']} drifted, {c['mo_missing']} MO missing, {c['unexpected']} unexpected; wrote {out}",
        err=True,
    )
    if correct is not None and catalog is not None and corrections is not None:
        if corrections.num_rows:
            try:
                _plan_correction(
                    out / "corrections.parquet",
                    catalog,
                    network,
                    correct,
                    allow_unknown_rollback=allow_unknown_rollback,
                    jobs=jobs,
                    xlsx=xlsx,
                )
            except RtbfastError as err:
                _fail(err)
        else:
            click.echo("nothing to correct: no correction plan written", err=True)
    sys.exit(0 if verification.ok else 1)


def _made_from_catalog(made_from: dict[str, Any], plan_dir: Path) -> Path:
    given = made_from.get("catalog")
    if isinstance(given, str) and given and Path(given).exists():
        return Path(given)
    raise InputError(
        f"{plan_dir}: the catalog the plan was made with ({given or 'not recorded'}) is not at hand: give --catalog",
        str(plan_dir),
    )


@click.command()
@click.argument("network_a", metavar="NETWORK_A", type=click.Path(path_type=Path))
@click.argument("network_b", metavar="NETWORK_B", type=click.Path(path_type=Path))
@click.option(
    "-o", "--out", required=True, type=click.Path(path_type=Path), help="The diff folder (written aside, swapped in)."
)
@click.option(
    "--correct",
    type=click.Path(path_type=Path),
    help="Also plan the correction (see --towards) with rtbfast plan's planner and write that plan folder here.",
)
@click.option(
    "--towards",
    type=click.Choice(["a", "b"]),
    default="a",
    show_default=True,
    help="The correction takes B back to A (a: planned on B), or A to B (b: planned on A).",
)
@click.option("--catalog", type=click.Path(path_type=Path), help=CATALOG_HELP + " (needed by --correct).")
@click.option("--allow-unknown-rollback", is_flag=True, help="With --correct: as rtbfast plan's.")
@JOBS_OPTION
@XLSX_OPTION
def diff(
    network_a: Path,
    network_b: Path,
    out: Path,
    correct: Path | None,
    towards: str,
    catalog: Path | None,
    allow_unknown_rollback: bool,
    jobs: int,
    xlsx: bool,
) -> None:
    """Compare two networks (Bulk CM exports, or build folders with their network/): MOs
    added and removed, attribute values changed, relations changed per parent (a cell's
    frequency relations, a frequency's neighbour relations), counted per node, class and
    attribute.

    \b
    An attribute is compared whole (its items and struct members), so an item inserted
    into a sequence is one change, not one per item after it.

    \b
    Written to OUT: mos, values, relations and counts as .parquet and .csv, diff.html,
    diff.json; with --correct, correction.parquet (a ChangeSet: the MOs to create with
    every attribute the catalog does not call read-only, the values to set, the MOs to
    delete) and, planned as rtbfast plan plans, the plan folder CORRECT; with --xlsx, diff.xlsx
    (and CORRECT/plan.xlsx) for Excel.

    \b
    Examples:
      rtbfast diff before.xml after.xml -o changed/
      rtbfast diff before.xml after.xml -o changed/ --correct back/ --catalog out/erbs

    Exits 0 when the networks hold the same, 1 when they differ (or the correction cannot be
    planned), 2 when an input cannot be read.
    """
    from rtbfast.catalog_view import CatalogView
    from rtbfast.network_diff import correction_changes, diff_networks, diff_report, write_diff_folder
    from rtbfast.network_index import read_network_tables

    try:
        if correct is not None and catalog is None:
            raise InputError("--correct plans the correction with a catalog: give --catalog")
        a = read_network_tables(network_a, jobs)
        b = read_network_tables(network_b, jobs)
        found = diff_networks(a, b)
        report = diff_report(found, str(network_a), str(network_b))
        correction = None
        view = None
        if correct is not None and catalog is not None:
            view = CatalogView.load(catalog, jobs)
            current, wanted = (b, a) if towards == "a" else (a, b)
            correction, notes = correction_changes(current, wanted, found, towards=towards, catalog=view)
            report["correction_notes"] = notes
            report["towards"] = towards
            report["correction_rows"] = correction.num_rows
        write_diff_folder(found, out, report, inputs=[network_a, network_b], correction=correction, xlsx=xlsx)
    except RtbfastError as err:
        _fail(err)
        return
    click.echo(
        f"{report['mos']['a']} MO(s) in A, {report['mos']['b']} in B: {report['mos_added']} added, "
        f"{report['mos_removed']} removed; {report['values_changed']} value(s) changed, {report['values_added']} "
        f"added, {report['values_removed']} removed; relations {report['relations_added']} added, "
        f"{report['relations_removed']} removed, {report['relations_changed']} changed; wrote {out}",
        err=True,
    )
    for note in report.get("correction_notes", []):
        click.echo(f"note: {one_line(note)}", err=True)
    differ = bool(found.mos.num_rows or found.values.num_rows)
    if correct is not None and correction is not None and view is not None:
        if correction.num_rows:
            try:
                _plan_correction(
                    out / "correction.parquet",
                    view,
                    network_b if towards == "a" else network_a,
                    correct,
                    allow_unknown_rollback=allow_unknown_rollback,
                    jobs=jobs,
                    xlsx=xlsx,
                )
            except RtbfastError as err:
                _fail(err)
        else:
            click.echo("nothing to correct: no correction plan written", err=True)
    sys.exit(1 if differ else 0)


@click.command("diff-model")
@click.argument("old", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new", metavar="NEW", type=click.Path(path_type=Path))
@click.option(
    "-o", "--out", required=True, type=click.Path(path_type=Path), help="The folder (written aside, swapped in)."
)
@click.option(
    "--templates",
    "templates_given",
    multiple=True,
    metavar="PATH",
    help="Templates written for OLD (files, folders or quoted globs; repeat for more): which of their keys and "
    "values a change breaks or gives another meaning, each located.",
)
@click.option(
    "--changes",
    "changesets",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A ChangeSet (.parquet) made for OLD: which of its rows a change bears on (repeat for more).",
)
@JOBS_OPTION
@XLSX_OPTION
def diff_model(
    old: Path,
    new: Path,
    out: Path,
    templates_given: tuple[str, ...],
    changesets: tuple[Path, ...],
    jobs: int,
    xlsx: bool,
) -> None:
    """Compare two model releases, OLD and NEW (MP XML models or folders written by `rtbfast
    build`).

    \b
    Found, each with a severity (breaking: what was right for OLD is refused by NEW;
    meaning: the same text means another thing; info):
      classes and attributes added, removed, and probably renamed (same parents or the
        same type, and a close name)
      type, range, length, enum member, default, unit and multiplication-factor changes
      flags: read-only, restricted, mandatory, lockBeforeModify, takes effect
      containment and cardinality
    With --templates and --changes: every key and value a breaking or meaning change
    bears on, with the template (or ChangeSet), the JSON pointer (or the row's source),
    line and column.

    \b
    Written to OUT: changes.parquet and .csv, impacts.parquet and .csv (with --templates or
    --changes), diff-model.html, diff-model.json; with --xlsx, diff-model.xlsx for Excel.

    \b
    Example:
      rtbfast diff-model old_mp.xml new_mp.xml -o model-diff/ --templates 'rtb/*.json'

    Exits 0 when nothing breaks (no breaking change, or none bearing on the templates and
    ChangeSets given), 1 when something does, 2 when an input cannot be read (a template
    or a part of one that does not read is listed, located, and the rest judged).
    """
    from rtbfast.model_diff import (
        changeset_rows,
        counts,
        diff_models,
        impacts,
        load_release,
        template_rows,
        write_model_diff_folder,
    )

    try:
        old_view = load_release(old, jobs)
        new_view = load_release(new, jobs)
        changes = diff_models(old_view, new_view)
        impact = None
        unread: list[str] = []
        report: dict[str, Any] = {
            "old": str(old),
            "new": str(new),
            "changes": changes.num_rows,
            "by_severity": counts(changes, "severity"),
            "by_change": counts(changes, "change"),
        }
        if templates_given or changesets:
            import pyarrow as pa

            parts = [template_rows(templates_given, jobs, unread)] if templates_given else []
            parts += [changeset_rows(c) for c in changesets]
            rows = pa.concat_tables(parts)
            impact = impacts(rows, changes)
            report["impacts"] = counts(impact, "severity")
            report["templates_rows"] = rows.num_rows
            report["unread"] = unread
        inputs = [old, new, *changesets]
        write_model_diff_folder(changes, impact, out, report, inputs, xlsx=xlsx)
    except RtbfastError as err:
        _fail(err)
        return
    sev = report["by_severity"]
    line = (
        f"{changes.num_rows} change(s): {sev.get('breaking', 0)} breaking, {sev.get('meaning', 0)} meaning, "
        f"{sev.get('info', 0)} info"
    )
    if impact is not None:
        imp = report["impacts"]
        line += (
            f"; in the templates and ChangeSets: {imp.get('breaking', 0)} key(s) or value(s) break, "
            f"{imp.get('meaning', 0)} change meaning"
        )
    for problem in unread:
        click.echo(f"error: {one_line(problem)} (not judged)", err=True)
    click.echo(f"{line}; wrote {out}", err=True)
    if unread:
        sys.exit(2)
    breaking = (report.get("impacts") or {}).get("breaking", 0) if impact is not None else sev.get("breaking", 0)
    sys.exit(1 if breaking else 0)
