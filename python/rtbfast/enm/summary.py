"""The summary of a plan, for the operator who reviews it before the night's work: what
changes where (per node and class), the locks the plan takes, what takes effect only at a cell
unlock or a node restart (with the step offered), the impact the Disturbances texts give, the
route recommended (commands one by one, or import jobs) with each route's duration estimated,
and what the planner noted. Written as Markdown and as a self-contained HTML page."""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.schemas import PLAN_SUMMARY_CHANGES_SCHEMA

if TYPE_CHECKING:
    from rtbfast.enm.planning import Planned

RESTART_ACTION = (
    'manualRestart.(restartRank=RESTART_WARM,restartReason=PLANNED_RECONFIGURATION,restartInfo="rtbfast plan")'
)
"""The restart offered (``ManagedElement.manualRestart``, as Ericsson's tests call it,
enm-cli.md §6.3); a RadioNode restarts through ``FieldReplaceableUnit.restartUnit`` instead."""


SECONDS_PER_COMMAND = 1.0
"""rtbfast's default round trip of one command on ENM (see :data:`COMMAND_SOURCE`)."""
COMMAND_SOURCE = (
    "rtbfast's default, an assumption: a command is a round trip through ENM's scripting service (the command "
    "posted, then its output polled, which ENM holds up to 1000 ms; enm-cli.md §1.1) and the node's answer, "
    "about a second; `rtbfast journal` measures it on a run on ENM (the median round trip of its commands): give "
    "that with --seconds-per-command"
)
IMPORT_RATE = 100.0
"""rtbfast's default operations per second of an ENM import job (see :data:`IMPORT_SOURCE`)."""
IMPORT_OVERHEAD = 30.0
"""rtbfast's default seconds an import job costs whatever its size (see :data:`IMPORT_SOURCE`)."""
IMPORT_SOURCE = (
    "rtbfast's defaults, assumptions (the reference publishes no throughput of ENM's import): 100 operations/s "
    "and 30 s a job for the upload, the validation and the status polls; `rtbfast journal` measures a job run on "
    "ENM (its operations per second from upload to end): give that with --import-rate and --import-job-overhead"
)


@dataclass(frozen=True)
class RouteTiming:
    """The figures the routes' durations are estimated with, and where each comes from."""

    seconds_per_command: float = SECONDS_PER_COMMAND
    import_rate: float = IMPORT_RATE
    """Operations per second of an import job."""
    import_overhead: float = IMPORT_OVERHEAD
    """Seconds an import job costs whatever its size."""
    command_source: str = COMMAND_SOURCE
    import_source: str = IMPORT_SOURCE


def duration(seconds: float) -> str:
    """``45 s``, ``12 min 30 s``, ``41 h 40 min``, ``3 d 2 h``."""
    s = round(seconds)
    if s < 60:
        return f"{max(s, 0)} s" if seconds >= 0.5 else "under 1 s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    if s < 86400:
        m = round(s / 60)
        return f"{m // 60} h {m % 60} min" if m % 60 else f"{m // 60} h"
    h = round(s / 3600)
    return f"{h // 24} d {h % 24} h" if h % 24 else f"{h // 24} d"


def route_facts(
    commands: int | None, imports: dict[str, list[dict[str, Any]]], counts: dict[str, Any], timing: RouteTiming
) -> dict[str, Any]:
    """Each route the written files offer, its estimated duration, and the one recommended
    (the fastest that runs the plan as planned): the cmedit script at a round trip per command
    (`commands`, None when it was not written), and each import dialect as jobs (a job per file
    of `imports`, ``plan.json``'s entries) at a rate per operation plus a cost per job. A 3GPP
    file leaves out lock and unlock steps, so with locks in the plan it is not recommended."""
    routes: list[dict[str, Any]] = []
    if commands is not None:
        routes.append(
            {
                "route": "commands",
                "dialect": "cmedit",
                "files": ["plan.cmedit"],
                "jobs": 0,
                "operations": commands,
                "seconds": commands * timing.seconds_per_command,
                "how": f"{commands:,} command(s) one by one at {timing.seconds_per_command:g} s each",
                "runs_the_plan": True,
            }
        )
    locks = int(counts.get("lock", 0)) + int(counts.get("unlock", 0))
    for dialect, entries in imports.items():
        operations = sum(int(e["operations"]) for e in entries)
        jobs = len(entries)
        runs = dialect == "dynamic" or not locks
        routes.append(
            {
                "route": "import jobs",
                "dialect": dialect,
                "files": [e["file"] for e in entries],
                "jobs": jobs,
                "operations": operations,
                "seconds": jobs * timing.import_overhead + operations / timing.import_rate,
                "how": (
                    f"{jobs:,} job(s) of {operations:,} operation(s) at {timing.import_rate:g} operation(s)/s, "
                    f"plus {timing.import_overhead:g} s a job"
                ),
                "runs_the_plan": runs,
                "why_not": None
                if runs
                else f"a 3GPP file leaves out the plan's {locks} lock and unlock step(s): the sets that need them fail",
            }
        )
    candidates = [r for r in routes if r["runs_the_plan"]]
    best = min(candidates, key=lambda r: (r["seconds"], r["route"] != "commands")) if candidates else None
    return {
        "routes": routes,
        "recommended": None if best is None else {"route": best["route"], "dialect": best["dialect"]},
        "timing": {
            "seconds_per_command": timing.seconds_per_command,
            "command_source": timing.command_source,
            "import_rate": timing.import_rate,
            "import_overhead": timing.import_overhead,
            "import_source": timing.import_source,
        },
    }


