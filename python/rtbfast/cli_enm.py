"""``rtbfast plan`` and ``rtbfast apply``: the click layer over :mod:`rtbfast.enm`."""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from rtbfast.cli_common import (
    JOBS_OPTION,
    PROGRESS_OPTION,
    SPARK_OPTIONS,
    TARGET_CLASS_OPTION,
    XLSX_OPTION,
    _fail,
    _reporters,
)
from rtbfast.errors import RtbfastError
from rtbfast.text_safety import one_line


@click.command()
@click.argument("source", metavar="CHANGES.parquet|TEMPLATE", type=click.Path(path_type=Path))
@click.option(
    "--catalog",
    required=True,
    type=click.Path(path_type=Path),
    help="A folder written by `rtbfast build` (or an MP XML model): containment, kinds, flags, locks, constraints.",
)
@click.option(
    "--network",
    required=True,
    type=click.Path(path_type=Path),
    help="The network as it is now: a Bulk CM export, or a build folder with its network/ tables.",
)
@click.option(
    "--targets",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="For a template: the target cells (FDN, FDN glob, cell id or id glob); repeat for more.",
)
@click.option(
    "--form",
    type=click.Choice(["fdn", "node"]),
    default="fdn",
    show_default=True,
    help="plan.cmedit addresses MOs by full FDN, or by node name and the RDNs below ManagedElement.",
)
@click.option(
    "--dialect",
    "dialects",
    multiple=True,
    type=click.Choice(["cmedit", "dynamic", "moshell", "3gpp"]),
    help="Write these dialects, each with its rollback, or fail (repeat). By default every dialect that can "
    "carry the plan and its rollback exactly is written, and the others are left out with a warning.",
)
@click.option(
    "--allow-unknown-rollback",
    is_flag=True,
    help="Plan changes of attributes the export does not carry (their old value is unknown): the rollback "
    "leaves them as the plan sets them, and the summary lists them. Without it they are refused.",
)
@click.option(
    "--import-chunk",
    type=click.IntRange(min=1),
    metavar="N",
    help="Write the dynamic and 3GPP import files in parts of at most N operations, whole nodes each "
    "(plan.dynamic.001.txt …, each with its rollback.dynamic.001.txt …), one import job each.",
)
@click.option(
    "--seconds-per-command",
    type=click.FloatRange(min=0),
    help="The round trip of one command on ENM, for the summary's estimate [default: 1; measure yours with "
    "`rtbfast journal` on a run on ENM].",
)
@click.option(
    "--import-rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Operations per second of an ENM import job, for the summary's estimate [default: 100; measured by "
    "`rtbfast journal`].",
)
@click.option(
    "--import-job-overhead",
    type=click.FloatRange(min=0),
    help="Seconds an import job costs whatever its size, for the summary's estimate [default: 30].",
)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The plan folder. Written aside and swapped in only when complete.",
)
@TARGET_CLASS_OPTION
@PROGRESS_OPTION
@JOBS_OPTION
@XLSX_OPTION
@SPARK_OPTIONS
def plan(
    source: Path,
    catalog: Path,
    network: Path,
    patterns: tuple[str, ...],
    form: str,
    dialects: tuple[str, ...],
    allow_unknown_rollback: bool,
    import_chunk: int | None,
    seconds_per_command: float | None,
    import_rate: float | None,
    import_job_overhead: float | None,
    out: Path,
    target_classes: tuple[str, ...],
    progress: bool | None,
    jobs: int,
    xlsx: bool,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> None:
    """Plan a ChangeSet (or a template, expanded over --targets first) on a network: ordered,
    minimal ENM commands and their rollback.

    \b
    The plan:
      creates   parents before children, referenced MOs before the MOs that reference
                them; a reference cycle is broken by creating without the reference and
                setting it after
      sets      merged per MO, dropped where the network already holds the value
                (compared as typed values: "010" is 10)
      deletes   children first; references to a deleted MO cleared first
      locks     an attribute that needs its MO or cell LOCKED is wrapped in lock, set,
                unlock of that MO, which gets back its administrative state
      refused   unknown MOs and attributes, values the catalog refuses, read-only,
                restricted and system-created misuse (the rules `rtbfast audit` uses);
                names outside the one grammar (rtbfast.names); changes of attributes the
                export does not carry (no old value to roll back to), unless
                --allow-unknown-rollback
      rollback  the network's own values, written back exactly (even ones the catalog
                would refuse as new: the summary warns of them)

    \b
    Every name and value is written exactly in each dialect or refused, naming the file,
    step, MO and attribute: no value can become a command of its own. Quotes,
    backslashes, control, line and invisible format characters have no known escape in
    cmedit, dynamic import files or moshell, so a value holding one is refused there
    (3GPP XML carries it; --dialect 3gpp writes that dialect alone).

    \b
    Written to OUT:
      plan.cmedit  plan.dynamic.txt  plan.3gpp.xml  plan.mos  plan.parquet
      rollback.cmedit  rollback.dynamic.txt  rollback.3gpp.xml  rollback.mos  rollback.parquet
      summary.md  summary.html  plan.json
      plan.xlsx    with --xlsx: the summary, the plan and its rollback for Excel
    With --import-chunk N: plan.dynamic.001.txt … and plan.3gpp.001.xml … (at most N
    operations each, whole nodes, in the plan's order), rollback.dynamic.001.txt … beside.

    \b
    The summary recommends a route, the commands one by one or import jobs, by their
    estimated durations: a round trip per command (--seconds-per-command) against a rate
    per operation plus a cost per job (--import-rate, --import-job-overhead). The defaults
    are assumptions; `rtbfast journal` measures both on a run on ENM.

    \b
    Examples:
      rtbfast plan changes.parquet --catalog out/erbs --network export.xml -o plan/
      rtbfast plan mobility.json --targets 'NODE1_*' --catalog out/erbs --network export.xml -o plan/
      rtbfast plan changes.parquet --catalog out/erbs --network export.xml -o plan/ --spark 'local[4]'

    With --spark MASTER the batches of node groups are planned on Spark, a task each (and a
    template's batches of nodes expanded there first); the files are byte for byte the same
    (docs/scale-out.md).

    Exits 1 when the changes cannot be planned (each problem is listed with the ChangeSet
    row it comes from), 2 when an input cannot be read.
    """
    from rtbfast.enm.plan import PlanError
    from rtbfast.enm.planning import ExpansionFailed, plan_folder
    from rtbfast.enm.summary import RouteTiming

    given = "given (--{})"
    timing = RouteTiming()
    if seconds_per_command is not None:
        timing = replace(
            timing, seconds_per_command=seconds_per_command, command_source=given.format("seconds-per-command")
        )
    if import_rate is not None or import_job_overhead is not None:
        timing = replace(
            timing,
            import_rate=import_rate if import_rate is not None else timing.import_rate,
            import_overhead=import_job_overhead if import_job_overhead is not None else timing.import_overhead,
            import_source=given.format("import-rate, --import-job-overhead")
            + ("" if import_rate is not None and import_job_overhead is not None else "; the other: rtbfast's default"),
        )

    show = sys.stderr.isatty() if progress is None else progress
    with contextlib.ExitStack() as stack:
        _, on_phase = _reporters(stack, show)
        try:
            run_batches = expand_batches = None
            if spark_master is not None:  # the batches of nodes expanded and planned on Spark, a task each
                from rtbfast.spark.expand_job import spark_expand
                from rtbfast.spark.plan_job import spark_batches
                from rtbfast.spark.session import session

                spark = session(spark_master, spark_conf, "rtbfast plan")
                stack.callback(spark.stop)
                run_batches = spark_batches(spark)
                expand_batches = spark_expand(spark)
            report = plan_folder(
                source,
                catalog,
                network,
                out,
                patterns,
                form=form,
                dialects=dialects or None,
                import_chunk=import_chunk,
                timing=timing,
                threads=jobs,
                allow_unknown_rollback=allow_unknown_rollback,
                budget=_budget(),
                on_phase=on_phase,
                target_classes=list(target_classes) or None,
                on_warning=lambda line: click.echo(one_line(line)),  # as `templates expand` says them
                xlsx=xlsx,
                run_batches=run_batches,
                expand_batches=expand_batches,
            )
        except PlanError as err:
            for problem in err.problems:
                click.echo(f"error: {one_line(str(problem))}", err=True)
            click.echo(f"{len(err.problems)} problem(s); nothing written", err=True)
            sys.exit(1)
        except ExpansionFailed as err:
            for line in err.lines[:50]:
                click.echo(one_line(line), err=True)
            _fail(err)
            return
        except RtbfastError as err:
            _fail(err)
            return
    for note in report["notes"]:
        click.echo(f"note: {note}")
    c = report["counts"]
    for dialect, problems in report["dialects"]["refused"].items():
        click.echo(
            f"warning: {dialect} not written: it cannot carry {len(problems)} name(s) or value(s) of the plan or "
            f"its rollback exactly, the first: {problems[0]} (all in {out / 'summary.md'})",
            err=True,
        )
    if c["unknown_rollback"]:
        click.echo(
            f"warning: {c['unknown_rollback']} changed attribute(s) have no value in the export: the rollback "
            f"leaves them as the plan sets them (listed in {out / 'summary.md'})",
            err=True,
        )
    if c["restored_violations"]:
        click.echo(
            f"warning: the rollback restores {c['restored_violations']} value(s) the catalog refuses as new values "
            f"(the network holds them; listed in {out / 'summary.md'})",
            err=True,
        )
    files = sum(len(entries) for entries in report["imports"].values())
    parts = f", {files} import file(s)" if import_chunk else ""
    best = report["route"]["recommended"]
    route = (
        ""
        if best is None
        else f"; recommended: {best['route']}" + (f" ({best['dialect']})" if best["route"] != "commands" else "")
    )
    click.echo(
        f"{c['steps']} step(s) on {c['mos']} MO(s) of {c['nodes']} node(s): {c['create']} create, {c['set']} set, "
        f"{c['delete']} delete, {c['lock']} lock; {c['dropped_as_already_true']} write(s) already true; "
        f"{report['commands']} command(s), rollback {report['rollback_commands']}{parts}{route}; wrote {out}",
        err=True,
    )


def _budget() -> int | None:
    """``RTBFAST_PLAN_BUDGET``: the network values and ChangeSet rows a batch of node groups
    holds at most (tests set it tiny to plan each group alone)."""
    import os

    value = os.environ.get("RTBFAST_PLAN_BUDGET")
    return int(value) if value and value.isdigit() else None


@click.command()
@click.argument("script_path", metavar="SCRIPT|IMPORT_FILE", type=click.Path(path_type=Path))
@click.option(
    "--backend",
    "backend_name",
    type=click.Choice(["simulator", "enm"]),
    default="simulator",
    show_default=True,
    help="Where the commands go: the offline simulator, or ENM's scripting service (--url).",
)
@click.option(
    "--catalog", type=click.Path(path_type=Path), help="The catalog (needed by the simulator and --rollback)."
)
@click.option(
    "--network",
    type=click.Path(path_type=Path),
    help="The network as it was before the run (needed by the simulator and --rollback).",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(path_type=Path),
    help="The SQLite journal of every command's outcome [default: SCRIPT.journal.sqlite on ENM, "
    "SCRIPT.simulator.journal.sqlite on the simulator; with --dry-run, JOURNAL becomes JOURNAL.dry-run.sqlite].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Go on with the run of this script that stopped, or with its rollback that stopped, without repeating "
    "a command.",
)
@click.option(
    "--rollback",
    is_flag=True,
    help="Undo exactly the commands of the last run of SCRIPT that were applied (computed from --network), or "
    "what the import job applied (as a job of its own); a run is rolled back once.",
)
@click.option(
    "--uncertain",
    type=click.Choice(["verify", "resend", "applied"]),
    default="verify",
    show_default=True,
    help="With --resume, a command sent without an answer: read it back, send it again, or count it as done "
    "(an import file's upload without an answer: resend uploads it again).",
)
@click.option("--dry-run", is_flag=True, help="Run on the simulator whatever --backend says.")
@click.option(
    "--allow-unknown-rollback",
    is_flag=True,
    help="Run (or roll back) changes of attributes --network does not hold: their old value is unknown, so the "
    "rollback leaves them as the run set them. Without it such a script is refused before anything is sent.",
)
@click.option(
    "--save-network", type=click.Path(path_type=Path), help="Simulator: write the network after as Bulk CM XML."
)
@click.option(
    "--url", help="ENM's address (https://enm.example.com). Credentials: ENM_USERNAME, ENM_PASSWORD or a prompt."
)
@click.option(
    "--ca-file", type=click.Path(path_type=Path), help="The CA certificate(s) that sign ENM's TLS certificate."
)
@click.option("--insecure", is_flag=True, help="Do not verify ENM's TLS certificate (not for production).")
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), default=600.0, show_default=True, help="Seconds ENM has per command."
)
@click.option(
    "--sessions",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="ENM sessions sending at once, each the commands of other nodes: a node's commands keep their order, "
    "every command is journaled, and the first refusal stops new sends on all.",
)
@click.option(
    "--error",
    "error_policy",
    type=click.Choice(["stop", "node", "operation"]),
    default="stop",
    show_default=True,
    help="An import job's execution policy: stop the job at the first failure, skip the rest of that node, or go "
    "on with the next operation.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between two reads of an import job's status.",
)
@click.option(
    "--job-timeout",
    type=click.FloatRange(min=0),
    default=7200.0,
    show_default=True,
    help="Seconds an import job is followed; past them the run stops and the job goes on in ENM (--resume follows "
    "it again).",
)
@click.option(
    "--job",
    "job_id",
    type=click.IntRange(min=0),
    help="With --resume: the ENM import job to follow for an upload whose answer never came (find it with "
    "cmedit import --status).",
)
@click.option(
    "--transcript",
    type=click.Path(path_type=Path),
    help="Append every command sent (and each upload), with the answer, to this file.",
)
@click.option(
    "--simulator-job-seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Simulator: its import jobs answer IN PROGRESS this long before their outcome (to rehearse polling, a "
    "kill and --resume).",
)
@PROGRESS_OPTION
def apply(
    script_path: Path,
    backend_name: str,
    catalog: Path | None,
    network: Path | None,
    journal_path: Path | None,
    resume: bool,
    rollback: bool,
    uncertain: str,
    dry_run: bool,
    allow_unknown_rollback: bool,
    save_network: Path | None,
    url: str | None,
    ca_file: Path | None,
    insecure: bool,
    timeout: float,
    sessions: int,
    error_policy: str,
    poll_interval: float,
    job_timeout: float,
    job_id: int | None,
    transcript: Path | None,
    simulator_job_seconds: float,
    progress: bool | None,
) -> None:
    """Run a cmedit SCRIPT command by command, or an IMPORT_FILE (plan.dynamic.txt,
    plan.3gpp.xml) as one ENM import job, recording each outcome in a journal.

    \b
    - each command is recorded (SQLite, synced) before the next is sent;
    - the run stops at the first command ENM refuses, and says which;
    - --resume goes on after a stop or a kill without sending an applied command again;
      a command sent without an answer is read back (cmedit get) first;
    - --rollback undoes exactly the applied commands of the last run, once; --resume after a
      rollback that stopped goes on with the rollback;
    - one apply at a time per journal (a lock beside it, JOURNAL.lock); a file that is not
      an rtbfast journal is refused and left as it was;
    - only what a plan writes runs: one command a line on one MO, no option, names of the
      one grammar (rtbfast.names), no control, line-break or format character, no backslash;
    - with --catalog and --network the rollback of the whole script is computed and written
      before the first command is sent, so any part of it can be undone (an attribute the
      network does not hold is refused, or with --allow-unknown-rollback left as set);
    - --dry-run (or --backend simulator) runs on the offline simulator, which checks each
      command as ENM and the node would; --save-network writes the network after.

    \b
    An import file (XML: 3GPP; first line create/set/delete: dynamic) runs as one job:
    - uploaded with cmedit import -f file:NAME --filetype dynamic|3GPP --error POLICY, the
      job journaled (with every operation) before the upload and its id as soon as ENM
      names it; its status polled (--poll-interval, --job-timeout) until it ends, then every
      operation's outcome journaled;
    - --error stop (default): the job stops at the first failure; node: the rest of that
      node is skipped; operation: it goes on with the next operation;
    - --resume re-attaches to the journaled job (never uploads it again); an upload whose
      answer never came is refused until --job ID (follow that job) or --uncertain resend;
    - --rollback runs rtbfast plan's rollback file beside it (every operation applied) or
      the rollback of exactly the applied operations (from --catalog and --network), once;
    - the files of plan --import-chunk run one after the other (a shell loop over
      plan.dynamic.[0-9]*.txt, stopping at the first failure).

    \b
    Examples:
      rtbfast apply plan/plan.cmedit --catalog out/erbs --network export.xml --save-network after.xml
      ENM_USERNAME=me rtbfast apply plan/plan.cmedit --backend enm --url https://enm.example.com
      rtbfast apply plan/plan.cmedit --backend enm --url https://enm.example.com --resume
      rtbfast apply plan/plan.cmedit --backend enm --url … --rollback --catalog out/erbs --network export.xml
      rtbfast apply plan/plan.dynamic.txt --backend enm --url https://enm.example.com --error stop
      rtbfast apply plan/plan.dynamic.txt --backend enm --url https://enm.example.com --resume

    Exits 0 when every command (every operation of the job) is applied, 1 when one fails (or
    its outcome is not known), 2 when an input cannot be read or the run cannot go on as asked.
    """
    with _exits():
        _apply(**locals())


