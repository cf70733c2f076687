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

/// `0.1.0 (commit abc1234, DPDK 22.11.11)`: the package version, git
/// commit and DPDK version the root `build.rs` recorded, as a string
/// literal (for `concat!` and clap's `version`).
#[macro_export]
macro_rules! version {
    () => {
        concat!(
            env!("NAT64_VERSION"),
            " (commit ",
            env!("NAT64_GIT_COMMIT"),
            ", DPDK ",
            env!("NAT64_DPDK_VERSION"),
            ")"
        )
    };
}

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
