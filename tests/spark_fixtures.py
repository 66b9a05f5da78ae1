"""The Spark fixtures the Spark tests share: a ``local-cluster[2,1,1024]`` session (a master and
two workers, each executor a JVM of its own), started once per test session and stopped after
(skipped where Java is missing); the example catalog; a generated export of many nodes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtbfast.spark.session import java_missing
from tests.conftest import EXAMPLE_MODEL, EXAMPLES
from tests.conftest import rtbfast as run_cli

MASTER = "local-cluster[2,1,1024]"
CONF = ["spark.ui.enabled=false", "spark.task.maxFailures=4", "spark.sql.shuffle.partitions=4"]


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    why = java_missing()
    if why is not None:
        pytest.skip(f"Spark cannot run here: {why}")
    from rtbfast.spark.session import session

    s = session(MASTER, CONF, "rtbfast-tests")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model with its workbook: constraints, Dependencies texts (uniqueness)."""
    out = tmp_path_factory.mktemp("spark") / "catalog"
    workbook = EXAMPLES / "workbook"
    built = run_cli(
        "build", EXAMPLE_MODEL, "--workbook", workbook / "Spreadsheets_Parameters.csv",
        "--structs", workbook / "Spreadsheets_StructParameters.csv", "-o", out,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return out


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated export of many nodes (about 3 MB)."""
    from bench.generate import write_export

    return write_export(tmp_path_factory.mktemp("spark") / "generated.xml", 3.0, rich=True)
