//! User rules: CEL expressions (`when`, `assert`) over an MO's attributes, compiled with the
//! `cel` crate and evaluated per MO on all cores. An MO's values are typed by its class's
//! constraints: integers as `int`, decimals and floats as `double`, booleans as `bool`,
//! enums (by member name), strings and moRefs as `string`, structs as maps, sequences as
//! lists. Each attribute is a variable of its own name; `self` maps every attribute, `fdn` and
//! `id` name the MO (unless it has attributes of those names), `parent` is its parent's
//! attributes (with `fdn`, `id`, `class`),
//! `children` maps a child class to the list of its children's attributes, and `node` is the
//! MO's `MeContext` / `ManagedElement` (its `id`, `fdn` and attributes).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, RecordBatch};
use cel::objects::{Key, Map};
use cel::{Context, Program, Value};
use rayon::prelude::*;

use super::evaluate::{bad_column, interned, members, text, Interned};
use super::limits;
use super::value;
use super::{pool, Constraint, FastMap, Kind, RuleSet, ViolationColumns, ViolationRow};
use crate::error::Result;
use crate::tables::Table;

/// One compiled user rule.
pub struct UserRule {
    pub id: String,
    pub class: String,
    pub when: Option<Program>,
    pub assert: Program,
    pub assert_text: String,
    pub severity: String,
    pub message: String,
    /// Variables the rule reads (from both expressions).
    pub variables: Vec<String>,
}

/// A rule that could not be compiled: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The rule's row in the rules table.
    pub row: usize,
    pub id: String,
    /// `when` or `assert`, or the column that is missing a value.
    pub field: String,
    /// Line and column inside the expression (1-based; 0 when the problem is not in it).
    pub line: u64,
    pub column: u64,
    pub message: String,
}

fn text_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a arrow_array::StringArray> {
    text(batch, "rules", name)
}

/// Compile the rows of a rules table (columns `id`, `class`, `when`, `assert`, `severity`,
/// `message`) on up to `threads` threads. A rule that does not compile is left out and
/// reported; the others are kept, in table order.
pub fn compile(batches: &[RecordBatch], threads: usize) -> Result<(Vec<UserRule>, Vec<RuleProblem>)> {
    struct Row {
        row: usize,
        id: String,
        class: String,
        when: Option<String>,
        assert: String,
        severity: String,
        message: String,
    }
    let mut rows = Vec::new();
    let mut base = 0;
    for b in batches {
        let (id, class, when, assert) =
            (text_column(b, "id")?, text_column(b, "class")?, text_column(b, "when")?, text_column(b, "assert")?);
        let (severity, message) = (text_column(b, "severity")?, text_column(b, "message")?);
        let get = |a: &arrow_array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
        for i in 0..b.num_rows() {
            rows.push(Row {
                row: base + i,
                id: get(id, i).unwrap_or_default(),
                class: get(class, i).unwrap_or_default(),
                when: get(when, i).filter(|w| !w.trim().is_empty()),
                assert: get(assert, i).unwrap_or_default(),
                severity: get(severity, i).unwrap_or_else(|| "error".into()),
                message: get(message, i).unwrap_or_default(),
            });
        }
        base += b.num_rows();
    }
    let one = |r: &Row| -> std::result::Result<UserRule, RuleProblem> {
        let problem = |field: &str, line: u64, column: u64, message: String| RuleProblem {
            row: r.row,
            id: r.id.clone(),
            field: field.into(),
            line,
            column,
            message,
        };
        if r.assert.trim().is_empty() {
            return Err(problem("assert", 0, 0, "the rule has no assert expression".into()));
        }
        let parse = |field: &str, source: &str| {
            limits::check_text(source).map_err(|m| problem(field, 0, 0, m))?;
            let program = Program::compile(source).map_err(|e| match e.errors.first() {
                Some(first) => problem(field, first.pos.0.max(0) as u64, first.pos.1.max(0) as u64, first.msg.clone()),
                None => problem(field, 0, 0, e.to_string()),
            })?;
            limits::check_program(&program).map_err(|m| problem(field, 0, 0, m))?;
            Ok(program)
        };
        let assert = parse("assert", &r.assert)?;
        let when = r.when.as_deref().map(|w| parse("when", w)).transpose()?;
        let mut variables: Vec<String> = assert.references().variables().iter().map(|v| v.to_string()).collect();
        if let Some(w) = &when {
            variables.extend(w.references().variables().iter().map(|v| v.to_string()));
        }
        variables.sort();
        variables.dedup();
        Ok(UserRule {
            id: r.id.clone(),
            class: r.class.clone(),
            when,
            assert,
            assert_text: r.assert.clone(),
            severity: r.severity.clone(),
            message: r.message.clone(),
            variables,
        })
    };
    let pool = pool(threads)?;
    let compiled: Vec<std::result::Result<UserRule, RuleProblem>> = pool.install(|| rows.par_iter().map(one).collect());
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for c in compiled {
        match c {
            Ok(r) => rules.push(r),
            Err(p) => problems.push(p),
        }
    }
    Ok((rules, problems))
}

