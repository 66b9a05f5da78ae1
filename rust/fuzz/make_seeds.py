"""Write the committed seed corpus of the fuzz targets (rust/fuzz/corpus/<target>/): small valid
models, exports and rules written for this project, and every hostile case of the hardening
issue. `python rust/fuzz/make_seeds.py` rewrites them; the corpus is also replayed by
`cargo test` (rust/tests/fuzz_corpus.rs). Real samples are added at fuzz time, never copied
here (rust/fuzz/run.sh)."""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE models SYSTEM "mp.dtd">
<models><dtdVersion>G</dtdVersion>
<mim name="Lrat" version="1" release="0">
<enum name="AdminState"><enumMember name="LOCKED"><value>0</value></enumMember>
<enumMember name="UNLOCKED"><value>1</value></enumMember></enum>
<struct name="Pair"><structMember name="lo"><long/></structMember></struct>
<class name="EUtranCellFDD"><description>A cell &amp; <![CDATA[<raw>]]></description>
<attribute name="qRxLevMin"><dataType><long><range><min>-140</min><max>-44</max></range>
<resolution>2</resolution></long></dataType></attribute>
<attribute name="state"><dataType><enumRef name="AdminState"/></dataType></attribute>
<attribute name="pairs"><dataType><sequence><structRef name="Pair"/><maxLength>3</maxLength></sequence>
</dataType></attribute></class>
<relationship name="ENodeBFunction_to_EUtranCellFDD"><containment><parent><hasClass name="ENodeBFunction"/>
</parent><child><hasClass name="EUtranCellFDD"/><cardinality><min>0</min><max>12</max></cardinality></child>
</containment></relationship>
</mim></models>
"""

EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<bulkCmConfigDataFile xmlns="configData.xsd" xmlns:xn="genericNrm.xsd" xmlns:es="vsData.xsd">
<fileHeader fileFormatVersion="32.615 V4.5" vendorName="Ericsson"/>
<configData dnPrefix="Undefined"><xn:SubNetwork id="S"><xn:MeContext id="N1"><xn:ManagedElement id="N1">
<xn:VsDataContainer id="1"><xn:attributes><xn:vsDataType>vsDataEUtranCellFDD</xn:vsDataType>
<xn:vsDataFormatVersion>EricssonSpecificAttributes.17.28</xn:vsDataFormatVersion>
<es:vsDataEUtranCellFDD><es:qRxLevMin>-120</es:qRxLevMin><es:label>a &lt; b</es:label>
<es:pairs><es:lo>1</es:lo></es:pairs><es:pairs><es:lo>2</es:lo></es:pairs>
</es:vsDataEUtranCellFDD></xn:attributes></xn:VsDataContainer>
</xn:ManagedElement></xn:MeContext></xn:SubNetwork></configData>
<fileFooter dateTime="2026-12-04T00:00:00Z"/></bulkCmConfigDataFile>
"""

XXE = '<!DOCTYPE b [<!ENTITY a SYSTEM "file:///etc/passwd">]>'
HEAD = '<?xml version="1.0"?>\n<bulkCmConfigDataFile xmlns:xn="genericNrm.xsd"><configData>\n'
TAIL = "</configData></bulkCmConfigDataFile>\n"


