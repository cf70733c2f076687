//! RFC 6146 §3.4-§3.8, the general path: every packet that no shortcut
//! takes goes through these steps, one file each (as Jool's `steps/`):
//!
//! - `incoming.rs`: §3.4 determining the incoming tuple (with RFC 6052
//!   §2.3 address mapping and §3.1 non-global IPv4 addresses);
//! - `filtering.rs`: §3.5 filtering and updating binding and session
//!   information (UDP §3.5.1, TCP §3.5.2, ICMP query §3.5.3);
//! - `outgoing.rs`: §3.6 computing the outgoing tuple;
//! - `translate.rs`: §3.7 translating the packet (RFC 7915, by `xlat`);
//! - `hairpin.rs`: §3.8 hairpinning;
//! - `fragment.rs`: §3.4's fragments, which branch off before the rest
//!   (with the store of `fragments.rs`).
//!
//! This file chains them, per direction (`steps_6to4`, `steps_4to6`), after
//! the check that is no RFC 6146 step: which worker owns the packet
//! (`outbound_owner`, `inbound_owner`). Each step returns a [`Step`]:
//! `Continue` with what the next step needs, or `Break` with the packet's
//! final [`Action`], so `?` ends the chain where a step decides.
//!
//! Promises: each rule is one function, which the established-session
//! shortcut and the established fast path (`burst.rs`) call too, so that
//! a rule changes in one place: the owner ([`Worker::subscriber_owner`]),
//! RFC 6052 §3.1 ([`Worker::permits`]), the §3.8 loop and hairpin checks
//! ([`Worker::is_hairpin_loop`], [`Worker::hairpins`]), the session keys
//! ([`session_key_6`], [`session_key_4`]) and the outgoing tuples
//! ([`outbound_rewrite`], [`Worker::inbound_rewrite`]).

mod filtering;
mod fragment;
mod hairpin;
mod incoming;
mod outgoing;
mod translate;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

pub(super) use filtering::{session_key_4, session_key_6};
pub(super) use outgoing::{outbound_rewrite, outbound_rewrite_tcp_udp};

use super::counters::Nat64Drop;
use super::direction::TrafficDirection;
use super::pipeline::{Action, Direction, Worker};
use super::table::KeyHash;
use super::{subscriber_worker, Millis, Subscriber, L4};
use crate::wire::{icmpv4_type, ip_proto, Ipv4Packet};
use crate::xlat::{DropReason, Flow, PacketBuf, Plan};

/// One step's result: `Continue` with what the next step needs, or `Break`
/// with the packet's final action (the packet is done with).
pub(super) type Step<T> = ControlFlow<Action, T>;

/// The action a chain of steps ended with, whether the last step reached
/// it or an earlier one broke off with it.
#[inline(always)]
pub(super) fn verdict(step: Step<Action>) -> Action {
    match step {
        ControlFlow::Continue(a) | ControlFlow::Break(a) => a,
    }
}

impl Worker {
    /// A packet in `buf` through the general path of direction `D`.
    #[inline]
    pub(in crate::nat64) fn process<D: TrafficDirection>(
        &mut self,
        buf: &mut PacketBuf,
        now: Millis,
    ) -> Action {
        // Borrowed from the result, not moved out of it: no copy of the
        // flow per packet.
        let res = D::parse(buf.data());
        self.process_flow::<D>(buf, &res, None, now)
    }

    /// [`Worker::process`] with the packet parsed, and perhaps its session
    /// key and that key's hash (`hint`, from `hint_key` of this very flow).
    #[inline]
    pub(in crate::nat64) fn process_flow<D: TrafficDirection>(
        &mut self,
        buf: &mut PacketBuf,
        res: &Result<Flow<D::Addr>, DropReason>,
        hint: Option<(&D::Key, KeyHash)>,
        now: Millis,
    ) -> Action {
        let flow = match res {
            Ok(f) => f,
            Err(r) => return self.drop_xlat(*r),
        };
        // Established sessions first: a hint says the packet is this
        // worker's (`TrafficDirection::session_key`). A fragment never has
        // one (`hint_key`): it takes the fragment path from `D::steps`.
        if let Some((k, h)) = hint {
            if let Some(a) = self.established::<D>(buf, flow.tcp_flags, k, h, now) {
                return a;
            }
        }
        self.general::<D>(buf, flow, hint.map(|(_, h)| h), now)
    }

