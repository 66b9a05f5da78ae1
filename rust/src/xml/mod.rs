//! The streaming event loop shared by both readers: quick-xml over a buffered file, the
//! document encoding (UTF-8, US-ASCII, ISO-8859-1, from the XML declaration), entities and
//! CDATA, the element path kept for error messages, progress and cancellation.
//!
//! The DOCTYPE is never resolved: `mp.dtd` is not shipped with models and is never fetched.
//!
//! Every document is checked for well-formedness as it is read (`wellformed`): characters
//! and names, attributes, text outside the root. Nesting deeper than [`MAX_DEPTH`] elements
//! is refused, element paths in messages are cut to [`PATH_SHOWN`] bytes and at most
//! [`MAX_WARNINGS`] warnings are kept, so no input makes memory grow faster than its size.

use std::borrow::Cow;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use crate::error::{line_columns, Error, Location, Result};
use crate::input::{open_regular, read_error, Input, Limits};

pub mod split;
pub mod wellformed;

/// The deepest element nesting read (the root is level 1). Real models nest about 10 deep and
/// real exports about 12; a document beyond this limit is refused.
pub const MAX_DEPTH: usize = 256;
/// Warnings kept per read; later ones are only counted (one last warning says how many).
pub const MAX_WARNINGS: usize = 10_000;
/// An element path in a message or warning is cut to about this many bytes.
pub const PATH_SHOWN: usize = 400;
/// A name or label in an element path is cut to this many bytes.
const SEGMENT_SHOWN: usize = 200;

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

/// `text` cut to at most `max` bytes (at a character boundary), with `…` where it was cut.
fn cut_text(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl ElementPath {
    fn push(&mut self, name: &str) {
        self.marks.push(self.text.len());
        if !self.text.is_empty() {
            self.text.push('/');
        }
        self.push_cut(name);
    }

    fn push_cut(&mut self, text: &str) {
        let shown = cut_text(text, SEGMENT_SHOWN);
        self.text.push_str(shown);
        if shown.len() < text.len() {
            self.text.push('…');
        }
    }

    /// The path as messages show it: whole when short, else its first and last segments
    /// (about [`PATH_SHOWN`] bytes in all).
    fn shown(&self) -> String {
        if self.text.len() <= PATH_SHOWN {
            return self.text.clone();
        }
        let text = self.text.as_str();
        // the first segments within a quarter, the last within the rest (cut at characters)
        let head_end = cut_text(text, PATH_SHOWN / 4).rfind('/').unwrap_or(0);
        let mut from = text.len() - (PATH_SHOWN - head_end);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let tail_start = text[from..].find('/').map_or(text.len(), |i| from + i + 1);
        if head_end == 0 || tail_start >= text.len() {
            // one long segment: cut it
            return format!("{}…", cut_text(text, PATH_SHOWN));
        }
        format!("{}/…/{}", &text[..head_end], &text[tail_start..])
    }
    fn pop(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.text.truncate(mark);
        }
    }
    /// Start from a context: one segment per open element.
    fn seed(&mut self, context: &Context) {
        self.text.clear();
        self.marks.clear();
        for label in &context.labels {
            self.push(label);
        }
    }

    /// The segments, one per open element (`mim[Lrat]`).
    fn labels(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.marks.len());
        for (i, &mark) in self.marks.iter().enumerate() {
            let end = self.marks.get(i + 1).copied().unwrap_or(self.text.len());
            let start = if i == 0 { mark } else { mark + 1 };
            out.push(self.text.get(start..end).unwrap_or_default().to_string());
        }
        out
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
    /// Warnings beyond [`MAX_WARNINGS`], counted only.
    dropped: &'a mut u64,
}

