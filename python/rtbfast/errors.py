"""The exceptions rtbfast raises. The native module raises these same classes.

Every error carries the file, the 1-based line and column (0 when unknown) and the element
path where it happened, so a message can point a user at the exact place.
"""

from __future__ import annotations


class RtbfastError(Exception):
    """Base class of every error rtbfast reports on purpose."""

    exit_code = 1

    def __init__(self, message: str, file: str = "", line: int = 0, column: int = 0, element: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.element = element


class InputError(RtbfastError):
    """An input file could not be read as what it should be. The CLI exits with 2."""

    exit_code = 2


class InputIOError(InputError):
    """The file could not be opened or read (or the read was interrupted)."""


class XmlSyntaxError(InputError, ValueError):
    """Malformed or truncated XML."""


class EncodingError(InputError, ValueError):
    """An encoding other than UTF-8, US-ASCII or ISO-8859-1, or bytes invalid in it."""


class WrongRootError(InputError, ValueError):
    """The root element is not one rtbfast reads (``models`` or ``bulkCmConfigDataFile``)."""


class InvalidValueError(InputError, ValueError):
    """A value that cannot be what its place requires."""


class ArchiveError(InputError, ValueError):
    """A compressed input or zip archive that cannot be read: corrupt or truncated (the message
    gives the compressed and decompressed byte offsets), a decompression bomb (beyond the bound
    docs/inputs.md gives), member names that would leave the archive, an encrypted member, or an
    archive of several XML members given where one input is read."""


class CatalogError(InputError):
    """A folder given as a built catalog is damaged or foreign: a table missing, not Parquet,
    with other rows than its report counts, or without the columns rtbfast reads. The message
    names the file and how to rebuild the folder."""


class TemplateError(InputError, ValueError):
    """A template that cannot be read as one: not JSON, a key that fits no grammar, a
    directive out of place. Located by line, column and JSON pointer (in ``element``)."""


class GeneratedCodeError(RtbfastError):
    """Code rtbfast generated does not compile; the build fails rather than leave a package
    that cannot be imported."""


class OutputError(RtbfastError):
    """The output could not be written."""
