"""Deterministic synthetic inputs for benchmarks, by seed: an MP XML model of any size in the
shape of real node models (several MIMs, long descriptions, PM counters, enums, structs,
derived types, containment) and a Bulk CM export of N nodes x cells x relations.

    python bench/generate.py model 100 out.xml     # about 100 MB
    python bench/generate.py export 100 out.xml
    python bench/generate.py templates 10000 out/  # RTB templates of the example catalog's classes
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

WORDS = (
    "cell carrier power threshold handover neighbour frequency measurement report offset timer uplink downlink "
    "bearer scheduler priority load balancing admission control interference the a of to when is this value used "
    "for in and with by"
).split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _attribute(rng: random.Random, cls: str, i: int, mim: str) -> str:
    name = f"attr{i}"
    desc = " ".join(_sentence(rng, rng.randint(8, 30)) for _ in range(rng.randint(1, 4)))
    kind = rng.random()
    if kind < 0.35:  # PM counter, as in real models
        return (
            f'<attribute name="pm{cls}{i}"><description>{desc}</description><noNotification/><nonPersistent/>'
            f"<readOnly/><dataType><long/></dataType><counterType>PEG</counterType>"
            f"<counterReset>true</counterReset></attribute>\n"
        )
    if kind < 0.6:
        lo = rng.randint(-1000, 0)
        hi = lo + rng.randint(1, 5000)
        t = (
            f"<long><range><min>{lo}</min><max>{hi}</max></range><defaultValue>{lo}</defaultValue>"
            f"<unit>dBm</unit><multiplicationFactor>0.1</multiplicationFactor></long>"
        )
    elif kind < 0.75:
        t = f'<enumRef name="Enum{rng.randint(0, 19)}"><defaultValue>M0</defaultValue></enumRef>'
    elif kind < 0.85:
        t = f'<sequence><structRef name="Struct{rng.randint(0, 9)}"/><maxLength>8</maxLength></sequence>'
    elif kind < 0.93:
        t = f'<derivedDataTypeRef name="Ddt{rng.randint(0, 29)}"><mimName>{mim}</mimName></derivedDataTypeRef>'
    else:
        t = "<string><lengthRange><min>0</min><max>128</max></lengthRange></string>"
    flags = "<restricted/>" if rng.random() < 0.1 else ""
    return (
        f'<attribute name="{name}"><description>{desc}</description>{flags}<dataType>{t}</dataType>'
        f"<takesEffect>Immediately.</takesEffect></attribute>\n"
    )


def write_model(path: Path, megabytes: float, seed: int = 1, classes_per_mim: int = 300) -> Path:
    rng = random.Random(seed)
    target = int(megabytes * 1e6)
    with path.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE models SYSTEM "mp.dtd">\n<models>\n')
        f.write("<dtdVersion>G</dtdVersion>\n")
        m = 0
        while f.tell() < target:
            mim = f"Mim{m}"
            f.write(f'<mim name="{mim}" version="1" release="{m}" namespace="urn:example:{mim}">\n')
            for e in range(20):
                members = "".join(f'<enumMember name="M{k}"><value>{k}</value></enumMember>' for k in range(6))
                f.write(f'<enum name="Enum{e}">{members}</enum>\n')
            for s in range(10):
                f.write(
                    f'<struct name="Struct{s}"><structMember name="a"><long><range><min>0</min><max>9</max>'
                    f'</range></long></structMember><structMember name="b"><string/></structMember></struct>\n'
                )
            for d in range(30):
                f.write(
                    f'<derivedDataType name="Ddt{d}"><baseType><int32><range><min>0</min><max>{d + 10}</max>'
                    f"</range><ranges><subrange><min>0</min><max>{d + 10}</max></subrange></ranges>"
                    f"</int32></baseType></derivedDataType>\n"
                )
            for c in range(classes_per_mim):
                cls = f"Class{m}_{c}"
                f.write(f'<class name="{cls}"><description>{_sentence(rng, 20)}</description>\n')
                f.write(f'<attribute name="{cls}Id"><mandatory/><dataType><string/></dataType></attribute>\n')
                for i in range(rng.randint(5, 30)):
                    f.write(_attribute(rng, cls, i, mim))
                f.write("</class>\n")
            for c in range(1, classes_per_mim):
                f.write(
                    f'<relationship name="r{c}"><containment><parent><hasClass name="Class{m}_{c // 4}"/></parent>'
                    f'<child><hasClass name="Class{m}_{c}"/><cardinality><min>0</min><max>{c}</max></cardinality>'
                    f"</child></containment></relationship>\n"
                )
            f.write("</mim>\n")
            m += 1
        f.write("</models>\n")
    return path


def write_export(
    path: Path, megabytes: float, seed: int = 1, cells: int = 6, relations: int = 20, rich: bool = False
) -> Path:
    """A Bulk CM export of LTE nodes, each an ENodeBFunction with `cells` EUtranCellFDD of
    `relations` EUtranCellRelation, until `megabytes`. `rich` adds what the real RTB templates
    address (``../shared/samples/rtb``), with values drawn per cell: carriers (EUtranFreqRelation
    ids 12, 16, 1300), UeMeasControl with ReportConfigSearch, ReportConfigA5 and
    ReportConfigEUtraBestCell, struct sequences (qciA1A2ThrOffsets,
    eutranFreqToQciProfileRelation), SIB3, SubscriberGroupProfile, PmFlexCounterFilter and
    QciTable; and beside the ENodeBFunction a GNBDUFunction (two NRCellDU, DU5qiTable, UeCC).
    Without it the output is what it always was."""
    rng = random.Random(seed)
    target = int(megabytes * 1e6)

    container = _vs

    with path.open("w", encoding="utf-8") as f:
        f.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<bulkCmConfigDataFile xmlns="configData.xsd" '
            'xmlns:xn="genericNrm.xsd" xmlns:es="EricssonSpecificAttributes.17.28.xsd">\n'
            '<fileHeader fileFormatVersion="32.615 V4.5" vendorName="Ericsson"/>\n<configData dnPrefix="Undefined">\n'
            '<xn:SubNetwork id="ROOT">\n'
        )
        n = 0
        while f.tell() < target:
            node = f"NODE{n:06d}"
            cells_xml = []
            for c in range(cells):
                rels = "".join(
                    container(
                        "EUtranCellRelation",
                        f"{rng.randint(1, 999)}-{r}",
                        f"<es:cellIndividualOffsetEUtran>{rng.choice(['0', '3', '-3'])}</es:cellIndividualOffsetEUtran>"
                        f"<es:neighborCellRef>SubNetwork=ROOT,MeContext={node},ManagedElement={node},"
                        f"ENodeBFunction=1,EUtranCellFDD={node}_{(c + 1) % cells}</es:neighborCellRef>"
                        f"<es:isHoAllowed>true</es:isHoAllowed>",
                    )
                    for r in range(relations)
                )
                freq = container(
                    "EUtranFreqRelation", "1", "<es:cellReselectionPriority>5</es:cellReselectionPriority>", rels
                )
                if rich:
                    freq = _rich_cell_children(rng, node, rels)
                payload = (
                    f"<es:administrativeState>{rng.choice(['LOCKED', 'UNLOCKED'])}</es:administrativeState>"
                    f"<es:earfcndl>{rng.randint(0, 17999)}</es:earfcndl><es:physicalLayerCellIdGroup>"
                    f"{rng.randint(0, 167)}</es:physicalLayerCellIdGroup><es:qRxLevMin>-140</es:qRxLevMin>"
                    "<es:additionalPlmnList><es:mcc>240</es:mcc><es:mnc>1</es:mnc><es:mncLength>2</es:mncLength>"
                    "</es:additionalPlmnList><es:sectorCarrierRef>SubNetwork=ROOT,MeContext=x,ManagedElement=x,"
                    "ENodeBFunction=1,SectorCarrier=1</es:sectorCarrierRef>"
                    + "".join(f"<es:qciList>{q}</es:qciList>" for q in range(1, 5))
                )
                if rich:
                    payload = payload.replace(
                        "<es:earfcndl>",
                        f"<es:cellId>{c}</es:cellId><es:earfcnul>18000</es:earfcnul><es:physicalLayerSubCellId>0"
                        "</es:physicalLayerSubCellId><es:tac>1</es:tac><es:earfcndl>",
                        1,
                    )
                    payload = _carrier(payload, rng) + _rich_cell_values(rng)
                    # only attributes the LTE model has: a rich network can be planned on it
                    payload = (
                        "".join(payload.split("<es:qciList>")[0:1]) + payload[payload.rfind("</es:qciList>") + 13 :]
                    )
                cells_xml.append(container("EUtranCellFDD", f"{node}_{c}", payload, freq))
            enb_children = "".join(cells_xml) + (_rich_node_children(node) if rich else "")
            enb = container("ENodeBFunction", "1", f"<es:eNBId>{n}</es:eNBId>", enb_children)
            gnb = _rich_gnb(rng, node, n) if rich else ""
            element = f'<xn:ManagedElement id="{node}">{enb}{gnb}</xn:ManagedElement>'
            f.write(f'<xn:MeContext id="{node}">{element}</xn:MeContext>\n')
            n += 1
        f.write(
            '</xn:SubNetwork>\n</configData>\n<fileFooter dateTime="2026-11-26T00:00:00Z"/>\n</bulkCmConfigDataFile>\n'
        )
    return path


CARRIERS = ("1300", "524", "3000", "6300")
"""EARFCNs of the rich export's cells: the autoroute template changes the first three."""


