//! One RTB template flattened into rows: its MO nodes (each key naming MOs, with its parent,
//! ids, flags, and the `$cond`/`$switch`/`$plans` context it sits in), its attribute values in
//! the long form of the Network's `values` (attribute, struct member, sequence index, value as
//! text), the expressions it evaluates at run time, what those call that rtbfast cannot run,
//! and the problems of its shape. Every row carries its JSON pointer; line and column are
//! found only for the rows that end in a finding (`locate`).

use std::sync::OnceLock;

use regex::Regex;
use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Value};

use super::key::{self, Ids, Key};

/// An MO node of a template: a key naming MOs (one row however many ids it names).
#[derive(Debug, Clone, PartialEq)]
pub struct MoRow {
    /// The enclosing MO node (its index in the template's `mos`), `None` at the top.
    pub parent: Option<u32>,
    pub path: String,
    pub key: String,
    pub class: String,
    pub ids: Ids,
    pub at: bool,
    /// The key's value is `"__delete__"`.
    pub delete: bool,
    pub context: &'static str,
    pub phase: Option<String>,
}

/// One value of an attribute: a scalar, a struct member or a sequence item.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRow {
    pub mo: u32,
    pub attribute: String,
    pub member: Option<String>,
    pub index: Option<i32>,
    pub value: Option<String>,
    /// `string`, `number`, `boolean`, `null`, `empty` (an empty sequence), `ignore`, `unset`,
    /// or the directive computing it: `eval`, `switch`, `cond`.
    pub kind: &'static str,
    pub path: String,
    pub context: &'static str,
    pub phase: Option<String>,
}

/// An expression the template evaluates at run time: listed as dynamic, never judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionRow {
    pub path: String,
    /// `$eval`, `$cond`, `$switch` or `$custom`.
    pub directive: &'static str,
    pub text: String,
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
}

/// Everything read of one template.
#[derive(Debug, Default)]
pub struct Flat {
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
}

