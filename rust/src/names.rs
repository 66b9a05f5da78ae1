//! One grammar for the names that reach a network script: MO class names, attribute and
//! struct member names, MO ids (RDN values) and FDNs built of them. Every entry point applies
//! it (template keys, ChangeSet rows, Bulk CM exports, cmedit scripts given to `apply`) and
//! every writer applies it again, so a name is one word wherever it is written: it can never
//! end a command, add an option or a scope, break a quote, or reach a second line.
//!
//! - a **class** is a letter, then letters, digits, `_` or `-` (`EUtranCellFDD`,
//!   `Conversational-1` of the EPG model);
//! - an **attribute** or struct **member** is the same (`eUtranCellFDDId`, `EUtranCellFDDId`,
//!   `mbmsSupport-1`); a nested member path joins members with `.`;
//! - an **MO id** is letters, digits, `_`, `-`, `.` and `:`, not starting with `-` (which a
//!   command line would read as an option) (`LTE01ERBS00001-1`, `2081-94135-9`, `20.Q1`);
//! - an **FDN** is `Class=Id` RDNs joined by `,`.
//!
//! Each is at most [`MAX_NAME`] bytes (an FDN at most [`MAX_FDN`]). Anything else (white
//! space, quotes, `,` `;` `=` `*` `(` `)` `[` `]` `{` `}` `/` `\` `$`, control and non-ASCII
//! characters) is refused with the reason: a name is never quoted or escaped, because no
//! dialect ENM takes documents how, and a name that needs quoting in one dialect would be a
//! different name (or several words) in another.

/// The longest class, attribute, member or MO id accepted, in bytes.
pub const MAX_NAME: usize = 255;
/// The longest FDN accepted, in bytes.
pub const MAX_FDN: usize = 4096;

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Class = 0,
    Attribute = 1,
    /// A struct member, or a nested member path `a.b`.
    Member = 2,
    MoId = 3,
    Fdn = 4,
}

impl NameKind {
    pub fn parse(text: &str) -> Option<NameKind> {
        Some(match text {
            "class" => NameKind::Class,
            "attribute" => NameKind::Attribute,
            "member" => NameKind::Member,
            "mo_id" | "id" => NameKind::MoId,
            "fdn" => NameKind::Fdn,
            _ => return None,
        })
    }

    pub fn what(self) -> &'static str {
        match self {
            NameKind::Class => "a class name",
            NameKind::Attribute => "an attribute name",
            NameKind::Member => "a struct member name",
            NameKind::MoId => "an MO id",
            NameKind::Fdn => "an FDN",
        }
    }
}

/// A character as a message shows it: itself when printable, with its code point always.
pub fn describe_char(c: char) -> String {
    let name = match c {
        ' ' => Some("a space"),
        '\t' => Some("a tab"),
        '\n' => Some("a line feed"),
        '\r' => Some("a carriage return"),
        '\u{85}' => Some("a next-line control"),
        '\u{2028}' => Some("a Unicode line separator"),
        '\u{2029}' => Some("a Unicode paragraph separator"),
        _ => None,
    };
    match name {
        Some(n) => format!("{n} (U+{:04X})", c as u32),
        None if c.is_control() || is_format(c) => format!("a control character (U+{:04X})", c as u32),
        None => format!("{c:?} (U+{:04X})", c as u32),
    }
}

/// Unicode format characters that change how text shows without showing themselves: the soft
/// hyphen, the Arabic letter mark, the Mongolian vowel separator, zero-width characters,
/// bidirectional marks, embeddings, overrides and isolates, word joiners, the BOM
/// (`rtbfast.text_safety.FORMAT_CHARACTERS` keeps the same list).
pub fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

