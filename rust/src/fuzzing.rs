//! Entry points for the fuzz targets (`rust/fuzz`) and for the test that replays their corpus
//! (`rust/tests/fuzz_corpus.rs`). Each takes arbitrary bytes and must return, whatever they
//! are, without panicking, overflowing its stack or hanging; the readers' errors are results
//! like any other. Not part of the API.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use cel::objects::{Key, Map};
use cel::{Context, Value};

use crate::rules::{limits, user, RuleSet};

/// Write `data` to a file of this process and thread, for the readers (which read files).
fn scratch(name: &str, data: &[u8]) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("rtbfast-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let path = dir.join(format!("{name}-{thread}.xml"));
    std::fs::write(&path, data).ok()?;
    Some(path)
}

/// Read `data` as an MP XML model (after telling its kind, as the Python API does).
pub fn mom_reader(data: &[u8]) {
    let Some(path) = scratch("mom", data) else { return };
    let _ = crate::detect_kind(&path);
    if let Ok(one) = crate::mom::read_mom_with(&path, None, 1) {
        assert!(one.tables.iter().all(|t| t.concat().is_ok()), "a model's tables are consistent");
    }
}

/// Read `data` as a Bulk CM export; a successful read gives `values` whose FDNs are MOs.
pub fn bulkcm_reader(data: &[u8]) {
    let Some(path) = scratch("bulkcm", data) else { return };
    let Ok(result) = crate::bulkcm::read_bulkcm_with(&path, None, 1) else { return };
    let mos = crate::bulkcm::table(&result.tables, "mos").map_or(0, |b| b.num_rows());
    if let Some(values) = crate::bulkcm::table(&result.tables, "values") {
        if let Some(fdn) = values.column_by_name("fdn") {
            let keys = arrow_array::cast::AsArray::as_dictionary::<arrow_array::types::Int32Type>(fdn.as_ref()).keys();
            assert!(keys.iter().flatten().all(|k| (k as usize) < mos), "every value's FDN is the FDN of an MO");
        }
    }
}

/// Read `data` as whatever its first bytes say (gzip, bzip2, a zip archive or plain XML) and
/// each input it holds as a Bulk CM export: a corrupt or truncated stream, a bomb or an unsafe
/// member name is an error like any other, never a panic.
pub fn compressed_reader(data: &[u8]) {
    let Some(path) = scratch("compressed", data) else { return };
    let Ok(listing) = crate::input::list(&path) else { return };
    for input in listing.inputs.iter().take(4) {
        let _ = crate::bulkcm::read_bulkcm_with(&input.path(), None, 1);
        let _ = crate::bulkcm::read_bulkcm_with(&input.path(), None, 2);
        // split into small chunks (gzip, bzip2, a deflated or stored member: by access points) and
        // read alone, then with an access point moved by a few bits and its window cut
        let Ok(chunks) = crate::bulkcm::chunks(&input.path(), 256) else { continue };
        for chunk in chunks.iter().take(6) {
            let _ = crate::bulkcm::read_chunk(&input.path(), chunk);
        }
        if let Some(mut chunk) = chunks.get(1).cloned() {
            if let Some(access) = &mut chunk.access {
                let nudge = data.first().copied().unwrap_or(0);
                access.bit = access.bit.wrapping_add(u64::from(nudge % 16)).wrapping_sub(8);
                access.window.truncate(usize::from(nudge) * 128);
                let _ = crate::bulkcm::read_chunk(&input.path(), &chunk);
            }
        }
    }
}

/// A small export the rules are evaluated over: a few MOs of two classes, with values of
/// every kind (numbers, text, a struct, a sequence).
const NETWORK: &str = r#"<?xml version="1.0"?>
<bulkCmConfigDataFile xmlns:xn="genericNrm.xsd" xmlns:es="es.xsd"><configData>
<xn:SubNetwork id="S"><xn:MeContext id="N"><xn:ManagedElement id="N">
<xn:VsDataContainer id="1"><xn:attributes><xn:vsDataType>vsDataENodeBFunction</xn:vsDataType>
<es:vsDataENodeBFunction><es:eNBId>9223372036854775807</es:eNBId></es:vsDataENodeBFunction></xn:attributes>
<xn:VsDataContainer id="C1"><xn:attributes><xn:vsDataType>vsDataEUtranCellFDD</xn:vsDataType>
<es:vsDataEUtranCellFDD><es:qRxLevMin>-140</es:qRxLevMin><es:userLabel>a'b"c</es:userLabel>
<es:pair><es:lo>1</es:lo><es:hi>x</es:hi></es:pair><es:list>1</es:list><es:list>2</es:list>
</es:vsDataEUtranCellFDD></xn:attributes></xn:VsDataContainer>
<xn:VsDataContainer id="C2"><xn:attributes><xn:vsDataType>vsDataEUtranCellFDD</xn:vsDataType>
<es:vsDataEUtranCellFDD><es:qRxLevMin>-9223372036854775808</es:qRxLevMin></es:vsDataEUtranCellFDD>
</xn:attributes></xn:VsDataContainer>
</xn:VsDataContainer></xn:ManagedElement></xn:MeContext></xn:SubNetwork></configData></bulkCmConfigDataFile>
"#;

type Network = (Vec<RecordBatch>, Vec<RecordBatch>);

fn network() -> &'static Option<Network> {
    static NETWORK_TABLES: OnceLock<Option<Network>> = OnceLock::new();
    NETWORK_TABLES.get_or_init(|| {
        let path = scratch("network", NETWORK.as_bytes())?;
        let result = crate::bulkcm::read_bulkcm_with(&path, None, 1).ok()?;
        let mos = crate::bulkcm::table(&result.tables, "mos")?;
        let values = crate::bulkcm::table(&result.tables, "values")?;
        Some((vec![mos], vec![values]))
    })
}

