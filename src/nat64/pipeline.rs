//! The stateful NAT64 pipeline of RFC 6146 §3, one worker's share.
//!
//! A [`Worker`] owns its BIB and session tables ([`Tables`]), its port
//! blocks ([`PortAllocator`]), a fixed store of held IPv4 SYNs and its
//! [`Counters`]. Each packet goes through the RFC's steps, one function
//! each, every one returning either what the next step needs or the
//! packet's final [`Action`]:
//!
//! 1. §3.4 determine the incoming tuple (from the quoted packet, reversed,
//!    for an ICMP error): `incoming_6` / `incoming_4`;
//! 2. §3.5 filtering and updating binding and session information (UDP
//!    §3.5.1, TCP §3.5.2 with the state machine of `tcp.rs`, ICMP query
//!    §3.5.3; skipped for ICMP errors, which only look state up):
//!    `filter_update_6` / `filter_update_4`;
//! 3. §3.6 compute the outgoing tuple, as an xlat [`Plan`]:
//!    `outgoing_6` / `outgoing_4`;
//! 4. §3.7 translate (RFC 7915, the `xlat` core): `translate_6` /
//!    `translate_4`;
//! 5. §3.8 hairpinning: an IPv6 packet for one of our own pool addresses
//!    goes through the IPv4 → IPv6 half right away: `hairpin`.
//!
//! Before all of them, the packet's owner is checked: a subscriber's IPv6
//! traffic belongs to `subscriber_worker`, IPv4 traffic to the owner of the
//! pool port ([`PoolLayout::owner`]). Anything else is handed off
//! ([`Action::Handoff`]) untouched.
//!
//! Also: endpoint-independent mapping always; endpoint-independent
//! filtering, or address-dependent with `filtering.address_dependent`
//! (§3.5.1); RFC 6052 §3.1 (the well-known prefix carries only global IPv4
//! addresses); RFC 6888 REQ-11 (a subscriber at its block cap or an empty
//! pool gets a counted drop, an ICMPv6 error and a rate-limited
//! `SubscriberLimit` / `PoolExhausted` event in the allocator's event queue,
//! nobody else is affected); static BIB entries from `[[static_bib]]`.
//!
//! Bursts (`process_*_burst`) give each packet what `process_*` gives it
//! one at a time. A burst of plain TCP and UDP packets of established
//! sessions goes through `fast.rs` in one pass instead: the same checks,
//! lookup, refresh and rewrite, each header read once.
//!
//! Nothing is allocated per packet: every table, the held-SYN store and the
//! event queues are sized in [`Worker::new`].

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::pool4::{AllocError, PoolLayout, PortAllocator};
use super::table::{BibEntry, BibId, KeyHash, SessionId, Tables, V4Key, V6Key, BURST};
use super::tcp::{self, Side};
use super::{
    subscriber_worker, EventQueue, Millis, Subscriber, TcpState, Timeouts, TimerClass, L4,
};
use crate::config::Config;
use crate::wire::{icmpv4_type, icmpv6_type, ip_proto, Ipv4Packet};
use crate::xlat::rfc6052::{is_global_ipv4, Nat64Prefix};
use crate::xlat::v4to6::{flow4, icmpv4_error, translate_4to6};
use crate::xlat::v6to4::{flow6, icmpv6_error, translate_6to4};
use crate::xlat::{
    DropReason, Flow, PacketBuf, Plan, ReplyReason, Rewrite, Verdict, XlatConfig, XlatState,
};

/// Held IPv4-initiated SYNs per worker (RFC 6146 §3.5.2.2 "bounded").
pub const HELD_SYN_SLOTS: usize = 512;
/// Bytes kept of a held SYN: what an ICMPv4 error may quote of it
/// (RFC 1812 §4.3.2.3: the error is at most 576 bytes).
pub const HELD_SYN_BYTES: usize = 576 - 28;
/// Below this many sessions the tables sit in the L2 cache (about 118 bytes
/// a session against 2 MiB), so a burst skips the stage that loads every
/// packet's index line, session and BIB entry ahead: it would only cost
/// instructions.
const WARM_MIN_SESSIONS: usize = 16 * 1024;
/// Port-block events a worker queues before counting them as dropped.
pub const BLOCK_EVENT_CAPACITY: usize = 4096;

/// Which half of the pipeline a handed-off packet must go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The buffer holds an IPv6 packet from the inside: `process_6to4`.
    SixToFour,
    /// The buffer holds an IPv4 packet (from the outside, or the IPv4 half
    /// of a hairpinned packet): `process_4to6`, out of the inside port.
    FourToSix,
}

/// What the dataplane does with the buffer after a `process_*` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The buffer holds the translated packet: send it out of the other port.
    Forward,
    /// 4to6 (or the IPv4 half of a hairpin): the buffer holds a translated
    /// IPv6 packet larger than `mtu`; split it with
    /// `xlat::v4to6::fragment_ipv6` and send the fragments out of the
    /// inside port (xlat's `Verdict::Fragment`).
    Fragment { mtu: u16 },
    /// The buffer holds an ICMP error (same family as the input) for the
    /// packet's sender: send it back out of the port it came in on.
    Reply(ReplyReason),
    /// §3.8: the buffer holds the IPv6 packet a hairpinned IPv6 packet
    /// became: send it out of the inside port.
    Hairpin,
    /// The packet belongs to another worker: ring the buffer, as it is, to
    /// `worker`, which runs `dir` on it.
    Handoff { worker: u16, dir: Direction },
    /// For the box itself (a packet to the outside address, or an echo
    /// request to a pool address, that no BIB entry claims): the exception
    /// path. The buffer holds the IPv4 packet as received (for a hairpin:
    /// as translated from IPv6).
    Local,
    /// An IPv4 SYN was copied into the held-SYN store (§3.5.2.2); free
    /// the buffer.
    Held,
    /// Free the buffer; the reason has been counted.
    Drop(DropCause),
}

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
    /// A fragment other than the first (no ports to look up).
    NonFirstFragment,
    /// IPv4 destination that is no pool transport address.
    NotPool,
    /// The IPv4 half of a hairpinned packet would have been answered with
    /// an ICMP error, which cannot go back through the hairpin.
    HairpinUnanswerable,
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

/// One worker's counters. Plain integers: the control thread reads them.
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

    fn count(&mut self, c: DropCause) {
        let slot = match c {
            DropCause::Xlat(r) => self.xlat.get_mut(r as usize),
            DropCause::Nat64(d) => self.nat64.get_mut(d.index()),
        };
        if let Some(n) = slot {
            *n += 1;
        }
    }
}

/// What `tick` hands out.
#[derive(Debug)]
pub enum Emit<'a> {
    /// An IPv4 packet (an ICMP port unreachable for a held SYN that timed
    /// out) to send out of the outside port. The slice is only valid
    /// during the callback: copy it into an mbuf.
    Outside(&'a [u8]),
}

/// Key of a held SYN: (T, t) the pool transport address it was sent to,
/// (Y, y) its IPv4 source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeldKey {
    t4: Ipv4Addr,
    t_port: u16,
    y4: Ipv4Addr,
    y_port: u16,
}

/// One held IPv4 SYN: the first `HELD_SYN_BYTES` of it.
struct HeldSyn {
    key: HeldKey,
    expires: Millis,
    len: u16,
    bytes: [u8; HELD_SYN_BYTES],
}

/// A fixed set of held-SYN slots. Keys sit in their own array so a lookup
/// scans contiguous memory (and only while something is held).
struct HeldSyns {
    keys: Vec<Option<HeldKey>>,
    slots: Vec<HeldSyn>,
    used: usize,
}

