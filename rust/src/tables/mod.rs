//! Arrow schemas and builders: the single source of the column names and types of every table
//! the readers produce. `docs/tables.md` documents the same columns for users.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder, StructBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema};

/// Precision and scale of every exact number column: 20 integer digits hold any 64-bit
/// integer (signed or unsigned) exactly, 18 fraction digits hold any `decimal64`.
pub const DECIMAL_PRECISION: u8 = 38;
pub const DECIMAL_SCALE: i8 = 18;

pub fn decimal_type() -> DataType {
    DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
}

/// Parse a decimal number as written in models (`-300`, `0.1`, `18446744073709551615`,
/// `1.5E3`) into an i128 scaled by 10^18. `None` if it is not a number or does not fit.
pub fn parse_decimal(text: &str) -> Option<i128> {
    let t = text.trim();
    let (negative, rest) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
    // value = digits * 10^(exponent - frac_len); we want value * 10^18
    let mut shift = exponent - frac_part.len() as i32 + DECIMAL_SCALE as i32;
    while shift < 0 {
        // dropping digits is only exact if they are zero
        match digits.pop() {
            Some(0) => shift += 1,
            Some(_) => return None,
            None => return Some(0),
        }
    }
    let mut value: i128 = 0;
    for d in digits {
        value = value.checked_mul(10)?.checked_add(d as i128)?;
    }
    for _ in 0..shift {
        value = value.checked_mul(10)?;
    }
    if value >= 10i128.pow(DECIMAL_PRECISION as u32) {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// One allowed sub-range; either side may be open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bound {
    pub min: Option<String>,
    pub max: Option<String>,
}

/// Everything known about the type of an attribute, a struct member or a derived type's
/// base, after derived types are resolved. Numbers stay text until they are appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeSpec {
    /// The MP element naming the type: `long`, `int32`, `string`, `enumRef`, …
    pub base: Option<String>,
    pub ref_name: Option<String>,
    pub ref_mim: Option<String>,
    pub derived_type: Option<String>,
    pub derived_type_mim: Option<String>,
    pub is_sequence: bool,
    pub seq_min: Option<String>,
    pub seq_max: Option<String>,
    pub seq_non_unique: bool,
    pub seq_ordered: bool,
    pub seq_default: Vec<String>,
    pub ranges: Vec<Bound>,
    pub lengths: Vec<Bound>,
    pub default: Option<String>,
    pub unit: Option<String>,
    pub multiplication_factor: Option<String>,
    pub resolution: Option<String>,
    pub fraction_digits: Option<String>,
    pub undefined_value: Option<String>,
    pub pattern: Option<String>,
    /// `ipV4Address`, `ipV6Address`, `macAddress`, `date`, `time`, `alphabet`.
    pub format: Option<String>,
    pub passphrase: bool,
}

/// The value category of an MP base type, used by everything downstream.
pub fn kind_of(base: Option<&str>) -> &'static str {
    match base {
        Some(
            "long" | "longlong" | "short" | "octet" | "integer" | "int8" | "int16" | "int32" | "int64" | "uint8"
            | "uint16" | "uint32" | "uint64",
        ) => "integer",
        Some("double" | "float") => "float",
        Some("decimal64") => "decimal",
        Some("boolean") => "boolean",
        Some("string" | "wstring" | "char") => "string",
        Some("enumRef") => "enum",
        Some("structRef") => "struct",
        Some("moRef") => "moref",
        _ => "unknown",
    }
}

fn bound_fields() -> Fields {
    Fields::from(vec![Field::new("min", decimal_type(), true), Field::new("max", decimal_type(), true)])
}

fn bounds_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Struct(bound_fields()), true)))
}

fn new_bounds_builder(rows: usize) -> ListBuilder<StructBuilder> {
    let fields = bound_fields();
    let inner = StructBuilder::new(
        fields,
        vec![
            Box::new(Decimal128Builder::with_capacity(rows).with_data_type(decimal_type())),
            Box::new(Decimal128Builder::with_capacity(rows).with_data_type(decimal_type())),
        ],
    );
    ListBuilder::with_capacity(inner, rows).with_field(Arc::new(Field::new(
        "item",
        DataType::Struct(bound_fields()),
        true,
    )))
}

