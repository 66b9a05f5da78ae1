use arrow_array::cast::AsArray;
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
        flat.mos.iter().map(|m| (flat.str(m.key), m.ids.kind(), m.context, flat.opt(m.phase), m.delete)).collect();
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
        .map(|v| (v.mo, flat.str(v.attribute), flat.opt(v.member), v.index, flat.opt(v.value), v.kind, v.context))
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
    assert_eq!(flat.str(flat.values[3].path), "/3/EUtranCellFDD/UeMeasControl-*/ReportConfigEUtraBestCell-*/a3offset");
    assert_eq!(flat.str(flat.mos[1].class), "EUtranFreqRelation", "the class inside an @-flagged key");
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

#[test]
fn a_repeated_key_is_a_warning_naming_every_place_and_the_later_one_is_read() {
    let text = "[\n  {\"EUtranCellFDD\": {\n    \"qRxLevMin\": -120,\n    \"$comment\": \"a\",\n    \"qRxLevMin\": -124,\n    \"$comment\": \"b\"\n  }},\n  {\"$cond\": {\"if\": \"False\", \"then\": {\"A\": {}}, \"if\": \"True\"}}\n]";
    let file = read(text);
    assert_eq!(file.error, None);
    let flat = &file.flat;
    let values: Vec<(&str, Option<&str>)> =
        flat.values.iter().map(|v| (flat.str(v.attribute), flat.opt(v.value))).collect();
    assert_eq!(values, [("qRxLevMin", Some("-124"))]);
    let tests: Vec<&str> = flat.expressions.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(tests, ["True"]);
    type Warned<'a> = (&'a str, &'a str, Option<(u64, u64)>);
    let warned: Vec<Warned<'_>> = flat.problems.iter().map(|p| (p.path.as_str(), p.severity, p.at)).collect();
    assert_eq!(
        warned,
        [("/0/EUtranCellFDD/qRxLevMin", "warning", Some((5, 5))), ("/1/$cond/if", "warning", Some((8, 48)))]
    );
    let message = &flat.problems[0].message;
    assert!(message.contains("\"qRxLevMin\" appears 2 times") && message.contains("at 3:5 and 5:5"), "{message}");
    assert!(message.contains("the later one (5:5) is used"), "{message}");
}

#[test]
fn the_bounds_of_a_template_are_located_errors() {
    // too many values: refused before it is parsed, where the bound is passed
    let many = format!("[{{\"$vars\": {{\"big\": [{}]}}}}]", vec!["1"; MAX_VALUES + 10].join(","));
    let file = read(&many);
    let (message, line, column) = file.error.clone().unwrap();
    assert_eq!(file.error_kind, "limit");
    assert!(message.contains("more than 250,000 JSON values"), "{message}");
    // the root, the list's object, $vars and big, then the items: the bound passes at a comma
    assert_eq!((line, column), (1, 2 * MAX_VALUES as u64 + 12));
    assert_eq!(&many[column as usize - 1..column as usize], ",");
    // a sequence too long in one value
    let long = format!("[{{\"A\": {{\"b\": [{}]}}}}]", vec!["1"; flatten::MAX_SEQUENCE + 1].join(","));
    let file = read(&long);
    assert_eq!(file.error, None);
    assert!(file.flat.values.is_empty());
    let p = &file.flat.problems[0];
    assert_eq!((p.path.as_str(), p.code, p.severity), ("/0/A/b", "limit", "error"));
    assert!(p.message.contains("10,001 items (at most 10,000"), "{}", p.message);
    // brace expansions: at most MAX_TEMPLATE_IDS ids in all, then nothing more is read
    let key = format!("C-{}", "{0,1,2,3,4,5,6,7,8,9}".repeat(4));
    let keys: Vec<String> = (0..12).map(|i| format!("{{\"{key}x{i}\": {{\"a\": 1}}}}")).collect();
    let file = read(&format!("[{}]", keys.join(",")));
    let p = &file.flat.problems[0];
    assert_eq!((p.path.as_str(), p.code), (format!("/10/{key}x10").as_str(), "limit"));
    assert!(p.message.contains("more than 100,000 ids"), "{}", p.message);
    assert_eq!(file.flat.mos.len(), 10);
    assert_eq!(file.flat.problems.len(), 1);
}

#[test]
fn the_value_count_is_exact_for_valid_json() {
    for (text, values) in [
        ("[1]", 2),
        ("[ 1 ]", 2),
        ("{\"a\": 1}", 2),
        ("{\"a\": [1, {\"b\": [], \"c\": \",:[\"}], \"d\": 2}", 7),
        ("[[], [[]], {\"x\": {}}]", 6),
    ] {
        assert!(too_big(text.as_bytes(), 8, values).is_none(), "{text}");
        assert!(too_big(b"[ ]", 8, 1).is_none() && too_big(b"{}", 8, 1).is_none());
        assert!(too_big(text.as_bytes(), 8, values - 1).is_some(), "{text}");
    }
}