fn word(name: &str, kind: NameKind) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{} is empty", kind.what()));
    }
    if name.len() > MAX_NAME {
        return Err(format!("{} longer than {MAX_NAME} bytes ({} bytes)", kind.what(), name.len()));
    }
    let first = name.chars().next().unwrap_or(' ');
    match kind {
        NameKind::MoId => {
            if first == '-' {
                return Err(format!(
                    "{} starts with '-', which a command line reads as an option: {:?}",
                    kind.what(),
                    shorten(name)
                ));
            }
        }
        _ => {
            if !first.is_ascii_alphabetic() {
                return Err(format!(
                    "{} starts with {}, not a letter: {:?}",
                    kind.what(),
                    describe_char(first),
                    shorten(name)
                ));
            }
        }
    }
    // the common case in one pass over the bytes; the characters only to say what is wrong
    let id = kind == NameKind::MoId;
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (id && (b == b'.' || b == b':'))) {
        return Ok(());
    }
    for c in name.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || c == '-' || (id && (c == '.' || c == ':'));
        if !ok {
            let allowed = if kind == NameKind::MoId {
                "letters, digits, '_', '-', '.' and ':'"
            } else {
                "letters, digits, '_' and '-'"
            };
            return Err(format!("{} holds {}: {:?} ({allowed} only)", kind.what(), describe_char(c), shorten(name)));
        }
    }
    Ok(())
}

/// A name shortened for a message.
pub fn shorten(text: &str) -> String {
    const KEEP: usize = 80;
    if text.chars().count() <= KEEP {
        return text.to_string();
    }
    let head: String = text.chars().take(KEEP).collect();
    format!("{head}…")
}

pub fn check_class(name: &str) -> Result<(), String> {
    word(name, NameKind::Class)
}

pub fn check_attribute(name: &str) -> Result<(), String> {
    word(name, NameKind::Attribute)
}

/// A member name or a nested member path (`a.b`).
pub fn check_member(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("a struct member name is empty".into());
    }
    if path.len() > MAX_FDN {
        return Err(format!("a struct member path longer than {MAX_FDN} bytes"));
    }
    path.split('.').try_for_each(|part| word(part, NameKind::Member))
}

pub fn check_mo_id(id: &str) -> Result<(), String> {
    word(id, NameKind::MoId)
}

/// Byte classes of the FDN grammar: bit 1 a class character, bit 2 an MO id character.
const FDN_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let word = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        table[b] = (word as u8) | (((word || c == b'.' || c == b':') as u8) << 1);
        b += 1;
    }
    table
};

/// Whether `fdn` is `Class=Id` RDNs joined by `,`, in one pass over its bytes (the common
/// case; [`check_fdn`] says what is wrong otherwise).
fn fdn_ok(fdn: &str) -> bool {
    let bytes = fdn.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_FDN {
        return false;
    }
    let mut at = 0;
    loop {
        // a class: a letter, then class characters, up to '='
        if !bytes[at].is_ascii_alphabetic() {
            return false;
        }
        let start = at;
        at += 1;
        while at < bytes.len() && FDN_BYTES[bytes[at] as usize] & 1 != 0 {
            at += 1;
        }
        if at >= bytes.len() || bytes[at] != b'=' || at - start > MAX_NAME {
            return false;
        }
        at += 1;
        // an id: id characters, not starting with '-', up to ',' or the end
        if at >= bytes.len() || bytes[at] == b'-' {
            return false;
        }
        let start = at;
        while at < bytes.len() && FDN_BYTES[bytes[at] as usize] & 2 != 0 {
            at += 1;
        }
        if at == start || at - start > MAX_NAME {
            return false;
        }
        if at == bytes.len() {
            return true;
        }
        if bytes[at] != b',' || at + 1 >= bytes.len() {
            return false;
        }
        at += 1;
    }
}

/// `Class=Id` RDNs joined by `,`.
pub fn check_fdn(fdn: &str) -> Result<(), String> {
    if fdn_ok(fdn) {
        return Ok(());
    }
    if fdn.is_empty() {
        return Err("an FDN is empty".into());
    }
    if fdn.len() > MAX_FDN {
        return Err(format!("an FDN longer than {MAX_FDN} bytes ({} bytes)", fdn.len()));
    }
    for rdn in fdn.split(',') {
        let Some((class, id)) = rdn.split_once('=') else {
            return Err(format!("{:?} in the FDN {:?} is not Class=Id", shorten(rdn), shorten(fdn)));
        };
        check_class(class).map_err(|why| format!("{why} (in the FDN {:?})", shorten(fdn)))?;
        check_mo_id(id).map_err(|why| format!("{why} (in the FDN {:?})", shorten(fdn)))?;
    }
    Err(format!("{:?} is not Class=Id RDNs joined by ','", shorten(fdn)))
}

