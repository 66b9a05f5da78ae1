//! Per-attribute constraints, compiled from a constraints table and evaluated column-wise over
//! Network values on all cores. The table is written by the Python layer from the same field
//! types the Pydantic models are generated from (`rtbfast.rules.constraints`), and every check
//! reads a value's text the way the models do ([`value`]), so both reach the same verdicts.

mod evaluate;
pub mod limits;
pub mod user;
pub mod value;

use std::sync::Arc;

use arrow_array::builder::{Int32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

pub use evaluate::{evaluate, evaluate_rows};

use crate::error::{Error, Location, Result};
use crate::tables::Table;

/// Maps and sets hashed with rustc's Fx hash (rustc-hash 2: keys are small integers, names
/// and FDNs, hashed per value row; its string hash spreads FDNs that share long prefixes).
pub type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;
pub type FastSet<K> = rustc_hash::FxHashSet<K>;

/// What a value must be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Float,
    Decimal,
    Boolean,
    String,
    Enum,
    Struct,
    Moref,
    /// Any text (an unresolved type).
    Unknown,
}

impl Kind {
    fn parse(text: &str) -> Kind {
        match text {
            "integer" => Kind::Integer,
            "float" => Kind::Float,
            "decimal" => Kind::Decimal,
            "boolean" => Kind::Boolean,
            "string" => Kind::String,
            "enum" => Kind::Enum,
            "struct" => Kind::Struct,
            "moref" => Kind::Moref,
            _ => Kind::Unknown,
        }
    }
}

/// Everything one attribute (or one member of a struct attribute) must satisfy.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub class: String,
    pub attribute: String,
    pub member: Option<String>,
    pub kind: Kind,
    /// Allowed sub-ranges, scaled by 10^18; either side may be open. Empty: no range check.
    pub ranges: Vec<(Option<i128>, Option<i128>)>,
    pub resolution: Option<i128>,
    pub decimal_places: Option<u32>,
    pub length_min: Option<u64>,
    pub length_max: Option<u64>,
    pub pattern: Option<regex::Regex>,
    /// Member names of an enum (`None`: any text, the enum is not in the catalog).
    pub enum_names: Option<FastSet<String>>,
    /// Member values, for enums whose members all have one.
    pub enum_values: Option<FastSet<i64>>,
    /// The member of each value, for numbered enums.
    pub enum_members: FastMap<i64, String>,
    pub moref_target: Option<String>,
    pub is_sequence: bool,
    pub seq_min: Option<u64>,
    pub seq_max: Option<u64>,
    pub seq_unique: bool,
    /// Struct members that make an item of a unique sequence unique (empty: all of them).
    pub unique_by: Vec<String>,
    /// An exclusive struct: exactly one member set.
    pub exclusive: bool,
}

/// A row of the constraints table that could not be compiled; it is left out, the others run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub row: usize,
    pub class: String,
    pub attribute: String,
    pub message: String,
}

/// Compiled constraints, looked up by class, attribute and member.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub constraints: Vec<Constraint>,
    index: FastMap<String, FastMap<(String, Option<String>), usize>>,
}

impl RuleSet {
    /// Compile the rows of a constraints table (see `docs/rules.md` for its columns).
    pub fn compile(batches: &[RecordBatch]) -> Result<(RuleSet, Vec<Problem>)> {
        let mut set = RuleSet::default();
        let mut problems = Vec::new();
        let mut row_base = 0;
        for batch in batches {
            let c = Columns::of(batch)?;
            for i in 0..batch.num_rows() {
                let (class, attribute) = (c.class.value(i).to_string(), c.attribute.value(i).to_string());
                match c.constraint(i) {
                    Ok((constraint, note)) => {
                        if let Some(message) = note {
                            problems.push(Problem { row: row_base + i, class, attribute, message });
                        }
                        set.insert(constraint)
                    }
                    Err(message) => problems.push(Problem { row: row_base + i, class, attribute, message }),
                }
            }
            row_base += batch.num_rows();
        }
        Ok((set, problems))
    }

    fn insert(&mut self, c: Constraint) {
        let id = self.constraints.len();
        let key = (c.attribute.clone(), c.member.clone());
        self.index.entry(c.class.clone()).or_default().insert(key, id);
        self.constraints.push(c);
    }

    pub fn knows_class(&self, class: &str) -> bool {
        self.index.contains_key(class)
    }

    pub fn lookup(&self, class: &str, attribute: &str, member: Option<&str>) -> Option<usize> {
        let by_class = self.index.get(class)?;
        by_class.get(&(attribute.to_string(), member.map(str::to_string))).copied()
    }
}

fn missing(column: &str, expected: &str) -> Error {
    Error::Value {
        loc: Location { file: "constraints table".into(), element: column.into(), ..Location::default() },
        message: format!("column {column:?} is missing or not {expected}"),
    }
}

