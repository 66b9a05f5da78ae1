//! The grammar of the keys inside an RTB template (`../shared/reference/rtb-and-workbook.md`
//! §2.4): a directive (`$cond`), an MO (`Class`, `Class-Id`, `Class-*`, `Class-id1,id{a,b}`,
//! each optionally flagged `@`), or an attribute (lowerCamel; or a naming attribute spelled
//! like a class, `MeContextId` of CPP models, where it holds a value rather than an object:
//! [`parse_held`]). The class ends at the first `-`;
//! an id may itself hold `-`. Every id is an MO id of `crate::names` (letters, digits, `_`,
//! `-`, `.`, `:`; no spaces, quotes, line breaks or separators). Anything else fits no grammar
//! and is refused with the reason.

/// The directives of the format; any other `$` key is an error.
pub const DIRECTIVES: [&str; 8] = ["meta", "vars", "custom", "cond", "switch", "eval", "plans", "comment"];

/// Ids a key's brace expansion may give at most.
pub const MAX_IDS: usize = 10_000;

/// Which MOs of a class a key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ids {
    /// `Class`: the MO related to the target (at the top), or every child of the class.
    None,
    /// `Class-*`: every existing child of the class.
    Wildcard,
    /// `Class-Id` or an id list: these children, created where missing.
    Listed(Vec<String>),
}

/// A key read: the names borrow from the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key<'a> {
    Directive(&'a str),
    Mo { at: bool, class: &'a str, ids: Ids },
    Attribute(&'a str),
}

impl Ids {
    pub fn kind(&self) -> &'static str {
        match self {
            Ids::None => "none",
            Ids::Wildcard => "wildcard",
            Ids::Listed(ids) if ids.len() == 1 => "id",
            Ids::Listed(_) => "list",
        }
    }
}

fn is_class(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_attribute(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `key` names a naming attribute spelled like a class: `MeContextId`,
/// `EUtranCellFDDId` (CPP models write the naming attribute with the class's capital; ECIM
/// models write `eUtranCellFDDId`). Such a key is a class's name only when it holds an object.
pub fn is_naming_attribute(key: &str) -> bool {
    key.len() > 2 && key.ends_with("Id") && is_class(key)
}

/// Read a key; the error says why it fits no grammar. A key spelled like a class is read as an
/// MO: [`parse_held`] reads it as what it holds.
pub fn parse(key: &str) -> Result<Key<'_>, String> {
    parse_held(key, false)
}

/// Whether a key's value is a value (not an object or a list, not a sentinel): `text` is the
/// value when it is a string.
pub fn holds_value(text: Option<&str>, container: bool) -> bool {
    !container && !matches!(text, Some("__delete__" | "__ignore__"))
}

/// Read a key knowing whether it holds a value (a string, number, boolean or null other than
/// the sentinels `"__delete__"` and `"__ignore__"`) rather than an object or a list: then a
/// naming attribute spelled like a class (`"MeContextId": "NODE1"`) is an attribute.
pub fn parse_held(key: &str, holds_value: bool) -> Result<Key<'_>, String> {
    if holds_value && is_naming_attribute(key) {
        return Ok(Key::Attribute(key));
    }
    if let Some(name) = key.strip_prefix('$') {
        return if DIRECTIVES.contains(&name) {
            Ok(Key::Directive(name))
        } else {
            Err(format!("{key:?} is not a directive (directives: ${})", DIRECTIVES.join(", $")))
        };
    }
    if is_attribute(key) {
        return Ok(Key::Attribute(key));
    }
    let (at, rest) = match key.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, key),
    };
    let (class, spec) = match rest.split_once('-') {
        Some((class, spec)) => (class, Some(spec)),
        None => (rest, None),
    };
    if !is_class(class) {
        return Err(if key.is_empty() {
            "an empty key".into()
        } else if class.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            format!("{key:?} fits no grammar: an attribute name is lowerCamel letters and digits only")
        } else {
            format!("{key:?} fits no grammar: expected Class, Class-Id, Class-* or a lowerCamel attribute name")
        });
    }
    let ids = match spec {
        None => Ids::None,
        Some("*") => Ids::Wildcard,
        Some(spec) => {
            let ids = expand(spec).map_err(|why| format!("{key:?}: {why}"))?;
            // an id becomes part of an FDN in every script written from the template: one
            // grammar for it (`crate::names`), never quoted
            for id in &ids {
                crate::names::check_mo_id(id).map_err(|why| format!("{:?}: {why}", crate::names::shorten(key)))?;
            }
            Ids::Listed(ids)
        }
    };
    Ok(Key::Mo { at, class, ids })
}

/// The ids an id list names: items separated by `,` outside braces, each with `{a,b}` groups
/// expanded (`default,qci{1,5}` is `default`, `qci1`, `qci5`).
pub fn expand(spec: &str) -> Result<Vec<String>, String> {
    if spec.is_empty() {
        return Err("no id after the '-'".into());
    }
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in spec.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Err(format!("'}}' without '{{' at character {}", i + 1)),
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&spec[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err("'{' without '}'".into());
    }
    items.push(&spec[start..]);
    let mut ids = Vec::new();
    for item in items {
        if item.is_empty() {
            return Err("an empty id in the list".into());
        }
        for id in expand_item(item)? {
            if ids.len() >= MAX_IDS {
                return Err(format!("the id list names more than {MAX_IDS} ids"));
            }
            ids.push(id);
        }
    }
    Ok(ids)
}