/// One MO: its class, parent, and the value rows that belong to it.
struct Mo<'a> {
    fdn: &'a str,
    id: &'a str,
    class: &'a str,
    parent: Option<usize>,
    children: Vec<usize>,
    /// Runs of value rows: (batch, start, end).
    rows: Vec<(usize, usize, usize)>,
}

/// The long-form values of every MO, indexed (text columns as ids into their distinct values).
struct Index<'a> {
    mos: Vec<Mo<'a>>,
    attribute: Vec<Interned<'a>>,
    member: Vec<Interned<'a>>,
    /// The item of each value of a sequence (absent: every value is item 0).
    item: Vec<Option<&'a arrow_array::Int32Array>>,
    value: Vec<&'a arrow_array::StringArray>,
}

/// Evaluate `rules` over the MOs in `mos` and their `values`, typed by `constraints`, on up to
/// `threads` threads. Returns the violations (one per MO a rule's assert is false for, or
/// could not be evaluated on) in the columns of the constraint violations.
pub fn evaluate(
    rules: &[UserRule],
    constraints: &RuleSet,
    mos: &[RecordBatch],
    values: &[RecordBatch],
    threads: usize,
) -> Result<(Table, u64)> {
    if rules.is_empty() {
        return ViolationColumns::default().finish().map(|t| (t, 0));
    }
    let mut index =
        Index { mos: Vec::new(), attribute: Vec::new(), member: Vec::new(), item: Vec::new(), value: Vec::new() };
    let mut fdns = Vec::with_capacity(values.len());
    for b in values {
        fdns.push(interned(b, "values", "fdn")?);
        index.attribute.push(interned(b, "values", "attribute")?);
        index.member.push(members(b)?);
        let item = match b.column_by_name("index") {
            Some(c) => {
                Some(c.as_primitive_opt::<Int32Type>().ok_or_else(|| bad_column("values", "index", "is not int32"))?)
            }
            None => None,
        };
        index.item.push(item);
        index.value.push(text(b, "values", "value")?);
    }
    let mut by_fdn: FastMap<&str, usize> = FastMap::default();
    let mut parents: Vec<Option<&str>> = Vec::new();
    let mut by_class: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        by_class.entry(r.class.as_str()).or_default().push(i);
    }
    // without parent, children or node, only the MOs of the rules' classes are needed
    let tree = rules.iter().any(|r| r.variables.iter().any(|v| matches!(v.as_str(), "parent" | "children" | "node")));
    for b in mos {
        let fdn = text_column(b, "fdn")?;
        let class = text_column(b, "class")?;
        let id = b.column_by_name("id").and_then(|c| c.as_string_opt::<i32>());
        let parent = b.column_by_name("parent_fdn").and_then(|c| c.as_string_opt::<i32>());
        for i in 0..b.num_rows() {
            if !tree && !by_class.contains_key(class.value(i)) {
                continue;
            }
            let f = fdn.value(i);
            let last = f.rsplit(',').next().and_then(|r| r.split_once('=')).map(|(_, v)| v).unwrap_or("");
            by_fdn.insert(f, index.mos.len());
            index.mos.push(Mo {
                fdn: f,
                id: id.filter(|c| !c.is_null(i)).map(|c| c.value(i)).unwrap_or(last),
                class: class.value(i),
                parent: None,
                children: Vec::new(),
                rows: Vec::new(),
            });
            parents.push(parent.filter(|p| !p.is_null(i)).map(|p| p.value(i)));
        }
    }
    for (i, p) in parents.iter().enumerate() {
        if let Some(&pi) = p.and_then(|p| by_fdn.get(p)) {
            index.mos[i].parent = Some(pi);
            index.mos[pi].children.push(i);
        }
    }
    for (bi, fdn) in fdns.iter().enumerate() {
        // the MO of each distinct FDN, looked up once
        let mo_of: Vec<Option<usize>> = fdn.distinct.iter().map(|f| f.and_then(|f| by_fdn.get(f).copied())).collect();
        let n = fdn.ids.len();
        let mut start = 0;
        while start < n {
            let id = fdn.ids[start];
            let mut end = start + 1;
            while end < n && fdn.ids[end] == id {
                end += 1;
            }
            if let Some(mo) = mo_of[id as usize] {
                index.mos[mo].rows.push((bi, start, end));
            }
            start = end;
        }
    }
    let targets: Vec<usize> = (0..index.mos.len()).filter(|&i| by_class.contains_key(index.mos[i].class)).collect();
    let checked = targets.iter().map(|&i| by_class[index.mos[i].class].len() as u64).sum();
    let pool = pool(threads)?;
    let found: Vec<Vec<Found>> = pool.install(|| {
        targets
            .par_chunks(256)
            .map(|chunk| {
                let root = Context::default();
                let mut out = Vec::new();
                for &mo in chunk {
                    run(rules, &by_class[index.mos[mo].class], mo, &index, constraints, &root, &mut out);
                }
                out
            })
            .collect()
    });
    let table = build(rules, &index, found.into_iter().flatten())?;
    Ok((table, checked))
}

