use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;
use crate::error::ErrorKind;
use crate::xml::testutil::temp_file;

const EXPORT: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bulkCmConfigDataFile xmlns:xn=\"genericNrm.xsd\" \
xmlns:es=\"EricssonSpecificAttributes.1.1.xsd\"><fileHeader fileFormatVersion=\"32.615 V4.5\"/><configData>\
<xn:SubNetwork id=\"S\"><xn:MeContext id=\"N1\"><xn:VsDataContainer id=\"1\"><xn:attributes>\
<xn:vsDataType>vsDataX</xn:vsDataType><es:vsDataX><es:a>1</es:a><es:b>two</es:b></es:vsDataX></xn:attributes>\
</xn:VsDataContainer></xn:MeContext></xn:SubNetwork></configData></bulkCmConfigDataFile>\n";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn read_all(path: &Path, limits: Limits, ahead: bool) -> Result<Vec<u8>> {
    let input = Input::resolve(path)?;
    input.stream(limits, None, ahead, |r| {
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map_err(|err| read_error(Location { file: input.name(), ..Location::default() }, &err))?;
        Ok(out)
    })
}

fn defaults() -> Limits {
    Limits { ratio: INFLATE_RATIO, floor: INFLATE_FLOOR }
}

#[test]
fn formats_are_told_by_their_first_bytes() {
    assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Ok(Compression::Gzip));
    assert_eq!(Compression::sniff(b"BZh91AY"), Ok(Compression::Bzip2));
    assert_eq!(Compression::sniff(b"BZh0"), Ok(Compression::Plain));
    assert_eq!(Compression::sniff(b"PK\x03\x04"), Ok(Compression::Zip));
    assert_eq!(Compression::sniff(b"<?xml"), Ok(Compression::Plain));
    assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Err("zstd"));
    // a gzip file named .xml is gzip; a plain file named .gz is plain
    let gz = temp_file("named.xml", &gzip(EXPORT));
    assert_eq!(Input::resolve(&gz).unwrap().compression, Compression::Gzip);
    let plain = temp_file("plain.xml.gz", EXPORT);
    assert_eq!(Input::resolve(&plain).unwrap().compression, Compression::Plain);
}

#[test]
fn every_format_gives_the_same_bytes() {
    let archive = zip(&[("README.txt", b"hello"), ("dir/export.xml", EXPORT)]);
    let paths: Vec<PathBuf> = vec![
        temp_file("e.xml", EXPORT),
        temp_file("e.xml.gz", &gzip(EXPORT)),
        temp_file("e.xml.bz2", &bzip2(EXPORT)),
        temp_file("e.zip", &archive),
        PathBuf::from(format!("{}!dir/export.xml", temp_file("e2.zip", &archive).display())),
    ];
    for path in &paths {
        for ahead in [false, true] {
            assert_eq!(read_all(path, defaults(), ahead).unwrap(), EXPORT, "{path:?} ahead={ahead}");
        }
    }
    // concatenated gzip members are one stream (pigz, cat a.gz b.gz)
    let mut two = gzip(&EXPORT[..100]);
    two.extend(gzip(&EXPORT[100..]));
    assert_eq!(read_all(&temp_file("two.xml.gz", &two), defaults(), false).unwrap(), EXPORT);
}

#[test]
fn compressed_exports_read_as_the_plain_file() {
    let plain = crate::bulkcm::read_bulkcm(&temp_file("r.xml", EXPORT), None).unwrap();
    let zipped = zip(&[("notes.txt", b"x"), ("r.xml", EXPORT)]);
    for path in
        [temp_file("r.xml.gz", &gzip(EXPORT)), temp_file("r.xml.bz2", &bzip2(EXPORT)), temp_file("r.zip", &zipped)]
    {
        let read = crate::bulkcm::read_bulkcm(&path, None).unwrap();
        for (a, b) in plain.tables.iter().zip(&read.tables) {
            assert_eq!(a.name, b.name);
            assert_eq!(a.batches, b.batches, "{path:?} {}", a.name);
        }
    }
    let read = crate::bulkcm::read_bulkcm(&temp_file("w.zip", &zipped), None).unwrap();
    assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
    assert!(read.warnings[0].location.file.ends_with("w.zip!notes.txt"));
    assert!(read.warnings[0].message.contains("skipped"));
}

