//! One export split into chunks that separate processes read alone (a Spark task each, say).
//!
//! A chunk is a byte range of the file that starts at a `MeContext` start tag (else a
//! `ManagedElement` one, for exports of bare `ManagedElement`s), found as the parallel read
//! finds its cuts ([`super::parallel`]): the first such tag at or after each multiple of
//! `chunk_bytes`. The cuts depend only on the file and `chunk_bytes`, never on how many
//! tasks read them, so the chunks (and the rows each gives) are the same for any number of
//! tasks.
//!
//! A chunk alone is not a document: it needs the document's context, the root element with
//! its namespace declarations, `configData` and the open `SubNetwork` chain. That context is
//! the file's **head**, bytes `0..head_end` (up to the first cut), which the reader of every
//! chunk reads first ([`super::parallel::head`]), then its own range from that context, then
//! proves that it ended where the head ended (between two nodes of the same `SubNetwork`), so
//! a cut in a comment, CDATA or under another `SubNetwork` is an error naming the chunk, not a
//! wrong row. Chunk 0 starts at byte 0 and gives the head's MOs; the others drop them.
//!
//! Bytes come from [`crate::xml::drive_span`], which opens the file and seeks to the range.
//!
//! A compressed export (gzip, bzip2, or a deflated or stored member of a zip archive) is cut the
//! same way, at offsets of its decompressed stream, found in one sequential pass that also
//! records an access point for each chunk ([`crate::input::access`]): the deflate block
//! boundary before the chunk's start, with the 32 KiB window there (gzip, deflate), the bzip2
//! block the chunk starts in (bzip2 blocks need no window), or the chunk's own offset (a stored
//! member). A chunk carries its access point (the window included, so no task decompresses
//! anything before its chunk but the head), and its reader decompresses from there, reads
//! `start..end` and checks the bytes' CRC-32 against the pass's. The chunk's element is the one
//! of the first `MeContext` or `ManagedElement` start tag in the stream, and the cuts the first
//! such tag at or after each multiple of `chunk_bytes` (decompressed).

use std::path::Path;

use super::parallel::{cut, ends_where, head};
use super::{finish_parts, BulkCmReader, BulkCmResult};
use crate::error::{Error, Location, Result};
use crate::input::access::{self, Access, ChunkBytes, Framing};
use crate::input::{Input, Limits};
use crate::xml::split::tag_open;
use crate::xml::{drive_span, drive_span_from, locate_warnings, prolog, Context, Span};

/// One chunk of an export: bytes `start..end` (`None`: to the end of the file), read after the
/// head `0..head_end`; of a compressed export, decompressed offsets, read from `access`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub start: u64,
    pub end: Option<u64>,
    pub head_end: u64,
    pub access: Option<Access>,
}

/// The whole file as one chunk (no head to read first).
const WHOLE: Chunk = Chunk { start: 0, end: None, head_end: 0, access: None };

/// The elements chunks start at, in the order tried (see [`super::parallel`]).
const NODES: [&str; 2] = ["MeContext", "ManagedElement"];

/// `path` split into chunks of about `chunk_bytes` (at least 1) at node boundaries: byte
/// ranges of a plain file, ranges of the decompressed stream with an access point each of a gzip
/// or bzip2 file or a deflated or stored zip member. One chunk, the whole file, when it is
/// smaller than two chunks (a plain file) or has no node past `chunk_bytes` (a compressed one),
/// is a zip member compressed otherwise, is not a Bulk CM export, or has no node to cut before.
pub fn chunks(path: &Path, chunk_bytes: u64) -> Result<Vec<Chunk>> {
    let input = Input::resolve(path)?;
    if !input.is_plain() {
        return match access::framing(&input)? {
            Some(framing) => compressed_chunks(path, &input, framing, chunk_bytes),
            None => Ok(vec![WHOLE]),
        };
    }
    let size = std::fs::metadata(path).map_err(|err| Error::io(&path.display().to_string(), &err))?.len();
    let parts = (size / chunk_bytes.max(1)) as usize;
    if parts < 2 {
        return Ok(vec![WHOLE]);
    }
    let (encoding, root) = prolog(path)?;
    if root != "bulkCmConfigDataFile" {
        return Ok(vec![WHOLE]);
    }
    let Some(cuts) = cut(path, size, parts, encoding) else { return Ok(vec![WHOLE]) };
    Ok(cuts.spans.iter().map(|s| Chunk { start: s.start, end: s.end, head_end: cuts.first, access: None }).collect())
}

