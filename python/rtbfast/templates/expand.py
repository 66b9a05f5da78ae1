"""Expansion: a template, a Network (a Bulk CM export) and target cells → a **ChangeSet**.

The template runs once per target cell, in the order the targets are given, as the operators'
engine runs it (``../shared/reference/rtb-and-workbook.md`` §2):

- a class key at the top names the MO related to the target: the cell itself, the ancestor of
  that class (``ENodeBFunction``, ``ManagedElement``), or a node function of the same node
  (``GNBDUFunction`` beside an LTE cell); a nested ``Class`` or ``Class-*`` names every child
  of the class; ``Class-Id`` (and id lists) names that child, created where it does not exist;
  ``"__delete__"`` deletes what it names;
- an attribute's value is converted to raw MOM units (value ÷ multiplication factor) and a
  moRef from the slash form to an ENM FDN; ``"__ignore__"`` sets nothing, ``"__unset__"``
  unsets;
- ``$cond``, ``$switch`` and ``$eval`` run in the restricted interpreter
  (:mod:`rtbfast.templates.sandbox`) over the object model (:mod:`rtbfast.templates.objects`);
  an ``$eval`` inside an MO returns attributes and child MOs merged into it; ``$plans`` and
  ``$meta.plan_order`` give the phases, as does ``enet.set_mo_params(…, plan=…)``;
- what cannot run (the operator's database) is skipped and said; what is refused or passes a
  bound is an error; expansion goes on with the rest. Every expression is compiled before the
  first target, so one that cannot compile (a syntax error, ``return`` outside a function, a
  construct the sandbox refuses) is said once, at its place, whether or not it is reached;
- what a target makes is bounded (:class:`~rtbfast.templates.sandbox.Limits`): items of one
  value, ChangeSet rows per target (a target past it is left out whole) and rows in all (the
  targets after it are not expanded), each said as an error at the place that passed it.

The result is a ChangeSet (:mod:`rtbfast.changeset`), judged by :mod:`rtbfast.templates.verdicts`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast import _native
from rtbfast.catalog_view import CatalogView
from rtbfast.changeset import EMPTIED
from rtbfast.network_index import NetworkIndex, RawText, fdn_of_slash
from rtbfast.readers import ProgressCallback
from rtbfast.schemas import CHANGESET_SCHEMA, SEP
from rtbfast.templates.objects import (
    DEFAULT_TARGET_CLASSES,
    TECHNOLOGY,
    CellView,
    Clusters,
    Custom,
    Db,
    Enet,
    Logger,
    MoView,
    Vars,
)
from rtbfast.templates.sandbox import Compiled, Limits, Meter, Sandbox, Stop, compile_expression, compile_function
from rtbfast.templates.tree import (
    DELETE,
    IGNORE,
    Attribute,
    Cond,
    CondValue,
    Entry,
    Eval,
    EvalValue,
    Fragment,
    Ignore,
    JsonObject,
    Mo,
    Plans,
    Switch,
    SwitchValue,
    Template,
    Value,
    Where,
    Written,
    holds_value,
    plain,
)
from rtbfast.templates.units import to_raw
from rtbfast.templates.wording import kind_of

UNSET = "__unset__"

_SKIP = object()
"""What an expression that stopped gives: the construct it decides is skipped."""


class NeedsWhole(BaseException):
    """A streamed expansion met what needs the whole network at once (the children of an MO
    above every node): it is expanded whole instead. Not an ``Exception``, so a template's
    ``try`` cannot swallow it; :attr:`Expander.needs_whole` keeps it too."""


class _Bound(BaseException):
    """A bound on the rows expansion makes was passed (not a :class:`Stop`, which the
    expression making rows would take as its own failure). `total`: the bound on all rows."""

    def __init__(self, message: str, total: bool) -> None:
        super().__init__(message)
        self.message = message
        self.total = total


def _int32s(values: array[int]) -> pa.Array:
    """An ``array('i')`` as an Arrow int32 array, without a Python object per item."""
    return pa.Array.from_buffers(pa.int32(), len(values), [None, pa.py_buffer(values)])


class _Coded:
    """A text column of the ChangeSet, kept as one code per row (most texts repeat: the FDN,
    the target, the source), made into an Arrow string column at the end."""

    __slots__ = ("codes", "texts")

    def __init__(self) -> None:
        self.codes = array("i")
        self.texts: dict[str | None, int] = {}

    def append(self, text: str | None) -> None:
        code = self.texts.get(text)
        if code is None:
            code = self.texts[text] = len(self.texts)
        self.codes.append(code)

    def __len__(self) -> int:
        return len(self.codes)

    def truncate(self, n: int) -> None:
        del self.codes[n:]

    def arrow(self) -> pa.Array:
        dictionary = pa.array(list(self.texts), pa.string())
        indices = _int32s(self.codes)
        decoded = pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()
        self.codes = array("i")
        return decoded


_COLUMNS = ("phase", "op", "fdn", "class", "attribute", "member", "value", "target", "source")
_NO_INDEX = -(2**31)
"""The ``index`` of a row that has none (an MO created or deleted, an attribute unset)."""


@dataclass(frozen=True)
class Note:
    """Something expansion says: ``error`` (refused, a bound passed, the template's code
    failed), ``warning`` (skipped: calls rtbfast cannot run), ``info`` (logged, printed)."""

    severity: str
    kind: str
    message: str
    source: str
    line: int = 0
    column: int = 0
    target: str | None = None
    count: int = 1

    def __str__(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        file, _, pointer = self.source.partition("#")
        where = f"{file}:{self.line}:{self.column}" if self.line else file
        message = " | ".join(part for part in self.message.splitlines() if part.strip()) or self.message
        return f"{where}: {self.severity}: {self.kind}: {message}{times} at {pointer or '/'}"


@dataclass
class Expansion:
    """A ChangeSet (``changes``), what expansion said (``notes``), the target cells' FDNs, the
    clusters the template filled, and the verdicts on the changes (:mod:`verdicts`; empty
    until judged)."""

    changes: pa.Table
    notes: list[Note]
    targets: list[str]
    clusters: dict[str, list[str]] = field(default_factory=dict)
    verdicts: pa.Table | None = None

    @property
    def errors(self) -> list[Note]:
        return [n for n in self.notes if n.severity == "error"]

    @property
    def verdict_errors(self) -> int:
        v = self.verdicts
        return 0 if v is None else sum(1 for s in v["severity"].to_pylist() if s == "error")


@dataclass
class _Ctx:
    cell: CellView
    mo: MoView | None
    creating: bool
    phase: str


def select_targets(network: NetworkIndex, patterns: Iterable[str], classes: Sequence[str] | None = None) -> list[int]:
    """The MOs of the target `classes` (by default the six cell classes,
    :data:`DEFAULT_TARGET_CLASSES`) `patterns` name, in network order: an FDN or FDN glob (it
    has ``=``), or an MO id or id glob. A pattern without ``*``, ``?`` or ``[`` is looked up,
    not matched. A pattern that names none is an error (saying which other classes it names)."""
    wanted = tuple(dict.fromkeys(classes or DEFAULT_TARGET_CLASSES))
    cells = network.rows_of_class(wanted)
    by_fdn = {network.fdn[r]: r for r in cells}
    by_id: dict[str, list[int]] = {}
    for r in cells:
        by_id.setdefault(network.id[r], []).append(r)
    chosen: set[int] = set()
    for pattern in patterns:
        if not any(ch in pattern for ch in "*?["):
            if "=" in pattern:
                hits = {by_fdn[pattern]} if pattern in by_fdn else set()
            else:
                hits = set(by_id.get(pattern, ()))
        else:
            names = network.fdn if "=" in pattern else network.id
            hits = {r for r in cells if fnmatch.fnmatchcase(names[r], pattern)}
        if not hits:
            from rtbfast.errors import InputError

            what = "cell" if classes is None else "MO"
            raise InputError(
                f"--targets {pattern!r}: names no {what} of the target classes ({', '.join(wanted)}) of the "
                f"network{_other_classes(network, pattern)}"
            )
        chosen |= hits
    return sorted(chosen)


def _other_classes(network: NetworkIndex, pattern: str) -> str:
    """What a pattern that names no target names instead: the classes of the MOs it matches,
    each with the option that targets them."""
    names = network.fdn if "=" in pattern else network.id
    glob = any(ch in pattern for ch in "*?[")
    found: dict[str, int] = {}
    for r, name in enumerate(names):
        if (fnmatch.fnmatchcase(name, pattern) if glob else name == pattern) and network.cls[r] != "":
            found[network.cls[r]] = found.get(network.cls[r], 0) + 1
            if len(found) > 8:
                break
    if not found:
        return ""
    shown = ", ".join(f"{n:,} {c}" for c, n in list(found.items())[:8])
    option = " ".join(f"--target-class {c}" for c in list(found)[:3])
    return f"; it names {shown} (give {option} to target them)"


class Expander:
    """Expands one template over targets of one network."""

    def __init__(
        self,
        template: Template,
        network: NetworkIndex,
        catalog: CatalogView | None = None,
        limits: Limits | None = None,
        target_classes: Sequence[str] | None = None,
    ) -> None:
        self.template = template
        self.target_classes = frozenset(target_classes or DEFAULT_TARGET_CLASSES)
        self._network = network
        self.catalog = catalog
        self.meter = Meter(limits or Limits())
        self.notes: dict[tuple[str, str, str, str], Note] = {}
        self.columns = {name: _Coded() for name in _COLUMNS}
        """The ChangeSet's text columns, a code per row, rows in order."""
        self.index = array("i")
        self._target_start = 0
        self._flushed = 0
        """Rows made and given out already (:meth:`flush`): a streamed expansion's earlier batches."""
        self.needs_whole = False
        """Whether a streamed expansion met what needs the whole network (:class:`NeedsWhole`)."""
        self._skeleton: frozenset[int] = frozenset()
        """Rows of the MOs above every node, in a streamed expansion (their children are other
        batches' nodes: asking for them needs the whole network, :class:`NeedsWhole`)."""
        self._passed: _Bound | None = None
        """The bound the current target passed (a template cannot catch it away)."""
        self._sources: dict[str, str] = {}
        self._plain: dict[int, Any] = {}
        self._raws: dict[tuple[str, str, str | None, type, Any], str | None] = {}
        self.views: dict[int, MoView] = {}
        self.created: set[tuple[str, str]] = set()  # (target, fdn)
        self.source = os.fspath(template.path)
        self.phases = ["default"] if "default" not in template.plan_order else []
        self.phases += template.plan_order
        self.clusters: dict[str, list[str]] = {}
        meta_clusters = template.meta.get("clusters") if template.meta is not None else None
        if isinstance(meta_clusters, JsonObject):
            self.clusters = {name: [] for name, _ in meta_clusters}
        self._morefs, self._factors = self._catalog_lookups()
        self._compiled: dict[str, Compiled | Stop] = {}
        self._said: set[str] = set()
        self._nested: dict[tuple[int, str], Where] = {}
        """The places of the ``$eval``s inside written values (one per place, so a compile
        failure is said once)."""
        self.current: Where | None = None
        self.target_fdn: str | None = None
        self.phase = "default"
        self.sandbox = Sandbox(
            self.meter,
            {
                "vars": Vars(plain(template.vars) if template.vars is not None else {}),
                "clusters": Clusters(self.clusters),
                "enet": Enet(self),
                "db": Db(),
                "LOGGER": Logger(lambda level, message: self._note("info", f"log {level}", message)),
                "cell": None,
                "mo": None,
                "targets": [],
            },
        )
        for warning in template.warnings:
            self.current = Where(warning.path, warning.line, warning.column)
            self._note("warning", warning.code, warning.message)
        functions = {}
        for f in template.custom:
            try:
                compiled = compile_function(f.name, f.args, f.body, f"{self.source}#{f.where.path}")
                functions[f.name] = self.sandbox.define(compiled, f.name)
            except Stop as stop:
                functions[f.name] = self._refused_function(f.name, stop)
                line = f.lines[stop.line - 1] if 0 < stop.line <= len(f.lines) else None
                self.current = line or f.where
                column = f", column {stop.column}" if stop.column else ""
                self._note(
                    "error" if stop.kind != "unsupported" else "warning",
                    "syntax" if stop.kind == "error" else stop.kind,
                    f"custom function {f.name} (line {stop.line}{column} of its body): {stop.message}",
                )
        self.sandbox.set(custom=Custom(functions))
        self._compile_all()

    # -- the catalog ------------------------------------------------------------------------------

    def _catalog_lookups(self) -> tuple[set[tuple[str, str]], dict[str, tuple[Decimal, str | None]]]:
        if self.catalog is None:
            return set(), {}
        attributes = self.catalog.tables.get("attributes")
        morefs: set[tuple[str, str]] = set()
        if attributes is not None and "kind" in attributes.column_names:
            for c, a, k in zip(
                attributes["class"].to_pylist(),
                attributes["attribute"].to_pylist(),
                attributes["kind"].to_pylist(),
                strict=True,
            ):
                if k == "moref":
                    morefs.add((c, a))
        factors = {
            key: (Decimal(f), u)
            for key, f, u in zip(
                self.catalog.factors["key"].to_pylist(),
                self.catalog.factors["factor"].to_pylist(),
                self.catalog.factors["unit"].to_pylist(),
                strict=True,
            )
        }
        return morefs, factors

    def _is_moref(self, cls: str, attribute: str) -> bool:
        return (cls, attribute) in self._morefs

    # -- views ------------------------------------------------------------------------------------

    def _view(self, row: int) -> MoView:
        view = self.views.get(row)
        if view is None:
            net = self._network
            kind = CellView if net.cls[row] in TECHNOLOGY or net.cls[row] in self.target_classes else MoView
            view = kind(self, row, net.fdn[row], net.cls[row])
            self.views[row] = view
        return view

    def _view_of(self, fdn: str) -> MoView:
        row = self._network.row_of.get(fdn)
        if row is not None:
            return self._view(row)
        cls = fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        return MoView(self, None, fdn, cls)

    def _children(self, row: int) -> list[int]:
        """The rows of the children of the MO at `row`. In a streamed expansion, those of an MO
        above every node are not all at hand: :class:`NeedsWhole`."""
        if row in self._skeleton:
            self.needs_whole = True
            raise NeedsWhole(f"the template asks for the children of {self._network.fdn[row]}, above every node")
        return self._network.children.get(row, [])

    def _node_of(self, row: int | None) -> int | None:
        if row is None:
            return None
        for a in self._network.ancestors(row):
            if self._network.cls[a] == "ManagedElement":
                return a
        return None

    def _cells_under(self, node: int) -> list[CellView]:
        out: list[CellView] = []
        pending = [node]
        net = self._network
        while pending:
            row = pending.pop()
            for child in self._children(row):
                if net.cls[child] in TECHNOLOGY:
                    view = self._view(child)
                    assert isinstance(view, CellView)
                    out.append(view)
                pending.append(child)
        return sorted(out, key=lambda c: c._fdn)

    # -- notes and rows -----------------------------------------------------------------------------

    def _note(self, severity: str, kind: str, message: str) -> None:
        where = self.current or Where("")
        key = (severity, kind, message, where.path)
        found = self.notes.get(key)
        if found is not None:
            self.notes[key] = Note(
                found.severity,
                found.kind,
                found.message,
                found.source,
                found.line,
                found.column,
                found.target,
                found.count + 1,
            )
            return
        self.notes[key] = Note(
            severity, kind, message, f"{self.source}#{where.path}", where.line, where.column, self.target_fdn
        )

    def _row(
        self,
        op: str,
        fdn: str,
        cls: str,
        attribute: str | None,
        member: str | None,
        index: int | None,
        value: str | None,
    ) -> None:
        limits = self.meter.limits
        made = len(self.index)
        if made - self._target_start >= limits.rows_per_target:
            self._passed = _Bound(f"more than {limits.rows_per_target:,} ChangeSet rows for one target", False)
            raise self._passed
        if self._flushed + made >= limits.rows:
            self._passed = _Bound(f"more than {limits.rows:,} ChangeSet rows in all (one expansion)", True)
            raise self._passed
        if self.current is None:
            source = self.source
        else:
            path = self.current.path
            known = self._sources.get(path)
            source = known if known is not None else self._sources.setdefault(path, f"{self.source}#{path}")
        c = self.columns
        c["phase"].append(self.phase)
        c["op"].append(op)
        c["fdn"].append(fdn)
        c["class"].append(cls)
        c["attribute"].append(attribute)
        c["member"].append(member)
        c["value"].append(value)
        c["target"].append(self.target_fdn)
        c["source"].append(source)
        self.index.append(_NO_INDEX if index is None else index)

    def _truncate(self, n: int) -> None:
        """Leave out the rows from the `n`-th on."""
        for column in self.columns.values():
            column.truncate(n)
        del self.index[n:]

    def _changes(self) -> pa.Table:
        """The rows made, as a ChangeSet: each phase's order is its place in the plan order
        (``default`` first unless ordered), then the order phases first appear in. The
        columns are made one at a time, each freed as it is made."""
        n = len(self.index)
        phases = self.columns["phase"]
        for phase in phases.texts:
            if phase not in self.phases:
                self.phases.append(str(phase))
        order = {p: i for i, p in enumerate(self.phases)}
        ranks = pa.array([order[str(p)] for p in phases.texts], pa.int32())
        data: dict[str, Any] = {"phase_order": pc.take(ranks, _int32s(phases.codes))}
        first = self._flushed
        data["seq"] = pa.array(range(first, first + n), pa.int64()) if n else pa.array([], pa.int64())
        index = _int32s(self.index)
        data["index"] = pc.if_else(pc.equal(index, _NO_INDEX), pa.scalar(None, pa.int32()), index)
        self.index = array("i")
        for name, column in self.columns.items():
            data[name] = column.arrow()
        self._flushed += n
        self.columns = {name: _Coded() for name in _COLUMNS}
        return pa.table({f.name: data[f.name] for f in CHANGESET_SCHEMA}, schema=CHANGESET_SCHEMA)

    def _create(self, fdn: str, cls: str) -> None:
        """The row creating the MO at `fdn`; a class the node creates itself is said."""
        self._row("create", fdn, cls, None, None, None, None)
        if self.catalog is not None and cls in self.catalog.system_created:
            # an error, as `plan` refuses it: one severity for one finding
            self._note(
                "error",
                "system_created",
                f"{cls}: the node creates MOs of this class itself and refuses a create; the network "
                "has none where the template names one (is the feature that brings it active?)",
            )

    def _refused_function(self, name: str, stop: Stop) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise Stop(stop.kind, f"custom function {name} cannot run: {stop.message}")

        return refused

    # -- running expressions --------------------------------------------------------------------------

    def _compile(self, text: str, where: Where) -> Compiled | Stop:
        compiled = self._compiled.get(text)
        if compiled is None:
            try:
                compiled = compile_expression(text, f"{self.source}#{where.path}")
            except Stop as stop:
                compiled = stop
            self._compiled[text] = compiled
        return compiled

    def _compile_all(self) -> None:
        """Compile every expression of the template once, before any target: one that cannot
        compile is said at its place (the expression's own pointer, its line and column in
        the expression), reached or not, and the construct it decides is skipped."""
        for text, where in _expressions(self.template):
            if text in (IGNORE, DELETE, UNSET):
                continue
            compiled = self._compile(text, where)
            if isinstance(compiled, Stop) and where.path not in self._said:
                self._said.add(where.path)
                if where.path not in self.template.where:  # inside a written value: located now
                    typed = bool(self.template.origin)
                    locate = _native.locate_document_pointers if typed else _native.locate_pointers
                    ((where.line, where.column),) = locate(self.template.path, [where.path])
                self.current = where
                at = f" (line {compiled.line}, column {compiled.column} of the expression)" if compiled.column else ""
                severity = "warning" if compiled.kind == "unsupported" else "error"
                kind = "syntax" if compiled.kind == "error" else compiled.kind  # as templates check says
                self._note(severity, kind, f"{compiled.message}{at}; it is not run")
        self.current = None

    def _run(self, text: str, ctx: _Ctx, where: Where) -> Any:
        """The value of an expression, or :data:`_SKIP` (said in a note) where it stopped."""
        self.current = where
        if text in (IGNORE, DELETE, UNSET):
            return text  # a sentinel written as an $eval
        compiled = self._compile(text, where)
        if isinstance(compiled, Stop):
            return _SKIP  # said when compiled
        self.sandbox.set(cell=ctx.cell, mo=ctx.mo)
        try:
            return self.sandbox.run(compiled)
        except Stop as stop:
            self._stopped(stop)
            return _SKIP
        finally:
            for printed in self.sandbox.printed:
                self._note("info", "print", printed.strip())
            self.sandbox.printed.clear()

    def _stopped(self, stop: Stop) -> None:
        severity = "warning" if stop.kind == "unsupported" else "error"
        what = "skipped: " if stop.kind == "unsupported" else ""
        self._note(severity, stop.kind, f"{what}{stop.message}")

    # -- the walk ---------------------------------------------------------------------------------------

    def expand(self, targets: list[int], on_progress: ProgressCallback | None = None) -> Expansion:
        views = [self._view(r) for r in targets]
        self.sandbox.set(targets=views)
        self.expand_cells(views, 0, len(views), on_progress)
        if on_progress is not None:
            on_progress(len(views), len(views))
        changes = self._changes()
        return Expansion(changes, list(self.notes.values()), [c._fdn for c in views], self.clusters)

    def expand_cells(
        self, views: list[MoView], done: int, total: int, on_progress: ProgressCallback | None = None
    ) -> bool:
        """Run the template for each of `views` (the targets from the `done`-th on, of `total`),
        keeping the rows made; False when the bound on all rows stopped expansion (the targets
        after are not expanded)."""
        # the targets' own values decoded together (the template mostly reads them)
        self._network.decode(cell._row for cell in views if cell._row is not None)
        for at, cell in enumerate(views, done):
            if on_progress is not None and at % 256 == 0:
                on_progress(at, total)
            assert isinstance(cell, CellView)
            self.meter.start_target()
            self.target_fdn = cell._fdn
            self._target_start = len(self.index)
            ctx = _Ctx(cell, None, False, "default")
            with contextlib.suppress(_Bound):  # said below, from _passed
                self._fragments(self.template.fragments, ctx)
            bound, self._passed = self._passed, None
            if bound is not None:
                self._truncate(self._target_start)
                left = total - at - 1
                rest = f"; the {left:,} target(s) after it are not expanded" if bound.total and left else ""
                self._note("error", "limit", f"{bound.message}: this target's changes are left out{rest}")
                if bound.total:
                    self.target_fdn = None
                    return False
        self.target_fdn = None
        return True

    def rebind(self, network: NetworkIndex, skeleton: Iterable[int] = ()) -> None:
        """Expand over `network` from now on (the next batch of node groups of a streamed
        expansion; `skeleton`: its rows above every node)."""
        self._network = network
        self.views = {}
        self._skeleton = frozenset(skeleton)

    def flush(self) -> pa.Table:
        """The rows made since the last flush, as a ChangeSet (``seq`` counted on from the
        rows given before)."""
        return self._changes()

    def _bounded(self, attribute: str, items: int) -> bool:
        """Whether a value of `items` items may be written (said where not)."""
        if items <= self.meter.limits.sequence:
            return True
        most = self.meter.limits.sequence
        self._note(
            "error", "limit", f"{attribute}: a value of {items:,} items (at most {most:,} in one value); not written"
        )
        return False

    def _fragments(self, fragments: list[Fragment] | None, ctx: _Ctx) -> None:
        for f in fragments or []:
            for e in f.entries:
                self._entry(e, ctx)

    def _entry(self, e: Any, ctx: _Ctx) -> None:
        self.phase = ctx.phase
        if isinstance(e, Attribute):
            self._attribute(e, ctx)
        elif isinstance(e, Mo):
            self._mo(e, ctx)
        elif isinstance(e, Cond):
            test = self._run(e.test, ctx, e.where)
            if test is not _SKIP:
                self._fragments(e.then if test else e.otherwise, ctx)
        elif isinstance(e, Switch):
            for case in e.branches:
                test = self._run(case.test, ctx, case.where)
                if test is _SKIP:
                    break
                if test:
                    self._fragments(case.then, ctx)
                    break
        elif isinstance(e, Eval):
            result = self._run(e.expression, ctx, e.where)
            if ctx.mo is not None and result is not _SKIP:
                self._merge(result, ctx, e.where)
        elif isinstance(e, Plans):
            for plan in e.plans:
                self._fragments(plan.steps, _Ctx(ctx.cell, ctx.mo, ctx.creating, plan.name))

    def _related(self, cls: str, cell: CellView) -> list[MoView]:
        """The MO of class `cls` a top-level key names for `cell`."""
        net = self._network
        row = cell._row
        assert row is not None
        if net.cls[row] == cls:
            return [cell]
        for a in net.ancestors(row):
            if net.cls[a] == cls:
                return [self._view(a)]
        node = self._node_of(row)
        if node is None:
            return []
        return [self._view(r) for r in self._children(node) if net.cls[r] == cls]

    def _mo(self, e: Mo, ctx: _Ctx) -> None:
        self.current = e.where
        net = self._network
        if ctx.mo is None:
            existing = self._related(e.cls, ctx.cell)
            if e.ids_kind in ("id", "list"):
                existing = [v for v in existing if v._fdn.rsplit("=", 1)[-1] in e.ids]
            targets: list[tuple[MoView, bool]] = [(v, False) for v in existing]
        else:
            parent = ctx.mo
            rows = self._children(parent._row) if parent._row is not None else []
            children = [self._view(r) for r in rows if net.cls[r] == e.cls]
            if e.ids_kind in ("none", "wildcard"):
                targets = [(v, False) for v in children]
            else:
                by_id = {v._fdn.rsplit("=", 1)[-1]: v for v in children}
                targets = []
                for rid in e.ids:
                    found = by_id.get(rid)
                    if found is not None:
                        targets.append((found, False))
                    elif not e.delete:
                        targets.append((MoView(self, None, f"{parent._fdn},{e.cls}={rid}", e.cls), True))
        if e.delete:
            for view, _ in targets:
                self._row("delete", view._fdn, view._cls, None, None, None, None)
            if not targets:
                self._note("info", "nothing to delete", f"{e.key}: no such MO under this target")
            return
        for view, created in targets:
            if created and (self.target_fdn or "", view._fdn) not in self.created:
                self.current = e.where
                self._create(view._fdn, view._cls)
                self.created.add((self.target_fdn or "", view._fdn))
            if e.body:
                for child in e.body:
                    self._entry(child, _Ctx(ctx.cell, view, created or (ctx.creating and view._row is None), ctx.phase))

    def _value(self, v: Value, ctx: _Ctx) -> Any:
        if isinstance(v, Written):
            known = self._plain.get(id(v))
            if known is not None:
                return known
            value = self._written(v.value, ctx, v.where, v.where.path)
            if not self._dynamic(v.value):
                self._plain[id(v)] = value  # the template holds `v` as long as this expansion runs
            return value
        if isinstance(v, Ignore):
            return IGNORE
        if isinstance(v, EvalValue):
            return self._run(v.expression, ctx, v.where)
        if isinstance(v, SwitchValue):
            for case in v.branches:
                test = self._run(case.test, ctx, case.where)
                if test is _SKIP:
                    return _SKIP
                if test:
                    return self._value(case.then, ctx)
            return IGNORE
        if isinstance(v, CondValue):
            test = self._run(v.test, ctx, v.where)
            if test is _SKIP:
                return _SKIP
            chosen = v.then if test else v.otherwise
            return IGNORE if chosen is None else self._value(chosen, ctx)
        return _SKIP

    @staticmethod
    def _dynamic(value: Any) -> bool:
        """Whether a written value holds an ``$eval`` (computed for each target)."""
        if isinstance(value, JsonObject):
            return any(k == "$eval" or Expander._dynamic(v) for k, v in value.used())
        if isinstance(value, list):
            return any(Expander._dynamic(v) for v in value)
        return False

    def _written(self, value: Any, ctx: _Ctx, where: Where, path: str) -> Any:
        """A written value as plain Python; an item or member written as ``{"$eval": …}``
        (a moRef in a sequence, in the real templates) is computed."""
        if isinstance(value, JsonObject):
            pairs = value.used()
            if len(pairs) == 1 and pairs[0][0] == "$eval" and isinstance(pairs[0][1], str):
                at = self._nested.get((id(where), path))
                if at is None:
                    at = self._nested[(id(where), path)] = Where(f"{path}/$eval", where.line, where.column)
                result = self._run(pairs[0][1], ctx, at)
                self.current = where
                return result
            out = {}
            for k, v in value.used():
                item = self._written(v, ctx, where, f"{path}/{k}")
                if item is _SKIP:
                    return _SKIP
                out[k] = item
            return out
        if isinstance(value, list):
            items = []
            for i, v in enumerate(value):
                item = self._written(v, ctx, where, f"{path}/{i}")
                if item is _SKIP:
                    return _SKIP
                if item is not IGNORE and item != IGNORE:
                    items.append(item)
            return items
        return plain(value)

    def _attribute(self, e: Attribute, ctx: _Ctx) -> None:
        if ctx.mo is None:
            return
        value = self._value(e.value, ctx)
        self.current = e.where
        if value is _SKIP:
            return
        self._set(ctx.mo, e.name, value, "create" if ctx.creating else "set")

    def _set(self, mo: MoView, attribute: str, value: Any, op: str) -> None:
        """The rows setting `attribute` of `mo` to `value` (a JSON-like value)."""
        if value is IGNORE or value == IGNORE:
            return
        if value == DELETE:
            self._note("error", "error", f'{attribute}: "__delete__" deletes an MO; it is no attribute\'s value')
            return
        if value is None or value == UNSET:
            self._row(op, mo._fdn, mo._cls, attribute, None, None, None)
            return
        if isinstance(value, list):
            if not value:
                self._row(op, mo._fdn, mo._cls, attribute, None, EMPTIED, None)
                return
            if not self._bounded(attribute, len(value)):
                return
            for i, item in enumerate(value):
                self._item(mo, attribute, item, i, op)
            return
        self._item(mo, attribute, value, None, op)

    def _item(
        self, mo: MoView, attribute: str, value: Any, index: int | None, op: str, member: str | None = None
    ) -> None:
        if isinstance(value, dict):
            if not self._bounded(attribute, len(value)):
                return
            for name, v in value.items():
                self._item(
                    mo, attribute, v, index if index is not None else 0, op, f"{member}.{name}" if member else name
                )
            return
        if isinstance(value, list):
            self._note("error", "error", f"{attribute}: a list inside a list or struct member is no MOM value")
            return
        self._row(
            op,
            mo._fdn,
            mo._cls,
            attribute,
            member,
            0 if index is None else index,
            self._raw(mo._cls, attribute, member, value),
        )

    def _raw(self, cls: str, attribute: str, member: str | None, value: Any) -> str | None:
        """A value as the ChangeSet holds it: raw units, moRefs as ENM FDNs, text."""
        if value is None:
            return None
        if type(value) in (str, int, float, bool):
            key = (cls, attribute, member, type(value), value)
            if key in self._raws:
                return self._raws[key]
            raw = self._raw_of(cls, attribute, member, value)
            self._raws[key] = raw
            return raw
        return self._raw_of(cls, attribute, member, value)

    def _raw_of(self, cls: str, attribute: str, member: str | None, value: Any) -> str | None:
        text = "true" if value is True else "false" if value is False else str(value)
        found = None if isinstance(value, RawText) else self._factors.get(SEP.join((cls, attribute, member or "")))
        if found is not None:
            raw = to_raw(text, found[0])
            if raw is not None:
                return raw
        if member is None and self._is_moref(cls, attribute) and "/" in text:
            try:
                return fdn_of_slash(text)
            except ValueError as err:
                self._note("error", "moref", f"{attribute} {text!r}: {err}")
        return text

    def _merge(self, result: Any, ctx: _Ctx, where: Where) -> None:
        """What an ``$eval`` inside an MO returned: attributes and child MOs (``Class-Id`` →
        attributes, or ``"__delete__"``) merged into the MO."""
        mo = ctx.mo
        assert mo is not None
        if result is None or result == IGNORE:
            return
        if not isinstance(result, dict):
            self._note("error", "error", f"a $eval inside an MO returns an object of attributes, not {kind_of(result)}")
            return
        net = self._network
        for key, value in result.items():
            self.current = where
            try:
                kind = _native.parse_template_key(str(key), holds_value(value))
            except ValueError as err:
                self._note("error", "key", f"$eval returned {key!r}: {err}")
                continue
            if kind[0] == "attribute":
                self._set(mo, kind[1], value, "create" if ctx.creating else "set")
            elif kind[0] == "mo":
                _, cls, _, ids_kind, ids = kind
                if ids_kind not in ("id", "list"):
                    self._note("error", "key", f"$eval returned {key!r}: a child MO is named Class-Id")
                    continue
                rows = self._children(mo._row) if mo._row is not None else []
                by_id = {net.id[r]: r for r in rows if net.cls[r] == cls}
                for rid in ids:
                    row = by_id.get(rid)
                    if value == DELETE:
                        if row is not None:
                            self._row("delete", net.fdn[row], cls, None, None, None, None)
                        continue
                    child = self._view(row) if row is not None else MoView(self, None, f"{mo._fdn},{cls}={rid}", cls)
                    creating = row is None
                    if creating:
                        self._create(child._fdn, cls)
                    if isinstance(value, dict):
                        self._merge(value, _Ctx(ctx.cell, child, creating, ctx.phase), where)
            else:
                self._note("error", "key", f"$eval returned {key!r}: a directive is not merged into an MO")

    def _engine_set(self, fdn: str, params: dict[str, Any], plan: str | None) -> None:
        """``enet.set_mo_params``: sets queued in `plan` (the current phase without one)."""
        previous = self.phase
        if plan is not None:
            self.phase = str(plan)
        view = self._view_of(fdn)
        for name, value in params.items():
            self._set(view, str(name), value, "set")
        self.phase = previous


def expand_template(
    template: Template,
    network: NetworkIndex,
    targets: list[str] | list[int],
    catalog: CatalogView | None = None,
    *,
    limits: Limits | None = None,
    target_classes: Sequence[str] | None = None,
) -> Expansion:
    """Expand `template` over the `targets` (patterns naming MOs of the `target_classes`, by
    default the six cell classes; or rows of `network`)."""
    rows = (
        targets
        if all(isinstance(t, int) for t in targets)
        else select_targets(network, [str(t) for t in targets], target_classes)
    )
    return Expander(template, network, catalog, limits, target_classes).expand([int(r) for r in rows])


def expand(
    template: str | os.PathLike[str] | Template,
    catalog: str | os.PathLike[str] | CatalogView,
    network: str | os.PathLike[str] | NetworkIndex,
    targets: Sequence[str],
    *,
    threads: int = 0,
    limits: Limits | None = None,
    on_progress: ProgressCallback | None = None,
    target_classes: Sequence[str] | None = None,
) -> Expansion:
    """Expand a template (a file, or a read one) over the `targets` (FDNs, ids or globs of
    MOs of the `target_classes`, by default the six cell classes) of a network (a Bulk CM
    export, a build folder with ``network/``, or an index), with the units, moRefs and
    sequences of a catalog (a build folder or an MP XML model), and judge the ChangeSet on the
    network as it would be after it.

    A network given as a file or folder is expanded node batch by node batch
    (:func:`rtbfast.templates.expand_stream.expand_streamed`, its spools in a temporary
    folder): the same result as :func:`expand_whole`, in memory bounded by the largest batch
    and the ChangeSet. An index already read is expanded whole."""
    if isinstance(network, NetworkIndex):
        return expand_whole(
            template, catalog, network, targets, threads=threads, limits=limits, on_progress=on_progress,
            target_classes=target_classes,
        )  # fmt: skip
    from rtbfast.enm.node_groups import Workspace
    from rtbfast.templates.expand_stream import expand_streamed

    with Workspace() as work:
        streamed = expand_streamed(
            template, catalog, network, targets, work.path, threads=threads, limits=limits,
            on_progress=on_progress, target_classes=target_classes,
        )  # fmt: skip
        return streamed.expansion()


def expand_whole(
    template: str | os.PathLike[str] | Template,
    catalog: str | os.PathLike[str] | CatalogView,
    network: str | os.PathLike[str] | NetworkIndex,
    targets: Sequence[str],
    *,
    threads: int = 0,
    limits: Limits | None = None,
    on_progress: ProgressCallback | None = None,
    target_classes: Sequence[str] | None = None,
) -> Expansion:
    """:func:`expand` over the whole network at once (its index held): where a template needs
    every node at once (:mod:`rtbfast.templates.expand_stream` says when), or the network is
    an index already read."""
    from rtbfast.templates.typed import read_any
    from rtbfast.templates.verdicts import judge_changes

    cat = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog, threads)
    tpl = template if isinstance(template, Template) else read_any(template)
    net = network if isinstance(network, NetworkIndex) else read_network_index(network, cat, threads)
    rows = select_targets(net, targets, target_classes)
    result = Expander(tpl, net, cat, limits, target_classes).expand(rows, on_progress)
    result.verdicts = judge_changes(result.changes, net, cat, threads=threads)
    return result


