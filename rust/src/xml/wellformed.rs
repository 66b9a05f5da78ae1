//! The parts of XML 1.0 well-formedness quick-xml leaves to its caller: characters the
//! document may not contain (raw or as character references), the byte order marks of
//! encodings rtbfast does not read, element and attribute names, attribute values (no `<`, no
//! repeated attribute, only defined entities). A model or export that breaks any of them is
//! refused: a file that lies about being XML is not trusted further.

use memchr::{memchr, memchr_iter, memmem};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::BytesStart;

use super::Encoding;

/// Whether `c` is an XML 1.0 `Char`: tab, line feed, carriage return, and everything from
/// U+0020 but the surrogates and U+FFFE and U+FFFF.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// How a character is named in messages: `U+001B (ESC)`.
pub fn describe(c: char) -> String {
    const C0: [&str; 32] = [
        "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT", "FF", "CR", "SO", "SI", "DLE",
        "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US",
    ];
    match C0.get(c as usize) {
        Some(name) => format!("U+{:04X} ({name})", c as u32),
        None => format!("U+{:04X}", c as u32),
    }
}

fn is_forbidden_byte(b: u8) -> bool {
    b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r'
}

/// The first offence found in raw document bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteError {
    /// Offset in the bytes checked.
    pub at: usize,
    pub message: String,
    /// The bytes are not valid in the encoding (rather than a character XML forbids).
    pub encoding: bool,
}

/// Check raw document bytes in `encoding`: every character must be an XML `Char`, and UTF-8
/// must be valid. Returns the first offence. When `more` is true, bytes at the end that may
/// start a UTF-8 sequence completed by the next read are not an error: the returned `Ok`
/// gives how many bytes were fully checked.
pub fn check_bytes(bytes: &[u8], encoding: Encoding, more: bool) -> Result<usize, ByteError> {
    // C0 controls, looked for a chunk at a time so the test vectorises
    for (i, chunk) in bytes.chunks(64).enumerate() {
        if chunk.iter().fold(false, |bad, &b| bad | is_forbidden_byte(b)) {
            let at = chunk.iter().position(|&b| is_forbidden_byte(b)).unwrap_or(0);
            let c = chunk[at] as char;
            let message = format!("character {} is not allowed in XML", describe(c));
            return Err(ByteError { at: i * 64 + at, message, encoding: false });
        }
    }
    match encoding {
        Encoding::Latin1 => Ok(bytes.len()),
        Encoding::Utf8 => {
            let checked = match std::str::from_utf8(bytes) {
                Ok(_) => bytes.len(),
                Err(err) if more && err.error_len().is_none() => err.valid_up_to(),
                Err(err) => {
                    let at = err.valid_up_to();
                    let shown: Vec<String> =
                        bytes[at..].iter().take(err.error_len().unwrap_or(1)).map(|b| format!("{b:#04x}")).collect();
                    let message = format!("invalid UTF-8 (byte {}) in a file read as UTF-8", shown.join(" "));
                    return Err(ByteError { at, message, encoding: true });
                }
            };
            // U+FFFE and U+FFFF: EF BF BE, EF BF BF
            for at in memmem::find_iter(&bytes[..checked], b"\xEF\xBF") {
                if let Some(&third) = bytes.get(at + 2) {
                    if third == 0xBE || third == 0xBF {
                        let c = if third == 0xBE { 0xFFFE } else { 0xFFFF };
                        let message = format!("character U+{c:04X} is not allowed in XML");
                        return Err(ByteError { at, message, encoding: false });
                    }
                }
            }
            Ok(checked)
        }
    }
}