/// Values of every kind, with the extremes: the variables a rule is also run against.
fn typed_context() -> Context<'static, 'static> {
    let mut cx = Context::default();
    let pairs: HashMap<Key, Value> = [
        (Key::String(Arc::new("lo".into())), Value::Int(i64::MIN)),
        (Key::String(Arc::new("hi".into())), Value::Float(f64::NAN)),
    ]
    .into_iter()
    .collect();
    cx.add_variable_from_value("qRxLevMin", Value::Int(i64::MAX));
    cx.add_variable_from_value("d", Value::Float(-0.0));
    cx.add_variable_from_value("userLabel", Value::String(Arc::new("a'b\"c\u{0}é".into())));
    cx.add_variable_from_value("flag", Value::Bool(true));
    cx.add_variable_from_value("list", Value::List(Arc::new(vec![Value::Int(1), Value::Int(i64::MIN)])));
    cx.add_variable_from_value("pair", Value::Map(Map { map: Arc::new(pairs) }));
    cx
}

/// Compile `data` as a user rule the way the audit does (its limits first), evaluate it over
/// a small network, and run it against typed extremes, on a thread of the stack the rules
/// run on. A first line starting with `when:` is the rule's `when`.
pub fn cel_rule(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (when, assert) = match text.strip_prefix("when:").and_then(|t| t.split_once('\n')) {
        Some((when, assert)) => (Some(when.to_string()), assert.to_string()),
        None => (None, text.into_owned()),
    };
    let column = |v: Option<&str>| Arc::new(StringArray::from(vec![v])) as ArrayRef;
    let Ok(batch) = RecordBatch::try_from_iter([
        ("id", column(Some("fuzz"))),
        ("class", column(Some("EUtranCellFDD"))),
        ("when", column(when.as_deref())),
        ("assert", column(Some(&assert))),
        ("severity", column(Some("error"))),
        ("message", column(Some("m"))),
    ]) else {
        return;
    };
    let Ok((rules, _problems)) = user::compile(&[batch], 1) else { return };
    if rules.is_empty() {
        return;
    }
    if let Some((mos, values)) = network() {
        let _ = user::evaluate(&rules, &RuleSet::default(), mos, values, 1);
    }
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL
        .get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(1).stack_size(limits::STACK_BYTES).build().ok());
    if let Some(pool) = pool {
        pool.install(|| {
            let cx = typed_context();
            for rule in &rules {
                let _ = rule.assert.execute(&cx);
            }
        });
    }
}

/// Read `data` as an RTB template, as `rtbfast templates check` does; a read gives MO rows
/// whose parents come before them, values of those MOs, and problems that can be located.
pub fn template_reader(data: &[u8]) {
    let Some(path) = scratch("template", data) else { return };
    let read = crate::templates::read_one(&path);
    let flat = &read.flat;
    for (i, mo) in flat.mos.iter().enumerate() {
        assert!(mo.parent.is_none_or(|p| (p as usize) < i), "an MO's parent is read before it");
    }
    assert!(flat.values.iter().all(|v| (v.mo as usize) < flat.mos.len()), "every value is of an MO");
    if let Ok(text) = std::str::from_utf8(data) {
        let pointers: Vec<String> = flat
            .problems
            .iter()
            .map(|p| p.path.clone())
            .chain(flat.mos.iter().map(|m| flat.str(m.path).to_string()))
            .take(64)
            .collect();
        let spots = crate::templates::locate::locate(text, &pointers);
        assert_eq!(spots.len(), pointers.len());
    }
}

/// Read `data` as a typed template in YAML and in TOML; what is read is strict JSON, and
/// pointers into it can be located.
pub fn typed_document(data: &[u8]) {
    use crate::templates::document::{locate, to_json, Format};
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [Format::Yaml, Format::Toml] {
        if let Ok(json) = to_json(text, format) {
            assert!(
                sonic_rs::from_str::<sonic_rs::Value>(&json).is_ok(),
                "{format:?} read as JSON that is not JSON: {json}"
            );
        }
        let spots = locate(text, format, &["".into(), "/a/0/b".into(), "/mos/X".into()]);
        assert_eq!(spots.len(), 3);
    }
}

/// Write a small Plan made of `data` as cmedit lines (both forms), as the dynamic import
/// format's and moshell's values, and as 3GPP Bulk CM XML: each step is written or refused,
/// and what is written reads back exactly as given (cmedit and the dynamic values by a reader
/// of their own here, the XML by the crate's Bulk CM reader). The bytes are read as fields
/// split at `0xFF` (see `plan_of` below).
pub fn enm_writers(data: &[u8]) {
    let _ = writers::check(data);
}

