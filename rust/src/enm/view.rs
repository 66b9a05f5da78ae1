//! The network and the catalog as the planner, the rollback and the simulator read them, indexed
//! once and kept (the bindings hold one of each per `NetworkIndex` and `EnmCatalog`):
//!
//! - [`NetworkView`]: the MOs (`mos`: `fdn`, `class`, `parent_fdn`) found by FDN, their parents
//!   and children, and the value rows (`values`) of each MO in the network's order;
//! - [`PlanningCatalog`]: each (class, attribute, member)'s kind and sequence flag (the first row of
//!   the catalog's `kinds`), each (class, attribute)'s flags (the last row, as
//!   `EnmCatalog.attribute_flags` reads them), the classes with an `administrativeState`, the
//!   attributes changed only while locked and the classes the node creates.
//!
//! Text columns are read plain or dictionary-encoded; nothing here copies a string of the
//! network (an FDN is found through an open-addressing table of row numbers).

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, SchemaRef};
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use crate::error::{Error, Location, Result};

/// The attribute every lock and unlock writes.
pub const ADMIN: &str = "administrativeState";

pub(crate) fn bad(table: &str, message: String) -> Error {
    Error::Value { loc: Location { file: format!("{table} table"), ..Location::default() }, message }
}

/// All rows of `batches` in one batch (no copy when there is one).
pub fn one_batch(schema: &SchemaRef, batches: &[RecordBatch], table: &str) -> Result<RecordBatch> {
    match batches {
        [one] => Ok(one.clone()),
        [] => Ok(RecordBatch::new_empty(schema.clone())),
        _ => arrow_select::concat::concat_batches(schema, batches).map_err(|e| bad(table, e.to_string())),
    }
}

/// A text column, plain or dictionary-encoded (int32 keys), or absent (all null).
#[derive(Clone, Debug)]
pub enum Text {
    Plain(StringArray),
    Dict(Int32Array, StringArray),
    Null(usize),
}

