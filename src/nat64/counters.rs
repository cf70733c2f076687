//! What a worker counts, and the outcomes that count it: every packet the
//! pipeline refuses is counted once, here, under one reason.
//!
//! Promises: [`Nat64Drop`] names every refusal of RFC 6146 §3 (and of RFC
//! 6052 §3.1 and RFC 6888 REQ-11) that the pipeline makes itself;
//! [`DropCause`] is that or the translator's [`DropReason`] (RFC 7915).
//! `Worker::drop`, `drop_xlat`, `refuse6` and `refuse4` are the only ways a
//! step ends a packet with a refusal, so no refusal goes uncounted; the
//! last two also answer the sender with an ICMP error where RFC 4443 §2.4
//! (e) and RFC 1812 §4.3.2.7 allow one.

use std::net::Ipv4Addr;

use super::pipeline::{Action, Worker};
use crate::wire::{icmpv4_type, icmpv6_type};
use crate::xlat::v4to6::icmpv4_error;
use crate::xlat::v6to4::icmpv6_error;
use crate::xlat::{DropReason, PacketBuf, Verdict};

/// Why the pipeline dropped a packet: the translator's reason or one of its
/// own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    Xlat(DropReason),
    Nat64(Nat64Drop),
}

/// Every reason the stateful pipeline refuses a packet. A flat `Copy` enum:
/// one counter per variant, named only when scraped. Some also answer with
/// an ICMP error (then the action is `Reply`, and the counter still counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nat64Drop {
    /// IPv6 destination not under the NAT64 prefix.
    NotNat64Prefix,
    /// IPv6 source under the NAT64 prefix: a hairpinning loop (§3.8).
    HairpinLoop,
    /// RFC 6052 §3.1: a non-global IPv4 address behind the well-known
    /// prefix (ICMPv6 destination unreachable for an IPv6 sender).
    NonGlobalIpv4,
    /// RFC 6888 REQ-11: the subscriber holds all the blocks it may.
    SubscriberLimit,
    /// RFC 6888 REQ-11: no free block (or port) in the pool.
    PoolExhausted,
    /// The session or BIB table is full even after reclaiming.
    TableFull,
    /// IPv4 packet for a pool transport address with no BIB entry.
    NoBib,
    /// Address-dependent filtering refused an IPv4 packet (§3.5.1).
    Filtered,
    /// No session for an ICMP error's quoted packet, or a TCP segment
    /// other than a SYN with no session.
    NoSession,
    /// IPv4-initiated SYN refused by `drop_externally_initiated_tcp`.
    ExternalTcp,
    /// No free held-SYN slot.
    HeldSynFull,
    /// A retransmitted IPv4 SYN for a connection whose SYN is already held.
    HeldSynRetransmit,
    /// A fragment other than the first whose datagram is not being
    /// translated here: its first fragment was refused, or it reached the
    /// owner of its datagram without the state its first fragment leaves.
    NonFirstFragment,
    /// IPv4 destination that is no pool transport address.
    NotPool,
    /// The IPv4 half of a hairpinned packet would have been answered with
    /// an ICMP error, which cannot go back through the hairpin.
    HairpinUnanswerable,
    /// A fragment overlapping bytes of its datagram already seen (a
    /// duplicate included), or malformed (off the 8-byte grid, past the
    /// datagram's end).
    FragmentOverlap,
    /// The fragment store is full (a new datagram) or its held fragments
    /// are at their bound (RFC 6146 §3.4 "bounded resources").
    FragmentStoreFull,
    /// IPv6 from a source outside `inside.subscribers` (for an ICMPv6
    /// error: about a packet to such a destination): the uRPF check.
    NotSubscriber,
    /// A new port block was due, but the subscriber's or the worker's
    /// block allocation rate is used up.
    BlockRateLimited,
    /// An IPv4 address in `translation.deny4` (ICMPv6 destination
    /// unreachable, administratively prohibited, for an IPv6 sender).
    DeniedIpv4,
    /// A new session beyond `pool4.max_sessions_per_subscriber` (ICMPv6
    /// destination unreachable for an IPv6 sender; silent from IPv4).
    SubscriberSessionLimit,
    /// A session an IPv4 packet would open on a mapping that has
    /// `filtering.max_inbound_sessions_per_mapping` such sessions already.
    InboundSessionLimit,
    /// A new port block was due, but the subscriber's aggregate prefix
    /// holds `pool4.max_blocks_per_aggregate` blocks already.
    AggregateLimit,
}

