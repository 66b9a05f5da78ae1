//! Bounds on what a user rule may ask of the machine, checked before the rule runs. Rules come
//! from many hands; the `cel` crate's parser and evaluator recurse once per level of the
//! expression, and comprehensions (`all`, `exists`, `map`, …) multiply their work when nested.
//! So, in order:
//!
//! 1. the text of one expression is at most [`MAX_BYTES`], and brackets nest at most
//!    [`MAX_BRACKETS`] deep (a linear scan);
//! 2. the depth of the expression tree the parser would build is estimated from the tokens
//!    (each operator of a chain such as `a + b + c` is one level) and must be at most
//!    [`MAX_DEPTH`], so neither the parser nor the evaluator can run out of stack (they run on
//!    threads of [`STACK_BYTES`]);
//! 3. once compiled, the evaluation steps one MO may cost are estimated from the tree (a
//!    comprehension over a literal list of n items costs n times its body; over an attribute
//!    or `children`, [`DATA_ITEMS`] times) and must be at most [`MAX_STEPS`];
//! 4. every literal pattern given to `matches` must compile as a regular expression.

use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use cel::Program;

/// The longest text of one expression (`when` or `assert`).
pub const MAX_BYTES: usize = 32 * 1024;
/// The deepest nesting of brackets: `(`, `[`, `{`.
pub const MAX_BRACKETS: usize = 64;
/// The deepest expression tree, as estimated from the tokens.
pub const MAX_DEPTH: usize = 512;
/// The most evaluation steps one MO may cost, as estimated from the compiled tree.
pub const MAX_STEPS: u64 = 1_000_000;
/// Items a comprehension over data (an attribute, `children`) is counted for.
pub const DATA_ITEMS: u64 = 100;
/// The stack of the threads rules are compiled and evaluated on. Measured in a release build,
/// the deepest shapes the limits allow take at most about 1.4 MiB (a chain of 510 `+` 783 KiB,
/// 63 nested brackets 530 KiB); a debug build takes up to 20 MiB for the same chain.
pub const STACK_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Ident,
    Literal,
    /// `||`, `&&`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `+`, `-`, `*`, `/`, `%`, `!`, `?`, `:`,
    /// `.`, `,`, brackets: the operator's text.
    Op(&'static str),
    /// Anything the CEL grammar has no token for; the real parser reports it.
    Other,
}

const OPS: [&str; 24] = [
    "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",", "(", ")", "[", "]",
    "{", "}",
];

/// The tokens of `source` (CEL's lexical grammar: comments, quoted, triple-quoted, raw and
/// bytes strings, numbers, identifiers; `in` is an operator).
fn tokens(source: &str) -> Vec<Token> {
    let b = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            i = b[i..].iter().position(|&x| x == b'\n').map_or(b.len(), |n| i + n);
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                // an exponent's sign belongs to the number
                if matches!(b[i], b'e' | b'E') && matches!(b.get(i + 1), Some(b'+' | b'-')) {
                    i += 1;
                }
                i += 1;
            }
            out.push(Token::Literal);
        } else if let Some(end) = string_end(b, i) {
            i = end;
            out.push(Token::Literal);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(if &b[start..i] == b"in" { Token::Op("in") } else { Token::Ident });
        } else if let Some(op) = OPS.iter().find(|op| b[i..].starts_with(op.as_bytes())) {
            i += op.len();
            out.push(Token::Op(op));
        } else {
            // a character CEL has no token for (the parser will say so): one token per character
            i += source[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Token::Other);
        }
    }
    out
}

/// Where the string literal starting at `i` ends, if one starts there (with its `r`, `b`,
/// `rb` or `br` prefix, single or triple quotes).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    let mut raw = false;
    while j < b.len() && j - i < 2 && matches!(b[j], b'r' | b'R' | b'b' | b'B') {
        raw |= matches!(b[j], b'r' | b'R');
        j += 1;
    }
    let quote = *b.get(j).filter(|&&q| q == b'"' || q == b'\'')?;
    let triple = b[j..].starts_with(&[quote; 3]);
    let close: &[u8] = if triple { &b[j..j + 3] } else { &b[j..j + 1] };
    j += close.len();
    while j < b.len() {
        if b[j] == b'\\' && !raw {
            j += 2;
        } else if b[j..].starts_with(close) {
            return Some(j + close.len());
        } else if b[j] == b'\n' && !triple {
            return Some(j); // unterminated: the parser reports it
        } else {
            j += 1;
        }
    }
    Some(b.len())
}

