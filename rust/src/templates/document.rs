//! Typed templates (rtbfast's own format) are written in YAML, TOML or JSON. This module reads
//! YAML (`saphyr-parser`, YAML 1.2 core schema) and TOML (`toml`, 1.0/1.1) into one strict JSON
//! text that the Python side reads as it reads JSON, and finds the lines and columns of JSON
//! pointers in the source, for findings.
//!
//! What a template is, not what a format allows: YAML aliases (a template is a tree; an alias
//! bomb is refused before it grows), repeated keys (YAML 1.2 and TOML forbid them; the message
//! names both places), keys that are not scalars, tags other than the core schema's, several
//! documents, infinities and NaN (no MO value is one) and TOML date-times are refused, each
//! with its line and column. A key repeated in JSON (which allows it) is a warning: the later
//! value is used. Nesting is limited to [`super::MAX_DEPTH`], values to [`super::MAX_VALUES`].

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use toml::de::{DeTable, DeValue};

use super::flatten::thousands;
use super::locate::{line_column, nearest, LineIndex};
use super::{MAX_DEPTH, MAX_VALUES};

/// The formats a typed template is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Toml,
}

impl Format {
    /// The format a file name says (`.yaml`/`.yml`, `.toml`, `.json`).
    pub fn of_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else if lower.ends_with(".toml") {
            Some(Format::Toml)
        } else if lower.ends_with(".json") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// A document that is not a typed template's: the message, line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocError {
    pub message: String,
    pub line: u64,
    pub column: u64,
}

fn err(message: impl Into<String>, line: u64, column: u64) -> DocError {
    DocError { message: message.into(), line, column }
}

/// Why a typed template file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The file could not be read (missing, a folder, not a regular file, unreadable).
    Io(String),
    /// Its text is not a typed template's document (too large, not UTF-8, not YAML/TOML/JSON).
    Document(DocError),
}

