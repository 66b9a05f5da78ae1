use arrow_array::Array;

use super::*;
use crate::xml::testutil::temp_file;

/// A template written for these tests, with every form the real ones use.
const TEMPLATE: &str = r#"[
  {"$meta": {"version": "1.0.0", "description": "test", "plan_order": ["default", "Lock_Cells"]}},
  {"$vars": {"cells": [], "flag": false}},
  {"$custom": [{"name": "f", "args": ["mo"], "body": ["with db.noria as d:", "    x = d.query('q')", "return eval('1')"]}]},
  {"EUtranCellFDD": {
    "qRxLevMin": "-120",
    "@EUtranFreqRelation-*": {
      "$cond": {"if": "mo.x > 1", "then": {"threshXHigh": "10"}, "else": "__ignore__"},
      "eutranFreqToQciProfileRelation": {"$eval": "custom.f(mo)"}
    },
    "UeMeasControl-*": {"ReportConfigEUtraBestCell-*": {"a3offset": "2.0", "timeToTriggerA3": 640}},
    "systemInformationBlock3": {"qHyst": "4", "sNonIntraSearch": "10"},
    "pLMNIdList": [{"mcc": "208", "mnc": "01"}, {"mcc": "208", "mnc": "10"}],
    "spidList": [],
    "cellRange": {"$switch": {"branches": [{"case": "cell.x", "then": "15"}, {"case": "True", "then": {"$eval": "1"}}]}}
  }},
  {"$cond": {"if": "True", "then": [
    {"$comment": "two keys", "$plans": {"Lock_Cells": [{"ENodeBFunction": {
      "QciProfilePredefined-default,qci{1,5}": {"paPartitionOverride": "true"},
      "ResourcePartition-PMR": "__delete__",
      "SubscriberGroupProfile-2081-94135-9": {"userLabel": ""}
    }}]}},
    {"$eval": "enet.set_mo_params(cell.dn, {}, plan='x')"}
  ]}}
]"#;

/// Read `text` from a file of its own (tests run in parallel).
fn read(text: &str) -> FileRead {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    read_one(&temp_file(&format!("t{n}.json"), text.as_bytes()))
}

#[test]
fn every_form_is_read() {
    let file = read(TEMPLATE);
    assert_eq!(file.error, None);
    let flat = &file.flat;
    assert_eq!(flat.problems, vec![]);
    assert_eq!(flat.plan_order, ["default", "Lock_Cells"]);
    assert_eq!(flat.functions, ["f"]);
    assert_eq!(flat.vars, ["cells", "flag"]);
    let keys: Vec<(&str, &str, &str, Option<&str>, bool)> =
        flat.mos.iter().map(|m| (m.key.as_str(), m.ids.kind(), m.context, m.phase.as_deref(), m.delete)).collect();
    assert_eq!(
        keys,
        [
            ("EUtranCellFDD", "none", "", None, false),
            ("@EUtranFreqRelation-*", "wildcard", "", None, false),
            ("UeMeasControl-*", "wildcard", "", None, false),
            ("ReportConfigEUtraBestCell-*", "wildcard", "", None, false),
            ("ENodeBFunction", "none", "cond", Some("Lock_Cells"), false),
            ("QciProfilePredefined-default,qci{1,5}", "list", "cond", Some("Lock_Cells"), false),
            ("ResourcePartition-PMR", "id", "cond", Some("Lock_Cells"), true),
            ("SubscriberGroupProfile-2081-94135-9", "id", "cond", Some("Lock_Cells"), false),
        ]
    );
    assert_eq!(flat.mos[5].ids, key::Ids::Listed(vec!["default".into(), "qci1".into(), "qci5".into()]));
    assert_eq!(flat.mos[1].parent, Some(0));
    assert!(flat.mos[1].at);
    type Row<'a> = (u32, &'a str, Option<&'a str>, Option<i32>, Option<&'a str>, &'a str, &'a str);
    let values: Vec<Row<'_>> = flat
        .values
        .iter()
        .map(|v| (v.mo, v.attribute.as_str(), v.member.as_deref(), v.index, v.value.as_deref(), v.kind, v.context))
        .collect();
    assert_eq!(
        values,
        [
            (0, "qRxLevMin", None, None, Some("-120"), "string", ""),
            (1, "threshXHigh", None, None, Some("10"), "string", "cond"),
            (1, "eutranFreqToQciProfileRelation", None, None, None, "eval", ""),
            (3, "a3offset", None, None, Some("2.0"), "string", ""),
            (3, "timeToTriggerA3", None, None, Some("640"), "number", ""),
            (0, "systemInformationBlock3", Some("qHyst"), None, Some("4"), "string", ""),
            (0, "systemInformationBlock3", Some("sNonIntraSearch"), None, Some("10"), "string", ""),
            (0, "pLMNIdList", Some("mcc"), Some(0), Some("208"), "string", ""),
            (0, "pLMNIdList", Some("mnc"), Some(0), Some("01"), "string", ""),
            (0, "pLMNIdList", Some("mcc"), Some(1), Some("208"), "string", ""),
            (0, "pLMNIdList", Some("mnc"), Some(1), Some("10"), "string", ""),
            (0, "spidList", None, None, None, "empty", ""),
            (0, "cellRange", None, None, Some("15"), "string", "switch"),
            (0, "cellRange", None, None, None, "eval", "switch"),
            (0, "cellRange", None, None, None, "switch", ""),
            (5, "paPartitionOverride", None, None, Some("true"), "string", "cond"),
            (7, "userLabel", None, None, Some(""), "string", "cond"),
        ]
    );
    assert_eq!(flat.values[3].path, "/3/EUtranCellFDD/UeMeasControl-*/ReportConfigEUtraBestCell-*/a3offset");
    let calls: Vec<(&str, &str, u32)> = flat.calls.iter().map(|c| (c.what.as_str(), c.kind, c.line)).collect();
    assert_eq!(calls, [("db.noria", "unsupported", 1), ("eval", "refused", 3)], "enet.set_mo_params is run");
    let directives: Vec<&str> = flat.expressions.iter().map(|e| e.directive).collect();
    assert_eq!(directives, ["$custom", "$cond", "$eval", "$switch", "$switch", "$eval", "$cond", "$eval"]);
}

