//! The rollback's inverse (`rtbfast.enm.rollback`): a Plan's steps undone in reverse order,
//! from the network's current values.
//!
//! - a set (lock and unlock included) goes back to the value the attribute held before it: the
//!   network's rows as they are, or what an earlier step of the plan wrote; an attribute the
//!   network does not hold is listed as unknown (an `administrativeState` of unknown origin
//!   goes back to the last state the plan gives it);
//! - a create is undone by a delete; a delete by a create carrying every attribute the MO had
//!   but the read-only ones, and sets restoring the MOs the node creates under it;
//! - a lockable MO recreated is created LOCKED and unlocked back as the last steps;
//! - the steps in reverse order, the structural row of a step first.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::{FxHashMap, FxHashSet};

use super::planner::{PlanBuilder, PlanRow};
use super::view::{bad, int32, int64, opt_i32, Names, NetworkView, PlanningCatalog, Text, ADMIN, NONE};

/// No name.
const NO_ID: u32 = u32::MAX;
use crate::error::Result;

const SOURCE: &str = "rtbfast: rollback";

/// The columns of a Plan.
struct PlanColumns {
    step: Int64Array,
    phase: Text,
    phase_order: Int32Array,
    op: Text,
    fdn: Text,
    class: Text,
    attribute: Text,
    member: Text,
    index: Int32Array,
    value: Text,
    source: Text,
    n: usize,
}

impl PlanColumns {
    fn of(plan: &RecordBatch) -> Result<PlanColumns> {
        let text = |name: &str, optional: bool| Text::column(plan, "plan", name, optional);
        Ok(PlanColumns {
            step: int64(plan, "plan", "step")?,
            phase: text("phase", false)?,
            phase_order: int32(plan, "plan", "phase_order", false)?,
            op: text("op", false)?,
            fdn: text("fdn", false)?,
            class: text("class", false)?,
            attribute: text("attribute", true)?,
            member: text("member", true)?,
            index: int32(plan, "plan", "index", true)?,
            value: text("value", true)?,
            source: text("source", true)?,
            n: plan.num_rows(),
        })
    }
}

/// One row of the rollback, with the place its step takes (`order`).
#[derive(Clone)]
struct Row<'a> {
    step: i64,
    phase: &'a str,
    phase_order: i32,
    op: &'a str,
    fdn: &'a str,
    class: &'a str,
    attribute: Option<&'a str>,
    member: Option<&'a str>,
    index: Option<i32>,
    value: Option<&'a str>,
    kind: Option<&'a str>,
    is_sequence: Option<bool>,
    order: f64,
}

fn inverse(op: &str) -> &'static str {
    match op {
        "lock" => "unlock",
        "unlock" => "lock",
        _ => "set",
    }
}

/// The rollback of a plan: its steps, and the attributes it cannot restore (`fdn`, `class`,
/// `attribute`, `step`, `source`: the network holds no value for them).
#[derive(Debug)]
pub struct Rollback {
    pub steps: RecordBatch,
    pub unknown: RecordBatch,
}

type Item<'a> = (Option<&'a str>, Option<i32>, Option<&'a str>);