/// Read the typed template at `path`: its format (by name), its text and that text as JSON
/// (whose repeated keys [`super::locate::duplicate_keys`] finds: YAML and TOML refuse them).
pub fn read_document(path: &std::path::Path) -> Result<(Format, String, String), Failure> {
    let name = path.display().to_string();
    let format = Format::of_name(&name)
        .ok_or_else(|| Failure::Document(err("a typed template is named *.yaml, *.yml, *.toml or *.json", 0, 0)))?;
    let meta = std::fs::metadata(path).map_err(|e| Failure::Io(format!("cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(Failure::Io(if meta.is_dir() { "a folder, not a file" } else { "not a regular file" }.into()));
    }
    if meta.len() > super::MAX_BYTES {
        return Err(Failure::Document(err(
            format!("{} bytes; a template is at most {} MiB", meta.len(), super::MAX_BYTES >> 20),
            0,
            0,
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Failure::Io(format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let (line, column) = line_column(&String::from_utf8_lossy(e.as_bytes()), valid);
        Failure::Document(err("not UTF-8 text", line, column))
    })?;
    let json = to_json(&text, format).map_err(Failure::Document)?;
    Ok((format, text, json))
}

/// The lines and columns of pointers in many files at once, on all cores: each file read
/// in its format (by name: YAML, TOML, or JSON for anything else).
pub fn locate_many(requests: &[(std::path::PathBuf, Vec<String>)]) -> Vec<Vec<(u64, u64)>> {
    use rayon::prelude::*;
    requests
        .par_iter()
        .map(|(path, pointers)| {
            let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            let format = Format::of_name(&path.display().to_string()).unwrap_or(Format::Json);
            locate(&text, format, pointers)
        })
        .collect()
}

/// As [`locate_many`], with the texts of JSON templates already read (`texts[i]` is the text
/// of `paths[i]`, as [`super::read_templates_with`] keeps it), for rows of (file index,
/// pointer): the line and column of each row, the files on all cores. A file whose text was
/// not kept is read again.
pub fn locate_kept(
    paths: &[std::path::PathBuf],
    texts: &[Option<String>],
    files: &[usize],
    pointers: &[&str],
) -> Vec<(u64, u64)> {
    use rayon::prelude::*;
    let mut rows_of: rustc_hash::FxHashMap<usize, Vec<usize>> = rustc_hash::FxHashMap::default();
    let mut order = Vec::new();
    for (row, &file) in files.iter().enumerate() {
        rows_of
            .entry(file)
            .or_insert_with(|| {
                order.push(file);
                Vec::new()
            })
            .push(row);
    }
    let found: Vec<(usize, Vec<(u64, u64)>)> = order
        .par_iter()
        .map(|&file| {
            let rows = rows_of.get(&file).map(Vec::as_slice).unwrap_or_default();
            let wanted: Vec<&str> = rows.iter().map(|&r| pointers[r]).collect();
            let spots = match (texts.get(file), paths.get(file)) {
                (Some(Some(text)), _) => super::locate::locate(text, &wanted),
                (_, Some(path)) => {
                    let text =
                        std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                    let format = Format::of_name(&path.display().to_string()).unwrap_or(Format::Json);
                    let wanted: Vec<String> = wanted.iter().map(|p| p.to_string()).collect();
                    locate(&text, format, &wanted)
                }
                _ => vec![(1, 1); wanted.len()],
            };
            (file, spots)
        })
        .collect();
    let mut out = vec![(1, 1); files.len()];
    for (file, spots) in found {
        for (&row, spot) in rows_of.get(&file).map(Vec::as_slice).unwrap_or_default().iter().zip(spots) {
            out[row] = spot;
        }
    }
    out
}

/// `text` (YAML or TOML) as strict JSON text, keys in document order.
pub fn to_json(text: &str, format: Format) -> Result<String, DocError> {
    match format {
        Format::Json => match super::too_big(text.as_bytes(), MAX_DEPTH, MAX_VALUES) {
            Some((at, why)) => {
                let (line, column) = line_column(text, at);
                Err(err(why, line, column))
            }
            None => Ok(text.to_owned()),
        },
        Format::Yaml => yaml_to_json(text),
        Format::Toml => toml_to_json(text),
    }
}

/// The lines and columns of `pointers` in `text`: the key of an object member or the start of
/// an item, as far as each pointer can be followed (1, 1 where the text cannot be read).
pub fn locate(text: &str, format: Format, pointers: &[String]) -> Vec<(u64, u64)> {
    match format {
        Format::Json => super::locate::locate(text, pointers),
        Format::Yaml => match yaml_spots(text) {
            Ok(spots) => pointers.iter().map(|p| nearest(&spots, p)).map(at_least_one).collect(),
            Err(_) => vec![(1, 1); pointers.len()],
        },
        Format::Toml => match toml_spots(text) {
            Ok(spots) => {
                let offsets: Vec<usize> = pointers.iter().map(|p| nearest(&spots, p)).collect();
                LineIndex::new(text).at_many(&offsets)
            }
            Err(_) => vec![(1, 1); pointers.len()],
        },
    }
}

/// (1, 1) for a spot that was not found.
fn at_least_one((line, column): (u64, u64)) -> (u64, u64) {
    if line == 0 {
        (1, 1)
    } else {
        (line, column)
    }
}

// -- JSON text -----------------------------------------------------------------------------------

fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn escape_segment(key: &str) -> Cow<'_, str> {
    if key.contains(['~', '/']) {
        Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(key)
    }
}

// -- YAML ----------------------------------------------------------------------------------------

/// A plain scalar as the YAML 1.2 core schema resolves it: `null`, `true`/`false`, a number
/// (as JSON number text) or a string.
enum Plain {
    Null,
    Bool(bool),
    Number(String),
    Text,
    NotFinite,
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn resolve_plain(s: &str) -> Plain {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        _ => {}
    }
    let (sign, body) = match s.as_bytes()[0] {
        b'-' => ("-", &s[1..]),
        b'+' => ("", &s[1..]),
        _ => ("", s),
    };
    if matches!(body, ".inf" | ".Inf" | ".INF") || (sign.is_empty() && matches!(s, ".nan" | ".NaN" | ".NAN")) {
        return Plain::NotFinite;
    }
    if s.len() > 2 && (s.starts_with("0x") || s.starts_with("0o")) {
        let radix = if s.starts_with("0x") { 16 } else { 8 };
        return match i128::from_str_radix(&s[2..], radix) {
            Ok(n) if s[2..].bytes().all(|b| b.is_ascii_hexdigit()) => Plain::Number(n.to_string()),
            _ => Plain::Text,
        };
    }
    if digits(body) {
        let trimmed = body.trim_start_matches('0');
        let n = if trimmed.is_empty() { "0" } else { trimmed };
        return finite(format!("{sign}{n}"));
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    let (whole, fraction) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let mantissa_ok = match fraction {
        Some(f) => {
            (digits(whole) || whole.is_empty()) && (digits(f) || f.is_empty()) && !(whole.is_empty() && f.is_empty())
        }
        None => digits(whole),
    };
    if !(mantissa_ok && exponent_ok) || body.is_empty() {
        return Plain::Text;
    }
    let whole = whole.trim_start_matches('0');
    let mut n = format!("{sign}{}", if whole.is_empty() { "0" } else { whole });
    if let Some(f) = fraction {
        n.push('.');
        n.push_str(if f.is_empty() { "0" } else { f });
    }
    if let Some(e) = exponent {
        // the exponent as written (JSON allows e, E and a sign)
        n.push(if body.contains('E') { 'E' } else { 'e' });
        n.push_str(e);
    }
    finite(n)
}

/// A number a reader of JSON can hold (no f64 overflow: `1e99999` is refused like `.inf`).
fn finite(n: String) -> Plain {
    if n.parse::<f64>().is_ok_and(f64::is_finite) {
        Plain::Number(n)
    } else {
        Plain::NotFinite
    }
}

/// A scalar's JSON text: resolved by the core schema when plain (or tagged with one of its
/// tags), a string otherwise.
fn scalar_json(
    out: &mut String,
    value: &str,
    style: ScalarStyle,
    tag: Option<&saphyr_parser::Tag>,
    at: (u64, u64),
) -> Result<(), DocError> {
    let core = |suffix: &str| -> Result<Option<&'static str>, DocError> {
        Ok(match suffix {
            "str" => Some("str"),
            "int" | "float" | "bool" | "null" => Some("resolve"),
            other => {
                return Err(err(
                    format!("the tag !!{other} is not read (only str, int, float, bool and null)"),
                    at.0,
                    at.1,
                ))
            }
        })
    };
    let forced = match tag {
        None => None,
        Some(t) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => core(&t.suffix)?,
        Some(t) if t.handle == "!" && t.suffix.is_empty() => Some("str"),
        Some(t) => {
            return Err(err(
                format!("the tag {}{} is not read (a template has plain values)", t.handle, t.suffix),
                at.0,
                at.1,
            ))
        }
    };
    let plain = style == ScalarStyle::Plain;
    if forced == Some("str") || (!plain && forced.is_none()) {
        push_string(out, value);
        return Ok(());
    }
    match resolve_plain(value) {
        Plain::Null => out.push_str("null"),
        Plain::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Plain::Number(n) => out.push_str(&n),
        Plain::NotFinite => {
            return Err(err(format!("{value}: infinite, NaN or too large: no MO value is one"), at.0, at.1));
        }
        Plain::Text if forced.is_some() => {
            return Err(err(format!("{value:?} is not what its tag says"), at.0, at.1));
        }
        Plain::Text => push_string(out, value),
    }
    Ok(())
}

enum Container {
    /// A mapping: the keys seen, whether the next scalar is a key, the pointer of the mapping.
    Map {
        keys: rustc_hash::FxHashMap<String, (u64, u64)>,
        expect_key: bool,
        first: bool,
        pointer: String,
        key: Option<String>,
    },
    Seq {
        index: usize,
        pointer: String,
    },
}

fn mark(span: &Span) -> (u64, u64) {
    (span.start.line() as u64, span.start.col() as u64 + 1)
}

/// Where a YAML walk is: the open containers, the JSON text made (when wanted), and the
/// callback told of every node.
struct YamlWalk<'o, F: FnMut(&str, (u64, u64))> {
    stack: Vec<Container>,
    out: Option<&'o mut String>,
    on_node: F,
    root_seen: bool,
    /// Values begun so far (bounded by [`MAX_VALUES`]).
    values: usize,
}

impl<F: FnMut(&str, (u64, u64))> YamlWalk<'_, F> {
    /// The pointer of a node starting at `at` (the root, an item, or a mapping member's value).
    fn begin(&mut self, at: (u64, u64)) -> Result<String, DocError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            let n = thousands(MAX_VALUES);
            return Err(err(format!("more than {n} values (a template holds at most {n})"), at.0, at.1));
        }
        match self.stack.last_mut() {
            None => {
                if self.root_seen {
                    return Err(err("a second document: a template file holds one", at.0, at.1));
                }
                self.root_seen = true;
                (self.on_node)("", at);
                Ok(String::new())
            }
            Some(Container::Seq { index, pointer }) => {
                if let Some(o) = self.out.as_deref_mut() {
                    if *index > 0 {
                        o.push(',');
                    }
                }
                let p = format!("{pointer}/{index}");
                *index += 1;
                (self.on_node)(&p, at);
                Ok(p)
            }
            Some(Container::Map { expect_key, pointer, key, .. }) => {
                *expect_key = true;
                let k = key.take().unwrap_or_default();
                Ok(format!("{pointer}/{}", escape_segment(&k)))
            }
        }
    }

    /// A scalar that is a mapping's key: recorded, written; false when the scalar is a value.
    fn key(&mut self, value: &str, at: (u64, u64)) -> Result<bool, DocError> {
        let Some(Container::Map { keys, expect_key, first, pointer, key }) = self.stack.last_mut() else {
            return Ok(false);
        };
        if !*expect_key {
            return Ok(false);
        }
        if let Some(first) = keys.insert(value.to_owned(), at) {
            return Err(err(
                format!(
                    "the key {value:?} appears twice in this mapping (at {}:{} and {}:{}); YAML allows a key once",
                    first.0, first.1, at.0, at.1
                ),
                at.0,
                at.1,
            ));
        }
        let p = format!("{pointer}/{}", escape_segment(value));
        (self.on_node)(&p, at);
        if let Some(o) = self.out.as_deref_mut() {
            if !*first {
                o.push(',');
            }
            push_string(o, value);
            o.push(':');
        }
        *first = false;
        *expect_key = false;
        *key = Some(value.to_owned());
        Ok(true)
    }
}