fn append_bounds(builder: &mut ListBuilder<StructBuilder>, bounds: &[Bound]) {
    let values = builder.values();
    for b in bounds {
        for (i, side) in [&b.min, &b.max].into_iter().enumerate() {
            let n = side.as_deref().and_then(parse_decimal);
            if let Some(col) = values.field_builder::<Decimal128Builder>(i) {
                col.append_option(n);
            }
        }
        values.append(true);
    }
    builder.append(true);
}

fn opt_i64(text: &Option<String>) -> Option<i64> {
    text.as_deref().and_then(|t| t.trim().parse::<i64>().ok())
}

/// Builds the type columns shared by `attributes`, `struct_members` and `derived_types`.
pub struct TypeColumns {
    kind: StringBuilder,
    base_type: StringBuilder,
    type_ref: StringBuilder,
    type_ref_mim: StringBuilder,
    derived_type: StringBuilder,
    derived_type_mim: StringBuilder,
    is_sequence: BooleanBuilder,
    seq_min: Int64Builder,
    seq_max: Int64Builder,
    seq_unique: BooleanBuilder,
    seq_ordered: BooleanBuilder,
    seq_default: ListBuilder<StringBuilder>,
    ranges: ListBuilder<StructBuilder>,
    length_min: Int64Builder,
    length_max: Int64Builder,
    length_ranges: ListBuilder<StructBuilder>,
    pattern: StringBuilder,
    format: StringBuilder,
    default: StringBuilder,
    unit: StringBuilder,
    multiplication_factor: StringBuilder,
    resolution: Decimal128Builder,
    fraction_digits: Int32Builder,
    undefined_value: StringBuilder,
    passphrase: BooleanBuilder,
}

impl Default for TypeColumns {
    fn default() -> Self {
        Self::new()
    }
}

impl TypeColumns {
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    /// Columns with room for `rows` rows (short texts of about 8 bytes) before they grow.
    pub fn with_capacity(rows: usize) -> Self {
        let text = || StringBuilder::with_capacity(rows, rows * 8);
        TypeColumns {
            kind: text(),
            base_type: text(),
            type_ref: text(),
            type_ref_mim: text(),
            derived_type: StringBuilder::new(),
            derived_type_mim: StringBuilder::new(),
            is_sequence: BooleanBuilder::with_capacity(rows),
            seq_min: Int64Builder::with_capacity(rows),
            seq_max: Int64Builder::with_capacity(rows),
            seq_unique: BooleanBuilder::with_capacity(rows),
            seq_ordered: BooleanBuilder::with_capacity(rows),
            seq_default: ListBuilder::new(StringBuilder::new()),
            ranges: new_bounds_builder(rows),
            length_min: Int64Builder::with_capacity(rows),
            length_max: Int64Builder::with_capacity(rows),
            length_ranges: new_bounds_builder(rows),
            pattern: StringBuilder::new(),
            format: StringBuilder::new(),
            default: text(),
            unit: text(),
            multiplication_factor: StringBuilder::new(),
            resolution: Decimal128Builder::with_capacity(rows).with_data_type(decimal_type()),
            fraction_digits: Int32Builder::with_capacity(rows),
            undefined_value: StringBuilder::new(),
            passphrase: BooleanBuilder::with_capacity(rows),
        }
    }

    /// Position of `type_ref_mim` among [`TypeColumns::fields`].
    pub const TYPE_REF_MIM: usize = 3;