impl Nat64Drop {
    /// All variants, in declaration (counter) order.
    pub const ALL: &'static [Nat64Drop] = &[
        Nat64Drop::NotNat64Prefix,
        Nat64Drop::HairpinLoop,
        Nat64Drop::NonGlobalIpv4,
        Nat64Drop::SubscriberLimit,
        Nat64Drop::PoolExhausted,
        Nat64Drop::TableFull,
        Nat64Drop::NoBib,
        Nat64Drop::Filtered,
        Nat64Drop::NoSession,
        Nat64Drop::ExternalTcp,
        Nat64Drop::HeldSynFull,
        Nat64Drop::HeldSynRetransmit,
        Nat64Drop::NonFirstFragment,
        Nat64Drop::NotPool,
        Nat64Drop::HairpinUnanswerable,
        Nat64Drop::FragmentOverlap,
        Nat64Drop::FragmentStoreFull,
        Nat64Drop::NotSubscriber,
        Nat64Drop::BlockRateLimited,
        Nat64Drop::DeniedIpv4,
        Nat64Drop::SubscriberSessionLimit,
        Nat64Drop::InboundSessionLimit,
        Nat64Drop::AggregateLimit,
    ];

    /// Stable snake_case name, used as the Prometheus label.
    pub fn name(self) -> &'static str {
        match self {
            Nat64Drop::NotNat64Prefix => "not_nat64_prefix",
            Nat64Drop::HairpinLoop => "hairpin_loop",
            Nat64Drop::NonGlobalIpv4 => "non_global_ipv4",
            Nat64Drop::SubscriberLimit => "subscriber_limit",
            Nat64Drop::PoolExhausted => "pool_exhausted",
            Nat64Drop::TableFull => "table_full",
            Nat64Drop::NoBib => "no_bib",
            Nat64Drop::Filtered => "filtered",
            Nat64Drop::NoSession => "no_session",
            Nat64Drop::ExternalTcp => "external_tcp",
            Nat64Drop::HeldSynFull => "held_syn_full",
            Nat64Drop::HeldSynRetransmit => "held_syn_retransmit",
            Nat64Drop::NonFirstFragment => "non_first_fragment",
            Nat64Drop::NotPool => "not_pool",
            Nat64Drop::HairpinUnanswerable => "hairpin_unanswerable",
            Nat64Drop::FragmentOverlap => "fragment_overlap",
            Nat64Drop::FragmentStoreFull => "fragment_store_full",
            Nat64Drop::NotSubscriber => "not_subscriber",
            Nat64Drop::BlockRateLimited => "block_rate_limited",
            Nat64Drop::DeniedIpv4 => "denied_ipv4",
            Nat64Drop::SubscriberSessionLimit => "subscriber_session_limit",
            Nat64Drop::InboundSessionLimit => "inbound_session_limit",
            Nat64Drop::AggregateLimit => "aggregate_limit",
        }
    }

    /// Counter index (declaration order, as in `ALL`).
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Number of `Nat64Drop` variants.
const N_NAT64_DROPS: usize = Nat64Drop::ALL.len();
/// Number of `DropReason` variants.
const N_XLAT_DROPS: usize = DropReason::ALL.len();

