//! The two directions of traffic through a worker, as types, so that the
//! code that is the same in both is written once: the general path's entry
//! (`steps/mod.rs`), the established-session shortcut, the burst stages and
//! the established fast path (`burst.rs`).
//!
//! [`Outbound`] is IPv6 from the inside translated to IPv4 (RFC 6146's
//! "V6" packets, `process_6to4`), [`Inbound`] IPv4 from the outside
//! translated to IPv6 ("V4" packets, `process_4to6`). What differs between
//! them (how a packet is read, keyed, looked up, checked and rewritten, and
//! which steps run) is a [`TrafficDirection`] method, each delegating to the
//! one function of a step file that holds the rule; every method is
//! `#[inline(always)]`, so the generic code compiles to what a hand-written
//! copy per direction would be.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

use super::fragments::{FragKey, Route};
use super::pipeline::{Action, Worker};
use super::steps::Step;
use super::table::{BibEntry, KeyHash, SessionId, Tables, V4Key, V6Key};
use super::tcp::Side;
use super::{Millis, L4};
use crate::xlat::v4to6::{flow4, simple4};
use crate::xlat::v6to4::{flow6, simple6};
use crate::xlat::{
    DropReason, Flow, FragInfo, PacketBuf, Plan, Rewrite, SimpleFlow, Tuple, XlatConfig,
};

/// One direction of traffic: what the direction-generic code of the
/// pipeline needs to know of it.
pub(super) trait TrafficDirection {
    /// The address family of the packets as they arrive.
    type Addr: Copy;
    /// The address family of the packets as they leave.
    type OutAddr: Copy;
    /// The session key (§3.5) such packets are looked up by.
    type Key: Copy;
    /// The side the packets arrive from, for the TCP state machine.
    const SIDE: Side;
    /// Filler for the unused slots of a burst's key arrays (never looked up).
    const FILL: Self::Key;

    /// RFC 6146 §3.4's input: the packet's flow (xlat's `flow6` / `flow4`).
    fn parse(pkt: &[u8]) -> Result<Flow<Self::Addr>, DropReason>;

    /// The flow of a simple TCP or UDP packet, the only kind the
    /// established fast path takes (xlat's `simple6` / `simple4`).
    fn parse_simple(buf: &PacketBuf, cfg: &XlatConfig) -> Option<SimpleFlow<Self::Addr>>;

    /// The session key §3.5 looks up for a packet with tuple `t` that is no
    /// ICMP error and no non-first fragment, when the packet is this
    /// worker's to take without asking further (else `None`).
    fn session_key(w: &Worker, t: &Tuple<Self::Addr>) -> Option<Self::Key>;

    /// Whether a packet keyed `k` may take a shortcut to the session's
    /// rewrite: the general path would not refuse it in §3.4 or hairpin it
    /// in §3.8.
    fn shortcut_admits(w: &Worker, k: &Self::Key) -> bool;

    /// `k`'s transport protocol.
    fn proto(k: &Self::Key) -> L4;

    /// `k`'s hash in `t`.
    fn hash(t: &Tables, k: &Self::Key) -> KeyHash;

    /// Loads the index lines, sessions and BIB entries of a burst's keys.
    fn warm(t: &Tables, keys: &[Self::Key], hs: &[KeyHash]);

    /// The session keyed `k` (hash `h`).
    fn lookup(t: &Tables, h: KeyHash, k: &Self::Key) -> Option<SessionId>;

    /// Debug builds: asserts that the session found for `k` is this
    /// worker's to translate.
    fn debug_assert_owned(w: &Worker, k: &Self::Key);

    /// §3.6: the outgoing addresses and ports of a packet keyed `k` of a
    /// session on BIB entry `b`.
    fn rewrite(w: &Worker, k: &Self::Key, b: &BibEntry) -> Rewrite<Self::OutAddr>;

    /// [`TrafficDirection::rewrite`] for a key of a TCP or UDP flow (no
    /// ICMP case to decide).
    fn rewrite_tcp_udp(w: &Worker, k: &Self::Key, b: &BibEntry) -> Rewrite<Self::OutAddr>;

    /// §3.7 by the full translator, to the packet's final action.
    fn translate(w: &mut Worker, buf: &mut PacketBuf, plan: &Plan<Self::OutAddr>) -> Action;

    /// §3.7 of a packet `parse_simple` accepted, by the translator's
    /// simple-packet rewrite; false, the packet untouched, if it refuses.
    fn translate_simple(w: &mut Worker, buf: &mut PacketBuf, rw: &Rewrite<Self::OutAddr>) -> bool;

    /// One packet through the general path: the public `process_6to4` /
    /// `process_4to6`, for a packet the established fast path leaves (one
    /// without a session).
    fn process_one(w: &mut Worker, buf: &mut PacketBuf, now: Millis) -> Action;