def _run_lines(route: dict[str, Any]) -> list[str]:
    """How to run a route with ``rtbfast apply`` (ENM's address left to fill)."""
    files = route["files"]
    apply = "rtbfast apply {} --backend enm --url https://ENM"
    if route["route"] == "commands" or len(files) == 1:
        return [apply.format(f"PLAN/{files[0]}") + (" --error stop" if route["route"] != "commands" else "")]
    suffix = "txt" if route["dialect"] == "dynamic" else "xml"
    pattern = f"PLAN/plan.{route['dialect']}.[0-9]*.{suffix}"
    return [
        f"for f in {pattern}; do " + apply.format('"$f"') + " --error stop || break; done",
        f"(undo, last part first: for f in $(ls -r {pattern}); do "
        + apply.format('"$f"')
        + " --rollback || break; done)",
    ]


def _route_markdown(route: dict[str, Any]) -> list[str]:
    out = ["", "## Route and duration", ""]
    if not route["routes"]:
        return [*out, "No route: neither the cmedit script nor an import file was written."]
    out += ["| route | files | what runs | estimate |", "|---|---|---|---:|"]
    for r in route["routes"]:
        files = r["files"][0] if len(r["files"]) == 1 else f"{r['files'][0]} … {r['files'][-1]} ({len(r['files'])})"
        name = r["route"] if r["route"] == "commands" else f"import jobs ({r['dialect']})"
        note = "" if r["runs_the_plan"] else f" — not as planned: {r['why_not']}"
        out.append(f"| {name} | `{files}` | {r['how']}{note} | {duration(r['seconds'])} |")
    best = route["recommended"]
    out.append("")
    if best is None:
        out.append("No route runs the plan as planned.")
    else:
        chosen = next(r for r in route["routes"] if r["route"] == best["route"] and r["dialect"] == best["dialect"])
        name = "commands (plan.cmedit)" if chosen["route"] == "commands" else f"import jobs ({chosen['dialect']})"
        out.append(f"**Recommended: {name}**, about {duration(chosen['seconds'])}. Run it with:")
        out += ["", "```sh", *_run_lines(chosen), "```"]
    t = route["timing"]
    out += [
        "",
        f"- a command: {t['seconds_per_command']:g} s — {t['command_source']}",
        f"- an import job: {t['import_rate']:g} operation(s)/s plus {t['import_overhead']:g} s — {t['import_source']}",
    ]
    return out


def _route_html(route: dict[str, Any]) -> str:
    e = html.escape
    parts = ["<h2>Route and duration</h2>"]
    if not route["routes"]:
        return parts[0] + "<p>No route: neither the cmedit script nor an import file was written.</p>"
    parts.append("<table><tr><th>route</th><th>files</th><th>what runs</th><th>estimate</th></tr>")
    for r in route["routes"]:
        files = r["files"][0] if len(r["files"]) == 1 else f"{r['files'][0]} … {r['files'][-1]} ({len(r['files'])})"
        name = r["route"] if r["route"] == "commands" else f"import jobs ({r['dialect']})"
        note = "" if r["runs_the_plan"] else f" <span class=warn>not as planned: {e(r['why_not'])}</span>"
        parts.append(
            f"<tr><td>{e(name)}</td><td><code>{e(files)}</code></td><td>{e(r['how'])}{note}</td>"
            f"<td class=n>{e(duration(r['seconds']))}</td></tr>"
        )
    parts.append("</table>")
    best = route["recommended"]
    if best is None:
        parts.append("<p class=warn>No route runs the plan as planned.</p>")
    else:
        chosen = next(r for r in route["routes"] if r["route"] == best["route"] and r["dialect"] == best["dialect"])
        name = "commands (plan.cmedit)" if chosen["route"] == "commands" else f"import jobs ({chosen['dialect']})"
        parts.append(
            f"<p><b>Recommended: {e(name)}</b>, about {e(duration(chosen['seconds']))}. Run it with:</p><pre><code>"
            + "\n".join(e(line) for line in _run_lines(chosen))
            + "</code></pre>"
        )
    t = route["timing"]
    parts.append(
        f"<ul><li>a command: {t['seconds_per_command']:g} s — {e(t['command_source'])}</li>"
        f"<li>an import job: {t['import_rate']:g} operation(s)/s plus {t['import_overhead']:g} s — "
        f"{e(t['import_source'])}</li></ul>"
    )
    return "".join(parts)


def _element(fdn: str) -> str:
    parts = fdn.split(",")
    for i, rdn in enumerate(parts):
        if rdn.startswith("ManagedElement="):
            return ",".join(parts[: i + 1])
    return fdn


