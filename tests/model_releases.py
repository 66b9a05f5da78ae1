"""Release pairs of a real model, made by documented edits (no real pair of releases is in the
samples): the LTE eNodeB model (``ERBS_NODE_MODEL_D_full_mp.xml``) as the old release, and the
same file with the edits below applied with lxml as the new one.

Each edit changes one thing of one kind and returns the changes it made, as ``rtbfast
diff-model`` should report them: (change, class, attribute, member). They are said here from
the edit itself, not computed by the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lxml import etree

Change = tuple[str, str, str | None, str | None]
Edit = Callable[[etree._Element], list[Change]]

CELL = "EUtranCellFDD"


def _class(mim: etree._Element, name: str) -> etree._Element:
    found = mim.find(f"class[@name='{name}']")
    assert found is not None, name
    return found


def _attribute(mim: etree._Element, cls: str, name: str) -> etree._Element:
    found = _class(mim, cls).find(f"attribute[@name='{name}']")
    assert found is not None, (cls, name)
    return found


def _flag(mim: etree._Element, cls: str, name: str, flag: str) -> None:
    """An empty flag element (``<readOnly/>``) put before the attribute's ``dataType``."""
    attribute = _attribute(mim, cls, name)
    data = attribute.find("dataType")
    assert data is not None
    data.addprevious(etree.Element(flag))


def _relationships(mim: etree._Element, cls: str) -> list[tuple[etree._Element, str, str]]:
    out = []
    for rel in mim.findall("relationship"):
        parent, child = rel.find("containment/parent/hasClass"), rel.find("containment/child/hasClass")
        if parent is not None and child is not None and cls in (parent.get("name"), child.get("name")):
            out.append((rel, str(parent.get("name")), str(child.get("name"))))
    return out


def class_added(mim: etree._Element) -> list[Change]:
    """A class ``SleepModeFunction`` with one attribute, contained in ``ENodeBFunction``."""
    cls = etree.SubElement(mim, "class", name="SleepModeFunction")
    attribute = etree.SubElement(cls, "attribute", name="sleepModeFunctionId")
    data = etree.SubElement(attribute, "dataType")
    etree.SubElement(data, "string")
    _class(mim, "ENodeBFunction").addnext(cls)
    rel = etree.SubElement(mim, "relationship", name="ENodeBFunction_to_SleepModeFunction")
    containment = etree.SubElement(rel, "containment")
    etree.SubElement(etree.SubElement(containment, "parent"), "hasClass", name="ENodeBFunction")
    child = etree.SubElement(containment, "child")
    etree.SubElement(child, "hasClass", name="SleepModeFunction")
    return [
        ("class_added", "SleepModeFunction", None, None),
        ("containment_added", "ENodeBFunction", None, "SleepModeFunction"),
    ]


def class_removed(mim: etree._Element) -> list[Change]:
    """The class ``Cdma2000FreqBandRelation`` and every containment naming it."""
    name = "Cdma2000FreqBandRelation"
    mim.remove(_class(mim, name))
    out: list[Change] = [("class_removed", name, None, None)]
    for rel, parent, child in _relationships(mim, name):
        mim.remove(rel)
        out.append(("containment_removed", parent, None, child))
    return out


def class_renamed(mim: etree._Element) -> list[Change]:
    """``UtranTDDFreqRelation`` renamed ``UtranTddFreqRelation`` (in its class and every
    containment)."""
    old, new = "UtranTDDFreqRelation", "UtranTddFreqRelation"
    _class(mim, old).set("name", new)
    for element in mim.iter("hasClass"):
        if element.get("name") == old:
            element.set("name", new)
    return [("class_renamed", old, None, None)]


