//! The streaming event loop shared by both readers: quick-xml over a buffered file, the
//! document encoding (UTF-8, US-ASCII, ISO-8859-1, from the XML declaration), entities and
//! CDATA, the element path kept for error messages, progress and cancellation.
//!
//! The DOCTYPE is never resolved: `mp.dtd` is not shipped with models and is never fetched.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use crate::error::{line_columns, Error, Location, Result};

/// Shared between the reader and whoever watches it: bytes consumed so far, and a flag
/// that stops the read at the next check.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub cancel: AtomicBool,
}

/// The character encoding named by the XML declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Latin1,
}

impl Encoding {
    fn from_label(label: &[u8]) -> Option<Encoding> {
        let label = String::from_utf8_lossy(label).trim().to_ascii_lowercase();
        match label.as_str() {
            "utf-8" | "utf8" | "us-ascii" | "ascii" => Some(Encoding::Utf8),
            "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "iso_8859-1" | "l1" => Some(Encoding::Latin1),
            _ => None,
        }
    }
}

/// A warning found while reading, located by byte offset until the end of the read.
#[derive(Debug, Clone)]
pub struct RawWarning {
    pub offset: u64,
    pub element: String,
    pub message: String,
}

/// A warning with its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub location: Location,
    pub message: String,
}

/// Turn raw warnings into located ones with a single extra pass over the file (only when
/// there are warnings at all).
pub fn locate_warnings(path: &Path, file: &str, raw: Vec<RawWarning>) -> Vec<Warning> {
    if raw.is_empty() {
        return Vec::new();
    }
    let offsets: Vec<u64> = raw.iter().map(|w| w.offset).collect();
    let lc = line_columns(path, &offsets);
    raw.into_iter()
        .zip(lc)
        .map(|(w, (line, column))| Warning {
            location: Location { file: file.to_string(), offset: w.offset, line, column, element: w.element },
            message: w.message,
        })
        .collect()
}

/// The element path, kept as one string so pushing and popping cost no allocation.
#[derive(Debug, Default)]
struct ElementPath {
    text: String,
    marks: Vec<usize>,
}

impl ElementPath {
    fn push(&mut self, name: &str) {
        self.marks.push(self.text.len());
        if !self.text.is_empty() {
            self.text.push('/');
        }
        self.text.push_str(name);
    }
    fn pop(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.text.truncate(mark);
        }
    }
}

/// What a handler sees of the reader while it handles one event.
pub struct Cx<'a> {
    /// Byte offset where the current event starts.
    pub offset: u64,
    /// Nesting depth of the current element (the root is 0).
    pub depth: usize,
    encoding: Encoding,
    file: &'a str,
    path: &'a mut ElementPath,
    warnings: &'a mut Vec<RawWarning>,
}

impl Cx<'_> {
    /// Add `[label]` to the current element in the path, e.g. the `name` of a class.
    pub fn annotate(&mut self, label: &str) {
        self.path.text.push('[');
        self.path.text.push_str(label);
        self.path.text.push(']');
    }

    pub fn element_path(&self) -> &str {
        &self.path.text
    }

    pub fn location(&self) -> Location {
        Location {
            file: self.file.to_string(),
            offset: self.offset,
            line: 0,
            column: 0,
            element: self.path.text.clone(),
        }
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(RawWarning {
            offset: self.offset,
            element: self.path.text.clone(),
            message: message.into(),
        });
    }

    /// A warning about an element that started earlier (at `offset`, with path `element`).
    pub fn warn_at(&mut self, offset: u64, element: &str, message: impl Into<String>) {
        self.warnings.push(RawWarning { offset, element: element.to_string(), message: message.into() });
    }

    pub fn value_error(&self, message: impl Into<String>) -> Error {
        Error::Value { loc: self.location(), message: message.into() }
    }

    /// The decoded, unescaped value of the XML attribute `key` (matched on its full name).
    pub fn attr(&self, e: &BytesStart, key: &[u8]) -> Result<Option<String>> {
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|err| Error::Syntax { loc: self.location(), message: err.to_string() })?;
            if attr.key.as_ref() == key {
                let text = decode(self.encoding, &attr.value).map_err(|m| self.value_error(m))?;
                let value = if text.contains('&') {
                    quick_xml::escape::unescape(&text)
                        .map_err(|err| self.value_error(format!("bad entity in attribute value: {err}")))?
                        .into_owned()
                } else {
                    text.into_owned()
                };
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// All XML attributes of `e` as (local name, value) pairs.
    pub fn attrs(&self, e: &BytesStart) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|err| Error::Syntax { loc: self.location(), message: err.to_string() })?;
            let local = attr.key.local_name();
            let key = decode(self.encoding, local.as_ref()).map_err(|m| self.value_error(m))?;
            let value = decode(self.encoding, &attr.value).map_err(|m| self.value_error(m))?;
            let value = quick_xml::escape::unescape(&value)
                .map_err(|err| self.value_error(format!("bad entity in attribute value: {err}")))?;
            out.push((key.into_owned(), value.into_owned()));
        }
        Ok(out)
    }
}