/// One worker's counters: ordinary `u64`s, not atomics, written by the
/// worker alone; the dataplane copies them out for the control thread
/// (`dataplane::stats`).
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// IPv6 packets translated to IPv4 and forwarded.
    pub translated_6to4: u64,
    /// IPv4 packets translated to IPv6 and forwarded (or fragmented).
    pub translated_4to6: u64,
    /// ICMP errors sent back to a sender (the pipeline's and the translator's).
    pub replied: u64,
    /// Packets hairpinned (§3.8).
    pub hairpinned: u64,
    /// Packets handed to another worker.
    pub handed_off: u64,
    /// Packets for the box itself.
    pub local: u64,
    /// Sessions created.
    pub sessions_created: u64,
    /// Sessions removed by expiry or reclaim.
    pub sessions_expired: u64,
    /// Dynamic BIB entries created.
    pub bib_created: u64,
    /// IPv4 SYNs held (§3.5.2.2).
    pub syns_held: u64,
    /// Held SYNs that timed out (answered with ICMP port unreachable).
    pub held_syn_expired: u64,
    /// Held SYNs matched by an IPv6 SYN (simultaneous open).
    pub simultaneous_opens: u64,
    /// Port-block events lost to a full queue (copied at each `tick`).
    pub block_events_dropped: u64,
    /// Fragmented datagrams the fragment store took on (RFC 6146 §3.4).
    pub fragments_tracked: u64,
    /// Fragments held until their first fragment came.
    pub fragments_held: u64,
    /// Fragments translated with their datagram's state.
    pub fragments_translated: u64,
    /// Held fragments dropped because their window passed.
    pub fragments_timed_out: u64,
    /// Fragments refused because the store (or the held fragments) was
    /// full; also counted as the `FragmentStoreFull` drop.
    pub fragments_refused: u64,
    xlat: [u64; N_XLAT_DROPS],
    nat64: [u64; N_NAT64_DROPS],
}

impl Counters {
    /// Packets dropped (or refused with an ICMP error) for `d`.
    pub fn nat64_drops(&self, d: Nat64Drop) -> u64 {
        self.nat64.get(d.index()).copied().unwrap_or(0)
    }

    /// Packets the translator dropped for `r`.
    pub fn xlat_drops(&self, r: DropReason) -> u64 {
        self.xlat.get(r as usize).copied().unwrap_or(0)
    }

    /// Either kind.
    pub fn drops(&self, c: DropCause) -> u64 {
        match c {
            DropCause::Xlat(r) => self.xlat_drops(r),
            DropCause::Nat64(d) => self.nat64_drops(d),
        }
    }

    /// Counts one packet refused for `c`.
    pub(super) fn count(&mut self, c: DropCause) {
        let slot = match c {
            DropCause::Xlat(r) => self.xlat.get_mut(r as usize),
            DropCause::Nat64(d) => self.nat64.get_mut(d.index()),
        };
        if let Some(n) = slot {
            *n += 1;
        }
    }
}

/// The refusals, each counted once here.
impl Worker {
    /// Counts `d`; the packet is dropped.
    pub(super) fn drop(&mut self, d: Nat64Drop) -> Action {
        let c = DropCause::Nat64(d);
        self.counters.count(c);
        Action::Drop(c)
    }

    /// Counts the translator's `r`; the packet is dropped.
    pub(super) fn drop_xlat(&mut self, r: DropReason) -> Action {
        let c = DropCause::Xlat(r);
        self.counters.count(c);
        Action::Drop(c)
    }

    /// Counts `d`, then answers the IPv6 sender with an ICMPv6 destination
    /// unreachable of `code` (dropped instead where RFC 4443 §2.4 (e)
    /// forbids one).
    pub(super) fn refuse6(&mut self, buf: &mut PacketBuf, d: Nat64Drop, code: u8) -> Action {
        self.counters.count(DropCause::Nat64(d));
        match icmpv6_error(buf, icmpv6_type::DST_UNREACHABLE, code, 0, &self.xcfg) {
            Verdict::Reply(r) => {
                self.counters.replied += 1;
                Action::Reply(r)
            }
            _ => Action::Drop(DropCause::Nat64(d)),
        }
    }

    /// Counts `d`, then answers the IPv4 sender with an ICMPv4 destination
    /// unreachable of `code` from `src` (dropped instead where RFC 1812
    /// §4.3.2.7 forbids one).
    pub(super) fn refuse4(
        &mut self,
        buf: &mut PacketBuf,
        d: Nat64Drop,
        code: u8,
        src: Ipv4Addr,
    ) -> Action {
        self.counters.count(DropCause::Nat64(d));
        let mut cfg = self.xcfg.clone();
        cfg.own_ipv4 = src;
        match icmpv4_error(buf, icmpv4_type::DST_UNREACHABLE, code, 0, &cfg) {
            Verdict::Reply(r) => {
                self.counters.replied += 1;
                Action::Reply(r)
            }
            _ => Action::Drop(DropCause::Nat64(d)),
        }
    }
}