mod writers {
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};
    use arrow_array::{Array, ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray};

    use crate::enm::{self, bulkcm_writer, Dialect, Form};
    use crate::names;

    /// Kinds a plan row carries (`None`: an attribute the catalog does not know).
    const KINDS: [Option<&str>; 8] = [
        Some("string"),
        None,
        Some("integer"),
        Some("float"),
        Some("decimal"),
        Some("boolean"),
        Some("enum"),
        Some("moref"),
    ];
    const OPS: [&str; 5] = ["set", "create", "delete", "lock", "unlock"];
    const PREFIX: &str = "SubNetwork=S,MeContext=N1,ManagedElement=N1,ENodeBFunction=1";
    const MAX_STEPS: usize = 4;
    const MAX_ATTRS: usize = 6;
    const MAX_ITEMS: usize = 4;
    const MAX_TEXT: usize = 4096;

    #[derive(Debug, Clone)]
    struct Scalar {
        kind: Option<&'static str>,
        text: Option<String>,
    }

    type Members = Vec<(String, Scalar)>;

    #[derive(Debug)]
    enum Shape {
        Scalar(Scalar),
        Struct(Members),
        /// Items and the sequence flag (`None`: not known).
        Seq(Vec<Scalar>, Option<bool>),
        Structs(Vec<Members>, Option<bool>),
        Emptied,
        UnsetSeq,
    }

    #[derive(Debug)]
    struct Attr {
        name: String,
        shape: Shape,
    }

    #[derive(Debug)]
    struct Step {
        op: &'static str,
        fdn: String,
        class: String,
        attrs: Vec<Attr>,
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_TEXT)]).into_owned()
    }

    /// A name of the grammar made of `raw` (or `raw` itself when `hostile`): letters, digits,
    /// `_`, `-` (and `.`, `:` in an id), a letter first (an id: not `-`).
    fn name(raw: &[u8], hostile: bool, id: bool, fallback: &str) -> String {
        if hostile {
            return text(raw);
        }
        let mut out: String = raw
            .iter()
            .map(|&b| b as char)
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-') || (id && matches!(c, '.' | ':')))
            .take(24)
            .collect();
        if out.is_empty() {
            return fallback.to_string();
        }
        let first = out.chars().next().unwrap_or('a');
        if (!id && !first.is_ascii_alphabetic()) || (id && first == '-') {
            out.insert(0, if id { '0' } else { 'a' });
        }
        out
    }

    /// A member added to a struct (not past [`MAX_ITEMS`], not twice).
    fn add_member(members: &mut Members, member: String, value: Scalar) {
        if members.len() < MAX_ITEMS && !members.iter().any(|(m, _)| *m == member) {
            members.push((member, value));
        }
    }

    fn step(k: usize, op: &'static str, id: String) -> Step {
        let fdn = format!("{PREFIX},Unit{k}={id}");
        let class = fdn.rsplit(',').next().and_then(|rdn| rdn.split('=').next()).unwrap_or("").to_string();
        let attrs = match op {
            "lock" | "unlock" => {
                let state = if op == "lock" { "LOCKED" } else { "UNLOCKED" };
                vec![Attr {
                    name: "administrativeState".into(),
                    shape: Shape::Scalar(Scalar { kind: Some("enum"), text: Some(state.into()) }),
                }]
            }
            _ => Vec::new(),
        };
        Step { op, fdn, class, attrs }
    }

    /// The plan the bytes make. Field 0 is the first step's MO id (its first byte the op);
    /// every other field is a control byte and up to three parts split at `0xFE` (name, member,
    /// value). The control byte: bits 0-2 the kind, bits 3-5 what the field adds (a scalar, a
    /// struct member, a sequence item, a member of an item of a sequence of structs, an emptied
    /// sequence, an unset value, a new step, an unset sequence), bit 6 a flag (a sequence the
    /// catalog does not know; a new item; a hostile MO id), bit 7 a hostile name (as given,
    /// not made to fit the grammar).
    fn plan_of(data: &[u8]) -> Vec<Step> {
        let mut fields = data.split(|&b| b == 0xFF);
        let first = fields.next().unwrap_or_default();
        let (op, id) = match first.split_first() {
            Some((&b, rest)) => (OPS[(b & 7) as usize % OPS.len()], name(rest, b & 0x40 != 0, true, "1")),
            None => ("set", "1".to_string()),
        };
        let mut plan = vec![step(0, op, id)];
        for field in fields {
            let Some((&ctrl, payload)) = field.split_first() else { continue };
            let parts: Vec<&[u8]> = payload.splitn(3, |&b| b == 0xFE).collect();
            let part = |i: usize| parts.get(i).copied();
            let kind = KINDS[(ctrl & 7) as usize];
            let action = (ctrl >> 3) & 7;
            let flag = ctrl & 0x40 != 0;
            let hostile = ctrl & 0x80 != 0;
            if action == 6 {
                if plan.len() < MAX_STEPS {
                    let k = plan.len();
                    let id = name(part(0).unwrap_or_default(), flag, true, "1");
                    plan.push(step(k, OPS[(ctrl & 7) as usize % OPS.len()], id));
                }
                continue;
            }
            let Some(current) = plan.last_mut() else { continue };
            if !matches!(current.op, "set" | "create") {
                continue;
            }
            let attribute = name(part(0).unwrap_or_default(), hostile, false, "a");
            let value = |i: usize| Scalar { kind, text: part(i).map(text) };
            let last_is = |current: &Step, same: fn(&Shape) -> bool| {
                current.attrs.last().is_some_and(|a| a.name == attribute && same(&a.shape))
            };
            match action {
                1 if last_is(current, |s| matches!(s, Shape::Struct(_))) => {
                    let member = name(part(1).unwrap_or_default(), hostile, false, "m");
                    if let Some(Attr { shape: Shape::Struct(members), .. }) = current.attrs.last_mut() {
                        add_member(members, member, value(2));
                    }
                    continue;
                }
                2 if last_is(current, |s| matches!(s, Shape::Seq(..))) => {
                    if let Some(Attr { shape: Shape::Seq(items, _), .. }) = current.attrs.last_mut() {
                        if items.len() < MAX_ITEMS {
                            items.push(Scalar { kind, text: Some(part(1).map(text).unwrap_or_default()) });
                        }
                    }
                    continue;
                }
                3 if last_is(current, |s| matches!(s, Shape::Structs(..))) => {
                    let member = name(part(1).unwrap_or_default(), hostile, false, "m");
                    if let Some(Attr { shape: Shape::Structs(items, _), .. }) = current.attrs.last_mut() {
                        let count = items.len();
                        match items.last_mut() {
                            Some(item) if !flag => add_member(item, member, value(2)),
                            _ if count < MAX_ITEMS => items.push(vec![(member, value(2))]),
                            _ => {}
                        }
                    }
                    continue;
                }
                _ => {}
            }
            if current.attrs.len() >= MAX_ATTRS || current.attrs.iter().any(|a| a.name == attribute) {
                continue;
            }
            let known = if flag { None } else { Some(true) };
            let shape = match action {
                0 => Shape::Scalar(value(1)),
                1 => Shape::Struct(vec![(name(part(1).unwrap_or_default(), hostile, false, "m"), value(2))]),
                2 => Shape::Seq(vec![Scalar { kind, text: Some(part(1).map(text).unwrap_or_default()) }], known),
                3 => Shape::Structs(
                    vec![vec![(name(part(1).unwrap_or_default(), hostile, false, "m"), value(2))]],
                    known,
                ),
                4 => Shape::Emptied,
                5 => Shape::Scalar(Scalar { kind, text: None }),
                _ => Shape::UnsetSeq,
            };
            current.attrs.push(Attr { name: attribute, shape });
        }
        for s in &mut plan {
            if s.op == "set" && s.attrs.is_empty() {
                s.attrs.push(Attr {
                    name: "userLabel".into(),
                    shape: Shape::Scalar(Scalar { kind: Some("string"), text: Some("x".into()) }),
                });
            }
        }
        plan
    }

    /// The plan's rows (the columns the writers read), one step after the other.
    #[derive(Default)]
    struct Rows {
        step: Vec<i64>,
        op: Vec<&'static str>,
        fdn: Vec<String>,
        class: Vec<String>,
        attribute: Vec<Option<String>>,
        member: Vec<Option<String>>,
        index: Vec<Option<i32>>,
        value: Vec<Option<String>>,
        kind: Vec<Option<&'static str>>,
        is_sequence: Vec<Option<bool>>,
    }

    impl Rows {
        #[allow(clippy::too_many_arguments)]
        fn push(
            &mut self,
            k: usize,
            s: &Step,
            attribute: Option<&str>,
            member: Option<&str>,
            index: Option<i32>,
            v: Option<&Scalar>,
            sequence: Option<bool>,
        ) {
            self.step.push(k as i64);
            self.op.push(s.op);
            self.fdn.push(s.fdn.clone());
            self.class.push(s.class.clone());
            self.attribute.push(attribute.map(String::from));
            self.member.push(member.map(String::from));
            self.index.push(index);
            self.value.push(v.and_then(|v| v.text.clone()));
            self.kind.push(v.and_then(|v| v.kind));
            self.is_sequence.push(sequence);
        }

        fn batch(self) -> Option<RecordBatch> {
            let strings = |v: Vec<String>| Arc::new(StringArray::from(v)) as ArrayRef;
            let optional = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
            RecordBatch::try_from_iter([
                ("step", Arc::new(Int64Array::from(self.step)) as ArrayRef),
                ("op", Arc::new(StringArray::from(self.op)) as ArrayRef),
                ("fdn", strings(self.fdn)),
                ("class", strings(self.class)),
                ("attribute", optional(self.attribute)),
                ("member", optional(self.member)),
                ("index", Arc::new(Int32Array::from(self.index)) as ArrayRef),
                ("value", optional(self.value)),
                ("kind", Arc::new(StringArray::from(self.kind)) as ArrayRef),
                ("is_sequence", Arc::new(BooleanArray::from(self.is_sequence)) as ArrayRef),
            ])
            .ok()
        }
    }

    fn rows_of(plan: &[Step]) -> (Rows, Vec<std::ops::Range<usize>>) {
        let mut rows = Rows::default();
        let mut spans = Vec::new();
        for (k, s) in plan.iter().enumerate() {
            let start = rows.step.len();
            if matches!(s.op, "create" | "delete") {
                rows.push(k, s, None, None, None, None, None);
            }
            for a in &s.attrs {
                let n = Some(a.name.as_str());
                match &a.shape {
                    Shape::Scalar(v) => {
                        let index = v.text.as_ref().map(|_| 0);
                        rows.push(k, s, n, None, index, Some(v), Some(false));
                    }
                    Shape::Seq(items, flag) => {
                        for (i, v) in items.iter().enumerate() {
                            rows.push(k, s, n, None, Some(i as i32), Some(v), *flag);
                        }
                    }
                    Shape::Struct(members) => {
                        for (m, v) in members {
                            rows.push(k, s, n, Some(m), Some(0), Some(v), Some(false));
                        }
                    }
                    Shape::Structs(items, flag) => {
                        for (i, item) in items.iter().enumerate() {
                            for (m, v) in item {
                                rows.push(k, s, n, Some(m), Some(i as i32), Some(v), *flag);
                            }
                        }
                    }
                    Shape::Emptied => {
                        let v = Scalar { kind: Some("integer"), text: None };
                        rows.push(k, s, n, None, Some(enm::EMPTIED), Some(&v), Some(true));
                    }
                    Shape::UnsetSeq => {
                        let v = Scalar { kind: Some("string"), text: None };
                        rows.push(k, s, n, None, None, Some(&v), Some(true));
                    }
                }
            }
            spans.push(start..rows.step.len());
        }
        (rows, spans)
    }

    /// A value read back: `null`, a string, a struct, a list.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Tree {
        Null,
        Text(String),
        Struct(Vec<(String, Tree)>),
        List(Vec<Tree>),
    }

    fn scalar_tree(v: &Scalar) -> Tree {
        match &v.text {
            None => Tree::Null,
            Some(t) if v.kind == Some("boolean") => Tree::Text(t.to_ascii_lowercase()),
            Some(t) => Tree::Text(t.clone()),
        }
    }

    fn members_tree(members: &Members) -> Tree {
        Tree::Struct(members.iter().map(|(m, v)| (m.clone(), scalar_tree(v))).collect())
    }

    /// The attribute as cmedit and the dynamic format must give it back.
    fn expected(a: &Attr) -> Tree {
        match &a.shape {
            Shape::Scalar(v) => scalar_tree(v),
            Shape::Struct(members) => members_tree(members),
            Shape::Seq(items, flag) => {
                if *flag == Some(true) || items.len() > 1 {
                    Tree::List(items.iter().map(scalar_tree).collect())
                } else {
                    items.first().map_or(Tree::Null, scalar_tree)
                }
            }
            Shape::Structs(items, flag) => {
                if *flag == Some(true) || items.len() > 1 {
                    Tree::List(items.iter().map(members_tree).collect())
                } else {
                    items.first().map_or(Tree::Null, members_tree)
                }
            }
            Shape::Emptied | Shape::UnsetSeq => Tree::List(Vec::new()),
        }
    }

    /// A value of cmedit (`(m=v,…)`, `[a,b]`) or of the dynamic format (`{m=v, …}`,
    /// `[a, b]`), read from `text` at `at`: quoted strings end at the next `"` (no escape is
    /// written), a bare value is a word, a number or `null`.
    struct Reader<'t> {
        text: &'t str,
        at: usize,
        open: char,
        close: char,
        separator: &'static str,
    }

    impl Reader<'_> {
        fn eat(&mut self, s: &str) -> bool {
            if self.text[self.at..].starts_with(s) {
                self.at += s.len();
                true
            } else {
                false
            }
        }

        fn name(&mut self) -> Option<String> {
            let rest = &self.text[self.at..];
            let end = rest.find('=')?;
            self.at += end + 1;
            Some(rest[..end].to_string())
        }

        fn value(&mut self) -> Option<Tree> {
            let rest = &self.text[self.at..];
            if let Some(body) = rest.strip_prefix('"') {
                let end = body.find('"')?;
                self.at += end + 2;
                return Some(Tree::Text(body[..end].to_string()));
            }
            if self.eat(&self.open.to_string()) {
                let mut members = Vec::new();
                loop {
                    let name = self.name()?;
                    members.push((name, self.value()?));
                    if self.eat(&self.close.to_string()) {
                        return Some(Tree::Struct(members));
                    }
                    if !self.eat(self.separator) {
                        return None;
                    }
                }
            }
            if self.eat("[") {
                let mut items = Vec::new();
                if self.eat("]") {
                    return Some(Tree::List(items));
                }
                loop {
                    items.push(self.value()?);
                    if self.eat("]") {
                        return Some(Tree::List(items));
                    }
                    if !self.eat(self.separator) {
                        return None;
                    }
                }
            }
            let end = rest.find([',', ')', ']', '}']).unwrap_or(rest.len());
            let bare = &rest[..end];
            // nothing but a word, a number, a boolean or `null` is written without quotes
            if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b)) {
                return None;
            }
            self.at += end;
            Some(if bare == "null" { Tree::Null } else { Tree::Text(bare.to_string()) })
        }
    }

    /// The words of a line, split at spaces outside quotes and brackets.
    fn words(line: &str) -> Option<Vec<&str>> {
        let mut out = Vec::new();
        let (mut start, mut depth, mut quoted) = (0, 0i32, false);
        for (i, c) in line.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '(' | '[' | '{' if !quoted => depth += 1,
                ')' | ']' | '}' if !quoted => depth -= 1,
                ' ' if !quoted && depth == 0 => {
                    out.push(&line[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        (!quoted && depth == 0).then(|| {
            out.push(&line[start..]);
            out
        })
    }

    /// `a=v,b=w` of a cmedit line.
    fn assignments(text: &str) -> Option<Vec<(String, Tree)>> {
        let mut r = Reader { text, at: 0, open: '(', close: ')', separator: "," };
        let mut out = Vec::new();
        loop {
            let name = r.name()?;
            out.push((name, r.value()?));
            if r.at == text.len() {
                return Some(out);
            }
            if !r.eat(",") {
                return None;
            }
        }
    }

    fn line_safe(text: &str) -> bool {
        !text.chars().any(|c| c.is_control() || names::is_format(c) || c == '\u{2028}' || c == '\u{2029}')
    }

    /// A step rtbfast must write: its names are of the grammar and its values plain words.
    fn plain(s: &Step) -> bool {
        let word = |v: &Scalar| {
            v.text.as_ref().is_none_or(|t| {
                matches!(v.kind, None | Some("string") | Some("enum"))
                    && t.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !t.eq_ignore_ascii_case("null")
            })
        };
        let members = |m: &Members| m.iter().all(|(n, v)| names::check_member(n).is_ok() && word(v));
        names::check_fdn(&s.fdn).is_ok()
            && names::check_class(&s.class).is_ok()
            && s.attrs.iter().all(|a| {
                names::check_attribute(&a.name).is_ok()
                    && match &a.shape {
                        Shape::Scalar(v) => word(v),
                        Shape::Seq(items, _) => items.iter().all(word),
                        Shape::Struct(m) => members(m),
                        Shape::Structs(items, _) => items.iter().all(members),
                        Shape::Emptied | Shape::UnsetSeq => true,
                    }
            })
    }

    /// Which steps are refused (a refusal's row falls in the step's rows).
    fn refused_steps(refusals: &[enm::Refusal], spans: &[std::ops::Range<usize>]) -> Vec<bool> {
        let mut out = vec![false; spans.len()];
        for r in refusals {
            let k = spans.iter().position(|span| span.contains(&r.row));
            assert!(k.is_some(), "a refusal names a row of the plan: {r:?}");
            if let Some(k) = k {
                assert!(!out[k], "one refusal a step: {r:?}");
                out[k] = true;
            }
        }
        out
    }

    /// The steps `cmedit` wrote.
    fn check_cmedit(plan: &[Step], batch: &RecordBatch, spans: &[std::ops::Range<usize>], form: Form) -> usize {
        let Ok((lines, refusals)) = enm::cmedit_lines(std::slice::from_ref(batch), form, &HashMap::new()) else {
            panic!("the plan is in step order: the writer answers it");
        };
        let refused = refused_steps(&refusals, spans);
        let written: Vec<&Step> = plan.iter().zip(&refused).filter(|(_, r)| !**r).map(|(s, _)| s).collect();
        assert_eq!(lines.len(), written.len(), "a line a step not refused");
        for (s, r) in plan.iter().zip(&refused) {
            assert!(!(*r && plain(s)), "a plain step is written: {s:?}");
        }
        for (i, s) in written.iter().enumerate() {
            let line = lines.value(i);
            assert!(line_safe(line), "one line, nothing hidden: {line:?}");
            let Some(words) = words(line) else { panic!("the line splits into words: {line:?}") };
            let verb = match s.op {
                "create" | "delete" => s.op,
                _ => "set",
            };
            assert_eq!(&words[..2], ["cmedit", verb], "{line:?}");
            let ldn = s.fdn.strip_prefix("SubNetwork=S,MeContext=N1,ManagedElement=N1,");
            let scope: Vec<&str> = match (form, verb, ldn) {
                (Form::Node, "set" | "delete", Some(ldn)) => vec!["N1", ldn],
                _ => vec![s.fdn.as_str()],
            };
            assert_eq!(&words[2..2 + scope.len()], &scope[..], "{line:?}");
            let rest = &words[2 + scope.len()..];
            let mut want: Vec<(String, Tree)> = s.attrs.iter().map(|a| (a.name.clone(), expected(a))).collect();
            if verb == "create" {
                let id = s.fdn.rsplit_once('=').map_or("", |(_, id)| id);
                want.insert(0, (format!("{}Id", s.class), Tree::Text(id.to_string())));
            }
            if verb == "delete" {
                assert!(rest.is_empty(), "{line:?}");
                continue;
            }
            assert_eq!(rest.len(), 1, "one list of attributes: {line:?}");
            let got = assignments(rest[0]);
            assert_eq!(got.as_ref(), Some(&want), "{line:?}");
        }
        written.len()
    }

    fn check_values(plan: &[Step], batch: &RecordBatch, spans: &[std::ops::Range<usize>], dialect: Dialect) {
        let Ok((steps, attributes, texts, refusals)) = enm::attribute_values(std::slice::from_ref(batch), dialect)
        else {
            panic!("the plan is in step order: the writer answers it");
        };
        // the whole steps' writer refuses exactly these rows, and writes a text per other step
        let Ok((whole, whole_refusals)) = enm::step_texts(std::slice::from_ref(batch), dialect, &HashMap::new()) else {
            panic!("the plan is in step order: the step writer answers it");
        };
        assert_eq!(whole_refusals, refusals, "{dialect:?}: the step writer refuses what the values' writer does");
        let refused = refused_steps(&refusals, spans);
        assert_eq!(whole.len(), refused.iter().filter(|r| !**r).count(), "a text per step written");
        let (steps, attributes, texts) =
            (steps.as_primitive::<Int64Type>(), attributes.as_string::<i32>(), texts.as_string::<i32>());
        let mut got: HashMap<usize, Vec<(String, String)>> = HashMap::new();
        for i in 0..steps.len() {
            let text = texts.value(i);
            assert!(line_safe(text), "{dialect:?} writes one line, nothing hidden: {text:?}");
            got.entry(steps.value(i) as usize).or_default().push((attributes.value(i).into(), text.into()));
        }
        for (k, s) in plan.iter().enumerate() {
            assert!(!(refused[k] && plain(s)), "a plain step is written in {dialect:?}: {s:?}");
            let values = got.remove(&k).unwrap_or_default();
            if refused[k] {
                assert!(values.is_empty(), "a refused step writes nothing");
                continue;
            }
            let names: Vec<&str> = values.iter().map(|(a, _)| a.as_str()).collect();
            let want: Vec<&str> = s.attrs.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, want);
            if dialect == Dialect::Moshell {
                for ((_, text), a) in values.iter().zip(&s.attrs) {
                    assert!(moshell_reads(a, text), "moshell's {text:?} is {a:?}");
                }
                continue;
            }
            for ((_, text), a) in values.iter().zip(&s.attrs) {
                let mut r = Reader { text, at: 0, open: '{', close: '}', separator: ", " };
                let tree = r.value();
                assert!(r.at == text.len() && tree.as_ref() == Some(&expected(a)), "{text:?} is {a:?}");
            }
        }
    }

    fn multi(items: usize, flag: Option<bool>) -> bool {
        flag == Some(true) || items > 1
    }

    /// A value as moshell writes it (enm-cli.md §11): bare or in quotes, a boolean in lower
    /// case, a moRef as its LDN below `ManagedElement`, nothing when unset.
    fn moshell_scalar(v: &Scalar, text: &str) -> bool {
        let Some(t) = &v.text else { return text.is_empty() };
        match v.kind {
            Some("boolean") => text == t.to_ascii_lowercase(),
            Some("integer" | "float" | "decimal" | "enum") => text == t,
            Some("moref") if !t.is_empty() => {
                let below = t.split_once(",ManagedElement=").and_then(|(_, rest)| rest.split_once(',')).map(|(_, l)| l);
                let below = if t.starts_with("ManagedElement=") { t.split_once(',').map(|(_, l)| l) } else { below };
                text == below.unwrap_or(t)
            }
            _ => {
                let word = !t.is_empty()
                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                    && !t.eq_ignore_ascii_case("null");
                (word && text == t) || text.strip_prefix('"').and_then(|q| q.strip_suffix('"')) == Some(t.as_str())
            }
        }
    }

    /// A struct as moshell writes it: `m=v,m=v`.
    fn moshell_members(members: &Members, text: &str) -> bool {
        let parts: Vec<&str> = text.split(',').collect();
        parts.len() == members.len()
            && members.iter().zip(parts).all(|((m, v), part)| {
                part.strip_prefix(m.as_str()).and_then(|p| p.strip_prefix('=')).is_some_and(|t| moshell_scalar(v, t))
            })
    }

    /// Whether moshell's `text` reads as the attribute: its items (spaces between values,
    /// `;` between structs) and members (`,`) where they were, each value itself.
    fn moshell_reads(a: &Attr, text: &str) -> bool {
        let valued = |v: &Scalar| v.text.is_some();
        let nothing = match &a.shape {
            Shape::Scalar(v) => !valued(v),
            Shape::Seq(items, _) => !items.iter().any(valued),
            Shape::Struct(m) => !m.iter().any(|(_, v)| valued(v)),
            Shape::Structs(items, _) => !items.iter().flatten().any(|(_, v)| valued(v)),
            Shape::Emptied | Shape::UnsetSeq => true,
        };
        if nothing {
            return text.is_empty();
        }
        match &a.shape {
            Shape::Scalar(v) => moshell_scalar(v, text),
            Shape::Seq(items, flag) if multi(items.len(), *flag) => {
                let parts: Vec<&str> = text.split(' ').collect();
                parts.len() == items.len() && items.iter().zip(parts).all(|(v, t)| moshell_scalar(v, t))
            }
            Shape::Seq(items, _) => items.first().is_some_and(|v| moshell_scalar(v, text)),
            Shape::Struct(members) => moshell_members(members, text),
            Shape::Structs(items, flag) if multi(items.len(), *flag) => {
                let parts: Vec<&str> = text.split(';').collect();
                parts.len() == items.len() && items.iter().zip(parts).all(|(m, t)| moshell_members(m, t))
            }
            Shape::Structs(items, _) => items.first().is_some_and(|m| moshell_members(m, text)),
            Shape::Emptied | Shape::UnsetSeq => text.is_empty(),
        }
    }

    /// XML 1.0 holds the character (as itself or as a reference).
    fn xml_char(c: char) -> bool {
        ((c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r')) && c != '\u{FFFE}' && c != '\u{FFFF}'
    }

    /// A value read back: fdn, attribute, member, index, value.
    type Valued = (String, String, Option<String>, i32, String);
    /// An MO of the file: fdn, class, id, parent, modifier.
    type MoRow = (String, String, String, Option<String>, Option<&'static str>);
    /// A value row of the file: fdn, attribute, member, index, value, vs_data.
    type ValueRow = (String, String, Option<String>, i32, String, bool);

    /// Whether the XML was written.
    fn check_bulkcm(plan: &[Step]) -> bool {
        // as rtbfast.enm.dialects.bulkcm_tables: the changed MOs, the MOs above them
        let mut mos: Vec<MoRow> = Vec::new();
        let mut known: HashSet<String> = HashSet::new();
        let mut values: Vec<ValueRow> = Vec::new();
        let mut want: Vec<Valued> = Vec::new();
        let mut clean = true;
        let changed: Vec<&Step> = plan.iter().filter(|s| matches!(s.op, "create" | "set" | "delete")).collect();
        let split = |fdn: &str| {
            let (parent, rdn) = fdn.rsplit_once(',').map_or((None, fdn), |(p, r)| (Some(p.to_string()), r));
            let (class, id) = rdn.split_once('=').unwrap_or((rdn, ""));
            (parent, class.to_string(), id.to_string())
        };
        for s in &changed {
            let modifier = match s.op {
                "create" => "create",
                "delete" => "delete",
                _ => "update",
            };
            let (parent, _, id) = split(&s.fdn);
            mos.push((s.fdn.clone(), s.class.clone(), id, parent, Some(modifier)));
            known.insert(s.fdn.clone());
        }
        let mut above = Vec::new();
        for s in &changed {
            let mut fdn = s.fdn.as_str();
            while let Some((parent, _)) = fdn.rsplit_once(',') {
                if known.insert(parent.to_string()) {
                    above.push(parent.to_string());
                }
                fdn = parent;
            }
        }
        for fdn in above {
            let (parent, class, id) = split(&fdn);
            mos.push((fdn, class, id, parent, None));
        }
        for (fdn, class, id, _, _) in &mos {
            clean &= names::check_fdn(fdn).is_ok()
                && names::check_class(class).is_ok()
                && names::check_mo_id(id).is_ok()
                && names::check_class(&format!("vsData{class}")).is_ok();
        }
        for s in changed.iter().filter(|s| s.op != "delete") {
            let vs_data = !bulkcm_writer::TOP.contains(&s.class.as_str());
            for a in &s.attrs {
                let mut add = |member: Option<&String>, index: i32, v: &Scalar, written: i32| {
                    if let Some(t) = &v.text {
                        clean &= names::check_attribute(&a.name).is_ok()
                            && member.is_none_or(|m| names::check_member(m).is_ok())
                            && t.chars().all(xml_char);
                        values.push((s.fdn.clone(), a.name.clone(), member.cloned(), index, t.clone(), vs_data));
                        want.push((s.fdn.clone(), a.name.clone(), member.cloned(), written, t.clone()));
                    }
                };
                match &a.shape {
                    Shape::Scalar(v) => add(None, 0, v, 0),
                    Shape::Seq(items, _) => {
                        let mut written = 0;
                        for (i, v) in items.iter().enumerate() {
                            add(None, i as i32, v, written);
                            written += i32::from(v.text.is_some());
                        }
                    }
                    Shape::Struct(members) => members.iter().for_each(|(m, v)| add(Some(m), 0, v, 0)),
                    Shape::Structs(items, _) => {
                        // an item with no value is left out: the next is read as its place
                        let mut written = 0;
                        for (i, item) in items.iter().enumerate() {
                            item.iter().for_each(|(m, v)| add(Some(m), i as i32, v, written));
                            written += i32::from(item.iter().any(|(_, v)| v.text.is_some()));
                        }
                    }
                    Shape::Emptied | Shape::UnsetSeq => {}
                }
            }
        }
        let strings = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let Ok(mos_batch) = RecordBatch::try_from_iter([
            ("fdn", strings(mos.iter().map(|m| Some(m.0.clone())).collect())),
            ("class", strings(mos.iter().map(|m| Some(m.1.clone())).collect())),
            ("id", strings(mos.iter().map(|m| Some(m.2.clone())).collect())),
            ("parent_fdn", strings(mos.iter().map(|m| m.3.clone()).collect())),
            ("modifier", strings(mos.iter().map(|m| m.4.map(String::from)).collect())),
        ]) else {
            return false;
        };
        let Ok(values_batch) = RecordBatch::try_from_iter([
            ("fdn", strings(values.iter().map(|v| Some(v.0.clone())).collect())),
            ("attribute", strings(values.iter().map(|v| Some(v.1.clone())).collect())),
            ("member", strings(values.iter().map(|v| v.2.clone()).collect())),
            ("index", Arc::new(Int32Array::from(values.iter().map(|v| v.3).collect::<Vec<_>>())) as ArrayRef),
            ("value", strings(values.iter().map(|v| Some(v.4.clone())).collect())),
            ("vs_data", Arc::new(BooleanArray::from(values.iter().map(|v| v.5).collect::<Vec<_>>())) as ArrayRef),
        ]) else {
            return false;
        };
        let xml = match bulkcm_writer::network_xml(&[mos_batch], &[values_batch]) {
            Ok(xml) => xml,
            Err(e) => {
                assert!(!clean, "a plan of names of the grammar and values XML holds is written: {e}");
                return false;
            }
        };
        assert!(clean, "what XML cannot hold is refused");
        let file = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bulkCmConfigDataFile xmlns=\"configData.xsd\" \
             xmlns:xn=\"genericNrm.xsd\" xmlns:es=\"EricssonSpecificAttributes.xsd\">\n<fileHeader \
             fileFormatVersion=\"32.615 V4.5\" vendorName=\"Ericsson\"/>\n<configData dnPrefix=\"Undefined\">\n{xml}\
             </configData>\n<fileFooter dateTime=\"2000-01-01T00:00:00Z\"/>\n</bulkCmConfigDataFile>\n"
        );
        let Some(path) = super::scratch("enm_writers", file.as_bytes()) else { return false };
        let read = crate::bulkcm::read_bulkcm_with(&path, None, 1);
        let Ok(result) = read else { panic!("the written file reads: {:?}", read.err().map(|e| e.to_string())) };
        let (Some(mos), Some(values)) =
            (crate::bulkcm::table(&result.tables, "mos"), crate::bulkcm::table(&result.tables, "values"))
        else {
            panic!("a read has mos and values");
        };
        let column = |batch: &RecordBatch, name: &str| -> Vec<Option<String>> {
            let Some(c) = batch.column_by_name(name) else { return Vec::new() };
            if let Some(d) = c.as_dictionary_opt::<Int32Type>() {
                let words = d.values().as_string::<i32>();
                return d.keys().iter().map(|k| k.map(|k| words.value(k as usize).to_string())).collect();
            }
            c.as_string::<i32>().iter().map(|v| v.map(String::from)).collect()
        };
        let mut got_modifiers: Vec<(String, String)> =
            column(&mos, "fdn").into_iter().zip(column(&mos, "modifier")).filter_map(|(f, m)| Some((f?, m?))).collect();
        let mut want_modifiers: Vec<(String, String)> =
            mos_modifiers(&changed).into_iter().map(|(f, m)| (f.to_string(), m.to_string())).collect();
        got_modifiers.sort();
        want_modifiers.sort();
        assert_eq!(got_modifiers, want_modifiers, "one container per changed MO, with its modifier");
        let index = values.column_by_name("index").and_then(|c| c.as_primitive_opt::<Int32Type>());
        let Some(index) = index else { panic!("values have an index") };
        let mut got: Vec<Valued> = column(&values, "fdn")
            .into_iter()
            .zip(column(&values, "attribute"))
            .zip(column(&values, "member"))
            .zip(index.iter())
            .zip(column(&values, "value"))
            .map(|((((f, a), m), i), v)| {
                (f.unwrap_or_default(), a.unwrap_or_default(), m, i.unwrap_or(-9), v.unwrap_or_default())
            })
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "the values read back are the plan's, exactly");
        true
    }

    fn mos_modifiers<'s>(changed: &[&'s Step]) -> Vec<(&'s str, &'static str)> {
        changed
            .iter()
            .map(|s| {
                let m = match s.op {
                    "create" => "create",
                    "delete" => "delete",
                    _ => "update",
                };
                (s.fdn.as_str(), m)
            })
            .collect()
    }

    /// What one input made: steps, steps written by cmedit, whether the XML was written.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Made {
        pub steps: usize,
        pub cmedit: usize,
        pub xml: bool,
    }

    pub(super) fn check(data: &[u8]) -> Made {
        let plan = plan_of(data);
        let (rows, spans) = rows_of(&plan);
        let Some(batch) = rows.batch() else { return Made { steps: plan.len(), cmedit: 0, xml: false } };
        let cmedit = check_cmedit(&plan, &batch, &spans, Form::Fdn);
        assert_eq!(check_cmedit(&plan, &batch, &spans, Form::Node), cmedit, "both forms write the same steps");
        check_values(&plan, &batch, &spans, Dialect::Dynamic);
        check_values(&plan, &batch, &spans, Dialect::Moshell);
        Made { steps: plan.len(), cmedit, xml: check_bulkcm(&plan) }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn field(ctrl: u8, parts: &[&str]) -> Vec<u8> {
            let mut out = vec![0xFF, ctrl];
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(0xFE);
                }
                out.extend_from_slice(p.as_bytes());
            }
            out
        }

        #[test]
        fn the_bytes_make_a_plan_that_is_written_and_read_back() {
            let mut data = b"\x01C1".to_vec(); // a create of Unit0=C1
            data.extend(field(0, &["userLabel", "North, 3"])); // a string
            data.extend(field(2 | 1 << 3, &["plmn", "mcc", "240"])); // a struct member, integer
            data.extend(field(1 << 3, &["plmn", "mnc", "01"]));
            data.extend(field(7 | 2 << 3, &["refs", "SubNetwork=S,ManagedElement=1,X=1"])); // a moRef item
            data.extend(field(2 | 6 << 3, &["2"])); // a new step: delete Unit1=2
            let plan = plan_of(&data);
            assert_eq!(plan.len(), 2);
            assert_eq!(plan[0].attrs.len(), 3);
            assert_eq!(check(&data), Made { steps: 2, cmedit: 2, xml: true });
            // a value with a line feed: refused by cmedit, carried by the XML
            let mut data = b"\x00C1".to_vec();
            data.extend(field(0, &["userLabel", "a\nb"]));
            assert_eq!(check(&data), Made { steps: 1, cmedit: 0, xml: true });
            // a hostile MO id: refused by every writer
            assert_eq!(check(b"\x40C1 -ALL"), Made { steps: 1, cmedit: 0, xml: false });
        }
    }
}
