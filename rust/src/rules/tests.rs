//! The evaluator on hand-built constraint and value tables.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder, StringDictionaryBuilder,
    StructBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema};

use super::value::SCALE;
use super::*;
use crate::tables::decimal_type;

/// One row of a constraints table, by the columns a test cares about.
#[derive(Default, Clone)]
pub(crate) struct Row {
    pub(crate) class: &'static str,
    pub(crate) attribute: &'static str,
    pub(crate) member: Option<&'static str>,
    pub(crate) kind: &'static str,
    pub(crate) ranges: Vec<(Option<i128>, Option<i128>)>,
    pub(crate) resolution: Option<i128>,
    pub(crate) decimal_places: Option<i32>,
    pub(crate) length: (Option<i64>, Option<i64>),
    pub(crate) pattern: Option<&'static str>,
    pub(crate) enum_names: Option<Vec<&'static str>>,
    pub(crate) enum_values: Option<Vec<i64>>,
    pub(crate) moref_target: Option<&'static str>,
    pub(crate) sequence: Option<(Option<i64>, Option<i64>, bool)>,
    pub(crate) unique_by: Option<Vec<&'static str>>,
    pub(crate) exclusive: bool,
}

pub(crate) fn constraints(rows: &[Row]) -> RecordBatch {
    let bound = Fields::from(vec![Field::new("min", decimal_type(), true), Field::new("max", decimal_type(), true)]);
    let mut class = StringBuilder::new();
    let mut attribute = StringBuilder::new();
    let mut member = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut ranges = ListBuilder::new(StructBuilder::from_fields(bound.clone(), 0));
    let mut resolution = Decimal128Builder::new().with_data_type(decimal_type());
    let mut places = Int32Builder::new();
    let (mut lmin, mut lmax) = (Int64Builder::new(), Int64Builder::new());
    let mut pattern = StringBuilder::new();
    let mut names = ListBuilder::new(StringBuilder::new());
    let mut values = ListBuilder::new(Int64Builder::new());
    let mut target = StringBuilder::new();
    let mut is_seq = BooleanBuilder::new();
    let (mut smin, mut smax) = (Int64Builder::new(), Int64Builder::new());
    let mut sunique = BooleanBuilder::new();
    let mut unique_by = ListBuilder::new(StringBuilder::new());
    let mut exclusive = BooleanBuilder::new();
    for r in rows {
        class.append_value(r.class);
        attribute.append_value(r.attribute);
        member.append_option(r.member);
        kind.append_value(r.kind);
        for (lo, hi) in &r.ranges {
            let s = ranges.values();
            s.field_builder::<Decimal128Builder>(0).unwrap().append_option(lo.map(|v| v * SCALE));
            s.field_builder::<Decimal128Builder>(1).unwrap().append_option(hi.map(|v| v * SCALE));
            s.append(true);
        }
        ranges.append(!r.ranges.is_empty());
        resolution.append_option(r.resolution.map(|v| v * SCALE));
        places.append_option(r.decimal_places);
        lmin.append_option(r.length.0);
        lmax.append_option(r.length.1);
        pattern.append_option(r.pattern);
        match &r.enum_names {
            Some(n) => names.append_value(n.iter().map(|s| Some(*s))),
            None => names.append_null(),
        }
        match &r.enum_values {
            Some(v) => values.append_value(v.iter().map(|x| Some(*x))),
            None => values.append_null(),
        }
        target.append_option(r.moref_target);
        is_seq.append_value(r.sequence.is_some());
        let (lo, hi, unique) = r.sequence.unwrap_or((None, None, false));
        smin.append_option(lo);
        smax.append_option(hi);
        sunique.append_value(unique);
        match &r.unique_by {
            Some(k) => unique_by.append_value(k.iter().map(|s| Some(*s))),
            None => unique_by.append_null(),
        }
        exclusive.append_value(r.exclusive);
    }
    let arrays: Vec<(&str, ArrayRef)> = vec![
        ("class", Arc::new(class.finish())),
        ("attribute", Arc::new(attribute.finish())),
        ("member", Arc::new(member.finish())),
        ("kind", Arc::new(kind.finish())),
        ("ranges", Arc::new(ranges.finish())),
        ("resolution", Arc::new(resolution.finish())),
        ("decimal_places", Arc::new(places.finish())),
        ("length_min", Arc::new(lmin.finish())),
        ("length_max", Arc::new(lmax.finish())),
        ("pattern", Arc::new(pattern.finish())),
        ("enum_names", Arc::new(names.finish())),
        ("enum_values", Arc::new(values.finish())),
        ("moref_target", Arc::new(target.finish())),
        ("is_sequence", Arc::new(is_seq.finish())),
        ("seq_min", Arc::new(smin.finish())),
        ("seq_max", Arc::new(smax.finish())),
        ("seq_unique", Arc::new(sunique.finish())),
        ("unique_by", Arc::new(unique_by.finish())),
        ("exclusive", Arc::new(exclusive.finish())),
    ];
    RecordBatch::try_from_iter(arrays).unwrap()
}

