//! Resolution of type references once the whole file is read: derived-type chains (with the
//! attribute's own default and sequence wrapper laid over the base), and checks that enum,
//! struct and class references name something defined. A reference without `mimName` means
//! the MIM it is written in.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::PendingType;
use crate::tables::{TypeColumns, TypeSpec};
use crate::xml::RawWarning;

/// Longest chain of derived types followed before giving up (a cycle, most likely).
const MAX_CHAIN: usize = 32;

#[derive(Debug, Default)]
pub(crate) struct Definitions {
    enums: HashSet<(String, String)>,
    structs: HashSet<(String, String)>,
    classes: HashSet<(String, String)>,
    class_names: HashSet<String>,
    derived: HashMap<(String, String), TypeSpec>,
    /// name → the MIMs defining it, for references that omit `mimName`.
    by_name: HashMap<(u8, String), Vec<String>>,
}

const ENUM: u8 = 0;
const STRUCT: u8 = 1;
const DERIVED: u8 = 2;

/// Unresolved references, reported once per target with a count.
#[derive(Default)]
struct Unresolved {
    seen: BTreeMap<(String, String, String), (u64, String, usize)>,
}

impl Unresolved {
    fn add(&mut self, what: &str, mim: &str, name: &str, p: &PendingType) {
        let entry = self
            .seen
            .entry((what.to_string(), mim.to_string(), name.to_string()))
            .or_insert((p.offset, p.element.clone(), 0));
        entry.2 += 1;
    }

    fn into_warnings(self, out: &mut Vec<RawWarning>) {
        for ((what, mim, name), (offset, element, count)) in self.seen {
            let times = if count > 1 { format!(" ({count} references; the first is here)") } else { String::new() };
            out.push(RawWarning {
                offset,
                element,
                message: format!("unresolved {what} {name:?} in mim {mim:?}{times}"),
            });
        }
    }
}

impl Definitions {
    pub fn add_enum(&mut self, mim: &str, name: &str) {
        self.enums.insert((mim.to_string(), name.to_string()));
        self.by_name.entry((ENUM, name.to_string())).or_default().push(mim.to_string());
    }

    pub fn add_struct(&mut self, mim: &str, name: &str) {
        self.structs.insert((mim.to_string(), name.to_string()));
        self.by_name.entry((STRUCT, name.to_string())).or_default().push(mim.to_string());
    }

    pub fn add_class(&mut self, mim: &str, name: &str) {
        self.classes.insert((mim.to_string(), name.to_string()));
        self.class_names.insert(name.to_string());
    }

    pub fn add_derived(&mut self, mim: &str, name: &str, spec: &TypeSpec) {
        self.derived.insert((mim.to_string(), name.to_string()), spec.clone());
        self.by_name.entry((DERIVED, name.to_string())).or_default().push(mim.to_string());
    }

    /// The MIM a reference points into: its `mimName`, else the MIM it is written in, else
    /// the only MIM of the file that defines the name.
    fn target_mim(&self, kind: u8, explicit: Option<&str>, here: &str, name: &str, defined: bool) -> String {
        if let Some(m) = explicit {
            return m.to_string();
        }
        if defined {
            return here.to_string();
        }
        match self.by_name.get(&(kind, name.to_string())) {
            Some(mims) if mims.len() == 1 => mims[0].clone(),
            _ => here.to_string(),
        }
    }

    fn resolve(&self, p: &PendingType, spec: &TypeSpec, here: &str, depth: usize, bad: &mut Unresolved) -> TypeSpec {
        let mut s = spec.clone();
        let Some(name) = s.ref_name.clone() else { return s };
        let base = s.base.clone().unwrap_or_default();
        match base.as_str() {
            "derivedDataTypeRef" => {
                let probe = (here.to_string(), name.clone());
                let mim = self.target_mim(
                    DERIVED,
                    s.ref_mim.as_deref(),
                    here,
                    &name,
                    s.ref_mim.is_none() && self.derived.contains_key(&probe),
                );
                s.ref_mim = Some(mim.clone());
                match self.derived.get(&(mim.clone(), name.clone())) {
                    Some(target) if depth < MAX_CHAIN => {
                        let mut r = self.resolve(p, target, &mim, depth + 1, bad);
                        r.derived_type = Some(name);
                        r.derived_type_mim = Some(mim);
                        if s.default.is_some() {
                            r.default = s.default;
                        }
                        if s.is_sequence {
                            r.is_sequence = true;
                            r.seq_min = s.seq_min;
                            r.seq_max = s.seq_max;
                            r.seq_non_unique = s.seq_non_unique;
                            r.seq_ordered = s.seq_ordered;
                            r.seq_default = s.seq_default;
                        }
                        return r;
                    }
                    Some(_) => bad.add("derivedDataTypeRef (chain too long, a cycle?)", &mim, &name, p),
                    None => bad.add("derivedDataTypeRef", &mim, &name, p),
                }
            }
            "enumRef" | "structRef" => {
                let (kind, set) = if base == "enumRef" { (ENUM, &self.enums) } else { (STRUCT, &self.structs) };
                let defined_here = set.contains(&(here.to_string(), name.clone()));
                let mim = self.target_mim(kind, s.ref_mim.as_deref(), here, &name, s.ref_mim.is_none() && defined_here);
                if !set.contains(&(mim.clone(), name.clone())) {
                    bad.add(&base, &mim, &name, p);
                }
                s.ref_mim = Some(mim);
            }
            "moRef" => {
                let known = name == "ManagedObject"
                    || match s.ref_mim.as_deref() {
                        Some(m) => self.classes.contains(&(m.to_string(), name.clone())),
                        None => self.class_names.contains(&name),
                    };
                if !known {
                    bad.add("moRef target class", s.ref_mim.as_deref().unwrap_or(here), &name, p);
                }
            }
            _ => {}
        }
        s
    }

    /// Resolve every pending type into type columns (rows in the same order), adding a
    /// warning per unresolved reference target.
    pub fn resolve_all(&self, pending: &[PendingType], warnings: &mut Vec<RawWarning>) -> TypeColumns {
        let mut cols = TypeColumns::new();
        let mut bad = Unresolved::default();
        for p in pending {
            let r = self.resolve(p, &p.spec, &p.mim, 0, &mut bad);
            cols.append(&r);
        }
        bad.into_warnings(warnings);
        cols
    }
}
