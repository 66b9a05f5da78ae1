//! Evaluating compiled constraints over Network values (`mos` + `values` tables, or a
//! ChangeSet in the same long form): rows are split at MO boundaries into chunks evaluated on
//! a pool of threads; the violations come back in input order as one Arrow table.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

use super::value::{self, SCALE};
use super::{pool, Constraint, FastMap, Kind, RuleSet, ViolationColumns, ViolationRow};
use crate::error::{Error, Location, Result};
use crate::tables::Table;

/// Rows per chunk of work (moved to the next MO boundary).
const CHUNK_ROWS: usize = 1 << 16;

/// A text column, plain or dictionary-encoded, read as ids into its distinct values.
pub(crate) struct Interned<'a> {
    pub(crate) ids: Vec<u32>,
    pub(crate) distinct: Vec<Option<&'a str>>,
    /// The id of a null.
    pub(crate) none: u32,
}

pub(crate) fn bad_column(table: &str, column: &str, what: &str) -> Error {
    Error::Value {
        loc: Location { file: format!("{table} table"), element: column.into(), ..Location::default() },
        message: format!("column {column:?} {what}"),
    }
}

/// A plain text column of `batch`.
pub(crate) fn text<'a>(batch: &'a RecordBatch, table: &str, name: &str) -> Result<&'a StringArray> {
    let col = batch.column_by_name(name).ok_or_else(|| bad_column(table, name, "is missing"))?;
    col.as_string_opt::<i32>().ok_or_else(|| bad_column(table, name, "is not text"))
}

/// The `member` column of a values batch, interned; all null when the batch has none.
pub(crate) fn members(batch: &RecordBatch) -> Result<Interned<'_>> {
    match batch.column_by_name("member") {
        Some(_) => interned(batch, "values", "member"),
        None => Ok(Interned { ids: vec![0; batch.num_rows()], distinct: vec![None], none: 0 }),
    }
}

pub(crate) fn interned<'a>(batch: &'a RecordBatch, table: &str, name: &str) -> Result<Interned<'a>> {
    let col = batch.column_by_name(name).ok_or_else(|| bad_column(table, name, "is missing"))?;
    match col.data_type() {
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
            let dict = col.as_dictionary::<Int32Type>();
            let values = dict.values().as_string::<i32>();
            let distinct = (0..values.len()).map(|i| (!values.is_null(i)).then(|| values.value(i))).collect();
            let null = values.len() as u32;
            let keys = dict.keys();
            let ids = (0..keys.len()).map(|i| if keys.is_null(i) { null } else { keys.value(i) as u32 }).collect();
            let mut out = Interned { ids, distinct, none: null };
            out.distinct.push(None);
            Ok(out)
        }
        DataType::Utf8 => {
            let s = col.as_string::<i32>();
            let mut seen: HashMap<Option<&str>, u32> = HashMap::new();
            let mut distinct = Vec::new();
            let ids = (0..s.len())
                .map(|i| {
                    let v = (!s.is_null(i)).then(|| s.value(i));
                    *seen.entry(v).or_insert_with(|| {
                        distinct.push(v);
                        distinct.len() as u32 - 1
                    })
                })
                .collect();
            let none = match seen.get(&None) {
                Some(id) => *id,
                None => {
                    distinct.push(None);
                    distinct.len() as u32 - 1
                }
            };
            Ok(Interned { ids, distinct, none })
        }
        other => Err(bad_column(table, name, &format!("is {other}, not text or dictionary-encoded text"))),
    }
}

/// One violation, before it becomes a row.
struct Found {
    row: usize,
    rule: &'static str,
    severity: &'static str,
    message: String,
    expected: Option<String>,
}

/// What a value failed: rule, message, expectation.
type Failure = (&'static str, String, Option<String>);

/// One batch of values with its columns resolved.
struct Batch<'a> {
    fdn: Interned<'a>,
    attribute: Interned<'a>,
    member: Interned<'a>,
    index: Option<&'a Int32Array>,
    value: &'a StringArray,
    /// Class of each distinct FDN, as an id into `classes`.
    class_of: Vec<Option<u32>>,
    classes: &'a [&'a str],
}

