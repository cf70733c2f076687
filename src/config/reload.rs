//! What a reload (SIGHUP) may change: the running [`Config`] against the
//! one just read, key by key.
//!
//! Promises: [`KEYS`] is the one table that says, for every key of the
//! contract, whether a change applies to the running box ([`Apply::Live`])
//! or needs a restart ([`Apply::Restart`]); [`diff`] compares two validated
//! configurations section by section through it and returns either the
//! live keys that changed ([`Changes`]) or every changed key that cannot
//! apply ([`Refused`], the reload is refused as a whole). The new file has
//! been through the same parsing and validation as at start-up
//! ([`Config::from_file`]: each section's `TryFrom`, then
//! [`Config::check_across`]), so a file that fails changes nothing.
//!
//! Why a key is not live: the pool, its geometry and the translation prefix
//! decide which worker owns which packet and which port is whose (a change
//! would move every mapping); devices, addresses, MTUs and sizes are set
//! up once with the ports, queues, TAPs and tables; `dns64.listen` and
//! `metrics.listen` hold bound sockets; `logging.level` is the log filter
//! set at start-up. `pool4.max_blocks_per_subscriber` is live with dynamic
//! allocation only: with deterministic allocation (RFC 7422) it sizes
//! every subscriber's fixed slot.

use std::fmt;

use super::{Allocation, Config};

/// Whether a changed key applies to the running box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// Applied on reload: existing mappings stay.
    Live,
    /// Live with `pool4.allocation = "dynamic"`, a restart otherwise.
    LiveIfDynamic,
    /// Needs a restart: a reload that changes it is refused.
    Restart,
}

/// One key of the contract: its path, whether it is live, and whether two
/// configurations differ in it.
pub struct Key {
    pub path: &'static str,
    pub apply: Apply,
    differs: fn(&Config, &Config) -> bool,
}

impl Key {
    /// Whether `old` and `new` differ in this key.
    pub fn differs(&self, old: &Config, new: &Config) -> bool {
        (self.differs)(old, new)
    }
}

macro_rules! key {
    ($path:literal, $apply:ident, $($field:ident).+) => {
        Key {
            path: $path,
            apply: Apply::$apply,
            differs: |a: &Config, b: &Config| a.$($field).+ != b.$($field).+,
        }
    };
}