impl Text {
    pub fn of(array: &ArrayRef, table: &str, name: &str) -> Result<Text> {
        match array.data_type() {
            DataType::Utf8 => Ok(Text::Plain(array.as_string::<i32>().clone())),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = array.as_dictionary::<Int32Type>();
                Ok(Text::Dict(d.keys().clone(), d.values().as_string::<i32>().clone()))
            }
            DataType::Null => Ok(Text::Null(array.len())),
            other => Err(bad(table, format!("column {name:?} is {other}, not text"))),
        }
    }

    /// The column `name` of `batch`; all null when `optional` and the batch has none.
    pub fn column(batch: &RecordBatch, table: &str, name: &str, optional: bool) -> Result<Text> {
        match batch.column_by_name(name) {
            Some(a) => Text::of(a, table, name),
            None if optional => Ok(Text::Null(batch.num_rows())),
            None => Err(bad(table, format!("has no column {name:?}"))),
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        match self {
            Text::Plain(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Dict(keys, values) => {
                if !keys.is_valid(i) {
                    return None;
                }
                let at = keys.value(i);
                (at >= 0 && (at as usize) < values.len() && values.is_valid(at as usize))
                    .then(|| values.value(at as usize))
            }
            Text::Null(_) => None,
        }
    }

    /// The text at `i`, "" when null.
    #[inline]
    pub fn str(&self, i: usize) -> &str {
        self.get(i).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        match self {
            Text::Plain(a) => a.len(),
            Text::Dict(k, _) => k.len(),
            Text::Null(n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An int32 column (nulls kept), or all null when `optional` and absent.
pub fn int32(batch: &RecordBatch, table: &str, name: &str, optional: bool) -> Result<Int32Array> {
    match batch.column_by_name(name) {
        Some(a) => a
            .as_primitive_opt::<Int32Type>()
            .cloned()
            .ok_or_else(|| bad(table, format!("column {name:?} is {}, not int32", a.data_type()))),
        None if optional => Ok(Int32Array::new_null(batch.num_rows())),
        None => Err(bad(table, format!("has no column {name:?}"))),
    }
}

pub fn int64(batch: &RecordBatch, table: &str, name: &str) -> Result<Int64Array> {
    let a = batch.column_by_name(name).ok_or_else(|| bad(table, format!("has no column {name:?}")))?;
    a.as_primitive_opt::<Int64Type>()
        .cloned()
        .ok_or_else(|| bad(table, format!("column {name:?} is {}, not int64", a.data_type())))
}

pub fn boolean(batch: &RecordBatch, table: &str, name: &str, optional: bool) -> Result<BooleanArray> {
    match batch.column_by_name(name) {
        Some(a) => a
            .as_boolean_opt()
            .cloned()
            .ok_or_else(|| bad(table, format!("column {name:?} is {}, not bool", a.data_type()))),
        None if optional => Ok(BooleanArray::new_null(batch.num_rows())),
        None => Err(bad(table, format!("has no column {name:?}"))),
    }
}

#[inline]
pub fn opt_i32(a: &Int32Array, i: usize) -> Option<i32> {
    a.is_valid(i).then(|| a.value(i))
}

#[inline]
pub fn opt_bool(a: &BooleanArray, i: usize) -> Option<bool> {
    a.is_valid(i).then(|| a.value(i))
}

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// Row numbers found by the text of their key (open addressing; the keys stay in their
/// column): a key held by several rows finds the last.
#[derive(Debug, Default)]
pub struct StrIndex {
    slots: Vec<u32>,
    mask: usize,
}

const EMPTY: u32 = u32::MAX;

impl StrIndex {
    pub fn build<'a>(n: usize, key: impl Fn(usize) -> Option<&'a str>) -> StrIndex {
        let size = (n.max(1) * 2).next_power_of_two();
        let mut index = StrIndex { slots: vec![EMPTY; size], mask: size - 1 };
        for row in 0..n {
            let Some(k) = key(row) else { continue };
            let mut at = hash_str(k) as usize & index.mask;
            loop {
                let slot = index.slots[at];
                if slot == EMPTY {
                    index.slots[at] = row as u32;
                    break;
                }
                if key(slot as usize) == Some(k) {
                    index.slots[at] = row as u32;
                    break;
                }
                at = (at + 1) & index.mask;
            }
        }
        index
    }

    #[inline]
    pub fn get<'a>(&self, k: &str, key: impl Fn(usize) -> Option<&'a str>) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut at = hash_str(k) as usize & self.mask;
        loop {
            let slot = self.slots[at];
            if slot == EMPTY {
                return None;
            }
            if key(slot as usize) == Some(k) {
                return Some(slot as usize);
            }
            at = (at + 1) & self.mask;
        }
    }
}

/// Texts numbered by first appearance; a text equal to the one before it is not hashed again
/// (a ChangeSet's rows come MO by MO).
pub(crate) struct Names<'a> {
    pub(crate) at: FxHashMap<&'a str, u32>,
    pub(crate) texts: Vec<&'a str>,
    last: Option<(&'a str, u32)>,
}

impl<'a> Names<'a> {
    pub(crate) fn new() -> Self {
        Names::with_capacity(0)
    }

    pub(crate) fn with_capacity(n: usize) -> Self {
        Names {
            at: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            texts: Vec::with_capacity(n),
            last: None,
        }
    }

    /// The names of `ids`, numbers given to the texts of `text(row)` by first appearance (as
    /// `planner::last_writes` gives them), when they are that.
    pub(crate) fn of_ids(ids: &[u32], text: impl Fn(usize) -> &'a str) -> Option<Names<'a>> {
        let mut names = Names::with_capacity(ids.len() / 4);
        for (row, &id) in ids.iter().enumerate() {
            let id = id as usize;
            if id == names.texts.len() {
                let t = text(row);
                names.texts.push(t);
                if names.at.insert(t, id as u32).is_some() {
                    return None;
                }
            } else if id > names.texts.len() {
                return None;
            }
        }
        Some(names)
    }

    pub(crate) fn id(&mut self, text: &'a str) -> u32 {
        if let Some((last, id)) = self.last {
            if last == text {
                return id;
            }
        }
        let next = self.texts.len() as u32;
        let id = match self.at.entry(text) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                e.insert(next);
                self.texts.push(text);
                next
            }
        };
        self.last = Some((text, id));
        id
    }

    pub(crate) fn text(&self, id: u32) -> &'a str {
        self.texts[id as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }
}

/// The columns of one batch of `values`.
#[derive(Debug)]
struct ValueChunk {
    attribute: Text,
    member: Text,
    index: Int32Array,
    value: Text,
}

/// One value row of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueRow<'a> {
    pub attribute: &'a str,
    pub member: Option<&'a str>,
    pub index: Option<i32>,
    pub value: Option<&'a str>,
}

