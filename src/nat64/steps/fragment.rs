//! RFC 6146 §3.4, fragments: "the NAT64 MUST handle fragments ... in
//! order ... and out of order", with the state of `fragments.rs`. Every
//! fragment branches off here before any shortcut, so packets that are
//! not fragments never pay for it.
//!
//! - The first fragment (offset 0) carries the transport header: it goes
//!   through the steps as any packet would (§3.4-§3.7, §3.8), and what
//!   they decided becomes its datagram's route: the addresses §3.6 chose
//!   (the identification, offset and flags are copied by RFC 7915 §5.1.1 /
//!   §4.1), another worker, the box itself, or a refusal. A first fragment
//!   without its whole transport header is dropped earlier, by the flow
//!   reader (`FirstFragmentShort`).
//! - A later fragment takes its datagram's route. One that comes before
//!   its first is held (`Action::Park`) and runs again when the first has
//!   come, or is dropped when the window (`timeouts.fragment`) passes.
//! - Bytes already seen (a duplicate, an overlap) are refused
//!   (`FragmentOverlap`); a full store refuses new datagrams and keeps the
//!   ones it has (`FragmentStoreFull`).
//!
//! Which worker (the scheme, as VPP's shallow virtual reassembly): IPv6
//! fragments carry their subscriber in every piece, so they go to the
//! subscriber's worker as any packet does, and that worker keeps the
//! state. IPv4 fragments after the first carry no port, so the pool port's
//! owner cannot be found from them: every IPv4 fragment goes first to its
//! datagram's *home* worker, a hash of (source, destination, protocol,
//! identification) that every worker computes alike, which keeps the
//! datagram's state and hands each fragment on to the owner the first
//! fragment named (its own ring to that owner keeps them in order). The
//! owner translates what the home worker hands it: the first fragment with
//! the steps, which leave the route of its own state, the rest by that
//! route. One worker (or home = owner) does it all in one place.
//!
//! ICMP: a fragmented ICMP message is dropped by the flow readers
//! (`Fragment`): its checksum covers the whole message, which this
//! translator does not reassemble. An IPv6 atomic fragment is whole and
//! never comes here.

use std::net::Ipv4Addr;
use std::ops::ControlFlow;

use super::verdict;
use crate::nat64::counters::Nat64Drop;
use crate::nat64::direction::{Inbound, TrafficDirection};
use crate::nat64::fragments::{Cover, FragKey, Route};
use crate::nat64::pipeline::{Action, Direction, Worker};
use crate::nat64::Millis;
use crate::xlat::{Flow, FragInfo, PacketBuf, Plan, Rewrite};

/// Seed of the home-worker hash: the same on every worker and every run,
/// so every worker sends a datagram's fragments to the same home.
const HOME_SEED: u64 = 0x6e61_7436_3466_7267;

impl Worker {
    /// An IPv4 fragment: to its home worker, or here (`handed`: it came
    /// through a ring from another worker, the home worker if this one is
    /// not). See the module docs.
    pub(in crate::nat64) fn fragment_4to6(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        frag: FragInfo,
        handed: bool,
        now: Millis,
    ) -> Action {
        let home = self.fragment_home(flow, frag);
        if home == self.id {
            return self.fragment_here::<Inbound>(buf, flow, frag, true, now);
        }
        if handed {
            // Only the home worker hands a fragment to another: this
            // one is the owner its first fragment named.
            return self.fragment_here::<Inbound>(buf, flow, frag, false, now);
        }
        self.counters.handed_off += 1;
        Action::Handoff {
            worker: home,
            dir: Direction::FourToSix,
        }
    }

    /// The home worker of an IPv4 fragment's datagram.
    fn fragment_home(&self, flow: &Flow<Ipv4Addr>, frag: FragInfo) -> u16 {
        if self.n_workers == 1 {
            return self.id;
        }
        let t = &flow.tuple;
        let h = FragKey::v4(t.src, t.dst, t.l4, frag.ident).hash(HOME_SEED);
        ((u128::from(h) * u128::from(self.n_workers)) >> 64) as u16
    }

