//! The stateful NAT64 of RFC 6146 §3, one worker's share: the [`Worker`],
//! its entry points and what they return.
//!
//! A [`Worker`] owns its BIB and session tables ([`Tables`]), its port
//! blocks ([`PortAllocator`]), a fixed store of held IPv4 SYNs and its
//! [`Counters`]. Each packet goes through the RFC's steps, one file each
//! under `steps/` (as Jool's `steps/`), every step returning either what
//! the next one needs or the packet's final [`Action`]:
//!
//! 0. the packet's owner, after the uRPF check (IPv6 from a source
//!    outside `inside.subscribers` is dropped, `NotSubscriber`): a
//!    subscriber's IPv6 traffic belongs to
//!    [`subscriber_worker`](super::subscriber_worker), IPv4 traffic to the owner of the pool port
//!    ([`PoolLayout::owner`]); anything else is handed off
//!    ([`Action::Handoff`]) untouched (`steps/mod.rs`);
//! 1. §3.4 determining the incoming tuple, with RFC 6052 §2.3 and §3.1
//!    (`steps/incoming.rs`);
//! 2. §3.5 filtering and updating binding and session information: UDP
//!    §3.5.1, TCP §3.5.2 with the state machine of `tcp.rs` and the
//!    held-SYN store of `held_syn.rs`, ICMP query §3.5.3
//!    (`steps/filtering.rs`);
//! 3. §3.6 computing the outgoing tuple, as an xlat
//!    [`Plan`](crate::xlat::Plan) (`steps/outgoing.rs`);
//! 4. §3.7 translating the packet, RFC 7915 by the `xlat` core
//!    (`steps/translate.rs`);
//! 5. §3.8 hairpinning (`steps/hairpin.rs`).
//!
//! Also: endpoint-independent mapping always; endpoint-independent
//! filtering, or address-dependent with `filtering.address_dependent`
//! (§3.5.1); RFC 6888 REQ-11 (a subscriber at its block cap or an empty
//! pool gets a counted drop, an ICMPv6 error and a rate-limited
//! `SubscriberLimit` / `PoolExhausted` event in the allocator's event queue,
//! nobody else is affected); session flood limits (a per-subscriber session
//! cap, a cap on sessions opened from the IPv4 side per mapping, fair
//! reclaim of a full table: `steps/filtering.rs`); static BIB entries from
//! `[[static_bib]]`.
//! Counters and drop reasons are `counters.rs`'s.
//!
//! Bursts (`process_*_burst`, `burst.rs`) give each packet what
//! `process_*` gives it one at a time; a burst of simple TCP and UDP
//! packets of established sessions takes the established fast path, in
//! one pass. The code that is the same in both directions is written once,
//! generic over the `TrafficDirection` (`direction.rs`).
//!
//! Fragments (RFC 6146 §3.4) branch off before any shortcut
//! (`steps/fragment.rs`), with the fragment store of `fragments.rs`; a
//! fragment that comes before its first is parked by the caller
//! ([`Action::Park`]) until [`Worker::next_unparked`] hands it back.
//!
//! Nothing is allocated per packet: every table, the held-SYN store, the
//! fragment store and the event queues are sized in [`Worker::new`].

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::direction::{Inbound, Outbound};
use super::fragments::FragStore;
use super::held_syn::HeldSyns;
use super::live::LiveSettings;
use super::pool4::{PoolLayout, PortAllocator};
use super::table::{BibEntry, Tables};
use super::{EventQueue, Millis, Served, Subscriber, Timeouts};
use crate::config::{Config, StaticBibEntry};
use crate::xlat::rfc6052::{Ipv4Spans, Nat64Prefix};
use crate::xlat::v4to6::flow4;
use crate::xlat::{PacketBuf, ReplyReason, XlatConfig, XlatState};