/// The rollback of `plan` (its rows in step order, `PLAN_SCHEMA`'s columns) on `net`, the
/// network the plan was made from.
pub fn rollback<'a>(plan: &'a RecordBatch, net: &'a NetworkView, cat: &'a PlanningCatalog) -> Result<Rollback> {
    let p = PlanColumns::of(plan)?;
    let p = &p;
    let mut unknown: Vec<(&str, &str, &str, i64, Option<&str>)> = Vec::new();
    if p.n == 0 {
        return finish(&[], &[], unknown);
    }
    let last = (0..p.n).map(|i| p.step.value(i)).max().unwrap_or(0);
    // each step's head: its first row
    let mut first_of: FxHashMap<i64, usize> = FxHashMap::default();
    for i in 0..p.n {
        first_of.entry(p.step.value(i)).or_insert(i);
    }
    let mut heads: Vec<(i64, usize)> = first_of.into_iter().collect();
    heads.sort_unstable();

    // the names of the plan's rows numbered (the FDN of a row of the same MO as the one before
    // it not even hashed)
    let mut fdns = Names::with_capacity(p.n / 4);
    let fdn_id: Vec<u32> = (0..p.n).map(|i| fdns.id(p.fdn.str(i))).collect();
    let mo_of: Vec<u32> = fdns.texts.iter().map(|f| net.row_of(f).map_or(NONE, |r| r as u32)).collect();
    let mut classes = Names::new();
    let class_id: Vec<u32> = (0..p.n).map(|i| classes.id(p.class.str(i))).collect();
    // kinds looked up once per (class, attribute, member) (a text of a dictionary is at one
    // place: found by where it is)
    let at = |t: &str| (t.as_ptr() as usize, t.len());
    type Place = (usize, usize);
    type Kind<'k> = (Option<&'k str>, Option<bool>);
    let mut kind_at: FxHashMap<(u32, Place, Place), Kind<'_>> = FxHashMap::default();
    let mut kind_of = |class: u32, attribute: &str, member: Option<&str>| {
        *kind_at
            .entry((class, at(attribute), member.map_or((0, 0), at)))
            .or_insert_with(|| cat.kind(classes.text(class), attribute, member).unwrap_or((None, None)))
    };
    let mut parts: Vec<Row<'_>> = Vec::with_capacity(p.n + heads.len());
    // sets: the values before (the sets of MOs the plan creates are undone by their delete)
    let writes: Vec<usize> = (0..p.n)
        .filter(|&i| {
            matches!(p.op.get(i), Some("set" | "lock" | "unlock"))
                && p.attribute.get(i).is_some()
                && mo_of[fdn_id[i] as usize] != NONE
        })
        .collect();
    if !writes.is_empty() {
        let mut attributes = Names::new();
        let mut attr_id = vec![NO_ID; p.n];
        for &i in &writes {
            attr_id[i] = attributes.id(p.attribute.str(i));
        }
        // the rows written, MO by MO (each MO's in the plan's order), the MOs in the order of
        // their first row
        let nf = fdns.len();
        let mut start = vec![0u32; nf + 1];
        for &i in &writes {
            start[fdn_id[i] as usize + 1] += 1;
        }
        let mut firsts: Vec<u32> = Vec::new();
        for f in 0..nf {
            if start[f + 1] > 0 {
                firsts.push(f as u32);
            }
            start[f + 1] += start[f];
        }
        let mut fill = start.clone();
        let mut by_mo = vec![0u32; writes.len()];
        for &i in &writes {
            let f = fdn_id[i] as usize;
            by_mo[fill[f] as usize] = i as u32;
            fill[f] += 1;
        }
        // per MO: each (step, class, attribute) written, with its first row; an attribute
        // written by one such write has the network's value before it, one written by several
        // is followed write by write
        let mut groups: FxHashMap<(i64, u32, u32), usize> = FxHashMap::default();
        let mut mo_groups: Vec<usize> = Vec::new();
        let mut per_attribute: FxHashMap<u32, (usize, usize)> = FxHashMap::default(); // count, group
        let mut multi: FxHashSet<(u32, u32)> = FxHashSet::default();
        let mut state: FxHashMap<(u32, u32), Vec<Item<'_>>> = FxHashMap::default();
        let mut attribute_at: FxHashMap<(usize, usize), u32> = FxHashMap::default();
        let mut before: Vec<(u32, usize)> = Vec::new(); // (value row, plan row)
        let mut held: Vec<bool> = Vec::new();
        for &f in &firsts {
            groups.clear();
            mo_groups.clear();
            per_attribute.clear();
            for &i in &by_mo[start[f as usize] as usize..start[f as usize + 1] as usize] {
                let i = i as usize;
                let next = mo_groups.len();
                if *groups.entry((p.step.value(i), class_id[i], attr_id[i])).or_insert(next) == next {
                    mo_groups.push(i);
                    per_attribute.entry(attr_id[i]).or_insert((0, next)).0 += 1;
                }
            }
            held.clear();
            held.resize(mo_groups.len(), false);
            for &g in net.values_of(mo_of[f as usize] as usize) {
                let v = net.value(g);
                let a = *attribute_at
                    .entry(at(v.attribute))
                    .or_insert_with(|| attributes.at.get(v.attribute).copied().unwrap_or(NO_ID));
                match per_attribute.get(&a) {
                    Some(&(1, k)) => {
                        held[k] = true;
                        before.push((g, mo_groups[k]));
                    }
                    Some(_) => state.entry((f, a)).or_default().push((v.member, v.index, v.value)),
                    None => {}
                }
            }
            for (&a, &(count, k)) in &per_attribute {
                if count > 1 {
                    multi.insert((f, a));
                } else if !held[k] {
                    // an attribute the export does not carry: its value before is not known
                    let i = mo_groups[k];
                    unknown.push((p.fdn.str(i), p.class.str(i), p.attribute.str(i), p.step.value(i), p.source.get(i)));
                }
            }
        }
        // single writers: the network's rows, in its order
        before.sort_unstable_by_key(|&(g, _)| g);
        parts.reserve(before.len());
        for (g, i) in before {
            let v = net.value(g);
            let (kind, is_sequence) = kind_of(class_id[i], v.attribute, v.member);
            parts.push(Row {
                step: p.step.value(i),
                phase: p.phase.str(i),
                phase_order: p.phase_order.value(i),
                op: inverse(p.op.str(i)),
                fdn: p.fdn.str(i),
                class: p.class.str(i),
                attribute: Some(v.attribute),
                member: v.member,
                index: v.index,
                value: v.value,
                kind,
                is_sequence,
                order: 0.0,
            });
        }
        if !multi.is_empty() {
            let from = parts.len();
            followed(p, &writes, &fdn_id, &attr_id, &multi, state, &mut parts, &mut unknown);
            for r in &mut parts[from..] {
                let (kind, is_sequence) =
                    cat.kind(r.class, r.attribute.unwrap_or(""), r.member).unwrap_or((None, None));
                r.kind = kind;
                r.is_sequence = is_sequence;
            }
        }
    }
    unknown.sort_by(|a, b| a.3.cmp(&b.3).then(a.2.cmp(b.2)));

    // creates and deletes
    let head = |step: i64, i: usize, op: &'static str| Row {
        step,
        phase: p.phase.str(i),
        phase_order: p.phase_order.value(i),
        op,
        fdn: p.fdn.str(i),
        class: p.class.str(i),
        attribute: None,
        member: None,
        index: None,
        value: None,
        kind: None,
        is_sequence: None,
        order: 0.0,
    };
    let deleted: Vec<(i64, usize)> = heads.iter().copied().filter(|&(_, i)| p.op.get(i) == Some("delete")).collect();
    for &(step, i) in &heads {
        if p.op.get(i) == Some("create") {
            parts.push(head(step, i, "delete"));
        }
    }
    for &(step, i) in &deleted {
        parts.push(head(step, i, "create"));
    }
    if !deleted.is_empty() {
        let mut by_fdn: FxHashMap<&str, Vec<(i64, usize)>> = FxHashMap::default();
        for &(step, i) in &deleted {
            by_fdn.entry(p.fdn.str(i)).or_default().push((step, i));
        }
        for g in net.values_of_all(deleted.iter().filter_map(|&(_, i)| net.row_of(p.fdn.str(i)))) {
            let v = net.value(g);
            let fdn = net.fdn(net.owner(g) as usize);
            for &(step, i) in by_fdn.get(fdn).map_or(&[][..], Vec::as_slice) {
                let class = p.class.str(i);
                if cat.flags(class, v.attribute).is_some_and(|f| f.read_only) {
                    continue;
                }
                let (kind, is_sequence) = cat.kind(class, v.attribute, v.member).unwrap_or((None, None));
                parts.push(Row {
                    op: "create",
                    attribute: Some(v.attribute),
                    member: v.member,
                    index: v.index,
                    value: v.value,
                    kind,
                    is_sequence,
                    ..head(step, i, "create")
                });
            }
        }
    }
    if parts.is_empty() {
        return finish(&[], &[], unknown);
    }
    // reverse order: the inverse of step s at place last - s
    for r in &mut parts {
        r.order = (last - r.step) as f64;
    }
    if !deleted.is_empty() {
        node_made_restores(p, &deleted, net, cat, last, &mut parts);
        recreated_locked(&mut parts, cat);
    }
    // within a step, the structural row first; the rest in their order
    // (the rest in their order: the place in `parts` breaks ties)
    let mut keys: Vec<(f64, bool, u32)> =
        parts.iter().enumerate().map(|(k, r)| (r.order, r.attribute.is_some(), k as u32)).collect();
    keys.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut step = -1i64;
    let mut previous: Option<f64> = None;
    let mut order = Vec::with_capacity(keys.len());
    for &(at, _, k) in &keys {
        if previous != Some(at) {
            step += 1;
            previous = Some(at);
        }
        parts[k as usize].step = step;
        order.push(k as usize);
    }
    finish(&parts, &order, unknown)
}