/// Receives the elements of a document in order.
pub trait Handler {
    /// An element opens. `name` is the name as written (with any prefix). Return true to
    /// receive the element's text in [`Handler::end`].
    fn start(&mut self, cx: &mut Cx, name: &[u8], e: &BytesStart) -> Result<bool>;
    /// The element closes; `text` is its text if `start` asked for it and it had no child
    /// elements that asked for theirs.
    fn end(&mut self, cx: &mut Cx, name: &[u8], text: &str) -> Result<()>;
}

/// Decode bytes of the document encoding into text.
pub fn decode(encoding: Encoding, bytes: &[u8]) -> std::result::Result<Cow<'_, str>, String> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|err| format!("invalid UTF-8 at byte {} of this text: {err}", err.valid_up_to())),
        Encoding::Latin1 => match std::str::from_utf8(bytes) {
            // ASCII text is the same in both encodings and can be borrowed.
            Ok(text) if bytes.is_ascii() => Ok(Cow::Borrowed(text)),
            _ => Ok(Cow::Owned(bytes.iter().map(|&b| b as char).collect())),
        },
    }
}

fn push_decoded(encoding: Encoding, bytes: &[u8], out: &mut String) -> std::result::Result<(), String> {
    match encoding {
        Encoding::Utf8 => {
            out.push_str(std::str::from_utf8(bytes).map_err(|err| format!("invalid UTF-8: {err}"))?);
        }
        Encoding::Latin1 => match std::str::from_utf8(bytes) {
            // ASCII text (nearly all of it) is the same in both encodings
            Ok(text) if bytes.is_ascii() => out.push_str(text),
            _ => out.extend(bytes.iter().map(|&b| b as char)),
        },
    }
    Ok(())
}

fn resolve_reference(r: &BytesRef, encoding: Encoding, out: &mut String) -> std::result::Result<(), String> {
    if r.is_char_ref() {
        match r.resolve_char_ref() {
            Ok(Some(c)) => {
                out.push(c);
                return Ok(());
            }
            _ => return Err(format!("invalid character reference &{};", String::from_utf8_lossy(r))),
        }
    }
    let name = decode(encoding, r)?;
    let replacement = match name.as_ref() {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        other => {
            return Err(format!(
                "unknown entity &{other}; (only the five XML entities are defined; the DTD is never read)"
            ))
        }
    };
    out.push(replacement);
    Ok(())
}

const PROGRESS_EVERY: u32 = 4096;