/// A value of an attribute decoded as `NetworkIndex.value` decodes it, as far as the planner
/// reads one: nothing, one text, or the items of a sequence (a struct is `Other`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    None,
    Scalar(Option<&'a str>),
    Items(Vec<Option<&'a str>>),
    Other,
}

/// Each MO's parent (`NONE` for none) and children (`children[child_start[r]..child_start[r + 1]]`).
#[derive(Debug)]
struct Tree {
    parent: Vec<u32>,
    child_start: Vec<u32>,
    children: Vec<u32>,
}

impl Tree {
    fn of(n: usize, fdn: &Text, parent_fdn: &Text) -> Tree {
        // the parent: the first MO of that FDN (as `NetworkIndex` finds it)
        let first = StrIndex::build(n, |r| fdn.get(n - 1 - r));
        let parent: Vec<u32> = (0..n)
            .map(|r| match parent_fdn.get(r).and_then(|p| first.get(p, |x| fdn.get(n - 1 - x))) {
                Some(x) => (n - 1 - x) as u32,
                None => NONE,
            })
            .collect();
        let mut child_start = vec![0u32; n + 1];
        for &p in &parent {
            if p != NONE {
                child_start[p as usize + 1] += 1;
            }
        }
        for i in 0..n {
            child_start[i + 1] += child_start[i];
        }
        let mut fill = child_start.clone();
        let mut children = vec![0u32; child_start[n] as usize];
        for (row, &p) in parent.iter().enumerate() {
            if p != NONE {
                children[fill[p as usize] as usize] = row as u32;
                fill[p as usize] += 1;
            }
        }
        Tree { parent, child_start, children }
    }
}

/// A network's MOs and values, indexed.
#[derive(Debug)]
pub struct NetworkView {
    fdn: Text,
    class: Text,
    n: usize,
    index: StrIndex,
    parent_fdn: Text,
    /// The MOs' parents and children, made when first asked for (the simulator's checks do
    /// without them).
    tree: std::sync::OnceLock<Tree>,
    chunks: Vec<ValueChunk>,
    chunk_start: Vec<usize>,
    /// Per MO, `value_start[mo]..value_start[mo + 1]` in `value_rows`: its value rows (global
    /// numbers), in the network's order.
    value_start: Vec<u32>,
    value_rows: Vec<u32>,
    /// The MO row of each value row (`NONE` for a value of no MO).
    owner: Vec<u32>,
    has_values: bool,
}

pub const NONE: u32 = u32::MAX;

impl NetworkView {
    /// The view of a network: `mos` (`fdn`, `class`, `parent_fdn`) and `values` (`fdn`,
    /// `attribute`, `member`, `index`, `value`), each one or more batches.
    pub fn new(mos_schema: &SchemaRef, mos: &[RecordBatch], values: Option<&[RecordBatch]>) -> Result<NetworkView> {
        let mos = one_batch(mos_schema, mos, "mos")?;
        let fdn = Text::column(&mos, "mos", "fdn", false)?;
        let class = Text::column(&mos, "mos", "class", false)?;
        let parent_fdn = Text::column(&mos, "mos", "parent_fdn", true)?;
        let n = mos.num_rows();
        if n >= NONE as usize {
            return Err(bad("mos", format!("{n} MOs: too many")));
        }
        let index = StrIndex::build(n, |r| fdn.get(r));
        let mut chunks = Vec::new();
        let mut chunk_start = vec![0usize];
        let mut owner: Vec<u32> = Vec::new();
        let has_values = values.is_some();
        for batch in values.unwrap_or_default() {
            {
                let fdns = Text::column(batch, "values", "fdn", false)?;
                match &fdns {
                    Text::Dict(keys, dict) => {
                        let of_entry: Vec<u32> = (0..dict.len())
                            .map(|e| {
                                let f = dict.is_valid(e).then(|| dict.value(e));
                                f.and_then(|f| index.get(f, |x| fdn.get(x))).map_or(NONE, |x| x as u32)
                            })
                            .collect();
                        owner.extend((0..keys.len()).map(|i| {
                            if keys.is_valid(i) {
                                of_entry.get(keys.value(i) as usize).copied().unwrap_or(NONE)
                            } else {
                                NONE
                            }
                        }));
                    }
                    _ => owner
                        .extend((0..fdns.len()).map(|i| {
                            fdns.get(i).and_then(|f| index.get(f, |x| fdn.get(x))).map_or(NONE, |x| x as u32)
                        })),
                }
                chunks.push(ValueChunk {
                    attribute: Text::column(batch, "values", "attribute", false)?,
                    member: Text::column(batch, "values", "member", true)?,
                    index: int32(batch, "values", "index", true)?,
                    value: Text::column(batch, "values", "value", false)?,
                });
                chunk_start.push(owner.len());
            }
        }
        if owner.len() >= NONE as usize {
            return Err(bad("values", format!("{} values: too many", owner.len())));
        }
        let mut value_start = vec![0u32; n + 1];
        for &o in &owner {
            if o != NONE {
                value_start[o as usize + 1] += 1;
            }
        }
        for i in 0..n {
            value_start[i + 1] += value_start[i];
        }
        let mut fill = value_start.clone();
        let mut value_rows = vec![0u32; value_start[n] as usize];
        for (g, &o) in owner.iter().enumerate() {
            if o != NONE {
                value_rows[fill[o as usize] as usize] = g as u32;
                fill[o as usize] += 1;
            }
        }
        Ok(NetworkView {
            fdn,
            class,
            n,
            index,
            parent_fdn,
            tree: std::sync::OnceLock::new(),
            chunks,
            chunk_start,
            value_start,
            value_rows,
            owner,
            has_values,
        })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether the network has a `values` table (with rows or not).
    pub fn has_values(&self) -> bool {
        self.has_values
    }

    pub fn value_count(&self) -> usize {
        self.owner.len()
    }

    #[inline]
    pub fn row_of(&self, fdn: &str) -> Option<usize> {
        self.index.get(fdn, |x| self.fdn.get(x))
    }

    #[inline]
    pub fn fdn(&self, row: usize) -> &str {
        self.fdn.str(row)
    }

    #[inline]
    pub fn class(&self, row: usize) -> &str {
        self.class.str(row)
    }

    #[inline]
    fn tree(&self) -> &Tree {
        self.tree.get_or_init(|| Tree::of(self.n, &self.fdn, &self.parent_fdn))
    }

    pub fn parent(&self, row: usize) -> Option<usize> {
        let p = self.tree().parent[row];
        (p != NONE).then_some(p as usize)
    }

    pub fn children(&self, row: usize) -> &[u32] {
        let tree = self.tree();
        &tree.children[tree.child_start[row] as usize..tree.child_start[row + 1] as usize]
    }

    /// The value rows (global numbers) of the MO at `row`, in the network's order.
    pub fn values_of(&self, row: usize) -> &[u32] {
        &self.value_rows[self.value_start[row] as usize..self.value_start[row + 1] as usize]
    }

    /// The MO row of the value row `g` (`NONE` for a value of no MO).
    #[inline]
    pub fn owner(&self, g: u32) -> u32 {
        self.owner[g as usize]
    }

    /// The value row `g` (a global number).
    #[inline]
    pub fn value(&self, g: u32) -> ValueRow<'_> {
        let g = g as usize;
        let c = self.chunk_start.partition_point(|&s| s <= g) - 1;
        let chunk = &self.chunks[c];
        let i = g - self.chunk_start[c];
        ValueRow {
            attribute: chunk.attribute.str(i),
            member: chunk.member.get(i),
            index: opt_i32(&chunk.index, i),
            value: chunk.value.get(i),
        }
    }

    /// Every value row with a value, in the network's order: `each(g, mo row or NONE, value)`.
    pub fn scan_values(&self, mut each: impl FnMut(u32, u32, &str)) {
        for (c, chunk) in self.chunks.iter().enumerate() {
            let first = self.chunk_start[c];
            for i in 0..chunk.value.len() {
                if let Some(v) = chunk.value.get(i) {
                    each((first + i) as u32, self.owner[first + i], v);
                }
            }
        }
    }

    /// The value rows of the MOs at `rows`, in the network's order (each MO once).
    pub fn values_of_all(&self, rows: impl IntoIterator<Item = usize>) -> Vec<u32> {
        let mut seen = FxHashSet::default();
        let mut out: Vec<u32> = Vec::new();
        for r in rows {
            if seen.insert(r) {
                out.extend_from_slice(self.values_of(r));
            }
        }
        out.sort_unstable();
        out
    }

    /// The current value of one attribute of the MO at `row`, decoded as `NetworkIndex.value`
    /// does (a struct is `Other`; the network's sequence flags are not known here: an
    /// attribute is a sequence when its rows hold more than one index).
    pub fn decoded(&self, row: usize, attribute: &str) -> Decoded<'_> {
        let rows: Vec<ValueRow<'_>> =
            self.values_of(row).iter().map(|&g| self.value(g)).filter(|v| v.attribute == attribute).collect();
        let Some(last) = rows.last() else { return Decoded::None };
        if rows.iter().any(|r| r.member.is_some_and(|m| !m.is_empty())) {
            return Decoded::Other;
        }
        let first_index = rows[0].index;
        if rows.iter().all(|r| r.index == first_index) {
            return Decoded::Scalar(last.value);
        }
        let mut items: Vec<(i32, Option<&str>)> = rows.iter().map(|r| (r.index.unwrap_or(0), r.value)).collect();
        items.sort_by_key(|&(i, _)| i);
        Decoded::Items(items.into_iter().map(|(_, v)| v).collect())
    }

    /// The text value of one attribute when it is one (`None` for nothing or a sequence or
    /// struct: `Some(None)` never happens, the network's values are not null).
    pub fn scalar(&self, row: usize, attribute: &str) -> Option<&str> {
        match self.decoded(row, attribute) {
            Decoded::Scalar(v) => v,
            _ => None,
        }
    }
}