/// An upper bound of the depth of the tree the parser builds for `tokens`, by recursive
/// descent over CEL's grammar (ternary, `||`, `&&`, relations, `+ -`, `* / %`, unary,
/// member, primary). It recurses only into brackets, which [`check_text`] bounds first; on
/// tokens that do not parse it skips ahead, leaving the error to the real parser.
struct Depth<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Depth<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token::Op(t)) if t == op) {
            self.at += 1;
            return true;
        }
        false
    }

    fn eat_any(&mut self, ops: &[&str]) -> bool {
        ops.iter().any(|op| self.eat(op))
    }

    fn expr(&mut self) -> usize {
        let mut d = self.or();
        if self.eat("?") {
            let then = self.or();
            self.eat(":");
            d = d.max(then).max(self.expr()) + 1;
        }
        d
    }

    /// A left-associative chain: each operator adds a level above the operands before it.
    fn chain(&mut self, ops: &[&str], next: fn(&mut Self) -> usize) -> usize {
        let mut d = next(self);
        while self.eat_any(ops) {
            d = d.max(next(self)) + 1;
        }
        d
    }

    fn or(&mut self) -> usize {
        self.chain(&["||"], Self::and)
    }

    fn and(&mut self) -> usize {
        self.chain(&["&&"], Self::relation)
    }

    fn relation(&mut self) -> usize {
        self.chain(&["==", "!=", "<=", ">=", "<", ">", "in"], Self::additive)
    }

    fn additive(&mut self) -> usize {
        self.chain(&["+", "-"], Self::multiplicative)
    }

    fn multiplicative(&mut self) -> usize {
        self.chain(&["*", "/", "%"], Self::unary)
    }

    fn unary(&mut self) -> usize {
        let mut prefixes = 0;
        while self.eat_any(&["!", "-"]) {
            prefixes += 1;
        }
        self.member() + prefixes
    }

    fn member(&mut self) -> usize {
        let mut d = self.primary();
        loop {
            if self.eat(".") {
                if self.peek() == Some(Token::Ident) {
                    self.at += 1;
                }
                d += 1;
                if self.eat("(") {
                    // a macro (all, exists, map, …) becomes a comprehension a few levels deep
                    d = d.max(self.list(")")) + 3;
                }
            } else if self.eat("[") {
                d = d.max(self.expr()) + 1;
                self.eat("]");
            } else if self.eat("{") {
                d = d.max(self.list("}")) + 1;
            } else {
                return d;
            }
        }
    }

    /// Comma-separated expressions (map entries `k: v` too) up to `close`.
    fn list(&mut self, close: &str) -> usize {
        let mut d = 0;
        while self.peek().is_some() && !self.eat(close) {
            let before = self.at;
            d = d.max(self.expr());
            if self.eat(":") {
                d = d.max(self.expr());
            }
            if !self.eat(",") && self.at == before {
                self.at += 1; // not an expression: step over it
            }
        }
        d + 1
    }

    fn primary(&mut self) -> usize {
        match self.peek() {
            Some(Token::Ident) => {
                self.at += 1;
                if self.eat("(") {
                    self.list(")") + 3
                } else {
                    1
                }
            }
            Some(Token::Literal) => {
                self.at += 1;
                1
            }
            Some(Token::Op("(")) => {
                self.at += 1;
                let d = self.expr();
                self.eat(")");
                d + 1
            }
            Some(Token::Op("[")) => {
                self.at += 1;
                self.list("]")
            }
            Some(Token::Op("{")) => {
                self.at += 1;
                self.list("}")
            }
            Some(Token::Op(".")) => {
                self.at += 1;
                1
            }
            Some(_) => {
                self.at += 1;
                0
            }
            None => 0,
        }
    }
}