/// The values of a dictionary-encoded text column.
fn dictionary_of<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    let dict = batch.column_by_name(name)?.as_dictionary_opt::<Int32Type>()?;
    dict.values().as_string_opt::<i32>()
}

/// Where the FDNs of a mos batch sit in a values batch's FDN dictionary when they are a slice
/// of it (the same buffers): the dictionary id of mos row 0. A part of a streamed export has
/// its context (the ancestors read before it) at the head of its dictionary, not in its mos.
fn slice_start(dict: &StringArray, mos_fdn: &StringArray) -> Option<usize> {
    if dict.values().as_ptr() != mos_fdn.values().as_ptr() {
        return None;
    }
    let (whole, part) = (dict.value_offsets().as_ptr() as usize, mos_fdn.value_offsets().as_ptr() as usize);
    let step = std::mem::size_of::<i32>();
    if part < whole || (part - whole) % step != 0 {
        return None;
    }
    let start = (part - whole) / step;
    (start + mos_fdn.len() <= dict.len()).then_some(start)
}

/// Looks up the class of each of some FDNs (an id into the classes), by hashing.
type ClassesByFdn<'a, 'b> = dyn FnMut(&[Option<&'a str>]) -> Vec<Option<u32>> + 'b;

/// The class of each distinct FDN of a values batch whose dictionary holds the FDNs of mos rows
/// `ids` from id `start` on; the few others its values name (a part's context) are looked up
/// with `by_fdn`.
fn classes_by_row<'a>(
    fdn: &Interned<'a>,
    ids: &[Option<u32>],
    start: usize,
    by_fdn: &mut ClassesByFdn<'a, '_>,
) -> Vec<Option<u32>> {
    let mut class_of = vec![None; fdn.distinct.len()];
    class_of[start..start + ids.len()].copy_from_slice(ids);
    let inside = start as u32..(start + ids.len()) as u32;
    let mut outside: Vec<u32> = fdn.ids.iter().copied().filter(|id| !inside.contains(id) && *id != fdn.none).collect();
    outside.sort_unstable();
    outside.dedup();
    if !outside.is_empty() {
        let names: Vec<Option<&str>> = outside.iter().map(|&id| fdn.distinct[id as usize]).collect();
        for (id, class) in outside.iter().zip(by_fdn(&names)) {
            class_of[*id as usize] = class;
        }
    }
    class_of
}

/// Evaluate `rules` over `values` (long form) of the MOs in `mos`, on up to `threads` threads
/// (0: one per core). Returns the `violations` table and how many values were checked.
pub fn evaluate(rules: &RuleSet, mos: &[RecordBatch], values: &[RecordBatch], threads: usize) -> Result<(Table, u64)> {
    let (table, _, checked) = evaluate_rows(rules, mos, values, threads, true)?;
    Ok((table, checked))
}

/// As [`evaluate`], with the row of `values` (counted over all its batches) each violation is
/// about; `names: false` leaves out the warnings that the catalog does not know a class or an
/// attribute (a caller that says so itself, once per name).
pub fn evaluate_rows(
    rules: &RuleSet,
    mos: &[RecordBatch],
    values: &[RecordBatch],
    threads: usize,
    names: bool,
) -> Result<(Table, Vec<i64>, u64)> {
    // the class of every MO, as an id into `classes`
    let mut class_ids: HashMap<&str, u32> = HashMap::new();
    let mut classes: Vec<&str> = Vec::new();
    let mut mo_columns = Vec::with_capacity(mos.len());
    for b in mos {
        let (fdn, class) = (text(b, "mos", "fdn")?, text(b, "mos", "class")?);
        let ids: Vec<Option<u32>> = (0..b.num_rows())
            .map(|i| {
                (!class.is_null(i)).then(|| {
                    let c = class.value(i);
                    *class_ids.entry(c).or_insert_with(|| {
                        classes.push(c);
                        classes.len() as u32 - 1
                    })
                })
            })
            .collect();
        mo_columns.push((fdn, ids));
    }
    // an FDN → class map, made only if a values batch does not share its FDN dictionary with
    // the mos table (read_network's do: the dictionary of each part is that part's mos.fdn)
    let mut class_by_fdn: Option<FastMap<&str, u32>> = None;
    let mos_rows = mo_columns.iter().map(|(_, ids)| ids.len()).sum();
    let mut by_fdn = |distinct: &[Option<&str>]| -> Vec<Option<u32>> {
        let map = class_by_fdn.get_or_insert_with(|| {
            let mut map = FastMap::with_capacity_and_hasher(mos_rows, Default::default());
            for (fdn, ids) in &mo_columns {
                for (i, id) in ids.iter().enumerate() {
                    if let (false, Some(id)) = (fdn.is_null(i), id) {
                        map.insert(fdn.value(i), *id);
                    }
                }
            }
            map
        });
        distinct.iter().map(|f| f.and_then(|f| map.get(f).copied())).collect()
    };
    let mut batches = Vec::with_capacity(values.len());
    for b in values {
        let fdn = interned(b, "values", "fdn")?;
        let shared = dictionary_of(b, "fdn").and_then(|dict| {
            mo_columns.iter().find_map(|(mos_fdn, ids)| slice_start(dict, mos_fdn).map(|start| (ids, start)))
        });
        let class_of = match shared {
            // dictionary id start + i is mos row i: no hashing
            Some((ids, start)) => classes_by_row(&fdn, ids, start, &mut by_fdn),
            None => by_fdn(&fdn.distinct),
        };
        let index = match b.column_by_name("index") {
            Some(c) => {
                Some(c.as_primitive_opt::<Int32Type>().ok_or_else(|| bad_column("values", "index", "is not int32"))?)
            }
            None => None,
        };
        let value = text(b, "values", "value")?;
        let member = members(b)?;
        let attribute = interned(b, "values", "attribute")?;
        batches.push(Batch { attribute, fdn, member, index, value, class_of, classes: &classes });
    }
    // chunks of rows, cut where the MO changes so a sequence is never split
    let mut work = Vec::new();
    for (bi, b) in batches.iter().enumerate() {
        let n = b.value.len();
        let mut start = 0;
        while start < n {
            let mut end = (start + CHUNK_ROWS).min(n);
            while end < n && b.fdn.ids[end] == b.fdn.ids[end - 1] {
                end += 1;
            }
            work.push((bi, start, end));
            start = end;
        }
    }
    let run = || -> Vec<(usize, Vec<Found>)> {
        work.par_iter().map(|&(bi, start, end)| (bi, check_rows(rules, &batches[bi], start, end, names))).collect()
    };
    let results = pool(threads)?.install(run);
    let checked: u64 = batches.iter().map(|b| b.value.len() as u64).sum();
    let (table, rows) = build_table(&batches, results)?;
    Ok((table, rows, checked))
}

fn check_rows(rules: &RuleSet, b: &Batch<'_>, start: usize, end: usize, names: bool) -> Vec<Found> {
    let mut out = Vec::new();
    let mut lookups: FastMap<(u32, u32, u32), Option<usize>> = FastMap::default();
    let mut lookup = |class: u32, attr: u32, member: u32| -> Option<usize> {
        *lookups.entry((class, attr, member)).or_insert_with(|| {
            let a = b.attribute.distinct[attr as usize]?;
            rules.lookup(b.classes[class as usize], a, b.member.distinct[member as usize])
        })
    };
    let known: Vec<bool> = b.classes.iter().map(|c| rules.knows_class(c)).collect();
    let mut row = start;
    let mut warned_fdn: Option<u32> = None;
    // per group, reused: (index, member, row) of set values; indexes of items present;
    // rows of sequence members of structs
    let mut items: Vec<(i32, Option<&str>, usize)> = Vec::new();
    let mut present: Vec<i32> = Vec::new();
    let mut member_items: Vec<(i32, u32, usize, &Constraint, bool)> = Vec::new();
    while row < end {
        // one group: the rows of one attribute of one MO
        let (fdn, attr) = (b.fdn.ids[row], b.attribute.ids[row]);
        let mut group_end = row + 1;
        while group_end < end && b.fdn.ids[group_end] == fdn && b.attribute.ids[group_end] == attr {
            group_end += 1;
        }
        let Some(class_id) = b.class_of[fdn as usize] else {
            if names && warned_fdn != Some(fdn) {
                warned_fdn = Some(fdn);
                out.push(found(row, "unknown_class", "warning", "the MO is not in the mos table".into(), None));
            }
            row = group_end;
            continue;
        };
        let class = b.classes[class_id as usize];
        if !known[class_id as usize] {
            if names && warned_fdn != Some(fdn) {
                warned_fdn = Some(fdn);
                let message = format!("class {class} is not in the catalog; its values are not checked");
                out.push(found(row, "unknown_class", "warning", message, None));
            }
            row = group_end;
            continue;
        }
        let Some(attr_c) = lookup(class_id, attr, b.member.none).map(|i| &rules.constraints[i]) else {
            if names {
                let name = b.attribute.distinct[attr as usize].unwrap_or("");
                let message = format!("{class} has no attribute {name} in the catalog");
                out.push(found(row, "unknown_attribute", "warning", message, None));
            }
            row = group_end;
            continue;
        };
        items.clear();
        present.clear();
        member_items.clear();
        for r in row..group_end {
            let text = b.value.value(r);
            let member = b.member.distinct[b.member.ids[r] as usize];
            let c = match member {
                None => Some(attr_c),
                Some(_) => lookup(class_id, attr, b.member.ids[r]).map(|i| &rules.constraints[i]),
            };
            let Some(c) = c else {
                let m = member.unwrap_or("");
                let name = b.attribute.distinct[attr as usize].unwrap_or("");
                let message = format!("{class}.{name} has no member {m}");
                out.push(found(r, "unknown_member", "error", message, None));
                continue;
            };
            let index = b.index.map(|ix| if ix.is_null(r) { 0 } else { ix.value(r) }).unwrap_or(0);
            let set = is_set(c, text, member.is_none() && attr_c.is_sequence);
            if set || member.is_some() {
                present.push(index); // an item, or a struct item whose members may be unset
            }
            if member.is_some() && c.is_sequence {
                member_items.push((index, b.member.ids[r], r, c, set));
            }
            if set {
                items.push((index, member, r));
                if let Some((rule, message, expected)) = check_value(c, text) {
                    out.push(Found { row: r, rule, severity: "error", message, expected });
                }
            }
        }
        group_checks(attr_c, b, &items, &mut present, row, &mut out);
        if !member_items.is_empty() {
            member_sequence_checks(b, &mut member_items, &mut out);
        }
        row = group_end;
    }
    out
}

/// Whether a value text sets the attribute: an empty text leaves it unset, except for a
/// scalar string, where it is the empty string, and a scalar struct, where it is a struct
/// with no member set (`<pair/>`).
fn is_set(c: &Constraint, text: &str, in_sequence: bool) -> bool {
    let scalar = !in_sequence && !c.is_sequence;
    !text.is_empty() || (matches!(c.kind, Kind::String | Kind::Unknown | Kind::Struct) && scalar)
}

fn found(row: usize, rule: &'static str, severity: &'static str, message: String, expected: Option<String>) -> Found {
    Found { row, rule, severity, message, expected }
}

/// Checks over all the values of one attribute of one MO: a single value for a scalar,
/// sequence length and uniqueness, exactly one member of an exclusive struct.
fn group_checks(
    a: &Constraint,
    b: &Batch<'_>,
    items: &[(i32, Option<&str>, usize)],
    present: &mut Vec<i32>,
    first: usize,
    out: &mut Vec<Found>,
) {
    if present.len() > 1 {
        present.sort_unstable();
        present.dedup();
    }
    let distinct: &[i32] = present;
    let count = distinct.len() as u64;
    let row = items.first().map(|i| i.2).unwrap_or(first);
    if a.is_sequence {
        let too_few = a.seq_min.is_some_and(|m| m > 0 && count < m);
        let too_many = a.seq_max.is_some_and(|m| count > m);
        if too_few || too_many {
            let expected = match (a.seq_min, a.seq_max) {
                (Some(lo), Some(hi)) => format!("{lo}..{hi} items"),
                (Some(lo), None) => format!("at least {lo} items"),
                (None, Some(hi)) => format!("at most {hi} items"),
                (None, None) => String::new(),
            };
            let message = format!("{count} items; {expected} are allowed");
            out.push(found(row, "sequence_length", "error", message, Some(expected)));
        }
        if a.seq_unique {
            let mut seen: HashSet<Vec<String>> = HashSet::new();
            for ix in distinct {
                let mut key: Vec<String> = items
                    .iter()
                    .filter(|i| {
                        i.0 == *ix
                            && (a.unique_by.is_empty() || i.1.is_some_and(|m| a.unique_by.iter().any(|k| k == m)))
                    })
                    .map(|i| format!("{}={}", i.1.unwrap_or(""), normalized(a, b.value.value(i.2))))
                    .collect();
                key.sort();
                if !seen.insert(key) {
                    let r = items.iter().find(|i| i.0 == *ix).map(|i| i.2).unwrap_or(row);
                    let message = format!("item {ix} repeats an earlier item; the sequence must be unique");
                    out.push(found(r, "sequence_unique", "error", message, Some("unique items".into())));
                }
            }
        }
    } else if count > 1 {
        let message = format!("{count} values for a single-valued attribute");
        out.push(found(row, "multiple_values", "error", message, Some("one value".into())));
    }
    if a.kind == Kind::Struct && a.exclusive {
        for ix in distinct {
            let mut members: Vec<&str> = items.iter().filter(|i| i.0 == *ix).filter_map(|i| i.1).collect();
            members.sort_unstable();
            members.dedup();
            if members.len() != 1 {
                let r = items.iter().find(|i| i.0 == *ix).map(|i| i.2).unwrap_or(row);
                let message = format!("{} members set in an exclusive struct", members.len());
                out.push(found(r, "exclusive", "error", message, Some("exactly one member".into())));
            }
        }
    }
}

/// Sequence members of structs (a member element repeated inside one struct value): their
/// length and uniqueness, per struct item.
fn member_sequence_checks(b: &Batch<'_>, rows: &mut [(i32, u32, usize, &Constraint, bool)], out: &mut Vec<Found>) {
    rows.sort_by_key(|r| (r.0, r.1, r.2));
    for run in rows.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
        let c = run[0].3;
        let set: Vec<usize> = run.iter().filter(|r| r.4).map(|r| r.2).collect();
        let count = set.len() as u64;
        if c.seq_min.is_some_and(|m| m > 0 && count < m) || c.seq_max.is_some_and(|m| count > m) {
            let expected = format!(
                "{}..{} items",
                c.seq_min.map(|m| m.to_string()).unwrap_or_default(),
                c.seq_max.map(|m| m.to_string()).unwrap_or_default()
            );
            out.push(found(run[0].2, "sequence_length", "error", format!("{count} items"), Some(expected)));
        }
        if c.seq_unique {
            let mut seen = HashSet::new();
            for &r in &set {
                if !seen.insert(normalized(c, b.value.value(r))) {
                    let message = "an item repeats an earlier item; the sequence must be unique".to_string();
                    out.push(found(r, "sequence_unique", "error", message, Some("unique items".into())));
                }
            }
        }
    }
}