@contextlib.contextmanager
def _exits() -> Iterator[None]:
    """Errors as one line and rtbfast's exit code (2 for a run that cannot go on as asked)."""
    from rtbfast.enm.plan import PlanError

    try:
        yield
    except PlanError as err:
        # the rollback cannot be computed or written: every problem, located
        for problem in err.problems:
            click.echo(f"error: {one_line(str(problem))}", err=True)
        click.echo(f"{len(err.problems)} problem(s) with the rollback; nothing sent", err=True)
        sys.exit(err.exit_code)
    except RtbfastError as err:
        _fail(err)


def _apply(
    script_path: Path,
    backend_name: str,
    catalog: Path | None,
    network: Path | None,
    journal_path: Path | None,
    resume: bool,
    rollback: bool,
    uncertain: str,
    dry_run: bool,
    allow_unknown_rollback: bool,
    save_network: Path | None,
    url: str | None,
    ca_file: Path | None,
    insecure: bool,
    timeout: float,
    sessions: int,
    error_policy: str,
    poll_interval: float,
    job_timeout: float,
    job_id: int | None,
    transcript: Path | None,
    simulator_job_seconds: float,
    progress: bool | None,
) -> None:
    from rtbfast.enm.apply import ApplyRequest, apply_script

    request = ApplyRequest(
        script=script_path,
        backend=backend_name,
        catalog=catalog,
        network=network,
        journal=journal_path,
        resume=resume,
        rollback=rollback,
        uncertain=uncertain,
        dry_run=dry_run,
        allow_unknown_rollback=allow_unknown_rollback,
        save_network=save_network,
        url=url,
        ca_file=ca_file,
        insecure=insecure,
        timeout=timeout,
        sessions=sessions,
        prompt=sys.stdin.isatty(),
        command=shlex.join(["rtbfast", *sys.argv[1:]]),
        error_policy=error_policy,
        poll_interval=poll_interval,
        job_timeout=job_timeout,
        job=job_id,
        transcript=transcript,
        simulator_job_seconds=simulator_job_seconds,
    )
    show = sys.stderr.isatty() if progress is None else progress
    with contextlib.ExitStack() as stack:
        bar: Any = None

        def on_progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(click.progressbar(length=total, label="applying", file=sys.stderr))
            bar.update(done - bar.pos)

        result = apply_script(
            request,
            on_note=lambda text: click.echo(one_line(text), err=True),
            on_progress=on_progress if show else None,
        )
        if bar is not None:
            bar.render_finish()
    error = result.error()
    if error is not None:
        click.echo(f"error: {one_line(error)}", err=True)
        sys.exit(1)
    if result.saved_network is not None:
        click.echo(f"wrote {result.saved_network}", err=True)
    click.echo(result.summary(), err=True)


