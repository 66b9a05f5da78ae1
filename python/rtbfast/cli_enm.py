"""``rtbfast plan`` and ``rtbfast apply``: the click layer over :mod:`rtbfast.enm`."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from rtbfast.cli_common import JOBS_OPTION, PROGRESS_OPTION, _fail, _reporters
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
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The plan folder. Written aside and swapped in only when complete.",
)
@PROGRESS_OPTION
@JOBS_OPTION
def plan(
    source: Path,
    catalog: Path,
    network: Path,
    patterns: tuple[str, ...],
    form: str,
    dialects: tuple[str, ...],
    allow_unknown_rollback: bool,
    out: Path,
    progress: bool | None,
    jobs: int,
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

    \b
    Examples:
      rtbfast plan changes.parquet --catalog out/erbs --network export.xml -o plan/
      rtbfast plan mobility.json --targets 'NODE1_*' --catalog out/erbs --network export.xml -o plan/

    Exits 1 when the changes cannot be planned (each problem is listed with the ChangeSet
    row it comes from), 2 when an input cannot be read.
    """
    from rtbfast.enm.plan import PlanError
    from rtbfast.enm.planning import ExpansionFailed, plan_changes, write_plan_folder

    show = sys.stderr.isatty() if progress is None else progress
    with contextlib.ExitStack() as stack:
        _, on_phase = _reporters(stack, show)
        try:
            planned = plan_changes(
                source,
                catalog,
                network,
                patterns,
                threads=jobs,
                allow_unknown_rollback=allow_unknown_rollback,
                on_phase=on_phase,
            )
            report = write_plan_folder(planned, out, form=form, dialects=dialects or None, on_phase=on_phase)
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
    click.echo(
        f"{c['steps']} step(s) on {c['mos']} MO(s) of {c['nodes']} node(s): {c['create']} create, {c['set']} set, "
        f"{c['delete']} delete, {c['lock']} lock; {c['dropped_as_already_true']} write(s) already true; "
        f"{report['commands']} command(s), rollback {report['rollback_commands']}; wrote {out}",
        err=True,
    )


