"""``rtbfast plan`` as an API: a ChangeSet (or a template expanded first) planned on a network
with a catalog, its rollback computed, and the plan folder written.

:func:`plan_folder` (the command) plans node group by node group, in memory bounded by a batch
of groups (:mod:`rtbfast.enm.plan_stream`); :func:`plan_changes` plans the whole at once and
holds the result (:class:`Planned`), which :func:`write_plan_folder` writes. Both write the same
folder, byte for byte (:func:`write_grouped` writes both).

The folder (written aside, swapped in only when complete; ``plan.json`` is its report)::

    plan.parquet      the Plan (docs/tables.md)          rollback.parquet
    plan.cmedit       ENM CLI script                      rollback.cmedit
    plan.dynamic.txt  ENM dynamic import file             rollback.dynamic.txt
    plan.3gpp.xml     3GPP Bulk CM import file            rollback.3gpp.xml
    plan.mos          moshell commands                    rollback.mos (the undo script)
    summary.md, summary.html   what changes where, locks, when it takes effect, impact, the
                      route recommended (commands or import jobs) and its duration estimated
    plan.json         what it was made from, the counts, the import files with their sha256

With ``import_chunk`` (``rtbfast plan --import-chunk N``) the import files are written in parts
of at most N operations, whole nodes each (:func:`rtbfast.enm.dialects.import_chunks`)::

    plan.dynamic.001.txt  plan.dynamic.002.txt …    rollback.dynamic.001.txt …
    plan.3gpp.001.xml     plan.3gpp.002.xml …       rollback.3gpp.001.xml …

``rollback.X.00k`` undoes ``plan.X.00k``; ``plan.json`` lists them (``imports``) in the order they
run (the rollbacks run in the reverse order).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.dialects import DIALECTS
from rtbfast.enm.node_groups import heap_frozen
from rtbfast.enm.plan import Plan, Problem, make_plan
from rtbfast.errors import InputError, RtbfastError
from rtbfast.network_index import NetworkIndex, read_network_tables
from rtbfast.schemas import PLAN_SCHEMA

if TYPE_CHECKING:
    from rtbfast.enm.plan_stream import GroupedPlan
    from rtbfast.enm.summary import RouteTiming

MARKER = "plan.json"


class ExpansionFailed(RtbfastError):
    """The template given to ``plan`` does not expand without errors."""

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.lines = lines


@dataclass
class Planned:
    plan: Plan
    rollback: pa.Table
    changes: pa.Table
    network: NetworkIndex
    catalog: CatalogView
    made_from: dict[str, Any] = field(default_factory=dict)
    unknown_rollback: pa.Table | None = None
    """The attributes the plan changes whose old value the export does not hold (only with
    `allow_unknown_rollback`): the rollback leaves them as the plan sets them."""
    restored_violations: pa.Table | None = None
    """Values the rollback restores that the catalog refuses as new values (the network holds
    them, so the node took them once): violations in the audit's columns."""
    expansion_warnings: list[str] = field(default_factory=list)
    """What the template's expansion warned of (a template planned), one line each as
    ``templates expand`` says it."""


def plan_changes(
    source: str | os.PathLike[str],
    catalog: str | os.PathLike[str] | CatalogView,
    network: str | os.PathLike[str],
    targets: Sequence[str] = (),
    *,
    threads: int = 0,
    allow_unknown_rollback: bool = False,
    on_phase: Callable[[str], None] | None = None,
    target_classes: Sequence[str] | None = None,
) -> Planned:
    """Plan a ChangeSet file (``.parquet``) or a template (expanded over `targets` first) on
    `network` (a Bulk CM export or a build folder's network) with `catalog` (a view already
    loaded, or a build folder or an MP XML model: loaded once, for the expansion and the plan),
    and compute its rollback. A change of an attribute whose old value the
    export does not hold is refused (:class:`rtbfast.enm.rollback.UnknownRollback`) unless
    `allow_unknown_rollback`. A template's targets are MOs of the `target_classes` (by
    default the six cell classes); what its expansion warns of is kept
    (``expansion_warnings``), said as ``templates expand`` says it."""
    from rtbfast.changeset import read_changeset
    from rtbfast.enm.rollback import make_rollback

    say = on_phase or (lambda _: None)
    src = Path(source)
    warned: list[str] = []
    say("reading the network")
    tables = read_network_tables(network, threads)
    index = NetworkIndex(tables)
    say("reading the catalog")
    cat = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog, threads)
    made_from: dict[str, Any] = {"catalog": cat.origin or str(catalog), "network": str(network)}
    if src.suffix.lower() == ".parquet":
        changes, origin = read_changeset(src)
        made_from.update(changeset=str(src), changeset_made_from=origin)
    else:
        changes, expanded = _expanded(src, cat, index, targets, threads, say, target_classes, warned.append)
        made_from.update(expanded)
    say("planning")
    plan = make_plan(changes, index, cat)
    say("computing the rollback")
    rollback = make_rollback(plan.steps, index, cat, allow_unknown=allow_unknown_rollback)
    return Planned(
        plan,
        rollback.steps,
        changes,
        index,
        cat,
        made_from,
        unknown_rollback=rollback.unknown,
        restored_violations=restored_violations(rollback.steps, cat),
        expansion_warnings=warned,
    )