/// Walk the YAML events of `text`: `on_node(pointer, (line, column))` for every node (a
/// mapping member at its key), building the JSON text when `out` is given.
fn walk_yaml(text: &str, out: Option<&mut String>, on_node: impl FnMut(&str, (u64, u64))) -> Result<(), DocError> {
    let mut w = YamlWalk { stack: Vec::new(), out, on_node, root_seen: false, values: 0 };
    let mut documents = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, span) =
            event.map_err(|e| err(e.info().to_string(), e.marker().line() as u64, e.marker().col() as u64 + 1))?;
        let at = mark(&span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(err("a second document: a template file holds one", at.0, at.1));
                }
            }
            Event::Alias(_) => {
                return Err(err("aliases (*name) are not read: a template is a tree, written out in full", at.0, at.1));
            }
            Event::Scalar(value, style, _, tag) => {
                if w.key(&value, at)? {
                    continue;
                }
                w.begin(at)?;
                if let Some(o) = w.out.as_deref_mut() {
                    scalar_json(o, &value, style, tag.as_deref(), at)?;
                }
            }
            Event::SequenceStart(_, Some(tag)) | Event::MappingStart(_, Some(tag)) => {
                return Err(err(
                    format!("the tag {}{} is not read (a template has plain values)", tag.handle, tag.suffix),
                    at.0,
                    at.1,
                ));
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if let Some(Container::Map { expect_key: true, .. }) = w.stack.last() {
                    return Err(err("a key that is a mapping or a sequence: keys are names", at.0, at.1));
                }
                if w.stack.len() >= MAX_DEPTH {
                    return Err(err(format!("nested more than {MAX_DEPTH} deep"), at.0, at.1));
                }
                let is_map = matches!(event, Event::MappingStart(..));
                let p = w.begin(at)?;
                if let Some(o) = w.out.as_deref_mut() {
                    o.push(if is_map { '{' } else { '[' });
                }
                w.stack.push(if is_map {
                    Container::Map { keys: Default::default(), expect_key: true, first: true, pointer: p, key: None }
                } else {
                    Container::Seq { index: 0, pointer: p }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let was_map = matches!(w.stack.pop(), Some(Container::Map { .. }));
                if let Some(o) = w.out.as_deref_mut() {
                    o.push(if was_map { '}' } else { ']' });
                }
            }
        }
    }
    if !w.root_seen {
        if let Some(o) = w.out {
            o.push_str("null");
        }
    }
    Ok(())
}

