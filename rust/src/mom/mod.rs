//! The MP XML (`mp.dtd`, revisions D–H, CPP and ECIM flavours) vocabulary turned into the
//! catalog tables: `mims`, `classes`, `attributes`, `enums`, `enum_members`, `structs`,
//! `struct_members`, `derived_types` and `containment`.
//!
//! One streaming pass collects the rows; references (`enumRef`, `structRef`, `moRef`,
//! `derivedDataTypeRef`) are resolved at the end, across MIMs, because they may point forward
//! or into another `<mim>` of the same file.

mod parallel;
mod resolve;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder, BooleanBuilder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field};
use quick_xml::events::BytesStart;

use crate::error::{Error, Location, Result};
use crate::tables::{parse_decimal, BatchParts, Bound, Table, TypeSpec};
use crate::xml::{drive_span_with, split, Cx, Handler, Progress, RawWarning, Span, Warning};

use resolve::{Definitions, TypeRows, Unresolved};

/// The longest name (of a MIM, class, attribute, enum, struct, member or type) read. Real
/// models stay under 120 characters; each row of a class repeats its MIM and class names, so
/// a longer limit would let a small file grow large tables.
pub const MAX_NAME: usize = 512;
/// Everything read from one MP XML file.
pub struct MomResult {
    pub tables: Vec<Table>,
    pub warnings: Vec<Warning>,
    /// Elements read past on purpose (actions, exceptions, associations, …), by name.
    pub skipped: BTreeMap<String, u64>,
    pub dtd_version: Option<String>,
}

/// Read an MP XML model file into catalog tables, on every core.
pub fn read_mom(path: &Path, progress: Option<&Progress>) -> Result<MomResult> {
    read_mom_with(path, progress, 0)
}

/// Read an MP XML model file into catalog tables on up to `threads` threads (0: one per
/// core). A file is only cut where each part is at least [`split::MIN_SPAN`] long; the
/// tables are the same whatever the number of threads.
///
/// `path` may name a compressed file or a zip member, as for [`crate::bulkcm::read_bulkcm_with`].
pub fn read_mom_with(path: &Path, progress: Option<&Progress>, threads: usize) -> Result<MomResult> {
    let (input, listed) = crate::input::one(path)?;
    let path = &input.path();
    let file = path.display().to_string();
    let mut spans = None;
    if let Some(plan) = split::plan(path, threads, "models")? {
        spans = parallel::read_spans(path, plan, progress)?;
        if spans.is_none() {
            split::restart(progress);
        }
    }
    let (readers, raw) = match spans {
        Some(found) => found,
        None => {
            let mut reader = MomReader::new();
            let end = drive_span_with(path, &Span::default(), &mut reader, progress, threads)
                .map_err(|e| e.with_line_column(path))?;
            (vec![reader], end.warnings)
        }
    };
    let mut skipped: BTreeMap<String, u64> = BTreeMap::new();
    for r in &readers {
        for (k, v) in &r.skipped {
            *skipped.entry(k.clone()).or_insert(0) += v;
        }
    }
    let dtd_version = readers.iter().find_map(|r| r.dtd_version.clone());
    let (tables, late) = finish_spans(readers)
        .map_err(|message| Error::Value { loc: Location { file: file.clone(), ..Location::default() }, message })?;
    let mut warnings = crate::xml::locate_warnings(path, &file, raw);
    warnings.extend(crate::xml::locate_warnings(path, &file, late));
    warnings.sort_by_key(|w| w.location.offset);
    warnings.splice(0..0, listed);
    Ok(MomResult { tables, warnings, skipped, dtd_version })
}

// Elements whose whole subtree is read past on purpose, and counted in the result.
const SKIP_COUNTS: [&str; 8] = [
    "action",
    "exception",
    "mib",
    "biDirectionalAssociation",
    "uniDirectionalAssociation",
    "inheritance",
    "validationRules",
    "momMetaData",
];