    pub fn fields() -> Vec<Field> {
        let s = |n: &str| Field::new(n, DataType::Utf8, true);
        vec![
            Field::new("kind", DataType::Utf8, false),
            s("base_type"),
            s("type_ref"),
            s("type_ref_mim"),
            s("derived_type"),
            s("derived_type_mim"),
            Field::new("is_sequence", DataType::Boolean, false),
            Field::new("seq_min", DataType::Int64, true),
            Field::new("seq_max", DataType::Int64, true),
            Field::new("seq_unique", DataType::Boolean, true),
            Field::new("seq_ordered", DataType::Boolean, true),
            Field::new("seq_default", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), true),
            Field::new("ranges", bounds_type(), true),
            Field::new("length_min", DataType::Int64, true),
            Field::new("length_max", DataType::Int64, true),
            Field::new("length_ranges", bounds_type(), true),
            s("pattern"),
            s("format"),
            s("default"),
            s("unit"),
            s("multiplication_factor"),
            Field::new("resolution", decimal_type(), true),
            Field::new("fraction_digits", DataType::Int32, true),
            s("undefined_value"),
            Field::new("passphrase", DataType::Boolean, false),
        ]
    }

    pub fn append(&mut self, t: &TypeSpec) {
        self.kind.append_value(kind_of(t.base.as_deref()));
        self.base_type.append_option(t.base.as_deref());
        self.type_ref.append_option(t.ref_name.as_deref());
        self.type_ref_mim.append_option(t.ref_mim.as_deref());
        self.derived_type.append_option(t.derived_type.as_deref());
        self.derived_type_mim.append_option(t.derived_type_mim.as_deref());
        self.is_sequence.append_value(t.is_sequence);
        if t.is_sequence {
            self.seq_min.append_option(opt_i64(&t.seq_min));
            self.seq_max.append_option(opt_i64(&t.seq_max));
            self.seq_unique.append_value(!t.seq_non_unique);
            self.seq_ordered.append_value(t.seq_ordered);
            for v in &t.seq_default {
                self.seq_default.values().append_value(v);
            }
            self.seq_default.append(!t.seq_default.is_empty());
        } else {
            self.seq_min.append_null();
            self.seq_max.append_null();
            self.seq_unique.append_null();
            self.seq_ordered.append_null();
            self.seq_default.append(false);
        }
        if t.ranges.is_empty() {
            self.ranges.append(false);
        } else {
            append_bounds(&mut self.ranges, &t.ranges);
        }
        let lo = t.lengths.iter().filter_map(|b| opt_i64(&b.min)).min();
        let hi = if t.lengths.iter().any(|b| b.max.is_none()) {
            None
        } else {
            t.lengths.iter().filter_map(|b| opt_i64(&b.max)).max()
        };
        self.length_min.append_option(lo);
        self.length_max.append_option(hi);
        if t.lengths.is_empty() {
            self.length_ranges.append(false);
        } else {
            append_bounds(&mut self.length_ranges, &t.lengths);
        }
        self.pattern.append_option(t.pattern.as_deref());
        self.format.append_option(t.format.as_deref());
        self.default.append_option(t.default.as_deref());
        self.unit.append_option(t.unit.as_deref());
        self.multiplication_factor.append_option(t.multiplication_factor.as_deref());
        self.resolution.append_option(t.resolution.as_deref().and_then(parse_decimal));
        self.fraction_digits.append_option(t.fraction_digits.as_deref().and_then(|f| f.trim().parse::<i32>().ok()));
        self.undefined_value.append_option(t.undefined_value.as_deref());
        self.passphrase.append_value(t.passphrase);
    }

    pub fn finish(mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.kind.finish()),
            Arc::new(self.base_type.finish()),
            Arc::new(self.type_ref.finish()),
            Arc::new(self.type_ref_mim.finish()),
            Arc::new(self.derived_type.finish()),
            Arc::new(self.derived_type_mim.finish()),
            Arc::new(self.is_sequence.finish()),
            Arc::new(self.seq_min.finish()),
            Arc::new(self.seq_max.finish()),
            Arc::new(self.seq_unique.finish()),
            Arc::new(self.seq_ordered.finish()),
            Arc::new(self.seq_default.finish()),
            Arc::new(self.ranges.finish()),
            Arc::new(self.length_min.finish()),
            Arc::new(self.length_max.finish()),
            Arc::new(self.length_ranges.finish()),
            Arc::new(self.pattern.finish()),
            Arc::new(self.format.finish()),
            Arc::new(self.default.finish()),
            Arc::new(self.unit.finish()),
            Arc::new(self.multiplication_factor.finish()),
            Arc::new(self.resolution.finish()),
            Arc::new(self.fraction_digits.finish()),
            Arc::new(self.undefined_value.finish()),
            Arc::new(self.passphrase.finish()),
        ]
    }
}

