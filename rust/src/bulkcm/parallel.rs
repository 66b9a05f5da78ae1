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

/// The element parts start at.
const CUT_BEFORE: &str = "MeContext";

/// What the parts of one file gave.
pub(super) struct Parts {
    pub readers: Vec<BulkCmReader>,
    /// Rows every reader after the first started with (the MOs enclosing the cuts).
    pub seeded: usize,
    pub warnings: Vec<RawWarning>,
}

/// Read `path` in up to `parts` parts on as many threads. `None` when the file cannot be
/// cut or a cut proved unsound; an error only for a cancelled read.
pub(super) fn read_spans(path: &Path, plan: Plan, progress: Option<&Progress>) -> Result<Option<Parts>> {
    let Plan { size, parts, encoding } = plan;
    let Ok(mut file) = File::open(path) else { return Ok(None) };
    let Ok(Some(first)) = find_start_tag(&mut file, 0, size, CUT_BEFORE) else { return Ok(None) };
    // where every part starts from: the reader as it stands before the first MeContext
    let mut prefix = BulkCmReader::default();
    let head = Span { start: 0, end: Some(first), context: Context { encoding: Some(encoding), ..Context::default() } };
    let Ok(start) = drive_span(path, &head, &mut prefix, None) else { return Ok(None) };
    let mut cuts: Vec<u64> = Vec::new();
    for k in 1..parts as u64 {
        let from = (size * k / parts as u64).max(cuts.last().map_or(first + 1, |c| c + 1));
        let until = size * (k + 1) / parts as u64;
        if let Ok(Some(cut)) = find_start_tag(&mut file, from, until, CUT_BEFORE) {
            cuts.push(cut);
        }
    }
    if cuts.is_empty() {
        return Ok(None);
    }
    let mut spans = Vec::with_capacity(cuts.len() + 1);
    let mut begin = 0;
    for (i, &cut) in cuts.iter().enumerate() {
        let context = if i == 0 { Context::default() } else { start.context.clone() };
        spans.push(Span { start: begin, end: Some(cut), context });
        begin = cut;
    }
    spans.push(Span { start: begin, end: None, context: start.context.clone() });
    let make = |i: usize| if i == 0 { BulkCmReader::default() } else { BulkCmReader::continuing(&prefix) };
    let Some(done) = read_spans_in_parallel(path, &spans, make, progress)? else { return Ok(None) };
    let last = done.len() - 1;
    let mut readers = Vec::with_capacity(done.len());
    let mut warnings = Vec::new();
    for (i, (reader, end)) in done.into_iter().enumerate() {
        if i < last
            && (end.context.names != start.context.names
                || end.context.labels != start.context.labels
                || !reader.stands_where(&prefix))
        {
            return Ok(None);
        }
        warnings.extend(end.warnings);
        readers.push(reader);
    }
    Ok(Some(Parts { readers, seeded: prefix.mos.len(), warnings }))
}
