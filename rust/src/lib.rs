//! rtbfast core: streaming readers for Ericsson MP XML models and 3GPP Bulk CM exports,
//! producing Arrow record batches, and the bulk evaluator of per-attribute constraints.
//! Nothing here knows Python; the bindings live in [`bindings`] behind the `python` feature.

pub mod bulkcm;
pub mod enm;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod input;
pub mod mom;
pub mod names;
pub mod pools;
pub mod rules;
pub mod tables;
pub mod templates;
pub mod xlsx;
pub mod xml;

#[cfg(feature = "python")]
mod bindings;

pub use error::{Error, ErrorKind, Location, Result};

/// What kind of input a file is, told by its root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `<models>`: an MP XML model.
    Mom,
    /// `<bulkCmConfigDataFile>`: a 3GPP Bulk CM configuration file.
    BulkCm,
}

/// Tell the kind of `path` from its root element (`path` may name a compressed file or a
/// member of a zip archive, see [`input`]).
pub fn detect_kind(path: &std::path::Path) -> Result<InputKind> {
    let (input, _) = input::one(path)?;
    let path = &input.path();
    let root = xml::root_name(path)?;
    match root.as_str() {
        "models" => Ok(InputKind::Mom),
        "bulkCmConfigDataFile" => Ok(InputKind::BulkCm),
        other => Err(Error::Root {
            loc: Location { file: input.name(), line: 1, column: 1, ..Location::default() },
            found: other.to_string(),
            expected: "<models> (MP XML model) or <bulkCmConfigDataFile> (3GPP Bulk CM export)".into(),
        }),
    }
}