impl Cx<'_> {
    /// Add `[label]` to the current element in the path, e.g. the `name` of a class.
    pub fn annotate(&mut self, label: &str) {
        self.path.text.push('[');
        self.path.push_cut(label);
        self.path.text.push(']');
    }

    pub fn element_path(&self) -> &str {
        &self.path.text
    }

    pub fn location(&self) -> Location {
        Location { file: self.file.to_string(), offset: self.offset, line: 0, column: 0, element: self.path.shown() }
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        if self.warnings.len() >= MAX_WARNINGS {
            *self.dropped += 1;
            return;
        }
        self.warnings.push(RawWarning { offset: self.offset, element: self.path.shown(), message: message.into() });
    }

    /// A warning about an element that started earlier (at `offset`, with path `element`).
    pub fn warn_at(&mut self, offset: u64, element: &str, message: impl Into<String>) {
        if self.warnings.len() >= MAX_WARNINGS {
            *self.dropped += 1;
            return;
        }
        let element = cut_text(element, PATH_SHOWN).to_string();
        self.warnings.push(RawWarning { offset, element, message: message.into() });
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

/// How much of the file is parsed at a time. Events borrow straight from this window; a
/// construct that runs past its end is carried over to the next one.
const WINDOW: usize = 1 << 18;
/// No single tag, comment, CDATA section or text may be longer than this.
const WINDOW_LIMIT: usize = 1 << 28;

/// The file, read window by window. `buf` holds bytes from file offset `base`.
struct Windows<R: Read> {
    file: R,
    buf: Vec<u8>,
    base: u64,
    /// Where this read stops: the end of the file, or of the span.
    limit: u64,
    eof: bool,
    size: usize,
}

impl<R: Read> Windows<R> {
    /// Top the buffer up to the window size (or to the end of the file).
    fn fill(&mut self) -> std::io::Result<()> {
        let mut filled = self.buf.len();
        if filled >= self.size || self.eof {
            return Ok(());
        }
        let wanted = (self.limit - self.base).min(self.size as u64) as usize;
        if filled >= wanted {
            self.eof = true;
            return Ok(());
        }
        self.buf.resize(wanted, 0);
        while filled < wanted {
            match self.file.read(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        self.buf.truncate(filled);
        if self.base + filled as u64 >= self.limit {
            self.eof = true;
        }
        Ok(())
    }

    /// Where the parseable part of the buffer ends: before the last `<`, so every tag before
    /// it is complete (`<` never appears inside a tag; inside a comment or CDATA the parser
    /// reports the construct unclosed, and it is carried over). The whole buffer at the end
    /// of the file.
    fn cut(&self) -> usize {
        if self.eof {
            self.buf.len()
        } else {
            memchr::memrchr(b'<', &self.buf).unwrap_or(0)
        }
    }

    /// Drop the first `used` bytes; when nothing could be used, allow a larger window.
    fn consume(&mut self, used: usize, loc: impl Fn(u64) -> Location) -> Result<()> {
        if used == 0 {
            if self.size >= WINDOW_LIMIT {
                return Err(Error::Syntax {
                    loc: loc(self.base),
                    message: format!("a single tag, comment or text longer than {} MiB", WINDOW_LIMIT >> 20),
                });
            }
            self.size *= 2;
        } else {
            self.buf.drain(..used);
            self.base += used as u64;
        }
        Ok(())
    }
}

/// The reader's state between events: nesting, the element path, captured text.
struct DriverState<'f> {
    file_name: &'f str,
    encoding: Encoding,
    depth: usize,
    seen_root: bool,
    path: ElementPath,
    /// The raw names of the open elements, to check end tags against.
    names: Vec<u8>,
    name_marks: Vec<usize>,
    text: String,
    scratch: String,
    capture: Option<usize>,
    warnings: Vec<RawWarning>,
    dropped: u64,
    /// Set when reading a span that ends before the end of the document.
    span_end: Option<u64>,
    /// Where the document starts: after a UTF-8 byte order mark, if any (an XML declaration
    /// must stand exactly there).
    doc_start: u64,
    seen_doctype: bool,
    /// Offsets of `]]>` not yet passed (almost always none).
    cdata_ends: std::collections::VecDeque<u64>,
}

impl DriverState<'_> {
    fn location(&self, offset: u64) -> Location {
        Location { file: self.file_name.to_string(), offset, line: 0, column: 0, element: self.path.shown() }
    }

    fn syntax(&self, offset: u64, message: impl Into<String>) -> Error {
        Error::Syntax { loc: self.location(offset), message: message.into() }
    }

    fn cx(&mut self, offset: u64) -> Cx<'_> {
        Cx {
            offset,
            depth: self.depth,
            encoding: self.encoding,
            file: self.file_name,
            path: &mut self.path,
            warnings: &mut self.warnings,
            dropped: &mut self.dropped,
        }
    }

    /// The warnings, with one more saying how many were not kept.
    fn take_warnings(&mut self) -> Vec<RawWarning> {
        let mut warnings = std::mem::take(&mut self.warnings);
        if self.dropped > 0 {
            let last = warnings.last().map_or(0, |w| w.offset);
            warnings.push(RawWarning {
                offset: last,
                element: String::new(),
                message: format!("{} more warning(s) not kept (only the first {MAX_WARNINGS} are)", self.dropped),
            });
        }
        warnings
    }

    /// Handle one event that starts at file offset `offset`.
    fn event<H: Handler>(&mut self, handler: &mut H, event: Event, offset: u64) -> Result<()> {
        match event {
            Event::Decl(decl) => {
                if offset != self.doc_start || self.seen_root {
                    return Err(self.syntax(offset, "an XML declaration may only stand at the very start of the file"));
                }
                wellformed::check_decl(&decl).map_err(|message| self.syntax(offset, message))?;
                if let Some(label) = decl.encoding() {
                    let label = label.map_err(|err| self.syntax(offset, err.to_string()))?;
                    self.encoding = Encoding::from_label(&label).ok_or_else(|| {
                        Error::unsupported_encoding(
                            self.location(offset),
                            &format!("{:?}", String::from_utf8_lossy(&label)),
                        )
                    })?;
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                if self.depth == 0 && self.seen_root {
                    return Err(self.syntax(offset, "a second root element; a document has exactly one"));
                }
                if self.depth >= MAX_DEPTH {
                    return Err(Error::Value {
                        loc: self.location(offset),
                        message: format!(
                            "elements nested more than {MAX_DEPTH} deep; rtbfast refuses deeper nesting (real models \
                             and exports nest about a dozen deep)"
                        ),
                    });
                }
                wellformed::check_start(e).map_err(|(at, message)| self.syntax(offset + 1 + at as u64, message))?;
                self.seen_root = true;
                let name = e.name();
                let name_bytes = name.as_ref();
                match std::str::from_utf8(name_bytes) {
                    Ok(n) => self.path.push(n),
                    Err(_) => self.path.push(&decode(Encoding::Latin1, name_bytes).unwrap_or_default()),
                }
                let wants_text = handler.start(&mut self.cx(offset), name_bytes, e)?;
                if is_empty {
                    handler.end(&mut self.cx(offset), name_bytes, "")?;
                    self.path.pop();
                } else {
                    self.name_marks.push(self.names.len());
                    self.names.extend_from_slice(name_bytes);
                    if wants_text {
                        self.text.clear();
                        self.capture = Some(self.depth);
                    } else if self.capture.is_some() {
                        self.capture = None;
                    }
                    self.depth += 1;
                }
            }
            Event::End(ref e) => {
                let name = e.name();
                let Some(mark) = self.name_marks.pop() else {
                    return Err(self.syntax(
                        offset,
                        format!("end tag </{}> with no element open", String::from_utf8_lossy(name.as_ref())),
                    ));
                };
                if &self.names[mark..] != name.as_ref() {
                    return Err(self.syntax(
                        offset,
                        format!(
                            "expected </{}>, found </{}>",
                            String::from_utf8_lossy(&self.names[mark..]),
                            String::from_utf8_lossy(name.as_ref())
                        ),
                    ));
                }
                self.names.truncate(mark);
                self.depth -= 1;
                let captured = self.capture == Some(self.depth);
                let text = if captured { std::mem::take(&mut self.text) } else { String::new() };
                handler.end(&mut self.cx(offset), name.as_ref(), &text)?;
                if captured {
                    self.text = text;
                    self.capture = None;
                }
                self.path.pop();
            }
            Event::Text(ref t) => {
                if self.depth == 0 && t.iter().any(|b| !b" \t\r\n".contains(b)) {
                    let where_ = if self.seen_root { "after the root element" } else { "before the root element" };
                    return Err(
                        self.syntax(offset, format!("text {where_}; only markup and white space may stand there"))
                    );
                }
                while self.cdata_ends.front().is_some_and(|&at| at < offset) {
                    self.cdata_ends.pop_front();
                }
                if let Some(&at) = self.cdata_ends.front().filter(|&&at| at < offset + t.len() as u64) {
                    return Err(self.syntax(at, "']]>' in text, which XML reserves for ending CDATA; write ]]&gt;"));
                }
                if self.capture.is_some() {
                    push_decoded(self.encoding, t, &mut self.text)
                        .map_err(|message| Error::Value { loc: self.location(offset), message })?;
                }
            }
            Event::CData(_) if self.depth == 0 => {
                return Err(self.syntax(offset, "CDATA outside the root element"));
            }
            Event::CData(ref t) => {
                if self.capture.is_some() {
                    push_decoded(self.encoding, t, &mut self.text)
                        .map_err(|message| Error::Value { loc: self.location(offset), message })?;
                }
            }
            Event::GeneralRef(ref r) => {
                if self.depth == 0 {
                    return Err(self.syntax(offset, "entity reference outside the root element"));
                }
                if r.is_char_ref() {
                    // a character XML forbids, written as a reference (named entities are
                    // resolved, or refused, below)
                    wellformed::check_reference(r).map_err(|message| self.syntax(offset, message))?;
                }
                // checked even where the text is not wanted: an undefined entity is an error
                let target = if self.capture.is_some() { &mut self.text } else { &mut self.scratch };
                let resolved = resolve_reference(r, self.encoding, target);
                self.scratch.clear();
                resolved.map_err(|message| Error::Value { loc: self.location(offset), message })?;
            }
            Event::Eof => {
                if self.span_end.is_some() {
                    return Ok(());
                }
                if !self.seen_root {
                    return Err(self.syntax(offset, "unexpected end of file: no root element"));
                }
                if self.depth > 0 {
                    return Err(
                        self.syntax(offset, format!("unexpected end of file: <{}> is not closed", self.path.text))
                    );
                }
            }
            Event::DocType(ref content) => {
                if self.seen_root || self.seen_doctype {
                    return Err(self.syntax(offset, "a DOCTYPE may only stand once, before the root element"));
                }
                wellformed::check_doctype(content).map_err(|message| self.syntax(offset, message))?;
                self.seen_doctype = true;
            }
            Event::PI(ref pi) => {
                let target = pi.target();
                if target.eq_ignore_ascii_case(b"xml") {
                    return Err(self.syntax(offset, "an XML declaration may only stand at the very start of the file"));
                }
                if target.get(..3).is_some_and(|t| t.eq_ignore_ascii_case(b"xml")) {
                    return Err(self.syntax(offset, "processing instruction targets beginning with 'xml' are reserved"));
                }
                wellformed::check_name(pi.target(), "processing instruction").map_err(|m| self.syntax(offset, m))?;
            }
            Event::Comment(_) => {}
        }
        Ok(())
    }
}

/// Where the reader stands between two elements: the open elements (outermost first, raw
/// names and path labels) and the document encoding. A span of a document is read from such
/// a point.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// Raw names of the open elements.
    pub names: Vec<String>,
    /// Their segments of the element path as messages show it, e.g. `mim[Lrat]`.
    pub labels: Vec<String>,
    pub encoding: Option<Encoding>,
}

