//! The planner's passes (`rtbfast.enm.plan`): a ChangeSet's writes, creates and deletes on a
//! network with a catalog → the Plan's rows, in step order. Python checks the ChangeSet and
//! words every problem and note; what is here decides:
//!
//! - [`last_writes`]: of the rows writing each (fdn, attribute), those of its last write in
//!   each phase (the rows of one write, a struct or a sequence, follow each other in `seq`
//!   with one target and source), with the kind of each value and its sequence flag, values
//!   written the node's way ([`typed`]);
//! - [`plan_steps`]:
//!   - minimal sets: the writes of an existing MO whose whole attribute already holds the
//!     wanted value are dropped, compared as typed values, item by item and member by member;
//!   - creates: parents before children, referenced MOs before the MOs that refer to them; a
//!     cycle of references broken by setting one (not mandatory) reference after the creates;
//!   - sets: one step per MO and phase, in the order of their first write;
//!   - locks: the sets needing their MO (or the nearest MO above it with an
//!     `administrativeState`) LOCKED are wrapped in a lock window of that MO, which gets its
//!     state back;
//!   - deletes: the whole subtree, children first; references to a deleted MO from MOs that
//!     stay cleared first (an MO whose reference cannot be cleared is deleted too); a lockable
//!     MO locked before it goes;
//!   - steps numbered by phase, kind and window; the rows of a step in ChangeSet order.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::{FxHashMap, FxHashSet};

use super::view::{bad, class_of_fdn, int32, int64, opt_i32, parent_of_fdn, typed, PlanningCatalog};
use super::view::{Decoded, Names, NetworkView, Text, ADMIN};
use crate::error::Result;

/// `EMPTIED`: the index of the one row that empties a sequence.
const EMPTIED: i32 = super::EMPTIED;
/// Effects listed at most (as `Planner._effects`).
const EFFECTS: usize = 200_000;

/// The columns of ChangeSet rows (a ChangeSet, or the writes [`last_writes`] keeps).
struct Rows {
    phase_order: Int32Array,
    seq: Int64Array,
    fdn: Text,
    class: Text,
    attribute: Text,
    member: Text,
    index: Int32Array,
    value: Text,
    target: Text,
    source: Text,
    kind: Text,
    /// The catalog's word that the attribute is changed only while locked, when given.
    locked: Option<arrow_array::BooleanArray>,
    n: usize,
}

impl Rows {
    fn of(batch: &RecordBatch, table: &str) -> Result<Rows> {
        let text = |name: &str, optional: bool| Text::column(batch, table, name, optional);
        Ok(Rows {
            phase_order: int32(batch, table, "phase_order", false)?,
            seq: int64(batch, table, "seq")?,
            fdn: text("fdn", false)?,
            class: text("class", false)?,
            attribute: text("attribute", true)?,
            member: text("member", true)?,
            index: int32(batch, table, "index", true)?,
            value: text("value", true)?,
            target: text("target", true)?,
            source: text("source", true)?,
            kind: text("kind", true)?,
            locked: batch
                .column_by_name("locked")
                .and_then(|c| c.as_boolean_opt().cloned())
                .filter(|c| c.null_count() == 0),
            n: batch.num_rows(),
        })
    }

    #[inline]
    fn phase_order(&self, i: usize) -> i32 {
        self.phase_order.value(i)
    }

    #[inline]
    fn fdn(&self, i: usize) -> &str {
        self.fdn.str(i)
    }

    #[inline]
    fn attribute(&self, i: usize) -> &str {
        self.attribute.str(i)
    }
}

/// Whether two texts differ, a null read as "\x00" (as the Python pass compared them).
#[inline]
fn differ(a: Option<&str>, b: Option<&str>) -> bool {
    a.unwrap_or("\x00") != b.unwrap_or("\x00")
}

/// Of the writes (ChangeSet rows that write an attribute), the rows of each (fdn, attribute)'s
/// last write in each phase, in `seq` order; the `target` column left out, `value` written as
/// the node compares it, and added: `kind` and `is_sequence` of each (class, attribute,
/// member), `guarded` (the catalog says the attribute is read-only or restricted: the writes
/// the operation rules may refuse), `locked` (changed only while its MO is LOCKED), and `mo`,
/// `attr` and `code`: the MO, the attribute and the (fdn, attribute)
/// written, numbered by first appearance (what [`plan_steps`] groups by).
pub fn last_writes(writes: &RecordBatch, catalog: &PlanningCatalog) -> Result<RecordBatch> {
    let w = Rows::of(writes, "writes")?;
    let n = w.n;
    let sorted = (1..n).all(|i| w.seq.value(i) >= w.seq.value(i - 1));
    let mut order: Vec<u32> = (0..n as u32).collect();
    if !sorted {
        order.sort_by_key(|&i| w.seq.value(i as usize)); // stable
    }
    // every name hashed once (the FDN of a row of the same MO as the one before it not even
    // once): what follows compares and groups integers
    let mut fdns = Names::with_capacity(n / 4);
    let mut attributes = Names::new();
    let mut codes: FxHashMap<(u32, u32), u32> = FxHashMap::with_capacity_and_hasher(n, Default::default());
    let mut code: Vec<u32> = Vec::with_capacity(n);
    let mut mo: Vec<u32> = Vec::with_capacity(n);
    let mut attribute_of: Vec<u32> = Vec::with_capacity(n);
    for &i in &order {
        let i = i as usize;
        let key = (fdns.id(w.fdn(i)), attributes.id(w.attribute(i)));
        let next = codes.len() as u32;
        code.push(*codes.entry(key).or_insert(next));
        mo.push(key.0);
        attribute_of.push(key.1);
    }
    // a new write: another attribute, target or source, or a scalar written again
    let mut run = vec![0u32; n];
    for k in 1..n {
        let (i, p) = (order[k] as usize, order[k - 1] as usize);
        let starts = code[k] != code[k - 1]
            || (w.member.get(i).is_none()
                && w.member.get(p).is_none()
                && opt_i32(&w.index, i).unwrap_or(-3) == opt_i32(&w.index, p).unwrap_or(-3))
            || differ(w.target.get(i), w.target.get(p))
            || differ(w.source.get(i), w.source.get(p));
        run[k] = run[k - 1] + u32::from(starts);
    }
    // the last write in each phase: a later phase may write again on purpose
    let mut last_run: FxHashMap<(u32, i32), u32> = FxHashMap::with_capacity_and_hasher(codes.len(), Default::default());
    for k in 0..n {
        let slot = last_run.entry((code[k], w.phase_order(order[k] as usize))).or_insert(0);
        *slot = (*slot).max(run[k]);
    }
    let runs = if n == 0 { 0 } else { run[n - 1] as usize + 1 };
    // places in `order` of the rows kept
    let kept: Vec<u32> = if last_run.len() == runs {
        (0..n as u32).collect()
    } else {
        let mut is_last = vec![false; runs];
        for &r in last_run.values() {
            is_last[r as usize] = true;
        }
        (0..n as u32).filter(|&k| is_last[run[k as usize] as usize]).collect()
    };
    let identity = sorted && kept.len() == n;
    // what the catalog says of each (class, attribute, member), looked up once
    let mut classes = Names::new();
    let mut members = Names::new();
    type Said<'c> = (Option<&'c str>, Option<bool>, bool, bool);
    let mut said_of: FxHashMap<(u32, u32, u32), Said<'_>> = FxHashMap::default();
    let mut kinds = StringBuilder::with_capacity(kept.len(), kept.len() * 6);
    let mut sequences = BooleanBuilder::with_capacity(kept.len());
    let mut guarded = BooleanBuilder::with_capacity(kept.len());
    let mut locked = BooleanBuilder::with_capacity(kept.len());
    let mut typed_values: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(kept.len());
    let mut rewritten = false;
    // the MOs and the (fdn, attribute) written numbered again by first appearance among the
    // rows kept (so `plan_steps` can read their names from the first row of each)
    let mut mo_again = vec![NO_ID; fdns.len()];
    let mut code_again = vec![NO_ID; codes.len()];
    let mut attr_again = vec![NO_ID; attributes.len()];
    let (mut kept_mo, mut kept_code, mut kept_attr): (Vec<i32>, Vec<i32>, Vec<i32>) =
        (Vec::with_capacity(kept.len()), Vec::with_capacity(kept.len()), Vec::with_capacity(kept.len()));
    let (mut mos, mut keys, mut attrs) = (0u32, 0u32, 0u32);
    for &k in &kept {
        let k = k as usize;
        let i = order[k] as usize;
        let (class, member) = (w.class.str(i), w.member.get(i));
        let key = (classes.id(class), attribute_of[k], member.map_or(NO_ID, |m| members.id(m)));
        let said = *said_of.entry(key).or_insert_with(|| {
            let attribute = attributes.text(key.1);
            let (kind, sequence) = catalog.kind(class, attribute, member).unwrap_or((None, None));
            let flags = catalog.flags(class, attribute);
            let guarded = flags.is_some_and(|f| f.read_only || f.restricted);
            (kind, sequence, guarded, catalog.needs_lock(class, attribute))
        });
        kinds.append_option(said.0);
        sequences.append_option(said.1);
        guarded.append_value(said.2);
        locked.append_value(said.3);
        let value = w.value.get(i).map(|v| typed(v, said.0));
        rewritten |= matches!(value, Some(Cow::Owned(_)));
        typed_values.push(value);
        for (again, next, id, out) in [
            (&mut mo_again, &mut mos, mo[k], &mut kept_mo),
            (&mut code_again, &mut keys, code[k], &mut kept_code),
            (&mut attr_again, &mut attrs, attribute_of[k], &mut kept_attr),
        ] {
            if again[id as usize] == NO_ID {
                again[id as usize] = *next;
                *next += 1;
            }
            out.push(again[id as usize] as i32);
        }
    }
    let take = UInt32Array::from_iter_values(kept.iter().map(|&k| order[k as usize]));
    let taken = |column: &ArrayRef| -> Result<ArrayRef> {
        if identity {
            Ok(column.clone())
        } else {
            arrow_select::take::take(column, &take, None).map_err(|e| bad("writes", e.to_string()))
        }
    };
    let schema = writes.schema();
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, column) in schema.fields().iter().zip(writes.columns()) {
        match f.name().as_str() {
            "target" | "kind" | "is_sequence" | "guarded" | "locked" | "code" | "mo" | "attr" => continue,
            "value" if rewritten || column.data_type() != &DataType::Utf8 => {
                let mut values = StringBuilder::with_capacity(typed_values.len(), typed_values.len() * 8);
                for v in &typed_values {
                    values.append_option(v.as_deref());
                }
                fields.push(Field::new("value", DataType::Utf8, true));
                columns.push(Arc::new(values.finish()));
            }
            _ => {
                fields.push(f.as_ref().clone());
                columns.push(taken(column)?);
            }
        }
    }
    let extra: [(&str, DataType, bool, ArrayRef); 7] = [
        ("kind", DataType::Utf8, true, Arc::new(kinds.finish())),
        ("is_sequence", DataType::Boolean, true, Arc::new(sequences.finish())),
        ("guarded", DataType::Boolean, false, Arc::new(guarded.finish())),
        ("locked", DataType::Boolean, false, Arc::new(locked.finish())),
        ("code", DataType::Int32, false, Arc::new(Int32Array::from(kept_code))),
        ("mo", DataType::Int32, false, Arc::new(Int32Array::from(kept_mo))),
        ("attr", DataType::Int32, false, Arc::new(Int32Array::from(kept_attr))),
    ];
    for (name, t, nullable, array) in extra {
        fields.push(Field::new(name, t, nullable));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| bad("writes", e.to_string()))
}

