"""``rtbfast apply`` as an API: a cmedit script run on the offline simulator or on ENM, command
by command, through a journal; resumed after a stop, rolled back once. The CLI (and any other
front) builds an :class:`ApplyRequest`, calls :func:`apply_script` and shows the
:class:`ApplyResult`.

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
    from rtbfast.enm.enm_client import Credentials

Note = Callable[[str], None]
"""Told what the run does as it goes (``rolling back 3 applied command(s) of run 1 …``)."""
Progress = Callable[[int, int], None]
"""Told the commands done so far and the total."""

UNCERTAIN = {"verify": None, "resend": True, "applied": False}
MAX_SESSIONS = 16
"""ENM sessions one apply opens at the most."""
"""How a command sent without an answer is settled on resume: read back, sent again, counted done."""


@dataclass
class ApplyRequest:
    """What to run, where, and how."""

    script: Path
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

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def counts(self) -> str:
        o = self.outcome
        return f"{o.sent} sent, {o.skipped} applied before, {o.verified} found applied"

    def error(self) -> str | None:
        """The one line that says why the run stopped, what was done, and what to do next;
        None when it did not stop."""
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

    def summary(self) -> str:
        """One line saying what was done, where, and the journal."""
        verb = "rolled back" if self.kind == "rollback" else "applied"
        o = self.outcome
        return f"{verb}: {o.applied} of {o.total} command(s) ({self.counts()}) on {self.target}; journal {self.journal}"


def _same_file(a: Path, b: Path) -> bool:
    """`a` and `b` are one file: the same path, or one file through a symlink or a hard link."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


def _check(request: ApplyRequest, journal_path: Path) -> None:
    """The request as a whole, before anything is opened or sent."""
    simulate = request.simulated
    if (simulate or (request.rollback and not request.resume)) and (request.catalog is None or request.network is None):
        need = "--rollback" if request.rollback and not simulate else "the simulator"
        raise ExecutionError(f"{need} needs --catalog and --network (the network as it was before the run)")
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
        # where this run goes (ENM's address as EnmClient keeps it): a run is resumed and rolled back where it ran
        where = (
            (SimulatorBackend.name, SimulatorBackend.target)
            if simulate
            else (EnmBackend.name, (request.url or "").rstrip("/"))
        )
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
        tables = cat = index = None
        if request.catalog is not None and request.network is not None:
            from rtbfast.enm.model import EnmCatalog
            from rtbfast.network_index import NetworkIndex, read_network_tables

            tables = read_network_tables(request.network)
            index = NetworkIndex(tables)
            cat = EnmCatalog.load(request.catalog)
        names = NodeNames(index) if index is not None else None
        backend: Backend
        sessions: list[Backend] = []
        simulator = None
        if simulate:
            from rtbfast.enm.simulator import Simulator

            assert tables is not None and cat is not None
            simulator = Simulator(tables, cat)
            backend = SimulatorBackend(simulator)
            if request.sessions > 1:
                # one simulated network: the sessions take turns on it
                turns = threading.Lock()
                inner = backend
                backend = SerializedBackend(inner, turns)
                sessions = [SerializedBackend(inner, turns) for _ in range(request.sessions - 1)]
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
            sessions = [session() for _ in range(request.sessions - 1)]
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
