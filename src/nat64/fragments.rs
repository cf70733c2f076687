//! RFC 6146 §3.4, fragments: one worker's store of the fragmented
//! datagrams it is translating, in both directions. RFC 6146 §3.4 asks a
//! NAT64 to handle fragments, out-of-order ones included, with bounded
//! resources and a window of at least FRAGMENT_MIN (2 s).
//!
//! A datagram is keyed by (source, destination, protocol, identification)
//! as it arrives (IPv6: the Fragment header's 32-bit identification;
//! IPv4: the 16-bit one). Its first fragment (offset 0) carries the
//! transport header: the pipeline runs it through §3.4-§3.7 and records
//! the datagram's [`Route`], what every later fragment gets: the addresses
//! it is translated to (RFC 7915 §5.1.1 / §4.1 then copy the
//! identification, offset and flags), the worker it is handed to, or its
//! refusal. A fragment that arrives before its first is *held*: the
//! pipeline answers `Action::Park { slot }` and the dataplane keeps the
//! buffer in that slot of its own array until the store hands the slot
//! back ([`FragStore::next_unparked`]): to run through the pipeline again
//! once the first fragment has set the route, or to be freed when the
//! window passes (counted) or the entry goes.
//!
//! Promises: every array is sized in [`FragStore::new`] (datagrams, held
//! fragments, the queue of slots handed back) and nothing is allocated per
//! packet; a full store refuses new datagrams and never evicts one it
//! tracks (strangers cannot push out a datagram in flight); held fragments
//! are bounded in count and in bytes; every datagram leaves the store when
//! its last byte has been seen (`Cover::Complete`) or its window passes,
//! whichever comes first, and every held slot comes back exactly once.
//! The bytes seen are tracked per datagram as a bitmap of its 8-byte
//! units (1 KiB a datagram, so any arrival order is taken): a fragment
//! overlapping bytes already seen (a duplicate included), or malformed
//! (off the 8-byte grid, past the datagram's end), is refused
//! (`Cover::Overlap`).
//!
//! Deviation: the window starts at a datagram's first fragment and is not
//! extended by later ones (RFC 6146 leaves this open; a datagram's pieces
//! travel together).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Millis, L4};
use crate::index::{mix64, HashIndex};

/// No entry / no slot.
const NONE: u32 = u32::MAX;

/// The most parking slots a store has: a slot is a `u16`.
pub const MAX_SLOTS: usize = u16::MAX as usize;

/// 8-byte units of the largest datagram (65535 bytes, RFC 791 and
/// RFC 8200 without jumbograms).
const UNITS: usize = 65536 / 8;
/// Words of a datagram's bitmap of units seen.
const WORDS: usize = UNITS / 64;

/// Whether any of bits `a..b` is set.
fn any_set(bits: &[u64; WORDS], a: u32, b: u32) -> bool {
    let mut u = a;
    while u < b {
        let (w, bit) = ((u / 64) as usize, u % 64);
        let n = (b - u).min(64 - bit);
        let mask = (u64::MAX >> (64 - n)) << bit;
        if bits.get(w).is_some_and(|x| x & mask != 0) {
            return true;
        }
        u += n;
    }
    false
}

/// Sets bits `a..b`.
fn set_all(bits: &mut [u64; WORDS], a: u32, b: u32) {
    let mut u = a;
    while u < b {
        let (w, bit) = ((u / 64) as usize, u % 64);
        let n = (b - u).min(64 - bit);
        if let Some(x) = bits.get_mut(w) {
            *x |= (u64::MAX >> (64 - n)) << bit;
        }
        u += n;
    }
}

/// A fragmented datagram as it arrives: (source, destination, protocol,
/// identification); IPv4 addresses as IPv4-mapped IPv6 ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FragKey {
    src: u128,
    dst: u128,
    ident: u32,
    proto: L4,
    v6: bool,
}

impl FragKey {
    /// An IPv6 datagram's key.
    pub(super) fn v6(src: Ipv6Addr, dst: Ipv6Addr, proto: L4, ident: u32) -> FragKey {
        FragKey {
            src: u128::from(src),
            dst: u128::from(dst),
            ident,
            proto,
            v6: true,
        }
    }

    /// An IPv4 datagram's key.
    pub(super) fn v4(src: Ipv4Addr, dst: Ipv4Addr, proto: L4, ident: u32) -> FragKey {
        FragKey {
            src: u128::from(src.to_ipv6_mapped()),
            dst: u128::from(dst.to_ipv6_mapped()),
            ident,
            proto,
            v6: false,
        }
    }

    /// A 64-bit hash keyed by `seed`.
    pub(super) fn hash(&self, seed: u64) -> u64 {
        let a = mix64(seed ^ self.src as u64) ^ mix64((self.src >> 64) as u64);
        let b = mix64(a ^ self.dst as u64) ^ mix64((self.dst >> 64) as u64);
        let tail = u64::from(self.ident) << 16 | (self.proto as u64) << 1 | u64::from(self.v6);
        mix64(b ^ tail)
    }
}

