"""Reading inputs: MP XML models and Bulk CM exports into typed views over Arrow tables.

The parsing itself happens in the native module with the GIL released; this module picks the
reader from the root element, reports progress from the calling thread, and wraps the results.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

import pyarrow as pa

from rtbfast import _native
from rtbfast.errors import InputIOError, WrongRootError
from rtbfast.inferred import catalog_from_export

InputKind = Literal["mom", "bulkcm"]
ProgressCallback = Callable[[int, int], None]
"""Called as ``callback(bytes_read, total_bytes)`` from the calling thread while a file is read."""

T = TypeVar("T")


@dataclass(frozen=True)
class ReadWarning:
    """Something worth knowing about an input that did not stop the read."""

    message: str
    file: str
    line: int
    column: int
    element: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.message}" + (f" (in {self.element})" if self.element else "")


@dataclass
class Model:
    """A catalog read from one file: MP XML (``source == "mom"``) or inferred from an export."""

    path: Path
    source: Literal["mom", "export"]
    tables: dict[str, pa.Table]
    warnings: list[ReadWarning] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    dtd_version: str | None = None

    def counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


@dataclass
class Network:
    """The managed objects and values of a Bulk CM export, and the model it implies."""

    path: Path
    tables: dict[str, pa.Table]
    header: dict[str, str]
    warnings: list[ReadWarning] = field(default_factory=list)

    @cached_property
    def model(self) -> Model:
        """The export-inferred catalog: classes present, observed attributes and their kinds."""
        return Model(self.path, "export", catalog_from_export(self.tables), list(self.warnings))

    def counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


def split_input(path: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """The file an input is in, and its member when `path` names one as ``archive.zip!member``
    (a path naming a file that exists is that file, whatever it holds)."""
    p = Path(path)
    text = str(p)
    if "!" in text and not os.path.lexists(p):
        at = text.find("!")
        while at >= 0:
            if os.path.isfile(text[:at]):
                return Path(text[:at]), text[at + 1 :]
            at = text.find("!", at + 1)
    return p, None


def input_label(path: str | os.PathLike[str]) -> str:
    """A short name of an input: the file name, or ``archive.zip!member``."""
    file, member = split_input(path)
    return file.name if member is None else f"{file.name}!{member}"


def input_size(path: str | os.PathLike[str]) -> int:
    """The bytes the input takes on disk: the file's size, or a zip member's compressed size
    (what a read's progress counts)."""
    return _native.input_info(Path(path))[2]


def inputs(path: str | os.PathLike[str]) -> tuple[list[Path], list[ReadWarning]]:
    """Every input `path` holds: itself, or each XML member of a zip archive (named
    ``archive.zip!member.xml``, in the archive's order), and a warning for each other file of
    the archive, which is not read. Raises :class:`rtbfast.errors.ArchiveError` for a corrupt
    archive, unsafe member names or an archive with no XML member."""
    names, warnings = _native.list_inputs(checked_file(path))
    return [Path(n) for n in names], located_warnings(warnings)


def checked_file(path: str | os.PathLike[str]) -> Path:
    """`path` if it is a regular file that can be opened for reading (or a member
    ``archive.zip!member`` of one, which the read checks); else :class:`InputIOError` saying
    what it is instead (missing, a folder, a device or pipe that would never end or block the
    read, or not readable)."""
    p = Path(path)
    file, member = split_input(p)
    if member is not None:
        checked_file(file)
        return p
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise InputIOError(f"{p}: no such file", str(p)) from None
    except OSError as err:
        raise InputIOError(f"{p}: cannot read the file: {err.strerror}", str(p)) from None
    if stat.S_ISDIR(mode):
        raise InputIOError(f"{p}: is a folder, not a file", str(p))
    if not stat.S_ISREG(mode):
        kind = "pipe" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
        raise InputIOError(f"{p}: is a {kind}, not a regular file; rtbfast reads files", str(p))
    try:
        with p.open("rb"):
            pass
    except OSError as err:
        raise InputIOError(f"{p}: cannot read the file: {err.strerror}", str(p)) from None
    return p


def _with_progress(call: Callable[[_native.Progress], T], total: int, on_progress: ProgressCallback | None) -> T:
    """Run a native read; while it runs, report its progress from this thread.

    Ctrl-C stops the native read at its next check instead of waiting for the whole file.
    """
    progress = _native.Progress()
    if on_progress is None:
        return call(progress)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtbfast-read") as pool:
        future = pool.submit(call, progress)
        try:
            while True:
                try:
                    result = future.result(timeout=0.1)
                except TimeoutError:
                    on_progress(progress.bytes_read, total)
                    continue
                on_progress(total, total)
                return result
        except KeyboardInterrupt:
            progress.cancel()
            future.exception()
            raise


def detect_kind(path: str | os.PathLike[str]) -> InputKind:
    """``"mom"`` for an MP XML model, ``"bulkcm"`` for a Bulk CM export, from the root element."""
    return _native.detect_kind(checked_file(path))


def located_warnings(raw: list[tuple[str, str, int, int, str]]) -> list[ReadWarning]:
    return [ReadWarning(*w) for w in raw]


def _tables(raw: dict[str, _native.ArrowTable]) -> dict[str, pa.Table]:
    return {name: pa.table(t) for name, t in raw.items()}


def _checked_threads(threads: int) -> int:
    if threads < 0:
        raise ValueError(f"threads must be 0 (one per core) or more, not {threads}")
    return threads


def _read_mom(p: Path, on_progress: ProgressCallback | None, threads: int) -> Model:
    _checked_threads(threads)
    raw = _with_progress(lambda prog: _native.read_mom(p, prog, threads), input_size(p), on_progress)
    return Model(
        p, "mom", _tables(raw["tables"]), located_warnings(raw["warnings"]), raw["skipped"], raw["dtd_version"]
    )


def _read_bulkcm(p: Path, on_progress: ProgressCallback | None, threads: int) -> Network:
    _checked_threads(threads)
    raw = _with_progress(lambda prog: _native.read_bulkcm(p, prog, threads), input_size(p), on_progress)
    return Network(p, _tables(raw["tables"]), raw["header"], located_warnings(raw["warnings"]))


def read_model(path: str | os.PathLike[str], on_progress: ProgressCallback | None = None, *, threads: int = 0) -> Model:
    """Read a model: an MP XML file, or the model a Bulk CM export implies.

    The input kind is told by the root element. `path` may be gzip- or bzip2-compressed, a
    zip archive of one XML member, or a member named ``archive.zip!member.xml`` (the format
    is told by the file's first bytes); it is read as it is decompressed (docs/inputs.md). A
    large plain file is read in parts on up to
    ``threads`` threads (0: one per core); the tables hold the same rows whatever the number.
    Raises a subclass of :class:`rtbfast.errors.InputError` naming file, line, column and
    element on bad input.
    """
    p = checked_file(path)
    if detect_kind(p) == "bulkcm":
        return _read_bulkcm(p, on_progress, threads).model
    return _read_mom(p, on_progress, threads)


def read_network(
    path: str | os.PathLike[str], on_progress: ProgressCallback | None = None, *, threads: int = 0
) -> Network:
    """Read a Bulk CM export into the ``mos`` and ``values`` tables (plus what it implies of the model).

    ``threads`` is as for :func:`read_model`.
    """
    p = checked_file(path)
    if detect_kind(p) != "bulkcm":
        raise WrongRootError(
            f"{p}: this is an MP XML model (root <models>), not a Bulk CM export; use read_model",
            str(p),
            1,
            1,
            "models",
        )
    return _read_bulkcm(p, on_progress, threads)


def read(
    path: str | os.PathLike[str], on_progress: ProgressCallback | None = None, *, threads: int = 0
) -> Model | Network:
    """Read whatever `path` is: a :class:`Model` for MP XML, a :class:`Network` for an export.

    ``threads`` is as for :func:`read_model`.
    """
    p = checked_file(path)
    if detect_kind(p) == "bulkcm":
        return _read_bulkcm(p, on_progress, threads)
    return _read_mom(p, on_progress, threads)