impl HeldSyns {
    fn new(n: usize) -> HeldSyns {
        let empty = HeldKey {
            t4: Ipv4Addr::UNSPECIFIED,
            t_port: 0,
            y4: Ipv4Addr::UNSPECIFIED,
            y_port: 0,
        };
        HeldSyns {
            keys: vec![None; n],
            slots: (0..n)
                .map(|_| HeldSyn {
                    key: empty,
                    expires: 0,
                    len: 0,
                    bytes: [0; HELD_SYN_BYTES],
                })
                .collect(),
            used: 0,
        }
    }

    fn find(&self, k: &HeldKey) -> Option<usize> {
        if self.used == 0 {
            return None;
        }
        self.keys.iter().position(|s| s.as_ref() == Some(k))
    }

    /// Store `pkt` under `k`; false if every slot is taken.
    fn hold(&mut self, k: HeldKey, pkt: &[u8], expires: Millis) -> bool {
        let Some(i) = self.keys.iter().position(Option::is_none) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        let n = pkt.len().min(HELD_SYN_BYTES);
        slot.bytes[..n].copy_from_slice(&pkt[..n]);
        slot.len = n as u16;
        slot.key = k;
        slot.expires = expires;
        self.keys[i] = Some(k);
        self.used += 1;
        true
    }

    fn remove(&mut self, i: usize) {
        if let Some(k) = self.keys.get_mut(i) {
            if k.take().is_some() {
                self.used -= 1;
            }
        }
    }
}

/// The incoming tuple of an IPv6 packet (§3.4), its destination already
/// mapped to IPv4: (X', x) -> (Y, y). For ICMP the ports are the
/// identifier.
#[derive(Debug, Clone, Copy)]
struct Incoming6 {
    l4: L4,
    x6: Ipv6Addr,
    x_port: u16,
    y4: Ipv4Addr,
    y_port: u16,
    /// For an ICMPv6 error: the IPv4 form of its outer destination.
    error_dst: Option<Ipv4Addr>,
    tcp_flags: u8,
}

/// The incoming tuple of an IPv4 packet (§3.4): (Y, y) -> (T, t).
#[derive(Debug, Clone, Copy)]
struct Incoming4 {
    l4: L4,
    y4: Ipv4Addr,
    y_port: u16,
    t4: Ipv4Addr,
    t_port: u16,
    /// For an ICMPv4 error: its outer source (a router, or Y itself).
    error_src: Option<Ipv4Addr>,
    tcp_flags: u8,
}

/// Fillers for the unused slots of a burst's key arrays (never looked up).
const FILL6: V6Key = V6Key {
    proto: L4::Udp,
    v6: Ipv6Addr::UNSPECIFIED,
    port: 0,
    remote: Ipv4Addr::UNSPECIFIED,
    remote_port: 0,
};
const FILL4: V4Key = V4Key {
    proto: L4::Udp,
    v4: Ipv4Addr::UNSPECIFIED,
    port: 0,
    remote: Ipv4Addr::UNSPECIFIED,
    remote_port: 0,
};

/// One half of the pipeline, as a burst drives it: how a packet is
/// parsed, keyed, hashed, warmed and run.
trait Half {
    type Addr: Copy;
    type Key: Copy;
    /// Filler for the unused slots of a burst's key array.
    const FILL: Self::Key;
    fn flow(pkt: &[u8]) -> Result<Flow<Self::Addr>, DropReason>;
    fn fast_key(w: &Worker, f: &Flow<Self::Addr>) -> Option<Self::Key>;
    fn hash(t: &Tables, k: &Self::Key) -> KeyHash;
    fn warm(t: &Tables, keys: &[Self::Key], hs: &[KeyHash]);
    fn process(
        w: &mut Worker,
        buf: &mut PacketBuf,
        res: &Result<Flow<Self::Addr>, DropReason>,
        hint: Option<(&Self::Key, KeyHash)>,
        now: Millis,
    ) -> Action;
}

/// IPv6 from the inside.
struct SixToFour;
/// IPv4 from the outside.
struct FourToSix;

impl Half for SixToFour {
    type Addr = Ipv6Addr;
    type Key = V6Key;
    const FILL: V6Key = FILL6;
    #[inline(always)]
    fn flow(pkt: &[u8]) -> Result<Flow<Ipv6Addr>, DropReason> {
        flow6(pkt)
    }
    #[inline(always)]
    fn fast_key(w: &Worker, f: &Flow<Ipv6Addr>) -> Option<V6Key> {
        w.fast_key_6(f)
    }
    #[inline(always)]
    fn hash(t: &Tables, k: &V6Key) -> KeyHash {
        t.session_hash_v6(k)
    }
    #[inline(always)]
    fn warm(t: &Tables, keys: &[V6Key], hs: &[KeyHash]) {
        t.warm_v6(keys, hs)
    }
    #[inline(always)]
    fn process(
        w: &mut Worker,
        buf: &mut PacketBuf,
        res: &Result<Flow<Ipv6Addr>, DropReason>,
        hint: Option<(&V6Key, KeyHash)>,
        now: Millis,
    ) -> Action {
        w.process_6to4_flow(buf, res, hint, now)
    }
}

impl Half for FourToSix {
    type Addr = Ipv4Addr;
    type Key = V4Key;
    const FILL: V4Key = FILL4;
    #[inline(always)]
    fn flow(pkt: &[u8]) -> Result<Flow<Ipv4Addr>, DropReason> {
        flow4(pkt)
    }
    #[inline(always)]
    fn fast_key(w: &Worker, f: &Flow<Ipv4Addr>) -> Option<V4Key> {
        w.fast_key_4(f)
    }
    #[inline(always)]
    fn hash(t: &Tables, k: &V4Key) -> KeyHash {
        t.session_hash_v4(k)
    }
    #[inline(always)]
    fn warm(t: &Tables, keys: &[V4Key], hs: &[KeyHash]) {
        t.warm_v4(keys, hs)
    }
    #[inline(always)]
    fn process(
        w: &mut Worker,
        buf: &mut PacketBuf,
        res: &Result<Flow<Ipv4Addr>, DropReason>,
        hint: Option<(&V4Key, KeyHash)>,
        now: Millis,
    ) -> Action {
        w.process_4to6_flow(buf, res, hint, now)
    }
}

/// `key_of` for a packet without a session key.
const NO_KEY: u8 = u8::MAX;

/// One step's result: what the next step needs, or the packet's fate.
type Step<T> = Result<T, Action>;

/// The remote port a session is keyed by: ICMP query sessions are keyed by
/// address only (the identifier is the BIB's, and differs on each side).
#[inline]
fn remote_port(l4: L4, port: u16) -> u16 {
    match l4 {
        L4::Icmp => 0,
        _ => port,
    }
}

/// One worker lcore's NAT64: tables, port blocks, held SYNs, counters.
pub struct Worker {
    id: u16,
    n_workers: u16,
    prefix: Nat64Prefix,
    /// The prefix is a /96: the IPv4 address is the last four bytes.
    prefix_96: bool,
    /// RFC 6052 §3.1 applies: the well-known prefix without
    /// `allow_non_global_ipv4` (`Nat64Prefix::permits`, decided once).
    global_only: bool,
    address_dependent: bool,
    drop_external_tcp: bool,
    subscriber_len: u8,
    outside: Ipv4Addr,
    timeouts: Timeouts,
    xcfg: XlatConfig,
    xstate: XlatState,
    layout: Arc<PoolLayout>,
    alloc: PortAllocator,
    tables: Tables,
    held: HeldSyns,
    counters: Counters,
}

