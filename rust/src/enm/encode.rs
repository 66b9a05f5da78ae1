//! The one place a value becomes text of a dialect ENM or the node takes: each value is
//! written exactly, or refused with the reason. No dialect's quoting is documented beyond
//! double quotes without escapes (`../shared/reference/enm-cli.md` §5 and open question 1), so
//! what a dialect cannot carry exactly is refused, never approximated.
//!
//! | | cmedit | dynamic import | moshell | 3GPP Bulk CM XML |
//! |---|---|---|---|---|
//! | string | bare when a word (`[A-Za-z0-9_.-]+`, not `null`, a leading `-` only in a number), else `"…"` | as cmedit | as cmedit | XML text |
//! | refused in a string | `"` `\`, control, line and format characters | as cmedit | as cmedit, and `$` `` ` `` `\|` `<` `>` `;` `#`; inside a struct or list also `,` `=` space and brackets | control characters but tab, line feed and carriage return (`&#13;`), U+FFFE, U+FFFF |
//! | integer, float, decimal | digits, sign, point, exponent only | as cmedit | as cmedit | as written |
//! | boolean | `true`/`false` (any case in, lower case out) | as cmedit | as cmedit | as written |
//! | enum | a word `[A-Za-z0-9_.-]+`, not `null` (an unset value) | as cmedit | as cmedit | as written |
//! | moRef | a valid FDN (`crate::names`), in `"…"` | as cmedit | the LDN below `ManagedElement`, refused inside a struct (by `crate::enm`) | as written |
//!
//! "Control characters" are C0, DEL and C1; "line characters" U+2028 and U+2029 (with LF, CR,
//! VT, FF, FS, GS, RS and NEL among the controls: every character a reader may end a line at);
//! "format characters" the invisible ones that reorder or hide text (bidirectional overrides
//! and isolates, zero-width characters, the BOM, the soft hyphen), which would make a pasted
//! command show as something it is not.

use crate::names::{self, describe_char, is_format};

/// A written form of a Plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Cmedit,
    Dynamic,
    Moshell,
    Bulkcm,
}

