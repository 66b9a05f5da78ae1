"""An offline simulator of ENM applying a Plan or cmedit commands to a copy of a Network.

Each command is checked as ENM and the node would: the MO exists (and for a create, does not
yet, its parent does, its class may be a child there within the containment's cardinality, the
mandatory attributes are given), the attributes exist and may be written (not read-only;
restricted only at create), the values pass the catalog's constraints (the native evaluator),
the MO or the cell above it is LOCKED where an attribute requires it, a deleted MO has no
children left (but with ``-ALL``) and a lockable one is LOCKED. It answers as ENM does
(``1 instance(s) updated``, ``N instance(s) deleted``, ``Error <code> : <text>``).

The state is the network read plus overlays: each applied step adds the rows it writes (with
its step number), and created and deleted MOs are remembered; :meth:`Simulator.tables`
resolves them into ``mos`` and ``values`` tables again, column-wise. A plan's consecutive sets
are checked and applied together, as one Arrow batch. A recreated MO gets back the read-only
attributes the node computes, from the network first read.

Import jobs (``cmedit import``, enm-cli.md §7-§9; :meth:`Simulator.execute_import`): a dynamic
file (read by :func:`rtbfast.enm.dynamic.read_dynamic`) or a 3GPP Bulk CM file (read by
``rtbfast.read_network``) becomes a job with an id. Its operations are first validated as a
whole (each checked on the network as the valid operations before it leave it), then executed
in order under the job's execution policy (``--error stop|node|operation``), each checked and
applied as a command is; consecutive sets are checked as one batch. Its status answers as a
table (``cmedit import -st -j ID``, with ``-v`` a row per operation). What of this is ENM's
published behaviour and what is the simulator's own reading is in ``docs/enm.md`` (Import jobs).
"""

from __future__ import annotations

import bisect
import itertools
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast import _native
from rtbfast.catalog_view import ADMIN, CatalogView
from rtbfast.enm import cmedit
from rtbfast.enm.plan import _string, value_violations
from rtbfast.network_index import NetworkIndex
from rtbfast.schemas import SEP, SIMULATED_VALUES_SCHEMA

if TYPE_CHECKING:
    from rtbfast.enm.imports import ImportOperation


@dataclass
class Response:
    """What ENM answered one command: its lines, and whether it succeeded."""

    ok: bool
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _error(code: int, text: str) -> Response:
    return Response(False, [f"Error {code} : {text}"])


def _node_error(text: str) -> Response:
    return _error(9999, f"Execution Error (RESPONSE ERROR MESSAGE FROM NODE: [{text}])")


UPDATED = Response(True, ["1 instance(s) updated"])

# what the native check of a run of sets finds on a row (rtbfast._native.check_sets)
_MISSING, _UNKNOWN, _READ_ONLY, _RESTRICTED, _LOCKED_ONLY = 1, 2, 4, 8, 16

VALIDATION_FAILURES = (
    "Error 7042 : There are validation failures. Please consult the description of the errors reported in the "
    "import verbose job status."
)
"""ENM's words for an import job whose operations fail validation (enm-cli.md §7, §10)."""
SCHEMA_FAILED = "Error 7025 : Schema validation failed."
"""ENM's words for an import file that is not the format it is said to be (enm-cli.md §7, §10)."""
EXECUTION_ERRORS = "Execution errors: {n} operation(s) failed; see the import verbose job status"
"""The simulator's own ``Status detail`` for a job whose operations failed at execution (the
node refused them): ENM's words for it are not published."""

JOB_COLUMNS = (
    "Job ID",
    "Status",
    "Status detail",
    "Start date/time",
    "End date/time",
    "File Name",
    "Configuration",
    "Managed objects created",
    "Managed objects updated",
    "Managed objects deleted",
    "Actions performed",
)
"""The columns of the simulator's ``cmedit import -st -j ID`` table: ENM's labels as Ericsson's
and operators' tools read them (``Status``, ``Status detail``; ``Job ID``, ``Start
date/time``, ``End date/time``, ``File Name``, ``Managed objects …``, ``Actions performed``);
their order is the simulator's."""
OPERATION_COLUMNS = ("Line Number", "Operation Type", "FDN", "Import status message", "Failure Reason", "Update Time")
"""The columns of a verbose status's operation rows (labels as operators' tools read them)."""

IN_PROGRESS = "IN PROGRESS"


@dataclass
class ImportJob:
    """An import job of the simulator: its file, policy, outcome and operations' outcomes."""

    id: int
    name: str
    filetype: str
    policy: str
    started: float
    """When it was created (``time.time()``)."""
    seconds: float
    """How long it answers ``IN PROGRESS`` before its outcome."""
    status: str
    detail: str
    rows: list[tuple[int | None, str, str, str, str]] = field(default_factory=list)
    """Per operation: line, operation type, FDN, state, failure reason."""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def results(self) -> list[str]:
        """Per operation, what it came to: ``applied``, ``failed`` or ``not_applied``."""
        return [
            "applied" if state == "executed" else "failed" if state in ("invalid", "execution-error") else "not_applied"
            for _, _, _, state, _ in self.rows
        ]


_IMPORT_VALUED = {
    "-f": "file",
    "--file": "file",
    "-ft": "filetype",
    "--filetype": "filetype",
    "-e": "error",
    "--error": "error",
    "-j": "job",
    "--job": "job",
    "-t": "target",
    "--target": "target",
    "--validate": "validate",
}
_IMPORT_FLAGS = {"-st": "status", "--status": "status", "-v": "verbose", "--verbose": "verbose"}
_OP_TYPES = {"create": "create", "set": "update", "delete": "delete"}


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _node_of(fdn: str) -> str:
    found = re.search(r"(?:^|,)(?:MeContext|ManagedElement)=([^,]+)", fdn)
    return found.group(1) if found else fdn


def _failure_text(response: Response, fdn: str) -> str:
    """An operation's failure as the verbose status gives it (ENM's error, or the node's)."""
    if any(line.strip() == "0 instance(s) found" for line in response.lines):
        return f"Error 10004 : The MO specified does not exist - {fdn}"
    return " ".join(line.strip() for line in response.lines if line.strip())