def restored_violations(rollback: pa.Table, catalog: CatalogView) -> pa.Table:
    """The values `rollback` writes back that the catalog would refuse as new ones (errors of
    the rules that judge a value alone), judged by the native evaluator."""
    judged = RestoredValues(catalog, keep=None)
    judged.add(rollback)
    return judged.close()


class RestoredValues:
    """:func:`restored_violations` of a rollback given a window of rows at a time (in its
    order): the rows of one MO that follow each other are judged together, as in one call."""

    def __init__(self, catalog: CatalogView, keep: int | None = 500) -> None:
        self.catalog = catalog
        self.keep = keep
        """Violations kept (the first ones); None: all."""
        self.total = 0
        self._found: list[pa.Table] = []
        self._held = 0
        self._carry: pa.Table | None = None

    def add(self, rows: pa.Table) -> None:
        rows = rows.filter(
            pc.and_(
                pc.is_in(rows["op"], value_set=pa.array(["set", "create", "lock", "unlock"])),
                pc.and_(pc.is_valid(rows["attribute"]), pc.is_valid(rows["value"])),
            )
        ).select(["fdn", "class", "attribute", "member", "index", "value"])
        if self._carry is not None:
            rows = pa.concat_tables([self._carry, rows], promote_options="permissive")
            self._carry = None
        if not rows.num_rows:
            return
        fdn = rows["fdn"]
        others = pc.indices_nonzero(pc.not_equal(fdn, fdn[-1]))
        cut = int(pc.max(others).as_py()) + 1 if len(others) else 0
        self._carry = rows.slice(cut)
        if cut:
            self._judge(rows.slice(0, cut))

    def _judge(self, rows: pa.Table) -> None:
        from rtbfast.enm.plan import value_violations

        found = value_violations(rows, self.catalog)
        self.total += found.num_rows
        if self.keep is None or self._held < self.keep:
            kept = found if self.keep is None else found.slice(0, self.keep - self._held)
            self._found.append(kept)
            self._held += kept.num_rows

    def close(self) -> pa.Table:
        """The violations kept."""
        if self._carry is not None and self._carry.num_rows:
            self._judge(self._carry)
        self._carry = None
        from rtbfast.schemas import VIOLATIONS_SCHEMA

        return (
            pa.concat_tables(self._found, promote_options="permissive")
            if self._found
            else VIOLATIONS_SCHEMA.empty_table()
        )


def _naming(catalog: CatalogView) -> dict[str, str]:
    """class → the spelling of its naming attribute in the model (``EUtranCellFDDId`` in CPP,
    ``eUtranCellFDDId`` in ECIM)."""
    c = catalog.constraints.table
    rows = c.filter(pc.is_null(c["member"])).select(["class", "attribute"]).to_pylist()
    out: dict[str, str] = {}
    for r in rows:
        cls, attribute = r["class"], r["attribute"]
        if attribute in (f"{cls}Id", cls[:1].lower() + cls[1:] + "Id"):
            out[cls] = attribute
    return out


FILES = {"cmedit": ".cmedit", "dynamic": ".dynamic.txt", "moshell": ".mos", "3gpp": ".3gpp.xml"}
"""The file each dialect is written to, after the stem (``plan``, ``rollback``)."""


def file_name(stem: str, dialect: str, part: int | None = None, width: int = 3) -> str:
    """``plan.dynamic.txt``, or part `part` of it: ``plan.dynamic.001.txt`` (`width` digits)."""
    if part is None:
        return f"{stem}{FILES[dialect]}"
    name, suffix = FILES[dialect].rsplit(".", 1)
    return f"{stem}{name}.{part:0{width}d}.{suffix}"