/// The columns of one constraints batch, typed.
struct Columns<'a> {
    class: &'a arrow_array::StringArray,
    attribute: &'a arrow_array::StringArray,
    member: &'a arrow_array::StringArray,
    kind: &'a arrow_array::StringArray,
    ranges: &'a arrow_array::ListArray,
    resolution: &'a arrow_array::Decimal128Array,
    decimal_places: &'a arrow_array::Int32Array,
    length_min: &'a arrow_array::Int64Array,
    length_max: &'a arrow_array::Int64Array,
    pattern: &'a arrow_array::StringArray,
    enum_names: &'a arrow_array::ListArray,
    enum_values: &'a arrow_array::ListArray,
    moref_target: &'a arrow_array::StringArray,
    is_sequence: &'a arrow_array::BooleanArray,
    seq_min: &'a arrow_array::Int64Array,
    seq_max: &'a arrow_array::Int64Array,
    seq_unique: &'a arrow_array::BooleanArray,
    unique_by: &'a arrow_array::ListArray,
    exclusive: &'a arrow_array::BooleanArray,
}

fn column<'a>(batch: &'a RecordBatch, name: &str, want: &DataType) -> Result<&'a ArrayRef> {
    let col = batch.column_by_name(name).ok_or_else(|| missing(name, &format!("{want}")))?;
    let ok = match (col.data_type(), want) {
        (DataType::List(_), DataType::List(_)) => true,
        (a, b) => a == b,
    };
    if ok {
        Ok(col)
    } else {
        Err(missing(name, &format!("{want} (it is {})", col.data_type())))
    }
}

impl<'a> Columns<'a> {
    fn of(b: &'a RecordBatch) -> Result<Self> {
        let utf8 = |n: &str| column(b, n, &DataType::Utf8).map(|c| c.as_string::<i32>());
        let i64c = |n: &str| column(b, n, &DataType::Int64).map(|c| c.as_primitive::<Int64Type>());
        let boolc = |n: &str| column(b, n, &DataType::Boolean).map(|c| c.as_boolean());
        let list = |n: &str| {
            let any = DataType::List(std::sync::Arc::new(arrow_schema::Field::new("item", DataType::Null, true)));
            column(b, n, &any).map(|c| c.as_list::<i32>())
        };
        let decimal = crate::tables::decimal_type();
        Ok(Columns {
            class: utf8("class")?,
            attribute: utf8("attribute")?,
            member: utf8("member")?,
            kind: utf8("kind")?,
            ranges: list("ranges")?,
            resolution: column(b, "resolution", &decimal)?.as_primitive::<Decimal128Type>(),
            decimal_places: column(b, "decimal_places", &DataType::Int32)?.as_primitive::<Int32Type>(),
            length_min: i64c("length_min")?,
            length_max: i64c("length_max")?,
            pattern: utf8("pattern")?,
            enum_names: list("enum_names")?,
            enum_values: list("enum_values")?,
            moref_target: utf8("moref_target")?,
            is_sequence: boolc("is_sequence")?,
            seq_min: i64c("seq_min")?,
            seq_max: i64c("seq_max")?,
            seq_unique: boolc("seq_unique")?,
            unique_by: list("unique_by")?,
            exclusive: boolc("exclusive")?,
        })
    }