impl Worker {
    /// Worker `worker` of `n_workers`: sizes every table from `cfg` and
    /// installs the static BIB entries this worker owns (those of its
    /// subscribers). `PortAllocator::new` keeps every static port out of
    /// dynamic allocation.
    pub fn new(cfg: &Config, layout: Arc<PoolLayout>, worker: u16, n_workers: u16) -> Worker {
        let max_sessions = cfg.workers.max_sessions_per_worker as usize;
        let max_bib = max_sessions + cfg.static_bib.len();
        let alloc =
            PortAllocator::new(&layout, &cfg.pool4, worker, n_workers, BLOCK_EVENT_CAPACITY);
        let mut tables = Tables::new(max_sessions, max_bib);
        let plen = cfg.pool4.subscriber_prefix_len;
        for e in &cfg.static_bib {
            let sub = Subscriber::of(e.ipv6.ip(), plen);
            if subscriber_worker(&sub, n_workers) != worker {
                continue;
            }
            // Rule 7: static entries are never expired (`is_static`).
            let _ = tables.bib_insert(BibEntry {
                proto: e.protocol,
                v6: *e.ipv6.ip(),
                v6_port: e.ipv6.port(),
                v4: *e.ipv4.ip(),
                v4_port: e.ipv4.port(),
                is_static: true,
                sessions: 0,
            });
        }
        Worker {
            id: worker,
            n_workers: n_workers.max(1),
            prefix: cfg.translation.prefix,
            prefix_96: cfg.translation.prefix.len() == 96,
            global_only: cfg.translation.prefix.is_well_known()
                && !cfg.translation.allow_non_global_ipv4,
            address_dependent: cfg.filtering.address_dependent,
            drop_external_tcp: cfg.filtering.drop_externally_initiated_tcp,
            subscriber_len: plen,
            outside: cfg.outside.address,
            timeouts: Timeouts::from_config(&cfg.timeouts),
            xcfg: cfg.xlat_config(),
            xstate: XlatState::default(),
            layout,
            alloc,
            tables,
            held: HeldSyns::new(HELD_SYN_SLOTS),
            counters: Counters::default(),
        }
    }

    /// The outside NIC computes IPv4 header checksums (a tx offload the
    /// port enabled): translated IPv4 packets leave with a checksum of 0
    /// for it to fill (`XlatConfig::ipv4_checksum_offload`), except
    /// hairpinned ones, which are checked again here first.
    pub fn set_ipv4_checksum_offload(&mut self, on: bool) {
        self.xcfg.ipv4_checksum_offload = on;
    }

    /// This worker's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Port-block events: allocations and releases (RFC 6888 REQ-12) and
    /// refused mappings (REQ-11), from the allocator.
    pub fn events(&mut self) -> &mut EventQueue {
        self.alloc.events()
    }

    /// The tables, for inspection.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The allocator, for inspection.
    pub fn allocator(&self) -> &PortAllocator {
        &self.alloc
    }

    /// SYNs held right now.
    pub fn held_syns(&self) -> usize {
        self.held.used
    }

    /// Whether `v6` lies under the NAT64 prefix.
    #[inline(always)]
    fn under_prefix(&self, v6: &Ipv6Addr) -> bool {
        self.prefix.contains(v6)
    }

    /// RFC 6052 §2.3: the IPv4 address embedded in `v6`, `None` off the
    /// prefix (`Nat64Prefix::extract`, the /96 case without a call).
    #[inline(always)]
    fn extract(&self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.under_prefix(v6) {
            return None;
        }
        if self.prefix_96 {
            let o = v6.octets();
            return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
        }
        self.prefix.extract(v6)
    }

    /// RFC 6052 §3.1: whether `v4` may appear under the prefix (as
    /// `Nat64Prefix::permits`, with the prefix-wide part decided in `new`).
    #[inline]
    fn permits(&self, v4: Ipv4Addr) -> bool {
        !self.global_only || is_global_ipv4(v4)
    }

    // -----------------------------------------------------------------
    // Outcomes, counted once here.

    fn drop(&mut self, d: Nat64Drop) -> Action {
        let c = DropCause::Nat64(d);
        self.counters.count(c);
        Action::Drop(c)
    }

    fn drop_xlat(&mut self, r: DropReason) -> Action {
        let c = DropCause::Xlat(r);
        self.counters.count(c);
        Action::Drop(c)
    }

