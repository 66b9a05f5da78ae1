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

/// A C0 control other than tab, line feed and carriage return; written with `&` and `|`, not
/// `&&`, so a loop over many bytes compiles to vector instructions.
#[inline(always)]
fn is_forbidden_byte(b: u8) -> bool {
    (b < 0x20) & !((b == b'\t') | (b == b'\n') | (b == b'\r'))
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
        if chunk.iter().fold(0u8, |bad, &b| bad | is_forbidden_byte(b) as u8) != 0 {
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

/// Per byte: bit 1 if it may start an XML name, bit 2 if it may stand in one (ASCII letters,
/// `_`, `:` and every non-ASCII byte start one; digits, `-` and `.` only continue one).
const NAME_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let start = c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80;
        let within = start || c.is_ascii_digit() || c == b'-' || c == b'.';
        table[b] = (start as u8) | ((within as u8) << 1);
        b += 1;
    }
    table
};

/// Check an element or attribute name against the XML `Name` production (non-ASCII
/// characters are all accepted).
pub fn check_name(name: &[u8], what: &str) -> Result<(), String> {
    let Some(&first) = name.first() else {
        return Err(format!("an {what} without a name"));
    };
    // one pass without branches for the usual, valid name
    let all = name.iter().fold(2u8, |acc, &b| acc & NAME_BYTES[b as usize]);
    if NAME_BYTES[first as usize] & 1 != 0 && all != 0 {
        return Ok(());
    }
    if NAME_BYTES[first as usize] & 1 == 0 {
        return Err(format!(
            "{what} name {:?} does not start with a letter, '_' or ':'",
            String::from_utf8_lossy(name)
        ));
    }
    let bad = name.iter().find(|&&b| NAME_BYTES[b as usize] & 2 == 0).copied().unwrap_or(b'?');
    Err(format!("{what} name {:?} holds {:?}, which no XML name may", String::from_utf8_lossy(name), bad as char))
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

/// What follows `=` (with optional white space around it) in a declaration: the quoted value
/// and the rest.
fn quoted_value(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = text.trim_ascii_start().strip_prefix(b"=")?.trim_ascii_start();
    let (&quote, rest) = rest.split_first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let end = memchr(quote, rest)?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// Check an XML declaration's content (`xml version="1.0" encoding="…" standalone="…"`):
/// the version first and of the form `1.n`, then optionally an encoding name, then optionally
/// `standalone` `yes` or `no`, and nothing else.
pub fn check_decl(content: &[u8]) -> Result<(), String> {
    let mut rest = content.strip_prefix(b"xml").unwrap_or(content);
    let mut seen = 0;
    for (i, (key, valid)) in [
        (
            &b"version"[..],
            (|v: &[u8]| v.len() > 2 && v.starts_with(b"1.") && v[2..].iter().all(u8::is_ascii_digit))
                as fn(&[u8]) -> bool,
        ),
        (b"encoding", |v| {
            v.first().is_some_and(u8::is_ascii_alphabetic)
                && v.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }),
        (b"standalone", |v| v == b"yes" || v == b"no"),
    ]
    .into_iter()
    .enumerate()
    {
        let after = rest.trim_ascii_start();
        if after.len() == rest.len() || !after.starts_with(key) {
            if i == 0 {
                return Err("an XML declaration must begin with version=\"1.0\"".into());
            }
            continue;
        }
        let (value, tail) = quoted_value(&after[key.len()..])
            .ok_or_else(|| format!("in the XML declaration, {} lacks a quoted value", String::from_utf8_lossy(key)))?;
        if !valid(value) {
            return Err(format!(
                "in the XML declaration, {}={:?} is not allowed",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            ));
        }
        rest = tail;
        seen += 1;
    }
    if seen == 0 || !rest.trim_ascii().is_empty() {
        return Err(format!(
            "the XML declaration holds {:?}, which it may not (version, encoding and standalone, in that order)",
            String::from_utf8_lossy(rest.trim_ascii())
        ));
    }
    Ok(())
}

/// Check a DOCTYPE's content (after `<!DOCTYPE` and its white space): a name, then optionally
/// `SYSTEM "uri"` or `PUBLIC "id" "uri"`. An internal subset (`[...]`) is refused: rtbfast
/// reads no DTD, so the entities and attribute defaults declared there would be ignored and
/// the document read other than it says.
pub fn check_doctype(content: &[u8]) -> Result<(), String> {
    let end = content.iter().position(|b| b.is_ascii_whitespace() || *b == b'[').unwrap_or(content.len());
    check_name(&content[..end], "DOCTYPE")?;
    let mut rest = &content[end..];
    let trimmed = rest.trim_ascii_start();
    let spaced = trimmed.len() < rest.len();
    for (keyword, count) in [(&b"SYSTEM"[..], 1), (&b"PUBLIC"[..], 2)] {
        if !(spaced && trimmed.starts_with(keyword)) {
            continue;
        }
        let mut after = &trimmed[keyword.len()..];
        for k in 0..count {
            let t = after.trim_ascii_start();
            let public = keyword == b"PUBLIC" && k == 0;
            match (t.len() < after.len(), doctype_literal(t, public)) {
                (true, Some(used)) => after = &t[used..],
                _ => {
                    let what = if public { "public id" } else { "system literal" };
                    return Err(format!("the DOCTYPE's {} lacks its quoted {what}", String::from_utf8_lossy(keyword)));
                }
            }
        }
        rest = after;
        break;
    }
    let rest = rest.trim_ascii_start();
    if rest.starts_with(b"[") {
        return Err("a DOCTYPE with declarations ([...]) is refused: rtbfast reads no DTD, so it could not honour \
                    the entities and defaults declared there"
            .into());
    }
    if !rest.is_empty() {
        return Err(format!("the DOCTYPE holds {:?} where it should end", String::from_utf8_lossy(rest)));
    }
    Ok(())
}

/// The bytes a quoted DOCTYPE literal at the start of `text` takes, if it is one (a public id
/// holds only the characters XML allows in one).
fn doctype_literal(text: &[u8], public: bool) -> Option<usize> {
    let (&quote, body) = text.split_first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let close = memchr(quote, body)?;
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || b" \r\n-'()+,./:=?;!*#@$_%".contains(b);
    (!public || body[..close].iter().all(allowed)).then_some(close + 2)
}

/// Whether `raw` (a tag's text after its name) is exactly one well-formed attribute whose
/// value holds neither `<` nor `&`: then there is nothing more to check. Anything else takes
/// the full check, which also says what is wrong.
fn one_plain_attribute(raw: &[u8]) -> bool {
    let raw = raw.trim_ascii();
    let Some(eq) = memchr(b'=', raw) else { return false };
    let (key, rest) = (raw[..eq].trim_ascii_end(), raw[eq + 1..].trim_ascii_start());
    let Some((&quote, value)) = rest.split_first() else { return false };
    if quote != b'"' && quote != b'\'' || value.last() != Some(&quote) {
        return false;
    }
    let value = &value[..value.len() - 1];
    check_name(key, "attribute").is_ok() && !value.iter().any(|&b| b == quote || b == b'<' || b == b'&')
}

/// Check a start tag: its name, and each attribute (name, no repeat, no `<` in the value,
/// defined references only). Returns where in the tag (after its `<`) and what is wrong.
pub fn check_start(e: &BytesStart) -> Result<(), (usize, String)> {
    check_name(e.name().as_ref(), "element").map_err(|m| (0, m))?;
    let raw = e.attributes_raw();
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(()); // most elements carry no attribute
    }
    if one_plain_attribute(raw) {
        return Ok(()); // the next most: one `name="value"`, without `<` or `&`
    }
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
        if !content.get(at(key).wrapping_sub(1)).is_some_and(u8::is_ascii_whitespace) {
            let message = format!("no white space before attribute {}", String::from_utf8_lossy(key));
            return Err((at(key), message));
        }
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
        BytesStart::from_content(tag, tag.find(|c: char| c.is_ascii_whitespace()).unwrap_or(tag.len()))
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
        // what the one-attribute fast path must still refuse
        assert!(check_start(&start("a id='x\"")).is_err());
        assert!(check_start(&start("a id=\"1\"\"")).is_err());
        assert!(check_start(&start("a 1d=\"1\"")).is_err());
        assert!(check_start(&start("a id=1")).is_err());
        assert!(check_start(&start("a id = 'x y' ")).is_ok());
        assert!(check_start(&start("a x=\"1\"y=\"2\"")).unwrap_err().1.contains("no white space"));
        assert!(check_start(&start("a\tx=\"1\"\ny='2'")).is_ok());
    }

    #[test]
    fn declarations_and_doctypes() {
        for ok in [
            &b"xml version=\"1.0\""[..],
            b"xml version='1.1' encoding=\"ISO-8859-1\" standalone='yes' ",
            b"xml version = \"1.0\" standalone=\"no\"",
        ] {
            assert_eq!(check_decl(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"xml versio=\"1.0\""[..],
            b"xml encoding=\"UTF-8\" version=\"1.0\"",
            b"xml version=\"2.0\"",
            b"xml version=\"1.0\" standalone=\"maybe\"",
            b"xml version=\"1.0\" encoding=\"8bit\"",
            b"xml version=\"1.0\" extra=\"x\"",
            b"xml version=\"1.0\"encoding=\"UTF-8\"",
            b"xml",
        ] {
            assert!(check_decl(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        for ok in [&b"models SYSTEM \"mp.dtd\""[..], b"models", b"a PUBLIC \"-//X//EN\" 'x.dtd' ", b"a SYSTEM ''"] {
            assert_eq!(check_doctype(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"models SYSTEM \"mp.dtd"[..],
            b"models SYSTEM",
            b"models SYSTEMx \"a\"",
            b"a PUBLIC \"{bad}\" 'x'",
            b"a PUBLIC \"id\"",
            b"1a",
            b"models junk",
        ] {
            assert!(check_doctype(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(check_doctype(b"models [<!ENTITY a \"b\">]").unwrap_err().contains("reads no DTD"));
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
