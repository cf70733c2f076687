//! The settings a worker takes from the configuration that may change
//! while it runs (a reload on SIGHUP, `config::reload`), and how it
//! applies them.
//!
//! Promises: [`LiveSettings::new`] is the one conversion from a
//! [`Config`] to what a [`Worker`] keeps of its live keys; `Worker::new`
//! starts from it and [`Worker::apply`] takes a new one between bursts.
//! Applying keeps every BIB entry and session:
//!
//! - Timeouts (RFC 6146 §3.5, RFC 5508): a session's timer is set when a
//!   packet refreshes it, so the new timeouts apply from each session's
//!   next refresh; deadlines already running are not recomputed (that
//!   would walk every session on the worker's core). Each timer class is
//!   expired in the order its sessions were last refreshed, so after a
//!   shortening a refreshed session may wait behind older ones still on
//!   the old deadline: it goes at most the old timeout after the reload.
//!   A held SYN keeps the deadline it was held with.
//! - Filtering, the RFC 6052 §3.1 rule, `translation.deny4`, the RFC
//!   7915 options, `inside.subscribers`, `pool4.max_blocks_per_subscriber`,
//!   `pool4.max_sessions_per_subscriber`,
//!   `filtering.max_inbound_sessions_per_mapping` and
//!   `pool4.block_allocations_per_second` apply to the next packet.
//! - Who may reach what (`inside.subscribers`, the RFC 6052 §3.1 rule
//!   with `translation.allow_non_global_ipv4`, and `translation.deny4`)
//!   is decided when a session is made (`steps/incoming.rs`,
//!   `steps/mod.rs`); the established fast path does not ask again per
//!   packet. So a reload that changes one of them sweeps the worker's
//!   sessions: `Worker::tick` checks [`SWEEP_SLOTS`] slots of the session
//!   table at a time (every millisecond) against the new rules, the same
//!   functions, and removes the sessions they now forbid, releasing their
//!   ports and counting them as expired. A full table of 1,048,576
//!   sessions is swept in 64 ms; until its slot is checked, a session
//!   keeps carrying packets. The next packet of a removed session takes
//!   the general path and is refused there (`denied_ipv4`,
//!   `non_global_ipv4`, `not_subscriber`).
//! - `[[static_bib]]` (RFC 6146 §3.1): an added entry is installed by the
//!   worker of its subscriber, and its port reserved by the worker that
//!   owns its block (`PortAllocator::reserve_static`); a removed one
//!   becomes an ordinary entry that goes with its last session
//!   (`Tables::bib_unset_static`). An added entry whose IPv6 or IPv4
//!   transport address is still bound by a dynamic mapping of this worker
//!   is installed once that mapping is gone (tried every
//!   [`STATIC_RETRY`] ms by `Worker::tick`).

use std::sync::Arc;

use super::pipeline::Worker;
use super::pool4::PoolLayout;
use super::table::BibEntry;
use super::{subscriber_worker, Millis, Served, Subscriber, Timeouts};
use crate::config::{Config, StaticBibEntry};
use crate::xlat::rfc6052::Ipv4Spans;
use crate::xlat::XlatConfig;

/// How often a worker tries again to install the static entries a
/// dynamic mapping was in the way of (ms).
pub const STATIC_RETRY: Millis = 1000;

/// Session table slots a worker checks per tick while it sweeps after a
/// reload that changed who may reach what: a tick's share of a worker's
/// time stays small (about a tenth of a millisecond), and a full table is
/// swept in 64 ticks.
pub const SWEEP_SLOTS: usize = 16 * 1024;