/// Where a compressed export is cut, found region by region of its decompressed stream.
struct Cutter {
    chunk_bytes: u64,
    /// The element cut before, once the first node's tag is seen, and where that tag is.
    node: Option<(&'static str, u64)>,
    /// The next cut is the first node tag at or after this.
    next: u64,
}

impl Cutter {
    /// The cuts in `bytes` (at offset `base`; the region proper starts at `region`).
    fn find(&mut self, bytes: &[u8], base: u64, region: u64) -> Vec<u64> {
        let mut found = Vec::new();
        // a needle that ends before the region was seen in the region before
        let fresh = |i: usize, len: usize| base + (i + len) as u64 > region;
        if self.node.is_none() {
            let first = NODES
                .iter()
                .filter_map(|&node| {
                    let needle = format!("{node} ");
                    memchr::memmem::find_iter(bytes, needle.as_bytes())
                        .filter(|&i| fresh(i, needle.len()))
                        .find_map(|i| tag_open(bytes, i))
                        .map(|open| (open, node))
                })
                .min();
            let Some((open, node)) = first else { return found };
            self.node = Some((node, base + open as u64));
        }
        let Some((node, head_end)) = self.node else { return found };
        let needle = format!("{node} ");
        for i in memchr::memmem::find_iter(bytes, needle.as_bytes()) {
            if !fresh(i, needle.len()) {
                continue;
            }
            let Some(open) = tag_open(bytes, i) else { continue };
            let at = base + open as u64;
            if at > head_end && at >= self.next {
                found.push(at);
                self.next = (at / self.chunk_bytes + 1) * self.chunk_bytes;
            }
        }
        found
    }
}

/// A compressed export cut in one pass over its decompressed stream.
fn compressed_chunks(path: &Path, input: &Input, framing: Framing, chunk_bytes: u64) -> Result<Vec<Chunk>> {
    let (_, root) = prolog(path)?;
    if root != "bulkCmConfigDataFile" {
        return Ok(vec![WHOLE]);
    }
    let chunk_bytes = chunk_bytes.max(1);
    let mut cutter = Cutter { chunk_bytes, node: None, next: chunk_bytes };
    let index =
        access::index(input, framing, Limits::from_env(), |bytes, base, region| cutter.find(bytes, base, region))?;
    let Some((_, head_end)) = cutter.node else { return Ok(vec![WHOLE]) };
    if index.chunks.len() < 2 {
        return Ok(vec![WHOLE]);
    }
    let ends: Vec<Option<u64>> = index.chunks.iter().skip(1).map(|(cut, _)| Some(*cut)).chain([None]).collect();
    Ok(index
        .chunks
        .into_iter()
        .zip(ends)
        .map(|((start, access), end)| Chunk { start, end, head_end, access: Some(access) })
        .collect())
}

fn unsound(path: &Path, what: &str) -> Error {
    Error::Value {
        loc: Location { file: path.display().to_string(), ..Location::default() },
        message: format!("cannot read this export in parts: {what}"),
    }
}

/// Read one chunk of `path` alone: its MOs and values, as the read of the whole file gives
/// them for that range (chunk 0 also the head's). An error when the chunk does not end
/// between two nodes of the head's `SubNetwork` (its cut was unsound).
pub fn read_chunk(path: &Path, chunk: &Chunk) -> Result<BulkCmResult> {
    if *chunk == WHOLE {
        return super::read_bulkcm_with(path, None, 1);
    }
    let (encoding, _) = prolog(path)?;
    let (prefix, start) = head(path, chunk.head_end, encoding).map_err(|e| e.with_line_column(path))?;
    let first = chunk.start == 0;
    let mut reader = if first { BulkCmReader::default() } else { BulkCmReader::continuing(&prefix) };
    let context = if first { Context { encoding: Some(encoding), ..Context::default() } } else { start.clone() };
    let span = Span { start: chunk.start, end: chunk.end, context };
    let end = match &chunk.access {
        None => drive_span(path, &span, &mut reader, None),
        Some(access) => {
            let input = Input::resolve(path)?;
            let name = input.name();
            let mut bytes = ChunkBytes::open(&input, access, chunk.start, chunk.end, Limits::from_env())?;
            let read = drive_span_from(&mut bytes, &name, &span, &mut reader);
            // the chunk read to its end, its bytes as the split saw them: where they are not (a
            // file changed or corrupted since), that is the error, not what the parser made of them
            let checked = bytes.finish().map_err(|err| {
                let offset = chunk.end.unwrap_or(chunk.start);
                crate::input::read_error(Location { file: name.clone(), offset, ..Location::default() }, &err)
            });
            match (read, checked) {
                (Err(err), Ok(())) | (Err(err @ Error::Archive { .. }), Err(_)) => Err(err),
                (_, Err(err)) => Err(err),
                (Ok(end), Ok(())) => Ok(end),
            }
        }
    }
    .map_err(|e| e.with_line_column(path))?;
    if chunk.end.is_some() && !ends_where(&reader, &end.context, &prefix, &start) {
        return Err(unsound(
            path,
            &format!("the chunk {}..{} does not end between two nodes", chunk.start, chunk.end.unwrap_or(0)),
        ));
    }
    let file = path.display().to_string();
    let warnings = locate_warnings(path, &file, end.warnings);
    let (tables, header) = finish_parts(vec![reader], prefix.mos.len(), !first)
        .map_err(|err| Error::Value { loc: Location { file, ..Location::default() }, message: err.to_string() })?;
    Ok(BulkCmResult { tables, warnings, header })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::testutil::temp_file;

    fn export(nodes: usize, element: &str) -> String {
        let mut doc = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bulkCmConfigDataFile xmlns:xn=\"genericNrm.xsd\" \
             xmlns=\"configData.xsd\">\n<fileHeader fileFormatVersion=\"32.615 V4.5\"/>\n<configData>\n\
             <xn:SubNetwork id=\"R\"><xn:attributes><xn:userLabel>r</xn:userLabel></xn:attributes>\n",
        );
        for n in 0..nodes {
            doc.push_str(&format!(
                "<xn:{element} id=\"N{n}\"><xn:attributes><xn:userLabel>node {n}</xn:userLabel></xn:attributes>\
                 <xn:VsDataContainer id=\"1\"><xn:attributes><xn:vsDataType>vsDataX</xn:vsDataType>\
                 <es:vsDataX xmlns:es=\"e.xsd\"><es:a>{n}</es:a><es:b>1</es:b><es:b>2</es:b></es:vsDataX>\
                 </xn:attributes></xn:VsDataContainer></xn:{element}>\n"
            ));
        }
        doc.push_str("</xn:SubNetwork>\n</configData>\n<fileFooter dateTime=\"now\"/>\n</bulkCmConfigDataFile>\n");
        doc
    }