@click.command("journal")
@click.argument("journal_path", metavar="JOURNAL", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A line per run (text), or everything as one JSON object.",
)
def journal(journal_path: Path, fmt: str) -> None:
    """What an apply JOURNAL records: every run (apply or rollback, where it ran, when, its
    state, its commands counted, or its import job: ENM's job id, its status, its operations
    counted and those that did not apply), where each run that did not finish stopped, the
    commands whose outcome is not known (sent, no answer), the uploads whose answer never
    came, the rollbacks left half-done, whether an apply is running on it now, and what was
    measured on ENM (a command's round trip, a job's operations per second: rtbfast plan
    --seconds-per-command and --import-rate take them). Read without its lock and without
    changing anything.

    \b
    Example:
      rtbfast journal plan/plan.cmedit.journal.sqlite
      rtbfast journal plan/plan.cmedit.journal.sqlite --format json

    Exits 2 when JOURNAL is not an rtbfast journal.
    """
    import json

    from rtbfast.enm.journal import journal_report

    with _exits():
        report = journal_report(journal_path)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for line in journal_lines(report):
        click.echo(line)


def _operation(o: dict[str, Any]) -> str:
    line = f" (line {o['line']})" if o.get("line") is not None else ""
    return f"operation {int(o['position']) + 1}{line}: {o['operation']} {o['fdn']} [{o['state'] or o['result']}]"


