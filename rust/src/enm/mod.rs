//! ENM output written natively: a Plan (the rows of `rtbfast.enm.plan.PLAN_SCHEMA`, in step
//! order) rendered in one pass as cmedit command lines, dynamic import blocks and moshell
//! lines ([`step_texts`]: a text per step), the way `rtbfast.enm.dialects` documents them.
//! Every value goes through [`encode::scalar`] and every name through [`crate::names`]: what a
//! dialect cannot carry exactly is refused with the plan row it is in.
//!
//! Per step: `cmedit create <FDN> <Naming>=<id>[,attrs]`, `cmedit delete <scope>`,
//! `cmedit action <scope> <attrs>`, else `cmedit set <scope> <attrs>`, where the scope is the
//! FDN, or (node form) the node name and the RDNs below its `ManagedElement`. Attributes are
//! written in the order of their first row, `a=v` joined by `,`; a value is `null` when unset;
//! a struct is `(m=v,…)` (its members in row order, one struct per item index), a sequence
//! `[…]` (so is an attribute with an item past the first, whatever the catalog says), an
//! emptied or unset sequence `[]`; a create's id is a string value (`XId="null"`). The dynamic import format writes a struct
//! `{m=v, …}` and a sequence `[a, b]`; moshell a struct `m=v,…`, a sequence of structs joined
//! by `;`, of other values by spaces, and an unset value or emptied sequence as nothing.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};

use rustc_hash::FxHashMap;

use crate::error::{Error, Location};
use crate::names;

pub mod bulkcm_writer;
pub mod encode;
pub mod judge;
pub mod nodes;
pub mod origins;
pub mod planner;
pub mod rollback;
pub mod simulate;
pub mod view;

pub use encode::Dialect;

/// The index of the one row that empties a sequence (`rtbfast.changeset.EMPTIED`).
pub const EMPTIED: i32 = -1;

/// How a command names its MO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `cmedit set SubNetwork=…,MeContext=N,ManagedElement=N,ENodeBFunction=1 …`
    Fdn,
    /// `cmedit set N ENodeBFunction=1 …` (a create still names the whole FDN)
    Node,
}

/// A plan row a dialect cannot write: its place among all the plan's rows (batches one after
/// the other) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub row: usize,
    pub reason: String,
}

fn value_error(message: String) -> Error {
    Error::Value { loc: Location::default(), message }
}

struct Columns<'a> {
    step: &'a arrow_array::PrimitiveArray<Int64Type>,
    op: &'a arrow_array::StringArray,
    fdn: &'a arrow_array::StringArray,
    class: &'a arrow_array::StringArray,
    attribute: &'a arrow_array::StringArray,
    member: &'a arrow_array::StringArray,
    index: &'a arrow_array::PrimitiveArray<Int32Type>,
    value: &'a arrow_array::StringArray,
    kind: &'a arrow_array::StringArray,
    is_sequence: &'a arrow_array::BooleanArray,
    /// The place of this batch's first row among all rows.
    first_row: usize,
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> crate::Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| value_error(format!("the plan has no column {name:?}")))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> crate::Result<&'a arrow_array::StringArray> {
    column(batch, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| value_error(format!("the plan's column {name:?} is not utf8")))
}

impl<'a> Columns<'a> {
    fn of(batch: &'a RecordBatch, first_row: usize) -> crate::Result<Self> {
        let step = column(batch, "step")?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| value_error("the plan's column \"step\" is not int64".into()))?;
        let index = column(batch, "index")?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| value_error("the plan's column \"index\" is not int32".into()))?;
        let is_sequence = column(batch, "is_sequence")?
            .as_boolean_opt()
            .ok_or_else(|| value_error("the plan's column \"is_sequence\" is not bool".into()))?;
        Ok(Columns {
            step,
            op: strings(batch, "op")?,
            fdn: strings(batch, "fdn")?,
            class: strings(batch, "class")?,
            attribute: strings(batch, "attribute")?,
            member: strings(batch, "member")?,
            index,
            value: strings(batch, "value")?,
            kind: strings(batch, "kind")?,
            is_sequence,
            first_row,
        })
    }

    fn all(batches: &'a [RecordBatch]) -> crate::Result<Vec<Columns<'a>>> {
        let mut first = 0;
        batches
            .iter()
            .map(|b| {
                let c = Columns::of(b, first);
                first += b.num_rows();
                c
            })
            .collect()
    }

    fn text(&self, row: usize) -> Option<&'a str> {
        self.value.is_valid(row).then(|| self.value.value(row))
    }

    fn opt(array: &'a arrow_array::StringArray, row: usize) -> Option<&'a str> {
        array.is_valid(row).then(|| array.value(row))
    }
}

enum Item {
    Text(String),
    /// The members (`m=v`) of one struct item.
    Struct(String),
}

struct Attribute<'a> {
    name: &'a str,
    sequence: bool,
    whole: bool,
    /// An emptied or unset value: written `[]`/`null` (nothing in moshell).
    nothing: bool,
    items: Vec<Item>,
    structs: FxHashMap<i32, usize>,
}