/// A part of a document: bytes `start..end` read from `context`.
#[derive(Debug, Clone, Default)]
pub struct Span {
    pub start: u64,
    /// `None`: to the end of the file, which must then end the document.
    pub end: Option<u64>,
    pub context: Context,
}

/// What [`drive_span`] gives back: the warnings, and where a span that stops before the end
/// of the document left the reader.
#[derive(Debug)]
pub struct SpanEnd {
    pub warnings: Vec<RawWarning>,
    pub context: Context,
}

/// Read the whole document at `path`, calling `handler` for every element, and return the
/// warnings collected on the way, located.
///
/// The file is read in windows of 256 KiB and each window is parsed in place, so
/// memory stays bounded whatever the file size and no event is copied.
pub fn drive<H: Handler>(path: &Path, handler: &mut H, progress: Option<&Progress>) -> Result<Vec<Warning>> {
    let file_name = path.display().to_string();
    match drive_span(path, &Span::default(), handler, progress) {
        Ok(end) => Ok(locate_warnings(path, &file_name, end.warnings)),
        Err(err) => Err(err.with_line_column(path)),
    }
}

/// Read one span of the document at `path` (see [`Span`]). Errors carry byte offsets but no
/// line and column yet; warnings are raw.
pub fn drive_span<H: Handler>(
    path: &Path,
    span: &Span,
    handler: &mut H,
    progress: Option<&Progress>,
) -> Result<SpanEnd> {
    drive_span_with(path, span, handler, progress, 1)
}

