//! The node an MO belongs to: the FDN up to and including its `MeContext`, or where there is
//! none its `ManagedElement` (a node exported without MeContext). MOs above every node (the
//! `SubNetwork` chain) belong to none. A plan is made node group by node group on these keys
//! (`rtbfast.enm.node_groups`); a text that is not an FDN (a value that is no reference) has
//! none either.

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::DataType;
use std::sync::Arc;

/// The node key of `fdn`: the prefix up to and including the first `MeContext=…` RDN, else
/// the first `ManagedElement=…` RDN; `None` when it has neither.
pub fn node_key(fdn: &str) -> Option<&str> {
    let bytes = fdn.as_bytes();
    let mut start = 0;
    let mut managed: Option<usize> = None;
    loop {
        let end = memchr::memchr(b',', &bytes[start..]).map_or(fdn.len(), |i| start + i);
        let rdn = &bytes[start..end];
        if let Some(eq) = memchr::memchr(b'=', rdn) {
            match &rdn[..eq] {
                b"MeContext" => return Some(&fdn[..end]),
                b"ManagedElement" if managed.is_none() => managed = Some(end),
                _ => {}
            }
        }
        if end == fdn.len() {
            break;
        }
        start = end + 1;
    }
    managed.map(|end| &fdn[..end])
}

/// The node key of each text of `texts` (utf8, or a dictionary of utf8, whose dictionary is
/// looked at once per distinct text); null where a text is null or has no node.
pub fn node_keys(texts: &dyn Array) -> crate::Result<ArrayRef> {
    let keys = |strings: &StringArray| -> StringArray {
        let mut out = StringBuilder::with_capacity(strings.len(), strings.len() * 48);
        for text in strings.iter() {
            out.append_option(text.and_then(node_key));
        }
        out.finish()
    };
    match texts.data_type() {
        DataType::Utf8 => Ok(Arc::new(keys(texts.as_string::<i32>()))),
        DataType::Dictionary(_, value) if **value == DataType::Utf8 => {
            let dict = texts.as_any_dictionary();
            let values = dict.values();
            let distinct = keys(values.as_string::<i32>());
            let taken = arrow_select::take::take(&distinct, dict.keys(), None)
                .map_err(|e| crate::Error::Value { loc: Default::default(), message: e.to_string() })?;
            Ok(taken)
        }
        other => Err(crate::Error::Value {
            loc: Default::default(),
            message: format!("node keys of a column of {other}: text or a dictionary of text"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::DictionaryArray;

    #[test]
    fn the_node_is_the_mecontext_else_the_managed_element() {
        let f = "SubNetwork=R,MeContext=N1,ManagedElement=N1,ENodeBFunction=1,EUtranCellFDD=C";
        assert_eq!(node_key(f), Some("SubNetwork=R,MeContext=N1"));
        assert_eq!(node_key("SubNetwork=R,MeContext=N1"), Some("SubNetwork=R,MeContext=N1"));
        assert_eq!(node_key("SubNetwork=R,ManagedElement=X,A=1"), Some("SubNetwork=R,ManagedElement=X"));
        assert_eq!(node_key("ManagedElement=1"), Some("ManagedElement=1"));
        assert_eq!(node_key("SubNetwork=R,SubNetwork=S"), None);
        assert_eq!(node_key(""), None);
        assert_eq!(node_key("a MeContext=1"), None);
        assert_eq!(node_key("MeContextX=1,ManagedElementY=2"), None);
        // an id may hold what looks like a class name
        assert_eq!(node_key("SubNetwork=MeContext,MeContext=N"), Some("SubNetwork=MeContext,MeContext=N"));
    }

    #[test]
    fn keys_of_plain_and_dictionary_columns() -> crate::Result<()> {
        let plain = StringArray::from(vec![Some("SubNetwork=R,MeContext=A,X=1"), None, Some("7")]);
        let got = node_keys(&plain)?;
        let got = got.as_string::<i32>();
        assert_eq!(got.iter().collect::<Vec<_>>(), vec![Some("SubNetwork=R,MeContext=A"), None, None]);
        let dict: DictionaryArray<Int32Type> =
            vec!["ManagedElement=B,Y=2", "SubNetwork=R", "ManagedElement=B,Y=2"].into_iter().collect();
        let got = node_keys(&dict)?;
        let got = got.as_string::<i32>();
        assert_eq!(got.iter().collect::<Vec<_>>(), vec![Some("ManagedElement=B"), None, Some("ManagedElement=B")]);
        Ok(())
    }
}