    /// A fragment of this worker's through its datagram's state; `home`:
    /// this worker keeps the datagram's state for every fragment and may
    /// hold them (else it is the owner the home worker hands them to).
    pub(in crate::nat64) fn fragment_here<D: TrafficDirection>(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<D::Addr>,
        frag: FragInfo,
        home: bool,
        now: Millis,
    ) -> Action {
        let key = D::frag_key(flow, frag.ident);
        let found = self.frags.find(&key);
        let route = found.and_then(|e| self.frags.route(e));
        let e = match (found, route) {
            (Some(e), Some(_)) => e,
            // A later fragment before its first: held (the home worker
            // only; the owner gets them in order, after the first).
            (_, None) if !frag.is_first() && !home => {
                return self.drop(Nat64Drop::NonFirstFragment);
            }
            (Some(e), None) if !frag.is_first() => return self.hold_fragment(e, frag),
            (Some(e), None) => e,
            (None, _) => match self.frags.create(key, now) {
                Some(e) => {
                    self.counters.fragments_tracked += 1;
                    if !frag.is_first() {
                        return self.hold_fragment(e, frag);
                    }
                    e
                }
                None => return self.refuse_fragment(),
            },
        };
        let cover = self.frags.cover(e, frag.offset, frag.len, frag.more);
        if cover == Cover::Overlap {
            return self.drop(Nat64Drop::FragmentOverlap);
        }
        let action = match route {
            Some(r) => self.follow_route(buf, r, now),
            None => {
                let (action, r) = D::first_fragment(self, buf, flow, now);
                self.frags.set_route(e, r);
                action
            }
        };
        if cover == Cover::Complete {
            self.frags.remove(e);
        }
        if matches!(
            action,
            Action::Forward | Action::Hairpin | Action::Fragment { .. }
        ) {
            self.counters.fragments_translated += 1;
        }
        action
    }

    /// Holds a fragment of datagram `e` until its first comes.
    fn hold_fragment(&mut self, e: u32, frag: FragInfo) -> Action {
        match self.frags.hold(e, frag.len) {
            Some(slot) => {
                self.counters.fragments_held += 1;
                Action::Park { slot }
            }
            None => self.refuse_fragment(),
        }
    }

    /// The store, or its held fragments, are full: refused, counted.
    fn refuse_fragment(&mut self) -> Action {
        self.counters.fragments_refused += 1;
        self.drop(Nat64Drop::FragmentStoreFull)
    }

    /// A later fragment by its datagram's route.
    fn follow_route(&mut self, buf: &mut PacketBuf, route: Route, now: Millis) -> Action {
        match route {
            // RFC 7915 §5.1.1: the IPv6 header to IPv4, the identification,
            // offset and M copied; no transport header to touch.
            Route::To4 { src, dst } => {
                let plan = Plan {
                    outer: Rewrite {
                        src,
                        dst,
                        src_port: 0,
                        dst_port: 0,
                    },
                    inner: None,
                };
                let step = (|| {
                    let a = self.translate_6(buf, &plan)?;
                    self.hairpin(buf, dst, a, now)
                })();
                verdict(step)
            }
            // RFC 7915 §4.1: an IPv6 header and a Fragment header.
            Route::To6 { src, dst } => {
                let plan = Plan {
                    outer: Rewrite {
                        src,
                        dst,
                        src_port: 0,
                        dst_port: 0,
                    },
                    inner: None,
                };
                verdict(self.translate_4(buf, &plan))
            }
            Route::Owner(worker) => {
                self.counters.handed_off += 1;
                Action::Handoff {
                    worker,
                    dir: Direction::FourToSix,
                }
            }
            Route::Local => {
                self.counters.local += 1;
                Action::Local
            }
            Route::Refused => self.drop(Nat64Drop::NonFirstFragment),
        }
    }

    /// The first fragment of an IPv6 datagram through §3.4-§3.8, and the
    /// route its datagram takes.
    pub(in crate::nat64) fn first_fragment_6to4(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<std::net::Ipv6Addr>,
        now: Millis,
    ) -> (Action, Route) {
        let (y4, plan) = match self.plan_6to4(buf, flow, None, now) {
            ControlFlow::Continue(p) => p,
            ControlFlow::Break(a) => return (a, Route::Refused),
        };
        let route = Route::To4 {
            src: plan.outer.src,
            dst: plan.outer.dst,
        };
        let step = (|| {
            let a = self.translate_6(buf, &plan)?;
            self.hairpin(buf, y4, a, now)
        })();
        (verdict(step), route)
    }

    /// The first fragment of an IPv4 datagram: its owner (another worker,
    /// the box itself), or §3.4-§3.7 here; and the route its datagram
    /// takes.
    pub(in crate::nat64) fn first_fragment_4to6(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        now: Millis,
    ) -> (Action, Route) {
        if let ControlFlow::Break(a) = self.inbound_owner(buf, flow) {
            let route = match a {
                Action::Handoff { worker, .. } => Route::Owner(worker),
                Action::Local => Route::Local,
                _ => Route::Refused,
            };
            return (a, route);
        }
        let plan = match self.plan_4to6(buf, flow, None, now) {
            ControlFlow::Continue(p) => p,
            ControlFlow::Break(a) => return (a, Route::Refused),
        };
        let route = Route::To6 {
            src: plan.outer.src,
            dst: plan.outer.dst,
        };
        (verdict(self.translate_4(buf, &plan)), route)
    }
}