#[test]
fn located_problems() {
    let file = read("[\n  {\"$meta\": {}},\n  {\"EUtranCellFDD\": {\"qRxLevMin\": \"-120\",, }}\n]");
    let (message, line, column) = file.error.unwrap();
    assert_eq!((line, column), (3, 42), "{message}"); // the second comma
    for (text, code, says) in [
        (r#"[{"foo bar": {}}]"#, "key", "fits no grammar"),
        (r#"[{"$frob": 1}]"#, "key", "not a directive"),
        (r#"[{"qRxLevMin": "1"}]"#, "structure", "outside any MO"),
        (r#"[{"A": {"x": "__delete__"}}]"#, "sentinel", "Class-Id key"),
        (r#"[{"A": {"$meta": {}}}]"#, "structure", "at the top"),
        (r#"[{"A": {"$cond": {"then": {}}}}]"#, "structure", "no \"if\""),
        (r#"[{"A": 3}]"#, "structure", "holds an object"),
        (r#"[3]"#, "structure", "is an object"),
        (r#"{"A": {}}"#, "structure", "not an array"),
    ] {
        let file = read(text);
        assert_eq!(file.error, None, "{text}");
        let p = file.flat.problems.first().unwrap_or_else(|| panic!("no problem in {text}"));
        assert_eq!(p.code, code, "{text}");
        assert!(p.message.contains(says), "{text}: {}", p.message);
    }
    let deep = format!("[{}{}]", "[".repeat(300), "]".repeat(300));
    assert!(read(&deep).error.unwrap().0.contains("nested more than 256"));
    let missing = read_one(std::path::Path::new("/nonexistent/t.json"));
    assert_eq!(missing.error_kind, "io");
    let bad_utf8 = read_one(&temp_file("u.json", b"[\"\xff\"]"));
    assert_eq!(bad_utf8.error.map(|e| e.0), Some("not UTF-8 text".into()));
}

#[test]
fn many_files_in_one_table() {
    let a = temp_file("a.json", TEMPLATE.as_bytes());
    let b = temp_file("b.json", b"[{\"A-1\": {\"x\": \"1\"}}]");
    let c = temp_file("c.json", b"not json");
    let files = read_many(&[a, b, c], 2, None).unwrap();
    let tables = tables(&files).unwrap();
    let rows: Vec<usize> = tables.iter().map(Table::num_rows).collect();
    assert_eq!(rows, [3, 9, 18, 8, 2, 0]);
    let files_batch = tables[0].concat().unwrap();
    let kind = files_batch.column_by_name("error_kind").unwrap();
    let kind = arrow_array::cast::AsArray::as_string::<i32>(kind.as_ref());
    assert_eq!((kind.is_null(0), kind.value(2)), (true, "json"));
    let mos = tables[1].concat().unwrap();
    let parent = mos.column_by_name("parent").unwrap();
    let parent = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Int32Type>(parent.as_ref());
    assert!(parent.is_null(8), "the second file's MO is at its top");
}
