//! A per-worker neighbour cache (ARP for IPv4, ND for IPv6): next-hop IP
//! to MAC, with a few packets queued per unresolved next hop.
//!
//! Promises: capacity and per-hop queue length are fixed in [`NeighCache::new`]
//! and nothing is allocated afterwards (queued packets sit in one
//! pre-allocated ring per entry); lookup is O(1) (open addressing with
//! linear probing and backward-shift deletion); when the cache is full the
//! least recently used resolved entry is reclaimed, never a static one, a
//! pinned one nor one still being resolved. Every dropped packet is
//! counted.
//!
//! Against abuse (packets from spoofed on-link sources each drawing an
//! ICMP error to a new next hop), [`NeighCache::with_limits`] bounds what
//! unresolved next hops may take ([`NeighLimits`]): their number (a small
//! share of the cache, so they can never crowd out resolved entries), the
//! rate at which new ones are admitted (each costs a solicitation), and
//! the packets parked behind them in the whole cache. Excess is dropped
//! and counted. [`NeighCache::pin`] names next hops (the gateways) that
//! are never reclaimed and never held back by those limits.
//!
//! Neighbour states follow RFC 4861 §7.3.2, simplified (the same machine
//! serves ARP, RFC 826 having none of its own):
//! - INCOMPLETE: solicited, packets queued; re-solicited every
//!   [`RETRY_MS`] (RFC 4861 §10 RetransTimer); after [`MAX_SOLICIT`]
//!   solicitations without an answer (MAX_MULTICAST_SOLICIT) the queued
//!   packets are dropped and the entry deleted (§7.3.3).
//! - REACHABLE: known MAC, confirmed less than [`REACHABLE_MS`] ago.
//! - STALE/PROBE: older than that; packets still go to the old MAC (§7.3.3:
//!   "the node continues to use the link-layer address"), and `tick`
//!   re-solicits (at most [`MAX_SOLICIT`] times, [`RETRY_MS`] apart) until
//!   an answer confirms it or the entry is deleted.
//! - STATIC: `gateway_mac`, never expires, never solicited, never
//!   overwritten by learning.
//!
//! A learned pair that contradicts a REACHABLE entry (an unsolicited ARP
//! reply, NA or gratuitous ARP with another MAC) does not replace it: it
//! is counted as a conflict and ignored (the last one is kept for the
//! log). The MAC changes only through a solicitation cycle: once the
//! entry is past its reachable time it is probed, and the answer is
//! taken. Deviation: RFC 826's merge and RFC 4861 §7.2.5 (an NA with the
//! O flag) would overwrite at once; a neighbour that really changed its
//! MAC is thus followed only after up to [`REACHABLE_MS`] (`gateway_mac`
//! or a virtual router MAC for gateways that fail over).
//!
//! Deviations: every learned pair makes its entry REACHABLE, also one
//! learned from a solicitation (RFC 4861 §7.2.3 would make it STALE; ARP
//! has no such distinction), and an NA without the S or O flag too (§7.2.5);
//! the lifetime bounds how long a wrong pair can last. Each worker
//! solicits on its own, so a next hop may see one solicitation per second
//! per worker. The reachable lifetime (300 s) is far longer than RFC 4861's
//! REACHABLE_TIME (30 s) because the dataplane has no upper-layer
//! reachability hints (§7.3.1) and re-solicits the gateway far less often
//! this way; Linux's `gc_stale_time` is 60 s for the same reason.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ratelimit::TokenBucket;
use super::Mac;
use crate::index::{mix64, OptIndex};
use crate::nat64::Millis;

/// Interval between solicitations for one next hop (RFC 4861 §10
/// RETRANS_TIMER, 1 s; also the ARP rate limit).
pub const RETRY_MS: Millis = 1000;
/// Solicitations before giving up (RFC 4861 §10 MAX_MULTICAST_SOLICIT and
/// MAX_UNICAST_SOLICIT, both 3).
pub const MAX_SOLICIT: u8 = 3;
/// How long a learned MAC is used without re-soliciting (see the module docs).
pub const REACHABLE_MS: Millis = 300_000;

