//! The 3GPP Bulk CM vocabulary (TS 32.615/32.616 `bulkCmConfigDataFile`) turned into network
//! tables: `mos` (one row per managed object, FDN from the nesting) and `values` (one row per
//! leaf value, long form), plus what the export tells about the model: `vs_types` and
//! `observed_attributes`.
//!
//! Namespaces are matched by local name: Ericsson exports bind bare schema file names
//! (`xmlns:xn="genericNrm.xsd"`), standard files bind 3GPP URIs. A `VsDataContainer` whose
//! class is the class of the standard NRM element it sits in (`un:UtranCell` holding
//! `vsDataUtranCell`) carries that same MO's vendor attributes; it is not a child MO.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int32Builder, Int64Builder, StringBuilder, StringDictionaryBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field};
use quick_xml::events::BytesStart;
use rustc_hash::FxHashMap as HashMap;

use crate::error::{Error, Location, Result};
use crate::names;
use crate::tables::{parse_decimal, BatchParts, Table};

mod chunks;
mod parallel;
use crate::xml::{drive_span_with, local, locate_warnings, split, Cx, Handler, Progress, Span, Warning};
pub use chunks::{chunks, read_chunk, Chunk};
pub use parallel::{stream, Group, Streamer};

/// Everything read from one Bulk CM file.
pub struct BulkCmResult {
    pub tables: Vec<Table>,
    pub warnings: Vec<Warning>,
    /// `fileHeader`, `configData` and `fileFooter` attributes, e.g. `fileFormatVersion`.
    pub header: BTreeMap<String, String>,
}

/// Read a Bulk CM configuration data file into network tables, on every core.
pub fn read_bulkcm(path: &Path, progress: Option<&Progress>) -> Result<BulkCmResult> {
    read_bulkcm_with(path, progress, 0)
}

/// Read a Bulk CM configuration data file on up to `threads` threads (0: one per core); an
/// export is cut before `MeContext` elements into parts of at least
/// [`split::MIN_SPAN`]. The tables hold the same rows whatever the number of threads.
///
/// `path` may name a gzip or bzip2 file, a zip archive of one XML member or a member
/// `archive.zip!member.xml` ([`crate::input`]): it is then read as it is decompressed.
pub fn read_bulkcm_with(path: &Path, progress: Option<&Progress>, threads: usize) -> Result<BulkCmResult> {
    let (input, listed) = crate::input::one(path)?;
    let path = &input.path();
    let mut found = None;
    if let Some(plan) = split::plan(path, threads, "bulkCmConfigDataFile")? {
        found = parallel::read_spans(path, plan, progress)?;
        if found.is_none() {
            split::restart(progress);
        }
    }
    let (readers, seeded, raw) = match found {
        Some(parallel::Parts { readers, seeded, warnings }) => (readers, seeded, warnings),
        None => {
            let mut reader = BulkCmReader::default();
            let end = drive_span_with(path, &Span::default(), &mut reader, progress, threads)
                .map_err(|e| e.with_line_column(path))?;
            (vec![reader], 0, end.warnings)
        }
    };
    let file = path.display().to_string();
    let mut warnings = listed;
    warnings.extend(locate_warnings(path, &file, raw));
    let (tables, header) = finish_parts(readers, seeded, false)
        .map_err(|err| Error::Value { loc: Location { file, ..Location::default() }, message: err.to_string() })?;
    Ok(BulkCmResult { tables, warnings, header })
}

/// Text the reader derives from the nesting (each MO's FDN and parent FDN, each value's
/// member path) may take this many times the bytes read, plus [`DERIVED_BASE`]. Real exports
/// take less than half their size; deep nesting under long ids would otherwise grow with the
/// square of the input.
pub const DERIVED_PER_BYTE: u64 = 16;
/// See [`DERIVED_PER_BYTE`].
pub const DERIVED_BASE: u64 = 64 << 20;

/// Standard class names written with odd casing in some files (`xn:meContext`).
const CANONICAL: [&str; 4] = ["SubNetwork", "MeContext", "ManagedElement", "VsDataContainer"];

fn canonical_class(name: &str) -> String {
    CANONICAL.iter().find(|c| c.eq_ignore_ascii_case(name)).map(|c| c.to_string()).unwrap_or_else(|| name.to_string())
}

