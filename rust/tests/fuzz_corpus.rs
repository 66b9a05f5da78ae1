//! The fuzz targets' corpus, replayed on every `cargo test`: the seeds (rust/fuzz/corpus) and
//! every input a fuzzer once found to fail (rust/fuzz/regressions) must each return from its
//! target, without panicking, overflowing the stack or hanging. Runs without libFuzzer.

use std::path::Path;
use std::time::{Duration, Instant};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("mom_reader", rtbfast::fuzzing::mom_reader),
    ("bulkcm_reader", rtbfast::fuzzing::bulkcm_reader),
    ("cel_rule", rtbfast::fuzzing::cel_rule),
    ("template_reader", rtbfast::fuzzing::template_reader),
    ("typed_document", rtbfast::fuzzing::typed_document),
    ("enm_writers", rtbfast::fuzzing::enm_writers),
    ("compressed_reader", rtbfast::fuzzing::compressed_reader),
];

/// Longest any one input may take (a debug build, on a busy machine).
const SLOWEST: Duration = Duration::from_secs(20);

#[test]
fn every_corpus_input_returns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let mut files = Vec::new();
        for folder in ["corpus", "regressions"] {
            if let Ok(entries) = std::fs::read_dir(root.join(folder).join(name)) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        assert!(!files.is_empty(), "no corpus for {name}");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let started = Instant::now();
            target(&data);
            assert!(started.elapsed() < SLOWEST, "{} took {:?}", file.display(), started.elapsed());
            replayed += 1;
        }
    }
    assert!(replayed >= 50, "only {replayed} corpus inputs");
}