/// Bounds on what unresolved next hops may take (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighLimits {
    /// INCOMPLETE entries at most (pinned ones not counted against it).
    pub max_unresolved: usize,
    /// New next hops admitted for resolution per second (each a first
    /// solicitation), with bursts of up to `ratelimit::BUCKET_DEPTH`; 0:
    /// no limit.
    pub new_per_second: u32,
    /// Packets parked behind unresolved next hops in the whole cache
    /// (pinned ones may park theirs beyond it).
    pub max_parked: usize,
}

impl NeighLimits {
    /// Each worker's caches (one per family): 64 of 1024 entries
    /// unresolved, 100 new next hops a second, 256 packets parked, so a
    /// worker parks at most 512 of its `workers.mbufs_per_worker` (16384
    /// by default) plus the gateways' few.
    pub const WORKER: NeighLimits = NeighLimits {
        max_unresolved: 64,
        new_per_second: 100,
        max_parked: 256,
    };
}

/// An address a [`NeighCache`] can hold: hashable to 64 bits.
pub trait NeighAddr: Copy + Eq + fmt::Debug {
    /// A well-mixed hash of the address.
    fn hash64(&self) -> u64;
}

impl NeighAddr for Ipv4Addr {
    #[inline]
    fn hash64(&self) -> u64 {
        mix64(u64::from(u32::from(*self)))
    }
}

impl NeighAddr for Ipv6Addr {
    #[inline]
    fn hash64(&self) -> u64 {
        let v = u128::from(*self);
        mix64((v as u64) ^ mix64((v >> 64) as u64))
    }
}

impl NeighAddr for IpAddr {
    #[inline]
    fn hash64(&self) -> u64 {
        match self {
            IpAddr::V4(a) => a.hash64(),
            IpAddr::V6(a) => a.hash64() ^ 1,
        }
    }
}

/// What `resolve` did with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolve<T> {
    /// MAC known: send `T` now.
    Ready(Mac, T),
    /// Queued until the neighbour answers; `solicit`: send an ARP request /
    /// NS for it now (at most one per next hop per RETRY interval).
    Queued {
        /// Send a solicitation for this next hop now.
        solicit: bool,
    },
    /// Too many packets already wait for this next hop (or the cache is
    /// full of unresolved entries): counted, caller frees `T`.
    Dropped(T),
}

/// A learned (IP, MAC) pair, broadcast from the worker that received the
/// ARP / ND message to every worker's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighUpdate {
    /// The neighbour's address.
    pub ip: IpAddr,
    /// Its link-layer address.
    pub mac: Mac,
}

impl From<(IpAddr, Mac)> for NeighUpdate {
    /// From a classification verdict's `learn`.
    fn from((ip, mac): (IpAddr, Mac)) -> Self {
        NeighUpdate { ip, mac }
    }
}

/// Event counters of one cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeighCounters {
    /// Packets sent straight away with a known MAC.
    pub hits: u64,
    /// Entries that became reachable (an answer arrived for a pending or
    /// probing entry, or a new pair was learned).
    pub resolved: u64,
    /// Packets queued behind an unresolved next hop.
    pub queued: u64,
    /// Packets dropped: their next hop's queue was full.
    pub queue_full_drops: u64,
    /// Packets dropped: no entry could be made (full of unresolved or static entries).
    pub cache_full_drops: u64,
    /// Packets dropped: no new entry, the unresolved share
    /// ([`NeighLimits::max_unresolved`]) is taken.
    pub unresolved_full_drops: u64,
    /// Packets dropped: no new entry, over the admission rate
    /// ([`NeighLimits::new_per_second`]).
    pub rate_limited_drops: u64,
    /// Packets dropped: the cache parks [`NeighLimits::max_parked`] already.
    pub parked_full_drops: u64,
    /// Queued packets dropped: the next hop never answered.
    pub timed_out_drops: u64,
    /// Solicitations asked for (ARP requests / NS), first tries and retries.
    pub solicits: u64,
    /// Entries deleted because the neighbour stopped answering (INCOMPLETE
    /// or PROBE after [`MAX_SOLICIT`] tries).
    pub failed: u64,
    /// Resolved entries reclaimed to make room (least recently used).
    pub evicted: u64,
    /// Learned pairs ignored (a static entry, or no free slot for a new one).
    pub learn_ignored: u64,
    /// Learned pairs ignored because they contradict a resolved entry's
    /// MAC without a solicitation cycle (see the module docs).
    pub conflicts: u64,
}