/// Names that repeat on many rows (classes, vsDataTypes, format versions), kept once.
#[derive(Debug, Default, Clone)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// The `mos` table as it is read: a row is written once its MO's class is known, so no MO
/// is kept as a Rust value. The vsDataType and format version of a row can still change (a
/// vendor extension read after its standard MO), so those are kept as names until the end.
#[derive(Default)]
struct MoColumns {
    fdn: StringBuilder,
    id: StringBuilder,
    parent_fdn: StringBuilder,
    depth: Int32Builder,
    modifier: StringBuilder,
    class: Vec<u32>,
    vs_data_type: Vec<Option<u32>>,
    format_version: Vec<Option<u32>>,
    names: Names,
}

impl MoColumns {
    fn len(&self) -> usize {
        self.class.len()
    }

    /// A copy (of the few MOs enclosing a cut) for the reader of a later part.
    fn copy(&self) -> MoColumns {
        let mut out = MoColumns { names: self.names.clone(), ..MoColumns::default() };
        let (fdn, id, parent) = (self.fdn.finish_cloned(), self.id.finish_cloned(), self.parent_fdn.finish_cloned());
        let (depth, modifier) = (self.depth.finish_cloned(), self.modifier.finish_cloned());
        for i in 0..self.len() {
            out.fdn.append_value(fdn.value(i));
            out.id.append_value(id.value(i));
            out.parent_fdn.append_option(parent.is_valid(i).then(|| parent.value(i)));
            out.depth.append_value(depth.value(i));
            out.modifier.append_option(modifier.is_valid(i).then(|| modifier.value(i)));
        }
        out.class.clone_from(&self.class);
        out.vs_data_type.clone_from(&self.vs_data_type);
        out.format_version.clone_from(&self.format_version);
        out
    }

    /// The `mos` batch, and its FDN column for the values' dictionary.
    fn finish(self) -> std::result::Result<(RecordBatch, StringArray), ArrowError> {
        let MoColumns { mut fdn, id, parent_fdn, depth, modifier, class, vs_data_type, format_version, names } = self;
        let strings = |ids: &[Option<u32>]| {
            let mut b = StringBuilder::with_capacity(ids.len(), 0);
            for i in ids {
                b.append_option(i.map(|i| names.name(i)));
            }
            b
        };
        let mut class_column = StringBuilder::with_capacity(class.len(), 0);
        for &c in &class {
            class_column.append_value(names.name(c));
        }
        let fdn_array: StringArray = fdn.finish();
        let mut p = BatchParts::default();
        p.push(Field::new("fdn", DataType::Utf8, false), Arc::new(fdn_array.clone()))
            .utf8("class", class_column, false)
            .utf8("id", id, false)
            .utf8("parent_fdn", parent_fdn, true)
            .int32("depth", depth)
            .utf8("vs_data_type", strings(&vs_data_type), true)
            .utf8("format_version", strings(&format_version), true)
            .utf8("modifier", modifier, true);
        Ok((p.finish()?, fdn_array))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Root,
    Header,
    ConfigData,
    /// An MO element; the index is into `open`.
    Mo,
    /// `attributes` of an MO.
    Attributes,
    VsType,
    VsFormat,
    /// `vsData<Class>`: the vendor attributes.
    Payload,
    /// An attribute element (depth 1 below `attributes` or the payload).
    Attr,
    /// A member of a struct value, at any depth below an attribute.
    Member,
}

/// An MO element being read.
#[derive(Debug, Clone)]
struct OpenMo {
    /// Row of `mos` where values go once placed (the parent's for a vendor extension).
    row: u32,
    /// The class as written (standard MOs), or from `vsDataType` once placed.
    class: String,
    id: String,
    modifier: Option<String>,
    /// Depth of the row (0 for the outermost MO).
    depth: i32,
    /// Length of `fdn` before this MO's RDN was added.
    fdn_mark: usize,
    is_container: bool,
    /// Class known (standard MOs at once; containers after `vsDataType`).
    placed: bool,
    /// Values seen before the class was known; flushed when it is.
    held: Vec<HeldValue>,
    /// Occurrences of each attribute (in `attribute_names`) so far.
    occurrences: HashMap<u32, i32>,
    vs_data_type: Option<String>,
    format_version: Option<String>,
}

#[derive(Debug, Clone)]
struct HeldValue {
    attribute: u32,
    member: Option<String>,
    index: i32,
    member_index: Option<i32>,
    value: String,
    vs_data: bool,
}

/// What is being built of the current attribute value.
#[derive(Debug, Default)]
struct AttrState {
    /// The attribute, in `attribute_names`.
    name: u32,
    index: i32,
    vs_data: bool,
    has_children: bool,
    /// Member path below the attribute; one entry per open member element.
    members: Vec<String>,
    /// Per open level: occurrences of each child name so far.
    member_counts: Vec<Vec<(String, i32)>>,
    member_index: Option<i32>,
    leaf_open: bool,
}

/// The names attribute elements carry, each decoded and stored once, and the dictionary key
/// each has in the values' attribute column once a value used it.
#[derive(Debug, Default)]
struct AttributeNames {
    ids: HashMap<Box<[u8]>, u32>,
    names: Vec<String>,
    keys: Vec<i32>,
    /// Names by key.
    used: Vec<u32>,
}

impl AttributeNames {
    /// The id of a name, checked (`crate::names`) when first seen.
    fn id(&mut self, tag: &[u8]) -> std::result::Result<u32, String> {
        if let Some(&id) = self.ids.get(tag) {
            return Ok(id);
        }
        let name = String::from_utf8_lossy(tag).into_owned();
        names::check_attribute(&name)?;
        let id = self.names.len() as u32;
        self.names.push(name);
        self.keys.push(-1);
        self.ids.insert(tag.into(), id);
        Ok(id)
    }