/// Attributes written by several steps: the value before each is the previous step's, and before
/// the first the network's. Where the network holds none, the first step's restore is left out
/// (and listed as unknown), but for an administrativeState, which goes back to the last state
/// the plan gives it, so a rollback never leaves an MO locked.
#[allow(clippy::too_many_arguments)]
fn followed<'a>(
    p: &'a PlanColumns,
    writes: &[usize],
    fdn_id: &[u32],
    attr_id: &[u32],
    multi: &FxHashSet<(u32, u32)>,
    mut state: FxHashMap<(u32, u32), Vec<Item<'a>>>,
    out: &mut Vec<Row<'a>>,
    unknown: &mut Vec<(&'a str, &'a str, &'a str, i64, Option<&'a str>)>,
) {
    let mut mine: Vec<usize> = writes.iter().copied().filter(|&i| multi.contains(&(fdn_id[i], attr_id[i]))).collect();
    mine.sort_by_key(|&i| p.step.value(i));
    // (step, fdn␟attribute) → its rows, in the order of the joined texts (as the Python pass)
    let mut groups: FxHashMap<(i64, String), Vec<usize>> = FxHashMap::default();
    let mut keys: Vec<(i64, String)> = Vec::new();
    for &i in &mine {
        let key = (p.step.value(i), format!("{}\x1f{}", p.fdn.str(i), p.attribute.str(i)));
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                keys.push(key);
                Vec::new()
            })
            .push(i);
    }
    keys.sort();
    let values = |rows: &[usize]| -> Vec<Item<'a>> {
        rows.iter()
            .filter(|&&i| p.value.get(i).is_some())
            .map(|&i| (p.member.get(i), opt_i32(&p.index, i), p.value.get(i)))
            .collect()
    };
    let mut last_written: FxHashMap<&str, Vec<Item<'a>>> = FxHashMap::default();
    for key in &keys {
        last_written.insert(key.1.as_str(), values(&groups[key]));
    }
    for key in &keys {
        let rows = &groups[key];
        let h = rows[0];
        let (fdn, attribute) = (p.fdn.str(h), p.attribute.str(h));
        let id = (fdn_id[h], attr_id[h]);
        let old = match state.get(&id) {
            Some(old) => old.clone(),
            None => {
                unknown.push((fdn, p.class.str(h), attribute, key.0, p.source.get(h)));
                if attribute == ADMIN {
                    last_written.get(key.1.as_str()).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                }
            }
        };
        for (member, index, value) in old {
            out.push(Row {
                step: key.0,
                phase: p.phase.str(h),
                phase_order: p.phase_order.value(h),
                op: inverse(p.op.str(h)),
                fdn,
                class: p.class.str(h),
                attribute: Some(attribute),
                member,
                index,
                value,
                kind: None,
                is_sequence: None,
                order: 0.0,
            });
        }
        state.insert(id, values(rows));
    }
}