#[test]
fn expressions_are_bounded() {
    let many: Vec<String> = (0..flatten::MAX_EXPRESSIONS + 5).map(|i| format!("{{\"$eval\": \"{i}\"}}")).collect();
    let file = read(&format!("[{}]", many.join(",")));
    assert_eq!(file.flat.expressions.len(), flatten::MAX_EXPRESSIONS);
    let p = &file.flat.problems[0];
    assert_eq!((p.path.as_str(), p.code), ("/10000/$eval", "limit"));
    assert!(p.message.contains("more than 10,000 expressions"), "{}", p.message);
    assert_eq!(file.flat.problems.len(), 1);
}

#[test]
fn runs_read_on_many_threads_give_the_tables_of_one_read() {
    // more files than one run holds, some of them broken: the joined runs are the tables
    // built from the files one by one, row numbers and dictionaries included
    let paths: Vec<std::path::PathBuf> = (0..300)
        .map(|i| {
            let text = match i % 7 {
                0 => "not json".to_string(),
                1 => format!("{{\"rtbfast\": \"template/1\", \"n\": {i}}}"),
                _ => TEMPLATE.replace("-120", &format!("-{i}")),
            };
            temp_file(&format!("run{i}.json"), text.as_bytes())
        })
        .collect();
    let read = read_templates_with(&paths, 3, None, true).unwrap();
    let one = tables(&read_many(&paths, 1, None).unwrap()).unwrap();
    for (a, b) in read.tables.iter().zip(&one) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.concat().unwrap(), b.concat().unwrap(), "table {}", a.name);
    }
    assert_eq!(read.texts.len(), paths.len());
    assert!(read.texts[0].is_none() && read.texts[2].as_deref().is_some_and(|t| t.contains("-2\"")));
    let files = read.tables[0].concat().unwrap();
    let object = files.column_by_name("object").unwrap().as_boolean().clone();
    assert!(object.value(1) && !object.value(2) && !object.value(0), "a JSON object is told from a list");
    let values = read.tables[2].concat().unwrap();
    assert!(matches!(values.column_by_name("attribute").unwrap().data_type(), arrow_schema::DataType::Dictionary(..)));
    // the values of one slot: pLMNIdList's members of item 0 are two slots, their rows their own
    let slot = values.column_by_name("slot").unwrap().as_primitive::<arrow_array::types::Int32Type>().clone();
    assert!((0..slot.len()).all(|i| slot.value(i) as usize <= i));
    let without = read_templates_with(&paths, 2, None, false).unwrap();
    assert!(without.texts.is_empty());
}

#[test]
fn a_value_set_twice_in_one_mo_shares_its_slot() {
    let text = r#"[{"A": {"x": "1", "B-1": {"x": "2"}, "$cond": {"if": "c", "then": {"x": "3", "y": "4"}}}}]"#;
    let files = [read(text)];
    let t = tables(&files).unwrap();
    let values = t[2].concat().unwrap();
    let slot = values.column_by_name("slot").unwrap().as_primitive::<arrow_array::types::Int32Type>().clone();
    // x of A, x of B-1, x of A again (in the $cond), y of A
    assert_eq!(slot.values().to_vec(), vec![0, 1, 0, 3]);
}

#[test]
fn heads_that_open_an_object() {
    assert!(opens_object(b"  \n{\"a\": 1}"));
    assert!(opens_object(b"\xef\xbb\xbf{}"));
    assert!(!opens_object(b"[{}]") && !opens_object(b"") && !opens_object(b"\xef\xbb\xbf"));
    let far = format!("{}{{}}", " ".repeat(HEAD_BYTES));
    assert!(!opens_object(far.as_bytes()), "only the head is looked at");
}

#[test]
fn kept_texts_locate_as_the_files_do() {
    let a = temp_file("kept_a.json", TEMPLATE.as_bytes());
    let b = temp_file("kept_b.json", b"[{\"A\": {\"x\": 1}}]");
    let read = read_templates_with(&[a.clone(), b.clone()], 1, None, true).unwrap();
    let pointers = ["/3/EUtranCellFDD/qRxLevMin", "/0/A/x", "/3/EUtranCellFDD/spidList", "/9/none"];
    let files = [0usize, 1, 0, 1];
    let got = document::locate_kept(&[a.clone(), b.clone()], &read.texts, &files, &pointers);
    let want = document::locate_many(&[
        (a.clone(), vec![pointers[0].to_string(), pointers[2].to_string()]),
        (b.clone(), vec![pointers[1].to_string(), pointers[3].to_string()]),
    ]);
    assert_eq!(got, vec![want[0][0], want[1][0], want[0][1], want[1][1]]);
    // without the texts, the files are read again
    assert_eq!(document::locate_kept(&[a, b], &[], &files, &pointers), got);
}
