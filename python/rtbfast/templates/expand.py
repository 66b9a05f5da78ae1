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
  bound is an error; expansion goes on with the rest.

The result is a ChangeSet (:mod:`rtbfast.changeset`), judged by :mod:`rtbfast.templates.verdicts`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from rtbfast import _native
from rtbfast.changeset import CHANGESET_SCHEMA, EMPTIED
from rtbfast.network_index import NetworkIndex, RawText, fdn_of_slash
from rtbfast.readers import ProgressCallback
from rtbfast.templates.check import SEP, Catalog
from rtbfast.templates.objects import TECHNOLOGY, CellView, Clusters, Custom, Db, Enet, Logger, MoView, Vars
from rtbfast.templates.sandbox import Compiled, Limits, Meter, Sandbox, Stop, compile_expression, compile_function
from rtbfast.templates.tree import (
    DELETE,
    IGNORE,
    Attribute,
    Cond,
    CondValue,
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
    plain,
)
from rtbfast.templates.units import to_raw

UNSET = "__unset__"

_SKIP = object()
"""What an expression that stopped gives: the construct it decides is skipped."""


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


def select_targets(network: NetworkIndex, patterns: Iterable[str]) -> list[int]:
    """The cells `patterns` name, in network order: an FDN or FDN glob (it has ``=``), or a
    cell id or id glob. A pattern without ``*``, ``?`` or ``[`` is looked up, not matched.
    A pattern that names no cell is an error."""
    cells = network.rows_of_class(TECHNOLOGY)
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

            raise InputError(f"--targets {pattern!r}: names no cell ({', '.join(sorted(TECHNOLOGY))}) of the network")
        chosen |= hits
    return sorted(chosen)