/// Sets restoring the MOs the node creates under each deleted MO (they went with it and come
/// back with it, with the node's defaults): their configuration as it was, each a step right
/// after the create of the MO they belong to.
fn node_made_restores<'a>(
    p: &'a PlanColumns,
    deleted: &[(i64, usize)],
    net: &'a NetworkView,
    cat: &'a PlanningCatalog,
    last: i64,
    out: &mut Vec<Row<'a>>,
) {
    let explicit: FxHashSet<&str> = (0..p.n).filter(|&i| p.op.get(i) == Some("delete")).map(|i| p.fdn.str(i)).collect();
    let mut targets: Vec<(f64, usize)> = Vec::new();
    for &(step, i) in deleted {
        let Some(row) = net.row_of(p.fdn.str(i)) else { continue };
        let mut pending: VecDeque<u32> = net.children(row).iter().copied().collect();
        let mut k = 0u32;
        while let Some(child) = pending.pop_front() {
            let child = child as usize;
            if !cat.is_system_created(net.class(child)) || explicit.contains(net.fdn(child)) {
                continue;
            }
            k += 1;
            targets.push(((last - step) as f64 + 0.5 + f64::from(k) * 1e-6, child));
            pending.extend(net.children(child).iter().copied());
        }
    }
    if targets.is_empty() {
        return;
    }
    let mut order_of: FxHashMap<&str, Vec<f64>> = FxHashMap::default();
    for &(order, row) in &targets {
        order_of.entry(net.fdn(row)).or_default().push(order);
    }
    let (_, first) = deleted[0];
    let (phase, phase_order) = (p.phase.str(first), p.phase_order.value(first));
    for g in net.values_of_all(targets.iter().map(|&(_, row)| row)) {
        let v = net.value(g);
        let row = net.owner(g) as usize;
        let (fdn, class) = (net.fdn(row), net.class(row));
        if cat.flags(class, v.attribute).is_some_and(|f| f.read_only) {
            continue;
        }
        let (kind, is_sequence) = cat.kind(class, v.attribute, v.member).unwrap_or((None, None));
        for &order in order_of.get(fdn).map_or(&[][..], Vec::as_slice) {
            out.push(Row {
                step: 0,
                phase,
                phase_order,
                op: "set",
                fdn,
                class,
                attribute: Some(v.attribute),
                member: v.member,
                index: v.index,
                value: v.value,
                kind,
                is_sequence,
                order,
            });
        }
    }
}

