"""Every generated module compiled to bytecode right after it is written, as pip does when it
installs a package. A module that does not compile fails the build there, named with its line,
instead of failing later when a user imports it; and the first use of a class does not pay for
compiling its module.

The bytecode is checked against a hash of its source (PEP 552), so it is the same bytes for
the same source (no time stamp) and stays valid when the folder is moved or copied.
"""

from __future__ import annotations

import multiprocessing
import os
import py_compile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rtbfast.errors import GeneratedCodeError

PARALLEL_FILES = 64
"""From this many modules on, they are compiled by several processes."""


def _compile(path: str) -> str | None:
    """Compile one module; None when it compiles, else why not, located."""
    try:
        py_compile.compile(path, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    except py_compile.PyCompileError as err:
        cause = err.exc_value
        line = getattr(cause, "lineno", None) or 0
        return f"{path}:{line}: {type(cause).__name__}: {getattr(cause, 'msg', None) or cause}"
    return None


def compile_generated(root: Path, jobs: int | None = None) -> int:
    """Compile every ``.py`` under `root` (or `root` itself, a single module) with up to
    `jobs` processes (None: one per core). Returns the number of modules; raises
    :class:`GeneratedCodeError` naming the first module that does not compile."""
    files = sorted(str(p) for p in root.rglob("*.py")) if root.is_dir() else [str(root)]
    workers = min(jobs or os.cpu_count() or 1, len(files) // PARALLEL_FILES + 1)
    if workers > 1:
        # spawned, not forked: the build's process runs threads (Arrow's), which fork does not copy
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            problems = [p for p in pool.map(_compile, files, chunksize=16) if p is not None]
    else:
        problems = [p for p in map(_compile, files) if p is not None]
    if problems:
        path, line = problems[0].split(":", 2)[:2]
        more = f" (and {len(problems) - 1} more module(s))" if len(problems) > 1 else ""
        raise GeneratedCodeError(
            f"generated code does not compile: {problems[0]}{more}; this is an rtbfast bug, or an input it does "
            "not yet guard against: please report it with the input",
            path,
            int(line) if line.isdigit() else 0,
        )
    return len(files)
