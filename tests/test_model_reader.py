"""The MP XML reader on project-written fixtures, one construct family per test."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import rtbfast
from tests.conftest import EXAMPLE_MODEL

WriteXml = Callable[[str, str | bytes], Path]


def wrap(body: str, head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f'{head}\n<!DOCTYPE models SYSTEM "mp.dtd">\n<models><dtdVersion>G</dtdVersion>{body}</models>\n'


def rows(model: rtbfast.Model, table: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = model.tables[table].to_pylist()
    return result


def by(model: rtbfast.Model, table: str, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows(model, table)}


def test_example_model_reads_completely() -> None:
    m = rtbfast.read_model(EXAMPLE_MODEL)
    assert m.source == "mom"
    assert m.counts()["classes"] == 4
    assert m.counts()["attributes"] == 17
    assert m.warnings == []
    attrs = by(m, "attributes", "attribute")
    assert attrs["userLabel"]["description"] == "Free text 'label' for the operator & tools."
    assert attrs["userLabel"]["default"] == '""'
    assert attrs["earfcndl"]["ranges"] == [
        {"min": Decimal(0), "max": Decimal(17999)},
        {"min": Decimal(46590), "max": Decimal(54339)},
    ]
    assert attrs["qRxLevMin"]["resolution"] == Decimal(2)
    assert attrs["pmRrcConnEstabSucc"]["is_counter"] is True
    assert attrs["EUtranCellFDDId"]["key"] is True
    assert m.skipped == {"action": 1, "momMetaData": 1}


def test_flags_in_every_spelling(write_xml: WriteXml) -> None:
    body = """<mim name="M" version="1" release="0"><class name="C">
      <attribute name="a"><readOnly/><dataType><long/></dataType></attribute>
      <attribute name="b"><readOnly /><dataType><long/></dataType></attribute>
      <attribute name="c"><readOnly></readOnly><dataType><long/></dataType></attribute>
      <attribute name="d"><dataType><long/></dataType></attribute>
    </class></mim>"""
    m = rtbfast.read_model(write_xml("flags.xml", wrap(body)))
    assert [r["read_only"] for r in rows(m, "attributes")] == [True, True, True, False]


def test_iso_8859_1_comments_cdata_entities(write_xml: WriteXml) -> None:
    text = wrap(
        """<!-- before --><mim name="M" version="1" release="0"><class name="C">
        <description>Ölçü &lt;x&gt; &amp; &#233;&#x41;</description>
        <attribute name="a"><description><![CDATA[raw <b>bold</b> & more]]></description><dataType><long/></dataType>
        </attribute></class></mim>""",
        head='<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- a comment before the DOCTYPE -->',
    )
    m = rtbfast.read_model(write_xml("latin1.xml", text.encode("latin-1")))
    assert rows(m, "classes")[0]["description"] == "Ölçü <x> & éA"
    assert rows(m, "attributes")[0]["description"] == "raw <b>bold</b> & more"


def test_numeric_kinds_and_exact_64_bit_ranges(write_xml: WriteXml) -> None:
    kinds = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "long", "longlong", "short"]
    attrs = "".join(f'<attribute name="{k}"><dataType><{k}/></dataType></attribute>' for k in kinds)
    attrs += """<attribute name="u64"><dataType><uint64><range><min>0</min><max>18446744073709551615</max></range>
      </uint64></dataType></attribute>
      <attribute name="dec"><dataType><decimal64><fractionDigits>3</fractionDigits>
      <range><min>-1.5</min><max>2.125</max></range></decimal64></dataType></attribute>
      <attribute name="dbl"><dataType><double><range><min>0.5</min><max>1E3</max></range></double>
      </dataType></attribute>"""
    m = rtbfast.read_model(
        write_xml("num.xml", wrap(f'<mim name="M" version="1" release="0"><class name="C">{attrs}</class></mim>'))
    )
    a = by(m, "attributes", "attribute")
    for k in kinds:
        assert a[k]["kind"] == "integer" and a[k]["base_type"] == k
    assert a["u64"]["ranges"] == [{"min": Decimal(0), "max": Decimal(18446744073709551615)}]
    assert a["dec"]["kind"] == "decimal" and a["dec"]["fraction_digits"] == 3
    assert a["dec"]["ranges"][0]["max"] == Decimal("2.125")
    assert a["dbl"]["ranges"][0]["max"] == Decimal(1000)


def test_strings_lengths_patterns_formats(write_xml: WriteXml) -> None:
    body = """<mim name="M" version="1" release="0"><class name="C">
      <attribute name="s"><dataType><string>
        <lengthRange><min>1</min><max>8</max></lengthRange>
        <stringLength><subrange><min>1</min><max>8</max></subrange></stringLength>
        <validValues>[0-9]+</validValues></string></dataType></attribute>
      <attribute name="ip"><dataType><string><ipV6Address/></string></dataType></attribute>
      <attribute name="mac"><dataType><string><macAddress/></string></dataType></attribute>
      <attribute name="w"><dataType><wstring><lengthRange><min>0</min><max>3</max><min>5</min><max>6</max>
        </lengthRange></wstring></dataType></attribute>
    </class></mim>"""
    m = rtbfast.read_model(write_xml("str.xml", wrap(body)))
    a = by(m, "attributes", "attribute")
    assert (a["s"]["length_min"], a["s"]["length_max"], a["s"]["pattern"]) == (1, 8, "[0-9]+")
    assert len(a["s"]["length_ranges"]) == 1  # written twice, kept once
    assert a["ip"]["format"] == "ipV6Address" and a["mac"]["format"] == "macAddress"
    assert len(a["w"]["length_ranges"]) == 2 and (a["w"]["length_min"], a["w"]["length_max"]) == (0, 6)
    assert m.warnings == []


def test_ranges_that_disagree_are_reported(write_xml: WriteXml) -> None:
    body = """<mim name="M" version="1" release="0"><class name="C"><attribute name="x"><dataType><int32>
      <range><min>0</min><max>10</max></range><ranges><subrange><min>0</min><max>11</max></subrange></ranges>
      </int32></dataType></attribute></class></mim>"""
    m = rtbfast.read_model(write_xml("dis.xml", wrap(body)))
    assert [w.message for w in m.warnings] == ["range and ranges/subrange disagree; using range"]
    assert m.warnings[0].line == 3 and "attribute[x]" in m.warnings[0].element


def test_enums_structs_sequences(write_xml: WriteXml) -> None:
    body = """<mim name="M" version="1" release="0">
      <enum name="E"><enumMember name="A"><value>0</value></enumMember>
        <enumMember name="B"><value>5</value><obsolete/></enumMember></enum>
      <struct name="S"><isExclusive/><structMember name="x"><key/><long/></structMember>
        <structMember name="y"><sequence><boolean/><minLength>0</minLength><maxLength>4</maxLength></sequence>
        </structMember></struct>
      <class name="C">
        <attribute name="e"><dataType><enumRef name="E"><defaultValue>B</defaultValue></enumRef></dataType></attribute>
        <attribute name="ss"><dataType><sequence><structRef name="S"/><minLength>1</minLength><maxLength>3</maxLength>
          <nonUnique/><ordered/></sequence></dataType></attribute>
        <attribute name="refs"><dataType><sequence><moRef name="C"/></sequence></dataType></attribute>
      </class></mim>"""
    m = rtbfast.read_model(write_xml("es.xml", wrap(body)))
    assert [(r["member"], r["value"], r["lifecycle"]) for r in rows(m, "enum_members")] == [
        ("A", 0, None),
        ("B", 5, "obsolete"),
    ]
    s = rows(m, "structs")[0]
    assert s["exclusive"] is True and s["member_count"] == 2
    members = by(m, "struct_members", "member")
    assert members["x"]["key"] is True
    assert members["y"]["is_sequence"] and members["y"]["seq_max"] == 4
    a = by(m, "attributes", "attribute")
    assert (a["e"]["kind"], a["e"]["type_ref"], a["e"]["default"]) == ("enum", "E", "B")
    ss = a["ss"]
    assert (ss["kind"], ss["seq_min"], ss["seq_max"], ss["seq_unique"], ss["seq_ordered"]) == (
        "struct",
        1,
        3,
        False,
        True,
    )
    assert a["refs"]["kind"] == "moref" and a["refs"]["seq_unique"] is True and m.warnings == []


def test_derived_types_chain_across_mims(write_xml: WriteXml) -> None:
    body = """
      <mim name="App" version="1" release="0"><class name="C">
        <attribute name="x"><dataType><derivedDataTypeRef name="Mid"><defaultValue>9</defaultValue>
          <mimName>Lib</mimName></derivedDataTypeRef></dataType></attribute></class></mim>
      <mim name="Lib" version="2" release="1">
        <derivedDataType name="Mid"><baseType><derivedDataTypeRef name="Low"/></baseType></derivedDataType>
        <derivedDataType name="Low"><baseType><int16><range><min>-5</min><max>5</max></range>
          <defaultValue>0</defaultValue><unit>dB</unit></int16></baseType></derivedDataType></mim>"""
    m = rtbfast.read_model(write_xml("ddt.xml", wrap(body)))
    x = rows(m, "attributes")[0]
    assert (x["base_type"], x["derived_type"], x["derived_type_mim"], x["default"], x["unit"]) == (
        "int16",
        "Mid",
        "Lib",
        "9",
        "dB",
    )
    assert x["ranges"] == [{"min": Decimal(-5), "max": Decimal(5)}]
    assert m.warnings == []


def test_containment_in_mim_and_intermim(write_xml: WriteXml) -> None:
    body = """<mim name="A" version="1" release="0"><class name="P"/><class name="C"/>
      <relationship name="P_to_C"><containment><parent><hasClass name="P"/></parent>
        <child><hasClass name="C"/><cardinality><min>0</min><max>16</max></cardinality></child></containment>
      </relationship></mim>
      <mim name="B" version="1" release="0"><class name="D"/></mim>
      <interMim><relationship name="C_to_D"><containment>
        <parent><hasClass name="C"><mimName>A</mimName></hasClass></parent>
        <child><hasClass name="D"><mimName>B</mimName></hasClass><cardinality><min>1</min></cardinality></child>
      </containment></relationship></interMim>"""
    m = rtbfast.read_model(write_xml("cont.xml", wrap(body)))
    got = [
        (r["parent_mim"], r["parent"], r["child_mim"], r["child"], r["card_min"], r["card_max"])
        for r in rows(m, "containment")
    ]
    assert got == [("A", "P", "A", "C", 0, 16), ("A", "C", "B", "D", 1, None)]


def test_texts_lifecycle_and_skipped_elements(write_xml: WriteXml) -> None:
    body = """<mim name="M" version="1" release="0">
      <exception name="X"><exceptionParameter name="p"><dataType><long/></dataType></exceptionParameter></exception>
      <class name="C"><deprecated>Since L11B.</deprecated><statusInformation>Use D.</statusInformation>
      <attribute name="a"><dataType><long/></dataType><dependencies>Needs b.</dependencies>
        <preliminary/><takesEffect>At restart.</takesEffect><disturbances>Cell restart.</disturbances>
        <precondition>LOCKED.</precondition></attribute>
      <action name="go"><returnType><void/></returnType><parameter name="p"><in/><dataType><long/></dataType>
      </parameter></action></class>
      <relationship name="assoc"><biDirectionalAssociation/></relationship></mim>"""
    m = rtbfast.read_model(write_xml("txt.xml", wrap(body)))
    c = rows(m, "classes")[0]
    assert (c["lifecycle"], c["lifecycle_text"]) == ("deprecated", "Since L11B. Use D.")
    a = rows(m, "attributes")[0]
    assert (a["lifecycle"], a["dependencies"], a["takes_effect"], a["disturbances"], a["precondition"]) == (
        "preliminary",
        "Needs b.",
        "At restart.",
        "Cell restart.",
        "LOCKED.",
    )
    assert m.skipped == {"action": 1, "exception": 1, "biDirectionalAssociation": 1}
    assert m.counts()["attributes"] == 1  # the action's parameter is no attribute


def test_unresolved_reference_is_a_located_warning(write_xml: WriteXml) -> None:
    body = """<mim name="M" version="1" release="0"><class name="C">
      <attribute name="e"><dataType><enumRef name="Nope"/></dataType></attribute></class></mim>"""
    m = rtbfast.read_model(write_xml("unres.xml", wrap(body)))
    (w,) = m.warnings
    assert w.message == 'unresolved enumRef "Nope" in mim "M"'
    assert (w.line, w.element) == (4, "models/mim[M]/class[C]/attribute[e]")


@pytest.mark.parametrize(
    ("text", "error", "fragment"),
    [
        ("<models><mim name='a'>", rtbfast.XmlSyntaxError, "not closed"),
        ("<models><mim></models>", rtbfast.XmlSyntaxError, "mim"),
        ("<bulk/>", rtbfast.WrongRootError, "<bulk>"),
        ('<?xml version="1.0" encoding="EBCDIC-CP-US"?><models/>', rtbfast.EncodingError, "EBCDIC"),
        ("<models>&nbsp;</models>", rtbfast.InvalidValueError, "unknown entity &nbsp;"),
        ("", rtbfast.XmlSyntaxError, "no root element"),
    ],
)
def test_bad_input_raises_located_errors(
    write_xml: WriteXml, text: str, error: type[rtbfast.RtbfastError], fragment: str
) -> None:
    path = write_xml("bad.xml", text)
    with pytest.raises(error) as info:
        rtbfast.read_model(path)
    assert info.value.file == str(path)
    assert fragment in str(info.value)
    assert info.value.line >= 1


def test_read_network_refuses_a_model() -> None:
    with pytest.raises(rtbfast.WrongRootError, match="not a Bulk CM export"):
        rtbfast.read_network(EXAMPLE_MODEL)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(rtbfast.InputIOError, match="no such file"):
        rtbfast.read_model(tmp_path / "absent.xml")