/// A lockable MO the rollback recreates (a cell) is created LOCKED, and unlocked back to its
/// state as the very last steps; the plan's own lock of it before its delete is then not
/// undone on its own.
fn recreated_locked<'a>(rows: &mut Vec<Row<'a>>, cat: &PlanningCatalog) {
    let creating =
        |r: &Row<'_>| r.op == "create" && r.attribute == Some(ADMIN) && cat.is_admin(r.class) && r.value.is_some();
    let opened: Vec<Row<'a>> = rows.iter().filter(|r| creating(r) && r.value != Some("LOCKED")).cloned().collect();
    if opened.is_empty() {
        return;
    }
    let fdns: FxHashSet<&str> = opened.iter().map(|r| r.fdn).collect();
    for r in rows.iter_mut() {
        if creating(r) && fdns.contains(r.fdn) {
            r.value = Some("LOCKED");
        }
    }
    rows.retain(|r| !(fdns.contains(r.fdn) && r.attribute == Some(ADMIN) && matches!(r.op, "lock" | "unlock")));
    let end = rows.iter().map(|r| r.order).fold(f64::NEG_INFINITY, f64::max) + 1.0;
    for (k, o) in opened.into_iter().enumerate() {
        rows.push(Row { step: 0, op: "unlock", member: None, order: end + k as f64, ..o });
    }
}