/// Every key of the contract, in `config/cgn.toml` order, and whether a
/// change applies live. `dns64.allow` is one key (its typed halves
/// compared together); `static_bib` the whole array.
pub const KEYS: &[Key] = &[
    key!("translation.prefix", Restart, translation.prefix),
    key!(
        "translation.allow_non_global_ipv4",
        Live,
        translation.allow_non_global_ipv4
    ),
    key!(
        "translation.lowest_ipv6_mtu",
        Live,
        translation.lowest_ipv6_mtu
    ),
    key!(
        "translation.copy_traffic_class",
        Live,
        translation.copy_traffic_class
    ),
    key!(
        "translation.amend_udp_checksum_zero",
        Live,
        translation.amend_udp_checksum_zero
    ),
    key!(
        "translation.icmp_errors_per_second",
        Live,
        translation.icmp_errors_per_second
    ),
    key!("translation.deny4", Live, translation.deny4),
    key!(
        "translation.icmp_pmtu_errors_per_second",
        Live,
        translation.icmp_pmtu_errors_per_second
    ),
    key!("pool4.addresses", Restart, pool4.addresses),
    key!("pool4.port_range", Restart, pool4.port_range),
    key!("pool4.block_size", Restart, pool4.block_size),
    key!(
        "pool4.max_blocks_per_subscriber",
        LiveIfDynamic,
        pool4.max_blocks_per_subscriber
    ),
    key!(
        "pool4.max_sessions_per_subscriber",
        Live,
        pool4.max_sessions_per_subscriber
    ),
    key!(
        "pool4.subscriber_prefix_len",
        Restart,
        pool4.subscriber_prefix_len
    ),
    // The shares are counted in the pool layout every worker shares.
    key!(
        "pool4.aggregate_prefix_len",
        Restart,
        pool4.aggregate_prefix_len
    ),
    key!(
        "pool4.max_blocks_per_aggregate",
        Restart,
        pool4.max_blocks_per_aggregate
    ),
    key!(
        "pool4.block_allocations_per_second",
        Live,
        pool4.block_allocations_per_second
    ),
    key!("pool4.allocation", Restart, pool4.allocation),
    key!("pool4.paired", Restart, pool4.paired),
    key!(
        "pool4.deterministic_inside",
        Restart,
        pool4.deterministic_inside
    ),
    key!("timeouts.udp", Live, timeouts.udp),
    key!("timeouts.tcp_established", Live, timeouts.tcp_established),
    key!("timeouts.tcp_transitory", Live, timeouts.tcp_transitory),
    key!("timeouts.icmp", Live, timeouts.icmp),
    key!("timeouts.tcp_incoming_syn", Live, timeouts.tcp_incoming_syn),
    // The fragment store expires datagrams in creation order, which holds
    // only while every window is as long.
    key!("timeouts.fragment", Restart, timeouts.fragment),
    key!(
        "filtering.address_dependent",
        Live,
        filtering.address_dependent
    ),
    key!(
        "filtering.drop_externally_initiated_tcp",
        Live,
        filtering.drop_externally_initiated_tcp
    ),
    key!(
        "filtering.max_inbound_sessions_per_mapping",
        Live,
        filtering.max_inbound_sessions_per_mapping
    ),
    key!("static_bib", Live, static_bib),
    key!("inside.device", Restart, inside.device),
    key!("inside.address", Restart, inside.address),
    key!("inside.address", Restart, inside.prefix_len),
    key!("inside.gateway", Restart, inside.gateway),
    key!("inside.gateway_mac", Restart, inside.gateway_mac),
    key!("inside.mtu", Restart, inside.mtu),
    key!("inside.kernel_iface", Restart, inside.kernel_iface),
    key!("inside.subscribers", Live, inside.subscribers),
    key!("inside.kernel_allow", Restart, inside.kernel_allow),
    key!("inside.kernel_pps", Restart, inside.kernel_policy.pps),
    key!(
        "inside.kernel_bytes_per_second",
        Restart,
        inside.kernel_policy.bytes_per_second
    ),
    key!("outside.device", Restart, outside.device),
    key!("outside.address", Restart, outside.address),
    key!("outside.address", Restart, outside.prefix_len),
    key!("outside.gateway", Restart, outside.gateway),
    key!("outside.gateway_mac", Restart, outside.gateway_mac),
    key!("outside.mtu", Restart, outside.mtu),
    key!("outside.kernel_iface", Restart, outside.kernel_iface),
    key!("outside.kernel_allow", Restart, outside.kernel_allow),
    key!("outside.kernel_pps", Restart, outside.kernel_policy.pps),
    key!(
        "outside.kernel_bytes_per_second",
        Restart,
        outside.kernel_policy.bytes_per_second
    ),
    key!("workers.burst", Restart, workers.burst),
    key!(
        "workers.mbufs_per_worker",
        Restart,
        workers.mbufs_per_worker
    ),
    key!(
        "workers.max_sessions_per_worker",
        Restart,
        workers.max_sessions_per_worker
    ),
    key!(
        "workers.max_fragmented_datagrams_per_worker",
        Restart,
        workers.max_fragmented_datagrams_per_worker
    ),
    key!(
        "workers.max_held_fragments_per_worker",
        Restart,
        workers.max_held_fragments_per_worker
    ),
    key!(
        "workers.max_held_fragment_bytes_per_worker",
        Restart,
        workers.max_held_fragment_bytes_per_worker
    ),
    key!("dns64.enabled", Restart, dns64.enabled),
    key!("dns64.listen", Restart, dns64.listen),
    key!("dns64.upstream", Live, dns64.upstream),
    key!("dns64.timeout_ms", Live, dns64.timeout),
    key!("dns64.prefix", Live, dns64.prefix),
    key!("dns64.exclude", Live, dns64.exclude),
    key!("dns64.filter_a", Live, dns64.filter_a),
    key!("dns64.synthesize_ptr", Live, dns64.synthesize_ptr),
    key!("dns64.synthesize_on_error", Live, dns64.synthesize_on_error),
    key!("dns64.allow", Live, dns64.allow),
    key!("dns64.rate_limit_qps", Live, dns64.rate_limit_qps),
    key!("dns64.cache_entries", Live, dns64.cache_entries),
    key!("metrics.listen", Restart, metrics.listen),
    key!("metrics.allow", Live, metrics.allow),
    key!("logging.level", Restart, logging.level),
    key!("logging.events", Live, logging.events),
];

/// The live keys a reload changes, each path once, in [`KEYS`] order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    pub keys: Vec<&'static str>,
}

impl Changes {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key under `section` (`"dns64"`, `"static_bib"`) changed.
    pub fn touches(&self, section: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.split('.').next() == Some(section))
    }
}

impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.keys.join(", "))
    }
}

/// A reload that changes keys that cannot apply without a restart: every
/// such key, each path once, in [`KEYS`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub keys: Vec<&'static str>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reload refused: {} cannot change without a restart",
            self.keys.join(", ")
        )
    }
}

/// Whether a change of `key` applies to a box running `old`.
fn is_live(key: &Key, old: &Config) -> bool {
    match key.apply {
        Apply::Live => true,
        Apply::LiveIfDynamic => old.pool4.allocation == Allocation::Dynamic,
        Apply::Restart => false,
    }
}

/// Compare the running configuration `old` with the reloaded `new`: the
/// live keys that changed, or [`Refused`] with every changed key that
/// needs a restart (then nothing may be applied).
pub fn diff(old: &Config, new: &Config) -> Result<Changes, Refused> {
    let mut live = Vec::new();
    let mut refused = Vec::new();
    for key in KEYS.iter().filter(|k| k.differs(old, new)) {
        let list = if is_live(key, old) {
            &mut live
        } else {
            &mut refused
        };
        if !list.contains(&key.path) {
            list.push(key.path);
        }
    }
    if refused.is_empty() {
        Ok(Changes { keys: live })
    } else {
        Err(Refused { keys: refused })
    }
}

#[cfg(test)]
mod tests;
