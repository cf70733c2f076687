//! Per-worker BIB and session tables (RFC 6146 §3.1, §3.2, §3.5).
//!
//! What this promises:
//! - Capacity is fixed at [`Tables::new`] (from `workers.max_sessions_per_worker`):
//!   every byte is allocated and touched there, nothing on the per-packet
//!   path. A full table answers [`TableFull`]; [`Tables::reclaim`] makes room.
//! - Entries live in flat arrays and are referenced by index ([`BibId`],
//!   [`SessionId`]); free entries are chained through those arrays.
//! - O(1) lookups in both directions: a BIB entry by its IPv6 transport
//!   address (X',x) or its IPv4 one (T,t) (§3.1); a session by its inside
//!   tuple (X',x, Z,z) or its outside tuple (T,t, Z,z) (§3.2). Four
//!   open-addressing indexes (`crate::index`), a hash computed once per
//!   lookup with per-table random keys (no hash flooding), the full key
//!   verified against the entries on a tag match.
//! - Expiry (§3.5.1, §3.5.2, §3.5.3): every session sits on the list of its
//!   [`TimerClass`] in expiry order, so [`Tables::expire`] costs O(expired)
//!   and [`Tables::reclaim`] finds the stalest entry of a class in O(1). A
//!   dynamic BIB entry lives while it has a session (§3.5.1.1: "the BIB entry
//!   is deleted when the last session ... is deleted"); static ones stay.
//! - Time is an argument (`now`, monotonic milliseconds).
//! - Burst lookups ([`Tables::sessions_by_v6`], [`Tables::sessions_by_v4`])
//!   for an rx burst: the same answers as one-by-one lookups, with the
//!   memory accesses of up to [`BURST`] keys issued stage by stage so that
//!   their cache and TLB misses overlap.
//!
//! Lazy touch (as VPP's NAT does with its LRU lists): a [`Tables::touch`]
//! always sets the exact `expires`, but moves the session to its list's tail
//! only when its expiry moved by at least the touch granularity
//! ([`DEFAULT_TOUCH_GRANULARITY`], see [`Tables::set_touch_granularity`]),
//! so a busy flow's packets write one word of the session and nothing else.
//! The price: the lists are sorted only to within the granularity, and a
//! session may be removed by [`Tables::expire`] up to that much after its
//! `expires` (RFC 6146's lifetimes are minimums). Granularity 0 is exact.
//!
//! - Counts kept on every insert and removal, each one hashed lookup
//!   (`counts.rs`): live sessions per subscriber (the BIB entry's IPv6
//!   address under [`Tables::set_subscriber_prefix_len`]), for the
//!   session cap and fair reclaim; live sessions per (BIB entry, remote
//!   address), so that the address-dependent filter's question
//!   ([`Tables::bib_has_remote_addr`]) costs O(1) expected however many
//!   sessions the entry has; per BIB entry, its sessions opened from the
//!   IPv4 side (`BibEntry::inbound`).
//! - A full table is reclaimed fairly ([`Tables::reclaim`]): expired
//!   sessions first; a live session only for a session opened from the
//!   inside, and only one of the asking subscriber or of a subscriber
//!   holding more sessions.
//!
//! Memory per session, all in, with `max_bib == max_sessions` (the worst
//! case): 32 B session + 8 B its links in the BIB's session list + 32 B BIB
//! entry + 4 B BIB list head + four index slots of 8 B at load <= 3/4
//! (<= 43 B) + the (BIB entry, remote) count map (a 12 B entry and an index
//! slot: <= 23 B) = at most ~142 B, plus the per-subscriber count map (a
//! 20 B entry and an index slot, <= 31 B) per subscriber room
//! ([`Tables::sized`]: a worker gives it its pool's blocks, far fewer than
//! sessions; [`Tables::new`] one per session) ([`Tables::memory_bytes`]
//! gives the exact sum).
//!
//! Costs: a lookup hashes its key once, reads one index cache line, the
//! session and its BIB entry (three cache lines; the BIB entry is the one
//! the translation reads next anyway). At a million sessions those are
//! cache and TLB misses, so large tables want huge pages: the binary's
//! global allocator (`dpdk::HugeAlloc`) puts every allocation of 2 MiB or
//! more on transparent huge pages, which takes the page walk out of each
//! miss; bursts ([`Tables::warm_v6`]) overlap the misses of 32 packets. An insert
//! writes four index slots (linear probing, expected < 9 probes at full
//! load), a removal shifts back at most the rest of a probe run.

mod counts;
#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::index::HashIndex as Index;

use self::counts::CountMap;
use super::{Millis, Subscriber, TcpState, Timeouts, TimerClass, L4};

/// Default touch granularity: a session moves on its expiry list at most
/// once per second of refreshed lifetime.
pub const DEFAULT_TOUCH_GRANULARITY: Millis = 1000;

/// An entry's index, or none: a link of a list, a list's head or tail,
/// the head of a free list. An `Option<u32>` in four bytes: `u32::MAX`,
/// which no entry has (tables hold fewer, [`MAX_ENTRIES`]), is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link(u32);

impl Link {
    /// No entry: the end of a list, an empty list or free list.
    const NONE: Link = Link(u32::MAX);

    /// Entry `i` (below [`MAX_ENTRIES`]).
    #[inline(always)]
    fn to(i: u32) -> Link {
        debug_assert!((i as usize) < MAX_ENTRIES);
        Link(i)
    }

    /// The entry, if any.
    #[inline(always)]
    fn get(self) -> Option<u32> {
        (self != Link::NONE).then_some(self.0)
    }

    /// The entry's index into its array; for `NONE` one past any array, so
    /// `slice::get` finds nothing (the burst's loads skip it without a
    /// test of their own).
    #[inline(always)]
    fn slot(self) -> usize {
        self.0 as usize
    }
}

/// The most entries (sessions, BIB entries) a table holds: their indexes
/// stay below `Link::NONE`.
const MAX_ENTRIES: usize = u32::MAX as usize - 1;
/// `Session::list` of a free session.
const FREE: u8 = u8::MAX;
/// `BibEntry::sessions` of a free BIB entry. Left a sentinel where the
/// links became [`Link`]s: `sessions` is a public count that callers build
/// entries with and compare to numbers, and a 32-byte entry has no room
/// for a private marker, so an `Option`-like type here would change
/// `BibEntry`'s public shape for every caller. Only the table reads it.
const BIB_FREE: u32 = u32::MAX;

/// Order in which [`Tables::reclaim`] sacrifices sessions: cheapest first.
const RECLAIM_ORDER: [TimerClass; 5] = [
    TimerClass::TcpTransitory,
    TimerClass::TcpIncomingSyn,
    TimerClass::Icmp,
    TimerClass::Udp,
    TimerClass::TcpEstablished,
];

