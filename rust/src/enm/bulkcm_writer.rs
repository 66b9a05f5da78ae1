//! A Network (`mos` and `values` tables) written as the `configData` content of a 3GPP Bulk CM
//! file, in the shape ENM exports and imports: `SubNetwork`, `MeContext` and `ManagedElement`
//! as `xn:` elements (their standard attributes in `xn:attributes`), every MO below them an
//! `xn:VsDataContainer` with its `vsData<Class>` payload in `es:` elements; a struct's members
//! nested by their dotted paths, a sequence as repeated elements, an MO's `modifier` on its
//! element. `rtbfast.read_network` reads it back to the same tables.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, BooleanArray, PrimitiveArray, RecordBatch, StringArray};

use crate::enm::encode;
use crate::error::{Error, Location};
use crate::names;

/// Classes written as `xn:` elements; every other MO is a `VsDataContainer`.
pub const TOP: [&str; 3] = ["SubNetwork", "MeContext", "ManagedElement"];
/// The payload's format version when an MO does not carry one.
pub const FORMAT_VERSION: &str = "EricssonSpecificAttributes";

fn value_error(message: String, element: &str) -> Error {
    Error::Value { loc: Location { element: element.to_string(), ..Location::default() }, message }
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> crate::Result<Option<&'a StringArray>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => c
            .as_string_opt::<i32>()
            .map(Some)
            .ok_or_else(|| value_error(format!("the network's column {name:?} is not utf8"), "")),
    }
}

fn required<'a>(batch: &'a RecordBatch, name: &str) -> crate::Result<&'a StringArray> {
    strings(batch, name)?.ok_or_else(|| value_error(format!("the network has no column {name:?}"), ""))
}

fn text(out: &mut String, s: &str) -> Result<(), String> {
    encode::xml_text(out, s)
}

fn attribute(out: &mut String, s: &str) -> Result<(), String> {
    encode::xml_attribute(out, s)
}

/// One value row of an MO.
struct Row<'a> {
    attribute: &'a str,
    member: Option<&'a str>,
    index: i32,
    value: &'a str,
    vs_data: bool,
}

enum Entry<'a> {
    Node(Vec<(&'a str, Entry<'a>)>),
    Leaf(Vec<&'a str>),
}

fn entry<'e, 'a>(entries: &'e mut Vec<(&'a str, Entry<'a>)>, name: &'a str, node: bool) -> &'e mut Entry<'a> {
    let at = entries.iter().position(|(n, e)| *n == name && matches!(e, Entry::Node(_)) == node);
    let at = match at {
        Some(at) => at,
        None => {
            entries.push((name, if node { Entry::Node(Vec::new()) } else { Entry::Leaf(Vec::new()) }));
            entries.len() - 1
        }
    };
    &mut entries[at].1
}