struct Found {
    mo: usize,
    rule: usize,
    severity: String,
    message: String,
}

/// The attributes of one MO as CEL values, typed by its class's constraints.
fn attributes(index: &Index<'_>, mo: usize, constraints: &RuleSet) -> HashMap<String, Value> {
    let m = &index.mos[mo];
    let mut scalars: HashMap<String, Vec<Row<'_>>> = HashMap::new();
    for &(bi, start, end) in &m.rows {
        for r in start..end {
            let Some(attr) = index.attribute[bi].distinct[index.attribute[bi].ids[r] as usize] else { continue };
            let mem = index.member[bi].distinct[index.member[bi].ids[r] as usize];
            let item = index.item[bi].filter(|c| !c.is_null(r)).map(|c| c.value(r)).unwrap_or(0);
            scalars.entry(attr.to_string()).or_default().push((mem, item, index.value[bi].value(r)));
        }
    }
    let mut out = HashMap::new();
    for (attr, rows) in scalars {
        let c = constraints.lookup(m.class, &attr, None).map(|i| &constraints.constraints[i]);
        let v = typed_attribute(m.class, &attr, c, &rows, constraints);
        if let Some(v) = v {
            out.insert(attr, v);
        }
    }
    out
}

fn typed(c: Option<&Constraint>, text: &str) -> Value {
    let kind = c.map(|c| c.kind).unwrap_or(Kind::Unknown);
    match kind {
        Kind::Integer => match value::parse_integer(text) {
            Ok(Some(v)) => i64::try_from(v).map(Value::Int).unwrap_or_else(|_| Value::String(Arc::new(text.into()))),
            _ => Value::String(Arc::new(text.into())),
        },
        Kind::Float | Kind::Decimal => match value::parse_float(text) {
            Some(f) => Value::Float(f),
            None => Value::String(Arc::new(text.into())),
        },
        Kind::Boolean => match value::parse_bool(text) {
            Some(b) => Value::Bool(b),
            None => Value::String(Arc::new(text.into())),
        },
        _ => Value::String(Arc::new(text.into())),
    }
}

/// One value of an attribute: its struct member, its item (in a sequence) and its text.
type Row<'a> = (Option<&'a str>, i32, &'a str);