/// Columns collected in schema order, turned into a [`RecordBatch`] at the end.
#[derive(Default)]
pub struct BatchParts {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl BatchParts {
    pub fn push(&mut self, field: Field, array: ArrayRef) -> &mut Self {
        self.fields.push(field);
        self.arrays.push(array);
        self
    }

    pub fn utf8(&mut self, name: &str, mut b: StringBuilder, nullable: bool) -> &mut Self {
        self.push(Field::new(name, DataType::Utf8, nullable), Arc::new(b.finish()))
    }

    pub fn boolean(&mut self, name: &str, mut b: BooleanBuilder, nullable: bool) -> &mut Self {
        self.push(Field::new(name, DataType::Boolean, nullable), Arc::new(b.finish()))
    }

    pub fn int64(&mut self, name: &str, mut b: Int64Builder) -> &mut Self {
        self.push(Field::new(name, DataType::Int64, true), Arc::new(b.finish()))
    }

    pub fn int32(&mut self, name: &str, mut b: Int32Builder) -> &mut Self {
        self.push(Field::new(name, DataType::Int32, true), Arc::new(b.finish()))
    }

    /// A list of texts (never null; an empty list where there is none).
    pub fn list_utf8(&mut self, name: &str, mut b: ListBuilder<StringBuilder>) -> &mut Self {
        let item = Arc::new(Field::new("item", DataType::Utf8, true));
        self.push(Field::new(name, DataType::List(item), false), Arc::new(b.finish()))
    }

    pub fn types(&mut self, t: TypeColumns) -> &mut Self {
        self.type_arrays(t.finish())
    }

    /// The type columns, finished (in [`TypeColumns::fields`] order).
    pub fn type_arrays(&mut self, arrays: Vec<ArrayRef>) -> &mut Self {
        for (f, a) in TypeColumns::fields().into_iter().zip(arrays) {
            self.push(f, a);
        }
        self
    }

    pub fn finish(self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(Arc::new(Schema::new(self.fields)), self.arrays)
    }
}

/// A named output table: one batch, or one per part of a file read in parallel, all with the
/// same schema.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: &'static str,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    pub fn new(name: &'static str, batch: RecordBatch) -> Table {
        Table { name, batches: vec![batch] }
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// All rows in one batch.
    pub fn concat(&self) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
        match self.batches.as_slice() {
            [one] => Ok(one.clone()),
            [first, ..] => arrow_select::concat::concat_batches(&first.schema(), &self.batches),
            [] => Err(arrow_schema::ArrowError::InvalidArgumentError(format!("table {} has no batches", self.name))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        let e18 = 10i128.pow(18);
        assert_eq!(parse_decimal("-300"), Some(-300 * e18));
        assert_eq!(parse_decimal("0.1"), Some(e18 / 10));
        assert_eq!(parse_decimal("18446744073709551615"), Some(18446744073709551615i128 * e18));
        assert_eq!(parse_decimal("-9223372036854775808"), Some(-9223372036854775808i128 * e18));
        assert_eq!(parse_decimal("1.5E3"), Some(1500 * e18));
        assert_eq!(parse_decimal(" 7 "), Some(7 * e18));
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("1e30"), None);
        assert_eq!(parse_decimal("0.0000000000000000001"), None);
    }

    #[test]
    fn type_columns_match_fields() {
        let mut t = TypeColumns::new();
        t.append(&TypeSpec {
            base: Some("long".into()),
            ranges: vec![Bound { min: Some("0".into()), max: Some("10".into()) }],
            ..TypeSpec::default()
        });
        let arrays = t.finish();
        let fields = TypeColumns::fields();
        assert_eq!(arrays.len(), fields.len());
        for (a, f) in arrays.iter().zip(&fields) {
            assert_eq!(a.data_type(), f.data_type(), "{}", f.name());
        }
    }
}
