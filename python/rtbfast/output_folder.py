"""The folders rtbfast writes and reads back: their layout, writing one aside and swapping it
in, the run report with its phase timings and peak memory, and opening a built catalog folder
with its tables checked against its report.

Every command that writes a folder (``build``, ``audit``, ``plan``, ``templates variants``)
writes into ``.OUT.partial-PID`` beside ``OUT``, marks it last (:data:`OUTPUT_MARK`,
``.rtbfast-output.json``: the command, the version and every file written) and swaps it in
only when all of it is written. On Linux the swap is one atomic ``renameat2(RENAME_EXCHANGE)``,
so ``OUT`` is at every instant either the old output or the new one. Where that call is missing
the swap is two renames, and a run killed between them leaves ``.OUT.old-PID``, which the next
run puts back (:func:`tidy_beside`). Folders left by runs that were killed (their process is
gone) are removed by the next run.

``OUT`` is replaced only when it is empty or rtbfast wrote it: its mark names the same command
and lists every file it holds. A folder without a mark (a user's, or an output of rtbfast from
before outputs were marked), one another command wrote, one holding files rtbfast did not write
there or files it wrote that changed since, ``/``, the current folder and the folders holding
it are refused, naming the folder, why and what to do (:func:`written_aside`). A symbolic link
is followed: the link stays and the folder (or file) it leads to is replaced. Single files are
written aside the same way (:func:`file_written_aside`); a folder, ``.`` or ``/`` given as a file,
or a file that is one of the run's inputs, is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shlex
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
"""The run report of a build folder (what :func:`open_catalog` reads)."""
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

OUTPUT_MARK = ".rtbfast-output.json"
"""The file rtbfast writes last into every folder it writes (``build``, ``audit``, ``plan``,
``templates variants``): ``written_by`` (``"rtbfast"``), the ``command``, the ``version`` and
``files``, every file it wrote there (relative, ``/``-separated) with its size in bytes."""
EARLIER_REPORTS = ("report.json", "audit.json", "plan.json")
"""What told an output folder before :data:`OUTPUT_MARK`. Anyone can have a file of that name,
so a folder holding one but no mark is refused, not replaced; the refusal says why."""
SHOWN = 5
"""Files named in a refusal; the others are counted."""


@dataclass(frozen=True)
class Mark:
    """What an output folder's :data:`OUTPUT_MARK` says."""

    command: str
    version: str
    files: dict[str, int]
    """Every file rtbfast wrote, relative to the folder, with its size in bytes."""


def _shown(out: Path, real: Path) -> str:
    """`out` for a message, with where it leads when a symbolic link is on the way."""
    return str(out) if real == Path(os.path.abspath(out)) else f"{out} (which leads to {real})"


def _resolved(out: Path) -> Path:
    """`out` with every symbolic link on the way followed. A link that leads nowhere or round
    in a loop is refused."""
    try:
        real = out.resolve()
    except (OSError, RuntimeError) as err:  # a loop of links (RuntimeError before Python 3.13)
        raise OutputError(f"{out}: cannot write there: its symbolic links lead round in a loop", str(out)) from err
    if out.is_symlink() and not real.exists():
        raise OutputError(
            f"{out}: is a symbolic link to {os.readlink(out)}, which does not exist; create it or give another -o",
            str(out),
        )
    return real


def output_folder_target(out: str | os.PathLike[str]) -> Path:
    """Where the output folder `out` is written: its path with every symbolic link followed
    (a link to a folder is kept, and the folder it leads to is replaced).

    Refused (:class:`OutputError`): ``/``, the current folder and the folders that hold it
    (``-o .``, ``-o ..``: swapping one would take the folder the user stands in from under
    them), a file, and a link that leads nowhere."""
    given = Path(out)
    real = _resolved(given)
    if real.parent == real:
        raise OutputError(f"{given}: is the root folder; give the output a folder of its own (e.g. -o out)", str(given))
    with contextlib.suppress(OSError):  # no current folder (it was removed): nothing to protect
        here = Path.cwd().resolve()
        if real == here or real in here.parents:
            what = "is the current folder" if real == here else f"holds the current folder ({here})"
            raise OutputError(
                f"{_shown(given, real)}: {what}; rtbfast replaces an output folder whole, so it never writes "
                "there: give the output a folder of its own (e.g. -o out)",
                str(given),
            )
    if real.exists() and not real.is_dir():
        raise OutputError(f"{_shown(given, real)}: cannot write the output: it is a file, not a folder", str(given))
    if real.parent.exists() and not real.parent.is_dir():
        raise OutputError(
            f"{_shown(given, real)}: cannot write the output: {real.parent} is a file, not a folder", str(given)
        )
    return real