impl NeighCounters {
    /// Every counter with its metrics label.
    pub fn events(&self) -> [(&'static str, u64); 14] {
        [
            ("hit", self.hits),
            ("resolved", self.resolved),
            ("queued", self.queued),
            ("queue_full_drop", self.queue_full_drops),
            ("cache_full_drop", self.cache_full_drops),
            ("unresolved_full_drop", self.unresolved_full_drops),
            ("rate_limited_drop", self.rate_limited_drops),
            ("parked_full_drop", self.parked_full_drops),
            ("timed_out_drop", self.timed_out_drops),
            ("solicit", self.solicits),
            ("failed", self.failed),
            ("evicted", self.evicted),
            ("learn_ignored", self.learn_ignored),
            ("conflict", self.conflicts),
        ]
    }

    /// Adds `other` into `self` (summing workers).
    pub fn add(&mut self, other: &NeighCounters) {
        self.hits += other.hits;
        self.resolved += other.resolved;
        self.queued += other.queued;
        self.queue_full_drops += other.queue_full_drops;
        self.cache_full_drops += other.cache_full_drops;
        self.unresolved_full_drops += other.unresolved_full_drops;
        self.rate_limited_drops += other.rate_limited_drops;
        self.parked_full_drops += other.parked_full_drops;
        self.timed_out_drops += other.timed_out_drops;
        self.solicits += other.solicits;
        self.failed += other.failed;
        self.evicted += other.evicted;
        self.learn_ignored += other.learn_ignored;
        self.conflicts += other.conflicts;
    }
}

/// The state of an entry (RFC 4861 §7.3.2, simplified; see module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeighState {
    /// Slot unused.
    Free,
    /// Being resolved; packets wait.
    Incomplete,
    /// MAC known and recently confirmed.
    Reachable,
    /// MAC known but old: still used while being re-solicited.
    Probe,
    /// Configured; never expires.
    Static,
}

/// Which intrusive list an entry is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListId {
    /// Resolved (REACHABLE) entries, most recently used first.
    Lru,
    /// INCOMPLETE and PROBE entries: the ones `tick` looks at.
    Wait,
}

/// An entry's neighbours on its list.
#[derive(Clone, Copy, Debug)]
struct Links {
    prev: OptIndex,
    next: OptIndex,
}

impl Links {
    /// On no list.
    const NONE: Links = Links {
        prev: OptIndex::NONE,
        next: OptIndex::NONE,
    };
}

/// Both ends and the length of a list.
#[derive(Clone, Copy, Debug)]
struct ListHead {
    head: OptIndex,
    tail: OptIndex,
    len: u32,
}

impl ListHead {
    const EMPTY: ListHead = ListHead {
        head: OptIndex::NONE,
        tail: OptIndex::NONE,
        len: 0,
    };
}

#[derive(Clone, Debug)]
struct Entry<A> {
    ip: Option<A>,
    mac: Mac,
    state: NeighState,
    /// When the MAC was last confirmed (learned).
    confirmed: Millis,
    /// When the next solicitation is due (INCOMPLETE / PROBE).
    next_solicit: Millis,
    /// Solicitations sent in the current attempt.
    sent: u8,
    /// A pinned next hop (see [`NeighCache::pin`]).
    pinned: bool,
    /// First queued packet's position in the entry's ring.
    q_head: u32,
    /// Queued packets.
    q_len: u32,
    links: Links,
    list: Option<ListId>,
}

