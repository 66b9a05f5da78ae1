"""The folders rtbfast writes and reads back: their layout, writing one aside and swapping it
in, the run report with its phase timings and peak memory, and opening a built catalog folder
with its tables checked against its report.

Every command that writes a folder (``build``, ``audit`` and the ones that follow) writes into
``.OUT.partial-PID`` beside ``OUT``, its marker file (``report.json``, ``audit.json``) last, and
swaps it in only when all of it is written. On Linux the swap is one atomic
``renameat2(RENAME_EXCHANGE)``, so ``OUT`` is at every instant either the old output or the new
one. Where that call is missing the swap is two renames, and a run killed between them leaves
``.OUT.old-PID``, which the next run puts back (:func:`tidy_beside`). Folders left by runs that
were killed (their process is gone) are removed by the next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtbfast.errors import CatalogError, InputIOError, OutputError

if TYPE_CHECKING:
    import pyarrow as pa

    from rtbfast.rules.constraints import Constraints

REPORT = "report.json"
"""The marker and run report of a build folder."""
CATALOG = "catalog"
NETWORK = "network"
RULES = "rules"
CONSTRAINTS = "constraints.parquet"
"""The per-attribute constraints of the catalog (``rtbfast.rules``), under ``OUT/rules/``."""
MODELS = "models"
SCHEMAS = "schemas"
DOCS = "docs"

NEEDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "classes": ("mim", "class", "system_created", "source"),
    "attributes": ("mim", "class", "attribute", "kind", "dependencies", "precondition", "source"),
    "struct_members": ("mim", "struct", "member", "kind"),
    "structs": ("mim", "struct"),
    "enums": ("mim", "enum"),
    "enum_members": ("mim", "enum", "member", "value"),
    "derived_types": ("mim", "name", "kind"),
    "containment": ("parent", "child", "card_min", "card_max"),
    "mims": ("mim",),
}
"""The columns every catalog table of a build must have: those the commands read. A table
without them is from another program or another version, and is refused."""
CATALOG_TABLES = ("classes", "attributes")
"""Tables every catalog has (a model's or an export's)."""


# ---------------------------------------------------------------------------------------------
# the run: phases, timings, memory


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss_children_bytes() -> int:
    """Peak resident memory of the largest child process that has ended."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


PhaseCallback = Callable[[str], None]
"""Called with the name of each phase as it starts."""


@dataclass
class Phases:
    """The phases of one run: each one announced to `on_phase` as it starts and timed."""

    on_phase: PhaseCallback | None = None
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @contextmanager
    def phase(self, name: str, *, announce: bool = True) -> Iterator[None]:
        """Time the block as phase `name` (added to any earlier time of the same name)."""
        if announce and self.on_phase is not None:
            self.on_phase(name)
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t

    def announce(self, name: str) -> None:
        if self.on_phase is not None:
            self.on_phase(name)

    def rounded(self) -> dict[str, float]:
        """The timings in seconds, with ``total`` since the run started."""
        return {k: round(v, 4) for k, v in {**self.timings, "total": time.perf_counter() - self.started}.items()}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_report(out: str | os.PathLike[str], marker: str = REPORT) -> dict[str, Any]:
    """The report of an earlier run, or :class:`OutputError` if `out` is not one."""
    path = Path(out) / marker
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise OutputError(f"{out}: not an rtbfast output (no {marker})", str(out)) from err
    except (OSError, ValueError) as err:
        raise OutputError(f"{path}: unreadable report: {err}", str(path)) from err
    if not isinstance(data, dict):
        raise OutputError(f"{path}: not an rtbfast report (a JSON object was expected)", str(path))
    return data


# ---------------------------------------------------------------------------------------------
# writing aside and swapping in


def _staging(out: Path, pid: int) -> Path:
    return out.with_name(f".{out.name}.partial-{pid}")


