"""rtbfast: Ericsson RAN configuration knowledge read fast and exactly.

Public API::

    import rtbfast
    model = rtbfast.read_model("ERBS_NODE_MODEL_D_full_mp.xml")
    model.tables["attributes"]          # a pyarrow.Table
    network = rtbfast.read_network("export.xml")
    network.tables["values"]
    workbook = rtbfast.read_workbook("Spreadsheets_Parameters.csv", "Spreadsheets_StructParameters.csv")
    workbook.unparsed                   # cells that break the sheet's conventions, located
"""

from rtbfast._native import __version__
from rtbfast.errors import (
    EncodingError,
    InputError,
    InputIOError,
    InvalidValueError,
    OutputError,
    RtbfastError,
    WrongRootError,
    XmlSyntaxError,
)
from rtbfast.pipeline import BuildResult, build
from rtbfast.readers import Model, Network, ReadWarning, detect_kind, read, read_model, read_network
from rtbfast.workbook import Unparsed, Workbook, read_workbook

__all__ = [
    "BuildResult",
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
    "read",
    "read_model",
    "read_network",
    "read_workbook",
]