def read_mark(folder: str | os.PathLike[str], shown: str = "") -> Mark | None:
    """The :data:`OUTPUT_MARK` of `folder`, None when it has none; :class:`OutputError` when
    it has one rtbfast did not write (not JSON, not rtbfast's, no command or file list).
    `shown`: the folder as the user named it, for the message."""
    path = Path(folder) / OUTPUT_MARK
    if not path.is_symlink() and not path.exists():
        return None
    problem = ""
    try:
        if path.is_symlink() or not path.is_file():
            problem = "not a file"
        data = {} if problem else json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        problem = f"unreadable ({err})"
    if not problem:
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("written_by") != "rtbfast":
            problem = "not one rtbfast wrote"
        elif not isinstance(data.get("command"), str):
            problem = "without the command that wrote the folder"
        elif not isinstance(files, dict) or not all(isinstance(n, int) for n in files.values()):
            problem = "without the list of the files rtbfast wrote"
        else:
            return Mark(data["command"], str(data.get("version", "")), {str(k): v for k, v in files.items()})
    raise OutputError(
        f"{shown or folder}: its {OUTPUT_MARK} is {problem}, so rtbfast cannot tell it wrote the folder; refusing to "
        "replace it: choose another -o (or remove the folder if it is an rtbfast output)",
        str(path),
    )


def _unlisted(folder: Path, files: dict[str, int]) -> tuple[list[str], list[str]]:
    """What `folder` holds that its mark does not list (files, links; relative), and the files
    it lists whose size changed since. Python's bytecode caches (``__pycache__/*.pyc``, which
    importing the generated models may add) are neither; neither are folders without files."""
    extra: list[str] = []
    changed: list[str] = []

    def walk(path: str, rel: str) -> None:
        with os.scandir(path) as found:
            entries = sorted(found, key=lambda e: e.name)
        for e in entries:
            name = f"{rel}{e.name}"
            if e.is_dir(follow_symlinks=False):
                walk(e.path, f"{name}/")
            elif name in files:
                if not e.is_file(follow_symlinks=False) or e.stat(follow_symlinks=False).st_size != files[name]:
                    changed.append(name)
            elif name != OUTPUT_MARK and not (rel.endswith("__pycache__/") and e.name.endswith(".pyc")):
                extra.append(name)

    walk(str(folder), "")
    return extra, changed


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def check_replaceable(out: str | os.PathLike[str], command: str, *, real: Path | None = None) -> None:
    """Refuse (:class:`OutputError`) to replace the folder `out` with an output of `command`
    unless it is missing, empty, or an output of `command` that rtbfast wrote (its
    :data:`OUTPUT_MARK` says so) holding nothing it did not write there and no file it wrote
    changed in size. Whatever else it holds is a user's, and would be lost. `real`: where
    `out` leads (:func:`output_folder_target`)."""
    given = Path(out)
    folder = real if real is not None else given
    if not folder.exists():
        return
    shown = _shown(given, folder)
    if not folder.is_dir():
        raise OutputError(f"{shown}: cannot write the output: it is a file, not a folder", str(given))
    if not any(folder.iterdir()):
        return
    mark = read_mark(folder, shown)
    if mark is None:
        earlier = next((name for name in EARLIER_REPORTS if (folder / name).is_file()), None)
        if earlier is not None:
            raise OutputError(
                f"{shown}: holds {earlier} but no {OUTPUT_MARK}: an output of rtbfast from before its outputs were "
                "marked, or someone else's files, rtbfast cannot tell which; refusing to replace it: remove it if it "
                f"is an old rtbfast output (rm -r {shlex.quote(str(given))}), or choose another -o",
                str(given),
            )
        raise OutputError(
            f"{shown}: is not an rtbfast output (it is not empty and has no {OUTPUT_MARK}); refusing to replace "
            "it, its files would be lost: choose another -o, or empty the folder first",
            str(given),
        )
    if mark.command != command:
        raise OutputError(
            f"{shown}: is the output of rtbfast {mark.command}, not of {command}; refusing to replace it: "
            "choose another -o",
            str(given),
        )
    extra, changed = _unlisted(folder, mark.files)
    if extra:
        raise OutputError(
            f"{shown}: holds {len(extra)} file(s) rtbfast did not write there ({_listed(extra)}); refusing to "
            "replace it, they would be lost: move them out, or choose another -o",
            str(given),
        )
    if changed:
        raise OutputError(
            f"{shown}: {len(changed)} file(s) rtbfast wrote there were changed since ({_listed(changed)}); "
            "refusing to replace it, the changes would be lost: move them out, or choose another -o",
            str(given),
        )


