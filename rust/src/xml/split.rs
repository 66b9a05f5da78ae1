//! Reading a document in spans on several threads: finding places where it can be cut (the
//! next start tag after an offset, the last one before it, an XML attribute of the tag found
//! there), and running one handler per span. A cut found by a byte search is only a
//! candidate; the reader of the span before it proves the cut sound by ending exactly in the
//! context the next span started from.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::Ordering;

use memchr::memmem;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::{drive_span, prolog, Encoding, Handler, Progress, Span, SpanEnd};
use crate::error::Result;

const BLOCK: usize = 1 << 20;

/// Parts smaller than this are not worth a thread.
pub const MIN_SPAN: u64 = 1 << 20;

/// How a file is to be read in parts: its size, how many parts, its encoding.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub size: u64,
    pub parts: usize,
    pub encoding: Encoding,
}

/// Whether `path` is worth reading in parts on up to `threads` threads (0: one per core): at
/// least two parts of [`MIN_SPAN`] each, and the document's root is `root`.
pub fn plan(path: &Path, threads: usize, root: &str) -> Result<Option<Plan>> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    if !crate::input::Input::resolve(path).is_ok_and(|input| input.is_plain()) {
        // a compressed input is read from its start, on one thread (and one decompressing)
        return Ok(None);
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let parts = threads.min((size / MIN_SPAN) as usize);
    if parts < 2 {
        return Ok(None);
    }
    let (encoding, found) = prolog(path)?;
    Ok((found == root).then_some(Plan { size, parts, encoding }))
}

/// A read in parts gave up: the bytes it counted are counted again by the sequential read.
pub fn restart(progress: Option<&Progress>) {
    if let Some(p) = progress {
        p.bytes.store(0, Ordering::Relaxed);
    }
}

/// Read each of `spans` of `path` on its own thread with the handler `make(i)` gives, and
/// return every handler with where its span ended. `None` when any span failed (the caller
/// reads the file again on one thread, which reports the failure where it really is); an
/// error only when the read was cancelled.
pub fn read_spans_in_parallel<H, F>(
    path: &Path,
    spans: &[Span],
    make: F,
    progress: Option<&Progress>,
) -> Result<Option<Vec<(H, SpanEnd)>>>
where
    H: Handler + Send,
    F: Fn(usize) -> H + Sync,
{
    let make = &make;
    let run = move |i: usize| {
        let mut handler = make(i);
        let end = drive_span(path, &spans[i], &mut handler, progress);
        (handler, end)
    };
    // the first span on the calling thread, the others on threads of their own
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..spans.len()).map(|i| scope.spawn(move || run(i))).collect();
        let mut out = Vec::with_capacity(spans.len());
        if !spans.is_empty() {
            out.push(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(0))).ok());
        }
        out.extend(handles.into_iter().map(|h| h.join().ok()));
        out
    });
    if progress.is_some_and(|p| p.cancel.load(Ordering::Relaxed)) {
        if let Some(Some((_, Err(err)))) = outcomes.into_iter().find(|o| matches!(o, Some((_, Err(_))))) {
            return Err(err);
        }
        return Ok(None);
    }
    let mut done = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let Some((handler, Ok(end))) = outcome else { return Ok(None) };
        done.push((handler, end));
    }
    Ok(Some(done))
}

fn read_at(file: &mut File, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(at))?;
    let mut buf = Vec::with_capacity(len);
    file.by_ref().take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The offset of the first `needle` at or after `from` and before `until`.
pub fn find_after(file: &mut File, from: u64, until: u64, needle: &[u8]) -> std::io::Result<Option<u64>> {
    let finder = memmem::Finder::new(needle);
    let mut at = from;
    while at < until {
        let len = (BLOCK + needle.len()).min((until - at) as usize + needle.len());
        let block = read_at(file, at, len)?;
        if let Some(i) = finder.find(&block) {
            let found = at + i as u64;
            return Ok((found < until).then_some(found));
        }
        if block.len() < len {
            return Ok(None);
        }
        at += BLOCK as u64;
    }
    Ok(None)
}