_MODEL_KNOWN = ("is read-only", "is restricted", "mandatory attribute")


def _at_execution(response: Response) -> bool:
    """A refusal made when the operation is executed, which validation cannot see: the node's,
    but for what the model says (read-only, restricted, mandatory attributes), which ENM's
    validation knows."""
    text = response.text
    return "RESPONSE ERROR MESSAGE FROM NODE" in text and not any(k in text for k in _MODEL_KNOWN)


@dataclass
class Applied:
    """A plan applied: the responses of the steps run (in order), and the step that failed."""

    responses: list[tuple[int, Response]] = field(default_factory=list)
    failed_step: int | None = None

    @property
    def ok(self) -> bool:
        return self.failed_step is None


class Simulator:
    def __init__(self, tables: dict[str, pa.Table], catalog: CatalogView) -> None:
        self.base = tables
        self._index: NetworkIndex | None = None
        self.cat = catalog
        self.flags = catalog.attribute_flags()
        self.admin = catalog.admin_classes()
        self.containment = catalog.containment()
        self.system_created = catalog.system_created
        self._names: Any = None
        self._base_view: _native.NetworkView | None = None
        self.overlays: list[pa.Table] = []
        self.version = 0
        self.removed_at: dict[str, int] = {}
        self.created: dict[str, dict[str, Any]] = {}
        """fdn → its ``mos`` row, for MOs created here (kept if deleted again: `removed_at`)."""
        self.created_at: dict[str, int] = {}
        self.admin_state: dict[str, str | None] = {}
        self.children_created: dict[str, list[str]] = defaultdict(list)
        self.jobs: dict[int, ImportJob] = {}
        """Import jobs by id."""
        self.uploads: list[tuple[int, str]] = []
        """Every ``cmedit import -f`` that created a job: (job id, file name)."""
        self.import_job_seconds = 0.0
        """How long a new import job answers ``IN PROGRESS`` before its outcome (to rehearse polling)."""

    @cached_property
    def sequences(self) -> set[tuple[str, str]]:
        """(class, attribute) pairs the catalog says are sequences."""
        kinds = self.cat.kinds
        return {
            (c, a)
            for c, a, q in zip(*(kinds[n].to_pylist() for n in ("class", "attribute", "is_sequence")), strict=True)
            if q
        }

    @cached_property
    def mandatory(self) -> dict[str, set[str]]:
        """class → the attributes a create must give (the naming attribute aside)."""
        out: dict[str, set[str]] = defaultdict(set)
        for (c, a), f in self.flags.items():
            if f.get("mandatory") and a not in (f"{c}Id", c[:1].lower() + c[1:] + "Id"):
                out[c].add(a)
        return out

    @property
    def base_view(self) -> _native.NetworkView:
        """The MOs of the network first read, indexed natively (made when first needed)."""
        if self._base_view is None:
            from rtbfast.network_index import native_view

            self._base_view = native_view(self.base["mos"], None)
        return self._base_view

    @property
    def index(self) -> NetworkIndex:
        """The network first read, indexed (made when first needed: a run of sets on existing
        MOs does without it)."""
        if self._index is None:
            self._index = NetworkIndex(self.base)
        return self._index

    # -- the state ----------------------------------------------------------------------------

    def exists(self, fdn: str) -> bool:
        removed = self.removed_at.get(fdn)
        created = self.created_at.get(fdn)
        if created is not None and (removed is None or created > removed):
            return True
        return removed is None and fdn in self.index.row_of

    def class_of(self, fdn: str) -> str | None:
        if fdn in self.created and self.exists(fdn):
            return str(self.created[fdn]["class"])
        row = self.index.row_of.get(fdn)
        return self.index.cls[row] if row is not None else None

    def children(self, fdn: str) -> list[str]:
        out = []
        row = self.index.row_of.get(fdn)
        if row is not None:
            out += [self.index.fdn[c] for c in self.index.children.get(row, [])]
        out += self.children_created.get(fdn, [])
        return [c for c in dict.fromkeys(out) if self.exists(c)]

    def value(self, fdn: str, attribute: str) -> Any:
        """The current value of one attribute (scalar text; None when unset)."""
        if attribute == ADMIN and fdn in self.admin_state:
            return self.admin_state[fdn]
        for overlay in reversed(self.overlays):
            hit = overlay.filter(pc.and_(pc.equal(overlay["fdn"], fdn), pc.equal(overlay["attribute"], attribute)))
            if hit.num_rows:
                return hit["value"][0].as_py()
        row = self.index.row_of.get(fdn)
        if row is None or self.removed_at.get(fdn) is not None:
            return None
        return self.index.value(row, attribute)

    def _lock_target(self, fdn: str) -> str | None:
        parts = fdn.split(",")
        for i in range(len(parts), 0, -1):
            candidate = ",".join(parts[:i])
            cls = self.class_of(candidate)
            if cls in self.admin and self.exists(candidate):
                return candidate
        return None

    # -- plans ----------------------------------------------------------------------------------

    def apply_plan(self, plan: pa.Table, *, stop_on_error: bool = True) -> Applied:
        """Apply `plan` step by step (consecutive sets together); stop at the first error."""
        result = Applied()
        if not plan.num_rows:
            return result
        # steps become versions of the state: after everything applied so far
        base = self.version + 1
        plan = plan.set_column(plan.schema.get_field_index("step"), "step", pc.add(plan["step"], base))
        self.version = base + int(pc.max(plan["step"]).as_py()) - base
        steps = plan["step"].combine_chunks()
        ops = plan["op"].combine_chunks()
        n = plan.num_rows
        # runs of rows: consecutive set/lock/unlock steps make one run
        kind = pc.if_else(pc.is_in(ops, value_set=pa.array(["set", "lock", "unlock"])), "set", ops)
        change = (
            pc.or_(
                pc.not_equal(kind.slice(1), kind.slice(0, n - 1)),
                pc.and_(pc.not_equal(kind.slice(1), "set"), pc.not_equal(steps.slice(1), steps.slice(0, n - 1))),
            )
            if n > 1
            else pa.array([], pa.bool_())
        )
        bounds = [0, *(int(i) + 1 for i in pc.indices_nonzero(change).to_pylist()), n]
        for a, b in itertools.pairwise(bounds):
            part = plan.slice(a, b - a)
            op = part["op"][0].as_py()
            if op in ("set", "lock", "unlock"):
                responses, failed = self._apply_sets(part, shift=base)
                result.responses.extend(responses)
                if failed is not None:
                    result.failed_step = failed - base
                    if stop_on_error:
                        break
                continue
            if op == "create":
                responses, failed = self._apply_create(part)
            elif op == "delete":
                responses, failed = self._apply_delete(
                    part["fdn"][0].as_py(), int(part["step"][0].as_py()), whole=False
                )
            else:
                responses, failed = [(int(part["step"][0].as_py()), UPDATED)], None
            result.responses.extend((step - base, response) for step, response in responses)
            if failed is not None:
                result.failed_step = failed - base
                if stop_on_error:
                    break
        return result

    def _rows(self, part: pa.Table, version: pa.Array | int) -> pa.Table:
        n = part.num_rows
        versions = pa.array([version] * n, pa.int64()) if isinstance(version, int) else version
        member = part["member"]
        return pa.table(
            {
                "fdn": _string(part["fdn"]),
                "attribute": _string(part["attribute"]),
                "member": _string(member),
                "index": part["index"].cast(pa.int32()),
                "member_index": pc.if_else(pc.is_valid(member), pa.scalar(0, pa.int32()), pa.scalar(None, pa.int32())),
                "value": part["value"],
                "vs_data": pa.array([True] * n, pa.bool_()),
                "version": versions,
            },
            schema=SIMULATED_VALUES_SCHEMA,
        )

    def _apply_sets(self, part: pa.Table, shift: int = 0) -> tuple[list[tuple[int, Response]], int | None]:
        """A run of set steps: checked together, applied up to the first failing step. The
        responses' steps are told less `shift` (the failed step is not)."""
        failures = self._check_sets(part)
        steps = pc.unique(part["step"])  # in order: a plan's rows come by step
        failed = min(failures) if failures else None
        good = part if failed is None else part.filter(pc.less(part["step"], failed))
        self._commit_sets(good)
        done = steps if failed is None else steps.filter(pc.less(steps, failed))
        if shift:
            done = pc.subtract(done, shift)
        responses = list(zip(done.to_pylist(), itertools.repeat(UPDATED)))
        if failed is not None:
            responses.append((failed - shift, failures[failed]))
        return responses, failed

    def _commit_sets(self, good: pa.Table) -> None:
        """Set steps found good, applied: their rows become an overlay (versioned by step)."""
        if not good.num_rows:
            return
        self.overlays.append(self._rows(good, good["step"].cast(pa.int64())))
        admin = good.filter(pc.equal(good["attribute"], ADMIN))
        for fdn, value in zip(admin["fdn"].to_pylist(), admin["value"].to_pylist(), strict=True):
            self.admin_state[fdn] = value

    def _check_sets(self, part: pa.Table) -> dict[int, Response]:
        """Every failing step of a run of set steps, checked together (each step sees the
        locks of the steps before it in the run), with ENM's answer; nothing applied. The rows
        are checked natively (the MO exists, the attribute is known and writable); ENM's
        answers are worded here, first the MOs missing, then unknown, read-only, restricted and
        locked attributes, then the values."""
        fdns = _string(part["fdn"]).combine_chunks()
        rows = pa.table({"fdn": fdns, "attribute": _string(part["attribute"])})
        created = {f: str(r["class"]) for f, r in self.created.items() if self.exists(f)}
        checked = pa.table(_native.check_sets(rows, self.base_view, self.cat.native, list(self.removed_at), created))
        cls = checked["class"].combine_chunks()
        problems = checked["problems"]
        failures: dict[int, Response] = {}
        if pc.max(problems).as_py() or 0:
            flagged = pa.table(
                {"step": part["step"], "fdn": fdns, "class": cls, "attribute": rows["attribute"], "problems": problems}
            ).filter(pc.not_equal(problems, 0))
            bits = [(r, r["problems"]) for r in flagged.to_pylist()]
            for r, b in bits:
                if b & _MISSING:
                    failures.setdefault(r["step"], _error(10004, f"The MO specified does not exist - {r['fdn']}"))
            for r, b in bits:
                if b & _UNKNOWN:
                    failures.setdefault(
                        r["step"],
                        _error(
                            1010,
                            f"An unknown attribute has been encountered; name {r['attribute']} in the MO class "
                            f'{r["class"]}. Verify valid attributes for the MO class using "cmedit describe '
                            f'{r["class"]}.*"',
                        ),
                    )
            for r, b in bits:
                if b & _READ_ONLY:
                    failures.setdefault(r["step"], _node_error(f"{r['attribute']} is read-only"))
            for r, b in bits:
                if b & _RESTRICTED:
                    failures.setdefault(
                        r["step"],
                        _node_error(f"{r['attribute']} is restricted: it is set only when {r['class']} is created"),
                    )
            locked = [r for r, b in bits if b & _LOCKED_ONLY]
            if locked:
                writes = self._admin_writes(part)
                for step, fdn, attribute in dict.fromkeys((r["step"], r["fdn"], r["attribute"]) for r in locked):
                    target = self._lock_target(fdn)
                    if target is not None and self._state_at(target, step, writes) != "LOCKED":
                        failures.setdefault(
                            step, _node_error(f"{attribute} can only be changed when {target} is LOCKED")
                        )
        self._value_failures(part, cls, failures)
        return failures

    @staticmethod
    def _admin_writes(part: pa.Table) -> dict[str, tuple[list[int], list[Any]]]:
        """The administrative states a run of set steps writes, per MO: steps (ascending, as a
        plan's rows come) and values."""
        admin = part.filter(pc.equal(part["attribute"], ADMIN))
        out: dict[str, tuple[list[int], list[Any]]] = {}
        for step, fdn, value in zip(
            admin["step"].to_pylist(), admin["fdn"].to_pylist(), admin["value"].to_pylist(), strict=True
        ):
            steps, values = out.setdefault(fdn, ([], []))
            steps.append(step)
            values.append(value)
        return out

    def _state_at(self, target: str, step: int, writes: dict[str, tuple[list[int], list[Any]]]) -> Any:
        """The administrative state of `target` when `step` runs (a lock earlier in the run,
        `writes`, counts)."""
        found = writes.get(target)
        if found is not None:
            at = bisect.bisect_left(found[0], step)
            if at:
                return found[1][at - 1]
        return self.value(target, ADMIN)

    def _value_failures(self, part: pa.Table, cls: pa.Array, failures: dict[int, Response]) -> None:
        rows = pa.table(
            {
                "step": part["step"],
                "fdn": _string(part["fdn"]),
                "class": cls,
                "attribute": _string(part["attribute"]),
                "member": _string(part["member"]),
                "index": part["index"],
                "value": part["value"],
            }
        )
        if not rows.num_rows:
            return
        bad = value_violations(rows, self.cat)  # (the rows with a value and a class)
        if bad.num_rows:
            bad = self._not_held(bad)
        if not bad.num_rows:
            return
        # the step of each refused value: of the rows of the MOs refused only
        rows = rows.filter(pc.and_(pc.is_valid(rows["value"]), pc.is_valid(rows["class"])))
        named = rows.filter(pc.is_in(rows["fdn"], value_set=pc.unique(bad["subject"])))
        key = pc.binary_join_element_wise(named["fdn"], named["attribute"], SEP)
        step_of = dict(zip(key.to_pylist(), named["step"].to_pylist(), strict=True))
        for v in bad.to_pylist():
            step = step_of.get(f"{v['subject']}{SEP}{v['attribute']}")
            if step is not None:
                member = f".{v['member']}" if v["member"] else ""
                possible = v["expected"] or v["message"]
                failures.setdefault(
                    step,
                    _error(
                        1009,
                        f"An incorrect value ({v['value']}) has been encountered for {v['attribute']}{member} "
                        f"possible value(s) {possible}",
                    ),
                )

    def _not_held(self, bad: pa.Table) -> pa.Table:
        """Of the values the catalog refuses, those the network first read did not hold on that
        MO: a value the node held is restored (a rollback) as it was, since the node took it
        once (an export's ``qRxLevMin=-139`` against a resolution of 2)."""
        held = self.index.value_rows(pc.unique(bad["subject"]))
        if not held.num_rows:
            return bad

        def keys(t: pa.Table, fdn: str) -> pa.Array:
            return pc.binary_join_element_wise(
                _string(t[fdn]),
                _string(t["attribute"]),
                pc.fill_null(_string(t["member"]), ""),
                pc.cast(pc.fill_null(t["index"], 0), pa.string()),
                pc.fill_null(t["value"], "\x00"),
                SEP,
            )

        return bad.filter(pc.invert(pc.is_in(keys(bad, "subject"), value_set=keys(held, "fdn"))))

    def _apply_create(self, part: pa.Table) -> tuple[list[tuple[int, Response]], int | None]:
        step = int(part["step"][0].as_py())
        fdn = str(part["fdn"][0].as_py())
        cls = str(part["class"][0].as_py())
        if self.exists(fdn):
            return [(step, _error(9999, f"Execution Error (the MO {fdn} already exists)"))], step
        parent = fdn.rsplit(",", 1)[0] if "," in fdn else None
        if parent is None or not self.exists(parent):
            return [(step, _error(10004, f"The MO specified does not exist - {parent}"))], step
        parent_cls = self.class_of(parent) or ""
        if (
            self.containment
            and (parent_cls, cls) not in self.containment
            and any(p == parent_cls for p, _ in self.containment)
        ):
            return [(step, _error(1012, f"Invalid MO type, {cls} not found as a child of {parent_cls}"))], step
        limit = self.containment.get((parent_cls, cls))
        if limit is not None:
            siblings = sum(1 for c in self.children(parent) if self.class_of(c) == cls)
            if siblings + 1 > limit:
                return [(step, _node_error(f"{parent} holds {siblings} {cls}, at most {limit}"))], step
        if cls in self.system_created:
            return [(step, _node_error(f"{cls} MOs are created by the node"))], step
        values = part.filter(pc.is_valid(part["attribute"]))
        given = set(values["attribute"].to_pylist())
        # either spelling of a name a class has in two MIMs gives it (eutranFrequencyRef)
        given_names = {a.lower() for a in given}
        missing = sorted({a for a in self.mandatory.get(cls, set()) if a.lower() not in given_names}, key=str.lower)
        missing = [a for i, a in enumerate(missing) if a.lower() not in {m.lower() for m in missing[:i]}]
        if missing:
            return [(step, _node_error(f"the mandatory attribute(s) {', '.join(missing)} of {cls} are missing"))], step
        for attribute in given:
            f = self.flags.get((cls, attribute))
            if f is None:
                return [
                    (
                        step,
                        _error(
                            1010,
                            f"An unknown attribute has been encountered; name {attribute} in the MO class {cls}. "
                            f'Verify valid attributes for the MO class using "cmedit describe {cls}.*"',
                        ),
                    )
                ], step
            if f.get("read_only"):
                return [(step, _node_error(f"{attribute} is read-only"))], step
        failures: dict[int, Response] = {}
        if values.num_rows:
            self._value_failures(values, pa.array([cls] * values.num_rows, pa.string()), failures)
        if failures:
            return [(step, failures[step])], step
        self.version = max(self.version, step)
        self.created_at[fdn] = step
        base_row = self.index.row_of.get(fdn)
        if base_row is not None:
            self.created[fdn] = self.base["mos"].slice(base_row, 1).to_pylist()[0]
        else:
            self.created[fdn] = {
                "fdn": fdn,
                "class": cls,
                "id": fdn.rsplit("=", 1)[-1],
                "parent_fdn": parent,
                "depth": fdn.count(","),
                "vs_data_type": f"vsData{cls}",
                "format_version": None,
                "modifier": None,
            }
        self.children_created[parent].append(fdn)
        rows = values.filter(pc.is_valid(values["value"]))
        parts = [self._rows(rows, step)] if rows.num_rows else []
        if base_row is not None:
            parts.append(self._restored(fdn, cls, step, set(rows["attribute"].to_pylist())))
            parts.extend(self._revived(fdn, step))
        if parts:
            self.overlays.append(pa.concat_tables(parts))
        for attribute, value in zip(values["attribute"].to_pylist(), values["value"].to_pylist(), strict=True):
            if attribute == ADMIN:
                self.admin_state[fdn] = value
        return [(step, UPDATED)], None

    def _revived(self, fdn: str, step: int) -> list[pa.Table]:
        """A recreated MO's children the node creates (those it had, with their values then):
        a rollback sets their configuration back."""
        out: list[pa.Table] = []
        pending = list(self.index.children.get(self.index.row_of[fdn], []))
        while pending:
            row = pending.pop()
            child = self.index.fdn[row]
            if self.index.cls[row] not in self.system_created or self.exists(child):
                continue
            self.created_at[child] = step
            self.created[child] = self.base["mos"].slice(row, 1).to_pylist()[0]
            self.children_created[fdn].append(child)
            out.append(self._restored(child, self.index.cls[row], step, set(), everything=True))
            pending.extend(self.index.children.get(row, []))
        return out

    def _restored(self, fdn: str, cls: str, step: int, given: set[str], *, everything: bool = False) -> pa.Table:
        """The read-only attributes of a recreated MO, as the node computes them: those it had."""
        values = self.base.get("values")
        if values is None:
            return SIMULATED_VALUES_SCHEMA.empty_table()
        runs = self.index._value_runs().get(self.index.row_of[fdn], [])
        mine = pa.concat_tables([values.slice(a, b - a) for a, b in runs]) if runs else values.slice(0, 0)
        attrs = _string(mine["attribute"])
        if everything:
            keep = mine
        else:
            read_only = [a for (c, a), f in self.flags.items() if c == cls and f.get("read_only") and a not in given]
            keep = mine.filter(pc.is_in(attrs, value_set=pa.array(read_only, pa.string())))
        return _state_rows(keep, step)

    def _apply_delete(self, fdn: str, step: int, *, whole: bool) -> tuple[list[tuple[int, Response]], int | None]:
        if not self.exists(fdn):
            return [(step, Response(False, ["0 instance(s) found"]))], step
        cls = self.class_of(fdn)
        if cls in self.system_created and self.exists(fdn.rsplit(",", 1)[0]):
            return [(step, _node_error(f"{cls} MOs are created by the node: {fdn} cannot be deleted"))], step
        subtree = [fdn]
        pending = list(self.children(fdn))
        while pending:
            f = pending.pop()
            subtree.append(f)
            pending.extend(self.children(f))
        # the MOs the node created go with their parent; any other child must go first
        blocking = [f for f in subtree[1:] if not self._node_made(f, subtree)]
        if blocking and not whole:
            return [(step, _node_error(f"{fdn} has {len(blocking)} child MO(s): delete them first, or use -ALL"))], step
        for f in subtree:
            cls = self.class_of(f)
            if cls in self.admin and self.value(f, ADMIN) not in (None, "LOCKED"):
                return [(step, _node_error(f"{f} must be LOCKED before it is deleted"))], step
        self.version = max(self.version, step)
        for f in subtree:
            self.removed_at[f] = step
            self.admin_state.pop(f, None)
        return [(step, Response(True, [f"{len(subtree)} instance(s) deleted"]))], None

    def _node_made(self, fdn: str, going: list[str]) -> bool:
        """Whether `fdn` is created by the node under a parent that goes too (so it goes with
        it): its class is system-created, and so is every MO between it and the one deleted."""
        parent = fdn.rsplit(",", 1)[0]
        return self.class_of(fdn) in self.system_created and (parent == going[0] or self._node_made(parent, going))

    # -- commands ---------------------------------------------------------------------------------

    def execute(self, line: str, step: int | None = None) -> Response:
        """Run one cmedit command line on an MO (an FDN, or a node name and the RDNs below its
        ManagedElement) and answer as ENM."""
        try:
            command = cmedit.parse_line(line)
        except cmedit.CmeditSyntaxError as err:
            return _error(4020, f"Command syntax error, {err.message} (column {err.column})")
        step = self.version + 1 if step is None else step
        self.version = max(self.version, step)
        words = command.words
        if not words:
            return _error(4020, f"Command syntax error, '{command.verb}' needs an FDN")
        fdn = self._fdn_of(words)
        if fdn is None:
            return _error(
                1049,
                "The scope is incorrect or not associated with any node: the simulator runs commands on one MO "
                "(an FDN, or a node and the RDNs below its ManagedElement)",
            )
        if command.verb == "get":
            return self._get(fdn)
        response = self._change(command, fdn, step)
        if response.ok:
            # ENM names the MO it changed before the count (enm-cli.md §3, §4.4)
            return Response(True, [f"FDN : {fdn}", *response.lines])
        return response

    def _change(self, command: cmedit.Command, fdn: str, step: int) -> Response:
        """A set, create, delete or action of one MO."""
        if command.verb == "action":
            if not self.exists(fdn):
                return _error(10004, f"The MO specified does not exist - {fdn}")
            return UPDATED
        if command.verb == "delete":
            options = command.options
            responses, _ = self._apply_delete(
                fdn, step, whole="-ALL" in options or "--all" in options or "-all" in options or "--ALL" in options
            )
            return responses[0][1]
        cls = fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        rows = cmedit.assignment_rows(command.assignments)
        if command.verb == "create":
            naming = {f"{cls}Id", cls[:1].lower() + cls[1:] + "Id"}
            rows = [r for r in rows if r[0] not in naming]
        table = _plan_rows(
            step, command.verb if command.verb == "create" else "set", fdn, self.class_of(fdn) or cls, rows
        )
        if command.verb == "create":
            responses, _ = self._apply_create(table)
        else:
            responses, _ = self._apply_sets(table)
        return responses[-1][1]

    def _fdn_of(self, words: list[str]) -> str | None:
        if self._names is None:
            from rtbfast.enm.script import NodeNames

            self._names = NodeNames(self.index)
        found: str | None = self._names.fdn_of(words)
        return found

    def _get(self, fdn: str) -> Response:
        """``cmedit get FDN`` as ENM prints it: ``FDN : …`` then ``attribute : value`` lines,
        structs as ``{member=value, …}`` and sequences as ``[…]``."""
        if not self.exists(fdn):
            return Response(True, ["0 instance(s)"])
        lines = [f"FDN : {fdn}"]
        values = self.tables(fdns=[fdn])["values"]
        shown: dict[str, dict[int, list[tuple[str | None, str]]]] = {}
        for r in values.select(["attribute", "member", "index", "value"]).to_pylist():
            shown.setdefault(r["attribute"], {}).setdefault(r["index"] or 0, []).append((r["member"], r["value"]))
        for attribute, items in shown.items():
            texts = []
            for _, parts in sorted(items.items()):
                if parts[0][0] is None:
                    texts.append(parts[0][1])
                else:
                    texts.append("{" + ", ".join(f"{m}={v}" for m, v in parts) + "}")
            sequence = (self.class_of(fdn), attribute) in self.sequences or len(texts) > 1
            lines.append(f"{attribute} : {'[' + ', '.join(texts) + ']' if sequence else texts[0]}")
        return Response(True, [*lines, "", "1 instance(s)"])

    # -- import jobs ----------------------------------------------------------------------------

    def execute_import(self, command: str, file: tuple[str, bytes] | None = None) -> Response:
        """``cmedit import -f file:NAME --filetype dynamic|3GPP [--error stop|node|operation]``
        with the file uploaded (`file`: its name and bytes), or ``cmedit import -st -j ID
        [-v]``, answered as ENM (enm-cli.md §7): the job id, or the job's status table."""
        words = command.split()
        if words[:2] != ["cmedit", "import"]:
            return _error(4020, "Command syntax error, expected 'cmedit import'")
        options: dict[str, str] = {}
        flags: set[str] = set()
        i = 2
        while i < len(words):
            word = words[i]
            if word in _IMPORT_FLAGS:
                flags.add(_IMPORT_FLAGS[word])
            elif word in _IMPORT_VALUED and i + 1 < len(words):
                options[_IMPORT_VALUED[word]] = words[i + 1]
                i += 1
            else:
                return _error(4020, f"Command syntax error, unexpected '{word}' in the import command")
            i += 1
        if "status" in flags:
            job_id = options.get("job", "")
            if not job_id.isdigit():
                return _error(4020, "Command syntax error, the status of a job needs -j <job id>")
            job = self.jobs.get(int(job_id))
            if job is None:
                return _error(4020, f"Command syntax error, there is no import job with the id {job_id}")
            return Response(True, self._import_status(job, verbose="verbose" in flags))
        where = options.get("file", "")
        if not where.startswith("file:") or len(where) <= len("file:"):
            return _error(4020, "Command syntax error, the import file is given as -f file:<name>")
        name = where[len("file:") :]
        if file is None or file[0] != name:
            return _error(4020, f"Command syntax error, no file {name} was uploaded with the command")
        filetype = options.get("filetype", "")
        if filetype.lower() not in ("dynamic", "3gpp"):
            return _error(4020, "Command syntax error, --filetype is dynamic or 3GPP")
        policy = options.get("error", "stop")
        if policy not in ("stop", "node", "operation"):
            return _error(4020, "Command syntax error, --error is stop, node or operation")
        if options.get("target", "Live") != "Live" or "validate" in options:
            return _error(4020, "Command syntax error, the simulator imports into Live, with instance validation")
        job = self.run_import(name, file[1], "3GPP" if filetype.lower() == "3gpp" else "dynamic", policy)
        self.uploads.append((job.id, name))
        return Response(True, [f"job setup successful with job ID {job.id}"])

    def run_import(
        self,
        name: str,
        data: bytes,
        filetype: str,
        policy: str,
        *,
        job_id: int | None = None,
        started: float | None = None,
    ) -> ImportJob:
        """Run an import file as a job (under `job_id`, or a new id) and keep it. Its outcome is
        known at once; its status answers ``IN PROGRESS`` until :attr:`import_job_seconds` after
        `started` (default: now)."""
        from rtbfast.enm.imports import read_operations
        from rtbfast.errors import RtbfastError

        number = job_id if job_id is not None else max(self.jobs, default=0) + 1
        now = time.time() if started is None else started
        job = ImportJob(number, name, filetype, policy, now, self.import_job_seconds, "FAILED", SCHEMA_FAILED)
        self.jobs[number] = job
        try:
            operations = read_operations(data, filetype, name)
        except (RtbfastError, ValueError, UnicodeDecodeError):
            return job  # not the format: no operation parsed
        states = self._run_operations(operations, policy)
        invalid = sum(1 for state, _ in states if state == "invalid")
        errors = sum(1 for state, _ in states if state == "execution-error")
        if invalid and policy == "stop":
            job.status, job.detail = "FAILED", VALIDATION_FAILURES
        elif errors and policy == "stop":
            job.status, job.detail = "FAILED", EXECUTION_ERRORS.format(n=errors)
        elif invalid:
            job.status, job.detail = "COMPLETED", VALIDATION_FAILURES
        elif errors:
            job.status, job.detail = "COMPLETED", EXECUTION_ERRORS.format(n=errors)
        else:
            job.status, job.detail = "COMPLETED", "COMPLETED"
        for op, (state, reason) in zip(operations, states, strict=True):
            job.rows.append((op.line, _OP_TYPES[op.operation], op.fdn, state, reason))
            if state == "executed":
                key = {"create": "created", "set": "updated", "delete": "deleted"}[op.operation]
                job.counts[key] = job.counts.get(key, 0) + 1
        return job

    def _import_status(self, job: ImportJob, *, verbose: bool) -> list[str]:
        running = time.time() < job.started + job.seconds
        ended = _when(job.started + job.seconds)
        row = [
            str(job.id),
            IN_PROGRESS if running else job.status,
            "" if running else job.detail,
            _when(job.started),
            "" if running else ended,
            job.name,
            "Live",
            *("0" if running else str(job.counts.get(k, 0)) for k in ("created", "updated", "deleted", "actions")),
        ]
        lines = ["\t".join(JOB_COLUMNS), "\t".join(row)]
        if verbose and not running:
            lines += ["", "\t".join(OPERATION_COLUMNS)]
            lines += [
                "\t".join(("" if line is None else str(line), kind, fdn, state, reason, ended))
                for line, kind, fdn, state, reason in job.rows
            ]
        return lines

    def _snapshot(self) -> tuple[Any, ...]:
        return (
            list(self.overlays),
            self.version,
            dict(self.removed_at),
            dict(self.created),
            dict(self.created_at),
            dict(self.admin_state),
            {k: list(v) for k, v in self.children_created.items()},
        )

    def _restore(self, snapshot: tuple[Any, ...]) -> None:
        overlays, self.version, removed, created, created_at, admin, children = snapshot
        self.overlays, self.removed_at, self.created, self.created_at = overlays, removed, created, created_at
        self.admin_state = admin
        self.children_created = defaultdict(list, children)

    def _run_operations(self, operations: list[ImportOperation], policy: str) -> list[tuple[str, str]]:
        """Each operation's state (``executed``, ``execution-error``, ``execution-skipped``,
        ``invalid``, ``valid``) and failure reason.

        Validation first: every operation checked, in order, on the network as the valid ones
        before it leave it (a dry run, undone after); what it refuses is ``invalid`` (all but the
        refusals only the node makes at execution). With an invalid operation, ``stop`` executes
        nothing; ``node`` skips the nodes holding one; ``operation`` skips the invalid ones. Then
        the rest is executed in order: at an execution error ``stop`` stops the job, ``node``
        skips the rest of that node, ``operation`` goes on with the next operation."""
        from rtbfast.enm.imports import operation_rows

        n = len(operations)
        if not n:
            return []
        base = self.version + 1
        table = operation_rows(operations, base)
        nodes = [_node_of(op.fdn) for op in operations]
        starts = [0] * (n + 1)
        for op in operations:
            starts[op.position + 1] = starts[op.position] + len(op.rows) + (0 if op.operation == "set" else 1)
        admin = [any(r[0] == ADMIN for r in op.rows) for op in operations]
        everything = list(range(n))
        snapshot = self._snapshot()
        try:
            dry = self._execute_operations(table, operations, everything, "operation", nodes, starts, admin, base)
        finally:
            self._restore(snapshot)
        invalid = {p: text for p, (done, text, later) in dry.items() if done is False and not later}
        states: list[tuple[str, str]] = [("valid", "")] * n
        for p, text in invalid.items():
            states[p] = ("invalid", text)
        if invalid and policy == "stop":
            self.version = base + n
            return states
        bad_nodes = {nodes[p] for p in invalid} if policy == "node" else set()
        runnable = [p for p in everything if p not in invalid and nodes[p] not in bad_nodes]
        for p in everything:
            if p not in invalid and nodes[p] in bad_nodes:
                states[p] = ("execution-skipped", f"not executed: an operation on node {nodes[p]} failed validation")
        results = self._execute_operations(table, operations, runnable, policy, nodes, starts, admin, base)
        for p, (done, text, _) in results.items():
            if done is True:
                states[p] = ("executed", "")
            elif done is False:
                states[p] = ("execution-error", text)
            else:
                states[p] = ("execution-skipped", text)
        self.version = max(self.version, base + n)
        return states

    def _execute_operations(
        self,
        table: pa.Table,
        operations: list[ImportOperation],
        order: list[int],
        policy: str,
        nodes: list[str],
        starts: list[int],
        admin: list[bool],
        base: int,
    ) -> dict[int, tuple[bool | None, str, bool]]:
        """Execute the operations at `order` (positions, ascending) under `policy`: per
        position, (True: done / False: failed / None: skipped, the reason, whether the failure
        is one only execution finds). Consecutive sets are checked as one batch."""
        results: dict[int, tuple[bool | None, str, bool]] = {}
        failed_nodes: set[str] = set()
        stopped_at: list[int] = []

        def rows_of(positions: list[int]) -> pa.Table:
            if len(positions) == positions[-1] - positions[0] + 1:
                return table.slice(starts[positions[0]], starts[positions[-1] + 1] - starts[positions[0]])
            indices = [i for p in positions for i in range(starts[p], starts[p + 1])]
            return table.take(pa.array(indices, pa.int64()))

        def skip(p: int) -> bool:
            if stopped_at:
                results[p] = (None, f"not executed: the job stopped at operation {stopped_at[0] + 1}", False)
                return True
            if policy == "node" and nodes[p] in failed_nodes:
                results[p] = (None, f"not executed: an operation on node {nodes[p]} failed", False)
                return True
            return False

        def failed(p: int, response: Response) -> None:
            results[p] = (False, _failure_text(response, operations[p].fdn), _at_execution(response))
            if policy == "stop":
                stopped_at.append(p)
            elif policy == "node":
                failed_nodes.add(nodes[p])

        i = 0
        while i < len(order):
            p = order[i]
            kind = operations[p].operation
            if kind != "set":
                i += 1
                if skip(p):
                    continue
                part = rows_of([p])
                if kind == "create":
                    responses, failure = self._apply_create(part)
                else:
                    responses, failure = self._apply_delete(operations[p].fdn, base + p, whole=False)
                if failure is None:
                    results[p] = (True, "", False)
                else:
                    failed(p, responses[-1][1])
                continue
            j = i
            while j < len(order) and operations[order[j]].operation == "set":
                j += 1
            remaining = list(order[i:j])
            i = j
            while remaining:
                live = [p for p in remaining if not skip(p)]
                if not live:
                    break
                failures = {step - base: response for step, response in self._check_sets(rows_of(live)).items()}
                # a failing lock or unlock: what comes after it may have counted on it, so it is
                # decided up to there and the rest checked again
                cut = next((p for p in live if p in failures and admin[p] and p != live[-1]), None)
                decided = [p for p in live if cut is None or p <= cut]
                good: list[int] = []
                for p in decided:
                    if skip(p):
                        continue
                    if p in failures:
                        failed(p, failures[p])
                        continue
                    good.append(p)
                if good:
                    self._commit_sets(rows_of(good))
                    for p in good:
                        results[p] = (True, "", False)
                remaining = [p for p in live if cut is not None and p > cut]
        return results

    # -- the result -------------------------------------------------------------------------------

    def tables(self, fdns: list[str] | None = None) -> dict[str, pa.Table]:
        """The network as it is now: ``mos`` and ``values`` (in the columns the reader gives)."""
        base_mos = self.base["mos"]
        base_values = self.base["values"]
        removed = pa.array(sorted(self.removed_at), pa.string())
        mos = base_mos.filter(pc.invert(pc.is_in(base_mos["fdn"], value_set=removed)))
        revived = [r for f, r in self.created.items() if self.exists(f)]
        if revived:
            extra = pa.Table.from_pylist(revived, schema=base_mos.schema)
            # a recreated MO sits where it was
            keep = pc.invert(pc.is_in(mos["fdn"], value_set=extra["fdn"]))
            mos = pa.concat_tables([mos.filter(keep), extra])
        plain = _state_rows(base_values, -1)
        if fdns is not None:
            wanted = pa.array(fdns, pa.string())
            plain = plain.filter(pc.is_in(plain["fdn"], value_set=wanted))
            mos = mos.filter(pc.is_in(mos["fdn"], value_set=wanted))
        plain = plain.filter(pc.invert(pc.is_in(plain["fdn"], value_set=removed)))
        if self.overlays:
            over = pa.concat_tables(self.overlays)
            if fdns is not None:
                over = over.filter(pc.is_in(over["fdn"], value_set=pa.array(fdns, pa.string())))
            # rows written before their MO was deleted are gone
            if self.removed_at:
                cut = pc.take(
                    pa.array(list(self.removed_at.values()), pa.int64()),
                    pc.index_in(over["fdn"], value_set=pa.array(list(self.removed_at), pa.string())),
                )
                over = over.filter(pc.or_(pc.is_null(cut), pc.greater(over["version"], pc.fill_null(cut, -1))))
            key = pc.binary_join_element_wise(over["fdn"], over["attribute"], SEP)
            over = over.append_column("key", key)
            latest = over.group_by("key", use_threads=False).aggregate([("version", "max")])
            at = pc.index_in(over["key"], value_set=latest["key"])
            newest = pc.take(latest["version_max"], at)
            over = over.filter(pc.equal(over["version"], newest))
            base_key = pc.binary_join_element_wise(plain["fdn"], plain["attribute"], SEP)
            plain = plain.filter(pc.invert(pc.is_in(base_key, value_set=over["key"])))
            over = over.filter(pc.is_valid(over["value"])).drop_columns(["key"])
            plain = pa.concat_tables([plain, over])
        values = plain.drop_columns(["version"])
        return {"mos": mos, "values": values}