def _lock_target(fdn: str, admin: set[str]) -> str | None:
    parts = fdn.split(",")
    for i in range(len(parts), 0, -1):
        if parts[i - 1].split("=", 1)[0] in admin:
            return ",".join(parts[:i])
    return None


_NODE = r"(?:^|,)(?:MeContext|ManagedElement)=(?P<n>[^,]+)"
LISTED = 500
"""Rows of a list the summary shows; past that it says how many more."""
TOP_NODES = 50
"""Nodes the summary counts the steps of (those with the most)."""
STEPS_SHOWN = 2000
"""Steps the summary shows one by one (old → new and the command); all are in plan.parquet."""


class ShownSteps:
    """The first :data:`STEPS_SHOWN` steps of a plan for the summary, gathered as the plan's
    windows of steps are written (:meth:`add_plan`): each step's MO, its values old → new and
    its cmedit command; the old values are the rollback's (:meth:`add_rollback`: what the
    network holds before the plan, for the attributes of the steps kept). Holds no more than
    the steps kept."""

    def __init__(self, *, form: str = "fdn", naming: dict[str, str] | None = None, limit: int = STEPS_SHOWN) -> None:
        self.form, self.naming, self.limit = form, naming or {}, limit
        self._plan: list[pa.Table] = []
        self._commands: dict[int, str] = {}
        self._old: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._keys: tuple[pa.Array, pa.Array] | None = None
        self.held = 0
        self.unwritable = False

    def add_plan(self, window: pa.Table) -> None:
        """A window of the plan's steps, in step order."""
        if self.held >= self.limit or not window.num_rows:
            return
        from rtbfast.enm.dialects import UnwritableError, cmedit_lines

        steps = pc.unique(window["step"])[: self.limit - self.held]
        head = window.filter(pc.is_in(window["step"], value_set=steps))
        self._plan.append(head)
        self.held += len(steps)
        try:
            lines = cmedit_lines(head, form=self.form, naming=self.naming, where="summary")
        except UnwritableError:
            self.unwritable = True
            return
        self._commands.update(zip(steps.to_pylist(), lines.to_pylist(), strict=True))

    def _key_arrays(self) -> tuple[pa.Array, pa.Array]:
        """The MOs of the steps kept, and their (MO, attribute) keys."""
        if self._keys is None:
            plan = pa.concat_tables(self._plan) if self._plan else None
            if plan is None or not plan.num_rows:
                self._keys = (pa.array([], pa.string()), pa.array([], pa.string()))
            else:
                key = pc.binary_join_element_wise(plan["fdn"], pc.fill_null(plan["attribute"], ""), "\x1f")
                self._keys = (pc.unique(plan["fdn"]), pc.unique(key))
        return self._keys

    def add_rollback(self, window: pa.Table) -> None:
        """A window of the rollback's steps, in step order: the values it writes back of the
        attributes the steps kept write (the last write of one is its value before the plan)."""
        mos, keys = self._key_arrays()
        if not len(keys) or not window.num_rows:
            return
        # the MOs kept first (a plain match on one column), then their attributes
        writing = window.filter(
            pc.and_(
                pc.is_in(window["fdn"], value_set=mos),
                pc.is_in(window["op"], value_set=pa.array(["set", "create"])),
            )
        )
        if not writing.num_rows:
            return
        key = pc.binary_join_element_wise(writing["fdn"], pc.fill_null(writing["attribute"], ""), "\x1f")
        found = writing.filter(pc.is_in(key, value_set=keys))
        latest: dict[tuple[str, str], tuple[int, list[dict[str, Any]]]] = {}
        for r in found.select(["step", "fdn", "attribute", "member", "index", "value", "is_sequence"]).to_pylist():
            k = (r["fdn"], r["attribute"])
            step, rows = latest.get(k, (r["step"], []))
            if step != r["step"]:
                rows = []
            rows.append(r)
            latest[k] = (r["step"], rows)
        for k, (_, rows) in latest.items():
            self._old[k] = rows

    def rows(self) -> list[dict[str, Any]]:
        """One row per step kept: step, phase, op, node, class, fdn, changes (one line per
        attribute, ``attribute: old → new``), command."""
        import re

        if not self._plan:
            return []
        plan = pa.concat_tables(self._plan)
        columns = ["step", "phase", "op", "fdn", "class", "attribute", "member", "index", "value", "is_sequence"]
        out: list[dict[str, Any]] = []
        node_of = re.compile(_NODE)
        by_step: dict[int, list[dict[str, Any]]] = {}
        for r in plan.select(columns).to_pylist():
            by_step.setdefault(r["step"], []).append(r)
        for step, rows in by_step.items():
            first = rows[0]
            attributes: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                if r["attribute"] is not None:
                    attributes.setdefault(r["attribute"], []).append(r)
            lines = []
            for attribute, written in attributes.items():
                old = self._old.get((first["fdn"], attribute))
                before = "—" if first["op"] == "create" or not old else _rendered(old)
                after = "—" if first["op"] == "delete" else _rendered(written)
                lines.append(f"{attribute}: {before} → {after}")
            found = node_of.search(first["fdn"])
            out.append(
                {
                    "step": step,
                    "phase": first["phase"],
                    "op": first["op"],
                    "node": found.group("n") if found else first["fdn"],
                    "class": first["class"],
                    "fdn": first["fdn"],
                    "changes": "\n".join(lines),
                    "command": self._commands.get(step, ""),
                }
            )
        return out