/// What the catalog says of one (class, attribute).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub kind: Option<Box<str>>,
    pub is_sequence: bool,
    pub read_only: bool,
    pub restricted: bool,
    pub mandatory: bool,
}

type ByName<V> = FxHashMap<Box<str>, V>;
/// A kind and a sequence flag.
type Kind = (Option<Box<str>>, Option<bool>);

/// A catalog as the planner reads it.
#[derive(Default)]
pub struct PlanningCatalog {
    /// The catalog's constraints compiled (the evaluator of `rtbfast audit`).
    rules: crate::rules::RuleSet,
    /// class → attribute → member ("" for the attribute's own row) → (kind, is_sequence).
    kinds: ByName<ByName<ByName<Kind>>>,
    flags: ByName<ByName<Flags>>,
    admin: FxHashSet<Box<str>>,
    locks: ByName<FxHashSet<Box<str>>>,
    system_created: FxHashSet<Box<str>>,
    lock_count: usize,
}

impl PlanningCatalog {
    /// `kinds`: `class`, `attribute`, `member`, `kind`, `is_sequence`; `flags` (one row per
    /// attribute): `class`, `attribute`, `kind`, `is_sequence`, `read_only`, `restricted`,
    /// `mandatory`.
    pub fn new(
        kinds: &RecordBatch,
        flags: &RecordBatch,
        admin: impl IntoIterator<Item = String>,
        locks: impl IntoIterator<Item = (String, String)>,
        system_created: impl IntoIterator<Item = String>,
    ) -> Result<PlanningCatalog> {
        PlanningCatalog::with_rules(crate::rules::RuleSet::default(), kinds, flags, admin, locks, system_created)
    }