    /// The dictionary key of name `id`, given the next one when it has none yet.
    fn key(&mut self, id: u32) -> i32 {
        let key = &mut self.keys[id as usize];
        if *key < 0 {
            *key = self.used.len() as i32;
            self.used.push(id);
        }
        *key
    }

    /// The same names and ids for a reader of a later part, which has its own dictionary.
    fn continuing(&self) -> AttributeNames {
        AttributeNames {
            ids: self.ids.clone(),
            names: self.names.clone(),
            keys: vec![-1; self.names.len()],
            used: Vec::new(),
        }
    }

    /// The dictionary's values.
    fn values(&self) -> StringArray {
        StringArray::from_iter_values(self.used.iter().map(|&id| self.names[id as usize].as_str()))
    }
}

#[derive(Debug, Default)]
struct Observed {
    values: i64,
    empty: i64,
    integer: bool,
    number: bool,
    boolean: bool,
    max_occurs: i32,
    has_members: bool,
    example: Option<String>,
}

#[derive(Default)]
struct BulkCmReader {
    stack: Vec<Frame>,
    skip_depth: usize,
    header: BTreeMap<String, String>,
    fdn: String,
    mos: MoColumns,
    open: Vec<OpenMo>,
    attr: AttrState,
    values_mo: Int32Builder,
    /// Attribute names, each read once; the values' attribute column is a dictionary over
    /// those values name, in order of first use (`attribute_keys`).
    attribute_names: AttributeNames,
    values_attribute: Int32Builder,
    values_member: StringDictionaryBuilder<Int32Type>,
    values_index: Int32Builder,
    values_member_index: Int32Builder,
    values_value: StringBuilder,
    values_vs: BooleanBuilder,
    /// (class in `mos.names`, attribute key and member key (-1: none) in the values
    /// dictionaries) → what its values looked like. Keys, not names: no name is hashed twice.
    observed: HashMap<(u32, i32, i32), Observed>,
    /// Why a values dictionary refused a name (more than 2^31 of them); the read fails.
    failed: Option<ArrowError>,
    vs_types: BTreeMap<String, (String, Option<String>, i64)>,
    /// Bytes of derived text so far (see [`DERIVED_PER_BYTE`]), where this reader's part of
    /// the file starts, and the error once the budget is spent.
    derived: u64,
    first_offset: Option<u64>,
    refused: Option<Error>,
}

impl Observed {
    /// Add what a later part of the file saw of the same attribute.
    fn merge(&mut self, later: Observed) {
        let (mine, theirs) = (self.values - self.empty, later.values - later.empty);
        if mine == 0 {
            self.integer = later.integer;
            self.number = later.number;
            self.boolean = later.boolean;
            self.example = later.example;
        } else if theirs > 0 {
            self.integer &= later.integer;
            self.number &= later.number;
            self.boolean &= later.boolean;
        }
        self.values += later.values;
        self.empty += later.empty;
        self.max_occurs = self.max_occurs.max(later.max_occurs);
        self.has_members |= later.has_members;
    }
}

fn classify(o: &mut Observed, value: &str) {
    o.values += 1;
    if value.is_empty() {
        o.empty += 1;
        return;
    }
    let first = o.values - o.empty == 1;
    if !first && !o.integer && !o.number && !o.boolean {
        return; // text: nothing left to learn from its values
    }
    let is_int = (first || o.integer || o.number) && value.trim().parse::<i128>().is_ok();
    let is_num = is_int || ((first || o.number) && parse_decimal(value).is_some());
    let is_bool = value == "true" || value == "false";
    if first {
        o.integer = is_int;
        o.number = is_num;
        o.boolean = is_bool;
        o.example = Some(value.chars().take(80).collect());
    } else {
        o.integer &= is_int;
        o.number &= is_num;
        o.boolean &= is_bool;
    }
}

impl BulkCmReader {
    /// A reader for a later part of the file, starting where `prefix` stopped: the same open
    /// elements and MOs, and the rows read so far (which the merge drops again).
    fn continuing(prefix: &BulkCmReader) -> BulkCmReader {
        BulkCmReader {
            stack: prefix.stack.clone(),
            fdn: prefix.fdn.clone(),
            mos: prefix.mos.copy(),
            open: prefix.open.clone(),
            // the open MOs count occurrences by the prefix's name ids
            attribute_names: prefix.attribute_names.continuing(),
            ..BulkCmReader::default()
        }
    }

