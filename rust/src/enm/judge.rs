//! The values a plan (or a run of the simulator's sets, or a rollback) writes, judged by the
//! catalog's constraints with the evaluator of `rtbfast audit` (`crate::rules`), compiled once
//! per catalog: the rows are numbered by MO, attribute and member here (the evaluator's input
//! made without hashing a text twice) and only the violations of the rules asked for are kept.

use std::sync::Arc;

use arrow_array::builder::Int32Builder;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, BooleanArray, DictionaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::{FxHashMap, FxHashSet};

use super::view::{bad, int32, opt_i32, PlanningCatalog, Text};
use crate::error::Result;

/// Texts numbered by first appearance (a text equal to the one before it not hashed again).
#[derive(Default)]
struct Numbered<'a> {
    at: FxHashMap<&'a str, i32>,
    texts: Vec<&'a str>,
    last: Option<(&'a str, i32)>,
}

impl<'a> Numbered<'a> {
    fn id(&mut self, text: &'a str) -> (i32, bool) {
        if let Some((last, id)) = self.last {
            if last == text {
                return (id, false);
            }
        }
        let next = self.texts.len() as i32;
        let id = *self.at.entry(text).or_insert(next);
        let new = id == next;
        if new {
            self.texts.push(text);
        }
        self.last = Some((text, id));
        (id, new)
    }

    fn array(&self) -> StringArray {
        StringArray::from_iter_values(self.texts.iter())
    }
}

/// The violations (the evaluator's columns) of the `rules` (names) of `severity` that the
/// values of `rows` break: `rows` has `fdn`, `class`, `attribute`, `member`, `index`, `value`;
/// a row with no value or no class is not judged; an MO's class is that of its first row.
pub fn value_violations(
    rows: &RecordBatch,
    catalog: &PlanningCatalog,
    rules: &FxHashSet<String>,
    severity: &str,
    threads: usize,
) -> Result<RecordBatch> {
    let fdn = Text::column(rows, "rows", "fdn", false)?;
    let class = Text::column(rows, "rows", "class", true)?;
    let attribute = Text::column(rows, "rows", "attribute", true)?;
    let member = Text::column(rows, "rows", "member", true)?;
    let index = int32(rows, "rows", "index", true)?;
    let value = Text::column(rows, "rows", "value", true)?;
    let mut fdns = Numbered::default();
    let mut attributes = Numbered::default();
    let mut members = Numbered::default();
    let mut classes: Vec<&str> = Vec::new();
    let n = rows.num_rows();
    let (mut fdn_ids, mut attribute_ids) = (Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
    let (mut member_ids, mut indexes) = (Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
    let mut texts: Vec<&str> = Vec::with_capacity(n);
    for i in 0..n {
        let (Some(v), Some(c), Some(a)) = (value.get(i), class.get(i), attribute.get(i)) else { continue };
        let (f, new) = fdns.id(fdn.str(i));
        if new {
            classes.push(c);
        }
        fdn_ids.append_value(f);
        attribute_ids.append_value(attributes.id(a).0);
        member_ids.append_option(member.get(i).map(|m| members.id(m).0));
        indexes.append_value(opt_i32(&index, i).unwrap_or(0));
        texts.push(v);
    }
    let mos_fdn: ArrayRef = Arc::new(fdns.array());
    let dictionary = |keys: Int32Builder, values: ArrayRef| -> Result<ArrayRef> {
        let mut keys = keys;
        DictionaryArray::<Int32Type>::try_new(keys.finish(), values)
            .map(|d| Arc::new(d) as ArrayRef)
            .map_err(|e| bad("rows", e.to_string()))
    };
    let mos = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("fdn", DataType::Utf8, false),
            Field::new("class", DataType::Utf8, true),
        ])),
        vec![mos_fdn.clone(), Arc::new(StringArray::from_iter_values(classes.iter()))],
    )
    .map_err(|e| bad("rows", e.to_string()))?;
    let dict = |t: DataType| DataType::Dictionary(Box::new(DataType::Int32), Box::new(t));
    let values = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("fdn", dict(DataType::Utf8), false),
            Field::new("attribute", dict(DataType::Utf8), false),
            Field::new("member", dict(DataType::Utf8), true),
            Field::new("index", DataType::Int32, false),
            Field::new("value", DataType::Utf8, false),
        ])),
        vec![
            dictionary(fdn_ids, mos_fdn)?,
            dictionary(attribute_ids, Arc::new(attributes.array()))?,
            dictionary(member_ids, Arc::new(members.array()))?,
            Arc::new(indexes.finish()),
            Arc::new(StringArray::from_iter_values(texts.iter())),
        ],
    )
    .map_err(|e| bad("rows", e.to_string()))?;
    let (table, _) = crate::rules::evaluate(catalog.rules(), &[mos], &[values], threads)?;
    let found = table.concat().map_err(|e| bad("violations", e.to_string()))?;
    let rule = Text::column(&found, "violations", "rule", false)?;
    let level = Text::column(&found, "violations", "severity", false)?;
    let keep: BooleanArray = (0..found.num_rows())
        .map(|i| Some(rule.get(i).is_some_and(|r| rules.contains(r)) && level.get(i) == Some(severity)))
        .collect();
    arrow_select::filter::filter_record_batch(&found, &keep).map_err(|e| bad("violations", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{constraints, Row};
    use crate::rules::RuleSet;
    use arrow_array::Int32Array;

    fn rows(values: &[(&str, &str, Option<&str>)]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("fdn", Arc::new(StringArray::from_iter_values(values.iter().map(|v| v.0))) as ArrayRef),
            ("class", Arc::new(StringArray::from_iter_values(values.iter().map(|_| "Cell"))) as ArrayRef),
            ("attribute", Arc::new(StringArray::from_iter_values(values.iter().map(|v| v.1))) as ArrayRef),
            ("member", Arc::new(StringArray::from(vec![None::<&str>; values.len()])) as ArrayRef),
            ("index", Arc::new(Int32Array::from(vec![None; values.len()])) as ArrayRef),
            ("value", Arc::new(StringArray::from(values.iter().map(|v| v.2).collect::<Vec<_>>())) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn the_values_a_plan_writes_are_judged_by_the_rules_asked_for() {
        let table = constraints(&[Row {
            class: "Cell",
            attribute: "x",
            kind: "integer",
            ranges: vec![(Some(0), Some(10))],
            ..Row::default()
        }]);
        let (rules, problems) = RuleSet::compile(&[table]).unwrap();
        assert!(problems.is_empty());
        let cat = crate::enm::view::fixtures::catalog_with(rules);
        let values =
            rows(&[("A=1", "x", Some("5")), ("A=2", "x", Some("50")), ("A=3", "x", None), ("A=1", "x", Some("x"))]);
        let range = FxHashSet::from_iter(["range".to_owned()]);
        let found = value_violations(&values, &cat, &range, "error", 1).unwrap();
        let subject = Text::column(&found, "v", "subject", false).unwrap();
        let value = Text::column(&found, "v", "value", true).unwrap();
        assert_eq!(found.num_rows(), 1);
        assert_eq!((subject.str(0), value.get(0)), ("A=2", Some("50")));
        // the type error of "x" is not among the rules asked for; asked, it is found
        let both = FxHashSet::from_iter(["range".to_owned(), "type".to_owned()]);
        assert_eq!(value_violations(&values, &cat, &both, "error", 1).unwrap().num_rows(), 2);
        assert_eq!(value_violations(&values, &cat, &both, "warning", 1).unwrap().num_rows(), 0);
    }
}
