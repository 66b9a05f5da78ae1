//! libFuzzer target: see `rtbfast::fuzzing::template_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtbfast::fuzzing::template_reader(data));