    /// [`PlanningCatalog::new`] with the catalog's constraints compiled (`constraints`: the rows of
    /// its constraints table).
    pub fn with_rules(
        rules: crate::rules::RuleSet,
        kinds: &RecordBatch,
        flags: &RecordBatch,
        admin: impl IntoIterator<Item = String>,
        locks: impl IntoIterator<Item = (String, String)>,
        system_created: impl IntoIterator<Item = String>,
    ) -> Result<PlanningCatalog> {
        let mut view = PlanningCatalog { rules, ..PlanningCatalog::default() };
        let (class, attribute, member, kind) = (
            Text::column(kinds, "kinds", "class", false)?,
            Text::column(kinds, "kinds", "attribute", false)?,
            Text::column(kinds, "kinds", "member", true)?,
            Text::column(kinds, "kinds", "kind", true)?,
        );
        let is_sequence = boolean(kinds, "kinds", "is_sequence", true)?;
        for r in 0..kinds.num_rows() {
            let entry = view
                .kinds
                .entry(class.str(r).into())
                .or_default()
                .entry(attribute.str(r).into())
                .or_default()
                .entry(member.str(r).into());
            // the first row of a name gives it (as a lookup by `index_in` does)
            entry.or_insert_with(|| (kind.get(r).map(Into::into), opt_bool(&is_sequence, r)));
        }
        let (class, attribute, kind) = (
            Text::column(flags, "flags", "class", false)?,
            Text::column(flags, "flags", "attribute", false)?,
            Text::column(flags, "flags", "kind", true)?,
        );
        let flag = |name: &str| boolean(flags, "flags", name, true);
        let (seq, read_only, restricted, mandatory) =
            (flag("is_sequence")?, flag("read_only")?, flag("restricted")?, flag("mandatory")?);
        let yes = |a: &BooleanArray, r: usize| a.is_valid(r) && a.value(r);
        for r in 0..flags.num_rows() {
            // the last row of a name gives it (as a dictionary made from the rows does)
            view.flags.entry(class.str(r).into()).or_default().insert(
                attribute.str(r).into(),
                Flags {
                    kind: kind.get(r).map(Into::into),
                    is_sequence: yes(&seq, r),
                    read_only: yes(&read_only, r),
                    restricted: yes(&restricted, r),
                    mandatory: yes(&mandatory, r),
                },
            );
        }
        view.admin = admin.into_iter().map(Into::into).collect();
        for (c, a) in locks {
            if view.locks.entry(c.into()).or_default().insert(a.into()) {
                view.lock_count += 1;
            }
        }
        view.system_created = system_created.into_iter().map(Into::into).collect();
        Ok(view)
    }

