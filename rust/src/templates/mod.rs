//! RTB templates (`../shared/reference/rtb-and-workbook.md` §2) read in bulk: many files on
//! all cores, each parsed as strict JSON (sonic-rs, which keeps key order and repeated keys)
//! and flattened (`flatten`) into Arrow tables: `files`, `mos`, `values` (the long form of the
//! Network's values), `expressions`, `calls` and `problems`. Rows carry JSON pointers; the
//! lines and columns of those that end in a finding come from `locate`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use arrow_array::builder::{BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
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
    /// The text starts with `{` (after white space and a byte order mark, within its first
    /// [`HEAD_BYTES`]): a typed template written in JSON (an object), not an RTB template.
    pub object: bool,
    /// The text, where it was asked to be kept (to locate findings without reading it again)
    /// and it is UTF-8 within the bounds.
    pub text: Option<String>,
}

/// How much of a file's head is looked at to tell a JSON object from a list.
pub const HEAD_BYTES: usize = 512;

/// Whether `head` (the start of a file) opens a JSON object: its first character after white
/// space and a UTF-8 byte order mark, within [`HEAD_BYTES`], is `{`.
pub fn opens_object(head: &[u8]) -> bool {
    let head = &head[..head.len().min(HEAD_BYTES)];
    let bytes = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Whether any object in `value` holds a key twice (`$comment` included): only then is the
/// text scanned for repeated keys with their places.
fn repeats_a_key(value: &sonic_rs::Value) -> bool {
    use sonic_rs::JsonContainerTrait;
    if let Some(items) = value.as_array() {
        return items.iter().any(repeats_a_key);
    }
    let Some(obj) = value.as_object() else { return false };
    let keys: Vec<&str> = obj.iter().map(|(k, _)| k).collect();
    let repeated = if keys.len() <= 16 {
        keys.iter().enumerate().any(|(i, k)| keys[i + 1..].contains(k))
    } else {
        let mut seen = rustc_hash::FxHashSet::default();
        !keys.iter().all(|k| seen.insert(*k))
    };
    repeated || obj.iter().any(|(_, v)| repeats_a_key(v))
}

/// The JSON values a template may hold (items, members and the root; a real one holds a few
/// thousand): what a template is read into grows with them.
pub const MAX_VALUES: usize = 250_000;

/// What makes JSON text too big to read into a template, found by one pass over its bytes
/// (outside strings) before anything is built: nesting deeper than `depth`, or more than
/// `values` values (members, counted at their `:`, items and the root). The offset where the
/// bound is passed, and which bound.
pub fn too_big(bytes: &[u8], depth: usize, values: usize) -> Option<(usize, String)> {
    json_values(bytes, depth, values).err()
}

/// How many JSON values the text holds (as [`too_big`] counts them), or where it passes a
/// bound and which.
pub fn json_values(bytes: &[u8], depth: usize, values: usize) -> std::result::Result<usize, (usize, String)> {
    // per open container: whether it is an array
    let mut open: Vec<bool> = Vec::new();
    let mut count = 1usize; // the root
    let mut after_open = false; // the last token was '[': an item follows unless ']'
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
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
                return Err((
                    i,
                    format!("more than {n} JSON values (items and members; a template holds at most {n})"),
                ));
            }
        }
        match b {
            b'"' => {
                // past the string: its closing quote, escaped characters skipped
                let mut j = i + 1;
                loop {
                    match bytes.get(j..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
                        Some(k) if bytes[j + k] == b'\\' => j += k + 2,
                        Some(k) => {
                            j += k + 1;
                            break;
                        }
                        None => {
                            j = bytes.len();
                            break;
                        }
                    }
                }
                i = j;
                continue;
            }
            b'[' | b'{' => {
                open.push(b == b'[');
                after_open = b == b'[';
                if open.len() > depth {
                    return Err((i, format!("arrays and objects nested more than {depth} deep")));
                }
            }
            b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Ok(count)
}

/// Read and flatten one template.
pub fn read_one(path: &Path) -> FileRead {
    read_file(path, false)
}

