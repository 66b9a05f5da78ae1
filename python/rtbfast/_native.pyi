"""Contract of the private extension module, written by hand (checked by mypy.stubtest)."""

import os
from typing import Any, Literal, NotRequired, TypedDict

__version__: str

class ArrowTable:
    """One table, readable by any Arrow library through the C stream interface."""

    @property
    def num_rows(self) -> int: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class Progress:
    """Bytes read so far by a running read, and a way to stop it."""

    def __init__(self) -> None: ...
    @property
    def bytes_read(self) -> int: ...
    def cancel(self) -> None: ...

# (message, file, line, column, element)
RawWarning = tuple[str, str, int, int, str]

class MomRead(TypedDict):
    tables: dict[str, ArrowTable]
    warnings: list[RawWarning]
    skipped: dict[str, int]
    dtd_version: str | None

class BulkCmRead(TypedDict):
    tables: dict[str, ArrowTable]
    warnings: list[RawWarning]
    header: dict[str, str]

def read_mom(path: Any, progress: Progress | None = None, threads: int = 0) -> MomRead: ...
def read_bulkcm(path: Any, progress: Progress | None = None, threads: int = 0) -> BulkCmRead: ...
def detect_kind(path: Any) -> Literal["mom", "bulkcm"]: ...
def list_inputs(path: Any) -> tuple[list[str], list[RawWarning]]: ...
def input_info(path: Any) -> tuple[str, Literal["plain", "gzip", "bzip2", "zip"], int]: ...
def bulkcm_chunks(path: Any, chunk_bytes: int) -> list[tuple[int, int | None, int, bytes | None]]:
    """The export split at node boundaries into chunks of about `chunk_bytes`:
    ``(start, end, head_end, access)`` each (``end`` None for the last). For a gzip or bzip2
    export or a deflated or stored zip member the offsets are of the decompressed stream and
    ``access`` is the access point the chunk is decompressed from (an encoded deflate block
    boundary with the 32 KiB window before it, a bzip2 block's bit, or the member's byte; and the
    CRC-32 of the chunk's bytes); None for a plain file."""

def read_bulkcm_chunk(path: Any, start: int, end: int | None, head_end: int, access: bytes | None = None) -> BulkCmRead:
    """One chunk of :func:`bulkcm_chunks` read alone, after the file's head (of a compressed
    export: decompressed from its ``access`` point, its bytes checked against the split's CRC)."""

class Evaluation(TypedDict):
    violations: ArrowTable
    checked: int
    problems: list[tuple[int, str, str, str]]  # (row, class, attribute, message)

def evaluate_constraints(constraints: object, mos: object, values: object, threads: int = 0) -> Evaluation: ...

class RowEvaluation(TypedDict):
    violations: ArrowTable  # the Violations columns and ``row``: the row of ``values`` each is about
    checked: int

class CompiledConstraints:
    """A constraints table compiled once, to evaluate many values tables against."""

    def __init__(self, constraints: object) -> None: ...
    def evaluate(self, mos: object, values: object, threads: int = 0, names: bool = True) -> RowEvaluation: ...

# (row, id, field, line, column, message)
RuleProblem = tuple[int, str, str, int, int, str]

class CompiledRules(TypedDict):
    problems: list[RuleProblem]
    variables: list[tuple[str, str, list[str]]]  # (id, class, variables read)

class RuleEvaluation(TypedDict):
    violations: ArrowTable
    checked: int
    problems: list[RuleProblem]

def compile_user_rules(rules: object, threads: int = 0) -> CompiledRules: ...
def evaluate_user_rules(
    rules: object, constraints: object, mos: object, values: object, threads: int = 0
) -> RuleEvaluation: ...

class NetworkGroup(TypedDict):
    tables: dict[str, ArrowTable]
    warnings: list[RawWarning]
    header: dict[str, str]
    done: int
    size: int

class NetworkParts:
    """An export read group of parts by group."""

    @property
    def parts(self) -> int: ...
    def __iter__(self) -> NetworkParts: ...
    def __next__(self) -> NetworkGroup: ...

def stream_bulkcm(
    path: Any, part_bytes: int, threads: int = 0, progress: Progress | None = None
) -> NetworkParts | None: ...