def _rendered(rows: list[dict[str, Any]]) -> str:
    """The value of one attribute from its rows (a struct's members, a sequence's items), as
    cmedit writes one: ``v``, ``[a,b]``, ``(m=v,n=w)``."""
    if any(r["member"] is not None for r in rows):
        items: dict[int, list[str]] = {}
        for r in rows:
            items.setdefault(r["index"] or 0, []).append(f"{r['member']}={'' if r['value'] is None else r['value']}")
        parts = ["(" + ",".join(v) + ")" for v in items.values()]
    else:
        parts = ["" if r["value"] is None else str(r["value"]) for r in rows]
    if rows[0].get("is_sequence") or len(parts) > 1:
        return "[" + ",".join(parts) + "]"
    return parts[0] if parts else ""


@dataclass
class Listed:
    """The first items of a list (:data:`LISTED`), and how many it has."""

    first: list[Any]
    total: int

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: int) -> Any:
        return self.first[i]


@dataclass
class SummaryPart:
    """What the steps of a plan (or of a batch of its node groups, numbered in the batch)
    give the summary: counts, what changes where, the lock windows."""

    steps: int
    counts: dict[str, int]
    nodes: set[str]
    mos: int
    changes: pa.Table
    """node, class, mos, create, set, delete, attributes (a list)."""
    locks: list[dict[str, Any]]
    """Each lock step (``step``: the part's number), ``fdn``, ``phase``, ``attributes`` (the
    class.attribute that need it), ``why`` (``set`` or ``delete``)."""
    by_phase: dict[str, int]
    """Steps per phase."""
    by_node: dict[str, int]
    """Steps per node."""


def summary_part(steps: pa.Table, locks_needed: set[tuple[str, str]]) -> SummaryPart:
    """The summary's facts of `steps` (rows in step order)."""
    # one row per step, column-wise; the node of each MO by a pattern, not a loop
    first = steps.group_by("step", use_threads=False).aggregate(
        [("phase", "first"), ("op", "first"), ("fdn", "first"), ("class", "first")]
    )
    first = first.rename_columns(["step", "phase", "op", "fdn", "class"]).sort_by("step")
    node = pc.struct_field(pc.extract_regex(first["fdn"], _NODE), [0])
    first = first.append_column("node", pc.fill_null(node, first["fdn"]))
    by_op = first.group_by("op").aggregate([("step", "count")])
    counts: dict[str, int] = dict(zip(by_op["op"].to_pylist(), by_op["step_count"].to_pylist(), strict=True))
    changing = first.filter(pc.is_in(first["op"], value_set=pa.array(["create", "set", "delete"])))
    per_op = changing.group_by(["node", "class", "op"]).aggregate([("step", "count")]).to_pylist()
    mos = changing.group_by(["node", "class"]).aggregate([("fdn", "count_distinct")]).to_pylist()
    # attributes written per node and class (by creates and sets)
    writing = pc.and_(pc.is_valid(steps["attribute"]), pc.is_in(steps["op"], value_set=pa.array(["create", "set"])))
    written = steps.filter(writing)
    at = pc.index_in(written["step"], value_set=first["step"])
    named = pa.table({"node": pc.take(first["node"], at), "class": written["class"], "attribute": written["attribute"]})
    names = named.group_by(["node", "class", "attribute"]).aggregate([]).to_pylist()
    per: dict[tuple[str, str], dict[str, Any]] = {}

    def row_of(n: str, c: str) -> dict[str, Any]:
        return per.setdefault(
            (n, c), {"node": n, "class": c, "mos": 0, "create": 0, "set": 0, "delete": 0, "attributes": set()}
        )

    for r in per_op:
        row_of(r["node"], r["class"])[r["op"]] = r["step_count"]
    for r in mos:
        row_of(r["node"], r["class"])["mos"] = r["fdn_count_distinct"]
    for r in names:
        row_of(r["node"], r["class"])["attributes"].add(r["attribute"])
    changes = pa.Table.from_pylist(
        [{**r, "attributes": sorted(r["attributes"])} for r in per.values()], schema=PLAN_SUMMARY_CHANGES_SCHEMA
    )
    # lock windows: walked in step order, only when the plan locks something
    locks: list[dict[str, Any]] = []
    if counts.get("lock"):
        attributes: dict[int, list[str]] = defaultdict(list)
        for step, attribute in zip(written["step"].to_pylist(), written["attribute"].to_pylist(), strict=True):
            if attribute not in attributes[step]:
                attributes[step].append(attribute)
        open_locks: dict[str, dict[str, Any]] = {}
        for h in first.select(["step", "phase", "op", "fdn", "class"]).to_pylist():
            step = h["step"]
            if h["op"] == "lock":
                entry = {"fdn": h["fdn"], "phase": h["phase"], "step": step, "attributes": [], "why": "set"}
                locks.append(entry)
                open_locks[h["fdn"]] = entry
            elif h["op"] == "unlock":
                open_locks.pop(h["fdn"], None)
            elif h["op"] == "set" and open_locks:
                for target, entry in open_locks.items():
                    if h["fdn"] == target or h["fdn"].startswith(target + ","):
                        needs = [a for a in attributes[step] if (h["class"], a) in locks_needed]
                        entry["attributes"].extend(f"{h['class']}.{a}" for a in needs)
            elif h["op"] == "delete" and h["fdn"] in open_locks:
                open_locks[h["fdn"]]["why"] = "delete"
    nodes = set(pc.unique(first["node"]).to_pylist())

    def steps_by(column: str) -> dict[str, int]:
        c = first.group_by(column, use_threads=False).aggregate([("step", "count")])
        return dict(zip(c[column].to_pylist(), c["step_count"].to_pylist(), strict=True))

    return SummaryPart(
        steps=first.num_rows,
        counts=counts,
        nodes=nodes,
        mos=pc.count_distinct(changing["fdn"]).as_py(),
        changes=changes,
        locks=locks,
        by_phase=steps_by("phase"),
        by_node=steps_by("node"),
    )