/// Read and flatten one template, keeping its text if `keep_text`.
pub fn read_file(path: &Path, keep_text: bool) -> FileRead {
    let mut out = FileRead { path: path.display().to_string(), error_kind: "", ..FileRead::default() };
    let (file, meta) = match opened(path) {
        Ok(opened) => opened,
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
        out.object = file.is_some() && head_opens_object(path);
        out.error = Some((format!("{} bytes; a template is at most {} MiB", meta.len(), MAX_BYTES >> 20), 0, 0));
        out.error_kind = "limit";
        return out;
    }
    let read = file.ok_or(()).and_then(|f| {
        use std::io::Read;
        let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
        // no size asked for again: the capacity holds the file and one byte to see its end
        (&f).take(MAX_BYTES + 1).read_to_end(&mut bytes).map(|_| bytes).map_err(|err| {
            out.error = Some((format!("cannot read the file: {err}"), 0, 0));
        })
    });
    let bytes = match read {
        Ok(b) => b,
        Err(()) => {
            if out.error.is_none() {
                out.error = Some((format!("cannot read the file: {}", open_error(path)), 0, 0));
            }
            out.error_kind = "io";
            return out;
        }
    };
    out.object = opens_object(&bytes);
    out.error_kind = "json";
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(err) => {
            let (line, column) = locate::line_column(&String::from_utf8_lossy(&bytes), err.valid_up_to());
            out.error = Some(("not UTF-8 text".into(), line, column));
            return out;
        }
    };
    let count = match json_values(&bytes, MAX_DEPTH, MAX_VALUES) {
        Ok(count) => count,
        Err((at, why)) => {
            let (line, column) = locate::line_column(text, at);
            out.error = Some((why, line, column));
            out.error_kind = "limit";
            return out;
        }
    };
    match sonic_rs::from_str::<sonic_rs::Value>(text) {
        Ok(doc) => {
            out.flat = Flat::sized(&doc, bytes.len(), count);
            let repeats = repeats_a_key(&doc);
            drop(doc);
            for d in if repeats { locate::duplicate_keys(text) } else { Vec::new() } {
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
    if keep_text && out.error.is_none() {
        // the bytes were checked to be UTF-8 above
        out.text = String::from_utf8(bytes).ok();
    }
    out
}

/// The file at `path` opened for reading, and what it is. A path that cannot be opened is
/// still said to be what it is (a folder, a socket, a file too big) where it can be looked at:
/// then the file is `None`. Opening does not wait on a FIFO (it is not a regular file).
fn opened(path: &Path) -> std::io::Result<(Option<std::fs::File>, std::fs::Metadata)> {
    #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        match std::fs::OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(path) {
            Ok(f) => {
                let meta = f.metadata()?;
                Ok((Some(f), meta))
            }
            Err(_) => Ok((None, std::fs::metadata(path)?)),
        }
    }
    #[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
    {
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Ok((None, meta));
        }
        Ok((std::fs::File::open(path).ok(), meta))
    }
}

/// Why the regular file at `path` cannot be opened.
fn open_error(path: &Path) -> std::io::Error {
    match std::fs::File::open(path) {
        Err(err) => err,
        Ok(_) => std::io::Error::other("it could not be opened"),
    }
}

/// Whether the file at `path` opens a JSON object (its head read only).
fn head_opens_object(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; HEAD_BYTES];
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    let n = f.read(&mut head).unwrap_or(0);
    opens_object(&head[..n])
}