def write_dialect(
    steps: pa.Table,
    folder: Path,
    stem: str,
    catalog: CatalogView,
    form: str,
    dialect: str,
    *,
    part: int | None = None,
    width: int = 3,
) -> int:
    """The plan (or rollback) `steps` in `dialect` as ``folder/<stem><suffix>`` (part `part`:
    :func:`file_name`); its line count (cmedit: one a step). Every name and value is checked
    before the file is written: :class:`rtbfast.enm.dialects.UnwritableError` lists what the
    dialect cannot carry."""
    from rtbfast.enm.dialects import (
        UnwritableError,
        bulkcm_tables,
        cmedit_lines,
        dynamic_blocks,
        moshell_lines,
        write_lines,
    )
    from rtbfast.network_writer import UnwritableNetwork, write_network_xml

    path = folder / file_name(stem, dialect, part, width)
    if dialect == "cmedit":
        lines = cmedit_lines(steps, form=form, naming=_naming(catalog), where=path.name)
        write_lines(path, lines)
        return len(lines)
    if dialect == "dynamic":
        write_lines(path, dynamic_blocks(steps, naming=_naming(catalog), where=path.name))
    elif dialect == "moshell":
        write_lines(path, moshell_lines(steps, where=path.name))
    else:
        try:
            write_network_xml(bulkcm_tables(steps, where=path.name), path)
        except UnwritableNetwork as err:
            raise UnwritableError([Problem("unwritable", f"{path.name}: {err.message}", err.element or "")]) from None
    return 0


def write_dialects(
    steps: pa.Table,
    folder: Path,
    stem: str,
    catalog: CatalogView,
    form: str,
    dialects: Sequence[str] = DIALECTS,
) -> dict[str, int]:
    """The plan (or rollback) `steps` in each of `dialects` and as ``stem.parquet``; line
    counts. :class:`rtbfast.enm.dialects.UnwritableError` lists what any dialect cannot carry
    (the files of the others are written)."""
    from rtbfast.enm.dialects import UnwritableError

    problems: list[Problem] = []
    lines = 0
    for dialect in dialects:
        try:
            lines = max(lines, write_dialect(steps, folder, stem, catalog, form, dialect))
        except UnwritableError as err:
            problems.extend(err.problems)
    pq.write_table(steps, folder / f"{stem}.parquet")
    if problems:
        raise UnwritableError(problems)
    return {"cmedit_lines": lines}