class TemplateTexts:
    """The texts of templates read, kept to locate findings in."""

    def locate(self, pointers: object) -> ArrowTable:
        """The ``line`` and ``column`` (int32) of each row of a table of ``template`` (int32, the
        file's index) and ``path`` (a JSON pointer), row for row."""

class TemplateTables(TypedDict):
    files: ArrowTable
    mos: ArrowTable
    values: ArrowTable
    expressions: ArrowTable
    calls: ArrowTable
    problems: ArrowTable
    texts: NotRequired[TemplateTexts]  # with keep_texts

def read_templates(
    paths: list[Any], threads: int = 0, progress: Progress | None = None, keep_texts: bool = False
) -> TemplateTables: ...
def locate_pointers(path: Any, pointers: list[str]) -> list[tuple[int, int]]: ...
def read_typed_document(
    path: Any,
) -> tuple[str, str | None, tuple[Literal["io", "document"], str, int, int] | None]: ...
def duplicate_keys(text: str) -> list[tuple[str, str, str, list[tuple[int, int]]]]: ...
def locate_document_pointers(path: Any, pointers: list[str]) -> list[tuple[int, int]]: ...
def locate_many(requests: list[tuple[Any, list[str]]]) -> list[list[tuple[int, int]]]: ...
def parse_template_key(
    key: str,
    holds_value: bool = False,
) -> (
    tuple[Literal["directive"], str]
    | tuple[Literal["attribute"], str]
    | tuple[Literal["mo"], str, bool, Literal["none", "wildcard", "id", "list"], list[str]]
): ...
def cmedit_lines(plan: object, form: str, naming: dict[str, str]) -> tuple[ArrowTable, ArrowTable]:
    """A Plan (rows in step order, the columns of ``PLAN_SCHEMA``) as cmedit lines, one per
    step, in a table of one column ``line``; ``form`` is ``"fdn"`` or ``"node"``. The second
    table (``row``, ``reason``) lists the steps cmedit cannot carry (not written), by the plan
    row that is refused."""

def step_texts(
    plan: object, dialect: Literal["dynamic", "moshell"], naming: dict[str, str]
) -> tuple[ArrowTable, ArrowTable]:
    """A Plan (rows in step order) as ``dialect`` writes it: a table of one column ``text``,
    each step's text in step order (a dynamic block; moshell's lines, empty where it writes
    nothing for the step), ``naming`` giving a class's naming attribute (else ``<Class>Id``);
    and the refusals (``row``, ``reason``): a step refused is not written."""

def refused_names(kind: Literal["class", "attribute", "member", "mo_id", "fdn"], names: object) -> ArrowTable:
    """The rows (``row``, ``reason``) of a one-column utf8 table that are not a ``kind``."""

def network_xml(mos: object, values: object) -> str:
    """The ``configData`` content of a network (plain text columns) as Bulk CM XML."""

def network_xml_spans(mos: object, values: object) -> tuple[str, ArrowTable]:
    """:func:`network_xml`, and a table ``fdn``, ``start``, ``opened``, ``closing``, ``end``:
    where each MO's element is in the text (UTF-8 byte offsets, document order)."""

def node_keys(texts: object) -> ArrowTable:
    """The node key of each text of a one-column table (utf8 or a dictionary of utf8): the
    FDN up to its ``MeContext``, else its ``ManagedElement``; null where there is none. A
    table of one column, ``node``."""

class NetworkView:
    """A network's MOs and values indexed for the planner, the rollback and the simulator."""

    def __init__(self, mos: object, values: object | None = None) -> None: ...
    def __len__(self) -> int: ...
    def exists(self, fdns: object) -> ArrowTable:
        """Whether each FDN of a one-column text table is an MO of the network (``exists``)."""

class PlanningCatalog:
    """A catalog as the planner, the rollback and the simulator read it."""

    def __init__(
        self,
        constraints: object,
        kinds: object,
        flags: object,
        admin: list[str],
        locks: list[tuple[str, str]],
        system_created: list[str],
    ) -> None: ...

def last_writes(writes: object, catalog: PlanningCatalog) -> ArrowTable:
    """Of a ChangeSet's writes, the rows of each attribute's last write in each phase (``seq``
    order), without ``target``, values as the node compares them, with ``kind``,
    ``is_sequence`` and ``guarded`` (read-only or restricted)."""