pub use super::counters::{Counters, DropCause, Nat64Drop};
pub use super::fragments::{Unpark, MAX_SLOTS};
pub use super::held_syn::{HELD_SYN_BYTES, HELD_SYN_SLOTS};

/// BIB room kept for static entries beyond `max_sessions_per_worker`:
/// twice the configured entries, and at least twice this many, so entries
/// added on reload find room.
const MIN_STATIC_ROOM: usize = 64;

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
    /// A fragment that came before its datagram's first fragment (RFC 6146
    /// §3.4): keep the buffer, as it is, in parking slot `slot` (slots
    /// `0..max_held_fragments_per_worker`) until
    /// [`Worker::next_unparked`] hands the slot back.
    Park { slot: u16 },
    /// Free the buffer; the reason has been counted.
    Drop(DropCause),
}

// The burst's verdicts are arrays of these: kept at four bytes (a `u16`
// parking slot, not a wider one).
const _: () = assert!(size_of::<Action>() <= 4);

/// What `tick` hands out.
#[derive(Debug)]
pub enum Emit<'a> {
    /// An IPv4 packet (an ICMP port unreachable for a held SYN that timed
    /// out) to send out of the outside port. The slice is only valid
    /// during the callback: copy it into an mbuf.
    Outside(&'a [u8]),
}

/// One worker lcore's NAT64: tables, port blocks, held SYNs, counters.
pub struct Worker {
    pub(super) id: u16,
    pub(super) n_workers: u16,
    pub(super) prefix: Nat64Prefix,
    /// The prefix is a /96: the IPv4 address is the last four bytes.
    pub(super) prefix_96: bool,
    /// `translation.allow_non_global_ipv4` (RFC 6052 §3.1).
    pub(super) allow_non_global: bool,
    /// `translation.deny4` in force (`Config::deny4`).
    pub(super) deny4: Ipv4Spans,
    pub(super) address_dependent: bool,
    pub(super) drop_external_tcp: bool,
    /// `pool4.max_sessions_per_subscriber` (0: no cap).
    pub(super) max_sessions_per_subscriber: u32,
    /// `filtering.max_inbound_sessions_per_mapping` (0: no cap).
    pub(super) max_inbound_per_mapping: u32,
    pub(super) subscriber_len: u8,
    /// `inside.subscribers` (the uRPF check of `steps/mod.rs`).
    pub(super) served: Served,
    pub(super) outside: Ipv4Addr,
    pub(super) timeouts: Timeouts,
    pub(super) xcfg: XlatConfig,
    pub(super) xstate: XlatState,
    pub(super) layout: Arc<PoolLayout>,
    pub(super) alloc: PortAllocator,
    pub(super) tables: Tables,
    pub(super) held: HeldSyns,
    pub(super) frags: FragStore,
    pub(super) counters: Counters,
    /// `[[static_bib]]` as last applied (`live.rs`).
    pub(super) static_bib: Vec<StaticBibEntry>,
    /// Added static entries a dynamic mapping is in the way of, and when
    /// to try them again (`live.rs`).
    pub(super) static_pending: Vec<StaticBibEntry>,
    pub(super) static_retry_at: Millis,
    /// The next session slot to check after a reload that narrowed who
    /// may reach what (`live.rs`); `None` when no check is under way.
    pub(super) sweep: Option<usize>,
}

