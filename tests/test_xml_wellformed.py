"""rtbfast's readers refuse every document libxml2 (through lxml) refuses as not well-formed.

Small models and exports written here are mutated at random (XML-significant characters and
fragments, control characters, bytes that are not UTF-8, cut and repeated slices), and each
mutant is read by both. Where libxml2's parser reports an error, rtbfast must raise one of its
own located errors; rtbfast may refuse more (it reads no DTD, so it refuses entities libxml2
would expand). libxml2's namespace errors are not counted: they are no matter of XML 1.0
well-formedness, and the readers match names by their local part.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

import rtbfast
from rtbfast.errors import RtbfastError

EXAMPLES = int(os.environ.get("RTBFAST_HYPOTHESIS_EXAMPLES", "300"))

MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models>
  <dtdVersion>G</dtdVersion>
  <mim name="Lrat" version="1" release="0">
    <enum name="AdminState"><enumMember name="LOCKED"><value>0</value></enumMember></enum>
    <class name="Cell">
      <description>A cell &amp; its <![CDATA[<settings>]]> here.</description>
      <attribute name="qRxLevMin">
        <dataType><long><range><min>-140</min><max>-44</max></range></long></dataType>
      </attribute>
      <attribute name="state"><dataType><enumRef name="AdminState"/></dataType></attribute>
    </class>
  </mim>
</models>
"""

EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bulkCmConfigDataFile xmlns="configData.xsd" xmlns:xn="genericNrm.xsd" xmlns:es="vsData.xsd">
  <fileHeader fileFormatVersion="32.615 V4.5" vendorName="Ericsson"/>
  <configData dnPrefix="Undefined">
    <xn:SubNetwork id="S"><xn:MeContext id="N1"><xn:ManagedElement id="N1">
      <xn:VsDataContainer id="C1"><xn:attributes><xn:vsDataType>vsDataCell</xn:vsDataType>
        <es:vsDataCell><es:qRxLevMin>-120</es:qRxLevMin><es:label>a &lt; b</es:label>
          <es:pair><es:lo>1</es:lo><es:hi>2</es:hi></es:pair></es:vsDataCell>
      </xn:attributes></xn:VsDataContainer>
    </xn:ManagedElement></xn:MeContext></xn:SubNetwork>
  </configData>
  <fileFooter dateTime="2026-12-04T00:00:00Z"/>
</bulkCmConfigDataFile>
"""

FRAGMENTS = [
    *(c.encode() for c in "<>&;\"'=/!?[]- \n\tax1:#.é日"),
    b"\x00",
    b"\x01",
    b"\x1b",
    b"\x0c",
    b"\x7f",
    b"\xff",
    b"\xc3",
    b"\xef\xbf\xbe",
    b"\xef\xbf\xbf",
    b"&#x1b;",
    b"&#0;",
    b"&#65;",
    b"&#xD800;",
    b"&amp;",
    b"&nbsp;",
    b"&#x110000;",
    b"<![CDATA[x]]>",
    b"]]>",
    b"<!-- c -->",
    b"<!-- a -- b -->",
    b"<?pi x?>",
    b"<?xml version='1.0'?>",
    b"<!DOCTYPE a>",
    b"<!doctype a>",
    b' id="2"',
    b" x='1' x='2'",
    b"<a>",
    b"</a>",
    b"<a/>",
    b"</ a>",
    b"<1a/>",
    b"</a x='1'>",
    b"<a b>",
    b"<a b=>",
    b"<a b=c>",
    b"<!ELEMENT a ANY>",
    b"<!-->",
    b"<!--->",
    b"&#x41",
    b"&",
    b"text",
]


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    doc = draw(st.sampled_from([MODEL, EXPORT]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(doc)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "repeat"]))
        if kind == "insert":
            doc = doc[:at] + draw(st.sampled_from(FRAGMENTS)) + doc[at:]
        elif kind == "delete":
            doc = doc[:at] + doc[at + draw(st.integers(1, 8)) :]
        elif kind == "replace":
            doc = doc[:at] + draw(st.sampled_from(FRAGMENTS)) + doc[at + draw(st.integers(1, 4)) :]
        else:
            length = draw(st.integers(1, 40))
            doc = doc[:at] + doc[at : at + length] + doc[at:]
    return doc


def libxml2_refuses(doc: bytes) -> list[str]:
    """The errors libxml2's parser reports for `doc` (its namespace errors and warnings left out)."""
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
    with contextlib.suppress(etree.XMLSyntaxError):  # its errors are read from the parser's log
        etree.fromstring(doc, parser)
    return [
        e.message
        for e in parser.error_log
        if e.domain_name == "PARSER" and e.level >= etree.ErrorLevels.ERROR  # not its warnings
    ]


def rtbfast_refuses(doc: bytes, path: Path) -> str | None:
    path.write_bytes(doc)
    try:
        rtbfast.read(path, threads=1)
    except RtbfastError as err:
        assert err.file == str(path), err
        return err.message
    return None


@pytest.mark.parametrize("doc", [MODEL, EXPORT])
def test_the_seeds_are_well_formed(doc: bytes, tmp_path: Path) -> None:
    assert libxml2_refuses(doc) == []
    assert rtbfast_refuses(doc, tmp_path / "seed.xml") is None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=mutants())
@example(doc=EXPORT.replace(b"</bulkCmConfigDataFile>", b"</bulkCmConfigDataFile>junk"))
@example(doc=EXPORT.replace(b'id="S"', b'id="S" id="T"'))
@example(doc=EXPORT.replace(b'id="S"', b'id="S<T"'))
@example(doc=EXPORT.replace(b"-120", b"-1\x0020"))
@example(doc=EXPORT.replace(b"-120", b"&#x1b;"))
@example(doc=MODEL.replace(b"<models>", b"<models><!-- a -- b -->"))
@example(doc=MODEL.replace(b'version="1.0"', b'versio="1.0"'))
@example(doc=MODEL.replace(b'"mp.dtd"', b'"mp.dtd" [<!ENTITY e "x">]'))
@example(doc=MODEL.replace(b"</models>", b"</models><?xml version='1.0'?>"))
def test_what_libxml2_refuses_rtbfast_refuses(doc: bytes, tmp_path: Path) -> None:
    theirs = libxml2_refuses(doc)
    ours = rtbfast_refuses(doc, tmp_path / "mutant.xml")
    if theirs:
        assert ours is not None, f"libxml2 refuses ({theirs[0].strip()}), rtbfast reads it:\n{doc!r}"