NOT_APPLIED_SHOWN = 10
"""Operations that did not apply listed per run in text; all of them in --format json."""


def journal_lines(report: dict[str, Any]) -> list[str]:
    """The journal report as text, a line per run and per thing to act on."""
    out = [f"{report['journal']}: {len(report['runs'])} run(s), last activity {report['last_activity']}"]
    running = report.get("running")
    if running:
        out.append(
            f"running now: pid {running.get('pid')} on {running.get('host')} since {running.get('started')} "
            f"({running.get('command')})"
        )
    for r in report["runs"]:
        what = f"rollback of run {r['undoes']}" if r["kind"] == "rollback" else "apply"
        job = r.get("import")
        when = f"started {r['started']}" + (f", finished {r['finished']}" if r["finished"] else "")
        if job is not None:
            named = f"job {job['job_id']}" if job["job_id"] is not None else f"upload {job['state']}"
            status = f"{job['status']} / {job['status_detail']}" if job["status"] else "no status read"
            line = (
                f"run {r['run']}: {what} of {r['script']} on {r['target']}: {r['state']}, {named} ({job['filetype']}, "
                f"--error {job['error_policy']}): {status}; {job['applied']} applied, {job['failed']} failed, "
                f"{job['not_applied']} not applied, {job['unknown'] + job['pending']} unknown of {job['operations']} "
                f"operation(s); {when}"
            )
        else:
            line = (
                f"run {r['run']}: {what} of {r['script']} on {r['target']}: {r['state']}, {r['applied']} applied, "
                f"{r['verified']} found applied, {r['failed']} failed, {r['sending']} unknown of {r['commands']} "
                f"sent; {when}"
            )
        if r.get("rolled_back_by") is not None:
            line += f"; rolled back by run {r['rolled_back_by']}"
        out.append(line)
        stopped = r.get("stopped_at")
        if stopped and "operation" in stopped:
            o = stopped["operation"]
            out.append(f"  stopped at {_operation(o)}: {one_line(str(o['message'] or 'no reason given'))}")
        elif stopped:
            answer = one_line(str(stopped["answer"] or "no answer"))
            out.append(
                f"  stopped at command {stopped['position'] + 1} (line {stopped['line']}): {stopped['command']} "
                f"[{stopped['state']}]: {answer}"
            )
        if job is not None:
            first = stopped["operation"]["position"] if stopped and "operation" in stopped else None
            listed = [o for o in job["not_applied_operations"] if o["position"] != first]
            for o in listed[:NOT_APPLIED_SHOWN]:
                out.append(f"  not applied: {_operation(o)}: {one_line(str(o['message'] or ''))}")
            if len(listed) > NOT_APPLIED_SHOWN:
                out.append(f"  … {len(listed) - NOT_APPLIED_SHOWN} more not applied (all of them: --format json)")
    for u in report["uncertain"]:
        out.append(
            f"outcome unknown: run {u['run']} command {u['position'] + 1} (line {u['line']}): {u['command']} "
            f"(sent {u['sent']}, no answer): --resume reads it back"
        )
    for u in report.get("uncertain_uploads", []):
        out.append(
            f"upload unanswered: run {u['run']} uploaded file:{u['name']} at {u['sent']} and no answer came: check "
            "`cmedit import --status` for its job, then --resume --job ID (follow it) or --resume --uncertain resend"
        )
    for h in report["half_done_rollbacks"]:
        out.append(
            f"half-done rollback: run {h['run']} undoing run {h['undoes']} ({h['state']}, {h['applied']} applied): "
            "--resume goes on with it"
        )
    timing = report.get("timing") or {}
    if timing.get("commands_measured"):
        out.append(
            f"measured: a command's round trip {timing['seconds_per_command']:.3g} s (median of "
            f"{timing['commands_measured']}): rtbfast plan --seconds-per-command takes it"
        )
    for rate in timing.get("import_jobs", []):
        out.append(
            f"measured: job {rate['job_id']} (run {rate['run']}) ran {rate['operations']} operation(s) in "
            f"{rate['seconds']:.3g} s ({rate['operations_per_second']:.3g}/s, upload to end): rtbfast plan "
            "--import-rate takes it"
        )
    return out