    /// Counts `d`, then answers the IPv6 sender with an ICMPv6 destination
    /// unreachable of `code` (dropped instead where RFC 4443 §2.4 (e)
    /// forbids one).
    fn refuse6(&mut self, buf: &mut PacketBuf, d: Nat64Drop, code: u8) -> Action {
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
    fn refuse4(&mut self, buf: &mut PacketBuf, d: Nat64Drop, code: u8, src: Ipv4Addr) -> Action {
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

    /// A packet of an existing session, from `side`: refresh its lifetime
    /// (UDP §3.5.1, ICMP §3.5.3) or run the TCP state machine (§3.5.2.2),
    /// and return its BIB entry.
    fn refresh(
        &mut self,
        s: SessionId,
        l4: L4,
        side: Side,
        tcp_flags: u8,
        now: Millis,
    ) -> &BibEntry {
        self.refresh_inline(s, l4, side, tcp_flags, now)
    }

    /// [`Worker::refresh`], inlined where it is called (the fast path's).
    #[inline(always)]
    fn refresh_inline(
        &mut self,
        s: SessionId,
        l4: L4,
        side: Side,
        tcp_flags: u8,
        now: Millis,
    ) -> &BibEntry {
        let class = match l4 {
            L4::Tcp => {
                let step = tcp::tcp_transition(self.tables.session(s).tcp, side, tcp_flags);
                self.tables.session_mut(s).tcp = step.state;
                step.timer
            }
            L4::Udp => Some(TimerClass::Udp),
            L4::Icmp => Some(TimerClass::Icmp),
        };
        if let Some(c) = class {
            self.tables.touch(s, c, now, &self.timeouts);
        }
        self.tables.bib(self.tables.session(s).bib)
    }

    // -----------------------------------------------------------------
    // IPv6 -> IPv4.

    /// An IPv6 packet from the inside, in `buf` (starting at its IPv6
    /// header), through RFC 6146 §3.4-§3.8.
    pub fn process_6to4(&mut self, buf: &mut PacketBuf, now: Millis) -> Action {
        // Borrowed from the result, not moved out of it: no copy of the
        // flow per packet.
        let res = flow6(buf.data());
        self.process_6to4_flow(buf, &res, None, now)
    }

    /// [`Worker::process_6to4`] for a burst: `actions[i]` is what
    /// `process_6to4` would have returned for `pkts[i]`, the packets taken
    /// in order (so packets of one new flow in a burst see the session the
    /// first of them made). Requires `actions.len() >= pkts.len()`.
    ///
    /// Up to [`BURST`] packets at a time, in stages: parse every packet and
    /// hash its session key; then, in one tight loop, load the index line,
    /// candidate session and BIB entry of each (their misses overlap, where
    /// one by one they would follow each other); then run each packet
    /// through the pipeline with its parsed flow and hash. The first two
    /// stages only read: every decision is taken in the third, in order.
    /// (Requesting the index lines already in the parse loop was measured
    /// slower: the loads, interleaved with parsing, fill the reorder
    /// window.) A chunk of plain packets of established sessions takes
    /// the fast path first (`fast.rs`), with the same outcome.
    pub fn process_6to4_burst<'a, P>(&mut self, pkts: &mut [P], now: Millis, actions: &mut [Action])
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        assert!(actions.len() >= pkts.len(), "fewer actions than packets");
        for (ps, acts) in pkts.chunks_mut(BURST).zip(actions.chunks_mut(BURST)) {
            if !self.plain_6to4_chunk(ps, now, acts) {
                self.burst::<SixToFour, P>(ps, now, acts);
            }
        }
    }

    /// The session key `filter_update_6` will look up for `flow`, when the
    /// packet is this worker's, no ICMP error and no non-first fragment,
    /// and its destination is under the prefix (else `None`: no hint).
    #[inline(always)]
    fn fast_key_6(&self, flow: &Flow<Ipv6Addr>) -> Option<V6Key> {
        if flow.inner.is_some() || flow.non_first_fragment {
            return None;
        }
        if self.n_workers != 1
            && subscriber_worker(
                &Subscriber::of(&flow.tuple.src, self.subscriber_len),
                self.n_workers,
            ) != self.id
        {
            return None;
        }
        let y4 = self.extract(&flow.tuple.dst)?;
        Some(V6Key {
            proto: flow.tuple.l4,
            v6: flow.tuple.src,
            port: flow.tuple.src_port,
            remote: y4,
            remote_port: remote_port(flow.tuple.l4, flow.tuple.dst_port),
        })
    }

    /// `process_6to4` with the packet parsed, and perhaps its session key
    /// and that key's hash (`hint`, from `fast_key_6` of this very flow).
    #[inline]
    fn process_6to4_flow(
        &mut self,
        buf: &mut PacketBuf,
        res: &Result<Flow<Ipv6Addr>, DropReason>,
        hint: Option<(&V6Key, KeyHash)>,
        now: Millis,
    ) -> Action {
        let flow = match res {
            Ok(f) => f,
            Err(r) => return self.drop_xlat(*r),
        };
        // Established sessions first (a hint says the packet is ours).
        if let Some((k, h)) = hint {
            if let Some(a) = self.established_6(buf, flow, k, h, now) {
                return a;
            }
        }
        // Ownership first: the subscriber is the packet's source, or for an
        // ICMPv6 error (perhaps from a router) the destination of the
        // packet it quotes.
        // (A single worker owns everything: no hash to compute.)
        let w = if self.n_workers == 1 {
            0
        } else {
            let owner = flow.inner.map_or(flow.tuple.src, |i| i.dst);
            subscriber_worker(&Subscriber::of(&owner, self.subscriber_len), self.n_workers)
        };
        if w != self.id {
            self.counters.handed_off += 1;
            return Action::Handoff {
                worker: w,
                dir: Direction::SixToFour,
            };
        }
        match self.pipeline_6to4(buf, flow, hint.map(|(_, h)| h), now) {
            Ok(a) | Err(a) => a,
        }
    }

    /// `pipeline_6to4` for a packet of an established session, in one
    /// step: the same checks (§3.4, RFC 6052 §3.1), the session found and
    /// refreshed (§3.5), the same rewrite (§3.6) and translation (§3.7),
    /// without the general path's intermediate tuples. `None`, with nothing
    /// changed, when the packet is not one of those (no session, or bound
    /// for a pool address: §3.8); `pipeline_6to4` then takes it and decides
    /// exactly as for any packet. `key` (hashed: `h`) is what `fast_key_6`
    /// made of `flow`, which says that `flow` is this worker's, no ICMP
    /// error and no non-first fragment, and to an address under the prefix.
    #[inline(always)]
    fn established_6(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
        key: &V6Key,
        h: KeyHash,
        now: Millis,
    ) -> Option<Action> {
        // The destination's IPv4 address, as `fast_key_6` extracted it.
        let y4 = key.remote;
        // §3.8 loop, RFC 6052 §3.1 and §3.8 hairpinning: the general path's.
        if self.under_prefix(&key.v6) || !self.permits(y4) || self.layout.contains(y4) {
            return None;
        }
        let s = self.tables.session_by_v6_hashed(h, key)?;
        // §3.5.1 / §3.5.2.2 / §3.5.3: refresh, then §3.6 (T, t) -> (Y, y).
        let l4 = key.proto;
        let b = self.refresh(s, l4, Side::V6, flow.tcp_flags, now);
        let (t4, t_port) = (b.v4, b.v4_port);
        let y_port = if l4 == L4::Icmp {
            t_port
        } else {
            flow.tuple.dst_port
        };
        let plan = Plan {
            outer: Rewrite {
                src: t4,
                dst: y4,
                src_port: t_port,
                dst_port: y_port,
            },
            inner: None,
        };
        // §3.7.
        Some(match self.translate_6(buf, &plan) {
            Ok(a) | Err(a) => a,
        })
    }

    fn pipeline_6to4(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Action> {
        let inc = self.incoming_6(buf, flow)?;
        let (t4, t_port) = self.filter_update_6(buf, &inc, hint, now)?;
        let plan = self.outgoing_6(&inc, t4, t_port);
        let action = self.translate_6(buf, &plan)?;
        self.hairpin(buf, &inc, action, now)
    }

    /// §3.4: the incoming tuple (X', x) -> (Y', y), for an ICMPv6 error the
    /// quoted packet's reversed; Y' mapped to Y by the prefix (RFC 6052
    /// §2.3) and checked against §3.1.
    fn incoming_6(&mut self, buf: &mut PacketBuf, flow: &Flow<Ipv6Addr>) -> Step<Incoming6> {
        if flow.non_first_fragment {
            // Deliberate deviation: §3.4 asks to reassemble (or hold)
            // fragments; a non-first fragment has no ports to find its
            // session by, and this translator keeps no fragment state.
            return Err(self.drop(Nat64Drop::NonFirstFragment));
        }
        // §3.8 (last paragraph): a packet whose source is under the prefix
        // came back from our own IPv4 side: a loop.
        if self.under_prefix(&flow.tuple.src) {
            return Err(self.drop(Nat64Drop::HairpinLoop));
        }
        let Some(dst4) = self.extract(&flow.tuple.dst) else {
            return Err(self.drop(Nat64Drop::NotNat64Prefix));
        };
        let inc = match flow.inner {
            // The quoted packet went Y' -> X'; its flow is (X', x) -> (Y', y).
            Some(q) => {
                let Some(y4) = self.extract(&q.src) else {
                    return Err(self.drop(Nat64Drop::NotNat64Prefix));
                };
                Incoming6 {
                    l4: q.l4,
                    x6: q.dst,
                    x_port: q.dst_port,
                    y4,
                    y_port: q.src_port,
                    error_dst: Some(dst4),
                    tcp_flags: 0,
                }
            }
            None => Incoming6 {
                l4: flow.tuple.l4,
                x6: flow.tuple.src,
                x_port: flow.tuple.src_port,
                y4: dst4,
                y_port: flow.tuple.dst_port,
                error_dst: None,
                tcp_flags: flow.tcp_flags,
            },
        };
        // RFC 6052 §3.1: the well-known prefix MUST NOT carry non-global
        // IPv4 addresses unless the operator allows it. Refused with an
        // ICMPv6 destination unreachable, code 1 (administratively
        // prohibited) and a counter.
        if !self.permits(dst4) {
            return Err(self.refuse6(buf, Nat64Drop::NonGlobalIpv4, 1));
        }
        Ok(inc)
    }

    /// §3.5 for an IPv6 packet: finds or creates the BIB entry and session
    /// (UDP §3.5.1, TCP §3.5.2, ICMP query §3.5.3) and returns the mapped
    /// IPv4 transport address (T, t). ICMPv6 errors only look up state.
    fn filter_update_6(
        &mut self,
        buf: &mut PacketBuf,
        inc: &Incoming6,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<(Ipv4Addr, u16)> {
        let rport = remote_port(inc.l4, inc.y_port);
        if inc.error_dst.is_some() {
            // §3.5: ICMP errors neither create nor refresh state; the
            // session of the quoted packet must exist.
            let Some(s) = self
                .tables
                .session_by_v6(inc.l4, &inc.x6, inc.x_port, inc.y4, rport)
            else {
                return Err(self.drop(Nat64Drop::NoSession));
            };
            let b = self.tables.bib(self.tables.session(s).bib);
            return Ok((b.v4, b.v4_port));
        }
        let key = V6Key {
            proto: inc.l4,
            v6: inc.x6,
            port: inc.x_port,
            remote: inc.y4,
            remote_port: rport,
        };
        let h = hint.unwrap_or_else(|| self.tables.session_hash_v6(&key));
        if let Some(s) = self.tables.session_by_v6_hashed(h, &key) {
            let b = self.refresh(s, inc.l4, Side::V6, inc.tcp_flags, now);
            return Ok((b.v4, b.v4_port));
        }
        // No session. §3.5.2.2 CLOSED: only a V6 SYN opens a TCP session.
        if inc.l4 == L4::Tcp && !tcp::is_syn(inc.tcp_flags) {
            // Deliberate deviation: CLOSED says other segments SHOULD be
            // translated when a BIB entry exists. Without a session there
            // is no state to keep them by, so they are dropped (as a
            // restarted box would); the endpoints reset and reconnect.
            return Err(self.drop(Nat64Drop::NoSession));
        }
        // §3.5.1.1 / §3.5.2.1 / §3.5.3: the BIB entry for (X', x), created
        // with a fresh (T, t) if missing (endpoint-independent mapping:
        // one entry whatever the destination).
        let bib = match self.tables.bib_by_v6(inc.l4, &inc.x6, inc.x_port) {
            Some(b) => b,
            None => self.new_bib(buf, inc, now)?,
        };
        let (t4, t_port) = {
            let b = self.tables.bib(bib);
            (b.v4, b.v4_port)
        };
        let (class, state) = match inc.l4 {
            L4::Udp => (TimerClass::Udp, TcpState::Closed),
            L4::Icmp => (TimerClass::Icmp, TcpState::Closed),
            L4::Tcp => {
                let key = HeldKey {
                    t4,
                    t_port,
                    y4: inc.y4,
                    y_port: inc.y_port,
                };
                match self.held.find(&key) {
                    // §3.5.2.2 V4 INIT + V6 SYN: a simultaneous open. The
                    // held V4 SYN is silently dropped; the session is
                    // ESTABLISHED.
                    Some(i) => {
                        self.held.remove(i);
                        self.counters.simultaneous_opens += 1;
                        (TimerClass::TcpEstablished, TcpState::Established)
                    }
                    None => {
                        let open = tcp::opened_by(Side::V6);
                        (open.timer.unwrap_or(TimerClass::TcpTransitory), open.state)
                    }
                }
            }
        };
        let s = match self.new_session(bib, inc.y4, rport, class, now) {
            Ok(s) => s,
            Err(a) => {
                self.forget_unused_bib(bib, now);
                return Err(a);
            }
        };
        self.tables.session_mut(s).tcp = state;
        Ok((t4, t_port))
    }

    /// §3.5.1.1: a new BIB entry for (X', x) with a port from the
    /// subscriber's blocks. Exhaustion is RFC 6888 REQ-11.
    fn new_bib(&mut self, buf: &mut PacketBuf, inc: &Incoming6, now: Millis) -> Step<BibId> {
        self.make_room(now);
        let sub = Subscriber::of(&inc.x6, self.subscriber_len);
        let (t4, t_port) = match self.alloc.allocate(sub, inc.l4, inc.x_port, now) {
            Ok(m) => m,
            Err(e) => {
                // RFC 6888 REQ-11: drop, ICMP destination unreachable, no
                // existing mapping touched. The code is the one RFC 6146
                // §3.5.1.1 / §3.5.2.2 give a NAT64 that cannot make a
                // mapping: 3, address unreachable (as Jool sends).
                // The allocator has queued the (rate-limited) event for
                // the operator.
                let d = match e {
                    AllocError::SubscriberLimit => Nat64Drop::SubscriberLimit,
                    AllocError::PoolExhausted => Nat64Drop::PoolExhausted,
                };
                return Err(self.refuse6(buf, d, 3));
            }
        };
        match self.tables.bib_insert(BibEntry {
            proto: inc.l4,
            v6: inc.x6,
            v6_port: inc.x_port,
            v4: t4,
            v4_port: t_port,
            is_static: false,
            sessions: 0,
        }) {
            Ok(b) => {
                self.counters.bib_created += 1;
                Ok(b)
            }
            Err(_) => {
                self.alloc.release(sub, inc.l4, t4, t_port, now);
                Err(self.drop(Nat64Drop::TableFull))
            }
        }
    }

    /// A new session on `bib`, reclaiming the stalest one if the table is
    /// full.
    fn new_session(
        &mut self,
        bib: BibId,
        remote: Ipv4Addr,
        rport: u16,
        class: TimerClass,
        now: Millis,
    ) -> Step<SessionId> {
        let mut bib = bib;
        if self.tables.sessions_len() >= self.tables.capacity() {
            // Full: evict the stalest session first. That may have been
            // the last session of `bib` itself, taking a dynamic entry (and
            // its port) with it; then this packet is dropped and the next
            // one creates a fresh mapping.
            let e = *self.tables.bib(bib);
            self.reclaim(now);
            match self.tables.bib_by_v4(e.proto, e.v4, e.v4_port) {
                Some(b) => bib = b,
                None => return Err(self.drop(Nat64Drop::TableFull)),
            }
        }
        let to = self.timeouts;
        match self
            .tables
            .session_insert(bib, remote, rport, class, now, &to)
        {
            Ok(s) => {
                self.counters.sessions_created += 1;
                Ok(s)
            }
            Err(_) => Err(self.drop(Nat64Drop::TableFull)),
        }
    }

    /// Removes a dynamic BIB entry left without a session (its session
    /// could not be created), releasing its port.
    fn forget_unused_bib(&mut self, bib: BibId, now: Millis) {
        let e = *self.tables.bib(bib);
        if e.is_static || e.sessions != 0 {
            return;
        }
        self.tables.bib_remove(bib);
        let sub = Subscriber::of(&e.v6, self.subscriber_len);
        self.alloc.release(sub, e.proto, e.v4, e.v4_port, now);
    }

    /// Makes room for one BIB entry and session before they are created,
    /// so that a fresh BIB entry never stays without its session.
    fn make_room(&mut self, now: Millis) {
        if self.tables.sessions_len() >= self.tables.capacity() {
            self.reclaim(now);
        }
    }

    /// Evicts the stalest session of the cheapest class, releasing ports.
    fn reclaim(&mut self, now: Millis) {
        let plen = self.subscriber_len;
        let alloc = &mut self.alloc;
        if self.tables.reclaim(now, &mut |e: &BibEntry| {
            alloc.release(Subscriber::of(&e.v6, plen), e.proto, e.v4, e.v4_port, now)
        }) {
            self.counters.sessions_expired += 1;
        }
    }

    /// §3.6: the IPv4 packet's addresses and ports. Source (T, t),
    /// destination (Y, y); for ICMP the identifier t. For an ICMPv6 error:
    /// outer source T (the pool address the quoted flow uses), outer
    /// destination its own destination mapped to IPv4; the quoted packet
    /// becomes (Y, y) -> (T, t).
    fn outgoing_6(&self, inc: &Incoming6, t4: Ipv4Addr, t_port: u16) -> Plan<Ipv4Addr> {
        let y_port = if inc.l4 == L4::Icmp {
            t_port
        } else {
            inc.y_port
        };
        let flow = Rewrite {
            src: t4,
            dst: inc.y4,
            src_port: t_port,
            dst_port: y_port,
        };
        match inc.error_dst {
            None => Plan {
                outer: flow,
                inner: None,
            },
            Some(dst) => Plan {
                outer: Rewrite {
                    src: t4,
                    dst,
                    src_port: 0,
                    dst_port: 0,
                },
                inner: Some(Rewrite {
                    src: inc.y4,
                    dst: t4,
                    src_port: y_port,
                    dst_port: t_port,
                }),
            },
        }
    }

    /// §3.7: RFC 7915 §5 through the xlat core.
    fn translate_6(&mut self, buf: &mut PacketBuf, plan: &Plan<Ipv4Addr>) -> Step<Action> {
        match translate_6to4(buf, plan, &self.xcfg, &mut self.xstate) {
            Verdict::Forward => {
                self.counters.translated_6to4 += 1;
                Ok(Action::Forward)
            }
            Verdict::Reply(r) => {
                self.counters.replied += 1;
                Err(Action::Reply(r))
            }
            // 6to4 never fragments; treat it as forward-sized by xlat.
            Verdict::Fragment { mtu } => Err(Action::Fragment { mtu }),
            Verdict::Drop(r) => Err(self.drop_xlat(r)),
        }
    }

    /// §3.8: "If the destination IPv4 address is one of the NAT64's pool
    /// addresses, the packet is treated as an incoming IPv4 packet": the
    /// translated IPv4 packet goes through §3.4-§3.7 again, IPv4 -> IPv6,
    /// and out of the inside port. Another worker's port: handed off as
    /// IPv4.
    fn hairpin(
        &mut self,
        buf: &mut PacketBuf,
        inc: &Incoming6,
        action: Action,
        now: Millis,
    ) -> Step<Action> {
        if action != Action::Forward || !self.layout.contains(inc.y4) {
            return Ok(action);
        }
        if self.xcfg.ipv4_checksum_offload {
            // The header checksum was left to the NIC, but this packet
            // never meets it: the IPv4 half checks it (RFC 1812 §5.2.2).
            if buf.data().len() >= 20 {
                Ipv4Packet::new_unchecked(buf.data_mut()).fill_checksum();
            }
        }
        match self.process_4to6(buf, now) {
            Action::Forward => {
                self.counters.hairpinned += 1;
                Ok(Action::Hairpin)
            }
            Action::Reply(_) => Ok(self.drop(Nat64Drop::HairpinUnanswerable)),
            other => Ok(other),
        }
    }

    // -----------------------------------------------------------------
    // IPv4 -> IPv6.

    /// An IPv4 packet from the outside (or handed off, or the IPv4 half of
    /// a hairpin), in `buf` starting at its IPv4 header, through RFC 6146
    /// §3.4-§3.7.
    pub fn process_4to6(&mut self, buf: &mut PacketBuf, now: Millis) -> Action {
        // Borrowed, as in `process_6to4`.
        let res = flow4(buf.data());
        self.process_4to6_flow(buf, &res, None, now)
    }

    /// [`Worker::process_4to6`] for a burst, in stages as
    /// [`Worker::process_6to4_burst`]: `actions[i]` is what `process_4to6`
    /// would have returned for `pkts[i]`, the packets taken in order.
    /// Requires `actions.len() >= pkts.len()`.
    pub fn process_4to6_burst<'a, P>(&mut self, pkts: &mut [P], now: Millis, actions: &mut [Action])
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        assert!(actions.len() >= pkts.len(), "fewer actions than packets");
        for (ps, acts) in pkts.chunks_mut(BURST).zip(actions.chunks_mut(BURST)) {
            if !self.plain_4to6_chunk(ps, now, acts) {
                self.burst::<FourToSix, P>(ps, now, acts);
            }
        }
    }

    /// The stages of a burst (see [`Worker::process_6to4_burst`]) for
    /// either half of the pipeline.
    #[inline(always)]
    fn burst<'a, H: Half, P>(&mut self, pkts: &mut [P], now: Millis, actions: &mut [Action])
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        assert!(actions.len() >= pkts.len(), "fewer actions than packets");
        for (ps, acts) in pkts.chunks_mut(BURST).zip(actions.chunks_mut(BURST)) {
            let mut flows: [Option<Result<Flow<H::Addr>, DropReason>>; BURST] = [None; BURST];
            // Which key (in `ks`, `hs`) each packet has, if any.
            let mut key_of = [NO_KEY; BURST];
            let mut hs = [KeyHash::default(); BURST];
            let mut ks = [H::FILL; BURST];
            let mut n = 0;
            for (i, p) in ps.iter().enumerate() {
                let res = H::flow(p.data());
                if let Ok(f) = &res {
                    if let Some(k) = H::fast_key(self, f) {
                        hs[n] = H::hash(&self.tables, &k);
                        ks[n] = k;
                        key_of[i] = n as u8;
                        n += 1;
                    }
                }
                flows[i] = Some(res);
            }
            if self.tables.sessions_len() >= WARM_MIN_SESSIONS {
                H::warm(&self.tables, &ks[..n], &hs[..n]);
            }
            for (i, (p, a)) in ps.iter_mut().zip(acts.iter_mut()).enumerate() {
                let (Some(Some(res)), Some(&j)) = (flows.get(i), key_of.get(i)) else {
                    continue;
                };
                let hint = ks.get(usize::from(j)).zip(hs.get(usize::from(j)).copied());
                *a = H::process(self, p, res, hint, now);
            }
        }
    }

    /// The session key `filter_update_4` will look up for `flow`, when the
    /// packet is no ICMP error and no non-first fragment (else `None`). The
    /// owner is not checked: a hint for another worker's packet is unused.
    #[inline(always)]
    fn fast_key_4(&self, flow: &Flow<Ipv4Addr>) -> Option<V4Key> {
        if flow.inner.is_some() || flow.non_first_fragment {
            return None;
        }
        Some(V4Key {
            proto: flow.tuple.l4,
            v4: flow.tuple.dst,
            port: flow.tuple.dst_port,
            remote: flow.tuple.src,
            remote_port: remote_port(flow.tuple.l4, flow.tuple.src_port),
        })
    }

    /// `process_4to6` with the packet parsed, and perhaps its session key
    /// and that key's hash (`hint`, from `fast_key_4` of this very flow).
    #[inline]
    fn process_4to6_flow(
        &mut self,
        buf: &mut PacketBuf,
        res: &Result<Flow<Ipv4Addr>, DropReason>,
        hint: Option<(&V4Key, KeyHash)>,
        now: Millis,
    ) -> Action {
        let flow = match res {
            Ok(f) => f,
            Err(r) => return self.drop_xlat(*r),
        };
        // Established sessions first. A session in this worker's tables
        // means its pool port is this worker's (only the owner of a port
        // maps it), so the ownership check below would pass.
        if let Some((k, h)) = hint {
            if let Some(a) = self.established_4(buf, flow, k, h, now) {
                return a;
            }
        }
        let hint = hint.map(|(_, h)| h);
        // Ownership first: the worker of the pool port the packet is for
        // (for an ICMP error, the source of the packet it quotes).
        let (a, p, l4) = match flow.inner {
            Some(q) => (q.src, q.src_port, q.l4),
            None => (flow.tuple.dst, flow.tuple.dst_port, flow.tuple.l4),
        };
        match self.layout.owner(a, p, l4) {
            Some(w) if w == self.id => {}
            Some(w) => {
                self.counters.handed_off += 1;
                return Action::Handoff {
                    worker: w,
                    dir: Direction::FourToSix,
                };
            }
            None => {
                if flow.tuple.dst == self.outside || self.is_echo_request_to_pool(buf, flow) {
                    self.counters.local += 1;
                    return Action::Local;
                }
                return self.drop(Nat64Drop::NotPool);
            }
        }
        match self.pipeline_4to6(buf, flow, hint, now) {
            Ok(a) | Err(a) => a,
        }
    }

    /// `pipeline_4to6` for a packet of an established session, as
    /// `established_6`: the same check (RFC 6052 §3.1), the session found
    /// and refreshed (§3.5), the same rewrite (§3.6) and translation
    /// (§3.7). `None`, with nothing changed, when there is no session.
    /// `key` (hashed: `h`) is what `fast_key_4` made of `flow` (no ICMP
    /// error, no non-first fragment).
    #[inline(always)]
    fn established_4(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        key: &V4Key,
        h: KeyHash,
        now: Millis,
    ) -> Option<Action> {
        // The remote (Y, y) is the packet's source (`incoming_4`'s check).
        let y4 = key.remote;
        if !self.permits(y4) {
            return None;
        }
        let s = self.tables.session_by_v4_hashed(h, key)?;
        let l4 = key.proto;
        // Only the owner of a pool port maps it, so a session in this
        // worker's tables is for one of its ports.
        debug_assert_eq!(
            self.layout.owner(key.v4, key.port, l4),
            Some(self.id),
            "a session for another worker's pool port"
        );
        // §3.5.1 / §3.5.2.2 / §3.5.3: refresh, then §3.6 (Y', y) -> (X', x).
        let b = self.refresh(s, l4, Side::V4, flow.tcp_flags, now);
        let (x6, x_port) = (b.v6, b.v6_port);
        let y_port = if l4 == L4::Icmp {
            x_port
        } else {
            flow.tuple.src_port
        };
        let plan = Plan {
            outer: Rewrite {
                src: self.prefix.embed(y4),
                dst: x6,
                src_port: y_port,
                dst_port: x_port,
            },
            inner: None,
        };
        // §3.7.
        Some(match self.translate_4(buf, &plan) {
            Ok(a) | Err(a) => a,
        })
    }

    fn pipeline_4to6(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Action> {
        let inc = self.incoming_4(flow)?;
        let (x6, x_port) = self.filter_update_4(buf, flow, &inc, hint, now)?;
        let plan = self.outgoing_4(&inc, x6, x_port);
        self.translate_4(buf, &plan)
    }

    /// Whether the packet is an ICMPv4 echo request to a pool address (the
    /// box answers those itself).
    fn is_echo_request_to_pool(&self, buf: &PacketBuf, flow: &Flow<Ipv4Addr>) -> bool {
        if flow.tuple.l4 != L4::Icmp
            || flow.inner.is_some()
            || !self.layout.contains(flow.tuple.dst)
        {
            return false;
        }
        match Ipv4Packet::new_checked(buf.data()) {
            Ok(ip) => {
                ip.protocol() == ip_proto::ICMP
                    && ip.payload().first() == Some(&icmpv4_type::ECHO_REQUEST)
            }
            Err(_) => false,
        }
    }

    /// §3.4: the incoming tuple (Y, y) -> (T, t), for an ICMPv4 error the
    /// quoted packet's reversed. RFC 6052 §3.1 applies to the address that
    /// will appear under the prefix: Y, or the error's sender.
    fn incoming_4(&mut self, flow: &Flow<Ipv4Addr>) -> Step<Incoming4> {
        if flow.non_first_fragment {
            // Deliberate deviation, as in `incoming_6`.
            return Err(self.drop(Nat64Drop::NonFirstFragment));
        }
        let inc = match flow.inner {
            // The quoted packet went T -> Y; its flow is (Y, y) -> (T, t).
            Some(q) => Incoming4 {
                l4: q.l4,
                y4: q.dst,
                y_port: q.dst_port,
                t4: q.src,
                t_port: q.src_port,
                error_src: Some(flow.tuple.src),
                tcp_flags: 0,
            },
            None => Incoming4 {
                l4: flow.tuple.l4,
                y4: flow.tuple.src,
                y_port: flow.tuple.src_port,
                t4: flow.tuple.dst,
                t_port: flow.tuple.dst_port,
                error_src: None,
                tcp_flags: flow.tcp_flags,
            },
        };
        // RFC 6052 §3.1: a non-global sender cannot be represented under
        // the well-known prefix; dropped with a counter (no ICMP: the
        // refusal is ours, not the destination's).
        let shown = inc.error_src.unwrap_or(inc.y4);
        if !self.permits(shown) || !self.permits(inc.y4) {
            return Err(self.drop(Nat64Drop::NonGlobalIpv4));
        }
        Ok(inc)
    }

    /// §3.5 for an IPv4 packet: checks the BIB entry for (T, t) and the
    /// filtering policy, creates or refreshes the session (UDP §3.5.1,
    /// TCP §3.5.2, ICMP query §3.5.3) and returns the IPv6 transport
    /// address (X', x). ICMPv4 errors only look up state.
    fn filter_update_4(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        inc: &Incoming4,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<(Ipv6Addr, u16)> {
        let rport = remote_port(inc.l4, inc.y_port);
        if inc.error_src.is_some() {
            // §3.5: errors neither create nor refresh state.
            let Some(s) = self
                .tables
                .session_by_v4(inc.l4, inc.t4, inc.t_port, inc.y4, rport)
            else {
                return Err(self.drop(Nat64Drop::NoSession));
            };
            let b = self.tables.bib(self.tables.session(s).bib);
            return Ok((b.v6, b.v6_port));
        }
        let key = V4Key {
            proto: inc.l4,
            v4: inc.t4,
            port: inc.t_port,
            remote: inc.y4,
            remote_port: rport,
        };
        let h = hint.unwrap_or_else(|| self.tables.session_hash_v4(&key));
        if let Some(s) = self.tables.session_by_v4_hashed(h, &key) {
            let b = self.refresh(s, inc.l4, Side::V4, inc.tcp_flags, now);
            return Ok((b.v6, b.v6_port));
        }
        let bib = self.tables.bib_by_v4(inc.l4, inc.t4, inc.t_port);
        // The outside address may be a pool address too: a packet to it
        // that no BIB entry claims is the box's own (cgn.toml [pool4]).
        if bib.is_none() && (inc.t4 == self.outside || self.is_echo_request_to_pool(buf, flow)) {
            self.counters.local += 1;
            return Err(Action::Local);
        }
        // Filtering: endpoint-independent by default; address-dependent
        // (RFC 4787 §5) admits only remotes the inside host has sent to.
        match inc.l4 {
            L4::Udp => {
                // §3.5.1: no BIB entry -> discarded, ICMP destination
                // unreachable (host unreachable, code 1).
                let Some(b) = bib else {
                    return Err(self.refuse4(buf, Nat64Drop::NoBib, 1, inc.t4));
                };
                // §3.5.1: filtered -> discarded, ICMP destination
                // unreachable code 13 (communication administratively
                // prohibited).
                if !self.admitted(b, inc.y4) {
                    return Err(self.refuse4(buf, Nat64Drop::Filtered, 13, inc.t4));
                }
                self.new_session(b, inc.y4, rport, TimerClass::Udp, now)?;
                let e = self.tables.bib(b);
                Ok((e.v6, e.v6_port))
            }
            L4::Icmp => {
                // §3.5.3: no BIB entry or filtered -> silently discarded.
                let Some(b) = bib else {
                    return Err(self.drop(Nat64Drop::NoBib));
                };
                if !self.admitted(b, inc.y4) {
                    return Err(self.drop(Nat64Drop::Filtered));
                }
                self.new_session(b, inc.y4, rport, TimerClass::Icmp, now)?;
                let e = self.tables.bib(b);
                Ok((e.v6, e.v6_port))
            }
            L4::Tcp => {
                if !tcp::is_syn(inc.tcp_flags) {
                    // §3.5.2.2 CLOSED, any other packet: see the deviation
                    // in `filter_update_6`.
                    return Err(self.drop(Nat64Drop::NoSession));
                }
                // §3.5.2.2 CLOSED, V4 SYN: the security policy may drop
                // externally initiated connections outright.
                if self.drop_external_tcp {
                    return Err(self.drop(Nat64Drop::ExternalTcp));
                }
                match bib {
                    // (X, x) is in the BIB and the filter admits Y: a new
                    // session in V4 INIT; the SYN is translated.
                    Some(b) if self.admitted(b, inc.y4) => {
                        let open = tcp::opened_by(Side::V4);
                        let class = open.timer.unwrap_or(TimerClass::TcpIncomingSyn);
                        let s = self.new_session(b, inc.y4, rport, class, now)?;
                        self.tables.session_mut(s).tcp = open.state;
                        let e = self.tables.bib(b);
                        Ok((e.v6, e.v6_port))
                    }
                    // Not in the BIB (or filtered): the SYN is held for
                    // TCP_INCOMING_SYN; an IPv6 SYN for the same pair in
                    // that time makes it a simultaneous open, else it is
                    // answered with ICMP port unreachable (`tick`).
                    _ => Err(self.hold_syn(buf, inc, now)),
                }
            }
        }
    }

    /// Filtering (§3.5.1): endpoint-independent admits every remote;
    /// address-dependent (RFC 4787 §5) only those the inside host has a
    /// session with.
    fn admitted(&self, b: BibId, y4: Ipv4Addr) -> bool {
        !self.address_dependent || self.tables.bib_has_remote_addr(b, y4)
    }

    /// Stores an unmatched IPv4 SYN (§3.5.2.2, "the packet is stored").
    fn hold_syn(&mut self, buf: &PacketBuf, inc: &Incoming4, now: Millis) -> Action {
        let key = HeldKey {
            t4: inc.t4,
            t_port: inc.t_port,
            y4: inc.y4,
            y_port: inc.y_port,
        };
        if self.held.find(&key).is_some() {
            // A retransmission: the first copy keeps its deadline.
            return self.drop(Nat64Drop::HeldSynRetransmit);
        }
        let expires = now.saturating_add(self.timeouts.tcp_incoming_syn);
        if !self.held.hold(key, buf.data(), expires) {
            return self.drop(Nat64Drop::HeldSynFull);
        }
        self.counters.syns_held += 1;
        Action::Held
    }

    /// §3.6: the IPv6 packet's addresses and ports. Source Y' = the prefix
    /// with Y embedded (RFC 6052 §2.3) and y, destination (X', x); for ICMP
    /// the identifier x. For an ICMPv4 error: outer source the error's
    /// sender embedded, outer destination X'; the quoted packet becomes
    /// (X', x) -> (Y', y).
    fn outgoing_4(&self, inc: &Incoming4, x6: Ipv6Addr, x_port: u16) -> Plan<Ipv6Addr> {
        let y6 = self.prefix.embed(inc.y4);
        let y_port = if inc.l4 == L4::Icmp {
            x_port
        } else {
            inc.y_port
        };
        let flow = Rewrite {
            src: y6,
            dst: x6,
            src_port: y_port,
            dst_port: x_port,
        };
        match inc.error_src {
            None => Plan {
                outer: flow,
                inner: None,
            },
            Some(r) => Plan {
                outer: Rewrite {
                    src: self.prefix.embed(r),
                    dst: x6,
                    src_port: 0,
                    dst_port: 0,
                },
                inner: Some(Rewrite {
                    src: x6,
                    dst: y6,
                    src_port: x_port,
                    dst_port: y_port,
                }),
            },
        }
    }

    /// §3.7: RFC 7915 §4 through the xlat core.
    fn translate_4(&mut self, buf: &mut PacketBuf, plan: &Plan<Ipv6Addr>) -> Step<Action> {
        match translate_4to6(buf, plan, &self.xcfg, &mut self.xstate) {
            Verdict::Forward => {
                self.counters.translated_4to6 += 1;
                Ok(Action::Forward)
            }
            Verdict::Fragment { mtu } => {
                self.counters.translated_4to6 += 1;
                Ok(Action::Fragment { mtu })
            }
            Verdict::Reply(r) => {
                self.counters.replied += 1;
                Ok(Action::Reply(r))
            }
            Verdict::Drop(r) => Err(self.drop_xlat(r)),
        }
    }

    // -----------------------------------------------------------------
    // Timers.

    /// Not per packet (call it every few milliseconds): expires sessions
    /// and BIB entries (releasing their ports), returns held-down blocks to
    /// the pool, and answers held SYNs whose TCP_INCOMING_SYN passed with
    /// an ICMPv4 port unreachable (RFC 6146 §3.5.2.2), handed to `out` as
    /// [`Emit::Outside`] (built in a stack buffer: nothing is allocated).
    pub fn tick(&mut self, now: Millis, out: &mut dyn FnMut(Emit)) {
        let plen = self.subscriber_len;
        let alloc = &mut self.alloc;
        let n = self.tables.expire(now, &mut |e: &BibEntry| {
            alloc.release(Subscriber::of(&e.v6, plen), e.proto, e.v4, e.v4_port, now)
        });
        self.counters.sessions_expired += n as u64;
        self.alloc.tick(now);
        self.counters.block_events_dropped = self.alloc.events().dropped();
        if self.held.used == 0 {
            return;
        }
        const FRONT: usize = 28;
        let mut scratch = [0u8; FRONT + HELD_SYN_BYTES];
        for i in 0..self.held.keys.len() {
            let Some(slot) = self.held.slots.get(i) else {
                break;
            };
            if self.held.keys[i].is_none() || slot.expires > now {
                continue;
            }
            let len = usize::from(slot.len);
            let src = slot.key.t4;
            scratch[FRONT..FRONT + len].copy_from_slice(&slot.bytes[..len]);
            self.held.remove(i);
            self.counters.held_syn_expired += 1;
            // The error comes from the address the SYN was sent to, as a
            // host with no listener would answer.
            let mut cfg = self.xcfg.clone();
            cfg.own_ipv4 = src;
            let Some(mut pb) = PacketBuf::new(&mut scratch, FRONT, len) else {
                continue;
            };
            match icmpv4_error(&mut pb, icmpv4_type::DST_UNREACHABLE, 3, 0, &cfg) {
                Verdict::Reply(_) => {
                    self.counters.replied += 1;
                    out(Emit::Outside(pb.data()));
                }
                Verdict::Drop(r) => self.counters.count(DropCause::Xlat(r)),
                _ => {}
            }
        }
    }
}

mod fast;
#[cfg(test)]
mod tests;
