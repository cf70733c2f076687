//! nat64-dpdk: a carrier-grade stateful NAT64 (RFC 6146) with an integrated
//! DNS64 (RFC 6147) on DPDK poll-mode drivers.
//!
//! `wire`, `xlat` and `config` are pure Rust over byte slices and plain
//! structs: every unit test, benchmark and fuzz target runs without EAL.
//! `dpdk` is the only module exempt from `deny(unsafe_code)`.
#![deny(unsafe_code)]

pub mod config;
pub mod control;
pub mod dataplane;
pub mod dpdk;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod index;
pub mod nat64;
pub mod wire;
pub mod xlat;