/// Sessions of each expiry list, stalest first, that [`Tables::reclaim`]
/// looks at for one of a subscriber bigger than the asker: a bound on the
/// work of a reclaim, which runs on the packet's path.
const RECLAIM_LOOKAHEAD: usize = 8;

/// Keys per stage of a burst lookup ([`Tables::sessions_by_v6`]).
pub const BURST: usize = 32;

/// An inside session key (proto, X', x, Z, z), for burst lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V6Key {
    pub proto: L4,
    pub v6: Ipv6Addr,
    pub port: u16,
    pub remote: Ipv4Addr,
    pub remote_port: u16,
}

/// An outside session key (proto, T, t, Z, z), for burst lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4Key {
    pub proto: L4,
    pub v4: Ipv4Addr,
    pub port: u16,
    pub remote: Ipv4Addr,
    pub remote_port: u16,
}

/// A session key's hash under one table's keys ([`Tables::session_hash_v6`]);
/// the default is a filler for unused array slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyHash(u64);

/// A BIB entry's index in its worker's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BibId(u32);

impl BibId {
    /// The index, for side arrays of `bib_capacity()` entries.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A session's index in its worker's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u32);

impl SessionId {
    /// The index, for side arrays of `capacity()` entries.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The table has no free entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

impl std::fmt::Display for TableFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("table full")
    }
}

impl std::error::Error for TableFull {}

/// A binding (RFC 6146 §3.1): IPv6 transport address (X',x) <-> IPv4 (T,t).
/// 32 bytes, aligned so that one never straddles two cache lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(align(32))]
pub struct BibEntry {
    pub proto: L4,
    pub v6: Ipv6Addr,
    pub v6_port: u16,
    pub v4: Ipv4Addr,
    pub v4_port: u16,
    /// Configured (`[[static_bib]]`): never expires, never reported.
    pub is_static: bool,
    /// Sessions using this entry (kept by the table; ignored on insert).
    pub sessions: u32,
    /// Of those, the ones opened from the IPv4 side
    /// ([`Tables::set_opened_from_v4`]; kept by the table, ignored on
    /// insert, saturating at `u16::MAX`).
    pub inbound: u16,
}

/// A session (RFC 6146 §3.2): a BIB entry plus the remote IPv4 transport
/// address (Z,z). The fields are public to read; `class`, `expires` and
/// `bib` change only through [`Tables::touch`] (the table keeps its own
/// copy of which list the session is on, so a stray write cannot corrupt
/// the lists). `tcp` belongs to the caller's state machine.
/// 32 bytes, aligned so that one never straddles two cache lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(align(32))]
pub struct Session {
    pub bib: BibId,
    pub remote: Ipv4Addr,
    pub remote_port: u16,
    pub tcp: TcpState,
    pub class: TimerClass,
    /// When the session expires (the last touch plus its class's timeout).
    pub expires: Millis,
    /// `expires` minus the expiry the session was listed under (lazy touch).
    slack: u16,
    /// Index of the expiry list the session is on; `FREE` if free.
    list: u8,
    /// Neighbours on the expiry list (`next` chains the free list).
    prev: Link,
    next: Link,
    /// Opened from the IPv4 side and counted in its BIB entry's
    /// `inbound` ([`Tables::set_opened_from_v4`]).
    pub from_v4: bool,
}

const _: () = assert!(size_of::<Session>() == 32);
const _: () = assert!(size_of::<BibEntry>() == 32);

/// A session's neighbours among its BIB entry's sessions.
#[derive(Debug, Clone, Copy)]
struct BibLink {
    prev: Link,
    next: Link,
}

/// Per-table random hash keys.
#[derive(Debug, Clone, Copy)]
struct Keys([u64; 4]);

/// 64x64->128 multiply folded to 64 bits (the wyhash mixing step).
#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline(always)]
/// A protocol's slot in the per-protocol BIB counts.
fn bib_proto_index(p: L4) -> usize {
    match p {
        L4::Tcp => 0,
        L4::Udp => 1,
        L4::Icmp => 2,
    }
}

fn proto_bits(p: L4) -> u64 {
    match p {
        L4::Tcp => 1,
        L4::Udp => 2,
        L4::Icmp => 3,
    }
}

impl Keys {
    fn new(seed: u64) -> Keys {
        let mut s = seed;
        let mut k = [0u64; 4];
        for x in &mut k {
            s = super::mix64(s);
            *x = s | 1;
        }
        Keys(k)
    }

    #[inline(always)]
    fn v6_halves(&self, v6: &Ipv6Addr) -> u64 {
        let v = u128::from(*v6);
        mum((v >> 64) as u64 ^ self.0[0], v as u64 ^ self.0[1])
    }

    /// Session by inside tuple (proto, X', x, Z, z).
    #[inline(always)]
    fn session_v6(&self, p: L4, v6: &Ipv6Addr, port: u16, z: Ipv4Addr, zp: u16) -> u64 {
        let c = (u64::from(u32::from(z)) << 32) | (u64::from(port) << 16) | u64::from(zp);
        mum(
            self.v6_halves(v6) ^ c ^ self.0[2],
            self.0[3] ^ proto_bits(p),
        )
    }

    /// Session by outside tuple (proto, T, t, Z, z).
    #[inline(always)]
    fn session_v4(&self, p: L4, v4: Ipv4Addr, port: u16, z: Ipv4Addr, zp: u16) -> u64 {
        let a = (u64::from(u32::from(v4)) << 32) | u64::from(u32::from(z));
        let b = (u64::from(port) << 32) | (u64::from(zp) << 16) | proto_bits(p);
        mum(a ^ self.0[2], b ^ self.0[3])
    }

    /// BIB by (proto, X', x).
    #[inline(always)]
    fn bib_v6(&self, p: L4, v6: &Ipv6Addr, port: u16) -> u64 {
        let c = (u64::from(port) << 8) | proto_bits(p);
        mum(self.v6_halves(v6) ^ self.0[2], c ^ self.0[3])
    }

    /// BIB by (proto, T, t).
    #[inline(always)]
    fn bib_v4(&self, p: L4, v4: Ipv4Addr, port: u16) -> u64 {
        let a = (u64::from(u32::from(v4)) << 32) | (u64::from(port) << 8) | proto_bits(p);
        mum(a ^ self.0[1], self.0[3])
    }

    /// A subscriber's prefix (the per-subscriber session counts).
    #[inline(always)]
    fn subscriber(&self, s: &Subscriber) -> u64 {
        mum(self.v6_halves(&s.0) ^ self.0[3], self.0[2])
    }