    /// The catalog's constraints, compiled.
    pub fn rules(&self) -> &crate::rules::RuleSet {
        &self.rules
    }

    /// The kind and sequence flag of (class, attribute, member); a null member is the
    /// attribute's own row. `None` when the catalog has no such row.
    #[inline]
    pub fn kind(&self, class: &str, attribute: &str, member: Option<&str>) -> Option<(Option<&str>, Option<bool>)> {
        self.kinds
            .get(class)
            .and_then(|a| a.get(attribute))
            .and_then(|m| m.get(member.unwrap_or("")))
            .map(|(k, s)| (k.as_deref(), *s))
    }

    #[inline]
    pub fn flags(&self, class: &str, attribute: &str) -> Option<&Flags> {
        self.flags.get(class).and_then(|a| a.get(attribute))
    }

    pub fn has_flags(&self) -> bool {
        !self.flags.is_empty()
    }

    /// Whether any attribute of the catalog is a moRef.
    pub fn any_moref(&self) -> bool {
        self.flags.values().any(|a| a.values().any(|f| f.kind.as_deref() == Some("moref")))
    }

    #[inline]
    pub fn is_admin(&self, class: &str) -> bool {
        self.admin.contains(class)
    }

    #[inline]
    pub fn needs_lock(&self, class: &str, attribute: &str) -> bool {
        self.locks.get(class).is_some_and(|a| a.contains(attribute))
    }

    pub fn has_locks(&self) -> bool {
        self.lock_count > 0
    }

    #[inline]
    pub fn is_system_created(&self, class: &str) -> bool {
        self.system_created.contains(class)
    }
}

/// The class of an FDN as its text says: the name of its last RDN.
#[inline]
pub fn class_of_fdn(fdn: &str) -> &str {
    let last = fdn.rsplit(',').next().unwrap_or(fdn);
    last.split('=').next().unwrap_or(last)
}

/// The parent FDN as its text says (the FDN itself when it has one RDN, as Python's
/// `fdn.rsplit(",", 1)[0]`).
#[inline]
pub fn parent_of_fdn(fdn: &str) -> &str {
    fdn.rsplit_once(',').map_or(fdn, |(p, _)| p)
}