def read_network_index(
    path: str | os.PathLike[str], catalog: CatalogView | None = None, threads: int = 0
) -> NetworkIndex:
    """The network of a Bulk CM export, or of a build folder's ``network/`` tables, indexed."""
    from rtbfast.network_index import read_network_tables

    return NetworkIndex(read_network_tables(Path(path), threads), sequences_of(catalog))


def sequences_of(catalog: CatalogView | None) -> set[tuple[str, str]]:
    """The (class, attribute) pairs `catalog` says are sequences."""
    sequences: set[tuple[str, str]] = set()
    if catalog is not None and "is_sequence" in catalog.constraints.table.column_names:
        c = catalog.constraints.table
        for cls, attr, seq, member in zip(
            c["class"].to_pylist(),
            c["attribute"].to_pylist(),
            c["is_sequence"].to_pylist(),
            c["member"].to_pylist(),
            strict=True,
        ):
            if seq and member is None:
                sequences.add((cls, attr))
    return sequences


def _expressions(template: Template) -> Iterator[tuple[str, Where]]:
    """Every expression of the template's fragments with its place (custom functions aside)."""

    def value(v: Value | None) -> Iterator[tuple[str, Where]]:
        if isinstance(v, EvalValue):
            yield v.expression, v.at or v.where
        elif isinstance(v, SwitchValue):
            for case in v.branches:
                yield case.test, case.at or case.where
                yield from value(case.then)
        elif isinstance(v, CondValue):
            yield v.test, v.at or v.where
            yield from value(v.then)
            yield from value(v.otherwise)
        elif isinstance(v, Written):
            yield from written(v.value, v.where, v.where.path)

    def written(v: Any, where: Where, path: str) -> Iterator[tuple[str, Where]]:
        if isinstance(v, JsonObject):
            pairs = v.used()
            if len(pairs) == 1 and pairs[0][0] == "$eval" and isinstance(pairs[0][1], str):
                yield pairs[0][1], Where(f"{path}/$eval", where.line, where.column)
                return
            for k, x in pairs:
                yield from written(x, where, f"{path}/{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                yield from written(x, where, f"{path}/{i}")

    def fragments(fs: list[Fragment] | None) -> Iterator[tuple[str, Where]]:
        for f in fs or []:
            yield from entries(f.entries)

    def entries(es: list[Entry]) -> Iterator[tuple[str, Where]]:
        for e in es:
            if isinstance(e, Attribute):
                yield from value(e.value)
            elif isinstance(e, Mo):
                yield from entries(e.body or [])
            elif isinstance(e, Cond):
                yield e.test, e.at or e.where
                yield from fragments(e.then)
                yield from fragments(e.otherwise)
            elif isinstance(e, Switch):
                for case in e.branches:
                    yield case.test, case.at or case.where
                    yield from fragments(case.then)
            elif isinstance(e, Eval):
                yield e.expression, e.where
            elif isinstance(e, Plans):
                for plan in e.plans:
                    yield from fragments(plan.steps)

    yield from fragments(template.fragments)
