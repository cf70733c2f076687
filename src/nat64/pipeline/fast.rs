//! The burst fast path: a burst of plain packets of established sessions
//! in one pass, each packet's headers read once.
//!
//! [`Worker::process_6to4_burst`] tries it first. Stage 1 reads every
//! packet with [`simple6`] (TCP or UDP right after the fixed header, whole,
//! hop limit above 1, fitting the IPv4 MTU) and makes the checks
//! `fast_key_6` and `established_6` make: this worker's subscriber, a
//! destination under the prefix (RFC 6052 §2.3) that RFC 6052 §3.1
//! permits, a source not under it (§3.8 loop) and no pool address (§3.8
//! hairpin). Any packet that fails sends the whole burst, untouched and
//! with nothing counted, to the general path. Stage 2 warms the tables as
//! the general path does. Stage 3, in order: the session (§3.5) refreshed,
//! (T, t) from its BIB entry (§3.6) and RFC 7915 §5.1/§5.5 by
//! `rewrite_simple`; a packet without a session (a new flow) goes through
//! `process_6to4` on its own, in its place in the order.
//!
//! So each packet gets what `process_6to4` would give it, one by one
//! (`prop_burst_equals_one_by_one` compares them); what the fast path saves
//! is the general path's `Flow`, the separate key and hint, and the second
//! reading of the header in `translate_simple`.

use super::{Action, FourToSix, Half, SixToFour, Worker, FILL4, FILL6, WARM_MIN_SESSIONS};
use crate::nat64::table::{KeyHash, V4Key, V6Key, BURST};
use crate::nat64::tcp::Side;
use crate::nat64::{subscriber_worker, Millis, Subscriber};
use crate::xlat::v4to6::{self, simple4};
use crate::xlat::v6to4::{rewrite_simple, simple6};
use crate::xlat::{PacketBuf, Rewrite};

