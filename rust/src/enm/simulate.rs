//! The simulator's checks of a run of set steps (`rtbfast.enm.simulator`), row by row: the
//! class of each row's MO in the simulated state (null when it does not exist), and what the
//! catalog says against the write. The simulator words ENM's answers and decides the locks,
//! which need its state.

use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt8Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::{FxHashMap, FxHashSet};

use super::view::{bad, NetworkView, PlanningCatalog, Text};
use crate::error::Result;

/// The MO does not exist.
pub const MISSING: u8 = 1;
/// The class has no such attribute.
pub const UNKNOWN: u8 = 2;
pub const READ_ONLY: u8 = 4;
pub const RESTRICTED: u8 = 8;
/// Changed only while its MO (or the cell above it) is LOCKED.
pub const LOCKED_ONLY: u8 = 16;

/// The rows of a run of set steps (`fdn`, `attribute`) checked on the network first read
/// (`net`, whose MOs in `removed` are gone) and the MOs created since (`created`: fdn →
/// class, those that exist): a table of `class` (null where the MO does not exist) and
/// `problems` (the bits above).
pub fn check_sets(
    part: &RecordBatch,
    net: &NetworkView,
    cat: &PlanningCatalog,
    removed: &FxHashSet<String>,
    created: &FxHashMap<String, String>,
) -> Result<RecordBatch> {
    let fdn = Text::column(part, "plan", "fdn", false)?;
    let attribute = Text::column(part, "plan", "attribute", true)?;
    let n = part.num_rows();
    let mut classes = StringBuilder::with_capacity(n, n * 16);
    let mut problems = UInt8Builder::with_capacity(n);
    // a run's rows come MO by MO: the class of the last FDN is kept
    let mut last: Option<(&str, Option<&str>)> = None;
    for i in 0..n {
        let f = fdn.str(i);
        let class = match last {
            Some((lf, lc)) if lf == f => lc,
            _ => {
                let c = match created.get(f) {
                    Some(c) => Some(c.as_str()),
                    None if removed.contains(f) => None,
                    None => net.row_of(f).map(|r| net.class(r)),
                };
                last = Some((f, c));
                c
            }
        };
        classes.append_option(class);
        let mut bits = 0u8;
        match (class, attribute.get(i)) {
            (None, _) => bits |= MISSING,
            (Some(c), Some(a)) => match cat.flags(c, a) {
                None => bits |= UNKNOWN,
                Some(flags) => {
                    if flags.read_only {
                        bits |= READ_ONLY;
                    }
                    if flags.restricted {
                        bits |= RESTRICTED;
                    }
                    if cat.needs_lock(c, a) {
                        bits |= LOCKED_ONLY;
                    }
                }
            },
            (Some(_), None) => {}
        }
        problems.append_value(bits);
    }
    let schema =
        Schema::new(vec![Field::new("class", DataType::Utf8, true), Field::new("problems", DataType::UInt8, false)]);
    let columns: Vec<ArrayRef> = vec![Arc::new(classes.finish()), Arc::new(problems.finish())];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| bad("plan", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enm::planner::tests::{changes, set, the_catalog, the_network};

    #[test]
    fn each_row_of_a_run_of_sets_is_checked() {
        let (net, cat) = (the_network(), the_catalog(false));
        let part = changes(&[
            set("N=1,Cell=1", "x", "1", "a"),
            set("N=1,Cell=1", "nothing", "1", "a"),
            set("N=1,Cell=1", "id", "1", "a"),
            set("N=1,Cell=1", "earfcn", "1", "a"),
            set("N=1,Cell=7", "x", "1", "a"),
            set("N=1,Carrier=1", "n", "1", "a"),
            set("N=1,Carrier=8", "n", "1", "a"),
        ]);
        let removed = FxHashSet::from_iter(["N=1,Carrier=1".to_owned()]);
        let created = FxHashMap::from_iter([("N=1,Carrier=8".to_owned(), "Carrier".to_owned())]);
        let out = check_sets(&part, &net, &cat, &removed, &created).unwrap();
        let class = Text::column(&out, "o", "class", false).unwrap();
        let problems = out.column_by_name("problems").unwrap().as_primitive::<arrow_array::types::UInt8Type>();
        let got: Vec<_> = (0..out.num_rows()).map(|i| (class.get(i), problems.value(i))).collect();
        assert_eq!(
            got,
            [
                (Some("Cell"), 0),
                (Some("Cell"), UNKNOWN),
                (Some("Cell"), READ_ONLY),
                (Some("Cell"), LOCKED_ONLY),
                (None, MISSING),
                (None, MISSING),      // deleted
                (Some("Carrier"), 0), // created
            ]
        );
    }

    use arrow_array::cast::AsArray;
}
