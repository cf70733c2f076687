#!/usr/bin/env bash
# Every test of nat64-dpdk: the lint gates (rustfmt, clippy with warnings
# denied, rustdoc with warnings denied), unit and property tests of the
# engine, the fuzz seed corpora, integration tests against the real binary on DPDK
# virtual devices, and a compile of the benchmarks. Installs what it needs
# (scripts/setup.sh) first. Integration tests need root (net_tap, network
# namespaces); as non-root they skip with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --no-hugepages

export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
# The fuzz harnesses are a feature (off in the production library); the
# seed-corpus test needs them. One feature set throughout builds once.
feat=(--features fuzzing)

echo "== lint gates: format, clippy, docs =="
cargo fmt --all --check
cargo clippy --locked --all-targets "${feat[@]}" -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps

echo "== build =="
cargo build --locked --all-targets "${feat[@]}"

echo "== tests (unit, property, fuzz seeds, integration) =="
# One test thread for integration binaries keeps DPDK processes from
# competing for the two CPUs; the engine's tests are fast either way.
cargo test --locked "${feat[@]}" --lib --bins
cargo test --locked "${feat[@]}" --test '*' -- --test-threads=1

echo "== benchmarks compile and run once in test mode =="
cargo test --locked "${feat[@]}" --bench xlat --bench nat64 --bench nat64_tables
