#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 600), one
# after another, growing fuzz/corpus/<target>/, and prints one summary line
# per target: executions, executions a second, coverage (libFuzzer's cov
# and ft) and corpus files. Installs cargo-fuzz if missing; needs a nightly
# toolchain (rustup toolchain install nightly). Not part of scripts/test.sh:
# CI replays the corpora instead (tests/fuzz_corpus.rs). A crash stops the
# script, with the input left in fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-600}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz builds into fuzz/target.
unset CARGO_TARGET_DIR
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
logs=$(mktemp -d)
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "$t: FAILED (log: $log)"
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    files=$(find "fuzz/corpus/$t" -type f | wc -l)
    echo "$t: ${secs}s, $execs executions, $rate exec/s, cov $cov, ft $ft, $files corpus files"
done
