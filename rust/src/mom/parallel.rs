//! Reading one large MP XML file on several threads. The file is cut before `<class`
//! start tags into spans of about equal size; each span is read by its own [`MomReader`]
//! that starts inside the `<mim>` the cut falls in. A cut is only a guess (found by a byte
//! search, it could lie in a comment or CDATA): the reader of the span before it must end
//! exactly between two children of that same `<mim>`, or the whole file is read again on
//! one thread. The result is the same as a sequential read, row for row.

use std::fs::File;
use std::path::Path;

use super::MomReader;
use crate::error::Result;
use crate::xml::split::{attribute_at, find_after, find_before, read_spans_in_parallel, Plan};
use crate::xml::{Context, Encoding, Progress, RawWarning, Span};

/// Where a span starts: its byte offset and the `<mim>` it starts in.
struct Cut {
    offset: u64,
    mim: String,
}

/// Up to `parts - 1` cuts of the file, in order; fewer when no suitable place is found.
fn plan_cuts(path: &Path, size: u64, parts: usize) -> std::io::Result<Vec<Cut>> {
    let mut file = File::open(path)?;
    let mut cuts: Vec<Cut> = Vec::new();
    for k in 1..parts as u64 {
        let target = size * k / parts as u64;
        let from = cuts.last().map_or(target, |c| target.max(c.offset + 1));
        let until = size * (k + 1) / parts as u64;
        let Some(offset) = find_after(&mut file, from, until, b"<class ")? else { continue };
        let Some(mim_at) = find_before(&mut file, offset, b"<mim ")? else { continue };
        let Some(mim) = attribute_at(&mut file, mim_at, b"name")? else { continue };
        cuts.push(Cut { offset, mim });
    }
    Ok(cuts)
}

fn context_in(mim: &str, encoding: Encoding) -> Context {
    Context {
        names: vec!["models".into(), "mim".into()],
        labels: vec!["models".into(), format!("mim[{mim}]")],
        encoding: Some(encoding),
    }
}

/// Read `path` in `parts` spans on as many threads. `None` when the file cannot be cut or a
/// cut proved unsound (the caller then reads it sequentially); an error only for a cancelled
/// read.
pub(super) fn read_spans(
    path: &Path,
    plan: Plan,
    progress: Option<&Progress>,
) -> Result<Option<(Vec<MomReader>, Vec<RawWarning>)>> {
    let Plan { size, parts, encoding } = plan;
    let Ok(cuts) = plan_cuts(path, size, parts) else { return Ok(None) };
    if cuts.is_empty() {
        return Ok(None);
    }
    let mut spans = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    let mut context = Context::default();
    for cut in &cuts {
        spans.push(Span { start, end: Some(cut.offset), context });
        start = cut.offset;
        context = context_in(&cut.mim, encoding);
    }
    spans.push(Span { start, end: None, context });
    let make = |i: usize| {
        let mut reader = if i == 0 { MomReader::new() } else { MomReader::inside_mim(&cuts[i - 1].mim) };
        reader.reserve_for(spans[i].end.unwrap_or(size) - spans[i].start);
        reader
    };
    let Some(done) = read_spans_in_parallel(path, &spans, make, progress)? else { return Ok(None) };
    let mut readers = Vec::with_capacity(done.len());
    let mut warnings = Vec::new();
    for (i, (mut reader, end)) in done.into_iter().enumerate() {
        if let Some(next) = cuts.get(i) {
            let expected = context_in(&next.mim, encoding);
            if end.context.names != expected.names
                || end.context.labels != expected.labels
                || !reader.is_between_children_of(&next.mim)
            {
                return Ok(None);
            }
            // the <mim> goes on in the next span; what this one read of its texts is kept
            reader.close_mim_texts();
        }
        warnings.extend(end.warnings);
        readers.push(reader);
    }
    Ok(Some((readers, warnings)))
}