impl Dialect {
    pub fn parse(text: &str) -> Option<Dialect> {
        Some(match text {
            "cmedit" => Dialect::Cmedit,
            "dynamic" => Dialect::Dynamic,
            "moshell" => Dialect::Moshell,
            "3gpp" | "bulkcm" => Dialect::Bulkcm,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Cmedit => "cmedit",
            Dialect::Dynamic => "the dynamic import format",
            Dialect::Moshell => "moshell",
            Dialect::Bulkcm => "3GPP Bulk CM XML",
        }
    }
}

/// A string `cmedit` (and the import and moshell formats) can write without quotes: letters,
/// digits, `_`, `.` and `-`, not `null`, and starting with `-` only as a number (`-2`; `-ALL`
/// or `--force` would look like an option).
pub fn is_word(text: &str) -> bool {
    let mut bytes = text.bytes();
    let first_ok =
        bytes.next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') || is_number(text, false);
    first_ok
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !text.eq_ignore_ascii_case("null")
}

fn is_number(text: &str, integer: bool) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if integer {
        return !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit());
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = !(whole.is_empty() && fraction.is_empty()) && digits(whole) && digits(fraction);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

fn line_safe(text: &str, dialect: Dialect) -> Result<(), String> {
    for c in text.chars() {
        if c.is_control() || is_format(c) || c == '\u{2028}' || c == '\u{2029}' {
            return Err(format!(
                "{} cannot carry {} in a value: a script is one command a line, and no escape is known",
                dialect.name(),
                describe_char(c)
            ));
        }
    }
    Ok(())
}

/// Printable ASCII but `"` and the backslash: what every line dialect carries in quotes (and
/// moshell outside a struct or list, but for its own syntax characters).
fn plain_ascii(text: &str, dialect: Dialect, nested: bool) -> bool {
    text.bytes().all(|b| {
        (0x20..0x7F).contains(&b)
            && b != b'"'
            && b != b'\\'
            && (dialect != Dialect::Moshell
                || !(matches!(b, b'$' | b'`' | b'|' | b'<' | b'>' | b';' | b'#')
                    || (nested && matches!(b, b',' | b'=' | b' ' | b'(' | b')' | b'[' | b']' | b'{' | b'}'))))
    })
}

fn quoted(out: &mut String, text: &str, dialect: Dialect, nested: bool) -> Result<(), String> {
    if plain_ascii(text, dialect, nested) {
        out.push('"');
        out.push_str(text);
        out.push('"');
        return Ok(());
    }
    line_safe(text, dialect)?;
    let refused: &[char] = match (dialect, nested) {
        (Dialect::Moshell, false) => &['"', '\\', '$', '`', '|', '<', '>', ';', '#'],
        (Dialect::Moshell, true) => {
            &['"', '\\', '$', '`', '|', '<', '>', ';', '#', ',', '=', ' ', '(', ')', '[', ']', '{', '}']
        }
        _ => &['"', '\\'],
    };
    if let Some(c) = text.chars().find(|c| refused.contains(c)) {
        let why = match c {
            '"' | '\\' => "no escape for it is known (a quoted value ends at the next '\"')",
            _ if dialect == Dialect::Moshell && nested => "moshell reads it as syntax inside a struct or list",
            _ => "moshell reads it as syntax (variables, pipes, redirections, comments, list separators)",
        };
        return Err(format!("{} cannot carry {} in a value: {why}", dialect.name(), describe_char(c)));
    }
    out.push('"');
    out.push_str(text);
    out.push('"');
    Ok(())
}

/// The LDN below `ManagedElement` of an FDN (moshell's moRef form), or the FDN when it has no
/// `ManagedElement`.
pub fn below_managed_element(fdn: &str) -> &str {
    let mut start = 0;
    for part in fdn.split(',') {
        let end = start + part.len();
        if part.starts_with("ManagedElement=") && end < fdn.len() {
            return &fdn[end + 1..];
        }
        start = end + 1;
    }
    fdn
}

/// One value (not null) as `dialect` writes it, appended to `out`; `kind` is the catalog's
/// (`string` when unknown), `nested` says it stands inside a struct or a sequence. The
/// error says why the dialect cannot carry it.
pub fn scalar(dialect: Dialect, kind: Option<&str>, text: &str, nested: bool, out: &mut String) -> Result<(), String> {
    scalar_with(dialect, kind, text, nested, out, &mut |fdn| names::check_fdn(fdn))
}

/// [`scalar`], with the check of a moRef's FDN given (a writer that has checked it already
/// says so without checking it again).
pub fn scalar_with(
    dialect: Dialect,
    kind: Option<&str>,
    text: &str,
    nested: bool,
    out: &mut String,
    check_fdn: &mut dyn FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    if dialect == Dialect::Bulkcm {
        return xml_text(out, text);
    }
    match kind.unwrap_or("string") {
        "moref" => {
            if !text.is_empty() {
                check_fdn(text).map_err(|why| format!("the moRef is not one: {why}"))?;
            }
            if dialect == Dialect::Moshell && !text.is_empty() {
                out.push_str(below_managed_element(text));
                Ok(())
            } else {
                quoted(out, text, dialect, nested)
            }
        }
        "boolean" => {
            if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
                out.push_str(&text.to_ascii_lowercase());
                Ok(())
            } else {
                Err(format!("{:?} is not a boolean (true or false)", names::shorten(text)))
            }
        }
        "integer" | "float" | "decimal" => {
            let kind = kind.unwrap_or_default();
            if is_number(text, kind == "integer") {
                out.push_str(text);
                Ok(())
            } else {
                let what = if kind == "integer" { "an integer" } else { "a number" };
                Err(format!("{:?} is not {what}", names::shorten(text)))
            }
        }
        "enum" => {
            // `null` would be read back as an unset value (an enum member `NULL` is itself)
            let member = text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !text.is_empty() && member && text != "null" {
                out.push_str(text);
                Ok(())
            } else {
                Err(format!("{:?} is not an enum member name (letters, digits, '_', '.', '-')", names::shorten(text)))
            }
        }
        _ => {
            if is_word(text) {
                out.push_str(text);
                Ok(())
            } else {
                quoted(out, text, dialect, nested)
            }
        }
    }
}

/// Text of an XML element: `&`, `<`, `>` escaped and a carriage return as `&#13;` (a parser
/// would read a raw one as a line feed); what XML 1.0 cannot hold at all is refused.
pub fn xml_text(out: &mut String, text: &str) -> Result<(), String> {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                return Err(format!("XML 1.0 cannot hold {} at all (not even as a reference)", describe_char(c)));
            }
            c => out.push(c),
        }
    }
    Ok(())
}

/// An XML attribute value (an MO id), quoted as Python's `xml.sax.saxutils.quoteattr` does.
pub fn xml_attribute(out: &mut String, s: &str) -> Result<(), String> {
    let mut escaped = String::with_capacity(s.len() + 2);
    for ch in s.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '\n' => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' => escaped.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                return Err(format!("XML 1.0 cannot hold {} at all (not even as a reference)", describe_char(c)));
            }
            c => escaped.push(c),
        }
    }
    if escaped.contains('"') {
        if escaped.contains('\'') {
            out.push('"');
            out.push_str(&escaped.replace('"', "&quot;"));
            out.push('"');
        } else {
            out.push('\'');
            out.push_str(&escaped);
            out.push('\'');
        }
    } else {
        out.push('"');
        out.push_str(&escaped);
        out.push('"');
    }
    Ok(())
}

