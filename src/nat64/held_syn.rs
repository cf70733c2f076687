//! RFC 6146 §3.5.2.2, CLOSED state, "V4 SYN packet received": the store of
//! IPv4-initiated SYNs held while the IPv6 side may still open the same
//! connection (simultaneous open).
//!
//! Promises: a worker holds at most [`HELD_SYN_SLOTS`] SYNs, each the first
//! [`HELD_SYN_BYTES`] of the packet, in memory allocated at start (the RFC's
//! "bounded" store); nothing is allocated per packet. A held SYN leaves the
//! store in one of two ways: an IPv6 SYN of the same connection finds it
//! (`Worker::simultaneous_open`: the session is ESTABLISHED and the held
//! SYN silently dropped), or its TCP_INCOMING_SYN lifetime passes
//! (`Worker::expire_held_syns`, from `tick`: answered with an ICMPv4 port
//! unreachable, as a host with no listener would).
//!
//! Finding a held SYN (for every IPv4 SYN held and every IPv6 SYN that
//! opens a connection) is O(1) expected: the keys are indexed by a hash
//! (`index::HashIndex`), and free slots kept on a stack, so an outsider
//! filling the store cannot make each unmatched SYN scan it.
//!
//! Deviation: a retransmitted SYN for a connection already held is dropped
//! and counted (`HeldSynRetransmit`); the first copy keeps its deadline.

use std::net::Ipv4Addr;

use super::counters::{DropCause, Nat64Drop};
use super::pipeline::{Action, Emit, Worker};
use super::Millis;
use crate::index::{mix64, HashIndex};
use crate::wire::icmpv4_type;
use crate::xlat::v4to6::icmpv4_error;
use crate::xlat::{PacketBuf, Verdict};

/// Held IPv4-initiated SYNs per worker (RFC 6146 §3.5.2.2 "bounded").
pub const HELD_SYN_SLOTS: usize = 512;
/// Bytes kept of a held SYN: what an ICMPv4 error may quote of it
/// (RFC 1812 §4.3.2.3: the error is at most 576 bytes).
pub const HELD_SYN_BYTES: usize = 576 - 28;

/// Key of a held SYN: (T, t) the pool transport address it was sent to,
/// (Y, y) its IPv4 source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HeldKey {
    pub(super) t4: Ipv4Addr,
    pub(super) t_port: u16,
    pub(super) y4: Ipv4Addr,
    pub(super) y_port: u16,
}

impl HeldKey {
    /// A well-mixed hash of the key (for the store's index).
    fn hash64(&self) -> u64 {
        let addrs = (u64::from(u32::from(self.t4)) << 32) | u64::from(u32::from(self.y4));
        let ports = (u64::from(self.t_port) << 16) | u64::from(self.y_port);
        mix64(addrs ^ mix64(ports))
    }
}

/// One held IPv4 SYN: the first `HELD_SYN_BYTES` of it.
struct HeldSyn {
    key: HeldKey,
    expires: Millis,
    len: u16,
    bytes: [u8; HELD_SYN_BYTES],
}

/// A fixed set of held-SYN slots, their keys indexed by hash.
pub(super) struct HeldSyns {
    keys: Vec<Option<HeldKey>>,
    slots: Vec<HeldSyn>,
    /// Key hash to slot, for the slots in use.
    index: HashIndex,
    /// Unused slots (popped from the end).
    free: Vec<u32>,
    used: usize,
}

impl HeldSyns {
    /// `n` empty slots, all memory allocated now.
    pub(super) fn new(n: usize) -> HeldSyns {
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
            index: HashIndex::new(n),
            free: (0..n as u32).rev().collect(),
            used: 0,
        }
    }

    /// SYNs held right now.
    pub(super) fn len(&self) -> usize {
        self.used
    }

    fn find(&self, k: &HeldKey) -> Option<usize> {
        if self.used == 0 {
            return None;
        }
        let keys = &self.keys;
        self.index
            .find(k.hash64(), |i| {
                keys.get(i as usize).is_some_and(|s| s.as_ref() == Some(k))
            })
            .map(|i| i as usize)
    }

    /// Store `pkt` under `k` (not held yet); false if every slot is taken.
    fn hold(&mut self, k: HeldKey, pkt: &[u8], expires: Millis) -> bool {
        let Some(i) = self.free.last().map(|&i| i as usize) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        self.free.pop();
        let n = pkt.len().min(HELD_SYN_BYTES);
        slot.bytes[..n].copy_from_slice(&pkt[..n]);
        slot.len = n as u16;
        slot.key = k;
        slot.expires = expires;
        self.keys[i] = Some(k);
        self.index.insert(k.hash64(), i as u32);
        self.used += 1;
        true
    }

    fn remove(&mut self, i: usize) {
        let Some(k) = self.keys.get_mut(i).and_then(Option::take) else {
            return;
        };
        self.index.remove(k.hash64(), i as u32);
        self.free.push(i as u32);
        self.used -= 1;
    }
}

impl Worker {
    /// §3.5.2.2 CLOSED, V4 SYN with no BIB entry (or filtered): "the packet
    /// is stored", under `key`, for TCP_INCOMING_SYN.
    pub(super) fn hold_syn(&mut self, buf: &PacketBuf, key: HeldKey, now: Millis) -> Action {
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

    /// §3.5.2.2 V4 INIT + V6 SYN: whether a V4 SYN of the connection `key`
    /// is held. If so it is silently dropped (a simultaneous open, counted)
    /// and the new session is ESTABLISHED.
    pub(super) fn simultaneous_open(&mut self, key: &HeldKey) -> bool {
        match self.held.find(key) {
            Some(i) => {
                self.held.remove(i);
                self.counters.simultaneous_opens += 1;
                true
            }
            None => false,
        }
    }

    /// §3.5.2.2: answers every held SYN whose TCP_INCOMING_SYN passed with
    /// an ICMPv4 port unreachable, handed to `out` as [`Emit::Outside`]
    /// (built in a stack buffer: nothing is allocated).
    pub(super) fn expire_held_syns(&mut self, now: Millis, out: &mut dyn FnMut(Emit)) {
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

#[cfg(test)]
mod tests;