fn yaml_to_json(text: &str) -> Result<String, DocError> {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    walk_yaml(text, Some(&mut out), |_, _| {})?;
    Ok(out)
}

fn yaml_spots(text: &str) -> Result<rustc_hash::FxHashMap<String, (u64, u64)>, DocError> {
    let mut spots = rustc_hash::FxHashMap::default();
    walk_yaml(text, None, |p, at| {
        spots.entry(p.to_owned()).or_insert(at);
    })?;
    Ok(spots)
}

// -- TOML ----------------------------------------------------------------------------------------

fn toml_error(text: &str, e: &toml::de::Error) -> DocError {
    let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
    err(e.message().trim().to_string(), line, column)
}

/// Where a TOML document is being written as JSON: its text, the JSON made, the values met.
struct TomlOut<'t> {
    text: &'t str,
    out: String,
    values: usize,
}

fn toml_value(o: &mut TomlOut<'_>, v: &DeValue<'_>, start: usize, depth: usize) -> Result<(), DocError> {
    let text = o.text;
    let here = || line_column(text, start);
    if depth > MAX_DEPTH {
        let (l, c) = here();
        return Err(err(format!("nested more than {MAX_DEPTH} deep"), l, c));
    }
    o.values += 1;
    if o.values > MAX_VALUES {
        let (l, c) = here();
        let n = thousands(MAX_VALUES);
        return Err(err(format!("more than {n} values (a template holds at most {n})"), l, c));
    }
    let out = &mut o.out;
    match v {
        DeValue::String(s) => push_string(out, s),
        DeValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        DeValue::Integer(i) if i.radix() == 10 => {
            // decimal as written (TOML allows no leading zeros): -0 stays -0
            let s = i.as_str();
            if !s.parse::<f64>().is_ok_and(f64::is_finite) {
                let (l, c) = here();
                return Err(err(format!("{s}: too large: no MO value is one"), l, c));
            }
            out.push_str(s.strip_prefix('+').unwrap_or(s));
        }
        DeValue::Integer(i) => {
            let n = i128::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                let (l, c) = here();
                err(format!("{i}: not an integer rtbfast can hold"), l, c)
            })?;
            out.push_str(&n.to_string());
        }
        DeValue::Float(f) => {
            let s = f.as_str();
            if !s.parse::<f64>().is_ok_and(f64::is_finite) {
                let (l, c) = here();
                return Err(err(format!("{s}: infinite, NaN or too large: no MO value is one"), l, c));
            }
            out.push_str(s.strip_prefix('+').unwrap_or(s));
        }
        DeValue::Datetime(d) => {
            let (l, c) = here();
            return Err(err(format!("{d}: a date-time is no MO value (write it as a string)"), l, c));
        }
        DeValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    o.out.push(',');
                }
                toml_value(o, item.get_ref(), item.span().start, depth + 1)?;
            }
            o.out.push(']');
        }
        DeValue::Table(t) => toml_table(o, t, depth + 1)?,
    }
    Ok(())
}

