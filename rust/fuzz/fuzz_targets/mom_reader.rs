//! libFuzzer target: see `rtbfast::fuzzing::mom_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtbfast::fuzzing::mom_reader(data));