def _sha256(path: Path) -> str:
    """The file's sha256, read a block at a time (an import file can be GBs)."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_imports(
    planned: Planned, folder: Path, dialect: str, chunk: int | None
) -> tuple[list[dict[str, Any]], list[Path], list[Problem]]:
    """The plan and its rollback as import files of `dialect`, in parts of at most `chunk`
    operations (one file each without): their entries in ``plan.json`` (file, sha256,
    operations, nodes, and the rollback file that undoes it), the files written (so that a
    refusal removes them all), and every name or value a part cannot carry."""
    from rtbfast.enm.dialects import UnwritableError, import_chunks, import_operations, node_and_ldn

    parts: list[tuple[pa.Table, pa.Table, int | None]]
    if chunk is None:
        parts = [(planned.plan.steps, planned.rollback, None)]
        width = 3
    else:
        split = import_chunks(planned.plan.steps, planned.rollback, chunk, dialect)
        width = max(3, len(str(len(split))))
        parts = [(plan, back, k) for k, (plan, back) in enumerate(split, start=1)]
    entries: list[dict[str, Any]] = []
    written: list[Path] = []
    problems: list[Problem] = []
    for plan, back, k in parts:
        names = {stem: file_name(stem, dialect, k, width) for stem in ("plan", "rollback")}
        for stem, steps in (("plan", plan), ("rollback", back)):
            try:
                write_dialect(steps, folder, stem, planned.catalog, "fdn", dialect, part=k, width=width)
                written.append(folder / names[stem])
            except UnwritableError as err:
                problems.extend(err.problems)
        if problems:
            continue
        nodes, _ = node_and_ldn(plan["fdn"]) if plan.num_rows else (pa.array([], pa.string()), None)
        entries.append(
            {
                "file": names["plan"],
                "sha256": _sha256(folder / names["plan"]),
                "operations": import_operations(plan, dialect),
                "nodes": pc.count_distinct(nodes).as_py() if len(nodes) else 0,
                "rollback": names["rollback"],
                "rollback_sha256": _sha256(folder / names["rollback"]),
                "rollback_operations": import_operations(back, dialect),
            }
        )
    return entries, written, problems


def write_plan_folder(
    planned: Planned,
    out: str | os.PathLike[str],
    *,
    form: str = "fdn",
    dialects: Sequence[str] | None = None,
    import_chunk: int | None = None,
    timing: RouteTiming | None = None,
    on_phase: Callable[[str], None] | None = None,
    xlsx: bool = False,
) -> dict[str, Any]:
    """Write the plan folder of a plan made whole (:func:`plan_changes`) at `out`: as
    :func:`write_grouped` writes a plan made by node groups, the whole plan one batch."""
    from rtbfast.enm.node_groups import Workspace
    from rtbfast.enm.plan_stream import grouped_of

    with Workspace() as work:
        grouped = grouped_of(planned, work.path)
        return write_grouped(
            grouped,
            out,
            form=form,
            dialects=dialects,
            import_chunk=import_chunk,
            timing=timing,
            on_phase=on_phase,
            xlsx=xlsx,
        )


def plan_folder(
    source: str | os.PathLike[str],
    catalog: str | os.PathLike[str] | CatalogView,
    network: str | os.PathLike[str],
    out: str | os.PathLike[str],
    targets: Sequence[str] = (),
    *,
    form: str = "fdn",
    dialects: Sequence[str] | None = None,
    import_chunk: int | None = None,
    timing: RouteTiming | None = None,
    threads: int = 0,
    allow_unknown_rollback: bool = False,
    budget: int | None = None,
    on_phase: Callable[[str], None] | None = None,
    target_classes: Sequence[str] | None = None,
    on_warning: Callable[[str], None] | None = None,
    xlsx: bool = False,
    run_batches: Any = None,
    expand_batches: Any = None,
) -> dict[str, Any]:
    """``rtbfast plan``: plan a ChangeSet file (or a template, expanded over `targets` first)
    on `network` with `catalog` node group by node group (:mod:`rtbfast.enm.plan_stream`: a
    batch of at most `budget` network values and ChangeSet rows at a time) and write the plan
    folder at `out`, byte for byte what :func:`plan_changes` and :func:`write_plan_folder`
    write for the whole at once; its report. Errors as :func:`plan_changes` raises them.
    `run_batches` plans the batches elsewhere (:data:`rtbfast.enm.plan_stream.BatchRunner`: on
    Spark, :func:`rtbfast.spark.plan_job.spark_batches`) and `expand_batches` expands a
    template's batches elsewhere (:data:`rtbfast.templates.expand_stream.ExpandRunner`: on Spark,
    :func:`rtbfast.spark.expand_job.spark_expand`); the files are the same."""
    from rtbfast.changeset import changeset_batches
    from rtbfast.enm.node_groups import BUDGET, Workspace, network_pieces
    from rtbfast.enm.plan_stream import plan_in_groups

    say = on_phase or (lambda _: None)
    src = Path(source)
    pieces = network_pieces(network, threads)
    say("reading the catalog")
    cat = catalog if isinstance(catalog, CatalogView) else CatalogView.load(catalog, threads)
    made_from: dict[str, Any] = {"catalog": cat.origin or str(catalog), "network": str(network)}
    with Workspace() as work:
        if src.suffix.lower() == ".parquet":
            origin, batches = changeset_batches(src)
            made_from.update(changeset=str(src), changeset_made_from=origin)
        else:
            expansion = work.path / "expansion"
            expansion.mkdir()
            batches, expanded = _expanded_streamed(
                src, cat, network, targets, threads, say, expansion, target_classes, on_warning, expand_batches
            )
            made_from.update(expanded)
        grouped = plan_in_groups(
            batches,
            pieces,
            cat,
            work.path,
            made_from=made_from,
            budget=BUDGET if budget is None else budget,
            allow_unknown_rollback=allow_unknown_rollback,
            on_phase=say,
            run_batches=run_batches,
        )
        return write_grouped(
            grouped,
            out,
            form=form,
            dialects=dialects,
            import_chunk=import_chunk,
            timing=timing,
            on_phase=say,
            xlsx=xlsx,
        )


def _expanded(
    src: Path,
    catalog: CatalogView,
    network: str | os.PathLike[str] | NetworkIndex,
    targets: Sequence[str],
    threads: int,
    say: Callable[[str], None],
    target_classes: Sequence[str] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """A template expanded over `targets` (MOs of `target_classes`, by default the six cell
    classes) of `network` (an index already read, or read here): :class:`ExpansionFailed` when
    it has errors; each warning given to `on_warning`, as ``templates expand`` says it."""
    from rtbfast.templates.expand import expand, read_network_index

    if not targets:
        raise InputError(f"{src}: a template is planned over target cells: give --targets", str(src))
    say("expanding the template")
    index = network if isinstance(network, NetworkIndex) else read_network_index(network, None, threads)
    result = expand(src, catalog, index, list(targets), threads=threads, target_classes=target_classes)
    _said(src, result, on_warning)
    return result.changes, {"template": str(src), "targets": list(targets)[:100], "target_cells": len(result.targets)}


def _expanded_streamed(
    src: Path,
    catalog: CatalogView,
    network: str | os.PathLike[str],
    targets: Sequence[str],
    threads: int,
    say: Callable[[str], None],
    work: Path,
    target_classes: Sequence[str] | None = None,
    on_warning: Callable[[str], None] | None = None,
    run_batches: Any = None,
) -> tuple[Callable[..., Iterator[pa.RecordBatch]], dict[str, Any]]:
    """:func:`_expanded` node batch by node batch (:mod:`rtbfast.templates.expand_stream`), its
    rows spooled in `work`: the ChangeSet's rows a batch at a time."""
    from rtbfast.templates.expand_stream import expand_streamed

    if not targets:
        raise InputError(f"{src}: a template is planned over target cells: give --targets", str(src))
    say("expanding the template")
    result = expand_streamed(
        src, catalog, network, list(targets), work, threads=threads, target_classes=target_classes,
        run_batches=run_batches,
    )  # fmt: skip
    _said(src, result, on_warning)
    return result.batches, {"template": str(src), "targets": list(targets)[:100], "target_cells": result.target_cells}


