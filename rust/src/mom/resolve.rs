//! Resolution of type references once the whole file is read: derived-type chains (with the
//! attribute's own default and sequence wrapper laid over the base), and checks that enum,
//! struct and class references name something defined. A reference without `mimName` means
//! the MIM it is written in.

use std::collections::{BTreeMap, HashMap, HashSet};

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::ArrowError;
use arrow_select::interleave::interleave;

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
pub(crate) struct Unresolved {
    seen: BTreeMap<(String, String, String), (u64, String, usize)>,
}

impl Unresolved {
    fn add(&mut self, what: &str, mim: &str, name: &str, p: &PendingType) {
        let entry = self.seen.entry((what.to_string(), mim.to_string(), name.to_string())).or_insert((
            p.offset,
            p.element.clone(),
            0,
        ));
        entry.2 += 1;
    }

    pub fn into_warnings(self, out: &mut Vec<RawWarning>) {
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
    /// Add the definitions read from a later span of the same file.
    pub fn merge(&mut self, later: Definitions) {
        self.enums.extend(later.enums);
        self.structs.extend(later.structs);
        self.classes.extend(later.classes);
        self.class_names.extend(later.class_names);
        self.derived.extend(later.derived);
        for (key, mims) in later.by_name {
            self.by_name.entry(key).or_default().extend(mims);
        }
    }

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

    /// Resolve `spec` written in MIM `here`. With `bad`, missing targets are reported there
    /// and the type is kept unresolved; without it, a missing target (which may still be
    /// defined further on) gives `None`.
    fn resolve(
        &self,
        p: &PendingType,
        spec: &TypeSpec,
        here: &str,
        depth: usize,
        mut bad: Option<&mut Unresolved>,
    ) -> Option<TypeSpec> {
        let mut s = spec.clone();
        let Some(name) = s.ref_name.clone() else { return Some(s) };
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
                        let mut r = self.resolve(p, target, &mim, depth + 1, bad)?;
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
                        return Some(r);
                    }
                    Some(_) => bad?.add("derivedDataTypeRef (chain too long, a cycle?)", &mim, &name, p),
                    None => bad?.add("derivedDataTypeRef", &mim, &name, p),
                }
            }
            "enumRef" | "structRef" => {
                let (kind, set) = if base == "enumRef" { (ENUM, &self.enums) } else { (STRUCT, &self.structs) };
                let defined_here = set.contains(&(here.to_string(), name.clone()));
                if s.ref_mim.is_none() && !defined_here && bad.is_none() {
                    // which MIM it means is only known once every MIM is read
                    return None;
                }
                let mim = self.target_mim(kind, s.ref_mim.as_deref(), here, &name, s.ref_mim.is_none() && defined_here);
                if !set.contains(&(mim.clone(), name.clone())) {
                    bad.as_mut()?.add(&base, &mim, &name, p);
                }
                s.ref_mim = Some(mim);
            }
            "moRef" => {
                if let Some(bad) = bad.as_mut() {
                    let known = name == "ManagedObject"
                        || match s.ref_mim.as_deref() {
                            Some(m) => self.classes.contains(&(m.to_string(), name.clone())),
                            None => self.class_names.contains(&name),
                        };
                    if !known {
                        bad.add("moRef target class", s.ref_mim.as_deref().unwrap_or(here), &name, p);
                    }
                }
            }
            _ => {}
        }
        Some(s)
    }
}

/// The type columns of one table, filled as rows are read: a row is resolved at once when
/// everything it refers to is already defined (the common case: MIMs define their types
/// before their classes). Otherwise it is written as read, kept whole, resolved at the end
/// and put in its place then, so rows stay in file order.
#[derive(Default)]
pub(crate) struct TypeRows {
    cols: TypeColumns,
    deferred: Vec<PendingType>,
    /// Row number (in file order) of each deferred row.
    deferred_rows: Vec<usize>,
    rows: usize,
    /// moRefs whose target class was not defined yet when they were read; checked at the end.
    morefs: Vec<PendingType>,
}

impl TypeRows {
    pub fn with_capacity(rows: usize) -> Self {
        TypeRows { cols: TypeColumns::with_capacity(rows), ..TypeRows::default() }
    }

    pub fn push(&mut self, defs: &Definitions, p: PendingType) {
        let row = self.rows;
        self.rows += 1;
        if p.spec.ref_name.is_none() {
            self.cols.append(&p.spec);
            return;
        }
        match defs.resolve(&p, &p.spec, &p.mim, 0, None) {
            None => {
                self.cols.append(&p.spec);
                self.deferred.push(p);
                self.deferred_rows.push(row);
            }
            Some(r) => {
                self.cols.append(&r);
                let target = r.ref_name.as_deref().unwrap_or_default();
                let known = target == "ManagedObject" || defs.class_names.contains(target);
                if r.base.as_deref() == Some("moRef") && !known {
                    // only what the check of the target needs
                    let spec =
                        TypeSpec { base: r.base, ref_name: r.ref_name, ref_mim: r.ref_mim, ..TypeSpec::default() };
                    self.morefs.push(PendingType { spec, ..p });
                }
            }
        }
    }

    /// Resolve what waited, note each target that is still missing in `bad`, and return the
    /// columns (in [`TypeColumns::fields`] order).
    pub fn finish(self, defs: &Definitions, bad: &mut Unresolved) -> Result<Vec<ArrayRef>, ArrowError> {
        for p in &self.morefs {
            // only the report of a missing target is wanted here; the row is already out
            let _ = defs.resolve(p, &p.spec, &p.mim, 0, Some(bad));
        }
        let mut columns = self.cols.finish();
        if self.deferred.is_empty() {
            return Ok(columns);
        }
        let resolved: Vec<TypeSpec> = self
            .deferred
            .iter()
            .map(|p| defs.resolve(p, &p.spec, &p.mim, 0, Some(bad)).unwrap_or_else(|| p.spec.clone()))
            .collect();
        let only_mim_differs = self
            .deferred
            .iter()
            .zip(&resolved)
            .all(|(p, r)| TypeSpec { ref_mim: None, ..r.clone() } == TypeSpec { ref_mim: None, ..p.spec.clone() });
        if only_mim_differs {
            // an enum or struct named without its MIM: only `type_ref_mim` changes
            let old = columns[TypeColumns::TYPE_REF_MIM].as_string::<i32>().clone();
            let mut fixed = StringBuilder::with_capacity(self.rows, old.value_data().len() + 16 * resolved.len());
            let mut late = self.deferred_rows.iter().copied().zip(&resolved).peekable();
            for row in 0..self.rows {
                match late.next_if(|(r, _)| *r == row) {
                    Some((_, spec)) => fixed.append_option(spec.ref_mim.as_deref()),
                    None => fixed.append_option(old.is_valid(row).then(|| old.value(row))),
                }
            }
            columns[TypeColumns::TYPE_REF_MIM] = Arc::new(fixed.finish());
            return Ok(columns);
        }
        // (source, row) for every row: 0 = as written, 1 = resolved late
        let mut late = TypeColumns::default();
        for r in &resolved {
            late.append(r);
        }
        let mut order: Vec<(usize, usize)> = (0..self.rows).map(|row| (0, row)).collect();
        for (i, &row) in self.deferred_rows.iter().enumerate() {
            order[row] = (1, i);
        }
        // column by column, each early column freed as soon as it is put together
        columns
            .into_iter()
            .zip(late.finish())
            .map(|(early, late)| interleave(&[early.as_ref(), late.as_ref()], &order))
            .collect()
    }
}
