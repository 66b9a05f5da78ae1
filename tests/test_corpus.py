"""Every real sample, read by rtbfast and counted independently with lxml.

The samples are read from RTBFAST_SAMPLES (default ../shared/samples) and never copied into
the repository; without them these tests are skipped.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import rtbfast
from rtbfast.errors import InvalidValueError
from tests.conftest import filled, samples_dir

PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True)


def sample_files(*folders: str) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        try:
            files += sorted(samples_dir(folder).glob("*.xml"))
        except pytest.skip.Exception:
            continue
    return files


def local(el: Any) -> str:
    return str(etree.QName(el).localname)


def mom_counts(path: Path) -> dict[str, int]:
    root = etree.parse(str(path), PARSER).getroot()
    mims = root.findall("mim")
    containment_children = sum(
        len(c.findall("child"))
        for m in root
        if m.tag in ("mim", "interMim")
        for c in m.findall("relationship/containment")
    )
    return {
        "mims": len(mims),
        "classes": len(root.findall("mim/class")),
        "attributes": len(root.findall("mim/class/attribute")),
        "enums": len(root.findall("mim/enum")),
        "enum_members": len(root.findall("mim/enum/enumMember")),
        "structs": len(root.findall("mim/struct")),
        "struct_members": len(root.findall("mim/struct/structMember")),
        "derived_types": len(root.findall("mim/derivedDataType")),
        "containment": containment_children,
    }


def bulkcm_counts(path: Path) -> dict[str, int]:
    """MOs: elements nested under configData other than `attributes` and their content, less
    the vsData containers that extend the standard element of the same class they sit in.
    Values: leaf elements inside `attributes`, less vsDataType/vsDataFormatVersion and payloads."""
    root = etree.parse(str(path), PARSER).getroot()
    mos = values = 0

    def is_container(el: Any) -> bool:
        return local(el).lower() == "vsdatacontainer"

    def walk_mo(el: Any, parent: Any | None) -> None:
        nonlocal mos, values
        extension = False
        if is_container(el) and parent is not None and not is_container(parent):
            vs_type = [c.text for c in el.iter() if isinstance(c.tag, str) and local(c) == "vsDataType"]
            extension = bool(vs_type) and vs_type[0].removeprefix("vsData") == local(parent)
        if not extension:
            mos += 1
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if local(child) == "attributes":
                for node in child:
                    if not isinstance(node.tag, str) or local(node) in ("vsDataType", "vsDataFormatVersion"):
                        continue
                    payload = is_container(el) and local(node).startswith("vsData")
                    leaves = [n for n in node.iter() if isinstance(n.tag, str) and len(n) == 0]
                    if payload:
                        leaves = [n for n in leaves if n is not node]
                    values += len(leaves)
            else:
                walk_mo(child, el)

    for config in root:
        if isinstance(config.tag, str) and local(config) == "configData":
            for top in config:
                if isinstance(top.tag, str):
                    walk_mo(top, None)
    return {"mos": mos, "values": values}


@pytest.mark.samples
@pytest.mark.parametrize("path", sample_files("mom"), ids=lambda p: p.name)
def test_model_counts_match_lxml(path: Path) -> None:
    model = rtbfast.read_model(path)
    assert model.counts() == mom_counts(path)


REFUSED_EXPORTS = {
    # 3GPP's RIM example puts vendor data with vsDataType "DataType=6" in a standard MO: its
    # FDN would be "...,DataType=6=1", which no script can name
    "sigscale_rim_example_eutran.xml": ("111:10", "vsDataType \"DataType=6\": a class name holds '='"),
}


@pytest.mark.samples
@pytest.mark.parametrize("path", sample_files("bulkcm", "enm/3gpp"), ids=lambda p: p.name)
def test_export_counts_match_lxml(path: Path, tmp_path: Path) -> None:
    if path.name in REFUSED_EXPORTS:
        where, why = REFUSED_EXPORTS[path.name]
        with pytest.raises(InvalidValueError) as caught:
            rtbfast.read_network(path)
        assert f"{path.name}:{where}" in str(caught.value) and why in str(caught.value)
        return
    path = filled(path, tmp_path)
    network = rtbfast.read_network(path)
    counts = network.counts()
    assert {"mos": counts["mos"], "values": counts["values"]} == bulkcm_counts(path)
    fdns = network.tables["mos"].column("fdn").to_pylist()
    assert len(set(fdns)) == len(fdns), "FDNs are unique"
    model = network.model
    assert model.tables["classes"].num_rows == network.tables["vs_types"].num_rows


LARGE_MODELS = [p for p in sample_files("mom") if p.stat().st_size >= 2 << 20]


@pytest.mark.samples
@pytest.mark.parametrize("path", LARGE_MODELS, ids=lambda p: p.name)
def test_model_read_in_parts_equals_sequential_read(path: Path) -> None:
    """A model cut into parts read on several threads gives the same rows, in the same order,
    and the same warnings as one sequential read."""
    one = rtbfast.read_model(path, threads=1)
    for threads in (2, 3):
        parts = rtbfast.read_model(path, threads=threads)
        # the file really was read in parts (each at least 1 MiB): one chunk per part
        expected_parts = min(threads, path.stat().st_size >> 20)
        assert parts.tables["attributes"].column("attribute").num_chunks == expected_parts, threads
        for name, table in one.tables.items():
            assert parts.tables[name].equals(table), (threads, name)
        assert parts.warnings == one.warnings
        assert parts.skipped == one.skipped
        assert parts.dtd_version == one.dtd_version


@pytest.mark.samples
def test_lte_model_figures() -> None:
    """The published figures of the real LTE model (mom-format.md §8)."""
    model = rtbfast.read_model(samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml")
    c = model.counts()
    assert (c["classes"], c["attributes"], c["enums"], c["enum_members"]) == (330, 4986, 234, 1417)
    assert (c["structs"], c["struct_members"], c["containment"]) == (106, 518, 355)
    attrs = model.tables["attributes"]
    cell = [r for r in attrs.to_pylist() if r["class"] == "EUtranCellFDD"]
    assert len(cell) == 788
    assert sum(r["is_counter"] for r in cell) == 628
    assert model.skipped["action"] == 208 and model.skipped["exception"] == 189


@pytest.mark.samples
def test_truncated_lte_model_always_gives_a_located_error(tmp_path: Path) -> None:
    data = (samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml").read_bytes()
    rng = random.Random(20261126)
    offsets = sorted(rng.randrange(1, len(data)) for _ in range(50))
    path = tmp_path / "cut.xml"
    for offset in offsets:
        path.write_bytes(data[:offset])
        with pytest.raises(rtbfast.InputError) as info:
            rtbfast.read_model(path)
        err = info.value
        assert err.file == str(path), offset
        assert err.line >= 1 and err.column >= 1, (offset, str(err))
        # the error points at or near the cut, never past it
        assert err.line <= data[:offset].count(b"\n") + 1, (offset, str(err))
        if offset > 2000:
            assert err.element.startswith("models"), (offset, str(err))