impl Worker {
    /// Worker `worker` of `n_workers`: sizes every table from `cfg` and
    /// installs the static BIB entries this worker owns (those of its
    /// subscribers). `PortAllocator::new` keeps every static port out of
    /// dynamic allocation.
    pub fn new(cfg: &Config, layout: Arc<PoolLayout>, worker: u16, n_workers: u16) -> Worker {
        let max_sessions = cfg.workers.max_sessions_per_worker as usize;
        // Room for every static entry, and for as many added on reload.
        let max_bib = max_sessions + 2 * cfg.static_bib.len().max(MIN_STATIC_ROOM);
        let live = LiveSettings::new(cfg, layout);
        let alloc = PortAllocator::new(
            &live.layout,
            &cfg.pool4,
            worker,
            n_workers,
            BLOCK_EVENT_CAPACITY,
        );
        let mut w = Worker {
            id: worker,
            n_workers: n_workers.max(1),
            prefix: cfg.translation.prefix,
            prefix_96: cfg.translation.prefix.len() == 96,
            allow_non_global: live.allow_non_global,
            deny4: live.deny4.clone(),
            address_dependent: live.address_dependent,
            drop_external_tcp: live.drop_external_tcp,
            max_sessions_per_subscriber: live.max_sessions_per_subscriber,
            max_inbound_per_mapping: live.max_inbound_per_mapping,
            subscriber_len: cfg.pool4.subscriber_prefix_len,
            served: live.served.clone(),
            outside: cfg.outside.address,
            timeouts: live.timeouts,
            xcfg: live.xlat,
            xstate: XlatState::default(),
            layout: Arc::clone(&live.layout),
            alloc,
            tables: {
                // A subscriber with a session holds a block of the pool
                // (dynamic or deterministic) or a static entry: never more
                // of them than blocks and static entries.
                let subscribers = live.layout.total_blocks() as usize + max_bib - max_sessions;
                let mut t = Tables::sized(max_sessions, max_bib, subscribers);
                t.set_subscriber_prefix_len(cfg.pool4.subscriber_prefix_len);
                t
            },
            held: HeldSyns::new(HELD_SYN_SLOTS),
            frags: FragStore::new(
                cfg.workers.max_fragmented_datagrams_per_worker as usize,
                cfg.workers.max_held_fragments_per_worker as usize,
                u64::from(cfg.workers.max_held_fragment_bytes_per_worker),
                cfg.timeouts.fragment.as_millis().min(u128::from(u64::MAX)) as Millis,
                fragment_seed(),
            ),
            counters: Counters::default(),
            static_bib: Vec::new(),
            static_pending: Vec::new(),
            static_retry_at: 0,
            sweep: None,
        };
        w.set_static_bib(&[], &live.static_bib);
        w
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
        self.held.len()
    }

    /// Fragmented datagrams tracked right now (RFC 6146 §3.4).
    pub fn fragment_datagrams(&self) -> usize {
        self.frags.len()
    }

    /// Fragments parked right now ([`Action::Park`], until handed back).
    pub fn parked_fragments(&self) -> usize {
        self.frags.parked()
    }

    /// Parking slots the caller keeps for [`Action::Park`]
    /// (`workers.max_held_fragments_per_worker`).
    pub fn parking_slots(&self) -> usize {
        self.frags.slots()
    }

    /// Whether parked fragments wait to be taken back
    /// ([`Worker::next_unparked`]): check after every burst.
    #[inline(always)]
    pub fn has_unparked(&self) -> bool {
        self.frags.has_unparked()
    }

    /// The next parking slot handed back: its fragment runs through
    /// `process_6to4` / `process_4to6` again (`retry`: its first fragment
    /// came) or is freed (its window passed). Every slot of an
    /// [`Action::Park`] comes back exactly once.
    pub fn next_unparked(&mut self) -> Option<Unpark> {
        self.frags.next_unparked()
    }

    /// An IPv6 packet from the inside, in `buf` (starting at its IPv6
    /// header), through RFC 6146 §3.4-§3.8. Out of line, as
    /// `process_4to6`: the burst functions call it for a packet without a
    /// session, and do not carry its code beside the established fast
    /// path (`scripts/callgrind.sh`: 791 -> 787 instructions a packet 6to4).
    #[inline(never)]
    pub fn process_6to4(&mut self, buf: &mut PacketBuf, now: Millis) -> Action {
        self.process::<Outbound>(buf, now)
    }

