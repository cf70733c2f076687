//! The dataplane: what runs per packet on a worker lcore, around the
//! stateful pipeline (RFC 6146 §3, in `crate::nat64`).
//!
//! Each worker lcore polls one rx queue of the inside and of the outside
//! port and sorts every frame (`classify`): NAT64 traffic goes through
//! `nat64::Worker`; ARP, ND and ICMP echo for the box's own addresses are
//! answered in place (`local`: RFC 826, RFC 4861 §7.2, RFC 792 / RFC 4443
//! §4.2); neighbours are learned and resolved per worker (`neigh`);
//! traffic for the box itself takes the exception path (`exception`: a
//! Linux TAP interface per side, so the kernel's sockets serve it); and
//! packets owned by another worker cross a single-producer ring (handoff).
//! `l2` puts Ethernet headers on and takes them off; `ratelimit` bounds the
//! ICMP errors a worker originates (RFC 4443 §2.4 (f)). `worker` is the
//! poll loop itself; `stats` holds the counters it keeps and publishes.
//!
//! What it promises: nothing here blocks, takes a lock or allocates per
//! packet; a worker shares only read-mostly data and lock-free queues with
//! the others and with the control side (`crate::control`), which builds
//! everything this module runs on, launches the workers and stops them.
//!
//! `classify`, `guard`, `local`, `l2`, `neigh` and `ratelimit` are pure Rust over
//! byte slices and plain structs (tested without EAL); `worker` and
//! `exception` use `crate::dpdk`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::config::Config;
use crate::nat64::pool4::PoolLayout;
use crate::xlat::rfc6052::Nat64Prefix;

pub mod classify;
pub mod exception;
pub mod guard;
pub mod l2;
pub mod local;
pub mod neigh;
pub mod ratelimit;
pub mod stats;
pub mod worker;

/// A MAC address.
pub type Mac = [u8; 6];

/// Which link a frame came in on, a reply goes out of, or an exception
/// port serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The subscriber-facing IPv6 link (`[inside]`).
    Inside,
    /// The Internet-facing IPv4 link (`[outside]`).
    Outside,
}

impl Side {
    /// `inside` or `outside`, as in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Side::Inside => "inside",
            Side::Outside => "outside",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The box's own identity on both links, from `[inside]`, `[outside]`,
/// `[pool4]` and `[translation]`: its MACs, addresses, on-link prefixes,
/// gateways, NAT64 prefix and pool. Classification tells by it what is
/// addressed to the box, the local responders answer with it, and the
/// next hop of a packet is computed from it. Read-only once built.
#[derive(Clone, Debug)]
pub struct BoxIdentity {
    /// MAC of the inside port (the inside exception TAP uses it too).
    pub inside_mac: Mac,
    /// MAC of the outside port.
    pub outside_mac: Mac,
    /// `inside.address`.
    pub inside: Ipv6Addr,
    /// fe80::/64 with the modified EUI-64 of `inside_mac` (RFC 4291 App. A).
    pub inside_link_local: Ipv6Addr,
    /// Prefix length of `inside.address`: destinations under it are on-link.
    pub inside_prefix_len: u8,
    /// The box's other addresses on the inside link: the `dns64.listen`
    /// addresses under `inside.address`'s prefix that are not
    /// `inside.address` (the inside exception TAP carries them too). NS
    /// for them is answered and traffic to them takes the exception path,
    /// like `inside`; checked only on the general classification path.
    pub inside_extra: Vec<Ipv6Addr>,
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

impl BoxIdentity {
    /// The identity the configuration gives a box whose inside and outside
    /// ports have MACs `inside_mac` and `outside_mac`, with the pool laid
    /// out over `workers` workers.
    pub fn new(config: &Config, inside_mac: Mac, outside_mac: Mac, workers: u16) -> BoxIdentity {
        BoxIdentity {
            inside_mac,
            outside_mac,
            inside: config.inside.address,
            inside_link_local: l2::link_local(inside_mac),
            inside_prefix_len: config.inside.prefix_len,
            inside_extra: inside_extra_addresses(config),
            inside_gateway: config.inside.gateway,
            outside: config.outside.address,
            outside_prefix_len: config.outside.prefix_len,
            outside_gateway: config.outside.gateway,
            prefix: config.translation.prefix,
            pool: Arc::new(PoolLayout::new(&config.pool4, &config.static_bib, workers)),
        }
    }
}

/// The `dns64.listen` addresses (when `dns64.enabled`) that are on the
/// inside link but are not `inside.address`, once each, in `listen` order:
/// the extra addresses of the inside exception TAP and of
/// [`BoxIdentity::inside_extra`]. The configuration has refused any other
/// non-loopback listen address.
pub fn inside_extra_addresses(config: &Config) -> Vec<Ipv6Addr> {
    let mut out: Vec<Ipv6Addr> = Vec::new();
    if !config.dns64.enabled {
        return out;
    }
    for a in &config.dns64.listen {
        let std::net::IpAddr::V6(ip) = a.ip() else {
            continue;
        };
        if ip.is_loopback() || ip.is_unspecified() || ip == config.inside.address {
            continue;
        }
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}