/// Read the whole document at `path`, calling `handler` for every element, and return the
/// warnings collected on the way, located.
pub fn drive<H: Handler>(path: &Path, handler: &mut H, progress: Option<&Progress>) -> Result<Vec<Warning>> {
    let file_name = path.display().to_string();
    let mut run = || -> Result<Vec<RawWarning>> {
        let file = File::open(path).map_err(|err| Error::io(&file_name, &err))?;
        let mut reader = Reader::from_reader(BufReader::with_capacity(1 << 18, file));
        reader.config_mut().check_end_names = true;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
        let mut text = String::new();
        let mut scratch = String::new();
        let mut capture: Option<usize> = None;
        let mut depth = 0usize;
        let mut seen_root = false;
        let mut encoding = Encoding::Utf8;
        let mut path_stack = ElementPath::default();
        let mut warnings: Vec<RawWarning> = Vec::new();
        let mut counter = 0u32;
        let location = |offset: u64, path_stack: &ElementPath| Location {
            file: file_name.clone(),
            offset,
            line: 0,
            column: 0,
            element: path_stack.text.clone(),
        };
        loop {
            let offset = reader.buffer_position();
            counter = counter.wrapping_add(1);
            if counter % PROGRESS_EVERY == 0 {
                if let Some(p) = progress {
                    p.bytes.store(offset, Ordering::Relaxed);
                    if p.cancel.load(Ordering::Relaxed) {
                        return Err(Error::Io { loc: location(offset, &path_stack), message: "interrupted".into() });
                    }
                }
            }
            let event = match reader.read_event_into(&mut buf) {
                Ok(event) => event,
                Err(err) => {
                    return Err(Error::Syntax {
                        loc: location(reader.error_position(), &path_stack),
                        message: err.to_string(),
                    })
                }
            };
            match event {
                Event::Decl(decl) => {
                    if let Some(label) = decl.encoding() {
                        let label = label.map_err(|err| Error::Syntax {
                            loc: location(offset, &path_stack),
                            message: err.to_string(),
                        })?;
                        encoding = Encoding::from_label(&label).ok_or_else(|| Error::Encoding {
                            loc: location(offset, &path_stack),
                            encoding: String::from_utf8_lossy(&label).into_owned(),
                        })?;
                    }
                }
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let is_empty = matches!(event, Event::Empty(_));
                    if depth == 0 && seen_root {
                        return Err(Error::Syntax {
                            loc: location(offset, &path_stack),
                            message: "a second root element; a document has exactly one".into(),
                        });
                    }
                    seen_root = true;
                    let name = e.name();
                    let name_bytes = name.as_ref();
                    match std::str::from_utf8(name_bytes) {
                        Ok(n) => path_stack.push(n),
                        Err(_) => path_stack.push(&decode(Encoding::Latin1, name_bytes).unwrap_or_default()),
                    }
                    let mut cx = Cx {
                        offset,
                        depth,
                        encoding,
                        file: &file_name,
                        path: &mut path_stack,
                        warnings: &mut warnings,
                    };
                    let wants_text = handler.start(&mut cx, name_bytes, e)?;
                    if is_empty {
                        handler.end(&mut cx, name_bytes, "")?;
                        path_stack.pop();
                    } else {
                        if wants_text {
                            text.clear();
                            capture = Some(depth);
                        } else if capture.is_some() {
                            capture = None;
                        }
                        depth += 1;
                    }
                }
                Event::End(ref e) => {
                    depth = depth.saturating_sub(1);
                    let captured = capture == Some(depth);
                    let mut cx = Cx {
                        offset,
                        depth,
                        encoding,
                        file: &file_name,
                        path: &mut path_stack,
                        warnings: &mut warnings,
                    };
                    handler.end(&mut cx, e.name().as_ref(), if captured { &text } else { "" })?;
                    if captured {
                        capture = None;
                    }
                    path_stack.pop();
                }
                Event::Text(ref t) => {
                    if capture.is_some() {
                        push_decoded(encoding, t, &mut text)
                            .map_err(|message| Error::Value { loc: location(offset, &path_stack), message })?;
                    }
                }
                Event::CData(ref t) => {
                    if capture.is_some() {
                        push_decoded(encoding, t, &mut text)
                            .map_err(|message| Error::Value { loc: location(offset, &path_stack), message })?;
                    }
                }
                Event::GeneralRef(ref r) => {
                    // checked even where the text is not wanted: an undefined entity is an error
                    let target = if capture.is_some() { &mut text } else { &mut scratch };
                    resolve_reference(r, encoding, target)
                        .map_err(|message| Error::Value { loc: location(offset, &path_stack), message })?;
                    scratch.clear();
                    if depth == 0 {
                        return Err(Error::Syntax {
                            loc: location(offset, &path_stack),
                            message: "entity reference outside the root element".into(),
                        });
                    }
                }
                Event::Eof => {
                    if !seen_root {
                        return Err(Error::Syntax {
                            loc: location(offset, &path_stack),
                            message: "unexpected end of file: no root element".into(),
                        });
                    }
                    if depth > 0 {
                        return Err(Error::Syntax {
                            loc: location(offset, &path_stack),
                            message: format!("unexpected end of file: <{}> is not closed", path_stack.text),
                        });
                    }
                    break;
                }
                Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
            buf.clear();
        }
        if let Some(p) = progress {
            p.bytes.store(reader.buffer_position(), Ordering::Relaxed);
        }
        Ok(warnings)
    };
    match run() {
        Ok(raw) => Ok(locate_warnings(path, &file_name, raw)),
        Err(err) => Err(err.with_line_column(path)),
    }
}