fn toml_table(o: &mut TomlOut<'_>, t: &DeTable<'_>, depth: usize) -> Result<(), DocError> {
    o.out.push('{');
    for (i, (k, v)) in t.iter().enumerate() {
        if i > 0 {
            o.out.push(',');
        }
        push_string(&mut o.out, k.get_ref());
        o.out.push(':');
        toml_value(o, v.get_ref(), v.span().start, depth)?;
    }
    o.out.push('}');
    Ok(())
}

fn toml_to_json(text: &str) -> Result<String, DocError> {
    let doc = DeTable::parse(text).map_err(|e| toml_error(text, &e))?;
    let mut o = TomlOut { text, out: String::with_capacity(text.len() + text.len() / 4), values: 1 };
    toml_table(&mut o, doc.get_ref(), 0)?;
    Ok(o.out)
}

fn toml_spots(text: &str) -> Result<rustc_hash::FxHashMap<String, usize>, DocError> {
    fn walk(v: &DeValue<'_>, pointer: &str, spots: &mut rustc_hash::FxHashMap<String, usize>) {
        match v {
            DeValue::Table(t) => {
                for (k, item) in t.iter() {
                    let p = format!("{pointer}/{}", escape_segment(k.get_ref()));
                    spots.insert(p.clone(), k.span().start);
                    walk(item.get_ref(), &p, spots);
                }
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{pointer}/{i}");
                    spots.insert(p.clone(), item.span().start);
                    walk(item.get_ref(), &p, spots);
                }
            }
            _ => {}
        }
    }
    let doc = DeTable::parse(text).map_err(|e| toml_error(text, &e))?;
    let mut spots = rustc_hash::FxHashMap::default();
    spots.insert(String::new(), 0);
    for (k, item) in doc.get_ref().iter() {
        let p = format!("/{}", escape_segment(k.get_ref()));
        spots.insert(p.clone(), k.span().start);
        walk(item.get_ref(), &p, &mut spots);
    }
    Ok(spots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        yaml_to_json(text).unwrap()
    }

    #[test]
    fn yaml_core_schema() {
        assert_eq!(
            json("a: 1\nb: -0.50\nc: .5\nd: 0x1F\ne: 0o17\nf: yes\ng: ~\nh: True\ni: '1'\nj: 1e3\nk: +7\nl: 007\nm: 2E+4\n"),
            r#"{"a":1,"b":-0.50,"c":0.5,"d":31,"e":15,"f":"yes","g":null,"h":true,"i":"1","j":1e3,"k":7,"l":7,"m":2E+4}"#
        );
        assert_eq!(json("- x\n- [1, 'two']\n- {k: v}\n- \"q\\n\"\n"), r#"["x",[1,"two"],{"k":"v"},"q\n"]"#);
        assert_eq!(json("a: !!str 12\nb: 1.\n"), r#"{"a":"12","b":1.0}"#);
        assert_eq!(json(""), "null");
    }

    #[test]
    fn yaml_refusals_are_located() {
        for (bad, says, line) in [
            ("a: &x [1]\nb: *x\n", "aliases", 2),
            ("a: 1\na: 2\n", "twice", 2),
            ("a: .inf\n", "infinite", 1),
            ("a: 1e99999\n", "too large", 1),
            ("---\na: 1\n---\nb: 2\n", "second document", 3),
            ("a: !custom 1\n", "tag", 1),
            ("? [1]\n: x\n", "key", 1),
            ("a: [1\n", "", 2),
        ] {
            let e = yaml_to_json(bad).unwrap_err();
            assert!(e.message.contains(says), "{bad:?}: {e:?}");
            assert_eq!(e.line, line, "{bad:?}: {e:?}");
        }
        let e = yaml_to_json("m:\n  a: 1\n  b: 2\n  a: 3\n").unwrap_err();
        assert!(e.message.contains("(at 2:3 and 4:3)"), "{e:?}");
        let many = format!("[{}]", vec!["1"; MAX_VALUES + 1].join(", "));
        for format in [Format::Yaml, Format::Json] {
            let e = to_json(&many, format).unwrap_err();
            assert!(e.message.contains("more than 250,000") && e.line == 1, "{format:?}: {e:?}");
        }
        let toml = format!("a = [{}]\n", vec!["1"; MAX_VALUES + 1].join(", "));
        assert!(toml_to_json(&toml).unwrap_err().message.contains("more than 250,000"));
        let deep = "[".repeat(MAX_DEPTH + 5);
        let e = yaml_to_json(&deep).unwrap_err().message;
        assert!(e.contains("nested") || e.contains("recursion limit"), "{e}");
    }

    #[test]
    fn toml_to_json_keeps_order_and_refuses_dates() {
        let text = "b = 1\na = \"x\"\n[t]\nz = [1.5, true, -0, +3, 1_000]\ny = { k = 0x10, m = -7 }\n";
        assert_eq!(
            toml_to_json(text).unwrap(),
            r#"{"b":1,"a":"x","t":{"z":[1.5,true,-0,3,1000],"y":{"k":16,"m":-7}}}"#
        );
        let e = toml_to_json("a = 1979-05-27\n").unwrap_err();
        assert!(e.message.contains("date-time") && e.line == 1, "{e:?}");
        let e = toml_to_json("a = 1\na = 2\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }

    #[test]
    fn pointers_are_located_in_both_formats() {
        let yaml = "mos:\n  Cell:\n    x/y: 1\n    list:\n      - a\n      - b\n";
        let got = locate(yaml, Format::Yaml, &["/mos/Cell/x~1y".into(), "/mos/Cell/list/1".into(), "/mos/nope".into()]);
        assert_eq!(got, vec![(3, 5), (6, 9), (1, 1)]);
        let toml = "[mos.Cell]\nx = 1\nlist = [\"a\", \"b\"]\n";
        let got = locate(toml, Format::Toml, &["/mos/Cell/x".into(), "/mos/Cell/list/1".into()]);
        assert_eq!(got, vec![(2, 1), (3, 14)]);
    }
}