    /// [`Worker::process_6to4`] for a burst: `actions[i]` is what
    /// `process_6to4` would have returned for `pkts[i]`, the packets taken
    /// in order (so packets of one new flow in a burst see the session the
    /// first of them made). Requires `actions.len() >= pkts.len()`.
    ///
    /// Up to [`BURST`](super::table::BURST) packets at a time, in stages:
    /// parse every packet and hash its session key; then, in one tight
    /// loop, load the index line, candidate session and BIB entry of each
    /// (their misses overlap, where one by one they would follow each
    /// other); then run each packet through the pipeline with its parsed
    /// flow and hash. The first two stages only read: every decision is
    /// taken in the third, in order. (Requesting the index lines already in
    /// the parse loop was measured slower: the loads, interleaved with
    /// parsing, fill the reorder window.) A chunk of simple packets of
    /// established sessions takes the established fast path first
    /// (`burst.rs`), with the same outcome.
    pub fn process_6to4_burst<'a, P>(&mut self, pkts: &mut [P], now: Millis, actions: &mut [Action])
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        self.process_burst::<Outbound, P>(pkts, now, actions)
    }

    /// An IPv4 packet from the outside (or handed off, or the IPv4 half of
    /// a hairpin), in `buf` starting at its IPv4 header, through RFC 6146
    /// §3.4-§3.7.
    #[inline(never)]
    pub fn process_4to6(&mut self, buf: &mut PacketBuf, now: Millis) -> Action {
        self.process::<Inbound>(buf, now)
    }

    /// [`Worker::process_4to6`] for an IPv4 packet another worker handed
    /// over: the same, but for a fragment, which this worker translates
    /// if it is not the datagram's home worker (the home worker handed it
    /// to this one, its owner: `steps/fragment.rs`).
    pub fn process_handed_4to6(&mut self, buf: &mut PacketBuf, now: Millis) -> Action {
        let res = flow4(buf.data());
        if let Ok(f) = &res {
            if let Some(frag) = f.frag {
                return self.fragment_4to6(buf, f, frag, true, now);
            }
        }
        self.process_flow::<Inbound>(buf, &res, None, now)
    }

    /// [`Worker::process_4to6`] for a burst, in stages as
    /// [`Worker::process_6to4_burst`]: `actions[i]` is what `process_4to6`
    /// would have returned for `pkts[i]`, the packets taken in order.
    /// Requires `actions.len() >= pkts.len()`.
    pub fn process_4to6_burst<'a, P>(&mut self, pkts: &mut [P], now: Millis, actions: &mut [Action])
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        self.process_burst::<Inbound, P>(pkts, now, actions)
    }

    /// Not per packet (call it every few milliseconds): expires sessions
    /// and BIB entries (releasing their ports), returns held-down blocks to
    /// the pool, and answers held SYNs whose TCP_INCOMING_SYN passed with
    /// an ICMPv4 port unreachable (RFC 6146 §3.5.2.2), handed to `out` as
    /// [`Emit::Outside`] (built in a stack buffer: nothing is allocated);
    /// then installs the static entries added on reload that waited for a
    /// dynamic mapping to go (`live.rs`).
    pub fn tick(&mut self, now: Millis, out: &mut dyn FnMut(Emit)) {
        let plen = self.subscriber_len;
        let alloc = &mut self.alloc;
        let n = self.tables.expire(now, &mut |e: &BibEntry| {
            alloc.release(Subscriber::of(&e.v6, plen), e.proto, e.v4, e.v4_port, now)
        });
        self.counters.sessions_expired += n as u64;
        self.alloc.tick(now);
        self.counters.block_events_dropped = self.alloc.events().dropped();
        self.expire_held_syns(now, out);
        self.retry_static(now);
        self.sweep_step(now);
        // RFC 6146 §3.4: datagrams whose window passed; their held
        // fragments are handed back to be freed.
        self.counters.fragments_timed_out += self.frags.expire(now).fragments;
    }
}

/// Random hash keys for a worker's fragment store (no hash flooding).
fn fragment_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests;
