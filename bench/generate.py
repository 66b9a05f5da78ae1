"""Deterministic synthetic inputs for benchmarks, by seed: an MP XML model of any size in the
shape of real node models (several MIMs, long descriptions, PM counters, enums, structs,
derived types, containment) and a Bulk CM export of N nodes x cells x relations.

    python bench/generate.py model 100 out.xml     # about 100 MB
    python bench/generate.py export 100 out.xml
"""

from __future__ import annotations

import random
import sys
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


def write_export(path: Path, megabytes: float, seed: int = 1, cells: int = 6, relations: int = 20) -> Path:
    rng = random.Random(seed)
    target = int(megabytes * 1e6)

    def container(vs: str, rid: str, payload: str, inner: str = "") -> str:
        return (
            f'<xn:VsDataContainer id="{rid}"><xn:attributes><xn:vsDataType>vsData{vs}</xn:vsDataType>'
            f"<xn:vsDataFormatVersion>EricssonSpecificAttributes.17.28</xn:vsDataFormatVersion>"
            f"<es:vsData{vs}>{payload}</es:vsData{vs}></xn:attributes>{inner}</xn:VsDataContainer>\n"
        )

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
                payload = (
                    f"<es:administrativeState>{rng.choice(['LOCKED', 'UNLOCKED'])}</es:administrativeState>"
                    f"<es:earfcndl>{rng.randint(0, 17999)}</es:earfcndl><es:physicalLayerCellIdGroup>"
                    f"{rng.randint(0, 167)}</es:physicalLayerCellIdGroup><es:qRxLevMin>-140</es:qRxLevMin>"
                    "<es:additionalPlmnList><es:mcc>240</es:mcc><es:mnc>1</es:mnc><es:mncLength>2</es:mncLength>"
                    "</es:additionalPlmnList><es:sectorCarrierRef>SubNetwork=ROOT,MeContext=x,ManagedElement=x,"
                    "ENodeBFunction=1,SectorCarrier=1</es:sectorCarrierRef>"
                    + "".join(f"<es:qciList>{q}</es:qciList>" for q in range(1, 5))
                )
                cells_xml.append(container("EUtranCellFDD", f"{node}_{c}", payload, freq))
            enb = container("ENodeBFunction", "1", f"<es:eNBId>{n}</es:eNBId>", "".join(cells_xml))
            f.write(
                f'<xn:MeContext id="{node}"><xn:ManagedElement id="{node}">{enb}</xn:ManagedElement></xn:MeContext>\n'
            )
            n += 1
        f.write(
            '</xn:SubNetwork>\n</configData>\n<fileFooter dateTime="2026-11-26T00:00:00Z"/>\n</bulkCmConfigDataFile>\n'
        )
    return path


if __name__ == "__main__":
    what, size, out = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
    (write_model if what == "model" else write_export)(out, size)
    print(out, out.stat().st_size)