/// One item with its brace groups expanded, left to right.
fn expand_item(item: &str) -> Result<Vec<String>, String> {
    let Some(open) = item.find('{') else { return Ok(vec![item.to_string()]) };
    let close = item[open..].find('}').map(|i| open + i).ok_or("'{' without '}'")?;
    let group = &item[open + 1..close];
    if group.contains('{') {
        return Err("braces inside braces".into());
    }
    let choices: Vec<&str> = group.split(',').collect();
    if choices.iter().any(|c| c.is_empty()) {
        return Err(format!("an empty choice in {{{group}}}"));
    }
    let (head, tail) = (&item[..open], &item[close + 1..]);
    let tails = expand_item(tail)?;
    let mut out = Vec::with_capacity(choices.len() * tails.len());
    for choice in choices {
        for t in &tails {
            if out.len() >= MAX_IDS {
                return Err(format!("the id list names more than {MAX_IDS} ids"));
            }
            out.push(format!("{head}{choice}{t}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(ids: &[&str]) -> Ids {
        Ids::Listed(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn the_real_forms() {
        assert_eq!(parse("$cond"), Ok(Key::Directive("cond")));
        assert_eq!(parse("a5Thr1RsrpFreqOffset"), Ok(Key::Attribute("a5Thr1RsrpFreqOffset")));
        assert_eq!(parse("EUtranCellFDD"), Ok(Key::Mo { at: false, class: "EUtranCellFDD", ids: Ids::None }));
        assert_eq!(
            parse("@EUtranFreqRelation-*"),
            Ok(Key::Mo { at: true, class: "EUtranFreqRelation", ids: Ids::Wildcard })
        );
        // the class ends at the first '-'; the id keeps the others
        assert_eq!(
            parse("UtranCellRelation-2081-94135-9"),
            Ok(Key::Mo { at: false, class: "UtranCellRelation", ids: listed(&["2081-94135-9"]) })
        );
        assert_eq!(
            parse("QciProfilePredefined-default,qci{1,5,7,8,65,69,70}"),
            Ok(Key::Mo {
                at: false,
                class: "QciProfilePredefined",
                ids: listed(&["default", "qci1", "qci5", "qci7", "qci8", "qci65", "qci69", "qci70"])
            })
        );
        assert_eq!(expand("a{1,2}b{x,y}"), Ok(vec!["a1bx".into(), "a1by".into(), "a2bx".into(), "a2by".into()]));
    }

    #[test]
    fn a_naming_attribute_spelled_like_a_class_is_an_attribute_when_it_holds_a_value() {
        assert_eq!(parse_held("MeContextId", true), Ok(Key::Attribute("MeContextId")));
        assert_eq!(parse_held("EUtranCellFDDId", true), Ok(Key::Attribute("EUtranCellFDDId")));
        // holding an object, it is the class of that name (a class may end in Id)
        assert_eq!(parse_held("MeContextId", false), Ok(Key::Mo { at: false, class: "MeContextId", ids: Ids::None }));
        assert_eq!(parse("MeContextId"), parse_held("MeContextId", false));
        // only a naming attribute: another class-like key holding a value stays an MO key
        // (the flattener says an MO holds an object)
        assert_eq!(parse_held("MeContext", true), Ok(Key::Mo { at: false, class: "MeContext", ids: Ids::None }));
        assert_eq!(parse_held("Id", true), Ok(Key::Mo { at: false, class: "Id", ids: Ids::None }));
        for key in ["@MeContextId", "MeContext-Id", "MeContext-1Id"] {
            assert!(matches!(parse_held(key, true), Ok(Key::Mo { .. })), "{key}");
        }
    }

    #[test]
    fn keys_that_fit_no_grammar() {
        for (key, why) in [
            ("", "empty key"),
            ("$foo", "not a directive"),
            ("Class-", "no id"),
            ("Class-a{1,2", "without '}'"),
            ("Class-a}1", "without '{'"),
            ("Class-a{}", "empty choice"),
            ("Class-a,,b", "empty id"),
            ("Class-a{{1}}", "inside braces"),
            ("foo-bar", "lowerCamel"),
            ("foo bar", "lowerCamel"),
            ("1abc", "no grammar"),
            ("Éclass", "no grammar"),
        ] {
            let err = parse(key).unwrap_err();
            assert!(err.contains(why), "{key:?}: {err}");
        }
        // ids that would reach a script as more than one word, a line, an option or a quote
        for (key, why) in [
            ("SectorCarrier-9 SectorCarrierId=9\ncmedit delete SubNetwork=EXAMPLE -ALL", "a space"),
            ("SectorCarrier-9 -ALL", "a space"),
            ("SectorCarrier-9\"", "'\"'"),
            ("SectorCarrier-9\r", "carriage return"),
            ("SectorCarrier-9\u{2028}", "line separator"),
            ("SectorCarrier--ALL", "starts with '-'"),
            ("SectorCarrier-a{1,2=3}", "'='"),
            ("SectorCarrier-a;b", "';'"),
        ] {
            let err = parse(key).unwrap_err();
            assert!(err.contains(why), "{key:?}: {err}");
            assert!(err.contains("an MO id"), "{key:?}: {err}");
        }
        let huge = format!("C-{}", "{0,1,2,3,4,5,6,7,8,9}".repeat(6));
        assert!(parse(&huge).unwrap_err().contains("more than"));
    }
}
