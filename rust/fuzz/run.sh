#!/usr/bin/env bash
# Fuzz each target (mom_reader, bulkcm_reader, cel_rule, template_reader, typed_document, enm_writers,
# compressed_reader) for
# SECONDS each (default 20) with
# libFuzzer through cargo fuzz. Seeds: the committed corpus (rust/fuzz/corpus), the inputs that
# once failed (rust/fuzz/regressions) and, where RTBFAST_SAMPLES (default ../shared/samples)
# holds them, the real models and exports, read in place. New inputs go to
# rust/fuzz/target/corpus. A failure stops here, naming the input libFuzzer saved under
# rust/fuzz/artifacts: minimise it (cargo fuzz tmin) and add it to rust/fuzz/regressions.
#
#   rust/fuzz/run.sh 20                           # CI: about a minute in all
#   RTBFAST_FUZZ_SANITIZER=address rust/fuzz/run.sh 600   # make fuzz
set -euo pipefail
seconds="${1:-20}"
sanitizer="${RTBFAST_FUZZ_SANITIZER:-none}"
here="$(cd "$(dirname "$0")" && pwd)"
samples="${RTBFAST_SAMPLES:-$here/../../../shared/samples}"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo fuzz passes -Z flags to rustc; the stable compiler takes them with this
export RUSTC_BOOTSTRAP=1
cd "$here/.."
cargo fuzz build --fuzz-dir fuzz --sanitizer "$sanitizer"

for target in mom_reader bulkcm_reader cel_rule template_reader typed_document enm_writers compressed_reader; do
    work="$here/target/corpus/$target"
    mkdir -p "$work"
    dirs=("$work" "$here/corpus/$target")
    [ -d "$here/regressions/$target" ] && dirs+=("$here/regressions/$target")
    case "$target" in
        mom_reader) real=("$samples/mom") ;;
        bulkcm_reader) real=("$samples/bulkcm" "$samples/enm/3gpp") ;;
        template_reader) real=("$samples/rtb") ;;
        *) real=() ;;
    esac
    for d in "${real[@]}"; do [ -d "$d" ] && dirs+=("$d"); done
    echo "== fuzzing $target for ${seconds}s (seeds: ${dirs[*]:1})"
    log="$here/target/$target.log"
    status=0
    cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=262144 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+\s+DONE)" "$log" || true
    if [ "$status" -ne 0 ]; then
        grep -E "panicked|ERROR|SUMMARY|Test unit written|==[0-9]+==|^\s+[0-9]+: " "$log" | head -40 >&2 || true
        echo "fuzzing $target failed (exit $status): the input is under rust/fuzz/artifacts/$target, the log $log" >&2
        exit "$status"
    fi
done