/// Where the reader is: one frame per open element it cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Models,
    Mim,
    InterMim,
    Class,
    Attribute,
    Enum,
    EnumMember,
    Struct,
    StructMember,
    Ddt,
    /// `dataType` of an attribute or `baseType` of a derived type.
    TypeHolder,
    Sequence,
    /// A type element (`long`, `string`, `enumRef`, …).
    Type,
    /// `range`/`lengthRange` (old encoding: a flat run of min and max).
    FlatBounds(BoundSet),
    /// `ranges`/`stringLength` (rev G encoding: `subrange` elements).
    SubBounds(BoundSet),
    Subrange(BoundSet),
    SeqDefault,
    Relationship,
    Containment,
    RelParent,
    RelChild,
    HasClass,
    Cardinality,
    DomainExtension,
    /// A leaf whose text goes to `Field`.
    Text(Leaf),
    /// An element fully handled at its start (a flag, an extension).
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoundSet {
    Value,
    Length,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    DtdVersion,
    Description,
    TakesEffect,
    Disturbances,
    Dependencies,
    Precondition,
    StatusInformation,
    Lifecycle(&'static str),
    Filter,
    Visibility,
    CounterType,
    BoundMin,
    BoundMax,
    Default,
    Unit,
    MultiplicationFactor,
    Resolution,
    FractionDigits,
    UndefinedValue,
    ValidValues,
    RefMim,
    SeqMin,
    SeqMax,
    SeqDefaultItem,
    EnumValue,
    HasClassMim,
    CardMin,
    CardMax,
}

/// Texts and flags of the innermost owner (class, attribute, member, …).
#[derive(Debug, Default, Clone)]
struct OwnerInfo {
    description: Option<String>,
    takes_effect: Option<String>,
    disturbances: Option<String>,
    dependencies: Option<String>,
    precondition: Option<String>,
    lifecycle: Option<&'static str>,
    lifecycle_text: Option<String>,
    filter: Option<String>,
    visibility: Option<String>,
    counter_type: Option<String>,
    /// The description went straight into the attribute's description column.
    description_written: bool,
    mandatory: bool,
    read_only: bool,
    restricted: bool,
    key: bool,
    no_notification: bool,
    non_persistent: bool,
    lock_before_modify: bool,
    nillable: bool,
    system_created: bool,
    root: bool,
    exclusive: bool,
}

fn join_status(info: &OwnerInfo, status: Option<String>) -> Option<String> {
    match (info.lifecycle_text.clone().filter(|t| !t.trim().is_empty()), status) {
        (Some(a), Some(b)) => Some(format!("{a} {b}")),
        (a, b) => a.or(b),
    }
}

#[derive(Debug, Default)]
struct MimRec {
    name: String,
    offset: u64,
    version: Option<String>,
    release: Option<String>,
    correction: Option<String>,
    namespace: Option<String>,
    namespace_prefix: Option<String>,
    revision: Option<String>,
    author: Option<String>,
    date: Option<String>,
    description: Option<String>,
    lifecycle: Option<&'static str>,
}

/// A type waiting for the end of the file to be resolved.
#[derive(Debug)]
pub(crate) struct PendingType {
    pub spec: TypeSpec,
    pub mim: String,
    pub offset: u64,
    pub element: String,
}

#[derive(Debug, Default)]
struct ContainmentRec {
    parent: Option<(Option<String>, String)>,
    children: Vec<ChildRec>,
}

#[derive(Debug, Default)]
struct ChildRec {
    mim: Option<String>,
    class: Option<String>,
    card_min: Option<String>,
    card_max: Option<String>,
}

/// Row builders of the text-heavy tables, filled as the file is read.
#[derive(Default)]
struct ClassRows {
    mim: StringBuilder,
    class: StringBuilder,
    description: StringBuilder,
    system_created: BooleanBuilder,
    read_only: BooleanBuilder,
    root: BooleanBuilder,
    lifecycle: StringBuilder,
    lifecycle_text: StringBuilder,
    filter: StringBuilder,
    visibility: StringBuilder,
    dependencies: StringBuilder,
    precondition: StringBuilder,
    attribute_count: Int64Builder,
}

#[derive(Default)]
struct AttributeRows {
    mim: StringBuilder,
    class: StringBuilder,
    attribute: StringBuilder,
    mandatory: BooleanBuilder,
    read_only: BooleanBuilder,
    restricted: BooleanBuilder,
    key: BooleanBuilder,
    no_notification: BooleanBuilder,
    non_persistent: BooleanBuilder,
    lock_before_modify: BooleanBuilder,
    nillable: BooleanBuilder,
    is_counter: BooleanBuilder,
    counter_type: StringBuilder,
    lifecycle: StringBuilder,
    lifecycle_text: StringBuilder,
    filter: StringBuilder,
    visibility: StringBuilder,
    description: StringBuilder,
    takes_effect: StringBuilder,
    disturbances: StringBuilder,
    dependencies: StringBuilder,
    precondition: StringBuilder,
    types: TypeRows,
}

impl AttributeRows {
    /// Room for `rows` attributes and `text` bytes of descriptions before any column grows.
    fn with_capacity(rows: usize, text: usize) -> Self {
        let names = || StringBuilder::with_capacity(rows, rows * 16);
        let flag = || BooleanBuilder::with_capacity(rows);
        let sparse = || StringBuilder::with_capacity(rows, 0);
        AttributeRows {
            mim: names(),
            class: names(),
            attribute: names(),
            mandatory: flag(),
            read_only: flag(),
            restricted: flag(),
            key: flag(),
            no_notification: flag(),
            non_persistent: flag(),
            lock_before_modify: flag(),
            nillable: flag(),
            is_counter: flag(),
            counter_type: sparse(),
            lifecycle: sparse(),
            lifecycle_text: sparse(),
            filter: sparse(),
            visibility: sparse(),
            description: StringBuilder::with_capacity(rows, text),
            takes_effect: sparse(),
            disturbances: sparse(),
            dependencies: sparse(),
            precondition: sparse(),
            types: TypeRows::with_capacity(rows),
        }
    }
}

#[derive(Default)]
struct MemberRows {
    mim: StringBuilder,
    owner: StringBuilder,
    member: StringBuilder,
    key: BooleanBuilder,
    nillable: BooleanBuilder,
    lifecycle: StringBuilder,
    lifecycle_text: StringBuilder,
    description: StringBuilder,
    types: TypeRows,
}

impl MemberRows {
    fn with_capacity(rows: usize) -> Self {
        let names = || StringBuilder::with_capacity(rows, rows * 16);
        MemberRows {
            mim: names(),
            owner: names(),
            member: names(),
            key: BooleanBuilder::with_capacity(rows),
            nillable: BooleanBuilder::with_capacity(rows),
            lifecycle: StringBuilder::with_capacity(rows, 0),
            lifecycle_text: StringBuilder::with_capacity(rows, 0),
            description: StringBuilder::with_capacity(rows, rows * 128),
            types: TypeRows::with_capacity(rows),
        }
    }
}

#[derive(Default)]
struct EnumRows {
    mim: StringBuilder,
    name: StringBuilder,
    description: StringBuilder,
    lifecycle: StringBuilder,
    member_count: Int64Builder,
}

#[derive(Default)]
struct EnumMemberRows {
    mim: StringBuilder,
    name: StringBuilder,
    member: StringBuilder,
    value: Int64Builder,
    description: StringBuilder,
    lifecycle: StringBuilder,
    lifecycle_text: StringBuilder,
}

impl EnumMemberRows {
    fn with_capacity(rows: usize) -> Self {
        let names = || StringBuilder::with_capacity(rows, rows * 16);
        EnumMemberRows {
            mim: names(),
            name: names(),
            member: names(),
            value: Int64Builder::with_capacity(rows),
            description: StringBuilder::with_capacity(rows, rows * 128),
            lifecycle: StringBuilder::with_capacity(rows, 0),
            lifecycle_text: StringBuilder::with_capacity(rows, 0),
        }
    }
}

#[derive(Default)]
struct StructRows {
    mim: StringBuilder,
    name: StringBuilder,
    exclusive: BooleanBuilder,
    description: StringBuilder,
    member_count: Int64Builder,
}

#[derive(Default)]
struct DerivedRows {
    mim: StringBuilder,
    name: StringBuilder,
    description: StringBuilder,
    lifecycle: StringBuilder,
    types: TypeRows,
}

#[derive(Default)]
struct ContainmentRows {
    parent_mim: StringBuilder,
    parent: StringBuilder,
    child_mim: StringBuilder,
    child: StringBuilder,
    card_min: Int64Builder,
    card_max: Int64Builder,
    relationship: StringBuilder,
}

struct MomReader {
    stack: Vec<Frame>,
    skip_depth: usize,
    skipped: BTreeMap<String, u64>,
    dtd_version: Option<String>,

    mims: Vec<MimRec>,
    /// Name of the `<mim>` being read; `None` inside `<interMim>`.
    mim: Option<String>,
    class: Option<String>,
    class_attribute_count: i64,
    owner_name: String,
    owner_offset: u64,
    owner_element: String,
    info: OwnerInfo,
    mim_info: OwnerInfo,
    /// Description and lifecycle of a `<mim>` opened in an earlier span of the file.
    open_mim_texts: Vec<(String, Option<String>, Option<&'static str>)>,
    class_info: OwnerInfo,
    spec: TypeSpec,
    alt_ranges: Vec<Bound>,
    alt_lengths: Vec<Bound>,
    flat_pending_min: Option<String>,
    flat_bounds: Vec<Bound>,
    sub_bound: Bound,
    enum_name: Option<String>,
    enum_members: i64,
    enum_info: OwnerInfo,
    struct_name: Option<String>,
    struct_members: i64,
    struct_info: OwnerInfo,
    enum_value: Option<String>,
    relationship: Option<String>,
    containment: ContainmentRec,
    has_class: Option<(Option<String>, String)>,

    classes: ClassRows,
    attributes: AttributeRows,
    members: MemberRows,
    enums: EnumRows,
    enum_member_rows: EnumMemberRows,
    structs: StructRows,
    derived: DerivedRows,
    containments: ContainmentRows,
    defs: Definitions,
}

fn is_type_element(tag: &[u8]) -> bool {
    matches!(
        tag,
        b"long"
            | b"longlong"
            | b"short"
            | b"octet"
            | b"integer"
            | b"int8"
            | b"int16"
            | b"int32"
            | b"int64"
            | b"uint8"
            | b"uint16"
            | b"uint32"
            | b"uint64"
            | b"decimal64"
            | b"double"
            | b"float"
            | b"boolean"
            | b"char"
            | b"string"
            | b"wstring"
            | b"enumRef"
            | b"structRef"
            | b"moRef"
            | b"derivedDataTypeRef"
    )
}

fn lifecycle_tag(tag: &[u8]) -> Option<&'static str> {
    match tag {
        b"preliminary" => Some("preliminary"),
        b"deprecated" => Some("deprecated"),
        b"obsolete" => Some("obsolete"),
        _ => None,
    }
}

fn owner_text(tag: &[u8]) -> Option<Leaf> {
    Some(match tag {
        b"description" => Leaf::Description,
        b"takesEffect" => Leaf::TakesEffect,
        b"disturbances" => Leaf::Disturbances,
        b"dependencies" => Leaf::Dependencies,
        b"precondition" => Leaf::Precondition,
        b"statusInformation" => Leaf::StatusInformation,
        b"filter" => Leaf::Filter,
        b"visibility" => Leaf::Visibility,
        other => Leaf::Lifecycle(lifecycle_tag(other)?),
    })
}

fn opt(text: &str) -> Option<String> {
    Some(text.to_string())
}

impl MomReader {
    fn new() -> Self {
        MomReader {
            stack: Vec::with_capacity(32),
            skip_depth: 0,
            skipped: BTreeMap::new(),
            dtd_version: None,
            mims: Vec::new(),
            mim: None,
            class: None,
            class_attribute_count: 0,
            owner_name: String::new(),
            owner_offset: 0,
            owner_element: String::new(),
            info: OwnerInfo::default(),
            mim_info: OwnerInfo::default(),
            open_mim_texts: Vec::new(),
            class_info: OwnerInfo::default(),
            spec: TypeSpec::default(),
            alt_ranges: Vec::new(),
            alt_lengths: Vec::new(),
            flat_pending_min: None,
            flat_bounds: Vec::new(),
            sub_bound: Bound::default(),
            enum_name: None,
            enum_members: 0,
            enum_info: OwnerInfo::default(),
            struct_name: None,
            struct_members: 0,
            struct_info: OwnerInfo::default(),
            enum_value: None,
            relationship: None,
            containment: ContainmentRec::default(),
            has_class: None,
            classes: ClassRows::default(),
            attributes: AttributeRows::default(),
            members: MemberRows::default(),
            enums: EnumRows::default(),
            enum_member_rows: EnumMemberRows::default(),
            structs: StructRows::default(),
            derived: DerivedRows::default(),
            containments: ContainmentRows::default(),
            defs: Definitions::default(),
        }
    }

    /// Size the largest tables for `bytes` of input before reading it. Columns that grow
    /// as they fill copy themselves, and the allocator keeps the pages of every old copy
    /// (more so with several threads); room reserved up front is only backed by memory once
    /// written, so a generous guess costs nothing. The real LTE model has about 750 bytes of
    /// XML per attribute, 7 KB per struct member and 2.6 KB per enum member, and a fifth of
    /// its bytes in attribute descriptions; a model that differs only grows columns as usual.
    fn reserve_for(&mut self, bytes: u64) {
        // beyond 1 GiB of input the columns grow as usual: a reservation must never fail
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX).min(1 << 30);
        self.attributes = AttributeRows::with_capacity(bytes / 400, bytes / 4);
        self.members = MemberRows::with_capacity(bytes / 3000);
        self.enum_member_rows = EnumMemberRows::with_capacity(bytes / 1500);
    }

    /// A reader for a span that starts inside `<mim name=mim>`, between two of its children.
    fn inside_mim(mim: &str) -> Self {
        let mut r = MomReader::new();
        r.stack.extend([Frame::Models, Frame::Mim]);
        r.mim = Some(mim.to_string());
        r
    }

    /// Whether the reader stands between two children of `<mim name=mim>`, as a span that
    /// ends where the next one starts must leave it.
    fn is_between_children_of(&self, mim: &str) -> bool {
        self.skip_depth == 0 && self.stack == [Frame::Models, Frame::Mim] && self.mim.as_deref() == Some(mim)
    }

    /// Keep the texts of the `<mim>` being closed (or of the open one, at the end of a span).
    fn close_mim_texts(&mut self) {
        let info = std::mem::take(&mut self.mim_info);
        let name = self.mim.take().unwrap_or_default();
        match self.mims.last_mut() {
            Some(rec) if rec.name == name => {
                rec.description = info.description;
                rec.lifecycle = info.lifecycle;
            }
            _ if info.description.is_some() || info.lifecycle.is_some() => {
                self.open_mim_texts.push((name, info.description, info.lifecycle))
            }
            _ => {}
        }
    }

    fn skip(&mut self, tag: &[u8]) -> Result<bool> {
        if SKIP_COUNTS.iter().any(|s| s.as_bytes() == tag) {
            *self.skipped.entry(String::from_utf8_lossy(tag).into_owned()).or_insert(0) += 1;
        }
        self.skip_depth = 1;
        Ok(false)
    }

    fn push(&mut self, frame: Frame) -> Result<bool> {
        self.stack.push(frame);
        Ok(matches!(frame, Frame::Text(_)))
    }

    fn name_attr(cx: &mut Cx, e: &BytesStart) -> Result<String> {
        match cx.attr(e, b"name")? {
            Some(name) if name.chars().count() > MAX_NAME => Err(cx.value_error(format!(
                "a name of {} characters; names longer than {MAX_NAME} are refused (real models stay under 120, and \
                 every row of the class repeats its name)",
                name.chars().count()
            ))),
            Some(name) => {
                cx.annotate(&name);
                Ok(name)
            }
            None => {
                cx.warn("element has no name= attribute");
                Ok(String::new())
            }
        }
    }

    /// The innermost owner of texts and flags.
    fn owner_info(&mut self) -> &mut OwnerInfo {
        for frame in self.stack.iter().rev() {
            match frame {
                Frame::Attribute | Frame::EnumMember | Frame::StructMember | Frame::Ddt => return &mut self.info,
                Frame::Class => return &mut self.class_info,
                Frame::Enum => return &mut self.enum_info,
                Frame::Struct => return &mut self.struct_info,
                Frame::Mim => return &mut self.mim_info,
                _ => {}
            }
        }
        &mut self.mim_info
    }

    fn begin_owner(&mut self, cx: &mut Cx, e: &BytesStart) -> Result<String> {
        let name = Self::name_attr(cx, e)?;
        self.info = OwnerInfo::default();
        self.spec = TypeSpec::default();
        self.alt_ranges.clear();
        self.alt_lengths.clear();
        self.owner_offset = cx.offset;
        self.owner_element.clear();
        self.owner_element.push_str(cx.element_path());
        self.owner_name.clone_from(&name);
        Ok(name)
    }

    /// Pick one of the two encodings of a constraint (`range` and `ranges/subrange` say the
    /// same in ECIM files), warning when they disagree.
    fn settle_bounds(&mut self, cx: &mut Cx) {
        if !self.alt_ranges.is_empty() {
            if self.spec.ranges.is_empty() {
                self.spec.ranges = std::mem::take(&mut self.alt_ranges);
            } else if !same_bounds(&self.spec.ranges, &self.alt_ranges) {
                cx.warn_at(self.owner_offset, &self.owner_element, "range and ranges/subrange disagree; using range");
            }
            self.alt_ranges.clear();
        }
        if !self.alt_lengths.is_empty() {
            if self.spec.lengths.is_empty() {
                self.spec.lengths = std::mem::take(&mut self.alt_lengths);
            } else if !same_bounds(&self.spec.lengths, &self.alt_lengths) {
                cx.warn_at(
                    self.owner_offset,
                    &self.owner_element,
                    "lengthRange and stringLength disagree; using lengthRange",
                );
            }
            self.alt_lengths.clear();
        }
    }

    fn pending(&mut self) -> PendingType {
        PendingType {
            spec: std::mem::take(&mut self.spec),
            mim: self.mim.clone().unwrap_or_default(),
            offset: self.owner_offset,
            element: self.owner_element.clone(),
        }
    }

    fn check_number(cx: &mut Cx, what: &str, text: &str) {
        if parse_decimal(text).is_none() {
            cx.warn(format!("{what} {text:?} is not a plain number; kept as text"));
        }
    }

    fn start_in(&mut self, cx: &mut Cx, parent: Option<Frame>, tag: &[u8], e: &BytesStart) -> Result<bool> {
        match parent {
            None => {
                if tag != b"models" {
                    return Err(Error::Root {
                        loc: cx.location(),
                        found: String::from_utf8_lossy(tag).into_owned(),
                        expected: "<models> (an MP XML model, mp.dtd)".into(),
                    });
                }
                self.push(Frame::Models)
            }
            Some(Frame::Models) => match tag {
                b"dtdVersion" => self.push(Frame::Text(Leaf::DtdVersion)),
                b"mim" => {
                    let name = Self::name_attr(cx, e)?;
                    let mut rec = MimRec { name: name.clone(), offset: cx.offset, ..MimRec::default() };
                    for (k, v) in cx.attrs(e)? {
                        match k.as_str() {
                            "version" => rec.version = Some(v),
                            "release" => rec.release = Some(v),
                            "correction" => rec.correction = Some(v),
                            "namespace" => rec.namespace = Some(v),
                            "namespacePrefix" => rec.namespace_prefix = Some(v),
                            "revision" => rec.revision = Some(v),
                            "author" => rec.author = Some(v),
                            "date" => rec.date = Some(v),
                            _ => {}
                        }
                    }
                    self.mims.push(rec);
                    self.mim = Some(name);
                    self.mim_info = OwnerInfo::default();
                    self.push(Frame::Mim)
                }
                b"interMim" => {
                    self.mim = None;
                    self.push(Frame::InterMim)
                }
                _ => self.skip(tag),
            },
            Some(Frame::Mim) => match tag {
                b"class" => {
                    let name = Self::name_attr(cx, e)?;
                    self.class = Some(name);
                    self.class_info = OwnerInfo::default();
                    self.class_attribute_count = 0;
                    self.push(Frame::Class)
                }
                b"enum" => {
                    let name = Self::name_attr(cx, e)?;
                    self.enum_name = Some(name);
                    self.enum_members = 0;
                    self.enum_info = OwnerInfo::default();
                    self.push(Frame::Enum)
                }
                b"struct" => {
                    let name = Self::name_attr(cx, e)?;
                    self.struct_name = Some(name);
                    self.struct_members = 0;
                    self.struct_info = OwnerInfo::default();
                    self.push(Frame::Struct)
                }
                b"derivedDataType" => {
                    self.begin_owner(cx, e)?;
                    self.push(Frame::Ddt)
                }
                b"relationship" => self.begin_relationship(cx, e),
                b"description" => self.push(Frame::Text(Leaf::Description)),
                _ => match lifecycle_tag(tag) {
                    Some(l) => self.push(Frame::Text(Leaf::Lifecycle(l))),
                    None => self.skip(tag),
                },
            },
            Some(Frame::InterMim) => match tag {
                b"relationship" => self.begin_relationship(cx, e),
                _ => self.skip(tag),
            },
            Some(Frame::Class) => match tag {
                b"attribute" => {
                    self.begin_owner(cx, e)?;
                    self.push(Frame::Attribute)
                }
                b"systemCreated" => {
                    self.class_info.system_created = true;
                    self.push(Frame::Done)
                }
                b"readOnly" => {
                    self.class_info.read_only = true;
                    self.push(Frame::Done)
                }
                b"root" | b"yangRoot" => {
                    self.class_info.root = true;
                    self.push(Frame::Done)
                }
                _ => match owner_text(tag) {
                    Some(leaf) => self.push(Frame::Text(leaf)),
                    None => self.skip(tag),
                },
            },
            Some(Frame::Attribute) => match tag {
                b"dataType" => self.push(Frame::TypeHolder),
                b"mandatory" => self.flag(|i| i.mandatory = true),
                b"readOnly" => self.flag(|i| i.read_only = true),
                b"restricted" => self.flag(|i| i.restricted = true),
                b"key" => self.flag(|i| i.key = true),
                b"noNotification" => self.flag(|i| i.no_notification = true),
                b"nonPersistent" => self.flag(|i| i.non_persistent = true),
                b"lockBeforeModify" => self.flag(|i| i.lock_before_modify = true),
                b"isNillable" => self.flag(|i| i.nillable = true),
                b"counterType" => self.push(Frame::Text(Leaf::CounterType)),
                b"domainExtension" => self.push(Frame::DomainExtension),
                _ => match owner_text(tag) {
                    Some(leaf) => self.push(Frame::Text(leaf)),
                    None => self.skip(tag),
                },
            },
            Some(Frame::StructMember) => match tag {
                b"key" => self.flag(|i| i.key = true),
                b"isNillable" => self.flag(|i| i.nillable = true),
                b"sequence" => self.begin_sequence(),
                b"domainExtension" => self.push(Frame::DomainExtension),
                t if is_type_element(t) => self.begin_type(cx, tag, e),
                _ => match owner_text(tag) {
                    Some(leaf) => self.push(Frame::Text(leaf)),
                    None => self.skip(tag),
                },
            },
            Some(Frame::DomainExtension) => {
                if tag == b"extension" {
                    let name = cx.attr(e, b"name")?;
                    let value = cx.attr(e, b"value")?;
                    let truthy = value.as_deref().map(|v| v.eq_ignore_ascii_case("true")).unwrap_or(false);
                    match name.as_deref() {
                        Some("isNillable") if truthy => self.info.nillable = true,
                        Some("isKey") if truthy => self.info.key = true,
                        _ => {}
                    }
                    self.push(Frame::Done)
                } else {
                    self.skip(tag)
                }
            }
            Some(Frame::TypeHolder) => match tag {
                b"sequence" => self.begin_sequence(),
                t if is_type_element(t) => self.begin_type(cx, tag, e),
                _ => self.skip(tag),
            },
            Some(Frame::Sequence) => match tag {
                b"minLength" => self.push(Frame::Text(Leaf::SeqMin)),
                b"maxLength" => self.push(Frame::Text(Leaf::SeqMax)),
                b"nonUnique" => {
                    self.spec.seq_non_unique = true;
                    self.push(Frame::Done)
                }
                b"ordered" => {
                    self.spec.seq_ordered = true;
                    self.push(Frame::Done)
                }
                b"seqDefaultValue" => self.push(Frame::SeqDefault),
                b"sequence" => Err(cx.value_error("a sequence of sequences is not allowed by mp.dtd")),
                t if is_type_element(t) => self.begin_type(cx, tag, e),
                _ => self.skip(tag),
            },
            Some(Frame::SeqDefault) => match tag {
                b"defaultValue" => self.push(Frame::Text(Leaf::SeqDefaultItem)),
                _ => self.skip(tag),
            },
            Some(Frame::Type) => match tag {
                b"range" => {
                    self.flat_bounds.clear();
                    self.flat_pending_min = None;
                    self.push(Frame::FlatBounds(BoundSet::Value))
                }
                b"lengthRange" => {
                    self.flat_bounds.clear();
                    self.flat_pending_min = None;
                    self.push(Frame::FlatBounds(BoundSet::Length))
                }
                b"ranges" => self.push(Frame::SubBounds(BoundSet::Value)),
                b"stringLength" => self.push(Frame::SubBounds(BoundSet::Length)),
                b"defaultValue" => self.push(Frame::Text(Leaf::Default)),
                b"unit" => self.push(Frame::Text(Leaf::Unit)),
                b"multiplicationFactor" => self.push(Frame::Text(Leaf::MultiplicationFactor)),
                b"resolution" => self.push(Frame::Text(Leaf::Resolution)),
                b"fractionDigits" => self.push(Frame::Text(Leaf::FractionDigits)),
                b"undefinedValue" => self.push(Frame::Text(Leaf::UndefinedValue)),
                b"validValues" => self.push(Frame::Text(Leaf::ValidValues)),
                b"mimName" => self.push(Frame::Text(Leaf::RefMim)),
                b"isPassphrase" => {
                    self.spec.passphrase = true;
                    self.push(Frame::Done)
                }
                b"ipV4Address" | b"ipV6Address" | b"macAddress" | b"date" | b"time" | b"alphabet" => {
                    self.spec.format = Some(String::from_utf8_lossy(tag).into_owned());
                    self.push(Frame::Done)
                }
                _ => self.skip(tag),
            },
            Some(Frame::FlatBounds(_)) | Some(Frame::Subrange(_)) => match tag {
                b"min" => self.push(Frame::Text(Leaf::BoundMin)),
                b"max" => self.push(Frame::Text(Leaf::BoundMax)),
                _ => self.skip(tag),
            },
            Some(Frame::SubBounds(set)) => match tag {
                b"subrange" => {
                    self.sub_bound = Bound::default();
                    self.push(Frame::Subrange(set))
                }
                _ => self.skip(tag),
            },
            Some(Frame::Enum) => match tag {
                b"enumMember" => {
                    self.begin_owner(cx, e)?;
                    self.enum_value = None;
                    self.push(Frame::EnumMember)
                }
                _ => match owner_text(tag) {
                    Some(leaf) => self.push(Frame::Text(leaf)),
                    None => self.skip(tag),
                },
            },
            Some(Frame::EnumMember) => match tag {
                b"value" => self.push(Frame::Text(Leaf::EnumValue)),
                _ => match owner_text(tag) {
                    Some(leaf) => self.push(Frame::Text(leaf)),
                    None => self.skip(tag),
                },
            },
            Some(Frame::Struct) => match tag {
                b"structMember" => {
                    self.begin_owner(cx, e)?;
                    self.push(Frame::StructMember)
                }
                b"isExclusive" => {
                    self.struct_info.exclusive = true;
                    self.push(Frame::Done)
                }
                _ => match owner_text(tag) {
                    Some(leaf) => self.push(Frame::Text(leaf)),
                    None => self.skip(tag),
                },
            },
            Some(Frame::Ddt) => match tag {
                b"baseType" => self.push(Frame::TypeHolder),
                _ => match owner_text(tag) {
                    Some(leaf) => self.push(Frame::Text(leaf)),
                    None => self.skip(tag),
                },
            },
            Some(Frame::Relationship) => match tag {
                b"containment" => {
                    self.containment = ContainmentRec::default();
                    self.push(Frame::Containment)
                }
                _ => self.skip(tag),
            },
            Some(Frame::Containment) => match tag {
                b"parent" => self.push(Frame::RelParent),
                b"child" => {
                    self.containment.children.push(ChildRec::default());
                    self.push(Frame::RelChild)
                }
                _ => self.skip(tag),
            },
            Some(Frame::RelParent) | Some(Frame::RelChild) => match tag {
                b"hasClass" => {
                    let name = Self::name_attr(cx, e)?;
                    self.has_class = Some((None, name));
                    self.push(Frame::HasClass)
                }
                b"cardinality" if parent == Some(Frame::RelChild) => self.push(Frame::Cardinality),
                _ => self.skip(tag),
            },
            Some(Frame::HasClass) => match tag {
                b"mimName" => self.push(Frame::Text(Leaf::HasClassMim)),
                _ => self.skip(tag),
            },
            Some(Frame::Cardinality) => match tag {
                b"min" => self.push(Frame::Text(Leaf::CardMin)),
                b"max" => self.push(Frame::Text(Leaf::CardMax)),
                _ => self.skip(tag),
            },
            Some(Frame::Text(_)) | Some(Frame::Done) => self.skip(tag),
        }
    }

    fn flag(&mut self, set: impl FnOnce(&mut OwnerInfo)) -> Result<bool> {
        set(&mut self.info);
        self.push(Frame::Done)
    }

    fn begin_sequence(&mut self) -> Result<bool> {
        self.spec.is_sequence = true;
        self.push(Frame::Sequence)
    }

    fn begin_type(&mut self, cx: &mut Cx, tag: &[u8], e: &BytesStart) -> Result<bool> {
        if self.spec.base.is_some() {
            cx.warn("a second type element; the first one is kept");
            return self.skip(tag);
        }
        self.spec.base = Some(String::from_utf8_lossy(tag).into_owned());
        if matches!(tag, b"enumRef" | b"structRef" | b"moRef" | b"derivedDataTypeRef") {
            self.spec.ref_name = Some(Self::name_attr(cx, e)?);
        }
        self.push(Frame::Type)
    }

    fn begin_relationship(&mut self, cx: &mut Cx, e: &BytesStart) -> Result<bool> {
        self.relationship = Some(Self::name_attr(cx, e)?);
        self.push(Frame::Relationship)
    }

    fn end_text(&mut self, cx: &mut Cx, leaf: Leaf, text: &str) {
        match leaf {
            Leaf::DtdVersion => self.dtd_version = Some(text.trim().to_string()),
            Leaf::Description if self.stack.last() == Some(&Frame::Attribute) => {
                // the largest texts of a model: straight into the column, no copy kept
                if !self.info.description_written {
                    self.attributes.description.append_value(text);
                    self.info.description_written = true;
                }
            }
            Leaf::Description => self.owner_info().description = opt(text),
            Leaf::TakesEffect => self.owner_info().takes_effect = opt(text),
            Leaf::Disturbances => self.owner_info().disturbances = opt(text),
            Leaf::Dependencies => self.owner_info().dependencies = opt(text),
            Leaf::Precondition => self.owner_info().precondition = opt(text),
            Leaf::StatusInformation => {
                let info = self.owner_info();
                info.lifecycle_text = join_status(info, opt(text));
            }
            Leaf::Lifecycle(l) => {
                let info = self.owner_info();
                info.lifecycle = Some(l);
                if !text.trim().is_empty() {
                    info.lifecycle_text = opt(text);
                }
            }
            Leaf::Filter => self.owner_info().filter = opt(text),
            Leaf::Visibility => self.owner_info().visibility = opt(text),
            Leaf::CounterType => self.info.counter_type = opt(text),
            Leaf::BoundMin | Leaf::BoundMax => {
                let value = text.trim().to_string();
                Self::check_number(cx, if leaf == Leaf::BoundMin { "min" } else { "max" }, &value);
                let flat = matches!(self.stack.last(), Some(Frame::FlatBounds(_)));
                match (flat, leaf) {
                    (true, Leaf::BoundMin) => {
                        if let Some(prev) = self.flat_pending_min.take() {
                            self.flat_bounds.push(Bound { min: Some(prev), max: None });
                        }
                        self.flat_pending_min = Some(value);
                    }
                    (true, _) => {
                        let min = self.flat_pending_min.take();
                        self.flat_bounds.push(Bound { min, max: Some(value) });
                    }
                    (false, Leaf::BoundMin) => self.sub_bound.min = Some(value),
                    (false, _) => self.sub_bound.max = Some(value),
                }
            }
            Leaf::Default => self.spec.default = opt(text),
            Leaf::Unit => self.spec.unit = opt(text),
            // Kept as text: real models write expressions here ("1/1000", "10^(-6)").
            Leaf::MultiplicationFactor => self.spec.multiplication_factor = Some(text.trim().to_string()),
            Leaf::Resolution => {
                Self::check_number(cx, "resolution", text);
                self.spec.resolution = Some(text.trim().to_string());
            }
            Leaf::FractionDigits => {
                if !matches!(text.trim().parse::<u8>(), Ok(1..=18)) {
                    cx.warn(format!("fractionDigits {text:?} is not a whole number from 1 to 18"));
                }
                self.spec.fraction_digits = Some(text.trim().to_string());
            }
            Leaf::UndefinedValue => self.spec.undefined_value = opt(text),
            Leaf::ValidValues => self.spec.pattern = opt(text),
            Leaf::RefMim => self.spec.ref_mim = Some(text.trim().to_string()),
            Leaf::SeqMin | Leaf::SeqMax => {
                if text.trim().parse::<i64>().is_err() {
                    cx.warn(format!("sequence length {text:?} is not a whole number"));
                }
                if leaf == Leaf::SeqMin {
                    self.spec.seq_min = Some(text.trim().to_string());
                } else {
                    self.spec.seq_max = Some(text.trim().to_string());
                }
            }
            Leaf::SeqDefaultItem => self.spec.seq_default.push(text.to_string()),
            Leaf::EnumValue => {
                if text.trim().parse::<i64>().is_err() {
                    cx.warn(format!("enum member value {text:?} is not a whole number"));
                }
                self.enum_value = Some(text.trim().to_string());
            }
            Leaf::HasClassMim => {
                if let Some(hc) = self.has_class.as_mut() {
                    hc.0 = Some(text.trim().to_string());
                }
            }
            Leaf::CardMin | Leaf::CardMax => {
                if text.trim().parse::<i64>().is_err() {
                    cx.warn(format!("cardinality {text:?} is not a whole number"));
                }
                if let Some(child) = self.containment.children.last_mut() {
                    if leaf == Leaf::CardMin {
                        child.card_min = Some(text.trim().to_string());
                    } else {
                        child.card_max = Some(text.trim().to_string());
                    }
                }
            }
        }
    }

    fn end_frame(&mut self, cx: &mut Cx, frame: Frame, text: &str) -> Result<()> {
        match frame {
            Frame::Text(leaf) => self.end_text(cx, leaf, text),
            Frame::FlatBounds(set) => {
                if let Some(min) = self.flat_pending_min.take() {
                    self.flat_bounds.push(Bound { min: Some(min), max: None });
                }
                let bounds = std::mem::take(&mut self.flat_bounds);
                match set {
                    BoundSet::Value => self.spec.ranges.extend(bounds),
                    BoundSet::Length => self.spec.lengths.extend(bounds),
                }
            }
            Frame::Subrange(set) => {
                let b = std::mem::take(&mut self.sub_bound);
                match set {
                    BoundSet::Value => self.alt_ranges.push(b),
                    BoundSet::Length => self.alt_lengths.push(b),
                }
            }
            Frame::Attribute => self.end_attribute(cx),
            Frame::StructMember => {
                self.settle_bounds(cx);
                let info = std::mem::take(&mut self.info);
                let m = &mut self.members;
                m.mim.append_option(self.mim.as_deref());
                m.owner.append_option(self.struct_name.as_deref());
                m.member.append_value(&self.owner_name);
                m.key.append_value(info.key);
                m.nillable.append_value(info.nillable);
                m.lifecycle.append_option(info.lifecycle);
                m.lifecycle_text.append_option(info.lifecycle_text.as_deref());
                m.description.append_option(info.description.as_deref());
                let pending = self.pending();
                self.members.types.push(&self.defs, pending);
                self.struct_members += 1;
            }
            Frame::Ddt => {
                self.settle_bounds(cx);
                let info = std::mem::take(&mut self.info);
                let d = &mut self.derived;
                d.mim.append_option(self.mim.as_deref());
                d.name.append_value(&self.owner_name);
                d.description.append_option(info.description.as_deref());
                d.lifecycle.append_option(info.lifecycle);
                let pending = self.pending();
                self.defs.add_derived(self.mim.as_deref().unwrap_or(""), &self.owner_name, &pending.spec);
                self.derived.types.push(&self.defs, pending);
            }
            Frame::EnumMember => {
                let info = std::mem::take(&mut self.info);
                let r = &mut self.enum_member_rows;
                r.mim.append_option(self.mim.as_deref());
                r.name.append_option(self.enum_name.as_deref());
                r.member.append_value(&self.owner_name);
                r.value.append_option(self.enum_value.as_deref().and_then(|v| v.parse::<i64>().ok()));
                r.description.append_option(info.description.as_deref());
                r.lifecycle.append_option(info.lifecycle);
                r.lifecycle_text.append_option(info.lifecycle_text.as_deref());
                self.enum_members += 1;
            }
            Frame::Enum => {
                let info = std::mem::take(&mut self.enum_info);
                let name = self.enum_name.take().unwrap_or_default();
                let mim = self.mim.clone().unwrap_or_default();
                self.defs.add_enum(&mim, &name);
                let r = &mut self.enums;
                r.mim.append_value(&mim);
                r.name.append_value(&name);
                r.description.append_option(info.description.as_deref());
                r.lifecycle.append_option(info.lifecycle);
                r.member_count.append_value(self.enum_members);
            }
            Frame::Struct => {
                let info = std::mem::take(&mut self.struct_info);
                let name = self.struct_name.take().unwrap_or_default();
                let mim = self.mim.clone().unwrap_or_default();
                self.defs.add_struct(&mim, &name);
                let r = &mut self.structs;
                r.mim.append_value(&mim);
                r.name.append_value(&name);
                r.exclusive.append_value(info.exclusive);
                r.description.append_option(info.description.as_deref());
                r.member_count.append_value(self.struct_members);
            }
            Frame::Class => {
                let info = std::mem::take(&mut self.class_info);
                let name = self.class.take().unwrap_or_default();
                let mim = self.mim.clone().unwrap_or_default();
                self.defs.add_class(&mim, &name);
                let r = &mut self.classes;
                r.mim.append_value(&mim);
                r.class.append_value(&name);
                r.description.append_option(info.description.as_deref());
                r.system_created.append_value(info.system_created);
                r.read_only.append_value(info.read_only);
                r.root.append_value(info.root);
                r.lifecycle.append_option(info.lifecycle);
                r.lifecycle_text.append_option(info.lifecycle_text.as_deref());
                r.filter.append_option(info.filter.as_deref());
                r.visibility.append_option(info.visibility.as_deref());
                r.dependencies.append_option(info.dependencies.as_deref());
                r.precondition.append_option(info.precondition.as_deref());
                r.attribute_count.append_value(self.class_attribute_count);
            }
            Frame::Mim => self.close_mim_texts(),
            Frame::HasClass => {
                let hc = self.has_class.take();
                match self.stack.last() {
                    Some(Frame::RelParent) => self.containment.parent = hc,
                    _ => {
                        if let (Some((mim, class)), Some(child)) = (hc, self.containment.children.last_mut()) {
                            child.mim = mim;
                            child.class = Some(class);
                        }
                    }
                }
            }
            Frame::Containment => self.end_containment(cx),
            _ => {}
        }
        Ok(())
    }

    fn end_attribute(&mut self, cx: &mut Cx) {
        self.settle_bounds(cx);
        let info = std::mem::take(&mut self.info);
        let class = self.class.as_deref().unwrap_or("");
        let name = &self.owner_name;
        // CPP models have no <key/>: their naming attribute is `<Class>Id`.
        let implied_key =
            name.len() == class.len() + 2 && name.ends_with("Id") && name[..class.len()].eq_ignore_ascii_case(class);
        let a = &mut self.attributes;
        a.mim.append_option(self.mim.as_deref());
        a.class.append_value(class);
        a.attribute.append_value(name);
        a.mandatory.append_value(info.mandatory);
        a.read_only.append_value(info.read_only);
        a.restricted.append_value(info.restricted);
        a.key.append_value(info.key || implied_key);
        a.no_notification.append_value(info.no_notification);
        a.non_persistent.append_value(info.non_persistent);
        a.lock_before_modify.append_value(info.lock_before_modify);
        a.nillable.append_value(info.nillable);
        a.is_counter.append_value(info.counter_type.is_some());
        a.counter_type.append_option(info.counter_type.as_deref());
        a.lifecycle.append_option(info.lifecycle);
        a.lifecycle_text.append_option(info.lifecycle_text.as_deref());
        a.filter.append_option(info.filter.as_deref());
        a.visibility.append_option(info.visibility.as_deref());
        if !info.description_written {
            a.description.append_null();
        }
        a.takes_effect.append_option(info.takes_effect.as_deref());
        a.disturbances.append_option(info.disturbances.as_deref());
        a.dependencies.append_option(info.dependencies.as_deref());
        a.precondition.append_option(info.precondition.as_deref());
        let pending = self.pending();
        self.attributes.types.push(&self.defs, pending);
        self.class_attribute_count += 1;
    }

    fn end_containment(&mut self, cx: &mut Cx) {
        let rec = std::mem::take(&mut self.containment);
        let Some((parent_mim, parent)) = rec.parent else {
            cx.warn("containment without a parent hasClass; skipped");
            return;
        };
        let parent_mim = parent_mim.or_else(|| self.mim.clone());
        for child in rec.children {
            let Some(class) = child.class else {
                cx.warn("containment child without hasClass; skipped");
                continue;
            };
            let r = &mut self.containments;
            r.parent_mim.append_option(parent_mim.as_deref());
            r.parent.append_value(&parent);
            r.child_mim.append_option(child.mim.as_deref().or(self.mim.as_deref()));
            r.child.append_value(&class);
            r.card_min.append_option(child.card_min.and_then(|v| v.parse::<i64>().ok()));
            r.card_max.append_option(child.card_max.and_then(|v| v.parse::<i64>().ok()));
            r.relationship.append_option(self.relationship.as_deref());
        }
    }

    /// The tables of this reader's rows (all but `mims`), with references resolved against
    /// `defs`, the definitions of the whole file.
    fn into_tables(self, defs: &Definitions, bad: &mut UnresolvedByTable) -> std::result::Result<Vec<Table>, String> {
        let MomReader { classes, attributes, members, enums, enum_member_rows, structs, derived, containments, .. } =
            self;
        let e = |err: arrow_schema::ArrowError| err.to_string();
        let mut tables = Vec::new();

        // classes
        let n = classes.class.len();
        let c = classes;
        let mut p = BatchParts::default();
        p.utf8("mim", c.mim, true)
            .utf8("class", c.class, false)
            .utf8("description", c.description, true)
            .boolean("system_created", c.system_created, false)
            .boolean("read_only", c.read_only, false)
            .boolean("root", c.root, false)
            .utf8("lifecycle", c.lifecycle, true)
            .utf8("lifecycle_text", c.lifecycle_text, true)
            .utf8("filter", c.filter, true)
            .utf8("visibility", c.visibility, true)
            .utf8("dependencies", c.dependencies, true)
            .utf8("precondition", c.precondition, true)
            .int64("attribute_count", c.attribute_count)
            .push(source_field(), source_column(n));
        tables.push(Table::new("classes", p.finish().map_err(e)?));

        // attributes
        let mut a = attributes;
        let types = std::mem::take(&mut a.types).finish(defs, &mut bad.attributes).map_err(e)?;
        tables.push(Table::new("attributes", attribute_batch(a, types).map_err(e)?));

        // enums
        let n = enums.name.len();
        let mut p = BatchParts::default();
        p.utf8("mim", enums.mim, false)
            .utf8("enum", enums.name, false)
            .utf8("description", enums.description, true)
            .utf8("lifecycle", enums.lifecycle, true)
            .int64("member_count", enums.member_count)
            .push(source_field(), source_column(n));
        tables.push(Table::new("enums", p.finish().map_err(e)?));

        let r = enum_member_rows;
        let n = r.member.len();
        let mut p = BatchParts::default();
        p.utf8("mim", r.mim, false)
            .utf8("enum", r.name, false)
            .utf8("member", r.member, false)
            .int64("value", r.value)
            .utf8("description", r.description, true)
            .utf8("lifecycle", r.lifecycle, true)
            .utf8("lifecycle_text", r.lifecycle_text, true)
            .push(source_field(), source_column(n));
        tables.push(Table::new("enum_members", p.finish().map_err(e)?));

        let n = structs.name.len();
        let mut p = BatchParts::default();
        p.utf8("mim", structs.mim, false)
            .utf8("struct", structs.name, false)
            .boolean("exclusive", structs.exclusive, false)
            .utf8("description", structs.description, true)
            .int64("member_count", structs.member_count)
            .push(source_field(), source_column(n));
        tables.push(Table::new("structs", p.finish().map_err(e)?));

        let m = members;
        let n = m.member.len();
        let types = m.types.finish(defs, &mut bad.struct_members).map_err(e)?;
        let mut p = BatchParts::default();
        p.utf8("mim", m.mim, true).utf8("struct", m.owner, false).utf8("member", m.member, false).type_arrays(types);
        p.boolean("key", m.key, false)
            .boolean("nillable", m.nillable, false)
            .utf8("lifecycle", m.lifecycle, true)
            .utf8("lifecycle_text", m.lifecycle_text, true)
            .utf8("description", m.description, true)
            .push(source_field(), source_column(n));
        tables.push(Table::new("struct_members", p.finish().map_err(e)?));

        let d = derived;
        let n = d.name.len();
        let types = d.types.finish(defs, &mut bad.derived_types).map_err(e)?;
        let mut p = BatchParts::default();
        p.utf8("mim", d.mim, false).utf8("name", d.name, false).type_arrays(types);
        p.utf8("description", d.description, true)
            .utf8("lifecycle", d.lifecycle, true)
            .push(source_field(), source_column(n));
        tables.push(Table::new("derived_types", p.finish().map_err(e)?));

        let c = containments;
        let n = c.child.len();
        let mut p = BatchParts::default();
        p.utf8("parent_mim", c.parent_mim, true)
            .utf8("parent", c.parent, false)
            .utf8("child_mim", c.child_mim, true)
            .utf8("child", c.child, false)
            .int64("card_min", c.card_min)
            .int64("card_max", c.card_max)
            .utf8("relationship", c.relationship, true)
            .push(source_field(), source_column(n));
        tables.push(Table::new("containment", p.finish().map_err(e)?));
        Ok(tables)
    }
}