    fn texts(a: &dyn arrow_array::Array) -> Vec<String> {
        use arrow_array::cast::AsArray;
        use arrow_schema::DataType;
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    return "<null>".to_string();
                }
                match a.data_type() {
                    DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
                    DataType::Int32 => a.as_primitive::<arrow_array::types::Int32Type>().value(i).to_string(),
                    DataType::Int64 => a.as_primitive::<arrow_array::types::Int64Type>().value(i).to_string(),
                    DataType::Boolean => a.as_boolean().value(i).to_string(),
                    DataType::Dictionary(..) => {
                        let d = a.as_dictionary::<arrow_array::types::Int32Type>();
                        let key = d.keys().value(i) as usize;
                        d.values().as_string::<i32>().value(key).to_string()
                    }
                    other => format!("{other:?}"),
                }
            })
            .collect()
    }

    fn table_rows(result: &BulkCmResult, name: &str) -> Vec<String> {
        let Some(batch) = super::super::table(&result.tables, name) else { return Vec::new() };
        let columns: Vec<Vec<String>> = batch.columns().iter().map(|c| texts(c.as_ref())).collect();
        (0..batch.num_rows()).map(|i| columns.iter().map(|c| c[i].as_str()).collect::<Vec<_>>().join("|")).collect()
    }

    #[test]
    fn chunks_read_alone_give_the_whole_read() {
        for element in ["MeContext", "ManagedElement"] {
            let doc = export(40, element);
            let path = temp_file(&format!("chunks-{element}.xml"), doc.as_bytes());
            let whole = super::super::read_bulkcm_with(&path, None, 1).unwrap();
            for chunk_bytes in [200u64, 1000, 5000, 1 << 30] {
                let cs = chunks(&path, chunk_bytes).unwrap();
                assert_eq!(cs, chunks(&path, chunk_bytes).unwrap(), "deterministic");
                if chunk_bytes == 200 {
                    assert!(cs.len() >= 30, "about one chunk per node: {}", cs.len());
                }
                if chunk_bytes == 1 << 30 {
                    assert_eq!(cs, vec![WHOLE]);
                }
                for name in ["mos", "values"] {
                    let mut got = Vec::new();
                    for c in &cs {
                        got.extend(table_rows(&read_chunk(&path, c).unwrap(), name));
                    }
                    assert_eq!(got, table_rows(&whole, name), "{element} {chunk_bytes} {name}");
                }
            }
        }
    }

    #[test]
    fn an_unsound_cut_is_an_error() {
        // nodes N3.. under a second SubNetwork: a chunk cut there does not end where the head did
        let doc = export(6, "MeContext")
            .replace("<xn:MeContext id=\"N3\">", "<xn:SubNetwork id=\"S2\"><xn:MeContext id=\"N3\">")
            .replace("</xn:SubNetwork>\n</configData>", "</xn:SubNetwork></xn:SubNetwork>\n</configData>");
        let path = temp_file("chunks-nested.xml", doc.as_bytes());
        let first = doc.find("<xn:MeContext").unwrap() as u64;
        let at = doc.find("<xn:MeContext id=\"N4\"").unwrap() as u64;
        let chunk = Chunk { start: first, end: Some(at), head_end: first, access: None };
        let err = read_chunk(&path, &chunk).err().unwrap();
        assert!(err.to_string().contains("cannot read this export in parts"), "{err}");
    }

    fn gzip(doc: &[u8], level: u32) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        gz.write_all(doc).unwrap();
        gz.finish().unwrap()
    }

    fn rows_of_chunks(path: &Path, cs: &[Chunk], name: &str) -> Vec<String> {
        cs.iter().flat_map(|c| table_rows(&read_chunk(path, c).unwrap(), name)).collect()
    }

    #[test]
    fn chunks_of_a_gzip_export_read_alone_give_the_whole_read() {
        let doc = export(300, "MeContext");
        let plain = temp_file("chunks-gz-plain.xml", doc.as_bytes());
        let whole = super::super::read_bulkcm_with(&plain, None, 1).unwrap();
        // two members (as `cat a.gz b.gz` makes), the cut between them mid-node
        let split_at = doc.len() / 3;
        let mut two = gzip(&doc.as_bytes()[..split_at], 6);
        two.extend(gzip(&doc.as_bytes()[split_at..], 6));
        let mut inputs = Vec::new();
        for level in [1u32, 6, 9] {
            inputs.push((format!("level {level}"), gzip(doc.as_bytes(), level)));
        }
        inputs.push(("two members".to_string(), two));
        for (what, bytes) in &inputs {
            let path = temp_file(&format!("chunks-{}.xml.gz", what.replace(' ', "-")), bytes);
            for chunk_bytes in [100u64, 2000, 20_000, 1 << 30] {
                let cs = chunks(&path, chunk_bytes).unwrap();
                assert_eq!(cs, chunks(&path, chunk_bytes).unwrap(), "deterministic");
                if chunk_bytes == 1 << 30 {
                    assert_eq!(cs, vec![WHOLE]);
                } else {
                    assert!(
                        cs.len() as u64 >= doc.len() as u64 / chunk_bytes.max(400) / 2,
                        "{what} {chunk_bytes}: {}",
                        cs.len()
                    );
                    assert!(cs.iter().all(|c| c.access.is_some()));
                }
                for name in ["mos", "values"] {
                    assert_eq!(
                        rows_of_chunks(&path, &cs, name),
                        table_rows(&whole, name),
                        "{what} {chunk_bytes} {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn chunks_start_inflating_near_their_start() {
        // a large export: every access point lies within a deflate block (a few hundred KiB)
        // before its chunk, and carries a window
        let doc = export(20_000, "MeContext");
        let path = temp_file("chunks-gz-large.xml.gz", &gzip(doc.as_bytes(), 6));
        let cs = chunks(&path, 1 << 20).unwrap();
        assert!(cs.len() >= 4, "{}", cs.len());
        for c in &cs[1..] {
            let a = c.access.as_ref().unwrap();
            assert!(a.out <= c.start && c.start - a.out < 1 << 20, "{} {}", a.out, c.start);
            assert_eq!(a.window.len(), access::WINDOW);
            assert_eq!(Access::from_bytes(&a.to_bytes()).as_ref(), Some(a));
        }
        // the blocks end mid-byte: the reader starts at a shifted bit
        assert!(cs[1..].iter().any(|c| c.access.as_ref().unwrap().bit % 8 != 0));
        let plain = temp_file("chunks-gz-large.xml", doc.as_bytes());
        let whole = super::super::read_bulkcm_with(&plain, None, 1).unwrap();
        assert_eq!(rows_of_chunks(&path, &cs, "values"), table_rows(&whole, "values"));
    }

    #[test]
    fn a_deflated_zip_member_is_cut_too() {
        use std::io::Write;
        let doc = export(300, "ManagedElement");
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("a.xml", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(doc.as_bytes()).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let archive = temp_file("chunks-member.zip", &bytes);
        let path = std::path::PathBuf::from(format!("{}!a.xml", archive.display()));
        let cs = chunks(&path, 5000).unwrap();
        assert!(cs.len() > 5, "{}", cs.len());
        let plain = temp_file("chunks-member.xml", doc.as_bytes());
        let whole = super::super::read_bulkcm_with(&plain, None, 1).unwrap();
        for name in ["mos", "values"] {
            assert_eq!(rows_of_chunks(&path, &cs, name), table_rows(&whole, name), "{name}");
        }
    }

    fn bzip2(doc: &[u8], level: u32) -> Vec<u8> {
        use std::io::Write;
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
        bz.write_all(doc).unwrap();
        bz.finish().unwrap()
    }

    #[test]
    fn chunks_of_a_bzip2_export_read_alone_give_the_whole_read() {
        // 300 kB: three blocks at level 1, one at level 9
        let doc = export(1200, "MeContext");
        let plain = temp_file("chunks-bz-plain.xml", doc.as_bytes());
        let whole = super::super::read_bulkcm_with(&plain, None, 1).unwrap();
        let thirds = [doc.len() / 3, doc.len() * 2 / 3];
        let mut three = bzip2(&doc.as_bytes()[..thirds[0]], 1);
        three.extend(bzip2(&doc.as_bytes()[thirds[0]..thirds[1]], 9));
        three.extend(bzip2(&doc.as_bytes()[thirds[1]..], 1));
        let inputs =
            [("level 1", bzip2(doc.as_bytes(), 1)), ("level 9", bzip2(doc.as_bytes(), 9)), ("three streams", three)];
        for (what, bytes) in &inputs {
            let path = temp_file(&format!("chunks-{}.xml.bz2", what.replace(' ', "-")), bytes);
            // (tiny chunks are the Python tests', on the release build: every chunk decodes a block)
            for chunk_bytes in [3000u64, 120_000, 1 << 30] {
                let cs = chunks(&path, chunk_bytes).unwrap();
                assert_eq!(cs, chunks(&path, chunk_bytes).unwrap(), "deterministic");
                if chunk_bytes == 1 << 30 {
                    assert_eq!(cs, vec![WHOLE]);
                } else {
                    assert!(cs.len() as u64 >= doc.len() as u64 / chunk_bytes / 2, "{what} {chunk_bytes}");
                    for c in &cs {
                        let a = c.access.as_ref().unwrap();
                        assert!(a.out <= c.start && a.window.is_empty(), "{what} {chunk_bytes}");
                        assert_eq!(Access::from_bytes(&a.to_bytes()).as_ref(), Some(a));
                    }
                }
                for name in ["mos", "values"] {
                    assert_eq!(
                        rows_of_chunks(&path, &cs, name),
                        table_rows(&whole, name),
                        "{what} {chunk_bytes} {name}"
                    );
                }
            }
        }
        // at level 1 the chunks start at several blocks, most of them not byte-aligned
        let path = temp_file("chunks-level-1.xml.bz2", &inputs[0].1);
        let cs = chunks(&path, 3000).unwrap();
        let mut bits: Vec<u64> = cs.iter().map(|c| c.access.as_ref().unwrap().bit).collect();
        bits.dedup();
        assert!(bits.len() >= 3 && bits.iter().any(|b| b % 8 != 0), "{bits:?}");
    }

    #[test]
    fn a_stored_zip_member_is_cut_too() {
        use std::io::Write;
        let doc = export(300, "MeContext");
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("before.txt", stored).unwrap();
        zip.write_all(b"another member first").unwrap();
        zip.start_file("a.xml", stored).unwrap();
        zip.write_all(doc.as_bytes()).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let archive = temp_file("chunks-stored.zip", &bytes);
        let path = std::path::PathBuf::from(format!("{}!a.xml", archive.display()));
        let plain = temp_file("chunks-stored.xml", doc.as_bytes());
        let whole = super::super::read_bulkcm_with(&plain, None, 1).unwrap();
        for chunk_bytes in [100u64, 5000] {
            let cs = chunks(&path, chunk_bytes).unwrap();
            assert!(cs.len() > 5, "{}", cs.len());
            assert!(cs.iter().all(|c| c.access.as_ref().is_some_and(|a| a.out == c.start)));
            for name in ["mos", "values"] {
                assert_eq!(rows_of_chunks(&path, &cs, name), table_rows(&whole, name), "{name}");
            }
        }
        // the member changed in place after the split: a chunk read alone fails on its CRC
        let cs = chunks(&path, 5000).unwrap();
        let mut changed = bytes.clone();
        let at = memchr::memmem::find(&changed, b"node 150").unwrap();
        changed[at + 7] = b'7';
        std::fs::write(&archive, &changed).unwrap();
        let failed: Vec<String> = cs.iter().filter_map(|c| read_chunk(&path, c).err()).map(|e| e.to_string()).collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].contains("do not check"), "{failed:?}");
        // and the split refuses it: the member's CRC is the archive's no more
        let err = chunks(&path, 5000).err().unwrap().to_string();
        assert!(err.contains("CRC does not match"), "{err}");
    }

    #[test]
    fn a_corrupt_or_changed_bzip2_is_a_located_error() {
        let doc = export(1200, "MeContext");
        let good = bzip2(doc.as_bytes(), 1);
        let cut = temp_file("chunks-truncated.xml.bz2", &good[..good.len() * 2 / 3]);
        let err = chunks(&cut, 20_000).err().unwrap().to_string();
        assert!(err.contains("chunks-truncated.xml.bz2") && err.contains("truncated at compressed byte"), "{err}");
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        let bad_path = temp_file("chunks-corrupt.xml.bz2", &bad);
        let err = chunks(&bad_path, 20_000).err().unwrap().to_string();
        assert!(err.contains("corrupt bzip2 data at compressed byte") && err.contains("decompressed byte"), "{err}");
        let path = temp_file("chunks-changed.xml.bz2", &good);
        let cs = chunks(&path, 20_000).unwrap();
        std::fs::write(&path, bzip2(doc.replace("node 150", "node 151").as_bytes(), 1)).unwrap();
        let failed: Vec<String> = cs.iter().filter_map(|c| read_chunk(&path, c).err()).map(|e| e.to_string()).collect();
        assert!(!failed.is_empty());
        assert!(failed.iter().all(|e| e.contains("do not check") || e.contains("bzip2")), "{failed:?}");
    }

    #[test]
    fn a_corrupt_or_changed_gzip_is_a_located_error() {
        let doc = export(300, "MeContext");
        let good = gzip(doc.as_bytes(), 6);
        // truncated: the split says where
        let cut = temp_file("chunks-truncated.xml.gz", &good[..good.len() * 2 / 3]);
        let err = chunks(&cut, 2000).err().unwrap().to_string();
        assert!(err.contains("chunks-truncated.xml.gz") && err.contains("compressed byte"), "{err}");
        // a flipped byte in the middle: the split's CRC check (or the inflater) says where
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        let bad_path = temp_file("chunks-corrupt.xml.gz", &bad);
        let err = chunks(&bad_path, 2000).err().unwrap().to_string();
        assert!(err.contains("corrupt") && err.contains("compressed byte"), "{err}");
        // the file changed after the split: a chunk read alone fails, naming the chunk's bytes
        let path = temp_file("chunks-changed.xml.gz", &good);
        let cs = chunks(&path, 2000).unwrap();
        std::fs::write(&path, gzip(doc.replace("node 150", "node 151").as_bytes(), 6)).unwrap();
        let failed: Vec<String> = cs.iter().filter_map(|c| read_chunk(&path, c).err()).map(|e| e.to_string()).collect();
        assert!(!failed.is_empty());
    }
}