    /// Whether this reader stands where `prefix` stopped (between two MOs of the same parents).
    fn stands_where(&self, prefix: &BulkCmReader) -> bool {
        self.skip_depth == 0
            && self.stack == prefix.stack
            && self.fdn == prefix.fdn
            && self.open.len() == prefix.open.len()
            && self.open.iter().zip(&prefix.open).all(|(a, b)| a.row == b.row && a.placed && b.placed)
    }

    fn skip(&mut self) -> Result<bool> {
        self.skip_depth = 1;
        Ok(false)
    }

    fn push(&mut self, frame: Frame, text: bool) -> Result<bool> {
        self.stack.push(frame);
        Ok(text)
    }

    /// Open an MO element.
    fn start_mo(&mut self, cx: &mut Cx, tag: &[u8], e: &BytesStart) -> Result<bool> {
        self.place_current(cx);
        let name = String::from_utf8_lossy(local(tag)).into_owned();
        let class = canonical_class(&name);
        let mut id = None;
        let mut modifier = None;
        for (k, v) in cx.attrs(e)? {
            match k.as_str() {
                "id" => id = Some(v),
                "modifier" => modifier = Some(v),
                _ => {}
            }
        }
        let Some(id) = id else {
            return Err(cx.value_error(format!("<{name}> has no id attribute (the MO's RDN value)")));
        };
        names::check_mo_id(&id).map_err(|why| cx.value_error(format!("<{name} id=…>: {why}")))?;
        cx.annotate(&id);
        let is_container = class == "VsDataContainer";
        if !is_container {
            names::check_class(&class).map_err(|why| cx.value_error(format!("<{name}>: {why}")))?;
        }
        let depth = self.open.last().map_or(0, |o| o.depth + 1);
        let fdn_mark = self.fdn.len();
        self.open.push(OpenMo {
            row: u32::MAX,
            class: if is_container { String::new() } else { class },
            id,
            modifier,
            depth,
            fdn_mark,
            is_container,
            placed: false,
            held: Vec::new(),
            occurrences: HashMap::default(),
            vs_data_type: None,
            format_version: None,
        });
        if !is_container {
            self.place_current(cx);
        }
        self.push(Frame::Mo, false)
    }