def _vs(vs: str, rid: str, payload: str, inner: str = "") -> str:
    return (
        f'<xn:VsDataContainer id="{rid}"><xn:attributes><xn:vsDataType>vsData{vs}</xn:vsDataType>'
        f"<xn:vsDataFormatVersion>EricssonSpecificAttributes.17.28</xn:vsDataFormatVersion>"
        f"<es:vsData{vs}>{payload}</es:vsData{vs}></xn:attributes>{inner}</xn:VsDataContainer>\n"
    )


def _carrier(payload: str, rng: random.Random) -> str:
    """The cell's earfcndl replaced by one of :data:`CARRIERS`."""
    start = payload.index("<es:earfcndl>") + len("<es:earfcndl>")
    end = payload.index("</es:earfcndl>")
    return payload[:start] + rng.choice(CARRIERS) + payload[end:]


def _rich_cell_values(rng: random.Random) -> str:
    return (
        "<es:systemInformationBlock3><es:qHyst>4</es:qHyst><es:sNonIntraSearch>10</es:sNonIntraSearch>"
        "<es:tEvaluation>240</es:tEvaluation></es:systemInformationBlock3>"
    )


def _rich_cell_children(rng: random.Random, node: str, rels: str) -> str:
    freqs = []
    for i, fid in enumerate(("12", "16", "1300")):
        qci = "".join(
            f"<es:eutranFreqToQciProfileRelation><es:qciProfileRef>SubNetwork=ROOT,MeContext={node},"
            f"ManagedElement={node},ENodeBFunction=1,QciTable=default,QciProfilePredefined=qci{q}"
            f"</es:qciProfileRef><es:a5Thr1RsrqFreqQciOffset>{rng.choice(['0', '-10', '20'])}"
            f"</es:a5Thr1RsrqFreqQciOffset><es:a5Thr1RsrpFreqQciOffset>0</es:a5Thr1RsrpFreqQciOffset>"
            "</es:eutranFreqToQciProfileRelation>"
            for q in (1, 9)
        )
        payload = (
            f"<es:eutranFrequencyRef>SubNetwork=ROOT,MeContext={node},ManagedElement={node},ENodeBFunction=1,"
            f"EUtraNetwork=1,EUtranFrequency={fid}</es:eutranFrequencyRef>"
            f"<es:cellReselectionPriority>{5 + i}</es:cellReselectionPriority>"
            f"<es:a5Thr1RsrpFreqOffset>{rng.choice(['0', '2', '-2'])}</es:a5Thr1RsrpFreqOffset>"
            f"<es:a5Thr2RsrpFreqOffset>{rng.choice(['0', '2', '-2'])}</es:a5Thr2RsrpFreqOffset>{qci}"
        )
        freqs.append(_vs("EUtranFreqRelation", fid, payload, rels if i == 0 else ""))
    offsets = "".join(
        f"<es:qciA1A2ThrOffsets><es:qciProfileRef>SubNetwork=ROOT,MeContext={node},ManagedElement={node},"
        f"ENodeBFunction=1,QciTable=default,QciProfilePredefined=qci{q}</es:qciProfileRef>"
        f"<es:a1a2ThrRsrpQciOffset>0</es:a1a2ThrRsrpQciOffset>"
        f"<es:a1a2ThrRsrqQciOffset>{rng.choice(['0', '-30', '50'])}</es:a1a2ThrRsrqQciOffset></es:qciA1A2ThrOffsets>"
        for q in (1, 9)
    )
    search = _vs(
        "ReportConfigSearch",
        "1",
        f"<es:a1a2SearchThresholdRsrp>{rng.choice(['-124', '-119', '-110'])}</es:a1a2SearchThresholdRsrp>"
        f"<es:hysteresisA1A2SearchRsrq>10</es:hysteresisA1A2SearchRsrq>"
        f"<es:inhibitA2SearchConfig>INHIBIT_A2SEARCH_RSRQ</es:inhibitA2SearchConfig>{offsets}",
    )
    a5 = _vs(
        "ReportConfigA5",
        "1",
        f"<es:a5Threshold1Rsrp>{rng.choice(['-125', '-119', '-115'])}</es:a5Threshold1Rsrp>"
        f"<es:a5Threshold2Rsrp>{rng.choice(['-124', '-120', '-110'])}</es:a5Threshold2Rsrp>",
    )
    best = _vs(
        "ReportConfigEUtraBestCell", "1", "<es:timeToTriggerA3>320</es:timeToTriggerA3><es:a3offset>30</es:a3offset>"
    )
    ue = _vs(
        "UeMeasControl",
        "1",
        "<es:filterCoefficientEUtraRsrq>4</es:filterCoefficientEUtraRsrq>"
        "<es:filterCoefficientEUtraRsrp>4</es:filterCoefficientEUtraRsrp>",
        search + a5 + best,
    )
    return "".join(freqs) + ue


