//! Raw FFI bindings to the system DPDK (found with pkg-config as `libdpdk`)
//! and to a small C shim that exports DPDK's `static inline` functions
//! (`rte_eth_rx_burst`, `rte_pktmbuf_alloc`, ...) as `shim_*` symbols.
//!
//! Nothing but FFI lives here; the safe wrappers are `nat64_dpdk::dpdk`.
//! The bindings are generated into `OUT_DIR` at build time from the DPDK
//! headers installed on the build machine, so they always match it.
#![no_std]
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case)]
#![allow(clippy::all)]
#![allow(rustdoc::broken_intra_doc_links)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