/// Where the start tag whose local name starts at `bytes[name]` opens: the offset of its `<`,
/// when the name follows `<` or `<prefix:` (a prefix of at most 64 bytes before it).
pub fn tag_open(bytes: &[u8], name: usize) -> Option<usize> {
    let back = name.saturating_sub(64);
    let before = bytes.get(back..name)?;
    let name_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let mut i = before.len();
    if i > 0 && before[i - 1] == b':' {
        i -= 1;
        while i > 0 && name_char(&before[i - 1]) {
            i -= 1;
        }
    }
    (i > 0 && before[i - 1] == b'<').then(|| back + i - 1)
}

/// The offset of the first start tag with local name `local` (any prefix: `<xn:MeContext `,
/// `<MeContext `) at or after `from` and before `until`.
pub fn find_start_tag(file: &mut File, from: u64, until: u64, local: &str) -> std::io::Result<Option<u64>> {
    let needle = format!("{local} ");
    let mut at = from;
    while let Some(found) = find_after(file, at, until, needle.as_bytes())? {
        // up to `<prefix:` before the name
        let back = found.saturating_sub(64);
        let before = read_at(file, back, (found - back) as usize)?;
        if let Some(open) = tag_open(&before, before.len()) {
            if back + open as u64 + 1 > from {
                return Ok(Some(back + open as u64));
            }
        }
        at = found + 1;
    }
    Ok(None)
}

/// The offset of the last `needle` that starts before `before`.
pub fn find_before(file: &mut File, before: u64, needle: &[u8]) -> std::io::Result<Option<u64>> {
    let finder = memmem::FinderRev::new(needle);
    let mut end = before;
    while end > 0 {
        let start = end.saturating_sub(BLOCK as u64);
        // the block reaches past `end` by the needle's length, for a needle cut by it
        let block = read_at(file, start, (end - start) as usize + needle.len() - 1)?;
        if let Some(i) = finder.rfind(&block) {
            if start + (i as u64) < before {
                return Ok(Some(start + i as u64));
            }
        }
        end = start;
    }
    Ok(None)
}

/// The value of attribute `key` of the start tag at offset `at`.
pub fn attribute_at(file: &mut File, at: u64, key: &[u8]) -> std::io::Result<Option<String>> {
    let block = read_at(file, at, 64 * 1024)?;
    let mut reader = Reader::from_reader(block.as_slice());
    match reader.read_event() {
        Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
            for attr in e.attributes().with_checks(false).flatten() {
                if attr.key.as_ref() == key {
                    return Ok(attr.unescape_value().ok().map(|v| v.into_owned()));
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::testutil::temp_file;

    #[test]
    fn finds_start_tags_with_any_prefix() {
        let doc =
            b"<a><xn:SubNetwork id=\"R\"><x>MeContext y</x><MeContextX/><xn:MeContext id=\"1\"/><MeContext id=\"2\"/>";
        let path = temp_file("tags.xml", doc);
        let mut f = File::open(&path).unwrap();
        let end = doc.len() as u64;
        let first = find_start_tag(&mut f, 0, end, "MeContext").unwrap().unwrap();
        assert!(doc[first as usize..].starts_with(b"<xn:MeContext id"));
        let second = find_start_tag(&mut f, first + 1, end, "MeContext").unwrap().unwrap();
        assert!(doc[second as usize..].starts_with(b"<MeContext id"));
        assert_eq!(find_start_tag(&mut f, second + 1, end, "MeContext").unwrap(), None);
    }

    #[test]
    fn finds_tags_across_blocks() {
        let mut doc = b"<models><mim name=\"A\">".to_vec();
        doc.extend(std::iter::repeat_n(b' ', BLOCK - 3));
        doc.extend_from_slice(b"<class name=\"C\"/></mim></models>");
        let path = temp_file("split.xml", &doc);
        let mut f = File::open(&path).unwrap();
        let class = find_after(&mut f, 10, doc.len() as u64, b"<class ").unwrap().unwrap();
        assert_eq!(&doc[class as usize..class as usize + 7], b"<class ");
        assert_eq!(find_after(&mut f, class + 1, doc.len() as u64, b"<class ").unwrap(), None);
        assert_eq!(find_after(&mut f, 0, class, b"<class ").unwrap(), None);
        assert_eq!(find_before(&mut f, class, b"<mim ").unwrap(), Some(8));
        assert_eq!(find_before(&mut f, 8, b"<mim ").unwrap(), None);
        assert_eq!(attribute_at(&mut f, 8, b"name").unwrap().as_deref(), Some("A"));
        assert_eq!(attribute_at(&mut f, class, b"name").unwrap().as_deref(), Some("C"));
    }
}