    /// Fix the class and FDN of the innermost open MO once they are known, and write its row.
    fn place_current(&mut self, cx: &mut Cx) {
        let n = self.open.len();
        let Some(open) = self.open.last_mut() else { return };
        if open.placed {
            return;
        }
        open.placed = true;
        if open.is_container {
            match open.vs_data_type.as_deref() {
                Some(t) => {
                    open.class = t.strip_prefix("vsData").unwrap_or(t).to_string();
                    if let Err(why) = names::check_class(&open.class) {
                        self.refused.get_or_insert_with(|| cx.value_error(format!("vsDataType {t:?}: {why}")));
                    }
                    if !t.starts_with("vsData") {
                        cx.warn(format!(
                            "vsDataType {t:?} does not start with \"vsData\"; used as the class name as is"
                        ));
                    }
                }
                None => {
                    cx.warn("VsDataContainer without vsDataType; its class is recorded as VsDataContainer");
                    open.class = "VsDataContainer".into();
                }
            }
            // A container inside the standard element of the same class is that MO's
            // vendor extension: its values belong to the parent row.
            if n >= 2 && !self.open[n - 2].is_container && self.open[n - 2].class == self.open[n - 1].class {
                let (parent, ext) = (&self.open[n - 2], &self.open[n - 1]);
                if ext.id != parent.id {
                    cx.warn(format!(
                        "vendor extension of {}={} has id {:?}; its attributes are kept on the parent",
                        parent.class, parent.id, ext.id
                    ));
                }
                let (row, depth) = (parent.row, parent.depth);
                let vs = ext.vs_data_type.as_deref().map(|t| self.mos.names.id(t));
                let format = ext.format_version.as_deref().map(|f| self.mos.names.id(f));
                self.mos.vs_data_type[row as usize] = vs;
                self.mos.format_version[row as usize] = format;
                let ext = &mut self.open[n - 1];
                ext.row = row;
                ext.depth = depth;
                let class = ext.class.clone();
                self.count_vs_type(&class);
                self.flush_held();
                return;
            }
        }
        let open = &mut self.open[n - 1];
        let m = &mut self.mos;
        open.row = m.len() as u32;
        m.parent_fdn.append_option((!self.fdn.is_empty()).then_some(self.fdn.as_str()));
        let parent_len = self.fdn.len();
        if !self.fdn.is_empty() {
            self.fdn.push(',');
        }
        self.fdn.push_str(&open.class);
        self.fdn.push('=');
        self.fdn.push_str(&open.id);
        let spent = (parent_len + self.fdn.len()) as u64;
        m.fdn.append_value(&self.fdn);
        m.id.append_value(&open.id);
        m.depth.append_value(open.depth);
        m.modifier.append_option(open.modifier.as_deref());
        let class = m.names.id(&open.class);
        m.class.push(class);
        let vs = open.vs_data_type.as_deref().map(|t| m.names.id(t));
        m.vs_data_type.push(vs);
        let format = open.format_version.as_deref().map(|f| m.names.id(f));
        m.format_version.push(format);
        let class = open.class.clone();
        self.count_vs_type(&class);
        self.flush_held();
        self.spend(cx, spent, "FDNs");
    }

    /// Count `bytes` of derived text; past the budget, the read fails at this element.
    fn spend(&mut self, cx: &Cx, bytes: u64, what: &str) {
        self.derived += bytes;
        let read = cx.offset.saturating_sub(*self.first_offset.get_or_insert(cx.offset));
        if self.refused.is_none() && self.derived > DERIVED_BASE + DERIVED_PER_BYTE * read {
            self.refused = Some(cx.value_error(format!(
                "the {what} this export implies would take more than {DERIVED_PER_BYTE} times its size in memory \
                 ({} MOs nested here, FDN of {} bytes); refused as not a real export (real exports need less than \
                 half their size)",
                self.open.len(),
                self.fdn.len()
            )));
        }
    }

    fn count_vs_type(&mut self, class: &str) {
        let Some(open) = self.open.last() else { return };
        let Some(key) = open.vs_data_type.clone() else { return };
        let entry = self.vs_types.entry(key).or_insert_with(|| (class.to_string(), open.format_version.clone(), 0));
        entry.2 += 1;
    }