    /// `D::steps` to the packet's action, out of line, so the general
    /// path (fragments included) is not compiled into the burst functions
    /// beside the established fast path (`scripts/callgrind.sh`: 795 ->
    /// 791 instructions a packet 6to4 with it out of line).
    #[inline(never)]
    fn general<D: TrafficDirection>(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<D::Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Action {
        verdict(D::steps(self, buf, flow, hint, now))
    }

    /// The worker that owns the traffic of the subscriber `addr` belongs
    /// to: [`subscriber_worker`], or with a single worker this one (no
    /// hash to compute).
    #[inline(always)]
    pub(in crate::nat64) fn subscriber_owner(&self, addr: &Ipv6Addr) -> u16 {
        if self.n_workers == 1 {
            self.id
        } else {
            subscriber_worker(&Subscriber::of(addr, self.subscriber_len), self.n_workers)
        }
    }

    /// Outbound ownership: the subscriber is the packet's source, or for an
    /// ICMPv6 error (perhaps from a router) the destination of the packet
    /// it quotes. First the uRPF check (BCP 38): a subscriber outside
    /// `inside.subscribers` is dropped here, before any state or handoff.
    /// Another worker's packet is handed off.
    #[inline(always)]
    pub(in crate::nat64) fn outbound_owner(&mut self, flow: &Flow<Ipv6Addr>) -> Step<()> {
        let sub = flow.inner.map_or(flow.tuple.src, |i| i.dst);
        if !self.served.contains(&sub) {
            return ControlFlow::Break(self.drop(Nat64Drop::NotSubscriber));
        }
        let w = self.subscriber_owner(&sub);
        if w != self.id {
            self.counters.handed_off += 1;
            return ControlFlow::Break(Action::Handoff {
                worker: w,
                dir: Direction::SixToFour,
            });
        }
        ControlFlow::Continue(())
    }

    /// Inbound ownership: the worker of the pool port the packet is for
    /// (for an ICMP error, the source of the packet it quotes); another
    /// worker's packet is handed off. A packet for no pool port is the
    /// box's own ([`Action::Local`]: to the outside address, or an echo
    /// request to a pool address) or dropped.
    #[inline(always)]
    pub(in crate::nat64) fn inbound_owner(
        &mut self,
        buf: &PacketBuf,
        flow: &Flow<Ipv4Addr>,
    ) -> Step<()> {
        let (a, p, l4) = match flow.inner {
            Some(q) => (q.src, q.src_port, q.l4),
            None => (flow.tuple.dst, flow.tuple.dst_port, flow.tuple.l4),
        };
        match self.layout.owner(a, p, l4) {
            Some(w) if w == self.id => ControlFlow::Continue(()),
            Some(w) => {
                self.counters.handed_off += 1;
                ControlFlow::Break(Action::Handoff {
                    worker: w,
                    dir: Direction::FourToSix,
                })
            }
            None => {
                if flow.tuple.dst == self.outside || self.is_echo_request_to_pool(buf, flow) {
                    self.counters.local += 1;
                    return ControlFlow::Break(Action::Local);
                }
                ControlFlow::Break(self.drop(Nat64Drop::NotPool))
            }
        }
    }

    /// Whether the packet is an ICMPv4 echo request to a pool address (the
    /// box answers those itself).
    pub(in crate::nat64) fn is_echo_request_to_pool(
        &self,
        buf: &PacketBuf,
        flow: &Flow<Ipv4Addr>,
    ) -> bool {
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

    /// An IPv6 packet of this worker's through §3.4-§3.8.
    pub(in crate::nat64) fn steps_6to4(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Action> {
        let (y4, plan) = self.plan_6to4(buf, flow, hint, now)?;
        let action = self.translate_6(buf, &plan)?;
        self.hairpin(buf, y4, action, now)
    }

    /// §3.4-§3.6 of an IPv6 packet of this worker's: the flow's remote Y
    /// (§3.8 asks whether it is ours) and the plan §3.7 translates it by.
    pub(in crate::nat64) fn plan_6to4(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<(Ipv4Addr, Plan<Ipv4Addr>)> {
        let inc = self.incoming_6(buf, flow)?;
        let (t4, t_port) = self.filter_update_6(buf, &inc, hint, now)?;
        ControlFlow::Continue((inc.y4, self.outgoing_6(&inc, t4, t_port)))
    }

    /// An IPv4 packet for one of this worker's pool ports through
    /// §3.4-§3.7.
    pub(in crate::nat64) fn steps_4to6(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Action> {
        let plan = self.plan_4to6(buf, flow, hint, now)?;
        self.translate_4(buf, &plan)
    }

    /// §3.4-§3.6 of an IPv4 packet for one of this worker's pool ports.
    pub(in crate::nat64) fn plan_4to6(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Plan<Ipv6Addr>> {
        let inc = self.incoming_4(flow)?;
        let (x6, x_port) = self.filter_update_4(buf, flow, &inc, hint, now)?;
        ControlFlow::Continue(self.outgoing_4(&inc, x6, x_port))
    }

    /// Whether an outbound packet of an established session from `x6` to
    /// `y4` (its destination mapped to IPv4), no ICMP error, would leave
    /// by §3.7 rather than be refused in §3.4 (a §3.8 loop) or hairpinned
    /// (§3.8): the check an outbound packet passes before a shortcut takes
    /// it. RFC 6052 §3.1 and `translation.deny4` were asked when the
    /// session was made (`live.rs` sweeps the sessions a reload forbids).
    #[inline(always)]
    pub(in crate::nat64) fn outbound_goes_out(&self, x6: &Ipv6Addr, y4: Ipv4Addr) -> bool {
        !self.is_hairpin_loop(x6) && !self.hairpins(y4)
    }
}
