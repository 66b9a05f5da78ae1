"""What the ``rtbfast`` commands share: the error exit, the common options, the progress
reporters."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rtbfast.errors import RtbfastError
from rtbfast.text_safety import one_line

WARNINGS_SHOWN = 10


def _fail(err: RtbfastError) -> None:
    click.echo(f"error: {one_line(str(err))}", err=True)
    sys.exit(err.exit_code)


OUT_OPTION = click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder. Written aside and swapped in only when complete.",
)
PROGRESS_OPTION = click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress on stderr (default: only when stderr is a terminal).",
)
JOBS_OPTION = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Threads to read and evaluate on, and processes to write models with; 0 means one per core. "
    "The output is the same for any value.",
)


def _reporters(
    stack: contextlib.ExitStack[Any], show: bool
) -> tuple[Callable[[int, int], None] | None, Callable[[str], None] | None]:
    """A progress bar for reading and a line per phase, on stderr, when `show`."""
    if not show:
        return None, None
    bar: Any = None

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None or bar.length != total:
            if bar is not None:
                bar.render_finish()
            bar = stack.enter_context(click.progressbar(length=total, label="reading", file=sys.stderr))
        bar.update(done - bar.pos)

    return on_progress, lambda name: click.echo(f"{name}…", err=True)


XLSX_OPTION = click.option(
    "--xlsx",
    is_flag=True,
    help="Also write the workbook OUT/<command>.xlsx for Excel: a summary sheet, a sheet per table (header "
    "frozen, autofilter, rows coloured by severity, FDNs split into node and MO); see docs/excel.md.",
)
"""``--xlsx`` of the commands that write a folder: the workbook goes into it, written with it."""


def SPARK_OPTIONS(f: Any) -> Any:
    """``--spark MASTER`` and ``--conf KEY=VALUE`` (repeatable): run the command's work on Spark
    (``docs/scale-out.md``)."""
    f = click.option(
        "--conf",
        "spark_conf",
        multiple=True,
        metavar="KEY=VALUE",
        help="A Spark setting (repeatable), over spark-defaults.conf; e.g. spark.executor.memory=2g.",
    )(f)
    return click.option(
        "--spark",
        "spark_master",
        metavar="MASTER",
        help="Run on Apache Spark: local[N], local-cluster[W,C,M] or spark://host:port (needs "
        "rtbfast[spark] and Java 17); writes the same files.",
    )(f)


TARGET_CLASS_OPTION = click.option(
    "--target-class",
    "target_classes",
    multiple=True,
    metavar="CLASS",
    help="Target MOs of this class (any MO class; repeat for more) instead of the six cell classes "
    "(EUtranCellFDD/TDD, NRCellDU/CU, UtranCell, GeranCell); NbIotCell targets are cells too.",
)
"""Which MO classes `--targets` names, for `templates expand` and `plan TEMPLATE`."""