    fn flush_held(&mut self) {
        let Some(open) = self.open.last_mut() else { return };
        let held = std::mem::take(&mut open.held);
        let row = open.row;
        for v in held {
            self.emit(row, v.attribute, v.member.as_deref(), v.index, v.member_index, &v.value, v.vs_data);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        row: u32,
        attribute: u32,
        member: Option<&str>,
        index: i32,
        member_index: Option<i32>,
        value: &str,
        vs_data: bool,
    ) {
        let attribute_key = self.attribute_names.key(attribute);
        let member_key = match member.map(|m| self.values_member.append(m)) {
            Some(Ok(key)) => key,
            Some(Err(e)) => {
                self.failed.get_or_insert(e);
                return;
            }
            None => {
                self.values_member.append_null();
                -1
            }
        };
        self.values_mo.append_value(row as i32);
        self.values_attribute.append_value(attribute_key);
        self.values_index.append_value(index);
        self.values_member_index.append_option(member_index);
        self.values_value.append_value(value);
        self.values_vs.append_value(vs_data);
        let o = self.observed.entry((self.mos.class[row as usize], attribute_key, member_key)).or_default();
        o.max_occurs = o.max_occurs.max(index + 1);
        o.has_members |= member.is_some();
        classify(o, value);
    }

    fn value(&mut self, cx: &Cx, value: &str) {
        let member = (!self.attr.members.is_empty()).then(|| self.attr.members.join("."));
        if let Some(m) = &member {
            self.spend(cx, m.len() as u64, "member paths");
        }
        let (index, member_index, vs_data) = (self.attr.index, self.attr.member_index, self.attr.vs_data);
        let Some(open) = self.open.last_mut() else { return };
        let attribute = self.attr.name;
        if open.placed {
            let row = open.row;
            self.emit(row, attribute, member.as_deref(), index, member_index, value, vs_data);
        } else {
            open.held.push(HeldValue { attribute, member, index, member_index, value: value.to_string(), vs_data });
        }
    }

    fn start_attr(&mut self, cx: &Cx, tag: &[u8], vs_data: bool) -> Result<bool> {
        let name = self.attribute_names.id(local(tag)).map_err(|why| cx.value_error(why))?;
        let index = match self.open.last_mut() {
            Some(open) => {
                let n = open.occurrences.entry(name).or_insert(0);
                *n += 1;
                *n - 1
            }
            None => 0,
        };
        // every field anew, keeping what the vectors hold allocated
        let a = &mut self.attr;
        (a.name, a.index, a.vs_data, a.has_children, a.member_index, a.leaf_open) =
            (name, index, vs_data, false, None, true);
        a.members.clear();
        a.member_counts.clear();
        a.member_counts.push(Vec::new());
        self.push(Frame::Attr, true)
    }

    fn start_member(&mut self, cx: &Cx, tag: &[u8]) -> Result<bool> {
        let name = String::from_utf8_lossy(local(tag)).into_owned();
        names::check_member(&name).map_err(|why| cx.value_error(why))?;
        let a = &mut self.attr;
        a.has_children = true;
        let level = a.member_counts.last_mut();
        let index = match level {
            Some(counts) => match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c - 1
                }
                None => {
                    counts.push((name.clone(), 1));
                    0
                }
            },
            None => 0,
        };
        a.members.push(name);
        a.member_counts.push(Vec::new());
        a.member_index = Some(index);
        a.leaf_open = true;
        self.push(Frame::Member, true)
    }
}