/// The rows of `a` (whose type columns are `types`) as one batch of the `attributes` table.
fn attribute_batch(a: AttributeRows, types: Vec<ArrayRef>) -> std::result::Result<RecordBatch, ArrowError> {
    let n = a.attribute.len();
    let mut p = BatchParts::default();
    p.utf8("mim", a.mim, true).utf8("class", a.class, false).utf8("attribute", a.attribute, false).type_arrays(types);
    p.boolean("mandatory", a.mandatory, false)
        .boolean("read_only", a.read_only, false)
        .boolean("restricted", a.restricted, false)
        .boolean("key", a.key, false)
        .boolean("no_notification", a.no_notification, false)
        .boolean("non_persistent", a.non_persistent, false)
        .boolean("lock_before_modify", a.lock_before_modify, false)
        .boolean("nillable", a.nillable, false)
        .boolean("is_counter", a.is_counter, false)
        .utf8("counter_type", a.counter_type, true)
        .utf8("lifecycle", a.lifecycle, true)
        .utf8("lifecycle_text", a.lifecycle_text, true)
        .utf8("filter", a.filter, true)
        .utf8("visibility", a.visibility, true)
        .utf8("description", a.description, true)
        .utf8("takes_effect", a.takes_effect, true)
        .utf8("disturbances", a.disturbances, true)
        .utf8("dependencies", a.dependencies, true)
        .utf8("precondition", a.precondition, true)
        .push(source_field(), source_column(n));
    p.finish()
}