def _changes(parts: list[pa.Table]) -> Listed:
    """What changes where, per node and class (the parts' rows of one node and class added
    up), in order of node and class."""
    table = (
        pa.concat_tables(parts, promote_options="permissive") if parts else PLAN_SUMMARY_CHANGES_SCHEMA.empty_table()
    )
    if not table.num_rows:
        return Listed([], 0)
    sums = table.group_by(["node", "class"], use_threads=False).aggregate(
        [("mos", "sum"), ("create", "sum"), ("set", "sum"), ("delete", "sum")]
    )
    sums = sums.sort_by([("node", "ascending"), ("class", "ascending")])
    head = sums.slice(0, LISTED)
    attributes = table.filter(
        pc.is_in(
            pc.binary_join_element_wise(table["node"], table["class"], "\x1f"),
            value_set=pc.binary_join_element_wise(head["node"], head["class"], "\x1f"),
        )
    )
    flat = pa.table(
        {
            "node": pc.take(attributes["node"], pc.list_parent_indices(attributes["attributes"])),
            "class": pc.take(attributes["class"], pc.list_parent_indices(attributes["attributes"])),
            "attribute": pc.list_flatten(attributes["attributes"]),
        }
    )
    named: dict[tuple[str, str], set[str]] = defaultdict(set)
    for n, c, a in zip(flat["node"].to_pylist(), flat["class"].to_pylist(), flat["attribute"].to_pylist(), strict=True):
        named[(n, c)].add(a)
    rows = [
        {
            "node": r["node"],
            "class": r["class"],
            "mos": r["mos_sum"],
            "create": r["create_sum"],
            "set": r["set_sum"],
            "delete": r["delete_sum"],
            "attributes": sorted(named[(r["node"], r["class"])]),
        }
        for r in head.to_pylist()
    ]
    return Listed(rows, sums.num_rows)


def merged_facts(
    parts: list[SummaryPart],
    *,
    catalog: Any,
    made_from: dict[str, Any],
    effects: list[dict[str, Any]],
    rollback_steps: int,
    dropped: int,
    unknown: Any,
    restored: Listed,
    notes: list[str],
) -> dict[str, Any]:
    """What the summary says, as plain data (``counts`` also kept in ``plan.json``), from the
    parts of a plan (their steps numbered in the whole plan), its `effects` (in the planner's
    order), the attributes the rollback cannot restore (`unknown`: rows ``fdn``,
    ``attribute``, ``step``, with a length) and the values it restores that the catalog
    refuses (`restored`)."""
    counts: dict[str, int] = defaultdict(int)
    nodes: set[str] = set()
    locks: list[dict[str, Any]] = []
    by_phase: dict[str, int] = defaultdict(int)
    by_node: dict[str, int] = defaultdict(int)
    for part in parts:
        for op, n in part.counts.items():
            counts[op] += n
        nodes |= part.nodes
        locks.extend(part.locks)
        for phase, n in part.by_phase.items():
            by_phase[phase] += n
        for node, n in part.by_node.items():
            by_node[node] += n
    locks.sort(key=lambda lock: int(lock["step"]))
    admin = catalog.admin_classes()
    listed: list[dict[str, Any]] = []
    timed = 0
    locked_by_plan = {lock["fdn"]: lock["step"] for lock in locks}
    impacts: dict[tuple[str, str], dict[str, Any]] = {}
    for e in effects:
        if e["disturbances"]:
            item = impacts.setdefault(
                (e["class"], e["attribute"]),
                {"class": e["class"], "attribute": e["attribute"], "disturbances": e["disturbances"], "mos": 0},
            )
            item["mos"] += 1
        if not e["when"]:
            continue
        timed += 1
        if len(listed) >= LISTED:
            continue
        offered: list[str] = []
        covered = None
        if e["when"] == "restart":
            offered = [f"cmedit action {_element(e['fdn'])} {RESTART_ACTION}"]
        elif e["when"] == "unlock":
            cell = _lock_target(e["fdn"], admin)
            if cell and cell in locked_by_plan:
                covered = locked_by_plan[cell]
            elif cell:
                offered = [
                    f"cmedit set {cell} administrativeState=LOCKED",
                    f"cmedit set {cell} administrativeState=UNLOCKED",
                ]
        listed.append({**e, "offered": offered, "covered_by_step": covered})
    return {
        "made_from": made_from,
        "counts": {
            "steps": sum(p.steps for p in parts),
            **{op: counts.get(op, 0) for op in ("create", "set", "delete", "lock", "unlock", "action")},
            "nodes": len(nodes),
            "mos": sum(p.mos for p in parts),
            "rollback_steps": rollback_steps,
            "dropped_as_already_true": dropped,
            "unknown_rollback": len(unknown),
            "restored_violations": len(restored),
        },
        "unknown_rollback": unknown,
        "restored_violations": restored,
        "changes": _changes([p.changes for p in parts]),
        "locks": Listed(locks[:LISTED], len(locks)),
        "effects": Listed(listed, timed),
        "impacts": list(impacts.values()),
        "notes": notes,
        "by_phase": dict(by_phase),
        "by_node": dict(sorted(by_node.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_NODES]),
    }


