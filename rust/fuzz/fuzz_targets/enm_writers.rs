//! libFuzzer target: see `rtbfast::fuzzing::enm_writers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtbfast::fuzzing::enm_writers(data));
