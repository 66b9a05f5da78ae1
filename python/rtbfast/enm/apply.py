"""``rtbfast apply`` as an API: a cmedit script run on the offline simulator or on ENM, command
by command, through a journal; or an import file (``plan.dynamic.txt``, ``plan.3gpp.xml``) run
as one ENM import job (:mod:`rtbfast.enm.imports`); resumed after a stop, rolled back once. The
CLI (and any other front) builds an :class:`ApplyRequest`, calls :func:`apply_script` and shows
the :class:`ApplyResult`.

Which route runs is told by the file (:func:`rtbfast.enm.imports.file_route`): an XML file is a
3GPP import file, a file whose first line is ``create``, ``set`` or ``delete`` a dynamic import
file, anything else a cmedit script. On the import route, steps 1 and 5 below are the file's
operations read and checked, and the job uploaded, followed to its end and each operation's
outcome journaled; the journal, its lock, :func:`rtbfast.enm.executor.intent` and the rules of
resume and rollback are the same.

What happens, in order:

1. the script is read and every line checked (:func:`rtbfast.enm.script.read_script`);
2. the request is checked as a whole (a simulator needs the catalog and the network; ENM needs
   its address; ``save_network`` is never one of the inputs);
3. the journal is opened, which takes its lock for the whole run (one writer per journal), and
   :func:`rtbfast.enm.executor.intent` decides what goes on: a new run, the run that stopped, a
   rollback, or the rollback that stopped;
4. for a new run with a catalog and a network, the rollback of the whole script is computed
   and written before the first command goes out (:func:`rtbfast.enm.executor.check_rollback`);
5. the commands are sent, each journaled before the next; the run stops at the first refusal.

A refused command is not an exception: the result says which, with ENM's answer. A request
that cannot run as asked raises :class:`rtbfast.enm.executor.ExecutionError` (or the error of
the input that cannot be read).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rtbfast.enm.executor import (
    Backend,
    EnmBackend,
    ExecutionError,
    Outcome,
    SerializedBackend,
    SimulatorBackend,
    Transcribed,
    check_rollback,
    intent,
    replay_applied,
    rollback_script,
    run_script,
    stored_script,
)
from rtbfast.enm.journal import Journal
from rtbfast.enm.script import NodeNames, Script, ScriptLine, read_script

if TYPE_CHECKING:
    import pyarrow as pa

    from rtbfast.catalog_view import CatalogView
    from rtbfast.enm.enm_client import Credentials
    from rtbfast.enm.imports import JobOutcome
    from rtbfast.enm.simulator import Simulator
    from rtbfast.network_index import NetworkIndex

Note = Callable[[str], None]
"""Told what the run does as it goes (``rolling back 3 applied command(s) of run 1 …``)."""
Progress = Callable[[int, int], None]
"""Told the commands (on the import route: the operations) done so far and the total."""

UNCERTAIN = {"verify": None, "resend": True, "applied": False}
"""How a command sent without an answer is settled on resume: read back, sent again, counted done.
An import file's upload without an answer: ``resend`` uploads it again (or ``ApplyRequest.job``
follows the job the operator found)."""
MAX_SESSIONS = 16
"""ENM sessions one apply opens at the most."""
ERROR_POLICIES = ("stop", "node", "operation")
"""ENM's execution policies of an import job (``--error``): see :data:`rtbfast.enm.imports.POLICIES`."""