    /// (BIB entry, remote address Z) (the address-dependent filter).
    #[inline(always)]
    fn remote(&self, bib: BibId, z: Ipv4Addr) -> u64 {
        let a = (u64::from(bib.0) << 32) | u64::from(u32::from(z));
        mum(a ^ self.0[0], self.0[1] ^ self.0[2])
    }
}

/// A subscriber's key in the per-subscriber session counts.
#[inline(always)]
fn subscriber_key(s: &Subscriber) -> [u32; 4] {
    let v = u128::from(s.0);
    [
        (v >> 96) as u32,
        (v >> 64) as u32,
        (v >> 32) as u32,
        v as u32,
    ]
}

/// One worker's BIB and session tables.
#[derive(Debug, Clone)]
pub struct Tables {
    sessions: Box<[Session]>,
    /// Per session: its place in its BIB entry's session list.
    links: Box<[BibLink]>,
    bibs: Box<[BibEntry]>,
    /// Per BIB entry: its first session (or, when free, the next free entry).
    bib_first: Box<[Link]>,
    s_by_v6: Index,
    s_by_v4: Index,
    b_by_v6: Index,
    b_by_v4: Index,
    heads: [Link; 5],
    tails: [Link; 5],
    class_len: [u32; 5],
    free_session: Link,
    free_bib: Link,
    n_sessions: u32,
    /// BIB entries in use per protocol ([`bib_proto_index`] order).
    n_bib: [u32; 3],
    /// Live sessions per subscriber (a BIB entry's IPv6 address under
    /// `subscriber_len`): the session cap and fair reclaim.
    per_subscriber: CountMap<4>,
    /// Live sessions per (BIB entry, remote address): the
    /// address-dependent filter's question in one lookup.
    per_remote: CountMap<2>,
    subscriber_len: u8,
    keys: Keys,
    granularity: Millis,
}

impl Tables {
    /// Tables for at most `max_sessions` sessions and `max_bib` BIB entries
    /// (static ones included). All memory is allocated and touched here.
    /// Hash keys are random per table.
    pub fn new(max_sessions: usize, max_bib: usize) -> Tables {
        Tables::sized(max_sessions, max_bib, max_sessions)
    }

    /// As [`Tables::new`], counting sessions for at most `max_subscribers`
    /// subscribers at once (the per-subscriber count map's room: a worker
    /// knows a bound far below its session capacity, its pool's blocks).
    pub fn sized(max_sessions: usize, max_bib: usize, max_subscribers: usize) -> Tables {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Tables::build(max_sessions, max_bib, max_subscribers, seed)
    }

    /// As [`Tables::new`], with the hash keys derived from `seed`
    /// (reproducible tests and benchmarks).
    pub fn with_seed(max_sessions: usize, max_bib: usize, seed: u64) -> Tables {
        Tables::build(max_sessions, max_bib, max_sessions, seed)
    }

    fn build(max_sessions: usize, max_bib: usize, max_subscribers: usize, seed: u64) -> Tables {
        let max_sessions = max_sessions.min(MAX_ENTRIES);
        let max_bib = max_bib.min(MAX_ENTRIES);
        // Each free list chains its entries in index order.
        let next_free = |i: usize, n: usize| {
            if i + 1 < n {
                Link::to(i as u32 + 1)
            } else {
                Link::NONE
            }
        };
        let sessions: Box<[Session]> = (0..max_sessions)
            .map(|i| Session {
                // Set by `session_insert`; a free session's is never read.
                bib: BibId(0),
                remote: Ipv4Addr::UNSPECIFIED,
                remote_port: 0,
                tcp: TcpState::Closed,
                class: TimerClass::Udp,
                expires: 0,
                slack: 0,
                list: FREE,
                prev: Link::NONE,
                next: next_free(i, max_sessions),
                from_v4: false,
            })
            .collect();
        let bibs: Box<[BibEntry]> = (0..max_bib)
            .map(|_| BibEntry {
                proto: L4::Udp,
                v6: Ipv6Addr::UNSPECIFIED,
                v6_port: 0,
                v4: Ipv4Addr::UNSPECIFIED,
                v4_port: 0,
                is_static: false,
                sessions: BIB_FREE,
                inbound: 0,
            })
            .collect();
        let bib_first: Box<[Link]> = (0..max_bib).map(|i| next_free(i, max_bib)).collect();
        Tables {
            sessions,
            links: vec![
                BibLink {
                    prev: Link::NONE,
                    next: Link::NONE
                };
                max_sessions
            ]
            .into_boxed_slice(),
            bibs,
            bib_first,
            s_by_v6: Index::new(max_sessions),
            s_by_v4: Index::new(max_sessions),
            b_by_v6: Index::new(max_bib),
            b_by_v4: Index::new(max_bib),
            heads: [Link::NONE; 5],
            tails: [Link::NONE; 5],
            class_len: [0; 5],
            free_session: if max_sessions > 0 {
                Link::to(0)
            } else {
                Link::NONE
            },
            free_bib: if max_bib > 0 { Link::to(0) } else { Link::NONE },
            n_sessions: 0,
            n_bib: [0; 3],
            // Each counted key has a live session: never more keys than
            // sessions (nor, the caller says, than `max_subscribers`).
            per_subscriber: CountMap::new(max_subscribers.min(max_sessions)),
            per_remote: CountMap::new(max_sessions),
            subscriber_len: 128,
            keys: Keys::new(seed),
            granularity: DEFAULT_TOUCH_GRANULARITY,
        }
    }

    /// Sets the leading IPv6 bits that make a subscriber
    /// (`pool4.subscriber_prefix_len`; 128 until set), for
    /// [`Tables::subscriber_sessions`]. Only on an empty table.
    pub fn set_subscriber_prefix_len(&mut self, len: u8) {
        debug_assert_eq!(self.n_sessions, 0, "subscriber length of a used table");
        self.subscriber_len = len;
    }

    /// Sets the lazy-touch granularity (0: every touch moves the session,
    /// expiry exact). Capped at 65535 ms.
    pub fn set_touch_granularity(&mut self, ms: Millis) {
        self.granularity = ms.min(Millis::from(u16::MAX));
    }

    /// Sessions the table can hold.
    pub fn capacity(&self) -> usize {
        self.sessions.len()
    }

    /// BIB entries the table can hold.
    pub fn bib_capacity(&self) -> usize {
        self.bibs.len()
    }

