"""The import route of ``rtbfast apply``: a dynamic import file (``plan.dynamic.txt``) or a 3GPP
Bulk CM import file (``plan.3gpp.xml``) run as one ENM import job (``../shared/reference/enm-cli.md``
§7-§9), journaled, resumed by re-attaching to the job, rolled back once.

1. The file is read and every operation checked before anything is sent (a dynamic file by
   :func:`rtbfast.enm.dynamic.read_dynamic`, a 3GPP file by ``rtbfast.read_network``): what
   ``rtbfast plan`` writes, located errors for anything else.
2. The job is journaled ``uploading`` with every operation of the file (synced) before the
   upload goes out: ``cmedit import -f file:NAME --filetype dynamic|3GPP --error
   stop|node|operation``, the file attached.
3. ENM's answer names the job (a line holding ``job ID <n>``): its id is journaled before the
   first status poll. An answer that names no job means ENM started none (``refused``).
4. ``cmedit import -st -j ID`` is polled (every `poll_interval` seconds, for at most `timeout`)
   until its ``Status`` says the job ended (``COMPLETED``, ``FAILED``, ``ERROR``, ``STOPPED``);
   then ``cmedit import -st -j ID -v`` is read once, and every operation's outcome (ENM's word
   for it, and its failure reason) is journaled. The job succeeded when its ``Status`` and
   ``Status detail`` are both ``COMPLETED`` and every operation applied.
5. Resumed (``--resume``) after a kill or a stop, a run whose job id is journaled re-attaches
   to that job and never uploads the file again. A run killed before the upload's answer came
   does not know whether ENM started a job: it is refused, saying what to check, until the
   operator gives the job (``--job ID``) or says to upload again (``--uncertain resend``).
6. ``--rollback`` runs the file that undoes what the job applied as a job of its own, once: the
   rollback file ``rtbfast plan`` wrote beside the plan's file when every operation applied,
   else the rollback of exactly the applied operations, computed from the network as it was
   before the run (``--catalog``, ``--network``) and written in the same format. A rollback that
   stopped resumes like a run.

The statuses are read from their column labels, never their order (``Status``, ``Status
detail``; ``FDN``, ``Operation Type``, ``Import status message``, ``Failure Reason``, ``Line
Number``): what is published of ENM's answers, and what is assumed, is in
``docs/enm.md`` (Import jobs).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from rtbfast.enm.enm_client import EnmError
from rtbfast.enm.executor import ERROR_LINE, STOPPED, Backend, ExecutionError, _rolled_back, _same_place, apply_run
from rtbfast.enm.journal import Journal, OperationOutcome, OperationRecord, Run
from rtbfast.enm.script import Script
from rtbfast.errors import InputError, InputIOError

if TYPE_CHECKING:
    from rtbfast.catalog_view import CatalogView
    from rtbfast.network_index import NetworkIndex

ROUTES = ("cmedit", "dynamic", "3gpp")
"""What ``rtbfast apply`` runs: a cmedit script command by command, or an import file as a job."""
FILETYPES = {"dynamic": "dynamic", "3gpp": "3GPP"}
"""``--filetype`` of each import route (enm-cli.md §7)."""
POLICIES = ("stop", "node", "operation")
"""ENM's execution policies (``--error``): stop the job at the first failure, skip the rest of
that node, or go on with the next operation (enm-cli.md §7)."""
ENDED = ("COMPLETED", "FAILED", "ERROR", "STOPPED")
"""The job ``Status`` values that mean it ended (Ericsson's own import tooling waits for them)."""
JOB_ID = re.compile(r"\bjob ID\s+(\d+)")
SCHEMA_FAILED = re.compile(r"^\s*Error\s+7025\s*:")
"""A job whose file ENM could not read (schema validation): no operation of it ran."""
"""The line of ENM's answer to ``cmedit import -f`` that names the job."""
NAME = re.compile(r"[A-Za-z0-9_.\-]+")
"""A file name sent as ``file:NAME`` (one word of the command)."""
POLL_FAILURES = 3
"""Status reads that may fail in a row (ENM unreachable a moment) before the run stops."""

Note = Callable[[str], None]
Progress = Callable[[int, int], None]
Row = tuple[str, str | None, int | None, str | None]


class ImportFileError(InputError):
    """An import file ``apply`` does not run: not the format, no operation, or a name that
    cannot be sent as ``file:NAME``. Nothing was sent. The CLI exits with 2."""


# -- the file ---------------------------------------------------------------------------------


def file_route(path: str | Path) -> str:
    """What `path` is for ``apply``: ``3gpp`` (``.xml``, or XML), ``dynamic`` (its first line is
    an operation, ``create``, ``set`` or ``delete``) or ``cmedit`` (anything else: a script,
    whose reader says what is wrong with it)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return "cmedit"  # the script reader names the file that cannot be read
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    if p.suffix.lower() == ".xml" or text.lstrip().startswith("<"):
        return "3gpp"
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return "dynamic" if first.lower() in ("create", "set", "delete") else "cmedit"


@dataclass(frozen=True)
class ImportOperation:
    """One operation of an import file, in the file's order: ``create``, ``set`` (3GPP's
    ``update``) or ``delete`` of an FDN, with the long rows (attribute, member, index, value)
    it writes (a create's naming attribute is its id, not a row)."""

    position: int
    line: int | None
    """Its line in the file (a dynamic block's keyword); None in a 3GPP file."""
    operation: str
    fdn: str
    cls: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class ImportFile:
    """An import file as ``apply`` runs it: its bytes, the name it is uploaded as, its
    operations."""

    path: Path
    name: str
    filetype: str
    """``dynamic`` or ``3GPP`` (``--filetype``)."""
    data: bytes
    sha256: str
    operations: list[ImportOperation]

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    def script(self) -> Script:
        """The file as the journal's runs know a script: its path and content."""
        return Script(self.path, [], self.sha256)


def _naming(cls: str) -> set[str]:
    return {f"{cls}Id", cls[:1].lower() + cls[1:] + "Id"}


def _dynamic_operations(text: str, source: str) -> list[ImportOperation]:
    from rtbfast.enm import cmedit
    from rtbfast.enm.dynamic import DynamicFormatError, read_dynamic

    out: list[ImportOperation] = []
    for position, block in enumerate(read_dynamic(text, source)):
        cls = block.fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        rows = cmedit.assignment_rows(block.attributes)
        if block.keyword == "create":
            rows = [r for r in rows if r[0] not in _naming(cls)]
        elif block.keyword == "set" and not rows:
            raise DynamicFormatError("a set block writes at least one attribute", block.line, 1, source)
        out.append(ImportOperation(position, block.line, block.keyword, block.fdn, cls, tuple(rows)))
    return out


def bulkcm_operations(tables: dict[str, pa.Table], source: str) -> list[ImportOperation]:
    """The operations of a 3GPP Bulk CM import file (read by ``rtbfast.read_network``): each MO
    with a ``modifier`` (``create``, ``update``, ``delete``) with the values it carries, in the
    document's order, but a delete after the deletes nested in it (children go first)."""
    mos = tables["mos"].select(["fdn", "class", "depth", "modifier"]).to_pylist()
    values: dict[str, list[Row]] = {}
    v = tables["values"]
    for fdn, attribute, member, index, value in zip(
        *(v[c].cast(pa.string()) if c != "index" else v[c] for c in ("fdn", "attribute", "member", "index", "value")),
        strict=True,
    ):
        values.setdefault(fdn.as_py(), []).append((attribute.as_py(), member.as_py(), index.as_py(), value.as_py()))
    kinds = {"create": "create", "update": "set", "delete": "delete"}
    ordered: list[tuple[str, str, str]] = []
    pending: list[tuple[int, str, str]] = []  # deletes waiting for their subtree: (depth, fdn, class)
    for mo in mos:
        while pending and pending[-1][0] >= mo["depth"]:
            _, fdn, cls = pending.pop()
            ordered.append(("delete", fdn, cls))
        modifier = mo["modifier"]
        if modifier is None:
            continue
        if modifier not in kinds:
            raise ImportFileError(
                f"{source}: {mo['fdn']}: modifier {modifier!r} is not an operation (create, update, delete)", source
            )
        if kinds[modifier] == "delete":
            pending.append((mo["depth"], mo["fdn"], mo["class"]))
        else:
            ordered.append((kinds[modifier], mo["fdn"], mo["class"]))
    while pending:
        _, fdn, cls = pending.pop()
        ordered.append(("delete", fdn, cls))
    out = []
    for position, (operation, fdn, cls) in enumerate(ordered):
        rows = [] if operation == "delete" else values.get(fdn, [])
        if operation == "create":
            rows = [r for r in rows if r[0] not in _naming(cls)]
        elif operation == "set" and not rows:
            raise ImportFileError(f"{source}: {fdn}: an update writes at least one attribute", source)
        out.append(ImportOperation(position, None, operation, fdn, cls, tuple(rows)))
    return out


def read_operations(data: bytes, filetype: str, source: str) -> list[ImportOperation]:
    """The operations of an import file given as bytes (what ENM receives): ``dynamic`` read
    by :func:`rtbfast.enm.dynamic.read_dynamic`, ``3GPP`` by ``rtbfast.read_network``. The
    readers' errors (located) when it is not the format."""
    if filetype == "dynamic":
        return _dynamic_operations(data.decode("utf-8"), source)
    from rtbfast.readers import read_network

    with tempfile.TemporaryDirectory(prefix="rtbfast-import-") as folder:
        path = Path(folder) / (Path(source).name or "import.xml")
        path.write_bytes(data)
        return bulkcm_operations(dict(read_network(path).tables), source)


def read_import_file(path: str | Path, route: str) -> ImportFile:
    """Read and check an import file (`route`: ``dynamic`` or ``3gpp``) before anything is
    sent: every operation as its reader reads it, a name that can be sent as ``file:NAME``, at
    least one operation. :class:`ImportFileError` (or the reader's located error) otherwise."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as err:
        raise InputIOError(f"{p}: no such file", str(p)) from err
    except OSError as err:
        raise InputIOError(f"{p}: cannot read: {err.strerror or err}", str(p)) from err
    if not NAME.fullmatch(p.name):
        raise ImportFileError(
            f"{p}: the name {p.name!r} cannot be sent as file:NAME (letters, digits, '.', '_' and '-' only): "
            "copy the file to such a name",
            str(p),
        )
    filetype = FILETYPES[route]
    if filetype == "dynamic":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ImportFileError(f"{p}: not UTF-8 (byte {err.start})", str(p)) from err
        operations = _dynamic_operations(text, str(p))
    else:
        from rtbfast.readers import read_network

        operations = bulkcm_operations(dict(read_network(p).tables), str(p))
    if not operations:
        what = "no block" if filetype == "dynamic" else "no MO with a modifier (create, update, delete)"
        raise ImportFileError(f"{p}: no operation to import ({what})", str(p))
    return ImportFile(p, p.name, filetype, data, hashlib.sha256(data).hexdigest(), operations)


def journaled_file(journal: Journal, run: Run, *, filetype: str | None = None, name: str | None = None) -> ImportFile:
    """The file `run` uploads (or started with), as the journal kept it."""
    text = journal.script_text(run.id)
    job = journal.import_job(run.id)
    if text is None:
        raise ExecutionError(f"{journal.path}: run {run.id} kept no file (was it recorded by an older rtbfast?)")
    filetype = job.filetype if job is not None else filetype
    name = job.name if job is not None else name
    assert filetype is not None and name is not None
    data = text.encode("utf-8")
    return ImportFile(
        Path(run.script), name, filetype, data, hashlib.sha256(data).hexdigest(), read_operations(data, filetype, name)
    )


def operation_rows(operations: list[ImportOperation], base: int = 0) -> pa.Table:
    """The operations as Plan-like rows (step = `base` + position, op, fdn, class, attribute,
    member, index, value): a create or delete opens with a row of its own, a set is its value
    rows."""
    cols: dict[str, list[object]] = {n: [] for n in ("step", "op", "fdn", "class", "attribute", "member", "index")}
    cols["value"] = []
    for op in operations:
        head: list[Row] = [] if op.operation == "set" else [(None, None, None, None)]  # type: ignore[list-item]
        for attribute, member, index, value in head + list(op.rows):
            cols["step"].append(base + op.position)
            cols["op"].append(op.operation)
            cols["fdn"].append(op.fdn)
            cols["class"].append(op.cls)
            cols["attribute"].append(attribute)
            cols["member"].append(member)
            cols["index"].append(index)
            cols["value"].append(value)
    types = {"step": pa.int64(), "index": pa.int32()}
    return pa.table({n: pa.array(v, types.get(n, pa.string())) for n, v in cols.items()})


def import_plan(operations: list[ImportOperation], catalog: CatalogView, source: str) -> pa.Table:
    """The operations as Plan rows (one step each, in order), so that
    :func:`rtbfast.enm.rollback.rollback_plan` inverts them as it inverts a plan."""
    from rtbfast.enm.plan import _join_kinds
    from rtbfast.schemas import PLAN_SCHEMA

    rows = operation_rows(operations)
    n = rows.num_rows
    table = rows.append_column("phase", pa.array(["import"] * n, pa.string()))
    table = table.append_column("phase_order", pa.array([0] * n, pa.int32()))
    table = table.append_column("source", pa.array([source] * n, pa.string()))
    return _join_kinds(table, catalog.kinds).select(PLAN_SCHEMA.names).cast(PLAN_SCHEMA)


# -- ENM's answers ------------------------------------------------------------------------------


def upload_command(name: str, filetype: str, policy: str) -> str:
    """The import command, as enm-cli.md §8 writes it: the file attached as ``file:NAME``."""
    return f"cmedit import -f file:{name} --filetype {filetype} --error {policy}"


def status_command(job_id: int, *, verbose: bool = False) -> str:
    """The job's status (``-v``: a row per operation), enm-cli.md §7."""
    return f"cmedit import -st -j {job_id}" + (" -v" if verbose else "")


def job_id_of(lines: list[str]) -> int | None:
    """The job ENM's answer to the upload names (``… job ID 121``)."""
    for line in lines:
        found = JOB_ID.search(line)
        if found:
            return int(found.group(1))
    return None


@dataclass(frozen=True)
class StatusRow:
    """One operation as a verbose status lists it."""

    line: int | None
    operation: str | None
    fdn: str
    state: str | None
    message: str | None


@dataclass
class JobStatus:
    """What ``cmedit import -st -j ID [-v]`` says: the job's ``Status`` and ``Status detail``,
    its counts, the operations (verbose), and any ``Error NNNN :`` line."""

    status: str | None = None
    detail: str | None = None
    done: int | None = None
    """Managed objects created, updated and deleted and actions performed, when given."""
    operations: list[StatusRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return (self.status or "").strip().upper() in ENDED

    @property
    def completed(self) -> bool:
        """``Status`` and ``Status detail`` both ``COMPLETED``: the job says it did it all."""
        return (self.status or "").upper() == "COMPLETED" and (self.detail or "").upper() == "COMPLETED"


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def parse_status(lines: list[str], job_id: int) -> JobStatus:
    """ENM's status answer read by its column labels (a table is a TAB-joined label line, then
    a TAB-joined line per row, enm-cli.md §1.1): the job's row (by ``Job ID`` when there is
    one) and the operation rows (``FDN`` with ``Operation Type`` or ``Import status
    message``)."""
    out = JobStatus()
    i = 0
    while i < len(lines):
        line = lines[i]
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) > 1 and "Status" in cells and "Status detail" in cells:
            rows = []
            i += 1
            while i < len(lines) and len(lines[i].split("\t")) == len(cells):
                rows.append(dict(zip(cells, (c.strip() for c in lines[i].split("\t")), strict=True)))
                i += 1
            mine = [r for r in rows if "Job ID" not in r or r["Job ID"] == str(job_id)]
            if mine:
                row = mine[0]
                out.status, out.detail = row.get("Status") or None, row.get("Status detail") or None
                counts = [
                    _int(row.get(k))
                    for k in (
                        "Managed objects created",
                        "Managed objects updated",
                        "Managed objects deleted",
                        "Actions performed",
                    )
                    if k in row
                ]
                if counts and all(c is not None for c in counts):
                    out.done = sum(c for c in counts if c is not None)
            continue
        if len(cells) > 1 and "FDN" in cells and ("Operation Type" in cells or "Import status message" in cells):
            i += 1
            while i < len(lines) and len(lines[i].split("\t")) == len(cells):
                row = dict(zip(cells, (c.strip() for c in lines[i].split("\t")), strict=True))
                out.operations.append(
                    StatusRow(
                        _int(row.get("Line Number")),
                        row.get("Operation Type") or None,
                        row["FDN"],
                        row.get("Import status message") or None,
                        row.get("Failure Reason") or None,
                    )
                )
                i += 1
            continue
        if ERROR_LINE.match(line):
            out.errors.append(line.strip())
        i += 1
    return out


def result_of(state: str | None) -> str:
    """What ENM's word for an operation means: ``applied``, ``failed``, ``not_applied``, or
    ``unknown`` (a word rtbfast does not know: never counted as applied)."""
    word = (state or "").strip().lower().replace("_", "-").replace(" ", "-")
    if word in ("executed", "success", "successful", "completed", "applied"):
        return "applied"
    if "error" in word or "fail" in word or word == "invalid":
        return "failed"
    if "skip" in word or word in ("valid", "not-executed", "parsed", "validated", "cancelled"):
        return "not_applied"
    return "unknown"


def match_outcomes(
    operations: list[ImportOperation], rows: list[StatusRow], completed: bool, *, unread: bool = False
) -> tuple[list[OperationOutcome], list[StatusRow]]:
    """Each operation's outcome from the verbose status's rows: matched by line number where
    both have one and the FDN agrees, else by FDN in the file's order. An operation the status
    does not list is ``applied`` only when the job says it did it all (`completed`), ``not
    applied`` when ENM could not read the file (`unread`: ``Error 7025``, schema validation,
    comes before any operation), else ``unknown``; the rows that match no operation are
    returned (nothing is dropped unsaid)."""
    by_line = {op.line: op.position for op in operations if op.line is not None}
    queues: dict[str, deque[int]] = {}
    for op in operations:
        queues.setdefault(op.fdn, deque()).append(op.position)
    taken: dict[int, StatusRow] = {}
    extra: list[StatusRow] = []
    for row in rows:
        position = by_line.get(row.line) if row.line is not None else None
        if position is None or operations[position].fdn != row.fdn or position in taken:
            queue = queues.get(row.fdn, deque())
            while queue and queue[0] in taken:
                queue.popleft()
            position = queue.popleft() if queue else None
        if position is None:
            extra.append(row)
            continue
        taken[position] = row
    out = []
    for op in operations:
        found = taken.get(op.position)
        if found is not None:
            out.append(OperationOutcome(op.position, found.state, result_of(found.state), found.message))
        elif completed:
            listed = "not listed by the verbose status; the job COMPLETED"
            out.append(OperationOutcome(op.position, None, "applied", listed))
        elif unread:
            unread_text = "not executed: ENM could not read the file (Error 7025 : Schema validation failed.)"
            out.append(OperationOutcome(op.position, None, "not_applied", unread_text))
        else:
            out.append(OperationOutcome(op.position, None, "unknown", "not listed by ENM's verbose job status"))
    return out, extra


# -- the job ----------------------------------------------------------------------------------


@dataclass
class JobOutcome:
    """What an import run did: its job, ENM's last words, and its operations counted."""

    run: int
    file: Path
    name: str
    filetype: str
    policy: str
    total: int
    """Operations in the file."""
    job_id: int | None = None
    status: str | None = None
    detail: str | None = None
    applied: int = 0
    failed: int = 0
    not_applied: int = 0
    unknown: int = 0
    first_failure: OperationRecord | None = None
    answer: list[str] = field(default_factory=list)
    """What ENM answered last where the run stopped (the upload, a status)."""
    uploaded: bool = False
    """This process uploaded the file."""
    reattached: bool = False
    """This process followed a job an earlier one started."""
    uncertain: bool = False
    """The upload went out and its answer never came: a job may or may not exist."""
    refused: bool = False
    """ENM answered the upload without naming a job: it started none."""
    unfinished: bool = False
    """The run stopped following the job before it ended (timeout, or its status unreadable)."""
    extra: list[str] = field(default_factory=list)
    """Operations the verbose status listed that are not the file's."""
    seconds: float | None = None
    """How long this process followed the job."""
    sent: str | None = None
    """When the upload went out."""

    @property
    def ended(self) -> bool:
        return (self.status or "").upper() in ENDED

    @property
    def ok(self) -> bool:
        if self.uncertain or self.refused or self.unfinished:
            return False
        if self.job_id is None:
            return self.total == 0  # nothing to run
        return (
            (self.status or "").upper() == "COMPLETED"
            and (self.detail or "").upper() == "COMPLETED"
            and self.applied == self.total
        )

    def counts(self) -> str:
        more = f", {self.unknown} unknown" if self.unknown else ""
        return f"{self.applied} applied, {self.failed} failed, {self.not_applied} not applied{more}"


def _count(outcome: JobOutcome, journal: Journal) -> None:
    records = journal.import_operations(outcome.run)
    outcome.applied = sum(1 for r in records if r.result == "applied")
    outcome.failed = sum(1 for r in records if r.result == "failed")
    outcome.not_applied = sum(1 for r in records if r.result == "not_applied")
    outcome.unknown = sum(1 for r in records if r.result in ("unknown", "pending"))
    outcome.first_failure = next((r for r in records if r.result == "failed"), None)


def replay_job(backend: Backend, journal: Journal, run: int) -> None:
    """Bring `backend` up to the job `run` uploaded in an earlier process (the simulator, in a
    new process: the file the journal kept is run again as that job); checked against what the
    journal says each operation came to."""
    job = journal.import_job(run)
    if job is None or job.job_id is None:
        return
    text = journal.script_text(run)
    if text is None:
        return
    data = text.encode("utf-8")
    results = backend.replay_import(job.job_id, job.name, data, job.filetype, job.error_policy, job.uploaded)
    if results is None:
        return
    for record in journal.import_operations(run):
        known = record.result in ("applied", "failed", "not_applied") and record.position < len(results)
        if known and results[record.position] != record.result:
            raise ExecutionError(
                f"{journal.path}: the journal says operation {record.position + 1} of job {job.job_id} "
                f"({record.operation} {record.fdn}) {record.result.replace('_', ' ')}, but the simulator's "
                f"replay of it {results[record.position].replace('_', ' ')}; is --network the export the run "
                "started from?"
            )


def _ended_message(journal: Journal, run: Run, job_id: int | None, what: str) -> str:
    applied = journal.applied(run.id)
    return (
        f"{journal.path}: job {job_id} of run {run.id} ({run.script}) ended {what} with {applied} operation(s) "
        "applied; an ended job is not resumed: undo what it applied with --rollback, then fix and apply again "
        "(`rtbfast journal` lists the operations that did not apply)"
    )


def uncertain_upload_message(journal: Path, run: int, file: str, name: str, sent: str) -> str:
    """What to do about an upload whose answer never came (a job may or may not exist)."""
    return (
        f"{file}: the upload of run {run} (file:{name}, sent {sent}) got no answer: ENM may have started a job for "
        f"it. Check `cmedit import --status --begin <date>` for a job of the file {name} started then; resume "
        "with --resume --job ID to follow that job, or with --resume --uncertain resend if ENM has none (it is "
        f"uploaded again); journal {journal}"
    )


def run_import(
    ifile: ImportFile,
    backend: Backend,
    journal: Journal,
    *,
    policy: str = "stop",
    resume: bool = False,
    resend_uncertain: bool | None = None,
    attach_job: int | None = None,
    poll_interval: float = 5.0,
    timeout: float = 7200.0,
    kind: str = "apply",
    undoes: int | None = None,
    on_note: Note | None = None,
    on_progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobOutcome:
    """Run `ifile` as one import job on `backend`, journaled in `journal` (see the module).

    With `resume`, the run of this file that stopped goes on: its job, when ENM named one, is
    followed again (never uploaded again); an upload whose answer never came is refused unless
    `attach_job` (the job the operator found) or `resend_uncertain` (upload again). Without it, a
    file with a run that stopped is refused (``--resume`` or ``--rollback``). A rollback
    (`kind` ``rollback``, `undoes` the run it undoes) runs once."""
    say = on_note or (lambda _: None)
    where = (backend.name, backend.target)
    if policy not in POLICIES:
        raise ExecutionError(f"--error {policy}: one of {', '.join(POLICIES)}")
    if undoes is None:
        prior = apply_run(journal, ifile.script())
        if prior is not None and prior.script_sha256 != ifile.sha256 and prior.state not in STOPPED:
            prior = None  # an earlier version of the file that finished: this is another file
    else:
        _same_place(journal, journal.run(undoes), where)
        prior = journal.rollback_of(undoes)
        if prior is not None and prior.state == "done":
            raise ExecutionError(
                f"{journal.path}: run {undoes} was rolled back by run {prior.id} at {prior.finished}; "
                "a run is rolled back once"
            )
    total = len(ifile.operations)
    upload = True
    if resume:
        if prior is None:
            raise ExecutionError(f"{journal.path}: nothing to resume: no run of {ifile.path} is recorded")
        if prior.state == "rolled_back":
            raise ExecutionError(
                f"{journal.path}: nothing to resume: {_rolled_back(journal, prior, ifile.script())} "
                "(applying it again is a new run, without --resume)"
            )
        _same_place(journal, prior, where)
        run = prior.id
        job = journal.import_job(run)
        if prior.state == "done":
            replay_job(backend, journal, run)  # the simulator as the run left it
            return _outcome_of(journal, run, ifile, policy)
        if job is not None and job.state == "ended":
            raise ExecutionError(_ended_message(journal, prior, job.job_id, f"{job.status}/{job.status_detail}"))
        if attach_job is not None and (job is None or job.state != "uploading"):
            follows = f"follows job {job.job_id}" if job is not None and job.job_id is not None else "uploaded nothing"
            raise ExecutionError(f"{journal.path}: --job is for an upload whose answer never came; run {run} {follows}")
        if job is not None and job.state == "uploading":
            if attach_job is not None:
                journal.import_answered(run, attach_job, "polling", f"attached by the operator: --job {attach_job}")
                say(f"following job {attach_job}, as told (--job), for run {run}'s upload of {job.name}")
                job = journal.import_job(run)
            elif resend_uncertain is not True:
                journal.finish_run(run, "failed")
                raise ExecutionError(uncertain_upload_message(journal.path, run, job.file, job.name, job.uploaded))
        if job is not None and job.state == "polling":
            upload = False
            if journal.script_text(run) is not None:
                ifile = journaled_file(journal, prior)  # the file as it was uploaded
                total = len(ifile.operations)
        journal.reopen_run(run)
    else:
        if prior is not None and prior.state in STOPPED:
            job = journal.import_job(prior.id)
            how = f"job {job.job_id}: {job.state}" if job is not None and job.job_id is not None else "no job"
            if undoes is not None:
                raise ExecutionError(
                    f"{journal.path}: the rollback of run {undoes} (run {prior.id}, {how}) stopped ({prior.state}, "
                    f"started {prior.started}); --resume goes on with it"
                )
            raise ExecutionError(
                f"{journal.path}: run {prior.id} of {ifile.path} stopped ({prior.state}, {how}, started "
                f"{prior.started}); go on with --resume, or undo it with --rollback"
            )
        if prior is not None and prior.state == "done" and kind == "apply":
            raise ExecutionError(
                f"{journal.path}: {ifile.path} was applied completely in run {prior.id} ({prior.finished}); "
                "applying it again needs another --journal"
            )
        run = journal.start_run(
            kind, str(ifile.path), ifile.sha256, backend.name, backend.target, undoes, text=ifile.text
        )
    outcome = JobOutcome(run, ifile.path, ifile.name, ifile.filetype, policy, total)
    if upload:
        command = upload_command(ifile.name, ifile.filetype, policy)
        kept = journal.script_text(run)
        journal.start_import(
            run,
            file=str(ifile.path),
            name=ifile.name,
            sha256=ifile.sha256,
            filetype=ifile.filetype,
            error_policy=policy,
            command=command,
            operations=[(op.position, op.line, op.operation, op.fdn) for op in ifile.operations],
            text=ifile.text if kept != ifile.text else None,
        )
        say(
            f"uploading {ifile.name}: {total} operation(s) as one import job ({ifile.filetype}, --error {policy}) "
            f"to {backend.target}"
        )
        try:
            answer = backend.upload(command, ifile.name, ifile.data)
        except EnmError as err:
            if err.sent:
                journal.finish_run(run, "failed")  # the job stays 'uploading': its existence is unknown
                record = journal.import_job(run)
                outcome.uncertain, outcome.answer = True, [str(err)]
                outcome.sent = record.uploaded if record is not None else None
                return outcome
            journal.import_answered(run, None, "refused", f"not sent: {err}")
            journal.finish_run(run, "failed")
            outcome.refused, outcome.answer = True, [str(err)]
            return outcome
        job_id = job_id_of(answer.lines)
        if job_id is None:
            journal.import_answered(run, None, "refused", answer.text)
            journal.finish_run(run, "failed")
            outcome.refused, outcome.answer = True, answer.lines
            return outcome
        journal.import_answered(run, job_id, "polling", answer.text)
        outcome.uploaded = True
        say(f"job {job_id} started; its status is read every {poll_interval:g} s (for at most {timeout:g} s)")
    else:
        job = journal.import_job(run)
        assert job is not None and job.job_id is not None
        job_id = job.job_id
        outcome.reattached, outcome.policy = True, job.error_policy  # the job's, whatever --error says now
        replay_job(backend, journal, run)
        say(f"re-attaching to job {job_id} of run {run} (uploaded {job.uploaded}); it is not uploaded again")
    outcome.job_id = job_id
    return _follow(outcome, ifile, backend, journal, poll_interval, timeout, on_progress, sleep, clock)


def _read_status(
    backend: Backend, job_id: int, verbose: bool, sleep: Callable[[float], None], interval: float
) -> tuple[JobStatus | None, list[str]]:
    """The job's status, read again after a failed read (at most :data:`POLL_FAILURES` in a row);
    None and what was answered when it cannot be read."""
    last: list[str] = []
    for attempt in range(POLL_FAILURES):
        if attempt:
            sleep(interval)
        try:
            answer = backend.send(status_command(job_id, verbose=verbose))
        except EnmError as err:
            last = [str(err)]
            continue
        status = parse_status(answer.lines, job_id)
        if status.status is not None:
            return status, answer.lines
        last = answer.lines
        if status.errors:
            break  # ENM answered with an error: asking again would not change it
    return None, last


def _follow(
    outcome: JobOutcome,
    ifile: ImportFile,
    backend: Backend,
    journal: Journal,
    poll_interval: float,
    timeout: float,
    on_progress: Progress | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> JobOutcome:
    """Poll the job until it ends (or `timeout`), then journal every operation's outcome."""
    run, job_id = outcome.run, outcome.job_id
    assert job_id is not None
    deadline = clock() + timeout
    started = clock()
    while True:
        status, lines = _read_status(backend, job_id, False, sleep, poll_interval)
        if status is None:
            journal.finish_run(run, "failed")
            outcome.unfinished, outcome.answer = True, lines or ["no answer"]
            return outcome
        journal.import_polled(run, status.status, status.detail)
        outcome.status, outcome.detail = status.status, status.detail
        if on_progress and status.done is not None:
            on_progress(min(status.done, outcome.total), outcome.total)
        if status.ended:
            break
        if clock() >= deadline:
            journal.finish_run(run, "failed")
            outcome.unfinished, outcome.answer = True, lines
            return outcome
        sleep(poll_interval)
    verbose, lines = _read_status(backend, job_id, True, sleep, poll_interval)
    if verbose is None:
        journal.finish_run(run, "failed")
        outcome.unfinished, outcome.answer = True, lines or ["no answer"]
        return outcome
    outcome.status = verbose.status or outcome.status
    outcome.detail = verbose.detail if verbose.status else outcome.detail
    completed = (outcome.status or "").upper() == "COMPLETED" and (outcome.detail or "").upper() == "COMPLETED"
    unread = SCHEMA_FAILED.match(outcome.detail or "") is not None and not verbose.operations
    outcomes, extra = match_outcomes(ifile.operations, verbose.operations, completed, unread=unread)
    journal.import_ended(run, outcome.status, outcome.detail, outcomes)
    outcome.extra = [f"{r.operation or '?'} {r.fdn}: {r.state or ''} {r.message or ''}".strip() for r in extra]
    outcome.answer = [x for x in (outcome.status, outcome.detail) if x]
    outcome.seconds = clock() - started
    _count(outcome, journal)
    if on_progress:
        on_progress(outcome.applied, outcome.total)
    journal.finish_run(run, "done" if outcome.ok else "failed")
    return outcome


def _outcome_of(journal: Journal, run: int, ifile: ImportFile, policy: str) -> JobOutcome:
    """A run that finished, as the journal says it ended."""
    job = journal.import_job(run)
    outcome = JobOutcome(run, ifile.path, ifile.name, ifile.filetype, policy, len(ifile.operations))
    if job is not None:
        outcome.job_id, outcome.status, outcome.detail = job.job_id, job.status, job.status_detail
        outcome.total, outcome.policy = job.operations, job.error_policy
    _count(outcome, journal)
    return outcome


# -- the rollback --------------------------------------------------------------------------------


ROLLBACK_OF = "#rollback-of-run-"


def upload_name(path: Path | str, filetype: str) -> str:
    """The name a file is uploaded as (``file:NAME``): its own name, or for the rollback computed
    for run N of ``DIR/plan.dynamic.txt`` (``DIR/plan.dynamic.txt#rollback-of-run-N``)
    ``plan.dynamic.rollback-of-run-N.txt``."""
    text = str(path)
    if ROLLBACK_OF not in text:
        return Path(text).name
    base, run = text.rsplit(ROLLBACK_OF, 1)
    suffix = ".txt" if filetype == "dynamic" else ".xml"
    name = Path(base).name
    stem = name[: -len(suffix)] if name.endswith(suffix) else name
    return f"{stem}.rollback-of-run-{run}{suffix}"


def paired_rollback(ifile: ImportFile) -> ImportFile | None:
    """The rollback file ``rtbfast plan`` wrote with `ifile` (``plan.json`` beside it lists the
    two with their sha256), checked unchanged; None when `ifile` is not a plan's file as written."""
    report = ifile.path.parent / "plan.json"
    try:
        listed = json.loads(report.read_text(encoding="utf-8")).get("imports", {})
    except (OSError, ValueError, AttributeError):
        return None
    for entries in listed.values() if isinstance(listed, dict) else []:
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("file") != ifile.path.name:
                continue
            if entry.get("sha256") != ifile.sha256:
                return None
            path = ifile.path.parent / str(entry.get("rollback"))
            route = "dynamic" if ifile.filetype == "dynamic" else "3gpp"
            back = read_import_file(path, route)
            if back.sha256 != entry.get("rollback_sha256"):
                raise ExecutionError(
                    f"{path}: changed since rtbfast plan wrote it ({report} lists another sha256): it is not the "
                    f"rollback of {ifile.path} any more"
                )
            return back
    return None


def _written(steps: pa.Table, filetype: str, catalog: CatalogView, where: str) -> bytes:
    """Plan `steps` written as an import file of `filetype`, as ``rtbfast plan`` writes it."""
    from rtbfast.enm.dialects import bulkcm_tables, dynamic_blocks
    from rtbfast.enm.planning import _naming

    if filetype == "dynamic":
        return "".join(dynamic_blocks(steps, naming=_naming(catalog), where=where)).encode("utf-8")
    from rtbfast.network_writer import write_network_xml

    with tempfile.TemporaryDirectory(prefix="rtbfast-rollback-") as folder:
        path = write_network_xml(bulkcm_tables(steps, where=where), Path(folder) / "rollback.xml")
        return path.read_bytes()


def rollback_file(
    journal: Journal,
    undone: Run,
    *,
    network: NetworkIndex | None,
    catalog: CatalogView | None,
    allow_unknown: bool = False,
) -> tuple[ImportFile | None, int, str]:
    """The import file that undoes what the job of run `undone` applied, how many applied
    operations it undoes, and where it comes from: ``rtbfast plan``'s rollback file when every
    operation applied and the file is a plan's as written; else the rollback of exactly the
    applied operations, computed from `network` (as it was before the run) with `catalog`, in
    the same format. None when nothing applied. Refused while any operation's outcome is not
    known."""
    job = journal.import_job(undone.id)
    if job is None or job.state == "refused":
        return None, 0, "nothing was applied (ENM started no job)"
    if job.state == "uploading":
        raise ExecutionError(
            f"{undone.script}: the upload of run {undone.id} got no answer, so what it applied is not known; "
            "settle it first with --resume, then roll back"
        )
    if job.state == "polling":
        raise ExecutionError(
            f"{undone.script}: job {job.job_id} of run {undone.id} has not been seen to end; follow it to its end "
            "with --resume, then roll back"
        )
    records = journal.import_operations(undone.id)
    unsure = [r for r in records if r.result in ("unknown", "pending")]
    if unsure:
        r = unsure[0]
        raise ExecutionError(
            f"{undone.script}: the outcome of {len(unsure)} operation(s) of job {job.job_id} is not known (the "
            f"first: {r.operation} {r.fdn}: {r.message or 'not listed'}); check them on the node: rtbfast rolls "
            "back only what is known to have applied"
        )
    applied = [r for r in records if r.result == "applied"]
    if not applied:
        return None, 0, f"nothing was applied by job {job.job_id}"
    ifile = journaled_file(journal, undone)
    if len(applied) == len(records):
        on_disk = ifile.path
        try:
            current = read_import_file(on_disk, "dynamic" if ifile.filetype == "dynamic" else "3gpp")
        except (InputError, OSError):
            current = None
        if current is not None and current.sha256 == ifile.sha256:
            paired = paired_rollback(current)
            if paired is not None:
                return paired, len(applied), f"{paired.path}, which rtbfast plan wrote with {on_disk.name}"
    if network is None or catalog is None:
        raise ExecutionError(
            f"the rollback of the {len(applied)} operation(s) job {job.job_id} applied (of {len(records)}) is "
            f"computed from --catalog and --network (the network as it was before run {undone.id}): give them"
        )
    from rtbfast.enm.rollback import rollback_plan

    done = [ifile.operations[r.position] for r in applied]
    plan = import_plan(done, catalog, str(ifile.path))
    undo = rollback_plan(plan, network, catalog, allow_unknown=allow_unknown)
    path = Path(f"{ifile.path}#rollback-of-run-{undone.id}")
    name = upload_name(path, ifile.filetype)
    data = _written(undo, ifile.filetype, catalog, name)
    operations = read_operations(data, ifile.filetype, name) if undo.num_rows else []
    back = ImportFile(path, name, ifile.filetype, data, hashlib.sha256(data).hexdigest(), operations)
    how = f"the rollback of the {len(applied)} applied operation(s), computed from --network"
    return (back if operations else None), len(applied), how
