//! Bursts: up to [`BURST`] packets of one direction at a time, each given
//! exactly what `process_6to4` / `process_4to6` would give it one by one
//! (`prop_burst_equals_one_by_one` compares them), with the table misses
//! of the whole burst overlapped. Written once for both directions,
//! generic over the [`TrafficDirection`].
//!
//! Three ways through, tried in this order:
//!
//! 1. The established fast path (`established_chunk`): a chunk of simple
//!    TCP and UDP packets (xlat's `simple6` / `simple4`: no extension
//!    header or option, not a fragment, nothing the translator would
//!    answer with an ICMP error) of established sessions, in one pass.
//!    Stage 1 reads every packet once and makes the checks the general
//!    path would: this worker's, RFC 6052 §2.3 (§3.4), no §3.8 loop or
//!    hairpin (`TrafficDirection::shortcut_admits`); who may reach what
//!    (RFC 6052 §3.1, `translation.deny4`, `inside.subscribers`) was
//!    decided when the session was made (`live.rs`). Any packet
//!    that fails sends the whole chunk, untouched and with nothing
//!    counted, to the staged general path. Stage 2 warms the tables.
//!    Stage 3, in order: the session found and refreshed (§3.5), the
//!    outgoing tuple from its BIB entry (§3.6), and RFC 7915 §5.1/§5.5 or
//!    §4.1/§4.5 by the translator's simple-packet rewrite (§3.7); a packet
//!    without a session (a new flow) goes through the general path on its
//!    own, in its place in the order. What it saves is the general path's
//!    `Flow`, the separate key and hint, and the translator's second
//!    reading of the header.
//! 2. The staged general path (`general_chunk`): parse every packet and
//!    hash its session key (`hint_key`), warm the tables, then run each
//!    packet through `process_flow` with its parsed flow and hash.
//! 3. Inside it, per packet with a key, the established-session shortcut
//!    (`established`): a packet of an existing session whose checks pass
//!    goes straight from the lookup to §3.5's refresh, §3.6 and §3.7,
//!    without the general path's intermediate tuples; anything else (no
//!    session, a check that fails) takes the steps, which decide exactly
//!    as for any packet.
//!
//! The first two stages of each only read: every decision is taken in the
//! last, in order.

use super::direction::TrafficDirection;
use super::pipeline::{Action, Worker};
use super::table::{KeyHash, BURST};
use super::Millis;
use crate::xlat::{DropReason, Flow, PacketBuf, Plan};

/// Below this many sessions the tables sit in the L2 cache (about 118 bytes
/// a session against 2 MiB), so a burst skips the stage that loads every
/// packet's index line, session and BIB entry ahead: it would only cost
/// instructions.
const WARM_MIN_SESSIONS: usize = 16 * 1024;

