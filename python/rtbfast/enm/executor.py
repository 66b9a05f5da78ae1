"""Run a cmedit script command by command against a backend, with a journal.

- Every command is recorded in the journal (:mod:`rtbfast.enm.journal`) as ``sending`` before
  it goes out and with its answer after; the run stops at the first command ENM refuses.
- ``resume`` goes on with the run of the same script (by content) that stopped: applied
  commands are not sent again; a command whose answer never came (the process was killed, or
  ENM did not answer in time) is first read back with ``cmedit get`` and is sent again only
  if it did not take effect. An ``action`` cannot be read back: the operator says what to do
  (``resend_uncertain``).
- :func:`rollback_script` undoes exactly the applied part of a run: the applied commands become
  Plan rows (:func:`rtbfast.enm.script.script_plan`), their rollback is computed from the
  network as it was before the run (:func:`rtbfast.enm.rollback.rollback_plan`) and run as a
  run of its own, journaled like any other, its commands kept in the journal when it starts.
  A run is rolled back once; a rollback that stopped is resumed with the commands it started
  with (:func:`stored_script`), never sending an applied one again.
- :func:`intent` decides, from the journal, what ``apply`` goes on with: a new run, the run
  that stopped, a rollback, or the rollback that stopped (which ``--resume`` resumes rather
  than the run it undoes).

Backends: :class:`SimulatorBackend` (the offline simulator; also what ``--dry-run`` uses) and
:class:`EnmBackend` (ENM's scripting service over HTTP, :mod:`rtbfast.enm.enm_client`); both
also upload an import file with its command (the import route, :mod:`rtbfast.enm.imports`).
:class:`Transcribed` writes what a backend is sent, and answers, to a file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from rtbfast.catalog_view import CatalogView
from rtbfast.enm import cmedit
from rtbfast.enm.enm_client import EnmClient, EnmError
from rtbfast.enm.journal import APPLIED_STATES, Journal, Run
from rtbfast.enm.script import Script, ScriptLine, script_plan
from rtbfast.enm.simulator import Response, Simulator
from rtbfast.errors import RtbfastError
from rtbfast.network_index import NetworkIndex

ERROR_LINE = re.compile(r"^\s*Error\s+\d+\s*:")
FAILED_LINE = re.compile(r"^\s*FAILED\s+FDN\s*:")
COUNT_LINE = re.compile(r"^\s*(\d+)\s+instance\(s\)(?:\s+(updated|deleted|found))?\s*$")


def judge(verb: str, lines: list[str]) -> tuple[bool, str]:
    """Whether ENM's answer to a ``verb`` command says it did what it was sent to do, and why
    not (``enm-cli.md`` §4.4, §6, §10): no ``Error NNNN :`` line, no ``FAILED FDN :`` line, and
    the last count line ``N instance(s) updated`` (``set``, ``create``, ``action``) or ``N
    instance(s) deleted`` (``delete``) with N ≥ 1; ``0 instance(s) updated`` and ``0
    instance(s) found`` did nothing. A ``get`` succeeds on any count."""
    for line in lines:
        if ERROR_LINE.match(line):
            return False, line.strip()
        if FAILED_LINE.match(line):
            return False, line.strip()
    counts = [m for m in (COUNT_LINE.match(line) for line in lines) if m]
    if verb == "get":
        return (True, "") if counts else (False, "no count line in the answer")
    if not counts:
        return False, "no 'N instance(s) …' line in the answer: ENM did not say it did it"
    n, what = int(counts[-1].group(1)), counts[-1].group(2)
    wanted = "deleted" if verb == "delete" else "updated"
    if n < 1 or what != wanted:
        return False, f"{counts[-1].group(0).strip()} (expected at least 1 instance(s) {wanted})"
    return True, ""


class ExecutionError(RtbfastError):
    """The run cannot start or go on as asked (nothing to resume, an unknown outcome to settle).
    The CLI exits with 2."""

    exit_code = 2


class Backend(Protocol):
    name: str
    target: str

    def send(self, command: str) -> Response: ...

    def upload(self, command: str, name: str, data: bytes) -> Response:
        """Send `command` (``cmedit import -f file:NAME …``) with the file `name` (`data`) attached."""
        ...

    def replay(self, command: str) -> None:
        """Bring the backend's state up to a command applied in an earlier process (a no-op
        where the state lives in the network itself)."""
        ...

    def replay_import(
        self, job_id: int, name: str, data: bytes, filetype: str, policy: str, uploaded: str
    ) -> list[str] | None:
        """Bring the backend up to an import job an earlier process uploaded (`uploaded`: when):
        the simulator runs the file again as that job and says what each operation came to
        (``applied``, ``failed``, ``not_applied``); None where the job lives in ENM itself."""
        ...

    def close(self) -> None: ...


def _verb(command: str) -> str:
    """The verb of a cmedit line (``get`` when it has none to judge by)."""
    words = command.split(None, 2)
    return words[1].lower() if len(words) > 1 and words[0] == "cmedit" else "get"


def _unfailed(lines: list[str]) -> bool:
    return not any(ERROR_LINE.match(line) for line in lines)


def _is_import(command: str) -> bool:
    return command.split(None, 2)[:2] == ["cmedit", "import"]


class SimulatorBackend:
    name = "simulator"
    target = "offline simulator"

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def send(self, command: str) -> Response:
        if _is_import(command):
            answer = self.simulator.execute_import(command)
            return Response(_unfailed(answer.lines), answer.lines)
        response = self.simulator.execute(command)
        # judged from its text, as ENM's answers are
        return Response(judge(_verb(command), response.lines)[0], response.lines)

    def upload(self, command: str, name: str, data: bytes) -> Response:
        answer = self.simulator.execute_import(command, (name, data))
        return Response(_unfailed(answer.lines), answer.lines)

    def replay_import(
        self, job_id: int, name: str, data: bytes, filetype: str, policy: str, uploaded: str
    ) -> list[str] | None:
        try:
            started = datetime.fromisoformat(uploaded).timestamp()
        except ValueError:
            started = None
        return self.simulator.run_import(name, data, filetype, policy, job_id=job_id, started=started).results

    def replay(self, command: str) -> None:
        response = self.simulator.execute(command)
        if not response.ok:
            raise ExecutionError(
                f"the journal says {command!r} was applied, but the simulator refuses it again: {response.text}; "
                "is --network the export the run started from?"
            )

    def close(self) -> None:
        pass


class SerializedBackend:
    """A backend shared by sessions, one command at a time (the simulator's state is one)."""

    def __init__(self, backend: Backend, lock: Any) -> None:
        self.backend = backend
        self.lock = lock
        self.name = backend.name
        self.target = backend.target

    def send(self, command: str) -> Response:
        with self.lock:
            return self.backend.send(command)

    def upload(self, command: str, name: str, data: bytes) -> Response:
        with self.lock:
            return self.backend.upload(command, name, data)

    def replay(self, command: str) -> None:
        with self.lock:
            self.backend.replay(command)

    def replay_import(
        self, job_id: int, name: str, data: bytes, filetype: str, policy: str, uploaded: str
    ) -> list[str] | None:
        with self.lock:
            return self.backend.replay_import(job_id, name, data, filetype, policy, uploaded)

    def close(self) -> None:
        pass


class EnmBackend:
    name = "enm"

    def __init__(self, client: EnmClient) -> None:
        self.client = client
        self.target = client.url

    def send(self, command: str) -> Response:
        lines = self.client.execute(command).lines
        if _is_import(command):
            return Response(_unfailed(lines), lines)
        return Response(judge(_verb(command), lines)[0], lines)

    def upload(self, command: str, name: str, data: bytes) -> Response:
        lines = self.client.execute(command, file=(name, data)).lines
        return Response(_unfailed(lines), lines)

    def replay(self, command: str) -> None:
        pass

    def replay_import(
        self, job_id: int, name: str, data: bytes, filetype: str, policy: str, uploaded: str
    ) -> list[str] | None:
        return None  # the job lives in ENM

    def close(self) -> None:
        try:
            self.client.logout()
        finally:
            self.client.close()


class Transcribed:
    """A backend whose every exchange is appended to a file, as it happens: ``> command`` (and
    ``> [file NAME: N bytes, sha256 …]`` for an upload) written before it is sent, ``< line``
    for each line of the answer, ``! error`` when none came. Replays are not written (nothing
    is sent)."""

    def __init__(self, backend: Backend, path: Path) -> None:
        self.backend = backend
        self.name = backend.name
        self.target = backend.target
        self.path = path
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise ExecutionError(f"{path}: cannot write the transcript: {err.strerror or err}") from err

    def _write(self, lines: list[str]) -> None:
        os.write(self.fd, "".join(f"{line}\n" for line in lines).encode("utf-8"))

    def _exchange(self, sent: list[str], call: Callable[[], Response]) -> Response:
        self._write(sent)
        try:
            answer = call()
        except Exception as err:
            self._write([f"! {err}"])
            raise
        self._write([f"< {line}" for line in answer.lines])
        return answer

    def send(self, command: str) -> Response:
        return self._exchange([f"> {command}"], lambda: self.backend.send(command))

    def upload(self, command: str, name: str, data: bytes) -> Response:
        sha = hashlib.sha256(data).hexdigest()
        return self._exchange(
            [f"> {command}", f"> [file {name}: {len(data)} bytes, sha256 {sha}]"],
            lambda: self.backend.upload(command, name, data),
        )

    def replay(self, command: str) -> None:
        self.backend.replay(command)

    def replay_import(
        self, job_id: int, name: str, data: bytes, filetype: str, policy: str, uploaded: str
    ) -> list[str] | None:
        return self.backend.replay_import(job_id, name, data, filetype, policy, uploaded)

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            os.close(self.fd)


# -- reading a command's effect back ------------------------------------------------------------


def _loose(text: str) -> str:
    """A value's text with spaces and quotes left out, ``()`` read as ``{}`` and case folded:
    how a value set is compared with what ``cmedit get`` prints."""
    return re.sub(r'[\s"]', "", text).replace("(", "{").replace(")", "}").lower()


def _shown(lines: list[str]) -> dict[str, str] | None:
    """``attribute : value`` lines of a ``cmedit get FDN`` answer; None when the MO is not there."""
    if any(line.strip().startswith("0 instance(s)") for line in lines):
        return None
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(" : ")
        if sep and name.strip() != "FDN":
            out[name.strip()] = value.strip()
    return out


def verify(backend: Backend, line: ScriptLine, fdn: str) -> bool | None:
    """Whether `line` took effect, read back with ``cmedit get FDN``; None where that cannot be
    told (an action)."""
    verb = line.command.verb
    if verb == "get":
        return False  # harmless: sent again
    if verb == "action":
        return None
    answer = backend.send(f"cmedit get {fdn}")
    shown = _shown(answer.lines) if answer.ok else None
    if verb == "delete":
        return shown is None and answer.ok
    if shown is None:
        return False
    if verb == "create":
        return True
    for name, value in line.command.assignments:
        attribute = name.split(".")[-1]
        wanted = cmedit.render_value(value)
        have = shown.get(attribute)
        if have is None:
            if _loose(wanted) not in ("null", "", "[]"):
                return False
        elif _loose(have) != _loose(wanted):
            return False
    return True


# -- running ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    run: int
    total: int
    sent: int = 0
    skipped: int = 0
    """Applied in an earlier process, not sent again."""
    verified: int = 0
    """Sent by an earlier process that was stopped before the answer came, found applied."""
    failed: ScriptLine | None = None
    answer: list[str] = field(default_factory=list)
    uncertain: bool = False
    """The failed command may or may not have taken effect (no answer came)."""

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def applied(self) -> int:
        return self.sent + self.skipped + self.verified

    def failed_where(self, path: Path) -> str:
        """``FILE:LINE: command`` of the command that failed."""
        if self.failed is None:
            return str(path)
        return f"{path}:{self.failed.number}: {self.failed.text}"


Progress = Callable[[int, int], None]


STOPPED = ("running", "failed")
"""States of a run that did not finish: it goes on with --resume."""


def apply_run(journal: Journal, script: Script) -> Run | None:
    """The latest apply run of `script`: of its content, else of its path (a script fixed after
    it stopped; whether its applied commands are still the script's first ones is checked
    before anything is sent or undone)."""
    found = journal.last_run(script.sha256)
    if found is None:
        by_path = [r for r in journal.runs() if r.kind == "apply" and r.script == str(script.path)]
        found = by_path[-1] if by_path else None
    return found


def _rolled_back(journal: Journal, run: Run, script: Script) -> str:
    """``run N of SCRIPT was rolled back by run M (when)``."""
    undo = journal.rollback_of(run.id)
    if undo is None or undo.state != "done":
        return f"run {run.id} of {script.path} was rolled back"
    return f"run {run.id} of {script.path} was rolled back by run {undo.id} at {undo.finished}"


def _rollback_stopped(journal: Journal, undo: Run) -> str:
    job = journal.import_job(undo.id)
    if job is not None:
        how = f"job {job.job_id}, {job.state}" if job.job_id is not None else f"its upload {job.state}"
        return (
            f"{journal.path}: the rollback of run {undo.undoes} (run {undo.id}, {how}) stopped after "
            f"{journal.applied(undo.id)} of {job.operations} operation(s) applied ({undo.state}, started "
            f"{undo.started}); --resume goes on with it"
        )
    text = journal.script_text(undo.id)
    of = f" of {len(text.splitlines())}" if text is not None else ""
    return (
        f"{journal.path}: the rollback of run {undo.undoes} (run {undo.id}) stopped after "
        f"{journal.applied(undo.id)}{of} command(s) ({undo.state}, started {undo.started}); --resume goes on with it"
    )


def _same_place(journal: Journal, run: Run, where: tuple[str, str]) -> None:
    """A run is resumed, and rolled back, where it ran (`where`: a backend's name and target):
    not what ran on the simulator undone on ENM, nor on another ENM."""
    if (run.backend, run.target) != where:
        raise ExecutionError(
            f"{journal.path}: run {run.id} ran on {run.target}, not on {where[1]}: it is resumed and rolled "
            f"back only there (a run on {where[1]} needs another --journal)"
        )


@dataclass(frozen=True)
class Intent:
    """What ``apply`` goes on with, decided from the journal (under its lock)."""

    kind: str
    """``apply`` or ``rollback``."""
    resume: bool
    run: Run | None
    """The apply run: the one rolled back (a rollback), or the one found (an apply)."""
    rollback: Run | None = None
    """The rollback that stopped and goes on."""


def intent(journal: Journal, script: Script, where: tuple[str, str], *, resume: bool, rollback: bool) -> Intent:
    """What ``apply SCRIPT`` (with `resume`, `rollback`) does on `journal` with the backend
    `where` (its name and target); refused (:class:`ExecutionError`) when it must not run.

    - ``--rollback``: the latest run of the script is undone, once: a second rollback is
      refused, saying which run rolled it back and when; a rollback that stopped goes on only
      with ``--resume``.
    - ``--resume``: when the latest run of the script has a rollback that stopped, that
      rollback goes on (not the run it undoes); otherwise the run that stopped.
    - neither: a new run, unless a rollback of the script's run stopped (``--resume`` it).
      :func:`run_script` refuses a run that stopped or finished.

    A run is resumed and rolled back only where it ran.
    """
    run = apply_run(journal, script)
    undo = journal.rollback_of(run.id) if run is not None else None
    if rollback:
        if run is None:
            raise ExecutionError(f"{journal.path}: no run of {script.path} to roll back")
        if run.state == "rolled_back" or (undo is not None and undo.state == "done"):
            raise ExecutionError(f"{journal.path}: {_rolled_back(journal, run, script)}; a run is rolled back once")
        _same_place(journal, run, where)
        if undo is not None:
            if not resume:
                raise ExecutionError(_rollback_stopped(journal, undo))
            return Intent("rollback", True, run, undo)
        if resume:
            raise ExecutionError(
                f"{journal.path}: nothing to resume: run {run.id} of {script.path} has no rollback yet "
                "(start it with --rollback alone)"
            )
        return Intent("rollback", False, run)
    if undo is not None and undo.state in STOPPED:
        if not resume:
            raise ExecutionError(_rollback_stopped(journal, undo))
        assert run is not None
        _same_place(journal, run, where)
        return Intent("rollback", True, run, undo)
    if resume and run is not None and run.state in STOPPED:
        _same_place(journal, run, where)
    return Intent("apply", resume, run)


def stored_script(journal: Journal, run: Run) -> Script | None:
    """The commands `run` (a rollback) started with, as they were kept in the journal; None when
    they were not (a rollback recorded before they were kept)."""
    text = journal.script_text(run.id)
    if text is None:
        return None
    lines = [ScriptLine(i + 1, t, cmedit.parse_line(t)) for i, t in enumerate(text.splitlines())]
    return Script(Path(run.script), lines, run.script_sha256)


def run_script(
    script: Script,
    backend: Backend,
    journal: Journal,
    *,
    resume: bool = False,
    resend_uncertain: bool | None = None,
    fdn_of: Callable[[ScriptLine], str | None] = lambda line: None,
    on_progress: Progress | None = None,
    kind: str = "apply",
    undoes: int | None = None,
    sessions: list[Backend] | None = None,
    node_of: Callable[[ScriptLine], str] | None = None,
) -> Outcome:
    """Run `script` on `backend`, recording each command in `journal` before the next is sent.

    `fdn_of` gives the MO a command addresses (to read it back on resume). With `resume`, the
    latest run of this script that did not finish goes on; without it, a script with such a
    run is refused (say ``--resume`` or ``--rollback``). `resend_uncertain` settles a command
    whose effect cannot be read back: True sends it again, False counts it as applied.

    A rollback (`kind` ``rollback``, `undoes` the run it undoes) runs once: once done, another
    is refused; resumed, it must be the same commands it started with (its sha256).

    With `sessions` (more backends: ENM sessions of their own), the commands still to send are
    sent on `backend` and the sessions at once, a node each (`node_of`): the commands of one
    node keep their order, each is journaled before it goes out and after its answer, and the
    first refusal stops new sends on every session (those already sent are answered and
    journaled). What an earlier process left is settled first, in order, on `backend`."""
    total = len(script.lines)
    records = {}
    if undoes is None:
        prior = apply_run(journal, script)
        if prior is not None and prior.script_sha256 != script.sha256 and prior.state not in STOPPED:
            prior = None  # an earlier version of the file that finished: this is another script
    else:
        _same_place(journal, journal.run(undoes), (backend.name, backend.target))
        prior = journal.rollback_of(undoes)
        if prior is not None and prior.state == "done":
            raise ExecutionError(
                f"{journal.path}: run {undoes} was rolled back by run {prior.id} at {prior.finished}; "
                "a run is rolled back once"
            )
        if resume and prior is not None and prior.script_sha256 != script.sha256:
            raise ExecutionError(
                f"{journal.path}: the rollback of run {undoes} computed now is not the one run {prior.id} started "
                "with; is --network the export the run started from?"
            )
    if resume:
        if prior is None:
            raise ExecutionError(f"{journal.path}: nothing to resume: no run of {script.path} is recorded")
        if prior.state == "done":
            return Outcome(prior.id, total, skipped=total)
        if prior.state == "rolled_back":
            raise ExecutionError(
                f"{journal.path}: nothing to resume: {_rolled_back(journal, prior, script)} "
                "(applying it again is a new run, without --resume)"
            )
        _same_place(journal, prior, (backend.name, backend.target))
        run = prior.id
        journal.reopen_run(run)
        records = {r.position: r for r in journal.commands(run)}
    else:
        if prior is not None and prior.state in STOPPED:
            if undoes is not None:
                raise ExecutionError(_rollback_stopped(journal, prior))
            raise ExecutionError(
                f"{journal.path}: run {prior.id} of {script.path} stopped after {journal.applied(prior.id)} of "
                f"{total} command(s) ({prior.state}, started {prior.started}); go on with --resume, or undo it "
                "with --rollback"
            )
        if prior is not None and prior.state == "done" and kind == "apply":
            raise ExecutionError(
                f"{journal.path}: {script.path} was applied completely in run {prior.id} ({prior.finished}); "
                "applying it again needs another --journal"
            )
        text = "".join(f"{line.text}\n" for line in script.lines) if kind == "rollback" else None
        run = journal.start_run(kind, str(script.path), script.sha256, backend.name, backend.target, undoes, text=text)
    outcome = Outcome(run, total)
    pending: list[int] = []
    for position, line in enumerate(script.lines):
        record = records.get(position)
        if record is not None and record.text != line.text and record.state in (*APPLIED_STATES, "sending"):
            raise ExecutionError(
                f"{journal.path}: run {run} recorded {record.text!r} at command {position + 1}, "
                f"but {script.path}:{line.number} is {line.text!r}"
            )
        if record is not None and record.state in APPLIED_STATES:
            backend.replay(line.text)
            outcome.skipped += 1
            if on_progress:
                on_progress(position + 1, total)
            continue
        if record is not None and record.state == "sending":
            fdn = fdn_of(line)
            found = verify(backend, line, fdn) if fdn is not None else None
            if found is None:
                if resend_uncertain is None:
                    journal.finish_run(run, "failed")
                    raise ExecutionError(
                        f"{script.path}:{line.number}: {line.text!r} was sent by a run that stopped before ENM "
                        "answered, and its effect cannot be read back; check it on the node, then resume with "
                        "--uncertain resend (send it again) or --uncertain applied (count it as done)"
                    )
                found = not resend_uncertain
            if found:
                journal.answered(run, position, "verified", "found applied when resuming (read back)")
                backend.replay(line.text)
                outcome.verified += 1
                if on_progress:
                    on_progress(position + 1, total)
                continue
        if sessions:
            pending.append(position)
            continue
        journal.sending(run, position, line.number, line.text)
        try:
            answer = backend.send(line.text)
        except EnmError as err:
            if err.sent:
                # the command went out: its outcome is unknown, and stays 'sending'
                journal.finish_run(run, "failed")
                outcome.failed, outcome.answer, outcome.uncertain = line, [str(err)], True
                return outcome
            journal.answered(run, position, "failed", f"not sent: {err}")
            journal.finish_run(run, "failed")
            outcome.failed, outcome.answer = line, [str(err)]
            return outcome
        journal.answered(run, position, "applied" if answer.ok else "failed", answer.text)
        if not answer.ok:
            journal.finish_run(run, "failed")
            outcome.failed, outcome.answer = line, answer.lines
            return outcome
        outcome.sent += 1
        if on_progress:
            on_progress(position + 1, total)
    if sessions and pending:
        _send_in_sessions(script, [backend, *sessions], journal, run, pending, outcome, node_of, on_progress)
        if not outcome.ok:
            journal.finish_run(run, "failed")
            return outcome
    journal.finish_run(run, "done")
    return outcome


def node_of_line(line: ScriptLine) -> str:
    """The node a command addresses: its ``MeContext`` id, else its ``ManagedElement`` id (an
    FDN), or the node word (node form); the whole scope otherwise."""
    words = line.command.words
    if len(words) >= 2 and "=" not in words[0]:
        return words[0]
    for rdn in words[0].split(","):
        key, _, value = rdn.partition("=")
        if key in ("MeContext", "ManagedElement"):
            return value
    return words[0]


def _send_in_sessions(
    script: Script,
    backends: list[Backend],
    journal: Journal,
    run: int,
    positions: list[int],
    outcome: Outcome,
    node_of: Callable[[ScriptLine], str] | None,
    on_progress: Progress | None,
) -> None:
    """Send the commands at `positions` on every backend at once, a node's commands in order on
    one backend; the first refusal (or an unknown outcome) stops new sends everywhere."""
    import threading

    node = node_of or node_of_line
    groups: dict[str, list[int]] = {}
    for position in positions:
        groups.setdefault(node(script.lines[position]), []).append(position)
    queue = list(groups.values())
    queue.reverse()  # popped from the end: nodes in the script's order
    lock = threading.Lock()
    stop = threading.Event()
    total = len(script.lines)
    done = [total - len(positions)]

    def stopped(position: int, lines: list[str], *, uncertain: bool = False) -> None:
        """The first to stop the run gives the outcome its failed command (under `lock`)."""
        if outcome.failed is None:
            outcome.failed, outcome.answer, outcome.uncertain = script.lines[position], lines, uncertain
        stop.set()

    def work(backend: Backend) -> None:
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                group = queue.pop()
            for position in group:
                line = script.lines[position]
                with lock:
                    if stop.is_set():
                        return
                    journal.sending(run, position, line.number, line.text)
                try:
                    answer = backend.send(line.text)
                except EnmError as err:
                    with lock:
                        if not err.sent:
                            journal.answered(run, position, "failed", f"not sent: {err}")
                        stopped(position, [str(err)], uncertain=err.sent)
                    return
                except Exception as err:  # a session that breaks leaves its command unknown
                    with lock:
                        stopped(position, [f"{type(err).__name__}: {err}"], uncertain=True)
                    return
                with lock:
                    journal.answered(run, position, "applied" if answer.ok else "failed", answer.text)
                    if not answer.ok:
                        stopped(position, answer.lines)
                        return
                    outcome.sent += 1
                    done[0] += 1
                    if on_progress:
                        on_progress(done[0], total)

    threads = [threading.Thread(target=work, args=(b,), name=f"rtbfast-session-{i}") for i, b in enumerate(backends)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def replay_applied(script: Script, backend: Backend, journal: Journal, run: int) -> int:
    """Bring `backend` up to the commands of `run` that were applied (the simulator, in a new
    process); how many."""
    done = 0
    by_position = {r.position: r for r in journal.commands(run)}
    for position, line in enumerate(script.lines):
        record = by_position.get(position)
        if record is None or record.state not in APPLIED_STATES:
            continue  # (sessions apply the nodes' commands in parallel: not always a prefix)
        backend.replay(line.text)
        done += 1
    return done


def check_rollback(script: Script, network: NetworkIndex, catalog: CatalogView, *, allow_unknown: bool = False) -> int:
    """Before a run: the rollback of the whole of `script` can be computed from `network` and
    written as cmedit (every old value known, or `allow_unknown`; every name and value one
    cmedit carries), so whatever part of it gets applied can be undone. Raises the planner's
    errors (:class:`rtbfast.enm.rollback.UnknownRollback`,
    :class:`rtbfast.enm.dialects.UnwritableError`); returns the rollback's command count."""
    from rtbfast.enm.dialects import cmedit_lines
    from rtbfast.enm.rollback import rollback_plan

    plan = script_plan([line for line in script.lines if line.changes], network, catalog, source=str(script.path))
    if not plan.num_rows:
        return 0
    undo = rollback_plan(plan, network, catalog, allow_unknown=allow_unknown)
    return len(cmedit_lines(undo, where=f"the rollback of {script.path}")) if undo.num_rows else 0


def rollback_script(
    script: Script,
    journal: Journal,
    run: int,
    network: NetworkIndex,
    catalog: CatalogView,
    *,
    allow_unknown: bool = False,
) -> tuple[Script, int]:
    """The commands that undo the applied part of `run` (a run of `script`), computed from
    `network` as it was before the run; and how many applied commands they undo. A command whose
    answer never came is refused (resume first, which reads it back). An applied change of an
    attribute the network does not hold is refused unless `allow_unknown` (then it is not
    undone)."""
    from rtbfast.enm.dialects import cmedit_lines
    from rtbfast.enm.rollback import rollback_plan

    records = journal.commands(run)
    if any(r.state == "sending" for r in records):
        pending = next(r for r in records if r.state == "sending")
        raise ExecutionError(
            f"{script.path}:{pending.line}: the outcome of {pending.text!r} is not known (the run stopped before "
            "the answer came); settle it first with --resume, then roll back"
        )
    applied = [r for r in records if r.state in APPLIED_STATES]
    if any(r.position >= len(script.lines) for r in applied):
        raise ExecutionError(f"{journal.path}: run {run} recorded more commands than {script.path} holds")
    # in script order (sessions apply nodes in parallel: the applied commands need not be a prefix)
    lines = [script.lines[r.position] for r in sorted(applied, key=lambda r: r.position)]
    for r, line in zip(sorted(applied, key=lambda r: r.position), lines, strict=True):
        if r.text != line.text:
            raise ExecutionError(f"{journal.path}: run {run} does not match {script.path} at line {line.number}")
    plan = script_plan(lines, network, catalog, source=str(script.path))
    undo = rollback_plan(plan, network, catalog, allow_unknown=allow_unknown) if plan.num_rows else plan
    texts = cmedit_lines(undo, where=f"the rollback of run {run}").to_pylist() if undo.num_rows else []
    body = "\n".join(texts) + ("\n" if texts else "")
    path = Path(f"{script.path}#rollback-of-run-{run}")
    undo_lines = [ScriptLine(i + 1, t, cmedit.parse_line(t)) for i, t in enumerate(texts)]
    return Script(path, undo_lines, hashlib.sha256(body.encode()).hexdigest()), len(applied)
