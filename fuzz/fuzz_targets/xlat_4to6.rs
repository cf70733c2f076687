//! Fuzz target: see `nat64_dpdk::fuzzing::xlat_4to6` for what it exercises.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nat64_dpdk::fuzzing::xlat_4to6(data);
});