fn typed_attribute(
    class: &str,
    attr: &str,
    c: Option<&Constraint>,
    rows: &[Row<'_>],
    constraints: &RuleSet,
) -> Option<Value> {
    let is_struct = c.is_some_and(|c| c.kind == Kind::Struct) || rows.iter().any(|r| r.0.is_some());
    let sequence =
        c.is_some_and(|c| c.is_sequence) || rows.iter().any(|r| r.1 != rows[0].1) || rows.len() > 1 && !is_struct;
    if is_struct {
        // a struct is a map by member name; a sequence of structs a list of them, item by item
        let item = |rows: &[&Row<'_>]| -> Value {
            let mut map: HashMap<Key, Value> = HashMap::new();
            for (member, _, text) in rows {
                let Some(member) = member else { continue };
                let mc = constraints.lookup(class, attr, Some(member)).map(|i| &constraints.constraints[i]);
                if text.is_empty() && mc.is_some_and(|m| !matches!(m.kind, Kind::String | Kind::Unknown)) {
                    continue;
                }
                map.insert(Key::String(Arc::new(member.to_string())), typed(mc, text));
            }
            Value::Map(Map { map: Arc::new(map) })
        };
        if !sequence {
            return Some(item(&rows.iter().collect::<Vec<_>>()));
        }
        let mut items: std::collections::BTreeMap<i32, Vec<&Row<'_>>> = std::collections::BTreeMap::new();
        for r in rows {
            items.entry(r.1).or_default().push(r);
        }
        return Some(Value::List(Arc::new(items.values().map(|rows| item(rows)).collect())));
    }
    let set =
        |t: &&str| !t.is_empty() || c.is_some_and(|c| matches!(c.kind, Kind::String | Kind::Unknown) && !c.is_sequence);
    if sequence {
        let items: Vec<Value> = rows.iter().map(|r| r.2).filter(|t| !t.is_empty()).map(|t| typed(c, t)).collect();
        return Some(Value::List(Arc::new(items)));
    }
    rows.first().map(|r| r.2).filter(set).map(|t| typed(c, t))
}

fn map_of(attrs: HashMap<String, Value>, extra: &[(&str, &str)]) -> Value {
    let mut map: HashMap<Key, Value> = attrs.into_iter().map(|(k, v)| (Key::String(Arc::new(k)), v)).collect();
    for (k, v) in extra {
        map.insert(Key::String(Arc::new((*k).to_string())), Value::String(Arc::new((*v).to_string())));
    }
    Value::Map(Map { map: Arc::new(map) })
}

fn mo_value(index: &Index<'_>, mo: usize, constraints: &RuleSet) -> Value {
    let m = &index.mos[mo];
    map_of(attributes(index, mo, constraints), &[("fdn", m.fdn), ("id", m.id), ("class", m.class)])
}

/// The node an MO belongs to: its nearest `MeContext`, else its `ManagedElement`.
fn node_of(index: &Index<'_>, mo: usize) -> Option<usize> {
    let mut found = None;
    let mut at = Some(mo);
    while let Some(i) = at {
        match index.mos[i].class {
            "MeContext" => return Some(i),
            "ManagedElement" if found.is_none() => found = Some(i),
            _ => {}
        }
        at = index.mos[i].parent;
    }
    found
}

/// Evaluate the rules `ids` (all of the MO's class) on one MO.
fn run(
    rules: &[UserRule],
    ids: &[usize],
    mo: usize,
    index: &Index<'_>,
    constraints: &RuleSet,
    root: &Context<'_, '_>,
    out: &mut Vec<Found>,
) {
    let m = &index.mos[mo];
    let attrs = attributes(index, mo, constraints);
    let mut ctx = root.new_inner_scope();
    let wants = |v: &str| ids.iter().any(|&r| rules[r].variables.iter().any(|x| x == v));
    // an attribute named like a helper (a class with an attribute `id`) keeps its name
    for (name, value) in [("fdn", m.fdn), ("id", m.id)] {
        if !attrs.contains_key(name) {
            ctx.add_variable_from_value(name, Value::String(Arc::new(value.to_string())));
        }
    }
    for (k, v) in &attrs {
        ctx.add_variable_from_value(k.clone(), v.clone());
    }
    ctx.add_variable_from_value("self", map_of(attrs, &[]));
    if wants("parent") {
        let parent = m.parent.map(|p| mo_value(index, p, constraints)).unwrap_or(Value::Null);
        ctx.add_variable_from_value("parent", parent);
    }
    if wants("children") {
        let mut by_class: HashMap<Key, Vec<Value>> = HashMap::new();
        for &c in &m.children {
            let key = Key::String(Arc::new(index.mos[c].class.to_string()));
            by_class.entry(key).or_default().push(mo_value(index, c, constraints));
        }
        let map: HashMap<Key, Value> = by_class.into_iter().map(|(k, v)| (k, Value::List(Arc::new(v)))).collect();
        ctx.add_variable_from_value("children", Value::Map(Map { map: Arc::new(map) }));
    }
    if wants("node") {
        let node = node_of(index, mo).map(|n| mo_value(index, n, constraints)).unwrap_or(Value::Null);
        ctx.add_variable_from_value("node", node);
    }
    for &r in ids {
        let rule = &rules[r];
        let mut fail =
            |message: String, severity: &str| out.push(Found { mo, rule: r, severity: severity.into(), message });
        if let Some(when) = &rule.when {
            match when.execute(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => continue,
                Ok(other) => {
                    fail(format!("when gives {other:?}, not a bool"), "warning");
                    continue;
                }
                Err(e) => {
                    fail(format!("when could not be evaluated: {e}"), "warning");
                    continue;
                }
            }
        }
        match rule.assert.execute(&ctx) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => fail(rule.message.clone(), &rule.severity),
            Ok(other) => fail(format!("assert gives {other:?}, not a bool"), "warning"),
            Err(e) => fail(format!("assert could not be evaluated: {e}"), "warning"),
        }
    }
}

fn build(rules: &[UserRule], index: &Index<'_>, found: impl Iterator<Item = Found>) -> Result<Table> {
    let mut out = ViolationColumns::default();
    for f in found {
        let m = &index.mos[f.mo];
        out.push(ViolationRow {
            subject: Some(m.fdn),
            class: Some(m.class),
            attribute: None,
            member: None,
            index: None,
            rule: &rules[f.rule].id,
            severity: &f.severity,
            message: &f.message,
            value: None,
            expected: Some(&rules[f.rule].assert_text),
        });
    }
    out.finish()
}