/// A value as the node compares it (`rtbfast.enm.model.typed_text`): an integer written
/// another way than the node writes it (a sign, a leading zero, `-0`) rewritten (`"010"` is
/// `10`, `"+5"` is `5`, `"-0"` is `0`), a boolean in lower case; other kinds as written.
pub fn typed<'a>(value: &'a str, kind: Option<&str>) -> Cow<'a, str> {
    match kind {
        Some("integer") => {
            let b = value.as_bytes();
            let odd = b.first() == Some(&b'+')
                || (b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit())
                || (b.len() >= 3 && b[0] == b'-' && b[1] == b'0' && b[2].is_ascii_digit())
                || value == "-0";
            if !odd {
                return Cow::Borrowed(value);
            }
            let (negative, digits) = match b.first() {
                Some(b'+') => (false, &value[1..]),
                Some(b'-') => (true, &value[1..]),
                _ => (false, value),
            };
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Cow::Borrowed(value);
            }
            let kept = digits.trim_start_matches('0');
            let kept = if kept.is_empty() { "0" } else { kept };
            if negative && kept != "0" {
                Cow::Owned(format!("-{kept}"))
            } else {
                Cow::Owned(kept.to_owned())
            }
        }
        Some("boolean") => {
            if value.chars().any(char::is_uppercase) {
                Cow::Owned(value.to_lowercase())
            } else {
                Cow::Borrowed(value)
            }
        }
        _ => Cow::Borrowed(value),
    }
}