/// What every fragment of a datagram gets, decided by its first fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// IPv6 -> IPv4 with these addresses (§3.6 of the first fragment).
    To4 { src: Ipv4Addr, dst: Ipv4Addr },
    /// IPv4 -> IPv6 with these addresses.
    To6 { src: Ipv6Addr, dst: Ipv6Addr },
    /// Handed to this worker, the owner of the first fragment's pool port.
    Owner(u16),
    /// For the box itself (the exception path).
    Local,
    /// The first fragment was refused: so is the rest.
    Refused,
}

/// How a fragment's bytes fit the datagram's bytes seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cover {
    /// Recorded; more of the datagram is still to come.
    Added,
    /// Recorded, and every byte of the datagram has now been seen.
    Complete,
    /// It overlaps bytes already seen, or is malformed (empty, off the
    /// 8-byte grid, past 65535 bytes, or contradicting the datagram's
    /// end): refused.
    Overlap,
}

/// A held slot handed back to the dataplane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unpark {
    /// The slot the buffer was parked in (`Action::Park`).
    pub slot: u16,
    /// Run it through the pipeline again (its first fragment came); else
    /// free it (its window passed or its datagram was dropped).
    pub retry: bool,
}

/// One datagram.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: FragKey,
    hash: u64,
    deadline: Millis,
    /// Set by the first fragment.
    route: Option<Route>,
    /// 8-byte units seen (their bits in `FragStore::seen`), and the end of
    /// the highest.
    units: u32,
    top: u32,
    /// The datagram's length, once its last fragment (M = 0) was seen.
    end: Option<u32>,
    /// Held fragments (a list through `Held::next`).
    held: u32,
    /// Creation order (the expiry order: every window is as long).
    prev: u32,
    next: u32,
}

/// One held fragment's slot.
#[derive(Debug, Clone, Copy)]
struct Held {
    next: u32,
    len: u32,
}

/// What [`FragStore::expire`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Expired {
    pub(super) datagrams: u64,
    /// Held fragments dropped with them.
    pub(super) fragments: u64,
}

/// One worker's fragment store (see the module docs).
pub(super) struct FragStore {
    index: HashIndex,
    seed: u64,
    entries: Vec<Entry>,
    /// Per entry, a bit per 8-byte unit of the datagram seen.
    seen: Vec<[u64; WORDS]>,
    free: Vec<u32>,
    /// Oldest and newest entry.
    head: u32,
    tail: u32,
    timeout: Millis,
    held: Vec<Held>,
    held_free: Vec<u32>,
    held_bytes: u64,
    max_held_bytes: u64,
    /// Slots parked (from `hold` until handed back by `next_unparked`).
    parked: usize,
    unpark: VecDeque<Unpark>,
}

impl FragStore {
    /// A store for `datagrams` datagrams and `held` held fragments of at
    /// most `held_bytes` bytes in all, each datagram kept `timeout` ms at
    /// most; hashes keyed by `seed`. All memory is allocated now.
    pub(super) fn new(
        datagrams: usize,
        held: usize,
        held_bytes: u64,
        timeout: Millis,
        seed: u64,
    ) -> FragStore {
        let datagrams = datagrams.min(NONE as usize - 1);
        // Slots are `u16`s (`Action::Park` stays four bytes).
        let held = held.min(MAX_SLOTS);
        FragStore {
            index: HashIndex::new(datagrams),
            seed,
            entries: Vec::with_capacity(datagrams),
            seen: vec![[0; WORDS]; datagrams],
            free: Vec::with_capacity(datagrams),
            head: NONE,
            tail: NONE,
            timeout,
            held: vec![Held { next: NONE, len: 0 }; held],
            held_free: (0..held as u32).rev().collect(),
            held_bytes: 0,
            max_held_bytes: held_bytes,
            parked: 0,
            unpark: VecDeque::with_capacity(held),
        }
    }

    /// Datagrams tracked now.
    pub(super) fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// Fragments parked now (held, or handed back and not yet taken).
    pub(super) fn parked(&self) -> usize {
        self.parked
    }

    /// Parking slots: `Action::Park` names one of `0..slots()`.
    pub(super) fn slots(&self) -> usize {
        self.held.len()
    }

    /// The datagram keyed `key`.
    pub(super) fn find(&self, key: &FragKey) -> Option<u32> {
        let h = key.hash(self.seed);
        self.index.find(h, |i| {
            self.entries.get(i as usize).is_some_and(|e| e.key == *key)
        })
    }