def _old(out: Path, pid: int) -> Path:
    return out.with_name(f".{out.name}.old-{pid}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _left_beside(out: Path, kind: str) -> list[tuple[Path, int]]:
    """Folders ``.OUT.<kind>-PID`` beside `out`, with their PIDs."""
    prefix = f".{out.name}.{kind}-"
    found = []
    with contextlib.suppress(OSError):
        for p in out.parent.iterdir():
            if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit():
                found.append((p, int(p.name[len(prefix) :])))
    return sorted(found)


def tidy_beside(out: Path) -> list[str]:
    """Put right what killed runs left beside `out`: an output moved aside by a swap that did
    not finish is moved back, and staging folders of processes that are gone are removed.
    Returns what was done, one line each."""
    done = []
    for old, pid in _left_beside(out, "old"):
        if _alive(pid):
            continue
        if not out.exists():
            old.rename(out)
            done.append(f"{out}: restored from {old.name} (a run was killed while swapping it)")
        else:
            shutil.rmtree(old, ignore_errors=True)
            done.append(f"removed {old} (left by a killed run)")
    for staging, pid in _left_beside(out, "partial"):
        if not _alive(pid):
            shutil.rmtree(staging, ignore_errors=True)
            done.append(f"removed {staging} (left by a killed run)")
    return done


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: not on this file system
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def replace_output(staging: Path, out: Path, marker: str = REPORT, *, exchange: bool = True) -> None:
    """Move the complete `staging` to `out`. An existing `out` must be an earlier rtbfast
    output of the same kind (it holds `marker`) or empty; it is swapped out atomically where
    the system allows (`exchange`), else by two renames that :func:`tidy_beside` completes if
    the run dies between them."""
    if not out.exists():
        staging.rename(out)
        return
    if not out.is_dir() or (any(out.iterdir()) and not (out / marker).exists()):
        raise OutputError(f"{out}: exists and is not an rtbfast output; refusing to replace it", str(out))
    if exchange and _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)  # now the old output
        return
    old = _old(out, os.getpid())
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def write_text_aside(path: str | os.PathLike[str], chunks: Iterable[str], what: str = "") -> Path:
    """Write the text `chunks` to `path`: into ``.NAME.partial-PID`` beside it first, swapped
    in only when all of it is written, so a good file is never left half-written (and nothing
    is left behind when writing fails)."""
    out = Path(path)
    aside = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with aside.open("w", encoding="utf-8", newline="\n") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(aside, out)
    except OSError as err:
        aside.unlink(missing_ok=True)
        raise OutputError(f"{out}: cannot write{' ' + what if what else ''}: {err.strerror or err}", str(out)) from err
    except BaseException:
        aside.unlink(missing_ok=True)
        raise
    return out


@contextmanager
def written_aside(out: Path, marker: str = REPORT) -> Iterator[Path]:
    """A staging folder beside `out` to write into; when the block ends without error it
    replaces `out` (which must be an earlier output holding `marker`, or empty), else it is
    removed, so a failed run never leaves a partial output over a good one. What killed runs
    left beside `out` is put right first."""
    staging = _staging(out, os.getpid())
    try:
        parent = out.parent
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{out}: cannot write the output: {parent} is a file, not a folder", str(out))
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out}: cannot write the output: it is a file, not a folder", str(out))
        parent.mkdir(parents=True, exist_ok=True)
        tidy_beside(out)
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        yield staging
        replace_output(staging, out, marker)
    except (FileExistsError, NotADirectoryError) as err:
        raise OutputError(
            f"{out}: cannot write the output: {err.filename or out} is in the way ({err.strerror})", str(out)
        ) from err
    except OSError as err:
        raise OutputError(f"{out}: cannot write the output: {err}", str(out)) from err
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# opening a built catalog folder


def _rebuild_hint(folder: Path, report: dict[str, Any] | None) -> str:
    inputs = " ".join(str(i.get("path", "")) for i in (report or {}).get("inputs", []) if isinstance(i, dict))
    return f"rebuild it: rtbfast build {inputs or 'MODEL.xml'} -o {folder} --force"