/// The rollback's rows (`rows[order[k]]`), and the unknown.
fn finish(rows: &[Row<'_>], order: &[usize], unknown: Vec<(&str, &str, &str, i64, Option<&str>)>) -> Result<Rollback> {
    // (summed in the rows' own order: the same sums, read in sequence)
    let bytes = |f: fn(&Row<'_>) -> usize| rows.iter().map(f).sum::<usize>();
    let mut b = PlanBuilder::exactly(
        rows.len(),
        [
            bytes(|r| r.phase.len()),
            bytes(|r| r.op.len()),
            bytes(|r| r.fdn.len()),
            bytes(|r| r.class.len()),
            bytes(|r| r.attribute.map_or(0, str::len)),
            bytes(|r| r.member.map_or(0, str::len)),
            bytes(|r| r.value.map_or(0, str::len)),
            bytes(|r| r.kind.map_or(0, str::len)),
            rows.len() * SOURCE.len(),
        ],
    );
    for r in order.iter().map(|&k| &rows[k]) {
        b.push(PlanRow {
            step: Some(r.step),
            phase: r.phase,
            phase_order: r.phase_order,
            op: r.op,
            fdn: r.fdn,
            class: r.class,
            attribute: r.attribute,
            member: r.member,
            index: r.index,
            value: r.value,
            kind: r.kind,
            is_sequence: r.is_sequence,
            source: Some(SOURCE),
        });
    }
    let steps = b.finish()?;
    let (mut fdn, mut class, mut attribute) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut step, mut source) = (Int64Builder::new(), StringBuilder::new());
    for (f, c, a, s, src) in unknown {
        fdn.append_value(f);
        class.append_value(c);
        attribute.append_value(a);
        step.append_value(s);
        source.append_option(src);
    }
    let schema = Schema::new(vec![
        Field::new("fdn", DataType::Utf8, true),
        Field::new("class", DataType::Utf8, true),
        Field::new("attribute", DataType::Utf8, true),
        Field::new("step", DataType::Int64, true),
        Field::new("source", DataType::Utf8, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(fdn.finish()),
        Arc::new(class.finish()),
        Arc::new(attribute.finish()),
        Arc::new(step.finish()),
        Arc::new(source.finish()),
    ];
    let unknown = RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| bad("rollback", e.to_string()))?;
    Ok(Rollback { steps, unknown })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enm::planner::tests::{
        changes, owned, plan, rows_of, set, steps, the_catalog, the_network, Change, Step,
    };
    use crate::enm::planner::{last_writes, Planned};
    use crate::enm::view::fixtures::catalog;
    use crate::enm::view::fixtures::network;

    /// The plan of `rows` and its rollback's rows and unknown attributes (fdn, attribute).
    fn rolled_back(
        rows: &[Change<'_>],
        net: &NetworkView,
        cat: &PlanningCatalog,
    ) -> (Vec<Step>, Vec<(String, String)>) {
        let Planned::Steps(s) = plan(rows, net, cat) else { panic!("a cycle") };
        let all = changes(rows);
        let mask: arrow_array::BooleanArray = rows.iter().map(|r| Some(r.3.is_some())).collect();
        let writes = last_writes(&arrow_select::filter::filter_record_batch(&all, &mask).unwrap(), cat).unwrap();
        let planned = s.layout.plan(&writes).unwrap();
        let back = rollback(&planned, net, cat).unwrap();
        let f = Text::column(&back.unknown, "u", "fdn", false).unwrap();
        let a = Text::column(&back.unknown, "u", "attribute", false).unwrap();
        let unknown = (0..back.unknown.num_rows()).map(|i| (f.str(i).to_owned(), a.str(i).to_owned())).collect();
        (rows_of(&back.steps), unknown)
    }

    const CELL: &str = "N=1,Cell=1";
    const CHILD: &str = "N=1,Cell=1,Child=1";

    #[test]
    fn sets_go_back_to_the_networks_values_in_reverse_order() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [set(CELL, "x", "6", "a"), set("N=1,Carrier=1", "n", "3", "b")];
        let (back, unknown) = rolled_back(&rows, &net, &cat);
        assert!(unknown.is_empty());
        assert_eq!(
            back,
            owned(&[
                (0, "set", "N=1,Carrier=1", Some("n"), Some(0), Some("2")),
                (1, "set", CELL, Some("x"), Some(0), Some("5")),
            ])
        );
    }

    #[test]
    fn a_lock_window_is_undone_lock_restore_unlock() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [set(CELL, "earfcn", "200", "a")];
        let (forward, _, _) = steps(plan(&rows, &net, &cat), &rows, &cat);
        assert_eq!(forward.len(), 3);
        let (back, unknown) = rolled_back(&rows, &net, &cat);
        assert!(unknown.is_empty());
        assert_eq!(
            back,
            owned(&[
                (0, "lock", CELL, Some(ADMIN), Some(0), Some("LOCKED")),
                (1, "set", CELL, Some("earfcn"), Some(0), Some("100")),
                (2, "unlock", CELL, Some(ADMIN), Some(0), Some("UNLOCKED")),
            ])
        );
    }

    #[test]
    fn an_attribute_the_network_does_not_hold_is_unknown() {
        let (net, cat) = (the_network(), the_catalog(false));
        let (back, unknown) = rolled_back(&[set(CELL, "label", "l", "a")], &net, &cat);
        assert!(back.is_empty());
        assert_eq!(unknown, [(CELL.to_owned(), "label".to_owned())]);
    }

    #[test]
    fn an_attribute_written_in_two_phases_goes_back_step_by_step() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [set(CELL, "x", "6", "a"), (1, "set", CELL, Some("x"), None, Some(0), Some("7"), "b")];
        let (back, _) = rolled_back(&rows, &net, &cat);
        assert_eq!(
            back,
            owned(&[(0, "set", CELL, Some("x"), Some(0), Some("6")), (1, "set", CELL, Some("x"), Some(0), Some("5"))])
        );
    }

    #[test]
    fn a_create_is_undone_by_a_delete() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [(0, "create", "N=1,Carrier=9", None, None, None, None, "a"), set("N=1,Carrier=9", "n", "1", "a")];
        let (back, unknown) = rolled_back(&rows, &net, &cat);
        assert!(unknown.is_empty());
        assert_eq!(back, owned(&[(0, "delete", "N=1,Carrier=9", None, None, None)]));
    }

    #[test]
    fn a_delete_is_undone_by_a_create_with_what_the_mo_had_locked_then_unlocked() {
        let (net, cat) = (the_network(), the_catalog(false));
        let rows = [(0, "delete", CELL, None, None, None, None, "a")];
        let (back, _) = rolled_back(&rows, &net, &cat);
        // the cell comes back LOCKED with its values (not the read-only id), its child the
        // node made gets its values back, the cell is unlocked last; the plan's own lock of it
        // is not undone on its own
        assert_eq!(
            back,
            owned(&[
                (0, "create", CELL, None, None, None),
                (0, "create", CELL, Some(ADMIN), Some(0), Some("LOCKED")),
                (0, "create", CELL, Some("x"), Some(0), Some("5")),
                (0, "create", CELL, Some("s"), Some(0), Some("a")),
                (0, "create", CELL, Some("s"), Some(1), Some("b")),
                (0, "create", CELL, Some("earfcn"), Some(0), Some("100")),
                (0, "create", CELL, Some("carrierRef"), Some(0), Some("N=1,Carrier=1")),
                (1, "set", CHILD, Some("y"), Some(0), Some("3")),
                (2, "unlock", CELL, Some(ADMIN), Some(0), Some("UNLOCKED")),
            ])
        );
    }

    #[test]
    fn an_empty_plan_has_an_empty_rollback() {
        let (net, cat) = (network(&[("N=1", "N")], &[]), catalog(&[], &[], &[], &[]));
        let plan = changes(&[]);
        let err = rollback(&plan, &net, &cat);
        // a ChangeSet is not a Plan: it has no step column
        assert!(err.is_err());
        let (back, unknown) = rolled_back(&[], &net, &cat);
        assert!(back.is_empty() && unknown.is_empty());
    }
}
