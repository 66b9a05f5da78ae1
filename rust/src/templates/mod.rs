//! RTB templates (`../shared/reference/rtb-and-workbook.md` §2) read in bulk: many files on
//! all cores, each parsed as strict JSON (sonic-rs, which keeps key order and repeated keys)
//! and flattened (`flatten`) into Arrow tables: `files`, `mos`, `values` (the long form of the
//! Network's values), `expressions`, `calls` and `problems`. Rows carry JSON pointers; the
//! lines and columns of those that end in a finding come from `locate`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use arrow_array::builder::{BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder};
use rayon::prelude::*;

use crate::error::{Error, Location, Result};
use crate::tables::{BatchParts, Table};
use crate::xml::Progress;

pub mod document;
pub mod flatten;
pub mod key;
pub mod locate;

pub use flatten::Flat;

/// The largest template read (a real one is under 300 KB).
pub const MAX_BYTES: u64 = 64 << 20;
/// The deepest nesting of JSON arrays and objects read.
pub const MAX_DEPTH: usize = 256;

/// What became of one file.
#[derive(Debug, Default)]
pub struct FileRead {
    pub path: String,
    pub bytes: u64,
    /// Why the file could not be read as a template: message, line, column.
    pub error: Option<(String, u64, u64)>,
    /// `io` (the file could not be read), `json` (it is not a template's JSON) or `limit` (it
    /// passes a bound: [`MAX_BYTES`], [`MAX_DEPTH`], [`MAX_VALUES`]).
    pub error_kind: &'static str,
    pub flat: Flat,
}

/// The JSON values a template may hold (items, members and the root; a real one holds a few
/// thousand): what a template is read into grows with them.
pub const MAX_VALUES: usize = 250_000;

/// What makes JSON text too big to read into a template, found by one pass over its bytes
/// (outside strings) before anything is built: nesting deeper than `depth`, or more than
/// `values` values (members, counted at their `:`, items and the root). The offset where the
/// bound is passed, and which bound.
pub fn too_big(bytes: &[u8], depth: usize, values: usize) -> Option<(usize, String)> {
    // per open container: whether it is an array
    let mut open: Vec<bool> = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    let mut count = 1usize; // the root
    let mut after_open = false; // the last token was '[': an item follows unless ']'
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        let item = match b {
            b',' => open.last() == Some(&true),
            b':' => true,
            _ => after_open && b != b']',
        };
        after_open = false;
        if item {
            count += 1;
            if count > values {
                let n = flatten::thousands(values);
                return Some((
                    i,
                    format!("more than {n} JSON values (items and members; a template holds at most {n})"),
                ));
            }
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                open.push(b == b'[');
                after_open = b == b'[';
                if open.len() > depth {
                    return Some((i, format!("arrays and objects nested more than {depth} deep")));
                }
            }
            b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
    }
    None
}

/// Read and flatten one template.
pub fn read_one(path: &Path) -> FileRead {
    let mut out = FileRead { path: path.display().to_string(), error_kind: "", ..FileRead::default() };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(err) => {
            out.error = Some((format!("cannot read the file: {err}"), 0, 0));
            out.error_kind = "io";
            return out;
        }
    };
    if !meta.is_file() {
        out.error = Some((if meta.is_dir() { "a folder, not a file" } else { "not a regular file" }.into(), 0, 0));
        out.error_kind = "io";
        return out;
    }
    out.bytes = meta.len();
    if meta.len() > MAX_BYTES {
        out.error = Some((format!("{} bytes; a template is at most {} MiB", meta.len(), MAX_BYTES >> 20), 0, 0));
        out.error_kind = "limit";
        return out;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(err) => {
            out.error = Some((format!("cannot read the file: {err}"), 0, 0));
            out.error_kind = "io";
            return out;
        }
    };
    out.error_kind = "json";
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(err) => {
            let (line, column) = locate::line_column(&String::from_utf8_lossy(&bytes), err.valid_up_to());
            out.error = Some(("not UTF-8 text".into(), line, column));
            return out;
        }
    };
    if let Some((at, why)) = too_big(&bytes, MAX_DEPTH, MAX_VALUES) {
        let (line, column) = locate::line_column(text, at);
        out.error = Some((why, line, column));
        out.error_kind = "limit";
        return out;
    }
    match sonic_rs::from_str::<sonic_rs::Value>(text) {
        Ok(doc) => {
            out.flat = Flat::of(&doc);
            drop(doc);
            for d in locate::duplicate_keys(text) {
                let (line, column) = d.at.last().copied().unwrap_or((0, 0));
                out.flat.problems.push(flatten::ProblemRow {
                    path: d.pointer(),
                    code: "duplicate_key",
                    message: d.message(),
                    severity: "warning",
                    at: Some((line, column)),
                });
            }
        }
        // the parser that keeps spans says what is wrong, and where
        Err(err) => {
            out.error = Some(match locate::parse(text) {
                Err(located) => located,
                Ok(_) => (format!("not JSON: {err}"), err.line() as u64, err.column() as u64),
            })
        }
    }
    out
}