/// Check the text of one expression against [`MAX_BYTES`], [`MAX_BRACKETS`] and
/// [`MAX_DEPTH`]. The message says what is over and how to fix it.
pub fn check_text(source: &str) -> Result<(), String> {
    if source.len() > MAX_BYTES {
        return Err(format!(
            "the expression is {} bytes long; at most {} KiB are compiled: split the rule",
            source.len(),
            MAX_BYTES / 1024
        ));
    }
    let tokens = tokens(source);
    let (mut open, mut deepest) = (0usize, 0usize);
    for t in &tokens {
        match t {
            Token::Op("(" | "[" | "{") => {
                open += 1;
                deepest = deepest.max(open);
            }
            Token::Op(")" | "]" | "}") => open = open.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_BRACKETS {
        return Err(format!("brackets nest {deepest} deep; at most {MAX_BRACKETS}"));
    }
    let mut depth = Depth { tokens: &tokens, at: 0 };
    let mut estimated = 0;
    while depth.at < tokens.len() {
        let before = depth.at;
        estimated = estimated.max(depth.expr());
        if depth.at == before {
            depth.at += 1;
        }
    }
    if estimated > MAX_DEPTH {
        return Err(format!(
            "the expression nests about {estimated} levels deep (each operator of a chain such as a + b + c is \
             one); at most {MAX_DEPTH}: split it into several rules, or use `in [...]` for a list of values"
        ));
    }
    Ok(())
}

/// Check a compiled expression: its estimated steps per MO against [`MAX_STEPS`], and each
/// literal pattern of `matches`. The tree is walked without recursion.
pub fn check_program(program: &Program) -> Result<(), String> {
    let steps = steps(program.expression());
    if steps > MAX_STEPS {
        return Err(format!(
            "evaluating it may take about {steps} steps for each MO (comprehensions such as all, exists or map \
             nested over lists); at most {MAX_STEPS}"
        ));
    }
    let mut pending = vec![program.expression()];
    while let Some(e) = pending.pop() {
        if let Expr::Call(call) = &e.expr {
            if call.func_name == "matches" {
                let pattern = call.args.last().map(|a| &a.expr);
                if let Some(Expr::Literal(LiteralValue::String(p))) = pattern {
                    if let Err(err) = regex::Regex::new(p.inner()) {
                        let first = err.to_string().lines().last().unwrap_or_default().trim().to_string();
                        return Err(format!("matches({:?}): not a regular expression: {first}", p.inner()));
                    }
                }
            }
        }
        pending.extend(children(e));
    }
    Ok(())
}

fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Expr::Call(c) => c.target.iter().map(|t| t.as_ref()).chain(c.args.iter()).collect(),
        Expr::Comprehension(c) => vec![&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => m.entries.iter().flat_map(entry_children).collect(),
        Expr::Select(s) => vec![s.operand.as_ref()],
        Expr::Struct(s) => s.entries.iter().flat_map(entry_children).collect(),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// The expressions of one entry of a map or struct literal.
fn entry_children(entry: &cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        cel::common::ast::EntryExpr::MapEntry(me) => vec![&me.key, &me.value],
        cel::common::ast::EntryExpr::StructField(f) => vec![&f.value],
    }
}

/// The estimated steps of evaluating `root` once: one per node, a comprehension's loop
/// times the items of its range (a literal list's length, else [`DATA_ITEMS`]). Saturating,
/// computed bottom-up over an explicit stack.
fn steps(root: &IdedExpr) -> u64 {
    // post-order: (node, children done?)
    let mut stack: Vec<(&IdedExpr, bool)> = vec![(root, false)];
    let mut results: Vec<u64> = Vec::new();
    while let Some((e, done)) = stack.pop() {
        let kids = children(e);
        if !done {
            stack.push((e, true));
            stack.extend(kids.into_iter().map(|k| (k, false)));
            continue;
        }
        // the first child was finished last, so its result is on top: popping gives them in order
        let own: Vec<u64> = (0..kids.len()).map(|_| results.pop().unwrap_or(0)).collect();
        let total = match &e.expr {
            Expr::Comprehension(c) => {
                let items = match &c.iter_range.expr {
                    Expr::List(l) => l.elements.len() as u64,
                    Expr::Map(m) => m.entries.len() as u64,
                    _ => DATA_ITEMS,
                };
                // iter_range, accu_init, loop_cond, loop_step, result
                let body = own.get(2).copied().unwrap_or(0).saturating_add(own.get(3).copied().unwrap_or(0));
                items.saturating_mul(body).saturating_add(own.iter().fold(0u64, |a, &b| a.saturating_add(b)))
            }
            _ => own.iter().fold(0u64, |a, &b| a.saturating_add(b)),
        };
        results.push(total.saturating_add(1));
    }
    results.pop().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(op: &str, n: usize) -> String {
        vec!["qRxLevMin"; n].join(op) + " > 0"
    }

    #[test]
    fn real_rules_pass() {
        for rule in [
            "qRxLevMin >= -130",
            "physicalLayerCellIdGroup * 3 + physicalLayerCellId < 504",
            "has(self.sectorCarrierRef) && size(children.EUtranCellFDD) <= 6",
            "parent.administrativeState == 'UNLOCKED' ? true : x in ['a', \"b\", r'c\\d', '''e''']",
            "userLabel.matches('^[A-Z]+$') // a comment (with a bracket",
            "children.EUtranCellRelation.all(r, r.cellIndividualOffsetEUtran >= -24)",
        ] {
            assert_eq!(check_text(rule), Ok(()), "{rule}");
            check_program(&Program::compile(rule).unwrap()).unwrap();
        }
        // 300 comparisons in an || chain: long, but not deep
        let ors: Vec<String> = (0..300).map(|i| format!("qRxLevMin == {i}")).collect();
        assert_eq!(check_text(&ors.join(" || ")), Ok(()));
    }

    #[test]
    fn deep_text_is_refused_before_parsing() {
        assert!(check_text(&chain("+", 1400)).unwrap_err().contains("levels deep"));
        assert!(check_text(&chain("||", 600)).unwrap_err().contains("levels deep"));
        assert!(check_text(&("!".repeat(600) + "x")).unwrap_err().contains("levels deep"));
        assert!(check_text(&("-".repeat(600) + "1")).unwrap_err().contains("levels deep"));
        assert!(check_text(&("a".to_string() + &".b".repeat(600))).unwrap_err().contains("levels deep"));
        assert!(check_text(&("(".repeat(70) + "1" + &")".repeat(70))).unwrap_err().contains("brackets"));
        assert!(check_text(&("[".repeat(70) + &"]".repeat(70))).unwrap_err().contains("brackets"));
        assert!(check_text(&"x".repeat(MAX_BYTES + 1)).unwrap_err().contains("bytes long"));
        // a chain of ternaries nests too
        let ternary: String = (0..600).map(|i| format!("a == {i} ? {i} : ")).collect::<String>() + "0";
        assert!(check_text(&ternary).unwrap_err().contains("levels deep"));
    }

    #[test]
    fn the_estimate_bounds_the_parsers_depth() {
        // just under the limit, every shape compiles, evaluates and drops on a thread with an
        // eighth of the stack the pool gives in an optimised build (a margin of eight), and
        // with the pool's whole stack in a debug build (whose frames are 10 to 25 times larger)
        let stack = if cfg!(debug_assertions) { STACK_BYTES } else { STACK_BYTES / 8 };
        let shapes = [
            chain("+", MAX_DEPTH - 2),
            chain("||", MAX_DEPTH - 2),
            "!".repeat(MAX_DEPTH - 2) + "true",
            "a".to_string() + &".b".repeat(MAX_DEPTH - 2),
            "(".repeat(MAX_BRACKETS - 1) + "1" + &")".repeat(MAX_BRACKETS - 1),
            "[".repeat(MAX_BRACKETS - 1) + &"]".repeat(MAX_BRACKETS - 1),
            (0..(MAX_DEPTH / 2 - 2)).map(|i| format!("a == {i} ? {i} : ")).collect::<String>() + "0",
            "size(".repeat(MAX_BRACKETS - 1) + "'x'" + &")".repeat(MAX_BRACKETS - 1),
        ];
        for shape in shapes {
            assert_eq!(check_text(&shape), Ok(()), "{}", &shape[..40.min(shape.len())]);
            let handle = std::thread::Builder::new()
                .stack_size(stack)
                .spawn(move || {
                    if let Ok(program) = Program::compile(&shape) {
                        let mut cx = cel::Context::default();
                        cx.add_variable_from_value("qRxLevMin", 1i64);
                        cx.add_variable_from_value("a", 1i64);
                        let _ = program.execute(&cx);
                    }
                })
                .unwrap();
            handle.join().unwrap();
        }
    }

    #[test]
    fn nested_comprehensions_are_counted() {
        let list = format!("[{}]", (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
        let two = format!("{list}.all(a, {list}.all(b, a + b >= 0))");
        let three = format!("{list}.all(a, {list}.all(b, {list}.all(c, a + b + c >= 0)))");
        check_program(&Program::compile(&two).unwrap()).unwrap();
        assert!(check_program(&Program::compile(&three).unwrap()).unwrap_err().contains("steps"));
        // over data, counted as DATA_ITEMS items
        let data = "children.X.all(a, children.X.all(b, children.X.all(c, a == b)))";
        assert!(check_program(&Program::compile(data).unwrap()).unwrap_err().contains("steps"));
    }

    #[test]
    fn bad_patterns_are_found() {
        let err = check_program(&Program::compile("userLabel.matches('(unclosed')").unwrap()).unwrap_err();
        assert!(err.contains("not a regular expression"), "{err}");
        check_program(&Program::compile("matches(userLabel, '^a(b|c)$')").unwrap()).unwrap();
    }

    #[test]
    fn tokens_never_loop() {
        for text in ["", "'", "r'''", "\"\\", "1e+", "a.", "((((", "]]]]", "?:?:", "é∑", "a in", "{1:2,}", ",,,"] {
            let _ = check_text(text);
        }
    }
}