impl<A> Entry<A> {
    fn free() -> Self {
        Entry {
            ip: None,
            mac: [0; 6],
            state: NeighState::Free,
            confirmed: 0,
            next_solicit: 0,
            sent: 0,
            pinned: false,
            q_head: 0,
            q_len: 0,
            links: Links::NONE,
            list: None,
        }
    }
}

/// A fixed-capacity neighbour cache; see the module docs. `A` is the
/// address type (`Ipv4Addr`, `Ipv6Addr` or `IpAddr`), `T` a queued packet
/// (an mbuf in the dataplane; dropping it frees it).
pub struct NeighCache<A, T> {
    entries: Vec<Entry<A>>,
    /// Open-addressed index: entry index + 1, 0 for an empty slot.
    index: Vec<u32>,
    mask: usize,
    /// Unused entries.
    free: Vec<u32>,
    /// `entries.len() * per_hop` queue slots; entry i owns
    /// `pending[i * per_hop..(i + 1) * per_hop]` as a ring.
    pending: Vec<Option<T>>,
    per_hop: u32,
    lru: ListHead,
    wait: ListHead,
    counters: NeighCounters,
    limits: NeighLimits,
    /// INCOMPLETE entries now.
    unresolved: usize,
    /// Packets queued now, all entries together.
    parked: usize,
    /// New resolutions admitted ([`NeighLimits::new_per_second`]).
    admission: TokenBucket,
    /// Next hops never reclaimed nor limited ([`NeighCache::pin`]).
    pins: Vec<A>,
    /// The last conflict: the address, the MAC kept, the MAC refused.
    last_conflict: Option<(A, Mac, Mac)>,
}

impl<A: fmt::Debug, T> fmt::Debug for NeighCache<A, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeighCache")
            .field("capacity", &self.entries.len())
            .field("in_use", &(self.entries.len() - self.free.len()))
            .field("per_hop", &self.per_hop)
            .field("limits", &self.limits)
            .field("unresolved", &self.unresolved)
            .field("parked", &self.parked)
            .field("counters", &self.counters)
            .finish()
    }
}

impl<A: NeighAddr, T> NeighCache<A, T> {
    /// A cache of `capacity` next hops (at least 1), each queueing at most
    /// `pending_per_hop` packets (at least 1) while unresolved, with no
    /// limits beyond those ([`NeighCache::with_limits`] sets them).
    /// Everything is allocated here.
    pub fn new(capacity: usize, pending_per_hop: usize) -> Self {
        let capacity = capacity.clamp(1, (u32::MAX / 4) as usize);
        let per_hop = pending_per_hop.clamp(1, 1 << 16);
        let slots = (capacity * 2).next_power_of_two();
        let mut pending = Vec::with_capacity(capacity * per_hop);
        pending.resize_with(capacity * per_hop, || None);
        NeighCache {
            entries: (0..capacity).map(|_| Entry::free()).collect(),
            index: vec![0; slots],
            mask: slots - 1,
            // Popped from the end: entry 0 is handed out first.
            free: (0..capacity as u32).rev().collect(),
            pending,
            per_hop: per_hop as u32,
            lru: ListHead::EMPTY,
            wait: ListHead::EMPTY,
            counters: NeighCounters::default(),
            limits: NeighLimits {
                max_unresolved: capacity,
                new_per_second: 0,
                max_parked: capacity * per_hop,
            },
            unresolved: 0,
            parked: 0,
            admission: TokenBucket::new(0),
            pins: Vec::new(),
            last_conflict: None,
        }
    }

    /// The same cache with `limits` on its unresolved entries (see the
    /// module docs).
    pub fn with_limits(mut self, limits: NeighLimits) -> Self {
        self.limits = limits;
        self.admission = TokenBucket::new(limits.new_per_second);
        self
    }

    /// Pins next hop `ip` (a gateway): its entry is never reclaimed for
    /// another, and its resolution is never refused by the limits (only
    /// its own queue of `pending_per_hop` bounds it). Meant for start-up.
    pub fn pin(&mut self, ip: A) {
        if !self.pins.contains(&ip) {
            self.pins.push(ip);
        }
        if let Some(i) = self.lookup(ip) {
            self.entries[i].pinned = true;
        }
    }