/// Read `paths` on up to `threads` threads (0: one per core), counting files done in
/// `progress.bytes`.
pub fn read_many(paths: &[PathBuf], threads: usize, progress: Option<&Progress>) -> Result<Vec<FileRead>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::Value {
        loc: Location::default(),
        message: format!("cannot start the reading threads: {e}"),
    })?;
    let cancelled = || progress.is_some_and(|p| p.cancel.load(Ordering::Relaxed));
    let files: Vec<Option<FileRead>> = pool.install(|| {
        paths
            .par_iter()
            .map(|p| {
                if cancelled() {
                    return None;
                }
                let read = read_one(p);
                if let Some(pr) = progress {
                    pr.bytes.fetch_add(1, Ordering::Relaxed);
                }
                Some(read)
            })
            .collect()
    });
    if cancelled() {
        return Err(Error::Io { loc: Location::default(), message: "interrupted".into() });
    }
    Ok(files.into_iter().flatten().collect())
}

fn list_of(values: &[String], b: &mut ListBuilder<StringBuilder>) {
    for v in values {
        b.values().append_value(v);
    }
    b.append(true);
}

/// The tables of many templates read: `files`, `mos`, `values`, `expressions`, `calls`,
/// `problems` (see `docs/tables.md`). `template` is the file's row in `files`; `mo` and
/// `parent` are rows of `mos`.
pub fn tables(files: &[FileRead]) -> std::result::Result<Vec<Table>, arrow_schema::ArrowError> {
    let (mut f_path, mut f_bytes, mut f_error) = (StringBuilder::new(), Int64Builder::new(), StringBuilder::new());
    let mut f_kind = StringBuilder::new();
    let (mut f_line, mut f_column, mut f_meta) = (Int64Builder::new(), Int64Builder::new(), StringBuilder::new());
    let mut f_order = ListBuilder::new(StringBuilder::new());
    let mut f_functions = ListBuilder::new(StringBuilder::new());
    let mut f_vars = ListBuilder::new(StringBuilder::new());

    let (mut m_template, mut m_parent, mut m_path) = (Int32Builder::new(), Int32Builder::new(), StringBuilder::new());
    let (mut m_key, mut m_class, mut m_kind) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut m_ids = ListBuilder::new(StringBuilder::new());
    let (mut m_at, mut m_delete) = (BooleanBuilder::new(), BooleanBuilder::new());
    let (mut m_context, mut m_phase) = (StringBuilder::new(), StringBuilder::new());

    let (mut v_template, mut v_mo, mut v_attribute) = (Int32Builder::new(), Int32Builder::new(), StringBuilder::new());
    let (mut v_member, mut v_index, mut v_value) = (StringBuilder::new(), Int32Builder::new(), StringBuilder::new());
    let (mut v_kind, mut v_path) = (StringBuilder::new(), StringBuilder::new());
    let (mut v_context, mut v_phase) = (StringBuilder::new(), StringBuilder::new());

    let (mut e_template, mut e_path) = (Int32Builder::new(), StringBuilder::new());
    let (mut e_directive, mut e_text) = (StringBuilder::new(), StringBuilder::new());
    let (mut e_name, mut e_args) = (StringBuilder::new(), ListBuilder::new(StringBuilder::new()));
    let (mut c_template, mut c_path, mut c_what) = (Int32Builder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut c_kind, mut c_line) = (StringBuilder::new(), Int32Builder::new());
    let (mut p_template, mut p_path) = (Int32Builder::new(), StringBuilder::new());
    let (mut p_code, mut p_message) = (StringBuilder::new(), StringBuilder::new());
    let (mut p_severity, mut p_line, mut p_column) = (StringBuilder::new(), Int64Builder::new(), Int64Builder::new());

    let mut mo_base = 0i32;
    for (t, file) in files.iter().enumerate() {
        let t = t as i32;
        let flat = &file.flat;
        f_path.append_value(&file.path);
        f_bytes.append_value(file.bytes as i64);
        f_error.append_option(file.error.as_ref().map(|e| e.0.as_str()));
        f_kind.append_option(file.error.as_ref().map(|_| file.error_kind));
        f_line.append_option(file.error.as_ref().map(|e| e.1 as i64));
        f_column.append_option(file.error.as_ref().map(|e| e.2 as i64));
        f_meta.append_option(flat.meta.as_deref());
        list_of(&flat.plan_order, &mut f_order);
        list_of(&flat.functions, &mut f_functions);
        list_of(&flat.vars, &mut f_vars);
        for m in &flat.mos {
            m_template.append_value(t);
            m_parent.append_option(m.parent.map(|p| mo_base + p as i32));
            m_path.append_value(&m.path);
            m_key.append_value(&m.key);
            m_class.append_value(&m.class);
            m_kind.append_value(m.ids.kind());
            match &m.ids {
                key::Ids::Listed(ids) => list_of(ids, &mut m_ids),
                _ => m_ids.append(true),
            }
            m_at.append_value(m.at);
            m_delete.append_value(m.delete);
            m_context.append_value(m.context);
            m_phase.append_option(m.phase.as_deref());
        }
        for v in &flat.values {
            v_template.append_value(t);
            v_mo.append_value(mo_base + v.mo as i32);
            v_attribute.append_value(&v.attribute);
            v_member.append_option(v.member.as_deref());
            v_index.append_option(v.index);
            v_value.append_option(v.value.as_deref());
            v_kind.append_value(v.kind);
            v_path.append_value(&v.path);
            v_context.append_value(v.context);
            v_phase.append_option(v.phase.as_deref());
        }
        for e in &flat.expressions {
            e_template.append_value(t);
            e_path.append_value(&e.path);
            e_directive.append_value(e.directive);
            e_text.append_value(&e.text);
            e_name.append_option(e.name.as_deref());
            list_of(&e.args, &mut e_args);
        }
        for c in &flat.calls {
            c_template.append_value(t);
            c_path.append_value(&c.path);
            c_what.append_value(&c.what);
            c_kind.append_value(c.kind);
            c_line.append_value(c.line as i32);
        }
        for p in &flat.problems {
            p_template.append_value(t);
            p_path.append_value(&p.path);
            p_code.append_value(p.code);
            p_message.append_value(&p.message);
            p_severity.append_value(p.severity);
            p_line.append_option(p.at.map(|a| a.0 as i64));
            p_column.append_option(p.at.map(|a| a.1 as i64));
        }
        mo_base += flat.mos.len() as i32;
    }

    let mut p = BatchParts::default();
    p.utf8("path", f_path, false)
        .int64("bytes", f_bytes)
        .utf8("error", f_error, true)
        .utf8("error_kind", f_kind, true)
        .int64("error_line", f_line)
        .int64("error_column", f_column)
        .utf8("meta", f_meta, true)
        .list_utf8("plan_order", f_order)
        .list_utf8("functions", f_functions)
        .list_utf8("vars", f_vars);
    let files_batch = p.finish()?;

    let mut p = BatchParts::default();
    p.int32("template", m_template)
        .int32("parent", m_parent)
        .utf8("path", m_path, false)
        .utf8("key", m_key, false)
        .utf8("class", m_class, false)
        .utf8("ids_kind", m_kind, false)
        .list_utf8("ids", m_ids)
        .boolean("at", m_at, false)
        .boolean("delete", m_delete, false)
        .utf8("context", m_context, false)
        .utf8("phase", m_phase, true);
    let mos_batch = p.finish()?;

    let mut p = BatchParts::default();
    p.int32("template", v_template)
        .int32("mo", v_mo)
        .utf8("attribute", v_attribute, false)
        .utf8("member", v_member, true)
        .int32("index", v_index)
        .utf8("value", v_value, true)
        .utf8("kind", v_kind, false)
        .utf8("path", v_path, false)
        .utf8("context", v_context, false)
        .utf8("phase", v_phase, true);
    let values_batch = p.finish()?;

    let mut p = BatchParts::default();
    p.int32("template", e_template)
        .utf8("path", e_path, false)
        .utf8("directive", e_directive, false)
        .utf8("text", e_text, false)
        .utf8("name", e_name, true)
        .list_utf8("args", e_args);
    let expressions_batch = p.finish()?;

    let mut p = BatchParts::default();
    p.int32("template", c_template)
        .utf8("path", c_path, false)
        .utf8("what", c_what, false)
        .utf8("kind", c_kind, false)
        .int32("line", c_line);
    let calls_batch = p.finish()?;

    let mut p = BatchParts::default();
    p.int32("template", p_template)
        .utf8("path", p_path, false)
        .utf8("code", p_code, false)
        .utf8("message", p_message, false)
        .utf8("severity", p_severity, false)
        .int64("line", p_line)
        .int64("column", p_column);
    let problems_batch = p.finish()?;

    Ok(vec![
        Table::new("files", files_batch),
        Table::new("mos", mos_batch),
        Table::new("values", values_batch),
        Table::new("expressions", expressions_batch),
        Table::new("calls", calls_batch),
        Table::new("problems", problems_batch),
    ])
}

/// Read `paths` and return their tables.
pub fn read_templates(paths: &[PathBuf], threads: usize, progress: Option<&Progress>) -> Result<Vec<Table>> {
    let files = read_many(paths, threads, progress)?;
    tables(&files).map_err(|err| Error::Value { loc: Location::default(), message: err.to_string() })
}

#[cfg(test)]
mod tests;