@dataclass
class ApplyRequest:
    """What to run, where, and how."""

    script: Path
    """A cmedit script, or an import file (dynamic or 3GPP), told apart by its content."""
    backend: str = "simulator"
    """``simulator`` (offline) or ``enm``."""
    catalog: Path | None = None
    network: Path | None = None
    """The network as it was before the run (the simulator starts from it; rollbacks are
    computed from it)."""
    journal: Path | None = None
    """Default: ``SCRIPT.journal.sqlite`` on ENM, ``SCRIPT.simulator.journal.sqlite`` on the
    simulator; with `dry_run`, a given journal becomes ``JOURNAL.dry-run.sqlite``."""
    resume: bool = False
    rollback: bool = False
    uncertain: str = "verify"
    """With `resume`, a command sent without an answer: ``verify`` (read it back), ``resend``
    or ``applied`` (count it as done)."""
    dry_run: bool = False
    """Run on the simulator whatever `backend` says."""
    allow_unknown_rollback: bool = False
    save_network: Path | None = None
    """Simulator: where to write the network after the run (Bulk CM XML)."""
    url: str | None = None
    credentials: Credentials | None = None
    """ENM's credentials; default: ``ENM_USERNAME``/``ENM_PASSWORD`` (or a prompt, with
    `prompt`)."""
    ca_file: Path | None = None
    insecure: bool = False
    timeout: float = 600.0
    """Seconds ENM has per command."""
    sessions: int = 1
    """ENM sessions sending at once, each the commands of other nodes (a node's commands keep
    their order; the first refusal stops new sends on all)."""
    prompt: bool = False
    """Ask for missing credentials on the terminal."""
    command: str | None = None
    """What the journal's lock says holds it (default: this process's command line)."""
    error_policy: str = "stop"
    """An import job's execution policy (``--error``): ``stop`` the job at the first failure,
    skip the rest of that ``node``, or go on with the next ``operation``."""
    poll_interval: float = 5.0
    """Seconds between two reads of an import job's status."""
    job_timeout: float = 7200.0
    """Seconds an import job is followed before the run stops (the job goes on in ENM; --resume
    follows it again)."""
    job: int | None = None
    """With `resume`: the ENM import job to follow for an upload whose answer never came (the
    operator found it with ``cmedit import --status``)."""
    simulator_job_seconds: float = 0.0
    """Simulator: how long its import jobs answer ``IN PROGRESS`` before their outcome (to
    rehearse polling, a kill and a resume)."""
    transcript: Path | None = None
    """Append every command sent (and each upload), with ENM's answer, to this file."""

    @property
    def simulated(self) -> bool:
        return self.dry_run or self.backend == "simulator"

    def journal_path(self) -> Path:
        if self.journal is None:
            # the simulator's runs and ENM's are journaled apart: a rehearsal never blocks the real run
            default = ".simulator.journal.sqlite" if self.simulated else ".journal.sqlite"
            return self.script.with_name(self.script.name + default)
        if self.dry_run:
            return self.journal.with_name(self.journal.name.replace(".sqlite", "") + ".dry-run.sqlite")
        return self.journal