def summary_facts(planned: Planned) -> dict[str, Any]:
    """What the summary says of a plan made whole, as plain data (see :func:`merged_facts`)."""
    part = summary_part(planned.plan.steps, planned.catalog.locks)
    unknown = planned.unknown_rollback
    unknown_rows = unknown.select(["fdn", "attribute", "step"]).to_pylist() if unknown is not None else []
    restored = planned.restored_violations
    restored_rows = (
        restored.select(["subject", "attribute", "member", "index", "value", "rule", "message"]).to_pylist()
        if restored is not None
        else []
    )
    return merged_facts(
        [part],
        catalog=planned.catalog,
        made_from=planned.made_from,
        effects=planned.plan.effects,
        rollback_steps=len(set(planned.rollback["step"].to_pylist())) if planned.rollback.num_rows else 0,
        dropped=planned.plan.dropped,
        unknown=unknown_rows,
        restored=Listed(restored_rows[:LISTED], len(restored_rows)),
        notes=[str(n) for n in planned.plan.notes],
    )


def _cut(items: list[Any] | Listed, limit: int = LISTED) -> tuple[list[Any], int]:
    if isinstance(items, Listed):
        return items.first[:limit], max(0, items.total - limit)
    return items[:limit], max(0, len(items) - limit)


def summary_markdown(facts: dict[str, Any]) -> str:
    """The summary as Markdown."""
    return "".join(summary_markdown_chunks(facts))


