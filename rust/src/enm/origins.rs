//! Where each planned row comes from (`rtbfast.enm.plan_group`): the ChangeSet row whose value
//! a Plan's row writes.
//!
//! A row of the Plan that writes a value (a `set` or `create` row with an attribute, not the
//! planner's own unlinking of a reference to a deleted MO) carries the value of the last write
//! of its (phase_order, fdn, attribute, member, index) in the ChangeSet. Where the planner
//! writes one such key more than once, the rows are matched counting from the last: the Plan's
//! last row of a key to the ChangeSet's last row of it (by `seq`, then `row`), the one before to
//! the one before, and so on. The planner's own rows (locks, unlocks, deletes, rows without a
//! source) have no origin.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::FxHashMap;

use super::view::{bad, int32, int64, opt_i32, Text};
use crate::error::Result;

/// The source the planner gives the sets that unlink a reference to a deleted MO.
pub const UNLINK: &str = "rtbfast: a reference to a deleted MO (";

type Key<'a> = (i32, &'a str, &'a str, Option<&'a str>, Option<i32>);

/// The origin of each row of `steps` (a Plan's rows: `op`, `phase_order`, `fdn`, `attribute`,
/// `member`, `index`, `source`) in `changes` (a ChangeSet's rows with `seq` and `row`): a table
/// of `seq` and `row`, one row per step row, null for the planner's own rows. An error when a
/// row writing a value matches no ChangeSet row (the planner wrote what it was not asked to).
pub fn origins(steps: &RecordBatch, changes: &RecordBatch) -> Result<RecordBatch> {
    let text =
        |batch: &RecordBatch, table: &str, name: &str, optional: bool| Text::column(batch, table, name, optional);
    let s_op = text(steps, "plan", "op", false)?;
    let s_fdn = text(steps, "plan", "fdn", false)?;
    let s_attribute = text(steps, "plan", "attribute", true)?;
    let s_member = text(steps, "plan", "member", true)?;
    let s_source = text(steps, "plan", "source", true)?;
    let s_phase = int32(steps, "plan", "phase_order", false)?;
    let s_index = int32(steps, "plan", "index", true)?;
    let c_fdn = text(changes, "changes", "fdn", false)?;
    let c_attribute = text(changes, "changes", "attribute", true)?;
    let c_member = text(changes, "changes", "member", true)?;
    let c_phase = int32(changes, "changes", "phase_order", false)?;
    let c_index = int32(changes, "changes", "index", true)?;
    let c_seq = int64(changes, "changes", "seq")?;
    let c_row = int64(changes, "changes", "row")?;

    // the ChangeSet's writes numbered by key; each key's, the last first, at starts[id]..
    let mut ids: FxHashMap<Key<'_>, u32> = FxHashMap::default();
    let mut written: Vec<(u32, i64, i64)> = Vec::with_capacity(changes.num_rows());
    for i in 0..changes.num_rows() {
        let Some(attribute) = c_attribute.get(i) else { continue };
        let key = (c_phase.value(i), c_fdn.str(i), attribute, c_member.get(i), opt_i32(&c_index, i));
        let next = ids.len() as u32;
        let id = *ids.entry(key).or_insert(next);
        written.push((id, c_seq.value(i), c_row.value(i)));
    }
    written.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
    let mut starts = vec![0usize; ids.len() + 1];
    for &(id, _, _) in &written {
        starts[id as usize + 1] += 1;
    }
    for k in 0..ids.len() {
        starts[k + 1] += starts[k];
    }
    // the Plan's writes, from the last: the k-th from the end of a key takes the ChangeSet's
    let n = steps.num_rows();
    let mut seq: Vec<Option<i64>> = vec![None; n];
    let mut row: Vec<Option<i64>> = vec![None; n];
    let mut taken = vec![0usize; ids.len()];
    for i in (0..n).rev() {
        let writes = matches!(s_op.get(i), Some("set" | "create"));
        let Some(attribute) = s_attribute.get(i) else { continue };
        // (a row without a source is the planner's own)
        if !writes || s_source.get(i).is_none_or(|s| s.starts_with(UNLINK)) {
            continue;
        }
        let key = (s_phase.value(i), s_fdn.str(i), attribute, s_member.get(i), opt_i32(&s_index, i));
        let found = ids.get(&key).and_then(|&id| {
            let id = id as usize;
            let at = starts[id] + taken[id];
            taken[id] += 1;
            (at < starts[id + 1]).then(|| written[at])
        });
        let Some((_, s, r)) = found else {
            return Err(bad(
                "plan",
                format!(
                    "internal: the planned row {i} ({} {attribute} of {}) matches no ChangeSet row",
                    s_op.str(i),
                    s_fdn.str(i)
                ),
            ));
        };
        seq[i] = Some(s);
        row[i] = Some(r);
    }
    let schema = Schema::new(vec![Field::new("seq", DataType::Int64, true), Field::new("row", DataType::Int64, true)]);
    let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(seq)), Arc::new(Int64Array::from(row))];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| bad("plan", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Int32Array, StringArray};

    fn strings(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    /// A ChangeSet writing `a` of one MO three times and `b` once, and a Plan that writes `a`
    /// twice (two phases of the planner's) around a lock of its own.
    #[test]
    fn rows_are_matched_counting_from_the_last() {
        let unlink = format!("{UNLINK}M=2)");
        let changes = batch(vec![
            ("phase_order", Arc::new(Int32Array::from(vec![0, 0, 0, 0])) as ArrayRef),
            ("fdn", strings(&[Some("M=1"), Some("M=1"), Some("M=1"), Some("M=1")])),
            ("attribute", strings(&[Some("a"), Some("b"), Some("a"), Some("a")])),
            ("member", strings(&[None, None, None, None])),
            ("index", Arc::new(Int32Array::from(vec![Some(0), Some(0), Some(0), Some(0)])) as ArrayRef),
            ("seq", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef),
            ("row", Arc::new(Int64Array::from(vec![10, 11, 12, 13])) as ArrayRef),
        ]);
        let steps = batch(vec![
            ("op", strings(&[Some("lock"), Some("set"), Some("set"), Some("set"), Some("set")])),
            ("phase_order", Arc::new(Int32Array::from(vec![0, 0, 0, 0, 0])) as ArrayRef),
            ("fdn", strings(&[Some("M=1"); 5])),
            ("attribute", strings(&[Some("administrativeState"), Some("a"), Some("b"), Some("a"), Some("c")])),
            ("member", strings(&[None; 5])),
            ("index", Arc::new(Int32Array::from(vec![Some(0); 5])) as ArrayRef),
            ("source", strings(&[Some("rtbfast"), Some("t.json"), Some("t.json"), Some("t.json"), Some(&unlink)])),
        ]);
        let out = origins(&steps, &changes).unwrap();
        let seq = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let row = out.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        let got: Vec<Option<(i64, i64)>> =
            (0..5).map(|i| (seq.is_valid(i)).then(|| (seq.value(i), row.value(i)))).collect();
        assert_eq!(got, vec![None, Some((3, 12)), Some((2, 11)), Some((4, 13)), None]);
    }

    #[test]
    fn a_planned_write_the_changeset_does_not_hold_is_an_error() {
        let changes = batch(vec![
            ("phase_order", Arc::new(Int32Array::from(vec![0])) as ArrayRef),
            ("fdn", strings(&[Some("M=1")])),
            ("attribute", strings(&[Some("a")])),
            ("seq", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("row", Arc::new(Int64Array::from(vec![0])) as ArrayRef),
        ]);
        let steps = batch(vec![
            ("op", strings(&[Some("set"), Some("set")])),
            ("phase_order", Arc::new(Int32Array::from(vec![0, 0])) as ArrayRef),
            ("fdn", strings(&[Some("M=1"), Some("M=1")])),
            ("attribute", strings(&[Some("a"), Some("a")])),
            ("source", strings(&[Some("t.json"), Some("t.json")])),
        ]);
        let err = origins(&steps, &changes).unwrap_err().to_string();
        assert!(err.contains("matches no ChangeSet row"), "{err}");
    }
}