/// What a worker keeps of the configuration's live keys.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// `[timeouts]` in milliseconds.
    pub timeouts: Timeouts,
    /// `filtering.address_dependent` (RFC 6146 §3.5.1).
    pub address_dependent: bool,
    /// `filtering.drop_externally_initiated_tcp` (§3.5.2.2).
    pub drop_external_tcp: bool,
    /// `filtering.max_inbound_sessions_per_mapping` (0: no cap).
    pub max_inbound_per_mapping: u32,
    /// `pool4.max_sessions_per_subscriber` (0: no cap).
    pub max_sessions_per_subscriber: u32,
    /// `translation.allow_non_global_ipv4` (RFC 6052 §3.1).
    pub allow_non_global: bool,
    /// `translation.deny4` in force (`Config::deny4`).
    pub deny4: Ipv4Spans,
    /// The stateless translator's settings (`translation.*`; the IPv4
    /// checksum offload is the port's and is kept as the worker has it).
    pub xlat: XlatConfig,
    /// `pool4.max_blocks_per_subscriber` (RFC 6888 REQ-4).
    pub max_blocks_per_subscriber: u32,
    /// `pool4.block_allocations_per_second`.
    pub block_allocations_per_second: u32,
    /// `translation.icmp_errors_per_second`, for the dataplane's buckets.
    pub icmp_errors_per_second: u32,
    /// `inside.subscribers`: the sources served (the uRPF check).
    pub served: Served,
    /// `translation.icmp_pmtu_errors_per_second`, for the dataplane's
    /// Packet Too Big buckets.
    pub icmp_pmtu_errors_per_second: u32,
    /// `[[static_bib]]`.
    pub static_bib: Vec<StaticBibEntry>,
    /// The pool layout routing the static entries
    /// (`PoolLayout::with_static_bib` on reload).
    pub layout: Arc<PoolLayout>,
}

impl LiveSettings {
    /// The live settings of `cfg`, with `layout` (built from `cfg`'s pool
    /// and static BIB).
    pub fn new(cfg: &Config, layout: Arc<PoolLayout>) -> LiveSettings {
        LiveSettings {
            timeouts: Timeouts::from_config(&cfg.timeouts),
            address_dependent: cfg.filtering.address_dependent,
            drop_external_tcp: cfg.filtering.drop_externally_initiated_tcp,
            max_inbound_per_mapping: cfg.filtering.max_inbound_sessions_per_mapping,
            max_sessions_per_subscriber: cfg.pool4.max_sessions_per_subscriber,
            allow_non_global: cfg.translation.allow_non_global_ipv4,
            deny4: Ipv4Spans::new(cfg.deny4().iter().map(|r| (r.first, r.last))),
            xlat: cfg.xlat_config(),
            max_blocks_per_subscriber: cfg.pool4.max_blocks_per_subscriber,
            block_allocations_per_second: cfg.pool4.block_allocations_per_second,
            icmp_errors_per_second: cfg.translation.icmp_errors_per_second,
            served: Served::from_config(&cfg.inside),
            icmp_pmtu_errors_per_second: cfg.translation.icmp_pmtu_errors_per_second,
            static_bib: cfg.static_bib.clone(),
            layout,
        }
    }
}

impl Worker {
    /// Take `s` (a reload's settings) between bursts: see the module
    /// documentation for what happens to existing mappings.
    pub fn apply(&mut self, s: &LiveSettings) {
        if self.allow_non_global != s.allow_non_global
            || self.deny4 != s.deny4
            || self.served != s.served
        {
            self.sweep = Some(0);
        }
        self.timeouts = s.timeouts;
        self.address_dependent = s.address_dependent;
        self.drop_external_tcp = s.drop_external_tcp;
        self.max_inbound_per_mapping = s.max_inbound_per_mapping;
        self.max_sessions_per_subscriber = s.max_sessions_per_subscriber;
        self.allow_non_global = s.allow_non_global;
        self.deny4.clone_from(&s.deny4);
        self.served = s.served.clone();
        self.xcfg = XlatConfig {
            ipv4_checksum_offload: self.xcfg.ipv4_checksum_offload,
            ..s.xlat
        };
        self.alloc.set_max_blocks(s.max_blocks_per_subscriber);
        self.alloc.set_block_rate(s.block_allocations_per_second);
        if !Arc::ptr_eq(&self.layout, &s.layout) {
            self.layout = Arc::clone(&s.layout);
            self.alloc.set_layout(&s.layout);
        }
        let old = std::mem::take(&mut self.static_bib);
        self.set_static_bib(&old, &s.static_bib);
    }