/// What the planner notes (Python words it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// `count` references among new MOs set after the creates, the first of `fdn`.
    Cycle { fdn: String, count: usize },
    /// The sets of `attributes` of `fdn` need a LOCKED MO and none above it has a state.
    NoLock { fdn: String, attributes: Vec<String> },
    /// `fdn` is deleted too: its `attribute` refers to a deleted MO and cannot be cleared.
    Cascade { fdn: String, attribute: String },
}

/// The planned steps, or the MOs of a cycle of mandatory references (the first six).
#[derive(Debug)]
pub enum Planned {
    Steps(Box<Steps>),
    Cycle(Vec<String>),
}

#[derive(Debug)]
pub struct Steps {
    /// The Plan's rows laid out: see [`Layout`].
    pub layout: Layout,
    pub notes: Vec<Note>,
    /// Attribute writes left out: the network already holds the value.
    pub dropped: usize,
    /// `fdn`, `class`, `attribute` written whose (class, attribute) is in the effect pairs
    /// given, each once, in the order of their first write (at most 200,000).
    pub effects: RecordBatch,
}

/// The rows of a Plan, in step order: each the row `take[k]` of the writes followed by the
/// rows of steps of their own (`own`, `PLAN_SCHEMA`'s columns but `step` and `op`), with its
/// `step` and `op`. The rows are laid out, not copied: whoever holds the writes materializes
/// them ([`Layout::plan`], or Arrow's `take` in Python).
#[derive(Debug)]
pub struct Layout {
    pub take: Int64Array,
    pub step: Int64Array,
    pub op: arrow_array::StringArray,
    pub own: RecordBatch,
}

impl Layout {
    /// The Plan's rows (`PLAN_SCHEMA`'s columns) from the writes they were laid out over.
    pub fn plan(&self, writes: &RecordBatch) -> Result<RecordBatch> {
        let n = writes.num_rows();
        let at: Vec<(usize, usize)> = self
            .take
            .values()
            .iter()
            .map(|&t| if (t as usize) < n { (0, t as usize) } else { (1, t as usize - n) })
            .collect();
        let mut fields = vec![Field::new("step", DataType::Int64, self.step.null_count() > 0)];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(self.step.clone())];
        for field in self.own.schema().fields() {
            let name = field.name().as_str();
            if name == "fdn" {
                fields.push(Field::new("op", DataType::Utf8, false));
                columns.push(Arc::new(self.op.clone()));
            }
            let mine = self.own.column_by_name(name).ok_or_else(|| bad("plan", format!("no column {name}")))?;
            let theirs = writes
                .column_by_name(name)
                .cloned()
                .unwrap_or_else(|| arrow_array::new_null_array(mine.data_type(), n));
            if theirs.data_type() != mine.data_type() {
                return Err(bad(
                    "writes",
                    format!("column {name:?} is {}, not {}", theirs.data_type(), mine.data_type()),
                ));
            }
            let column = arrow_select::interleave::interleave(&[theirs.as_ref(), mine.as_ref()], &at)
                .map_err(|e| bad("plan", e.to_string()))?;
            fields.push(field.as_ref().clone());
            columns.push(column);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| bad("plan", e.to_string()))
    }
}

const RANK_CREATE: u8 = 0;
const RANK_LOCK: u8 = 1;
const RANK_SET: u8 = 2;
const RANK_RELINK: u8 = 3;
const RANK_UNLOCK: u8 = 4;
const RANK_UNLINK: u8 = 5;
const RANK_LOCK_DELETE: u8 = 6;
const RANK_DELETE: u8 = 7;

/// A step: its phase, kind (rank), place among its kind, op, MO and source.
struct Head<'a> {
    phase: i32,
    rank: u8,
    at: f64,
    op: &'static str,
    fdn: &'a str,
    class: &'a str,
    source: Option<Cow<'a, str>>,
}

/// A row of a step that has rows of its own (a lock, an unlock, a reference cleared).
struct Extra<'a> {
    head: usize,
    attribute: &'a str,
    index: Option<i32>,
    value: Option<Cow<'a, str>>,
    kind: Option<&'static str>,
    is_sequence: Option<bool>,
}