@dataclass
class CatalogFolder:
    """A folder written by ``rtbfast build``, its report read and its tables checked: each
    table the report counts exists, is Parquet, has the rows the report says and the columns
    the commands read."""

    path: Path
    report: dict[str, Any]
    files: dict[str, Path]
    """``catalog/<table>`` (and ``network/<table>``, ``rules/constraints``) → file."""

    def table_file(self, name: str) -> Path:
        return self.files[f"{CATALOG}/{name}"]

    def tables(self, columns: dict[str, list[str]] | None = None) -> dict[str, pa.Table]:
        """The catalog tables (only the tables and columns in `columns` when given)."""
        import pyarrow.parquet as pq

        out = {}
        for key, path in self.files.items():
            folder, name = key.split("/", 1)
            if folder != CATALOG or (columns is not None and name not in columns):
                continue
            try:
                if columns is None:
                    out[name] = pq.read_table(path)
                else:
                    present = set(pq.read_schema(path).names)
                    out[name] = pq.read_table(path, columns=[c for c in columns[name] if c in present])
            except (OSError, ValueError) as err:  # ArrowInvalid is a ValueError
                raise self.damaged(path, f"cannot be read as Parquet ({err})") from None
        return out

    def constraints(self) -> Constraints:
        """The constraints the build wrote beside its catalog."""
        import pyarrow.parquet as pq

        from rtbfast.rules.constraints import SCHEMA, Constraints, constraint_table

        path = self.files.get(f"{RULES}/constraints")
        if path is None:  # a build from before constraints were written beside the catalog
            return constraint_table(self.tables())
        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as err:
            raise self.damaged(path, f"cannot be read as Parquet ({err})") from None
        missing = [c for c in SCHEMA.names if c not in table.column_names]
        if missing:
            raise self.damaged(path, f"lacks the column(s) {', '.join(missing)} (another rtbfast version?)")
        try:
            table = table.select(SCHEMA.names).cast(SCHEMA)
        except (ValueError, TypeError) as err:
            raise self.damaged(path, f"its columns are not of the expected types ({err})") from None
        notes = self.report.get("rules", {}).get("notes", [])
        return Constraints(table, [str(n) for n in notes] if isinstance(notes, list) else [])

    def damaged(self, path: Path, what: str) -> CatalogError:
        return CatalogError(f"{path}: {what}; {_rebuild_hint(self.path, self.report)}", str(path))


def open_catalog(path: str | os.PathLike[str]) -> CatalogFolder:
    """Open a build folder and check it: the report, and every table it counts (present,
    Parquet, as many rows as counted, the columns the commands read). A damaged or foreign
    folder raises :class:`CatalogError` naming the file and how to rebuild it."""
    import pyarrow.parquet as pq

    folder = Path(path)
    if not (folder / REPORT).is_file() and not (folder / CATALOG).is_dir():
        raise InputIOError(f"{folder}: not an rtbfast build (no {REPORT}); run rtbfast build", str(folder))
    try:
        report = load_report(folder)
    except OutputError as err:
        raise CatalogError(f"{err.message}; {_rebuild_hint(folder, None)}", err.file) from None
    counts = report.get("counts")
    if not isinstance(counts, dict):
        raise CatalogError(
            f"{folder / REPORT}: has no table counts (not written by rtbfast build); {_rebuild_hint(folder, report)}",
            str(folder / REPORT),
        )
    expected: dict[str, int | None] = {str(k): v if isinstance(v, int) else None for k, v in counts.items()}
    for name in CATALOG_TABLES:
        expected.setdefault(f"{CATALOG}/{name}", None)
    rules = report.get("rules")
    if isinstance(rules, dict):
        n = rules.get("constraints")
        expected[f"{RULES}/constraints"] = n if isinstance(n, int) else None
    found = CatalogFolder(folder, report, {})
    for key, rows in expected.items():
        file = folder / f"{key}.parquet"
        if not file.is_file():
            raise found.damaged(file, "is missing")
        try:
            meta = pq.read_metadata(file)
        except (OSError, ValueError) as err:
            raise found.damaged(file, f"is not a Parquet file ({err})") from None
        if rows is not None and meta.num_rows != rows:
            raise found.damaged(file, f"holds {meta.num_rows:,} rows where the report counts {rows:,}")
        name = key.split("/", 1)[1]
        if key.startswith(f"{CATALOG}/") and name in NEEDED_COLUMNS:
            present = set(meta.schema.names)
            missing = [c for c in NEEDED_COLUMNS[name] if c not in present]
            if missing:
                raise found.damaged(file, f"lacks the column(s) {', '.join(missing)} (not an rtbfast catalog table)")
        found.files[key] = file
    return found


def load_catalog(
    path: str | os.PathLike[str], *, threads: int = 0, columns: dict[str, list[str]] | None = None
) -> dict[str, pa.Table]:
    """The catalog tables of a build folder (``OUT/catalog/*.parquet``, checked; only the
    tables and columns in `columns` when given) or of an MP XML model."""
    p = Path(path)
    if p.is_dir():
        return open_catalog(p).tables(columns)
    from rtbfast.readers import read_model

    return read_model(p, threads=threads).tables