/// What [`attribute_texts`] builds for a step, kept from step to step of one rendering so
/// that a step allocates nothing once the first few have run: the maps cleared, the texts and
/// item lists handed back to be reused.
#[derive(Default)]
struct Buffers<'a> {
    attributes: Vec<Attribute<'a>>,
    position: FxHashMap<&'a str, usize>,
    several: rustc_hash::FxHashSet<&'a str>,
    texts: Vec<String>,
    lists: Vec<Vec<Item>>,
    whole: String,
}

impl<'a> Buffers<'a> {
    /// The last step's attributes taken apart, their texts and lists kept for the next.
    fn reset(&mut self) {
        for mut a in self.attributes.drain(..) {
            for item in a.items.drain(..) {
                let (Item::Text(t) | Item::Struct(t)) = item;
                self.texts.push(t);
            }
            self.lists.push(a.items);
        }
        self.position.clear();
        self.several.clear();
    }
}

fn reused(texts: &mut Vec<String>) -> String {
    texts.pop().map_or_else(String::new, |mut t| {
        t.clear();
        t
    })
}

/// The node name (`MeContext` id, else `ManagedElement` id) and the RDNs below
/// `ManagedElement`, when the FDN has them.
fn node_and_ldn(fdn: &str) -> (Option<&str>, Option<&str>) {
    let mut node = None;
    let mut start = 0;
    let mut ldn = None;
    for part in fdn.split(',') {
        let end = start + part.len();
        if node.is_none() && (part.starts_with("MeContext=") || part.starts_with("ManagedElement=")) {
            node = part.split_once('=').map(|(_, id)| id);
        }
        if part.starts_with("ManagedElement=") && ldn.is_none() && end < fdn.len() {
            ldn = Some(&fdn[end + 1..]);
        }
        start = end + 1;
    }
    (node, ldn.filter(|l| !l.is_empty()))
}