    /// Packets queued now, all next hops together.
    pub fn parked(&self) -> usize {
        self.parked
    }

    /// The last conflict seen (see [`NeighCounters::conflicts`]): the
    /// address, the MAC kept, the MAC refused.
    pub fn last_conflict(&self) -> Option<(A, Mac, Mac)> {
        self.last_conflict
    }

    /// Number of entries the cache can hold.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Number of entries in use.
    pub fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// Whether no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The event counters.
    pub fn counters(&self) -> &NeighCounters {
        &self.counters
    }

    /// The MAC and state held for `ip`, without side effects.
    pub fn get(&self, ip: A) -> Option<(Mac, NeighState)> {
        let e = &self.entries[self.lookup(ip)?];
        Some((e.mac, e.state))
    }

    /// Packets queued for `ip`.
    pub fn queued(&self, ip: A) -> usize {
        self.lookup(ip)
            .map_or(0, |i| self.entries[i].q_len as usize)
    }

    // ---- index (open addressing, linear probing) ----
    //
    // Not the crate's `HashIndex` (tags, cache lines, any size: built for
    // the million-entry session tables): on it a `resolve` of a cached
    // next hop took 149 instructions against 132 on this table
    // (callgrind), and a flat inside link makes that a per-packet lookup
    // (a next hop per subscriber misses the worker's one-entry memo).

    fn home(&self, ip: &A) -> usize {
        (ip.hash64() as usize) & self.mask
    }

