"""The Spark session the ``--spark MASTER`` commands run on, and what executors need to find
rtbfast.

Settings come from the usual places: ``$SPARK_HOME/conf/spark-defaults.conf`` (or
``$SPARK_CONF_DIR``), which pyspark reads when it starts the JVM, then ``--conf k=v``. For a
master on this machine (``local[N]``, ``local-cluster[W,C,M]``, ``spark://127.0.0.1:…``) the
executors run this Python with this ``PYTHONPATH``, so the rtbfast they import is this one; on
a real cluster rtbfast is installed on the executors (``pip install 'rtbfast[spark]'`` in the
image, or ``spark-submit --py-files``), see ``docs/scale-out.md``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rtbfast.errors import RtbfastError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkUnavailableError(RtbfastError):
    """pyspark or Java is missing, or the master cannot be reached."""


_LOCAL_HOSTS = ("spark://127.0.0.1", "spark://localhost")


def java_missing() -> str | None:
    """Why Spark cannot start here (no Java), or None."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return None
    return (
        None if shutil.which("java") else "Java is not installed (Spark needs Java 17: no java on PATH, no JAVA_HOME)"
    )


def _parsed(conf: Iterable[str]) -> dict[str, str]:
    settings = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SparkUnavailableError(f"--conf {item!r}: expected KEY=VALUE, e.g. spark.executor.memory=2g")
        settings[key.strip()] = value
    return settings


def on_this_machine(master: str) -> bool:
    """Whether `master`'s executors run on this machine (they can use this checkout)."""
    return master.startswith("local") or master.startswith(_LOCAL_HOSTS)


def session(master: str, conf: Iterable[str] = (), app_name: str = "rtbfast") -> SparkSession:
    """A Spark session on `master` (``local[N]``, ``local-cluster[W,C,M]``, ``spark://host:port``,
    ``yarn``, ``k8s://…``) with the settings `conf` (``key=value`` each) over spark-defaults.conf."""
    try:
        import pyspark
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError("--spark needs pyspark: pip install 'rtbfast[spark]'") from None
    why = java_missing()
    if why is not None:
        raise SparkUnavailableError(why)
    settings = _parsed(conf)
    from pyspark import SparkContext

    running = SparkContext._active_spark_context
    if running is not None and running.master != master:
        # getOrCreate would hand back the running session on its own master, silently
        raise SparkUnavailableError(
            f"a Spark session on {running.master} already runs in this process; stop it before one on {master}"
        )
    if master.startswith("local-cluster") and "SPARK_HOME" not in os.environ:
        # local-cluster's workers start executors from SPARK_HOME: pyspark's own package is one
        os.environ["SPARK_HOME"] = str(Path(pyspark.__file__).parent)
    builder = SparkSession.builder.master(master).appName(app_name)
    if on_this_machine(master):
        import rtbfast

        here = str(Path(rtbfast.__file__).parent.parent)
        path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
        builder = builder.config("spark.executorEnv.PYTHONPATH", path).config("spark.pyspark.python", sys.executable)
    # no progress bars on the terminal: the commands announce their own phases
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as err:  # the JVM's errors come as py4j or pyspark exceptions of many kinds
        raise SparkUnavailableError(f"cannot start Spark on {master}: {err}") from None
