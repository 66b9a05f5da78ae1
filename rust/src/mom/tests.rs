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

fn table(r: &MomResult, name: &str) -> RecordBatch {
    r.tables.iter().find(|t| t.name == name).unwrap().concat().unwrap()
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
    let a = &table(&r, "attributes");
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
    let c = &table(&r, "classes");
    assert_eq!(col(c, "description")[0].as_deref(), Some("A cell café 'x'"));
    assert!(flag(c, "system_created", row_of(c, "class", "Root")));
    let em = &table(&r, "enum_members");
    assert_eq!(em.num_rows(), 3);
    assert_eq!(col(em, "lifecycle")[2].as_deref(), Some("deprecated"));
    assert_eq!(col(em, "lifecycle_text")[2].as_deref(), Some("Since L11B. Planned to be removed."));
    let sm = &table(&r, "struct_members");
    assert_eq!(sm.num_rows(), 3);
    assert!(flag(&table(&r, "structs"), "exclusive", 1));
    let k = &table(&r, "containment");
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
    let m = &table(&r, "mims");
    assert_eq!(col(m, "mim"), vec![Some("Top".into()), Some("App".into())]);
    assert_eq!(col(m, "correction")[0].as_deref(), Some("2"));
    assert_eq!(col(m, "namespace")[0].as_deref(), Some("urn:com:ericsson:ecim:Top"));
    let a = &table(&r, "attributes");
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
    let k = &table(&r, "containment");
    assert_eq!(col(k, "parent_mim")[0].as_deref(), Some("Top"));
    assert_eq!(col(k, "child_mim")[0].as_deref(), Some("App"));
    assert!(flag(&table(&r, "classes"), "root", 0));
    let d = &table(&r, "derived_types");
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

/// A model of about `classes` × 3 KB in two MIMs: enums and a derived type in the first, used
/// by classes in both, a mim description, a forward reference, and `trap` comments holding a
/// `<class ` start tag before every class when asked for.
fn big_model(classes: usize, trap: bool) -> String {
    let mut x =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE models SYSTEM \"mp.dtd\">\n<models>\n");
    let filler = "Lorem ipsum dolor sit amet, &amp; consectetur. ".repeat(20);
    for (m, mim) in ["MimA", "MimB"].iter().enumerate() {
        x += &format!("<mim name=\"{mim}\" version=\"1\" release=\"0\">\n<description>About {mim}</description>\n");
        if m == 0 {
            x += "<enum name=\"State\"><enumMember name=\"ON\"><value>0</value></enumMember>\
                  <enumMember name=\"OFF\"><value>1</value></enumMember></enum>\n";
            x += "<derivedDataType name=\"Percent\"><baseType><long><range><min>0</min><max>100</max></range>\
                  </long></baseType></derivedDataType>\n";
        }
        for c in 0..classes / 2 {
            if trap {
                x += "<!-- was <class name=\"Old\"> before -->\n";
            }
            x += &format!("<class name=\"C{m}x{c}\">\n<description>{filler}</description>\n");
            for a in 0..4 {
                let ty = match a {
                    0 => "<enumRef name=\"State\"><mimName>MimA</mimName></enumRef>".to_string(),
                    1 => "<derivedDataTypeRef name=\"Percent\"><mimName>MimA</mimName></derivedDataTypeRef>".into(),
                    2 => "<structRef name=\"Later\"/>".into(),
                    _ => format!("<long><range><min>{c}</min><max>{}</max></range></long>", c + 10),
                };
                x += &format!(
                    "<attribute name=\"a{a}\"><description>{filler}</description><dataType>{ty}</dataType></attribute>\n"
                );
            }
            x += "</class>\n";
        }
        x += "<struct name=\"Later\"><structMember name=\"m\"><long/></structMember></struct>\n</mim>\n";
    }
    x += "</models>\n";
    x
}

fn all_rows(r: &MomResult) -> Vec<(&'static str, RecordBatch)> {
    r.tables.iter().map(|t| (t.name, t.concat().unwrap())).collect()
}

#[test]
fn parts_read_on_threads_equal_one_sequential_read() {
    let path = temp_file("big.xml", big_model(1200, false).as_bytes());
    assert!(std::fs::metadata(&path).unwrap().len() > 3 * crate::xml::split::MIN_SPAN);
    let one = read_mom_with(&path, None, 1).unwrap();
    let three = read_mom_with(&path, None, 3).unwrap();
    assert!(three.tables.iter().filter(|t| t.name != "mims").all(|t| t.batches.len() == 3));
    assert_eq!(all_rows(&one), all_rows(&three));
    assert_eq!(one.warnings, three.warnings);
    let mims = table(&three, "mims");
    assert_eq!(col(&mims, "description"), [Some("About MimA".to_string()), Some("About MimB".to_string())]);
    let a = table(&three, "attributes");
    assert_eq!(a.num_rows(), 1200 * 4);
    // the struct defined after its users (a forward reference) resolved in every part
    let refs = col(&a, "type_ref_mim");
    let names = col(&a, "type_ref");
    for (name, mim) in names.iter().zip(&refs) {
        if name.as_deref() == Some("Later") {
            assert!(mim.is_some(), "unresolved forward reference");
        }
    }
}

#[test]
fn a_cut_inside_a_comment_falls_back_to_one_sequential_read() {
    let path = temp_file("trap.xml", big_model(1200, true).as_bytes());
    let one = read_mom_with(&path, None, 1).unwrap();
    let three = read_mom_with(&path, None, 3).unwrap();
    // every candidate cut lies in a comment: the parts read proves it, and the file is read once more
    assert!(three.tables.iter().all(|t| t.batches.len() == 1));
    assert_eq!(all_rows(&one), all_rows(&three));
}

#[test]
fn a_broken_part_reports_the_same_located_error_as_a_sequential_read() {
    let mut xml = big_model(1200, false);
    let at = xml.len() * 2 / 3;
    let at = at + xml[at..].find("<attribute").unwrap();
    xml.insert_str(at, "<attribute name=\"bad\"><description>x</descr></attribute>");
    let path = temp_file("broken.xml", xml.as_bytes());
    let one = read_mom_with(&path, None, 1).err().unwrap();
    let three = read_mom_with(&path, None, 3).err().unwrap();
    assert_eq!(one.to_string(), three.to_string());
    assert!(one.location().line > 1 && one.location().element.contains("attribute[bad]"), "{one}");
}