/// The local name (prefix removed) of the document's root element.
pub fn root_name(path: &Path) -> Result<String> {
    let file_name = path.display().to_string();
    let find = || -> Result<String> {
        let file = File::open(path).map_err(|err| Error::io(&file_name, &err))?;
        let mut reader = Reader::from_reader(BufReader::new(file));
        let mut buf = Vec::new();
        loop {
            let offset = reader.buffer_position();
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                    return Ok(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                }
                Ok(Event::Decl(decl)) => {
                    if let Some(Ok(label)) = decl.encoding() {
                        if Encoding::from_label(&label).is_none() {
                            return Err(Error::Encoding {
                                loc: Location { file: file_name.clone(), offset, ..Location::default() },
                                encoding: String::from_utf8_lossy(&label).into_owned(),
                            });
                        }
                    }
                }
                Ok(Event::Eof) => {
                    return Err(Error::Syntax {
                        loc: Location { file: file_name.clone(), offset, ..Location::default() },
                        message: "unexpected end of file: no root element".into(),
                    })
                }
                Ok(_) => {}
                Err(err) => {
                    return Err(Error::Syntax {
                        loc: Location {
                            file: file_name.clone(),
                            offset: reader.error_position(),
                            ..Location::default()
                        },
                        message: err.to_string(),
                    })
                }
            }
            buf.clear();
        }
    };
    find().map_err(|err| err.with_line_column(path))
}

/// The part of a qualified name after the prefix.
pub fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::io::Write;
    use std::path::PathBuf;

    /// Write `bytes` to a fresh temporary file and return its path.
    pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rtbfast-test-{}-{}", std::process::id(), name));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::temp_file;
    use super::*;

    struct Collect(Vec<(String, String)>);
    impl Handler for Collect {
        fn start(&mut self, _cx: &mut Cx, _name: &[u8], _e: &BytesStart) -> Result<bool> {
            Ok(true)
        }
        fn end(&mut self, cx: &mut Cx, _name: &[u8], text: &str) -> Result<()> {
            self.0.push((cx.element_path().to_string(), text.to_string()));
            Ok(())
        }
    }

    #[test]
    fn latin1_entities_and_cdata() {
        let mut doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!-- c --><!DOCTYPE models SYSTEM \"mp.dtd\">\n<a><b>caf\xe9 &apos;x&apos; &#13;&#x41;</b><c><![CDATA[<raw>]]></c></a>".to_vec();
        doc.push(b'\n');
        let path = temp_file("latin1.xml", &doc);
        let mut h = Collect(vec![]);
        drive(&path, &mut h, None).unwrap();
        assert_eq!(h.0[0], ("a/b".to_string(), "café 'x' \rA".to_string()));
        assert_eq!(h.0[1], ("a/c".to_string(), "<raw>".to_string()));
    }

    #[test]
    fn truncated_document_is_located() {
        let path = temp_file("trunc.xml", b"<a>\n  <b>text</b>\n  <c>");
        let err = drive(&path, &mut Collect(vec![]), None).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Syntax);
        let loc = err.location();
        assert_eq!(loc.line, 3);
        assert!(loc.element.contains("a/c"), "{loc:?}");
    }

    #[test]
    fn unknown_encoding_is_refused() {
        let path = temp_file("enc.xml", b"<?xml version=\"1.0\" encoding=\"EBCDIC-37\"?><a/>");
        let err = drive(&path, &mut Collect(vec![]), None).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Encoding);
        assert_eq!(root_name(&path).unwrap_err().kind(), crate::error::ErrorKind::Encoding);
    }

    #[test]
    fn root_name_strips_prefix() {
        let path = temp_file("root.xml", b"<?xml version=\"1.0\"?><!-- x --><p:bulkCmConfigDataFile xmlns:p=\"u\"/>");
        assert_eq!(root_name(&path).unwrap(), "bulkCmConfigDataFile");
    }
}
