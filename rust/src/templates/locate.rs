//! Lines and columns of a template's JSON pointers, from a parser that keeps spans
//! (`jsonc-parser`, every leniency switched off: strict JSON). Only files that end in a finding
//! are read this way; the bulk read keeps pointers only.

use jsonc_parser::ast::Value;
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};

fn strict() -> ParseOptions {
    ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Parse `text` as strict JSON with spans; an error gives its message, line and column.
pub fn parse(text: &str) -> Result<Option<Value<'_>>, (String, u64, u64)> {
    match jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &strict()) {
        Ok(result) => Ok(result.value),
        Err(err) => Err((err.kind().to_string(), err.line_display() as u64, err.column_display() as u64)),
    }
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_column(text: &str, offset: usize) -> (u64, u64) {
    let before = &text[..offset.min(text.len())];
    let line = before.bytes().filter(|&b| b == b'\n').count() as u64 + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() as u64 + 1)
}

/// The segments of a JSON pointer, unescaped (RFC 6901).
fn segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~"))
}

/// Byte offset of what `pointer` names: the key of an object member, or an array item; as far
/// as the pointer can be followed.
fn offset(root: &Value<'_>, pointer: &str) -> usize {
    let mut node = root;
    let mut at = root.start();
    for seg in segments(pointer) {
        match node {
            Value::Object(obj) => match obj.properties.iter().find(|p| p.name.as_str() == seg) {
                Some(prop) => {
                    at = prop.start();
                    node = &prop.value;
                }
                None => break,
            },
            Value::Array(arr) => match seg.parse::<usize>().ok().and_then(|i| arr.elements.get(i)) {
                Some(element) => {
                    at = element.start();
                    node = element;
                }
                None => break,
            },
            _ => break,
        }
    }
    at
}

/// Lines and columns of `pointers` in `text` (1, 1 where the text is not JSON).
pub fn locate(text: &str, pointers: &[String]) -> Vec<(u64, u64)> {
    match parse(text) {
        Ok(Some(root)) => pointers.iter().map(|p| line_column(text, offset(&root, p))).collect(),
        _ => vec![(1, 1); pointers.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_to_lines_and_columns() {
        let text = "[\n  {\"$meta\": {}},\n  {\"A\": {\"x/y\": \"1\", \"b\": [\"é\", \"z\"]}}\n]";
        let got = locate(text, &["/1/A/x~1y".into(), "/1/A/b/1".into(), "/1/A/missing".into(), "".into()]);
        assert_eq!(got, vec![(3, 10), (3, 33), (3, 4), (1, 1)]);
    }

    #[test]
    fn strict_json_only() {
        for (bad, says) in [
            ("[1,]", "Trailing commas"),
            ("[1] // c", "Comments"),
            ("{'a': 1}", "Single-quoted"),
            ("[NaN]", "Unexpected token"),
            ("[0x10]", "Hexadecimal"),
            ("{a: 1}", "Expected string"),
        ] {
            let (message, line, column) = parse(bad).unwrap_err();
            assert!(message.contains(says), "{bad}: {message}");
            assert!(line == 1 && column >= 1);
        }
    }
}
