"""A Network (its ``mos`` and ``values`` tables) written as a 3GPP Bulk CM XML file, in the shape
ENM exports and imports (``../shared/reference/enm-cli.md`` §9): ``SubNetwork``, ``MeContext`` and
``ManagedElement`` as ``xn:`` elements (their Ericsson attributes in a ``VsDataContainer`` of the
same id inside them, as OSS-RC and ENM export them), every MO below them an
``xn:VsDataContainer`` with its ``vsData<Class>`` payload; structs as nested elements, sequences
as repeated elements, an MO's ``modifier`` (``create``, ``update``, ``delete``) on its element.
``rtbfast.read_network`` reads the file back to the same tables for networks of that shape.
Standard NRM attributes of MOs below ``ManagedElement`` (third-party exports in ``un:``/``gn:``
elements) are outside it: such a network is refused, not written without them.

The XML is written natively (``rust/src/enm/bulkcm_writer.rs``), to a file beside the target
swapped in when complete.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.errors import InvalidValueError, OutputError

TOP = ("SubNetwork", "MeContext", "ManagedElement")
"""Classes written as ``xn:`` elements; every other MO is a ``VsDataContainer``."""

FORMAT_VERSION = "EricssonSpecificAttributes"


class UnwritableNetwork(OutputError):
    """A network holding a name or value Bulk CM XML cannot carry (a control character XML 1.0
    forbids, a name outside :mod:`rtbfast.names`), or an MO this writer has no namespace for.
    ``element`` is the MO's FDN."""


HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bulkCmConfigDataFile xmlns="configData.xsd" xmlns:xn="genericNrm.xsd" xmlns:es="{es}.xsd">\n'
    '<fileHeader fileFormatVersion="32.615 V4.5" vendorName="Ericsson"/>\n'
    '<configData dnPrefix="{prefix}">\n'
)
FOOTER = '</configData>\n<fileFooter dateTime="{when}"/>\n</bulkCmConfigDataFile>\n'


def write_network_xml(
    tables: dict[str, pa.Table],
    path: str | os.PathLike[str],
    *,
    prefix: str = "Undefined",
    when: str = "2000-01-01T00:00:00Z",
    es_version: str = FORMAT_VERSION,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write the network `tables` (``mos``, ``values``) as Bulk CM XML at `path`, aside and
    swapped in (:func:`rtbfast.output_folder.file_written_aside`: a folder, a symbolic link
    leading nowhere and one of the run's `inputs` are refused; a link to a file is followed).
    An MO's ``modifier`` column (if any) becomes its container's modifier."""
    from rtbfast.output_folder import write_text_aside

    header = HEADER.format(es=es_version, prefix=escape(prefix))
    footer = FOOTER.format(when=escape(when))
    return write_text_aside(
        path, itertools.chain([header], network_xml(tables), [footer]), "the network", inputs=inputs
    )


def write_network_xml_text(content: Iterable[str], path: str | os.PathLike[str]) -> Path:
    """A Bulk CM file of the ``configData`` `content` (as :func:`network_xml` gives it, in
    pieces) with :func:`write_network_xml`'s header and footer, at `path` (aside and swapped in)."""
    from rtbfast.output_folder import write_text_aside

    header = HEADER.format(es=FORMAT_VERSION, prefix=escape("Undefined"))
    footer = FOOTER.format(when=escape("2000-01-01T00:00:00Z"))
    return write_text_aside(path, itertools.chain([header], content, [footer]), "the network")


def _plain_tables(tables: dict[str, pa.Table]) -> tuple[pa.Table, pa.Table]:
    """The ``mos`` and ``values`` the native writer takes: plain text columns (and ``index``
    int32, ``vs_data`` bool), the others left out."""

    def plain(table: pa.Table, names: tuple[str, ...], types: dict[str, pa.DataType]) -> pa.Table:
        columns = {}
        for name in names:
            if name in table.column_names:
                column = table[name]
                target = types.get(name, pa.string())
                columns[name] = column if column.type == target else pc.cast(column, target)
        return pa.table(columns)

    mos = plain(tables["mos"], ("fdn", "class", "id", "parent_fdn", "modifier", "vs_data_type", "format_version"), {})
    values = tables.get("values")
    if values is None:
        values = pa.table({"fdn": pa.array([], pa.string()), "attribute": pa.array([], pa.string())})
    values = plain(
        values,
        ("fdn", "attribute", "member", "index", "value", "vs_data"),
        {"index": pa.int32(), "vs_data": pa.bool_()},
    )
    return mos, values


def _unwritable(err: InvalidValueError) -> UnwritableNetwork:
    # the native message leads with an empty file position: the MO says where
    message = err.message.removeprefix(f":0:0 (in {err.element}): ")
    return UnwritableNetwork(message, element=err.element)


def network_xml(tables: dict[str, pa.Table]) -> Iterator[str]:
    """The ``configData`` content of the network, written natively (``rust/src/enm``): MOs
    in tree order, each MO's children in table order. An MO below ``ManagedElement`` holding
    standard 3GPP NRM attributes is refused (:class:`UnwritableNetwork`): its namespace is not
    known; so is a name or value XML cannot carry."""
    from rtbfast import _native

    mos, values = _plain_tables(tables)
    try:
        yield _native.network_xml(mos, values)
    except InvalidValueError as err:
        raise _unwritable(err) from None


def network_xml_spans(tables: dict[str, pa.Table]) -> tuple[bytes, pa.Table]:
    """:func:`network_xml` as UTF-8 bytes, and where each MO's element is in them: ``fdn``,
    ``start``, ``opened`` (its children begin), ``closing`` (its closing tag begins), ``end``
    (byte offsets, in document order), so that elements written by several calls can be put
    together as one call would have written them (:mod:`rtbfast.enm.plan_xml`)."""
    from rtbfast import _native

    mos, values = _plain_tables(tables)
    try:
        text, spans = _native.network_xml_spans(mos, values)
    except InvalidValueError as err:
        raise _unwritable(err) from None
    return text.encode("utf-8"), pa.table(spans)