/// Check `name` as `kind`.
pub fn check(kind: NameKind, name: &str) -> Result<(), String> {
    match kind {
        NameKind::Class => check_class(name),
        NameKind::Attribute => check_attribute(name),
        NameKind::Member => check_member(name),
        NameKind::MoId => check_mo_id(name),
        NameKind::Fdn => check_fdn(name),
    }
}

/// The rows of a column whose names are refused, with why (nulls are not names: skipped).
pub fn refused<'a>(kind: NameKind, names: impl Iterator<Item = Option<&'a str>>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut last_ok: Option<&str> = None;
    for (row, name) in names.enumerate() {
        let Some(name) = name else { continue };
        // columns repeat names row after row: a name just checked is not checked again
        if last_ok == Some(name) {
            continue;
        }
        match check(kind, name) {
            Ok(()) => last_ok = Some(name),
            Err(why) => out.push((row, why)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_names_pass() {
        for c in ["EUtranCellFDD", "Conversational-1", "ENodeBFunction", "vsDataSectorCarrier"] {
            check_class(c).unwrap();
        }
        for a in ["eUtranCellFDDId", "EUtranCellFDDId", "mbmsSupport-1", "qRxLevMin", "streaming_2"] {
            check_attribute(a).unwrap();
        }
        for id in ["1", "LTE01ERBS00001-1", "2081-94135-9", "20.Q1", "fe80::1", "ONRM_ROOT_MO", "default"] {
            check_mo_id(id).unwrap();
        }
        check_member("acBarringForCsfb.acBarringFactor").unwrap();
        check_fdn("SubNetwork=R,MeContext=N1,ManagedElement=1,ENodeBFunction=1,EUtranCellFDD=N1-1").unwrap();
    }

    #[test]
    fn injections_are_refused_with_the_character() {
        let bad = [
            ("SectorCarrier-9 SectorCarrierId=9\ncmedit delete SubNetwork=EXAMPLE -ALL", "a space"),
            ("9 -ALL", "a space"),
            ("-ALL", "starts with '-'"),
            ("9\"", "'\"'"),
            ("a,b", "','"),
            ("a=b", "'='"),
            ("a;b", "';'"),
            ("a*", "'*'"),
            ("a/b", "'/'"),
            ("a\u{2028}b", "line separator"),
            ("a\rb", "carriage return"),
            ("a\u{202E}b", "control character"),
            ("Zürich", "'ü'"),
            ("", "empty"),
        ];
        for (id, why) in bad {
            let err = check_mo_id(id).unwrap_err();
            assert!(err.contains(why), "{id:?}: {err}");
        }
        assert!(check_attribute("1abc").unwrap_err().contains("not a letter"));
        assert!(check_attribute("a.b").unwrap_err().contains("'.'"));
        assert!(check_class("A B").is_err());
        assert!(check_class(&"A".repeat(MAX_NAME + 1)).unwrap_err().contains("longer than"));
        assert!(check_fdn("A=1,B").unwrap_err().contains("not Class=Id"));
        assert!(check_fdn("A=1,B=2 -ALL").unwrap_err().contains("a space"));
        assert!(check_member("a..b").is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_check() {
        let long = "i".repeat(MAX_NAME);
        let too_long = "i".repeat(MAX_NAME + 1);
        for fdn in [
            "A=1",
            "A=1,B=2",
            "A=1,",
            ",A=1",
            "A=",
            "=1",
            "A==1",
            "A=1=2",
            "a=1",
            "A-b_c=x.y:z-1",
            "A=-1",
            "A=1-",
            "A1=1,B=2,C=3",
            "A=1,,B=2",
            "A=1 ,B=2",
            "A=é",
            &format!("A={long}"),
            &format!("A={too_long}"),
            &format!("{}=1", "A".repeat(MAX_NAME)),
            &format!("{}=1", "A".repeat(MAX_NAME + 1)),
        ] {
            let slow = fdn
                .split(',')
                .all(|rdn| rdn.split_once('=').is_some_and(|(c, i)| check_class(c).is_ok() && check_mo_id(i).is_ok()));
            assert_eq!(fdn_ok(fdn), slow, "{fdn:?}");
            assert_eq!(check_fdn(fdn).is_ok(), slow, "{fdn:?}");
        }
    }

    #[test]
    fn refused_rows_are_told_by_row() {
        let names = [Some("a"), Some("a"), None, Some("b c"), Some("d")];
        let got = refused(NameKind::Attribute, names.into_iter());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 3);
    }
}
