"""rtbfast on Apache Spark (``pip install 'rtbfast[spark]'``, Java 17): an export read and
audited a chunk per task, the native reader and evaluator inside ``mapInArrow``. Spark
schedules and retries; rtbfast's native code does the work inside each task.

- :func:`read_network` (:mod:`rtbfast.spark.network`): ``(mos_df, values_df)``;
- :func:`audit` (:mod:`rtbfast.spark.audit_job`): the violations DataFrame of exports (their
  paths) or of a network given as ``(mos_df, values_df)``; ``rtbfast audit --spark MASTER``
  writes the folder ``rtbfast audit`` writes;
- :func:`expand` (:mod:`rtbfast.spark.expand_job`): a template's ChangeSet DataFrame, a batch of
  nodes per task; ``rtbfast templates expand --spark MASTER`` writes the file it writes without;
- :func:`session` (:mod:`rtbfast.spark.session`): a session on ``local[N]``,
  ``local-cluster[W,C,M]`` or ``spark://host:port`` with ``--conf`` settings.

See ``docs/scale-out.md``. Importing this package does not import pyspark.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "read_network":
        from rtbfast.spark.network import read_network

        return read_network
    if name == "audit":
        from rtbfast.spark.audit_job import audit

        return audit
    if name == "expand":
        from rtbfast.spark.expand_job import expand

        return expand
    if name == "session":
        from rtbfast.spark.session import session

        # importing the submodule of the same name set this package's `session` to the module
        globals()["session"] = session
        return session
    raise AttributeError(f"module 'rtbfast.spark' has no attribute {name!r}")


__all__ = ["audit", "expand", "read_network", "session"]
