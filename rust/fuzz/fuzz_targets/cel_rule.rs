//! libFuzzer target: see `rtbfast::fuzzing::cel_rule`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtbfast::fuzzing::cel_rule(data));