def _said(src: Path, result: Any, on_warning: Callable[[str], None] | None) -> None:
    """An expansion's errors as :class:`ExpansionFailed`; else each warning to `on_warning`."""
    from rtbfast.templates.verdicts import verdict_lines

    errors = [str(n) for n in result.notes if n.severity == "error"]
    errors += [str(e) for e in result.errors if str(e) not in errors]
    errors += [line for line in verdict_lines(result.verdicts, src) if ": error: " in line]
    warned = [str(n) for n in result.notes if n.severity == "warning"]
    warned += [line for line in verdict_lines(result.verdicts, src) if ": warning: " in line]
    if errors or result.verdict_errors:
        raise ExpansionFailed(
            f"{src}: the template does not expand without errors ({len(errors)} error(s) above); nothing planned",
            errors + warned,
        )
    for line in warned:
        if on_warning is not None:
            on_warning(line)


class Refused:
    """What a dialect cannot carry, as it is found (a window at a time): the first
    :data:`KEPT` problems held, all of them kept on disk (a plan can hold a refusal per row)."""

    KEPT = 50

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.first: list[Problem] = []
        self._file: Any = None

    def extend(self, problems: Sequence[Problem]) -> None:
        if not problems:
            return
        if self._file is None:
            self._file = self.path.open("w", encoding="utf-8")
        for p in problems:
            self._file.write(json.dumps([p.code, p.message, p.fdn, p.source], ensure_ascii=False) + "\n")
        self.first.extend(problems[: max(0, self.KEPT - len(self.first))])
        self.count += len(problems)

    def __len__(self) -> int:
        return self.count

    def problems(self) -> Iterator[Problem]:
        """Every problem, in the order found."""
        if not self.count:
            return
        if self._file is not None:
            self._file.flush()
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                code, message, fdn, source = json.loads(line)
                yield Problem(code, message, fdn, source)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _RefusedLines:
    """The refusals of a dialect as ``plan.json`` and the summary list them: each as text, the
    first few held (:class:`rtbfast.enm.summary.Listed`), all read again to write them."""

    def __init__(self, parts: list[Refused]) -> None:
        self.parts = parts
        self.total = sum(len(r) for r in parts)
        self.first = [str(p) for r in parts for p in r.first][: Refused.KEPT]

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: int) -> str:
        return self.first[i]

    def __iter__(self) -> Iterator[str]:
        for part in self.parts:
            for p in part.problems():
                yield str(p)


def _write_report(report: dict[str, Any], refused: dict[str, _RefusedLines], path: Path) -> None:
    """``plan.json``: `report` as ``json.dumps(report, indent=2)`` writes it, each list of
    refusals (`refused`, by dialect) written from where it is kept."""
    marks = {d: f"\u0000refused {d}" for d in refused}
    shown = {**report, "dialects": {**report["dialects"], "refused": dict(marks)}}
    text = json.dumps(shown, indent=2, ensure_ascii=False) + "\n"
    with path.open("w", encoding="utf-8") as out:
        for dialect, mark in marks.items():
            quoted = json.dumps(mark, ensure_ascii=False)
            at = text.index(quoted)
            line_start = text.rindex("\n", 0, at) + 1
            indent = len(text[line_start:at]) - len(text[line_start:at].lstrip(" "))
            out.write(text[:at])
            out.write("[\n")
            first = True
            for item in refused[dialect]:
                if not first:
                    out.write(",\n")
                out.write(" " * (indent + 2) + json.dumps(item, ensure_ascii=False))
                first = False
            out.write("\n" + " " * indent + "]")
            text = text[at + len(quoted) :]
        out.write(text)