#[test]
fn errors_in_a_member_name_the_member() {
    let broken = EXPORT.replace_first(b"</es:b>", b"</es:c>");
    let path = temp_file("bad.zip", &zip(&[("bad.xml", &broken)]));
    let Err(err) = crate::bulkcm::read_bulkcm(&path, None) else { panic!("read") };
    assert_eq!(err.kind(), ErrorKind::Syntax);
    let loc = err.location();
    assert!(loc.file.ends_with("bad.zip!bad.xml"), "{loc:?}");
    assert_eq!(loc.line, 2, "{loc:?}");
}

trait ReplaceFirst {
    fn replace_first(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceFirst for &[u8] {
    fn replace_first(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self.windows(from.len()).position(|w| w == from).unwrap();
        [&self[..at], to, &self[at + from.len()..]].concat()
    }
}

#[test]
fn a_truncated_stream_is_located() {
    let big: Vec<u8> = (0..200_000).flat_map(|i| format!("<v>{i}</v>\n").into_bytes()).collect();
    let doc = [b"<bulkCmConfigDataFile><!--".as_slice(), &big, b"--></bulkCmConfigDataFile>"].concat();
    for (name, bytes) in [("t.xml.gz", gzip(&doc)), ("t.xml.bz2", bzip2(&doc))] {
        let cut = &bytes[..bytes.len() / 2];
        let err = read_all(&temp_file(name, cut), defaults(), false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Archive, "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains("compressed byte") && text.contains("decompressed byte"), "{text}");
        // and through the reader: an error, never a partial read
        let Err(err) = crate::bulkcm::read_bulkcm(&temp_file(name, cut), None) else { panic!("read") };
        assert_eq!(err.kind(), ErrorKind::Archive, "{err}");
    }
    // a zip cut short has lost its directory
    let archive = zip(&[("a.xml", &doc)]);
    let err = Input::resolve(&temp_file("t.zip", &archive[..archive.len() - 30])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Archive, "{err}");
    // a flipped byte in a member's data fails its checksum or its inflate
    let mut flipped = archive.clone();
    flipped[200] ^= 0x55;
    let err = read_all(&temp_file("f.zip", &flipped), defaults(), false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Archive, "{err}");
}

#[test]
fn a_bomb_is_refused_while_it_streams() {
    let zeros = vec![b' '; 8 << 20];
    let limits = Limits { ratio: 50, floor: 1 << 20 };
    for (name, bytes) in [("b.gz", gzip(&zeros)), ("b.bz2", bzip2(&zeros)), ("b.zip", zip(&[("b.xml", &zeros)]))] {
        let err = read_all(&temp_file(name, &bytes), limits, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Archive, "{name}");
        assert!(err.to_string().contains("decompression bomb"), "{err}");
        // the same bytes within a looser bound are read
        let loose = Limits { ratio: 1_000_000, floor: 1 << 20 };
        assert_eq!(read_all(&temp_file(name, &bytes), loose, true).unwrap().len(), zeros.len());
    }
}

#[test]
fn unsafe_member_names_refuse_the_archive() {
    for name in ["../evil.xml", "/etc/evil.xml", "a/../../evil.xml", "C:/evil.xml", "a\\..\\evil.xml"] {
        let path = temp_file("trav.zip", &zip(&[("ok.xml", EXPORT), (name, EXPORT)]));
        let err = list(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Archive, "{name}");
        assert!(err.to_string().contains("refused"), "{err}");
        let member = PathBuf::from(format!("{}!ok.xml", path.display()));
        assert_eq!(Input::resolve(&member).unwrap_err().kind(), ErrorKind::Archive, "{name}");
    }
}

#[test]
fn an_archive_of_many_members_is_many_inputs() {
    let path = temp_file("many.zip", &zip(&[("a.xml", EXPORT), ("README.txt", b"r"), ("sub/b.XML", EXPORT)]));
    let listing = list(&path).unwrap();
    let names: Vec<String> = listing.inputs.iter().map(Input::name).collect();
    let base = path.display();
    assert_eq!(names, vec![format!("{base}!a.xml"), format!("{base}!sub/b.XML")]);
    assert_eq!(listing.warnings.len(), 1);
    let err = Input::resolve(&path).unwrap_err();
    assert!(err.to_string().contains("2 XML members"), "{err}");
    let missing = PathBuf::from(format!("{base}!c.xml"));
    assert!(Input::resolve(&missing).unwrap_err().to_string().contains("no member named"));
    let none = temp_file("none.zip", &zip(&[("README.txt", b"r")]));
    assert!(list(&none).unwrap_err().to_string().contains("no XML member"));
}