/// Turn the readers of consecutive parts of one file (a single reader for a sequential read)
/// into the network tables and the header. Every reader after the first started with the
/// first `seeded` rows of the first one (the MOs enclosing the cut); those are dropped and
/// row numbers moved past the rows of the parts before.
/// The tables of `parts` read one after the other; the rows each part but the first started
/// with (`seeded`, the MOs enclosing the cut) leave its `mos` batch, and the first's too when
/// `first_seeded` (a later group of parts of a file read in groups).
fn finish_parts(
    parts: Vec<BulkCmReader>,
    seeded: usize,
    first_seeded: bool,
) -> std::result::Result<(Vec<Table>, BTreeMap<String, String>), ArrowError> {
    let mut header = BTreeMap::new();
    let mut observed: BTreeMap<(String, String, String), Observed> = BTreeMap::new();
    let mut vs_types: BTreeMap<String, (String, Option<String>, i64)> = BTreeMap::new();
    // values: the FDN column is a dictionary over the part's `mos.fdn` array, so each value
    // row costs four bytes for its FDN however long the FDN is. One batch per part; the rows
    // a later part started with stay in its FDN dictionary but leave its `mos` batch.
    let dict_type = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let mut mos = Vec::with_capacity(parts.len());
    let mut values = Vec::with_capacity(parts.len());
    for (k, part) in parts.into_iter().enumerate() {
        let BulkCmReader {
            mos: mo_columns,
            header: mut part_header,
            observed: part_observed,
            failed,
            vs_types: part_vs_types,
            mut values_mo,
            attribute_names,
            mut values_attribute,
            mut values_member,
            values_index,
            values_member_index,
            values_value,
            values_vs,
            ..
        } = part;
        if let Some(e) = failed {
            return Err(e);
        }
        header.append(&mut part_header);
        for (key, (class, format, count)) in part_vs_types {
            vs_types.entry(key).or_insert((class, format, 0)).2 += count;
        }
        let attribute_keys: Int32Array = values_attribute.finish();
        let attributes = DictionaryArray::<Int32Type>::try_new(attribute_keys, Arc::new(attribute_names.values()))?;
        let members = values_member.finish();
        let (attribute_names, member_names) =
            (attributes.values().as_string::<i32>(), members.values().as_string::<i32>());
        for ((class, attribute, member), o) in part_observed {
            let name = |names: &StringArray, key: i32| names.value(key as usize).to_string();
            let member = if member < 0 { String::new() } else { name(member_names, member) };
            let key = (mo_columns.names.name(class).to_string(), name(attribute_names, attribute), member);
            match observed.entry(key) {
                std::collections::btree_map::Entry::Occupied(mut have) => have.get_mut().merge(o),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(o);
                }
            }
        }
        let (batch, fdn_array) = mo_columns.finish()?;
        let own = if k == 0 && !first_seeded { 0 } else { seeded.min(batch.num_rows()) };
        mos.push(batch.slice(own, batch.num_rows() - own));
        let keys: Int32Array = values_mo.finish();
        let fdn_dict = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(fdn_array))?;
        let mut p = BatchParts::default();
        p.push(Field::new("fdn", dict_type(), false), Arc::new(fdn_dict) as ArrayRef)
            .push(Field::new("attribute", dict_type(), false), Arc::new(attributes) as ArrayRef)
            .push(Field::new("member", dict_type(), true), Arc::new(members) as ArrayRef)
            .int32("index", values_index)
            .int32("member_index", values_member_index)
            .utf8("value", values_value, false)
            .boolean("vs_data", values_vs, false);
        values.push(p.finish()?);
    }

    // vs_types
    let (mut t_type, mut t_class, mut t_format) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut t_count = Int64Builder::new();
    for (vt, (c, f, n)) in &vs_types {
        t_type.append_value(vt);
        t_class.append_value(c);
        t_format.append_option(f.as_deref());
        t_count.append_value(*n);
    }
    let mut p = BatchParts::default();
    p.utf8("vs_data_type", t_type, false)
        .utf8("class", t_class, false)
        .utf8("format_version", t_format, true)
        .int64("mo_count", t_count);
    let vs_types_batch = p.finish()?;

    // observed_attributes
    let mut o_class = StringBuilder::new();
    let mut o_attr = StringBuilder::new();
    let mut o_member = StringBuilder::new();
    let mut o_kind = StringBuilder::new();
    let mut o_seq = BooleanBuilder::new();
    let mut o_max = Int32Builder::new();
    let mut o_values = Int64Builder::new();
    let mut o_empty = Int64Builder::new();
    let mut o_example = StringBuilder::new();
    for ((c, a, m), o) in &observed {
        o_class.append_value(c);
        o_attr.append_value(a);
        o_member.append_option(if m.is_empty() { None } else { Some(m.as_str()) });
        let kind = if o.values == o.empty {
            "unknown"
        } else if o.boolean {
            "boolean"
        } else if o.integer {
            "integer"
        } else if o.number {
            "float"
        } else {
            "string"
        };
        o_kind.append_value(kind);
        o_seq.append_value(o.max_occurs > 1);
        o_max.append_value(o.max_occurs);
        o_values.append_value(o.values);
        o_empty.append_value(o.empty);
        o_example.append_option(o.example.as_deref());
    }
    let mut p = BatchParts::default();
    p.utf8("class", o_class, false)
        .utf8("attribute", o_attr, false)
        .utf8("member", o_member, true)
        .utf8("kind", o_kind, false)
        .boolean("is_sequence", o_seq, false)
        .int32("max_occurs", o_max)
        .int64("value_count", o_values)
        .int64("empty_count", o_empty)
        .utf8("example", o_example, true);
    let observed_batch = p.finish()?;

    Ok((
        vec![
            Table { name: "mos", batches: mos },
            Table { name: "values", batches: values },
            Table::new("vs_types", vs_types_batch),
            Table::new("observed_attributes", observed_batch),
        ],
        header,
    ))
}