@dataclass
class ApplyResult:
    """What a run did."""

    kind: str
    """``apply`` or ``rollback``."""
    outcome: Outcome
    journal: Path
    ran: Path
    """The script that ran (a rollback's is ``SCRIPT#rollback-of-run-N``)."""
    target: str
    """Where the commands went (``offline simulator`` or ENM's address)."""
    notes: list[str] = field(default_factory=list)
    saved_network: Path | None = None
    job: JobOutcome | None = None
    """The import job (the import route), whose operations' outcomes are in the journal;
    `outcome` then counts no command."""

    @property
    def ok(self) -> bool:
        return self.job.ok if self.job is not None else self.outcome.ok

    def counts(self) -> str:
        if self.job is not None:
            return self.job.counts()
        o = self.outcome
        return f"{o.sent} sent, {o.skipped} applied before, {o.verified} found applied"

    def error(self) -> str | None:
        """The one line that says why the run stopped, what was done, and what to do next;
        None when it did not stop."""
        if self.job is not None:
            return None if self.job.ok else self._job_error(self.job)
        o = self.outcome
        if o.ok:
            return None
        answer = " / ".join(line for line in o.answer if line.strip()) or "no answer"
        go_on = "--resume (it goes on with the rollback)" if self.kind == "rollback" else "--resume"
        where = o.failed_where(self.ran)
        if o.uncertain:
            return (
                f"{where}: no answer ({answer}); its outcome is not known. Resume with {go_on} (it is read back "
                f"first). {self.counts()}; journal {self.journal}"
            )
        if self.kind == "rollback":
            return (
                f"{where}: {answer}. {o.applied} of {o.total} rollback command(s) applied ({self.counts()}); "
                f"journal {self.journal}. Fix and go on with {go_on}"
            )
        return (
            f"{where}: {answer}. {o.applied} of {o.total} command(s) applied ({self.counts()}); journal "
            f"{self.journal}. Fix and --resume, or undo them with --rollback"
        )

    def _job_error(self, j: JobOutcome) -> str:
        go_on = "--resume (it goes on with the rollback)" if self.kind == "rollback" else "--resume"
        answer = " / ".join(line for line in j.answer if line.strip()) or "no answer"
        where = f"{self.ran}"
        if j.uncertain:
            from rtbfast.enm.imports import uncertain_upload_message

            return f"{answer}: " + uncertain_upload_message(self.journal, j.run, str(j.file), j.name, j.sent or "?")
        if j.refused:
            return (
                f"{where}: ENM started no import job: {answer}. Nothing was applied; fix it and {go_on} (it is "
                f"uploaded again); journal {self.journal}"
            )
        if j.unfinished:
            return (
                f"{where}: job {j.job_id} has not been seen to end ({answer}): it goes on in ENM; {go_on} follows "
                f"it again (it is not uploaded again). {j.counts()}; journal {self.journal}"
            )
        first = j.first_failure
        at = ""
        if first is not None:
            line = f":{first.line}" if first.line is not None else ""
            at = f"{line}: {first.operation} {first.fdn}: {first.message or first.state or 'failed'}"
        what = "rollback operation(s)" if self.kind == "rollback" else "operation(s)"
        then = (
            "see the operations that did not apply with `rtbfast journal`"
            if self.kind == "rollback"
            else "undo what it applied with --rollback (`rtbfast journal` lists the operations that did not apply)"
        )
        return (
            f"{where}{at} (job {j.job_id}: {j.status or '?'}: {j.detail or '?'}): {j.applied} of {j.total} {what} "
            f"applied ({j.counts()}); journal {self.journal}. {then[0].upper()}{then[1:]}"
        )

    def summary(self) -> str:
        """One line saying what was done, where, and the journal."""
        verb = "rolled back" if self.kind == "rollback" else "applied"
        if self.job is not None:
            j = self.job
            job = f"job {j.job_id} ({j.filetype}, --error {j.policy})" if j.job_id is not None else "no job"
            return (
                f"{verb}: {j.applied} of {j.total} operation(s) ({j.counts()}) as {job} on {self.target}; "
                f"journal {self.journal}"
            )
        o = self.outcome
        return f"{verb}: {o.applied} of {o.total} command(s) ({self.counts()}) on {self.target}; journal {self.journal}"


