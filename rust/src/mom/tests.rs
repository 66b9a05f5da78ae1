use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type};
use arrow_array::{Array, RecordBatch};

use super::*;
use crate::xml::testutil::temp_file;

fn read(name: &str, xml: &str) -> MomResult {
    read_mom(&temp_file(name, xml.as_bytes()), None).unwrap()
}

/// The document as ISO-8859-1 bytes (every character below U+0100).
fn read_latin1(name: &str, xml: &str) -> MomResult {
    let bytes: Vec<u8> = xml.chars().map(|c| c as u32 as u8).collect();
    read_mom(&temp_file(name, &bytes), None).unwrap()
}

fn table<'a>(r: &'a MomResult, name: &str) -> &'a RecordBatch {
    &r.tables.iter().find(|t| t.name == name).unwrap().batch
}

fn col(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    b.column_by_name(name).unwrap().as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

fn row_of(b: &RecordBatch, key: &str, value: &str) -> usize {
    col(b, key).iter().position(|v| v.as_deref() == Some(value)).unwrap()
}

fn flag(b: &RecordBatch, name: &str, row: usize) -> bool {
    b.column_by_name(name).unwrap().as_boolean().value(row)
}

fn ranges(b: &RecordBatch, row: usize) -> Vec<(Option<i128>, Option<i128>)> {
    let list = b.column_by_name("ranges").unwrap().as_list::<i32>();
    if list.is_null(row) {
        return vec![];
    }
    let items = list.value(row);
    let s = items.as_struct();
    let lo = s.column(0).as_primitive::<Decimal128Type>();
    let hi = s.column(1).as_primitive::<Decimal128Type>();
    let e = 10i128.pow(18);
    (0..s.len())
        .map(|i| {
            (
                if lo.is_null(i) { None } else { Some(lo.value(i) / e) },
                if hi.is_null(i) { None } else { Some(hi.value(i) / e) },
            )
        })
        .collect()
}

const CPP: &str = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>
<!DOCTYPE models SYSTEM \"mp.dtd\">
<!-- generated from RSD -->
<models>
 <dtdVersion>D</dtdVersion>
 <momMetaData><momTitle>-</momTitle></momMetaData>
 <mim name=\"NODE_A\" version=\"1\" release=\"2\" revision=\"R1\">
  <enum name=\"AdmState\">
   <enumMember name=\"LOCKED\"><value>0</value></enumMember>
   <enumMember name=\"UNLOCKED\"><value>1</value></enumMember>
   <enumMember name=\"OLD\"><value>2</value><deprecated>Since L11B. Planned to be removed.</deprecated></enumMember>
  </enum>
  <struct name=\"Plmn\">
   <structMember name=\"mcc\"><long><range><min>0</min><max>999</max></range></long></structMember>
   <structMember name=\"mnc\"><sequence><long/><maxLength>3</maxLength></sequence></structMember>
  </struct>
  <struct name=\"Choice\"><isExclusive/><structMember name=\"a\"><boolean/></structMember></struct>
  <exception name=\"Ex\"><exceptionParameter name=\"p\"><dataType><long/></dataType></exceptionParameter></exception>
  <class name=\"Cell\">
   <description>A cell café &apos;x&apos;</description>
   <attribute name=\"CellId\"><mandatory></mandatory><restricted /><dataType><string/></dataType></attribute>
   <attribute name=\"power\">
    <dataType><long><range><min>-300</min><max>-10</max><min>0</min><max>300</max></range>
     <defaultValue>-10</defaultValue><unit>dBm</unit><multiplicationFactor>0.1</multiplicationFactor><resolution>2</resolution></long></dataType>
    <disturbances>Changes may affect traffic.</disturbances><takesEffect>Object unlocked.</takesEffect>
    <dependencies>Only when locked.</dependencies><precondition>Cell LOCKED.</precondition>
   </attribute>
   <attribute name=\"state\"><dataType><enumRef name=\"AdmState\"><defaultValue>LOCKED</defaultValue></enumRef></dataType></attribute>
   <attribute name=\"plmns\"><dataType><sequence><structRef name=\"Plmn\"/><minLength>1</minLength><maxLength>6</maxLength><nonUnique/><ordered/></sequence></dataType></attribute>
   <attribute name=\"flags\"><dataType><sequence><boolean/><seqDefaultValue><defaultValue>true</defaultValue><defaultValue>false</defaultValue></seqDefaultValue></sequence></dataType></attribute>
   <attribute name=\"big\"><dataType><longlong><range><min>-9223372036854775808</min><max>9223372036854775807</max></range></longlong></dataType></attribute>
   <attribute name=\"ref\"><dataType><moRef name=\"Nowhere\"/></dataType></attribute>
   <attribute name=\"pmCount\"><readOnly></readOnly><nonPersistent></nonPersistent><dataType><long/></dataType><counterType>ACC</counterType></attribute>
   <action name=\"reset\"><returnType><void/></returnType></action>
  </class>
  <class name=\"Root\"><systemCreated></systemCreated></class>
  <relationship name=\"Root_to_Cell\"><containment><parent><hasClass name=\"Root\"/></parent>
   <child><hasClass name=\"Cell\"/><cardinality><min>0</min></cardinality></child></containment></relationship>
 </mim>
</models>
";

#[test]
fn cpp_flavour() {
    let r = read_latin1("cpp.xml", CPP);
    let a = table(&r, "attributes");
    assert_eq!(a.num_rows(), 8);
    let id = row_of(a, "attribute", "CellId");
    assert!(flag(a, "mandatory", id) && flag(a, "restricted", id) && flag(a, "key", id));
    let p = row_of(a, "attribute", "power");
    assert_eq!(ranges(a, p), vec![(Some(-300), Some(-10)), (Some(0), Some(300))]);
    assert_eq!(col(a, "default")[p].as_deref(), Some("-10"));
    assert_eq!(col(a, "unit")[p].as_deref(), Some("dBm"));
    assert_eq!(col(a, "multiplication_factor")[p].as_deref(), Some("0.1"));
    assert_eq!(col(a, "takes_effect")[p].as_deref(), Some("Object unlocked."));
    assert_eq!(col(a, "precondition")[p].as_deref(), Some("Cell LOCKED."));
    assert_eq!(col(a, "kind")[p].as_deref(), Some("integer"));
    let s = row_of(a, "attribute", "state");
    assert_eq!(col(a, "kind")[s].as_deref(), Some("enum"));
    assert_eq!(col(a, "type_ref_mim")[s].as_deref(), Some("NODE_A"));
    let pl = row_of(a, "attribute", "plmns");
    assert!(flag(a, "is_sequence", pl) && !flag(a, "seq_unique", pl) && flag(a, "seq_ordered", pl));
    assert_eq!(a.column_by_name("seq_max").unwrap().as_primitive::<Int64Type>().value(pl), 6);
    let f = row_of(a, "attribute", "flags");
    let d = a.column_by_name("seq_default").unwrap().as_list::<i32>().value(f);
    assert_eq!(d.as_string::<i32>().iter().flatten().collect::<Vec<_>>(), vec!["true", "false"]);
    let b = row_of(a, "attribute", "big");
    assert_eq!(ranges(a, b), vec![(Some(i64::MIN as i128), Some(i64::MAX as i128))]);
    let pm = row_of(a, "attribute", "pmCount");
    assert!(flag(a, "is_counter", pm) && flag(a, "read_only", pm));
    let c = table(&r, "classes");
    assert_eq!(col(c, "description")[0].as_deref(), Some("A cell café 'x'"));
    assert!(flag(c, "system_created", row_of(c, "class", "Root")));
    let em = table(&r, "enum_members");
    assert_eq!(em.num_rows(), 3);
    assert_eq!(col(em, "lifecycle")[2].as_deref(), Some("deprecated"));
    assert_eq!(col(em, "lifecycle_text")[2].as_deref(), Some("Since L11B. Planned to be removed."));
    let sm = table(&r, "struct_members");
    assert_eq!(sm.num_rows(), 3);
    assert!(flag(table(&r, "structs"), "exclusive", 1));
    let k = table(&r, "containment");
    assert_eq!(col(k, "parent")[0].as_deref(), Some("Root"));
    assert!(k.column_by_name("card_max").unwrap().is_null(0));
    assert_eq!(r.skipped.get("action"), Some(&1));
    assert_eq!(r.skipped.get("exception"), Some(&1));
    // the dangling moRef is reported with its place
    let w = r.warnings.iter().find(|w| w.message.contains("Nowhere")).unwrap();
    assert!(w.location.element.contains("attribute[ref]"), "{w:?}");
    assert!(w.location.line > 1);
}

const ECIM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Copyright Ericsson -->
<!DOCTYPE models SYSTEM "mp.dtd">
<models>
 <dtdVersion>G</dtdVersion>
 <mim name="Top" version="10" release="1" correction="2" namespace="urn:com:ericsson:ecim:Top" namespacePrefix="top">
  <derivedDataType name="Base"><baseType><uint64>
    <range><min>0</min><max>18446744073709551615</max></range>
    <ranges><subrange><min>0</min><max>18446744073709551615</max></subrange></ranges>
    <defaultValue>5</defaultValue></uint64></baseType></derivedDataType>
  <derivedDataType name="Name"><baseType><string>
    <lengthRange><min>1</min><max>64</max></lengthRange>
    <stringLength><subrange><min>1</min><max>64</max></subrange></stringLength>
    <validValues>[A-Za-z]+</validValues></string></baseType></derivedDataType>
  <class name="ManagedElement"><root/>
   <attribute name="managedElementId"><key/><dataType><string/></dataType></attribute>
  </class>
 </mim>
 <mim name="App" version="1" release="0">
  <derivedDataType name="Chained"><baseType><derivedDataTypeRef name="Base"><mimName>Top</mimName></derivedDataTypeRef></baseType></derivedDataType>
  <class name="Fn">
   <attribute name="count"><dataType><derivedDataTypeRef name="Chained"><defaultValue>7</defaultValue><mimName>App</mimName></derivedDataTypeRef></dataType></attribute>
   <attribute name="names"><dataType><sequence><derivedDataTypeRef name="Name"><mimName>Top</mimName></derivedDataTypeRef><maxLength>4</maxLength></sequence></dataType></attribute>
   <attribute name="money"><dataType><decimal64><fractionDigits>2</fractionDigits><range><min>0.05</min><max>99.95</max></range></decimal64></dataType></attribute>
   <attribute name="addr"><dataType><string><ipV4Address/></string></dataType></attribute>
   <attribute name="lost"><dataType><derivedDataTypeRef name="Missing"/></dataType></attribute>
  </class>
 </mim>
 <interMim>
  <relationship name="ManagedElement_to_Fn"><containment>
   <parent><hasClass name="ManagedElement"><mimName>Top</mimName></hasClass></parent>
   <child><hasClass name="Fn"><mimName>App</mimName></hasClass><cardinality><min>1</min><max>1</max></cardinality></child>
  </containment></relationship>
 </interMim>
</models>
"#;

#[test]
fn ecim_flavour_resolves_across_mims() {
    let r = read("ecim.xml", ECIM);
    let m = table(&r, "mims");
    assert_eq!(col(m, "mim"), vec![Some("Top".into()), Some("App".into())]);
    assert_eq!(col(m, "correction")[0].as_deref(), Some("2"));
    assert_eq!(col(m, "namespace")[0].as_deref(), Some("urn:com:ericsson:ecim:Top"));
    let a = table(&r, "attributes");
    let c = row_of(a, "attribute", "count");
    assert_eq!(col(a, "base_type")[c].as_deref(), Some("uint64"));
    assert_eq!(col(a, "derived_type")[c].as_deref(), Some("Chained"));
    assert_eq!(col(a, "default")[c].as_deref(), Some("7"));
    // written twice in the file, kept once
    assert_eq!(ranges(a, c), vec![(Some(0), Some(18446744073709551615))]);
    let n = row_of(a, "attribute", "names");
    assert!(flag(a, "is_sequence", n));
    assert_eq!(col(a, "pattern")[n].as_deref(), Some("[A-Za-z]+"));
    assert_eq!(a.column_by_name("length_max").unwrap().as_primitive::<Int64Type>().value(n), 64);
    let lr = a.column_by_name("length_ranges").unwrap().as_list::<i32>().value(n);
    assert_eq!(lr.len(), 1);
    let money = row_of(a, "attribute", "money");
    assert_eq!(col(a, "kind")[money].as_deref(), Some("decimal"));
    let lo = a.column_by_name("ranges").unwrap().as_list::<i32>().value(money);
    assert_eq!(lo.as_struct().column(0).as_primitive::<Decimal128Type>().value(0), 5 * 10i128.pow(16));
    assert_eq!(col(a, "format")[row_of(a, "attribute", "addr")].as_deref(), Some("ipV4Address"));
    assert!(flag(a, "key", row_of(a, "attribute", "managedElementId")));
    assert_eq!(col(a, "kind")[row_of(a, "attribute", "lost")].as_deref(), Some("unknown"));
    assert!(r.warnings.iter().any(|w| w.message.contains("unresolved derivedDataTypeRef \"Missing\"")));
    let k = table(&r, "containment");
    assert_eq!(col(k, "parent_mim")[0].as_deref(), Some("Top"));
    assert_eq!(col(k, "child_mim")[0].as_deref(), Some("App"));
    assert!(flag(table(&r, "classes"), "root", 0));
    let d = table(&r, "derived_types");
    assert_eq!(d.num_rows(), 3);
    assert_eq!(r.dtd_version.as_deref(), Some("G"));
}

#[test]
fn bad_numbers_warn_and_bad_roots_fail() {
    let r = read(
        "badnum.xml",
        r#"<models><mim name="M" version="1" release="1"><class name="C"><attribute name="a"><dataType><long><range><min>zero</min><max>10</max></range></long></dataType></attribute></class></mim></models>"#,
    );
    let w = &r.warnings[0];
    assert!(w.message.contains("\"zero\" is not a plain number"), "{w:?}");
    assert!(w.location.element.ends_with("range/min"), "{w:?}");
    let path = temp_file("root.xml", b"<bulkCmConfigDataFile/>");
    assert_eq!(read_mom(&path, None).err().unwrap().kind(), crate::ErrorKind::Root);
}