fn mos(rows: &[(&str, &str)]) -> RecordBatch {
    let fdn: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let class: Vec<&str> = rows.iter().map(|r| r.1).collect();
    RecordBatch::try_from_iter(vec![
        ("fdn", Arc::new(arrow_array::StringArray::from(fdn)) as ArrayRef),
        ("class", Arc::new(arrow_array::StringArray::from(class)) as ArrayRef),
    ])
    .unwrap()
}

/// (fdn, attribute, member, index, value), dictionary-encoded like `read_network`'s.
fn values(rows: &[(&str, &str, Option<&str>, i32, &str)]) -> RecordBatch {
    let mut fdn = StringDictionaryBuilder::<Int32Type>::new();
    let mut attribute = StringDictionaryBuilder::<Int32Type>::new();
    let mut member = StringDictionaryBuilder::<Int32Type>::new();
    let mut index = Int32Builder::new();
    let mut value = StringBuilder::new();
    for r in rows {
        fdn.append_value(r.0);
        attribute.append_value(r.1);
        match r.2 {
            Some(m) => member.append_value(m),
            None => member.append_null(),
        }
        index.append_value(r.3);
        value.append_value(r.4);
    }
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let schema = Schema::new(vec![
        Field::new("fdn", dict.clone(), false),
        Field::new("attribute", dict.clone(), false),
        Field::new("member", dict, true),
        Field::new("index", DataType::Int32, true),
        Field::new("value", DataType::Utf8, false),
    ]);
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(fdn.finish()),
        Arc::new(attribute.finish()),
        Arc::new(member.finish()),
        Arc::new(index.finish()),
        Arc::new(value.finish()),
    ];
    RecordBatch::try_new(Arc::new(schema), arrays).unwrap()
}

/// (attribute, member, rule) of each violation, in order.
fn run(
    rows: &[Row],
    mo: &[(&str, &str)],
    vals: &[(&str, &str, Option<&str>, i32, &str)],
) -> Vec<(String, String, String)> {
    let (set, problems) = RuleSet::compile(&[constraints(rows)]).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let (table, checked) = evaluate(&set, &[mos(mo)], &[values(vals)], 2).unwrap();
    assert_eq!(checked, vals.len() as u64);
    let b = table.concat().unwrap();
    let col = |n: &str| b.column_by_name(n).unwrap().as_string::<i32>().clone();
    let (a, m, r) = (col("attribute"), col("member"), col("rule"));
    (0..b.num_rows())
        .map(|i| {
            (
                a.value(i).to_string(),
                if m.is_null(i) { String::new() } else { m.value(i).to_string() },
                r.value(i).to_string(),
            )
        })
        .collect()
}

fn v(attribute: &str, rule: &str) -> (String, String, String) {
    (attribute.to_string(), String::new(), rule.to_string())
}

const CELL: &str = "ManagedElement=1,ENodeBFunction=1,EUtranCellFDD=1";