class PlannedSteps(TypedDict, total=False):
    order: ArrowTable  # take, step, op: each row of the Plan, from the writes or (past them) own
    own: ArrowTable
    effects: ArrowTable
    dropped: int
    notes: list[tuple[Literal["cycle", "no_lock", "cascade"], str, Any]]  # (code, fdn, detail)
    cycle: list[str]

def plan_steps(
    writes: object,
    creates: object,
    deletes: object,
    phase_names: dict[int, str],
    effect_pairs: list[tuple[str, str]],
    network: NetworkView,
    catalog: PlanningCatalog,
) -> PlannedSteps:
    """The steps of a checked ChangeSet (``order`` and ``own``: the Plan's rows laid out over
    the writes, ``notes``, ``dropped``, ``effects``), or the MOs of a cycle of mandatory
    references (``cycle``)."""

def create_order(
    fdns: list[str], references: list[tuple[str, str, str]], catalog: PlanningCatalog
) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """The creates of `fdns` in the planner's order given the moRef values written to them
    (``fdn``, ``attribute``, ``value``, in ChangeSet order): the order, the (fdn, attribute)
    references set after the creates to break cycles, and (else empty) the MOs of a cycle
    through mandatory references, the order then empty."""

def rollback_steps(plan: object, network: NetworkView, catalog: PlanningCatalog) -> tuple[ArrowTable, ArrowTable]:
    """The rollback of a Plan: its steps, and the attributes whose value before is unknown."""

def plan_origins(steps: object, changes: object) -> ArrowTable:
    """The ChangeSet ``seq`` and ``row`` of each row of a Plan's `steps` that writes a value of
    `changes` (a ChangeSet with ``row``), matched by (phase_order, fdn, attribute, member,
    index) counting from the last; null for the planner's own rows. ValueError when a planned
    write matches no ChangeSet row."""

def check_sets(
    part: object, network: NetworkView, catalog: PlanningCatalog, removed: list[str], created: dict[str, str]
) -> ArrowTable:
    """The rows of a run of set steps (``fdn``, ``attribute``) checked: ``class`` (null where
    the MO does not exist) and ``problems`` (bits: 1 missing, 2 unknown, 4 read-only, 8
    restricted, 16 changed only while locked)."""

def value_violations(
    rows: object, catalog: PlanningCatalog, rules: list[str], severity: str, threads: int = 0
) -> ArrowTable:
    """The violations of ``rules`` of ``severity`` that the values of ``rows`` (``fdn``,
    ``class``, ``attribute``, ``member``, ``index``, ``value``) break (the evaluator's columns)."""

class XlsxWorkbook:
    """A workbook being written with rust_xlsxwriter in constant-memory mode: the summary sheet
    first, then each table's sheets, a record batch at a time; the file is written by
    :meth:`close`. Errors (a sheet name Excel refuses, the file not writable) are ``OSError``."""

    def __new__(cls, path: str | os.PathLike[str], row_limit: int) -> XlsxWorkbook:
        """`row_limit`: rows a sheet holds, its header one of them (2 to Excel's 1,048,576)."""

    def begin_table(
        self,
        name: str,
        headers: list[str],
        widths: list[float],
        colour_at: int | None,
        palette: list[tuple[str, str, str]],
        whole_text_in: str,
    ) -> None:
        """Start the table's sheet `name` (continued on ``name (2)``… past the row limit): its
        `headers` and column `widths`, the column `colour_at` whose value picks a row's
        (value, fill, font) colours from `palette`, and where the whole of a cut text is."""

    def write_batch(self, batch: object) -> None:
        """Write a record batch of the table's rows (an Arrow C data interface object): text,
        integers exact in a double, floats, booleans and nulls, in the headers' order."""

    def end_table(self) -> tuple[list[tuple[str, int]], int, int]:
        """Finish the table: its sheets with their data rows, its rows, its texts cut to fit."""

    def write_summary(self, rows: list[tuple[str, str, bool | float | str | None]]) -> None:
        """Write the summary sheet's rows (section, item, value)."""

    def close(self) -> None:
        """Write the file."""