fn source_column(n: usize) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(n, n * 3);
    for _ in 0..n {
        b.append_value("mom");
    }
    Arc::new(b.finish())
}

fn source_field() -> Field {
    Field::new("source", DataType::Utf8, false)
}

/// Unresolved references of each table with type columns, gathered over all spans.
#[derive(Default)]
struct UnresolvedByTable {
    attributes: Unresolved,
    struct_members: Unresolved,
    derived_types: Unresolved,
}

/// Turn the readers of consecutive spans of one file (a single reader for a sequential
/// read) into the catalog tables, and give the warnings only known at the end.
fn finish_spans(mut readers: Vec<MomReader>) -> std::result::Result<(Vec<Table>, Vec<RawWarning>), String> {
    let mut defs = Definitions::default();
    let mut mims: Vec<MimRec> = Vec::new();
    for r in &mut readers {
        defs.merge(std::mem::take(&mut r.defs));
        // texts of a <mim> that began in an earlier span
        for (name, description, lifecycle) in std::mem::take(&mut r.open_mim_texts) {
            if let Some(rec) = mims.iter_mut().rev().find(|m| m.name == name) {
                rec.description = description.or(rec.description.take());
                rec.lifecycle = lifecycle.or(rec.lifecycle);
            }
        }
        mims.append(&mut r.mims);
    }
    let mut late = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for m in &mims {
        if !seen.insert(m.name.as_str()) {
            late.push(RawWarning {
                offset: m.offset,
                element: format!("models/mim[{}]", m.name),
                message: format!("a second <mim name={:?}> in the same file; its definitions are merged", m.name),
            });
        }
    }
    let dtd_version = readers.iter().find_map(|r| r.dtd_version.clone());
    let mut tables = vec![mims_table(&mims, dtd_version.as_deref())?];
    let mut bad = UnresolvedByTable::default();
    for r in readers {
        for t in r.into_tables(&defs, &mut bad)? {
            match tables.iter_mut().find(|have| have.name == t.name) {
                Some(have) => have.batches.extend(t.batches),
                None => tables.push(t),
            }
        }
    }
    bad.attributes.into_warnings(&mut late);
    bad.struct_members.into_warnings(&mut late);
    bad.derived_types.into_warnings(&mut late);
    Ok((tables, late))
}