/// The rows of a plan grouped by step, in order: `(batch, row)` of each row of a step.
fn steps(columns: &[Columns<'_>], mut each: impl FnMut(&[(usize, usize)])) -> crate::Result<()> {
    let mut pending: Vec<(usize, usize)> = Vec::new();
    let mut current: Option<i64> = None;
    for (b, cols) in columns.iter().enumerate() {
        for row in 0..cols.step.len() {
            let step = cols.step.value(row);
            if let Some(previous) = current {
                if step != previous {
                    if step < previous {
                        return Err(value_error(format!(
                            "the plan is not in step order (step {step} after step {previous})"
                        )));
                    }
                    each(&pending);
                    pending.clear();
                }
            }
            current = Some(step);
            pending.push((b, row));
        }
    }
    if !pending.is_empty() {
        each(&pending);
    }
    Ok(())
}

/// The names of one rendering checked. A plan's rows come MO by MO, node by node: an FDN is
/// checked past the RDNs it shares with the one checked before it, and a name equal to the
/// last one of its kind is not checked again.
#[derive(Default)]
struct Checked<'a> {
    last_fdn: &'a str,
    last: [&'a str; 5],
}

impl<'a> Checked<'a> {
    fn name(&mut self, kind: names::NameKind, name: &'a str) -> Result<(), String> {
        let slot = kind as usize;
        if self.last[slot] != name || name.is_empty() {
            names::check(kind, name)?;
            self.last[slot] = name;
        }
        Ok(())
    }

    fn fdn(&mut self, fdn: &'a str) -> Result<(), String> {
        let shared = fdn.bytes().zip(self.last_fdn.bytes()).take_while(|(a, b)| a == b).count();
        // the RDNs both hold whole: up to a ',' in both (or all of the last one, before a ',')
        let cut = if shared == self.last_fdn.len() && fdn.as_bytes().get(shared) == Some(&b',') {
            Some(shared)
        } else {
            fdn[..shared].rfind(',')
        };
        match cut {
            Some(cut) if !self.last_fdn.is_empty() && fdn.len() <= names::MAX_FDN => {
                names::check_fdn(&fdn[cut + 1..]).map_err(|_| names::check_fdn(fdn).err().unwrap_or_default())?
            }
            _ => names::check_fdn(fdn)?,
        }
        self.last_fdn = fdn;
        Ok(())
    }
}

/// The step's head (op, fdn, class), its names checked.
fn head<'a>(
    columns: &[Columns<'a>],
    rows: &[(usize, usize)],
    checked: &mut Checked<'a>,
) -> Result<(&'a str, &'a str, &'a str), Refusal> {
    let (b0, r0) = rows[0];
    let c = &columns[b0];
    let refusal = |reason: String| Refusal { row: c.first_row + r0, reason };
    let (op, fdn, class) = (c.op.value(r0), c.fdn.value(r0), c.class.value(r0));
    checked.fdn(fdn).map_err(refusal)?;
    checked.name(names::NameKind::Class, class).map_err(refusal)?;
    Ok((op, fdn, class))
}

/// The attributes a step writes, in the order of their first row, each rendered whole in
/// `dialect` (only cmedit, dynamic and moshell).
fn attribute_texts<'a>(
    columns: &[Columns<'a>],
    rows: &[(usize, usize)],
    dialect: Dialect,
    checked: &mut Checked<'a>,
    buffers: &mut Buffers<'a>,
    emit: &mut dyn FnMut(&'a str, &str),
) -> Result<(), Refusal> {
    buffers.reset();
    let Buffers { attributes, position, several, texts, lists, whole } = buffers;
    // an attribute holding an item past the first is a sequence, whatever the catalog says
    // (one it does not know has no flag): its items are written as a list
    for &(b, r) in rows {
        let c = &columns[b];
        if let Some(name) = Columns::opt(c.attribute, r) {
            if c.index.is_valid(r) && c.index.value(r) > 0 {
                several.insert(name);
            }
        }
    }
    for &(b, r) in rows {
        let c = &columns[b];
        let Some(name) = Columns::opt(c.attribute, r) else { continue };
        let refusal = |reason: String| Refusal { row: c.first_row + r, reason };
        if !position.contains_key(name) {
            checked.name(names::NameKind::Attribute, name).map_err(refusal)?;
        }
        let sequence = (c.is_sequence.is_valid(r) && c.is_sequence.value(r)) || several.contains(name);
        let index = c.index.is_valid(r).then(|| c.index.value(r));
        let value = c.text(r);
        let emptied = index == Some(EMPTIED);
        let unset_sequence = index.is_none() && value.is_none() && sequence;
        let member = Columns::opt(c.member, r);
        let mut text = reused(texts);
        let nothing = emptied || unset_sequence || value.is_none();
        if emptied || unset_sequence {
            if dialect != Dialect::Moshell {
                text.push_str("[]");
            }
        } else {
            match value {
                None if dialect == Dialect::Moshell => {}
                None => text.push_str("null"),
                Some(v) => {
                    let nested = sequence || member.is_some();
                    let kind = Columns::opt(c.kind, r);
                    if kind == Some("moref") && !v.is_empty() {
                        // a plan refers to the same MOs again and again: each FDN checked once
                        checked.fdn(v).map_err(|why| refusal(format!("the moRef is not one: {why}")))?;
                    }
                    encode::scalar_with(dialect, kind, v, nested, &mut text, &mut |_| Ok(())).map_err(refusal)?;
                    if dialect == Dialect::Moshell && member.is_some() && kind == Some("moref") && !v.is_empty() {
                        return Err(refusal(
                            "moshell cannot carry a moRef inside a struct: the ',' and '=' of its LDN read as the \
                             struct's own"
                                .into(),
                        ));
                    }
                }
            }
        }
        let at = *position.entry(name).or_insert_with(|| {
            attributes.push(Attribute {
                name,
                sequence,
                whole: emptied || index.is_none(),
                nothing,
                items: lists.pop().unwrap_or_default(),
                structs: FxHashMap::default(),
            });
            attributes.len() - 1
        });
        let attribute = &mut attributes[at];
        attribute.nothing &= nothing;
        match member {
            Some(member) => {
                checked.name(names::NameKind::Member, member).map_err(refusal)?;
                let item = index.unwrap_or(0);
                if attribute.items.is_empty() {
                    attribute.whole = false; // a struct item first
                }
                let slot = *attribute.structs.entry(item).or_insert_with(|| {
                    attribute.items.push(Item::Struct(reused(texts)));
                    attribute.items.len() - 1
                });
                if let Item::Struct(members) = &mut attribute.items[slot] {
                    if !members.is_empty() {
                        members.push_str(if dialect == Dialect::Dynamic { ", " } else { "," });
                    }
                    members.push_str(member);
                    members.push('=');
                    members.push_str(&text);
                }
                texts.push(text);
            }
            None => {
                if !attribute.sequence && !attribute.items.is_empty() {
                    return Err(refusal(format!("{name} is not a sequence but is given more than one value")));
                }
                attribute.items.push(Item::Text(text));
            }
        }
    }
    let text = whole;
    for a in attributes.iter() {
        text.clear();
        let list = a.sequence && !a.whole;
        match dialect {
            Dialect::Moshell => {
                let structs = a.items.iter().any(|i| matches!(i, Item::Struct(_)));
                let separator = if structs { ";" } else { " " };
                for (i, item) in a.items.iter().enumerate() {
                    if i > 0 {
                        text.push_str(separator);
                    }
                    match item {
                        Item::Text(t) | Item::Struct(t) => text.push_str(t),
                    }
                }
                if a.nothing {
                    text.clear();
                }
            }
            _ => {
                let (open, close, separator) = match dialect {
                    Dialect::Dynamic => ('{', '}', ", "),
                    _ => ('(', ')', ","),
                };
                if list {
                    text.push('[');
                }
                for (i, item) in a.items.iter().enumerate() {
                    if i > 0 {
                        text.push_str(separator);
                    }
                    match item {
                        Item::Text(t) => text.push_str(t),
                        Item::Struct(m) => {
                            text.push(open);
                            text.push_str(m);
                            text.push(close);
                        }
                    }
                }
                if list {
                    text.push(']');
                }
            }
        }
        emit(a.name, text);
    }
    Ok(())
}

/// Render the plan as one cmedit line per step. `naming` gives a class's naming attribute
/// (`EUtranCellFDDId` in CPP, `eUtranCellFDDId` in ECIM); `<Class>Id` otherwise. The rows
/// must come in step order (the plan's own order). A step with a name or value cmedit cannot
/// carry is not written: it is refused (the first refusal of each step), in order.
pub fn cmedit_lines(
    batches: &[RecordBatch],
    form: Form,
    naming: &HashMap<String, String>,
) -> crate::Result<(arrow_array::StringArray, Vec<Refusal>)> {
    let mut lines = StringBuilder::new();
    let mut refused = Vec::new();
    let mut line = String::new();
    let columns = Columns::all(batches)?;
    let mut checked = Checked::default();
    let mut buffers = Buffers::default();
    let mut attrs = String::new();
    steps(&columns, |rows| {
        match render_step(&columns, rows, form, naming, &mut checked, &mut buffers, (&mut line, &mut attrs)) {
            Ok(()) => lines.append_value(&line),
            Err(r) => refused.push(r),
        }
    })?;
    Ok((lines.finish(), refused))
}

fn render_step<'a>(
    columns: &[Columns<'a>],
    rows: &[(usize, usize)],
    form: Form,
    naming: &HashMap<String, String>,
    checked: &mut Checked<'a>,
    buffers: &mut Buffers<'a>,
    (line, attrs): (&mut String, &mut String),
) -> Result<(), Refusal> {
    line.clear();
    attrs.clear();
    let (op, fdn, class) = head(columns, rows, checked)?;
    attribute_texts(columns, rows, Dialect::Cmedit, checked, buffers, &mut |name, text| {
        if !attrs.is_empty() {
            attrs.push(',');
        }
        attrs.push_str(name);
        attrs.push('=');
        attrs.push_str(text);
    })?;
    let scoped = |line: &mut String| match form {
        Form::Node => match node_and_ldn(fdn) {
            (Some(node), Some(ldn)) => {
                line.push_str(node);
                line.push(' ');
                line.push_str(ldn);
            }
            _ => line.push_str(fdn),
        },
        Form::Fdn => line.push_str(fdn),
    };
    match op {
        "create" => {
            line.push_str("cmedit create ");
            line.push_str(fdn);
            line.push(' ');
            match naming.get(class) {
                Some(name) => {
                    let (b0, r0) = rows[0];
                    names::check_attribute(name)
                        .map_err(|reason| Refusal { row: columns[b0].first_row + r0, reason })?;
                    line.push_str(name);
                }
                None => {
                    line.push_str(class);
                    line.push_str("Id");
                }
            }
            line.push('=');
            // the id as a string value: an id `null` or `fe80::1` is quoted (enm-cli.md §5)
            let id = fdn.rsplit_once('=').map_or("", |(_, id)| id);
            let (b0, r0) = rows[0];
            encode::scalar(Dialect::Cmedit, Some("string"), id, false, line)
                .map_err(|reason| Refusal { row: columns[b0].first_row + r0, reason })?;
            if !attrs.is_empty() {
                line.push(',');
                line.push_str(attrs);
            }
        }
        "delete" => {
            line.push_str("cmedit delete ");
            scoped(line);
        }
        "action" => {
            line.push_str("cmedit action ");
            scoped(line);
            line.push(' ');
            line.push_str(attrs);
        }
        _ => {
            line.push_str("cmedit set ");
            scoped(line);
            line.push(' ');
            line.push_str(attrs);
        }
    }
    Ok(())
}

/// The lines as one Arrow array (for the bindings), and the refusals.
pub fn cmedit_array(
    batches: &[RecordBatch],
    form: Form,
    naming: &HashMap<String, String>,
) -> crate::Result<(ArrayRef, Vec<Refusal>)> {
    let (lines, refused) = cmedit_lines(batches, form, naming)?;
    Ok((Arc::new(lines), refused))
}

/// The plan as the dynamic import format (a block per step) or moshell (a step's lines),
/// rendered in one pass: the text of each step in step order (empty where moshell writes
/// nothing for it, as for an unlock to anything but `UNLOCKED`), and the refusals (the first
/// of each step: a step refused is not written). The texts are what `rtbfast.enm.dialects`
/// documents:
///
/// - dynamic: `create`/`delete`/`set` (any other op), `FDN : "<fdn>"`, for a create the
///   naming attribute (`naming`'s, else `<Class>Id`) with the id quoted, then `a : v` per
///   attribute but for a delete; lines joined by newlines and the block ended by a blank line.
/// - moshell: the MO as the RDNs below `ManagedElement` (else the FDN); as a pattern (`set`,
///   `setm`, `bl`, `deb`, `del`), its `.` escaped and `$` appended; a create is a `crn` block
///   (an empty value written `null`); a set writes its valued attributes with `set` (one) or
///   `setm` (several), then each empty one alone (`set <mo> <attribute>`).
pub fn step_texts(
    batches: &[RecordBatch],
    dialect: Dialect,
    naming: &HashMap<String, String>,
) -> crate::Result<(arrow_array::StringArray, Vec<Refusal>)> {
    if !matches!(dialect, Dialect::Dynamic | Dialect::Moshell) {
        return Err(value_error(format!("step texts of {}: dynamic or moshell", dialect.name())));
    }
    let columns = Columns::all(batches)?;
    let mut texts = StringBuilder::new();
    let mut refused = Vec::new();
    let mut checked = Checked::default();
    let mut buffers = Buffers::default();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let mut out = String::new();
    steps(&columns, |rows| {
        pairs.clear();
        out.clear();
        let written = head(&columns, rows, &mut checked).and_then(|h| {
            attribute_texts(&columns, rows, dialect, &mut checked, &mut buffers, &mut |name, text| {
                pairs.push((name, text.to_string()))
            })
            .map(|()| h)
        });
        match written {
            Ok((op, fdn, class)) => {
                if dialect == Dialect::Dynamic {
                    dynamic_block(op, fdn, class, &pairs, naming, &mut out);
                } else {
                    moshell_step(op, fdn, &pairs, &mut out);
                }
                texts.append_value(&out);
            }
            Err(r) => refused.push(r),
        }
    })?;
    Ok((texts.finish(), refused))
}

fn dynamic_block(
    op: &str,
    fdn: &str,
    class: &str,
    pairs: &[(&str, String)],
    naming: &HashMap<String, String>,
    out: &mut String,
) {
    out.push_str(match op {
        "create" => "create",
        "delete" => "delete",
        _ => "set",
    });
    out.push_str("\nFDN : \"");
    out.push_str(fdn);
    out.push('"');
    if op == "create" {
        out.push('\n');
        match naming.get(class).filter(|n| !n.is_empty()) {
            Some(name) => out.push_str(name),
            None => {
                out.push_str(class);
                out.push_str("Id");
            }
        }
        out.push_str(" : \"");
        out.push_str(fdn.rsplit_once('=').map_or(fdn, |(_, id)| id));
        out.push('"');
    }
    if op != "delete" {
        for (name, text) in pairs {
            out.push('\n');
            out.push_str(name);
            out.push_str(" : ");
            out.push_str(text);
        }
    }
    out.push_str("\n\n");
}

fn moshell_step(op: &str, fdn: &str, pairs: &[(&str, String)], out: &mut String) {
    let target = node_and_ldn(fdn).1.unwrap_or(fdn);
    let pattern = |out: &mut String| {
        out.push_str(&target.replace('.', "\\."));
        out.push('$');
    };
    let line = |out: &mut String, word: &str| {
        out.push_str(word);
        pattern(out);
        out.push('\n');
    };
    match op {
        "lock" => line(out, "bl "),
        "unlock" => {
            if pairs.first().is_some_and(|(_, v)| v == "UNLOCKED") {
                line(out, "deb ");
            }
        }
        "create" => {
            out.push_str("crn ");
            out.push_str(target);
            out.push('\n');
            for (name, text) in pairs {
                out.push_str(name);
                out.push(' ');
                out.push_str(if text.is_empty() { "null" } else { text });
                out.push('\n');
            }
            out.push_str("end\n");
        }
        "delete" => line(out, "del "),
        _ => {
            let valued: Vec<&(&str, String)> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
            if let [(name, text)] = valued.as_slice() {
                out.push_str("set ");
                pattern(out);
                out.push(' ');
                out.push_str(name);
                out.push(' ');
                out.push_str(text);
                out.push('\n');
            } else if !valued.is_empty() {
                out.push_str("setm ");
                pattern(out);
                for (name, text) in valued {
                    out.push(' ');
                    out.push_str(name);
                    out.push(' ');
                    out.push_str(text);
                }
                out.push('\n');
            }
            for (name, _) in pairs.iter().filter(|(_, v)| v.is_empty()) {
                out.push_str("set ");
                pattern(out);
                out.push(' ');
                out.push_str(name);
                out.push('\n');
            }
        }
    }
}

/// Per step and attribute, the whole value as `dialect` writes it (the dynamic import format
/// or moshell): `(step, attribute, text)` in step order and, within a step, in the order of
/// each attribute's first row; and the refusals (the first of each step: its other
/// attributes are not written either).
pub fn attribute_values(
    batches: &[RecordBatch],
    dialect: Dialect,
) -> crate::Result<(ArrayRef, ArrayRef, ArrayRef, Vec<Refusal>)> {
    let columns = Columns::all(batches)?;
    let mut step_out = Int64Builder::new();
    let mut attribute_out = StringBuilder::new();
    let mut text_out = StringBuilder::new();
    let mut refused = Vec::new();
    let mut checked = Checked::default();
    let mut buffers = Buffers::default();
    steps(&columns, |rows| {
        let (b0, r0) = rows[0];
        let step = columns[b0].step.value(r0);
        let mut texts: Vec<(&str, String)> = Vec::new();
        let written = head(&columns, rows, &mut checked).and_then(|_| {
            attribute_texts(&columns, rows, dialect, &mut checked, &mut buffers, &mut |name, text| {
                texts.push((name, text.to_string()))
            })
        });
        match written {
            Ok(()) => {
                for (name, text) in texts {
                    step_out.append_value(step);
                    attribute_out.append_value(name);
                    text_out.append_value(text);
                }
            }
            Err(r) => refused.push(r),
        }
    })?;
    Ok((Arc::new(step_out.finish()), Arc::new(attribute_out.finish()), Arc::new(text_out.finish()), refused))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Int32Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    type Row<'a> = (
        i64,
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<i32>,
        Option<&'a str>,
        Option<&'a str>,
        bool,
    );

    fn plan(rows: &[Row<'_>]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("step", DataType::Int64, false),
            Field::new("op", DataType::Utf8, false),
            Field::new("fdn", DataType::Utf8, false),
            Field::new("class", DataType::Utf8, false),
            Field::new("attribute", DataType::Utf8, true),
            Field::new("member", DataType::Utf8, true),
            Field::new("index", DataType::Int32, true),
            Field::new("value", DataType::Utf8, true),
            Field::new("kind", DataType::Utf8, true),
            Field::new("is_sequence", DataType::Boolean, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.4).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.5).collect::<Vec<_>>())),
                Arc::new(Int32Array::from(rows.iter().map(|r| r.6).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.7).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.8).collect::<Vec<_>>())),
                Arc::new(BooleanArray::from(rows.iter().map(|r| Some(r.9)).collect::<Vec<_>>())),
            ],
        )
        .unwrap()
    }

    const CELL: &str = "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,EUtranCellFDD=C1";

    #[test]
    fn every_value_syntax() {
        let carrier = "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,SectorCarrier=2";
        let rows: Vec<Row<'_>> = vec![
            (0, "create", carrier, "SectorCarrier", None, None, None, None, None, false),
            (
                0,
                "create",
                carrier,
                "SectorCarrier",
                Some("noOfTxAntennas"),
                None,
                Some(0),
                Some("2"),
                Some("integer"),
                false,
            ),
            (
                1,
                "lock",
                CELL,
                "EUtranCellFDD",
                Some("administrativeState"),
                None,
                Some(0),
                Some("LOCKED"),
                Some("enum"),
                false,
            ),
            (
                2,
                "set",
                CELL,
                "EUtranCellFDD",
                Some("userLabel"),
                None,
                Some(0),
                Some("North, 3"),
                Some("string"),
                false,
            ),
            (2, "set", CELL, "EUtranCellFDD", Some("flag"), None, Some(0), Some("TRUE"), Some("boolean"), false),
            (2, "set", CELL, "EUtranCellFDD", Some("plmn"), Some("mcc"), Some(0), Some("240"), Some("integer"), true),
            (2, "set", CELL, "EUtranCellFDD", Some("plmn"), Some("mnc"), Some(0), Some("1"), Some("integer"), true),
            (2, "set", CELL, "EUtranCellFDD", Some("plmn"), Some("mcc"), Some(1), Some("208"), Some("integer"), true),
            (
                2,
                "set",
                CELL,
                "EUtranCellFDD",
                Some("sectorCarrierRef"),
                None,
                Some(0),
                Some(carrier),
                Some("moref"),
                true,
            ),
            (2, "set", CELL, "EUtranCellFDD", Some("emptied"), None, Some(EMPTIED), None, Some("integer"), true),
            (2, "set", CELL, "EUtranCellFDD", Some("cleared"), None, None, None, Some("string"), false),
            (3, "delete", carrier, "SectorCarrier", None, None, None, None, None, false),
        ];
        let naming = HashMap::from([("SectorCarrier".to_string(), "sectorCarrierId".to_string())]);
        let (lines, refused) = cmedit_lines(&[plan(&rows)], Form::Fdn, &naming).unwrap();
        assert!(refused.is_empty());
        let got: Vec<&str> = lines.iter().flatten().collect();
        assert_eq!(
            got,
            vec![
                format!("cmedit create {carrier} sectorCarrierId=2,noOfTxAntennas=2"),
                format!("cmedit set {CELL} administrativeState=LOCKED"),
                format!(
                    "cmedit set {CELL} userLabel=\"North, 3\",flag=true,plmn=[(mcc=240,mnc=1),(mcc=208)],\
                     sectorCarrierRef=[\"{carrier}\"],emptied=[],cleared=null"
                ),
                format!("cmedit delete {carrier}"),
            ]
        );
        let (node, _) = cmedit_lines(&[plan(&rows)], Form::Node, &HashMap::new()).unwrap();
        assert_eq!(node.value(1), "cmedit set N1 ENodeBFunction=1,EUtranCellFDD=C1 administrativeState=LOCKED");
        assert!(node.value(0).starts_with(&format!("cmedit create {carrier} SectorCarrierId=2")));
    }

    #[test]
    fn steps_out_of_order_are_refused() {
        let rows: Vec<Row<'_>> = vec![
            (1, "delete", CELL, "EUtranCellFDD", None, None, None, None, None, false),
            (0, "delete", CELL, "EUtranCellFDD", None, None, None, None, None, false),
        ];
        let err = cmedit_lines(&[plan(&rows)], Form::Fdn, &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("not in step order"));
    }

    #[test]
    fn a_step_over_two_batches_is_one_line() {
        let a: Vec<Row<'_>> =
            vec![(0, "set", CELL, "EUtranCellFDD", Some("a"), None, Some(0), Some("1"), Some("integer"), false)];
        let b: Vec<Row<'_>> =
            vec![(0, "set", CELL, "EUtranCellFDD", Some("b"), None, Some(0), Some("2"), Some("integer"), false)];
        let (lines, _) = cmedit_lines(&[plan(&a), plan(&b)], Form::Fdn, &HashMap::new()).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines.value(0), format!("cmedit set {CELL} a=1,b=2"));
    }

    #[test]
    fn a_step_that_cannot_be_written_is_refused_with_its_row() {
        let rows: Vec<Row<'_>> = vec![
            (0, "set", CELL, "EUtranCellFDD", Some("userLabel"), None, Some(0), Some("ok"), Some("string"), false),
            (
                1,
                "set",
                CELL,
                "EUtranCellFDD",
                Some("userLabel"),
                None,
                Some(0),
                Some("x\"\ncmedit delete SubNetwork=R -ALL"),
                Some("string"),
                false,
            ),
            (2, "delete", "SubNetwork=R,MeContext=N1,X=9 -ALL", "X", None, None, None, None, None, false),
            (3, "set", CELL, "EUtranCellFDD", Some("user Label"), None, Some(0), Some("1"), Some("string"), false),
        ];
        let (lines, refused) = cmedit_lines(&[plan(&rows)], Form::Fdn, &HashMap::new()).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(refused.iter().map(|r| r.row).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(refused[0].reason.contains("cmedit cannot carry a line feed"), "{}", refused[0].reason);
        assert!(refused[1].reason.contains("a space"), "{}", refused[1].reason);
        assert!(refused[2].reason.contains("an attribute name"), "{}", refused[2].reason);
    }

    #[test]
    fn dynamic_and_moshell_values() {
        let rows: Vec<Row<'_>> = vec![
            (0, "set", CELL, "EUtranCellFDD", Some("plmn"), Some("mcc"), Some(0), Some("240"), Some("integer"), true),
            (0, "set", CELL, "EUtranCellFDD", Some("plmn"), Some("mnc"), Some(0), Some("1"), Some("integer"), true),
            (0, "set", CELL, "EUtranCellFDD", Some("plmn"), Some("mcc"), Some(1), Some("208"), Some("integer"), true),
            (0, "set", CELL, "EUtranCellFDD", Some("list"), None, Some(0), Some("1"), Some("integer"), true),
            (0, "set", CELL, "EUtranCellFDD", Some("list"), None, Some(1), Some("2"), Some("integer"), true),
            (0, "set", CELL, "EUtranCellFDD", Some("emptied"), None, Some(EMPTIED), None, Some("integer"), true),
            (0, "set", CELL, "EUtranCellFDD", Some("label"), None, Some(0), Some("a b"), Some("string"), false),
        ];
        let texts = |dialect| {
            let (_, attribute, text, refused) = attribute_values(&[plan(&rows)], dialect).unwrap();
            assert!(refused.is_empty());
            let a = attribute.as_string::<i32>().iter().flatten().map(String::from).collect::<Vec<_>>();
            let t = text.as_string::<i32>().iter().flatten().map(String::from).collect::<Vec<_>>();
            a.into_iter().zip(t).collect::<Vec<_>>()
        };
        let dynamic = texts(Dialect::Dynamic);
        assert_eq!(dynamic[0].1, "[{mcc=240, mnc=1}, {mcc=208}]");
        assert_eq!(dynamic[1].1, "[1, 2]");
        assert_eq!(dynamic[2].1, "[]");
        assert_eq!(dynamic[3].1, "\"a b\"");
        let moshell = texts(Dialect::Moshell);
        assert_eq!(moshell[0].1, "mcc=240,mnc=1;mcc=208");
        assert_eq!(moshell[1].1, "1 2");
        assert_eq!(moshell[2].1, "");
        assert_eq!(moshell[3].1, "\"a b\"");
    }

    #[test]
    fn dynamic_blocks_and_moshell_lines_per_step() {
        const MO: &str = "SubNetwork=S,MeContext=N,ManagedElement=N,ENodeBFunction=1,EUtranCellFDD=C.1";
        let rows: Vec<Row<'_>> = vec![
            (0, "create", MO, "EUtranCellFDD", Some("tac"), None, Some(0), Some("7"), Some("integer"), false),
            (0, "create", MO, "EUtranCellFDD", Some("label"), None, Some(0), Some(""), Some("string"), false),
            (1, "set", MO, "EUtranCellFDD", Some("tac"), None, Some(0), Some("8"), Some("integer"), false),
            (1, "set", MO, "EUtranCellFDD", Some("pci"), None, Some(0), Some("3"), Some("integer"), false),
            (1, "set", MO, "EUtranCellFDD", Some("list"), None, Some(EMPTIED), None, Some("integer"), true),
            (2, "lock", MO, "EUtranCellFDD", Some("administrativeState"), None, Some(0), Some("LOCKED"), None, false),
            (
                3,
                "unlock",
                MO,
                "EUtranCellFDD",
                Some("administrativeState"),
                None,
                Some(0),
                Some("UNLOCKED"),
                None,
                false,
            ),
            (
                4,
                "unlock",
                MO,
                "EUtranCellFDD",
                Some("administrativeState"),
                None,
                Some(0),
                Some("SHUTTINGDOWN"),
                None,
                false,
            ),
            (5, "delete", MO, "EUtranCellFDD", None, None, None, None, None, false),
        ];
        let naming = HashMap::from([("EUtranCellFDD".to_string(), "EUtranCellFDDId".to_string())]);
        let texts = |dialect| {
            let (texts, refused) = step_texts(&[plan(&rows)], dialect, &naming).unwrap();
            assert!(refused.is_empty());
            texts.iter().flatten().map(String::from).collect::<Vec<_>>()
        };
        let dynamic = texts(Dialect::Dynamic);
        assert_eq!(dynamic[0], format!("create\nFDN : \"{MO}\"\nEUtranCellFDDId : \"C.1\"\ntac : 7\nlabel : \"\"\n\n"));
        assert_eq!(dynamic[1], format!("set\nFDN : \"{MO}\"\ntac : 8\npci : 3\nlist : []\n\n"));
        assert_eq!(dynamic[2], format!("set\nFDN : \"{MO}\"\nadministrativeState : LOCKED\n\n"));
        assert_eq!(dynamic[5], format!("delete\nFDN : \"{MO}\"\n\n"));
        let moshell = texts(Dialect::Moshell);
        let pattern = "ENodeBFunction=1,EUtranCellFDD=C\\.1$";
        assert_eq!(moshell[0], "crn ENodeBFunction=1,EUtranCellFDD=C.1\ntac 7\nlabel \"\"\nend\n");
        assert_eq!(moshell[1], format!("setm {pattern} tac 8 pci 3\nset {pattern} list\n"));
        assert_eq!(moshell[2], format!("bl {pattern}\n"));
        assert_eq!(moshell[3], format!("deb {pattern}\n"));
        assert_eq!(moshell[4], "", "an unlock to anything but UNLOCKED writes nothing");
        assert_eq!(moshell[5], format!("del {pattern}\n"));
        assert!(step_texts(&[plan(&rows)], Dialect::Cmedit, &naming).is_err());
    }

    #[test]
    fn items_lists_and_ids_read_back_as_written() {
        // an attribute the catalog does not know (no kind, no sequence flag) holding two items
        let rows: Vec<Row<'_>> = vec![
            (0, "set", CELL, "EUtranCellFDD", Some("rel"), Some("a"), Some(0), Some("1"), None, false),
            (0, "set", CELL, "EUtranCellFDD", Some("rel"), Some("a"), Some(1), Some("2"), None, false),
            (0, "set", CELL, "EUtranCellFDD", Some("list"), None, Some(0), Some("x y"), None, false),
            (0, "set", CELL, "EUtranCellFDD", Some("list"), None, Some(1), Some("z"), None, false),
        ];
        let (lines, refused) = cmedit_lines(&[plan(&rows)], Form::Fdn, &HashMap::new()).unwrap();
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(lines.value(0), format!("cmedit set {CELL} rel=[(a=1),(a=2)],list=[\"x y\",z]"));
        let (_, _, text, refused) = attribute_values(&[plan(&rows)], Dialect::Dynamic).unwrap();
        assert!(refused.is_empty());
        assert_eq!(text.as_string::<i32>().value(0), "[{a=1}, {a=2}]");
        // so inside them moshell refuses what its lists read as syntax
        let (_, _, _, refused) = attribute_values(&[plan(&rows)], Dialect::Moshell).unwrap();
        assert_eq!(refused.len(), 1);
        assert!(refused[0].reason.contains("a space"), "{}", refused[0].reason);
        // a second value of an attribute that is not a sequence
        let twice: Vec<Row<'_>> = vec![
            (0, "set", CELL, "EUtranCellFDD", Some("a"), None, Some(0), Some("1"), Some("integer"), false),
            (0, "set", CELL, "EUtranCellFDD", Some("a"), None, Some(0), Some("2"), Some("integer"), false),
        ];
        let (lines, refused) = cmedit_lines(&[plan(&twice)], Form::Fdn, &HashMap::new()).unwrap();
        assert_eq!(lines.len(), 0);
        assert!(refused[0].reason.contains("not a sequence"), "{}", refused[0].reason);
        // a moRef in a struct: moshell would read its LDN as members
        let carrier = "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,SectorCarrier=2";
        let inside: Vec<Row<'_>> = vec![(
            0,
            "set",
            CELL,
            "EUtranCellFDD",
            Some("s"),
            Some("ref"),
            Some(0),
            Some(carrier),
            Some("moref"),
            true,
        )];
        let (_, _, _, refused) = attribute_values(&[plan(&inside)], Dialect::Moshell).unwrap();
        assert!(refused[0].reason.contains("moRef inside a struct"), "{}", refused[0].reason);
        let (_, _, text, refused) = attribute_values(&[plan(&inside)], Dialect::Dynamic).unwrap();
        assert!(refused.is_empty());
        assert_eq!(text.as_string::<i32>().value(0), format!("[{{ref=\"{carrier}\"}}]"));
        // a created MO's id is a string value: `null` would read as unset
        let id = "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,SectorCarrier=null";
        let create: Vec<Row<'_>> = vec![(0, "create", id, "SectorCarrier", None, None, None, None, None, false)];
        let (lines, _) = cmedit_lines(&[plan(&create)], Form::Fdn, &HashMap::new()).unwrap();
        assert_eq!(lines.value(0), format!("cmedit create {id} SectorCarrierId=\"null\""));
    }
}
