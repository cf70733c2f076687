//! The dataplane: per-core poll loops around the stateful pipeline.
//!
//! Each worker lcore polls one rx queue of the inside and of the outside
//! port, sorts every frame (`classify`): NAT64 traffic goes through
//! `nat64::Worker`, ARP, ND and ICMP echo for the box's own addresses are
//! answered in place (`local`), neighbours are learned and resolved per
//! worker (`neigh`), traffic for the box itself goes to a kernel TAP
//! interface (`exception`), and packets owned by another worker cross a
//! single-producer ring. `l2` puts Ethernet headers on and takes them off.
//! `worker` is the loop itself; `stats` turns counters into the text that
//! tests and the metrics endpoint read.
//!
//! `classify`, `local`, `l2` and `neigh` are pure Rust over byte slices
//! (tested without EAL); `worker` and `exception` use `crate::dpdk`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::nat64::pool4::PoolLayout;
use crate::xlat::rfc6052::Nat64Prefix;

pub mod classify;
pub mod exception;
pub mod l2;
pub mod local;
pub mod neigh;
pub mod ratelimit;
pub mod runtime;
pub mod stats;
pub mod worker;

/// A MAC address.
pub type Mac = [u8; 6];

/// The box's own identity on both links, from `[inside]`, `[outside]`,
/// `[pool4]` and `[translation]`: what classification and the local
/// responders need to know.
#[derive(Clone, Debug)]
pub struct Own {
    /// MAC of the inside port (the kernel TAP of the inside side uses it too).
    pub inside_mac: Mac,
    /// MAC of the outside port.
    pub outside_mac: Mac,
    /// `inside.address`.
    pub inside: Ipv6Addr,
    /// fe80::/64 with the modified EUI-64 of `inside_mac` (RFC 4291 App. A).
    pub inside_link_local: Ipv6Addr,
    /// Prefix length of `inside.address`: destinations under it are on-link.
    pub inside_prefix_len: u8,
    /// `inside.gateway`.
    pub inside_gateway: Ipv6Addr,
    /// `outside.address`.
    pub outside: Ipv4Addr,
    /// Prefix length of `outside.address`.
    pub outside_prefix_len: u8,
    /// `outside.gateway`.
    pub outside_gateway: Ipv4Addr,
    /// `translation.prefix`.
    pub prefix: Nat64Prefix,
    /// `pool4`: which IPv4 addresses are ours to translate to.
    pub pool: Arc<PoolLayout>,
}