/// Read `paths` on up to `threads` threads (0: one per core), counting files done in
/// `progress.bytes`.
pub fn read_many(paths: &[PathBuf], threads: usize, progress: Option<&Progress>) -> Result<Vec<FileRead>> {
    let pool = crate::pools::pool(threads, 0, "reading")?;
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

/// The columns of the six tables, appended to file by file. `template`, `mo`, `parent` and
/// `slot` count from the first file, MO and value appended here: a run of files is built on
/// one thread and the runs are joined by [`join`].
struct Builders {
    files: usize,
    mos: usize,
    values: usize,
    f_path: StringBuilder,
    f_bytes: Int64Builder,
    f_error: StringBuilder,
    f_kind: StringBuilder,
    f_line: Int64Builder,
    f_column: Int64Builder,
    f_meta: StringBuilder,
    f_order: ListBuilder<StringBuilder>,
    f_functions: ListBuilder<StringBuilder>,
    f_vars: ListBuilder<StringBuilder>,
    f_object: BooleanBuilder,
    m_template: Int32Builder,
    m_parent: Int32Builder,
    m_path: StringBuilder,
    m_key: StringBuilder,
    m_class: StringBuilder,
    m_kind: StringBuilder,
    m_ids: ListBuilder<StringBuilder>,
    m_at: BooleanBuilder,
    m_delete: BooleanBuilder,
    m_context: StringBuilder,
    m_phase: StringBuilder,
    v_template: Int32Builder,
    v_mo: Int32Builder,
    v_attribute: StringBuilder,
    v_member: StringBuilder,
    v_index: Int32Builder,
    v_value: StringBuilder,
    v_kind: StringBuilder,
    v_path: StringBuilder,
    v_context: StringBuilder,
    v_phase: StringBuilder,
    v_slot: Int32Builder,
    e_template: Int32Builder,
    e_path: StringBuilder,
    e_directive: StringBuilder,
    e_text: StringBuilder,
    e_name: StringBuilder,
    e_args: ListBuilder<StringBuilder>,
    c_template: Int32Builder,
    c_path: StringBuilder,
    c_what: StringBuilder,
    c_kind: StringBuilder,
    c_line: Int32Builder,
    p_template: Int32Builder,
    p_path: StringBuilder,
    p_code: StringBuilder,
    p_message: StringBuilder,
    p_severity: StringBuilder,
    p_line: Int64Builder,
    p_column: Int64Builder,
}

impl Builders {
    fn new() -> Self {
        let list = || ListBuilder::new(StringBuilder::new());
        Builders {
            files: 0,
            mos: 0,
            values: 0,
            f_path: StringBuilder::new(),
            f_bytes: Int64Builder::new(),
            f_error: StringBuilder::new(),
            f_kind: StringBuilder::new(),
            f_line: Int64Builder::new(),
            f_column: Int64Builder::new(),
            f_meta: StringBuilder::new(),
            f_order: list(),
            f_functions: list(),
            f_vars: list(),
            f_object: BooleanBuilder::new(),
            m_template: Int32Builder::new(),
            m_parent: Int32Builder::new(),
            m_path: StringBuilder::new(),
            m_key: StringBuilder::new(),
            m_class: StringBuilder::new(),
            m_kind: StringBuilder::new(),
            m_ids: list(),
            m_at: BooleanBuilder::new(),
            m_delete: BooleanBuilder::new(),
            m_context: StringBuilder::new(),
            m_phase: StringBuilder::new(),
            v_template: Int32Builder::new(),
            v_mo: Int32Builder::new(),
            v_attribute: StringBuilder::new(),
            v_member: StringBuilder::new(),
            v_index: Int32Builder::new(),
            v_value: StringBuilder::new(),
            v_kind: StringBuilder::new(),
            v_path: StringBuilder::new(),
            v_context: StringBuilder::new(),
            v_phase: StringBuilder::new(),
            v_slot: Int32Builder::new(),
            e_template: Int32Builder::new(),
            e_path: StringBuilder::new(),
            e_directive: StringBuilder::new(),
            e_text: StringBuilder::new(),
            e_name: StringBuilder::new(),
            e_args: list(),
            c_template: Int32Builder::new(),
            c_path: StringBuilder::new(),
            c_what: StringBuilder::new(),
            c_kind: StringBuilder::new(),
            c_line: Int32Builder::new(),
            p_template: Int32Builder::new(),
            p_path: StringBuilder::new(),
            p_code: StringBuilder::new(),
            p_message: StringBuilder::new(),
            p_severity: StringBuilder::new(),
            p_line: Int64Builder::new(),
            p_column: Int64Builder::new(),
        }
    }

    /// Append the rows of one file.
    fn push(&mut self, file: &FileRead) {
        let t = self.files as i32;
        let (mo_base, value_base) = (self.mos as i32, self.values as i32);
        let flat = &file.flat;
        self.f_path.append_value(&file.path);
        self.f_bytes.append_value(file.bytes as i64);
        self.f_error.append_option(file.error.as_ref().map(|e| e.0.as_str()));
        self.f_kind.append_option(file.error.as_ref().map(|_| file.error_kind));
        self.f_line.append_option(file.error.as_ref().map(|e| e.1 as i64));
        self.f_column.append_option(file.error.as_ref().map(|e| e.2 as i64));
        self.f_meta.append_option(flat.meta.as_deref());
        list_of(&flat.plan_order, &mut self.f_order);
        list_of(&flat.functions, &mut self.f_functions);
        list_of(&flat.vars, &mut self.f_vars);
        self.f_object.append_value(file.object);
        for m in &flat.mos {
            self.m_template.append_value(t);
            self.m_parent.append_option(m.parent.map(|p| mo_base + p as i32));
            self.m_path.append_value(flat.str(m.path));
            self.m_key.append_value(flat.str(m.key));
            self.m_class.append_value(flat.str(m.class));
            self.m_kind.append_value(m.ids.kind());
            match &m.ids {
                key::Ids::Listed(ids) => list_of(ids, &mut self.m_ids),
                _ => self.m_ids.append(true),
            }
            self.m_at.append_value(m.at);
            self.m_delete.append_value(m.delete);
            self.m_context.append_value(m.context);
            self.m_phase.append_option(flat.opt(m.phase));
        }
        // the first value of each slot (MO, attribute, member, item) of this template
        let mut slots: rustc_hash::FxHashMap<(u32, &str, &str, i32), i32> =
            rustc_hash::FxHashMap::with_capacity_and_hasher(flat.values.len(), Default::default());
        for (i, v) in flat.values.iter().enumerate() {
            let (attribute, member) = (flat.str(v.attribute), flat.opt(v.member));
            self.v_template.append_value(t);
            self.v_mo.append_value(mo_base + v.mo as i32);
            self.v_attribute.append_value(attribute);
            self.v_member.append_option(member);
            self.v_index.append_option(v.index);
            self.v_value.append_option(flat.opt(v.value));
            self.v_kind.append_value(v.kind);
            self.v_path.append_value(flat.str(v.path));
            self.v_context.append_value(v.context);
            self.v_phase.append_option(flat.opt(v.phase));
            let slot = (v.mo, attribute, member.unwrap_or(""), v.index.unwrap_or(0));
            self.v_slot.append_value(*slots.entry(slot).or_insert(value_base + i as i32));
        }
        for e in &flat.expressions {
            self.e_template.append_value(t);
            self.e_path.append_value(&e.path);
            self.e_directive.append_value(e.directive);
            self.e_text.append_value(&e.text);
            self.e_name.append_option(e.name.as_deref());
            list_of(&e.args, &mut self.e_args);
        }
        for c in &flat.calls {
            self.c_template.append_value(t);
            self.c_path.append_value(&c.path);
            self.c_what.append_value(&c.what);
            self.c_kind.append_value(c.kind);
            self.c_line.append_value(c.line as i32);
        }
        for p in &flat.problems {
            self.p_template.append_value(t);
            self.p_path.append_value(&p.path);
            self.p_code.append_value(p.code);
            self.p_message.append_value(&p.message);
            self.p_severity.append_value(p.severity);
            self.p_line.append_option(p.at.map(|a| a.0 as i64));
            self.p_column.append_option(p.at.map(|a| a.1 as i64));
        }
        self.files += 1;
        self.mos += flat.mos.len();
        self.values += flat.values.len();
    }

    /// The six batches, in the order of [`TABLES`].
    fn finish(self) -> std::result::Result<Run, arrow_schema::ArrowError> {
        let mut p = BatchParts::default();
        p.utf8("path", self.f_path, false)
            .int64("bytes", self.f_bytes)
            .utf8("error", self.f_error, true)
            .utf8("error_kind", self.f_kind, true)
            .int64("error_line", self.f_line)
            .int64("error_column", self.f_column)
            .utf8("meta", self.f_meta, true)
            .list_utf8("plan_order", self.f_order)
            .list_utf8("functions", self.f_functions)
            .list_utf8("vars", self.f_vars)
            .boolean("object", self.f_object, false);
        let files = p.finish()?;

        let mut p = BatchParts::default();
        p.int32("template", self.m_template)
            .int32("parent", self.m_parent)
            .utf8("path", self.m_path, false)
            .utf8("key", self.m_key, false)
            .utf8("class", self.m_class, false)
            .utf8("ids_kind", self.m_kind, false)
            .list_utf8("ids", self.m_ids)
            .boolean("at", self.m_at, false)
            .boolean("delete", self.m_delete, false)
            .utf8("context", self.m_context, false)
            .utf8("phase", self.m_phase, true);
        let mos = p.finish()?;

        let mut p = BatchParts::default();
        p.int32("template", self.v_template)
            .int32("mo", self.v_mo)
            .utf8("attribute", self.v_attribute, false)
            .utf8("member", self.v_member, true)
            .int32("index", self.v_index)
            .utf8("value", self.v_value, true)
            .utf8("kind", self.v_kind, false)
            .utf8("path", self.v_path, false)
            .utf8("context", self.v_context, false)
            .utf8("phase", self.v_phase, true)
            .int32("slot", self.v_slot);
        let values = p.finish()?;

        let mut p = BatchParts::default();
        p.int32("template", self.e_template)
            .utf8("path", self.e_path, false)
            .utf8("directive", self.e_directive, false)
            .utf8("text", self.e_text, false)
            .utf8("name", self.e_name, true)
            .list_utf8("args", self.e_args);
        let expressions = p.finish()?;

        let mut p = BatchParts::default();
        p.int32("template", self.c_template)
            .utf8("path", self.c_path, false)
            .utf8("what", self.c_what, false)
            .utf8("kind", self.c_kind, false)
            .int32("line", self.c_line);
        let calls = p.finish()?;

        let mut p = BatchParts::default();
        p.int32("template", self.p_template)
            .utf8("path", self.p_path, false)
            .utf8("code", self.p_code, false)
            .utf8("message", self.p_message, false)
            .utf8("severity", self.p_severity, false)
            .int64("line", self.p_line)
            .int64("column", self.p_column);
        let problems = p.finish()?;
        Ok(Run {
            counts: [self.files, self.mos, self.values],
            batches: [files, mos, values, expressions, calls, problems],
        })
    }
}

/// The tables a read gives, in order.
pub const TABLES: [&str; 6] = ["files", "mos", "values", "expressions", "calls", "problems"];

/// Columns given dictionary-encoded (table, column): names and values repeat across
/// templates, so a check judges each distinct one once.
const DICTIONARY: [(&str, &str); 5] =
    [("mos", "class"), ("values", "attribute"), ("values", "member"), ("values", "value"), ("values", "kind")];

/// The tables of a run of files, counted from its first file, MO and value.
struct Run {
    /// Files, MOs, values.
    counts: [usize; 3],
    batches: [RecordBatch; 6],
}

/// What a row number column counts (an offset into files, MOs or values), by table and column.
fn counted(table: &str, column: &str) -> Option<usize> {
    match (table, column) {
        ("files", _) => None,
        (_, "template") => Some(0),
        ("mos", "parent") | ("values", "mo") => Some(1),
        ("values", "slot") => Some(2),
        _ => None,
    }
}

/// `column` (text) dictionary-encoded, its values in order of first appearance.
fn dictionary_encoded(column: &ArrayRef) -> std::result::Result<ArrayRef, arrow_schema::ArrowError> {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    let text = column.as_string_opt::<i32>().ok_or_else(|| {
        arrow_schema::ArrowError::InvalidArgumentError("a dictionary column must be text".to_string())
    })?;
    let mut ids: rustc_hash::FxHashMap<&str, i32> = rustc_hash::FxHashMap::default();
    let mut values = StringBuilder::new();
    let mut keys = Int32Builder::with_capacity(text.len());
    for i in 0..text.len() {
        if text.is_null(i) {
            keys.append_null();
            continue;
        }
        let v = text.value(i);
        let next = ids.len() as i32;
        let id = *ids.entry(v).or_insert_with(|| {
            values.append_value(v);
            next
        });
        keys.append_value(id);
    }
    let array = arrow_array::DictionaryArray::<arrow_array::types::Int32Type>::try_new(
        keys.finish(),
        std::sync::Arc::new(values.finish()),
    )?;
    Ok(std::sync::Arc::new(array))
}

/// Runs joined into one batch per table: row numbers moved past the runs before, the
/// [`DICTIONARY`] columns encoded over all rows.
fn join(runs: Vec<Run>) -> std::result::Result<Vec<Table>, arrow_schema::ArrowError> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let runs = if runs.is_empty() { vec![Builders::new().finish()?] } else { runs };
    let mut bases = Vec::with_capacity(runs.len());
    let mut at = [0usize; 3];
    for r in &runs {
        bases.push(at);
        for (a, n) in at.iter_mut().zip(r.counts) {
            *a += n;
        }
    }
    let mut out = Vec::with_capacity(TABLES.len());
    for (k, name) in TABLES.iter().enumerate() {
        let schema = runs[0].batches[k].schema();
        let rows: usize = runs.iter().map(|r| r.batches[k].num_rows()).sum();
        let mut fields = Vec::with_capacity(schema.fields().len());
        let mut columns = Vec::with_capacity(schema.fields().len());
        for (c, field) in schema.fields().iter().enumerate() {
            let column: ArrayRef = match counted(name, field.name()) {
                Some(which) => {
                    let mut b = Int32Builder::with_capacity(rows);
                    for (r, base) in runs.iter().zip(&bases) {
                        let part = r.batches[k].column(c).as_primitive::<Int32Type>();
                        let base = base[which] as i32;
                        for v in part.iter() {
                            b.append_option(v.map(|v| v + base));
                        }
                    }
                    Arc::new(b.finish())
                }
                None => {
                    let parts: Vec<&dyn arrow_array::Array> =
                        runs.iter().map(|r| r.batches[k].column(c).as_ref()).collect();
                    arrow_select::concat::concat(&parts)?
                }
            };
            if DICTIONARY.contains(&(name, field.name().as_str())) {
                let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                fields.push(Field::new(field.name(), dictionary, field.is_nullable()));
                columns.push(dictionary_encoded(&column)?);
            } else {
                fields.push(field.as_ref().clone());
                columns.push(column);
            }
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        out.push(Table::new(name, batch));
    }
    Ok(out)
}

/// The tables of many templates read: `files`, `mos`, `values`, `expressions`, `calls`,
/// `problems`. `template` is the file's row in `files`; `mo` and `parent` are rows of `mos`;
/// `slot` is the row of the first value its template gives the same MO, attribute, member and
/// item. `mos.class` and `values.attribute`, `member`, `value` and `kind` are
/// dictionary-encoded.
pub fn tables(files: &[FileRead]) -> std::result::Result<Vec<Table>, arrow_schema::ArrowError> {
    let mut b = Builders::new();
    for f in files {
        b.push(f);
    }
    join(vec![b.finish()?])
}

/// Files read and built into tables on one thread at a time (at most): each run is read,
/// flattened and appended, and what it read dropped, by the thread that read it.
const RUN_FILES: usize = 64;

/// What [`read_templates_with`] gives: the tables, and the texts where they were kept (in
/// file order; `None` for a file that could not be read as a template).
pub struct TemplatesRead {
    pub tables: Vec<Table>,
    pub texts: Vec<Option<String>>,
}

/// Read `paths` on up to `threads` threads (0: one per core) and return their tables, and
/// their texts if `keep_texts` (to locate findings without reading the files again).
pub fn read_templates_with(
    paths: &[PathBuf],
    threads: usize,
    progress: Option<&Progress>,
    keep_texts: bool,
) -> Result<TemplatesRead> {
    let cancelled = || progress.is_some_and(|p| p.cancel.load(Ordering::Relaxed));
    type Built = std::result::Result<(Run, Vec<Option<String>>), arrow_schema::ArrowError>;
    let run = |chunk: &[PathBuf]| -> Option<Built> {
        let mut b = Builders::new();
        let mut texts = Vec::with_capacity(if keep_texts { chunk.len() } else { 0 });
        for p in chunk {
            if cancelled() {
                return None;
            }
            let mut read = read_file(p, keep_texts);
            if keep_texts {
                texts.push(read.text.take());
            }
            b.push(&read);
            if let Some(pr) = progress {
                pr.bytes.fetch_add(1, Ordering::Relaxed);
            }
        }
        Some(b.finish().map(|run| (run, texts)))
    };
    let runs: Vec<Option<Built>> = if threads == 1 {
        // on the calling thread: handing a few files to a pool's thread and waiting for it to be
        // woken and scheduled costs more than reading them (a service's check of one template)
        paths.chunks(RUN_FILES).map(run).collect()
    } else {
        let pool = crate::pools::pool(threads, 0, "reading")?;
        // runs of a few files each, enough of them to keep every thread busy
        let run_files = (paths.len() / (pool.current_num_threads() * 4)).clamp(1, RUN_FILES);
        pool.install(|| paths.par_chunks(run_files).map(run).collect())
    };
    if cancelled() || runs.iter().any(Option::is_none) {
        return Err(Error::Io { loc: Location::default(), message: "interrupted".into() });
    }
    let as_error = |err: arrow_schema::ArrowError| Error::Value { loc: Location::default(), message: err.to_string() };
    let mut built = Vec::with_capacity(runs.len());
    let mut texts = Vec::with_capacity(if keep_texts { paths.len() } else { 0 });
    for run in runs.into_iter().flatten() {
        let (run, t) = run.map_err(as_error)?;
        built.push(run);
        texts.extend(t);
    }
    Ok(TemplatesRead { tables: join(built).map_err(as_error)?, texts })
}

/// Read `paths` and return their tables.
pub fn read_templates(paths: &[PathBuf], threads: usize, progress: Option<&Progress>) -> Result<Vec<Table>> {
    Ok(read_templates_with(paths, threads, progress, false)?.tables)
}

#[cfg(test)]
mod tests;