@click.command()
@click.argument("script_path", metavar="SCRIPT", type=click.Path(path_type=Path))
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
    help="Undo exactly the commands of the last run of SCRIPT that were applied (computed from --network); "
    "a run is rolled back once.",
)
@click.option(
    "--uncertain",
    type=click.Choice(["verify", "resend", "applied"]),
    default="verify",
    show_default=True,
    help="With --resume, a command sent without an answer: read it back, send it again, or count it as done.",
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
    progress: bool | None,
) -> None:
    """Run a cmedit SCRIPT command by command, recording each outcome in a journal.

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
    Examples:
      rtbfast apply plan/plan.cmedit --catalog out/erbs --network export.xml --save-network after.xml
      ENM_USERNAME=me rtbfast apply plan/plan.cmedit --backend enm --url https://enm.example.com
      rtbfast apply plan/plan.cmedit --backend enm --url https://enm.example.com --resume
      rtbfast apply plan/plan.cmedit --backend enm --url … --rollback --catalog out/erbs --network export.xml

    Exits 0 when every command is applied, 1 when a command fails (or its outcome is not
    known), 2 when an input cannot be read or the run cannot go on as asked.
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


def _same_file(a: Path, b: Path) -> bool:
    """`a` and `b` are one file: the same path, or one file through a symlink or a hard link."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


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
    progress: bool | None,
) -> None:
    from rtbfast.enm.executor import (
        Backend,
        EnmBackend,
        ExecutionError,
        SimulatorBackend,
        check_rollback,
        intent,
        replay_applied,
        rollback_script,
        run_script,
        stored_script,
    )
    from rtbfast.enm.journal import Journal
    from rtbfast.enm.script import NodeNames, Script, read_script

    script = read_script(script_path)
    if not script.lines:
        raise ExecutionError(f"{script_path}: no commands to run")
    simulate = dry_run or backend_name == "simulator"
    if (simulate or (rollback and not resume)) and (catalog is None or network is None):
        need = "--rollback" if rollback and not simulate else "the simulator"
        raise ExecutionError(f"{need} needs --catalog and --network (the network as it was before the run)")
    if save_network is not None and not simulate:
        raise ExecutionError(
            "--save-network writes the simulator's network: use it with --backend simulator or --dry-run"
        )
    if not simulate and not url:
        raise ExecutionError("--backend enm needs --url (ENM's address)")
    if journal_path is None:
        # the simulator's runs and ENM's are journaled apart: a rehearsal never blocks the real run
        default = ".simulator.journal.sqlite" if simulate else ".journal.sqlite"
        journal_path = script_path.with_name(script_path.name + default)
    elif dry_run:
        journal_path = journal_path.with_name(journal_path.name.replace(".sqlite", "") + ".dry-run.sqlite")
    if save_network is not None:
        for option, path in (
            ("--network", network),
            ("the script", script_path),
            ("the journal", journal_path),
            ("--catalog", catalog),
        ):
            if path is not None and _same_file(save_network, path):
                raise ExecutionError(
                    f"--save-network {save_network} is {option} ({path}): it would be overwritten; "
                    "write the network after to another file"
                )
        from rtbfast.output_folder import output_file_target

        # a folder, a link leading nowhere: refused before the run, not after it
        output_file_target(save_network, [p for p in (script_path, catalog, network, journal_path) if p is not None])

    with contextlib.ExitStack() as stack:
        # one writer: the journal's lock is taken before anything is read from it, the network
        # read or a command sent, and held until apply is done (the OS releases it if it dies)
        journal = stack.enter_context(Journal(journal_path, command=shlex.join(["rtbfast", *sys.argv[1:]])))
        # where this run goes (ENM's address as EnmClient keeps it): a run is resumed and rolled back where it ran
        where = (
            (SimulatorBackend.name, SimulatorBackend.target) if simulate else (EnmBackend.name, (url or "").rstrip("/"))
        )
        what = intent(journal, script, where, resume=resume, rollback=rollback)
        undo: Script | None = None
        if what.kind == "rollback" and what.rollback is not None:
            undo = stored_script(journal, what.rollback)  # the commands the rollback started with
        if what.kind == "rollback" and undo is None and (catalog is None or network is None):
            assert what.run is not None
            raise ExecutionError(
                f"resuming the rollback of run {what.run.id} needs --catalog and --network "
                f"(the network as it was before run {what.run.id})"
            )
        tables = None
        cat = None
        index = None
        if catalog is not None and network is not None:
            from rtbfast.enm.model import EnmCatalog
            from rtbfast.network_index import NetworkIndex, read_network_tables

            tables = read_network_tables(network)
            index = NetworkIndex(tables)
            cat = EnmCatalog.load(catalog)
        names = NodeNames(index) if index is not None else None
        backend: Backend
        simulator = None
        if simulate:
            from rtbfast.enm.simulator import Simulator

            assert tables is not None and cat is not None
            simulator = Simulator(tables, cat)
            backend = SimulatorBackend(simulator)
        else:
            from rtbfast.enm.enm_client import Credentials, EnmClient

            assert url is not None
            client = EnmClient(
                url,
                Credentials.from_environment(prompt=sys.stdin.isatty()),
                verify_tls=not insecure,
                ca_file=str(ca_file) if ca_file else None,
                command_timeout=timeout,
            )
            backend = EnmBackend(client)
        stack.callback(backend.close)

        def fdn_of(line: Any) -> str | None:
            return (
                names.fdn_of(line.command.words)
                if names is not None
                else (line.command.words[0] if "=" in line.command.words[0] else None)
            )

        show = sys.stderr.isatty() if progress is None else progress
        bar: Any = None

        def on_progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(click.progressbar(length=total, label="applying", file=sys.stderr))
            bar.update(done - bar.pos)

        resend_uncertain = {"verify": None, "resend": True, "applied": False}[uncertain]
        ran = script
        unchecked = False
        if what.kind == "rollback":
            undone_run = what.run
            assert undone_run is not None
            if simulate:
                replay_applied(script, backend, journal, undone_run.id)
            if what.rollback is None:
                assert index is not None and cat is not None
                undo, undone = rollback_script(
                    script, journal, undone_run.id, index, cat, allow_unknown=allow_unknown_rollback
                )
                click.echo(
                    f"rolling back {undone} applied command(s) of run {undone_run.id} with {len(undo.lines)} "
                    "command(s)",
                    err=True,
                )
            else:
                if undo is None:  # recorded before a rollback's commands were kept: computed again, checked
                    assert index is not None and cat is not None
                    undo, _ = rollback_script(
                        script, journal, undone_run.id, index, cat, allow_unknown=allow_unknown_rollback
                    )
                click.echo(
                    f"resuming the rollback of run {undone_run.id}: run {what.rollback.id} stopped after "
                    f"{journal.applied(what.rollback.id)} of {len(undo.lines)} command(s)",
                    err=True,
                )
            ran = undo
            outcome = run_script(
                undo,
                backend,
                journal,
                resume=what.resume,
                resend_uncertain=resend_uncertain,
                fdn_of=fdn_of,
                on_progress=on_progress if show else None,
                kind="rollback",
                undoes=undone_run.id,
            )
            if outcome.ok:
                journal.finish_run(undone_run.id, "rolled_back")
        else:
            if not resume and index is not None and cat is not None:
                # whatever part of the script gets applied can be undone: its rollback is
                # computed and written once before the first command goes out
                check_rollback(script, index, cat, allow_unknown=allow_unknown_rollback)
            unchecked = not resume and index is None
            outcome = run_script(
                script,
                backend,
                journal,
                resume=resume,
                resend_uncertain=resend_uncertain,
                fdn_of=fdn_of,
                on_progress=on_progress if show else None,
            )
        if bar is not None:
            bar.render_finish()
        if what.kind != "rollback" and unchecked and outcome.sent:
            click.echo(
                "note: without --catalog and --network the rollback of this script was not checked before the run "
                "(give them to be sure every change can be undone)",
                err=True,
            )
        done = f"{outcome.sent} sent, {outcome.skipped} applied before, {outcome.verified} found applied"
        if not outcome.ok:
            assert outcome.failed is not None
            answer = " / ".join(line for line in outcome.answer if line.strip()) or "no answer"
            go_on = "--resume (it goes on with the rollback)" if what.kind == "rollback" else "--resume"
            if outcome.uncertain:
                click.echo(
                    f"error: {outcome.failed_where(ran.path)}: "
                    f"no answer ({answer}); its outcome is not known. Resume with {go_on} (it is read back first). "
                    f"{done}; journal {journal_path}",
                    err=True,
                )
            elif what.kind == "rollback":
                click.echo(
                    f"error: {outcome.failed_where(ran.path)}: {answer}. "
                    f"{outcome.applied} of {outcome.total} rollback command(s) applied ({done}); "
                    f"journal {journal_path}. Fix and go on with {go_on}",
                    err=True,
                )
            else:
                click.echo(
                    f"error: {outcome.failed_where(ran.path)}: {answer}. "
                    f"{outcome.applied} of {outcome.total} command(s) applied ({done}); journal {journal_path}. "
                    "Fix and --resume, or undo them with --rollback",
                    err=True,
                )
            sys.exit(1)
        if simulator is not None and save_network is not None:
            from rtbfast.network_writer import write_network_xml

            write_network_xml(
                simulator.tables(),
                save_network,
                inputs=[p for p in (script_path, catalog, network, journal_path) if p is not None],
            )
            click.echo(f"wrote {save_network}", err=True)
        verb = "rolled back" if what.kind == "rollback" else "applied"
        click.echo(
            f"{verb}: {outcome.applied} of {outcome.total} command(s) ({done}) on {backend.target}; "
            f"journal {journal_path}",
            err=True,
        )
