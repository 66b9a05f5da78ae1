//! libFuzzer target: see `rtbfast::fuzzing::compressed_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtbfast::fuzzing::compressed_reader(data));
