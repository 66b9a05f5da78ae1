//! Lines and columns of a template's JSON pointers, from a parser that keeps spans
//! (`jsonc-parser`, every leniency switched off: strict JSON). Only files that end in a finding
//! are read this way; the bulk read keeps pointers only.

use jsonc_parser::ast::Value;
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};
use rustc_hash::FxHashMap;

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
    LineIndex::new(text).at(offset)
}

/// Where the lines of a text start: many offsets turned into lines and columns, each by a
/// binary search (not a count from the start).
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { text, starts }
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn at(&self, offset: usize) -> (u64, u64) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line as u64, self.text[start..offset].chars().count() as u64 + 1)
    }
}

/// The segments of a JSON pointer, unescaped (RFC 6901).
fn escape(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// Every node of a JSON document: its pointer → the byte offset of its key (an object
/// member) or of the item (an array item); the root at its start.
fn spots(root: &Value<'_>) -> FxHashMap<String, usize> {
    let mut out = FxHashMap::default();
    let mut pending: Vec<(String, &Value<'_>)> = vec![(String::new(), root)];
    out.insert(String::new(), root.start());
    while let Some((pointer, node)) = pending.pop() {
        match node {
            Value::Object(obj) => {
                for prop in &obj.properties {
                    let p = format!("{pointer}/{}", escape(prop.name.as_str()));
                    // a repeated key: the first one is where the pointer leads
                    out.entry(p.clone()).or_insert(prop.start());
                    pending.push((p, &prop.value));
                }
            }
            Value::Array(arr) => {
                for (i, element) in arr.elements.iter().enumerate() {
                    let p = format!("{pointer}/{i}");
                    out.insert(p.clone(), element.start());
                    pending.push((p, element));
                }
            }
            _ => {}
        }
    }
    out
}

/// The spot of the longest prefix of `pointer` that `spots` holds (as far as the pointer can
/// be followed).
pub fn nearest<T: Copy + Default>(spots: &FxHashMap<String, T>, pointer: &str) -> T {
    let mut p = pointer;
    loop {
        if let Some(&at) = spots.get(p) {
            return at;
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return spots.get("").copied().unwrap_or_default(),
        }
    }
}

/// Lines and columns of `pointers` in `text` (1, 1 where the text is not JSON).
pub fn locate(text: &str, pointers: &[String]) -> Vec<(u64, u64)> {
    match parse(text) {
        Ok(Some(root)) => {
            let found = spots(&root);
            let lines = LineIndex::new(text);
            pointers.iter().map(|p| lines.at(nearest(&found, p))).collect()
        }
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
