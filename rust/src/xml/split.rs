//! Finding places where a document can be cut into spans that are read in parallel: the
//! next occurrence of a start tag after an offset, the last one before it, and the value of
//! an XML attribute of the tag found there. What is found is only a candidate; the reader
//! of the span before it proves the cut sound by ending exactly in the expected context.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use memchr::memmem;
use quick_xml::events::Event;
use quick_xml::Reader;

const BLOCK: usize = 1 << 20;

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