/// A moshell MO pattern naming exactly `ldn`: moshell reads the MO argument of `set`, `del`,
/// `bl` and `deb` as a regular expression, so `.` is escaped, and `$` anchors its end.
pub fn moshell_pattern(out: &mut String, ldn: &str) {
    for c in ldn.chars() {
        if c == '.' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dialect: Dialect, kind: &str, text: &str, nested: bool) -> Result<String, String> {
        let mut out = String::new();
        scalar(dialect, Some(kind), text, nested, &mut out).map(|()| out)
    }

    #[test]
    fn words_are_bare_and_the_rest_quoted() {
        assert_eq!(write(Dialect::Cmedit, "string", "North_3", false).unwrap(), "North_3");
        assert_eq!(write(Dialect::Cmedit, "string", "North, 3", false).unwrap(), "\"North, 3\"");
        assert_eq!(write(Dialect::Cmedit, "string", "null", false).unwrap(), "\"null\"");
        assert_eq!(write(Dialect::Cmedit, "string", "-ALL", false).unwrap(), "\"-ALL\"");
        assert_eq!(write(Dialect::Cmedit, "string", "--force", false).unwrap(), "\"--force\"");
        assert_eq!(write(Dialect::Cmedit, "string", "-2", false).unwrap(), "-2");
        assert_eq!(write(Dialect::Cmedit, "string", "1.0-x", false).unwrap(), "1.0-x");
        assert_eq!(write(Dialect::Cmedit, "string", "", false).unwrap(), "\"\"");
        assert_eq!(write(Dialect::Cmedit, "string", "a=(b);[c]{d}:e", false).unwrap(), "\"a=(b);[c]{d}:e\"");
        assert_eq!(write(Dialect::Cmedit, "boolean", "TRUE", false).unwrap(), "true");
        assert_eq!(write(Dialect::Cmedit, "integer", "-130", false).unwrap(), "-130");
        assert_eq!(write(Dialect::Cmedit, "float", "1.5e-3", false).unwrap(), "1.5e-3");
        let fdn = "SubNetwork=R,MeContext=N,ManagedElement=1,ENodeBFunction=1,SectorCarrier=2";
        assert_eq!(write(Dialect::Cmedit, "moref", fdn, false).unwrap(), format!("\"{fdn}\""));
        assert_eq!(write(Dialect::Moshell, "moref", fdn, false).unwrap(), "ENodeBFunction=1,SectorCarrier=2");
    }

    #[test]
    fn what_cannot_be_carried_is_refused() {
        for text in ["a\"b", "a\\b", "a\nb", "a\rb", "a\u{2028}b", "a\u{2029}b", "a\u{85}b", "a\u{202E}b", "a\tb"] {
            for d in [Dialect::Cmedit, Dialect::Dynamic, Dialect::Moshell] {
                assert!(write(d, "string", text, false).is_err(), "{d:?} {text:?}");
            }
        }
        assert!(write(Dialect::Cmedit, "integer", "5\ncmedit delete X", false).is_err());
        assert!(write(Dialect::Cmedit, "integer", "1,b=2", false).is_err());
        assert!(write(Dialect::Cmedit, "enum", "LOCKED -ALL", false).is_err());
        assert!(write(Dialect::Cmedit, "boolean", "yes", false).is_err());
        assert!(write(Dialect::Cmedit, "enum", "null", false).is_err());
        assert_eq!(write(Dialect::Cmedit, "enum", "NULL", false).unwrap(), "NULL");
        assert!(write(Dialect::Cmedit, "moref", "A=1\",x=\"", false).is_err());
        assert!(write(Dialect::Moshell, "string", "$HOME", false).is_err());
        assert!(write(Dialect::Moshell, "string", "a b", true).is_err());
        assert_eq!(write(Dialect::Moshell, "string", "a b", false).unwrap(), "\"a b\"");
    }

    #[test]
    fn xml_carries_all_it_can() {
        let mut out = String::new();
        scalar(Dialect::Bulkcm, Some("string"), "a\"b\\c\r\n\t<&>\u{2028}", false, &mut out).unwrap();
        assert_eq!(out, "a\"b\\c&#13;\n\t&lt;&amp;&gt;\u{2028}");
        assert!(scalar(Dialect::Bulkcm, Some("string"), "a\u{1}b", false, &mut String::new()).is_err());
    }

    #[test]
    fn numbers() {
        for ok in ["0", "-1", "+5", "1.5", ".5", "5.", "1e9", "-2.5E+10"] {
            assert!(is_number(ok, false), "{ok}");
        }
        for bad in ["", "-", ".", "1e", "e5", "1.2.3", "NaN", "inf", "1 2", "0x10"] {
            assert!(!is_number(bad, false), "{bad}");
        }
        assert!(!is_number("1.5", true));
    }

    #[test]
    fn moshell_patterns_escape_the_dot() {
        let mut out = String::new();
        moshell_pattern(&mut out, "ENodeBFunction=1,EUtranCellFDD=20.Q1");
        assert_eq!(out, "ENodeBFunction=1,EUtranCellFDD=20\\.Q1$");
    }
}