def _rich_gnb(rng: random.Random, node: str, n: int) -> str:
    """The NR side of a mixed node: GNBDUFunction with two NRCellDU, a DU5qiTable and UeCC."""
    cells = "".join(
        _vs(
            "NRCellDU",
            f"{node}_nr{c}",
            f"<es:cellLocalId>{c + 1}</es:cellLocalId><es:ssbFrequency>{rng.choice(['643296', '431070'])}"
            f"</es:ssbFrequency><es:administrativeState>UNLOCKED</es:administrativeState>",
        )
        for c in range(2)
    )
    du5qi = _vs(
        "DU5qiTable",
        "1",
        "",
        _vs(
            "DU5qi", "1", "<es:profile5qi>1</es:profile5qi><es:priorityLevel>20</es:priorityLevel><es:dscp>46</es:dscp>"
        ),
    )
    uecc = _vs("UeCC", "1", "")
    return _vs(
        "GNBDUFunction", "1", f"<es:gNBId>{n}</es:gNBId><es:gNBIdLength>24</es:gNBIdLength>", cells + du5qi + uecc
    )


def _rich_node_children(node: str) -> str:
    volte = _vs(
        "SubscriberGroupProfile",
        "VOLTE",
        "<es:ulMcsLowerLimit>1</es:ulMcsLowerLimit><es:ulMcsUpperLimit>28</es:ulMcsUpperLimit>",
    )
    flex = "".join(
        _vs("PmFlexCounterFilter", fid, "<es:flexFilterEnabled>true</es:flexFilterEnabled>")
        for fid in ("spid_60", "spid_7", "plmn_1")
    )
    qci = "".join(_vs("QciProfilePredefined", f"qci{q}", f"<es:qci>{q}</es:qci>") for q in (1, 9))
    return volte + flex + _vs("QciTable", "default", "", qci)


