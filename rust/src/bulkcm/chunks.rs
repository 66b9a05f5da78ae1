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
//! A decompressing source plugs in there: the head and each range read from the decompressed
//! stream at their decompressed offsets.

use std::path::Path;

use super::parallel::{cut, ends_where, head};
use super::{finish_parts, BulkCmReader, BulkCmResult};
use crate::error::{Error, Location, Result};
use crate::xml::{drive_span, locate_warnings, prolog, Context, Span};

/// One chunk of an export: bytes `start..end` (`None`: to the end of the file), read after the
/// head `0..head_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start: u64,
    pub end: Option<u64>,
    pub head_end: u64,
}

/// The whole file as one chunk (no head to read first).
const WHOLE: Chunk = Chunk { start: 0, end: None, head_end: 0 };

/// `path` split into chunks of about `chunk_bytes` (at least 1) at node boundaries. One chunk,
/// the whole file, when it is smaller than two chunks, is compressed, is not a Bulk CM export,
/// or has no node to cut before.
pub fn chunks(path: &Path, chunk_bytes: u64) -> Result<Vec<Chunk>> {
    // a compressed input (or a zip member) has no byte ranges to seek to: read whole, as one
    // chunk (cutting the decompressed stream is not done yet; docs/scale-out.md)
    if !crate::input::Input::resolve(path)?.is_plain() {
        return Ok(vec![WHOLE]);
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
    Ok(cuts.spans.iter().map(|s| Chunk { start: s.start, end: s.end, head_end: cuts.first }).collect())
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
pub fn read_chunk(path: &Path, chunk: Chunk) -> Result<BulkCmResult> {
    if chunk == WHOLE {
        return super::read_bulkcm_with(path, None, 1);
    }
    let (encoding, _) = prolog(path)?;
    let (prefix, start) = head(path, chunk.head_end, encoding).map_err(|e| e.with_line_column(path))?;
    let first = chunk.start == 0;
    let mut reader = if first { BulkCmReader::default() } else { BulkCmReader::continuing(&prefix) };
    let context = if first { Context { encoding: Some(encoding), ..Context::default() } } else { start.clone() };
    let span = Span { start: chunk.start, end: chunk.end, context };
    let end = drive_span(path, &span, &mut reader, None).map_err(|e| e.with_line_column(path))?;
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
                        got.extend(table_rows(&read_chunk(&path, *c).unwrap(), name));
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
        let chunk = Chunk { start: first, end: Some(at), head_end: first };
        let err = read_chunk(&path, chunk).err().unwrap();
        assert!(err.to_string().contains("cannot read this export in parts"), "{err}");
    }

    #[test]
    fn a_compressed_export_is_one_chunk_read_whole() {
        use std::io::Write;
        let doc = export(40, "MeContext");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(doc.as_bytes()).unwrap();
        let path = temp_file("chunks-compressed.xml.gz", &gz.finish().unwrap());
        assert_eq!(chunks(&path, 1).unwrap(), vec![WHOLE]);
        let plain = temp_file("chunks-compressed-plain.xml", doc.as_bytes());
        let whole = super::super::read_bulkcm_with(&plain, None, 1).unwrap();
        let read = read_chunk(&path, WHOLE).unwrap();
        for name in ["mos", "values"] {
            assert_eq!(table_rows(&read, name), table_rows(&whole, name), "{name}");
        }
    }
}
