//! libFuzzer target: see `rtbfast::fuzzing::typed_document`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtbfast::fuzzing::typed_document(data));
