"""rtbfast: Ericsson RAN configuration knowledge read fast and exactly.

Public API::

    import rtbfast
    model = rtbfast.read_model("ERBS_NODE_MODEL_D_full_mp.xml")
    model.tables["attributes"]          # a pyarrow.Table
    network = rtbfast.read_network("export.xml")
    network.tables["values"]
    workbook = rtbfast.read_workbook("Spreadsheets_Parameters.csv", "Spreadsheets_StructParameters.csv")
    workbook.unparsed                   # cells that break the sheet's conventions, located
    rtbfast.folder_xlsx("out/audit")    # an output folder as a workbook for Excel (docs/excel.md)

The names are loaded on first use (PEP 562), so importing one part of rtbfast (the readers,
the errors, the audit) does not load the others (the code generator, the pipeline).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rtbfast._native import __version__

if TYPE_CHECKING:
    from rtbfast.errors import (
        CatalogError,
        EncodingError,
        InputError,
        InputIOError,
        InvalidValueError,
        OutputError,
        RtbfastError,
        WrongRootError,
        XmlSyntaxError,
    )
    from rtbfast.excel import folder_xlsx, write_xlsx
    from rtbfast.pipeline import BuildResult, build
    from rtbfast.readers import Model, Network, ReadWarning, detect_kind, read, read_model, read_network
    from rtbfast.workbook import Unparsed, Workbook, read_workbook

_WHERE = {
    **dict.fromkeys(
        (
            "CatalogError",
            "EncodingError",
            "InputError",
            "InputIOError",
            "InvalidValueError",
            "OutputError",
            "RtbfastError",
            "WrongRootError",
            "XmlSyntaxError",
        ),
        "rtbfast.errors",
    ),
    **dict.fromkeys(("BuildResult", "build"), "rtbfast.pipeline"),
    **dict.fromkeys(("folder_xlsx", "write_xlsx"), "rtbfast.excel"),
    **dict.fromkeys(
        ("Model", "Network", "ReadWarning", "detect_kind", "read", "read_model", "read_network"), "rtbfast.readers"
    ),
    **dict.fromkeys(("Unparsed", "Workbook", "read_workbook"), "rtbfast.workbook"),
}
"""Public name → the module that defines it."""

__all__ = [
    "BuildResult",
    "CatalogError",
    "EncodingError",
    "InputError",
    "InputIOError",
    "InvalidValueError",
    "Model",
    "Network",
    "OutputError",
    "ReadWarning",
    "RtbfastError",
    "Unparsed",
    "Workbook",
    "WrongRootError",
    "XmlSyntaxError",
    "__version__",
    "build",
    "detect_kind",
    "folder_xlsx",
    "read",
    "read_model",
    "read_network",
    "read_workbook",
    "write_xlsx",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rtbfast' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