TEMPLATE_MOS: dict[str, dict[str, Callable[[random.Random], str]]] = {
    "EUtranCellFDD": {
        "qRxLevMin": lambda r: str(r.choice(range(-140, -43, 2))),
        "cellRange": lambda r: r.choice(["KM_15", "KM_100"]),
        "administrativeState": lambda r: r.choice(["LOCKED", "UNLOCKED"]),
        "noOfPucchCqiUsers": lambda r: str(r.randint(0, 4000)),
        "pdcchCfiMode": lambda r: r.choice(["CFI_STATIC_BY_BW", "CFI_AUTO_MAXIMUM_3"]),
    },
    "UeMeasControl": {
        "filterCoefficientEUtraRsrp": lambda r: r.choice(["2", "4", "6", "8"]),
        "filterCoefficientEUtraRsrq": lambda r: r.choice(["4", "6", "11"]),
    },
    "ReportConfigEUtraBestCell": {
        "a3offset": lambda r: r.choice(["1.5", "2.0", "3.0", "-1.0"]),
        "hysteresisA3": lambda r: r.choice(["0.5", "1.0", "2.5"]),
        "timeToTriggerA3": lambda r: r.choice(["160", "320", "640"]),
    },
    "ReportConfigA5": {
        "a5Threshold1Rsrp": lambda r: str(r.randint(-130, -100)),
        "a5Threshold2Rsrp": lambda r: str(r.randint(-130, -100)),
        "hysteresisA5": lambda r: r.choice(["0.5", "1.0"]),
        "timeToTriggerA5": lambda r: r.choice(["160", "640"]),
    },
    "CellSleepFunction": {
        "sleepMode": lambda r: r.choice(["ACTIVATED", "DEACTIVATED"]),
        "sleepStartTime": lambda r: f"0{r.randint(0, 3)}:00",
        "capCellDlPrbSleepThreshold": lambda r: str(r.randint(0, 100)),
    },
}
"""Classes and attributes of the example catalog (examples/), with value makers."""