impl<'a> Extra<'a> {
    fn state(head: usize, value: Cow<'a, str>) -> Extra<'a> {
        Extra {
            head,
            attribute: ADMIN,
            index: Some(0),
            value: Some(value),
            kind: Some("enum"),
            is_sequence: Some(false),
        }
    }
}

/// A Python `repr` of a text, as `str()` of a list shows its items.
fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str(value)` of a value `NetworkIndex.value` decodes (a struct is not read here).
fn py_str(value: &Decoded<'_>) -> Option<String> {
    match value {
        Decoded::None | Decoded::Scalar(None) => None,
        Decoded::Scalar(Some(v)) => Some((*v).to_owned()),
        Decoded::Items(items) => Some(format!(
            "[{}]",
            items.iter().map(|v| v.map_or_else(|| "None".to_owned(), py_repr)).collect::<Vec<_>>().join(", ")
        )),
        Decoded::Other => Some("{}".to_owned()),
    }
}

/// An ordered map of keys to what is gathered under them.
struct Groups<K, V> {
    at: FxHashMap<K, usize>,
    items: Vec<(K, V)>,
}

impl<K: std::hash::Hash + Eq + Clone, V> Groups<K, V> {
    fn new() -> Self {
        Groups { at: FxHashMap::default(), items: Vec::new() }
    }

    fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = *self.at.entry(key.clone()).or_insert_with(|| {
            self.items.push((key, make()));
            self.items.len() - 1
        });
        &mut self.items[at].1
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.at.get(key).map(|&i| &self.items[i].1)
    }
}

/// The MO of no FDN id.
const NO_ID: u32 = u32::MAX;

struct Planner<'a> {
    w: &'a Rows,
    net: &'a NetworkView,
    cat: &'a PlanningCatalog,
    heads: Vec<Head<'a>>,
    /// The FDN id of each head (`NO_ID` for the MOs the writes do not name).
    head_ids: Vec<u32>,
    extras: Vec<Extra<'a>>,
    notes: Vec<Note>,
    /// (phase, op, fdn) → the lock window a lock, set or unlock step belongs to.
    windows: FxHashMap<(i32, &'static str, &'a str), usize>,
}

impl<'a> Planner<'a> {
    fn push(&mut self, head: Head<'a>, id: u32) -> usize {
        self.heads.push(head);
        self.head_ids.push(id);
        self.heads.len() - 1
    }
}

/// The numbers of an int32 column `name` (ids from 0, each first appearing after the ones
/// below it), when `writes` has one.
fn numbers(writes: &RecordBatch, name: &str, n: usize) -> Option<Vec<u32>> {
    let column = writes.column_by_name(name)?.as_primitive_opt::<Int32Type>()?;
    if column.null_count() > 0 || column.len() != n {
        return None;
    }
    let mut next = 0i32;
    let mut out = Vec::with_capacity(n);
    for &c in column.values().iter() {
        if c < 0 || c > next {
            return None;
        }
        if c == next {
            next += 1;
        }
        out.push(c as u32);
    }
    Some(out)
}

/// The (fdn, attribute) of each write, numbered: the `code` column [`last_writes`] adds, or
/// made again.
fn codes(writes: &RecordBatch, w: &Rows, ids: &[u32]) -> Vec<u32> {
    if let Some(codes) = numbers(writes, "code", w.n) {
        return codes;
    }
    let mut codes: FxHashMap<(u32, &str), u32> = FxHashMap::with_capacity_and_hasher(w.n, Default::default());
    (0..w.n)
        .map(|i| {
            let next = codes.len() as u32;
            *codes.entry((ids[i], w.attribute(i))).or_insert(next)
        })
        .collect()
}

/// The steps of a ChangeSet: `writes` as [`last_writes`] keeps them (checked), `creates` and
/// `deletes` (the ChangeSet's structural rows; a create of an MO the network has is not among
/// them), `phase_names` (phase order → name), and the (class, attribute) pairs whose writes
/// are listed in [`Steps::effects`].
pub fn plan_steps(
    writes: &RecordBatch,
    creates: &RecordBatch,
    deletes: &RecordBatch,
    phase_names: &FxHashMap<i32, String>,
    effect_pairs: &FxHashSet<(String, String)>,
    net: &NetworkView,
    cat: &PlanningCatalog,
) -> Result<Planned> {
    let w = Rows::of(writes, "writes")?;
    let c = Rows::of(creates, "creates")?;
    let d = Rows::of(deletes, "deletes")?;
    let given = numbers(writes, "mo", w.n).and_then(|ids| Names::of_ids(&ids, |i| w.fdn(i)).map(|names| (ids, names)));
    let (ids, mut names) = match given {
        Some(found) => found,
        None => {
            let mut names = Names::with_capacity(w.n / 4);
            ((0..w.n).map(|i| names.id(w.fdn(i))).collect(), names)
        }
    };
    let create_ids: Vec<u32> = (0..c.n).map(|i| names.id(c.fdn(i))).collect();
    let mut is_created = vec![false; names.len()];
    for &f in &create_ids {
        is_created[f as usize] = true;
    }
    let code = codes(writes, &w, &ids);
    // the attributes written, numbered (as `last_writes` numbered them, or again)
    let given = numbers(writes, "attr", w.n).and_then(|ids| Names::of_ids(&ids, |i| w.attribute(i)).map(|a| (ids, a)));
    let (attr, attributes) = match given {
        Some(found) => found,
        None => {
            let mut a = Names::new();
            ((0..w.n).map(|i| a.id(w.attribute(i))).collect(), a)
        }
    };
    let (keep, dropped) = minimal(&w, &ids, &code, (&attr, &attributes), &names, &is_created, net, cat);
    let mut p = Planner {
        w: &w,
        net,
        cat,
        heads: Vec::new(),
        head_ids: Vec::new(),
        extras: Vec::new(),
        notes: Vec::new(),
        windows: FxHashMap::default(),
    };
    let kept: Vec<usize> = (0..w.n).filter(|&i| keep[i]).collect();

    // creates: topological by parent and references among created MOs
    let mut create_rows: Vec<usize> =
        if c.n > 0 { kept.iter().copied().filter(|&i| is_created[ids[i] as usize]).collect() } else { Vec::new() };
    let created: FxHashSet<&str> = (0..c.n).map(|i| c.fdn(i)).collect();
    let (order, deferred) = match create_order(&c, &w, &create_rows, &created, cat) {
        Ok(found) => found,
        Err(remaining) => return Ok(Planned::Cycle(remaining)),
    };
    if let Some((first, _)) = deferred.first() {
        p.notes.push(Note::Cycle { fdn: (*first).to_owned(), count: deferred.len() });
    }
    // the last row of a created MO gives its phase, class and source
    let mut of_create: FxHashMap<&str, usize> = FxHashMap::default();
    for i in 0..c.n {
        of_create.insert(c.fdn(i), i);
    }
    let create_head = |rank: u8, at: f64, op: &'static str, r: usize| Head {
        phase: c.phase_order(r),
        rank,
        at,
        op,
        fdn: c.fdn(r),
        class: c.class.str(r),
        source: c.source.get(r).map(Cow::Borrowed),
    };
    for (i, fdn) in order.iter().enumerate() {
        let r = of_create[fdn];
        p.push(create_head(RANK_CREATE, i as f64, "create", r), create_ids[r]);
    }
    let mut later: Vec<usize> = Vec::new();
    if !deferred.is_empty() {
        let deferred: FxHashSet<(&str, &str)> = deferred.iter().copied().collect();
        let (moved, stay): (Vec<usize>, Vec<usize>) =
            create_rows.iter().partition(|&&i| deferred.contains(&(w.fdn(i), w.attribute(i))));
        later = moved;
        create_rows = stay;
        let mut seen: FxHashSet<u32> = FxHashSet::default();
        for &i in &later {
            if seen.insert(ids[i]) {
                let r = of_create[w.fdn(i)];
                let at = p.heads.len() as f64;
                p.push(create_head(RANK_RELINK, at, "set", r), create_ids[r]);
            }
        }
    }

    // sets of existing MOs: one step per MO and phase, in the order of their first write
    let sets: Vec<usize> =
        if c.n > 0 { kept.iter().copied().filter(|&i| !is_created[ids[i] as usize]).collect() } else { kept.clone() };
    let mut firsts: Groups<(i32, u32), (i64, usize)> = Groups::new();
    let mut last: Option<(i32, u32, usize)> = None;
    for &i in &sets {
        let (key, seq) = ((w.phase_order(i), ids[i]), w.seq.value(i));
        let at = match last {
            Some((phase, id, at)) if (phase, id) == key => at,
            _ => {
                firsts.entry(key, || (seq, i));
                firsts.at[&key]
            }
        };
        last = Some((key.0, key.1, at));
        let first = &mut firsts.items[at].1;
        first.0 = first.0.min(seq);
    }
    for ((phase, id), (seq, i)) in &firsts.items {
        let head = Head {
            phase: *phase,
            rank: RANK_SET,
            at: *seq as f64,
            op: "set",
            fdn: names.text(*id),
            class: w.class.str(*i),
            source: w.source.get(*i).map(Cow::Borrowed),
        };
        p.push(head, *id);
    }
    p.locks(&sets);
    p.deletes(&d);
    let layout = p.number(&ids, &later, &create_rows, &sets, phase_names)?;
    let effects = effects(&w, &ids, (&attr, &attributes), &kept, effect_pairs)?;
    Ok(Planned::Steps(Box::new(Steps { layout, notes: p.notes, dropped, effects })))
}

type Item<'s> = (Option<i32>, Option<&'s str>, Cow<'s, str>);

/// By index, then member (nulls last); the order of the rows kept among equals.
fn sort_items(items: &mut [Item<'_>]) {
    if items.len() < 2 {
        return;
    }
    items.sort_by(|a, b| {
        let index = match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        index.then_with(|| match (a.1, b.1) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        })
    });
}

/// One text per whole attribute value: items and members in order, each `index␞member␞value`
/// joined by `␝` (an unset index read as -2).
fn signature(items: &[Item<'_>]) -> String {
    let mut out = String::new();
    for (k, (index, member, value)) in items.iter().enumerate() {
        if k > 0 {
            out.push('\x1d');
        }
        out.push_str(&index.unwrap_or(-2).to_string());
        out.push('\x1e');
        out.push_str(member.unwrap_or(""));
        out.push('\x1e');
        out.push_str(value);
    }
    out
}

/// Whether two whole values are the same (their [`signature`]s are).
fn same_value(want: &[Item<'_>], have: &[Item<'_>]) -> bool {
    let has = |text: &str| memchr::memchr2(0x1d, 0x1e, text.as_bytes()).is_some();
    let separated = |items: &[Item<'_>]| items.iter().any(|(_, m, v)| m.is_some_and(has) || has(v));
    if separated(want) || separated(have) {
        // a separator in a text: compared as the joined texts are
        return signature(want) == signature(have);
    }
    want.len() == have.len()
        && want.iter().zip(have).all(|(a, b)| {
            a.0.unwrap_or(-2) == b.0.unwrap_or(-2) && a.1.unwrap_or("") == b.1.unwrap_or("") && a.2 == b.2
        })
}

/// Writes of existing MOs whose whole attribute already holds the wanted value are dropped (the
/// writes of created MOs all stay; only the first phase writing an attribute is compared with
/// the network): the rows kept, and how many attributes were dropped.
#[allow(clippy::too_many_arguments)]
fn minimal(
    w: &Rows,
    ids: &[u32],
    code: &[u32],
    (attr, attributes): (&[u32], &Names<'_>),
    names: &Names<'_>,
    is_created: &[bool],
    net: &NetworkView,
    cat: &PlanningCatalog,
) -> (Vec<bool>, usize) {
    let n = w.n;
    let mut keep = vec![true; n];
    if n == 0 {
        return (keep, 0);
    }
    let k = code.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut first_phase = vec![i32::MAX; k];
    for i in 0..n {
        let slot = &mut first_phase[code[i] as usize];
        *slot = (*slot).min(w.phase_order(i));
    }
    let candidate: Vec<bool> =
        (0..n).map(|i| !is_created[ids[i] as usize] && w.phase_order(i) == first_phase[code[i] as usize]).collect();
    if !candidate.iter().any(|&c| c) || !net.has_values() {
        return (keep, 0);
    }
    // the rows of each candidate attribute with a value, by code
    let mut is_candidate = vec![false; k];
    let mut want_start = vec![0u32; k + 1];
    for i in 0..n {
        if candidate[i] {
            is_candidate[code[i] as usize] = true;
            if w.value.get(i).is_some() {
                want_start[code[i] as usize + 1] += 1;
            }
        }
    }
    for c in 0..k {
        want_start[c + 1] += want_start[c];
    }
    let mut fill = want_start.clone();
    let mut want_rows = vec![0u32; want_start[k] as usize];
    // the candidate rows MO by MO (the MOs in the order of their first row)
    let mut mo_of: Vec<u32> = vec![NO_ID - 1; names.len()];
    let mut touched: Vec<(u32, u32)> = Vec::new(); // (MO row, class)
    let mut place: Vec<u32> = vec![NO_ID; names.len()]; // fdn → its place in `touched`
    let mut classes = Names::new();
    for i in 0..n {
        if !candidate[i] {
            continue;
        }
        let c = code[i] as usize;
        if w.value.get(i).is_some() {
            want_rows[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        let f = ids[i] as usize;
        if mo_of[f] == NO_ID - 1 {
            mo_of[f] = net.row_of(names.text(ids[i])).map_or(NO_ID, |r| r as u32);
            if mo_of[f] != NO_ID {
                place[f] = touched.len() as u32;
                touched.push((mo_of[f], classes.id(net.class(mo_of[f] as usize))));
            }
        }
    }
    let mut start = vec![0u32; touched.len() + 1];
    for i in 0..n {
        if candidate[i] && place[ids[i] as usize] != NO_ID {
            start[place[ids[i] as usize] as usize + 1] += 1;
        }
    }
    for t in 0..touched.len() {
        start[t + 1] += start[t];
    }
    let mut fill = start.clone();
    let mut rows_of = vec![0u32; start[touched.len()] as usize];
    for i in 0..n {
        if candidate[i] && place[ids[i] as usize] != NO_ID {
            let t = place[ids[i] as usize] as usize;
            rows_of[fill[t] as usize] = i as u32;
            fill[t] += 1;
        }
    }
    // each MO's value rows of the attributes written (a text of a dictionary is at one place:
    // each looked up once; a text of no dictionary, each time)
    let at = |t: &str| (t.as_ptr() as usize, t.len());
    let mut attribute_at: FxHashMap<(usize, usize), u32> = FxHashMap::default();
    let mut have_count = vec![0u32; k + 1];
    let mut have: Vec<(u32, u32, u32)> = Vec::new(); // (code, value row, class)
    let mut written: Vec<(u32, u32)> = Vec::new(); // (attribute, code) of one MO
    let mut written_at: FxHashMap<u32, u32> = FxHashMap::default();
    for (t, &(mo, class)) in touched.iter().enumerate() {
        written.clear();
        for &i in &rows_of[start[t] as usize..start[t + 1] as usize] {
            let (a, c) = (attr[i as usize], code[i as usize]);
            if !written.iter().any(|&(x, _)| x == a) {
                written.push((a, c));
            }
        }
        let many = written.len() > 16;
        if many {
            written_at.clear();
            written_at.extend(written.iter().copied());
        }
        for &g in net.values_of(mo as usize) {
            let attribute = net.value(g).attribute;
            let a = *attribute_at
                .entry(at(attribute))
                .or_insert_with(|| attributes.at.get(attribute).copied().unwrap_or(NO_ID));
            if a == NO_ID {
                continue;
            }
            let found = if many {
                written_at.get(&a).copied()
            } else {
                written.iter().find(|&&(x, _)| x == a).map(|&(_, c)| c)
            };
            if let Some(c) = found {
                have.push((c, g, class));
                have_count[c as usize + 1] += 1;
            }
        }
    }
    // by code (counted, not sorted): the network's order within an attribute
    for c in 0..k {
        have_count[c + 1] += have_count[c];
    }
    let mut by_code = vec![(0u32, 0u32, 0u32); have.len()];
    for h in have {
        let slot = &mut have_count[h.0 as usize];
        by_code[*slot as usize] = h;
        *slot += 1;
    }
    let have = by_code;
    let mut same = vec![false; k];
    let mut dropped = 0;
    let (mut want, mut held): (Vec<Item<'_>>, Vec<Item<'_>>) = (Vec::new(), Vec::new());
    type At = (usize, usize);
    let mut kind_at: FxHashMap<(u32, At, At), Option<&str>> = FxHashMap::default();
    let mut h = 0;
    for c in 0..k {
        if !is_candidate[c] {
            continue;
        }
        want.clear();
        for &i in &want_rows[want_start[c] as usize..want_start[c + 1] as usize] {
            let i = i as usize;
            want.push((opt_i32(&w.index, i), w.member.get(i), Cow::Borrowed(w.value.str(i))));
        }
        held.clear();
        while h < have.len() && (have[h].0 as usize) < c {
            h += 1;
        }
        while h < have.len() && have[h].0 as usize == c {
            let (_, g, class) = have[h];
            let v = net.value(g);
            let key = (class, at(v.attribute), v.member.map_or((0, 0), at));
            let kind = *kind_at
                .entry(key)
                .or_insert_with(|| cat.kind(classes.text(class), v.attribute, v.member).and_then(|(k, _)| k));
            let value = v.value.map_or(Cow::Borrowed("\x00null"), |t| typed(t, kind));
            held.push((v.index, v.member, value));
            h += 1;
        }
        sort_items(&mut want);
        sort_items(&mut held);
        if same_value(&want, &held) {
            same[c] = true;
            dropped += 1;
        }
    }
    for i in 0..n {
        if candidate[i] && same[code[i] as usize] {
            keep[i] = false;
        }
    }
    (keep, dropped)
}

/// Created MOs in order, and the (fdn, attribute) references set after their creates.
pub type CreateOrder<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);

/// Created MOs in an order ENM accepts, and the (fdn, attribute) references set after the
/// creates to break cycles; `Err` with the MOs (the first six) of a cycle through mandatory
/// references.
fn create_order<'a>(
    c: &'a Rows,
    w: &'a Rows,
    rows: &[usize],
    created: &FxHashSet<&'a str>,
    cat: &PlanningCatalog,
) -> std::result::Result<CreateOrder<'a>, Vec<String>> {
    if c.n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let references = rows
        .iter()
        .filter(|&&i| w.kind.get(i) == Some("moref"))
        .filter_map(|&i| w.value.get(i).map(|value| (w.fdn(i), w.attribute(i), value)));
    order_creates((0..c.n).map(|i| c.fdn(i)).collect(), references, created, cat)
}

/// The creates of `fdns` (`created`: the same, as a set) in the planner's order
/// ([`create_order`]), their references given apart (`references`: each moRef value written to
/// a created MO, `fdn`, `attribute`, `value`, in ChangeSet order): the order a plan made node
/// group by node group gives the creates of every group. `Err` as [`create_order`].
pub fn creates_in_order<'a>(
    fdns: &'a [String],
    references: &'a [(String, String, String)],
    cat: &PlanningCatalog,
) -> std::result::Result<CreateOrder<'a>, Vec<String>> {
    if fdns.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let created: FxHashSet<&str> = fdns.iter().map(String::as_str).collect();
    let references = references.iter().map(|(f, a, v)| (f.as_str(), a.as_str(), v.as_str()));
    order_creates(fdns.iter().map(String::as_str).collect(), references, &created, cat)
}

fn order_creates<'a>(
    fdns: Vec<&'a str>,
    references: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    created: &FxHashSet<&'a str>,
    cat: &PlanningCatalog,
) -> std::result::Result<CreateOrder<'a>, Vec<String>> {
    // fdn → its references to other created MOs: (attribute, targets), attributes in order
    let mut refs: FxHashMap<&str, Vec<(&str, Vec<&str>)>> = FxHashMap::default();
    for (fdn, attribute, value) in references {
        if created.contains(value) && value != fdn {
            let attrs = refs.entry(fdn).or_default();
            match attrs.iter_mut().find(|(a, _)| *a == attribute) {
                Some((_, targets)) => {
                    if !targets.contains(&value) {
                        targets.push(value);
                    }
                }
                None => attrs.push((attribute, vec![value])),
            }
        }
    }
    let mut position: FxHashMap<&str, usize> = FxHashMap::default();
    for (i, f) in fdns.iter().enumerate() {
        position.insert(f, i);
    }
    let mut remaining: Vec<&str> = fdns.clone();
    remaining.sort_by_key(|f| (f.matches(',').count(), position[f]));
    let mut done: Vec<&str> = Vec::new();
    let mut done_set: FxHashSet<&str> = FxHashSet::default();
    let mut deferred: Vec<(&str, &str)> = Vec::new();
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .copied()
            .filter(|f| {
                let parent = parent_of_fdn(f);
                if created.contains(parent) && !done_set.contains(parent) {
                    return false;
                }
                refs.get(f).is_none_or(|attrs| attrs.iter().all(|(_, ts)| ts.iter().all(|t| done_set.contains(t))))
            })
            .collect();
        if !ready.is_empty() {
            done_set.extend(ready.iter().copied());
            done.extend(ready);
            remaining.retain(|f| !done_set.contains(f));
            continue;
        }
        // a cycle of references: set one reference after the creates
        let mut broken = false;
        'find: for f in &remaining {
            let Some(attrs) = refs.get_mut(f) else { continue };
            for k in 0..attrs.len() {
                let (attribute, targets) = &attrs[k];
                let open = targets.iter().any(|t| !done_set.contains(t));
                let mandatory = cat.flags(class_of_fdn(f), attribute).is_some_and(|fl| fl.mandatory);
                if open && !mandatory {
                    deferred.push((f, attribute));
                    attrs.remove(k);
                    broken = true;
                    break 'find;
                }
            }
        }
        if !broken {
            return Err(remaining.iter().take(6).map(|f| (*f).to_owned()).collect());
        }
    }
    Ok((done, deferred))
}

impl<'a> Planner<'a> {
    /// The MO a change of `fdn` locks: itself or the nearest ancestor with an
    /// administrativeState, in the network.
    fn lock_target(&self, fdn: &str) -> Option<usize> {
        let mut row = self.net.row_of(fdn)?;
        loop {
            if self.cat.is_admin(self.net.class(row)) {
                return Some(row);
            }
            row = self.net.parent(row)?;
        }
    }

    fn locks(&mut self, sets: &[usize]) {
        if sets.is_empty() || !self.cat.has_locks() {
            return;
        }
        let w = self.w;
        let mut needing: Groups<(i32, &'a str), Vec<&'a str>> = Groups::new();
        for &i in sets {
            let locked = match &w.locked {
                Some(locked) => locked.value(i),
                None => self.cat.needs_lock(w.class.str(i), w.attribute(i)),
            };
            if locked {
                needing.entry((w.phase_order(i), w.fdn(i)), Vec::new).push(w.attribute(i));
            }
        }
        let mut by_target: Groups<(i32, usize), Vec<&'a str>> = Groups::new();
        for ((phase, fdn), attributes) in &needing.items {
            match self.lock_target(fdn) {
                None => self.notes.push(Note::NoLock {
                    fdn: (*fdn).to_owned(),
                    attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
                }),
                Some(target) => by_target.entry((*phase, target), Vec::new).push(fdn),
            }
        }
        let net = self.net;
        for ((phase, row), fdns) in by_target.items {
            let original = net.decoded(row, ADMIN);
            if original == Decoded::Scalar(Some("LOCKED")) {
                continue;
            }
            // a window per locked MO: lock, its sets, unlock, before the next MO is locked, so
            // no two cells are down at once
            let window = self.windows.len();
            let target = net.fdn(row);
            self.windows.insert((phase, "lock", target), window);
            self.windows.insert((phase, "unlock", target), window);
            for fdn in &fdns {
                self.windows.insert((phase, "set", fdn), window);
            }
            let class = net.class(row);
            let why = format!("rtbfast: {target} is LOCKED while {} MO(s) change", fdns.len());
            let state = py_str(&original).filter(|s| !s.is_empty()).unwrap_or_else(|| "UNLOCKED".to_owned());
            for (rank, op, value) in [(RANK_LOCK, "lock", "LOCKED".to_owned()), (RANK_UNLOCK, "unlock", state)] {
                let at = self.heads.len() as f64;
                let source = Some(Cow::Owned(why.clone()));
                let head = self.push(Head { phase, rank, at, op, fdn: target, class, source }, NO_ID);
                self.extras.push(Extra::state(head, Cow::Owned(value)));
            }
        }
    }

    fn deletes(&mut self, d: &'a Rows) {
        if d.n == 0 {
            return;
        }
        let net = self.net;
        // fdn → (phase, source), the first that reaches it
        type Gone<'s> = Groups<&'s str, (i32, Option<&'s str>)>;
        fn subtree<'s>(net: &'s NetworkView, gone: &mut Gone<'s>, row: usize, phase: i32, source: Option<&'s str>) {
            let mut pending = vec![row as u32];
            while let Some(r) = pending.pop() {
                gone.entry(net.fdn(r as usize), || (phase, source));
                pending.extend_from_slice(net.children(r as usize));
            }
        }
        let mut gone: Gone<'a> = Groups::new();
        for i in 0..d.n {
            if let Some(row) = net.row_of(d.fdn(i)) {
                subtree(net, &mut gone, row, d.phase_order(i), d.source.get(i));
            }
        }
        // references to deleted MOs from MOs that stay: cleared first; an MO whose reference is
        // restricted or mandatory (a relation to a deleted cell) cannot lose it, and goes too
        let mut holders: Groups<(&'a str, &'a str), ()> = Groups::new();
        if net.has_values() && net.value_count() > 0 && self.cat.any_moref() {
            loop {
                let before: FxHashSet<&str> = gone.items.iter().map(|(f, _)| *f).collect();
                let mut refs: Vec<(u32, u32)> = Vec::new();
                net.scan_values(|g, owner, value| {
                    if owner != super::view::NONE && before.contains(value) && !before.contains(net.fdn(owner as usize))
                    {
                        refs.push((g, owner));
                    }
                });
                holders = Groups::new();
                let mut cascaded = false;
                for (g, owner) in refs {
                    let v = net.value(g);
                    if v.member.is_some() {
                        continue;
                    }
                    let fdn = net.fdn(owner as usize);
                    let Some(f) = self.cat.flags(class_of_fdn(fdn), v.attribute) else { continue };
                    if f.kind.as_deref() != Some("moref") {
                        continue;
                    }
                    let target = v.value.unwrap_or("");
                    if f.restricted || f.mandatory {
                        let (phase, source) = gone.get(&target).copied().unwrap_or((0, None));
                        subtree(net, &mut gone, owner as usize, phase, source);
                        self.notes.push(Note::Cascade { fdn: fdn.to_owned(), attribute: v.attribute.to_owned() });
                        cascaded = true;
                        continue;
                    }
                    holders.entry((fdn, v.attribute), || ());
                }
                if !cascaded {
                    break;
                }
            }
        }
        let gone_set: FxHashSet<&str> = gone.items.iter().map(|(f, _)| *f).collect();
        if !holders.items.is_empty() {
            let phase = gone.items.iter().map(|(_, (p, _))| *p).min().unwrap_or(0);
            for ((fdn, attribute), ()) in &holders.items {
                let Some(row) = net.row_of(fdn) else { continue };
                let class = net.class(row);
                let current = net.decoded(row, attribute);
                let at = self.heads.len() as f64;
                let source = Some(Cow::Owned(format!("{}{attribute})", super::origins::UNLINK)));
                let head = self.push(Head { phase, rank: RANK_UNLINK, at, op: "set", fdn, class, source }, NO_ID);
                let sequence = self.cat.flags(class, attribute).is_some_and(|f| f.is_sequence);
                let items: Option<Vec<Option<&str>>> = match current {
                    Decoded::Items(items) => Some(items),
                    Decoded::Scalar(v) if sequence => Some(vec![v]),
                    Decoded::None if sequence => Some(vec![None]),
                    _ => None,
                };
                let cleared = |index: Option<i32>, value: Option<Cow<'a, str>>, is_sequence: bool| Extra {
                    head,
                    attribute,
                    index,
                    value,
                    kind: Some("moref"),
                    is_sequence: Some(is_sequence),
                };
                match items {
                    Some(items) => {
                        let kept: Vec<Option<&str>> =
                            items.into_iter().filter(|v| v.is_none_or(|v| !gone_set.contains(v))).collect();
                        if kept.is_empty() {
                            self.extras.push(cleared(Some(EMPTIED), None, true));
                        }
                        for (k, v) in kept.into_iter().enumerate() {
                            let text = v.map_or(Cow::Borrowed("None"), Cow::Borrowed);
                            self.extras.push(cleared(Some(k as i32), Some(text), true));
                        }
                    }
                    None => self.extras.push(cleared(None, None, false)),
                }
            }
        }
        // a lockable MO that is not LOCKED is locked before it goes; children first; an MO the
        // node creates goes with its parent (and comes back with it)
        let mut ordered: Vec<(&'a str, usize)> = gone
            .items
            .iter()
            .filter_map(|(f, _)| net.row_of(f).map(|row| (*f, row)))
            .filter(|(f, row)| !(self.cat.is_system_created(net.class(*row)) && gone_set.contains(parent_of_fdn(f))))
            .collect();
        ordered.sort_by(|a, b| b.0.matches(',').count().cmp(&a.0.matches(',').count()).then_with(|| a.0.cmp(b.0)));
        for &(mo, row) in &ordered {
            let class = net.class(row);
            let state = net.decoded(row, ADMIN);
            if self.cat.is_admin(class) && state != Decoded::None && state != Decoded::Scalar(Some("LOCKED")) {
                let phase = gone.get(&mo).map_or(0, |g| g.0);
                let at = self.heads.len() as f64;
                let source = Some(Cow::Owned(format!("rtbfast: {class} is LOCKED before it is deleted")));
                let head =
                    self.push(Head { phase, rank: RANK_LOCK_DELETE, at, op: "lock", fdn: mo, class, source }, NO_ID);
                self.extras.push(Extra::state(head, Cow::Borrowed("LOCKED")));
            }
        }
        for (i, &(mo, row)) in ordered.iter().enumerate() {
            let (phase, source) = gone.get(&mo).copied().unwrap_or((0, None));
            let head = Head {
                phase,
                rank: RANK_DELETE,
                at: i as f64,
                op: "delete",
                fdn: mo,
                class: net.class(row),
                source: source.map(Cow::Borrowed),
            };
            self.push(head, NO_ID);
        }
    }

    /// Number the steps and lay out their rows: the rows of the writes and the rows of steps
    /// of their own.
    fn number(
        &self,
        ids: &[u32],
        later: &[usize],
        creates: &[usize],
        sets: &[usize],
        phase_names: &FxHashMap<i32, String>,
    ) -> Result<Layout> {
        let w = self.w;
        let place = |h: &Head<'_>| -> (i32, u8, i64, u8, f64) {
            let window = match h.rank {
                RANK_LOCK | RANK_SET | RANK_UNLOCK => self.windows.get(&(h.phase, h.op, h.fdn)).copied(),
                _ => None,
            };
            match window {
                Some(window) => {
                    let within = match h.op {
                        "lock" => 0,
                        "set" => 1,
                        _ => 2,
                    };
                    (h.phase, RANK_LOCK, window as i64, within, h.at)
                }
                None => (h.phase, h.rank, -1, 0, h.at),
            }
        };
        let places: Vec<_> = self.heads.iter().map(place).collect();
        let mut order: Vec<usize> = (0..self.heads.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&places[a], &places[b]);
            (x.0, x.1, x.2, x.3).cmp(&(y.0, y.1, y.2, y.3)).then_with(|| x.4.total_cmp(&y.4))
        });
        // the rows of sets and creates: their step is their MO's step in their phase and kind
        // (the first step of that kind, phase and MO)
        let mut step_of: FxHashMap<(u8, i32, u32), i64> = FxHashMap::default();
        for (n, &h) in order.iter().enumerate() {
            let head = &self.heads[h];
            let key = match head.rank {
                RANK_CREATE => (RANK_CREATE, i32::MIN, self.head_ids[h]),
                RANK_SET | RANK_RELINK => (head.rank, head.phase, self.head_ids[h]),
                _ => continue,
            };
            step_of.entry(key).or_insert(n as i64);
        }
        let mut extras_of: FxHashMap<usize, Vec<usize>> = FxHashMap::default();
        for (k, e) in self.extras.iter().enumerate() {
            extras_of.entry(e.head).or_default().push(k);
        }
        // (step, seq, which: the write row, or the own row + n)
        let n = w.n;
        let mut rows: Vec<(Option<i64>, i64, usize)> = Vec::with_capacity(later.len() + creates.len() + sets.len());
        let mut part_op = vec!["set"; n];
        for (part, rank) in [(later, RANK_RELINK), (creates, RANK_CREATE), (sets, RANK_SET)] {
            let mut last: Option<((u8, i32, u32), Option<i64>)> = None;
            for &i in part {
                let key = (rank, if rank == RANK_CREATE { i32::MIN } else { w.phase_order(i) }, ids[i]);
                let step = match last {
                    Some((k, step)) if k == key => step,
                    _ => step_of.get(&key).copied(),
                };
                last = Some((key, step));
                rows.push((step, w.seq.value(i), i));
                if rank == RANK_CREATE {
                    part_op[i] = "create";
                }
            }
        }
        // the rows of steps with rows of their own (structural steps, locks, references cleared)
        let mut own: Vec<(usize, Option<usize>)> = Vec::new();
        for (step, &h) in order.iter().enumerate() {
            let head = &self.heads[h];
            if head.rank == RANK_SET || head.rank == RANK_RELINK {
                continue;
            }
            match extras_of.get(&h) {
                Some(extras) if head.op != "create" => {
                    for &e in extras {
                        rows.push((Some(step as i64), -1, n + own.len()));
                        own.push((h, Some(e)));
                    }
                }
                _ => {
                    rows.push((Some(step as i64), -1, n + own.len()));
                    own.push((h, None));
                }
            }
        }
        // by step (a row of no step last), then seq; stable
        rows.sort_by(|a, b| {
            let step = match (a.0, b.0) {
                (Some(p), Some(q)) => p.cmp(&q),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            step.then(a.1.cmp(&b.1))
        });
        let mut b = PlanBuilder::with_capacity(own.len());
        for &(h, e) in &own {
            let head = &self.heads[h];
            let e = e.map(|e| &self.extras[e]);
            b.push(PlanRow {
                step: None,
                phase: phase_names.get(&head.phase).map_or("default", String::as_str),
                phase_order: head.phase,
                op: head.op,
                fdn: head.fdn,
                class: head.class,
                attribute: e.map(|e| e.attribute),
                member: None,
                index: e.and_then(|e| e.index),
                value: e.and_then(|e| e.value.as_deref()),
                kind: e.and_then(|e| e.kind),
                is_sequence: e.and_then(|e| e.is_sequence),
                source: head.source.as_deref(),
            });
        }
        let own_rows = b.finish()?;
        let keep: Vec<usize> = (0..own_rows.num_columns())
            .filter(|&c| !matches!(own_rows.schema().field(c).name().as_str(), "step" | "op"))
            .collect();
        let own_rows = own_rows.project(&keep).map_err(|e| bad("plan", e.to_string()))?;
        let mut step = Int64Builder::with_capacity(rows.len());
        let mut op = StringBuilder::with_capacity(rows.len(), rows.len() * 4);
        let mut take = Int64Builder::with_capacity(rows.len());
        for &(s, _, which) in &rows {
            step.append_option(s);
            op.append_value(if which < n { part_op[which] } else { self.heads[own[which - n].0].op });
            take.append_value(which as i64);
        }
        Ok(Layout { take: take.finish(), step: step.finish(), op: op.finish(), own: own_rows })
    }
}

/// One row of a Plan.
pub(crate) struct PlanRow<'a> {
    pub step: Option<i64>,
    pub phase: &'a str,
    pub phase_order: i32,
    pub op: &'a str,
    pub fdn: &'a str,
    pub class: &'a str,
    pub attribute: Option<&'a str>,
    pub member: Option<&'a str>,
    pub index: Option<i32>,
    pub value: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub is_sequence: Option<bool>,
    pub source: Option<&'a str>,
}

/// The columns of a Plan (`PLAN_SCHEMA`), built row by row.
pub(crate) struct PlanBuilder {
    step: Int64Builder,
    phase: StringBuilder,
    phase_order: Int32Builder,
    op: StringBuilder,
    fdn: StringBuilder,
    class: StringBuilder,
    attribute: StringBuilder,
    member: StringBuilder,
    index: Int32Builder,
    value: StringBuilder,
    kind: StringBuilder,
    is_sequence: BooleanBuilder,
    source: StringBuilder,
}

impl PlanBuilder {
    pub(crate) fn with_capacity(n: usize) -> PlanBuilder {
        let text = |bytes: usize| StringBuilder::with_capacity(n, n * bytes);
        PlanBuilder {
            step: Int64Builder::with_capacity(n),
            phase: text(8),
            phase_order: Int32Builder::with_capacity(n),
            op: text(4),
            fdn: text(96),
            class: text(16),
            attribute: text(16),
            member: text(4),
            index: Int32Builder::with_capacity(n),
            value: text(8),
            kind: text(6),
            is_sequence: BooleanBuilder::with_capacity(n),
            source: text(24),
        }
    }

    /// Room for `n` rows whose texts take `bytes` (phase, op, fdn, class, attribute, member,
    /// value, kind, source): allocated once, not grown.
    pub(crate) fn exactly(n: usize, bytes: [usize; 9]) -> PlanBuilder {
        let text = |b: usize| StringBuilder::with_capacity(n, b);
        PlanBuilder {
            step: Int64Builder::with_capacity(n),
            phase: text(bytes[0]),
            phase_order: Int32Builder::with_capacity(n),
            op: text(bytes[1]),
            fdn: text(bytes[2]),
            class: text(bytes[3]),
            attribute: text(bytes[4]),
            member: text(bytes[5]),
            index: Int32Builder::with_capacity(n),
            value: text(bytes[6]),
            kind: text(bytes[7]),
            is_sequence: BooleanBuilder::with_capacity(n),
            source: text(bytes[8]),
        }
    }

    pub(crate) fn push(&mut self, r: PlanRow<'_>) {
        self.step.append_option(r.step);
        self.phase.append_value(r.phase);
        self.phase_order.append_value(r.phase_order);
        self.op.append_value(r.op);
        self.fdn.append_value(r.fdn);
        self.class.append_value(r.class);
        self.attribute.append_option(r.attribute);
        self.member.append_option(r.member);
        self.index.append_option(r.index);
        self.value.append_option(r.value);
        self.kind.append_option(r.kind);
        self.is_sequence.append_option(r.is_sequence);
        self.source.append_option(r.source);
    }

    pub(crate) fn finish(mut self) -> Result<RecordBatch> {
        let step = self.step.finish();
        let fields = vec![
            Field::new("step", DataType::Int64, step.null_count() > 0),
            Field::new("phase", DataType::Utf8, false),
            Field::new("phase_order", DataType::Int32, false),
            Field::new("op", DataType::Utf8, false),
            Field::new("fdn", DataType::Utf8, false),
            Field::new("class", DataType::Utf8, false),
            Field::new("attribute", DataType::Utf8, true),
            Field::new("member", DataType::Utf8, true),
            Field::new("index", DataType::Int32, true),
            Field::new("value", DataType::Utf8, true),
            Field::new("kind", DataType::Utf8, true),
            Field::new("is_sequence", DataType::Boolean, true),
            Field::new("source", DataType::Utf8, true),
        ];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(step),
            Arc::new(self.phase.finish()),
            Arc::new(self.phase_order.finish()),
            Arc::new(self.op.finish()),
            Arc::new(self.fdn.finish()),
            Arc::new(self.class.finish()),
            Arc::new(self.attribute.finish()),
            Arc::new(self.member.finish()),
            Arc::new(self.index.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.is_sequence.finish()),
            Arc::new(self.source.finish()),
        ];
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| bad("plan", e.to_string()))
    }
}

/// The (fdn, class, attribute) the kept writes change whose (class, attribute) is in `pairs`,
/// each once, in the order of their first write.
fn effects(
    w: &Rows,
    ids: &[u32],
    (attr, attributes): (&[u32], &Names<'_>),
    kept: &[usize],
    pairs: &FxHashSet<(String, String)>,
) -> Result<RecordBatch> {
    let (mut fdn, mut class, mut attribute) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    // the classes paired with each attribute written
    let mut classes_of: Vec<Vec<&str>> = vec![Vec::new(); attributes.len()];
    for (c, a) in pairs {
        if let Some(&id) = attributes.at.get(a.as_str()) {
            classes_of[id as usize].push(c);
        }
    }
    let mut seen: FxHashSet<(u32, u32, &str)> = FxHashSet::default();
    for &i in kept {
        let paired = &classes_of[attr[i] as usize];
        if paired.is_empty() {
            continue;
        }
        let c = w.class.str(i);
        if paired.contains(&c) && seen.len() < EFFECTS && seen.insert((ids[i], attr[i], c)) {
            fdn.append_value(w.fdn(i));
            class.append_value(c);
            attribute.append_value(w.attribute(i));
        }
    }
    let schema = Schema::new(vec![
        Field::new("fdn", DataType::Utf8, false),
        Field::new("class", DataType::Utf8, false),
        Field::new("attribute", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(fdn.finish()), Arc::new(class.finish()), Arc::new(attribute.finish())],
    )
    .map_err(|e| bad("effects", e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::enm::view::fixtures::{attr, catalog, network, Attr};
    use arrow_array::StringArray;

    /// A ChangeSet row: phase order, op, fdn, attribute, member, index, value, source.
    pub(crate) type Change<'a> =
        (i32, &'a str, &'a str, Option<&'a str>, Option<&'a str>, Option<i32>, Option<&'a str>, &'a str);

    /// ChangeSet rows (`seq` their order; the class the FDN's last RDN's).
    pub(crate) fn changes(rows: &[Change<'_>]) -> RecordBatch {
        let text = |f: &dyn Fn(&Change<'_>) -> Option<String>| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        RecordBatch::try_from_iter(vec![
            ("phase", text(&|r| Some(["default", "second", "third"][r.0 as usize].to_owned()))),
            ("phase_order", Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef),
            ("seq", Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)) as ArrayRef),
            ("op", text(&|r| Some(r.1.to_owned()))),
            ("fdn", text(&|r| Some(r.2.to_owned()))),
            ("class", text(&|r| Some(class_of_fdn(r.2).to_owned()))),
            ("attribute", text(&|r| r.3.map(str::to_owned))),
            ("member", text(&|r| r.4.map(str::to_owned))),
            ("index", Arc::new(Int32Array::from(rows.iter().map(|r| r.5).collect::<Vec<_>>())) as ArrayRef),
            ("value", text(&|r| r.6.map(str::to_owned))),
            ("target", text(&|r| Some(r.2.to_owned()))),
            ("source", text(&|r| Some(r.7.to_owned()))),
        ])
        .unwrap()
    }

    pub(crate) fn set<'a>(fdn: &'a str, attribute: &'a str, value: &'a str, source: &'a str) -> Change<'a> {
        (0, "set", fdn, Some(attribute), None, Some(0), Some(value), source)
    }

    /// A Plan's row, as the tests read it: step, op, fdn, attribute, index, value.
    pub(crate) type Step = (i64, String, String, Option<String>, Option<i32>, Option<String>);

    pub(crate) fn rows_of(plan: &RecordBatch) -> Vec<Step> {
        let t = |name: &str| Text::column(plan, "plan", name, true).unwrap();
        let (op, fdn, attribute, value) = (t("op"), t("fdn"), t("attribute"), t("value"));
        let step = int64(plan, "plan", "step").unwrap();
        let index = int32(plan, "plan", "index", true).unwrap();
        (0..plan.num_rows())
            .map(|i| {
                (
                    step.value(i),
                    op.str(i).to_owned(),
                    fdn.str(i).to_owned(),
                    attribute.get(i).map(str::to_owned),
                    opt_i32(&index, i),
                    value.get(i).map(str::to_owned),
                )
            })
            .collect()
    }

    /// The ChangeSet split as the Python orchestration splits it, its writes kept and planned.
    pub(crate) fn plan(rows: &[Change<'_>], net: &NetworkView, cat: &PlanningCatalog) -> Planned {
        let all = changes(rows);
        let pick = |keep: &dyn Fn(&Change<'_>) -> bool| {
            let mask: arrow_array::BooleanArray = rows.iter().map(|r| Some(keep(r))).collect();
            arrow_select::filter::filter_record_batch(&all, &mask).unwrap()
        };
        let writes = last_writes(&pick(&|r| r.3.is_some()), cat).unwrap();
        let creates = pick(&|r| r.3.is_none() && r.1 == "create");
        let deletes = pick(&|r| r.3.is_none() && r.1 == "delete");
        let names = FxHashMap::from_iter([(0, "default".to_owned()), (1, "second".to_owned())]);
        let pairs = FxHashSet::from_iter([("Cell".to_owned(), "earfcn".to_owned())]);
        plan_steps(&writes, &creates, &deletes, &names, &pairs, net, cat).unwrap()
    }

    pub(crate) fn steps(planned: Planned, rows: &[Change<'_>], cat: &PlanningCatalog) -> (Vec<Step>, Vec<Note>, usize) {
        let Planned::Steps(s) = planned else { panic!("a cycle: {planned:?}") };
        let all = changes(rows);
        let mask: arrow_array::BooleanArray = rows.iter().map(|r| Some(r.3.is_some())).collect();
        let writes = last_writes(&arrow_select::filter::filter_record_batch(&all, &mask).unwrap(), cat).unwrap();
        (rows_of(&s.layout.plan(&writes).unwrap()), s.notes, s.dropped)
    }

    pub(crate) const CELL: &str = "N=1,Cell=1";
    pub(crate) const LOCKED_CELL: &str = "N=1,Cell=2";
    pub(crate) const CHILD: &str = "N=1,Cell=1,Child=1";
    pub(crate) const CARRIER: &str = "N=1,Carrier=1";

    pub(crate) fn the_network() -> NetworkView {
        network(
            &[("N=1", "N"), (CELL, "Cell"), (LOCKED_CELL, "Cell"), (CHILD, "Child"), (CARRIER, "Carrier")],
            &[
                (CELL, "administrativeState", None, 0, "UNLOCKED"),
                (CELL, "x", None, 0, "5"),
                (CELL, "s", None, 0, "a"),
                (CELL, "s", None, 1, "b"),
                (CELL, "earfcn", None, 0, "100"),
                (CELL, "carrierRef", None, 0, CARRIER),
                (CELL, "id", None, 0, "1"),
                (LOCKED_CELL, "administrativeState", None, 0, "LOCKED"),
                (LOCKED_CELL, "earfcn", None, 0, "100"),
                (CHILD, "y", None, 0, "3"),
                (CARRIER, "n", None, 0, "2"),
            ],
        )
    }

    pub(crate) fn the_catalog(mandatory_refs: bool) -> PlanningCatalog {
        let attrs: Vec<Attr> = vec![
            attr("Cell", "administrativeState", "enum"),
            attr("Cell", "x", "integer"),
            attr("Cell", "flag", "boolean"),
            attr("Cell", "label", "string"),
            ("Cell", "s", None, "string", true, false, false, false),
            ("Cell", "id", None, "string", false, true, false, false),
            attr("Cell", "earfcn", "integer"),
            ("Cell", "carrierRef", None, "moref", true, false, false, mandatory_refs),
            attr("Carrier", "n", "integer"),
            ("Carrier", "cellRef", None, "moref", false, false, false, mandatory_refs),
            attr("Child", "y", "integer"),
        ];
        catalog(&attrs, &["Cell"], &[("Cell", "earfcn")], &["Child"])
    }

    /// A Plan's row as a test writes it: step, op, fdn, attribute, index, value.
    pub(crate) type Written<'a> = (i64, &'a str, &'a str, Option<&'a str>, Option<i32>, Option<&'a str>);

    pub(crate) fn owned(rows: &[Written<'_>]) -> Vec<Step> {
        rows.iter()
            .map(|&(s, op, f, a, i, v)| (s, op.into(), f.into(), a.map(Into::into), i, v.map(Into::into)))
            .collect()
    }

    #[test]
    fn the_last_write_of_each_attribute_in_each_phase_is_kept_typed() {
        let cat = the_catalog(false);
        let rows = [
            (0, "set", CELL, Some("x"), None, Some(0), Some("7"), "a"),
            (0, "set", CELL, Some("s"), None, Some(0), Some("c"), "b"),
            (0, "set", CELL, Some("s"), None, Some(1), Some("d"), "b"),
            (0, "set", CELL, Some("x"), None, Some(0), Some("010"), "c"),
            (1, "set", CELL, Some("x"), None, Some(0), Some("+9"), "d"),
            (0, "set", CELL, Some("flag"), None, Some(0), Some("TRUE"), "e"),
        ];
        let kept = last_writes(&changes(&rows), &cat).unwrap();
        let t = |name: &str| Text::column(&kept, "w", name, true).unwrap();
        let (attribute, value, source, kind) = (t("attribute"), t("value"), t("source"), t("kind"));
        let got: Vec<_> =
            (0..kept.num_rows()).map(|i| (attribute.str(i), value.str(i), source.str(i), kind.get(i))).collect();
        assert_eq!(
            got,
            [
                ("s", "c", "b", Some("string")),
                ("s", "d", "b", Some("string")),
                ("x", "10", "c", Some("integer")),
                ("x", "9", "d", Some("integer")),
                ("flag", "true", "e", Some("boolean")),
            ]
        );
        assert!(kept.column_by_name("target").is_none());
        let code = kept.column_by_name("code").unwrap().as_primitive::<Int32Type>().values().to_vec();
        assert_eq!(code, [0, 0, 1, 1, 2]); // renumbered by first appearance among the rows kept
    }

    #[test]
    fn rows_out_of_seq_order_are_put_back_in_it() {
        let cat = the_catalog(false);
        let mut batch = changes(&[set(CELL, "x", "1", "a"), set(CELL, "label", "l", "b")]);
        let seq: ArrayRef = Arc::new(Int64Array::from(vec![5, 2]));
        let at = batch.schema().index_of("seq").unwrap();
        let mut columns = batch.columns().to_vec();
        columns[at] = seq;
        batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        let kept = last_writes(&batch, &cat).unwrap();
        let attribute = Text::column(&kept, "w", "attribute", false).unwrap();
        assert_eq!((attribute.str(0), attribute.str(1)), ("label", "x"));
    }

    #[test]
    fn writes_the_network_holds_already_are_dropped_compared_as_typed_values() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [
            set(CELL, "x", "05", "a"),                                  // "5": the same integer
            (0, "set", CELL, Some("s"), None, Some(0), Some("a"), "b"), // the same sequence
            (0, "set", CELL, Some("s"), None, Some(1), Some("b"), "b"),
            set(CELL, "label", "new", "c"),
            (1, "set", CELL, Some("earfcn"), None, Some(0), Some("100"), "d"), // first written in a later phase: compared
        ];
        let (got, notes, dropped) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert_eq!(dropped, 3);
        assert!(notes.is_empty());
        assert_eq!(got, owned(&[(0, "set", CELL, Some("label"), Some(0), Some("new"))]));
    }

    #[test]
    fn sets_are_one_step_per_mo_and_phase_the_phases_in_order() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [
            (1, "set", CELL, Some("label"), None, Some(0), Some("later"), "a"),
            set(CARRIER, "n", "4", "b"),
            set(CELL, "x", "6", "c"),
            set(CARRIER, "n", "8", "d"),
        ];
        let (got, _, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        // (the carrier's step comes after the cell's: its first write kept is the last)
        assert_eq!(
            got,
            owned(&[
                (0, "set", CELL, Some("x"), Some(0), Some("6")),
                (1, "set", CARRIER, Some("n"), Some(0), Some("8")),
                (2, "set", CELL, Some("label"), Some(0), Some("later")),
            ])
        );
    }

    #[test]
    fn a_set_needing_a_locked_cell_is_wrapped_in_a_lock_window() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows =
            [set(CELL, "label", "l", "a"), set(CELL, "earfcn", "200", "b"), set(LOCKED_CELL, "earfcn", "300", "c")];
        let (got, _, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert_eq!(
            got,
            owned(&[
                (0, "lock", CELL, Some(ADMIN), Some(0), Some("LOCKED")),
                (1, "set", CELL, Some("label"), Some(0), Some("l")),
                (1, "set", CELL, Some("earfcn"), Some(0), Some("200")),
                (2, "unlock", CELL, Some(ADMIN), Some(0), Some("UNLOCKED")),
                (3, "set", LOCKED_CELL, Some("earfcn"), Some(0), Some("300")), // LOCKED already
            ])
        );
    }

    #[test]
    fn a_set_needing_a_lock_with_no_mo_to_lock_is_noted() {
        let cat = catalog(&[attr("Child", "y", "integer")], &["Cell"], &[("Child", "y")], &[]);
        let net = network(&[("N=1", "N"), ("N=1,Child=1", "Child")], &[]);
        let rows = [set("N=1,Child=1", "y", "4", "a")];
        let (got, notes, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert_eq!(got.len(), 1);
        assert_eq!(notes, [Note::NoLock { fdn: "N=1,Child=1".into(), attributes: vec!["y".into()] }]);
    }

    #[test]
    fn creates_come_parents_and_referenced_mos_first() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [
            (0, "create", "N=1,Cell=9", None, None, None, None, "a"),
            (0, "create", "N=1,Cell=9", Some("carrierRef"), None, Some(0), Some("N=1,Carrier=9"), "a"),
            (0, "create", "N=1,Cell=9,Child=9", None, None, None, None, "b"),
            (0, "create", "N=1,Carrier=9", None, None, None, None, "c"),
            (0, "create", "N=1,Carrier=9", Some("n"), None, Some(0), Some("1"), "c"),
        ];
        let (got, notes, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert!(notes.is_empty());
        let heads: Vec<_> = got.iter().filter(|r| r.3.is_none()).map(|r| (r.0, r.2.as_str())).collect();
        assert_eq!(heads, [(0, "N=1,Carrier=9"), (1, "N=1,Cell=9"), (2, "N=1,Cell=9,Child=9")]);
        assert!(got.contains(&(
            1,
            "create".into(),
            "N=1,Cell=9".into(),
            Some("carrierRef".into()),
            Some(0),
            Some("N=1,Carrier=9".into())
        )));
    }

    fn cycle() -> [Change<'static>; 4] {
        [
            (0, "create", "N=1,Cell=9", None, None, None, None, "a"),
            (0, "create", "N=1,Cell=9", Some("carrierRef"), None, Some(0), Some("N=1,Carrier=9"), "a"),
            (0, "create", "N=1,Carrier=9", None, None, None, None, "b"),
            (0, "create", "N=1,Carrier=9", Some("cellRef"), None, Some(0), Some("N=1,Cell=9"), "b"),
        ]
    }

    #[test]
    fn a_reference_cycle_among_new_mos_is_broken_by_setting_one_reference_after() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = cycle();
        let (got, notes, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert_eq!(notes, [Note::Cycle { fdn: "N=1,Cell=9".into(), count: 1 }]);
        assert_eq!(
            got,
            owned(&[
                (0, "create", "N=1,Cell=9", None, None, None),
                (1, "create", "N=1,Carrier=9", None, None, None),
                (1, "create", "N=1,Carrier=9", Some("cellRef"), Some(0), Some("N=1,Cell=9")),
                (2, "set", "N=1,Cell=9", Some("carrierRef"), Some(0), Some("N=1,Carrier=9")),
            ])
        );
    }

    #[test]
    fn a_cycle_of_mandatory_references_names_its_mos() {
        let (net, cat) = (the_network(), the_catalog(true));
        match plan(&cycle(), &net, &cat) {
            Planned::Cycle(mos) => assert_eq!(mos, ["N=1,Cell=9", "N=1,Carrier=9"]),
            Planned::Steps(s) => panic!("planned: {s:?}"),
        }
    }

    #[test]
    fn the_creates_ordered_apart_are_ordered_as_in_a_plan() {
        let fdns: Vec<String> = ["N=1,Cell=9,Child=9", "N=1,Cell=9", "N=1,Carrier=9"].map(String::from).to_vec();
        let refs = |cell_ref: bool| {
            let mut r = vec![("N=1,Cell=9".to_owned(), "carrierRef".to_owned(), "N=1,Carrier=9".to_owned())];
            if cell_ref {
                r.push(("N=1,Carrier=9".to_owned(), "cellRef".to_owned(), "N=1,Cell=9".to_owned()));
            }
            r
        };
        // parents first, then the MOs referred to before those referring to them
        let plain = refs(false);
        let (order, deferred) = creates_in_order(&fdns, &plain, &the_catalog(false)).expect("ordered");
        assert_eq!(order, ["N=1,Carrier=9", "N=1,Cell=9", "N=1,Cell=9,Child=9"]);
        assert!(deferred.is_empty());
        // a cycle is broken at a reference that may be set after, as in a plan
        let cyclic = refs(true);
        let (order, deferred) = creates_in_order(&fdns, &cyclic, &the_catalog(false)).expect("ordered");
        assert_eq!(order, ["N=1,Cell=9", "N=1,Carrier=9", "N=1,Cell=9,Child=9"]);
        assert_eq!(deferred, [("N=1,Cell=9", "carrierRef")]);
        // unless every reference of the cycle is mandatory: the MOs left (the child waits on its
        // parent) are named
        let refused = creates_in_order(&fdns, &cyclic, &the_catalog(true)).err();
        assert_eq!(refused, Some(["N=1,Cell=9", "N=1,Carrier=9", "N=1,Cell=9,Child=9"].map(String::from).to_vec()));
        assert_eq!(creates_in_order(&[], &cyclic, &the_catalog(true)).ok(), Some((vec![], vec![])));
    }

    #[test]
    fn a_delete_clears_references_first_and_goes_children_first() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [(0, "delete", CARRIER, None, None, None, None, "a")];
        let (got, notes, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert!(notes.is_empty());
        assert_eq!(
            got,
            owned(&[
                (0, "set", CELL, Some("carrierRef"), Some(EMPTIED), None),
                (1, "delete", CARRIER, None, None, None)
            ])
        );
        // a cell: locked first; the MOs the node creates under it go with it
        let rows = [(0, "delete", CELL, None, None, None, None, "b")];
        let (got, _, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert_eq!(
            got,
            owned(&[(0, "lock", CELL, Some(ADMIN), Some(0), Some("LOCKED")), (1, "delete", CELL, None, None, None)])
        );
    }

    #[test]
    fn an_mo_whose_reference_to_a_deleted_mo_cannot_be_cleared_goes_too() {
        let (net, cat) = (the_network(), the_catalog(true));
        let rows = [(0, "delete", CARRIER, None, None, None, None, "a")];
        let (got, notes, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert_eq!(notes, [Note::Cascade { fdn: CELL.into(), attribute: "carrierRef".into() }]);
        assert_eq!(
            got,
            owned(&[
                (0, "lock", CELL, Some(ADMIN), Some(0), Some("LOCKED")),
                (1, "delete", CARRIER, None, None, None),
                (2, "delete", CELL, None, None, None),
            ])
        );
    }

    #[test]
    fn the_writes_of_attributes_with_effects_are_listed_once_in_the_order_of_their_first_write() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [
            set(LOCKED_CELL, "earfcn", "300", "a"),
            set(LOCKED_CELL, "label", "l", "b"),
            set(CELL, "earfcn", "300", "c"),
            (1, "set", LOCKED_CELL, Some("earfcn"), None, Some(0), Some("400"), "d"),
        ];
        let Planned::Steps(s) = plan(&rows, &net, &cat) else { panic!() };
        let f = Text::column(&s.effects, "e", "fdn", false).unwrap();
        let a = Text::column(&s.effects, "e", "attribute", false).unwrap();
        let got: Vec<_> = (0..s.effects.num_rows()).map(|i| (f.str(i), a.str(i))).collect();
        assert_eq!(got, [(LOCKED_CELL, "earfcn"), (CELL, "earfcn")]);
    }
}