impl Worker {
    /// The fast path over one chunk of at most [`BURST`] packets (see the
    /// module docs). `false`, with nothing changed, when a packet is not
    /// one it takes: the caller then runs the general path.
    #[inline(always)]
    pub(super) fn plain_6to4_chunk<'a, P>(
        &mut self,
        ps: &mut [P],
        now: Millis,
        acts: &mut [Action],
    ) -> bool
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        let mut ks = [FILL6; BURST];
        let mut hs = [KeyHash::default(); BURST];
        let mut flags = [0u8; BURST];
        let n = ps.len().min(BURST);
        for (i, p) in ps.iter().enumerate().take(n) {
            let Some(f) = simple6(p.data(), &self.xcfg) else {
                return false;
            };
            if self.n_workers != 1
                && subscriber_worker(
                    &Subscriber::of(&f.tuple.src, self.subscriber_len),
                    self.n_workers,
                ) != self.id
            {
                return false;
            }
            let Some(y4) = self.extract(&f.tuple.dst) else {
                return false;
            };
            if self.under_prefix(&f.tuple.src) || !self.permits(y4) || self.layout.contains(y4) {
                return false;
            }
            let k = V6Key {
                proto: f.tuple.l4,
                v6: f.tuple.src,
                port: f.tuple.src_port,
                remote: y4,
                remote_port: f.tuple.dst_port,
            };
            hs[i] = self.tables.session_hash_v6(&k);
            ks[i] = k;
            flags[i] = f.tcp_flags;
        }
        if self.tables.sessions_len() >= WARM_MIN_SESSIONS {
            SixToFour::warm(&self.tables, &ks[..n], &hs[..n]);
        }
        for (i, (p, a)) in ps.iter_mut().zip(acts.iter_mut()).enumerate().take(n) {
            let (k, h) = (&ks[i], hs[i]);
            *a = match self.tables.session_by_v6_hashed(h, k) {
                Some(s) => {
                    // §3.5.1 / §3.5.2.2: refresh; §3.6: (T, t) -> (Y, y).
                    let b = self.refresh_inline(s, k.proto, Side::V6, flags[i], now);
                    let rw = Rewrite {
                        src: b.v4,
                        dst: k.remote,
                        src_port: b.v4_port,
                        dst_port: k.remote_port,
                    };
                    // §3.7 (RFC 7915 §5.1, §5.5): `simple6` checked what
                    // `rewrite_simple` assumes.
                    match rewrite_simple(p, &rw, &self.xcfg, &mut self.xstate) {
                        Some(()) => {
                            self.counters.translated_6to4 += 1;
                            Action::Forward
                        }
                        None => {
                            debug_assert!(false, "simple6 accepted what rewrite_simple refuses");
                            self.process_6to4(p, now)
                        }
                    }
                }
                None => self.process_6to4(p, now),
            };
        }
        true
    }

    /// The fast path for IPv4 from the outside, as [`Worker::plain_6to4_chunk`]:
    /// stage 1 reads every packet with [`simple4`] (TCP, or UDP with a
    /// checksum; no options, not a fragment, valid header checksum, unicast
    /// source, TTL above 1, fitting the IPv6 link, headroom for the IPv6
    /// header) and makes `established_4`'s check (RFC 6052 §3.1 for the
    /// source); stage 3 finds the session (§3.5), refreshes it, takes
    /// (X', x) from its BIB entry (§3.6) and rewrites the packet (RFC 7915
    /// §4.1, §4.5). As in `established_4`, a session in this worker's
    /// tables is for one of its own pool ports, so the owner is not asked;
    /// a packet without a session goes through `process_4to6`, which asks.
    #[inline(always)]
    pub(super) fn plain_4to6_chunk<'a, P>(
        &mut self,
        ps: &mut [P],
        now: Millis,
        acts: &mut [Action],
    ) -> bool
    where
        P: core::ops::DerefMut<Target = PacketBuf<'a>>,
    {
        let mut ks = [FILL4; BURST];
        let mut hs = [KeyHash::default(); BURST];
        let mut flags = [0u8; BURST];
        let n = ps.len().min(BURST);
        for (i, p) in ps.iter().enumerate().take(n) {
            let Some(f) = simple4(p, &self.xcfg) else {
                return false;
            };
            if !self.permits(f.tuple.src) {
                return false;
            }
            let k = V4Key {
                proto: f.tuple.l4,
                v4: f.tuple.dst,
                port: f.tuple.dst_port,
                remote: f.tuple.src,
                remote_port: f.tuple.src_port,
            };
            hs[i] = self.tables.session_hash_v4(&k);
            ks[i] = k;
            flags[i] = f.tcp_flags;
        }
        if self.tables.sessions_len() >= WARM_MIN_SESSIONS {
            FourToSix::warm(&self.tables, &ks[..n], &hs[..n]);
        }
        for (i, (p, a)) in ps.iter_mut().zip(acts.iter_mut()).enumerate().take(n) {
            let (k, h) = (&ks[i], hs[i]);
            *a = match self.tables.session_by_v4_hashed(h, k) {
                Some(s) => {
                    debug_assert_eq!(
                        self.layout.owner(k.v4, k.port, k.proto),
                        Some(self.id),
                        "a session for another worker's pool port"
                    );
                    // §3.6: Y' from Y (RFC 6052 §2.3).
                    let y6 = self.prefix.embed(k.remote);
                    // §3.5.1 / §3.5.2.2: refresh; §3.6: (Y', y) -> (X', x).
                    let b = self.refresh_inline(s, k.proto, Side::V4, flags[i], now);
                    let rw = Rewrite {
                        src: y6,
                        dst: b.v6,
                        src_port: k.remote_port,
                        dst_port: b.v6_port,
                    };
                    // §3.7 (RFC 7915 §4.1, §4.5): `simple4` checked what
                    // `rewrite_simple` would refuse.
                    match v4to6::rewrite_simple(p, &rw, &self.xcfg) {
                        Some(()) => {
                            self.counters.translated_4to6 += 1;
                            Action::Forward
                        }
                        None => {
                            debug_assert!(false, "simple4 accepted what rewrite_simple refuses");
                            self.process_4to6(p, now)
                        }
                    }
                }
                None => self.process_4to6(p, now),
            };
        }
        true
    }
}