/// [`drive_span`] on up to `threads` threads (0: one per core): a compressed input is
/// decompressed on a second thread while this one parses, when there are two.
///
/// `path` may name a compressed file or a member of a zip archive ([`crate::input`]); such an
/// input is read from its start (a span of it may end early, never start late), and
/// `progress` counts its compressed bytes.
pub fn drive_span_with<H: Handler>(
    path: &Path,
    span: &Span,
    handler: &mut H,
    progress: Option<&Progress>,
    threads: usize,
) -> Result<SpanEnd> {
    let input = Input::resolve(path)?;
    let file_name = input.name();
    if input.is_plain() {
        let mut file = open_regular(&input.file, &file_name)?;
        if span.start > 0 {
            use std::io::{Seek, SeekFrom};
            file.seek(SeekFrom::Start(span.start)).map_err(|err| Error::io(&file_name, &err))?;
        }
        return drive_reader(file, &file_name, span, handler, progress, true);
    }
    if span.start > 0 {
        return Err(Error::Io {
            loc: Location { file: file_name, offset: span.start, ..Location::default() },
            message: "a compressed input is read from its start".into(),
        });
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let ahead = threads != 1 && cores > 1;
    input.stream(Limits::from_env(), progress, ahead, |reader| {
        drive_reader(reader, &file_name, span, handler, progress, false)
    })
}

/// [`drive_span`] over decompressed bytes `reader` gives from `span.start` on (a chunk of a
/// compressed input read from an access point, [`crate::input::access`]).
pub fn drive_span_from<R: Read, H: Handler>(
    reader: R,
    file_name: &str,
    span: &Span,
    handler: &mut H,
) -> Result<SpanEnd> {
    drive_reader(reader, file_name, span, handler, None, false)
}

/// The driver over `file`, positioned at `span.start`. `count` says whether the offsets it
/// reaches go to `progress` (for a compressed input the compressed bytes do).
fn drive_reader<R: Read, H: Handler>(
    file: R,
    file_name: &str,
    span: &Span,
    handler: &mut H,
    progress: Option<&Progress>,
    count: bool,
) -> Result<SpanEnd> {
    let mut windows = Windows {
        file,
        buf: Vec::with_capacity(WINDOW),
        base: span.start,
        limit: span.end.unwrap_or(u64::MAX),
        eof: false,
        size: WINDOW,
    };
    let mut state = DriverState {
        file_name,
        encoding: span.context.encoding.unwrap_or(Encoding::Utf8),
        depth: span.context.names.len(),
        seen_root: !span.context.names.is_empty(),
        path: ElementPath::default(),
        names: Vec::with_capacity(256),
        name_marks: Vec::with_capacity(32),
        text: String::new(),
        scratch: String::new(),
        capture: None,
        warnings: Vec::new(),
        dropped: 0,
        span_end: span.end,
        doc_start: 0,
        seen_doctype: span.start > 0,
        cdata_ends: std::collections::VecDeque::new(),
    };
    for name in &span.context.names {
        state.name_marks.push(state.names.len());
        state.names.extend_from_slice(name.as_bytes());
    }
    state.path.seed(&span.context);
    if span.start == 0 {
        windows.fill().map_err(|err| read_error(state.location(0), &err))?;
        start_of_document(&mut windows, &mut state)?;
    }
    let mut counter = 0u32;
    let mut reported = span.start;
    let mut report = |at: u64| {
        if let Some(p) = progress.filter(|_| count) {
            p.bytes.fetch_add(at.saturating_sub(reported), Ordering::Relaxed);
            reported = reported.max(at);
        }
    };
    // the raw bytes are checked (characters, encoding) ahead of the parser; an offence is
    // reported when the parser reaches it, so its element path is known
    let mut checked = windows.base;
    let mut offence: Option<(u64, wellformed::ByteError)> = None;
    loop {
        windows.fill().map_err(|err| read_error(state.location(windows.base), &err))?;
        if offence.is_none() && checked < windows.base + windows.buf.len() as u64 {
            let from = (checked - windows.base) as usize;
            match wellformed::check_bytes(&windows.buf[from..], state.encoding, !windows.eof) {
                Ok(n) => {
                    // `]]>` may only end a CDATA section: where it stands is noted here, and a
                    // text event that holds one is refused (see `event`)
                    let found = memchr::memmem::find_iter(&windows.buf[from..from + n], b"]]>");
                    state.cdata_ends.extend(found.map(|at| checked + at as u64));
                    checked += n as u64;
                }
                Err(err) => offence = Some((checked + err.at as u64, err)),
            }
        }
        let cut = windows.cut();
        let base = windows.base;
        let mut reader = Reader::from_reader(&windows.buf[..cut]);
        reader.config_mut().check_end_names = false;
        reader.config_mut().allow_unmatched_ends = true;
        reader.config_mut().check_comments = true;
        let used = loop {
            let pos = reader.buffer_position();
            counter = counter.wrapping_add(1);
            if counter.is_multiple_of(PROGRESS_EVERY) {
                report(base + pos);
                if progress.is_some_and(|p| p.cancel.load(Ordering::Relaxed)) {
                    return Err(Error::Io { loc: state.location(base + pos), message: "interrupted".into() });
                }
            }
            let event = reader.read_event();
            if let Some((at, err)) = &offence {
                let reached = match &event {
                    Ok(Event::Eof) => windows.eof,
                    Ok(_) => *at < base + reader.buffer_position(),
                    Err(_) => *at <= base + reader.error_position(),
                };
                if reached {
                    let loc = state.location(*at);
                    let message = err.message.clone();
                    return Err(if err.encoding {
                        Error::Encoding { loc, message }
                    } else {
                        Error::Syntax { loc, message }
                    });
                }
            }
            match event {
                Ok(Event::Eof) if !windows.eof => break cut,
                Ok(Event::Eof) => {
                    state.event(handler, Event::Eof, base + pos)?;
                    report(base + pos);
                    let names = state
                        .name_marks
                        .iter()
                        .enumerate()
                        .map(|(i, &m)| {
                            let end = state.name_marks.get(i + 1).copied().unwrap_or(state.names.len());
                            String::from_utf8_lossy(&state.names[m..end]).into_owned()
                        })
                        .collect();
                    let context = Context { names, labels: state.path.labels(), encoding: Some(state.encoding) };
                    return Ok(SpanEnd { warnings: state.take_warnings(), context });
                }
                Ok(Event::DocType(_)) if !is_doctype_start(&windows.buf[pos as usize..]) => {
                    return Err(state.syntax(base + pos, "a DOCTYPE is written <!DOCTYPE name ...>, in capitals"));
                }
                Ok(event) => state.event(handler, event, base + pos)?,
                // every syntax error means "the input ended inside this construct":
                // with more of the file to come, carry it over to the next window
                Err(quick_xml::Error::Syntax(_)) if !windows.eof => break pos as usize,
                Err(err) => return Err(state.syntax(base + reader.error_position(), err.to_string())),
            }
        };
        windows.consume(used, |offset| state.location(offset))?;
    }
}

/// Whether `bytes` start a DOCTYPE as XML writes it: the keyword in capitals, then white space.
fn is_doctype_start(bytes: &[u8]) -> bool {
    bytes.starts_with(b"<!DOCTYPE") && bytes.get(9).is_some_and(u8::is_ascii_whitespace)
}

/// At the start of a document: refuse the encodings its first bytes betray (UTF-16 and
/// UTF-32), step over a UTF-8 byte order mark, and take the encoding its XML declaration
/// names, so the bytes are checked in it from the first one.
fn start_of_document<R: Read>(windows: &mut Windows<R>, state: &mut DriverState) -> Result<()> {
    if let Some(found) = wellformed::foreign_encoding(&windows.buf) {
        return Err(Error::unsupported_encoding(state.location(0), found));
    }
    if windows.buf.starts_with(wellformed::UTF8_BOM) {
        let skip = wellformed::UTF8_BOM.len();
        windows.consume(skip, |offset| state.location(offset))?;
        state.doc_start = skip as u64;
    }
    let mut reader = Reader::from_reader(windows.buf.as_slice());
    if let Ok(Event::Decl(decl)) = reader.read_event() {
        if let Some(Ok(label)) = decl.encoding() {
            if let Some(encoding) = Encoding::from_label(&label) {
                state.encoding = encoding;
            }
        }
    }
    Ok(())
}

/// How far [`prolog`] reads looking for the root element.
const PROLOG_LIMIT: u64 = 64 << 20;

/// The encoding the XML declaration names (UTF-8 without one) and the local name of the
/// root element.
pub fn prolog(path: &Path) -> Result<(Encoding, String)> {
    let input = Input::resolve(path)?;
    let file_name = input.name();
    let at = |offset: u64| Location { file: file_name.clone(), offset, ..Location::default() };
    let find = |source: &mut dyn Read| -> Result<(Encoding, String)> {
        let mut start = [0u8; 4];
        let mut n = 0;
        while n < start.len() {
            match source.read(&mut start[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(read_error(at(0), &err)),
            }
        }
        if let Some(found) = wellformed::foreign_encoding(&start[..n]) {
            return Err(Error::unsupported_encoding(at(0), found));
        }
        let rest = (&start[..n]).chain(source).take(PROLOG_LIMIT);
        let mut reader = Reader::from_reader(BufReader::new(rest));
        let mut buf = Vec::new();
        let mut encoding = Encoding::Utf8;
        loop {
            let offset = reader.buffer_position();
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                    return Ok((encoding, String::from_utf8_lossy(e.local_name().as_ref()).into_owned()));
                }
                Ok(Event::Decl(decl)) => {
                    if let Some(Ok(label)) = decl.encoding() {
                        encoding = Encoding::from_label(&label).ok_or_else(|| {
                            Error::unsupported_encoding(at(offset), &format!("{:?}", String::from_utf8_lossy(&label)))
                        })?;
                    }
                }
                Ok(Event::Eof) => {
                    let message = if offset >= PROLOG_LIMIT {
                        format!("no root element in the first {} MiB", PROLOG_LIMIT >> 20)
                    } else {
                        "unexpected end of file: no root element".into()
                    };
                    return Err(Error::Syntax { loc: at(offset), message });
                }
                Ok(_) => {}
                Err(quick_xml::Error::Io(err)) => return Err(read_error(at(offset), &err)),
                Err(err) => return Err(Error::Syntax { loc: at(reader.error_position()), message: err.to_string() }),
            }
            buf.clear();
        }
    };
    let found = if input.is_plain() {
        open_regular(&input.file, &file_name).and_then(|mut file| find(&mut file))
    } else {
        input.stream(Limits::from_env(), None, false, find)
    };
    found.map_err(|err| err.with_line_column(path))
}

/// The local name (prefix removed) of the document's root element.
pub fn root_name(path: &Path) -> Result<String> {
    prolog(path).map(|(_, root)| root)
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
    fn long_paths_are_cut_at_characters() {
        for name in ["m", "é", "\u{FFFD}\u{FFFD}", "日本", "x\u{10348}"] {
            for depth in [1, 50, 200, 256] {
                let mut path = ElementPath::default();
                for _ in 0..depth {
                    path.push(name);
                }
                let shown = path.shown();
                assert!(shown.len() <= PATH_SHOWN + 8, "{name} x {depth}: {} bytes", shown.len());
                assert!(path.text.starts_with(shown.trim_end_matches('…').split("/…/").next().unwrap_or_default()));
            }
        }
        let mut path = ElementPath::default();
        path.push(&"é".repeat(1000));
        assert!(path.shown().ends_with('…') && path.shown().len() <= SEGMENT_SHOWN + 4);
    }

    #[test]
    fn root_name_strips_prefix() {
        let path = temp_file("root.xml", b"<?xml version=\"1.0\"?><!-- x --><p:bulkCmConfigDataFile xmlns:p=\"u\"/>");
        assert_eq!(root_name(&path).unwrap(), "bulkCmConfigDataFile");
    }
}
