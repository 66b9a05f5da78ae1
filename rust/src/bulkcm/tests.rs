use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;

use super::*;
use crate::xml::testutil::temp_file;

fn strings(batch: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = batch.column_by_name(col).unwrap();
    if let Some(d) = a.as_any_dictionary_opt() {
        let values = d.values().as_string::<i32>().clone();
        let keys = a.as_dictionary::<Int32Type>().keys().clone();
        return keys.iter().map(|k| k.map(|k| values.value(k as usize).to_string())).collect();
    }
    a.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

const EXPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bulkCmConfigDataFile xmlns:es="EricssonSpecificAttributes.17.28.xsd" xmlns:un="utranNrm.xsd"
    xmlns:xn="genericNrm.xsd" xmlns="configData.xsd">
  <fileHeader fileFormatVersion="32.615 V4.5" vendorName="Ericsson"/>
  <configData dnPrefix="Undefined">
    <xn:SubNetwork id="ROOT">
      <xn:meContext id="N1">
        <xn:ManagedElement id="N1">
          <xn:VsDataContainer id="1">
            <xn:attributes>
              <xn:vsDataType>vsDataENodeBFunction</xn:vsDataType>
              <xn:vsDataFormatVersion>EricssonSpecificAttributes.17.28</xn:vsDataFormatVersion>
              <es:vsDataENodeBFunction><es:eNBId>42</es:eNBId></es:vsDataENodeBFunction>
            </xn:attributes>
            <xn:VsDataContainer id="C1" modifier="create">
              <xn:attributes>
                <xn:vsDataType>vsDataEUtranCellFDD</xn:vsDataType>
                <xn:vsDataFormatVersion>EricssonSpecificAttributes.17.28</xn:vsDataFormatVersion>
                <es:vsDataEUtranCellFDD>
                  <es:administrativeState>LOCKED</es:administrativeState>
                  <es:userLabel>a &amp; b</es:userLabel>
                  <es:empty></es:empty>
                  <es:spi>1</es:spi><es:spi>7</es:spi>
                  <es:plmn><es:mcc>240</es:mcc><es:mnc>01</es:mnc></es:plmn>
                  <es:plmn><es:mcc>241</es:mcc><es:mnc>02</es:mnc></es:plmn>
                </es:vsDataEUtranCellFDD>
              </xn:attributes>
            </xn:VsDataContainer>
          </xn:VsDataContainer>
          <un:UtranCell id="U1">
            <un:attributes><un:localCellId>7</un:localCellId></un:attributes>
            <xn:VsDataContainer id="U1">
              <xn:attributes>
                <xn:vsDataType>vsDataUtranCell</xn:vsDataType>
                <xn:vsDataFormatVersion>EricssonSpecificAttributes.12.26</xn:vsDataFormatVersion>
                <es:vsDataUtranCell><es:tCell>2</es:tCell></es:vsDataUtranCell>
              </xn:attributes>
            </xn:VsDataContainer>
          </un:UtranCell>
        </xn:ManagedElement>
      </xn:meContext>
    </xn:SubNetwork>
  </configData>
  <fileFooter dateTime="2024-01-01T00:00:00Z"/>
</bulkCmConfigDataFile>
"#;

#[test]
fn mos_have_fdns_from_the_nesting() {
    let path = temp_file("export.xml", EXPORT.as_bytes());
    let r = read_bulkcm(&path, None).unwrap();
    let mos = &table(&r.tables, "mos").unwrap();
    let fdns: Vec<String> = strings(mos, "fdn").into_iter().map(Option::unwrap).collect();
    assert_eq!(
        fdns,
        vec![
            "SubNetwork=ROOT",
            "SubNetwork=ROOT,MeContext=N1",
            "SubNetwork=ROOT,MeContext=N1,ManagedElement=N1",
            "SubNetwork=ROOT,MeContext=N1,ManagedElement=N1,ENodeBFunction=1",
            "SubNetwork=ROOT,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,EUtranCellFDD=C1",
            "SubNetwork=ROOT,MeContext=N1,ManagedElement=N1,UtranCell=U1",
        ]
    );
    assert_eq!(strings(mos, "modifier")[4].as_deref(), Some("create"));
    assert_eq!(strings(mos, "vs_data_type")[5].as_deref(), Some("vsDataUtranCell"));
    assert_eq!(strings(mos, "parent_fdn")[4].as_deref(), Some(fdns[3].as_str()));
    assert_eq!(r.header.get("fileFormatVersion").map(String::as_str), Some("32.615 V4.5"));
    assert_eq!(r.header.get("dateTime").map(String::as_str), Some("2024-01-01T00:00:00Z"));
}

#[test]
fn values_keep_text_members_and_indexes() {
    let path = temp_file("export2.xml", EXPORT.as_bytes());
    let r = read_bulkcm(&path, None).unwrap();
    let v = &table(&r.tables, "values").unwrap();
    let attr = strings(v, "attribute");
    let member = strings(v, "member");
    let value = strings(v, "value");
    let index = v.column_by_name("index").unwrap().as_primitive::<Int32Type>().clone();
    let rows: Vec<(String, Option<String>, i32, String)> = (0..v.num_rows())
        .map(|i| (attr[i].clone().unwrap(), member[i].clone(), index.value(i), value[i].clone().unwrap()))
        .collect();
    let find = |a: &str| rows.iter().filter(|r| r.0 == a).cloned().collect::<Vec<_>>();
    assert_eq!(find("userLabel")[0].3, "a & b");
    assert_eq!(find("empty")[0].3, "");
    assert_eq!(find("spi").iter().map(|r| (r.2, r.3.as_str())).collect::<Vec<_>>(), vec![(0, "1"), (1, "7")]);
    let plmn = find("plmn");
    assert_eq!(plmn.len(), 4);
    assert_eq!(plmn[3], ("plmn".into(), Some("mnc".into()), 1, "02".into()));
    // The vendor extension of UtranCell=U1 lands on the UtranCell row itself.
    let fdn = strings(v, "fdn");
    let tcell = attr.iter().position(|a| a.as_deref() == Some("tCell")).unwrap();
    assert_eq!(fdn[tcell].as_deref(), Some("SubNetwork=ROOT,MeContext=N1,ManagedElement=N1,UtranCell=U1"));
    assert_eq!(v.num_rows(), 12);
}

#[test]
fn inferred_kinds() {
    let path = temp_file("export3.xml", EXPORT.as_bytes());
    let r = read_bulkcm(&path, None).unwrap();
    let o = &table(&r.tables, "observed_attributes").unwrap();
    let attr = strings(o, "attribute");
    let kind = strings(o, "kind");
    let seq = o.column_by_name("is_sequence").unwrap().as_boolean().clone();
    let at = |a: &str| attr.iter().position(|x| x.as_deref() == Some(a)).unwrap();
    assert_eq!(kind[at("spi")].as_deref(), Some("integer"));
    assert!(seq.value(at("spi")));
    assert_eq!(kind[at("administrativeState")].as_deref(), Some("string"));
    let t = &table(&r.tables, "vs_types").unwrap();
    assert_eq!(
        strings(t, "class"),
        vec![Some("ENodeBFunction".into()), Some("EUtranCellFDD".into()), Some("UtranCell".into())]
    );
}

#[test]
fn wrong_root_and_truncation_are_errors() {
    let path = temp_file("wrong.xml", b"<models><mim name=\"x\" version=\"1\" release=\"1\"/></models>");
    let err = read_bulkcm(&path, None).err().unwrap();
    assert_eq!(err.kind(), crate::ErrorKind::Root);
    let cut = &EXPORT.as_bytes()[..EXPORT.len() / 2];
    let path = temp_file("cut.xml", cut);
    let err = read_bulkcm(&path, None).err().unwrap();
    assert_eq!(err.kind(), crate::ErrorKind::Syntax);
    assert!(err.location().line > 1);
}

/// An export of `nodes` copies of the node in [`EXPORT`] (as `xn:MeContext`), under one
/// SubNetwork, or spread over two SubNetworks with `two_subnetworks`.
fn big_export(nodes: usize, two_subnetworks: bool) -> String {
    let start = EXPORT.find("      <xn:meContext").unwrap();
    let end = EXPORT.find("    </xn:SubNetwork>").unwrap();
    let node = EXPORT[start..end].replace("meContext", "MeContext");
    let mut x = EXPORT[..start].to_string();
    x += "      <xn:attributes><xn:userLabel>root</xn:userLabel></xn:attributes>\n";
    for i in 0..nodes {
        if two_subnetworks && i == nodes / 2 {
            x += "    </xn:SubNetwork>\n    <xn:SubNetwork id=\"SECOND\">\n";
        }
        x += &node.replace("\"N1\"", &format!("\"N{i}\"")).replace("\"C1\"", &format!("\"C{i}\""));
    }
    x += &EXPORT[end..];
    x
}

fn ints(batch: &RecordBatch, col: &str) -> Vec<Option<i32>> {
    batch.column_by_name(col).unwrap().as_primitive::<Int32Type>().iter().collect()
}

/// Every column of every table as text or numbers, whatever the batches and dictionaries.
fn logical(r: &BulkCmResult) -> Vec<(String, Vec<Option<String>>)> {
    let mut out = Vec::new();
    for t in &r.tables {
        let b = t.concat().unwrap();
        for field in b.schema().fields() {
            let name = field.name();
            let values = match field.data_type() {
                DataType::Int32 => ints(&b, name).into_iter().map(|v| v.map(|v| v.to_string())).collect(),
                DataType::Int64 => b
                    .column_by_name(name)
                    .unwrap()
                    .as_primitive::<arrow_array::types::Int64Type>()
                    .iter()
                    .map(|v| v.map(|v| v.to_string()))
                    .collect(),
                DataType::Boolean => {
                    b.column_by_name(name).unwrap().as_boolean().iter().map(|v| v.map(|v| v.to_string())).collect()
                }
                _ => strings(&b, name),
            };
            out.push((format!("{}.{name}", t.name), values));
        }
    }
    out
}

#[test]
fn parts_read_on_threads_equal_one_sequential_read() {
    let path = temp_file("big-export.xml", big_export(2500, false).as_bytes());
    assert!(std::fs::metadata(&path).unwrap().len() > 3 * crate::xml::split::MIN_SPAN);
    let one = read_bulkcm_with(&path, None, 1).unwrap();
    let three = read_bulkcm_with(&path, None, 3).unwrap();
    let values = three.tables.iter().find(|t| t.name == "values").unwrap();
    assert_eq!(values.batches.len(), 3, "read in three parts");
    assert_eq!(logical(&one), logical(&three));
    assert_eq!(one.header, three.header);
    assert_eq!(one.warnings, three.warnings);
    let mos = table(&three.tables, "mos").unwrap();
    assert_eq!(mos.num_rows(), 1 + 2500 * 5);
    // the SubNetwork's own value stays on its row; every node's values on theirs
    let v = table(&three.tables, "values").unwrap();
    let fdns = strings(&v, "fdn");
    assert_eq!(fdns[0].as_deref(), Some("SubNetwork=ROOT"));
    assert!(fdns
        .iter()
        .any(|f| f.as_deref() == Some("SubNetwork=ROOT,MeContext=N2499,ManagedElement=N2499,UtranCell=U1")));
}

#[test]
fn a_cut_under_another_subnetwork_falls_back_to_one_sequential_read() {
    let path = temp_file("two-subnetworks.xml", big_export(2500, true).as_bytes());
    let one = read_bulkcm_with(&path, None, 1).unwrap();
    let three = read_bulkcm_with(&path, None, 3).unwrap();
    let values = three.tables.iter().find(|t| t.name == "values").unwrap();
    assert_eq!(values.batches.len(), 1, "the cut in the second SubNetwork is refused");
    assert_eq!(logical(&one), logical(&three));
}

/// Rows of a table as text.
type Rows = Vec<Vec<Option<String>>>;

/// The mos and values rows of some tables, as text, in order.
fn rows(tables: &[Table]) -> (Rows, Rows) {
    let mos = table(tables, "mos").unwrap();
    let values = table(tables, "values").unwrap();
    let cols = |b: &RecordBatch, names: &[&str]| -> Rows {
        let columns: Vec<Vec<Option<String>>> = names.iter().map(|n| strings(b, n)).collect();
        (0..b.num_rows()).map(|i| columns.iter().map(|c| c[i].clone()).collect()).collect()
    };
    (cols(&mos, &["fdn", "class", "parent_fdn"]), cols(&values, &["fdn", "attribute", "member", "value"]))
}

#[test]
fn a_streamed_export_gives_the_rows_of_one_read_group_by_group() {
    let path = temp_file("streamed-export.xml", big_export(2500, false).as_bytes());
    let whole = read_bulkcm_with(&path, None, 1).unwrap();
    let (whole_mos, whole_values) = rows(&whole.tables);
    let mut streamer = stream(&path, 400_000, 2).unwrap().expect("worth streaming");
    assert!(streamer.parts() >= 6);
    let (mut mos, mut values, mut groups) = (Vec::new(), Vec::new(), 0);
    while let Some(group) = streamer.next_group(None).unwrap() {
        let (m, v) = rows(&group.tables);
        mos.extend(m);
        values.extend(v);
        groups += 1;
        assert!(group.done <= group.size);
    }
    assert!(groups >= 3, "{groups} groups");
    assert_eq!(mos, whole_mos);
    assert_eq!(values, whole_values);
}

#[test]
fn a_stream_refuses_a_cut_under_another_subnetwork() {
    let path = temp_file("streamed-two-subnetworks.xml", big_export(2500, true).as_bytes());
    let mut streamer = stream(&path, 400_000, 2).unwrap().expect("worth streaming");
    let mut refused = false;
    loop {
        match streamer.next_group(None) {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(err) => {
                assert!(err.to_string().contains("cannot read this export in parts"), "{err}");
                refused = true;
                break;
            }
        }
    }
    assert!(refused);
}
