//! nat64-dpdk: a carrier-grade stateful NAT64 (RFC 6146) with an integrated
//! DNS64 (RFC 6147) on DPDK poll-mode drivers.
//!
//! `wire`, `index`, `xlat`, `config`, `nat64` and `dns64` are pure Rust
//! over byte slices and owned structs: every unit test, benchmark and fuzz
//! target of them runs without EAL. `dataplane` is the per-core poll loop, `control`
//! the main lcore (start-up, control loop, metrics, event log); `dns64`
//! (RFC 6147 synthesis, its upstream client) runs beside it. `dpdk` is
//! the only module exempt from `deny(unsafe_code)`. `docs/architecture.md`
//! gives the data path and the import rules between these modules.
#![deny(unsafe_code)]

pub mod config;
pub mod control;
pub mod dataplane;
pub mod dns64;
pub mod dpdk;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod index;
pub mod nat64;
pub mod wire;
pub mod xlat;