def _state_rows(values: pa.Table, version: int) -> pa.Table:
    """A network's value rows in the simulator's state columns (plain text, a version)."""
    n = values.num_rows
    return pa.table(
        {
            "fdn": _string(values["fdn"]),
            "attribute": _string(values["attribute"]),
            "member": _string(values["member"]),
            "index": values["index"],
            "member_index": values["member_index"]
            if "member_index" in values.column_names
            else pa.nulls(n, pa.int32()),
            "value": values["value"],
            "vs_data": values["vs_data"] if "vs_data" in values.column_names else pa.array([True] * n, pa.bool_()),
            "version": pa.array([version] * n, pa.int64()),
        },
        schema=SIMULATED_VALUES_SCHEMA,
    )


def _plan_rows(
    step: int, op: str, fdn: str, cls: str, rows: list[tuple[str, str | None, int | None, str | None]]
) -> pa.Table:
    n = len(rows) + (1 if op == "create" else 0)
    attrs = ([None] if op == "create" else []) + [r[0] for r in rows]
    return pa.table(
        {
            "step": pa.array([step] * n, pa.int64()),
            "op": pa.array([op] * n, pa.string()),
            "fdn": pa.array([fdn] * n, pa.string()),
            "class": pa.array([cls] * n, pa.string()),
            "attribute": pa.array(attrs, pa.string()),
            "member": pa.array(([None] if op == "create" else []) + [r[1] for r in rows], pa.string()),
            "index": pa.array(([None] if op == "create" else []) + [r[2] for r in rows], pa.int32()),
            "value": pa.array(([None] if op == "create" else []) + [r[3] for r in rows], pa.string()),
        }
    )


def canonical(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """A network's ``mos`` and ``values`` sorted and in plain text columns, for comparing two
    networks table for table."""
    mos = tables["mos"]
    mos = pa.table(
        {
            c: _string(mos[c]) if pa.types.is_dictionary(mos[c].type) else mos[c]
            for c in ("fdn", "class", "id", "parent_fdn")
        }
    )
    values = tables["values"]
    values = pa.table(
        {
            "fdn": _string(values["fdn"]),
            "attribute": _string(values["attribute"]),
            "member": _string(values["member"]),
            "index": values["index"].cast(pa.int32()),
            "value": values["value"],
        }
    )
    return {
        "mos": mos.sort_by("fdn"),
        "values": values.sort_by(
            [("fdn", "ascending"), ("attribute", "ascending"), ("index", "ascending"), ("member", "ascending")]
        ),
    }