class _DialectFile:
    """One file of a dialect (the plan's or the rollback's) written a window of steps at a
    time: every window checked, the file written while none is refused."""

    def __init__(self, folder: Path, stem: str, dialect: str, form: str, naming: dict[str, str], work: Path) -> None:
        self.path = folder / file_name(stem, dialect)
        self.dialect = dialect
        self.form = form
        self.naming = naming
        self.problems = Refused(work / f"refused.{stem}.{dialect}.jsonl")
        self.lines = 0
        self._first = True
        self._out = self.path.open("w", encoding="utf-8", newline="\n")

    def add(self, window: pa.Table) -> None:
        from rtbfast.enm.dialects import UnwritableError, cmedit_lines, dynamic_blocks, moshell_lines

        where = self.path.name
        count = 0
        try:
            if self.dialect == "cmedit":
                lines = cmedit_lines(window, form=self.form, naming=self.naming, where=where)
                count = len(lines)
                text = "\n".join(lines.to_pylist()) + "\n" if count else ""
            elif self.dialect == "dynamic":
                text = "".join(dynamic_blocks(window, naming=self.naming, where=where))
            else:
                text = "".join(moshell_lines(window, where=where, header=self._first))
        except UnwritableError as err:
            self.problems.extend(err.problems)
            return
        self._first = False
        if not self.problems:
            self._out.write(text)
            self.lines += count

    def close(self) -> None:
        self._out.close()
        self.problems.close()


class ParquetRows:
    """A Parquet file written a window of rows at a time, byte for byte as ``pq.write_table``
    writes the whole table: row groups of :data:`ROW_GROUP` rows, each column of a row group
    one chunk (the writer's pages depend on it), so a row group is held whole when it is
    written: a cost that does not grow with the plan. Until then its rows wait on disk (an
    Arrow IPC file beside, `work`); each column is then read from it (mapped) and made one
    chunk in turn, the largest first, the map let go after each."""

    ROW_GROUP = 1024 * 1024

    def __init__(self, path: Path, schema: pa.Schema, work: Path) -> None:
        self.schema = schema
        self._writer = pq.ParquetWriter(path, schema)
        self._spool = work / f"{path.name}.rows.arrow"
        self._sink: Any = None
        self._rows: Any = None
        self._sizes = [0] * len(schema)
        self._held = 0
        self._written = 0

    def add(self, rows: pa.Table) -> None:
        import pyarrow.ipc as ipc

        rows = rows.cast(self.schema)
        at = 0
        while at < rows.num_rows:
            take = min(rows.num_rows - at, self.ROW_GROUP - self._held)
            piece = rows.slice(at, take)
            if self._rows is None:
                self._sink = pa.OSFile(str(self._spool), "wb")
                self._rows = ipc.new_file(self._sink, self.schema)
            for batch in piece.to_batches():
                self._rows.write_batch(batch)
                for i, column in enumerate(batch.columns):
                    self._sizes[i] += column.nbytes
            self._held += take
            at += take
            if self._held == self.ROW_GROUP:
                self._flush()

    def _flush(self) -> None:
        import pyarrow.ipc as ipc

        arrays: list[pa.Array | None] = [None] * len(self.schema)
        if self._rows is not None:
            self._rows.close()
            self._sink.close()
            self._rows = self._sink = None
            for i in sorted(range(len(self.schema)), key=lambda i: -self._sizes[i]):
                with pa.memory_map(str(self._spool)) as source:
                    reader = ipc.open_file(source)
                    chunks = [reader.get_batch(k).column(i) for k in range(reader.num_record_batches)]
                    # a copy, one chunk, of the column's pieces (which the map holds)
                    arrays[i] = pa.concat_arrays([*chunks, pa.array([], self.schema.field(i).type)])
                    del chunks, reader
                pa.default_memory_pool().release_unused()
            self._spool.unlink(missing_ok=True)
        columns = [a if a is not None else pa.array([], f.type) for a, f in zip(arrays, self.schema, strict=True)]
        del arrays
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        self._written += self._held
        self._held = 0
        self._sizes = [0] * len(self.schema)

    def close(self) -> None:
        if self._held or not self._written:
            self._flush()
        self._writer.close()