/// Networks and catalogs built by hand, for the tests of the planner, the rollback and the
/// simulator.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use arrow_array::builder::{BooleanBuilder, StringBuilder, StringDictionaryBuilder};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    /// A network of `mos` (fdn, class; the parent is the FDN without its last RDN) and
    /// `values` (fdn, attribute, member, index, value), the values in two batches.
    pub(crate) fn network(mos: &[(&str, &str)], values: &[(&str, &str, Option<&str>, i32, &str)]) -> NetworkView {
        let parent: Vec<Option<&str>> = mos.iter().map(|(f, _)| f.rsplit_once(',').map(|(p, _)| p)).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("fdn", DataType::Utf8, false),
            Field::new("class", DataType::Utf8, false),
            Field::new("parent_fdn", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(mos.iter().map(|m| m.0))),
                Arc::new(StringArray::from_iter_values(mos.iter().map(|m| m.1))),
                Arc::new(StringArray::from(parent)),
            ],
        )
        .unwrap();
        let mut fdn = StringDictionaryBuilder::<Int32Type>::new();
        for v in values {
            fdn.append_value(v.0);
        }
        let values_schema = Arc::new(Schema::new(vec![
            Field::new("fdn", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false),
            Field::new("attribute", DataType::Utf8, false),
            Field::new("member", DataType::Utf8, true),
            Field::new("index", DataType::Int32, true),
            Field::new("value", DataType::Utf8, false),
        ]));
        let vbatch = RecordBatch::try_new(
            values_schema,
            vec![
                Arc::new(fdn.finish()),
                Arc::new(StringArray::from_iter_values(values.iter().map(|v| v.1))),
                Arc::new(StringArray::from(values.iter().map(|v| v.2).collect::<Vec<_>>())),
                Arc::new(Int32Array::from_iter_values(values.iter().map(|v| v.3))),
                Arc::new(StringArray::from_iter_values(values.iter().map(|v| v.4))),
            ],
        )
        .unwrap();
        // two batches of values, to read across them
        let cut = values.len() / 2;
        NetworkView::new(&schema, &[batch], Some(&[vbatch.slice(0, cut), vbatch.slice(cut, values.len() - cut)]))
            .unwrap()
    }

    /// One attribute (or member) of a catalog: class, attribute, member, kind, sequence,
    /// read-only, restricted, mandatory.
    pub(crate) type Attr = (&'static str, &'static str, Option<&'static str>, &'static str, bool, bool, bool, bool);

    /// A catalog of `attrs`, with the classes with a state, the attributes changed only while
    /// locked, and the classes the node creates (no constraints compiled).
    pub(crate) fn catalog(
        attrs: &[Attr],
        admin: &[&str],
        locks: &[(&str, &str)],
        system_created: &[&str],
    ) -> PlanningCatalog {
        let text = |f: &dyn Fn(&Attr) -> Option<&'static str>, rows: &[&Attr]| -> ArrayRef {
            let mut b = StringBuilder::new();
            for r in rows {
                b.append_option(f(r));
            }
            Arc::new(b.finish())
        };
        let flag = |f: &dyn Fn(&Attr) -> bool, rows: &[&Attr]| -> ArrayRef {
            let mut b = BooleanBuilder::new();
            for r in rows {
                b.append_value(f(r));
            }
            Arc::new(b.finish())
        };
        let all: Vec<&Attr> = attrs.iter().collect();
        let kinds = RecordBatch::try_from_iter(vec![
            ("class", text(&|r| Some(r.0), &all)),
            ("attribute", text(&|r| Some(r.1), &all)),
            ("member", text(&|r| r.2, &all)),
            ("kind", text(&|r| Some(r.3), &all)),
            ("is_sequence", flag(&|r| r.4, &all)),
        ])
        .unwrap();
        let own: Vec<&Attr> = attrs.iter().filter(|r| r.2.is_none()).collect();
        let flags = RecordBatch::try_from_iter(vec![
            ("class", text(&|r| Some(r.0), &own)),
            ("attribute", text(&|r| Some(r.1), &own)),
            ("kind", text(&|r| Some(r.3), &own)),
            ("is_sequence", flag(&|r| r.4, &own)),
            ("read_only", flag(&|r| r.5, &own)),
            ("restricted", flag(&|r| r.6, &own)),
            ("mandatory", flag(&|r| r.7, &own)),
        ])
        .unwrap();
        PlanningCatalog::new(
            &kinds,
            &flags,
            admin.iter().map(|s| s.to_string()),
            locks.iter().map(|(c, a)| (c.to_string(), a.to_string())),
            system_created.iter().map(|s| s.to_string()),
        )
        .unwrap()
    }

    /// A catalog with `rules` compiled and nothing else.
    pub(crate) fn catalog_with(rules: crate::rules::RuleSet) -> PlanningCatalog {
        let empty = catalog(&[], &[], &[], &[]);
        PlanningCatalog { rules, ..empty }
    }

    /// A plain attribute (not a sequence, writable, optional).
    pub(crate) const fn attr(class: &'static str, attribute: &'static str, kind: &'static str) -> Attr {
        (class, attribute, None, kind, false, false, false, false)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::network;
    use super::*;

    #[test]
    fn typed_values_as_the_node_compares_them() {
        let int = Some("integer");
        for (raw, want) in [
            ("010", "10"),
            ("+5", "5"),
            ("-0", "0"),
            ("-00", "0"),
            ("-007", "-7"),
            ("00", "0"),
            ("0", "0"),
            ("-5", "-5"),
            ("+", "+"),
            ("0x1", "0x1"),
            ("+0012", "12"),
            ("12", "12"),
            ("-0a", "-0a"),
        ] {
            assert_eq!(typed(raw, int), want, "{raw}");
        }
        assert_eq!(typed("010", Some("string")), "010");
        assert_eq!(typed("TRUE", Some("boolean")), "true");
        assert_eq!(typed("TRUE", None), "TRUE");
    }

    #[test]
    fn names_of_an_fdn() {
        assert_eq!(class_of_fdn("A=1,B=2"), "B");
        assert_eq!(class_of_fdn("A=1"), "A");
        assert_eq!(parent_of_fdn("A=1,B=2,C=3"), "A=1,B=2");
        assert_eq!(parent_of_fdn("A=1"), "A=1");
    }

    #[test]
    fn a_network_found_by_fdn_with_its_tree_and_values() {
        let net = network(
            &[("A=1", "A"), ("A=1,B=1", "B"), ("A=1,B=1,C=1", "C"), ("A=1,B=2", "B")],
            &[
                ("A=1,B=1", "x", None, 0, "1"),
                ("A=1,B=2", "x", None, 0, "2"),
                ("A=1,B=1", "s", None, 0, "a"),
                ("A=1,B=1", "s", None, 1, "b"),
                ("A=1,B=1", "st", Some("m"), 0, "v"),
            ],
        );
        assert_eq!(net.row_of("A=1,B=2"), Some(3));
        assert_eq!(net.row_of("A=1,B=3"), None);
        assert_eq!(net.parent(2), Some(1));
        assert_eq!(net.parent(0), None);
        assert_eq!(net.children(0), &[1, 3]);
        assert_eq!(net.values_of(1), &[0, 2, 3, 4]);
        assert_eq!(net.value(3).value, Some("b"));
        assert_eq!(net.decoded(1, "x"), Decoded::Scalar(Some("1")));
        assert_eq!(net.decoded(1, "s"), Decoded::Items(vec![Some("a"), Some("b")]));
        assert_eq!(net.decoded(1, "st"), Decoded::Other);
        assert_eq!(net.decoded(1, "nothing"), Decoded::None);
        assert_eq!(net.values_of_all([3, 1, 3]), vec![0, 1, 2, 3, 4]);
    }
}