    /// A new datagram keyed `key` (not in the store), its window from
    /// `now`; `None` when the store is full.
    pub(super) fn create(&mut self, key: FragKey, now: Millis) -> Option<u32> {
        let e = Entry {
            key,
            hash: key.hash(self.seed),
            deadline: now.saturating_add(self.timeout),
            route: None,
            units: 0,
            top: 0,
            end: None,
            held: NONE,
            prev: self.tail,
            next: NONE,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = e;
                i
            }
            None if self.entries.len() < self.entries.capacity() => {
                self.entries.push(e);
                (self.entries.len() - 1) as u32
            }
            None => return None,
        };
        self.seen[i as usize] = [0; WORDS];
        match self.tail {
            NONE => self.head = i,
            t => self.entries[t as usize].next = i,
        }
        self.tail = i;
        self.index.insert(e.hash, i);
        Some(i)
    }

    /// Datagram `i`'s route, once its first fragment set one.
    pub(super) fn route(&self, i: u32) -> Option<Route> {
        self.entries.get(i as usize).and_then(|e| e.route)
    }

    /// Sets datagram `i`'s route; its held fragments are handed back to run
    /// again (in the order they came).
    pub(super) fn set_route(&mut self, i: u32, route: Route) {
        let Some(e) = self.entries.get_mut(i as usize) else {
            return;
        };
        e.route = Some(route);
        let first = std::mem::replace(&mut e.held, NONE);
        self.hand_back(first, true);
    }

    /// Records `offset..offset + len` of datagram `i` (`more`: more
    /// fragments follow this one).
    pub(super) fn cover(&mut self, i: u32, offset: u32, len: u32, more: bool) -> Cover {
        let (Some(e), Some(bits)) = (
            self.entries.get_mut(i as usize),
            self.seen.get_mut(i as usize),
        ) else {
            return Cover::Overlap;
        };
        // In 8-byte units (RFC 791, RFC 8200 §4.5): `u0..u1`.
        let b = offset.saturating_add(len);
        let (u0, u1) = (offset / 8, b.div_ceil(8));
        if len == 0
            || !offset.is_multiple_of(8)
            || (more && !len.is_multiple_of(8))
            || u1 as usize > UNITS
            || e.end.is_some_and(|end| b > end)
            || (!more && (e.end.is_some_and(|end| end != b) || e.top > u1))
            || any_set(bits, u0, u1)
        {
            return Cover::Overlap;
        }
        set_all(bits, u0, u1);
        e.units += u1 - u0;
        e.top = e.top.max(u1);
        if !more {
            e.end = Some(b);
        }
        match e.end {
            Some(end) if e.units == end.div_ceil(8) => Cover::Complete,
            _ => Cover::Added,
        }
    }

    /// Parks a fragment of `len` bytes of datagram `i`: its slot, or `None`
    /// when the held fragments are at their bound (count or bytes).
    pub(super) fn hold(&mut self, i: u32, len: u32) -> Option<u16> {
        if self.held_bytes + u64::from(len) > self.max_held_bytes {
            return None;
        }
        let e = self.entries.get_mut(i as usize)?;
        let slot = self.held_free.pop()?;
        // Appended, so the fragments run again in the order they came.
        let h = &mut self.held[slot as usize];
        h.next = NONE;
        h.len = len;
        match e.held {
            NONE => e.held = slot,
            first => {
                let mut s = first;
                while self.held[s as usize].next != NONE {
                    s = self.held[s as usize].next;
                }
                self.held[s as usize].next = slot;
            }
        }
        self.held_bytes += u64::from(len);
        self.parked += 1;
        // At most `MAX_SLOTS` slots.
        Some(slot as u16)
    }

    /// Removes datagram `i`; its held fragments are handed back to be
    /// freed. Returns how many there were.
    pub(super) fn remove(&mut self, i: u32) -> u64 {
        let Some(e) = self.entries.get(i as usize).copied() else {
            return 0;
        };
        self.index.remove(e.hash, i);
        match e.prev {
            NONE => self.head = e.next,
            p => self.entries[p as usize].next = e.next,
        }
        match e.next {
            NONE => self.tail = e.prev,
            n => self.entries[n as usize].prev = e.prev,
        }
        self.free.push(i);
        self.hand_back(e.held, false)
    }

    /// Removes every datagram whose window has passed by `now`.
    pub(super) fn expire(&mut self, now: Millis) -> Expired {
        let mut out = Expired::default();
        while self.head != NONE && self.entries[self.head as usize].deadline <= now {
            out.fragments += self.remove(self.head);
            out.datagrams += 1;
        }
        out
    }

    /// The next held slot handed back, oldest first; its slot is free once
    /// taken.
    pub(super) fn next_unparked(&mut self) -> Option<Unpark> {
        let u = self.unpark.pop_front()?;
        if let Some(h) = self.held.get(u.slot as usize) {
            self.held_bytes -= u64::from(h.len);
        }
        self.parked -= 1;
        self.held_free.push(u32::from(u.slot));
        Some(u)
    }

    /// Whether slots wait to be taken back.
    #[inline(always)]
    pub(super) fn has_unparked(&self) -> bool {
        !self.unpark.is_empty()
    }

    /// Queues the held list from `first` to be taken back; how many.
    fn hand_back(&mut self, first: u32, retry: bool) -> u64 {
        let mut n = 0;
        let mut s = first;
        while s != NONE {
            // At most every held slot is queued at once: never grows.
            // Slots are below `MAX_SLOTS`.
            self.unpark.push_back(Unpark {
                slot: s as u16,
                retry,
            });
            s = self.held[s as usize].next;
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests;
