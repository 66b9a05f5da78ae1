//! One RTB template flattened into rows: its MO nodes (each key naming MOs, with its parent,
//! ids, flags, and the `$cond`/`$switch`/`$plans` context it sits in), its attribute values in
//! the long form of the Network's `values` (attribute, struct member, sequence index, value as
//! text), the expressions it evaluates at run time, what those call that rtbfast cannot run,
//! and the problems of its shape. Every row carries its JSON pointer; line and column are
//! found only for the rows that end in a finding (`locate`).

use std::sync::OnceLock;

use regex::Regex;
use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Object, Value};

use super::key::{self, Ids, Key};

/// Items one attribute's value (a sequence) may hold: an MOM sequence holds far fewer.
pub const MAX_SEQUENCE: usize = 10_000;
/// Expressions (and `$custom` functions) one template may hold: each is compiled, by
/// `templates check` and before expansion.
pub const MAX_EXPRESSIONS: usize = 10_000;
/// Ids the keys of one template may name in all (each key at most [`key::MAX_IDS`]): the
/// ids are expanded in memory, and expansion makes MOs of them for every target.
pub const MAX_TEMPLATE_IDS: usize = 100_000;

/// The members of an object as a template reads them: a repeated key's later value, at its own
/// place; the earlier ones are left out (said as a warning). `$comment`s are all kept.
pub fn members(obj: &Object) -> Vec<(&str, &Value)> {
    let all: Vec<(&str, &Value)> = obj.iter().collect();
    let repeated = if all.len() <= 16 {
        all.iter().enumerate().any(|(i, (k, _))| all[i + 1..].iter().any(|(other, _)| other == k))
    } else {
        let mut seen = rustc_hash::FxHashSet::default();
        !all.iter().all(|(k, _)| seen.insert(*k))
    };
    if !repeated {
        return all;
    }
    let mut last: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for (i, (k, _)) in all.iter().enumerate() {
        last.insert(k, i);
    }
    all.iter()
        .enumerate()
        .filter(|(i, (k, _))| *k == "$comment" || last.get(k) == Some(i))
        .map(|(_, pair)| *pair)
        .collect()
}

/// The value of `key` in the object `value` (the last one where the key repeats).
pub fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_object()?.iter().filter(|(k, _)| *k == key).last().map(|(_, v)| v)
}

/// Text of a template's rows, kept in one buffer per template ([`Flat::text`]): a start and
/// an end in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span(usize, usize);

/// An MO node of a template: a key naming MOs (one row however many ids it names).
#[derive(Debug, Clone, PartialEq)]
pub struct MoRow {
    /// The enclosing MO node (its index in the template's `mos`), `None` at the top.
    pub parent: Option<u32>,
    pub path: Span,
    pub key: Span,
    pub class: Span,
    pub ids: Ids,
    pub at: bool,
    /// The key's value is `"__delete__"`.
    pub delete: bool,
    pub context: &'static str,
    pub phase: Option<Span>,
}

/// One value of an attribute: a scalar, a struct member or a sequence item.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRow {
    pub mo: u32,
    pub attribute: Span,
    pub member: Option<Span>,
    pub index: Option<i32>,
    pub value: Option<Span>,
    /// `string`, `number`, `boolean`, `null`, `empty` (an empty sequence), `ignore`, `unset`,
    /// or the directive computing it: `eval`, `switch`, `cond`.
    pub kind: &'static str,
    pub path: Span,
    pub context: &'static str,
    pub phase: Option<Span>,
}

/// An expression the template evaluates at run time: listed as dynamic, never judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionRow {
    pub path: String,
    /// `$eval`, `$cond`, `$switch` or `$custom`.
    pub directive: &'static str,
    pub text: String,
    /// A `$custom` function's name and arguments (none for the other directives).
    pub name: Option<String>,
    pub args: Vec<String>,
}

/// A call in an expression or a custom function that expansion cannot run.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub path: String,
    /// What is called: `db.noria`, `enet.get_mo`, `eval`, `import`, …
    pub what: String,
    /// `unsupported` (a service of the operator's engine) or `refused` (never run).
    pub kind: &'static str,
    /// The line inside the expression or function body (1-based).
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProblemRow {
    pub path: String,
    pub code: &'static str,
    pub message: String,
    /// `error` (the template cannot be read as one) or `warning`.
    pub severity: &'static str,
    /// The line and column, where the reader knows them (a repeated key: its last place).
    pub at: Option<(u64, u64)>,
}