@heap_frozen()
def write_grouped(
    grouped: GroupedPlan,
    out: str | os.PathLike[str],
    *,
    form: str = "fdn",
    dialects: Sequence[str] | None = None,
    import_chunk: int | None = None,
    timing: RouteTiming | None = None,
    on_phase: Callable[[str], None] | None = None,
    xlsx: bool = False,
) -> dict[str, Any]:
    """Write the plan folder at `out` (aside, swapped in when complete) with the plan and its
    rollback in each dialect, a window of steps at a time; its report.

    A dialect is written only when it carries both the plan and its rollback exactly (a plan
    whose rollback cannot be written in the same dialect could not be undone). With
    `dialects` given, each must be written, else :class:`UnwritableError` lists every refusal
    and nothing is written; by default every dialect that can is written, the others are left
    out and their refusals reported (``refused`` in the report, the summary, a warning), and
    only when none can is it an error.

    The import files (dynamic, 3GPP) are written in parts of at most `import_chunk` operations
    when it is given (see the module; the plan and its rollback are then held whole), and
    listed in the report (``imports``). The summary recommends a route, commands or import
    jobs, by their estimated durations (`timing`). With `xlsx`, the workbook ``plan.xlsx`` of
    the plan and its rollback (:mod:`rtbfast.excel`), read back from their Parquet files."""
    from rtbfast.enm.dialects import IMPORT_DIALECTS, UnwritableError
    from rtbfast.enm.node_groups import release
    from rtbfast.enm.plan_xml import write_parts
    from rtbfast.enm.summary import (
        Listed,
        RouteTiming,
        ShownSteps,
        merged_facts,
        route_facts,
        summary_html_chunks,
        summary_markdown_chunks,
    )
    from rtbfast.output_folder import written_aside

    if import_chunk is not None and import_chunk < 1:
        raise InputError(f"--import-chunk {import_chunk}: at least 1 operation a file")
    target = Path(out)
    wanted = list(dialects) if dialects else list(DIALECTS)
    say = on_phase or (lambda _: None)
    catalog = grouped.catalog
    naming = _naming(catalog)
    chunked = import_chunk is not None
    with written_aside(target, "plan") as folder:
        streamed = [d for d in wanted if d != "3gpp" and not (chunked and d in IMPORT_DIALECTS)]
        files = {
            (stem, d): _DialectFile(folder, stem, d, form if stem == "plan" else "fdn", naming, grouped.workspace)
            for d in streamed
            for stem in ("plan", "rollback")
        }
        say("writing the plan")
        shown = ShownSteps(form=form, naming=naming)
        for window in grouped.plan_windows():
            for (stem, _), file in files.items():
                if stem == "plan":
                    file.add(window)
            shown.add_plan(window)
            del window
            release()
        say("writing the rollback")
        restored = RestoredValues(catalog)
        for window in grouped.rollback_windows():
            for (stem, _), file in files.items():
                if stem == "rollback":
                    file.add(window)
            restored.add(window)
            shown.add_rollback(window)
            del window
            release()
        violations = restored.close()
        for file in files.values():
            file.close()
        refused: dict[str, list[Refused]] = {}
        commands = {"plan": 0, "rollback": 0}
        imports: dict[str, list[dict[str, Any]]] = {}
        whole: Planned | None = None
        for dialect in wanted:
            found: list[Refused] = []
            if chunked and dialect in IMPORT_DIALECTS:
                say(f"writing the import files: {dialect}")
                if whole is None:
                    whole = _held_whole(grouped)
                entries, written_files, problems = _write_imports(whole, folder, dialect, import_chunk)
                if problems:
                    kept = Refused(grouped.workspace / f"refused.{dialect}.jsonl")
                    kept.extend(problems)
                    refused[dialect] = [kept]
                    for path in written_files:
                        path.unlink(missing_ok=True)
                else:
                    imports[dialect] = entries
                continue
            if dialect == "3gpp":
                say("writing the plan and its rollback: 3gpp")
                maps = {"plan": grouped.order.plan, "rollback": grouped.order.rollback}
                for stem in ("plan", "rollback"):
                    problems = grouped.xml[stem].refusal(maps[stem])
                    if problems:
                        kept = Refused(grouped.workspace / f"refused.{stem}.3gpp.jsonl")
                        kept.extend(problems)
                        found.append(kept)
                    else:
                        write_parts(grouped.xml[stem], folder / file_name(stem, dialect))
            else:
                for stem in ("plan", "rollback"):
                    file = files[(stem, dialect)]
                    if len(file.problems):
                        found.append(file.problems)
                    elif dialect == "cmedit":
                        commands[stem] = max(commands[stem], file.lines)
            if found:
                refused[dialect] = found
                for stem in ("plan", "rollback"):
                    (folder / file_name(stem, dialect)).unlink(missing_ok=True)
            elif dialect in IMPORT_DIALECTS:
                imports[dialect] = [_import_entry(grouped, folder, dialect)]
        if refused and (dialects or len(refused) == len(wanted)):
            raise UnwritableError([p for d in wanted for r in refused.get(d, []) for p in r.problems()])
        written = [d for d in wanted if d not in refused]
        unknown = _UnknownRows(grouped)
        restored_rows = violations.select(["subject", "attribute", "member", "index", "value", "rule", "message"])
        facts = merged_facts(
            grouped.summary_parts,
            catalog=catalog,
            made_from=grouped.made_from,
            effects=grouped.effects,
            rollback_steps=grouped.order.rollback_steps,
            dropped=grouped.order.dropped,
            unknown=unknown,
            restored=Listed(restored_rows.to_pylist(), restored.total),
            notes=[str(n) for n in grouped.notes],
        )
        refused_lines = {d: _RefusedLines(rs) for d, rs in refused.items()}
        facts["dialects"] = {"written": written, "refused": refused_lines}
        facts["steps_shown"] = shown.rows()
        del shown
        facts["route"] = route_facts(
            commands["plan"] if "cmedit" in written else None, imports, facts["counts"], timing or RouteTiming()
        )
        for name, chunks in (("summary.md", summary_markdown_chunks), ("summary.html", summary_html_chunks)):
            with (folder / name).open("w", encoding="utf-8") as text:
                for chunk in chunks(facts):
                    text.write(chunk)
        report = {
            "made_from": grouped.made_from,
            "form": form,
            "dialects": facts["dialects"],
            "steps": grouped.order.steps,
            "commands": commands["plan"],
            "rollback_commands": commands["rollback"],
            "imports": imports,
            "import_chunk": import_chunk,
            "route": facts["route"],
            "dropped_as_already_true": grouped.order.dropped,
            "notes": [str(n) for n in grouped.notes],
            "counts": facts["counts"],
        }
        del facts
        # the Parquet tables last, when little else is held: a row group is held whole
        grouped.effects, grouped.summary_parts, grouped.order.effects = [], [], []
        release()
        say("writing plan.parquet and rollback.parquet")
        for name, windows in (("plan.parquet", grouped.plan_windows), ("rollback.parquet", grouped.rollback_windows)):
            rows = ParquetRows(folder / name, PLAN_SCHEMA, grouped.workspace)
            for window in windows():
                rows.add(window)
                del window
            rows.close()
            release()
        _write_report(report, refused_lines, folder / MARKER)
        if xlsx:
            from rtbfast.excel import folder_xlsx

            folder_xlsx(folder, command="plan")
    return report


