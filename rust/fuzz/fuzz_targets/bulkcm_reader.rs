//! libFuzzer target: see `rtbfast::fuzzing::bulkcm_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtbfast::fuzzing::bulkcm_reader(data));