#[test]
fn numbers_are_checked_against_ranges_and_resolution() {
    let rows = [
        Row {
            class: "C",
            attribute: "qRxLevMin",
            kind: "integer",
            ranges: vec![(Some(-140), Some(-44))],
            resolution: Some(2),
            ..Row::default()
        },
        Row {
            class: "C",
            attribute: "bw",
            kind: "integer",
            ranges: vec![(Some(1400), Some(1400)), (Some(5000), Some(5000))],
            ..Row::default()
        },
        Row {
            class: "C",
            attribute: "ratio",
            kind: "decimal",
            ranges: vec![(Some(0), Some(10))],
            decimal_places: Some(1),
            ..Row::default()
        },
        Row { class: "C", attribute: "gain", kind: "float", ranges: vec![(Some(-1), Some(1))], ..Row::default() },
    ];
    let vals = [
        (CELL, "qRxLevMin", None, 0, "-140"),
        (CELL, "qRxLevMin", None, 0, "-139"),
        (CELL, "qRxLevMin", None, 0, "-142"),
        (CELL, "bw", None, 0, "5000"),
        (CELL, "bw", None, 0, "3000"),
        (CELL, "ratio", None, 0, "9.50"),
        (CELL, "ratio", None, 0, "9.55"),
        (CELL, "gain", None, 0, "1.5"),
        (CELL, "gain", None, 0, "x"),
        (CELL, "qRxLevMin", None, 0, ""),
    ];
    // rows of one attribute in a row are one group; an empty text leaves the value unset
    let got = run(&rows, &[(CELL, "C")], &vals);
    assert_eq!(
        got,
        vec![
            v("qRxLevMin", "resolution"),
            v("qRxLevMin", "range"),
            v("bw", "range"),
            v("ratio", "decimal_places"),
            v("gain", "range"),
            v("gain", "type"),
        ]
    );
}

#[test]
fn enums_strings_references_and_unknowns() {
    let rows = [
        Row {
            class: "C",
            attribute: "state",
            kind: "enum",
            enum_names: Some(vec!["LOCKED", "UNLOCKED"]),
            enum_values: Some(vec![0, 1]),
            ..Row::default()
        },
        Row {
            class: "C",
            attribute: "label",
            kind: "string",
            length: (Some(1), Some(4)),
            pattern: Some("^(?:[a-z]+)$"),
            ..Row::default()
        },
        Row { class: "C", attribute: "ref", kind: "moref", moref_target: Some("Sector"), ..Row::default() },
    ];
    let mo = [("A=1", "C"), ("A=2", "C"), ("A=3", "Other")];
    let vals = [
        ("A=1", "state", None, 0, "LOCKED"),
        ("A=1", "label", None, 0, "abc"),
        ("A=1", "ref", None, 0, "ManagedElement=1,Sector=2"),
        ("A=2", "state", None, 0, "SHUTTING"),
        ("A=2", "label", None, 0, "abcde"),
        ("A=2", "ref", None, 0, "ManagedElement=1,Cell=2"),
        ("A=2", "nosuch", None, 0, "1"),
        ("A=3", "x", None, 0, "1"),
        ("A=1", "state", None, 0, "1"),
        ("A=1", "label", None, 0, "AB"),
        ("A=1", "ref", None, 0, "not an fdn"),
        ("A=1", "state", None, 0, "7"),
    ];
    let got = run(&rows, &mo, &vals);
    assert_eq!(
        got,
        vec![
            v("state", "enum"),
            v("label", "length"),
            v("ref", "moref"),
            v("nosuch", "unknown_attribute"),
            v("x", "unknown_class"),
            v("label", "pattern"),
            v("ref", "moref"),
            v("state", "enum"),
        ]
    );
}

#[test]
fn sequences_structs_and_exclusive_structs() {
    let rows = [
        Row {
            class: "C",
            attribute: "list",
            kind: "integer",
            ranges: vec![(Some(0), Some(9))],
            sequence: Some((Some(1), Some(3), true)),
            ..Row::default()
        },
        Row { class: "C", attribute: "pair", kind: "struct", exclusive: true, ..Row::default() },
        Row {
            class: "C",
            attribute: "pair",
            member: Some("left"),
            kind: "integer",
            ranges: vec![(Some(0), Some(5))],
            ..Row::default()
        },
        Row { class: "C", attribute: "pair", member: Some("right"), kind: "string", ..Row::default() },
        Row { class: "C", attribute: "scalar", kind: "integer", ..Row::default() },
    ];
    let vals = [
        ("A=1", "list", None, 0, "1"),
        ("A=1", "list", None, 1, "01"),
        ("A=1", "list", None, 2, "2"),
        ("A=1", "list", None, 3, "3"),
        ("A=1", "pair", Some("left"), 0, "9"),
        ("A=1", "pair", Some("right"), 0, "x"),
        ("A=1", "pair", Some("other"), 0, "x"),
        ("A=2", "list", None, 0, ""),
        ("A=2", "pair", Some("left"), 0, "1"),
        ("A=2", "scalar", None, 0, "1"),
        ("A=2", "scalar", None, 1, "2"),
    ];
    let got = run(&rows, &[("A=1", "C"), ("A=2", "C")], &vals);
    let pair = |m: &str, r: &str| ("pair".to_string(), m.to_string(), r.to_string());
    assert_eq!(
        got,
        vec![
            v("list", "sequence_length"),
            v("list", "sequence_unique"),
            pair("left", "range"),
            pair("other", "unknown_member"),
            pair("left", "exclusive"),
            v("list", "sequence_length"),
            v("scalar", "multiple_values"),
        ]
    );
}