def _same_file(a: Path, b: Path) -> bool:
    """`a` and `b` are one file: the same path, or one file through a symlink or a hard link."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


def _check(request: ApplyRequest, journal_path: Path, route: str = "cmedit") -> None:
    """The request as a whole, before anything is opened or sent. (On the import route a
    rollback needs --catalog and --network only when it is computed, which is known later.)"""
    simulate = request.simulated
    rollback_needs = request.rollback and not request.resume and route == "cmedit"
    if (simulate or rollback_needs) and (request.catalog is None or request.network is None):
        need = "--rollback" if request.rollback and not simulate else "the simulator"
        raise ExecutionError(f"{need} needs --catalog and --network (the network as it was before the run)")
    if request.job is not None and (route == "cmedit" or not request.resume):
        raise ExecutionError(
            "--job follows the import job of an upload that got no answer: with --resume, for an import file"
        )
    if route != "cmedit" and request.uncertain == "applied":
        raise ExecutionError(
            "--uncertain applied is for a command: an import job's outcome is read from ENM (--job ID follows "
            "the job of an upload whose answer never came)"
        )
    if request.job is not None and request.uncertain != "verify":
        raise ExecutionError("give --job ID (follow that job) or --uncertain resend (upload again), not both")
    if request.error_policy not in ERROR_POLICIES:
        raise ExecutionError(f"--error {request.error_policy}: one of {', '.join(ERROR_POLICIES)}")
    if request.poll_interval < 0 or request.job_timeout < 0 or request.simulator_job_seconds < 0:
        raise ExecutionError("--poll-interval, --job-timeout and --simulator-job-seconds are seconds, not below 0")
    if request.save_network is not None and not simulate:
        raise ExecutionError(
            "--save-network writes the simulator's network: use it with --backend simulator or --dry-run"
        )
    if not simulate and not request.url:
        raise ExecutionError("--backend enm needs --url (ENM's address)")
    save = request.save_network
    if save is not None:
        for option, path in (
            ("--network", request.network),
            ("the script", request.script),
            ("the journal", journal_path),
            ("--catalog", request.catalog),
            ("--transcript", request.transcript),
        ):
            if path is not None and _same_file(save, path):
                raise ExecutionError(
                    f"--save-network {save} is {option} ({path}): it would be overwritten; "
                    "write the network after to another file"
                )
        from rtbfast.output_folder import output_file_target

        # a folder, a link leading nowhere: refused before the run, not after it
        output_file_target(save, _inputs(request, journal_path))


def _inputs(request: ApplyRequest, journal_path: Path) -> list[Path]:
    return [p for p in (request.script, request.catalog, request.network, journal_path) if p is not None]


def _where(request: ApplyRequest) -> tuple[str, str]:
    """Where this run goes (a backend's name and target, ENM's address as EnmClient keeps it):
    a run is resumed and rolled back where it ran."""
    if request.simulated:
        return SimulatorBackend.name, SimulatorBackend.target
    return EnmBackend.name, (request.url or "").rstrip("/")


def _backend(
    request: ApplyRequest, tables: dict[str, pa.Table] | None, catalog: CatalogView | None, *, sessions: bool = True
) -> tuple[Backend, list[Backend], Simulator | None]:
    """The backend `request` asks for (the simulator starts from `tables`), the more sessions it
    asks for (`request.sessions`; none when `sessions` is False: an import job is one upload),
    each written to the transcript when one is asked for."""
    backend: Backend
    more: list[Backend] = []
    simulator = None
    count = request.sessions if sessions else 1
    if request.simulated:
        from rtbfast.enm.simulator import Simulator

        assert tables is not None and catalog is not None
        simulator = Simulator(tables, catalog)
        simulator.import_job_seconds = request.simulator_job_seconds
        backend = SimulatorBackend(simulator)
        if count > 1:
            # one simulated network: the sessions take turns on it
            turns = threading.Lock()
            inner = backend
            backend = SerializedBackend(inner, turns)
            more = [SerializedBackend(inner, turns) for _ in range(count - 1)]
    else:
        from rtbfast.enm.enm_client import Credentials, EnmClient

        assert request.url is not None
        credentials = request.credentials or Credentials.from_environment(prompt=request.prompt)

        def session() -> EnmBackend:
            assert request.url is not None
            return EnmBackend(
                EnmClient(
                    request.url,
                    credentials,
                    verify_tls=not request.insecure,
                    ca_file=str(request.ca_file) if request.ca_file else None,
                    command_timeout=request.timeout,
                )
            )

        backend = session()
        more = [session() for _ in range(count - 1)]
    if request.transcript is not None:
        backend = Transcribed(backend, request.transcript)
        more = [Transcribed(b, request.transcript) for b in more]
    return backend, more, simulator


def _network(request: ApplyRequest) -> tuple[dict[str, pa.Table] | None, NetworkIndex | None, CatalogView | None]:
    """The network (as it was before the run) and the catalog, when both are given."""
    if request.catalog is None or request.network is None:
        return None, None, None
    from rtbfast.catalog_view import CatalogView
    from rtbfast.network_index import NetworkIndex, read_network_tables

    tables = read_network_tables(request.network)
    return tables, NetworkIndex(tables), CatalogView.load(request.catalog)


def apply_script(
    request: ApplyRequest, *, on_note: Note | None = None, on_progress: Progress | None = None
) -> ApplyResult:
    """Run `request` (see the module); the result says what was done."""
    if request.uncertain not in UNCERTAIN:
        raise ExecutionError(f"uncertain={request.uncertain!r}: one of {', '.join(UNCERTAIN)}")
    if not 1 <= request.sessions <= MAX_SESSIONS:
        raise ExecutionError(f"sessions={request.sessions}: from 1 to {MAX_SESSIONS}")
    say = on_note or (lambda _: None)
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        say(text)

    from rtbfast.enm.imports import file_route

    route = file_route(request.script)
    if route != "cmedit":
        return _apply_import(request, route, note, on_progress, notes)
    script = read_script(request.script)
    if not script.lines:
        raise ExecutionError(f"{request.script}: no commands to run")
    journal_path = request.journal_path()
    _check(request, journal_path)
    simulate = request.simulated
    with contextlib.ExitStack() as stack:
        # one writer: the journal's lock is taken before anything is read from it, the network
        # read or a command sent, and held until apply is done (the OS releases it if it dies)
        journal = stack.enter_context(Journal(journal_path, command=request.command))
        where = _where(request)
        what = intent(journal, script, where, resume=request.resume, rollback=request.rollback)
        undo: Script | None = None
        if what.kind == "rollback" and what.rollback is not None:
            undo = stored_script(journal, what.rollback)  # the commands the rollback started with
        if what.kind == "rollback" and undo is None and (request.catalog is None or request.network is None):
            assert what.run is not None
            raise ExecutionError(
                f"resuming the rollback of run {what.run.id} needs --catalog and --network "
                f"(the network as it was before run {what.run.id})"
            )
        tables, index, cat = _network(request)
        names = NodeNames(index) if index is not None else None
        backend, sessions, simulator = _backend(request, tables, cat)
        stack.callback(backend.close)
        for extra in sessions:
            stack.callback(extra.close)

        def fdn_of(line: ScriptLine) -> str | None:
            if names is not None:
                return names.fdn_of(line.command.words)
            return line.command.words[0] if "=" in line.command.words[0] else None

        resend_uncertain = UNCERTAIN[request.uncertain]
        ran = script
        if what.kind == "rollback":
            undone_run = what.run
            assert undone_run is not None
            if simulate:
                replay_applied(script, backend, journal, undone_run.id)
            if what.rollback is None:
                assert index is not None and cat is not None
                undo, undone = rollback_script(
                    script, journal, undone_run.id, index, cat, allow_unknown=request.allow_unknown_rollback
                )
                note(
                    f"rolling back {undone} applied command(s) of run {undone_run.id} with {len(undo.lines)} command(s)"
                )
            else:
                if undo is None:  # recorded before a rollback's commands were kept: computed again, checked
                    assert index is not None and cat is not None
                    undo, _ = rollback_script(
                        script, journal, undone_run.id, index, cat, allow_unknown=request.allow_unknown_rollback
                    )
                note(
                    f"resuming the rollback of run {undone_run.id}: run {what.rollback.id} stopped after "
                    f"{journal.applied(what.rollback.id)} of {len(undo.lines)} command(s)"
                )
            ran = undo
            outcome = run_script(
                undo,
                backend,
                journal,
                resume=what.resume,
                resend_uncertain=resend_uncertain,
                fdn_of=fdn_of,
                on_progress=on_progress,
                kind="rollback",
                undoes=undone_run.id,
                sessions=sessions,
            )
            if outcome.ok:
                journal.finish_run(undone_run.id, "rolled_back")
        else:
            if not request.resume and index is not None and cat is not None:
                # whatever part of the script gets applied can be undone: its rollback is
                # computed and written once before the first command goes out
                check_rollback(script, index, cat, allow_unknown=request.allow_unknown_rollback)
            outcome = run_script(
                script,
                backend,
                journal,
                resume=request.resume,
                resend_uncertain=resend_uncertain,
                fdn_of=fdn_of,
                on_progress=on_progress,
                sessions=sessions,
            )
            if not request.resume and index is None and outcome.sent:
                note(
                    "note: without --catalog and --network the rollback of this script was not checked before the "
                    "run (give them to be sure every change can be undone)"
                )
        result = ApplyResult(what.kind, outcome, journal_path, ran.path, backend.target, notes)
        if outcome.ok and simulator is not None and request.save_network is not None:
            from rtbfast.network_writer import write_network_xml

            result.saved_network = write_network_xml(
                simulator.tables(), request.save_network, inputs=_inputs(request, journal_path)
            )
    return result


def _apply_import(
    request: ApplyRequest, route: str, note: Note, on_progress: Progress | None, notes: list[str]
) -> ApplyResult:
    """The import route: `request.script` is an import file (`route`: ``dynamic`` or
    ``3gpp``), run as one import job (:func:`rtbfast.enm.imports.run_import`); its rollback as
    a job of its own."""
    from rtbfast.enm import imports

    ifile = imports.read_import_file(request.script, route)
    journal_path = request.journal_path()
    _check(request, journal_path, route)
    simulate = request.simulated
    with contextlib.ExitStack() as stack:
        journal = stack.enter_context(Journal(journal_path, command=request.command))
        what = intent(journal, ifile.script(), _where(request), resume=request.resume, rollback=request.rollback)
        tables, index, cat = _network(request)
        backend, _, simulator = _backend(request, tables, cat, sessions=False)
        stack.callback(backend.close)

        def follow(
            f: imports.ImportFile, *, resume: bool = False, kind: str = "apply", undoes: int | None = None
        ) -> JobOutcome:
            return imports.run_import(
                f,
                backend,
                journal,
                resume=resume,
                kind=kind,
                undoes=undoes,
                policy=request.error_policy,
                resend_uncertain=UNCERTAIN[request.uncertain],
                attach_job=request.job,
                poll_interval=request.poll_interval,
                timeout=request.job_timeout,
                on_note=note,
                on_progress=on_progress,
            )

        ran = ifile.path
        if what.kind == "rollback":
            undone = what.run
            assert undone is not None
            if simulate:
                imports.replay_job(backend, journal, undone.id)  # the simulator as the run left it
            if what.rollback is None:
                undo, count, how = imports.rollback_file(
                    journal, undone, network=index, catalog=cat, allow_unknown=request.allow_unknown_rollback
                )
                if undo is None:
                    # nothing applied: nothing to upload, the run is rolled back all the same
                    run = journal.start_run(
                        "rollback", f"{ifile.path}#rollback-of-run-{undone.id}", "", backend.name, backend.target,
                        undone.id, text="",
                    )  # fmt: skip
                    journal.finish_run(run, "done")
                    note(f"rolling back run {undone.id}: {how}, so there is nothing to undo")
                    job = imports.JobOutcome(run, ifile.path, ifile.name, ifile.filetype, request.error_policy, 0)
                else:
                    note(
                        f"rolling back the {count} applied operation(s) of run {undone.id} with {how}: "
                        f"{len(undo.operations)} operation(s)"
                    )
                    job = follow(undo, kind="rollback", undoes=undone.id)
                    ran = undo.path
            else:
                rollback = what.rollback
                name = imports.upload_name(rollback.script, ifile.filetype)
                undo = imports.journaled_file(journal, rollback, filetype=ifile.filetype, name=name)
                note(
                    f"resuming the rollback of run {undone.id}: run {rollback.id} stopped after "
                    f"{journal.applied(rollback.id)} of {len(undo.operations)} operation(s) applied"
                )
                job = follow(undo, resume=True, kind="rollback", undoes=undone.id)
                ran = undo.path
            if job.ok:
                journal.finish_run(undone.id, "rolled_back")
        else:
            job = follow(ifile, resume=request.resume)
        if job.extra:
            note(
                f"ENM's verbose status of job {job.job_id} lists {len(job.extra)} operation(s) the file does not hold, "
                f"the first: {job.extra[0]}"
            )
        result = ApplyResult(what.kind, Outcome(job.run, 0), journal_path, ran, backend.target, notes, job=job)
        if job.ok and simulator is not None and request.save_network is not None:
            from rtbfast.network_writer import write_network_xml

            result.saved_network = write_network_xml(
                simulator.tables(), request.save_network, inputs=_inputs(request, journal_path)
            )
    return result