    /// From the static entries `old` to `new`: install the added ones this
    /// worker owns (and reserve the ports of its blocks), turn the
    /// removed ones into ordinary entries.
    pub(super) fn set_static_bib(&mut self, old: &[StaticBibEntry], new: &[StaticBibEntry]) {
        for e in old.iter().filter(|e| !new.contains(e)) {
            if !self.owns_static(e) {
                continue;
            }
            let (a, p) = (*e.ipv4.ip(), e.ipv4.port());
            if let Some(id) = self.tables.bib_by_v4(e.protocol, a, p) {
                let b = self.tables.bib(id);
                if b.is_static && b.v6 == *e.ipv6.ip() && b.v6_port == e.ipv6.port() {
                    self.tables.bib_unset_static(id);
                }
            }
        }
        self.static_pending.retain(|e| new.contains(e));
        for e in new.iter().filter(|e| !old.contains(e)) {
            // Only the worker owning the port's block acts.
            self.alloc
                .reserve_static(*e.ipv4.ip(), e.ipv4.port(), e.protocol);
            if self.owns_static(e) && !self.install_static(e) {
                self.static_pending.push(*e);
            }
        }
        self.static_bib = new.to_vec();
    }

    /// Not per packet (`tick`, at most every [`STATIC_RETRY`] ms): install
    /// the added static entries a dynamic mapping was in the way of, once
    /// it is gone.
    pub(super) fn retry_static(&mut self, now: Millis) {
        if self.static_pending.is_empty() || now < self.static_retry_at {
            return;
        }
        self.static_retry_at = now + STATIC_RETRY;
        let pending = std::mem::take(&mut self.static_pending);
        for e in &pending {
            if !self.install_static(e) {
                self.static_pending.push(*e);
            }
        }
    }

    /// Not per packet (`tick`, while a sweep is under way): the next
    /// [`SWEEP_SLOTS`] session slots checked against who may reach what
    /// (see the module docs); the sessions of a source no longer served,
    /// or with a remote a subscriber may no longer reach, are removed.
    pub(super) fn sweep_step(&mut self, now: Millis) {
        // Removed a few at a time, found while the table is only read.
        const AT_ONCE: usize = 64;
        let Some(from) = self.sweep else {
            return;
        };
        let to = from.saturating_add(SWEEP_SLOTS).min(self.tables.capacity());
        let mut at = from;
        while at < to {
            let end = (at + AT_ONCE).min(to);
            let mut doomed = [None; AT_ONCE];
            let mut n = 0;
            for (id, s) in self.tables.sessions_in(at..end) {
                let v6 = &self.tables.bib(s.bib).v6;
                if !self.served.contains(v6) || !self.permits(s.remote) {
                    doomed[n] = Some(id);
                    n += 1;
                }
            }
            let plen = self.subscriber_len;
            let alloc = &mut self.alloc;
            for id in doomed[..n].iter().flatten() {
                self.tables.remove_session(*id, &mut |e: &BibEntry| {
                    alloc.release(Subscriber::of(&e.v6, plen), e.proto, e.v4, e.v4_port, now)
                });
            }
            self.counters.sessions_expired += n as u64;
            at = end;
        }
        self.sweep = (to < self.tables.capacity()).then_some(to);
    }

    /// Install static entry `e`, unless one of its transport addresses is
    /// bound already (false).
    fn install_static(&mut self, e: &StaticBibEntry) -> bool {
        let (a, p) = (*e.ipv4.ip(), e.ipv4.port());
        let (v6, p6) = (*e.ipv6.ip(), e.ipv6.port());
        if self.tables.bib_by_v4(e.protocol, a, p).is_some()
            || self.tables.bib_by_v6(e.protocol, &v6, p6).is_some()
        {
            return false;
        }
        // Rule 7: static entries are never expired (`is_static`).
        self.tables
            .bib_insert(BibEntry {
                proto: e.protocol,
                v6,
                v6_port: p6,
                v4: a,
                v4_port: p,
                is_static: true,
                sessions: 0,
                inbound: 0,
            })
            .is_ok()
    }

    /// Whether static entry `e` is this worker's: its IPv6 side is one of
    /// this worker's subscribers.
    fn owns_static(&self, e: &StaticBibEntry) -> bool {
        let sub = Subscriber::of(e.ipv6.ip(), self.subscriber_len);
        subscriber_worker(&sub, self.n_workers) == self.id
    }
}