def summary_markdown_chunks(facts: dict[str, Any]) -> Iterator[str]:
    """:func:`summary_markdown` a piece at a time (the attributes the rollback cannot restore,
    all listed, are read as they are written)."""
    c = facts["counts"]
    out = ["# Plan summary", ""]
    made = facts["made_from"]
    for key in ("template", "changeset", "network", "catalog"):
        if key in made:
            out.append(f"- {key}: `{made[key]}`")
    out += [
        "",
        f"**{c['steps']} step(s)** on {c['mos']} MO(s) of {c['nodes']} node(s): {c['create']} create, {c['set']} set, "
        f"{c['delete']} delete, {c['lock']} lock, {c['unlock']} unlock. {c['dropped_as_already_true']} attribute "
        f"write(s) left out because the network already holds the value. Rollback: {c['rollback_steps']} step(s).",
        "",
        "## What changes where",
        "",
        "| node | class | MOs | create | set | delete | attributes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    rows, more = _cut(facts["changes"])
    for r in rows:
        attrs = ", ".join(r["attributes"][:12]) + (" …" if len(r["attributes"]) > 12 else "")
        out.append(
            f"| {r['node']} | {r['class']} | {r['mos']} | {r['create']} | {r['set']} | {r['delete']} | {attrs} |"
        )
    if more:
        out.append(f"| … | {more} more row(s) in plan.parquet | | | | | |")
    out += ["", "## Locks", ""]
    if not facts["locks"]:
        out.append("No MO is locked by this plan.")
    else:
        out.append("Each MO is locked once per phase, and gets back its administrative state after.")
        out.append("")
        rows, more = _cut(facts["locks"])
        for lock in rows:
            why = (
                "to be deleted"
                if lock["why"] == "delete"
                else "for " + (", ".join(sorted(set(lock["attributes"]))) or "—")
            )
            out.append(f"- `{lock['fdn']}` (phase {lock['phase']}, step {lock['step']}): {why}")
        if more:
            out.append(f"- … {more} more")
    out += ["", "## When it takes effect", ""]
    if not facts["effects"]:
        out.append("Every change takes effect when it is set.")
    else:
        rows, more = _cut(facts["effects"])
        for e in rows:
            when = "at node restart" if e["when"] == "restart" else "at cell lock/unlock"
            out.append(f"- `{e['fdn']}` **{e['attribute']}**: {when} — {e['takes_effect']}")
            if e["covered_by_step"] is not None:
                out.append(
                    f"  - the plan's own lock (step {e['covered_by_step']}) and unlock of the cell make it take effect"
                )
            for command in e["offered"]:
                out.append(f"  - offered: `{command}`")
        if more:
            out.append(f"- … {more} more")
    out += ["", "## Impact (Disturbances)", ""]
    if not facts["impacts"]:
        out.append("The model and workbook give no disturbance for what this plan sets.")
    else:
        for i in facts["impacts"]:
            out.append(f"- **{i['class']}.{i['attribute']}** on {i['mos']} MO(s): {i['disturbances']}")
    dialects = facts.get("dialects")
    if dialects:
        out += [
            "",
            "## Dialects",
            "",
            "Written, plan and rollback: " + (", ".join(dialects["written"]) or "none") + ".",
        ]
        for dialect, problems in dialects["refused"].items():
            out += [
                "",
                f"**Not written: {dialect}.** It cannot carry {len(problems)} name(s) or value(s) of the plan or its "
                "rollback exactly (a plan is written in a dialect only with its rollback):",
                "",
            ]
            rows, more = _cut(problems, 50)
            out += [f"- {p}" for p in rows]
            if more:
                out.append(f"- … {more} more")
    if facts.get("route"):
        out += _route_markdown(facts["route"])
    out += ["", "## Rollback", ""]
    out.append(
        "The rollback writes back the values the network holds now, exactly, in reverse order: "
        f"{c['rollback_steps']} step(s)."
    )
    if facts["unknown_rollback"]:
        out += [
            "",
            f"**Not restored by the rollback ({len(facts['unknown_rollback'])}):** the export holds no value for "
            "these attributes, so their value before the plan is unknown (planned with --allow-unknown-rollback); "
            "a rollback leaves them as the plan sets them:",
            "",
        ]
        yield "".join(line + "\n" for line in out)
        out = []
        for u in facts["unknown_rollback"]:
            yield f"- `{u['fdn']}` **{u['attribute']}** (step {u['step']})\n"
    if facts["restored_violations"]:
        out += [
            "",
            f"**Warning: the rollback restores {len(facts['restored_violations'])} value(s) the catalog refuses "
            "as new values.** The network holds them (the node took them once), so they are written back as they "
            "are:",
            "",
        ]
        rows, more = _cut(facts["restored_violations"])
        for v in rows:
            member = f".{v['member']}" if v["member"] else ""
            out.append(f"- `{v['subject']}` **{v['attribute']}{member}** = `{v['value']}`: {v['rule']}: {v['message']}")
        if more:
            out.append(f"- … {more} more")
    out += ["", "## Notes", ""]
    out += [f"- {n}" for n in facts["notes"]] or ["None."]
    yield "".join(line + "\n" for line in out)


def summary_html(facts: dict[str, Any]) -> str:
    """The summary as a self-contained HTML page."""
    return "".join(summary_html_chunks(facts))


def summary_html_chunks(facts: dict[str, Any]) -> Iterator[str]:
    """:func:`summary_html` a piece at a time (see :func:`summary_markdown_chunks`): a page of
    :mod:`rtbfast.html_report`."""
    from rtbfast.html_report import bar_chart, cards, charts, data_table, page_chunks

    e = html.escape
    c = facts["counts"]
    made = facts["made_from"]
    intro = " · ".join(
        f"{k}: <code>{e(str(made[k]))}</code>" for k in ("template", "changeset", "network", "catalog") if k in made
    )
    parts = [
        cards(
            [
                ("steps", c["steps"], None),
                ("MOs", c["mos"], None),
                ("nodes", c["nodes"], None),
                ("create", c["create"], None),
                ("set", c["set"], None),
                ("delete", c["delete"], None),
                ("locks", c["lock"], None),
                ("already true", c["dropped_as_already_true"], None),
                ("rollback steps", c["rollback_steps"], None),
            ]
        ),
        charts(
            [
                bar_chart("Steps per phase", facts.get("by_phase", {}), total=c["steps"]),
                bar_chart("Steps per node", facts.get("by_node", {}), total=c["steps"]),
                bar_chart(
                    "Steps per operation",
                    {op: c[op] for op in ("create", "set", "delete", "lock", "unlock", "action") if c[op]},
                ),
            ]
        ),
    ]
    steps = facts.get("steps_shown")
    if steps is not None:
        parts.append(
            data_table(
                "Steps: old → new, and the command",
                steps,
                ("step", "phase", "op", "node", "class", "fdn", "changes", "command"),
                total=c["steps"],
                files="plan.parquet, rollback.parquet and the plan's scripts",
                headers={"fdn": "MO", "changes": "attribute: old → new"},
                types={"changes": "pre", "command": "code"},
                table_id="steps",
            )
        )
    changes, more = _cut(facts["changes"])
    parts.append(
        data_table(
            "What changes where",
            [{**r, "attributes": ", ".join(r["attributes"])} for r in changes],
            ("node", "class", "mos", "create", "set", "delete", "attributes"),
            total=len(changes) + more,
            files="plan.parquet",
            headers={"mos": "MOs"},
            table_id="changes",
        )
    )
    locks, more = _cut(facts["locks"])
    if not locks:
        parts.append("<h2>Locks</h2><p>No MO is locked by this plan.</p>")
    else:
        rows = [
            {
                "step": lock["step"],
                "phase": lock["phase"],
                "fdn": lock["fdn"],
                "why": "to be deleted"
                if lock["why"] == "delete"
                else "for " + (", ".join(sorted(set(lock["attributes"]))) or "—"),
            }
            for lock in locks
        ]
        parts.append(
            data_table(
                "Locks (each MO locked once per phase, its administrative state given back after)",
                rows,
                ("step", "phase", "fdn", "why"),
                total=len(rows) + more,
                files="plan.parquet",
                headers={"fdn": "MO locked"},
                table_id="locks",
            )
        )
    parts.append("<h2>When it takes effect</h2>")
    if not facts["effects"]:
        parts.append("<p>Every change takes effect when it is set.</p>")
    else:
        parts.append("<ul>")
        for x in _cut(facts["effects"])[0]:
            when = "at node restart" if x["when"] == "restart" else "at cell lock/unlock"
            offered = "".join(f"<br>offered: <code>{e(command)}</code>" for command in x["offered"])
            if x["covered_by_step"] is not None:
                offered += (
                    f"<br>the plan's own lock (step {x['covered_by_step']}) and unlock of the cell make it take effect"
                )
            parts.append(
                f"<li class=warn><code>{e(x['fdn'])}</code> <b>{e(x['attribute'])}</b>: {when} — "
                f"{e(str(x['takes_effect']))}{offered}</li>"
            )
        parts.append("</ul>")
    parts.append("<h2>Impact (Disturbances)</h2>")
    if not facts["impacts"]:
        parts.append("<p>The model and workbook give no disturbance for what this plan sets.</p>")
    else:
        parts.append(
            "<ul>"
            + "".join(
                f"<li><b>{e(i['class'])}.{e(i['attribute'])}</b> on {i['mos']} MO(s): {e(i['disturbances'])}</li>"
                for i in facts["impacts"]
            )
            + "</ul>"
        )
    dialects = facts.get("dialects")
    if dialects:
        parts.append(
            "<h2>Dialects</h2><p>Written, plan and rollback: " + e(", ".join(dialects["written"]) or "none") + ".</p>"
        )
        for dialect, problems in dialects["refused"].items():
            parts.append(
                f"<p class=warn><b>Not written: {e(dialect)}.</b> It cannot carry {len(problems)} name(s) or "
                "value(s) of the plan or its rollback exactly (a plan is written in a dialect only with its "
                "rollback):</p><ul>" + "".join(f"<li><code>{e(p)}</code></li>" for p in _cut(problems, 50)[0]) + "</ul>"
            )
    if facts.get("route"):
        parts.append(_route_html(facts["route"]))
    parts.append(
        f"<h2>Rollback</h2><p>The rollback writes back the values the network holds now, exactly, in reverse "
        f"order: {c['rollback_steps']:,} step(s).</p>"
    )
    yield from page_chunks("Plan summary", intro, _summary_body(facts, parts))


def _summary_body(facts: dict[str, Any], parts: list[str]) -> Iterator[str]:
    """The page's sections from `parts` on: the attributes the rollback cannot restore, all
    listed, are read as they are written."""
    e = html.escape
    yield "".join(parts)
    parts = []
    if facts["unknown_rollback"]:
        parts.append(
            f"<p class=warn><b>Not restored by the rollback ({len(facts['unknown_rollback']):,}):</b> the export "
            "holds no value for these attributes, so their value before the plan is unknown (planned with "
            "--allow-unknown-rollback); a rollback leaves them as the plan sets them.</p><ul>"
        )
        yield "".join(parts)
        parts = []
        for u in facts["unknown_rollback"]:
            yield f"<li><code>{e(u['fdn'])}</code> <b>{e(u['attribute'])}</b> (step {u['step']})</li>"
        parts.append("</ul>")
    if facts["restored_violations"]:
        parts.append(
            f"<p class=warn><b>Warning: the rollback restores {len(facts['restored_violations']):,} value(s) the "
            "catalog refuses as new values.</b> The network holds them (the node took them once), so they are "
            "written back as they are.</p><ul>"
        )
        for v in _cut(facts["restored_violations"])[0]:
            member = f".{v['member']}" if v["member"] else ""
            parts.append(
                f"<li><code>{e(v['subject'])}</code> <b>{e(v['attribute'] + member)}</b> = "
                f"<code>{e(str(v['value']))}</code>: {e(v['rule'])}: {e(v['message'])}</li>"
            )
        parts.append("</ul>")
    parts.append("<h2>Notes</h2>")
    parts.append(
        "<ul>" + "".join(f"<li>{e(n)}</li>" for n in facts["notes"]) + "</ul>" if facts["notes"] else "<p>None.</p>"
    )
    yield "".join(parts)