    /// RFC 6146 §3.4 for a fragment (`frag`) of a datagram in several
    /// pieces: its owner, then the fragment path (`steps/fragment.rs`).
    /// `steps` branches off to it first thing; no shortcut takes a
    /// fragment (it has no session key hint).
    fn fragment(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Self::Addr>,
        frag: FragInfo,
        now: Millis,
    ) -> Action;

    /// The fragment store's key of a fragment of `flow` with
    /// identification `ident`.
    fn frag_key(flow: &Flow<Self::Addr>, ident: u32) -> FragKey;

    /// A first fragment through the steps, and the route its datagram's
    /// later fragments take.
    fn first_fragment(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Self::Addr>,
        now: Millis,
    ) -> (Action, Route);

    /// The general path of a parsed packet: its owner, then RFC 6146
    /// §3.4-§3.8.
    fn steps(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Self::Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Action>;
}

/// IPv6 from the inside, translated to IPv4 (`process_6to4`).
pub(super) struct Outbound;

/// IPv4 from the outside, translated to IPv6 (`process_4to6`).
pub(super) struct Inbound;

impl TrafficDirection for Outbound {
    type Addr = Ipv6Addr;
    type OutAddr = Ipv4Addr;
    type Key = V6Key;
    const SIDE: Side = Side::V6;
    const FILL: V6Key = V6Key {
        proto: L4::Udp,
        v6: Ipv6Addr::UNSPECIFIED,
        port: 0,
        remote: Ipv4Addr::UNSPECIFIED,
        remote_port: 0,
    };

