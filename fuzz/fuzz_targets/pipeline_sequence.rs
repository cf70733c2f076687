//! Fuzz target: see `nat64_dpdk::fuzzing::pipeline_sequence` for what it exercises.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nat64_dpdk::fuzzing::pipeline_sequence(data);
});
