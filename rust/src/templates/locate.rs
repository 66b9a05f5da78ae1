//! Lines and columns of a template's JSON pointers, found by a scan of the text that builds
//! nothing (memory: the pointers asked for and the nesting depth), and the keys repeated in an
//! object, with every place. A file that is not JSON is read by a parser that keeps spans
//! (`jsonc-parser`, every leniency switched off: strict JSON) to say what is wrong, and where.
//! Only files that end in a finding are located; the bulk read keeps pointers only.

use jsonc_parser::ast::Value;
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

    /// 1-based lines and columns (in characters) of many byte offsets: in offset order, each
    /// column counted on from the one before on its line, so many places on one long line
    /// (a template written on one line) cost one pass, not one pass each.
    pub fn at_many(&self, offsets: &[usize]) -> Vec<(u64, u64)> {
        let mut order: Vec<usize> = (0..offsets.len()).collect();
        order.sort_unstable_by_key(|&i| offsets[i]);
        let mut out = vec![(1, 1); offsets.len()];
        // the last place: its line, the line's start, its offset and its column
        let mut last: Option<(usize, usize, usize, u64)> = None;
        for i in order {
            let mut offset = offsets[i].min(self.text.len());
            while !self.text.is_char_boundary(offset) {
                offset -= 1;
            }
            let line = self.starts.partition_point(|&s| s <= offset);
            let start = self.starts[line - 1];
            let column = match last {
                Some((l, _, from, column)) if l == line => column + self.text[from..offset].chars().count() as u64,
                _ => self.text[start..offset].chars().count() as u64 + 1,
            };
            last = Some((line, start, offset, column));
            out[i] = (line as u64, column);
        }
        out
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

/// A JSON pointer segment, escaped (RFC 6901).
fn escape(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// What the scanner meets: a member of an object (its key, decoded, and the offset of the key)
/// or an item of an array (its index and offset). `enter` is false for a node the visitor
/// skips: its members and items are not told.
pub enum Node<'k> {
    Member { key: std::borrow::Cow<'k, str>, at: usize },
    Item { index: usize, at: usize },
}

/// The end of the string starting at `i` (the quote), the index after its closing quote, and
/// whether it holds an escape.
fn string_end(bytes: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', bytes.get(j..)?)?;
        if bytes[k] == b'\\' {
            escaped = true;
            j = k + 2;
        } else {
            return Some((k + 1, escaped));
        }
    }
}

/// A string token's text, decoded (`raw` is the token with its quotes).
fn decoded(raw: &str, escaped: bool) -> std::borrow::Cow<'_, str> {
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default();
    if escaped {
        sonic_rs::from_str::<String>(raw).map(std::borrow::Cow::Owned).unwrap_or(std::borrow::Cow::Borrowed(inner))
    } else {
        std::borrow::Cow::Borrowed(inner)
    }
}

