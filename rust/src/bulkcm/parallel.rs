//! Reading one large Bulk CM export on several threads. The file is cut before `MeContext`
//! start tags into parts of about equal size. A short first read, up to the first
//! `MeContext`, gives the context every part starts from: the open elements (`configData`,
//! the `SubNetwork` chain) and the MOs they are. The reader of each part but the last must
//! end standing exactly there, which proves the cut after it sound; a cut in a comment, a
//! CDATA section or under another `SubNetwork` fails the proof, and the whole file is then
//! read again on one thread.

use std::fs::File;
use std::path::Path;

use super::BulkCmReader;
use crate::error::Result;
use crate::xml::split::{find_start_tag, read_spans_in_parallel, Plan};
use crate::xml::{drive_span, Context, Progress, RawWarning, Span};

/// The elements parts start at: `MeContext`, else (an export of bare `ManagedElement`s under
/// a `SubNetwork`) `ManagedElement`.
const CUT_BEFORE: [&str; 2] = ["MeContext", "ManagedElement"];

/// What the parts of one file gave.
pub(super) struct Parts {
    pub readers: Vec<BulkCmReader>,
    /// Rows every reader after the first started with (the MOs enclosing the cuts).
    pub seeded: usize,
    pub warnings: Vec<RawWarning>,
}

/// Where a file is cut: the reader as it stands before the first `MeContext` (every part
/// but the first starts from it), the context it stands in, and the spans between the cuts.
pub(super) struct Cuts {
    pub prefix: BulkCmReader,
    pub start: Context,
    pub spans: Vec<Span>,
    /// Where the first node starts: the head every part but the first starts from ends there.
    pub first: u64,
}

/// The reader as it stands before offset `first` (the first cut) and the context it stands in.
pub(super) fn head(path: &Path, first: u64, encoding: crate::xml::Encoding) -> Result<(BulkCmReader, Context)> {
    let mut prefix = BulkCmReader::default();
    let head = Span { start: 0, end: Some(first), context: Context { encoding: Some(encoding), ..Context::default() } };
    let start = drive_span(path, &head, &mut prefix, None)?;
    Ok((prefix, start.context))
}

/// Cut `path` (of `size` bytes) before `MeContext` start tags into about `parts` parts.
/// `None` when it has no `MeContext`, no cut is found, or its head cannot be read.
pub(super) fn cut(path: &Path, size: u64, parts: usize, encoding: crate::xml::Encoding) -> Option<Cuts> {
    let mut file = File::open(path).ok()?;
    let (first, element) = CUT_BEFORE
        .iter()
        .find_map(|&element| find_start_tag(&mut file, 0, size, element).ok()?.map(|first| (first, element)))?;
    let (prefix, start) = head(path, first, encoding).ok()?;
    let mut cuts: Vec<u64> = Vec::new();
    for k in 1..parts as u64 {
        let from = (size * k / parts as u64).max(cuts.last().map_or(first + 1, |c| c + 1));
        let until = size * (k + 1) / parts as u64;
        if let Ok(Some(cut)) = find_start_tag(&mut file, from, until, element) {
            cuts.push(cut);
        }
    }
    if cuts.is_empty() {
        return None;
    }
    let mut spans = Vec::with_capacity(cuts.len() + 1);
    let mut begin = 0;
    for (i, &cut) in cuts.iter().enumerate() {
        let context = if i == 0 { Context::default() } else { start.clone() };
        spans.push(Span { start: begin, end: Some(cut), context });
        begin = cut;
    }
    spans.push(Span { start: begin, end: None, context: start.clone() });
    Some(Cuts { prefix, start, spans, first })
}

/// Whether a part's reader ended where the next part starts from, which proves the cut sound.
fn ends_at_cut(reader: &BulkCmReader, end: &Context, cuts: &Cuts) -> bool {
    ends_where(reader, end, &cuts.prefix, &cuts.start)
}

/// Whether a reader ended where `prefix` stood, in `start`: the cut after it is sound.
pub(super) fn ends_where(reader: &BulkCmReader, end: &Context, prefix: &BulkCmReader, start: &Context) -> bool {
    end.names == start.names && end.labels == start.labels && reader.stands_where(prefix)
}