fn members_xml(out: &mut String, rows: &[&Row<'_>], prefix: &str) -> Result<(), String> {
    let mut tree: Vec<(&str, Entry<'_>)> = Vec::new();
    for row in rows {
        let member = row.member.unwrap_or("");
        let mut parts: Vec<&str> = member.split('.').collect();
        let last = parts.pop().unwrap_or("");
        let mut entries = &mut tree;
        for name in parts {
            match entry(entries, name, true) {
                Entry::Node(children) => entries = children,
                Entry::Leaf(_) => unreachable!("a node entry"),
            }
        }
        if let Entry::Leaf(values) = entry(entries, last, false) {
            values.push(row.value);
        }
    }
    write_entries(out, &tree, prefix)
}

fn write_entries(out: &mut String, entries: &[(&str, Entry<'_>)], prefix: &str) -> Result<(), String> {
    for (name, e) in entries {
        match e {
            Entry::Node(children) => {
                open(out, prefix, name);
                write_entries(out, children, prefix)?;
                close(out, prefix, name);
            }
            Entry::Leaf(values) => {
                for v in values {
                    open(out, prefix, name);
                    text(out, v)?;
                    close(out, prefix, name);
                }
            }
        }
    }
    Ok(())
}

fn open(out: &mut String, prefix: &str, name: &str) {
    out.push('<');
    out.push_str(prefix);
    out.push(':');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, prefix: &str, name: &str) {
    out.push_str("</");
    out.push_str(prefix);
    out.push(':');
    out.push_str(name);
    out.push('>');
}

/// The attribute elements of one MO: each (attribute, index) one element, a struct's members
/// nested in it.
fn attributes_xml(out: &mut String, rows: &[&Row<'_>], prefix: &str) -> Result<(), String> {
    let mut i = 0;
    while i < rows.len() {
        let r = rows[i];
        if r.member.is_none() {
            open(out, prefix, r.attribute);
            text(out, r.value).map_err(|why| format!("{}: {why}", r.attribute))?;
            close(out, prefix, r.attribute);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < rows.len() && rows[j].attribute == r.attribute && rows[j].index == r.index && rows[j].member.is_some()
        {
            j += 1;
        }
        open(out, prefix, r.attribute);
        members_xml(out, &rows[i..j], prefix).map_err(|why| format!("{}: {why}", r.attribute))?;
        close(out, prefix, r.attribute);
        i = j;
    }
    Ok(())
}

struct Mo<'a> {
    fdn: &'a str,
    class: &'a str,
    id: &'a str,
    parent: Option<&'a str>,
    modifier: Option<&'a str>,
    vs_data_type: Option<&'a str>,
    format_version: Option<&'a str>,
}

/// `<xn:attributes><xn:vsDataType>…</xn:vsDataType><xn:vsDataFormatVersion>…` then the
/// `es:vsData<Class>` payload.
fn payload(out: &mut String, m: &Mo<'_>, rows: &[&Row<'_>]) -> Result<(), String> {
    let vs_type = match m.vs_data_type {
        Some(t) if t.starts_with("vsData") => t.to_string(),
        _ => format!("vsData{}", m.class),
    };
    names::check_class(&vs_type).map_err(|why| format!("vsDataType: {why}"))?;
    out.push_str("<xn:attributes><xn:vsDataType>");
    text(out, &vs_type)?;
    out.push_str("</xn:vsDataType><xn:vsDataFormatVersion>");
    text(out, m.format_version.unwrap_or(FORMAT_VERSION)).map_err(|why| format!("vsDataFormatVersion: {why}"))?;
    out.push_str("</xn:vsDataFormatVersion><es:");
    out.push_str(&vs_type);
    out.push('>');
    attributes_xml(out, rows, "es")?;
    out.push_str("</es:");
    out.push_str(&vs_type);
    out.push_str("></xn:attributes>");
    Ok(())
}

fn opt(array: Option<&StringArray>, row: usize) -> Option<&str> {
    array.and_then(|a| a.is_valid(row).then(|| a.value(row)))
}

/// The `configData` content of the network, MO by MO (parents before their children, each
/// MO's children in table order). A standard-NRM MO below `ManagedElement` that carries
/// attributes is refused: its namespace is not known here.
pub fn network_xml(mos: &[RecordBatch], values: &[RecordBatch]) -> crate::Result<String> {
    network_xml_spans(mos, values).map(|(text, _)| text)
}

/// Where the element of one MO is in the text [`network_xml_spans`] writes, in bytes: it opens
/// at `start`, its own content (its attributes) ends at `opened` where its children begin, its
/// closing tag begins at `closing` and it ends at `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoSpan {
    /// The MO's row among all the rows of `mos` (batches one after the other).
    pub mo: usize,
    pub start: usize,
    pub opened: usize,
    pub closing: usize,
    pub end: usize,
}

/// [`network_xml`], and where each MO's element is in it (in document order of the opening),
/// so that a caller writing a network node by node can put the elements of several calls
/// together as one call over all of them would have written them.
pub fn network_xml_spans(mos: &[RecordBatch], values: &[RecordBatch]) -> crate::Result<(String, Vec<MoSpan>)> {
    let mut all: Vec<Mo<'_>> = Vec::new();
    for batch in mos {
        let fdn = required(batch, "fdn")?;
        let class = required(batch, "class")?;
        let id = required(batch, "id")?;
        let parent = strings(batch, "parent_fdn")?;
        let modifier = strings(batch, "modifier")?;
        let vs_type = strings(batch, "vs_data_type")?;
        let version = strings(batch, "format_version")?;
        for r in 0..batch.num_rows() {
            let (f, c, i) = (fdn.value(r), class.value(r), id.value(r));
            let named = names::check_fdn(f).and_then(|()| names::check_class(c)).and_then(|()| names::check_mo_id(i));
            let modifier_ok = opt(modifier, r).is_none_or(|m| matches!(m, "create" | "update" | "delete"));
            named.map_err(|why| value_error(format!("{f}: {why}"), f))?;
            if !modifier_ok {
                return Err(value_error(
                    format!("{f}: modifier {:?} is not create, update or delete", opt(modifier, r)),
                    f,
                ));
            }
            all.push(Mo {
                fdn: fdn.value(r),
                class: class.value(r),
                id: id.value(r),
                parent: opt(parent, r),
                modifier: opt(modifier, r),
                vs_data_type: opt(vs_type, r),
                format_version: opt(version, r),
            });
        }
    }
    let mut rows: HashMap<&str, Vec<Row<'_>>> = HashMap::new();
    for batch in values {
        let fdn = required(batch, "fdn")?;
        let attribute = required(batch, "attribute")?;
        let member = strings(batch, "member")?;
        let value = strings(batch, "value")?;
        let index: Option<&PrimitiveArray<Int32Type>> =
            batch.column_by_name("index").and_then(|c| c.as_primitive_opt::<Int32Type>());
        let vs_data: Option<&BooleanArray> = batch.column_by_name("vs_data").and_then(|c| c.as_boolean_opt());
        let mut checked: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for r in 0..batch.num_rows() {
            let name = attribute.value(r);
            if checked.insert(name) {
                names::check_attribute(name)
                    .map_err(|why| value_error(format!("{}: {why}", fdn.value(r)), fdn.value(r)))?;
            }
            if let Some(m) = opt(member, r) {
                names::check_member(m)
                    .map_err(|why| value_error(format!("{}: {name}: {why}", fdn.value(r)), fdn.value(r)))?;
            }
            rows.entry(fdn.value(r)).or_default().push(Row {
                attribute: attribute.value(r),
                member: opt(member, r),
                index: index.map_or(0, |a| if a.is_valid(r) { a.value(r) } else { 0 }),
                value: opt(value, r).unwrap_or(""),
                vs_data: vs_data.is_none_or(|a| !a.is_valid(r) || a.value(r)),
            });
        }
    }
    let known: HashMap<&str, usize> = all.iter().enumerate().map(|(i, m)| (m.fdn, i)).collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, m) in all.iter().enumerate() {
        match m.parent.and_then(|p| known.get(p)) {
            Some(&p) => children.entry(p).or_default().push(i),
            None => roots.push(i),
        }
    }
    let mut out = String::new();
    let mut spans: Vec<MoSpan> = Vec::with_capacity(all.len());
    let mut span_of: Vec<usize> = vec![usize::MAX; all.len()];
    // an explicit stack: the depth of a network is not bounded here
    enum Visit {
        Open(usize),
        Close(usize),
    }
    let mut stack: Vec<Visit> = roots.iter().rev().map(|&i| Visit::Open(i)).collect();
    let empty: Vec<Row<'_>> = Vec::new();
    while let Some(visit) = stack.pop() {
        match visit {
            Visit::Close(i) => {
                let m = &all[i];
                let closing = out.len();
                if TOP.contains(&m.class) {
                    out.push_str("</xn:");
                    out.push_str(m.class);
                    out.push_str(">\n");
                } else {
                    out.push_str("</xn:VsDataContainer>\n");
                }
                if let Some(span) = span_of.get(i).and_then(|&k| spans.get_mut(k)) {
                    span.closing = closing;
                    span.end = out.len();
                }
            }
            Visit::Open(i) => {
                let m = &all[i];
                let start = out.len();
                let located = |why: String| value_error(format!("{}: {why}", m.fdn), m.fdn);
                let mine = rows.get(m.fdn).unwrap_or(&empty);
                if TOP.contains(&m.class) {
                    out.push_str("<xn:");
                    out.push_str(m.class);
                    out.push_str(" id=");
                    attribute(&mut out, m.id).map_err(located)?;
                    if let Some(modifier) = m.modifier {
                        out.push_str(" modifier=");
                        attribute(&mut out, modifier).map_err(located)?;
                    }
                    out.push('>');
                    let standard: Vec<&Row<'_>> = mine.iter().filter(|r| !r.vs_data).collect();
                    if !standard.is_empty() {
                        out.push_str("<xn:attributes>");
                        attributes_xml(&mut out, &standard, "xn").map_err(located)?;
                        out.push_str("</xn:attributes>");
                    }
                    out.push('\n');
                    // its Ericsson attributes: a VsDataContainer of the same id inside it, as
                    // OSS-RC and ENM export them (vsDataMeContext)
                    let ericsson: Vec<&Row<'_>> = mine.iter().filter(|r| r.vs_data).collect();
                    if !ericsson.is_empty() {
                        out.push_str("<xn:VsDataContainer id=");
                        attribute(&mut out, m.id).map_err(located)?;
                        out.push('>');
                        payload(&mut out, m, &ericsson).map_err(located)?;
                        out.push_str("</xn:VsDataContainer>\n");
                    }
                } else {
                    let mut names: Vec<&str> = mine.iter().filter(|r| !r.vs_data).map(|r| r.attribute).collect();
                    if !names.is_empty() {
                        names.sort_unstable();
                        return Err(value_error(
                            format!(
                                "{}: holds standard 3GPP NRM attributes ({}, …) of a class this writer does not know \
                                 the namespace of: it writes SubNetwork, MeContext, ManagedElement and Ericsson \
                                 vsData containers",
                                m.fdn, names[0]
                            ),
                            m.fdn,
                        ));
                    }
                    out.push_str("<xn:VsDataContainer id=");
                    attribute(&mut out, m.id).map_err(located)?;
                    if let Some(modifier) = m.modifier {
                        out.push_str(" modifier=");
                        attribute(&mut out, modifier).map_err(located)?;
                    }
                    out.push('>');
                    let all_rows: Vec<&Row<'_>> = mine.iter().collect();
                    payload(&mut out, m, &all_rows).map_err(located)?;
                    out.push('\n');
                }
                if let Some(slot) = span_of.get_mut(i) {
                    *slot = spans.len();
                }
                spans.push(MoSpan { mo: i, start, opened: out.len(), closing: out.len(), end: out.len() });
                stack.push(Visit::Close(i));
                if let Some(kids) = children.get(&i) {
                    stack.extend(kids.iter().rev().map(|&k| Visit::Open(k)));
                }
            }
        }
    }
    Ok((out, spans))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Int32Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    type MoRow<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

    fn mos(rows: &[MoRow<'_>]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("fdn", DataType::Utf8, false),
            Field::new("class", DataType::Utf8, false),
            Field::new("id", DataType::Utf8, false),
            Field::new("parent_fdn", DataType::Utf8, true),
            Field::new("modifier", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.4).collect::<Vec<_>>())),
            ],
        )
        .unwrap()
    }

    type ValueRow<'a> = (&'a str, &'a str, Option<&'a str>, i32, &'a str, bool);

    fn values(rows: &[ValueRow<'_>]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("fdn", DataType::Utf8, false),
            Field::new("attribute", DataType::Utf8, false),
            Field::new("member", DataType::Utf8, true),
            Field::new("index", DataType::Int32, true),
            Field::new("value", DataType::Utf8, true),
            Field::new("vs_data", DataType::Boolean, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
                Arc::new(Int32Array::from(rows.iter().map(|r| Some(r.3)).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| Some(r.4)).collect::<Vec<_>>())),
                Arc::new(BooleanArray::from(rows.iter().map(|r| Some(r.5)).collect::<Vec<_>>())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn tree_structs_sequences_and_quoting() {
        let me = "SubNetwork=S,MeContext=N,ManagedElement=N";
        let enb = "SubNetwork=S,MeContext=N,ManagedElement=N,ENodeBFunction=1";
        let m = mos(&[
            ("SubNetwork=S", "SubNetwork", "S", None, None),
            ("SubNetwork=S,MeContext=N", "MeContext", "N", Some("SubNetwork=S"), None),
            (me, "ManagedElement", "N", Some("SubNetwork=S,MeContext=N"), None),
            (enb, "ENodeBFunction", "1", Some(me), Some("update")),
        ]);
        let v = values(&[
            ("SubNetwork=S", "userLabel", None, 0, "x & y", false),
            (enb, "plmn", Some("mcc"), 0, "240", true),
            (enb, "plmn", Some("inner.mnc"), 0, "7", true),
            (enb, "list", None, 0, "1", true),
            (enb, "list", None, 1, "<2>", true),
        ]);
        let xml = network_xml(&[m], &[v]).unwrap();
        assert!(xml.starts_with("<xn:SubNetwork id=\"S\"><xn:attributes><xn:userLabel>x &amp; y</xn:userLabel>"));
        assert!(xml.contains("<xn:VsDataContainer id=\"1\" modifier=\"update\">"));
        assert!(xml.contains("<es:plmn><es:mcc>240</es:mcc><es:inner><es:mnc>7</es:mnc></es:inner></es:plmn>"));
        assert!(xml.contains("<es:list>1</es:list><es:list>&lt;2&gt;</es:list>"));
        assert!(xml.ends_with("</xn:VsDataContainer>\n</xn:ManagedElement>\n</xn:MeContext>\n</xn:SubNetwork>\n"));
    }

    #[test]
    fn a_standard_nrm_mo_below_the_element_is_refused() {
        let cell = "SubNetwork=S,ManagedElement=N,UtranCell=1";
        let m = mos(&[
            ("SubNetwork=S,ManagedElement=N", "ManagedElement", "N", None, None),
            (cell, "UtranCell", "1", Some("SubNetwork=S,ManagedElement=N"), None),
        ]);
        let v = values(&[(cell, "uarfcnDl", None, 0, "10738", false)]);
        let err = network_xml(&[m], &[v]).unwrap_err();
        assert!(err.to_string().contains("UtranCell=1: holds standard 3GPP NRM attributes (uarfcnDl, …)"));
    }

    #[test]
    fn names_and_values_xml_cannot_hold_are_refused() {
        let me = "SubNetwork=S,ManagedElement=N";
        let top = ("SubNetwork=S", "SubNetwork", "S", None, None);
        let element = (me, "ManagedElement", "N", Some("SubNetwork=S"), None);
        let bad_id = "SubNetwork=S,ManagedElement=N,ENodeBFunction=a\"b";
        let m = mos(&[top, element, (bad_id, "ENodeBFunction", "a\"b", Some(me), None)]);
        let err = network_xml(&[m], &[values(&[])]).unwrap_err().to_string();
        assert!(err.contains("an MO id holds '\"'"), "{err}");
        let m = mos(&[top, element]);
        let err =
            network_xml(std::slice::from_ref(&m), &[values(&[(me, "user Label", None, 0, "x", true)])]).unwrap_err();
        assert!(err.to_string().contains("an attribute name holds a space"), "{err}");
        let err = network_xml(std::slice::from_ref(&m), &[values(&[(me, "userLabel", None, 0, "a\u{1}b", true)])])
            .unwrap_err();
        assert!(err.to_string().contains("XML 1.0 cannot hold a control character (U+0001)"), "{err}");
        let xml = network_xml(&[m], &[values(&[(me, "userLabel", None, 0, "a\r\nb", true)])]).unwrap();
        assert!(xml.contains("<es:userLabel>a&#13;\nb</es:userLabel>"), "{xml}");
    }

    #[test]
    fn spans_cut_the_text_into_each_mo_element() {
        let s = ("SubNetwork=S", "SubNetwork", "S", None, None);
        let a = ("SubNetwork=S,MeContext=A", "MeContext", "A", Some("SubNetwork=S"), None);
        let a_me = (
            "SubNetwork=S,MeContext=A,ManagedElement=A",
            "ManagedElement",
            "A",
            Some("SubNetwork=S,MeContext=A"),
            None,
        );
        let a_cell = "SubNetwork=S,MeContext=A,ManagedElement=A,Cell=1";
        let a_c = (a_cell, "Cell", "1", Some("SubNetwork=S,MeContext=A,ManagedElement=A"), Some("update"));
        let b = ("SubNetwork=S,MeContext=B", "MeContext", "B", Some("SubNetwork=S"), Some("create"));
        let m = mos(&[s, a, a_me, a_c, b]);
        let v = values(&[(a_cell, "userLabel", None, 0, "é & x", true)]);
        let (text, spans) = network_xml_spans(&[m], &[v]).unwrap();
        assert_eq!(spans.iter().map(|s| s.mo).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        let root = spans[0];
        assert_eq!((root.start, root.end), (0, text.len()));
        assert_eq!(&text[root.start..root.opened], "<xn:SubNetwork id=\"S\">\n");
        assert_eq!(&text[root.closing..root.end], "</xn:SubNetwork>\n");
        // the children of the root, one after the other, fill its element between its tags
        assert_eq!(spans[1].start, root.opened);
        assert_eq!(spans[1].end, spans[4].start);
        assert_eq!(spans[4].end, root.closing);
        let cell = &text[spans[3].start..spans[3].end];
        assert!(cell.starts_with("<xn:VsDataContainer id=\"1\" modifier=\"update\">") && cell.contains("é &amp; x"));
        assert!(text[spans[4].start..spans[4].opened].contains("modifier=\"create\""));
    }
}