class _UnknownRows:
    """The attributes the rollback cannot restore (``fdn``, ``attribute``, ``step``), as many
    as there are, read from where they are kept as they are listed."""

    def __init__(self, grouped: GroupedPlan) -> None:
        self.grouped = grouped

    def __len__(self) -> int:
        return self.grouped.unknown.rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for table in self.grouped.unknown_rows():
            yield from table.select(["fdn", "attribute", "step"]).to_pylist()


def _import_entry(grouped: GroupedPlan, folder: Path, dialect: str) -> dict[str, Any]:
    """``plan.json``'s entry of the import file of `dialect` written whole (one part)."""
    plan, back = file_name("plan", dialect), file_name("rollback", dialect)
    steps = {"plan": grouped.order.steps, "rollback": grouped.order.rollback_steps}
    operations = steps if dialect == "dynamic" else grouped.changed_mos
    return {
        "file": plan,
        "sha256": _sha256(folder / plan),
        "operations": operations["plan"],
        "nodes": len(grouped.node_names["plan"]),
        "rollback": back,
        "rollback_sha256": _sha256(folder / back),
        "rollback_operations": operations["rollback"],
    }


def _held_whole(grouped: GroupedPlan) -> Planned:
    """The plan and its rollback held whole (for the import files in parts)."""
    plan, back = grouped.whole()
    return Planned(Plan(plan), back, pa.table({}), NetworkIndex({"mos": _EMPTY_MOS}), grouped.catalog)


_EMPTY_MOS = pa.table({c: pa.array([], pa.string()) for c in ("fdn", "class", "id", "parent_fdn")})