/// What the first bytes of a file say about its encoding, where that is one rtbfast does not
/// read: the byte order marks of UTF-16 and UTF-32, and UTF-16 without one (`<` followed or
/// preceded by a zero byte). `None` for UTF-8 (with or without its mark) and single-byte text.
pub fn foreign_encoding(start: &[u8]) -> Option<&'static str> {
    match start {
        [0x00, 0x00, 0xFE, 0xFF, ..] => Some("UTF-32 (big-endian, by its byte order mark)"),
        [0xFF, 0xFE, 0x00, 0x00, ..] => Some("UTF-32 (little-endian, by its byte order mark)"),
        [0xFE, 0xFF, ..] => Some("UTF-16 (big-endian, by its byte order mark)"),
        [0xFF, 0xFE, ..] => Some("UTF-16 (little-endian, by its byte order mark)"),
        [0x00, b'<', ..] => Some("UTF-16 (big-endian, without a byte order mark)"),
        [b'<', 0x00, ..] => Some("UTF-16 (little-endian, without a byte order mark)"),
        _ => None,
    }
}

/// The UTF-8 byte order mark, which a file may start with.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

fn is_name_byte(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.'
}

/// Check an element or attribute name against the XML `Name` production (non-ASCII
/// characters are all accepted).
pub fn check_name(name: &[u8], what: &str) -> Result<(), String> {
    match name.first() {
        None => Err(format!("an {what} without a name")),
        Some(&b) if !is_name_start(b) => {
            Err(format!("{what} name {:?} does not start with a letter, '_' or ':'", String::from_utf8_lossy(name)))
        }
        _ => match name.iter().position(|&b| !is_name_byte(b)) {
            Some(i) => Err(format!(
                "{what} name {:?} holds {:?}, which no XML name may",
                String::from_utf8_lossy(name),
                name[i] as char
            )),
            None => Ok(()),
        },
    }
}

/// Check the references in `text` (attribute value or text, raw): each `&` starts a
/// reference to one of the five XML entities or a character reference to an XML `Char`.
pub fn check_references(text: &[u8]) -> Result<(), String> {
    for amp in memchr_iter(b'&', text) {
        let rest = &text[amp + 1..];
        let Some(end) = memchr(b';', rest) else {
            return Err("'&' that starts no reference (write &amp;)".into());
        };
        let name = &rest[..end];
        check_reference(name)?;
    }
    Ok(())
}

/// Check one reference, `name` being what stands between `&` and `;`.
pub fn check_reference(name: &[u8]) -> Result<(), String> {
    let shown = || String::from_utf8_lossy(name).into_owned();
    if let Some(number) = name.strip_prefix(b"#") {
        let (digits, radix) = match number.strip_prefix(b"x") {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        let code = std::str::from_utf8(digits)
            .ok()
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, radix).ok());
        return match code.and_then(char::from_u32) {
            Some(c) if is_xml_char(c) => Ok(()),
            Some(c) => Err(format!("&{};: character {} is not allowed in XML", shown(), describe(c))),
            None => Err(format!("&{};: not a character reference", shown())),
        };
    }
    match name {
        b"lt" | b"gt" | b"amp" | b"apos" | b"quot" => Ok(()),
        _ => {
            Err(format!("unknown entity &{};: only the five XML entities are defined (the DTD is never read)", shown()))
        }
    }
}