def attribute_added(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.sleepModeActive`` (boolean) added."""
    attribute = etree.Element("attribute", name="sleepModeActive")
    etree.SubElement(etree.SubElement(attribute, "dataType"), "boolean")
    _attribute(mim, CELL, "qRxLevMin").addnext(attribute)
    return [("attribute_added", CELL, "sleepModeActive", None)]


def attribute_removed(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.noOfPucchCqiUsers`` removed."""
    attribute = _attribute(mim, CELL, "noOfPucchCqiUsers")
    _class(mim, CELL).remove(attribute)
    return [("attribute_removed", CELL, "noOfPucchCqiUsers", None)]


def attribute_renamed(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.qQualMin`` renamed ``qQualMinimum``."""
    _attribute(mim, CELL, "qQualMin").set("name", "qQualMinimum")
    return [("attribute_renamed", CELL, "qQualMin", None)]


def type_changed(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.cellBarred`` made a string (its enum's default goes with the enum)."""
    data = _attribute(mim, CELL, "cellBarred").find("dataType")
    assert data is not None
    for child in list(data):
        data.remove(child)
    etree.SubElement(data, "string")
    return [("type", CELL, "cellBarred", None), ("default", CELL, "cellBarred", None)]


def range_narrowed(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.qRxLevMin`` from -140..-44 to -130..-44."""
    low = _attribute(mim, CELL, "qRxLevMin").find("dataType/long/range/min")
    assert low is not None and low.text == "-140"
    low.text = "-130"
    return [("range", CELL, "qRxLevMin", None)]


def default_changed(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.cellRange`` default from 15 to 30."""
    default = _attribute(mim, CELL, "cellRange").find("dataType/long/defaultValue")
    assert default is not None and default.text == "15"
    default.text = "30"
    return [("default", CELL, "cellRange", None)]


def unit_changed(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.tac``'s values now counted in another unit (it had none)."""
    number = _attribute(mim, CELL, "tac").find("dataType/long")
    assert number is not None and number.find("unit") is None
    etree.SubElement(number, "unit").text = "code"
    return [("unit", CELL, "tac", None)]


def factor_changed(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.pZeroNominalPusch`` gets a multiplication factor of 0.1."""
    number = _attribute(mim, CELL, "pZeroNominalPusch").find("dataType/long")
    assert number is not None and number.find("multiplicationFactor") is None
    etree.SubElement(number, "multiplicationFactor").text = "0.1"
    return [("multiplication_factor", CELL, "pZeroNominalPusch", None)]


def enum_member_removed(mim: etree._Element) -> list[Change]:
    """The member ``SHUTTING_DOWN`` of ``AdminState`` removed (the type of
    ``administrativeState`` in every class using it)."""
    enum = mim.find("enum[@name='AdminState']")
    assert enum is not None
    member = enum.find("enumMember[@name='SHUTTING_DOWN']")
    assert member is not None
    enum.remove(member)
    users = sorted(
        {
            str(c.get("name"))
            for c in mim.findall("class")
            for a in c.findall("attribute")
            if a.find("dataType/enumRef[@name='AdminState']") is not None
        }
    )
    return [
        ("enum_member_removed", cls, str(a.get("name")), "SHUTTING_DOWN")
        for cls in users
        for a in _class(mim, cls).findall("attribute")
        if a.find("dataType/enumRef[@name='AdminState']") is not None
    ]


def read_only(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.userLabel`` made read-only."""
    _flag(mim, CELL, "userLabel", "readOnly")
    return [("read_only", CELL, "userLabel", None)]


def restricted(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.cellRange`` made restricted (set only at create)."""
    _flag(mim, CELL, "cellRange", "restricted")
    return [("restricted", CELL, "cellRange", None)]


def mandatory(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.frameStartOffset`` made mandatory."""
    attribute = _attribute(mim, CELL, "frameStartOffset")
    assert attribute.find("mandatory") is None
    _flag(mim, CELL, "frameStartOffset", "mandatory")
    return [("mandatory", CELL, "frameStartOffset", None)]


def lock_before_modify(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.dlChannelBandwidth`` gets ``lockBeforeModify``."""
    _flag(mim, CELL, "dlChannelBandwidth", "lockBeforeModify")
    return [("lock_before_modify", CELL, "dlChannelBandwidth", None)]


def takes_effect(mim: etree._Element) -> list[Change]:
    """``EUtranCellFDD.qRxLevMinOffset`` takes effect at the next cell unlock."""
    element = _attribute(mim, CELL, "qRxLevMinOffset").find("takesEffect")
    assert element is not None
    element.text = "At next cell unlock"
    return [("takes_effect", CELL, "qRxLevMinOffset", None)]


def cardinality(mim: etree._Element) -> list[Change]:
    """At most 4 ``EUtranFreqRelation`` in a cell (was 8)."""
    for rel, parent, child in _relationships(mim, "EUtranFreqRelation"):
        if (parent, child) == (CELL, "EUtranFreqRelation"):
            high = rel.find("containment/child/cardinality/max")
            assert high is not None and high.text == "8"
            high.text = "4"
            return [("cardinality", CELL, None, "EUtranFreqRelation")]
    raise AssertionError("no EUtranCellFDD_to_EUtranFreqRelation")


EDITS: dict[str, Edit] = {
    "class_added": class_added,
    "class_removed": class_removed,
    "class_renamed": class_renamed,
    "attribute_added": attribute_added,
    "attribute_removed": attribute_removed,
    "attribute_renamed": attribute_renamed,
    "type": type_changed,
    "range": range_narrowed,
    "default": default_changed,
    "unit": unit_changed,
    "multiplication_factor": factor_changed,
    "enum_member_removed": enum_member_removed,
    "read_only": read_only,
    "restricted": restricted,
    "mandatory": mandatory,
    "lock_before_modify": lock_before_modify,
    "takes_effect": takes_effect,
    "cardinality": cardinality,
}
"""The edits by the change kind each makes."""


def make_release(source: Path, target: Path, edits: list[str]) -> tuple[Path, list[Change]]:
    """`source` with `edits` applied (in order) written to `target`, and the changes they made."""
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False, huge_tree=True)
    tree = etree.parse(str(source), parser)
    mim = tree.getroot().find("mim")
    assert mim is not None
    made: list[Change] = []
    for name in edits:
        made.extend(EDITS[name](mim))
    tree.write(str(target), xml_declaration=True, encoding="UTF-8", doctype=tree.docinfo.doctype)
    return target, made