/// Read `path` in up to `parts` parts on as many threads. `None` when the file cannot be
/// cut or a cut proved unsound; an error only for a cancelled read.
pub(super) fn read_spans(path: &Path, plan: Plan, progress: Option<&Progress>) -> Result<Option<Parts>> {
    let Plan { size, parts, encoding } = plan;
    let Some(cuts) = cut(path, size, parts, encoding) else { return Ok(None) };
    let prefix = &cuts.prefix;
    let make = |i: usize| if i == 0 { BulkCmReader::default() } else { BulkCmReader::continuing(prefix) };
    let Some(done) = read_spans_in_parallel(path, &cuts.spans, make, progress)? else { return Ok(None) };
    let last = done.len() - 1;
    let mut readers = Vec::with_capacity(done.len());
    let mut warnings = Vec::new();
    for (i, (reader, end)) in done.into_iter().enumerate() {
        if i < last && !ends_at_cut(&reader, &end.context, &cuts) {
            return Ok(None);
        }
        warnings.extend(end.warnings);
        readers.push(reader);
    }
    Ok(Some(Parts { readers, seeded: cuts.prefix.mos.len(), warnings }))
}

/// An export read in groups of parts, one group at a time, so memory holds one group's tables
/// rather than the whole file's: the audit of a large export evaluates each group and drops it.
pub struct Streamer {
    path: std::path::PathBuf,
    cuts: Cuts,
    next: usize,
    group: usize,
}

/// A [`Streamer`] over `path` cut into parts of about `part_bytes`, read `threads` at a time
/// (0: one per core). `None` when the file is not worth cutting or has no `MeContext` (read
/// it whole).
pub fn stream(path: &Path, part_bytes: u64, threads: usize) -> Result<Option<Streamer>> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    if !crate::input::Input::resolve(path).is_ok_and(|input| input.is_plain()) {
        // a compressed export is read whole (see `crate::input`)
        return Ok(None);
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let parts = (size / part_bytes.max(1)) as usize;
    if parts < 2 {
        return Ok(None);
    }
    let (encoding, root) = crate::xml::prolog(path)?;
    if root != "bulkCmConfigDataFile" {
        return Ok(None);
    }
    Ok(cut(path, size, parts, encoding).map(|cuts| Streamer {
        path: path.to_path_buf(),
        cuts,
        next: 0,
        group: threads,
    }))
}

/// One group of parts: its tables, header and warnings (located).
pub struct Group {
    pub tables: Vec<crate::tables::Table>,
    pub header: std::collections::BTreeMap<String, String>,
    pub warnings: Vec<crate::xml::Warning>,
    /// Bytes of the file read so far, and its size.
    pub done: u64,
    pub size: u64,
}

impl Streamer {
    /// How many parts the file is cut into.
    pub fn parts(&self) -> usize {
        self.cuts.spans.len()
    }

    /// The next group of parts; `Ok(None)` at the end. An error when a part cannot be read
    /// or a cut proves unsound (a `MeContext` tag in a comment, a cut under another
    /// `SubNetwork`): the caller reads the file whole, which reports a real error where it is.
    pub fn next_group(&mut self, progress: Option<&Progress>) -> Result<Option<Group>> {
        let spans = &self.cuts.spans;
        if self.next >= spans.len() {
            return Ok(None);
        }
        let first = self.next;
        let last = (first + self.group).min(spans.len());
        let prefix = &self.cuts.prefix;
        let make = |i: usize| {
            if first + i == 0 {
                BulkCmReader::default()
            } else {
                BulkCmReader::continuing(prefix)
            }
        };
        let unsound = |what: &str| crate::error::Error::Value {
            loc: crate::error::Location { file: self.path.display().to_string(), ..Default::default() },
            message: format!("cannot read this export in parts: {what}"),
        };
        let Some(done) = read_spans_in_parallel(&self.path, &spans[first..last], make, progress)? else {
            return Err(unsound("a part could not be read on its own"));
        };
        let final_span = spans.len() - 1;
        let mut readers = Vec::with_capacity(done.len());
        let mut raw = Vec::new();
        for (k, (reader, end)) in done.into_iter().enumerate() {
            if first + k < final_span && !ends_at_cut(&reader, &end.context, &self.cuts) {
                return Err(unsound("a cut does not fall between two MeContext elements"));
            }
            raw.extend(end.warnings);
            readers.push(reader);
        }
        self.next = last;
        let file = self.path.display().to_string();
        let warnings = crate::xml::locate_warnings(&self.path, &file, raw);
        let (tables, header) = super::finish_parts(readers, self.cuts.prefix.mos.len(), first > 0).map_err(|err| {
            crate::error::Error::Value {
                loc: crate::error::Location { file, ..Default::default() },
                message: err.to_string(),
            }
        })?;
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let done = self.cuts.spans.get(last).map_or(size, |s| s.start);
        Ok(Some(Group { tables, header, warnings, done, size }))
    }
}