def xml_cases(doc: str) -> dict[str, bytes]:
    """The malformed-XML cases of the issue, made from `doc`."""
    root_end = doc.rindex("</")
    return {
        "text_after_root": (doc + "garbage").encode(),
        "repeated_attribute": doc.replace('name="Lrat"', 'name="Lrat" name="B"')
        .replace('id="S"', 'id="S" id="T"')
        .encode(),
        "lt_in_attribute": doc.replace('name="Lrat"', 'name="L<rat"').replace('id="S"', 'id="S<T"').encode(),
        "raw_nul": (doc[:root_end] + "\x00" + doc[root_end:]).encode(),
        "escape_reference": (doc[:root_end] + "&#x1b;" + doc[root_end:]).encode(),
        "nonchar": (doc[:root_end] + "\ufffe" + doc[root_end:]).encode(),
        "utf16": doc.encode("utf-16"),
        "utf16_no_bom": doc.split("?>", 1)[1].encode("utf-16-le"),
        "utf8_bom": b"\xef\xbb\xbf" + doc.encode(),
        "not_utf8": doc.encode().replace(b"<", b"\xff<", 3),
        "truncated": doc.encode()[: len(doc) // 2],
        "cdata_end_in_text": (doc[:root_end] + "]]>" + doc[root_end:]).encode(),
        "internal_subset": doc.replace("<models>", '<!DOCTYPE models [<!ENTITY a "aa">]><models>', 1)
        .replace("<bulkCmConfigDataFile", XXE + "<bulkCmConfigDataFile", 1)
        .encode(),
        "entity_use": (doc[:root_end] + "&a;" + doc[root_end:]).encode(),
    }


def model_seeds() -> dict[str, bytes]:
    head = '<models><mim name="M" version="1" release="1">'
    return {
        "valid": MODEL.encode(),
        "nested_300": (head + "<a>" * 300 + "</a>" * 300 + "</mim></models>").encode(),
        "long_name": f'{head}<class name="{"C" * 600}"/></mim></models>'.encode(),
        "many_unnamed": (head + "<class><attribute/></class>" * 200 + "</mim></models>").encode(),
        **xml_cases(MODEL),
    }


def export_seeds() -> dict[str, bytes]:
    container = '<xn:VsDataContainer id="{i}"><xn:attributes><xn:vsDataType>vsDataX</xn:vsDataType></xn:attributes>'
    long_id = '<xn:SubNetwork id="' + "i" * 100_000 + '">' + '<xn:MeContext id="1"/>' * 700 + "</xn:SubNetwork>"
    return {
        "valid": EXPORT.encode(),
        "nested_unknown_300": (HEAD + "<xn:x>" * 300 + "</xn:x>" * 300 + TAIL).encode(),
        "nested_containers_300": (
            HEAD + "".join(container.format(i=i) for i in range(300)) + "</xn:VsDataContainer>" * 300 + TAIL
        ).encode(),
        "long_id_many_children": (HEAD + long_id + TAIL).encode(),
        "no_ids": (HEAD + "<xn:SubNetwork>" + "<xn:MeContext/>" * 50 + "</xn:SubNetwork>" + TAIL).encode(),
        "deep_members": (
            HEAD
            + '<xn:MeContext id="1"><xn:attributes><a>'
            + "<m>" * 200
            + "1"
            + "</m>" * 200
            + "</a></xn:attributes></xn:MeContext>"
            + TAIL
        ).encode(),
        **xml_cases(EXPORT),
    }


def rule_seeds() -> dict[str, bytes]:
    lst = "[" + ",".join(str(i) for i in range(100)) + "]"
    return {
        "simple": b"qRxLevMin >= -130",
        "when": b"when:has(self.qRxLevMin)\nqRxLevMin >= -130 && userLabel.startsWith('a')",
        "arithmetic": b"qRxLevMin * 3 + 9223372036854775807 - 1 / 0 % 2 > 0",
        "structs": b"pair.lo < 0 || list.exists(x, x == 1) || size(children.EUtranCellFDD) <= 6",
        "tree": b"parent.administrativeState == 'UNLOCKED' ? node.id != '' : fdn.contains(',')",
        "plus_1400": ("+".join(["qRxLevMin"] * 1400) + "+0>0").encode(),
        "plus_8000": ("+".join(["qRxLevMin"] * 8000) + "+0>0").encode(),
        "or_300": " || ".join(f"qRxLevMin == {i}" for i in range(300)).encode(),
        "brackets_70": ("(" * 70 + "1" + ")" * 70 + " > 0").encode(),
        "not_600": ("!" * 600 + "true").encode(),
        "ternary_200": ("".join(f"qRxLevMin == {i} ? {i} : " for i in range(200)) + "0").encode(),
        "member_600": ("pair" + ".lo" * 600).encode(),
        "comprehensions_3": f"{lst}.all(a, {lst}.all(b, {lst}.all(c, a + b + c >= 0)))".encode(),
        "bad_regex": b"userLabel.matches('(unclosed')",
        "regex_heavy": b"userLabel.matches('(a+)+$')",
        "unicode": "userLabel == 'é∑\u2028' && b'\\xff' != b''".encode(),
        "unterminated": b"'abc",
    }


TEMPLATE = """[
  {"$meta": {"version": "1", "plan_order": ["a", "b"]}},
  {"$vars": {"seen": [], "n": 1.50}},
  {"$custom": [{"name": "f", "args": ["mo"], "body": ["return mo.x"]}]},
  {"EUtranCellFDD": {"qRxLevMin": "-120", "@UeMeasControl-*": {"ReportConfigA5-{1,2}": {"a5Threshold1Rsrp": -115}},
    "EUtranFreqRelation-12": "__delete__", "pairs": [{"lo": "1"}, {"lo": "2"}], "ref": "",
    "$cond": {"if": "cell.technology == 'LTE'", "then": [{"x": "1"}], "else": "__ignore__"},
    "y": {"$switch": {"branches": [{"case": "True", "then": "2"}]}}, "z": {"$eval": "custom.f(mo)"}}},
  {"$plans": {"a": [{"ENodeBFunction": {"k": "__unset__"}}]}}
]
"""


def template_seeds() -> dict[str, bytes]:
    return {
        "valid": TEMPLATE.encode(),
        "deep": ("[" * 300 + "]" * 300).encode(),
        "deep_objects": ('[{"A": ' * 200 + "{}" + "}]" * 200).encode(),
        "braces": b'[{"Cell-' + b"{a,b}" * 40 + b'": {}}]',
        "bad_utf8": b'[{"Cell": {"x": "\xff\xfe"}}]'.replace(b"\\xff\\xfe", b"\xff\xfe"),
        "duplicate_keys": b'[{"Cell": {"x": "1", "x": "2", "$cond": {}, "$cond": {}}}]',
        "not_a_list": b'{"a": 1}',
        "trailing": b"[1,]",
        "numbers": b'[{"Cell": {"a": 1e400, "b": -0, "c": 123456789012345678901234567890}}]',
        "bad_keys": b'[{"cell Bad": {}, "Cell-": {}, "$nope": 1, "@": {}, "Cell-{a,{b}": {}}]',
        "empty": b"",
    }


def typed_seeds() -> dict[str, bytes]:
    return {
        "yaml": b"rtbfast: template/1\nmeta: {name: t}\nmos:\n  Cell:\n    a: 1.50\n    b: [1, 'x']\n",
        "toml": b'rtbfast = "template/1"\n[mos.Cell]\na = 1.50\nb = [1, "x"]\n[[fragments]]\nA = {}\n',
        "alias_bomb": b"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c, *c]\n",
        "deep_flow": b"[" * 400 + b"]" * 400,
        "deep_toml": b"a = " + b"[" * 400 + b"]" * 400 + b"\n",
        "tags": b"a: !!binary aGk=\nb: !custom x\nc: !!str 1\n",
        "documents": b"---\na: 1\n---\nb: 2\n",
        "dates": b"a = 1979-05-27T07:32:00Z\nb = inf\nc = nan\n",
        "numbers": b"a: 0x_1\nb: 1e99999\nc: -0.0\nd: .5e3\ne: 0o8\n",
        "keys": b"? [a]\n: 1\n? {b: 2}\n: 3\n",
        "tabs": b"a:\t1\n\tb: 2\n",
    }


# enm_writers: a plan in fields split at 0xFF (rust/src/fuzzing.rs, plan_of). Field 0 is the op
# of the first step (a byte) and its MO id; each other field a control byte, then up to three
# parts split at 0xFE (name, member, value). The control byte: kind | what << 3 | 0x40 (a
# flag) | 0x80 (a hostile name).
KIND = {"string": 0, None: 1, "integer": 2, "float": 3, "decimal": 4, "boolean": 5, "enum": 6, "moref": 7}
SCALAR, MEMBER, ITEM, STRUCTS, EMPTIED, UNSET, STEP, UNSET_SEQ = range(8)
SET, CREATE, DELETE, LOCK, UNLOCK = range(5)
FLAG, HOSTILE = 0x40, 0x80
ME = "SubNetwork=S,MeContext=N1,ManagedElement=N1"


def field(what: int, *parts: str | bytes, kind: str | None = "string", flags: int = 0) -> bytes:
    data = [p.encode() if isinstance(p, str) else p for p in parts]
    return bytes([KIND[kind] | what << 3 | flags]) + b"\xfe".join(data)


def new_step(op: int, mo_id: str, *, hostile_id: bool = False) -> bytes:
    """A field starting a step (its op in the kind's bits)."""
    return bytes([op | STEP << 3 | (FLAG if hostile_id else 0)]) + mo_id.encode()


def plan_seed(op: int, mo_id: str | bytes, *fields: bytes, hostile_id: bool = False) -> bytes:
    first = bytes([op | (FLAG if hostile_id else 0)]) + (mo_id.encode() if isinstance(mo_id, str) else mo_id)
    return b"\xff".join([first, *fields])


def value_seed(text: str, kind: str | None = "string") -> bytes:
    """`text` alone, in a list, in a struct and in a list of structs, in a set and a create."""
    return plan_seed(
        SET,
        "1",
        field(SCALAR, "userLabel", text, kind=kind),
        field(ITEM, "list", text, kind=kind),
        field(ITEM, "list", "b", kind=kind),
        field(MEMBER, "s", "m", text, kind=kind),
        field(STRUCTS, "ss", "m", text, kind=kind),
        field(STRUCTS, "ss", "m", "c", kind=kind, flags=FLAG),
        new_step(CREATE, "2"),
        field(SCALAR, "userLabel", text, kind=kind),
    )


CHARACTER_CLASSES = {
    "quotes": "a\"b'c",
    "backslash": "a\\b",
    "line_feed": "a\ncmedit delete SubNetwork=S -ALL",
    "carriage_return": "a\r\nb",
    "vt_ff": "a\x0bb\x0cc",
    "fs_gs_rs": "a\x1cb\x1dc\x1ed",
    "nel": "a\x85b",
    "line_paragraph_separators": "a\u2028b\u2029c",
    "c0": "a\x00b\x01c\x1bd",
    "c1": "a\x80b\x9fc",
    "del": "a\x7fb",
    "format": "a\u202eb\u200bc\u2066d\ufeffe\u00adf",
    "tab": "a\tb",
    "space": " a b ",
    "separators": ",;=:()[]{}",
    "star_dash": "-ALL*",
    "shell": "$HOME|x<y>z#`w`",
    "xml": "]]>&amp;<x/>&#13;",
    "non_ascii": "Zürich 中 😀",
    "xml_nonchar": "a\ufffeb\uffff",
    "null": "null",
    "empty": "",
    "long": "x" * 5000 + '"',
}


def writer_seeds() -> dict[str, bytes]:
    fdn = f"{ME},ENodeBFunction=1,SectorCarrier=2"
    seeds = {
        "valid": plan_seed(
            SET,
            "C1",
            field(SCALAR, "userLabel", "North, 3"),
            field(SCALAR, "cellRange", "KM_100", kind="enum"),
            field(SCALAR, "flag", "TRUE", kind="boolean"),
            field(MEMBER, "plmn", "mcc", "240", kind="integer"),
            field(MEMBER, "plmn", "mnc", "01"),
            field(ITEM, "sectorCarrierRef", fdn, kind="moref"),
            field(EMPTIED, "emptied", kind="integer"),
            field(UNSET, "cleared"),
            new_step(CREATE, "9"),
            field(SCALAR, "noOfTxAntennas", "2", kind="integer"),
            field(STRUCTS, "additionalPlmnList", "mcc", "240", kind="integer"),
            field(STRUCTS, "additionalPlmnList", "mnc", "1", kind="integer"),
            field(STRUCTS, "additionalPlmnList", "mcc", "208", kind="integer", flags=FLAG),
            new_step(LOCK, "C2"),
            new_step(UNLOCK, "C3"),
        ),
        "every_op": plan_seed(DELETE, "1", new_step(SET, "2"), new_step(CREATE, "3"), new_step(LOCK, "4")),
        "hostile_ids": plan_seed(
            SET,
            "9 -ALL",
            new_step(DELETE, "x\ncmedit delete SubNetwork=S", hostile_id=True),
            new_step(CREATE, "x,B=c", hostile_id=True),
            new_step(CREATE, "null"),
            hostile_id=True,
        ),
        "id_colon": plan_seed(CREATE, "fe80::1"),
        "top_classes_in_ids": plan_seed(
            SET,
            "x,MeContext=y",
            field(SCALAR, "userLabel", "a & b"),
            new_step(CREATE, "x,ManagedElement=y,Z=1", hostile_id=True),
            field(MEMBER, "s", "m", "1", kind="integer"),
            new_step(DELETE, "x,SubNetwork=y", hostile_id=True),
            hostile_id=True,
        ),
        "hostile_names": plan_seed(
            SET,
            "1",
            field(SCALAR, "user Label", "x", flags=HOSTILE),
            field(MEMBER, "s", "m.é", "x", flags=HOSTILE),
            field(SCALAR, "a=b", "x", flags=HOSTILE),
        ),
        "kinds": plan_seed(
            SET,
            "1",
            *(
                field(SCALAR, f"a{i}", text, kind=kind)
                for i, (kind, text) in enumerate(
                    [
                        ("integer", "-130"),
                        ("integer", "1,b=2"),
                        ("float", "1.5e-3"),
                        ("float", "NaN"),
                        ("boolean", "yes"),
                        ("enum", "LOCKED -ALL"),
                        ("enum", "NULL"),
                        ("moref", 'A=1",x="'),
                        ("moref", ""),
                        (None, "plain"),
                    ]
                )
            ),
        ),
        "deep_member_path": plan_seed(SET, "1", field(MEMBER, "s", "a.b.c", "1", kind="integer")),
    }
    seeds.update({f"class_{name}": value_seed(text) for name, text in CHARACTER_CLASSES.items()})
    seeds.update({f"kind_{kind}": value_seed("x y", kind) for kind in KIND if kind})
    return seeds


def writer_regressions() -> dict[str, bytes]:
    """Inputs the writers once got wrong (found by tests/test_dialect_properties.py)."""
    fdn = f"{ME},ENodeBFunction=1,QciTable=1,QciProfile=2"
    return {
        # items of an attribute the catalog does not know were written without brackets
        "unknown_sequence": plan_seed(
            SET, "1", field(ITEM, "rel", "x", flags=FLAG), field(ITEM, "rel", "y", flags=FLAG)
        ),
        "unknown_struct_sequence": plan_seed(
            SET,
            "1",
            field(STRUCTS, "rel", "a", "1", kind=None, flags=FLAG),
            field(STRUCTS, "rel", "a", "2", kind=None, flags=FLAG),
        ),
        # a created MO's id `null` was written bare, read as unset
        "create_id_null": plan_seed(CREATE, "null"),
        # an enum `null` was written bare, read as unset
        "enum_null": plan_seed(SET, "1", field(SCALAR, "state", "null", kind="enum")),
        # moshell wrote a moRef inside a struct as an LDN, read as more members
        "moshell_moref_in_struct": plan_seed(SET, "1", field(MEMBER, "s", "ref", fdn, kind="moref")),
    }


def write(folder: Path, seeds: dict[str, bytes], prefix: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        (folder / f"{prefix}-{name}").write_bytes(data)
    print(f"{folder}: {len(seeds)} inputs")


def main() -> None:
    for target, seeds in (
        ("mom_reader", model_seeds()),
        ("bulkcm_reader", export_seeds()),
        ("cel_rule", rule_seeds()),
        ("template_reader", template_seeds()),
        ("typed_document", typed_seeds()),
        ("enm_writers", writer_seeds()),
    ):
        write(CORPUS / target, seeds, "seed")
    write(HERE / "regressions" / "enm_writers", writer_regressions(), "found")


if __name__ == "__main__":
    main()
