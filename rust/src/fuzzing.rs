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
            .chain(flat.mos.iter().map(|m| m.path.clone()))
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