_SLIPS = {"qRxLevMin": "-150", "a3offset": "30", "timeToTriggerA3": "161", "sleepMode": "ACTIVE", "cellRange": "KM_50"}
"""A wrong value per attribute, written into about one template in twenty."""


def _template(rng: random.Random, n: int) -> list[object]:
    def values(cls: str) -> dict[str, str]:
        out = {name: make(rng) for name, make in TEMPLATE_MOS[cls].items()}
        if rng.random() < 0.05:
            slip = rng.choice([a for a in out if a in _SLIPS] or list(out))
            out[slip] = _SLIPS.get(slip, "bad")
        return out

    report = {
        "ReportConfigEUtraBestCell-1": values("ReportConfigEUtraBestCell"),
        "ReportConfigA5-1": values("ReportConfigA5"),
    }
    cell: dict[str, object] = {**values("EUtranCellFDD"), "UeMeasControl-1": {**values("UeMeasControl"), **report}}
    if rng.random() < 0.5:
        cell["CellSleepFunction-1"] = values("CellSleepFunction")
    if rng.random() < 0.2:
        cell["$cond"] = {"if": "cell.get_freq_str() == '1300'", "then": {"qRxLevMin": "-120"}, "else": "__ignore__"}
    return [{"$meta": {"version": "1.0.0", "description": f"generated {n}"}}, {"EUtranCellFDD": cell}]


def write_templates(folder: Path, count: int, seed: int = 3) -> list[Path]:
    """`count` RTB templates of the example catalog's classes (about 25 values each, one in
    twenty with a wrong value, one in five with a $cond)."""
    import json

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"t{n:05d}.json"
        path.write_text(json.dumps(_template(rng, n), indent=2), encoding="utf-8")
        paths.append(path)
    return paths


def write_typed_templates(folder: Path, count: int, cells: int = 40, seed: int = 5) -> tuple[list[Path], int]:
    """`count` typed templates in YAML, each a fragment list of `cells` cells of the example
    classes' values; returns the files and the number of attribute values written."""
    import yaml

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, values = [], 0
    for n in range(count):
        fragments = []
        for _ in range(cells):
            fragment = _template(rng, n)[1]
            fragments.append(fragment)
            values += _count_values(fragment)
        doc = {"rtbfast": "template/1", "meta": {"name": f"typed {n}"}, "fragments": fragments}
        path = folder / f"t{n:05d}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    return paths, values


def _count_values(node: object) -> int:
    if isinstance(node, dict):
        return sum(1 if isinstance(v, str) and k[:1].islower() else _count_values(v) for k, v in node.items())
    return 0


if __name__ == "__main__":
    what, size, out = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
    if what == "templates":
        print(out, len(write_templates(out, int(size))))
    else:
        (write_model if what == "model" else write_export)(out, size)
        print(out, out.stat().st_size)