/// Walk the JSON `text` (already known to be JSON) without building it: `visit(depth, node)`
/// is told every member and item of the containers it asked to enter (the root's always),
/// and answers whether to enter that node's own members and items. Memory is the nesting
/// depth. `None` where the text is not JSON after all.
pub fn scan(text: &str, mut visit: impl FnMut(usize, Node<'_>) -> bool) -> Option<()> {
    let bytes = text.as_bytes();
    // per open container: is it an object, is it entered, the next item's index
    let mut stack: Vec<(bool, bool, usize)> = Vec::new();
    // the node about to start: will it be entered (the root is)
    let mut enter_next = true;
    let mut expect_key = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b',' => {
                if let Some(&(is_object, entered, _)) = stack.last() {
                    expect_key = is_object;
                    if !is_object {
                        enter_next = announce_item(&mut stack, entered, i + 1, bytes, &mut visit);
                    }
                }
                i += 1;
            }
            b'[' | b'{' => {
                let is_object = b == b'{';
                stack.push((is_object, enter_next, 0));
                expect_key = is_object;
                if !is_object {
                    enter_next = announce_item(&mut stack, enter_next, i + 1, bytes, &mut visit);
                }
                i += 1;
            }
            b']' | b'}' => {
                stack.pop()?;
                expect_key = false;
                i += 1;
            }
            b'"' => {
                let (end, escaped) = string_end(bytes, i)?;
                if expect_key {
                    let &(_, entered, _) = stack.last()?;
                    enter_next =
                        entered && visit(stack.len(), Node::Member { key: decoded(text.get(i..end)?, escaped), at: i });
                    expect_key = false;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    stack.is_empty().then_some(())
}

/// Tell the visitor of the item about to start in the array on top of `stack` (unless the
/// array is empty or not entered); whether that item is to be entered.
fn announce_item(
    stack: &mut [(bool, bool, usize)],
    entered: bool,
    from: usize,
    bytes: &[u8],
    visit: &mut impl FnMut(usize, Node<'_>) -> bool,
) -> bool {
    let depth = stack.len();
    let Some(top) = stack.last_mut() else { return false };
    let at = from + bytes.get(from..).map_or(0, |rest| rest.iter().take_while(|c| c.is_ascii_whitespace()).count());
    if bytes.get(at) == Some(&b']') {
        return false;
    }
    let index = top.2;
    top.2 += 1;
    entered && visit(depth, Node::Item { index, at })
}

/// The offsets of `pointers` in `text`, found by one scan that enters only the nodes on their
/// way (memory: the pointers and the nesting depth, whatever the size of the text). A
/// repeated key leads to its last occurrence: the one that is used.
fn spots<S: AsRef<str>>(text: &str, pointers: &[S]) -> Option<FxHashMap<String, usize>> {
    let mut wanted: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
    for p in pointers {
        let mut rest = p.as_ref();
        while !rest.is_empty() && wanted.insert(rest) {
            rest = &rest[..rest.rfind('/').unwrap_or(0)];
        }
    }
    let mut out = FxHashMap::default();
    out.insert(String::new(), text.len() - text.trim_start().len());
    // the pointer of each open level (the root's is empty)
    let mut path: Vec<usize> = vec![0];
    let mut pointer = String::new();
    scan(text, |depth, node| {
        path.truncate(depth);
        pointer.truncate(path.last().copied().unwrap_or(0));
        pointer.push('/');
        let at = match node {
            Node::Member { key, at } => {
                pointer.push_str(&escape(&key));
                at
            }
            Node::Item { index, at } => {
                pointer.push_str(&index.to_string());
                at
            }
        };
        let go = wanted.contains(pointer.as_str());
        if go {
            out.insert(pointer.clone(), at);
            path.push(pointer.len());
        }
        go
    })?;
    Some(out)
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
pub fn locate<S: AsRef<str>>(text: &str, pointers: &[S]) -> Vec<(u64, u64)> {
    match spots(text, pointers) {
        Some(found) => {
            let offsets: Vec<usize> = pointers.iter().map(|p| nearest(&found, p.as_ref())).collect();
            LineIndex::new(text).at_many(&offsets)
        }
        None => vec![(1, 1); pointers.len()],
    }
}

/// A key repeated in one object: the object's pointer, the key, and the line and column of
/// each occurrence (the last one is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub object: String,
    pub key: String,
    pub at: Vec<(u64, u64)>,
}

impl Duplicate {
    /// The pointer of the member (the last occurrence).
    pub fn pointer(&self) -> String {
        format!("{}/{}", self.object, escape(&self.key))
    }

    /// What a finding says: the key, every place, which one is used.
    pub fn message(&self) -> String {
        let places: Vec<String> = self.at.iter().map(|(l, c)| format!("{l}:{c}")).collect();
        let (last, earlier) = places.split_last().map_or(("", &[][..]), |(l, e)| (l.as_str(), e));
        format!(
            "the key {:?} appears {} times in one object (at {} and {last}): the later one ({last}) is used, \
             the earlier {} left out",
            self.key,
            self.at.len(),
            earlier.join(", "),
            if earlier.len() == 1 { "one is" } else { "ones are" },
        )
    }
}

/// Whether a repeated `key` is worth a warning: `$comment`s may repeat (nothing is used of
/// them).
pub fn warned(key: &str) -> bool {
    key != "$comment"
}

/// Every key repeated in an object of the JSON `text`, with the places of each occurrence, in
/// the order of the objects' ends. Memory: the keys of the open objects.
pub fn duplicate_keys(text: &str) -> Vec<Duplicate> {
    // per open level: its pointer's length, and (for an object) key → offsets
    struct Level {
        pointer_len: usize,
        keys: FxHashMap<String, Vec<usize>>,
    }
    let mut levels: Vec<Level> = vec![Level { pointer_len: 0, keys: FxHashMap::default() }];
    let mut pointer = String::new();
    let mut found: Vec<(String, String, Vec<usize>)> = Vec::new();
    let close = |level: Level, pointer: &str, found: &mut Vec<(String, String, Vec<usize>)>| {
        let mut repeated: Vec<(String, Vec<usize>)> =
            level.keys.into_iter().filter(|(k, at)| at.len() > 1 && warned(k)).collect();
        repeated.sort_by_key(|(_, at)| at[0]);
        for (key, at) in repeated {
            found.push((pointer[..level.pointer_len].to_string(), key, at));
        }
    };
    let scanned = scan(text, |depth, node| {
        while levels.len() > depth {
            if let Some(level) = levels.pop() {
                close(level, &pointer, &mut found);
            }
        }
        pointer.truncate(levels.last().map_or(0, |l| l.pointer_len));
        pointer.push('/');
        match node {
            Node::Member { key, at } => {
                pointer.push_str(&escape(&key));
                if let Some(level) = levels.last_mut() {
                    level.keys.entry(key.into_owned()).or_default().push(at);
                }
            }
            Node::Item { index, at: _ } => pointer.push_str(&index.to_string()),
        }
        levels.push(Level { pointer_len: pointer.len(), keys: FxHashMap::default() });
        true
    });
    if scanned.is_none() {
        return Vec::new();
    }
    while let Some(level) = levels.pop() {
        close(level, &pointer, &mut found);
    }
    let offsets: Vec<usize> = found.iter().flat_map(|(_, _, at)| at.iter().copied()).collect();
    let mut places = LineIndex::new(text).at_many(&offsets).into_iter();
    found
        .into_iter()
        .map(|(object, key, at)| Duplicate { object, key, at: places.by_ref().take(at.len()).collect() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_to_lines_and_columns() {
        let text = "[\n  {\"$meta\": {}},\n  {\"A\": {\"x/y\": \"1\", \"b\": [\"é\", \"z\"]}}\n]";
        let got = locate(text, &["/1/A/x~1y", "/1/A/b/1", "/1/A/missing", ""]);
        assert_eq!(got, vec![(3, 10), (3, 33), (3, 4), (1, 1)]);
    }

    #[test]
    fn a_repeated_key_leads_to_its_last_place_and_is_listed() {
        let text = "{\"a\": {\"x\": 1, \"y\": [2], \"x\": 3, \"x\": 4},\n \"$comment\": 1, \"$comment\": 2, \"a\\u0062\": 0, \"ab\": 1}";
        assert_eq!(locate(text, &["/a/x", "/a/y/0", "/ab"]), vec![(1, 34), (1, 22), (2, 46)]);
        let found = duplicate_keys(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].pointer(), found[0].at.clone()), ("/a/x".to_string(), vec![(1, 8), (1, 26), (1, 34)]));
        assert_eq!((found[1].pointer(), found[1].at.clone()), ("/ab".to_string(), vec![(2, 32), (2, 46)]));
        assert!(found[0].message().contains("at 1:8, 1:26 and 1:34): the later one (1:34) is used, the earlier ones"));
        // not JSON: nothing found, nothing panics
        assert!(duplicate_keys("{\"a\": [1, 2}").is_empty());
        assert_eq!(locate("{\"a\": [", &["/a/0"]), vec![(1, 1)]);
    }

    #[test]
    fn many_places_on_one_line_are_the_places_one_at_a_time() {
        let text = format!("{}\n{}", "aé\"x\", ".repeat(500), "é".repeat(10));
        let lines = LineIndex::new(&text);
        let offsets: Vec<usize> = (0..text.len() + 3).rev().step_by(7).chain([0, 5, 5, text.len()]).collect();
        let one_at_a_time: Vec<(u64, u64)> = offsets.iter().map(|&o| lines.at(o)).collect();
        assert_eq!(lines.at_many(&offsets), one_at_a_time);
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