    #[inline(always)]
    fn parse(pkt: &[u8]) -> Result<Flow<Ipv6Addr>, DropReason> {
        flow6(pkt)
    }
    #[inline(always)]
    fn parse_simple(buf: &PacketBuf, cfg: &XlatConfig) -> Option<SimpleFlow<Ipv6Addr>> {
        simple6(buf.data(), cfg)
    }
    /// The subscriber (the source) must be this worker's, and the
    /// destination under the prefix. Whether the source is served is
    /// asked when a session is made (`outbound_owner`): a session's source
    /// is one (`live.rs` sweeps them after a reload).
    #[inline(always)]
    fn session_key(w: &Worker, t: &Tuple<Ipv6Addr>) -> Option<V6Key> {
        if w.subscriber_owner(&t.src) != w.id {
            return None;
        }
        let y4 = w.extract(&t.dst)?;
        Some(super::steps::session_key_6(
            t.l4, t.src, t.src_port, y4, t.dst_port,
        ))
    }
    #[inline(always)]
    fn shortcut_admits(w: &Worker, k: &V6Key) -> bool {
        w.outbound_goes_out(&k.v6, k.remote)
    }
    #[inline(always)]
    fn proto(k: &V6Key) -> L4 {
        k.proto
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
    fn lookup(t: &Tables, h: KeyHash, k: &V6Key) -> Option<SessionId> {
        t.session_by_v6_hashed(h, k)
    }
    #[inline(always)]
    fn debug_assert_owned(_: &Worker, _: &V6Key) {
        // `session_key` checked the subscriber.
    }
    #[inline(always)]
    fn rewrite(_: &Worker, k: &V6Key, b: &BibEntry) -> Rewrite<Ipv4Addr> {
        super::steps::outbound_rewrite(k.proto, b.v4, b.v4_port, k.remote, k.remote_port)
    }
    #[inline(always)]
    fn rewrite_tcp_udp(_: &Worker, k: &V6Key, b: &BibEntry) -> Rewrite<Ipv4Addr> {
        super::steps::outbound_rewrite_tcp_udp(b.v4, b.v4_port, k.remote, k.remote_port)
    }
    #[inline(always)]
    fn translate(w: &mut Worker, buf: &mut PacketBuf, plan: &Plan<Ipv4Addr>) -> Action {
        super::steps::verdict(w.translate_6(buf, plan))
    }
    #[inline(always)]
    fn translate_simple(w: &mut Worker, buf: &mut PacketBuf, rw: &Rewrite<Ipv4Addr>) -> bool {
        w.translate_simple_6(buf, rw)
    }
    #[inline(always)]
    fn process_one(w: &mut Worker, buf: &mut PacketBuf, now: Millis) -> Action {
        w.process_6to4(buf, now)
    }
    #[inline(always)]
    fn steps(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Action> {
        // RFC 6146 §3.4: a fragment takes the fragment path, with its
        // datagram's state.
        if let Some(frag) = flow.frag {
            return ControlFlow::Break(Self::fragment(w, buf, flow, frag, now));
        }
        w.outbound_owner(flow)?;
        w.steps_6to4(buf, flow, hint, now)
    }
    /// Every IPv6 fragment names its subscriber: its worker keeps the
    /// state.
    #[inline(never)]
    fn fragment(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
        frag: FragInfo,
        now: Millis,
    ) -> Action {
        if let ControlFlow::Break(a) = w.outbound_owner(flow) {
            return a;
        }
        w.fragment_here::<Outbound>(buf, flow, frag, true, now)
    }
    #[inline(always)]
    fn frag_key(flow: &Flow<Ipv6Addr>, ident: u32) -> FragKey {
        let t = &flow.tuple;
        FragKey::v6(t.src, t.dst, t.l4, ident)
    }
    #[inline(always)]
    fn first_fragment(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
        now: Millis,
    ) -> (Action, Route) {
        w.first_fragment_6to4(buf, flow, now)
    }
}

impl TrafficDirection for Inbound {
    type Addr = Ipv4Addr;
    type OutAddr = Ipv6Addr;
    type Key = V4Key;
    const SIDE: Side = Side::V4;
    const FILL: V4Key = V4Key {
        proto: L4::Udp,
        v4: Ipv4Addr::UNSPECIFIED,
        port: 0,
        remote: Ipv4Addr::UNSPECIFIED,
        remote_port: 0,
    };

    #[inline(always)]
    fn parse(pkt: &[u8]) -> Result<Flow<Ipv4Addr>, DropReason> {
        flow4(pkt)
    }
    #[inline(always)]
    fn parse_simple(buf: &PacketBuf, cfg: &XlatConfig) -> Option<SimpleFlow<Ipv4Addr>> {
        simple4(buf, cfg)
    }
    /// The owner is not asked: only the owner of a pool port maps it, so a
    /// session found in this worker's tables is for one of its own ports,
    /// and a key for another worker's packet finds none.
    #[inline(always)]
    fn session_key(_: &Worker, t: &Tuple<Ipv4Addr>) -> Option<V4Key> {
        Some(super::steps::session_key_4(
            t.l4, t.dst, t.dst_port, t.src, t.src_port,
        ))
    }
    #[inline(always)]
    fn shortcut_admits(_: &Worker, _: &V4Key) -> bool {
        // `incoming_4`'s check of the remote (Y, y), the packet's source,
        // was made when the session was (`live.rs` sweeps the sessions a
        // reload forbids); nothing else could refuse it.
        true
    }
    #[inline(always)]
    fn proto(k: &V4Key) -> L4 {
        k.proto
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
    fn lookup(t: &Tables, h: KeyHash, k: &V4Key) -> Option<SessionId> {
        t.session_by_v4_hashed(h, k)
    }
    #[inline(always)]
    fn debug_assert_owned(w: &Worker, k: &V4Key) {
        debug_assert_eq!(
            w.layout.owner(k.v4, k.port, k.proto),
            Some(w.id),
            "a session for another worker's pool port"
        );
    }
    #[inline(always)]
    fn rewrite(w: &Worker, k: &V4Key, b: &BibEntry) -> Rewrite<Ipv6Addr> {
        w.inbound_rewrite(k.proto, k.remote, k.remote_port, b.v6, b.v6_port)
    }
    #[inline(always)]
    fn rewrite_tcp_udp(w: &Worker, k: &V4Key, b: &BibEntry) -> Rewrite<Ipv6Addr> {
        w.inbound_rewrite_tcp_udp(k.remote, k.remote_port, b.v6, b.v6_port)
    }
    #[inline(always)]
    fn translate(w: &mut Worker, buf: &mut PacketBuf, plan: &Plan<Ipv6Addr>) -> Action {
        super::steps::verdict(w.translate_4(buf, plan))
    }
    #[inline(always)]
    fn translate_simple(w: &mut Worker, buf: &mut PacketBuf, rw: &Rewrite<Ipv6Addr>) -> bool {
        w.translate_simple_4(buf, rw)
    }
    #[inline(always)]
    fn process_one(w: &mut Worker, buf: &mut PacketBuf, now: Millis) -> Action {
        w.process_4to6(buf, now)
    }
    #[inline(always)]
    fn steps(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<Action> {
        if let Some(frag) = flow.frag {
            return ControlFlow::Break(Self::fragment(w, buf, flow, frag, now));
        }
        w.inbound_owner(buf, flow)?;
        w.steps_4to6(buf, flow, hint, now)
    }
    /// From the wire (or a hairpin): to the datagram's home worker.
    #[inline(never)]
    fn fragment(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        frag: FragInfo,
        now: Millis,
    ) -> Action {
        w.fragment_4to6(buf, flow, frag, false, now)
    }
    #[inline(always)]
    fn frag_key(flow: &Flow<Ipv4Addr>, ident: u32) -> FragKey {
        let t = &flow.tuple;
        FragKey::v4(t.src, t.dst, t.l4, ident)
    }
    #[inline(always)]
    fn first_fragment(
        w: &mut Worker,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        now: Millis,
    ) -> (Action, Route) {
        w.first_fragment_4to6(buf, flow, now)
    }
}