#[test]
fn a_bad_pattern_is_a_problem_and_the_other_rows_still_compile() {
    let rows = [
        Row { class: "C", attribute: "a", kind: "string", pattern: Some("(unclosed"), ..Row::default() },
        Row { class: "C", attribute: "b", kind: "integer", ..Row::default() },
    ];
    let (set, problems) = RuleSet::compile(&[constraints(&rows)]).unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].attribute, "a");
    assert!(problems[0].message.contains("cannot be compiled"), "{}", problems[0].message);
    // the attribute keeps its other checks; only the pattern is not enforced
    let a = set.lookup("C", "a", None).map(|i| &set.constraints[i]);
    assert!(a.is_some_and(|c| c.pattern.is_none()) && set.lookup("C", "b", None).is_some());
}

#[test]
fn a_missing_column_is_a_located_error() {
    let batch = constraints(&[Row { class: "C", attribute: "a", kind: "string", ..Row::default() }]);
    let batch = batch.project(&[0, 1, 2]).unwrap();
    let err = RuleSet::compile(&[batch]).unwrap_err();
    assert!(err.to_string().contains("\"kind\""), "{err}");
}

#[test]
fn a_values_table_sharing_the_mos_fdns_gives_the_same_violations() {
    // read_network's values.fdn dictionary is its mos.fdn array: the evaluator then takes each
    // MO's class by row instead of by hashing the FDN; the verdicts must not change
    let rows =
        [Row { class: "C", attribute: "n", kind: "integer", ranges: vec![(Some(0), Some(5))], ..Row::default() }];
    let fdns = arrow_array::StringArray::from(vec!["A=1", "A=2", "A=3"]);
    let mos_batch = RecordBatch::try_from_iter(vec![
        ("fdn", Arc::new(fdns.clone()) as ArrayRef),
        ("class", Arc::new(arrow_array::StringArray::from(vec!["C", "Other", "C"])) as ArrayRef),
    ])
    .unwrap();
    let values_batch = sharing_values(fdns, vec![0, 1, 2, 2], Some(vec![0, 0, 0, 1]), vec!["9", "9", "1", "7"]);
    let got = subjects_and_rules(&rows, &[mos_batch], values_batch);
    let want = [("A=1", "range"), ("A=2", "unknown_class"), ("A=3", "range"), ("A=3", "multiple_values")];
    assert_eq!(got, want.map(|(s, r)| (s.to_string(), r.to_string())));
}

#[test]
fn a_part_whose_mos_are_a_slice_of_its_fdn_dictionary_finds_every_class() {
    // a part of a streamed export: its dictionary starts with its context (an MO read in an
    // earlier part, in another mos batch) and its mos are a slice of the dictionary; an FDN in
    // no mos batch is an unknown class
    let rows =
        [Row { class: "C", attribute: "n", kind: "integer", ranges: vec![(Some(0), Some(5))], ..Row::default() }];
    let earlier = mos(&[("S=1", "C")]);
    let fdns = arrow_array::StringArray::from(vec!["S=1", "S=1,A=1", "S=1,A=2", "Q=1"]);
    let mos_batch = RecordBatch::try_from_iter(vec![
        ("fdn", Arc::new(fdns.slice(1, 2)) as ArrayRef),
        ("class", Arc::new(arrow_array::StringArray::from(vec!["C", "Other"])) as ArrayRef),
    ])
    .unwrap();
    let values_batch = sharing_values(fdns, vec![0, 1, 2, 3], None, vec!["9", "8", "1", "7"]);
    let got = subjects_and_rules(&rows, &[earlier, mos_batch], values_batch);
    let want = [("S=1", "range"), ("S=1,A=1", "range"), ("S=1,A=2", "unknown_class"), ("Q=1", "unknown_class")];
    assert_eq!(got, want.map(|(s, r)| (s.to_string(), r.to_string())));
}