impl Worker {
    /// `process_6to4_burst` / `process_4to6_burst` for direction `D`: chunks
    /// of [`BURST`], each through the established fast path or, if it does
    /// not take them, the staged general path.
    #[inline(always)]
    pub(super) fn process_burst<'a, D: TrafficDirection, P>(
        &mut self,
        pkts: &mut [P],
        now: Millis,
        actions: &mut [Action],
    ) where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        assert!(actions.len() >= pkts.len(), "fewer actions than packets");
        for (ps, acts) in pkts.chunks_mut(BURST).zip(actions.chunks_mut(BURST)) {
            if !self.established_chunk::<D, P>(ps, now, acts) {
                self.general_chunk::<D, P>(ps, now, acts);
            }
        }
    }

    /// The established fast path over one chunk of at most [`BURST`]
    /// packets (see the module docs). `false`, with nothing changed, when a
    /// packet is not one it takes: the caller then runs the general path.
    #[inline(always)]
    fn established_chunk<'a, D: TrafficDirection, P>(
        &mut self,
        ps: &mut [P],
        now: Millis,
        acts: &mut [Action],
    ) -> bool
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        let mut ks = [D::FILL; BURST];
        let mut hs = [KeyHash::default(); BURST];
        let mut flags = [0u8; BURST];
        let n = ps.len().min(BURST);
        for (i, p) in ps.iter().enumerate().take(n) {
            let Some(f) = D::parse_simple(p, &self.xcfg) else {
                return false;
            };
            let Some(k) = D::session_key(self, &f.tuple) else {
                return false;
            };
            if !D::shortcut_admits(self, &k) {
                return false;
            }
            hs[i] = D::hash(&self.tables, &k);
            ks[i] = k;
            flags[i] = f.tcp_flags;
        }
        if self.tables.sessions_len() >= WARM_MIN_SESSIONS {
            D::warm(&self.tables, &ks[..n], &hs[..n]);
        }
        for (i, (p, a)) in ps.iter_mut().zip(acts.iter_mut()).enumerate().take(n) {
            let (k, h) = (&ks[i], hs[i]);
            *a = match D::lookup(&self.tables, h, k) {
                Some(s) => {
                    D::debug_assert_owned(self, k);
                    // §3.5.1 / §3.5.2.2: refresh; §3.6 from the BIB entry.
                    self.refresh_inline(s, D::proto(k), D::SIDE, flags[i], now);
                    let rw = D::rewrite_tcp_udp(self, k, self.session_bib(s));
                    // §3.7: `parse_simple` checked what the rewrite assumes.
                    if D::translate_simple(self, p, &rw) {
                        Action::Forward
                    } else {
                        debug_assert!(false, "the simple-packet rewrite refused a simple packet");
                        D::process_one(self, p, now)
                    }
                }
                None => D::process_one(self, p, now),
            };
        }
        true
    }

    /// The staged general path over one chunk of at most [`BURST`] packets
    /// (see the module docs). Out of line (a call per chunk that takes
    /// it), so the established fast path, inlined in the burst function,
    /// is compiled without the general path beside it
    /// (`scripts/callgrind.sh`: 789 -> 784 instructions a packet 4to6).
    #[inline(never)]
    fn general_chunk<'a, D: TrafficDirection, P>(
        &mut self,
        ps: &mut [P],
        now: Millis,
        acts: &mut [Action],
    ) where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        /// `key_of` for a packet without a session key.
        const NO_KEY: u8 = u8::MAX;
        let mut flows: [Option<Result<Flow<D::Addr>, DropReason>>; BURST] = [None; BURST];
        // Which key (in `ks`, `hs`) each packet has, if any.
        let mut key_of = [NO_KEY; BURST];
        let mut hs = [KeyHash::default(); BURST];
        let mut ks = [D::FILL; BURST];
        let mut n = 0;
        for (i, p) in ps.iter().enumerate() {
            let res = D::parse(p.data());
            if let Ok(f) = &res {
                if let Some(k) = self.hint_key::<D>(f) {
                    hs[n] = D::hash(&self.tables, &k);
                    ks[n] = k;
                    key_of[i] = n as u8;
                    n += 1;
                }
            }
            flows[i] = Some(res);
        }
        if self.tables.sessions_len() >= WARM_MIN_SESSIONS {
            D::warm(&self.tables, &ks[..n], &hs[..n]);
        }
        for (i, (p, a)) in ps.iter_mut().zip(acts.iter_mut()).enumerate() {
            let (Some(Some(res)), Some(&j)) = (flows.get(i), key_of.get(i)) else {
                continue;
            };
            let hint = ks.get(usize::from(j)).zip(hs.get(usize::from(j)).copied());
            *a = self.process_flow::<D>(p, res, hint, now);
        }
    }

    /// The session key §3.5 will look up for `flow`, when the packet is no
    /// ICMP error and no fragment (those take the fragment path) and `D` has one for it (else
    /// `None`: no hint).
    #[inline(always)]
    fn hint_key<D: TrafficDirection>(&self, flow: &Flow<D::Addr>) -> Option<D::Key> {
        if flow.inner.is_some() || flow.frag.is_some() {
            return None;
        }
        D::session_key(self, &flow.tuple)
    }

    /// The established-session shortcut of the general path (see the
    /// module docs): for a packet with session key `key` (hashed: `h`, from
    /// `hint_key`) and TCP flags `tcp_flags`, the action `steps` would
    /// reach. `None`, with nothing changed, when the packet is not one it
    /// takes (no session, or a check of `shortcut_admits` fails).
    #[inline(always)]
    pub(super) fn established<D: TrafficDirection>(
        &mut self,
        buf: &mut PacketBuf,
        tcp_flags: u8,
        key: &D::Key,
        h: KeyHash,
        now: Millis,
    ) -> Option<Action> {
        if !D::shortcut_admits(self, key) {
            return None;
        }
        let s = D::lookup(&self.tables, h, key)?;
        D::debug_assert_owned(self, key);
        // §3.5.1 / §3.5.2.2 / §3.5.3: refresh, then §3.6 and §3.7.
        self.refresh(s, D::proto(key), D::SIDE, tcp_flags, now);
        let plan = Plan {
            outer: D::rewrite(self, key, self.session_bib(s)),
            inner: None,
        };
        Some(D::translate(self, buf, &plan))
    }
}