/// Everything read of one template. The text of its MO and value rows is in [`Flat::text`],
/// read with [`Flat::str`]: a template's rows are built without a string each.
#[derive(Debug, Default)]
pub struct Flat {
    /// The text the [`Span`]s of the rows point into.
    pub text: Vec<u8>,
    pub mos: Vec<MoRow>,
    pub values: Vec<ValueRow>,
    pub expressions: Vec<ExpressionRow>,
    pub calls: Vec<CallRow>,
    pub problems: Vec<ProblemRow>,
    /// `$meta` as JSON text.
    pub meta: Option<String>,
    pub plan_order: Vec<String>,
    pub functions: Vec<String>,
    pub vars: Vec<String>,
    /// Ids named by the keys read so far.
    ids: usize,
    /// A bound was passed: nothing more is read.
    stopped: bool,
}

/// A JSON pointer segment, escaped (RFC 6901).
fn segment(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// `n` with thousands separators (`250,000`).
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Where a node stands: in which MO (none at the top), under which directive, in which plan.
#[derive(Debug, Clone, Copy)]
struct Place {
    mo: Option<u32>,
    context: &'static str,
    phase: Option<Span>,
}

impl Flat {
    /// The text of `span`.
    pub fn str(&self, span: Span) -> &str {
        let bytes = self.text.get(span.0..span.1).unwrap_or_default();
        // every span ends where a piece of text (UTF-8) ended
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// The text of `span`, where there is one.
    pub fn opt(&self, span: Option<Span>) -> Option<&str> {
        span.map(|s| self.str(s))
    }

    /// `text` kept in [`Flat::text`].
    fn push(&mut self, text: &str) -> Span {
        let start = self.text.len();
        self.text.extend_from_slice(text.as_bytes());
        Span(start, self.text.len())
    }

    /// The pointer of the member `key` of the node at `path`.
    fn child(&mut self, path: Span, key: &str) -> Span {
        let start = self.text.len();
        self.text.extend_from_within(path.0..path.1);
        self.text.push(b'/');
        self.text.extend_from_slice(segment(key).as_bytes());
        Span(start, self.text.len())
    }

    /// The pointer of item `i` of the node at `path`.
    fn item(&mut self, path: Span, i: usize) -> Span {
        use std::io::Write;
        let start = self.text.len();
        self.text.extend_from_within(path.0..path.1);
        let _ = write!(self.text, "/{i}");
        Span(start, self.text.len())
    }

    /// Flatten a whole template (the parsed JSON).
    pub fn of(doc: &Value) -> Flat {
        Flat::sized(doc, 0, 0)
    }

    /// Flatten a whole template (the parsed JSON) of `bytes` bytes holding `values` JSON
    /// values: room for its rows is made once.
    pub fn sized(doc: &Value, bytes: usize, values: usize) -> Flat {
        let mut flat = Flat {
            // every pointer repeats its parent's: a template's pointers take a few times its size
            text: Vec::with_capacity(bytes.saturating_mul(4).min(32 << 20)),
            values: Vec::with_capacity(values),
            mos: Vec::with_capacity(values / 4),
            ..Flat::default()
        };
        let Some(items) = doc.as_array() else {
            flat.problem(
                Span::default(),
                "structure",
                "a template is a JSON array of single-key objects; this is not an array",
            );
            return flat;
        };
        let top = Place { mo: None, context: "", phase: None };
        for (i, it) in items.iter().enumerate() {
            let path = flat.item(Span::default(), i);
            match it.as_object() {
                Some(obj) => {
                    for (key, value) in members(obj) {
                        let at = flat.child(path, key);
                        flat.entry(key, value, at, top, true);
                    }
                }
                None => flat.problem(path, "structure", "each element of a template is an object"),
            }
        }
        flat
    }

    fn problem(&mut self, path: Span, code: &'static str, message: impl Into<String>) {
        self.problems.push(ProblemRow {
            path: self.str(path).to_string(),
            code,
            message: message.into(),
            severity: "error",
            at: None,
        });
    }

    /// One key and its value, at the top of the template (`top`) or inside the place given.
    fn entry(&mut self, key: &str, value: &Value, path: Span, place: Place, top: bool) {
        if self.stopped {
            return;
        }
        let holds_value = key::holds_value(value.as_str(), value.is_object() || value.is_array());
        let parsed = match key::parse_held(key, holds_value) {
            Ok(parsed) => parsed,
            Err(why) => return self.problem(path, "key", why),
        };
        match parsed {
            Key::Directive(name) => self.directive(name, value, path, place, top),
            Key::Mo { at, class, ids } => self.mo(key, at, class, ids, value, path, place),
            Key::Attribute(name) => match place.mo {
                // the attribute's name is the end of its pointer (a name needs no escape)
                Some(mo) => {
                    let attribute = Span(path.1 - name.len(), path.1);
                    self.value(mo, attribute, None, None, value, path, place)
                }
                None => self.problem(path, "structure", format!("attribute {name} outside any MO")),
            },
        }
    }

    fn directive(&mut self, name: &str, value: &Value, path: Span, place: Place, top: bool) {
        match name {
            "meta" | "vars" | "custom" if !top || place.mo.is_some() || !place.context.is_empty() => {
                self.problem(path, "structure", format!("${name} belongs at the top of the template"))
            }
            "meta" => self.meta(value, path),
            "vars" => match value.as_object() {
                Some(obj) => self.vars = members(obj).into_iter().map(|(k, _)| k.to_string()).collect(),
                None => self.problem(path, "structure", "$vars is an object of variables"),
            },
            "custom" => self.custom(value, path),
            "comment" => {}
            "eval" => self.expression(path, "$eval", value),
            "cond" => self.cond(value, path, place),
            "switch" => self.switch(value, path, place),
            "plans" => self.plans(value, path, place),
            _ => {}
        }
    }

    fn meta(&mut self, value: &Value, path: Span) {
        if !value.is_object() {
            return self.problem(path, "structure", "$meta is an object");
        }
        self.meta = Some(value.to_string());
        if let Some(order) = get(value, "plan_order") {
            match order.as_array() {
                Some(plans) if plans.iter().all(|p| p.is_str()) => {
                    self.plan_order = plans.iter().filter_map(|p| p.as_str().map(str::to_string)).collect()
                }
                _ => {
                    let at = self.child(path, "plan_order");
                    self.problem(at, "structure", "plan_order is a list of plan names")
                }
            }
        }
    }

    fn custom(&mut self, value: &Value, path: Span) {
        let Some(functions) = value.as_array() else {
            return self.problem(path, "structure", "$custom is a list of {name, args, body}");
        };
        for (i, f) in functions.iter().enumerate() {
            let at = self.item(path, i);
            let name = get(f, "name").and_then(|n| n.as_str());
            let args = get(f, "args").and_then(|a| a.as_array());
            let args_ok = args.is_some_and(|a| a.iter().all(|x| x.is_str()));
            let body = get(f, "body").and_then(|b| b.as_array());
            match (name, args_ok, body) {
                (Some(_), true, Some(_)) if self.too_many_expressions(at) => return,
                (Some(name), true, Some(body)) if body.iter().all(|l| l.is_str()) => {
                    self.functions.push(name.to_string());
                    let text: Vec<&str> = body.iter().filter_map(|l| l.as_str()).collect();
                    let text = text.join("\n");
                    let body_at = self.child(at, "body");
                    self.scan_calls(body_at, &text);
                    let args = args.into_iter().flatten().filter_map(|a| a.as_str().map(str::to_string)).collect();
                    self.expressions.push(ExpressionRow {
                        path: self.str(at).to_string(),
                        directive: "$custom",
                        text,
                        name: Some(name.to_string()),
                        args,
                    });
                }
                _ => self.problem(at, "structure", "a custom function is {name: text, args: [names], body: [lines]}"),
            }
        }
    }

    fn expression(&mut self, path: Span, directive: &'static str, value: &Value) {
        match value.as_str() {
            Some(_) if self.stopped || self.too_many_expressions(path) => {}
            Some(text) => {
                self.scan_calls(path, text);
                self.expressions.push(ExpressionRow {
                    path: self.str(path).to_string(),
                    directive,
                    text: text.to_string(),
                    name: None,
                    args: Vec::new(),
                });
            }
            None => self.problem(path, "structure", format!("{directive} holds an expression (a string)")),
        }
    }

    /// Whether one more expression passes [`MAX_EXPRESSIONS`] (said, and nothing more read).
    fn too_many_expressions(&mut self, path: Span) -> bool {
        if self.expressions.len() < MAX_EXPRESSIONS {
            return false;
        }
        self.stopped = true;
        let n = thousands(MAX_EXPRESSIONS);
        self.problem(
            path,
            "limit",
            format!("more than {n} expressions in one template (at most {n}): nothing after this one is read"),
        );
        true
    }

    /// Note what an expression calls that expansion cannot run.
    fn scan_calls(&mut self, path: Span, text: &str) {
        static CALLS: OnceLock<Option<Regex>> = OnceLock::new();
        let Some(calls) = CALLS.get_or_init(|| {
            Regex::new(r"\b(?:(db|enet)\.(\w+)|(LOGGER)\b|(eval|exec|compile|open|__import__|globals|locals|vars\s*\(|breakpoint)\s*\(|^\s*(import|from)\s)").ok()
        }) else {
            return;
        };
        for (n, line) in text.lines().enumerate() {
            for c in calls.captures_iter(line) {
                let (what, kind) = match (c.get(1), c.get(3), c.get(4), c.get(5)) {
                    (Some(service), _, _, _) => {
                        let member = c.get(2).map_or("", |m| m.as_str());
                        // set_mo_params queues changes into a plan: expansion runs it
                        if service.as_str() == "enet" && member == "set_mo_params" {
                            continue;
                        }
                        (format!("{}.{member}", service.as_str()), "unsupported")
                    }
                    (_, Some(_), _, _) => continue, // LOGGER: expansion keeps what it logs
                    (_, _, Some(call), _) => (call.as_str().trim_end_matches(['(', ' ']).to_string(), "refused"),
                    (_, _, _, Some(import)) => (import.as_str().to_string(), "refused"),
                    _ => continue,
                };
                let path = self.str(path).to_string();
                self.calls.push(CallRow { path, what, kind, line: n as u32 + 1 });
            }
        }
    }

    /// `then`/`else` of a `$cond`, `then` of a `$switch` branch, an item of a plan: a fragment
    /// (an object of keys), a list of them, or `"__ignore__"`.
    fn fragments(&mut self, value: &Value, path: Span, place: Place) {
        if value.as_str() == Some("__ignore__") {
            return;
        }
        if let Some(list) = value.as_array() {
            for (i, v) in list.iter().enumerate() {
                let at = self.item(path, i);
                self.fragments(v, at, place);
            }
            return;
        }
        match value.as_object() {
            Some(obj) => {
                for (key, v) in members(obj) {
                    let at = self.child(path, key);
                    self.entry(key, v, at, place, false);
                }
            }
            None => {
                self.problem(path, "structure", "expected a fragment (an object), a list of them or \"__ignore__\"")
            }
        }
    }

    fn cond(&mut self, value: &Value, path: Span, place: Place) {
        let Some(obj) = value.as_object() else {
            return self.problem(path, "structure", "$cond is {\"if\": expression, \"then\": …, \"else\": …}");
        };
        match get(value, "if") {
            Some(test) => {
                let at = self.child(path, "if");
                self.expression(at, "$cond", test)
            }
            None => self.problem(path, "structure", "$cond has no \"if\""),
        }
        let inner = Place { context: "cond", ..place };
        for (key, v) in members(obj) {
            match key {
                "if" => {}
                "then" | "else" => {
                    let at = self.child(path, key);
                    self.fragments(v, at, inner)
                }
                other => {
                    let at = self.child(path, other);
                    self.problem(at, "structure", format!("$cond has no {other:?} (if, then, else)"))
                }
            }
        }
    }

    fn switch(&mut self, value: &Value, path: Span, place: Place) {
        let Some(branches) = get(value, "branches").and_then(|b| b.as_array()) else {
            return self.problem(path, "structure", "$switch is {\"branches\": [{\"case\": expression, \"then\": …}]}");
        };
        let inner = Place { context: "switch", ..place };
        let at = self.child(path, "branches");
        for (i, b) in branches.iter().enumerate() {
            let here = self.item(at, i);
            match (get(b, "case"), get(b, "then")) {
                (Some(case), Some(then)) => {
                    let case_at = self.child(here, "case");
                    self.expression(case_at, "$switch", case);
                    let then_at = self.child(here, "then");
                    self.fragments(then, then_at, inner);
                }
                _ => self.problem(here, "structure", "a $switch branch is {\"case\": expression, \"then\": …}"),
            }
        }
    }

    fn plans(&mut self, value: &Value, path: Span, place: Place) {
        let Some(plans) = value.as_object() else {
            return self.problem(path, "structure", "$plans is an object of plan name → list of fragments");
        };
        for (name, steps) in members(plans) {
            let here = self.child(path, name);
            let inner = Place { phase: Some(self.push(name)), ..place };
            match steps.as_array() {
                Some(_) => self.fragments(steps, here, inner),
                None => self.problem(here, "structure", format!("plan {name:?} is a list of fragments")),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mo(&mut self, key: &str, at: bool, class: &str, ids: Ids, value: &Value, path: Span, place: Place) {
        if let Ids::Listed(listed) = &ids {
            self.ids += listed.len();
            if self.ids > MAX_TEMPLATE_IDS {
                self.stopped = true;
                return self.problem(
                    path,
                    "limit",
                    format!(
                        "the keys of this template name more than {} ids (brace expansions included; at most {} \
                         in one template): nothing after this key is read",
                        thousands(MAX_TEMPLATE_IDS),
                        thousands(MAX_TEMPLATE_IDS)
                    ),
                );
            }
        }
        let delete = value.as_str() == Some("__delete__");
        let index = self.mos.len() as u32;
        // the key is the end of its pointer where it needs no escape; the class is in the key
        let key_span = if segment(key).len() == key.len() { Span(path.1 - key.len(), path.1) } else { self.push(key) };
        let class_start = key_span.0 + usize::from(at);
        self.mos.push(MoRow {
            parent: place.mo,
            path,
            key: key_span,
            class: Span(class_start, class_start + class.len()),
            ids,
            at,
            delete,
            context: place.context,
            phase: place.phase,
        });
        if delete {
            return;
        }
        if value.as_str() == Some("__ignore__") {
            return;
        }
        match value.as_object() {
            Some(obj) => {
                let inside = Place { mo: Some(index), ..place };
                for (k, v) in members(obj) {
                    let at = self.child(path, k);
                    self.entry(k, v, at, inside, false);
                }
            }
            None => self.problem(
                path,
                "structure",
                format!("{key} holds an object of attributes and MOs, or \"__delete__\""),
            ),
        }
    }

    /// An attribute's value (or a member or item of it).
    #[allow(clippy::too_many_arguments)]
    fn value(
        &mut self,
        mo: u32,
        attribute: Span,
        member: Option<Span>,
        index: Option<i32>,
        value: &Value,
        path: Span,
        place: Place,
    ) {
        let row = |kind: &'static str, text: Option<Span>| ValueRow {
            mo,
            attribute,
            member,
            index,
            value: text,
            kind,
            path,
            context: place.context,
            phase: place.phase,
        };
        match value.get_type() {
            JsonType::String => {
                let text = value.as_str().unwrap_or_default();
                match text {
                    "__ignore__" => self.values.push(row("ignore", None)),
                    // not in the format's notes, but a later revision of a real template writes it
                    // where the earlier one wrote "": the attribute is to be unset
                    "__unset__" => self.values.push(row("unset", None)),
                    "__delete__" => self.problem(
                        path,
                        "sentinel",
                        "\"__delete__\" deletes an MO: it is the value of a Class-Id key, not of an attribute",
                    ),
                    _ => {
                        let text = self.push(text);
                        self.values.push(row("string", Some(text)))
                    }
                }
            }
            JsonType::Number | JsonType::Boolean => {
                use std::io::Write;
                let start = self.text.len();
                let _ = write!(self.text, "{value}");
                let text = Span(start, self.text.len());
                let kind = if value.get_type() == JsonType::Number { "number" } else { "boolean" };
                self.values.push(row(kind, Some(text)))
            }
            JsonType::Null => self.values.push(row("null", None)),
            JsonType::Array => {
                let items = value.as_array().map(|a| a.len()).unwrap_or(0);
                if items == 0 {
                    return self.values.push(row("empty", None));
                }
                if index.is_some() {
                    return self.problem(path, "structure", "a sequence inside a sequence");
                }
                if items > MAX_SEQUENCE {
                    let name = self.str(attribute).to_string();
                    return self.problem(
                        path,
                        "limit",
                        format!(
                            "{name}: a sequence of {} items (at most {} in one value)",
                            thousands(items),
                            thousands(MAX_SEQUENCE)
                        ),
                    );
                }
                for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                    let at = self.item(path, i);
                    self.value(mo, attribute, member, Some(i as i32), v, at, place);
                }
            }
            JsonType::Object => {
                let Some(obj) = value.as_object() else { return };
                let pairs = members(obj);
                // a computed value: {"$eval": …}, {"$switch": …}, {"$cond": …}
                if let Some(&(directive, inner)) = pairs.first().filter(|(k, _)| k.starts_with('$')) {
                    if pairs.len() > 1 {
                        return self.problem(path, "structure", "a computed value is one directive alone");
                    }
                    let at = self.child(path, directive);
                    let kind = match directive {
                        "$eval" => {
                            self.expression(at, "$eval", inner);
                            "eval"
                        }
                        "$switch" => {
                            self.switch_value(mo, attribute, member, index, inner, at, place);
                            "switch"
                        }
                        "$cond" => {
                            self.cond_value(mo, attribute, member, index, inner, at, place);
                            "cond"
                        }
                        other => {
                            return self.problem(
                                at,
                                "key",
                                format!("{other:?} does not compute a value ($eval, $switch, $cond)"),
                            )
                        }
                    };
                    return self.values.push(row(kind, None));
                }
                // a struct: one row per member (nested members joined by '.')
                for (name, v) in pairs {
                    let nested = match member {
                        Some(m) => {
                            let start = self.text.len();
                            self.text.extend_from_within(m.0..m.1);
                            self.text.push(b'.');
                            self.text.extend_from_slice(name.as_bytes());
                            Span(start, self.text.len())
                        }
                        None => self.push(name),
                    };
                    let at = self.child(path, name);
                    self.value(mo, attribute, Some(nested), index, v, at, place);
                }
            }
        }
    }

    /// The branches of a `$switch` computing a value: each branch's value, judged where literal.
    #[allow(clippy::too_many_arguments)]
    fn switch_value(
        &mut self,
        mo: u32,
        attribute: Span,
        member: Option<Span>,
        index: Option<i32>,
        value: &Value,
        path: Span,
        place: Place,
    ) {
        let Some(branches) = get(value, "branches").and_then(|b| b.as_array()) else {
            return self.problem(path, "structure", "$switch is {\"branches\": [{\"case\": expression, \"then\": …}]}");
        };
        let inner = Place { context: "switch", ..place };
        let at = self.child(path, "branches");
        for (i, b) in branches.iter().enumerate() {
            let here = self.item(at, i);
            match (get(b, "case"), get(b, "then")) {
                (Some(case), Some(then)) => {
                    let case_at = self.child(here, "case");
                    self.expression(case_at, "$switch", case);
                    let then_at = self.child(here, "then");
                    self.value(mo, attribute, member, index, then, then_at, inner);
                }
                _ => self.problem(here, "structure", "a $switch branch is {\"case\": expression, \"then\": …}"),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cond_value(
        &mut self,
        mo: u32,
        attribute: Span,
        member: Option<Span>,
        index: Option<i32>,
        value: &Value,
        path: Span,
        place: Place,
    ) {
        if !value.is_object() {
            return self.problem(path, "structure", "$cond is {\"if\": expression, \"then\": …, \"else\": …}");
        }
        if let Some(test) = get(value, "if") {
            let at = self.child(path, "if");
            self.expression(at, "$cond", test);
        }
        let inner = Place { context: "cond", ..place };
        for branch in ["then", "else"] {
            if let Some(v) = get(value, branch) {
                let at = self.child(path, branch);
                self.value(mo, attribute, member, index, v, at, inner);
            }
        }
    }
}