    /// The sessions in use among slots `slots` (cut to [`Tables::capacity`]),
    /// in slot order: a walk that resumes at `slots.end` sees every session
    /// that stayed in the table meanwhile once. O(`slots.len()`), for
    /// inspection; nothing on the per-packet path.
    pub fn sessions_in(&self, slots: Range<usize>) -> impl Iterator<Item = (SessionId, &Session)> {
        let end = slots.end.min(self.sessions.len());
        let start = slots.start.min(end);
        (start..end)
            .zip(&self.sessions[start..end])
            .filter(|(_, s)| s.list != FREE)
            .map(|(i, s)| (SessionId(i as u32), s))
    }

    /// The BIB entries in use among slots `slots` (cut to
    /// [`Tables::bib_capacity`]), in slot order, as
    /// [`Tables::sessions_in`] walks sessions.
    pub fn bibs_in(&self, slots: Range<usize>) -> impl Iterator<Item = (BibId, &BibEntry)> {
        let end = slots.end.min(self.bibs.len());
        let start = slots.start.min(end);
        (start..end)
            .zip(&self.bibs[start..end])
            .filter(|(_, b)| b.sessions != BIB_FREE)
            .map(|(i, b)| (BibId(i as u32), b))
    }

    /// Sessions in use.
    pub fn sessions_len(&self) -> usize {
        self.n_sessions as usize
    }

    /// BIB entries in use (static ones included).
    pub fn bib_len(&self) -> usize {
        self.n_bib.iter().map(|&n| n as usize).sum()
    }

    /// BIB entries in use for `proto` (static ones included).
    pub fn bib_len_of(&self, proto: L4) -> usize {
        self.n_bib[bib_proto_index(proto)] as usize
    }

    /// Sessions in use in `class`.
    pub fn class_len(&self, class: TimerClass) -> usize {
        self.class_len[class.index()] as usize
    }