/// Values of attribute `n` whose FDN column is a dictionary over `fdns` (as `read_network`
/// shares it with `mos.fdn`).
fn sharing_values(
    fdns: arrow_array::StringArray,
    keys: Vec<i32>,
    index: Option<Vec<i32>>,
    values: Vec<&str>,
) -> RecordBatch {
    let rows = keys.len();
    let fdn = arrow_array::DictionaryArray::<Int32Type>::try_new(keys.into(), Arc::new(fdns)).unwrap();
    let mut attribute = StringDictionaryBuilder::<Int32Type>::new();
    for _ in 0..rows {
        attribute.append_value("n");
    }
    let mut columns = vec![("fdn", Arc::new(fdn) as ArrayRef), ("attribute", Arc::new(attribute.finish()) as ArrayRef)];
    if let Some(index) = index {
        columns.push(("index", Arc::new(arrow_array::Int32Array::from(index)) as ArrayRef));
    }
    columns.push(("value", Arc::new(arrow_array::StringArray::from(values)) as ArrayRef));
    RecordBatch::try_from_iter(columns).unwrap()
}

/// (subject, rule) of each violation `rows` find in `values` of the MOs in `mos`.
fn subjects_and_rules(rows: &[Row], mos: &[RecordBatch], values: RecordBatch) -> Vec<(String, String)> {
    let (set, _) = RuleSet::compile(&[constraints(rows)]).unwrap();
    let (table, _) = evaluate(&set, mos, &[values], 1).unwrap();
    let b = table.concat().unwrap();
    let rule = b.column_by_name("rule").unwrap().as_string::<i32>().clone();
    let subject = b.column_by_name("subject").unwrap().as_string::<i32>().clone();
    (0..b.num_rows()).map(|i| (subject.value(i).to_string(), rule.value(i).to_string())).collect()
}

#[test]
fn each_violation_names_the_row_it_is_about_and_names_may_be_left_out() {
    let rows = [
        Row { class: "C", attribute: "n", kind: "integer", ranges: vec![(Some(0), Some(10))], ..Row::default() },
        Row { class: "C", attribute: "state", kind: "enum", enum_names: Some(vec!["ON"]), ..Row::default() },
    ];
    let mo = [("A=1", "C"), ("A=2", "C"), ("A=3", "Other")];
    let vals = [
        ("A=1", "n", None, 0, "5"),
        ("A=1", "n", None, 0, "11"),
        ("A=2", "state", None, 0, "OFF"),
        ("A=2", "nosuch", None, 0, "1"),
        ("A=3", "x", None, 0, "1"),
        ("A=2", "n", None, 0, "x"),
    ];
    let (set, _) = RuleSet::compile(&[constraints(&rows)]).unwrap();
    // in two batches: rows count on over both
    let all = values(&vals);
    let parts = [all.slice(0, 3), all.slice(3, 3)];
    for (names, want) in [(true, vec![1, 2, 3, 4, 5]), (false, vec![1, 2, 5])] {
        let (table, rows_of, checked) = evaluate_rows(&set, &[mos(&mo)], &parts, 2, names).unwrap();
        assert_eq!(checked, 6);
        let b = table.concat().unwrap();
        let value = b.column_by_name("value").unwrap().as_string::<i32>().clone();
        let rule = b.column_by_name("rule").unwrap().as_string::<i32>().clone();
        let rules: Vec<&str> = (0..rule.len()).map(|i| rule.value(i)).collect();
        assert_eq!(rows_of.len(), b.num_rows());
        assert_eq!(rows_of.iter().map(|r| *r as usize).collect::<Vec<_>>(), want, "{rules:?}");
        for (i, row) in rows_of.iter().enumerate() {
            assert_eq!(value.value(i), vals[*row as usize].4, "violation {i} is about row {row}");
        }
        assert_eq!(rules.contains(&"unknown_attribute") && rules.contains(&"unknown_class"), names);
    }
}