    /// Entry index of `ip`.
    fn lookup(&self, ip: A) -> Option<usize> {
        let mut slot = self.home(&ip);
        // The table is at most half full, so an empty slot ends every probe.
        loop {
            let v = self.index[slot];
            if v == 0 {
                return None;
            }
            let i = (v - 1) as usize;
            if self.entries[i].ip == Some(ip) {
                return Some(i);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    fn index_insert(&mut self, ip: A, i: usize) {
        let mut slot = self.home(&ip);
        while self.index[slot] != 0 {
            slot = (slot + 1) & self.mask;
        }
        self.index[slot] = i as u32 + 1;
    }

    /// Removes `ip` from the index: backward-shift deletion (Knuth 6.4,
    /// Algorithm R), so no tombstones accumulate.
    fn index_remove(&mut self, ip: A) {
        let mut slot = self.home(&ip);
        loop {
            let v = self.index[slot];
            if v == 0 {
                return;
            }
            if self.entries[(v - 1) as usize].ip == Some(ip) {
                break;
            }
            slot = (slot + 1) & self.mask;
        }
        let mut hole = slot;
        let mut j = slot;
        loop {
            j = (j + 1) & self.mask;
            let v = self.index[j];
            if v == 0 {
                break;
            }
            let Some(other) = self.entries[(v - 1) as usize].ip else {
                break;
            };
            let home = self.home(&other);
            // Move `j` into the hole unless its home lies cyclically in
            // (hole, j]: then it is still reachable from its home.
            let reachable = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !reachable {
                self.index[hole] = v;
                hole = j;
            }
        }
        self.index[hole] = 0;
    }

    // ---- intrusive lists ----

    fn head_mut(&mut self, id: ListId) -> &mut ListHead {
        match id {
            ListId::Lru => &mut self.lru,
            ListId::Wait => &mut self.wait,
        }
    }

    fn unlink(&mut self, i: usize) {
        let Some(id) = self.entries[i].list.take() else {
            return;
        };
        let Links { prev, next } = self.entries[i].links;
        match prev.get() {
            Some(p) => self.entries[p as usize].links.next = next,
            None => self.head_mut(id).head = next,
        }
        match next.get() {
            Some(n) => self.entries[n as usize].links.prev = prev,
            None => self.head_mut(id).tail = prev,
        }
        self.head_mut(id).len -= 1;
        self.entries[i].links = Links::NONE;
    }

    /// Puts entry `i` at the front of list `id` (taking it off any list first).
    fn push_front(&mut self, id: ListId, i: usize) {
        self.unlink(i);
        let old = self.head_mut(id).head;
        self.entries[i].links = Links {
            prev: OptIndex::NONE,
            next: old,
        };
        self.entries[i].list = Some(id);
        let me = OptIndex::some(i as u32);
        if let Some(o) = old.get() {
            self.entries[o as usize].links.prev = me;
        }
        let h = self.head_mut(id);
        h.head = me;
        if h.tail.is_none() {
            h.tail = me;
        }
        h.len += 1;
    }

    // ---- per-entry queues ----

    fn q_push(&mut self, i: usize, pkt: T) -> Result<(), T> {
        let e = &mut self.entries[i];
        if e.q_len >= self.per_hop {
            return Err(pkt);
        }
        let at = i * self.per_hop as usize + ((e.q_head + e.q_len) % self.per_hop) as usize;
        e.q_len += 1;
        self.parked += 1;
        self.pending[at] = Some(pkt);
        Ok(())
    }

    fn q_pop(&mut self, i: usize) -> Option<T> {
        let e = &mut self.entries[i];
        if e.q_len == 0 {
            return None;
        }
        let at = i * self.per_hop as usize + e.q_head as usize;
        e.q_head = (e.q_head + 1) % self.per_hop;
        e.q_len -= 1;
        self.parked -= 1;
        self.pending[at].take()
    }

    /// Drops every packet queued on entry `i`; returns how many.
    fn q_clear(&mut self, i: usize) -> u64 {
        let mut n = 0;
        while self.q_pop(i).is_some() {
            n += 1;
        }
        self.entries[i].q_head = 0;
        n
    }

    // ---- entries ----

    /// Deletes entry `i` (its queue must be empty or is dropped uncounted).
    fn release(&mut self, i: usize) {
        self.q_clear(i);
        self.unlink(i);
        if self.entries[i].state == NeighState::Incomplete {
            self.unresolved -= 1;
        }
        if let Some(ip) = self.entries[i].ip {
            self.index_remove(ip);
        }
        self.entries[i] = Entry::free();
        self.free.push(i as u32);
    }

    /// A free entry, reclaiming the least recently used resolved one if
    /// needed (`evict`); `None` if every entry is static or unresolved.
    fn take_slot(&mut self, evict: bool) -> Option<usize> {
        if let Some(i) = self.free.pop() {
            return Some(i as usize);
        }
        if !evict {
            return None;
        }
        // Pinned entries at the tail go back to the front (they are few:
        // at most `pins.len()` turns).
        let mut turns = self.pins.len();
        let victim = loop {
            let tail = self.lru.tail.get()? as usize;
            if !self.entries[tail].pinned {
                break tail;
            }
            if turns == 0 || self.lru.len <= 1 {
                return None;
            }
            turns -= 1;
            self.push_front(ListId::Lru, tail);
        };
        self.release(victim);
        self.counters.evicted += 1;
        self.free.pop().map(|i| i as usize)
    }

    fn occupy(&mut self, i: usize, ip: A, state: NeighState, mac: Mac, now: Millis) {
        let e = &mut self.entries[i];
        e.ip = Some(ip);
        e.mac = mac;
        e.state = state;
        e.confirmed = now;
        e.next_solicit = now;
        e.sent = 0;
        e.pinned = self.pins.contains(&ip);
        e.q_head = 0;
        e.q_len = 0;
        self.index_insert(ip, i);
    }

    /// gateway_mac: never expires, never solicited, never overwritten by
    /// learning. Packets that were queued for `ip` are dropped and counted
    /// as `timed_out_drops` (this is meant for start-up).
    pub fn set_static(&mut self, ip: A, mac: Mac) {
        let i = match self.lookup(ip) {
            Some(i) => {
                self.counters.timed_out_drops += self.q_clear(i);
                self.unlink(i);
                if self.entries[i].state == NeighState::Incomplete {
                    self.unresolved -= 1;
                }
                i
            }
            None => {
                let Some(i) = self.take_slot(true) else {
                    // Every entry is static or being resolved: replace the
                    // oldest waiting one rather than lose configuration.
                    let Some(w) = self.wait.tail.get().map(|w| w as usize) else {
                        return;
                    };
                    self.counters.timed_out_drops += self.q_clear(w);
                    self.release(w);
                    let Some(i) = self.free.pop() else {
                        return;
                    };
                    self.occupy(i as usize, ip, NeighState::Static, mac, 0);
                    return;
                };
                self.occupy(i, ip, NeighState::Static, mac, 0);
                return;
            }
        };
        let e = &mut self.entries[i];
        e.state = NeighState::Static;
        e.mac = mac;
        e.sent = 0;
    }

    /// The MAC for next hop `ip`, or the packet queued behind its
    /// resolution (see [`Resolve`]).
    pub fn resolve(&mut self, ip: A, pkt: T, now: Millis) -> Resolve<T> {
        let Some(i) = self.lookup(ip) else {
            return self.start_resolution(ip, pkt, now);
        };
        match self.entries[i].state {
            NeighState::Static | NeighState::Probe => {
                self.counters.hits += 1;
                Resolve::Ready(self.entries[i].mac, pkt)
            }
            NeighState::Reachable => {
                if now.saturating_sub(self.entries[i].confirmed) >= REACHABLE_MS {
                    // RFC 4861 §7.3.3: past its reachable time the entry is
                    // STALE; on use it is probed (here at the next `tick`)
                    // while packets still go to the old address.
                    let e = &mut self.entries[i];
                    e.state = NeighState::Probe;
                    e.sent = 0;
                    e.next_solicit = now;
                    self.push_front(ListId::Wait, i);
                } else if self.lru.head != OptIndex::some(i as u32) {
                    // Most packets go to the same next hop (the gateway),
                    // already at the front: no relinking then.
                    self.push_front(ListId::Lru, i);
                }
                self.counters.hits += 1;
                Resolve::Ready(self.entries[i].mac, pkt)
            }
            NeighState::Incomplete => {
                if !self.entries[i].pinned && self.parked >= self.limits.max_parked {
                    self.counters.parked_full_drops += 1;
                    return Resolve::Dropped(pkt);
                }
                if let Err(pkt) = self.q_push(i, pkt) {
                    self.counters.queue_full_drops += 1;
                    return Resolve::Dropped(pkt);
                }
                self.counters.queued += 1;
                let e = &mut self.entries[i];
                // At most one solicitation per RETRY_MS (RFC 4861 §7.2.2
                // "no more than one ... every RetransTimer"; RFC 1122
                // §2.3.2.1 for ARP).
                let solicit = now >= e.next_solicit && e.sent < MAX_SOLICIT;
                if solicit {
                    e.sent += 1;
                    e.next_solicit = now.saturating_add(RETRY_MS);
                    self.counters.solicits += 1;
                }
                Resolve::Queued { solicit }
            }
            NeighState::Free => Resolve::Dropped(pkt), // not indexed: unreachable
        }
    }

    /// A new INCOMPLETE entry for `ip`, `pkt` queued, first solicitation
    /// due; unless `ip` is pinned, only within the limits.
    fn start_resolution(&mut self, ip: A, pkt: T, now: Millis) -> Resolve<T> {
        if !self.pins.contains(&ip) {
            if self.unresolved >= self.limits.max_unresolved {
                self.counters.unresolved_full_drops += 1;
                return Resolve::Dropped(pkt);
            }
            if self.parked >= self.limits.max_parked {
                self.counters.parked_full_drops += 1;
                return Resolve::Dropped(pkt);
            }
            if !self.admission.allow(now) {
                self.counters.rate_limited_drops += 1;
                return Resolve::Dropped(pkt);
            }
        }
        let Some(i) = self.take_slot(true) else {
            self.counters.cache_full_drops += 1;
            return Resolve::Dropped(pkt);
        };
        self.occupy(i, ip, NeighState::Incomplete, [0; 6], now);
        self.unresolved += 1;
        let e = &mut self.entries[i];
        e.sent = 1;
        e.next_solicit = now.saturating_add(RETRY_MS);
        self.push_front(ListId::Wait, i);
        if let Err(pkt) = self.q_push(i, pkt) {
            // per_hop >= 1, so the fresh queue has room; kept for safety.
            self.counters.queue_full_drops += 1;
            return Resolve::Dropped(pkt);
        }
        self.counters.queued += 1;
        self.counters.solicits += 1;
        Resolve::Queued { solicit: true }
    }

    /// Learned from ARP / ND: the entry becomes reachable and its queued
    /// packets are handed to `out` with the MAC, in the order they came.
    /// A pair for an address not in the cache is added only into a free
    /// slot (an unsolicited announcement never evicts anything); a static
    /// entry is never changed; a REACHABLE one keeps its MAC against
    /// another (a counted conflict, see the module docs).
    pub fn learn(&mut self, ip: A, mac: Mac, now: Millis, out: &mut dyn FnMut(Mac, T)) {
        let i = match self.lookup(ip) {
            Some(i) => i,
            None => {
                let Some(i) = self.take_slot(false) else {
                    self.counters.learn_ignored += 1;
                    return;
                };
                self.occupy(i, ip, NeighState::Reachable, mac, now);
                self.push_front(ListId::Lru, i);
                self.counters.resolved += 1;
                return;
            }
        };
        let e = &mut self.entries[i];
        if e.state == NeighState::Static {
            self.counters.learn_ignored += 1;
            return;
        }
        if e.state == NeighState::Reachable && e.mac != mac {
            // Not asked for: the resolved MAC stays (module docs).
            self.counters.conflicts += 1;
            self.last_conflict = Some((ip, e.mac, mac));
            return;
        }
        // RFC 826 merge / RFC 4861 §7.2.5: the link-layer address is
        // recorded (or replaced, answering a probe) and the entry is
        // REACHABLE.
        match e.state {
            NeighState::Reachable => {}
            NeighState::Incomplete => {
                self.unresolved -= 1;
                self.counters.resolved += 1;
            }
            _ => self.counters.resolved += 1,
        }
        let e = &mut self.entries[i];
        e.mac = mac;
        e.state = NeighState::Reachable;
        e.confirmed = now;
        e.sent = 0;
        self.push_front(ListId::Lru, i);
        // §7.2.5: "any packets queued for the neighbor awaiting address
        // resolution" are sent, oldest first.
        while let Some(pkt) = self.q_pop(i) {
            out(mac, pkt);
        }
        self.entries[i].q_head = 0;
    }

    /// Retries solicitations (`solicit(ip)`), drops what waited too long
    /// (counted), ages out stale entries (re-resolved on next use).
    /// Touches only entries being resolved or probed.
    pub fn tick(&mut self, now: Millis, solicit: &mut dyn FnMut(A)) {
        let mut cur = self.wait.head;
        while let Some(c) = cur.get() {
            let i = c as usize;
            cur = self.entries[i].links.next;
            let e = &mut self.entries[i];
            if now < e.next_solicit {
                continue;
            }
            let Some(ip) = e.ip else { continue };
            if e.sent >= MAX_SOLICIT {
                // RFC 4861 §7.3.3 / §7.2.2: no answer after MAX_*_SOLICIT
                // tries: the entry is deleted and, for INCOMPLETE, the
                // queued packets are dropped (ICMP unreachable errors,
                // §7.2.2, are not generated: the dataplane drops).
                let dropped = self.q_clear(i);
                self.counters.timed_out_drops += dropped;
                self.counters.failed += 1;
                self.release(i);
                continue;
            }
            e.sent += 1;
            e.next_solicit = now.saturating_add(RETRY_MS);
            self.counters.solicits += 1;
            solicit(ip);
        }
    }
}

#[cfg(test)]
mod tests;