/// Check a start tag: its name, and each attribute (name, no repeat, no `<` in the value,
/// defined references only). Returns where in the tag (after its `<`) and what is wrong.
pub fn check_start(e: &BytesStart) -> Result<(), (usize, String)> {
    check_name(e.name().as_ref(), "element").map_err(|m| (0, m))?;
    let content: &[u8] = e;
    let at = |part: &[u8]| (part.as_ptr() as usize).saturating_sub(content.as_ptr() as usize);
    for attr in e.attributes() {
        let attr = attr.map_err(|err| match err {
            AttrError::Duplicated(here, _) => {
                let rest = &content[here.min(content.len())..];
                let end = rest.iter().position(|&b| b == b'=' || b.is_ascii_whitespace()).unwrap_or(rest.len());
                (here, format!("attribute {} given twice in one tag", String::from_utf8_lossy(&rest[..end])))
            }
            other => (0, other.to_string()),
        })?;
        let key = attr.key.as_ref();
        check_name(key, "attribute").map_err(|m| (at(key), m))?;
        if let Some(i) = memchr(b'<', &attr.value) {
            let message = format!("'<' in the value of attribute {}; write &lt;", String::from_utf8_lossy(key));
            return Err((at(&attr.value) + i, message));
        }
        if memchr(b'&', &attr.value).is_some() {
            check_references(&attr.value).map_err(|m| {
                (at(&attr.value), format!("in the value of attribute {}: {m}", String::from_utf8_lossy(key)))
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(tag: &str) -> BytesStart<'_> {
        BytesStart::from_content(tag, tag.find(' ').unwrap_or(tag.len()))
    }

    #[test]
    fn characters() {
        assert!(check_bytes(b"<a>ok\t\r\n</a>", Encoding::Utf8, false).is_ok());
        let err = check_bytes(b"<a>x\x00</a>", Encoding::Utf8, false).unwrap_err();
        assert_eq!(err.at, 4);
        assert!(err.message.contains("U+0000 (NUL)") && !err.encoding, "{err:?}");
        let long = [b"<a>".as_slice(), &[b'x'; 200], b"\x1b</a>"].concat();
        assert_eq!(check_bytes(&long, Encoding::Utf8, false).unwrap_err().at, 203);
        assert!(check_bytes("<a>\u{FFFF}</a>".as_bytes(), Encoding::Utf8, false)
            .unwrap_err()
            .message
            .contains("U+FFFF"));
        assert!(check_bytes("<a>\u{FFFD}é</a>".as_bytes(), Encoding::Utf8, false).is_ok());
        let err = check_bytes(b"<a>\xff</a>", Encoding::Utf8, false).unwrap_err();
        assert!(err.message.contains("invalid UTF-8") && err.encoding);
        assert!(check_bytes(b"<a>\xff</a>", Encoding::Latin1, false).is_ok());
        // a sequence the next read completes
        assert_eq!(check_bytes(b"<a>\xc3", Encoding::Utf8, true), Ok(3));
        assert!(check_bytes(b"<a>\xc3", Encoding::Utf8, false).is_err());
    }

    #[test]
    fn references() {
        assert!(check_references(b"a &lt; &#65; &#x41; &amp;").is_ok());
        assert!(check_references(b"&#x1b;").unwrap_err().contains("U+001B (ESC)"));
        assert!(check_references(b"&#0;").unwrap_err().contains("U+0000"));
        assert!(check_references(b"&#xD800;").unwrap_err().contains("not a character reference"));
        assert!(check_references(b"&#xFFFE;").unwrap_err().contains("not allowed"));
        assert!(check_references(b"&nbsp;").unwrap_err().contains("unknown entity"));
        assert!(check_references(b"a & b").unwrap_err().contains("starts no reference"));
    }

    #[test]
    fn start_tags() {
        assert!(check_start(&start("a id=\"1\" xn:b='x &amp; y'")).is_ok());
        assert_eq!(check_start(&start("a id=\"1\" id=\"2\"")), Err((9, "attribute id given twice in one tag".into())));
        let (at, message) = check_start(&start("a id=\"x<y\"")).unwrap_err();
        assert_eq!(at, 7);
        assert!(message.contains("'<'"));
        assert!(check_start(&start("a id=\"&#x1b;\"")).unwrap_err().1.contains("U+001B"));
        assert!(check_start(&start("1a")).unwrap_err().1.contains("does not start"));
        assert!(check_name(b"a\"b", "element").is_err());
    }

    #[test]
    fn byte_order_marks() {
        assert!(foreign_encoding(b"\xff\xfe<\x00").unwrap().starts_with("UTF-16 (little"));
        assert!(foreign_encoding(b"\xfe\xff\x00<").unwrap().starts_with("UTF-16 (big"));
        assert!(foreign_encoding(b"<\x00?\x00").unwrap().contains("without"));
        assert!(foreign_encoding(b"\xff\xfe\x00\x00").unwrap().starts_with("UTF-32"));
        assert_eq!(foreign_encoding(b"\xef\xbb\xbf<?xml"), None);
        assert_eq!(foreign_encoding(b"<?xml"), None);
    }
}