/// A value as compared for uniqueness: numbers by value, the rest by text.
fn normalized(c: &Constraint, text: &str) -> String {
    match c.kind {
        Kind::Integer => value::parse_integer(text).ok().flatten().map(|v| v.to_string()),
        Kind::Decimal => value::parse_decimal(text).map(|v| v.0.to_string()),
        Kind::Boolean => value::parse_bool(text).map(|v| v.to_string()),
        // an enum given by value is its member
        Kind::Enum if value::is_digit_text(text) => value::parse_integer(text)
            .ok()
            .flatten()
            .and_then(|v| i64::try_from(v).ok())
            .and_then(|v| c.enum_members.get(&v).cloned()),
        _ => None,
    }
    .unwrap_or_else(|| text.to_string())
}

fn ranges_text(c: &Constraint) -> String {
    c.ranges
        .iter()
        .map(|(lo, hi)| match (lo, hi) {
            (Some(l), Some(h)) if l == h => value::scaled_to_string(*l),
            _ => format!(
                "{}..{}",
                lo.map(value::scaled_to_string).unwrap_or_default(),
                hi.map(value::scaled_to_string).unwrap_or_default()
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn in_ranges(c: &Constraint, v: i128) -> Option<&(Option<i128>, Option<i128>)> {
    c.ranges.iter().find(|(lo, hi)| lo.is_none_or(|l| v >= l) && hi.is_none_or(|h| v <= h))
}

/// The first check one value fails, in the order the models apply them.
pub(crate) fn check_value(c: &Constraint, text: &str) -> Option<Failure> {
    match c.kind {
        Kind::Integer => {
            let v = match value::parse_integer(text) {
                Err(()) => return Some(("type", format!("{} is not an integer", shown(text)), None)),
                Ok(None) => {
                    let message = format!("{} is outside the allowed values", shown(text));
                    return Some(("range", message, Some(ranges_text(c))));
                }
                Ok(Some(v)) => v * SCALE,
            };
            check_number(c, v)
        }
        Kind::Decimal => {
            let Some((v, places)) = value::parse_decimal(text) else {
                return Some(("type", format!("{} is not a decimal number", shown(text)), None));
            };
            if let Some(f) = check_number(c, v) {
                return Some(f);
            }
            match c.decimal_places {
                Some(max) if places > max => {
                    let message = format!("{} has {places} decimal places", shown(text));
                    Some(("decimal_places", message, Some(format!("at most {max} decimal places"))))
                }
                _ => None,
            }
        }
        Kind::Float => {
            let Some(v) = value::parse_float(text) else {
                return Some(("type", format!("{} is not a number", shown(text)), None));
            };
            let scale = SCALE as f64;
            let ok = c.ranges.is_empty()
                || c.ranges.iter().any(|(lo, hi)| {
                    lo.is_none_or(|l| v >= l as f64 / scale) && hi.is_none_or(|h| v <= h as f64 / scale)
                });
            (!ok).then(|| ("range", format!("{} is outside the allowed values", shown(text)), Some(ranges_text(c))))
        }
        Kind::Boolean => value::parse_bool(text)
            .is_none()
            .then(|| ("type", format!("{} is not a boolean", shown(text)), Some("true or false".into()))),
        Kind::Enum => {
            let names = c.enum_names.as_ref()?;
            let ok = if value::is_digit_text(text) {
                match &c.enum_values {
                    Some(values) => value::parse_integer(text)
                        .ok()
                        .flatten()
                        .is_some_and(|v| i64::try_from(v).is_ok_and(|v| values.contains(&v))),
                    None => names.contains(text),
                }
            } else {
                names.contains(text)
            };
            (!ok).then(|| {
                let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
                all.sort_unstable();
                let listed = if all.len() > 12 { format!("{}, …", all[..12].join(", ")) } else { all.join(", ") };
                ("enum", format!("{} is not a member", shown(text)), Some(format!("one of {listed}")))
            })
        }
        Kind::Moref => check_fdn(c.moref_target.as_deref().unwrap_or("ManagedObject"), text),
        Kind::Struct if text.is_empty() => None,
        Kind::Struct => Some(("type", format!("{} is not a struct value", shown(text)), Some("struct members".into()))),
        Kind::String | Kind::Unknown => {
            if c.length_min.is_some() || c.length_max.is_some() {
                let n = text.chars().count() as u64;
                if c.length_min.is_some_and(|m| n < m) || c.length_max.is_some_and(|m| n > m) {
                    let expected = format!(
                        "length {}..{}",
                        c.length_min.map(|m| m.to_string()).unwrap_or_default(),
                        c.length_max.map(|m| m.to_string()).unwrap_or_default()
                    );
                    return Some(("length", format!("{} has {n} characters", shown(text)), Some(expected)));
                }
            }
            match &c.pattern {
                Some(p) if !p.is_match(text) => Some((
                    "pattern",
                    format!("{} does not match the pattern", shown(text)),
                    Some(p.as_str().to_string()),
                )),
                _ => None,
            }
        }
    }
}

fn check_number(c: &Constraint, v: i128) -> Option<Failure> {
    if c.ranges.is_empty() {
        return None;
    }
    let Some((lo, hi)) = in_ranges(c, v) else {
        let message = format!("{} is outside the allowed values", value::scaled_to_string(v));
        return Some(("range", message, Some(ranges_text(c))));
    };
    let step = c.resolution?;
    if lo == hi {
        return None;
    }
    let origin = lo.unwrap_or(0);
    if (v - origin) % step != 0 {
        let (o, s) = (value::scaled_to_string(origin), value::scaled_to_string(step));
        let message = format!("{} is not {o} plus a multiple of the resolution {s}", value::scaled_to_string(v));
        return Some(("resolution", message, Some(format!("{o} + n × {s}"))));
    }
    None
}

/// An FDN (`Class=id,Class=id`) ending at an MO of `target` (any class for `ManagedObject`).
fn check_fdn(target: &str, text: &str) -> Option<Failure> {
    let mut last = "";
    for rdn in text.split(',') {
        let class = rdn.trim().split_once('=').map(|(c, _)| c);
        let valid = class.is_some_and(|c| {
            let mut chars = c.bytes();
            chars.next().is_some_and(|b| b.is_ascii_alphabetic())
                && chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        });
        if !valid {
            return Some(("moref", format!("{} is not an FDN", shown(text)), Some("Class=id,Class=id,…".into())));
        }
        last = class.unwrap_or("");
    }
    // the class of the last RDN, as Python's `split("=", 1)[0].strip()` reads it
    let last = last.trim();
    if target != "ManagedObject" && last != target {
        return Some(("moref", format!("{} names a {last}", shown(text)), Some(format!("an FDN of a {target}"))));
    }
    None
}

fn shown(text: &str) -> String {
    if text.chars().count() > 80 {
        format!("{:?}…", text.chars().take(80).collect::<String>())
    } else {
        format!("{text:?}")
    }
}

fn build_table(batches: &[Batch<'_>], results: Vec<(usize, Vec<Found>)>) -> Result<(Table, Vec<i64>)> {
    let mut out = ViolationColumns::default();
    let mut rows = Vec::new();
    let mut starts = Vec::with_capacity(batches.len());
    let mut at = 0i64;
    for b in batches {
        starts.push(at);
        at += b.value.len() as i64;
    }
    for (bi, found) in results {
        let b = &batches[bi];
        for f in found {
            rows.push(starts[bi] + f.row as i64);
            let fdn = b.fdn.ids[f.row] as usize;
            out.push(ViolationRow {
                subject: b.fdn.distinct[fdn],
                class: b.class_of[fdn].map(|c| b.classes[c as usize]),
                attribute: b.attribute.distinct[b.attribute.ids[f.row] as usize],
                member: b.member.distinct[b.member.ids[f.row] as usize],
                index: b.index.and_then(|ix| (!ix.is_null(f.row)).then(|| ix.value(f.row))),
                rule: f.rule,
                severity: f.severity,
                message: &f.message,
                value: Some(b.value.value(f.row)),
                expected: f.expected.as_deref(),
            });
        }
    }
    Ok((out.finish()?, rows))
}