class Expander:
    """Expands one template over targets of one network."""

    def __init__(
        self,
        template: Template,
        network: NetworkIndex,
        catalog: Catalog | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.template = template
        self._network = network
        self.catalog = catalog
        self.meter = Meter(limits or Limits())
        self.notes: dict[tuple[str, str, str, str], Note] = {}
        self.rows: list[tuple[Any, ...]] = []
        """(phase, op, fdn, class, attribute, member, index, value, target, source), in order."""
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
        functions = {}
        for f in template.custom:
            try:
                compiled = compile_function(f.name, f.args, f.body, f"{self.source}#{f.where.path}")
                functions[f.name] = self.sandbox.define(compiled, f.name)
            except Stop as stop:
                functions[f.name] = self._refused_function(f.name, stop)
                self.current = f.where
                self._note(
                    "error" if stop.kind != "unsupported" else "warning",
                    stop.kind,
                    f"custom function {f.name} (line {stop.line} of its body): {stop.message}",
                )
        self.sandbox.set(custom=Custom(functions))

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
            kind = CellView if net.cls[row] in TECHNOLOGY else MoView
            view = kind(self, row, net.fdn[row], net.cls[row])
            self.views[row] = view
        return view

    def _view_of(self, fdn: str) -> MoView:
        row = self._network.row_of.get(fdn)
        if row is not None:
            return self._view(row)
        cls = fdn.rsplit(",", 1)[-1].split("=", 1)[0]
        return MoView(self, None, fdn, cls)

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
            for child in net.children.get(row, []):
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
        source = f"{self.source}#{self.current.path}" if self.current else self.source
        self.rows.append((self.phase, op, fdn, cls, attribute, member, index, value, self.target_fdn, source))

    def _changes(self) -> pa.Table:
        """The rows made, as a ChangeSet: each phase's order is its place in the plan order
        (``default`` first unless ordered), then the order phases first appear in."""
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * 10
        phases = columns[0]
        for phase in dict.fromkeys(phases):
            if phase not in self.phases:
                self.phases.append(phase)
        order = {p: i for i, p in enumerate(self.phases)}
        names = ("phase", "op", "fdn", "class", "attribute", "member", "index", "value", "target", "source")
        data: dict[str, Any] = dict(zip(names, (list(c) for c in columns), strict=True))
        data["phase_order"] = [order[p] for p in phases]
        data["seq"] = list(range(len(self.rows)))
        return pa.table({f.name: data[f.name] for f in CHANGESET_SCHEMA}, schema=CHANGESET_SCHEMA)

    def _create(self, fdn: str, cls: str) -> None:
        """The row creating the MO at `fdn`; a class the node creates itself is said."""
        self._row("create", fdn, cls, None, None, None, None)
        if self.catalog is not None and cls in self.catalog.system_created:
            self._note(
                "warning",
                "system_created",
                f"{cls}: the node creates MOs of this class itself and refuses a create; the network "
                "has none where the template names one (is the feature that brings it active?)",
            )

    def _refused_function(self, name: str, stop: Stop) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise Stop(stop.kind, f"custom function {name} cannot run: {stop.message}")

        return refused

    # -- running expressions --------------------------------------------------------------------------

    def _run(self, text: str, ctx: _Ctx, where: Where) -> Any:
        """The value of an expression, or :data:`_SKIP` (said in a note) where it stopped."""
        self.current = where
        if text in (IGNORE, DELETE, UNSET):
            return text  # a sentinel written as an $eval
        compiled = self._compiled.get(text)
        if compiled is None:
            try:
                compiled = compile_expression(text, f"{self.source}#{where.path}")
            except Stop as stop:
                compiled = stop
            self._compiled[text] = compiled
        if isinstance(compiled, Stop):
            self._stopped(compiled)
            return _SKIP
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
        for done, cell in enumerate(views):
            if on_progress is not None and done % 256 == 0:
                on_progress(done, len(views))
            assert isinstance(cell, CellView)
            self.meter.start_target()
            self.target_fdn = cell._fdn
            ctx = _Ctx(cell, None, False, "default")
            self._fragments(self.template.fragments, ctx)
        self.target_fdn = None
        if on_progress is not None:
            on_progress(len(views), len(views))
        changes = self._changes()
        return Expansion(changes, list(self.notes.values()), [c._fdn for c in views], self.clusters)

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
        return [self._view(r) for r in net.children.get(node, []) if net.cls[r] == cls]

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
            rows = net.children.get(parent._row, []) if parent._row is not None else []
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
            return any(k == "$eval" or Expander._dynamic(v) for k, v in value)
        if isinstance(value, list):
            return any(Expander._dynamic(v) for v in value)
        return False

    def _written(self, value: Any, ctx: _Ctx, where: Where, path: str) -> Any:
        """A written value as plain Python; an item or member written as ``{"$eval": …}``
        (a moRef in a sequence, in the real templates) is computed."""
        if isinstance(value, JsonObject):
            if len(value) == 1 and value.pairs[0][0] == "$eval" and isinstance(value.pairs[0][1], str):
                at = Where(f"{path}/$eval", where.line, where.column)
                result = self._run(value.pairs[0][1], ctx, at)
                self.current = where
                return result
            out = {}
            for k, v in value:
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
            for i, item in enumerate(value):
                self._item(mo, attribute, item, i, op)
            return
        self._item(mo, attribute, value, None, op)

    def _item(
        self, mo: MoView, attribute: str, value: Any, index: int | None, op: str, member: str | None = None
    ) -> None:
        if isinstance(value, dict):
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
            self._note(
                "error", "error", f"a $eval inside an MO returns an object of attributes, not {type(result).__name__}"
            )
            return
        net = self._network
        for key, value in result.items():
            self.current = where
            try:
                kind = _native.parse_template_key(str(key))
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
                rows = net.children.get(mo._row, []) if mo._row is not None else []
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
    catalog: Catalog | None = None,
    *,
    limits: Limits | None = None,
) -> Expansion:
    """Expand `template` over the `targets` (patterns, or rows of `network`)."""
    rows = targets if all(isinstance(t, int) for t in targets) else select_targets(network, [str(t) for t in targets])
    return Expander(template, network, catalog, limits).expand([int(r) for r in rows])


def expand(
    template: str | os.PathLike[str] | Template,
    catalog: str | os.PathLike[str] | Catalog,
    network: str | os.PathLike[str] | NetworkIndex,
    targets: Sequence[str],
    *,
    threads: int = 0,
    limits: Limits | None = None,
    on_progress: ProgressCallback | None = None,
) -> Expansion:
    """Expand a template (a file, or a read one) over the `targets` (FDNs, ids or globs of
    cells) of a network (a Bulk CM export, a build folder with ``network/``, or an index),
    with the units, moRefs and sequences of a catalog (a build folder or an MP XML model), and
    judge the ChangeSet on the network as it would be after it."""
    from rtbfast.templates.typed import read_any
    from rtbfast.templates.verdicts import judge_changes

    cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog, threads)
    tpl = template if isinstance(template, Template) else read_any(template)
    net = network if isinstance(network, NetworkIndex) else read_network_index(network, cat, threads)
    rows = select_targets(net, targets)
    result = Expander(tpl, net, cat, limits).expand(rows, on_progress)
    result.verdicts = judge_changes(result.changes, net, cat, threads=threads)
    return result


def read_network_index(path: str | os.PathLike[str], catalog: Catalog | None = None, threads: int = 0) -> NetworkIndex:
    """The network of a Bulk CM export, or of a build folder's ``network/`` tables, indexed."""
    p = Path(path)
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
    from rtbfast.network_index import read_network_tables

    return NetworkIndex(read_network_tables(p, threads), sequences)