/// A JSON pointer segment, escaped (RFC 6901).
fn segment(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

fn child(path: &str, key: &str) -> String {
    let seg = segment(key);
    let mut out = String::with_capacity(path.len() + 1 + seg.len());
    out.push_str(path);
    out.push('/');
    out.push_str(&seg);
    out
}

fn item(path: &str, i: usize) -> String {
    format!("{path}/{i}")
}

/// Where a node stands: in which MO (none at the top), under which directive, in which plan.
#[derive(Debug, Clone)]
struct Place {
    mo: Option<u32>,
    context: &'static str,
    phase: Option<String>,
}

impl Flat {
    /// Flatten a whole template (the parsed JSON).
    pub fn of(doc: &Value) -> Flat {
        let mut flat = Flat::default();
        let Some(items) = doc.as_array() else {
            flat.problem("", "structure", "a template is a JSON array of single-key objects; this is not an array");
            return flat;
        };
        let top = Place { mo: None, context: "", phase: None };
        for (i, it) in items.iter().enumerate() {
            let path = item("", i);
            match it.as_object() {
                Some(obj) => {
                    for (key, value) in obj.iter() {
                        flat.entry(key, value, &child(&path, key), &top, true);
                    }
                }
                None => flat.problem(&path, "structure", "each element of a template is an object"),
            }
        }
        flat
    }

    fn problem(&mut self, path: &str, code: &'static str, message: impl Into<String>) {
        self.problems.push(ProblemRow { path: path.to_string(), code, message: message.into() });
    }

    /// One key and its value, at the top of the template (`top`) or inside the place given.
    fn entry(&mut self, key: &str, value: &Value, path: &str, place: &Place, top: bool) {
        let parsed = match key::parse(key) {
            Ok(parsed) => parsed,
            Err(why) => return self.problem(path, "key", why),
        };
        match parsed {
            Key::Directive(name) => self.directive(name, value, path, place, top),
            Key::Mo { at, class, ids } => self.mo(key, at, class.to_string(), ids, value, path, place),
            Key::Attribute(name) => match place.mo {
                Some(mo) => self.value(mo, name, None, None, value, path, place),
                None => self.problem(path, "structure", format!("attribute {name} outside any MO")),
            },
        }
    }

    fn directive(&mut self, name: &str, value: &Value, path: &str, place: &Place, top: bool) {
        match name {
            "meta" | "vars" | "custom" if !top || place.mo.is_some() || !place.context.is_empty() => {
                self.problem(path, "structure", format!("${name} belongs at the top of the template"))
            }
            "meta" => self.meta(value, path),
            "vars" => match value.as_object() {
                Some(obj) => self.vars = obj.iter().map(|(k, _)| k.to_string()).collect(),
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

    fn meta(&mut self, value: &Value, path: &str) {
        let Some(obj) = value.as_object() else {
            return self.problem(path, "structure", "$meta is an object");
        };
        self.meta = Some(value.to_string());
        if let Some(order) = obj.get(&"plan_order") {
            match order.as_array() {
                Some(plans) if plans.iter().all(|p| p.is_str()) => {
                    self.plan_order = plans.iter().filter_map(|p| p.as_str().map(str::to_string)).collect()
                }
                _ => self.problem(&child(path, "plan_order"), "structure", "plan_order is a list of plan names"),
            }
        }
    }

    fn custom(&mut self, value: &Value, path: &str) {
        let Some(functions) = value.as_array() else {
            return self.problem(path, "structure", "$custom is a list of {name, args, body}");
        };
        for (i, f) in functions.iter().enumerate() {
            let at = item(path, i);
            let name = f.get("name").and_then(|n| n.as_str());
            let args_ok = f.get("args").and_then(|a| a.as_array()).is_some_and(|a| a.iter().all(|x| x.is_str()));
            let body = f.get("body").and_then(|b| b.as_array());
            match (name, args_ok, body) {
                (Some(name), true, Some(body)) if body.iter().all(|l| l.is_str()) => {
                    self.functions.push(name.to_string());
                    let text: Vec<&str> = body.iter().filter_map(|l| l.as_str()).collect();
                    let text = text.join("\n");
                    self.scan_calls(&child(&at, "body"), &text);
                    self.expressions.push(ExpressionRow { path: at, directive: "$custom", text });
                }
                _ => self.problem(&at, "structure", "a custom function is {name: text, args: [names], body: [lines]}"),
            }
        }
    }

    fn expression(&mut self, path: &str, directive: &'static str, value: &Value) {
        match value.as_str() {
            Some(text) => {
                self.scan_calls(path, text);
                self.expressions.push(ExpressionRow { path: path.to_string(), directive, text: text.to_string() });
            }
            None => self.problem(path, "structure", format!("{directive} holds an expression (a string)")),
        }
    }

    /// Note what an expression calls that expansion cannot run.
    fn scan_calls(&mut self, path: &str, text: &str) {
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
                self.calls.push(CallRow { path: path.to_string(), what, kind, line: n as u32 + 1 });
            }
        }
    }

    /// `then`/`else` of a `$cond`, `then` of a `$switch` branch, an item of a plan: a fragment
    /// (an object of keys), a list of them, or `"__ignore__"`.
    fn fragments(&mut self, value: &Value, path: &str, place: &Place) {
        if value.as_str() == Some("__ignore__") {
            return;
        }
        if let Some(list) = value.as_array() {
            for (i, v) in list.iter().enumerate() {
                self.fragments(v, &item(path, i), place);
            }
            return;
        }
        match value.as_object() {
            Some(obj) => {
                for (key, v) in obj.iter() {
                    self.entry(key, v, &child(path, key), place, false);
                }
            }
            None => {
                self.problem(path, "structure", "expected a fragment (an object), a list of them or \"__ignore__\"")
            }
        }
    }

    fn cond(&mut self, value: &Value, path: &str, place: &Place) {
        let Some(obj) = value.as_object() else {
            return self.problem(path, "structure", "$cond is {\"if\": expression, \"then\": …, \"else\": …}");
        };
        match obj.get(&"if") {
            Some(test) => self.expression(&child(path, "if"), "$cond", test),
            None => self.problem(path, "structure", "$cond has no \"if\""),
        }
        let inner = Place { context: "cond", ..place.clone() };
        for (key, v) in obj.iter() {
            match key {
                "if" => {}
                "then" | "else" => self.fragments(v, &child(path, key), &inner),
                other => {
                    self.problem(&child(path, other), "structure", format!("$cond has no {other:?} (if, then, else)"))
                }
            }
        }
    }

    fn switch(&mut self, value: &Value, path: &str, place: &Place) {
        let Some(branches) = value.get("branches").and_then(|b| b.as_array()) else {
            return self.problem(path, "structure", "$switch is {\"branches\": [{\"case\": expression, \"then\": …}]}");
        };
        let inner = Place { context: "switch", ..place.clone() };
        let at = child(path, "branches");
        for (i, b) in branches.iter().enumerate() {
            let here = item(&at, i);
            match (b.get("case"), b.get("then")) {
                (Some(case), Some(then)) => {
                    self.expression(&child(&here, "case"), "$switch", case);
                    self.fragments(then, &child(&here, "then"), &inner);
                }
                _ => self.problem(&here, "structure", "a $switch branch is {\"case\": expression, \"then\": …}"),
            }
        }
    }

    fn plans(&mut self, value: &Value, path: &str, place: &Place) {
        let Some(plans) = value.as_object() else {
            return self.problem(path, "structure", "$plans is an object of plan name → list of fragments");
        };
        for (name, steps) in plans.iter() {
            let inner = Place { phase: Some(name.to_string()), ..place.clone() };
            let here = child(path, name);
            match steps.as_array() {
                Some(_) => self.fragments(steps, &here, &inner),
                None => self.problem(&here, "structure", format!("plan {name:?} is a list of fragments")),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mo(&mut self, key: &str, at: bool, class: String, ids: Ids, value: &Value, path: &str, place: &Place) {
        let delete = value.as_str() == Some("__delete__");
        let index = self.mos.len() as u32;
        self.mos.push(MoRow {
            parent: place.mo,
            path: path.to_string(),
            key: key.to_string(),
            class,
            ids,
            at,
            delete,
            context: place.context,
            phase: place.phase.clone(),
        });
        if delete {
            return;
        }
        if value.as_str() == Some("__ignore__") {
            return;
        }
        match value.as_object() {
            Some(obj) => {
                let inside = Place { mo: Some(index), ..place.clone() };
                for (k, v) in obj.iter() {
                    self.entry(k, v, &child(path, k), &inside, false);
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
        attribute: &str,
        member: Option<&str>,
        index: Option<i32>,
        value: &Value,
        path: &str,
        place: &Place,
    ) {
        let row = |kind: &'static str, text: Option<String>| ValueRow {
            mo,
            attribute: attribute.to_string(),
            member: member.map(str::to_string),
            index,
            value: text,
            kind,
            path: path.to_string(),
            context: place.context,
            phase: place.phase.clone(),
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
                    _ => self.values.push(row("string", Some(text.to_string()))),
                }
            }
            JsonType::Number => self.values.push(row("number", Some(value.to_string()))),
            JsonType::Boolean => self.values.push(row("boolean", Some(value.to_string()))),
            JsonType::Null => self.values.push(row("null", None)),
            JsonType::Array => {
                let items = value.as_array().map(|a| a.len()).unwrap_or(0);
                if items == 0 {
                    return self.values.push(row("empty", None));
                }
                if index.is_some() {
                    return self.problem(path, "structure", "a sequence inside a sequence");
                }
                for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                    self.value(mo, attribute, member, Some(i as i32), v, &item(path, i), place);
                }
            }
            JsonType::Object => {
                let Some(obj) = value.as_object() else { return };
                // a computed value: {"$eval": …}, {"$switch": …}, {"$cond": …}
                if let Some((directive, inner)) = obj.iter().next().filter(|(k, _)| k.starts_with('$')) {
                    if obj.len() > 1 {
                        return self.problem(path, "structure", "a computed value is one directive alone");
                    }
                    let at = child(path, directive);
                    let kind = match directive {
                        "$eval" => {
                            self.expression(&at, "$eval", inner);
                            "eval"
                        }
                        "$switch" => {
                            self.switch_value(mo, attribute, member, index, inner, &at, place);
                            "switch"
                        }
                        "$cond" => {
                            self.cond_value(mo, attribute, member, index, inner, &at, place);
                            "cond"
                        }
                        other => {
                            return self.problem(
                                &at,
                                "key",
                                format!("{other:?} does not compute a value ($eval, $switch, $cond)"),
                            )
                        }
                    };
                    return self.values.push(row(kind, None));
                }
                // a struct: one row per member (nested members joined by '.')
                for (name, v) in obj.iter() {
                    let nested = match member {
                        Some(m) => format!("{m}.{name}"),
                        None => name.to_string(),
                    };
                    self.value(mo, attribute, Some(&nested), index, v, &child(path, name), place);
                }
            }
        }
    }

    /// The branches of a `$switch` computing a value: each branch's value, judged where literal.
    #[allow(clippy::too_many_arguments)]
    fn switch_value(
        &mut self,
        mo: u32,
        attribute: &str,
        member: Option<&str>,
        index: Option<i32>,
        value: &Value,
        path: &str,
        place: &Place,
    ) {
        let Some(branches) = value.get("branches").and_then(|b| b.as_array()) else {
            return self.problem(path, "structure", "$switch is {\"branches\": [{\"case\": expression, \"then\": …}]}");
        };
        let inner = Place { context: "switch", ..place.clone() };
        let at = child(path, "branches");
        for (i, b) in branches.iter().enumerate() {
            let here = item(&at, i);
            match (b.get("case"), b.get("then")) {
                (Some(case), Some(then)) => {
                    self.expression(&child(&here, "case"), "$switch", case);
                    self.value(mo, attribute, member, index, then, &child(&here, "then"), &inner);
                }
                _ => self.problem(&here, "structure", "a $switch branch is {\"case\": expression, \"then\": …}"),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cond_value(
        &mut self,
        mo: u32,
        attribute: &str,
        member: Option<&str>,
        index: Option<i32>,
        value: &Value,
        path: &str,
        place: &Place,
    ) {
        let Some(obj) = value.as_object() else {
            return self.problem(path, "structure", "$cond is {\"if\": expression, \"then\": …, \"else\": …}");
        };
        if let Some(test) = obj.get(&"if") {
            self.expression(&child(path, "if"), "$cond", test);
        }
        let inner = Place { context: "cond", ..place.clone() };
        for branch in ["then", "else"] {
            if let Some(v) = obj.get(&branch) {
                self.value(mo, attribute, member, index, v, &child(path, branch), &inner);
            }
        }
    }
}