fn mims_table(mims: &[MimRec], dtd_version: Option<&str>) -> std::result::Result<Table, String> {
    let e = |err: arrow_schema::ArrowError| err.to_string();
    // mims
    let mut p = BatchParts::default();
    let mut cols: Vec<StringBuilder> = (0..11).map(|_| StringBuilder::new()).collect();
    for m in mims {
        let vals = [
            Some(m.name.as_str()),
            m.version.as_deref(),
            m.release.as_deref(),
            m.correction.as_deref(),
            m.namespace.as_deref(),
            m.namespace_prefix.as_deref(),
            m.revision.as_deref(),
            m.author.as_deref(),
            m.date.as_deref(),
            m.description.as_deref(),
            dtd_version,
        ];
        for (c, v) in cols.iter_mut().zip(vals) {
            c.append_option(v);
        }
    }
    let names = [
        "mim",
        "version",
        "release",
        "correction",
        "namespace",
        "namespace_prefix",
        "revision",
        "author",
        "date",
        "description",
        "dtd_version",
    ];
    for (i, (c, n)) in cols.into_iter().zip(names).enumerate() {
        p.utf8(n, c, i != 0);
    }
    p.push(source_field(), source_column(mims.len()));
    Ok(Table::new("mims", p.finish().map_err(e)?))
}

fn same_bounds(a: &[Bound], b: &[Bound]) -> bool {
    let num = |s: &Option<String>| s.as_deref().map(|t| parse_decimal(t).ok_or_else(|| t.to_string()));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| num(&x.min) == num(&y.min) && num(&x.max) == num(&y.max))
}

impl Handler for MomReader {
    fn start(&mut self, cx: &mut Cx, name: &[u8], e: &BytesStart) -> Result<bool> {
        if self.skip_depth > 0 {
            self.skip_depth += 1;
            return Ok(false);
        }
        let parent = self.stack.last().copied();
        self.start_in(cx, parent, name, e)
    }

    fn end(&mut self, cx: &mut Cx, _name: &[u8], text: &str) -> Result<()> {
        if self.skip_depth > 0 {
            self.skip_depth -= 1;
            return Ok(());
        }
        match self.stack.pop() {
            Some(frame) => self.end_frame(cx, frame, text),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