    /// Bytes allocated for all arrays and indexes.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.sessions.len() * size_of::<Session>()
            + self.links.len() * size_of::<BibLink>()
            + self.bibs.len() * size_of::<BibEntry>()
            + self.bib_first.len() * size_of::<u32>()
            + self.s_by_v6.bytes()
            + self.s_by_v4.bytes()
            + self.b_by_v6.bytes()
            + self.b_by_v4.bytes()
            + self.per_subscriber.bytes()
            + self.per_remote.bytes()
    }

    // ---- BIB (§3.1) ----

    /// The BIB entry for IPv6 transport address (v6, port).
    #[inline]
    pub fn bib_by_v6(&self, proto: L4, v6: &Ipv6Addr, port: u16) -> Option<BibId> {
        let h = self.keys.bib_v6(proto, v6, port);
        self.b_by_v6
            .find(h, |i| {
                let b = &self.bibs[i as usize];
                b.v6_port == port && b.v6 == *v6 && b.proto == proto
            })
            .map(BibId)
    }

    /// The BIB entry for IPv4 transport address (v4, port).
    #[inline]
    pub fn bib_by_v4(&self, proto: L4, v4: Ipv4Addr, port: u16) -> Option<BibId> {
        let h = self.keys.bib_v4(proto, v4, port);
        self.b_by_v4
            .find(h, |i| {
                let b = &self.bibs[i as usize];
                b.v4_port == port && b.v4 == v4 && b.proto == proto
            })
            .map(BibId)
    }

    /// The BIB entry `id`.
    #[inline]
    pub fn bib(&self, id: BibId) -> &BibEntry {
        &self.bibs[id.index()]
    }

    /// BIB entry `id` if it is in use (for ids kept across calls that may
    /// have removed it).
    #[inline]
    pub fn bib_get(&self, id: BibId) -> Option<&BibEntry> {
        self.bibs.get(id.index()).filter(|b| b.sessions != BIB_FREE)
    }

    /// Adds a BIB entry. The caller has checked that neither of its
    /// transport addresses is bound already. `e.sessions` is ignored.
    pub fn bib_insert(&mut self, e: BibEntry) -> Result<BibId, TableFull> {
        let Some(id) = self.free_bib.get() else {
            return Err(TableFull);
        };
        debug_assert!(self.bib_by_v6(e.proto, &e.v6, e.v6_port).is_none());
        debug_assert!(self.bib_by_v4(e.proto, e.v4, e.v4_port).is_none());
        let i = id as usize;
        self.free_bib = self.bib_first[i];
        self.bib_first[i] = Link::NONE;
        // Both index lines are requested before either is written, so
        // their cache misses overlap.
        let h6 = self.keys.bib_v6(e.proto, &e.v6, e.v6_port);
        let h4 = self.keys.bib_v4(e.proto, e.v4, e.v4_port);
        self.b_by_v6.touch(h6);
        self.b_by_v4.touch(h4);
        self.bibs[i] = BibEntry {
            sessions: 0,
            inbound: 0,
            ..e
        };
        self.b_by_v6.insert(h6, id);
        self.b_by_v4.insert(h4, id);
        self.n_bib[bib_proto_index(e.proto)] += 1;
        Ok(BibId(id))
    }

    /// Removes BIB entry `id` (static or not) with all its sessions;
    /// returns the entry. Nothing is reported.
    pub fn bib_remove(&mut self, id: BibId) -> BibEntry {
        let mut e = self.bibs[id.index()];
        if e.sessions == BIB_FREE {
            return e;
        }
        // Keep the entry alive while its sessions go, then drop it.
        self.bibs[id.index()].is_static = true;
        while let Some(s) = self.bib_first[id.index()].get() {
            self.remove_inner(s, &mut |_, _, _| {}, &mut |_| {});
        }
        e.sessions = 0;
        self.free_bib_entry(id.0);
        e
    }

    /// Static BIB entry `id` becomes an ordinary one (its `[[static_bib]]`
    /// entry was removed on reload): without a session it goes now,
    /// otherwise with its last session, as any dynamic entry (RFC 6146
    /// §3.5 timers). Nothing is reported: a static entry's port was never
    /// the allocator's.
    pub fn bib_unset_static(&mut self, id: BibId) {
        match self.bibs.get(id.index()).map(|b| b.sessions) {
            None | Some(BIB_FREE) => {}
            Some(0) => {
                self.bib_remove(id);
            }
            Some(_) => self.bibs[id.index()].is_static = false,
        }
    }

    /// ADF (RFC 6146 §3.5.1, address-dependent filtering): does BIB entry
    /// `bib` have a session with remote address `z`? One lookup in the
    /// per-(entry, remote) session counts, O(1) expected however many
    /// sessions the entry has (a walk of them would let one mapping with
    /// 100k sessions stall the worker on every outside packet).
    pub fn bib_has_remote_addr(&self, bib: BibId, z: Ipv4Addr) -> bool {
        self.per_remote
            .get(self.keys.remote(bib, z), [bib.0, u32::from(z)])
            != 0
    }

    /// Keys the address-dependent checks compared so far (test helper:
    /// proof that [`Tables::bib_has_remote_addr`] does not walk).
    #[cfg(test)]
    pub(in crate::nat64) fn adf_keys_compared(&self) -> u64 {
        self.per_remote.compared()
    }

    /// Live sessions of the subscriber of IPv6 address `v6` (its prefix
    /// of [`Tables::set_subscriber_prefix_len`] bits): one lookup.
    pub fn subscriber_sessions(&self, v6: &Ipv6Addr) -> u32 {
        self.subscriber_count(&Subscriber::of(v6, self.subscriber_len))
    }

    /// Session `id` (in use) was opened by a packet from the IPv4 side:
    /// count it in its BIB entry's `inbound` while it lives (unless that
    /// count is at `u16::MAX` already).
    pub fn set_opened_from_v4(&mut self, id: SessionId) {
        let s = &mut self.sessions[id.index()];
        if s.list == FREE || s.from_v4 {
            return;
        }
        let b = &mut self.bibs[s.bib.index()];
        if let Some(n) = b.inbound.checked_add(1) {
            b.inbound = n;
            s.from_v4 = true;
        }
    }

    /// The sessions of BIB entry `bib`, newest first.
    pub fn bib_sessions(&self, bib: BibId) -> impl Iterator<Item = SessionId> + '_ {
        let first = if self.bibs[bib.index()].sessions == BIB_FREE {
            Link::NONE
        } else {
            self.bib_first[bib.index()]
        };
        std::iter::successors(first.get(), move |&s| self.links[s as usize].next.get())
            .map(SessionId)
    }

    // ---- Sessions (§3.2) ----

    /// The session for inside tuple (X',x) -> (Z,z).
    #[inline]
    pub fn session_by_v6(
        &self,
        proto: L4,
        v6: &Ipv6Addr,
        port: u16,
        remote: Ipv4Addr,
        remote_port: u16,
    ) -> Option<SessionId> {
        let k = V6Key {
            proto,
            v6: *v6,
            port,
            remote,
            remote_port,
        };
        self.find_v6(self.hash_v6(&k), &k)
    }

    /// The session for outside tuple (T,t) <- (Z,z).
    #[inline]
    pub fn session_by_v4(
        &self,
        proto: L4,
        v4: Ipv4Addr,
        port: u16,
        remote: Ipv4Addr,
        remote_port: u16,
    ) -> Option<SessionId> {
        let k = V4Key {
            proto,
            v4,
            port,
            remote,
            remote_port,
        };
        self.find_v4(self.hash_v4(&k), &k)
    }

    /// [`Tables::session_by_v6`] for a burst of keys: `out[i]` answers
    /// `keys[i]` (up to the shorter of the two). The lookups run in stages
    /// over up to [`BURST`] keys at a time (all index lines, then all
    /// candidate sessions, then their BIB entries) so that their cache
    /// misses overlap instead of following one another.
    pub fn sessions_by_v6(&self, keys: &[V6Key], out: &mut [Option<SessionId>]) {
        for (ks, os) in keys.chunks(BURST).zip(out.chunks_mut(BURST)) {
            let mut h = [0u64; BURST];
            for (k, hh) in ks.iter().zip(&mut h) {
                *hh = self.hash_v6(k);
                self.s_by_v6.touch(*hh);
            }
            self.warm(&self.s_by_v6, &h[..ks.len()]);
            for ((k, &hh), o) in ks.iter().zip(&h).zip(os.iter_mut()) {
                *o = self.find_v6(hh, k);
            }
        }
    }

    /// [`Tables::session_by_v4`] for a burst of keys (see
    /// [`Tables::sessions_by_v6`]).
    pub fn sessions_by_v4(&self, keys: &[V4Key], out: &mut [Option<SessionId>]) {
        for (ks, os) in keys.chunks(BURST).zip(out.chunks_mut(BURST)) {
            let mut h = [0u64; BURST];
            for (k, hh) in ks.iter().zip(&mut h) {
                *hh = self.hash_v4(k);
                self.s_by_v4.touch(*hh);
            }
            self.warm(&self.s_by_v4, &h[..ks.len()]);
            for ((k, &hh), o) in ks.iter().zip(&h).zip(os.iter_mut()) {
                *o = self.find_v4(hh, k);
            }
        }
    }

    /// The hash of inside key `k` under this table's keys: computed once
    /// in a burst's first stage, used by [`Tables::warm_v6`] and
    /// [`Tables::session_by_v6_hashed`]. Valid for this table's life (the
    /// keys never change), whatever is inserted or removed meanwhile.
    #[inline(always)]
    pub fn session_hash_v6(&self, k: &V6Key) -> KeyHash {
        KeyHash(self.hash_v6(k))
    }

    /// [`Tables::session_hash_v6`] for an outside key.
    #[inline(always)]
    pub fn session_hash_v4(&self, k: &V4Key) -> KeyHash {
        KeyHash(self.hash_v4(k))
    }

    /// Second stage of a burst: the index lines, candidate sessions (and their BIB
    /// entries) of inside keys `keys` with hashes `hs` (at most [`BURST`]),
    /// loaded with overlapping misses. A key with no candidate is probably
    /// a new flow, whose BIB lookup comes next: its BIB index line is
    /// requested instead. A hint only: lookups stay exact.
    #[inline]
    pub fn warm_v6(&self, keys: &[V6Key], hs: &[KeyHash]) {
        let n = hs.len().min(keys.len()).min(BURST);
        let mut bib = [Link::NONE; BURST];
        for ((k, h), b) in keys[..n].iter().zip(&hs[..n]).zip(&mut bib) {
            match self.sessions.get(self.s_by_v6.candidate(h.0) as usize) {
                Some(s) => *b = Link::to(s.bib.0),
                None => self.b_by_v6.touch(self.keys.bib_v6(k.proto, &k.v6, k.port)),
            }
        }
        self.warm_bibs(&bib[..n]);
    }

    /// [`Tables::warm_v6`] for outside keys.
    #[inline]
    pub fn warm_v4(&self, keys: &[V4Key], hs: &[KeyHash]) {
        let n = hs.len().min(keys.len()).min(BURST);
        let mut bib = [Link::NONE; BURST];
        for ((k, h), b) in keys[..n].iter().zip(&hs[..n]).zip(&mut bib) {
            match self.sessions.get(self.s_by_v4.candidate(h.0) as usize) {
                Some(s) => *b = Link::to(s.bib.0),
                None => self.b_by_v4.touch(self.keys.bib_v4(k.proto, k.v4, k.port)),
            }
        }
        self.warm_bibs(&bib[..n]);
    }

    /// Loads BIB entries `ids` (`Link::NONE`s skipped).
    #[inline(always)]
    fn warm_bibs(&self, ids: &[Link]) {
        for &b in ids {
            if let Some(e) = self.bibs.get(b.slot()) {
                std::hint::black_box(e.proto);
            }
        }
    }

    /// [`Tables::session_by_v6`] with the key's hash already computed (by
    /// [`Tables::session_hash_v6`] of this table, for this very key).
    /// Always inlined: it is the per-packet lookup of every path, and a
    /// call (which LLVM chose for the filtering step) cost about 25
    /// instructions a packet under callgrind.
    #[inline(always)]
    pub fn session_by_v6_hashed(&self, h: KeyHash, k: &V6Key) -> Option<SessionId> {
        debug_assert_eq!(h.0, self.hash_v6(k), "hash of another key");
        self.find_v6(h.0, k)
    }

    /// [`Tables::session_by_v4`] with the key's hash already computed
    /// (always inlined, as [`Tables::session_by_v6_hashed`]).
    #[inline(always)]
    pub fn session_by_v4_hashed(&self, h: KeyHash, k: &V4Key) -> Option<SessionId> {
        debug_assert_eq!(h.0, self.hash_v4(k), "hash of another key");
        self.find_v4(h.0, k)
    }

    #[inline(always)]
    fn hash_v6(&self, k: &V6Key) -> u64 {
        self.keys
            .session_v6(k.proto, &k.v6, k.port, k.remote, k.remote_port)
    }

    #[inline(always)]
    fn hash_v4(&self, k: &V4Key) -> u64 {
        self.keys
            .session_v4(k.proto, k.v4, k.port, k.remote, k.remote_port)
    }

    #[inline(always)]
    fn find_v6(&self, h: u64, k: &V6Key) -> Option<SessionId> {
        self.s_by_v6
            .find(h, |i| {
                let s = &self.sessions[i as usize];
                if s.remote != k.remote || s.remote_port != k.remote_port {
                    return false;
                }
                let b = &self.bibs[s.bib.index()];
                b.v6_port == k.port && b.v6 == k.v6 && b.proto == k.proto
            })
            .map(SessionId)
    }

    #[inline(always)]
    fn find_v4(&self, h: u64, k: &V4Key) -> Option<SessionId> {
        self.s_by_v4
            .find(h, |i| {
                let s = &self.sessions[i as usize];
                if s.remote != k.remote || s.remote_port != k.remote_port {
                    return false;
                }
                let b = &self.bibs[s.bib.index()];
                b.v4_port == k.port && b.v4 == k.v4 && b.proto == k.proto
            })
            .map(SessionId)
    }

    /// Brings the index lines, candidate sessions and their BIB entries of a
    /// burst into the cache, each stage's loads independent of each other.
    #[inline(always)]
    fn warm(&self, index: &Index, h: &[u64]) {
        let mut cand = [Link::NONE; BURST];
        for (&hh, c) in h.iter().zip(&mut cand) {
            // `candidate` answers `u32::MAX` for none: `Link::NONE`.
            *c = Link(index.candidate(hh));
        }
        let mut bib = [Link::NONE; BURST];
        for (&c, b) in cand[..h.len()].iter().zip(&mut bib) {
            if let Some(s) = self.sessions.get(c.slot()) {
                *b = Link::to(s.bib.0);
            }
        }
        self.warm_bibs(&bib[..h.len()]);
    }

    /// Session `id`.
    #[inline]
    pub fn session(&self, id: SessionId) -> &Session {
        &self.sessions[id.index()]
    }

    /// Session `id`, to update `tcp`.
    #[inline]
    pub fn session_mut(&mut self, id: SessionId) -> &mut Session {
        &mut self.sessions[id.index()]
    }

    /// Session `id` if it is in use (for ids kept across calls that may
    /// have expired it).
    #[inline]
    pub fn session_get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(id.index()).filter(|s| s.list != FREE)
    }

    /// Adds a session of BIB entry `bib` with remote (Z,z), expiring at
    /// `now + timeouts.of(class)`, `tcp` Closed. The caller has checked that
    /// the session does not exist.
    pub fn session_insert(
        &mut self,
        bib: BibId,
        remote: Ipv4Addr,
        remote_port: u16,
        class: TimerClass,
        now: Millis,
        timeouts: &Timeouts,
    ) -> Result<SessionId, TableFull> {
        let Some(id) = self.free_session.get() else {
            return Err(TableFull);
        };
        let b = self.bibs[bib.index()];
        debug_assert_ne!(b.sessions, BIB_FREE, "session_insert on a free BIB entry");
        debug_assert!(self
            .session_by_v6(b.proto, &b.v6, b.v6_port, remote, remote_port)
            .is_none());
        // Both index lines are requested first: their misses overlap with
        // each other and with the list updates below.
        let h6 = self
            .keys
            .session_v6(b.proto, &b.v6, b.v6_port, remote, remote_port);
        let h4 = self
            .keys
            .session_v4(b.proto, b.v4, b.v4_port, remote, remote_port);
        self.s_by_v6.touch(h6);
        self.s_by_v4.touch(h4);
        let i = id as usize;
        self.free_session = self.sessions[i].next;
        self.sessions[i] = Session {
            bib,
            remote,
            remote_port,
            tcp: TcpState::Closed,
            class,
            expires: now.saturating_add(timeouts.of(class)),
            slack: 0,
            list: class.index() as u8,
            prev: Link::NONE,
            next: Link::NONE,
            from_v4: false,
        };
        self.link_tail(id);
        let first = self.bib_first[bib.index()];
        self.links[i] = BibLink {
            prev: Link::NONE,
            next: first,
        };
        if let Some(f) = first.get() {
            self.links[f as usize].prev = Link::to(id);
        }
        self.bib_first[bib.index()] = Link::to(id);
        self.bibs[bib.index()].sessions += 1;
        self.s_by_v6.insert(h6, id);
        self.s_by_v4.insert(h4, id);
        self.n_sessions += 1;
        let sub = Subscriber::of(&b.v6, self.subscriber_len);
        self.per_subscriber
            .add(self.keys.subscriber(&sub), subscriber_key(&sub));
        self.per_remote
            .add(self.keys.remote(bib, remote), [bib.0, u32::from(remote)]);
        Ok(SessionId(id))
    }

    /// Refresh: `expires = now + timeouts.of(class)` and the session joins
    /// `class`'s list at its tail; O(1). With the touch granularity G > 0 a
    /// touch that keeps the class and moves the expiry by less than G only
    /// writes `expires` (see the module docs).
    ///
    /// The lazy case is inlined where it is called; moving the session to
    /// another list is not (`relist`).
    #[inline(always)]
    pub fn touch(&mut self, id: SessionId, class: TimerClass, now: Millis, timeouts: &Timeouts) {
        let g = self.granularity;
        let e = now.saturating_add(timeouts.of(class));
        let s = &mut self.sessions[id.index()];
        // On `class`'s list already (so not free: FREE is no class's
        // index), listed under an expiry less than G before `e`.
        if s.list == class.index() as u8 {
            let listed = s.expires - Millis::from(s.slack);
            if e >= listed && e - listed < g {
                s.expires = e;
                s.class = class;
                s.slack = (e - listed) as u16;
                return;
            }
        }
        if s.list == FREE {
            return;
        }
        self.relist(id, class, e);
    }

    /// The rest of [`Tables::touch`]: session `id` (not free) expires at
    /// `e` and goes to the tail of `class`'s list.
    #[inline(never)]
    fn relist(&mut self, id: SessionId, class: TimerClass, e: Millis) {
        self.unlink(id.0);
        let s = &mut self.sessions[id.index()];
        s.expires = e;
        s.class = class;
        s.slack = 0;
        s.list = class.index() as u8;
        self.link_tail(id.0);
    }

    /// Removes every expired session (`expires <= now`), O(expired), and
    /// each dynamic BIB entry left without a session, reporting it so its
    /// port can be released. Returns the number of sessions removed.
    pub fn expire(&mut self, now: Millis, on_bib_removed: &mut dyn FnMut(&BibEntry)) -> usize {
        self.expire_with(now, &mut |_, _, _| {}, on_bib_removed)
    }

    /// As [`Tables::expire`], also reporting each removed session with its
    /// BIB entry (e.g. to answer a held SYN, RFC 6146 §3.5.2.2).
    pub fn expire_with(
        &mut self,
        now: Millis,
        on_session_removed: &mut dyn FnMut(SessionId, &Session, &BibEntry),
        on_bib_removed: &mut dyn FnMut(&BibEntry),
    ) -> usize {
        let mut n = 0;
        for c in 0..self.heads.len() {
            while let Some(h) = self.heads[c].get() {
                if self.sessions[h as usize].expires > now {
                    break;
                }
                self.remove_inner(h, on_session_removed, on_bib_removed);
                n += 1;
            }
        }
        n
    }

    /// Makes room in a full table for a session of `asker`, fairly:
    ///
    /// 1. an expired session, if a list starts with one, goes (it is dead
    ///    already);
    /// 2. else, for a session of the subscriber of IPv6 address `asker`
    ///    (`Some`): among the `RECLAIM_LOOKAHEAD` (8) stalest sessions of
    ///    each class, cheapest class first (TcpTransitory, TcpIncomingSyn,
    ///    Icmp, Udp, TcpEstablished), the first of a subscriber holding
    ///    more sessions than the asker; failing that, the first of the
    ///    asker's own. A subscriber flooding new flows evicts its own
    ///    sessions and those of bigger holders, never a smaller
    ///    subscriber's live session (and is refused when none of those is
    ///    among the sessions looked at);
    /// 3. `asker` `None` (a session opened from the IPv4 side): nothing
    ///    live goes, so an outsider's flood never evicts a live session.
    ///
    /// Reported as [`Tables::expire`] reports. False if nothing went.
    pub fn reclaim(
        &mut self,
        now: Millis,
        asker: Option<&Ipv6Addr>,
        on_bib_removed: &mut dyn FnMut(&BibEntry),
    ) -> bool {
        self.reclaim_with(now, asker, &mut |_, _, _| {}, on_bib_removed)
    }

    /// As [`Tables::reclaim`], also reporting the removed session.
    pub fn reclaim_with(
        &mut self,
        now: Millis,
        asker: Option<&Ipv6Addr>,
        on_session_removed: &mut dyn FnMut(SessionId, &Session, &BibEntry),
        on_bib_removed: &mut dyn FnMut(&BibEntry),
    ) -> bool {
        let expired = self
            .heads
            .iter()
            .filter_map(|h| h.get())
            .find(|&h| self.sessions[h as usize].expires <= now);
        let victim =
            expired.or_else(|| self.fair_victim(&Subscriber::of(asker?, self.subscriber_len)));
        match victim {
            Some(h) => {
                self.remove_inner(h, on_session_removed, on_bib_removed);
                true
            }
            None => false,
        }
    }

    /// Step 2 of [`Tables::reclaim`]: the live session a new one of
    /// `asker` may replace. At most `5 * RECLAIM_LOOKAHEAD` sessions
    /// looked at, one count lookup each.
    fn fair_victim(&self, asker: &Subscriber) -> Option<u32> {
        let mine = self.subscriber_count(asker);
        let owner = |h: u32| {
            let b = &self.bibs[self.sessions[h as usize].bib.index()];
            Subscriber::of(&b.v6, self.subscriber_len)
        };
        // The stalest few of each class, cheapest class first.
        let window = || {
            RECLAIM_ORDER.iter().flat_map(|c| {
                std::iter::successors(self.heads[c.index()].get(), |&h| {
                    self.sessions[h as usize].next.get()
                })
                .take(RECLAIM_LOOKAHEAD)
            })
        };
        window()
            .find(|&h| self.subscriber_count(&owner(h)) > mine)
            .or_else(|| window().find(|&h| owner(h) == *asker))
    }

    /// Live sessions of subscriber `s`.
    #[inline]
    fn subscriber_count(&self, s: &Subscriber) -> u32 {
        self.per_subscriber
            .get(self.keys.subscriber(s), subscriber_key(s))
    }

    /// Removes session `id`, and its BIB entry if that was its last session
    /// and the entry is dynamic (reported). A free `id` is ignored.
    pub fn remove_session(&mut self, id: SessionId, on_bib_removed: &mut dyn FnMut(&BibEntry)) {
        self.remove_inner(id.0, &mut |_, _, _| {}, on_bib_removed);
    }

    // ---- internals ----

    /// Checks every internal invariant (index contents and counts, lists,
    /// per-BIB counts). Test helper; returns the longest index probe.
    #[cfg(test)]
    fn check(&self) -> usize {
        assert_eq!(self.s_by_v6.check(), self.sessions_len());
        assert_eq!(self.s_by_v4.check(), self.sessions_len());
        assert_eq!(self.b_by_v6.check(), self.bib_len());
        assert_eq!(self.b_by_v4.check(), self.bib_len());
        let mut listed = 0;
        for c in 0..5 {
            let mut prev = Link::NONE;
            let mut i = self.heads[c];
            let mut n = 0;
            while let Some(at) = i.get() {
                let s = &self.sessions[at as usize];
                assert_eq!(usize::from(s.list), c);
                assert_eq!(s.prev, prev);
                assert!(Millis::from(s.slack) <= self.granularity);
                prev = i;
                i = s.next;
                n += 1;
            }
            assert_eq!(self.tails[c], prev);
            assert_eq!(self.class_len[c], n);
            listed += n as usize;
        }
        assert_eq!(listed, self.sessions_len());
        let mut bibs = 0;
        for (i, b) in self.bibs.iter().enumerate() {
            if b.sessions == BIB_FREE {
                continue;
            }
            bibs += 1;
            let n = self.bib_sessions(BibId(i as u32)).count();
            assert_eq!(n, b.sessions as usize);
            assert!(n > 0 || b.is_static);
            for s in self.bib_sessions(BibId(i as u32)) {
                assert_eq!(self.sessions[s.index()].bib, BibId(i as u32));
            }
        }
        assert_eq!(bibs, self.bib_len());
        // The counts agree with a walk of every session.
        let mut subs = std::collections::HashMap::new();
        let mut remotes = std::collections::HashMap::new();
        let mut inbound = std::collections::HashMap::new();
        for (_, s) in self.sessions_in(0..self.capacity()) {
            let b = &self.bibs[s.bib.index()];
            let sub = subscriber_key(&Subscriber::of(&b.v6, self.subscriber_len));
            *subs.entry(sub).or_insert(0u32) += 1;
            *remotes
                .entry([s.bib.0, u32::from(s.remote)])
                .or_insert(0u32) += 1;
            *inbound.entry(s.bib).or_insert(0u16) += u16::from(s.from_v4);
        }
        let mut got: Vec<_> = self.per_subscriber.iter().collect();
        let mut want: Vec<_> = subs.into_iter().collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        let mut got: Vec<_> = self.per_remote.iter().collect();
        let mut want: Vec<_> = remotes.into_iter().collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        for (id, b) in self.bibs_in(0..self.bib_capacity()) {
            assert_eq!(b.inbound, inbound.get(&id).copied().unwrap_or(0));
        }
        for p in [L4::Tcp, L4::Udp, L4::Icmp] {
            let n = self
                .bibs
                .iter()
                .filter(|b| b.sessions != BIB_FREE && b.proto == p);
            assert_eq!(n.count(), self.bib_len_of(p));
        }
        [&self.s_by_v6, &self.s_by_v4, &self.b_by_v6, &self.b_by_v4]
            .iter()
            .map(|x| x.max_displacement())
            .max()
            .unwrap_or(0)
    }

    fn remove_inner(
        &mut self,
        id: u32,
        on_session_removed: &mut dyn FnMut(SessionId, &Session, &BibEntry),
        on_bib_removed: &mut dyn FnMut(&BibEntry),
    ) {
        let i = id as usize;
        let s = self.sessions[i];
        if s.list == FREE {
            return;
        }
        let bi = s.bib.index();
        let b = self.bibs[bi];
        let removed = self.s_by_v6.remove(
            self.keys
                .session_v6(b.proto, &b.v6, b.v6_port, s.remote, s.remote_port),
            id,
        );
        debug_assert!(removed);
        let removed = self.s_by_v4.remove(
            self.keys
                .session_v4(b.proto, b.v4, b.v4_port, s.remote, s.remote_port),
            id,
        );
        debug_assert!(removed);
        self.unlink(id);
        let BibLink { prev, next } = self.links[i];
        match prev.get() {
            None => self.bib_first[bi] = next,
            Some(p) => self.links[p as usize].next = next,
        }
        if let Some(n) = next.get() {
            self.links[n as usize].prev = prev;
        }
        let e = &mut self.sessions[i];
        e.list = FREE;
        e.next = self.free_session;
        e.from_v4 = false;
        self.free_session = Link::to(id);
        self.n_sessions -= 1;
        let sub = Subscriber::of(&b.v6, self.subscriber_len);
        self.per_subscriber
            .sub(self.keys.subscriber(&sub), subscriber_key(&sub));
        self.per_remote.sub(
            self.keys.remote(s.bib, s.remote),
            [s.bib.0, u32::from(s.remote)],
        );
        let b = &mut self.bibs[bi];
        b.sessions -= 1;
        b.inbound -= u16::from(s.from_v4);
        let b = *b;
        on_session_removed(SessionId(id), &s, &b);
        if b.sessions == 0 && !b.is_static {
            self.free_bib_entry(s.bib.0);
            on_bib_removed(&b);
        }
    }

    /// Drops BIB entry `id` (which has no session) from the indexes.
    fn free_bib_entry(&mut self, id: u32) {
        let i = id as usize;
        let b = self.bibs[i];
        let removed = self
            .b_by_v6
            .remove(self.keys.bib_v6(b.proto, &b.v6, b.v6_port), id);
        debug_assert!(removed);
        let removed = self
            .b_by_v4
            .remove(self.keys.bib_v4(b.proto, b.v4, b.v4_port), id);
        debug_assert!(removed);
        self.bibs[i].sessions = BIB_FREE;
        self.bib_first[i] = self.free_bib;
        self.free_bib = Link::to(id);
        self.n_bib[bib_proto_index(b.proto)] -= 1;
    }

    /// Appends session `id` to the tail of list `sessions[id].list`.
    #[inline]
    fn link_tail(&mut self, id: u32) {
        let c = usize::from(self.sessions[id as usize].list);
        let tail = self.tails[c];
        {
            let s = &mut self.sessions[id as usize];
            s.prev = tail;
            s.next = Link::NONE;
        }
        match tail.get() {
            None => self.heads[c] = Link::to(id),
            Some(t) => self.sessions[t as usize].next = Link::to(id),
        }
        self.tails[c] = Link::to(id);
        self.class_len[c] += 1;
    }

    /// Takes session `id` off its expiry list.
    #[inline]
    fn unlink(&mut self, id: u32) {
        let Session {
            prev, next, list, ..
        } = self.sessions[id as usize];
        let c = usize::from(list);
        match prev.get() {
            None => self.heads[c] = next,
            Some(p) => self.sessions[p as usize].next = next,
        }
        match next.get() {
            None => self.tails[c] = prev,
            Some(n) => self.sessions[n as usize].prev = prev,
        }
        self.class_len[c] -= 1;
    }
}
