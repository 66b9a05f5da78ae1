//! ENM output written natively: a Plan (the rows of `rtbfast.enm.plan.PLAN_SCHEMA`, in step
//! order) rendered as cmedit command lines in one pass, the way `rtbfast.enm.dialects`
//! documents them.
//!
//! Per step: `cmedit create <FDN> <Naming>=<id>[,attrs]`, `cmedit delete <scope>`,
//! `cmedit action <scope> <attrs>`, else `cmedit set <scope> <attrs>`, where the scope is the
//! FDN, or (node form) the node name and the RDNs below its `ManagedElement`. Attributes are
//! written in the order of their first row, `a=v` joined by `,`; a value is `null` when unset,
//! `"…"` for a moRef or a string holding anything but `[A-Za-z0-9_.-]`, lower case for a
//! boolean, else as written; a struct is `(m=v,…)` (its members in row order, one struct per
//! item index), a sequence `[…]`, an emptied or unset sequence `[]`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};

use crate::error::{Error, Location};

pub mod bulkcm_writer;

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
    fn of(batch: &'a RecordBatch) -> crate::Result<Self> {
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
        })
    }

    fn text(&self, row: usize) -> Option<&'a str> {
        self.value.is_valid(row).then(|| self.value.value(row))
    }

    fn opt(array: &'a arrow_array::StringArray, row: usize) -> Option<&'a str> {
        array.is_valid(row).then(|| array.value(row))
    }
}

fn bare(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// One value as cmedit takes it.
fn render_value(out: &mut String, value: Option<&str>, kind: Option<&str>) {
    let Some(text) = value else {
        out.push_str("null");
        return;
    };
    match kind.unwrap_or("string") {
        "moref" => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        "boolean" => out.push_str(&text.to_lowercase()),
        "string" if !bare(text) => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        _ => out.push_str(text),
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
    items: Vec<Item>,
    structs: HashMap<i32, usize>,
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

/// Render the plan as one cmedit line per step. `naming` gives a class's naming attribute
/// (`EUtranCellFDDId` in CPP, `eUtranCellFDDId` in ECIM); `<Class>Id` otherwise. The rows
/// must come in step order (the plan's own order).
pub fn cmedit_lines(
    batches: &[RecordBatch],
    form: Form,
    naming: &HashMap<String, String>,
) -> crate::Result<arrow_array::StringArray> {
    let mut lines = StringBuilder::new();
    let mut line = String::new();
    // a step may run over a batch boundary: its rows are gathered by (batch, row)
    let mut pending: Vec<(usize, usize)> = Vec::new();
    let columns: Vec<Columns<'_>> = batches.iter().map(Columns::of).collect::<crate::Result<_>>()?;
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
                    render_step(&columns, &pending, form, naming, &mut line);
                    lines.append_value(&line);
                    pending.clear();
                }
            }
            current = Some(step);
            pending.push((b, row));
        }
    }
    if !pending.is_empty() {
        render_step(&columns, &pending, form, naming, &mut line);
        lines.append_value(&line);
    }
    Ok(lines.finish())
}

fn render_step(
    columns: &[Columns<'_>],
    rows: &[(usize, usize)],
    form: Form,
    naming: &HashMap<String, String>,
    line: &mut String,
) {
    line.clear();
    let (b0, r0) = rows[0];
    let head = &columns[b0];
    let op = head.op.value(r0);
    let fdn = head.fdn.value(r0);
    let class = head.class.value(r0);
    // the attributes, in the order of their first row
    let mut attributes: Vec<Attribute<'_>> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for &(b, r) in rows {
        let c = &columns[b];
        let Some(name) = Columns::opt(c.attribute, r) else { continue };
        let sequence = c.is_sequence.is_valid(r) && c.is_sequence.value(r);
        let index = c.index.is_valid(r).then(|| c.index.value(r));
        let value = c.text(r);
        let emptied = index == Some(EMPTIED);
        let unset_sequence = index.is_none() && value.is_none() && sequence;
        let mut text = String::new();
        if emptied || unset_sequence {
            text.push_str("[]");
        } else {
            render_value(&mut text, value, Columns::opt(c.kind, r));
        }
        let at = *position.entry(name).or_insert_with(|| {
            attributes.push(Attribute {
                name,
                sequence,
                whole: emptied || index.is_none(),
                items: Vec::new(),
                structs: HashMap::new(),
            });
            attributes.len() - 1
        });
        let attribute = &mut attributes[at];
        match Columns::opt(c.member, r) {
            Some(member) => {
                let item = index.unwrap_or(0);
                if attribute.items.is_empty() {
                    attribute.whole = false; // a struct item first
                }
                let slot = *attribute.structs.entry(item).or_insert_with(|| {
                    attribute.items.push(Item::Struct(String::new()));
                    attribute.items.len() - 1
                });
                if let Item::Struct(members) = &mut attribute.items[slot] {
                    if !members.is_empty() {
                        members.push(',');
                    }
                    members.push_str(member);
                    members.push('=');
                    members.push_str(&text);
                }
            }
            None => attribute.items.push(Item::Text(text)),
        }
    }
    let mut attrs = String::new();
    for (k, a) in attributes.iter().enumerate() {
        if k > 0 {
            attrs.push(',');
        }
        attrs.push_str(a.name);
        attrs.push('=');
        let list = a.sequence && !a.whole;
        if list {
            attrs.push('[');
        }
        for (i, item) in a.items.iter().enumerate() {
            if i > 0 {
                attrs.push(',');
            }
            match item {
                Item::Text(t) => attrs.push_str(t),
                Item::Struct(m) => {
                    attrs.push('(');
                    attrs.push_str(m);
                    attrs.push(')');
                }
            }
        }
        if list {
            attrs.push(']');
        }
    }
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
                Some(name) => line.push_str(name),
                None => {
                    line.push_str(class);
                    line.push_str("Id");
                }
            }
            line.push('=');
            line.push_str(fdn.rsplit_once('=').map_or("", |(_, id)| id));
            if !attributes.is_empty() {
                line.push(',');
                line.push_str(&attrs);
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
            line.push_str(&attrs);
        }
        _ => {
            line.push_str("cmedit set ");
            scoped(line);
            line.push(' ');
            line.push_str(&attrs);
        }
    }
}

/// The lines as one Arrow array (for the bindings).
pub fn cmedit_array(batches: &[RecordBatch], form: Form, naming: &HashMap<String, String>) -> crate::Result<ArrayRef> {
    Ok(Arc::new(cmedit_lines(batches, form, naming)?))
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
        let lines = cmedit_lines(&[plan(&rows)], Form::Fdn, &naming).unwrap();
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
        let node = cmedit_lines(&[plan(&rows)], Form::Node, &HashMap::new()).unwrap();
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
        let lines = cmedit_lines(&[plan(&a), plan(&b)], Form::Fdn, &HashMap::new()).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines.value(0), format!("cmedit set {CELL} a=1,b=2"));
    }
}