def _check_inputs(given: Path, real: Path, inputs: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse an output folder that holds one of the run's `inputs`, or lies inside one."""
    for path in inputs:
        try:
            source = Path(path).resolve()
        except (OSError, RuntimeError):
            continue
        if source == real or real in source.parents:
            raise OutputError(
                f"{_shown(given, real)}: holds {path}, an input of this run; the output replaces the folder whole, "
                "so the input would be lost: choose another -o",
                str(given),
            )
        if source in real.parents:
            raise OutputError(
                f"{_shown(given, real)}: is inside {path}, an input of this run: choose a folder outside it",
                str(given),
            )


def mark_output(folder: Path, command: str) -> Mark:
    """Write :data:`OUTPUT_MARK` into `folder`, the complete output of `command`: every file
    in it, with its size."""
    from rtbfast._native import __version__

    files: dict[str, int] = {}
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            files[Path(os.path.relpath(path, folder)).as_posix()] = os.lstat(path).st_size
    if OUTPUT_MARK in files:
        raise OutputError(f"{folder / OUTPUT_MARK}: the name of rtbfast's mark is taken by a file of the output")
    write_json(
        folder / OUTPUT_MARK, {"written_by": "rtbfast", "command": command, "version": __version__, "files": files}
    )
    return Mark(command, __version__, files)


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
    """Folders or files ``.OUT.<kind>-PID`` beside `out`, with their PIDs."""
    prefix = f".{out.name}.{kind}-"
    found = []
    with contextlib.suppress(OSError):
        for p in out.parent.iterdir():
            if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit():
                found.append((p, int(p.name[len(prefix) :])))
    return sorted(found)


def _remove(path: Path) -> None:
    """Remove what rtbfast left at `path` (a folder with all it holds, or a file)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def tidy_beside(out: Path) -> list[str]:
    """Put right what killed runs left beside `out`: an output moved aside by a swap that did
    not finish is moved back, and staging folders (or files) of processes that are gone are
    removed. Returns what was done, one line each."""
    done = []
    for old, pid in _left_beside(out, "old"):
        if _alive(pid):
            continue
        if not out.exists():
            old.rename(out)
            done.append(f"{out}: restored from {old.name} (a run was killed while swapping it)")
        else:
            _remove(old)
            done.append(f"removed {old} (left by a killed run)")
    for staging, pid in _left_beside(out, "partial"):
        if not _alive(pid):
            _remove(staging)
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


def replace_output(staging: Path, out: Path, command: str, *, exchange: bool = True, shown: Path | None = None) -> None:
    """Move the complete `staging` (marked, :func:`mark_output`) to `out`, a folder (no
    symbolic link: :func:`output_folder_target`). An existing `out` must be empty or an
    earlier output of `command` holding only what rtbfast wrote (:func:`check_replaceable`,
    checked again here: the folder may have changed while the run wrote). It is swapped out
    atomically where the system allows (`exchange`), else by two renames that
    :func:`tidy_beside` completes if the run dies between them. `shown`: `out` as the user
    named it, for messages."""
    if not out.exists():
        staging.rename(out)
        return
    check_replaceable(shown or out, command, real=out)
    if exchange and _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)  # now the old output
        return
    old = _old(out, os.getpid())
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def written_aside(
    out: str | os.PathLike[str], command: str, *, inputs: Iterable[str | os.PathLike[str]] = ()
) -> Iterator[Path]:
    """A staging folder ``.OUT.partial-PID`` beside `out` to write the output of `command`
    (``build``, ``audit``, ``plan``, ``variants``) into. When the block ends without error
    the staging folder is marked (:data:`OUTPUT_MARK`: the command and every file written)
    and replaces `out`; on an error it is removed, so a failed run never leaves a partial
    output over a good one. What killed runs left beside `out` is put right first.

    Refused before anything is written (:class:`OutputError`, naming the folder, why and what
    to do): an `out` that is ``/``, the current folder or one holding it, a file, or a
    symbolic link leading nowhere; one that is not empty and is not an output of `command`
    rtbfast wrote, or holds files rtbfast did not write there (:func:`check_replaceable`);
    one that holds one of the run's `inputs` or lies inside one. A symbolic link to a folder
    is followed: the link stays, the folder it leads to is replaced."""
    given = Path(out)
    staging: Path | None = None
    try:
        real = output_folder_target(given)
        _check_inputs(given, real, inputs)
        tidy_beside(real)
        check_replaceable(given, command, real=real)
        real.parent.mkdir(parents=True, exist_ok=True)
        staging = _staging(real, os.getpid())
        if staging.exists() or staging.is_symlink():
            _remove(staging)
        staging.mkdir()
        yield staging
        mark_output(staging, command)
        replace_output(staging, real, command, shown=given)
    except (FileExistsError, NotADirectoryError) as err:
        raise OutputError(
            f"{given}: cannot write the output: {err.filename or given} is in the way ({err.strerror})", str(given)
        ) from err
    except OSError as err:
        raise OutputError(f"{given}: cannot write the output: {err}", str(given)) from err
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def output_file_target(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Where the output file `path` is written: its path with every symbolic link followed (a
    link to a file is kept, and the file it leads to is replaced).

    Refused (:class:`OutputError`): a folder (``/``, ``.`` and ``..`` among them), a link
    that leads nowhere, and one of the run's `inputs` (the same file, by path or by
    identity): an output never overwrites what it is made from."""
    given = Path(path)
    real = _resolved(given)
    if real.is_dir():
        raise OutputError(
            f"{_shown(given, real)}: is a folder; give the name of the file to write (e.g. -o {given / 'out'})",
            str(given),
        )
    for source in inputs:
        with contextlib.suppress(OSError, RuntimeError):
            if Path(source).resolve() == real or (real.exists() and os.path.samefile(source, real)):
                raise OutputError(
                    f"{_shown(given, real)}: is {source}, an input of this run; writing there would overwrite it: "
                    "give another file",
                    str(given),
                )
    return real


@contextmanager
def file_written_aside(
    path: str | os.PathLike[str], what: str = "", *, inputs: Iterable[str | os.PathLike[str]] = ()
) -> Iterator[Path]:
    """A file ``.NAME.partial-PID`` beside `path` to write into; when the block ends without
    error it replaces `path` in one rename, else it is removed, so a good file is never left
    half-written. Refused as :func:`output_file_target` says; a symbolic link is followed (the
    link stays, the file it leads to is replaced). Missing folders on the way are made."""
    given = Path(path)
    real = output_file_target(given, inputs)
    aside = _staging(real, os.getpid())
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        tidy_beside(real)
        yield aside
        os.replace(aside, real)
    except OSError as err:
        raise OutputError(
            f"{given}: cannot write{' ' + what if what else ''}: {err.strerror or err}", str(given)
        ) from err
    finally:
        with contextlib.suppress(OSError):
            aside.unlink()


def write_text_aside(
    path: str | os.PathLike[str],
    chunks: Iterable[str],
    what: str = "",
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write the text `chunks` to `path`, aside and swapped in (:func:`file_written_aside`:
    a folder, a link leading nowhere or one of the run's `inputs` is refused)."""
    with file_written_aside(path, what, inputs=inputs) as aside, aside.open("w", encoding="utf-8", newline="\n") as f:
        for chunk in chunks:
            f.write(chunk)
    return Path(path)


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

        from rtbfast.rules.constraints import Constraints, constraint_table
        from rtbfast.schemas import CONSTRAINTS_SCHEMA as SCHEMA

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