impl Handler for BulkCmReader {
    fn start(&mut self, cx: &mut Cx, name: &[u8], e: &BytesStart) -> Result<bool> {
        let wants_text = self.start_element(cx, name, e)?;
        match self.refused.take() {
            Some(err) => Err(err),
            None => Ok(wants_text),
        }
    }

    fn end(&mut self, cx: &mut Cx, name: &[u8], text: &str) -> Result<()> {
        self.end_element(cx, name, text)?;
        match self.refused.take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl BulkCmReader {
    fn start_element(&mut self, cx: &mut Cx, name: &[u8], e: &BytesStart) -> Result<bool> {
        if self.skip_depth > 0 {
            self.skip_depth += 1;
            return Ok(false);
        }
        let tag = local(name);
        match self.stack.last().copied() {
            None => {
                if tag != b"bulkCmConfigDataFile" {
                    return Err(Error::Root {
                        loc: cx.location(),
                        found: String::from_utf8_lossy(name).into_owned(),
                        expected: "<bulkCmConfigDataFile> (a 3GPP Bulk CM file)".into(),
                    });
                }
                self.push(Frame::Root, false)
            }
            Some(Frame::Root) => match tag {
                b"fileHeader" | b"fileFooter" => {
                    for (k, v) in cx.attrs(e)? {
                        self.header.insert(k, v);
                    }
                    self.push(Frame::Header, false)
                }
                b"configData" => {
                    if let Some(prefix) = cx.attr(e, b"dnPrefix")? {
                        self.header.insert("dnPrefix".into(), prefix);
                    }
                    self.push(Frame::ConfigData, false)
                }
                _ => self.skip(),
            },
            Some(Frame::Header) => self.skip(),
            Some(Frame::ConfigData) => self.start_mo(cx, name, e),
            Some(Frame::Mo) => {
                if tag == b"attributes" {
                    self.push(Frame::Attributes, false)
                } else {
                    self.start_mo(cx, name, e)
                }
            }
            Some(Frame::Attributes) => {
                if self.open.last().is_some_and(|o| o.is_container) {
                    match tag {
                        b"vsDataType" => return self.push(Frame::VsType, true),
                        b"vsDataFormatVersion" => return self.push(Frame::VsFormat, true),
                        t if t.starts_with(b"vsData") => {
                            let expected = self.open.last().and_then(|o| o.vs_data_type.clone());
                            let found = String::from_utf8_lossy(t).into_owned();
                            if let Some(expected) = expected {
                                if expected != found {
                                    cx.warn(format!("payload <{found}> does not match vsDataType {expected:?}"));
                                }
                            }
                            self.place_current(cx);
                            return self.push(Frame::Payload, false);
                        }
                        _ => {}
                    }
                }
                self.start_attr(cx, name, false)
            }
            Some(Frame::Payload) => self.start_attr(cx, name, true),
            Some(Frame::Attr) | Some(Frame::Member) => self.start_member(cx, name),
            Some(Frame::VsType) | Some(Frame::VsFormat) => self.skip(),
        }
    }

    fn end_element(&mut self, cx: &mut Cx, _name: &[u8], text: &str) -> Result<()> {
        if self.skip_depth > 0 {
            self.skip_depth -= 1;
            return Ok(());
        }
        let Some(frame) = self.stack.pop() else { return Ok(()) };
        match frame {
            Frame::VsType => {
                if let Some(open) = self.open.last_mut() {
                    open.vs_data_type = Some(text.trim().to_string());
                }
            }
            Frame::VsFormat => {
                if let Some(open) = self.open.last_mut() {
                    open.format_version = Some(text.trim().to_string());
                }
            }
            Frame::Attributes => {
                self.place_current(cx);
            }
            Frame::Attr if !self.attr.has_children => self.value(cx, text),
            Frame::Member => {
                if self.attr.leaf_open {
                    self.value(cx, text);
                }
                // the parent of this member has children, so it is no leaf
                self.attr.leaf_open = false;
                self.attr.members.pop();
                self.attr.member_counts.pop();
            }
            Frame::Mo => {
                self.place_current(cx);
                if let Some(open) = self.open.pop() {
                    self.fdn.truncate(open.fdn_mark);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The table called `name` among `tables`, in one batch.
pub fn table(tables: &[Table], name: &str) -> Option<RecordBatch> {
    tables.iter().find(|t| t.name == name).and_then(|t| t.concat().ok())
}

#[cfg(test)]
mod tests;