    /// The constraint of row `i`, and what of it is not enforced (a pattern the regex engine
    /// cannot compile: the attribute's other checks still run).
    fn constraint(&self, i: usize) -> std::result::Result<(Constraint, Option<String>), String> {
        let text = |a: &arrow_array::StringArray| (!a.is_null(i)).then(|| a.value(i).to_string());
        let int = |a: &arrow_array::Int64Array| (!a.is_null(i)).then(|| a.value(i).max(0) as u64);
        let flag = |a: &arrow_array::BooleanArray| !a.is_null(i) && a.value(i);
        let mut ranges = Vec::new();
        if !self.ranges.is_null(i) {
            let bounds = self.ranges.value(i);
            let bounds = bounds.as_struct_opt().ok_or("ranges items are not {min, max}")?;
            let lo = bounds.column_by_name("min").and_then(|c| c.as_primitive_opt::<Decimal128Type>());
            let hi = bounds.column_by_name("max").and_then(|c| c.as_primitive_opt::<Decimal128Type>());
            let (lo, hi) = lo.zip(hi).ok_or("ranges items are not {min: decimal, max: decimal}")?;
            for j in 0..bounds.len() {
                ranges.push(((!lo.is_null(j)).then(|| lo.value(j)), (!hi.is_null(j)).then(|| hi.value(j))));
            }
        }
        let (pattern, note) = match text(self.pattern) {
            Some(p) => match regex::Regex::new(&p) {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(format!("pattern {p:?} is not enforced: it cannot be compiled: {e}"))),
            },
            None => (None, None),
        };
        let names: Option<Vec<String>> = if self.enum_names.is_null(i) {
            None
        } else {
            let names = self.enum_names.value(i);
            let names = names.as_string_opt::<i32>().ok_or("enum_names items are not text")?;
            Some(names.iter().flatten().map(str::to_string).collect())
        };
        let values: Option<Vec<i64>> = if self.enum_values.is_null(i) {
            None
        } else {
            let values = self.enum_values.value(i);
            let v = values.as_primitive_opt::<Int64Type>().ok_or("enum_values items are not int64")?;
            Some(v.iter().flatten().collect())
        };
        // a numbered enum's values, in the order of its names: a value text means its member
        let enum_members: FastMap<i64, String> = match (&names, &values) {
            (Some(n), Some(v)) if n.len() == v.len() => v.iter().copied().zip(n.iter().cloned()).collect(),
            _ => FastMap::default(),
        };
        let enum_names = names.map(|n| n.into_iter().collect::<FastSet<String>>());
        let enum_values = values.map(|v| v.into_iter().collect::<FastSet<i64>>());
        let unique_by = if self.unique_by.is_null(i) {
            Vec::new()
        } else {
            let keys = self.unique_by.value(i);
            let keys = keys.as_string_opt::<i32>().ok_or("unique_by items are not text")?;
            keys.iter().flatten().map(str::to_string).collect()
        };
        let constraint = Constraint {
            class: self.class.value(i).to_string(),
            attribute: self.attribute.value(i).to_string(),
            member: text(self.member),
            kind: Kind::parse(self.kind.value(i)),
            ranges,
            resolution: (!self.resolution.is_null(i)).then(|| self.resolution.value(i)).filter(|r| *r > 0),
            decimal_places: (!self.decimal_places.is_null(i)).then(|| self.decimal_places.value(i).max(0) as u32),
            length_min: int(self.length_min),
            length_max: int(self.length_max),
            pattern,
            enum_names,
            enum_values,
            enum_members,
            moref_target: text(self.moref_target),
            is_sequence: flag(self.is_sequence),
            seq_min: int(self.seq_min),
            seq_max: int(self.seq_max),
            seq_unique: flag(self.seq_unique),
            unique_by,
            exclusive: flag(self.exclusive),
        };
        Ok((constraint, note))
    }
}

/// The thread pool an evaluation runs on: `threads` threads (0: one per core), each with a
/// stack of [`limits::STACK_BYTES`] (rules are parsed and evaluated by recursion).
fn pool(threads: usize) -> Result<std::sync::Arc<rayon::ThreadPool>> {
    crate::pools::pool(threads, limits::STACK_BYTES, "evaluation")
}

/// One violation row, as both evaluators write it.
pub struct ViolationRow<'a> {
    pub subject: Option<&'a str>,
    pub class: Option<&'a str>,
    pub attribute: Option<&'a str>,
    pub member: Option<&'a str>,
    pub index: Option<i32>,
    pub rule: &'a str,
    pub severity: &'a str,
    pub message: &'a str,
    pub value: Option<&'a str>,
    pub expected: Option<&'a str>,
}

/// The columns of the `violations` table (`VIOLATIONS_SCHEMA` on the Python side), built row by row.
#[derive(Default)]
pub struct ViolationColumns {
    subject: StringBuilder,
    class: StringBuilder,
    attribute: StringBuilder,
    member: StringBuilder,
    index: Int32Builder,
    rule: StringBuilder,
    severity: StringBuilder,
    message: StringBuilder,
    value: StringBuilder,
    expected: StringBuilder,
}

impl ViolationColumns {
    pub fn push(&mut self, r: ViolationRow<'_>) {
        self.subject.append_option(r.subject);
        self.class.append_option(r.class);
        self.attribute.append_option(r.attribute);
        self.member.append_option(r.member);
        self.index.append_option(r.index);
        self.rule.append_value(r.rule);
        self.severity.append_value(r.severity);
        self.message.append_value(r.message);
        self.value.append_option(r.value);
        self.expected.append_option(r.expected);
    }

    pub fn finish(mut self) -> Result<Table> {
        let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
        let schema = Schema::new(vec![
            text("subject", true),
            text("class", true),
            text("attribute", true),
            text("member", true),
            Field::new("index", DataType::Int32, true),
            text("rule", false),
            text("severity", false),
            text("message", false),
            text("value", true),
            text("expected", true),
        ]);
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.subject.finish()),
            Arc::new(self.class.finish()),
            Arc::new(self.attribute.finish()),
            Arc::new(self.member.finish()),
            Arc::new(self.index.finish()),
            Arc::new(self.rule.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.expected.finish()),
        ];
        let batch = RecordBatch::try_new(Arc::new(schema), arrays)
            .map_err(|e| Error::Value { loc: Location::default(), message: format!("violations table: {e}") })?;
        Ok(Table::new("violations", batch))
    }
}

#[cfg(test)]
pub(crate) mod tests;
